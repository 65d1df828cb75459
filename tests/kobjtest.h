/* Helpers of the NIC kernel-object tests (nic_kobj, nic_refuse, nic_host): a private network
 * namespace with a 4-queue veth pair va/vb, frames, and what is attached.
 *
 *   va  10.0.0.1/24, the interface under test (netmap:va)
 *   vb  its peer, no address: frames are injected and captured there with
 *       packet sockets, so that they really cross the veth
 * IPv6 is off in the namespace (no background traffic). The namespace, the
 * veths and whatever a failed test left attached die with the process. */
#ifndef UNETMAP_KOBJTEST_H
#define UNETMAP_KOBJTEST_H
#include <arpa/inet.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <stdarg.h>
#include <stdbool.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <linux/bpf.h>
#include <linux/capability.h>
#include <linux/if_ether.h>
#include <linux/if_link.h>
#include <linux/if_packet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "testlib.h"
#include "unetmap.h"
#include "nic/kobj.h"

#define T_TCX_INGRESS	46
#define T_TCX_EGRESS	47
#define T_UDP_PORT	9999

static int t_va, t_vb;			/* ifindexes */
static uint8_t t_va_mac[6], t_vb_mac[6];

static inline void t_write_file(const char *path, const char *val)
{
	int fd = open(path, O_WRONLY);
	if (fd >= 0) {
		if (write(fd, val, strlen(val)) < 0) { /* best effort */ }
		close(fd);
	}
}

static inline void t_mac(const char *ifname, uint8_t mac[6])
{
	struct ifreq ifr;
	int s = socket(AF_INET, SOCK_DGRAM, 0);
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	REQUIRE(s >= 0 && ioctl(s, SIOCGIFHWADDR, &ifr) == 0, "SIOCGIFHWADDR %s", ifname);
	memcpy(mac, ifr.ifr_hwaddr.sa_data, 6);
	close(s);
}

/* Skip unless root with the kernel features; then a new netns with va/vb.
 * Also makes this process the subreaper of the NIC helpers (PID 1 may not
 * reap them): t_helper_gone() reaps. */
static inline void t_nic_setup(unsigned timeout_s)
{
	t_setup(timeout_s);
	if (geteuid() != 0) {
		printf("needs root (network namespaces, BPF, veth)\n");
		exit(T_SKIP);
	}
	if (access("/dev/net/tun", R_OK | W_OK) != 0) {
		printf("no /dev/net/tun\n");
		exit(T_SKIP);
	}
	if (t_sh("command -v ip >/dev/null") != 0) {
		printf("no ip command (iproute2)\n");
		exit(T_SKIP);
	}
	if (unshare(CLONE_NEWNET) != 0) {
		printf("unshare(CLONE_NEWNET): %s\n", strerror(errno));
		exit(T_SKIP);
	}
	prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
	t_write_file("/proc/sys/net/ipv6/conf/all/disable_ipv6", "1");
	t_write_file("/proc/sys/net/ipv6/conf/default/disable_ipv6", "1");
	REQUIRE(t_sh("ip link set lo up && "
		     "ip link add va numrxqueues 4 numtxqueues 4 type veth "
		     "peer name vb numrxqueues 4 numtxqueues 4 && "
		     "ip addr add 10.0.0.1/24 dev va && ip link set va up && "
		     "ip link set vb up") == 0, "creating the veth pair");
	t_va = (int)if_nametoindex("va");
	t_vb = (int)if_nametoindex("vb");
	t_mac("va", t_va_mac);
	t_mac("vb", t_vb_mac);
}

/* ---- what is attached ---------------------------------------------------- */

/* id of the XDP program on ifindex in native mode (0: none); *any: any mode */
static inline uint32_t t_xdp_native(int ifindex, bool *any)
{
	LIBBPF_OPTS(bpf_xdp_query_opts, q);
	if (bpf_xdp_query(ifindex, 0, &q) != 0)
		return 0;
	if (any != NULL)
		*any = q.attach_mode != XDP_ATTACHED_NONE;
	return q.drv_prog_id;
}

/* number of tcx programs on ifindex (type T_TCX_*), -errno on error */
static inline int t_tcx_count(int ifindex, uint32_t type)
{
	uint64_t attr[9];
	uint32_t ids[16];
	memset(attr, 0, sizeof(attr));
	uint32_t *a32 = (uint32_t *)attr;
	a32[0] = (uint32_t)ifindex;	/* query.target_ifindex */
	a32[1] = type;			/* query.attach_type */
	attr[2] = (uint64_t)(uintptr_t)ids;	/* query.prog_ids */
	a32[6] = 16;			/* query.count */
	if (syscall(SYS_bpf, BPF_PROG_QUERY, attr, sizeof(attr)) < 0)
		return -errno;
	return (int)a32[6];
}

/* interfaces whose name starts with "unm" (TAPs of NIC helpers) */
static inline int t_taps(void)
{
	struct if_nameindex *l = if_nameindex(), *p;
	int n = 0;
	for (p = l; p != NULL && p->if_index != 0; p++)
		if (strncmp(p->if_name, "unm", 3) == 0)
			n++;
	if (l != NULL)
		if_freenameindex(l);
	return n;
}

/* reaped (it is our child as subreaper) or gone */
static inline bool t_pid_gone(pid_t pid)
{
	int st;
	if (waitpid(pid, &st, WNOHANG) == pid)
		return true;
	return kill(pid, 0) < 0 && errno == ESRCH;
}

/* everything of a helper gone from va (XDP, tcx both ways, TAPs), waiting
 * up to ms; *why gets what is still there */
static inline bool t_nic_clean(int ms, pid_t helper, char *why, size_t wl)
{
	int64_t end = unm_test_now_ms() + ms;
	for (;;) {
		bool any = false;
		uint32_t x = t_xdp_native(t_va, &any);
		int ti = t_tcx_count(t_va, T_TCX_INGRESS), te = t_tcx_count(t_va, T_TCX_EGRESS);
		int taps = t_taps();
		bool hgone = helper <= 0 || t_pid_gone(helper);
		if (!any && ti == 0 && te == 0 && taps == 0 && hgone)
			return true;
		if (unm_test_now_ms() > end) {
			snprintf(why, wl, "xdp %u (any %d), tcx in %d eg %d, taps %d, helper %s",
				 x, any, ti, te, taps, hgone ? "gone" : "alive");
			return false;
		}
		usleep(5000);
	}
}

/* ---- frames ---------------------------------------------------------------- */

static inline uint16_t t_csum(const void *p, size_t n)
{
	const uint8_t *b = p;
	uint32_t s = 0;
	for (size_t i = 0; i + 1 < n; i += 2)
		s += (uint32_t)(b[i] << 8 | b[i + 1]);
	if (n & 1)
		s += (uint32_t)b[n - 1] << 8;
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)~s;
}

/* Ethernet + IPv4 + UDP (checksum 0) carrying payload; returns the length */
static inline size_t t_udp_frame(uint8_t *f, const uint8_t dst[6], const uint8_t src[6],
				 const char *sip, const char *dip, uint16_t dport,
				 const char *payload)
{
	size_t pl = strlen(payload);
	memcpy(f, dst, 6);
	memcpy(f + 6, src, 6);
	f[12] = 0x08;
	f[13] = 0x00;
	uint8_t *ip = f + 14;
	memset(ip, 0, 20);
	ip[0] = 0x45;
	uint16_t tot = (uint16_t)(20 + 8 + pl);
	ip[2] = (uint8_t)(tot >> 8);
	ip[3] = (uint8_t)tot;
	ip[8] = 64;
	ip[9] = IPPROTO_UDP;
	inet_pton(AF_INET, sip, ip + 12);
	inet_pton(AF_INET, dip, ip + 16);
	uint16_t c = t_csum(ip, 20);
	ip[10] = (uint8_t)(c >> 8);
	ip[11] = (uint8_t)c;
	uint8_t *u = ip + 20;
	u[0] = 0x30;			/* source port 12345 */
	u[1] = 0x39;
	u[2] = (uint8_t)(dport >> 8);
	u[3] = (uint8_t)dport;
	u[4] = (uint8_t)((8 + pl) >> 8);
	u[5] = (uint8_t)(8 + pl);
	u[6] = u[7] = 0;
	memcpy(u + 8, payload, pl);
	size_t n = 14 + tot;
	if (n < 60) {
		memset(f + n, 0, 60 - n);
		n = 60;
	}
	return n;
}

/* a frame from vb's side to 10.0.0.1:T_UDP_PORT, sent into vb so that va
 * receives it */
static inline void t_inject_to_va(const char *payload)
{
	uint8_t f[256];
	const uint8_t src[6] = { 0x02, 0, 0, 0, 0, 0x09 };
	size_t n = t_udp_frame(f, t_va_mac, src, "10.0.0.9", "10.0.0.1", T_UDP_PORT, payload);
	int s = socket(AF_PACKET, SOCK_RAW, 0);
	struct sockaddr_ll ll;
	memset(&ll, 0, sizeof(ll));
	ll.sll_family = AF_PACKET;
	ll.sll_ifindex = t_vb;
	ll.sll_halen = 6;
	memcpy(ll.sll_addr, t_va_mac, 6);
	REQUIRE(s >= 0 && sendto(s, f, n, 0, (struct sockaddr *)&ll, sizeof(ll)) == (ssize_t)n,
		"inject on vb: %s", strerror(errno));
	close(s);
}

/* ---- numbered test frames: dst, src, T_ETYPE, the number at 14, a pattern */

#define T_ETYPE	0x88b5		/* IEEE local experimental */

static inline void t_frame(uint8_t *f, unsigned len, const uint8_t dst[6], const uint8_t src[6],
			   uint32_t no)
{
	memcpy(f, dst, 6);
	memcpy(f + 6, src, 6);
	f[12] = T_ETYPE >> 8;
	f[13] = T_ETYPE & 0xff;
	memcpy(f + 14, &no, 4);
	for (unsigned k = 18; k < len; k++)
		f[k] = (uint8_t)(no * 13 + k);
}

/* the frame's number if f[0..len) is one of t_frame()'s and intact, else -1 */
static inline long t_frame_number(const uint8_t *f, unsigned len)
{
	if (len < 18 || f[12] != (T_ETYPE >> 8) || f[13] != (T_ETYPE & 0xff))
		return -1;
	uint32_t no;
	memcpy(&no, f + 14, 4);
	for (unsigned k = 18; k < len; k++)
		if (f[k] != (uint8_t)(no * 13 + k))
			return -1;
	return no;
}

/* a non-blocking packet socket on ifindex for T_ETYPE frames */
static inline int t_pkt_sock(int ifindex)
{
	int s = socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK, htons(T_ETYPE));
	struct sockaddr_ll ll = { .sll_family = AF_PACKET, .sll_protocol = htons(T_ETYPE),
				  .sll_ifindex = ifindex };
	REQUIRE(s >= 0 && bind(s, (struct sockaddr *)&ll, sizeof(ll)) == 0, "packet socket: %s",
		strerror(errno));
	return s;
}

/* a UDP socket of the namespace on 10.0.0.1:port */
static inline int t_udp_sock(uint16_t port)
{
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };
	inet_pton(AF_INET, "10.0.0.1", &a.sin_addr);
	REQUIRE(s >= 0 && bind(s, (struct sockaddr *)&a, sizeof(a)) == 0, "bind udp");
	return s;
}

/* read datagrams (or frames) from fd for up to ms: does one contain want? */
static inline bool t_wait_payload(int fd, const char *want, int ms)
{
	int64_t end = unm_test_now_ms() + ms;
	char buf[4096];
	for (;;) {
		int64_t left = end - unm_test_now_ms();
		if (left < 0)
			return false;
		struct pollfd p = { .fd = fd, .events = POLLIN };
		if (poll(&p, 1, (int)left) <= 0)
			continue;
		ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
		if (n < 0 && errno == ENOTSOCK)
			n = read(fd, buf, sizeof(buf));
		if (n > 0 && memmem(buf, (size_t)n, want, strlen(want)) != NULL)
			return true;
	}
}

/* a packet socket capturing everything that arrives on ifindex */
static inline int t_capture(int ifindex)
{
	int s = socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK, htons(ETH_P_ALL));
	struct sockaddr_ll ll;
	memset(&ll, 0, sizeof(ll));
	ll.sll_family = AF_PACKET;
	ll.sll_protocol = htons(ETH_P_ALL);
	ll.sll_ifindex = ifindex;
	REQUIRE(s >= 0 && bind(s, (struct sockaddr *)&ll, sizeof(ll)) == 0, "capture socket");
	return s;
}

/* drop capabilities from this process's effective and permitted sets */
static inline int t_drop_caps(uint64_t mask)
{
	struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3, .pid = 0 };
	struct __user_cap_data_struct d[2];
	if (syscall(SYS_capget, &h, d) < 0)
		return -1;
	for (int i = 0; i < 2; i++) {
		uint32_t m = (uint32_t)(mask >> (32 * i));
		d[i].effective &= ~m;
		d[i].permitted &= ~m;
		d[i].inheritable &= ~m;
	}
	return (int)syscall(SYS_capset, &h, d);
}

/* a child process running fn(arg); its exit status is fn's return value */
static inline pid_t t_child(int (*fn)(void *), void *arg)
{
	pid_t p = fork();
	REQUIRE(p >= 0, "fork");
	if (p == 0)
		_exit(fn(arg));
	return p;
}

/* reap the helpers that ended up our children (losers of an election
 * exit at once), so that none is left a zombie when PID 1 does not reap */
static inline int t_nic_done(void)
{
	int64_t end = unm_test_now_ms() + 1000;
	while (unm_test_now_ms() < end) {
		pid_t p = waitpid(-1, NULL, WNOHANG);
		if (p < 0)
			break;		/* ECHILD: none left */
		if (p == 0)
			usleep(5000);
	}
	return t_done();
}

static inline int t_wait_child(pid_t p)
{
	int st;
	if (waitpid(p, &st, 0) != p)
		return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}
/* process pid has no effective capability left (CapEff 0) within ms */
static inline bool t_caps_gone(pid_t pid, int ms)
{
	char path[64], line[256];
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	for (int k = 0; k <= ms / 10; k++) {
		FILE *fp = fopen(path, "r");
		if (fp == NULL)
			return false;
		bool gone = false;
		while (fgets(line, sizeof(line), fp) != NULL)
			if (strncmp(line, "CapEff:", 7) == 0)
				gone = strtoull(line + 7, NULL, 16) == 0;
		fclose(fp);
		if (gone)
			return true;
		usleep(10000);
	}
	return false;
}

#endif
