/*
 * abi_layout: the public netmap headers match the upstream binary ABI
 * (NETMAP_API 14, Linux x86-64), and the inline helpers / legacy library in
 * netmap_user.h behave as specified. Layout checks are compile-time; the
 * helpers are exercised on a hand-built region in ordinary memory, so no
 * netmap implementation is needed.
 */
#define NETMAP_WITH_LIBS
#include <net/netmap_user.h>

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>

#include "testlib.h"

#define OFF(type, field, off) \
	_Static_assert(offsetof(struct type, field) == (off), \
		       #type "." #field " at " #off)
#define SIZE(type, sz) \
	_Static_assert(sizeof(struct type) == (sz), "sizeof " #type " == " #sz)
#define VAL(name, v) _Static_assert((name) == (v), #name " == " #v)

/* ---- versions -------------------------------------------------------- */
VAL(NETMAP_API, 14);
VAL(NETMAP_MIN_API, 14);
VAL(NETMAP_MAX_API, 15);
VAL(NM_CACHE_ALIGN, 128);

/* ---- reference 1.2: struct netmap_if --------------------------------- */
SIZE(netmap_if, 56);
OFF(netmap_if, ni_name, 0);
OFF(netmap_if, ni_version, 16);
OFF(netmap_if, ni_flags, 20);
OFF(netmap_if, ni_tx_rings, 24);
OFF(netmap_if, ni_rx_rings, 28);
OFF(netmap_if, ni_bufs_head, 32);
OFF(netmap_if, ni_host_tx_rings, 36);
OFF(netmap_if, ni_host_rx_rings, 40);
OFF(netmap_if, ni_spare1, 44);
OFF(netmap_if, ring_ofs, 56);
_Static_assert(sizeof(((struct netmap_if *)0)->ni_name) == 16, "ni_name[16]");
_Static_assert(sizeof(((struct netmap_if *)0)->ni_spare1) == 12, "ni_spare1[3]");
_Static_assert(sizeof(((struct netmap_if *)0)->ring_ofs[0]) == 8, "ring_ofs entry");
VAL(NI_PRIV_MEM, 0x1);

/* ---- reference 1.3: struct netmap_ring ------------------------------- */
SIZE(netmap_ring, 256);
_Static_assert(_Alignof(struct netmap_ring) == 128, "netmap_ring aligned 128");
OFF(netmap_ring, buf_ofs, 0);
OFF(netmap_ring, num_slots, 8);
OFF(netmap_ring, nr_buf_size, 12);
OFF(netmap_ring, ringid, 16);
OFF(netmap_ring, dir, 18);
OFF(netmap_ring, head, 20);
OFF(netmap_ring, cur, 24);
OFF(netmap_ring, tail, 28);
OFF(netmap_ring, flags, 32);
OFF(netmap_ring, ts, 40);
OFF(netmap_ring, offset_mask, 56);
OFF(netmap_ring, buf_align, 64);
OFF(netmap_ring, sem, 128);
OFF(netmap_ring, slot, 256);
_Static_assert(sizeof(((struct netmap_ring *)0)->ts) == 16, "ts is 16 bytes");
_Static_assert(sizeof(((struct netmap_ring *)0)->sem) == 128, "sem[128]");
VAL(NR_TIMESTAMP, 0x0002);
VAL(NR_FORWARD, 0x0004);

/* ---- reference 1.4 / 1.7: struct netmap_slot and slot flags ---------- */
SIZE(netmap_slot, 16);
OFF(netmap_slot, buf_idx, 0);
OFF(netmap_slot, len, 4);
OFF(netmap_slot, flags, 6);
OFF(netmap_slot, ptr, 8);
VAL(NS_BUF_CHANGED, 0x0001);
VAL(NS_REPORT, 0x0002);
VAL(NS_FORWARD, 0x0004);
VAL(NS_NO_LEARN, 0x0008);
VAL(NS_INDIRECT, 0x0010);
VAL(NS_MOREFRAG, 0x0020);
VAL(NS_TXMON, 0x0040);
VAL(NS_PORT_SHIFT, 8);
VAL(NS_PORT_MASK, 0xff00);
VAL(NETMAP_MAX_FRAGS, 64);

/* ---- reference 2.1: ioctl numbers ------------------------------------ */
VAL(NIOCGINFO, 0xc03c6991UL);
VAL(NIOCREGIF, 0xc03c6992UL);
VAL(NIOCTXSYNC, 0x6994UL);
VAL(NIOCRXSYNC, 0x6995UL);
VAL(NIOCCONFIG, 0xc1106996UL);
VAL(NIOCCTRL, 0xc0586997UL);
SIZE(nm_ifreq, 272);
OFF(nm_ifreq, nifr_name, 0);
OFF(nm_ifreq, data, 16);
VAL(NM_IFRDATA_LEN, 256);

/* ---- reference 2.2: header and option -------------------------------- */
SIZE(nmreq_header, 88);
OFF(nmreq_header, nr_version, 0);
OFF(nmreq_header, nr_reqtype, 2);
OFF(nmreq_header, nr_reserved, 4);
OFF(nmreq_header, nr_name, 8);
OFF(nmreq_header, nr_options, 72);
OFF(nmreq_header, nr_body, 80);
VAL(NETMAP_REQ_IFNAMSIZ, 64);
VAL(NETMAP_REQ_MAXSIZE, 4096);
SIZE(nmreq_option, 24);
OFF(nmreq_option, nro_next, 0);
OFF(nmreq_option, nro_reqtype, 8);
OFF(nmreq_option, nro_status, 12);
OFF(nmreq_option, nro_size, 16);

/* ---- reference 2.3: request types and bodies ------------------------- */
VAL(NETMAP_REQ_REGISTER, 1);
VAL(NETMAP_REQ_PORT_INFO_GET, 2);
VAL(NETMAP_REQ_VALE_ATTACH, 3);
VAL(NETMAP_REQ_VALE_DETACH, 4);
VAL(NETMAP_REQ_VALE_LIST, 5);
VAL(NETMAP_REQ_PORT_HDR_SET, 6);
VAL(NETMAP_REQ_PORT_HDR_GET, 7);
VAL(NETMAP_REQ_VALE_NEWIF, 8);
VAL(NETMAP_REQ_VALE_DELIF, 9);
VAL(NETMAP_REQ_VALE_POLLING_ENABLE, 10);
VAL(NETMAP_REQ_VALE_POLLING_DISABLE, 11);
VAL(NETMAP_REQ_POOLS_INFO_GET, 12);
VAL(NETMAP_REQ_SYNC_KLOOP_START, 13);
VAL(NETMAP_REQ_SYNC_KLOOP_STOP, 14);
VAL(NETMAP_REQ_CSB_ENABLE, 15);

SIZE(nmreq_register, 56);
OFF(nmreq_register, nr_offset, 0);
OFF(nmreq_register, nr_memsize, 8);
OFF(nmreq_register, nr_tx_slots, 16);
OFF(nmreq_register, nr_rx_slots, 20);
OFF(nmreq_register, nr_tx_rings, 24);
OFF(nmreq_register, nr_rx_rings, 26);
OFF(nmreq_register, nr_host_tx_rings, 28);
OFF(nmreq_register, nr_host_rx_rings, 30);
OFF(nmreq_register, nr_mem_id, 32);
OFF(nmreq_register, nr_ringid, 34);
OFF(nmreq_register, nr_mode, 36);
OFF(nmreq_register, nr_extra_bufs, 40);
OFF(nmreq_register, nr_flags, 48);

SIZE(nmreq_port_info_get, 32);
OFF(nmreq_port_info_get, nr_memsize, 0);
OFF(nmreq_port_info_get, nr_tx_slots, 8);
OFF(nmreq_port_info_get, nr_rx_slots, 12);
OFF(nmreq_port_info_get, nr_tx_rings, 16);
OFF(nmreq_port_info_get, nr_rx_rings, 18);
OFF(nmreq_port_info_get, nr_host_tx_rings, 20);
OFF(nmreq_port_info_get, nr_host_rx_rings, 22);
OFF(nmreq_port_info_get, nr_mem_id, 24);

SIZE(nmreq_vale_attach, 64);
OFF(nmreq_vale_attach, reg, 0);
OFF(nmreq_vale_attach, port_index, 56);

SIZE(nmreq_vale_detach, 8);
OFF(nmreq_vale_detach, port_index, 0);

SIZE(nmreq_vale_list, 8);
OFF(nmreq_vale_list, nr_bridge_idx, 0);
OFF(nmreq_vale_list, nr_port_idx, 4);

SIZE(nmreq_port_hdr, 8);
OFF(nmreq_port_hdr, nr_hdr_len, 0);

SIZE(nmreq_vale_newif, 16);
OFF(nmreq_vale_newif, nr_tx_slots, 0);
OFF(nmreq_vale_newif, nr_rx_slots, 4);
OFF(nmreq_vale_newif, nr_tx_rings, 8);
OFF(nmreq_vale_newif, nr_rx_rings, 10);
OFF(nmreq_vale_newif, nr_mem_id, 12);

SIZE(nmreq_vale_polling, 16);
OFF(nmreq_vale_polling, nr_mode, 0);
OFF(nmreq_vale_polling, nr_first_cpu_id, 4);
OFF(nmreq_vale_polling, nr_num_polling_cpus, 8);
VAL(NETMAP_POLLING_MODE_SINGLE_CPU, 1);
VAL(NETMAP_POLLING_MODE_MULTI_CPU, 2);

SIZE(nmreq_pools_info, 64);
OFF(nmreq_pools_info, nr_memsize, 0);
OFF(nmreq_pools_info, nr_mem_id, 8);
OFF(nmreq_pools_info, nr_if_pool_offset, 16);
OFF(nmreq_pools_info, nr_if_pool_objtotal, 24);
OFF(nmreq_pools_info, nr_if_pool_objsize, 28);
OFF(nmreq_pools_info, nr_ring_pool_offset, 32);
OFF(nmreq_pools_info, nr_ring_pool_objtotal, 40);
OFF(nmreq_pools_info, nr_ring_pool_objsize, 44);
OFF(nmreq_pools_info, nr_buf_pool_offset, 48);
OFF(nmreq_pools_info, nr_buf_pool_objtotal, 56);
OFF(nmreq_pools_info, nr_buf_pool_objsize, 60);

SIZE(nmreq_sync_kloop_start, 8);
OFF(nmreq_sync_kloop_start, sleep_us, 0);

/* ---- reference 2.4: options ------------------------------------------ */
VAL(NETMAP_REQ_OPT_EXTMEM, 1);
VAL(NETMAP_REQ_OPT_SYNC_KLOOP_EVENTFDS, 2);
VAL(NETMAP_REQ_OPT_CSB, 3);
VAL(NETMAP_REQ_OPT_SYNC_KLOOP_MODE, 4);
VAL(NETMAP_REQ_OPT_OFFSETS, 5);
VAL(NETMAP_REQ_OPT_MAX, 6);

SIZE(nmreq_opt_extmem, 96);
OFF(nmreq_opt_extmem, nro_opt, 0);
OFF(nmreq_opt_extmem, nro_usrptr, 24);
OFF(nmreq_opt_extmem, nro_info, 32);

SIZE(nmreq_opt_sync_kloop_eventfds, 24);
OFF(nmreq_opt_sync_kloop_eventfds, nro_opt, 0);
OFF(nmreq_opt_sync_kloop_eventfds, eventfds, 24);
_Static_assert(sizeof(((struct nmreq_opt_sync_kloop_eventfds *)0)->eventfds[0]) == 8,
	       "eventfds entry is 8 bytes");
OFF(nmreq_opt_sync_kloop_eventfds, eventfds[0].ioeventfd, 24);
OFF(nmreq_opt_sync_kloop_eventfds, eventfds[0].irqfd, 28);

SIZE(nmreq_opt_csb, 40);
OFF(nmreq_opt_csb, nro_opt, 0);
OFF(nmreq_opt_csb, csb_atok, 24);
OFF(nmreq_opt_csb, csb_ktoa, 32);

SIZE(nm_csb_atok, 64);
OFF(nm_csb_atok, head, 0);
OFF(nm_csb_atok, cur, 4);
OFF(nm_csb_atok, appl_need_kick, 8);
OFF(nm_csb_atok, sync_flags, 12);
SIZE(nm_csb_ktoa, 64);
OFF(nm_csb_ktoa, hwcur, 0);
OFF(nm_csb_ktoa, hwtail, 4);
OFF(nm_csb_ktoa, kern_need_kick, 8);

SIZE(nmreq_opt_sync_kloop_mode, 32);
OFF(nmreq_opt_sync_kloop_mode, nro_opt, 0);
OFF(nmreq_opt_sync_kloop_mode, mode, 24);
VAL(NM_OPT_SYNC_KLOOP_DIRECT_TX, 1);
VAL(NM_OPT_SYNC_KLOOP_DIRECT_RX, 2);

SIZE(nmreq_opt_offsets, 56);
OFF(nmreq_opt_offsets, nro_opt, 0);
OFF(nmreq_opt_offsets, nro_max_offset, 24);
OFF(nmreq_opt_offsets, nro_initial_offset, 32);
OFF(nmreq_opt_offsets, nro_offset_bits, 40);
OFF(nmreq_opt_offsets, nro_tx_align, 44);
OFF(nmreq_opt_offsets, nro_min_gap, 48);

/* ---- reference 2.5: modes and flags ---------------------------------- */
VAL(NR_REG_DEFAULT, 0);
VAL(NR_REG_ALL_NIC, 1);
VAL(NR_REG_SW, 2);
VAL(NR_REG_NIC_SW, 3);
VAL(NR_REG_ONE_NIC, 4);
VAL(NR_REG_PIPE_MASTER, 5);
VAL(NR_REG_PIPE_SLAVE, 6);
VAL(NR_REG_NULL, 7);
VAL(NR_REG_ONE_SW, 8);
VAL(NR_MONITOR_TX, 0x100);
VAL(NR_MONITOR_RX, 0x200);
VAL(NR_ZCOPY_MON, 0x400);
VAL(NR_EXCLUSIVE, 0x800);
VAL(NR_RX_RINGS_ONLY, 0x2000);
VAL(NR_TX_RINGS_ONLY, 0x4000);
VAL(NR_ACCEPT_VNET_HDR, 0x8000);
VAL(NR_DO_RX_POLL, 0x10000);
VAL(NR_NO_TX_POLL, 0x20000);

/* ---- reference 2.7: legacy struct nmreq ------------------------------ */
SIZE(nmreq, 60);
OFF(nmreq, nr_name, 0);
OFF(nmreq, nr_version, 16);
OFF(nmreq, nr_offset, 20);
OFF(nmreq, nr_memsize, 24);
OFF(nmreq, nr_tx_slots, 28);
OFF(nmreq, nr_rx_slots, 32);
OFF(nmreq, nr_tx_rings, 36);
OFF(nmreq, nr_rx_rings, 38);
OFF(nmreq, nr_ringid, 40);
OFF(nmreq, nr_cmd, 42);
OFF(nmreq, nr_arg1, 44);
OFF(nmreq, nr_arg2, 46);
OFF(nmreq, nr_arg3, 48);
OFF(nmreq, nr_flags, 52);
OFF(nmreq, spare2, 56);
VAL(NETMAP_HW_RING, 0x4000);
VAL(NETMAP_SW_RING, 0x2000);
VAL(NETMAP_NO_TX_POLL, 0x1000);
VAL(NETMAP_DO_RX_POLL, 0x8000);
VAL(NETMAP_RING_MASK, 0x0fff);
VAL(NR_REG_MASK, 0xf);
VAL(NETMAP_BDG_ATTACH, 1);
VAL(NETMAP_BDG_DETACH, 2);
VAL(NETMAP_BDG_REGOPS, 3);
VAL(NETMAP_BDG_LIST, 4);
VAL(NETMAP_BDG_VNET_HDR, 5);
VAL(NETMAP_BDG_NEWIF, 6);
VAL(NETMAP_BDG_DELIF, 7);
VAL(NETMAP_PT_HOST_CREATE, 8);
VAL(NETMAP_PT_HOST_DELETE, 9);
VAL(NETMAP_BDG_POLLING_ON, 10);
VAL(NETMAP_BDG_POLLING_OFF, 11);
VAL(NETMAP_VNET_HDR_GET, 12);
VAL(NETMAP_BDG_HOST, 1);

/* ---- reference 3.2: legacy library ----------------------------------- */
SIZE(nm_desc, 760);
OFF(nm_desc, self, 0);
OFF(nm_desc, fd, 8);
OFF(nm_desc, mem, 16);
OFF(nm_desc, memsize, 24);
OFF(nm_desc, done_mmap, 32);
OFF(nm_desc, nifp, 40);
OFF(nm_desc, first_tx_ring, 48);
OFF(nm_desc, last_tx_ring, 50);
OFF(nm_desc, cur_tx_ring, 52);
OFF(nm_desc, first_rx_ring, 54);
OFF(nm_desc, last_rx_ring, 56);
OFF(nm_desc, cur_rx_ring, 58);
OFF(nm_desc, req, 60);
OFF(nm_desc, hdr, 120);
OFF(nm_desc, some_ring, 176);
OFF(nm_desc, buf_start, 184);
OFF(nm_desc, buf_end, 192);
OFF(nm_desc, snaplen, 200);
OFF(nm_desc, promisc, 204);
OFF(nm_desc, to_ms, 208);
OFF(nm_desc, errbuf, 216);
OFF(nm_desc, if_flags, 224);
OFF(nm_desc, if_reqcap, 228);
OFF(nm_desc, if_curcap, 232);
OFF(nm_desc, st, 236);
OFF(nm_desc, msg, 248);
SIZE(nm_pkthdr, 56);
OFF(nm_pkthdr, ts, 0);
OFF(nm_pkthdr, caplen, 16);
OFF(nm_pkthdr, len, 20);
OFF(nm_pkthdr, flags, 24);
OFF(nm_pkthdr, d, 32);
OFF(nm_pkthdr, slot, 40);
OFF(nm_pkthdr, buf, 48);
SIZE(nm_stat, 12);
VAL(NM_ERRBUF_SIZE, 512);
VAL(NM_OPEN_NO_MMAP, 0x040000);
VAL(NM_OPEN_IFNAME, 0x080000);
VAL(NM_OPEN_ARG1, 0x100000);
VAL(NM_OPEN_ARG2, 0x200000);
VAL(NM_OPEN_ARG3, 0x400000);
VAL(NM_OPEN_RING_CFG, 0x800000);
VAL(NM_MORE_PKTS, 1);

/* ====================================================================== */
/* Hand-built region: netmap_if at 0, TX ring at 512, RX ring at 1024,     */
/* buffers (BUFSZ bytes each) from 2048. One hw + one (unbound) host ring  */
/* per direction.                                                          */
/* ====================================================================== */

#define NSLOTS		8
#define BUFSZ		256
#define NBUFS		56	/* region is 16 KiB, a multiple of 4096 */
#define TX_OFS		512
#define RX_OFS		1024
#define BUF_OFS		2048
#define REGION_SIZE	(BUF_OFS + NBUFS * BUFSZ)

/* stores into fields the headers declare const (the "kernel" side) */
#define SET_CONST(lvalue, type, v)	(*(type *)(uintptr_t)&(lvalue) = (v))

static char *region;

static struct netmap_ring *
init_ring(size_t ofs, uint16_t ringid, uint16_t dir, uint32_t first_buf)
{
	struct netmap_ring *r = (struct netmap_ring *)(void *)(region + ofs);
	uint32_t i;

	SET_CONST(r->buf_ofs, int64_t, (int64_t)BUF_OFS - (int64_t)ofs);
	SET_CONST(r->num_slots, uint32_t, NSLOTS);
	SET_CONST(r->nr_buf_size, uint32_t, BUFSZ);
	SET_CONST(r->ringid, uint16_t, ringid);
	SET_CONST(r->dir, uint16_t, dir);
	for (i = 0; i < NSLOTS; i++) {
		r->slot[i].buf_idx = first_buf + i;
		r->slot[i].len = BUFSZ;
		r->slot[i].flags = 0;
		r->slot[i].ptr = 0;
	}
	return r;
}

static void
init_region(void)
{
	struct netmap_if *nifp;

	region = aligned_alloc(4096, REGION_SIZE);
	REQUIRE(region != NULL, "aligned_alloc failed");
	memset(region, 0, REGION_SIZE);
	nifp = (struct netmap_if *)(void *)region;
	strcpy(nifp->ni_name, "test0");
	SET_CONST(nifp->ni_tx_rings, uint32_t, 1);
	SET_CONST(nifp->ni_rx_rings, uint32_t, 1);
	SET_CONST(nifp->ni_host_tx_rings, uint32_t, 1);
	SET_CONST(nifp->ni_host_rx_rings, uint32_t, 1);
	/* order: hw TX, host TX, hw RX, host RX; host rings not bound (0) */
	SET_CONST(nifp->ring_ofs[0], ssize_t, TX_OFS);
	SET_CONST(nifp->ring_ofs[1], ssize_t, 0);
	SET_CONST(nifp->ring_ofs[2], ssize_t, RX_OFS);
	SET_CONST(nifp->ring_ofs[3], ssize_t, 0);
	init_ring(TX_OFS, 0, 1, 2);
	init_ring(RX_OFS, 0, 0, 2 + NSLOTS);
}

static void
test_address_helpers(void)
{
	struct netmap_if *nifp = NETMAP_IF(region, 0);
	struct netmap_ring *tx, *rx;
	struct netmap_slot *s;
	char *b;

	CHECK((char *)nifp == region, "NETMAP_IF");
	CHECK((char *)NETMAP_IF(region, 64) == region + 64, "NETMAP_IF offset");
	tx = NETMAP_TXRING(nifp, 0);
	rx = NETMAP_RXRING(nifp, 0);
	CHECK((char *)tx == region + TX_OFS, "TXRING at %td", (char *)tx - region);
	CHECK((char *)rx == region + RX_OFS, "RXRING at %td", (char *)rx - region);
	/* host rings are not bound: offset 0 leads back to the netmap_if */
	CHECK((void *)NETMAP_TXRING(nifp, 1) == (void *)nifp, "host TX unbound");
	CHECK((void *)NETMAP_RXRING(nifp, 1) == (void *)nifp, "host RX unbound");

	b = NETMAP_BUF(tx, 3);
	CHECK(b == region + BUF_OFS + 3 * BUFSZ, "NETMAP_BUF tx");
	CHECK(NETMAP_BUF(rx, 3) == b, "any ring translates any index");
	CHECK(NETMAP_BUF_IDX(tx, b) == 3, "NETMAP_BUF_IDX tx");
	CHECK(NETMAP_BUF_IDX(rx, region + BUF_OFS + 17 * BUFSZ) == 17,
	      "NETMAP_BUF_IDX rx");
	CHECK(NETMAP_BUF(tx, 0) == region + BUF_OFS, "buffer 0");

	/* offsets */
	s = &tx->slot[2];
	CHECK(NETMAP_ROFFSET(tx, s) == 0, "no offset_mask -> offset 0");
	SET_CONST(tx->offset_mask, uint64_t, 0xff);
	s->ptr = 0xabcd00 | 0x12;
	CHECK(NETMAP_ROFFSET(tx, s) == 0x12, "ROFFSET");
	NETMAP_WOFFSET(tx, s, 0x34);
	CHECK(s->ptr == 0xabcd34, "WOFFSET keeps high bits: %llx",
	      (unsigned long long)s->ptr);
	NETMAP_WOFFSET(tx, s, 0x1ff);
	CHECK(s->ptr == 0xabcdff, "WOFFSET masks the offset");
	NETMAP_WOFFSET(tx, s, 0x34);
	CHECK(NETMAP_BUF_OFFSET(tx, s) == NETMAP_BUF(tx, s->buf_idx) + 0x34,
	      "BUF_OFFSET");
	SET_CONST(tx->offset_mask, uint64_t, 0);
	s->ptr = 0;

	/* slot flag helpers */
	s->flags = (uint16_t)((5 << NS_PORT_SHIFT) | NS_MOREFRAG);
	CHECK(NS_RFRAGS(s) == 5, "NS_RFRAGS");
	CHECK(NS_PORT(s) == 5, "NS_PORT");
	s->flags = 0;
}

static void
test_ring_helpers(void)
{
	struct netmap_ring *r = NETMAP_TXRING(NETMAP_IF(region, 0), 0);

	CHECK(nm_ring_next(r, 0) == 1, "next(0)");
	CHECK(nm_ring_next(r, 3) == 4, "next(3)");
	CHECK(nm_ring_next(r, NSLOTS - 1) == 0, "next wraps");

	r->head = r->cur = 0;
	r->tail = 0;
	CHECK(nm_ring_empty(r), "head == tail is empty");
	CHECK(nm_ring_space(r) == 0, "space 0");
	r->tail = 5;
	CHECK(!nm_ring_empty(r), "not empty");
	CHECK(nm_ring_space(r) == 5, "space 5, got %u", nm_ring_space(r));
	r->head = 6;
	r->tail = 2;
	CHECK(nm_ring_space(r) == 4, "space wraps, got %u", nm_ring_space(r));
	/* cur beyond head does not change emptiness/space (head based) */
	r->head = 2;
	r->cur = 4;
	r->tail = 4;
	CHECK(!nm_ring_empty(r) && nm_ring_space(r) == 2, "head based");

	/* TX pending: drained ring has head == next(tail) */
	r->head = r->cur = 0;
	r->tail = NSLOTS - 1;
	CHECK(!nm_tx_pending(r), "full TX ring: nothing pending");
	r->head = r->cur = 3;
	CHECK(nm_tx_pending(r), "slots in flight");
	r->tail = 2;
	CHECK(!nm_tx_pending(r), "drained again");
	r->head = r->cur = 0;
	r->tail = NSLOTS - 1;
}

static void
test_pkt_copy(void)
{
	unsigned char src[2048], dst[2048];
	int lens[] = { 0, 1, 60, 64, 100, 128, 960, 1024, 1500, 2048 };
	size_t k;
	int i;

	for (i = 0; i < (int)sizeof(src); i++)
		src[i] = (unsigned char)(i * 7 + 3);
	for (k = 0; k < sizeof(lens) / sizeof(lens[0]); k++) {
		int l = lens[k];

		memset(dst, 0xee, sizeof(dst));
		nm_pkt_copy(src, dst, l);
		CHECK(memcmp(src, dst, (size_t)l) == 0, "copy %d bytes", l);
		if (l < (int)sizeof(dst))
			CHECK(dst[l] == 0xee, "copy %d wrote past the end", l);
	}
}

/* ---- legacy library on the hand-built region ------------------------- */

struct seen {
	int n;
	uint32_t len[8], caplen[8];
	uint64_t flags[8];
	const unsigned char *buf[8];
	struct timeval ts[8];
	const struct nm_desc *d[8];
};

static void
record_cb(unsigned char *arg, const struct nm_pkthdr *h, const unsigned char *buf)
{
	struct seen *sn = (struct seen *)(void *)arg;

	if (sn->n < 8) {
		sn->len[sn->n] = h->len;
		sn->caplen[sn->n] = h->caplen;
		sn->flags[sn->n] = h->flags;
		sn->buf[sn->n] = buf;
		sn->ts[sn->n] = h->ts;
		sn->d[sn->n] = h->d;
	}
	sn->n++;
}

static struct nm_desc *
fake_desc(struct nm_desc *parent)
{
	struct nm_desc *d = calloc(1, sizeof(*d));

	REQUIRE(d != NULL, "calloc");
	d->self = d;
	d->fd = -1;
	d->req.nr_offset = 0;
	d->req.nr_memsize = REGION_SIZE;
	d->req.nr_tx_rings = 1;
	d->req.nr_rx_rings = 1;
	d->first_tx_ring = d->last_tx_ring = d->cur_tx_ring = 0;
	d->first_rx_ring = d->last_rx_ring = d->cur_rx_ring = 0;
	if (parent != NULL) {
		/* inherit the parent's mapping: no mmap() call */
		CHECK(nm_mmap(d, parent) == 0, "nm_mmap inherit");
		CHECK(d->done_mmap == 0, "inherited mapping is not ours");
	}
	return d;
}

static void
test_legacy_lib(void)
{
	struct nm_desc *parent, *d;
	struct netmap_ring *tx, *rx;
	struct nm_pkthdr h;
	struct seen sn;
	unsigned char pkt[1024], *p;
	int i, n;

	parent = calloc(1, sizeof(*parent));
	REQUIRE(parent != NULL, "calloc");
	parent->self = parent;
	parent->fd = -1;
	parent->mem = region;
	parent->memsize = REGION_SIZE;

	CHECK(!IS_NETMAP_DESC(NULL), "NULL is not a descriptor");
	d = fake_desc(parent);
	CHECK(IS_NETMAP_DESC(d), "IS_NETMAP_DESC");
	CHECK(NETMAP_FD(d) == -1, "NETMAP_FD");
	CHECK(d->mem == region && d->memsize == REGION_SIZE, "mem/memsize");
	CHECK((char *)d->nifp == region, "nifp");
	CHECK((char *)d->some_ring == region + RX_OFS, "some_ring is RX ring");
	CHECK((char *)d->buf_start == region + BUF_OFS, "buf_start");
	CHECK((char *)d->buf_end == region + REGION_SIZE, "buf_end");

	tx = NETMAP_TXRING(d->nifp, 0);
	rx = NETMAP_RXRING(d->nifp, 0);

	/* -- nm_dispatch: single slot, contiguous 2-slot chain, single slot */
	rx->head = rx->cur = 0;
	rx->tail = 4;
	rx->ts.tv_sec = 123;
	rx->ts.tv_usec = 456;
	rx->slot[0].len = 60;
	rx->slot[1].buf_idx = 20;
	rx->slot[1].len = BUFSZ;
	rx->slot[1].flags = NS_MOREFRAG;
	rx->slot[2].buf_idx = 21;	/* right after 20: contiguous */
	rx->slot[2].len = 40;
	rx->slot[3].len = 70;
	memset(&sn, 0, sizeof(sn));
	n = nm_dispatch(d, 0, record_cb, (unsigned char *)&sn);
	CHECK(n == 3, "dispatch got %d", n);
	CHECK(sn.n == 3, "callbacks %d", sn.n);
	CHECK(sn.len[0] == 60 && sn.caplen[0] == 60, "pkt0 len");
	CHECK(sn.len[1] == BUFSZ + 40, "pkt1 len %u", sn.len[1]);
	CHECK(sn.caplen[1] == BUFSZ + 40, "pkt1 caplen %u", sn.caplen[1]);
	CHECK(sn.len[2] == 70 && sn.caplen[2] == 70, "pkt2 len");
	CHECK(sn.buf[0] == (unsigned char *)NETMAP_BUF(rx, rx->slot[0].buf_idx),
	      "pkt0 buf");
	CHECK(sn.buf[1] == (unsigned char *)NETMAP_BUF(rx, 20), "pkt1 buf");
	CHECK(sn.flags[0] == NM_MORE_PKTS && sn.flags[1] == NM_MORE_PKTS &&
	      sn.flags[2] == 0, "NM_MORE_PKTS on all but the last");
	for (i = 0; i < 3; i++) {
		CHECK(sn.ts[i].tv_sec == 123 && sn.ts[i].tv_usec == 456,
		      "ts of pkt %d", i);
		CHECK(sn.d[i] == d, "hdr.d of pkt %d", i);
	}
	CHECK(rx->head == 4 && rx->cur == 4, "dispatch released all slots");
	memset(&sn, 0, sizeof(sn));
	CHECK(nm_dispatch(d, -1, record_cb, (unsigned char *)&sn) == 0 &&
	      sn.n == 0, "empty ring dispatches nothing");

	/* non-contiguous chain: caplen stops at the first fragment */
	rx->tail = 6;
	rx->slot[4].buf_idx = 25;
	rx->slot[4].len = BUFSZ;
	rx->slot[4].flags = NS_MOREFRAG;
	rx->slot[5].buf_idx = 30;
	rx->slot[5].len = 10;
	rx->slot[5].flags = 0;
	memset(&sn, 0, sizeof(sn));
	n = nm_dispatch(d, 1, record_cb, (unsigned char *)&sn);
	CHECK(n == 1 && sn.n == 1, "one packet");
	CHECK(sn.len[0] == BUFSZ + 10 && sn.caplen[0] == BUFSZ,
	      "non-contiguous: len %u caplen %u", sn.len[0], sn.caplen[0]);
	CHECK(rx->head == 6 && rx->cur == 6, "released");

	/* cnt limits the number of packets */
	rx->tail = 1;		/* slots 6, 7, 0 */
	rx->slot[6].len = 1;
	rx->slot[7].len = 2;
	rx->slot[0].len = 3;
	rx->slot[6].flags = rx->slot[7].flags = rx->slot[0].flags = 0;
	memset(&sn, 0, sizeof(sn));
	n = nm_dispatch(d, 2, record_cb, (unsigned char *)&sn);
	CHECK(n == 2 && sn.n == 2 && sn.len[0] == 1 && sn.len[1] == 2,
	      "cnt=2 gives 2 packets (got %d)", n);
	CHECK(rx->head == 0, "two slots released, wrapped to 0");

	/* -- nm_nextpkt */
	memset(&h, 0, sizeof(h));
	p = nm_nextpkt(d, &h);
	CHECK(p == (unsigned char *)NETMAP_BUF(rx, rx->slot[0].buf_idx),
	      "nextpkt buf");
	CHECK(h.len == 3 && h.caplen == 3 && h.ts.tv_sec == 123, "nextpkt hdr");
	CHECK(rx->head == 1 && rx->cur == 1, "nextpkt released the slot");
	CHECK(nm_nextpkt(d, &h) == NULL, "nextpkt on empty ring");

	/* -- nm_inject */
	for (i = 0; i < (int)sizeof(pkt); i++)
		pkt[i] = (unsigned char)(i ^ 0x5a);
	tx->head = tx->cur = 0;
	tx->tail = NSLOTS - 1;	/* 7 free slots */
	n = nm_inject(d, pkt, 100);
	CHECK(n == 100, "inject returns size, got %d", n);
	CHECK(tx->slot[0].len == 100 && tx->slot[0].flags == 0, "slot 0");
	CHECK(memcmp(NETMAP_BUF(tx, tx->slot[0].buf_idx), pkt, 100) == 0,
	      "slot 0 data");
	CHECK(tx->head == 1 && tx->cur == 1, "head/cur advanced");

	n = nm_inject(d, pkt, 600);	/* 256 + 256 + 88 */
	CHECK(n == 600, "inject 600 got %d", n);
	CHECK(tx->slot[1].len == BUFSZ && tx->slot[1].flags == NS_MOREFRAG,
	      "frag 1");
	CHECK(tx->slot[2].len == BUFSZ && tx->slot[2].flags == NS_MOREFRAG,
	      "frag 2");
	CHECK(tx->slot[3].len == 88 && tx->slot[3].flags == 0, "last frag");
	CHECK(memcmp(NETMAP_BUF(tx, tx->slot[1].buf_idx), pkt, BUFSZ) == 0 &&
	      memcmp(NETMAP_BUF(tx, tx->slot[2].buf_idx), pkt + BUFSZ,
		     BUFSZ) == 0 &&
	      memcmp(NETMAP_BUF(tx, tx->slot[3].buf_idx), pkt + 2 * BUFSZ,
		     88) == 0, "fragment data");
	CHECK(tx->head == 4 && tx->cur == 4, "head after 3 slots");

	CHECK(nm_inject(d, pkt, 1000) == 0, "4 slots needed, 3 free -> 0");
	CHECK(tx->head == 4 && tx->cur == 4, "failed inject leaves ring alone");
	CHECK(nm_inject(d, pkt, 700) == 700, "3 slots fit exactly");
	CHECK(tx->head == NSLOTS - 1 && tx->head == tx->tail, "ring now full");
	CHECK(nm_inject(d, pkt, 10) == 0, "full ring -> 0");
	CHECK(nm_inject(d, pkt, 0) == 0, "full ring, empty packet -> 0");

	/* -- nm_close */
	CHECK(nm_close(d) == 0, "nm_close");
	CHECK(nm_close(NULL) == EINVAL, "nm_close(NULL)");
	CHECK(nm_close(parent) == 0, "nm_close parent (not mapped by it)");
}

/* ---- nm_parse / nm_open name handling -------------------------------- */

struct parse_case {
	const char *spec;
	const char *name;	/* NULL: must fail */
	uint32_t flags;
	uint16_t ringid;
	uint16_t memid;
};

static const struct parse_case parse_cases[] = {
	{ "netmap:eth0", "eth0", NR_REG_ALL_NIC, 0, 0 },
	{ "netmap:eth0-3", "eth0", NR_REG_ONE_NIC, 3, 0 },
	{ "netmap:eth0-4094", "eth0", NR_REG_ONE_NIC, 4094, 0 },
	{ "netmap:eth0^", "eth0", NR_REG_SW, 0, 0 },
	{ "netmap:eth0*", "eth0", NR_REG_NIC_SW, 0, 0 },
	{ "netmap:pipeA{1", "pipeA", NR_REG_PIPE_MASTER, 1, 0 },
	{ "netmap:pipeA}12", "pipeA", NR_REG_PIPE_SLAVE, 12, 0 },
	{ "netmap:eth0/xzt", "eth0",
	  NR_REG_ALL_NIC | NR_EXCLUSIVE | NR_ZCOPY_MON | NR_MONITOR_TX, 0, 0 },
	{ "netmap:eth0-2/rRT", "eth0",
	  NR_REG_ONE_NIC | NR_MONITOR_RX | NR_RX_RINGS_ONLY | NR_TX_RINGS_ONLY,
	  2, 0 },
	{ "netmap:eth0@2", "eth0", NR_REG_ALL_NIC, 0, 2 },
	{ "netmap:eth0@2/R", "eth0", NR_REG_ALL_NIC | NR_RX_RINGS_ONLY, 0, 2 },
	{ "netmap:eth0/R@3", "eth0", NR_REG_ALL_NIC | NR_RX_RINGS_ONLY, 0, 3 },
	{ "netmap:eth0.5", "eth0.5", NR_REG_ALL_NIC, 0, 0 },
	{ "netmap:vale0:0", "vale0:0", NR_REG_ALL_NIC, 0, 0 },
	{ "vale0:p", "vale0:p", NR_REG_ALL_NIC, 0, 0 },
	{ "vale:1-2", "vale:1", NR_REG_ONE_NIC, 2, 0 },
	{ "valeXX:YY_1{3/xT@4", "valeXX:YY_1",
	  NR_REG_PIPE_MASTER | NR_EXCLUSIVE | NR_TX_RINGS_ONLY, 3, 4 },
	{ "netmap:", NULL, 0, 0, 0 },
	{ "netmap:^", NULL, 0, 0, 0 },
	{ "netmap:eth0-", NULL, 0, 0, 0 },
	{ "netmap:eth0-x", NULL, 0, 0, 0 },
	{ "netmap:eth0-4095", NULL, 0, 0, 0 },
	{ "netmap:eth0^3", NULL, 0, 0, 0 },
	{ "netmap:eth0*-2", NULL, 0, 0, 0 },
	{ "netmap:eth0{", NULL, 0, 0, 0 },
	{ "netmap:eth0/", NULL, 0, 0, 0 },
	{ "netmap:eth0/q", NULL, 0, 0, 0 },
	{ "netmap:eth0@", NULL, 0, 0, 0 },
	{ "netmap:eth0@0", NULL, 0, 0, 0 },
	{ "netmap:eth0@1@1", NULL, 0, 0, 0 },
	{ "netmap:eth0@2/R@3", NULL, 0, 0, 0 },
	{ "netmap:a23456789012345", "a23456789012345", NR_REG_ALL_NIC, 0, 0 },
	{ "vale0p", NULL, 0, 0, 0 },
	{ "vale-0:p", NULL, 0, 0, 0 },
	{ "vale0:p.q", NULL, 0, 0, 0 },
	{ "vale0:", NULL, 0, 0, 0 },
	{ "eth0", NULL, 0, 0, 0 },
};

static void
test_parse(void)
{
	size_t k;

	for (k = 0; k < sizeof(parse_cases) / sizeof(parse_cases[0]); k++) {
		const struct parse_case *c = &parse_cases[k];
		struct nm_desc *d = calloc(1, sizeof(*d));
		char err[MAXERRMSG];
		int r;

		REQUIRE(d != NULL, "calloc");
		err[0] = '\0';
		errno = 0;
		r = nm_parse(c->spec, d, err);
		if (c->name == NULL) {
			CHECK(r == -1 && errno == EINVAL,
			      "%s: want EINVAL, got %d/%d", c->spec, r, errno);
			CHECK(err[0] != '\0', "%s: no error message", c->spec);
		} else {
			CHECK(r == 0, "%s: failed (%s)", c->spec, err);
			CHECK(strcmp(d->req.nr_name, c->name) == 0,
			      "%s: name '%s'", c->spec, d->req.nr_name);
			CHECK(d->req.nr_flags == c->flags, "%s: flags %#x",
			      c->spec, d->req.nr_flags);
			CHECK(d->req.nr_ringid == c->ringid, "%s: ringid %u",
			      c->spec, d->req.nr_ringid);
			CHECK(d->req.nr_arg2 == c->memid, "%s: memid %u",
			      c->spec, d->req.nr_arg2);
			CHECK(d->self == d, "%s: self", c->spec);
		}
		free(d);
	}

	/* 16 characters do not fit */
	{
		struct nm_desc *d = calloc(1, sizeof(*d));

		REQUIRE(d != NULL, "calloc");
		errno = 0;
		CHECK(nm_parse("netmap:a234567890123456", d, NULL) == -1 &&
		      errno == EINVAL, "16-char name rejected");
		free(d);
	}

	/* names that are not netmap names: NULL with errno 0, no syscalls */
	errno = 1234;
	CHECK(nm_open("eth0", NULL, 0, NULL) == NULL && errno == 0,
	      "plain name -> NULL/0 (errno %d)", errno);
	errno = 1234;
	CHECK(nm_open("", NULL, 0, NULL) == NULL && errno == 0,
	      "empty name -> NULL/0");
	errno = 1234;
	CHECK(nm_open("netmapX:eth0", NULL, 0, NULL) == NULL && errno == 0,
	      "netmapX: -> NULL/0");
}

int
main(void)
{
	init_region();
	test_address_helpers();
	test_ring_helpers();
	test_pkt_copy();
	test_legacy_lib();
	test_parse();
	free(region);
	return t_done();
}
