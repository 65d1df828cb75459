/*
 * pkt-gen frame handling: the Ethernet/IPv4/UDP template each thread
 * sends, Internet checksums (full and incremental), address and port
 * ranges, MAC addresses and the -X hex dump.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <ifaddrs.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "pkt-gen.h"

#define ETHERTYPE_IPV4	0x0800
#define ETHERTYPE_IPV6	0x86dd
#define IP_PROTO_UDP	17
#define IP_TOS_LOWDELAY	0x10
#define IP_FLAG_DF	0x4000
#define IP_TTL_DEFAULT	64
#define IP6_HDR_LEN	40

/* Filler for the UDP payload; any bytes would do. */
static const char payload_pattern[] = "unetmap pkt-gen payload 0123456789 ";

/* Big-endian accessors for unaligned header fields. */
static inline uint16_t
get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static inline void
put16(uint8_t *p, uint16_t v)
{
	p[0] = v >> 8;
	p[1] = v & 0xff;
}

static inline uint32_t
get32(const uint8_t *p)
{
	return (uint32_t)get16(p) << 16 | get16(p + 2);
}

static inline void
put32(uint8_t *p, uint32_t v)
{
	put16(p, v >> 16);
	put16(p + 2, v & 0xffff);
}

/* One's-complement sum of a byte string taken as big-endian words. */
static uint32_t
csum_add(const uint8_t *p, size_t len, uint32_t sum)
{
	size_t i;

	for (i = 0; i + 1 < len; i += 2)
		sum += get16(p + i);
	if (i < len)
		sum += (uint32_t)p[i] << 8;	/* odd byte is the high half */
	return sum;
}

static uint16_t
csum_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

/*
 * Incremental update of the checksum stored at csum when a 16-bit word
 * of the covered data changes from oldv to newv (RFC 1624, eqn. 3).
 * A UDP checksum that comes out as zero is sent as 0xffff.
 */
static void
csum_replace16(uint8_t *csum, uint16_t oldv, uint16_t newv, int udp)
{
	uint32_t sum;
	uint16_t res;

	sum = (uint16_t)~get16(csum) + (uint16_t)~oldv + (uint32_t)newv;
	res = csum_fold(sum);
	if (udp && res == 0)
		res = 0xffff;
	put16(csum, res);
}

static inline uint8_t *
frame_eth(struct pg_frame *f)
{
	return f->buf + PG_VH_MAX;
}

static void
ip_csum_update(uint8_t *ip)
{
	put16(ip + 10, 0);
	put16(ip + 10, csum_fold(csum_add(ip, PG_IP_LEN, 0)));
}

/* Full UDP checksum over pseudo header, UDP header and payload. */
static void
udp_csum_update(uint8_t *ip, int enabled)
{
	uint8_t *udp = ip + PG_IP_LEN;
	uint16_t ulen = get16(udp + 4);
	uint32_t sum;
	uint16_t res;

	put16(udp + 6, 0);
	if (!enabled)
		return;
	sum = csum_add(ip + 12, 8, 0);		/* source and destination */
	sum += IP_PROTO_UDP + ulen;
	sum = csum_add(udp, ulen, sum);
	res = csum_fold(sum);
	put16(udp + 6, res == 0 ? 0xffff : res);
}

/*
 * Rewrite the length of the template to pkt_len bytes (without CRC):
 * IP total length, UDP length and both checksums.  Frames shorter than
 * the headers keep header lengths describing an empty datagram.
 */
void
frame_set_len(struct targ *t, int pkt_len)
{
	struct pg_frame *f = &t->frame;
	uint8_t *ip = frame_eth(f) + PG_IP_OFF;
	int iplen = pkt_len - PG_ETH_LEN;

	if (iplen < PG_IP_LEN + PG_UDP_LEN)
		iplen = PG_IP_LEN + PG_UDP_LEN;
	f->pkt_len = pkt_len;
	f->len = f->vh_len + pkt_len;
	put16(ip + 2, (uint16_t)iplen);
	put16(ip + PG_IP_LEN + 4, (uint16_t)(iplen - PG_IP_LEN));
	ip_csum_update(ip);
	udp_csum_update(ip, f->udp_csum);
}

/* Build the template: pattern payload, then the headers. */
void
frame_init(struct targ *t)
{
	struct glob_arg *g = t->g;
	struct pg_frame *f = &t->frame;
	uint8_t *eth = frame_eth(f), *ip = eth + PG_IP_OFF;
	uint8_t *udp = eth + PG_UDP_OFF;
	size_t plen = sizeof(payload_pattern) - 1;
	int i;

	memset(f->buf, 0, PG_VH_MAX + PG_PAY_OFF);
	for (i = PG_PAY_OFF; i < g->pkt_size; i++)
		eth[i] = (uint8_t)payload_pattern[(i - PG_PAY_OFF) % plen];
	f->vh_len = g->virt_header;
	f->data = eth - f->vh_len;
	/*
	 * With random lengths the payload checksum would have to be
	 * recomputed for every size; upstream only does that on request
	 * (-o 4096), otherwise we send "no checksum" (legal for IPv4).
	 */
	f->udp_csum = g->pkt_min_size == 0 ||
	    (g->options & OPT_UPDATE_CSUM) != 0;

	memcpy(eth, g->dst_mac, 6);
	memcpy(eth + 6, g->src_mac, 6);
	put16(eth + 12, ETHERTYPE_IPV4);

	ip[0] = 0x45;			/* version 4, 5 words */
	ip[1] = IP_TOS_LOWDELAY;
	put16(ip + 4, 0);		/* id */
	put16(ip + 6, IP_FLAG_DF);
	ip[8] = IP_TTL_DEFAULT;
	ip[9] = IP_PROTO_UDP;
	put32(ip + 12, g->src_ip.start);
	put32(ip + 16, g->dst_ip.start);
	put16(udp, g->src_ip.port0);
	put16(udp + 2, g->dst_ip.port0);
	frame_set_len(t, g->pkt_size);
}

/*
 * Store len bytes (len and off even) into the payload at offset off,
 * keeping the UDP checksum right.  Bytes beyond the frame are skipped.
 */
void
frame_put_payload(struct pg_frame *f, int off, const void *src, int len)
{
	uint8_t *p = frame_eth(f) + PG_PAY_OFF + off;
	uint8_t *csum = frame_eth(f) + PG_UDP_OFF + 6;
	const uint8_t *s = src;
	int i;

	if (PG_PAY_OFF + off + len > f->pkt_len)
		return;
	for (i = 0; i < len; i += 2) {
		uint16_t oldv = get16(p + i), newv = get16(s + i);

		p[i] = s[i];
		p[i + 1] = s[i + 1];
		if (f->udp_csum && oldv != newv)
			csum_replace16(csum, oldv, newv, 1);
	}
}

void
frame_set_seq(struct pg_frame *f, uint32_t seq)
{
	uint8_t b[4];

	put32(b, seq);
	frame_put_payload(f, PG_SEQ_OFF, b, sizeof(b));
}

/* Timestamp layout shared by ping and -o 16: sec32, nsec32, big-endian. */
void
frame_set_ts(struct pg_frame *f, struct timespec ts)
{
	uint8_t b[8];

	put32(b, (uint32_t)ts.tv_sec);
	put32(b + 4, (uint32_t)ts.tv_nsec);
	frame_put_payload(f, PG_TS_OFF, b, sizeof(b));
}

/* Payload offset of a received frame, or -1 if it has no room for need. */
static int
payload_offset(const char *p, int len, int vh_len, int need)
{
	const uint8_t *eth = (const uint8_t *)p + vh_len;
	int off;

	if (len < vh_len + PG_ETH_LEN)
		return -1;
	off = get16(eth + 12) == ETHERTYPE_IPV6 ?
	    PG_ETH_LEN + IP6_HDR_LEN + PG_UDP_LEN : PG_PAY_OFF;
	off += vh_len;
	return off + need <= len ? off : -1;
}

int
frame_get_seq(const char *p, int len, int vh_len, uint32_t *seq)
{
	int off = payload_offset(p, len, vh_len, PG_SEQ_OFF + 4);

	if (off < 0)
		return -1;
	*seq = get32((const uint8_t *)p + off + PG_SEQ_OFF);
	return 0;
}

int
frame_get_ts(const char *p, int len, int vh_len, struct timespec *ts)
{
	int off = payload_offset(p, len, vh_len, PG_TS_OFF + 8);
	const uint8_t *q;

	if (off < 0)
		return -1;
	q = (const uint8_t *)p + off + PG_TS_OFF;
	ts->tv_sec = get32(q);
	ts->tv_nsec = get32(q + 4);
	return 0;
}

/* Change a 32-bit address in the IP header, fixing the UDP checksum. */
static void
set_addr(struct pg_frame *f, int off, uint32_t v)
{
	uint8_t *ip = frame_eth(f) + PG_IP_OFF;
	uint8_t *csum = ip + PG_IP_LEN + 6;
	uint32_t old = get32(ip + off);

	put32(ip + off, v);
	if (f->udp_csum) {
		csum_replace16(csum, old >> 16, v >> 16, 1);
		csum_replace16(csum, old & 0xffff, v & 0xffff, 1);
	}
}

static void
set_port(struct pg_frame *f, int off, uint16_t v)
{
	uint8_t *udp = frame_eth(f) + PG_UDP_OFF;
	uint16_t old = get16(udp + off);

	put16(udp + off, v);
	if (f->udp_csum)
		csum_replace16(udp + 6, old, v, 1);
}

static uint32_t
rand32(unsigned short seed[3])
{
	return (uint32_t)nrand48(seed) << 16 ^ (uint32_t)nrand48(seed);
}

/*
 * Advance one endpoint (address at aoff, port at poff) to its next
 * value.  Ports move fastest, then addresses; returns 1 when the
 * endpoint wrapped around, so that the next one must advance too.
 */
static int
step_endpoint(struct targ *t, const struct ip_range *r, int random,
    int aoff, int poff)
{
	struct pg_frame *f = &t->frame;
	uint8_t *eth = frame_eth(f);
	uint32_t addr = get32(eth + PG_IP_OFF + aoff);
	uint16_t port = get16(eth + PG_UDP_OFF + poff);

	if (random) {
		set_addr(f, aoff, rand32(t->seed));
		set_port(f, poff, (uint16_t)rand32(t->seed));
		return 1;
	}
	if (port < r->port1) {
		set_port(f, poff, port + 1);
		return 0;
	}
	if (port != r->port0)
		set_port(f, poff, r->port0);
	if (addr < r->end) {
		set_addr(f, aoff, addr + 1);
		return 0;
	}
	if (addr != r->start)
		set_addr(f, aoff, r->start);
	return 1;
}

/* Move the template to the next source/destination combination. */
void
frame_next_addresses(struct targ *t)
{
	struct glob_arg *g = t->g;

	if (step_endpoint(t, &g->src_ip, g->options & OPT_RANDOM_SRC, 12, 0))
		step_endpoint(t, &g->dst_ip, g->options & OPT_RANDOM_DST,
		    16, 2);
	ip_csum_update(frame_eth(&t->frame) + PG_IP_OFF);
}

/* "a.b.c.d[:port]" into host-order address and port. */
static int
parse_endpoint(char *s, uint32_t *addr, uint16_t *port)
{
	struct in_addr a;
	char *colon = strchr(s, ':');

	if (colon != NULL) {
		*colon++ = '\0';
		*port = (uint16_t)strtol(colon, NULL, 0);
	}
	if (inet_pton(AF_INET, s, &a) != 1)
		return -1;
	*addr = ntohl(a.s_addr);
	return 0;
}

/*
 * Parse "addr[:port][-addr[:port]]" (default port 1234).  Returns 1 if
 * the range holds more than one endpoint, 0 if not, -1 on error.
 */
int
parse_ip_range(struct ip_range *r)
{
	char *s, *dash, a0[INET_ADDRSTRLEN], a1[INET_ADDRSTRLEN];
	struct in_addr ia;
	int err = 0;

	s = strdup(r->name);
	if (s == NULL)
		return -1;
	dash = strchr(s, '-');
	if (dash != NULL)
		*dash++ = '\0';
	r->port0 = 1234;
	err |= parse_endpoint(s, &r->start, &r->port0);
	r->end = r->start;
	r->port1 = r->port0;
	if (dash != NULL)
		err |= parse_endpoint(dash, &r->end, &r->port1);
	free(s);
	if (err) {
		PGLOG("invalid address range '%s'", r->name);
		return -1;
	}
	if (r->start > r->end) {
		uint32_t x = r->start;

		r->start = r->end;
		r->end = x;
	}
	if (r->port0 > r->port1) {
		uint16_t x = r->port0;

		r->port0 = r->port1;
		r->port1 = x;
	}
	ia.s_addr = htonl(r->start);
	inet_ntop(AF_INET, &ia, a0, sizeof(a0));
	ia.s_addr = htonl(r->end);
	inet_ntop(AF_INET, &ia, a1, sizeof(a1));
	PGLOG("range is %s:%d to %s:%d", a0, r->port0, a1, r->port1);
	return r->start != r->end || r->port0 != r->port1;
}

int
parse_mac(const char *s, uint8_t mac[6])
{
	unsigned int b[6];
	char tail;
	int i;

	if (sscanf(s, "%x:%x:%x:%x:%x:%x%c", &b[0], &b[1], &b[2], &b[3],
	    &b[4], &b[5], &tail) != 6) {
		PGLOG("invalid MAC address '%s'", s);
		return -1;
	}
	for (i = 0; i < 6; i++) {
		if (b[i] > 0xff) {
			PGLOG("invalid MAC address '%s'", s);
			return -1;
		}
		mac[i] = (uint8_t)b[i];
	}
	return 0;
}

/*
 * Hardware address of the interface behind ifname (a "netmap:" prefix
 * is ignored), formatted into buf.  0 found, 1 not found, -1 error.
 */
int
source_hwaddr(const char *ifname, char *buf, size_t len)
{
	struct ifaddrs *head, *ifa;
	int found = 0;

	if (strncmp(ifname, "netmap:", 7) == 0)
		ifname += 7;
	if (getifaddrs(&head) != 0) {
		PGLOG("getifaddrs %s failed", ifname);
		return -1;
	}
	for (ifa = head; ifa != NULL && !found; ifa = ifa->ifa_next) {
		const struct sockaddr_ll *sll;
		const unsigned char *m;

		if (ifa->ifa_addr == NULL ||
		    ifa->ifa_addr->sa_family != AF_PACKET ||
		    strncmp(ifa->ifa_name, ifname, IFNAMSIZ) != 0)
			continue;
		sll = (const struct sockaddr_ll *)(const void *)ifa->ifa_addr;
		m = sll->sll_addr;
		snprintf(buf, len, "%02x:%02x:%02x:%02x:%02x:%02x",
		    m[0], m[1], m[2], m[3], m[4], m[5]);
		if (verbose)
			PGLOG("source hwaddr %s", buf);
		found = 1;
	}
	freeifaddrs(head);
	return found ? 0 : 1;
}

/* -X: slot header line, then offset, 16 hex bytes and their ASCII. */
void
dump_payload(const char *p, int len, struct netmap_ring *ring, int cur)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *u = (const unsigned char *)p;
	char line[96];
	int i, j, n, col;

	printf("ring %p cur %5d [buf %6d flags 0x%04x len %5d]\n",
	    (void *)ring, cur, ring->slot[cur].buf_idx,
	    ring->slot[cur].flags, len);
	for (i = 0; i < len; i += 16) {
		n = len - i < 16 ? len - i : 16;
		memset(line, ' ', sizeof(line));
		col = snprintf(line, sizeof(line), "%5d: ", i);
		line[col] = ' ';
		for (j = 0; j < n; j++) {
			line[col + 3 * j] = hex[u[i + j] >> 4];
			line[col + 3 * j + 1] = hex[u[i + j] & 0xf];
			line[col + 48 + j] = isprint(u[i + j]) ?
			    (char)u[i + j] : '.';
		}
		line[col + 48 + n] = '\0';
		printf("%s\n", line);
	}
}
