/*
 * pcap and pcapng writers.
 *
 * Both formats are written in the host's byte order (each announces it:
 * the pcap magic number, the pcapng byte-order magic) with nanosecond
 * timestamps:
 *
 *  pcap    24-byte header, magic 0xa1b23c4d (nanoseconds), version 2.4,
 *          snaplen, link type 1; then per frame a 16-byte record header
 *          (seconds, nanoseconds, caplen, origlen) and caplen bytes.
 *  pcapng  one Section Header Block, one Interface Description Block
 *          (if_name = the port, if_tsresol = 9, i.e. 10^-9 s), then one
 *          Enhanced Packet Block per frame (64-bit nanoseconds since the
 *          epoch, caplen, origlen, data padded to 4 bytes).
 *
 * Records go into a buffer that is large enough for the biggest one, and
 * the buffer goes out with write(2) when full or when asked (sf_flush).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "capture.h"

#define SF_BUF_SIZE		(1u << 20)

#define PCAP_MAGIC_NSEC		0xa1b23c4du
#define PCAP_VERSION_MAJOR	2
#define PCAP_VERSION_MINOR	4

#define PCAPNG_SHB		0x0a0d0d0au
#define PCAPNG_IDB		0x00000001u
#define PCAPNG_EPB		0x00000006u
#define PCAPNG_BYTE_ORDER	0x1a2b3c4du
#define PCAPNG_OPT_END		0
#define PCAPNG_SHB_USERAPPL	4
#define PCAPNG_IF_NAME		2
#define PCAPNG_IF_TSRESOL	9
/* an EPB without options: type, length, interface, ts high, ts low,
 * caplen, origlen, then the data, then the length again */
#define PCAPNG_EPB_FIXED	(7 * 4 + 4)

static inline uint32_t pad4(uint32_t n)
{
	return (n + 3u) & ~3u;
}

static int write_all(int fd, const unsigned char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

int sf_flush(struct savefile *sf)
{
	if (sf->err)
		return -1;
	if (sf->len == 0)
		return 0;
	if (write_all(sf->fd, sf->buf, sf->len) < 0) {
		sf->err = errno;
		return -1;
	}
	sf->bytes += sf->len;
	sf->len = 0;
	return 0;
}

/* Room for N more bytes in the buffer (N <= sf->cap), flushing if needed. */
static unsigned char *sf_room(struct savefile *sf, size_t n)
{
	if (sf->cap - sf->len < n && sf_flush(sf) < 0)
		return NULL;
	return sf->buf + sf->len;
}

static inline unsigned char *put32(unsigned char *p, uint32_t v)
{
	memcpy(p, &v, 4);
	return p + 4;
}

static inline unsigned char *put16(unsigned char *p, uint16_t v)
{
	memcpy(p, &v, 2);
	return p + 2;
}

/* one pcapng option: code, length, value padded to 4 bytes */
static unsigned char *put_opt(unsigned char *p, uint16_t code,
			      const void *val, uint16_t len)
{
	p = put16(p, code);
	p = put16(p, len);
	if (len > 0)
		memcpy(p, val, len);
	memset(p + len, 0, pad4(len) - len);
	return p + pad4(len);
}

static int write_pcap_header(struct savefile *sf)
{
	unsigned char *p = sf_room(sf, 24);

	if (p == NULL)
		return -1;
	p = put32(p, PCAP_MAGIC_NSEC);
	p = put16(p, PCAP_VERSION_MAJOR);
	p = put16(p, PCAP_VERSION_MINOR);
	p = put32(p, 0);		/* thiszone: UTC */
	p = put32(p, 0);		/* sigfigs */
	p = put32(p, sf->snaplen);
	put32(p, CAP_LINKTYPE_ETHERNET);
	sf->len += 24;
	return 0;
}

static int write_pcapng_header(struct savefile *sf, const char *ifname)
{
	static const char appl[] = CAP_PROG " (unetmap)";
	const uint8_t tsresol = 9;
	size_t nlen = strlen(ifname);
	uint32_t shb_len, idb_len;
	unsigned char *p, *start;

	if (nlen > 255)		/* a port name is far shorter */
		nlen = 255;
	shb_len = 4 + 4 + 4 + 2 + 2 + 8 +
		  4 + pad4(sizeof(appl) - 1) + 4 + 4;
	idb_len = 4 + 4 + 2 + 2 + 4 +
		  4 + pad4((uint32_t)nlen) + 4 + pad4(1) + 4 + 4;
	p = start = sf_room(sf, shb_len + idb_len);
	if (p == NULL)
		return -1;
	/* Section Header Block; section length unknown (-1) */
	p = put32(p, PCAPNG_SHB);
	p = put32(p, shb_len);
	p = put32(p, PCAPNG_BYTE_ORDER);
	p = put16(p, 1);
	p = put16(p, 0);
	p = put32(p, 0xffffffffu);
	p = put32(p, 0xffffffffu);
	p = put_opt(p, PCAPNG_SHB_USERAPPL, appl, sizeof(appl) - 1);
	p = put_opt(p, PCAPNG_OPT_END, NULL, 0);
	p = put32(p, shb_len);
	/* Interface Description Block: Ethernet, our snaplen, ns stamps */
	p = put32(p, PCAPNG_IDB);
	p = put32(p, idb_len);
	p = put16(p, CAP_LINKTYPE_ETHERNET);
	p = put16(p, 0);
	p = put32(p, sf->snaplen);
	p = put_opt(p, PCAPNG_IF_NAME, ifname, (uint16_t)nlen);
	p = put_opt(p, PCAPNG_IF_TSRESOL, &tsresol, 1);
	p = put_opt(p, PCAPNG_OPT_END, NULL, 0);
	p = put32(p, idb_len);
	sf->len += (size_t)(p - start);
	return 0;
}

int sf_open(struct savefile *sf, const char *path, enum cap_format format,
	    uint32_t snaplen, const char *ifname)
{
	memset(sf, 0, sizeof(*sf));
	sf->fd = -1;
	sf->format = format;
	sf->snaplen = snaplen;
	/* the largest record (a pcapng EPB of snaplen bytes) always fits */
	sf->cap = SF_BUF_SIZE;
	if (sf->cap < (size_t)snaplen + 256)
		sf->cap = (size_t)snaplen + 256;
	sf->buf = malloc(sf->cap);
	if (sf->buf == NULL) {
		fprintf(stderr, "%s: out of memory\n", CAP_PROG);
		return -1;
	}
	if (path == NULL || strcmp(path, "-") == 0) {
		sf->fd = STDOUT_FILENO;
	} else {
		sf->fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		if (sf->fd < 0) {
			fprintf(stderr, "%s: cannot create %s: %s\n", CAP_PROG,
				path, strerror(errno));
			free(sf->buf);
			sf->buf = NULL;
			return -1;
		}
		sf->own_fd = 1;
	}
	if ((format == CAP_FMT_PCAP ? write_pcap_header(sf)
				    : write_pcapng_header(sf, ifname)) < 0 ||
	    sf_flush(sf) < 0) {
		fprintf(stderr, "%s: write error: %s\n", CAP_PROG,
			strerror(sf->err));
		sf_close(sf);
		return -1;
	}
	return 0;
}

int sf_packet(struct savefile *sf, const struct timespec *ts,
	      const void *data, uint32_t caplen, uint64_t origlen)
{
	uint32_t olen = origlen > UINT32_MAX ? UINT32_MAX : (uint32_t)origlen;
	unsigned char *p;

	if (caplen > sf->snaplen)
		caplen = sf->snaplen;
	if (sf->format == CAP_FMT_PCAP) {
		p = sf_room(sf, 16 + (size_t)caplen);
		if (p == NULL)
			return -1;
		p = put32(p, (uint32_t)ts->tv_sec);
		p = put32(p, (uint32_t)ts->tv_nsec);
		p = put32(p, caplen);
		p = put32(p, olen);
		memcpy(p, data, caplen);
		sf->len += 16 + (size_t)caplen;
	} else {
		uint32_t blen = PCAPNG_EPB_FIXED + pad4(caplen);
		uint64_t ns = (uint64_t)ts->tv_sec * 1000000000u +
			      (uint64_t)ts->tv_nsec;

		p = sf_room(sf, blen);
		if (p == NULL)
			return -1;
		p = put32(p, PCAPNG_EPB);
		p = put32(p, blen);
		p = put32(p, 0);		/* interface 0 */
		p = put32(p, (uint32_t)(ns >> 32));
		p = put32(p, (uint32_t)ns);
		p = put32(p, caplen);
		p = put32(p, olen);
		memcpy(p, data, caplen);
		memset(p + caplen, 0, pad4(caplen) - caplen);
		p += pad4(caplen);
		put32(p, blen);
		sf->len += blen;
	}
	return 0;
}

int sf_close(struct savefile *sf)
{
	int rc = 0;

	if (sf->buf != NULL && sf_flush(sf) < 0)
		rc = -1;
	if (sf->own_fd && sf->fd >= 0 && close(sf->fd) < 0) {
		if (!sf->err)
			sf->err = errno;
		rc = -1;
	}
	if (sf->err)
		rc = -1;
	sf->fd = -1;
	free(sf->buf);
	sf->buf = NULL;
	return rc;
}
