/*
 * spsc_ring.c - the "what memory allows" reference point for `make bench`.
 *
 * Two processes (fork) share one memfd region holding a single-producer /
 * single-consumer ring of 16-byte descriptors { u64 off; u32 len; u32 flags }.
 * The producer (child, CPU0 by default) waits for room for a whole batch,
 * writes `batch` descriptors and publishes them with ONE release store of its
 * 64-bit head counter.  (Allowing partial batches when the ring is nearly
 * full makes the batches fragment and costs 2-4x on this machine.)  The
 * consumer (parent, CPU1 by default) load-acquires head, reads up to `batch`
 * descriptors and publishes its progress with one release store of tail.
 * Each side keeps a private copy of the other side's counter and re-reads
 * the shared one only when the cached value says the ring is full/empty.
 * head and tail live on separate 128-byte blocks (two cache lines each, so
 * the adjacent-line prefetcher cannot make them share).
 *
 * No payload is touched: only descriptors move.  The consumer checks every
 * descriptor (offset of the slot, length 60, lap number) so that a broken
 * ring cannot pass for a fast one.
 *
 * Timing: warm-up (default 0.5 s), then a measured window (default 3 s) on
 * the consumer's clock; the rate is the number of descriptors the consumer
 * completed in the window divided by its length.  Output on stdout is one
 * line "Mpps <value>"; details go to stderr.
 *
 * usage: spsc_ring [-n slots] [-b batch] [-t secs] [-w warmup_secs]
 *                  [-p producer_cpu] [-c consumer_cpu]
 *        slots must be a power of two (default 1024, netmap's ring size),
 *        1 <= batch <= slots (default 32).
 */
#include <errno.h>
#include <inttypes.h>
#include <sched.h>
#include <signal.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "bench.h"

#define BUF_STRIDE 2048u /* netmap's default buffer size: off = slot * 2048 */
#define FRAME_LEN 60u

struct desc {
	uint64_t off;
	uint32_t len;
	uint32_t flags; /* lap number (seq >> log2(slots)), checked by the consumer */
};

enum { PH_INIT = 0, PH_RUN = 1, PH_STOP = 2 };

struct shared {
	alignas(128) _Atomic uint64_t head; /* written by the producer only */
	alignas(128) _Atomic uint64_t tail; /* written by the consumer only */
	alignas(128) _Atomic uint32_t phase;
	alignas(128) struct desc ring[];
};

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ __volatile__("yield" ::: "memory");
#else
	__asm__ __volatile__("" ::: "memory");
#endif
}

static void pin(int cpu, const char *who)
{
	cpu_set_t set;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (sched_setaffinity(0, sizeof(set), &set) != 0)
		fprintf(stderr, "spsc_ring: warning: cannot pin %s to CPU%d: %s\n",
			who, cpu, strerror(errno));
}

static void usage(void)
{
	fprintf(stderr, "usage: spsc_ring [-n slots(pow2)] [-b batch] [-t secs] "
			"[-w warmup_secs] [-p producer_cpu] [-c consumer_cpu]\n");
	exit(2);
}

static void producer(struct shared *sh, uint32_t slots, uint32_t batch)
{
	const uint64_t mask = slots - 1;
	const unsigned shift = (unsigned)__builtin_ctz(slots);
	uint64_t head = 0, tail_cache = 0;

	atomic_store_explicit(&sh->phase, PH_RUN, memory_order_release);
	for (;;) {
		if (atomic_load_explicit(&sh->phase, memory_order_relaxed) == PH_STOP)
			break;
		uint64_t room = slots - (head - tail_cache);
		if (room < batch) {
			tail_cache = atomic_load_explicit(&sh->tail, memory_order_acquire);
			room = slots - (head - tail_cache);
			if (room < batch) {
				cpu_relax();
				continue;
			}
		}
		/* always a whole batch, like rte_ring's bulk enqueue */
		for (uint32_t i = 0; i < batch; i++) {
			uint64_t seq = head + i;
			struct desc *d = &sh->ring[seq & mask];
			d->off = (seq & mask) * BUF_STRIDE;
			d->len = FRAME_LEN;
			d->flags = (uint32_t)(seq >> shift);
		}
		head += batch;
		atomic_store_explicit(&sh->head, head, memory_order_release);
	}
}

int main(int argc, char **argv)
{
	uint32_t slots = 1024, batch = 32;
	double secs = 3.0, warm = 0.5;
	int pcpu = 0, ccpu = 1, opt;

	while ((opt = getopt(argc, argv, "n:b:t:w:p:c:h")) != -1) {
		switch (opt) {
		case 'n': slots = (uint32_t)strtoul(optarg, NULL, 0); break;
		case 'b': batch = (uint32_t)strtoul(optarg, NULL, 0); break;
		case 't': secs = strtod(optarg, NULL); break;
		case 'w': warm = strtod(optarg, NULL); break;
		case 'p': pcpu = atoi(optarg); break;
		case 'c': ccpu = atoi(optarg); break;
		default: usage();
		}
	}
	if (slots < 2 || (slots & (slots - 1)) != 0 || slots > (1u << 24) ||
	    batch < 1 || batch > slots || !(secs > 0) || warm < 0 || secs > 3600)
		usage();

	size_t size = sizeof(struct shared) + (size_t)slots * sizeof(struct desc);
	int fd = memfd_create("spsc_ring", MFD_CLOEXEC);
	if (fd < 0 || ftruncate(fd, (off_t)size) != 0) {
		perror("spsc_ring: memfd");
		return 1;
	}
	struct shared *sh = mmap(NULL, size, PROT_READ | PROT_WRITE,
				 MAP_SHARED | MAP_POPULATE, fd, 0);
	if (sh == MAP_FAILED) {
		perror("spsc_ring: mmap");
		return 1;
	}
	close(fd);
	/* a fresh memfd is zero-filled: head = tail = 0, phase = PH_INIT */

	/* hard bound in case something hangs: both processes die by SIGALRM */
	unsigned limit = (unsigned)(warm + secs) + 10;

	pid_t pid = fork();
	if (pid < 0) {
		perror("spsc_ring: fork");
		return 1;
	}
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() == 1)
			_exit(1);
		alarm(limit);
		pin(pcpu, "producer");
		producer(sh, slots, batch);
		_exit(0);
	}

	alarm(limit);
	pin(ccpu, "consumer");

	const uint64_t mask = slots - 1;
	const unsigned shift = (unsigned)__builtin_ctz(slots);
	uint64_t tail = 0, head_cache = 0, bad = 0, lensum = 0;
	uint64_t c0 = 0, c1 = 0;
	double t0 = 0, t1 = 0;
	int measuring = 0;
	unsigned iter = 0;

	while (atomic_load_explicit(&sh->phase, memory_order_acquire) != PH_RUN)
		cpu_relax();
	double start = bench_now();

	for (;;) {
		if ((++iter & 1023u) == 0) {
			double t = bench_now();
			if (!measuring && t - start >= warm) {
				measuring = 1;
				t0 = t;
				c0 = tail;
			} else if (measuring && t - t0 >= secs) {
				t1 = t;
				c1 = tail;
				break;
			}
		}
		uint64_t avail = head_cache - tail;
		if (avail == 0) {
			head_cache = atomic_load_explicit(&sh->head, memory_order_acquire);
			avail = head_cache - tail;
			if (avail == 0) {
				cpu_relax();
				continue;
			}
		}
		uint32_t n = avail < batch ? (uint32_t)avail : batch;
		for (uint32_t i = 0; i < n; i++) {
			uint64_t seq = tail + i;
			const struct desc *d = &sh->ring[seq & mask];
			bad |= (d->off ^ (seq & mask) * BUF_STRIDE) |
			       (uint64_t)(d->flags ^ (uint32_t)(seq >> shift));
			lensum += d->len;
		}
		tail += n;
		atomic_store_explicit(&sh->tail, tail, memory_order_release);
	}
	atomic_store_explicit(&sh->phase, PH_STOP, memory_order_release);

	int st = 0;
	if (waitpid(pid, &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		fprintf(stderr, "spsc_ring: producer did not exit cleanly\n");
		return 1;
	}
	if (bad != 0 || lensum != (uint64_t)FRAME_LEN * tail) {
		fprintf(stderr, "spsc_ring: descriptor check FAILED\n");
		return 1;
	}
	double mpps = (double)(c1 - c0) / (t1 - t0) / 1e6;
	fprintf(stderr, "spsc_ring: slots %" PRIu32 " batch %" PRIu32
		" window %.3f s, %" PRIu64 " descs in window, %" PRIu64 " total, checks ok\n",
		slots, batch, t1 - t0, c1 - c0, tail);
	printf("Mpps %.2f\n", mpps);
	munmap(sh, size);
	return 0;
}
