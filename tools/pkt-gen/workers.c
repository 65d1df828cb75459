/*
 * pkt-gen worker threads.  Each one owns a netmap descriptor (the main
 * one or a clone bound to a single ring) and loops "poll, then work on
 * every bound ring" like upstream: the poll() is the only system call
 * of the busy path.
 */
#include <errno.h>
#include <poll.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "pkt-gen.h"

#define TX_POLL_MS	2000
#define RX_POLL_MS	1000
#define PING_POLL_MS	3000
#define FLUSH_LIMIT_SEC	2	/* give up draining TX after that long */
#define SEQ_REORDER_WINDOW 65536u	/* further behind: sender restarted */

static int
set_affinity(struct targ *t)
{
	cpu_set_t set;
	int err;

	if (t->affinity < 0)
		return 0;
	CPU_ZERO(&set);
	CPU_SET(t->affinity, &set);
	err = pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
	if (err != 0) {
		PGLOG("Unable to set affinity: %s", strerror(err));
		return -1;
	}
	return 0;
}

/* Sleep until the absolute CLOCK_MONOTONIC time ts, spinning the end. */
static void
wait_until(struct timespec ts)
{
	for (;;) {
		int64_t left = ts_ns(ts_sub(ts, pg_now()));
		struct timespec nap;

		if (left <= 0)
			return;
		if (left > 1000000) {
			left -= 200000;
			nap.tv_sec = left / 1000000000;
			nap.tv_nsec = left % 1000000000;
			nanosleep(&nap, NULL);
		}
	}
}

static void
publish(struct targ *t, uint64_t pkts, uint64_t bytes, uint64_t events)
{
	PG_PUT(t->ctr.pkts, pkts);
	PG_PUT(t->ctr.bytes, bytes);
	PG_PUT(t->ctr.events, events);
}

static void
finish(struct targ *t, int completed)
{
	if (completed)
		PG_PUT(t->completed, 1);
	PG_PUT(t->used, 0);
}

/* ------------------------------------------------------------------ */
/* Transmit side                                                       */

/*
 * Store one packet in the single slot at head.  The frame is copied
 * only when asked to (-o 4/8, per-packet variations) or when the
 * buffer is new to us (NS_BUF_CHANGED); otherwise the buffer still
 * holds what was written into it the last time round.
 */
static void
put_one(struct targ *t, struct netmap_ring *ring, unsigned int head)
{
	struct netmap_slot *slot = &ring->slot[head];
	struct pg_frame *f = &t->frame;
	const int opts = t->g->options;
	char *p = PG_SLOT_BUF(ring, slot);
	int changed = slot->flags & NS_BUF_CHANGED;

	slot->flags = 0;
	if (opts & OPT_RUBBISH) {
		/* send whatever the buffer holds */
	} else if (opts & OPT_INDIRECT) {
		slot->flags = NS_INDIRECT;
		slot->ptr = (uint64_t)(uintptr_t)f->data;
	} else if (changed || t->copy_each) {
		if (opts & OPT_COPY)
			nm_pkt_copy(f->data, p, f->len);
		else
			memcpy(p, f->data, f->len);
	} else if (opts & OPT_PREFETCH) {
		__builtin_prefetch(p);
	}
	if (opts & OPT_ACCESS)
		*(volatile char *)p;
	slot->len = f->len;
	if (opts & OPT_DUMP)
		dump_payload(p, f->len, ring, head);
}

/* Store one packet as a chain of nf slots; returns the last slot. */
static unsigned int
put_chain(struct targ *t, struct netmap_ring *ring, unsigned int head,
    unsigned int nf)
{
	struct pg_frame *f = &t->frame;
	const int opts = t->g->options;
	const char *src = (const char *)f->data;
	unsigned int left = f->len, i, last = head;

	for (i = 0; i < nf; i++) {
		struct netmap_slot *slot = &ring->slot[head];
		char *p = PG_SLOT_BUF(ring, slot);
		unsigned int n = left < t->frag_size ? left : t->frag_size;

		slot->flags = i + 1 < nf ? NS_MOREFRAG : 0;
		if (!(opts & OPT_RUBBISH))
			memcpy(p, src, n);
		slot->len = n;
		if (opts & OPT_DUMP)
			dump_payload(p, n, ring, head);
		src += n;
		left -= n;
		last = head;
		head = nm_ring_next(ring, head);
	}
	return last;
}

/*
 * Queue up to count packets on ring starting at head.  The last slot
 * of the batch asks for a completion report; if the ring ran out of
 * room, cur is pushed to tail so that the next poll() waits for more.
 */
static unsigned int
send_packets(struct targ *t, struct netmap_ring *ring, unsigned int count,
    uint32_t *seq)
{
	struct pg_frame *f = &t->frame;
	unsigned int fs = t->frag_size;
	unsigned int nf = (unsigned int)f->len <= fs ? 1 :
	    ((unsigned int)f->len + fs - 1) / fs;
	unsigned int head = ring->head, space = nm_ring_space(ring);
	unsigned int sent = 0, last = head;
	const int slow_opts = OPT_RUBBISH | OPT_INDIRECT | OPT_ACCESS | OPT_DUMP |
	    OPT_PREFETCH | OPT_TS;

	/* common case: one slot per packet, the frame already in every
	 * buffer: only len and flags change (copy if a buffer was swapped) */
	if (nf == 1 && seq == NULL && !t->vary_addr && !t->copy_each &&
	    !(t->g->options & slow_opts)) {
		const uint16_t len = (uint16_t)f->len;
		const unsigned int n = ring->num_slots;
		for (; sent < count && space > 0; sent++, space--) {
			struct netmap_slot *slot = &ring->slot[head];
			if (slot->flags & NS_BUF_CHANGED)
				memcpy(PG_SLOT_BUF(ring, slot), f->data, f->len);
			slot->flags = 0;
			slot->len = len;
			last = head;
			head = head + 1 == n ? 0 : head + 1;
		}
	}
	for (; sent < count && space >= nf; sent++, space -= nf) {
		if (seq != NULL)
			frame_set_seq(f, (*seq)++);
		if (t->g->options & OPT_TS)
			frame_set_ts(f, t->batch_ts);
		if (nf == 1) {
			put_one(t, ring, head);
			last = head;
			head = nm_ring_next(ring, head);
		} else {
			last = put_chain(t, ring, head, nf);
			head = nm_ring_next(ring, last);
		}
		if (t->vary_addr)
			frame_next_addresses(t);
	}
	if (sent > 0) {
		ring->slot[last].flags |= NS_REPORT;
		ring->head = ring->cur = head;
	}
	if (sent < count)
		ring->cur = ring->tail;
	return sent;
}

/*
 * Decide how packets map onto slots: a packet longer than a buffer
 * (or than -M) is split, and -F asks for at least that many pieces.
 */
static int
tx_setup_frags(struct targ *t, struct netmap_ring *ring)
{
	struct glob_arg *g = t->g;
	unsigned int len = (unsigned int)(t->frame.vh_len + g->pkt_size);
	unsigned int maxfs = ring->nr_buf_size, fs, nf;

	if (g->frag_size > 0 && g->frag_size < maxfs)
		maxfs = g->frag_size;
	nf = g->frags;
	fs = (len + nf - 1) / nf;
	if (fs > maxfs)
		fs = maxfs;
	nf = (len + fs - 1) / fs;
	if (nf > PG_MAX_FRAGS) {
		PGLOG("%u bytes need %u fragments of %u, at most %d allowed",
		    len, nf, fs, PG_MAX_FRAGS);
		return -1;
	}
	t->frag_size = fs;
	PGLOG("frags %u frag_size %u", nf, fs);
	return 0;
}

static int
tx_prepare(struct targ *t)
{
	struct netmap_if *nifp = t->nmd->nifp;
	int first = t->nmd->first_tx_ring, last = t->nmd->last_tx_ring, i;

	if (first > last) {
		PGLOG("no TX ring bound on %s", t->g->ifname);
		return -1;
	}
	if (tx_setup_frags(t, NETMAP_TXRING(nifp, first)) < 0)
		return -1;
	/* every buffer gets the frame the first time it is used */
	for (i = first; i <= last; i++) {
		struct netmap_ring *ring = NETMAP_TXRING(nifp, i);
		unsigned int j;

		for (j = 0; j < ring->num_slots; j++)
			ring->slot[j].flags = NS_BUF_CHANGED;
	}
	if (t->seqmode) {
		t->nseq = last - first + 1;
		t->txseq = calloc((size_t)t->nseq, sizeof(*t->txseq));
		if (t->txseq == NULL) {
			PGLOG("failed to allocate seq array");
			return -1;
		}
	}
	return 0;
}

static int
any_tx_pending(struct targ *t)
{
	int i;

	for (i = t->nmd->first_tx_ring; i <= t->nmd->last_tx_ring; i++)
		if (nm_tx_pending(NETMAP_TXRING(t->nmd->nifp, i)))
			return i;
	return -1;
}

/*
 * Push out what is still queued and wait until the port has taken it,
 * but not forever: a peer that went away must not keep us here.
 * Returns the end time of the run: now, or when the wait began if it
 * was given up (time spent waiting for nothing is not sending time).
 */
static struct timespec
tx_flush(struct targ *t)
{
	struct netmap_ring *ring;
	struct timespec start, deadline;
	int i;

	ring = NETMAP_TXRING(t->nmd->nifp, t->nmd->first_tx_ring);
	PGLOG("flush tail %d head %d on thread %p", ring->tail, ring->head,
	    (void *)pthread_self());
	ioctl(t->fd, NIOCTXSYNC, NULL);
	deadline = start = pg_now();
	deadline.tv_sec += FLUSH_LIMIT_SEC;
	while (!pg_cancelled() && (i = any_tx_pending(t)) >= 0) {
		ring = NETMAP_TXRING(t->nmd->nifp, i);
		if (ts_ns(ts_sub(deadline, pg_now())) <= 0) {
			PGLOG("giving up: ring %d still has tail %d head %d",
			    i, ring->tail, ring->head);
			return start;
		}
		PGRLOG(5, "pending tx tail %d head %d on ring %d",
		    ring->tail, ring->head, i);
		ioctl(t->fd, NIOCTXSYNC, NULL);
		usleep(1);
	}
	return pg_now();
}

/*
 * Wait for room: 0 to go on filling (also after a timeout, the rings
 * are looked at anyway), 1 to stop because we were told to, -1 on a
 * port error.
 */
static int
tx_wait(struct targ *t, struct pollfd *pfd)
{
	int rv = poll(pfd, 1, TX_POLL_MS);

	if (rv <= 0) {
		if (pg_cancelled())
			return 1;
		PGLOG("poll error on queue %d: %s", t->me,
		    rv ? strerror(errno) : "timeout");
	}
	if (pfd->revents & POLLERR) {
		PGLOG("poll error on %d ring %d-%d", pfd->fd,
		    t->nmd->first_tx_ring, t->nmd->last_tx_ring);
		return -1;
	}
	return 0;
}

static void *
tx_run(struct targ *t)
{
	struct glob_arg *g = t->g;
	struct pollfd pfd = { .fd = t->fd, .events = POLLOUT };
	struct netmap_if *nifp = t->nmd->nifp;
	const int first = t->nmd->first_tx_ring, last = t->nmd->last_tx_ring;
	uint64_t sent = 0, bytes = 0, events = 0;
	struct timespec next;
	int64_t tosend = 0;
	int i, rv, ok = 0;

	PGLOG("start, fd %d main_fd %d", t->fd, g->main_fd);
	if (set_affinity(t) < 0 || tx_prepare(t) < 0)
		goto quit;
	t->tic = next = pg_now();
	while (!pg_cancelled() && sent < t->npackets) {
		if (g->tx_rate && tosend <= 0) {
			tosend = g->burst;
			next = ts_add(next, g->tx_period);
			wait_until(next);
		}
		if ((rv = tx_wait(t, &pfd)) < 0)
			goto quit;
		if (rv > 0)
			break;
		if (g->options & OPT_TS)
			t->batch_ts = pg_now();
		for (i = first; i <= last && sent < t->npackets; i++) {
			struct netmap_ring *ring = NETMAP_TXRING(nifp, i);
			uint64_t limit = g->tx_rate ? (uint64_t)tosend :
			    (uint64_t)g->burst;
			unsigned int m;

			if (nm_ring_empty(ring))
				continue;
			if (t->npackets - sent < limit)
				limit = t->npackets - sent;
			if (g->pkt_min_size > 0)
				frame_set_len(t, g->pkt_min_size + (int)
				    (nrand48(t->seed) %
				    (g->pkt_size - g->pkt_min_size)));
			m = send_packets(t, ring, (unsigned int)limit,
			    t->seqmode ? &t->txseq[i - first] : NULL);
			sent += m;
			bytes += (uint64_t)m * t->frame.len;
			if (m > 0)
				events++;
			publish(t, sent, bytes, events);
			if (g->tx_rate) {
				tosend -= m;
				if (tosend <= 0)
					break;
			}
		}
	}
	t->toc = tx_flush(t);
	ok = 1;
quit:
	publish(t, sent, bytes, events);
	finish(t, ok);
	return NULL;
}

/* tx and txseq (t->seqmode: a number per packet, per ring) */
void *
sender_body(void *data)
{
	return tx_run(data);
}

/* ------------------------------------------------------------------ */
/* Receive side                                                        */

/* A packet of ss->frags slots is complete: check its number. */
static void
seq_packet(struct seq_state *ss, unsigned int len)
{
	uint32_t delta;

	if (ss->pkts > 0 && ss->frags != ss->frags_exp)
		PGRLOG(1, "Received packets with %u frags, expected %u",
		    ss->frags, ss->frags_exp);
	ss->frags_exp = ss->frags;
	ss->frags = 0;
	ss->pkts++;
	if (!ss->has_seq) {
		PGRLOG(1, "packet too small (len=%u)", len);
		ss->short_pkts++;
		return;
	}
	if (!ss->started) {
		ss->started = 1;
		ss->expected = ss->cur + 1;
		return;
	}
	delta = ss->cur - ss->expected;
	if (delta == 0) {
		ss->expected++;
	} else if (delta < 0x80000000u) {
		PGRLOG(2, "Sequence GAP: exp %u found %u", ss->expected,
		    ss->cur);
		ss->gaps++;
		ss->lost += delta;
		ss->expected = ss->cur + 1;
	} else {
		/*
		 * Late or repeated: count it and keep waiting for the
		 * expected number, unless it is so far behind that the
		 * sender must have started over.
		 */
		PGRLOG(2, "Sequence OUT OF ORDER: exp %u found %u",
		    ss->expected, ss->cur);
		ss->ooo++;
		if (ss->expected - ss->cur > SEQ_REORDER_WINDOW)
			ss->expected = ss->cur + 1;
	}
}

/* Account one slot for the sequence checker of its ring. */
static void
seq_slot(struct targ *t, struct seq_state *ss, struct netmap_ring *ring,
    unsigned int head)
{
	struct netmap_slot *slot = &ring->slot[head];

	/* the number travels in the first slot of a packet */
	if (ss->frags++ == 0)
		ss->has_seq = frame_get_seq(PG_SLOT_BUF(ring, slot),
		    slot->len, t->g->virt_header, &ss->cur) == 0;
	if (!(slot->flags & NS_MOREFRAG))
		seq_packet(ss, slot->len);
}

/*
 * Consume up to limit slots of ring, stopping after want complete
 * packets (a NS_MOREFRAG chain counts once), and give them back.
 */
static uint64_t
receive_packets(struct targ *t, struct netmap_ring *ring, unsigned int limit,
    uint64_t want, uint64_t *bytes, struct seq_state *ss)
{
	const int dump = t->g->options & OPT_DUMP;
	unsigned int head = ring->head, n = nm_ring_space(ring), rx;
	uint64_t complete = 0, b = 0;

	if (n < limit)
		limit = n;
	for (rx = 0; rx < limit && complete < want; rx++) {
		struct netmap_slot *slot = &ring->slot[head];

		b += slot->len;
		if (dump)
			dump_payload(PG_SLOT_BUF(ring, slot), slot->len,
			    ring, head);
		if (ss != NULL)
			seq_slot(t, ss, ring, head);
		if (!(slot->flags & NS_MOREFRAG))
			complete++;
		head = nm_ring_next(ring, head);
	}
	ring->head = ring->cur = head;
	*bytes += b;
	return complete;
}

/* Block until the first packets show up; -1 on a port error. */
static int
rx_wait_first(struct pollfd *pfd)
{
	while (!pg_cancelled()) {
		int rv = poll(pfd, 1, RX_POLL_MS);

		if (rv > 0 && !(pfd->revents & POLLERR))
			return 0;
		if (rv < 0) {
			PGLOG("poll() error: %s", strerror(errno));
			return -1;
		}
		if (pfd->revents & POLLERR) {
			PGLOG("fd error");
			return -1;
		}
		PGRLOG(1, "waiting for initial packets, poll returns %d %d",
		    rv, pfd->revents);
	}
	return 0;
}

static void
note_min_space(struct targ *t, uint64_t space)
{
	if (space < PG_GET(t->ctr.min_space))
		PG_PUT(t->ctr.min_space, space);
}

static void *
rx_run(struct targ *t)
{
	struct glob_arg *g = t->g;
	struct pollfd pfd = { .fd = t->fd, .events = POLLIN };
	struct netmap_if *nifp = t->nmd->nifp;
	const int first = t->nmd->first_rx_ring, last = t->nmd->last_rx_ring;
	uint64_t pkts = 0, bytes = 0, events = 0;
	int i, ok = 0;

	PG_PUT(t->ctr.min_space, 99999);
	if (set_affinity(t) < 0)
		goto quit;
	if (t->seqmode) {
		t->nseq = last - first + 1;
		t->seq = calloc((size_t)t->nseq, sizeof(*t->seq));
		if (t->seq == NULL) {
			PGLOG("failed to allocate seq array");
			goto quit;
		}
	}
	PGLOG("reading from %s fd %d main_fd %d", g->ifname, t->fd,
	    g->main_fd);
	if (rx_wait_first(&pfd) < 0)
		goto quit;
	t->tic = pg_now();
	while (!pg_cancelled() && pkts < t->npackets) {
		uint64_t space = 0;

		if (poll(&pfd, 1, RX_POLL_MS) <= 0 && !g->forever) {
			/* 1 s of silence: stop, not counting the wait */
			t->toc = ts_sub(pg_now(), (struct timespec){ 1, 0 });
			ok = 1;
			goto quit;
		}
		if (pfd.revents & POLLERR) {
			PGLOG("poll err");
			goto quit;
		}
		for (i = first; i <= last; i++) {
			struct netmap_ring *ring = NETMAP_RXRING(nifp, i);
			uint64_t m;

			space += ring->num_slots - 1 - nm_ring_space(ring);
			if (nm_ring_empty(ring))
				continue;
			m = receive_packets(t, ring, (unsigned int)g->burst,
			    t->npackets - pkts, &bytes,
			    t->seqmode ? &t->seq[i - first] : NULL);
			pkts += m;
			if (m > 0)
				events++;
		}
		note_min_space(t, space);
		publish(t, pkts, bytes, events);
	}
	t->toc = pg_now();
	ok = 1;
quit:
	/* hand the consumed slots back, so that the sender sees them go */
	ioctl(t->fd, NIOCRXSYNC, NULL);
	publish(t, pkts, bytes, events);
	finish(t, ok);
	return NULL;
}

/* rx and rxseq (t->seqmode: check the numbers) */
void *
receiver_body(void *data)
{
	return rx_run(data);
}

/* ------------------------------------------------------------------ */
/* ping / pong                                                         */

struct rtt_stats {
	uint64_t count, sum, min;
	uint64_t buckets[64];	/* by highest bit of the RTT in ns */
};

static void
rtt_reset(struct rtt_stats *s)
{
	memset(s, 0, sizeof(*s));
	s->min = UINT64_MAX;
}

static void
rtt_add(struct rtt_stats *s, uint64_t ns)
{
	s->count++;
	s->sum += ns;
	if (ns < s->min)
		s->min = ns;
	s->buckets[ns ? 63 - __builtin_clzll(ns) : 0]++;
}

static void
rtt_print(const struct rtt_stats *s)
{
	char buf[64 * 6 + 1];
	int lo, hi, k, off = 0;

	if (s->count == 0)
		return;
	PGLOG("count %d RTT: min %d av %d ns", (int)s->count, (int)s->min,
	    (int)(s->sum / s->count));
	for (lo = 0; lo < 63 && s->buckets[lo] == 0; lo++)
		;
	for (hi = 63; hi > lo && s->buckets[hi] == 0; hi--)
		;
	buf[0] = '\0';
	for (k = lo; k <= hi; k++)
		off += snprintf(buf + off, sizeof(buf) - (size_t)off, " %5d",
		    (int)s->buckets[k]);
	PGLOG("k: %llu .. %llu\n\t%s", 1ULL << lo, 1ULL << hi, buf);
}

/* Put up to limit timestamped requests on the TX ring. */
static unsigned int
ping_send(struct targ *t, struct netmap_ring *ring, uint64_t limit,
    uint64_t *sent)
{
	struct pg_frame *f = &t->frame;
	unsigned int m;

	for (m = 0; m < limit; m++) {
		struct netmap_slot *slot = &ring->slot[ring->head];

		if (nm_ring_empty(ring)) {
			PGLOG("-- ouch, cannot send");
			break;
		}
		frame_set_seq(f, (uint32_t)*sent);
		frame_set_ts(f, pg_now());
		nm_pkt_copy(f->data, PG_SLOT_BUF(ring, slot), f->len);
		slot->len = f->len;
		slot->flags = 0;
		(*sent)++;
		ring->head = ring->cur = nm_ring_next(ring, ring->head);
	}
	return m;
}

/* Collect the replies sitting in the RX rings. */
static void
ping_collect(struct targ *t, struct rtt_stats *iv, struct rtt_stats *all)
{
	int i;

	for (i = t->nmd->first_rx_ring; i <= t->nmd->last_rx_ring; i++) {
		struct netmap_ring *ring = NETMAP_RXRING(t->nmd->nifp, i);

		while (!nm_ring_empty(ring)) {
			struct netmap_slot *slot = &ring->slot[ring->head];
			struct timespec ts, now = pg_now();
			uint64_t ns;

			if (frame_get_ts(PG_SLOT_BUF(ring, slot), slot->len,
			    t->g->virt_header, &ts) == 0) {
				/* 32-bit seconds on the wire */
				now.tv_sec &= 0xffffffff;
				ns = (uint64_t)ts_ns(ts_sub(now, ts));
				rtt_add(iv, ns);
				rtt_add(all, ns);
			}
			ring->head = ring->cur = nm_ring_next(ring, ring->head);
		}
	}
}

void *
ping_body(void *data)
{
	struct targ *t = data;
	struct glob_arg *g = t->g;
	struct pollfd pfd = { .fd = t->fd, .events = POLLIN };
	struct netmap_ring *txring;
	struct rtt_stats iv, all;
	struct timespec next, last_print;
	uint64_t sent = 0, events = 0;
	int64_t tosend = 0;

	if (g->nthreads > 1) {
		PGLOG("can only ping with 1 thread");
		goto quit;
	}
	if (t->nmd->first_tx_ring > t->nmd->last_tx_ring) {
		PGLOG("no TX ring bound on %s", g->ifname);
		goto quit;
	}
	if (set_affinity(t) < 0)
		goto quit;
	rtt_reset(&iv);
	rtt_reset(&all);
	txring = NETMAP_TXRING(t->nmd->nifp, t->nmd->first_tx_ring);
	t->tic = next = last_print = pg_now();
	while (!pg_cancelled() && sent < t->npackets) {
		uint64_t limit;
		unsigned int m;
		int rv;

		if (g->tx_rate && tosend <= 0) {
			tosend = g->burst;
			next = ts_add(next, g->tx_period);
			wait_until(next);
		}
		limit = g->tx_rate ? (uint64_t)tosend : (uint64_t)g->burst;
		if (t->npackets - sent < limit)
			limit = t->npackets - sent;
		m = ping_send(t, txring, limit, &sent);
		if (m > 0)
			events++;
		tosend -= m;
		publish(t, sent, sent * (uint64_t)t->frame.len, events);
		/* the requests leave with the implicit txsync of poll() */
		rv = poll(&pfd, 1, PING_POLL_MS);
		if (rv <= 0) {
			PGLOG("poll error on queue %d: %s", t->me,
			    rv ? strerror(errno) : "timeout");
			continue;
		}
		ping_collect(t, &iv, &all);
		if (ts_ns(ts_sub(pg_now(), last_print)) >= 1000000000LL) {
			rtt_print(&iv);
			rtt_reset(&iv);
			last_print = pg_now();
		}
	}
	if (all.count > 0)
		PGLOG("RTT over %llu packets: min %d av %d ns",
		    (unsigned long long)all.count, (int)all.min,
		    (int)(all.sum / all.count));
	t->toc = pg_now();
	finish(t, 1);
	return NULL;
quit:
	finish(t, 0);
	return NULL;
}

/* Swap Ethernet addresses, and IPv4 addresses if it is IPv4. */
static void
pong_swap(char *p, int len)
{
	unsigned char *e = (unsigned char *)p, tmp[6];

	if (len < PG_ETH_LEN)
		return;
	memcpy(tmp, e, 6);
	memcpy(e, e + 6, 6);
	memcpy(e + 6, tmp, 6);
	if (len >= PG_IP_OFF + PG_IP_LEN && e[12] == 0x08 && e[13] == 0x00) {
		unsigned char *ip = e + PG_IP_OFF;

		memcpy(tmp, ip + 12, 4);
		memcpy(ip + 12, ip + 16, 4);
		memcpy(ip + 16, tmp, 4);
	}
}

/*
 * Echo everything received on the bound RX rings through the first TX
 * ring.  What does not fit is dropped; a chain that runs out of room
 * is cut short so that the TX ring never ends inside a packet.
 * Returns the packets echoed.
 */
static uint64_t
pong_echo(struct targ *t, uint64_t want)
{
	struct netmap_if *nifp = t->nmd->nifp;
	struct netmap_ring *tx = NETMAP_TXRING(nifp, t->nmd->first_tx_ring);
	unsigned int txhead = tx->head, avail = nm_ring_space(tx);
	const int vh = t->g->virt_header;
	uint64_t done = 0;
	int i, in_chain = 0, cut = 0;

	for (i = t->nmd->first_rx_ring; i <= t->nmd->last_rx_ring; i++) {
		struct netmap_ring *rx = NETMAP_RXRING(nifp, i);

		while (!nm_ring_empty(rx) && (done < want || in_chain)) {
			struct netmap_slot *rs = &rx->slot[rx->head];
			int more = (rs->flags & NS_MOREFRAG) != 0;

			if (avail > 0 && !cut) {
				struct netmap_slot *ts = &tx->slot[txhead];
				char *dst = PG_SLOT_BUF(tx, ts);

				nm_pkt_copy(PG_SLOT_BUF(rx, rs), dst, rs->len);
				if (!in_chain && rs->len > (unsigned int)vh)
					pong_swap(dst + vh, rs->len - vh);
				ts->len = rs->len;
				ts->flags = more && avail > 1 ? NS_MOREFRAG : 0;
				cut = more && avail == 1;
				if (!(ts->flags & NS_MOREFRAG))
					done++;
				txhead = nm_ring_next(tx, txhead);
				avail--;
			}
			in_chain = more;
			if (!more)
				cut = 0;
			rx->head = rx->cur = nm_ring_next(rx, rx->head);
		}
	}
	tx->head = tx->cur = txhead;
	return done;
}

void *
pong_body(void *data)
{
	struct targ *t = data;
	uint64_t sent = 0, events = 0;
	struct pollfd pfd = { .fd = t->fd, .events = POLLIN };

	if (t->g->nthreads > 1) {
		PGLOG("can only reply ping with 1 thread");
		finish(t, 0);
		return NULL;
	}
	if (t->nmd->first_tx_ring > t->nmd->last_tx_ring) {
		PGLOG("no TX ring bound on %s", t->g->ifname);
		finish(t, 0);
		return NULL;
	}
	if (set_affinity(t) < 0) {
		finish(t, 0);
		return NULL;
	}
	t->tic = pg_now();
	while (!pg_cancelled() && sent < t->npackets) {
		uint64_t m;
		int rv = poll(&pfd, 1, RX_POLL_MS);

		if (rv <= 0) {
			PGLOG("poll error on queue %d: %s", t->me,
			    rv ? strerror(errno) : "timeout");
			continue;
		}
		m = pong_echo(t, t->npackets - sent);
		sent += m;
		if (m > 0)
			events++;
		publish(t, sent, sent * (uint64_t)t->frame.len, events);
	}
	/* the replies of the last round still sit in the TX ring */
	ioctl(t->fd, NIOCTXSYNC, NULL);
	t->toc = pg_now();
	finish(t, 1);
	return NULL;
}
