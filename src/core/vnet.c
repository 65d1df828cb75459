/*
 * vnet.c - virtio-net header conversion, GSO segmentation and checksum
 * completion for the VALE mismatch path (see vnet.h).
 *
 * The source is read through a cursor over its fragments, so a frame of any
 * length and fragmentation is converted without a linear copy of it.  A GSO
 * segment is built in its destination slot (headers, then payload) and its
 * checksums are computed there, on bytes just written and still in cache.
 */
#include <string.h>
#include "core/vnet.h"

/* ---- checksum ------------------------------------------------------------ */

/* a + b with the carry out added back in (ones' complement addition); the
 * second add cannot carry again */
static inline uint64_t add1c(uint64_t a, uint64_t b)
{
	uint64_t r = a + b;
	return r + (r < b);
}

uint64_t unm_csum_add(uint64_t sum, const void *p, size_t len)
{
	const uint8_t *b = p;
	/* four independent chains: each step is an add and an add-carry */
	uint64_t s0 = sum, s1 = 0, s2 = 0, s3 = 0;
	while (len >= 32) {
		uint64_t w0, w1, w2, w3;
		memcpy(&w0, b, 8);
		memcpy(&w1, b + 8, 8);
		memcpy(&w2, b + 16, 8);
		memcpy(&w3, b + 24, 8);
		s0 = add1c(s0, w0);
		s1 = add1c(s1, w1);
		s2 = add1c(s2, w2);
		s3 = add1c(s3, w3);
		b += 32;
		len -= 32;
	}
	while (len >= 8) {
		uint64_t w;
		memcpy(&w, b, 8);
		s0 = add1c(s0, w);
		b += 8;
		len -= 8;
	}
	if (len >= 4) {
		uint32_t w;
		memcpy(&w, b, 4);
		s1 = add1c(s1, w);
		b += 4;
		len -= 4;
	}
	if (len >= 2) {
		uint16_t w;
		memcpy(&w, b, 2);
		s2 = add1c(s2, w);
		b += 2;
		len -= 2;
	}
	if (len) {
		/* the last byte, padded with a zero byte after it */
		uint8_t pad[2] = { b[0], 0 };
		uint16_t w;
		memcpy(&w, pad, 2);
		s3 = add1c(s3, w);
	}
	return add1c(add1c(s0, s1), add1c(s2, s3));
}

static inline uint16_t bswap16(uint16_t x)
{
	return (uint16_t)(x << 8 | x >> 8);
}

/* ---- big-endian fields ------------------------------------------------------ */

static inline uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static inline void put16(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static inline uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static inline void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/* sum of n bytes (n even) as big-endian 16-bit words, for header fields */
static uint32_t be_sum(const uint8_t *p, uint32_t n)
{
	uint32_t s = 0;
	for (uint32_t i = 0; i + 1 < n; i += 2)
		s += get16(p + i);
	return s;
}

/* a machine-order sum (unm_csum_add) as a big-endian word sum */
static inline uint32_t be_of(uint64_t sum)
{
	uint16_t f = unm_csum_fold(sum);
	uint8_t b[2];
	memcpy(b, &f, 2);
	return (uint32_t)get16(b);
}

/* fold a big-endian word sum and complement it */
static inline uint16_t be_finish(uint64_t s)
{
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)~s;
}

/* ---- reading the source ------------------------------------------------- */

/* copy bytes [off, off + n) of the frame to dst; how many there were */
static uint32_t gather(const struct unm_vnet_frag *fr, uint32_t nfrag, uint32_t off,
		       uint8_t *dst, uint32_t n)
{
	uint32_t got = 0;
	for (uint32_t i = 0; i < nfrag && got < n; i++) {
		if (off >= fr[i].len) {
			off -= fr[i].len;
			continue;
		}
		uint32_t k = fr[i].len - off;
		if (k > n - got)
			k = n - got;
		memcpy(dst + got, fr[i].base + off, k);
		got += k;
		off = 0;
	}
	return got;
}

/* put the cursor at byte off of the frame */
static void src_seek(struct unm_vnet *v, uint32_t off)
{
	v->fi = 0;
	while (v->fi < v->nfrag && off >= v->frag[v->fi].len) {
		off -= v->frag[v->fi].len;
		v->fi++;
	}
	v->fo = off;
}

/* n bytes from the cursor on to dst (NULL: step over them) */
static void src_read(struct unm_vnet *v, uint8_t *dst, uint32_t n)
{
	while (n > 0 && v->fi < v->nfrag) {
		const struct unm_vnet_frag *f = &v->frag[v->fi];
		uint32_t k = f->len - v->fo;
		if (k > n)
			k = n;
		if (dst != NULL) {
			memcpy(dst, f->base + v->fo, k);
			dst += k;
		}
		n -= k;
		v->fo += k;
		if (v->fo >= f->len) {
			v->fi++;
			v->fo = 0;
		}
	}
}

/* checksum sum of bytes [off, end) of the frame; a fragment that starts at
 * an odd position of the range has its bytes in the other halves of the
 * 16-bit words, hence the swap */
static uint64_t frags_sum(const struct unm_vnet_frag *fr, uint32_t nfrag, uint32_t off)
{
	uint64_t sum = 0;
	bool odd = false;
	for (uint32_t i = 0; i < nfrag; i++) {
		if (off >= fr[i].len) {
			off -= fr[i].len;
			continue;
		}
		uint32_t k = fr[i].len - off;
		uint16_t f = unm_csum_fold(unm_csum_add(0, fr[i].base + off, k));
		sum += odd ? bswap16(f) : f;
		odd ^= k & 1;
		off = 0;
	}
	return sum;
}

/* ---- plan ------------------------------------------------------------------- */

bool unm_vnet_hdr_ok(const struct unm_vnet_hdr *h)
{
	uint8_t t = h->gso_type & (uint8_t)~UNM_VNET_GSO_ECN;
	if (t != UNM_VNET_GSO_NONE && t != UNM_VNET_GSO_TCPV4 && t != UNM_VNET_GSO_UDP &&
	    t != UNM_VNET_GSO_TCPV6)
		return false;
	return (h->flags & ~(UNM_VNET_F_NEEDS_CSUM | UNM_VNET_F_DATA_VALID)) == 0;
}

#define ETH_HLEN	14
#define ETHERTYPE_VLAN	0x8100
#define ETHERTYPE_IPV4	0x0800
#define ETHERTYPE_IPV6	0x86dd
#define PROTO_TCP	6
#define PROTO_UDP	17
#define TCP_FIN		0x01
#define TCP_PSH		0x08

/* Parse the headers of a GSO frame (the source cursor is after the virtio
 * header, body bytes follow it) and count its segments of at most seg
 * bytes. */
static int gso_plan(struct unm_vnet *v, uint8_t gso_type, uint32_t body, uint32_t seg)
{
	uint32_t avail = body < UNM_VNET_MAX_GSO_HDR ? body : UNM_VNET_MAX_GSO_HDR;
	const uint8_t *h = v->h;
	if (gather(v->frag, v->nfrag, v->hs, v->h, avail) != avail)
		return -1;
	uint32_t l2 = ETH_HLEN, et;
	for (;;) {
		if (avail < l2)
			return -1;
		et = get16(h + l2 - 2);
		if (et != ETHERTYPE_VLAN)
			break;
		l2 += 4;	/* an 802.1Q tag */
	}
	uint32_t l3, proto;
	if (et == ETHERTYPE_IPV4) {
		if (avail < l2 + 20 || h[l2] >> 4 != 4)
			return -1;
		l3 = (h[l2] & 0x0fu) * 4;
		proto = h[l2 + 9];
		v->v4 = true;
	} else if (et == ETHERTYPE_IPV6) {
		if (avail < l2 + 40 || h[l2] >> 4 != 6)
			return -1;
		l3 = 40;	/* as netmap: no extension headers */
		proto = h[l2 + 6];
		v->v4 = false;
	} else {
		return -1;
	}
	v->tcp = gso_type != UNM_VNET_GSO_UDP;
	if (l3 < 20 || (gso_type == UNM_VNET_GSO_TCPV4 && !v->v4) ||
	    (gso_type == UNM_VNET_GSO_TCPV6 && v->v4) ||
	    proto != (v->tcp ? PROTO_TCP : PROTO_UDP))
		return -1;
	uint32_t l4 = 8;
	if (v->tcp) {
		if (avail < l2 + l3 + 20)
			return -1;
		l4 = (uint32_t)(h[l2 + l3 + 12] >> 4) * 4;
		if (l4 < 20)
			return -1;
	}
	uint32_t hlen = l2 + l3 + l4;
	if (hlen > avail || hlen >= seg)
		return -1;
	v->l2 = (uint16_t)l2;
	v->l3 = (uint16_t)l3;
	v->l4 = (uint16_t)l4;
	v->hlen = (uint16_t)hlen;
	/* what every segment's checksums share; the fields a segment
	 * changes are left out here and added by gso_fix() */
	const uint8_t *ip = h + l2, *th = ip + l3;
	if (v->v4) {
		v->ip_id = get16(ip + 4);
		v->ip_sum = be_sum(ip, l3) - get16(ip + 2) - v->ip_id - get16(ip + 10);
		v->l4_sum = be_sum(ip + 12, 8);
	} else {
		v->l4_sum = be_sum(ip + 8, 32);
	}
	v->l4_sum += v->tcp ? PROTO_TCP : PROTO_UDP;
	if (v->tcp) {
		v->tcp_seq = get32(th + 4);
		v->tcp_w12 = get16(th + 12);
		v->l4_sum += be_sum(th, l4) - get16(th + 4) - get16(th + 6) - v->tcp_w12 -
			     get16(th + 16);
	} else {
		v->l4_sum += get16(th) + get16(th + 2);	/* ports */
	}
	v->pay_len = body - hlen;
	v->seg_pay = seg - hlen;
	/* a frame with headers only still gives one segment */
	uint32_t nseg = v->pay_len == 0 ? 1 : (v->pay_len + v->seg_pay - 1) / v->seg_pay;
	if (nseg > INT32_MAX)
		return -1;
	v->gso = true;
	v->nslots = v->nframes = nseg;
	v->frame_slots = 1;
	v->out_bytes = v->pay_len + (uint64_t)nseg * hlen;
	src_seek(v, v->hs + hlen);
	return (int)nseg;
}

int unm_vnet_plan(struct unm_vnet *v, const struct unm_vnet_frag *frag, uint32_t nfrag,
		  uint32_t hs, uint32_t hd, uint32_t cap, uint32_t mfs)
{
	memset(v, 0, offsetof(struct unm_vnet, h));
	v->frag = frag;
	v->nfrag = nfrag;
	v->hs = hs;
	v->hd = hd;
	v->cap = cap;
	uint64_t len = 0;
	for (uint32_t i = 0; i < nfrag; i++)
		len += frag[i].len;
	if (hs > UNM_VNET_HDR_MRG_LEN || hd > UNM_VNET_HDR_MRG_LEN || cap == 0 || len < hs ||
	    len > UINT32_MAX - UNM_VNET_HDR_MRG_LEN)
		return -1;
	uint32_t body = (uint32_t)len - hs;
	uint8_t sh[UNM_VNET_HDR_MRG_LEN] = { 0 };
	gather(frag, nfrag, 0, sh, hs);
	if (hs == hd)
		memcpy(v->dh, sh, hs);
	else if (hs != 0 && hd != 0)
		memcpy(v->dh, sh, UNM_VNET_HDR_LEN);	/* num_buffers stays 0 */
	src_seek(v, hs);
	if (hs != 0 && hd == 0) {
		struct unm_vnet_hdr vh;
		memcpy(&vh, sh, sizeof(vh));
		if (!unm_vnet_hdr_ok(&vh))
			return -1;
		uint8_t t = vh.gso_type & (uint8_t)~UNM_VNET_GSO_ECN;
		if (t != UNM_VNET_GSO_NONE)
			return gso_plan(v, t, body, cap < mfs ? cap : mfs);
		/* a request past the end is ignored, as netmap does */
		if ((vh.flags & UNM_VNET_F_NEEDS_CSUM) &&
		    (uint32_t)vh.csum_start + vh.csum_offset + 2 <= body) {
			v->csum_todo = true;
			v->csum_start = hs + vh.csum_start;
			v->csum_at = hd + (uint32_t)vh.csum_start + vh.csum_offset;
		}
	}
	v->out_len = hd + body;
	if (v->out_len == 0)
		return -1;
	uint64_t ns = ((uint64_t)v->out_len + cap - 1) / cap;
	if (ns > INT32_MAX)
		return -1;
	v->nslots = (uint32_t)ns;
	v->nframes = 1;
	v->frame_slots = v->nslots;
	v->out_bytes = v->out_len;
	return (int)v->nslots;
}

/* ---- output --------------------------------------------------------------- */

/* Fix the headers of the segment at d (payload of n bytes) and compute its
 * checksums, as netmap's gso_fix_segment does: IPv4 total length, id + the
 * segment's index, header checksum; IPv6 payload length; TCP sequence + the
 * payload before this segment, PSH and FIN only on the last; UDP length;
 * the L4 checksum with its pseudo-header.  The header bytes just written are
 * not read back (a wide load of narrow fresh stores stalls): their sums come
 * from the plan plus the changed fields; only the payload is summed here. */
static void gso_fix(const struct unm_vnet *v, uint8_t *d, uint32_t n, bool last)
{
	uint8_t *ip = d + v->l2, *th = ip + v->l3;
	uint32_t l4len = v->l4 + n;
	uint64_t s = v->l4_sum + l4len;		/* pseudo-header length */
	if (v->v4) {
		uint16_t id = (uint16_t)(v->ip_id + v->seg_idx);
		put16(ip + 2, v->l3 + l4len);
		put16(ip + 4, id);
		put16(ip + 10, be_finish((uint64_t)v->ip_sum + v->l3 + l4len + id));
	} else {
		put16(ip + 4, l4len);
	}
	uint8_t *ck;
	if (v->tcp) {
		uint32_t seq = v->tcp_seq + v->pay_done;
		uint16_t w12 = v->tcp_w12;
		if (!last)
			w12 &= (uint16_t)~(TCP_FIN | TCP_PSH);
		put32(th + 4, seq);
		put16(th + 12, w12);
		s += (seq >> 16) + (seq & 0xffff) + w12;
		ck = th + 16;
	} else {
		put16(th + 4, l4len);
		s += l4len;
		ck = th + 6;
	}
	/* the payload starts at an even offset of the L4 part */
	s += be_of(unm_csum_add(0, th + v->l4, n));
	uint16_t c = be_finish(s);
	if (!v->tcp && c == 0)
		c = 0xffff;	/* UDP: 0 would mean "no checksum" */
	put16(ck, c);
}

static uint32_t gso_next(struct unm_vnet *v, uint8_t *dst)
{
	uint32_t n = v->pay_len - v->pay_done;
	if (n > v->seg_pay)
		n = v->seg_pay;
	if (dst != NULL) {
		memcpy(dst, v->h, v->hlen);
		src_read(v, dst + v->hlen, n);
		gso_fix(v, dst, n, v->pay_done + n == v->pay_len);
	} else {
		src_read(v, NULL, n);
	}
	v->pay_done += n;
	v->seg_idx++;
	return v->hlen + n;
}

static uint32_t copy_next(struct unm_vnet *v, uint8_t *dst, bool *more)
{
	if (v->csum_todo) {
		/* the field holds the pseudo-header sum: it is summed too */
		uint16_t c = (uint16_t)~unm_csum_fold(frags_sum(v->frag, v->nfrag, v->csum_start));
		memcpy(v->csum, &c, 2);
		v->csum_todo = false;
		v->csum_ok = true;
	}
	uint32_t p = v->out_done, n = v->out_len - p, w = 0;
	if (n > v->cap)
		n = v->cap;
	if (p < v->hd) {
		w = v->hd - p < n ? v->hd - p : n;
		if (dst != NULL)
			memcpy(dst, v->dh + p, w);
	}
	src_read(v, dst != NULL ? dst + w : NULL, n - w);
	if (dst != NULL && v->csum_ok) {
		for (uint32_t k = 0; k < 2; k++)
			if (v->csum_at + k >= p && v->csum_at + k < p + n)
				dst[v->csum_at + k - p] = v->csum[k];
	}
	v->out_done += n;
	*more = v->out_done < v->out_len;
	return n;
}

uint32_t unm_vnet_next(struct unm_vnet *v, uint8_t *dst, bool *more)
{
	if (v->gso) {
		*more = false;
		if (v->seg_idx >= v->nslots)
			return 0;
		return gso_next(v, dst);
	}
	if (v->out_done >= v->out_len) {
		*more = false;
		return 0;
	}
	return copy_next(v, dst, more);
}

_Static_assert(sizeof(struct unm_vnet_hdr) == UNM_VNET_HDR_LEN, "virtio-net header layout");
