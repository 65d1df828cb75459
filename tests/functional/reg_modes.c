/* Description: register modes on a 4+4-ring pipe (ALL_NIC, ONE_NIC, /T, /R, invalid modes/rings), netmap_if fields (ring_ofs, host rings, name, NI_PRIV_MEM) and initial/shared ring state. */
#include <fcntl.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <libnetmap.h>
#include "testlib.h"

#define SLOTS 128

static int nm_fd(void)
{
	int fd = open("/dev/netmap", O_RDWR);
	REQUIRE(fd >= 0, "open /dev/netmap: %s", strerror(errno));
	return fd;
}

/* raw REGISTER; returns ioctl's result */
static int reg_raw(const char *name, uint32_t mode, uint16_t ringid, uint64_t flags)
{
	struct nmreq_register reg;
	struct nmreq_header h;
	memset(&reg, 0, sizeof(reg));
	reg.nr_mode = mode;
	reg.nr_ringid = ringid;
	reg.nr_flags = flags;
	memset(&h, 0, sizeof(h));
	h.nr_version = NETMAP_API;
	h.nr_reqtype = NETMAP_REQ_REGISTER;
	snprintf(h.nr_name, sizeof(h.nr_name), "%s", name);
	h.nr_body = (uintptr_t)&reg;
	int fd = nm_fd();
	int ret = ioctl(fd, NIOCCTRL, &h);
	int e = errno;
	close(fd);
	errno = e;
	return ret;
}

/* bit i of txmask/rxmask set <=> hw ring i bound; host entries must be 0 */
static void check_ofs(struct nmport_d *d, unsigned txmask, unsigned rxmask, const char *who)
{
	struct netmap_if *nifp = d->nifp;
	unsigned ntx = nifp->ni_tx_rings, nrx = nifp->ni_rx_rings;
	unsigned htx = nifp->ni_host_tx_rings;
	for (unsigned i = 0; i < ntx; i++) {
		int want = (txmask >> i) & 1;
		CHECK((nifp->ring_ofs[i] != 0) == want, "%s: tx ring_ofs[%u] = %zd, want %s", who, i,
		      nifp->ring_ofs[i], want ? "non-zero" : "0");
	}
	for (unsigned i = 0; i < htx; i++)
		CHECK(nifp->ring_ofs[ntx + i] == 0, "%s: host tx ring_ofs = %zd", who,
		      nifp->ring_ofs[ntx + i]);
	for (unsigned i = 0; i < nrx; i++) {
		int want = (rxmask >> i) & 1;
		CHECK((nifp->ring_ofs[ntx + htx + i] != 0) == want,
		      "%s: rx ring_ofs[%u] = %zd, want %s", who, i, nifp->ring_ofs[ntx + htx + i],
		      want ? "non-zero" : "0");
	}
	for (unsigned i = 0; i < nifp->ni_host_rx_rings; i++)
		CHECK(nifp->ring_ofs[ntx + htx + nrx + i] == 0, "%s: host rx ring_ofs = %zd", who,
		      nifp->ring_ofs[ntx + htx + nrx + i]);
}

static void check_range(struct nmport_d *d, int ftx, int ltx, int frx, int lrx, const char *who)
{
	CHECK(d->first_tx_ring == ftx && d->last_tx_ring == ltx, "%s: tx rings %u..%u want %d..%d",
	      who, d->first_tx_ring, d->last_tx_ring, ftx, ltx);
	CHECK(d->first_rx_ring == frx && d->last_rx_ring == lrx, "%s: rx rings %u..%u want %d..%d",
	      who, d->first_rx_ring, d->last_rx_ring, frx, lrx);
}

static struct nmport_d *open_ok(const char *spec)
{
	struct nmport_d *d = nmport_open(spec);
	CHECK(d != NULL, "open %s: %s", spec, strerror(errno));
	return d;
}

int main(void)
{
	t_setup(60);

	/* the master end creates the pipe with 4 TX and 4 RX rings */
	struct nmport_d *m = nmport_prepare("netmap:rm{1");
	REQUIRE(m != NULL, "prepare: %s", strerror(errno));
	m->reg.nr_tx_rings = 4;
	m->reg.nr_rx_rings = 4;
	m->reg.nr_tx_slots = m->reg.nr_rx_slots = SLOTS;
	REQUIRE(nmport_open_desc(m) == 0, "open rm{1: %s", strerror(errno));
	REQUIRE(m->reg.nr_tx_rings == 4 && m->reg.nr_rx_rings == 4, "rings %u/%u",
		m->reg.nr_tx_rings, m->reg.nr_rx_rings);

	/* ---- netmap_if of an ALL_NIC registration ---- */
	struct netmap_if *nifp = m->nifp;
	CHECK(nifp->ni_tx_rings == 4 && nifp->ni_rx_rings == 4, "ni rings %u/%u",
	      nifp->ni_tx_rings, nifp->ni_rx_rings);
	CHECK(nifp->ni_host_tx_rings == 1 && nifp->ni_host_rx_rings == 1, "ni host rings %u/%u",
	      nifp->ni_host_tx_rings, nifp->ni_host_rx_rings);
	CHECK(m->reg.nr_host_tx_rings == 0 && m->reg.nr_host_rx_rings == 0,
	      "reply host rings %u/%u", m->reg.nr_host_tx_rings, m->reg.nr_host_rx_rings);
	CHECK(strcmp(nifp->ni_name, "rm{1") == 0, "ni_name '%.16s'", nifp->ni_name);
	CHECK(nifp->ni_flags & NI_PRIV_MEM, "ni_flags %#x lacks NI_PRIV_MEM", nifp->ni_flags);
	CHECK(m->reg.nr_mem_id > 1, "pipe in region %u", m->reg.nr_mem_id);
	CHECK(nifp->ni_bufs_head == 0, "ni_bufs_head %u", nifp->ni_bufs_head);
	CHECK(m->reg.nr_mode == NR_REG_ALL_NIC && m->reg.nr_ringid == 0 && m->reg.nr_flags == 0,
	      "mode/ringid/flags changed: %u %u %llu", m->reg.nr_mode, m->reg.nr_ringid,
	      (unsigned long long)m->reg.nr_flags);
	check_ofs(m, 0xf, 0xf, "ALL_NIC");
	check_range(m, 0, 3, 0, 3, "ALL_NIC");

	/* ---- initial ring state of a fresh pipe ---- */
	for (unsigned i = 0; i < 4; i++) {
		struct netmap_ring *t = NETMAP_TXRING(nifp, i), *r = NETMAP_RXRING(nifp, i);
		CHECK(t->num_slots == SLOTS && r->num_slots == SLOTS, "ring %u slots %u/%u", i,
		      t->num_slots, r->num_slots);
		CHECK(t->head == 0 && t->cur == 0 && t->tail == SLOTS - 1,
		      "tx ring %u initial head/cur/tail %u/%u/%u", i, t->head, t->cur, t->tail);
		CHECK(r->head == 0 && r->cur == 0 && r->tail == 0,
		      "rx ring %u initial head/cur/tail %u/%u/%u", i, r->head, r->cur, r->tail);
		CHECK(t->dir == 1, "tx ring %u dir %u", i, t->dir);
		CHECK(r->dir == 0, "rx ring %u dir %u", i, r->dir);
		CHECK(t->ringid == i && r->ringid == i, "ringid %u/%u want %u", t->ringid,
		      r->ringid, i);
		CHECK(t->nr_buf_size == 2048 && r->nr_buf_size == 2048, "buf size %u",
		      t->nr_buf_size);
		CHECK(t->offset_mask == 0 && t->buf_align == 0, "tx offset_mask/buf_align");
		CHECK(t->ts.tv_sec == 0 && t->ts.tv_usec == 0, "tx ring %u has a timestamp", i);
		for (unsigned j = 0; j < SLOTS; j++) {
			struct netmap_slot *s = &t->slot[j];
			if (s->buf_idx < 2 || s->len != 2048 || s->flags != 0 || s->ptr != 0) {
				CHECK(0, "tx ring %u slot %u: idx %u len %u flags %#x", i, j,
				      s->buf_idx, s->len, s->flags);
				break;
			}
		}
		for (unsigned k = 0; k < i; k++)
			CHECK(NETMAP_TXRING(nifp, k) != t, "tx rings %u and %u coincide", k, i);
	}

	/* ---- ONE_NIC ---- */
	struct nmport_d *one = open_ok("netmap:rm{1-2");
	if (one) {
		check_ofs(one, 0x4, 0x4, "ONE_NIC 2");
		check_range(one, 2, 2, 2, 2, "ONE_NIC 2");
		CHECK(one->reg.nr_mode == NR_REG_ONE_NIC && one->reg.nr_ringid == 2,
		      "ONE_NIC mode/ringid echoed %u/%u", one->reg.nr_mode, one->reg.nr_ringid);
		CHECK(one->nifp->ni_tx_rings == 4 && one->nifp->ni_rx_rings == 4,
		      "ONE_NIC ni rings %u/%u", one->nifp->ni_tx_rings, one->nifp->ni_rx_rings);
		CHECK(NETMAP_TXRING(one->nifp, 2) == NETMAP_TXRING(nifp, 2),
		      "ring 2 not the same object for both fds");
		CHECK(one->nifp != nifp, "two fds share one netmap_if");
		nmport_close(one);
	}
	one = open_ok("netmap:rm{1-3");
	if (one) {
		check_ofs(one, 0x8, 0x8, "ONE_NIC 3");
		nmport_close(one);
	}

	/* ---- direction-only flags ---- */
	struct nmport_d *t = open_ok("netmap:rm{1/T");
	if (t) {
		check_ofs(t, 0xf, 0x0, "/T");
		CHECK(t->first_tx_ring == 0 && t->last_tx_ring == 3, "/T tx %u..%u",
		      t->first_tx_ring, t->last_tx_ring);
		CHECK(t->first_rx_ring > t->last_rx_ring, "/T rx range %u..%u not empty",
		      t->first_rx_ring, t->last_rx_ring);
		nmport_close(t);
	}
	struct nmport_d *r = open_ok("netmap:rm{1/R");
	if (r) {
		check_ofs(r, 0x0, 0xf, "/R");
		CHECK(r->first_rx_ring == 0 && r->last_rx_ring == 3, "/R rx %u..%u",
		      r->first_rx_ring, r->last_rx_ring);
		CHECK(r->first_tx_ring > r->last_tx_ring, "/R tx range %u..%u not empty",
		      r->first_tx_ring, r->last_tx_ring);
		nmport_close(r);
	}
	t = open_ok("netmap:rm{1-1/T");
	if (t) {
		check_ofs(t, 0x2, 0x0, "-1/T");
		nmport_close(t);
	}

	/* ---- invalid ring numbers and modes ---- */
	CHECK_ERRNO(reg_raw("rm{1", NR_REG_ONE_NIC, 7, 0), EINVAL);
	CHECK_ERRNO(reg_raw("rm{1", NR_REG_ONE_NIC, 4, 0), EINVAL);
	CHECK(reg_raw("rm{1", NR_REG_ONE_NIC, 3, 0) == 0, "ONE_NIC 3 raw: %s", strerror(errno));
	const uint32_t host_modes[] = { NR_REG_SW, NR_REG_NIC_SW, NR_REG_ONE_SW };
	for (unsigned i = 0; i < 3; i++) {
		CHECK_ERRNO(reg_raw("rm{1", host_modes[i], 0, 0), EINVAL);
		CHECK_ERRNO(reg_raw("rm}1", host_modes[i], 0, 0), EINVAL);
		CHECK_ERRNO(reg_raw("rmnew{1", host_modes[i], 0, 0), EINVAL);
	}
	const uint32_t bad_modes[] = { NR_REG_DEFAULT, NR_REG_PIPE_MASTER, NR_REG_PIPE_SLAVE, 9,
				       100 };
	for (unsigned i = 0; i < sizeof(bad_modes) / sizeof(bad_modes[0]); i++) {
		CHECK_ERRNO(reg_raw("rm{1", bad_modes[i], 0, 0), EINVAL);
		CHECK_ERRNO(reg_raw("rmnew{1", bad_modes[i], 1, 0), EINVAL);
	}
	CHECK(reg_raw("rm{1", NR_REG_ALL_NIC, 0, 0) == 0, "pipe unusable after errors: %s",
	      strerror(errno));

	/* ---- the other end ---- */
	struct nmport_d *sl = open_ok("netmap:rm}1");
	if (sl) {
		CHECK(strcmp(sl->nifp->ni_name, "rm}1") == 0, "slave ni_name '%.16s'",
		      sl->nifp->ni_name);
		CHECK(sl->nifp->ni_tx_rings == 4 && sl->nifp->ni_rx_rings == 4, "slave rings");
		CHECK(sl->reg.nr_mem_id == m->reg.nr_mem_id, "slave region %u vs %u",
		      sl->reg.nr_mem_id, m->reg.nr_mem_id);
		check_ofs(sl, 0xf, 0xf, "slave");
		nmport_close(sl);
	}

	/* ---- asymmetric pipe: ONE_NIC beyond one direction's count uses ring 0 ---- */
	struct nmport_d *a = nmport_prepare("netmap:ra{1");
	REQUIRE(a != NULL, "prepare ra{1");
	a->reg.nr_tx_rings = 2;
	a->reg.nr_rx_rings = 4;
	a->reg.nr_tx_slots = a->reg.nr_rx_slots = 64;
	REQUIRE(nmport_open_desc(a) == 0, "open ra{1: %s", strerror(errno));
	struct nmport_d *a3 = open_ok("netmap:ra{1-3");
	if (a3) {
		CHECK(a3->nifp->ni_tx_rings == 2 && a3->nifp->ni_rx_rings == 4, "ra rings %u/%u",
		      a3->nifp->ni_tx_rings, a3->nifp->ni_rx_rings);
		check_ofs(a3, 0x1, 0x8, "ra{1-3");
		nmport_close(a3);
	}
	struct nmport_d *as = open_ok("netmap:ra}1");
	if (as) {
		CHECK(as->nifp->ni_tx_rings == 4 && as->nifp->ni_rx_rings == 2,
		      "ra}1 rings %u/%u", as->nifp->ni_tx_rings, as->nifp->ni_rx_rings);
		check_ofs(as, 0xf, 0x3, "ra}1");
		nmport_close(as);
	}
	CHECK_ERRNO(reg_raw("ra{1", NR_REG_ONE_NIC, 4, 0), EINVAL);
	nmport_close(a);

	/* ---- ni_name is truncated to 15 characters ---- */
	struct nmport_d *ln = open_ok("netmap:abcdefghijklmnopq{1");
	if (ln) {
		CHECK(strcmp(ln->nifp->ni_name, "abcdefghijklmno") == 0, "long ni_name '%.16s'",
		      ln->nifp->ni_name);
		nmport_close(ln);
	}

	/* ---- a pipe of a network interface lives in the global region ---- */
	if (if_nametoindex("lo") != 0) {
		struct nmport_d *g = open_ok("netmap:lo{7");
		if (g) {
			CHECK(g->reg.nr_mem_id == 1, "lo{7 in region %u", g->reg.nr_mem_id);
			CHECK(!(g->nifp->ni_flags & NI_PRIV_MEM), "global region has NI_PRIV_MEM");
			nmport_close(g);
		}
	}

	/* ---- a second fd sees the current ring state, not a reset one ---- */
	struct netmap_ring *t1 = NETMAP_TXRING(nifp, 1);
	for (int i = 0; i < 3; i++) {
		struct netmap_slot *s = &t1->slot[t1->head];
		memset(NETMAP_BUF(t1, s->buf_idx), 0xab, 60);
		s->len = 60;
		t1->head = t1->cur = nm_ring_next(t1, t1->head);
	}
	CHECK(ioctl(m->fd, NIOCTXSYNC, NULL) == 0, "txsync");
	CHECK(t1->head == 3 && t1->cur == 3 && t1->tail == SLOTS - 1, "after send %u/%u/%u",
	      t1->head, t1->cur, t1->tail);
	struct nmport_d *m2 = open_ok("netmap:rm{1-1");
	if (m2) {
		struct netmap_ring *t1b = NETMAP_TXRING(m2->nifp, 1);
		CHECK(t1b == t1, "second fd sees another ring object");
		CHECK(t1b->head == 3 && t1b->cur == 3 && t1b->tail == SLOTS - 1,
		      "second fd tx state %u/%u/%u", t1b->head, t1b->cur, t1b->tail);
		nmport_close(m2);
	}
	CHECK(t1->head == 3 && t1->cur == 3 && t1->tail == SLOTS - 1,
	      "registration changed the ring: %u/%u/%u", t1->head, t1->cur, t1->tail);

	struct nmport_d *s1 = open_ok("netmap:rm}1");
	if (s1) {
		struct netmap_ring *r1 = NETMAP_RXRING(s1->nifp, 1);
		CHECK(r1->head == 0 && r1->tail == 0, "rx before sync %u/%u", r1->head, r1->tail);
		CHECK(ioctl(s1->fd, NIOCRXSYNC, NULL) == 0, "rxsync");
		CHECK(r1->tail == 3, "rx tail after sync %u", r1->tail);
		r1->head = r1->cur = 1;	/* consume one, not yet released */
		struct nmport_d *s2 = open_ok("netmap:rm}1-1");
		if (s2) {
			struct netmap_ring *r1b = NETMAP_RXRING(s2->nifp, 1);
			CHECK(r1b->head == 1 && r1b->cur == 1 && r1b->tail == 3,
			      "second fd rx state %u/%u/%u", r1b->head, r1b->cur, r1b->tail);
			check_ofs(s2, 0x2, 0x2, "rm}1-1");
			nmport_close(s2);
		}
		nmport_close(s1);
	}

	nmport_close(m);
	return t_done();
}
