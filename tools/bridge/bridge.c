/*
 * bridge - forward frames both ways between two netmap ports (unetmap's own
 * implementation of netmap's tool of the same name, same command line).
 *
 *   bridge [-v] [-c] [-L] [-b burst] [-w wait_link] -i PORT_A [-i PORT_B]
 *   bridge [-v] [-c] [-L] [-w wait_link] [PORT_A [PORT_B [burst]]]
 *
 * With one port, or twice the same one, PORT_A is bridged with its host
 * stack: the ports opened are PORT_A^ (host rings) and PORT_A (NIC rings),
 * so `bridge -i netmap:eth0` puts a netmap application in the path between
 * eth0 and the Linux stack.  -L instead loops PORT_A's traffic back to it.
 *
 * What it does at the system-call level is what netmap's tool does: two
 * nmport_open()s, then a poll() loop on both descriptors in which a side
 * with frames waiting asks POLLOUT on the other side and a side with
 * nothing waiting asks POLLIN (poll's implicit txsync/rxsync moves the
 * rings; no NIOC*SYNC in the loop).  Frames go from every bound RX ring of
 * one side to the bound TX rings of the other, by swapping buffer indices
 * (NS_BUF_CHANGED on both slots) when the two registrations share a memory
 * region (same nr_mem_id, e.g. netmap:eth0 and netmap:eth0^; -c forces a
 * copy), by copying otherwise.  NS_MOREFRAG chains stay whole: a chain
 * whose end has not arrived waits, and one that does not fit in a TX ring
 * goes to the next ring as a whole.
 *
 * Beyond upstream: -b bounds the slots moved per direction per poll round
 * (upstream: per ring pair), SIGTERM stops it like SIGINT, pending TX
 * slots are flushed before closing, and a statistics summary is printed on
 * stdout at exit (packets, bytes, slots, swaps or copies, drops, rates).
 *
 * Exit status: 0 after SIGINT/SIGTERM, 1 on a usage error or when a port
 * cannot be opened.
 */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <libnetmap.h>
#include <unetmap.h>

#define BURST_DEF	1024u
#define BURST_MAX	8192u
#define WAIT_DEF	4u		/* seconds, as upstream's code (its man page says 2) */
#define WAIT_MAX	100u
#define POLL_MS		2500

static int verbose;
static volatile sig_atomic_t do_abort;

/* one end of the bridge */
struct side {
	struct nmport_d *d;
	const char *name;	/* as opened */
	bool host;		/* bound to host rings */
};

/* one direction, src -> dst */
struct dir {
	struct side *src, *dst;
	char label[160];
	uint64_t pkts, bytes, slots;
	uint64_t swaps, copies;	/* slots moved by buffer swap / by copy */
	uint64_t bad;		/* frames dropped: bad buffer index or length */
};

static void on_signal(int sig)
{
	(void)sig;
	do_abort = 1;
}

static void usage(void)
{
	fprintf(stderr,
	    "netmap bridge program: forward packets between two netmap ports\n"
	    "    usage(1): bridge [-v] [-c] [-i ifa] [-i ifb] [-b burst] [-w wait_time] [-L]\n"
	    "    usage(2): bridge [-v] [-c] [-w wait_time] [-L] [ifa [ifb [burst]]]\n"
	    "\n"
	    "    ifa and ifb are netmap port names (netmap:eth0, vale0:a, netmap:p{1, ...).\n"
	    "    When ifb is missing (or equal to ifa), bridge forwards between ifa\n"
	    "    and its host stack (ifa^) unless -L is given, which loops the traffic\n"
	    "    of ifa back to it.\n"
	    "\n"
	    "    -b burst      slots moved per direction per round (1..%u, default %u)\n"
	    "    -w wait_time  seconds to wait for the link before forwarding (0..%u,\n"
	    "                  default %u)\n"
	    "    -c            copy frames even when the ports share memory\n"
	    "    -v            verbose (twice: every frame)\n"
	    "    -h            this help\n"
	    "\n"
	    "    example: bridge -w 10 -i netmap:eth3 -i netmap:eth1\n"
	    "\n"
	    "    Two interfaces must be in promiscuous mode. When bridging an interface\n"
	    "    with its host stack, turn off the checksum offloads that leave frames\n"
	    "    with incomplete checksums (on a veth: ethtool -K PEER tx off on the\n"
	    "    peer; see README.md).  Statistics are printed at exit (SIGINT, SIGTERM).\n",
	    BURST_MAX, BURST_DEF, WAIT_MAX, WAIT_DEF);
	exit(1);
}

/* ---- rings ---------------------------------------------------------------- */

/* Slots of the frame that starts at slot i of an RX ring with avail slots
 * from i to tail; 0 if its last slot (no NS_MOREFRAG) has not arrived. */
static uint32_t frame_slots(struct netmap_ring *r, uint32_t i, uint32_t avail)
{
	for (uint32_t n = 1; n <= avail; n++) {
		if (!(r->slot[i].flags & NS_MOREFRAG))
			return n;
		i = nm_ring_next(r, i);
	}
	return 0;
}

/* a complete frame waits at the head of some bound RX ring */
static bool rx_frames_ready(struct nmport_d *d)
{
	for (unsigned ri = d->first_rx_ring; ri <= d->last_rx_ring; ri++) {
		struct netmap_ring *r = NETMAP_RXRING(d->nifp, ri);
		uint32_t avail = nm_ring_space(r);
		if (avail > 0 && (frame_slots(r, r->head, avail) > 0 || avail == r->num_slots - 1))
			return true;	/* (a full ring of one unfinished chain is dropped) */
	}
	return false;
}

static unsigned rx_slots_avail(struct nmport_d *d)
{
	unsigned tot = 0;
	for (unsigned ri = d->first_rx_ring; ri <= d->last_rx_ring; ri++)
		tot += nm_ring_space(NETMAP_RXRING(d->nifp, ri));
	return tot;
}

static unsigned tx_slots_avail(struct nmport_d *d)
{
	unsigned tot = 0;
	for (unsigned ri = d->first_tx_ring; ri <= d->last_tx_ring; ri++)
		tot += nm_ring_space(NETMAP_TXRING(d->nifp, ri));
	return tot;
}

enum stop { STOP_LIMIT, STOP_RX, STOP_TX };

/*
 * Move whole frames from rx to tx, up to about limit slots (a frame is not
 * cut to respect it); *moved gets the slots taken from rx.  Says why it
 * stopped: limit reached, no complete frame left in rx, no room in tx for
 * the next frame.
 */
static enum stop rings_move(struct dir *dr, bool zcopy, struct netmap_ring *rx,
			    struct netmap_ring *tx, uint32_t limit, uint32_t *moved)
{
	uint32_t j = rx->head, k = tx->head;
	uint32_t ravail = nm_ring_space(rx), tavail = nm_ring_space(tx);
	uint32_t done = 0;
	enum stop why = STOP_LIMIT;

	if (verbose && (rx->flags || tx->flags))
		D("%s rxflags %x txflags %x", dr->label, rx->flags, tx->flags);
	while (done < limit) {
		uint32_t n = frame_slots(rx, j, ravail);
		if (n == 0) {
			if (ravail == rx->num_slots - 1) {
				/* a chain longer than the ring never completes */
				RD(2, "%s: %u-slot chain without an end dropped", dr->label, ravail);
				dr->bad++;
				j = (j + ravail) % rx->num_slots;
				done += ravail;
				ravail = 0;
			}
			why = STOP_RX;
			break;
		}
		if (done > 0 && done + n > limit)
			break;
		/* every slot of the frame must be valid, else the frame is dropped */
		bool ok = true;
		uint32_t i = j, len = 0;
		for (uint32_t c = 0; c < n; c++, i = nm_ring_next(rx, i)) {
			const struct netmap_slot *rs = &rx->slot[i];
			if (rs->buf_idx < 2 || rs->len > rx->nr_buf_size ||
			    (!zcopy && rs->len > tx->nr_buf_size))
				ok = false;
			len += rs->len;
		}
		if (!ok) {
			RD(2, "%s: bad slot in a %u-slot frame at rx[%u], dropped", dr->label, n, j);
			dr->bad++;
			j = i;
			ravail -= n;
			done += n;
			continue;
		}
		if (n > tavail) {
			why = STOP_TX;
			break;
		}
		for (uint32_t c = 0; c < n; c++) {
			struct netmap_slot *rs = &rx->slot[j], *ts = &tx->slot[k];
			if (verbose > 1)
				D("%s: fwd len %u, rx[%u] -> tx[%u]", dr->label, rs->len, j, k);
			ts->len = rs->len;
			if (zcopy) {
				uint32_t b = ts->buf_idx;
				ts->buf_idx = rs->buf_idx;
				rs->buf_idx = b;
				ts->flags |= NS_BUF_CHANGED;
				rs->flags |= NS_BUF_CHANGED;
				dr->swaps++;
			} else {
				nm_pkt_copy(NETMAP_BUF(rx, rs->buf_idx), NETMAP_BUF(tx, ts->buf_idx),
					    rs->len);
				dr->copies++;
			}
			ts->flags = (ts->flags & ~NS_MOREFRAG) | (rs->flags & NS_MOREFRAG);
			j = nm_ring_next(rx, j);
			k = nm_ring_next(tx, k);
		}
		dr->pkts++;
		dr->bytes += len;
		dr->slots += n;
		ravail -= n;
		tavail -= n;
		done += n;
	}
	rx->head = rx->cur = j;
	tx->head = tx->cur = k;
	*moved = done;
	if (verbose && done > 0)
		D("%s fwd %u slots: rxring %u --> txring %u", dr->label, done, rx->ringid,
		  tx->ringid);
	return why;
}

/* Move frames from every bound RX ring of src to the bound TX rings of
 * dst, up to limit slots; returns the slots taken. */
static uint32_t ports_move(struct dir *dr, bool zcopy, uint32_t limit)
{
	struct nmport_d *src = dr->src->d, *dst = dr->dst->d;
	unsigned si = src->first_rx_ring, di = dst->first_tx_ring;
	uint32_t total = 0;

	while (si <= src->last_rx_ring && di <= dst->last_tx_ring && total < limit) {
		struct netmap_ring *rx = NETMAP_RXRING(src->nifp, si);
		struct netmap_ring *tx = NETMAP_TXRING(dst->nifp, di);
		if (nm_ring_empty(rx)) {
			si++;
			continue;
		}
		if (nm_ring_empty(tx)) {
			di++;
			continue;
		}
		uint32_t m;
		enum stop why = rings_move(dr, zcopy, rx, tx, limit - total, &m);
		total += m;
		if (why == STOP_RX)
			si++;
		else if (why == STOP_TX)
			di++;
	}
	return total;
}

/* ---- statistics ------------------------------------------------------------- */

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static const char *human(char *buf, size_t len, double v)
{
	static const char *const u[] = { "", "K", "M", "G", "T" };
	unsigned i = 0;
	while (v >= 1000.0 && i < 4) {
		v /= 1000.0;
		i++;
	}
	snprintf(buf, len, i ? "%.2f %s" : "%.0f %s", v, u[i]);
	return buf;
}

static void print_stats(const struct dir *d, int n, double secs, bool zcopy)
{
	char a[32], b[32];
	printf("bridge: %.3f s, %s\n", secs, zcopy ? "zero-copy (buffer swap)" : "copy");
	for (int i = 0; i < n; i++) {
		const struct dir *x = &d[i];
		printf("  %s: %" PRIu64 " packets, %" PRIu64 " bytes, %" PRIu64 " slots"
		       " (%" PRIu64 " swapped, %" PRIu64 " copied), %" PRIu64 " dropped;"
		       " %spps %sbps\n",
		       x->label, x->pkts, x->bytes, x->slots, x->swaps, x->copies, x->bad,
		       human(a, sizeof(a), secs > 0 ? (double)x->pkts / secs : 0),
		       human(b, sizeof(b), secs > 0 ? (double)x->bytes * 8 / secs : 0));
	}
	fflush(stdout);
}

/* ---- main ------------------------------------------------------------------- */

static bool parse_uint(const char *s, unsigned *out)
{
	char *end;
	errno = 0;
	unsigned long v = strtoul(s, &end, 0);
	if (errno != 0 || end == s || *end != '\0' || v > 1000000 || *s == '-')
		return false;
	*out = (unsigned)v;
	return true;
}

static bool host_mode(const struct nmport_d *d)
{
	return d->reg.nr_mode == NR_REG_SW || d->reg.nr_mode == NR_REG_ONE_SW;
}

int main(int argc, char **argv)
{
	unsigned burst = BURST_DEF, wait_link = WAIT_DEF;
	const char *ifa = NULL, *ifb = NULL;
	bool loopback = false, zcopy = true;
	int ch;

	while ((ch = getopt(argc, argv, "hb:ci:vw:L")) != -1) {
		switch (ch) {
		case 'b':
			if (!parse_uint(optarg, &burst))
				burst = 0;	/* reported below, as upstream */
			break;
		case 'i':
			if (ifa == NULL)
				ifa = optarg;
			else if (ifb == NULL)
				ifb = optarg;
			else
				D("%s ignored, already have 2 interfaces", optarg);
			break;
		case 'c':
			zcopy = false;
			break;
		case 'v':
			verbose++;
			break;
		case 'w':
			if (!parse_uint(optarg, &wait_link))
				wait_link = WAIT_MAX + 1;
			break;
		case 'L':
			loopback = true;
			break;
		case 'h':
		default:
			usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (argc > 0)
		ifa = argv[0];
	if (argc > 1)
		ifb = argv[1];
	if (argc > 2 && !parse_uint(argv[2], &burst))
		burst = 0;
	if (argc > 3)
		usage();
	if (ifa == NULL) {
		D("missing interface");
		usage();
	}
	if (ifb == NULL)
		ifb = ifa;
	if (burst < 1 || burst > BURST_MAX) {
		D("invalid burst %u, set to %u", burst, BURST_DEF);
		burst = BURST_DEF;
	}
	if (wait_link > WAIT_MAX) {
		D("invalid wait_link %u, set to %u", wait_link, WAIT_DEF);
		wait_link = WAIT_DEF;
	}

	char *ifa_host = NULL;
	if (strcmp(ifa, ifb) == 0) {
		if (!loopback) {
			D("same interface, endpoint 0 goes to host");
			size_t l = strlen(ifa);
			ifa_host = malloc(l + 2);
			if (ifa_host == NULL) {
				D("out of memory");
				return 1;
			}
			memcpy(ifa_host, ifa, l);
			memcpy(ifa_host + l, "^", 2);
			ifa = ifa_host;
		} else {
			D("same interface, loopbacking traffic");
		}
	}

	struct side sa = { .name = ifa }, sb = { .name = ifb };
	sa.d = nmport_open(ifa);
	if (sa.d == NULL) {
		D("cannot open %s: %s", ifa, strerror(errno));
		free(ifa_host);
		return 1;
	}
	sb.d = nmport_open(ifb);
	if (sb.d == NULL) {
		D("cannot open %s: %s", ifb, strerror(errno));
		nmport_close(sa.d);
		free(ifa_host);
		return 1;
	}
	/* both ports are open: moving frames needs no privilege (a NIC
	 * port's kernel objects belong to its helper process) */
	if (unetmap_drop_privileges() < 0)
		D("cannot drop capabilities: %s", strerror(errno));
	/* one region: frames move by buffer index (libnetmap gives both ports
	 * the same nmem_d exactly when their nr_mem_id is the same) */
	zcopy = zcopy && sa.d->mem == sb.d->mem;
	D("------- zerocopy %ssupported", zcopy ? "" : "NOT ");
	sa.host = host_mode(sa.d);
	sb.host = host_mode(sb.d);

	/* stop cleanly on SIGINT/SIGTERM: poll() returns EINTR (no SA_RESTART);
	 * a second signal ends the program at once (SA_RESETHAND) */
	struct sigaction act;
	memset(&act, 0, sizeof(act));
	act.sa_handler = on_signal;
	act.sa_flags = SA_RESETHAND;
	sigemptyset(&act.sa_mask);
	sigaction(SIGINT, &act, NULL);
	sigaction(SIGTERM, &act, NULL);

	D("Wait %u secs for link to come up...", wait_link);
	for (unsigned left = wait_link; left > 0 && !do_abort;)
		left = sleep(left);
	D("Ready to go, %s 0x%x/%u <-> %s 0x%x/%u.", sa.d->hdr.nr_name, sa.d->first_rx_ring,
	  sa.d->reg.nr_rx_rings, sb.d->hdr.nr_name, sb.d->first_rx_ring, sb.d->reg.nr_rx_rings);

	struct dir dirs[2] = { { .src = &sa, .dst = &sb }, { .src = &sb, .dst = &sa } };
	for (int i = 0; i < 2; i++)
		snprintf(dirs[i].label, sizeof(dirs[i].label), "%s:%s --> %s:%s",
			 dirs[i].src->d->hdr.nr_name, dirs[i].src->host ? "host" : "nic",
			 dirs[i].dst->d->hdr.nr_name, dirs[i].dst->host ? "host" : "nic");

	struct pollfd pfd[2];
	memset(pfd, 0, sizeof(pfd));
	pfd[0].fd = sa.d->fd;
	pfd[1].fd = sb.d->fd;
	double t0 = now_s();
	while (!do_abort) {
		bool n0 = rx_frames_ready(sa.d), n1 = rx_frames_ready(sb.d);
		pfd[0].events = pfd[1].events = 0;
		pfd[0].revents = pfd[1].revents = 0;
		/* frames waiting on one side: wait for room on the other;
		 * nothing waiting: wait for frames */
		if (n0)
			pfd[1].events |= POLLOUT;
		else
			pfd[0].events |= POLLIN;
		if (n1)
			pfd[0].events |= POLLOUT;
		else
			pfd[1].events |= POLLIN;
		/* poll() runs the txsync/rxsync of both ports */
		int ret = poll(pfd, 2, POLL_MS);
		if (ret < 0 && errno == EINTR)
			continue;
		if (ret <= 0 || verbose)
			D("poll %s [0] ev %x %x rx %u@%u tx %u, [1] ev %x %x rx %u@%u tx %u",
			  ret < 0 ? strerror(errno) : ret == 0 ? "timeout" : "ok",
			  pfd[0].events, pfd[0].revents, rx_slots_avail(sa.d),
			  NETMAP_RXRING(sa.d->nifp, sa.d->first_rx_ring)->head,
			  tx_slots_avail(sa.d), pfd[1].events, pfd[1].revents,
			  rx_slots_avail(sb.d), NETMAP_RXRING(sb.d->nifp, sb.d->first_rx_ring)->head,
			  tx_slots_avail(sb.d));
		if (ret < 0) {
			usleep(1000);	/* not a hot loop on a persistent error */
			continue;
		}
		for (int i = 0; i < 2; i++) {
			if (pfd[i].revents & POLLERR) {
				struct nmport_d *d = i ? sb.d : sa.d;
				struct netmap_ring *rx = NETMAP_RXRING(d->nifp, d->first_rx_ring);
				RD(2, "error on fd%d, rx [%u,%u,%u)", i, rx->head, rx->cur, rx->tail);
			}
		}
		if (pfd[0].revents & POLLOUT)
			ports_move(&dirs[1], zcopy, burst);
		if (pfd[1].revents & POLLOUT)
			ports_move(&dirs[0], zcopy, burst);
		/* no NIOCTXSYNC here: the next poll() sends what was queued */
	}
	double secs = now_s() - t0;
	/* what was queued but not yet synced leaves now */
	ioctl(sa.d->fd, NIOCTXSYNC, NULL);
	ioctl(sb.d->fd, NIOCTXSYNC, NULL);
	print_stats(dirs, 2, secs, zcopy);
	nmport_close(sb.d);
	nmport_close(sa.d);
	free(ifa_host);
	return 0;
}
