/*
 * xsk.h - AF_XDP data-path sockets over a netmap buffer pool (internal).
 *
 * One struct unm_xsk is one AF_XDP socket bound to one queue of one
 * interface, with its own UMEM registered over the caller's buffer area
 * (the buffer pool of a netmap region as mapped in this process): packets
 * move between netmap slots and the kernel without a copy on our side.
 * Socket creation and the ring accessors are libxdp's; libxdp never loads
 * or attaches an XDP program here (XSK_LIBXDP_FLAGS__INHIBIT_PROG_LOAD).
 * The caller owns the XDP program and its XSKMAP, and puts the socket in
 * the map with unm_xsk_map_insert() (the kernel takes it out again when
 * the socket is closed, also when the process is killed).
 *
 * Addresses.  Every address in this API is a byte offset from umem_area.
 * A netmap buffer i lives at offset i * frame_size when umem_area is the
 * start of the buffer pool, so
 *
 *     buffer index  = addr / frame_size
 *     data offset   = addr % frame_size      (inside that buffer)
 *
 * holds for every address the socket hands back (RX descriptors,
 * completions) and is what the caller passes in (fill entries are buffer
 * offsets; TX descriptors are buffer offset + data offset).
 *
 * Data placement.  With XDP every received frame starts XDP_PACKET_HEADROOM
 * (256) bytes into the chunk the kernel was given.  netmap wants a frame to
 * start at the first byte of its buffer, so by default the UMEM is
 * registered in unaligned-chunk mode (XDP_UMEM_UNALIGNED_CHUNK_FLAG, chunk
 * size = frame_size, umem headroom 0) and unm_xsk_fill() gives the kernel
 * chunk address = buffer offset - 256: the frame lands exactly at the
 * buffer start and an RX descriptor decodes to data offset 0.  The 256
 * bytes before a buffer are the tail of the previous buffer; the kernel
 * writes there only XDP metadata (bpf_xdp_adjust_meta: copy mode copies
 * metadata + frame to data - metadata length) or what an XDP program
 * prepends with bpf_xdp_adjust_head, and unetmap's program does neither.
 * In copy mode the kernel writes exactly [data, data + len): the test
 * (tests/functional/nic_xsk.c) checks guard bytes over the whole pool
 * after every phase.  Consequences:
 *   - one buffer takes at most frame_size - 256 bytes of a received frame
 *     (1792 of 2048): unm_xsk_rx_frag_max().  Longer frames are dropped by
 *     the kernel, or with UNM_XSK_F_SG arrive as several descriptors, all
 *     but the last carrying XDP_PKT_CONTD (netmap NS_MOREFRAG chain);
 *   - zero-copy drivers DMA into [data, data + len) too, but the kernel only
 *     accepts a chunk that crosses a page boundary when the two pages are
 *     contiguous in DMA space: with 2048-byte buffers in 4 KiB pages every
 *     other chunk crosses one, so zero copy needs a region backed by huge
 *     pages (or an IOMMU mapping the pages contiguously); otherwise the
 *     kernel discards those fill entries as invalid (the buffers never
 *     come back).  Not testable here: veth has no zero copy.
 *     UNM_XSK_F_ALIGNED avoids both limits at the cost of data starting
 *     256 bytes into the buffer (unm_xsk_data_off() = 256): the caller
 *     then needs netmap's OFFSETS option or a memmove.
 * TX descriptors carry the plain address of the data (buffer offset plus
 * the slot's OFFSETS value) in either mode; a descriptor may span the
 * whole buffer (frame_size bytes).
 *
 * Modes.  UNM_XSK_MODE_AUTO binds zero-copy first and falls back to copy
 * mode; UNM_XSK_MODE_ZC fails with a message naming the driver where zero
 * copy is impossible (e.g. veth); UNM_XSK_MODE_COPY never tries zero copy.
 * XDP_USE_NEED_WAKEUP is always requested.  unm_xsk_mode() says what was
 * obtained.
 *
 * Data path.  The burst functions below only touch the four rings in
 * shared memory (cached producer/consumer indices, acquire/release as in
 * libxdp's xsk.h); system calls happen only in the kick functions and only
 * when the kernel asked for one (need_wakeup).  One socket must be used by
 * one thread at a time.  RX timestamps do not exist in AF_XDP: read the
 * clock (clock_gettime) when the burst returns.
 *
 * Errors: -errno, with a message for unetmap_last_error() (unm_seterr).
 *
 * Use by a netmap NIC port, one socket per bound queue:
 *   open:   unm_xsk_create(umem_area = the pool base in this process,
 *           frame_size = nr_buf_size, ring sizes >= the netmap ring),
 *           unm_xsk_map_insert(xskmap, queue, x); unm_xsk_fill() with the
 *           buffers of the kernel-owned RX slots (all but one at first).
 *   rxsync: n = unm_xsk_rx(); descriptor i goes to slot hwtail + i with
 *           buf_idx = addr / buf_size, len, NS_MOREFRAG if XDP_PKT_CONTD;
 *           the buffers of the slots the user released go to
 *           unm_xsk_fill(); ring->ts from clock_gettime().  In copy mode the
 *           kernel takes fill entries in order and hands them back in that
 *           order (the test checks it), so the buffer of slot hwtail is the
 *           one that comes back there; zero-copy drivers consume the fill
 *           ring in order as well, but a port should not count on the
 *           returned index without checking.
 *   txsync: unm_xsk_tx() with addr = buf_idx * buf_size + slot offset,
 *           then unm_xsk_tx_kick(); unm_xsk_comp() gives the addresses back
 *           in the order sent: those slots are free (tail advances).
 *   poll:   unm_xsk_fd() is readable when the RX ring is not empty.
 * The socket is this process's fd: it dies with the process, and the
 * kernel removes it from the XSKMAP then.  One UMEM registration per
 * socket: each pins the whole pool (counted against RLIMIT_MEMLOCK unless
 * CAP_IPC_LOCK).  A queue takes one socket at a time (one UMEM per queue),
 * so two processes cannot share a queue.
 */
#ifndef UNETMAP_NIC_XSK_H
#define UNETMAP_NIC_XSK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <linux/if_xdp.h>

#define UNM_XSK_HEADROOM	256u	/* XDP_PACKET_HEADROOM */

/* Newer than Debian 12's <linux/if_xdp.h> (kernel ABI values) */
#ifndef XDP_USE_SG
#define XDP_USE_SG		(1 << 4)	/* bind: multi-buffer frames (6.6) */
#endif
#ifndef XDP_PKT_CONTD
#define XDP_PKT_CONTD		(1 << 0)	/* desc options: more of this frame follows */
#endif

enum unm_xsk_mode {
	UNM_XSK_MODE_AUTO = 0,	/* zero copy if the driver can, else copy */
	UNM_XSK_MODE_ZC = 1,	/* zero copy or fail */
	UNM_XSK_MODE_COPY = 2,	/* copy mode only */
};

/* cfg.flags */
#define UNM_XSK_F_ALIGNED	0x1u	/* aligned chunks: RX data at buffer + 256 */
#define UNM_XSK_F_SG		0x2u	/* ask for multi-buffer frames (XDP_USE_SG);
					 * granted if the kernel/driver can:
					 * see unm_xsk_sg() */

struct unm_xsk_cfg {
	size_t sz;		/* sizeof(struct unm_xsk_cfg) */
	const char *ifname;
	uint32_t queue;		/* queue (channel) of the interface */
	void *umem_area;	/* page-aligned; buffer i at i * frame_size */
	uint64_t umem_size;	/* bytes, a multiple of frame_size */
	uint32_t frame_size;	/* netmap buffer size: 2048..4096 (page size);
				 * a power of 2 with UNM_XSK_F_ALIGNED */
	/* ring sizes, powers of 2; 0 = 2048 */
	uint32_t rx_size, tx_size, fill_size, comp_size;
	int mode;		/* enum unm_xsk_mode */
	uint32_t flags;		/* UNM_XSK_F_* */
};
#define unm_xsk_cfg__last_field flags

struct unm_xsk;

/* Create and bind the socket.  0 and *out, or -errno with a message.
 * The kernel keeps a queue bound for ~20 ms after its socket is closed
 * (RCU + a work item): a busy queue is retried for up to 1 s, then
 * -EBUSY. */
int unm_xsk_create(const struct unm_xsk_cfg *cfg, struct unm_xsk **out);
/* Close the socket and unregister its UMEM (NULL is fine). */
void unm_xsk_destroy(struct unm_xsk *x);

int unm_xsk_fd(const struct unm_xsk *x);	/* for the XSKMAP and poll() */
uint32_t unm_xsk_queue(const struct unm_xsk *x);
/* Set XSKMAP[queue] = x (bpf_map_update_elem).  0 or -errno + message. */
int unm_xsk_map_insert(int map_fd, uint32_t queue, const struct unm_xsk *x);
/* Remove XSKMAP[queue] (closing the socket does this too). */
int unm_xsk_map_remove(int map_fd, uint32_t queue);

const char *unm_xsk_mode(const struct unm_xsk *x);	/* "zc" or "copy" */
bool unm_xsk_is_zc(const struct unm_xsk *x);
bool unm_xsk_sg(const struct unm_xsk *x);		/* multi-buffer granted */
uint32_t unm_xsk_data_off(const struct unm_xsk *x);	/* 0, or 256 if ALIGNED */
uint32_t unm_xsk_rx_frag_max(const struct unm_xsk *x);	/* bytes per RX buffer */

/* ---- data path ---------------------------------------------------- */

/* Give the kernel buffers to receive into: bufs[i] = offset of a buffer
 * (i * frame_size, never buffer 0).  Posts as many as fit, in order, and
 * returns that number. */
unsigned unm_xsk_fill(struct unm_xsk *x, const uint64_t *bufs, unsigned n);
/* Room in the fill ring right now. */
unsigned unm_xsk_fill_room(struct unm_xsk *x);

/* Take up to max received descriptors: out[i].addr is the offset of the
 * data (see "Addresses"), out[i].len its length, out[i].options has
 * XDP_PKT_CONTD on every fragment of a frame but the last.  The RX ring
 * entries are released at once: the buffers now belong to the caller until
 * it fills them again.  A multi-fragment frame may be split between two
 * calls when max cuts it. */
unsigned unm_xsk_rx(struct unm_xsk *x, struct xdp_desc *out, unsigned max);
/* Descriptors waiting in the RX ring (refreshes the producer index). */
unsigned unm_xsk_rx_avail(struct unm_xsk *x);

/* Queue frames for transmission: d[i].addr = data offset, d[i].len,
 * d[i].options = XDP_PKT_CONTD on all but the last fragment of a frame
 * (needs unm_xsk_sg()).  Queues the longest prefix of whole frames that
 * fits and returns the number of descriptors queued.  Nothing is sent
 * before unm_xsk_tx_kick(). */
unsigned unm_xsk_tx(struct unm_xsk *x, const struct xdp_desc *d, unsigned n);
/* Make the kernel send what is queued, if it asked to be woken (copy mode
 * always does: the frames are sent by this call, in the caller's context,
 * until the TX ring is empty or the kernel stops for lack of room in the
 * completion ring or the device).  0 or -errno (-ENETDOWN, -ENXIO,
 * -ENOBUFS) with a message. */
int unm_xsk_tx_kick(struct unm_xsk *x);
/* Take up to max completed TX addresses (the addr of each descriptor sent,
 * in the order sent); those buffers belong to the caller again. */
unsigned unm_xsk_comp(struct unm_xsk *x, uint64_t *addrs, unsigned max);
/* TX descriptors queued and not yet completed. */
uint32_t unm_xsk_tx_outstanding(const struct unm_xsk *x);

/* The kernel wants a system call to go on receiving (fill ring flag; only
 * zero-copy drivers set it) / sending (TX ring flag; always in copy mode). */
bool unm_xsk_rx_needs_wakeup(const struct unm_xsk *x);
bool unm_xsk_tx_needs_wakeup(const struct unm_xsk *x);
/* recvfrom(MSG_DONTWAIT) if the fill ring asks for it.  0 or -errno. */
int unm_xsk_rx_kick(struct unm_xsk *x);

/* Kernel counters of the socket (XDP_STATISTICS). 0 or -errno. */
int unm_xsk_stats(const struct unm_xsk *x, struct xdp_statistics *st);

#endif
