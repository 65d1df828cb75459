/* Description: NS_INDIRECT TX slots (payload at the sender's pointer in
 * slot.ptr).  VALE: the switch copies from the pointer, as netmap does,
 * including multi-slot chains mixing indirect and ordinary fragments, and
 * a frame longer than a buffer is refused as malformed.  Pipes: the payload
 * is copied into the slot's own buffer when the slot is published, so the
 * receiver finds it there and the flag cleared. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <libnetmap.h>
#include <unetmap.h>
#include "testlib.h"

#define N 300

static uint8_t data[N][1500];

static void fill(uint8_t *b, unsigned len, unsigned seq)
{
	memset(b, 0xff, 6);			/* broadcast */
	memset(b + 6, 0x02, 6);
	b[12] = 0x88;
	b[13] = 0xb5;
	for (unsigned k = 14; k < len; k++)
		b[k] = (uint8_t)(seq * 7 + k);
}

static bool same(const uint8_t *b, unsigned len, unsigned seq)
{
	uint8_t want[1500];
	fill(want, len, seq);
	return memcmp(b, want, len) == 0;
}

static unsigned flen(unsigned seq) { return 60 + (seq * 37) % 1400; }

/* queue frame `seq` as one indirect slot, or (split) as an indirect first
 * fragment followed by an ordinary one */
static bool queue(struct nmport_d *d, unsigned seq, bool split)
{
	struct netmap_ring *r = NETMAP_TXRING(d->nifp, d->first_tx_ring);
	unsigned len = flen(seq), need = split ? 2 : 1;
	if (nm_ring_space(r) < need)
		return false;
	fill(data[seq], len, seq);
	struct netmap_slot *s = &r->slot[r->head];
	unsigned first = split ? len / 2 : len;
	s->ptr = (uint64_t)(uintptr_t)data[seq];
	s->len = (uint16_t)first;
	s->flags = NS_INDIRECT | (split ? NS_MOREFRAG : 0);
	r->head = nm_ring_next(r, r->head);
	if (split) {
		s = &r->slot[r->head];
		memcpy(NETMAP_BUF(r, s->buf_idx), data[seq] + first, len - first);
		s->len = (uint16_t)(len - first);
		s->flags = 0;
		r->head = nm_ring_next(r, r->head);
	}
	r->cur = r->head;
	return true;
}

/* receive frames (chains reassembled) and check them in order */
static unsigned drain(struct nmport_d *d, unsigned *next, bool want_flags_clear)
{
	struct netmap_ring *r = NETMAP_RXRING(d->nifp, d->first_rx_ring);
	uint8_t buf[3000];
	unsigned got = 0, off = 0;
	ioctl(d->fd, NIOCRXSYNC, NULL);
	while (!nm_ring_empty(r)) {
		struct netmap_slot *s = &r->slot[r->head];
		if (want_flags_clear)
			CHECK(!(s->flags & NS_INDIRECT), "NS_INDIRECT reached the receiver");
		if (off + s->len <= sizeof(buf))
			memcpy(buf + off, NETMAP_BUF(r, s->buf_idx), s->len);
		off += s->len;
		r->head = r->cur = nm_ring_next(r, r->head);
		if (s->flags & NS_MOREFRAG)
			continue;
		CHECK(off == flen(*next) && same(buf, off, *next), "frame %u: %u bytes, content %s",
		      *next, off, off == flen(*next) && same(buf, off, *next) ? "ok" : "wrong");
		(*next)++;
		got++;
		off = 0;
	}
	ioctl(d->fd, NIOCRXSYNC, NULL);
	return got;
}

static void run(const char *txname, const char *rxname, bool pipe)
{
	struct nmport_d *rx = nmport_open(rxname);
	struct nmport_d *tx = nmport_open(txname);
	REQUIRE(rx != NULL && tx != NULL, "open %s / %s: %s", txname, rxname, strerror(errno));
	unsigned sent = 0, next = 0;
	for (int round = 0; round < 200 && next < N; round++) {
		while (sent < N && queue(tx, sent, sent % 3 == 1))
			sent++;
		ioctl(tx->fd, NIOCTXSYNC, NULL);
		drain(rx, &next, pipe);
	}
	CHECK(next == N, "%s: %u of %u indirect frames arrived intact", txname, next, N);
	nmport_close(tx);
	nmport_close(rx);
}

int main(void)
{
	t_setup(60);
	run("vale0:a", "vale0:b", false);
	run("netmap:ind{1", "netmap:ind}1", true);

	/* VALE: an indirect frame longer than a buffer is malformed */
	struct nmport_d *rx = nmport_open("vale1:b");
	struct nmport_d *tx = nmport_open("vale1:a");
	REQUIRE(rx != NULL && tx != NULL, "open vale1");
	static uint8_t big[4096];
	fill(big, sizeof(big), 1);
	struct netmap_ring *r = NETMAP_TXRING(tx->nifp, tx->first_tx_ring);
	struct netmap_slot *s = &r->slot[r->head];
	s->ptr = (uint64_t)(uintptr_t)big;
	s->len = (uint16_t)sizeof(big);
	s->flags = NS_INDIRECT;
	r->head = r->cur = nm_ring_next(r, r->head);
	ioctl(tx->fd, NIOCTXSYNC, NULL);
	struct unetmap_vale_port_stats st[4];
	int n = unetmap_vale_stats("vale1", st, 4);
	uint64_t malformed = 0;
	for (int i = 0; i < n; i++)
		if (strcmp(st[i].name, "vale1:a") == 0)
			malformed = st[i].drop_malformed;
	CHECK(malformed == 1, "oversize indirect frame: drop_malformed %llu",
	      (unsigned long long)malformed);
	ioctl(rx->fd, NIOCRXSYNC, NULL);
	CHECK(nm_ring_empty(NETMAP_RXRING(rx->nifp, 0)), "oversize indirect frame delivered");
	nmport_close(tx);
	nmport_close(rx);
	return t_done();
}
