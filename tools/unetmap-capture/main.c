/*
 * unetmap-capture - write the frames arriving on a netmap port to a pcap
 * or pcapng file.
 *
 *   unetmap-capture -i PORT [-w FILE] [-F pcap|pcapng] [-c COUNT]
 *                   [-d SECONDS] [-s SNAPLEN] [-q] [FILTER...]
 *
 * The port is opened with nmport_open(), so any libnetmap port
 * specification works ("vale0:cap", "netmap:pipe}1", ...), and read
 * through all of its bound RX rings after poll(POLLIN).  A frame spread
 * over several slots (NS_MOREFRAG on all but the last) is put together
 * and written as one record.  Every frame of a batch (the slots found
 * after one poll()) gets the CLOCK_REALTIME time of that batch, in
 * nanoseconds.  An optional BPF filter (the remaining arguments, joined)
 * is compiled by libpcap loaded at run time (see filter.c).
 *
 * Exit status: 0 once the capture ended as asked (COUNT frames, SECONDS
 * elapsed, SIGINT/SIGTERM/SIGHUP), 1 on any error.
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include <libnetmap.h>
#include <unetmap.h>

#include "capture.h"

/* a burst is considered over (and the file flushed) after this long
 * without frames, so that a reader at the other end of a pipe sees it */
#define IDLE_FLUSH_MS	20
#define TICK_NS		1000000000LL

static volatile sig_atomic_t stop_signal;

static void on_signal(int sig)
{
	stop_signal = sig;
}

/* A NS_MOREFRAG chain being put together (one per RX ring: a chain
 * never spans rings).  Only the first snaplen bytes are kept. */
struct chain {
	unsigned char *buf;	/* snaplen bytes */
	uint32_t caplen;	/* bytes in buf */
	uint64_t origlen;	/* bytes of the frame so far */
	int active;		/* slots seen, last one not yet */
};

struct capture {
	const char *port;
	struct nmport_d *d;
	struct savefile sf;
	struct cap_filter *filter;
	uint32_t snaplen;
	uint64_t max_count;	/* 0: no limit */
	struct chain *chains;	/* per bound RX ring */
	struct timespec now;	/* CLOCK_REALTIME of the current batch */

	uint64_t received;	/* frames seen (non-empty) */
	uint64_t rejected;	/* of those, refused by the filter */
	uint64_t empty;		/* zero-length frames skipped */
	uint64_t captured;	/* frames written */
	uint64_t bytes;		/* their original lengths */
	int done;		/* max_count reached */
	int failed;		/* write error */
};

static void usage(FILE *f)
{
	fprintf(f,
	    "usage: " CAP_PROG " -i PORT [-w FILE] [-F pcap|pcapng] [-c COUNT] "
	    "[-d SECONDS]\n"
	    "                       [-s SNAPLEN] [-q] [FILTER...]\n"
	    "  capture the frames arriving on a netmap port\n"
	    "  -i PORT     port specification, as for nmport_open() (vale0:cap,\n"
	    "              netmap:pipe}1, ...)\n"
	    "  -w FILE     write to FILE ('-' or none: standard output, which "
	    "must not\n"
	    "              be a terminal)\n"
	    "  -F FORMAT   pcap (nanosecond timestamps, the default) or pcapng\n"
	    "              (the default if FILE ends in .pcapng)\n"
	    "  -c COUNT    stop after COUNT frames written\n"
	    "  -d SECONDS  stop after SECONDS (fractions allowed)\n"
	    "  -s SNAPLEN  keep at most SNAPLEN bytes of each frame (1..%u, "
	    "0 or\n"
	    "              default: %u)\n"
	    "  -q          no live counter on standard error\n"
	    "  FILTER      a BPF filter expression (as for tcpdump); needs "
	    "libpcap\n"
	    "              (libpcap.so.0.8) at run time\n"
	    "  SIGINT, SIGTERM or SIGHUP end the capture; the file is complete.\n",
	    CAP_MAX_SNAPLEN, CAP_MAX_SNAPLEN);
}

static int64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static int parse_u64(const char *s, uint64_t *v)
{
	char *end;
	unsigned long long x;

	if (*s == '\0' || *s == '-')
		return -1;
	errno = 0;
	x = strtoull(s, &end, 10);
	if (errno || *end != '\0')
		return -1;
	*v = x;
	return 0;
}

/* "1.5k" style, three significant digits */
static const char *human(char *buf, size_t len, double v)
{
	static const char *const units[] = { "", "k", "M", "G", "T" };
	int i = 0;

	while (v >= 1000.0 && i < 4) {
		v /= 1000.0;
		i++;
	}
	if (i == 0)
		snprintf(buf, len, "%.0f", v);
	else
		snprintf(buf, len, "%.*f%s", v < 10 ? 2 : v < 100 ? 1 : 0, v,
			 units[i]);
	return buf;
}

/* ---- receiving ---------------------------------------------------------- */

/* One complete frame: count it, filter it, write it. */
static void frame(struct capture *c, const unsigned char *data,
		  uint32_t caplen, uint64_t origlen)
{
	if (origlen == 0) {	/* e.g. a VALE slot lost with its sender */
		c->empty++;
		return;
	}
	c->received++;
	if (c->filter != NULL &&
	    !filter_match(c->filter, &c->now, data, caplen, origlen)) {
		c->rejected++;
		return;
	}
	if (sf_packet(&c->sf, &c->now, data, caplen, origlen) < 0) {
		c->failed = 1;
		return;
	}
	c->captured++;
	c->bytes += origlen;
	if (c->max_count != 0 && c->captured >= c->max_count)
		c->done = 1;
}

/* Consume the slots the last sync made available in RING. */
static void drain_ring(struct capture *c, struct netmap_ring *ring,
		       struct chain *ch)
{
	const uint32_t bufsz = ring->nr_buf_size, tail = ring->tail;
	uint32_t head = ring->head;

	while (head != tail && !c->done && !c->failed) {
		struct netmap_slot *s = &ring->slot[head];
		uint64_t off = NETMAP_ROFFSET(ring, s);
		uint32_t len = s->len;
		const unsigned char *p;

		/* never read past the buffer, whatever the sender wrote */
		if (off >= bufsz)
			len = 0;
		else if (len > bufsz - off)
			len = bufsz - (uint32_t)off;
		p = (const unsigned char *)NETMAP_BUF(ring, s->buf_idx) + off;
		if ((s->flags & NS_MOREFRAG) || ch->active) {
			uint32_t room = c->snaplen - ch->caplen;
			uint32_t n = len < room ? len : room;

			memcpy(ch->buf + ch->caplen, p, n);
			ch->caplen += n;
			ch->origlen += len;
			ch->active = 1;
			if (!(s->flags & NS_MOREFRAG)) {
				frame(c, ch->buf, ch->caplen, ch->origlen);
				ch->caplen = 0;
				ch->origlen = 0;
				ch->active = 0;
			}
		} else {
			frame(c, p, len < c->snaplen ? len : c->snaplen, len);
		}
		head = nm_ring_next(ring, head);
	}
	ring->head = ring->cur = head;
}

static void drain_all(struct capture *c)
{
	struct nmport_d *d = c->d;

	clock_gettime(CLOCK_REALTIME, &c->now);
	for (unsigned i = d->first_rx_ring; i <= d->last_rx_ring; i++) {
		if (c->done || c->failed)
			break;
		drain_ring(c, NETMAP_RXRING(d->nifp, i),
			   &c->chains[i - d->first_rx_ring]);
	}
}

/* ---- the live counter --------------------------------------------------- */

struct live {
	int on, tty, shown;
	int64_t last_ns;
	uint64_t last_pkts, last_bytes;
};

static void live_show(struct live *lv, const struct capture *c, int64_t now)
{
	double dt = (double)(now - lv->last_ns) / 1e9;
	double pps = dt > 0 ? (double)(c->captured - lv->last_pkts) / dt : 0;
	double bps = dt > 0 ? (double)(c->bytes - lv->last_bytes) * 8 / dt : 0;
	char b1[32], b2[32], b3[32];

	fprintf(stderr, "%s%s: %" PRIu64 " packets, %sB, %s pkt/s, %sbit/s%s",
		lv->tty ? "\r" : "", c->port, c->captured,
		human(b1, sizeof(b1), (double)c->bytes),
		human(b2, sizeof(b2), pps), human(b3, sizeof(b3), bps),
		lv->tty ? "\033[K" : "\n");
	fflush(stderr);
	lv->shown = 1;
	lv->last_ns = now;
	lv->last_pkts = c->captured;
	lv->last_bytes = c->bytes;
}

/* ---- main ---------------------------------------------------------------- */

static int install_signals(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	/* no SA_RESTART: poll() returns EINTR; a second signal kills */
	sa.sa_flags = SA_RESETHAND;
	if (sigaction(SIGINT, &sa, NULL) < 0 ||
	    sigaction(SIGTERM, &sa, NULL) < 0 ||
	    sigaction(SIGHUP, &sa, NULL) < 0)
		return -1;
	/* a reader that went away is a write error, not a silent death */
	signal(SIGPIPE, SIG_IGN);
	return 0;
}

static char *join_args(int argc, char **argv)
{
	size_t len = 1;
	char *s;

	for (int i = 0; i < argc; i++)
		len += strlen(argv[i]) + 1;
	s = malloc(len);
	if (s == NULL)
		return NULL;
	s[0] = '\0';
	for (int i = 0; i < argc; i++) {
		if (i > 0)
			strcat(s, " ");
		strcat(s, argv[i]);
	}
	return s;
}

static int ends_with(const char *s, const char *suffix)
{
	size_t a = strlen(s), b = strlen(suffix);

	return a >= b && strcmp(s + a - b, suffix) == 0;
}

int main(int argc, char **argv)
{
	struct capture c;
	struct live lv;
	const char *path = NULL, *fmtname = NULL;
	enum cap_format format = CAP_FMT_PCAP;
	double duration = 0;
	uint64_t v;
	int quiet = 0, opt, rc = 1, ch;
	int64_t start, deadline = 0, next_tick;
	struct pollfd pfd;
	unsigned nrings = 0;

	memset(&c, 0, sizeof(c));
	memset(&lv, 0, sizeof(lv));
	c.snaplen = CAP_MAX_SNAPLEN;
	while ((opt = getopt(argc, argv, "hi:w:F:c:d:s:q")) != -1) {
		switch (opt) {
		case 'h':
			usage(stdout);
			return 0;
		case 'i':
			c.port = optarg;
			break;
		case 'w':
			path = optarg;
			break;
		case 'F':
			fmtname = optarg;
			if (strcmp(optarg, "pcap") == 0) {
				format = CAP_FMT_PCAP;
			} else if (strcmp(optarg, "pcapng") == 0) {
				format = CAP_FMT_PCAPNG;
			} else {
				fprintf(stderr, "%s: unknown format '%s' "
					"(pcap or pcapng)\n", CAP_PROG, optarg);
				return 1;
			}
			break;
		case 'c':
			if (parse_u64(optarg, &c.max_count) < 0 ||
			    c.max_count == 0) {
				fprintf(stderr, "%s: bad count '%s' (a number "
					"above 0)\n", CAP_PROG, optarg);
				return 1;
			}
			break;
		case 'd': {
			char *end;

			errno = 0;
			duration = strtod(optarg, &end);
			if (errno || *end != '\0' || end == optarg ||
			    !isfinite(duration) || duration <= 0 ||
			    duration > 1e9) {
				fprintf(stderr, "%s: bad duration '%s' "
					"(seconds above 0)\n", CAP_PROG, optarg);
				return 1;
			}
			break;
		}
		case 's':
			if (parse_u64(optarg, &v) < 0 || v > CAP_MAX_SNAPLEN) {
				fprintf(stderr, "%s: bad snaplen '%s' (0..%u)\n",
					CAP_PROG, optarg, CAP_MAX_SNAPLEN);
				return 1;
			}
			c.snaplen = v == 0 ? CAP_MAX_SNAPLEN : (uint32_t)v;
			break;
		case 'q':
			quiet = 1;
			break;
		default:
			usage(stderr);
			return 1;
		}
	}
	if (c.port == NULL) {
		fprintf(stderr, "%s: no port given (-i PORT)\n", CAP_PROG);
		usage(stderr);
		return 1;
	}
	if (fmtname == NULL && path != NULL && ends_with(path, ".pcapng"))
		format = CAP_FMT_PCAPNG;
	if ((path == NULL || strcmp(path, "-") == 0) && isatty(STDOUT_FILENO)) {
		fprintf(stderr, "%s: not writing a capture to a terminal: give "
			"-w FILE or redirect standard output\n", CAP_PROG);
		return 1;
	}
	if (optind < argc) {
		char *expr = join_args(argc - optind, argv + optind);

		if (expr == NULL) {
			fprintf(stderr, "%s: out of memory\n", CAP_PROG);
			return 1;
		}
		c.filter = filter_compile(expr, c.snaplen);
		free(expr);
		if (c.filter == NULL)
			return 1;
	}
	if (install_signals() < 0) {
		fprintf(stderr, "%s: sigaction: %s\n", CAP_PROG, strerror(errno));
		goto out;
	}

	c.d = nmport_open(c.port);
	if (c.d == NULL) {
		int e = errno;
		const char *why = unetmap_last_error();

		fprintf(stderr, "%s: cannot open port %s: %s%s%s%s\n", CAP_PROG,
			c.port, strerror(e), why[0] ? " (" : "", why,
			why[0] ? ")" : "");
		goto out;
	}
	if (c.d->first_rx_ring > c.d->last_rx_ring) {
		fprintf(stderr, "%s: port %s has no RX ring bound\n", CAP_PROG,
			c.port);
		goto out;
	}
	nrings = (unsigned)(c.d->last_rx_ring - c.d->first_rx_ring + 1);
	c.chains = calloc(nrings, sizeof(*c.chains));
	if (c.chains == NULL)
		goto nomem;
	for (unsigned i = 0; i < nrings; i++) {
		c.chains[i].buf = malloc(c.snaplen);
		if (c.chains[i].buf == NULL)
			goto nomem;
	}
	if (sf_open(&c.sf, path, format, c.snaplen, c.port) < 0) {
		c.sf.buf = NULL;
		goto out;
	}
	fprintf(stderr, "%s: capturing on %s (%u RX ring%s), snaplen %u, %s "
		"to %s%s\n", CAP_PROG, c.port, nrings, nrings == 1 ? "" : "s",
		c.snaplen, format == CAP_FMT_PCAP ? "pcap" : "pcapng",
		path && strcmp(path, "-") ? path : "standard output",
		c.filter ? ", filtered" : "");
	fflush(stderr);

	lv.on = !quiet;
	lv.tty = isatty(STDERR_FILENO);
	start = mono_ns();
	lv.last_ns = start;
	next_tick = start + TICK_NS;
	if (duration > 0)
		deadline = start + (int64_t)llround(duration * 1e9);
	pfd.fd = c.d->fd;
	pfd.events = POLLIN;

	while (!stop_signal && !c.done && !c.failed) {
		int64_t now = mono_ns(), wait_ns = next_tick - now;
		int timeout, n;

		if (deadline && now >= deadline)
			break;
		if (now >= next_tick) {		/* about once a second */
			if (lv.on)
				live_show(&lv, &c, now);
			if (sf_flush(&c.sf) < 0) {
				c.failed = 1;
				break;
			}
			next_tick = now + TICK_NS;
			wait_ns = TICK_NS;
		}
		if (deadline && deadline - now < wait_ns)
			wait_ns = deadline - now;
		if (sf_pending(&c.sf) &&
		    wait_ns > (int64_t)IDLE_FLUSH_MS * 1000000)
			wait_ns = (int64_t)IDLE_FLUSH_MS * 1000000;
		timeout = (int)((wait_ns + 999999) / 1000000);
		n = poll(&pfd, 1, timeout);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			fprintf(stderr, "%s: poll: %s\n", CAP_PROG,
				strerror(errno));
			goto out;
		}
		if (n > 0 && (pfd.revents & (POLLERR | POLLNVAL))) {
			fprintf(stderr, "%s: poll: error on port %s\n",
				CAP_PROG, c.port);
			goto out;
		}
		if (n == 0 && sf_flush(&c.sf) < 0) {	/* idle */
			c.failed = 1;
			break;
		}
		drain_all(&c);
	}
	/* hand the slots consumed since the last poll() back now: a sender
	 * waiting for room (a pipe's other end) sees it without waiting for
	 * our close */
	ioctl(c.d->fd, NIOCRXSYNC, NULL);
	if (lv.on && lv.shown && lv.tty)
		fputc('\n', stderr);
	if (sf_close(&c.sf) < 0 || c.failed) {
		fprintf(stderr, "%s: write error: %s\n", CAP_PROG,
			strerror(c.sf.err ? c.sf.err : EIO));
		c.failed = 1;
	}
	fprintf(stderr, "%" PRIu64 " packets captured\n", c.captured);
	if (c.filter != NULL)
		fprintf(stderr, "%" PRIu64 " packets received by filter\n",
			c.received);
	if (c.empty != 0)
		fprintf(stderr, "%" PRIu64 " empty slots skipped\n", c.empty);
	rc = c.failed ? 1 : 0;
	goto out;

nomem:
	fprintf(stderr, "%s: out of memory\n", CAP_PROG);
out:
	if (c.sf.buf != NULL)
		sf_close(&c.sf);
	if (c.chains != NULL) {
		for (ch = 0; ch < (int)nrings; ch++)
			free(c.chains[ch].buf);
		free(c.chains);
	}
	nmport_close(c.d);
	filter_free(c.filter);
	return rc;
}
