/* Description: the VALE switch through the legacy API only (reference §2.7,
 * §3.2): struct nmreq with nr_cmd NETMAP_BDG_NEWIF/ATTACH/DETACH/DELIF/
 * VNET_HDR/POLLING_ON/OFF and NETMAP_VNET_HDR_GET on NIOCREGIF, NIOCGINFO
 * with NETMAP_BDG_LIST (by name, answers equal to NETMAP_REQ_VALE_LIST, and
 * the enumeration) and without (port info, creation hints passed on), the
 * values written back and the errnos; nm_open of persistent and ephemeral
 * ports (geometry from a base request, -N, NETMAP_NO_TX_POLL); then the data
 * path with nm_inject/nm_dispatch/nm_nextpkt: unicast to a learned MAC
 * reaches only its port, broadcast and unknown unicast every other port, a
 * multi-slot frame arrives as one packet. */
#define NETMAP_WITH_LIBS
#include <poll.h>
#include <stdbool.h>
#include <sys/ioctl.h>
#include <net/netmap_user.h>
#include <unetmap.h>
#include "testlib.h"
#include "valetest.h"

/* ---- legacy requests --------------------------------------------------- */

/* one legacy request on a fresh /dev/netmap fd: `io` holds the arguments
 * (name, nr_cmd and nr_version are set here) and receives what the ioctl
 * wrote back; -1/errno on failure */
static int lreq(unsigned long ioc, uint16_t cmd, const char *name, struct nmreq *io)
{
	struct nmreq tmp;
	struct nmreq *r = io ? io : &tmp;
	if (io == NULL)
		memset(&tmp, 0, sizeof(tmp));
	r->nr_version = NETMAP_API;
	r->nr_cmd = cmd;
	snprintf(r->nr_name, sizeof(r->nr_name), "%s", name);
	return t_nm_ioctl(ioc, r);
}

static int regif(uint16_t cmd, const char *name)
{
	return lreq(NIOCREGIF, cmd, name, NULL);
}

static int newif(const char *name, struct nmreq *io)
{
	struct nmreq r;
	if (io == NULL) {
		memset(&r, 0, sizeof(r));
		io = &r;
	}
	return lreq(NIOCREGIF, NETMAP_BDG_NEWIF, name, io);
}

/* legacy LIST by name: bridge and port index from nr_arg1/nr_arg2 */
static int llist(const char *name, uint16_t *sw, uint16_t *port)
{
	struct nmreq r;
	memset(&r, 0, sizeof(r));
	r.nr_arg1 = 0xbeef;
	r.nr_arg2 = 0xbeef;
	int ret = lreq(NIOCGINFO, NETMAP_BDG_LIST, name, &r);
	if (ret == 0)
		CHECK(strcmp(r.nr_name, name) == 0, "LIST %s rewrote the name to '%s'", name,
		      r.nr_name);
	*sw = r.nr_arg1;
	*port = r.nr_arg2;
	return ret;
}

static int vnet_set(const char *name, uint16_t len)
{
	struct nmreq r;
	memset(&r, 0, sizeof(r));
	r.nr_arg1 = len;
	return lreq(NIOCREGIF, NETMAP_BDG_VNET_HDR, name, &r);
}

static int vnet_get(const char *name, uint16_t *len)
{
	struct nmreq r;
	memset(&r, 0, sizeof(r));
	r.nr_arg1 = 0xbeef;
	int ret = lreq(NIOCREGIF, NETMAP_VNET_HDR_GET, name, &r);
	*len = r.nr_arg1;
	return ret;
}

static int polling(uint16_t cmd, const char *name)
{
	struct nmreq r;
	memset(&r, 0, sizeof(r));
	r.nr_flags = NR_REG_ALL_NIC;
	r.nr_arg1 = 1;		/* one polling cpu */
	return lreq(NIOCREGIF, cmd, name, &r);
}

static struct nm_desc *lopen(const char *name)
{
	struct nm_desc *d = nm_open(name, NULL, 0, NULL);
	REQUIRE(d != NULL, "nm_open(%s): %s (%s)", name, strerror(errno), unetmap_last_error());
	return d;
}

/* nm_open() that must fail with errno `want` */
static void lopen_fails(const char *name, int want)
{
	errno = 0;
	struct nm_desc *d = nm_open(name, NULL, 0, NULL);
	int e = errno;
	CHECK(d == NULL && e == want, "nm_open(%s): %s, want %s", name,
	      d ? "success" : strerror(e), strerror(want));
	if (d)
		nm_close(d);
}

/* legacy LIST by name equals the new API's answer; returns the port index */
static uint16_t list_same(const char *name)
{
	uint16_t lsw = 0, lport = 0, nsw = 0;
	uint32_t nport = 0;
	CHECK(llist(name, &lsw, &lport) == 0, "legacy LIST %s: %s", name, strerror(errno));
	CHECK(vt_list(name, &nsw, &nport) == 0, "VALE_LIST %s: %s", name, strerror(errno));
	CHECK(lsw == nsw && lport == nport, "LIST %s: legacy (%u,%u), VALE_LIST (%u,%u)", name,
	      lsw, lport, nsw, nport);
	return lport;
}

static unsigned stray(struct nm_desc *d);

/* ---- control ------------------------------------------------------------ */

static void control(void)
{
	struct nmreq r;

	/* NEWIF: defaults written back; a requested geometry honoured */
	memset(&r, 0, sizeof(r));
	CHECK(newif("lv0", &r) == 0, "NEWIF lv0: %s (%s)", strerror(errno), unetmap_last_error());
	CHECK(r.nr_tx_rings == 1 && r.nr_rx_rings == 1, "NEWIF lv0 rings %u/%u, want 1/1",
	      r.nr_tx_rings, r.nr_rx_rings);
	CHECK(r.nr_tx_slots == 1024 && r.nr_rx_slots == 1024, "NEWIF lv0 slots %u/%u, want 1024",
	      r.nr_tx_slots, r.nr_rx_slots);
	CHECK(r.nr_arg2 > 1, "NEWIF lv0 mem id (nr_arg2) %u, want a private region", r.nr_arg2);
	CHECK(strcmp(r.nr_name, "lv0") == 0 && r.nr_cmd == NETMAP_BDG_NEWIF,
	      "NEWIF rewrote name/cmd: '%s' %u", r.nr_name, r.nr_cmd);
	uint16_t mem0 = r.nr_arg2;
	CHECK_ERRNO(newif("lv0", NULL), EEXIST);
	memset(&r, 0, sizeof(r));
	r.nr_tx_rings = 2;
	r.nr_rx_rings = 3;
	r.nr_tx_slots = 256;
	r.nr_rx_slots = 512;
	CHECK(newif("lv1", &r) == 0, "NEWIF lv1: %s", strerror(errno));
	CHECK(r.nr_tx_rings == 2 && r.nr_rx_rings == 3 && r.nr_tx_slots == 256 &&
	      r.nr_rx_slots == 512, "NEWIF lv1 reply rings %u/%u slots %u/%u", r.nr_tx_rings,
	      r.nr_rx_rings, r.nr_tx_slots, r.nr_rx_slots);
	CHECK(r.nr_arg2 > 1 && r.nr_arg2 != mem0, "NEWIF lv1 mem id %u (lv0 has %u)", r.nr_arg2,
	      mem0);
	uint16_t mem1 = r.nr_arg2;
	CHECK_ERRNO(newif("vale5:x", NULL), EINVAL);		/* a VALE name */
	CHECK_ERRNO(newif("vale5", NULL), EINVAL);
	/* legacy NIOCGINFO (PORT_INFO_GET) reports the persistent port */
	memset(&r, 0, sizeof(r));
	CHECK(lreq(NIOCGINFO, 0, "lv1", &r) == 0, "NIOCGINFO lv1: %s", strerror(errno));
	CHECK(r.nr_tx_rings == 2 && r.nr_rx_rings == 3 && r.nr_tx_slots == 256 &&
	      r.nr_rx_slots == 512 && r.nr_arg2 == mem1 && r.nr_memsize > 0,
	      "NIOCGINFO lv1: rings %u/%u slots %u/%u mem %u size %u", r.nr_tx_rings,
	      r.nr_rx_rings, r.nr_tx_slots, r.nr_rx_slots, r.nr_arg2, r.nr_memsize);

	/* ATTACH: an ephemeral port first, so lv0 does not get index 0 */
	struct nm_desc *e = lopen("vale5:e");
	CHECK(e->req.nr_tx_slots == 1024 && e->req.nr_arg2 > 1, "vale5:e slots %u mem %u",
	      e->req.nr_tx_slots, e->req.nr_arg2);
	CHECK(regif(NETMAP_BDG_ATTACH, "vale5:lv0") == 0, "ATTACH vale5:lv0: %s (%s)",
	      strerror(errno), unetmap_last_error());
	CHECK_ERRNO(regif(NETMAP_BDG_ATTACH, "vale5:lv0"), EBUSY);
	CHECK_ERRNO(newif("lv0", NULL), EEXIST);		/* even while attached */
	CHECK_ERRNO(regif(NETMAP_BDG_ATTACH, "vale5:nosuchif"), EINVAL);
	CHECK_ERRNO(regif(NETMAP_BDG_ATTACH, "lv0"), EINVAL);	/* no VALE prefix */
	CHECK_ERRNO(regif(NETMAP_BDG_DELIF, "lv0"), EBUSY);	/* attached */
	/* an unknown allocator in nr_arg2 */
	memset(&r, 0, sizeof(r));
	r.nr_arg2 = 60000;
	CHECK_ERRNO(lreq(NIOCREGIF, NETMAP_BDG_ATTACH, "vale5:lv1", &r), EINVAL);
	CHECK(list_same("vale5:lv1") == UNETMAP_VALE_NOPORT, "failed ATTACH left vale5:lv1");
	/* NETMAP_BDG_HOST (mode NIC_SW) is ignored for a persistent port: no
	 * host port appears */
	memset(&r, 0, sizeof(r));
	r.nr_arg1 = NETMAP_BDG_HOST;
	CHECK(lreq(NIOCREGIF, NETMAP_BDG_ATTACH, "vale5:lv1", &r) == 0,
	      "ATTACH vale5:lv1 with NETMAP_BDG_HOST: %s (%s)", strerror(errno),
	      unetmap_last_error());
	CHECK(list_same("vale5:lv1") < UNETMAP_VALE_MAXPORTS, "vale5:lv1 not listed");
	CHECK(list_same("vale5:lv1^") == UNETMAP_VALE_NOPORT, "a host port vale5:lv1^ appeared");
	CHECK(regif(NETMAP_BDG_DETACH, "vale5:lv1") == 0, "DETACH vale5:lv1: %s", strerror(errno));
	CHECK(list_same("vale5:lv1") == UNETMAP_VALE_NOPORT, "vale5:lv1 listed after DETACH");

	/* LIST by name: equal to VALE_LIST */
	uint16_t sw = 0, port = 0;
	uint16_t pe = list_same("vale5:e");
	uint16_t p0 = list_same("vale5:lv0");
	CHECK(pe < UNETMAP_VALE_MAXPORTS && p0 < UNETMAP_VALE_MAXPORTS && pe != p0,
	      "port indices vale5:e %u, vale5:lv0 %u", pe, p0);
	CHECK(llist("vale5:lv0", &sw, &port) == 0, "LIST vale5:lv0: %s", strerror(errno));
	uint16_t sw5 = sw;
	CHECK(list_same("vale5:zz") == UNETMAP_VALE_NOPORT, "LIST of a non-member: want 255");
	CHECK_ERRNO(llist("vale9:x", &sw, &port), ENOENT);
	CHECK_ERRNO(llist("foo:x", &sw, &port), EINVAL);

	/* enumeration: empty name, start at (nr_arg1, nr_arg2); every port once,
	 * ENOENT at the end; a second switch is listed too */
	struct nm_desc *x = lopen("vale6:x");
	const char *want[] = { "vale5:e", "vale5:lv0", "vale6:x" };
	char names[8][16];
	uint16_t at_sw[8], at_port[8];
	int seen[3] = { 0, 0, 0 }, n = 0, other = 0, ret = -1;
	memset(&r, 0, sizeof(r));
	for (int k = 0; k < 100; k++) {
		ret = lreq(NIOCGINFO, NETMAP_BDG_LIST, "", &r);
		if (ret < 0)
			break;
		if (n < 8) {
			memcpy(names[n], r.nr_name, 16);
			at_sw[n] = r.nr_arg1;
			at_port[n] = r.nr_arg2;
		}
		n++;
		if (!vt_tally(r.nr_name, want, 3, seen)) {
			other++;
			fprintf(stderr, "enumeration: unexpected '%s' (%u,%u)\n", r.nr_name,
				r.nr_arg1, r.nr_arg2);
		}
		/* the position returned is the port's own (VALE_LIST by name) */
		uint16_t s2 = 0;
		uint32_t p2 = 0;
		CHECK(vt_list(r.nr_name, &s2, &p2) == 0 && s2 == r.nr_arg1 && p2 == r.nr_arg2,
		      "enumerated %s at (%u,%u), VALE_LIST says (%u,%u)", r.nr_name, r.nr_arg1,
		      r.nr_arg2, s2, p2);
		r.nr_arg2++;
	}
	CHECK(ret == -1 && errno == ENOENT, "enumeration ends with ENOENT: ret %d %s", ret,
	      strerror(errno));
	CHECK(n == 3 && other == 0 && seen[0] == 1 && seen[1] == 1 && seen[2] == 1,
	      "enumeration: %d entries (vale5:e %d, vale5:lv0 %d, vale6:x %d, other %d)", n,
	      seen[0], seen[1], seen[2], other);
	/* starting at an entry's own position returns that entry */
	for (int k = 0; k < n && k < 8; k++) {
		memset(&r, 0, sizeof(r));
		r.nr_arg1 = at_sw[k];
		r.nr_arg2 = at_port[k];
		CHECK(lreq(NIOCGINFO, NETMAP_BDG_LIST, "", &r) == 0 &&
		      strcmp(r.nr_name, names[k]) == 0 && r.nr_arg1 == at_sw[k] &&
		      r.nr_arg2 == at_port[k], "LIST from (%u,%u): '%s' (%u,%u), want %s",
		      at_sw[k], at_port[k], r.nr_name, r.nr_arg1, r.nr_arg2, names[k]);
	}
	/* from past the last entry: ENOENT */
	if (n >= 1 && n <= 8) {
		memset(&r, 0, sizeof(r));
		r.nr_arg1 = at_sw[n - 1];
		r.nr_arg2 = (uint16_t)(at_port[n - 1] + 1);
		CHECK_ERRNO(lreq(NIOCGINFO, NETMAP_BDG_LIST, "", &r), ENOENT);
	}

	/* legacy NIOCGINFO (PORT_INFO_GET) of an ephemeral port; of a missing one
	 * it creates the port for the call only */
	memset(&r, 0, sizeof(r));
	CHECK(lreq(NIOCGINFO, 0, "vale5:e", &r) == 0, "NIOCGINFO vale5:e: %s", strerror(errno));
	CHECK(r.nr_tx_slots == 1024 && r.nr_rx_rings == 1 && r.nr_arg2 == e->req.nr_arg2 &&
	      r.nr_memsize == e->req.nr_memsize, "NIOCGINFO vale5:e: slots %u rings %u mem %u "
	      "size %u", r.nr_tx_slots, r.nr_rx_rings, r.nr_arg2, r.nr_memsize);
	memset(&r, 0, sizeof(r));
	r.nr_rx_slots = 64;	/* a creation hint, passed on as netmap does */
	r.nr_tx_rings = 2;
	CHECK(lreq(NIOCGINFO, 0, "vale5:tmp", &r) == 0, "NIOCGINFO vale5:tmp: %s",
	      strerror(errno));
	CHECK(r.nr_rx_slots == 64 && r.nr_tx_slots == 1024 && r.nr_tx_rings == 2 &&
	      r.nr_rx_rings == 1, "NIOCGINFO vale5:tmp with hints rx slots 64, tx rings 2: "
	      "slots %u/%u rings %u/%u", r.nr_tx_slots, r.nr_rx_slots, r.nr_tx_rings,
	      r.nr_rx_rings);
	CHECK(list_same("vale5:tmp") == UNETMAP_VALE_NOPORT, "NIOCGINFO left vale5:tmp behind");

	/* legacy REGISTER of a new ephemeral port with a geometry (nm_open with a
	 * base request), then one ring pair of it (-N) */
	struct nmreq base;
	memset(&base, 0, sizeof(base));
	base.nr_tx_slots = 128;
	base.nr_rx_slots = 256;
	base.nr_tx_rings = 2;
	base.nr_rx_rings = 3;
	struct nm_desc *g = nm_open("vale5:g", &base, 0, NULL);
	REQUIRE(g != NULL, "nm_open vale5:g with a geometry: %s", strerror(errno));
	CHECK(g->req.nr_tx_slots == 128 && g->req.nr_rx_slots == 256 && g->req.nr_tx_rings == 2 &&
	      g->req.nr_rx_rings == 3, "vale5:g: slots %u/%u rings %u/%u", g->req.nr_tx_slots,
	      g->req.nr_rx_slots, g->req.nr_tx_rings, g->req.nr_rx_rings);
	CHECK(g->first_tx_ring == 0 && g->last_tx_ring == 1 && g->last_rx_ring == 2,
	      "vale5:g ring range tx %u-%u rx %u-%u", g->first_tx_ring, g->last_tx_ring,
	      g->first_rx_ring, g->last_rx_ring);
	CHECK(NETMAP_TXRING(g->nifp, 1)->num_slots == 128 &&
	      NETMAP_RXRING(g->nifp, 2)->num_slots == 256, "vale5:g ring sizes");
	struct nm_desc *g1 = nm_open("vale5:g-2", NULL, 0, NULL);
	CHECK(g1 != NULL, "nm_open vale5:g-2: %s", strerror(errno));
	if (g1) {
		CHECK(g1->first_rx_ring == 2 && g1->last_rx_ring == 2 &&
		      g1->req.nr_arg2 == g->req.nr_arg2, "vale5:g-2: rx %u-%u mem %u/%u",
		      g1->first_rx_ring, g1->last_rx_ring, g1->req.nr_arg2, g->req.nr_arg2);
		nm_close(g1);
	}
	lopen_fails("vale5:g-3", EINVAL);		/* 3 RX rings: 0..2 */
	nm_close(g);
	CHECK(list_same("vale5:g") == UNETMAP_VALE_NOPORT, "vale5:g left after close");

	/* virtio-net header length on the ephemeral port */
	uint16_t len = 0;
	CHECK(vnet_get("vale5:e", &len) == 0 && len == 0, "VNET_HDR_GET fresh: %u %s", len,
	      strerror(errno));
	CHECK(vnet_set("vale5:e", 12) == 0, "VNET_HDR 12: %s (%s)", strerror(errno),
	      unetmap_last_error());
	CHECK(vnet_get("vale5:e", &len) == 0 && len == 12, "VNET_HDR_GET after 12: %u %s", len,
	      strerror(errno));
	CHECK_ERRNO(vnet_set("vale5:e", 11), EINVAL);
	CHECK_ERRNO(vnet_set("vale5:e", 5), EINVAL);
	CHECK(vnet_get("vale5:e", &len) == 0 && len == 12, "VNET_HDR_GET after EINVAL: %u", len);
	CHECK(vnet_set("vale5:e", 10) == 0, "VNET_HDR 10: %s", strerror(errno));
	CHECK(vnet_get("vale5:e", &len) == 0 && len == 10, "VNET_HDR_GET after 10: %u", len);
	CHECK_ERRNO(vnet_set("vale5:nosuch", 12), ENXIO);
	CHECK_ERRNO(vnet_get("vale5:nosuch", &len), ENXIO);
	CHECK(list_same("vale5:nosuch") == UNETMAP_VALE_NOPORT, "VNET_HDR created vale5:nosuch");
	/* a port with a header refuses a registration without NR_ACCEPT_VNET_HDR */
	lopen_fails("vale5:e", EIO);	/* with a 10-byte header */
	CHECK(vnet_set("vale5:e", 0) == 0, "VNET_HDR 0: %s", strerror(errno));
	CHECK(vnet_get("vale5:e", &len) == 0 && len == 0, "VNET_HDR_GET after 0: %u", len);

	/* polling threads drive NICs only */
	CHECK_ERRNO(polling(NETMAP_BDG_POLLING_ON, "vale5:lv0"), EOPNOTSUPP);
	CHECK_ERRNO(polling(NETMAP_BDG_POLLING_OFF, "vale5:lv0"), EOPNOTSUPP);
	CHECK_ERRNO(polling(NETMAP_BDG_POLLING_ON, "vale5:e"), EOPNOTSUPP);
	CHECK_ERRNO(polling(NETMAP_BDG_POLLING_ON, "vale5:nosuch"), ENXIO);
	CHECK_ERRNO(polling(NETMAP_BDG_POLLING_ON, "lv0"), EINVAL);

	/* registered through the switch and as netmap:lv0; DELIF refused */
	struct nm_desc *v = lopen("vale5:lv0");
	CHECK(v->req.nr_arg2 == mem0, "vale5:lv0 mem id %u, NEWIF said %u", v->req.nr_arg2, mem0);
	struct nm_desc *vn = lopen("netmap:lv0");
	CHECK(vn->req.nr_arg2 == mem0, "netmap:lv0 mem id %u", vn->req.nr_arg2);
	/* both reach the switch: a broadcast from each arrives at vale5:e only */
	uint8_t bf[60];
	memset(bf, 0, sizeof(bf));
	memset(bf, 0xff, 6);
	bf[6] = 0x02;
	bf[11] = 0x50;
	CHECK(nm_inject(v, bf, sizeof(bf)) == (int)sizeof(bf), "nm_inject on vale5:lv0");
	CHECK(ioctl(NETMAP_FD(v), NIOCTXSYNC, NULL) == 0, "txsync vale5:lv0: %s", strerror(errno));
	CHECK(nm_inject(vn, bf, sizeof(bf)) == (int)sizeof(bf), "nm_inject on netmap:lv0");
	CHECK(ioctl(NETMAP_FD(vn), NIOCTXSYNC, NULL) == 0, "txsync netmap:lv0: %s",
	      strerror(errno));
	CHECK(stray(e) == 2, "vale5:e did not get the frames of vale5:lv0 and netmap:lv0");
	CHECK(stray(x) == 0 && stray(v) == 0 && stray(vn) == 0, "frames leaked");
	CHECK_ERRNO(regif(NETMAP_BDG_DETACH, "vale5:nosuch"), ENXIO);
	CHECK_ERRNO(regif(NETMAP_BDG_DETACH, "vale9:lv0"), ENXIO);
	CHECK_ERRNO(regif(NETMAP_BDG_DETACH, "lv0"), EINVAL);
	nm_close(v);
	nm_close(vn);

	/* DETACH, then DELIF */
	CHECK(regif(NETMAP_BDG_DETACH, "vale5:lv0") == 0, "DETACH vale5:lv0: %s (%s)",
	      strerror(errno), unetmap_last_error());
	CHECK_ERRNO(regif(NETMAP_BDG_DETACH, "vale5:lv0"), ENXIO);
	CHECK(list_same("vale5:lv0") == UNETMAP_VALE_NOPORT, "vale5:lv0 listed after DETACH");
	CHECK(llist("vale5:e", &sw, &port) == 0 && sw == sw5 && port == pe,
	      "vale5:e moved to (%u,%u) from (%u,%u)", sw, port, sw5, pe);
	CHECK(regif(NETMAP_BDG_DELIF, "lv0") == 0, "DELIF lv0: %s (%s)", strerror(errno),
	      unetmap_last_error());
	CHECK_ERRNO(regif(NETMAP_BDG_DELIF, "lv0"), ENXIO);
	CHECK_ERRNO(regif(NETMAP_BDG_DELIF, "nosuchif"), ENXIO);
	CHECK_ERRNO(regif(NETMAP_BDG_DELIF, "vale5:e"), ENXIO);	/* ephemeral */
	CHECK(regif(NETMAP_BDG_DELIF, "lv1") == 0, "DELIF lv1: %s", strerror(errno));
	lopen_fails("netmap:lv0", ENXIO);	/* after DELIF */
	/* legacy commands nobody implements */
	CHECK_ERRNO(regif(NETMAP_PT_HOST_CREATE, "vale5:e"), ENOMEM);

	nm_close(e);
	nm_close(x);
	CHECK(vt_nswitches() == 0, "%d switch(es) left after the last port closed", vt_nswitches());
	CHECK_ERRNO(llist("vale5:e", &sw, &port), ENOENT);
}

/* ---- data path -------------------------------------------------------------- */

#define NFRAMES	3000
#define BURST	200	/* well under the receiver's 1023 free slots */

static const uint8_t MAC_A[6] = { 0x02, 0, 0, 0, 0, 0x0a };
static const uint8_t MAC_B[6] = { 0x02, 0, 0, 0, 0, 0x0b };
static const uint8_t MAC_C[6] = { 0x02, 0, 0, 0, 0, 0x0c };
static const uint8_t MAC_BCAST[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };

static unsigned frame_len(uint32_t seq)
{
	return 60 + (seq % 7) * 200;	/* 60 .. 1260 bytes */
}

static void frame(uint8_t *f, const uint8_t *dst, const uint8_t *src, uint32_t seq,
		  unsigned len)
{
	memcpy(f, dst, 6);
	memcpy(f + 6, src, 6);
	f[12] = 0x88;
	f[13] = 0xb5;
	memcpy(f + 14, &seq, 4);
	for (unsigned i = 18; i < len; i++)
		f[i] = (uint8_t)(seq * 7 + i);
}

/* what a receiver saw */
struct rx {
	const uint8_t *dst;	/* expected destination MAC */
	const uint8_t *src;	/* expected source MAC */
	uint32_t next;		/* expected sequence number */
	unsigned got, bad;
};

static void check_frame(struct rx *x, const uint8_t *buf, unsigned len)
{
	uint32_t seq;
	memcpy(&seq, buf + 14, 4);
	uint8_t want[2048];
	unsigned wl = frame_len(seq);
	if (len == wl && wl <= sizeof(want))
		frame(want, x->dst, x->src, seq, wl);
	if (seq != x->next || len != wl || memcmp(want, buf, wl) != 0) {
		if (x->bad++ < 5)
			fprintf(stderr, "frame %u: seq %u len %u (want len %u)\n", x->next, seq, len,
				wl);
	}
	x->next = seq + 1;
	x->got++;
}

static void on_pkt(u_char *arg, const struct nm_pkthdr *h, const u_char *buf)
{
	struct rx *x = (struct rx *)arg;
	if (h->ts.tv_sec == 0 && h->ts.tv_usec == 0)
		x->bad++;
	check_frame(x, buf, h->len);
}

struct big_seen { unsigned n, len, caplen; };

static void on_big(u_char *arg, const struct nm_pkthdr *h, const u_char *buf)
{
	struct big_seen *g = (struct big_seen *)arg;
	(void)buf;
	g->n++;
	g->len = h->len;
	g->caplen = h->caplen;
}

/* receive what is waiting on d: with nm_dispatch or slot by slot with
 * nm_nextpkt; waits up to wait_ms for the first frame */
static unsigned drain(struct nm_desc *d, struct rx *x, bool dispatch, int wait_ms)
{
	unsigned before = x->got;
	struct pollfd p = { .fd = NETMAP_FD(d), .events = POLLIN };
	CHECK(poll(&p, 1, wait_ms) >= 0, "poll: %s", strerror(errno));
	ioctl(NETMAP_FD(d), NIOCRXSYNC, NULL);
	if (dispatch) {
		nm_dispatch(d, -1, on_pkt, (u_char *)x);
	} else {
		struct nm_pkthdr h;
		const u_char *buf;
		for (int k = 0; k < 2048 && (buf = nm_nextpkt(d, &h)) != NULL; k++)
			check_frame(x, buf, h.len);
	}
	ioctl(NETMAP_FD(d), NIOCRXSYNC, NULL);	/* hand the slots back */
	return x->got - before;
}

/* frames waiting on d that nobody expected */
static unsigned stray(struct nm_desc *d)
{
	ioctl(NETMAP_FD(d), NIOCRXSYNC, NULL);
	struct nm_pkthdr h;
	unsigned n = 0;
	while (n < 2048 && nm_nextpkt(d, &h) != NULL)
		n++;
	ioctl(NETMAP_FD(d), NIOCRXSYNC, NULL);
	return n;
}

static void inject1(struct nm_desc *d, const uint8_t *dst, const uint8_t *src, uint32_t seq)
{
	uint8_t f[2048];
	unsigned len = frame_len(seq);
	frame(f, dst, src, seq, len);
	CHECK(nm_inject(d, f, len) == (int)len, "nm_inject of %u bytes failed", len);
	CHECK(ioctl(NETMAP_FD(d), NIOCTXSYNC, NULL) == 0, "txsync: %s", strerror(errno));
}

static void datapath(void)
{
	struct nm_desc *a = lopen("vale5:a");
	struct nm_desc *b = lopen("vale5:b");
	struct nm_desc *c = lopen("vale5:c");
	CHECK(a->first_tx_ring == 0 && a->last_tx_ring == 0 && a->first_rx_ring == 0 &&
	      a->last_rx_ring == 0, "vale5:a ring range");
	CHECK(a->req.nr_arg2 != b->req.nr_arg2, "vale5:a and vale5:b share mem id %u",
	      a->req.nr_arg2);
	uint16_t sw, pa, pb, pc;
	CHECK(llist("vale5:a", &sw, &pa) == 0 && llist("vale5:b", &sw, &pb) == 0 &&
	      llist("vale5:c", &sw, &pc) == 0 && pa != pb && pb != pc && pa != pc &&
	      pc < UNETMAP_VALE_MAXPORTS, "LIST of the data ports: %u %u %u", pa, pb, pc);

	/* b announces itself: a broadcast reaches a and c, not b */
	struct rx ra = { MAC_BCAST, MAC_B, 100, 0, 0 }, rc = { MAC_BCAST, MAC_B, 100, 0, 0 };
	inject1(b, MAC_BCAST, MAC_B, 100);
	CHECK(drain(a, &ra, true, 1000) == 1 && ra.bad == 0, "broadcast b -> a: %u frames, %u bad",
	      ra.got, ra.bad);
	CHECK(drain(c, &rc, false, 1000) == 1 && rc.bad == 0, "broadcast b -> c: %u frames, %u bad",
	      rc.got, rc.bad);
	CHECK(stray(b) == 0, "broadcast came back to its sender");

	/* a -> b (learned): NFRAMES numbered frames of varying length, in bursts
	 * pushed by txsync or by poll, received alternately by nm_dispatch and
	 * nm_nextpkt; c gets none */
	struct rx rb = { MAC_B, MAC_A, 0, 0, 0 };
	uint8_t f[2048];
	uint32_t seq = 0;
	for (int burst = 0; seq < NFRAMES && burst < 2 * NFRAMES / BURST; burst++) {
		for (int k = 0; k < BURST && seq < NFRAMES; k++, seq++) {
			unsigned len = frame_len(seq);
			frame(f, MAC_B, MAC_A, seq, len);
			if (nm_inject(a, f, len) != (int)len) {
				CHECK(0, "nm_inject %u: ring full", seq);
				break;
			}
		}
		if (burst % 2) {
			CHECK(ioctl(NETMAP_FD(a), NIOCTXSYNC, NULL) == 0, "txsync: %s",
			      strerror(errno));
		} else {
			struct pollfd p = { .fd = NETMAP_FD(a), .events = POLLOUT };
			CHECK(poll(&p, 1, 1000) == 1, "poll POLLOUT on vale5:a");
		}
		CHECK(!nm_tx_pending(NETMAP_TXRING(a->nifp, 0)), "TX ring not free after a sync");
		unsigned want = rb.got + BURST > NFRAMES ? NFRAMES : rb.got + BURST;
		for (int i = 0; i < 100 && rb.got < want; i++)
			drain(b, &rb, burst % 3 != 0, 100);
	}
	CHECK(rb.got == NFRAMES && rb.bad == 0, "a -> b: %u of %u frames, %u bad", rb.got,
	      NFRAMES, rb.bad);
	CHECK(stray(c) == 0, "c received unicast frames for b");
	CHECK(stray(a) == 0, "a received its own frames");

	/* a multi-slot frame (nm_inject splits it) arrives as one packet */
	{
		struct netmap_ring *t = NETMAP_TXRING(a->nifp, 0);
		unsigned big = t->nr_buf_size * 2 + 100;
		uint8_t *bf = malloc(big);
		REQUIRE(bf != NULL, "malloc");
		memcpy(bf, MAC_B, 6);
		memcpy(bf + 6, MAC_A, 6);
		for (unsigned i = 12; i < big; i++)
			bf[i] = (uint8_t)(i * 3);
		CHECK(nm_inject(a, bf, big) == (int)big, "nm_inject of %u bytes", big);
		CHECK(ioctl(NETMAP_FD(a), NIOCTXSYNC, NULL) == 0, "txsync: %s", strerror(errno));
		struct pollfd p = { .fd = NETMAP_FD(b), .events = POLLIN };
		poll(&p, 1, 1000);
		struct netmap_ring *rr = NETMAP_RXRING(b->nifp, 0);
		unsigned nslots = nm_ring_space(rr), off = 0, ok = 1;
		CHECK(nslots == 3, "multi-slot frame: %u slots, want 3", nslots);
		/* content across the fragments, before nm_dispatch releases them */
		for (uint32_t i = rr->cur, k = 0; k < nslots && k < 3; k++, i = nm_ring_next(rr, i)) {
			struct netmap_slot *s = &rr->slot[i];
			const uint8_t *p8 = (const uint8_t *)NETMAP_BUF(rr, s->buf_idx);
			if (off + s->len > big || memcmp(p8, bf + off, s->len) != 0)
				ok = 0;
			off += s->len;
		}
		CHECK(ok && off == big, "multi-slot frame content (%u of %u bytes)", off, big);
		struct big_seen got = { 0, 0, 0 };
		CHECK(nm_dispatch(b, -1, on_big, (u_char *)&got) == 1, "nm_dispatch of the big frame");
		CHECK(got.n == 1 && got.len == big && got.caplen >= 1 && got.caplen <= big,
		      "multi-slot frame: %u packet(s), len %u caplen %u, want 1 of %u", got.n,
		      got.len, got.caplen, big);
		ioctl(NETMAP_FD(b), NIOCRXSYNC, NULL);
		CHECK(stray(b) == 0 && stray(c) == 0, "multi-slot frame: extra frames");
		free(bf);
	}

	/* b -> a's learned MAC: only a receives it */
	ra.dst = MAC_A;
	ra.src = MAC_B;
	ra.next = 7;
	ra.got = 0;
	inject1(b, MAC_A, MAC_B, 7);
	CHECK(drain(a, &ra, false, 1000) == 1 && ra.bad == 0, "b -> a: %u frames, %u bad",
	      ra.got, ra.bad);
	CHECK(stray(c) == 0, "c received a unicast frame for a");
	CHECK(stray(b) == 0, "b received its own frame");
	/* c -> an unknown MAC: flooded to a and b */
	static const uint8_t unknown[6] = { 0x02, 0, 0, 0, 0, 0x77 };
	struct rx fa = { unknown, MAC_C, 9, 0, 0 }, fb = { unknown, MAC_C, 9, 0, 0 };
	inject1(c, unknown, MAC_C, 9);
	CHECK(drain(a, &fa, true, 1000) == 1 && fa.bad == 0, "c -> unknown at a: %u", fa.got);
	CHECK(drain(b, &fb, true, 1000) == 1 && fb.bad == 0, "c -> unknown at b: %u", fb.got);
	CHECK(stray(c) == 0, "c received its own frame");

	/* NETMAP_NO_TX_POLL (nm_open flag): poll() for POLLIN alone does not
	 * push queued frames out; without it, it does */
	for (int flag = 0; flag < 2; flag++) {
		struct nm_desc *q = nm_open("vale5:q", NULL, flag ? NETMAP_NO_TX_POLL : 0, NULL);
		REQUIRE(q != NULL, "nm_open vale5:q: %s", strerror(errno));
		uint8_t qf[60];
		frame(qf, MAC_BCAST, unknown, 1, 60);
		CHECK(nm_inject(q, qf, sizeof(qf)) == (int)sizeof(qf), "nm_inject on vale5:q");
		struct pollfd p = { .fd = NETMAP_FD(q), .events = POLLIN };
		CHECK(poll(&p, 1, 0) == 0, "poll POLLIN on vale5:q: %d", p.revents);
		unsigned na = stray(a), nb = stray(b), nc = stray(c);
		CHECK(na == nb && nb == nc && na == (flag ? 0u : 1u),
		      "%s: after poll(POLLIN) a/b/c got %u/%u/%u", flag ? "NO_TX_POLL" : "default",
		      na, nb, nc);
		CHECK(ioctl(NETMAP_FD(q), NIOCTXSYNC, NULL) == 0, "txsync: %s", strerror(errno));
		na = stray(a), nb = stray(b), nc = stray(c);
		CHECK(na == nb && nb == nc && na == (flag ? 1u : 0u),
		      "%s: after NIOCTXSYNC a/b/c got %u/%u/%u", flag ? "NO_TX_POLL" : "default",
		      na, nb, nc);
		nm_close(q);
	}

	nm_close(a);
	nm_close(b);
	nm_close(c);
	CHECK(vt_nswitches() == 0, "vale5 left after its ports closed");
}

int main(void)
{
	t_setup(120);
	control();
	datapath();
	return t_done();
}
