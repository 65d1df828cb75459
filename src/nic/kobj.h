/*
 * kobj.h - the kernel objects of a NIC port and the process that owns them.
 *
 * Putting a Linux interface IF in "netmap mode" needs objects that every
 * user of IF shares: the BPF programs of bpf/unetmap.bpf.c, an XSKMAP, an
 * XDP link (AF_XDP backend) or a tcx ingress link (TPACKET backend), a tcx
 * egress link that diverts what the host stack transmits, and for the host
 * rings a TAP device with its own tcx ingress link.  Each of them is a file
 * descriptor; nothing is pinned or attached through netlink.
 *
 * They live in the NIC helper: a small process that the first
 * unm_nic_session_open() of IF forks (and that exits with the last session,
 * or dies with its objects if it is killed).  It listens on the abstract
 * unix socket "\0unetmap-nic/<netns inode>/<ifindex>"; every session is one
 * connection to it, so a user that closes or dies (even SIGKILL) is one
 * connection fewer, and the last one gone takes the objects away: XDP
 * program, tcx links and TAP are gone within milliseconds and the interface
 * is as it was.  Binding that name is the election: two first users racing
 * start two helpers, the loser's helper exits and its user connects to the
 * winner.  Each user's own sockets (AF_XDP, AF_PACKET) stay its own fds; a
 * session gets from the helper (SCM_RIGHTS) the XSKMAP fd, into which it
 * inserts its AF_XDP sockets (bpf_map_update_elem(xskmap_fd, &queue,
 * &xsk_fd), no capability needed), and on request the TAP fd.
 *
 *   struct unm_nic_session s;
 *   struct unm_nic_opts o = { .sz = sizeof(o), .backend = UNM_NIC_AUTO };
 *   if (unm_nic_session_open("eth0", &o, &s) < 0) ... unetmap_last_error()
 *   ... s.info.backend, s.xskmap_fd, s.info.nrxq ...
 *   unm_nic_session_host(&s);            host rings wanted now: s.tap_fd
 *   unm_nic_session_close(&s);
 *
 * Backends (what the first session asked for; later sessions get what is
 * there, or -EBUSY if they demand the other one):
 *   UNM_NIC_XDP     unm_xdp attached with a bpf_link in native (driver)
 *                   mode; frames go to the XSKMAP entry of their RX queue,
 *                   or are dropped.  A driver without native XDP gives
 *                   -EOPNOTSUPP (the caller may retry with UNM_NIC_PACKET).
 *   UNM_NIC_PACKET  a tcx ingress link dropping everything the stack would
 *                   receive, except frames with skb->mark == UNM_NIC_MARK.
 *                   Packet sockets see frames before tc ingress, so they get
 *                   everything; they must ignore marked frames (the host TX
 *                   frames re-injected from the TAP), e.g. with a classic BPF
 *                   filter on SKF_AD_MARK.
 *   UNM_NIC_AUTO    XDP, else PACKET (info.note says why).
 * With either backend the tcx egress link on IF is there from the start: the
 * host stack's transmissions go to the TAP if there is one, else they are
 * dropped (nothing of the stack reaches the wire while netmap holds IF).
 * Frames sent through AF_XDP or with PACKET_QDISC_BYPASS do not pass tc
 * egress and go out (tests/functional/nic_host.c checks both on veth).
 *
 * Host rings: UNM_NIC_F_HOST in the options (or unm_nic_session_host()
 * later) creates, once per helper, the TAP "unm<ifindex>-<ifname>" (IFF_TAP,
 * IFF_NO_PI, IFF_MULTI_QUEUE, not persistent, up, IF's MTU, IPv6 off) with
 * opts.host_rings queues (1 if 0, at most UNM_NIC_MAX_HOST), its tcx ingress
 * link and its steering program, and passes the fd of every queue
 * (O_NONBLOCK; every session holding them reads and writes the same queues,
 * so give them to the one user of the host rings): s.tap_fds[k] is queue k,
 * s.ntap of them, s.tap_fd is queue 0.  The queue count is fixed when the TAP
 * is created; later sessions get the existing one.  Reading queue k yields
 * what the stack sent on IF on TX queue q with q mod ntap == k; a frame
 * written to any queue is received by the stack as if it had arrived on IF
 * (marked UNM_NIC_MARK).  The TAP goes away when the helper and every
 * session that got its fds have closed them.
 *
 * Which TX queue of IF "the stack sent on": tc egress, where unm_tc_nic_egress
 * diverts the frame, runs before the kernel picks the TX queue
 * (__dev_queue_xmit: sch_handle_egress, then netdev_core_pick_tx), so the
 * program computes the queue the kernel would pick without XPS and without a
 * multi-class qdisc (skb_tx_hash): a recorded RX queue (forwarded frames)
 * modulo the TX queue count, else the flow hash scaled to it (for a socket's
 * traffic its sk_txhash, the value the kernel's pick also starts from).  It
 * stores the queue in skb->queue_mapping, which survives bpf_redirect to the
 * TAP, where the steering program (TUNSETSTEERINGEBPF, unm_tap_steer)
 * returns it and tun takes it modulo its queue count.  XPS maps and mqprio
 * classes of IF are not visible to tc programs and are not followed.
 *
 * Pre-checks (in the helper, before anything is attached): an XDP program
 * already on IF (any mode), tcx programs or links on IF, a clsact/ingress
 * qdisc with filters: refused with -EBUSY and a message naming the program
 * or filter, unless UNM_NIC_F_TAKEOVER is given (by the first session),
 * which detaches foreign XDP programs and links, tcx programs and links,
 * and deletes the clsact/ingress qdisc first; they are not restored.
 *
 * Privileges: starting the helper needs CAP_NET_ADMIN and CAP_BPF (or
 * CAP_SYS_ADMIN, which the kernel also accepts for BPF; both in the initial
 * user namespace); every session needs CAP_NET_RAW for its own
 * sockets; an AF_XDP UMEM needs CAP_IPC_LOCK or RLIMIT_MEMLOCK >= its size
 * (opts.umem_bytes).  They are checked with capget() before anything is
 * tried, and a missing one is named: "netmap:eth0: CAP_BPF missing: cannot
 * load the XDP program" (-EPERM).  The helper serves sessions only to the
 * same uid or root, and a session talks only to a helper of its uid or
 * root.
 *
 * Errors: functions return 0 or -errno and leave a message for
 * unetmap_last_error() (unm_seterr); nothing is printed; the library never
 * exits.  The fds of a session are O_CLOEXEC.  fork() shares a session (the
 * child holds the connection too); close it in both.
 *
 * Tests: tests/functional/nic_kobj.c (life cycle, sharing, SIGKILL of user
 * and helper, election race), nic_refuse.c (pre-checks, take-over,
 * capabilities), nic_host.c (TAP both ways, mark, bypass paths, XSKMAP).
 * They link the library's objects (Makefile rule for nic_* tests) since
 * these functions are internal (not exported by libunetmap.so).
 *
 * Helper process: forked twice (not a child of the caller), setsid(),
 * default signal dispositions, SIGPIPE ignored, every inherited fd closed
 * (netmap fd numbers are kept on /dev/null so that the fd table inherited
 * from the caller is never consulted for a reused number), named
 * "unetmap-nic"; leaves with _exit() (no atexit handler of the caller runs).
 */
#ifndef UNETMAP_NIC_KOBJ_H
#define UNETMAP_NIC_KOBJ_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* skb->mark of host TX frames re-injected from the TAP ("unm\0") */
#define UNM_NIC_MARK		0x756e6d00u

enum unm_nic_backend {
	UNM_NIC_AUTO = 0,	/* request only */
	UNM_NIC_XDP = 1,
	UNM_NIC_PACKET = 2,
};

/* host rings (TAP queues) at most */
#define UNM_NIC_MAX_HOST	16

/* opts.flags */
#define UNM_NIC_F_HOST		0x1	/* TAP + its links now (host rings) */
#define UNM_NIC_F_TAKEOVER	0x2	/* detach foreign XDP/tcx/clsact instead
					 * of refusing (first session only) */

struct unm_nic_opts {
	size_t sz;		/* sizeof(struct unm_nic_opts) */
	uint32_t backend;	/* enum unm_nic_backend */
	uint32_t flags;		/* UNM_NIC_F_* */
	uint64_t umem_bytes;	/* > 0: check the UMEM can be locked (XDP) */
	uint32_t host_rings;	/* TAP queues if this session creates the TAP
				 * (0: 1; at most UNM_NIC_MAX_HOST) */
};

/* info.flags */
#define UNM_NIC_I_EGRESS	0x1	/* tcx egress link on IF (stack TX diverted) */
#define UNM_NIC_I_HOST		0x2	/* TAP and its ingress link present */
#define UNM_NIC_I_TAKEOVER	0x4	/* foreign objects were removed at set-up */

/* What holds IF: the same for every session of the helper (users and the
 * TAP fields change over time; unm_nic_session_refresh() re-reads them). */
struct unm_nic_info {
	uint32_t backend;	/* UNM_NIC_XDP or UNM_NIC_PACKET */
	uint32_t xdp_mode;	/* XDP_ATTACHED_DRV (XDP backend), else 0 */
	uint32_t ifindex;
	uint32_t nrxq, ntxq;	/* RX/TX queues of IF (ethtool channels) */
	uint32_t mtu;
	uint32_t flags;		/* UNM_NIC_I_* */
	uint32_t users;		/* sessions open now */
	int32_t helper_pid;
	uint32_t mark;		/* UNM_NIC_MARK */
	uint32_t xdp_prog_id, xdp_link_id;	/* XDP backend */
	uint32_t tc_prog_id, tc_in_link_id;	/* tcx ingress: PACKET backend, or the VALE
					 * fast path (unm_tc_nic_fwd, AF_XDP) */
	uint32_t eg_link_id;			/* tcx egress on IF */
	uint32_t tap_ifindex, tap_link_id;	/* host rings */
	char ifname[16];
	char tap_name[16];
	char note[96];		/* e.g. why AUTO fell back to PACKET */
	uint32_t tap_queues;	/* queues of the TAP (host rings), 0: no TAP */
};

struct unm_nic_session {
	int sock;		/* connection to the helper (POLLHUP: it died) */
	int xskmap_fd;		/* XDP backend, else -1 */
	int tap_fd;		/* after F_HOST / unm_nic_session_host(), else -1 */
	struct unm_nic_info info;
	/* the TAP's queues: tap_fds[0..ntap), tap_fd == tap_fds[0] */
	uint32_t host_rings;	/* opts.host_rings: asked for when creating it */
	uint32_t ntap;
	int tap_fds[UNM_NIC_MAX_HOST];
};

/* Open a session on interface ifname (of this network namespace), starting
 * the helper if there is none.  o may be NULL (AUTO, no flags).  On error
 * s is left with fds -1.  Errors: -ENODEV (no such interface), -EPERM
 * (capability missing, or a helper of another uid), -EBUSY (foreign XDP/tc
 * objects; held with the other backend), -EOPNOTSUPP (no native XDP, XDP
 * backend demanded), -ETIMEDOUT (helper did not answer), or the errno of
 * the failed kernel operation. */
int unm_nic_session_open(const char *ifname, const struct unm_nic_opts *o,
			 struct unm_nic_session *s);

/* Ask for the host objects (TAP, its tcx ingress link, TAP redirect of the
 * egress link) if not done yet, and get the TAP fds in s->tap_fds (a TAP
 * created now has s->host_rings queues). */
int unm_nic_session_host(struct unm_nic_session *s);

/* The maps of the VALE fast path in unm_xdp (XDP backend only), for the
 * helper of a switch attachment (src/ports/vale_nic.c): fds[0] unm_fwd
 * (MAC -> {ifindex, slot}), fds[1] unm_devs (DEVMAP_HASH of the other NICs),
 * fds[2] unm_fstat (per-CPU frames/bytes per slot), fds[3] unm_fon (entry 0:
 * on).  The caller owns the fds.  -EOPNOTSUPP with the TPACKET backend. */
#define UNM_NIC_FWD_FDS	4
int unm_nic_session_fwd(struct unm_nic_session *s, int fds[UNM_NIC_FWD_FDS]);

/* For the library's helper processes (this one and the VALE attachment
 * helper of vale_nic.c), right after their fork:
 * unm_helper_signals() resets every signal to its default, ignores SIGPIPE,
 * installs on_stop (may be NULL) for SIGTERM, SIGINT and SIGHUP, then
 * unblocks everything; unm_helper_fds() puts the inherited descriptors
 * away: 0-2 and the caller's netmap ones become /dev/null (their numbers
 * stay taken, so that the fd table the library inherited from the caller
 * is never consulted for a new fd of ours), all others are closed, `keep`
 * stays. */
void unm_helper_signals(void (*on_stop)(int));
void unm_helper_fds(int keep);

/* Re-read the shared info (users, TAP) into s->info. */
int unm_nic_session_refresh(struct unm_nic_session *s);

/* Close the session's fds (the helper leaves with the last one). */
void unm_nic_session_close(struct unm_nic_session *s);

/* What holds ifname, without holding it: 0 and *info, or -ENOENT when no
 * helper holds it (no capability needed). */
int unm_nic_info(const char *ifname, struct unm_nic_info *info);

/* Capability checks (capget), each naming what is missing:
 *   UNM_NIC_NEED_SETUP    CAP_NET_ADMIN + CAP_BPF (start a helper)
 *   UNM_NIC_NEED_SOCKETS  CAP_NET_RAW (AF_XDP / AF_PACKET sockets)
 * and, umem_bytes > 0, CAP_IPC_LOCK or RLIMIT_MEMLOCK >= umem_bytes.
 * 0 or -EPERM with the message "netmap:IF: CAP_x missing: ...". */
#define UNM_NIC_NEED_SETUP	0x1
#define UNM_NIC_NEED_SOCKETS	0x2
int unm_nic_check_caps(const char *ifname, unsigned need, uint64_t umem_bytes,
		       uint32_t backend);

const char *unm_nic_backend_name(uint32_t backend);

/* RX/TX queue counts of an interface (ethtool channels, else the
 * netlink IFLA_NUM_*_QUEUES), at least 1 each. */
int unm_nic_queues(const char *ifname, uint32_t *nrx, uint32_t *ntx);

#endif
