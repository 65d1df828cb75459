/* Description: VALE ports with different virtio-net header lengths
 * (reference §4.3, §4.7), end to end.  A port with PORT_HDR_SET 10 (and
 * one with 12), registered with NR_ACCEPT_VNET_HDR, sends 64 KB GSO frames
 * (TCPv4, TCPv6, UDP over IPv4 and IPv6, TCPv4 with an 802.1Q tag) as
 * NS_MOREFRAG chains of 2048-byte slots to a port without a header, which
 * receives one-slot segments of at most 1514 bytes with correct IPv4
 * length/id/checksum, IPv6 payload length, TCP seq/flags, UDP length and L4
 * checksums, reassembling to the payload sent (tests/vnettest.h checks
 * them with its own parser); a NEEDS_CSUM frame arrives with its checksum
 * completed; frames with an invalid header are dropped and counted in the
 * sender's drop_malformed; a GSO frame that does not fit the receiver's
 * ring is dropped whole (drop_full); a port without a header sending to a
 * port with one delivers frames behind a zeroed 10-byte header (spanning
 * slots when needed); 10 <-> 12 ports convert the header without
 * segmenting; equal header lengths copy chains as they are; a receiver
 * whose slots carry a 600-byte data offset gets segments that fit what is
 * left of its buffers. */
#include <stdbool.h>
#include <sys/ioctl.h>
#include <libnetmap.h>
#include <unetmap.h>
#include "testlib.h"
#include "valetest.h"
#include "vnettest.h"

#define FMAX (70 * 1024)
static uint8_t frame[FMAX], got[FMAX];

/* open port `name` with a virtio-net header of hdr bytes: it has to exist
 * for PORT_HDR_SET, so a first registration holds it meanwhile */
static struct nmport_d *open_hdr(const char *name, uint32_t hdr)
{
	struct nmport_d *keep = t_open(name);
	struct nmreq_port_hdr b;
	memset(&b, 0, sizeof(b));
	b.nr_hdr_len = hdr;
	REQUIRE(t_ctl(NETMAP_REQ_PORT_HDR_SET, name, &b) == 0, "PORT_HDR_SET %s %u: %s", name,
		hdr, strerror(errno));
	struct nmport_d *d = nmport_prepare(name);
	REQUIRE(d != NULL, "nmport_prepare %s", name);
	d->reg.nr_flags |= NR_ACCEPT_VNET_HDR;
	REQUIRE(nmport_open_desc(d) == 0, "register %s with NR_ACCEPT_VNET_HDR: %s", name,
		strerror(errno));
	nmport_close(keep);
	return d;
}

static struct netmap_ring *txr(struct nmport_d *d) { return NETMAP_TXRING(d->nifp, 0); }
static struct netmap_ring *rxr(struct nmport_d *d) { return NETMAP_RXRING(d->nifp, 0); }

static void rxsync(struct nmport_d *d)
{
	CHECK(ioctl(d->fd, NIOCRXSYNC, NULL) == 0, "rxsync %s: %s", d->hdr.nr_name,
	      strerror(errno));
}

/* queue f[0, len) on the TX ring as a chain of full slots; slot count */
static unsigned put_chain(struct netmap_ring *r, const uint8_t *f, unsigned len)
{
	unsigned bs = r->nr_buf_size, nf = (len + bs - 1) / bs;
	REQUIRE(nf > 0 && nm_ring_space(r) >= nf, "no room for a chain of %u slots", nf);
	uint32_t i = r->head;
	for (unsigned k = 0, off = 0; k < nf; k++) {
		struct netmap_slot *s = &r->slot[i];
		unsigned l = len - off < bs ? len - off : bs;
		memcpy(NETMAP_BUF(r, s->buf_idx), f + off, l);
		s->len = (uint16_t)l;
		s->flags = k + 1 < nf ? NS_MOREFRAG : 0;
		off += l;
		i = nm_ring_next(r, i);
	}
	r->head = r->cur = i;
	return nf;
}

/* Take the next frame off RX ring r into got[] (checking the slot flags
 * of a chain); its length, or -1 if the ring has none. */
static int get_chain(struct netmap_ring *r, const char *what)
{
	if (nm_ring_empty(r))
		return -1;
	uint32_t i = r->head, off = 0;
	unsigned nf = r->slot[i].flags >> 8, k = 0;
	for (;;) {
		if (i == r->tail) {
			CHECK(0, "%s: chain cut after %u slots", what, k);
			break;
		}
		struct netmap_slot *s = &r->slot[i];
		bool more = s->flags & NS_MOREFRAG;
		CHECK((s->flags >> 8) == nf && nf > 0, "%s: slot %u flags %#x (chain of %u)", what,
		      k, s->flags, nf);
		REQUIRE(off + s->len <= FMAX, "%s: frame too long", what);
		memcpy(got + off, NETMAP_BUF(r, s->buf_idx), s->len);
		off += s->len;
		k++;
		i = nm_ring_next(r, i);
		if (!more)
			break;
	}
	CHECK(k == nf, "%s: %u slots in a chain announced as %u", what, k, nf);
	r->head = r->cur = i;
	return (int)off;
}

/* ---- a port with a header sends GSO frames to one without -------------------- */

/* send the frames of specs sp[0..n) in one txsync from a to b, check the
 * segments b gets; returns how many */
static unsigned gso_batch(struct nmport_d *a, struct nmport_d *b, const struct vn_spec *sp,
			  unsigned n, const char *what)
{
	unsigned want = 0;
	for (unsigned k = 0; k < n; k++) {
		unsigned len = vn_build(frame, &sp[k]);
		put_chain(txr(a), frame, len);
		want += vn_nseg(&sp[k], 1514);
	}
	vt_txsync_free(a, what);
	rxsync(b);
	struct netmap_ring *r = rxr(b);
	CHECK(nm_ring_space(r) == want, "%s: %u slots arrived, want %u segments", what,
	      nm_ring_space(r), want);
	unsigned seen = 0;
	for (unsigned k = 0; k < n; k++) {
		struct vn_reasm ra;
		char w[96];
		snprintf(w, sizeof(w), "%s, frame %u", what, k);
		vn_reasm_init(&ra, &sp[k], 1514, w);
		for (unsigned j = 0; j < vn_nseg(&sp[k], 1514) && !nm_ring_empty(r); j++) {
			struct netmap_slot *s = &r->slot[r->head];
			CHECK(s->flags == 1u << 8, "%s: segment %u flags %#x", w, j, s->flags);
			vn_seg(&ra, (const uint8_t *)NETMAP_BUF(r, s->buf_idx), s->len);
			r->head = r->cur = nm_ring_next(r, r->head);
			seen++;
		}
		vn_seg_end(&ra);
	}
	CHECK(nm_ring_empty(r), "%s: %u extra slots", what, nm_ring_space(r));
	r->head = r->cur = r->tail;
	rxsync(b);
	return seen;
}

static void gso_to_plain(const char *sw, uint32_t hdr)
{
	char an[32], bn[32], what[64];
	snprintf(an, sizeof(an), "%s:a", sw);
	snprintf(bn, sizeof(bn), "%s:b", sw);
	struct nmport_d *a = open_hdr(an, hdr), *b = t_open(bn);
	REQUIRE(txr(a)->nr_buf_size == 2048 && rxr(b)->nr_buf_size == 2048, "2048-byte buffers");

	struct vn_spec t4 = { .hs = hdr, .ipv = 4, .pay = 65535 - 40, .gso_type = VN_GSO_TCPV4,
			      .gso_size = 1448, .csum_req = true, .seq = 0x7ffffff0u, .ipid = 100,
			      .tcpflags = VN_TCP_ACK | VN_TCP_PSH | VN_TCP_FIN, .seed = 1 };
	struct vn_spec specs[5];
	specs[0] = t4;
	specs[1] = t4;
	specs[1].ipv = 6;
	specs[1].gso_type = VN_GSO_TCPV6;
	specs[1].pay = 64000;
	specs[1].seed = 2;
	specs[2] = t4;
	specs[2].udp = true;
	specs[2].gso_type = VN_GSO_UDP;
	specs[2].pay = 64000;
	specs[2].seed = 3;
	specs[3] = specs[2];
	specs[3].ipv = 6;
	specs[3].seed = 4;
	specs[4] = t4;
	specs[4].nvlan = 1;
	specs[4].gso_type = VN_GSO_TCPV4 | 0x80;
	specs[4].seed = 5;
	const char *names[5] = { "TCPv4", "TCPv6", "UDPv4", "UDPv6", "TCPv4 802.1Q" };
	unsigned frames = 0, segs = 0;
	for (int k = 0; k < 5; k++) {
		snprintf(what, sizeof(what), "hdr %u, %s", hdr, names[k]);
		segs += gso_batch(a, b, &specs[k], 1, what);
		frames++;
	}
	/* several in one sync, and a frame with no payload */
	specs[1].tcpopt = 12;
	specs[3].pay = 1;
	specs[4].pay = 0;
	snprintf(what, sizeof(what), "hdr %u, five in one sync", hdr);
	segs += gso_batch(a, b, specs, 5, what);
	frames += 5;

	/* NEEDS_CSUM without GSO: checksum completed, header stripped */
	struct vn_spec c = { .hs = hdr, .ipv = 4, .pay = 1200, .csum_req = true, .seq = 9,
			     .tcpflags = VN_TCP_ACK, .seed = 6 };
	struct vn_spec c6 = { .hs = hdr, .ipv = 6, .udp = true, .pay = 1001, .csum_req = true,
			      .seed = 7 };
	const struct vn_spec *cs[2] = { &c, &c6 };
	for (int k = 0; k < 2; k++) {
		unsigned len = vn_build(frame, cs[k]);
		put_chain(txr(a), frame, len);
		vt_txsync_free(a, "NEEDS_CSUM");
		rxsync(b);
		int l = get_chain(rxr(b), "NEEDS_CSUM");
		CHECK(l == (int)(len - hdr), "NEEDS_CSUM frame %d: %d bytes, want %u", k, l,
		      len - hdr);
		if (l == (int)(len - hdr))
			CHECK(vn_l4_ok(cs[k], got, (unsigned)l), "NEEDS_CSUM frame %d: L4 checksum", k);
		rxsync(b);
		frames++;
		segs++;
	}
	struct unetmap_vale_port_stats sa = vt_pstats(an), sb = vt_pstats(bn);
	CHECK(sa.tx_frames == frames && sa.drop_full == 0 && sa.drop_malformed == 0 &&
	      sa.drop_closed == 0, "%s: tx_frames %llu (want %u), drops %llu/%llu/%llu", an,
	      (unsigned long long)sa.tx_frames, frames, (unsigned long long)sa.drop_full,
	      (unsigned long long)sa.drop_malformed, (unsigned long long)sa.drop_closed);
	CHECK(sb.rx_frames == segs, "%s: rx_frames %llu, want %u", bn,
	      (unsigned long long)sb.rx_frames, segs);

	/* invalid headers and frames that cannot be segmented: dropped and
	 * counted, in the middle of a batch whose other frames arrive */
	struct vn_spec bad[4], good = t4;
	for (int k = 0; k < 4; k++)
		bad[k] = t4;
	bad[0].flags = 4;	/* unknown flag */
	bad[1].gso_type = 2;	/* unknown gso types */
	bad[2].gso_type = 0x7f;
	bad[3].ipv = 6;		/* TCPV4 gso type on an IPv6 packet */
	good.pay = 3000;
	put_chain(txr(a), frame, vn_build(frame, &good));
	for (int k = 0; k < 4; k++)
		put_chain(txr(a), frame, vn_build(frame, &bad[k]));
	vn_build(frame, &t4);
	put_chain(txr(a), frame, hdr + 14 + 20 + 10);	/* cut inside the TCP header */
	put_chain(txr(a), frame, vn_build(frame, &good));
	unsigned glen = vn_build(frame, &good);
	frame[hdr + 12] = 0x08;				/* GSO of an ARP frame */
	frame[hdr + 13] = 0x06;
	put_chain(txr(a), frame, glen);
	put_chain(txr(a), frame, vn_build(frame, &good));
	vt_txsync_free(a, "invalid headers");
	rxsync(b);
	struct vn_reasm ra;
	vn_reasm_init(&ra, &good, 1514, "valid frames between invalid ones");
	unsigned n = 0;
	for (struct netmap_ring *r = rxr(b); !nm_ring_empty(r) && n < 100; n++) {
		struct netmap_slot *s = &r->slot[r->head];
		if (n == vn_nseg(&good, 1514) * 2 || n == vn_nseg(&good, 1514)) {
			vn_seg_end(&ra);
			vn_reasm_init(&ra, &good, 1514, "valid frames between invalid ones");
		}
		vn_seg(&ra, (const uint8_t *)NETMAP_BUF(r, s->buf_idx), s->len);
		r->head = r->cur = nm_ring_next(r, r->head);
	}
	vn_seg_end(&ra);
	CHECK(n == 3 * vn_nseg(&good, 1514), "invalid headers: %u segments arrived, want %u", n,
	      3 * vn_nseg(&good, 1514));
	struct unetmap_vale_port_stats sa2 = vt_pstats(an);
	CHECK(sa2.drop_malformed == 6, "%s: drop_malformed %llu, want 6", an,
	      (unsigned long long)sa2.drop_malformed);
	rxsync(b);
	nmport_close(a);
	nmport_close(b);
}

/* ---- a port without a header sends to one with a header -------------------- */

static void plain_to_hdr(void)
{
	struct nmport_d *h = open_hdr("vale2:h", 10), *p = t_open("vale2:p");
	const unsigned lens[] = { 60, 1514, 2038, 2039, 2048, 5000, 9000 };
	for (unsigned k = 0; k < sizeof(lens) / sizeof(lens[0]); k++) {
		unsigned len = lens[k];
		for (unsigned j = 0; j < len; j++)
			frame[j] = (uint8_t)(j * 13 + k);
		memcpy(frame, vt_bcast, 6);
		vt_mac(frame + 6, 0x77);
		put_chain(txr(p), frame, len);
		vt_txsync_free(p, "plain to header port");
		rxsync(h);
		unsigned want_slots = (len + 10 + 2047) / 2048;
		CHECK(nm_ring_space(rxr(h)) == want_slots, "%u bytes + header: %u slots, want %u", len,
		      nm_ring_space(rxr(h)), want_slots);
		int l = get_chain(rxr(h), "plain to header port");
		static const uint8_t zero[12];
		CHECK(l == (int)len + 10, "%u-byte frame arrived as %d bytes, want %u", len, l,
		      len + 10);
		if (l == (int)len + 10)
			CHECK(memcmp(got, zero, 10) == 0 && memcmp(got + 10, frame, len) == 0,
			      "%u-byte frame: header not zero or frame changed", len);
		rxsync(h);
	}
	struct unetmap_vale_port_stats sp = vt_pstats("vale2:p");
	CHECK(sp.drop_full + sp.drop_malformed + sp.drop_closed == 0, "plain to header: drops");
	nmport_close(h);
	nmport_close(p);
}

/* ---- 10 <-> 12: the header is converted, the frame is not segmented --------- */

static void hdr_10_12(void)
{
	struct nmport_d *c = open_hdr("vale3:c", 10), *d = open_hdr("vale3:d", 12);
	struct vn_spec sp = { .hs = 10, .ipv = 4, .pay = 60000, .gso_type = VN_GSO_TCPV4,
			      .gso_size = 1448, .csum_req = true, .seq = 1, .ipid = 1,
			      .tcpflags = VN_TCP_ACK, .seed = 21 };
	/* 10 -> 12: the 10 bytes kept, num_buffers zero */
	unsigned len = vn_build(frame, &sp);
	put_chain(txr(c), frame, len);
	vt_txsync_free(c, "10 -> 12");
	rxsync(d);
	int l = get_chain(rxr(d), "10 -> 12");
	CHECK(l == (int)len + 2, "10 -> 12: %d bytes, want %u", l, len + 2);
	if (l == (int)len + 2)
		CHECK(memcmp(got, frame, 10) == 0 && got[10] == 0 && got[11] == 0 &&
		      memcmp(got + 12, frame + 10, len - 10) == 0, "10 -> 12: frame differs");
	CHECK(nm_ring_empty(rxr(d)), "10 -> 12: more than one frame");
	rxsync(d);
	/* 12 -> 10: num_buffers dropped */
	sp.hs = 12;
	sp.seed = 22;
	len = vn_build(frame, &sp);
	CHECK(frame[10] == 0x5a, "the builder sets num_buffers");
	put_chain(txr(d), frame, len);
	vt_txsync_free(d, "12 -> 10");
	rxsync(c);
	l = get_chain(rxr(c), "12 -> 10");
	CHECK(l == (int)len - 2, "12 -> 10: %d bytes, want %u", l, len - 2);
	if (l == (int)len - 2)
		CHECK(memcmp(got, frame, 10) == 0 && memcmp(got + 10, frame + 12, len - 12) == 0,
		      "12 -> 10: frame differs");
	rxsync(c);
	nmport_close(c);
	nmport_close(d);
}

/* ---- equal lengths: the chain as it was sent ---------------------------------- */

static void same_hdr(void)
{
	struct nmport_d *e = open_hdr("vale4:e", 10), *f = open_hdr("vale4:f", 10);
	struct vn_spec sp = { .hs = 10, .ipv = 6, .pay = 64000, .gso_type = VN_GSO_TCPV6,
			      .tcpflags = VN_TCP_ACK, .seed = 31 };
	unsigned len = vn_build(frame, &sp), nf = put_chain(txr(e), frame, len);
	vt_txsync_free(e, "10 -> 10");
	rxsync(f);
	CHECK(nm_ring_space(rxr(f)) == nf, "10 -> 10: %u slots, want %u", nm_ring_space(rxr(f)), nf);
	int l = get_chain(rxr(f), "10 -> 10");
	CHECK(l == (int)len && memcmp(got, frame, len) == 0, "10 -> 10: frame changed (%d bytes)",
	      l);
	rxsync(f);
	nmport_close(e);
	nmport_close(f);
}

/* ---- no room: a GSO frame is dropped whole ------------------------------------ */

static void no_room(void)
{
	struct nmport_d *a = open_hdr("vale5:a", 10), *b = t_open("vale5:b@conf:slots=64");
	struct vn_spec sp = { .hs = 10, .ipv = 4, .pay = 65535 - 40, .gso_type = VN_GSO_TCPV4,
			      .seq = 5, .ipid = 5, .tcpflags = VN_TCP_ACK, .seed = 41 };
	unsigned nseg = vn_nseg(&sp, 1514);
	REQUIRE(nseg == 45, "%u segments", nseg);
	/* 63 free slots: the first frame fits, the second does not */
	unsigned len = vn_build(frame, &sp);
	put_chain(txr(a), frame, len);
	put_chain(txr(a), frame, len);
	vt_txsync_free(a, "no room");
	rxsync(b);
	CHECK(nm_ring_space(rxr(b)) == nseg, "no room: %u slots arrived, want %u",
	      nm_ring_space(rxr(b)), nseg);
	struct unetmap_vale_port_stats sa = vt_pstats("vale5:a");
	CHECK(sa.drop_full == 1, "no room: drop_full %llu, want 1",
	      (unsigned long long)sa.drop_full);
	/* the next one goes nowhere either until the receiver reads */
	put_chain(txr(a), frame, len);
	vt_txsync_free(a, "still no room");
	CHECK(vt_pstats("vale5:a").drop_full == 2, "still no room: drop_full");
	struct vn_reasm ra;
	vn_reasm_init(&ra, &sp, 1514, "no room, the frame that fit");
	struct netmap_ring *r = rxr(b);
	while (!nm_ring_empty(r)) {
		struct netmap_slot *s = &r->slot[r->head];
		vn_seg(&ra, (const uint8_t *)NETMAP_BUF(r, s->buf_idx), s->len);
		r->head = r->cur = nm_ring_next(r, r->head);
	}
	vn_seg_end(&ra);
	rxsync(b);
	put_chain(txr(a), frame, len);
	vt_txsync_free(a, "room again");
	rxsync(b);
	CHECK(nm_ring_space(rxr(b)) == nseg, "room again: %u slots", nm_ring_space(rxr(b)));
	CHECK(vt_pstats("vale5:b").rx_frames == 2 * nseg, "rx_frames %llu, want %u",
	      (unsigned long long)vt_pstats("vale5:b").rx_frames, 2 * nseg);
	nmport_close(a);
	nmport_close(b);
}

/* ---- a receiver with data offsets: less room per slot -------------------------- */

/* b registered with slot offsets of 600 bytes: each slot takes at most
 * 2048 - 600 bytes, so segments are 1448 bytes and a plain frame from b
 * grows into more slots at a */
static void with_offsets(void)
{
	REQUIRE(nmport_enable_option("offset") == 0, "enable the offset option");
	struct nmport_d *a = open_hdr("vale6:a", 10), *b = t_open("vale6:b@offset=600");
	struct netmap_ring *r = rxr(b);
	REQUIRE(r->offset_mask != 0, "no offsets on %s", b->hdr.nr_name);
	struct vn_spec sp = { .hs = 10, .ipv = 4, .pay = 30000, .gso_type = VN_GSO_TCPV4,
			      .seq = 77, .ipid = 3, .tcpflags = VN_TCP_ACK | VN_TCP_FIN, .seed = 51 };
	put_chain(txr(a), frame, vn_build(frame, &sp));
	vt_txsync_free(a, "offsets");
	rxsync(b);
	unsigned want = vn_nseg(&sp, 1448);
	CHECK(nm_ring_space(r) == want, "offsets: %u segments, want %u", nm_ring_space(r), want);
	struct vn_reasm ra;
	vn_reasm_init(&ra, &sp, 1448, "receiver with 600-byte offsets");
	while (!nm_ring_empty(r)) {
		struct netmap_slot *s = &r->slot[r->head];
		CHECK(NETMAP_ROFFSET(r, s) == 600, "offset %llu", (unsigned long long)NETMAP_ROFFSET(r, s));
		vn_seg(&ra, (const uint8_t *)NETMAP_BUF_OFFSET(r, s), s->len);
		r->head = r->cur = nm_ring_next(r, r->head);
	}
	vn_seg_end(&ra);
	rxsync(b);
	nmport_close(a);
	nmport_close(b);
}

/* The switch looks up MAC addresses behind a sender's virtio-net header
 * (in its first slot, or in the second when the first is the header
 * alone): h (header 10) learns its own address and unicasts to q's, so only
 * q gets the frame, and a reply to h's address reaches h only. */
static void lookup_behind_header(void)
{
	struct nmport_d *h = open_hdr("vale7:h", 10), *q = t_open("vale7:q"),
			*r = t_open("vale7:r");
	const uint8_t mac_h[6] = { 0x02, 0, 0, 0, 0x07, 0x01 };
	const uint8_t mac_q[6] = { 0x02, 0, 0, 0, 0x07, 0x02 };
	const uint8_t bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
	/* q announces itself (broadcast from mac_q) */
	memset(frame, 0, 64);
	memcpy(frame, bcast, 6);
	memcpy(frame + 6, mac_q, 6);
	frame[12] = 0x88;
	frame[13] = 0xb5;
	put_chain(txr(q), frame, 64);
	CHECK(ioctl(q->fd, NIOCTXSYNC, NULL) == 0, "txsync q");
	rxsync(h);
	rxsync(r);
	rxr(h)->head = rxr(h)->cur = rxr(h)->tail;
	rxr(r)->head = rxr(r)->cur = rxr(r)->tail;
	rxsync(h);
	rxsync(r);
	for (int split = 0; split < 2; split++) {
		/* h -> mac_q: a 10-byte header (zero: no offload), then Ethernet;
		 * split: the header alone in the first slot */
		memset(frame, 0, 10 + 64);
		memcpy(frame + 10, mac_q, 6);
		memcpy(frame + 16, mac_h, 6);
		frame[22] = 0x88;
		frame[23] = 0xb5;
		frame[24] = (uint8_t)(0x40 + split);
		struct netmap_ring *t = txr(h);
		if (split) {
			struct netmap_slot *s0 = &t->slot[t->head];
			memcpy(NETMAP_BUF(t, s0->buf_idx), frame, 10);
			s0->len = 10;
			s0->flags = NS_MOREFRAG;
			uint32_t i1 = nm_ring_next(t, t->head);
			struct netmap_slot *s1 = &t->slot[i1];
			memcpy(NETMAP_BUF(t, s1->buf_idx), frame + 10, 64);
			s1->len = 64;
			s1->flags = 0;
			t->head = t->cur = nm_ring_next(t, i1);
		} else {
			put_chain(t, frame, 10 + 64);
		}
		CHECK(ioctl(h->fd, NIOCTXSYNC, NULL) == 0, "txsync h");
		rxsync(q);
		rxsync(r);
		int lq = get_chain(rxr(q), "q");
		CHECK(lq == 64 && memcmp(got, mac_q, 6) == 0 && got[14] == 0x40 + split,
		      "split %d: q got a %d-byte frame (want the 64-byte frame for its MAC)", split, lq);
		CHECK(nm_ring_empty(rxr(r)), "split %d: r got h's unicast to q (looked up inside the"
		      " virtio-net header?)", split);
		rxr(r)->head = rxr(r)->cur = rxr(r)->tail;
		rxsync(q);
		rxsync(r);
	}
	/* the switch learned mac_h from behind the header: q -> mac_h reaches h only */
	memset(frame, 0, 64);
	memcpy(frame, mac_h, 6);
	memcpy(frame + 6, mac_q, 6);
	frame[12] = 0x88;
	frame[13] = 0xb5;
	put_chain(txr(q), frame, 64);
	CHECK(ioctl(q->fd, NIOCTXSYNC, NULL) == 0, "txsync q");
	rxsync(h);
	rxsync(r);
	int lh = get_chain(rxr(h), "h");
	CHECK(lh == 10 + 64 && memcmp(got + 10, mac_h, 6) == 0,
	      "h got a %d-byte frame, want its 64-byte frame behind a 10-byte header", lh);
	CHECK(nm_ring_empty(rxr(r)), "r got q's unicast to h (h's address not learned)");
	nmport_close(h);
	nmport_close(q);
	nmport_close(r);
}

int main(void)
{
	t_setup(60);
	unsetenv("UNETMAP_BUF_SIZE");	/* our private regions: default 2048-byte buffers */
	gso_to_plain("vale0", 10);
	gso_to_plain("vale1", 12);
	plain_to_hdr();
	hdr_10_12();
	same_hdr();
	no_room();
	with_offsets();
	lookup_behind_header();
	return t_done();
}
