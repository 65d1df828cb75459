/* Description: the OFFSETS option of REGISTER (NETMAP_REQ_OPT_OFFSETS):
 * its errno rules; ring->offset_mask and the initial offset in every slot;
 * the effective maximum written back; a second user asking for more than
 * the first gave → EBUSY; data placed at slot offsets travels through VALE
 * (read at the sender's offset, written at the receiver's, offsets above
 * the maximum clamped, offset + length beyond the buffer dropped as
 * malformed), through pipes (the offset travels with the slot) and is kept
 * on null ports. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <libnetmap.h>
#include <unetmap.h>
#include "testlib.h"
#include "nmtest.h"

struct port {
	int fd;
	void *mem;
	size_t memsize;
	struct netmap_if *nifp;
};

/* REGISTER `name` (ALL_NIC unless mode) with an OFFSETS option (bits < 0:
 * none); returns 0 or -errno, the option status in *status */
static int reg_off(struct port *p, const char *name, int bits, uint64_t initial, uint64_t max,
		   uint64_t *max_out, uint32_t *status, uint32_t mode, uint16_t mem_id)
{
	struct nmreq_register reg;
	struct nmreq_opt_offsets opt;
	struct nmreq_header h;
	memset(&reg, 0, sizeof(reg));
	memset(&opt, 0, sizeof(opt));
	reg.nr_mode = mode ? mode : NR_REG_ALL_NIC;
	reg.nr_mem_id = mem_id;
	if (mode == NR_REG_NULL) {
		reg.nr_tx_rings = reg.nr_rx_rings = 1;
		reg.nr_tx_slots = reg.nr_rx_slots = 64;
	}
	t_hdr_init(&h, NETMAP_REQ_REGISTER, name, &reg);
	if (bits >= 0) {
		opt.nro_opt.nro_reqtype = NETMAP_REQ_OPT_OFFSETS;
		opt.nro_offset_bits = (uint32_t)bits;
		opt.nro_initial_offset = initial;
		opt.nro_max_offset = max;
		h.nr_options = (uintptr_t)&opt;
	}
	p->fd = open("/dev/netmap", O_RDWR);
	REQUIRE(p->fd >= 0, "open /dev/netmap");
	if (ioctl(p->fd, NIOCCTRL, &h) < 0) {
		int e = errno;
		if (status)
			*status = opt.nro_opt.nro_status;
		close(p->fd);
		return -e;
	}
	if (status)
		*status = opt.nro_opt.nro_status;
	if (max_out)
		*max_out = opt.nro_max_offset;
	p->memsize = reg.nr_memsize;
	p->mem = mmap(NULL, p->memsize, PROT_READ | PROT_WRITE, MAP_SHARED, p->fd, 0);
	REQUIRE(p->mem != MAP_FAILED, "mmap %s", name);
	p->nifp = NETMAP_IF(p->mem, reg.nr_offset);
	return 0;
}

static void unreg(struct port *p)
{
	munmap(p->mem, p->memsize);
	close(p->fd);
}

static void fill(char *b, unsigned len, unsigned tag)
{
	memset(b, 0xff, 6);
	memset(b + 6, 0x02, 6);
	b[12] = (char)0x88;
	b[13] = (char)0xb5;
	for (unsigned k = 14; k < len; k++)
		b[k] = (char)(tag + k);
}

/* send one frame of `len` bytes at slot offset `off` */
static void send_at(struct port *p, unsigned off, unsigned len, unsigned tag)
{
	struct netmap_ring *r = NETMAP_TXRING(p->nifp, 0);
	struct netmap_slot *s = &r->slot[r->head];
	NETMAP_WOFFSET(r, s, off);
	fill(NETMAP_BUF_OFFSET(r, s), len, tag);
	s->len = (uint16_t)len;
	s->flags = 0;
	r->head = r->cur = nm_ring_next(r, r->head);
	ioctl(p->fd, NIOCTXSYNC, NULL);
}

/* receive one frame; its data must be the frame `tag` of `len` bytes at
 * the slot's offset, which must be `want_off` */
static bool recv_check(struct port *p, unsigned len, unsigned tag, uint64_t want_off)
{
	struct netmap_ring *r = NETMAP_RXRING(p->nifp, 0);
	ioctl(p->fd, NIOCRXSYNC, NULL);
	if (nm_ring_empty(r)) {
		CHECK(0, "frame %u did not arrive", tag);
		return false;
	}
	struct netmap_slot *s = &r->slot[r->head];
	char want[2048];
	fill(want, len, tag);
	bool ok = s->len == len && NETMAP_ROFFSET(r, s) == want_off &&
		  memcmp(NETMAP_BUF_OFFSET(r, s), want, len) == 0;
	CHECK(ok, "frame %u: len %u (want %u), offset %llu (want %llu), content %s", tag, s->len,
	      len, (unsigned long long)NETMAP_ROFFSET(r, s), (unsigned long long)want_off,
	      memcmp(NETMAP_BUF_OFFSET(r, s), want, len) == 0 ? "ok" : "wrong");
	r->head = r->cur = nm_ring_next(r, r->head);
	ioctl(p->fd, NIOCRXSYNC, NULL);
	return ok;
}

static uint64_t malformed(const char *sw, const char *port)
{
	struct unetmap_vale_port_stats st[8];
	int n = unetmap_vale_stats(sw, st, 8);
	for (int i = 0; i < n; i++)
		if (strcmp(st[i].name, port) == 0)
			return st[i].drop_malformed;
	return UINT64_MAX;
}

int main(void)
{
	t_setup(60);
	struct port a, b, c;
	uint64_t max = 0;
	uint32_t st = 0;

	/* errno rules (2048-byte buffers) */
	CHECK(reg_off(&a, "vale0:x", 65, 0, 64, NULL, &st, 0, 0) == -EINVAL && st == EINVAL,
	      "bits 65: status %u", st);
	CHECK(reg_off(&a, "vale0:x", 16, 0, 4096, NULL, &st, 0, 0) == -EINVAL,
	      "max above the buffer size accepted");
	CHECK(reg_off(&a, "vale0:x", 8, 0, 300, NULL, &st, 0, 0) == -EINVAL,
	      "max not representable in 8 bits accepted");
	CHECK(reg_off(&a, "vale0:x", 16, 200, 100, NULL, &st, 0, 0) == -EINVAL,
	      "initial above max accepted");
	CHECK(unetmap_vale_switches(NULL, 0) == 0, "a refused registration left a switch");

	/* mask, initial offsets, effective max */
	REQUIRE(reg_off(&a, "vale0:a", 16, 64, 128, &max, &st, 0, 0) == 0, "register with offsets");
	CHECK(st == 0 && max == 128, "status %u, max written back %llu", st,
	      (unsigned long long)max);
	struct netmap_ring *tr = NETMAP_TXRING(a.nifp, 0), *rr = NETMAP_RXRING(a.nifp, 0);
	CHECK(tr->offset_mask == 0xffff && rr->offset_mask == 0xffff, "offset_mask %#llx/%#llx",
	      (unsigned long long)tr->offset_mask, (unsigned long long)rr->offset_mask);
	unsigned bad = 0;
	for (unsigned j = 0; j < tr->num_slots; j++)
		bad += NETMAP_ROFFSET(tr, &tr->slot[j]) != 64 || NETMAP_ROFFSET(rr, &rr->slot[j]) != 64;
	CHECK(bad == 0, "%u slots without the initial offset", bad);
	/* a second user of the same rings asking for more: EBUSY; for less: fine */
	struct port a2;
	CHECK(reg_off(&a2, "vale0:a", 16, 0, 256, NULL, &st, 0, 0) == -EBUSY && st == EBUSY,
	      "bigger max on a ring in use: status %u", st);
	CHECK(reg_off(&a2, "vale0:a", 16, 0, 64, &max, NULL, 0, 0) == 0 && max == 128,
	      "smaller max on a ring in use: effective max %llu", (unsigned long long)max);
	unreg(&a2);

	/* VALE: sender offset 100 -> receiver offset 32; receiver without */
	REQUIRE(reg_off(&b, "vale0:b", 12, 32, 512, NULL, NULL, 0, 0) == 0, "vale0:b");
	send_at(&a, 100, 60, 1);
	recv_check(&b, 60, 1, 32);
	{
		/* an offset above max 128 is read at 128 */
		struct netmap_ring *r = NETMAP_TXRING(a.nifp, 0);
		struct netmap_slot *s = &r->slot[r->head];
		NETMAP_WOFFSET(r, s, 128);
		fill(NETMAP_BUF_OFFSET(r, s), 60, 3);
		NETMAP_WOFFSET(r, s, 500);
		s->len = 60;
		r->head = r->cur = nm_ring_next(r, r->head);
		ioctl(a.fd, NIOCTXSYNC, NULL);
	}
	struct netmap_ring *br = NETMAP_RXRING(b.nifp, 0);
	recv_check(&b, 60, 3, 32);
	/* offset + length beyond the buffer: malformed, not delivered */
	uint64_t m0 = malformed("vale0", "vale0:a");
	send_at(&a, 120, 2000, 4);
	CHECK(malformed("vale0", "vale0:a") == m0 + 1, "offset+len > buffer not counted malformed");
	ioctl(b.fd, NIOCRXSYNC, NULL);
	CHECK(nm_ring_empty(br), "offset+len > buffer delivered");
	/* a receiver without offsets gets data at 0 */
	REQUIRE(reg_off(&c, "vale0:c", -1, 0, 0, NULL, NULL, 0, 0) == 0, "vale0:c");
	send_at(&a, 100, 60, 5);
	recv_check(&b, 60, 5, 32);
	recv_check(&c, 60, 5, 0);
	unreg(&c);
	unreg(&b);
	unreg(&a);

	/* pipes: the offset travels with the slot */
	REQUIRE(reg_off(&a, "netmap:po{1", 16, 0, 256, NULL, NULL, 0, 0) == 0, "pipe master");
	REQUIRE(reg_off(&b, "netmap:po}1", 16, 0, 256, NULL, NULL, 0, 0) == 0, "pipe slave");
	send_at(&a, 200, 100, 6);
	recv_check(&b, 100, 6, 200);
	unreg(&b);
	unreg(&a);

	/* null ports accept the option and set the mask */
	struct port n0;
	REQUIRE(reg_off(&n0, "vale0:m", -1, 0, 0, NULL, NULL, 0, 0) == 0, "a port for its mem id");
	struct nmreq_port_info_get pi;
	memset(&pi, 0, sizeof(pi));
	REQUIRE(t_ctl(NETMAP_REQ_PORT_INFO_GET, "vale0:m", &pi) == 0, "port info");
	struct port nl;
	CHECK(reg_off(&nl, "nl", 10, 16, 64, &max, &st, NR_REG_NULL, pi.nr_mem_id) == 0 && st == 0,
	      "null port with offsets: status %u", st);
	if (st == 0) {
		CHECK(NETMAP_TXRING(nl.nifp, 0)->offset_mask == 0x3ff, "null port offset_mask");
		unreg(&nl);
	}
	unreg(&n0);
	return t_done();
}
