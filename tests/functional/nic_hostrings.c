/* Description: several host rings on a NIC port (reference §4.2, §2.5,
 * nr_host_tx_rings / nr_host_rx_rings of NETMAP_REQ_REGISTER), on a
 * 4-queue veth pair va/vb in a private network namespace, with the AF_XDP
 * backend (copy mode) and with the TPACKET backend:
 *  - netmap:va* registered with 2 host rings each way gets 2/2 in the reply
 *    and in ni_host_tx_rings / ni_host_rx_rings, rings 4 and 5 bound, a TAP
 *    of 2 queues;
 *  - what the stack sends on va lands on host RX ring q mod 2, q being the
 *    TX queue of va the kernel picks for that flow when va is not in netmap
 *    mode (learnt first, for NFLOWS connected UDP sockets, from a
 *    PACKET_FANOUT_QM group on va; checked against the per-queue counters of
 *    an mq qdisc when this test was written);
 *  - host TX rings 0 and 1 both deliver to a UDP socket of the stack;
 *  - transparent mode: host RX slots of both host rings released with
 *    NS_FORWARD go out on va (vb sees every flow), a NIC RX slot released
 *    with NS_FORWARD reaches the stack;
 *  - a second registration asking for 3 gets the existing 2; netmap:va^1
 *    binds host ring 1 only; netmap:va^2 is EINVAL;
 *  - closed and re-opened asking for 3: 3 host rings, 3 TAP queues, the
 *    stack's flows on ring q mod 3, netmap:va^2 works; re-opened asking for
 *    none: 1.
 * Needs root; skips otherwise. */
#include "kobjtest.h"
#include "nmtest.h"

#define NFLOWS		16
#define FLOW_PORT	7000
#define NQ		4		/* queues of va (t_nic_setup) */

static int flow_fd[NFLOWS];
static int flow_q[NFLOWS];		/* va's TX queue of each flow */

/* the flows: connected UDP sockets to 10.0.0.2 (vb, static neighbour), one
 * destination port each, so that each has its own hash and TX queue */
static void flows_open(void)
{
	for (int i = 0; i < NFLOWS; i++) {
		struct sockaddr_in a = { .sin_family = AF_INET,
					 .sin_port = htons((uint16_t)(FLOW_PORT + i)) };
		inet_pton(AF_INET, "10.0.0.2", &a.sin_addr);
		flow_fd[i] = socket(AF_INET, SOCK_DGRAM, 0);
		REQUIRE(flow_fd[i] >= 0 && connect(flow_fd[i], (struct sockaddr *)&a,
						   sizeof(a)) == 0, "flow socket %d", i);
	}
}

static void flow_send(int i, const char *tag)
{
	char p[32];
	int n = snprintf(p, sizeof(p), "%s-%02d", tag, i);
	CHECK(send(flow_fd[i], p, (size_t)n, 0) == n, "flow %d send: %s", i, strerror(errno));
}

/* the flow of "TAG-NN" in buf[0..len), or -1 */
static int flow_of(const uint8_t *buf, size_t len, const char *tag)
{
	size_t tl = strlen(tag);
	const uint8_t *p = buf, *e = buf + len;
	while (p < e && (p = memmem(p, (size_t)(e - p), tag, tl)) != NULL) {
		if (p + tl + 2 < e && p[tl] == '-' && p[tl + 1] >= '0' && p[tl + 1] <= '9' &&
		    p[tl + 2] >= '0' && p[tl + 2] <= '9') {
			int f = (p[tl + 1] - '0') * 10 + (p[tl + 2] - '0');
			return f < NFLOWS ? f : -1;
		}
		p++;
	}
	return -1;
}

/* Which TX queue of va the kernel picks for each flow: a PACKET_FANOUT_QM
 * group of NQ sockets on va, member i gets the frames sent on queue i. */
static void learn_queues(void)
{
	int g[NQ];
	for (int i = 0; i < NQ; i++) {
		g[i] = t_capture(t_va);
		int v = 0x4e51 | (PACKET_FANOUT_QM << 16);
		REQUIRE(setsockopt(g[i], SOL_PACKET, PACKET_FANOUT, &v, sizeof(v)) == 0,
			"PACKET_FANOUT_QM: %s", strerror(errno));
	}
	bool seen[2] = { false, false };
	for (int f = 0; f < NFLOWS; f++) {
		flow_q[f] = -1;
		flow_send(f, "gt");
		int64_t end = unm_test_now_ms() + 1000;
		while (flow_q[f] < 0 && unm_test_now_ms() < end) {
			struct pollfd p[NQ];
			for (int i = 0; i < NQ; i++)
				p[i] = (struct pollfd){ .fd = g[i], .events = POLLIN };
			poll(p, NQ, 50);
			for (int i = 0; i < NQ; i++) {
				uint8_t b[2048];
				ssize_t n;
				while ((n = recv(g[i], b, sizeof(b), MSG_DONTWAIT)) > 0)
					if (flow_of(b, (size_t)n, "gt") == f)
						flow_q[f] = i;
			}
		}
		REQUIRE(flow_q[f] >= 0, "flow %d: not seen leaving va", f);
		seen[flow_q[f] % 2] = true;
	}
	for (int i = 0; i < NQ; i++)
		close(g[i]);
	/* 2^-15 odds with a random flow hash: the kernel is not spreading */
	REQUIRE(seen[0] && seen[1], "the %d flows left va on queues of one parity only",
		NFLOWS);
}

/* register spec asking for nh host rings each way */
static struct nmport_d *open_host(const char *spec, uint16_t nh)
{
	struct nmport_d *d = nmport_prepare(spec);
	REQUIRE(d != NULL, "nmport_prepare(%s): %s", spec, strerror(errno));
	d->reg.nr_host_tx_rings = d->reg.nr_host_rx_rings = nh;
	REQUIRE(nmport_open_desc(d) == 0, "nmport_open_desc(%s, %u host rings): %s (%s)", spec,
		nh, strerror(errno), unetmap_last_error());
	return d;
}

static bool host_counts(const struct nmport_d *d, unsigned want)
{
	return d->reg.nr_host_tx_rings == want && d->reg.nr_host_rx_rings == want &&
	       d->nifp->ni_host_tx_rings == want && d->nifp->ni_host_rx_rings == want;
}

static unsigned tap_queues(void)
{
	struct unm_nic_info in;
	return unm_nic_info("va", &in) == 0 ? in.tap_queues : 0;
}

/* Send every flow with tag and collect them from the host RX rings of d
 * (ring ids NQ..): ring[f] is the host ring of flow f (-1: not seen).
 * fwd: release each with NS_FORWARD (the ring has NR_FORWARD). */
static int host_collect(struct nmport_d *d, unsigned nhost, const char *tag, int ring[NFLOWS],
			bool fwd)
{
	int got = 0, dup = 0;
	for (int f = 0; f < NFLOWS; f++)
		ring[f] = -1;
	for (int f = 0; f < NFLOWS; f++)
		flow_send(f, tag);
	int64_t end = unm_test_now_ms() + 3000;
	while (got < NFLOWS && unm_test_now_ms() < end) {
		struct pollfd p = { .fd = d->fd, .events = POLLIN };
		poll(&p, 1, 50);
		ioctl(d->fd, NIOCRXSYNC, NULL);
		for (unsigned h = 0; h < nhost; h++) {
			struct netmap_ring *r = NETMAP_RXRING(d->nifp, NQ + h);
			while (!nm_ring_empty(r)) {
				struct netmap_slot *s = &r->slot[r->head];
				int f = flow_of((uint8_t *)NETMAP_BUF(r, s->buf_idx), s->len, tag);
				if (f >= 0 && ring[f] >= 0)
					dup++;
				else if (f >= 0) {
					ring[f] = (int)h;
					got++;
				}
				if (fwd)
					s->flags |= NS_FORWARD;
				r->head = r->cur = nm_ring_next(r, r->head);
			}
		}
	}
	ioctl(d->fd, NIOCRXSYNC, NULL);	/* release (and forward) the last ones */
	CHECK(dup == 0, "%s: %d flows seen twice", tag, dup);
	return got;
}

/* every flow on host ring (its TX queue mod nhost) */
static void check_steering(struct nmport_d *d, unsigned nhost, const char *mode, const char *tag)
{
	int ring[NFLOWS];
	int got = host_collect(d, nhost, tag, ring, false);
	CHECK(got == NFLOWS, "%s: %d of %d flows in the host RX rings", mode, got, NFLOWS);
	for (int f = 0; f < NFLOWS; f++)
		CHECK(ring[f] < 0 || ring[f] == flow_q[f] % (int)nhost,
		      "%s: flow %d (va TX queue %d) on host RX ring %d of %u, want %d", mode, f,
		      flow_q[f], ring[f], nhost, flow_q[f] % (int)nhost);
}

/* a datagram for the stack's socket on host TX ring h of d */
static void host_tx(struct nmport_d *d, unsigned h, int us, const char *mode)
{
	char tag[32];
	snprintf(tag, sizeof(tag), "host-tx-%u", h);
	struct netmap_ring *t = NETMAP_TXRING(d->nifp, NQ + h);
	struct netmap_slot *s = &t->slot[t->head];
	const uint8_t src[6] = { 0x02, 0, 0, 0, 0, 0x09 };
	s->len = (uint16_t)t_udp_frame((uint8_t *)NETMAP_BUF(t, s->buf_idx), t_va_mac, src,
				       "10.0.0.9", "10.0.0.1", T_UDP_PORT, tag);
	t->head = t->cur = nm_ring_next(t, t->head);
	ioctl(d->fd, NIOCTXSYNC, NULL);
	CHECK(t_wait_payload(us, tag, 1000), "%s: host TX ring %u: datagram not received", mode, h);
}

/* transparent mode with 2 host rings: both ways */
static void forward(struct nmport_d *d, const char *mode)
{
	int vb = t_capture(t_vb), ring[NFLOWS];
	t_set_forward(d, true);
	int got = host_collect(d, 2, "fw", ring, true);
	CHECK(got == NFLOWS, "%s: forward: %d of %d flows in the host RX rings", mode, got, NFLOWS);
	bool out[NFLOWS] = { false };
	int nout = 0;
	int64_t end = unm_test_now_ms() + 2000;
	while (nout < got && unm_test_now_ms() < end) {
		struct pollfd p = { .fd = vb, .events = POLLIN };
		if (poll(&p, 1, 50) <= 0)
			continue;
		uint8_t b[2048];
		ssize_t n;
		while ((n = recv(vb, b, sizeof(b), MSG_DONTWAIT)) > 0) {
			int f = flow_of(b, (size_t)n, "fw");
			if (f >= 0 && !out[f]) {
				out[f] = true;
				nout++;
			}
		}
	}
	bool both[2] = { false, false };
	for (int f = 0; f < NFLOWS; f++)
		if (out[f] && ring[f] >= 0)
			both[ring[f]] = true;
	CHECK(nout == got && both[0] && both[1], "%s: forward host->NIC: vb got %d of %d flows "
	      "(from host ring 0: %d, 1: %d)", mode, nout, got, both[0], both[1]);
	close(vb);

	/* NIC -> host: a frame injected on vb, released with NS_FORWARD */
	int us = t_udp_sock(T_UDP_PORT);
	t_inject_to_va("nic-fwd");
	bool seen = false;
	end = unm_test_now_ms() + 2000;
	while (!seen && unm_test_now_ms() < end) {
		struct pollfd p = { .fd = d->fd, .events = POLLIN };
		poll(&p, 1, 50);
		for (int ri = 0; ri < NQ; ri++) {
			struct netmap_ring *r = NETMAP_RXRING(d->nifp, ri);
			while (!nm_ring_empty(r)) {
				struct netmap_slot *s = &r->slot[r->head];
				if (memmem(NETMAP_BUF(r, s->buf_idx), s->len, "nic-fwd", 7) != NULL) {
					s->flags |= NS_FORWARD;
					seen = true;
				}
				r->head = r->cur = nm_ring_next(r, r->head);
			}
		}
	}
	ioctl(d->fd, NIOCRXSYNC, NULL);
	CHECK(seen, "%s: injected frame not in the NIC RX rings", mode);
	CHECK(t_wait_payload(us, "nic-fwd", 1000), "%s: forward NIC->host: not received", mode);
	close(us);
	t_set_forward(d, false);
}

static void host_rings(const char *mode)
{
	char why[160];
	struct nmport_d *d = open_host("netmap:va*", 2);
	CHECK(d->reg.nr_rx_rings == NQ && d->reg.nr_tx_rings == NQ && host_counts(d, 2),
	      "%s: reply %u/%u rings, %u/%u host rings, nifp %u/%u host rings, want 2", mode,
	      d->reg.nr_tx_rings, d->reg.nr_rx_rings, d->reg.nr_host_tx_rings,
	      d->reg.nr_host_rx_rings, d->nifp->ni_host_tx_rings, d->nifp->ni_host_rx_rings);
	CHECK(d->first_rx_ring == 0 && d->last_rx_ring == NQ + 1 && d->last_tx_ring == NQ + 1,
	      "%s: netmap:va* binds RX %d..%d TX ..%d", mode, d->first_rx_ring, d->last_rx_ring,
	      d->last_tx_ring);
	CHECK(tap_queues() == 2, "%s: the TAP has %u queues, want 2", mode, tap_queues());
	int vb = t_capture(t_vb);
	check_steering(d, 2, mode, "hr2");
	CHECK(!t_wait_payload(vb, "hr2", 100), "%s: the stack's datagrams reached the wire", mode);
	close(vb);
	int us = t_udp_sock(T_UDP_PORT);
	host_tx(d, 0, us, mode);
	host_tx(d, 1, us, mode);
	close(us);
	forward(d, mode);

	/* later registrations get the existing count */
	struct nmport_d *d2 = open_host("netmap:va^", 3);
	CHECK(host_counts(d2, 2) && d2->first_rx_ring == NQ && d2->last_rx_ring == NQ + 1,
	      "%s: second registration: %u/%u host rings (nifp %u/%u), RX %d..%d, want 2",
	      mode, d2->reg.nr_host_tx_rings, d2->reg.nr_host_rx_rings,
	      d2->nifp->ni_host_tx_rings, d2->nifp->ni_host_rx_rings, d2->first_rx_ring,
	      d2->last_rx_ring);
	nmport_close(d2);
	struct nmport_d *d3 = t_open("netmap:va^1");
	CHECK(d3->first_rx_ring == NQ + 1 && d3->last_rx_ring == NQ + 1 &&
	      d3->first_tx_ring == NQ + 1 && d3->last_tx_ring == NQ + 1,
	      "%s: netmap:va^1 binds RX %d..%d TX %d..%d, want host ring 1 (%d)", mode,
	      d3->first_rx_ring, d3->last_rx_ring, d3->first_tx_ring, d3->last_tx_ring, NQ + 1);
	nmport_close(d3);
	t_open_fails("netmap:va^2", EINVAL);
	nmport_close(d);
	CHECK(t_nic_clean(1500, 0, why, sizeof(why)), "%s: after 2 host rings: %s", mode, why);

	/* idle again: the next first registration decides (libnetmap's way) */
	d = t_open("netmap:va^@conf:host_rings=3");
	CHECK(host_counts(d, 3) && d->first_rx_ring == NQ && d->last_rx_ring == NQ + 2,
	      "%s: re-opened with 3: %u/%u host rings, RX %d..%d", mode, d->reg.nr_host_tx_rings,
	      d->reg.nr_host_rx_rings, d->first_rx_ring, d->last_rx_ring);
	CHECK(tap_queues() == 3, "%s: the TAP has %u queues, want 3", mode, tap_queues());
	check_steering(d, 3, mode, "hr3");
	us = t_udp_sock(T_UDP_PORT);
	host_tx(d, 2, us, mode);
	close(us);
	d3 = t_open("netmap:va^2");
	CHECK(d3->first_rx_ring == NQ + 2 && d3->last_rx_ring == NQ + 2, "%s: netmap:va^2 binds "
	      "RX %d..%d", mode, d3->first_rx_ring, d3->last_rx_ring);
	nmport_close(d3);
	t_open_fails("netmap:va^3", EINVAL);
	nmport_close(d);
	CHECK(t_nic_clean(1500, 0, why, sizeof(why)), "%s: after 3 host rings: %s", mode, why);

	d = t_open("netmap:va^");
	CHECK(host_counts(d, 1) && tap_queues() == 1, "%s: re-opened asking for none: %u/%u "
	      "host rings, %u TAP queues", mode, d->reg.nr_host_tx_rings,
	      d->reg.nr_host_rx_rings, tap_queues());
	nmport_close(d);
	CHECK(t_nic_clean(1500, 0, why, sizeof(why)), "%s: after 1 host ring: %s", mode, why);
}

int main(void)
{
	t_nic_setup(120);
	REQUIRE(t_sh("ip neigh add 10.0.0.2 lladdr %02x:%02x:%02x:%02x:%02x:%02x dev va "
		     "nud permanent", t_vb_mac[0], t_vb_mac[1], t_vb_mac[2], t_vb_mac[3],
		     t_vb_mac[4], t_vb_mac[5]) == 0, "static neighbour");
	flows_open();
	learn_queues();
	const char *modes[] = { "copy", "packet" };
	for (int m = 0; m < 2; m++) {
		setenv("UNETMAP_NIC_MODE", modes[m], 1);
		host_rings(modes[m]);
	}
	unsetenv("UNETMAP_NIC_MODE");
	for (int i = 0; i < NFLOWS; i++)
		close(flow_fd[i]);
	return t_done();
}
