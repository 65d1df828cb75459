/*
 * legacy_client - a netmap client as written for kernel netmap: it includes
 * <net/netmap_user.h> with NETMAP_WITH_LIBS and reaches /dev/netmap only
 * through libc (open, ioctl, mmap, poll) from the header's inline library.
 * It is NOT linked with libunetmap: run it under unetmap-run.
 *
 *   legacy_client tx PORT N     send N numbered 60-byte frames
 *   legacy_client rx PORT N     receive N frames, check their order
 *   legacy_client rxany PORT N  receive N frames of any content
 */
#define NETMAP_WITH_LIBS
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <net/netmap_user.h>

static unsigned next_seq, errors, any;

static void on_frame(u_char *arg, const struct nm_pkthdr *h, const u_char *buf)
{
	(void)arg;
	unsigned v;
	memcpy(&v, buf + 14, sizeof(v));
	if (any)
		v = next_seq;
	if (v != next_seq || h->len != 60)
		errors++;
	next_seq = v + 1;
}

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	if (argc != 4)
		return 2;
	unsigned n = (unsigned)strtoul(argv[3], NULL, 10);
	struct nm_desc *d = nm_open(argv[2], NULL, 0, NULL);
	if (d == NULL) {
		perror("nm_open");
		return 1;
	}
	struct pollfd p = { .fd = NETMAP_FD(d) };
	double end = now() + 20;
	unsigned done = 0;
	if (strcmp(argv[1], "tx") == 0) {
		unsigned char f[60];
		memset(f, 0xff, sizeof(f));
		p.events = POLLOUT;
		while (done < n && now() < end) {
			memcpy(f + 14, &done, sizeof(done));
			if (nm_inject(d, f, sizeof(f)) > 0)
				done++;
			else
				poll(&p, 1, 100);	/* implicit txsync */
		}
		/* push the rest out; on a pipe the last slots only come back
		 * when the receiver releases them, which a receiver that has
		 * its count and exits never does: do not wait for that long */
		double flush_end = now() + 2;
		while (now() < end && now() < flush_end) {
			ioctl(NETMAP_FD(d), NIOCTXSYNC, NULL);
			struct netmap_ring *r = NETMAP_TXRING(d->nifp, d->first_tx_ring);
			if (!nm_tx_pending(r))
				break;
			poll(&p, 1, 10);
		}
	} else {
		any = strcmp(argv[1], "rxany") == 0;
		p.events = POLLIN;
		while (next_seq < n && now() < end) {
			if (poll(&p, 1, 200) > 0)
				nm_dispatch(d, -1, on_frame, NULL);
		}
		done = next_seq;
	}
	nm_close(d);
	printf("%s %u frames, %u errors\n", any ? "rx" : argv[1], done, errors);
	return done == n && errors == 0 ? 0 : 1;
}
