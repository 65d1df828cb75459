/* Description: the VALE learning bridge (reference §4.3): source MACs are
 * learned, known unicast goes to one port, broadcast/multicast/unknown
 * unicast are flooded, nothing goes back to its source, a MAC that moves is
 * re-learned; unicast keeps the TX ring index (modulo the destination's RX
 * rings), broadcast lands in ring 0; counters and the MAC table agree. */
#include <sys/ioctl.h>
#include <libnetmap.h>
#include <unetmap.h>
#include "testlib.h"
#include "valetest.h"

#define NP 3
#define FLEN 60

static struct nmport_d *port[NP];
static uint32_t pidx[NP];		/* switch port index of each */
static uint64_t want_rx[NP], sent_tx[NP];

static const uint8_t MCAST[6] = { 0x01, 0x00, 0x5e, 0x00, 0x00, 0x01 };
static const uint8_t MAC_A[6] = { 0x02, 0x00, 0x00, 0x00, 0x00, 0x0a };
static const uint8_t MAC_B[6] = { 0x02, 0x00, 0x00, 0x00, 0x00, 0x0b };
static const uint8_t MAC_X[6] = { 0x02, 0x00, 0x00, 0x00, 0x00, 0x58 };
static const uint8_t MAC_Y[6] = { 0x02, 0x00, 0x00, 0x00, 0x00, 0x59 };
static const uint8_t MAC_M[6] = { 0x03, 0x00, 0x00, 0x00, 0x00, 0x77 };	/* multicast src */

static uint8_t pat(uint32_t tag, unsigned k)
{
	return (uint8_t)(tag * 13u + k * 7u + 1u);
}

/* queue one frame on TX ring `ring` of d and txsync */
static void send_on(struct nmport_d *d, unsigned ring, const uint8_t *dst, const uint8_t *src,
		    uint32_t tag)
{
	struct netmap_ring *r = NETMAP_TXRING(d->nifp, ring);
	REQUIRE(!nm_ring_empty(r), "no room in tx ring %u", ring);
	struct netmap_slot *s = &r->slot[r->head];
	uint8_t *b = (uint8_t *)NETMAP_BUF(r, s->buf_idx);
	memcpy(b, dst, 6);
	memcpy(b + 6, src, 6);
	b[12] = 0x88;
	b[13] = 0xb5;
	memcpy(b + 14, &tag, sizeof(tag));
	for (unsigned k = 18; k < FLEN; k++)
		b[k] = pat(tag, k);
	s->len = FLEN;
	s->flags = 0;
	r->head = r->cur = nm_ring_next(r, r->head);
	CHECK(ioctl(d->fd, NIOCTXSYNC, NULL) == 0, "txsync: %s", strerror(errno));
	CHECK(nm_ring_space(r) == r->num_slots - 1, "tag %u: sender TX ring not free after txsync"
	      " (space %u of %u)", tag, nm_ring_space(r), r->num_slots - 1);
}

/* read every frame waiting on RX ring `ring` of d: returns the count, the
 * tags in tags[] (up to max), checks each frame's bytes */
static int recv_on(struct nmport_d *d, unsigned ring, uint32_t *tags, int max)
{
	struct netmap_ring *r = NETMAP_RXRING(d->nifp, ring);
	int n = 0;
	while (!nm_ring_empty(r) && n < 1024) {
		struct netmap_slot *s = &r->slot[r->head];
		const uint8_t *b = (const uint8_t *)NETMAP_BUF(r, s->buf_idx);
		uint32_t tag;
		memcpy(&tag, b + 14, sizeof(tag));
		CHECK(s->len == FLEN, "tag %u: len %u", tag, s->len);
		unsigned bad = 0;
		for (unsigned k = 18; k < FLEN && k < s->len; k++)
			bad += b[k] != pat(tag, k);
		CHECK(bad == 0, "tag %u: %u payload bytes differ", tag, bad);
		if (n < max)
			tags[n] = tag;
		n++;
		r->head = r->cur = nm_ring_next(r, r->head);
	}
	return n;
}

/* send one frame from port `from`; exactly the ports in `mask` must get it
 * (once each, on RX ring 0), the others nothing */
static void step(const char *what, int from, const uint8_t *dst, const uint8_t *src,
		 unsigned mask)
{
	static uint32_t tag = 100;
	tag++;
	send_on(port[from], 0, dst, src, tag);
	sent_tx[from]++;
	for (int p = 0; p < NP; p++) {
		CHECK(ioctl(port[p]->fd, NIOCRXSYNC, NULL) == 0, "rxsync");
		uint32_t tags[8];
		int n = recv_on(port[p], 0, tags, 8);
		int want = (mask >> p) & 1;
		CHECK(n == want, "%s (from p%d): port p%d got %d frame(s), want %d", what, from, p,
		      n, want);
		if (n >= 1)
			CHECK(tags[0] == tag, "%s: port p%d got tag %u, want %u", what, p, tags[0],
			      tag);
		want_rx[p] += (uint64_t)want;
		ioctl(port[p]->fd, NIOCRXSYNC, NULL);
	}
	CHECK(!(mask & (1u << from)), "test bug: mask includes the source");
}

static int mac_port(const struct unetmap_vale_mac *m, int n, const uint8_t *mac)
{
	for (int i = 0; i < n; i++)
		if (memcmp(m[i].mac, mac, 6) == 0)
			return m[i].port_idx;
	return -1;
}

static void learning(void)
{
	char name[32];
	for (int p = 0; p < NP; p++) {
		snprintf(name, sizeof(name), "vale0:p%d", p);
		port[p] = t_open(name);
		struct unetmap_vale_port_stats st;
		REQUIRE(vt_port_stats(name, &st) == 0, "no stats for %s", name);
		pidx[p] = st.port_idx;
		CHECK(st.rx_rings_open == 1, "%s rx_rings_open %u", name, st.rx_rings_open);
	}
	CHECK(pidx[0] != pidx[1] && pidx[1] != pidx[2] && pidx[0] != pidx[2],
	      "port indices %u %u %u", pidx[0], pidx[1], pidx[2]);
	struct unetmap_vale_mac macs[16];
	CHECK(unetmap_vale_macs("vale0", macs, 16) == 0, "fresh switch has learned entries");

	step("unknown unicast", 0, MAC_X, MAC_A, 0x6);
	step("reply to a learned MAC", 2, MAC_A, MAC_X, 0x1);
	step("unicast to X (learned on p2)", 0, MAC_X, MAC_A, 0x4);
	step("broadcast", 1, vt_bcast, MAC_B, 0x5);
	step("multicast", 2, MCAST, MAC_X, 0x3);
	step("unicast to B (learned on p1)", 0, MAC_B, MAC_A, 0x2);
	step("unicast to A from p2", 2, MAC_A, MAC_X, 0x1);
	step("unknown unicast Y", 1, MAC_Y, MAC_B, 0x5);
	step("unicast to own MAC (back to source)", 1, MAC_B, MAC_B, 0x0);
	step("broadcast from a multicast source", 2, vt_bcast, MAC_M, 0x3);
	step("to the multicast source MAC (flooded)", 0, MAC_M, MAC_A, 0x6);

	int n = unetmap_vale_macs("vale0", macs, 16);
	CHECK(n == 3, "MAC table has %d entries, want 3 (A, B, X; no multicast source, no Y)", n);
	if (n > 0 && n <= 16) {
		CHECK(mac_port(macs, n, MAC_A) == (int)pidx[0], "A -> %d, want %u",
		      mac_port(macs, n, MAC_A), pidx[0]);
		CHECK(mac_port(macs, n, MAC_B) == (int)pidx[1], "B -> %d, want %u",
		      mac_port(macs, n, MAC_B), pidx[1]);
		CHECK(mac_port(macs, n, MAC_X) == (int)pidx[2], "X -> %d, want %u",
		      mac_port(macs, n, MAC_X), pidx[2]);
		CHECK(mac_port(macs, n, MAC_M) == -1, "multicast source learned");
	}

	/* X moves from p2 to p1 */
	step("X moves to p1 (broadcast)", 1, vt_bcast, MAC_X, 0x5);
	step("unicast to X follows it", 0, MAC_X, MAC_A, 0x2);
	n = unetmap_vale_macs("vale0", macs, 16);
	CHECK(n >= 1 && n <= 16 && mac_port(macs, n, MAC_X) == (int)pidx[1],
	      "X -> %d after the move, want %u", n >= 1 && n <= 16 ? mac_port(macs, n, MAC_X) : -2,
	      pidx[1]);

	/* counters */
	for (int p = 0; p < NP; p++) {
		struct unetmap_vale_port_stats st;
		snprintf(name, sizeof(name), "vale0:p%d", p);
		REQUIRE(vt_port_stats(name, &st) == 0, "no stats for %s", name);
		CHECK(st.rx_frames == want_rx[p], "%s rx_frames %llu, want %llu", name,
		      (unsigned long long)st.rx_frames, (unsigned long long)want_rx[p]);
		CHECK(st.rx_bytes == want_rx[p] * FLEN, "%s rx_bytes %llu", name,
		      (unsigned long long)st.rx_bytes);
		/* p1 sent one frame the switch had nowhere to send */
		uint64_t lo = sent_tx[p] - (p == 1 ? 1 : 0);
		CHECK(st.tx_frames >= lo && st.tx_frames <= sent_tx[p], "%s tx_frames %llu, want %llu"
		      " (%llu if frames to the source port are not counted)", name,
		      (unsigned long long)st.tx_frames, (unsigned long long)sent_tx[p],
		      (unsigned long long)lo);
		CHECK(st.drop_full == 0 && st.drop_closed == 0 && st.drop_malformed == 0 &&
		      st.drop_dead == 0, "%s drops %llu/%llu/%llu/%llu", name,
		      (unsigned long long)st.drop_full, (unsigned long long)st.drop_closed,
		      (unsigned long long)st.drop_malformed, (unsigned long long)st.drop_dead);
	}
	for (int p = 0; p < NP; p++)
		nmport_close(port[p]);
	char names[4][16];
	CHECK(unetmap_vale_switches(names, 4) == 0, "vale0 left after closing its ports");
	/* a new switch of the same name starts with an empty table */
	port[0] = t_open("vale0:p0");
	CHECK(unetmap_vale_macs("vale0", macs, 16) == 0, "recreated vale0 has old MAC entries");
	nmport_close(port[0]);
}

/* ring selection: unicast keeps the TX ring index modulo the destination's
 * RX ring count; broadcast lands in ring 0 */
static void rings(void)
{
	struct nmport_d *q = t_open("vale1:q@conf:rings=2");
	struct nmport_d *m = t_open("vale1:m@conf:rings=4");
	REQUIRE(q->reg.nr_rx_rings == 2 && m->reg.nr_tx_rings == 4, "rings q %u m %u",
		q->reg.nr_rx_rings, m->reg.nr_tx_rings);
	static const uint8_t MQ[6] = { 0x02, 0, 0, 0, 0x01, 0x01 };
	static const uint8_t MM[6] = { 0x02, 0, 0, 0, 0x01, 0x02 };
	struct {
		struct nmport_d *from;
		unsigned txring;
		const uint8_t *dst, *src;
		struct nmport_d *to;
		unsigned rxring;
		const char *what;
	} cases[] = {
		{ q, 1, vt_bcast, MQ, m, 0, "broadcast from q ring 1 -> m ring 0" },
		{ m, 3, MQ, MM, q, 1, "unicast from m ring 3 -> q ring 1 (3 mod 2)" },
		{ m, 2, MQ, MM, q, 0, "unicast from m ring 2 -> q ring 0" },
		{ m, 1, MQ, MM, q, 1, "unicast from m ring 1 -> q ring 1" },
		{ m, 3, vt_bcast, MM, q, 0, "broadcast from m ring 3 -> q ring 0" },
		{ q, 1, MM, MQ, m, 1, "unicast from q ring 1 -> m ring 1" },
		{ q, 0, MM, MQ, m, 0, "unicast from q ring 0 -> m ring 0" },
	};
	for (unsigned c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		uint32_t tag = 5000 + c;
		send_on(cases[c].from, cases[c].txring, cases[c].dst, cases[c].src, tag);
		struct nmport_d *to = cases[c].to;
		CHECK(ioctl(to->fd, NIOCRXSYNC, NULL) == 0, "rxsync");
		for (unsigned ri = 0; ri < to->reg.nr_rx_rings; ri++) {
			uint32_t tags[4];
			int n = recv_on(to, ri, tags, 4);
			int want = ri == cases[c].rxring;
			CHECK(n == want, "%s: rx ring %u has %d frame(s)", cases[c].what, ri, n);
			if (n == 1 && want)
				CHECK(tags[0] == tag, "%s: tag %u want %u", cases[c].what, tags[0], tag);
		}
		ioctl(to->fd, NIOCRXSYNC, NULL);
		struct nmport_d *from = cases[c].from;
		ioctl(from->fd, NIOCRXSYNC, NULL);
		for (unsigned ri = 0; ri < from->reg.nr_rx_rings; ri++)
			CHECK(recv_on(from, ri, NULL, 0) == 0, "%s: frame back at the source ring %u",
			      cases[c].what, ri);
	}
	nmport_close(q);
	nmport_close(m);
}

int main(void)
{
	t_setup(60);
	learning();
	rings();
	return t_done();
}
