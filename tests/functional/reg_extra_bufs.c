/* Description: nr_extra_bufs: exact count, a 0-terminated chain of distinct valid buffers via ni_bufs_head, pool accounting, and freeing of the (user-modified) chain at close. */
#include <fcntl.h>
#include <sys/ioctl.h>
#include <libnetmap.h>
#include <unetmap.h>
#include "testlib.h"

#define NEXTRA 100
#define SLOTS 128

static uint32_t buf_free(uint16_t id)
{
	struct unetmap_mem_stats st;
	int ret = unetmap_mem_stats(id, &st);
	REQUIRE(ret == 0, "mem stats %u: %s", id, strerror(-ret));
	return st.buf_free;
}

static uint32_t *link_of(struct netmap_ring *r, uint32_t idx)
{
	return (uint32_t *)(void *)NETMAP_BUF(r, idx);
}

/* walk the list; fills list[], returns its length (or -1 if broken) */
static int walk(struct nmport_d *d, uint32_t buf_total, uint32_t *list, int max)
{
	struct netmap_ring *r = NETMAP_TXRING(d->nifp, d->first_tx_ring);
	uint32_t idx = d->nifp->ni_bufs_head;
	int n = 0;
	while (idx != 0) {
		if (n == max) {
			CHECK(0, "chain longer than %d (loop?)", max);
			return -1;
		}
		if (idx < 2 || idx >= buf_total) {
			CHECK(0, "chain element %d: invalid index %u", n, idx);
			return -1;
		}
		list[n++] = idx;
		idx = *link_of(r, idx);
	}
	return n;
}

static struct nmport_d *open_with_extra(const char *spec, uint32_t extra)
{
	struct nmport_d *d = nmport_prepare(spec);
	REQUIRE(d != NULL, "prepare %s: %s", spec, strerror(errno));
	d->reg.nr_extra_bufs = extra;
	REQUIRE(nmport_open_desc(d) == 0, "open %s: %s", spec, strerror(errno));
	return d;
}

int main(void)
{
	t_setup(60);

	/* a keeper pipe holds the region of parent "eb" open across the test */
	struct nmport_d *keep = nmport_open("netmap:eb{0@conf:slots=64");
	REQUIRE(keep != NULL, "keeper: %s", strerror(errno));
	uint16_t mem = keep->reg.nr_mem_id;
	struct unetmap_mem_stats st;
	REQUIRE(unetmap_mem_stats(mem, &st) == 0, "stats");
	uint32_t buf_total = st.buf_total;
	uint32_t free0 = st.buf_free;
	CHECK(keep->reg.nr_extra_bufs == 0 && keep->nifp->ni_bufs_head == 0,
	      "no extra buffers asked, got %u head %u", keep->reg.nr_extra_bufs,
	      keep->nifp->ni_bufs_head);

	/* ---- 100 extra buffers ---- */
	struct nmport_d *d = open_with_extra("netmap:eb{1@conf:slots=128", NEXTRA);
	CHECK(d->reg.nr_mem_id == mem, "pipe eb{1 in region %u, keeper in %u", d->reg.nr_mem_id,
	      mem);
	CHECK(d->reg.nr_extra_bufs == NEXTRA, "reply nr_extra_bufs %u", d->reg.nr_extra_bufs);
	uint32_t list[NEXTRA + 8];
	int n = walk(d, buf_total, list, NEXTRA + 8);
	CHECK(n == NEXTRA, "chain has %d buffers", n);
	/* distinct, and not used by any ring slot */
	struct netmap_ring *tx = NETMAP_TXRING(d->nifp, 0);
	for (int i = 0; i < n; i++) {
		for (int j = 0; j < i; j++)
			CHECK(list[i] != list[j], "buffer %u twice in the chain", list[i]);
		for (unsigned s = 0; s < tx->num_slots; s++)
			CHECK(tx->slot[s].buf_idx != list[i], "extra buffer %u also in tx slot %u",
			      list[i], s);
		/* usable memory */
		memset(NETMAP_BUF(tx, list[i]) + 4, 0xee, 2044);
	}
	uint32_t free1 = buf_free(mem);
	/* ring buffers: one TX ring of 128 slots per end */
	CHECK(free1 == free0 - NEXTRA - 2 * SLOTS, "buf_free %u, want %u - %u - %u", free1, free0,
	      NEXTRA, 2 * SLOTS);

	/* the other end without extra buffers: head 0 */
	struct nmport_d *o = nmport_open("netmap:eb}1");
	REQUIRE(o != NULL, "open eb}1: %s", strerror(errno));
	CHECK(o->nifp->ni_bufs_head == 0 && o->reg.nr_extra_bufs == 0, "slave head %u extra %u",
	      o->nifp->ni_bufs_head, o->reg.nr_extra_bufs);
	CHECK(buf_free(mem) == free1, "opening the other end allocated buffers");
	nmport_close(o);
	nmport_close(d);
	CHECK(buf_free(mem) == free0, "after close buf_free %u, want %u", buf_free(mem), free0);

	/* ---- the user swaps a ring buffer into the list ---- */
	d = open_with_extra("netmap:eb{2@conf:slots=128", NEXTRA);
	CHECK(d->reg.nr_extra_bufs == NEXTRA, "second reply %u", d->reg.nr_extra_bufs);
	CHECK(buf_free(mem) == free0 - NEXTRA - 2 * SLOTS, "second buf_free %u", buf_free(mem));
	tx = NETMAP_TXRING(d->nifp, 0);
	uint32_t e = d->nifp->ni_bufs_head;
	REQUIRE(e >= 2 && e < buf_total, "head %u", e);
	uint32_t next = *link_of(tx, e);
	struct netmap_slot *sl = &tx->slot[tx->head];
	uint32_t b = sl->buf_idx;
	sl->buf_idx = e;
	sl->flags |= NS_BUF_CHANGED;
	*link_of(tx, b) = next;
	d->nifp->ni_bufs_head = b;
	/* the swapped-in buffer works for sending */
	struct nmport_d *rx = nmport_open("netmap:eb}2");
	REQUIRE(rx != NULL, "open eb}2: %s", strerror(errno));
	memset(NETMAP_BUF(tx, e), 0x42, 60);
	sl->len = 60;
	tx->head = tx->cur = nm_ring_next(tx, tx->head);
	CHECK(ioctl(d->fd, NIOCTXSYNC, NULL) == 0, "txsync");
	CHECK(ioctl(rx->fd, NIOCRXSYNC, NULL) == 0, "rxsync");
	struct netmap_ring *rr = NETMAP_RXRING(rx->nifp, 0);
	CHECK(rr->tail == 1 && rr->slot[0].buf_idx == e && rr->slot[0].len == 60,
	      "received tail %u idx %u (want %u) len %u", rr->tail, rr->slot[0].buf_idx, e,
	      rr->slot[0].len);
	n = walk(d, buf_total, list, NEXTRA + 8);
	CHECK(n == NEXTRA && list[0] == b, "modified chain %d head %u", n, list[0]);
	nmport_close(rx);
	nmport_close(d);
	CHECK(buf_free(mem) == free0, "after swapped close buf_free %u, want %u", buf_free(mem),
	      free0);

	/* ---- two swaps: extra buffers now in slots 0/1 go back with the ring ---- */
	d = open_with_extra("netmap:eb{3@conf:slots=128", 10);
	CHECK(d->reg.nr_extra_bufs == 10, "third reply %u", d->reg.nr_extra_bufs);
	tx = NETMAP_TXRING(d->nifp, 0);
	/* put the first 2 extra buffers into slots 0 and 1, their old buffers
	 * at the head of the list */
	for (int k = 0; k < 2; k++) {
		uint32_t h = d->nifp->ni_bufs_head, nx = *link_of(tx, h);
		uint32_t old = tx->slot[k].buf_idx;
		tx->slot[k].buf_idx = h;
		tx->slot[k].flags |= NS_BUF_CHANGED;
		*link_of(tx, old) = nx;
		d->nifp->ni_bufs_head = old;
	}
	nmport_close(d);
	CHECK(buf_free(mem) == free0, "after double swap buf_free %u, want %u", buf_free(mem),
	      free0);

	/* ---- a REGISTER that fails after allocating (unconsumed option) leaks nothing ---- */
	{
		struct nmreq_register reg;
		struct nmreq_header h;
		struct nmreq_option opt;
		memset(&reg, 0, sizeof(reg));
		reg.nr_mode = NR_REG_ALL_NIC;
		reg.nr_extra_bufs = 50;
		memset(&opt, 0, sizeof(opt));
		opt.nro_reqtype = 1000;
		memset(&h, 0, sizeof(h));
		h.nr_version = NETMAP_API;
		h.nr_reqtype = NETMAP_REQ_REGISTER;
		snprintf(h.nr_name, sizeof(h.nr_name), "eb{9");
		h.nr_body = (uintptr_t)&reg;
		h.nr_options = (uintptr_t)&opt;
		int fd = open("/dev/netmap", O_RDWR);
		REQUIRE(fd >= 0, "open /dev/netmap");
		CHECK_ERRNO(ioctl(fd, NIOCCTRL, &h), EOPNOTSUPP);
		CHECK(buf_free(mem) == free0, "failed register with extra bufs: buf_free %u, want %u",
		      buf_free(mem), free0);
		/* requests that create a pipe only for the call */
		struct nmreq_port_info_get pi;
		memset(&pi, 0, sizeof(pi));
		h.nr_reqtype = NETMAP_REQ_PORT_INFO_GET;
		h.nr_body = (uintptr_t)&pi;
		h.nr_options = 0;
		snprintf(h.nr_name, sizeof(h.nr_name), "eb{7");
		CHECK(ioctl(fd, NIOCCTRL, &h) == 0, "info eb{7: %s", strerror(errno));
		CHECK(pi.nr_mem_id == mem, "transient pipe in region %u", pi.nr_mem_id);
		struct nmreq_pools_info pl;
		memset(&pl, 0, sizeof(pl));
		h.nr_reqtype = NETMAP_REQ_POOLS_INFO_GET;
		h.nr_body = (uintptr_t)&pl;
		snprintf(h.nr_name, sizeof(h.nr_name), "eb{8");
		CHECK(ioctl(fd, NIOCCTRL, &h) == 0, "pools eb{8: %s", strerror(errno));
		CHECK(buf_free(mem) == free0, "transient pipes: buf_free %u, want %u", buf_free(mem),
		      free0);
		close(fd);
	}

	/* ---- more than the pool holds: the reply says how many were obtained ---- */
	setenv("UNETMAP_BUF_NUM", "2000", 1);
	struct nmport_d *sm = nmport_open("netmap:ebsmall{1@conf:slots=64");
	unsetenv("UNETMAP_BUF_NUM");
	REQUIRE(sm != NULL, "open ebsmall{1: %s", strerror(errno));
	struct unetmap_mem_stats s2;
	REQUIRE(unetmap_mem_stats(sm->reg.nr_mem_id, &s2) == 0, "stats small");
	if (s2.buf_total != 2000) {
		fprintf(stderr, "note: UNETMAP_BUF_NUM not honoured (%u buffers), partial "
			"allocation not tested\n", s2.buf_total);
	} else {
		uint32_t avail = s2.buf_free;
		d = open_with_extra("netmap:ebsmall{2@conf:slots=64", 5000);
		uint32_t want = avail - 2 * 64;
		CHECK(d->reg.nr_extra_bufs == want, "partial extra bufs %u, want %u",
		      d->reg.nr_extra_bufs, want);
		static uint32_t big[2100];
		n = walk(d, 2000, big, 2100);
		CHECK(n == (int)d->reg.nr_extra_bufs, "partial chain %d vs reply %u", n,
		      d->reg.nr_extra_bufs);
		CHECK(buf_free(sm->reg.nr_mem_id) == 0, "pool not exhausted: %u",
		      buf_free(sm->reg.nr_mem_id));
		nmport_close(d);
		CHECK(buf_free(sm->reg.nr_mem_id) == avail, "small pool after close %u, want %u",
		      buf_free(sm->reg.nr_mem_id), avail);
	}
	nmport_close(sm);

	nmport_close(keep);
	return t_done();
}
