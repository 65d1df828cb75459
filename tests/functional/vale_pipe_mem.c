/* Description: memory regions of VALE ports: by default every VALE port has
 * a region of its own; "@memid" (or nr_mem_id) puts a port in another's
 * region; pipes vale0:p{1 / vale0:p}1 live in vale0:p's region and move
 * frames zero-copy while vale0:p keeps switching; an unknown mem_id is
 * EINVAL. */
#include <sys/ioctl.h>
#include <libnetmap.h>
#include <unetmap.h>
#include "testlib.h"
#include "valetest.h"

/* the tag of the only frame waiting on d (UINT32_MAX if not exactly one);
 * *buf gets its buffer index */
static uint32_t recv_one(struct nmport_d *d, uint32_t *buf)
{
	ioctl(d->fd, NIOCRXSYNC, NULL);
	struct netmap_ring *r = NETMAP_RXRING(d->nifp, d->first_rx_ring);
	uint32_t tag = UINT32_MAX;
	if (nm_ring_space(r) == 1) {
		memcpy(&tag, NETMAP_BUF(r, r->slot[r->head].buf_idx) + 14, 4);
		if (buf)
			*buf = r->slot[r->head].buf_idx;
	}
	r->head = r->cur = r->tail;
	ioctl(d->fd, NIOCRXSYNC, NULL);
	return tag;
}

/* raw REGISTER with nr_mem_id; returns the bound fd (the region it got in
 * *out) or -1/errno */
static int reg_mem(const char *name, uint16_t mem_id, uint16_t *out)
{
	struct nmreq_register reg;
	memset(&reg, 0, sizeof(reg));
	reg.nr_mode = NR_REG_ALL_NIC;
	reg.nr_mem_id = mem_id;
	int fd = t_register(name, &reg);
	if (fd >= 0)
		*out = reg.nr_mem_id;
	return fd;
}

int main(void)
{
	t_setup(60);
	nmctx_get()->verbose = 0;

	/* default: a region per port */
	struct nmport_d *a = t_open("vale0:a"), *b = t_open("vale0:b"), *c = t_open("vale1:c");
	uint16_t ma = a->reg.nr_mem_id, mb = b->reg.nr_mem_id, mc = c->reg.nr_mem_id;
	CHECK(ma > 1 && mb > 1 && mc > 1, "mem ids %u %u %u (1 is the global region)", ma, mb, mc);
	CHECK(ma != mb && mb != mc && ma != mc, "default VALE ports share a region: %u %u %u", ma,
	      mb, mc);
	struct unetmap_mem_stats sa;
	CHECK(unetmap_mem_stats(ma, &sa) == 0, "stats of vale0:a's region");

	/* @memid */
	char spec[64];
	snprintf(spec, sizeof(spec), "vale0:d@%u", ma);
	struct nmport_d *d = t_open(spec);
	CHECK(d->reg.nr_mem_id == ma, "vale0:d@%u got mem %u", ma, d->reg.nr_mem_id);
	snprintf(spec, sizeof(spec), "vale1:e@%u", ma);	/* another switch, same region */
	struct nmport_d *e = t_open(spec);
	CHECK(e->reg.nr_mem_id == ma, "vale1:e@%u got mem %u", ma, e->reg.nr_mem_id);
	struct unetmap_mem_stats sa2;
	CHECK(unetmap_mem_stats(ma, &sa2) == 0 && sa2.ring_free < sa.ring_free,
	      "vale0:d's rings not taken from region %u (%u -> %u free)", ma, sa.ring_free,
	      sa2.ring_free);
	/* nr_mem_id in a raw REGISTER */
	uint16_t got = 0;
	int fd = reg_mem("vale0:f", mb, &got);
	CHECK(fd >= 0 && got == mb, "REGISTER vale0:f with nr_mem_id %u: fd %d mem %u (%s)", mb,
	      fd, got, strerror(errno));
	if (fd >= 0)
		close(fd);
	errno = 0;
	fd = reg_mem("vale0:g", 60000, &got);
	CHECK(fd < 0 && errno == EINVAL, "REGISTER with unknown nr_mem_id 60000: fd %d %s", fd,
	      strerror(errno));
	if (fd >= 0)
		close(fd);
	t_open_fails("vale0:g@60000", EINVAL);
	/* a port in a shared region still switches by copy */
	vt_send(d, vt_bcast, 1, 1, 60);
	CHECK(recv_one(a, NULL) == 1 && recv_one(b, NULL) == 1, "d's broadcast on vale0");
	vt_send(e, vt_bcast, 2, 2, 60);
	CHECK(recv_one(c, NULL) == 2, "e's broadcast on vale1");

	/* pipes of vale0:p */
	struct nmport_d *p = t_open("vale0:p");
	uint16_t mp = p->reg.nr_mem_id;
	CHECK(mp != ma && mp != mb && mp != mc, "vale0:p shares a region: %u", mp);
	struct nmport_d *pm = t_open("vale0:p{1"), *ps = t_open("vale0:p}1");
	CHECK(pm->reg.nr_mem_id == mp, "vale0:p{1 in mem %u, vale0:p in %u", pm->reg.nr_mem_id, mp);
	CHECK(ps->reg.nr_mem_id == mp, "vale0:p}1 in mem %u, vale0:p in %u", ps->reg.nr_mem_id, mp);
	struct nmport_d *pm2 = t_open("vale0:p{2");
	CHECK(pm2->reg.nr_mem_id == mp, "vale0:p{2 in mem %u", pm2->reg.nr_mem_id);
	/* the pipe moves frames zero-copy */
	struct netmap_ring *t = NETMAP_TXRING(pm->nifp, 0);
	uint32_t txbuf = t->slot[t->head].buf_idx, rxbuf = 0;
	vt_send(pm, vt_bcast, 3, 3, 60);
	CHECK(recv_one(ps, &rxbuf) == 3, "frame through vale0:p{1 -> }1");
	CHECK(rxbuf == txbuf, "pipe copied: tx buffer %u, rx buffer %u", txbuf, rxbuf);
	/* pipe frames do not enter the switch; the switch port still works */
	CHECK(recv_one(a, NULL) == UINT32_MAX && recv_one(p, NULL) == UINT32_MAX,
	      "pipe frame leaked into the switch");
	vt_send(p, vt_bcast, 4, 4, 60);
	CHECK(recv_one(a, NULL) == 4 && recv_one(b, NULL) == 4, "vale0:p still switches");
	CHECK(recv_one(ps, NULL) == UINT32_MAX, "switch frame on the pipe");
	vt_send(a, vt_bcast, 5, 5, 60);
	CHECK(recv_one(p, NULL) == 5, "vale0:p receives from the switch");

	nmport_close(pm2);
	nmport_close(pm);
	nmport_close(ps);
	nmport_close(p);
	nmport_close(e);
	nmport_close(d);
	struct unetmap_mem_stats sa3;
	CHECK(unetmap_mem_stats(ma, &sa3) == 0 && sa3.ring_free == sa.ring_free &&
	      sa3.buf_free == sa.buf_free && sa3.if_free == sa.if_free,
	      "region %u after the guests left: rings %u->%u bufs %u->%u ifs %u->%u", ma,
	      sa.ring_free, sa3.ring_free, sa.buf_free, sa3.buf_free, sa.if_free, sa3.if_free);
	CHECK(unetmap_mem_stats(mp, &sa3) == -EINVAL, "vale0:p's region %u outlives its ports", mp);
	nmport_close(a);
	nmport_close(b);
	nmport_close(c);
	CHECK(unetmap_mem_stats(ma, &sa3) == -EINVAL, "region %u outlives its ports", ma);
	return t_done();
}
