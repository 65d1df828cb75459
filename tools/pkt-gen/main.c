/*
 * pkt-gen main program: command line, port registration, one worker
 * thread per ring (or one for all rings), the periodic rate report
 * and the final summary.
 */
#include <dlfcn.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <net/if.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <linux/capability.h>
#include <unistd.h>

#include "pkt-gen.h"

#ifndef NETMAP_RING_MASK
#define NETMAP_RING_MASK	0x0fff
#endif

int verbose;
int normalize = 1;
int pg_cancel;

static struct targ *targs;

static const struct func_desc funcs[] = {
	{ TD_TYPE_RECEIVER,	"rx",		receiver_body,	512, 0 },
	{ TD_TYPE_SENDER,	"tx",		sender_body,	512, 0 },
	{ TD_TYPE_OTHER,	"ping",		ping_body,	1,   0 },
	{ TD_TYPE_OTHER,	"pong",		pong_body,	1,   0 },
	{ TD_TYPE_SENDER,	"txseq",	sender_body,	512, 1 },
	{ TD_TYPE_RECEIVER,	"rxseq",	receiver_body,	512, 1 },
	{ 0,			NULL,		NULL,		0,   0 }
};

void
pg_log(const char *func, int line, const char *fmt, ...)
{
	struct timespec now;
	char msg[1024];
	va_list ap;

	clock_gettime(CLOCK_REALTIME, &now);
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fprintf(stderr, "%03d.%06d %s [%d] %s\n", (int)(now.tv_sec % 1000),
	    (int)(now.tv_nsec / 1000), func, line, msg);
}

/* At most per_sec messages per second for one call site. */
int
pg_ratelimit(time_t *last, int *count, int per_sec)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &now);
	if (now.tv_sec != *last) {
		*last = now.tv_sec;
		*count = 0;
	}
	return (*count)++ < per_sec;
}

/* "14.880 M" style numbers, or plain ones with -N. */
static const char *
norm(char *buf, size_t len, double val)
{
	static const char *const units[] = { "", "K", "M", "G", "T" };
	unsigned int i = 0;

	if (!normalize) {
		snprintf(buf, len, "%.0f ", val);
		return buf;
	}
	while (val >= 1000 && i < 4) {
		val /= 1000;
		i++;
	}
	snprintf(buf, len, "%.3f %s", val, units[i]);
	return buf;
}

static void
usage(int errcode)
{
	fprintf(stderr,
	    "Usage:\n"
	    "pkt-gen arguments\n"
	    "  -h                 show this help and exit\n"
	    "  -i port            netmap port (valeX:Y, netmap:name{pipe, "
	    "...); a bare name gets 'netmap:'\n"
	    "  -f function        tx, rx (default), ping, pong, txseq, rxseq\n"
	    "  -n count           packets (ping/pong: transactions) in total,"
	    " 0 = forever\n"
	    "  -l len             frame length without CRC (16..65536, "
	    "default 60);\n"
	    "                     given twice: random lengths in "
	    "[second, first)\n"
	    "  -b burst           packets per batch (512 tx/rx, 1 ping/pong)\n"
	    "  -w secs            wait before starting (2, 0 for vale ports)\n"
	    "  -R rate            transmit at most rate packets per second\n"
	    "  -T ms              report interval (1000)\n"
	    "  -p threads         threads, one ring each\n"
	    "  -c cpus            cpus to use (0 = all, default 1)\n"
	    "  -a cpu             pin the first thread to cpu, the next ones "
	    "to the following cpus\n"
	    "  -s ip[:port[-ip:port]]   source address/port or range "
	    "(10.0.0.1:1234)\n"
	    "  -d ip[:port[-ip:port]]   destination address/port or range "
	    "(10.1.0.1:1234)\n"
	    "  -S mac             source MAC (default: the interface's)\n"
	    "  -D mac             destination MAC (ff:ff:ff:ff:ff:ff)\n"
	    "  -z / -Z            random source / destination address and "
	    "port\n"
	    "  -4                 IPv4 (the only family supported)\n"
	    "  -F frags           send every packet as frags slots "
	    "(NS_MOREFRAG), 1..63\n"
	    "  -M size            at most size bytes per fragment\n"
	    "  -H len             virtio-net header length: 0, 10 or 12\n"
	    "  -C tx_slots[,rx_slots[,tx_rings[,rx_rings]]]  ring "
	    "configuration (deprecated)\n"
	    "  -I                 NS_INDIRECT buffers (VALE transmit only)\n"
	    "  -r                 send the buffers uninitialised\n"
	    "  -W                 rx: exit after 1 s without traffic\n"
	    "  -X                 hex dump every packet\n"
	    "  -N                 do not normalise units\n"
	    "  -A                 mean and deviation of the rate\n"
	    "  -B                 count 24 bytes of framing and CRC in bps\n"
	    "  -v                 more verbose\n"
	    "  -o options         data generation bits:\n"
	    "                       1 prefetch, 2 access, 4 copy "
	    "(nm_pkt_copy), 8 memcpy,\n"
	    "                       16 timestamp, 32 indirect, 64 dump, "
	    "256 rubbish,\n"
	    "                       512 random src, 1024 random dst, "
	    "2048 rate stats,\n"
	    "                       4096 update UDP checksum\n");
	exit(errcode);
}

/* -C: "tx_slots[,rx_slots[,tx_rings[,rx_rings]]]". */
static void
parse_nmr_config(const char *conf, struct nmreq_register *reg)
{
	char *copy, *tok, *save = NULL;
	int i;

	if (conf == NULL || *conf == '\0')
		return;
	reg->nr_tx_rings = reg->nr_rx_rings = 0;
	reg->nr_tx_slots = reg->nr_rx_slots = 0;
	copy = strdup(conf);
	if (copy == NULL)
		return;
	for (i = 0, tok = strtok_r(copy, ",", &save); tok != NULL;
	    i++, tok = strtok_r(NULL, ",", &save)) {
		int v = atoi(tok);

		switch (i) {
		case 0:
			reg->nr_tx_slots = reg->nr_rx_slots = v;
			break;
		case 1:
			reg->nr_rx_slots = v;
			break;
		case 2:
			reg->nr_tx_rings = reg->nr_rx_rings = v;
			break;
		case 3:
			reg->nr_rx_rings = v;
			break;
		default:
			PGLOG("ignored config: %s", tok);
			break;
		}
	}
	PGLOG("txr %d txd %d rxr %d rxd %d", reg->nr_tx_rings,
	    reg->nr_tx_slots, reg->nr_rx_rings, reg->nr_rx_slots);
	free(copy);
}

static void
set_ifname(struct glob_arg *g, const char *arg)
{
	PGLOG("interface is %s", arg);
	if (strlen(arg) > sizeof(g->ifname) - 8) {
		PGLOG("ifname too long %s", arg);
		return;
	}
	if (strncmp(arg, "tap:", 4) == 0 || strncmp(arg, "pcap:", 5) == 0) {
		PGLOG("%s: tap and pcap devices are not supported", arg);
		usage(-1);
	}
	if (strncmp(arg, "netmap:", 7) == 0 || strncmp(arg, "vale", 4) == 0)
		snprintf(g->ifname, sizeof(g->ifname), "%s", arg);
	else
		snprintf(g->ifname, sizeof(g->ifname), "netmap:%s", arg);
}

static void
set_function(struct glob_arg *g, const char *arg)
{
	const struct func_desc *fn;

	for (fn = funcs; fn->key != NULL; fn++) {
		if (strcmp(fn->key, arg) == 0) {
			g->fn = fn;
			return;
		}
	}
	PGLOG("unrecognised function %s", arg);
	usage(-1);
}

static void
parse_args(struct glob_arg *g, int argc, char **argv)
{
	int ch, l_seen = 0, w_seen = 0;

	while ((ch = getopt(argc, argv, "46a:f:F:Nn:i:Il:d:s:D:S:b:c:o:p:"
	    "T:w:WvR:XC:H:rP:zZAhBM:")) != -1) {
		switch (ch) {
		case '4':
			break;
		case '6':
			PGLOG("IPv6 is not supported");
			usage(-1);
			break;
		case 'a':
			g->affinity = atoi(optarg);
			break;
		case 'A':
			g->options |= OPT_PPS_STATS;
			break;
		case 'b':
			g->burst = atoi(optarg);
			break;
		case 'B':
			g->framing = 24 * 8;	/* CRC + preamble + gap */
			break;
		case 'c':
			g->cpus = atoi(optarg);
			break;
		case 'C':
			PGLOG("WARNING: the 'C' option is deprecated, use the "
			    "'+conf:' libnetmap option instead");
			g->nmr_config = optarg;
			break;
		case 'd':
			g->dst_ip.name = optarg;
			break;
		case 'D':
			g->dst_mac_name = optarg;
			break;
		case 'f':
			set_function(g, optarg);
			break;
		case 'F': {
			int i = atoi(optarg);

			if (i < 1 || i > 63)
				PGLOG("invalid frags %d [1..63], ignore", i);
			else
				g->frags = (unsigned int)i;
			break;
		}
		case 'h':
			usage(0);
			break;
		case 'H':
			g->virt_header = atoi(optarg);
			g->set_virt_header = 1;
			break;
		case 'i':
			set_ifname(g, optarg);
			break;
		case 'I':
			g->options |= OPT_INDIRECT;
			break;
		case 'l':
			if (l_seen++)
				g->pkt_min_size = atoi(optarg);
			else
				g->pkt_size = atoi(optarg);
			break;
		case 'M':
			g->frag_size = (unsigned int)atoi(optarg);
			break;
		case 'n':
			g->npackets = strtoull(optarg, NULL, 10);
			break;
		case 'N':
			normalize = 0;
			break;
		case 'o':
			g->options |= atoi(optarg);
			break;
		case 'p':
			g->nthreads = atoi(optarg);
			break;
		case 'P':
			PGLOG("-P: pcap files are not supported");
			usage(-1);
			break;
		case 'r':
			g->options |= OPT_RUBBISH;
			break;
		case 'R':
			g->tx_rate = atoi(optarg);
			break;
		case 's':
			g->src_ip.name = optarg;
			break;
		case 'S':
			g->src_mac_name = optarg;
			break;
		case 'T':
			g->report_interval = atoi(optarg);
			break;
		case 'v':
			verbose++;
			break;
		case 'w':
			g->wait_link = atoi(optarg);
			w_seen = 1;
			break;
		case 'W':
			g->forever = 0;
			break;
		case 'X':
			g->options |= OPT_DUMP;
			break;
		case 'z':
			g->options |= OPT_RANDOM_SRC;
			break;
		case 'Z':
			g->options |= OPT_RANDOM_DST;
			break;
		default:
			PGLOG("bad option %c %s", ch, optarg ? optarg : "");
			usage(-1);
		}
	}
	if ((!w_seen && strncmp(g->ifname, "vale", 4) == 0) ||
	    g->wait_link < 0)
		g->wait_link = 0;
}

static int
system_ncpus(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	return n > 0 ? (int)n : 1;
}

/* Validate the arguments and derive addresses; exits on error. */
static void
check_args(struct glob_arg *g)
{
	int r;

	if (g->ifname[0] == '\0') {
		PGLOG("missing ifname");
		usage(-1);
	}
	if (g->burst <= 0) {
		g->burst = g->fn->default_burst;
		PGLOG("using default burst size: %d", g->burst);
	}
	g->system_cpus = system_ncpus();
	if (g->cpus < 0 || g->cpus > g->system_cpus) {
		PGLOG("%d cpus is too high, have only %d cpus", g->cpus,
		    g->system_cpus);
		usage(-1);
	}
	PGLOG("running on %d cpus (have %d)", g->cpus, g->system_cpus);
	if (g->cpus == 0)
		g->cpus = g->system_cpus;
	if (g->nthreads < 1) {
		PGLOG("bad nthreads %d", g->nthreads);
		usage(-1);
	}
	if (g->report_interval <= 0) {
		PGLOG("bad report interval %d ms", g->report_interval);
		usage(-1);
	}
	if (g->pkt_size < PG_MIN_PKT || g->pkt_size > PG_MAX_PKT) {
		PGLOG("bad pktsize %d [%d..%d]", g->pkt_size, PG_MIN_PKT,
		    PG_MAX_PKT);
		usage(-1);
	}
	if (g->pkt_min_size > 0 && (g->pkt_min_size < PG_MIN_PKT ||
	    g->pkt_min_size > g->pkt_size)) {
		PGLOG("bad pktminsize %d [%d..%d]", g->pkt_min_size,
		    PG_MIN_PKT, g->pkt_size);
		usage(-1);
	}
	if (g->pkt_min_size == g->pkt_size)
		g->pkt_min_size = 0;	/* nothing random about it */
	if (g->virt_header != 0 && g->virt_header != 10 &&
	    g->virt_header != 12) {
		PGLOG("bad virtio-net-header length");
		usage(-1);
	}
	if (g->src_mac_name == NULL) {
		static char mybuf[20] = "00:00:00:00:00:00";

		if (source_hwaddr(g->ifname, mybuf, sizeof(mybuf)) == -1)
			PGLOG("Unable to retrieve source mac");
		g->src_mac_name = mybuf;
	}
	if (parse_mac(g->src_mac_name, g->src_mac) < 0 ||
	    parse_mac(g->dst_mac_name, g->dst_mac) < 0)
		usage(-1);
	/* a real range means the frame changes for every packet */
	if ((r = parse_ip_range(&g->src_ip)) < 0)
		usage(-1);
	if (r > 0)
		g->options |= OPT_COPY;
	if ((r = parse_ip_range(&g->dst_ip)) < 0)
		usage(-1);
	if (r > 0)
		g->options |= OPT_COPY;
}

/* Ask the port which virtio-net header it expects (failure only logs). */
static void
get_vnet_hdr_len(struct glob_arg *g)
{
	struct nmreq_header hdr = g->nmd->hdr;
	struct nmreq_port_hdr ph;

	memset(&ph, 0, sizeof(ph));
	hdr.nr_reqtype = NETMAP_REQ_PORT_HDR_GET;
	hdr.nr_options = 0;
	hdr.nr_body = (uintptr_t)&ph;
	if (ioctl(g->main_fd, NIOCCTRL, &hdr) != 0) {
		PGLOG("Unable to get virtio-net header length");
		return;
	}
	g->virt_header = (int)ph.nr_hdr_len;
	if (g->virt_header)
		PGLOG("Port requires virtio-net header, length = %d",
		    g->virt_header);
}

/* -H: configure the header length on the port (unlike upstream, the
 * requested length is actually sent). */
static void
set_vnet_hdr_len(struct glob_arg *g)
{
	struct nmreq_header hdr = g->nmd->hdr;
	struct nmreq_port_hdr ph;

	if (g->virt_header == 0)
		return;
	memset(&ph, 0, sizeof(ph));
	ph.nr_hdr_len = (uint32_t)g->virt_header;
	hdr.nr_reqtype = NETMAP_REQ_PORT_HDR_SET;
	hdr.nr_options = 0;
	hdr.nr_body = (uintptr_t)&ph;
	if (ioctl(g->main_fd, NIOCCTRL, &hdr) != 0)
		PGLOG("Unable to set virtio-net header length %d",
		    g->virt_header);
}

/* MTU of an OS interface behind "netmap:NAME"; 0 if not applicable. */
static int
get_if_mtu(const struct glob_arg *g)
{
	const char *name = g->nmd->hdr.nr_name;
	struct ifreq ifr;
	int s, mtu = 0;

	if (strncmp(g->ifname, "netmap:", 7) != 0 || strchr(name, '{') ||
	    strchr(name, '}') || strlen(name) >= IFNAMSIZ)
		return 0;
	s = socket(AF_INET, SOCK_DGRAM, 0);
	if (s < 0)
		return 0;
	memset(&ifr, 0, sizeof(ifr));
	memcpy(ifr.ifr_name, name, strlen(name));
	if (ioctl(s, SIOCGIFMTU, &ifr) == 0)
		mtu = ifr.ifr_mtu;
	else if (verbose)
		PGLOG("ioctl(SIOCGIFMTU) failed: %s", strerror(errno));
	close(s);
	return mtu;
}

static int
open_port(struct glob_arg *g)
{
	struct nmport_d *d;

	d = g->nmd = nmport_prepare(g->ifname);
	if (d == NULL)
		return -1;
	parse_nmr_config(g->nmr_config, &d->reg);
	d->reg.nr_flags |= NR_ACCEPT_VNET_HDR;
	g->orig_mode = d->reg.nr_mode;
	if (g->nthreads > 1) {
		/* the main descriptor becomes the one of thread 0 */
		switch (g->orig_mode) {
		case NR_REG_ALL_NIC:
		case NR_REG_NIC_SW:
			d->reg.nr_mode = NR_REG_ONE_NIC;
			break;
		case NR_REG_SW:
			d->reg.nr_mode = NR_REG_ONE_SW;
			break;
		default:
			break;
		}
		d->reg.nr_ringid = 0;
	}
	if (nmport_open_desc(d) < 0) {
		nmport_undo_prepare(d);
		g->nmd = NULL;
		return -1;
	}
	g->main_fd = d->fd;
	if (g->set_virt_header)
		set_vnet_hdr_len(g);
	else
		get_vnet_hdr_len(g);
	return 0;
}

/* unetmap extension: which data path a NIC port got (AF_XDP zero copy or
 * copy mode, or TPACKET_V3).  Looked up at run time so that pkt-gen built
 * as upstream does (libnetmap compiled in, libc only) runs unchanged. */
struct nic_info_ext {
	char ifname[16], backend[16], mode[16];
	uint32_t nrxq, ntxq, users;
	int32_t helper_pid;
	char tap[16], note[96];
};

static void
print_nic_path(const struct glob_arg *g)
{
	int (*info)(const char *, struct nic_info_ext *) =
	    (int (*)(const char *, struct nic_info_ext *))dlsym(RTLD_DEFAULT,
	    "unetmap_nic_info");
	const char *n = g->ifname;
	struct nic_info_ext ni;
	char base[64];
	size_t k;

	if (info == NULL)
		return;
	if (strncmp(n, "netmap:", 7) == 0)
		n += 7;
	for (k = 0; n[k] != '\0' && k + 1 < sizeof(base) &&
	    strchr("-^*@/{}", n[k]) == NULL; k++)
		base[k] = n[k];
	base[k] = '\0';
	if (info(base, &ni) == 0)
		printf("%s: NIC data path %s (%s mode)%s%s\n", base, ni.backend,
		    ni.mode, ni.note[0] ? ": " : "", ni.note);
}

static void
print_rings(const struct glob_arg *g)
{
	struct netmap_if *nifp = g->nmd->nifp;
	const struct nmreq_register *req = &g->nmd->reg;
	unsigned int i;

	PGLOG("nifp at offset %" PRIu64 " ntxqs %d nrxqs %d memid %d",
	    (uint64_t)req->nr_offset, req->nr_tx_rings, req->nr_rx_rings,
	    req->nr_mem_id);
	for (i = 0; i < req->nr_tx_rings + req->nr_host_tx_rings; i++) {
		struct netmap_ring *ring = NETMAP_TXRING(nifp, i);

		PGLOG("   TX%u at offset %p slots %u", i,
		    (void *)((char *)ring - (char *)nifp), ring->num_slots);
	}
	for (i = 0; i < req->nr_rx_rings + req->nr_host_rx_rings; i++) {
		struct netmap_ring *ring = NETMAP_RXRING(nifp, i);

		PGLOG("   RX%u at offset %p slots %u", i,
		    (void *)((char *)ring - (char *)nifp), ring->num_slots);
	}
}

/* After the port is open: sanity checks and the banner on stdout. */
static int
describe_port(struct glob_arg *g)
{
	const struct nmreq_register *req = &g->nmd->reg;
	enum td_type ty = g->fn->type;
	int devqueues, mtu;

	if (ty == TD_TYPE_SENDER)
		devqueues = req->nr_tx_rings + req->nr_host_tx_rings;
	else
		devqueues = req->nr_rx_rings + req->nr_host_rx_rings;
	if (g->nthreads > devqueues)
		PGLOG("bad nthreads %d, have %d queues", g->nthreads,
		    devqueues);
	if (ty == TD_TYPE_SENDER) {
		mtu = get_if_mtu(g);
		if (mtu > 0 && g->pkt_size > mtu) {
			PGLOG("pkt_size (%d) must be <= mtu (%d)", g->pkt_size,
			    mtu);
			return -1;
		}
	}
	if (verbose)
		print_rings(g);
	print_nic_path(g);
	printf("%s %s: %d queues, %d threads and %d cpus.\n",
	    ty == TD_TYPE_SENDER ? "Sending on" :
	    ty == TD_TYPE_RECEIVER ? "Receiving from" : "Working on",
	    g->ifname, devqueues, g->nthreads, g->cpus);
	if (ty == TD_TYPE_SENDER)
		printf("%s -> %s (%s -> %s)\n", g->src_ip.name,
		    g->dst_ip.name, g->src_mac_name, g->dst_mac_name);
	return 0;
}

static void
setup_rate(struct glob_arg *g)
{
	uint64_t ns;

	if (g->options)
		PGLOG("--- SPECIAL OPTIONS:%s%s%s%s%s%s",
		    g->options & OPT_PREFETCH ? " prefetch" : "",
		    g->options & OPT_ACCESS ? " access" : "",
		    g->options & OPT_MEMCPY ? " memcpy" : "",
		    g->options & OPT_INDIRECT ? " indirect" : "",
		    g->options & OPT_COPY ? " copy" : "",
		    g->options & OPT_RUBBISH ? " rubbish " : "");
	g->tx_period.tv_sec = g->tx_period.tv_nsec = 0;
	if (g->tx_rate > 0) {
		/* a batch every ~1/300 s, at least one packet */
		int lim = g->tx_rate / 300;

		if (g->burst > lim)
			g->burst = lim;
		if (g->burst == 0)
			g->burst = 1;
		ns = 1000000000ULL * (uint64_t)g->burst / (uint64_t)g->tx_rate;
		g->tx_period.tv_sec = (time_t)(ns / 1000000000ULL);
		g->tx_period.tv_nsec = (long)(ns % 1000000000ULL);
	}
	if (g->fn->type == TD_TYPE_SENDER)
		PGLOG("Sending %d packets every  %jd.%09ld s", g->burst,
		    (intmax_t)g->tx_period.tv_sec, g->tx_period.tv_nsec);
}

/*
 * Descriptor of thread i: the main one for thread 0, otherwise a clone
 * bound to the single ring i (switching to the host rings past the
 * hardware ones when the port was opened with both).
 */
static int
thread_port(struct glob_arg *g, struct targ *t, int i)
{
	int nhw = -1, j = i;

	if (i == 0) {
		t->nmd = g->nmd;
		return 0;
	}
	if (g->orig_mode == NR_REG_NIC_SW)
		nhw = g->fn->type == TD_TYPE_RECEIVER ?
		    g->nmd->reg.nr_rx_rings : g->nmd->reg.nr_tx_rings;
	t->nmd = nmport_clone(g->nmd);
	if (t->nmd == NULL)
		return -1;
	if (nhw > 0 && j >= nhw) {
		t->nmd->reg.nr_mode = NR_REG_ONE_SW;
		j -= nhw;
	}
	t->nmd->reg.nr_ringid = (uint16_t)(j & NETMAP_RING_MASK);
	/* a receiver must not push TX rings it does not own */
	if (g->fn->type == TD_TYPE_RECEIVER)
		t->nmd->reg.nr_flags |= NR_NO_TX_POLL;
	if (nmport_open_desc(t->nmd) < 0) {
		nmport_undo_prepare(t->nmd);
		t->nmd = NULL;
		return -1;
	}
	return 0;
}

static void
init_targ(struct glob_arg *g, struct targ *t, int i)
{
	uint64_t seed = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 20) ^
	    ((uint64_t)i << 40);

	t->g = g;
	t->me = i;
	t->fd = t->nmd->fd;
	memcpy(t->seed, &seed, sizeof(t->seed));
	t->affinity = g->affinity >= 0 ? (g->affinity + i) % g->system_cpus : -1;
	/* split -n over the threads, remainder to the first ones */
	if (g->npackets == 0)
		t->npackets = UINT64_MAX;
	else
		t->npackets = g->npackets / (uint64_t)g->nthreads +
		    ((uint64_t)i < g->npackets % (uint64_t)g->nthreads);
	t->seqmode = g->fn->seq;
	t->vary_addr = (g->options & (OPT_RANDOM_SRC | OPT_RANDOM_DST)) ||
	    g->src_ip.start != g->src_ip.end ||
	    g->src_ip.port0 != g->src_ip.port1 ||
	    g->dst_ip.start != g->dst_ip.end ||
	    g->dst_ip.port0 != g->dst_ip.port1;
	t->copy_each = (g->options & (OPT_COPY | OPT_MEMCPY | OPT_TS)) ||
	    g->pkt_min_size > 0 || t->seqmode || t->vary_addr;
	frame_init(t);
	PG_PUT(t->used, 1);
}

/* unetmap: once every port is open the data path needs no privilege (a
 * NIC port's kernel objects belong to its helper process), so a pkt-gen
 * started as root gives up every capability before it moves packets */
static void
drop_capabilities(void)
{
	struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct d[2];

	memset(d, 0, sizeof(d));
	if (syscall(SYS_capget, &h, d) != 0 ||
	    (d[0].effective | d[1].effective | d[0].permitted | d[1].permitted) == 0)
		return;
	memset(d, 0, sizeof(d));
	if (syscall(SYS_capset, &h, d) == 0 && verbose)
		PGLOG("capabilities dropped: the data path needs none");
}

static int
start_threads(struct glob_arg *g)
{
	int i, err;

	targs = calloc((size_t)g->nthreads, sizeof(*targs));
	if (targs == NULL) {
		PGLOG("out of memory");
		return -1;
	}
	for (i = 0; i < g->nthreads; i++) {
		if (thread_port(g, &targs[i], i) < 0)
			return -1;
		init_targ(g, &targs[i], i);
	}
	drop_capabilities();	/* before any thread exists: they inherit it */
	PGLOG("Wait %d secs for phy reset", g->wait_link);
	sleep((unsigned int)g->wait_link);
	PGLOG("Ready...");
	for (i = 0; i < g->nthreads; i++) {
		struct targ *t = &targs[i];

		err = pthread_create(&t->thread, NULL, g->fn->body, t);
		if (err != 0) {
			PGLOG("Unable to create thread %d: %s", i,
			    strerror(err));
			PG_PUT(t->used, 0);
		} else {
			t->created = 1;
		}
	}
	return 0;
}

static int
all_done(const struct glob_arg *g)
{
	int i;

	for (i = 0; i < g->nthreads; i++)
		if (PG_GET(targs[i].used))
			return 0;
	return 1;
}

/*
 * Sleep until the next report is due, in slices so that the last
 * report and the summary follow the end of the workers (or a signal)
 * promptly instead of a whole interval later.
 */
static void
report_sleep(const struct glob_arg *g, struct timespec due)
{
	for (;;) {
		int64_t left = ts_ns(ts_sub(due, pg_now()));
		struct timespec nap = { 0, 50000000L };

		if (left <= 0 || all_done(g))
			return;
		if (left < nap.tv_nsec)
			nap.tv_nsec = (long)left;
		if (nanosleep(&nap, NULL) != 0)
			return;		/* interrupted by a signal */
	}
}

/* -A: "[avg/std X/Y pps]" over the last PG_STATS_WIN reports. */
static void
pps_stats(struct glob_arg *g, double pps, char *out, size_t len)
{
	double avg = 0, dev = 0;
	char b1[40], b2[40];
	int i, n = 0;

	g->win[g->win_idx] = pps;
	g->win_idx = (g->win_idx + 1) % PG_STATS_WIN;
	for (i = 0; i < PG_STATS_WIN; i++) {
		if (g->win[i] != 0) {
			avg += g->win[i];
			n++;
		}
	}
	if (n == 0) {
		snprintf(out, len, "[avg/std %s/%s pps]",
		    norm(b1, sizeof(b1), 0), norm(b2, sizeof(b2), 0));
		return;
	}
	avg /= n;
	for (i = 0; i < PG_STATS_WIN; i++)
		if (g->win[i] != 0)
			dev += (g->win[i] - avg) * (g->win[i] - avg);
	dev = sqrt(dev / n);
	snprintf(out, len, "[avg/std %s/%s pps]", norm(b1, sizeof(b1), avg),
	    norm(b2, sizeof(b2), dev));
}

/* Sum of the published counters; returns how many threads ended. */
static int
sample(struct glob_arg *g, struct pg_ctrs *c)
{
	int i, done = 0;

	memset(c, 0, sizeof(*c));
	for (i = 0; i < g->nthreads; i++) {
		struct targ *t = &targs[i];

		c->pkts += PG_GET(t->ctr.pkts);
		c->bytes += PG_GET(t->ctr.bytes);
		c->events += PG_GET(t->ctr.events);
		if (g->fn->type == TD_TYPE_RECEIVER)
			c->min_space += __atomic_exchange_n(&t->ctr.min_space,
			    99999, __ATOMIC_RELAXED);
		if (!PG_GET(t->used))
			done++;
	}
	return done;
}

/* One line per report interval until every worker has finished. */
static void
main_thread(struct glob_arg *g)
{
	struct pg_ctrs prev, cur;
	struct timespec step = { g->report_interval / 1000,
	    (long)(g->report_interval % 1000) * 1000000L };
	struct timespec t_prev = pg_now(), t_cur, due = ts_add(t_prev, step);
	int said_stop = 0;

	memset(&prev, 0, sizeof(prev));
	for (;;) {
		char b1[40], b2[40], b3[40], b4[100] = "";
		uint64_t usec, dp, db, de, pps;
		int done;

		report_sleep(g, due);
		if (pg_cancelled() && !said_stop) {
			said_stop = 1;
			PGLOG("received control-C on thread %p",
			    (void *)pthread_self());
		}
		t_cur = pg_now();
		if (ts_ns(ts_sub(t_cur, due)) >= 0) {
			due = ts_add(due, step);
			if (ts_ns(ts_sub(t_cur, due)) >= 0)
				due = ts_add(t_cur, step);	/* fell behind */
		}
		usec = (uint64_t)(ts_ns(ts_sub(t_cur, t_prev)) / 1000);
		/* too short to mean anything, unless it is the last one */
		if (usec < 10000 && !all_done(g))
			continue;
		if (usec == 0)
			usec = 1;
		done = sample(g, &cur);
		dp = cur.pkts - prev.pkts;
		db = cur.bytes - prev.bytes;
		de = cur.events - prev.events;
		pps = (dp * 1000000 + usec / 2) / usec;
		if (g->options & OPT_PPS_STATS)
			pps_stats(g, (double)pps, b4, sizeof(b4));
		PGLOG("%spps %s(%spkts %sbps in %llu usec) %.2f avg_batch "
		    "%d min_space", norm(b1, sizeof(b1), (double)pps), b4,
		    norm(b2, sizeof(b2), (double)dp),
		    norm(b3, sizeof(b3), 1e6 * ((double)db * 8 +
		    (double)dp * g->framing) / (double)usec),
		    (unsigned long long)usec,
		    de > 0 ? (double)dp / (double)de : 0.0,
		    (int)cur.min_space);
		prev = cur;
		t_prev = t_cur;
		if (done == g->nthreads)
			break;
	}
}

static void
tx_output(const struct glob_arg *g, const struct pg_ctrs *c, double delta,
    const char *msg)
{
	char b1[40], b2[40], b3[40];
	double pps, bw, raw_bw, abs;

	if (c->pkts == 0) {
		printf("%s nothing.\n", msg);
		return;
	}
	printf("%s %llu packets %llu bytes %llu events %d bytes each in "
	    "%.2f seconds.\n", msg, (unsigned long long)c->pkts,
	    (unsigned long long)c->bytes, (unsigned long long)c->events,
	    (int)(c->bytes / c->pkts), delta);
	if (delta == 0)
		delta = 1e-6;
	pps = (double)c->pkts / delta;
	bw = 8.0 * (double)c->bytes / delta;
	raw_bw = (8.0 * (double)c->bytes + (double)c->pkts * g->framing) /
	    delta;
	abs = c->events ? (double)c->pkts / (double)c->events : 0.0;
	printf("Speed: %spps Bandwidth: %sbps (raw %sbps). Average batch: "
	    "%.2f pkts\n", norm(b1, sizeof(b1), pps), norm(b2, sizeof(b2), bw),
	    norm(b3, sizeof(b3), raw_bw), abs);
}

/* rxseq: what the sequence numbers told, one line per ring. */
static void
seq_output(const struct glob_arg *g)
{
	int i, k;

	for (i = 0; i < g->nthreads; i++) {
		const struct targ *t = &targs[i];

		for (k = 0; t->seq != NULL && k < t->nseq; k++) {
			const struct seq_state *s = &t->seq[k];

			printf("Sequence on ring %d: %llu packets, %llu lost "
			    "in %llu gaps, %llu out of order, %llu too "
			    "short.\n", t->nmd->first_rx_ring + k,
			    (unsigned long long)s->pkts,
			    (unsigned long long)s->lost,
			    (unsigned long long)s->gaps,
			    (unsigned long long)s->ooo,
			    (unsigned long long)s->short_pkts);
		}
	}
}

static int
ts_isset(struct timespec ts)
{
	return ts.tv_sec != 0 || ts.tv_nsec != 0;
}

/* Join the workers, then print the totals like upstream. */
static void
final_report(struct glob_arg *g)
{
	struct timespec tic = { 0, 0 }, toc = { 0, 0 };
	struct pg_ctrs tot;
	int i;

	memset(&tot, 0, sizeof(tot));
	for (i = 0; i < g->nthreads; i++) {
		struct targ *t = &targs[i];

		if (t->created)
			pthread_join(t->thread, NULL);
		if (!t->completed)
			PGLOG("ouch, thread %d exited with error", i);
		tot.pkts += t->ctr.pkts;
		tot.bytes += t->ctr.bytes;
		tot.events += t->ctr.events;
		/* the latest start and the latest end, like upstream */
		if (ts_isset(t->tic) && ts_ns(ts_sub(t->tic, tic)) > 0)
			tic = t->tic;
		if (ts_isset(t->toc) && ts_ns(ts_sub(t->toc, toc)) > 0)
			toc = t->toc;
	}
	if (!ts_isset(toc) || ts_ns(ts_sub(toc, tic)) < 0)
		toc = tic;
	if (g->fn->type == TD_TYPE_SENDER)
		tx_output(g, &tot, (double)ts_ns(ts_sub(toc, tic)) / 1e9,
		    "Sent");
	else if (g->fn->type == TD_TYPE_RECEIVER)
		tx_output(g, &tot, (double)ts_ns(ts_sub(toc, tic)) / 1e9,
		    "Received");
	if (g->fn->seq && g->fn->type == TD_TYPE_RECEIVER)
		seq_output(g);
}

static void
close_ports(struct glob_arg *g)
{
	int i;

	for (i = 0; targs != NULL && i < g->nthreads; i++) {
		struct targ *t = &targs[i];

		if (t->nmd != NULL && t->nmd != g->nmd)
			nmport_close(t->nmd);
		t->nmd = NULL;
		free(t->seq);
		free(t->txseq);
	}
	if (g->nmd != NULL)
		nmport_close(g->nmd);
	g->nmd = NULL;
	free(targs);
	targs = NULL;
}

static void
on_signal(int sig)
{
	(void)sig;
	__atomic_store_n(&pg_cancel, 1, __ATOMIC_RELAXED);
}

static void
init_glob(struct glob_arg *g)
{
	memset(g, 0, sizeof(*g));
	g->fn = &funcs[0];
	g->main_fd = -1;
	g->report_interval = 1000;
	g->affinity = -1;
	g->src_ip.name = "10.0.0.1";
	g->dst_ip.name = "10.1.0.1";
	g->dst_mac_name = "ff:ff:ff:ff:ff:ff";
	g->pkt_size = 60;
	g->nthreads = 1;
	g->cpus = 1;
	g->forever = 1;
	g->frags = 1;
	g->frag_size = 0;	/* 0: as large as a netmap buffer */
	g->wait_link = 2;
}

int
main(int argc, char **argv)
{
	static struct glob_arg g;
	struct sigaction sa;
	sigset_t ss;

	setvbuf(stdout, NULL, _IOLBF, 0);
	init_glob(&g);
	parse_args(&g, argc, argv);
	check_args(&g);
	if (open_port(&g) < 0 || describe_port(&g) < 0) {
		PGLOG("aborting");
		if (g.nmd != NULL)
			nmport_close(g.nmd);
		usage(-1);
	}
	setup_rate(&g);

	/* workers inherit a mask without the stop signals */
	sigemptyset(&ss);
	sigaddset(&ss, SIGINT);
	sigaddset(&ss, SIGTERM);
	if (pthread_sigmask(SIG_BLOCK, &ss, NULL) != 0)
		PGLOG("failed to block SIGINT");
	if (start_threads(&g) < 0) {
		close_ports(&g);
		return 1;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGINT, &sa, NULL) < 0 ||
	    sigaction(SIGTERM, &sa, NULL) < 0)
		PGLOG("failed to install ^C handler: %s", strerror(errno));
	if (pthread_sigmask(SIG_UNBLOCK, &ss, NULL) != 0)
		PGLOG("failed to re-enable SIGINT");

	main_thread(&g);
	final_report(&g);
	close_ports(&g);
	return 0;
}
