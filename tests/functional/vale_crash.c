/* Description: VALE senders killed in the data path.  For each fault point
 * (vale-after-reserve, vale-mid-copy, vale-before-publish) a sender dies
 * holding a reservation on the receiver's ring: another sender's later
 * frames still arrive, in order and without loss, the dead slots show up
 * as zero-length slots counted in the receiver's drop_dead, nothing stalls.
 * Then 30 senders are SIGKILLed at random moments under traffic: no frame
 * is ever corrupted, the ring keeps moving, every port can be closed and
 * reopened, and the rings, netmap_ifs and buffers of the regions are back. */
#include <poll.h>
#include <stdbool.h>
#include <sys/ioctl.h>
#include <libnetmap.h>
#include <unetmap.h>
#include "testlib.h"
#include "valetest.h"

#define S2_ID 1			/* the surviving sender */
#define VICTIM_ID 50		/* victims of the fault points: 50, 51, 52 */
#define CHAOS_ID 100		/* random victims: 100 + k */
#define KILLS 30
#define VICTIM_FRAMES 8

static char mem_opt[32];	/* "@N": the anchor's region */

static unsigned flen(uint32_t id, uint32_t seq)
{
	return 60 + (id * 7u + seq * 13u) % 140;
}

/* queue frame (id, seq) to dst on the first TX ring; 0 if no room */
static int queue(struct nmport_d *d, const uint8_t *dst, uint32_t id, uint32_t seq)
{
	return vt_seq_queue(NETMAP_TXRING(d->nifp, d->first_tx_ring), dst, id, id, seq,
			    flen(id, seq), false);
}

/* ---- the receiver's view ------------------------------------------------------ */

struct rxstate {
	uint64_t zero;			/* zero-length slots */
	uint64_t frames;		/* valid frames */
	uint64_t corrupt;
	uint64_t dup;			/* duplicated or reordered */
	int64_t last[256];		/* last seq per sender id */
	uint64_t per_id[256];
	uint32_t s2_gaps;		/* s2 frames missing in strict phases */
	bool strict_s2;			/* s2 frames must be contiguous */
};
static struct rxstate rx;

static void rx_reset_last(void)
{
	for (int i = 0; i < 256; i++)
		rx.last[i] = -1;
}

static void rx_slot(const struct netmap_slot *s, const uint8_t *b)
{
	if (s->len == 0) {
		rx.zero++;
		return;
	}
	uint32_t id, seq;
	if (s->len < 22) {
		if (rx.corrupt++ < 10)
			CHECK(0, "frame of %u bytes", s->len);
		return;
	}
	memcpy(&id, b + 14, 4);
	memcpy(&seq, b + 18, 4);
	bool bad = id >= 256 || s->len != flen(id, seq) ||
		   (memcmp(b, vt_mac_r, 6) != 0 && memcmp(b, vt_bcast, 6) != 0) ||
		   s->flags != (1u << 8) || !vt_seq_body_ok(b, s->len, id, seq, false);
	if (bad) {
		if (rx.corrupt++ < 10)
			CHECK(0, "corrupted frame: id %u seq %u len %u flags %#x", id, seq, s->len,
			      s->flags);
		return;
	}
	if ((int64_t)seq <= rx.last[id] && rx.dup++ < 10)
		CHECK(0, "sender %u: seq %u after %lld (duplicate or reordered)", id, seq,
		      (long long)rx.last[id]);
	if (id == S2_ID && rx.strict_s2 && (int64_t)seq != rx.last[id] + 1)
		rx.s2_gaps++;
	rx.last[id] = seq;
	rx.per_id[id]++;
	rx.frames++;
}

static void rx_drain(struct nmport_d *r)
{
	ioctl(r->fd, NIOCRXSYNC, NULL);
	struct netmap_ring *ring = NETMAP_RXRING(r->nifp, 0);
	for (int n = 0; !nm_ring_empty(ring) && n < 8192; n++) {
		struct netmap_slot *s = &ring->slot[ring->head];
		rx_slot(s, (const uint8_t *)NETMAP_BUF(ring, s->buf_idx));
		ring->head = ring->cur = nm_ring_next(ring, ring->head);
	}
	ioctl(r->fd, NIOCRXSYNC, NULL);
}

static void drop_all(struct nmport_d *d)
{
	ioctl(d->fd, NIOCRXSYNC, NULL);
	for (int i = d->first_rx_ring; i <= d->last_rx_ring; i++) {
		struct netmap_ring *ring = NETMAP_RXRING(d->nifp, i);
		ring->head = ring->cur = ring->tail;
	}
	ioctl(d->fd, NIOCRXSYNC, NULL);
}

/* r broadcasts once so that the switch learns vt_mac_r (s2 hears it) */
static void announce(struct nmport_d *r, struct nmport_d *s2)
{
	vt_send(r, vt_bcast, VT_ID_R, 0, 60);
	drop_all(s2);
}

/* s2 sends one frame per millisecond until the receiver has seen `want`
 * of them or 3 s passed; returns ms until the first one arrived (-1) */
static uint32_t s2_seq;
static int64_t s2_until(struct nmport_d *s2, struct nmport_d *r, uint64_t want,
			const char *what)
{
	uint64_t base = rx.per_id[S2_ID];
	int64_t t0 = unm_test_now_ms(), first = -1;
	for (int i = 0; i < 3000 && unm_test_now_ms() - t0 < 3000; i++) {
		if (rx.per_id[S2_ID] - base < want) {
			if (queue(s2, vt_mac_r, S2_ID, s2_seq))
				s2_seq++;
			ioctl(s2->fd, NIOCTXSYNC, NULL);
		}
		usleep(1000);
		rx_drain(r);
		if (first < 0 && rx.per_id[S2_ID] > base)
			first = unm_test_now_ms() - t0;
		if (rx.per_id[S2_ID] - base >= want)
			break;
	}
	CHECK(rx.per_id[S2_ID] - base >= want, "%s: only %llu of %llu frames of the other sender "
	      "arrived in 3 s (receiver ring stalled?)", what,
	      (unsigned long long)(rx.per_id[S2_ID] - base), (unsigned long long)want);
	return first;
}

/* ---- deterministic fault points ------------------------------------------------ */

static void fault_point(struct nmport_d *r, struct nmport_d *s2, const char *fp, uint32_t id)
{
	struct unetmap_vale_port_stats r0 = vt_pstats("vale0:r");
	rx_drain(r);
	uint64_t z0 = rx.zero;
	pid_t pid = fork();
	REQUIRE(pid >= 0, "fork");
	if (pid == 0) {
		setenv("UNETMAP_FAULT", fp, 1);
		char spec[64];
		snprintf(spec, sizeof(spec), "vale0:victim%u%s", id, mem_opt);
		struct nmport_d *v = nmport_open(spec);
		if (v == NULL)
			_exit(2);
		for (uint32_t k = 0; k < VICTIM_FRAMES; k++)
			queue(v, vt_mac_r, id, k);
		ioctl(v->fd, NIOCTXSYNC, NULL);
		_exit(3);	/* must have died in the txsync */
	}
	int st = 0;
	REQUIRE(waitpid(pid, &st, 0) == pid, "waitpid");
	CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL, "%s: victim status %#x (exit %d), "
	      "want SIGKILL at the fault point", fp, st, WIFEXITED(st) ? WEXITSTATUS(st) : -1);

	/* the other sender's frames get through, contiguous, soon */
	rx.strict_s2 = true;
	uint32_t gaps0 = rx.s2_gaps;
	int64_t first = s2_until(s2, r, 20, fp);
	rx.strict_s2 = false;
	fprintf(stderr, "%s: first frame of the other sender after %lld ms\n", fp,
		(long long)first);
	CHECK(first >= 0 && first < 1000, "%s: first frame after %lld ms", fp, (long long)first);
	CHECK(rx.s2_gaps == gaps0, "%s: %u frames of the other sender lost", fp,
	      rx.s2_gaps - gaps0);
	CHECK(rx.per_id[id] == 0, "%s: %llu frames of the dead sender delivered with data", fp,
	      (unsigned long long)rx.per_id[id]);
	struct unetmap_vale_port_stats r1 = vt_pstats("vale0:r");
	uint64_t dead = r1.drop_dead - r0.drop_dead;
	CHECK(dead == VICTIM_FRAMES, "%s: receiver drop_dead +%llu, want +%d", fp,
	      (unsigned long long)dead, VICTIM_FRAMES);
	CHECK(rx.zero - z0 == VICTIM_FRAMES, "%s: %llu zero-length slots, want %d", fp,
	      (unsigned long long)(rx.zero - z0), VICTIM_FRAMES);
	struct unetmap_vale_port_stats s = vt_pstats("vale0:s2");
	CHECK(s.drop_full == 0 && s.drop_closed == 0, "%s: the other sender had drops %llu/%llu",
	      fp, (unsigned long long)s.drop_full, (unsigned long long)s.drop_closed);
	/* the dead sender's port goes away */
	unetmap_gc();
	char name[32];
	snprintf(name, sizeof(name), "vale0:victim%u", id);
	struct unetmap_vale_port_stats all[8];
	int n = unetmap_vale_stats("vale0", all, 8);
	for (int i = 0; i < n && i < 8; i++)
		CHECK(strcmp(all[i].name, name) != 0, "%s: %s still in the switch after gc", fp,
		      name);
}

/* ---- random kills -------------------------------------------------------------- */

static void chaos_child(uint32_t id)
{
	nmctx_get()->verbose = 0;
	srand(id * 7919u + 3);
	uint32_t seq = 0;
	int64_t t0 = unm_test_now_ms();
	while (unm_test_now_ms() - t0 < 20000) {
		char spec[64];
		snprintf(spec, sizeof(spec), "vale0:k%d%s", rand() % 4, mem_opt);
		struct nmport_d *d = nmport_open(spec);
		if (d == NULL)
			continue;
		for (int k = rand() % 50; k > 0; k--) {
			for (int j = rand() % 32; j > 0; j--)
				if (queue(d, rand() % 4 ? vt_mac_r : vt_bcast, id, seq))
					seq++;
			ioctl(d->fd, NIOCTXSYNC, NULL);
			drop_all(d);
		}
		nmport_close(d);
	}
	_exit(0);
}

static void chaos(struct nmport_d *r, struct nmport_d *s2)
{
	srand(4242);
	for (int v = 0; v < KILLS; v++) {
		pid_t pid = fork();
		REQUIRE(pid >= 0, "fork");
		if (pid == 0)
			chaos_child(CHAOS_ID + (uint32_t)v);
		int64_t t0 = unm_test_now_ms(), dur = 1 + rand() % 40;
		while (unm_test_now_ms() - t0 < dur) {
			if (queue(s2, vt_mac_r, S2_ID, s2_seq))
				s2_seq++;
			ioctl(s2->fd, NIOCTXSYNC, NULL);
			drop_all(s2);
			struct pollfd p = { .fd = r->fd, .events = POLLIN };
			poll(&p, 1, 1);
			rx_drain(r);
		}
		kill(pid, SIGKILL);
		int st;
		waitpid(pid, &st, 0);
	}
	/* nothing stalls afterwards */
	rx.strict_s2 = true;
	uint32_t gaps0 = rx.s2_gaps;
	int64_t first = s2_until(s2, r, 50, "after random kills");
	rx.strict_s2 = false;
	fprintf(stderr, "after %d kills: first frame after %lld ms; %llu frames, %llu zero-length "
		"slots so far\n", KILLS, (long long)first, (unsigned long long)rx.frames,
		(unsigned long long)rx.zero);
	CHECK(first >= 0 && first < 1000, "after random kills: first frame after %lld ms",
	      (long long)first);
	(void)gaps0;	/* frames queued before the ring drained may be dropped (full) */
}

int main(void)
{
	t_setup(120);
	nmctx_get()->verbose = 0;
	rx_reset_last();
	/* an anchor region shared by the senders, big enough for many ports */
	setenv("UNETMAP_BUF_NUM", "32768", 1);
	setenv("UNETMAP_RING_NUM", "512", 1);
	setenv("UNETMAP_IF_NUM", "512", 1);
	struct nmport_d *anchor = t_open("vale9:anchor@conf:slots=64");
	unsetenv("UNETMAP_BUF_NUM");
	unsetenv("UNETMAP_RING_NUM");
	unsetenv("UNETMAP_IF_NUM");
	uint16_t amem = anchor->reg.nr_mem_id;
	snprintf(mem_opt, sizeof(mem_opt), "@%u", amem);
	struct unetmap_mem_stats a0, a1, as2, r0, r1;
	REQUIRE(unetmap_mem_stats(amem, &a0) == 0, "anchor stats");

	struct nmport_d *r = t_open("vale0:r");
	char spec[64];
	snprintf(spec, sizeof(spec), "vale0:s2%s", mem_opt);
	struct nmport_d *s2 = t_open(spec);
	REQUIRE(s2->reg.nr_mem_id == amem, "s2 in mem %u, want %u", s2->reg.nr_mem_id, amem);
	uint16_t rmem = r->reg.nr_mem_id;
	REQUIRE(unetmap_mem_stats(rmem, &r0) == 0, "receiver stats");
	REQUIRE(unetmap_mem_stats(amem, &as2) == 0, "anchor stats");
	announce(r, s2);

	fault_point(r, s2, "vale-after-reserve", VICTIM_ID);
	fault_point(r, s2, "vale-mid-copy", VICTIM_ID + 1);
	fault_point(r, s2, "vale-before-publish", VICTIM_ID + 2);
	unetmap_gc();
	REQUIRE(unetmap_mem_stats(amem, &a1) == 0, "anchor stats");
	/* no kill was inside the registry lock: everything is back */
	CHECK(a1.ring_free == as2.ring_free && a1.buf_free == as2.buf_free &&
	      a1.if_free == as2.if_free && a1.users == as2.users, "anchor region after the fault "
	      "points: rings %u->%u bufs %u->%u ifs %u->%u users %u->%u", as2.ring_free,
	      a1.ring_free, as2.buf_free, a1.buf_free, as2.if_free, a1.if_free, as2.users,
	      a1.users);
	REQUIRE(unetmap_mem_stats(rmem, &r1) == 0, "receiver stats");
	CHECK(r1.ring_free == r0.ring_free && r1.buf_free == r0.buf_free &&
	      r1.if_free == r0.if_free, "receiver region after the fault points: rings %u->%u "
	      "bufs %u->%u ifs %u->%u", r0.ring_free, r1.ring_free, r0.buf_free, r1.buf_free,
	      r0.if_free, r1.if_free);

	chaos(r, s2);
	CHECK(rx.corrupt == 0, "%llu corrupted frames", (unsigned long long)rx.corrupt);
	/* frames that a killed sender had forwarded but not yet accounted in
	 * its TX ring must not be sent again by the next user of its port */
	CHECK(rx.dup == 0, "%llu frames duplicated or reordered", (unsigned long long)rx.dup);

	/* every port closes and reopens; traffic flows */
	nmport_close(s2);
	nmport_close(r);
	unetmap_gc();
	struct unetmap_vale_port_stats all[16];
	int n = unetmap_vale_stats("vale0", all, 16);
	CHECK(n == -ENOENT || n == 0, "vale0 still has %d port(s) after closing everything "
	      "(first: %s)", n, n > 0 ? all[0].name : "");
	r = t_open("vale0:r");
	s2 = t_open(spec);
	rx_reset_last();
	s2_seq = 0;
	announce(r, s2);
	for (uint32_t k = 0; k < 5; k++) {
		char vs[64];
		snprintf(vs, sizeof(vs), "vale0:k%u%s", k % 4, mem_opt);
		struct nmport_d *k4 = nmport_open(vs);
		CHECK(k4 != NULL, "reopen %s: %s (%s)", vs, strerror(errno), unetmap_last_error());
		if (k4)
			nmport_close(k4);
	}
	rx.strict_s2 = true;
	uint32_t gaps0 = rx.s2_gaps;
	s2_until(s2, r, 100, "after reopening");
	CHECK(rx.s2_gaps == gaps0, "after reopening: %u frames lost", rx.s2_gaps - gaps0);
	n = unetmap_vale_stats("vale0", all, 16);
	CHECK(n == 2, "vale0 has %d ports, want 2 (r, s2)", n);
	nmport_close(s2);
	nmport_close(r);
	unetmap_gc();

	/* the anchor region is back to where it started */
	REQUIRE(unetmap_mem_stats(amem, &a1) == 0, "anchor stats");
	CHECK(a1.ring_free == a0.ring_free, "anchor rings %u -> %u", a0.ring_free, a1.ring_free);
	CHECK(a1.if_free == a0.if_free, "anchor netmap_ifs %u -> %u", a0.if_free, a1.if_free);
	fprintf(stderr, "anchor buffers %u -> %u\n", a0.buf_free, a1.buf_free);
	/* a kill inside the registry lock may strand a few buffers (README) */
	CHECK(a1.buf_free + 64 >= a0.buf_free && a1.buf_free <= a0.buf_free,
	      "anchor buffers %u -> %u", a0.buf_free, a1.buf_free);
	CHECK(a1.users == a0.users, "anchor users %u -> %u", a0.users, a1.users);
	char names[8][16];
	int ns = unetmap_vale_switches(names, 8);
	CHECK(ns == 1 && strcmp(names[0], "vale9") == 0, "%d switches left (want only vale9)", ns);
	nmport_close(anchor);
	return t_done();
}
