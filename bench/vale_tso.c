/*
 * vale_tso - the "tso" row of `make bench`: software segmentation in the
 * VALE switch (virtio-net header mismatch path, reference §4.7).
 *
 *   vale_tso [-t SECS] [-p TXCPU] [-c RXCPU] [-b FRAMES] [-s SWITCH]
 *
 * One process, two threads.  The sender owns SWITCH:a (default vale0),
 * a port with a 10-byte virtio-net header (PORT_HDR_SET, registered with
 * NR_ACCEPT_VNET_HDR), and sends 64 KB TCPv4 GSO frames (65495 bytes of
 * TCP payload, 33 slots of 2048 bytes each; FRAMES of them per txsync,
 * default 4).  The frames are written once: its TX ring has 1023 = 31 x 33
 * slots, so every frame always occupies the same slots and a send only
 * moves head.  The receiver owns SWITCH:b, a port without a header, so
 * every frame is cut into 45 segments of at most 1514 bytes with their
 * checksums computed, in the sender's txsync; it releases them as they
 * come, reading only the slot lengths.  The sender is paced (like TCP by
 * its window): it sends a batch only when the receiver has returned enough
 * slots to the switch for all its segments, so it measures segmentation,
 * not drops (drop_full should stay 0).
 *
 * After 0.5 s of warm-up, SECS seconds (default 3) are measured; prints
 *   Gbps G        TCP payload delivered to the receiver, Gbit/s
 *   Mpps M        segments delivered, millions per second
 *   drop_full P   share of the frames sent that found the receiver's ring full, %
 * Linked with -lunetmap; the runtime directory is the library's.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include <libnetmap.h>
#include <unetmap.h>
#include "bench.h"

#define HDR	10		/* virtio-net header */
#define L2L3L4	54		/* Ethernet + IPv4 + TCP */
#define PAY	(65535 - 40)	/* largest IPv4 TCP payload */
#define FLEN	(HDR + L2L3L4 + PAY)
#define TX_SLOTS 1023

static volatile int stop;
/* segments the receiver has handed back to the switch (an rxsync after
 * releasing them) */
static uint64_t consumed;
static int secs = 3, txcpu = 0, rxcpu = 1, batch = 4;
static char sw[32] = "vale0";

static void pin(int cpu)
{
	cpu_set_t s;
	if (cpu < 0)
		return;
	CPU_ZERO(&s);
	CPU_SET(cpu, &s);
	pthread_setaffinity_np(pthread_self(), sizeof(s), &s);
}

static void put16(uint8_t *p, unsigned v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static uint16_t csum16(const uint8_t *p, unsigned n)
{
	uint32_t s = 0;
	for (unsigned i = 0; i + 1 < n; i += 2)
		s += (uint32_t)p[i] << 8 | p[i + 1];
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)~s;
}

/* the GSO frame: virtio-net header, Ethernet, IPv4, TCP, payload */
static void build(uint8_t *f)
{
	memset(f, 0, HDR + L2L3L4);
	uint8_t *e = f + HDR, *ip = e + 14, *th = ip + 20;
	uint16_t vh[4] = { L2L3L4, 1448, 14 + 20, 16 };	/* hdr_len, gso_size, csum_* */
	f[0] = 1;		/* NEEDS_CSUM */
	f[1] = 1;		/* GSO TCPv4 */
	memcpy(f + 2, vh, 8);
	const uint8_t dmac[6] = { 2, 0, 0, 0, 0, 0x0b }, smac[6] = { 2, 0, 0, 0, 0, 0x0a };
	memcpy(e, dmac, 6);
	memcpy(e + 6, smac, 6);
	put16(e + 12, 0x0800);
	ip[0] = 0x45;
	put16(ip + 2, 20 + 20 + PAY);
	put16(ip + 6, 0x4000);
	ip[8] = 64;
	ip[9] = 6;
	ip[12] = 10, ip[15] = 1;
	ip[16] = 10, ip[19] = 2;
	put16(ip + 10, csum16(ip, 20));
	put16(th, 40000);
	put16(th + 2, 5201);
	th[12] = 5 << 4;
	th[13] = 0x18;		/* ACK PSH */
	put16(th + 14, 65000);
	for (unsigned k = 0; k < PAY; k++)
		th[20 + k] = (uint8_t)(k * 7);
}

struct rx_state {
	struct nmport_d *d;
	uint64_t bytes, segs;		/* in the measured window */
	double t0, t1;
};

static void *rx_main(void *arg)
{
	struct rx_state *x = arg;
	struct netmap_ring *r = NETMAP_RXRING(x->d->nifp, 0);
	double start = bench_now(), t0 = start + 0.5, t1 = t0 + secs;
	uint64_t bytes = 0, segs = 0, done = 0, released = 0;
	int measuring = 0;
	pin(rxcpu);
	for (;;) {
		ioctl(x->d->fd, NIOCRXSYNC, NULL);
		/* what was released before this sync is the switch's again */
		done += released;
		__atomic_store_n(&consumed, done, __ATOMIC_RELEASE);
		released = 0;
		uint32_t i = r->head;
		while (i != r->tail) {
			unsigned len = r->slot[i].len;
			bytes += len > L2L3L4 ? len - L2L3L4 : 0;
			segs++;
			released++;
			i = nm_ring_next(r, i);
		}
		r->head = r->cur = i;
		double t = bench_now();
		if (!measuring && t >= t0) {
			measuring = 1;
			x->t0 = t;
			bytes = segs = 0;
		} else if (measuring && t >= t1) {
			x->t1 = t;
			x->bytes = bytes;
			x->segs = segs;
			break;
		}
	}
	stop = 1;
	return NULL;
}

static struct nmport_d *open_hdr(const char *name)
{
	char spec[96];
	snprintf(spec, sizeof(spec), "%s@conf:tx_slots=%d", name, TX_SLOTS);
	struct nmport_d *keep = nmport_open(spec);
	if (keep == NULL) {
		fprintf(stderr, "vale_tso: nmport_open(%s): %s\n", spec, strerror(errno));
		return NULL;
	}
	struct nmreq_port_hdr ph;
	struct nmreq_header h;
	memset(&ph, 0, sizeof(ph));
	memset(&h, 0, sizeof(h));
	ph.nr_hdr_len = HDR;
	h.nr_version = NETMAP_API;
	h.nr_reqtype = NETMAP_REQ_PORT_HDR_SET;
	snprintf(h.nr_name, sizeof(h.nr_name), "%s", name);
	h.nr_body = (uintptr_t)&ph;
	int cfd = open("/dev/netmap", O_RDWR);
	if (cfd < 0 || ioctl(cfd, NIOCCTRL, &h) < 0) {
		fprintf(stderr, "vale_tso: PORT_HDR_SET %s: %s\n", name, strerror(errno));
		if (cfd >= 0)
			close(cfd);
		nmport_close(keep);
		return NULL;
	}
	close(cfd);
	struct nmport_d *d = nmport_prepare(name);
	if (d != NULL) {
		d->reg.nr_flags |= NR_ACCEPT_VNET_HDR;
		if (nmport_open_desc(d) < 0) {
			fprintf(stderr, "vale_tso: register %s: %s\n", name, strerror(errno));
			nmport_close(d);
			d = NULL;
		}
	}
	nmport_close(keep);
	return d;
}

static void usage(void)
{
	fprintf(stderr, "usage: vale_tso [-t SECS] [-p TXCPU] [-c RXCPU] [-b FRAMES] [-s SWITCH]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	int opt;
	while ((opt = getopt(argc, argv, "t:p:c:b:s:")) != -1) {
		switch (opt) {
		case 't': secs = atoi(optarg); break;
		case 'p': txcpu = atoi(optarg); break;
		case 'c': rxcpu = atoi(optarg); break;
		case 'b': batch = atoi(optarg); break;
		case 's': snprintf(sw, sizeof(sw), "%s", optarg); break;
		default: usage();
		}
	}
	if (secs < 1 || secs > 60 || batch < 1 || batch > 30)
		usage();
	alarm((unsigned)secs + 20);	/* bounded, whatever happens */
	char an[64], bn[64];
	snprintf(an, sizeof(an), "%s:a", sw);
	snprintf(bn, sizeof(bn), "%s:b", sw);
	struct nmport_d *a = open_hdr(an);
	struct nmport_d *b = nmport_open(bn);
	if (a == NULL || b == NULL) {
		fprintf(stderr, "vale_tso: cannot open the ports: %s\n", strerror(errno));
		return 1;
	}
	struct netmap_ring *t = NETMAP_TXRING(a->nifp, 0);
	unsigned bs = t->nr_buf_size, per = (FLEN + bs - 1) / bs;
	if (t->num_slots != TX_SLOTS || t->num_slots % per != 0) {
		fprintf(stderr, "vale_tso: TX ring of %u slots, %u-byte buffers: want %d slots "
			"in frames of %u\n", t->num_slots, bs, TX_SLOTS, per);
		return 1;
	}
	/* every frame position of the ring holds the frame, once for all */
	static uint8_t f[FLEN];
	build(f);
	for (uint32_t s0 = 0; s0 < t->num_slots; s0 += per)
		for (unsigned k = 0, off = 0; k < per; k++) {
			struct netmap_slot *s = &t->slot[s0 + k];
			unsigned l = FLEN - off < bs ? FLEN - off : bs;
			memcpy(NETMAP_BUF(t, s->buf_idx), f + off, l);
			s->len = (uint16_t)l;
			s->flags = k + 1 < per ? NS_MOREFRAG : 0;
			off += l;
		}

	struct rx_state rx = { .d = b };
	pthread_t th;
	if (pthread_create(&th, NULL, rx_main, &rx) != 0) {
		fprintf(stderr, "vale_tso: pthread_create failed\n");
		return 1;
	}
	pin(txcpu);
	struct netmap_ring *rr = NETMAP_RXRING(b->nifp, 0);
	const uint64_t nseg = (PAY + 1460 - 1) / 1460, room = rr->num_slots - 1;
	uint64_t sent = 0;
	if ((uint64_t)batch * nseg > room) {
		fprintf(stderr, "vale_tso: %d frames of %llu segments do not fit %llu slots\n",
			batch, (unsigned long long)nseg, (unsigned long long)room);
		stop = 1;
	}
	while (!stop) {
		/* pacing: room for the whole batch at the receiver (bounded
		 * wait, so a lost count cannot stall the run) */
		double w0 = 0;
		while (!stop && (sent + (uint64_t)batch) * nseg -
				__atomic_load_n(&consumed, __ATOMIC_ACQUIRE) > room) {
			if (w0 == 0)
				w0 = bench_now();
			else if (bench_now() - w0 > 0.1)
				break;
			__builtin_ia32_pause();
		}
		unsigned n = 0;
		while ((int)n < batch && nm_ring_space(t) >= per) {
			t->head = t->cur = (t->head + per) % t->num_slots;
			n++;
		}
		ioctl(a->fd, NIOCTXSYNC, NULL);
		sent += n;
	}
	pthread_join(th, NULL);
	struct unetmap_vale_port_stats st[8];
	int np = unetmap_vale_stats(an, st, 8);
	double dropped = 0;
	for (int i = 0; i < np && i < 8; i++)
		if (strcmp(st[i].name, an) == 0 && st[i].tx_frames > 0)
			dropped = 100.0 * (double)st[i].drop_full / (double)st[i].tx_frames;
	double dt = rx.t1 - rx.t0;
	if (dt <= 0 || rx.segs == 0) {
		fprintf(stderr, "vale_tso: nothing received (%llu frames sent)\n",
			(unsigned long long)sent);
		return 1;
	}
	printf("Gbps %.3f\n", (double)rx.bytes * 8 / dt / 1e9);
	printf("Mpps %.3f\n", (double)rx.segs / dt / 1e6);
	printf("drop_full %.1f\n", dropped);
	nmport_close(a);
	nmport_close(b);
	return 0;
}
