/*
 * unm.h - internal interfaces of the unetmap engine (not installed).
 *
 * Shared state lives in files under the runtime directory:
 *
 *   registry          one robust process-shared mutex, the table of memory
 *                     regions (indexed by mem_id), ports and registrations.
 *                     Every control operation runs under that one lock; the
 *                     data path never takes it.
 *   mem-<id>-<gen>    one memory region per allocator: the netmap region the
 *                     user maps ([0, memsize): if pool, ring pool, buffer
 *                     pool, exactly as netmap lays them out), followed by the
 *                     allocator's private metadata (bitmaps, kernel rings).
 *   reg-<idx>-<gen>   one FIFO per netmap file descriptor.  The descriptor
 *                     *is* that FIFO opened O_RDWR: poll() can wait on it, a
 *                     producer wakes it by writing a byte, and the flock()
 *                     held on it tells any other process whether some holder
 *                     of the descriptor (after dup, fork or SCM_RIGHTS) is
 *                     still alive.
 */
#ifndef UNETMAP_UNM_H
#define UNETMAP_UNM_H

#include <stdint.h>
#include <stddef.h>
#include <stdbool.h>
#include <pthread.h>
#include <sys/types.h>
#include <poll.h>
#include <signal.h>
#include <net/netmap.h>
#include "core/barrier.h"

#define UNM_REGISTRY_MAGIC	0x756e6d7265673031ULL	/* "unmreg01" */
#define UNM_REGISTRY_VERSION	4
#define UNM_REGION_MAGIC	0x756e6d6d656d3031ULL	/* "unmmem01" */

#define UNM_MAX_PORTS		16384
#define UNM_MAX_REGS		16384
#define UNM_MAX_MEMS		65536	/* indexed by mem_id (16 bit) */
#define UNM_NAME_MAX		NETMAP_REQ_IFNAMSIZ
#define UNM_KR_WAITERS		64	/* registrations that can sleep on one ring */
#define UNM_KR_MONS		8	/* copy monitors per ring */
#define UNM_MAX_RINGS		256	/* per direction of a port */
#define UNM_MAX_SLOTS		4096
#define UNM_DEF_SLOTS		1024
#define UNM_NONE		UINT32_MAX
#define UNM_VALE_MAXPORTS	254	/* netmap's NM_BDG_MAXPORTS */
#define UNM_VALE_MAXSW		64	/* switches per runtime directory */
#define UNM_VALE_MAXRINGS	16	/* netmap's NM_BDG_MAXRINGS */
#define UNM_VALE_BATCH		1024	/* netmap's bridge_batch */
#define UNM_LEASES		32	/* outstanding reservations per RX ring */
#define UNM_NOSW		0xffff

/* ring directions, as netmap numbers them internally (ring->dir stores them) */
enum unm_txrx { NR_RX = 0, NR_TX = 1 };

/* ------------------------------------------------------------------ */
/* memory regions                                                       */

struct unm_pool_params {
	uint32_t if_size, if_num;
	uint32_t ring_size, ring_num;
	uint32_t buf_size, buf_num;
};

/* Kernel-side state of one ring ("kring"), in the region metadata, one per
 * ring-pool object.  Fields are grouped by writer so that producer and
 * consumer never write the same cache line. */
struct unm_kring {
	/* written by the control path only (under the registry lock) */
	uint32_t num_slots;
	uint32_t ring_obj;	/* own index in the ring pool */
	uint32_t peer_obj;	/* paired ring (pipes), UNM_NONE otherwise */
	uint16_t dir;		/* NR_TX / NR_RX */
	uint16_t ringid;
	uint32_t users;		/* registrations bound to this ring */
	uint32_t excl;		/* bound with NR_EXCLUSIVE */
	uint32_t port;		/* registry index of the owning port */
	uint64_t ring_off;	/* offset of the netmap_ring in the region */
	uint64_t offset_mask;	/* OFFSETS option: bits of slot.ptr holding the
				 * data offset (also in the ring header) */
	uint64_t offset_max;	/* largest offset honoured; bigger are clamped */
	/* VALE port attached to a NIC, ring 0: frames the switch's XDP fast
	 * path (src/ports/vale_xdp.c) forwarded for this port in the kernel
	 * (TX ring: sent by it, RX ring: delivered to it); added by the
	 * attachment helpers with atomic adds a few times a second, summed
	 * into the port's counters by the readers */
	uint64_t xdp_frames, xdp_bytes;
	/* copy monitors of this ring: each gets a copy of every frame that
	 * is sent (TX) or arrives (RX) here */
	uint32_t nmon;
	struct unm_mon_ref {
		uint16_t mem_id;
		uint16_t tx;		/* copies get NS_TXMON */
		uint32_t mem_gen;
		uint32_t ring_obj;	/* the monitor's RX ring */
		uint32_t port;		/* the monitor port */
	} mon[UNM_KR_MONS];
	/* zero-copy monitors: the next ring of this ring's chain, as ring
	 * object + 1 (0: none) | its port << 32, one word so that a reader
	 * never sees half of an update.  `zcopy`: this ring is a zero-copy
	 * monitor's RX ring. */
	uint64_t zmon;
	uint32_t zcopy;

	/* owner side, read by the peer: written by this ring's sync only
	 * when it moves, so a spinning owner does not disturb the reader */
	_Alignas(UNM_CACHELINE) uint32_t hwcur;	/* next slot to hand over (TX) or
						 * to be released (RX) */

	/* owner side, private: nobody else reads these on the fast path */
	_Alignas(UNM_CACHELINE) uint32_t rhead, rtail;	/* head/tail as of the
							 * last sync */
	uint32_t busy;		/* pid running a sync on this ring, 0 = idle */
	uint32_t tx_hwtail;	/* TX: last tail published to the user */
	uint32_t zpid;		/* zero-copy monitor ring: its reader's pid */
	uint32_t zdead;		/* ... who died: the chain steps over it */
	/* VALE TX ring: what this ring sent, written by its own sync only
	 * (so plain stores), summed over rings by the readers */
	uint64_t tx_frames, tx_bytes, drop_full, drop_closed, drop_malformed;

	/* producer side: RX rings, written by whoever fills the ring */
	_Alignas(UNM_CACHELINE) uint32_t hwtail;
	/* VALE RX ring: senders reserve slots [hwtail, hwlease) under the
	 * short `lock`, copy outside it and publish hwtail in reservation
	 * order (netmap's lease).  Reservations are numbered; entry
	 * lease[i % UNM_LEASES] describes reservation i for
	 * lease_first <= i < lease_last. */
	uint32_t lock;		/* pid of the holder, 0 = free */
	uint32_t open;		/* bound by an application: accepts frames */
	uint32_t tag;		/* identity of this ring's current life */
	uint32_t hwlease;	/* next slot to reserve */
	uint32_t lease_first, lease_last;
	int64_t stall_ns;	/* when the oldest reservation was seen stuck */
	uint64_t rx_frames, rx_bytes, drop_dead;
	struct unm_lease {
		uint32_t start, end;	/* slots [start, end) */
		uint32_t pid;		/* reserving process */
		uint32_t done;		/* copied, may be published */
		uint32_t frames, pad;
		uint64_t bytes;
	} lease[UNM_LEASES];

	/* wake-up: bit i set = waiter[i] sleeps and wants a byte in its FIFO */
	_Alignas(UNM_CACHELINE) uint64_t armed;
	struct { uint32_t reg, gen; } waiter[UNM_KR_WAITERS];
};

/* Allocator metadata, at offset memsize in the region file. */
struct unm_region_meta {
	uint64_t magic;
	uint16_t mem_id;
	uint16_t pad0;
	uint32_t gen;
	struct unm_pool_params p;
	uint64_t memsize;		/* user-visible part */
	uint64_t if_off, ring_off, buf_off;	/* pool offsets (if_off = 0) */
	uint64_t if_bm_off, ring_bm_off, buf_bm_off, kring_off, shadow_off; /* from meta */
	uint64_t file_size;
	uint32_t if_free, ring_free, buf_free;
	uint32_t buf_hint;		/* first bitmap word that may have a free bit */
	/* ring being filled with buffers by unm_ring_init() (UNM_NONE: none)
	 * and how many of its slots hold one: what a crash repair frees */
	uint32_t txn_obj, txn_done;
};

/* ------------------------------------------------------------------ */
/* registry                                                             */

enum unm_port_kind {
	UNM_PORT_FREE = 0,
	UNM_PORT_PIPE_PARENT,		/* auto-created parent of pipes */
	UNM_PORT_PIPE,			/* one end of a pipe */
	UNM_PORT_NULL,			/* NR_REG_NULL port */
	UNM_PORT_VALE,			/* ephemeral VALE port valeS:P */
	UNM_PORT_VALE_PERSIST,		/* persistent VALE port (VALE_NEWIF) */
	UNM_PORT_MONITOR,		/* monitor PARENT/r, /t, /rt, /z */
	UNM_PORT_NIC,			/* Linux interface netmap:IF (nic.c) */
	UNM_PORT_KIND_MAX
};

struct unm_mem_ent {
	uint32_t live;
	uint32_t gen;
	uint32_t users;		/* ports and registrations on it */
	uint32_t flags;
#define UNM_MEM_GLOBAL	0x1
	uint64_t memsize;
	uint64_t file_size;
};

struct unm_port {
	uint32_t kind;
	uint32_t refs;		/* bound registrations */
	uint32_t ready;		/* creation completed (a crash repair drops
				 * ports that never got here) */
	char name[UNM_NAME_MAX];
	uint16_t mem_id;
	uint16_t flags;
#define UNM_PF_ZCOPY	0x1	/* monitor: zero-copy (PARENT/z) */
	uint32_t mem_gen;
	uint32_t parent;	/* registry index of the parent port, or UNM_NONE */
	uint32_t peer;		/* other end of a pipe, or UNM_NONE */
	uint32_t children;	/* pipe pairs using this parent */
	uint32_t is_master;
	uint32_t ntx, nrx;	/* hardware rings per direction */
	uint32_t tx_slots, rx_slots;
	uint32_t tx_obj, rx_obj;	/* first ring-pool object of each direction */
	uint32_t hdr_len;
	/* VALE: switch attachments (registry switch index and port index in
	 * that switch), UNM_NOSW when free; a persistent port can be in two */
	uint16_t sw[2], swport[2];
	/* monitor: the parent rings it watches, [first, last) per direction */
	uint32_t tx_first_mon, tx_last_mon, rx_first_mon, rx_last_mon;
	/* host rings per direction (NIC ports): ring objects tx_obj + ntx
	 * and rx_obj + nrx, ring ids ntx and nrx */
	uint32_t nhost;
	char nic_mode[8];	/* NIC: "zc", "copy", "packet" (last binding) */
	char nic_note[96];	/* NIC: an offload that corrupts frames, say */
	/* A network interface attached to a switch (VALE_ATTACH of valeS:IF,
	 * src/ports/vale_nic.c): ephemeral-kind VALE ports that stay without
	 * registrations, served by a helper process.  All fields are kept on
	 * the port valeS:IF; its host port valeS:IF^ only has `role` and
	 * `peer_port`.  Written under the registry lock, read by the helper
	 * without it. */
	struct unm_vnic {
		uint32_t role;		/* UNM_VNIC_* (0: an ordinary port) */
		uint32_t peer_port;	/* IF <-> IF^ (registry index), UNM_NONE */
		uint32_t gen;		/* this attachment's identity: its FIFO is
					 * vnic-<port>-<gen>, held (flock) by the helper */
		int32_t pid;		/* the helper (set by itself at start) */
		uint32_t stop;		/* detach asks the helper to leave */
		uint32_t poll_mode;	/* 0 sleeping, NETMAP_POLLING_MODE_* */
		uint32_t poll_first, poll_ncpu;
		uint32_t poll_gen;	/* bumped by every polling request */
		uint32_t poll_ack;	/* the request the helper has applied... */
		int32_t poll_err;	/* ...and how: 0 or -errno */
		uint32_t nrxq, ntxq;	/* the interface's queues at attach */
		uint32_t xdp_on;	/* the switch's XDP fast path serves this
					 * NIC now (vale_xdp.c, set by the helper) */
		char ifname[16];
	} vnic;
};
#define UNM_VNIC_NIC	1	/* valeS:IF */
#define UNM_VNIC_HOST	2	/* valeS:IF^ */

/* A VALE switch in the registry; its data-path state is the file
 * vale-NAME (struct unm_vale_file), whose mode decides who may use it. */
struct unm_vale_ent {
	uint32_t live;
	uint32_t gen;
	char name[16];
	uint32_t nactive;			/* member ports */
	uint32_t port[UNM_VALE_MAXPORTS];	/* registry index per switch
						 * port index, UNM_NONE = free */
};

enum unm_reg_state { UNM_REG_FREE = 0, UNM_REG_OPEN, UNM_REG_BOUND };

struct unm_reg {
	uint32_t state;
	uint32_t gen;
	int32_t pid;		/* creating process (a hint for liveness) */
	uint64_t fifo_dev, fifo_ino;	/* identity of its FIFO, for adoption */
	uint32_t port;
	uint16_t mem_id;
	uint16_t pad;
	uint32_t mem_gen;
	uint32_t mode, ringid;
	uint64_t flags;
	uint64_t if_off;	/* netmap_if of this registration */
	uint32_t if_obj;
	uint32_t tx_first, tx_last, rx_first, rx_last;	/* [first, last) */
};

struct unm_registry {
	uint64_t magic;
	uint32_t version, pad;
	uint64_t size;
	pthread_mutex_t lock;
	uint32_t last_mem_id;
	uint32_t port_hwm, reg_hwm;
	uint32_t gen;
	int64_t last_gc_ns;
	struct unm_pool_params global_params;
	struct unm_pool_params priv_params;
	struct unm_mem_ent mems[UNM_MAX_MEMS];
	struct unm_port ports[UNM_MAX_PORTS];
	struct unm_reg regs[UNM_MAX_REGS];
	struct unm_vale_ent vale[UNM_VALE_MAXSW];
	uint32_t ring_tag;	/* source of unm_kring.tag */
	/* bumped (release) on every change of any switch's membership or
	 * lookup: a sender compares it once per txsync */
	_Alignas(UNM_CACHELINE) uint32_t vale_gen;
};

/* ------------------------------------------------------------------ */
/* process-local objects                                                */

/* One mapping of a region file in this process (shared by every fd). */
struct unm_map {
	struct unm_map *next;
	uint16_t mem_id;
	uint32_t gen;
	int refs;
	char *base;
	size_t len;
	struct unm_region_meta *meta;
	struct unm_kring *krings;
	uint32_t *shadow;
};

/* ring index arithmetic: next, previous, and slots from `from` to `to` */
static inline uint32_t unm_nxt(uint32_t i, uint32_t n) { return i + 1 == n ? 0 : i + 1; }
static inline uint32_t unm_prv(uint32_t i, uint32_t n) { return i == 0 ? n - 1 : i - 1; }
static inline uint32_t unm_dist(uint32_t from, uint32_t to, uint32_t n)
{
	return to >= from ? to - from : to + n - from;
}

/* a requested count as netmap bounds it: below `lo` (e.g. 0) the default,
 * above `hi` clamped */
static inline uint32_t unm_bound(uint32_t v, uint32_t dflt, uint32_t lo, uint32_t hi)
{
	if (v < lo)
		return dflt;
	return v > hi ? hi : v;
}

/* data offset of a slot of a ring registered with the OFFSETS option */
static inline uint64_t unm_slot_offset(const struct unm_kring *kr, const struct netmap_slot *s)
{
	uint64_t off = s->ptr & kr->offset_mask;
	return off > kr->offset_max ? kr->offset_max : off;
}

/* most slots a ring object of this region can hold */
static inline uint32_t unm_ring_max_slots(const struct unm_pool_params *p)
{
	return (p->ring_size - 256) / 16;
}

struct unm_fd;
struct unm_kref;

/* The kind-specific part of a port: what the sync calls do. */
struct unm_port_ops {
	const char *name;
	/* both return 0, or -1 when the ring had to be reinitialised */
	int (*txsync)(struct unm_fd *f, struct unm_kref *k);
	int (*rxsync)(struct unm_fd *f, struct unm_kref *k);
	/* cheap read-only test used while spinning in poll(): could a sync
	 * of this ring now find something new (frames for RX, room for TX)? */
	bool (*ready)(const struct unm_kref *k);
	/* control path: free a port whose last registration went away (for
	 * a pipe end: the pair, once both ends are unused) */
	void (*destroy)(uint32_t port);
	/* optional: the number of registrations bound to a ring changed */
	void (*bind)(struct unm_map *m, struct unm_kring *kr);
	/* optional: free k->priv when the fd's binding goes away */
	void (*kref_fini)(struct unm_kref *k);
	/* optional: this process's side of a new binding (the sockets of a
	 * NIC port), 0 or -errno; undone by fd_detach */
	int (*fd_attach)(struct unm_fd *f);
	void (*fd_detach)(struct unm_fd *f);
	/* poll() cannot be woken by a producer's notification: sleep in
	 * short steps (a NIC port's frames come from the kernel) ... */
	bool no_wakeup;
	/* ... or, if this gives one, on a kernel fd that becomes readable
	 * when these events may be ready (-1: none for them) */
	int (*wait_fd)(struct unm_fd *f, short events);
};

struct unm_kref {
	struct netmap_ring *ring;
	struct unm_kring *kr;
	uint32_t *shadow;		/* RX: buffer of each slot at import */
	struct netmap_ring *pring;	/* peer ring (pipes) */
	struct unm_kring *pkr;
	void *priv;			/* port kind's per-ring state (VALE) */
	int waiter;			/* our bit in kr->armed, -1 if none */
};

/* The state of one open netmap file description, shared by every fd
 * number that refers to it in this process (dup, dup2, F_DUPFD). */
struct unm_fd {
	int refs;		/* fd numbers pointing here (fd table lock) */
	int oflags;
	uint32_t reg;
	uint32_t gen;
	bool bound;
	bool no_tx_poll;
	struct unm_map *map;
	const struct unm_port_ops *ops;
	struct netmap_if *nifp;
	uint64_t memsize;
	uint32_t ntx, nrx;
	struct unm_kref *tx, *rx;
	void *priv;			/* port kind's per-binding state (NIC) */
	pthread_mutex_t lock;		/* serialises register/close of this fd */
};

/* ------------------------------------------------------------------ */
/* functions                                                            */

/* runtime.c */
const char *unm_dir(void);
int unm_path(char *buf, size_t len, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void unm_seterr(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void unm_clearerr(void);
int64_t unm_now_ns(void);
bool unm_pid_alive(pid_t pid);
extern int unm_verbose;
void unm_fault(const char *point);

/* real libc entry points (shim.c) */
int unm_real_open(const char *path, int flags, mode_t mode);
int unm_real_close(int fd);
int unm_real_ioctl(int fd, unsigned long req, void *arg);
void *unm_real_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off);
int unm_real_poll(struct pollfd *fds, unsigned long n, int timeout);

/* registry.c */
struct unm_registry *unm_registry(void);
int unm_lock(void);		/* 0 or -errno */
void unm_unlock(void);
void unm_gc_locked(bool force);
int unm_reg_alloc_locked(uint32_t *idx);
void unm_reg_release_locked(uint32_t idx);
bool unm_reg_dead_locked(uint32_t idx);
int unm_port_alloc_locked(uint32_t *idx);
struct unm_port *unm_port_find_locked(const char *name);
void unm_fifo_path(char *buf, size_t len, uint32_t reg, uint32_t gen);

/* mem.c */
int unm_mem_create_locked(uint16_t want_id, bool global, uint16_t *id_out);
int unm_mem_create_sized_locked(uint32_t bufs, uint32_t rings, mode_t mode, uint16_t *id_out);
int unm_mem_get_locked(uint16_t id);	/* check live (materialises id 1) */
void unm_mem_ref_locked(uint16_t id);
void unm_mem_unref_locked(uint16_t id);
struct unm_map *unm_map_get(uint16_t id, uint32_t gen);
void unm_map_put(struct unm_map *m);
int unm_buf_alloc(struct unm_map *m, uint32_t *idx);
void unm_buf_free(struct unm_map *m, uint32_t idx);
int unm_ring_alloc(struct unm_map *m, uint32_t n, uint32_t slots, uint32_t *first);
void unm_ring_free(struct unm_map *m, uint32_t first, uint32_t n);
int unm_if_alloc(struct unm_map *m, size_t size, uint32_t *obj);
void unm_if_free(struct unm_map *m, uint32_t obj);
void unm_ring_init(struct unm_map *m, uint32_t obj, uint32_t port, int dir,
		   uint32_t ringid, uint32_t slots, bool with_bufs);
void unm_ring_fini(struct unm_map *m, uint32_t obj, bool free_bufs);
void unm_ring_txn_recover(struct unm_map *m);
uint32_t unm_extra_bufs_alloc(struct unm_map *m, uint32_t want, uint32_t *head);
void unm_extra_bufs_free(struct unm_map *m, uint32_t head);

/* the buffer pool of a region: where, how big, how many */
struct unm_bufs {
	const char *base;
	uint32_t size, num;
};

static inline struct unm_bufs unm_map_bufs(const struct unm_map *m)
{
	return (struct unm_bufs){ m->base + m->meta->buf_off, m->meta->p.buf_size,
				  m->meta->p.buf_num };
}

static inline struct netmap_ring *unm_ring_ptr(struct unm_map *m, uint32_t obj)
{
	return (struct netmap_ring *)(m->base + m->meta->ring_off +
				      (uint64_t)obj * m->meta->p.ring_size);
}
static inline struct unm_kring *unm_kring_ptr(struct unm_map *m, uint32_t obj)
{
	return &m->krings[obj];
}

/* sync.c */
int unm_txsync_ring(struct unm_fd *f, struct unm_kref *k);
int unm_rxsync_ring(struct unm_fd *f, struct unm_kref *k);
int unm_tx_prologue(struct unm_kref *k, uint32_t *head_out);
int unm_rx_prologue(struct unm_kref *k, uint32_t *head_out);
void unm_ring_reinit(struct unm_kref *k, uint32_t nbufs, uint32_t bufsize);
void unm_rx_import(struct unm_kref *k, uint32_t head);
void unm_notify_slow(struct unm_kring *kr);
static inline void unm_notify(struct unm_kring *kr)
{
	/* Pairs with the fence in unm_arm(): either the sleeper sees our new
	 * index on its re-check, or we see its armed bit here. */
	unm_smp_mb();
	if (unm_unlikely(UNM_READ_ONCE(kr->armed) != 0))
		unm_notify_slow(kr);
}
void unm_arm(struct unm_kref *k);
void unm_disarm(struct unm_kref *k);
int unm_waiter_add_locked(struct unm_kring *kr, uint32_t reg, uint32_t gen);
void unm_waiter_del_locked(struct unm_kring *kr, uint32_t reg, uint32_t gen);
bool unm_busy_enter(struct unm_kring *kr);
uint32_t unm_self_pid(void);	/* getpid(), cached (fork-safe) */
void unm_kr_lock(struct unm_kring *kr);
static inline void unm_kr_unlock(struct unm_kring *kr)
{
	__atomic_store_n(&kr->lock, 0, __ATOMIC_RELEASE);
}
static inline void unm_busy_exit(struct unm_kring *kr)
{
	unm_store_release(&kr->busy, 0);
}

/* ports */
extern const struct unm_port_ops unm_pipe_ops;
extern const struct unm_port_ops unm_null_ops;
extern const struct unm_port_ops unm_vale_ops;
extern const struct unm_port_ops unm_mon_ops;
extern const struct unm_port_ops unm_nic_ops;
int unm_nic_lookup_locked(const char *name, struct nmreq_register *req, bool create,
			  uint32_t *port_out);
/* data path asked for by the REGISTER being handled (UNETMAP_REQ_OPT_NIC):
 * enum unetmap_nic_mode + 1, 0 = none */
extern __thread int unm_nic_req_mode;
int unm_mon_create_locked(const char *name, uint32_t parent, struct nmreq_register *req,
			  const uint32_t watch[4], uint32_t *port_out);
void unm_mon_orphans_locked(void);
void unm_mon_copy_slow(struct unm_kring *pkr, const struct netmap_ring *pring,
		       struct unm_bufs b, uint32_t from, uint32_t to);
/* give the copy monitors of a ring the slots [from, to) (data in the
 * buffers at buf_base); nothing to do in the common case */
static inline void unm_mon_copy(struct unm_kring *pkr, const struct netmap_ring *pring,
				struct unm_bufs b, uint32_t from, uint32_t to)
{
	if (unm_unlikely(UNM_READ_ONCE(pkr->nmon) != 0) && from != to)
		unm_mon_copy_slow(pkr, pring, b, from, to);
}
void unm_zmon_pass_slow(struct unm_map *m, struct unm_kring *skr, struct netmap_ring *sring,
			uint32_t from, uint32_t to, int txmon);
/* Slots [from, to) of ring `skr` are released by its user (RX), or back
 * from the wire (TX): its zero-copy monitors get them now, by buffer swap.
 * txmon: 1 a parent TX ring, 0 a parent RX ring, -1 a monitor ring of the
 * chain (flags kept). */
static inline void unm_zmon_pass(struct unm_map *m, struct unm_kring *skr, struct netmap_ring *sring,
				 uint32_t from, uint32_t to, int txmon)
{
	if (unm_unlikely(UNM_READ_ONCE(skr->zmon) != 0) && from != to)
		unm_zmon_pass_slow(m, skr, sring, from, to, txmon);
}
int unm_vale_lookup_locked(const char *name, struct nmreq_register *req, bool create,
			   bool for_register, uint32_t *port_out);
bool unm_vale_name(const char *name);
/* NICs on VALE (vale_nic.c).  The helper of the attachment whose port
 * valeS:IF is `port`: started with the registry lock NOT held, returns 0
 * once it serves the interface, else -errno with a message; *pid_out its
 * pid. */
int unm_vnic_start(uint32_t port, uint32_t gen, int32_t *pid_out);
int unm_vnic_fifo_create(uint32_t port, uint32_t gen);
void unm_vnic_fifo_remove(uint32_t port, uint32_t gen);
bool unm_vnic_alive(uint32_t port, uint32_t gen);
void unm_vnic_wake(uint32_t port, uint32_t gen);
/* wait (lock NOT held) until the helper has exited, killing it after
 * `ms` milliseconds; true if it is gone */
bool unm_vnic_wait_exit(uint32_t port, uint32_t gen, int32_t pid, int ms);
/* REGISTER of a NIC attached to a switch, or of its switch ports, by
 * anyone but the attachment's helper: -EBUSY (netmap's rule) */
int unm_vnic_owner_check_locked(uint32_t port);
/* interface free for an attachment (no netmap user anywhere: -EBUSY), and
 * its RX/TX queue counts */
int unm_vnic_if_check(const char *ifname, uint32_t *nrxq, uint32_t *ntxq);
/* nic.c: the VALE fast-path maps of the NIC held by netmap fd `fd` (4 fds,
 * UNM_NIC_FWD_FDS of src/nic/kobj.h; the caller owns them) */
int unm_nic_fd_fwd(int fd, uint32_t *ifindex, int fds[4]);
void unm_vale_put_if_unused_locked(uint32_t port);
int unm_vale_ctl(struct unm_fd *f, struct nmreq_header *hdr, void *body);
void unm_vale_repair_locked(void);
bool unm_vale_stale_file(const char *fname);
void unm_vale_fault_init(void);
const struct unm_port_ops *unm_port_ops(uint32_t kind);
int unm_pipe_lookup_locked(const char *name, struct nmreq_register *req,
			   bool create, uint32_t *port_out);
void unm_pipe_destroy_locked(uint32_t port);
int unm_null_create_locked(const char *name, struct nmreq_register *req,
			   uint32_t *port_out);
void unm_port_destroy_locked(uint32_t port);

/* ctl.c */
int unm_ctl(struct unm_fd *f, struct nmreq_header *hdr);
bool unm_user_ok(const void *p, size_t len);
int unm_fd_attach(struct unm_fd *f);	/* build the local view of a binding */
void unm_fd_detach(struct unm_fd *f);
int unm_unregister(struct unm_fd *f);
void unm_repair_locked(void);
int unm_legacy_ioctl(struct unm_fd *f, unsigned long req, void *arg);

/* per-process counters (unetmap_proc_stats), relaxed, slow paths only */
extern uint64_t unm_stat_polls, unm_stat_sleeps, unm_stat_wakeups;
#define UNM_STAT_INC(c) __atomic_fetch_add(&(c), 1, __ATOMIC_RELAXED)

/* shim.c */
struct unm_fd *unm_fd_lookup(int fd);
/* poll() semantics over any mix of netmap and other fds; timeout_ns < 0
 * waits forever; with use_ppoll the kernel wait is ppoll(ss) */
int unm_poll_common(struct pollfd *fds, nfds_t n, int64_t timeout_ns, const sigset_t *ss,
		    bool use_ppoll);
/* how long a wait on netmap fds alone spins before sleeping (ns) */
int64_t unm_spin_ns(void);
/* number of netmap fds open in this process (0: every call is plain libc) */
int unm_netmap_fd_count(void);
/* make fd number `fd` refer to `f` (taking a reference); replaces and
 * releases whatever netmap state `fd` had */
void unm_fd_install(int fd, struct unm_fd *f);
/* drop fd number `fd` from the table, releasing the registration when it
 * was the last holder anywhere; returns whether it was a netmap fd */
bool unm_fd_forget(int fd);
/* fd is a netmap descriptor this process got without opening it (exec,
 * SCM_RIGHTS): find its registration and enter it in the table */
struct unm_fd *unm_fd_adopt(int fd);

#endif
