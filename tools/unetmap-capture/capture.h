/*
 * unetmap-capture: declarations shared by its source files.
 *
 *   main.c      command line, the receive loop, counters, signals
 *   savefile.c  pcap and pcapng writers (our own code, no libpcap)
 *   filter.c    BPF filters compiled by libpcap loaded with dlopen()
 */
#ifndef UNETMAP_CAPTURE_H
#define UNETMAP_CAPTURE_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define CAP_PROG		"unetmap-capture"
/* libpcap's MAXIMUM_SNAPLEN: readers refuse records longer than this for
 * Ethernet, so it is also our upper bound and default */
#define CAP_MAX_SNAPLEN		262144u
#define CAP_LINKTYPE_ETHERNET	1

enum cap_format { CAP_FMT_PCAP, CAP_FMT_PCAPNG };

/* ---- savefile.c --------------------------------------------------------- */

/* An output file being written through a private buffer. */
struct savefile {
	int fd;
	int own_fd;		/* close fd at the end (not stdout) */
	enum cap_format format;
	uint32_t snaplen;
	unsigned char *buf;	/* pending bytes */
	size_t len, cap;
	uint64_t bytes;		/* written to fd so far */
	int err;		/* errno of the first failed write, 0 if none */
};

/* Open PATH (NULL or "-": standard output) and write the file header(s);
 * IFNAME names the interface in a pcapng file.  -1 with a message printed
 * on failure. */
int sf_open(struct savefile *sf, const char *path, enum cap_format format,
	    uint32_t snaplen, const char *ifname);
/* Append one record: CAPLEN bytes of DATA (caplen <= snaplen) of a frame
 * that had ORIGLEN bytes, received at TS (CLOCK_REALTIME).  -1 on a write
 * error (sf->err says which). */
int sf_packet(struct savefile *sf, const struct timespec *ts,
	      const void *data, uint32_t caplen, uint64_t origlen);
/* Hand the buffered bytes to the kernel.  -1 on a write error. */
int sf_flush(struct savefile *sf);
/* Nothing buffered? */
static inline int sf_pending(const struct savefile *sf) { return sf->len != 0; }
/* Flush, close, free.  -1 if anything failed on the way (sf->err). */
int sf_close(struct savefile *sf);

/* ---- filter.c ----------------------------------------------------------- */

struct cap_filter;

/* Compile EXPR for Ethernet frames captured with SNAPLEN, with libpcap
 * loaded at run time.  NULL with a message printed if libpcap is missing
 * or the expression is wrong. */
struct cap_filter *filter_compile(const char *expr, uint32_t snaplen);
/* Non-zero if the frame (CAPLEN bytes at DATA of ORIGLEN) passes. */
int filter_match(struct cap_filter *f, const struct timespec *ts,
		 const void *data, uint32_t caplen, uint64_t origlen);
void filter_free(struct cap_filter *f);

#endif
