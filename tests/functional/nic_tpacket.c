/*
 * nic_tpacket: the TPACKET_V3 data-path wrapper (src/nic/tpacket.c) on a
 * 4-queue veth pair in a private network namespace:
 *  - bad configurations fail cleanly and leave nothing behind;
 *  - frames injected on the peer arrive intact with their length and a
 *    receive time between send and receive, within a few block-retire
 *    timeouts; a VLAN tag moved out of the frame by the kernel is put back;
 *  - frames carrying the host-TX mark are not seen;
 *  - a socket for queue q sees the frames of veth queue q only (sent by an
 *    AF_XDP socket on the peer's queue q), one for every queue sees all;
 *  - frames sent through the TX ring and through sendmmsg reach the peer
 *    intact, also in bursts larger than the ring, and the socket's own RX
 *    ring does not see them (PACKET_IGNORE_OUTGOING); a socket without RX
 *    ring sends too.
 * Needs root; skips otherwise.
 */
#include "testlib.h"
#include "nictest.h"
#include <linux/if_xdp.h>

#include "nic/tpacket.h"
#include "nic/xsk.h"

#define MARK	0x756e6d00u	/* UNM_NIC_MARK */
#define DEADLINE_MS 3000

static struct unm_tpk_cfg cfg_for(const char *ifname, int32_t queue, uint32_t flags)
{
	struct unm_tpk_cfg c = {
		.sz = sizeof(c), .ifname = ifname, .queue = queue, .qmap = UNM_TPK_QMAP_AUTO,
		.ignore_mark = MARK, .block_size = 64u << 10, .block_nr = 8, .retire_ms = 1,
		.tx_frames = 256, .tx_frame_max = 2048, .flags = flags,
	};
	return c;
}

static int64_t realtime_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Receive up to `want` test frames on t within the deadline: seen[no]++,
 * and every frame intact.  Returns how many. */
static unsigned rx_collect(struct unm_tpk *t, unsigned want, unsigned *seen, unsigned nseen,
			   int64_t t_min, int deadline_ms)
{
	unsigned got = 0;
	int64_t t0 = unm_test_now_ms();
	while (got < want && unm_test_now_ms() - t0 < deadline_ms) {
		struct unm_tpk_frame f;
		int k = 0;
		while (unm_tpk_rx_next(t, &f) == 1) {
			k++;
			CHECK(f.len == f.snaplen, "len %u snaplen %u", f.len, f.snaplen);
			long no = nt_frame_check(f.data, f.snaplen);
			CHECK(no >= 0 && (unsigned long)no < nseen, "corrupt frame of %u bytes",
			      f.snaplen);
			if (no < 0 || (unsigned long)no >= nseen)
				continue;
			seen[no]++;
			got++;
			int64_t ts = (int64_t)f.ts.tv_sec * 1000000000 + f.ts.tv_nsec;
			CHECK(ts >= t_min && ts <= realtime_ns(), "receive time %lld outside "
			      "[%lld, now]", (long long)ts, (long long)t_min);
		}
		unm_tpk_rx_release(t);
		if (k == 0)
			usleep(500);
	}
	return got;
}

static void test_errors(void)
{
	struct unm_tpk *t = (struct unm_tpk *)1;
	int fds = nt_fd_count(), maps = nt_map_count();

	struct unm_tpk_cfg c = cfg_for("nope0", -1, 0);
	CHECK(unm_tpk_create(&c, &t) == -ENODEV && t == NULL, "no interface: %s", nt_err);
	c = cfg_for("va", -1, 0);
	c.block_size = 5000;
	CHECK(unm_tpk_create(&c, &t) == -EINVAL, "block of 5000 bytes accepted");
	c = cfg_for("va", -1, 0x80);
	CHECK(unm_tpk_create(&c, &t) == -EINVAL, "unknown flag accepted");
	c = cfg_for("va", -7, 0);
	CHECK(unm_tpk_create(&c, &t) == -EINVAL, "queue -7 accepted");
	c = cfg_for("va", -1, 0);
	c.sz = 4;
	CHECK(unm_tpk_create(&c, &t) == -EINVAL, "short cfg accepted");
	CHECK(nt_fd_count() == fds && nt_map_count() == maps, "left behind: fds %d->%d maps %d->%d",
	      fds, nt_fd_count(), maps, nt_map_count());

	c = cfg_for("va", -1, 0);
	REQUIRE(unm_tpk_create(&c, &t) == 0, "create: %s", nt_err);
	CHECK(unm_tpk_fd(t) >= 0 && !unm_tpk_rx_ready(t), "fd / nothing ready");
	CHECK(unm_tpk_tx_room(t) >= 256, "TX room %u", unm_tpk_tx_room(t));
	unm_tpk_destroy(t);
	CHECK(nt_fd_count() == fds && nt_map_count() == maps, "left behind after destroy");
}

static void test_rx(void)
{
	static const unsigned sizes[] = { 60, 61, 64, 200, 999, 1500, 1514 };
	const unsigned nsz = sizeof(sizes) / sizeof(sizes[0]), total = nsz * 10;
	unsigned char f[2048];
	unsigned seen[128] = { 0 };
	struct unm_tpk_cfg c = cfg_for("va", -1, UNM_TPK_F_NO_TX);
	struct unm_tpk *t;
	REQUIRE(unm_tpk_create(&c, &t) == 0, "create: %s", nt_err);
	int s = nt_packet_socket("vb");

	/* one frame: delivered by the block retire timeout, soon */
	int64_t t_min = realtime_ns();
	nt_frame(f, 60, 0);
	int64_t t0 = unm_test_now_ms();
	nt_packet_send(s, "vb", f, 60);
	CHECK(rx_collect(t, 1, seen, 128, t_min, DEADLINE_MS) == 1, "one frame");
	int64_t dt = unm_test_now_ms() - t0;
	CHECK(dt < 500, "one frame took %lld ms (retire timeout 1 ms)", (long long)dt);
	printf("single frame latency: %lld ms\n", (long long)dt);
	seen[0] = 0;

	for (unsigned i = 0; i < total; i++) {
		nt_frame(f, sizes[i % nsz], i);
		nt_packet_send(s, "vb", f, sizes[i % nsz]);
	}
	unsigned got = rx_collect(t, total, seen, 128, t_min, DEADLINE_MS);
	CHECK(got == total, "sent %u, received %u", total, got);
	for (unsigned i = 0; i < total; i++)
		CHECK(seen[i] == 1, "frame %u seen %u times", i, seen[i]);

	/* frames with the host-TX mark are not delivered; others are */
	int ms = nt_packet_socket("vb");
	uint32_t mark = MARK;
	REQUIRE(setsockopt(ms, SOL_SOCKET, SO_MARK, &mark, sizeof(mark)) == 0, "SO_MARK");
	memset(seen, 0, sizeof(seen));
	for (unsigned i = 0; i < 20; i++) {
		nt_frame(f, 100, i);
		nt_packet_send(i % 2 ? ms : s, "vb", f, 100);
	}
	got = rx_collect(t, 20, seen, 128, t_min, 300);
	CHECK(got == 10, "marked frames: %u of 20 delivered, want the 10 unmarked", got);
	for (unsigned i = 0; i < 20; i++)
		CHECK(seen[i] == (i % 2 ? 0u : 1u), "frame %u (%smarked) seen %u times", i,
		      i % 2 ? "" : "un", seen[i]);

	/* a VLAN-tagged frame comes out as it was sent */
	unsigned char v[200], inner[196];
	nt_frame(inner, 196, 42);
	memcpy(v, inner, 12);
	v[12] = 0x81; v[13] = 0x00; v[14] = 0x21; v[15] = 0x23;	/* PCP 1, VID 0x123 */
	memcpy(v + 16, inner + 12, 196 - 12);
	nt_packet_send(s, "vb", v, 200);
	struct unm_tpk_frame fr;
	int k = 0;
	for (int64_t t1 = unm_test_now_ms(); k == 0 && unm_test_now_ms() - t1 < DEADLINE_MS; )
		if ((k = unm_tpk_rx_next(t, &fr)) == 0)
			usleep(500);
	CHECK(k == 1 && fr.len == 200 && fr.snaplen == 200 && memcmp(fr.data, v, 200) == 0,
	      "VLAN frame: got %d, %u bytes, %s", k, k ? fr.snaplen : 0,
	      k && fr.snaplen == 200 && memcmp(fr.data, v, 200) == 0 ? "same" : "different");
	unm_tpk_rx_release(t);

	uint64_t pk, dr;
	CHECK(unm_tpk_stats(t, &pk, &dr) == 0 && dr == 0, "drops %llu", (unsigned long long)dr);
	close(ms);
	close(s);
	unm_tpk_destroy(t);
}

/* sockets for queues 0..3 and one for all; frames sent on vb queue q by an
 * AF_XDP socket (the only way to pick the queue) */
static void test_queues(void)
{
	struct unm_tpk *tq[NT_NQ], *all;
	for (int q = 0; q < NT_NQ; q++) {
		struct unm_tpk_cfg c = cfg_for("va", q, UNM_TPK_F_NO_TX);
		REQUIRE(unm_tpk_create(&c, &tq[q]) == 0, "queue %d: %s", q, nt_err);
	}
	struct unm_tpk_cfg c = cfg_for("va", -1, UNM_TPK_F_NO_TX);
	REQUIRE(unm_tpk_create(&c, &all) == 0, "all queues: %s", nt_err);

	size_t total;
	unsigned char *pb, *reg = nt_region(64, 2048, &pb, &total);
	int64_t t_min = realtime_ns();
	for (unsigned q = 0; q < NT_NQ; q++) {
		struct unm_xsk *x;
		struct unm_xsk_cfg xc = {
			.sz = sizeof(xc), .ifname = "vb", .queue = q, .umem_area = pb,
			.umem_size = 64 * 2048, .frame_size = 2048, .rx_size = 64, .tx_size = 64,
			.fill_size = 64, .comp_size = 64, .mode = UNM_XSK_MODE_COPY,
		};
		REQUIRE(unm_xsk_create(&xc, &x) == 0, "AF_XDP on vb queue %u: %s", q, nt_err);
		enum { K = 5 };
		struct xdp_desc d[K];
		for (unsigned i = 0; i < K; i++) {
			d[i] = (struct xdp_desc){ .addr = (4 + i) * 2048, .len = 60 + 300 * i };
			nt_frame(pb + d[i].addr, d[i].len, q * K + i);
		}
		CHECK(unm_xsk_tx(x, d, K) == K && unm_xsk_tx_kick(x) == 0, "send: %s", nt_err);
		uint64_t a[K];
		unsigned done = 0;
		for (int64_t t0 = unm_test_now_ms(); done < K && unm_test_now_ms() - t0 < DEADLINE_MS; )
			if ((done += unm_xsk_comp(x, a + done, K - done)) < K)
				usleep(500);
		CHECK(done == K, "completions %u", done);

		for (unsigned p = 0; p < NT_NQ; p++) {
			unsigned seen[NT_NQ * K] = { 0 };
			unsigned got = rx_collect(tq[p], p == q ? K : 1, seen, NT_NQ * K, t_min,
						  p == q ? DEADLINE_MS : 100);
			CHECK(got == (p == q ? (unsigned)K : 0u),
			      "frames sent on queue %u: the queue %u socket got %u", q, p, got);
			for (unsigned i = 0; p == q && i < K; i++)
				CHECK(seen[q * K + i] == 1, "frame %u", q * K + i);
		}
		unm_xsk_destroy(x);
	}
	unsigned seen[NT_NQ * 5] = { 0 };
	CHECK(rx_collect(all, NT_NQ * 5, seen, NT_NQ * 5, t_min, DEADLINE_MS) == NT_NQ * 5,
	      "the all-queue socket");
	munmap(reg, total);
	for (int q = 0; q < NT_NQ; q++)
		unm_tpk_destroy(tq[q]);
	unm_tpk_destroy(all);
}

/* TX ring or sendmmsg: va -> vb */
static void test_tx(uint32_t flags, const char *how)
{
	struct unm_tpk_cfg c = cfg_for("va", -1, flags);
	struct unm_tpk *t;
	REQUIRE(unm_tpk_create(&c, &t) == 0, "create: %s", nt_err);
	int s = nt_packet_socket("vb");
	unsigned char f[2048], buf[4096];
	unsigned room0 = unm_tpk_tx_room(t);

	static const unsigned sizes[] = { 60, 128, 1000, 1514 };
	for (unsigned i = 0; i < 4; i++) {
		uint32_t cap;
		unsigned char *p = unm_tpk_tx_slot(t, &cap);
		REQUIRE(p != NULL && cap >= 2048, "slot");
		nt_frame(p, sizes[i], i);
		unm_tpk_tx_commit(t, sizes[i]);
	}
	/* a frame gathered from two pieces */
	nt_frame(f, 700, 4);
	struct iovec iov[2] = { { f, 100 }, { f + 100, 600 } };
	CHECK(unm_tpk_tx_frame(t, iov, 2) == 1, "gathered frame");
	struct iovec big = { f, 4000 };
	CHECK(unm_tpk_tx_frame(t, &big, 1) == -EMSGSIZE, "a frame above tx_frame_max");
	CHECK(unm_tpk_tx_flush(t) == 0, "%s flush: %s", how, nt_err);
	for (unsigned i = 0; i < 5; i++) {
		int len = nt_packet_recv(s, buf, sizeof(buf), DEADLINE_MS);
		unsigned want = i < 4 ? sizes[i] : 700;
		CHECK(len == (int)want && nt_frame_check(buf, want) == i,
		      "%s frame %u: %d bytes", how, i, len);
	}
	unsigned reaped = 0;
	for (int64_t t0 = unm_test_now_ms(); reaped < 5 && unm_test_now_ms() - t0 < DEADLINE_MS; )
		if ((reaped += unm_tpk_tx_reap(t)) < 5)
			usleep(500);
	CHECK(reaped == 5 && unm_tpk_tx_room(t) == room0, "%s: reaped %u, room %u of %u", how,
	      reaped, unm_tpk_tx_room(t), room0);

	/* more frames than the ring holds: fill, flush, reap, again */
	enum { N = 3000 };
	unsigned sent = 0, rcvd = 0, bad = 0;
	int64_t t0 = unm_test_now_ms();
	while ((sent < N || rcvd < N) && unm_test_now_ms() - t0 < 10000) {
		unm_tpk_tx_reap(t);
		uint32_t cap;
		unsigned char *p;
		while (sent < N && (p = unm_tpk_tx_slot(t, &cap)) != NULL) {
			nt_frame(p, 60 + sent % 200, sent);
			unm_tpk_tx_commit(t, 60 + sent % 200);
			sent++;
		}
		CHECK(unm_tpk_tx_flush(t) == 0, "flush: %s", nt_err);
		int len;
		while ((len = nt_packet_recv(s, buf, sizeof(buf), 0)) > 0) {
			bad += nt_frame_check(buf, (unsigned)len) != rcvd;
			rcvd++;
		}
	}
	CHECK(sent == N && rcvd == N && bad == 0, "%s burst: sent %u, received %u, %u out of "
	      "order or corrupt", how, sent, rcvd, bad);

	/* our own transmissions are not received by this socket */
	struct unm_tpk_frame fr;
	CHECK(unm_tpk_rx_next(t, &fr) == 0, "%s: own frames seen on RX", how);
	close(s);
	unm_tpk_destroy(t);
}

int main(void)
{
	t_setup(120);
	nt_setup_netns();
	test_errors();
	test_rx();
	test_queues();
	test_tx(0, "sendmmsg");
	test_tx(UNM_TPK_F_TX_RING, "TX ring");
	test_tx(UNM_TPK_F_NO_RX, "TX only");
	return t_done();
}
