/*
 * vnet.h - virtio-net headers between ports that disagree on them (netmap's
 * "mismatch path", reference §4.7): header conversion, software segmentation
 * of GSO frames (TCPv4, TCPv6, UDP) and checksum completion.
 *
 * Pure functions over caller-given memory: no registry, no rings.  A source
 * frame is a list of fragments; its first `hs` bytes are the header it was
 * sent with, the destination wants `hd` bytes of header.  unm_vnet_plan()
 * checks the frame and says how many destination slots of `cap` bytes the
 * result needs; unm_vnet_next() then writes those slots one by one.  Given
 * the same fragments, a second plan gives the same answer, so a caller may
 * plan once to reserve room and again to write.
 *
 *   hs == 0, hd != 0   a zeroed header is prepended
 *   hs != 0, hd != 0   the first 10 bytes of the header are kept, the rest
 *                      (num_buffers of a 12-byte header) zeroed
 *   hs != 0, hd == 0   the header is checked (unknown gso_type or flag bits:
 *                      invalid) and acted upon: a GSO frame is cut into
 *                      frames of at most min(mfs, cap) bytes with their
 *                      Ethernet (802.1Q tags kept), IP and TCP/UDP headers
 *                      fixed and checksummed; a NEEDS_CSUM frame gets the
 *                      checksum of [csum_start, end) at csum_start +
 *                      csum_offset; the header is stripped.
 *   hs == hd           copied as it is (the switch never asks for this)
 */
#ifndef UNETMAP_VNET_H
#define UNETMAP_VNET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* struct virtio_net_hdr (10 bytes, host order); 12 bytes adds num_buffers */
#define UNM_VNET_HDR_LEN	10
#define UNM_VNET_HDR_MRG_LEN	12
#define UNM_VNET_F_NEEDS_CSUM	0x01
#define UNM_VNET_F_DATA_VALID	0x02
#define UNM_VNET_GSO_NONE	0
#define UNM_VNET_GSO_TCPV4	1
#define UNM_VNET_GSO_UDP	3
#define UNM_VNET_GSO_TCPV6	4
#define UNM_VNET_GSO_ECN	0x80
/* max frame size of a port without a header (netmap's NM_BDG_MFS_DEFAULT);
 * a port with one takes its buffer size */
#define UNM_VNET_MFS_DEFAULT	1514
/* longest Ethernet + IP + L4 header of a GSO frame we segment */
#define UNM_VNET_MAX_GSO_HDR	256

struct unm_vnet_hdr {
	uint8_t flags;
	uint8_t gso_type;
	uint16_t hdr_len;
	uint16_t gso_size;	/* not used: the segment size is the destination's */
	uint16_t csum_start;	/* from the start of the frame after the header */
	uint16_t csum_offset;	/* of the checksum field, from csum_start */
};

/* one fragment of a source frame */
struct unm_vnet_frag {
	const uint8_t *base;
	uint32_t len;
};

/* A frame being converted (plan and iterator state; the caller's storage). */
struct unm_vnet {
	const struct unm_vnet_frag *frag;
	uint32_t nfrag;
	uint32_t hs, hd, cap;
	uint32_t nslots;	/* destination slots, all frames */
	uint32_t nframes;	/* destination frames */
	uint32_t frame_slots;	/* slots of each destination frame (GSO: 1) */
	uint64_t out_bytes;	/* destination bytes, all frames */
	/* read position in the source */
	uint32_t fi, fo;
	bool gso;
	/* copy: the destination frame is dh[0, hd) then source [hs, len) */
	bool csum_todo;		/* NEEDS_CSUM: checksum not computed yet */
	bool csum_ok;		/* csum[] is ready to be written at csum_at */
	uint8_t csum[2];
	uint32_t csum_start, csum_at;
	uint32_t out_len, out_done;
	uint8_t dh[UNM_VNET_HDR_MRG_LEN];
	/* GSO */
	bool v4, tcp;
	uint16_t l2, l3, l4, hlen;	/* header lengths; hlen = l2 + l3 + l4 */
	uint32_t seg_pay;	/* payload bytes per full segment */
	uint32_t pay_len, pay_done, seg_idx;
	/* checksums of what the segments share (big-endian 16-bit word
	 * sums): the IPv4 header and the pseudo-header + L4 header, each
	 * without the fields that change per segment */
	uint32_t ip_sum, l4_sum;
	uint16_t ip_id, tcp_w12;	/* IPv4 id, TCP data offset + flags */
	uint32_t tcp_seq;
	uint8_t h[UNM_VNET_MAX_GSO_HDR];	/* the headers to replicate */
};

/* Whether a header is one netmap accepts: known gso_type (ECN bit allowed),
 * no flag bits beyond NEEDS_CSUM and DATA_VALID. */
bool unm_vnet_hdr_ok(const struct unm_vnet_hdr *h);

/* Plan the conversion of the frame frag[0..nfrag) from a header of hs bytes
 * to one of hd bytes, into destination slots of cap bytes; mfs is the
 * destination's max frame size (GSO segments are at most min(mfs, cap)).
 * Returns the number of destination slots (>= 1), or -1 if the frame must
 * be dropped: shorter than its header, nothing left after it, an invalid
 * header, or a GSO frame that cannot be segmented (not Ethernet + IPv4/IPv6
 * + the TCP/UDP its gso_type says, headers cut short or longer than a
 * segment).  frag must stay valid until the last unm_vnet_next(). */
int unm_vnet_plan(struct unm_vnet *v, const struct unm_vnet_frag *frag, uint32_t nfrag,
		  uint32_t hs, uint32_t hd, uint32_t cap, uint32_t mfs);

/* Write the next destination slot into dst (room for cap bytes), or only
 * step over it if dst is NULL.  Returns its length; *more is set when the
 * same destination frame continues in the next slot.  Call exactly
 * v->nslots times. */
uint32_t unm_vnet_next(struct unm_vnet *v, uint8_t *dst, bool *more);

/* Internet checksum (RFC 1071): add the len bytes at p to a running sum.
 * The sum is in the machine's byte order, which the ones' complement sum
 * does not care about as long as the result is stored back with memcpy.
 * Bytes that follow an odd-length piece must have their folded sum
 * byte-swapped before being added. */
uint64_t unm_csum_add(uint64_t sum, const void *p, size_t len);

/* the sum folded to 16 bits, not complemented; store ~fold with memcpy */
static inline uint16_t unm_csum_fold(uint64_t sum)
{
	sum = (sum & 0xffffffffu) + (sum >> 32);
	sum = (sum & 0xffffffffu) + (sum >> 32);
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)sum;
}

#endif
