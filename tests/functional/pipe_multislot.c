/* Description: frames of 60..10000 bytes cross a pipe as NS_MOREFRAG chains of nr_buf_size buffers, intact and in order; an incomplete chain is not published until completed. */
/*
 * Reference §1.7 (NS_MOREFRAG on all but the last slot, len per fragment),
 * §1.9 and §4.4 (pipe txsync copies slot descriptors verbatim into the peer
 * RX ring at the same indices, zero copy, and publishes complete packets
 * only).
 */
#include <poll.h>
#include <sys/ioctl.h>
#include <libnetmap.h>
#include "testlib.h"

static const unsigned sizes[] = { 60, 1000, 2048, 2049, 4000, 9000, 10000 };
#define NSIZES (sizeof(sizes) / sizeof(sizes[0]))

static unsigned bufsize;

static unsigned nfrags(unsigned len)
{
	return (len + bufsize - 1) / bufsize;
}

/* byte k of frame `id` */
static uint8_t pat(unsigned id, unsigned k)
{
	return (uint8_t)(k * 31u + id * 7u + (k >> 8) + 1u);
}

static struct netmap_ring *txr(struct nmport_d *d)
{
	return NETMAP_TXRING(d->nifp, d->first_tx_ring);
}

static struct netmap_ring *rxr(struct nmport_d *d)
{
	return NETMAP_RXRING(d->nifp, d->first_rx_ring);
}

/* Write fragments [from, to) of frame `id` (length len) starting at
 * r->head and advance head/cur past them.  Returns 0 if there is no room. */
static int put_frags(struct netmap_ring *r, unsigned id, unsigned len, unsigned from,
		     unsigned to)
{
	unsigned nf = nfrags(len);
	if (nm_ring_space(r) < to - from)
		return 0;
	uint32_t i = r->head;
	for (unsigned f = from; f < to; f++) {
		struct netmap_slot *s = &r->slot[i];
		unsigned off = f * bufsize;
		unsigned fl = len - off < bufsize ? len - off : bufsize;
		uint8_t *b = (uint8_t *)NETMAP_BUF(r, s->buf_idx);
		for (unsigned k = 0; k < fl; k++)
			b[k] = pat(id, off + k);
		s->len = (uint16_t)fl;
		s->flags = f + 1 < nf ? NS_MOREFRAG : 0;
		i = nm_ring_next(r, i);
	}
	r->head = r->cur = i;
	return 1;
}

static int put_frame(struct netmap_ring *r, unsigned id, unsigned len)
{
	return put_frags(r, id, len, 0, nfrags(len));
}

/* Check that the receiver ring holds frame `id` of length `len` at head,
 * as a chain of exactly nfrags(len) slots, and consume it.  `peer` is the
 * sender's TX ring, to check zero copy (same buf_idx at the same index). */
static void get_frame(struct netmap_ring *r, struct netmap_ring *peer, unsigned id,
		      unsigned len)
{
	unsigned nf = nfrags(len), off = 0, f = 0;
	uint32_t i = r->head;
	unsigned bad = 0;
	for (;;) {
		if (i == r->tail) {
			CHECK(0, "frame %u (len %u): ring ended after %u of %u fragments",
			      id, len, f, nf);
			break;
		}
		struct netmap_slot *s = &r->slot[i];
		unsigned want = len - off < bufsize ? len - off : bufsize;
		int last = (f + 1 == nf);
		CHECK(s->len == want, "frame %u (len %u) frag %u: slot len %u want %u",
		      id, len, f, s->len, want);
		CHECK((s->flags & NS_MOREFRAG) == (last ? 0 : NS_MOREFRAG),
		      "frame %u (len %u) frag %u of %u: flags 0x%x", id, len, f, nf, s->flags);
		CHECK(s->buf_idx == peer->slot[i].buf_idx,
		      "frame %u frag %u: rx buf_idx %u != tx buf_idx %u at slot %u (zero copy)",
		      id, f, s->buf_idx, peer->slot[i].buf_idx, i);
		const uint8_t *b = (const uint8_t *)NETMAP_BUF(r, s->buf_idx);
		unsigned n = s->len < want ? s->len : want;
		for (unsigned k = 0; k < n; k++)
			if (b[k] != pat(id, off + k) && bad++ < 5)
				CHECK(0, "frame %u (len %u) byte %u: 0x%02x want 0x%02x",
				      id, len, off + k, b[k], pat(id, off + k));
		off += n;
		f++;
		i = nm_ring_next(r, i);
		if (!(s->flags & NS_MOREFRAG) || f >= nf)
			break;
	}
	CHECK(f == nf, "frame %u (len %u): %u fragments, want %u", id, len, f, nf);
	CHECK(off == len, "frame %u: reassembled %u bytes, want %u", id, off, len);
	r->head = r->cur = i;
}

static void txsync(struct nmport_d *d)
{
	CHECK(ioctl(d->fd, NIOCTXSYNC, NULL) == 0, "txsync: %s", strerror(errno));
}

static void rxsync(struct nmport_d *d)
{
	CHECK(ioctl(d->fd, NIOCRXSYNC, NULL) == 0, "rxsync: %s", strerror(errno));
}

/* Run the whole test over pipe `name` (both directions). */
static void run_pipe(const char *base, int wrap_rounds)
{
	char mname[128], sname[128];
	snprintf(mname, sizeof(mname), "netmap:%s", base);
	snprintf(sname, sizeof(sname), "netmap:%s", base);
	char *c = strchr(sname, '{');
	REQUIRE(c != NULL, "bad base %s", base);
	*c = '}';
	struct nmport_d *a = nmport_open(mname);
	REQUIRE(a != NULL, "open %s: %s", mname, strerror(errno));
	struct nmport_d *b = nmport_open(sname);
	REQUIRE(b != NULL, "open %s: %s", sname, strerror(errno));

	struct nmport_d *ends[2][2] = { { a, b }, { b, a } };
	for (int dir = 0; dir < 2; dir++) {
		struct nmport_d *snd = ends[dir][0], *rcv = ends[dir][1];
		struct netmap_ring *t = txr(snd), *r = rxr(rcv);
		const uint32_t n = t->num_slots;
		bufsize = t->nr_buf_size;
		REQUIRE(bufsize == 2048, "nr_buf_size %u, the test expects 2048", bufsize);
		REQUIRE(r->nr_buf_size == bufsize, "rx nr_buf_size %u", r->nr_buf_size);
		unsigned id = dir * 100000;

		/* 1. one frame per sync, each size */
		for (unsigned z = 0; z < NSIZES; z++) {
			unsigned len = sizes[z];
			REQUIRE(put_frame(t, id, len), "no room for frame of %u", len);
			txsync(snd);
			rxsync(rcv);
			CHECK(nm_ring_space(r) == nfrags(len),
			      "%s len %u: receiver sees %u slots, want %u", base, len,
			      nm_ring_space(r), nfrags(len));
			get_frame(r, t, id, len);
			CHECK(nm_ring_empty(r), "extra slots after frame of %u", len);
			rxsync(rcv);
			txsync(snd);
			CHECK(!nm_tx_pending(t) && nm_ring_space(t) == n - 1,
			      "sender not drained after len %u: head %u tail %u", len, t->head,
			      t->tail);
			id++;
		}

		/* 2. all sizes in one batch (in as few batches as the ring allows) */
		for (unsigned z = 0; z < NSIZES; ) {
			unsigned first = id, z0 = z, total = 0;
			while (z < NSIZES && put_frame(t, id, sizes[z])) {
				total += nfrags(sizes[z++]);
				id++;
			}
			REQUIRE(z > z0, "no room (batch)");
			txsync(snd);
			rxsync(rcv);
			CHECK(nm_ring_space(r) == total, "batch: receiver sees %u slots, want %u",
			      nm_ring_space(r), total);
			for (unsigned q = z0; q < z; q++)
				get_frame(r, t, first + (q - z0), sizes[q]);
			rxsync(rcv);
			txsync(snd);
		}

		/* 3. incomplete chain after a complete frame: only the complete
		 * frame is published */
		unsigned len = 10000, nf = nfrags(len);	/* 5 fragments */
		unsigned small = id++, big = id++;
		REQUIRE(put_frame(t, small, 60), "no room");
		REQUIRE(put_frags(t, big, len, 0, 3), "no room");
		CHECK(t->slot[(t->head + n - 1) % n].flags & NS_MOREFRAG,
		      "last slot before head must carry NS_MOREFRAG");
		txsync(snd);
		rxsync(rcv);
		CHECK(nm_ring_space(r) == 1,
		      "partial chain: receiver sees %u slots, want 1 (the 60-byte frame)",
		      nm_ring_space(r));
		if (nm_ring_space(r) >= 1)
			get_frame(r, t, small, 60);
		rxsync(rcv);
		CHECK(nm_ring_empty(r), "partial chain visible: %u slots", nm_ring_space(r));
		struct pollfd p = { .fd = rcv->fd, .events = POLLIN };
		CHECK(poll(&p, 1, 0) == 0, "poll(POLLIN) with only a partial chain: revents 0x%x",
		      p.revents);
		/* add one fragment per sync: still nothing until the last */
		REQUIRE(put_frags(t, big, len, 3, 4), "no room");
		txsync(snd);
		rxsync(rcv);
		CHECK(nm_ring_empty(r), "4 of 5 fragments visible: %u slots", nm_ring_space(r));
		txsync(snd);	/* repeated sync publishes nothing either */
		rxsync(rcv);
		CHECK(nm_ring_empty(r), "after second txsync: %u slots", nm_ring_space(r));
		REQUIRE(put_frags(t, big, len, 4, 5), "no room");
		p.revents = 0;
		CHECK(poll(&p, 1, 0) == 0, "poll(POLLIN) before the sender syncs: 0x%x", p.revents);
		txsync(snd);
		p.revents = 0;
		int pr = poll(&p, 1, 1000);
		CHECK(pr == 1 && (p.revents & POLLIN), "completed chain: poll %d revents 0x%x",
		      pr, p.revents);
		CHECK(nm_ring_space(r) == nf, "completed chain: %u slots, want %u",
		      nm_ring_space(r), nf);
		if (nm_ring_space(r) == nf)
			get_frame(r, t, big, len);
		rxsync(rcv);
		txsync(snd);
		CHECK(!nm_tx_pending(t), "sender still pending after the chain");

		/* 4. the chain completed by a poll(POLLOUT) (implicit txsync) */
		big = id++;
		REQUIRE(put_frags(t, big, 9000, 0, 2), "no room");
		txsync(snd);
		rxsync(rcv);
		CHECK(nm_ring_empty(r), "partial 9000: %u slots", nm_ring_space(r));
		REQUIRE(put_frags(t, big, 9000, 2, 5), "no room");
		struct pollfd po = { .fd = snd->fd, .events = POLLOUT };
		CHECK(poll(&po, 1, 1000) == 1, "poll(POLLOUT)");
		rxsync(rcv);
		CHECK(nm_ring_space(r) == 5, "9000 via poll: %u slots", nm_ring_space(r));
		if (nm_ring_space(r) == 5)
			get_frame(r, t, big, 9000);
		rxsync(rcv);
		txsync(snd);

		/* 5. many rounds so that chains wrap around the ring end */
		for (int round = 0; round < wrap_rounds && t_failures < 20; round++) {
			unsigned cnt = 0, ids[32], lens[32];
			while (cnt < 32) {
				unsigned l = sizes[(round + cnt) % NSIZES];
				if (!put_frame(t, id, l))
					break;
				ids[cnt] = id++;
				lens[cnt++] = l;
				if ((round + cnt) % 5 == 0)
					break;
			}
			REQUIRE(cnt > 0, "round %d: no room at all (head %u tail %u)", round,
				t->head, t->tail);
			txsync(snd);
			rxsync(rcv);
			for (unsigned q = 0; q < cnt; q++)
				get_frame(r, t, ids[q], lens[q]);
			CHECK(nm_ring_empty(r), "round %d: %u extra slots", round, nm_ring_space(r));
			rxsync(rcv);
			txsync(snd);
			CHECK(!nm_tx_pending(t), "round %d: sender pending", round);
		}
	}
	nmport_close(a);
	nmport_close(b);
}

int main(void)
{
	t_setup(60);
	unsetenv("UNETMAP_BUF_SIZE");	/* the region is ours: default 2048-byte buffers */
	/* default geometry (1024 slots) */
	run_pipe("ms{1", 50);
	/* a 16-slot ring: chains wrap around the end of the ring */
	run_pipe("msw{2@conf:slots=16", 300);
	return t_done();
}
