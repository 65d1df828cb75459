/* Description: PORT_INFO_GET (pipe geometry, empty name, mem ids), POOLS_INFO_GET layout vs. the mapped rings/buffers, PORT_HDR_GET and lookup errnos (ENODEV, ENXIO). */
#include <fcntl.h>
#include <sys/ioctl.h>
#include <libnetmap.h>
#include "testlib.h"

#define PAGE 4096ULL
#define RUP(x) (((uint64_t)(x) + PAGE - 1) / PAGE * PAGE)

static int nm_fd(void)
{
	int fd = open("/dev/netmap", O_RDWR);
	REQUIRE(fd >= 0, "open /dev/netmap: %s", strerror(errno));
	return fd;
}

static void hdr_init(struct nmreq_header *h, uint16_t type, const char *name, void *body)
{
	memset(h, 0, sizeof(*h));
	h->nr_version = NETMAP_API;
	h->nr_reqtype = type;
	snprintf(h->nr_name, sizeof(h->nr_name), "%s", name);
	h->nr_body = (uintptr_t)body;
}

static int port_info(int fd, const char *name, struct nmreq_port_info_get *pi)
{
	struct nmreq_header h;
	hdr_init(&h, NETMAP_REQ_PORT_INFO_GET, name, pi);
	return ioctl(fd, NIOCCTRL, &h);
}

static int pools_info(int fd, const char *name, struct nmreq_pools_info *pi)
{
	struct nmreq_header h;
	hdr_init(&h, NETMAP_REQ_POOLS_INFO_GET, name, pi);
	return ioctl(fd, NIOCCTRL, &h);
}

static int hdr_get(int fd, const char *name, struct nmreq_port_hdr *ph)
{
	struct nmreq_header h;
	hdr_init(&h, NETMAP_REQ_PORT_HDR_GET, name, ph);
	return ioctl(fd, NIOCCTRL, &h);
}

/* every bound ring of d inside the ring pool, every TX buffer inside the
 * buffer pool */
static void check_layout(struct nmport_d *d, const struct nmreq_pools_info *pl, const char *who)
{
	char *base = (char *)d->nifp - d->reg.nr_offset;
	uint64_t ro = pl->nr_ring_pool_offset, bo = pl->nr_buf_pool_offset;
	uint64_t ifo = d->reg.nr_offset;
	CHECK(ifo >= pl->nr_if_pool_offset && ifo < ro, "%s: netmap_if at %llu not in if pool",
	      who, (unsigned long long)ifo);
	CHECK((ifo - pl->nr_if_pool_offset) % pl->nr_if_pool_objsize == 0,
	      "%s: netmap_if offset %llu not on an object boundary", who, (unsigned long long)ifo);
	for (int dir = 0; dir < 2; dir++) {
		unsigned first = dir ? d->first_rx_ring : d->first_tx_ring;
		unsigned last = dir ? d->last_rx_ring : d->last_tx_ring;
		for (unsigned i = first; i <= last; i++) {
			struct netmap_ring *r = dir ? NETMAP_RXRING(d->nifp, i)
						    : NETMAP_TXRING(d->nifp, i);
			uint64_t off = (uint64_t)((char *)r - base);
			CHECK(off >= ro && off < bo, "%s: %s ring %u at %llu outside ring pool "
			      "[%llu, %llu)", who, dir ? "rx" : "tx", i, (unsigned long long)off,
			      (unsigned long long)ro, (unsigned long long)bo);
			CHECK((off - ro) % pl->nr_ring_pool_objsize == 0,
			      "%s: ring %u not on an object boundary", who, i);
			CHECK(256 + 16ULL * r->num_slots <= pl->nr_ring_pool_objsize,
			      "%s: ring of %u slots larger than an object", who, r->num_slots);
			CHECK((uint64_t)((int64_t)off + r->buf_ofs) == bo,
			      "%s: ring %u buf_ofs %lld does not point at the buffer pool", who, i,
			      (long long)r->buf_ofs);
			CHECK(r->nr_buf_size == pl->nr_buf_pool_objsize, "%s: nr_buf_size %u vs %u",
			      who, r->nr_buf_size, pl->nr_buf_pool_objsize);
			if (dir)
				continue;	/* RX slots may hold fake (0) buffers */
			int bad = 0;
			for (unsigned j = 0; j < r->num_slots; j++) {
				uint32_t idx = r->slot[j].buf_idx;
				uint64_t bofs = (uint64_t)(NETMAP_BUF(r, idx) - base);
				if (idx < 2 || idx >= pl->nr_buf_pool_objtotal || bofs < bo ||
				    bofs + pl->nr_buf_pool_objsize > pl->nr_memsize ||
				    bofs != bo + (uint64_t)idx * pl->nr_buf_pool_objsize) {
					if (bad++ < 3)
						CHECK(0, "%s: tx ring %u slot %u buf_idx %u at %llu",
						      who, i, j, idx, (unsigned long long)bofs);
				}
			}
		}
	}
}

int main(void)
{
	t_setup(60);
	int fd = nm_fd();
	struct nmreq_port_info_get pi;
	struct nmreq_pools_info pl;
	struct nmreq_port_hdr ph;

	/* a pipe with distinct geometry in each direction */
	struct nmport_d *m = nmport_prepare("netmap:ci{1");
	REQUIRE(m != NULL, "prepare: %s", strerror(errno));
	m->reg.nr_tx_rings = 2;
	m->reg.nr_rx_rings = 3;
	m->reg.nr_tx_slots = 256;
	m->reg.nr_rx_slots = 128;
	REQUIRE(nmport_open_desc(m) == 0, "open ci{1: %s", strerror(errno));
	REQUIRE(m->reg.nr_tx_rings == 2 && m->reg.nr_rx_rings == 3 &&
		m->reg.nr_tx_slots == 256 && m->reg.nr_rx_slots == 128,
		"pipe geometry not honoured: %u/%u rings %u/%u slots", m->reg.nr_tx_rings,
		m->reg.nr_rx_rings, m->reg.nr_tx_slots, m->reg.nr_rx_slots);
	struct nmport_d *s = nmport_open("netmap:ci}1");
	REQUIRE(s != NULL, "open ci}1: %s", strerror(errno));

	/* ---- PORT_INFO_GET on the pipe ends ---- */
	memset(&pi, 0, sizeof(pi));
	CHECK(port_info(fd, "ci{1", &pi) == 0, "info ci{1: %s", strerror(errno));
	CHECK(pi.nr_memsize == m->reg.nr_memsize, "memsize %llu vs %llu",
	      (unsigned long long)pi.nr_memsize, (unsigned long long)m->reg.nr_memsize);
	CHECK(pi.nr_mem_id == m->reg.nr_mem_id, "mem_id %u vs %u", pi.nr_mem_id, m->reg.nr_mem_id);
	CHECK(pi.nr_tx_rings == 2 && pi.nr_rx_rings == 3, "rings %u/%u", pi.nr_tx_rings,
	      pi.nr_rx_rings);
	CHECK(pi.nr_tx_slots == 256 && pi.nr_rx_slots == 128, "slots %u/%u", pi.nr_tx_slots,
	      pi.nr_rx_slots);
	CHECK(pi.nr_host_tx_rings == 0 && pi.nr_host_rx_rings == 0, "host rings %u/%u",
	      pi.nr_host_tx_rings, pi.nr_host_rx_rings);

	memset(&pi, 0, sizeof(pi));
	CHECK(port_info(fd, "ci}1", &pi) == 0, "info ci}1: %s", strerror(errno));
	CHECK(pi.nr_tx_rings == 3 && pi.nr_rx_rings == 2, "slave rings %u/%u", pi.nr_tx_rings,
	      pi.nr_rx_rings);
	CHECK(pi.nr_tx_slots == 128 && pi.nr_rx_slots == 256, "slave slots %u/%u",
	      pi.nr_tx_slots, pi.nr_rx_slots);
	CHECK(pi.nr_mem_id == m->reg.nr_mem_id && pi.nr_memsize == m->reg.nr_memsize,
	      "slave mem %u/%llu", pi.nr_mem_id, (unsigned long long)pi.nr_memsize);
	CHECK(s->reg.nr_tx_rings == 3 && s->reg.nr_rx_rings == 2 && s->reg.nr_tx_slots == 128,
	      "slave register reply %u/%u %u", s->reg.nr_tx_rings, s->reg.nr_rx_rings,
	      s->reg.nr_tx_slots);

	/* hints are ignored for an existing port */
	memset(&pi, 0, sizeof(pi));
	pi.nr_tx_rings = 7;
	pi.nr_tx_slots = 64;
	CHECK(port_info(fd, "ci{1", &pi) == 0, "info with hints: %s", strerror(errno));
	CHECK(pi.nr_tx_rings == 2 && pi.nr_tx_slots == 256, "hints changed an existing pipe: %u %u",
	      pi.nr_tx_rings, pi.nr_tx_slots);

	/* a pipe that does not exist is created for the call only */
	memset(&pi, 0, sizeof(pi));
	pi.nr_tx_rings = 3;
	pi.nr_rx_rings = 2;
	pi.nr_tx_slots = 64;
	pi.nr_rx_slots = 32;
	CHECK(port_info(fd, "cinew{1", &pi) == 0, "info on a new pipe: %s", strerror(errno));
	CHECK(pi.nr_tx_rings == 3 && pi.nr_rx_rings == 2 && pi.nr_tx_slots == 64 &&
	      pi.nr_rx_slots == 32, "transient pipe geometry %u/%u %u/%u", pi.nr_tx_rings,
	      pi.nr_rx_rings, pi.nr_tx_slots, pi.nr_rx_slots);
	memset(&ph, 0, sizeof(ph));
	CHECK_ERRNO(hdr_get(fd, "cinew{1", &ph), ENODEV);	/* gone again */

	/* ---- PORT_INFO_GET with an empty name ---- */
	memset(&pi, 0, sizeof(pi));
	CHECK(port_info(fd, "", &pi) == 0, "info on region 0: %s", strerror(errno));
	CHECK(pi.nr_mem_id == 1, "mem_id 0 -> %u, want 1", pi.nr_mem_id);
	CHECK(pi.nr_memsize > 0 && pi.nr_memsize % PAGE == 0, "global memsize %llu",
	      (unsigned long long)pi.nr_memsize);
	uint64_t global_size = pi.nr_memsize;
	memset(&pi, 0, sizeof(pi));
	pi.nr_mem_id = 1;
	CHECK(port_info(fd, "", &pi) == 0, "info on region 1: %s", strerror(errno));
	CHECK(pi.nr_mem_id == 1 && pi.nr_memsize == global_size, "region 1: %u %llu",
	      pi.nr_mem_id, (unsigned long long)pi.nr_memsize);
	CHECK(pi.nr_tx_rings == 0 && pi.nr_tx_slots == 0, "region info filled port fields");
	memset(&pi, 0, sizeof(pi));
	pi.nr_mem_id = m->reg.nr_mem_id;
	CHECK(port_info(fd, "", &pi) == 0, "info on the pipe region: %s", strerror(errno));
	CHECK(pi.nr_mem_id == m->reg.nr_mem_id && pi.nr_memsize == m->reg.nr_memsize,
	      "pipe region: %u %llu", pi.nr_mem_id, (unsigned long long)pi.nr_memsize);
	memset(&pi, 0, sizeof(pi));
	pi.nr_mem_id = 65000;
	pi.nr_memsize = 0x777;
	CHECK_ERRNO(port_info(fd, "", &pi), EINVAL);
	CHECK(pi.nr_memsize == 0x777 && pi.nr_mem_id == 65000, "body written on EINVAL");

	/* ---- POOLS_INFO_GET ---- */
	memset(&pl, 0, sizeof(pl));
	CHECK_ERRNO(pools_info(fd, "", &pl), EINVAL);
	memset(&pl, 0, sizeof(pl));
	REQUIRE(pools_info(fd, "ci{1", &pl) == 0, "pools ci{1: %s", strerror(errno));
	CHECK(pl.nr_mem_id == m->reg.nr_mem_id, "pools mem_id %u", pl.nr_mem_id);
	CHECK(pl.nr_memsize == m->reg.nr_memsize, "pools memsize %llu vs %llu",
	      (unsigned long long)pl.nr_memsize, (unsigned long long)m->reg.nr_memsize);
	CHECK(pl.nr_if_pool_offset == 0, "if pool at %llu",
	      (unsigned long long)pl.nr_if_pool_offset);
	CHECK(pl.nr_if_pool_objtotal > 0 && pl.nr_ring_pool_objtotal > 0 &&
	      pl.nr_buf_pool_objtotal > 0, "empty pool");
	CHECK(pl.nr_if_pool_objsize % 64 == 0 && pl.nr_ring_pool_objsize % 64 == 0 &&
	      pl.nr_buf_pool_objsize % 64 == 0, "object sizes %u %u %u not multiples of 64",
	      pl.nr_if_pool_objsize, pl.nr_ring_pool_objsize, pl.nr_buf_pool_objsize);
	uint64_t want_ring = RUP((uint64_t)pl.nr_if_pool_objtotal * pl.nr_if_pool_objsize);
	uint64_t want_buf = pl.nr_ring_pool_offset +
			    RUP((uint64_t)pl.nr_ring_pool_objtotal * pl.nr_ring_pool_objsize);
	uint64_t want_size = pl.nr_buf_pool_offset +
			     RUP((uint64_t)pl.nr_buf_pool_objtotal * pl.nr_buf_pool_objsize);
	CHECK(pl.nr_ring_pool_offset == want_ring, "ring pool at %llu, want %llu",
	      (unsigned long long)pl.nr_ring_pool_offset, (unsigned long long)want_ring);
	CHECK(pl.nr_buf_pool_offset == want_buf, "buf pool at %llu, want %llu",
	      (unsigned long long)pl.nr_buf_pool_offset, (unsigned long long)want_buf);
	CHECK(pl.nr_memsize == want_size, "memsize %llu, want %llu",
	      (unsigned long long)pl.nr_memsize, (unsigned long long)want_size);
	CHECK(pl.nr_if_pool_objsize >= sizeof(struct netmap_if) + 8 * (2 + 1 + 3 + 1),
	      "if objects of %u bytes too small", pl.nr_if_pool_objsize);
	CHECK(pl.nr_ring_pool_objsize >= 256 + 16 * 256, "ring objects of %u bytes too small",
	      pl.nr_ring_pool_objsize);
	CHECK(pl.nr_buf_pool_objsize == 2048, "buffer size %u", pl.nr_buf_pool_objsize);
	check_layout(m, &pl, "master");
	check_layout(s, &pl, "slave");

	struct nmreq_pools_info pl2;
	memset(&pl2, 0, sizeof(pl2));
	CHECK(pools_info(fd, "ci}1", &pl2) == 0, "pools ci}1: %s", strerror(errno));
	CHECK(memcmp(&pl, &pl2, sizeof(pl)) == 0, "pools differ between the two pipe ends");
	/* also on the fd that is bound to the pipe */
	memset(&pl2, 0, sizeof(pl2));
	CHECK(pools_info(m->fd, "ci{1", &pl2) == 0, "pools on a bound fd: %s", strerror(errno));
	CHECK(memcmp(&pl, &pl2, sizeof(pl)) == 0, "pools differ on the bound fd");

	/* ---- PORT_HDR_GET ---- */
	ph.nr_hdr_len = 99;
	CHECK(hdr_get(fd, "ci{1", &ph) == 0, "hdr get ci{1: %s", strerror(errno));
	CHECK(ph.nr_hdr_len == 0, "hdr len %u", ph.nr_hdr_len);
	ph.nr_hdr_len = 99;
	CHECK(hdr_get(fd, "ci}1", &ph) == 0, "hdr get ci}1: %s", strerror(errno));
	CHECK(ph.nr_hdr_len == 0, "slave hdr len %u", ph.nr_hdr_len);
	CHECK_ERRNO(hdr_get(fd, "nopipe{1", &ph), ENODEV);
	CHECK_ERRNO(hdr_get(fd, "ci{2", &ph), ENODEV);
	CHECK_ERRNO(hdr_get(fd, "vale0:nope", &ph), ENXIO);

	/* ---- lookup of a name that is nothing ---- */
	struct nmreq_register reg;
	struct nmreq_header h;
	memset(&reg, 0, sizeof(reg));
	reg.nr_mode = NR_REG_ALL_NIC;
	hdr_init(&h, NETMAP_REQ_REGISTER, "nosuchif0", &reg);
	CHECK_ERRNO(ioctl(fd, NIOCCTRL, &h), ENXIO);
	memset(&pi, 0, sizeof(pi));
	CHECK_ERRNO(port_info(fd, "nosuchif0", &pi), ENXIO);
	errno = 0;
	CHECK(ioctl(fd, NIOCTXSYNC, NULL) == -1 && errno == ENXIO, "fd bound after ENXIO");

	nmport_close(s);
	nmport_close(m);
	close(fd);
	return t_done();
}
