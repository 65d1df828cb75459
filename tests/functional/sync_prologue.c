/* Description: txsync/rxsync prologue on a pipe: invalid head/cur/buf_idx/len reset the ring (ioctl returns 0, poll reports POLLERR), an overwritten tail is restored, the pipe works afterwards, rxsync timestamps the ring. */
#include <fcntl.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/time.h>
#include <libnetmap.h>
#include "testlib.h"

#define SLOTS 64

static unsigned seq_tx, seq_rx;
static struct timeval last_ts;

static void put(struct netmap_ring *r, int k)
{
	for (int i = 0; i < k; i++) {
		struct netmap_slot *s = &r->slot[r->head];
		char *buf = NETMAP_BUF(r, s->buf_idx);
		memset(buf, 0, 60);
		memcpy(buf + 14, &seq_tx, sizeof(seq_tx));
		s->len = 60;
		r->head = r->cur = nm_ring_next(r, r->head);
		seq_tx++;
	}
}

/* read everything in [head, tail), checking order; returns the count */
static int consume(struct netmap_ring *r)
{
	int n = 0;
	for (int guard = 0; guard < SLOTS && r->head != r->tail; guard++) {
		struct netmap_slot *s = &r->slot[r->head];
		unsigned v;
		memcpy(&v, NETMAP_BUF(r, s->buf_idx) + 14, sizeof(v));
		CHECK(v == seq_rx, "received %u, want %u", v, seq_rx);
		CHECK(s->len == 60, "received len %u", s->len);
		seq_rx = v + 1;
		r->head = r->cur = nm_ring_next(r, r->head);
		n++;
	}
	return n;
}

static void txsync(struct nmport_d *d)
{
	CHECK(ioctl(d->fd, NIOCTXSYNC, NULL) == 0, "txsync: %s", strerror(errno));
}

static void check_ts(struct netmap_ring *r, const char *when)
{
	CHECK(r->ts.tv_sec != 0 || r->ts.tv_usec != 0, "%s: ts is zero", when);
	CHECK(timercmp(&r->ts, &last_ts, >=), "%s: ts went back %ld.%06ld -> %ld.%06ld", when,
	      (long)last_ts.tv_sec, (long)last_ts.tv_usec, (long)r->ts.tv_sec,
	      (long)r->ts.tv_usec);
	last_ts = r->ts;
}

static void rxsync(struct nmport_d *d, struct netmap_ring *r)
{
	CHECK(ioctl(d->fd, NIOCRXSYNC, NULL) == 0, "rxsync: %s", strerror(errno));
	check_ts(r, "rxsync");
}

static void expect_ring(struct netmap_ring *r, uint32_t hw, uint32_t tail, const char *what)
{
	CHECK(r->head == hw && r->cur == hw && r->tail == tail,
	      "%s: head/cur/tail %u/%u/%u, want %u/%u/%u", what, r->head, r->cur, r->tail, hw, hw,
	      tail);
}

/* set head/cur, then sync by ioctl (returns 0) or poll (POLLERR) */
static void bad_sync(struct nmport_d *d, struct netmap_ring *r, int tx, uint32_t head,
		     uint32_t cur, int use_poll, const char *what)
{
	r->head = head;
	r->cur = cur;
	if (!use_poll) {
		errno = 0;
		int ret = ioctl(d->fd, tx ? NIOCTXSYNC : NIOCRXSYNC, NULL);
		CHECK(ret == 0, "%s: ioctl returned %d (%s)", what, ret, strerror(errno));
	} else {
		struct pollfd p = { .fd = d->fd, .events = tx ? POLLOUT : POLLIN };
		int ret = poll(&p, 1, 0);
		CHECK(ret == 1 && (p.revents & POLLERR), "%s: poll %d revents %#x, want POLLERR",
		      what, ret, p.revents);
	}
}

int main(void)
{
	t_setup(60);
	struct nmport_d *a = nmport_open("netmap:sp{1@conf:slots=64");
	REQUIRE(a != NULL, "open sp{1: %s", strerror(errno));
	struct nmport_d *b = nmport_open("netmap:sp}1");
	REQUIRE(b != NULL, "open sp}1: %s", strerror(errno));
	struct netmap_ring *ta = NETMAP_TXRING(a->nifp, 0);
	struct netmap_ring *rb = NETMAP_RXRING(b->nifp, 0);
	REQUIRE(ta->num_slots == SLOTS && rb->num_slots == SLOTS, "slots %u/%u", ta->num_slots,
		rb->num_slots);
	const uint32_t bufsz = ta->nr_buf_size;

	/* 5 frames through and back, then 10 in flight:
	 * TX: hwcur 15, tail 4; RX: hwcur 5, nothing synced yet */
	put(ta, 5);
	txsync(a);
	rxsync(b, rb);
	CHECK(rb->tail == 5, "rx tail %u", rb->tail);
	CHECK(consume(rb) == 5, "first batch");
	rxsync(b, rb);
	txsync(a);
	CHECK(ta->tail == 4, "tx tail after release %u", ta->tail);
	put(ta, 10);
	txsync(a);
	uint32_t hw = 15, tl = 4;
	expect_ring(ta, hw, tl, "baseline");

	/* legal: cur ahead of head, up to tail, is a wake-up point and no error */
	ta->head = hw;
	ta->cur = hw + 5;
	txsync(a);
	CHECK(ta->head == hw && ta->cur == hw + 5 && ta->tail == tl,
	      "tx cur ahead of head was changed: %u/%u/%u", ta->head, ta->cur, ta->tail);
	struct pollfd p0 = { .fd = a->fd, .events = POLLOUT };
	int r0 = poll(&p0, 1, 0);
	CHECK(r0 == 1 && p0.revents == POLLOUT, "tx cur ahead: poll %d revents %#x", r0,
	      p0.revents);
	ta->cur = hw;

	uint32_t snap[SLOTS];
	for (unsigned j = 0; j < SLOTS; j++)
		snap[j] = ta->slot[j].buf_idx;

	for (int use_poll = 0; use_poll < 2; use_poll++) {
		const char *how = use_poll ? "poll" : "ioctl";
		char what[96];

		/* head beyond tail */
		snprintf(what, sizeof(what), "%s: tx head = tail+1", how);
		bad_sync(a, ta, 1, tl + 1, tl + 1, use_poll, what);
		expect_ring(ta, hw, tl, what);
		snprintf(what, sizeof(what), "%s: tx head = tail+3", how);
		bad_sync(a, ta, 1, tl + 3, tl + 3, use_poll, what);
		expect_ring(ta, hw, tl, what);
		/* cur before head */
		snprintf(what, sizeof(what), "%s: tx cur = head-1", how);
		bad_sync(a, ta, 1, hw, hw - 1, use_poll, what);
		expect_ring(ta, hw, tl, what);
		/* head (and cur) outside the ring */
		snprintf(what, sizeof(what), "%s: tx head = num_slots", how);
		bad_sync(a, ta, 1, SLOTS, SLOTS, use_poll, what);
		expect_ring(ta, hw, tl, what);
		snprintf(what, sizeof(what), "%s: tx head = 0xffffffff", how);
		bad_sync(a, ta, 1, 0xffffffffU, 0xffffffffU, use_poll, what);
		expect_ring(ta, hw, tl, what);
		snprintf(what, sizeof(what), "%s: tx cur = num_slots", how);
		bad_sync(a, ta, 1, hw, SLOTS, use_poll, what);
		expect_ring(ta, hw, tl, what);

		/* bad buffer indices in slots being sent */
		const uint32_t badidx[] = { 1, 0xffffffffU };
		for (int k = 0; k < 2; k++) {
			struct netmap_slot *s0 = &ta->slot[hw], *s1 = &ta->slot[hw + 1];
			/* slot hw is fine, slot hw+1 is bad */
			memset(NETMAP_BUF(ta, s0->buf_idx), 0, 60);
			s0->len = 60;
			s1->buf_idx = badidx[k];
			s1->len = 60;
			snprintf(what, sizeof(what), "%s: tx buf_idx %#x", how, badidx[k]);
			bad_sync(a, ta, 1, hw + 2, hw + 2, use_poll, what);
			expect_ring(ta, hw, tl, what);
			CHECK(s1->buf_idx == 0 && s1->len == 0, "%s: bad slot now idx %u len %u", what,
			      s1->buf_idx, s1->len);
			CHECK(s0->buf_idx == snap[hw] && s0->len == 60,
			      "%s: good slot changed: idx %u len %u", what, s0->buf_idx, s0->len);
			for (unsigned j = 0; j < SLOTS; j++)
				if (j != hw + 1 && ta->slot[j].buf_idx != snap[j])
					CHECK(0, "%s: slot %u idx %u, was %u", what, j,
					      ta->slot[j].buf_idx, snap[j]);
			s1->buf_idx = snap[hw + 1];	/* fix it */
		}
		/* oversize length */
		const uint32_t badlen[] = { bufsz + 1, 65535 };
		for (int k = 0; k < 2; k++) {
			struct netmap_slot *s0 = &ta->slot[hw];
			s0->len = (uint16_t)badlen[k];
			snprintf(what, sizeof(what), "%s: tx len %u", how, badlen[k]);
			bad_sync(a, ta, 1, hw + 1, hw + 1, use_poll, what);
			expect_ring(ta, hw, tl, what);
			CHECK(s0->len == 0 && s0->buf_idx == snap[hw], "%s: slot now idx %u len %u",
			      what, s0->buf_idx, s0->len);
		}
	}
	/* nothing of the above reached the receiver */
	rxsync(b, rb);
	CHECK(rb->tail == 15, "receiver tail %u after bad syncs, want 15", rb->tail);

	/* the user overwriting tail: silently restored, no error */
	ta->tail = 30;
	txsync(a);
	expect_ring(ta, hw, tl, "tx tail overwritten (ioctl)");
	ta->tail = 30;
	struct pollfd p = { .fd = a->fd, .events = POLLOUT };
	int ret = poll(&p, 1, 0);
	CHECK(ret == 1 && p.revents == POLLOUT, "tail overwritten: poll %d revents %#x", ret,
	      p.revents);
	expect_ring(ta, hw, tl, "tx tail overwritten (poll)");
	put(ta, 1);
	ta->tail = 0;
	txsync(a);
	hw++;
	expect_ring(ta, hw, tl, "tx tail overwritten with a frame");

	/* fixed: the pipe works again and the order is intact */
	put(ta, 3);
	txsync(a);
	hw += 3;
	expect_ring(ta, hw, tl, "after fix");
	rxsync(b, rb);
	CHECK(rb->tail == hw, "receiver tail %u, want %u", rb->tail, hw);
	CHECK(consume(rb) == (int)(hw - 5), "frames after fix");
	rxsync(b, rb);
	txsync(a);
	tl = hw - 1;
	CHECK(ta->tail == tl, "tx tail %u after release, want %u", ta->tail, tl);
	CHECK(ta->ts.tv_sec == 0 && ta->ts.tv_usec == 0, "txsync set the TX timestamp");

	/* ---- RX side ---- */
	put(ta, 6);
	txsync(a);
	rxsync(b, rb);
	uint32_t rh = hw, rt = hw + 6;	/* RX hwcur / tail */
	hw += 6;
	expect_ring(rb, rh, rt, "rx baseline");
	/* legal: cur == tail; poll readiness is cur != tail, not head != tail */
	rb->cur = rt;
	rxsync(b, rb);
	CHECK(rb->head == rh && rb->cur == rt && rb->tail == rt, "rx cur = tail changed: %u/%u/%u",
	      rb->head, rb->cur, rb->tail);
	p0 = (struct pollfd){ .fd = b->fd, .events = POLLIN };
	r0 = poll(&p0, 1, 0);
	CHECK(r0 == 0 && p0.revents == 0, "rx cur == tail: poll %d revents %#x, want not ready",
	      r0, p0.revents);
	rb->cur = rh;
	r0 = poll(&p0, 1, 0);
	CHECK(r0 == 1 && p0.revents == POLLIN, "rx cur == head: poll %d revents %#x", r0,
	      p0.revents);
	for (int use_poll = 0; use_poll < 2; use_poll++) {
		const char *how = use_poll ? "poll" : "ioctl";
		char what[96];
		snprintf(what, sizeof(what), "%s: rx head = tail+1", how);
		bad_sync(b, rb, 0, rt + 1, rt + 1, use_poll, what);
		expect_ring(rb, rh, rt, what);
		check_ts(rb, what);
		snprintf(what, sizeof(what), "%s: rx cur = head-1", how);
		bad_sync(b, rb, 0, rh + 1, rh, use_poll, what);
		expect_ring(rb, rh, rt, what);
		snprintf(what, sizeof(what), "%s: rx head = num_slots", how);
		bad_sync(b, rb, 0, SLOTS, SLOTS, use_poll, what);
		expect_ring(rb, rh, rt, what);
		snprintf(what, sizeof(what), "%s: rx head = 0xffffffff", how);
		bad_sync(b, rb, 0, 0xffffffffU, 0xffffffffU, use_poll, what);
		expect_ring(rb, rh, rt, what);
	}
	/* the ioctl path still runs the rxsync after a reset (reference 1.6):
	 * frames published before the call become visible */
	put(ta, 2);
	txsync(a);
	hw += 2;
	bad_sync(b, rb, 0, hw + 1, hw + 1, 0, "rx reset with frames pending");
	expect_ring(rb, rh, hw, "rx reset with frames pending");
	rt = hw;
	rxsync(b, rb);
	expect_ring(rb, rh, rt, "rx after reset");

	/* RX tail overwritten: restored, no error */
	rb->tail = 3;
	rxsync(b, rb);
	expect_ring(rb, rh, rt, "rx tail overwritten (ioctl)");
	rb->tail = 3;
	p = (struct pollfd){ .fd = b->fd, .events = POLLIN };
	ret = poll(&p, 1, 0);
	CHECK(ret == 1 && p.revents == POLLIN, "rx tail overwritten: poll %d revents %#x", ret,
	      p.revents);
	expect_ring(rb, rh, rt, "rx tail overwritten (poll)");
	check_ts(rb, "poll");

	/* and everything still arrives in order */
	CHECK(consume(rb) == (int)(rt - rh), "rx frames after resets");
	rxsync(b, rb);
	txsync(a);
	CHECK(ta->tail == hw - 1, "tx tail %u at the end, want %u", ta->tail, hw - 1);
	CHECK(seq_rx == seq_tx, "received %u of %u", seq_rx, seq_tx);

	/* ts: refreshed at every rxsync */
	for (int i = 0; i < 5; i++) {
		struct timeval before = rb->ts;
		usleep(3000);
		rxsync(b, rb);
		CHECK(timercmp(&rb->ts, &before, >), "rxsync %d did not refresh ts", i);
	}
	CHECK(ta->ts.tv_sec == 0 && ta->ts.tv_usec == 0, "txsync set the TX timestamp");

	nmport_close(b);
	nmport_close(a);
	return t_done();
}
