/* Description: transparent mode on a NIC port (reference §1.7 NS_FORWARD,
 * §1.8 NR_FORWARD, §4.1, §4.2), on a 4-queue veth pair va/vb in a private
 * network namespace (va 10.0.0.1/24, vb its peer without an address),
 * with the AF_XDP backend (copy mode) and with the TPACKET backend, through
 * netmap:va* (NR_REG_NIC_SW: every NIC ring and the host rings):
 *  - NIC -> host: datagrams injected on vb arrive in the NIC RX rings; with
 *    NR_FORWARD in the RX rings' flags, the slots released with NS_FORWARD
 *    go up to the host stack (a UDP socket on 10.0.0.1 gets each of them
 *    exactly once, intact) and the slots released without it do not;
 *  - host -> NIC: datagrams the stack sends to 10.0.0.2 arrive in the host
 *    RX ring; the slots released with NS_FORWARD go out on va's TX rings
 *    (vb receives each exactly once, intact), the others do not;
 *  - no NR_FORWARD in ring->flags: NS_FORWARD on a slot does nothing;
 *  - host -> NIC needs every NIC TX ring on the descriptor: through
 *    netmap:va^ alone nothing goes out;
 *  - after close nothing is left on va and the stack receives as before.
 * Needs root; skips otherwise. */
#include "kobjtest.h"
#include "nmtest.h"

#define NFRAMES		6		/* per phase; the even ones are forwarded */
#define DOWN_PORT	7777

/* "TAG-i" somewhere in buf[0..len)? i, else -1 */
static int tagged(const uint8_t *buf, size_t len, const char *tag)
{
	size_t tl = strlen(tag);
	const uint8_t *p = buf, *e = buf + len;
	while (p < e && (p = memmem(p, (size_t)(e - p), tag, tl)) != NULL) {
		if (p + tl + 1 < e && p[tl] == '-' && p[tl + 1] >= '0' && p[tl + 1] <= '9')
			return p[tl + 1] - '0';
		p++;
	}
	return -1;
}

/*
 * Sync d until `want` frames carrying TAG-i came into RX rings
 * [first, last], or 3 s passed.  Each of them is released with NS_FORWARD
 * if mark(i) (the even ones when mark_even, none otherwise), every other
 * slot without.  seen[i] counts arrivals.  Returns how many came.
 */
static int release_marked(struct nmport_d *d, int first, int last, const char *tag, bool mark_even,
			  int seen[NFRAMES])
{
	int got = 0;
	int64_t end = unm_test_now_ms() + 3000;
	memset(seen, 0, sizeof(int) * NFRAMES);
	while (got < NFRAMES && unm_test_now_ms() < end) {
		struct pollfd p = { .fd = d->fd, .events = POLLIN };
		poll(&p, 1, 20);
		for (int ri = d->first_rx_ring; ri <= d->last_rx_ring; ri++) {
			struct netmap_ring *r = NETMAP_RXRING(d->nifp, ri);
			while (!nm_ring_empty(r)) {
				struct netmap_slot *s = &r->slot[r->head];
				int i = tagged((uint8_t *)NETMAP_BUF(r, s->buf_idx), s->len, tag);
				s->flags &= ~NS_FORWARD;
				if (i >= 0 && i < NFRAMES && ri >= first && ri <= last) {
					seen[i]++;
					got++;
					if (mark_even && i % 2 == 0)
						s->flags |= NS_FORWARD;
				}
				r->head = r->cur = nm_ring_next(r, r->head);
			}
		}
	}
	/* the releases take effect at the next sync */
	ioctl(d->fd, NIOCRXSYNC, NULL);
	ioctl(d->fd, NIOCTXSYNC, NULL);
	return got;
}

/* keep syncing d (the kernel would push forwarded frames at poll/rxsync)
 * while reading fd for TAG-i frames or datagrams for ms; count[i] */
static void collect(struct nmport_d *d, int fd, const char *tag, int ms, int count[NFRAMES])
{
	memset(count, 0, sizeof(int) * NFRAMES);
	int64_t end = unm_test_now_ms() + ms;
	while (unm_test_now_ms() < end) {
		if (d != NULL) {
			ioctl(d->fd, NIOCRXSYNC, NULL);
			ioctl(d->fd, NIOCTXSYNC, NULL);
		}
		struct pollfd p = { .fd = fd, .events = POLLIN };
		if (poll(&p, 1, 10) <= 0)
			continue;
		uint8_t buf[2048];
		ssize_t n;
		while ((n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT)) > 0) {
			int i = tagged(buf, (size_t)n, tag);
			if (i >= 0 && i < NFRAMES)
				count[i]++;
		}
	}
}

/* the even ones once each, the odd ones never */
static void check_even(const char *what, const char *mode, const int count[NFRAMES])
{
	for (int i = 0; i < NFRAMES; i++) {
		int want = i % 2 == 0;
		CHECK(count[i] == want, "%s: %s: frame %d arrived %d times, want %d", mode, what, i,
		      count[i], want);
	}
}

static void check_none(const char *what, const char *mode, const int count[NFRAMES])
{
	for (int i = 0; i < NFRAMES; i++)
		CHECK(count[i] == 0, "%s: %s: frame %d arrived %d times, want 0", mode, what, i,
		      count[i]);
}

/* the stack sends TAG-i to 10.0.0.2 (static neighbour: vb) */
static void stack_send(const char *tag, int i)
{
	char pl[64];
	snprintf(pl, sizeof(pl), "%s-%d", tag, i);
	int s = socket(AF_INET, SOCK_DGRAM, 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(DOWN_PORT) };
	inet_pton(AF_INET, "10.0.0.2", &a.sin_addr);
	REQUIRE(s >= 0 && sendto(s, pl, strlen(pl), 0, (struct sockaddr *)&a, sizeof(a)) ==
		(ssize_t)strlen(pl), "udp send: %s", strerror(errno));
	close(s);
}

static void inject(const char *tag, int i)
{
	char pl[64];
	snprintf(pl, sizeof(pl), "%s-%d", tag, i);
	t_inject_to_va(pl);
}

static void run(const char *mode)
{
	char tag[32];
	int seen[NFRAMES], count[NFRAMES];
	int us = t_udp_sock(T_UDP_PORT);
	int cap = t_capture(t_vb);

	struct nmport_d *d = t_open("netmap:va*");
	REQUIRE(d->first_rx_ring == 0 && d->last_rx_ring == 4 && d->first_tx_ring == 0 &&
		d->last_tx_ring == 4, "%s: netmap:va* binds RX %d..%d TX %d..%d, want 0..4", mode,
		d->first_rx_ring, d->last_rx_ring, d->first_tx_ring, d->last_tx_ring);
	t_set_forward(d, true);

	/* NIC -> host stack */
	snprintf(tag, sizeof(tag), "%s:up", mode);
	for (int i = 0; i < NFRAMES; i++)
		inject(tag, i);
	int got = release_marked(d, 0, 3, tag, true, seen);
	CHECK(got == NFRAMES, "%s: %d of %d injected frames in the NIC RX rings", mode, got,
	      NFRAMES);
	collect(d, us, tag, 500, count);
	check_even("NIC RX -> host stack with NS_FORWARD", mode, count);

	/* host stack -> NIC */
	snprintf(tag, sizeof(tag), "%s:down", mode);
	for (int i = 0; i < NFRAMES; i++)
		stack_send(tag, i);
	got = release_marked(d, 4, 4, tag, true, seen);
	CHECK(got == NFRAMES, "%s: %d of %d datagrams of the stack in the host RX ring", mode, got,
	      NFRAMES);
	collect(d, cap, tag, 500, count);
	check_even("host RX -> NIC TX with NS_FORWARD", mode, count);
	/* the forwarded buffers come back to the TX rings */
	int64_t end = unm_test_now_ms() + 1000;
	bool pending = true;
	while (pending && unm_test_now_ms() < end) {
		ioctl(d->fd, NIOCTXSYNC, NULL);
		pending = false;
		for (int ri = d->first_tx_ring; ri <= d->last_tx_ring; ri++)
			pending |= nm_tx_pending(NETMAP_TXRING(d->nifp, ri)) != 0;
		if (pending)
			usleep(1000);
	}
	CHECK(!pending, "%s: TX slots still pending after forwarding", mode);

	/* no NR_FORWARD: NS_FORWARD on a slot is ignored, both ways */
	t_set_forward(d, false);
	snprintf(tag, sizeof(tag), "%s:noup", mode);
	for (int i = 0; i < NFRAMES; i++)
		inject(tag, i);
	got = release_marked(d, 0, 3, tag, true, seen);
	CHECK(got == NFRAMES, "%s: %d of %d injected frames (no NR_FORWARD)", mode, got, NFRAMES);
	collect(d, us, tag, 300, count);
	check_none("NS_FORWARD without NR_FORWARD, NIC RX", mode, count);
	snprintf(tag, sizeof(tag), "%s:nodown", mode);
	for (int i = 0; i < NFRAMES; i++)
		stack_send(tag, i);
	got = release_marked(d, 4, 4, tag, true, seen);
	CHECK(got == NFRAMES, "%s: %d of %d datagrams (no NR_FORWARD)", mode, got, NFRAMES);
	collect(d, cap, tag, 300, count);
	check_none("NS_FORWARD without NR_FORWARD, host RX", mode, count);
	nmport_close(d);

	/* host -> NIC needs all NIC TX rings on the descriptor */
	struct nmport_d *h = t_open("netmap:va^");
	t_set_forward(h, true);
	snprintf(tag, sizeof(tag), "%s:swonly", mode);
	for (int i = 0; i < NFRAMES; i++)
		stack_send(tag, i);
	got = release_marked(h, 4, 4, tag, true, seen);
	CHECK(got == NFRAMES, "%s: %d of %d datagrams in netmap:va^", mode, got, NFRAMES);
	collect(h, cap, tag, 300, count);
	check_none("NS_FORWARD on netmap:va^ alone", mode, count);
	nmport_close(h);

	char why[160];
	CHECK(t_nic_clean(1500, 0, why, sizeof(why)), "%s: after close: %s", mode, why);
	snprintf(tag, sizeof(tag), "%s:after", mode);
	inject(tag, 1);
	collect(NULL, us, tag, 1000, count);
	CHECK(count[1] == 1, "%s: the stack does not receive after close", mode);
	close(cap);
	close(us);
}

int main(void)
{
	t_nic_setup(120);
	REQUIRE(t_sh("ip neigh add 10.0.0.2 lladdr %02x:%02x:%02x:%02x:%02x:%02x dev va "
		     "nud permanent", t_vb_mac[0], t_vb_mac[1], t_vb_mac[2], t_vb_mac[3],
		     t_vb_mac[4], t_vb_mac[5]) == 0, "static neighbour 10.0.0.2");
	const char *modes[] = { "copy", "packet" };
	for (int m = 0; m < 2; m++) {
		setenv("UNETMAP_NIC_MODE", modes[m], 1);
		run(modes[m]);
	}
	unsetenv("UNETMAP_NIC_MODE");
	return t_nic_done();
}
