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
#include "valetest.h"

#define NSEND 4
#define NFRAMES 5000

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
	while (!__atomic_load_n(&go, __ATOMIC_ACQUIRE))
		sched_yield();
	unsigned lcg = me->id * 7919u + 17u;
	uint32_t seq = 0;
	int64_t deadline = unm_test_now_ms() + 60000;
	while (seq < NFRAMES && unm_test_now_ms() < deadline) {
		lcg = lcg * 1103515245u + 12345u;
		vt_seq_burst(r, me->id, &seq, NFRAMES, 1 + (lcg >> 16) % 64, false);
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

static struct vt_seqrx rxs;

static uint64_t drain(struct nmport_d *rx)
{
	ioctl(rx->fd, NIOCRXSYNC, NULL);
	uint64_t n = vt_seqrx_drain(&rxs, NETMAP_RXRING(rx->nifp, 0));
	ioctl(rx->fd, NIOCRXSYNC, NULL);
	return n;
}

int main(void)
{
	t_setup(150);
	struct nmport_d *rx = vt_seq_receiver("vale0:r@conf:slots=1024", "vale0:h");
	vt_seqrx_init(&rxs, NSEND, NFRAMES, false);

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
		struct unetmap_vale_port_stats st = vt_pstats(name);
		uint64_t d = st.drop_full + st.drop_closed + st.drop_malformed;
		fprintf(stderr, "sender %d: sent %u received %llu drop_full %llu\n", i, snd[i].sent,
			(unsigned long long)rxs.received[i], (unsigned long long)st.drop_full);
		CHECK(snd[i].err == 0, "sender %d: txsync failed: %s", i, strerror(snd[i].err));
		CHECK(snd[i].sent == NFRAMES, "sender %d sent only %u", i, snd[i].sent);
		CHECK(rxs.received[i] + d == snd[i].sent, "sender %d: received %llu + drops %llu != "
		      "sent %u", i, (unsigned long long)rxs.received[i], (unsigned long long)d,
		      snd[i].sent);
		CHECK(st.tx_frames == snd[i].sent, "sender %d tx_frames %llu", i,
		      (unsigned long long)st.tx_frames);
		sent += snd[i].sent;
		drops += d;
		nmport_close(snd[i].d);
	}
	struct unetmap_vale_port_stats rs = vt_pstats("vale0:r");
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
