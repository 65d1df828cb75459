/*
 * afp_send - AF_PACKET sender for the tcpdump comparison and the Linux
 * bridge row of `make bench`: sends 60-byte frames (ethertype 0x88b5, source
 * 02:02:02:02:02:02) on an interface with sendmmsg() batches for a given time.
 *   afp_send IFNAME SECONDS [BATCH [DST-MAC]]
 * DST-MAC defaults to ff:ff:ff:ff:ff:ff.  Prints "sent N" at the end.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include "bench.h"

int main(int argc, char **argv)
{
	if (argc < 3)
		return 2;
	int batch = argc > 3 ? atoi(argv[3]) : 64;
	if (batch < 1 || batch > 1024)
		batch = 64;
	unsigned char dst[ETH_ALEN];
	memset(dst, 0xff, ETH_ALEN);
	if (argc > 4 && sscanf(argv[4], "%hhx:%hhx:%hhx:%hhx:%hhx:%hhx", &dst[0], &dst[1], &dst[2],
			       &dst[3], &dst[4], &dst[5]) != ETH_ALEN) {
		fprintf(stderr, "afp_send: bad MAC %s\n", argv[4]);
		return 2;
	}
	int s = socket(AF_PACKET, SOCK_RAW, htons(ETH_P_ALL));
	if (s < 0) {
		perror("socket");
		return 1;
	}
	int one = 1;
	setsockopt(s, SOL_PACKET, PACKET_QDISC_BYPASS, &one, sizeof(one));
	struct sockaddr_ll sll = { .sll_family = AF_PACKET, .sll_ifindex = (int)if_nametoindex(argv[1]),
				   .sll_halen = ETH_ALEN };
	memcpy(sll.sll_addr, dst, ETH_ALEN);
	unsigned char frame[60];
	memset(frame, 0, sizeof(frame));
	memcpy(frame, dst, ETH_ALEN);
	memset(frame + 6, 0x02, 6);
	frame[12] = 0x88;	/* local experimental ethertype */
	frame[13] = 0xb5;
	struct mmsghdr *msgs = calloc((size_t)batch, sizeof(*msgs));
	struct iovec iov = { frame, sizeof(frame) };
	for (int i = 0; i < batch; i++) {
		msgs[i].msg_hdr.msg_iov = &iov;
		msgs[i].msg_hdr.msg_iovlen = 1;
		msgs[i].msg_hdr.msg_name = &sll;
		msgs[i].msg_hdr.msg_namelen = sizeof(sll);
	}
	double end = bench_now() + atof(argv[2]);
	unsigned long long sent = 0;
	while (bench_now() < end) {
		int r = sendmmsg(s, msgs, (unsigned)batch, 0);
		if (r > 0)
			sent += (unsigned)r;
	}
	printf("sent %llu\n", sent);
	return 0;
}
