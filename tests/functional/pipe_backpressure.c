/* Description: a pipe never drops: a full TX ring stays full (nm_tx_pending, poll(POLLOUT) times out) until the receiver releases K slots, then the sender's next sync frees exactly K; a poller blocked on POLLOUT in another process is woken. */
/*
 * Reference §4.4: the sender's tail only advances when the receiver has
 * released slots *and* the sender calls txsync/poll; nm_tx_pending stays
 * true until the receiver consumes.  §1.10: poll readiness is cur != tail
 * after the implicit txsync; a pipe rxsync wakes the peer's TX waiters.
 */
#include <poll.h>
#include <sys/ioctl.h>
#include <libnetmap.h>
#include "testlib.h"

static struct netmap_ring *T, *R;	/* sender TX ring, receiver RX ring */
static uint32_t next_seq, expect_seq;
static uint64_t received;

/* fill every free slot of the sender ring; returns the number written */
static unsigned fill(unsigned max)
{
	unsigned n = 0;
	while (n < max && !nm_ring_empty(T)) {
		struct netmap_slot *s = &T->slot[T->head];
		char *b = NETMAP_BUF(T, s->buf_idx);
		memset(b, 0xab, 60);
		memcpy(b + 14, &next_seq, 4);
		s->len = 60;
		s->flags = 0;
		next_seq++;
		T->head = T->cur = nm_ring_next(T, T->head);
		n++;
	}
	return n;
}

/* consume up to max slots of the receiver ring, checking the sequence */
static unsigned consume(unsigned max)
{
	unsigned n = 0;
	while (n < max && !nm_ring_empty(R)) {
		struct netmap_slot *s = &R->slot[R->head];
		uint32_t v;
		memcpy(&v, NETMAP_BUF(R, s->buf_idx) + 14, 4);
		if (v != expect_seq) {
			CHECK(v == expect_seq, "sequence: got %u want %u", v, expect_seq);
			expect_seq = v;	/* resynchronise: report each gap once */
		}
		CHECK(s->len == 60, "len %u", s->len);
		expect_seq++;
		received++;
		R->head = R->cur = nm_ring_next(R, R->head);
		n++;
	}
	return n;
}

static int txsync(int fd) { return ioctl(fd, NIOCTXSYNC, NULL); }
static int rxsync(int fd) { return ioctl(fd, NIOCRXSYNC, NULL); }

int main(void)
{
	t_setup(60);
	struct nmport_d *a = nmport_open("netmap:bp{1");
	REQUIRE(a != NULL, "open master: %s", strerror(errno));
	struct nmport_d *b = nmport_open("netmap:bp}1");
	REQUIRE(b != NULL, "open slave: %s", strerror(errno));
	T = NETMAP_TXRING(a->nifp, a->first_tx_ring);
	R = NETMAP_RXRING(b->nifp, b->first_rx_ring);
	const uint32_t N = T->num_slots;
	REQUIRE(N == R->num_slots && N >= 64, "slots tx %u rx %u", N, R->num_slots);

	/* --- 1. fill the ring completely: exactly N-1 slots are usable ------ */
	CHECK(T->head == 0 && T->tail == N - 1, "fresh TX ring head %u tail %u", T->head, T->tail);
	unsigned w = fill(N);
	CHECK(w == N - 1, "filled %u slots, want %u", w, N - 1);
	for (int i = 0; i < 3; i++) {
		CHECK(txsync(a->fd) == 0, "txsync: %s", strerror(errno));
		CHECK(nm_ring_space(T) == 0, "after txsync %d: space %u, want 0 (tail %u head %u)",
		      i, nm_ring_space(T), T->tail, T->head);
		CHECK(nm_tx_pending(T), "nm_tx_pending must stay true while the receiver "
		      "has not consumed (tail %u head %u)", T->tail, T->head);
	}
	uint32_t full_tail = T->tail;

	/* poll(POLLOUT) must time out: nothing can be freed */
	struct pollfd po = { .fd = a->fd, .events = POLLOUT };
	int64_t t0 = unm_test_now_ms();
	int r = poll(&po, 1, 200);
	int64_t dt = unm_test_now_ms() - t0;
	CHECK(r == 0, "poll(POLLOUT) on a full ring returned %d revents 0x%x", r, po.revents);
	CHECK(dt >= 150, "poll(POLLOUT, 200) returned after %lld ms", (long long)dt);
	CHECK(nm_ring_space(T) == 0, "space after poll %u", nm_ring_space(T));

	/* the receiver sees all N-1 frames */
	CHECK(rxsync(b->fd) == 0, "rxsync");
	CHECK(nm_ring_space(R) == N - 1, "receiver sees %u, want %u", nm_ring_space(R), N - 1);

	/* --- 2. receiver consumes K: sender's tail moves only at its sync --- */
	const unsigned K = 100;
	CHECK(consume(K) == K, "consume K");
	CHECK(rxsync(b->fd) == 0, "rxsync");
	CHECK(T->tail == full_tail, "sender tail moved without a sender sync: %u -> %u",
	      full_tail, T->tail);
	CHECK(nm_ring_space(T) == 0, "space before sender sync %u", nm_ring_space(T));
	CHECK(txsync(a->fd) == 0, "txsync");
	CHECK(nm_ring_space(T) == K, "after receiver released %u: sender space %u", K,
	      nm_ring_space(T));
	CHECK(nm_tx_pending(T), "still pending: %u frames are unread", N - 1 - K);
	/* a second sync frees nothing more */
	CHECK(txsync(a->fd) == 0, "txsync");
	CHECK(nm_ring_space(T) == K, "second txsync: space %u want %u", nm_ring_space(T), K);

	/* refill, then the same with poll(POLLOUT) as the sender's sync */
	CHECK(fill(N) == K, "refill K");
	CHECK(txsync(a->fd) == 0, "txsync");
	CHECK(nm_ring_space(T) == 0, "full again: space %u", nm_ring_space(T));
	const unsigned K2 = 37;
	CHECK(rxsync(b->fd) == 0, "rxsync");
	CHECK(consume(K2) == K2, "consume K2");
	CHECK(nm_ring_space(T) == 0, "receiver has not synced yet: sender space %u",
	      nm_ring_space(T));
	po.revents = 0;
	CHECK(poll(&po, 1, 0) == 0, "POLLOUT before the receiver released (revents 0x%x)",
	      po.revents);
	CHECK(rxsync(b->fd) == 0, "rxsync");
	po.revents = 0;
	r = poll(&po, 1, 1000);
	CHECK(r == 1 && (po.revents & POLLOUT), "poll(POLLOUT) after release: %d 0x%x", r,
	      po.revents);
	CHECK(nm_ring_space(T) == K2, "poll freed %u, want %u", nm_ring_space(T), K2);

	/* --- 3. a sender blocked in poll(POLLOUT) in another process ------- */
	fill(N);
	CHECK(txsync(a->fd) == 0, "txsync");
	REQUIRE(nm_ring_space(T) == 0, "ring not full: %u", nm_ring_space(T));
	CHECK(rxsync(b->fd) == 0, "rxsync");
	const unsigned K3 = 5;
	pid_t pid = fork();
	REQUIRE(pid >= 0, "fork");
	if (pid == 0) {
		alarm(20);
		struct pollfd p = { .fd = a->fd, .events = POLLOUT };
		int64_t s0 = unm_test_now_ms();
		int rr = poll(&p, 1, 5000);
		int64_t el = unm_test_now_ms() - s0;
		if (rr != 1 || !(p.revents & POLLOUT)) {
			fprintf(stderr, "child: poll returned %d revents 0x%x after %lld ms\n",
				rr, p.revents, (long long)el);
			_exit(1);
		}
		if (el >= 4500) {
			fprintf(stderr, "child: woken late (%lld ms)\n", (long long)el);
			_exit(2);
		}
		if (nm_ring_space(T) != K3) {
			fprintf(stderr, "child: space %u want %u\n", nm_ring_space(T), K3);
			_exit(3);
		}
		_exit(0);
	}
	usleep(300 * 1000);	/* let the child go to sleep (not required) */
	CHECK(consume(K3) == K3, "consume K3");
	CHECK(rxsync(b->fd) == 0, "rxsync wakes the sender");
	int st = 0;
	REQUIRE(waitpid(pid, &st, 0) == pid, "waitpid");
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "blocked poller: status 0x%x", st);
	/* the child's txsync moved the shared ring's tail */
	CHECK(nm_ring_space(T) == K3, "parent sees space %u want %u", nm_ring_space(T), K3);

	/* --- 4. lots of traffic with a slow receiver: nothing is dropped ---- */
	const uint32_t TOTAL = 300000;
	int64_t deadline = unm_test_now_ms() + 30000;
	unsigned step = 0;
	while (next_seq < TOTAL && unm_test_now_ms() < deadline && t_failures < 20) {
		unsigned room = TOTAL - next_seq;
		fill(room);
		po.revents = 0;
		r = poll(&po, 1, step % 50 == 0 ? 5 : 0);
		CHECK(r >= 0, "poll: %s", strerror(errno));
		CHECK(rxsync(b->fd) == 0, "rxsync");
		/* the receiver consumes in uneven bites */
		consume(1 + (step * 37) % 300);
		if (step % 3 == 0)
			CHECK(rxsync(b->fd) == 0, "rxsync");
		step++;
	}
	/* drain */
	for (int i = 0; i < 10000 && expect_seq < next_seq; i++) {
		txsync(a->fd);
		rxsync(b->fd);
		consume(N);
	}
	CHECK(next_seq == TOTAL, "sent %u of %u before the deadline", next_seq, TOTAL);
	CHECK(expect_seq == next_seq, "received up to %u, sent %u", expect_seq, next_seq);
	CHECK(received == next_seq, "received %llu frames, sent %u",
	      (unsigned long long)received, next_seq);
	rxsync(b->fd);
	txsync(a->fd);
	CHECK(!nm_tx_pending(T) && nm_ring_space(T) == N - 1,
	      "drained: sender head %u tail %u", T->head, T->tail);

	nmport_close(a);
	nmport_close(b);
	return t_done();
}
