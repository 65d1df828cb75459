/* Description: a VALE switch forwards with a lookup object loaded by
 * unetmap_vale_set_lookup(): the example plugin unetmap-vale-vlan.so sends
 * a frame tagged with VLAN id V only to port index V-1 (even when the
 * learning bridge would pick another port), broadcasts untagged frames,
 * drops tags naming no port; resetting the lookup brings learning back.
 * Bad objects/paths/switches are refused with the documented errors. */
#include "testlib.h"
#include "valetest.h"
#include <libgen.h>
#include <limits.h>
#include <unetmap.h>

#define SW	"vale9"
#define NPORTS	3
#define MAGIC	0x564c414eu	/* marks the frames of this test */
#define MARK_OFF 24		/* magic, then the phase number */
#define FRAME_LEN 60

static struct nmport_d *port[NPORTS];
static uint32_t idx[NPORTS];
static const uint8_t mac[NPORTS][6] = {
	{ 0x02, 0, 0, 0, 0x09, 0x00 },
	{ 0x02, 0, 0, 0, 0x09, 0x01 },
	{ 0x02, 0, 0, 0, 0x09, 0x02 },
};

/* received frames of each phase, per port (phases < 16) */
static unsigned got[NPORTS][16];
static unsigned foreign[NPORTS];

/* queue @n frames on @from's first TX ring, then one txsync.  vid < 0:
 * untagged. */
static void send_frames(int from, const uint8_t *dst, int vid, unsigned phase, unsigned n)
{
	struct nmport_d *d = port[from];
	struct netmap_ring *r = NETMAP_TXRING(d->nifp, d->first_tx_ring);

	for (unsigned i = 0; i < n; i++) {
		REQUIRE(!nm_ring_empty(r), "no room in the tx ring of p%d", from);
		struct netmap_slot *s = &r->slot[r->head];
		uint8_t *b = (uint8_t *)NETMAP_BUF(r, s->buf_idx);
		memset(b, 0, FRAME_LEN);
		memcpy(b, dst, 6);
		memcpy(b + 6, mac[from], 6);
		if (vid >= 0) {
			b[12] = 0x81; b[13] = 0x00;
			b[14] = (uint8_t)((vid >> 8) & 0x0f);
			b[15] = (uint8_t)(vid & 0xff);
			b[16] = 0x08; b[17] = 0x00;
		} else {
			b[12] = 0x08; b[13] = 0x00;
		}
		uint32_t m = MAGIC;
		memcpy(b + MARK_OFF, &m, 4);
		memcpy(b + MARK_OFF + 4, &phase, 4);
		s->len = FRAME_LEN;
		s->flags = 0;
		r->head = r->cur = nm_ring_next(r, r->head);
	}
	CHECK(ioctl(d->fd, NIOCTXSYNC, NULL) == 0, "txsync p%d: %s", from, strerror(errno));
}

/* rxsync port @p and account every frame it holds */
static void drain(int p)
{
	struct nmport_d *d = port[p];

	CHECK(ioctl(d->fd, NIOCRXSYNC, NULL) == 0, "rxsync p%d: %s", p, strerror(errno));
	for (unsigned ri = d->first_rx_ring; ri <= d->last_rx_ring; ri++) {
		struct netmap_ring *r = NETMAP_RXRING(d->nifp, ri);
		for (int k = 0; k < 4096 && !nm_ring_empty(r); k++) {
			struct netmap_slot *s = &r->slot[r->head];
			const uint8_t *b = (const uint8_t *)NETMAP_BUF(r, s->buf_idx);
			uint32_t m, phase;
			if (s->len >= MARK_OFF + 8) {
				memcpy(&m, b + MARK_OFF, 4);
				memcpy(&phase, b + MARK_OFF + 4, 4);
			} else {
				m = 0;
				phase = 0;
			}
			if (m == MAGIC && phase < 16)
				got[p][phase]++;
			else
				foreign[p]++;
			r->head = r->cur = nm_ring_next(r, r->head);
		}
	}
}

/* wait (bounded) until port @p has @want frames of @phase */
static void wait_for(int p, unsigned phase, unsigned want)
{
	int64_t deadline = unm_test_now_ms() + 5000;
	for (int i = 0; i < 5000; i++) {
		drain(p);
		if (got[p][phase] >= want || unm_test_now_ms() > deadline)
			break;
		usleep(1000);
	}
}

/* send a phase and check what each port received.  Ports expected to get
 * something are waited for first; switching happens in the sender's
 * txsync, so once they have everything the others have had their chance. */
static void phase_check(unsigned phase, const unsigned want[NPORTS], const char *what)
{
	for (int p = 0; p < NPORTS; p++)
		if (want[p] > 0)
			wait_for(p, phase, want[p]);
	for (int p = 0; p < NPORTS; p++) {
		drain(p);
		CHECK(got[p][phase] == want[p], "%s: p%d received %u frames, want %u",
		      what, p, got[p][phase], want[p]);
	}
}

static int find_plugin(char *out, size_t len)
{
	char self[PATH_MAX], cand[PATH_MAX + 64];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n > 0) {
		self[n] = '\0';
		snprintf(cand, sizeof(cand), "%s/../../lib/unetmap-vale-vlan.so", dirname(self));
		if (realpath(cand, out) != NULL)
			return 0;
	}
	const char *b = getenv("BUILD");
	if (b != NULL && *b != '\0') {
		snprintf(cand, sizeof(cand), "%s/lib/unetmap-vale-vlan.so", b);
		if (realpath(cand, out) != NULL)
			return 0;
	}
	(void)len;
	return -1;
}

int main(void)
{
	char plugin[PATH_MAX], buf[PATH_MAX];

	t_setup(60);
	REQUIRE(find_plugin(plugin, sizeof(plugin)) == 0,
		"unetmap-vale-vlan.so not found next to the test (make plugins)");

	for (int p = 0; p < NPORTS; p++) {
		char name[32];
		snprintf(name, sizeof(name), SW ":p%d", p);
		port[p] = nmport_open(name);
		REQUIRE(port[p] != NULL, "nmport_open %s: %s", name, strerror(errno));
	}

	/* port indices, by name */
	struct unetmap_vale_port_stats st[UNETMAP_VALE_MAXPORTS];
	int n = unetmap_vale_stats(SW, st, UNETMAP_VALE_MAXPORTS);
	REQUIRE(n == NPORTS, "unetmap_vale_stats: %d (want %d ports)", n, NPORTS);
	for (int p = 0; p < NPORTS; p++) {
		char name[32];
		struct unetmap_vale_port_stats ps;
		snprintf(name, sizeof(name), SW ":p%d", p);
		REQUIRE(vt_port_stats(name, &ps) == 0, "%s not in the stats", name);
		idx[p] = ps.port_idx;
	}
	const int vid_p1 = (int)idx[1] + 1, vid_p2 = (int)idx[2] + 1;
	fprintf(stderr, "port indices %u %u %u: VLAN %d -> p1, %d -> p2\n",
		idx[0], idx[1], idx[2], vid_p1, vid_p2);

	/* learning: p1 and p2 announce themselves */
	send_frames(1, vt_bcast, -1, 0, 1);
	send_frames(2, vt_bcast, -1, 0, 1);
	wait_for(0, 0, 2);
	drain(1);
	drain(2);
	CHECK(got[0][0] == 2, "learning frames reached p0 %u times, want 2", got[0][0]);

	/* without the plugin a tag means nothing: unicast to M1 goes to p1 */
	const unsigned to_p1[NPORTS] = { 0, 5, 0 }, to_p2[NPORTS] = { 0, 0, 5 };
	const unsigned to_both[NPORTS] = { 0, 5, 5 }, to_none[NPORTS] = { 0, 0, 0 };
	const unsigned sentinel[NPORTS] = { 0, 1, 1 };
	send_frames(0, mac[1], vid_p2, 1, 5);
	phase_check(1, to_p1, "learning bridge, tagged for p2, addressed to p1");

	/* refusals */
	CHECK(unetmap_vale_set_lookup(SW, "lib/unetmap-vale-vlan.so") == -EINVAL,
	      "relative path accepted");
	CHECK(unetmap_vale_set_lookup("vale77", plugin) == -ENOENT,
	      "set_lookup on a missing switch did not say ENOENT");
	CHECK(unetmap_vale_set_lookup(SW, "/etc/hostname") == -ENOEXEC,
	      "a non-object was not refused with ENOEXEC");
	{
		/* the library itself is an object without the symbol */
		char dir[PATH_MAX], lib[PATH_MAX + 32];
		snprintf(dir, sizeof(dir), "%s", plugin);
		snprintf(lib, sizeof(lib), "%s/libunetmap.so", dirname(dir));
		if (access(lib, R_OK) == 0)
			CHECK(unetmap_vale_set_lookup(SW, lib) == -ENOEXEC,
			      "an object without %s was not refused with ENOEXEC",
			      UNETMAP_VALE_LOOKUP_SYM);
	}
	CHECK(unetmap_vale_get_lookup(SW, buf, sizeof(buf)) == 0 && buf[0] == '\0',
	      "lookup changed by a refused request: '%s'", buf);

	/* load the VLAN plugin */
	int rc = unetmap_vale_set_lookup(SW, plugin);
	REQUIRE(rc == 0, "set_lookup %s: %s", plugin, strerror(-rc));
	CHECK(unetmap_vale_get_lookup(SW, buf, sizeof(buf)) == 0 && strcmp(buf, plugin) == 0,
	      "get_lookup says '%s', want '%s'", buf, plugin);

	/* tagged VID(p2), addressed to p1's MAC: the plugin sends it to p2 only */
	send_frames(0, mac[1], vid_p2, 2, 5);
	phase_check(2, to_p2, "plugin, tagged for p2");
	/* tagged VID(p1) reaches p1 only */
	send_frames(0, mac[2], vid_p1, 3, 5);
	phase_check(3, to_p1, "plugin, tagged for p1");
	/* untagged: broadcast, even when addressed to a learned unicast MAC */
	send_frames(0, mac[1], -1, 4, 5);
	phase_check(4, to_both, "plugin, untagged");
	/* a VID naming no port, VID 0, and the sender's own index: dropped;
	 * a broadcast after them shows the switch has handled them */
	send_frames(0, mac[1], 200, 5, 3);
	send_frames(0, mac[1], 0, 5, 3);
	send_frames(0, mac[1], (int)idx[0] + 1, 5, 3);
	send_frames(0, vt_bcast, -1, 6, 1);
	phase_check(6, sentinel, "plugin, sentinel");
	phase_check(5, to_none, "plugin, VLAN of no port");

	/* back to the learning bridge */
	rc = unetmap_vale_set_lookup(SW, NULL);
	CHECK(rc == 0, "reset lookup: %s", strerror(-rc));
	CHECK(unetmap_vale_get_lookup(SW, buf, sizeof(buf)) == 0 && buf[0] == '\0',
	      "after the reset get_lookup says '%s'", buf);
	send_frames(0, mac[1], vid_p2, 7, 5);
	phase_check(7, to_p1, "learning restored, tagged for p2, addressed to p1");
	/* "" resets too */
	rc = unetmap_vale_set_lookup(SW, plugin);
	CHECK(rc == 0, "reload: %s", strerror(-rc));
	send_frames(0, mac[1], vid_p2, 8, 5);
	phase_check(8, to_p2, "plugin reloaded");
	CHECK(unetmap_vale_set_lookup(SW, "") == 0, "reset with \"\"");
	send_frames(0, mac[1], vid_p2, 9, 5);
	phase_check(9, to_p1, "learning restored by \"\"");

	for (int p = 0; p < NPORTS; p++)
		CHECK(foreign[p] == 0, "p%d received %u frames this test did not send",
		      p, foreign[p]);
	for (int p = 0; p < NPORTS; p++)
		nmport_close(port[p]);
	return t_done();
}
