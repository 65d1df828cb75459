/*
 * nic_refuse: what a NIC session refuses, and the take-over option
 * (src/nic/kobj.c), on a veth pair in a private network namespace:
 *  - a foreign XDP program on the interface: -EBUSY naming it; with
 *    UNM_NIC_F_TAKEOVER it is detached and the session opens;
 *  - a foreign tcx program (a bpf_link): -EBUSY naming it; take-over;
 *  - a clsact qdisc with a filter: -EBUSY naming the filter kind; take-over
 *    deletes the qdisc;
 *  - without CAP_BPF (and CAP_SYS_ADMIN, which also grants BPF), without
 *    CAP_NET_ADMIN, without CAP_NET_RAW: -EPERM with a message naming the
 *    missing capability, nothing started, nothing attached; a low
 *    RLIMIT_MEMLOCK without CAP_IPC_LOCK names both;
 *  - an unknown interface: -ENODEV; info on an interface nobody holds:
 *    -ENOENT; bad options: -EINVAL.
 * Every refusal leaves the interface as it was.  Needs root; skips otherwise.
 */
#include <sys/resource.h>
#include "kobjtest.h"

static int load_prog(enum bpf_prog_type type, const char *name, int32_t ret)
{
	struct bpf_insn insn[2];
	memset(insn, 0, sizeof(insn));
	insn[0].code = BPF_ALU64 | BPF_MOV | BPF_K;	/* r0 = ret */
	insn[0].dst_reg = BPF_REG_0;
	insn[0].imm = ret;
	insn[1].code = BPF_JMP | BPF_EXIT;
	int fd = bpf_prog_load(type, name, "GPL", insn, 2, NULL);
	REQUIRE(fd >= 0, "loading %s: %s", name, strerror(-fd));
	return fd;
}

static int tcx_link(int prog, int ifindex, uint32_t type)
{
	uint32_t a[8];
	memset(a, 0, sizeof(a));
	a[0] = (uint32_t)prog;
	a[1] = (uint32_t)ifindex;
	a[2] = type;
	long r = syscall(SYS_bpf, BPF_LINK_CREATE, a, sizeof(a));
	return r < 0 ? -errno : (int)r;
}

static bool nothing_attached(void)
{
	bool any = true;
	t_xdp_native(t_va, &any);
	return !any && t_tcx_count(t_va, T_TCX_INGRESS) == 0 &&
	       t_tcx_count(t_va, T_TCX_EGRESS) == 0 && t_taps() == 0;
}

static void open_close_clean(const struct unm_nic_opts *o, const char *what)
{
	char why[160];
	struct unm_nic_session s;
	int r = unm_nic_session_open("va", o, &s);
	CHECK(r == 0, "%s: %s", what, unetmap_last_error());
	if (r == 0) {
		CHECK(s.info.flags & UNM_NIC_I_TAKEOVER, "%s: take-over flag", what);
		pid_t h = s.info.helper_pid;
		unm_nic_session_close(&s);
		CHECK(t_nic_clean(1000, h, why, sizeof(why)), "%s: after close: %s", what, why);
	}
}

static void expect_busy(const char *what, const char *needle)
{
	struct unm_nic_session s;
	int r = unm_nic_session_open("va", NULL, &s);
	CHECK(r == -EBUSY, "%s: open gave %d (%s)", what, r, unetmap_last_error());
	printf("%s\n", unetmap_last_error());
	CHECK(strstr(unetmap_last_error(), needle) != NULL && strstr(unetmap_last_error(), "va"),
	      "%s: message '%s' does not name '%s'", what, unetmap_last_error(), needle);
	if (r == 0)
		unm_nic_session_close(&s);
	usleep(20000);
}

static void test_foreign_xdp(void)
{
	int p = load_prog(BPF_PROG_TYPE_XDP, "foreign_xdp", XDP_PASS);
	REQUIRE(bpf_xdp_attach(t_va, p, XDP_FLAGS_DRV_MODE, NULL) == 0, "attach foreign XDP");
	uint32_t id = t_xdp_native(t_va, NULL);
	expect_busy("foreign XDP", "foreign_xdp");
	CHECK(t_xdp_native(t_va, NULL) == id && t_tcx_count(t_va, T_TCX_EGRESS) == 0 &&
	      t_taps() == 0, "refusal changed the interface");
	struct unm_nic_opts o = { .sz = sizeof(o), .flags = UNM_NIC_F_TAKEOVER };
	open_close_clean(&o, "XDP take-over");
	close(p);
}

static void test_foreign_tcx(void)
{
	int p = load_prog(BPF_PROG_TYPE_SCHED_CLS, "foreign_tc", -1);
	int l = tcx_link(p, t_va, T_TCX_EGRESS);
	REQUIRE(l >= 0, "tcx link: %s", strerror(-l));
	expect_busy("foreign tcx", "foreign_tc");
	CHECK(t_tcx_count(t_va, T_TCX_EGRESS) == 1 && t_xdp_native(t_va, NULL) == 0,
	      "refusal changed the interface");
	struct unm_nic_opts o = { .sz = sizeof(o), .flags = UNM_NIC_F_TAKEOVER };
	open_close_clean(&o, "tcx take-over");
	close(l);
	close(p);
}

static void test_clsact(void)
{
	if (t_sh("tc qdisc add dev va clsact && "
		 "tc filter add dev va ingress protocol all u32 match u32 0 0 classid 1:1") != 0) {
		printf("no clsact/u32 here: clsact refusal not tested\n");
		t_sh("tc qdisc del dev va clsact 2>/dev/null");
		return;
	}
	expect_busy("clsact filter", "u32");
	CHECK(t_sh("tc filter show dev va ingress | grep -q u32") == 0, "refusal removed the filter");
	struct unm_nic_opts o = { .sz = sizeof(o), .flags = UNM_NIC_F_TAKEOVER };
	open_close_clean(&o, "clsact take-over");
	CHECK(t_sh("tc qdisc show dev va | grep -q clsact") != 0, "clsact still there");
	/* an empty clsact is no reason to refuse */
	t_sh("tc qdisc add dev va clsact");
	struct unm_nic_session s;
	int r = unm_nic_session_open("va", NULL, &s);
	CHECK(r == 0, "empty clsact refused: %s", unetmap_last_error());
	unm_nic_session_close(&s);
	t_sh("tc qdisc del dev va clsact");
}

struct capcase {
	uint64_t drop;
	const char *needle;
	uint64_t memlock;	/* > 0: RLIMIT_MEMLOCK and opts.umem_bytes */
};

static int cap_child(void *arg)
{
	const struct capcase *c = arg;
	if (c->memlock) {
		struct rlimit rl = { c->memlock, c->memlock };
		if (setrlimit(RLIMIT_MEMLOCK, &rl) != 0)
			return 3;
	}
	if (t_drop_caps(c->drop) != 0)
		return 3;
	struct unm_nic_opts o = { .sz = sizeof(o), .backend = UNM_NIC_XDP,
				  .umem_bytes = c->memlock ? 64 * c->memlock : 0 };
	struct unm_nic_session s;
	int r = unm_nic_session_open("va", &o, &s);
	const char *m = unetmap_last_error();
	printf("%s\n", m);
	fflush(stdout);
	if (r != -EPERM || strstr(m, c->needle) == NULL || strstr(m, "netmap:va") == NULL)
		return 1;
	return 0;
}

static void test_caps(void)
{
	const struct capcase cases[] = {
		{ 1ULL << CAP_BPF | 1ULL << CAP_SYS_ADMIN, "CAP_BPF missing: cannot load the XDP program", 0 },
		{ 1ULL << CAP_NET_ADMIN, "CAP_NET_ADMIN missing", 0 },
		{ 1ULL << CAP_NET_RAW, "CAP_NET_RAW missing", 0 },
		{ 1ULL << CAP_IPC_LOCK, "CAP_IPC_LOCK missing and RLIMIT_MEMLOCK", 65536 },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		fflush(stdout);
		pid_t c = t_child(cap_child, (void *)&cases[i]);
		int st = t_wait_child(c);
		CHECK(st == 0, "case %zu (%s): child status %d", i, cases[i].needle, st);
		CHECK(nothing_attached(), "case %zu left something attached", i);
	}
	/* CAP_BPF alone dropped: CAP_SYS_ADMIN still grants BPF, so it works
	 * and the check must not refuse it */
	uint64_t mask = 1ULL << CAP_BPF;
	pid_t c = fork();
	if (c == 0) {
		if (t_drop_caps(mask) != 0)
			_exit(3);
		struct unm_nic_session s;
		int r = unm_nic_session_open("va", NULL, &s);
		if (r != 0)
			fprintf(stderr, "without CAP_BPF, with CAP_SYS_ADMIN: %s\n", unetmap_last_error());
		unm_nic_session_close(&s);
		_exit(r == 0 ? 0 : 1);
	}
	CHECK(t_wait_child(c) == 0, "CAP_SYS_ADMIN without CAP_BPF refused");
	char why[160];
	CHECK(t_nic_clean(1000, 0, why, sizeof(why)), "after the CAP_SYS_ADMIN case: %s", why);
}

static void test_misc(void)
{
	struct unm_nic_session s;
	struct unm_nic_info in;
	CHECK(unm_nic_session_open("nosuchif0", NULL, &s) == -ENODEV &&
	      strstr(unetmap_last_error(), "netmap:nosuchif0") != NULL, "ENODEV: %s",
	      unetmap_last_error());
	CHECK(s.sock == -1 && s.xskmap_fd == -1 && s.tap_fd == -1, "fds after a failure");
	CHECK(unm_nic_info("va", &in) == -ENOENT, "info on a free interface");
	struct unm_nic_opts bad = { .sz = sizeof(bad), .backend = 7 };
	CHECK(unm_nic_session_open("va", &bad, &s) == -EINVAL, "bad backend");
	bad.backend = 0;
	bad.flags = 0x100;
	CHECK(unm_nic_session_open("va", &bad, &s) == -EINVAL, "bad flags");
	bad.flags = 0;
	bad.sz = 3;
	CHECK(unm_nic_session_open("va", &bad, &s) == -EINVAL, "bad size");
	CHECK(nothing_attached(), "misc left something attached");
}

int main(void)
{
	t_nic_setup(120);
	test_misc();
	test_foreign_xdp();
	test_foreign_tcx();
	test_clsact();
	test_caps();
	return t_nic_done();
}
