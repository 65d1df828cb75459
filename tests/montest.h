/* Helpers shared by the copy-monitor tests (include after testlib.h;
 * includes valetest.h): patterned test frames queued as MOREFRAG chains,
 * records of the slots a port or monitor holds, their comparison, and the
 * geometry every copy monitor has. */
#ifndef UNETMAP_MONTEST_H
#define UNETMAP_MONTEST_H
#include <poll.h>
#include <stdbool.h>
#include <sys/ioctl.h>
#include <libnetmap.h>
#include "valetest.h"

/* ---- frames ------------------------------------------------------------------ */

/* byte k of frame `tag`: hdr[k] for the first 14 (with a 14-byte hdr; with
 * hdr NULL the pattern there too), the tag at 14..17, a pattern elsewhere */
static inline uint8_t mt_fbyte(const uint8_t *hdr, uint32_t tag, unsigned k)
{
	if (hdr != NULL && k < 14)
		return hdr[k];
	if (k >= 14 && k < 18)
		return (uint8_t)(tag >> (8 * (k - 14)));
	return (uint8_t)(tag * 29u + k * 11u + (k >> 8) + 3u);
}

static inline uint32_t mt_fnv(const uint8_t *b, unsigned n)
{
	uint32_t h = 2166136261u;
	for (unsigned i = 0; i < n; i++)
		h = (h ^ b[i]) * 16777619u;
	return h;
}

/* how the flags of a copy must compare to the reference */
enum mt_flmode { FL_SAME, FL_TXMON, FL_IGNORE };

/* what a slot held: the 32-bit word at byte 14 (UINT32_MAX if shorter),
 * len, flags and a hash of its bytes */
struct mt_rec {
	uint32_t tag;
	uint16_t len, flags;
	uint32_t sum;
};

static inline void mt_rec_slot(struct mt_rec *r, struct netmap_ring *ring,
			       const struct netmap_slot *s)
{
	const uint8_t *b = (const uint8_t *)NETMAP_BUF(ring, s->buf_idx);
	unsigned n = s->len < ring->nr_buf_size ? s->len : ring->nr_buf_size;
	r->len = s->len;
	r->flags = s->flags;
	r->sum = mt_fnv(b, n);
	r->tag = UINT32_MAX;
	if (n >= 18)
		memcpy(&r->tag, b + 14, sizeof(r->tag));
}

/* Queue slots [from, to) of frame `tag` (mt_fbyte(hdr, tag, ...); len bytes
 * in fragments of frag, NS_MOREFRAG on all but the last; the first gets `fl`
 * too) on TX ring `ring` of d; their records in recs[].  Returns the number
 * of slots queued (REQUIRE there is room). */
static inline unsigned mt_put_part(struct nmport_d *d, unsigned ring, const uint8_t *hdr,
				   uint32_t tag, unsigned len, unsigned frag, uint16_t fl,
				   unsigned from, unsigned to, struct mt_rec *recs)
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
			b[k] = mt_fbyte(hdr, tag, off + k);
		s->len = (uint16_t)fl_len;
		s->flags = (uint16_t)((f + 1 < nf ? NS_MOREFRAG : 0) | (f == 0 ? fl : 0));
		if (recs)
			mt_rec_slot(&recs[f - from], r, s);
		i = nm_ring_next(r, i);
	}
	r->head = r->cur = i;
	return to - from;
}

/* the whole frame: all its slots */
static inline unsigned mt_put(struct nmport_d *d, unsigned ring, const uint8_t *hdr, uint32_t tag,
			      unsigned len, unsigned frag, uint16_t fl, struct mt_rec *recs)
{
	return mt_put_part(d, ring, hdr, tag, len, frag, fl, 0, 65535, recs);
}

/* the MOREFRAG tests want 2048-byte buffers in sender d and its monitor m */
static inline void mt_require_2048(struct nmport_d *d, struct nmport_d *m)
{
	REQUIRE(NETMAP_TXRING(d->nifp, 0)->nr_buf_size == 2048 &&
		NETMAP_RXRING(m->nifp, 0)->nr_buf_size == 2048,
		"buffers %u (%s) / %u (%s), want 2048", NETMAP_TXRING(d->nifp, 0)->nr_buf_size,
		d->hdr.nr_name, NETMAP_RXRING(m->nifp, 0)->nr_buf_size, m->hdr.nr_name);
}

/* six frames of pseudo-random lengths (60 .. 10000, in slots of 700 or 2048
 * bytes, some with NS_REPORT) on TX ring 0 of d, tags from *tag on; the
 * records of their slots in sent[]; how many slots */
static inline int mt_put_chains(struct nmport_d *d, const uint8_t *hdr, unsigned *lcg,
				uint32_t *tag, struct mt_rec *sent)
{
	int ns = 0;
	for (int k = 0; k < 6; k++) {
		*lcg = *lcg * 1103515245u + 12345u;
		unsigned len = 60 + (*lcg >> 8) % 9941;
		unsigned frag = (*lcg >> 4) % 4 == 0 ? 700 : 2048;
		ns += (int)mt_put(d, 0, hdr, (*tag)++, len, frag,
				  (*lcg >> 20) % 5 == 0 ? NS_REPORT : 0, &sent[ns]);
	}
	return ns;
}

/* The truncation frames 0x900 + i, of 60, mbs, mbs + 1, 1500, 2048 and 5000
 * bytes in 2048-byte slots, on TX ring 0 of d; what each slot holds in
 * want[] (16 at most); how many slots. */
struct mt_cut {
	uint32_t tag;
	unsigned off, len;
	uint16_t flags;
};

static inline int mt_cut_queue(struct nmport_d *d, const uint8_t *hdr, unsigned mbs,
			       struct mt_cut want[16])
{
	const unsigned lens[] = { 60, mbs, mbs + 1, 1500, 2048, 5000 };
	int nw = 0;
	for (unsigned i = 0; i < 6; i++) {
		struct mt_rec r[4];
		unsigned nf = mt_put(d, 0, hdr, 0x900 + i, lens[i], 2048, 0, r);
		for (unsigned f = 0; f < nf && nw < 16; f++, nw++) {
			want[nw].tag = 0x900 + i;
			want[nw].off = f * 2048;
			want[nw].len = r[f].len;
			want[nw].flags = r[f].flags;
		}
	}
	return nw;
}

/* monitors s1 and s2 made with UNETMAP_BUF_SIZE=1024, in *m1 and *m2; their
 * buffer size, 0 (with a note) if they did not get smaller buffers than
 * 2048 bytes, both the same */
static inline unsigned mt_open_cut(const char *s1, const char *s2, struct nmport_d **m1,
				   struct nmport_d **m2)
{
	setenv("UNETMAP_BUF_SIZE", "1024", 1);
	*m1 = t_open(s1);
	*m2 = t_open(s2);
	unsetenv("UNETMAP_BUF_SIZE");
	unsigned mbs = NETMAP_RXRING((*m1)->nifp, 0)->nr_buf_size;
	unsigned mbs2 = NETMAP_RXRING((*m2)->nifp, 0)->nr_buf_size;
	if (mbs < 2048 && mbs2 == mbs)
		return mbs;
	fprintf(stderr, "note: monitors with UNETMAP_BUF_SIZE=1024 have %u/%u-byte buffers:"
		" truncation not tested\n", mbs, mbs2);
	return 0;
}

/* monitor m (what) with mbs-byte buffers holds want[0..nw) on RX ring 0,
 * each cut to mbs bytes, the flags as mode says; then released */
static inline void mt_cut_check(const char *what, struct nmport_d *m, const uint8_t *hdr,
				unsigned mbs, const struct mt_cut *want, int nw,
				enum mt_flmode mode)
{
	CHECK(ioctl(m->fd, NIOCRXSYNC, NULL) == 0, "rxsync");
	struct netmap_ring *r = NETMAP_RXRING(m->nifp, 0);
	int n = (int)nm_ring_space(r);
	CHECK(n == nw, "%s with %u-byte buffers: %d slots, want %d", what, mbs, n, nw);
	uint32_t i = r->head;
	for (int k = 0; k < n && k < nw; k++, i = nm_ring_next(r, i)) {
		struct netmap_slot *s = &r->slot[i];
		unsigned wl = want[k].len < mbs ? want[k].len : mbs;
		uint16_t wf = (uint16_t)(want[k].flags | (mode == FL_TXMON ? NS_TXMON : 0));
		CHECK(s->len == wl && (mode == FL_IGNORE || s->flags == wf),
		      "%s slot %d (tag %#x, %u bytes): len %u flags %#x, want %u %#x%s", what, k,
		      want[k].tag, want[k].len, s->len, s->flags, wl, wf,
		      mode == FL_IGNORE ? " (flags not checked)" : "");
		const uint8_t *buf = (const uint8_t *)NETMAP_BUF(r, s->buf_idx);
		unsigned bad = 0;
		for (unsigned j = 0; j < wl && j < s->len; j++)
			bad += buf[j] != mt_fbyte(hdr, want[k].tag, want[k].off + j);
		CHECK(bad == 0, "%s slot %d: %u bytes differ", what, k, bad);
	}
	r->head = r->cur = r->tail;
	ioctl(m->fd, NIOCRXSYNC, NULL);
}

/* ---- what a port or monitor holds ------------------------------------------ */

/* rxsync d, then record up to max of the slots waiting on its RX ring
 * `ring` (all are counted); release them all (and rxsync) if release */
static inline int mt_collect(struct nmport_d *d, unsigned ring, struct mt_rec *out, int max,
			     bool release)
{
	int n = vt_recv(d, ring, NULL, 0, false);
	struct netmap_ring *r = NETMAP_RXRING(d->nifp, ring);
	uint32_t i = r->head;
	for (int k = 0; k < n; k++, i = nm_ring_next(r, i))
		if (k < max)
			mt_rec_slot(&out[k], r, &r->slot[i]);
	if (release) {
		r->head = r->cur = i;
		ioctl(d->fd, NIOCRXSYNC, NULL);
	}
	return n;
}

/* rxsync, count what waits on RX ring `ring` of d and release it */
static inline int mt_drain(struct nmport_d *d, unsigned ring)
{
	static struct mt_rec junk[1];
	return mt_collect(d, ring, junk, 0, true);
}

/* the slots got[0..ngot) must be want[0..nwant): same tag, len, bytes, and
 * flags as mode says */
static inline void mt_expect_recs(const char *what, const struct mt_rec *got, int ngot,
				  const struct mt_rec *want, int nwant, enum mt_flmode mode)
{
	CHECK(ngot == nwant, "%s: %d slot(s), want %d", what, ngot, nwant);
	int bad = 0;
	for (int i = 0; i < ngot && i < nwant && bad < 5; i++) {
		const struct mt_rec *g = &got[i], *w = &want[i];
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

/* ---- monitors ---------------------------------------------------------------- */

/* geometry of monitor m of parent p: max(tx, rx) RX rings of the parent's
 * RX slot count, all bound and empty, one TX ring, a region of its own */
static inline void mt_check_geometry(const char *what, struct nmport_d *m, struct nmport_d *p)
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
		CHECK(nm_ring_empty(r), "%s: RX ring %d not empty at start (%u slots)", what, i,
		      nm_ring_space(r));
	}
}
/* txsync on monitor spec is EIO, rxsync works */
static inline void mt_check_tx_eio(const char *spec)
{
	struct nmport_d *m = t_open(spec);
	errno = 0;
	int r = ioctl(m->fd, NIOCTXSYNC, NULL);
	int e = errno;
	CHECK(r == -1 && e == EIO, "%s: NIOCTXSYNC: %d/%s, want -1/EIO", spec, r, strerror(e));
	CHECK(ioctl(m->fd, NIOCRXSYNC, NULL) == 0, "%s: rxsync: %s", spec, strerror(errno));
	nmport_close(m);
}

/* pf[] for POLLIN on monitors m1 and m2, which must not be ready yet */
static inline void mt_poll_idle(struct pollfd pf[2], struct nmport_d *m1, struct nmport_d *m2)
{
	pf[0] = (struct pollfd){ .fd = m1->fd, .events = POLLIN };
	pf[1] = (struct pollfd){ .fd = m2->fd, .events = POLLIN };
	CHECK(poll(pf, 2, 0) == 0, "poll on idle monitors: ready (%x %x)", pf[0].revents,
	      pf[1].revents);
}

/* after a frame: both ready within a second */
static inline void mt_poll_ready(struct pollfd pf[2])
{
	int r = poll(pf, 2, 1000);
	CHECK(r == 2 && (pf[0].revents & POLLIN) && (pf[1].revents & POLLIN),
	      "poll after a frame: %d (revents %x %x), want both POLLIN", r, pf[0].revents,
	      pf[1].revents);
}

/* child `pid` (what) must exit with 0 */
static inline void mt_wait_child(pid_t pid, const char *what)
{
	int st = 0;
	waitpid(pid, &st, 0);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "%s failed (status %#x)", what, st);
}

/* the monitors of pf[] (n1, n2), asleep in poll(), must both be woken (by
 * the sender child `pid`) within 3 s; then the child must exit with 0 */
static inline void mt_poll_woken(struct pollfd pf[2], const char *n1, const char *n2, pid_t pid)
{
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
	CHECK(got_t && got_r, "monitors asleep in poll: %s %s, %s %s after %lld ms", n1,
	      got_t ? "woken" : "NOT woken", n2, got_r ? "woken" : "NOT woken", (long long)dt);
	CHECK(dt < 3000, "woken after %lld ms", (long long)dt);
	mt_wait_child(pid, "sender child");
}

/* what a child that monitors gathered: up to 32 slots of each monitor */
typedef void mt_gathered_fn(int n1, const struct mt_rec *g1, int n2, const struct mt_rec *g2);

/* Fork a child that opens monitors s1 and s2 (of ports this process has
 * open), says whether it could, then gathers what each gets (until 20 each,
 * 5 s at most), has check() judge it and exits with 1 if anything failed.
 * Its pid in *pid; whether it opened them (checked). */
static inline bool mt_fork_gatherer(const char *s1, const char *s2, mt_gathered_fn *check,
				    pid_t *pid)
{
	int ready[2];
	REQUIRE(pipe(ready) == 0, "pipe");
	*pid = fork();
	REQUIRE(*pid >= 0, "fork");
	if (*pid == 0) {
		close(ready[0]);
		struct nmport_d *m1 = nmport_open(s1), *m2 = nmport_open(s2);
		char c = m1 && m2 ? 'r' : 'e';
		if (write(ready[1], &c, 1) != 1 || c == 'e')
			_exit(2);
		struct mt_rec g1[32], g2[32], tmp[32];
		int n1 = 0, n2 = 0;
		int64_t c0 = unm_test_now_ms();
		for (int k = 0; k < 1000 && (n1 < 20 || n2 < 20) && unm_test_now_ms() - c0 < 5000;
		     k++) {
			struct pollfd cp[2] = { { .fd = m1->fd, .events = POLLIN },
						{ .fd = m2->fd, .events = POLLIN } };
			poll(cp, 2, 100);
			int k1 = mt_collect(m1, 0, tmp, 32, true);
			for (int j = 0; j < k1 && n1 + j < 32; j++)
				g1[n1 + j] = tmp[j];
			n1 += k1;
			int k2 = mt_collect(m2, 0, tmp, 32, true);
			for (int j = 0; j < k2 && n2 + j < 32; j++)
				g2[n2 + j] = tmp[j];
			n2 += k2;
		}
		check(n1, g1, n2, g2);
		_exit(t_failures ? 1 : 0);
	}
	close(ready[1]);
	char c = 0;
	CHECK(read(ready[0], &c, 1) == 1 && c == 'r', "child could not open the monitors");
	close(ready[0]);
	return c == 'r';
}

/* batch bi of k frames, tags from first on: m (what) got them all (and, if
 * ordered, in order); released */
static inline void mt_check_batch(const char *what, unsigned bi, struct nmport_d *m,
				  uint32_t first, unsigned k, bool ordered)
{
	static uint32_t tags[8192];
	int n = vt_recv(m, 0, tags, 8192, true);
	CHECK(n == (int)k, "batch %u: %s got %d of %u frames", bi, what, n, k);
	for (int i = 0; ordered && i < n && i < (int)k; i++)
		if (tags[i] != first + (uint32_t)i) {
			CHECK(0, "batch %u: %s frame %d has tag %u, want %u", bi, what, i, tags[i],
			      first + (uint32_t)i);
			break;
		}
}

/* monitor m (what), which never read, holds model[0..held): frames 0..b0-1,
 * then the newest cap - b0 of the b1-frame batch that overflowed it; it is
 * released after */
static inline void mt_check_held(const char *what, struct nmport_d *m, const uint32_t *model,
				 unsigned held, unsigned cap, unsigned b0, unsigned b1)
{
	static uint32_t tags[8192];
	int n = vt_recv(m, 0, tags, 8192, false);
	CHECK(n == (int)held, "%s: holds %d frames, want %u (full)", what, n, held);
	int bad = 0;
	for (int i = 0; i < n && i < (int)held && bad < 5; i++)
		if (tags[i] != model[i]) {
			bad++;
			CHECK(0, "%s: slot %d has tag %u, want %u (frames 0..%u, then the newest %u"
			      " of the %u-frame batch that overflowed it; later ones dropped)", what,
			      i, tags[i], model[i], b0 - 1, cap - b0, b1);
		}
	if (n > 0 && held > 0)
		CHECK(tags[n - 1] == model[held - 1], "%s: last slot tag %u, want %u", what,
		      tags[n - 1], model[held - 1]);
	struct netmap_ring *r = NETMAP_RXRING(m->nifp, 0);
	r->head = r->cur = r->tail;
	CHECK(ioctl(m->fd, NIOCRXSYNC, NULL) == 0, "rxsync");
}

/* released, m (what) gets the 10 new frames tag..tag + 9 */
static inline void mt_check_ten(const char *what, struct nmport_d *m, uint32_t tag)
{
	uint32_t tags[16];
	int n = vt_recv(m, 0, tags, 16, true);
	CHECK(n == 10 && tags[0] == tag && tags[9] == tag + 9,
	      "%s, after releasing: %d frames (%u..%u), want 10 (%u..%u)", what, n,
	      n ? tags[0] : 0, n ? tags[n < 16 ? n - 1 : 15] : 0, tag, tag + 9);
}
#endif
