/* Description: a process SIGKILLed while inside a pipe txsync/rxsync and not yet reaped (a zombie) must not stall the ring: the next process attached to that end still moves frames. */
/*
 * Reference §1.6: "if two threads sync the same ring concurrently, the second
 * one simply skips it" -- the skip only lasts while the first sync runs; a
 * process that died cannot be running one.  §10: ring state must outlive
 * its holders.  Nothing in netmap makes ring progress depend on whether the
 * parent of a dead process has called wait() yet.
 *
 * Each child attaches to one end, moves one frame, then spins on the sync
 * ioctl until it is killed, so most kills land inside a sync.  The parent
 * does not reap the killed children until the end.
 */
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <libnetmap.h>
#include "testlib.h"

#define ROUNDS 20

static struct netmap_ring *txr(struct nmport_d *d)
{
	return NETMAP_TXRING(d->nifp, d->first_tx_ring);
}

static struct netmap_ring *rxr(struct nmport_d *d)
{
	return NETMAP_RXRING(d->nifp, d->first_rx_ring);
}

static void put(struct netmap_ring *r, uint32_t seq)
{
	struct netmap_slot *s = &r->slot[r->head];
	char *b = NETMAP_BUF(r, s->buf_idx);
	memset(b, 0, 60);
	memcpy(b + 14, &seq, 4);
	s->len = 60;
	s->flags = 0;
	uint32_t nh = nm_ring_next(r, r->head);
	__atomic_store_n(&r->cur, nh, __ATOMIC_RELEASE);
	__atomic_store_n(&r->head, nh, __ATOMIC_RELEASE);
}

static uint32_t seq_at_head(struct netmap_ring *r)
{
	uint32_t v;
	memcpy(&v, NETMAP_BUF(r, r->slot[r->head].buf_idx) + 14, 4);
	return v;
}

struct shm {
	volatile uint32_t ready, count, last;
};

int main(void)
{
	t_setup(120);
	pid_t zombies[2 * ROUNDS];
	int nz = 0;

	/* --- the sender end: children send, then spin in NIOCTXSYNC -------- */
	struct nmport_d *R = nmport_open("netmap:kz}1");
	REQUIRE(R != NULL, "open kz}1: %s", strerror(errno));
	struct netmap_ring *rr = rxr(R);
	int stalled = 0;
	for (uint32_t round = 0; round < ROUNDS && stalled < 2; round++) {
		pid_t c = fork();
		REQUIRE(c >= 0, "fork");
		if (c == 0) {
			alarm(30);
			struct nmport_d *d = nmport_open("netmap:kz{1");
			if (d == NULL)
				_exit(10);
			put(txr(d), round);
			for (int64_t end = unm_test_now_ms() + 20000; unm_test_now_ms() < end;)
				ioctl(d->fd, NIOCTXSYNC, NULL);
			_exit(11);
		}
		struct pollfd p = { .fd = R->fd, .events = POLLIN };
		int r = poll(&p, 1, 2000);
		if (r == 1 && !nm_ring_empty(rr)) {
			CHECK(seq_at_head(rr) == round, "round %u: seq %u", round, seq_at_head(rr));
			rr->head = rr->cur = nm_ring_next(rr, rr->head);
		} else {
			CHECK(0, "sender round %u: the frame never arrived; the previous sender "
			      "was killed (not reaped) while in txsync", round);
			stalled++;
		}
		usleep((round % 5) * 300);
		kill(c, SIGKILL);
		zombies[nz++] = c;
		usleep(20000);	/* it is dead now, but nobody reaps it */
	}

	/* --- the receiver end: children receive, then spin in NIOCRXSYNC --- */
	struct shm *sh = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
			      -1, 0);
	REQUIRE(sh != MAP_FAILED, "mmap");
	struct nmport_d *T = nmport_open("netmap:ky{1");
	REQUIRE(T != NULL, "open ky{1: %s", strerror(errno));
	struct netmap_ring *tr = txr(T);
	stalled = 0;
	for (uint32_t round = 0; round < ROUNDS && stalled < 2; round++) {
		memset(sh, 0, sizeof(*sh));
		pid_t c = fork();
		REQUIRE(c >= 0, "fork");
		if (c == 0) {
			alarm(30);
			struct nmport_d *d = nmport_open("netmap:ky}1");
			if (d == NULL)
				_exit(10);
			struct netmap_ring *r = rxr(d);
			sh->ready = 1;
			for (int64_t end = unm_test_now_ms() + 20000; unm_test_now_ms() < end;) {
				ioctl(d->fd, NIOCRXSYNC, NULL);
				while (!nm_ring_empty(r)) {
					sh->last = seq_at_head(r);
					sh->count++;
					uint32_t nh = nm_ring_next(r, r->head);
					__atomic_store_n(&r->cur, nh, __ATOMIC_RELEASE);
					__atomic_store_n(&r->head, nh, __ATOMIC_RELEASE);
				}
			}
			_exit(11);
		}
		for (int i = 0; i < 400 && !sh->ready; i++)
			usleep(5000);
		REQUIRE(sh->ready, "receiver child did not start");
		REQUIRE(nm_ring_space(tr) > 0, "sender ring full");
		put(tr, round);
		CHECK(ioctl(T->fd, NIOCTXSYNC, NULL) == 0, "txsync");
		for (int i = 0; i < 400 && sh->count == 0; i++)
			usleep(5000);
		if (sh->count == 1) {
			CHECK(sh->last == round, "round %u: receiver got seq %u", round, sh->last);
		} else {
			CHECK(0, "receiver round %u: got %u frames, want 1; the previous receiver "
			      "was killed (not reaped) while in rxsync", round, sh->count);
			stalled++;
		}
		usleep((round % 5) * 300);
		kill(c, SIGKILL);
		zombies[nz++] = c;
		usleep(20000);
	}

	for (int i = 0; i < nz; i++) {
		int st;
		CHECK(waitpid(zombies[i], &st, 0) == zombies[i] && WIFSIGNALED(st),
		      "child %d status 0x%x", (int)zombies[i], st);
	}
	nmport_close(R);
	nmport_close(T);
	return t_done();
}
