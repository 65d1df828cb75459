/* Description: zero-copy monitors PORT/z (reference §4.5, §1.7): a /z
 * monitor lives in its parent's region, watches both directions and sees
 * a frame only after the parent is done with it -- RX once the parent's
 * user releases the slot, TX on VALE right after the sender's txsync, on a
 * pipe only after the peer read it and the sender synced again -- by
 * swapping buffers (the parent slot gets the monitor's old buffer and
 * NS_BUF_CHANGED; NS_TXMON on TX frames).  Several /z monitors of a ring
 * form a chain (each sees the buffers after the previous one released
 * them) next to copy monitors; a /z monitor that does not read never holds
 * the parent back; one that is killed under traffic is stepped over and
 * then unlinked, and no buffer is lost or duplicated.  Pipes, ephemeral and
 * persistent VALE ports, single and multi-slot frames; txsync EIO, the
 * OFFSETS option EOPNOTSUPP, rxsync EIO once the parent is gone. */
#include <signal.h>
#include "testlib.h"
#include "nmtest.h"
#include "montest.h"

#define ID_A	0xa1u

static const uint8_t *vhdr(uint8_t h[14])
{
	memcpy(h, vt_bcast, 6);
	vt_mac(h + 6, ID_A);
	h[12] = 0x88;
	h[13] = 0xb5;
	return h;
}

/* frame `tag` of len bytes (2048-byte fragments) on TX ring 0 of d; the
 * slots' records in recs; how many slots */
static unsigned put(struct nmport_d *d, uint32_t tag, unsigned len, struct mt_rec *recs)
{
	uint8_t h[14];
	return mt_put(d, 0, vhdr(h), tag, len, 2048, 0, recs);
}

/* a few frames of several sizes (60 .. 5000 bytes) from tag on; slots */
static int put_mix(struct nmport_d *d, uint32_t tag, struct mt_rec *recs)
{
	static const unsigned lens[] = { 60, 1514, 2048, 3000, 64, 5000, 100 };
	int ns = 0;
	for (unsigned i = 0; i < sizeof(lens) / sizeof(lens[0]); i++)
		ns += (int)put(d, tag + i, lens[i], &recs[ns]);
	return ns;
}

/* the buffer index of each slot in [head, tail) of RX ring 0 of d */
static int rx_bufs(struct nmport_d *d, uint32_t *idx, int max)
{
	struct netmap_ring *r = NETMAP_RXRING(d->nifp, 0);
	int n = 0;
	for (uint32_t i = r->head; i != r->tail && n < max; i = nm_ring_next(r, i))
		idx[n++] = r->slot[i].buf_idx;
	return n;
}

/* release everything on RX ring 0 of d */
static void release_all(struct nmport_d *d)
{
	struct netmap_ring *r = NETMAP_RXRING(d->nifp, 0);
	r->head = r->cur = r->tail;
	CHECK(ioctl(d->fd, NIOCRXSYNC, NULL) == 0, "rxsync %s: %s", d->hdr.nr_name,
	      strerror(errno));
}

/* with `mode` FL_TXMON: want[] flags | NS_TXMON; all get NS_BUF_CHANGED */
static void expect_z(const char *what, struct nmport_d *m, const struct mt_rec *want, int nwant,
		     enum mt_flmode mode, bool release)
{
	static struct mt_rec got[512], w2[512];
	for (int i = 0; i < nwant && i < 512; i++) {
		w2[i] = want[i];
		w2[i].flags |= NS_BUF_CHANGED;
	}
	int n = mt_collect(m, 0, got, 512, release);
	mt_expect_recs(what, got, n, w2, nwant, mode);
}

/* geometry of /z monitor m of p: the parent's region, both directions */
static void zgeometry(const char *what, struct nmport_d *m, struct nmport_d *p)
{
	unsigned want = p->reg.nr_tx_rings > p->reg.nr_rx_rings ? p->reg.nr_tx_rings
								 : p->reg.nr_rx_rings;
	CHECK(m->reg.nr_rx_rings == want && m->reg.nr_tx_rings == 1,
	      "%s: %u/%u TX/RX rings, want 1/%u", what, m->reg.nr_tx_rings, m->reg.nr_rx_rings,
	      want);
	CHECK(m->reg.nr_mem_id == p->reg.nr_mem_id, "%s: nr_mem_id %u, want the parent's %u", what,
	      m->reg.nr_mem_id, p->reg.nr_mem_id);
	uint64_t both = NR_MONITOR_TX | NR_MONITOR_RX | NR_ZCOPY_MON;
	CHECK((m->reg.nr_flags & both) == both, "%s: nr_flags %#llx, want ZCOPY|TX|RX", what,
	      (unsigned long long)m->reg.nr_flags);
	CHECK(m->reg.nr_rx_slots == p->reg.nr_rx_slots, "%s: %u slots, want %u", what,
	      m->reg.nr_rx_slots, p->reg.nr_rx_slots);
	CHECK(ioctl(m->fd, NIOCRXSYNC, NULL) == 0 && nm_ring_empty(NETMAP_RXRING(m->nifp, 0)),
	      "%s: not empty at start", what);
	errno = 0;
	int r = ioctl(m->fd, NIOCTXSYNC, NULL);
	CHECK(r == -1 && errno == EIO, "%s: txsync %d/%s, want EIO", what, r, strerror(errno));
}

/* ---- pipes -------------------------------------------------------------------- */

/* RX: after the receiver releases; TX: after the receiver released and the
 * sender synced again */
static void pipe_rules(void)
{
	static struct mt_rec sent[64], qrx[64];
	uint32_t qbuf[64], zbuf[64];
	/* receiver side */
	struct nmport_d *p = t_open("netmap:zr{1"), *q = t_open("netmap:zr}1");
	struct nmport_d *mq = t_open("netmap:zr}1/z");
	zgeometry("zr}1/z", mq, q);
	mt_require_2048(p, mq);
	int ns = put_mix(p, 0x100, sent);
	vt_txsync(p);
	CHECK(mt_collect(mq, 0, qrx, 64, false) == 0, "zr}1/z: frames seen at arrival");
	int nq = mt_collect(q, 0, qrx, 64, false);
	mt_expect_recs("zr}1 (receiver)", qrx, nq, sent, ns, FL_SAME);
	CHECK(mt_collect(mq, 0, qrx, 64, false) == 0, "zr}1/z: frames seen before the release");
	int nb = rx_bufs(q, qbuf, 64);
	release_all(q);
	expect_z("zr}1/z after the receiver released", mq, sent, ns, FL_SAME, false);
	CHECK(rx_bufs(mq, zbuf, 64) == nb, "zr}1/z slots");
	int moved = 0;
	for (int i = 0; i < nb; i++)
		moved += zbuf[i] == qbuf[i];
	CHECK(moved == nb, "zr}1/z holds %d of the receiver's %d buffers (want them swapped)",
	      moved, nb);
	release_all(mq);
	/* the sender gets the monitor's old buffers back, marked */
	vt_txsync(p);
	struct netmap_ring *tx = NETMAP_TXRING(p->nifp, 0);
	CHECK(nm_ring_space(tx) == tx->num_slots - 1, "zr{1 TX ring not free after the release");
	int changed = 0;
	for (int i = 0; i < nb; i++) {
		struct netmap_slot *s = &tx->slot[i];
		changed += (s->flags & NS_BUF_CHANGED) && s->buf_idx != qbuf[i] && s->buf_idx >= 2;
	}
	CHECK(changed == nb, "zr{1: %d of %d TX slots got a new buffer with NS_BUF_CHANGED",
	      changed, nb);
	nmport_close(mq);
	nmport_close(p);
	nmport_close(q);

	/* sender side (pipe test 027) */
	p = t_open("netmap:zt{1");
	q = t_open("netmap:zt}1");
	struct nmport_d *mp = t_open("netmap:zt{1/z");
	zgeometry("zt{1/z", mp, p);
	ns = put_mix(p, 0x200, sent);
	vt_txsync(p);
	CHECK(mt_collect(mp, 0, qrx, 64, false) == 0, "zt{1/z: frames seen at the txsync");
	nq = mt_collect(q, 0, qrx, 64, false);
	mt_expect_recs("zt}1 (receiver)", qrx, nq, sent, ns, FL_SAME);
	release_all(q);
	CHECK(mt_collect(mp, 0, qrx, 64, false) == 0,
	      "zt{1/z: frames seen before the sender synced again");
	vt_txsync(p);
	expect_z("zt{1/z after the peer read and the sender synced", mp, sent, ns, FL_TXMON, true);
	vt_txsync(p);
	CHECK(mt_drain(mp, 0) == 0, "zt{1/z: frames seen twice");
	nmport_close(mp);
	nmport_close(p);
	nmport_close(q);
}

/* ---- VALE ---------------------------------------------------------------------- */

static void vale_rules(const char *an, const char *bn)
{
	static struct mt_rec sent[64], brx[64];
	char s[64];
	struct nmport_d *a = t_open(an), *b = t_open(bn);
	snprintf(s, sizeof(s), "%s/z", an);
	struct nmport_d *ma = t_open(s);
	snprintf(s, sizeof(s), "%s/z", bn);
	struct nmport_d *mb = t_open(s);
	zgeometry(ma->hdr.nr_name, ma, a);
	zgeometry(mb->hdr.nr_name, mb, b);
	mt_require_2048(a, ma);
	struct netmap_ring *tx = NETMAP_TXRING(a->nifp, 0);
	uint32_t first = tx->head, abuf[64];
	int ns = put_mix(a, 0x300, sent);
	for (int i = 0; i < ns; i++)
		abuf[i] = tx->slot[(first + (unsigned)i) % tx->num_slots].buf_idx;
	vt_txsync_free(a, an);
	/* TX: right after the sender's txsync, its buffers */
	expect_z("a/z right after the txsync", ma, sent, ns, FL_TXMON, false);
	uint32_t zbuf[64];
	int nz = rx_bufs(ma, zbuf, 64), same = 0, marked = 0;
	for (int i = 0; i < nz && i < ns; i++) {
		same += zbuf[i] == abuf[i];
		struct netmap_slot *sl = &tx->slot[(first + (unsigned)i) % tx->num_slots];
		marked += (sl->flags & NS_BUF_CHANGED) && sl->buf_idx != abuf[i];
	}
	CHECK(same == ns && marked == ns, "a/z: %d of %d buffers are the sender's, %d sender slots"
	      " swapped with NS_BUF_CHANGED", same, ns, marked);
	release_all(ma);
	/* RX: only after b released */
	CHECK(mt_collect(mb, 0, brx, 64, false) == 0, "b/z: frames seen at arrival");
	int nb = mt_collect(b, 0, brx, 64, false);
	CHECK(nb == ns, "b got %d slots, want %d", nb, ns);
	CHECK(mt_collect(mb, 0, sent, 64, false) == 0, "b/z: frames seen before the release");
	release_all(b);
	expect_z("b/z after b released", mb, brx, nb, FL_SAME, true);
	/* the monitor's old buffers are in b's ring now, and frames go on */
	for (int k = 0; k < 3; k++) {
		ns = put_mix(a, 0x400 + 16 * (unsigned)k, sent);
		vt_txsync_free(a, an);
		nb = mt_collect(b, 0, brx, 64, true);
		mt_expect_recs("b, next rounds", brx, nb, sent, ns, FL_IGNORE);
		expect_z("b/z, next rounds", mb, brx, nb, FL_SAME, true);
		expect_z("a/z, next rounds", ma, sent, ns, FL_TXMON, true);
	}
	nmport_close(ma);
	nmport_close(mb);
	nmport_close(a);
	nmport_close(b);
}

static void vale_persistent(void)
{
	CHECK(vt_newif("zpers", NULL) == 0, "NEWIF zpers: %s", strerror(errno));
	CHECK(vt_attach("vale1:zpers", NULL) == 0, "attach vale1:zpers: %s", strerror(errno));
	t_open_fails("vale1:zpers/z", EINVAL);	/* nobody registered it */
	vale_rules("vale1:za", "vale1:zpers");
	CHECK(vt_detach("vale1:zpers", NULL) == 0, "detach: %s", strerror(errno));
	CHECK(vt_delif("zpers") == 0, "DELIF zpers: %s", strerror(errno));
}

/* two copy monitors and a chain of two /z monitors on b's ring */
static void chain(void)
{
	static struct mt_rec sent[64], brx[64], got[64];
	struct nmport_d *a = t_open("vale2:a"), *b = t_open("vale2:b");
	struct nmport_d *cr = t_open("vale2:b/r"), *crt = t_open("vale2:b/rt");
	struct nmport_d *z1 = t_open("vale2:b/z"), *z2 = t_open("vale2:b/z");
	int ns = put_mix(a, 0x500, sent);
	vt_txsync_free(a, "chain");
	/* copies at arrival */
	int n = mt_collect(cr, 0, got, 64, true);
	mt_expect_recs("b/r (copy) at arrival", got, n, sent, ns, FL_IGNORE);
	n = mt_collect(crt, 0, got, 64, true);
	mt_expect_recs("b/rt (copy) at arrival", got, n, sent, ns, FL_IGNORE);
	CHECK(mt_drain(z1, 0) == 0 && mt_drain(z2, 0) == 0, "/z monitors before the release");
	int nb = mt_collect(b, 0, brx, 64, true);
	CHECK(nb == ns, "b got %d slots", nb);
	CHECK(mt_collect(z2, 0, got, 64, false) == 0, "second /z before the first released");
	expect_z("first /z", z1, brx, nb, FL_SAME, false);
	CHECK(mt_collect(z2, 0, got, 64, false) == 0, "second /z before the first released");
	release_all(z1);
	expect_z("second /z after the first released", z2, brx, nb, FL_SAME, true);
	/* the first leaves: the chain goes straight to the second */
	nmport_close(z1);
	ns = put_mix(a, 0x600, sent);
	vt_txsync_free(a, "chain");
	nb = mt_collect(b, 0, brx, 64, true);
	expect_z("second /z after the first closed", z2, brx, nb, FL_SAME, true);
	CHECK(mt_drain(cr, 0) == nb && mt_drain(crt, 0) == nb, "copy monitors");
	/* a lazy /z never holds b back: b's ring works while z2 is full */
	struct netmap_ring *zr = NETMAP_RXRING(z2->nifp, 0);
	unsigned cap = zr->num_slots - 1, total = 0;
	for (int round = 0; round < 6; round++) {
		for (unsigned i = 0; i < cap / 2; i++)
			put(a, 0x1000 + total + i, 60, NULL);
		vt_txsync_free(a, "lazy");
		int got_b = mt_drain(b, 0);
		CHECK(got_b == (int)(cap / 2), "round %d: b got %d of %u frames next to a full /z",
		      round, got_b, cap / 2);
		total += cap / 2;
	}
	ioctl(z2->fd, NIOCRXSYNC, NULL);
	CHECK(nm_ring_space(zr) == cap, "lazy /z holds %u slots, want %u (full)",
	      nm_ring_space(zr), cap);
	uint32_t tags[4];
	vt_recv(z2, 0, tags, 1, false);
	CHECK(tags[0] == 0x1000, "lazy /z: first held frame %#x, want 0x1000", tags[0]);
	nmport_close(z2);
	nmport_close(cr);
	nmport_close(crt);
	nmport_close(a);
	nmport_close(b);
}

/* every buffer index in the given rings valid and distinct */
static void distinct(const char *what, struct netmap_ring **rings, int nr, uint32_t nbufs)
{
	static uint8_t seen[1 << 20];
	memset(seen, 0, sizeof(seen));
	int dup = 0, bad = 0;
	for (int k = 0; k < nr; k++)
		for (uint32_t i = 0; i < rings[k]->num_slots; i++) {
			uint32_t bi = rings[k]->slot[i].buf_idx;
			if (bi < 2 || bi >= nbufs || bi >= (1u << 20)) {
				bad++;
				continue;
			}
			dup += seen[bi]++ != 0;
		}
	CHECK(dup == 0 && bad == 0, "%s: %d buffers held twice, %d invalid", what, dup, bad);
}

/* a /z monitor first in the chain is killed under traffic: the parent goes
 * on, the chain goes on to the second, no buffer lost or duplicated */
static void killed(void)
{
	struct nmport_d *a = t_open("vale3:a"), *b = t_open("vale3:b");
	int ready[2];
	REQUIRE(pipe(ready) == 0, "pipe");
	pid_t pid = fork();
	REQUIRE(pid >= 0, "fork");
	if (pid == 0) {
		close(ready[0]);
		struct nmport_d *z = nmport_open("vale3:b/z");
		char c = z ? 'r' : 'e';
		if (write(ready[1], &c, 1) != 1 || !z)
			_exit(2);
		/* read and release, frame by frame, until killed */
		for (int k = 0; k < 1000000; k++) {
			struct netmap_ring *r = NETMAP_RXRING(z->nifp, 0);
			ioctl(z->fd, NIOCRXSYNC, NULL);
			if (!nm_ring_empty(r))
				r->head = r->cur = nm_ring_next(r, r->head);
			usleep(100);
		}
		_exit(0);
	}
	close(ready[1]);
	char c = 0;
	REQUIRE(read(ready[0], &c, 1) == 1 && c == 'r', "child could not open vale3:b/z");
	close(ready[0]);
	struct nmport_d *z2 = t_open("vale3:b/z");
	uint32_t nbufs = (uint32_t)(a->reg.nr_memsize / 2048);	/* an upper bound */
	uint32_t tag = 0;
	int z2_before = 0, z2_after = 0, b_got = 0, sent = 0;
	int64_t t0 = unm_test_now_ms();
	for (int round = 0; round < 400 && unm_test_now_ms() - t0 < 10000; round++) {
		if (round == 100) {
			kill(pid, SIGKILL);
			waitpid(pid, NULL, 0);
		}
		for (int i = 0; i < 32; i++)
			put(a, tag++, 60 + (unsigned)(i * 37 % 3000), NULL);
		sent += 32;
		vt_txsync_free(a, "traffic");
		int nbr = mt_drain(b, 0);
		b_got += nbr;
		int nz = mt_drain(z2, 0);
		if (round < 100)
			z2_before += nz;
		else if (round > 200)
			z2_after += nz;
		if (round >= 100)
			usleep(200);
	}
	/* b never lost a frame to its monitors; slots end up distinct */
	CHECK(b_got > 0 && b_got >= sent - 64, "b got %d slots of %d", b_got, sent);
	CHECK(z2_before > 0, "second /z got nothing while the first read (%d)", z2_before);
	CHECK(z2_after > 0, "second /z got nothing after the first was killed");
	struct netmap_ring *rings[3] = { NETMAP_TXRING(a->nifp, 0), NETMAP_RXRING(b->nifp, 0),
					 NETMAP_RXRING(z2->nifp, 0) };
	/* a and b share no region; check b's region (b and its monitor) */
	distinct("b's RX ring and the second /z", &rings[1], 2, nbufs);
	distinct("a's TX ring", &rings[0], 1, nbufs);
	/* a new monitor after the dead one is collected: still works */
	struct nmport_d *z3 = t_open("vale3:b/z");
	put(a, 0x7777, 60, NULL);
	vt_txsync_free(a, "after");
	int nb1 = mt_drain(b, 0);
	CHECK(nb1 == 1, "b after the kill: %d frames", nb1);
	int nz2 = mt_drain(z2, 0);
	CHECK(nz2 == 1, "second /z after the kill: %d frames", nz2);
	int nz3 = mt_drain(z3, 0);
	CHECK(nz3 == 1, "third /z after the kill: %d frames", nz3);
	rings[0] = NETMAP_RXRING(b->nifp, 0);
	rings[1] = NETMAP_RXRING(z2->nifp, 0);
	rings[2] = NETMAP_RXRING(z3->nifp, 0);
	distinct("b, second and third /z", rings, 3, nbufs);
	nmport_close(z3);
	nmport_close(z2);
	nmport_close(a);
	nmport_close(b);
}

static void errors(void)
{
	t_open_fails("netmap:nz{1/z", EINVAL);
	t_open_fails("vale4:nobody/z", EINVAL);
	struct nmport_d *p = t_open("netmap:ez{1"), *q = t_open("netmap:ez}1");
	/* OFFSETS: not supported by zero-copy monitors */
	struct nmreq_register reg;
	memset(&reg, 0, sizeof(reg));
	reg.nr_mode = NR_REG_ALL_NIC;
	reg.nr_flags = NR_ZCOPY_MON;
	struct nmreq_opt_offsets off;
	memset(&off, 0, sizeof(off));
	off.nro_opt.nro_reqtype = NETMAP_REQ_OPT_OFFSETS;
	off.nro_max_offset = 64;
	off.nro_offset_bits = 16;
	struct nmreq_header h;
	t_hdr_init(&h, NETMAP_REQ_REGISTER, "ez}1", &reg);
	h.nr_options = (uintptr_t)&off;
	int fd = open("/dev/netmap", O_RDWR);
	REQUIRE(fd >= 0, "open /dev/netmap");
	errno = 0;
	int r = ioctl(fd, NIOCCTRL, &h);
	int e = errno;
	CHECK(r == -1 && e == EOPNOTSUPP && off.nro_opt.nro_status == EOPNOTSUPP,
	      "REGISTER ez}1/z with OFFSETS: %d/%s status %u, want EOPNOTSUPP", r, strerror(e),
	      off.nro_opt.nro_status);
	close(fd);
	/* parent gone: rxsync EIO */
	struct nmport_d *m = t_open("netmap:ez}1/z");
	nmport_close(q);
	CHECK_ERRNO(ioctl(m->fd, NIOCRXSYNC, NULL), EIO);
	nmport_close(m);
	nmport_close(p);
}

int main(void)
{
	t_setup(120);
	pipe_rules();
	vale_rules("vale0:a", "vale0:b");
	vale_persistent();
	chain();
	killed();
	errors();
	return t_done();
}
