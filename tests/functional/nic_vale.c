/* Description: NICs on VALE (reference §4.3, §2.3 VALE_ATTACH/DETACH/
 * POLLING_*), in a private network namespace with the 4-queue veth pair
 * va/vb and a second pair vc/vd: VALE_ATTACH of vale0:va starts a helper
 * process and makes va a switch port (listed, counted), frames injected on
 * vb arrive at the VALE port vale0:p and frames sent by vale0:p arrive on vb
 * (AF_XDP copy mode and TPACKET backend); netmap's errors (attach twice or
 * to a second switch EBUSY, unknown interface EINVAL, interface open by an
 * application EBUSY, bad mode EINVAL, detach of what is not attached ENXIO);
 * netmap:va, netmap:va^ and vale0:va cannot be registered while attached
 * (EBUSY); the helper sleeps when idle; with NR_REG_NIC_SW (vale-ctl -h) the
 * host stack is the port vale0:va^: a UDP datagram sent by a socket of the
 * namespace reaches vale0:p and a frame of vale0:p reaches a UDP socket;
 * two interfaces on one switch forward between vb and vd both ways, and
 * between two other namespaces (ARP and ICMP echo from one to the other);
 * VALE_DETACH stops the helper and leaves nothing on the interface (no XDP
 * program, tcx link or TAP); a SIGKILLed helper leaves the interface clean,
 * the port drops what is sent to it and the detach still works; polling:
 * SINGLE_CPU pins the (busy) helper to the CPU asked, MULTI_CPU starts a
 * thread pinned to the ring's CPU, disable restores the affinity, and
 * netmap's polling errors (EFAULT twice, EBUSY detach while polling,
 * EINVAL placements, EOPNOTSUPP on a VALE port, ENXIO, EINVAL). */
#include <dirent.h>
#include <sched.h>
#include <signal.h>
#include <sys/wait.h>
#include "kobjtest.h"
#include "nmtest.h"
#include "core/unm.h"

#define NF	40		/* frames per direction */
#define VN_SYNC_WAIT_US	60000	/* a little more than one fast-path sync (50 ms) */

static int t_vc, t_vd;
static const uint8_t p_mac[6] = { 0x02, 0, 0, 0, 0x0b, 0x01 };	/* vale0:p */
static const uint8_t b_mac[6] = { 0x02, 0, 0, 0, 0x0b, 0x02 };	/* a host behind vb */
static const uint8_t d_mac[6] = { 0x02, 0, 0, 0, 0x0b, 0x04 };	/* a host behind vd */
static const unsigned lens[] = { 60, 64, 200, 777, 1500, 1514 };
#define NLENS (sizeof(lens) / sizeof(lens[0]))

/* ---- processes ------------------------------------------------------------- */

/* pid of the helper of interface ifname, from the registry (0: none) */
static pid_t helper_of(const char *ifname)
{
	struct unm_registry *r = unm_registry();
	pid_t pid = 0;
	if (r == NULL || unm_lock() < 0)
		return 0;
	for (uint32_t i = 0; i < r->port_hwm; i++) {
		const struct unm_port *p = &r->ports[i];
		if (p->kind == UNM_PORT_VALE && p->vnic.role == UNM_VNIC_NIC &&
		    strcmp(p->vnic.ifname, ifname) == 0)
			pid = p->vnic.pid;
	}
	unm_unlock();
	return pid;
}

enum { SCAN_COUNT, SCAN_SHOW, SCAN_KILL };

/* our children (we are their subreaper) named like the library's helpers:
 * how many run; SCAN_SHOW prints them, SCAN_KILL kills them */
static int helpers_scan(int how)
{
	int n = 0;
	while (waitpid(-1, NULL, WNOHANG) > 0)
		;
	DIR *d = opendir("/proc");
	struct dirent *e;
	while (d != NULL && (e = readdir(d)) != NULL) {
		char path[300], buf[512];
		int pid = atoi(e->d_name);
		if (pid <= 0)
			continue;
		snprintf(path, sizeof(path), "/proc/%d/stat", pid);
		int fd = open(path, O_RDONLY);
		if (fd < 0)
			continue;
		ssize_t l = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		if (l <= 0)
			continue;
		buf[l] = '\0';
		char *rp = strrchr(buf, ')');
		int ppid = 0;
		char st = 0;
		if (rp == NULL || sscanf(rp + 1, " %c %d", &st, &ppid) != 2 || ppid != getpid() ||
		    st == 'Z')
			continue;
		if (strstr(buf, "(unetmap-vale)") != NULL || strstr(buf, "(unetmap-nic)") != NULL) {
			if (how == SCAN_KILL)
				kill(pid, SIGKILL);
			else if (how == SCAN_SHOW)
				fprintf(stderr, "still running: %.40s\n", buf);
			n++;
		}
	}
	if (d != NULL)
		closedir(d);
	while (waitpid(-1, NULL, WNOHANG) > 0)
		;
	return n;
}

static void on_exit_kill(void)
{
	helpers_scan(SCAN_KILL);
}

static void on_alarm(int sig)
{
	(void)sig;
	static const char m[] = "nic_vale: time limit, killing the helpers\n";
	if (write(2, m, sizeof(m) - 1) < 0) { /* nothing to do */ }
	helpers_scan(SCAN_KILL);
	_exit(T_FAIL);
}

/* CPU time (user + system, clock ticks) of a process */
static long cpu_ticks(pid_t pid)
{
	char path[64], buf[1024];
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	int fd = open(path, O_RDONLY);
	if (fd < 0)
		return -1;
	ssize_t l = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (l <= 0)
		return -1;
	buf[l] = '\0';
	char *p = strrchr(buf, ')');
	long ut = 0, st = 0;
	/* fields after the name: state(3) ... utime(14) stime(15) */
	if (p == NULL || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %ld %ld",
				&ut, &st) != 2)
		return -1;
	return ut + st;
}

/* ---- requests ------------------------------------------------------------------ */

static int attach(const char *name, uint32_t mode)
{
	struct nmreq_vale_attach b;
	memset(&b, 0, sizeof(b));
	b.reg.nr_mode = mode;
	int r = t_ctl(NETMAP_REQ_VALE_ATTACH, name, &b);
	return r < 0 ? errno : 0;
}

static int detach(const char *name)
{
	struct nmreq_vale_detach b;
	memset(&b, 0, sizeof(b));
	int r = t_ctl(NETMAP_REQ_VALE_DETACH, name, &b);
	return r < 0 ? errno : 0;
}

static int polling(const char *name, bool on, uint32_t mode, uint32_t first, uint32_t n)
{
	struct nmreq_vale_polling b;
	memset(&b, 0, sizeof(b));
	b.nr_mode = mode;
	b.nr_first_cpu_id = first;
	b.nr_num_polling_cpus = n;
	int r = t_ctl(on ? NETMAP_REQ_VALE_POLLING_ENABLE : NETMAP_REQ_VALE_POLLING_DISABLE,
		      name, &b);
	return r < 0 ? errno : 0;
}

/* port index of name in its switch, -1 if not a member (or no switch) */
static long listed(const char *name)
{
	struct nmreq_vale_list b;
	memset(&b, 0, sizeof(b));
	if (t_ctl(NETMAP_REQ_VALE_LIST, name, &b) < 0 || b.nr_port_idx == UNETMAP_VALE_NOPORT)
		return -1;
	return b.nr_port_idx;
}

static struct unetmap_vale_port_stats pstats(const char *name)
{
	struct unetmap_vale_port_stats st[16], none;
	memset(&none, 0, sizeof(none));
	int n = unetmap_vale_stats(name, st, 16);
	for (int i = 0; i < n && i < 16; i++)
		if (strcmp(st[i].name, name) == 0)
			return st[i];
	return none;
}

static void t_open_busy(const char *spec)
{
	errno = 0;
	struct nmport_d *d = nmport_open(spec);
	int e = errno;
	CHECK(d == NULL && e == EBUSY, "nmport_open(%s) while attached: %s, want EBUSY", spec,
	      d ? "success" : strerror(e));
	if (d != NULL)
		nmport_close(d);
}
/* n frames numbered first.. into interface ifindex (they arrive at its peer) */
static void inject(int s, int ifindex, const uint8_t *dst, const uint8_t *src, uint32_t first,
		   int n)
{
	uint8_t f[2048];
	for (int i = 0; i < n; i++) {
		unsigned len = lens[i % NLENS];
		t_frame(f, len, dst, src, first + (uint32_t)i);
		struct sockaddr_ll ll = { .sll_family = AF_PACKET, .sll_ifindex = ifindex,
					  .sll_halen = 6 };
		memcpy(ll.sll_addr, dst, 6);
		CHECK(sendto(s, f, len, 0, (struct sockaddr *)&ll, sizeof(ll)) == (ssize_t)len,
		      "inject: %s", strerror(errno));
	}
}

/* frames numbered first..first+n-1 of the right lengths seen on packet
 * socket s within ms */
static int sock_count(int s, uint32_t first, int n, int ms)
{
	int seen = 0;
	int64_t end = unm_test_now_ms() + ms;
	while (seen < n && unm_test_now_ms() < end) {
		struct pollfd p = { .fd = s, .events = POLLIN };
		if (poll(&p, 1, 50) <= 0)
			continue;
		uint8_t b[2048];
		ssize_t l;
		for (int k = 0; k < 4096 && (l = recv(s, b, sizeof(b), MSG_DONTWAIT)) > 0; k++) {
			long no = t_frame_number(b, (unsigned)l);
			if (no >= first && no < first + n && (unsigned)l == lens[(no - first) % NLENS])
				seen++;
		}
	}
	return seen;
}

/* the same on the RX rings of a netmap port */
static int port_count(struct nmport_d *d, uint32_t first, int n, int ms)
{
	int seen = 0;
	int64_t end = unm_test_now_ms() + ms;
	while (seen < n && unm_test_now_ms() < end) {
		struct pollfd p = { .fd = d->fd, .events = POLLIN };
		poll(&p, 1, 50);
		for (int ri = d->first_rx_ring; ri <= d->last_rx_ring; ri++) {
			struct netmap_ring *r = NETMAP_RXRING(d->nifp, ri);
			for (int k = 0; k < 4096 && !nm_ring_empty(r); k++) {
				struct netmap_slot *s = &r->slot[r->head];
				long no = t_frame_number((uint8_t *)NETMAP_BUF(r, s->buf_idx), s->len);
				if (no >= first && no < first + n &&
				    s->len == lens[(no - first) % NLENS])
					seen++;
				r->head = r->cur = nm_ring_next(r, r->head);
			}
		}
	}
	return seen;
}

/* does a frame of d contain `want` within ms? */
static bool port_payload(struct nmport_d *d, const char *want, int ms)
{
	int64_t end = unm_test_now_ms() + ms;
	while (unm_test_now_ms() < end) {
		struct pollfd p = { .fd = d->fd, .events = POLLIN };
		poll(&p, 1, 50);
		struct netmap_ring *r = NETMAP_RXRING(d->nifp, d->first_rx_ring);
		for (int k = 0; k < 4096 && !nm_ring_empty(r); k++) {
			struct netmap_slot *s = &r->slot[r->head];
			bool hit = memmem(NETMAP_BUF(r, s->buf_idx), s->len, want, strlen(want)) != NULL;
			r->head = r->cur = nm_ring_next(r, r->head);
			if (hit)
				return true;
		}
	}
	return false;
}

/* n frames numbered first.. from d (dst given), in batches */
static void port_send(struct nmport_d *d, const uint8_t *dst, const uint8_t *src, uint32_t first,
		      int n)
{
	struct netmap_ring *t = NETMAP_TXRING(d->nifp, d->first_tx_ring);
	for (int i = 0; i < n; i++) {
		for (int w = 0; w < 100 && nm_ring_empty(t); w++) {
			ioctl(d->fd, NIOCTXSYNC, NULL);
			usleep(1000);
		}
		REQUIRE(!nm_ring_empty(t), "no room on the TX ring");
		struct netmap_slot *s = &t->slot[t->head];
		t_frame((uint8_t *)NETMAP_BUF(t, s->buf_idx), lens[i % NLENS], dst, src,
			first + (uint32_t)i);
		s->len = (uint16_t)lens[i % NLENS];
		s->flags = 0;
		t->head = t->cur = nm_ring_next(t, t->head);
		if (i % 8 == 7)
			ioctl(d->fd, NIOCTXSYNC, NULL);
	}
	ioctl(d->fd, NIOCTXSYNC, NULL);
}

/* wait for the helper to have served the attach (frames in both
 * directions) and check the interface is clean after the detach */
static void detach_clean(const char *name, pid_t helper, const char *what)
{
	CHECK(detach(name) == 0, "%s: detach %s: %s (%s)", what, name, strerror(errno),
	      unetmap_last_error());
	char why[200];
	CHECK(t_nic_clean(2000, helper, why, sizeof(why)), "%s: after detach: %s", what, why);
	CHECK(listed(name) < 0, "%s: %s still listed after detach", what, name);
}

/* ---- the parts ------------------------------------------------------------------ */

static void basic(const char *mode)
{
	setenv("UNETMAP_NIC_MODE", mode, 1);
	int sb = t_pkt_sock(t_vb);
	struct nmport_d *p = t_open("vale0:p");

	/* an application holds va: no attach */
	struct nmport_d *app = t_open("netmap:va");
	CHECK(attach("vale0:va", NR_REG_ALL_NIC) == EBUSY, "%s: attach while netmap:va is open:"
	      " %s, want EBUSY", mode, strerror(attach("vale0:va", NR_REG_ALL_NIC)));
	nmport_close(app);
	char why[200];
	CHECK(t_nic_clean(2000, 0, why, sizeof(why)), "%s: after netmap:va: %s", mode, why);

	int64_t t0 = unm_test_now_ms();
	int e = attach("vale0:va", NR_REG_ALL_NIC);
	REQUIRE(e == 0, "%s: attach vale0:va: %s (%s)", mode, strerror(e), unetmap_last_error());
	int64_t took = unm_test_now_ms() - t0;
	pid_t h = helper_of("va");
	CHECK(h > 0 && !t_pid_gone(h), "%s: no helper process after attach (pid %d)", mode, h);
	CHECK(listed("vale0:va") >= 0, "%s: vale0:va not listed", mode);
	CHECK(listed("vale0:va^") < 0, "%s: vale0:va^ listed without NIC_SW", mode);
	struct unetmap_nic_info ni;
	CHECK(unetmap_nic_info("va", &ni) == 0 && strcmp(ni.mode, mode) == 0,
	      "%s: data path of the attached va: %s", mode, ni.mode);

	/* netmap's rules while attached */
	CHECK(attach("vale0:va", NR_REG_ALL_NIC) == EBUSY, "%s: attach twice: want EBUSY", mode);
	CHECK(attach("vale1:va", NR_REG_ALL_NIC) == EBUSY, "%s: attach to a second switch: "
	      "want EBUSY", mode);
	CHECK(listed("vale1:x") < 0, "%s: refused attach left vale1", mode);
	t_open_busy("netmap:va");
	t_open_busy("netmap:va^");
	t_open_busy("netmap:va-1");
	t_open_busy("vale0:va");

	/* vb -> va -> vale0:p */
	inject(sb, t_vb, p_mac, b_mac, 100, NF);
	int got = port_count(p, 100, NF, 3000);
	CHECK(got == NF, "%s: vale0:p got %d of %d frames injected on vb", mode, got, NF);
	/* vale0:p -> va -> vb (b_mac was learned on va) */
	port_send(p, b_mac, p_mac, 200, NF);
	got = sock_count(sb, 200, NF, 3000);
	CHECK(got == NF, "%s: vb got %d of %d frames sent by vale0:p", mode, got, NF);
	struct unetmap_vale_port_stats st;
	for (int i = 0; i < 100; i++) {
		st = pstats("vale0:va");
		if (st.tx_frames >= NF && st.rx_frames >= NF)
			break;
		usleep(10000);
	}
	CHECK(st.tx_frames >= NF && st.rx_frames >= NF && st.rx_rings_open == 4,
	      "%s: vale0:va counters tx %llu rx %llu, %u RX rings open", mode,
	      (unsigned long long)st.tx_frames, (unsigned long long)st.rx_frames,
	      st.rx_rings_open);

	/* idle: the helper sleeps (short steps for the NIC sockets) */
	long c0 = cpu_ticks(h);
	usleep(1000000);
	long c1 = cpu_ticks(h);
	long hz = sysconf(_SC_CLK_TCK);
	CHECK(c0 >= 0 && c1 - c0 <= hz / 4, "%s: idle helper used %ld of %ld ticks in 1 s",
	      mode, c1 - c0, hz);
	fprintf(stderr, "note: %s: the idle helper used %ld of %ld ticks in 1 s\n", mode,
		c1 - c0, hz);

	detach_clean("vale0:va", h, mode);
	CHECK(detach("vale0:va") == ENXIO, "%s: detach twice: want ENXIO", mode);
	fprintf(stderr, "note: %s: attach took %lld ms\n", mode, (long long)took);
	/* va is the stack's again */
	app = t_open("netmap:va");
	nmport_close(app);
	CHECK(t_nic_clean(2000, 0, why, sizeof(why)), "%s: after reopening: %s", mode, why);
	nmport_close(p);
	close(sb);
	unsetenv("UNETMAP_NIC_MODE");
}

static void errors(void)
{
	CHECK(attach("vale0:nosuchif0", NR_REG_ALL_NIC) == EINVAL, "attach of no interface: "
	      "want EINVAL");
	CHECK(attach("vale0:va", NR_REG_ONE_NIC) == EINVAL, "attach with ONE_NIC: want EINVAL");
	CHECK(attach("vale0:va", NR_REG_SW) == EINVAL, "attach with SW: want EINVAL");
	CHECK(attach("foo:va", NR_REG_ALL_NIC) == EINVAL, "attach foo:va: want EINVAL");
	CHECK(listed("vale0:x") < 0, "failed attaches left vale0 behind");
	CHECK(detach("vale0:va") == ENXIO, "detach not attached (no switch): want ENXIO");
	struct nmport_d *p = t_open("vale0:p");
	CHECK(detach("vale0:va") == ENXIO, "detach not attached: want ENXIO");
	CHECK(polling("vale0:p", true, NETMAP_POLLING_MODE_SINGLE_CPU, 0, 1) == EOPNOTSUPP,
	      "polling on a VALE port: want EOPNOTSUPP");
	CHECK(polling("vale0:nosuch", true, NETMAP_POLLING_MODE_SINGLE_CPU, 0, 1) == ENXIO,
	      "polling on no port: want ENXIO");
	CHECK(polling("va", true, NETMAP_POLLING_MODE_SINGLE_CPU, 0, 1) == EINVAL,
	      "polling on a non-VALE name: want EINVAL");
	nmport_close(p);
}

static void host_stack(void)
{
	struct nmport_d *p = t_open("vale0:p");
	int e = attach("vale0:va", NR_REG_NIC_SW);
	REQUIRE(e == 0, "attach -h vale0:va: %s (%s)", strerror(e), unetmap_last_error());
	pid_t h = helper_of("va");
	CHECK(listed("vale0:va") >= 0 && listed("vale0:va^") >= 0, "vale0:va / vale0:va^ not "
	      "listed");
	CHECK(t_taps() == 1, "%d TAPs with the host port, want 1", t_taps());
	t_open_busy("vale0:va");
	REQUIRE(t_sh("ip neigh replace 10.0.0.9 lladdr 02:00:00:00:0b:02 dev va") == 0,
		"static neighbour");
	/* the stack -> va^ -> vale0:p */
	int cs = socket(AF_INET, SOCK_DGRAM, 0);
	struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons(7777) };
	inet_pton(AF_INET, "10.0.0.9", &to.sin_addr);
	CHECK(sendto(cs, "stack-to-vale", 13, 0, (struct sockaddr *)&to, sizeof(to)) == 13,
	      "sendto: %s", strerror(errno));
	close(cs);
	CHECK(port_payload(p, "stack-to-vale", 3000), "the stack's datagram did not reach "
	      "vale0:p through vale0:va^");
	/* vale0:p -> va^ -> the stack's socket */
	int us = t_udp_sock(T_UDP_PORT);
	struct netmap_ring *t = NETMAP_TXRING(p->nifp, p->first_tx_ring);
	struct netmap_slot *s = &t->slot[t->head];
	s->len = (uint16_t)t_udp_frame((uint8_t *)NETMAP_BUF(t, s->buf_idx), t_va_mac, b_mac,
				       "10.0.0.9", "10.0.0.1", T_UDP_PORT, "vale-to-stack");
	t->head = t->cur = nm_ring_next(t, t->head);
	ioctl(p->fd, NIOCTXSYNC, NULL);
	CHECK(t_wait_payload(us, "vale-to-stack", 3000), "vale0:p's datagram did not reach the "
	      "stack's socket");
	close(us);
	t_sh("ip neigh del 10.0.0.9 dev va");
	detach_clean("vale0:va", h, "host");
	CHECK(listed("vale0:va^") < 0, "vale0:va^ still listed after detach");
	nmport_close(p);
}

static void two_nics(void)
{
	int e = attach("vale0:va", NR_REG_ALL_NIC);
	REQUIRE(e == 0, "attach vale0:va: %s (%s)", strerror(e), unetmap_last_error());
	e = attach("vale0:vc", NR_REG_ALL_NIC);
	REQUIRE(e == 0, "attach vale0:vc: %s (%s)", strerror(e), unetmap_last_error());
	pid_t ha = helper_of("va"), hc = helper_of("vc");
	CHECK(ha > 0 && hc > 0 && ha != hc, "helpers %d / %d, want two", ha, hc);
	int sb = t_pkt_sock(t_vb), sd = t_pkt_sock(t_vd);
	/* vb -> va -> vale0 -> vc -> vd (d_mac unknown: flooded) */
	inject(sb, t_vb, d_mac, b_mac, 300, NF);
	int got = sock_count(sd, 300, NF, 3000);
	CHECK(got == NF, "vd got %d of %d frames injected on vb", got, NF);
	/* vd -> vc -> vale0 -> va -> vb (b_mac learned on va) */
	inject(sd, t_vd, b_mac, d_mac, 400, NF);
	got = sock_count(sb, 400, NF, 3000);
	CHECK(got == NF, "vb got %d of %d frames injected on vd", got, NF);
	/* a sender counts its frames once its sync is over: wait for it */
	struct unetmap_vale_port_stats sa, sc;
	for (int i = 0; i < 100; i++) {
		sa = pstats("vale0:va");
		sc = pstats("vale0:vc");
		if (sa.tx_frames >= NF && sc.rx_frames >= NF && sc.tx_frames >= NF &&
		    sa.rx_frames >= NF)
			break;
		usleep(10000);
	}
	CHECK(sa.tx_frames >= NF && sc.rx_frames >= NF && sc.tx_frames >= NF &&
	      sa.rx_frames >= NF, "counters va tx %llu rx %llu, vc tx %llu rx %llu",
	      (unsigned long long)sa.tx_frames, (unsigned long long)sa.rx_frames,
	      (unsigned long long)sc.tx_frames, (unsigned long long)sc.rx_frames);
	CHECK(detach("vale0:vc") == 0, "detach vale0:vc: %s", unetmap_last_error());
	bool gone = false;
	for (int i = 0; i < 100 && !(gone = t_pid_gone(hc)); i++)
		usleep(10000);
	CHECK(gone, "vc's helper %d still there after its detach", hc);
	detach_clean("vale0:va", ha, "two");
	close(sb);
	close(sd);
}

/* ---- the XDP fast path between NIC ports (src/ports/vale_xdp.c) ---------------- */

/* the helper of vale0:IF says the fast path serves it */
static bool xdp_on(const char *ifname)
{
	char port[32];
	snprintf(port, sizeof(port), "vale0:%s", ifname);
	return unetmap_vale_xdp_state(port, NULL, NULL) == 1;
}

static bool wait_xdp(const char *ifname, bool want, int ms)
{
	for (int i = 0; i < ms / 10; i++) {
		if (xdp_on(ifname) == want)
			return true;
		usleep(10000);
	}
	return xdp_on(ifname) == want;
}

/* frames port `name` sent (tx) or got (rx) through the fast path */
static uint64_t xdp_frames(const char *name, bool tx)
{
	uint64_t sent = 0, recv = 0;
	if (unetmap_vale_xdp_state(name, &sent, &recv) < 0)
		return 0;
	return tx ? sent : recv;
}

/* xdp_frames(name, tx) reaches at least `want` within ms */
static uint64_t wait_xdp_frames(const char *name, bool tx, uint64_t want, int ms)
{
	uint64_t n = 0;
	for (int i = 0; i < ms / 10 && (n = xdp_frames(name, tx)) < want; i++)
		usleep(10000);
	return n;
}

/* the switch has learned `mac` on port `port`, and the helpers had time to
 * put it in their maps (a few syncs later) */
static bool learned(const uint8_t *mac, const char *port)
{
	long idx = listed(port);
	struct unetmap_vale_mac m[64];
	for (int i = 0; i < 300 && idx >= 0; i++) {
		int n = unetmap_vale_macs("vale0", m, 64);
		for (int k = 0; k < n && k < 64; k++)
			if (memcmp(m[k].mac, mac, 6) == 0 && m[k].port_idx == idx) {
				usleep(3 * VN_SYNC_WAIT_US);
				return true;
			}
		usleep(10000);
	}
	return false;
}

/* vb and vd with NAPI (GRO on), so that va and vc can take ndo_xdp_xmit:
 * frames between the hosts behind vb and vd never leave the kernel, are
 * counted by the switch, and take the switch's path again while a monitor
 * watches a port, when an address moves to a VALE port, when a peer loses
 * NAPI, and with UNETMAP_VALE_XDP=0 */
static void fast_path(void)
{
	static const uint8_t bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
	REQUIRE(t_sh("ethtool -K vb gro on >/dev/null && ethtool -K vd gro on >/dev/null") == 0,
		"ethtool -K gro on");
	struct nmport_d *p = nmport_open("vale0:p");
	REQUIRE(p != NULL, "open vale0:p: %s", unetmap_last_error());
	int e = attach("vale0:va", NR_REG_ALL_NIC);
	REQUIRE(e == 0, "attach vale0:va: %s (%s)", strerror(e), unetmap_last_error());
	e = attach("vale0:vc", NR_REG_ALL_NIC);
	REQUIRE(e == 0, "attach vale0:vc: %s (%s)", strerror(e), unetmap_last_error());
	pid_t ha = helper_of("va"), hc = helper_of("vc");
	CHECK(t_caps_gone(ha, 2000) && t_caps_gone(hc, 2000),
	      "the attachment helpers kept capabilities after opening their ports");
	int sb = t_pkt_sock(t_vb), sd = t_pkt_sock(t_vd);
	/* the switch learns b_mac on va and d_mac on vc (broadcasts: the
	 * switch's path floods them, vale0:p gets them too) */
	inject(sb, t_vb, bcast, b_mac, 1000, 4);
	inject(sd, t_vd, bcast, d_mac, 1010, 4);
	CHECK(port_count(p, 1000, 4, 3000) == 4, "vale0:p: broadcasts from vb");
	CHECK(learned(b_mac, "vale0:va") && learned(d_mac, "vale0:vc"),
	      "the switch did not learn b_mac on va and d_mac on vc");
	CHECK(wait_xdp("va", true, 2000) && wait_xdp("vc", true, 2000),
	      "fast path not on for va/vc after learning (%d/%d)", xdp_on("va"), xdp_on("vc"));
	uint64_t t0 = xdp_frames("vale0:va", true), r0 = xdp_frames("vale0:vc", false);
	struct unetmap_vale_port_stats s0 = pstats("vale0:va");
	inject(sb, t_vb, d_mac, b_mac, 1100, NF);
	int got = sock_count(sd, 1100, NF, 3000);
	CHECK(got == NF, "fast path: vd got %d of %d frames injected on vb", got, NF);
	uint64_t t1 = wait_xdp_frames("vale0:va", true, t0 + NF, 2000);
	uint64_t r1 = wait_xdp_frames("vale0:vc", false, r0 + NF, 2000);
	CHECK(t1 - t0 == NF && r1 - r0 == NF, "fast path counted %llu sent by va, %llu to vc, "
	      "want %d", (unsigned long long)(t1 - t0), (unsigned long long)(r1 - r0), NF);
	struct unetmap_vale_port_stats s1 = pstats("vale0:va");
	CHECK(s1.tx_frames - s0.tx_frames == NF, "vale0:va tx_frames +%llu, want +%d (fast "
	      "path frames in the port's counters)", (unsigned long long)(s1.tx_frames - s0.tx_frames), NF);
	/* and back */
	inject(sd, t_vd, b_mac, d_mac, 1200, NF);
	got = sock_count(sb, 1200, NF, 3000);
	CHECK(got == NF, "fast path: vb got %d of %d frames injected on vd", got, NF);
	CHECK(wait_xdp_frames("vale0:vc", true, NF, 2000) >= NF, "vc's frames not on the fast path");

	/* a monitor of vale0:vc must see what goes to vc: the fast path stops */
	struct nmport_d *mon = nmport_open("vale0:vc/r");
	REQUIRE(mon != NULL, "open vale0:vc/r: %s", unetmap_last_error());
	CHECK(wait_xdp("va", false, 2000), "fast path still on for va with vale0:vc monitored");
	t0 = xdp_frames("vale0:va", true);
	inject(sb, t_vb, d_mac, b_mac, 1300, NF);
	got = sock_count(sd, 1300, NF, 3000);
	CHECK(got == NF, "monitored: vd got %d of %d", got, NF);
	got = port_count(mon, 1300, NF, 3000);
	CHECK(got == NF, "monitor vale0:vc/r saw %d of %d frames", got, NF);
	CHECK(xdp_frames("vale0:va", true) == t0, "frames took the fast path under a monitor");
	nmport_close(mon);
	CHECK(wait_xdp("va", true, 2000), "fast path not back for va after the monitor left");

	/* d_mac moves to the VALE port p: frames for it go to p, not to vd */
	port_send(p, bcast, d_mac, 1400, 2);
	CHECK(learned(d_mac, "vale0:p"), "d_mac not learned on vale0:p");
	inject(sb, t_vb, d_mac, b_mac, 1500, NF);
	got = port_count(p, 1500, NF, 3000);
	CHECK(got == NF, "moved address: vale0:p got %d of %d", got, NF);
	CHECK(sock_count(sd, 1500, NF, 300) == 0, "moved address: frames still reached vd");

	/* back on vc, then vd loses NAPI: the switch's path, nothing lost */
	inject(sd, t_vd, bcast, d_mac, 1600, 2);
	CHECK(learned(d_mac, "vale0:vc"), "d_mac not learned on vale0:vc again");
	/* vd without NAPI: vc cannot take XDP frames; the fast path passes
	 * them as skbs, redirected by tc (unm_tc_nic_fwd) */
	REQUIRE(t_sh("ethtool -K vd gro off >/dev/null") == 0, "ethtool -K vd gro off");
	usleep(3 * VN_SYNC_WAIT_US);
	t0 = xdp_frames("vale0:va", true);
	inject(sb, t_vb, d_mac, b_mac, 1700, NF);
	got = sock_count(sd, 1700, NF, 3000);
	CHECK(got == NF, "peer without NAPI: vd got %d of %d", got, NF);
	t1 = wait_xdp_frames("vale0:va", true, t0 + NF, 2000);
	CHECK(xdp_on("va") && t1 - t0 == NF, "peer without NAPI: %llu of %d frames on the "
	      "fast path (skb redirect)", (unsigned long long)(t1 - t0), NF);
	REQUIRE(t_sh("ethtool -K vd gro on >/dev/null") == 0, "ethtool -K vd gro on");
	CHECK(detach("vale0:vc") == 0, "detach vale0:vc: %s", unetmap_last_error());
	CHECK(wait_xdp("va", false, 2000), "fast path still on for va alone");
	bool gone = false;
	for (int i = 0; i < 100 && !(gone = t_pid_gone(hc)); i++)
		usleep(10000);
	CHECK(gone, "vc's helper %d still there after its detach", hc);
	detach_clean("vale0:va", ha, "fast path");

	/* UNETMAP_VALE_XDP=0 (inherited by the helpers): never on */
	setenv("UNETMAP_VALE_XDP", "0", 1);
	CHECK(attach("vale0:va", NR_REG_ALL_NIC) == 0 && attach("vale0:vc", NR_REG_ALL_NIC) == 0,
	      "attach with UNETMAP_VALE_XDP=0: %s", unetmap_last_error());
	unsetenv("UNETMAP_VALE_XDP");
	ha = helper_of("va");
	inject(sb, t_vb, bcast, b_mac, 1800, 2);
	inject(sd, t_vd, bcast, d_mac, 1810, 2);
	CHECK(learned(b_mac, "vale0:va") && learned(d_mac, "vale0:vc"),
	      "UNETMAP_VALE_XDP=0: addresses not learned");
	inject(sb, t_vb, d_mac, b_mac, 1900, NF);
	got = sock_count(sd, 1900, NF, 3000);
	CHECK(got == NF, "UNETMAP_VALE_XDP=0: vd got %d of %d", got, NF);
	CHECK(!xdp_on("va") && xdp_frames("vale0:va", true) == 0,
	      "UNETMAP_VALE_XDP=0: fast path on (%d) or used", xdp_on("va"));
	CHECK(unetmap_vale_xdp_state("vale0:p", NULL, NULL) == -ENOENT &&
	      unetmap_vale_xdp_state("netmap:va", NULL, NULL) == -EINVAL,
	      "unetmap_vale_xdp_state of a plain port / a non-VALE name");
	CHECK(detach("vale0:vc") == 0, "detach vale0:vc: %s", unetmap_last_error());
	detach_clean("vale0:va", ha, "fast path off");
	nmport_close(p);
	REQUIRE(t_sh("ethtool -K vb gro off >/dev/null && ethtool -K vd gro off >/dev/null") == 0,
		"ethtool -K gro off");
	close(sb);
	close(sd);
}

/* ---- two interfaces whose peers are in two other namespaces: ping ------------ */

static int ns0_fd = -1;

static void enter(int nsfd)
{
	REQUIRE(setns(nsfd, CLONE_NEWNET) == 0, "setns: %s", strerror(errno));
}

/* a child holding a new network namespace (it dies with us); *fd: the
 * namespace */
static pid_t ns_holder(int *fd)
{
	int pp[2];
	REQUIRE(pipe(pp) == 0, "pipe");
	pid_t pid = fork();
	REQUIRE(pid >= 0, "fork");
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
		char c = unshare(CLONE_NEWNET) == 0 ? 'r' : 'e';
		if (write(pp[1], &c, 1) != 1)
			_exit(1);
		for (;;)
			pause();
	}
	char c = 0;
	REQUIRE(read(pp[0], &c, 1) == 1 && c == 'r', "namespace holder");
	close(pp[0]);
	close(pp[1]);
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/ns/net", (int)pid);
	*fd = open(path, O_RDONLY | O_CLOEXEC);
	REQUIRE(*fd >= 0, "%s: %s", path, strerror(errno));
	return pid;
}

static uint16_t icmp_sum(const uint8_t *p, size_t n)
{
	uint32_t s = 0;
	for (size_t i = 0; i + 1 < n; i += 2)
		s += (uint32_t)(p[i] << 8 | p[i + 1]);
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)~s;
}

/* ICMP echo requests on raw socket s to `to`: how many were answered
 * (each within 2 s) */
static int ping(int s, const char *to, int n)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	inet_pton(AF_INET, to, &a.sin_addr);
	int answered = 0;
	for (int i = 0; i < n; i++) {
		uint8_t pkt[32];
		memset(pkt, 0xa5, sizeof(pkt));
		pkt[0] = 8;	/* echo request */
		pkt[1] = 0;
		pkt[2] = pkt[3] = 0;
		pkt[4] = 0x56;	/* id */
		pkt[5] = 0x4e;
		pkt[6] = 0;
		pkt[7] = (uint8_t)i;	/* sequence */
		uint16_t c = icmp_sum(pkt, sizeof(pkt));
		pkt[2] = (uint8_t)(c >> 8);
		pkt[3] = (uint8_t)c;
		if (sendto(s, pkt, sizeof(pkt), 0, (struct sockaddr *)&a, sizeof(a)) < 0)
			continue;
		int64_t end = unm_test_now_ms() + 2000;
		bool got = false;
		while (!got && unm_test_now_ms() < end) {
			struct pollfd p = { .fd = s, .events = POLLIN };
			if (poll(&p, 1, 50) <= 0)
				continue;
			uint8_t b[256];
			ssize_t l = recv(s, b, sizeof(b), MSG_DONTWAIT);
			if (l < 28)
				continue;
			const uint8_t *ic = b + (b[0] & 0xf) * 4;
			got = ic[0] == 0 && ic[4] == 0x56 && ic[5] == 0x4e && ic[7] == (uint8_t)i;
		}
		answered += got;
	}
	return answered;
}

static void two_namespaces(void)
{
	int fa, fb;
	pid_t pa = ns_holder(&fa), pb = ns_holder(&fb);
	REQUIRE(t_sh("ip link add x1 type veth peer name y1 && ip link add x2 type veth peer "
		     "name y2 && ip link set x1 up && ip link set x2 up && ip link set y1 netns "
		     "%d && ip link set y2 netns %d", (int)pa, (int)pb) == 0, "veths x1/y1 x2/y2");
	enter(fa);
	REQUIRE(t_sh("ip link set lo up && ip link set y1 up && ip addr add 10.1.0.1/24 dev y1") ==
		0, "namespace A");
	int s = socket(AF_INET, SOCK_RAW | SOCK_NONBLOCK, IPPROTO_ICMP);
	enter(fb);
	REQUIRE(t_sh("ip link set lo up && ip link set y2 up && ip addr add 10.1.0.2/24 dev y2") ==
		0, "namespace B");
	enter(ns0_fd);	/* the helpers live where the interfaces are */
	REQUIRE(s >= 0, "raw ICMP socket: %s", strerror(errno));
	int e1 = attach("vale0:x1", NR_REG_ALL_NIC), e2 = attach("vale0:x2", NR_REG_ALL_NIC);
	CHECK(e1 == 0 && e2 == 0, "attach x1 / x2: %s / %s (%s)", strerror(e1), strerror(e2),
	      unetmap_last_error());
	pid_t h1 = helper_of("x1"), h2 = helper_of("x2");
	/* ARP and ICMP from namespace A to B and back, through vale0 */
	int n = ping(s, "10.1.0.2", 5);
	CHECK(n == 5, "%d of 5 pings from namespace A answered by B through vale0", n);
	close(s);
	if (e1 == 0)
		CHECK(detach("vale0:x1") == 0, "detach x1: %s", unetmap_last_error());
	if (e2 == 0)
		CHECK(detach("vale0:x2") == 0, "detach x2: %s", unetmap_last_error());
	bool gone = false;
	for (int i = 0; i < 200 && !gone; i++) {
		gone = (h1 <= 0 || t_pid_gone(h1)) && (h2 <= 0 || t_pid_gone(h2));
		if (!gone)
			usleep(10000);
	}
	CHECK(gone, "the helpers of x1 / x2 did not leave");
	kill(pa, SIGKILL);
	kill(pb, SIGKILL);
	waitpid(pa, NULL, 0);
	waitpid(pb, NULL, 0);
	close(fa);
	close(fb);
	t_sh("ip link del x1; ip link del x2");
}

static void killed(void)
{
	struct nmport_d *p = t_open("vale0:p");
	int e = attach("vale0:va", NR_REG_NIC_SW);
	REQUIRE(e == 0, "attach -h vale0:va: %s (%s)", strerror(e), unetmap_last_error());
	pid_t h = helper_of("va");
	REQUIRE(h > 0, "no helper");
	int sb = t_pkt_sock(t_vb);
	kill(h, SIGKILL);
	char why[200];
	CHECK(t_nic_clean(2000, h, why, sizeof(why)), "after SIGKILL of the helper: %s", why);
	unetmap_gc();	/* its registrations go: the port's rings close */
	struct unetmap_vale_port_stats s0 = pstats("vale0:p");
	port_send(p, b_mac, p_mac, 500, NF);
	CHECK(sock_count(sb, 500, NF, 500) == 0, "frames reached vb with the helper dead");
	struct unetmap_vale_port_stats s1 = pstats("vale0:p");
	CHECK(s1.drop_closed - s0.drop_closed >= NF, "vale0:p: %llu frames dropped as closed, "
	      "want %d", (unsigned long long)(s1.drop_closed - s0.drop_closed), NF);
	CHECK(polling("vale0:va", true, NETMAP_POLLING_MODE_SINGLE_CPU, 0, 1) == EIO,
	      "polling with the helper dead: want EIO");
	CHECK(attach("vale0:va", NR_REG_ALL_NIC) == EBUSY, "attach over a dead helper's "
	      "attachment: want EBUSY");
	detach_clean("vale0:va", 0, "killed");
	CHECK(listed("vale0:va^") < 0, "vale0:va^ left");
	/* attachable again */
	e = attach("vale0:va", NR_REG_ALL_NIC);
	CHECK(e == 0, "attach after the killed one: %s (%s)", strerror(e), unetmap_last_error());
	if (e == 0)
		detach_clean("vale0:va", helper_of("va"), "re-attach");
	close(sb);
	nmport_close(p);
}

static bool only_cpu(const cpu_set_t *s, int cpu)
{
	return CPU_COUNT(s) == 1 && CPU_ISSET(cpu, s);
}

/* threads of pid pinned to exactly `cpu` (other than the main thread) */
static int pinned_threads(pid_t pid, int cpu, int *ntasks)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	DIR *d = opendir(path);
	struct dirent *e;
	int n = 0;
	*ntasks = 0;
	while (d != NULL && (e = readdir(d)) != NULL) {
		pid_t tid = atoi(e->d_name);
		if (tid <= 0)
			continue;
		(*ntasks)++;
		cpu_set_t s;
		if (tid != pid && sched_getaffinity(tid, sizeof(s), &s) == 0 && only_cpu(&s, cpu))
			n++;
	}
	if (d != NULL)
		closedir(d);
	return n;
}

static void poll_mode(void)
{
	long online = sysconf(_SC_NPROCESSORS_ONLN);
	cpu_set_t mine, s;
	sched_getaffinity(0, sizeof(mine), &mine);
	struct nmport_d *p = t_open("vale0:p");
	int sb = t_pkt_sock(t_vb);
	int e = attach("vale0:va", NR_REG_ALL_NIC);
	REQUIRE(e == 0, "attach vale0:va: %s (%s)", strerror(e), unetmap_last_error());
	pid_t h = helper_of("va");
	CHECK(polling("vale0:va", false, 0, 0, 0) == EFAULT, "disable while not polling: EFAULT");
	CHECK(polling("vale0:va", true, NETMAP_POLLING_MODE_SINGLE_CPU, 0, 0) == EINVAL,
	      "0 CPUs: EINVAL");
	CHECK(polling("vale0:va", true, NETMAP_POLLING_MODE_SINGLE_CPU, 0, (uint32_t)online) ==
	      EINVAL, "all %ld CPUs: EINVAL", online);
	CHECK(polling("vale0:va", true, 7, 0, 1) == EINVAL, "mode 7: EINVAL");
	CHECK(polling("vale0:va", true, NETMAP_POLLING_MODE_MULTI_CPU, 4, 1) == EINVAL,
	      "MULTI_CPU ring 4 of 4: EINVAL");
	CHECK(polling("vale0:va", true, NETMAP_POLLING_MODE_SINGLE_CPU, 4096, 1) == EINVAL,
	      "CPU 4096: EINVAL");
	if (online < 2) {
		printf("note: one CPU online: netmap refuses to poll with all CPUs, polling not "
		       "tested\n");
		detach_clean("vale0:va", h, "poll");
		nmport_close(p);
		close(sb);
		return;
	}
	int cpu = (int)online - 1;
	/* SINGLE_CPU: the helper itself spins on `cpu` */
	e = polling("vale0:va", true, NETMAP_POLLING_MODE_SINGLE_CPU, (uint32_t)cpu, 1);
	CHECK(e == 0, "SINGLE_CPU on %d: %s (%s)", cpu, strerror(e), unetmap_last_error());
	CHECK(sched_getaffinity(h, sizeof(s), &s) == 0 && only_cpu(&s, cpu),
	      "SINGLE_CPU: helper affinity has %d CPUs, want only CPU %d", CPU_COUNT(&s), cpu);
	CHECK(polling("vale0:va", true, NETMAP_POLLING_MODE_SINGLE_CPU, (uint32_t)cpu, 1) ==
	      EFAULT, "enable twice: EFAULT");
	CHECK(detach("vale0:va") == EBUSY, "detach while polling: EBUSY");
	inject(sb, t_vb, p_mac, b_mac, 600, NF);
	CHECK(port_count(p, 600, NF, 3000) == NF, "SINGLE_CPU: frames from vb lost");
	port_send(p, b_mac, p_mac, 700, NF);
	CHECK(sock_count(sb, 700, NF, 3000) == NF, "SINGLE_CPU: frames to vb lost");
	/* spinning: far more than the idle figure above, even on a loaded
	 * machine */
	long c0 = cpu_ticks(h);
	usleep(500000);
	long busy = cpu_ticks(h) - c0;
	CHECK(busy >= sysconf(_SC_CLK_TCK) / 20, "SINGLE_CPU: helper used %ld ticks in 0.5 s: "
	      "not polling?", busy);
	fprintf(stderr, "note: SINGLE_CPU: the helper used %ld of %ld ticks in 0.5 s\n", busy,
		sysconf(_SC_CLK_TCK) / 2);
	e = polling("vale0:va", false, 0, 0, 0);
	CHECK(e == 0, "disable: %s", strerror(e));
	CHECK(sched_getaffinity(h, sizeof(s), &s) == 0 && CPU_EQUAL(&s, &mine),
	      "after disable: helper affinity has %d CPUs, want the original %d", CPU_COUNT(&s),
	      CPU_COUNT(&mine));
	CHECK(polling("vale0:va", false, 0, 0, 0) == EFAULT, "disable twice: EFAULT");

	/* MULTI_CPU: ring 1 polled by a thread on CPU 1 */
	e = polling("vale0:va", true, NETMAP_POLLING_MODE_MULTI_CPU, 1, 1);
	CHECK(e == 0, "MULTI_CPU ring 1: %s (%s)", strerror(e), unetmap_last_error());
	int ntasks = 0;
	CHECK(pinned_threads(h, 1, &ntasks) == 1 && ntasks == 2, "MULTI_CPU: %d threads on CPU "
	      "1 of %d, want 1 of 2", pinned_threads(h, 1, &ntasks), ntasks);
	CHECK(sched_getaffinity(h, sizeof(s), &s) == 0 && CPU_EQUAL(&s, &mine),
	      "MULTI_CPU: the main thread was pinned");
	inject(sb, t_vb, p_mac, b_mac, 800, NF);
	CHECK(port_count(p, 800, NF, 3000) == NF, "MULTI_CPU: frames from vb lost");
	port_send(p, b_mac, p_mac, 900, NF);
	CHECK(sock_count(sb, 900, NF, 3000) == NF, "MULTI_CPU: frames to vb lost");
	e = polling("vale0:va", false, 0, 0, 0);
	CHECK(e == 0, "disable MULTI_CPU: %s", strerror(e));
	pinned_threads(h, 1, &ntasks);
	CHECK(ntasks == 1, "after disable: %d threads, want 1", ntasks);
	detach_clean("vale0:va", h, "poll");
	nmport_close(p);
	close(sb);
}

int main(void)
{
	t_nic_setup(150);
	atexit(on_exit_kill);
	struct sigaction sa = { .sa_handler = on_alarm };
	sigaction(SIGALRM, &sa, NULL);
	REQUIRE(t_sh("ip link add vc type veth peer name vd && ip link set vc up && "
		     "ip link set vd up") == 0, "creating vc/vd");
	t_vc = (int)if_nametoindex("vc");
	t_vd = (int)if_nametoindex("vd");
	ns0_fd = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	REQUIRE(ns0_fd >= 0, "our namespace: %s", strerror(errno));

	errors();
	basic("copy");
	basic("packet");
	host_stack();
	two_nics();
	fast_path();
	two_namespaces();
	killed();
	poll_mode();
	/* every helper leaves (a NIC helper right after its objects) */
	int left = 0;
	for (int i = 0; i < 200; i++) {
		if ((left = helpers_scan(i == 199 ? SCAN_SHOW : SCAN_COUNT)) == 0)
			break;
		usleep(10000);
	}
	CHECK(left == 0, "%d helper processes were left running", left);
	return t_nic_done();
}
