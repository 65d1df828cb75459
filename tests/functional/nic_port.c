/* Description: NIC ports netmap:IF through the netmap API (reference §4.1,
 * §4.2), on a 4-queue veth pair in a private network namespace, with the
 * AF_XDP backend (copy mode) and the TPACKET_V3 backend: frames of several
 * sizes injected on the peer arrive intact in the RX rings (ring->ts set)
 * and the host stack does not see them while the port is open, and does
 * again after close and after the holder is SIGKILLed (nothing left on the
 * interface); frames put on the TX ring arrive on the peer; ring selection
 * netmap:va-q binds queue q only and gets queue q's frames (q = 1..3);
 * frames of 1792..4014 bytes (MTU 4000) both ways as NS_MOREFRAG chains;
 * host rings
 * netmap:va^ receive what the stack transmits (ARP for an unknown
 * neighbour) and deliver a UDP datagram to a socket of the stack;
 * demanding zero copy on veth fails with a clear message; the port option
 * @xdp:mode=packet overrides UNETMAP_NIC_MODE, a bad mode is EINVAL and the
 * option on a pipe EOPNOTSUPP; unetmap_nic_info() reports the data path;
 * a veth peer with checksum offload on is reported with the fix; copy
 * and zero-copy monitors and pipes of the port work;
 * our pkt-gen drops every capability once its port is open;
 * a holder that drops every capability after the open still receives
 * and sends (the data path needs none). */
#include <signal.h>
#include <linux/ethtool.h>
#include <linux/sockios.h>
#include <sys/wait.h>
#include "kobjtest.h"
#include "nmtest.h"


/* frame `no` of len bytes from vb to va (t_frame: source 02::07) */
static void mkframe(uint8_t *f, unsigned len, uint32_t no)
{
	static const uint8_t src[6] = { 0x02, 0, 0, 0, 0, 0x07 };
	t_frame(f, len, t_va_mac, src, no);
}

static void inject(int s, const uint8_t *f, unsigned len)
{
	struct sockaddr_ll ll = { .sll_family = AF_PACKET, .sll_ifindex = t_vb, .sll_halen = 6 };
	memcpy(ll.sll_addr, t_va_mac, 6);
	CHECK(sendto(s, f, len, 0, (struct sockaddr *)&ll, sizeof(ll)) == (ssize_t)len,
	      "inject on vb: %s", strerror(errno));
}

static const unsigned lens[] = { 60, 64, 128, 511, 1000, 1514 };
#define NLENS (sizeof(lens) / sizeof(lens[0]))

/* receive on every RX ring of d until want frames (numbers first..) came
 * or 3 s passed; check each; how many */
static int rx_frames(struct nmport_d *d, uint32_t first, int want, bool *ts_ok)
{
	int got = 0, bad = 0;
	int64_t t0 = unm_test_now_ms();
	*ts_ok = true;
	while (got < want && unm_test_now_ms() - t0 < 3000) {
		struct pollfd p = { .fd = d->fd, .events = POLLIN };
		poll(&p, 1, 100);
		for (int ri = d->first_rx_ring; ri <= d->last_rx_ring; ri++) {
			struct netmap_ring *r = NETMAP_RXRING(d->nifp, ri);
			while (!nm_ring_empty(r)) {
				struct netmap_slot *s = &r->slot[r->head];
				long no = t_frame_number((uint8_t *)NETMAP_BUF(r, s->buf_idx), s->len);
				if (no >= first && no < first + want &&
				    s->len == lens[(no - first) % NLENS])
					got++;
				else if (no >= 0 || s->len == 0)
					bad++;
				if (r->ts.tv_sec == 0)
					*ts_ok = false;
				r->head = r->cur = nm_ring_next(r, r->head);
			}
		}
	}
	CHECK(bad == 0, "%d frames damaged or of the wrong length", bad);
	return got;
}

static void rx_tx(const char *mode)
{
	int ps = t_pkt_sock(t_vb);
	int us = t_udp_sock(T_UDP_PORT);
	struct nmport_d *d = t_open("netmap:va");
	CHECK(d->reg.nr_rx_rings == 4 && d->reg.nr_tx_rings == 4,
	      "%s: %u/%u TX/RX rings, want 4/4 (the veth's queues)", mode, d->reg.nr_tx_rings,
	      d->reg.nr_rx_rings);
	CHECK(d->reg.nr_host_tx_rings == 1 && d->reg.nr_host_rx_rings == 1,
	      "%s: %u/%u host rings, want 1/1", mode, d->reg.nr_host_tx_rings,
	      d->reg.nr_host_rx_rings);
	uint8_t f[2048];
	const int N = 60;
	for (int i = 0; i < N; i++) {
		mkframe(f, lens[i % NLENS], 1000 + (uint32_t)i);
		inject(ps, f, lens[i % NLENS]);
	}
	bool ts_ok;
	int got = rx_frames(d, 1000, N, &ts_ok);
	CHECK(got == N, "%s: RX got %d of %d frames", mode, got, N);
	CHECK(ts_ok, "%s: ring->ts not set on RX", mode);
	/* the data path is reported */
	struct unetmap_nic_info ni;
	CHECK(unetmap_nic_info("va", &ni) == 0 && strcmp(ni.mode, mode) == 0 &&
	      strcmp(ni.backend, strcmp(mode, "packet") == 0 ? "packet" : "xdp") == 0 &&
	      ni.nrxq == 4 && ni.users >= 1,
	      "%s: unetmap_nic_info: backend %s mode %s, %u queues, %u users", mode, ni.backend,
	      ni.mode, ni.nrxq, ni.users);
	/* the stack is silent while the port is held */
	t_inject_to_va("while-held");
	CHECK(!t_wait_payload(us, "while-held", 300), "%s: the stack got a frame while netmap"
	      " holds va", mode);

	/* TX: frames on TX ring 0 arrive on vb */
	struct netmap_ring *tx = NETMAP_TXRING(d->nifp, 0);
	for (int i = 0; i < N; i++) {
		struct netmap_slot *s = &tx->slot[tx->head];
		mkframe((uint8_t *)NETMAP_BUF(tx, s->buf_idx), lens[i % NLENS], 2000 + (uint32_t)i);
		s->len = (uint16_t)lens[i % NLENS];
		tx->head = tx->cur = nm_ring_next(tx, tx->head);
		if (i % 16 == 15)
			ioctl(d->fd, NIOCTXSYNC, NULL);
	}
	ioctl(d->fd, NIOCTXSYNC, NULL);
	int seen = 0, bad = 0;
	int64_t t0 = unm_test_now_ms();
	while (seen < N && unm_test_now_ms() - t0 < 3000) {
		struct pollfd p = { .fd = ps, .events = POLLIN };
		if (poll(&p, 1, 100) <= 0)
			continue;
		uint8_t b[2048];
		ssize_t n;
		while ((n = recv(ps, b, sizeof(b), MSG_DONTWAIT)) > 0) {
			long no = t_frame_number(b, (unsigned)n);
			if (no >= 2000 && no < 2000 + N && (unsigned)n == lens[(no - 2000) % NLENS])
				seen++;
			else if (no >= 0)
				bad++;
		}
	}
	CHECK(seen == N && bad == 0, "%s: vb saw %d of %d TX frames (%d damaged)", mode, seen, N,
	      bad);
	/* TX slots come back */
	t0 = unm_test_now_ms();
	while (nm_tx_pending(tx) && unm_test_now_ms() - t0 < 2000) {
		ioctl(d->fd, NIOCTXSYNC, NULL);
		usleep(1000);
	}
	CHECK(!nm_tx_pending(tx), "%s: TX slots never came back", mode);
	nmport_close(d);
	char why[160];
	CHECK(t_nic_clean(1000, 0, why, sizeof(why)), "%s: after close: %s", mode, why);
	t_inject_to_va("after-close");
	CHECK(t_wait_payload(us, "after-close", 1000), "%s: the stack does not get frames after"
	      " close", mode);
	close(us);
	close(ps);
}

/* queue q of vb's TX lands in va's RX queue q, for q = 1..3: netmap:va-q
 * binds ring q only and gets those frames, another queue's port none */
static void ring_selection(const char *mode)
{
	for (unsigned q = 1; q <= 3; q++) {
		char sq[32], so[32], sb[32];
		unsigned other = q % 3 + 1;
		snprintf(sq, sizeof(sq), "netmap:va-%u", q);
		snprintf(so, sizeof(so), "netmap:va-%u", other);
		snprintf(sb, sizeof(sb), "netmap:vb-%u", q);
		struct nmport_d *dq = t_open(sq), *dother = t_open(so);
		CHECK(dq->first_rx_ring == (int)q && dq->last_rx_ring == (int)q &&
		      dq->first_tx_ring == (int)q && dq->last_tx_ring == (int)q,
		      "%s: %s binds RX %d..%d TX %d..%d", mode, sq, dq->first_rx_ring,
		      dq->last_rx_ring, dq->first_tx_ring, dq->last_tx_ring);
		struct nmport_d *s = t_open(sb);
		struct netmap_ring *tx = NETMAP_TXRING(s->nifp, q);
		const int N = 24;
		uint32_t base = 3000 + 100 * q;
		for (int i = 0; i < N; i++) {
			struct netmap_slot *sl = &tx->slot[tx->head];
			mkframe((uint8_t *)NETMAP_BUF(tx, sl->buf_idx), lens[i % NLENS],
				base + (uint32_t)i);
			sl->len = (uint16_t)lens[i % NLENS];
			tx->head = tx->cur = nm_ring_next(tx, tx->head);
		}
		ioctl(s->fd, NIOCTXSYNC, NULL);
		bool ts_ok;
		int got = rx_frames(dq, base, N, &ts_ok);
		if (strcmp(mode, "packet") == 0 && got == 0) {
			/* AF_PACKET cannot name a TX queue: the kernel picked one */
			fprintf(stderr, "note: %s: frames from %s went to another queue\n", mode, sb);
		} else {
			CHECK(got == N, "%s: %s got %d of %d frames sent on vb's queue %u", mode, sq,
			      got, N, q);
			int o = rx_frames(dother, base, N, &ts_ok);
			CHECK(o == 0, "%s: %s got %d frames of queue %u", mode, so, o, q);
		}
		nmport_close(s);
		nmport_close(dother);
		nmport_close(dq);
	}
}

/* a holder killed with SIGKILL leaves va as it was */
static void killed(const char *mode)
{
	int us = t_udp_sock(T_UDP_PORT);
	int sync[2];
	REQUIRE(pipe(sync) == 0, "pipe");
	pid_t pid = fork();
	REQUIRE(pid >= 0, "fork");
	if (pid == 0) {
		struct nmport_d *d = nmport_open("netmap:va");
		char c = d ? 'r' : 'e';
		if (write(sync[1], &c, 1) != 1)
			_exit(2);
		pause();
		_exit(0);
	}
	char c = 0;
	CHECK(read(sync[0], &c, 1) == 1 && c == 'r', "%s: child could not open netmap:va", mode);
	t_inject_to_va("held-by-child");
	CHECK(!t_wait_payload(us, "held-by-child", 300), "%s: stack got a frame while held", mode);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	char why[160];
	CHECK(t_nic_clean(1500, 0, why, sizeof(why)), "%s: after SIGKILL: %s", mode, why);
	t_inject_to_va("after-kill");
	CHECK(t_wait_payload(us, "after-kill", 1000), "%s: stack deaf after the holder's SIGKILL",
	      mode);
	close(sync[0]);
	close(sync[1]);
	close(us);
}

/* host rings: the stack's ARP request in host RX; a UDP frame on host TX
 * reaches a socket of the stack */
static void host_rings(const char *mode)
{
	struct nmport_d *h = t_open("netmap:va^");
	CHECK(h->first_rx_ring == 4 && h->last_rx_ring == 4, "%s: netmap:va^ binds RX %d..%d,"
	      " want the host ring 4", mode, h->first_rx_ring, h->last_rx_ring);
	int us = t_udp_sock(T_UDP_PORT);
	/* the stack transmits: an ARP request for an unknown neighbour */
	int cs = socket(AF_INET, SOCK_DGRAM, 0);
	struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons(7) };
	inet_pton(AF_INET, "10.0.0.77", &to.sin_addr);
	sendto(cs, "x", 1, 0, (struct sockaddr *)&to, sizeof(to));
	close(cs);
	struct netmap_ring *hr = NETMAP_RXRING(h->nifp, 4);
	bool arp = false;
	int64_t t0 = unm_test_now_ms();
	while (!arp && unm_test_now_ms() - t0 < 3000) {
		struct pollfd p = { .fd = h->fd, .events = POLLIN };
		poll(&p, 1, 100);
		while (!nm_ring_empty(hr)) {
			struct netmap_slot *s = &hr->slot[hr->head];
			const uint8_t *b = (uint8_t *)NETMAP_BUF(hr, s->buf_idx);
			arp |= s->len >= 42 && b[12] == 0x08 && b[13] == 0x06;
			hr->head = hr->cur = nm_ring_next(hr, hr->head);
		}
	}
	CHECK(arp, "%s: no ARP request from the stack in the host RX ring", mode);
	/* host TX: a datagram for 10.0.0.1 as if it came in on va */
	struct netmap_ring *ht = NETMAP_TXRING(h->nifp, 4);
	struct netmap_slot *s = &ht->slot[ht->head];
	const uint8_t src[6] = { 0x02, 0, 0, 0, 0, 0x09 };
	s->len = (uint16_t)t_udp_frame((uint8_t *)NETMAP_BUF(ht, s->buf_idx), t_va_mac, src,
				       "10.0.0.9", "10.0.0.1", T_UDP_PORT, "via-host-tx");
	ht->head = ht->cur = nm_ring_next(ht, ht->head);
	ioctl(h->fd, NIOCTXSYNC, NULL);
	CHECK(t_wait_payload(us, "via-host-tx", 1000), "%s: host TX frame did not reach the"
	      " stack's socket", mode);
	close(us);
	nmport_close(h);
	char why[160];
	CHECK(t_nic_clean(1000, 0, why, sizeof(why)), "%s: after the host rings: %s", mode, why);
}

/* Frames longer than a buffer, with a 4000-byte MTU: RX as NS_MOREFRAG
 * chains (AF_XDP multi-buffer, or split by the TPACKET copy), TX of chains */
static void multislot(const char *mode)
{
	REQUIRE(t_sh("ip link set va mtu 4000 && ip link set vb mtu 4000") == 0, "mtu 4000");
	int ps = t_pkt_sock(t_vb);
	struct nmport_d *d = t_open("netmap:va");
	static const unsigned big[] = { 1792, 1793, 2048, 2049, 3000, 3514, 4014 };
	const int NB = (int)(sizeof(big) / sizeof(big[0]));
	static uint8_t f[5000], acc[5000];
	for (int i = 0; i < NB; i++) {
		mkframe(f, big[i], 7000 + (uint32_t)i);
		inject(ps, f, big[i]);
	}
	int whole = 0, chains = 0;
	unsigned alen = 0;
	int64_t t0 = unm_test_now_ms();
	while (whole < NB && unm_test_now_ms() - t0 < 3000) {
		struct pollfd p = { .fd = d->fd, .events = POLLIN };
		poll(&p, 1, 100);
		for (int ri = d->first_rx_ring; ri <= d->last_rx_ring; ri++) {
			struct netmap_ring *r = NETMAP_RXRING(d->nifp, ri);
			while (!nm_ring_empty(r)) {
				struct netmap_slot *s = &r->slot[r->head];
				if (alen + s->len <= sizeof(acc))
					memcpy(acc + alen, NETMAP_BUF(r, s->buf_idx), s->len);
				alen += s->len;
				if (s->flags & NS_MOREFRAG) {
					chains++;
				} else {
					long no = t_frame_number(acc, alen);
					whole += no >= 7000 && no < 7000 + NB && alen == big[no - 7000];
					alen = 0;
				}
				r->head = r->cur = nm_ring_next(r, r->head);
			}
		}
	}
	CHECK(whole == NB && chains > 0, "%s: %d of %d frames of 1792..4014 bytes arrived whole"
	      " (%d continued slots)", mode, whole, NB, chains);
	/* TX: chains of 2048-byte slots */
	struct netmap_ring *tx = NETMAP_TXRING(d->nifp, 0);
	for (int i = 0; i < NB; i++) {
		mkframe(f, big[i], 8000 + (uint32_t)i);
		for (unsigned off = 0; off < big[i]; off += 2048) {
			struct netmap_slot *s = &tx->slot[tx->head];
			unsigned l = big[i] - off < 2048 ? big[i] - off : 2048;
			memcpy(NETMAP_BUF(tx, s->buf_idx), f + off, l);
			s->len = (uint16_t)l;
			s->flags = off + l < big[i] ? NS_MOREFRAG : 0;
			tx->head = tx->cur = nm_ring_next(tx, tx->head);
		}
	}
	ioctl(d->fd, NIOCTXSYNC, NULL);
	int seen = 0;
	t0 = unm_test_now_ms();
	while (seen < NB && unm_test_now_ms() - t0 < 3000) {
		struct pollfd p = { .fd = ps, .events = POLLIN };
		if (poll(&p, 1, 100) <= 0)
			continue;
		ssize_t n;
		while ((n = recv(ps, acc, sizeof(acc), MSG_DONTWAIT)) > 0) {
			long no = t_frame_number(acc, (unsigned)n);
			seen += no >= 8000 && no < 8000 + NB && (unsigned)n == big[no - 8000];
		}
	}
	CHECK(seen == NB, "%s: vb saw %d of %d multi-slot TX frames", mode, seen, NB);
	nmport_close(d);
	close(ps);
	char why[160];
	CHECK(t_nic_clean(1500, 0, why, sizeof(why)), "%s: after multislot: %s", mode, why);
	REQUIRE(t_sh("ip link set va mtu 1500 && ip link set vb mtu 1500") == 0, "mtu 1500");
}

static int txcsum(const char *ifname, int set)
{
	struct ethtool_value v = { .cmd = set < 0 ? ETHTOOL_GTXCSUM : ETHTOOL_STXCSUM,
				   .data = set > 0 };
	struct ifreq ifr;
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	ifr.ifr_data = (void *)&v;
	int s = socket(AF_INET, SOCK_DGRAM, 0);
	int r = s >= 0 ? ioctl(s, SIOCETHTOOL, &ifr) : -1;
	if (s >= 0)
		close(s);
	return r < 0 ? -1 : (int)v.data;
}

/* offload hygiene: a veth peer with checksum offload on is reported (its
 * TCP/UDP frames carry incomplete checksums), and not once it is off */
static void offload_report(void)
{
	REQUIRE(txcsum("vb", 1) >= 0 && txcsum("vb", -1) == 1, "ethtool: vb tx on");
	struct nmport_d *d = t_open("netmap:va");
	struct unetmap_nic_info ni;
	CHECK(unetmap_nic_info("va", &ni) == 0 && strstr(ni.note, "ethtool -K vb tx off") != NULL,
	      "peer vb with tx checksum offload: note \"%s\", want the fix named", ni.note);
	nmport_close(d);
	REQUIRE(txcsum("vb", 0) >= 0 && txcsum("vb", -1) == 0, "ethtool: vb tx off");
	d = t_open("netmap:va");
	CHECK(unetmap_nic_info("va", &ni) == 0 && ni.note[0] == '\0',
	      "peer vb without checksum offload: note \"%s\", want none", ni.note);
	nmport_close(d);
	txcsum("vb", 1);
}

/* Monitors and pipes of a NIC port work as on other ports: a copy monitor
 * va/rt sees RX frames at arrival and TX frames at the txsync, a zero-copy
 * monitor va/z sees RX frames once released; pipes va{1 / va}1 live in
 * the port's region and carry frames. */
static void monitors_pipes(const char *mode)
{
	int ps = t_pkt_sock(t_vb);
	struct nmport_d *d = t_open("netmap:va-0"), *mc = t_open("netmap:va-0/rt"),
			*mz = t_open("netmap:va-0/z");
	CHECK(mz->reg.nr_mem_id == d->reg.nr_mem_id, "%s: va/z in region %u, va in %u", mode,
	      mz->reg.nr_mem_id, d->reg.nr_mem_id);
	/* RX on queue 0: frames sent from vb's queue 0 through netmap:vb-0 */
	struct nmport_d *s = t_open("netmap:vb-0");
	struct netmap_ring *stx = NETMAP_TXRING(s->nifp, 0);
	const int N = 8;
	for (int i = 0; i < N; i++) {
		struct netmap_slot *sl = &stx->slot[stx->head];
		mkframe((uint8_t *)NETMAP_BUF(stx, sl->buf_idx), lens[i % NLENS], 9000 + (uint32_t)i);
		sl->len = (uint16_t)lens[i % NLENS];
		stx->head = stx->cur = nm_ring_next(stx, stx->head);
	}
	ioctl(s->fd, NIOCTXSYNC, NULL);
	bool ts_ok;
	/* the parent reads without releasing: copy monitor has them, /z not */
	int got = 0;
	struct netmap_ring *rx = NETMAP_RXRING(d->nifp, 0);
	int64_t t0 = unm_test_now_ms();
	while (got < N && unm_test_now_ms() - t0 < 3000) {
		ioctl(d->fd, NIOCRXSYNC, NULL);
		got = (int)nm_ring_space(rx);
		if (got < N)
			usleep(2000);
	}
	if (strcmp(mode, "packet") == 0 && got == 0) {
		fprintf(stderr, "note: %s: frames from vb went to another queue\n", mode);
	} else {
		CHECK(got == N, "%s: va-0 got %d of %d frames", mode, got, N);
		int c = rx_frames(mc, 9000, N, &ts_ok);
		CHECK(c == N, "%s: va-0/rt saw %d of %d frames at arrival", mode, c, N);
		CHECK(rx_frames(mz, 9000, N, &ts_ok) == 0, "%s: va-0/z saw frames before release",
		      mode);
		rx->head = rx->cur = rx->tail;
		ioctl(d->fd, NIOCRXSYNC, NULL);
		int z = rx_frames(mz, 9000, N, &ts_ok);
		CHECK(z == N, "%s: va-0/z saw %d of %d frames after the release", mode, z, N);
	}
	/* TX: the copy monitor sees them at the txsync */
	struct netmap_ring *tx = NETMAP_TXRING(d->nifp, 0);
	for (int i = 0; i < N; i++) {
		struct netmap_slot *sl = &tx->slot[tx->head];
		mkframe((uint8_t *)NETMAP_BUF(tx, sl->buf_idx), 100, 9100 + (uint32_t)i);
		sl->len = 100;
		tx->head = tx->cur = nm_ring_next(tx, tx->head);
	}
	ioctl(d->fd, NIOCTXSYNC, NULL);
	int c = 0;
	struct netmap_ring *mr = NETMAP_RXRING(mc->nifp, 0);
	ioctl(mc->fd, NIOCRXSYNC, NULL);
	for (uint32_t i = mr->head; i != mr->tail; i = nm_ring_next(mr, i)) {
		struct netmap_slot *sl = &mr->slot[i];
		long no = t_frame_number((uint8_t *)NETMAP_BUF(mr, sl->buf_idx), sl->len);
		c += no >= 9100 && no < 9100 + N && (sl->flags & NS_TXMON);
	}
	CHECK(c == N, "%s: va-0/rt saw %d of %d TX frames with NS_TXMON", mode, c, N);
	nmport_close(s);
	nmport_close(mz);
	nmport_close(mc);
	/* pipes of the NIC port, in its region */
	struct nmport_d *p1 = t_open("netmap:va{1"), *p2 = t_open("netmap:va}1");
	CHECK(p1->reg.nr_mem_id == d->reg.nr_mem_id, "%s: pipe va{1 in region %u, va in %u",
	      mode, p1->reg.nr_mem_id, d->reg.nr_mem_id);
	struct netmap_ring *ptx = NETMAP_TXRING(p1->nifp, 0);
	struct netmap_slot *sl = &ptx->slot[ptx->head];
	mkframe((uint8_t *)NETMAP_BUF(ptx, sl->buf_idx), lens[0], 9200);
	sl->len = (uint16_t)lens[0];
	ptx->head = ptx->cur = nm_ring_next(ptx, ptx->head);
	ioctl(p1->fd, NIOCTXSYNC, NULL);
	CHECK(rx_frames(p2, 9200, 1, &ts_ok) == 1, "%s: pipe va{1 -> va}1", mode);
	nmport_close(p1);
	nmport_close(p2);
	nmport_close(d);
	close(ps);
	char why[160];
	CHECK(t_nic_clean(1500, 0, why, sizeof(why)), "%s: after monitors and pipes: %s", mode,
	      why);
}

/* after set-up the data path needs no capability: a child opens
 * netmap:va as root, drops every capability, then receives and sends */
static void no_caps(const char *mode)
{
	int ps = t_pkt_sock(t_vb);
	int ready[2];
	REQUIRE(pipe(ready) == 0, "pipe");
	pid_t pid = fork();
	REQUIRE(pid >= 0, "fork");
	if (pid == 0) {
		struct nmport_d *d = nmport_open("netmap:va");
		char c = d != NULL && t_drop_caps(~0ULL) == 0 ? 'r' : 'e';
		if (write(ready[1], &c, 1) != 1 || c != 'r')
			_exit(2);
		bool ts_ok;
		int got = rx_frames(d, 5000, 12, &ts_ok);
		struct netmap_ring *tx = NETMAP_TXRING(d->nifp, 0);
		for (int i = 0; i < 12; i++) {
			struct netmap_slot *s = &tx->slot[tx->head];
			mkframe((uint8_t *)NETMAP_BUF(tx, s->buf_idx), 100, 6000 + (uint32_t)i);
			s->len = 100;
			tx->head = tx->cur = nm_ring_next(tx, tx->head);
		}
		int r = ioctl(d->fd, NIOCTXSYNC, NULL);
		usleep(300 * 1000);
		_exit(got == 12 && r == 0 ? 0 : 1);
	}
	char c = 0;
	CHECK(read(ready[0], &c, 1) == 1 && c == 'r', "%s: child could not open and drop caps",
	      mode);
	uint8_t f[2048];
	for (int i = 0; i < 12; i++) {
		mkframe(f, lens[i % NLENS], 5000 + (uint32_t)i);
		inject(ps, f, lens[i % NLENS]);
	}
	int seen = 0;
	int64_t t0 = unm_test_now_ms();
	while (seen < 12 && unm_test_now_ms() - t0 < 3000) {
		struct pollfd p = { .fd = ps, .events = POLLIN };
		if (poll(&p, 1, 100) <= 0)
			continue;
		uint8_t b[2048];
		ssize_t n;
		while ((n = recv(ps, b, sizeof(b), MSG_DONTWAIT)) > 0) {
			long no = t_frame_number(b, (unsigned)n);
			seen += no >= 6000 && no < 6012;
		}
	}
	int st = 0;
	waitpid(pid, &st, 0);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "%s: without capabilities the child did not"
	      " receive its 12 frames (status %#x)", mode, st);
	CHECK(seen == 12, "%s: vb saw %d of 12 frames sent without capabilities", mode, seen);
	close(ready[0]);
	close(ready[1]);
	close(ps);
	char why[160];
	CHECK(t_nic_clean(1500, 0, why, sizeof(why)), "%s: after the capability-less child: %s",
	      mode, why);
}

/* our pkt-gen gives up every capability once its ports are open, and
 * still receives */
static void pktgen_nocaps(void)
{
	char exe[512], pg[600];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	REQUIRE(n > 0, "readlink /proc/self/exe");
	exe[n] = '\0';
	for (int up = 0; up < 2; up++)
		*strrchr(exe, '/') = '\0';	/* BUILD/tests/functional/x -> BUILD/tests */
	*strrchr(exe, '/') = '\0';		/* -> BUILD */
	snprintf(pg, sizeof(pg), "%s/bin/pkt-gen", exe);
	if (access(pg, X_OK) != 0) {
		fprintf(stderr, "note: %s not built: pkt-gen capability check skipped\n", pg);
		return;
	}
	pid_t pid = fork();
	REQUIRE(pid >= 0, "fork");
	if (pid == 0) {
		int nul = open("/dev/null", O_WRONLY);
		dup2(nul, 1);
		dup2(nul, 2);
		execl(pg, "pkt-gen", "-i", "netmap:va", "-f", "rx", "-w", "0", (char *)NULL);
		_exit(127);
	}
	/* wait until it holds the interface, then read its capabilities */
	struct unetmap_nic_info ni;
	for (int k = 0; k < 100 && unetmap_nic_info("va", &ni) != 0; k++)
		usleep(30 * 1000);
	bool dropped = t_caps_gone(pid, 3000);
	CHECK(dropped, "pkt-gen on netmap:va kept capabilities after opening its port");
	kill(pid, SIGINT);
	waitpid(pid, NULL, 0);
	char why[160];
	CHECK(t_nic_clean(1500, 0, why, sizeof(why)), "after pkt-gen: %s", why);
}

int main(void)
{
	t_nic_setup(90);
	const char *modes[] = { "copy", "packet" };
	for (int m = 0; m < 2; m++) {
		setenv("UNETMAP_NIC_MODE", modes[m], 1);
		rx_tx(modes[m]);
		ring_selection(modes[m]);
		killed(modes[m]);
		no_caps(modes[m]);
		multislot(modes[m]);
		monitors_pipes(modes[m]);
		host_rings(modes[m]);
	}
	offload_report();
	pktgen_nocaps();
	/* the port option overrides the environment */
	setenv("UNETMAP_NIC_MODE", "copy", 1);
	struct nmport_d *po = t_open("netmap:va@xdp:mode=packet");
	struct unetmap_nic_info ni;
	CHECK(unetmap_nic_info("va", &ni) == 0 && strcmp(ni.backend, "packet") == 0 &&
	      strcmp(ni.mode, "packet") == 0, "netmap:va@xdp:mode=packet: backend %s mode %s",
	      ni.backend, ni.mode);
	nmport_close(po);
	char why[160];
	CHECK(t_nic_clean(1000, 0, why, sizeof(why)), "after @xdp:mode=packet: %s", why);
	t_open_fails("netmap:va@xdp:mode=fast", EINVAL);
	t_open_fails("netmap:xo{1@xdp:mode=copy", EOPNOTSUPP);
	unsetenv("UNETMAP_NIC_MODE");
	/* zero copy cannot be had on veth */
	setenv("UNETMAP_NIC_MODE", "zc", 1);
	errno = 0;
	struct nmport_d *d = nmport_open("netmap:va");
	int e = errno;
	CHECK(d == NULL && strstr(unetmap_last_error(), "zero") != NULL,
	      "UNETMAP_NIC_MODE=zc on veth: %s (errno %s, \"%s\")", d ? "opened" : "failed",
	      strerror(e), unetmap_last_error());
	if (d)
		nmport_close(d);
	unsetenv("UNETMAP_NIC_MODE");
	return t_done();
}
