/* Description: a process killed while holding the registry lock, or in the
 * middle of a registration, leaves no lock held and no stale state: other
 * processes go on opening ports and moving packets. */
#include <poll.h>
#include <sys/ioctl.h>
#include <libnetmap.h>
#include <unetmap.h>
#include "testlib.h"

static int child_open(const char *fault, const char *port)
{
	pid_t pid = fork();
	if (pid == 0) {
		setenv("UNETMAP_FAULT", fault, 1);
		struct nmport_d *d = nmport_open(port);
		_exit(d == NULL ? 3 : 4);	/* must not get here */
	}
	int st = 0;
	waitpid(pid, &st, 0);
	return WIFSIGNALED(st) ? WTERMSIG(st) : -1;
}

static void roundtrip(const char *a, const char *b)
{
	struct nmport_d *tx = nmport_open(a), *rx = nmport_open(b);
	REQUIRE(tx != NULL && rx != NULL, "open %s/%s: %s", a, b, strerror(errno));
	struct netmap_ring *t = NETMAP_TXRING(tx->nifp, 0);
	t->slot[t->head].len = 64;
	t->head = t->cur = nm_ring_next(t, t->head);
	CHECK(ioctl(tx->fd, NIOCTXSYNC, NULL) == 0, "txsync");
	struct pollfd p = { .fd = rx->fd, .events = POLLIN };
	CHECK(poll(&p, 1, 2000) == 1, "frame arrives");
	struct netmap_ring *r = NETMAP_RXRING(rx->nifp, 0);
	CHECK(nm_ring_space(r) == 1, "one frame, got %u", nm_ring_space(r));
	nmport_close(tx);
	nmport_close(rx);
}

int main(void)
{
	t_setup(60);
	/* keep a region alive to check buffers come back */
	struct nmport_d *keep = nmport_open("netmap:cl{0");
	REQUIRE(keep != NULL, "open: %s", strerror(errno));
	uint16_t mem = keep->reg.nr_mem_id;
	struct unetmap_mem_stats st0, st1;
	REQUIRE(unetmap_mem_stats(mem, &st0) == 0, "stats");

	CHECK(child_open("register-locked", "netmap:cl{1") == SIGKILL, "child died in lock");
	int64_t t0 = unm_test_now_ms();
	roundtrip("netmap:cl{1", "netmap:cl}1");	/* would hang on a held lock */
	CHECK(unm_test_now_ms() - t0 < 5000, "no stall");

	CHECK(child_open("register-half", "netmap:cl{2") == SIGKILL, "child died mid-register");
	roundtrip("netmap:cl}2", "netmap:cl{2");
	CHECK(unetmap_gc() >= 0, "gc");
	REQUIRE(unetmap_mem_stats(mem, &st1) == 0, "stats");
	CHECK(st1.buf_free == st0.buf_free, "buffers back: %u vs %u", st1.buf_free, st0.buf_free);
	CHECK(st1.ring_free == st0.ring_free, "rings back: %u vs %u", st1.ring_free, st0.ring_free);
	CHECK(st1.if_free == st0.if_free, "ifs back: %u vs %u", st1.if_free, st0.if_free);
	nmport_close(keep);
	return t_done();
}
