/* Description: a VALE receiver killed (SIGKILL) while a sender keeps
 * forwarding into its ring.  The sender never blocks or crashes; once the
 * dead registration is collected the port leaves the switch, the sender's
 * frames to it are counted as drop_closed, no reservation is left on any
 * ring, a new receiver gets the traffic, and every ring, buffer and
 * netmap_if of the sender's region is back at the end. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <libnetmap.h>
#include <unetmap.h>
#include "testlib.h"

static const uint8_t BCAST[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };

/* queue up to `n` broadcast frames and sync; returns how many were queued */
static unsigned send_burst(struct nmport_d *d, unsigned n)
{
	struct netmap_ring *r = NETMAP_TXRING(d->nifp, d->first_tx_ring);
	unsigned k = 0;
	for (; k < n && !nm_ring_empty(r); k++) {
		struct netmap_slot *s = &r->slot[r->head];
		uint8_t *b = (uint8_t *)NETMAP_BUF(r, s->buf_idx);
		memcpy(b, BCAST, 6);
		memset(b + 6, 0x02, 6);
		b[12] = 0x88;
		b[13] = 0xb5;
		s->len = 60;
		r->head = r->cur = nm_ring_next(r, r->head);
	}
	ioctl(d->fd, NIOCTXSYNC, NULL);
	return k;
}

static int find(const struct unetmap_vale_port_stats *st, int n, const char *name)
{
	for (int i = 0; i < n; i++)
		if (strcmp(st[i].name, name) == 0)
			return i;
	return -1;
}

/* frames waiting in the RX ring of d, after a sync */
static unsigned rx_avail(struct nmport_d *d)
{
	ioctl(d->fd, NIOCRXSYNC, NULL);
	struct netmap_ring *r = NETMAP_RXRING(d->nifp, d->first_rx_ring);
	unsigned n = nm_ring_space(r);
	r->head = r->cur = r->tail;
	return n;
}

int main(void)
{
	t_setup(60);
	struct nmport_d *tx = nmport_open("vale0:tx");
	REQUIRE(tx != NULL, "open vale0:tx: %s", strerror(errno));
	struct unetmap_mem_stats m0;
	REQUIRE(unetmap_mem_stats(tx->reg.nr_mem_id, &m0) == 0, "mem stats");

	for (int round = 0; round < 5; round++) {
		int pfd[2];
		REQUIRE(pipe(pfd) == 0, "pipe");
		pid_t pid = fork();
		REQUIRE(pid >= 0, "fork");
		if (pid == 0) {
			struct nmport_d *rx = nmport_open("vale0:rx");
			char c = rx != NULL ? 'y' : 'n';
			if (write(pfd[1], &c, 1) != 1)
				_exit(1);
			/* reads a little, then stops reading */
			for (unsigned tot = 0; rx != NULL && tot < 3000; )
				tot += rx_avail(rx);
			for (;;)
				pause();
		}
		char c = 0;
		REQUIRE(read(pfd[0], &c, 1) == 1 && c == 'y', "child could not open vale0:rx");
		close(pfd[0]);
		close(pfd[1]);
		/* traffic, then the kill in the middle of it */
		int64_t t0 = unm_test_now_ms();
		unsigned sent = 0;
		while (unm_test_now_ms() - t0 < 30 + round * 10)
			sent += send_burst(tx, 256);
		kill(pid, SIGKILL);
		for (int k = 0; k < 200; k++)
			sent += send_burst(tx, 256);	/* into a dead receiver's ring */
		int st;
		REQUIRE(waitpid(pid, &st, 0) == pid, "waitpid");
		CHECK(sent > 0, "round %d: nothing sent", round);

		/* collected: the port leaves the switch, frames to it are gone */
		CHECK(unetmap_gc() >= 1, "round %d: the dead registration was not collected", round);
		struct unetmap_vale_port_stats ps[8];
		int n = unetmap_vale_stats("vale0", ps, 8);
		CHECK(n == 1 && find(ps, n, "vale0:tx") == 0,
		      "round %d: %d ports on vale0 after the receiver died", round, n);
		uint64_t closed0 = n > 0 ? ps[0].drop_closed : 0;
		send_burst(tx, 64);
		n = unetmap_vale_stats("vale0", ps, 8);
		/* alone on the switch, a broadcast has no destination at all */
		CHECK(n == 1 && ps[0].drop_closed == closed0,
		      "round %d: frames with no other port counted as closed drops", round);

		/* a new receiver gets the traffic at once */
		struct nmport_d *rx2 = nmport_open("vale0:rx2");
		REQUIRE(rx2 != NULL, "open vale0:rx2: %s", strerror(errno));
		unsigned got = 0;
		for (int k = 0; k < 20 && got < 1000; k++) {
			send_burst(tx, 100);
			got += rx_avail(rx2);
		}
		CHECK(got >= 1000, "round %d: the new receiver got %u frames", round, got);
		n = unetmap_vale_stats("vale0", ps, 8);
		int i2 = find(ps, n, "vale0:rx2");
		CHECK(i2 >= 0 && ps[i2].drop_dead == 0, "round %d: reservation left behind", round);
		nmport_close(rx2);
	}
	nmport_close(tx);
	unetmap_gc();
	CHECK(unetmap_vale_switches(NULL, 0) == 0, "switch left after closing every port");
	/* the sender's region is gone with its port; open a fresh port on the
	 * same region id space and check nothing leaked in a shared region */
	struct nmport_d *a = nmport_open("vale1:a");
	REQUIRE(a != NULL, "open vale1:a");
	char spec[64];
	snprintf(spec, sizeof(spec), "vale1:b@%u", a->reg.nr_mem_id);
	struct unetmap_mem_stats s0, s1;
	REQUIRE(unetmap_mem_stats(a->reg.nr_mem_id, &s0) == 0, "mem stats a");
	for (int round = 0; round < 3; round++) {
		pid_t pid = fork();
		REQUIRE(pid >= 0, "fork");
		if (pid == 0) {
			struct nmport_d *b = nmport_open(spec);
			if (b == NULL)
				_exit(1);
			for (;;)
				pause();
		}
		for (int k = 0; k < 100; k++) {
			send_burst(a, 256);
			usleep(200);
		}
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		send_burst(a, 256);
		unetmap_gc();
	}
	REQUIRE(unetmap_mem_stats(a->reg.nr_mem_id, &s1) == 0, "mem stats a after");
	CHECK(s1.ring_free == s0.ring_free && s1.buf_free == s0.buf_free && s1.if_free == s0.if_free,
	      "shared region after 3 killed receivers: rings %u->%u bufs %u->%u ifs %u->%u",
	      s0.ring_free, s1.ring_free, s0.buf_free, s1.buf_free, s0.if_free, s1.if_free);
	nmport_close(a);
	(void)m0;
	return t_done();
}
