/* Description: VALE drops (reference §4.3): a destination ring that is full
 * drops the excess (counted in the sender's drop_full) and the sender never
 * blocks, its TX ring free after every txsync; destinations that are not
 * open (a TX-only port, a persistent port nobody has open, an unbound ring)
 * count drop_closed; frames shorter than 14 bytes, longer than a buffer or
 * with a bad buffer index count drop_malformed. */
#include <poll.h>
#include <stdbool.h>
#include <sys/ioctl.h>
#include <libnetmap.h>
#include <unetmap.h>
#include "testlib.h"
#include "valetest.h"

/* queue a frame (dst, source 02:00:00:00:33:srcid, tag at 14, length len) on
 * TX ring `ring` */
static void queue(struct nmport_d *d, unsigned ring, const uint8_t *dst, uint8_t srcid,
		  uint32_t tag, unsigned len)
{
	vt_queue(d, ring, dst, 0x3300u | srcid, tag, len);
}

/* txsync, timed; the TX ring must be entirely free afterwards */
static void txsync(struct nmport_d *d, const char *what)
{
	int64_t t0 = unm_test_now_ms();
	vt_txsync_free(d, what);
	int64_t dt = unm_test_now_ms() - t0;
	CHECK(dt < 500, "%s: txsync took %lld ms (a sender must never block)", what,
	      (long long)dt);
}

static void full(void)
{
	struct nmport_d *s = t_open("vale0:s");
	struct nmport_d *r = t_open("vale0:r@conf:slots=64");
	REQUIRE(r->reg.nr_rx_slots == 64, "receiver has %u slots", r->reg.nr_rx_slots);
	uint64_t sent = 0;
	/* 10 batches of 100 broadcasts; only r is there, and it never reads */
	for (int round = 0; round < 10; round++) {
		for (int k = 0; k < 100; k++)
			queue(s, 0, vt_bcast, 1, (uint32_t)sent++, 60);
		txsync(s, "full receiver");
	}
	/* poll(POLLOUT) on the sender never waits for the receiver */
	for (int k = 0; k < 5; k++)
		queue(s, 0, vt_bcast, 1, (uint32_t)sent++, 60);
	struct pollfd p = { .fd = s->fd, .events = POLLOUT };
	int64_t t0 = unm_test_now_ms();
	int pr = poll(&p, 1, 2000);
	int64_t dt = unm_test_now_ms() - t0;
	CHECK(pr == 1 && (p.revents & POLLOUT), "poll(POLLOUT) with a full destination: %d %#x",
	      pr, p.revents);
	CHECK(dt < 500, "poll(POLLOUT) took %lld ms", (long long)dt);
	struct netmap_ring *t = NETMAP_TXRING(s->nifp, 0);
	CHECK(nm_ring_space(t) == t->num_slots - 1, "TX ring not free after poll: %u",
	      nm_ring_space(t));

	struct unetmap_vale_port_stats ss = vt_pstats("vale0:s"), rs = vt_pstats("vale0:r");
	/* a ring of 64 slots holds 63 frames */
	CHECK(rs.rx_frames == 63, "receiver rx_frames %llu, want 63",
	      (unsigned long long)rs.rx_frames);
	CHECK(ss.drop_full == sent - 63, "sender drop_full %llu, want %llu",
	      (unsigned long long)ss.drop_full, (unsigned long long)(sent - 63));
	CHECK(ss.tx_frames == sent, "sender tx_frames %llu, want %llu",
	      (unsigned long long)ss.tx_frames, (unsigned long long)sent);
	CHECK(ss.drop_closed == 0 && ss.drop_malformed == 0, "other drops %llu/%llu",
	      (unsigned long long)ss.drop_closed, (unsigned long long)ss.drop_malformed);
	CHECK(rs.drop_full == 0 && rs.tx_frames == 0, "receiver counters");

	/* a broadcast with one full and one open destination: the open one
	 * gets everything, the full one's share is counted */
	struct nmport_d *r2 = t_open("vale0:r2");
	uint64_t sent2 = sent;
	for (int k = 0; k < 100; k++)
		queue(s, 0, vt_bcast, 1, (uint32_t)sent++, 60);
	txsync(s, "broadcast to full + open");
	uint32_t tags[1024];
	int n2 = vt_recv(r2, 0, tags, 1024, true);
	CHECK(n2 == 100, "second receiver got %d of 100", n2);
	for (int k = 0; k < n2 && k < 100; k++)
		CHECK(tags[k] == sent2 + (uint64_t)k, "r2 frame %d tag %u", k, tags[k]);
	ss = vt_pstats("vale0:s");
	CHECK(ss.drop_full == sent - 63, "sender drop_full %llu after the mixed broadcast, want %llu",
	      (unsigned long long)ss.drop_full, (unsigned long long)(sent - 63));
	CHECK(ss.tx_frames == sent, "sender tx_frames %llu, want %llu",
	      (unsigned long long)ss.tx_frames, (unsigned long long)sent);

	/* the full receiver holds the first 63 frames, in order */
	int n = vt_recv(r, 0, tags, 1024, true);
	CHECK(n == 63, "receiver holds %d frames", n);
	for (int k = 0; k < n && k < 63; k++)
		CHECK(tags[k] == (uint32_t)k, "receiver frame %d has tag %u", k, tags[k]);
	/* room again: everything gets through */
	uint64_t before = ss.drop_full;
	for (int k = 0; k < 10; k++)
		queue(s, 0, vt_bcast, 1, (uint32_t)(50000 + k), 60);
	txsync(s, "after the receiver read");
	n = vt_recv(r, 0, tags, 1024, true);
	CHECK(n == 10 && tags[0] == 50000 && tags[9] == 50009, "after reading: %d frames", n);
	CHECK(vt_recv(r2, 0, tags, 1024, true) == 10, "r2 after reading");
	ss = vt_pstats("vale0:s");
	CHECK(ss.drop_full == before, "drop_full moved %llu -> %llu with room",
	      (unsigned long long)before, (unsigned long long)ss.drop_full);
	nmport_close(r2);
	nmport_close(r);
	nmport_close(s);
}

static void closed(void)
{
	struct nmport_d *s = t_open("vale1:s");
	struct nmport_d *t = t_open("vale1:t/T");	/* TX rings only */
	struct unetmap_vale_port_stats ts = vt_pstats("vale1:t");
	CHECK(ts.rx_rings_open == 0, "TX-only port rx_rings_open %u", ts.rx_rings_open);
	for (int k = 0; k < 10; k++)
		queue(s, 0, vt_bcast, 1, (uint32_t)k, 60);
	txsync(s, "to a TX-only port");
	struct unetmap_vale_port_stats ss = vt_pstats("vale1:s");
	CHECK(ss.drop_closed == 10, "drop_closed %llu, want 10 (TX-only destination)",
	      (unsigned long long)ss.drop_closed);
	CHECK(ss.drop_full == 0, "drop_full %llu", (unsigned long long)ss.drop_full);
	/* the TX-only port can still send */
	queue(t, 0, vt_bcast, 2, 77, 60);
	txsync(t, "from a TX-only port");
	uint32_t tag = 0;
	CHECK(vt_recv(s, 0, &tag, 1, true) == 1 && tag == 77, "TX-only port's frame: tag %u", tag);

	/* a persistent port attached but not open */
	REQUIRE(vt_newif("vpd", NULL) == 0, "NEWIF vpd: %s", strerror(errno));
	REQUIRE(vt_attach("vale1:vpd", NULL) == 0, "ATTACH vale1:vpd: %s", strerror(errno));
	for (int k = 0; k < 5; k++)
		queue(s, 0, vt_bcast, 1, (uint32_t)(100 + k), 60);
	txsync(s, "to closed ports");
	ss = vt_pstats("vale1:s");
	CHECK(ss.drop_closed == 20, "drop_closed %llu, want 20 (5 x TX-only + 5 x not open)",
	      (unsigned long long)ss.drop_closed);
	/* opened: it receives */
	struct nmport_d *vp = t_open("netmap:vpd");
	queue(s, 0, vt_bcast, 1, 200, 60);
	txsync(s, "to an open persistent port");
	CHECK(vt_recv(vp, 0, &tag, 1, true) == 1 && tag == 200, "persistent port receives");
	ss = vt_pstats("vale1:s");
	CHECK(ss.drop_closed == 21, "drop_closed %llu, want 21", (unsigned long long)ss.drop_closed);
	nmport_close(vp);
	nmport_close(t);

	/* a frame to a learned port that has gone away is not delivered anywhere
	 * else as unicast: the closed port's MAC was learned, then it closed */
	struct nmport_d *g = t_open("vale1:gone");
	struct nmport_d *w = t_open("vale1:watch");
	queue(g, 0, vt_bcast, 0x44, 300, 60);
	txsync(g, "announce");
	vt_recv(s, 0, NULL, 0, true);
	vt_recv(w, 0, NULL, 0, true);
	nmport_close(g);
	static const uint8_t GONE[6] = { 0x02, 0, 0, 0, 0x33, 0x44 };
	queue(s, 0, GONE, 1, 301, 60);
	txsync(s, "to a closed port's MAC");
	int nw = vt_recv(w, 0, &tag, 1, true);
	/* netmap drops it if the entry survives; a table purged at close
	 * floods it as unknown unicast: either way it never vanishes silently */
	ss = vt_pstats("vale1:s");
	CHECK(nw == 1 || ss.drop_closed == 21 + 1,
	      "frame to a departed port's MAC: neither flooded (watch got %d) nor counted "
	      "drop_closed (%llu)", nw, (unsigned long long)ss.drop_closed);
	nmport_close(w);
	CHECK(vt_detach("vale1:vpd", NULL) == 0, "DETACH: %s", strerror(errno));
	CHECK(vt_delif("vpd") == 0, "DELIF: %s", strerror(errno));
	nmport_close(s);

	/* ring granularity: only ring 1 of u is bound */
	struct nmport_d *s2 = t_open("vale2:s2@conf:rings=2");
	struct nmport_d *u = t_open("vale2:u-1@conf:rings=2");
	REQUIRE(u->first_rx_ring == 1 && u->last_rx_ring == 1, "u binds rx %d..%d",
		u->first_rx_ring, u->last_rx_ring);
	struct unetmap_vale_port_stats us = vt_pstats("vale2:u");
	CHECK(us.rx_rings_open == 1, "u rx_rings_open %u", us.rx_rings_open);
	queue(u, 1, vt_bcast, 0x55, 400, 60);	/* s2 learns u's MAC */
	txsync(u, "u announces");
	CHECK(vt_recv(s2, 0, &tag, 1, true) == 1 && tag == 400, "u's broadcast reaches s2 ring 0");
	static const uint8_t MU[6] = { 0x02, 0, 0, 0, 0x33, 0x55 };
	queue(s2, 1, MU, 2, 401, 60);		/* ring 1 -> u ring 1: open */
	txsync(s2, "unicast to an open ring");
	CHECK(vt_recv(u, 1, &tag, 1, true) == 1 && tag == 401, "unicast to u ring 1");
	queue(s2, 0, MU, 2, 402, 60);		/* ring 0 -> u ring 0: not bound */
	txsync(s2, "unicast to an unbound ring");
	queue(s2, 1, vt_bcast, 2, 403, 60);	/* broadcast -> ring 0: not bound */
	txsync(s2, "broadcast to an unbound ring 0");
	CHECK(vt_recv(u, 1, &tag, 1, true) == 0, "frames for ring 0 showed up on ring 1");
	struct unetmap_vale_port_stats s2s = vt_pstats("vale2:s2");
	CHECK(s2s.drop_closed == 2, "s2 drop_closed %llu, want 2 (unbound ring 0)",
	      (unsigned long long)s2s.drop_closed);
	nmport_close(u);
	nmport_close(s2);
}

static void malformed(void)
{
	struct nmport_d *s = t_open("vale3:s");
	struct nmport_d *r = t_open("vale3:r");
	struct netmap_ring *t = NETMAP_TXRING(s->nifp, 0);
	uint32_t bufsz = t->nr_buf_size;
	const unsigned lens[] = { 0, 1, 6, 12, 13 };
	for (unsigned i = 0; i < 5; i++)
		queue(s, 0, vt_bcast, 1, 500 + i, lens[i]);
	queue(s, 0, vt_bcast, 1, 600, 14);		/* the shortest valid frame */
	txsync(s, "short frames");
	uint32_t tags[8];
	int n = vt_recv(r, 0, tags, 8, false);
	CHECK(n == 1, "receiver got %d frames, want only the 14-byte one", n);
	struct netmap_ring *rr = NETMAP_RXRING(r->nifp, 0);
	if (n >= 1)
		CHECK(rr->slot[rr->head].len == 14, "delivered len %u", rr->slot[rr->head].len);
	vt_recv(r, 0, NULL, 0, true);
	struct unetmap_vale_port_stats ss = vt_pstats("vale3:s");
	CHECK(ss.drop_malformed == 5, "drop_malformed %llu, want 5",
	      (unsigned long long)ss.drop_malformed);

	/* longer than a buffer (no NS_MOREFRAG) */
	queue(s, 0, vt_bcast, 1, 700, bufsz + 1);
	queue(s, 0, vt_bcast, 1, 701, 65535);
	/* a buffer index outside the region */
	uint32_t h = t->head;
	queue(s, 0, vt_bcast, 1, 702, 60);
	uint32_t saved = t->slot[h].buf_idx;
	t->slot[h].buf_idx = 0xfffffff0u;
	queue(s, 0, vt_bcast, 1, 703, 60);		/* good one after them */
	txsync(s, "bad length / buffer");
	t->slot[h].buf_idx = saved;
	n = vt_recv(r, 0, tags, 8, true);
	CHECK(n == 1 && tags[0] == 703, "after bad frames: %d frames (first tag %u)", n,
	      n ? tags[0] : 0);
	ss = vt_pstats("vale3:s");
	CHECK(ss.drop_malformed == 8, "drop_malformed %llu, want 8",
	      (unsigned long long)ss.drop_malformed);
	CHECK(ss.drop_full == 0 && ss.drop_closed == 0, "other drops %llu/%llu",
	      (unsigned long long)ss.drop_full, (unsigned long long)ss.drop_closed);
	/* the sender still works */
	queue(s, 0, vt_bcast, 1, 800, 60);
	txsync(s, "good frame");
	CHECK(vt_recv(r, 0, tags, 8, true) == 1 && tags[0] == 800, "good frame after bad ones");
	nmport_close(r);
	nmport_close(s);
}

int main(void)
{
	t_setup(60);
	full();
	closed();
	malformed();
	return t_done();
}
