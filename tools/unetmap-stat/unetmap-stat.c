/*
 * unetmap-stat - live per-port rates of VALE switches.
 *
 *   unetmap-stat [-b] [-i SECONDS] [-n COUNT] [SWITCH...]
 *
 * Every interval it takes a snapshot of the port counters of each switch
 * (unetmap_vale_stats()) and prints, per port, what changed since the
 * previous snapshot divided by the time elapsed: frames and bytes per
 * second received and sent, drops per second by reason.  Without switch
 * names every existing switch is shown (re-enumerated at each refresh).
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <unetmap.h>

static const char *prog = "unetmap-stat";

typedef struct unetmap_vale_port_stats pstats;

/* one switch's snapshot */
struct snap {
	char name[16];
	int nports;		/* < 0: the switch was not there */
	pstats ports[UNETMAP_VALE_MAXPORTS];
};

static void usage(FILE *f)
{
	fprintf(f,
	    "usage: unetmap-stat [-b] [-i SECONDS] [-n COUNT] [SWITCH...]\n"
	    "  live per-port rates of VALE switches (default: every switch)\n"
	    "  -i SECONDS  refresh interval, fractions allowed (default 1)\n"
	    "  -n COUNT    refresh COUNT times, then exit (default: forever)\n"
	    "  -b          batch mode: plain lines, never clear the screen\n"
	    "              (the default clears it only when stdout is a terminal)\n"
	    "columns are per second: frames and bytes received (RX) and sent (TX)\n"
	    "by each port, and frames it sent that were dropped because the\n"
	    "destination ring was full, the destination was not open, the frame\n"
	    "was malformed, or (DEAD) frames to it lost with a sender that died\n");
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void sleep_s(double s)
{
	struct timespec ts;
	ts.tv_sec = (time_t)s;
	ts.tv_nsec = (long)((s - (double)ts.tv_sec) * 1e9);
	if (ts.tv_nsec >= 1000000000L)
		ts.tv_nsec = 999999999L;
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static void take(struct snap *s)
{
	int n = unetmap_vale_stats(s->name, s->ports, UNETMAP_VALE_MAXPORTS);
	if (n > UNETMAP_VALE_MAXPORTS)
		n = UNETMAP_VALE_MAXPORTS;
	s->nports = n;
}

/* the same port in the previous snapshot of its switch, if any */
static const pstats *find_prev(const struct snap *prev, const pstats *p)
{
	if (prev == NULL || prev->nports <= 0)
		return NULL;
	for (int i = 0; i < prev->nports; i++) {
		const pstats *q = &prev->ports[i];
		if (q->port_idx == p->port_idx && strcmp(q->name, p->name) == 0)
			return q;
	}
	return NULL;
}

/* counter growth; a counter that went back means a new port in its place */
static uint64_t delta(uint64_t cur, uint64_t old, int *reset)
{
	if (cur < old) {
		*reset = 1;
		return cur;
	}
	return cur - old;
}

static void fmt_rate(char *buf, size_t len, double v)
{
	snprintf(buf, len, "%.0f", v < 0 ? 0 : floor(v + 0.5));
}

static void print_header(void)
{
	printf("%-24s %4s %12s %14s %12s %14s %10s %10s %10s %10s\n",
	       "PORT", "IDX", "RX_FPS", "RX_BPS", "TX_FPS", "TX_BPS",
	       "DROP_FULL", "DROP_CLOSD", "DROP_MALF", "DROP_DEAD");
}

static void print_port(const pstats *p, const pstats *q, double dt)
{
	uint64_t d[8];
	const uint64_t cur[8] = { p->rx_frames, p->rx_bytes, p->tx_frames, p->tx_bytes,
				  p->drop_full, p->drop_closed, p->drop_malformed,
				  p->drop_dead };
	uint64_t old[8] = { 0 };
	int reset = 0;

	if (q != NULL) {
		old[0] = q->rx_frames; old[1] = q->rx_bytes;
		old[2] = q->tx_frames; old[3] = q->tx_bytes;
		old[4] = q->drop_full; old[5] = q->drop_closed;
		old[6] = q->drop_malformed; old[7] = q->drop_dead;
	}
	for (int i = 0; i < 8; i++)
		d[i] = delta(cur[i], old[i], &reset);
	if (reset) /* a different port took the index: count from zero */
		for (int i = 0; i < 8; i++)
			d[i] = cur[i];
	char r[8][32];
	for (int i = 0; i < 8; i++)
		fmt_rate(r[i], sizeof(r[i]), (double)d[i] / dt);
	printf("%-24.*s %4" PRIu32 " %12s %14s %12s %14s %10s %10s %10s %10s\n",
	       (int)sizeof(p->name), p->name, p->port_idx,
	       r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7]);
}

/* NIC ports: which data path each got */
static void print_nics(void)
{
	char names[64][16];
	int n = unetmap_nic_ports(names, 64);
	for (int i = 0; i < n && i < 64; i++) {
		struct unetmap_nic_info ni;
		if (unetmap_nic_info(names[i], &ni) < 0) {
			printf("netmap:%s: not held (%s)\n", names[i], strerror(errno));
			continue;
		}
		printf("netmap:%s: %s data path (%s mode), %u/%u RX/TX queues, %u user%s%s%s%s%s\n",
		       ni.ifname, ni.backend, ni.mode, ni.nrxq, ni.ntxq, ni.users,
		       ni.users == 1 ? "" : "s", ni.tap[0] ? ", host rings on " : "", ni.tap,
		       ni.note[0] ? "; " : "", ni.note);
	}
}

int main(int argc, char **argv)
{
	double interval = 1.0;
	long count = -1;	/* forever */
	int batch = 0, opt;

	opterr = 0;
	while ((opt = getopt(argc, argv, "bi:n:h")) != -1) {
		char *end;
		switch (opt) {
		case 'b':
			batch = 1;
			break;
		case 'i':
			errno = 0;
			interval = strtod(optarg, &end);
			if (errno != 0 || end == optarg || *end != '\0' ||
			    !(interval >= 0.01 && interval <= 86400.0)) {
				fprintf(stderr, "%s: bad interval '%s' (0.01 to 86400 s)\n",
					prog, optarg);
				return 1;
			}
			break;
		case 'n':
			errno = 0;
			count = strtol(optarg, &end, 10);
			if (errno != 0 || end == optarg || *end != '\0' || count < 1) {
				fprintf(stderr, "%s: bad count '%s' (1 or more)\n", prog, optarg);
				return 1;
			}
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			if (optopt == 'i' || optopt == 'n')
				fprintf(stderr, "%s: -%c needs an argument\n", prog, optopt);
			else
				fprintf(stderr, "%s: unknown option -%c\n", prog, optopt);
			usage(stderr);
			return 1;
		}
	}

	int fixed = argc - optind;	/* switches named on the command line */
	if (fixed > UNETMAP_VALE_MAXSWITCHES) {
		fprintf(stderr, "%s: at most %d switches\n", prog, UNETMAP_VALE_MAXSWITCHES);
		return 1;
	}
	/* two generations of snapshots, swapped at each refresh */
	struct snap *gen[2];
	int ngen[2] = { 0, 0 };
	for (int g = 0; g < 2; g++) {
		gen[g] = calloc(UNETMAP_VALE_MAXSWITCHES, sizeof(struct snap));
		if (gen[g] == NULL) {
			fprintf(stderr, "%s: out of memory\n", prog);
			return 1;
		}
	}
	for (int i = 0; i < fixed; i++) {
		const char *a = argv[optind + i];
		size_t len = strcspn(a, ":");
		if (len == 0 || len >= sizeof(gen[0][0].name)) {
			fprintf(stderr, "%s: %s: not a switch name (valeS)\n", prog, a);
			return 1;
		}
		for (int g = 0; g < 2; g++) {
			memcpy(gen[g][i].name, a, len);
			gen[g][i].name[len] = '\0';
		}
	}

	int clear = !batch && isatty(STDOUT_FILENO);
	char (*names)[16] = calloc(UNETMAP_VALE_MAXSWITCHES, sizeof(*names));
	if (names == NULL) {
		fprintf(stderr, "%s: out of memory\n", prog);
		return 1;
	}

	int cur = 0;
	double t_prev = 0;
	/* refresh 0 is the baseline, not printed */
	for (long r = 0; count < 0 || r <= count; r++) {
		struct snap *s = gen[cur];
		int n;
		if (fixed > 0) {
			n = fixed;
		} else {
			int k = unetmap_vale_switches(names, UNETMAP_VALE_MAXSWITCHES);
			if (k < 0) {
				fprintf(stderr, "%s: cannot list switches: %s\n", prog,
					strerror(-k));
				return 1;
			}
			n = k > UNETMAP_VALE_MAXSWITCHES ? UNETMAP_VALE_MAXSWITCHES : k;
			for (int i = 0; i < n; i++)
				snprintf(s[i].name, sizeof(s[i].name), "%.15s", names[i]);
		}
		double t = now_s();
		for (int i = 0; i < n; i++) {
			take(&s[i]);
			if (s[i].nports < 0 && r == 0 && fixed > 0) {
				int e = -s[i].nports;
				fprintf(stderr, "%s: %s: %s\n", prog, s[i].name,
					e == ENOENT ? "no such switch" :
					e == EINVAL ? "not a switch name (valeS)" : strerror(e));
				return 1;
			}
		}
		ngen[cur] = n;

		if (r > 0) {
			const struct snap *prev = gen[cur ^ 1];
			int nprev = ngen[cur ^ 1];
			double dt = t - t_prev;
			if (dt <= 0)
				dt = 1e-9;
			if (clear)
				fputs("\033[H\033[2J", stdout);
			time_t wall = time(NULL);
			struct tm tm;
			char when[32] = "";
			if (localtime_r(&wall, &tm) != NULL)
				strftime(when, sizeof(when), "%H:%M:%S", &tm);
			printf("unetmap-stat %s  interval %.2f s  %d switch%s\n", when, dt,
			       n, n == 1 ? "" : "es");
			if (n == 0)
				printf("(no VALE switch)\n");
			for (int i = 0; i < n; i++) {
				const struct snap *p = NULL;
				for (int j = 0; j < nprev; j++)
					if (strcmp(prev[j].name, s[i].name) == 0) {
						p = &prev[j];
						break;
					}
				if (s[i].nports < 0) {
					printf("%s: %s\n", s[i].name, s[i].nports == -ENOENT ?
					       "no such switch" : strerror(-s[i].nports));
					continue;
				}
				printf("%s: %d port%s\n", s[i].name, s[i].nports,
				       s[i].nports == 1 ? "" : "s");
				print_header();
				for (int k = 0; k < s[i].nports; k++)
					print_port(&s[i].ports[k],
						   find_prev(p, &s[i].ports[k]), dt);
			}
			print_nics();
			if (!clear)
				putchar('\n');
			fflush(stdout);
		}
		t_prev = t;
		cur ^= 1;
		if (count >= 0 && r == count)
			break;
		double left = interval - (now_s() - t);
		if (left > 0)
			sleep_s(left);
	}
	free(names);
	free(gen[0]);
	free(gen[1]);
	return 0;
}
