/* Helpers for the virtio-net header tests (include after testlib.h): build
 * Ethernet (+ 802.1Q) / IPv4 or IPv6 / TCP or UDP frames behind a virtio-net
 * header, and check segments with a parser and checksum of their own (not
 * the library's). */
#ifndef UNETMAP_VNETTEST_H
#define UNETMAP_VNETTEST_H
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#define VN_NEEDS_CSUM	1
#define VN_GSO_NONE	0
#define VN_GSO_TCPV4	1
#define VN_GSO_UDP	3
#define VN_GSO_TCPV6	4
#define VN_TCP_FIN	0x01
#define VN_TCP_PSH	0x08
#define VN_TCP_ACK	0x10

/* what a frame is made of */
struct vn_spec {
	unsigned hs;		/* virtio-net header bytes in front (0, 10, 12) */
	int ipv;		/* 4 or 6 */
	bool udp;		/* else TCP */
	unsigned nvlan;		/* 802.1Q tags */
	unsigned tcpopt;	/* TCP option bytes (multiple of 4) */
	unsigned pay;		/* L4 payload bytes */
	uint8_t flags, gso_type;	/* of the virtio-net header */
	uint16_t gso_size;
	bool csum_req;		/* NEEDS_CSUM with the pseudo-header sum in place */
	uint32_t seq;		/* TCP */
	uint16_t ipid;		/* IPv4 */
	uint8_t tcpflags;
	uint32_t seed;		/* payload pattern */
};

static inline uint8_t vn_pat(uint32_t seed, uint32_t k)
{
	uint32_t x = (k + 1) * 2654435761u ^ seed * 40503u;
	return (uint8_t)(x >> 13 ^ x >> 24);
}

static const uint8_t vn_dmac[6] = { 0x02, 0, 0, 0, 0, 0x0b };
static const uint8_t vn_smac[6] = { 0x02, 0, 0, 0, 0, 0x0a };

static inline void vn_put16(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static inline uint16_t vn_get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static inline uint32_t vn_get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* plain RFC 1071: big-endian 16-bit words, folded at the end */
static inline uint32_t vn_sum(uint32_t s, const uint8_t *p, size_t n)
{
	size_t i;
	for (i = 0; i + 1 < n; i += 2)
		s += (uint32_t)p[i] << 8 | p[i + 1];
	if (i < n)
		s += (uint32_t)p[i] << 8;
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return s;
}

static inline unsigned vn_l2(const struct vn_spec *sp) { return 14 + 4 * sp->nvlan; }
static inline unsigned vn_l3(const struct vn_spec *sp) { return sp->ipv == 4 ? 20 : 40; }
static inline unsigned vn_l4(const struct vn_spec *sp) { return sp->udp ? 8 : 20 + sp->tcpopt; }
static inline unsigned vn_hlen(const struct vn_spec *sp)
{
	return vn_l2(sp) + vn_l3(sp) + vn_l4(sp);
}
/* bytes of the frame, header included */
static inline unsigned vn_len(const struct vn_spec *sp) { return sp->hs + vn_hlen(sp) + sp->pay; }

/* pseudo-header sum for an L4 length (IP header at ip) */
static inline uint32_t vn_pseudo(const uint8_t *ip, int ipv, uint8_t proto, uint32_t l4len)
{
	uint8_t ph[40];
	memset(ph, 0, sizeof(ph));
	if (ipv == 4) {
		memcpy(ph, ip + 12, 8);
		ph[9] = proto;
		vn_put16(ph + 10, l4len);
		return vn_sum(0, ph, 12);
	}
	memcpy(ph, ip + 8, 32);
	ph[34] = (uint8_t)(l4len >> 8);
	ph[35] = (uint8_t)l4len;
	ph[32] = (uint8_t)(l4len >> 24);
	ph[33] = (uint8_t)(l4len >> 16);
	ph[39] = proto;
	return vn_sum(0, ph, 40);
}

/* Write the frame into f (vn_len() bytes). */
static inline unsigned vn_build(uint8_t *f, const struct vn_spec *sp)
{
	unsigned l2 = vn_l2(sp), l3 = vn_l3(sp), l4 = vn_l4(sp), len = vn_len(sp);
	uint8_t *e = f + sp->hs, *ip = e + l2, *th = ip + l3;
	uint8_t proto = sp->udp ? 17 : 6;
	uint32_t l4len = l4 + sp->pay;
	memset(f, 0, sp->hs + vn_hlen(sp));
	memcpy(e, vn_dmac, 6);
	memcpy(e + 6, vn_smac, 6);
	for (unsigned v = 0; v < sp->nvlan; v++) {
		vn_put16(e + 12 + 4 * v, 0x8100);
		vn_put16(e + 14 + 4 * v, 100 + v);	/* VLAN id */
	}
	vn_put16(e + l2 - 2, sp->ipv == 4 ? 0x0800 : 0x86dd);
	if (sp->ipv == 4) {
		ip[0] = 0x45;
		uint32_t tot = l3 + l4len;
		vn_put16(ip + 2, tot > 65535 ? 0 : tot);	/* as Linux for > 64 KB */
		vn_put16(ip + 4, sp->ipid);
		vn_put16(ip + 6, 0x4000);	/* DF */
		ip[8] = 64;
		ip[9] = proto;
		const uint8_t sa[4] = { 10, 0, 0, 1 }, da[4] = { 10, 0, 0, 2 };
		memcpy(ip + 12, sa, 4);
		memcpy(ip + 16, da, 4);
		uint16_t c = (uint16_t)~vn_sum(0, ip, 20);
		vn_put16(ip + 10, c);
	} else {
		ip[0] = 0x60;
		ip[1] = 0x0a;	/* traffic class / flow label bits */
		vn_put16(ip + 4, l4len > 65535 ? 0 : l4len);
		ip[6] = proto;
		ip[7] = 64;
		for (int k = 0; k < 16; k++) {
			ip[8 + k] = (uint8_t)(0x20 + k);
			ip[24 + k] = (uint8_t)(0x40 + k);
		}
	}
	vn_put16(th, 40000);
	vn_put16(th + 2, sp->udp ? 4789 : 5201);
	if (sp->udp) {
		vn_put16(th + 4, l4len > 65535 ? 0 : l4len);
	} else {
		th[4] = (uint8_t)(sp->seq >> 24);
		th[5] = (uint8_t)(sp->seq >> 16);
		th[6] = (uint8_t)(sp->seq >> 8);
		th[7] = (uint8_t)sp->seq;
		th[8] = 0x12;	/* ack number */
		th[12] = (uint8_t)((l4 / 4) << 4);
		th[13] = sp->tcpflags;
		vn_put16(th + 14, 65000);
		for (unsigned k = 0; k < sp->tcpopt; k++)
			th[20 + k] = 1;	/* NOP options */
	}
	for (unsigned k = 0; k < sp->pay; k++)
		th[l4 + k] = vn_pat(sp->seed, k);
	if (sp->csum_req) {
		/* what Linux leaves for the device: the pseudo-header sum,
		 * not complemented, in the checksum field */
		uint16_t ps = (uint16_t)vn_pseudo(ip, sp->ipv, proto, l4len);
		vn_put16(th + (sp->udp ? 6 : 16), ps);
	}
	if (sp->hs >= 10) {
		uint16_t v16[4] = { (uint16_t)(sp->csum_req ? l2 + l3 + l4 : 0), sp->gso_size,
				    (uint16_t)(l2 + l3), (uint16_t)(sp->udp ? 6 : 16) };
		f[0] = sp->flags | (sp->csum_req ? VN_NEEDS_CSUM : 0);
		f[1] = sp->gso_type;
		memcpy(f + 2, v16, 8);	/* host order */
		if (sp->hs == 12) {
			f[10] = 0x5a;	/* num_buffers: must not survive a conversion */
			f[11] = 0xa5;
		}
	}
	return len;
}

/* The check of the segments of one GSO frame (no header in front of them):
 * call vn_seg() for each in order, then vn_seg_end(). */
struct vn_reasm {
	const struct vn_spec *sp;
	const char *what;
	unsigned segmax;	/* every segment but the last is exactly this long */
	unsigned nseg, off, bad;
	bool ended;
};

static inline void vn_reasm_init(struct vn_reasm *r, const struct vn_spec *sp, unsigned segmax,
				 const char *what)
{
	memset(r, 0, sizeof(*r));
	r->sp = sp;
	r->segmax = segmax;
	r->what = what;
}

#define VN_BAD(r, ...) do { if ((r)->bad++ < 8) CHECK(0, __VA_ARGS__); } while (0)

/* one more segment: f, len bytes */
static inline void vn_seg(struct vn_reasm *r, const uint8_t *f, unsigned len)
{
	const struct vn_spec *sp = r->sp;
	unsigned l2 = vn_l2(sp), l3 = vn_l3(sp), l4 = vn_l4(sp), h = l2 + l3 + l4;
	unsigned idx = r->nseg++;
	if (r->ended) {
		VN_BAD(r, "%s: segment %u after the last one", r->what, idx);
		return;
	}
	if (len <= h || len > r->segmax) {
		/* a header-only segment is fine only for an empty frame */
		if (!(len == h && sp->pay == 0))
			VN_BAD(r, "%s: segment %u: %u bytes (headers %u, max %u)", r->what, idx, len,
			       h, r->segmax);
		if (len < h)
			return;
	}
	unsigned n = len - h;
	bool last = r->off + n >= sp->pay;
	if (!last && len != r->segmax)
		VN_BAD(r, "%s: segment %u of %u bytes is not full (%u) and not the last", r->what,
		       idx, len, r->segmax);
	/* Ethernet and 802.1Q tags as sent */
	if (memcmp(f, vn_dmac, 6) || memcmp(f + 6, vn_smac, 6))
		VN_BAD(r, "%s: segment %u: MAC addresses", r->what, idx);
	for (unsigned v = 0; v < sp->nvlan; v++)
		if (vn_get16(f + 12 + 4 * v) != 0x8100 || vn_get16(f + 14 + 4 * v) != 100 + v)
			VN_BAD(r, "%s: segment %u: VLAN tag %u", r->what, idx, v);
	const uint8_t *ip = f + l2, *th = ip + l3;
	uint8_t proto = sp->udp ? 17 : 6;
	if (vn_get16(f + l2 - 2) != (sp->ipv == 4 ? 0x0800 : 0x86dd))
		VN_BAD(r, "%s: segment %u: ethertype %#x", r->what, idx, vn_get16(f + l2 - 2));
	if (sp->ipv == 4) {
		if (ip[0] != 0x45 || ip[9] != proto || ip[8] != 64 || ip[12] != 10 || ip[19] != 2)
			VN_BAD(r, "%s: segment %u: IPv4 header fields", r->what, idx);
		if (vn_get16(ip + 2) != len - l2)
			VN_BAD(r, "%s: segment %u: IPv4 total length %u, want %u", r->what, idx,
			       vn_get16(ip + 2), len - l2);
		if (vn_get16(ip + 4) != (uint16_t)(sp->ipid + idx))
			VN_BAD(r, "%s: segment %u: IPv4 id %u, want %u", r->what, idx,
			       vn_get16(ip + 4), (uint16_t)(sp->ipid + idx));
		if (vn_sum(0, ip, 20) != 0xffff)
			VN_BAD(r, "%s: segment %u: IPv4 header checksum", r->what, idx);
	} else {
		if (ip[0] != 0x60 || ip[1] != 0x0a || ip[6] != proto || ip[8] != 0x20 ||
		    ip[39] != 0x4f)
			VN_BAD(r, "%s: segment %u: IPv6 header fields", r->what, idx);
		if (vn_get16(ip + 4) != len - l2 - 40)
			VN_BAD(r, "%s: segment %u: IPv6 payload length %u, want %u", r->what, idx,
			       vn_get16(ip + 4), len - l2 - 40);
	}
	if (vn_get16(th) != 40000 || vn_get16(th + 2) != (sp->udp ? 4789 : 5201))
		VN_BAD(r, "%s: segment %u: ports", r->what, idx);
	if (sp->udp) {
		if (vn_get16(th + 4) != len - l2 - l3)
			VN_BAD(r, "%s: segment %u: UDP length %u, want %u", r->what, idx,
			       vn_get16(th + 4), len - l2 - l3);
		if (vn_get16(th + 6) == 0)
			VN_BAD(r, "%s: segment %u: UDP checksum 0", r->what, idx);
	} else {
		if (vn_get32(th + 4) != sp->seq + r->off)
			VN_BAD(r, "%s: segment %u: TCP seq %u, want %u", r->what, idx,
			       vn_get32(th + 4), sp->seq + r->off);
		uint8_t want = last ? sp->tcpflags :
				      (uint8_t)(sp->tcpflags & ~(VN_TCP_PSH | VN_TCP_FIN));
		if (th[13] != want)
			VN_BAD(r, "%s: segment %u: TCP flags %#x, want %#x", r->what, idx, th[13],
			       want);
		if (th[12] >> 4 != l4 / 4 || vn_get16(th + 14) != 65000 || th[8] != 0x12)
			VN_BAD(r, "%s: segment %u: TCP header fields", r->what, idx);
	}
	uint32_t s = vn_pseudo(ip, sp->ipv, proto, len - l2 - l3);
	if (vn_sum(s, th, len - l2 - l3) != 0xffff)
		VN_BAD(r, "%s: segment %u: %s checksum wrong", r->what, idx, sp->udp ? "UDP" : "TCP");
	const uint8_t *p = th + l4;
	for (unsigned k = 0; k < n; k++)
		if (p[k] != vn_pat(sp->seed, r->off + k)) {
			VN_BAD(r, "%s: segment %u: payload byte %u (offset %u)", r->what, idx, k,
			       r->off + k);
			break;
		}
	r->off += n;
	if (last)
		r->ended = true;
}

/* all segments seen: the payload is complete; returns the count */
static inline unsigned vn_seg_end(struct vn_reasm *r)
{
	if (r->off != r->sp->pay || (!r->ended && r->sp->pay != 0))
		VN_BAD(r, "%s: %u payload bytes reassembled from %u segments, want %u", r->what,
		       r->off, r->nseg, r->sp->pay);
	return r->nseg;
}

/* segments a GSO frame of this spec becomes at a max frame size */
static inline unsigned vn_nseg(const struct vn_spec *sp, unsigned segmax)
{
	unsigned per = segmax - vn_hlen(sp);
	return sp->pay == 0 ? 1 : (sp->pay + per - 1) / per;
}

/* a non-GSO frame f of len bytes (no header in front) has a valid L4
 * checksum */
static inline bool vn_l4_ok(const struct vn_spec *sp, const uint8_t *f, unsigned len)
{
	unsigned l2 = vn_l2(sp), l3 = vn_l3(sp);
	const uint8_t *ip = f + l2;
	uint32_t s = vn_pseudo(ip, sp->ipv, sp->udp ? 17 : 6, len - l2 - l3);
	return vn_sum(s, ip + l3, len - l2 - l3) == 0xffff;
}
#endif
