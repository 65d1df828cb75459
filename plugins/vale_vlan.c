/*
 * vale_vlan - VALE lookup object forwarding by 802.1Q VLAN id.
 *
 * Built as build/lib/unetmap-vale-vlan.so; load it with
 *   vale-ctl -L vale0:/path/to/unetmap-vale-vlan.so
 * or unetmap_vale_set_lookup().
 *
 * A tagged frame (TPID 0x8100 at offset 12) with VLAN id V goes to the
 * switch port with index V-1 when that index is in use (V-1 < nports) and
 * is not the sender; otherwise it is dropped.  Untagged frames are
 * broadcast.  VLAN id 0 (priority tag only) matches no port: dropped.
 * The destination ring is left as the switch chose it.
 */
#include <stdint.h>

#include <unetmap.h>

#define ETH_TPID_OFF	12
#define ETH_TCI_OFF	14
#define TPID_8021Q	0x8100u
#define VID_MASK	0x0fffu

uint32_t unetmap_vale_lookup(const uint8_t *frame, uint32_t len, uint32_t src_port,
			     uint8_t *ring, uint32_t nports);

/* the exported function must have the type the switch calls */
_Static_assert(__builtin_types_compatible_p(__typeof__(&unetmap_vale_lookup),
					    unetmap_vale_lookup_fn),
	       "unetmap_vale_lookup does not match unetmap_vale_lookup_fn");

uint32_t unetmap_vale_lookup(const uint8_t *frame, uint32_t len, uint32_t src_port,
			     uint8_t *ring, uint32_t nports)
{
	(void)ring;
	if (len < ETH_TPID_OFF + 2)
		return UNETMAP_VALE_NOPORT;
	uint32_t tpid = (uint32_t)frame[ETH_TPID_OFF] << 8 | frame[ETH_TPID_OFF + 1];
	if (tpid != TPID_8021Q)
		return UNETMAP_VALE_BROADCAST;
	if (len < ETH_TCI_OFF + 2)	/* tag cut short */
		return UNETMAP_VALE_NOPORT;
	uint32_t vid = ((uint32_t)frame[ETH_TCI_OFF] << 8 | frame[ETH_TCI_OFF + 1]) & VID_MASK;
	if (vid == 0)
		return UNETMAP_VALE_NOPORT;
	uint32_t dst = vid - 1;
	if (dst >= nports || dst >= UNETMAP_VALE_MAXPORTS || dst == src_port)
		return UNETMAP_VALE_NOPORT;
	return dst;
}
