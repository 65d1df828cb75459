/* Description: the bridge tool between a NIC and its host stack
 * (`bridge -i netmap:va` = netmap:va^ <-> netmap:va, reference §6.3, §4.1,
 * §4.2), in two network namespaces the test creates: ns1 (this process:
 * va 10.0.0.1/24, where the bridge runs) and ns2 (vb 10.0.0.2/24), joined
 * by a 2-queue veth pair.  With the AF_XDP backend and zero copy, then with
 * the TPACKET backend and -c (copy):
 *  - offload probe (a note, not a check): with checksum offload on at the
 *    peer, does a UDP datagram from ns2 reach a socket of ns1 through the
 *    bridge?  (On Linux 6.18 it does not: see README, "Offload hygiene");
 *  - what a user must do: `ethtool -K vb tx off` on the peer (done here with
 *    the same SIOCETHTOOL request);
 *  - ICMP echo from ns1 to 10.0.0.2 through the bridge;
 *  - 1 MB over TCP each way at once between ns1 and ns2, checked byte by
 *    byte;
 *  - SIGTERM stops the bridge with status 0 and its statistics (both
 *    directions forwarded, nothing dropped, zero-copy or copy as asked);
 *  - afterwards nothing is left on va (no XDP program, tcx link, TAP) and
 *    ping and TCP work directly.
 * Needs root (namespaces, BPF, veth); skips otherwise.  Everything lives in
 * the two namespaces, which die with this process (the bridge and the NIC
 * helper too: parent-death signal, subreaper). */
#include <fcntl.h>
#include <sys/prctl.h>
#include <linux/ethtool.h>
#include <linux/sockios.h>
#include <netinet/ip.h>
#include <netinet/ip_icmp.h>
#include "kobjtest.h"

#define XFER_BYTES	(1u << 20)
#define TCP_PORT	5001
#define PROBE_PORT	6001

static int ns1_fd = -1, ns2_fd = -1;
static char bridge_bin[512];

/* ---- namespaces ---------------------------------------------------------- */

static void enter(int nsfd)
{
	REQUIRE(setns(nsfd, CLONE_NEWNET) == 0, "setns: %s", strerror(errno));
}

/* a socket of namespace nsfd (a socket keeps the namespace it was made in) */
static int sock_in(int nsfd, int domain, int type, int proto)
{
	enter(nsfd);
	int s = socket(domain, type, proto);
	int e = errno;
	enter(ns1_fd);
	REQUIRE(s >= 0, "socket: %s", strerror(e));
	return s;
}

/* a shell command in namespace nsfd */
static int sh_in(int nsfd, const char *cmd)
{
	enter(nsfd);
	int r = t_sh("%s", cmd);
	enter(ns1_fd);
	return r;
}

static void write_in(int nsfd, const char *path, const char *val)
{
	enter(nsfd);
	t_write_file(path, val);
	enter(ns1_fd);
}

static void setup(void)
{
	t_setup(180);
	if (geteuid() != 0) {
		printf("needs root (network namespaces, BPF, veth)\n");
		exit(T_SKIP);
	}
	if (access("/dev/net/tun", R_OK | W_OK) != 0) {
		printf("no /dev/net/tun (host rings need a TAP)\n");
		exit(T_SKIP);
	}
	if (t_sh("command -v ip >/dev/null") != 0) {
		printf("no ip command (iproute2)\n");
		exit(T_SKIP);
	}
	/* build/tests/functional/nic_bridge -> build/bin/bridge */
	char exe[400];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	REQUIRE(n > 0, "readlink /proc/self/exe");
	exe[n] = '\0';
	for (int up = 0; up < 3; up++) {
		char *sl = strrchr(exe, '/');
		REQUIRE(sl != NULL, "odd path %s", exe);
		*sl = '\0';
	}
	snprintf(bridge_bin, sizeof(bridge_bin), "%s/bin/bridge", exe);
	REQUIRE(access(bridge_bin, X_OK) == 0, "%s not built", bridge_bin);

	prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
	if (unshare(CLONE_NEWNET) != 0) {
		printf("unshare(CLONE_NEWNET): %s\n", strerror(errno));
		exit(T_SKIP);
	}
	ns1_fd = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	REQUIRE(ns1_fd >= 0 && unshare(CLONE_NEWNET) == 0, "second namespace: %s",
		strerror(errno));
	ns2_fd = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	REQUIRE(ns2_fd >= 0, "open ns2");
	enter(ns1_fd);
	/* IPv6 off: no background traffic */
	for (int i = 0; i < 2; i++) {
		int ns = i ? ns2_fd : ns1_fd;
		write_in(ns, "/proc/sys/net/ipv6/conf/all/disable_ipv6", "1");
		write_in(ns, "/proc/sys/net/ipv6/conf/default/disable_ipv6", "1");
		REQUIRE(sh_in(ns, "ip link set lo up") == 0, "lo up");
	}
	REQUIRE(t_sh("ip link add va numrxqueues 2 numtxqueues 2 type veth peer name vb "
		     "numrxqueues 2 numtxqueues 2 netns /proc/%d/fd/%d && "
		     "ip addr add 10.0.0.1/24 dev va && ip link set va up",
		     (int)getpid(), ns2_fd) == 0, "veth pair va (ns1) / vb (ns2)");
	REQUIRE(sh_in(ns2_fd, "ip addr add 10.0.0.2/24 dev vb && ip link set vb up") == 0,
		"vb up");
	t_va = (int)if_nametoindex("va");
	REQUIRE(t_va > 0, "no va");
	t_mac("va", t_va_mac);
}

/* `ethtool -K IF tx on|off` in namespace nsfd (ETHTOOL_STXCSUM: the
 * checksum features, and with them TSO); the setting read back */
static int tx_csum(int nsfd, const char *ifname, bool on)
{
	int s = sock_in(nsfd, AF_INET, SOCK_DGRAM, 0);
	struct ethtool_value ev = { .cmd = ETHTOOL_STXCSUM, .data = on };
	struct ifreq ifr;
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	ifr.ifr_data = (void *)&ev;
	int r = ioctl(s, SIOCETHTOOL, &ifr);
	CHECK(r == 0, "ETHTOOL_STXCSUM %s %s: %s", ifname, on ? "on" : "off", strerror(errno));
	ev.cmd = ETHTOOL_GTXCSUM;
	ev.data = 2;
	r = ioctl(s, SIOCETHTOOL, &ifr);
	close(s);
	return r == 0 ? (int)ev.data : -1;
}

/* ---- the bridge process --------------------------------------------------- */

struct bridge {
	pid_t pid;
	char out[300], err[300];
};

static bool file_has(const char *path, const char *what)
{
	char buf[8192];
	int fd = open(path, O_RDONLY);
	if (fd < 0)
		return false;
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return false;
	buf[n] = '\0';
	return strstr(buf, what) != NULL;
}

static void bridge_start(struct bridge *b, const char *tag, bool copy)
{
	snprintf(b->out, sizeof(b->out), "%s/bridge-%s.out", t_dir, tag);
	snprintf(b->err, sizeof(b->err), "%s/bridge-%s.err", t_dir, tag);
	pid_t parent = getpid();
	b->pid = fork();
	REQUIRE(b->pid >= 0, "fork");
	if (b->pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
		if (getppid() != parent)
			_exit(127);
		int o = open(b->out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		int e = open(b->err, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		if (o < 0 || e < 0 || dup2(o, 1) < 0 || dup2(e, 2) < 0)
			_exit(127);
		if (copy)
			execl(bridge_bin, "bridge", "-w", "0", "-c", "-i", "netmap:va", (char *)NULL);
		else
			execl(bridge_bin, "bridge", "-w", "0", "-i", "netmap:va", (char *)NULL);
		_exit(127);
	}
	int64_t end = unm_test_now_ms() + 15000;
	while (!file_has(b->err, "Ready to go") && unm_test_now_ms() < end) {
		int st;
		if (waitpid(b->pid, &st, WNOHANG) == b->pid) {
			t_sh("cat %s >&2", b->err);
			REQUIRE(0, "%s: the bridge exited at start (status %#x)", tag, st);
		}
		usleep(10000);
	}
	REQUIRE(file_has(b->err, "Ready to go"), "%s: the bridge is not ready after 15 s", tag);
	CHECK(t_caps_gone(b->pid, 2000), "%s: the bridge kept capabilities after opening its ports",
	      tag);
	CHECK(file_has(b->err, copy ? "zerocopy NOT supported" : "zerocopy supported"),
	      "%s: the bridge does not say zero copy is %s", tag, copy ? "off" : "on");
}

/* SIGTERM; its exit status (or -1 if it had to be killed) */
static int bridge_stop(struct bridge *b)
{
	kill(b->pid, SIGTERM);
	int64_t end = unm_test_now_ms() + 10000;
	int st;
	while (unm_test_now_ms() < end) {
		if (waitpid(b->pid, &st, WNOHANG) == b->pid)
			return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
		usleep(10000);
	}
	kill(b->pid, SIGKILL);
	waitpid(b->pid, &st, 0);
	return -1;
}

/* from the statistics: "  LABEL: N packets, B bytes, S slots (W swapped,
 * C copied), D dropped; ..." */
static bool stats_line(const char *path, const char *label, uint64_t v[6])
{
	FILE *f = fopen(path, "r");
	char line[512];
	bool found = false;
	if (f == NULL)
		return false;
	while (!found && fgets(line, sizeof(line), f) != NULL) {
		char *p = strstr(line, label);
		if (p == NULL)
			continue;
		unsigned long long a, b, c, d, e, g;
		if (sscanf(p + strlen(label), ": %llu packets, %llu bytes, %llu slots (%llu swapped,"
			   " %llu copied), %llu dropped", &a, &b, &c, &d, &e, &g) == 6) {
			v[0] = a, v[1] = b, v[2] = c, v[3] = d, v[4] = e, v[5] = g;
			found = true;
		}
	}
	fclose(f);
	return found;
}

/* ---- traffic ---------------------------------------------------------------- */

static uint16_t icmp_sum(const void *p, size_t n)
{
	return t_csum(p, n);
}

/* n ICMP echo requests from ns1 to 10.0.0.2, each answered within 2 s?
 * How many were. */
static int ping(int n, const char *tag)
{
	int s = sock_in(ns1_fd, AF_INET, SOCK_RAW | SOCK_NONBLOCK, IPPROTO_ICMP);
	struct sockaddr_in to = { .sin_family = AF_INET };
	inet_pton(AF_INET, "10.0.0.2", &to.sin_addr);
	uint16_t id = (uint16_t)(getpid() ^ 0x5a5a);
	int ok = 0;
	for (int seq = 1; seq <= n; seq++) {
		uint8_t pkt[64];
		memset(pkt, 0, sizeof(pkt));
		pkt[0] = ICMP_ECHO;
		pkt[4] = (uint8_t)(id >> 8);
		pkt[5] = (uint8_t)id;
		pkt[6] = (uint8_t)(seq >> 8);
		pkt[7] = (uint8_t)seq;
		snprintf((char *)pkt + 8, sizeof(pkt) - 8, "unetmap bridge %s %d", tag, seq);
		uint16_t c = icmp_sum(pkt, sizeof(pkt));
		pkt[2] = (uint8_t)(c >> 8);
		pkt[3] = (uint8_t)c;
		if (sendto(s, pkt, sizeof(pkt), 0, (struct sockaddr *)&to, sizeof(to)) !=
		    (ssize_t)sizeof(pkt))
			continue;
		int64_t end = unm_test_now_ms() + 2000;
		bool got = false;
		while (!got && unm_test_now_ms() < end) {
			struct pollfd p = { .fd = s, .events = POLLIN };
			if (poll(&p, 1, 50) <= 0)
				continue;
			uint8_t buf[1500];
			ssize_t r;
			while (!got && (r = recv(s, buf, sizeof(buf), 0)) > 0) {
				size_t ihl = (size_t)(buf[0] & 0x0f) * 4;
				if ((size_t)r != ihl + sizeof(pkt))
					continue;
				const uint8_t *ic = buf + ihl;
				got = ic[0] == ICMP_ECHOREPLY && memcmp(ic + 4, pkt + 4, 4) == 0 &&
				      memcmp(ic + 8, pkt + 8, sizeof(pkt) - 8) == 0 &&
				      t_csum(ic, sizeof(pkt)) == 0;
			}
		}
		ok += got;
	}
	close(s);
	return ok;
}

static inline uint8_t pat(uint32_t i, uint32_t seed)
{
	uint32_t x = (i ^ seed) * 2654435761u;
	return (uint8_t)(x >> 24 ^ i >> 9);
}

struct flow {
	int fd;
	uint32_t seed_tx, seed_rx;
	uint32_t sent, rcvd, bad_at;
	bool bad, eof, shut;
};

/* send XFER_BYTES each way at once on the connected pair a (ns1) / b (ns2);
 * true if both sides got every byte right within 20 s */
static bool tcp_pair_transfer(int a, int b, const char *tag)
{
	struct flow f[2] = { { .fd = a, .seed_tx = 0x1111, .seed_rx = 0x2222 },
			     { .fd = b, .seed_tx = 0x2222, .seed_rx = 0x1111 } };
	static uint8_t buf[65536];
	int64_t end = unm_test_now_ms() + 20000;
	while (unm_test_now_ms() < end && !(f[0].eof && f[1].eof)) {
		struct pollfd p[2];
		for (int i = 0; i < 2; i++) {
			p[i].fd = f[i].fd;
			p[i].events = (short)((f[i].eof ? 0 : POLLIN) |
					      (f[i].sent < XFER_BYTES ? POLLOUT : 0));
			p[i].revents = 0;
		}
		if (poll(p, 2, 100) < 0)
			continue;
		for (int i = 0; i < 2; i++) {
			struct flow *x = &f[i];
			if ((p[i].revents & POLLOUT) && x->sent < XFER_BYTES) {
				uint32_t n = XFER_BYTES - x->sent;
				if (n > sizeof(buf))
					n = sizeof(buf);
				for (uint32_t k = 0; k < n; k++)
					buf[k] = pat(x->sent + k, x->seed_tx);
				ssize_t w = send(x->fd, buf, n, MSG_DONTWAIT | MSG_NOSIGNAL);
				if (w > 0)
					x->sent += (uint32_t)w;
			}
			if (x->sent == XFER_BYTES && !x->shut) {
				shutdown(x->fd, SHUT_WR);
				x->shut = true;
			}
			if (p[i].revents & (POLLIN | POLLHUP | POLLERR)) {
				ssize_t r = recv(x->fd, buf, sizeof(buf), MSG_DONTWAIT);
				if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR)) {
					x->eof = true;
				} else if (r > 0) {
					for (ssize_t k = 0; k < r && !x->bad; k++) {
						if (buf[k] != pat(x->rcvd + (uint32_t)k, x->seed_rx)) {
							x->bad = true;
							x->bad_at = x->rcvd + (uint32_t)k;
						}
					}
					x->rcvd += (uint32_t)r;
				}
			}
		}
	}
	bool ok = true;
	for (int i = 0; i < 2; i++) {
		const char *side = i ? "ns2" : "ns1";
		if (f[i].sent != XFER_BYTES || f[i].rcvd != XFER_BYTES || f[i].bad) {
			fprintf(stderr, "%s: TCP %s sent %u, received %u of %u bytes%s (byte %u)\n", tag,
				side, f[i].sent, f[i].rcvd, XFER_BYTES, f[i].bad ? ", WRONG DATA" : "",
				f[i].bad_at);
			ok = false;
		}
	}
	return ok;
}

/* connect ns1 -> 10.0.0.2:port (ns2) and run the transfer */
static bool tcp_transfer(uint16_t port, const char *tag)
{
	int l = sock_in(ns2_fd, AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	int one = 1;
	setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port) };
	inet_pton(AF_INET, "10.0.0.2", &sa.sin_addr);
	REQUIRE(bind(l, (struct sockaddr *)&sa, sizeof(sa)) == 0 && listen(l, 1) == 0,
		"listen in ns2: %s", strerror(errno));
	int c = sock_in(ns1_fd, AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	int r = connect(c, (struct sockaddr *)&sa, sizeof(sa));
	bool ok = r == 0 || errno == EINPROGRESS;
	int a = -1;
	int64_t end = unm_test_now_ms() + 8000;
	while (ok && a < 0 && unm_test_now_ms() < end) {
		struct pollfd p = { .fd = l, .events = POLLIN };
		if (poll(&p, 1, 50) > 0)
			a = accept4(l, NULL, NULL, SOCK_NONBLOCK);
	}
	if (a < 0) {
		fprintf(stderr, "%s: TCP connection ns1 -> ns2 not established in 8 s\n", tag);
		ok = false;
	}
	if (ok) {
		struct pollfd p = { .fd = c, .events = POLLOUT };
		int err = 0;
		socklen_t el = sizeof(err);
		ok = poll(&p, 1, 2000) == 1 && getsockopt(c, SOL_SOCKET, SO_ERROR, &err, &el) == 0 &&
		     err == 0;
		if (!ok)
			fprintf(stderr, "%s: connect: %s\n", tag, strerror(err));
	}
	if (ok)
		ok = tcp_pair_transfer(c, a, tag);
	if (a >= 0)
		close(a);
	close(c);
	close(l);
	return ok;
}

/* one UDP datagram from ns2 to a socket of ns1 within 1.5 s? */
static bool udp_ns2_to_ns1(const char *payload)
{
	int rx = sock_in(ns1_fd, AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(PROBE_PORT) };
	inet_pton(AF_INET, "10.0.0.1", &a.sin_addr);
	REQUIRE(bind(rx, (struct sockaddr *)&a, sizeof(a)) == 0, "bind probe");
	int tx = sock_in(ns2_fd, AF_INET, SOCK_DGRAM, 0);
	bool got = false;
	/* twice: the first may wait for ARP */
	for (int i = 0; i < 2 && !got; i++) {
		sendto(tx, payload, strlen(payload), 0, (struct sockaddr *)&a, sizeof(a));
		got = t_wait_payload(rx, payload, 750);
	}
	close(tx);
	close(rx);
	return got;
}

/* ---- one run ---------------------------------------------------------------- */

static void run(const char *nic_mode, bool copy)
{
	char tag[64];
	snprintf(tag, sizeof(tag), "%s%s", nic_mode ? nic_mode : "auto", copy ? "/-c" : "");
	if (nic_mode)
		setenv("UNETMAP_NIC_MODE", nic_mode, 1);
	else
		unsetenv("UNETMAP_NIC_MODE");

	/* the defaults of a veth: checksum offload on at the peer */
	CHECK(tx_csum(ns2_fd, "vb", true) == 1, "%s: vb tx-checksumming not on", tag);
	struct bridge b;
	bridge_start(&b, nic_mode ? nic_mode : "auto", copy);
	struct unetmap_nic_info ni;
	if (unetmap_nic_info("va", &ni) == 0) {
		fprintf(stderr, "%s: va: backend %s, mode %s, %u users\n", tag, ni.backend, ni.mode,
			ni.users);
		CHECK(strcmp(ni.backend, nic_mode && strcmp(nic_mode, "packet") == 0 ? "packet" :
			     "xdp") == 0, "%s: backend %s", tag, ni.backend);
	}

	/* offload probe: a note for the README, not a check */
	char pl[96];
	snprintf(pl, sizeof(pl), "probe-%s", tag);
	bool probe = udp_ns2_to_ns1(pl);
	fprintf(stderr, "note: %s: with tx-checksumming on at vb, a UDP datagram ns2 -> ns1 %s\n",
		tag, probe ? "arrived" : "was lost (incomplete checksum, see README)");

	/* what the user must do */
	CHECK(tx_csum(ns2_fd, "vb", false) == 0, "%s: vb tx-checksumming still on", tag);

	int replies = ping(5, tag);
	CHECK(replies == 5, "%s: %d of 5 pings through the bridge answered", tag, replies);
	CHECK(tcp_transfer(TCP_PORT, tag), "%s: TCP through the bridge failed", tag);
	snprintf(pl, sizeof(pl), "udp-%s", tag);
	CHECK(udp_ns2_to_ns1(pl), "%s: UDP ns2 -> ns1 through the bridge lost", tag);

	int st = bridge_stop(&b);
	CHECK(st == 0, "%s: bridge exit status %d after SIGTERM", tag, st);
	uint64_t up[6] = { 0 }, down[6] = { 0 };
	bool s1 = stats_line(b.out, "va:host --> va:nic", down);
	bool s2 = stats_line(b.out, "va:nic --> va:host", up);
	CHECK(s1 && s2, "%s: no statistics for both directions", tag);
	if (!s1 || !s2)
		t_sh("cat %s >&2", b.out);
	/* 1 MB each way is at least 700 full frames */
	CHECK(down[0] >= 700 && down[1] >= XFER_BYTES && up[0] >= 700 && up[1] >= XFER_BYTES,
	      "%s: forwarded host->nic %llu packets %llu bytes, nic->host %llu packets %llu bytes",
	      tag, (unsigned long long)down[0], (unsigned long long)down[1],
	      (unsigned long long)up[0], (unsigned long long)up[1]);
	CHECK(down[5] == 0 && up[5] == 0, "%s: %llu + %llu frames dropped", tag,
	      (unsigned long long)down[5], (unsigned long long)up[5]);
	if (copy)
		CHECK(down[3] == 0 && up[3] == 0 && down[4] == down[2] && up[4] == up[2],
		      "%s: -c: %llu/%llu slots swapped", tag, (unsigned long long)down[3],
		      (unsigned long long)up[3]);
	else
		CHECK(down[4] == 0 && up[4] == 0 && down[3] == down[2] && up[3] == up[2],
		      "%s: zero copy: %llu/%llu slots copied", tag, (unsigned long long)down[4],
		      (unsigned long long)up[4]);
	CHECK(file_has(b.out, copy ? ", copy" : "zero-copy"), "%s: statistics header", tag);

	/* normal networking is back */
	char why[160];
	CHECK(t_nic_clean(2000, 0, why, sizeof(why)), "%s: after the bridge: %s", tag, why);
	replies = ping(3, tag);
	CHECK(replies == 3, "%s: %d of 3 pings answered without the bridge", tag, replies);
	CHECK(tcp_transfer(TCP_PORT + 1, tag), "%s: TCP without the bridge failed", tag);
}

int main(void)
{
	setup();
	run(NULL, false);	/* AF_XDP (copy mode on veth), zero copy in the bridge */
	run("packet", true);	/* TPACKET_V3, -c */
	unsetenv("UNETMAP_NIC_MODE");
	close(ns2_fd);
	return t_nic_done();
}
