/*
 * vale_xdp.c - the XDP fast path of a VALE switch between its NIC ports.
 *
 * A frame from NIC A to NIC B of one switch takes, through the switch, an
 * AF_XDP receive, two copies, and an AF_XDP transmit, which on a driver
 * without zero copy (veth, copy mode) builds an skb per frame.  The switch's
 * forwarding decision for such a frame depends only on its table, so it can
 * be taken where the frame arrives: unm_xdp (bpf/unetmap.bpf.c) looks the
 * frame's addresses up in unm_fwd and sends it to B without user space:
 *   FWD_XDP  redirected through a DEVMAP (ndo_xdp_xmit, batched, no skb),
 *            when B takes XDP frames (on veth: while B's peer has NAPI);
 *   FWD_SKB  otherwise: passed up with B's ifindex in the XDP metadata, and
 *            the tcx ingress program unm_tc_nic_fwd (attached by the NIC
 *            helper when the fast path is first asked for) redirects the
 *            skb out of B, marked so that B's egress program lets it go.
 * Everything else — broadcast, unknown
 * destinations, sources the switch has not learned on A, destinations on
 * ports that are not NICs, multi-buffer frames — goes to the switch through
 * the AF_XDP socket as before.
 *
 * The helper of each attachment (vale_nic.c) keeps its NIC's maps in step
 * with the switch (vn_xdp_sync(), every SYNC_NS and when woken):
 *   unm_fwd   every address of the switch's table that lives on an eligible
 *             NIC port (this one included): MAC -> {ifindex, switch port}.
 *             An address the switch moves to another port is moved or
 *             removed at the next sync.
 *   unm_devs  the FWD_XDP destinations.
 *   unm_fon   on while this port itself is eligible and has somewhere to go.
 * A NIC port is eligible when it is attached to this switch with a live
 * helper, is in this helper's network namespace (a DEVMAP resolves ifindexes
 * there), nobody monitors its switch port or its netmap:IF rings (monitors
 * must see every frame), and — for a destination — the interface is up and
 * running; it gets FWD_XDP when NETDEV_XDP_ACT_NDO_XMIT is in its XDP
 * features (generic netlink family "netdev"; on veth that feature is set
 * only while the peer has NAPI, an XDP program or GRO on: without it the
 * kernel would drop redirected XDP frames), FWD_SKB otherwise.
 *
 * Counters: the program counts redirected frames and bytes per destination
 * port and CPU (unm_fstat); each sync adds what is new to ring 0 of this
 * switch port (TX, sent) and of the destination's switch port (RX,
 * delivered), fields xdp_frames/xdp_bytes that the readers add to the
 * ports' counters, so vale-ctl -s and unetmap-stat count both paths.
 *
 * UNETMAP_VALE_XDP=0 in the environment of `vale-ctl -a` (inherited by the
 * helper) keeps every frame on the switch's own path.
 *
 * What the fast path changes, compared with the switch's own path: a
 * destination that stops being eligible (its helper dies, a monitor opens,
 * its peer loses NAPI, it is detached) can still receive frames directly for
 * up to one sync period (SYNC_NS); frames a slow destination cannot take
 * are dropped by its driver (counted there, e.g. veth's xdp_xmit_err) and
 * not in drop_full.
 */
#include <errno.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <linux/genetlink.h>
#include <linux/netlink.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "core/unm.h"
#include "nic/kobj.h"
#include "ports/vale_xdp.h"
#include "unetmap.h"

#define SLOTS		256	/* unm_fstat / unm_devs entries: switch port index */
#define MACS		1024	/* the switch's table size */

/* linux/netdev.h (Linux 6.3+, not in Debian 12's headers) */
#define NETDEV_CMD_DEV_GET		1
#define NETDEV_A_DEV_IFINDEX		1
#define NETDEV_A_DEV_XDP_FEATURES	3
#define NETDEV_XDP_ACT_NDO_XMIT		4

enum { M_FWD, M_DEVS, M_FSTAT, M_FON };

/* must match bpf/unetmap.bpf.c */
struct fwd_val {
	uint32_t ifindex;
	uint16_t slot, mode;
};
#define FWD_XDP		1	/* UNM_FWD_XDP: XDP_REDIRECT through unm_devs */
#define FWD_SKB		2	/* UNM_FWD_SKB: XDP_PASS, unm_tc_nic_fwd redirects */
struct fstat {
	uint64_t frames, bytes;
};

struct fwd_ent {
	uint64_t mac;
	struct fwd_val v;
};

struct vn_xdp {
	uint32_t port, gen;		/* this attachment (registry index) */
	uint32_t ifindex;
	int fd[UNM_NIC_FWD_FDS];
	uint64_t netns;
	int ncpu;
	struct fstat *pc;		/* ncpu values of one unm_fstat entry */
	struct fstat seen[SLOTS];	/* what was added to the counters already */
	uint32_t dev_if[SLOTS];		/* unm_devs as written: ifindex per slot */
	uint32_t dst_if[SLOTS];		/* destinations at the last sync, any mode */
	uint32_t on;			/* unm_fon as written */
	struct fwd_ent *pushed;		/* unm_fwd as written, sorted */
	uint32_t npushed;
	struct fwd_ent *want;
	int gnl;			/* generic netlink socket, -1 */
	uint16_t netdev_family;
};

/* ---- eligibility ------------------------------------------------------------------ */

static uint64_t netns_of(pid_t pid)
{
	char path[64];
	struct stat st;
	if (pid > 0)
		snprintf(path, sizeof(path), "/proc/%d/ns/net", (int)pid);
	else
		snprintf(path, sizeof(path), "/proc/self/ns/net");
	return stat(path, &st) == 0 ? (uint64_t)st.st_ino : 0;
}

/* a monitor on any ring of port `pi` */
static bool monitored_locked(uint32_t pi)
{
	const struct unm_port *p = &unm_registry()->ports[pi];
	struct unm_map *m = unm_map_get(p->mem_id, p->mem_gen);
	if (m == NULL)
		return false;
	bool mon = false;
	uint32_t nt = p->ntx + p->nhost, nr = p->nrx + p->nhost;
	for (uint32_t i = 0; !mon && p->tx_obj != UNM_NONE && i < nt; i++) {
		const struct unm_kring *kr = unm_kring_ptr(m, p->tx_obj + i);
		mon = UNM_READ_ONCE(kr->nmon) != 0 || UNM_READ_ONCE(kr->zmon) != 0;
	}
	for (uint32_t i = 0; !mon && p->rx_obj != UNM_NONE && i < nr; i++) {
		const struct unm_kring *kr = unm_kring_ptr(m, p->rx_obj + i);
		mon = UNM_READ_ONCE(kr->nmon) != 0 || UNM_READ_ONCE(kr->zmon) != 0;
	}
	unm_map_put(m);
	return mon;
}

/* switch port `pi` is a NIC attachment of ours that may take part */
static bool eligible_locked(const struct vn_xdp *x, uint32_t pi)
{
	struct unm_registry *r = unm_registry();
	const struct unm_port *p = &r->ports[pi];
	if (p->kind != UNM_PORT_VALE || p->vnic.role != UNM_VNIC_NIC || p->vnic.stop ||
	    p->vnic.pid <= 0 || !unm_pid_alive(p->vnic.pid) ||
	    netns_of(p->vnic.pid) != x->netns || monitored_locked(pi))
		return false;
	struct unm_port *nic = unm_port_find_locked(p->vnic.ifname);
	if (nic != NULL && nic->kind == UNM_PORT_NIC && monitored_locked((uint32_t)(nic - r->ports)))
		return false;
	return true;
}

/* XDP features of interface `ifindex` over generic netlink; 0 if unknown */
static uint64_t xdp_features(struct vn_xdp *x, uint32_t ifindex)
{
	struct {
		struct nlmsghdr n;
		struct genlmsghdr g;
		char buf[256];
	} q;
	char rep[4096];
	if (x->gnl < 0) {
		x->gnl = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_GENERIC);
		if (x->gnl < 0)
			return 0;
		struct timeval tv = { .tv_sec = 0, .tv_usec = 200000 };
		setsockopt(x->gnl, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	}
	for (int step = x->netdev_family != 0; step < 2; step++) {
		memset(&q, 0, sizeof(q));
		struct nlattr *a = (struct nlattr *)q.buf;
		if (step == 0) {	/* the family's id */
			q.n.nlmsg_type = GENL_ID_CTRL;
			q.g.cmd = CTRL_CMD_GETFAMILY;
			a->nla_type = CTRL_ATTR_FAMILY_NAME;
			a->nla_len = NLA_HDRLEN + sizeof("netdev");
			memcpy((char *)a + NLA_HDRLEN, "netdev", sizeof("netdev"));
		} else {
			q.n.nlmsg_type = x->netdev_family;
			q.g.cmd = NETDEV_CMD_DEV_GET;
			a->nla_type = NETDEV_A_DEV_IFINDEX;
			a->nla_len = NLA_HDRLEN + sizeof(uint32_t);
			memcpy((char *)a + NLA_HDRLEN, &ifindex, sizeof(ifindex));
		}
		q.g.version = 1;
		q.n.nlmsg_flags = NLM_F_REQUEST;
		q.n.nlmsg_len = NLMSG_LENGTH(GENL_HDRLEN) + NLA_ALIGN(a->nla_len);
		if (send(x->gnl, &q, q.n.nlmsg_len, 0) < 0)
			return 0;
		ssize_t n = recv(x->gnl, rep, sizeof(rep), 0);
		const struct nlmsghdr *h = (const struct nlmsghdr *)rep;
		if (n < (ssize_t)NLMSG_LENGTH(GENL_HDRLEN) || !NLMSG_OK(h, (size_t)n) ||
		    h->nlmsg_type == NLMSG_ERROR)
			return 0;
		const char *p = (const char *)NLMSG_DATA(h) + GENL_HDRLEN;
		const char *end = (const char *)h + h->nlmsg_len;
		uint64_t feat = 0;
		bool found = false;
		while (p + NLA_HDRLEN <= end) {
			const struct nlattr *at = (const struct nlattr *)p;
			if (at->nla_len < NLA_HDRLEN || p + at->nla_len > end)
				break;
			const char *d = p + NLA_HDRLEN;
			uint16_t type = at->nla_type & NLA_TYPE_MASK;
			if (step == 0 && type == CTRL_ATTR_FAMILY_ID && at->nla_len >= NLA_HDRLEN + 2) {
				memcpy(&x->netdev_family, d, 2);
				found = true;
			} else if (step == 1 && type == NETDEV_A_DEV_XDP_FEATURES &&
				   at->nla_len >= NLA_HDRLEN + 8) {
				memcpy(&feat, d, 8);
				found = true;
			}
			p += NLA_ALIGN(at->nla_len);
		}
		if (!found)
			return 0;
		if (step == 1)
			return feat;
	}
	return 0;
}

/* how frames reach interface `ifindex` now: FWD_XDP when it takes
 * redirected XDP frames, FWD_SKB when it is just up and running, 0 */
static uint16_t xmit_mode(struct vn_xdp *x, uint32_t ifindex)
{
	char name[IF_NAMESIZE];
	struct ifreq ifr;
	if (if_indextoname(ifindex, name) == NULL)
		return 0;
	memset(&ifr, 0, sizeof(ifr));
	memcpy(ifr.ifr_name, name, sizeof(ifr.ifr_name));
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (s < 0)
		return 0;
	int r = ioctl(s, SIOCGIFFLAGS, &ifr);
	close(s);
	if (r < 0 || (ifr.ifr_flags & (IFF_UP | IFF_RUNNING)) != (IFF_UP | IFF_RUNNING))
		return 0;
	return (xdp_features(x, ifindex) & NETDEV_XDP_ACT_NDO_XMIT) != 0 ? FWD_XDP : FWD_SKB;
}

/* ---- keeping the maps in step --------------------------------------------------------- */

static int ent_cmp(const void *a, const void *b)
{
	uint64_t x = ((const struct fwd_ent *)a)->mac, y = ((const struct fwd_ent *)b)->mac;
	return x < y ? -1 : x > y;
}

/* make unm_fwd hold exactly want[0..n) (sorted), knowing it holds pushed */
static void fwd_apply(struct vn_xdp *x, uint32_t n)
{
	uint32_t i = 0, j = 0;
	while (i < n || j < x->npushed) {
		const struct fwd_ent *w = i < n ? &x->want[i] : NULL;
		const struct fwd_ent *p = j < x->npushed ? &x->pushed[j] : NULL;
		if (p == NULL || (w != NULL && w->mac < p->mac)) {
			bpf_map_update_elem(x->fd[M_FWD], &w->mac, &w->v, BPF_ANY);
			i++;
		} else if (w == NULL || p->mac < w->mac) {
			bpf_map_delete_elem(x->fd[M_FWD], &p->mac);
			j++;
		} else {
			if (memcmp(&w->v, &p->v, sizeof(w->v)) != 0)
				bpf_map_update_elem(x->fd[M_FWD], &w->mac, &w->v, BPF_ANY);
			i++;
			j++;
		}
	}
	struct fwd_ent *t = x->pushed;
	x->pushed = x->want;
	x->want = t;
	x->npushed = n;
}

/* new redirected frames per destination slot, since the last call */
static void fold_stats(struct vn_xdp *x, struct fstat *delta)
{
	for (uint32_t s = 0; s < SLOTS; s++) {
		delta[s].frames = delta[s].bytes = 0;
		if (x->dst_if[s] == 0 && x->seen[s].frames == 0)
			continue;
		if (bpf_map_lookup_elem(x->fd[M_FSTAT], &s, x->pc) < 0)
			continue;
		struct fstat sum = { 0, 0 };
		for (int c = 0; c < x->ncpu; c++) {
			sum.frames += x->pc[c].frames;
			sum.bytes += x->pc[c].bytes;
		}
		delta[s].frames = sum.frames - x->seen[s].frames;
		delta[s].bytes = sum.bytes - x->seen[s].bytes;
		x->seen[s] = sum;
	}
}

static void count_locked(uint32_t pi, bool tx, uint64_t frames, uint64_t bytes)
{
	const struct unm_port *p = &unm_registry()->ports[pi];
	uint32_t obj = tx ? p->tx_obj : p->rx_obj;
	if (obj == UNM_NONE || frames == 0)
		return;
	struct unm_map *m = unm_map_get(p->mem_id, p->mem_gen);
	if (m == NULL)
		return;
	struct unm_kring *kr = unm_kring_ptr(m, obj);
	__atomic_fetch_add(&kr->xdp_frames, frames, __ATOMIC_RELAXED);
	__atomic_fetch_add(&kr->xdp_bytes, bytes, __ATOMIC_RELAXED);
	unm_map_put(m);
}

void vn_xdp_sync(struct vn_xdp *x)
{
	if (x == NULL)
		return;
	struct unm_registry *r = unm_registry();
	static struct fstat delta[SLOTS];
	uint32_t elig[SLOTS];
	uint16_t mode[SLOTS];
	uint32_t me = UNM_NONE, swi = UNM_NONE;
	char swname[UNM_NAME_MAX] = "";
	fold_stats(x, delta);
	memset(elig, 0, sizeof(elig));
	if (unm_lock() < 0)
		return;
	const struct unm_port *self = &r->ports[x->port];
	if (self->kind == UNM_PORT_VALE && self->vnic.role == UNM_VNIC_NIC &&
	    self->vnic.gen == x->gen && self->sw[0] != UNM_NOSW) {
		swi = self->sw[0];
		me = self->swport[0];
		snprintf(swname, sizeof(swname), "%s", r->vale[swi].name);
	}
	uint64_t sent = 0, sent_bytes = 0;
	for (uint32_t s = 0; s < SLOTS; s++) {
		sent += delta[s].frames;
		sent_bytes += delta[s].bytes;
	}
	count_locked(x->port, true, sent, sent_bytes);
	bool on = swi != UNM_NONE && me < SLOTS && eligible_locked(x, x->port);
	for (uint32_t j = 0; swi != UNM_NONE && j < UNM_VALE_MAXPORTS && j < SLOTS; j++) {
		uint32_t pi = r->vale[swi].port[j];
		if (pi == UNM_NONE)
			continue;
		if (delta[j].frames != 0)
			count_locked(pi, false, delta[j].frames, delta[j].bytes);
		if (on && j != me && eligible_locked(x, pi))
			elig[j] = if_nametoindex(r->ports[pi].vnic.ifname);
	}
	unm_unlock();

	/* destinations: up and running; XDP frames to those that take them */
	bool any = false;
	for (uint32_t j = 0; j < SLOTS; j++) {
		mode[j] = elig[j] != 0 ? xmit_mode(x, elig[j]) : 0;
		if (mode[j] == 0)
			elig[j] = 0;
		any |= elig[j] != 0;
	}
	on = on && any;
	if (!on && x->on) {
		uint32_t k = 0, v = 0;
		bpf_map_update_elem(x->fd[M_FON], &k, &v, BPF_ANY);
		x->on = 0;
	}
	/* the addresses: this port's and the destinations' */
	uint32_t n = 0;
	static struct unetmap_vale_mac macs[MACS];
	int cnt = on ? unetmap_vale_macs(swname, macs, MACS) : 0;
	for (int i = 0; i < cnt && i < MACS; i++) {
		uint32_t j = macs[i].port_idx;
		uint32_t ifx = j == me ? x->ifindex : j < SLOTS ? elig[j] : 0;
		uint16_t md = j == me ? FWD_XDP : j < SLOTS ? mode[j] : 0;
		if (ifx == 0)
			continue;
		uint64_t mac = 0;
		for (int b = 0; b < 6; b++)
			mac |= (uint64_t)macs[i].mac[b] << (8 * b);
		x->want[n++] = (struct fwd_ent){ mac, { ifx, (uint16_t)j, md } };
	}
	qsort(x->want, n, sizeof(x->want[0]), ent_cmp);
	fwd_apply(x, n);
	memcpy(x->dst_if, elig, sizeof(x->dst_if));
	/* unm_devs: the FWD_XDP destinations (a failed insert leaves the
	 * frames on the switch's path: unm_xdp falls back when the
	 * redirect finds no entry) */
	for (uint32_t j = 0; j < SLOTS; j++) {
		uint32_t want = mode[j] == FWD_XDP ? elig[j] : 0;
		if (x->dev_if[j] == want)
			continue;
		if (x->dev_if[j] != 0)
			bpf_map_delete_elem(x->fd[M_DEVS], &x->dev_if[j]);
		if (want != 0 && bpf_map_update_elem(x->fd[M_DEVS], &want, &want, BPF_ANY) < 0)
			want = 0;
		x->dev_if[j] = want;
	}
	if (on && !x->on) {
		uint32_t k = 0, v = 1;
		bpf_map_update_elem(x->fd[M_FON], &k, &v, BPF_ANY);
		x->on = 1;
	}
	UNM_WRITE_ONCE(r->ports[x->port].vnic.xdp_on, x->on);
}

/* ---- life ------------------------------------------------------------------------------ */

struct vn_xdp *vn_xdp_open(uint32_t port, uint32_t gen, int nic_fd)
{
	const char *env = getenv("UNETMAP_VALE_XDP");
	if (env != NULL && strcmp(env, "0") == 0)
		return NULL;
	struct vn_xdp *x = calloc(1, sizeof(*x));
	int ncpu = libbpf_num_possible_cpus();
	if (x == NULL || ncpu <= 0) {
		free(x);
		return NULL;
	}
	for (int i = 0; i < UNM_NIC_FWD_FDS; i++)
		x->fd[i] = -1;
	x->port = port;
	x->gen = gen;
	x->gnl = -1;
	x->ncpu = ncpu;
	x->netns = netns_of(0);
	x->pc = calloc((size_t)ncpu, sizeof(*x->pc));
	x->pushed = calloc(MACS, sizeof(*x->pushed));
	x->want = calloc(MACS, sizeof(*x->want));
	int ret = unm_nic_fd_fwd(nic_fd, &x->ifindex, x->fd);
	if (ret < 0 || x->pc == NULL || x->pushed == NULL || x->want == NULL) {
		vn_xdp_close(x);
		return NULL;
	}
	return x;
}

void vn_xdp_close(struct vn_xdp *x)
{
	if (x == NULL)
		return;
	if (x->on) {
		uint32_t k = 0, v = 0;
		bpf_map_update_elem(x->fd[M_FON], &k, &v, BPF_ANY);
	}
	for (int i = 0; i < UNM_NIC_FWD_FDS; i++)
		if (x->fd[i] >= 0)
			close(x->fd[i]);
	if (x->gnl >= 0)
		close(x->gnl);
	free(x->pc);
	free(x->pushed);
	free(x->want);
	free(x);
}

/* ---- observability ------------------------------------------------------------------------ */

int unetmap_vale_xdp_state(const char *port, uint64_t *sent, uint64_t *received)
{
	if (port == NULL || strncmp(port, "vale", 4) != 0)
		return -EINVAL;
	int ret = unm_lock();
	if (ret < 0)
		return ret;
	struct unm_port *p = unm_port_find_locked(port);
	if (p == NULL || p->kind != UNM_PORT_VALE || p->vnic.role != UNM_VNIC_NIC) {
		unm_unlock();
		return -ENOENT;
	}
	uint64_t n[2] = { 0, 0 };
	struct unm_map *m = unm_map_get(p->mem_id, p->mem_gen);
	for (int d = 0; m != NULL && d < 2; d++) {
		uint32_t obj = d == 0 ? p->tx_obj : p->rx_obj, cnt = d == 0 ? p->ntx : p->nrx;
		for (uint32_t i = 0; obj != UNM_NONE && i < cnt; i++)
			n[d] += UNM_READ_ONCE(unm_kring_ptr(m, obj + i)->xdp_frames);
	}
	if (m != NULL)
		unm_map_put(m);
	ret = UNM_READ_ONCE(p->vnic.xdp_on) != 0;
	unm_unlock();
	if (sent != NULL)
		*sent = n[0];
	if (received != NULL)
		*received = n[1];
	return ret;
}
