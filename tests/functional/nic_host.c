/*
 * nic_host: the host-ring objects of a NIC session (src/nic/kobj.c) and the
 * paths around tc egress, on a 4-queue veth pair in a private network
 * namespace, with the XDP and with the packet backend:
 *  - the TAP (UNM_NIC_F_HOST): O_NONBLOCK, va's MTU; a UDP datagram the
 *    stack sends through va is read from the TAP fd and does not reach the
 *    wire (vb); a frame written to the TAP fd reaches a UDP socket of the
 *    namespace as if it had arrived on va, carrying UNM_NIC_MARK (a packet
 *    socket of va with a classic BPF filter on SKF_AD_MARK sees it);
 *  - our own transmissions skip tc egress: a frame sent on va by an
 *    AF_PACKET socket with PACKET_QDISC_BYPASS, and one sent by an AF_XDP
 *    socket (copy mode), reach vb and not the TAP; the same frame from an
 *    AF_PACKET socket without the bypass goes to the TAP (the contrast);
 *  - AF_XDP RX through the passed XSKMAP: a frame from vb reaches the
 *    AF_XDP socket bound to its queue, and not the stack;
 *  - without F_HOST the stack's transmissions are dropped; the TAP can be
 *    asked for later (unm_nic_session_host) and is then shared.
 * Needs root; skips otherwise.
 */
#include <sys/mman.h>
#include <linux/filter.h>
#include <linux/if_tun.h>
#include <xdp/xsk.h>
#include "kobjtest.h"

#define EG_PORT 7777

/* the stack sends a UDP datagram to 10.0.0.5 (static neighbour on va) */
static void stack_send(const char *payload)
{
	int s = socket(AF_INET, SOCK_DGRAM, 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(EG_PORT) };
	inet_pton(AF_INET, "10.0.0.5", &a.sin_addr);
	REQUIRE(s >= 0 && sendto(s, payload, strlen(payload), 0, (struct sockaddr *)&a,
				 sizeof(a)) == (ssize_t)strlen(payload), "udp send");
	close(s);
}

/* a frame for vb's side, from va */
static size_t frame_to_vb(uint8_t *f, const char *payload)
{
	return t_udp_frame(f, t_vb_mac, t_va_mac, "10.0.0.1", "10.0.0.2", EG_PORT, payload);
}

static void packet_send_va(const char *payload, bool bypass)
{
	uint8_t f[256];
	size_t n = frame_to_vb(f, payload);
	int s = socket(AF_PACKET, SOCK_RAW, 0);
	int one = 1;
	REQUIRE(s >= 0, "packet socket");
	if (bypass)
		REQUIRE(setsockopt(s, SOL_PACKET, PACKET_QDISC_BYPASS, &one, sizeof(one)) == 0,
			"PACKET_QDISC_BYPASS");
	struct sockaddr_ll ll;
	memset(&ll, 0, sizeof(ll));
	ll.sll_family = AF_PACKET;
	ll.sll_ifindex = t_va;
	ll.sll_halen = 6;
	memcpy(ll.sll_addr, t_vb_mac, 6);
	REQUIRE(sendto(s, f, n, 0, (struct sockaddr *)&ll, sizeof(ll)) == (ssize_t)n, "send on va");
	close(s);
}

/* a packet socket on va that accepts only frames marked UNM_NIC_MARK */
static int marked_capture(void)
{
	struct sock_filter code[] = {
		{ BPF_LD | BPF_W | BPF_ABS, 0, 0, (uint32_t)(SKF_AD_OFF + SKF_AD_MARK) },
		{ BPF_JMP | BPF_JEQ | BPF_K, 0, 1, UNM_NIC_MARK },
		{ BPF_RET | BPF_K, 0, 0, 0xffff },
		{ BPF_RET | BPF_K, 0, 0, 0 },
	};
	struct sock_fprog prog = { .len = 4, .filter = code };
	int s = socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK, 0);
	REQUIRE(s >= 0 && setsockopt(s, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof(prog)) == 0,
		"mark filter");
	struct sockaddr_ll ll;
	memset(&ll, 0, sizeof(ll));
	ll.sll_family = AF_PACKET;
	ll.sll_protocol = htons(ETH_P_ALL);
	ll.sll_ifindex = t_va;
	REQUIRE(bind(s, (struct sockaddr *)&ll, sizeof(ll)) == 0, "bind capture");
	return s;
}

/* ---- AF_XDP (libxdp's xsk helpers, our program: loading inhibited) ------- */

#define XFRAMES 64
#define XFSZ 4096u

struct xq {
	void *area;
	struct xsk_umem *umem;
	struct xsk_ring_prod fill, tx;
	struct xsk_ring_cons comp, rx;
	struct xsk_socket *xsk;
};

static int xq_open(struct xq *x, uint32_t queue)
{
	memset(x, 0, sizeof(*x));
	x->area = mmap(NULL, XFRAMES * XFSZ, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (x->area == MAP_FAILED)
		return -errno;
	struct xsk_umem_config uc = { .fill_size = XFRAMES, .comp_size = XFRAMES,
				      .frame_size = XFSZ, .frame_headroom = 0, .flags = 0 };
	int r = xsk_umem__create(&x->umem, x->area, XFRAMES * XFSZ, &x->fill, &x->comp, &uc);
	if (r)
		return r;
	struct xsk_socket_config sc = { .rx_size = XFRAMES, .tx_size = XFRAMES,
					.libxdp_flags = XSK_LIBXDP_FLAGS__INHIBIT_PROG_LOAD,
					.xdp_flags = 0, .bind_flags = XDP_COPY };
	r = xsk_socket__create(&x->xsk, "va", queue, x->umem, &x->rx, &x->tx, &sc);
	if (r)
		return r;
	uint32_t idx;
	if (xsk_ring_prod__reserve(&x->fill, XFRAMES / 2, &idx) != XFRAMES / 2)
		return -ENOSPC;
	for (uint32_t i = 0; i < XFRAMES / 2; i++)
		*xsk_ring_prod__fill_addr(&x->fill, idx + i) = (uint64_t)i * XFSZ;
	xsk_ring_prod__submit(&x->fill, XFRAMES / 2);
	return 0;
}

static void xq_close(struct xq *x)
{
	if (x->xsk)
		xsk_socket__delete(x->xsk);
	if (x->umem)
		xsk_umem__delete(x->umem);
	if (x->area && x->area != MAP_FAILED)
		munmap(x->area, XFRAMES * XFSZ);
	memset(x, 0, sizeof(*x));
}

static bool xq_send(struct xq *x, const char *payload)
{
	uint32_t idx;
	if (xsk_ring_prod__reserve(&x->tx, 1, &idx) != 1)
		return false;
	uint64_t addr = (uint64_t)(XFRAMES - 1) * XFSZ;
	size_t n = frame_to_vb((uint8_t *)x->area + addr, payload);
	struct xdp_desc *d = xsk_ring_prod__tx_desc(&x->tx, idx);
	d->addr = addr;
	d->len = (uint32_t)n;
	d->options = 0;
	xsk_ring_prod__submit(&x->tx, 1);
	return sendto(xsk_socket__fd(x->xsk), NULL, 0, MSG_DONTWAIT, NULL, 0) >= 0 ||
	       errno == EAGAIN || errno == EBUSY || errno == ENOBUFS;
}

/* wait up to ms for a frame carrying payload on any of n sockets */
static int xq_wait(struct xq *x, int n, const char *payload, int ms)
{
	int64_t end = unm_test_now_ms() + ms;
	while (unm_test_now_ms() < end) {
		for (int q = 0; q < n; q++) {
			uint32_t idx;
			unsigned k = xsk_ring_cons__peek(&x[q].rx, 16, &idx);
			for (unsigned i = 0; i < k; i++) {
				const struct xdp_desc *d = xsk_ring_cons__rx_desc(&x[q].rx, idx + i);
				const char *data = xsk_umem__get_data(x[q].area, d->addr);
				if (memmem(data, d->len, payload, strlen(payload)) != NULL) {
					xsk_ring_cons__release(&x[q].rx, k);
					return q;
				}
			}
			if (k)
				xsk_ring_cons__release(&x[q].rx, k);
		}
		usleep(2000);
	}
	return -1;
}

/* ---- tests ------------------------------------------------------------------- */

static int if_mtu_of(const char *name)
{
	struct ifreq ifr;
	int s = socket(AF_INET, SOCK_DGRAM, 0);
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	int r = ioctl(s, SIOCGIFMTU, &ifr) == 0 ? ifr.ifr_mtu : -1;
	close(s);
	return r;
}

static void test_host(uint32_t backend)
{
	char why[160], tag[64];
	const char *bn = unm_nic_backend_name(backend);
	struct unm_nic_opts o = { .sz = sizeof(o), .backend = backend, .flags = UNM_NIC_F_HOST };
	struct unm_nic_session s;
	REQUIRE(unm_nic_session_open("va", &o, &s) == 0, "%s open: %s", bn, unetmap_last_error());
	CHECK(s.info.backend == backend, "%s: backend %u", bn, s.info.backend);
	CHECK(s.tap_fd >= 0 && (s.info.flags & UNM_NIC_I_HOST) && s.info.tap_ifindex != 0 &&
	      s.info.tap_link_id != 0, "%s: TAP info", bn);
	CHECK(if_nametoindex(s.info.tap_name) == s.info.tap_ifindex, "%s: TAP %s", bn,
	      s.info.tap_name);
	CHECK(fcntl(s.tap_fd, F_GETFL) & O_NONBLOCK, "%s: TAP fd blocking", bn);
	CHECK(if_mtu_of(s.info.tap_name) == if_mtu_of("va"), "%s: TAP MTU %d", bn,
	      if_mtu_of(s.info.tap_name));
	CHECK(t_tcx_count((int)s.info.tap_ifindex, T_TCX_INGRESS) == 1, "%s: TAP ingress link", bn);
	int vb = t_capture(t_vb);

	/* stack TX -> TAP, not the wire */
	snprintf(tag, sizeof(tag), "egress-%s", bn);
	stack_send(tag);
	CHECK(t_wait_payload(s.tap_fd, tag, 1000), "%s: the stack's datagram not on the TAP", bn);
	CHECK(!t_wait_payload(vb, tag, 200), "%s: the stack's datagram reached the wire", bn);

	/* TAP -> stack, marked */
	int u = t_udp_sock(T_UDP_PORT);
	int mc = marked_capture();
	uint8_t f[256];
	const uint8_t src[6] = { 0x02, 0, 0, 0, 0, 0x09 };
	snprintf(tag, sizeof(tag), "tap-in-%s", bn);
	size_t n = t_udp_frame(f, t_va_mac, src, "10.0.0.9", "10.0.0.1", T_UDP_PORT, tag);
	CHECK(write(s.tap_fd, f, n) == (ssize_t)n, "%s: write TAP: %s", bn, strerror(errno));
	CHECK(t_wait_payload(u, tag, 1000), "%s: frame written to the TAP not received", bn);
	CHECK(t_wait_payload(mc, tag, 500), "%s: re-injected frame not seen marked on va", bn);
	close(mc);
	close(u);

	/* our own transmissions skip tc egress */
	snprintf(tag, sizeof(tag), "bypass-%s", bn);
	packet_send_va(tag, true);
	CHECK(t_wait_payload(vb, tag, 1000), "%s: PACKET_QDISC_BYPASS frame not on the wire", bn);
	CHECK(!t_wait_payload(s.tap_fd, tag, 200), "%s: PACKET_QDISC_BYPASS frame diverted", bn);
	snprintf(tag, sizeof(tag), "qdisc-%s", bn);
	packet_send_va(tag, false);
	CHECK(t_wait_payload(s.tap_fd, tag, 1000), "%s: packet frame via qdisc not diverted", bn);
	CHECK(!t_wait_payload(vb, tag, 200), "%s: packet frame via qdisc on the wire", bn);

	if (backend == UNM_NIC_XDP) {
		struct xq x[4];
		int r = 0;
		for (uint32_t q = 0; q < 4 && r == 0; q++)
			if ((r = xq_open(&x[q], q)) == 0)
				r = xsk_socket__update_xskmap(x[q].xsk, s.xskmap_fd);
		CHECK(r == 0, "AF_XDP sockets: %s", strerror(-r));
		if (r == 0) {
			snprintf(tag, sizeof(tag), "xsk-tx");
			CHECK(xq_send(&x[0], tag), "AF_XDP send");
			CHECK(t_wait_payload(vb, tag, 1000), "AF_XDP frame not on the wire");
			CHECK(!t_wait_payload(s.tap_fd, tag, 200), "AF_XDP frame diverted");
			u = t_udp_sock(T_UDP_PORT);
			t_inject_to_va("xsk-rx");
			int q = xq_wait(x, 4, "xsk-rx", 1000);
			CHECK(q >= 0, "frame from vb not on any AF_XDP socket");
			CHECK(!t_wait_payload(u, "xsk-rx", 200), "frame for AF_XDP reached the stack");
			close(u);
		}
		for (int q = 0; q < 4; q++)
			xq_close(&x[q]);
	}
	close(vb);
	pid_t h = s.info.helper_pid;
	unm_nic_session_close(&s);
	CHECK(t_nic_clean(1000, h, why, sizeof(why)), "%s: after close: %s", bn, why);
}

static void test_lazy(void)
{
	char why[160];
	struct unm_nic_session s, s2;
	REQUIRE(unm_nic_session_open("va", NULL, &s) == 0, "open: %s", unetmap_last_error());
	CHECK(s.tap_fd < 0 && t_taps() == 0, "TAP without F_HOST");
	int vb = t_capture(t_vb);
	stack_send("lazy-dropped");
	CHECK(!t_wait_payload(vb, "lazy-dropped", 300), "stack TX on the wire without host rings");
	CHECK(unm_nic_session_host(&s) == 0, "host: %s", unetmap_last_error());
	CHECK(s.tap_fd >= 0 && (s.info.flags & UNM_NIC_I_HOST) && t_taps() == 1, "lazy TAP");
	stack_send("lazy-tap");
	CHECK(t_wait_payload(s.tap_fd, "lazy-tap", 1000), "stack TX not on the lazy TAP");
	CHECK(unm_nic_session_host(&s) == 0, "host twice");
	/* a second session gets the same TAP */
	struct unm_nic_opts o = { .sz = sizeof(o), .flags = UNM_NIC_F_HOST };
	REQUIRE(unm_nic_session_open("va", &o, &s2) == 0, "open 2: %s", unetmap_last_error());
	struct ifreq a, b;
	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	CHECK(s2.tap_fd >= 0 && ioctl(s.tap_fd, TUNGETIFF, &a) == 0 &&
	      ioctl(s2.tap_fd, TUNGETIFF, &b) == 0 && strcmp(a.ifr_name, b.ifr_name) == 0 &&
	      t_taps() == 1, "shared TAP %s / %s", a.ifr_name, b.ifr_name);
	CHECK(unm_nic_session_refresh(&s) == 0 && s.info.users == 2, "users %u", s.info.users);
	pid_t h = s.info.helper_pid;
	unm_nic_session_close(&s2);
	unm_nic_session_close(&s);
	close(vb);
	CHECK(t_nic_clean(1000, h, why, sizeof(why)), "after lazy: %s", why);
}

int main(void)
{
	t_nic_setup(120);
	REQUIRE(t_sh("ip neigh add 10.0.0.5 lladdr 02:00:00:00:00:05 dev va nud permanent && "
		     "ip neigh add 10.0.0.2 lladdr %02x:%02x:%02x:%02x:%02x:%02x dev va nud permanent",
		     t_vb_mac[0], t_vb_mac[1], t_vb_mac[2], t_vb_mac[3], t_vb_mac[4],
		     t_vb_mac[5]) == 0, "static neighbours");
	test_host(UNM_NIC_XDP);
	test_host(UNM_NIC_PACKET);
	test_lazy();
	return t_nic_done();
}
