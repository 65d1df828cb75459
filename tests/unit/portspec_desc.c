/*
 * Description: libnetmap descriptor handling without a netmap engine.
 * A hand-built region (netmap_if + rings + buffers) is attached to
 * descriptors as external memory with a faked registration, then
 * nmport_mmap() is checked for the bound-ring ranges it derives from
 * ring_ofs[], for sharing one nmem_d per mem_id (reference counted), and
 * nmport_inject() for fragmentation, wrap-around and round robin.
 */
#include <stdint.h>

#include "libnetmap.h"
#include "testlib.h"

#define REGION_SIZE	(64 * 1024)
#define NSLOTS		8
#define BUFSZ		64
#define BUF_POOL	8192	/* offset of buffer 0 in the region */
#define MEM_ID		42

/* Writers for the fields the ABI headers declare const. */
#define SET32(field, v)	(*(uint32_t *)(uintptr_t)&(field) = (uint32_t)(v))
#define SET64(field, v)	(*(int64_t *)(uintptr_t)&(field) = (int64_t)(v))

static char *region;

static struct netmap_if *
make_if(size_t off, unsigned tx, unsigned htx, unsigned rx, unsigned hrx,
		const ssize_t *ofs)
{
	struct netmap_if *nifp = (struct netmap_if *)(region + off);
	unsigned i;

	snprintf(nifp->ni_name, sizeof(nifp->ni_name), "fake");
	SET32(nifp->ni_tx_rings, tx);
	SET32(nifp->ni_host_tx_rings, htx);
	SET32(nifp->ni_rx_rings, rx);
	SET32(nifp->ni_host_rx_rings, hrx);
	for (i = 0; i < tx + htx + rx + hrx; i++)
		SET64(nifp->ring_ofs[i], ofs[i]);
	return nifp;
}

static struct netmap_ring *
make_ring(size_t off, unsigned first_buf)
{
	struct netmap_ring *r = (struct netmap_ring *)(region + off);
	unsigned i;

	SET64(r->buf_ofs, (int64_t)BUF_POOL - (int64_t)off);
	SET32(r->num_slots, NSLOTS);
	SET32(r->nr_buf_size, BUFSZ);
	r->head = r->cur = 0;
	SET32(r->tail, NSLOTS - 1);
	for (i = 0; i < NSLOTS; i++) {
		r->slot[i].buf_idx = first_buf + i;
		r->slot[i].len = BUFSZ;
		r->slot[i].flags = 0;
	}
	return r;
}

/* A descriptor that looks registered on the fake region. */
static struct nmport_d *
fake_port(size_t nifp_off, int with_extmem)
{
	struct nmport_d *d = nmport_prepare("vale0:fake");

	REQUIRE(d != NULL, "prepare");
	if (with_extmem)
		REQUIRE(nmport_extmem(d, region, REGION_SIZE) == 0, "extmem");
	d->reg.nr_mem_id = MEM_ID;
	d->reg.nr_offset = nifp_off;
	d->reg.nr_memsize = REGION_SIZE;
	d->register_done = 1;	/* fd stays -1: nothing to close */
	return d;
}

static unsigned
count_mems(struct nmctx *ctx)
{
	struct nmem_d *m;
	unsigned n = 0;

	for (m = ctx->mem_descs; m != NULL; m = m->next)
		n++;
	return n;
}

static void
check_bytes(const struct netmap_ring *r, unsigned slot, const unsigned char *want,
		size_t len, const char *what)
{
	const unsigned char *got = (const unsigned char *)
		NETMAP_BUF(r, r->slot[slot].buf_idx);

	CHECK(memcmp(got, want, len) == 0, "%s: data of slot %u differs", what, slot);
}

int
main(void)
{
	struct nmctx *ctx = nmctx_get();
	struct netmap_ring *r1, *r2, *rx0, *rx1;
	struct nmport_d *d, *d2, *d3, *c;
	unsigned char pkt[400];
	const ssize_t ofs_a[] = { 0, 1024, 2048, 0, 0, 0 };
	ssize_t ofs_b[6];
	unsigned i;

	t_setup(30);
	ctx->verbose = 0;	/* the expected failures below need no messages */
	REQUIRE(posix_memalign((void **)&region, 4096, REGION_SIZE) == 0, "alloc");
	memset(region, 0, REGION_SIZE);
	for (i = 0; i < sizeof(pkt); i++)
		pkt[i] = (unsigned char)(i * 7 + 1);

	/* nifp A (offset 0): 2 hw + 1 host TX, 2 hw + 1 host RX; bound: hw TX
	 * ring 1 and host TX ring 2, no RX ring. */
	make_if(0, 2, 1, 2, 1, ofs_a);
	r1 = make_ring(1024, 2);
	r2 = make_ring(2048, 2 + NSLOTS);
	/* nifp B (offset 512): only hw RX rings 0 and 1 bound. */
	rx0 = make_ring(3072, 2 + 2 * NSLOTS);
	rx1 = make_ring(4096, 2 + 3 * NSLOTS);
	ofs_b[0] = ofs_b[1] = ofs_b[2] = 0;
	ofs_b[3] = 3072 - 512;
	ofs_b[4] = 4096 - 512;
	ofs_b[5] = 0;
	make_if(512, 2, 1, 2, 1, ofs_b);

	/* --- mmap preconditions --- */
	d = nmport_prepare("vale0:x");
	REQUIRE(d != NULL, "prepare");
	CHECK_ERRNO(nmport_mmap(d), EINVAL);		/* not registered */
	nmport_undo_prepare(d);

	/* --- ring ranges and region sharing --- */
	d = fake_port(0, 1);
	CHECK(nmport_mmap(d) == 0, "mmap A");
	CHECK_ERRNO(nmport_mmap(d), EINVAL);		/* already mapped */
	CHECK_ERRNO(nmport_register(d), EINVAL);	/* already registered */
	CHECK(d->mem != NULL && d->mem->mem == region && d->mem->is_extmem &&
			d->mem->mem_id == MEM_ID && d->mem->refcount == 1,
			"nmem_d of A");
	CHECK((char *)d->nifp == region, "nifp A");
	CHECK(d->first_tx_ring == 1 && d->last_tx_ring == 2, "tx range [%u,%u]",
			d->first_tx_ring, d->last_tx_ring);
	CHECK(d->first_rx_ring > d->last_rx_ring, "rx range must be empty [%u,%u]",
			d->first_rx_ring, d->last_rx_ring);
	CHECK(d->cur_tx_ring == 1 && d->cur_rx_ring == d->first_rx_ring, "cur");
	CHECK(NETMAP_TXRING(d->nifp, d->first_tx_ring) == r1, "ring 1 address");

	d2 = fake_port(512, 0);		/* no extmem: must reuse A's mapping */
	CHECK(nmport_mmap(d2) == 0, "mmap B");
	CHECK(d2->mem == d->mem && d->mem->refcount == 2, "shared nmem_d");
	CHECK(count_mems(ctx) == 1, "one region in the context");
	CHECK((char *)d2->nifp == region + 512, "nifp B");
	CHECK(d2->first_rx_ring == 0 && d2->last_rx_ring == 1, "rx range B [%u,%u]",
			d2->first_rx_ring, d2->last_rx_ring);
	CHECK(d2->first_tx_ring > d2->last_tx_ring, "tx range B must be empty");
	CHECK(NETMAP_RXRING(d2->nifp, 1) == rx1 && NETMAP_RXRING(d2->nifp, 0) == rx0,
			"rx ring addresses");

	/* a netmap_if outside the region is refused and the reference
	 * taken for it is dropped again */
	d3 = fake_port(REGION_SIZE - 8, 0);
	CHECK_ERRNO(nmport_mmap(d3), EINVAL);
	CHECK(d->mem->refcount == 2 && d3->mem == NULL && !d3->mmap_done,
			"failed mmap left a reference");
	nmport_close(d3);

	/* a registered extmem port can be cloned; the copy has no options */
	c = nmport_clone(d);
	CHECK(c != NULL, "clone");
	if (c != NULL) {
		CHECK(c->extmem == NULL && c->hdr.nr_options == 0 &&
				c->reg.nr_mem_id == MEM_ID && !c->register_done,
				"clone state");
		nmport_undo_prepare(c);
	}

	/* --- inject --- */
	CHECK(nmport_inject(d2, pkt, 10) == 0, "inject without TX rings");

	CHECK(nmport_inject(d, pkt, 100) == 100, "inject 100");
	CHECK(r1->slot[0].len == BUFSZ && r1->slot[0].flags == NS_MOREFRAG,
			"first fragment");
	CHECK(r1->slot[1].len == 36 && r1->slot[1].flags == 0, "last fragment");
	check_bytes(r1, 0, pkt, BUFSZ, "inject 100");
	check_bytes(r1, 1, pkt + BUFSZ, 36, "inject 100");
	CHECK(r1->head == 2 && r1->cur == 2, "head/cur %u/%u", r1->head, r1->cur);
	CHECK(d->cur_tx_ring == 1, "cur_tx_ring");

	/* exactly the room that is left: 5 slots */
	r1->slot[6].flags = NS_BUF_CHANGED;
	CHECK(nmport_inject(d, pkt, 5 * BUFSZ) == 5 * BUFSZ, "inject 320");
	CHECK(r1->head == 7, "ring 1 full, head %u", r1->head);
	CHECK(r1->slot[6].flags == NS_BUF_CHANGED && r1->slot[6].len == BUFSZ,
			"NS_BUF_CHANGED kept on the last fragment (flags %#x)",
			r1->slot[6].flags);
	for (i = 2; i < 6; i++)
		CHECK(r1->slot[i].flags == NS_MOREFRAG, "slot %u flags", i);

	/* ring 1 is full: the next packet goes to ring 2 */
	CHECK(nmport_inject(d, pkt, 10) == 10, "inject to ring 2");
	CHECK(d->cur_tx_ring == 2 && r2->head == 1 && r2->slot[0].len == 10,
			"round robin to ring 2");
	check_bytes(r2, 0, pkt, 10, "ring 2");

	/* too big for any ring */
	CHECK(nmport_inject(d, pkt, (NSLOTS) * BUFSZ) == 0, "oversized packet");

	/* wrap-around: cur 6, tail 1 leaves slots 6, 7, 0 */
	r2->head = r2->cur = 6;
	SET32(r2->tail, 1);
	CHECK(nmport_inject(d, pkt, 150) == 150, "inject with wrap");
	CHECK(r2->head == 1 && r2->cur == 1, "wrapped head %u", r2->head);
	CHECK(r2->slot[6].flags == NS_MOREFRAG && r2->slot[7].flags == NS_MOREFRAG &&
			r2->slot[0].flags == 0 && r2->slot[0].len == 150 - 2 * BUFSZ,
			"wrapped fragments");
	check_bytes(r2, 7, pkt + BUFSZ, BUFSZ, "wrap");
	check_bytes(r2, 0, pkt + 2 * BUFSZ, 150 - 2 * BUFSZ, "wrap");

	/* both rings full */
	CHECK(nmport_inject(d, pkt, 1) == 0, "no room anywhere");

	/* room again in ring 1 only; the search starts at cur_tx_ring (2)
	 * and wraps around to ring 1 */
	SET32(r1->tail, 1);	/* cur 7 -> slots 7, 0 */
	CHECK(nmport_inject(d, pkt, 0) == 0 && r1->head == 0 &&
			r1->slot[7].len == 0 && d->cur_tx_ring == 1,
			"empty packet takes one slot");
	CHECK(nmport_inject(d, pkt, 64) == 64 && r1->head == 1, "last slot");

	/* --- teardown: the region goes with its last user --- */
	nmport_undo_mmap(d2);
	CHECK(d2->mem == NULL && d2->nifp == NULL && !d2->mmap_done, "undo B");
	CHECK(count_mems(ctx) == 1 && d->mem->refcount == 1, "A still mapped");
	nmport_close(d2);
	nmport_close(d);
	CHECK(count_mems(ctx) == 0 && ctx->mem_descs == NULL, "region released");

	free(region);
	return t_done();
}
