/*
 * unetmap -- userspace helpers for netmap clients.
 *
 * Address arithmetic on the shared region (NETMAP_IF, NETMAP_TXRING,
 * NETMAP_RXRING, NETMAP_BUF, ...), ring index helpers, and -- when the
 * includer defines NETMAP_WITH_LIBS -- the legacy pcap-like library
 * (nm_open, nm_dispatch, nm_inject, ...). Everything here is a macro or a
 * static inline function that only calls libc, so it is compiled into the
 * client and no netmap-specific symbol is needed at link time.
 *
 * Typical use:
 *
 *	nifp = NETMAP_IF(mem, reg.nr_offset);
 *	ring = NETMAP_RXRING(nifp, 0);
 *	while (!nm_ring_empty(ring)) {
 *		struct netmap_slot *s = &ring->slot[ring->cur];
 *		consume(NETMAP_BUF(ring, s->buf_idx), s->len);
 *		ring->head = ring->cur = nm_ring_next(ring, ring->cur);
 *	}
 */
#ifndef _NET_NETMAP_USER_H_
#define _NET_NETMAP_USER_H_

#include <stdint.h>
#include <stddef.h>
#include <stdio.h>
#include <ctype.h>
#include <string.h>
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/time.h>
#ifndef IFNAMSIZ
#include <net/if.h>		/* IFNAMSIZ */
#endif

#include "netmap.h"

/** Path of the netmap control device. */
#define NETMAP_DEVICE_NAME	"/dev/netmap"

#ifndef likely
/** Branch hint: condition usually true. */
#define likely(x)	__builtin_expect(!!(x), 1)
/** Branch hint: condition usually false. */
#define unlikely(x)	__builtin_expect(!!(x), 0)
#endif

/** Pointer of type @p type located @p offset bytes after @p ptr. */
#define _NETMAP_OFFSET(type, ptr, offset) \
	((type)(void *)((char *)(ptr) + (offset)))

/** The netmap_if of a registration: region base plus nr_offset. */
#define NETMAP_IF(_base, _ofs)	_NETMAP_OFFSET(struct netmap_if *, _base, _ofs)

/** TX ring @p index (hardware rings first, then host rings). */
#define NETMAP_TXRING(nifp, index) \
	_NETMAP_OFFSET(struct netmap_ring *, nifp, (nifp)->ring_ofs[index])

/** RX ring @p index (hardware rings first, then host rings). */
#define NETMAP_RXRING(nifp, index) \
	_NETMAP_OFFSET(struct netmap_ring *, nifp, \
		(nifp)->ring_ofs[(index) + (nifp)->ni_tx_rings + \
				 (nifp)->ni_host_tx_rings])

/** Address of buffer @p index; any ring of the region can translate it. */
#define NETMAP_BUF(ring, index) \
	((char *)(ring) + (ring)->buf_ofs + \
	 ((size_t)(index) * (ring)->nr_buf_size))

/** Index of the buffer that starts at @p buf (inverse of NETMAP_BUF). */
#define NETMAP_BUF_IDX(ring, buf) \
	(((char *)(buf) - ((char *)(ring) + (ring)->buf_ofs)) / \
	 (ring)->nr_buf_size)

/** Data offset stored in @p slot (bits of ptr selected by offset_mask). */
#define NETMAP_ROFFSET(ring, slot) \
	((slot)->ptr & (ring)->offset_mask)

/** Store @p offset into the offset bits of @p slot, keeping the other bits. */
#define NETMAP_WOFFSET(ring, slot, offset) \
	do { \
		(slot)->ptr = ((slot)->ptr & ~(ring)->offset_mask) | \
			((offset) & (ring)->offset_mask); \
	} while (0)

/** Start of the packet data of @p slot: its buffer plus its offset. */
#define NETMAP_BUF_OFFSET(ring, slot) \
	(NETMAP_BUF(ring, (slot)->buf_idx) + NETMAP_ROFFSET(ring, slot))

/** Index following @p i in ring @p r, wrapping at num_slots. */
static inline uint32_t
nm_ring_next(struct netmap_ring *r, uint32_t i)
{
	return unlikely(i + 1 == r->num_slots) ? 0 : i + 1;
}

/**
 * Nonzero while a TX ring still has slots in flight; a drained TX ring has
 * head one slot after tail.
 */
static inline int
nm_tx_pending(struct netmap_ring *r)
{
	return nm_ring_next(r, r->tail) != r->head;
}

/** Slots currently available to the user, from head up to tail. */
static inline uint32_t
nm_ring_space(struct netmap_ring *ring)
{
	int64_t n = (int64_t)ring->tail - (int64_t)ring->head;

	if (n < 0)
		n += ring->num_slots;
	return (uint32_t)n;
}

#ifndef ND
/** Debug print that compiles to nothing. */
#define ND(_fmt, ...) do {} while (0)
/** Debug print to stderr with a timestamp, function and line. */
#define D(_fmt, ...) \
	do { \
		struct timeval _nm_d_tv; \
		gettimeofday(&_nm_d_tv, NULL); \
		fprintf(stderr, "%03d.%06d %s [%d] " _fmt "\n", \
			(int)(_nm_d_tv.tv_sec % 1000), \
			(int)_nm_d_tv.tv_usec, __func__, __LINE__, \
			##__VA_ARGS__); \
	} while (0)
/** Like D(), but at most @p lps messages per second from this call site. */
#define RD(lps, _fmt, ...) \
	do { \
		static time_t _nm_rd_sec; \
		static int _nm_rd_cnt; \
		struct timeval _nm_rd_tv; \
		gettimeofday(&_nm_rd_tv, NULL); \
		if (_nm_rd_sec != _nm_rd_tv.tv_sec) { \
			_nm_rd_sec = _nm_rd_tv.tv_sec; \
			_nm_rd_cnt = 0; \
		} \
		if (_nm_rd_cnt++ < (lps)) \
			D(_fmt, ##__VA_ARGS__); \
	} while (0)
#endif /* !ND */

/**
 * Copy @p l bytes of packet data. Short lengths that are a multiple of 64
 * are copied in whole 64-byte blocks; everything else uses memcpy.
 * Source and destination must not overlap.
 */
static inline void
nm_pkt_copy(const void *_src, void *_dst, int l)
{
	const char *src = (const char *)_src;
	char *dst = (char *)_dst;

	if (l <= 0)
		return;
	if (unlikely(l >= 1024 || (l & 63) != 0)) {
		memcpy(dst, src, (size_t)l);
		return;
	}
	while (l > 0) {
		memcpy(dst, src, 64);
		dst += 64;
		src += 64;
		l -= 64;
	}
}

#ifdef NETMAP_WITH_LIBS
#ifndef HAVE_NETMAP_WITH_LIBS
#define HAVE_NETMAP_WITH_LIBS

/*
 * ------------------------------------------------------------------------
 * Legacy pcap-like library (nm_open & co.).
 *
 * Ports are registered with the legacy NIOCREGIF ioctl and a struct nmreq.
 * ------------------------------------------------------------------------
 */

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>

struct nm_desc;

/** Per-packet metadata; starts like struct pcap_pkthdr. */
struct nm_pkthdr {
	struct timeval	ts;		/**< ring timestamp of the packet */
	uint32_t	caplen;		/**< contiguous bytes available at buf */
	uint32_t	len;		/**< total packet length */

	uint64_t	flags;		/**< NM_MORE_PKTS */
	struct nm_desc	*d;		/**< descriptor the packet came from */
	struct netmap_slot *slot;	/**< first slot of the packet */
	uint8_t		*buf;		/**< packet data */
};

/** nm_pkthdr.flags: more packets follow in the same nm_dispatch() call. */
#define NM_MORE_PKTS	1

/** Counters, laid out like struct pcap_stat. */
struct nm_stat {
	unsigned int	ps_recv;
	unsigned int	ps_drop;
	unsigned int	ps_ifdrop;
};

/** Size of nm_desc.msg. */
#define NM_ERRBUF_SIZE	512

/** An open port: descriptor, mapping and ring range (760 bytes). */
struct nm_desc {
	struct nm_desc	*self;		/**< points to itself when valid */
	int		fd;		/**< netmap file descriptor */
	void		*mem;		/**< base of the mapped region */
	size_t		memsize;	/**< size of the mapped region */
	int		done_mmap;	/**< mem was mapped by this descriptor */
	struct netmap_if * const nifp;	/**< this registration's netmap_if */
	uint16_t	first_tx_ring, last_tx_ring, cur_tx_ring;
	uint16_t	first_rx_ring, last_rx_ring, cur_rx_ring;
	struct nmreq	req;		/**< registration request and reply */
	struct nm_pkthdr hdr;		/**< header handed to nm_dispatch callbacks */

	struct netmap_ring * const some_ring;	/**< a ring for index translation */
	void * const	buf_start;	/**< first buffer of the region */
	void * const	buf_end;	/**< end of the region */

	int		snaplen;	/**< pcap_open_live() parameters */
	int		promisc;
	int		to_ms;
	char		*errbuf;

	uint32_t	if_flags;	/**< interface state to restore */
	uint32_t	if_reqcap;
	uint32_t	if_curcap;

	struct nm_stat	st;		/**< counters */
	char		msg[NM_ERRBUF_SIZE];	/**< error message */
};

/** View any pointer as a descriptor. */
#define P2NMD(p)		((const struct nm_desc *)(p))
/** Nonzero if @p d is a valid descriptor returned by nm_open(). */
#define IS_NETMAP_DESC(d)	((d) && P2NMD(d)->self == P2NMD(d))
/** File descriptor of a descriptor. */
#define NETMAP_FD(d)		(P2NMD(d)->fd)

/** Per-packet callback of nm_dispatch(), same shape as pcap_handler. */
typedef void (*nm_cb_t)(unsigned char *, const struct nm_pkthdr *,
			const unsigned char *d);

/**
 * Flags of nm_open(): which fields to inherit from the parent descriptor.
 * NETMAP_NO_TX_POLL and NETMAP_DO_RX_POLL may be OR-ed in as well.
 */
enum {
	NM_OPEN_NO_MMAP =	0x040000, /**< reuse the parent's mapping */
	NM_OPEN_IFNAME =	0x080000, /**< name/ringid/flags from req or parent */
	NM_OPEN_ARG1 =		0x100000, /**< nr_arg1 from the parent */
	NM_OPEN_ARG2 =		0x200000, /**< nr_arg2 (memory id) from the parent */
	NM_OPEN_ARG3 =		0x400000, /**< nr_arg3 (extra buffers) from the parent */
	NM_OPEN_RING_CFG =	0x800000, /**< ring and slot counts from the parent */
};

#ifndef MAXERRMSG
/** Size of the error buffer filled in by nm_parse(). */
#define MAXERRMSG	80
#endif

static inline int nm_close(struct nm_desc *);
static inline int nm_mmap(struct nm_desc *, const struct nm_desc *);

/** Nonzero if [s, e) contains only letters, digits and '_'. */
static inline int
nm_is_identifier(const char *s, const char *e)
{
	for (; s < e; s++) {
		if (!isalnum((unsigned char)*s) && *s != '_')
			return 0;
	}
	return 1;
}

/**
 * Read a decimal number at *pp into *val, advancing *pp past it.
 * Returns 0, or -1 if there is no digit or the value exceeds @p max.
 */
static inline int
nm_parse_num(const char **pp, long max, long *val)
{
	const char *p = *pp;
	long v = 0;

	if (!isdigit((unsigned char)*p))
		return -1;
	for (; isdigit((unsigned char)*p); p++) {
		v = v * 10 + (*p - '0');
		if (v > max)
			return -1;
	}
	*pp = p;
	*val = v;
	return 0;
}

/**
 * Parse a legacy port name into d->req.
 *
 * Grammar: "netmap:NAME" (NAME sent without the prefix) or
 * "valeB:P" (sent whole; B and P made of [A-Za-z0-9_]), followed by at most
 * one of ^ (host rings), * (hardware and host rings), -N (hardware ring
 * pair N), {N / }N (pipe master / slave N), then any sequence of
 * "/flags" (x z t r R T) and "@memid". Numbers are plain decimal: N in
 * [0, NETMAP_RING_MASK), memid in [1, 65535]; a missing number is an error.
 *
 * The mode and flags are OR-ed into d->req.nr_flags, the ring number into
 * d->req.nr_ringid, and the memid replaces d->req.nr_arg2. Returns 0, or -1
 * with errno EINVAL and a message in @p err (MAXERRMSG bytes) if not NULL.
 */
static inline int
nm_parse(const char *ifname, struct nm_desc *d, char *err)
{
	enum {
		NMP_START,	/* right after the name */
		NMP_SUFFIX_OK,	/* after a complete suffix: '/' or '@' may follow */
		NMP_NUMBER,	/* a ring/pipe number must follow */
		NMP_FLAGS,	/* right after '/' */
		NMP_FLAGS_OK,	/* after at least one flag letter */
		NMP_MEMID,	/* a memory id must follow */
	} state = NMP_START;
	char msg[MAXERRMSG] = "";
	const char *name, *p;
	uint32_t mode = NR_REG_ALL_NIC, flags = 0, ringid = 0;
	uint16_t memid = 0;
	size_t namelen;
	long num;

	if (ifname == NULL || d == NULL) {
		snprintf(msg, sizeof(msg), "missing argument");
		goto fail;
	}
	if (strncmp(ifname, "netmap:", 7) == 0) {
		name = ifname + 7;
		p = name;
	} else if (strncmp(ifname, NM_BDG_NAME, strlen(NM_BDG_NAME)) == 0) {
		const char *colon = strchr(ifname, ':');

		if (colon == NULL) {
			snprintf(msg, sizeof(msg), "missing ':' in VALE name");
			goto fail;
		}
		if (!nm_is_identifier(ifname + strlen(NM_BDG_NAME), colon)) {
			snprintf(msg, sizeof(msg), "invalid switch name");
			goto fail;
		}
		name = ifname;
		p = colon + 1;
	} else {
		snprintf(msg, sizeof(msg), "not a netmap port name");
		goto fail;
	}

	/* the name ends at the first suffix character */
	{
		const char *port = p;

		while (*p != '\0' && strchr("-*^{}/@", *p) == NULL)
			p++;
		if (name == ifname && !nm_is_identifier(port, p)) {
			snprintf(msg, sizeof(msg), "invalid VALE port name");
			goto fail;
		}
		if (p == port) {
			snprintf(msg, sizeof(msg), "empty port name");
			goto fail;
		}
	}
	namelen = (size_t)(p - name);
	if (namelen >= sizeof(d->req.nr_name)) {
		snprintf(msg, sizeof(msg), "name too long");
		goto fail;
	}

	while (*p != '\0') {
		char c = *p;

		switch (state) {
		case NMP_START:
			p++;
			if (c == '^') {
				mode = NR_REG_SW;
				state = NMP_SUFFIX_OK;
			} else if (c == '*') {
				mode = NR_REG_NIC_SW;
				state = NMP_SUFFIX_OK;
			} else if (c == '-') {
				mode = NR_REG_ONE_NIC;
				state = NMP_NUMBER;
			} else if (c == '{') {
				mode = NR_REG_PIPE_MASTER;
				state = NMP_NUMBER;
			} else if (c == '}') {
				mode = NR_REG_PIPE_SLAVE;
				state = NMP_NUMBER;
			} else if (c == '/') {
				state = NMP_FLAGS;
			} else if (c == '@') {
				state = NMP_MEMID;
			} else {
				snprintf(msg, sizeof(msg),
					 "unknown modifier '%c'", c);
				goto fail;
			}
			break;
		case NMP_SUFFIX_OK:
			p++;
			if (c == '/') {
				state = NMP_FLAGS;
			} else if (c == '@') {
				state = NMP_MEMID;
			} else {
				snprintf(msg, sizeof(msg),
					 "unexpected character '%c'", c);
				goto fail;
			}
			break;
		case NMP_NUMBER:
			if (nm_parse_num(&p, NETMAP_RING_MASK - 1, &num) < 0) {
				snprintf(msg, sizeof(msg),
					 "ring number must be in [0, %d)",
					 NETMAP_RING_MASK);
				goto fail;
			}
			ringid = (uint32_t)num & NETMAP_RING_MASK;
			state = NMP_SUFFIX_OK;
			break;
		case NMP_FLAGS:
		case NMP_FLAGS_OK:
			p++;
			switch (c) {
			case '@':
				state = NMP_MEMID;
				continue;
			case 'x':
				flags |= NR_EXCLUSIVE;
				break;
			case 'z':
				flags |= NR_ZCOPY_MON;
				break;
			case 't':
				flags |= NR_MONITOR_TX;
				break;
			case 'r':
				flags |= NR_MONITOR_RX;
				break;
			case 'R':
				flags |= NR_RX_RINGS_ONLY;
				break;
			case 'T':
				flags |= NR_TX_RINGS_ONLY;
				break;
			default:
				snprintf(msg, sizeof(msg),
					 "unknown flag '%c'", c);
				goto fail;
			}
			state = NMP_FLAGS_OK;
			break;
		case NMP_MEMID:
			if (memid != 0) {
				snprintf(msg, sizeof(msg), "memid given twice");
				goto fail;
			}
			if (nm_parse_num(&p, UINT16_MAX, &num) < 0 || num == 0) {
				snprintf(msg, sizeof(msg),
					 "memid must be in [1, %d]", UINT16_MAX);
				goto fail;
			}
			memid = (uint16_t)num;
			state = NMP_SUFFIX_OK;
			break;
		}
	}
	if (state != NMP_START && state != NMP_SUFFIX_OK &&
	    state != NMP_FLAGS_OK) {
		snprintf(msg, sizeof(msg), "incomplete suffix");
		goto fail;
	}

	memcpy(d->req.nr_name, name, namelen);
	d->req.nr_name[namelen] = '\0';
	d->req.nr_flags |= mode | flags;
	d->req.nr_ringid |= (uint16_t)ringid;
	d->req.nr_arg2 = memid;
	d->self = d;
	return 0;

fail:
	if (err != NULL)
		snprintf(err, MAXERRMSG, "%s", msg);
	errno = EINVAL;
	return -1;
}

/**
 * Unmap (if this descriptor mapped it), close and free a descriptor.
 * Returns 0, or EINVAL if @p d is not a valid descriptor.
 */
static inline int
nm_close(struct nm_desc *d)
{
	if (d == NULL || d->self != d)
		return EINVAL;
	if (d->done_mmap && d->mem != NULL)
		munmap(d->mem, d->memsize);
	if (d->fd != -1)
		close(d->fd);
	memset((void *)d, 0, sizeof(*d));
	free(d);
	return 0;
}

/**
 * Map the region of @p d, or borrow the mapping of @p parent when it is a
 * valid descriptor with a mapping of the same memory id (nr_arg2); then set
 * nifp, some_ring, buf_start and buf_end. Returns 0, or EINVAL with errno
 * from mmap().
 */
static inline int
nm_mmap(struct nm_desc *d, const struct nm_desc *parent)
{
	struct netmap_if *nifp;
	struct netmap_ring *r;

	if (d->done_mmap)
		return 0;
	if (IS_NETMAP_DESC(parent) && parent->mem != NULL &&
	    parent->req.nr_arg2 == d->req.nr_arg2) {
		d->mem = parent->mem;
		d->memsize = parent->memsize;
	} else {
		void *m;

		d->memsize = d->req.nr_memsize;
		m = mmap(NULL, d->memsize, PROT_READ | PROT_WRITE,
			 MAP_SHARED, d->fd, 0);
		if (m == MAP_FAILED)
			return EINVAL;
		d->mem = m;
		d->done_mmap = 1;
	}

	nifp = NETMAP_IF(d->mem, d->req.nr_offset);
	r = NETMAP_RXRING(nifp, d->first_rx_ring);
	if ((void *)r == (void *)nifp)	/* no RX ring bound: use a TX ring */
		r = NETMAP_TXRING(nifp, d->first_tx_ring);

	*(struct netmap_if **)(uintptr_t)&d->nifp = nifp;
	*(struct netmap_ring **)(uintptr_t)&d->some_ring = r;
	*(void **)(uintptr_t)&d->buf_start = NETMAP_BUF(r, 0);
	*(void **)(uintptr_t)&d->buf_end = (char *)d->mem + d->memsize;
	return 0;
}

/**
 * Open a netmap port.
 *
 * @p ifname must start with "netmap:" or "vale"; any other name returns
 * NULL with errno 0 ("not a netmap port"). @p req, if given, supplies the
 * initial request before the name is parsed. @p new_flags holds NM_OPEN_*
 * bits (fields to take from @p arg) and NETMAP_NO_TX_POLL /
 * NETMAP_DO_RX_POLL. Registers with NIOCREGIF, computes the ring range of
 * the mode and maps the region unless NM_OPEN_NO_MMAP is given without a
 * parent. Returns the descriptor, or NULL with errno set (EINVAL for a
 * malformed name, else the error of open(), ioctl() or mmap()).
 */
static inline struct nm_desc *
nm_open(const char *ifname, const struct nmreq *req, uint64_t new_flags,
	const struct nm_desc *arg)
{
	const struct nm_desc *parent = arg;
	struct nm_desc *d;
	uint32_t nr_reg;
	int saved;

	if (ifname == NULL ||
	    (strncmp(ifname, "netmap:", 7) != 0 &&
	     strncmp(ifname, NM_BDG_NAME, strlen(NM_BDG_NAME)) != 0)) {
		errno = 0;
		return NULL;
	}

	d = (struct nm_desc *)calloc(1, sizeof(*d));
	if (d == NULL) {
		errno = ENOMEM;
		return NULL;
	}
	d->self = d;
	d->fd = open(NETMAP_DEVICE_NAME, O_RDWR);
	if (d->fd < 0)
		goto fail;

	if (req != NULL)
		d->req = *req;

	if (!(new_flags & NM_OPEN_IFNAME)) {
		if (nm_parse(ifname, d, NULL) < 0)
			goto fail;
	}

	d->req.nr_version = NETMAP_API;
	d->req.nr_ringid &= NETMAP_RING_MASK;

	if (IS_NETMAP_DESC(parent) && new_flags) {
		d->req.nr_arg1 = (new_flags & NM_OPEN_ARG1) ?
			parent->req.nr_arg1 : 4;
		if (new_flags & NM_OPEN_ARG2)
			d->req.nr_arg2 = parent->req.nr_arg2;
		d->req.nr_arg3 = (new_flags & NM_OPEN_ARG3) ?
			parent->req.nr_arg3 : 0;
		if (new_flags & NM_OPEN_RING_CFG) {
			d->req.nr_tx_slots = parent->req.nr_tx_slots;
			d->req.nr_rx_slots = parent->req.nr_rx_slots;
			d->req.nr_tx_rings = parent->req.nr_tx_rings;
			d->req.nr_rx_rings = parent->req.nr_rx_rings;
		}
		if (new_flags & NM_OPEN_IFNAME) {
			memcpy(d->req.nr_name, parent->req.nr_name,
			       sizeof(d->req.nr_name));
			d->req.nr_ringid = parent->req.nr_ringid;
			d->req.nr_flags = parent->req.nr_flags;
		}
	}
	d->req.nr_ringid |= (uint16_t)(new_flags &
				       (NETMAP_NO_TX_POLL | NETMAP_DO_RX_POLL));

	if (ioctl(d->fd, NIOCREGIF, &d->req) != 0)
		goto fail;

	nr_reg = d->req.nr_flags & NR_REG_MASK;
	if (nr_reg == NR_REG_SW) {
		/* the host rings follow the hardware ones */
		d->first_tx_ring = d->last_tx_ring = d->req.nr_tx_rings;
		d->first_rx_ring = d->last_rx_ring = d->req.nr_rx_rings;
	} else if (nr_reg == NR_REG_ALL_NIC) {
		d->first_tx_ring = 0;
		d->first_rx_ring = 0;
		d->last_tx_ring = (uint16_t)(d->req.nr_tx_rings - 1);
		d->last_rx_ring = (uint16_t)(d->req.nr_rx_rings - 1);
	} else if (nr_reg == NR_REG_NIC_SW) {
		d->first_tx_ring = 0;
		d->first_rx_ring = 0;
		d->last_tx_ring = d->req.nr_tx_rings;
		d->last_rx_ring = d->req.nr_rx_rings;
	} else if (nr_reg == NR_REG_ONE_NIC) {
		uint16_t r = d->req.nr_ringid & NETMAP_RING_MASK;

		d->first_tx_ring = d->last_tx_ring = r;
		d->first_rx_ring = d->last_rx_ring = r;
	} else {
		/* pipes and everything else: ring 0 */
		d->first_tx_ring = d->last_tx_ring = 0;
		d->first_rx_ring = d->last_rx_ring = 0;
	}

	if ((!(new_flags & NM_OPEN_NO_MMAP) || parent != NULL) &&
	    nm_mmap(d, parent) != 0)
		goto fail;

	d->cur_tx_ring = d->first_tx_ring;
	d->cur_rx_ring = d->first_rx_ring;
	return d;

fail:
	/* errno tells the caller what failed; the library never prints */
	saved = errno;
	nm_close(d);
	errno = saved != 0 ? saved : EINVAL;
	return NULL;
}

/**
 * Queue one packet on the first TX ring (starting from cur_tx_ring) that
 * has room for it, splitting it over several NS_MOREFRAG slots if it is
 * larger than a buffer, and advance head and cur past it. Nothing is sent
 * until the next txsync or poll(). Returns @p size, or 0 if no ring had room.
 */
static inline int
nm_inject(struct nm_desc *d, const void *buf, size_t size)
{
	unsigned int nrings = (unsigned int)(d->last_tx_ring -
					     d->first_tx_ring + 1);
	unsigned int k, ri = d->cur_tx_ring;

	for (k = 0; k < nrings; k++, ri++) {
		struct netmap_ring *ring;
		const char *src = (const char *)buf;
		size_t left = size;
		uint32_t i, last;

		if (ri > d->last_tx_ring)
			ri = d->first_tx_ring;
		ring = NETMAP_TXRING(d->nifp, ri);

		/* find the slot that will carry the last fragment */
		last = ring->cur;
		while (last != ring->tail && left > ring->nr_buf_size) {
			left -= ring->nr_buf_size;
			last = nm_ring_next(ring, last);
		}
		if (last == ring->tail)
			continue;	/* not enough room in this ring */

		for (i = ring->cur; i != last; i = nm_ring_next(ring, i)) {
			struct netmap_slot *s = &ring->slot[i];

			s->len = (uint16_t)ring->nr_buf_size;
			s->flags = NS_MOREFRAG;
			nm_pkt_copy(src, NETMAP_BUF(ring, s->buf_idx),
				    (int)ring->nr_buf_size);
			src += ring->nr_buf_size;
		}
		ring->slot[last].len = (uint16_t)left;
		ring->slot[last].flags = 0;
		nm_pkt_copy(src, NETMAP_BUF(ring, ring->slot[last].buf_idx),
			    (int)left);
		ring->head = ring->cur = nm_ring_next(ring, last);
		d->cur_tx_ring = (uint16_t)ri;
		return (int)size;
	}
	return 0;
}

/**
 * Deliver up to @p cnt received packets (all available if @p cnt <= 0) to
 * @p cb, walking the bound RX rings from cur_rx_ring, like pcap_dispatch().
 * A packet spanning several NS_MOREFRAG slots is delivered once: hdr.len
 * is the sum of its fragments, hdr.caplen covers the leading fragments that
 * are contiguous in memory. hdr.ts is the ring timestamp. Consumed slots
 * are released by advancing head and cur. Returns the number of packets.
 */
static inline int
nm_dispatch(struct nm_desc *d, int cnt, nm_cb_t cb, unsigned char *arg)
{
	int nrings = d->last_rx_ring - d->first_rx_ring + 1;
	int k, got = 0;
	unsigned int ri = d->cur_rx_ring;

	d->hdr.buf = NULL;
	d->hdr.flags = NM_MORE_PKTS;
	d->hdr.d = d;
	if (cnt <= 0)
		cnt = -1;	/* never reached */

	for (k = 0; k < nrings && got != cnt; k++, ri++) {
		struct netmap_ring *ring;

		if (ri > d->last_rx_ring)
			ri = d->first_rx_ring;
		ring = NETMAP_RXRING(d->nifp, ri);

		while (!nm_ring_empty(ring) && got != cnt) {
			uint32_t i = ring->cur;
			struct netmap_slot *slot = &ring->slot[i];
			unsigned char *contig;

			/* the previous packet is not the last one: hand it over */
			if (d->hdr.buf != NULL)
				cb(arg, &d->hdr, d->hdr.buf);

			d->cur_rx_ring = (uint16_t)ri;
			d->hdr.slot = slot;
			d->hdr.buf = (uint8_t *)NETMAP_BUF(ring, slot->buf_idx);
			d->hdr.len = d->hdr.caplen = slot->len;
			contig = d->hdr.buf;
			while ((slot->flags & NS_MOREFRAG) &&
			       nm_ring_next(ring, i) != ring->tail) {
				unsigned char *nb;
				uint32_t prev_len = slot->len;

				i = nm_ring_next(ring, i);
				slot = &ring->slot[i];
				d->hdr.len += slot->len;
				nb = (unsigned char *)NETMAP_BUF(ring,
								slot->buf_idx);
				if (contig != NULL &&
				    prev_len == ring->nr_buf_size &&
				    nb == contig + ring->nr_buf_size) {
					d->hdr.caplen += slot->len;
					contig = nb;
				} else {
					contig = NULL;
				}
			}
			d->hdr.ts = ring->ts;
			ring->head = ring->cur = nm_ring_next(ring, i);
			got++;
		}
	}
	if (d->hdr.buf != NULL) {
		d->hdr.flags = 0;
		cb(arg, &d->hdr, d->hdr.buf);
	}
	return got;
}

/**
 * Return the next received slot (one slot, no fragment reassembly), like
 * pcap_next(): fills hdr->ts, hdr->len and hdr->caplen and releases the
 * slot. Returns NULL when every bound RX ring is empty.
 */
static inline unsigned char *
nm_nextpkt(struct nm_desc *d, struct nm_pkthdr *hdr)
{
	int nrings = d->last_rx_ring - d->first_rx_ring + 1;
	unsigned int ri = d->cur_rx_ring;
	int k;

	for (k = 0; k < nrings; k++) {
		struct netmap_ring *ring;

		if (ri > d->last_rx_ring || ri < d->first_rx_ring)
			ri = d->first_rx_ring;
		ring = NETMAP_RXRING(d->nifp, ri);
		if (!nm_ring_empty(ring)) {
			uint32_t i = ring->cur;
			struct netmap_slot *slot = &ring->slot[i];

			hdr->ts = ring->ts;
			hdr->len = hdr->caplen = slot->len;
			ring->head = ring->cur = nm_ring_next(ring, i);
			d->cur_rx_ring = (uint16_t)ri;
			return (unsigned char *)NETMAP_BUF(ring, slot->buf_idx);
		}
		ri++;
	}
	return NULL;
}

#endif /* !HAVE_NETMAP_WITH_LIBS */
#endif /* NETMAP_WITH_LIBS */

#endif /* _NET_NETMAP_USER_H_ */
