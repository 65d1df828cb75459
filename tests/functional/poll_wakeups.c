/* Description: waiting costs nothing on the busy path: threads that sync
 * with ioctl never trigger a wake-up, a receiver that polls while the
 * sender keeps it busy sleeps rarely, and an idle poll() sleeps in the
 * kernel (little CPU) instead of spinning for its whole timeout. */
#include <poll.h>
#include <pthread.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <libnetmap.h>
#include <unetmap.h>
#include "testlib.h"

#define FRAMES 2000000ULL

static struct nmport_d *tx, *rx;
static int use_poll;

static void *sender(void *arg)
{
	(void)arg;
	struct netmap_ring *r = NETMAP_TXRING(tx->nifp, 0);
	uint64_t sent = 0;
	int64_t end = unm_test_now_ms() + 30000;
	while (sent < FRAMES && unm_test_now_ms() < end) {
		while (sent < FRAMES && !nm_ring_empty(r)) {
			r->slot[r->head].len = 60;
			r->head = r->cur = nm_ring_next(r, r->head);
			sent++;
		}
		ioctl(tx->fd, NIOCTXSYNC, NULL);
	}
	return NULL;
}

static uint64_t receive_all(void)
{
	struct netmap_ring *r = NETMAP_RXRING(rx->nifp, 0);
	struct pollfd p = { .fd = rx->fd, .events = POLLIN };
	uint64_t got = 0;
	int64_t end = unm_test_now_ms() + 30000;
	while (got < FRAMES && unm_test_now_ms() < end) {
		if (use_poll)
			poll(&p, 1, 1000);
		else
			ioctl(rx->fd, NIOCRXSYNC, NULL);
		while (!nm_ring_empty(r)) {
			got++;
			r->head = r->cur = nm_ring_next(r, r->head);
		}
	}
	ioctl(rx->fd, NIOCRXSYNC, NULL);
	return got;
}

static double cpu_seconds(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_utime.tv_sec + ru.ru_stime.tv_sec +
	       (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

int main(void)
{
	t_setup(120);
	tx = nmport_open("netmap:pw{1");
	rx = nmport_open("netmap:pw}1");
	REQUIRE(tx != NULL && rx != NULL, "open: %s", strerror(errno));
	struct unetmap_proc_stats s0, s1;

	/* 1: ioctl-only loops: nobody armed a wake-up, so nobody sends one */
	unetmap_proc_stats(&s0);
	pthread_t th;
	pthread_create(&th, NULL, sender, NULL);
	uint64_t got = receive_all();
	pthread_join(th, NULL);
	unetmap_proc_stats(&s1);
	CHECK(got == FRAMES, "received %llu", (unsigned long long)got);
	CHECK(s1.wakeups == s0.wakeups, "ioctl loops sent %llu wake-ups",
	      (unsigned long long)(s1.wakeups - s0.wakeups));
	CHECK(s1.sleeps == s0.sleeps, "ioctl loops slept %llu times",
	      (unsigned long long)(s1.sleeps - s0.sleeps));

	/* 2: a polling receiver fed by a busy sender: most polls return
	 * without sleeping (the frames are there or arrive while spinning) */
	use_poll = 1;
	unetmap_proc_stats(&s0);
	pthread_create(&th, NULL, sender, NULL);
	got = receive_all();
	pthread_join(th, NULL);
	unetmap_proc_stats(&s1);
	CHECK(got == FRAMES, "received %llu with poll", (unsigned long long)got);
	uint64_t polls = s1.polls - s0.polls, sleeps = s1.sleeps - s0.sleeps;
	CHECK(polls > 0, "polls counted");
	fprintf(stderr, "busy phase: %llu polls, %llu sleeps, %llu wake-ups\n",
		(unsigned long long)polls, (unsigned long long)sleeps,
		(unsigned long long)(s1.wakeups - s0.wakeups));
	CHECK(sleeps * 2 <= polls + 8, "slept in %llu of %llu polls",
	      (unsigned long long)sleeps, (unsigned long long)polls);

	/* 3: nothing to do: poll sleeps in the kernel for its timeout */
	unetmap_proc_stats(&s0);
	double c0 = cpu_seconds();
	int64_t t0 = unm_test_now_ms();
	struct pollfd p = { .fd = rx->fd, .events = POLLIN };
	int r = poll(&p, 1, 600);
	int64_t dt = unm_test_now_ms() - t0;
	double cpu = cpu_seconds() - c0;
	unetmap_proc_stats(&s1);
	CHECK(r == 0 && dt >= 550, "idle poll returned %d after %lld ms", r, (long long)dt);
	/* one sleep, or a few when a stale wake-up byte from the busy phase
	 * ends the first one early */
	CHECK(s1.sleeps >= s0.sleeps + 1 && s1.sleeps <= s0.sleeps + 3, "idle poll slept %llu times",
	      (unsigned long long)(s1.sleeps - s0.sleeps));
	CHECK(cpu < 0.15, "idle poll of 600 ms used %.3f s of CPU", cpu);

	nmport_close(tx);
	nmport_close(rx);
	return t_done();
}
