/*
 * legacy_vale - a sender and a receiver for VALE ports, written as for
 * kernel netmap: <net/netmap_user.h> with NETMAP_WITH_LIBS, libc only. It is
 * NOT linked with libunetmap: run it under unetmap-run.
 *
 * A VALE switch never holds a sender back (a full destination ring drops
 * the excess), so the pair acknowledges: the receiver answers every batch
 * it reads with the number of frames it has from that sender, and the
 * sender keeps at most WIN frames unacknowledged. With WIN (summed over the
 * senders of one receiver) below the receiver's free slots nothing may be
 * dropped, and every count below is exact.
 *
 *   legacy_vale rx PORT N ME
 *       announce MAC 02:00:00:00:00:ME with one broadcast (the switch learns
 *       it), then receive N frames in total addressed to that MAC, from any
 *       number of senders, each sender's in order and intact
 *   legacy_vale tx PORT N ME PEER WIN
 *       send N numbered frames of varying length from 02:..:ME to 02:..:PEER
 *
 * ME and PEER are 1..254. Both print "ROLE N frames, E errors, F foreign"
 * and exit 0 only for N frames and no error. "foreign" counts unicast frames
 * addressed to another MAC: on a switch that has learned every MAC there
 * are none, and the caller may insist on 0.
 */
#define NETMAP_WITH_LIBS
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <net/netmap_user.h>

enum { KIND_DATA = 'D', KIND_ACK = 'A', KIND_HELLO = 'H' };

static uint8_t me[6] = { 0x02, 0, 0, 0, 0, 0 };
static unsigned errors, foreign;

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static unsigned frame_len(uint32_t seq)
{
	return 60 + (seq % 11) * 130;	/* 60 .. 1360 bytes */
}

/* dst, src, ethertype 0x88b5, kind at 14, number at 16, pattern after */
static unsigned build(uint8_t *f, const uint8_t *dst, uint8_t kind, uint32_t seq)
{
	unsigned len = kind == KIND_DATA ? frame_len(seq) : 60;
	memcpy(f, dst, 6);
	memcpy(f + 6, me, 6);
	f[12] = 0x88;
	f[13] = 0xb5;
	f[14] = kind;
	f[15] = 0;
	memcpy(f + 16, &seq, 4);
	for (unsigned i = 20; i < len; i++)
		f[i] = (uint8_t)(seq + i * 5 + me[5]);
	return len;
}

static int send_one(struct nm_desc *d, const uint8_t *dst, uint8_t kind, uint32_t seq)
{
	uint8_t f[2048];
	unsigned len = build(f, dst, kind, seq);
	return nm_inject(d, f, len) == (int)len ? 0 : -1;
}

/* a frame for this port (unicast to me, or broadcast); counts foreign ones */
static int for_me(const u_char *buf, unsigned len)
{
	if (len < 20) {
		errors++;
		return 0;
	}
	if (memcmp(buf, me, 6) == 0)
		return 1;
	if (buf[0] & 1)		/* broadcast/multicast: a hello */
		return 0;
	foreign++;
	return 0;
}

/* ---- receiver ------------------------------------------------------------ */

static struct {
	uint32_t next[256];	/* next number expected from sender 02:..:i */
	uint8_t dirty[256];	/* acknowledge after this batch */
	unsigned total;
} rx;

static void on_data(u_char *arg, const struct nm_pkthdr *h, const u_char *buf)
{
	(void)arg;
	if (!for_me(buf, h->len))
		return;
	uint32_t seq;
	memcpy(&seq, buf + 16, 4);
	uint8_t s = buf[11];
	if (buf[14] != KIND_DATA || buf[6] != 0x02 || seq != rx.next[s] ||
	    h->len != frame_len(seq) || h->caplen != h->len) {
		if (errors++ < 5)
			fprintf(stderr, "rx: from %u kind %c seq %u (want %u) len %u\n", s, buf[14],
				seq, rx.next[s], h->len);
		rx.next[s] = seq + 1;
		rx.total++;
		rx.dirty[s] = 1;
		return;
	}
	for (unsigned i = 20; i < h->len; i++)
		if (buf[i] != (uint8_t)(seq + i * 5 + s)) {
			if (errors++ < 5)
				fprintf(stderr, "rx: from %u seq %u: byte %u differs\n", s, seq, i);
			break;
		}
	rx.next[s] = seq + 1;
	rx.total++;
	rx.dirty[s] = 1;
}

static int receiver(struct nm_desc *d, unsigned n)
{
	static const uint8_t bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
	struct pollfd p = { .fd = NETMAP_FD(d), .events = POLLIN };
	if (send_one(d, bcast, KIND_HELLO, 0) < 0)
		return -1;
	ioctl(NETMAP_FD(d), NIOCTXSYNC, NULL);
	double end = now() + 60;
	while (rx.total < n && now() < end) {
		if (poll(&p, 1, 200) <= 0)
			continue;
		nm_dispatch(d, -1, on_data, NULL);
		/* hand the slots back before acknowledging: until an rxsync the
		 * switch still counts them as taken */
		ioctl(NETMAP_FD(d), NIOCRXSYNC, NULL);
		/* acknowledge every sender seen in this batch */
		for (unsigned s = 1; s < 255; s++) {
			if (!rx.dirty[s])
				continue;
			uint8_t to[6] = { 0x02, 0, 0, 0, 0, (uint8_t)s };
			if (send_one(d, to, KIND_ACK, rx.next[s]) < 0)
				errors++;
			rx.dirty[s] = 0;
		}
		ioctl(NETMAP_FD(d), NIOCTXSYNC, NULL);
	}
	return (int)rx.total;
}

/* ---- sender ---------------------------------------------------------------- */

static uint32_t acked;
static uint8_t peer5;

static void on_ack(u_char *arg, const struct nm_pkthdr *h, const u_char *buf)
{
	uint32_t sent = *(uint32_t *)arg, v;
	if (!for_me(buf, h->len))
		return;
	memcpy(&v, buf + 16, 4);
	if (buf[14] != KIND_ACK || buf[11] != peer5 || v > sent || v < acked) {
		if (errors++ < 5)
			fprintf(stderr, "tx: kind %c from %u ack %u (sent %u, acked %u)\n", buf[14],
				buf[11], v, sent, acked);
		return;
	}
	acked = v;
}

static int sender(struct nm_desc *d, unsigned n, uint8_t peer, unsigned win)
{
	uint8_t to[6] = { 0x02, 0, 0, 0, 0, peer };
	struct pollfd p = { .fd = NETMAP_FD(d), .events = POLLIN };
	uint32_t sent = 0, last = 0;
	double stall = now() + 5;
	peer5 = peer;
	while (acked < n) {
		while (sent < n && sent - acked < win && send_one(d, to, KIND_DATA, sent) == 0)
			sent++;
		ioctl(NETMAP_FD(d), NIOCTXSYNC, NULL);
		if (poll(&p, 1, 100) > 0)
			nm_dispatch(d, -1, on_ack, (u_char *)&sent);
		if (acked != last) {
			last = acked;
			stall = now() + 5;
		} else if (now() > stall) {
			fprintf(stderr, "tx: stalled: %u sent, %u acknowledged\n", sent, acked);
			break;
		}
	}
	return (int)acked;
}

int main(int argc, char **argv)
{
	int is_tx = argc == 7 && strcmp(argv[1], "tx") == 0;
	if (!is_tx && !(argc == 5 && strcmp(argv[1], "rx") == 0)) {
		fprintf(stderr, "usage: legacy_vale rx PORT N ME | tx PORT N ME PEER WIN\n");
		return 2;
	}
	unsigned n = (unsigned)strtoul(argv[3], NULL, 10);
	unsigned id = (unsigned)strtoul(argv[4], NULL, 10);
	unsigned peer = is_tx ? (unsigned)strtoul(argv[5], NULL, 10) : 0;
	unsigned win = is_tx ? (unsigned)strtoul(argv[6], NULL, 10) : 0;
	if (id < 1 || id > 254 || (is_tx && (peer < 1 || peer > 254 || win < 1))) {
		fprintf(stderr, "legacy_vale: bad ME, PEER or WIN\n");
		return 2;
	}
	me[5] = (uint8_t)id;
	struct nm_desc *d = nm_open(argv[2], NULL, 0, NULL);
	if (d == NULL) {
		perror("nm_open");
		return 1;
	}
	int done = is_tx ? sender(d, n, (uint8_t)peer, win) : receiver(d, n);
	nm_close(d);
	printf("%s %d frames, %u errors, %u foreign\n", argv[1], done, errors, foreign);
	return done == (int)n && errors == 0 ? 0 : 1;
}
