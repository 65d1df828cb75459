/*
 * txsync_cost.c - cost of one NIOCTXSYNC / NIOCRXSYNC with nothing to do,
 * compared with the cheapest real system call, for `make bench`.
 *
 * Opens the two ends of a unetmap pipe through the upstream libnetmap API
 * (nmport_open "netmap:benchpipe{1" and "netmap:benchpipe}1"), then times a
 * loop of ioctl(fd, NIOCTXSYNC, NULL) on the master end (nothing queued for
 * transmission) and a loop of ioctl(fd, NIOCRXSYNC, NULL) on the slave end
 * (nothing to receive), and for comparison syscall(SYS_getppid).
 *
 * Each loop runs N iterations (default 10,000,000) or until its time budget
 * (default 3 s) is used up, whichever comes first; the cost is elapsed wall
 * time / iterations.  Output on stdout, one line each:
 *     NIOCTXSYNC ns <value>
 *     NIOCRXSYNC ns <value>
 *     getppid ns <value>
 * Details (iterations, budget) go to stderr.  The runtime directory is the
 * library's (UNETMAP_DIR if set).
 *
 * usage: txsync_cost [-n iterations] [-t max_secs_per_loop] [-p port_name]
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <libnetmap.h>
#include "bench.h"

#define CHUNK 65536u

struct result {
	uint64_t iters;
	double secs;
	long errors;
};

/* what == 0: getppid; otherwise ioctl(fd, what, NULL) */
static struct result time_loop(int fd, unsigned long what, uint64_t n, double budget)
{
	struct result r = { 0, 0, 0 };
	double t0 = bench_now(), t = t0;

	while (r.iters < n && t - t0 < budget) {
		uint64_t k = n - r.iters < CHUNK ? n - r.iters : CHUNK;
		if (what == 0) {
			for (uint64_t i = 0; i < k; i++)
				(void)syscall(SYS_getppid);
		} else {
			for (uint64_t i = 0; i < k; i++)
				r.errors += ioctl(fd, what, NULL) != 0;
		}
		r.iters += k;
		t = bench_now();
	}
	r.secs = t - t0;
	return r;
}

static int report(const char *name, struct result r)
{
	fprintf(stderr, "txsync_cost: %s: %llu calls in %.3f s, %ld errors\n", name,
		(unsigned long long)r.iters, r.secs, r.errors);
	if (r.errors != 0 || r.iters == 0) {
		fprintf(stderr, "txsync_cost: %s failed\n", name);
		return 1;
	}
	printf("%s ns %.1f\n", name, r.secs * 1e9 / (double)r.iters);
	fflush(stdout);
	return 0;
}

int main(int argc, char **argv)
{
	uint64_t n = 10000000;
	double budget = 3.0;
	const char *name = "benchpipe";
	int opt;

	while ((opt = getopt(argc, argv, "n:t:p:h")) != -1) {
		switch (opt) {
		case 'n': n = strtoull(optarg, NULL, 0); break;
		case 't': budget = strtod(optarg, NULL); break;
		case 'p': name = optarg; break;
		default:
			fprintf(stderr, "usage: txsync_cost [-n iterations] "
					"[-t max_secs_per_loop] [-p port_name]\n");
			return 2;
		}
	}
	if (n == 0 || !(budget > 0) || strlen(name) > 64) {
		fprintf(stderr, "txsync_cost: bad arguments\n");
		return 2;
	}

	char spec_m[96], spec_s[96];
	snprintf(spec_m, sizeof(spec_m), "netmap:%s{1", name);
	snprintf(spec_s, sizeof(spec_s), "netmap:%s}1", name);

	struct nmport_d *m = nmport_open(spec_m);
	if (m == NULL) {
		fprintf(stderr, "txsync_cost: nmport_open(%s): %s\n", spec_m, strerror(errno));
		return 1;
	}
	struct nmport_d *s = nmport_open(spec_s);
	if (s == NULL) {
		fprintf(stderr, "txsync_cost: nmport_open(%s): %s\n", spec_s, strerror(errno));
		nmport_close(m);
		return 1;
	}

	/* one call each first: a failing ioctl must not be timed as "cheap" */
	if (ioctl(m->fd, NIOCTXSYNC, NULL) != 0 || ioctl(s->fd, NIOCRXSYNC, NULL) != 0) {
		fprintf(stderr, "txsync_cost: first sync failed: %s\n", strerror(errno));
		nmport_close(s);
		nmport_close(m);
		return 1;
	}

	int rc = 0;
	rc |= report("NIOCTXSYNC", time_loop(m->fd, NIOCTXSYNC, n, budget));
	rc |= report("NIOCRXSYNC", time_loop(s->fd, NIOCRXSYNC, n, budget));
	rc |= report("getppid", time_loop(-1, 0, n, budget));

	nmport_close(s);
	nmport_close(m);
	return rc;
}
