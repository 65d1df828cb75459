/*
 * nic.c - NIC ports netmap:IF on Linux interfaces (reference §4.1, §4.2).
 *
 * The port (registry entry, rings, a private region sized for them) is
 * shared like any other port: hardware ring i is queue i of IF in each
 * direction, and nhost host rings per direction follow them (ring ids ntx /
 * nrx on).  What reaches the kernel is process-local: the registration that
 * binds rings opens a session on IF (src/nic/kobj.c: the helper process
 * that owns the XDP program, XSKMAP, tcx links and TAP as long as some
 * session lives) and one socket per queue it binds, over this process's
 * mapping of the port's buffer pool:
 *
 *   AF_XDP (default)  UMEM = the region's buffer pool, so a frame moves
 *                     between a netmap slot and the kernel by buffer index;
 *                     released RX slots go to the fill ring, TX slots to
 *                     the TX ring and come back with the completions.
 *   TPACKET_V3        (no native XDP, or UNETMAP_NIC_MODE=packet) frames are
 *                     copied from the RX blocks into the slots' buffers, and
 *                     from the TX slots into sendmmsg() batches.
 *   host rings        the TAP of the session, one queue per host ring: host
 *                     RX ring k reads what the stack sent on IF on TX
 *                     queues q with q mod nhost == k, host TX ring k writes
 *                     on TAP queue k frames the stack receives as if they
 *                     came in on IF.
 *
 * Syncs run in the caller's context and make a system call only when the
 * kernel asks for one (AF_XDP need_wakeup; TPACKET TX flush; TAP I/O).
 * poll() cannot be woken by the kernel through our FIFOs, so it sleeps in
 * steps of at most 1 ms on these ports (ops.no_wakeup).
 */
#include <errno.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <linux/ethtool.h>
#include <linux/magic.h>
#include <linux/sockios.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/statfs.h>
#include <sys/epoll.h>
#include <sys/time.h>
#include <unistd.h>
#include "core/unm.h"
#include "unetmap.h"
#include "nic/kobj.h"
#include "nic/tpacket.h"
#include "nic/xsk.h"

#define NIC_DEF_SLOTS	1024u
#define NIC_MIN_SLOTS	64u
#define NIC_BURST	256u

/* ---- process-local state ------------------------------------------------ */

/* one queue of IF as this binding sees it */
struct nic_fd;

struct nic_q {
	struct nic_fd *nf;
	uint32_t queue;
	struct unm_xsk *xsk;		/* AF_XDP backend */
	struct unm_tpk *tpk;		/* TPACKET backend */
	uint32_t tx_done;		/* TX slot of the next completion */
};

struct nic_fd {
	struct unm_nic_session s;
	int epfd;			/* readable when a socket has frames */
	uint32_t backend;
	uint32_t nq;
	uint32_t ntx, nrx;		/* hardware rings: host ring k is ntx + k / nrx + k */
	struct nic_q *q[UNM_MAX_RINGS];
	char mode[16];
};

static inline struct nic_q *kq(const struct unm_kref *k)
{
	return k->priv;
}

/* the TAP fd for host-ring krefs (k->priv is the nic_fd then) */
static inline bool is_host(const struct unm_kref *k, const struct unm_port *p)
{
	return k->kr->dir == NR_TX ? k->kr->ringid >= p->ntx : k->kr->ringid >= p->nrx;
}

/* the TAP queue fd of a host-ring kref (host ring k: TAP queue k), -1 if none */
static inline int host_tap(const struct nic_fd *nf, const struct unm_kref *k)
{
	uint32_t h = k->kr->ringid - (k->kr->dir == NR_TX ? nf->ntx : nf->nrx);
	return h < nf->s.ntap ? nf->s.tap_fds[h] : -1;
}

static uint32_t pow2_at_least(uint32_t v)
{
	uint32_t r = 1;
	while (r < v)
		r <<= 1;
	return r;
}

/* ---- hygiene checks at set-up -------------------------------------------------- */

static int ethtool_ioctl(const char *ifname, void *cmd)
{
	struct ifreq ifr;
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	ifr.ifr_data = cmd;
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (s < 0)
		return -1;
	int r = ioctl(s, SIOCETHTOOL, &ifr);
	unm_real_close(s);
	return r;
}

/* ifindex of a veth's peer (ethtool statistic "peer_ifindex"), 0 if unknown */
static uint64_t veth_peer_ifindex(const char *ifname)
{
	/* the header and the one count that follows it */
	union {
		struct ethtool_sset_info hdr;
		uint8_t raw[sizeof(struct ethtool_sset_info) + sizeof(uint32_t)];
	} si;
	memset(&si, 0, sizeof(si));
	si.hdr.cmd = ETHTOOL_GSSET_INFO;
	si.hdr.sset_mask = 1ULL << ETH_SS_STATS;
	uint32_t n = 0;
	if (ethtool_ioctl(ifname, &si) < 0 || si.hdr.sset_mask == 0)
		return 0;
	memcpy(&n, si.raw + sizeof(struct ethtool_sset_info), sizeof(n));
	if (n == 0 || n > 4096)
		return 0;
	struct ethtool_gstrings *gs = calloc(1, sizeof(*gs) + (size_t)n * ETH_GSTRING_LEN);
	struct ethtool_stats *st = calloc(1, sizeof(*st) + (size_t)n * sizeof(uint64_t));
	uint64_t idx = 0;
	if (gs != NULL && st != NULL) {
		gs->cmd = ETHTOOL_GSTRINGS;
		gs->string_set = ETH_SS_STATS;
		gs->len = n;
		st->cmd = ETHTOOL_GSTATS;
		st->n_stats = n;
		if (ethtool_ioctl(ifname, gs) == 0 && ethtool_ioctl(ifname, st) == 0)
			for (uint32_t i = 0; i < n && i < gs->len && i < st->n_stats; i++)
				if (strncmp((const char *)gs->data + i * ETH_GSTRING_LEN,
					    "peer_ifindex", ETH_GSTRING_LEN) == 0)
					idx = st->data[i];
	}
	free(gs);
	free(st);
	return idx;
}

/* An offload that corrupts the frames netmap forwards: a veth whose peer
 * transmits with checksum offload hands over TCP/UDP frames whose checksum
 * holds only the pseudo-header sum (the peer's stack leaves the rest to a
 * "device" that never computes it), and the host stack drops them when
 * they are forwarded to it.  The note names the fix; "" if none is due. */
static void offload_note(const char *ifname, char *note, size_t len)
{
	struct ethtool_drvinfo di = { .cmd = ETHTOOL_GDRVINFO };
	note[0] = '\0';
	if (ethtool_ioctl(ifname, &di) < 0 || strcmp(di.driver, "veth") != 0)
		return;
	/* the peer, if it is in this namespace: veth's "peer_ifindex" statistic */
	char peer[IF_NAMESIZE] = "";
	unsigned idx = (unsigned)veth_peer_ifindex(ifname);
	if (idx == 0 || if_indextoname(idx, peer) == NULL) {
		snprintf(note, len, "veth: run ethtool -K PEER tx off, else the peer's "
			 "TCP/UDP checksums arrive incomplete");
		return;
	}
	struct ethtool_value v = { .cmd = ETHTOOL_GTXCSUM };
	if (ethtool_ioctl(peer, &v) == 0 && v.data != 0)
		snprintf(note, len, "peer %.15s: TCP/UDP checksums arrive "
			 "incomplete: ethtool -K %.15s tx off", peer, peer);
}

/* AF_XDP pins the pages of the buffer pool: they must be in memory
 * (tmpfs, hugetlbfs), not in a file of a disk filesystem */
static bool pool_pinnable(void)
{
	struct statfs sf;
	if (statfs(unm_dir(), &sf) < 0)
		return true;	/* let the kernel say */
	return sf.f_type == TMPFS_MAGIC || sf.f_type == HUGETLBFS_MAGIC;
}


__thread int unm_nic_req_mode;

/* The REGISTER option (@xdp:mode=...), else UNETMAP_NIC_MODE: auto
 * (default), zc, copy, packet */
static int mode_from_env(uint32_t *backend, int *xmode)
{
	static const char *const names[] = { "auto", "zc", "copy", "packet" };
	const char *e = getenv("UNETMAP_NIC_MODE");
	if (unm_nic_req_mode > 0 && unm_nic_req_mode <= 4)
		e = names[unm_nic_req_mode - 1];
	*backend = UNM_NIC_AUTO;
	*xmode = UNM_XSK_MODE_AUTO;
	if (e == NULL || *e == '\0' || strcmp(e, "auto") == 0)
		return 0;
	if (strcmp(e, "zc") == 0) {
		*backend = UNM_NIC_XDP;
		*xmode = UNM_XSK_MODE_ZC;
	} else if (strcmp(e, "copy") == 0) {
		*backend = UNM_NIC_XDP;
		*xmode = UNM_XSK_MODE_COPY;
	} else if (strcmp(e, "packet") == 0) {
		*backend = UNM_NIC_PACKET;
	} else {
		unm_seterr("UNETMAP_NIC_MODE=%s: want auto, zc, copy or packet", e);
		return -EINVAL;
	}
	return 0;
}

static void q_free(struct nic_q *q)
{
	if (q == NULL)
		return;
	unm_xsk_destroy(q->xsk);
	if (q->tpk != NULL)
		unm_tpk_destroy(q->tpk);
	free(q);
}

static int q_open(struct unm_fd *f, struct nic_fd *nf, const struct unm_port *p, uint32_t queue,
		  int xmode, struct nic_q **out)
{
	struct nic_q *q = calloc(1, sizeof(*q));
	if (q == NULL)
		return -ENOMEM;
	q->queue = queue;
	q->nf = nf;
	const struct unm_region_meta *mt = f->map->meta;
	uint32_t slots = p->rx_slots > p->tx_slots ? p->rx_slots : p->tx_slots;
	int ret;
	if (nf->backend == UNM_NIC_XDP) {
		uint32_t rs = pow2_at_least(slots);
		struct unm_xsk_cfg c = {
			.sz = sizeof(c),
			.ifname = p->name,
			.queue = queue,
			.umem_area = f->map->base + mt->buf_off,
			.umem_size = (uint64_t)mt->p.buf_num * mt->p.buf_size,
			.frame_size = mt->p.buf_size,
			.rx_size = rs, .tx_size = rs, .fill_size = rs, .comp_size = rs,
			.mode = xmode,
			.flags = UNM_XSK_F_SG,
		};
		ret = unm_xsk_create(&c, &q->xsk);
		if (ret == 0)
			ret = unm_xsk_map_insert(nf->s.xskmap_fd, queue, q->xsk);
		if (ret == 0)
			snprintf(nf->mode, sizeof(nf->mode), "%s", unm_xsk_mode(q->xsk));
	} else {
		struct unm_tpk_cfg c = {
			.sz = sizeof(c),
			.ifname = p->name,
			.queue = p->nrx > 1 ? (int32_t)queue : -1,
			.ignore_mark = UNM_NIC_MARK,
			.tx_frames = pow2_at_least(slots),
			/* a frame as long as the MTU allows (a chain of slots) */
			.tx_frame_max = nf->s.info.mtu + 22 > mt->p.buf_size ?
					(nf->s.info.mtu + 22 + 63) & ~63u : mt->p.buf_size,
		};
		ret = unm_tpk_create(&c, &q->tpk);
		snprintf(nf->mode, sizeof(nf->mode), "packet");
	}
	if (ret < 0) {
		q_free(q);
		return ret;
	}
	*out = q;
	return 0;
}

static void xsk_post(struct nic_q *q, const struct netmap_ring *ring, uint32_t from, uint32_t to,
		     uint32_t n, uint32_t nbufs, uint32_t bsz);

static void nic_fd_detach(struct unm_fd *f)
{
	struct nic_fd *nf = f->priv;
	if (nf == NULL)
		return;
	for (uint32_t i = 0; i < f->ntx + f->nrx; i++)
		f->tx[i].priv = NULL;
	for (uint32_t i = 0; i < UNM_MAX_RINGS; i++)
		q_free(nf->q[i]);
	if (nf->epfd >= 0)
		unm_real_close(nf->epfd);
	unm_nic_session_close(&nf->s);
	free(nf);
	f->priv = NULL;
}

static int nic_fd_attach(struct unm_fd *f)
{
	struct unm_registry *r = unm_registry();
	if (f->ntx + f->nrx == 0)
		return 0;
	const struct unm_port *p = &r->ports[f->tx[0].kr->port];
	struct nic_fd *nf = calloc(1, sizeof(*nf));
	if (nf == NULL)
		return -ENOMEM;
	nf->s.sock = nf->s.xskmap_fd = nf->s.tap_fd = -1;
	nf->epfd = -1;
	nf->ntx = p->ntx;
	nf->nrx = p->nrx;
	f->priv = nf;
	int xmode, ret;
	uint32_t backend;
	if ((ret = mode_from_env(&backend, &xmode)) < 0)
		goto fail;
	if (!pool_pinnable()) {
		if (backend == UNM_NIC_XDP) {
			unm_seterr("netmap:%s: AF_XDP needs the runtime directory %s on tmpfs or "
				   "hugetlbfs (its buffers are pinned); use UNETMAP_DIR=/dev/shm/... "
				   "or the packet data path", p->name, unm_dir());
			ret = -EOPNOTSUPP;
			goto fail;
		}
		backend = UNM_NIC_PACKET;	/* auto: the data path that works here */
	}
	bool host = false;
	for (uint32_t i = 0; i < f->ntx + f->nrx; i++)
		host |= is_host(&f->tx[i], p);
	const struct unm_region_meta *mt = f->map->meta;
	struct unm_nic_opts o = {
		.sz = sizeof(o),
		.backend = backend,
		.flags = host ? UNM_NIC_F_HOST : 0,
		.umem_bytes = (uint64_t)mt->p.buf_num * mt->p.buf_size,
		.host_rings = p->nhost,		/* TAP queues, if it is created now */
	};
	if ((ret = unm_nic_session_open(p->name, &o, &nf->s)) < 0)
		goto fail;
	nf->backend = nf->s.info.backend;
	if (host && nf->s.tap_fd < 0 && (ret = unm_nic_session_host(&nf->s)) < 0)
		goto fail;
	if (host && nf->s.ntap != p->nhost) {
		/* the TAP was made by a session that is not a port's */
		unm_seterr("netmap:%s: the host stack's TAP %s has %u queues for %u host rings",
			   p->name, nf->s.info.tap_name, nf->s.ntap, p->nhost);
		ret = -EBUSY;
		goto fail;
	}
	/* one socket per queue with a bound hardware ring */
	for (uint32_t i = 0; i < f->ntx + f->nrx; i++) {
		struct unm_kref *k = &f->tx[i];
		if (is_host(k, p)) {
			k->priv = nf;
			continue;
		}
		uint32_t qi = k->kr->ringid;
		if (qi >= UNM_MAX_RINGS) {
			ret = -EINVAL;
			goto fail;
		}
		if (nf->q[qi] == NULL && (ret = q_open(f, nf, p, qi, xmode, &nf->q[qi])) < 0)
			goto fail;
		k->priv = nf->q[qi];
		if (k->kr->dir == NR_RX && nf->q[qi]->xsk != NULL) {
			/* the kernel's part of the ring can take frames now */
			const struct unm_region_meta *mt = f->map->meta;
			xsk_post(nf->q[qi], k->ring, k->kr->hwtail, unm_prv(k->kr->hwcur,
				 k->kr->num_slots), k->kr->num_slots, mt->p.buf_num, mt->p.buf_size);
		}
	}
	/* poll() on the port sleeps on the RX sockets (and the TAP) */
	nf->epfd = epoll_create1(EPOLL_CLOEXEC);
	for (uint32_t i = 0; nf->epfd >= 0 && i < f->nrx; i++) {
		struct unm_kref *k = &f->rx[i];
		int fd = is_host(k, p) ? host_tap(nf, k) :
			 kq(k)->xsk != NULL ? unm_xsk_fd(kq(k)->xsk) : unm_tpk_fd(kq(k)->tpk);
		struct epoll_event ev = { .events = EPOLLIN, .data.u32 = i };
		if (fd >= 0 && epoll_ctl(nf->epfd, EPOLL_CTL_ADD, fd, &ev) < 0 && errno != EEXIST) {
			unm_real_close(nf->epfd);
			nf->epfd = -1;	/* short sleeps then */
		}
	}
	if (nf->mode[0] != '\0')
		snprintf(r->ports[f->tx[0].kr->port].nic_mode, sizeof(p->nic_mode), "%.7s", nf->mode);
	offload_note(p->name, r->ports[f->tx[0].kr->port].nic_note, sizeof(p->nic_note));
	return 0;
fail:
	nic_fd_detach(f);
	return ret;
}

/* ---- transparent mode (NR_FORWARD / NS_FORWARD, reference §1.7) ------------------- */

/* Released NIC RX slots [from, to) marked NS_FORWARD go up to the host
 * stack (written to the TAP: the stack gets them as if they came in on
 * IF), when the ring has NR_FORWARD. */
static void fwd_to_host(struct unm_fd *f, struct nic_fd *nf, struct netmap_ring *ring,
			uint32_t from, uint32_t to)
{
	if (unm_likely(!(ring->flags & NR_FORWARD)) || from == to)
		return;
	const uint32_t n = ring->num_slots;
	const uint32_t nbufs = f->map->meta->p.buf_num, bsz = f->map->meta->p.buf_size;
	char *base = f->map->base + f->map->meta->buf_off;
	for (uint32_t i = from; i != to; i = unm_nxt(i, n)) {
		struct netmap_slot *s = &ring->slot[i];
		if (!(s->flags & NS_FORWARD))
			continue;
		s->flags &= (uint16_t)~NS_FORWARD;
		if (nf->s.tap_fd < 0 && unm_nic_session_host(&nf->s) < 0)
			return;
		/* any TAP queue reaches the stack: spread the NIC RX rings */
		int tap = nf->s.ntap > 1 ? nf->s.tap_fds[ring->ringid % nf->s.ntap] : nf->s.tap_fd;
		if (s->buf_idx - 2 < nbufs - 2 && s->len >= 14 && s->len <= bsz &&
		    write(tap, base + (uint64_t)s->buf_idx * bsz, s->len) < 0) {
			/* a full TAP queue drops the frame, as the stack would */
		}
	}
}

static int xsk_txsync(struct unm_fd *f, struct unm_kref *k);
static int tpk_txsync(struct unm_fd *f, struct unm_kref *k);

/* Released host RX slots [from, to) marked NS_FORWARD go out on the NIC:
 * moved (buffer swap) into the free slots of this binding's TX rings, whose
 * head/cur advance as if the application had queued them, then sent.  As
 * netmap: only when the binding has every NIC TX ring. */
static void fwd_to_nic(struct unm_fd *f, struct netmap_ring *ring, uint32_t from, uint32_t to)
{
	if (unm_likely(!(ring->flags & NR_FORWARD)) || from == to)
		return;
	if (f->ntx == 0)
		return;
	const struct unm_port *p = &unm_registry()->ports[f->tx[0].kr->port];
	struct unm_kref *tx[UNM_MAX_RINGS];
	uint32_t ntx = 0;
	for (uint32_t i = 0; i < f->ntx; i++)
		if (f->tx[i].kr->ringid < p->ntx && f->tx[i].priv != NULL && ntx < UNM_MAX_RINGS)
			tx[ntx++] = &f->tx[i];
	const uint32_t n = ring->num_slots, nbufs = f->map->meta->p.buf_num;
	uint32_t t = 0;
	bool moved[UNM_MAX_RINGS] = { false };
	for (uint32_t i = from; i != to; i = unm_nxt(i, n)) {
		struct netmap_slot *s = &ring->slot[i];
		if (!(s->flags & NS_FORWARD))
			continue;
		s->flags &= (uint16_t)~NS_FORWARD;
		if (ntx != p->ntx || s->buf_idx - 2 >= nbufs - 2)
			continue;	/* not every TX ring bound here: dropped */
		/* the next TX ring with room, round robin */
		uint32_t tries = 0;
		while (tries < ntx && unm_dist(tx[t]->ring->head, tx[t]->ring->tail,
					       tx[t]->ring->num_slots) == 0) {
			t = (t + 1) % ntx;
			tries++;
		}
		if (tries == ntx)
			break;	/* all full: the rest is dropped */
		struct netmap_ring *tr = tx[t]->ring;
		struct netmap_slot *d = &tr->slot[tr->head];
		uint32_t b = d->buf_idx;
		d->buf_idx = s->buf_idx;
		d->len = s->len;
		d->flags = NS_BUF_CHANGED;
		s->buf_idx = b;
		s->flags |= NS_BUF_CHANGED;
		tr->head = tr->cur = unm_nxt(tr->head, tr->num_slots);
		moved[t] = true;
		t = (t + 1) % ntx;
	}
	for (uint32_t k = 0; k < ntx; k++)
		if (moved[k])
			(kq(tx[k])->xsk != NULL ? xsk_txsync : tpk_txsync)(f, tx[k]);
}

/* ---- steps every sync of this file shares ------------------------------------ */

/* RX: the user's head (slots [hwcur, head) released); -1 when the ring had
 * to be reinitialised (new frames are still imported, as netmap does) */
static int rx_begin(struct unm_fd *f, struct unm_kref *k, uint32_t *head)
{
	const struct unm_region_meta *mt = f->map->meta;
	if (unm_likely(unm_rx_prologue(k, head) == 0))
		return 0;
	unm_ring_reinit(k, mt->p.buf_num, mt->p.buf_size);
	*head = k->kr->hwcur;
	return -1;
}

/* RX: slots [from, tail) arrived (at time *ts, or now): copy monitors, then
 * publish them */
static void rx_end(struct unm_fd *f, struct unm_kref *k, uint32_t from, uint32_t tail,
		   const struct timeval *ts)
{
	struct unm_kring *kr = k->kr;
	struct netmap_ring *ring = k->ring;
	if (tail != from) {
		unm_mon_copy(kr, ring, unm_map_bufs(f->map), from, tail);
		if (ts != NULL)
			ring->ts = *ts;
		else
			gettimeofday(&ring->ts, NULL);
		UNM_WRITE_ONCE(kr->hwtail, tail);
	}
	UNM_WRITE_ONCE(kr->rtail, tail);
	unm_store_release(&ring->tail, tail);
}

/* TX: the user's head, and the end of the whole frames in [hwcur, head)
 * (a chain still open stays for the next sync); copy monitors see them.
 * -1 when the ring had to be reinitialised (nothing is sent). */
static int tx_begin(struct unm_fd *f, struct unm_kref *k, uint32_t *lim)
{
	const struct unm_region_meta *mt = f->map->meta;
	struct netmap_ring *ring = k->ring;
	struct unm_kring *kr = k->kr;
	uint32_t head, n = kr->num_slots;
	if (unm_unlikely(unm_tx_prologue(k, &head) < 0)) {
		unm_ring_reinit(k, mt->p.buf_num, mt->p.buf_size);
		return -1;
	}
	while (head != kr->hwcur && (ring->slot[unm_prv(head, n)].flags & NS_MOREFRAG))
		head = unm_prv(head, n);
	unm_mon_copy(kr, ring, unm_map_bufs(f->map), kr->hwcur, head);
	*lim = head;
	return 0;
}

/* TX: every slot before `done` is free again */
static void tx_end(struct unm_kring *kr, struct netmap_ring *ring, uint32_t done)
{
	uint32_t tail = unm_prv(done, kr->num_slots);
	UNM_WRITE_ONCE(kr->rtail, tail);
	kr->tx_hwtail = tail;
	unm_store_release(&ring->tail, tail);
}

/* TX: the frame starting at slot i (before lim) as iov[0..*cnt) over its
 * buffers (at most 64 fragments); *next is the slot after it.  False if a
 * slot is invalid (the caller reinitialises the ring). */
static bool tx_gather(struct unm_fd *f, const struct unm_kring *kr, const struct netmap_ring *ring,
		      uint32_t i, uint32_t lim, struct iovec iov[64], int *cnt, uint32_t *next)
{
	const uint32_t n = kr->num_slots;
	const uint32_t nbufs = f->map->meta->p.buf_num, bsz = f->map->meta->p.buf_size;
	char *base = f->map->base + f->map->meta->buf_off;
	int c = 0;
	for (;;) {
		const struct netmap_slot *s = &ring->slot[i];
		uint64_t off = kr->offset_mask ? unm_slot_offset(kr, s) : 0;
		if (unm_unlikely(s->buf_idx - 2 >= nbufs - 2 || s->len + off > bsz))
			return false;
		if (c < 64)
			iov[c++] = (struct iovec){ base + (uint64_t)s->buf_idx * bsz + off, s->len };
		i = unm_nxt(i, n);
		if (!(s->flags & NS_MOREFRAG) || i == lim)
			break;
	}
	*cnt = c;
	*next = i;
	return true;
}

/* ---- AF_XDP data path --------------------------------------------------------- */

/* RX: the slots [hwtail, hwcur - 1) belong to the kernel; their buffers
 * are in the fill ring (or being filled).  Released slots join them. */
static void xsk_post(struct nic_q *q, const struct netmap_ring *ring, uint32_t from, uint32_t to,
		     uint32_t n, uint32_t nbufs, uint32_t bsz)
{
	uint64_t addrs[NIC_BURST];
	while (from != to) {
		unsigned c = 0;
		for (; from != to && c < NIC_BURST; from = unm_nxt(from, n)) {
			uint32_t bi = ring->slot[from].buf_idx;
			if (bi - 2 < nbufs - 2)
				addrs[c++] = (uint64_t)bi * bsz;
		}
		unm_xsk_fill(q->xsk, addrs, c);
	}
}

static int xsk_rxsync(struct unm_fd *f, struct unm_kref *k)
{
	struct netmap_ring *ring = k->ring;
	struct unm_kring *kr = k->kr;
	struct nic_q *q = kq(k);
	const uint32_t n = kr->num_slots;
	const uint32_t nbufs = f->map->meta->p.buf_num, bsz = f->map->meta->p.buf_size;
	uint32_t head;
	int ret = rx_begin(f, k, &head);

	if (head != kr->hwcur) {
		fwd_to_host(f, q->nf, ring, kr->hwcur, head);
		unm_zmon_pass(f->map, kr, ring, kr->hwcur, head, 0);
		xsk_post(q, ring, kr->hwcur, head, n, nbufs, bsz);
		UNM_WRITE_ONCE(kr->hwcur, head);
	}
	uint32_t tail = kr->hwtail, room = unm_dist(tail, unm_prv(head, n), n);
	struct xdp_desc d[NIC_BURST];
	uint32_t from = tail;
	while (room > 0) {
		unsigned got = unm_xsk_rx(q->xsk, d, room < NIC_BURST ? room : NIC_BURST);
		if (got == 0)
			break;
		for (unsigned j = 0; j < got; j++) {
			struct netmap_slot *s = &ring->slot[tail];
			uint32_t bi = (uint32_t)(d[j].addr / bsz);
			s->flags = (uint16_t)((s->buf_idx != bi ? NS_BUF_CHANGED : 0) |
					      (d[j].options & XDP_PKT_CONTD ? NS_MOREFRAG : 0));
			s->buf_idx = bi;
			s->len = (uint16_t)d[j].len;
			s->ptr = 0;
			tail = unm_nxt(tail, n);
		}
		room -= got;
		kr->rx_frames += got;
	}
	if (unm_xsk_rx_needs_wakeup(q->xsk))
		unm_xsk_rx_kick(q->xsk);
	rx_end(f, k, from, tail, NULL);
	return ret;
}

static int xsk_txsync(struct unm_fd *f, struct unm_kref *k)
{
	struct netmap_ring *ring = k->ring;
	struct unm_kring *kr = k->kr;
	struct nic_q *q = kq(k);
	const uint32_t n = kr->num_slots;
	const uint32_t nbufs = f->map->meta->p.buf_num, bsz = f->map->meta->p.buf_size;
	uint32_t lim;

	if (unm_unlikely(tx_begin(f, k, &lim) < 0))
		return -1;
	uint32_t i = kr->hwcur;
	bool sg = unm_xsk_sg(q->xsk);
	struct xdp_desc d[NIC_BURST];
	while (i != lim) {
		unsigned c = 0;
		for (uint32_t j = i; j != lim && c < NIC_BURST; j = unm_nxt(j, n)) {
			struct netmap_slot *s = &ring->slot[j];
			uint64_t off = kr->offset_mask ? unm_slot_offset(kr, s) : 0;
			if (unm_unlikely(s->buf_idx - 2 >= nbufs - 2 || s->len + off > bsz)) {
				unm_ring_reinit(k, nbufs, bsz);
				return -1;
			}
			d[c].addr = (uint64_t)s->buf_idx * bsz + off;
			d[c].len = s->len;
			d[c].options = (s->flags & NS_MOREFRAG) && sg ? XDP_PKT_CONTD : 0;
			c++;
		}
		unsigned put = unm_xsk_tx(q->xsk, d, c);
		kr->tx_frames += put;
		i = (i + put) % n;
		if (put < c)
			break;	/* the socket's TX ring is full: next sync */
	}
	UNM_WRITE_ONCE(kr->hwcur, i);
	if (unm_xsk_tx_outstanding(q->xsk) != 0 && unm_xsk_tx_needs_wakeup(q->xsk))
		unm_xsk_tx_kick(q->xsk);
	/* completions come back in the order sent */
	uint64_t a[NIC_BURST];
	unsigned c;
	uint32_t from = q->tx_done;
	while ((c = unm_xsk_comp(q->xsk, a, NIC_BURST)) > 0)
		q->tx_done = (q->tx_done + c) % n;
	if (q->tx_done != from)
		unm_zmon_pass(f->map, kr, ring, from, q->tx_done, 1);
	tx_end(kr, ring, q->tx_done);
	return 0;
}

/* ---- TPACKET data path ------------------------------------------------------------ */

static int tpk_rxsync(struct unm_fd *f, struct unm_kref *k)
{
	struct netmap_ring *ring = k->ring;
	struct unm_kring *kr = k->kr;
	struct nic_q *q = kq(k);
	const uint32_t n = kr->num_slots;
	const uint32_t nbufs = f->map->meta->p.buf_num, bsz = f->map->meta->p.buf_size;
	char *base = f->map->base + f->map->meta->buf_off;
	uint32_t head;
	int ret = rx_begin(f, k, &head);

	if (head != kr->hwcur) {
		fwd_to_host(f, q->nf, ring, kr->hwcur, head);
		unm_zmon_pass(f->map, kr, ring, kr->hwcur, head, 0);
		UNM_WRITE_ONCE(kr->hwcur, head);
	}
	uint32_t tail = kr->hwtail, from = tail;
	uint32_t room = unm_dist(tail, unm_prv(head, n), n);
	struct unm_tpk_frame fr;
	struct timeval last = { 0, 0 };
	while (room > 0 && unm_tpk_rx_next(q->tpk, &fr) == 1) {
		/* a frame longer than a buffer becomes a MOREFRAG chain, if the
		 * ring has room for all of it */
		uint32_t len = fr.snaplen, nfr = len == 0 ? 1 : (len + bsz - 1) / bsz;
		if (nfr > room) {
			kr->drop_full++;
			continue;
		}
		for (uint32_t o = 0, c = 0; c < nfr; c++, o += bsz) {
			struct netmap_slot *s = &ring->slot[tail];
			uint32_t l = len - o < bsz ? len - o : bsz;
			if (s->buf_idx - 2 < nbufs - 2)
				memcpy(base + (uint64_t)s->buf_idx * bsz, fr.data + o, l);
			else
				l = 0;
			s->len = (uint16_t)l;
			s->flags = c + 1 < nfr ? NS_MOREFRAG : 0;
			tail = unm_nxt(tail, n);
		}
		room -= nfr;
		last = (struct timeval){ fr.ts.tv_sec, fr.ts.tv_nsec / 1000 };
		kr->rx_frames++;
	}
	unm_tpk_rx_release(q->tpk);
	rx_end(f, k, from, tail, &last);
	return ret;
}

static int tpk_txsync(struct unm_fd *f, struct unm_kref *k)
{
	struct netmap_ring *ring = k->ring;
	struct unm_kring *kr = k->kr;
	struct nic_q *q = kq(k);
	const struct unm_region_meta *mt = f->map->meta;
	uint32_t lim;

	if (unm_unlikely(tx_begin(f, k, &lim) < 0))
		return -1;
	uint32_t i = kr->hwcur, first = i;
	unm_tpk_tx_reap(q->tpk);
	while (i != lim) {
		struct iovec iov[64];
		int c;
		uint32_t j;
		if (unm_unlikely(!tx_gather(f, kr, ring, i, lim, iov, &c, &j))) {
			unm_ring_reinit(k, mt->p.buf_num, mt->p.buf_size);
			return -1;
		}
		int r = unm_tpk_tx_frame(q->tpk, iov, (unsigned)c);
		if (r == 0) {
			unm_tpk_tx_flush(q->tpk);
			unm_tpk_tx_reap(q->tpk);
			if ((r = unm_tpk_tx_frame(q->tpk, iov, (unsigned)c)) == 0)
				break;	/* still full: the rest at the next sync */
		}
		if (r < 0)
			kr->drop_malformed++;	/* larger than a TX frame */
		else
			kr->tx_frames++;
		i = j;
	}
	if (i != first)
		unm_tpk_tx_flush(q->tpk);
	UNM_WRITE_ONCE(kr->hwcur, i);
	/* sent frames were copied out: their slots are free at once */
	if (i != first)
		unm_zmon_pass(f->map, kr, ring, first, i, 1);
	tx_end(kr, ring, i);
	return 0;
}

/* ---- host rings: the TAP ------------------------------------------------------------ */

static int host_rxsync(struct unm_fd *f, struct unm_kref *k)
{
	struct netmap_ring *ring = k->ring;
	struct unm_kring *kr = k->kr;
	struct nic_fd *nf = k->priv;
	const uint32_t n = kr->num_slots;
	const uint32_t nbufs = f->map->meta->p.buf_num, bsz = f->map->meta->p.buf_size;
	char *base = f->map->base + f->map->meta->buf_off;
	uint32_t head;
	int ret = rx_begin(f, k, &head);

	if (head != kr->hwcur) {
		fwd_to_nic(f, ring, kr->hwcur, head);
		unm_zmon_pass(f->map, kr, ring, kr->hwcur, head, 0);
		UNM_WRITE_ONCE(kr->hwcur, head);
	}
	uint32_t tail = kr->hwtail, from = tail;
	uint32_t room = unm_dist(tail, unm_prv(head, n), n);
	const int tap = host_tap(nf, k);
	for (; room > 0 && tap >= 0; room--) {
		struct netmap_slot *s = &ring->slot[tail];
		if (s->buf_idx - 2 >= nbufs - 2)
			break;
		ssize_t got = read(tap, base + (uint64_t)s->buf_idx * bsz, bsz);
		if (got <= 0)
			break;
		s->len = (uint16_t)got;
		s->flags = 0;
		tail = unm_nxt(tail, n);
		kr->rx_frames++;
	}
	rx_end(f, k, from, tail, NULL);
	return ret;
}

static int host_txsync(struct unm_fd *f, struct unm_kref *k)
{
	struct netmap_ring *ring = k->ring;
	struct unm_kring *kr = k->kr;
	struct nic_fd *nf = k->priv;
	const struct unm_region_meta *mt = f->map->meta;
	const int tap = host_tap(nf, k);
	uint32_t lim;

	if (unm_unlikely(tx_begin(f, k, &lim) < 0))
		return -1;
	uint32_t i = kr->hwcur, first = i;
	while (i != lim) {
		struct iovec iov[64];
		int c;
		uint32_t j;
		if (unm_unlikely(!tx_gather(f, kr, ring, i, lim, iov, &c, &j))) {
			unm_ring_reinit(k, mt->p.buf_num, mt->p.buf_size);
			return -1;
		}
		/* the stack gets it as if it came in on IF; a full TAP queue
		 * drops it (as a NIC would) */
		if (tap >= 0 && writev(tap, iov, c) > 0)
			kr->tx_frames++;
		else
			kr->drop_full++;
		i = j;
	}
	UNM_WRITE_ONCE(kr->hwcur, i);
	if (i != first)
		unm_zmon_pass(f->map, kr, ring, first, i, 1);
	tx_end(kr, ring, i);
	return 0;
}

/* ---- dispatch ----------------------------------------------------------------------- */

static bool host_kref(const struct unm_kref *k)
{
	const struct unm_port *p = &unm_registry()->ports[k->kr->port];
	return is_host(k, p);
}

static int nic_txsync(struct unm_fd *f, struct unm_kref *k)
{
	if (unm_unlikely(k->priv == NULL))
		return 0;
	if (unm_unlikely(host_kref(k)))
		return host_txsync(f, k);
	return kq(k)->xsk != NULL ? xsk_txsync(f, k) : tpk_txsync(f, k);
}

static int nic_rxsync(struct unm_fd *f, struct unm_kref *k)
{
	if (unm_unlikely(k->priv == NULL))
		return 0;
	if (unm_unlikely(host_kref(k)))
		return host_rxsync(f, k);
	return kq(k)->xsk != NULL ? xsk_rxsync(f, k) : tpk_rxsync(f, k);
}

static bool nic_ready(const struct unm_kref *k)
{
	const struct unm_kring *kr = k->kr;
	if (k->priv == NULL || host_kref(k))
		return true;	/* a sync finds out */
	struct nic_q *q = kq(k);
	if (kr->dir == NR_RX) {
		if (UNM_READ_ONCE(kr->hwtail) != UNM_READ_ONCE(kr->rtail))
			return true;
		return q->xsk != NULL ? unm_xsk_rx_avail(q->xsk) > 0 : unm_tpk_rx_ready(q->tpk);
	}
	/* TX: room now, or completions to collect */
	if (unm_dist(UNM_READ_ONCE(k->ring->head), kr->rtail, kr->num_slots) > 0)
		return true;
	return q->xsk != NULL ? unm_xsk_tx_outstanding(q->xsk) > 0 : true;
}

/* ---- control path ---------------------------------------------------------------------- */

static void nic_destroy(uint32_t idx)
{
	struct unm_registry *r = unm_registry();
	struct unm_port *p = &r->ports[idx];
	if (p->kind != UNM_PORT_NIC || p->refs != 0 || p->children != 0)
		return;		/* still used, or pipes of it still open */
	struct unm_map *m = unm_map_get(p->mem_id, p->mem_gen);
	if (m != NULL) {
		for (uint32_t i = 0; p->tx_obj != UNM_NONE && i < p->ntx + p->nhost; i++)
			unm_ring_fini(m, p->tx_obj + i, true);
		for (uint32_t i = 0; p->rx_obj != UNM_NONE && i < p->nrx + p->nhost; i++)
			unm_ring_fini(m, p->rx_obj + i, true);
		unm_map_put(m);
	}
	uint16_t mem = p->mem_id;
	memset(p, 0, sizeof(*p));
	unm_mem_unref_locked(mem);
}

int unm_nic_lookup_locked(const char *name, struct nmreq_register *req, bool create,
			  uint32_t *port_out)
{
	struct unm_registry *r = unm_registry();
	for (uint32_t i = 0; i < r->port_hwm; i++) {
		struct unm_port *p = &r->ports[i];
		if (p->kind == UNM_PORT_NIC && strcmp(p->name, name) == 0) {
			*port_out = i;
			return 0;
		}
	}
	if (!create) {
		unm_seterr("%s is not in netmap mode", name);
		return -ENXIO;
	}
	if (strlen(name) >= IF_NAMESIZE) {
		unm_seterr("%s: interface name too long", name);
		return -EINVAL;
	}
	uint32_t nrxq, ntxq;
	int ret = unm_nic_queues(name, &nrxq, &ntxq);
	if (ret < 0)
		return ret;
	if (nrxq > UNM_MAX_RINGS - 1)
		nrxq = UNM_MAX_RINGS - 1;
	if (ntxq > UNM_MAX_RINGS - 1)
		ntxq = UNM_MAX_RINGS - 1;
	uint32_t txs = req && req->nr_tx_slots ? req->nr_tx_slots : NIC_DEF_SLOTS;
	uint32_t rxs = req && req->nr_rx_slots ? req->nr_rx_slots : NIC_DEF_SLOTS;
	txs = unm_bound(txs, NIC_DEF_SLOTS, NIC_MIN_SLOTS, UNM_MAX_SLOTS);
	rxs = unm_bound(rxs, NIC_DEF_SLOTS, NIC_MIN_SLOTS, UNM_MAX_SLOTS);
	/* Host rings: as many as the creating REGISTER asks for (the larger of
	 * nr_host_tx_rings and nr_host_rx_rings: one count serves both
	 * directions, a TAP queue being one of each), 1 if it asks for none;
	 * later registrations get this count, and it is back to 1 once the port
	 * is gone with its last user.  netmap honours the two counts apart and
	 * bounds them only by memory; here each host ring is a queue (an fd) of
	 * the TAP, at most UNM_NIC_MAX_HOST, and ring ids stop at UNM_MAX_RINGS. */
	uint32_t nhost = 1;
	if (req != NULL && (req->nr_host_tx_rings > 1 || req->nr_host_rx_rings > 1))
		nhost = req->nr_host_tx_rings > req->nr_host_rx_rings ?
			req->nr_host_tx_rings : req->nr_host_rx_rings;
	if (nhost > UNM_NIC_MAX_HOST)
		nhost = UNM_NIC_MAX_HOST;
	if (nhost > UNM_MAX_RINGS - (ntxq > nrxq ? ntxq : nrxq))
		nhost = UNM_MAX_RINGS - (ntxq > nrxq ? ntxq : nrxq);
	/* a region of its own: every ring's buffers, as much again for
	 * swaps, monitors and extra buffers, and some room */
	uint64_t bufs = 2 * ((uint64_t)(ntxq + nhost) * txs + (uint64_t)(nrxq + nhost) * rxs) +
			4096;
	uint16_t mem;
	if ((ret = unm_mem_create_sized_locked((uint32_t)bufs, ntxq + nrxq + 2 * nhost + 32, 0600,
					       &mem)) < 0)
		return ret;
	unm_mem_ref_locked(mem);
	uint32_t idx;
	if ((ret = unm_port_alloc_locked(&idx)) < 0) {
		unm_mem_unref_locked(mem);
		return ret;
	}
	struct unm_port *p = &r->ports[idx];
	p->kind = UNM_PORT_NIC;
	snprintf(p->name, sizeof(p->name), "%s", name);
	p->mem_id = mem;
	p->mem_gen = r->mems[mem].gen;
	p->ntx = ntxq;
	p->nrx = nrxq;
	p->nhost = nhost;
	p->tx_slots = txs;
	p->rx_slots = rxs;
	struct unm_map *m = unm_map_get(mem, p->mem_gen);
	if (m == NULL) {
		ret = -ENOMEM;
		goto fail;
	}
	if ((ret = unm_ring_alloc(m, ntxq + nhost, txs, &p->tx_obj)) < 0)
		goto fail_map;
	if ((ret = unm_ring_alloc(m, nrxq + nhost, rxs, &p->rx_obj)) < 0) {
		unm_ring_free(m, p->tx_obj, ntxq + nhost);
		p->tx_obj = UNM_NONE;
		goto fail_map;
	}
	for (uint32_t i = 0; i < ntxq + nhost; i++)
		unm_ring_init(m, p->tx_obj + i, idx, NR_TX, i, txs, true);
	for (uint32_t i = 0; i < nrxq + nhost; i++)
		unm_ring_init(m, p->rx_obj + i, idx, NR_RX, i, rxs, true);
	unm_map_put(m);
	p->ready = 1;	/* commit */
	*port_out = idx;
	return 0;
fail_map:
	unm_map_put(m);
fail:
	p->tx_obj = p->rx_obj = UNM_NONE;
	p->refs = 0;
	nic_destroy(idx);
	return ret;
}

static int nic_wait_fd(struct unm_fd *f, short events)
{
	const struct nic_fd *nf = f->priv;
	/* TX room comes back with completions nobody announces */
	if (nf == NULL || (events & (POLLOUT | POLLWRNORM)))
		return -1;
	return nf->epfd;
}

const struct unm_port_ops unm_nic_ops = {
	.name = "nic",
	.txsync = nic_txsync,
	.rxsync = nic_rxsync,
	.ready = nic_ready,
	.destroy = nic_destroy,
	.fd_attach = nic_fd_attach,
	.fd_detach = nic_fd_detach,
	.no_wakeup = true,
	.wait_fd = nic_wait_fd,
};

/* ---- reporting ------------------------------------------------------------------------- */

int unetmap_nic_info(const char *ifname, struct unetmap_nic_info *out)
{
	struct unm_nic_info in;
	if (ifname == NULL || out == NULL) {
		errno = EINVAL;
		return -1;
	}
	int ret = unm_nic_info(ifname, &in);
	if (ret < 0) {
		errno = -ret;
		return -1;
	}
	memset(out, 0, sizeof(*out));
	snprintf(out->ifname, sizeof(out->ifname), "%s", ifname);
	snprintf(out->backend, sizeof(out->backend), "%s", unm_nic_backend_name(in.backend));
	out->nrxq = in.nrxq;
	out->ntxq = in.ntxq;
	out->users = in.users;
	out->helper_pid = in.helper_pid;
	snprintf(out->tap, sizeof(out->tap), "%s", in.tap_name);
	snprintf(out->note, sizeof(out->note), "%s", in.note);
	snprintf(out->mode, sizeof(out->mode), "%s", in.backend == UNM_NIC_PACKET ? "packet" : "copy");
	if (unm_lock() == 0) {
		struct unm_port *p = unm_port_find_locked(ifname);
		if (p != NULL && p->kind == UNM_PORT_NIC && p->nic_mode[0] != '\0')
			snprintf(out->mode, sizeof(out->mode), "%.7s", p->nic_mode);
		if (p != NULL && p->kind == UNM_PORT_NIC && p->nic_note[0] != '\0')
			snprintf(out->note, sizeof(out->note), "%.95s", p->nic_note);
		unm_unlock();
	}
	return 0;
}

int unetmap_nic_ports(char (*names)[16], unsigned max)
{
	int ret = unm_lock();
	if (ret < 0) {
		errno = -ret;
		return -1;
	}
	struct unm_registry *r = unm_registry();
	unsigned n = 0;
	for (uint32_t i = 0; i < r->port_hwm; i++) {
		const struct unm_port *p = &r->ports[i];
		if (p->kind != UNM_PORT_NIC)
			continue;
		if (n < max && names != NULL)
			snprintf(names[n], sizeof(names[n]), "%.15s", p->name);
		n++;
	}
	unm_unlock();
	return (int)n;
}

/* The VALE fast-path maps of the NIC that netmap fd `fd` (this process,
 * XDP backend) holds, and the NIC's ifindex, for the switch attachment
 * helper of vale_nic.c.  The caller owns the fds. */
int unm_nic_fd_fwd(int fd, uint32_t *ifindex, int fds[UNM_NIC_FWD_FDS])
{
	struct unm_fd *f = unm_fd_lookup(fd);
	if (f == NULL || f->ops != &unm_nic_ops || f->priv == NULL) {
		for (int i = 0; i < UNM_NIC_FWD_FDS; i++)
			fds[i] = -1;
		return -EINVAL;
	}
	struct nic_fd *nf = f->priv;
	*ifindex = nf->s.info.ifindex;
	return unm_nic_session_fwd(&nf->s, fds);
}
