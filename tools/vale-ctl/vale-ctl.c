/*
 * vale-ctl - configure VALE switches (unetmap's own implementation of the
 * netmap tool of the same name).
 *
 * Every netmap command is one NIOCCTRL request on a /dev/netmap descriptor
 * opened for it, exactly as with kernel netmap:
 *
 *   (no arguments)   list every port of every switch (VALE_LIST enumeration)
 *   -l valeS:P       switch and port index of one port        (VALE_LIST)
 *   -g PORT          port configuration                       (PORT_INFO_GET)
 *   -a valeS:IF      attach IF (persistent port or NIC)      (VALE_ATTACH)
 *   -h valeS:IF      attach NIC IF and its host stack         (VALE_ATTACH)
 *   -d valeS:IF      detach IF                                (VALE_DETACH)
 *   -n NAME          create a persistent VALE port            (VALE_NEWIF)
 *   -r NAME          destroy a persistent VALE port           (VALE_DELIF)
 *   -p / -P valeS:IF start / stop polling on an attached NIC  (VALE_POLLING_*)
 *
 * A NIC attached to a switch is served by a helper process of the library
 * ("unetmap-vale") that the attach starts and the detach stops; vale-ctl
 * itself exits at once.
 *
 * unetmap extensions (through <unetmap.h>): -s counters, -t MAC table,
 * -L lookup object.  Exit status 0 on success, 1 on failure; the plain
 * listing always ends with status 1, as netmap's tool does.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <libnetmap.h>
#include <unetmap.h>

static const char *prog = "vale-ctl";
static int verbose;

enum cmd {
	CMD_NONE = 0,
	CMD_LISTALL,	/* no arguments */
	CMD_LIST,	/* -l */
	CMD_INFO,	/* -g */
	CMD_ATTACH,	/* -a */
	CMD_ATTACH_SW,	/* -h */
	CMD_DETACH,	/* -d */
	CMD_NEWIF,	/* -n */
	CMD_DELIF,	/* -r */
	CMD_POLL_ON,	/* -p */
	CMD_POLL_OFF,	/* -P */
	CMD_STATS,	/* -s */
	CMD_MACS,	/* -t */
	CMD_LOOKUP,	/* -L */
};

static void usage(FILE *f)
{
	fprintf(f,
	    "usage: vale-ctl [-v] [command]\n"
	    "netmap commands (one per invocation):\n"
	    "  (none)            list the ports of every switch\n"
	    "  -l valeS:PORT     print the switch and port index of a port\n"
	    "  -g PORT           print a port's memory size, slots, rings and mem_id\n"
	    "  -a valeS:IF       attach IF (a network interface or a persistent VALE\n"
	    "                    port) to switch valeS\n"
	    "  -h valeS:IF       attach interface IF and its host stack (port valeS:IF^)\n"
	    "  -d valeS:IF       detach IF from switch valeS\n"
	    "  -n NAME           create the persistent VALE port NAME\n"
	    "  -r NAME           destroy the persistent VALE port NAME\n"
	    "  -p valeS:IF       busy-poll an interface attached to valeS (-C: CPUs)\n"
	    "  -P valeS:IF       stop polling (back to sleeping until frames come)\n"
	    "modifiers:\n"
	    "  -C x[,y[,z[,w]]]  with -n/-a/-h: tx_slots[,rx_slots[,rings[,rx_rings]]]\n"
	    "                    (one number sets both slot counts, the third both\n"
	    "                    ring counts); with -p: mode (0 one cpu for every\n"
	    "                    ring, 1 one cpu per ring)[,first cpu[,cpus]]\n"
	    "  -m MEMID|PORT     with -n/-a/-h/-g: allocator id, given as a number or\n"
	    "                    as a port (e.g. netmap:p0) whose mem_id is used\n"
	    "  -v                print what the requests return\n"
	    "unetmap commands:\n"
	    "  -s valeS          per-port counters of switch valeS and its lookup\n"
	    "  -t valeS          learned MAC addresses of switch valeS\n"
	    "  -L valeS:/PATH.so forward on valeS with the function %s\n"
	    "                    of the shared object PATH (a relative path is made\n"
	    "                    absolute); -L valeS resets to the learning bridge\n"
	    "exit status: 0 success, 1 failure (the listing always exits 1)\n",
	    UNETMAP_VALE_LOOKUP_SYM);
}

/* ------------------------------------------------------------------------ */
/* argument parsing                                                          */

/* parse up to @max comma-separated unsigned numbers; returns how many */
static int parse_numbers(const char *s, unsigned long *v, int max)
{
	int n = 0;
	const char *p = s;

	while (n < max) {
		char *end;
		if (!isdigit((unsigned char)*p))
			return -1;
		errno = 0;
		v[n] = strtoul(p, &end, 10);
		if (errno != 0 || v[n] > UINT32_MAX)
			return -1;
		n++;
		if (*end == '\0')
			return n;
		if (*end != ',')
			return -1;
		p = end + 1;
	}
	return -1;	/* too many */
}

struct ring_conf {
	uint32_t tx_slots, rx_slots;
	uint16_t tx_rings, rx_rings;
};

static int parse_ring_conf(const char *s, struct ring_conf *rc)
{
	unsigned long v[4];
	int n = parse_numbers(s, v, 4);

	if (n < 1)
		return -1;
	memset(rc, 0, sizeof(*rc));
	rc->tx_slots = rc->rx_slots = (uint32_t)v[0];
	if (n >= 2)
		rc->rx_slots = (uint32_t)v[1];
	if (n >= 3) {
		if (v[2] > UINT16_MAX)
			return -1;
		rc->tx_rings = rc->rx_rings = (uint16_t)v[2];
	}
	if (n >= 4) {
		if (v[3] > UINT16_MAX)
			return -1;
		rc->rx_rings = (uint16_t)v[3];
	}
	return 0;
}

static int parse_poll_conf(const char *s, struct nmreq_vale_polling *pol)
{
	unsigned long v[3];
	int n = parse_numbers(s, v, 3);

	if (n < 1 || v[0] > 1)
		return -1;
	pol->nr_mode = v[0] == 0 ? NETMAP_POLLING_MODE_SINGLE_CPU
				 : NETMAP_POLLING_MODE_MULTI_CPU;
	if (n >= 2)
		pol->nr_first_cpu_id = (uint32_t)v[1];
	if (n >= 3)
		pol->nr_num_polling_cpus = (uint32_t)v[2];
	return 0;
}

/* -m: a number, or a port whose allocator is looked up */
static int parse_mem_id(const char *s, uint16_t *mem_id)
{
	if (isdigit((unsigned char)s[0])) {
		char *end;
		errno = 0;
		unsigned long v = strtoul(s, &end, 10);
		if (errno != 0 || *end != '\0' || v == 0 || v > UINT16_MAX) {
			fprintf(stderr, "%s: bad mem_id '%s' (1..65535 or a port name)\n",
				prog, s);
			return -1;
		}
		*mem_id = (uint16_t)v;
		return 0;
	}
	/* libnetmap: PORT_INFO_GET on its own descriptor; its default
	 * context prints the reason of a failure */
	const char *scan = s;
	int32_t id = nmreq_get_mem_id(&scan, NULL);
	if (id < 0)
		return -1;
	if (id == 0 || id > UINT16_MAX) {
		fprintf(stderr, "%s: %s: unexpected mem_id %" PRId32 "\n", prog, s, id);
		return -1;
	}
	*mem_id = (uint16_t)id;
	if (verbose)
		printf("%s: mem_id %" PRId32 "\n", s, id);
	return 0;
}

/* copy a name into nr_name; refuses names that do not fit */
static int set_name(struct nmreq_header *hdr, const char *name)
{
	if (strlen(name) >= sizeof(hdr->nr_name)) {
		fprintf(stderr, "%s: %s: name too long (at most %zu characters)\n",
			prog, name, sizeof(hdr->nr_name) - 1);
		return -1;
	}
	snprintf(hdr->nr_name, sizeof(hdr->nr_name), "%s", name);
	return 0;
}

/* ------------------------------------------------------------------------ */
/* netmap requests: one descriptor, one NIOCCTRL                             */

/* returns 0 or an errno value */
static int ctrl(struct nmreq_header *hdr)
{
	int fd = open("/dev/netmap", O_RDWR);
	if (fd < 0) {
		int e = errno;
		fprintf(stderr, "%s: /dev/netmap: %s\n", prog, strerror(e));
		return e ? e : EIO;
	}
	int err = 0;
	if (ioctl(fd, NIOCCTRL, hdr) < 0)
		err = errno ? errno : EIO;
	close(fd);
	return err;
}

/* the IF part of "valeS:IF" */
static const char *port_part(const char *name)
{
	const char *c = strchr(name, ':');
	return c ? c + 1 : name;
}

/* perror-like report of a failed request, with unetmap's diagnostic (if
 * the library left one) and a hint for the errors netmap gives no words */
static void report(const char *what, const char *name, int err)
{
	fprintf(stderr, "%s: %s %s: %s\n", prog, what, name, strerror(err));
	const char *why = unetmap_last_error();
	if (why != NULL && why[0] != '\0')
		fprintf(stderr, "%s: (%s)\n", prog, why);
	if (err == EOPNOTSUPP &&
	    (strcmp(what, "polling on") == 0 || strcmp(what, "polling off") == 0))
		fprintf(stderr, "%s: polling serves network interfaces attached to a "
			"switch, not VALE ports\n", prog);
	else if (err == EFAULT && strcmp(what, "polling on") == 0)
		fprintf(stderr, "%s: %s polls already\n", prog, port_part(name));
	else if (err == EFAULT && strcmp(what, "polling off") == 0)
		fprintf(stderr, "%s: %s does not poll\n", prog, port_part(name));
}

static int do_list_all(void)
{
	struct nmreq_header hdr;
	struct nmreq_vale_list req;
	/* every (switch, port) position at most once, plus the final miss */
	const unsigned limit = UNETMAP_VALE_MAXSWITCHES * 256 + 1;

	memset(&req, 0, sizeof(req));
	for (unsigned i = 0; i < limit; i++) {
		nmreq_header_init(&hdr, NETMAP_REQ_VALE_LIST, &req);	/* empty name */
		int err = ctrl(&hdr);
		if (err == ENOENT)
			return 1;	/* end of the list: netmap's tool exits 1 */
		if (err != 0) {
			report("list", "", err);
			return 1;
		}
		printf("%.*s bridge_idx %u port_idx %" PRIu32 "\n",
		       (int)sizeof(hdr.nr_name), hdr.nr_name,
		       (unsigned)req.nr_bridge_idx, req.nr_port_idx);
		req.nr_port_idx++;
	}
	fprintf(stderr, "%s: list: the switch keeps returning ports, giving up\n", prog);
	return 1;
}

static int do_list(const char *name)
{
	struct nmreq_header hdr;
	struct nmreq_vale_list req;

	memset(&req, 0, sizeof(req));
	nmreq_header_init(&hdr, NETMAP_REQ_VALE_LIST, &req);
	if (set_name(&hdr, name) < 0)
		return 1;
	int err = ctrl(&hdr);
	if (err != 0) {
		report("list", name, err);
		return 1;
	}
	printf("%s bridge_idx %u port_idx %" PRIu32 "%s\n", name,
	       (unsigned)req.nr_bridge_idx, req.nr_port_idx,
	       req.nr_port_idx == UNETMAP_VALE_NOPORT ? " (not a port of this switch)" : "");
	return 0;
}

static int do_info(const char *name, uint16_t mem_id)
{
	struct nmreq_header hdr;
	struct nmreq_port_info_get req;

	/* the kernel takes interface names bare; accept libnetmap's prefix */
	if (strncmp(name, "netmap:", 7) == 0)
		name += 7;
	memset(&req, 0, sizeof(req));
	req.nr_mem_id = mem_id;
	nmreq_header_init(&hdr, NETMAP_REQ_PORT_INFO_GET, &req);
	if (set_name(&hdr, name) < 0)
		return 1;
	int err = ctrl(&hdr);
	if (err != 0) {
		report("port info", name, err);
		return 1;
	}
	printf("%s: memsize %" PRIu64 " tx_slots %" PRIu32 " rx_slots %" PRIu32
	       " tx_rings %u rx_rings %u mem_id %u\n", name,
	       (uint64_t)req.nr_memsize, req.nr_tx_slots, req.nr_rx_slots,
	       (unsigned)req.nr_tx_rings, (unsigned)req.nr_rx_rings,
	       (unsigned)req.nr_mem_id);
	if (verbose)
		printf("%s: host_tx_rings %u host_rx_rings %u\n", name,
		       (unsigned)req.nr_host_tx_rings, (unsigned)req.nr_host_rx_rings);
	struct unetmap_nic_info ni;
	if (unetmap_nic_info(name, &ni) == 0)
		printf("%s: data path %s (%s mode), %u users, helper pid %d%s%s%s%s\n", name,
		       ni.backend, ni.mode, ni.users, (int)ni.helper_pid,
		       ni.tap[0] ? ", host rings on " : "", ni.tap, ni.note[0] ? "; " : "",
		       ni.note);
	return 0;
}

static int do_attach(const char *name, int host, const struct ring_conf *rc,
		     uint16_t mem_id)
{
	struct nmreq_header hdr;
	struct nmreq_vale_attach req;

	memset(&req, 0, sizeof(req));
	req.reg.nr_mode = host ? NR_REG_NIC_SW : NR_REG_ALL_NIC;
	req.reg.nr_tx_slots = rc->tx_slots;
	req.reg.nr_rx_slots = rc->rx_slots;
	req.reg.nr_tx_rings = rc->tx_rings;
	req.reg.nr_rx_rings = rc->rx_rings;
	req.reg.nr_mem_id = mem_id;
	nmreq_header_init(&hdr, NETMAP_REQ_VALE_ATTACH, &req);
	if (set_name(&hdr, name) < 0)
		return 1;
	int err = ctrl(&hdr);
	if (err != 0) {
		report("attach", name, err);
		return 1;
	}
	if (verbose) {
		printf("%s: attached%s, port_idx %" PRIu32 "\n", name,
		       host ? " with host rings" : "", req.port_index);
		/* a network interface: the data path its helper got */
		struct unetmap_nic_info ni;
		if (unetmap_nic_info(port_part(name), &ni) == 0)
			printf("%s: data path %s (%s mode)%s%s\n", port_part(name), ni.backend,
			       ni.mode, ni.note[0] ? "; " : "", ni.note);
	}
	return 0;
}

static int do_detach(const char *name)
{
	struct nmreq_header hdr;
	struct nmreq_vale_detach req;

	memset(&req, 0, sizeof(req));
	nmreq_header_init(&hdr, NETMAP_REQ_VALE_DETACH, &req);
	if (set_name(&hdr, name) < 0)
		return 1;
	int err = ctrl(&hdr);
	if (err != 0) {
		report("detach", name, err);
		return 1;
	}
	if (verbose)
		printf("%s: detached, was port_idx %" PRIu32 "\n", name, req.port_index);
	return 0;
}

static int do_newif(const char *name, const struct ring_conf *rc, uint16_t mem_id)
{
	struct nmreq_header hdr;
	struct nmreq_vale_newif req;

	memset(&req, 0, sizeof(req));
	req.nr_tx_slots = rc->tx_slots;
	req.nr_rx_slots = rc->rx_slots;
	req.nr_tx_rings = rc->tx_rings;
	req.nr_rx_rings = rc->rx_rings;
	req.nr_mem_id = mem_id;
	nmreq_header_init(&hdr, NETMAP_REQ_VALE_NEWIF, &req);
	if (set_name(&hdr, name) < 0)
		return 1;
	int err = ctrl(&hdr);
	if (err != 0) {
		report("create", name, err);
		return 1;
	}
	if (verbose)
		printf("%s: tx_slots %" PRIu32 " rx_slots %" PRIu32
		       " tx_rings %u rx_rings %u mem_id %u\n", name,
		       req.nr_tx_slots, req.nr_rx_slots, (unsigned)req.nr_tx_rings,
		       (unsigned)req.nr_rx_rings, (unsigned)req.nr_mem_id);
	return 0;
}

static int do_delif(const char *name)
{
	struct nmreq_header hdr;

	nmreq_header_init(&hdr, NETMAP_REQ_VALE_DELIF, NULL);
	if (set_name(&hdr, name) < 0)
		return 1;
	int err = ctrl(&hdr);
	if (err != 0) {
		report("destroy", name, err);
		return 1;
	}
	if (verbose)
		printf("%s: destroyed\n", name);
	return 0;
}

static int do_polling(const char *name, int on, const struct nmreq_vale_polling *conf)
{
	struct nmreq_header hdr;
	struct nmreq_vale_polling req = *conf;

	nmreq_header_init(&hdr, on ? NETMAP_REQ_VALE_POLLING_ENABLE
				   : NETMAP_REQ_VALE_POLLING_DISABLE, &req);
	if (set_name(&hdr, name) < 0)
		return 1;
	int err = ctrl(&hdr);
	if (err != 0) {
		report(on ? "polling on" : "polling off", name, err);
		return 1;
	}
	if (verbose)
		printf("%s: polling %s (mode %" PRIu32 ", first cpu %" PRIu32
		       ", cpus %" PRIu32 ")\n", name, on ? "started" : "stopped",
		       req.nr_mode, req.nr_first_cpu_id, req.nr_num_polling_cpus);
	return 0;
}

/* ------------------------------------------------------------------------ */
/* unetmap extensions                                                        */

static void report_ext(const char *what, const char *sw, int rc)
{
	const char *why;
	switch (-rc) {
	case ENOENT: why = "no such switch"; break;
	case EINVAL: why = "invalid argument (a switch is named valeS)"; break;
	default: why = strerror(-rc); break;
	}
	fprintf(stderr, "%s: %s %s: %s\n", prog, what, sw, why);
	const char *detail = unetmap_last_error();
	if (detail != NULL && detail[0] != '\0')
		fprintf(stderr, "%s: (%s)\n", prog, detail);
}

static struct unetmap_vale_port_stats port_stats[UNETMAP_VALE_MAXPORTS];

static int do_stats(const char *sw)
{
	char lookup[PATH_MAX];
	int n = unetmap_vale_stats(sw, port_stats, UNETMAP_VALE_MAXPORTS);
	if (n < 0) {
		report_ext("stats", sw, n);
		return 1;
	}
	int rc = unetmap_vale_get_lookup(sw, lookup, sizeof(lookup));
	if (rc < 0) {
		report_ext("lookup", sw, rc);
		return 1;
	}
	if (n > UNETMAP_VALE_MAXPORTS)
		n = UNETMAP_VALE_MAXPORTS;
	printf("switch %s: %d port%s, lookup %s\n", sw, n, n == 1 ? "" : "s",
	       lookup[0] ? lookup : "learning bridge");
	printf("%-24s %4s %5s %12s %14s %12s %14s %10s %10s %10s %10s\n",
	       "PORT", "IDX", "RXOPN", "RX_FRAMES", "RX_BYTES", "TX_FRAMES",
	       "TX_BYTES", "DROP_FULL", "DROP_CLOSD", "DROP_MALF", "DROP_DEAD");
	for (int i = 0; i < n; i++) {
		const struct unetmap_vale_port_stats *s = &port_stats[i];
		printf("%-24.*s %4" PRIu32 " %5" PRIu32 " %12" PRIu64 " %14" PRIu64
		       " %12" PRIu64 " %14" PRIu64 " %10" PRIu64 " %10" PRIu64
		       " %10" PRIu64 " %10" PRIu64 "\n",
		       (int)sizeof(s->name), s->name, s->port_idx, s->rx_rings_open,
		       s->rx_frames, s->rx_bytes, s->tx_frames, s->tx_bytes,
		       s->drop_full, s->drop_closed, s->drop_malformed, s->drop_dead);
	}
	/* interfaces attached to the switch: their XDP fast path */
	for (int i = 0; i < n; i++) {
		uint64_t sent, recv;
		int on = unetmap_vale_xdp_state(port_stats[i].name, &sent, &recv);
		if (on >= 0)
			printf("%.*s: XDP fast path %s, %" PRIu64 " frames sent and %" PRIu64
			       " received through it (included above)\n",
			       (int)sizeof(port_stats[i].name), port_stats[i].name, on ? "on" : "off",
			       sent, recv);
	}
	return 0;
}

#define MAX_MACS 4096
static struct unetmap_vale_mac macs[MAX_MACS];

static int do_macs(const char *sw)
{
	int n = unetmap_vale_macs(sw, macs, MAX_MACS);
	if (n < 0) {
		report_ext("MAC table", sw, n);
		return 1;
	}
	/* port names, best effort (a port may leave in between) */
	int np = unetmap_vale_stats(sw, port_stats, UNETMAP_VALE_MAXPORTS);
	if (np > UNETMAP_VALE_MAXPORTS)
		np = UNETMAP_VALE_MAXPORTS;
	int shown = n > MAX_MACS ? MAX_MACS : n;
	printf("switch %s: %d learned address%s\n", sw, n, n == 1 ? "" : "es");
	for (int i = 0; i < shown; i++) {
		const uint8_t *m = macs[i].mac;
		const char *pname = "";
		for (int j = 0; j < np; j++)
			if (port_stats[j].port_idx == macs[i].port_idx) {
				pname = port_stats[j].name;
				break;
			}
		printf("%02x:%02x:%02x:%02x:%02x:%02x port_idx %u %.*s\n",
		       m[0], m[1], m[2], m[3], m[4], m[5], (unsigned)macs[i].port_idx,
		       (int)sizeof(port_stats[0].name), pname);
	}
	if (shown < n)
		printf("(%d more not shown)\n", n - shown);
	return 0;
}

static int do_lookup(const char *arg)
{
	char sw[64], path[PATH_MAX];
	const char *colon = strchr(arg, ':');
	size_t swlen = colon ? (size_t)(colon - arg) : strlen(arg);

	if (swlen == 0 || swlen >= sizeof(sw)) {
		fprintf(stderr, "%s: -L %s: expected valeS:/path/object.so or valeS\n",
			prog, arg);
		return 1;
	}
	memcpy(sw, arg, swlen);
	sw[swlen] = '\0';
	path[0] = '\0';
	if (colon != NULL && colon[1] != '\0') {
		const char *p = colon + 1;
		if (p[0] == '/') {
			if (strlen(p) >= sizeof(path)) {
				fprintf(stderr, "%s: %s: path too long\n", prog, p);
				return 1;
			}
			snprintf(path, sizeof(path), "%s", p);
		} else if (realpath(p, path) == NULL) {
			fprintf(stderr, "%s: %s: %s\n", prog, p, strerror(errno));
			return 1;
		}
	}
	int rc = unetmap_vale_set_lookup(sw, path[0] ? path : NULL);
	if (rc < 0) {
		if (rc == -ENOEXEC) {
			fprintf(stderr, "%s: lookup %s: %s cannot be loaded or does not "
				"export %s\n", prog, sw, path, UNETMAP_VALE_LOOKUP_SYM);
			const char *why = unetmap_last_error();
			if (why != NULL && why[0] != '\0')
				fprintf(stderr, "%s: (%s)\n", prog, why);
		} else
			report_ext("lookup", sw, rc);
		return 1;
	}
	if (verbose)
		printf("%s: lookup %s\n", sw, path[0] ? path : "learning bridge");
	return 0;
}

/* ------------------------------------------------------------------------ */

int main(int argc, char **argv)
{
	enum cmd cmd = CMD_NONE;
	const char *name = NULL, *conf = NULL, *mem = NULL;
	int opt;

	if (argc == 1)
		return do_list_all();

	opterr = 0;
	while ((opt = getopt(argc, argv, "a:h:d:n:r:l:g:p:P:C:m:s:t:L:v")) != -1) {
		enum cmd c = CMD_NONE;
		switch (opt) {
		case 'a': c = CMD_ATTACH; break;
		case 'h': c = CMD_ATTACH_SW; break;
		case 'd': c = CMD_DETACH; break;
		case 'n': c = CMD_NEWIF; break;
		case 'r': c = CMD_DELIF; break;
		case 'l': c = CMD_LIST; break;
		case 'g': c = CMD_INFO; break;
		case 'p': c = CMD_POLL_ON; break;
		case 'P': c = CMD_POLL_OFF; break;
		case 's': c = CMD_STATS; break;
		case 't': c = CMD_MACS; break;
		case 'L': c = CMD_LOOKUP; break;
		case 'C': conf = optarg; break;
		case 'm': mem = optarg; break;
		case 'v': verbose = 1; break;
		default:
			if (optopt == 'h' || optopt == '?') {
				usage(stdout);
				return 0;
			}
			if (strchr("ahdnrlgpPCmstL", optopt) != NULL)
				fprintf(stderr, "%s: -%c needs an argument\n", prog, optopt);
			else
				fprintf(stderr, "%s: unknown option -%c\n", prog, optopt);
			usage(stderr);
			return 1;
		}
		if (c != CMD_NONE) {
			if (cmd != CMD_NONE) {
				fprintf(stderr, "%s: one command at a time\n", prog);
				usage(stderr);
				return 1;
			}
			cmd = c;
			name = optarg;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "%s: unexpected argument '%s'\n", prog, argv[optind]);
		usage(stderr);
		return 1;
	}
	if (cmd == CMD_NONE) {
		if (conf != NULL || mem != NULL) {
			fprintf(stderr, "%s: -C and -m go with a command\n", prog);
			usage(stderr);
			return 1;
		}
		return do_list_all();	/* just -v */
	}

	struct ring_conf rc;
	struct nmreq_vale_polling pol;
	uint16_t mem_id = 0;
	memset(&rc, 0, sizeof(rc));
	memset(&pol, 0, sizeof(pol));
	pol.nr_mode = NETMAP_POLLING_MODE_SINGLE_CPU;
	pol.nr_first_cpu_id = 0;
	pol.nr_num_polling_cpus = 1;
	if (conf != NULL) {
		int bad;
		switch (cmd) {
		case CMD_NEWIF: case CMD_ATTACH: case CMD_ATTACH_SW:
			bad = parse_ring_conf(conf, &rc) < 0;
			break;
		case CMD_POLL_ON: case CMD_POLL_OFF:
			bad = parse_poll_conf(conf, &pol) < 0;
			break;
		default:
			fprintf(stderr, "%s: -C goes with -n, -a, -h or -p\n", prog);
			return 1;
		}
		if (bad) {
			fprintf(stderr, "%s: bad -C '%s'\n", prog, conf);
			usage(stderr);
			return 1;
		}
	}
	if (mem != NULL) {
		if (cmd != CMD_NEWIF && cmd != CMD_ATTACH && cmd != CMD_ATTACH_SW &&
		    cmd != CMD_INFO) {
			fprintf(stderr, "%s: -m goes with -n, -a, -h or -g\n", prog);
			return 1;
		}
		if (parse_mem_id(mem, &mem_id) < 0)
			return 1;
	}

	switch (cmd) {
	case CMD_LIST: return do_list(name);
	case CMD_INFO: return do_info(name, mem_id);
	case CMD_ATTACH: return do_attach(name, 0, &rc, mem_id);
	case CMD_ATTACH_SW: return do_attach(name, 1, &rc, mem_id);
	case CMD_DETACH: return do_detach(name);
	case CMD_NEWIF: return do_newif(name, &rc, mem_id);
	case CMD_DELIF: return do_delif(name);
	case CMD_POLL_ON: return do_polling(name, 1, &pol);
	case CMD_POLL_OFF: return do_polling(name, 0, &pol);
	case CMD_STATS: return do_stats(name);
	case CMD_MACS: return do_macs(name);
	case CMD_LOOKUP: return do_lookup(name);
	default: break;
	}
	return 1;
}
