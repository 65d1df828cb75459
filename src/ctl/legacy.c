/*
 * legacy.c - NIOCREGIF / NIOCGINFO with the legacy struct nmreq, translated
 * into NIOCCTRL requests as netmap's kernel does (reference §2.7).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include "core/unm.h"

/* The ring geometry is named alike in struct nmreq and in the bodies of
 * REGISTER, PORT_INFO_GET, VALE_ATTACH (its reg) and VALE_NEWIF; the legacy
 * request carries the memory region id in nr_arg2.  Works on any of them. */
#define GEOM_IN(b, nr) do {					\
	(b)->nr_tx_slots = (nr)->nr_tx_slots;			\
	(b)->nr_rx_slots = (nr)->nr_rx_slots;			\
	(b)->nr_tx_rings = (nr)->nr_tx_rings;			\
	(b)->nr_rx_rings = (nr)->nr_rx_rings;			\
	(b)->nr_mem_id = (nr)->nr_arg2;				\
} while (0)
#define GEOM_OUT(nr, b) do {					\
	(nr)->nr_tx_slots = (b)->nr_tx_slots;			\
	(nr)->nr_rx_slots = (b)->nr_rx_slots;			\
	(nr)->nr_tx_rings = (b)->nr_tx_rings;			\
	(nr)->nr_rx_rings = (b)->nr_rx_rings;			\
	(nr)->nr_arg2 = (b)->nr_mem_id;				\
} while (0)

static int legacy_to_register(const struct nmreq *nr, struct nmreq_header *hdr,
			      struct nmreq_register *req)
{
	uint32_t mode = nr->nr_flags & NR_REG_MASK;
	uint32_t ringid = nr->nr_ringid & NETMAP_RING_MASK;
	size_t len = strlen(hdr->nr_name);	/* the caller copied nr_name */

	if (mode == NR_REG_DEFAULT) {
		if (nr->nr_ringid & NETMAP_SW_RING)
			mode = NR_REG_SW;
		else if (nr->nr_ringid & NETMAP_HW_RING)
			mode = NR_REG_ONE_NIC;
		else
			mode = NR_REG_ALL_NIC;
	}
	if (mode == NR_REG_PIPE_MASTER || mode == NR_REG_PIPE_SLAVE) {
		/* the pipe id becomes a name suffix */
		int n = snprintf(hdr->nr_name + len, sizeof(hdr->nr_name) - len, "%c%u",
				 mode == NR_REG_PIPE_MASTER ? '{' : '}', ringid);
		if (n < 0 || (size_t)n >= sizeof(hdr->nr_name) - len)
			return -ENOMEM;
		mode = NR_REG_ALL_NIC;
		ringid = 0;
	}
	GEOM_IN(req, nr);
	req->nr_ringid = (uint16_t)ringid;
	req->nr_mode = mode;
	req->nr_extra_bufs = nr->nr_arg3;
	req->nr_flags = nr->nr_flags & ~(uint64_t)NR_REG_MASK;
	if (nr->nr_ringid & NETMAP_NO_TX_POLL)
		req->nr_flags |= NR_NO_TX_POLL;
	if (nr->nr_ringid & NETMAP_DO_RX_POLL)
		req->nr_flags |= NR_DO_RX_POLL;
	return 0;
}

int unm_legacy_ioctl(struct unm_fd *f, unsigned long cmd, void *arg)
{
	struct nmreq *nr = arg;
	struct nmreq_header hdr;
	int ret;

	if (!unm_user_ok(nr, sizeof(*nr)))
		return -EFAULT;
	if (nr->nr_version < NETMAP_MIN_API) {
		unm_seterr("legacy API version %u < %d", nr->nr_version, NETMAP_MIN_API);
		return -EINVAL;
	}
	nr->nr_name[sizeof(nr->nr_name) - 1] = '\0';
	memset(&hdr, 0, sizeof(hdr));
	hdr.nr_version = NETMAP_API;
	/* every request names the port as the legacy one does (REGISTER may
	 * add a pipe suffix below) */
	snprintf(hdr.nr_name, sizeof(hdr.nr_name), "%s", nr->nr_name);

	if (cmd == NIOCGINFO) {
		if (nr->nr_cmd == NETMAP_BDG_LIST) {
			struct nmreq_vale_list b = { .nr_bridge_idx = nr->nr_arg1,
						     .nr_port_idx = nr->nr_arg2 };
			hdr.nr_reqtype = NETMAP_REQ_VALE_LIST;
			hdr.nr_body = (uintptr_t)&b;
			if ((ret = unm_ctl(f, &hdr)) < 0)
				return ret;
			/* the legacy name field holds 15 characters */
			memcpy(nr->nr_name, hdr.nr_name, sizeof(nr->nr_name) - 1);
			nr->nr_name[sizeof(nr->nr_name) - 1] = '\0';
			nr->nr_arg1 = b.nr_bridge_idx;
			nr->nr_arg2 = (uint16_t)b.nr_port_idx;
			return 0;
		}
		struct nmreq_port_info_get b;
		memset(&b, 0, sizeof(b));
		hdr.nr_reqtype = NETMAP_REQ_PORT_INFO_GET;
		hdr.nr_body = (uintptr_t)&b;
		/* as netmap's conversion: the geometry is a hint for a port
		 * the query creates */
		b.nr_memsize = nr->nr_memsize;
		GEOM_IN(&b, nr);
		if ((ret = unm_ctl(f, &hdr)) < 0)
			return ret;
		nr->nr_memsize = (uint32_t)b.nr_memsize;
		GEOM_OUT(nr, &b);
		return 0;
	}

	switch (nr->nr_cmd) {
	case 0: {
		struct nmreq_register req;
		memset(&req, 0, sizeof(req));
		if ((ret = legacy_to_register(nr, &hdr, &req)) < 0)
			return ret;
		hdr.nr_reqtype = NETMAP_REQ_REGISTER;
		hdr.nr_body = (uintptr_t)&req;
		if ((ret = unm_ctl(f, &hdr)) < 0)
			return ret;
		nr->nr_offset = (uint32_t)req.nr_offset;
		nr->nr_memsize = (uint32_t)req.nr_memsize;
		GEOM_OUT(nr, &req);
		nr->nr_arg3 = req.nr_extra_bufs;
		return 0;
	}
	case NETMAP_VNET_HDR_GET: {
		struct nmreq_port_hdr b = { 0, 0 };
		hdr.nr_reqtype = NETMAP_REQ_PORT_HDR_GET;
		hdr.nr_body = (uintptr_t)&b;
		if ((ret = unm_ctl(f, &hdr)) < 0)
			return ret;
		nr->nr_arg1 = (uint16_t)b.nr_hdr_len;
		return 0;
	}
	case NETMAP_BDG_ATTACH: {
		struct nmreq_vale_attach b;
		memset(&b, 0, sizeof(b));
		hdr.nr_reqtype = NETMAP_REQ_VALE_ATTACH;
		hdr.nr_body = (uintptr_t)&b;
		b.reg.nr_mode = (nr->nr_arg1 & NETMAP_BDG_HOST) ? NR_REG_NIC_SW : NR_REG_ALL_NIC;
		GEOM_IN(&b.reg, nr);
		return unm_ctl(f, &hdr);
	}
	case NETMAP_BDG_DETACH: {
		struct nmreq_vale_detach b;
		memset(&b, 0, sizeof(b));
		hdr.nr_reqtype = NETMAP_REQ_VALE_DETACH;
		hdr.nr_body = (uintptr_t)&b;
		return unm_ctl(f, &hdr);
	}
	case NETMAP_BDG_NEWIF: {
		struct nmreq_vale_newif b;
		memset(&b, 0, sizeof(b));
		hdr.nr_reqtype = NETMAP_REQ_VALE_NEWIF;
		hdr.nr_body = (uintptr_t)&b;
		GEOM_IN(&b, nr);
		if ((ret = unm_ctl(f, &hdr)) < 0)
			return ret;
		GEOM_OUT(nr, &b);
		return 0;
	}
	case NETMAP_BDG_DELIF:
		hdr.nr_reqtype = NETMAP_REQ_VALE_DELIF;
		return unm_ctl(f, &hdr);
	case NETMAP_BDG_POLLING_ON:
	case NETMAP_BDG_POLLING_OFF: {
		struct nmreq_vale_polling b;
		memset(&b, 0, sizeof(b));
		hdr.nr_reqtype = nr->nr_cmd == NETMAP_BDG_POLLING_ON ?
				 NETMAP_REQ_VALE_POLLING_ENABLE : NETMAP_REQ_VALE_POLLING_DISABLE;
		hdr.nr_body = (uintptr_t)&b;
		/* ONE_NIC: one cpu per ring; ALL_NIC: a single cpu */
		b.nr_mode = (nr->nr_flags & NR_REG_MASK) == NR_REG_ONE_NIC ?
			    NETMAP_POLLING_MODE_MULTI_CPU : NETMAP_POLLING_MODE_SINGLE_CPU;
		b.nr_first_cpu_id = nr->nr_ringid & NETMAP_RING_MASK;
		b.nr_num_polling_cpus = nr->nr_arg1;
		return unm_ctl(f, &hdr);
	}
	case NETMAP_BDG_VNET_HDR: {
		struct nmreq_port_hdr b = { nr->nr_arg1, 0 };
		hdr.nr_reqtype = NETMAP_REQ_PORT_HDR_SET;
		hdr.nr_body = (uintptr_t)&b;
		return unm_ctl(f, &hdr);
	}
	case NETMAP_PT_HOST_CREATE:
	case NETMAP_PT_HOST_DELETE:
		return -ENOMEM;		/* what netmap answers: unsupported */
	default:
		/* netmap: a command it does not know (or REGOPS, which
		 * only kernel modules may use) is EINVAL */
		unm_seterr("legacy command %u is not known", nr->nr_cmd);
		return -EINVAL;
	}
}
