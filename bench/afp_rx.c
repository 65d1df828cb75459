/*
 * afp_rx - AF_PACKET TPACKET_V3 receiver for the Linux bridge row of
 * `make bench`: counts the frames of one ethertype that arrive on an
 * interface and prints the rate over a measured window.
 *
 *   afp_rx IFNAME WARMUP_S WINDOW_S [ETHERTYPE]
 *
 * The ring is 64 blocks of 1 MiB (2048-byte frames, 10 ms block timeout).
 * The program busy-polls the status word of the current block; a block the
 * kernel has handed over is counted (its num_pkts) and given back at once.
 * Frames counted in the first WARMUP_S seconds are dropped, then the frames
 * of the next WINDOW_S seconds make the figure.  It stops by itself after
 * WARMUP_S + WINDOW_S seconds and prints
 *   Mpps <rate>
 *   packets <n> seconds <t> drops <kernel drops in the window>
 * ETHERTYPE defaults to 0x88b5 (IEEE local experimental, what afp_send sends).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include "bench.h"

#define BLOCK_SIZE (1u << 20)
#define BLOCK_NR 64u
#define FRAME_SIZE 2048u

int main(int argc, char **argv)
{
	if (argc < 4) {
		fprintf(stderr, "usage: afp_rx IFNAME WARMUP_S WINDOW_S [ETHERTYPE]\n");
		return 2;
	}
	const char *ifname = argv[1];
	double warm = atof(argv[2]);
	double window = atof(argv[3]);
	unsigned long etype = argc > 4 ? strtoul(argv[4], NULL, 0) : 0x88b5;
	unsigned int ifindex = if_nametoindex(ifname);

	if (ifindex == 0 || warm < 0 || window <= 0 || window > 3600 || etype > 0xffff) {
		fprintf(stderr, "afp_rx: bad arguments (interface %s)\n", ifname);
		return 2;
	}
	int s = socket(AF_PACKET, SOCK_RAW, htons((uint16_t)etype));
	if (s < 0) {
		perror("afp_rx: socket");
		return 1;
	}
	int v = TPACKET_V3;
	if (setsockopt(s, SOL_PACKET, PACKET_VERSION, &v, sizeof(v)) < 0) {
		perror("afp_rx: PACKET_VERSION");
		return 1;
	}
	struct tpacket_req3 req;
	memset(&req, 0, sizeof(req));
	req.tp_block_size = BLOCK_SIZE;
	req.tp_block_nr = BLOCK_NR;
	req.tp_frame_size = FRAME_SIZE;
	req.tp_frame_nr = (BLOCK_SIZE / FRAME_SIZE) * BLOCK_NR;
	req.tp_retire_blk_tov = 10;	/* ms */
	if (setsockopt(s, SOL_PACKET, PACKET_RX_RING, &req, sizeof(req)) < 0) {
		perror("afp_rx: PACKET_RX_RING");
		return 1;
	}
	size_t maplen = (size_t)BLOCK_SIZE * BLOCK_NR;
	uint8_t *map = mmap(NULL, maplen, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, s, 0);
	if (map == MAP_FAILED) {
		perror("afp_rx: mmap");
		return 1;
	}
	struct sockaddr_ll sll;
	memset(&sll, 0, sizeof(sll));
	sll.sll_family = AF_PACKET;
	sll.sll_protocol = htons((uint16_t)etype);
	sll.sll_ifindex = (int)ifindex;
	if (bind(s, (struct sockaddr *)&sll, sizeof(sll)) < 0) {
		perror("afp_rx: bind");
		return 1;
	}

	double t0 = bench_now();
	double t_start = t0 + warm, t_end = t_start + window, t_first = 0, t_last = 0;
	unsigned long long counted = 0, drops = 0;
	unsigned int blk = 0;
	int measuring = warm <= 0;
	unsigned long spins = 0;

	if (measuring) {
		bench_tpacket_drops(s);
		t_first = t0;
	}
	for (;;) {
		struct tpacket_block_desc *bd = (struct tpacket_block_desc *)(map + (size_t)blk * BLOCK_SIZE);

		if (__atomic_load_n(&bd->hdr.bh1.block_status, __ATOMIC_ACQUIRE) & TP_STATUS_USER) {
			if (measuring)
				counted += bd->hdr.bh1.num_pkts;
			__atomic_store_n(&bd->hdr.bh1.block_status, TP_STATUS_KERNEL, __ATOMIC_RELEASE);
			blk = (blk + 1) % BLOCK_NR;
			continue;
		}
		if ((++spins & 63) != 0)
			continue;
		double t = bench_now();
		if (!measuring && t >= t_start) {
			measuring = 1;
			t_first = t;
			bench_tpacket_drops(s);	/* forget the warm-up's drops */
		} else if (t >= t_end) {
			t_last = t;
			break;
		}
	}
	drops = bench_tpacket_drops(s);
	double secs = t_last - t_first;
	printf("Mpps %.4f\n", secs > 0 ? (double)counted / secs / 1e6 : 0.0);
	printf("packets %llu seconds %.3f drops %llu\n", counted, secs, drops);
	munmap(map, maplen);
	close(s);
	return 0;
}
