/*
 * unetmap.bpf.c - the BPF programs that put a Linux interface in "netmap
 * mode" (NIC ports, issue 7).  Built with clang -target bpf at build time,
 * embedded in libunetmap.so and loaded by src/nic/kobj.c, which attaches
 * each program with a bpf_link owned by the NIC helper process, so that the
 * interface is back to normal as soon as that process is gone.
 *
 *   unm_xdp             XDP on the NIC (AF_XDP backend): every frame goes to
 *                       the AF_XDP socket bound to its RX queue; frames for
 *                       queues nobody bound are dropped, as on netmap.
 *                       When the NIC is attached to a VALE switch together
 *                       with other NICs, the switch's helper fills unm_fwd
 *                       with the addresses the switch learned on NIC ports:
 *                       a frame whose source the switch knows on this NIC and
 *                       whose destination it knows on another NIC of the
 *                       switch is redirected there in the kernel (the XDP
 *                       fast path of src/ports/vale_nic.c); everything else
 *                       goes to the switch through the AF_XDP socket.
 *   unm_tc_nic_ingress  tcx ingress on the NIC (TPACKET backend): the packet
 *                       sockets have seen the frame already (taps run before
 *                       tc ingress); the stack must not.  Frames re-injected
 *                       from the TAP (host TX ring) carry our mark and pass.
 *   unm_tc_nic_fwd      tcx ingress on the NIC (AF_XDP backend): frames of the
 *                       VALE fast path that unm_xdp passed with their
 *                       destination in the metadata go out of that NIC.
 *   unm_tc_nic_egress   tcx egress on the NIC: what the host stack transmits
 *                       goes to the TAP (host RX ring), or is dropped while
 *                       there is no TAP.  Our own transmissions (AF_XDP,
 *                       PACKET_QDISC_BYPASS) do not pass through tc egress.
 *                       skb->queue_mapping is set to the NIC TX queue the
 *                       stack would have used (see nic_txq()).
 *   unm_tap_steer       the TAP's queue steering (TUNSETSTEERINGEBPF): host
 *                       RX ring k, TAP queue k, gets the frames sent on NIC
 *                       TX queues q with q mod (TAP queues) == k.
 *   unm_tc_tap_ingress  tcx ingress on the TAP: what the application writes
 *                       on the host TX ring is marked and handed to the stack
 *                       as if it had arrived on the NIC.
 *
 * Parameters live in the one-entry array map unm_cfg, written by the loader
 * (the TAP index changes when the TAP is created lazily).
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

/* tcx return codes (linux/bpf.h of Linux >= 6.6; Debian 12's is older) */
#define UNM_TCX_NEXT	(-1)
#define UNM_TCX_DROP	2

/* must match struct unm_nic_bpf_cfg in src/nic/kobj.c */
struct unm_cfg {
	__u32 nic_ifindex;	/* the NIC, target of the TAP's redirect */
	__u32 tap_ifindex;	/* the TAP, 0 while there is none */
	__u32 mark;		/* skb->mark of frames re-injected from the TAP */
	__u32 pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_XSKMAP);
	__uint(max_entries, 1);		/* set to the RX queue count at load */
	__type(key, __u32);
	__type(value, __u32);
} unm_xsks SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct unm_cfg);
} unm_cfg SEC(".maps");

/* VALE fast path: where the switch learned a MAC (key: the six bytes in the
 * low 48 bits, little-endian load).  Must match src/ports/vale_nic.c. */
struct unm_fwd_val {
	__u32 ifindex;		/* the NIC port it was learned on */
	__u16 slot;		/* that port's entry in unm_fstat */
	__u16 mode;		/* UNM_FWD_XDP or UNM_FWD_SKB */
};

/* how a frame reaches the destination NIC: XDP_REDIRECT through unm_devs
 * (ndo_xdp_xmit; the destination must take it: on veth, its peer needs
 * NAPI), or XDP_PASS with the destination in the frame's metadata, for
 * unm_tc_nic_fwd to bpf_redirect() the skb (any destination) */
#define UNM_FWD_XDP	1
#define UNM_FWD_SKB	2

/* metadata of an UNM_FWD_SKB frame, in front of the data */
struct unm_fwd_meta {
	__u32 magic;		/* UNM_FWD_MAGIC */
	__u32 ifindex;
};
#define UNM_FWD_MAGIC	0x756e6d66u	/* "unmf" */
/* skb->mark of those frames between unm_tc_nic_fwd and the destination's
 * unm_tc_nic_egress, which lets them out (and clears it) */
#define UNM_FWD_MARK	0x756e6d01u

#define UNM_FWD_SLOTS	256	/* switch port index (UNM_VALE_MAXPORTS) */

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);	/* the switch's table size */
	__type(key, __u64);
	__type(value, struct unm_fwd_val);
} unm_fwd SEC(".maps");

/* the other NICs of the switch (same network namespace), by ifindex */
struct {
	__uint(type, BPF_MAP_TYPE_DEVMAP_HASH);
	__uint(max_entries, UNM_FWD_SLOTS);
	__type(key, __u32);
	__type(value, __u32);
} unm_devs SEC(".maps");

/* frames and bytes redirected, per destination slot, per CPU */
struct unm_fstat {
	__u64 frames, bytes;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, UNM_FWD_SLOTS);
	__type(key, __u32);
	__type(value, struct unm_fstat);
} unm_fstat SEC(".maps");

/* entry 0 != 0: the fast path is on (written by the switch's helper, so
 * that a NIC outside a switch pays one array load per frame for it) */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} unm_fon SEC(".maps");

/* host rings: the NIC's TX queue count (real_num_tx_queues), written by
 * the loader when it creates the TAP */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} unm_ntxq SEC(".maps");

static __always_inline struct unm_cfg *cfg(void)
{
	__u32 k = 0;
	return bpf_map_lookup_elem(&unm_cfg, &k);
}

/* xdp.frags: the program handles multi-buffer frames (it only redirects),
 * so an interface may keep an MTU larger than a page while it is attached
 * and AF_XDP sockets bound with XDP_USE_SG get them as fragment chains */
static __always_inline __u64 mac48(const unsigned char *m)
{
	return (__u64)m[0] | (__u64)m[1] << 8 | (__u64)m[2] << 16 | (__u64)m[3] << 24 |
	       (__u64)m[4] << 32 | (__u64)m[5] << 40;
}

/* XDP_REDIRECT when the switch would send the frame to another NIC port,
 * else 0.  Only whole frames in one buffer (the fragments of a multi-buffer
 * frame would need NDO_XMIT_SG on the target), only unicast, and only from
 * a source the switch learned on this very NIC (so that the switch's
 * learning never misses a frame that took the fast path). */
static __always_inline int fast_path(struct xdp_md *ctx)
{
	__u32 k = 0;
	__u32 *on = bpf_map_lookup_elem(&unm_fon, &k);
	if (on == NULL || *on == 0)
		return 0;
	const unsigned char *d = (const unsigned char *)(long)ctx->data;
	const unsigned char *end = (const unsigned char *)(long)ctx->data_end;
	if (d + 14 > end || (d[0] & 1) || (d[6] & 1))
		return 0;
	__u64 len = (__u64)(end - d);
	if (bpf_xdp_get_buff_len(ctx) != len)
		return 0;
	__u64 src = mac48(d + 6), dst = mac48(d);
	struct unm_fwd_val *s = bpf_map_lookup_elem(&unm_fwd, &src);
	if (s == NULL || s->ifindex != ctx->ingress_ifindex)
		return 0;
	struct unm_fwd_val *t = bpf_map_lookup_elem(&unm_fwd, &dst);
	if (t == NULL || t->ifindex == ctx->ingress_ifindex)
		return 0;
	__u32 slot = t->slot, ifindex = t->ifindex;
	int act;
	if (t->mode == UNM_FWD_XDP) {
		if (bpf_redirect_map(&unm_devs, ifindex, 0) != XDP_REDIRECT)
			return 0;
		act = XDP_REDIRECT;
	} else if (t->mode == UNM_FWD_SKB) {
		if (bpf_xdp_adjust_meta(ctx, -(int)sizeof(struct unm_fwd_meta)) != 0)
			return 0;
		struct unm_fwd_meta *m = (struct unm_fwd_meta *)(long)ctx->data_meta;
		if ((void *)(m + 1) > (void *)(long)ctx->data)
			return 0;
		m->magic = UNM_FWD_MAGIC;
		m->ifindex = ifindex;
		act = XDP_PASS;
	} else {
		return 0;
	}
	struct unm_fstat *st = bpf_map_lookup_elem(&unm_fstat, &slot);
	if (st != NULL) {
		st->frames++;
		st->bytes += len;
	}
	return act;
}

SEC("xdp.frags")
int unm_xdp(struct xdp_md *ctx)
{
	int act = fast_path(ctx);
	if (act != 0)
		return act;
	/* the low bits of flags are the action when the key has no socket */
	return bpf_redirect_map(&unm_xsks, ctx->rx_queue_index, XDP_DROP);
}

SEC("tc")
int unm_tc_nic_ingress(struct __sk_buff *skb)
{
	struct unm_cfg *c = cfg();
	if (c != NULL && c->mark != 0 && skb->mark == c->mark)
		return UNM_TCX_NEXT;	/* host TX frame: the stack gets it */
	return UNM_TCX_DROP;
}

/* The TX queue of the NIC the stack would pick for skb.  tc egress runs
 * before the kernel picks it (__dev_queue_xmit: sch_handle_egress, then
 * netdev_core_pick_tx), so this is skb_tx_hash() of a device without XPS
 * maps and without traffic classes: a recorded RX queue (queue_mapping is
 * RX queue + 1 on a forwarded frame) modulo the queue count, else the flow
 * hash (a socket's sk_txhash, or the flow dissector's) scaled to it. */
static __always_inline __u32 nic_txq(struct __sk_buff *skb)
{
	__u32 k = 0, *n = bpf_map_lookup_elem(&unm_ntxq, &k);
	__u32 nq = n != NULL && *n > 0 ? *n : 1;
	__u32 qm = skb->queue_mapping;
	if (qm != 0)
		return (qm - 1) % nq;
	return (__u32)(((__u64)bpf_get_hash_recalc(skb) * nq) >> 32);
}

/* tcx ingress on the NIC (AF_XDP backend): the frames unm_xdp passed for
 * the fast path go out of their destination NIC; nothing else gets here but
 * host TX frames re-injected from the TAP, which go to the stack */
SEC("tc")
int unm_tc_nic_fwd(struct __sk_buff *skb)
{
	struct unm_fwd_meta *m = (struct unm_fwd_meta *)(long)skb->data_meta;
	if ((void *)(m + 1) > (void *)(long)skb->data || m->magic != UNM_FWD_MAGIC)
		return UNM_TCX_NEXT;
	skb->mark = UNM_FWD_MARK;
	return bpf_redirect(m->ifindex, 0);
}

SEC("tc")
int unm_tc_nic_egress(struct __sk_buff *skb)
{
	if (skb->mark == UNM_FWD_MARK) {
		skb->mark = 0;
		return UNM_TCX_NEXT;	/* the switch's fast path: out */
	}
	struct unm_cfg *c = cfg();
	if (c == NULL || c->tap_ifindex == 0)
		return UNM_TCX_DROP;	/* no host RX ring: nothing reaches the wire */
	/* kept by the redirect: the TAP's steering reads it */
	skb->queue_mapping = nic_txq(skb);
	return bpf_redirect(c->tap_ifindex, 0);
}

/* the TAP queue of a frame: its NIC TX queue (tun takes it modulo the
 * number of queues, as netmap maps a queue to host RX ring queue mod count) */
SEC("socket")
int unm_tap_steer(struct __sk_buff *skb)
{
	return (int)skb->queue_mapping;
}

SEC("tc")
int unm_tc_tap_ingress(struct __sk_buff *skb)
{
	struct unm_cfg *c = cfg();
	if (c == NULL || c->nic_ifindex == 0)
		return UNM_TCX_DROP;
	skb->mark = c->mark;
	return bpf_redirect(c->nic_ifindex, BPF_F_INGRESS);
}

char _license[] SEC("license") = "Dual BSD/GPL";
