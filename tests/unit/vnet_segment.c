/*
 * Description: the virtio-net conversion library (src/core/vnet.c, the VALE
 * mismatch path of reference §4.7) on its own, checked with this test's own
 * frame builder, parser and checksum (tests/vnettest.h):
 *   - the Internet checksum helper against a plain RFC 1071 sum (lengths,
 *     alignments, 64 KB);
 *   - 64 KB GSO frames (TCPv4, TCPv6, UDP over IPv4 and IPv6, 802.1Q tags,
 *     TCP options, ECN bit) cut into segments of min(mfs, cap): every
 *     segment's IPv4 header checksum, total length and id, IPv6 payload
 *     length, TCP seq and flags, UDP length, L4 checksum, and the payload
 *     reassembled; any source fragmentation; nothing written past cap;
 *     stepping over segments does not change the others;
 *   - NEEDS_CSUM completion (fragment boundaries at odd offsets, frames
 *     spanning two slots, a request past the end left alone);
 *   - invalid headers and frames that cannot be segmented are refused;
 *   - header conversions 0/10/12 in every direction.
 * The library is compiled into this program (its symbols are not exported
 * by libunetmap.so).
 */
#include <stdbool.h>
#include <stdlib.h>
#include "testlib.h"
#include "vnettest.h"
#include "core/vnet.c"

#define MAXF (70 * 1024)
#define CANARY 0xc5

static uint8_t src[MAXF];
static struct unm_vnet_frag frags[MAXF];	/* up to one per byte */

/* cut src[0, len) into fragments: `fsz` bytes each, or random sizes of
 * 1..-fsz for a negative fsz */
static uint32_t cut(uint32_t len, int fsz, unsigned *rng)
{
	uint32_t n = 0;
	for (uint32_t off = 0; off < len; n++) {
		uint32_t k;
		if (fsz > 0) {
			k = (uint32_t)fsz;
		} else {
			*rng = *rng * 1103515245u + 12345u;
			k = 1 + (*rng >> 8) % (uint32_t)-fsz;
		}
		if (k > len - off)
			k = len - off;
		frags[n].base = src + off;
		frags[n].len = k;
		off += k;
	}
	return n;
}

/* ---- checksum helper ---------------------------------------------------------- */

static uint16_t lib_csum_be(const uint8_t *p, size_t n)
{
	uint16_t f = unm_csum_fold(unm_csum_add(0, p, n));
	uint8_t b[2];
	memcpy(b, &f, 2);
	return (uint16_t)(b[0] << 8 | b[1]);
}

static void test_csum(void)
{
	static uint8_t buf[MAXF + 8];
	unsigned rng = 7;
	for (size_t i = 0; i < sizeof(buf); i++) {
		rng = rng * 1103515245u + 12345u;
		buf[i] = (uint8_t)(rng >> 16);
	}
	for (unsigned al = 0; al < 8; al++)
		for (unsigned n = 0; n < 300; n++) {
			uint16_t want = (uint16_t)vn_sum(0, buf + al, n), got = lib_csum_be(buf + al, n);
			CHECK(got == want, "csum of %u bytes at +%u: %#x, want %#x", n, al, got, want);
		}
	memset(buf, 0xff, 4096);	/* carries everywhere */
	CHECK(lib_csum_be(buf, 4096) == vn_sum(0, buf, 4096), "csum of 0xff bytes");
	memset(buf, 0, 64);
	CHECK(lib_csum_be(buf, 64) == 0, "csum of zeros");
	for (unsigned k = 0; k < 3; k++) {
		size_t n = MAXF - k;
		CHECK(lib_csum_be(buf + k, n) == vn_sum(0, buf + k, n), "csum of %zu bytes", n);
	}
	/* the fragment-wise sum at odd boundaries */
	memcpy(src, buf, sizeof(src));
	for (int fsz = -1; fsz >= -3001; fsz -= 500) {
		uint32_t nf = cut(20001, fsz, &rng);
		for (uint32_t off = 0; off < 20001; off += 4999) {
			uint8_t b[2];
			uint16_t f = unm_csum_fold(frags_sum(frags, nf, off));
			memcpy(b, &f, 2);
			CHECK((uint16_t)(b[0] << 8 | b[1]) == vn_sum(0, src + off, 20001 - off),
			      "fragment-wise csum (frags up to %d bytes) from %u", -fsz, off);
		}
	}
}

/* ---- segmentation ----------------------------------------------------------- */

/* Segment a frame of spec sp (cut by fsz) for slots of cap bytes and a
 * max frame size mfs; check every segment; returns the number. */
static unsigned gso(const struct vn_spec *sp, int fsz, uint32_t cap, uint32_t mfs,
		    const char *what)
{
	static uint8_t slot[70 * 1024 + 64];
	unsigned rng = 99;
	uint32_t len = vn_build(src, sp), nf = cut(len, fsz, &rng);
	uint32_t segmax = cap < mfs ? cap : mfs;
	struct unm_vnet v;
	int ns = unm_vnet_plan(&v, frags, nf, sp->hs, 0, cap, mfs);
	unsigned want = vn_nseg(sp, segmax);
	CHECK(ns == (int)want, "%s: plan says %d slots, want %u", what, ns, want);
	if (ns <= 0)
		return 0;
	CHECK(v.nframes == want && v.frame_slots == 1 && v.nslots == want,
	      "%s: %u frames of %u slots", what, v.nframes, v.frame_slots);
	CHECK(v.out_bytes == (uint64_t)sp->pay + (uint64_t)want * vn_hlen(sp),
	      "%s: out_bytes %llu", what, (unsigned long long)v.out_bytes);
	struct vn_reasm r;
	vn_reasm_init(&r, sp, segmax, what);
	uint64_t total = 0;
	for (int k = 0; k < ns; k++) {
		memset(slot, CANARY, cap + 64);
		bool more = true;
		uint32_t l = unm_vnet_next(&v, slot, &more);
		CHECK(!more, "%s: segment %d continues", what, k);
		for (uint32_t j = l; j < cap + 64; j++)
			if (slot[j] != CANARY) {
				CHECK(0, "%s: segment %d of %u bytes wrote byte %u", what, k, l, j);
				break;
			}
		vn_seg(&r, slot, l);
		total += l;
	}
	CHECK(total == v.out_bytes, "%s: %llu bytes written, planned %llu", what,
	      (unsigned long long)total, (unsigned long long)v.out_bytes);
	vn_seg_end(&r);
	return (unsigned)ns;
}

static void test_gso(void)
{
	struct vn_spec t4 = { .hs = 10, .ipv = 4, .pay = 65535 - 40, .gso_type = VN_GSO_TCPV4,
			      .gso_size = 1448, .csum_req = true, .seq = 0xfffff000u, .ipid = 0xfff0,
			      .tcpflags = VN_TCP_ACK | VN_TCP_PSH | VN_TCP_FIN, .seed = 1 };
	CHECK(gso(&t4, 2048, 2048, 1514, "TCPv4 64 KB") == 45, "TCPv4: 45 segments");
	/* seq and id wrap above; other fragmentations */
	gso(&t4, 1, 2048, 1514, "TCPv4, 1-byte fragments");
	gso(&t4, -3001, 2048, 1514, "TCPv4, random fragments");
	gso(&t4, MAXF, 2048, 1514, "TCPv4, one fragment");
	gso(&t4, 2048, 9000, 9000, "TCPv4, jumbo mfs");
	gso(&t4, 2048, 2048, 4096, "TCPv4, slots smaller than mfs");
	gso(&t4, 2048, 4096, 1514, "TCPv4, 4 KB slots, 1514 mfs");

	struct vn_spec t6 = t4;
	t6.hs = 12;
	t6.ipv = 6;
	t6.gso_type = VN_GSO_TCPV6;
	t6.pay = 64000;
	t6.seed = 2;
	gso(&t6, 2048, 2048, 1514, "TCPv6 64 KB");
	gso(&t6, -777, 2048, 1514, "TCPv6, random fragments");

	struct vn_spec u4 = { .hs = 10, .ipv = 4, .udp = true, .pay = 64000,
			      .gso_type = VN_GSO_UDP, .csum_req = true, .seed = 3, .ipid = 7 };
	gso(&u4, 2048, 2048, 1514, "UDPv4 64 KB");
	struct vn_spec u6 = u4;
	u6.ipv = 6;
	u6.pay = 65000;
	u6.seed = 4;
	gso(&u6, 2048, 2048, 1514, "UDPv6 64 KB");

	struct vn_spec vl = t4;
	vl.nvlan = 1;
	vl.seed = 5;
	gso(&vl, 2048, 2048, 1514, "TCPv4 64 KB, 802.1Q");
	vl.nvlan = 2;
	vl.tcpopt = 12;
	vl.gso_type = VN_GSO_TCPV4 | 0x80;	/* ECN */
	gso(&vl, -2048, 2048, 1514, "TCPv4, two tags, options, ECN");

	struct vn_spec s = t4;
	s.pay = 0;
	gso(&s, 2048, 2048, 1514, "TCPv4 with no payload");
	s.pay = 1;
	gso(&s, 2048, 2048, 1514, "TCPv4, 1 byte");
	s.pay = 1460 * 3;
	CHECK(gso(&s, 2048, 2048, 1514, "TCPv4, 3 full segments") == 3, "3 segments");
	s.pay = 1460 * 3 + 1;
	CHECK(gso(&s, 2048, 2048, 1514, "TCPv4, 3 full segments + 1") == 4, "4 segments");
	s.tcpflags = VN_TCP_ACK;
	gso(&s, 2048, 2048, 1514, "TCPv4, ACK only");
}

/* stepping over segments (dst NULL) leaves the others as they were */
static void test_skip(void)
{
	static uint8_t all[60][1514], one[1514];
	struct vn_spec sp = { .hs = 10, .ipv = 4, .pay = 50000, .gso_type = VN_GSO_TCPV4,
			      .seq = 1000, .ipid = 1, .tcpflags = VN_TCP_ACK | VN_TCP_PSH,
			      .seed = 9 };
	unsigned rng = 5;
	uint32_t nf = cut(vn_build(src, &sp), 2048, &rng);
	struct unm_vnet v;
	int ns = unm_vnet_plan(&v, frags, nf, 10, 0, 2048, 1514);
	REQUIRE(ns > 0 && ns <= 60, "plan %d", ns);
	uint32_t lens[60];
	bool more;
	for (int k = 0; k < ns; k++)
		lens[k] = unm_vnet_next(&v, all[k], &more);
	unm_vnet_plan(&v, frags, nf, 10, 0, 2048, 1514);
	for (int k = 0; k < ns; k++) {
		if (k % 3 == 1) {
			CHECK(unm_vnet_next(&v, NULL, &more) == lens[k], "skipped segment %d length", k);
			continue;
		}
		uint32_t l = unm_vnet_next(&v, one, &more);
		CHECK(l == lens[k] && memcmp(one, all[k], l) == 0, "segment %d after skips", k);
	}
	CHECK(unm_vnet_next(&v, one, &more) == 0 && !more, "a call past the end writes nothing");
}

/* ---- checksum completion ------------------------------------------------- */

/* frame of spec sp with NEEDS_CSUM (non-GSO) cut by fsz into slots of cap:
 * the output, reassembled, is the frame without its header and with a
 * good L4 checksum */
static void csum_case(const struct vn_spec *sp, int fsz, uint32_t cap, const char *what)
{
	static uint8_t out[MAXF], slot[MAXF + 64];
	unsigned rng = 3;
	uint32_t len = vn_build(src, sp), nf = cut(len, fsz, &rng);
	uint32_t body = len - sp->hs;
	struct unm_vnet v;
	int ns = unm_vnet_plan(&v, frags, nf, sp->hs, 0, cap, 1514);
	int want = (int)((body + cap - 1) / cap);
	CHECK(ns == want, "%s: %d slots, want %d", what, ns, want);
	if (ns <= 0)
		return;
	CHECK(v.nframes == 1 && v.frame_slots == (uint32_t)ns && v.out_bytes == body,
	      "%s: plan", what);
	uint32_t off = 0;
	for (int k = 0; k < ns; k++) {
		bool more;
		memset(slot, CANARY, cap + 64);
		uint32_t l = unm_vnet_next(&v, slot, &more);
		CHECK(more == (k + 1 < ns), "%s: slot %d more %d", what, k, more);
		CHECK(l == (k + 1 < ns ? cap : body - off), "%s: slot %d len %u", what, k, l);
		CHECK(slot[l] == CANARY, "%s: slot %d written past its length", what, k);
		memcpy(out + off, slot, l);
		off += l;
	}
	CHECK(off == body, "%s: %u bytes, want %u", what, off, body);
	CHECK(vn_l4_ok(sp, out, body), "%s: L4 checksum not completed", what);
	unsigned ck = vn_l2(sp) + vn_l3(sp) + (sp->udp ? 6 : 16);
	CHECK(memcmp(out, src + sp->hs, ck) == 0 &&
	      memcmp(out + ck + 2, src + sp->hs + ck + 2, body - ck - 2) == 0,
	      "%s: bytes other than the checksum changed", what);
}

static void test_csum_completion(void)
{
	struct vn_spec t4 = { .hs = 10, .ipv = 4, .pay = 1000, .csum_req = true, .seq = 5,
			      .tcpflags = VN_TCP_ACK, .seed = 11 };
	csum_case(&t4, 2048, 2048, "TCPv4 NEEDS_CSUM");
	csum_case(&t4, 7, 2048, "TCPv4 NEEDS_CSUM, 7-byte fragments");
	csum_case(&t4, -777, 2048, "TCPv4 NEEDS_CSUM, random fragments");
	struct vn_spec u6 = { .hs = 12, .ipv = 6, .udp = true, .pay = 333, .csum_req = true,
			      .seed = 12 };
	csum_case(&u6, 2048, 2048, "UDPv6 NEEDS_CSUM, odd length");
	csum_case(&u6, -5, 2048, "UDPv6 NEEDS_CSUM, tiny fragments");
	struct vn_spec big = t4;
	big.pay = 3000;
	big.nvlan = 1;
	csum_case(&big, 2048, 2048, "TCPv4 NEEDS_CSUM over two slots");
	big.pay = 2000;		/* the checksum field (bytes 54, 55) across two slots */
	csum_case(&big, -999, 55, "TCPv4 NEEDS_CSUM, 55-byte slots");

	/* a request past the end of the frame: delivered as it is */
	struct vn_spec s = t4;
	uint32_t len = vn_build(src, &s);
	uint16_t far = 5000;
	memcpy(src + 6, &far, 2);	/* csum_start */
	unsigned rng = 1;
	uint32_t nf = cut(len, 2048, &rng);
	struct unm_vnet v;
	static uint8_t slot[2048];
	bool more;
	CHECK(unm_vnet_plan(&v, frags, nf, 10, 0, 2048, 1514) == 1, "csum past the end: plan");
	uint32_t l = unm_vnet_next(&v, slot, &more);
	CHECK(l == len - 10 && memcmp(slot, src + 10, l) == 0, "csum past the end: frame changed");
	/* DATA_VALID alone: nothing to do */
	s.csum_req = false;
	s.flags = 2;
	len = vn_build(src, &s);
	nf = cut(len, 2048, &rng);
	CHECK(unm_vnet_plan(&v, frags, nf, 10, 0, 2048, 1514) == 1, "DATA_VALID: plan");
	l = unm_vnet_next(&v, slot, &more);
	CHECK(l == len - 10 && memcmp(slot, src + 10, l) == 0, "DATA_VALID: frame changed");
}

/* ---- refusals --------------------------------------------------------------- */

static int plan_of(const struct vn_spec *sp, uint32_t hd, uint32_t mfs, void (*edit)(uint8_t *))
{
	unsigned rng = 1;
	uint32_t len = vn_build(src, sp);
	if (edit)
		edit(src);
	uint32_t nf = cut(len, 2048, &rng);
	struct unm_vnet v;
	return unm_vnet_plan(&v, frags, nf, sp->hs, hd, 2048, mfs);
}

static void ed_arp(uint8_t *f) { f[10 + 12] = 0x08; f[10 + 13] = 0x06; }
static void ed_ihl4(uint8_t *f) { f[10 + 14] = 0x44; }
static void ed_ipver(uint8_t *f) { f[10 + 14] = 0x65; }
static void ed_doff4(uint8_t *f) { f[10 + 14 + 20 + 12] = 0x40; }
static void ed_proto(uint8_t *f) { f[10 + 14 + 9] = 17; }

static void test_invalid(void)
{
	struct vn_spec t4 = { .hs = 10, .ipv = 4, .pay = 20000, .gso_type = VN_GSO_TCPV4,
			      .tcpflags = VN_TCP_ACK, .seed = 1 };
	CHECK(plan_of(&t4, 0, 1514, NULL) > 0, "the good frame");
	struct vn_spec s = t4;
	const uint8_t badflags[] = { 4, 8, 0x80, 0xff, 3 | 4 };
	for (unsigned k = 0; k < sizeof(badflags); k++) {
		s.flags = badflags[k];
		CHECK(plan_of(&s, 0, 1514, NULL) == -1, "flags %#x accepted", badflags[k]);
		/* not looked at between two ports with headers */
		CHECK(plan_of(&s, 12, 2048, NULL) > 0, "flags %#x refused for 10 -> 12",
		      badflags[k]);
	}
	s = t4;
	const uint8_t badgso[] = { 2, 5, 6, 0x7f, 0x82, 0x40 };
	for (unsigned k = 0; k < sizeof(badgso); k++) {
		s.gso_type = badgso[k];
		CHECK(plan_of(&s, 0, 1514, NULL) == -1, "gso_type %#x accepted", badgso[k]);
	}
	s = t4;
	s.flags = 3;	/* both known flags */
	CHECK(plan_of(&s, 0, 1514, NULL) > 0, "NEEDS_CSUM|DATA_VALID refused");
	s.gso_type = 0x80;	/* ECN without GSO: a plain frame */
	s.pay = 1000;
	CHECK(plan_of(&s, 0, 1514, NULL) == 1, "gso_type ECN alone refused");

	CHECK(plan_of(&t4, 0, 1514, ed_arp) == -1, "GSO ARP frame accepted");
	CHECK(plan_of(&t4, 0, 1514, ed_ihl4) == -1, "IPv4 IHL 4 accepted");
	CHECK(plan_of(&t4, 0, 1514, ed_ipver) == -1, "IP version 6 in an IPv4 ethertype accepted");
	CHECK(plan_of(&t4, 0, 1514, ed_doff4) == -1, "TCP data offset 4 accepted");
	CHECK(plan_of(&t4, 0, 1514, ed_proto) == -1, "TCPV4 GSO of a UDP packet accepted");
	s = t4;
	s.ipv = 6;	/* TCPV4 gso type, IPv6 packet */
	CHECK(plan_of(&s, 0, 1514, NULL) == -1, "TCPV4 GSO of an IPv6 packet accepted");
	s.gso_type = VN_GSO_TCPV6;
	CHECK(plan_of(&s, 0, 1514, NULL) > 0, "TCPV6 GSO refused");
	s.ipv = 4;
	CHECK(plan_of(&s, 0, 1514, NULL) == -1, "TCPV6 GSO of an IPv4 packet accepted");
	s = t4;
	s.udp = true;	/* UDP packet, TCP gso type */
	CHECK(plan_of(&s, 0, 1514, NULL) == -1, "TCPV4 GSO of UDP accepted");
	/* headers as long as a segment */
	CHECK(plan_of(&t4, 0, 54, NULL) == -1, "segment of headers only accepted");
	CHECK(plan_of(&t4, 0, 55, NULL) > 0, "segment of 1 payload byte refused");

	/* cut short */
	unsigned rng = 1;
	uint32_t len = vn_build(src, &t4);
	struct unm_vnet v;
	for (uint32_t l = 0; l < 10 + 54; l++) {
		uint32_t nf = cut(l, 2048, &rng);
		int r = unm_vnet_plan(&v, frags, nf, 10, 0, 2048, 1514);
		CHECK(r == -1, "GSO frame of %u bytes: %d", l, r);
	}
	(void)len;
	for (uint32_t l = 0; l < 10; l++) {
		uint32_t nf = cut(l, 2048, &rng);
		CHECK(unm_vnet_plan(&v, frags, nf, 10, 12, 2048, 2048) == -1,
		      "%u bytes with a 10-byte header accepted", l);
	}
	uint32_t nf = cut(10, 2048, &rng);
	CHECK(unm_vnet_plan(&v, frags, nf, 10, 0, 2048, 1514) == -1, "a header alone accepted");
	CHECK(unm_vnet_plan(&v, frags, nf, 10, 12, 2048, 2048) == 1, "header alone, 10 -> 12");
	CHECK(unm_vnet_plan(&v, frags, 0, 0, 0, 2048, 1514) == -1, "empty frame accepted");
	CHECK(unm_vnet_plan(&v, frags, nf, 10, 0, 0, 1514) == -1, "no room accepted");
}

/* ---- header conversions ------------------------------------------------------ */

static void conv(uint32_t hs, uint32_t hd, uint32_t body, uint32_t cap)
{
	static uint8_t out[MAXF], slot[MAXF];
	char what[64];
	snprintf(what, sizeof(what), "%u -> %u, %u bytes, %u-byte slots", hs, hd, body, cap);
	for (uint32_t k = 0; k < hs + body; k++)
		src[k] = (uint8_t)(k * 7 + 3);
	if (hs >= 10) {
		src[0] = 1;	/* NEEDS_CSUM, with a request past the end */
		src[1] = VN_GSO_NONE;
		uint16_t far = 60000;
		memcpy(src + 6, &far, 2);
	}
	unsigned rng = 1;
	uint32_t nf = cut(hs + body, -700, &rng);
	struct unm_vnet v;
	int ns = unm_vnet_plan(&v, frags, nf, hs, hd, cap, 1514);
	uint32_t olen = hd + body;
	CHECK(ns == (int)((olen + cap - 1) / cap), "%s: %d slots", what, ns);
	if (ns <= 0)
		return;
	uint32_t off = 0;
	for (int k = 0; k < ns; k++) {
		bool more;
		uint32_t l = unm_vnet_next(&v, slot, &more);
		CHECK(more == (k + 1 < ns) && l <= cap, "%s: slot %d (len %u, more %d)", what, k, l,
		      more);
		memcpy(out + off, slot, l);
		off += l;
	}
	CHECK(off == olen, "%s: %u bytes, want %u", what, off, olen);
	uint8_t wanth[12] = { 0 };
	if (hs == hd)
		memcpy(wanth, src, hs);
	else if (hs && hd)
		memcpy(wanth, src, 10);
	CHECK(memcmp(out, wanth, hd) == 0, "%s: destination header", what);
	CHECK(memcmp(out + hd, src + hs, body) == 0, "%s: frame after the header", what);
}

static void test_conversions(void)
{
	const uint32_t h[3] = { 0, 10, 12 };
	const uint32_t bodies[] = { 14, 60, 1514, 2036, 2038, 2040, 2048, 5000 };
	for (int i = 0; i < 3; i++)
		for (int j = 0; j < 3; j++)
			for (unsigned b = 0; b < sizeof(bodies) / sizeof(bodies[0]); b++)
				conv(h[i], h[j], bodies[b], 2048);
	conv(10, 12, 65000, 2048);
	conv(0, 12, 3000, 1000);
}

int main(void)
{
	t_setup(60);
	test_csum();
	test_gso();
	test_skip();
	test_csum_completion();
	test_invalid();
	test_conversions();
	return t_done();
}
