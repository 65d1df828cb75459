/*
 * rte_ring_bench.c - DPDK rte_ring SP/SC between two cores, for `make bench`.
 *
 * One rte_ring of 16-byte elements { u64 off; u32 len; u32 flags } created
 * with rte_ring_create_elem(..., RING_F_SP_ENQ | RING_F_SC_DEQ).  The
 * producer runs on a worker lcore (CPU0 by default) and enqueues fixed bulks
 * with rte_ring_sp_enqueue_bulk_elem(); the consumer runs on the main lcore
 * (CPU1 by default) and dequeues fixed bulks with
 * rte_ring_sc_dequeue_bulk_elem().  The elements carry the same content and
 * the consumer runs the same checks as bench/spsc_ring.c.
 *
 * The ring is created without RING_F_EXACT_SZ, so `slots` (a power of two)
 * is the size of the element array, as in spsc_ring, and the usable
 * capacity is slots - 1.
 *
 * EAL runs without hugepages (--no-huge -m 128; --in-memory is refused
 * together with --no-huge), without PCI or telemetry, with a --file-prefix
 * unique per run; the runtime directory EAL leaves behind
 * (/var/run/dpdk/<prefix>) is removed on exit.
 *
 * Timing as in spsc_ring: warm-up (default 0.5 s), then the measured window
 * (default 3 s) on the consumer's clock.  stdout: one line "Mpps <value>".
 *
 * usage: rte_ring_bench [-n slots] [-b bulk] [-t secs] [-w warmup_secs]
 *                       [-p producer_cpu] [-c consumer_cpu] [-f file_prefix]
 *        defaults: 1024 slots, bulk 32, 3 s, 0.5 s, CPU0 -> CPU1.
 */
#include <dirent.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <rte_common.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_launch.h>
#include <rte_lcore.h>
#include <rte_pause.h>
#include <rte_ring.h>
#include <rte_ring_elem.h>
#include "bench.h"

#define BUF_STRIDE 2048u
#define FRAME_LEN 60u
#define MAX_BULK 4096u

struct desc {
	uint64_t off;
	uint32_t len;
	uint32_t flags;
};

struct prod_arg {
	struct rte_ring *r;
	uint32_t slots, bulk;
};

static _Atomic int stop_flag;

static int producer(void *p)
{
	const struct prod_arg *a = p;
	const uint64_t mask = a->slots - 1;
	const unsigned shift = (unsigned)__builtin_ctz(a->slots);
	static struct desc tbl[MAX_BULK];
	uint64_t seq = 0;

	while (!atomic_load_explicit(&stop_flag, memory_order_relaxed)) {
		for (uint32_t i = 0; i < a->bulk; i++) {
			uint64_t s = seq + i;
			tbl[i].off = (s & mask) * BUF_STRIDE;
			tbl[i].len = FRAME_LEN;
			tbl[i].flags = (uint32_t)(s >> shift);
		}
		while (rte_ring_sp_enqueue_bulk_elem(a->r, tbl, sizeof(struct desc),
						     a->bulk, NULL) == 0) {
			if (atomic_load_explicit(&stop_flag, memory_order_relaxed))
				return 0;
			rte_pause();
		}
		seq += a->bulk;
	}
	return 0;
}

/* remove the files EAL left in its runtime directory, then the directory */
static void remove_runtime_dir(const char *dir, const char *prefix)
{
	const char *base = strrchr(dir, '/');
	if (base == NULL || strcmp(base + 1, prefix) != 0)
		return; /* not the directory we asked for: leave it alone */
	DIR *d = opendir(dir);
	if (d == NULL)
		return;
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
			unlinkat(dirfd(d), e->d_name, 0);
	}
	closedir(d);
	rmdir(dir);
}

static void usage(void)
{
	fprintf(stderr, "usage: rte_ring_bench [-n slots(pow2)] [-b bulk] [-t secs] "
			"[-w warmup_secs] [-p producer_cpu] [-c consumer_cpu] [-f file_prefix]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	uint32_t slots = 1024, bulk = 32;
	double secs = 3.0, warm = 0.5;
	int pcpu = 0, ccpu = 1, opt;
	char prefix[64];

	snprintf(prefix, sizeof(prefix), "rrb%ld", (long)getpid());
	while ((opt = getopt(argc, argv, "n:b:t:w:p:c:f:h")) != -1) {
		switch (opt) {
		case 'n': slots = (uint32_t)strtoul(optarg, NULL, 0); break;
		case 'b': bulk = (uint32_t)strtoul(optarg, NULL, 0); break;
		case 't': secs = strtod(optarg, NULL); break;
		case 'w': warm = strtod(optarg, NULL); break;
		case 'p': pcpu = atoi(optarg); break;
		case 'c': ccpu = atoi(optarg); break;
		case 'f': snprintf(prefix, sizeof(prefix), "%s", optarg); break;
		default: usage();
		}
	}
	if (slots < 2 || (slots & (slots - 1)) != 0 || slots > (1u << 24) ||
	    bulk < 1 || bulk > MAX_BULK || bulk > slots - 1 || !(secs > 0) ||
	    warm < 0 || secs > 3600 || pcpu < 0 || ccpu < 0 || pcpu == ccpu)
		usage();

	/* EAL command line: producer CPU first, main lcore = consumer CPU */
	char lcores[32], eal_prefix[80];
	snprintf(lcores, sizeof(lcores), "%d,%d", pcpu, ccpu);
	snprintf(eal_prefix, sizeof(eal_prefix), "--file-prefix=%s", prefix);
	char main_lcore[16];
	snprintf(main_lcore, sizeof(main_lcore), "%d", ccpu);
	char *eal_argv[] = {
		argv[0], "-l", lcores, "--main-lcore", main_lcore,
		"--no-huge", "-m", "128", "--no-pci", "--no-telemetry",
		eal_prefix, "--log-level=lib.eal:error", NULL,
	};
	int eal_argc = (int)(sizeof(eal_argv) / sizeof(eal_argv[0])) - 1;
	if (rte_eal_init(eal_argc, eal_argv) < 0) {
		fprintf(stderr, "rte_ring_bench: rte_eal_init failed: %s\n",
			rte_strerror(rte_errno));
		return 1;
	}
	alarm((unsigned)(warm + secs) + 10);
	char rundir[512];
	snprintf(rundir, sizeof(rundir), "%s", rte_eal_get_runtime_dir());

	struct rte_ring *r = rte_ring_create_elem("bench_ring", sizeof(struct desc), slots,
						  SOCKET_ID_ANY, RING_F_SP_ENQ | RING_F_SC_DEQ);
	if (r == NULL) {
		fprintf(stderr, "rte_ring_bench: rte_ring_create_elem: %s\n",
			rte_strerror(rte_errno));
		rte_eal_cleanup();
		return 1;
	}

	unsigned worker = rte_get_next_lcore(-1, 1, 0);
	if (worker >= RTE_MAX_LCORE) {
		fprintf(stderr, "rte_ring_bench: no worker lcore\n");
		return 1;
	}
	static struct prod_arg pa;
	pa.r = r;
	pa.slots = slots;
	pa.bulk = bulk;
	if (rte_eal_remote_launch(producer, &pa, worker) != 0) {
		fprintf(stderr, "rte_ring_bench: remote launch failed\n");
		return 1;
	}

	/* consumer on the main lcore */
	static struct desc tbl[MAX_BULK];
	const uint64_t mask = slots - 1;
	const unsigned shift = (unsigned)__builtin_ctz(slots);
	uint64_t seq = 0, bad = 0, lensum = 0, c0 = 0, c1 = 0;
	double start = bench_now(), t0 = 0, t1 = 0;
	int measuring = 0;
	unsigned iter = 0;

	for (;;) {
		if ((++iter & 1023u) == 0) {
			double t = bench_now();
			if (!measuring && t - start >= warm) {
				measuring = 1;
				t0 = t;
				c0 = seq;
			} else if (measuring && t - t0 >= secs) {
				t1 = t;
				c1 = seq;
				break;
			}
		}
		if (rte_ring_sc_dequeue_bulk_elem(r, tbl, sizeof(struct desc), bulk, NULL) == 0) {
			rte_pause();
			continue;
		}
		for (uint32_t i = 0; i < bulk; i++) {
			uint64_t s = seq + i;
			bad |= (tbl[i].off ^ (s & mask) * BUF_STRIDE) |
			       (uint64_t)(tbl[i].flags ^ (uint32_t)(s >> shift));
			lensum += tbl[i].len;
		}
		seq += bulk;
	}
	atomic_store_explicit(&stop_flag, 1, memory_order_relaxed);
	rte_eal_wait_lcore(worker);
	rte_ring_free(r);
	rte_eal_cleanup();
	remove_runtime_dir(rundir, prefix);

	if (bad != 0 || lensum != (uint64_t)FRAME_LEN * seq) {
		fprintf(stderr, "rte_ring_bench: element check FAILED\n");
		return 1;
	}
	fprintf(stderr, "rte_ring_bench: slots %" PRIu32 " bulk %" PRIu32 " esize %zu"
		" window %.3f s, %" PRIu64 " elems in window, %" PRIu64 " total, checks ok\n",
		slots, bulk, sizeof(struct desc), t1 - t0, c1 - c0, seq);
	printf("Mpps %.2f\n", (double)(c1 - c0) / (t1 - t0) / 1e6);
	return 0;
}
