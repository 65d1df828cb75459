/* Description: a VALE switch with its maximum of 254 ports (indices
 * 0..253): the 255th port fails with ENOMEM, a broadcast from one port
 * reaches all 253 others once, learned unicast still reaches one port, a
 * freed index can be taken again, and the switch goes away with its last
 * port. */
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <libnetmap.h>
#include <unetmap.h>
#include "testlib.h"
#include "valetest.h"

#define NPORTS UNETMAP_VALE_MAXPORTS
#define SPEC "vale0:p%d@conf:slots=64"

static struct nmport_d *port[NPORTS];
static struct unetmap_vale_port_stats st[NPORTS + 8];

/* port p's MAC: 02:00:00:77:p */
#define MAC_ID(p) (0x770000u | (uint32_t)(p))

static void send_from(int p, const uint8_t *dst, uint32_t tag)
{
	vt_queue(port[p], 0, dst, MAC_ID(p), tag, 60);
	vt_txsync_free(port[p], "send_from");
}

/* frames waiting at port p; the first one's tag in *tag */
static int drain(int p, uint32_t *tag)
{
	return vt_recv(port[p], 0, tag, 1, true);
}

/* a broadcast from p reaches every other open port exactly once */
static void bcast_from(int p, uint32_t tag)
{
	send_from(p, vt_bcast, tag);
	int bad = 0, got = 0;
	for (int q = 0; q < NPORTS; q++) {
		if (port[q] == NULL)
			continue;
		uint32_t t = 0;
		int n = drain(q, &t);
		int want = q != p;
		if (n != want || (n && t != tag)) {
			if (bad++ < 5)
				CHECK(0, "broadcast %u from p%d: p%d got %d frame(s) (tag %u)", tag, p, q,
				      n, t);
		}
		got += n;
	}
	CHECK(bad == 0 && got == NPORTS - 1, "broadcast %u from p%d reached %d ports, want %d "
	      "(%d wrong)", tag, p, got, NPORTS - 1, bad);
}

/* ports of switch sw in the VALE_LIST enumeration */
static int list_count(const char *sw)
{
	struct nmreq_vale_list lb;
	char name[NETMAP_REQ_IFNAMSIZ];
	memset(&lb, 0, sizeof(lb));
	int n = 0;
	for (int k = 0; k < 1000; k++) {
		if (vt_list_at(&lb, name) < 0) {
			CHECK(errno == ENOENT, "enumeration ends with %s", strerror(errno));
			break;
		}
		if (strncmp(name, sw, strlen(sw)) == 0 && name[strlen(sw)] == ':')
			n++;
		lb.nr_port_idx++;
	}
	return n;
}

int main(void)
{
	t_setup(120);
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < 1024) {
		rl.rlim_cur = rl.rlim_max < 1024 ? rl.rlim_max : 1024;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	/* small private regions: 254 of them */
	setenv("UNETMAP_BUF_NUM", "512", 1);
	setenv("UNETMAP_RING_NUM", "8", 1);
	setenv("UNETMAP_IF_NUM", "4", 1);
	char spec[64];
	for (int p = 0; p < NPORTS; p++) {
		snprintf(spec, sizeof(spec), SPEC, p);
		port[p] = nmport_open(spec);
		REQUIRE(port[p] != NULL, "port %d of %d: %s (%s)", p + 1, NPORTS, strerror(errno),
			unetmap_last_error());
	}
	int n = unetmap_vale_stats("vale0", st, NPORTS + 8);
	CHECK(n == NPORTS, "unetmap_vale_stats: %d ports", n);
	unsigned char used[256];
	memset(used, 0, sizeof(used));
	for (int i = 0; i < n && i < NPORTS + 8; i++) {
		CHECK(st[i].port_idx < NPORTS, "%s has index %u", st[i].name, st[i].port_idx);
		if (st[i].port_idx < 256)
			CHECK(used[st[i].port_idx]++ == 0, "index %u twice", st[i].port_idx);
	}
	CHECK(list_count("vale0") == NPORTS, "VALE_LIST enumerates %d ports", list_count("vale0"));

	/* the 255th */
	nmctx_get()->verbose = 0;
	t_open_fails("vale0:extra@conf:slots=64", ENOMEM);
	CHECK(unetmap_last_error()[0] != '\0', "no diagnostic for the 255th port");
	fprintf(stderr, "255th port: %s\n", unetmap_last_error());
	/* also as a persistent port */
	struct nmreq_vale_newif nb;
	memset(&nb, 0, sizeof(nb));
	nb.nr_tx_slots = nb.nr_rx_slots = 64;	/* fits UNETMAP_BUF_NUM above */
	CHECK(vt_newif("vmany", &nb) == 0, "NEWIF vmany: %s", strerror(errno));
	CHECK_ERRNO(vt_attach("vale0:vmany", NULL), ENOMEM);

	/* broadcasts from the first and the last port */
	bcast_from(0, 1);
	bcast_from(NPORTS - 1, 2);
	bcast_from(100, 3);	/* p100's MAC is learned */
	uint8_t m100[6];
	vt_mac(m100, MAC_ID(100));
	send_from(0, m100, 4);
	for (int q = 0; q < NPORTS; q++) {
		uint32_t t = 0;
		int k = drain(q, &t);
		CHECK(k == (q == 100), "unicast to p100: p%d got %d", q, k);
	}
	n = unetmap_vale_stats("vale0", st, NPORTS + 8);
	uint64_t rx = 0;
	for (int i = 0; i < n && i < NPORTS + 8; i++) {
		rx += st[i].rx_frames;
		CHECK(st[i].drop_full + st[i].drop_closed + st[i].drop_malformed == 0,
		      "%s has drops", st[i].name);
	}
	CHECK(rx == 3 * (NPORTS - 1) + 1, "rx_frames over all ports %llu, want %d",
	      (unsigned long long)rx, 3 * (NPORTS - 1) + 1);

	/* free one index, take it again; still full after that */
	nmport_close(port[17]);
	port[17] = NULL;
	CHECK(unetmap_vale_stats("vale0", st, NPORTS + 8) == NPORTS - 1, "after one close");
	port[17] = nmport_open("vale0:again@conf:slots=64");
	CHECK(port[17] != NULL, "reopen after a close: %s (%s)", strerror(errno),
	      unetmap_last_error());
	t_open_fails("vale0:extra2@conf:slots=64", ENOMEM);	/* full again */
	if (port[17])
		bcast_from(17, 5);
	/* the persistent port fits once a port leaves */
	nmport_close(port[200]);
	port[200] = NULL;
	CHECK(vt_attach("vale0:vmany", NULL) == 0, "ATTACH once there is room: %s",
	      strerror(errno));
	CHECK(vt_detach("vale0:vmany", NULL) == 0, "DETACH: %s", strerror(errno));
	CHECK(vt_delif("vmany") == 0, "DELIF: %s", strerror(errno));

	for (int p = 0; p < NPORTS; p++)
		if (port[p])
			nmport_close(port[p]);
	char names[4][16];
	CHECK(unetmap_vale_switches(names, 4) == 0, "switch left after closing every port");
	return t_done();
}
