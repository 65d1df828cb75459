/*
 * nic_kobj: the shared kernel objects of a NIC and their owner process
 * (src/nic/kobj.c), on a 4-queue veth pair in a private network namespace:
 *  - a session with the XDP backend attaches unm_xdp in native mode and a
 *    tcx egress link, passes an XSKMAP of 4 entries, and the peer's frames
 *    no longer reach a UDP socket of the namespace (no AF_XDP socket bound:
 *    dropped); they do again after the close;
 *  - a second session from another process shares the helper; closing the
 *    first keeps everything, closing the last removes everything within 1 s;
 *  - SIGKILL of the only user, and SIGKILL of the helper, leave nothing
 *    (the TAP goes with the last holder of its fd);
 *  - the packet backend: a tcx ingress drop link instead of XDP;
 *  - four processes racing to be first share one helper;
 *  - the helper, forked from a process holding netmap descriptors, does not
 *    keep them: a pipe end closed by the user can be registered again.
 * Needs root; skips otherwise.
 */
#include <dirent.h>
#include <libnetmap.h>
#include "kobjtest.h"

static int pipe_r[2], pipe_w[2];	/* child -> parent, parent -> child */
static struct unm_nic_session *inherited;	/* the parent's, closed in children */

static void sync_pipes(void)
{
	REQUIRE(pipe(pipe_r) == 0 && pipe(pipe_w) == 0, "pipe");
}

/* child: open a session, report its helper pid, wait for a byte, close */
static int child_session(void *arg)
{
	const struct unm_nic_opts *o = arg;
	struct unm_nic_session s;
	if (inherited != NULL)
		unm_nic_session_close(inherited);	/* fork shares a session */
	int r = unm_nic_session_open("va", o, &s);
	int32_t pid = r < 0 ? r : s.info.helper_pid;
	if (r < 0)
		fprintf(stderr, "child open: %s\n", unetmap_last_error());
	if (write(pipe_r[1], &pid, sizeof(pid)) != sizeof(pid))
		return 2;
	char c;
	if (read(pipe_w[0], &c, 1) != 1) { /* parent gone */ }
	unm_nic_session_close(&s);
	return r < 0 ? 1 : 0;
}

static int32_t read_pid(void)
{
	int32_t pid = 0;
	struct pollfd p = { .fd = pipe_r[0], .events = POLLIN };
	REQUIRE(poll(&p, 1, 20000) == 1 && read(pipe_r[0], &pid, sizeof(pid)) == sizeof(pid),
		"child report");
	return pid;
}

static void release_child(void)
{
	REQUIRE(write(pipe_w[1], "x", 1) == 1, "release child");
}

static bool traffic_passes(const char *tag)
{
	int u = t_udp_sock(T_UDP_PORT);
	t_inject_to_va(tag);
	bool got = t_wait_payload(u, tag, 400);
	close(u);
	return got;
}

static void test_xdp_shared(void)
{
	char why[160];
	struct unm_nic_opts o = { .sz = sizeof(o), .backend = UNM_NIC_XDP };
	struct unm_nic_session s;
	CHECK(traffic_passes("before-1"), "no traffic before any session");

	int r = unm_nic_session_open("va", &o, &s);
	REQUIRE(r == 0, "open: %s", unetmap_last_error());
	CHECK(s.info.backend == UNM_NIC_XDP, "backend %u", s.info.backend);
	CHECK(s.info.xdp_mode == XDP_ATTACHED_DRV, "mode %u", s.info.xdp_mode);
	CHECK(s.info.nrxq == 4 && s.info.ntxq == 4, "queues %u/%u", s.info.nrxq, s.info.ntxq);
	CHECK(s.info.ifindex == (uint32_t)t_va && strcmp(s.info.ifname, "va") == 0, "ifname");
	CHECK(s.info.users == 1, "users %u", s.info.users);
	CHECK(s.info.mtu == 1500, "mtu %u", s.info.mtu);
	CHECK(s.tap_fd < 0 && !(s.info.flags & UNM_NIC_I_HOST), "no TAP unless asked");
	CHECK(s.info.flags & UNM_NIC_I_EGRESS, "egress flag");
	uint32_t id = t_xdp_native(t_va, NULL);
	CHECK(id != 0 && id == s.info.xdp_prog_id, "native XDP prog %u, info %u", id,
	      s.info.xdp_prog_id);
	CHECK(s.info.xdp_link_id != 0 && s.info.eg_link_id != 0, "link ids");
	CHECK(t_tcx_count(t_va, T_TCX_EGRESS) == 1, "tcx egress %d", t_tcx_count(t_va, T_TCX_EGRESS));
	CHECK(t_tcx_count(t_va, T_TCX_INGRESS) == 0, "tcx ingress");
	struct bpf_map_info mi;
	uint32_t ml = sizeof(mi);
	memset(&mi, 0, sizeof(mi));
	CHECK(s.xskmap_fd >= 0 && bpf_obj_get_info_by_fd(s.xskmap_fd, &mi, &ml) == 0 &&
	      mi.type == BPF_MAP_TYPE_XSKMAP && mi.max_entries == 4,
	      "XSKMAP fd %d type %u entries %u", s.xskmap_fd, mi.type, mi.max_entries);
	CHECK(fcntl(s.sock, F_GETFD) & FD_CLOEXEC, "session fds are close-on-exec");
	CHECK(!traffic_passes("held-1"), "the stack got a frame while netmap holds va");

	/* a second process shares it */
	sync_pipes();
	struct unm_nic_opts oa = { .sz = sizeof(oa), .backend = UNM_NIC_AUTO };
	inherited = &s;
	pid_t c = t_child(child_session, &oa);
	inherited = NULL;
	int32_t hp = read_pid();
	CHECK(hp == s.info.helper_pid, "second session: helper %d, first %d", hp,
	      s.info.helper_pid);
	struct unm_nic_info in;
	CHECK(unm_nic_info("va", &in) == 0 && in.users == 2 && in.xdp_link_id == s.info.xdp_link_id,
	      "info: users %u", in.users);

	/* the first closes: everything stays */
	pid_t helper = s.info.helper_pid;
	unm_nic_session_close(&s);
	usleep(100000);
	CHECK(t_xdp_native(t_va, NULL) == id, "XDP gone with the first of two sessions");
	CHECK(t_tcx_count(t_va, T_TCX_EGRESS) == 1, "egress link gone with the first session");
	CHECK(!t_pid_gone(helper), "helper gone with the first session");
	CHECK(unm_nic_info("va", &in) == 0 && in.users == 1, "users after one close %u", in.users);
	CHECK(!traffic_passes("held-2"), "the stack got a frame with one session left");

	/* the last closes: everything goes within 1 s */
	release_child();
	CHECK(t_wait_child(c) == 0, "child session");
	CHECK(t_nic_clean(1000, helper, why, sizeof(why)), "after the last close: %s", why);
	CHECK(unm_nic_info("va", &in) == -ENOENT, "info after the last close");
	CHECK(traffic_passes("after-1"), "no traffic after the last close");
	close(pipe_r[0]); close(pipe_r[1]); close(pipe_w[0]); close(pipe_w[1]);
}

static void test_kill_user(void)
{
	char why[160];
	sync_pipes();
	struct unm_nic_opts o = { .sz = sizeof(o), .backend = UNM_NIC_XDP, .flags = UNM_NIC_F_HOST };
	pid_t c = t_child(child_session, &o);
	int32_t hp = read_pid();
	REQUIRE(hp > 0, "child session failed");
	CHECK(t_xdp_native(t_va, NULL) != 0 && t_taps() == 1 &&
	      t_tcx_count(t_va, T_TCX_EGRESS) == 1, "objects of the child's session");
	kill(c, SIGKILL);
	CHECK(t_wait_child(c) == 128 + SIGKILL, "child killed");
	CHECK(t_nic_clean(1000, hp, why, sizeof(why)), "after SIGKILL of the user: %s", why);
	CHECK(traffic_passes("after-kill-user"), "no traffic after SIGKILL of the user");
	close(pipe_r[0]); close(pipe_r[1]); close(pipe_w[0]); close(pipe_w[1]);
}

static void test_kill_helper(void)
{
	char why[160];
	struct unm_nic_opts o = { .sz = sizeof(o), .backend = UNM_NIC_XDP, .flags = UNM_NIC_F_HOST };
	struct unm_nic_session s;
	REQUIRE(unm_nic_session_open("va", &o, &s) == 0, "open: %s", unetmap_last_error());
	CHECK(s.tap_fd >= 0 && t_taps() == 1, "TAP %d", t_taps());
	pid_t helper = s.info.helper_pid;
	kill(helper, SIGKILL);
	/* XDP and tcx go with the helper; the TAP stays while we hold its fd */
	int64_t end = unm_test_now_ms() + 1000;
	bool any = true;
	while (unm_test_now_ms() < end) {
		t_xdp_native(t_va, &any);
		if (!any && t_tcx_count(t_va, T_TCX_EGRESS) == 0 && t_pid_gone(helper))
			break;
		usleep(5000);
	}
	CHECK(!any && t_tcx_count(t_va, T_TCX_EGRESS) == 0, "links after SIGKILL of the helper");
	struct pollfd p = { .fd = s.sock, .events = POLLIN };
	CHECK(poll(&p, 1, 1000) == 1 && (p.revents & (POLLHUP | POLLIN)), "session sees the helper die");
	CHECK(unm_nic_session_refresh(&s) < 0, "refresh with a dead helper");
	unm_nic_session_close(&s);
	CHECK(t_nic_clean(1000, helper, why, sizeof(why)), "after SIGKILL of the helper: %s", why);
	CHECK(traffic_passes("after-kill-helper"), "no traffic after SIGKILL of the helper");

	/* and a new session works at once */
	REQUIRE(unm_nic_session_open("va", &o, &s) == 0, "reopen: %s", unetmap_last_error());
	CHECK(s.info.helper_pid != helper, "a new helper");
	helper = s.info.helper_pid;
	unm_nic_session_close(&s);
	CHECK(t_nic_clean(1000, helper, why, sizeof(why)), "after reopen+close: %s", why);
}

static void test_packet(void)
{
	char why[160];
	struct unm_nic_opts o = { .sz = sizeof(o), .backend = UNM_NIC_PACKET };
	struct unm_nic_session s;
	REQUIRE(unm_nic_session_open("va", &o, &s) == 0, "open packet: %s", unetmap_last_error());
	CHECK(s.info.backend == UNM_NIC_PACKET && s.xskmap_fd < 0, "packet backend, no XSKMAP");
	bool any = true;
	t_xdp_native(t_va, &any);
	CHECK(!any, "no XDP with the packet backend");
	CHECK(t_tcx_count(t_va, T_TCX_INGRESS) == 1 && t_tcx_count(t_va, T_TCX_EGRESS) == 1,
	      "tcx in %d eg %d", t_tcx_count(t_va, T_TCX_INGRESS), t_tcx_count(t_va, T_TCX_EGRESS));
	CHECK(s.info.tc_in_link_id != 0 && s.info.tc_prog_id != 0, "ingress link id");
	CHECK(!traffic_passes("held-packet"), "the stack got a frame (packet backend)");
	/* a packet socket still sees it (taps run before tc ingress) */
	int cap = t_capture(t_va);
	t_inject_to_va("tap-sees-it");
	CHECK(t_wait_payload(cap, "tap-sees-it", 1000), "packet socket missed the frame");
	close(cap);
	/* AUTO joins; XDP demanded is refused */
	struct unm_nic_session s2;
	struct unm_nic_opts ox = { .sz = sizeof(ox), .backend = UNM_NIC_XDP };
	CHECK(unm_nic_session_open("va", &ox, &s2) == -EBUSY &&
	      strstr(unetmap_last_error(), "packet backend") != NULL,
	      "XDP demanded while held with packet: %s", unetmap_last_error());
	pid_t helper = s.info.helper_pid;
	unm_nic_session_close(&s);
	CHECK(t_nic_clean(1000, helper, why, sizeof(why)), "after packet close: %s", why);
	CHECK(traffic_passes("after-packet"), "no traffic after the packet session");
}

static int racer(void *arg)
{
	(void)arg;
	struct unm_nic_session s;
	int r = unm_nic_session_open("va", NULL, &s);
	int32_t pid = r < 0 ? r : s.info.helper_pid;
	if (r < 0)
		fprintf(stderr, "racer: %s\n", unetmap_last_error());
	if (write(pipe_r[1], &pid, sizeof(pid)) != sizeof(pid))
		return 2;
	char c;
	if (read(pipe_w[0], &c, 1) != 1) { /* parent gone */ }
	unm_nic_session_close(&s);
	return r < 0;
}

static void test_race(void)
{
	char why[160];
	enum { N = 4 };
	for (int round = 0; round < 3; round++) {
		sync_pipes();
		pid_t c[N];
		for (int i = 0; i < N; i++)
			c[i] = t_child(racer, NULL);
		int32_t hp[N];
		for (int i = 0; i < N; i++)
			hp[i] = read_pid();
		for (int i = 1; i < N; i++)
			CHECK(hp[i] > 0 && hp[i] == hp[0], "round %d: racer %d helper %d vs %d",
			      round, i, hp[i], hp[0]);
		for (int i = 0; i < N; i++)
			release_child();
		for (int i = 0; i < N; i++)
			CHECK(t_wait_child(c[i]) == 0, "racer %d", i);
		CHECK(t_nic_clean(1000, hp[0] > 0 ? hp[0] : 0, why, sizeof(why)),
		      "after the race: %s", why);
		close(pipe_r[0]); close(pipe_r[1]); close(pipe_w[0]); close(pipe_w[1]);
	}
}

/* files of the runtime directory that process pid holds open */
static int held_in_dir(pid_t pid)
{
	char d[64], p[320], l[512];
	snprintf(d, sizeof(d), "/proc/%d/fd", (int)pid);
	DIR *dir = opendir(d);
	int n = 0;
	struct dirent *e;
	while (dir != NULL && (e = readdir(dir)) != NULL) {
		snprintf(p, sizeof(p), "%s/%s", d, e->d_name);
		ssize_t k = readlink(p, l, sizeof(l) - 1);
		if (k > 0) {
			l[k] = '\0';
			if (strncmp(l, t_dir, strlen(t_dir)) == 0)
				n++;
		}
	}
	if (dir != NULL)
		closedir(dir);
	return n;
}

static int reg_files(void)
{
	DIR *dir = opendir(t_dir);
	int n = 0;
	struct dirent *e;
	while (dir != NULL && (e = readdir(dir)) != NULL)
		n += strncmp(e->d_name, "reg-", 4) == 0;
	if (dir != NULL)
		closedir(dir);
	return n;
}

static void test_netmap_fds(void)
{
	char why[160];
	int base = reg_files();
	struct nmport_d *d = nmport_open("netmap:kobjpipe{1");
	REQUIRE(d != NULL, "pipe: %s", strerror(errno));
	CHECK(reg_files() == base + 1, "registration FIFO %d -> %d", base, reg_files());
	struct unm_nic_session s;
	REQUIRE(unm_nic_session_open("va", NULL, &s) == 0, "open: %s", unetmap_last_error());
	pid_t helper = s.info.helper_pid;
	CHECK(held_in_dir(helper) == 0, "the NIC helper holds %d runtime files",
	      held_in_dir(helper));
	CHECK(held_in_dir(getpid()) >= 1, "this process holds no runtime file");
	nmport_close(d);
	CHECK(reg_files() == base, "registration left after close: %d -> %d", base, reg_files());
	/* the helper still serves */
	struct unm_nic_info in;
	CHECK(unm_nic_info("va", &in) == 0 && in.users == 1, "helper after the pipe games");
	unm_nic_session_close(&s);
	CHECK(t_nic_clean(1000, helper, why, sizeof(why)), "after netmap fds: %s", why);
}

int main(void)
{
	t_nic_setup(120);
	test_xdp_shared();
	test_kill_user();
	test_kill_helper();
	test_packet();
	test_race();
	test_netmap_fds();
	return t_nic_done();
}
