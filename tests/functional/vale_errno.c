/* Description: VALE control requests and their errnos (reference §2.3,
 * §3.3, §4.3): NEWIF/DELIF/ATTACH/DETACH/LIST, PORT_HDR_SET/GET, REGISTER
 * modes and malformed VALE names; a persistent port is reachable as
 * netmap:NAME and, while attached, as valeS:NAME; 64 switches at most. */
#include <fcntl.h>
#include <net/if.h>
#include <stdbool.h>
#include <sys/ioctl.h>
#include <libnetmap.h>
#include <unetmap.h>
#include "testlib.h"

/* one NIOCCTRL request on a fresh control fd; -1/errno on failure.  The
 * header is the caller's (LIST enumeration reads the name back). */
static int ctl_hdr(struct nmreq_header *h)
{
	int fd = open("/dev/netmap", O_RDWR);
	REQUIRE(fd >= 0, "open /dev/netmap: %s", strerror(errno));
	int r = ioctl(fd, NIOCCTRL, h);
	int e = errno;
	close(fd);
	errno = e;
	return r;
}

static void hdr_init(struct nmreq_header *h, uint16_t type, const char *name, void *body)
{
	memset(h, 0, sizeof(*h));
	h->nr_version = NETMAP_API;
	h->nr_reqtype = type;
	snprintf(h->nr_name, sizeof(h->nr_name), "%s", name);
	h->nr_body = (uintptr_t)body;
}

static int ctl(uint16_t type, const char *name, void *body)
{
	struct nmreq_header h;
	hdr_init(&h, type, name, body);
	return ctl_hdr(&h);
}

static int newif(const char *name, struct nmreq_vale_newif *out)
{
	struct nmreq_vale_newif b;
	memset(&b, 0, sizeof(b));
	int r = ctl(NETMAP_REQ_VALE_NEWIF, name, &b);
	if (out)
		*out = b;
	return r;
}

static int delif(const char *name)
{
	return ctl(NETMAP_REQ_VALE_DELIF, name, NULL);
}

static int attach(const char *name, uint32_t *idx)
{
	struct nmreq_vale_attach b;
	memset(&b, 0, sizeof(b));
	b.reg.nr_mode = NR_REG_ALL_NIC;
	b.port_index = 0xdeadbeef;
	int r = ctl(NETMAP_REQ_VALE_ATTACH, name, &b);
	if (idx)
		*idx = b.port_index;
	return r;
}

static int detach(const char *name, uint32_t *idx)
{
	struct nmreq_vale_detach b;
	memset(&b, 0, sizeof(b));
	b.port_index = 0xdeadbeef;
	int r = ctl(NETMAP_REQ_VALE_DETACH, name, &b);
	if (idx)
		*idx = b.port_index;
	return r;
}

/* LIST with a name: -1/errno, else fills switch and port index */
static int list_name(const char *name, uint16_t *sw, uint32_t *port)
{
	struct nmreq_vale_list b;
	memset(&b, 0, sizeof(b));
	b.nr_port_idx = 0xdeadbeef;
	int r = ctl(NETMAP_REQ_VALE_LIST, name, &b);
	if (sw)
		*sw = b.nr_bridge_idx;
	if (port)
		*port = b.nr_port_idx;
	return r;
}

static int hdr_req(uint16_t type, const char *name, uint32_t *len)
{
	struct nmreq_port_hdr b;
	memset(&b, 0, sizeof(b));
	b.nr_hdr_len = *len;
	int r = ctl(type, name, &b);
	if (r == 0)
		*len = b.nr_hdr_len;
	return r;
}

/* raw REGISTER; returns the bound fd or -1/errno */
static int reg_raw(const char *name, uint32_t mode, uint16_t ringid, uint64_t flags)
{
	struct nmreq_register reg;
	struct nmreq_header h;
	memset(&reg, 0, sizeof(reg));
	reg.nr_mode = mode;
	reg.nr_ringid = ringid;
	reg.nr_flags = flags;
	hdr_init(&h, NETMAP_REQ_REGISTER, name, &reg);
	int fd = open("/dev/netmap", O_RDWR);
	REQUIRE(fd >= 0, "open /dev/netmap: %s", strerror(errno));
	if (ioctl(fd, NIOCCTRL, &h) < 0) {
		int e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

/* a REGISTER that must fail with `want`; closes the fd if it succeeded, so
 * that an unexpected success does not keep the port alive */
#define REG_FAILS(call, want) do { \
	errno = 0; int _fd = (call); int _e = errno; \
	if (_fd >= 0 || _e != (want)) { \
		fprintf(stderr, "%s:%d: %s: want -1/%s, got %d/%s\n", __FILE__, __LINE__, \
			#call, strerror(want), _fd < 0 ? -1 : 0, _fd < 0 ? strerror(_e) : "success"); \
		t_failures++; \
	} \
	if (_fd >= 0) \
		close(_fd); \
	} while (0)

static struct nmport_d *vopen(const char *spec)
{
	struct nmport_d *d = nmport_open(spec);
	REQUIRE(d != NULL, "nmport_open(%s): %s (%s)", spec, strerror(errno),
		unetmap_last_error());
	return d;
}

/* ---- frames ---------------------------------------------------------- */

static const uint8_t bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };

static void send_bcast(struct nmport_d *d, uint8_t srcid, uint32_t tag)
{
	struct netmap_ring *r = NETMAP_TXRING(d->nifp, d->first_tx_ring);
	REQUIRE(!nm_ring_empty(r), "no room in tx ring");
	struct netmap_slot *s = &r->slot[r->head];
	uint8_t *b = (uint8_t *)NETMAP_BUF(r, s->buf_idx);
	memset(b, 0, 64);
	memcpy(b, bcast, 6);
	uint8_t src[6] = { 0x02, 0, 0, 0, 0, srcid };
	memcpy(b + 6, src, 6);
	memcpy(b + 14, &tag, sizeof(tag));
	s->len = 64;
	s->flags = 0;
	r->head = r->cur = nm_ring_next(r, r->head);
	CHECK(ioctl(d->fd, NIOCTXSYNC, NULL) == 0, "txsync: %s", strerror(errno));
}

/* frames waiting on the first RX ring; the last one's tag in *tag */
static int drain(struct nmport_d *d, uint32_t *tag)
{
	CHECK(ioctl(d->fd, NIOCRXSYNC, NULL) == 0, "rxsync: %s", strerror(errno));
	struct netmap_ring *r = NETMAP_RXRING(d->nifp, d->first_rx_ring);
	int n = 0;
	while (!nm_ring_empty(r) && n < 4096) {
		struct netmap_slot *s = &r->slot[r->head];
		if (tag)
			memcpy(tag, NETMAP_BUF(r, s->buf_idx) + 14, sizeof(*tag));
		r->head = r->cur = nm_ring_next(r, r->head);
		n++;
	}
	ioctl(d->fd, NIOCRXSYNC, NULL);
	return n;
}

/* ---- sections ---------------------------------------------------------- */

static int nswitches(void)
{
	char names[UNETMAP_VALE_MAXSWITCHES + 8][16];
	return unetmap_vale_switches(names, UNETMAP_VALE_MAXSWITCHES + 8);
}

static bool has_switch(const char *sw)
{
	char names[UNETMAP_VALE_MAXSWITCHES + 8][16];
	int n = unetmap_vale_switches(names, UNETMAP_VALE_MAXSWITCHES + 8);
	for (int i = 0; i < n && i < UNETMAP_VALE_MAXSWITCHES + 8; i++)
		if (strncmp(names[i], sw, 16) == 0)
			return true;
	return false;
}

static void newif_delif(void)
{
	struct nmreq_vale_newif nb;

	/* create: defaults written back */
	CHECK(newif("v0", &nb) == 0, "NEWIF v0: %s (%s)", strerror(errno), unetmap_last_error());
	CHECK(nb.nr_tx_rings == 1 && nb.nr_rx_rings == 1, "NEWIF v0 rings %u/%u, want 1/1",
	      nb.nr_tx_rings, nb.nr_rx_rings);
	CHECK(nb.nr_tx_slots == 1024 && nb.nr_rx_slots == 1024, "NEWIF v0 slots %u/%u, want 1024",
	      nb.nr_tx_slots, nb.nr_rx_slots);
	CHECK(nb.nr_mem_id > 1, "NEWIF v0 mem_id %u (want a private region)", nb.nr_mem_id);
	CHECK_ERRNO(newif("v0", NULL), EEXIST);

	/* names */
	CHECK_ERRNO(newif("vale0", NULL), EINVAL);
	CHECK_ERRNO(newif("valex", NULL), EINVAL);
	CHECK_ERRNO(newif("vale0:x", NULL), EINVAL);
	CHECK_ERRNO(newif("abcdefghijklmnop", NULL), EINVAL);	/* 16 chars */
	CHECK_ERRNO(newif("abcdefghijklmnopqrstuvwxyz", NULL), EINVAL);
	CHECK(newif("abcdefghijklmno", NULL) == 0, "NEWIF with 15 chars: %s", strerror(errno));
	CHECK(delif("abcdefghijklmno") == 0, "DELIF 15 chars: %s", strerror(errno));
	/* an unknown memory region */
	struct nmreq_vale_newif b;
	memset(&b, 0, sizeof(b));
	b.nr_mem_id = 60000;
	CHECK_ERRNO(ctl(NETMAP_REQ_VALE_NEWIF, "vbad", &b), EINVAL);
	CHECK_ERRNO(delif("vbad"), ENXIO);

	/* geometry requested at creation */
	memset(&b, 0, sizeof(b));
	b.nr_tx_rings = 2;
	b.nr_rx_rings = 3;
	b.nr_tx_slots = 256;
	b.nr_rx_slots = 128;
	CHECK(ctl(NETMAP_REQ_VALE_NEWIF, "vgeo", &b) == 0, "NEWIF vgeo: %s", strerror(errno));
	CHECK(b.nr_tx_rings == 2 && b.nr_rx_rings == 3 && b.nr_tx_slots == 256 &&
	      b.nr_rx_slots == 128, "NEWIF vgeo reply %u/%u rings %u/%u slots", b.nr_tx_rings,
	      b.nr_rx_rings, b.nr_tx_slots, b.nr_rx_slots);
	struct nmport_d *g = vopen("netmap:vgeo");
	CHECK(g->reg.nr_tx_rings == 2 && g->reg.nr_rx_rings == 3, "netmap:vgeo rings %u/%u",
	      g->reg.nr_tx_rings, g->reg.nr_rx_rings);
	CHECK(g->reg.nr_tx_slots == 256 && g->reg.nr_rx_slots == 128, "netmap:vgeo slots %u/%u",
	      g->reg.nr_tx_slots, g->reg.nr_rx_slots);
	CHECK(g->reg.nr_mem_id == b.nr_mem_id, "netmap:vgeo mem_id %u, NEWIF said %u",
	      g->reg.nr_mem_id, b.nr_mem_id);
	/* open → EBUSY */
	CHECK_ERRNO(delif("vgeo"), EBUSY);
	/* an unattached persistent port discards what is sent on it */
	send_bcast(g, 9, 1);
	struct netmap_ring *t = NETMAP_TXRING(g->nifp, 0);
	CHECK(nm_ring_space(t) == t->num_slots - 1, "unattached port: tx ring not free (%u)",
	      nm_ring_space(t));
	nmport_close(g);
	CHECK(delif("vgeo") == 0, "DELIF vgeo after close: %s", strerror(errno));
	CHECK_ERRNO(delif("vgeo"), ENXIO);

	/* DELIF errors */
	CHECK_ERRNO(delif("nosuchif"), ENXIO);
	CHECK_ERRNO(delif("vale0:nosuch"), ENXIO);
	struct nmport_d *e = vopen("vale0:eph");
	CHECK_ERRNO(delif("vale0:eph"), ENXIO);	/* ephemeral: not an interface */
	nmport_close(e);
	struct nmport_d *pp = vopen("netmap:ppar{1");
	CHECK_ERRNO(delif("ppar"), EINVAL);	/* auto-created pipe parent */
	nmport_close(pp);
	if (if_nametoindex("lo") != 0)
		CHECK_ERRNO(delif("lo"), EINVAL);	/* an OS interface, not VALE */
	/* DELIF has no body */
	struct nmreq_header h;
	struct nmreq_vale_newif dummy;
	hdr_init(&h, NETMAP_REQ_VALE_DELIF, "v0", &dummy);
	CHECK_ERRNO(ctl_hdr(&h), EINVAL);
}

static void attach_detach(void)
{
	uint32_t i0 = 0, i1 = 0, x = 0;
	/* v0 exists (newif_delif); a peer port on vale0 first so v0 is not index 0 */
	struct nmport_d *e = vopen("vale0:e");
	CHECK(attach("vale0:v0", &i0) == 0, "ATTACH vale0:v0: %s (%s)", strerror(errno),
	      unetmap_last_error());
	CHECK(i0 < UNETMAP_VALE_MAXPORTS, "port_index %u", i0);
	CHECK_ERRNO(newif("v0", NULL), EEXIST);		/* even while attached */
	CHECK_ERRNO(attach("vale0:v0", NULL), EBUSY);	/* twice, same switch */
	CHECK_ERRNO(delif("v0"), EBUSY);			/* attached */
	CHECK(attach("vale1:v0", &i1) == 0, "ATTACH vale1:v0 (second switch): %s",
	      strerror(errno));
	CHECK(has_switch("vale1"), "vale1 created by ATTACH");
	CHECK_ERRNO(attach("vale1:v0", NULL), EBUSY);
	CHECK_ERRNO(attach("foo0:v0", NULL), EINVAL);	/* no VALE prefix */
	CHECK_ERRNO(attach("v0", NULL), EINVAL);
	CHECK_ERRNO(attach("vale0:nosuchif", NULL), EINVAL);
	CHECK_ERRNO(attach("vale5:nosuchif", NULL), EINVAL);
	CHECK(!has_switch("vale5"), "failed ATTACH left switch vale5 behind");

	/* LIST by name */
	uint16_t sw = 0;
	uint32_t port = 0;
	CHECK(list_name("vale0:v0", &sw, &port) == 0, "LIST vale0:v0: %s", strerror(errno));
	CHECK(port == i0, "LIST vale0:v0 port %u, ATTACH said %u", port, i0);
	uint16_t sw0 = sw;
	CHECK(list_name("vale1:v0", &sw, &port) == 0, "LIST vale1:v0: %s", strerror(errno));
	CHECK(port == i1, "LIST vale1:v0 port %u, ATTACH said %u", port, i1);
	CHECK(sw != sw0, "vale0 and vale1 have the same switch index %u", sw);
	CHECK(list_name("vale0:e", &sw, &port) == 0 && sw == sw0 && port != i0,
	      "LIST vale0:e: sw %u port %u", sw, port);
	CHECK(list_name("vale0:notamember", &sw, &port) == 0, "LIST non-member: %s",
	      strerror(errno));
	CHECK(port == UNETMAP_VALE_NOPORT, "LIST non-member port %u, want 255", port);
	CHECK(sw == sw0, "LIST non-member switch %u, want %u", sw, sw0);
	CHECK_ERRNO(list_name("vale7:x", NULL, NULL), ENOENT);
	CHECK_ERRNO(list_name("foo:x", NULL, NULL), EINVAL);
	CHECK_ERRNO(list_name("v0", NULL, NULL), EINVAL);
	CHECK(!has_switch("vale7"), "LIST created switch vale7");

	/* LIST enumeration: exactly vale0:e, vale0:v0, vale1:v0 */
	const char *want[] = { "vale0:e", "vale0:v0", "vale1:v0" };
	int seen[3] = { 0, 0, 0 }, n = 0, other = 0;
	struct nmreq_vale_list lb;
	memset(&lb, 0, sizeof(lb));
	struct nmreq_header h;
	int r = -1;
	for (int k = 0; k < 1000; k++) {
		hdr_init(&h, NETMAP_REQ_VALE_LIST, "", &lb);
		r = ctl_hdr(&h);
		if (r < 0)
			break;
		n++;
		int hit = 0;
		for (int j = 0; j < 3; j++)
			if (strcmp(h.nr_name, want[j]) == 0) {
				seen[j]++;
				hit = 1;
			}
		if (!hit) {
			other++;
			fprintf(stderr, "LIST enumeration: unexpected '%s' (%u,%u)\n", h.nr_name,
				lb.nr_bridge_idx, lb.nr_port_idx);
		}
		lb.nr_port_idx++;
	}
	CHECK(r == -1 && errno == ENOENT, "enumeration ends with ENOENT: r=%d %s", r,
	      strerror(errno));
	CHECK(n == 3 && other == 0 && seen[0] == 1 && seen[1] == 1 && seen[2] == 1,
	      "enumeration: %d entries (e %d, vale0:v0 %d, vale1:v0 %d, other %d)", n, seen[0],
	      seen[1], seen[2], other);

	/* DETACH errors */
	CHECK_ERRNO(detach("vale9:v0", NULL), ENXIO);		/* unknown switch */
	CHECK_ERRNO(detach("vale0:nosuch", NULL), ENXIO);	/* unknown port */
	CHECK_ERRNO(detach("foo0:v0", NULL), EINVAL);		/* no VALE prefix */
	CHECK_ERRNO(detach("vale0:v0", NULL), EBUSY);		/* first of two attachments */
	CHECK(detach("vale1:v0", &x) == 0, "DETACH vale1:v0: %s", strerror(errno));
	CHECK(x == i1, "DETACH vale1:v0 port_index %u, want %u", x, i1);
	CHECK(!has_switch("vale1"), "vale1 still listed after its last port left");
	CHECK_ERRNO(detach("vale1:v0", NULL), ENXIO);
	CHECK_ERRNO(delif("v0"), EBUSY);		/* still attached to vale0 */

	/* reachable as netmap:v0 and vale0:v0 while attached; traffic both ways */
	struct nmport_d *pn = vopen("netmap:v0");
	struct nmport_d *pv = vopen("vale0:v0");
	CHECK(pn->reg.nr_mem_id == pv->reg.nr_mem_id, "netmap:v0 mem %u, vale0:v0 mem %u",
	      pn->reg.nr_mem_id, pv->reg.nr_mem_id);
	CHECK_ERRNO(delif("v0"), EBUSY);		/* open */
	uint32_t tag = 0;
	send_bcast(e, 1, 1001);
	CHECK(drain(pn, &tag) == 1 && tag == 1001, "vale0:e -> netmap:v0: tag %u", tag);
	send_bcast(pn, 2, 1002);
	CHECK(drain(e, &tag) == 1 && tag == 1002, "netmap:v0 -> vale0:e: tag %u", tag);
	send_bcast(pv, 2, 1003);
	CHECK(drain(e, &tag) == 1 && tag == 1003, "vale0:v0 -> vale0:e: tag %u", tag);
	nmport_close(pv);

	/* detached: netmap:v0 still opens, vale0:v0 is not a port any more */
	CHECK(detach("vale0:v0", &x) == 0, "DETACH vale0:v0: %s", strerror(errno));
	CHECK(x == i0, "DETACH vale0:v0 port_index %u, want %u", x, i0);
	CHECK(list_name("vale0:v0", NULL, &port) == 0 && port == UNETMAP_VALE_NOPORT,
	      "LIST after detach: port %u", port);
	REG_FAILS(reg_raw("vale0:v0", NR_REG_ALL_NIC, 0, 0), EINVAL);
	send_bcast(pn, 2, 1004);	/* discarded */
	CHECK(drain(e, NULL) == 0, "frame from a detached persistent port reached vale0:e");
	nmport_close(pn);
	struct nmport_d *pn2 = nmport_open("netmap:v0");
	CHECK(pn2 != NULL, "netmap:v0 when detached: %s", strerror(errno));
	if (pn2)
		nmport_close(pn2);
	nmport_close(e);
	CHECK(!has_switch("vale0"), "vale0 still listed after its last port left");
	CHECK(delif("v0") == 0, "DELIF v0: %s", strerror(errno));
	CHECK_ERRNO(delif("v0"), ENXIO);
	errno = 0;
	struct nmport_d *gone = nmport_open("netmap:v0");
	CHECK(gone == NULL && errno == ENXIO, "netmap:v0 after DELIF: %p %s", (void *)gone,
	      strerror(errno));
	if (gone)
		nmport_close(gone);
}

static void port_hdr(void)
{
	uint32_t len;
	struct nmport_d *a = vopen("vale2:a");

	len = 10;
	CHECK_ERRNO(hdr_req(NETMAP_REQ_PORT_HDR_SET, "vale2:nosuch", &len), ENXIO);
	len = 10;
	CHECK_ERRNO(hdr_req(NETMAP_REQ_PORT_HDR_SET, "vale8:nosuch", &len), ENXIO);
	CHECK(!has_switch("vale8"), "HDR_SET created switch vale8");
	len = 0;
	CHECK_ERRNO(hdr_req(NETMAP_REQ_PORT_HDR_GET, "vale2:nosuch", &len), ENXIO);
	uint32_t port = 0;
	CHECK(list_name("vale2:nosuch", NULL, &port) == 0 && port == UNETMAP_VALE_NOPORT,
	      "HDR_GET/SET created vale2:nosuch (port %u)", port);
	const uint32_t bad[] = { 5, 1, 11, 14, 0xffffffffu };
	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		len = bad[i];
		CHECK_ERRNO(hdr_req(NETMAP_REQ_PORT_HDR_SET, "vale2:a", &len), EINVAL);
	}
	len = 99;
	CHECK(hdr_req(NETMAP_REQ_PORT_HDR_GET, "vale2:a", &len) == 0 && len == 0,
	      "HDR_GET fresh port: %u %s", len, strerror(errno));
	const uint32_t good[] = { 10, 12, 0 };
	for (unsigned i = 0; i < 3; i++) {
		len = good[i];
		CHECK(hdr_req(NETMAP_REQ_PORT_HDR_SET, "vale2:a", &len) == 0, "HDR_SET %u: %s",
		      good[i], strerror(errno));
		len = 99;
		CHECK(hdr_req(NETMAP_REQ_PORT_HDR_GET, "vale2:a", &len) == 0 && len == good[i],
		      "HDR_GET after SET %u: %u", good[i], len);
	}
	/* with a header, REGISTER needs NR_ACCEPT_VNET_HDR */
	len = 12;
	CHECK(hdr_req(NETMAP_REQ_PORT_HDR_SET, "vale2:a", &len) == 0, "HDR_SET 12");
	REG_FAILS(reg_raw("vale2:a", NR_REG_ALL_NIC, 0, 0), EIO);
	int fd = reg_raw("vale2:a", NR_REG_ALL_NIC, 0, NR_ACCEPT_VNET_HDR);
	CHECK(fd >= 0, "REGISTER with NR_ACCEPT_VNET_HDR: %s", strerror(errno));
	if (fd >= 0)
		close(fd);
	len = 0;
	CHECK(hdr_req(NETMAP_REQ_PORT_HDR_SET, "vale2:a", &len) == 0, "HDR_SET 0");
	fd = reg_raw("vale2:a", NR_REG_ALL_NIC, 0, 0);
	CHECK(fd >= 0, "REGISTER after header reset: %s", strerror(errno));
	if (fd >= 0)
		close(fd);
	nmport_close(a);
	/* gone with its last fd */
	len = 0;
	CHECK_ERRNO(hdr_req(NETMAP_REQ_PORT_HDR_GET, "vale2:a", &len), ENXIO);
}

static void register_modes_names(void)
{
	struct nmport_d *keep = vopen("vale3:keep");
	const uint32_t modes[] = { NR_REG_SW, NR_REG_NIC_SW, NR_REG_ONE_SW };
	for (unsigned i = 0; i < 3; i++)
		REG_FAILS(reg_raw("vale3:m", modes[i], 0, 0), EINVAL);
	REG_FAILS(reg_raw("vale3:m", NR_REG_ONE_NIC, 5, 0), EINVAL);	/* 1 ring */
	REG_FAILS(reg_raw("vale3:m", NR_REG_DEFAULT, 0, 0), EINVAL);
	uint32_t port = 0;
	CHECK(list_name("vale3:m", NULL, &port) == 0 && port == UNETMAP_VALE_NOPORT,
	      "failed REGISTER left vale3:m in the switch (port %u)", port);
	errno = 0;
	struct nmport_d *d = nmport_open("vale3:m^");
	CHECK(d == NULL && errno == EINVAL, "nmport_open vale3:m^: %s", strerror(errno));
	if (d)
		nmport_close(d);
	d = nmport_open("vale3:m*");
	CHECK(d == NULL && errno == EINVAL, "nmport_open vale3:m*: %s", strerror(errno));
	if (d)
		nmport_close(d);
	REG_FAILS(reg_raw("vale4:m", NR_REG_SW, 0, 0), EINVAL);
	CHECK(!has_switch("vale4"), "failed REGISTER left switch vale4");

	/* malformed names, straight to NIOCCTRL (libnetmap rejects some itself) */
	const char *bad[] = {
		"vale3:",			/* empty port */
		"vale-1:p",			/* '-' in the switch name */
		"vale.1:p",
		"vale3",			/* no ':' */
		"vale3:abcdefghijklmnop",	/* port part of 16 chars */
		"valeabcdefghijklmnop:p",	/* ':' not within 16 characters */
	};
	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		errno = 0;
		int fd = reg_raw(bad[i], NR_REG_ALL_NIC, 0, 0);
		CHECK(fd < 0 && errno == EINVAL, "REGISTER '%s': fd %d %s", bad[i], fd,
		      strerror(errno));
		if (fd >= 0)
			close(fd);
	}
	CHECK(nswitches() == 1, "malformed names created switches: %d listed", nswitches());
	d = nmport_open("vale3:");
	CHECK(d == NULL && errno == EINVAL, "nmport_open vale3: -> %s", strerror(errno));
	if (d)
		nmport_close(d);
	d = nmport_open("vale-1:p");
	CHECK(d == NULL && errno == EINVAL, "nmport_open vale-1:p -> %s", strerror(errno));
	if (d)
		nmport_close(d);
	/* 15-character port part and a 1..15-character switch name are fine;
	 * "vale:x" is switch "vale" (reference §3.1 table: vale:0 is valid) */
	const char *good[] = { "vale3:abcdefghijklmno", "vale:x", "valeabcdefghijk:p" };
	for (unsigned i = 0; i < 3; i++) {
		int fd = reg_raw(good[i], NR_REG_ALL_NIC, 0, 0);
		CHECK(fd >= 0, "REGISTER '%s': %s (%s)", good[i], strerror(errno),
		      unetmap_last_error());
		if (fd >= 0)
			close(fd);
	}
	nmport_close(keep);
	CHECK(nswitches() == 0, "%d switch(es) left after closing every port", nswitches());
}

static void many_switches(void)
{
	struct nmport_d *d[UNETMAP_VALE_MAXSWITCHES];
	int n = 0;
	char spec[64];
	for (n = 0; n < UNETMAP_VALE_MAXSWITCHES; n++) {
		snprintf(spec, sizeof(spec), "valesw%d:p@conf:slots=64", n);
		d[n] = nmport_open(spec);
		if (d[n] == NULL) {
			CHECK(0, "switch %d of %d: %s (%s)", n + 1, UNETMAP_VALE_MAXSWITCHES,
			      strerror(errno), unetmap_last_error());
			break;
		}
	}
	CHECK(nswitches() == n, "%d switches listed, %d opened", nswitches(), n);
	if (n == UNETMAP_VALE_MAXSWITCHES) {
		REG_FAILS(reg_raw("valeone_more:p", NR_REG_ALL_NIC, 0, 0), ENOMEM);
		struct nmreq_vale_newif nb;
		CHECK(newif("vx", &nb) == 0, "NEWIF vx: %s", strerror(errno));
		CHECK_ERRNO(attach("valeone_more:vx", NULL), ENOMEM);
		/* a port on an existing switch is still fine */
		int fd = reg_raw("valesw0:q", NR_REG_ALL_NIC, 0, 0);
		CHECK(fd >= 0, "second port on an existing switch: %s", strerror(errno));
		if (fd >= 0)
			close(fd);
		nmport_close(d[--n]);
		CHECK(attach("valeone_more:vx", NULL) == 0, "ATTACH once a switch is free: %s",
		      strerror(errno));
		CHECK(detach("valeone_more:vx", NULL) == 0, "DETACH: %s", strerror(errno));
		CHECK(delif("vx") == 0, "DELIF vx: %s", strerror(errno));
	}
	while (n > 0)
		nmport_close(d[--n]);
	CHECK(nswitches() == 0, "%d switch(es) left", nswitches());
}

int main(void)
{
	t_setup(120);
	nmctx_get()->verbose = 0;	/* many expected failures */
	CHECK(nswitches() == 0, "fresh runtime dir lists %d switches", nswitches());
	CHECK_ERRNO(ctl(NETMAP_REQ_VALE_LIST, "", &(struct nmreq_vale_list){ 0, 0, 0 }), ENOENT);
	newif_delif();
	attach_detach();
	port_hdr();
	register_modes_names();
	many_switches();
	return t_done();
}
