/*
 * kobj.c - kernel objects of NIC ports and the helper process owning them
 * (see kobj.h for the model and the API).
 *
 * Layout of this file:
 *   raw bpf(2) and netlink helpers, capabilities, interface facts;
 *   pre-checks and take-over (foreign XDP, tcx, clsact/ingress filters);
 *   the objects: BPF object, XDP/tcx links, TAP;
 *   the helper: election, set-up, serving connections;
 *   the client side: sessions.
 *
 * Debian 12's linux/bpf.h (Linux 6.1) knows nothing of tcx and its libbpf
 * (1.1) has no tcx API: the few bpf(2) commands involving tcx are issued
 * here with their attribute layouts of Linux >= 6.6 written out.
 */
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <linux/bpf.h>
#include <linux/capability.h>
#include <linux/ethtool.h>
#include <linux/if_link.h>
#include <linux/if_tun.h>
#include <linux/netlink.h>
#include <linux/pkt_sched.h>
#include <linux/rtnetlink.h>
#include <linux/sockios.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "core/unm.h"
#include "unetmap.h"
#include "nic/kobj.h"

/* the embedded object (bpf_obj.S) */
extern const char unm_bpf_obj_start[], unm_bpf_obj_end[];

#define PORT_FMT	"netmap:%s"

/* ---- raw bpf(2) with the tcx layouts ------------------------------------- */

#define UNM_BPF_TCX_INGRESS	46
#define UNM_BPF_TCX_EGRESS	47

union unm_bpf_attr {
	struct {			/* BPF_LINK_CREATE */
		uint32_t prog_fd;
		uint32_t target_ifindex;
		uint32_t attach_type;
		uint32_t flags;
		uint32_t relative_fd;	/* tcx: 0 = append */
		uint32_t pad;
		uint64_t expected_revision;
	} link_create;
	struct {			/* BPF_PROG_QUERY */
		uint32_t target_ifindex;
		uint32_t attach_type;
		uint32_t query_flags;
		uint32_t attach_flags;
		uint64_t prog_ids;
		uint32_t count;
		uint32_t pad;
		uint64_t prog_attach_flags;
		uint64_t link_ids;	/* Linux >= 6.6 */
		uint64_t link_attach_flags;
		uint64_t revision;
	} query;
	struct {			/* BPF_PROG_DETACH */
		uint32_t target_ifindex;
		uint32_t attach_bpf_fd;
		uint32_t attach_type;
		uint32_t attach_flags;
		uint32_t replace_bpf_fd;
		uint32_t relative_fd;
		uint64_t expected_revision;
	} detach;
	uint8_t raw[72];
};

static int sys_bpf(int cmd, union unm_bpf_attr *a)
{
	long r = syscall(SYS_bpf, cmd, a, sizeof(*a));
	return r < 0 ? -errno : (int)r;
}

static const char *tcx_dir(uint32_t type)
{
	return type == UNM_BPF_TCX_INGRESS ? "ingress" : "egress";
}

/* a tcx link: returns its fd or -errno */
static int tcx_link(int prog_fd, int ifindex, uint32_t type)
{
	union unm_bpf_attr a;
	memset(&a, 0, sizeof(a));
	a.link_create.prog_fd = (uint32_t)prog_fd;
	a.link_create.target_ifindex = (uint32_t)ifindex;
	a.link_create.attach_type = type;
	int fd = sys_bpf(BPF_LINK_CREATE, &a);
	if (fd >= 0)
		fcntl(fd, F_SETFD, FD_CLOEXEC);
	return fd;
}

#define TCX_MAX 64
struct tcx_list {
	uint32_t n;
	uint32_t prog[TCX_MAX], link[TCX_MAX];
};

static int tcx_query(int ifindex, uint32_t type, struct tcx_list *l)
{
	union unm_bpf_attr a;
	memset(&a, 0, sizeof(a));
	memset(l, 0, sizeof(*l));
	a.query.target_ifindex = (uint32_t)ifindex;
	a.query.attach_type = type;
	a.query.prog_ids = (uint64_t)(uintptr_t)l->prog;
	a.query.link_ids = (uint64_t)(uintptr_t)l->link;
	a.query.count = TCX_MAX;
	int r = sys_bpf(BPF_PROG_QUERY, &a);
	if (r < 0 && r != -ENOSPC)
		return r;
	l->n = a.query.count < TCX_MAX ? a.query.count : TCX_MAX;
	return 0;
}

static void prog_name(uint32_t id, char *buf, size_t len)
{
	struct bpf_prog_info pi;
	uint32_t l = sizeof(pi);
	int fd = bpf_prog_get_fd_by_id(id);
	memset(&pi, 0, sizeof(pi));
	if (fd >= 0 && bpf_obj_get_info_by_fd(fd, &pi, &l) == 0 && pi.name[0] != '\0')
		snprintf(buf, len, "%s", pi.name);
	else
		snprintf(buf, len, "?");
	if (fd >= 0)
		close(fd);
}

/* id of a link (and of its program) from its fd, 0 if unknown */
static uint32_t link_id(int fd, uint32_t *prog_id)
{
	struct bpf_link_info li;
	uint32_t l = sizeof(li);
	memset(&li, 0, sizeof(li));
	if (fd < 0 || bpf_obj_get_info_by_fd(fd, &li, &l) != 0)
		return 0;
	if (prog_id != NULL)
		*prog_id = li.prog_id;
	return li.id;
}

/* ---- netlink ---------------------------------------------------------------- */

typedef int (*nl_cb)(struct nlmsghdr *h, void *arg);

/* One rtnetlink request and its answers (a dump, an object, an ack).
 * Returns 0, the negative errno of an NLMSG_ERROR, or the callback's
 * non-zero value. */
static int nl_talk(uint16_t type, uint16_t flags, const void *body, size_t blen,
		   nl_cb cb, void *arg)
{
	struct {
		struct nlmsghdr h;
		char body[64];
	} req;
	if (blen > sizeof(req.body))
		return -EINVAL;
	int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	if (fd < 0)
		return -errno;
	struct timeval tv = { 2, 0 };
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	memset(&req, 0, sizeof(req));
	req.h.nlmsg_len = (uint32_t)NLMSG_LENGTH(blen);
	req.h.nlmsg_type = type;
	req.h.nlmsg_flags = (uint16_t)(NLM_F_REQUEST | flags);
	req.h.nlmsg_seq = 1;
	memcpy(req.body, body, blen);
	int ret = 0;
	if (send(fd, &req, req.h.nlmsg_len, 0) < 0) {
		ret = -errno;
		goto out;
	}
	char *buf = malloc(65536);
	if (buf == NULL) {
		ret = -ENOMEM;
		goto out;
	}
	for (int rounds = 0; rounds < 100000; rounds++) {
		ssize_t n = recv(fd, buf, 65536, 0);
		if (n < 0) {
			ret = errno == EAGAIN ? -ETIMEDOUT : -errno;
			break;
		}
		bool end = false;
		for (struct nlmsghdr *h = (struct nlmsghdr *)buf; NLMSG_OK(h, (size_t)n);
		     h = NLMSG_NEXT(h, n)) {
			if (h->nlmsg_type == NLMSG_DONE) {
				end = true;
				break;
			}
			if (h->nlmsg_type == NLMSG_ERROR) {
				struct nlmsgerr *e = NLMSG_DATA(h);
				ret = e->error;
				end = true;
				break;
			}
			if (cb != NULL && ret == 0)
				ret = cb(h, arg);	/* keep reading to the end */
		}
		if (end)
			break;
	}
	free(buf);
out:
	close(fd);
	return ret;
}

static const char *rta_str(struct rtattr *rta, size_t len, unsigned short type)
{
	for (; RTA_OK(rta, len); rta = RTA_NEXT(rta, len))
		if (rta->rta_type == type)
			return RTA_DATA(rta);
	return NULL;
}

struct qdisc_scan {
	int ifindex;
	char kind[16];		/* "clsact" or "ingress", "" if none */
	unsigned nfilters;
	char fkind[16];		/* kind of the first filter */
};

static int qdisc_cb(struct nlmsghdr *h, void *arg)
{
	struct qdisc_scan *q = arg;
	struct tcmsg *t = NLMSG_DATA(h);
	if (h->nlmsg_type != RTM_NEWQDISC || t->tcm_ifindex != q->ifindex ||
	    t->tcm_parent != TC_H_INGRESS)	/* clsact and ingress: ffff:fff1 */
		return 0;
	const char *k = rta_str((struct rtattr *)((char *)t + NLMSG_ALIGN(sizeof(*t))),
				h->nlmsg_len - NLMSG_LENGTH(sizeof(*t)), TCA_KIND);
	if (k != NULL)
		snprintf(q->kind, sizeof(q->kind), "%s", k);
	return 0;
}

static int filter_cb(struct nlmsghdr *h, void *arg)
{
	struct qdisc_scan *q = arg;
	struct tcmsg *t = NLMSG_DATA(h);
	if (h->nlmsg_type != RTM_NEWTFILTER || t->tcm_ifindex != q->ifindex)
		return 0;
	const char *k = rta_str((struct rtattr *)((char *)t + NLMSG_ALIGN(sizeof(*t))),
				h->nlmsg_len - NLMSG_LENGTH(sizeof(*t)), TCA_KIND);
	if (k == NULL)
		return 0;
	if (q->nfilters++ == 0)
		snprintf(q->fkind, sizeof(q->fkind), "%s", k);
	return 0;
}

#ifndef TC_H_CLSACT
#define TC_H_CLSACT TC_H_INGRESS
#endif
#ifndef TC_H_MIN_INGRESS
#define TC_H_MIN_INGRESS 0xFFF2U
#define TC_H_MIN_EGRESS 0xFFF3U
#endif

/* the clsact/ingress qdisc of ifindex and the filters under it */
static int qdisc_scan(int ifindex, struct qdisc_scan *q)
{
	struct tcmsg t;
	memset(q, 0, sizeof(*q));
	q->ifindex = ifindex;
	memset(&t, 0, sizeof(t));
	t.tcm_family = AF_UNSPEC;
	t.tcm_ifindex = ifindex;
	int r = nl_talk(RTM_GETQDISC, NLM_F_DUMP, &t, sizeof(t), qdisc_cb, q);
	if (r < 0 || q->kind[0] == '\0')
		return r;
	uint32_t parents[2] = { TC_H_MAKE(TC_H_CLSACT, TC_H_MIN_INGRESS),
				TC_H_MAKE(TC_H_CLSACT, TC_H_MIN_EGRESS) };
	int np = 2;
	if (strcmp(q->kind, "ingress") == 0) {
		parents[0] = TC_H_MAKE(TC_H_INGRESS, 0);
		np = 1;
	}
	for (int i = 0; i < np && r == 0; i++) {
		t.tcm_parent = parents[i];
		r = nl_talk(RTM_GETTFILTER, NLM_F_DUMP, &t, sizeof(t), filter_cb, q);
	}
	return r;
}

static int qdisc_delete(int ifindex)
{
	struct tcmsg t;
	memset(&t, 0, sizeof(t));
	t.tcm_family = AF_UNSPEC;
	t.tcm_ifindex = ifindex;
	t.tcm_parent = TC_H_CLSACT;
	t.tcm_handle = TC_H_MAKE(TC_H_CLSACT, 0);
	return nl_talk(RTM_DELQDISC, NLM_F_ACK, &t, sizeof(t), NULL, NULL);
}

struct link_q {
	uint32_t nrx, ntx;
};

static int link_cb(struct nlmsghdr *h, void *arg)
{
	struct link_q *q = arg;
	if (h->nlmsg_type != RTM_NEWLINK)
		return 0;
	struct ifinfomsg *i = NLMSG_DATA(h);
	struct rtattr *rta = (struct rtattr *)((char *)i + NLMSG_ALIGN(sizeof(*i)));
	size_t len = h->nlmsg_len - NLMSG_LENGTH(sizeof(*i));
	for (; RTA_OK(rta, len); rta = RTA_NEXT(rta, len)) {
		if (rta->rta_type == IFLA_NUM_RX_QUEUES)
			memcpy(&q->nrx, RTA_DATA(rta), 4);
		else if (rta->rta_type == IFLA_NUM_TX_QUEUES)
			memcpy(&q->ntx, RTA_DATA(rta), 4);
	}
	return 0;
}

/* ---- capabilities and interface facts --------------------------------------- */

static int caps_effective(uint64_t *eff)
{
	struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3, .pid = 0 };
	struct __user_cap_data_struct d[2];
	memset(d, 0, sizeof(d));
	if (syscall(SYS_capget, &h, d) < 0)
		return -errno;
	*eff = (uint64_t)d[0].effective | (uint64_t)d[1].effective << 32;
	return 0;
}

#define CAPB(c) (1ULL << (c))

int unm_nic_check_caps(const char *ifname, unsigned need, uint64_t umem_bytes,
		       uint32_t backend)
{
	uint64_t eff = 0;
	int r = caps_effective(&eff);
	if (r < 0) {
		unm_seterr(PORT_FMT ": capget: %s", ifname, strerror(-r));
		return r;
	}
	struct {
		unsigned need;
		int cap;
		const char *name, *why;
	} tab[] = {
		{ UNM_NIC_NEED_SETUP, CAP_NET_ADMIN, "CAP_NET_ADMIN",
		  "cannot attach programs to the interface" },
		{ UNM_NIC_NEED_SOCKETS, CAP_NET_RAW, "CAP_NET_RAW",
		  backend == UNM_NIC_PACKET ? "cannot open AF_PACKET sockets"
					    : "cannot open AF_XDP sockets" },
		{ UNM_NIC_NEED_SETUP, CAP_BPF, "CAP_BPF",
		  backend == UNM_NIC_PACKET ? "cannot load the tc programs"
					    : "cannot load the XDP program" },
	};
	char names[96] = "", whys[160] = "";
	size_t nl = 0, wl = 0;
	/* the kernel's bpf_capable(): CAP_BPF, or CAP_SYS_ADMIN as before 5.8 */
	if (eff & CAPB(CAP_SYS_ADMIN))
		eff |= CAPB(CAP_BPF);
	for (size_t i = 0; i < sizeof(tab) / sizeof(tab[0]); i++) {
		if (!(need & tab[i].need) || (eff & CAPB(tab[i].cap)))
			continue;
		nl += (size_t)snprintf(names + nl, sizeof(names) - nl, "%s%s",
				       nl ? ", " : "", tab[i].name);
		wl += (size_t)snprintf(whys + wl, sizeof(whys) - wl, "%s%s",
				       wl ? "; " : "", tab[i].why);
		if (nl >= sizeof(names) || wl >= sizeof(whys))
			break;
	}
	if (names[0] != '\0') {
		unm_seterr(PORT_FMT ": %s missing: %s", ifname, names, whys);
		return -EPERM;
	}
	if (umem_bytes > 0 && !(eff & CAPB(CAP_IPC_LOCK))) {
		struct rlimit rl;
		if (getrlimit(RLIMIT_MEMLOCK, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
		    rl.rlim_cur < umem_bytes) {
			unm_seterr(PORT_FMT ": CAP_IPC_LOCK missing and RLIMIT_MEMLOCK (%llu KiB) "
				   "is below the UMEM (%llu KiB): cannot register the "
				   "AF_XDP UMEM (raise ulimit -l)", ifname,
				   (unsigned long long)rl.rlim_cur / 1024,
				   (unsigned long long)umem_bytes / 1024);
			return -EPERM;
		}
	}
	return 0;
}

const char *unm_nic_backend_name(uint32_t backend)
{
	switch (backend) {
	case UNM_NIC_AUTO: return "auto";
	case UNM_NIC_XDP: return "xdp";
	case UNM_NIC_PACKET: return "packet";
	}
	return "?";
}

static int ifreq_ioctl(const char *ifname, unsigned long req, struct ifreq *ifr)
{
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (s < 0)
		return -errno;
	snprintf(ifr->ifr_name, sizeof(ifr->ifr_name), "%s", ifname);
	int r = ioctl(s, req, ifr) < 0 ? -errno : 0;
	close(s);
	return r;
}

int unm_nic_queues(const char *ifname, uint32_t *nrx, uint32_t *ntx)
{
	struct ethtool_channels ch;
	struct ifreq ifr;
	memset(&ch, 0, sizeof(ch));
	memset(&ifr, 0, sizeof(ifr));
	ch.cmd = ETHTOOL_GCHANNELS;
	ifr.ifr_data = (void *)&ch;
	*nrx = *ntx = 0;
	if (ifreq_ioctl(ifname, SIOCETHTOOL, &ifr) == 0) {
		*nrx = ch.rx_count + ch.combined_count;
		*ntx = ch.tx_count + ch.combined_count;
	}
	if (*nrx == 0 || *ntx == 0) {
		struct ifinfomsg i;
		struct link_q q = { 0, 0 };
		memset(&i, 0, sizeof(i));
		i.ifi_family = AF_UNSPEC;
		i.ifi_index = (int)if_nametoindex(ifname);
		if (i.ifi_index > 0 &&
		    nl_talk(RTM_GETLINK, NLM_F_ACK, &i, sizeof(i), link_cb, &q) == 0) {
			if (*nrx == 0)
				*nrx = q.nrx;
			if (*ntx == 0)
				*ntx = q.ntx;
		}
	}
	if (*nrx == 0)
		*nrx = 1;
	if (*ntx == 0)
		*ntx = 1;
	return 0;
}

static uint32_t if_mtu(const char *ifname)
{
	struct ifreq ifr;
	memset(&ifr, 0, sizeof(ifr));
	return ifreq_ioctl(ifname, SIOCGIFMTU, &ifr) == 0 ? (uint32_t)ifr.ifr_mtu : 1500;
}

/* the abstract socket name of the helper of ifindex in this netns */
static socklen_t helper_addr(int ifindex, struct sockaddr_un *sa)
{
	struct stat st;
	unsigned long long ino = stat("/proc/self/ns/net", &st) == 0 ? (unsigned long long)st.st_ino : 0;
	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	int n = snprintf(sa->sun_path + 1, sizeof(sa->sun_path) - 1, "unetmap-nic/%llu/%d",
			 ino, ifindex);
	return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + (size_t)n);
}

/* ---- the protocol --------------------------------------------------------- */

#define PROTO_MAGIC	0x756e6d4eu	/* "unmN" */
#define PROTO_VERSION	2

enum { OP_OPEN = 1, OP_HOST, OP_INFO, OP_FWD };

struct nic_req {
	uint32_t magic, version, size, op;
	uint32_t backend, flags, ifindex;
	uint32_t ntap;		/* TAP queues if this request creates the TAP */
	char ifname[16];
};

struct nic_rep {
	uint32_t magic, version, size;
	int32_t err;		/* 0 or -errno */
	uint32_t lost;		/* this helper lost the election: connect again */
	int32_t fd_xskmap, fd_tap;	/* index in the SCM_RIGHTS array or -1 */
	int32_t fd_fwd;		/* OP_FWD: index of the first of the
				 * UNM_NIC_FWD_FDS fast-path maps, or -1 */
	struct unm_nic_info info;
	char msg[256];
	/* host rings: the TAP's queue fds are the last ntap of the SCM_RIGHTS
	 * array, queue k at index fd_tap + k */
	uint32_t ntap;
};

/* fds of one reply at most: the XSKMAP, the TAP queues, the fast-path maps */
#define REP_FDS_MAX	(8 + UNM_NIC_MAX_HOST)
_Static_assert(REP_FDS_MAX >= 1 + UNM_NIC_MAX_HOST + UNM_NIC_FWD_FDS, "reply fd array");

/* send a reply with up to REP_FDS_MAX fds */
static int send_rep(int sock, const struct nic_rep *rep, const int *fds, int nfds)
{
	struct iovec iov = { .iov_base = (void *)rep, .iov_len = sizeof(*rep) };
	union {
		char buf[CMSG_SPACE(REP_FDS_MAX * sizeof(int))];
		struct cmsghdr align;
	} u;
	struct msghdr m;
	memset(&m, 0, sizeof(m));
	m.msg_iov = &iov;
	m.msg_iovlen = 1;
	if (nfds > 0) {
		memset(&u, 0, sizeof(u));
		m.msg_control = u.buf;
		m.msg_controllen = CMSG_SPACE((size_t)nfds * sizeof(int));
		struct cmsghdr *c = CMSG_FIRSTHDR(&m);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN((size_t)nfds * sizeof(int));
		memcpy(CMSG_DATA(c), fds, (size_t)nfds * sizeof(int));
	}
	return sendmsg(sock, &m, MSG_NOSIGNAL | MSG_DONTWAIT) == (ssize_t)sizeof(*rep) ? 0 : -1;
}

/* ---- the helper: objects ---------------------------------------------------- */

/* must match struct unm_cfg of bpf/unetmap.bpf.c */
struct unm_nic_bpf_cfg {
	uint32_t nic_ifindex, tap_ifindex, mark, pad;
};

struct helper {
	char ifname[IF_NAMESIZE];
	int ifindex;
	uint32_t flags;			/* request flags of the first session */
	struct bpf_object *obj;
	int cfg_fd, xsk_fd;
	int fwd_fds[UNM_NIC_FWD_FDS];	/* XDP backend: the VALE fast-path maps */
	int xdp_link, tc_in_link, eg_link, tap_fd, tap_link;
	struct unm_nic_info info;
	uint32_t host_rings;		/* TAP queues the first session asked for */
	uint32_t ntap;			/* TAP queues: tap_fds[0] is tap_fd */
	int tap_fds[UNM_NIC_MAX_HOST];
};

static char libbpf_msg[160];

/* libbpf's diagnostics: keep the last warning for our messages, print nothing */
static int libbpf_quiet(enum libbpf_print_level lvl, const char *fmt, va_list ap)
{
	if (lvl == LIBBPF_WARN) {
		char line[sizeof(libbpf_msg)];
		vsnprintf(line, sizeof(line), fmt, ap);
		size_t n = strlen(line);
		while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == ' '))
			line[--n] = '\0';
		if (n > 0)
			memcpy(libbpf_msg, line, n + 1);
	}
	return 0;
}

static bool ours(const char *name)
{
	return strncmp(name, "unm_", 4) == 0;
}

/* XDP programs on ifindex: -EBUSY with a message naming the first foreign
 * one, 0 when none (*only_ours: only unetmap programs of a dying helper) */
static int check_xdp(struct helper *h, bool *only_ours)
{
	LIBBPF_OPTS(bpf_xdp_query_opts, q);
	*only_ours = false;
	int r = bpf_xdp_query(h->ifindex, 0, &q);
	if (r < 0) {
		unm_seterr(PORT_FMT ": querying XDP programs: %s", h->ifname, strerror(-r));
		return r;
	}
	struct { uint32_t id; const char *mode; } m[] = {
		{ q.drv_prog_id, "native" }, { q.skb_prog_id, "generic" },
		{ q.hw_prog_id, "offloaded" },
	};
	bool any = false, foreign = false;
	char name[BPF_OBJ_NAME_LEN] = "";
	uint32_t id = 0;
	const char *mode = "";
	for (size_t i = 0; i < 3; i++) {
		if (m[i].id == 0)
			continue;
		char n[BPF_OBJ_NAME_LEN];
		prog_name(m[i].id, n, sizeof(n));
		any = true;
		if (!ours(n) || !foreign) {
			if (!ours(n))
				foreign = true;
			memcpy(name, n, sizeof(n));
			id = m[i].id;
			mode = m[i].mode;
		}
	}
	if (!any)
		return 0;
	*only_ours = !foreign;
	unm_seterr(PORT_FMT ": XDP program '%s' (id %u, %s mode) is already attached: remove "
		   "it (ip link set dev %s xdp off) or take the interface over",
		   h->ifname, name, id, mode, h->ifname);
	return -EBUSY;
}

static int check_tcx(struct helper *h, bool *only_ours)
{
	*only_ours = false;
	bool any = false, foreign = false;
	for (uint32_t type = UNM_BPF_TCX_INGRESS; type <= UNM_BPF_TCX_EGRESS; type++) {
		struct tcx_list l;
		int r = tcx_query(h->ifindex, type, &l);
		if (r < 0) {
			unm_seterr(PORT_FMT ": querying tcx %s programs: %s%s", h->ifname,
				   tcx_dir(type), strerror(-r),
				   r == -EINVAL ? " (tcx needs Linux >= 6.6)" : "");
			return r;
		}
		for (uint32_t i = 0; i < l.n; i++) {
			char n[BPF_OBJ_NAME_LEN];
			prog_name(l.prog[i], n, sizeof(n));
			any = true;
			if (!ours(n) && !foreign) {
				foreign = true;
				unm_seterr(PORT_FMT ": tcx %s program '%s' (id %u%s) is already "
					   "attached: remove it or take the interface over",
					   h->ifname, tcx_dir(type), n, l.prog[i],
					   l.link[i] ? ", a bpf_link" : "");
			}
		}
	}
	if (!any)
		return 0;
	if (!foreign)
		unm_seterr(PORT_FMT ": tcx programs of another unetmap helper are still "
			   "attached", h->ifname);
	*only_ours = !foreign;
	return -EBUSY;
}

static int check_qdisc(struct helper *h)
{
	struct qdisc_scan q;
	int r = qdisc_scan(h->ifindex, &q);
	if (r < 0) {
		unm_seterr(PORT_FMT ": querying tc qdiscs: %s", h->ifname, strerror(-r));
		return r;
	}
	if (q.nfilters == 0)
		return 0;
	unm_seterr(PORT_FMT ": tc filters (the first one: %s) under the %s qdisc: remove "
		   "them (tc qdisc del dev %s %s) or take the interface over", h->ifname,
		   q.fkind, q.kind, h->ifname, q.kind);
	return -EBUSY;
}

/* Remove whatever foreign XDP program, tcx program/link or clsact/ingress
 * qdisc is on the interface (UNM_NIC_F_TAKEOVER). */
static int takeover(struct helper *h)
{
	LIBBPF_OPTS(bpf_xdp_query_opts, q);
	int r = 0;
	if (bpf_xdp_query(h->ifindex, 0, &q) == 0 && q.attach_mode != XDP_ATTACHED_NONE) {
		uint32_t modes[3] = { XDP_FLAGS_DRV_MODE, XDP_FLAGS_SKB_MODE, XDP_FLAGS_HW_MODE };
		uint32_t ids[3] = { q.drv_prog_id, q.skb_prog_id, q.hw_prog_id };
		for (int i = 0; i < 3; i++)
			if (ids[i] != 0)
				bpf_xdp_detach(h->ifindex, modes[i], NULL);
		/* attached through a bpf_link (EBUSY above): detach the link */
		uint32_t id = 0;
		while (bpf_link_get_next_id(id, &id) == 0) {
			int fd = bpf_link_get_fd_by_id(id);
			struct bpf_link_info li;
			uint32_t l = sizeof(li);
			memset(&li, 0, sizeof(li));
			if (fd >= 0 && bpf_obj_get_info_by_fd(fd, &li, &l) == 0 &&
			    li.type == BPF_LINK_TYPE_XDP && li.xdp.ifindex == (uint32_t)h->ifindex)
				bpf_link_detach(fd);
			if (fd >= 0)
				close(fd);
		}
	}
	for (uint32_t type = UNM_BPF_TCX_INGRESS; type <= UNM_BPF_TCX_EGRESS; type++) {
		struct tcx_list l;
		if (tcx_query(h->ifindex, type, &l) < 0)
			continue;
		for (uint32_t i = 0; i < l.n; i++) {
			if (l.link[i] != 0) {
				int fd = bpf_link_get_fd_by_id(l.link[i]);
				if (fd >= 0) {
					bpf_link_detach(fd);
					close(fd);
				}
				continue;
			}
			int pfd = bpf_prog_get_fd_by_id(l.prog[i]);
			if (pfd < 0)
				continue;
			union unm_bpf_attr a;
			memset(&a, 0, sizeof(a));
			a.detach.target_ifindex = (uint32_t)h->ifindex;
			a.detach.attach_bpf_fd = (uint32_t)pfd;
			a.detach.attach_type = type;
			sys_bpf(BPF_PROG_DETACH, &a);
			close(pfd);
		}
	}
	struct qdisc_scan qs;
	if (qdisc_scan(h->ifindex, &qs) == 0 && qs.kind[0] != '\0')
		r = qdisc_delete(h->ifindex);
	if (r < 0) {
		unm_seterr(PORT_FMT ": deleting the %s qdisc: %s", h->ifname, qs.kind,
			   strerror(-r));
		return r;
	}
	h->info.flags |= UNM_NIC_I_TAKEOVER;
	return 0;
}

/* All pre-checks; objects of a helper that is exiting (it gave up the name
 * first, its links go with its last fds) are waited for, up to 2 s. */
static int prechecks(struct helper *h)
{
	int64_t deadline = unm_now_ns() + 2000000000LL;
	bool took = false;
	for (;;) {
		bool o1 = false, o2 = false;
		int r = check_xdp(h, &o1);
		if (r == 0)
			r = check_tcx(h, &o2);
		if (r == 0)
			r = check_qdisc(h);
		if (r == 0)
			return 0;
		if (r != -EBUSY)
			return r;
		/* o1/o2: the failing check found only programs of ours */
		bool foreign = !(o1 || o2);
		if (foreign && (h->flags & UNM_NIC_F_TAKEOVER) && !took) {
			took = true;
			if ((r = takeover(h)) < 0)
				return r;
			continue;
		}
		if (foreign || unm_now_ns() > deadline)
			return -EBUSY;
		usleep(10000);
	}
}

static int find_prog(struct helper *h, const char *name)
{
	struct bpf_program *p = bpf_object__find_program_by_name(h->obj, name);
	return p != NULL ? bpf_program__fd(p) : -ENOENT;
}

static int load_object(struct helper *h, uint32_t backend)
{
	LIBBPF_OPTS(bpf_object_open_opts, oo, .object_name = "unetmap");
	libbpf_msg[0] = '\0';
	h->obj = bpf_object__open_mem(unm_bpf_obj_start,
				      (size_t)(unm_bpf_obj_end - unm_bpf_obj_start), &oo);
	if (h->obj == NULL) {
		int e = errno;
		unm_seterr(PORT_FMT ": opening the embedded BPF object: %s%s%s", h->ifname,
			   strerror(e), libbpf_msg[0] ? ": " : "", libbpf_msg);
		return -e;
	}
	struct bpf_map *xsks = bpf_object__find_map_by_name(h->obj, "unm_xsks");
	struct bpf_program *xdp = bpf_object__find_program_by_name(h->obj, "unm_xdp");
	if (xsks == NULL || xdp == NULL) {
		unm_seterr(PORT_FMT ": the embedded BPF object lacks unm_xsks/unm_xdp", h->ifname);
		return -ENOENT;
	}
	if (backend == UNM_NIC_PACKET) {
		bpf_program__set_autoload(xdp, false);
		bpf_map__set_autocreate(xsks, false);
	} else {
		bpf_map__set_max_entries(xsks, h->info.nrxq);
	}
	int r = bpf_object__load(h->obj);
	if (r < 0) {
		unm_seterr(PORT_FMT ": loading the BPF programs: %s%s%s%s", h->ifname,
			   strerror(-r), libbpf_msg[0] ? " (libbpf: " : "", libbpf_msg,
			   libbpf_msg[0] ? ")" : "");
		return r;
	}
	h->cfg_fd = bpf_object__find_map_fd_by_name(h->obj, "unm_cfg");
	h->xsk_fd = backend == UNM_NIC_PACKET ? -1 : bpf_map__fd(xsks);
	static const char *const fwd_maps[UNM_NIC_FWD_FDS] = {
		"unm_fwd", "unm_devs", "unm_fstat", "unm_fon"
	};
	for (int i = 0; i < UNM_NIC_FWD_FDS; i++)
		h->fwd_fds[i] = backend == UNM_NIC_PACKET ? -1 :
				bpf_object__find_map_fd_by_name(h->obj, fwd_maps[i]);
	struct unm_nic_bpf_cfg c = { (uint32_t)h->ifindex, 0, UNM_NIC_MARK, 0 };
	uint32_t k = 0;
	if (h->cfg_fd < 0 || bpf_map_update_elem(h->cfg_fd, &k, &c, BPF_ANY) < 0) {
		r = -errno;
		unm_seterr(PORT_FMT ": writing the BPF configuration: %s", h->ifname, strerror(-r));
		return r;
	}
	return 0;
}

static int attach_xdp(struct helper *h)
{
	LIBBPF_OPTS(bpf_link_create_opts, lo, .flags = XDP_FLAGS_DRV_MODE);
	int pfd = find_prog(h, "unm_xdp");
	int fd = bpf_link_create(pfd, h->ifindex, BPF_XDP, &lo);
	if (fd < 0) {
		int r = fd;
		if (r == -EOPNOTSUPP)
			unm_seterr(PORT_FMT ": the driver has no native XDP (EOPNOTSUPP): use "
				   "the packet backend", h->ifname);
		else if (r == -EINVAL)
			unm_seterr(PORT_FMT ": native XDP refused (EINVAL; on veth: the peer has "
				   "more TX queues than this side RX queues, or the MTU is "
				   "too large for XDP)", h->ifname);
		else
			unm_seterr(PORT_FMT ": attaching the XDP program (native mode): %s",
				   h->ifname, strerror(-r));
		return r;
	}
	fcntl(fd, F_SETFD, FD_CLOEXEC);
	h->xdp_link = fd;
	h->info.xdp_link_id = link_id(fd, &h->info.xdp_prog_id);
	h->info.xdp_mode = XDP_ATTACHED_DRV;
	return 0;
}

static int attach_tcx(struct helper *h, const char *prog, int ifindex, uint32_t type,
		      const char *what, int *link, uint32_t *id, uint32_t *prog_id)
{
	int fd = tcx_link(find_prog(h, prog), ifindex, type);
	if (fd < 0) {
		unm_seterr(PORT_FMT ": attaching the tcx %s link (%s): %s%s", h->ifname,
			   tcx_dir(type), what, strerror(-fd),
			   fd == -EINVAL ? " (tcx needs Linux >= 6.6)" : "");
		return fd;
	}
	*link = fd;
	*id = link_id(fd, prog_id);
	return 0;
}

static void tap_disable_ipv6(const char *name)
{
	char p[96];
	snprintf(p, sizeof(p), "/proc/sys/net/ipv6/conf/%s/disable_ipv6", name);
	int fd = open(p, O_WRONLY | O_CLOEXEC);
	if (fd >= 0) {
		if (write(fd, "1", 1) < 0) { /* no IPv6 here: nothing to silence */ }
		close(fd);
	}
}

/* one more queue of the multi-queue TAP name: its fd or -errno */
static int tap_queue(const char *name)
{
	int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	struct ifreq ifr;
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_MULTI_QUEUE;
	if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
		int r = -errno;
		close(fd);
		return r;
	}
	return fd;
}

/* The other queues of the TAP (queue 0 is fd), the steering program that
 * makes the stack's TX queue choose the TAP queue, and the NIC's TX queue
 * count that program's egress side needs (see kobj.h, "Which TX queue"). */
static int host_queues(struct helper *h, const char *name, int fd, uint32_t nq)
{
	int r;
	h->tap_fds[0] = fd;
	for (h->ntap = 1; h->ntap < nq; h->ntap++) {
		if ((r = tap_queue(name)) < 0) {
			unm_seterr(PORT_FMT ": opening queue %u of the TAP %s: %s", h->ifname,
				   h->ntap, name, strerror(-r));
			return r;
		}
		h->tap_fds[h->ntap] = r;
	}
	int steer = find_prog(h, "unm_tap_steer");
	if (steer < 0 || ioctl(fd, TUNSETSTEERINGEBPF, &steer) < 0) {
		r = steer < 0 ? steer : -errno;
		unm_seterr(PORT_FMT ": attaching the queue steering program to the TAP %s: %s",
			   h->ifname, name, strerror(-r));
		return r;
	}
	int qfd = bpf_object__find_map_fd_by_name(h->obj, "unm_ntxq");
	uint32_t k = 0, ntxq = h->info.ntxq ? h->info.ntxq : 1;
	if (qfd < 0 || bpf_map_update_elem(qfd, &k, &ntxq, BPF_ANY) < 0) {
		r = qfd < 0 ? qfd : -errno;
		unm_seterr(PORT_FMT ": writing the TX queue count: %s", h->ifname, strerror(-r));
		return r;
	}
	return 0;
}

/* the TAP of the host rings (nq queues), its tcx ingress link, the
 * redirect to it */
static int make_host(struct helper *h, uint32_t nq)
{
	if (h->tap_fd >= 0)
		return 0;
	nq = nq == 0 ? 1 : nq > UNM_NIC_MAX_HOST ? UNM_NIC_MAX_HOST : nq;
	char name[IF_NAMESIZE] = "";
	int fd = -1, r = -EBUSY;
	for (unsigned k = 0; k < 10 && fd < 0; k++) {
		/* "unm<ifindex>-<ifname>" cut to 15 characters: the ifindex
		 * makes it unique in the namespace */
		char full[64];
		if (k == 0)
			snprintf(full, sizeof(full), "unm%d-%s", h->ifindex, h->ifname);
		else
			snprintf(full, sizeof(full), "unm%d.%u-%s", h->ifindex, k, h->ifname);
		memcpy(name, full, sizeof(name) - 1);
		name[sizeof(name) - 1] = '\0';
		/* a multi-queue TAP of that name still held by the sessions of
		 * a helper gone would take us as one more queue: not ours */
		if (if_nametoindex(name) != 0) {
			r = -EEXIST;
			continue;
		}
		fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
		if (fd < 0) {
			r = -errno;
			unm_seterr(PORT_FMT ": opening /dev/net/tun: %s", h->ifname, strerror(-r));
			return r;
		}
		struct ifreq ifr;
		memset(&ifr, 0, sizeof(ifr));
		snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
		ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_MULTI_QUEUE;
		if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
			r = -errno;
			close(fd);
			fd = -1;
			if (r != -EBUSY && r != -EEXIST && r != -EINVAL)
				break;
			continue;
		}
		/* an existing persistent TAP of that name was attached: not ours */
		memset(&ifr, 0, sizeof(ifr));
		if (ioctl(fd, TUNGETIFF, &ifr) == 0 && (ifr.ifr_flags & IFF_PERSIST)) {
			close(fd);
			fd = -1;
			r = -EEXIST;
		}
	}
	if (fd < 0) {
		unm_seterr(PORT_FMT ": creating the TAP %s: %s", h->ifname, name, strerror(-r));
		return r;
	}
	int tidx = (int)if_nametoindex(name);
	tap_disable_ipv6(name);
	if ((r = host_queues(h, name, fd, nq)) < 0)
		goto fail;
	struct ifreq ifr;
	memset(&ifr, 0, sizeof(ifr));
	ifr.ifr_mtu = (int)h->info.mtu;
	if ((r = ifreq_ioctl(name, SIOCSIFMTU, &ifr)) < 0) {
		unm_seterr(PORT_FMT ": setting the MTU of %s to %u: %s", h->ifname, name,
			   h->info.mtu, strerror(-r));
		goto fail;
	}
	memset(&ifr, 0, sizeof(ifr));
	if ((r = ifreq_ioctl(name, SIOCGIFFLAGS, &ifr)) == 0) {
		ifr.ifr_flags |= IFF_UP | IFF_NOARP;
		r = ifreq_ioctl(name, SIOCSIFFLAGS, &ifr);
	}
	if (r < 0 || tidx <= 0) {
		unm_seterr(PORT_FMT ": bringing %s up: %s", h->ifname, name,
			   strerror(r < 0 ? -r : ENODEV));
		r = r < 0 ? r : -ENODEV;
		goto fail;
	}
	r = attach_tcx(h, "unm_tc_tap_ingress", tidx, UNM_BPF_TCX_INGRESS, name,
		       &h->tap_link, &h->info.tap_link_id, NULL);
	if (r < 0)
		goto fail;
	struct unm_nic_bpf_cfg c = { (uint32_t)h->ifindex, (uint32_t)tidx, UNM_NIC_MARK, 0 };
	uint32_t k = 0;
	if (bpf_map_update_elem(h->cfg_fd, &k, &c, BPF_ANY) < 0) {
		r = -errno;
		unm_seterr(PORT_FMT ": writing the BPF configuration: %s", h->ifname, strerror(-r));
		close(h->tap_link);
		h->tap_link = -1;
		h->info.tap_link_id = 0;
		goto fail;
	}
	h->tap_fd = fd;
	h->info.tap_ifindex = (uint32_t)tidx;
	h->info.tap_queues = h->ntap;
	memcpy(h->info.tap_name, name, sizeof(h->info.tap_name));
	h->info.flags |= UNM_NIC_I_HOST;
	return 0;
fail:
	close(fd);
	for (uint32_t i = 1; i < h->ntap; i++)
		close(h->tap_fds[i]);
	h->ntap = 0;
	return r;
}

static int setup(struct helper *h, uint32_t backend)
{
	struct unm_nic_info *in = &h->info;
	unm_nic_queues(h->ifname, &in->nrxq, &in->ntxq);
	in->mtu = if_mtu(h->ifname);
	in->ifindex = (uint32_t)h->ifindex;
	in->mark = UNM_NIC_MARK;
	in->helper_pid = (int32_t)getpid();
	memcpy(in->ifname, h->ifname, sizeof(in->ifname));
	int r = prechecks(h);
	if (r < 0)
		return r;
	if ((r = load_object(h, backend)) < 0)
		return r;
	in->backend = backend == UNM_NIC_PACKET ? UNM_NIC_PACKET : UNM_NIC_XDP;
	if (backend != UNM_NIC_PACKET && (r = attach_xdp(h)) < 0) {
		if (backend == UNM_NIC_XDP)
			return r;
		/* AUTO: the packet backend, saying why */
		snprintf(in->note, sizeof(in->note), "%s", unetmap_last_error());
		in->backend = UNM_NIC_PACKET;
	}
	if (in->backend == UNM_NIC_PACKET &&
	    (r = attach_tcx(h, "unm_tc_nic_ingress", h->ifindex, UNM_BPF_TCX_INGRESS,
			    "drop what the stack would receive", &h->tc_in_link,
			    &in->tc_in_link_id, &in->tc_prog_id)) < 0)
		return r;
	if ((r = attach_tcx(h, "unm_tc_nic_egress", h->ifindex, UNM_BPF_TCX_EGRESS,
			    "divert the host stack's transmissions", &h->eg_link,
			    &in->eg_link_id, NULL)) < 0)
		return r;
	in->flags |= UNM_NIC_I_EGRESS;
	if (in->backend == UNM_NIC_PACKET) {
		h->xsk_fd = -1;		/* AUTO fell back: no XSKMAP to pass */
		for (int i = 0; i < UNM_NIC_FWD_FDS; i++)
			h->fwd_fds[i] = -1;
	}
	if ((h->flags & UNM_NIC_F_HOST) && (r = make_host(h, h->host_rings)) < 0)
		return r;
	unm_clearerr();
	return 0;
}

/* detach everything now, before the name is given up */
static void teardown(struct helper *h)
{
	int *fds[] = { &h->xdp_link, &h->tc_in_link, &h->eg_link, &h->tap_link, &h->tap_fd };
	for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++)
		if (*fds[i] >= 0) {
			close(*fds[i]);
			*fds[i] = -1;
		}
	for (uint32_t i = 1; i < h->ntap; i++)
		close(h->tap_fds[i]);
	h->ntap = 0;
	if (h->obj != NULL)
		bpf_object__close(h->obj);
	h->obj = NULL;
}

/* ---- the helper: serving ------------------------------------------------------ */

#define MAX_CONNS 1024

struct conn {
	int fd;
	bool session;		/* OPEN succeeded: keeps the helper alive */
	bool trusted;		/* same uid as the helper, or root */
};

static bool peer_trusted(int fd)
{
	struct ucred cr;
	socklen_t l = sizeof(cr);
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &l) < 0)
		return false;
	return cr.uid == 0 || cr.uid == geteuid();
}

static void fill_rep(struct nic_rep *rep, const struct helper *h, int err)
{
	memset(rep, 0, sizeof(*rep));
	rep->magic = PROTO_MAGIC;
	rep->version = PROTO_VERSION;
	rep->size = sizeof(*rep);
	rep->err = err;
	rep->fd_xskmap = rep->fd_tap = rep->fd_fwd = -1;
	rep->info = h->info;
	if (err < 0)
		snprintf(rep->msg, sizeof(rep->msg), "%s", unetmap_last_error());
}

static bool req_ok(const struct nic_req *q, ssize_t n)
{
	return n == (ssize_t)sizeof(*q) && q->magic == PROTO_MAGIC &&
	       q->version == PROTO_VERSION && q->size == sizeof(*q);
}

/* answer one request of connection c; false: drop the connection */
static bool serve(struct helper *h, struct conn *c, const struct nic_req *q, uint32_t *users)
{
	struct nic_rep rep;
	int fds[REP_FDS_MAX], nfds = 0, err = 0;
	bool host = q->op == OP_HOST || (q->op == OP_OPEN && (q->flags & UNM_NIC_F_HOST));
	if (q->op != OP_OPEN && q->op != OP_HOST && q->op != OP_INFO && q->op != OP_FWD) {
		unm_seterr(PORT_FMT ": unknown request %u", h->ifname, q->op);
		err = -EINVAL;
	} else if (q->op != OP_INFO && !c->trusted) {
		unm_seterr(PORT_FMT ": the NIC helper (pid %d) serves only uid %u and root",
			   h->ifname, (int)getpid(), (unsigned)geteuid());
		err = -EPERM;
	} else if (q->op == OP_OPEN && c->session) {
		unm_seterr(PORT_FMT ": session already open", h->ifname);
		err = -EINVAL;
	} else if ((q->op == OP_HOST || q->op == OP_FWD) && !c->session) {
		unm_seterr(PORT_FMT ": no session on this connection", h->ifname);
		err = -EINVAL;
	} else if (q->op == OP_OPEN && q->backend != UNM_NIC_AUTO && q->backend != h->info.backend) {
		unm_seterr(PORT_FMT ": held with the %s backend by another process (NIC helper "
			   "pid %d): %s unavailable", h->ifname,
			   unm_nic_backend_name(h->info.backend), (int)getpid(),
			   unm_nic_backend_name(q->backend));
		err = -EBUSY;
	} else if (host) {
		err = make_host(h, q->ntap);
	} else if (q->op == OP_FWD && h->fwd_fds[UNM_NIC_FWD_FDS - 1] < 0) {
		unm_seterr(PORT_FMT ": the %s backend has no XDP fast path", h->ifname,
			   unm_nic_backend_name(h->info.backend));
		err = -EOPNOTSUPP;
	} else if (q->op == OP_FWD && h->tc_in_link < 0) {
		/* the fast path's frames that unm_xdp passes as skbs leave
		 * through this link (a plain NIC port has none) */
		err = attach_tcx(h, "unm_tc_nic_fwd", h->ifindex, UNM_BPF_TCX_INGRESS,
				 "the VALE fast path", &h->tc_in_link, &h->info.tc_in_link_id,
				 &h->info.tc_prog_id);
	}
	if (err == 0 && q->op == OP_OPEN && !c->session) {
		c->session = true;
		(*users)++;
	}
	h->info.users = *users;
	fill_rep(&rep, h, err);
	if (err == 0 && q->op == OP_OPEN && h->xsk_fd >= 0) {
		rep.fd_xskmap = nfds;
		fds[nfds++] = h->xsk_fd;
	}
	/* the TAP's queues last (rep.ntap of them from rep.fd_tap) */
	if (err == 0 && host) {
		rep.fd_tap = nfds;
		for (uint32_t i = 0; i < h->ntap && nfds < REP_FDS_MAX; i++)
			fds[nfds++] = h->tap_fds[i];
		rep.ntap = (uint32_t)(nfds - rep.fd_tap);
	}
	if (err == 0 && q->op == OP_FWD) {
		rep.fd_fwd = nfds;
		for (int i = 0; i < UNM_NIC_FWD_FDS; i++)
			fds[nfds++] = h->fwd_fds[i];
	}
	return send_rep(c->fd, &rep, fds, nfds) == 0;
}

void unm_helper_fds(int keep)
{
	int nul = (int)syscall(SYS_openat, AT_FDCWD, "/dev/null", O_RDWR | O_CLOEXEC, 0);
	struct rlimit rl;
	int max = 65536;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < (rlim_t)max)
		max = (int)rl.rlim_cur;
	int from = 3;
	for (int fd = 0; fd < max; fd++) {
		bool held = fd <= 2 || fd == keep || fd == nul ||
			    (fd > 2 && unm_fd_lookup(fd) != NULL);
		if (held && fd > 2 && fd != keep && fd != nul && nul >= 0)
			syscall(SYS_dup3, nul, fd, O_CLOEXEC);
		if (fd <= 2 && nul >= 0)
			syscall(SYS_dup3, nul, fd, 0);
		if (held) {
			if (fd > from)
				syscall(SYS_close_range, from, fd - 1, 0);
			from = fd + 1;
		}
	}
	if (from < max)
		syscall(SYS_close_range, from, ~0U, 0);
	if (nul > 2)
		syscall(SYS_close, nul);
}

void unm_helper_signals(void (*on_stop)(int))
{
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_DFL;
	for (int s = 1; s < NSIG; s++)
		if (s != SIGKILL && s != SIGSTOP)
			sigaction(s, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
	if (on_stop != NULL) {
		sa.sa_handler = on_stop;
		sigaction(SIGTERM, &sa, NULL);
		sigaction(SIGINT, &sa, NULL);
		sigaction(SIGHUP, &sa, NULL);
	}
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
}

static __attribute__((noreturn)) void helper_main(int first, int ifindex)
{
	struct helper h;
	struct nic_req q;
	struct nic_rep rep;
	memset(&h, 0, sizeof(h));
	h.ifindex = ifindex;
	h.cfg_fd = h.xsk_fd = -1;
	for (int i = 0; i < UNM_NIC_FWD_FDS; i++)
		h.fwd_fds[i] = -1;
	h.xdp_link = h.tc_in_link = h.eg_link = h.tap_fd = h.tap_link = -1;

	setsid();
	unm_helper_signals(NULL);
	unm_helper_fds(first);
	if (chdir("/") < 0) { /* stay where we are */ }
	prctl(PR_SET_NAME, "unetmap-nic", 0, 0, 0);
	libbpf_set_print(libbpf_quiet);

	/* the first user's request */
	struct pollfd p = { .fd = first, .events = POLLIN };
	ssize_t n = -1;
	if (unm_real_poll(&p, 1, 10000) == 1)
		n = recv(first, &q, sizeof(q), MSG_DONTWAIT);
	if (!req_ok(&q, n) || q.op != OP_OPEN)
		_exit(1);
	memcpy(h.ifname, q.ifname, sizeof(h.ifname));
	h.ifname[sizeof(h.ifname) - 1] = '\0';
	h.flags = q.flags;
	h.host_rings = q.ntap;

	/* the election */
	struct sockaddr_un sa;
	socklen_t sl = helper_addr(ifindex, &sa);
	int lfd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&sa, sl) < 0) {
		int e = errno;
		fill_rep(&rep, &h, 0);
		if (e == EADDRINUSE) {
			rep.lost = 1;
		} else {
			unm_seterr(PORT_FMT ": NIC helper socket: %s", h.ifname, strerror(e));
			fill_rep(&rep, &h, -e);
		}
		send_rep(first, &rep, NULL, 0);
		_exit(0);
	}
	/* A killed helper's fds are closed in ascending order: keep the name
	 * last so that a successor never finds our links still attached. */
	int hi = fcntl(lfd, F_DUPFD_CLOEXEC, 900);
	if (hi >= 0) {
		close(lfd);
		lfd = hi;
	}
	listen(lfd, 128);

	if (if_indextoname((unsigned)ifindex, h.ifname) == NULL) {
		unm_seterr(PORT_FMT ": the interface is gone", q.ifname);
		fill_rep(&rep, &h, -ENODEV);
		send_rep(first, &rep, NULL, 0);
		_exit(0);
	}
	int r = setup(&h, q.backend);
	if (r < 0) {
		fill_rep(&rep, &h, r);
		send_rep(first, &rep, NULL, 0);
		teardown(&h);
		_exit(0);
	}

	static struct conn conns[MAX_CONNS];
	static struct pollfd pfd[MAX_CONNS + 1];
	uint32_t users = 0;
	int nc = 0;
	conns[nc++] = (struct conn){ .fd = first, .session = false, .trusted = true };
	if (!serve(&h, &conns[0], &q, &users)) {
		teardown(&h);
		_exit(0);
	}
	while (users > 0) {
		pfd[0] = (struct pollfd){ .fd = lfd, .events = nc < MAX_CONNS ? POLLIN : 0 };
		for (int i = 0; i < nc; i++)
			pfd[i + 1] = (struct pollfd){ .fd = conns[i].fd, .events = POLLIN };
		if (unm_real_poll(pfd, (unsigned long)nc + 1, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		/* connections first: a closed session may be the last one */
		for (int i = nc - 1; i >= 0; i--) {
			if (pfd[i + 1].revents == 0)
				continue;
			n = recv(conns[i].fd, &q, sizeof(q), MSG_DONTWAIT);
			if (n < 0 && (errno == EAGAIN || errno == EINTR))
				continue;
			if (n <= 0 || !req_ok(&q, n) || !serve(&h, &conns[i], &q, &users)) {
				if (conns[i].session)
					users--;
				close(conns[i].fd);
				conns[i] = conns[--nc];
				h.info.users = users;
			}
		}
		if (users == 0)
			break;
		if (pfd[0].revents & POLLIN) {
			for (int k = 0; k < 64 && nc < MAX_CONNS; k++) {
				int c = accept4(lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
				if (c < 0)
					break;
				conns[nc++] = (struct conn){ .fd = c, .session = false,
							     .trusted = peer_trusted(c) };
			}
		}
	}
	/* objects first, then the name, then the connections still waiting */
	teardown(&h);
	close(lfd);
	_exit(0);
}

/* ---- the client side ------------------------------------------------------------- */

static void session_reset(struct unm_nic_session *s)
{
	memset(s, 0, sizeof(*s));
	s->sock = s->xskmap_fd = s->tap_fd = -1;
	for (int i = 0; i < UNM_NIC_MAX_HOST; i++)
		s->tap_fds[i] = -1;
}

/* the TAP queue fds a reply brought (tap[0..ntap)) */
static void taps_close(int *tap, uint32_t ntap)
{
	for (uint32_t i = 0; i < ntap && i < UNM_NIC_MAX_HOST; i++)
		if (tap[i] >= 0) {
			close(tap[i]);
			tap[i] = -1;
		}
}

/* the session takes the TAP queue fds of a reply */
static void taps_take(struct unm_nic_session *s, const int *tap, uint32_t ntap)
{
	taps_close(s->tap_fds, s->ntap);
	for (uint32_t i = 0; i < ntap; i++)
		s->tap_fds[i] = tap[i];
	s->ntap = ntap;
	s->tap_fd = ntap > 0 ? tap[0] : -1;
}

static bool helper_trusted(int fd)
{
	struct ucred cr;
	socklen_t l = sizeof(cr);
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &l) < 0)
		return false;
	return cr.uid == 0 || cr.uid == geteuid();
}

/* send a request, wait for the reply and its fds (-1 where none; the TAP
 * queues in tap[0..rep->ntap), tap has UNM_NIC_MAX_HOST entries; with fwd
 * != NULL, the UNM_NIC_FWD_FDS fast-path maps of OP_FWD in fwd[]) */
static int transact(int sock, const char *ifname, const struct nic_req *q,
		    struct nic_rep *rep, int *xsk, int *tap, int *fwd, int timeout_ms)
{
	*xsk = -1;
	for (int i = 0; i < UNM_NIC_MAX_HOST; i++)
		tap[i] = -1;
	rep->ntap = 0;
	for (int i = 0; fwd != NULL && i < UNM_NIC_FWD_FDS; i++)
		fwd[i] = -1;
	if (send(sock, q, sizeof(*q), MSG_NOSIGNAL) != (ssize_t)sizeof(*q))
		return -ECONNRESET;
	struct pollfd p = { .fd = sock, .events = POLLIN };
	int pr;
	int64_t deadline = unm_now_ns() + (int64_t)timeout_ms * 1000000;
	do {
		int64_t left = (deadline - unm_now_ns()) / 1000000;
		pr = poll(&p, 1, left > 0 ? (int)left : 0);
	} while (pr < 0 && errno == EINTR);
	if (pr == 0) {
		unm_seterr(PORT_FMT ": the NIC helper did not answer within %d ms", ifname,
			   timeout_ms);
		return -ETIMEDOUT;
	}
	struct iovec iov = { .iov_base = rep, .iov_len = sizeof(*rep) };
	union {
		char buf[CMSG_SPACE(REP_FDS_MAX * sizeof(int))];
		struct cmsghdr align;
	} u;
	struct msghdr m;
	memset(&m, 0, sizeof(m));
	m.msg_iov = &iov;
	m.msg_iovlen = 1;
	m.msg_control = u.buf;
	m.msg_controllen = sizeof(u.buf);
	ssize_t n = recvmsg(sock, &m, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
	int fds[REP_FDS_MAX], nfds = 0;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&m); n > 0 && c != NULL; c = CMSG_NXTHDR(&m, c))
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
			int k = (int)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
			for (int i = 0; i < k && nfds < REP_FDS_MAX; i++)
				memcpy(&fds[nfds++], CMSG_DATA(c) + (size_t)i * sizeof(int), sizeof(int));
		}
	if (n <= 0)
		return -ECONNRESET;	/* the helper is exiting */
	if (n != (ssize_t)sizeof(*rep) || rep->magic != PROTO_MAGIC ||
	    rep->version != PROTO_VERSION || rep->size != sizeof(*rep)) {
		for (int i = 0; i < nfds; i++)
			close(fds[i]);
		unm_seterr(PORT_FMT ": the NIC helper speaks another protocol (another "
			   "unetmap version?)", ifname);
		return -EPROTO;
	}
	uint32_t ntap = 0;
	for (int i = 0; i < nfds; i++) {
		uint32_t t = (uint32_t)(i - rep->fd_tap);
		if (i == rep->fd_xskmap)
			*xsk = fds[i];
		else if (rep->fd_tap >= 0 && i >= rep->fd_tap && t < rep->ntap &&
			 t < UNM_NIC_MAX_HOST && t == ntap)
			tap[ntap++] = fds[i];
		else if (fwd != NULL && rep->fd_fwd >= 0 && i >= rep->fd_fwd &&
			 i < rep->fd_fwd + UNM_NIC_FWD_FDS)
			fwd[i - rep->fd_fwd] = fds[i];
		else
			close(fds[i]);
	}
	rep->ntap = ntap;	/* the queues received, in order */
	rep->msg[sizeof(rep->msg) - 1] = '\0';
	if (rep->err < 0) {
		unm_seterr("%s", rep->msg);
		if (*xsk >= 0)
			close(*xsk);
		taps_close(tap, ntap);
		*xsk = -1;
		rep->ntap = 0;
		for (int i = 0; fwd != NULL && i < UNM_NIC_FWD_FDS; i++)
			if (fwd[i] >= 0) {
				close(fwd[i]);
				fwd[i] = -1;
			}
	}
	return rep->err;
}

static int connect_helper(int ifindex, int *sock)
{
	struct sockaddr_un sa;
	socklen_t sl = helper_addr(ifindex, &sa);
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, sl) < 0) {
		int e = errno;
		close(fd);
		return -e;
	}
	*sock = fd;
	return 0;
}

/* fork the helper (twice: it is not our child), hand it one end of a socket
 * pair as its first connection; returns our end */
static int spawn_helper(int ifindex, int *sock)
{
	int sp[2];
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) < 0)
		return -errno;
	pid_t pid = fork();
	if (pid < 0) {
		int e = errno;
		close(sp[0]);
		close(sp[1]);
		return -e;
	}
	if (pid == 0) {
		pid_t g = fork();
		if (g == 0)
			helper_main(sp[1], ifindex);
		_exit(g < 0 ? 1 : 0);
	}
	close(sp[1]);
	int st;
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	*sock = sp[0];
	return 0;
}

static void req_init(struct nic_req *q, uint32_t op, const char *ifname, int ifindex)
{
	memset(q, 0, sizeof(*q));
	q->magic = PROTO_MAGIC;
	q->version = PROTO_VERSION;
	q->size = sizeof(*q);
	q->op = op;
	q->ifindex = (uint32_t)ifindex;
	snprintf(q->ifname, sizeof(q->ifname), "%s", ifname);
}

static int check_ifname(const char *ifname, int *ifindex)
{
	if (ifname == NULL || ifname[0] == '\0' || strlen(ifname) >= IF_NAMESIZE) {
		unm_seterr(PORT_FMT ": invalid interface name", ifname ? ifname : "");
		return -EINVAL;
	}
	*ifindex = (int)if_nametoindex(ifname);
	if (*ifindex <= 0) {
		unm_seterr(PORT_FMT ": no such interface in this network namespace", ifname);
		return -ENODEV;
	}
	return 0;
}

#define OPEN_ATTEMPTS	50
#define REPLY_MS	20000

int unm_nic_session_open(const char *ifname, const struct unm_nic_opts *o,
			 struct unm_nic_session *s)
{
	struct unm_nic_opts opts = { .sz = sizeof(opts), .backend = UNM_NIC_AUTO };
	int ifindex, r;
	session_reset(s);
	if (o != NULL) {
		if (o->sz < offsetof(struct unm_nic_opts, umem_bytes) || o->sz > sizeof(opts)) {
			unm_seterr(PORT_FMT ": bad option size", ifname ? ifname : "");
			return -EINVAL;
		}
		memcpy(&opts, o, o->sz);
	}
	if (opts.backend > UNM_NIC_PACKET ||
	    (opts.flags & ~(uint32_t)(UNM_NIC_F_HOST | UNM_NIC_F_TAKEOVER))) {
		unm_seterr(PORT_FMT ": bad options", ifname ? ifname : "");
		return -EINVAL;
	}
	if ((r = check_ifname(ifname, &ifindex)) < 0)
		return r;
	if ((r = unm_nic_check_caps(ifname, UNM_NIC_NEED_SOCKETS,
				    opts.backend == UNM_NIC_XDP ? opts.umem_bytes : 0,
				    opts.backend)) < 0)
		return r;
	struct nic_req q;
	req_init(&q, OP_OPEN, ifname, ifindex);
	q.backend = opts.backend;
	q.flags = opts.flags;
	q.ntap = opts.host_rings;
	for (int attempt = 0; attempt < OPEN_ATTEMPTS; attempt++) {
		int sock = -1;
		if (attempt > 0)
			usleep(attempt < 10 ? 2000 : 20000);
		r = connect_helper(ifindex, &sock);
		if (r == -ECONNREFUSED || r == -ENOENT) {
			/* nobody holds the interface: we set it up */
			if ((r = unm_nic_check_caps(ifname, UNM_NIC_NEED_SETUP, 0,
						    opts.backend)) < 0)
				return r;
			r = spawn_helper(ifindex, &sock);
		} else if (r == 0 && !helper_trusted(sock)) {
			close(sock);
			unm_seterr(PORT_FMT ": the NIC helper socket belongs to another user",
				   ifname);
			return -EPERM;
		}
		if (r < 0) {
			unm_seterr(PORT_FMT ": connecting to the NIC helper: %s", ifname,
				   strerror(-r));
			return r;
		}
		struct nic_rep rep;
		int xsk, tap[UNM_NIC_MAX_HOST];
		r = transact(sock, ifname, &q, &rep, &xsk, tap, NULL, REPLY_MS);
		if (r == -ECONNRESET || (r == 0 && rep.lost)) {
			close(sock);	/* a helper exiting, or a lost election */
			continue;
		}
		if (r < 0) {
			close(sock);
			return r;
		}
		s->sock = sock;
		s->xskmap_fd = xsk;
		taps_take(s, tap, rep.ntap);
		s->host_rings = opts.host_rings;
		s->info = rep.info;
		if (opts.backend == UNM_NIC_AUTO && s->info.backend == UNM_NIC_XDP &&
		    (r = unm_nic_check_caps(ifname, 0, opts.umem_bytes, UNM_NIC_XDP)) < 0) {
			unm_nic_session_close(s);
			return r;
		}
		return 0;
	}
	unm_seterr(PORT_FMT ": the NIC helper kept exiting (%d attempts)", ifname, OPEN_ATTEMPTS);
	return -EAGAIN;
}

/* one request on an open session; fwd: see transact() */
static int session_request(struct unm_nic_session *s, uint32_t op, int *fwd)
{
	if (s == NULL || s->sock < 0)
		return -EBADF;
	struct nic_req q;
	struct nic_rep rep;
	int xsk, tap[UNM_NIC_MAX_HOST];
	req_init(&q, op, s->info.ifname, (int)s->info.ifindex);
	q.ntap = s->host_rings;
	int r = transact(s->sock, s->info.ifname, &q, &rep, &xsk, tap, fwd, REPLY_MS);
	if (r == -ECONNRESET)
		unm_seterr(PORT_FMT ": the NIC helper is gone", s->info.ifname);
	if (r < 0)
		return r;
	if (xsk >= 0)
		close(xsk);
	if (rep.ntap > 0)
		taps_take(s, tap, rep.ntap);
	s->info = rep.info;
	return 0;
}

int unm_nic_session_host(struct unm_nic_session *s)
{
	if (s != NULL && s->tap_fd >= 0)
		return 0;
	return session_request(s, OP_HOST, NULL);
}

int unm_nic_session_fwd(struct unm_nic_session *s, int fds[UNM_NIC_FWD_FDS])
{
	for (int i = 0; i < UNM_NIC_FWD_FDS; i++)
		fds[i] = -1;
	int r = session_request(s, OP_FWD, fds);
	if (r == 0 && fds[UNM_NIC_FWD_FDS - 1] < 0) {
		for (int i = 0; i < UNM_NIC_FWD_FDS; i++)
			if (fds[i] >= 0) {
				close(fds[i]);
				fds[i] = -1;
			}
		unm_seterr(PORT_FMT ": the NIC helper sent no fast-path maps", s->info.ifname);
		r = -EPROTO;
	}
	return r;
}

int unm_nic_session_refresh(struct unm_nic_session *s)
{
	return session_request(s, OP_INFO, NULL);
}

void unm_nic_session_close(struct unm_nic_session *s)
{
	if (s == NULL)
		return;
	if (s->xskmap_fd >= 0)
		close(s->xskmap_fd);
	taps_close(s->tap_fds, s->ntap);	/* tap_fd is tap_fds[0] */
	if (s->sock >= 0)
		close(s->sock);
	session_reset(s);
}

int unm_nic_info(const char *ifname, struct unm_nic_info *info)
{
	int ifindex, sock, r;
	if ((r = check_ifname(ifname, &ifindex)) < 0)
		return r;
	for (int attempt = 0; attempt < 3; attempt++) {
		if ((r = connect_helper(ifindex, &sock)) < 0)
			break;
		struct nic_req q;
		struct nic_rep rep;
		int xsk, tap[UNM_NIC_MAX_HOST];
		req_init(&q, OP_INFO, ifname, ifindex);
		r = transact(sock, ifname, &q, &rep, &xsk, tap, NULL, 2000);
		close(sock);
		if (xsk >= 0)
			close(xsk);
		taps_close(tap, rep.ntap);
		if (r == 0) {
			*info = rep.info;
			return 0;
		}
		if (r != -ECONNRESET)
			return r;
	}
	if (r == -ECONNREFUSED || r == -ENOENT || r == -ECONNRESET) {
		unm_seterr(PORT_FMT ": not held by unetmap", ifname);
		return -ENOENT;
	}
	unm_seterr(PORT_FMT ": connecting to the NIC helper: %s", ifname, strerror(-r));
	return r;
}
