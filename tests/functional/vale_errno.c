/* Description: VALE control requests and their errnos (reference §2.3,
 * §3.3, §4.3): NEWIF/DELIF/ATTACH/DETACH/LIST, PORT_HDR_SET/GET, REGISTER
 * modes and malformed VALE names; a persistent port is reachable as
 * netmap:NAME and, while attached, as valeS:NAME; 64 switches at most. */
#include <net/if.h>
#include <stdbool.h>
#include <sys/ioctl.h>
#include <libnetmap.h>
#include <unetmap.h>
#include "testlib.h"
#include "valetest.h"

static int hdr_req(uint16_t type, const char *name, uint32_t *len)
{
	struct nmreq_port_hdr b;
	memset(&b, 0, sizeof(b));
	b.nr_hdr_len = *len;
	int r = t_ctl(type, name, &b);
	if (r == 0)
		*len = b.nr_hdr_len;
	return r;
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

/* ---- sections ---------------------------------------------------------- */

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
	memset(&nb, 0, sizeof(nb));

	/* create: defaults written back */
	CHECK(vt_newif("v0", &nb) == 0, "NEWIF v0: %s (%s)", strerror(errno), unetmap_last_error());
	CHECK(nb.nr_tx_rings == 1 && nb.nr_rx_rings == 1, "NEWIF v0 rings %u/%u, want 1/1",
	      nb.nr_tx_rings, nb.nr_rx_rings);
	CHECK(nb.nr_tx_slots == 1024 && nb.nr_rx_slots == 1024, "NEWIF v0 slots %u/%u, want 1024",
	      nb.nr_tx_slots, nb.nr_rx_slots);
	CHECK(nb.nr_mem_id > 1, "NEWIF v0 mem_id %u (want a private region)", nb.nr_mem_id);
	CHECK_ERRNO(vt_newif("v0", NULL), EEXIST);

	/* names */
	CHECK_ERRNO(vt_newif("vale0", NULL), EINVAL);
	CHECK_ERRNO(vt_newif("valex", NULL), EINVAL);
	CHECK_ERRNO(vt_newif("vale0:x", NULL), EINVAL);
	CHECK_ERRNO(vt_newif("abcdefghijklmnop", NULL), EINVAL);	/* 16 chars */
	CHECK_ERRNO(vt_newif("abcdefghijklmnopqrstuvwxyz", NULL), EINVAL);
	CHECK(vt_newif("abcdefghijklmno", NULL) == 0, "NEWIF with 15 chars: %s", strerror(errno));
	CHECK(vt_delif("abcdefghijklmno") == 0, "DELIF 15 chars: %s", strerror(errno));
	/* an unknown memory region */
	struct nmreq_vale_newif b;
	memset(&b, 0, sizeof(b));
	b.nr_mem_id = 60000;
	CHECK_ERRNO(vt_newif("vbad", &b), EINVAL);
	CHECK_ERRNO(vt_delif("vbad"), ENXIO);

	/* geometry requested at creation */
	memset(&b, 0, sizeof(b));
	b.nr_tx_rings = 2;
	b.nr_rx_rings = 3;
	b.nr_tx_slots = 256;
	b.nr_rx_slots = 128;
	CHECK(vt_newif("vgeo", &b) == 0, "NEWIF vgeo: %s", strerror(errno));
	CHECK(b.nr_tx_rings == 2 && b.nr_rx_rings == 3 && b.nr_tx_slots == 256 &&
	      b.nr_rx_slots == 128, "NEWIF vgeo reply %u/%u rings %u/%u slots", b.nr_tx_rings,
	      b.nr_rx_rings, b.nr_tx_slots, b.nr_rx_slots);
	struct nmport_d *g = t_open("netmap:vgeo");
	CHECK(g->reg.nr_tx_rings == 2 && g->reg.nr_rx_rings == 3, "netmap:vgeo rings %u/%u",
	      g->reg.nr_tx_rings, g->reg.nr_rx_rings);
	CHECK(g->reg.nr_tx_slots == 256 && g->reg.nr_rx_slots == 128, "netmap:vgeo slots %u/%u",
	      g->reg.nr_tx_slots, g->reg.nr_rx_slots);
	CHECK(g->reg.nr_mem_id == b.nr_mem_id, "netmap:vgeo mem_id %u, NEWIF said %u",
	      g->reg.nr_mem_id, b.nr_mem_id);
	/* open → EBUSY */
	CHECK_ERRNO(vt_delif("vgeo"), EBUSY);
	/* an unattached persistent port discards what is sent on it */
	vt_send(g, vt_bcast, 9, 1, 64);
	struct netmap_ring *t = NETMAP_TXRING(g->nifp, 0);
	CHECK(nm_ring_space(t) == t->num_slots - 1, "unattached port: tx ring not free (%u)",
	      nm_ring_space(t));
	nmport_close(g);
	CHECK(vt_delif("vgeo") == 0, "DELIF vgeo after close: %s", strerror(errno));
	CHECK_ERRNO(vt_delif("vgeo"), ENXIO);

	/* DELIF errors */
	CHECK_ERRNO(vt_delif("nosuchif"), ENXIO);
	CHECK_ERRNO(vt_delif("vale0:nosuch"), ENXIO);
	struct nmport_d *e = t_open("vale0:eph");
	CHECK_ERRNO(vt_delif("vale0:eph"), ENXIO);	/* ephemeral: not an interface */
	nmport_close(e);
	struct nmport_d *pp = t_open("netmap:ppar{1");
	CHECK_ERRNO(vt_delif("ppar"), EINVAL);	/* auto-created pipe parent */
	nmport_close(pp);
	if (if_nametoindex("lo") != 0)
		CHECK_ERRNO(vt_delif("lo"), EINVAL);	/* an OS interface, not VALE */
	/* DELIF has no body */
	struct nmreq_header h;
	struct nmreq_vale_newif dummy;
	t_hdr_init(&h, NETMAP_REQ_VALE_DELIF, "v0", &dummy);
	CHECK_ERRNO(t_nm_ioctl(NIOCCTRL, &h), EINVAL);
}

static void attach_detach(void)
{
	uint32_t i0 = 0, i1 = 0, x = 0;
	/* v0 exists (newif_delif); a peer port on vale0 first so v0 is not index 0 */
	struct nmport_d *e = t_open("vale0:e");
	CHECK(vt_attach("vale0:v0", &i0) == 0, "ATTACH vale0:v0: %s (%s)", strerror(errno),
	      unetmap_last_error());
	CHECK(i0 < UNETMAP_VALE_MAXPORTS, "port_index %u", i0);
	CHECK_ERRNO(vt_newif("v0", NULL), EEXIST);		/* even while attached */
	CHECK_ERRNO(vt_attach("vale0:v0", NULL), EBUSY);	/* twice, same switch */
	CHECK_ERRNO(vt_delif("v0"), EBUSY);			/* attached */
	CHECK(vt_attach("vale1:v0", &i1) == 0, "ATTACH vale1:v0 (second switch): %s",
	      strerror(errno));
	CHECK(has_switch("vale1"), "vale1 created by ATTACH");
	CHECK_ERRNO(vt_attach("vale1:v0", NULL), EBUSY);
	CHECK_ERRNO(vt_attach("foo0:v0", NULL), EINVAL);	/* no VALE prefix */
	CHECK_ERRNO(vt_attach("v0", NULL), EINVAL);
	CHECK_ERRNO(vt_attach("vale0:nosuchif", NULL), EINVAL);
	CHECK_ERRNO(vt_attach("vale5:nosuchif", NULL), EINVAL);
	CHECK(!has_switch("vale5"), "failed ATTACH left switch vale5 behind");

	/* LIST by name */
	uint16_t sw = 0;
	uint32_t port = 0;
	CHECK(vt_list("vale0:v0", &sw, &port) == 0, "LIST vale0:v0: %s", strerror(errno));
	CHECK(port == i0, "LIST vale0:v0 port %u, ATTACH said %u", port, i0);
	uint16_t sw0 = sw;
	CHECK(vt_list("vale1:v0", &sw, &port) == 0, "LIST vale1:v0: %s", strerror(errno));
	CHECK(port == i1, "LIST vale1:v0 port %u, ATTACH said %u", port, i1);
	CHECK(sw != sw0, "vale0 and vale1 have the same switch index %u", sw);
	CHECK(vt_list("vale0:e", &sw, &port) == 0 && sw == sw0 && port != i0,
	      "LIST vale0:e: sw %u port %u", sw, port);
	CHECK(vt_list("vale0:notamember", &sw, &port) == 0, "LIST non-member: %s",
	      strerror(errno));
	CHECK(port == UNETMAP_VALE_NOPORT, "LIST non-member port %u, want 255", port);
	CHECK(sw == sw0, "LIST non-member switch %u, want %u", sw, sw0);
	CHECK_ERRNO(vt_list("vale7:x", NULL, NULL), ENOENT);
	CHECK_ERRNO(vt_list("foo:x", NULL, NULL), EINVAL);
	CHECK_ERRNO(vt_list("v0", NULL, NULL), EINVAL);
	CHECK(!has_switch("vale7"), "LIST created switch vale7");

	/* LIST enumeration: exactly vale0:e, vale0:v0, vale1:v0 */
	const char *want[] = { "vale0:e", "vale0:v0", "vale1:v0" };
	int seen[3] = { 0, 0, 0 }, n = 0, other = 0;
	struct nmreq_vale_list lb;
	memset(&lb, 0, sizeof(lb));
	char name[NETMAP_REQ_IFNAMSIZ];
	int r = -1;
	for (int k = 0; k < 1000; k++) {
		r = vt_list_at(&lb, name);
		if (r < 0)
			break;
		n++;
		if (!vt_tally(name, want, 3, seen)) {
			other++;
			fprintf(stderr, "LIST enumeration: unexpected '%s' (%u,%u)\n", name,
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
	CHECK_ERRNO(vt_detach("vale9:v0", NULL), ENXIO);	/* unknown switch */
	CHECK_ERRNO(vt_detach("vale0:nosuch", NULL), ENXIO);	/* unknown port */
	CHECK_ERRNO(vt_detach("foo0:v0", NULL), EINVAL);	/* no VALE prefix */
	CHECK_ERRNO(vt_detach("vale0:v0", NULL), EBUSY);	/* first of two attachments */
	CHECK(vt_detach("vale1:v0", &x) == 0, "DETACH vale1:v0: %s", strerror(errno));
	CHECK(x == i1, "DETACH vale1:v0 port_index %u, want %u", x, i1);
	CHECK(!has_switch("vale1"), "vale1 still listed after its last port left");
	CHECK_ERRNO(vt_detach("vale1:v0", NULL), ENXIO);
	CHECK_ERRNO(vt_delif("v0"), EBUSY);		/* still attached to vale0 */

	/* reachable as netmap:v0 and vale0:v0 while attached; traffic both ways */
	struct nmport_d *pn = t_open("netmap:v0");
	struct nmport_d *pv = t_open("vale0:v0");
	CHECK(pn->reg.nr_mem_id == pv->reg.nr_mem_id, "netmap:v0 mem %u, vale0:v0 mem %u",
	      pn->reg.nr_mem_id, pv->reg.nr_mem_id);
	CHECK_ERRNO(vt_delif("v0"), EBUSY);		/* open */
	uint32_t tag = 0;
	vt_send(e, vt_bcast, 1, 1001, 64);
	CHECK(vt_recv(pn, 0, &tag, 1, true) == 1 && tag == 1001, "vale0:e -> netmap:v0: tag %u",
	      tag);
	vt_send(pn, vt_bcast, 2, 1002, 64);
	CHECK(vt_recv(e, 0, &tag, 1, true) == 1 && tag == 1002, "netmap:v0 -> vale0:e: tag %u",
	      tag);
	vt_send(pv, vt_bcast, 2, 1003, 64);
	CHECK(vt_recv(e, 0, &tag, 1, true) == 1 && tag == 1003, "vale0:v0 -> vale0:e: tag %u",
	      tag);
	nmport_close(pv);

	/* detached: netmap:v0 still opens, vale0:v0 is not a port any more */
	CHECK(vt_detach("vale0:v0", &x) == 0, "DETACH vale0:v0: %s", strerror(errno));
	CHECK(x == i0, "DETACH vale0:v0 port_index %u, want %u", x, i0);
	CHECK(vt_list("vale0:v0", NULL, &port) == 0 && port == UNETMAP_VALE_NOPORT,
	      "LIST after detach: port %u", port);
	REG_FAILS(t_reg_raw("vale0:v0", NR_REG_ALL_NIC, 0, 0), EINVAL);
	vt_send(pn, vt_bcast, 2, 1004, 64);	/* discarded */
	CHECK(vt_recv(e, 0, NULL, 0, true) == 0,
	      "frame from a detached persistent port reached vale0:e");
	nmport_close(pn);
	struct nmport_d *pn2 = nmport_open("netmap:v0");
	CHECK(pn2 != NULL, "netmap:v0 when detached: %s", strerror(errno));
	if (pn2)
		nmport_close(pn2);
	nmport_close(e);
	CHECK(!has_switch("vale0"), "vale0 still listed after its last port left");
	CHECK(vt_delif("v0") == 0, "DELIF v0: %s", strerror(errno));
	CHECK_ERRNO(vt_delif("v0"), ENXIO);
	t_open_fails("netmap:v0", ENXIO);	/* after DELIF */
}

static void port_hdr(void)
{
	uint32_t len;
	struct nmport_d *a = t_open("vale2:a");

	len = 10;
	CHECK_ERRNO(hdr_req(NETMAP_REQ_PORT_HDR_SET, "vale2:nosuch", &len), ENXIO);
	len = 10;
	CHECK_ERRNO(hdr_req(NETMAP_REQ_PORT_HDR_SET, "vale8:nosuch", &len), ENXIO);
	CHECK(!has_switch("vale8"), "HDR_SET created switch vale8");
	len = 0;
	CHECK_ERRNO(hdr_req(NETMAP_REQ_PORT_HDR_GET, "vale2:nosuch", &len), ENXIO);
	uint32_t port = 0;
	CHECK(vt_list("vale2:nosuch", NULL, &port) == 0 && port == UNETMAP_VALE_NOPORT,
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
	REG_FAILS(t_reg_raw("vale2:a", NR_REG_ALL_NIC, 0, 0), EIO);
	int fd = t_reg_raw("vale2:a", NR_REG_ALL_NIC, 0, NR_ACCEPT_VNET_HDR);
	CHECK(fd >= 0, "REGISTER with NR_ACCEPT_VNET_HDR: %s", strerror(errno));
	if (fd >= 0)
		close(fd);
	len = 0;
	CHECK(hdr_req(NETMAP_REQ_PORT_HDR_SET, "vale2:a", &len) == 0, "HDR_SET 0");
	fd = t_reg_raw("vale2:a", NR_REG_ALL_NIC, 0, 0);
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
	struct nmport_d *keep = t_open("vale3:keep");
	const uint32_t modes[] = { NR_REG_SW, NR_REG_NIC_SW, NR_REG_ONE_SW };
	for (unsigned i = 0; i < 3; i++)
		REG_FAILS(t_reg_raw("vale3:m", modes[i], 0, 0), EINVAL);
	REG_FAILS(t_reg_raw("vale3:m", NR_REG_ONE_NIC, 5, 0), EINVAL);	/* 1 ring */
	REG_FAILS(t_reg_raw("vale3:m", NR_REG_DEFAULT, 0, 0), EINVAL);
	uint32_t port = 0;
	CHECK(vt_list("vale3:m", NULL, &port) == 0 && port == UNETMAP_VALE_NOPORT,
	      "failed REGISTER left vale3:m in the switch (port %u)", port);
	t_open_fails("vale3:m^", EINVAL);
	t_open_fails("vale3:m*", EINVAL);
	REG_FAILS(t_reg_raw("vale4:m", NR_REG_SW, 0, 0), EINVAL);
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
		int fd = t_reg_raw(bad[i], NR_REG_ALL_NIC, 0, 0);
		CHECK(fd < 0 && errno == EINVAL, "REGISTER '%s': fd %d %s", bad[i], fd,
		      strerror(errno));
		if (fd >= 0)
			close(fd);
	}
	CHECK(vt_nswitches() == 1, "malformed names created switches: %d listed", vt_nswitches());
	t_open_fails("vale3:", EINVAL);
	t_open_fails("vale-1:p", EINVAL);
	/* 15-character port part and a 1..15-character switch name are fine;
	 * "vale:x" is switch "vale" (reference §3.1 table: vale:0 is valid) */
	const char *good[] = { "vale3:abcdefghijklmno", "vale:x", "valeabcdefghijk:p" };
	for (unsigned i = 0; i < 3; i++) {
		int fd = t_reg_raw(good[i], NR_REG_ALL_NIC, 0, 0);
		CHECK(fd >= 0, "REGISTER '%s': %s (%s)", good[i], strerror(errno),
		      unetmap_last_error());
		if (fd >= 0)
			close(fd);
	}
	nmport_close(keep);
	CHECK(vt_nswitches() == 0, "%d switch(es) left after closing every port", vt_nswitches());
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
	CHECK(vt_nswitches() == n, "%d switches listed, %d opened", vt_nswitches(), n);
	if (n == UNETMAP_VALE_MAXSWITCHES) {
		REG_FAILS(t_reg_raw("valeone_more:p", NR_REG_ALL_NIC, 0, 0), ENOMEM);
		CHECK(vt_newif("vx", NULL) == 0, "NEWIF vx: %s", strerror(errno));
		CHECK_ERRNO(vt_attach("valeone_more:vx", NULL), ENOMEM);
		/* a port on an existing switch is still fine */
		int fd = t_reg_raw("valesw0:q", NR_REG_ALL_NIC, 0, 0);
		CHECK(fd >= 0, "second port on an existing switch: %s", strerror(errno));
		if (fd >= 0)
			close(fd);
		nmport_close(d[--n]);
		CHECK(vt_attach("valeone_more:vx", NULL) == 0, "ATTACH once a switch is free: %s",
		      strerror(errno));
		CHECK(vt_detach("valeone_more:vx", NULL) == 0, "DETACH: %s", strerror(errno));
		CHECK(vt_delif("vx") == 0, "DELIF vx: %s", strerror(errno));
	}
	while (n > 0)
		nmport_close(d[--n]);
	CHECK(vt_nswitches() == 0, "%d switch(es) left", vt_nswitches());
}

int main(void)
{
	t_setup(120);
	nmctx_get()->verbose = 0;	/* many expected failures */
	CHECK(vt_nswitches() == 0, "fresh runtime dir lists %d switches", vt_nswitches());
	CHECK_ERRNO(t_ctl(NETMAP_REQ_VALE_LIST, "", &(struct nmreq_vale_list){ 0, 0, 0 }), ENOENT);
	newif_delif();
	attach_detach();
	port_hdr();
	register_modes_names();
	many_switches();
	return t_done();
}
