/* Description: copy monitors on a netmap pipe (reference §4.5, §1.7): X{1/t
 * sees what the sender pushes at its txsync, X}1/r what the sender's txsync
 * publishes to the receiver before the receiver reads it; /rt both, in
 * order; same len, bytes and flags (a pipe passes the sender's flags, TX
 * copies add NS_TXMON); max(tx, rx) RX rings of the parent's slot count, one
 * TX ring whose txsync is EIO, a region of its own; ring selection; EINVAL
 * for an end nobody registered; several monitors per ring; a monitor that
 * never reads keeps the newest of the batch that overflowed it and never
 * holds the pipe back; rxsync EIO after the end's last descriptor closes;
 * MOREFRAG chains copied slot by slot once complete; copies cut to the
 * monitor's buffer size. */
#include "testlib.h"
#include "montest.h"

/* The frames: bytes mt_fbyte(NULL, tag, k), the tag at 14..17. */

/* one single-slot frame on the first TX ring of d */
static void put1(struct nmport_d *d, uint32_t tag, unsigned len, uint16_t fl, struct mt_rec *rec)
{
	mt_put(d, (unsigned)d->first_tx_ring, NULL, tag, len, 65535, fl, rec);
}

/* ---- the tests ------------------------------------------------------------- */

static void basic(void)
{
	struct nmport_d *p = t_open("netmap:mp{1"), *q = t_open("netmap:mp}1");
	struct nmport_d *mpt = t_open("netmap:mp{1/t"), *mqr = t_open("netmap:mp}1/r");
	struct nmport_d *mprt = t_open("netmap:mp{1/rt"), *mqrt = t_open("netmap:mp}1/rt");
	mt_check_geometry("mp{1/t", mpt, p);
	mt_check_geometry("mp}1/r", mqr, q);
	mt_check_geometry("mp{1/rt", mprt, p);
	mt_check_geometry("mp}1/rt", mqrt, q);
	CHECK(mpt->reg.nr_mem_id != mqr->reg.nr_mem_id, "two monitors share region %u",
	      mpt->reg.nr_mem_id);

	static struct mt_rec sent[16], got[64], qrx[32], prx[16];
	uint32_t tag = 0x100;
	for (int i = 0; i < 10; i++)
		put1(p, tag++, 60 + 137u * (unsigned)i, i % 3 == 0 ? NS_REPORT : 0, &sent[i]);
	CHECK(mt_collect(mpt, 0, got, 64, false) == 0, "{1/t: frames seen before the txsync");
	CHECK(mt_collect(mqr, 0, got, 64, false) == 0, "}1/r: frames seen before the txsync");
	vt_txsync(p);
	int n = mt_collect(mpt, 0, got, 64, true);
	mt_expect_recs("mp{1/t after the sender's txsync", got, n, sent, 10, FL_TXMON);
	n = mt_collect(mprt, 0, got, 64, true);
	mt_expect_recs("mp{1/rt after the sender's txsync", got, n, sent, 10, FL_TXMON);
	/* the receiver has not synced: published frames are copied already */
	n = mt_collect(mqr, 0, got, 64, true);
	mt_expect_recs("mp}1/r before the receiver read", got, n, sent, 10, FL_SAME);
	n = mt_collect(mqrt, 0, got, 64, true);
	mt_expect_recs("mp}1/rt before the receiver read", got, n, sent, 10, FL_SAME);
	int nq = mt_collect(q, 0, qrx, 32, true);
	mt_expect_recs("mp}1 (receiver)", qrx, nq, sent, 10, FL_SAME);
	CHECK(mt_drain(mpt, 0) == 0 && mt_drain(mqr, 0) == 0, "monitors got frames twice");
	vt_txsync(p);
	CHECK(mt_drain(mpt, 0) == 0 && mt_drain(mprt, 0) == 0, "an empty txsync gave {1/t frames");

	/* the other way: q sends, p receives */
	for (int i = 0; i < 5; i++)
		put1(q, tag++, 80 + (unsigned)i, 0, &sent[i]);
	vt_txsync(q);
	n = mt_collect(mqrt, 0, got, 64, true);
	mt_expect_recs("mp}1/rt: frames mp}1 sent", got, n, sent, 5, FL_TXMON);
	n = mt_collect(mprt, 0, got, 64, true);
	mt_expect_recs("mp{1/rt: frames mp{1 receives", got, n, sent, 5, FL_SAME);
	CHECK(mt_drain(mpt, 0) == 0, "mp{1/t sees frames mp{1 receives");
	CHECK(mt_drain(mqr, 0) == 0, "mp}1/r sees frames mp}1 sends");
	int np = mt_collect(p, 0, prx, 16, true);
	mt_expect_recs("mp{1 (receiver)", prx, np, sent, 5, FL_SAME);

	/* both directions interleaved in event order on /rt */
	uint32_t order[6];
	for (int i = 0; i < 3; i++)
		put1(p, order[i] = tag++, 64, 0, NULL);
	vt_txsync(p);
	for (int i = 3; i < 5; i++)
		put1(q, order[i] = tag++, 64, 0, NULL);
	vt_txsync(q);
	put1(p, order[5] = tag++, 64, 0, NULL);
	vt_txsync(p);
	struct nmport_d *rt[2] = { mprt, mqrt };
	for (int w = 0; w < 2; w++) {
		n = mt_collect(rt[w], 0, got, 64, true);
		CHECK(n == 6, "%s: %d frames after 4 + 2, want 6", w ? "mp}1/rt" : "mp{1/rt", n);
		for (int i = 0; i < n && i < 6; i++) {
			bool from_p = i != 3 && i != 4;
			bool tx = w == 0 ? from_p : !from_p;
			CHECK(got[i].tag == order[i] && !!(got[i].flags & NS_TXMON) == tx,
			      "%s frame %d: tag %#x flags %#x, want tag %#x%s", w ? "mp}1/rt" : "mp{1/rt",
			      i, got[i].tag, got[i].flags, order[i], tx ? " with NS_TXMON" : "");
		}
	}
	mt_drain(p, 0);
	mt_drain(q, 0);
	mt_drain(mpt, 0);
	mt_drain(mqr, 0);
	vt_txsync(p);
	vt_txsync(q);
	nmport_close(mpt);
	nmport_close(mqr);
	nmport_close(mprt);
	nmport_close(mqrt);
	nmport_close(p);
	nmport_close(q);
}

/* the monitors in another process: frames 0x300.. on both */
static void pp_gathered(int n1, const struct mt_rec *g1, int n2, const struct mt_rec *g2)
{
	CHECK(n1 == 20 && n2 == 20, "monitors in another process got %d ({1/t) and %d"
	      " (}1/r) frames, want 20", n1, n2);
	for (int j = 0; j < 20 && j < n1 && j < n2; j++)
		CHECK(g1[j].tag == 0x300u + (unsigned)j && g2[j].tag == 0x300u + (unsigned)j,
		      "other process, frame %d: tags %#x / %#x", j, g1[j].tag, g2[j].tag);
}

/* poll() on monitors, a sender in another process, monitors in another
 * process */
static void processes(void)
{
	struct nmport_d *p = t_open("netmap:pp{1"), *q = t_open("netmap:pp}1");
	struct nmport_d *mpt = t_open("netmap:pp{1/t"), *mqr = t_open("netmap:pp}1/r");
	struct pollfd pf[2];
	mt_poll_idle(pf, mpt, mqr);
	put1(p, 0x200, 60, 0, NULL);
	vt_txsync(p);
	mt_poll_ready(pf);
	CHECK(mt_drain(mpt, 0) == 1 && mt_drain(mqr, 0) == 1 && mt_drain(q, 0) == 1,
	      "one frame each");
	vt_txsync(p);

	pid_t pid = fork();
	REQUIRE(pid >= 0, "fork");
	if (pid == 0) {
		usleep(150 * 1000);
		put1(p, 0x201, 60, 0, NULL);
		struct pollfd cp = { .fd = p->fd, .events = POLLOUT };
		_exit(poll(&cp, 1, 1000) >= 0 ? 0 : 1);		/* implicit txsync */
	}
	mt_poll_woken(pf, "{1/t", "}1/r", pid);
	struct mt_rec got[8];
	int n = mt_collect(mpt, 0, got, 8, true);
	CHECK(n == 1 && got[0].tag == 0x201 && got[0].flags == NS_TXMON,
	      "{1/t after the child's poll: %d frame(s), tag %#x flags %#x", n, n ? got[0].tag : 0,
	      n ? got[0].flags : 0);
	n = mt_collect(mqr, 0, got, 8, true);
	CHECK(n == 1 && got[0].tag == 0x201 && got[0].flags == 0,
	      "}1/r after the child's poll: %d frame(s)", n);
	mt_drain(q, 0);
	vt_txsync(p);

	/* monitors opened by another process after both ends */
	if (mt_fork_gatherer("netmap:pp{1/t", "netmap:pp}1/r", pp_gathered, &pid)) {
		for (uint32_t j = 0; j < 20; j++) {
			put1(p, 0x300 + j, 60 + j, 0, NULL);
			if (j == 6 || j == 19)
				vt_txsync(p);
		}
		CHECK(mt_drain(q, 0) == 20, "the receiver did not get the 20 frames");
	}
	mt_wait_child(pid, "monitoring child");
	nmport_close(mpt);
	nmport_close(mqr);
	nmport_close(p);
	nmport_close(q);
}

/* monitor ring i <- ring i of the end; ring selection */
static void rings(void)
{
	struct nmport_d *p = t_open("netmap:rp{1@conf:rings=3"), *q = t_open("netmap:rp}1");
	REQUIRE(p->reg.nr_tx_rings == 3 && q->reg.nr_rx_rings == 3, "pipe with %u/%u rings",
		p->reg.nr_tx_rings, q->reg.nr_rx_rings);
	struct nmport_d *mpt = t_open("netmap:rp{1/t"), *mqr = t_open("netmap:rp}1/r");
	struct nmport_d *mp2 = t_open("netmap:rp{1-2/t"), *mq2 = t_open("netmap:rp}1-2/r");
	mt_check_geometry("rp{1/t", mpt, p);
	mt_check_geometry("rp}1/r", mqr, q);
	CHECK(mp2->reg.nr_rx_rings == 3, "rp{1-2/t: %u RX rings, want 3", mp2->reg.nr_rx_rings);
	CHECK(mp2->first_rx_ring == 2 && mp2->last_rx_ring == 2,
	      "rp{1-2/t binds RX rings %d..%d, want 2..2", mp2->first_rx_ring, mp2->last_rx_ring);
	CHECK(mq2->first_rx_ring == 2 && mq2->last_rx_ring == 2,
	      "rp}1-2/r binds RX rings %d..%d, want 2..2", mq2->first_rx_ring, mq2->last_rx_ring);
	for (unsigned ring = 0; ring < 3; ring++) {
		uint32_t tag = 0x400 + ring;
		mt_put(p, ring, NULL, tag, 60, 65535, 0, NULL);
		vt_txsync(p);
		struct nmport_d *m[2] = { mpt, mqr };
		for (int w = 0; w < 2; w++)
			for (unsigned ri = 0; ri < 3; ri++) {
				uint32_t tags[4];
				int n = vt_recv(m[w], ri, tags, 4, true);
				int want = ri == ring;
				CHECK(n == want && (!want || tags[0] == tag),
				      "frame on ring %u: %s ring %u has %d frame(s), want %d", ring,
				      w ? "rp}1/r" : "rp{1/t", ri, n, want);
			}
		uint32_t tags[4];
		int n = vt_recv(mp2, 2, tags, 4, true);
		CHECK(n == (ring == 2), "frame on ring %u: rp{1-2/t has %d frame(s)", ring, n);
		n = vt_recv(mq2, 2, tags, 4, true);
		CHECK(n == (ring == 2), "frame on ring %u: rp}1-2/r has %d frame(s)", ring, n);
		CHECK(mt_drain(q, ring) == 1, "receiver ring %u", ring);
		vt_txsync(p);
	}
	nmport_close(mp2);
	nmport_close(mq2);
	nmport_close(mpt);
	nmport_close(mqr);
	nmport_close(p);
	nmport_close(q);
}

static void errors(void)
{
	struct nmport_d *p = t_open("netmap:ep{1"), *q = t_open("netmap:ep}1");
	const char *specs[] = { "netmap:ep{1/t", "netmap:ep{1/r", "netmap:ep}1/rt" };
	for (int i = 0; i < 3; i++)
		mt_check_tx_eio(specs[i]);
	nmport_close(q);
	/* the other end of a pipe whose master is open is not in netmap mode */
	t_open_fails("netmap:ep}1/r", EINVAL);
	t_open_fails("netmap:ep}1/t", EINVAL);
	struct nmport_d *m = t_open("netmap:ep{1/rt");
	nmport_close(m);
	nmport_close(p);
	t_open_fails("netmap:ep{1/t", EINVAL);
	t_open_fails("netmap:nope{1/t", EINVAL);
	t_open_fails("netmap:nope}1/r", EINVAL);
	t_open_fails("netmap:nope{1-0/rt", EINVAL);
	errno = 0;
	int fd = t_reg_raw("nope{1", NR_REG_ALL_NIC, 0, NR_MONITOR_TX);
	int e = errno;
	CHECK(fd == -1 && e == EINVAL, "raw REGISTER nope{1 NR_MONITOR_TX: %d/%s, want -1/EINVAL",
	      fd, strerror(e));
	if (fd >= 0)
		close(fd);
	/* the failed monitor opens created nothing: the pipe is new */
	p = t_open("netmap:nope}1");
	t_open_fails("netmap:nope{1/t", EINVAL);
	nmport_close(p);
}

static void several(void)
{
	struct nmport_d *p = t_open("netmap:sp{1"), *q = t_open("netmap:sp}1");
	struct nmport_d *m[5] = { t_open("netmap:sp{1/t"), t_open("netmap:sp{1/t"),
				  t_open("netmap:sp{1/rt"), t_open("netmap:sp}1/r"),
				  t_open("netmap:sp}1/r") };
	const char *mname[5] = { "{1/t #1", "{1/t #2", "{1/rt", "}1/r #1", "}1/r #2" };
	static struct mt_rec sent[64], got[64];
	uint32_t tag = 0x600;
	int ns = 0;
	for (int batch = 0; batch < 2; batch++) {
		int k = batch == 0 ? 7 : 33;
		for (int i = 0; i < k; i++, ns++)
			put1(p, tag++, 60 + (unsigned)ns * 13, 0, &sent[ns]);
		vt_txsync(p);
	}
	for (int i = 0; i < 5; i++) {
		int n = mt_collect(m[i], 0, got, 64, true);
		mt_expect_recs(mname[i], got, n, sent, ns, i < 3 ? FL_TXMON : FL_SAME);
	}
	CHECK(mt_drain(q, 0) == ns, "receiver");
	vt_txsync(p);
	nmport_close(m[0]);
	nmport_close(m[3]);
	for (int i = 0; i < 10; i++)
		put1(p, tag++, 100, 0, &sent[i]);
	vt_txsync(p);
	for (int i = 0; i < 5; i++) {
		if (i == 0 || i == 3)
			continue;
		int n = mt_collect(m[i], 0, got, 64, true);
		mt_expect_recs(mname[i], got, n, sent, 10, i < 3 ? FL_TXMON : FL_SAME);
	}
	for (int i = 0; i < 5; i++)
		if (i != 0 && i != 3)
			nmport_close(m[i]);
	nmport_close(p);
	nmport_close(q);
}

/* monitors that never read: the pipe runs as before; each keeps what
 * fitted, of a batch that did not fit the newest frames */
static void lazy(void)
{
	struct nmport_d *p = t_open("netmap:lp{1"), *q = t_open("netmap:lp}1");
	struct nmport_d *lt = t_open("netmap:lp{1/t"), *lr = t_open("netmap:lp}1/r");
	struct nmport_d *act = t_open("netmap:lp}1/r");	/* one that reads */
	const unsigned cap = NETMAP_RXRING(lt->nifp, 0)->num_slots - 1;
	REQUIRE(cap >= 200 && cap < 8192, "monitor ring of %u slots", cap + 1);
	struct netmap_ring *ptx = NETMAP_TXRING(p->nifp, 0);
	REQUIRE(nm_ring_space(ptx) >= cap - 23, "sender ring too small");
	const unsigned batches[] = { cap - 23, 100, cap / 2, cap / 2, cap / 2, cap / 2, cap / 2 };
	const unsigned nbatch = sizeof(batches) / sizeof(batches[0]);
	static uint32_t model[8192];
	unsigned held = 0;
	uint32_t tag = 0;
	int64_t t0 = unm_test_now_ms();
	for (unsigned bi = 0; bi < nbatch; bi++) {
		unsigned k = batches[bi];
		uint32_t first = tag;
		REQUIRE(nm_ring_space(ptx) >= k, "batch %u: sender ring has room for %u of %u", bi,
			nm_ring_space(ptx), k);
		for (unsigned i = 0; i < k; i++)
			put1(p, tag++, 60, 0, NULL);
		vt_txsync(p);
		unsigned room = cap - held, keep = k < room ? k : room;
		for (unsigned i = 0; i < keep; i++)
			model[held++] = first + (k - keep) + i;
		mt_check_batch("the receiver", bi, q, first, k, false);
		mt_check_batch("the reading }1/r", bi, act, first, k, true);
		vt_txsync(p);	/* take back what the receiver released */
		CHECK(nm_ring_space(ptx) == ptx->num_slots - 1, "batch %u: sender ring not free"
		      " (%u of %u) with a monitor that does not read", bi, nm_ring_space(ptx),
		      ptx->num_slots - 1);
	}
	int64_t dt = unm_test_now_ms() - t0;
	CHECK(dt < 5000, "%u frames next to full monitors took %lld ms", tag, (long long)dt);
	struct nmport_d *lm[2] = { lt, lr };
	const char *ln[2] = { "{1/t that never read", "}1/r that never read" };
	for (int w = 0; w < 2; w++)
		mt_check_held(ln[w], lm[w], model, held, cap, batches[0], batches[1]);
	for (int i = 0; i < 10; i++)
		put1(p, tag + (uint32_t)i, 60, 0, NULL);
	vt_txsync(p);
	for (int w = 0; w < 2; w++)
		mt_check_ten(ln[w], lm[w], tag);
	nmport_close(lt);
	nmport_close(lr);
	nmport_close(act);
	nmport_close(p);
	nmport_close(q);
}

/* an end's last descriptor closes: its monitors' rxsync is EIO */
static void parent_gone(void)
{
	struct nmport_d *p = t_open("netmap:gp{1"), *q = t_open("netmap:gp}1");
	struct nmport_d *mpt = t_open("netmap:gp{1/t"), *mqr = t_open("netmap:gp}1/r");
	int dupfd = dup(p->fd);
	REQUIRE(dupfd >= 0, "dup");
	nmport_close(p);
	/* the registration lives on in the duplicate */
	CHECK(ioctl(mpt->fd, NIOCRXSYNC, NULL) == 0, "gp{1/t rxsync while a dup of gp{1 is open:"
	      " %s", strerror(errno));
	close(dupfd);
	CHECK_ERRNO(ioctl(mpt->fd, NIOCRXSYNC, NULL), EIO);
	CHECK_ERRNO(ioctl(mpt->fd, NIOCRXSYNC, NULL), EIO);
	CHECK(ioctl(mqr->fd, NIOCRXSYNC, NULL) == 0, "gp}1/r rxsync with gp}1 still open: %s",
	      strerror(errno));
	nmport_close(q);
	CHECK_ERRNO(ioctl(mqr->fd, NIOCRXSYNC, NULL), EIO);
	/* the same names again are another pipe; the old monitors stay dead */
	p = t_open("netmap:gp{1");
	q = t_open("netmap:gp}1");
	put1(p, 0x700, 60, 0, NULL);
	vt_txsync(p);
	CHECK(mt_drain(q, 0) == 1, "new pipe");
	CHECK_ERRNO(ioctl(mpt->fd, NIOCRXSYNC, NULL), EIO);
	CHECK_ERRNO(ioctl(mqr->fd, NIOCRXSYNC, NULL), EIO);
	nmport_close(mpt);
	nmport_close(mqr);
	nmport_close(p);
	nmport_close(q);
}

/* MOREFRAG chains: copied slot by slot with their flags, once complete */
static void multislot(void)
{
	struct nmport_d *p = t_open("netmap:fp{1"), *q = t_open("netmap:fp}1");
	struct nmport_d *mpt = t_open("netmap:fp{1/t"), *mqr = t_open("netmap:fp}1/r");
	mt_require_2048(p, mpt);
	static struct mt_rec sent[512], got[512], qrx[512];
	uint32_t tag = 0x800;
	int ns = (int)mt_put(p, 0, NULL, tag++, 5000, 2048, 0, sent);
	REQUIRE(ns == 3, "5000 bytes in %d slots", ns);
	vt_txsync(p);
	int n = mt_collect(mpt, 0, got, 512, true);
	mt_expect_recs("fp{1/t, 5000-byte frame", got, n, sent, 3, FL_TXMON);
	const uint16_t wt[3] = { NS_MOREFRAG | NS_TXMON, NS_MOREFRAG | NS_TXMON, NS_TXMON };
	for (int i = 0; i < n && i < 3; i++)
		CHECK(got[i].flags == wt[i], "fp{1/t slot %d: flags %#x, want %#x", i, got[i].flags,
		      wt[i]);
	n = mt_collect(mqr, 0, got, 512, true);
	mt_expect_recs("fp}1/r, 5000-byte frame", got, n, sent, 3, FL_SAME);
	CHECK(mt_drain(q, 0) == 3, "receiver");
	vt_txsync(p);

	/* a chain pushed in two txsyncs: the receiver side sees it when it
	 * is published (complete); the sender side gets each slot once */
	ns = (int)mt_put_part(p, 0, NULL, tag, 5000, 2048, 0, 0, 2, sent);
	vt_txsync(p);
	int early = mt_collect(mpt, 0, got, 512, true);
	CHECK(early == 0 || early == 2, "fp{1/t: %d slots of a chain pushed up to its 2nd slot",
	      early);
	if (early == 2)
		mt_expect_recs("fp{1/t, first 2 slots of a chain", got, early, sent, 2, FL_TXMON);
	CHECK(mt_collect(mqr, 0, got, 512, true) == 0, "fp}1/r: slots of an unpublished chain");
	CHECK(mt_drain(q, 0) == 0, "the receiver got slots of an incomplete chain");
	ns += (int)mt_put_part(p, 0, NULL, tag, 5000, 2048, 0, 2, 3, sent + 2);
	tag++;
	vt_txsync(p);
	n = mt_collect(mpt, 0, got, 512, true);
	mt_expect_recs("fp{1/t, rest of the chain", got, n, sent + early, ns - early, FL_TXMON);
	n = mt_collect(mqr, 0, got, 512, true);
	mt_expect_recs("fp}1/r, the chain once complete", got, n, sent, ns, FL_SAME);
	CHECK(mt_drain(q, 0) == 3, "receiver, completed chain");
	vt_txsync(p);

	unsigned lcg = 4242;
	for (int round = 0; round < 60 && t_failures < 20; round++) {
		ns = mt_put_chains(p, NULL, &lcg, &tag, sent);
		vt_txsync(p);
		char what[64];
		n = mt_collect(mpt, 0, got, 512, true);
		snprintf(what, sizeof(what), "fp{1/t, chains round %d", round);
		mt_expect_recs(what, got, n, sent, ns, FL_TXMON);
		n = mt_collect(mqr, 0, got, 512, true);
		snprintf(what, sizeof(what), "fp}1/r, chains round %d", round);
		mt_expect_recs(what, got, n, sent, ns, FL_SAME);
		int nq = mt_collect(q, 0, qrx, 512, true);
		snprintf(what, sizeof(what), "receiver, chains round %d", round);
		mt_expect_recs(what, qrx, nq, sent, ns, FL_SAME);
		vt_txsync(p);
	}
	nmport_close(mpt);
	nmport_close(mqr);
	nmport_close(p);
	nmport_close(q);
}

/* copies cut to the monitor's buffer size (monitors made with
 * UNETMAP_BUF_SIZE=1024) */
static void truncation(void)
{
	struct nmport_d *p = t_open("netmap:tp{1"), *q = t_open("netmap:tp}1");
	struct nmport_d *mpt, *mqr;
	unsigned mbs = mt_open_cut("netmap:tp{1/t", "netmap:tp}1/r", &mpt, &mqr);
	if (mbs != 0) {
		struct mt_cut want[16];
		int nw = mt_cut_queue(p, NULL, mbs, want);
		vt_txsync(p);
		mt_cut_check("{1/t", mpt, NULL, mbs, want, nw, FL_TXMON);
		mt_cut_check("}1/r", mqr, NULL, mbs, want, nw, FL_SAME);
		CHECK(mt_drain(q, 0) == nw, "the receiver did not get the %d slots", nw);
	}
	nmport_close(mpt);
	nmport_close(mqr);
	nmport_close(p);
	nmport_close(q);
}

int main(void)
{
	t_setup(120);
	basic();
	processes();
	rings();
	errors();
	several();
	lazy();
	parent_gone();
	multislot();
	truncation();
	return t_done();
}
