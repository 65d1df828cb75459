/* Description: frames written on netmap:X{1 arrive on netmap:X}1 in order,
 * with NIOCTXSYNC/NIOCRXSYNC and with poll(), both directions. */
#include <poll.h>
#include <sys/ioctl.h>
#include <libnetmap.h>
#include "testlib.h"

static int send_frames(struct nmport_d *d, int n, unsigned base)
{
	struct netmap_ring *r = NETMAP_TXRING(d->nifp, d->first_tx_ring);
	int sent = 0;
	while (sent < n && !nm_ring_empty(r)) {
		struct netmap_slot *s = &r->slot[r->head];
		char *buf = NETMAP_BUF(r, s->buf_idx);
		memset(buf, 0, 60);
		unsigned v = base + (unsigned)sent;
		memcpy(buf + 14, &v, sizeof(v));
		s->len = 60;
		r->head = r->cur = nm_ring_next(r, r->head);
		sent++;
	}
	return sent;
}

static int recv_frames(struct nmport_d *d, unsigned *expect)
{
	struct netmap_ring *r = NETMAP_RXRING(d->nifp, d->first_rx_ring);
	int got = 0;
	while (!nm_ring_empty(r)) {
		struct netmap_slot *s = &r->slot[r->head];
		unsigned v;
		memcpy(&v, NETMAP_BUF(r, s->buf_idx) + 14, sizeof(v));
		CHECK(v == *expect, "got %u want %u", v, *expect);
		CHECK(s->len == 60, "len %u", s->len);
		(*expect)++;
		r->head = r->cur = nm_ring_next(r, r->head);
		got++;
	}
	return got;
}

int main(void)
{
	t_setup(60);
	struct nmport_d *a = nmport_open("netmap:pb{1");
	REQUIRE(a != NULL, "open master: %s", strerror(errno));
	struct nmport_d *b = nmport_open("netmap:pb}1");
	REQUIRE(b != NULL, "open slave: %s", strerror(errno));
	CHECK(a->reg.nr_mem_id == b->reg.nr_mem_id, "same memory");
	CHECK(a->reg.nr_tx_slots == 1024, "default slots %u", a->reg.nr_tx_slots);
	CHECK(a->first_tx_ring == 0 && a->last_tx_ring == 0, "tx rings %d..%d",
	      a->first_tx_ring, a->last_tx_ring);

	/* ioctl path */
	unsigned expect = 0, next = 0;
	int total = 0;
	for (int round = 0; round < 100; round++) {
		int s = send_frames(a, 700, next);
		next += (unsigned)s;
		CHECK(ioctl(a->fd, NIOCTXSYNC, NULL) == 0, "txsync");
		CHECK(ioctl(b->fd, NIOCRXSYNC, NULL) == 0, "rxsync");
		total += recv_frames(b, &expect);
		CHECK(ioctl(b->fd, NIOCRXSYNC, NULL) == 0, "rxsync");
	}
	CHECK(total > 50000, "received %d", total);
	CHECK(expect == next || expect + 0 <= next, "order");

	/* poll path: receiver blocks until the sender pushes */
	struct pollfd pfd = { .fd = b->fd, .events = POLLIN };
	CHECK(poll(&pfd, 1, 0) == 0, "nothing pending");
	pid_t pid = fork();
	if (pid == 0) {
		usleep(100000);
		send_frames(a, 10, next);
		struct pollfd p2 = { .fd = a->fd, .events = POLLOUT };
		poll(&p2, 1, 1000);	/* implicit txsync */
		_exit(0);
	}
	int64_t t0 = unm_test_now_ms();
	int r = poll(&pfd, 1, 5000);
	CHECK(r == 1 && (pfd.revents & POLLIN), "poll woke: r=%d revents=%x", r, pfd.revents);
	CHECK(unm_test_now_ms() - t0 < 3000, "woke in time");
	int got = recv_frames(b, &expect);
	CHECK(got == 10, "got %d after poll", got);
	waitpid(pid, NULL, 0);

	/* timeout with nothing to read */
	t0 = unm_test_now_ms();
	r = poll(&pfd, 1, 200);
	int64_t dt = unm_test_now_ms() - t0;
	CHECK(r == 0, "timeout poll r=%d", r);
	CHECK(dt >= 150 && dt < 2000, "slept %lld ms", (long long)dt);

	nmport_close(a);
	nmport_close(b);
	return t_done();
}
