/*
 * vale_xdp.h - the XDP fast path of a VALE switch between its NIC ports
 * (see vale_xdp.c), used by the attachment helper of vale_nic.c:
 *
 *   struct vn_xdp *x = vn_xdp_open(port, gen, nic_fd);
 *   ... every VN_XDP_SYNC_NS and when woken: vn_xdp_sync(x);
 *   vn_xdp_close(x);
 *
 * vn_xdp_open() returns NULL when the fast path cannot be used:
 * UNETMAP_VALE_XDP=0, the NIC is not held through AF_XDP, no memory
 * (unetmap_vale_xdp_state() then says "off" for the port).
 * vn_xdp_sync(NULL) and vn_xdp_close(NULL) do nothing.
 */
#ifndef UNETMAP_VALE_XDP_H
#define UNETMAP_VALE_XDP_H

#include <stddef.h>
#include <stdint.h>

#define VN_XDP_SYNC_NS	50000000LL	/* 50 ms */

struct vn_xdp;

struct vn_xdp *vn_xdp_open(uint32_t port, uint32_t gen, int nic_fd);
void vn_xdp_sync(struct vn_xdp *x);
void vn_xdp_close(struct vn_xdp *x);

#endif
