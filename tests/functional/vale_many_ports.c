/* Description: a VALE switch with its maximum of 254 ports (indices
 * 0..253): the 255th port fails with ENOMEM, a broadcast from one port
 * reaches all 253 others once, learned unicast still reaches one port, a
 * freed index can be taken again, and the switch goes away with its last
 * port. */
#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <libnetmap.h>
#include <unetmap.h>
#include "testlib.h"

#define NPORTS UNETMAP_VALE_MAXPORTS
#define SPEC "vale0:p%d@conf:slots=64"

static struct nmport_d *port[NPORTS];
static struct unetmap_vale_port_stats st[NPORTS + 8];

static const uint8_t BCAST[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };

static void mac_of(int p, uint8_t *m)
{
	m[0] = 0x02;
	m[1] = 0;
	m[2] = 0;
	m[3] = 0x77;
	m[4] = (uint8_t)(p >> 8);
	m[5] = (uint8_t)p;
}

static void send_from(int p, const uint8_t *dst, uint32_t tag)
{
	struct nmport_d *d = port[p];
	struct netmap_ring *r = NETMAP_TXRING(d->nifp, 0);
	REQUIRE(!nm_ring_empty(r), "no room");
	struct netmap_slot *s = &r->slot[r->head];
	uint8_t *b = (uint8_t *)NETMAP_BUF(r, s->buf_idx);
	memset(b, 0, 60);
	memcpy(b, dst, 6);
	mac_of(p, b + 6);
	memcpy(b + 14, &tag, 4);
	s->len = 60;
	s->flags = 0;
	r->head = r->cur = nm_ring_next(r, r->head);
	CHECK(ioctl(d->fd, NIOCTXSYNC, NULL) == 0, "txsync: %s", strerror(errno));
	CHECK(nm_ring_space(r) == r->num_slots - 1, "p%d: TX ring not free after txsync", p);
}

/* frames waiting at port p; the first one's tag in *tag */
static int drain(int p, uint32_t *tag)
{
	struct nmport_d *d = port[p];
	CHECK(ioctl(d->fd, NIOCRXSYNC, NULL) == 0, "rxsync: %s", strerror(errno));
	struct netmap_ring *r = NETMAP_RXRING(d->nifp, 0);
	int n = 0;
	while (!nm_ring_empty(r) && n < 100) {
		if (n == 0 && tag)
			memcpy(tag, NETMAP_BUF(r, r->slot[r->head].buf_idx) + 14, 4);
		r->head = r->cur = nm_ring_next(r, r->head);
		n++;
	}
	ioctl(d->fd, NIOCRXSYNC, NULL);
	return n;
}

/* a broadcast from p reaches every other open port exactly once */
static void bcast_from(int p, uint32_t tag)
{
	send_from(p, BCAST, tag);
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

static int list_count(const char *sw)
{
	struct nmreq_vale_list lb;
	struct nmreq_header h;
	memset(&lb, 0, sizeof(lb));
	int n = 0, fd = open("/dev/netmap", O_RDWR);
	REQUIRE(fd >= 0, "open /dev/netmap");
	for (int k = 0; k < 1000; k++) {
		memset(&h, 0, sizeof(h));
		h.nr_version = NETMAP_API;
		h.nr_reqtype = NETMAP_REQ_VALE_LIST;
		h.nr_body = (uintptr_t)&lb;
		if (ioctl(fd, NIOCCTRL, &h) < 0) {
			CHECK(errno == ENOENT, "enumeration ends with %s", strerror(errno));
			break;
		}
		if (strncmp(h.nr_name, sw, strlen(sw)) == 0 && h.nr_name[strlen(sw)] == ':')
			n++;
		lb.nr_port_idx++;
	}
	close(fd);
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
	errno = 0;
	struct nmport_d *extra = nmport_open("vale0:extra@conf:slots=64");
	CHECK(extra == NULL && errno == ENOMEM, "255th port: %p %s", (void *)extra,
	      strerror(errno));
	CHECK(unetmap_last_error()[0] != '\0', "no diagnostic for the 255th port");
	fprintf(stderr, "255th port: %s\n", unetmap_last_error());
	if (extra)
		nmport_close(extra);
	/* also as a persistent port */
	struct nmreq_vale_newif nb;
	memset(&nb, 0, sizeof(nb));
	nb.nr_tx_slots = nb.nr_rx_slots = 64;	/* fits UNETMAP_BUF_NUM above */
	struct nmreq_header h;
	memset(&h, 0, sizeof(h));
	h.nr_version = NETMAP_API;
	h.nr_reqtype = NETMAP_REQ_VALE_NEWIF;
	snprintf(h.nr_name, sizeof(h.nr_name), "vmany");
	h.nr_body = (uintptr_t)&nb;
	int cfd = open("/dev/netmap", O_RDWR);
	REQUIRE(cfd >= 0, "open /dev/netmap");
	CHECK(ioctl(cfd, NIOCCTRL, &h) == 0, "NEWIF vmany: %s", strerror(errno));
	struct nmreq_vale_attach ab;
	memset(&ab, 0, sizeof(ab));
	ab.reg.nr_mode = NR_REG_ALL_NIC;
	h.nr_reqtype = NETMAP_REQ_VALE_ATTACH;
	snprintf(h.nr_name, sizeof(h.nr_name), "vale0:vmany");
	h.nr_body = (uintptr_t)&ab;
	CHECK_ERRNO(ioctl(cfd, NIOCCTRL, &h), ENOMEM);

	/* broadcasts from the first and the last port */
	bcast_from(0, 1);
	bcast_from(NPORTS - 1, 2);
	bcast_from(100, 3);	/* p100's MAC is learned */
	uint8_t m100[6];
	mac_of(100, m100);
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
	errno = 0;
	extra = nmport_open("vale0:extra2@conf:slots=64");
	CHECK(extra == NULL && errno == ENOMEM, "full again: %p %s", (void *)extra,
	      strerror(errno));
	if (extra)
		nmport_close(extra);
	if (port[17])
		bcast_from(17, 5);
	/* the persistent port fits once a port leaves */
	nmport_close(port[200]);
	port[200] = NULL;
	CHECK(ioctl(cfd, NIOCCTRL, &h) == 0, "ATTACH once there is room: %s", strerror(errno));
	h.nr_reqtype = NETMAP_REQ_VALE_DETACH;
	struct nmreq_vale_detach db;
	memset(&db, 0, sizeof(db));
	h.nr_body = (uintptr_t)&db;
	CHECK(ioctl(cfd, NIOCCTRL, &h) == 0, "DETACH: %s", strerror(errno));
	h.nr_reqtype = NETMAP_REQ_VALE_DELIF;
	h.nr_body = 0;
	snprintf(h.nr_name, sizeof(h.nr_name), "vmany");
	CHECK(ioctl(cfd, NIOCCTRL, &h) == 0, "DELIF: %s", strerror(errno));
	close(cfd);

	for (int p = 0; p < NPORTS; p++)
		if (port[p])
			nmport_close(port[p]);
	char names[4][16];
	CHECK(unetmap_vale_switches(names, 4) == 0, "switch left after closing every port");
	return t_done();
}
