/* Description: NR_REG_NULL ports: mem_id required/validated, verbatim ring geometry in an existing region, valid rings and buffers, no-op syncs, zero rings accepted, resources returned at close. */
#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <libnetmap.h>
#include <unetmap.h>
#include "testlib.h"

#define NTX 2
#define NRX 3
#define SLOTS 64

static int nm_fd(void)
{
	int fd = open("/dev/netmap", O_RDWR);
	REQUIRE(fd >= 0, "open /dev/netmap: %s", strerror(errno));
	return fd;
}

static int reg_null(int fd, const char *name, uint16_t mem, struct nmreq_register *reg,
		    uint16_t ntx, uint16_t nrx, uint32_t slots)
{
	struct nmreq_header h;
	memset(reg, 0, sizeof(*reg));
	reg->nr_mode = NR_REG_NULL;
	reg->nr_mem_id = mem;
	reg->nr_tx_rings = ntx;
	reg->nr_rx_rings = nrx;
	reg->nr_tx_slots = reg->nr_rx_slots = slots;
	memset(&h, 0, sizeof(h));
	h.nr_version = NETMAP_API;
	h.nr_reqtype = NETMAP_REQ_REGISTER;
	snprintf(h.nr_name, sizeof(h.nr_name), "%s", name);
	h.nr_body = (uintptr_t)reg;
	return ioctl(fd, NIOCCTRL, &h);
}

static struct unetmap_mem_stats stats(uint16_t id)
{
	struct unetmap_mem_stats st;
	int ret = unetmap_mem_stats(id, &st);
	REQUIRE(ret == 0, "mem stats %u: %s", id, strerror(-ret));
	return st;
}

int main(void)
{
	t_setup(60);
	struct nmreq_register reg;

	/* a pipe provides the region */
	struct nmport_d *pp = nmport_open("netmap:np{1@conf:slots=128");
	REQUIRE(pp != NULL, "open np{1: %s", strerror(errno));
	uint16_t mem = pp->reg.nr_mem_id;
	struct unetmap_mem_stats s0 = stats(mem);

	/* ---- mem_id required and must exist ---- */
	int fd = nm_fd();
	CHECK_ERRNO(reg_null(fd, "nz", 0, &reg, NTX, NRX, SLOTS), EINVAL);
	CHECK_ERRNO(reg_null(fd, "nz", 60000, &reg, NTX, NRX, SLOTS), EINVAL);
	CHECK_ERRNO(reg_null(fd, "nz", (uint16_t)(mem + 100), &reg, NTX, NRX, SLOTS), EINVAL);
	errno = 0;
	CHECK(ioctl(fd, NIOCTXSYNC, NULL) == -1 && errno == ENXIO, "fd bound after EINVAL");
	struct unetmap_mem_stats sx = stats(mem);
	CHECK(sx.buf_free == s0.buf_free && sx.ring_free == s0.ring_free &&
	      sx.if_free == s0.if_free, "failed registrations consumed resources");

	/* ---- a null port in the pipe's region ---- */
	REQUIRE(reg_null(fd, "nz", mem, &reg, NTX, NRX, SLOTS) == 0, "null register: %s",
		strerror(errno));
	CHECK(reg.nr_tx_rings == NTX && reg.nr_rx_rings == NRX, "reply rings %u/%u",
	      reg.nr_tx_rings, reg.nr_rx_rings);
	CHECK(reg.nr_tx_slots == SLOTS && reg.nr_rx_slots == SLOTS, "reply slots %u/%u",
	      reg.nr_tx_slots, reg.nr_rx_slots);
	CHECK(reg.nr_host_tx_rings == 0 && reg.nr_host_rx_rings == 0, "reply host rings %u/%u",
	      reg.nr_host_tx_rings, reg.nr_host_rx_rings);
	CHECK(reg.nr_mem_id == mem, "reply mem_id %u, want %u", reg.nr_mem_id, mem);
	CHECK(reg.nr_memsize == pp->reg.nr_memsize, "reply memsize %llu vs %llu",
	      (unsigned long long)reg.nr_memsize, (unsigned long long)pp->reg.nr_memsize);
	CHECK(reg.nr_mode == NR_REG_NULL, "mode changed to %u", reg.nr_mode);
	struct unetmap_mem_stats s1 = stats(mem);
	CHECK(s1.buf_free == s0.buf_free - (NTX + NRX) * SLOTS, "buf_free %u, want %u - %u",
	      s1.buf_free, s0.buf_free, (NTX + NRX) * SLOTS);
	CHECK(s1.ring_free == s0.ring_free - (NTX + NRX), "ring_free %u, want %u - %u",
	      s1.ring_free, s0.ring_free, NTX + NRX);
	CHECK(s1.if_free == s0.if_free - 1, "if_free %u, want %u - 1", s1.if_free, s0.if_free);

	size_t ms = (size_t)reg.nr_memsize;
	char *base = mmap(NULL, ms, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	REQUIRE(base != MAP_FAILED, "mmap: %s", strerror(errno));
	struct netmap_if *nifp = NETMAP_IF(base, reg.nr_offset);
	CHECK(strcmp(nifp->ni_name, "null:nz") == 0, "ni_name '%.16s'", nifp->ni_name);
	CHECK(nifp->ni_tx_rings == NTX && nifp->ni_rx_rings == NRX, "ni rings %u/%u",
	      nifp->ni_tx_rings, nifp->ni_rx_rings);
	CHECK(nifp->ni_host_tx_rings == 1 && nifp->ni_host_rx_rings == 1, "ni host %u/%u",
	      nifp->ni_host_tx_rings, nifp->ni_host_rx_rings);
	CHECK(nifp->ni_flags & NI_PRIV_MEM, "private region without NI_PRIV_MEM");
	for (int i = 0; i < NTX; i++)
		CHECK(nifp->ring_ofs[i] != 0, "tx ring_ofs[%d] = 0", i);
	CHECK(nifp->ring_ofs[NTX] == 0, "host tx ring_ofs %zd", nifp->ring_ofs[NTX]);
	for (int i = 0; i < NRX; i++)
		CHECK(nifp->ring_ofs[NTX + 1 + i] != 0, "rx ring_ofs[%d] = 0", i);
	CHECK(nifp->ring_ofs[NTX + 1 + NRX] == 0, "host rx ring_ofs %zd",
	      nifp->ring_ofs[NTX + 1 + NRX]);

	/* rings and buffers: valid, distinct, not shared with the pipe */
	static uint8_t seen[1 << 20];
	struct netmap_ring *pt = NETMAP_TXRING(pp->nifp, 0), *pr = NETMAP_RXRING(pp->nifp, 0);
	char *pbase = (char *)pp->nifp - pp->reg.nr_offset;	/* libnetmap's mapping */
	for (unsigned j = 0; j < pt->num_slots; j++) {
		if (pt->slot[j].buf_idx < sizeof(seen))
			seen[pt->slot[j].buf_idx] = 1;
	}
	int bad = 0;
	for (int d = 0; d < 2; d++) {
		for (int i = 0; i < (d ? NRX : NTX); i++) {
			struct netmap_ring *r = d ? NETMAP_RXRING(nifp, i) : NETMAP_TXRING(nifp, i);
			if (nifp->ring_ofs[d ? NTX + 1 + i : i] == 0)
				continue;
			CHECK((char *)r > base && (char *)r < base + ms, "ring outside the region");
			CHECK(r->num_slots == SLOTS, "%s ring %d: %u slots", d ? "rx" : "tx", i,
			      r->num_slots);
			CHECK(r->dir == (d ? 0 : 1), "%s ring %d dir %u", d ? "rx" : "tx", i, r->dir);
			CHECK(r->ringid == i, "ring %d ringid %u", i, r->ringid);
			CHECK(r->head == 0 && r->cur == 0 && r->tail == (d ? 0U : SLOTS - 1),
			      "%s ring %d head/cur/tail %u/%u/%u", d ? "rx" : "tx", i, r->head,
			      r->cur, r->tail);
			/* same region, mapped twice: compare offsets */
			CHECK((char *)r - base + r->buf_ofs == (char *)pt - pbase + pt->buf_ofs,
			      "buffer pool differs from the pipe's");
			for (unsigned j = 0; j < SLOTS; j++) {
				uint32_t idx = r->slot[j].buf_idx;
				if (idx < 2 || idx >= s0.buf_total || idx >= sizeof(seen) || seen[idx]) {
					if (bad++ < 5)
						CHECK(0, "%s ring %d slot %u: buf_idx %u invalid or "
						      "duplicate", d ? "rx" : "tx", i, j, idx);
					continue;
				}
				seen[idx] = 1;
				char *buf = NETMAP_BUF(r, idx);
				if (buf - base != NETMAP_BUF(pr, idx) - pbase && bad++ < 5)
					CHECK(0, "buffer %u: offset %td via null ring, %td via pipe",
					      idx, buf - base, NETMAP_BUF(pr, idx) - pbase);
				memset(buf, 0x5c, r->nr_buf_size);	/* writable */
			}
		}
	}

	/* syncs are accepted and change nothing */
	struct netmap_ring *t0 = NETMAP_TXRING(nifp, 0), *r0 = NETMAP_RXRING(nifp, 0);
	t0->head = t0->cur = 5;
	t0->slot[0].len = 60;
	r0->head = r0->cur = 0;
	struct netmap_slot tsnap[SLOTS], rsnap[SLOTS];
	memcpy(tsnap, t0->slot, sizeof(tsnap));
	memcpy(rsnap, r0->slot, sizeof(rsnap));
	for (int k = 0; k < 3; k++) {
		CHECK(ioctl(fd, NIOCTXSYNC, NULL) == 0, "null txsync: %s", strerror(errno));
		CHECK(ioctl(fd, NIOCRXSYNC, NULL) == 0, "null rxsync: %s", strerror(errno));
	}
	CHECK(t0->head == 5 && t0->cur == 5 && t0->tail == SLOTS - 1, "tx after sync %u/%u/%u",
	      t0->head, t0->cur, t0->tail);
	CHECK(r0->head == 0 && r0->cur == 0 && r0->tail == 0, "rx after sync %u/%u/%u", r0->head,
	      r0->cur, r0->tail);
	CHECK(memcmp(tsnap, t0->slot, sizeof(tsnap)) == 0, "txsync changed tx slots");
	CHECK(memcmp(rsnap, r0->slot, sizeof(rsnap)) == 0, "rxsync changed rx slots");
	struct netmap_ring *t1 = NETMAP_TXRING(nifp, 1);
	CHECK(t1->head == 0 && t1->tail == SLOTS - 1, "tx ring 1 %u/%u", t1->head, t1->tail);
	/* the pipe that shares the region is unaffected */
	CHECK(pt->head == 0 && pt->tail == pt->num_slots - 1 && pr->tail == 0,
	      "pipe rings changed");
	munmap(base, ms);

	/* a second null port on the same fd is refused (already bound) */
	CHECK_ERRNO(reg_null(fd, "nz2", mem, &reg, 1, 1, 8), EBUSY);
	close(fd);
	struct unetmap_mem_stats s2 = stats(mem);
	CHECK(s2.buf_free == s0.buf_free, "buffers after close: %u free, want %u", s2.buf_free,
	      s0.buf_free);
	CHECK(s2.ring_free == s0.ring_free, "rings after close: %u free, want %u", s2.ring_free,
	      s0.ring_free);
	CHECK(s2.if_free == s0.if_free, "netmap_ifs after close: %u free, want %u", s2.if_free,
	      s0.if_free);

	/* ---- all-zero ring counts ---- */
	fd = nm_fd();
	CHECK(reg_null(fd, "nzero", mem, &reg, 0, 0, 0) == 0, "zero-ring null port: %s",
	      strerror(errno));
	CHECK(reg.nr_tx_rings == 0 && reg.nr_rx_rings == 0 && reg.nr_tx_slots == 0 &&
	      reg.nr_rx_slots == 0, "zero reply %u/%u %u/%u", reg.nr_tx_rings, reg.nr_rx_rings,
	      reg.nr_tx_slots, reg.nr_rx_slots);
	CHECK(reg.nr_mem_id == mem, "zero: mem_id %u", reg.nr_mem_id);
	CHECK(ioctl(fd, NIOCTXSYNC, NULL) == 0, "zero txsync: %s", strerror(errno));
	CHECK(ioctl(fd, NIOCRXSYNC, NULL) == 0, "zero rxsync: %s", strerror(errno));
	base = mmap(NULL, (size_t)reg.nr_memsize, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	CHECK(base != MAP_FAILED, "zero mmap: %s", strerror(errno));
	if (base != MAP_FAILED) {
		nifp = NETMAP_IF(base, reg.nr_offset);
		CHECK(nifp->ni_tx_rings == 0 && nifp->ni_rx_rings == 0, "zero ni rings %u/%u",
		      nifp->ni_tx_rings, nifp->ni_rx_rings);
		CHECK(nifp->ring_ofs[0] == 0 && nifp->ring_ofs[1] == 0, "zero: host ring_ofs");
		munmap(base, (size_t)reg.nr_memsize);
	}
	CHECK(stats(mem).buf_free == s0.buf_free, "zero-ring port took buffers");
	close(fd);

	/* ---- extra buffers of a null port come back too ---- */
	fd = nm_fd();
	struct nmreq_header h;
	memset(&reg, 0, sizeof(reg));
	reg.nr_mode = NR_REG_NULL;
	reg.nr_mem_id = mem;
	reg.nr_tx_rings = reg.nr_rx_rings = 1;
	reg.nr_tx_slots = reg.nr_rx_slots = 16;
	reg.nr_extra_bufs = 10;
	memset(&h, 0, sizeof(h));
	h.nr_version = NETMAP_API;
	h.nr_reqtype = NETMAP_REQ_REGISTER;
	snprintf(h.nr_name, sizeof(h.nr_name), "nx");
	h.nr_body = (uintptr_t)&reg;
	CHECK(ioctl(fd, NIOCCTRL, &h) == 0, "null with extra bufs: %s", strerror(errno));
	CHECK(reg.nr_extra_bufs == 10, "null extra bufs %u", reg.nr_extra_bufs);
	CHECK(stats(mem).buf_free == s0.buf_free - 32 - 10, "null+extra buf_free %u",
	      stats(mem).buf_free);
	close(fd);
	CHECK(stats(mem).buf_free == s0.buf_free, "null+extra after close %u, want %u",
	      stats(mem).buf_free, s0.buf_free);

	/* the global region works as well */
	fd = nm_fd();
	CHECK(reg_null(fd, "ng", 1, &reg, 1, 1, 32) == 0, "null on region 1: %s", strerror(errno));
	CHECK(reg.nr_mem_id == 1, "global null mem_id %u", reg.nr_mem_id);
	close(fd);

	nmport_close(pp);
	return t_done();
}
