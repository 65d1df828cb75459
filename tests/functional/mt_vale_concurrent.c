/* Description: 4 sender threads of one process, each with its own VALE
 * port, push frames into one receiver port served by the main thread: no
 * frame is corrupted, duplicated or reordered within a sender, and received
 * + dropped == sent per sender.  Also run under ThreadSanitizer (the
 * switch's leases, counters and learning table are shared by the threads).
 *
 * Syncs are ioctls only (no poll(): under TSan its interceptor hides the
 * library's synchronisation, see mt_pipe_threads.c).  The engine writes
 * frames through its own mapping of the receiver's region and the
 * application reads them through the mapping mmap() gave it, so TSan checks
 * the library's shared state (krings, leases, table), not the payload
 * hand-off, which the content checks cover.
 */
#include <pthread.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <libnetmap.h>
#include <unetmap.h>
#include "testlib.h"

#define NSEND 4
#define NFRAMES 5000
#define MAXLEN 1514

static const uint8_t MAC_R[6] = { 0x02, 0, 0, 0, 0x99, 0x01 };

static void mac_s(unsigned id, uint8_t *m)
{
	static const uint8_t base[6] = { 0x02, 0, 0, 0, 0x88, 0 };
	memcpy(m, base, 6);
	m[5] = (uint8_t)id;
}

static uint8_t pat(uint32_t id, uint32_t seq, unsigned k)
{
	return (uint8_t)((seq * 2654435761u + id * 40503u + k * 97u) >> 11);
}

static unsigned frame_len(uint32_t id, uint32_t seq)
{
	return 60 + (seq * 37u + id * 101u) % (MAXLEN - 60 + 1);
}

struct sender {
	pthread_t th;
	uint32_t id;
	struct nmport_d *d;
	uint32_t sent;
	int err;
};
static struct sender snd[NSEND];
static int go, senders_done;

static void *sender_main(void *arg)
{
	struct sender *me = arg;
	struct nmport_d *d = me->d;
	struct netmap_ring *r = NETMAP_TXRING(d->nifp, 0);
	uint8_t src[6];
	mac_s(me->id, src);
	while (!__atomic_load_n(&go, __ATOMIC_ACQUIRE))
		sched_yield();
	unsigned lcg = me->id * 7919u + 17u;
	uint32_t seq = 0;
	int64_t deadline = unm_test_now_ms() + 60000;
	while (seq < NFRAMES && unm_test_now_ms() < deadline) {
		lcg = lcg * 1103515245u + 12345u;
		unsigned batch = 1 + (lcg >> 16) % 64;
		while (batch-- > 0 && seq < NFRAMES && !nm_ring_empty(r)) {
			struct netmap_slot *s = &r->slot[r->head];
			uint8_t *b = (uint8_t *)NETMAP_BUF(r, s->buf_idx);
			unsigned len = frame_len(me->id, seq);
			memcpy(b, MAC_R, 6);
			memcpy(b + 6, src, 6);
			b[12] = 0x88;
			b[13] = 0xb5;
			memcpy(b + 14, &me->id, 4);
			memcpy(b + 18, &seq, 4);
			for (unsigned k = 22; k < len; k++)
				b[k] = pat(me->id, seq, k);
			s->len = (uint16_t)len;
			s->flags = 0;
			r->head = r->cur = nm_ring_next(r, r->head);
			seq++;
		}
		if (ioctl(d->fd, NIOCTXSYNC, NULL) < 0)
			me->err = errno;
		if ((lcg >> 20) % 8 == 0)
			sched_yield();
	}
	ioctl(d->fd, NIOCTXSYNC, NULL);
	me->sent = seq;
	__atomic_fetch_add(&senders_done, 1, __ATOMIC_RELEASE);
	return NULL;
}

static uint64_t received[NSEND];
static int64_t last_seq[NSEND];
static unsigned bad_frames;

static void check_frame(const struct netmap_slot *s, const uint8_t *b)
{
	uint32_t id, seq;
	if (s->len < 22) {
		if (bad_frames++ < 10)
			CHECK(0, "frame of %u bytes", s->len);
		return;
	}
	memcpy(&id, b + 14, 4);
	memcpy(&seq, b + 18, 4);
	if (id >= NSEND || seq >= NFRAMES) {
		if (bad_frames++ < 10)
			CHECK(0, "frame with sender %u seq %u", id, seq);
		return;
	}
	uint8_t src[6];
	mac_s(id, src);
	unsigned bad = memcmp(b, MAC_R, 6) != 0 || memcmp(b + 6, src, 6) != 0 ||
		       s->len != frame_len(id, seq);
	for (unsigned k = 22; k < s->len && !bad; k++)
		bad = b[k] != pat(id, seq, k);
	if (bad && bad_frames++ < 10)
		CHECK(0, "sender %u seq %u: corrupted (len %u)", id, seq, s->len);
	if ((int64_t)seq <= last_seq[id] && bad_frames++ < 10)
		CHECK(0, "sender %u: seq %u after %lld (duplicate or reordered)", id, seq,
		      (long long)last_seq[id]);
	last_seq[id] = seq;
	received[id]++;
}

static uint64_t drain(struct nmport_d *rx)
{
	ioctl(rx->fd, NIOCRXSYNC, NULL);
	struct netmap_ring *r = NETMAP_RXRING(rx->nifp, 0);
	uint64_t n = 0;
	while (!nm_ring_empty(r)) {
		struct netmap_slot *s = &r->slot[r->head];
		check_frame(s, (const uint8_t *)NETMAP_BUF(r, s->buf_idx));
		r->head = r->cur = nm_ring_next(r, r->head);
		n++;
	}
	ioctl(rx->fd, NIOCRXSYNC, NULL);
	return n;
}

static struct unetmap_vale_port_stats pstats(const char *name)
{
	static struct unetmap_vale_port_stats st[16];
	struct unetmap_vale_port_stats z;
	memset(&z, 0, sizeof(z));
	int n = unetmap_vale_stats(name, st, 16);
	for (int i = 0; i < n && i < 16; i++)
		if (strcmp(st[i].name, name) == 0)
			return st[i];
	CHECK(0, "no stats for %s", name);
	return z;
}

int main(void)
{
	t_setup(150);
	struct nmport_d *rx = nmport_open("vale0:r@conf:slots=1024");
	REQUIRE(rx != NULL, "open receiver: %s", strerror(errno));
	struct nmport_d *h = nmport_open("vale0:h");
	REQUIRE(h != NULL, "open helper: %s", strerror(errno));
	struct netmap_ring *t = NETMAP_TXRING(rx->nifp, 0);
	uint8_t *b = (uint8_t *)NETMAP_BUF(t, t->slot[t->head].buf_idx);
	memset(b, 0xff, 6);
	memcpy(b + 6, MAC_R, 6);
	memset(b + 12, 0, 48);
	t->slot[t->head].len = 60;
	t->head = t->cur = nm_ring_next(t, t->head);
	CHECK(ioctl(rx->fd, NIOCTXSYNC, NULL) == 0, "announce");
	nmport_close(h);
	for (int i = 0; i < NSEND; i++)
		last_seq[i] = -1;

	char name[32];
	for (uint32_t i = 0; i < NSEND; i++) {
		snprintf(name, sizeof(name), "vale0:s%u", i);
		snd[i].id = i;
		snd[i].d = nmport_open(name);
		REQUIRE(snd[i].d != NULL, "open %s: %s", name, strerror(errno));
		REQUIRE(pthread_create(&snd[i].th, NULL, sender_main, &snd[i]) == 0, "thread");
	}
	__atomic_store_n(&go, 1, __ATOMIC_RELEASE);
	int64_t t0 = unm_test_now_ms();
	uint64_t total = 0;
	unsigned loops = 0;
	while (unm_test_now_ms() - t0 < 100000) {
		total += drain(rx);
		if (++loops % 32 == 0)
			usleep(1000);	/* a slow receiver now and then: some drops */
		if (__atomic_load_n(&senders_done, __ATOMIC_ACQUIRE) == NSEND)
			break;
	}
	for (int i = 0; i < NSEND; i++)
		pthread_join(snd[i].th, NULL);
	total += drain(rx);

	uint64_t sent = 0, drops = 0;
	for (int i = 0; i < NSEND; i++) {
		snprintf(name, sizeof(name), "vale0:s%d", i);
		struct unetmap_vale_port_stats st = pstats(name);
		uint64_t d = st.drop_full + st.drop_closed + st.drop_malformed;
		fprintf(stderr, "sender %d: sent %u received %llu drop_full %llu\n", i, snd[i].sent,
			(unsigned long long)received[i], (unsigned long long)st.drop_full);
		CHECK(snd[i].err == 0, "sender %d: txsync failed: %s", i, strerror(snd[i].err));
		CHECK(snd[i].sent == NFRAMES, "sender %d sent only %u", i, snd[i].sent);
		CHECK(received[i] + d == snd[i].sent, "sender %d: received %llu + drops %llu != "
		      "sent %u", i, (unsigned long long)received[i], (unsigned long long)d,
		      snd[i].sent);
		CHECK(st.tx_frames == snd[i].sent, "sender %d tx_frames %llu", i,
		      (unsigned long long)st.tx_frames);
		sent += snd[i].sent;
		drops += d;
		nmport_close(snd[i].d);
	}
	struct unetmap_vale_port_stats rs = pstats("vale0:r");
	CHECK(rs.rx_frames == total, "receiver rx_frames %llu, read %llu",
	      (unsigned long long)rs.rx_frames, (unsigned long long)total);
	CHECK(total + drops == sent, "received %llu + dropped %llu != sent %llu",
	      (unsigned long long)total, (unsigned long long)drops, (unsigned long long)sent);
	CHECK(total > 0, "nothing received");
	fprintf(stderr, "total: sent %llu received %llu dropped %llu\n", (unsigned long long)sent,
		(unsigned long long)total, (unsigned long long)drops);
	nmport_close(rx);
	return t_done();
}
