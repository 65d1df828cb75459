/*
 * xsk.c - AF_XDP data-path sockets over a netmap buffer pool.
 *
 * Control path: UMEM registration and socket bind through libxdp (program
 * loading inhibited), one UMEM per socket, zero copy tried before copy
 * mode.  A failed bind attempt throws its UMEM away and the next attempt
 * starts from a fresh one: a bind that fails can leave state on the UMEM
 * (the kernel sets the multi-buffer flag before it looks at the driver).
 *
 * Data path: bursts over libxdp's inline ring helpers, which keep cached
 * copies of the shared producer/consumer words, refresh them with acquire
 * loads and publish with release stores (see net/xdp/xsk_queue.h for the
 * kernel side of each pairing).  See xsk.h for the address conventions.
 */
#include <errno.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>
#include <linux/ethtool.h>
#include <linux/sockios.h>
#include <bpf/bpf.h>
#include <xdp/xsk.h>

#include "core/unm.h"
#include "nic/xsk.h"

#ifndef SOL_XDP
#define SOL_XDP 283
#endif
#ifndef XDP_MAX_TX_SKB_BUDGET
#define XDP_MAX_TX_SKB_BUDGET 9		/* setsockopt, kernel 6.17 */
#endif

#define XSK_DEF_RING	2048u
#define XSK_KICK_MAX	4096		/* sendto calls per unm_xsk_tx_kick() */
/* A queue stays bound for a while after its socket is closed: the kernel
 * frees the buffer pool after an RCU grace period, from a work item
 * (~20 ms measured here).  A bind that finds the queue busy is retried on
 * the same UMEM (the kernel says EBUSY before it changes anything) for
 * this long before the queue is declared busy. */
#define XSK_BUSY_WAIT_MS 1000

struct unm_xsk {
	/* data path, kept together */
	struct xsk_ring_prod fill, tx;
	struct xsk_ring_cons rx, comp;
	uint64_t fill_bias;	/* buffer offset - chunk address given to the kernel */
	uint32_t outstanding;	/* TX descriptors not completed yet */
	int fd;
	bool zc, sg;
	/* control path */
	struct xsk_umem *umem;
	struct xsk_socket *sock;
	uint32_t queue, frame_size, fill_size, comp_size;
	uint32_t data_off;
	char ifname[IF_NAMESIZE];
};

/* ---- helpers for messages ------------------------------------------ */

static int ethtool_ioctl(const char *ifname, void *cmd)
{
	struct ifreq ifr;
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	int ret = 0;

	if (s < 0)
		return -errno;
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	ifr.ifr_data = cmd;
	if (ioctl(s, SIOCETHTOOL, &ifr) < 0)
		ret = -errno;
	close(s);
	return ret;
}

/* driver name of an interface, "?" if it cannot be read */
static void driver_name(const char *ifname, char *buf, size_t len)
{
	struct ethtool_drvinfo di;

	memset(&di, 0, sizeof(di));
	di.cmd = ETHTOOL_GDRVINFO;
	if (ethtool_ioctl(ifname, &di) == 0 && di.driver[0] != '\0')
		snprintf(buf, len, "%.*s", (int)sizeof(di.driver), di.driver);
	else
		snprintf(buf, len, "?");
}

/* number of queues (channels) of an interface, 0 if unknown */
static uint32_t queue_count(const char *ifname)
{
	struct ethtool_channels ch;

	memset(&ch, 0, sizeof(ch));
	ch.cmd = ETHTOOL_GCHANNELS;
	if (ethtool_ioctl(ifname, &ch) < 0)
		return 0;
	uint32_t n = ch.rx_count > ch.tx_count ? ch.rx_count : ch.tx_count;
	return n > ch.combined_count ? n : ch.combined_count;
}

static bool pow2(uint32_t v)
{
	return v != 0 && (v & (v - 1)) == 0;
}

/* ---- UMEM --------------------------------------------------------- */

static int umem_make(struct unm_xsk *x, const struct unm_xsk_cfg *c)
{
	struct xsk_umem_config uc = {
		.fill_size = x->fill_size,
		.comp_size = x->comp_size,
		.frame_size = c->frame_size,
		.frame_headroom = 0,
		.flags = (c->flags & UNM_XSK_F_ALIGNED) ? 0 : XDP_UMEM_UNALIGNED_CHUNK_FLAG,
	};
	int ret = xsk_umem__create(&x->umem, c->umem_area, c->umem_size, &x->fill, &x->comp, &uc);

	if (ret == 0)
		return 0;
	x->umem = NULL;
	switch (-ret) {
	case EPERM:
	case EACCES:
		unm_seterr("AF_XDP socket: %s (needs CAP_NET_RAW)", strerror(-ret));
		break;
	case EAFNOSUPPORT:
		unm_seterr("AF_XDP socket: %s (kernel without CONFIG_XDP_SOCKETS)",
			   strerror(-ret));
		break;
	case ENOBUFS:
		unm_seterr("AF_XDP UMEM of %llu bytes: locked-memory limit reached "
			   "(needs CAP_IPC_LOCK or RLIMIT_MEMLOCK >= the buffer pool size)",
			   (unsigned long long)c->umem_size);
		break;
	default:
		unm_seterr("AF_XDP UMEM registration (%llu bytes, chunk %u, %s chunks): %s",
			   (unsigned long long)c->umem_size, c->frame_size,
			   uc.flags ? "unaligned" : "aligned", strerror(-ret));
	}
	return ret;
}

/* Unregister a UMEM that has no socket (after a failed bind).  libxdp
 * (1.3.1) unmaps the fill and completion rings of a UMEM whose rings were
 * never handed to a socket, so this is all it takes: the mappings hold the
 * socket, and with it the pinned pages (tests/functional/nic_xsk.c counts
 * the socket mappings after failed attempts). */
static void umem_drop(struct unm_xsk *x)
{
	if (x->umem == NULL)
		return;
	xsk_umem__delete(x->umem);
	x->umem = NULL;
	memset(&x->fill, 0, sizeof(x->fill));
	memset(&x->comp, 0, sizeof(x->comp));
}

/* ---- create / destroy --------------------------------------------- */

static int cfg_copy(const struct unm_xsk_cfg *in, struct unm_xsk_cfg *c)
{
	memset(c, 0, sizeof(*c));
	if (in == NULL || in->sz < offsetof(struct unm_xsk_cfg, flags) + sizeof(in->flags)) {
		unm_seterr("AF_XDP: bad configuration structure size");
		return -EINVAL;
	}
	/* a newer caller: the fields we do not know must be zero */
	for (size_t i = sizeof(*c); i < in->sz; i++)
		if (((const unsigned char *)in)[i] != 0) {
			unm_seterr("AF_XDP: unknown configuration fields set");
			return -EINVAL;
		}
	memcpy(c, in, sizeof(*c));
	return 0;
}

static int cfg_check(struct unm_xsk_cfg *c)
{
	long page = sysconf(_SC_PAGESIZE);

	if (c->ifname == NULL || c->ifname[0] == '\0' || strlen(c->ifname) >= IF_NAMESIZE) {
		unm_seterr("AF_XDP: bad interface name");
		return -EINVAL;
	}
	if (if_nametoindex(c->ifname) == 0) {
		unm_seterr("AF_XDP: no interface %s", c->ifname);
		return -ENODEV;
	}
	if (c->mode < UNM_XSK_MODE_AUTO || c->mode > UNM_XSK_MODE_COPY ||
	    (c->flags & ~(UNM_XSK_F_ALIGNED | UNM_XSK_F_SG)) != 0) {
		unm_seterr("AF_XDP: bad mode %d or flags %#x", c->mode, c->flags);
		return -EINVAL;
	}
	if (c->frame_size < 2048 || (page > 0 && c->frame_size > (uint64_t)page) ||
	    ((c->flags & UNM_XSK_F_ALIGNED) && !pow2(c->frame_size))) {
		unm_seterr("AF_XDP: buffer size %u not usable as a UMEM chunk "
			   "(2048..page size%s)", c->frame_size,
			   (c->flags & UNM_XSK_F_ALIGNED) ? ", a power of 2" : "");
		return -EINVAL;
	}
	if (c->umem_area == NULL || (page > 0 && ((uintptr_t)c->umem_area % (uintptr_t)page) != 0) ||
	    c->umem_size < 2ull * c->frame_size || c->umem_size % c->frame_size != 0) {
		unm_seterr("AF_XDP: the UMEM area must be page-aligned and a multiple "
			   "of the buffer size (%p, %llu bytes)", c->umem_area,
			   (unsigned long long)c->umem_size);
		return -EINVAL;
	}
	uint32_t *sizes[] = { &c->rx_size, &c->tx_size, &c->fill_size, &c->comp_size };
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		if (*sizes[i] == 0)
			*sizes[i] = XSK_DEF_RING;
		if (!pow2(*sizes[i])) {
			unm_seterr("AF_XDP: ring sizes must be powers of 2 (got %u)", *sizes[i]);
			return -EINVAL;
		}
	}
	return 0;
}

/* message for a failed bind, into msg */
static void bind_error(const struct unm_xsk_cfg *c, bool zc, bool sg, int err,
		       char *msg, size_t len)
{
	char drv[40];
	const char *how = zc ? "zero-copy" : "copy";

	driver_name(c->ifname, drv, sizeof(drv));
	if (err == -EOPNOTSUPP && zc) {
		snprintf(msg, len, "AF_XDP zero copy%s is not supported by %s (driver %s); "
			 "use copy mode", sg ? " with multi-buffer frames" : "",
			 c->ifname, drv);
	} else if (err == -EOPNOTSUPP) {
		snprintf(msg, len, "AF_XDP%s on %s (driver %s): %s",
			 sg ? " multi-buffer" : "", c->ifname, drv, strerror(-err));
	} else if (err == -EBUSY) {
		snprintf(msg, len, "AF_XDP: queue %u of %s is busy (another AF_XDP "
			 "socket is bound to it)", c->queue, c->ifname);
	} else {
		uint32_t n = err == -EINVAL ? queue_count(c->ifname) : 0;
		if (n != 0 && c->queue >= n)
			snprintf(msg, len, "AF_XDP: %s has no queue %u (it has %u)",
				 c->ifname, c->queue, n);
		else
			snprintf(msg, len, "AF_XDP: bind to %s queue %u (%s mode): %s",
				 c->ifname, c->queue, how, strerror(-err));
	}
}

/* One bind attempt on a fresh UMEM.  0; or -errno with *umem_failed (the
 * message is set) or with the bind failure described in msg (-EBUSY: the
 * queue stayed busy for XSK_BUSY_WAIT_MS). */
static int bind_once(struct unm_xsk *x, const struct unm_xsk_cfg *c, bool zc, bool sg,
		     bool *umem_failed, char *msg, size_t len)
{
	struct xsk_socket_config sc = {
		.rx_size = c->rx_size,
		.tx_size = c->tx_size,
		.libxdp_flags = XSK_LIBXDP_FLAGS__INHIBIT_PROG_LOAD,
		.xdp_flags = 0,
		.bind_flags = (uint16_t)((zc ? XDP_ZEROCOPY : XDP_COPY) | XDP_USE_NEED_WAKEUP |
					 (sg ? XDP_USE_SG : 0)),
	};
	int ret = umem_make(x, c);

	*umem_failed = ret < 0;
	if (ret < 0)
		return ret;
	int64_t give_up = unm_now_ns() + XSK_BUSY_WAIT_MS * 1000000LL;
	while ((ret = xsk_socket__create(&x->sock, c->ifname, c->queue, x->umem, &x->rx,
					 &x->tx, &sc)) == -EBUSY && unm_now_ns() < give_up)
		usleep(1000);
	if (ret == 0) {
		x->zc = zc;
		x->sg = sg;
		return 0;
	}
	x->sock = NULL;
	umem_drop(x);
	bind_error(c, zc, sg, ret, msg, len);
	return ret;
}

int unm_xsk_create(const struct unm_xsk_cfg *cfg, struct unm_xsk **out)
{
	struct unm_xsk_cfg c;
	struct unm_xsk *x;
	int ret;

	*out = NULL;
	if ((ret = cfg_copy(cfg, &c)) < 0 || (ret = cfg_check(&c)) < 0)
		return ret;
	x = calloc(1, sizeof(*x));
	if (x == NULL) {
		unm_seterr("AF_XDP: out of memory");
		return -ENOMEM;
	}
	x->fd = -1;
	x->queue = c.queue;
	x->frame_size = c.frame_size;
	x->fill_size = c.fill_size;
	x->comp_size = c.comp_size;
	snprintf(x->ifname, sizeof(x->ifname), "%s", c.ifname);
	if (c.flags & UNM_XSK_F_ALIGNED) {
		x->data_off = UNM_XSK_HEADROOM;
		x->fill_bias = 0;
	} else {
		x->data_off = 0;
		x->fill_bias = UNM_XSK_HEADROOM;
	}

	/* attempts in order of preference; SG only if asked for */
	struct { bool zc, sg; } tries[4];
	int ntries = 0;
	bool want_sg = (c.flags & UNM_XSK_F_SG) != 0;
	for (int zc = 1; zc >= 0; zc--) {
		if ((zc && c.mode == UNM_XSK_MODE_COPY) || (!zc && c.mode == UNM_XSK_MODE_ZC))
			continue;
		if (want_sg)
			tries[ntries++] = (typeof(tries[0])){ zc != 0, true };
		tries[ntries++] = (typeof(tries[0])){ zc != 0, false };
	}
	char zc_err[256] = "", err[256] = "";
	bool umem_failed = false;
	ret = -EINVAL;
	for (int i = 0; i < ntries && !umem_failed; i++) {
		ret = bind_once(x, &c, tries[i].zc, tries[i].sg, &umem_failed, err, sizeof(err));
		if (ret == 0)
			break;
		if (tries[i].zc)
			snprintf(zc_err, sizeof(zc_err), "%s", err);
		if (ret == -EBUSY)
			break;	/* busy for zero copy is busy for copy too */
	}
	if (ret < 0) {
		/* demanding zero copy: the zero-copy reason is the one to tell */
		if (!umem_failed)
			unm_seterr("%s", c.mode == UNM_XSK_MODE_ZC ? zc_err : err);
		free(x);
		return ret;
	}
	x->fd = xsk_socket__fd(x->sock);

	/* confirm what the kernel granted */
	struct xdp_options opts;
	socklen_t olen = sizeof(opts);
	if (getsockopt(x->fd, SOL_XDP, XDP_OPTIONS, &opts, &olen) == 0)
		x->zc = (opts.flags & XDP_OPTIONS_ZEROCOPY) != 0;
	if (!x->zc) {
		/* copy mode sends in sendto(): let one call send the whole TX ring
		 * (kernel default 32) and keep that many skbs in flight */
		unsigned budget = c.tx_size;
		(void)setsockopt(x->fd, SOL_XDP, XDP_MAX_TX_SKB_BUDGET, &budget, sizeof(budget));
		int sndbuf = (int)(c.tx_size > 65536 ? 65536 : c.tx_size) * (int)(c.frame_size + 768);
		if (setsockopt(x->fd, SOL_SOCKET, SO_SNDBUFFORCE, &sndbuf, sizeof(sndbuf)) < 0)
			(void)setsockopt(x->fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
	}
	*out = x;
	return 0;
}

void unm_xsk_destroy(struct unm_xsk *x)
{
	if (x == NULL)
		return;
	if (x->sock != NULL)
		xsk_socket__delete(x->sock);
	if (x->umem != NULL)
		xsk_umem__delete(x->umem);
	free(x);
}

int unm_xsk_fd(const struct unm_xsk *x)
{
	return x->fd;
}

uint32_t unm_xsk_queue(const struct unm_xsk *x)
{
	return x->queue;
}

int unm_xsk_map_insert(int map_fd, uint32_t queue, const struct unm_xsk *x)
{
	uint32_t key = queue;
	int val = x->fd;
	int ret = bpf_map_update_elem(map_fd, &key, &val, BPF_ANY);

	if (ret < 0) {
		int e = errno != 0 ? errno : -ret;
		if (e == E2BIG)
			unm_seterr("XSKMAP: queue %u is beyond the map's size", queue);
		else
			unm_seterr("XSKMAP: inserting the socket of %s queue %u: %s",
				   x->ifname, queue, strerror(e));
		return -e;
	}
	return 0;
}

int unm_xsk_map_remove(int map_fd, uint32_t queue)
{
	uint32_t key = queue;
	int ret = bpf_map_delete_elem(map_fd, &key);

	if (ret < 0) {
		int e = errno != 0 ? errno : -ret;
		if (e == ENOENT)
			return 0;
		unm_seterr("XSKMAP: removing queue %u: %s", queue, strerror(e));
		return -e;
	}
	return 0;
}

const char *unm_xsk_mode(const struct unm_xsk *x)
{
	return x->zc ? "zc" : "copy";
}

bool unm_xsk_is_zc(const struct unm_xsk *x)
{
	return x->zc;
}

bool unm_xsk_sg(const struct unm_xsk *x)
{
	return x->sg;
}

uint32_t unm_xsk_data_off(const struct unm_xsk *x)
{
	return x->data_off;
}

uint32_t unm_xsk_rx_frag_max(const struct unm_xsk *x)
{
	/* the kernel's rx frame size: chunk - XDP_PACKET_HEADROOM - umem
	 * headroom (0), whichever way the chunk is placed */
	return x->frame_size - UNM_XSK_HEADROOM;
}

/* ---- data path ---------------------------------------------------- */

unsigned unm_xsk_fill_room(struct unm_xsk *x)
{
	return xsk_prod_nb_free(&x->fill, x->fill_size);
}

unsigned unm_xsk_fill(struct unm_xsk *x, const uint64_t *bufs, unsigned n)
{
	uint32_t idx;
	unsigned room = xsk_prod_nb_free(&x->fill, n);

	if (n > room)
		n = room;
	if (n == 0 || xsk_ring_prod__reserve(&x->fill, n, &idx) != n)
		return 0;
	for (unsigned i = 0; i < n; i++)
		*xsk_ring_prod__fill_addr(&x->fill, idx + i) = bufs[i] - x->fill_bias;
	/* release: the entries are written before the kernel sees them */
	xsk_ring_prod__submit(&x->fill, n);
	return n;
}

unsigned unm_xsk_rx_avail(struct unm_xsk *x)
{
	/* like xsk_cons_nb_avail(), but always refresh the producer */
	x->rx.cached_prod = __atomic_load_n(x->rx.producer, __ATOMIC_ACQUIRE);
	return x->rx.cached_prod - x->rx.cached_cons;
}

unsigned unm_xsk_rx(struct unm_xsk *x, struct xdp_desc *out, unsigned max)
{
	uint32_t idx;
	/* acquire (in peek): descriptors are read after the producer index */
	unsigned n = xsk_ring_cons__peek(&x->rx, max, &idx);

	for (unsigned i = 0; i < n; i++) {
		const struct xdp_desc *d = xsk_ring_cons__rx_desc(&x->rx, idx + i);
		/* unaligned chunks: chunk address + (offset of the data << 48);
		 * aligned: the data address itself */
		out[i].addr = xsk_umem__add_offset_to_addr(d->addr);
		out[i].len = d->len;
		out[i].options = d->options;
	}
	if (n != 0)
		xsk_ring_cons__release(&x->rx, n);	/* release: read before reuse */
	return n;
}

unsigned unm_xsk_tx(struct unm_xsk *x, const struct xdp_desc *d, unsigned n)
{
	uint32_t idx;
	unsigned room = xsk_prod_nb_free(&x->tx, n);

	if (n > room)
		n = room;
	/* whole frames only: never leave a frame's head without its tail */
	while (n > 0 && (d[n - 1].options & XDP_PKT_CONTD))
		n--;
	if (n == 0 || xsk_ring_prod__reserve(&x->tx, n, &idx) != n)
		return 0;
	for (unsigned i = 0; i < n; i++)
		*xsk_ring_prod__tx_desc(&x->tx, idx + i) = d[i];
	xsk_ring_prod__submit(&x->tx, n);	/* release: descriptors first */
	x->outstanding += n;
	return n;
}

int unm_xsk_tx_kick(struct unm_xsk *x)
{
	for (int i = 0; i < XSK_KICK_MAX; i++) {
		if (!xsk_ring_prod__needs_wakeup(&x->tx))
			return 0;
		uint32_t before = __atomic_load_n(x->tx.consumer, __ATOMIC_ACQUIRE);
		if (before == *x->tx.producer)
			return 0;	/* nothing queued */
		if (sendto(x->fd, NULL, 0, MSG_DONTWAIT, NULL, 0) < 0) {
			int e = errno;
			switch (e) {
			case EINTR:
				continue;
			case EAGAIN:	/* budget used up, completion ring or device full */
			case EBUSY:	/* the device dropped a frame (it is completed) */
			case ENOBUFS:	/* no memory for an skb right now */
				break;
			default:
				unm_seterr("AF_XDP: transmit on %s queue %u: %s", x->ifname,
					   x->queue, strerror(e));
				return -e;
			}
		}
		if (x->zc)
			return 0;	/* the driver's NAPI sends */
		/* copy mode sent in this call: go on while that makes progress
		 * (no progress: no room now, or a queue without TX; the next
		 * kick retries) */
		if (__atomic_load_n(x->tx.consumer, __ATOMIC_ACQUIRE) == before)
			return 0;
	}
	return 0;
}

unsigned unm_xsk_comp(struct unm_xsk *x, uint64_t *addrs, unsigned max)
{
	uint32_t idx;
	unsigned n = xsk_ring_cons__peek(&x->comp, max, &idx);

	for (unsigned i = 0; i < n; i++)
		addrs[i] = *xsk_ring_cons__comp_addr(&x->comp, idx + i);
	if (n != 0) {
		xsk_ring_cons__release(&x->comp, n);
		x->outstanding -= n;
	}
	return n;
}

uint32_t unm_xsk_tx_outstanding(const struct unm_xsk *x)
{
	return x->outstanding;
}

bool unm_xsk_rx_needs_wakeup(const struct unm_xsk *x)
{
	return xsk_ring_prod__needs_wakeup(&x->fill) != 0;
}

bool unm_xsk_tx_needs_wakeup(const struct unm_xsk *x)
{
	return xsk_ring_prod__needs_wakeup(&x->tx) != 0;
}

int unm_xsk_rx_kick(struct unm_xsk *x)
{
	if (!xsk_ring_prod__needs_wakeup(&x->fill))
		return 0;
	if (recvfrom(x->fd, NULL, 0, MSG_DONTWAIT, NULL, NULL) < 0 &&
	    errno != EAGAIN && errno != EINTR && errno != EBUSY) {
		int e = errno;
		unm_seterr("AF_XDP: receive wakeup on %s queue %u: %s", x->ifname,
			   x->queue, strerror(e));
		return -e;
	}
	return 0;
}

int unm_xsk_stats(const struct unm_xsk *x, struct xdp_statistics *st)
{
	socklen_t len = sizeof(*st);

	memset(st, 0, sizeof(*st));
	if (getsockopt(x->fd, SOL_XDP, XDP_STATISTICS, st, &len) < 0) {
		int e = errno;
		unm_seterr("AF_XDP: statistics: %s", strerror(e));
		return -e;
	}
	return 0;
}
