/* Description: VALE copy monitors (reference §4.5, §1.7): PORT/t, PORT/r and
 * PORT/rt get copies of the parent's frames before the parent consumes them
 * (TX at the sender's txsync, RX at arrival although the parent application
 * has not read), in order, with the same len, bytes and flags (NS_TXMON added
 * on TX copies); a monitor has max(tx, rx) RX rings of the parent's slot
 * count, one TX ring whose txsync is EIO, and a region of its own; EINVAL for
 * a parent nobody registered; several monitors per ring each get everything;
 * a monitor that never reads loses the oldest of the new frames and never
 * slows the parent; rxsync is EIO once the parent is gone; MOREFRAG chains
 * are copied slot by slot; copies are cut to the monitor's buffer size. */
#include "testlib.h"
#include "montest.h"

#define ID_A	0xa1u		/* source MAC numbers (vt_mac) */
#define ID_B	0xb1u
#define ID_C	0xc1u
#define ID_D	0xd1u
#define ID_F	0xf1u

/* ---- frames ------------------------------------------------------------------ */

/* the first 14 bytes of a frame: dst, source vt_mac(srcid), 0x88b5 (then
 * come the tag and a pattern: mt_fbyte()) */
static const uint8_t *hdr(uint8_t h[14], const uint8_t *dst, uint32_t srcid)
{
	memcpy(h, dst, 6);
	vt_mac(h + 6, srcid);
	h[12] = 0x88;
	h[13] = 0xb5;
	return h;
}

/* Queue frame `tag` of len bytes on TX ring `ring` of d as fragments of at
 * most frag bytes (the first slot's flags get `fl` too); the slots'
 * records in recs[].  Returns the number of slots (REQUIRE there is room). */
static unsigned put(struct nmport_d *d, unsigned ring, const uint8_t *dst, uint32_t srcid,
		    uint32_t tag, unsigned len, unsigned frag, uint16_t fl, struct mt_rec *recs)
{
	uint8_t h[14];
	return mt_put(d, ring, hdr(h, dst, srcid), tag, len, frag, fl, recs);
}

/* one single-slot broadcast frame */
static void put1(struct nmport_d *d, unsigned ring, uint32_t srcid, uint32_t tag, unsigned len,
		 uint16_t fl, struct mt_rec *rec)
{
	put(d, ring, vt_bcast, srcid, tag, len, 65535, fl, rec);
}

/* the copies of received frames: never NS_TXMON */
static void expect_no_txmon(const char *what, const struct mt_rec *got, int n)
{
	for (int i = 0; i < n; i++)
		if (got[i].flags & NS_TXMON) {
			CHECK(0, "%s: slot %d (tag %#x) has NS_TXMON (flags %#x)", what, i, got[i].tag,
			      got[i].flags);
			break;
		}
}

/* ---- the tests ------------------------------------------------------------- */

/* a/t, a/rt, b/r: what each sees, when, and with which flags */
static void basic(void)
{
	struct nmport_d *a = t_open("vale0:a"), *b = t_open("vale0:b");
	struct nmport_d *mat = t_open("vale0:a/t"), *mbr = t_open("vale0:b/r");
	struct nmport_d *mart = t_open("vale0:a/rt");
	mt_check_geometry("vale0:a/t", mat, a);
	mt_check_geometry("vale0:b/r", mbr, b);
	mt_check_geometry("vale0:a/rt", mart, a);
	CHECK(NETMAP_RXRING(mat->nifp, 0)->nr_buf_size >= 2048, "a/t buffers of %u bytes",
	      NETMAP_RXRING(mat->nifp, 0)->nr_buf_size);

	/* monitors are not switch ports */
	struct unetmap_vale_port_stats st[8];
	int np = unetmap_vale_stats("vale0", st, 8);
	CHECK(np == 2, "vale0 lists %d ports with 3 monitors open, want 2 (a, b)", np);

	struct mt_rec sent[16], got[64], brx[32], arx[16];
	uint32_t tag = 0x100;
	/* a -> b: 10 frames of various lengths, some with NS_REPORT */
	for (int i = 0; i < 10; i++)
		put1(a, 0, ID_A, tag++, 60 + 137u * (unsigned)i, i % 3 == 0 ? NS_REPORT : 0,
		     &sent[i]);
	CHECK(mt_collect(mat, 0, got, 64, false) == 0, "a/t: frames seen before a's txsync");
	CHECK(mt_collect(mart, 0, got, 64, false) == 0, "a/rt: frames seen before a's txsync");
	vt_txsync_free(a, "a -> b");
	int n = mt_collect(mat, 0, got, 64, true);
	mt_expect_recs("a/t after a's txsync", got, n, sent, 10, FL_TXMON);
	n = mt_collect(mart, 0, got, 64, true);
	mt_expect_recs("a/rt after a's txsync", got, n, sent, 10, FL_TXMON);
	/* b has not synced: the copies are there at arrival */
	int nm = mt_collect(mbr, 0, got, 64, true);
	int nb = mt_collect(b, 0, brx, 32, true);
	mt_expect_recs("b (receiver)", brx, nb, sent, 10, FL_IGNORE);
	expect_no_txmon("b's own RX slots", brx, nb);
	mt_expect_recs("b/r before b read (vs b's slots)", got, nm, brx, nb, FL_SAME);
	CHECK(mt_drain(mbr, 0) == 0 && mt_drain(mat, 0) == 0 && mt_drain(mart, 0) == 0,
	      "monitors got frames twice");

	/* b -> a: RX copies on a/rt only */
	for (int i = 0; i < 5; i++)
		put1(b, 0, ID_B, tag++, 80 + (unsigned)i, 0, &sent[i]);
	vt_txsync_free(b, "b -> a");
	n = mt_collect(mart, 0, got, 64, true);
	int na = mt_collect(a, 0, arx, 16, true);
	mt_expect_recs("a (receiver)", arx, na, sent, 5, FL_IGNORE);
	mt_expect_recs("a/rt: frames received by a (vs a's slots)", got, n, arx, na, FL_SAME);
	expect_no_txmon("a/rt: frames received by a", got, n);
	CHECK(mt_drain(mat, 0) == 0, "a/t sees frames a received");
	CHECK(mt_drain(mbr, 0) == 0, "b/r sees frames b sent");

	/* a/rt interleaves both directions in event order */
	struct mt_rec want[8];
	uint32_t order[6];
	for (int i = 0; i < 3; i++) {
		order[i] = tag;
		put1(a, 0, ID_A, tag++, 64, 0, NULL);
	}
	vt_txsync_free(a, "a x3");
	for (int i = 3; i < 5; i++) {
		order[i] = tag;
		put1(b, 0, ID_B, tag++, 64, 0, NULL);
	}
	vt_txsync_free(b, "b x2");
	order[5] = tag;
	put1(a, 0, ID_A, tag++, 64, 0, NULL);
	vt_txsync_free(a, "a x1");
	n = mt_collect(mart, 0, got, 64, true);
	CHECK(n == 6, "a/rt: %d frames after 4 sent + 2 received, want 6", n);
	for (int i = 0; i < n && i < 6; i++) {
		bool tx = i != 3 && i != 4;
		CHECK(got[i].tag == order[i], "a/rt: frame %d has tag %#x, want %#x", i, got[i].tag,
		      order[i]);
		CHECK(!!(got[i].flags & NS_TXMON) == tx, "a/rt: frame %d (%s) flags %#x", i,
		      tx ? "sent by a" : "received by a", got[i].flags);
	}
	mt_drain(a, 0);
	mt_drain(b, 0);
	mt_drain(mat, 0);
	mt_drain(mbr, 0);

	/* a frame the switch drops (10 bytes) is still a frame a pushed */
	put1(a, 0, ID_A, tag++, 10, 0, &want[0]);
	vt_txsync_free(a, "runt");
	n = mt_collect(mat, 0, got, 64, true);
	mt_expect_recs("a/t: a 10-byte frame the switch drops", got, n, want, 1, FL_TXMON);
	CHECK(mt_drain(b, 0) == 0, "b got a 10-byte frame");
	CHECK(mt_drain(mbr, 0) == 0, "b/r saw a 10-byte frame b never got");
	mt_drain(mart, 0);

	/* frames a pushes while it is the only port are copied too */
	nmport_close(mbr);
	nmport_close(b);
	put1(a, 0, ID_A, tag++, 70, 0, &want[0]);
	vt_txsync_free(a, "alone");
	n = mt_collect(mat, 0, got, 64, true);
	mt_expect_recs("a/t: a frame nobody receives", got, n, want, 1, FL_TXMON);
	nmport_close(mart);
	nmport_close(mat);
	nmport_close(a);
}

/* the monitors in another process: frames 0x300.. on a/t (g1) and b/r (g2) */
static void ab_gathered(int n1, const struct mt_rec *g1, int n2, const struct mt_rec *g2)
{
	CHECK(n1 == 20 && n2 == 20, "monitors in another process got %d (a/t) and %d (b/r)"
	      " frames, want 20", n1, n2);
	for (int j = 0; j < 20 && j < n1; j++)
		CHECK(g1[j].tag == 0x300u + (unsigned)j && g1[j].flags == NS_TXMON,
		      "other process, a/t frame %d: tag %#x flags %#x", j, g1[j].tag, g1[j].flags);
	for (int j = 0; j < 20 && j < n2; j++)
		CHECK(g2[j].tag == 0x300u + (unsigned)j, "other process, b/r frame %d: tag %#x", j,
		      g2[j].tag);
}

/* poll() on a monitor, a sender in another process, a monitor in another
 * process */
static void processes(void)
{
	struct nmport_d *a = t_open("vale0:a"), *b = t_open("vale0:b");
	struct nmport_d *mat = t_open("vale0:a/t"), *mbr = t_open("vale0:b/r");
	struct pollfd pf[2];
	mt_poll_idle(pf, mat, mbr);
	put1(a, 0, ID_A, 0x200, 60, 0, NULL);
	vt_txsync_free(a, "poll");
	mt_poll_ready(pf);
	CHECK(mt_drain(mat, 0) == 1 && mt_drain(mbr, 0) == 1 && mt_drain(b, 0) == 1,
	      "one frame each");

	/* monitors asleep in poll() are woken by a sender in another process */
	pid_t pid = fork();
	REQUIRE(pid >= 0, "fork");
	if (pid == 0) {
		usleep(150 * 1000);
		put1(a, 0, ID_A, 0x201, 60, 0, NULL);
		_exit(ioctl(a->fd, NIOCTXSYNC, NULL) == 0 ? 0 : 1);
	}
	mt_poll_woken(pf, "a/t", "b/r", pid);
	struct mt_rec got[8];
	int n = mt_collect(mat, 0, got, 8, true);
	CHECK(n == 1 && got[0].tag == 0x201 && got[0].flags == NS_TXMON,
	      "a/t after the child's txsync: %d frame(s), tag %#x flags %#x", n,
	      n ? got[0].tag : 0, n ? got[0].flags : 0);
	n = mt_collect(mbr, 0, got, 8, true);
	CHECK(n == 1 && got[0].tag == 0x201, "b/r after the child's txsync: %d frame(s)", n);
	mt_drain(b, 0);

	/* monitors opened by another process after a and b, fed by this one */
	if (mt_fork_gatherer("vale0:a/t", "vale0:b/r", ab_gathered, &pid)) {
		for (uint32_t j = 0; j < 20; j++) {
			put1(a, 0, ID_A, 0x300 + j, 60 + j, 0, NULL);
			if (j == 6 || j == 19)
				vt_txsync_free(a, "to the other process's monitors");
		}
		CHECK(mt_drain(b, 0) == 20, "b did not get the 20 frames");
	}
	mt_wait_child(pid, "monitoring child");
	nmport_close(mat);
	nmport_close(mbr);
	nmport_close(a);
	nmport_close(b);
}

/* monitor RX ring i <- parent TX ring i and RX ring i; ring selection */
static void rings(void)
{
	struct nmport_d *c = t_open("vale1:c@conf:tx-rings=3,rx-rings=2");
	struct nmport_d *d = t_open("vale1:d@conf:rings=2");
	struct nmport_d *e = t_open("vale1:e@conf:tx-rings=1,rx-rings=4");
	REQUIRE(c->reg.nr_tx_rings == 3 && c->reg.nr_rx_rings == 2, "c has %u tx %u rx rings",
		c->reg.nr_tx_rings, c->reg.nr_rx_rings);
	REQUIRE(e->reg.nr_tx_rings == 1 && e->reg.nr_rx_rings == 4, "e has %u tx %u rx rings",
		e->reg.nr_tx_rings, e->reg.nr_rx_rings);
	REQUIRE(d->reg.nr_tx_rings == 2, "d has %u tx rings", d->reg.nr_tx_rings);
	struct nmport_d *mc = t_open("vale1:c/rt"), *me = t_open("vale1:e/r");
	struct nmport_d *mc1t = t_open("vale1:c-1/t"), *mc1r = t_open("vale1:c-1/r");
	mt_check_geometry("vale1:c/rt (3 tx, 2 rx)", mc, c);
	mt_check_geometry("vale1:e/r (1 tx, 4 rx)", me, e);
	CHECK(mc1t->reg.nr_rx_rings == 3, "vale1:c-1/t: %u RX rings, want 3",
	      mc1t->reg.nr_rx_rings);
	CHECK(mc1t->first_rx_ring == 1 && mc1t->last_rx_ring == 1,
	      "vale1:c-1/t binds RX rings %d..%d, want 1..1", mc1t->first_rx_ring,
	      mc1t->last_rx_ring);
	CHECK(mc1r->first_rx_ring == 1 && mc1r->last_rx_ring == 1,
	      "vale1:c-1/r binds RX rings %d..%d, want 1..1", mc1r->first_rx_ring,
	      mc1r->last_rx_ring);
	uint8_t mac_c[6];
	vt_mac(mac_c, ID_C);

	struct {
		struct nmport_d *from;
		unsigned txring;
		const uint8_t *dst;
		uint32_t src;
		int mc_ring;		/* the ring of c/rt that gets it, -1 none */
		bool txmon;
		bool on_c1t, on_c1r, on_e;
		const char *what;
	} cases[] = {
		{ c, 0, vt_bcast, ID_C, 0, true, false, false, true, "c TX ring 0 (broadcast)" },
		{ c, 2, vt_bcast, ID_C, 2, true, false, false, true, "c TX ring 2" },
		{ c, 1, vt_bcast, ID_C, 1, true, true, false, true, "c TX ring 1" },
		{ d, 1, mac_c, ID_D, 1, false, false, true, false, "d TX ring 1 -> c RX ring 1" },
		{ d, 0, mac_c, ID_D, 0, false, false, false, false, "d TX ring 0 -> c RX ring 0" },
		{ d, 0, vt_bcast, ID_D, 0, false, false, false, true, "d broadcast -> c RX ring 0" },
	};
	for (unsigned k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
		uint32_t tag = 0x400 + k;
		put(cases[k].from, cases[k].txring, cases[k].dst, cases[k].src, tag, 60, 65535, 0,
		    NULL);
		vt_txsync_free(cases[k].from, cases[k].what);
		struct mt_rec got[8];
		CHECK(ioctl(mc->fd, NIOCRXSYNC, NULL) == 0, "rxsync c/rt");
		for (int ri = 0; ri < 3; ri++) {
			int n = mt_collect(mc, (unsigned)ri, got, 8, true);
			int want = ri == cases[k].mc_ring;
			CHECK(n == want, "%s: c/rt RX ring %d has %d frame(s), want %d", cases[k].what,
			      ri, n, want);
			if (n == 1 && want)
				CHECK(got[0].tag == tag && !!(got[0].flags & NS_TXMON) == cases[k].txmon,
				      "%s: c/rt ring %d: tag %#x flags %#x", cases[k].what, ri,
				      got[0].tag, got[0].flags);
		}
		int n = mt_collect(mc1t, 1, got, 8, true);
		CHECK(n == (int)cases[k].on_c1t, "%s: c-1/t has %d frame(s), want %d", cases[k].what,
		      n, (int)cases[k].on_c1t);
		if (n == 1 && cases[k].on_c1t)
			CHECK(got[0].tag == tag && got[0].flags == NS_TXMON, "%s: c-1/t tag %#x flags %#x",
			      cases[k].what, got[0].tag, got[0].flags);
		n = mt_collect(mc1r, 1, got, 8, true);
		CHECK(n == (int)cases[k].on_c1r, "%s: c-1/r has %d frame(s), want %d", cases[k].what,
		      n, (int)cases[k].on_c1r);
		if (n == 1 && cases[k].on_c1r)
			CHECK(got[0].tag == tag && !(got[0].flags & NS_TXMON),
			      "%s: c-1/r tag %#x flags %#x", cases[k].what, got[0].tag, got[0].flags);
		n = mt_collect(me, 0, got, 8, true);
		CHECK(n == (int)cases[k].on_e, "%s: e/r ring 0 has %d frame(s), want %d",
		      cases[k].what, n, (int)cases[k].on_e);
		for (int ri = 1; ri < 4; ri++)
			CHECK(mt_drain(me, (unsigned)ri) == 0, "%s: e/r ring %d got a frame",
			      cases[k].what, ri);
		for (unsigned ri = 0; ri < 2; ri++) {
			mt_drain(c, ri);
			mt_drain(d, ri);
		}
		mt_drain(e, 0);
	}
	/* slots: the parent's RX ring size (netmap: num_rx_desc of the parent) */
	struct nmport_d *g = t_open("vale1:g@conf:tx-slots=512,rx-slots=256");
	if (g->reg.nr_tx_slots == 512 && g->reg.nr_rx_slots == 256) {
		struct nmport_d *mg = t_open("vale1:g/rt");
		mt_check_geometry("vale1:g/rt (512 tx slots, 256 rx slots)", mg, g);
		nmport_close(mg);
	} else {
		fprintf(stderr, "note: vale1:g has %u/%u slots, not 512/256: skipped\n",
			g->reg.nr_tx_slots, g->reg.nr_rx_slots);
	}
	nmport_close(g);
	nmport_close(mc1t);
	nmport_close(mc1r);
	nmport_close(mc);
	nmport_close(me);
	nmport_close(c);
	nmport_close(d);
	nmport_close(e);
}

/* txsync on a monitor; monitors of ports nobody registered */
static void errors(void)
{
	struct nmport_d *a = t_open("vale0:a");
	const char *specs[] = { "vale0:a/t", "vale0:a/r", "vale0:a/rt" };
	for (int i = 0; i < 3; i++)
		mt_check_tx_eio(specs[i]);

	struct unetmap_vale_port_stats st;
	const char *ghosts[] = { "vale0:ghost/t", "vale0:ghost/r", "vale0:ghost/rt",
				 "vale0:ghost-0/t" };
	for (int i = 0; i < 4; i++)
		t_open_fails(ghosts[i], EINVAL);
	CHECK(vt_port_stats("vale0:ghost", &st) != 0, "opening a monitor of vale0:ghost created"
	      " the port");
	int nsw = vt_nswitches();
	t_open_fails("vale7:x/t", EINVAL);
	CHECK(vt_nswitches() == nsw, "opening a monitor of vale7:x created a switch (%d -> %d)",
	      nsw, vt_nswitches());
	errno = 0;
	int fd = t_reg_raw("vale0:ghost", NR_REG_ALL_NIC, 0, NR_MONITOR_RX | NR_MONITOR_TX);
	int e = errno;
	CHECK(fd == -1 && e == EINVAL, "raw REGISTER vale0:ghost NR_MONITOR_RX|TX: %d/%s, want"
	      " -1/EINVAL", fd, strerror(e));
	if (fd >= 0)
		close(fd);

	/* a port that was registered, then closed */
	nmport_close(t_open("vale0:gone"));
	t_open_fails("vale0:gone/r", EINVAL);
	t_open_fails("vale0:gone/t", EINVAL);

	/* a persistent port nobody registered, detached then attached */
	CHECK(vt_newif("pers", NULL) == 0, "NEWIF pers: %s", strerror(errno));
	t_open_fails("netmap:pers/t", EINVAL);
	CHECK(vt_attach("vale0:pers", NULL) == 0, "attach vale0:pers: %s", strerror(errno));
	t_open_fails("vale0:pers/r", EINVAL);
	t_open_fails("vale0:pers/rt", EINVAL);
	/* registered: now it can be monitored */
	struct nmport_d *p = t_open("vale0:pers");
	struct nmport_d *mp = t_open("vale0:pers/rt");
	put1(a, 0, ID_A, 0x500, 60, 0, NULL);
	vt_txsync_free(a, "to pers");
	struct mt_rec got[4];
	int n = mt_collect(mp, 0, got, 4, true);
	CHECK(n == 1 && got[0].tag == 0x500, "vale0:pers/rt: %d frame(s) (tag %#x), want 0x500",
	      n, n ? got[0].tag : 0);
	nmport_close(mp);
	nmport_close(p);
	CHECK(vt_detach("vale0:pers", NULL) == 0, "detach: %s", strerror(errno));
	CHECK(vt_delif("pers") == 0, "DELIF pers: %s", strerror(errno));
	nmport_close(a);
}

/* several copy monitors on one ring each get every frame */
static void several(void)
{
	struct nmport_d *a = t_open("vale0:a"), *b = t_open("vale0:b");
	struct nmport_d *m[5] = { t_open("vale0:a/t"), t_open("vale0:a/t"), t_open("vale0:a/rt"),
				  t_open("vale0:b/r"), t_open("vale0:b/rt") };
	const char *mname[5] = { "a/t #1", "a/t #2", "a/rt", "b/r", "b/rt" };
	static struct mt_rec sent[64], got[64], brx[64];
	uint32_t tag = 0x600;
	int ns = 0;
	for (int batch = 0; batch < 2; batch++) {
		int k = batch == 0 ? 7 : 33;
		for (int i = 0; i < k; i++, ns++)
			put1(a, 0, ID_A, tag++, 60 + (unsigned)ns * 13, 0, &sent[ns]);
		vt_txsync_free(a, "several");
	}
	for (int i = 0; i < 3; i++) {
		int n = mt_collect(m[i], 0, got, 64, true);
		mt_expect_recs(mname[i], got, n, sent, ns, FL_TXMON);
	}
	int nb = mt_collect(b, 0, brx, 64, true);
	CHECK(nb == ns, "b got %d of %d", nb, ns);
	for (int i = 3; i < 5; i++) {
		int n = mt_collect(m[i], 0, got, 64, true);
		mt_expect_recs(mname[i], got, n, brx, nb, FL_SAME);
	}
	/* closing one leaves the others fed */
	nmport_close(m[0]);
	for (int i = 0; i < 10; i++)
		put1(a, 0, ID_A, tag++, 100, 0, &sent[i]);
	vt_txsync_free(a, "after closing a/t #1");
	for (int i = 1; i < 3; i++) {
		int n = mt_collect(m[i], 0, got, 64, true);
		mt_expect_recs(mname[i], got, n, sent, 10, FL_TXMON);
	}
	nb = mt_collect(b, 0, brx, 64, true);
	for (int i = 3; i < 5; i++) {
		int n = mt_collect(m[i], 0, got, 64, true);
		mt_expect_recs(mname[i], got, n, brx, nb, FL_SAME);
	}
	for (int i = 1; i < 5; i++)
		nmport_close(m[i]);
	nmport_close(a);
	nmport_close(b);
}

/* A monitor that never reads: the parent goes on at full speed, the
 * monitor's ring keeps what fitted; of a batch that does not fit the
 * oldest frames are dropped (the newest kept); while it is full every new
 * frame is dropped (the slots it holds are its user's). */
static void lazy(void)
{
	struct nmport_d *a = t_open("vale0:a"), *b = t_open("vale0:b");
	struct nmport_d *lt = t_open("vale0:a/t"), *lr = t_open("vale0:b/r");
	struct nmport_d *act = t_open("vale0:a/t");	/* one that reads */
	struct netmap_ring *ltr = NETMAP_RXRING(lt->nifp, 0);
	const unsigned cap = ltr->num_slots - 1;
	REQUIRE(cap >= 200 && cap < 8192, "monitor ring of %u slots", ltr->num_slots);
	const unsigned batches[] = { cap - 23, 100, cap / 2, cap / 2, cap / 2, cap / 2, cap / 2 };
	const unsigned nbatch = sizeof(batches) / sizeof(batches[0]);
	static uint32_t model[8192];	/* what the lazy monitor must hold */
	unsigned held = 0;
	uint32_t tag = 0;
	uint64_t total = 0;
	int64_t t0 = unm_test_now_ms();
	for (unsigned bi = 0; bi < nbatch; bi++) {
		unsigned k = batches[bi];
		uint32_t first = tag;
		for (unsigned i = 0; i < k; i++)
			vt_queue(a, 0, vt_bcast, ID_A, tag++, 60);
		vt_txsync_free(a, "next to a monitor that never reads");
		total += k;
		unsigned room = cap - held, keep = k < room ? k : room;
		for (unsigned i = 0; i < keep; i++)
			model[held++] = first + (k - keep) + i;
		mt_check_batch("b", bi, b, first, k, false);
		mt_check_batch("the reading a/t", bi, act, first, k, true);
	}
	int64_t dt = unm_test_now_ms() - t0;
	CHECK(dt < 5000, "%llu frames next to a full monitor took %lld ms",
	      (unsigned long long)total, (long long)dt);
	struct unetmap_vale_port_stats sa = vt_pstats("vale0:a"), sb = vt_pstats("vale0:b");
	CHECK(sa.drop_full == 0 && sa.drop_closed == 0 && sa.drop_malformed == 0 &&
	      sa.drop_dead == 0, "a's drops %llu/%llu/%llu/%llu with a full monitor",
	      (unsigned long long)sa.drop_full, (unsigned long long)sa.drop_closed,
	      (unsigned long long)sa.drop_malformed, (unsigned long long)sa.drop_dead);
	CHECK(sb.rx_frames == total, "b's rx_frames %llu, want %llu",
	      (unsigned long long)sb.rx_frames, (unsigned long long)total);

	/* what the two lazy monitors hold: the first read they ever do */
	struct nmport_d *lm[2] = { lt, lr };
	const char *ln[2] = { "a/t that never read", "b/r that never read" };
	for (int w = 0; w < 2; w++)	/* then released, they get new frames again */
		mt_check_held(ln[w], lm[w], model, held, cap, batches[0], batches[1]);
	for (int i = 0; i < 10; i++)
		vt_queue(a, 0, vt_bcast, ID_A, tag + (uint32_t)i, 60);
	vt_txsync_free(a, "after the monitors read");
	for (int w = 0; w < 2; w++)
		mt_check_ten(ln[w], lm[w], tag);
	nmport_close(lt);
	nmport_close(lr);
	nmport_close(act);
	nmport_close(a);
	nmport_close(b);
}

/* the parent's last descriptor closes: rxsync on its monitors is EIO */
static void parent_gone(void)
{
	struct nmport_d *e1 = t_open("vale0:e"), *e2 = t_open("vale0:e"), *f = t_open("vale0:f");
	struct nmport_d *mr = t_open("vale0:e/r"), *mt = t_open("vale0:e/t");
	put1(f, 0, ID_F, 0x700, 60, 0, NULL);
	vt_txsync_free(f, "to e");
	CHECK(mt_drain(mr, 0) == 1, "e/r did not see the frame to e");
	nmport_close(e1);
	CHECK(ioctl(mr->fd, NIOCRXSYNC, NULL) == 0, "e/r rxsync with e still open once: %s",
	      strerror(errno));
	CHECK(ioctl(mt->fd, NIOCRXSYNC, NULL) == 0, "e/t rxsync with e still open once: %s",
	      strerror(errno));
	put1(f, 0, ID_F, 0x701, 60, 0, NULL);
	vt_txsync_free(f, "to e (second fd)");
	CHECK(mt_drain(mr, 0) == 1, "e/r did not see the frame to e after one of its fds closed");
	nmport_close(e2);
	CHECK_ERRNO(ioctl(mr->fd, NIOCRXSYNC, NULL), EIO);
	CHECK_ERRNO(ioctl(mt->fd, NIOCRXSYNC, NULL), EIO);
	CHECK_ERRNO(ioctl(mr->fd, NIOCRXSYNC, NULL), EIO);
	put1(f, 0, ID_F, 0x702, 60, 0, NULL);
	vt_txsync_free(f, "e gone");
	/* a new port of the same name is another port */
	struct nmport_d *e3 = t_open("vale0:e");
	put1(f, 0, ID_F, 0x703, 60, 0, NULL);
	vt_txsync_free(f, "to the new e");
	CHECK(mt_drain(e3, 0) == 1, "the new e did not get the frame");
	CHECK_ERRNO(ioctl(mr->fd, NIOCRXSYNC, NULL), EIO);
	CHECK_ERRNO(ioctl(mt->fd, NIOCRXSYNC, NULL), EIO);
	nmport_close(mr);
	nmport_close(mt);
	/* and can be monitored afresh */
	struct nmport_d *m3 = t_open("vale0:e/r");
	put1(f, 0, ID_F, 0x704, 60, 0, NULL);
	vt_txsync_free(f, "to the new e, monitored");
	uint32_t tags[4];
	int n = vt_recv(m3, 0, tags, 4, true);
	CHECK(n == 1 && tags[0] == 0x704, "new e/r: %d frame(s)", n);
	nmport_close(m3);
	nmport_close(e3);
	nmport_close(f);
}

/* MOREFRAG chains: a/t copies the sender's slots (+NS_TXMON), b/r the
 * receiver's (the switch's flags: nslots << 8, NS_MOREFRAG on all but the
 * last); chains wrap around the monitor rings' ends */
static void multislot(void)
{
	struct nmport_d *a = t_open("vale0:a"), *b = t_open("vale0:b");
	struct nmport_d *mat = t_open("vale0:a/t"), *mbr = t_open("vale0:b/r");
	mt_require_2048(a, mat);
	static struct mt_rec sent[512], got[512], brx[512], mgot[512];
	uint32_t tag = 0x800;

	/* 5000 bytes: 2048 + 2048 + 904 */
	int ns = (int)put(a, 0, vt_bcast, ID_A, tag++, 5000, 2048, 0, sent);
	REQUIRE(ns == 3, "5000 bytes in %d slots", ns);
	vt_txsync_free(a, "5000-byte frame");
	int n = mt_collect(mat, 0, got, 512, true);
	mt_expect_recs("a/t, 5000-byte frame", got, n, sent, 3, FL_TXMON);
	const uint16_t wt[3] = { NS_MOREFRAG | NS_TXMON, NS_MOREFRAG | NS_TXMON, NS_TXMON };
	const uint16_t wl[3] = { 2048, 2048, 904 };
	for (int i = 0; i < n && i < 3; i++)
		CHECK(got[i].flags == wt[i] && got[i].len == wl[i],
		      "a/t, 5000-byte frame, slot %d: len %u flags %#x, want %u %#x", i, got[i].len,
		      got[i].flags, wl[i], wt[i]);
	int nm = mt_collect(mbr, 0, mgot, 512, true);
	int nb = mt_collect(b, 0, brx, 512, true);
	mt_expect_recs("b, 5000-byte frame", brx, nb, sent, 3, FL_IGNORE);
	mt_expect_recs("b/r, 5000-byte frame (vs b's slots)", mgot, nm, brx, nb, FL_SAME);
	const uint16_t wr[3] = { (3 << 8) | NS_MOREFRAG, (3 << 8) | NS_MOREFRAG, 3 << 8 };
	for (int i = 0; i < nm && i < 3; i++)
		CHECK(mgot[i].flags == wr[i], "b/r, 5000-byte frame, slot %d: flags %#x, want %#x",
		      i, mgot[i].flags, wr[i]);

	/* mixed sizes and the sender's own fragments, many rounds (wrapping) */
	unsigned lcg = 777;
	uint8_t h[14];
	for (int round = 0; round < 60 && t_failures < 20; round++) {
		ns = mt_put_chains(a, hdr(h, vt_bcast, ID_A), &lcg, &tag, sent);
		vt_txsync_free(a, "chains");
		n = mt_collect(mat, 0, got, 512, true);
		char what[64];
		snprintf(what, sizeof(what), "a/t, chains round %d", round);
		mt_expect_recs(what, got, n, sent, ns, FL_TXMON);
		nm = mt_collect(mbr, 0, mgot, 512, true);
		nb = mt_collect(b, 0, brx, 512, true);
		snprintf(what, sizeof(what), "b/r, chains round %d (vs b's slots)", round);
		mt_expect_recs(what, mgot, nm, brx, nb, FL_SAME);
		snprintf(what, sizeof(what), "b, chains round %d", round);
		mt_expect_recs(what, brx, nb, sent, ns, FL_IGNORE);
	}
	nmport_close(mat);
	nmport_close(mbr);
	nmport_close(a);
	nmport_close(b);
}

/* a monitor whose buffers are smaller than the frames gets them cut to
 * its buffer size (needs a region made with UNETMAP_BUF_SIZE=1024) */
static void truncation(void)
{
	struct nmport_d *a = t_open("vale0:a"), *b = t_open("vale0:b");
	struct nmport_d *mat, *mbr;
	unsigned mbs = mt_open_cut("vale0:a/t", "vale0:b/r", &mat, &mbr);
	if (mbs != 0) {
		/* b/r: the switch's flags (nslots << 8 ...) are not the sender's */
		uint8_t h[14];
		struct mt_cut want[16];
		int nw = mt_cut_queue(a, hdr(h, vt_bcast, ID_A), mbs, want);
		vt_txsync_free(a, "truncation");
		mt_cut_check("a/t", mat, h, mbs, want, nw, FL_TXMON);
		mt_cut_check("b/r", mbr, h, mbs, want, nw, FL_IGNORE);
		CHECK(mt_drain(b, 0) == nw, "b did not get the %d slots whole", nw);
	}
	nmport_close(mat);
	nmport_close(mbr);
	nmport_close(a);
	nmport_close(b);
}

/* Several senders in other processes into one port at once: its RX monitor
 * sees the frames in the order of the port's ring (some may be dropped if
 * the monitor falls behind, but never reordered). */
#define CC_NS	3
#define CC_NF	40000u
static void concurrent(void)
{
	struct nmport_d *rx = vt_seq_receiver("vale2:r", "vale2:h");
	struct nmport_d *mon = t_open("vale2:r/r");
	int go[2];
	REQUIRE(pipe(go) == 0, "pipe");
	pid_t pids[CC_NS];
	for (uint32_t i = 0; i < CC_NS; i++) {
		pids[i] = fork();
		REQUIRE(pids[i] >= 0, "fork");
		if (pids[i] == 0) {
			close(go[1]);
			char name[32];
			snprintf(name, sizeof(name), "vale2:s%u", i);
			struct nmport_d *s = nmport_open(name);
			char c;
			if (s == NULL || read(go[0], &c, 1) != 0)
				_exit(2);
			struct netmap_ring *t = NETMAP_TXRING(s->nifp, 0);
			uint32_t seq = 0;
			int64_t c0 = unm_test_now_ms();
			while (seq < CC_NF && unm_test_now_ms() - c0 < 20000) {
				vt_seq_burst(t, i, &seq, CC_NF, 256, false);
				if (ioctl(s->fd, NIOCTXSYNC, NULL) != 0)
					_exit(3);
			}
			_exit(seq == CC_NF ? 0 : 4);
		}
	}
	close(go[0]);
	usleep(50 * 1000);	/* let the senders open their ports */
	close(go[1]);		/* go */
	static uint64_t rseq[CC_NS * CC_NF], mseq[CC_NS * CC_NF];
	size_t nr = 0, nmo = 0;
	int running = CC_NS;
	int64_t t0 = unm_test_now_ms(), quiet = unm_test_now_ms();
	struct netmap_ring *rr = NETMAP_RXRING(rx->nifp, 0), *mr = NETMAP_RXRING(mon->nifp, 0);
	while (unm_test_now_ms() - t0 < 40000) {
		bool any = false;
		struct nmport_d *d[2] = { mon, rx };
		struct netmap_ring *r[2] = { mr, rr };
		uint64_t *out[2] = { mseq, rseq };
		size_t *cnt[2] = { &nmo, &nr };
		for (int w = 0; w < 2; w++) {
			ioctl(d[w]->fd, NIOCRXSYNC, NULL);
			while (!nm_ring_empty(r[w])) {
				struct netmap_slot *s = &r[w]->slot[r[w]->head];
				const uint8_t *b = (const uint8_t *)NETMAP_BUF(r[w], s->buf_idx);
				uint32_t id = UINT32_MAX, seq = UINT32_MAX;
				if (s->len >= 22) {
					memcpy(&id, b + 14, 4);
					memcpy(&seq, b + 18, 4);
				}
				if (*cnt[w] < CC_NS * CC_NF)
					out[w][(*cnt[w])++] = (uint64_t)id << 32 | seq;
				r[w]->head = r[w]->cur = nm_ring_next(r[w], r[w]->head);
				any = true;
			}
			ioctl(d[w]->fd, NIOCRXSYNC, NULL);
		}
		for (uint32_t i = 0; i < CC_NS; i++) {
			int st;
			if (pids[i] > 0 && waitpid(pids[i], &st, WNOHANG) == pids[i]) {
				CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "sender %u failed (%#x)", i, st);
				pids[i] = 0;
				running--;
			}
		}
		if (any)
			quiet = unm_test_now_ms();
		else if (running == 0 && unm_test_now_ms() - quiet > 300)
			break;
		else {
			struct pollfd pf[2] = { { .fd = mon->fd, .events = POLLIN },
						{ .fd = rx->fd, .events = POLLIN } };
			poll(pf, 2, 10);
		}
	}
	for (uint32_t i = 0; i < CC_NS; i++)
		if (pids[i] > 0) {
			kill(pids[i], SIGKILL);
			waitpid(pids[i], NULL, 0);
			CHECK(0, "sender %u did not finish", i);
		}
	/* the receiver: each sender's frames in order */
	int64_t last[CC_NS] = { -1, -1, -1 };
	unsigned bad = 0;
	for (size_t k = 0; k < nr; k++) {
		uint32_t id = (uint32_t)(rseq[k] >> 32), seq = (uint32_t)rseq[k];
		if (id >= CC_NS || (int64_t)seq <= last[id]) {
			if (bad++ < 3)
				CHECK(0, "receiver frame %zu: sender %u seq %u (after %lld)", k, id, seq,
				      id < CC_NS ? (long long)last[id] : -2LL);
			continue;
		}
		last[id] = seq;
	}
	/* the monitor: a subsequence of the receiver's ring */
	size_t j = 0, k;
	for (k = 0; k < nmo; k++) {
		size_t j0 = j;
		while (j < nr && rseq[j] != mseq[k])
			j++;
		if (j == nr) {
			/* where is it in the receiver's sequence? */
			size_t where = SIZE_MAX;
			for (size_t q = 0; q < nr; q++)
				if (rseq[q] == mseq[k]) {
					where = q;
					break;
				}
			CHECK(0, "b/r copy %zu (sender %u seq %u) is out of the port's ring order: the"
			      " port has it at position %zd, but the monitor's copy %zu matched"
			      " position %zd already (monitor %zu frames, port %zu)", k,
			      (uint32_t)(mseq[k] >> 32), (uint32_t)mseq[k],
			      where == SIZE_MAX ? (ssize_t)-1 : (ssize_t)where, k ? k - 1 : 0,
			      (ssize_t)j0 - 1, nmo, nr);
			break;
		}
		j++;
	}
	CHECK(nr > 0, "the receiver got nothing");
	CHECK(nmo > 0, "the monitor got nothing (port %zu frames)", nr);
	fprintf(stderr, "concurrent: port got %zu of %u frames, its monitor %zu\n", nr,
		CC_NS * CC_NF, nmo);
	nmport_close(mon);
	nmport_close(rx);
}

/* a slot the parent's user broke (buffer index out of the region) before
 * its txsync checks it: the TX monitor gets an empty copy, the copier does
 * not read outside the region; likewise a receiver that broke its RX slot */
static void broken_slots(void)
{
	struct nmport_d *a = t_open("vale7:a"), *b = t_open("vale7:b");
	struct nmport_d *mt = t_open("vale7:a/t"), *mr = t_open("vale7:b/r");
	struct netmap_ring *t = NETMAP_TXRING(a->nifp, 0);
	struct netmap_slot *s = &t->slot[t->head];
	s->buf_idx = 0x7fffffff;
	s->len = 60;
	t->head = t->cur = nm_ring_next(t, t->head);
	ioctl(a->fd, NIOCTXSYNC, NULL);		/* resets the TX ring, as netmap */
	ioctl(mt->fd, NIOCRXSYNC, NULL);
	struct netmap_ring *r = NETMAP_RXRING(mt->nifp, 0);
	CHECK(nm_ring_empty(r) || r->slot[r->head].len == 0,
	      "copy of a broken TX slot has %u bytes", r->slot[r->head].len);
	/* the receiver breaks the slot a frame will land in */
	struct netmap_ring *br = NETMAP_RXRING(b->nifp, 0);
	br->slot[br->tail].buf_idx = 0x7fffffff;
	uint8_t bc[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
	vt_send(a, bc, 1, 1, 60);
	ioctl(mr->fd, NIOCRXSYNC, NULL);
	r = NETMAP_RXRING(mr->nifp, 0);
	CHECK(!nm_ring_empty(r) && r->slot[r->head].len == 0,
	      "copy of a frame that found a broken RX slot: %s",
	      nm_ring_empty(r) ? "none" : "not empty");
	nmport_close(mr);
	nmport_close(mt);
	nmport_close(b);
	nmport_close(a);
}

int main(void)
{
	t_setup(120);
	broken_slots();
	basic();
	processes();
	rings();
	errors();
	several();
	lazy();
	parent_gone();
	multislot();
	truncation();
	concurrent();
	return t_done();
}
