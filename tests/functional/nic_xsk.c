/*
 * nic_xsk: the AF_XDP data-path wrapper (src/nic/xsk.c) on a 4-queue veth
 * pair in a private network namespace, with a UMEM over a buffer area laid
 * out like a netmap region:
 *  - demanding zero copy on veth fails with a message naming the driver,
 *    bad configurations fail cleanly, and no attempt leaves a descriptor or
 *    a mapping behind; auto mode gets copy mode;
 *  - frames injected on the peer with AF_PACKET arrive intact, at the first
 *    byte of region buffers, with the right length, in buffers taken in
 *    fill-ring order, and nothing else in the buffer pool is written
 *    (guard bytes around every buffer);
 *  - frames sent by a wrapper socket on vb queue q arrive on va queue q;
 *  - frames sent through the wrapper (also from a data offset inside the
 *    buffer) reach an AF_PACKET socket on the peer; every address comes
 *    back on the completion ring, in the order sent;
 *  - multi-buffer: frames longer than a buffer arrive as XDP_PKT_CONTD
 *    chains, and a chain sent is one frame on the wire;
 *  - aligned chunks (UNM_XSK_F_ALIGNED): data 256 bytes into the buffer.
 * Needs root; skips otherwise.  The XDP program is loaded here (a redirect
 * to an XSKMAP by rx_queue_index, attached with a bpf_link).
 */
#include "testlib.h"
#include "nictest.h"
#include <bpf/bpf.h>
#include <linux/bpf.h>
#include <linux/if_link.h>

#include "nic/xsk.h"

#define BUFSZ	2048u
#define NBUFS	4096u
#define GUARD	0xa5
#define PERQ	512u	/* buffers of each va socket: [qbase(q), qbase(q) + PERQ) */
#define FILLN	(PERQ - 32)	/* the first FILLN go to the fill ring, the rest to TX */
#define DEADLINE_MS 3000

static unsigned char *pool;	/* va side buffer pool (UMEM) */
static struct unm_xsk *va[NT_NQ];

static uint32_t qbase(unsigned q)
{
	return 8 + q * (PERQ + 8);
}

/* ---- the XDP program: XSKMAP[rx_queue_index] or drop ---------------- */

#define INSN(c, d, s, o, i) \
	((struct bpf_insn){ .code = (c), .dst_reg = (d), .src_reg = (s), .off = (o), .imm = (i) })

struct redirect { int map, prog, link; };

static void redirect_attach(const char *ifname, struct redirect *r)
{
	r->map = bpf_map_create(BPF_MAP_TYPE_XSKMAP, "nt_xsks", 4, 4, NT_NQ, NULL);
	REQUIRE(r->map >= 0, "XSKMAP: %s", strerror(errno));
	struct bpf_insn insns[] = {
		/* r2 = ctx->rx_queue_index */
		INSN(BPF_LDX | BPF_MEM | BPF_W, BPF_REG_2, BPF_REG_1, 16, 0),
		/* r1 = map */
		INSN(BPF_LD | BPF_DW | BPF_IMM, BPF_REG_1, BPF_PSEUDO_MAP_FD, 0, r->map),
		INSN(0, 0, 0, 0, 0),
		/* r3 = XDP_DROP (action when the slot is empty) */
		INSN(BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_3, 0, 0, XDP_DROP),
		INSN(BPF_JMP | BPF_CALL, 0, 0, 0, BPF_FUNC_redirect_map),
		INSN(BPF_JMP | BPF_EXIT, 0, 0, 0, 0),
	};
	r->prog = bpf_prog_load(BPF_PROG_TYPE_XDP, "nt_redirect", "GPL", insns,
				sizeof(insns) / sizeof(insns[0]), NULL);
	REQUIRE(r->prog >= 0, "loading the XDP program: %s", strerror(errno));
	LIBBPF_OPTS(bpf_link_create_opts, lo, .flags = XDP_FLAGS_DRV_MODE);
	r->link = bpf_link_create(r->prog, nt_ifindex(ifname), BPF_XDP, &lo);
	REQUIRE(r->link >= 0, "attaching XDP (native) to %s: %s", ifname, strerror(errno));
}

/* ---- helpers ------------------------------------------------------ */

static struct unm_xsk_cfg cfg_for(const char *ifname, uint32_t q, void *area, uint64_t size,
				  int mode, uint32_t flags)
{
	struct unm_xsk_cfg c = {
		.sz = sizeof(c), .ifname = ifname, .queue = q, .umem_area = area,
		.umem_size = size, .frame_size = BUFSZ, .rx_size = 1024, .tx_size = 1024,
		.fill_size = 1024, .comp_size = 1024, .mode = mode, .flags = flags,
	};
	return c;
}

/* next buffer each va socket should fill: the kernel takes the fill ring
 * in order (copy mode), so received buffers come back in fill order */
static uint32_t next_buf[NT_NQ];

static void fill_queue(unsigned q)
{
	next_buf[q] = qbase(q);
	uint64_t bufs[FILLN];
	for (unsigned i = 0; i < FILLN; i++)
		bufs[i] = (uint64_t)(qbase(q) + i) * BUFSZ;
	CHECK(unm_xsk_fill_room(va[q]) >= FILLN, "fill room %u", unm_xsk_fill_room(va[q]));
	CHECK(unm_xsk_fill(va[q], bufs, FILLN) == FILLN, "fill queue %u", q);
}

/* received-frame bookkeeping: buffer -> where the fragment the kernel put
 * there starts (0, or 256 in aligned mode) and its length */
static uint32_t used_off[NBUFS], used_len[NBUFS];
static bool used[NBUFS];

/* Every buffer: guard bytes except for a received fragment. */
static void check_pool(const char *phase)
{
	unsigned bad = 0, first = 0;
	for (unsigned b = 0; b < NBUFS; b++) {
		const unsigned char *p = pool + (size_t)b * BUFSZ;
		for (unsigned i = 0; i < BUFSZ; i++) {
			if (used[b] && i == used_off[b])
				i += used_len[b];
			if (i < BUFSZ && p[i] != GUARD) {
				if (bad++ == 0)
					first = b * BUFSZ + i;
				break;
			}
		}
	}
	CHECK(bad == 0, "%s: %u buffers written outside their frame (first at pool+%u)",
	      phase, bad, first);
}

static void reset_pool(void)
{
	memset(pool, GUARD, (size_t)NBUFS * BUFSZ);
	memset(used, 0, sizeof(used));
	memset(used_len, 0, sizeof(used_len));
	memset(used_off, 0, sizeof(used_off));
}

/* Receive on all va sockets until `want` frames (chains reassembled) or the
 * deadline.  seen[no]++ for each frame; *per_q counts frames per queue. */
static unsigned rx_collect(unsigned want, unsigned *seen, unsigned nseen, unsigned *per_q)
{
	static unsigned char asm_buf[NT_NQ][16384];
	unsigned asm_len[NT_NQ] = { 0 }, got = 0;
	int64_t t0 = unm_test_now_ms();
	while (got < want && unm_test_now_ms() - t0 < DEADLINE_MS) {
		unsigned n = 0;
		for (unsigned q = 0; q < NT_NQ; q++) {
			struct xdp_desc d[64];
			unsigned k = unm_xsk_rx(va[q], d, 64);
			n += k;
			for (unsigned i = 0; i < k; i++) {
				uint64_t b = d[i].addr / BUFSZ, off = d[i].addr % BUFSZ;
				CHECK(off == unm_xsk_data_off(va[q]), "data at offset %llu of its "
				      "buffer", (unsigned long long)off);
				CHECK(b >= qbase(q) && b < qbase(q) + FILLN,
				      "queue %u got buffer %llu it was not given", q,
				      (unsigned long long)b);
				CHECK(d[i].len <= unm_xsk_rx_frag_max(va[q]), "fragment of %u", d[i].len);
				if (b >= NBUFS || off + d[i].len > BUFSZ)
					continue;
				CHECK(!used[b], "buffer %llu used twice", (unsigned long long)b);
				CHECK(b == next_buf[q], "queue %u: buffer %llu, want %u (fill order)",
				      q, (unsigned long long)b, next_buf[q]);
				next_buf[q] = (uint32_t)b + 1;
				used[b] = true;
				used_off[b] = (uint32_t)off;
				used_len[b] = d[i].len;
				if (asm_len[q] + d[i].len <= sizeof(asm_buf[q]))
					memcpy(asm_buf[q] + asm_len[q], pool + d[i].addr, d[i].len);
				asm_len[q] += d[i].len;
				if (d[i].options & XDP_PKT_CONTD)
					continue;
				long no = nt_frame_check(asm_buf[q], asm_len[q]);
				CHECK(no >= 0 && (unsigned long)no < nseen,
				      "queue %u: frame of %u bytes is corrupt", q, asm_len[q]);
				if (no >= 0 && (unsigned long)no < nseen)
					seen[no]++;
				if (per_q)
					per_q[q]++;
				asm_len[q] = 0;
				got++;
			}
		}
		if (n == 0)
			usleep(1000);
	}
	for (unsigned q = 0; q < NT_NQ; q++)
		CHECK(asm_len[q] == 0, "queue %u: a chain without its last fragment", q);
	return got;
}

/* wait for `want` completions on x; returns the addresses in *addrs */
static unsigned comp_collect(struct unm_xsk *x, uint64_t *addrs, unsigned want)
{
	unsigned got = 0;
	int64_t t0 = unm_test_now_ms();
	while (got < want && unm_test_now_ms() - t0 < DEADLINE_MS) {
		CHECK(unm_xsk_tx_kick(x) == 0, "kick: %s", nt_err);
		unsigned k = unm_xsk_comp(x, addrs + got, want - got);
		got += k;
		if (k == 0)
			usleep(1000);
	}
	return got;
}

/* ---- phases ------------------------------------------------------- */

static void test_errors(unsigned char *area, uint64_t size)
{
	struct unm_xsk *x = (struct unm_xsk *)1;
	int fds = nt_fd_count(), maps = nt_map_count();

	/* zero copy demanded on veth */
	struct unm_xsk_cfg c = cfg_for("va", 0, area, size, UNM_XSK_MODE_ZC, 0);
	int r = unm_xsk_create(&c, &x);
	CHECK(r == -EOPNOTSUPP && x == NULL, "zc on veth: %d", r);
	CHECK(strstr(nt_err, "zero copy") != NULL && strstr(nt_err, "veth") != NULL,
	      "message: %s", nt_err);
	printf("zc demanded: %s\n", nt_err);
	c.flags = UNM_XSK_F_SG;
	r = unm_xsk_create(&c, &x);
	CHECK(r == -EOPNOTSUPP && strstr(nt_err, "veth") != NULL, "zc+sg on veth: %d %s", r, nt_err);

	c = cfg_for("va", 9, area, size, UNM_XSK_MODE_AUTO, 0);
	r = unm_xsk_create(&c, &x);
	CHECK(r == -EINVAL && strstr(nt_err, "no queue 9") != NULL, "queue 9: %d %s", r, nt_err);

	c = cfg_for("nope0", 0, area, size, UNM_XSK_MODE_AUTO, 0);
	CHECK(unm_xsk_create(&c, &x) == -ENODEV, "no interface: %s", nt_err);
	c = cfg_for("va", 0, area + 64, size - BUFSZ, UNM_XSK_MODE_AUTO, 0);
	CHECK(unm_xsk_create(&c, &x) == -EINVAL, "unaligned area accepted");
	c = cfg_for("va", 0, area, size, UNM_XSK_MODE_AUTO, 0);
	c.frame_size = 1024;
	CHECK(unm_xsk_create(&c, &x) == -EINVAL, "1024-byte chunks accepted");
	c = cfg_for("va", 0, area, size, UNM_XSK_MODE_AUTO, 0);
	c.rx_size = 1000;
	CHECK(unm_xsk_create(&c, &x) == -EINVAL, "ring of 1000 accepted");
	c = cfg_for("va", 0, area, size, 7, 0);
	CHECK(unm_xsk_create(&c, &x) == -EINVAL, "mode 7 accepted");
	c = cfg_for("va", 0, area, size, UNM_XSK_MODE_AUTO, 0);
	c.sz = 8;
	CHECK(unm_xsk_create(&c, &x) == -EINVAL, "short cfg accepted");

	CHECK(nt_fd_count() == fds, "descriptors left behind: %d -> %d", fds, nt_fd_count());
	CHECK(nt_map_count() == maps, "mappings left behind: %d -> %d", maps, nt_map_count());

	/* auto on veth: copy mode; nothing left after destroy */
	c = cfg_for("va", 1, area, size, UNM_XSK_MODE_AUTO, 0);
	r = unm_xsk_create(&c, &x);
	REQUIRE(r == 0, "auto mode: %s", nt_err);
	CHECK(strcmp(unm_xsk_mode(x), "copy") == 0 && !unm_xsk_is_zc(x), "mode %s", unm_xsk_mode(x));
	CHECK(unm_xsk_queue(x) == 1 && unm_xsk_fd(x) >= 0, "queue/fd");
	CHECK(unm_xsk_data_off(x) == 0 && unm_xsk_rx_frag_max(x) == BUFSZ - 256, "placement");
	CHECK(unm_xsk_tx_needs_wakeup(x), "copy mode TX needs wakeups");
	CHECK(!unm_xsk_rx_needs_wakeup(x), "copy mode RX never needs wakeups");
	/* the same queue twice */
	struct unm_xsk *y = NULL;
	r = unm_xsk_create(&c, &y);
	CHECK(r == -EBUSY && strstr(nt_err, "busy") != NULL, "second socket on queue 1: %d %s",
	      r, nt_err);
	unm_xsk_destroy(x);
	CHECK(nt_fd_count() == fds, "descriptors left behind: %d -> %d", fds, nt_fd_count());
	CHECK(nt_map_count() == maps, "mappings left behind: %d -> %d", maps, nt_map_count());
}

/* AF_PACKET on vb -> va, all four queues bound */
static void test_rx_inject(void)
{
	static const unsigned sizes[] = { 60, 61, 64, 127, 128, 500, 1000, 1499, 1514 };
	const unsigned nsz = sizeof(sizes) / sizeof(sizes[0]), rounds = 4, total = nsz * rounds;
	unsigned seen[64] = { 0 }, per_q[NT_NQ] = { 0 };
	unsigned char f[2048];
	int s = nt_packet_socket("vb");

	for (unsigned i = 0; i < total; i++) {
		nt_frame(f, sizes[i % nsz], i);
		nt_packet_send(s, "vb", f, sizes[i % nsz]);
	}
	unsigned got = rx_collect(total, seen, total, per_q);
	CHECK(got == total, "injected %u frames, received %u", total, got);
	for (unsigned i = 0; i < total; i++)
		CHECK(seen[i] == 1, "frame %u seen %u times", i, seen[i]);
	printf("AF_PACKET injection: %u frames, per queue %u/%u/%u/%u\n", got, per_q[0], per_q[1],
	       per_q[2], per_q[3]);
	close(s);
	check_pool("rx inject");
}

/* a wrapper socket on vb queue q sends; va queue q (and only it) receives */
static void test_queue_steering(void)
{
	size_t total;
	unsigned char *pb, *vbreg = nt_region(256, BUFSZ, &pb, &total);
	uint64_t vbsize = 256 * BUFSZ;

	for (unsigned q = 0; q < NT_NQ; q++) {
		struct unm_xsk *t = NULL;
		struct unm_xsk_cfg c = cfg_for("vb", q, pb, vbsize, UNM_XSK_MODE_COPY, 0);
		int r = unm_xsk_create(&c, &t);
		REQUIRE(r == 0, "vb queue %u: %s", q, nt_err);
		enum { K = 6 };
		static const unsigned sizes[K] = { 60, 100, 600, 1200, 1513, 1514 };
		struct xdp_desc d[K];
		for (unsigned i = 0; i < K; i++) {
			d[i].addr = (uint64_t)(10 + i) * BUFSZ;
			d[i].len = sizes[i];
			d[i].options = 0;
			nt_frame(pb + d[i].addr, sizes[i], 100 + q * K + i);
		}
		CHECK(unm_xsk_tx(t, d, K) == K, "queue %u: tx", q);
		CHECK(unm_xsk_tx_outstanding(t) == K, "outstanding");
		uint64_t addrs[K];
		unsigned nc = comp_collect(t, addrs, K);
		CHECK(nc == K, "vb queue %u: %u completions of %u", q, nc, K);
		for (unsigned i = 0; i < nc; i++)
			CHECK(addrs[i] == d[i].addr, "completion %u: %#llx", i,
			      (unsigned long long)addrs[i]);
		CHECK(unm_xsk_tx_outstanding(t) == 0, "outstanding after completion");

		unsigned seen[200] = { 0 }, per_q[NT_NQ] = { 0 };
		unsigned got = rx_collect(K, seen, 200, per_q);
		CHECK(got == K && per_q[q] == K, "sent %u on vb queue %u: va got %u/%u/%u/%u",
		      K, q, per_q[0], per_q[1], per_q[2], per_q[3]);
		for (unsigned i = 0; i < K; i++)
			CHECK(seen[100 + q * K + i] == 1, "frame %u", 100 + q * K + i);
		unm_xsk_destroy(t);
	}
	munmap(vbreg, total);
	check_pool("queue steering");
}

/* va -> vb through the wrapper, every queue, plus a data offset */
static void test_tx(void)
{
	int s = nt_packet_socket("vb");
	unsigned char buf[4096];

	for (unsigned q = 0; q < NT_NQ; q++) {
		enum { K = 5 };
		static const unsigned sizes[K] = { 60, 333, 1024, 1514, 200 };
		static const unsigned offs[K] = { 0, 0, 0, 0, 100 };	/* OFFSETS-style */
		struct xdp_desc d[K];
		uint32_t b0 = qbase(q) + FILLN;	/* buffers the kernel does not hold */
		for (unsigned i = 0; i < K; i++) {
			d[i].addr = (uint64_t)(b0 + i) * BUFSZ + offs[i];
			d[i].len = sizes[i];
			d[i].options = 0;
			nt_frame(pool + d[i].addr, sizes[i], 300 + q * K + i);
		}
		CHECK(unm_xsk_tx(va[q], d, K) == K, "queue %u: tx", q);
		CHECK(unm_xsk_tx_kick(va[q]) == 0, "kick: %s", nt_err);
		for (unsigned i = 0; i < K; i++) {
			int len = nt_packet_recv(s, buf, sizeof(buf), DEADLINE_MS);
			CHECK(len == (int)sizes[i], "queue %u frame %u: %d bytes", q, i, len);
			if (len > 0)
				CHECK(nt_frame_check(buf, (unsigned)len) == 300 + q * K + i,
				      "queue %u frame %u corrupt", q, i);
		}
		uint64_t addrs[K];
		CHECK(comp_collect(va[q], addrs, K) == K, "queue %u completions", q);
		for (unsigned i = 0; i < K; i++)
			CHECK(addrs[i] == d[i].addr, "completion %u", i);
		CHECK(unm_xsk_tx_outstanding(va[q]) == 0, "outstanding");
	}
	/* a burst bigger than the kernel's default 32 per sendto */
	enum { B = 300 };
	static struct xdp_desc d[B];
	for (unsigned i = 0; i < B; i++) {
		d[i].addr = (uint64_t)(qbase(3) + PERQ + 1 + (i % 7)) * BUFSZ;	/* gap buffers */
		d[i].len = 60;
		d[i].options = 0;
	}
	/* the gap between queue ranges holds 8 buffers; frames share them */
	for (unsigned i = 0; i < 7; i++)
		nt_frame(pool + (uint64_t)(qbase(3) + PERQ + 1 + i) * BUFSZ, 60, 1000 + i);
	CHECK(unm_xsk_tx(va[0], d, B) == B, "burst");
	CHECK(unm_xsk_tx_kick(va[0]) == 0, "kick: %s", nt_err);
	static uint64_t addrs[B];
	CHECK(comp_collect(va[0], addrs, B) == B, "burst completions");
	unsigned got = 0;
	while (got < B && nt_packet_recv(s, buf, sizeof(buf), 1000) == 60)
		got++;
	CHECK(got == B, "burst: %u of %u frames on the peer", got, B);
	close(s);
}

/* frames longer than one buffer: XDP_PKT_CONTD chains both ways */
static void test_multibuf(struct redirect *rd)
{
	(void)rd;
	for (unsigned q = 0; q < NT_NQ; q++)
		unm_xsk_destroy(va[q]);
	REQUIRE(t_sh("ip link set dev va mtu 3000 && ip link set dev vb mtu 3000") == 0, "mtu");
	reset_pool();
	for (unsigned q = 0; q < NT_NQ; q++) {
		struct unm_xsk_cfg c = cfg_for("va", q, pool, (uint64_t)NBUFS * BUFSZ,
					       UNM_XSK_MODE_AUTO, UNM_XSK_F_SG);
		REQUIRE(unm_xsk_create(&c, &va[q]) == 0, "SG socket: %s", nt_err);
		REQUIRE(unm_xsk_map_insert(rd->map, q, va[q]) == 0, "map: %s", nt_err);
		fill_queue(q);
	}
	if (!unm_xsk_sg(va[0])) {
		CHECK(0, "kernel 6.6+ copy mode supports multi-buffer, not granted here");
		return;
	}
	static const unsigned sizes[] = { 1792, 1793, 2500, 3014, 60 };
	const unsigned n = sizeof(sizes) / sizeof(sizes[0]);
	unsigned char f[4096];
	unsigned seen[16] = { 0 };
	int s = nt_packet_socket("vb");
	for (unsigned i = 0; i < n; i++) {
		nt_frame(f, sizes[i], i);
		nt_packet_send(s, "vb", f, sizes[i]);
	}
	unsigned got = rx_collect(n, seen, 16, NULL);
	CHECK(got == n, "multi-buffer: %u of %u frames", got, n);
	for (unsigned i = 0; i < n; i++)
		CHECK(seen[i] == 1, "frame %u (%u bytes) seen %u times", i, sizes[i], seen[i]);
	unsigned frags = 0;
	for (unsigned b = 0; b < NBUFS; b++)
		frags += used[b];
	CHECK(frags == 1 + 2 + 2 + 2 + 1, "%u fragments", frags);
	check_pool("multi-buffer rx");

	/* TX: a 2500-byte frame in two buffers */
	uint32_t b0 = qbase(1) + PERQ - 4;
	nt_frame(f, 2500, 77);
	memcpy(pool + (uint64_t)b0 * BUFSZ, f, 2048);
	memcpy(pool + (uint64_t)(b0 + 1) * BUFSZ, f + 2048, 452);
	struct xdp_desc d[3] = {
		{ .addr = (uint64_t)b0 * BUFSZ, .len = 2048, .options = XDP_PKT_CONTD },
		{ .addr = (uint64_t)(b0 + 1) * BUFSZ, .len = 452, .options = 0 },
		{ .addr = (uint64_t)(b0 + 2) * BUFSZ, .len = 60, .options = XDP_PKT_CONTD },
	};
	/* the third descriptor opens a frame that does not end: not queued */
	CHECK(unm_xsk_tx(va[1], d, 3) == 2, "whole frames only");
	CHECK(unm_xsk_tx_kick(va[1]) == 0, "kick: %s", nt_err);
	int len = nt_packet_recv(s, f, sizeof(f), DEADLINE_MS);
	CHECK(len == 2500 && nt_frame_check(f, 2500) == 77, "2-buffer frame on the wire: %d", len);
	uint64_t addrs[2];
	CHECK(comp_collect(va[1], addrs, 2) == 2, "completions of a chain");
	close(s);
}

/* aligned chunks: data 256 bytes into the buffer, both ways */
static void test_aligned(struct redirect *rd)
{
	for (unsigned q = 0; q < NT_NQ; q++)
		unm_xsk_destroy(va[q]);
	reset_pool();
	for (unsigned q = 0; q < NT_NQ; q++) {
		struct unm_xsk_cfg c = cfg_for("va", q, pool, (uint64_t)NBUFS * BUFSZ,
					       UNM_XSK_MODE_AUTO, UNM_XSK_F_ALIGNED);
		REQUIRE(unm_xsk_create(&c, &va[q]) == 0, "aligned socket: %s", nt_err);
		REQUIRE(unm_xsk_map_insert(rd->map, q, va[q]) == 0, "map: %s", nt_err);
		CHECK(unm_xsk_data_off(va[q]) == 256, "aligned data offset %u",
		      unm_xsk_data_off(va[q]));
		fill_queue(q);
	}
	static const unsigned sizes[] = { 60, 777, 1514, 1792 };
	const unsigned n = sizeof(sizes) / sizeof(sizes[0]);
	unsigned char f[2048];
	unsigned seen[8] = { 0 };
	int s = nt_packet_socket("vb");
	for (unsigned i = 0; i < n; i++) {
		nt_frame(f, sizes[i], i);
		nt_packet_send(s, "vb", f, sizes[i]);
	}
	CHECK(rx_collect(n, seen, 8, NULL) == n, "aligned: frames lost");
	for (unsigned i = 0; i < n; i++)
		CHECK(seen[i] == 1, "aligned: frame %u seen %u times", i, seen[i]);
	check_pool("aligned rx");

	/* TX from a buffer the kernel does not hold, data at offset 256 */
	uint64_t a = (uint64_t)(qbase(2) + FILLN) * BUFSZ + 256;
	nt_frame(pool + a, 1000, 9);
	struct xdp_desc d = { .addr = a, .len = 1000 };
	CHECK(unm_xsk_tx(va[2], &d, 1) == 1 && unm_xsk_tx_kick(va[2]) == 0, "aligned tx");
	int len = nt_packet_recv(s, f, sizeof(f), DEADLINE_MS);
	CHECK(len == 1000 && nt_frame_check(f, 1000) == 9, "aligned tx: %d bytes", len);
	uint64_t back;
	CHECK(comp_collect(va[2], &back, 1) == 1 && back == a, "aligned completion");
	close(s);
}

int main(void)
{
	t_setup(120);
	nt_setup_netns();

	size_t total;
	unsigned char *region = nt_region(NBUFS, BUFSZ, &pool, &total);
	uint64_t psize = (uint64_t)NBUFS * BUFSZ;
	(void)region;

	struct redirect rd;
	redirect_attach("va", &rd);
	test_errors(pool, psize);

	reset_pool();
	for (unsigned q = 0; q < NT_NQ; q++) {
		struct unm_xsk_cfg c = cfg_for("va", q, pool, psize, UNM_XSK_MODE_AUTO, 0);
		REQUIRE(unm_xsk_create(&c, &va[q]) == 0, "va queue %u: %s", q, nt_err);
		REQUIRE(unm_xsk_map_insert(rd.map, q, va[q]) == 0, "map insert: %s", nt_err);
		fill_queue(q);
	}
	printf("va: %s mode, multi-buffer %s\n", unm_xsk_mode(va[0]), unm_xsk_sg(va[0]) ? "on" : "off");

	test_rx_inject();
	test_queue_steering();
	test_tx();
	struct xdp_statistics st;
	CHECK(unm_xsk_stats(va[0], &st) == 0, "stats");
	CHECK(st.rx_invalid_descs == 0 && st.tx_invalid_descs == 0, "invalid descriptors %llu/%llu",
	      (unsigned long long)st.rx_invalid_descs, (unsigned long long)st.tx_invalid_descs);
	test_multibuf(&rd);
	test_aligned(&rd);

	for (unsigned q = 0; q < NT_NQ; q++) {
		unm_xsk_destroy(va[q]);
		CHECK(unm_xsk_map_remove(rd.map, q) == 0, "map remove after close: %s", nt_err);
	}
	close(rd.link);
	close(rd.prog);
	close(rd.map);
	return t_done();
}
