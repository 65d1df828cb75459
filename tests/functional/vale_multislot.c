/* Description: VALE multi-slot frames (reference §4.3): NS_MOREFRAG chains
 * of 100..10000 bytes over 2048-byte buffers cross the switch intact, slot
 * for slot, with destination flags (nslots << 8) | NS_MOREFRAG on all but
 * the last slot ((nslots << 8) on the last); chains wrap around ring ends;
 * a chain that does not fit the destination is dropped whole. */
#include <stdbool.h>
#include <sys/ioctl.h>
#include <libnetmap.h>
#include <unetmap.h>
#include "testlib.h"
#include "valetest.h"

static unsigned bufsize;

static uint8_t pat(uint32_t id, unsigned k)
{
	return (uint8_t)(k * 31u + id * 7u + (k >> 8) + 1u);
}

/* byte k of frame id (the header: broadcast, a source MAC, the id) */
static uint8_t frame_byte(uint32_t id, unsigned k)
{
	static const uint8_t hdr[12] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
					 0x02, 0, 0, 0, 0x66, 0x01 };
	if (k < 12)
		return hdr[k];
	if (k < 14)
		return k == 12 ? 0x88 : 0xb5;
	if (k < 18)
		return (uint8_t)(id >> (8 * (k - 14)));
	return pat(id, k);
}

/* Put frame `id` of `len` bytes on r as fragments of at most `frag`
 * bytes; returns the number of slots, 0 if it does not fit. */
static unsigned put_frame(struct netmap_ring *r, uint32_t id, unsigned len, unsigned frag)
{
	unsigned nf = (len + frag - 1) / frag;
	if (nm_ring_space(r) < nf)
		return 0;
	uint32_t i = r->head;
	for (unsigned f = 0, off = 0; f < nf; f++) {
		struct netmap_slot *s = &r->slot[i];
		unsigned fl = len - off < frag ? len - off : frag;
		uint8_t *b = (uint8_t *)NETMAP_BUF(r, s->buf_idx);
		for (unsigned k = 0; k < fl; k++)
			b[k] = frame_byte(id, off + k);
		s->len = (uint16_t)fl;
		s->flags = f + 1 < nf ? NS_MOREFRAG : 0;
		off += fl;
		i = nm_ring_next(r, i);
	}
	r->head = r->cur = i;
	return nf;
}

/* Check and consume frame id (len bytes, sent in fragments of `frag`)
 * at the head of r.  Returns false if the ring ended early. */
static bool get_frame(struct netmap_ring *r, uint32_t id, unsigned len, unsigned frag,
		      const char *what)
{
	unsigned nf = (len + frag - 1) / frag, off = 0, bad = 0;
	uint32_t i = r->head;
	for (unsigned f = 0; f < nf; f++) {
		if (i == r->tail) {
			CHECK(0, "%s: frame %u (len %u): ring ends after %u of %u slots", what, id,
			      len, f, nf);
			r->head = r->cur = i;
			return false;
		}
		struct netmap_slot *s = &r->slot[i];
		unsigned want = len - off < frag ? len - off : frag;
		uint16_t wflags = (uint16_t)((nf << 8) | (f + 1 < nf ? NS_MOREFRAG : 0));
		CHECK(s->len == want, "%s: frame %u (len %u) slot %u of %u: len %u, want %u", what,
		      id, len, f, nf, s->len, want);
		CHECK(s->flags == wflags, "%s: frame %u (len %u) slot %u of %u: flags %#x, want %#x",
		      what, id, len, f, nf, s->flags, wflags);
		const uint8_t *b = (const uint8_t *)NETMAP_BUF(r, s->buf_idx);
		unsigned n = s->len < want ? s->len : want;
		for (unsigned k = 0; k < n; k++)
			if (b[k] != frame_byte(id, off + k) && bad++ < 3)
				CHECK(0, "%s: frame %u (len %u) byte %u: %#x, want %#x", what, id, len,
				      off + k, b[k], frame_byte(id, off + k));
		off += want;
		i = nm_ring_next(r, i);
	}
	r->head = r->cur = i;
	return true;
}

static void txsync(struct nmport_d *d)
{
	vt_txsync_free(d, "multi-slot frames");
}

static void rxsync(struct nmport_d *d)
{
	CHECK(ioctl(d->fd, NIOCRXSYNC, NULL) == 0, "rxsync: %s", strerror(errno));
}

static const unsigned sizes[] = { 100, 1000, 2047, 2048, 2049, 4095, 4096, 4097,
				  6000, 6144, 8000, 9000, 9999, 10000 };
#define NSIZES (sizeof(sizes) / sizeof(sizes[0]))

static void run(const char *sname, const char *rname, int rounds)
{
	struct nmport_d *a = t_open(sname), *b = t_open(rname);
	struct netmap_ring *t = NETMAP_TXRING(a->nifp, 0), *r = NETMAP_RXRING(b->nifp, 0);
	bufsize = t->nr_buf_size;
	REQUIRE(bufsize == 2048 && r->nr_buf_size == 2048, "buffers %u/%u, want 2048", bufsize,
		r->nr_buf_size);
	uint32_t id = 1;

	/* one frame per sync */
	for (unsigned z = 0; z < NSIZES; z++) {
		unsigned nf = put_frame(t, id, sizes[z], bufsize);
		REQUIRE(nf > 0, "no room for %u", sizes[z]);
		txsync(a);
		rxsync(b);
		CHECK(nm_ring_space(r) == nf, "%s len %u: receiver sees %u slots, want %u", rname,
		      sizes[z], nm_ring_space(r), nf);
		get_frame(r, id, sizes[z], bufsize, "single");
		rxsync(b);
		id++;
	}

	/* all sizes in as few syncs as the rings allow */
	for (unsigned z = 0; z < NSIZES; ) {
		unsigned first = z, slots = 0;
		uint32_t id0 = id;
		unsigned room = r->num_slots - 1;	/* the receiver ring is empty */
		while (z < NSIZES) {
			unsigned nf = (sizes[z] + bufsize - 1) / bufsize;
			if (slots + nf > room || nm_ring_space(t) < nf)
				break;
			put_frame(t, id++, sizes[z++], bufsize);
			slots += nf;
		}
		REQUIRE(z > first, "no room for a batch");
		txsync(a);
		rxsync(b);
		CHECK(nm_ring_space(r) == slots, "batch: receiver sees %u slots, want %u",
		      nm_ring_space(r), slots);
		for (unsigned q = first; q < z; q++)
			if (!get_frame(r, id0 + (q - first), sizes[q], bufsize, "batch"))
				break;
		rxsync(b);
	}

	/* the source's own fragmentation is kept slot for slot */
	const unsigned frags[] = { 14, 60, 700, 1500, 2000 };
	for (unsigned q = 0; q < 5; q++) {
		unsigned len = frags[q] * 4 + 3;
		if ((len + frags[q] - 1) / frags[q] >= r->num_slots)
			continue;
		REQUIRE(put_frame(t, id, len, frags[q]) > 0, "no room");
		txsync(a);
		rxsync(b);
		get_frame(r, id, len, frags[q], "fragments kept");
		rxsync(b);
		id++;
	}

	/* many rounds: chains wrap around the ends of both rings */
	unsigned lcg = 12345;
	for (int round = 0; round < rounds && t_failures < 20; round++) {
		unsigned cnt = 0, lens[16], slots = 0;
		uint32_t id0 = id;
		while (cnt < 16) {
			lcg = lcg * 1103515245u + 12345u;
			unsigned len = 100 + (lcg >> 8) % 9901;	/* 100 .. 10000 */
			unsigned nf = (len + bufsize - 1) / bufsize;
			if (slots + nf > r->num_slots - 1 || nm_ring_space(t) < nf)
				break;
			put_frame(t, id++, len, bufsize);
			lens[cnt++] = len;
			slots += nf;
			if ((lcg >> 4) % 3 == 0)
				break;
		}
		REQUIRE(cnt > 0, "round %d: no room", round);
		txsync(a);
		rxsync(b);
		CHECK(nm_ring_space(r) == slots, "round %d: %u slots, want %u", round,
		      nm_ring_space(r), slots);
		for (unsigned q = 0; q < cnt; q++)
			if (!get_frame(r, id0 + q, lens[q], bufsize, "wrap"))
				break;
		CHECK(nm_ring_empty(r), "round %d: %u extra slots", round, nm_ring_space(r));
		r->head = r->cur = r->tail;
		rxsync(b);
	}
	char pname[64];
	snprintf(pname, sizeof(pname), "%s", sname);
	pname[strcspn(pname, "@")] = '\0';	/* the port name, without options */
	struct unetmap_vale_port_stats st = vt_pstats(pname);
	CHECK(st.drop_full == 0 && st.drop_closed == 0 && st.drop_malformed == 0,
	      "%s: drops %llu/%llu/%llu", pname, (unsigned long long)st.drop_full,
	      (unsigned long long)st.drop_closed, (unsigned long long)st.drop_malformed);
	nmport_close(a);
	nmport_close(b);
}

/* a receiver that does not read: chains that do not fit are dropped
 * whole, the ring holds only complete chains */
static void no_room(void)
{
	struct nmport_d *a = t_open("vale1:a@conf:slots=64");
	struct nmport_d *b = t_open("vale1:b@conf:slots=64");
	struct netmap_ring *t = NETMAP_TXRING(a->nifp, 0), *r = NETMAP_RXRING(b->nifp, 0);
	unsigned sent = 0;
	uint32_t id = 1000;
	for (int k = 0; k < 20; k++) {	/* 20 frames of 5 slots into 63 free slots */
		REQUIRE(put_frame(t, id++, 10000, bufsize) == 5, "no room");
		txsync(a);
		sent++;
	}
	/* and one 1-slot frame still fits in the 3 slots left */
	REQUIRE(put_frame(t, id++, 100, bufsize) == 1, "no room");
	txsync(a);
	sent++;
	rxsync(b);
	CHECK(nm_ring_space(r) == 12 * 5 + 1, "receiver holds %u slots, want 61 (12 chains of 5 "
	      "and one single slot)", nm_ring_space(r));
	for (uint32_t q = 0; q < 12; q++)
		if (!get_frame(r, 1000 + q, 10000, bufsize, "no room"))
			break;
	if (!nm_ring_empty(r))
		get_frame(r, 1020, 100, bufsize, "single after drops");
	CHECK(nm_ring_empty(r), "%u slots left", nm_ring_space(r));
	rxsync(b);
	struct unetmap_vale_port_stats sa = vt_pstats("vale1:a"), sb = vt_pstats("vale1:b");
	CHECK(sb.rx_frames == 13, "receiver rx_frames %llu, want 13",
	      (unsigned long long)sb.rx_frames);
	CHECK(sa.drop_full == 8, "sender drop_full %llu, want 8 frames",
	      (unsigned long long)sa.drop_full);
	CHECK(sa.tx_frames == sent, "sender tx_frames %llu, want %u",
	      (unsigned long long)sa.tx_frames, sent);
	nmport_close(a);
	nmport_close(b);
}

/* a chain still open at head (its last slot has NS_MOREFRAG) is
 * forwarded truncated at the sync, as netmap does: the slots up to head
 * arrive as one frame whose last slot has no NS_MOREFRAG */
static void open_chain(void)
{
	struct nmport_d *a = t_open("vale2:a");
	struct nmport_d *b = t_open("vale2:b");
	struct netmap_ring *t = NETMAP_TXRING(a->nifp, 0), *r = NETMAP_RXRING(b->nifp, 0);
	for (unsigned k = 0; k < 2; k++) {
		struct netmap_slot *s = &t->slot[t->head];
		uint8_t *buf = (uint8_t *)NETMAP_BUF(t, s->buf_idx);
		memset(buf, 0xff, 6);
		memset(buf + 6, 0x02, 6);
		buf[12] = 0x88;
		buf[13] = 0xb5;
		s->len = 100;
		s->flags = NS_MOREFRAG;		/* never closed */
		t->head = t->cur = nm_ring_next(t, t->head);
	}
	txsync(a);
	rxsync(b);
	CHECK(nm_ring_space(r) == 2, "open chain: %u slots arrived, want 2", nm_ring_space(r));
	if (nm_ring_space(r) == 2) {
		struct netmap_slot *s0 = &r->slot[r->head], *s1 = &r->slot[nm_ring_next(r, r->head)];
		CHECK(s0->flags == (2u << 8 | NS_MOREFRAG) && s1->flags == 2u << 8 &&
		      s0->len == 100 && s1->len == 100, "open chain flags %#x %#x lens %u %u",
		      s0->flags, s1->flags, s0->len, s1->len);
	}
	nmport_close(a);
	nmport_close(b);
}

int main(void)
{
	t_setup(60);
	unsetenv("UNETMAP_BUF_SIZE");	/* our private regions: default 2048-byte buffers */
	run("vale0:a", "vale0:b", 200);
	run("vale0:c@conf:slots=64", "vale0:d@conf:slots=32", 300);
	run("vale0:e@conf:slots=16", "vale0:f@conf:slots=64", 300);
	no_room();
	open_chain();
	return t_done();
}
