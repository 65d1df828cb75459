/*
 * tpk_rx - minimal TPACKET_V3 receiver, the raw baseline for the
 * netmap:IF (TPACKET) rows of `make bench`: counts every frame (ETH_P_ALL)
 * an interface receives and prints the rate over a measured window.
 *
 *   tpk_rx IFNAME WARMUP_S WINDOW_S [RETIRE_MS]
 *
 * The ring is 64 blocks of 1 MiB retired after RETIRE_MS (default 1, as
 * the TPACKET backend of netmap:IF uses), PACKET_IGNORE_OUTGOING; the
 * program busy-polls the status word of the current block, counts a
 * block's frames and gives it back at once.  (bench/afp_rx.c is the same
 * idea for one ethertype with a 10 ms timeout, for the bridge rows.)
 * On a veth fed by XDP (xdp_gen) the interface needs NAPI:
 * `ethtool -K IFNAME gro on`.  Output:
 *   Mpps <rate>
 *   packets <n> seconds <t> drops <kernel drops in the window>
 * Build: cc -O2 tpk_rx.c -o tpk_rx (root).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
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

#ifndef PACKET_IGNORE_OUTGOING
#define PACKET_IGNORE_OUTGOING 23
#endif

#define BLOCK_SIZE (1u << 20)
#define BLOCK_NR 64u

int main(int argc, char **argv)
{
	if (argc < 4) {
		fprintf(stderr, "usage: tpk_rx IFNAME WARMUP_S WINDOW_S [RETIRE_MS]\n");
		return 2;
	}
	const char *ifname = argv[1];
	double warm = atof(argv[2]), window = atof(argv[3]);
	int retire = argc > 4 ? atoi(argv[4]) : 1;
	unsigned ifindex = if_nametoindex(ifname);

	if (ifindex == 0 || warm < 0 || window <= 0 || window > 3600 || retire < 1) {
		fprintf(stderr, "tpk_rx: bad arguments (interface %s)\n", ifname);
		return 2;
	}
	int s = socket(AF_PACKET, SOCK_RAW, 0);	/* nothing queued before bind */
	int v = TPACKET_V3, one = 1;
	if (s < 0 || setsockopt(s, SOL_PACKET, PACKET_VERSION, &v, sizeof(v)) < 0 ||
	    setsockopt(s, SOL_PACKET, PACKET_IGNORE_OUTGOING, &one, sizeof(one)) < 0) {
		perror("tpk_rx: socket");
		return 1;
	}
	struct tpacket_req3 req;
	memset(&req, 0, sizeof(req));
	req.tp_block_size = BLOCK_SIZE;
	req.tp_block_nr = BLOCK_NR;
	req.tp_frame_size = 2048;
	req.tp_frame_nr = BLOCK_SIZE / 2048 * BLOCK_NR;
	req.tp_retire_blk_tov = (unsigned)retire;
	if (setsockopt(s, SOL_PACKET, PACKET_RX_RING, &req, sizeof(req)) < 0) {
		perror("tpk_rx: PACKET_RX_RING");
		return 1;
	}
	size_t maplen = (size_t)BLOCK_SIZE * BLOCK_NR;
	uint8_t *map = mmap(NULL, maplen, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, s, 0);
	if (map == MAP_FAILED) {
		perror("tpk_rx: mmap");
		return 1;
	}
	struct sockaddr_ll sll = { .sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_ALL),
				   .sll_ifindex = (int)ifindex };
	if (bind(s, (struct sockaddr *)&sll, sizeof(sll)) < 0) {
		perror("tpk_rx: bind");
		return 1;
	}

	double t0 = bench_now(), t_start = t0 + warm, t_end = t_start + window, t_first = t0, t_last = t0;
	unsigned long long counted = 0;
	unsigned blk = 0;
	int measuring = warm <= 0;
	unsigned long spins = 0;
	if (measuring)
		bench_tpacket_drops(s);
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
	unsigned long long d = bench_tpacket_drops(s);
	double secs = t_last - t_first;
	printf("Mpps %.4f\n", secs > 0 ? (double)counted / secs / 1e6 : 0.0);
	printf("packets %llu seconds %.3f drops %llu\n", counted, secs, d);
	munmap(map, maplen);
	close(s);
	return 0;
}
