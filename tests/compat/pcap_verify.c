/*
 * pcap_verify FILE COUNT LEN KIND
 *
 * Reads a pcap file (written by tcpdump -w) with libpcap's offline API and
 * checks: exactly COUNT records; caplen == len == LEN for each; timestamps
 * non-zero, within an hour of now (not in the future) and non-decreasing;
 * content by KIND:
 *   pktgen  the frame pkt-gen -f tx sends by default: ff:ff:ff:ff:ff:ff <-
 *           00:00:00:00:00:00, IPv4 UDP 10.0.0.1:1234 -> 10.1.0.1:1234, the
 *           payload starting "unetmap pkt-gen payload" (as far as it fits)
 *   seq     frames from tests/compat/pcap_inject.c, in order 0..COUNT-1
 * Exit 0 when everything holds, 1 otherwise (first problem printed).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <pcap.h>

static int check_pktgen(const u_char *b, int len)
{
	static const u_char eth[14] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0x08, 0x00 };
	static const char pat[] = "unetmap pkt-gen payload 0123456789 ";
	if (memcmp(b, eth, 14))
		return -1;
	const u_char *ip = b + 14, *udp = ip + 20;
	if (ip[0] != 0x45 || ip[9] != 17)
		return -2;
	if (memcmp(ip + 12, "\x0a\x00\x00\x01\x0a\x01\x00\x01", 8))
		return -3;
	if (udp[0] != 0x04 || udp[1] != 0xd2 || udp[2] != 0x04 || udp[3] != 0xd2)
		return -4;
	if ((ip[2] << 8 | ip[3]) != len - 14 || (udp[4] << 8 | udp[5]) != len - 34)
		return -5;
	int plen = len - 42;
	for (int k = 0; k < plen; k++)
		if (udp[8 + k] != (u_char)pat[k % (sizeof(pat) - 1)])
			return -6;
	return 0;
}

static int check_seq(const u_char *b, int len, uint32_t i)
{
	static const u_char eth[14] = { 0x02, 0, 0, 0, 0, 0x02, 0x02, 0, 0, 0, 0, 0x01, 0x88, 0xb5 };
	if (memcmp(b, eth, 14) || memcmp(b + 14, "UNMP", 4))
		return -1;
	uint32_t got = (uint32_t)b[18] << 24 | b[19] << 16 | b[20] << 8 | b[21];
	if (got != i)
		return -2;
	for (int k = 22; k < len; k++)
		if (b[k] != (u_char)(i + k))
			return -3;
	return 0;
}

int main(int argc, char **argv)
{
	if (argc != 5 || (strcmp(argv[4], "pktgen") && strcmp(argv[4], "seq"))) {
		fprintf(stderr, "usage: %s FILE COUNT LEN pktgen|seq\n", argv[0]);
		return 2;
	}
	long count = strtol(argv[2], NULL, 0);
	int len = atoi(argv[3]);
	int seq = strcmp(argv[4], "seq") == 0;
	char errbuf[PCAP_ERRBUF_SIZE] = "";
	pcap_t *p = pcap_open_offline(argv[1], errbuf);
	if (p == NULL) {
		fprintf(stderr, "pcap_open_offline(%s): %s\n", argv[1], errbuf);
		return 1;
	}
	if (pcap_datalink(p) != DLT_EN10MB) {
		fprintf(stderr, "link type %d, expected EN10MB\n", pcap_datalink(p));
		return 1;
	}
	time_t t_now = time(NULL);
	struct pcap_pkthdr *h;
	const u_char *b;
	long n = 0;
	struct timeval first = { 0, 0 }, prev = { 0, 0 };
	int r;
	while ((r = pcap_next_ex(p, &h, &b)) == 1) {
		if ((int)h->caplen != len || (int)h->len != len) {
			fprintf(stderr, "record %ld: caplen %u len %u, expected %d\n", n, h->caplen, h->len, len);
			return 1;
		}
		if (h->ts.tv_sec == 0 && h->ts.tv_usec == 0) {
			fprintf(stderr, "record %ld: zero timestamp\n", n);
			return 1;
		}
		if (h->ts.tv_sec > t_now + 5 || h->ts.tv_sec < t_now - 3600) {
			fprintf(stderr, "record %ld: timestamp %ld.%06ld is not near now (%ld)\n", n,
				(long)h->ts.tv_sec, (long)h->ts.tv_usec, (long)t_now);
			return 1;
		}
		if (n > 0 && timercmp(&h->ts, &prev, <)) {
			fprintf(stderr, "record %ld: timestamp %ld.%06ld before previous %ld.%06ld\n", n,
				(long)h->ts.tv_sec, (long)h->ts.tv_usec, (long)prev.tv_sec, (long)prev.tv_usec);
			return 1;
		}
		if (n == 0)
			first = h->ts;
		prev = h->ts;
		int c = seq ? check_seq(b, len, (uint32_t)n) : check_pktgen(b, len);
		if (c) {
			fprintf(stderr, "record %ld: content check %d failed; first bytes:", n, c);
			for (int k = 0; k < len && k < 48; k++)
				fprintf(stderr, " %02x", b[k]);
			fprintf(stderr, "\n");
			return 1;
		}
		n++;
	}
	if (r != PCAP_ERROR_BREAK) {
		fprintf(stderr, "pcap_next_ex: %s\n", pcap_geterr(p));
		return 1;
	}
	if (n != count) {
		fprintf(stderr, "%ld records, expected %ld\n", n, count);
		return 1;
	}
	printf("%ld records of %d bytes, content ok, timestamps %ld.%06ld .. %ld.%06ld (non-decreasing)\n",
	       n, len, (long)first.tv_sec, (long)first.tv_usec, (long)prev.tv_sec, (long)prev.tv_usec);
	pcap_close(p);
	return 0;
}
