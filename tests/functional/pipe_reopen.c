/* Description: pipe ends can be closed and reopened in any order while the other end stays open, keeping ring state, data and geometry; with both ends closed the pipe is gone and a new open sees fresh rings. */
/*
 * Reference §4.4: both ends are created together on the first open of either
 * and live while either end is open; data and ring state survive as long as
 * one end stays open.  §1.6: a second fd binding an active ring sees the
 * current state; registration performs no sync; the ring disappears when
 * both pipe ends are closed; fresh TX ring head = cur = 0, tail = n-1, fresh
 * RX ring head = cur = tail = 0.
 */
#include <poll.h>
#include <sys/ioctl.h>
#include <libnetmap.h>
#include <unetmap.h>
#include "testlib.h"

static struct nmport_d *xopen(const char *name)
{
	struct nmport_d *d = nmport_open(name);
	REQUIRE(d != NULL, "open %s: %s (%s)", name, strerror(errno), unetmap_last_error());
	return d;
}

static struct netmap_ring *txr(struct nmport_d *d)
{
	return NETMAP_TXRING(d->nifp, d->first_tx_ring);
}

static struct netmap_ring *rxr(struct nmport_d *d)
{
	return NETMAP_RXRING(d->nifp, d->first_rx_ring);
}

/* write n frames with sequence numbers seq.., advance head; txsync */
static void send_n(struct nmport_d *d, unsigned n, uint32_t *seq)
{
	struct netmap_ring *r = txr(d);
	REQUIRE(nm_ring_space(r) >= n, "%s: no room for %u (space %u)", d->hdr.nr_name, n,
		nm_ring_space(r));
	for (unsigned i = 0; i < n; i++) {
		struct netmap_slot *s = &r->slot[r->head];
		char *b = NETMAP_BUF(r, s->buf_idx);
		memset(b, 0, 64);
		memcpy(b + 14, seq, 4);
		s->len = 64;
		s->flags = 0;
		(*seq)++;
		r->head = r->cur = nm_ring_next(r, r->head);
	}
	CHECK(ioctl(d->fd, NIOCTXSYNC, NULL) == 0, "txsync %s", d->hdr.nr_name);
}

/* consume n frames from the RX ring (after the caller synced), checking
 * the sequence; then rxsync when `release` */
static void recv_n(struct nmport_d *d, unsigned n, uint32_t *expect, int release)
{
	struct netmap_ring *r = rxr(d);
	CHECK(nm_ring_space(r) >= n, "%s: %u frames available, want at least %u",
	      d->hdr.nr_name, nm_ring_space(r), n);
	for (unsigned i = 0; i < n && !nm_ring_empty(r); i++) {
		struct netmap_slot *s = &r->slot[r->head];
		uint32_t v;
		memcpy(&v, NETMAP_BUF(r, s->buf_idx) + 14, 4);
		CHECK(v == *expect, "%s: seq %u want %u", d->hdr.nr_name, v, *expect);
		CHECK(s->len == 64, "len %u", s->len);
		*expect = v + 1;
		r->head = r->cur = nm_ring_next(r, r->head);
	}
	if (release)
		CHECK(ioctl(d->fd, NIOCRXSYNC, NULL) == 0, "rxsync %s", d->hdr.nr_name);
}

static void rxsync(struct nmport_d *d)
{
	CHECK(ioctl(d->fd, NIOCRXSYNC, NULL) == 0, "rxsync %s", d->hdr.nr_name);
}

static void txsync(struct nmport_d *d)
{
	CHECK(ioctl(d->fd, NIOCTXSYNC, NULL) == 0, "txsync %s", d->hdr.nr_name);
}

static void check_fresh(struct nmport_d *d, const char *what)
{
	struct netmap_ring *t = txr(d), *r = rxr(d);
	uint32_t n = t->num_slots;
	CHECK(t->head == 0 && t->cur == 0 && t->tail == n - 1,
	      "%s: TX ring head %u cur %u tail %u, want 0 0 %u", what, t->head, t->cur,
	      t->tail, n - 1);
	CHECK(r->head == 0 && r->cur == 0 && r->tail == 0,
	      "%s: RX ring head %u cur %u tail %u, want 0 0 0", what, r->head, r->cur, r->tail);
}

int main(void)
{
	t_setup(60);
	uint32_t ms = 0, me = 0;	/* master -> slave: next to send / expected */
	uint32_t ss = 1000000, se = 1000000;	/* slave -> master */

	/* --- 1. data sent while the slave was never open ------------------- */
	struct nmport_d *M = xopen("netmap:ro{1");
	const uint32_t N = txr(M)->num_slots;
	check_fresh(M, "first master");
	send_n(M, 10, &ms);
	struct nmport_d *S = xopen("netmap:ro}1");
	/* registration performs no sync: the RX ring still shows nothing */
	CHECK(rxr(S)->head == 0 && rxr(S)->tail == 0, "slave RX before sync: head %u tail %u",
	      rxr(S)->head, rxr(S)->tail);
	CHECK(txr(S)->head == 0 && txr(S)->tail == N - 1, "slave TX: head %u tail %u",
	      txr(S)->head, txr(S)->tail);
	rxsync(S);
	CHECK(nm_ring_space(rxr(S)) == 10, "slave sees %u frames, want 10",
	      nm_ring_space(rxr(S)));
	recv_n(S, 10, &me, 1);

	/* --- 2. slave closed, master sends, slave reopened ----------------- */
	nmport_close(S);
	send_n(M, 10, &ms);
	CHECK(nm_ring_space(txr(M)) == N - 1 - 10, "master space %u", nm_ring_space(txr(M)));
	S = xopen("netmap:ro}1");
	CHECK(rxr(S)->head == 10 && rxr(S)->cur == 10 && rxr(S)->tail == 10,
	      "reopened slave RX: head %u cur %u tail %u, want 10 10 10 (state kept)",
	      rxr(S)->head, rxr(S)->cur, rxr(S)->tail);
	rxsync(S);
	CHECK(nm_ring_space(rxr(S)) == 10, "reopened slave sees %u frames, want 10",
	      nm_ring_space(rxr(S)));
	recv_n(S, 3, &me, 1);	/* consume 3 of 10, release them */
	nmport_close(S);

	/* --- 3. slave reopened after a partial read: the rest is still there */
	S = xopen("netmap:ro}1");
	CHECK(rxr(S)->head == 13 && rxr(S)->tail == 20,
	      "slave RX after partial read: head %u tail %u, want 13 20", rxr(S)->head,
	      rxr(S)->tail);
	CHECK(nm_ring_space(rxr(S)) == 7, "unread frames %u, want 7", nm_ring_space(rxr(S)));
	recv_n(S, 7, &me, 1);
	txsync(M);
	CHECK(!nm_tx_pending(txr(M)), "master drained: head %u tail %u", txr(M)->head,
	      txr(M)->tail);

	/* --- 4. master closed with frames in flight, reopened -------------- */
	send_n(M, 5, &ms);
	send_n(S, 6, &ss);	/* and the other direction */
	uint32_t mhead = txr(M)->head, mtail = txr(M)->tail;
	nmport_close(M);
	rxsync(S);
	CHECK(nm_ring_space(rxr(S)) == 5, "slave sees %u of the closed master's frames",
	      nm_ring_space(rxr(S)));
	recv_n(S, 2, &me, 1);
	M = xopen("netmap:ro{1");
	CHECK(txr(M)->head == mhead && txr(M)->tail == mtail,
	      "reopened master TX: head %u tail %u, want %u %u", txr(M)->head, txr(M)->tail,
	      mhead, mtail);
	txsync(M);
	CHECK(nm_ring_space(txr(M)) == N - 1 - 3, "master space after slave released 2: %u",
	      nm_ring_space(txr(M)));
	rxsync(M);
	CHECK(nm_ring_space(rxr(M)) == 6, "master receives %u of 6 sent while it was closed",
	      nm_ring_space(rxr(M)));
	recv_n(M, 6, &se, 1);
	send_n(M, 4, &ms);
	rxsync(S);
	recv_n(S, 7, &me, 1);

	/* --- 5. many close/reopen cycles of either end, in either order,
	 *        with traffic both ways; a new fd may be opened before the old
	 *        one is closed ------------------------------------------------ */
	for (int i = 0; i < 40 && t_failures < 20; i++) {
		unsigned n1 = 1 + (unsigned)(i * 7) % 50, n2 = 1 + (unsigned)(i * 11) % 40;
		send_n(M, n1, &ms);
		send_n(S, n2, &ss);
		const char *which = (i & 1) ? "netmap:ro{1" : "netmap:ro}1";
		struct nmport_d **pp = (i & 1) ? &M : &S;
		struct nmport_d *old = *pp;
		struct netmap_ring *ot = txr(old), *orx = rxr(old);
		uint32_t th = ot->head, tt = ot->tail, rh = orx->head, rt = orx->tail;
		if (i & 2) {		/* reopen first, then close the old fd */
			*pp = xopen(which);
			nmport_close(old);
		} else {		/* close first, then reopen */
			nmport_close(old);
			*pp = xopen(which);
		}
		ot = txr(*pp);
		orx = rxr(*pp);
		CHECK(ot->head == th && ot->tail == tt && orx->head == rh && orx->tail == rt,
		      "cycle %d (%s): state tx %u/%u rx %u/%u, want tx %u/%u rx %u/%u", i, which,
		      ot->head, ot->tail, orx->head, orx->tail, th, tt, rh, rt);
		rxsync(S);
		recv_n(S, n1, &me, 1);
		rxsync(M);
		recv_n(M, n2, &se, 1);
		CHECK(nm_ring_empty(rxr(S)) && nm_ring_empty(rxr(M)), "cycle %d: extra frames", i);
		txsync(M);
		txsync(S);
	}
	CHECK(me == ms && se == ss, "delivered m->s %u/%u s->m %u/%u", me, ms, se, ss);
	CHECK(!nm_tx_pending(txr(M)) && !nm_tx_pending(txr(S)), "all frames consumed");

	/* --- 6. both ends closed: the pipe is gone ------------------------- */
	send_n(M, 3, &ms);	/* left unread on purpose */
	uint16_t mem = M->reg.nr_mem_id;
	CHECK(txr(M)->head != 0 && rxr(M)->head != 0, "state is not trivial");
	struct unetmap_mem_stats st;
	CHECK(unetmap_mem_stats(mem, &st) == 0, "stats of the live region %u", mem);
	nmport_close(M);
	nmport_close(S);
	/* the auto-created parent's region goes with its last pipe */
	CHECK(unetmap_mem_stats(mem, &st) == -EINVAL,
	      "region %u of the closed pipe still exists (users %u)", mem, st.users);
	S = xopen("netmap:ro}1");
	check_fresh(S, "new slave");
	M = xopen("netmap:ro{1");
	check_fresh(M, "new master");
	rxsync(S);
	rxsync(M);
	CHECK(nm_ring_empty(rxr(S)) && nm_ring_empty(rxr(M)),
	      "old frames visible in the new pipe: %u %u", nm_ring_space(rxr(S)),
	      nm_ring_space(rxr(M)));
	me = ms = 0;
	send_n(M, 2, &ms);
	rxsync(S);
	CHECK(nm_ring_space(rxr(S)) == 2, "new pipe works: %u", nm_ring_space(rxr(S)));
	recv_n(S, 2, &me, 1);
	nmport_close(M);
	nmport_close(S);

	/* --- 7. geometry: the existing pipe's wins --------------------------- */
	M = xopen("netmap:rg{1@conf:tx-slots=64,rx-slots=128");
	CHECK(M->reg.nr_tx_slots == 64 && M->reg.nr_rx_slots == 128, "master slots %u/%u",
	      M->reg.nr_tx_slots, M->reg.nr_rx_slots);
	CHECK(txr(M)->num_slots == 64 && rxr(M)->num_slots == 128, "master rings %u/%u",
	      txr(M)->num_slots, rxr(M)->num_slots);
	S = xopen("netmap:rg}1@conf:slots=256");
	CHECK(S->reg.nr_tx_slots == 128 && S->reg.nr_rx_slots == 64,
	      "slave opened with slots=256 got %u/%u, want 128/64 (existing pipe)",
	      S->reg.nr_tx_slots, S->reg.nr_rx_slots);
	CHECK(txr(S)->num_slots == 128 && rxr(S)->num_slots == 64, "slave rings %u/%u",
	      txr(S)->num_slots, rxr(S)->num_slots);
	nmport_close(M);
	M = xopen("netmap:rg{1@conf:slots=512");
	CHECK(M->reg.nr_tx_slots == 64 && M->reg.nr_rx_slots == 128,
	      "master reopened with slots=512 got %u/%u, want 64/128", M->reg.nr_tx_slots,
	      M->reg.nr_rx_slots);
	nmport_close(S);
	S = xopen("netmap:rg}1@conf:rings=2,slots=32");
	CHECK(S->reg.nr_tx_rings == 1 && S->reg.nr_rx_rings == 1 && S->reg.nr_tx_slots == 128,
	      "slave reopened with rings=2: %u/%u rings %u slots", S->reg.nr_tx_rings,
	      S->reg.nr_rx_rings, S->reg.nr_tx_slots);
	/* traffic on the kept geometry */
	ms = me = 0;
	send_n(M, 63, &ms);
	CHECK(nm_ring_space(txr(M)) == 0, "64-slot ring full: space %u", nm_ring_space(txr(M)));
	rxsync(S);
	recv_n(S, 63, &me, 1);
	nmport_close(M);
	nmport_close(S);
	/* gone: a new open gets the geometry it asks for */
	S = xopen("netmap:rg}1@conf:slots=256");
	CHECK(S->reg.nr_tx_slots == 256 && S->reg.nr_rx_slots == 256,
	      "fresh pipe slots %u/%u, want 256", S->reg.nr_tx_slots, S->reg.nr_rx_slots);
	check_fresh(S, "fresh rg slave");
	nmport_close(S);
	return t_done();
}
