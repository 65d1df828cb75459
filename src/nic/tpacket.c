/*
 * tpacket.c - TPACKET_V3 data-path sockets (see tpacket.h).
 *
 * RX: the kernel fills blocks of the RX ring and hands each over by
 * setting TP_STATUS_USER in its header (after writing the frames; we read
 * the status with an acquire load), and takes it back when we store
 * TP_STATUS_KERNEL (release: after we are done reading it).  We walk the
 * blocks in ring order, as the kernel fills them.
 *
 * TX ring (UNM_TPK_F_TX_RING): we write a frame, then store
 * TP_STATUS_SEND_REQUEST (release); send() makes the kernel walk the ring
 * from its own head, in the same order, over every frame in that state;
 * when an skb built from a frame is freed the kernel stores
 * TP_STATUS_AVAILABLE into it (we read it with an acquire load before
 * reusing the frame).  Our head mirrors the kernel's,
 * so frames are never skipped: a frame that cannot be sent (PACKET_LOSS)
 * is marked available and passed over by the kernel too.
 *
 * TX with sendmmsg (the default): frames are staged in private memory and
 * a flush sends them with sendmmsg(); a frame is free again as soon as the
 * call returned.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>
#include <linux/ethtool.h>
#include <linux/filter.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <linux/sockios.h>

#include "core/unm.h"
#include "nic/tpacket.h"

#ifndef PACKET_IGNORE_OUTGOING
#define PACKET_IGNORE_OUTGOING 23	/* kernel 4.20 */
#endif

#define TPK_DEF_BLOCK	(256u << 10)
#define TPK_DEF_NBLOCK	16u
#define TPK_DEF_TXN	1024u
#define TPK_DEF_TXMAX	2048u
#define TPK_MMSG_BATCH	256u
/* where frame data starts in a TX frame: the kernel's tp_hdrlen minus the
 * sockaddr_ll (TPACKET3_HDRLEN - sizeof(struct sockaddr_ll)) */
#define TPK_TX_OFF	TPACKET_ALIGN(sizeof(struct tpacket3_hdr))
/* a VLAN tag put back needs this many bytes before the MAC header, which
 * the RX frame layout always leaves (the sockaddr_ll ends at
 * TPK_TX_OFF + 20, the MAC header starts at 82 or later) */
#define TPK_RX_MIN_MAC	(TPACKET_ALIGN(sizeof(struct tpacket3_hdr)) + sizeof(struct sockaddr_ll) + 4)

struct unm_tpk {
	/* RX */
	unsigned char *rx_ring;
	uint32_t block_size, block_nr;
	uint32_t blk;		/* current block */
	bool held;		/* we own block blk (TP_STATUS_USER seen) */
	uint32_t left;		/* frames of the held block not taken yet */
	struct tpacket3_hdr *next_hdr;	/* next frame of the held block */
	/* TX */
	unsigned char *tx_ring;	/* NULL: sendmmsg or no TX */
	uint32_t tx_block_size, tx_fpb, tx_fsize, tx_n, tx_max;
	uint32_t tx_head, tx_tail, tx_flushed;	/* free-running frame counters */
	unsigned char *stage;	/* sendmmsg staging, tx_n x tx_max */
	uint32_t *stage_len;
	/* both */
	int fd;
	size_t map_len;
	void *map;
	char ifname[IF_NAMESIZE];
};

static bool pow2(uint32_t v)
{
	return v != 0 && (v & (v - 1)) == 0;
}

static bool is_veth(const char *ifname)
{
	struct ethtool_drvinfo di;
	struct ifreq ifr;
	bool veth = false;
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	if (s < 0)
		return false;
	memset(&di, 0, sizeof(di));
	memset(&ifr, 0, sizeof(ifr));
	di.cmd = ETHTOOL_GDRVINFO;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	ifr.ifr_data = (void *)&di;
	if (ioctl(s, SIOCETHTOOL, &ifr) == 0)
		veth = strncmp(di.driver, "veth", sizeof(di.driver)) == 0;
	close(s);
	return veth;
}

/* ---- socket filter ------------------------------------------------ */

/* Drop frames marked `mark` (if not 0); keep only queue_mapping == want
 * (if queue >= 0), or also 0 (no queue recorded) when zero_too. */
static int attach_filter(int fd, uint32_t mark, int32_t queue, uint32_t want, bool zero_too)
{
	struct sock_filter f[8];
	unsigned n = 0, drop_at[8], ndrop = 0, acc_at[8], nacc = 0;

	if (mark == 0 && queue < 0)
		return 0;
	if (mark != 0) {
		f[n++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, SKF_AD_OFF + SKF_AD_MARK);
		drop_at[ndrop++] = n;	/* jt -> drop */
		f[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, mark, 0, 0);
	}
	if (queue >= 0) {
		f[n++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, SKF_AD_OFF + SKF_AD_QUEUE);
		acc_at[nacc++] = n;	/* jt -> accept */
		f[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, want, 0, 0);
		if (zero_too) {
			acc_at[nacc++] = n;
			f[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0, 0, 0);
		}
		/* no match: the last compare's jf (0) falls into a drop */
		f[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, 0);
	}
	unsigned accept = n;
	f[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, 0xffffffffu);
	unsigned drop = n;
	f[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, 0);
	for (unsigned i = 0; i < ndrop; i++)
		f[drop_at[i]].jt = (uint8_t)(drop - drop_at[i] - 1);
	for (unsigned i = 0; i < nacc; i++)
		f[acc_at[i]].jt = (uint8_t)(accept - acc_at[i] - 1);

	struct sock_fprog prog = { .len = (unsigned short)n, .filter = f };
	if (setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof(prog)) < 0) {
		int e = errno;
		unm_seterr("TPACKET: socket filter: %s", strerror(e));
		return -e;
	}
	return 0;
}

/* ---- create / destroy --------------------------------------------- */

static int cfg_copy(const struct unm_tpk_cfg *in, struct unm_tpk_cfg *c)
{
	memset(c, 0, sizeof(*c));
	if (in == NULL || in->sz < offsetof(struct unm_tpk_cfg, flags) + sizeof(in->flags)) {
		unm_seterr("TPACKET: bad configuration structure size");
		return -EINVAL;
	}
	for (size_t i = sizeof(*c); i < in->sz; i++)
		if (((const unsigned char *)in)[i] != 0) {
			unm_seterr("TPACKET: unknown configuration fields set");
			return -EINVAL;
		}
	memcpy(c, in, sizeof(*c));
	return 0;
}

static int cfg_check(struct unm_tpk_cfg *c, long page)
{
	if (c->ifname == NULL || c->ifname[0] == '\0' || strlen(c->ifname) >= IF_NAMESIZE) {
		unm_seterr("TPACKET: bad interface name");
		return -EINVAL;
	}
	if (if_nametoindex(c->ifname) == 0) {
		unm_seterr("TPACKET: no interface %s", c->ifname);
		return -ENODEV;
	}
	if (c->flags & ~(UNM_TPK_F_NO_RX | UNM_TPK_F_NO_TX | UNM_TPK_F_TX_RING) ||
	    c->qmap < UNM_TPK_QMAP_AUTO || c->qmap > UNM_TPK_QMAP_RECORDED || c->queue < -1 ||
	    c->queue > 0xfffe) {
		unm_seterr("TPACKET: bad flags %#x, queue %d or queue mapping %d", c->flags,
			   c->queue, c->qmap);
		return -EINVAL;
	}
	if (c->block_size == 0)
		c->block_size = TPK_DEF_BLOCK;
	if (c->block_nr == 0)
		c->block_nr = TPK_DEF_NBLOCK;
	if (c->retire_ms == 0)
		c->retire_ms = 1;
	if (c->tx_frames == 0)
		c->tx_frames = TPK_DEF_TXN;
	if (c->tx_frame_max == 0)
		c->tx_frame_max = TPK_DEF_TXMAX;
	if (c->block_size % (uint32_t)page != 0 || !pow2(c->block_size / (uint32_t)page) ||
	    c->block_size > (1u << 30) || c->block_nr > 65536 ||
	    (uint64_t)c->block_size * c->block_nr > (1ull << 32)) {
		unm_seterr("TPACKET: RX blocks must be a power-of-2 number of pages "
			   "(%u bytes x %u)", c->block_size, c->block_nr);
		return -EINVAL;
	}
	if (c->tx_frame_max < ETH_ZLEN || c->tx_frame_max > (1u << 20) || c->tx_frames > (1u << 20)) {
		unm_seterr("TPACKET: bad TX frames (%u of %u bytes)", c->tx_frames,
			   c->tx_frame_max);
		return -EINVAL;
	}
	return 0;
}

static int sockopt(int fd, int level, int name, const void *val, socklen_t len, const char *what)
{
	if (setsockopt(fd, level, name, val, len) == 0)
		return 0;
	int e = errno;
	unm_seterr("TPACKET: %s: %s", what, strerror(e));
	return -e;
}

static int tx_setup(struct unm_tpk *t, const struct unm_tpk_cfg *c, long page,
		    struct tpacket_req3 *req)
{
	t->tx_max = c->tx_frame_max;
	if (!(c->flags & UNM_TPK_F_TX_RING)) {
		t->tx_n = c->tx_frames;
		t->stage = malloc((size_t)t->tx_n * t->tx_max);
		t->stage_len = calloc(t->tx_n, sizeof(*t->stage_len));
		if (t->stage == NULL || t->stage_len == NULL) {
			unm_seterr("TPACKET: out of memory for %u TX frames", t->tx_n);
			return -ENOMEM;
		}
		return 0;
	}
	/* TX ring: frames of tx_fsize bytes, at least 16 per block (a whole
	 * number of pages); as many blocks as it takes for tx_frames */
	t->tx_fsize = TPACKET_ALIGN(TPK_TX_OFF + c->tx_frame_max);
	uint64_t bs = ((uint64_t)t->tx_fsize * 16 + (uint64_t)page - 1) / (uint64_t)page * (uint64_t)page;
	t->tx_block_size = (uint32_t)bs;
	t->tx_fpb = t->tx_block_size / t->tx_fsize;
	uint32_t nblocks = (c->tx_frames + t->tx_fpb - 1) / t->tx_fpb;
	t->tx_n = nblocks * t->tx_fpb;
	memset(req, 0, sizeof(*req));
	req->tp_block_size = t->tx_block_size;
	req->tp_block_nr = nblocks;
	req->tp_frame_size = t->tx_fsize;
	req->tp_frame_nr = t->tx_n;
	return sockopt(t->fd, SOL_PACKET, PACKET_TX_RING, req, sizeof(*req), "TX ring");
}

int unm_tpk_create(const struct unm_tpk_cfg *cfg, struct unm_tpk **out)
{
	struct unm_tpk_cfg c;
	struct unm_tpk *t;
	long page = sysconf(_SC_PAGESIZE);
	int ret;

	*out = NULL;
	if (page <= 0)
		page = 4096;
	if ((ret = cfg_copy(cfg, &c)) < 0 || (ret = cfg_check(&c, page)) < 0)
		return ret;
	t = calloc(1, sizeof(*t));
	if (t == NULL) {
		unm_seterr("TPACKET: out of memory");
		return -ENOMEM;
	}
	snprintf(t->ifname, sizeof(t->ifname), "%s", c.ifname);
	bool rx = !(c.flags & UNM_TPK_F_NO_RX), tx = !(c.flags & UNM_TPK_F_NO_TX);

	/* protocol 0: nothing is queued to the socket before bind() */
	t->fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
	if (t->fd < 0) {
		ret = -errno;
		unm_seterr("TPACKET: AF_PACKET socket: %s%s", strerror(-ret),
			   ret == -EPERM ? " (needs CAP_NET_RAW)" : "");
		free(t);
		return ret;
	}
	int v3 = TPACKET_V3, one = 1;
	if ((ret = sockopt(t->fd, SOL_PACKET, PACKET_VERSION, &v3, sizeof(v3), "TPACKET_V3")) < 0)
		goto fail;
	if (rx) {
		int32_t q = c.queue;
		bool raw = c.qmap == UNM_TPK_QMAP_RAW ||
			   (c.qmap == UNM_TPK_QMAP_AUTO && is_veth(c.ifname));
		if ((ret = attach_filter(t->fd, c.ignore_mark, q, raw ? (uint32_t)q : (uint32_t)q + 1,
					 !raw && q == 0)) < 0)
			goto fail;
		if ((ret = sockopt(t->fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, &one, sizeof(one),
				   "PACKET_IGNORE_OUTGOING")) < 0)
			goto fail;
	}
	if (tx) {
		if ((ret = sockopt(t->fd, SOL_PACKET, PACKET_QDISC_BYPASS, &one, sizeof(one),
				   "PACKET_QDISC_BYPASS")) < 0)
			goto fail;
		/* a frame the device refuses is skipped, not left blocking the
		 * ring (must be set before the rings exist) */
		if ((c.flags & UNM_TPK_F_TX_RING) &&
		    (ret = sockopt(t->fd, SOL_PACKET, PACKET_LOSS, &one, sizeof(one),
				   "PACKET_LOSS")) < 0)
			goto fail;
		int sndbuf = (int)((c.tx_frames > 65536 ? 65536 : c.tx_frames) * (c.tx_frame_max + 768));
		if (setsockopt(t->fd, SOL_SOCKET, SO_SNDBUFFORCE, &sndbuf, sizeof(sndbuf)) < 0)
			(void)setsockopt(t->fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
	}

	struct tpacket_req3 rreq, treq;
	size_t rx_len = 0, tx_len = 0;
	if (rx) {
		memset(&rreq, 0, sizeof(rreq));
		rreq.tp_block_size = c.block_size;
		rreq.tp_block_nr = c.block_nr;
		rreq.tp_frame_size = TPACKET_ALIGNMENT << 7;	/* 2048: only sizes the ring */
		rreq.tp_frame_nr = (uint32_t)((uint64_t)c.block_size * c.block_nr / rreq.tp_frame_size);
		rreq.tp_retire_blk_tov = c.retire_ms;
		if ((ret = sockopt(t->fd, SOL_PACKET, PACKET_RX_RING, &rreq, sizeof(rreq),
				   "RX ring")) < 0)
			goto fail;
		t->block_size = c.block_size;
		t->block_nr = c.block_nr;
		rx_len = (size_t)c.block_size * c.block_nr;
	}
	if (tx) {
		if ((ret = tx_setup(t, &c, page, &treq)) < 0)
			goto fail;
		if (t->stage == NULL)
			tx_len = (size_t)treq.tp_block_size * treq.tp_block_nr;
	}
	if (rx_len + tx_len != 0) {
		/* the RX ring then the TX ring, in one mapping */
		t->map = mmap(NULL, rx_len + tx_len, PROT_READ | PROT_WRITE,
			      MAP_SHARED | MAP_POPULATE, t->fd, 0);
		if (t->map == MAP_FAILED) {
			ret = -errno;
			t->map = NULL;
			unm_seterr("TPACKET: mapping the rings (%zu bytes): %s", rx_len + tx_len,
				   strerror(-ret));
			goto fail;
		}
		t->map_len = rx_len + tx_len;
		if (rx)
			t->rx_ring = t->map;
		if (tx_len != 0)
			t->tx_ring = (unsigned char *)t->map + rx_len;
	}

	struct sockaddr_ll sll = {
		.sll_family = AF_PACKET,
		.sll_protocol = rx ? htons(ETH_P_ALL) : 0,
		.sll_ifindex = (int)if_nametoindex(c.ifname),
	};
	if (bind(t->fd, (struct sockaddr *)&sll, sizeof(sll)) < 0) {
		ret = -errno;
		unm_seterr("TPACKET: bind to %s: %s", c.ifname, strerror(-ret));
		goto fail;
	}
	*out = t;
	return 0;
fail:
	unm_tpk_destroy(t);
	return ret;
}

void unm_tpk_destroy(struct unm_tpk *t)
{
	if (t == NULL)
		return;
	if (t->map != NULL)
		munmap(t->map, t->map_len);
	if (t->fd >= 0)
		close(t->fd);
	free(t->stage);
	free(t->stage_len);
	free(t);
}

int unm_tpk_fd(const struct unm_tpk *t)
{
	return t->fd;
}

/* ---- RX ------------------------------------------------------------ */

static inline struct tpacket_block_desc *block(const struct unm_tpk *t, uint32_t i)
{
	return (struct tpacket_block_desc *)(t->rx_ring + (size_t)i * t->block_size);
}

bool unm_tpk_rx_ready(const struct unm_tpk *t)
{
	if (t->rx_ring == NULL)
		return false;
	if (t->held && t->left != 0)
		return true;
	uint32_t b = t->held ? (t->blk + 1) % t->block_nr : t->blk;
	return (__atomic_load_n(&block(t, b)->hdr.bh1.block_status, __ATOMIC_ACQUIRE) &
		TP_STATUS_USER) != 0;
}

void unm_tpk_rx_release(struct unm_tpk *t)
{
	if (!t->held || t->left != 0)
		return;
	/* release: every read of the block happens before the kernel may
	 * fill it again */
	__atomic_store_n(&block(t, t->blk)->hdr.bh1.block_status, TP_STATUS_KERNEL,
			 __ATOMIC_RELEASE);
	t->held = false;
	t->blk = (t->blk + 1) % t->block_nr;
}

/* Put back a VLAN tag the kernel moved into the header: the MAC addresses
 * move 4 bytes down (the ring frame has room before the MAC header). */
static void vlan_reinsert(const struct tpacket3_hdr *h, struct unm_tpk_frame *f)
{
	if (!(h->tp_status & TP_STATUS_VLAN_VALID) || h->tp_mac < TPK_RX_MIN_MAC ||
	    f->snaplen < 2 * ETH_ALEN)
		return;
	unsigned char *p = (unsigned char *)f->data - 4;
	uint16_t tpid = (h->tp_status & TP_STATUS_VLAN_TPID_VALID) && h->hv1.tp_vlan_tpid != 0
		? h->hv1.tp_vlan_tpid : ETH_P_8021Q;
	uint16_t tci = h->hv1.tp_vlan_tci;
	memmove(p, f->data, 2 * ETH_ALEN);
	p[12] = (unsigned char)(tpid >> 8);
	p[13] = (unsigned char)tpid;
	p[14] = (unsigned char)(tci >> 8);
	p[15] = (unsigned char)tci;
	f->data = p;
	f->snaplen += 4;
	f->len += 4;
	f->status &= ~(uint32_t)(TP_STATUS_VLAN_VALID | TP_STATUS_VLAN_TPID_VALID);
}

int unm_tpk_rx_next(struct unm_tpk *t, struct unm_tpk_frame *f)
{
	if (t->rx_ring == NULL)
		return 0;
	for (uint32_t i = 0; !t->held || t->left == 0; i++) {
		if (t->held)
			unm_tpk_rx_release(t);
		struct tpacket_block_desc *b = block(t, t->blk);
		/* acquire: the frames are read after the status that hands
		 * the block over */
		if (i == t->block_nr ||
		    !(__atomic_load_n(&b->hdr.bh1.block_status, __ATOMIC_ACQUIRE) & TP_STATUS_USER))
			return 0;
		t->held = true;
		t->left = b->hdr.bh1.num_pkts;	/* 0: a block retired empty */
		t->next_hdr = (struct tpacket3_hdr *)((unsigned char *)b +
						      b->hdr.bh1.offset_to_first_pkt);
	}
	struct tpacket3_hdr *h = t->next_hdr;
	f->data = (const unsigned char *)h + h->tp_mac;
	f->snaplen = h->tp_snaplen;
	f->len = h->tp_len;
	f->ts.tv_sec = h->tp_sec;
	f->ts.tv_nsec = h->tp_nsec;
	f->status = h->tp_status;
	vlan_reinsert(h, f);
	t->left--;
	t->next_hdr = (struct tpacket3_hdr *)((unsigned char *)h + h->tp_next_offset);
	return 1;
}

/* ---- TX ------------------------------------------------------------ */

static inline struct tpacket3_hdr *tx_hdr(const struct unm_tpk *t, uint32_t i)
{
	uint32_t k = i % t->tx_n;
	return (struct tpacket3_hdr *)(t->tx_ring + (size_t)(k / t->tx_fpb) * t->tx_block_size +
				       (size_t)(k % t->tx_fpb) * t->tx_fsize);
}

unsigned unm_tpk_tx_room(const struct unm_tpk *t)
{
	return t->tx_n - (t->tx_head - t->tx_tail);
}

void *unm_tpk_tx_slot(struct unm_tpk *t, uint32_t *cap)
{
	if (t->tx_n == 0 || t->tx_head - t->tx_tail == t->tx_n)
		return NULL;
	*cap = t->tx_max;
	if (t->stage != NULL)
		return t->stage + (size_t)(t->tx_head % t->tx_n) * t->tx_max;
	return (unsigned char *)tx_hdr(t, t->tx_head) + TPK_TX_OFF;
}

void unm_tpk_tx_commit(struct unm_tpk *t, uint32_t len)
{
	if (t->stage != NULL) {
		t->stage_len[t->tx_head % t->tx_n] = len;
	} else {
		struct tpacket3_hdr *h = tx_hdr(t, t->tx_head);
		h->tp_len = len;
		h->tp_snaplen = len;
		/* release: the frame is written before the kernel may send it */
		__atomic_store_n(&h->tp_status, TP_STATUS_SEND_REQUEST, __ATOMIC_RELEASE);
	}
	t->tx_head++;
}

int unm_tpk_tx_frame(struct unm_tpk *t, const struct iovec *iov, unsigned iovcnt)
{
	size_t len = 0;
	uint32_t cap;

	for (unsigned i = 0; i < iovcnt; i++)
		len += iov[i].iov_len;
	if (len > t->tx_max)
		return -EMSGSIZE;
	unsigned char *p = unm_tpk_tx_slot(t, &cap);
	if (p == NULL)
		return 0;
	for (unsigned i = 0; i < iovcnt; i++) {
		memcpy(p, iov[i].iov_base, iov[i].iov_len);
		p += iov[i].iov_len;
	}
	unm_tpk_tx_commit(t, (uint32_t)len);
	return 1;
}

static int tx_error(struct unm_tpk *t, int e)
{
	unm_seterr("TPACKET: transmit on %s: %s", t->ifname, strerror(e));
	return -e;
}

static int flush_mmsg(struct unm_tpk *t)
{
	struct mmsghdr m[TPK_MMSG_BATCH];
	struct iovec v[TPK_MMSG_BATCH];

	while (t->tx_flushed != t->tx_head) {
		unsigned n = 0;
		for (uint32_t i = t->tx_flushed; i != t->tx_head && n < TPK_MMSG_BATCH; i++, n++) {
			v[n].iov_base = t->stage + (size_t)(i % t->tx_n) * t->tx_max;
			v[n].iov_len = t->stage_len[i % t->tx_n];
			memset(&m[n], 0, sizeof(m[n]));
			m[n].msg_hdr.msg_iov = &v[n];
			m[n].msg_hdr.msg_iovlen = 1;
		}
		int r = sendmmsg(t->fd, m, n, MSG_DONTWAIT);
		if (r < 0) {
			int e = errno;
			if (e == EINTR)
				continue;
			if (e == EAGAIN || e == ENOBUFS)
				return 0;	/* the rest at the next flush */
			if (e == EMSGSIZE || e == EINVAL) {
				t->tx_flushed++;	/* drop the frame the device refuses */
				continue;
			}
			return tx_error(t, e);
		}
		t->tx_flushed += (uint32_t)r;
		if ((unsigned)r < n)
			return 0;
	}
	return 0;
}

/* first committed frame the kernel has not taken yet (ring mode) */
static void tx_advance_flushed(struct unm_tpk *t)
{
	while (t->tx_flushed != t->tx_head &&
	       __atomic_load_n(&tx_hdr(t, t->tx_flushed)->tp_status, __ATOMIC_ACQUIRE) !=
	       TP_STATUS_SEND_REQUEST)
		t->tx_flushed++;
}

int unm_tpk_tx_flush(struct unm_tpk *t)
{
	if (t->stage != NULL)
		return flush_mmsg(t);
	/* send() walks the ring until the first frame not requested, but
	 * stops early (and still succeeds) when the socket's send buffer is
	 * full: call again while that makes progress */
	for (int i = 0; i < 64 && t->tx_flushed != t->tx_head; i++) {
		uint32_t before = t->tx_flushed;
		if (send(t->fd, NULL, 0, MSG_DONTWAIT) < 0) {
			int e = errno;
			if (e != EINTR && e != EAGAIN && e != ENOBUFS)
				return tx_error(t, e);
		}
		tx_advance_flushed(t);
		if (t->tx_flushed == before)
			break;	/* no room now: the rest at the next flush */
	}
	return 0;
}

unsigned unm_tpk_tx_reap(struct unm_tpk *t)
{
	uint32_t n = 0;

	if (t->stage != NULL) {
		n = t->tx_flushed - t->tx_tail;
		t->tx_tail = t->tx_flushed;
		return n;
	}
	while (t->tx_tail != t->tx_head) {
		/* acquire: the kernel is done with the frame before we reuse it */
		uint32_t s = __atomic_load_n(&tx_hdr(t, t->tx_tail)->tp_status, __ATOMIC_ACQUIRE);
		if (s & (TP_STATUS_SEND_REQUEST | TP_STATUS_SENDING))
			break;
		t->tx_tail++;
		n++;
	}
	/* frames are taken in order: what completed was taken */
	if ((int32_t)(t->tx_tail - t->tx_flushed) > 0)
		t->tx_flushed = t->tx_tail;
	return n;
}

int unm_tpk_stats(struct unm_tpk *t, uint64_t *packets, uint64_t *drops)
{
	struct tpacket_stats_v3 st;
	socklen_t len = sizeof(st);

	memset(&st, 0, sizeof(st));
	if (getsockopt(t->fd, SOL_PACKET, PACKET_STATISTICS, &st, &len) < 0) {
		int e = errno;
		unm_seterr("TPACKET: statistics: %s", strerror(e));
		return -e;
	}
	*packets = st.tp_packets;
	*drops = st.tp_drops;
	return 0;
}
