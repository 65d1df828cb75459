/*
 * bench.h - what the programs of bench/ share (each is one C file built by
 * bench/run.sh with a plain `cc`; this header is found next to it).
 */
#ifndef UNETMAP_BENCH_H
#define UNETMAP_BENCH_H

#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <linux/if_packet.h>

/* CLOCK_MONOTONIC in seconds */
static inline double bench_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* kernel drops of a TPACKET_V3 socket since the last call
 * (PACKET_STATISTICS resets on read) */
static inline unsigned long long bench_tpacket_drops(int s)
{
	struct tpacket_stats_v3 st;
	socklen_t len = sizeof(st);
	memset(&st, 0, sizeof(st));
	if (getsockopt(s, SOL_PACKET, PACKET_STATISTICS, &st, &len) < 0)
		return 0;
	return st.tp_drops;
}

#endif
