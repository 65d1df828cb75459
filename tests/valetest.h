/* Helpers shared by the VALE tests (include after testlib.h; includes
 * nmtest.h): counters, control requests, and two kinds of test frames. */
#ifndef UNETMAP_VALETEST_H
#define UNETMAP_VALETEST_H
#include <stdbool.h>
#include <unetmap.h>
#include "nmtest.h"

static const uint8_t vt_bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };

/* MAC address number `id`: 02:00:00 and the low 24 bits of id */
static inline void vt_mac(uint8_t *m, uint32_t id)
{
	m[0] = 0x02;
	m[1] = 0;
	m[2] = 0;
	m[3] = (uint8_t)(id >> 16);
	m[4] = (uint8_t)(id >> 8);
	m[5] = (uint8_t)id;
}

/* ---- counters ---------------------------------------------------------------- */

/* the counters of port `name` ("valeS:P") in *out: 0, or <0 with *out
 * zeroed if its switch does not list it (the switch's unetmap_vale_stats()
 * error, else -ENOENT) */
static inline int vt_port_stats(const char *name, struct unetmap_vale_port_stats *out)
{
	static struct unetmap_vale_port_stats st[UNETMAP_VALE_MAXPORTS];
	int n = unetmap_vale_stats(name, st, UNETMAP_VALE_MAXPORTS);
	for (int i = 0; i < n && i < UNETMAP_VALE_MAXPORTS; i++)
		if (strcmp(st[i].name, name) == 0) {
			*out = st[i];
			return 0;
		}
	memset(out, 0, sizeof(*out));
	return n < 0 ? n : -ENOENT;
}

/* the counters of port `name`, which must be listed (zeros if not) */
static inline struct unetmap_vale_port_stats vt_pstats(const char *name)
{
	struct unetmap_vale_port_stats st;
	int r = vt_port_stats(name, &st);
	CHECK(r == 0, "no stats for %s (%s)", name, strerror(-r));
	return st;
}

static inline int vt_nswitches(void)
{
	char names[UNETMAP_VALE_MAXSWITCHES + 8][16];
	return unetmap_vale_switches(names, UNETMAP_VALE_MAXSWITCHES + 8);
}

/* ---- control requests (t_ctl); each returns 0 or -1/errno ------------------ */

/* NEWIF: `io` is the body (the geometry asked for, and the reply), NULL
 * for all defaults */
static inline int vt_newif(const char *name, struct nmreq_vale_newif *io)
{
	struct nmreq_vale_newif b;
	if (io == NULL) {
		memset(&b, 0, sizeof(b));
		io = &b;
	}
	return t_ctl(NETMAP_REQ_VALE_NEWIF, name, io);
}

static inline int vt_delif(const char *name)
{
	return t_ctl(NETMAP_REQ_VALE_DELIF, name, NULL);
}

/* ATTACH "valeS:IF" (all rings); *idx gets the port index written back */
static inline int vt_attach(const char *name, uint32_t *idx)
{
	struct nmreq_vale_attach b;
	memset(&b, 0, sizeof(b));
	b.reg.nr_mode = NR_REG_ALL_NIC;
	b.port_index = 0xdeadbeef;
	int r = t_ctl(NETMAP_REQ_VALE_ATTACH, name, &b);
	if (idx)
		*idx = b.port_index;
	return r;
}

static inline int vt_detach(const char *name, uint32_t *idx)
{
	struct nmreq_vale_detach b;
	memset(&b, 0, sizeof(b));
	b.port_index = 0xdeadbeef;
	int r = t_ctl(NETMAP_REQ_VALE_DETACH, name, &b);
	if (idx)
		*idx = b.port_index;
	return r;
}

/* LIST by name: the switch and port index written back */
static inline int vt_list(const char *name, uint16_t *sw, uint32_t *port)
{
	struct nmreq_vale_list b;
	memset(&b, 0, sizeof(b));
	b.nr_port_idx = 0xdeadbeef;
	int r = t_ctl(NETMAP_REQ_VALE_LIST, name, &b);
	if (sw)
		*sw = b.nr_bridge_idx;
	if (port)
		*port = b.nr_port_idx;
	return r;
}

/* one step of the LIST enumeration: the first port at or after the
 * position in *b (written back), its name in name[NETMAP_REQ_IFNAMSIZ] */
static inline int vt_list_at(struct nmreq_vale_list *b, char *name)
{
	struct nmreq_header h;
	t_hdr_init(&h, NETMAP_REQ_VALE_LIST, "", b);
	int r = t_nm_ioctl(NIOCCTRL, &h);
	memcpy(name, h.nr_name, sizeof(h.nr_name));
	return r;
}

/* count name in seen[] if it is one of want[0..n-1]; false if it is none */
static inline bool vt_tally(const char *name, const char *const *want, int n, int *seen)
{
	bool hit = false;
	for (int j = 0; j < n; j++)
		if (strcmp(name, want[j]) == 0) {
			seen[j]++;
			hit = true;
		}
	return hit;
}

/* ---- tagged frames: dst, source vt_mac(srcid), a 32-bit tag at 14 ---------- */

/* queue one such frame of len bytes (zeros elsewhere; as much of it as fits
 * a buffer) on TX ring `ring` of d, without syncing */
static inline void vt_queue(struct nmport_d *d, unsigned ring, const uint8_t *dst, uint32_t srcid,
			    uint32_t tag, unsigned len)
{
	struct netmap_ring *r = NETMAP_TXRING(d->nifp, ring);
	REQUIRE(!nm_ring_empty(r), "no room in tx ring %u of %s", ring, d->hdr.nr_name);
	struct netmap_slot *s = &r->slot[r->head];
	uint8_t *b = (uint8_t *)NETMAP_BUF(r, s->buf_idx);
	unsigned w = len < r->nr_buf_size ? len : r->nr_buf_size;
	memset(b, 0, w);
	if (w >= 12) {
		memcpy(b, dst, 6);
		vt_mac(b + 6, srcid);
	}
	if (w >= 18)
		memcpy(b + 14, &tag, sizeof(tag));
	s->len = (uint16_t)len;
	s->flags = 0;
	r->head = r->cur = nm_ring_next(r, r->head);
}

static inline void vt_txsync(struct nmport_d *d)
{
	CHECK(ioctl(d->fd, NIOCTXSYNC, NULL) == 0, "txsync %s: %s", d->hdr.nr_name,
	      strerror(errno));
}

/* txsync; every TX ring of d must be free afterwards (a VALE sender never
 * waits for its destinations) */
static inline void vt_txsync_free(struct nmport_d *d, const char *what)
{
	vt_txsync(d);
	for (int i = d->first_tx_ring; i <= d->last_tx_ring; i++) {
		struct netmap_ring *r = NETMAP_TXRING(d->nifp, i);
		CHECK(nm_ring_space(r) == r->num_slots - 1 && !nm_tx_pending(r),
		      "%s: TX ring %d of %s not free after txsync: head %u tail %u", what, i,
		      d->hdr.nr_name, r->head, r->tail);
	}
}

/* vt_queue() on the first TX ring, then txsync */
static inline void vt_send(struct nmport_d *d, const uint8_t *dst, uint32_t srcid, uint32_t tag,
			   unsigned len)
{
	vt_queue(d, d->first_tx_ring, dst, srcid, tag, len);
	vt_txsync(d);
}

/* rxsync and count the frames waiting on RX ring `ring` of d; the tags of
 * the first max in tags[] (UINT32_MAX for a frame too short for one);
 * with release, hand them all back (and rxsync) */
static inline int vt_recv(struct nmport_d *d, unsigned ring, uint32_t *tags, int max,
			  bool release)
{
	CHECK(ioctl(d->fd, NIOCRXSYNC, NULL) == 0, "rxsync %s: %s", d->hdr.nr_name,
	      strerror(errno));
	struct netmap_ring *r = NETMAP_RXRING(d->nifp, ring);
	int n = 0;
	uint32_t i = r->head;
	while (i != r->tail && n < 8192) {
		struct netmap_slot *s = &r->slot[i];
		if (n < max) {
			tags[n] = UINT32_MAX;
			if (s->len >= 18)
				memcpy(&tags[n], NETMAP_BUF(r, s->buf_idx) + 14, sizeof(uint32_t));
		}
		n++;
		i = nm_ring_next(r, i);
	}
	if (release) {
		r->head = r->cur = i;
		ioctl(d->fd, NIOCRXSYNC, NULL);
	}
	return n;
}

/* ---- numbered frames: dst, source vt_mac(srcid), ethertype 0x88b5, sender
 * id at 14, sequence number at 18, then vt_pat() bytes; with lenfield, bytes
 * 22-23 hold the frame's length instead ------------------------------------- */

static inline uint8_t vt_pat(uint32_t id, uint32_t seq, unsigned k)
{
	return (uint8_t)((seq * 2654435761u + id * 40503u + k * 97u) >> 11);
}

/* put frame (id, seq) of len bytes (at least 24) at the head of TX ring r;
 * 0 if there is no room */
static inline int vt_seq_queue(struct netmap_ring *r, const uint8_t *dst, uint32_t srcid,
			       uint32_t id, uint32_t seq, unsigned len, bool lenfield)
{
	if (nm_ring_empty(r))
		return 0;
	struct netmap_slot *s = &r->slot[r->head];
	uint8_t *b = (uint8_t *)NETMAP_BUF(r, s->buf_idx);
	memcpy(b, dst, 6);
	vt_mac(b + 6, srcid);
	b[12] = 0x88;
	b[13] = 0xb5;
	memcpy(b + 14, &id, 4);
	memcpy(b + 18, &seq, 4);
	for (unsigned k = 22; k < len; k++)
		b[k] = vt_pat(id, seq, k);
	if (lenfield) {
		uint16_t l16 = (uint16_t)len;
		memcpy(b + 22, &l16, 2);
	}
	s->len = (uint16_t)len;
	s->flags = 0;
	r->head = r->cur = nm_ring_next(r, r->head);
	return 1;
}

/* whether what follows the sequence number in frame (id, seq) of len bytes
 * is as vt_seq_queue() wrote it */
static inline bool vt_seq_body_ok(const uint8_t *b, unsigned len, uint32_t id, uint32_t seq,
				  bool lenfield)
{
	unsigned k = 22;
	if (lenfield) {
		uint16_t l16;
		memcpy(&l16, b + 22, 2);
		if (l16 != len)
			return false;
		k = 24;
	}
	for (; k < len; k++)
		if (b[k] != vt_pat(id, seq, k))
			return false;
	return true;
}

/* The many-senders tests: sender i sends frames (i, 0..) of vt_seq_len()
 * bytes from vt_mac(VT_ID_SEND + i) to the receiver's vt_mac(VT_ID_R). */
#define VT_ID_R		0x9901u
#define VT_ID_SEND	0x8800u
#define VT_MAXSEND	16
static const uint8_t vt_mac_r[6] = { 0x02, 0, 0, 0, 0x99, 0x01 };	/* vt_mac(VT_ID_R) */

static inline unsigned vt_seq_len(uint32_t id, uint32_t seq)
{
	return 60 + (seq * 37u + id * 101u) % (1514 - 60 + 1);
}

/* open the receiver (spec) and have its switch learn vt_mac_r: a broadcast
 * from it while a helper port (helper) is there to hear it */
static inline struct nmport_d *vt_seq_receiver(const char *spec, const char *helper)
{
	struct nmport_d *rx = t_open(spec);
	struct nmport_d *h = t_open(helper);
	vt_send(rx, vt_bcast, VT_ID_R, 0, 60);
	nmport_close(h);
	return rx;
}

/* sender id queues up to n frames on r, from *seq on and below nframes;
 * how many */
static inline unsigned vt_seq_burst(struct netmap_ring *r, uint32_t id, uint32_t *seq,
				    uint32_t nframes, unsigned n, bool lenfield)
{
	unsigned k = 0;
	while (k < n && *seq < nframes &&
	       vt_seq_queue(r, vt_mac_r, VT_ID_SEND + id, id, *seq, vt_seq_len(id, *seq),
			    lenfield)) {
		(*seq)++;
		k++;
	}
	return k;
}

/* the receiver's account of them */
struct vt_seqrx {
	uint32_t nsend, nframes;	/* senders, frames per sender */
	bool lenfield;
	uint64_t received[VT_MAXSEND];
	int64_t last[VT_MAXSEND];	/* last sequence number, per sender */
	unsigned bad;			/* bad frames (the first 10 are reported) */
};

static inline void vt_seqrx_init(struct vt_seqrx *x, uint32_t nsend, uint32_t nframes,
				 bool lenfield)
{
	REQUIRE(nsend <= VT_MAXSEND, "%u senders", nsend);
	memset(x, 0, sizeof(*x));
	x->nsend = nsend;
	x->nframes = nframes;
	x->lenfield = lenfield;
	for (int i = 0; i < VT_MAXSEND; i++)
		x->last[i] = -1;
}

/* check one received frame: not corrupted, not duplicated or reordered */
static inline void vt_seqrx_slot(struct vt_seqrx *x, const struct netmap_slot *s,
				 const uint8_t *b)
{
	uint32_t id, seq;
	if (s->len < (x->lenfield ? 24 : 22)) {
		if (x->bad++ < 10)
			CHECK(0, "frame of %u bytes", s->len);
		return;
	}
	memcpy(&id, b + 14, 4);
	memcpy(&seq, b + 18, 4);
	if (id >= x->nsend || seq >= x->nframes) {
		if (x->bad++ < 10)
			CHECK(0, "frame with sender %u seq %u", id, seq);
		return;
	}
	uint8_t src[6];
	vt_mac(src, VT_ID_SEND + id);
	bool bad = memcmp(b, vt_mac_r, 6) != 0 || memcmp(b + 6, src, 6) != 0 ||
		   s->len != vt_seq_len(id, seq) ||
		   !vt_seq_body_ok(b, s->len, id, seq, x->lenfield);
	if (bad && x->bad++ < 10)
		CHECK(0, "sender %u seq %u: corrupted (len %u, want %u)", id, seq, s->len,
		      vt_seq_len(id, seq));
	if ((int64_t)seq <= x->last[id] && x->bad++ < 10)
		CHECK(0, "sender %u: seq %u after %lld (duplicate or reordered)", id, seq,
		      (long long)x->last[id]);
	x->last[id] = seq;
	x->received[id]++;
}

/* check and release every frame on RX ring r (no sync); how many */
static inline uint64_t vt_seqrx_drain(struct vt_seqrx *x, struct netmap_ring *r)
{
	uint64_t n = 0;
	while (!nm_ring_empty(r)) {
		struct netmap_slot *s = &r->slot[r->head];
		vt_seqrx_slot(x, s, (const uint8_t *)NETMAP_BUF(r, s->buf_idx));
		r->head = r->cur = nm_ring_next(r, r->head);
		n++;
	}
	return n;
}
#endif
