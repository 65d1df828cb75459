/*
 * tpacket.h - TPACKET_V3 data-path sockets (internal): the fallback NIC
 * backend for interfaces without native XDP or when AF_XDP fails.
 *
 * One struct unm_tpk is one AF_PACKET socket bound to one interface with
 * ETH_P_ALL, holding an RX ring (PACKET_RX_RING, TPACKET_V3 blocks retired
 * after retire_ms even when not full) and sending with PACKET_QDISC_BYPASS,
 * by default with sendmmsg() from a private staging area, or through a
 * PACKET_TX_RING (UNM_TPK_F_TX_RING).  sendmmsg is the default because it
 * was faster here: on veth, one sender CPU, 60-byte frames, 0.75-0.98 vs
 * 0.57-0.73 Mpps with a TPACKET receiver on the peer (1.3-2.2 vs 1.3-1.9
 * without), and 1514-byte frames 1.3-1.9 vs 1.1-1.6 Mpps.  Unlike AF_XDP,
 * frames are copied between the rings and the caller's (netmap) buffers.
 *
 * What the RX ring sees: every frame the interface receives (packet taps
 * run before tc ingress, so a tcx program that drops frames for the stack
 * does not hide them from us), minus
 *   - frames sent by the host itself (PACKET_IGNORE_OUTGOING), ours too;
 *   - frames whose skb->mark is cfg.ignore_mark (if not 0): the host TX
 *     frames that the TAP ingress program re-injects into the interface
 *     (UNM_NIC_MARK in kobj.h); a classic BPF socket filter drops them
 *     before they are copied;
 *   - with cfg.queue >= 0, frames that did not arrive on that queue (same
 *     socket filter, on skb->queue_mapping).  The value the kernel keeps
 *     there differs by driver: drivers that record the RX queue store
 *     queue + 1 (skb_record_rx_queue), veth stores the peer's TX queue
 *     (= our RX queue) as is.  UNM_TPK_QMAP_AUTO picks "as is" for veth
 *     and "+1" otherwise (and then queue 0 also takes frames with no queue
 *     recorded).  Each socket filters on its own, so rings of one
 *     interface can be held by different processes and frames of a queue
 *     nobody holds are simply not copied anywhere (as on netmap).
 * The frames are those after GRO: with GRO on, one "frame" can be a
 * 64 KiB aggregate (len > snaplen if it does not fit a block); the port
 * should turn GRO/LRO off on the interface.  A VLAN tag that the kernel
 * moved out of the frame (always, for the packet taps) is put back in
 * place, so data/len are the frame as it was on the wire.
 *
 * TX frames go out on the queue the kernel picks (CPU / XPS), not on a
 * queue of our choosing: AF_PACKET has no way to name one.
 *
 * Timestamps: every RX frame carries the kernel's receive time
 * (tp_sec/tp_nsec, CLOCK_REALTIME) for ring->ts.
 *
 * Use: one thread at a time per socket; no system call on the RX path
 * (block status words in shared memory, acquire/release), one send() per
 * TX flush.  Errors: -errno with a message (unm_seterr).
 */
#ifndef UNETMAP_NIC_TPACKET_H
#define UNETMAP_NIC_TPACKET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>
#include <sys/uio.h>

enum unm_tpk_qmap {
	UNM_TPK_QMAP_AUTO = 0,	/* by driver: veth RAW, others RECORDED */
	UNM_TPK_QMAP_RAW = 1,	/* skb->queue_mapping == queue */
	UNM_TPK_QMAP_RECORDED = 2,	/* skb->queue_mapping == queue + 1 */
};

/* cfg.flags */
#define UNM_TPK_F_NO_RX		0x1u	/* no RX ring, receive nothing */
#define UNM_TPK_F_NO_TX		0x2u	/* no TX ring */
#define UNM_TPK_F_TX_RING	0x4u	/* TX through a PACKET_TX_RING, not sendmmsg() */

struct unm_tpk_cfg {
	size_t sz;		/* sizeof(struct unm_tpk_cfg) */
	const char *ifname;
	int32_t queue;		/* -1: frames of every queue */
	int qmap;		/* enum unm_tpk_qmap (with queue >= 0) */
	uint32_t ignore_mark;	/* drop frames with this skb->mark; 0: none */
	/* RX ring: block_nr blocks of block_size bytes (a multiple of the page
	 * size; it bounds the largest frame); 0 = 256 KiB x 16 */
	uint32_t block_size, block_nr;
	uint32_t retire_ms;	/* block retire timeout, 0 = 1 ms */
	/* TX: room for tx_frames frames (the TX ring may round up) of at most
	 * tx_frame_max bytes; 0 = 1024 x 2048 */
	uint32_t tx_frames, tx_frame_max;
	uint32_t flags;		/* UNM_TPK_F_* */
};
#define unm_tpk_cfg__last_field flags

struct unm_tpk;

/* One received frame, valid until the next unm_tpk_rx_next() or
 * unm_tpk_rx_release() on the same socket. */
struct unm_tpk_frame {
	const unsigned char *data;
	uint32_t snaplen;	/* bytes at data */
	uint32_t len;		/* length of the frame (> snaplen: truncated) */
	struct timespec ts;	/* kernel receive time (CLOCK_REALTIME) */
	uint32_t status;	/* TP_STATUS_* bits (e.g. TP_STATUS_CSUMNOTREADY) */
};

int unm_tpk_create(const struct unm_tpk_cfg *cfg, struct unm_tpk **out);
void unm_tpk_destroy(struct unm_tpk *t);
int unm_tpk_fd(const struct unm_tpk *t);	/* poll(): POLLIN when a block is ready */

/* ---- RX ------------------------------------------------------------ */

/* The next received frame: 1 and *f, or 0 if none is ready.  Moving past
 * the last frame of a block gives the block back to the kernel. */
int unm_tpk_rx_next(struct unm_tpk *t, struct unm_tpk_frame *f);
/* Give the current block back if every frame of it has been taken (call at
 * the end of a receive pass, so that the kernel can reuse it). */
void unm_tpk_rx_release(struct unm_tpk *t);
/* A frame is ready (no system call). */
bool unm_tpk_rx_ready(const struct unm_tpk *t);

/* ---- TX ------------------------------------------------------------ */

/* Room for one frame of up to *cap bytes, or NULL if the ring is full
 * (reap completions first).  Write the frame there, then commit it. */
void *unm_tpk_tx_slot(struct unm_tpk *t, uint32_t *cap);
void unm_tpk_tx_commit(struct unm_tpk *t, uint32_t len);
/* Copy one frame gathered from iov[0..iovcnt) into the ring and commit it:
 * 1, 0 if the ring is full, -EMSGSIZE if it exceeds tx_frame_max. */
int unm_tpk_tx_frame(struct unm_tpk *t, const struct iovec *iov, unsigned iovcnt);
/* Send what was committed.  0 or -errno with a message (-ENETDOWN,
 * -ENXIO, ...); frames the device refuses are dropped, not retried. */
int unm_tpk_tx_flush(struct unm_tpk *t);
/* Frames whose TX slot is free again since the last call. */
unsigned unm_tpk_tx_reap(struct unm_tpk *t);
/* Frames that can be committed before the ring is full (after a reap). */
unsigned unm_tpk_tx_room(const struct unm_tpk *t);

/* Kernel counters since the last call (PACKET_STATISTICS resets them). */
int unm_tpk_stats(struct unm_tpk *t, uint64_t *packets, uint64_t *drops);

#endif
