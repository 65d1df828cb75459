/*
 * pkt-gen: traffic source and sink for netmap ports (unetmap edition).
 *
 * Command line, log lines and summaries follow upstream netmap's pkt-gen
 * so that scripts written for it keep working.  The program is split in
 * three parts:
 *	main.c		options, port setup, threads, periodic reports
 *	frame.c		frame template, checksums, address ranges, hexdump
 *	workers.c	the per-thread loops (tx/txseq, rx/rxseq, ping, pong)
 */
#ifndef PKT_GEN_H
#define PKT_GEN_H

#include <pthread.h>
#include <stdint.h>
#include <time.h>

#include <net/netmap_user.h>
#include <libnetmap.h>

/* Frame geometry: Ethernet + IPv4 + UDP, then the payload. */
#define PG_ETH_LEN	14
#define PG_IP_OFF	PG_ETH_LEN
#define PG_IP_LEN	20
#define PG_UDP_OFF	(PG_IP_OFF + PG_IP_LEN)
#define PG_UDP_LEN	8
#define PG_PAY_OFF	(PG_UDP_OFF + PG_UDP_LEN)	/* 42 */
#define PG_SEQ_OFF	0	/* payload offset of the sequence number */
#define PG_TS_OFF	4	/* payload offset of the timestamp */

#define PG_VH_MAX	12		/* longest virtio-net header */
#define PG_MAX_PKT	65536		/* -l upper bound */
#define PG_MIN_PKT	16		/* -l lower bound */
#define PG_MAX_FRAGS	64		/* NETMAP_MAX_FRAGS */
#define PG_STATS_WIN	15		/* -A sliding window */

/* -o bits (upstream values). */
#define OPT_PREFETCH	1
#define OPT_ACCESS	2
#define OPT_COPY	4
#define OPT_MEMCPY	8
#define OPT_TS		16
#define OPT_INDIRECT	32
#define OPT_DUMP	64
#define OPT_RUBBISH	256
#define OPT_RANDOM_SRC	512
#define OPT_RANDOM_DST	1024
#define OPT_PPS_STATS	2048
#define OPT_UPDATE_CSUM	4096

enum td_type {
	TD_TYPE_SENDER = 1,
	TD_TYPE_RECEIVER,
	TD_TYPE_OTHER,
};

/* Counters a worker publishes and the reporting thread samples. */
struct pg_ctrs {
	uint64_t pkts;
	uint64_t bytes;
	uint64_t events;
	uint64_t min_space;
};

/* An IPv4 address range plus a port range, host byte order. */
struct ip_range {
	const char *name;
	uint32_t start, end;
	uint16_t port0, port1;
};

/*
 * The frame a thread sends.  buf holds room for the longest virtio-net
 * header followed by the Ethernet frame; data points at the first byte
 * that goes into a slot (the header, if any, then the Ethernet header).
 */
struct pg_frame {
	uint8_t *data;
	int vh_len;		/* bytes of virtio-net header in front */
	int pkt_len;		/* Ethernet frame length, no CRC */
	int len;		/* vh_len + pkt_len: what a slot carries */
	int udp_csum;		/* UDP checksum maintained (0: sent as 0) */
	uint8_t buf[PG_VH_MAX + PG_MAX_PKT];
};

/* Per-ring sequence checker state (rxseq). */
struct seq_state {
	int started;
	uint32_t expected;
	uint64_t pkts;
	uint64_t gaps;		/* jumps forward */
	uint64_t lost;		/* packets skipped by those jumps */
	uint64_t ooo;		/* late, reordered or duplicated */
	uint64_t short_pkts;	/* too short to carry a sequence number */
	uint32_t cur;		/* number of the packet being assembled */
	int has_seq;		/* ... and whether it had room for one */
	unsigned int frags;	/* slots of the packet being assembled */
	unsigned int frags_exp;	/* slots per packet seen last time */
};

struct glob_arg;

/* One worker thread. */
struct targ {
	struct glob_arg *g;
	struct nmport_d *nmd;
	int fd;
	int me;
	int affinity;
	pthread_t thread;
	int created;

	int used;		/* worker running (atomic) */
	int completed;		/* worker ended normally (atomic) */
	struct pg_ctrs ctr;	/* published counters (atomic fields) */
	struct timespec tic, toc;

	uint64_t npackets;	/* this thread's share, UINT64_MAX = forever */
	unsigned short seed[3];
	unsigned int frag_size;	/* bytes per slot of a multi-slot packet */

	int copy_each;		/* rewrite every buffer for every packet */
	int vary_addr;		/* address/port changes per packet */
	int seqmode;		/* txseq/rxseq */
	struct timespec batch_ts;	/* -o 16: stamp of the current batch */

	struct seq_state *seq;	/* rxseq: one per bound RX ring */
	uint32_t *txseq;	/* txseq: next number, one per bound TX ring */
	int nseq;

	struct pg_frame frame;
};

struct func_desc {
	enum td_type type;
	const char *key;
	void *(*body)(void *);
	int default_burst;
	int seq;		/* txseq/rxseq flavour */
};

/* Arguments shared by every thread. */
struct glob_arg {
	const struct func_desc *fn;
	struct ip_range src_ip, dst_ip;
	const char *src_mac_name, *dst_mac_name;
	uint8_t src_mac[6], dst_mac[6];
	int pkt_size;
	int pkt_min_size;
	int burst;
	int forever;		/* rx: keep waiting through silence */
	uint64_t npackets;	/* 0 = infinite */
	unsigned int frags;
	unsigned int frag_size;
	int nthreads;
	int cpus;
	int system_cpus;
	int affinity;
	int options;
	int tx_rate;
	struct timespec tx_period;
	int report_interval;
	int wait_link;
	int framing;		/* bits of framing per packet (-B) */
	int virt_header;
	int set_virt_header;	/* -H given */
	const char *nmr_config;
	char ifname[512];

	struct nmport_d *nmd;
	int main_fd;
	uint32_t orig_mode;

	int win_idx;
	double win[PG_STATS_WIN];
};

/* Shared flags and knobs (main.c). */
extern int verbose;
extern int normalize;
extern int pg_cancel;		/* set by SIGINT/SIGTERM (atomic) */

static inline int
pg_cancelled(void)
{
	return __atomic_load_n(&pg_cancel, __ATOMIC_RELAXED);
}

/* Relaxed publish of a counter the reporting thread samples. */
#define PG_PUT(x, v)	__atomic_store_n(&(x), (v), __ATOMIC_RELAXED)
#define PG_GET(x)	__atomic_load_n(&(x), __ATOMIC_RELAXED)

/* Logging, upstream layout: "SSS.UUUUUU function [line] message". */
void pg_log(const char *func, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
int pg_ratelimit(time_t *last, int *count, int per_sec);

#define PGLOG(...)	pg_log(__func__, __LINE__, __VA_ARGS__)
#define PGRLOG(lps, ...) do {						\
	static __thread time_t rl_last_;				\
	static __thread int rl_count_;					\
	if (pg_ratelimit(&rl_last_, &rl_count_, (lps)))			\
		pg_log(__func__, __LINE__, __VA_ARGS__);		\
} while (0)

/* Time helpers (CLOCK_MONOTONIC). */
static inline struct timespec
pg_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts;
}

static inline struct timespec
ts_add(struct timespec a, struct timespec b)
{
	a.tv_sec += b.tv_sec;
	a.tv_nsec += b.tv_nsec;
	if (a.tv_nsec >= 1000000000L) {
		a.tv_sec++;
		a.tv_nsec -= 1000000000L;
	}
	return a;
}

static inline struct timespec
ts_sub(struct timespec a, struct timespec b)
{
	a.tv_sec -= b.tv_sec;
	a.tv_nsec -= b.tv_nsec;
	if (a.tv_nsec < 0) {
		a.tv_sec--;
		a.tv_nsec += 1000000000L;
	}
	return a;
}

static inline int64_t
ts_ns(struct timespec a)
{
	return (int64_t)a.tv_sec * 1000000000LL + a.tv_nsec;
}

/* Address of a slot's payload, honouring per-slot offsets if supported. */
#ifdef NETMAP_BUF_OFFSET
#define PG_SLOT_BUF(ring, slot)	((char *)NETMAP_BUF_OFFSET((ring), (slot)))
#else
#define PG_SLOT_BUF(ring, slot)	((char *)NETMAP_BUF((ring), (slot)->buf_idx))
#endif

/* frame.c */
int parse_ip_range(struct ip_range *r);
int parse_mac(const char *s, uint8_t mac[6]);
int source_hwaddr(const char *ifname, char *buf, size_t len);
void frame_init(struct targ *t);
void frame_set_len(struct targ *t, int pkt_len);
void frame_next_addresses(struct targ *t);
void frame_put_payload(struct pg_frame *f, int off, const void *src,
    int len);
void frame_set_seq(struct pg_frame *f, uint32_t seq);
void frame_set_ts(struct pg_frame *f, struct timespec ts);
int frame_get_seq(const char *p, int len, int vh_len, uint32_t *seq);
int frame_get_ts(const char *p, int len, int vh_len, struct timespec *ts);
void dump_payload(const char *p, int len, struct netmap_ring *ring, int cur);

/* workers.c */
void *sender_body(void *);
void *receiver_body(void *);
void *ping_body(void *);
void *pong_body(void *);

#endif /* PKT_GEN_H */
