/*
 * vale_idle - helper for the VALE rows of `make bench`.
 *
 *   vale_idle PREFIX K
 *       Opens K VALE ports PREFIX0 .. PREFIX<K-1> (e.g. PREFIX "vale3:idle"
 *       gives vale3:idle0, vale3:idle1, ...) with nmport_open(), prints
 *       "ready K" on stdout once all are open, then sleeps until SIGINT,
 *       SIGTERM or SIGHUP (or at most 600 s), closes them and exits 0.
 *       The ports stay attached to the switch and idle: nothing is ever
 *       received from or sent on them.  Exits 1 (after closing what it had
 *       opened) if a port cannot be opened.
 *
 *   vale_idle -1 PORT SRC-MAC
 *       Announces SRC-MAC on PORT so that the switch learns it: opens
 *       PORT/T (its TX rings only, so it can share the port with a
 *       receiver that holds it), sends one 60-byte broadcast frame with
 *       source SRC-MAC (ethertype 0x88b5), NIOCTXSYNC, closes.  Exits 0 if
 *       the frame left the TX ring.
 *
 *   vale_idle -s SWITCH
 *       Prints the counters of every port of SWITCH (unetmap_vale_stats()),
 *       one line per port:
 *         port NAME rx_frames N tx_frames N drop_full N drop_closed N
 *       then "idle_ports K rx_frames N": how many ports have a name that
 *       contains ":i" (the idle ports of the N-port rows) and the sum of
 *       their rx_frames.
 *
 * Linked with -lunetmap; the runtime directory is the library's
 * (UNETMAP_DIR if set).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include <libnetmap.h>
#include <unetmap.h>

#define MAX_IDLE 1024

static volatile sig_atomic_t stop_flag;

static void on_signal(int sig)
{
	(void)sig;
	stop_flag = 1;
}

static int parse_mac(const char *s, unsigned char mac[6])
{
	unsigned int b[6];
	char tail;

	if (sscanf(s, "%x:%x:%x:%x:%x:%x%c", &b[0], &b[1], &b[2], &b[3], &b[4], &b[5], &tail) != 6)
		return -1;
	for (int i = 0; i < 6; i++) {
		if (b[i] > 0xff)
			return -1;
		mac[i] = (unsigned char)b[i];
	}
	return 0;
}

static int announce(const char *port, const char *macstr)
{
	unsigned char mac[6];
	char name[256];

	if (parse_mac(macstr, mac) < 0) {
		fprintf(stderr, "vale_idle: bad MAC %s\n", macstr);
		return 2;
	}
	if (snprintf(name, sizeof(name), "%s/T", port) >= (int)sizeof(name)) {
		fprintf(stderr, "vale_idle: port name too long\n");
		return 2;
	}
	struct nmport_d *d = nmport_open(name);
	if (d == NULL) {
		fprintf(stderr, "vale_idle: nmport_open(%s): %s\n", name, strerror(errno));
		return 1;
	}
	struct netmap_ring *r = NETMAP_TXRING(d->nifp, d->first_tx_ring);
	int ret = 1;

	for (int tries = 0; tries < 100 && nm_ring_empty(r); tries++) {
		ioctl(d->fd, NIOCTXSYNC, NULL);
		usleep(1000);
	}
	if (!nm_ring_empty(r)) {
		struct netmap_slot *s = &r->slot[r->head];
		unsigned char *f = (unsigned char *)NETMAP_BUF(r, s->buf_idx);

		memset(f, 0, 60);
		memset(f, 0xff, 6);
		memcpy(f + 6, mac, 6);
		f[12] = 0x88;
		f[13] = 0xb5;
		s->len = 60;
		s->flags = 0;
		r->head = r->cur = nm_ring_next(r, r->head);
		/* sync until the switch has taken the frame (bounded: 100 ms) */
		for (int tries = 0; tries < 100; tries++) {
			if (ioctl(d->fd, NIOCTXSYNC, NULL) < 0) {
				fprintf(stderr, "vale_idle: NIOCTXSYNC on %s: %s\n", name, strerror(errno));
				break;
			}
			if (nm_tx_pending(r) == 0) {
				ret = 0;
				break;
			}
			usleep(1000);
		}
	}
	if (ret != 0)
		fprintf(stderr, "vale_idle: could not send the announcement on %s\n", name);
	nmport_close(d);
	return ret;
}

static int stats(const char *sw)
{
#ifdef UNETMAP_VALE_MAXPORTS
	static struct unetmap_vale_port_stats st[UNETMAP_VALE_MAXPORTS];
	int n = unetmap_vale_stats(sw, st, UNETMAP_VALE_MAXPORTS);
	unsigned long long idle_rx = 0;
	unsigned idle_n = 0;

	if (n < 0) {
		fprintf(stderr, "vale_idle: unetmap_vale_stats(%s): %s\n", sw, strerror(-n));
		return 1;
	}
	for (int i = 0; i < n && i < UNETMAP_VALE_MAXPORTS; i++) {
		printf("port %s rx_frames %llu tx_frames %llu drop_full %llu drop_closed %llu\n",
		       st[i].name, (unsigned long long)st[i].rx_frames,
		       (unsigned long long)st[i].tx_frames, (unsigned long long)st[i].drop_full,
		       (unsigned long long)st[i].drop_closed);
		if (strstr(st[i].name, ":i") != NULL) {
			idle_rx += st[i].rx_frames;
			idle_n++;
		}
	}
	printf("idle_ports %u rx_frames %llu\n", idle_n, idle_rx);
	return 0;
#else
	fprintf(stderr, "vale_idle: built without unetmap_vale_stats() (switch %s)\n", sw);
	return 1;
#endif
}

static int idle(const char *prefix, long k)
{
	static struct nmport_d *ports[MAX_IDLE];
	char name[256];
	long n = 0;
	int ret = 0;

	for (; n < k; n++) {
		if (snprintf(name, sizeof(name), "%s%ld", prefix, n) >= (int)sizeof(name)) {
			fprintf(stderr, "vale_idle: port name too long\n");
			ret = 2;
			break;
		}
		ports[n] = nmport_open(name);
		if (ports[n] == NULL) {
			fprintf(stderr, "vale_idle: nmport_open(%s): %s\n", name, strerror(errno));
			ret = 1;
			break;
		}
	}
	if (ret == 0) {
		printf("ready %ld\n", k);
		fflush(stdout);
		time_t end = time(NULL) + 600;

		while (!stop_flag && time(NULL) < end)
			sleep(1);	/* a signal cuts it short */
	}
	while (n > 0)
		nmport_close(ports[--n]);
	return ret;
}

int main(int argc, char **argv)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);

	if (argc == 4 && strcmp(argv[1], "-1") == 0)
		return announce(argv[2], argv[3]);
	if (argc == 3 && strcmp(argv[1], "-s") == 0)
		return stats(argv[2]);
	if (argc == 3) {
		char *end;
		long k = strtol(argv[2], &end, 10);

		if (*end == '\0' && k >= 0 && k <= MAX_IDLE)
			return idle(argv[1], k);
	}
	fprintf(stderr, "usage: vale_idle PREFIX K      (0 <= K <= %d)\n"
			"       vale_idle -1 PORT SRC-MAC\n"
			"       vale_idle -s SWITCH\n", MAX_IDLE);
	return 2;
}
