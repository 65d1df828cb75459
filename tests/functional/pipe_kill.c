/* Description: SIGKILL of the sending or receiving process of a pipe (while traffic flows, and while it spins in a sync) leaves the other end working; a new process re-attaches and frames continue in order; no registration FIFO is left behind. */
/*
 * Reference §4.4 (data and ring state survive while one end stays open; no
 * drops), §1.6 (a new fd bound to an active ring sees its current state;
 * the busy flag of a ring whose syncing holder died must not stall it),
 * §10 (port and ring state persist while any holder keeps the fd; a dead
 * holder's registration is released).
 *
 * The processes that get killed store cur before head (both with release
 * semantics) after filling/reading a slot, so that at any instant of the
 * kill the ring is in a valid state: every slot before head is complete.
 */
#include <dirent.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <libnetmap.h>
#include <unetmap.h>
#include "testlib.h"

#define BASE2	0x40000000u	/* sequence numbers of the second sender */
#define C2	20000u		/* frames sent by the second sender */
#define EXTRA	20000u		/* frames sent to the second receiver */

struct shm {
	volatile uint32_t ready;	/* child opened its port */
	volatile uint32_t last;		/* receiver child: last sequence read */
	volatile uint32_t count;	/* receiver child: frames read */
	volatile uint32_t bad;		/* receiver child: order errors */
	volatile uint32_t first;	/* receiver child: first sequence read */
	volatile uint32_t stop_at;	/* second receiver: last sequence to read */
	volatile uint32_t done;
};

static struct netmap_ring *txr(struct nmport_d *d)
{
	return NETMAP_TXRING(d->nifp, d->first_tx_ring);
}

static struct netmap_ring *rxr(struct nmport_d *d)
{
	return NETMAP_RXRING(d->nifp, d->first_rx_ring);
}

static void advance(struct netmap_ring *r, uint32_t to)
{
	__atomic_store_n(&r->cur, to, __ATOMIC_RELEASE);
	__atomic_store_n(&r->head, to, __ATOMIC_RELEASE);
}

/* fill free slots with seq, *seq..limit-1; returns frames written */
static unsigned fill(struct netmap_ring *r, uint32_t *seq, uint32_t limit)
{
	unsigned n = 0;
	while (!nm_ring_empty(r) && *seq != limit) {
		struct netmap_slot *s = &r->slot[r->head];
		char *b = NETMAP_BUF(r, s->buf_idx);
		memset(b, 0x11, 60);
		memcpy(b + 14, seq, 4);
		s->len = 60;
		s->flags = 0;
		(*seq)++;
		advance(r, nm_ring_next(r, r->head));
		n++;
	}
	return n;
}

static uint32_t slot_seq(struct netmap_ring *r)
{
	uint32_t v;
	memcpy(&v, NETMAP_BUF(r, r->slot[r->head].buf_idx) + 14, 4);
	return v;
}

/* sender child: sends base.. (count frames, or until killed) */
static void sender_child(struct shm *sh, uint32_t base, uint32_t count)
{
	alarm(40);
	struct nmport_d *d = nmport_open("netmap:k{1");
	if (d == NULL) {
		fprintf(stderr, "sender child: open: %s\n", strerror(errno));
		_exit(10);
	}
	sh->ready = 1;
	struct netmap_ring *r = txr(d);
	uint32_t seq = base, limit = base + count;
	int64_t deadline = unm_test_now_ms() + 30000;
	while (seq != limit && unm_test_now_ms() < deadline) {
		fill(r, &seq, limit);
		struct pollfd p = { .fd = d->fd, .events = POLLOUT };
		if (poll(&p, 1, 1000) < 0)
			_exit(11);
	}
	if (ioctl(d->fd, NIOCTXSYNC, NULL) != 0)
		_exit(12);
	_exit(seq == limit ? 0 : 13);
}

/* receiver child: reads on kr}1, records progress in *sh, until stop_at */
static void receiver_child(struct shm *sh)
{
	alarm(40);
	struct nmport_d *d = nmport_open("netmap:kr}1");
	if (d == NULL) {
		fprintf(stderr, "receiver child: open: %s\n", strerror(errno));
		_exit(10);
	}
	sh->ready = 1;
	struct netmap_ring *r = rxr(d);
	int64_t deadline = unm_test_now_ms() + 30000;
	int have_prev = 0;
	uint32_t prev = 0;
	while (unm_test_now_ms() < deadline) {
		struct pollfd p = { .fd = d->fd, .events = POLLIN };
		if (poll(&p, 1, 1000) < 0)
			_exit(11);
		while (!nm_ring_empty(r)) {
			uint32_t v = slot_seq(r);
			if (!have_prev)
				sh->first = v;
			else if (v != prev + 1)
				sh->bad++;
			have_prev = 1;
			prev = v;
			sh->last = v;
			sh->count++;
			advance(r, nm_ring_next(r, r->head));
			if (v == sh->stop_at) {
				ioctl(d->fd, NIOCRXSYNC, NULL);
				sh->done = 1;
				_exit(0);
			}
		}
	}
	_exit(14);
}

static int wait_ready(struct shm *sh)
{
	for (int i = 0; i < 2000 && !sh->ready; i++)
		usleep(5000);
	return sh->ready;
}

static int count_files(const char *prefix, char *list, size_t len)
{
	DIR *dd = opendir(unetmap_dir());
	REQUIRE(dd != NULL, "opendir");
	int n = 0;
	struct dirent *e;
	list[0] = '\0';
	while ((e = readdir(dd)) != NULL) {
		if (strncmp(e->d_name, prefix, strlen(prefix)) == 0) {
			n++;
			if (strlen(list) + strlen(e->d_name) + 2 < len) {
				strcat(list, e->d_name);
				strcat(list, " ");
			}
		}
	}
	closedir(dd);
	return n;
}

int main(void)
{
	t_setup(150);
	struct shm *sh = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
			      -1, 0);
	REQUIRE(sh != MAP_FAILED, "mmap");

	/* ================= part A: the sender is killed ==================== */
	struct nmport_d *R = nmport_open("netmap:k}1");
	REQUIRE(R != NULL, "open k}1: %s", strerror(errno));
	struct netmap_ring *rr = rxr(R);
	memset(sh, 0, sizeof(*sh));
	pid_t c1 = fork();
	REQUIRE(c1 >= 0, "fork");
	if (c1 == 0)
		sender_child(sh, 0, 0x30000000u);
	REQUIRE(wait_ready(sh), "sender child did not start");

	uint32_t expect = 0, got = 0;
	int64_t deadline = unm_test_now_ms() + 20000;
	while (got < 5000 && unm_test_now_ms() < deadline) {
		struct pollfd p = { .fd = R->fd, .events = POLLIN };
		CHECK(poll(&p, 1, 1000) >= 0, "poll");
		/* small bites, so that the sender is busy (not blocked on a
		 * full ring) when it gets killed */
		for (int k = 0; k < 16 && !nm_ring_empty(rr); k++) {
			uint32_t v = slot_seq(rr);
			if (v != expect)
				CHECK(0, "before kill: seq %u want %u", v, expect);
			expect = v + 1;
			got++;
			rr->head = rr->cur = nm_ring_next(rr, rr->head);
		}
	}
	REQUIRE(got >= 5000, "received only %u frames from the first sender", got);
	/* the sender is still sending (it never stops before 0x30000000) */
	CHECK(kill(c1, SIGKILL) == 0, "kill");
	int st;
	REQUIRE(waitpid(c1, &st, 0) == c1, "waitpid");
	CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL, "sender status 0x%x", st);

	/* drain what the dead sender had published, in order */
	int quiet = 0;
	for (int i = 0; i < 100000 && quiet < 5; i++) {
		CHECK(ioctl(R->fd, NIOCRXSYNC, NULL) == 0, "rxsync after kill: %s", strerror(errno));
		if (nm_ring_empty(rr)) {
			quiet++;
			continue;
		}
		quiet = 0;
		while (!nm_ring_empty(rr)) {
			uint32_t v = slot_seq(rr);
			if (v != expect)
				CHECK(0, "drain: seq %u want %u", v, expect);
			expect = v + 1;
			got++;
			rr->head = rr->cur = nm_ring_next(rr, rr->head);
		}
	}
	struct pollfd pz = { .fd = R->fd, .events = POLLIN };
	CHECK(poll(&pz, 1, 100) == 0, "nothing arrives from a dead sender (revents 0x%x)",
	      pz.revents);
	uint32_t old_end = expect;

	/* a second sender attaches to k{1 and continues */
	memset(sh, 0, sizeof(*sh));
	pid_t c2 = fork();
	REQUIRE(c2 >= 0, "fork");
	if (c2 == 0)
		sender_child(sh, BASE2, C2);
	uint32_t new_expect = BASE2, new_got = 0, old_late = 0;
	deadline = unm_test_now_ms() + 30000;
	while (new_got < C2 && unm_test_now_ms() < deadline && t_failures < 20) {
		struct pollfd p = { .fd = R->fd, .events = POLLIN };
		CHECK(poll(&p, 1, 1000) >= 0, "poll");
		while (!nm_ring_empty(rr)) {
			uint32_t v = slot_seq(rr);
			if (v < BASE2) {
				/* slots the dead sender had filled but not
				 * synced are sent by the new sender's first sync */
				CHECK(new_got == 0, "old seq %u after new frames", v);
				CHECK(v == expect, "late old seq %u want %u", v, expect);
				expect = v + 1;
				old_late++;
			} else {
				CHECK(v == new_expect, "new sender: seq %u want %u", v, new_expect);
				new_expect = v + 1;
				new_got++;
			}
			rr->head = rr->cur = nm_ring_next(rr, rr->head);
		}
	}
	CHECK(new_got == C2, "second sender: received %u of %u", new_got, C2);
	REQUIRE(waitpid(c2, &st, 0) == c2, "waitpid");
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "second sender status 0x%x", st);
	CHECK(ioctl(R->fd, NIOCRXSYNC, NULL) == 0, "rxsync");
	CHECK(nm_ring_empty(rr), "%u unexpected frames left", nm_ring_space(rr));
	fprintf(stderr, "part A: %u frames before the kill (up to seq %u), %u late, %u new\n",
		got, old_end, old_late, new_got);

	/* ================= part B: the receiver is killed ================== */
	struct nmport_d *T = nmport_open("netmap:kr{1");
	REQUIRE(T != NULL, "open kr{1: %s", strerror(errno));
	struct netmap_ring *tr = txr(T);
	const uint32_t N = tr->num_slots;
	memset(sh, 0, sizeof(*sh));
	sh->stop_at = UINT32_MAX;
	pid_t c3 = fork();
	REQUIRE(c3 >= 0, "fork");
	if (c3 == 0)
		receiver_child(sh);
	REQUIRE(wait_ready(sh), "receiver child did not start");
	uint32_t seq = 0;
	deadline = unm_test_now_ms() + 20000;
	while (sh->count < 5000 && unm_test_now_ms() < deadline) {
		fill(tr, &seq, seq + 16);	/* small batches: the receiver stays busy */
		struct pollfd p = { .fd = T->fd, .events = POLLOUT };
		CHECK(poll(&p, 1, 1000) >= 0, "poll");
	}
	REQUIRE(sh->count >= 5000, "receiver child read only %u", sh->count);
	fill(tr, &seq, UINT32_MAX);
	CHECK(ioctl(T->fd, NIOCTXSYNC, NULL) == 0, "txsync");
	CHECK(kill(c3, SIGKILL) == 0, "kill");
	REQUIRE(waitpid(c3, &st, 0) == c3, "waitpid");
	CHECK(WIFSIGNALED(st), "receiver status 0x%x", st);
	uint32_t last = sh->last;
	CHECK(sh->bad == 0, "first receiver saw %u order errors", sh->bad);
	CHECK(sh->first == 0, "first receiver started at %u", sh->first);

	/* the sender goes on until the ring is full, without errors */
	for (int i = 0; i < 10000; i++) {
		fill(tr, &seq, UINT32_MAX);
		CHECK(ioctl(T->fd, NIOCTXSYNC, NULL) == 0, "txsync after kill: %s",
		      strerror(errno));
		if (nm_ring_space(tr) == 0)
			break;
	}
	CHECK(nm_ring_space(tr) == 0, "ring never filled: space %u", nm_ring_space(tr));
	struct pollfd po = { .fd = T->fd, .events = POLLOUT };
	CHECK(poll(&po, 1, 100) == 0, "POLLOUT with a dead receiver (0x%x)", po.revents);
	CHECK(seq - last <= N, "in flight %u > ring size %u", seq - last, N);

	/* a second receiver attaches and gets what was queued, in order, then
	 * EXTRA more */
	const uint32_t queued_end = seq;
	memset(sh, 0, sizeof(*sh));
	sh->stop_at = queued_end + EXTRA - 1;
	pid_t c4 = fork();
	REQUIRE(c4 >= 0, "fork");
	if (c4 == 0)
		receiver_child(sh);
	deadline = unm_test_now_ms() + 30000;
	while (seq != queued_end + EXTRA && unm_test_now_ms() < deadline) {
		fill(tr, &seq, queued_end + EXTRA);
		struct pollfd p = { .fd = T->fd, .events = POLLOUT };
		CHECK(poll(&p, 1, 1000) >= 0, "poll");
	}
	CHECK(seq == queued_end + EXTRA, "sent %u of %u to the second receiver",
	      seq - queued_end, EXTRA);
	CHECK(ioctl(T->fd, NIOCTXSYNC, NULL) == 0, "txsync");
	REQUIRE(waitpid(c4, &st, 0) == c4, "waitpid");
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "second receiver status 0x%x", st);
	CHECK(sh->done == 1, "second receiver did not reach seq %u (last %u)", sh->stop_at,
	      sh->last);
	CHECK(sh->bad == 0, "second receiver: %u order errors", sh->bad);
	/* it starts with the first frame the dead receiver had not released
	 * from its ring: `last` (killed before moving head past it) or last+1 */
	CHECK(sh->first == last || sh->first == last + 1,
	      "second receiver starts at %u; first receiver's last was %u", sh->first, last);
	CHECK(sh->count == sh->stop_at - sh->first + 1, "second receiver read %u frames from %u",
	      sh->count, sh->first);
	fprintf(stderr, "part B: first receiver read %u (last %u), second started at %u\n",
		last + 1, last, sh->first);

	/* ============ part C: killed while spinning in a sync ============= */
	/* A process killed inside txsync/rxsync leaves the ring's busy flag
	 * naming a dead process; the next process must take the ring over
	 * (reference §1.6: a second syncer skips only while the first runs).
	 * Each child sends (or receives) one frame, then spins on the sync
	 * ioctl until it is killed, so most kills land inside a sync; each
	 * next child must still get its frame through. */
	struct nmport_d *CR = nmport_open("netmap:kc}1");
	REQUIRE(CR != NULL, "open kc}1: %s", strerror(errno));
	struct netmap_ring *crr = rxr(CR);
	for (uint32_t round = 0; round < 20 && t_failures < 10; round++) {
		pid_t c = fork();
		REQUIRE(c >= 0, "fork");
		if (c == 0) {
			alarm(20);
			struct nmport_d *d = nmport_open("netmap:kc{1");
			if (d == NULL)
				_exit(10);
			struct netmap_ring *r = txr(d);
			uint32_t sq = round;
			fill(r, &sq, round + 1);
			for (int64_t end = unm_test_now_ms() + 15000; unm_test_now_ms() < end;)
				ioctl(d->fd, NIOCTXSYNC, NULL);
			_exit(11);
		}
		struct pollfd p = { .fd = CR->fd, .events = POLLIN };
		int r = poll(&p, 1, 5000);
		CHECK(r == 1 && !nm_ring_empty(crr), "round %u: the sender's frame did not arrive "
		      "(previous sender killed in txsync?)", round);
		if (!nm_ring_empty(crr)) {
			CHECK(slot_seq(crr) == round, "round %u: got seq %u", round, slot_seq(crr));
			crr->head = crr->cur = nm_ring_next(crr, crr->head);
		}
		usleep((round % 5) * 300);
		kill(c, SIGKILL);
		waitpid(c, &st, 0);
		CHECK(WIFSIGNALED(st), "round %u: sender status 0x%x", round, st);
	}
	struct nmport_d *CT = nmport_open("netmap:kd{1");
	REQUIRE(CT != NULL, "open kd{1: %s", strerror(errno));
	struct netmap_ring *ctr = txr(CT);
	seq = 0;
	for (uint32_t round = 0; round < 20 && t_failures < 10; round++) {
		memset(sh, 0, sizeof(*sh));
		sh->stop_at = UINT32_MAX;
		pid_t c = fork();
		REQUIRE(c >= 0, "fork");
		if (c == 0) {
			alarm(20);
			struct nmport_d *d = nmport_open("netmap:kd}1");
			if (d == NULL)
				_exit(10);
			struct netmap_ring *r = rxr(d);
			sh->ready = 1;
			for (int64_t end = unm_test_now_ms() + 15000; unm_test_now_ms() < end;) {
				ioctl(d->fd, NIOCRXSYNC, NULL);
				while (!nm_ring_empty(r)) {
					sh->last = slot_seq(r);
					sh->count++;
					advance(r, nm_ring_next(r, r->head));
				}
			}
			_exit(11);
		}
		REQUIRE(wait_ready(sh), "round %u: receiver did not start", round);
		uint32_t want = seq;
		fill(ctr, &seq, seq + 1);
		CHECK(ioctl(CT->fd, NIOCTXSYNC, NULL) == 0, "txsync");
		for (int i = 0; i < 1000 && sh->count == 0; i++)
			usleep(5000);
		CHECK(sh->count == 1 && sh->last == want, "round %u: receiver got %u frames, last "
		      "%u, want seq %u (previous receiver killed in rxsync?)", round, sh->count,
		      sh->last, want);
		usleep((round % 5) * 300);
		kill(c, SIGKILL);
		waitpid(c, &st, 0);
		CHECK(WIFSIGNALED(st), "round %u: receiver status 0x%x", round, st);
	}
	nmport_close(CR);
	nmport_close(CT);

	/* ================= teardown ====================================== */
	nmport_close(R);
	nmport_close(T);
	int released = unetmap_gc();
	CHECK(released >= 0, "unetmap_gc: %d", released);
	CHECK(unetmap_gc() == 0, "second unetmap_gc released more");
	char list[1024];
	int nreg = count_files("reg-", list, sizeof(list));
	CHECK(nreg == 0, "%d registration FIFOs left: %s", nreg, list);
	int nmem = count_files("mem-", list, sizeof(list));
	CHECK(nmem == 0, "%d region files left: %s", nmem, list);
	return t_done();
}
