/*
 * xsk_rx - minimal AF_XDP receiver (libxdp), the raw baseline for the
 * netmap:IF (AF_XDP) rows of `make bench`: counts the frames that arrive
 * on one queue of an interface and prints the rate over a measured window.
 *
 *   xsk_rx IFNAME WARMUP_S WINDOW_S [QUEUE [copy|zc|auto]]
 *
 * It attaches its own XDP program to IFNAME in native mode with a bpf_link
 * (gone when the process exits, even after SIGKILL): XSKMAP[rx_queue_index]
 * or drop.  One socket on QUEUE (default 0), copy mode by default (veth has
 * no zero copy), need-wakeup, 4096-entry rings, a 4096 x 2 KiB UMEM of
 * aligned chunks; it busy-polls the RX ring and gives every buffer back to
 * the fill ring at once.  Frames counted in the first WARMUP_S seconds are
 * dropped, then the frames of the next WINDOW_S seconds make the figure:
 *   Mpps <rate>
 *   packets <n> seconds <t> drops <rx_dropped + ring full + fill ring empty>
 * Build: cc -O2 xsk_rx.c -o xsk_rx -lxdp -lbpf (root).
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
#include <sys/mman.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <linux/bpf.h>
#include <linux/if_link.h>
#include <bpf/bpf.h>
#include <xdp/xsk.h>
#include "bench.h"

#ifndef SOL_XDP
#define SOL_XDP 283
#endif

#define NFRAMES		4096u
#define FRAME		2048u
#define RING		4096u
#define BATCH		256u

static unsigned long long drops(int fd)
{
	struct xdp_statistics st;
	socklen_t len = sizeof(st);

	memset(&st, 0, sizeof(st));
	if (getsockopt(fd, SOL_XDP, XDP_STATISTICS, &st, &len) < 0)
		return 0;
	return st.rx_dropped + st.rx_ring_full + st.rx_fill_ring_empty_descs;
}

/* XSKMAP[ctx->rx_queue_index], XDP_DROP if the slot is empty */
static int load_redirect(int map)
{
	struct bpf_insn insns[] = {
		{ .code = BPF_LDX | BPF_MEM | BPF_W, .dst_reg = BPF_REG_2, .src_reg = BPF_REG_1,
		  .off = offsetof(struct xdp_md, rx_queue_index) },
		{ .code = BPF_LD | BPF_DW | BPF_IMM, .dst_reg = BPF_REG_1,
		  .src_reg = BPF_PSEUDO_MAP_FD, .imm = map },
		{ 0 },
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_3, .imm = XDP_DROP },
		{ .code = BPF_JMP | BPF_CALL, .imm = BPF_FUNC_redirect_map },
		{ .code = BPF_JMP | BPF_EXIT },
	};
	return bpf_prog_load(BPF_PROG_TYPE_XDP, "xsk_rx_redir", "GPL", insns,
			     sizeof(insns) / sizeof(insns[0]), NULL);
}

int main(int argc, char **argv)
{
	if (argc < 4) {
		fprintf(stderr, "usage: xsk_rx IFNAME WARMUP_S WINDOW_S [QUEUE [copy|zc|auto]]\n");
		return 2;
	}
	const char *ifname = argv[1];
	double warm = atof(argv[2]), window = atof(argv[3]);
	unsigned queue = argc > 4 ? (unsigned)atoi(argv[4]) : 0;
	const char *mode = argc > 5 ? argv[5] : "copy";
	unsigned ifindex = if_nametoindex(ifname);
	uint16_t bind_flags = XDP_USE_NEED_WAKEUP;

	if (strcmp(mode, "copy") == 0)
		bind_flags |= XDP_COPY;
	else if (strcmp(mode, "zc") == 0)
		bind_flags |= XDP_ZEROCOPY;
	else if (strcmp(mode, "auto") != 0)
		ifindex = 0;
	if (ifindex == 0 || warm < 0 || window <= 0 || window > 3600 || queue > 255) {
		fprintf(stderr, "xsk_rx: bad arguments (interface %s, mode %s)\n", ifname, mode);
		return 2;
	}

	int map = bpf_map_create(BPF_MAP_TYPE_XSKMAP, "xsk_rx_map", 4, 4, 256, NULL);
	int prog = map < 0 ? -1 : load_redirect(map);
	if (prog < 0) {
		fprintf(stderr, "xsk_rx: XSKMAP / XDP program: %s\n", strerror(errno));
		return 1;
	}
	LIBBPF_OPTS(bpf_link_create_opts, lopts, .flags = XDP_FLAGS_DRV_MODE);
	int link = bpf_link_create(prog, (int)ifindex, BPF_XDP, &lopts);
	if (link < 0) {
		fprintf(stderr, "xsk_rx: attaching XDP (native) to %s: %s\n", ifname,
			strerror(errno));
		return 1;
	}

	void *area = mmap(NULL, (size_t)NFRAMES * FRAME, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	if (area == MAP_FAILED) {
		perror("xsk_rx: mmap");
		return 1;
	}
	struct xsk_ring_prod fill, tx;
	struct xsk_ring_cons comp, rx;
	struct xsk_umem *umem;
	struct xsk_umem_config uc = { .fill_size = RING, .comp_size = RING, .frame_size = FRAME };
	int r = xsk_umem__create(&umem, area, (uint64_t)NFRAMES * FRAME, &fill, &comp, &uc);
	if (r < 0) {
		fprintf(stderr, "xsk_rx: UMEM: %s\n", strerror(-r));
		return 1;
	}
	struct xsk_socket *xsk;
	struct xsk_socket_config sc = {
		.rx_size = RING, .tx_size = RING,
		.libxdp_flags = XSK_LIBXDP_FLAGS__INHIBIT_PROG_LOAD,
		.bind_flags = bind_flags,
	};
	r = xsk_socket__create(&xsk, ifname, queue, umem, &rx, &tx, &sc);
	if (r < 0) {
		fprintf(stderr, "xsk_rx: socket on %s queue %u (%s): %s\n", ifname, queue, mode,
			strerror(-r));
		return 1;
	}
	int fd = xsk_socket__fd(xsk);
	if (bpf_map_update_elem(map, &queue, &fd, BPF_ANY) < 0) {
		fprintf(stderr, "xsk_rx: XSKMAP: %s\n", strerror(errno));
		return 1;
	}
	uint32_t idx;
	if (xsk_ring_prod__reserve(&fill, RING, &idx) != RING) {
		fprintf(stderr, "xsk_rx: fill ring\n");
		return 1;
	}
	for (uint32_t i = 0; i < RING; i++)
		*xsk_ring_prod__fill_addr(&fill, idx + i) = (uint64_t)i * FRAME;
	xsk_ring_prod__submit(&fill, RING);

	double t0 = bench_now(), t_start = t0 + warm, t_end = t_start + window, t_first = t0, t_last = t0;
	unsigned long long counted = 0, d_first = 0;	/* the counters never reset */
	int measuring = warm <= 0;
	unsigned long spins = 0;
	if (measuring)
		d_first = drops(fd);
	for (;;) {
		uint32_t ri, fi;
		unsigned n = xsk_ring_cons__peek(&rx, BATCH, &ri);
		if (n != 0) {
			/* every frame's buffer goes straight back to the fill ring
			 * (it has room: the UMEM has as many chunks as it has slots) */
			while (xsk_ring_prod__reserve(&fill, n, &fi) != n)
				;
			for (unsigned i = 0; i < n; i++)
				*xsk_ring_prod__fill_addr(&fill, fi + i) =
					xsk_ring_cons__rx_desc(&rx, ri + i)->addr;
			xsk_ring_prod__submit(&fill, n);
			xsk_ring_cons__release(&rx, n);
			if (measuring)
				counted += n;
			if (xsk_ring_prod__needs_wakeup(&fill))
				recvfrom(fd, NULL, 0, MSG_DONTWAIT, NULL, NULL);
			continue;
		}
		if (xsk_ring_prod__needs_wakeup(&fill))
			recvfrom(fd, NULL, 0, MSG_DONTWAIT, NULL, NULL);
		if ((++spins & 63) != 0)
			continue;
		double t = bench_now();
		if (!measuring && t >= t_start) {
			measuring = 1;
			t_first = t;
			d_first = drops(fd);
			counted = 0;
		} else if (t >= t_end) {
			t_last = t;
			break;
		}
	}
	unsigned long long d0 = drops(fd) - d_first;
	double secs = t_last - t_first;
	printf("Mpps %.4f\n", secs > 0 ? (double)counted / secs / 1e6 : 0.0);
	printf("packets %llu seconds %.3f drops %llu\n", counted, secs, d0);
	xsk_socket__delete(xsk);
	xsk_umem__delete(umem);
	close(link);
	close(prog);
	close(map);
	return 0;
}
