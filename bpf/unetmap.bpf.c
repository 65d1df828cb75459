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
 *   unm_tc_nic_ingress  tcx ingress on the NIC (TPACKET backend): the packet
 *                       sockets have seen the frame already (taps run before
 *                       tc ingress); the stack must not.  Frames re-injected
 *                       from the TAP (host TX ring) carry our mark and pass.
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
SEC("xdp.frags")
int unm_xdp(struct xdp_md *ctx)
{
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

SEC("tc")
int unm_tc_nic_egress(struct __sk_buff *skb)
{
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
