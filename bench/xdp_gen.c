/*
 * xdp_gen - XDP live-frames traffic generator for the NIC rows of
 * `make bench`: the kernel's BPF_PROG_TEST_RUN with
 * BPF_F_TEST_XDP_LIVE_FRAMES runs a one-instruction XDP program that
 * returns XDP_TX on a template frame, as if the frame had been received on
 * IFNAME, so every run transmits the frame out of IFNAME (ndo_xdp_xmit).
 * On a veth the frames go straight into the peer's NAPI, at the rate one
 * CPU can run the loop; the peer must have NAPI on (an XDP program
 * attached, or `ethtool -K PEER gro on`), otherwise veth drops them.
 * On veth, the peer receives them on RX queue (generating CPU % queues).
 *
 *   xdp_gen [-s SIZE] [-d DST_MAC] [-b BATCH] IFNAME SECONDS
 *
 * SIZE is the frame length (60..1514, default 60); the frame is
 * DST_MAC (default broadcast) <- 02:00:00:00:00:01, ethertype 0x88b5.
 * BATCH is the kernel's batch_size (frames run, then flushed to the
 * driver, per batch; 1..256, default 256, the kernel's maximum; the
 * kernel's own default is 64).  Prints the rate at which the program ran
 * (frames offered to the driver; the peer's ring drops what its NAPI
 * cannot take, so the receiver's count is the figure):
 *   Mpps <rate>
 *   packets <n> seconds <t>
 * Build: cc -O2 xdp_gen.c -o xdp_gen -lbpf (root, kernel 5.18+).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <net/if.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <linux/bpf.h>
#include <bpf/bpf.h>
#include "bench.h"

#define REPEAT		(1u << 18)	/* frames per BPF_PROG_TEST_RUN call */

static int parse_mac(const char *s, unsigned char *mac)
{
	unsigned v[6];

	if (sscanf(s, "%x:%x:%x:%x:%x:%x", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5]) != 6)
		return -1;
	for (int i = 0; i < 6; i++) {
		if (v[i] > 0xff)
			return -1;
		mac[i] = (unsigned char)v[i];
	}
	return 0;
}

int main(int argc, char **argv)
{
	unsigned size = 60, batch = 256;
	unsigned char frame[1514];
	int opt;

	memset(frame, 0xff, 6);
	while ((opt = getopt(argc, argv, "s:d:b:")) != -1) {
		switch (opt) {
		case 's':
			size = (unsigned)atoi(optarg);
			break;
		case 'd':
			if (parse_mac(optarg, frame) < 0) {
				fprintf(stderr, "xdp_gen: bad MAC address %s\n", optarg);
				return 2;
			}
			break;
		case 'b':
			batch = (unsigned)atoi(optarg);
			break;
		default:
			optind = argc + 1;
		}
	}
	if (argc - optind != 2) {
		fprintf(stderr, "usage: xdp_gen [-s SIZE] [-d DST_MAC] [-b BATCH] IFNAME SECONDS\n");
		return 2;
	}
	unsigned ifindex = if_nametoindex(argv[optind]);
	double secs = atof(argv[optind + 1]);
	if (ifindex == 0 || secs <= 0 || secs > 3600 || size < 60 || size > sizeof(frame) ||
	    batch < 1 || batch > 256) {
		fprintf(stderr, "xdp_gen: bad arguments (interface %s)\n", argv[optind]);
		return 2;
	}
	const unsigned char src[6] = { 2, 0, 0, 0, 0, 1 };
	memcpy(frame + 6, src, 6);
	frame[12] = 0x88;
	frame[13] = 0xb5;
	for (unsigned i = 14; i < size; i++)
		frame[i] = (unsigned char)i;

	/* r0 = XDP_TX; exit */
	struct bpf_insn prog[] = {
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = XDP_TX },
		{ .code = BPF_JMP | BPF_EXIT },
	};
	int fd = bpf_prog_load(BPF_PROG_TYPE_XDP, "xdp_gen_tx", "GPL", prog, 2, NULL);
	if (fd < 0) {
		fprintf(stderr, "xdp_gen: loading the XDP program: %s\n", strerror(errno));
		return 1;
	}
	struct xdp_md ctx = { .data_end = size, .ingress_ifindex = ifindex };
	LIBBPF_OPTS(bpf_test_run_opts, opts,
		    .data_in = frame, .data_size_in = size,
		    .ctx_in = &ctx, .ctx_size_in = sizeof(ctx),
		    .repeat = REPEAT, .batch_size = batch,
		    .flags = BPF_F_TEST_XDP_LIVE_FRAMES);
	unsigned long long sent = 0;
	double t0 = bench_now(), t = t0;
	while (t - t0 < secs) {
		if (bpf_prog_test_run_opts(fd, &opts) < 0) {
			fprintf(stderr, "xdp_gen: BPF_PROG_TEST_RUN (live frames): %s\n",
				strerror(errno));
			return 1;
		}
		sent += REPEAT;
		t = bench_now();
	}
	printf("Mpps %.4f\n", (double)sent / (t - t0) / 1e6);
	printf("packets %llu seconds %.3f\n", sent, t - t0);
	return 0;
}
