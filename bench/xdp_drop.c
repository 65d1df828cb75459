/*
 * xdp_drop - the far end of the NIC rows of `make bench` when it is an XDP
 * consumer: attaches a native-mode XDP program that drops every frame to
 * IFNAME for SECONDS, then detaches it.  On a veth this gives the device
 * NAPI, so that its peer can take redirected frames (ndo_xdp_xmit), and the
 * device's rx_packets counter still counts what arrived.
 *
 *   xdp_drop IFNAME SECONDS
 *
 * Build: cc -O2 xdp_drop.c -o xdp_drop -lbpf (root).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <net/if.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <linux/bpf.h>
#include <linux/if_link.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: xdp_drop IFNAME SECONDS\n");
		return 2;
	}
	int ifindex = (int)if_nametoindex(argv[1]);
	double secs = atof(argv[2]);
	if (ifindex == 0 || secs <= 0 || secs > 3600) {
		fprintf(stderr, "xdp_drop: bad arguments (interface %s)\n", argv[1]);
		return 2;
	}
	/* r0 = XDP_DROP; exit */
	struct bpf_insn prog[] = {
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = XDP_DROP },
		{ .code = BPF_JMP | BPF_EXIT },
	};
	int fd = bpf_prog_load(BPF_PROG_TYPE_XDP, "xdp_drop", "GPL", prog, 2, NULL);
	if (fd < 0) {
		fprintf(stderr, "xdp_drop: loading the XDP program: %s\n", strerror(errno));
		return 1;
	}
	int r = bpf_xdp_attach(ifindex, fd, XDP_FLAGS_DRV_MODE, NULL);
	if (r < 0) {
		fprintf(stderr, "xdp_drop: attaching to %s: %s\n", argv[1], strerror(-r));
		return 1;
	}
	struct sigaction sa = { .sa_handler = on_signal };
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	struct timespec ts = { .tv_sec = 0, .tv_nsec = 10000000 };
	for (long i = 0; !stop && i < (long)(secs * 100); i++)
		nanosleep(&ts, NULL);
	bpf_xdp_detach(ifindex, XDP_FLAGS_DRV_MODE, NULL);
	return 0;
}
