/* Description: copy monitors on a netmap pipe (reference §4.5, §1.7): X{1/t
 * sees what the sender pushes at its txsync, X}1/r what the sender's txsync
 * publishes to the receiver before the receiver reads it; /rt both, in
 * order; same len, bytes and flags (a pipe passes the sender's flags, TX
 * copies add NS_TXMON); max(tx, rx) RX rings of the parent's slot count, one
 * TX ring whose txsync is EIO, a region of its own; ring selection; EINVAL
 * for an end nobody registered; several monitors per ring; a monitor that
 * never reads keeps the newest of the batch that overflowed it and never
 * holds the pipe back; rxsync EIO after the end's last descriptor closes;
 * MOREFRAG chains copied slot by slot once complete; copies cut to the
 * monitor's buffer size. */
#include <poll.h>
#include <stdbool.h>
#include <sys/ioctl.h>
#include <libnetmap.h>
#include <unetmap.h>
#include "testlib.h"
#include "nmtest.h"

/* ---- frames ------------------------------------------------------------------ */

/* byte k of frame `tag`: the tag at 14..17, a pattern elsewhere */
static uint8_t fbyte(uint32_t tag, unsigned k)
{
	if (k >= 14 && k < 18)
		return (uint8_t)(tag >> (8 * (k - 14)));
	return (uint8_t)(tag * 29u + k * 11u + (k >> 8) + 3u);
}

static uint32_t fnv(const uint8_t *b, unsigned n)
{
	uint32_t h = 2166136261u;
	for (unsigned i = 0; i < n; i++)
		h = (h ^ b[i]) * 16777619u;
	return h;
}

/* what a slot held: the 32-bit word at byte 14 (UINT32_MAX if shorter),
 * len, flags and a hash of its bytes */
struct rec {
	uint32_t tag;
	uint16_t len, flags;
	uint32_t sum;
};

static void rec_slot(struct rec *r, struct netmap_ring *ring, const struct netmap_slot *s)
{
	const uint8_t *b = (const uint8_t *)NETMAP_BUF(ring, s->buf_idx);
	unsigned n = s->len < ring->nr_buf_size ? s->len : ring->nr_buf_size;
	r->len = s->len;
	r->flags = s->flags;
	r->sum = fnv(b, n);
	r->tag = UINT32_MAX;
	if (n >= 18)
		memcpy(&r->tag, b + 14, sizeof(r->tag));
}

/* Queue slots [from, to) of frame `tag` (len bytes in fragments of frag,
 * NS_MOREFRAG on all but the last; the first gets `fl` too) on TX ring
 * `ring` of d; their records in recs[].  Returns the number of slots
 * queued (REQUIRE there is room). */
static unsigned put_part(struct nmport_d *d, unsigned ring, uint32_t tag, unsigned len,
			 unsigned frag, uint16_t fl, unsigned from, unsigned to, struct rec *recs)
{
	struct netmap_ring *r = NETMAP_TXRING(d->nifp, ring);
	if (frag > r->nr_buf_size)
		frag = r->nr_buf_size;
	unsigned nf = len == 0 ? 1 : (len + frag - 1) / frag;
	if (to > nf)
		to = nf;
	REQUIRE(nm_ring_space(r) >= to - from, "no room for %u slots in TX ring %u of %s",
		to - from, ring, d->hdr.nr_name);
	uint32_t i = r->head;
	for (unsigned f = from; f < to; f++) {
		struct netmap_slot *s = &r->slot[i];
		unsigned off = f * frag;
		unsigned fl_len = len - off < frag ? len - off : frag;
		uint8_t *b = (uint8_t *)NETMAP_BUF(r, s->buf_idx);
		for (unsigned k = 0; k < fl_len; k++)
			b[k] = fbyte(tag, off + k);
		s->len = (uint16_t)fl_len;
		s->flags = (uint16_t)((f + 1 < nf ? NS_MOREFRAG : 0) | (f == 0 ? fl : 0));
		if (recs)
			rec_slot(&recs[f - from], r, s);
		i = nm_ring_next(r, i);
	}
	r->head = r->cur = i;
	return to - from;
}

static unsigned put(struct nmport_d *d, unsigned ring, uint32_t tag, unsigned len, unsigned frag,
		    uint16_t fl, struct rec *recs)
{
	return put_part(d, ring, tag, len, frag, fl, 0, 65535, recs);
}

static void put1(struct nmport_d *d, uint32_t tag, unsigned len, uint16_t fl, struct rec *rec)
{
	put(d, (unsigned)d->first_tx_ring, tag, len, 65535, fl, rec);
}

static void txsync(struct nmport_d *d)
{
	CHECK(ioctl(d->fd, NIOCTXSYNC, NULL) == 0, "txsync %s: %s", d->hdr.nr_name,
	      strerror(errno));
}

/* rxsync d, then record up to max of the slots waiting on its RX ring
 * `ring` (all are counted); release them all (and rxsync) if release */
static int collect(struct nmport_d *d, unsigned ring, struct rec *out, int max, bool release)
{
	CHECK(ioctl(d->fd, NIOCRXSYNC, NULL) == 0, "rxsync %s: %s", d->hdr.nr_name,
	      strerror(errno));
	struct netmap_ring *r = NETMAP_RXRING(d->nifp, ring);
	int n = 0;
	uint32_t i = r->head;
	while (i != r->tail && n < 8192) {
		if (n < max)
			rec_slot(&out[n], r, &r->slot[i]);
		n++;
		i = nm_ring_next(r, i);
	}
	if (release) {
		r->head = r->cur = i;
		ioctl(d->fd, NIOCRXSYNC, NULL);
	}
	return n;
}

static int drain(struct nmport_d *d, unsigned ring)
{
	static struct rec junk[1];
	return collect(d, ring, junk, 0, true);
}

/* the tags of what waits on RX ring `ring` of d (up to max; all counted) */
static int tags_of(struct nmport_d *d, unsigned ring, uint32_t *tags, int max, bool release)
{
	CHECK(ioctl(d->fd, NIOCRXSYNC, NULL) == 0, "rxsync %s: %s", d->hdr.nr_name,
	      strerror(errno));
	struct netmap_ring *r = NETMAP_RXRING(d->nifp, ring);
	int n = 0;
	uint32_t i = r->head;
	while (i != r->tail && n < 8192) {
		if (n < max)
			memcpy(&tags[n], NETMAP_BUF(r, r->slot[i].buf_idx) + 14, sizeof(uint32_t));
		n++;
		i = nm_ring_next(r, i);
	}
	if (release) {
		r->head = r->cur = i;
		ioctl(d->fd, NIOCRXSYNC, NULL);
	}
	return n;
}

enum flmode { FL_SAME, FL_TXMON, FL_IGNORE };

/* the slots got[0..ngot) must be want[0..nwant): same tag, len, bytes, and
 * flags as mode says */
static void expect_recs(const char *what, const struct rec *got, int ngot, const struct rec *want,
			int nwant, enum flmode mode)
{
	CHECK(ngot == nwant, "%s: %d slot(s), want %d", what, ngot, nwant);
	int bad = 0;
	for (int i = 0; i < ngot && i < nwant && bad < 5; i++) {
		const struct rec *g = &got[i], *w = &want[i];
		uint16_t wf = mode == FL_TXMON ? (uint16_t)(w->flags | NS_TXMON) : w->flags;
		bool ok = g->tag == w->tag && g->len == w->len && g->sum == w->sum &&
			  (mode == FL_IGNORE || g->flags == wf);
		if (!ok) {
			bad++;
			CHECK(0, "%s: slot %d: tag %#x len %u flags %#x%s, want tag %#x len %u"
			      " flags %#x", what, i, g->tag, g->len, g->flags,
			      g->sum != w->sum ? " (bytes differ)" : "", w->tag, w->len,
			      mode == FL_IGNORE ? g->flags : wf);
		}
	}
}

static void check_geometry(const char *what, struct nmport_d *m, struct nmport_d *p)
{
	unsigned want = p->reg.nr_tx_rings > p->reg.nr_rx_rings ? p->reg.nr_tx_rings
								 : p->reg.nr_rx_rings;
	CHECK(m->reg.nr_rx_rings == want, "%s: %u RX rings, want %u (parent %u tx, %u rx)", what,
	      m->reg.nr_rx_rings, want, p->reg.nr_tx_rings, p->reg.nr_rx_rings);
	CHECK(m->reg.nr_tx_rings == 1, "%s: %u TX rings, want 1", what, m->reg.nr_tx_rings);
	CHECK(m->reg.nr_rx_slots == p->reg.nr_rx_slots, "%s: %u RX slots, want the parent's %u",
	      what, m->reg.nr_rx_slots, p->reg.nr_rx_slots);
	CHECK(m->reg.nr_mem_id != 0 && m->reg.nr_mem_id != p->reg.nr_mem_id,
	      "%s: nr_mem_id %u, parent's %u (want a region of its own)", what, m->reg.nr_mem_id,
	      p->reg.nr_mem_id);
	CHECK(m->first_rx_ring == 0 && m->last_rx_ring == (int)want - 1,
	      "%s: RX rings %d..%d bound, want 0..%u", what, m->first_rx_ring, m->last_rx_ring,
	      want - 1);
	CHECK(ioctl(m->fd, NIOCRXSYNC, NULL) == 0, "%s: rxsync: %s", what, strerror(errno));
	for (int i = m->first_rx_ring; i <= m->last_rx_ring && i < 64; i++) {
		struct netmap_ring *r = NETMAP_RXRING(m->nifp, i);
		CHECK(r->num_slots == p->reg.nr_rx_slots, "%s: RX ring %d has %u slots, want %u",
		      what, i, r->num_slots, p->reg.nr_rx_slots);
		CHECK(nm_ring_empty(r), "%s: RX ring %d not empty at start", what, i);
	}
}

/* ---- the tests ------------------------------------------------------------- */

static void basic(void)
{
	struct nmport_d *p = t_open("netmap:mp{1"), *q = t_open("netmap:mp}1");
	struct nmport_d *mpt = t_open("netmap:mp{1/t"), *mqr = t_open("netmap:mp}1/r");
	struct nmport_d *mprt = t_open("netmap:mp{1/rt"), *mqrt = t_open("netmap:mp}1/rt");
	check_geometry("mp{1/t", mpt, p);
	check_geometry("mp}1/r", mqr, q);
	check_geometry("mp{1/rt", mprt, p);
	check_geometry("mp}1/rt", mqrt, q);
	CHECK(mpt->reg.nr_mem_id != mqr->reg.nr_mem_id, "two monitors share region %u",
	      mpt->reg.nr_mem_id);

	static struct rec sent[16], got[64], qrx[32], prx[16];
	uint32_t tag = 0x100;
	for (int i = 0; i < 10; i++)
		put1(p, tag++, 60 + 137u * (unsigned)i, i % 3 == 0 ? NS_REPORT : 0, &sent[i]);
	CHECK(collect(mpt, 0, got, 64, false) == 0, "{1/t: frames seen before the txsync");
	CHECK(collect(mqr, 0, got, 64, false) == 0, "}1/r: frames seen before the txsync");
	txsync(p);
	int n = collect(mpt, 0, got, 64, true);
	expect_recs("mp{1/t after the sender's txsync", got, n, sent, 10, FL_TXMON);
	n = collect(mprt, 0, got, 64, true);
	expect_recs("mp{1/rt after the sender's txsync", got, n, sent, 10, FL_TXMON);
	/* the receiver has not synced: published frames are copied already */
	n = collect(mqr, 0, got, 64, true);
	expect_recs("mp}1/r before the receiver read", got, n, sent, 10, FL_SAME);
	n = collect(mqrt, 0, got, 64, true);
	expect_recs("mp}1/rt before the receiver read", got, n, sent, 10, FL_SAME);
	int nq = collect(q, 0, qrx, 32, true);
	expect_recs("mp}1 (receiver)", qrx, nq, sent, 10, FL_SAME);
	CHECK(drain(mpt, 0) == 0 && drain(mqr, 0) == 0, "monitors got frames twice");
	txsync(p);
	CHECK(drain(mpt, 0) == 0 && drain(mprt, 0) == 0, "an empty txsync gave {1/t frames");

	/* the other way: q sends, p receives */
	for (int i = 0; i < 5; i++)
		put1(q, tag++, 80 + (unsigned)i, 0, &sent[i]);
	txsync(q);
	n = collect(mqrt, 0, got, 64, true);
	expect_recs("mp}1/rt: frames mp}1 sent", got, n, sent, 5, FL_TXMON);
	n = collect(mprt, 0, got, 64, true);
	expect_recs("mp{1/rt: frames mp{1 receives", got, n, sent, 5, FL_SAME);
	CHECK(drain(mpt, 0) == 0, "mp{1/t sees frames mp{1 receives");
	CHECK(drain(mqr, 0) == 0, "mp}1/r sees frames mp}1 sends");
	int np = collect(p, 0, prx, 16, true);
	expect_recs("mp{1 (receiver)", prx, np, sent, 5, FL_SAME);

	/* both directions interleaved in event order on /rt */
	uint32_t order[6];
	for (int i = 0; i < 3; i++)
		put1(p, order[i] = tag++, 64, 0, NULL);
	txsync(p);
	for (int i = 3; i < 5; i++)
		put1(q, order[i] = tag++, 64, 0, NULL);
	txsync(q);
	put1(p, order[5] = tag++, 64, 0, NULL);
	txsync(p);
	struct nmport_d *rt[2] = { mprt, mqrt };
	for (int w = 0; w < 2; w++) {
		n = collect(rt[w], 0, got, 64, true);
		CHECK(n == 6, "%s: %d frames after 4 + 2, want 6", w ? "mp}1/rt" : "mp{1/rt", n);
		for (int i = 0; i < n && i < 6; i++) {
			bool from_p = i != 3 && i != 4;
			bool tx = w == 0 ? from_p : !from_p;
			CHECK(got[i].tag == order[i] && !!(got[i].flags & NS_TXMON) == tx,
			      "%s frame %d: tag %#x flags %#x, want tag %#x%s", w ? "mp}1/rt" : "mp{1/rt",
			      i, got[i].tag, got[i].flags, order[i], tx ? " with NS_TXMON" : "");
		}
	}
	drain(p, 0);
	drain(q, 0);
	drain(mpt, 0);
	drain(mqr, 0);
	txsync(p);
	txsync(q);
	nmport_close(mpt);
	nmport_close(mqr);
	nmport_close(mprt);
	nmport_close(mqrt);
	nmport_close(p);
	nmport_close(q);
}

/* poll() on monitors, a sender in another process, monitors in another
 * process */
static void processes(void)
{
	struct nmport_d *p = t_open("netmap:pp{1"), *q = t_open("netmap:pp}1");
	struct nmport_d *mpt = t_open("netmap:pp{1/t"), *mqr = t_open("netmap:pp}1/r");
	struct pollfd pf[2] = { { .fd = mpt->fd, .events = POLLIN },
				{ .fd = mqr->fd, .events = POLLIN } };
	CHECK(poll(pf, 2, 0) == 0, "poll on idle monitors: ready (%x %x)", pf[0].revents,
	      pf[1].revents);
	put1(p, 0x200, 60, 0, NULL);
	txsync(p);
	int r = poll(pf, 2, 1000);
	CHECK(r == 2 && (pf[0].revents & POLLIN) && (pf[1].revents & POLLIN),
	      "poll after a frame: %d (revents %x %x), want both POLLIN", r, pf[0].revents,
	      pf[1].revents);
	CHECK(drain(mpt, 0) == 1 && drain(mqr, 0) == 1 && drain(q, 0) == 1, "one frame each");
	txsync(p);

	pid_t pid = fork();
	REQUIRE(pid >= 0, "fork");
	if (pid == 0) {
		usleep(150 * 1000);
		put1(p, 0x201, 60, 0, NULL);
		struct pollfd cp = { .fd = p->fd, .events = POLLOUT };
		_exit(poll(&cp, 1, 1000) >= 0 ? 0 : 1);		/* implicit txsync */
	}
	int64_t t0 = unm_test_now_ms();
	bool got_t = false, got_r = false;
	for (int k = 0; k < 100 && !(got_t && got_r) && unm_test_now_ms() - t0 < 5000; k++) {
		pf[0].revents = pf[1].revents = 0;
		pf[0].events = got_t ? 0 : POLLIN;
		pf[1].events = got_r ? 0 : POLLIN;
		poll(pf, 2, 5000);
		got_t = got_t || (pf[0].revents & POLLIN);
		got_r = got_r || (pf[1].revents & POLLIN);
	}
	int64_t dt = unm_test_now_ms() - t0;
	CHECK(got_t && got_r, "monitors asleep in poll: {1/t %s, }1/r %s after %lld ms",
	      got_t ? "woken" : "NOT woken", got_r ? "woken" : "NOT woken", (long long)dt);
	CHECK(dt < 3000, "woken after %lld ms", (long long)dt);
	int st = 0;
	waitpid(pid, &st, 0);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "sender child failed (%#x)", st);
	struct rec got[8];
	int n = collect(mpt, 0, got, 8, true);
	CHECK(n == 1 && got[0].tag == 0x201 && got[0].flags == NS_TXMON,
	      "{1/t after the child's poll: %d frame(s), tag %#x flags %#x", n, n ? got[0].tag : 0,
	      n ? got[0].flags : 0);
	n = collect(mqr, 0, got, 8, true);
	CHECK(n == 1 && got[0].tag == 0x201 && got[0].flags == 0,
	      "}1/r after the child's poll: %d frame(s)", n);
	drain(q, 0);
	txsync(p);

	/* monitors opened by another process after both ends */
	int ready[2];
	REQUIRE(pipe(ready) == 0, "pipe");
	pid = fork();
	REQUIRE(pid >= 0, "fork");
	if (pid == 0) {
		close(ready[0]);
		struct nmport_d *m1 = nmport_open("netmap:pp{1/t"), *m2 = nmport_open("netmap:pp}1/r");
		char c = m1 && m2 ? 'r' : 'e';
		if (write(ready[1], &c, 1) != 1 || c == 'e')
			_exit(2);
		uint32_t t1[32], t2[32], tmp[32];
		int n1 = 0, n2 = 0;
		int64_t c0 = unm_test_now_ms();
		for (int k = 0; k < 1000 && (n1 < 20 || n2 < 20) && unm_test_now_ms() - c0 < 5000;
		     k++) {
			struct pollfd cp[2] = { { .fd = m1->fd, .events = POLLIN },
						{ .fd = m2->fd, .events = POLLIN } };
			poll(cp, 2, 100);
			int k1 = tags_of(m1, 0, tmp, 32, true);
			for (int j = 0; j < k1 && n1 + j < 32; j++)
				t1[n1 + j] = tmp[j];
			n1 += k1;
			int k2 = tags_of(m2, 0, tmp, 32, true);
			for (int j = 0; j < k2 && n2 + j < 32; j++)
				t2[n2 + j] = tmp[j];
			n2 += k2;
		}
		CHECK(n1 == 20 && n2 == 20, "monitors in another process got %d ({1/t) and %d"
		      " (}1/r) frames, want 20", n1, n2);
		for (int j = 0; j < 20 && j < n1 && j < n2; j++)
			CHECK(t1[j] == 0x300u + (unsigned)j && t2[j] == 0x300u + (unsigned)j,
			      "other process, frame %d: tags %#x / %#x", j, t1[j], t2[j]);
		_exit(t_failures ? 1 : 0);
	}
	close(ready[1]);
	char c = 0;
	CHECK(read(ready[0], &c, 1) == 1 && c == 'r', "child could not open the monitors");
	close(ready[0]);
	if (c == 'r') {
		for (uint32_t j = 0; j < 20; j++) {
			put1(p, 0x300 + j, 60 + j, 0, NULL);
			if (j == 6 || j == 19)
				txsync(p);
		}
		CHECK(drain(q, 0) == 20, "the receiver did not get the 20 frames");
	}
	st = 0;
	waitpid(pid, &st, 0);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "monitoring child failed (status %#x)", st);
	nmport_close(mpt);
	nmport_close(mqr);
	nmport_close(p);
	nmport_close(q);
}

/* monitor ring i <- ring i of the end; ring selection */
static void rings(void)
{
	struct nmport_d *p = t_open("netmap:rp{1@conf:rings=3"), *q = t_open("netmap:rp}1");
	REQUIRE(p->reg.nr_tx_rings == 3 && q->reg.nr_rx_rings == 3, "pipe with %u/%u rings",
		p->reg.nr_tx_rings, q->reg.nr_rx_rings);
	struct nmport_d *mpt = t_open("netmap:rp{1/t"), *mqr = t_open("netmap:rp}1/r");
	struct nmport_d *mp2 = t_open("netmap:rp{1-2/t"), *mq2 = t_open("netmap:rp}1-2/r");
	check_geometry("rp{1/t", mpt, p);
	check_geometry("rp}1/r", mqr, q);
	CHECK(mp2->reg.nr_rx_rings == 3, "rp{1-2/t: %u RX rings, want 3", mp2->reg.nr_rx_rings);
	CHECK(mp2->first_rx_ring == 2 && mp2->last_rx_ring == 2,
	      "rp{1-2/t binds RX rings %d..%d, want 2..2", mp2->first_rx_ring, mp2->last_rx_ring);
	CHECK(mq2->first_rx_ring == 2 && mq2->last_rx_ring == 2,
	      "rp}1-2/r binds RX rings %d..%d, want 2..2", mq2->first_rx_ring, mq2->last_rx_ring);
	for (unsigned ring = 0; ring < 3; ring++) {
		uint32_t tag = 0x400 + ring;
		put(p, ring, tag, 60, 65535, 0, NULL);
		txsync(p);
		struct nmport_d *m[2] = { mpt, mqr };
		for (int w = 0; w < 2; w++)
			for (unsigned ri = 0; ri < 3; ri++) {
				uint32_t tags[4];
				int n = tags_of(m[w], ri, tags, 4, true);
				int want = ri == ring;
				CHECK(n == want && (!want || tags[0] == tag),
				      "frame on ring %u: %s ring %u has %d frame(s), want %d", ring,
				      w ? "rp}1/r" : "rp{1/t", ri, n, want);
			}
		uint32_t tags[4];
		int n = tags_of(mp2, 2, tags, 4, true);
		CHECK(n == (ring == 2), "frame on ring %u: rp{1-2/t has %d frame(s)", ring, n);
		n = tags_of(mq2, 2, tags, 4, true);
		CHECK(n == (ring == 2), "frame on ring %u: rp}1-2/r has %d frame(s)", ring, n);
		CHECK(drain(q, ring) == 1, "receiver ring %u", ring);
		txsync(p);
	}
	nmport_close(mp2);
	nmport_close(mq2);
	nmport_close(mpt);
	nmport_close(mqr);
	nmport_close(p);
	nmport_close(q);
}

static void errors(void)
{
	struct nmport_d *p = t_open("netmap:ep{1"), *q = t_open("netmap:ep}1");
	const char *specs[] = { "netmap:ep{1/t", "netmap:ep{1/r", "netmap:ep}1/rt" };
	for (int i = 0; i < 3; i++) {
		struct nmport_d *m = t_open(specs[i]);
		errno = 0;
		int r = ioctl(m->fd, NIOCTXSYNC, NULL);
		int e = errno;
		CHECK(r == -1 && e == EIO, "%s: NIOCTXSYNC: %d/%s, want -1/EIO", specs[i], r,
		      strerror(e));
		CHECK(ioctl(m->fd, NIOCRXSYNC, NULL) == 0, "%s: rxsync: %s", specs[i],
		      strerror(errno));
		nmport_close(m);
	}
	nmport_close(q);
	/* the other end of a pipe whose master is open is not in netmap mode */
	t_open_fails("netmap:ep}1/r", EINVAL);
	t_open_fails("netmap:ep}1/t", EINVAL);
	struct nmport_d *m = t_open("netmap:ep{1/rt");
	nmport_close(m);
	nmport_close(p);
	t_open_fails("netmap:ep{1/t", EINVAL);
	t_open_fails("netmap:nope{1/t", EINVAL);
	t_open_fails("netmap:nope}1/r", EINVAL);
	t_open_fails("netmap:nope{1-0/rt", EINVAL);
	errno = 0;
	int fd = t_reg_raw("nope{1", NR_REG_ALL_NIC, 0, NR_MONITOR_TX);
	int e = errno;
	CHECK(fd == -1 && e == EINVAL, "raw REGISTER nope{1 NR_MONITOR_TX: %d/%s, want -1/EINVAL",
	      fd, strerror(e));
	if (fd >= 0)
		close(fd);
	/* the failed monitor opens created nothing: the pipe is new */
	p = t_open("netmap:nope}1");
	t_open_fails("netmap:nope{1/t", EINVAL);
	nmport_close(p);
}

static void several(void)
{
	struct nmport_d *p = t_open("netmap:sp{1"), *q = t_open("netmap:sp}1");
	struct nmport_d *m[5] = { t_open("netmap:sp{1/t"), t_open("netmap:sp{1/t"),
				  t_open("netmap:sp{1/rt"), t_open("netmap:sp}1/r"),
				  t_open("netmap:sp}1/r") };
	const char *mname[5] = { "{1/t #1", "{1/t #2", "{1/rt", "}1/r #1", "}1/r #2" };
	static struct rec sent[64], got[64];
	uint32_t tag = 0x600;
	int ns = 0;
	for (int batch = 0; batch < 2; batch++) {
		int k = batch == 0 ? 7 : 33;
		for (int i = 0; i < k; i++, ns++)
			put1(p, tag++, 60 + (unsigned)ns * 13, 0, &sent[ns]);
		txsync(p);
	}
	for (int i = 0; i < 5; i++) {
		int n = collect(m[i], 0, got, 64, true);
		expect_recs(mname[i], got, n, sent, ns, i < 3 ? FL_TXMON : FL_SAME);
	}
	CHECK(drain(q, 0) == ns, "receiver");
	txsync(p);
	nmport_close(m[0]);
	nmport_close(m[3]);
	for (int i = 0; i < 10; i++)
		put1(p, tag++, 100, 0, &sent[i]);
	txsync(p);
	for (int i = 0; i < 5; i++) {
		if (i == 0 || i == 3)
			continue;
		int n = collect(m[i], 0, got, 64, true);
		expect_recs(mname[i], got, n, sent, 10, i < 3 ? FL_TXMON : FL_SAME);
	}
	for (int i = 0; i < 5; i++)
		if (i != 0 && i != 3)
			nmport_close(m[i]);
	nmport_close(p);
	nmport_close(q);
}

/* monitors that never read: the pipe runs as before; each keeps what
 * fitted, of a batch that did not fit the newest frames */
static void lazy(void)
{
	struct nmport_d *p = t_open("netmap:lp{1"), *q = t_open("netmap:lp}1");
	struct nmport_d *lt = t_open("netmap:lp{1/t"), *lr = t_open("netmap:lp}1/r");
	struct nmport_d *act = t_open("netmap:lp}1/r");	/* one that reads */
	const unsigned cap = NETMAP_RXRING(lt->nifp, 0)->num_slots - 1;
	REQUIRE(cap >= 200 && cap < 8192, "monitor ring of %u slots", cap + 1);
	struct netmap_ring *ptx = NETMAP_TXRING(p->nifp, 0);
	REQUIRE(nm_ring_space(ptx) >= cap - 23, "sender ring too small");
	const unsigned batches[] = { cap - 23, 100, cap / 2, cap / 2, cap / 2, cap / 2, cap / 2 };
	const unsigned nbatch = sizeof(batches) / sizeof(batches[0]);
	static uint32_t model[8192], tags[8192];
	unsigned held = 0;
	uint32_t tag = 0;
	int64_t t0 = unm_test_now_ms();
	for (unsigned bi = 0; bi < nbatch; bi++) {
		unsigned k = batches[bi];
		uint32_t first = tag;
		REQUIRE(nm_ring_space(ptx) >= k, "batch %u: sender ring has room for %u of %u", bi,
			nm_ring_space(ptx), k);
		for (unsigned i = 0; i < k; i++)
			put1(p, tag++, 60, 0, NULL);
		txsync(p);
		unsigned room = cap - held, keep = k < room ? k : room;
		for (unsigned i = 0; i < keep; i++)
			model[held++] = first + (k - keep) + i;
		int n = tags_of(q, 0, tags, 8192, true);
		CHECK(n == (int)k, "batch %u: the receiver got %d of %u", bi, n, k);
		n = tags_of(act, 0, tags, 8192, true);
		CHECK(n == (int)k, "batch %u: the reading }1/r got %d of %u", bi, n, k);
		for (int i = 0; i < n && i < (int)k; i++)
			if (tags[i] != first + (uint32_t)i) {
				CHECK(0, "batch %u: reading }1/r frame %d has tag %u, want %u", bi, i,
				      tags[i], first + (uint32_t)i);
				break;
			}
		txsync(p);	/* take back what the receiver released */
		CHECK(nm_ring_space(ptx) == ptx->num_slots - 1, "batch %u: sender ring not free"
		      " (%u of %u) with a monitor that does not read", bi, nm_ring_space(ptx),
		      ptx->num_slots - 1);
	}
	int64_t dt = unm_test_now_ms() - t0;
	CHECK(dt < 5000, "%u frames next to full monitors took %lld ms", tag, (long long)dt);
	struct nmport_d *lm[2] = { lt, lr };
	const char *ln[2] = { "{1/t that never read", "}1/r that never read" };
	for (int w = 0; w < 2; w++) {
		int n = tags_of(lm[w], 0, tags, 8192, false);
		CHECK(n == (int)held, "%s: holds %d frames, want %u (full)", ln[w], n, held);
		int bad = 0;
		for (int i = 0; i < n && i < (int)held && bad < 5; i++)
			if (tags[i] != model[i]) {
				bad++;
				CHECK(0, "%s: slot %d has tag %u, want %u (frames 0..%u, then the newest %u"
				      " of the %u-frame batch that overflowed it; later ones dropped)", ln[w],
				      i, tags[i], model[i], batches[0] - 1, cap - batches[0], batches[1]);
			}
		if (n > 0 && held > 0)
			CHECK(tags[n - 1] == model[held - 1], "%s: last slot tag %u, want %u", ln[w],
			      tags[n - 1], model[held - 1]);
		struct netmap_ring *r = NETMAP_RXRING(lm[w]->nifp, 0);
		r->head = r->cur = r->tail;
		CHECK(ioctl(lm[w]->fd, NIOCRXSYNC, NULL) == 0, "rxsync");
	}
	for (int i = 0; i < 10; i++)
		put1(p, tag + (uint32_t)i, 60, 0, NULL);
	txsync(p);
	for (int w = 0; w < 2; w++) {
		int n = tags_of(lm[w], 0, tags, 16, true);
		CHECK(n == 10 && tags[0] == tag && tags[9] == tag + 9,
		      "%s, after releasing: %d frames (%u..%u), want 10 (%u..%u)", ln[w], n,
		      n ? tags[0] : 0, n ? tags[n < 16 ? n - 1 : 15] : 0, tag, tag + 9);
	}
	nmport_close(lt);
	nmport_close(lr);
	nmport_close(act);
	nmport_close(p);
	nmport_close(q);
}

/* an end's last descriptor closes: its monitors' rxsync is EIO */
static void parent_gone(void)
{
	struct nmport_d *p = t_open("netmap:gp{1"), *q = t_open("netmap:gp}1");
	struct nmport_d *mpt = t_open("netmap:gp{1/t"), *mqr = t_open("netmap:gp}1/r");
	int dupfd = dup(p->fd);
	REQUIRE(dupfd >= 0, "dup");
	nmport_close(p);
	/* the registration lives on in the duplicate */
	CHECK(ioctl(mpt->fd, NIOCRXSYNC, NULL) == 0, "gp{1/t rxsync while a dup of gp{1 is open:"
	      " %s", strerror(errno));
	close(dupfd);
	CHECK_ERRNO(ioctl(mpt->fd, NIOCRXSYNC, NULL), EIO);
	CHECK_ERRNO(ioctl(mpt->fd, NIOCRXSYNC, NULL), EIO);
	CHECK(ioctl(mqr->fd, NIOCRXSYNC, NULL) == 0, "gp}1/r rxsync with gp}1 still open: %s",
	      strerror(errno));
	nmport_close(q);
	CHECK_ERRNO(ioctl(mqr->fd, NIOCRXSYNC, NULL), EIO);
	/* the same names again are another pipe; the old monitors stay dead */
	p = t_open("netmap:gp{1");
	q = t_open("netmap:gp}1");
	put1(p, 0x700, 60, 0, NULL);
	txsync(p);
	CHECK(drain(q, 0) == 1, "new pipe");
	CHECK_ERRNO(ioctl(mpt->fd, NIOCRXSYNC, NULL), EIO);
	CHECK_ERRNO(ioctl(mqr->fd, NIOCRXSYNC, NULL), EIO);
	nmport_close(mpt);
	nmport_close(mqr);
	nmport_close(p);
	nmport_close(q);
}

/* MOREFRAG chains: copied slot by slot with their flags, once complete */
static void multislot(void)
{
	struct nmport_d *p = t_open("netmap:fp{1"), *q = t_open("netmap:fp}1");
	struct nmport_d *mpt = t_open("netmap:fp{1/t"), *mqr = t_open("netmap:fp}1/r");
	REQUIRE(NETMAP_TXRING(p->nifp, 0)->nr_buf_size == 2048 &&
		NETMAP_RXRING(mpt->nifp, 0)->nr_buf_size == 2048,
		"buffers %u / %u, want 2048", NETMAP_TXRING(p->nifp, 0)->nr_buf_size,
		NETMAP_RXRING(mpt->nifp, 0)->nr_buf_size);
	static struct rec sent[512], got[512], qrx[512];
	uint32_t tag = 0x800;
	int ns = (int)put(p, 0, tag++, 5000, 2048, 0, sent);
	REQUIRE(ns == 3, "5000 bytes in %d slots", ns);
	txsync(p);
	int n = collect(mpt, 0, got, 512, true);
	expect_recs("fp{1/t, 5000-byte frame", got, n, sent, 3, FL_TXMON);
	const uint16_t wt[3] = { NS_MOREFRAG | NS_TXMON, NS_MOREFRAG | NS_TXMON, NS_TXMON };
	for (int i = 0; i < n && i < 3; i++)
		CHECK(got[i].flags == wt[i], "fp{1/t slot %d: flags %#x, want %#x", i, got[i].flags,
		      wt[i]);
	n = collect(mqr, 0, got, 512, true);
	expect_recs("fp}1/r, 5000-byte frame", got, n, sent, 3, FL_SAME);
	CHECK(drain(q, 0) == 3, "receiver");
	txsync(p);

	/* a chain pushed in two txsyncs: the receiver side sees it when it
	 * is published (complete); the sender side gets each slot once */
	ns = (int)put_part(p, 0, tag, 5000, 2048, 0, 0, 2, sent);
	txsync(p);
	int early = collect(mpt, 0, got, 512, true);
	CHECK(early == 0 || early == 2, "fp{1/t: %d slots of a chain pushed up to its 2nd slot",
	      early);
	if (early == 2)
		expect_recs("fp{1/t, first 2 slots of a chain", got, early, sent, 2, FL_TXMON);
	CHECK(collect(mqr, 0, got, 512, true) == 0, "fp}1/r: slots of an unpublished chain");
	CHECK(drain(q, 0) == 0, "the receiver got slots of an incomplete chain");
	ns += (int)put_part(p, 0, tag, 5000, 2048, 0, 2, 3, sent + 2);
	tag++;
	txsync(p);
	n = collect(mpt, 0, got, 512, true);
	expect_recs("fp{1/t, rest of the chain", got, n, sent + early, ns - early, FL_TXMON);
	n = collect(mqr, 0, got, 512, true);
	expect_recs("fp}1/r, the chain once complete", got, n, sent, ns, FL_SAME);
	CHECK(drain(q, 0) == 3, "receiver, completed chain");
	txsync(p);

	unsigned lcg = 4242;
	for (int round = 0; round < 60 && t_failures < 20; round++) {
		ns = 0;
		for (int k = 0; k < 6; k++) {
			lcg = lcg * 1103515245u + 12345u;
			unsigned len = 60 + (lcg >> 8) % 9941;
			unsigned frag = (lcg >> 4) % 4 == 0 ? 700 : 2048;
			ns += (int)put(p, 0, tag++, len, frag, (lcg >> 20) % 5 == 0 ? NS_REPORT : 0,
				       &sent[ns]);
		}
		txsync(p);
		char what[64];
		n = collect(mpt, 0, got, 512, true);
		snprintf(what, sizeof(what), "fp{1/t, chains round %d", round);
		expect_recs(what, got, n, sent, ns, FL_TXMON);
		n = collect(mqr, 0, got, 512, true);
		snprintf(what, sizeof(what), "fp}1/r, chains round %d", round);
		expect_recs(what, got, n, sent, ns, FL_SAME);
		int nq = collect(q, 0, qrx, 512, true);
		snprintf(what, sizeof(what), "receiver, chains round %d", round);
		expect_recs(what, qrx, nq, sent, ns, FL_SAME);
		txsync(p);
	}
	nmport_close(mpt);
	nmport_close(mqr);
	nmport_close(p);
	nmport_close(q);
}

/* copies cut to the monitor's buffer size (monitors made with
 * UNETMAP_BUF_SIZE=1024) */
static void truncation(void)
{
	struct nmport_d *p = t_open("netmap:tp{1"), *q = t_open("netmap:tp}1");
	setenv("UNETMAP_BUF_SIZE", "1024", 1);
	struct nmport_d *mpt = t_open("netmap:tp{1/t"), *mqr = t_open("netmap:tp}1/r");
	unsetenv("UNETMAP_BUF_SIZE");
	unsigned mbs = NETMAP_RXRING(mpt->nifp, 0)->nr_buf_size;
	if (mbs >= 2048 || NETMAP_RXRING(mqr->nifp, 0)->nr_buf_size != mbs) {
		fprintf(stderr, "note: monitors with UNETMAP_BUF_SIZE=1024 have %u-byte buffers:"
			" truncation not tested\n", mbs);
	} else {
		const unsigned lens[] = { 60, mbs, mbs + 1, 1500, 2048, 5000 };
		struct { uint32_t tag; unsigned off, len; uint16_t flags; } want[16];
		int nw = 0;
		for (unsigned i = 0; i < 6; i++) {
			struct rec r[4];
			unsigned nf = put(p, 0, 0x900 + i, lens[i], 2048, 0, r);
			for (unsigned f = 0; f < nf && nw < 16; f++, nw++) {
				want[nw].tag = 0x900 + i;
				want[nw].off = f * 2048;
				want[nw].len = r[f].len;
				want[nw].flags = r[f].flags;
			}
		}
		txsync(p);
		struct nmport_d *m[2] = { mpt, mqr };
		for (int w = 0; w < 2; w++) {
			CHECK(ioctl(m[w]->fd, NIOCRXSYNC, NULL) == 0, "rxsync");
			struct netmap_ring *r = NETMAP_RXRING(m[w]->nifp, 0);
			int n = (int)nm_ring_space(r);
			CHECK(n == nw, "%s with %u-byte buffers: %d slots, want %d",
			      w ? "}1/r" : "{1/t", mbs, n, nw);
			uint32_t i = r->head;
			for (int k = 0; k < n && k < nw; k++, i = nm_ring_next(r, i)) {
				struct netmap_slot *s = &r->slot[i];
				unsigned wl = want[k].len < mbs ? want[k].len : mbs;
				uint16_t wf = (uint16_t)(want[k].flags | (w == 0 ? NS_TXMON : 0));
				CHECK(s->len == wl && s->flags == wf, "%s slot %d (tag %#x, %u bytes): len %u"
				      " flags %#x, want %u %#x", w ? "}1/r" : "{1/t", k, want[k].tag,
				      want[k].len, s->len, s->flags, wl, wf);
				const uint8_t *buf = (const uint8_t *)NETMAP_BUF(r, s->buf_idx);
				unsigned bad = 0;
				for (unsigned j = 0; j < wl && j < s->len; j++)
					bad += buf[j] != fbyte(want[k].tag, want[k].off + j);
				CHECK(bad == 0, "%s slot %d: %u bytes differ", w ? "}1/r" : "{1/t", k, bad);
			}
			r->head = r->cur = r->tail;
			ioctl(m[w]->fd, NIOCRXSYNC, NULL);
		}
		CHECK(drain(q, 0) == nw, "the receiver did not get the %d slots", nw);
	}
	nmport_close(mpt);
	nmport_close(mqr);
	nmport_close(p);
	nmport_close(q);
}

int main(void)
{
	t_setup(120);
	basic();
	processes();
	rings();
	errors();
	several();
	lazy();
	parent_gone();
	multislot();
	truncation();
	return t_done();
}
