/* Description: 10000 open/close cycles of a pipe pair (both orders, with traffic and extra buffers) leave the region's buffer/ring/if free counts exactly as before, and 2000 pipes on fresh parents leave no file behind. */
/*
 * Reference §4.4 (pipe rings take buffers from the parent's pool; both ends
 * live while either is open), §1.11 (extra buffers: a list through the first
 * u32 of each buffer; on close the kernel frees whatever list ni_bufs_head
 * holds; ring buffers are freed by whatever index is in each slot), §1.6 and
 * §4.4 on ring teardown.  unetmap_mem_stats() gives the free counts.
 */
#include <dirent.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <libnetmap.h>
#include <unetmap.h>
#include "testlib.h"

static struct netmap_ring *txr(struct nmport_d *d)
{
	return NETMAP_TXRING(d->nifp, d->first_tx_ring);
}

static struct netmap_ring *rxr(struct nmport_d *d)
{
	return NETMAP_RXRING(d->nifp, d->first_rx_ring);
}

static uint32_t *link_of(struct netmap_ring *r, uint32_t idx)
{
	return (uint32_t *)NETMAP_BUF(r, idx);
}

static unsigned list_len(struct nmport_d *d)
{
	struct netmap_ring *r = txr(d);
	unsigned n = 0;
	for (uint32_t i = d->nifp->ni_bufs_head; i != 0 && n < 1000; i = *link_of(r, i))
		n++;
	return n;
}

static struct nmport_d *open_port(const char *name, unsigned extra)
{
	struct nmport_d *d;
	if (extra == 0) {
		d = nmport_open(name);
		REQUIRE(d != NULL, "open %s: %s (%s)", name, strerror(errno),
			unetmap_last_error());
		return d;
	}
	d = nmport_prepare(name);
	REQUIRE(d != NULL, "prepare %s: %s", name, strerror(errno));
	d->reg.nr_extra_bufs = extra;
	REQUIRE(nmport_open_desc(d) == 0, "open %s with %u extra buffers: %s (%s)", name,
		extra, strerror(errno), unetmap_last_error());
	CHECK(d->reg.nr_extra_bufs == extra, "%s: got %u extra buffers, want %u", name,
	      d->reg.nr_extra_bufs, extra);
	CHECK(list_len(d) == extra, "%s: extra list has %u buffers, want %u", name,
	      list_len(d), extra);
	return d;
}

/* send n frames; the first `swap` slots get a buffer from the extra list,
 * whose place in the list is taken by the slot's old buffer */
static void send_frames(struct nmport_d *d, unsigned n, unsigned swap, uint32_t seq)
{
	struct netmap_ring *r = txr(d);
	for (unsigned i = 0; i < n && !nm_ring_empty(r); i++) {
		struct netmap_slot *s = &r->slot[r->head];
		s->flags = 0;
		if (i < swap && d->nifp->ni_bufs_head != 0) {
			uint32_t x = d->nifp->ni_bufs_head;
			d->nifp->ni_bufs_head = *link_of(r, x);
			uint32_t old = s->buf_idx;
			*link_of(r, old) = d->nifp->ni_bufs_head;
			d->nifp->ni_bufs_head = old;
			s->buf_idx = x;
			s->flags = NS_BUF_CHANGED;
		}
		char *b = NETMAP_BUF(r, s->buf_idx);
		memset(b, 0x5a, 60);
		uint32_t v = seq + i;
		memcpy(b + 14, &v, 4);
		s->len = 60;
		r->head = r->cur = nm_ring_next(r, r->head);
	}
	CHECK(ioctl(d->fd, NIOCTXSYNC, NULL) == 0, "txsync");
}

/* receive up to n frames, checking seq; the first `swap` received slots
 * exchange their buffer with one of the extra list */
static unsigned recv_frames(struct nmport_d *d, unsigned n, unsigned swap, uint32_t seq)
{
	struct netmap_ring *r = rxr(d);
	unsigned got = 0;
	CHECK(ioctl(d->fd, NIOCRXSYNC, NULL) == 0, "rxsync");
	while (got < n && !nm_ring_empty(r)) {
		struct netmap_slot *s = &r->slot[r->head];
		uint32_t v;
		memcpy(&v, NETMAP_BUF(r, s->buf_idx) + 14, 4);
		CHECK(v == seq + got, "seq %u want %u", v, seq + got);
		if (got < swap && d->nifp->ni_bufs_head != 0) {
			uint32_t y = d->nifp->ni_bufs_head;
			d->nifp->ni_bufs_head = *link_of(r, y);
			uint32_t old = s->buf_idx;
			*link_of(r, old) = d->nifp->ni_bufs_head;
			d->nifp->ni_bufs_head = old;
			s->buf_idx = y;
			s->flags |= NS_BUF_CHANGED;
		}
		r->head = r->cur = nm_ring_next(r, r->head);
		got++;
	}
	CHECK(ioctl(d->fd, NIOCRXSYNC, NULL) == 0, "rxsync");
	return got;
}

static int same_stats(const struct unetmap_mem_stats *a, const struct unetmap_mem_stats *b)
{
	return a->buf_free == b->buf_free && a->ring_free == b->ring_free &&
	       a->if_free == b->if_free && a->users == b->users;
}

/* sorted, newline-separated list of the runtime directory's entries */
static char *dir_list(int *count)
{
	DIR *dd = opendir(unetmap_dir());
	REQUIRE(dd != NULL, "opendir %s", unetmap_dir());
	char *names[256];
	int n = 0;
	struct dirent *e;
	while ((e = readdir(dd)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		if (n < 256)
			names[n] = strdup(e->d_name);
		n++;
	}
	closedir(dd);
	REQUIRE(n <= 256, "%d files in %s", n, unetmap_dir());
	for (int i = 1; i < n; i++)
		for (int j = i; j > 0 && strcmp(names[j - 1], names[j]) > 0; j--) {
			char *t = names[j];
			names[j] = names[j - 1];
			names[j - 1] = t;
		}
	size_t len = 1;
	for (int i = 0; i < n; i++)
		len += strlen(names[i]) + 1;
	char *out = calloc(1, len);
	for (int i = 0; i < n; i++) {
		strcat(out, names[i]);
		strcat(out, "\n");
		free(names[i]);
	}
	*count = n;
	return out;
}

int main(void)
{
	t_setup(170);
	const char *MN = "netmap:cyc{1", *SN = "netmap:cyc}1";

	/* --- part 1: 10000 cycles of cyc{1 / cyc}1 on a kept region ------- */
	struct nmport_d *keep = nmport_open("netmap:cyc{0");
	REQUIRE(keep != NULL, "open cyc{0: %s", strerror(errno));
	uint16_t mem = keep->reg.nr_mem_id;
	struct unetmap_mem_stats st0, st;
	REQUIRE(unetmap_mem_stats(mem, &st0) == 0, "mem stats %u", mem);
	CHECK(st0.buf_free < st0.buf_total && st0.ring_free < st0.ring_total &&
	      st0.if_free < st0.if_total, "cyc{0 uses buffers, rings and a netmap_if");

	int reported = 0;
	const int CYCLES = 10000;
	int64_t deadline = unm_test_now_ms() + 120000;
	int i;
	for (i = 0; i < CYCLES && unm_test_now_ms() < deadline; i++) {
		unsigned xm = (i % 5 == 0) ? 8 : 0;	/* extra buffers on the master */
		unsigned xs = (i % 10 == 3) ? 8 : 0;	/* ... on the slave */
		int order = i % 4;
		struct nmport_d *m, *s;
		if (order & 1) {
			s = open_port(SN, xs);
			m = open_port(MN, xm);
		} else {
			m = open_port(MN, xm);
			s = open_port(SN, xs);
		}
		CHECK(m->reg.nr_mem_id == mem && s->reg.nr_mem_id == mem,
		      "cycle %d: mem ids %u %u want %u", i, m->reg.nr_mem_id, s->reg.nr_mem_id, mem);
		if (i % 3 == 0 || xm || xs) {
			unsigned k = 1 + (unsigned)i % 13;
			/* master -> slave: half read (and released), half left */
			send_frames(m, k, xm ? (unsigned)i % 4 + 1 : 0, (uint32_t)i * 100);
			unsigned got = recv_frames(s, k / 2, xs ? 2 : 0, (uint32_t)i * 100);
			CHECK(got == k / 2, "cycle %d: got %u want %u", i, got, k / 2);
			/* the slave swaps the buffer of a frame it holds and
			 * never releases (teardown must free the swapped one) */
			struct netmap_ring *sr = rxr(s);
			if (xs && !nm_ring_empty(sr) && s->nifp->ni_bufs_head != 0) {
				struct netmap_slot *sl = &sr->slot[sr->head];
				uint32_t y = s->nifp->ni_bufs_head;
				s->nifp->ni_bufs_head = *link_of(sr, y);
				*link_of(sr, sl->buf_idx) = s->nifp->ni_bufs_head;
				s->nifp->ni_bufs_head = sl->buf_idx;
				sl->buf_idx = y;
				sl->flags |= NS_BUF_CHANGED;
			}
			/* slave -> master, never read */
			send_frames(s, (unsigned)i % 7, xs ? 1 : 0, 7);
			/* every other time the master reclaims what the slave
			 * released before the close, else teardown does */
			if ((i / 10) % 2 == 0)
				CHECK(ioctl(m->fd, NIOCTXSYNC, NULL) == 0, "txsync");
			if (xm)
				CHECK(list_len(m) == xm, "cycle %d: master list %u", i, list_len(m));
			if (xs)
				CHECK(list_len(s) == xs, "cycle %d: slave list %u", i, list_len(s));
		}
		if (order == 0 || order == 3) {
			nmport_close(m);
			nmport_close(s);
		} else {
			nmport_close(s);
			nmport_close(m);
		}
		if (unetmap_mem_stats(mem, &st) != 0) {
			CHECK(0, "cycle %d: region %u gone while cyc{0 is open", i, mem);
			break;
		}
		if (!same_stats(&st, &st0) && reported++ < 3)
			CHECK(0, "cycle %d (order %d, extra %u/%u, traffic %d): buf_free %u ring_free "
			      "%u if_free %u users %u; at start %u %u %u %u", i, order, xm, xs,
			      i % 3 == 0, st.buf_free, st.ring_free, st.if_free, st.users,
			      st0.buf_free, st0.ring_free, st0.if_free, st0.users);
		if (t_failures > 20)
			break;
	}
	CHECK(i == CYCLES, "only %d of %d cycles done", i, CYCLES);
	REQUIRE(unetmap_mem_stats(mem, &st) == 0, "final stats");
	CHECK(st.buf_free == st0.buf_free, "buf_free %u, at start %u", st.buf_free, st0.buf_free);
	CHECK(st.ring_free == st0.ring_free, "ring_free %u, at start %u", st.ring_free,
	      st0.ring_free);
	CHECK(st.if_free == st0.if_free, "if_free %u, at start %u", st.if_free, st0.if_free);
	CHECK(st.users == st0.users, "users %u, at start %u", st.users, st0.users);
	nmport_close(keep);
	CHECK(unetmap_mem_stats(mem, &st) == -EINVAL, "region %u survives its last pipe", mem);

	/* --- part 2: a fresh parent every time ----------------------------- */
	int n0, n1;
	char *before = dir_list(&n0);
	const int FRESH = 2000;
	deadline = unm_test_now_ms() + 40000;
	for (i = 0; i < FRESH && unm_test_now_ms() < deadline; i++) {
		char name[64];
		snprintf(name, sizeof(name), "netmap:p%d{1", i);
		struct nmport_d *d = nmport_open(name);
		REQUIRE(d != NULL, "open %s: %s (%s)", name, strerror(errno), unetmap_last_error());
		uint16_t id = d->reg.nr_mem_id;
		if (i % 4 == 0) {
			snprintf(name, sizeof(name), "netmap:p%d}1", i);
			struct nmport_d *e = nmport_open(name);
			REQUIRE(e != NULL, "open %s: %s", name, strerror(errno));
			send_frames(d, 3, 0, 0);
			CHECK(recv_frames(e, 1, 0, 0) == 1, "%s: traffic", name);
			nmport_close(e);
		}
		nmport_close(d);
		if (unetmap_mem_stats(id, &st) != -EINVAL && reported++ < 3)
			CHECK(0, "p%d: region %u still exists after its pipe closed", i, id);
		if (t_failures > 20)
			break;
	}
	CHECK(i == FRESH, "only %d of %d fresh parents done", i, FRESH);
	char *after = dir_list(&n1);
	CHECK(n1 == n0 && strcmp(before, after) == 0,
	      "runtime directory: %d files before, %d after\n--- before:\n%s--- after:\n%s",
	      n0, n1, before, after);
	free(before);
	free(after);
	return t_done();
}
