/*
 * unetmap -- public netmap ABI, NETMAP_API 14 (Linux, LP64).
 *
 * This header describes the objects shared between a netmap client and the
 * netmap implementation: the memory-mapped netmap_if / netmap_ring /
 * netmap_slot structures and the NIOCCTRL control requests. The layouts are
 * binary compatible with upstream netmap on Linux x86-64, so programs written
 * for netmap compile against it unchanged.
 */
#ifndef _NET_NETMAP_H_
#define _NET_NETMAP_H_

#include <stdint.h>
#include <sys/types.h>		/* ssize_t */
#include <sys/time.h>		/* struct timeval */
#include <sys/ioctl.h>		/* _IO, _IOWR */
#ifndef IFNAMSIZ
#include <net/if.h>		/* IFNAMSIZ */
#endif

#ifndef _NETMAP_IFNAMSIZ
/* Interface-name size: IFNAMSIZ, or IF_NAMESIZE in strict ISO C modes. */
#if defined(IFNAMSIZ)
#define _NETMAP_IFNAMSIZ	IFNAMSIZ
#elif defined(IF_NAMESIZE)
#define _NETMAP_IFNAMSIZ	IF_NAMESIZE
#else
#define _NETMAP_IFNAMSIZ	16
#endif
#endif

/** API version spoken by these headers. */
#define NETMAP_API	14
/** Oldest API version accepted in nmreq_header.nr_version. */
#define NETMAP_MIN_API	14
/** Newest API version accepted in nmreq_header.nr_version. */
#define NETMAP_MAX_API	15

/** Alignment used to keep shared hot fields on separate cache lines. */
#define NM_CACHE_ALIGN	128

/*
 * ------------------------------------------------------------------------
 * Shared-memory data model
 *
 * One region per memory allocator holds, in this order, the netmap_if
 * objects, the netmap_ring objects and the packet buffers. Everything inside
 * the region is addressed by offsets or indices, never by pointers, so the
 * region may be mapped at any address.
 * ------------------------------------------------------------------------
 */

/** Descriptor of one packet buffer inside a ring (16 bytes). */
struct netmap_slot {
	uint32_t buf_idx;	/**< index of the buffer in the buffer pool */
	uint16_t len;		/**< bytes of packet data in this slot */
	uint16_t flags;		/**< NS_* flags */
	uint64_t ptr;		/**< user address (NS_INDIRECT) or data offset */
};

/** The user replaced buf_idx; the port must re-map the buffer. */
#define NS_BUF_CHANGED	0x0001
/** Ask for a completion report when this TX slot has been sent. */
#define NS_REPORT	0x0002
/** On an NR_FORWARD ring: pass the released slot to the peer (host/NIC). */
#define NS_FORWARD	0x0004
/** VALE: do not learn the source MAC address of this frame. */
#define NS_NO_LEARN	0x0008
/** VALE TX: the payload lives at the user address stored in ptr. */
#define NS_INDIRECT	0x0010
/** Another slot of the same packet follows this one. */
#define NS_MOREFRAG	0x0020
/** Monitor rings: the packet was seen on a TX ring of the monitored port. */
#define NS_TXMON	0x0040

/** Position of the VALE destination-port byte inside slot flags. */
#define NS_PORT_SHIFT	8
/** Mask of the VALE destination-port byte inside slot flags. */
#define NS_PORT_MASK	(0xff << NS_PORT_SHIFT)
/** VALE destination port requested in a TX slot (unetmap convenience). */
#define NS_PORT(_slot)	(((_slot)->flags & NS_PORT_MASK) >> NS_PORT_SHIFT)
/** VALE RX: fragment count carried in the high byte of the flags. */
#define NS_RFRAGS(_slot)	(((_slot)->flags >> 8) & 0xff)

/** Longest chain of NS_MOREFRAG slots forming one packet. */
#define NETMAP_MAX_FRAGS	64

/**
 * One TX or RX ring as seen by the application: a 256-byte header followed
 * by num_slots slots.
 *
 * Slots in [head, tail) belong to the application, the others to netmap.
 * The application advances head (and cur) only; netmap advances tail only.
 * cur is the wake-up point for poll(): readiness means cur != tail.
 */
struct netmap_ring {
	const int64_t	buf_ofs;	/**< buffer pool start, relative to this ring */
	const uint32_t	num_slots;	/**< number of slots */
	const uint32_t	nr_buf_size;	/**< size of every buffer */
	const uint16_t	ringid;		/**< ring index within its direction */
	const uint16_t	dir;		/**< direction of the ring */

	uint32_t	head;		/**< (user) first slot owned by the user */
	uint32_t	cur;		/**< (user) wake-up point */
	uint32_t	tail;		/**< (netmap) first slot owned by netmap */

	uint32_t	flags;		/**< NR_TIMESTAMP, NR_FORWARD */

	struct timeval	ts;		/**< (netmap) time of the last RX sync */

	/** Bits of slot->ptr holding a per-slot data offset (0: no offsets). */
	const uint64_t	offset_mask;
	/** Required alignment of packet starts in TX buffers (0: none). */
	const uint64_t	buf_align;

	/** Opaque scratch area, on its own cache lines. */
	uint8_t		sem[128] __attribute__((__aligned__(NM_CACHE_ALIGN)));

	/** The slot array; the ring has variable size. */
	struct netmap_slot slot[];
};

/** Ring flag: refresh ring->ts on every sync. */
#define NR_TIMESTAMP	0x0002
/** Ring flag: honour NS_FORWARD on the slots of this ring. */
#define NR_FORWARD	0x0004

/** Nonzero when the ring has no slot available to the user (head == tail). */
static inline int
nm_ring_empty(struct netmap_ring *ring)
{
	return ring->head == ring->tail;
}

/**
 * Per-descriptor view of a port: ring counts and the offsets of the bound
 * rings. 56 bytes followed by the ring_ofs[] table.
 */
struct netmap_if {
	char		ni_name[_NETMAP_IFNAMSIZ];	/**< port name */
	const uint32_t	ni_version;		/**< unused */
	const uint32_t	ni_flags;		/**< NI_* flags */

	const uint32_t	ni_tx_rings;		/**< hardware TX rings */
	const uint32_t	ni_rx_rings;		/**< hardware RX rings */

	uint32_t	ni_bufs_head;		/**< first extra buffer (0: none) */
	const uint32_t	ni_host_tx_rings;	/**< host TX rings */
	const uint32_t	ni_host_rx_rings;	/**< host RX rings */
	uint32_t	ni_spare1[3];

	/**
	 * Byte offsets of the rings relative to this structure, in order:
	 * hardware TX, host TX, hardware RX, host RX. Zero for a ring that is
	 * not bound to this descriptor.
	 */
	const ssize_t	ring_ofs[];
};

/** ni_flags: the port uses a private (non-global) memory region. */
#define NI_PRIV_MEM	0x1

/* The pre-NIOCCTRL interface (struct nmreq, NIOCREGIF, ...). */
#include "netmap_legacy.h"

/*
 * ------------------------------------------------------------------------
 * Control requests (NIOCCTRL)
 *
 * Every request is a struct nmreq_header naming the port and the request
 * type, pointing to a type-specific body and to an optional linked list of
 * options. Pointers are carried as uint64_t.
 * ------------------------------------------------------------------------
 */

/** Upper bound on body plus all options of one request. */
#define NETMAP_REQ_MAXSIZE	4096

/** Common head of every request option (24 bytes). */
struct nmreq_option {
	uint64_t	nro_next;	/**< address of the next option, or 0 */
	uint32_t	nro_reqtype;	/**< NETMAP_REQ_OPT_* */
	uint32_t	nro_status;	/**< (out) 0 if applied, else an errno */
	uint64_t	nro_size;	/**< total size, for variable-size options; else 0 */
};

/** Length of the port name in nmreq_header. */
#define NETMAP_REQ_IFNAMSIZ	64

/** Argument of NIOCCTRL (88 bytes). */
struct nmreq_header {
	uint16_t	nr_version;	/**< NETMAP_API */
	uint16_t	nr_reqtype;	/**< NETMAP_REQ_* */
	uint32_t	nr_reserved;	/**< must be zero */
	char		nr_name[NETMAP_REQ_IFNAMSIZ];	/**< port name */
	uint64_t	nr_options;	/**< address of the first option, or 0 */
	uint64_t	nr_body;	/**< address of the request body */
};

/** Request types (nmreq_header.nr_reqtype). */
enum {
	NETMAP_REQ_REGISTER = 1,	/**< bind the descriptor to a port */
	NETMAP_REQ_PORT_INFO_GET,	/**< query port geometry */
	NETMAP_REQ_VALE_ATTACH,		/**< attach a port to a VALE switch */
	NETMAP_REQ_VALE_DETACH,		/**< detach a port from a VALE switch */
	NETMAP_REQ_VALE_LIST,		/**< look up / enumerate VALE ports */
	NETMAP_REQ_PORT_HDR_SET,	/**< set the virtio-net header length */
	NETMAP_REQ_PORT_HDR_GET,	/**< get the virtio-net header length */
	NETMAP_REQ_VALE_NEWIF,		/**< create a persistent VALE port */
	NETMAP_REQ_VALE_DELIF,		/**< destroy a persistent VALE port */
	NETMAP_REQ_VALE_POLLING_ENABLE,	/**< start polling threads */
	NETMAP_REQ_VALE_POLLING_DISABLE,/**< stop polling threads */
	NETMAP_REQ_POOLS_INFO_GET,	/**< describe an allocator's pools */
	NETMAP_REQ_SYNC_KLOOP_START,	/**< run the sync loop inside the call */
	NETMAP_REQ_SYNC_KLOOP_STOP,	/**< stop a running sync loop */
	NETMAP_REQ_CSB_ENABLE,		/**< switch a bound descriptor to CSB mode */
};

/** Option types (nmreq_option.nro_reqtype). */
enum {
	NETMAP_REQ_OPT_EXTMEM = 1,	/**< REGISTER: use user-supplied memory */
	NETMAP_REQ_OPT_SYNC_KLOOP_EVENTFDS,	/**< KLOOP_START: per-ring eventfds */
	NETMAP_REQ_OPT_CSB,		/**< REGISTER/CSB_ENABLE: control/status blocks */
	NETMAP_REQ_OPT_SYNC_KLOOP_MODE,	/**< KLOOP_START: direct TX/RX mode */
	NETMAP_REQ_OPT_OFFSETS,		/**< REGISTER: per-slot data offsets */
	NETMAP_REQ_OPT_MAX,		/**< one past the last known option */
};

/** Body of NETMAP_REQ_REGISTER (56 bytes). */
struct nmreq_register {
	uint64_t	nr_offset;	/**< (out) netmap_if offset in the region */
	uint64_t	nr_memsize;	/**< (out) size of the region */
	uint32_t	nr_tx_slots;	/**< (in/out) slots per TX ring */
	uint32_t	nr_rx_slots;	/**< (in/out) slots per RX ring */
	uint16_t	nr_tx_rings;	/**< (in/out) hardware TX rings */
	uint16_t	nr_rx_rings;	/**< (in/out) hardware RX rings */
	uint16_t	nr_host_tx_rings;	/**< (in/out) host TX rings */
	uint16_t	nr_host_rx_rings;	/**< (in/out) host RX rings */

	uint16_t	nr_mem_id;	/**< (in/out) allocator id, 0 = any */
	uint16_t	nr_ringid;	/**< (in) ring index for ONE_NIC/ONE_SW */
	uint32_t	nr_mode;	/**< (in) NR_REG_* */
	uint32_t	nr_extra_bufs;	/**< (in/out) extra buffers wanted/obtained */

	uint64_t	nr_flags;	/**< (in) NR_* flags */
};

/** Monitor the TX rings of the named port (copy monitor). */
#define NR_MONITOR_TX		0x100
/** Monitor the RX rings of the named port (copy monitor). */
#define NR_MONITOR_RX		0x200
/** Zero-copy monitor. */
#define NR_ZCOPY_MON		0x400
/** Take exclusive ownership of the selected rings. */
#define NR_EXCLUSIVE		0x800
/* 0x1000 is not used by the current API. */
/** Bind RX rings only. */
#define NR_RX_RINGS_ONLY	0x2000
/** Bind TX rings only. */
#define NR_TX_RINGS_ONLY	0x4000
/** The application handles virtio-net headers on its frames. */
#define NR_ACCEPT_VNET_HDR	0x8000
/** poll() also syncs RX rings without POLLIN (legacy NETMAP_DO_RX_POLL). */
#define NR_DO_RX_POLL		0x10000
/** poll() syncs TX rings only with POLLOUT (legacy NETMAP_NO_TX_POLL). */
#define NR_NO_TX_POLL		0x20000

/** Ring-selection modes (nmreq_register.nr_mode). */
enum {
	NR_REG_DEFAULT	= 0,	/**< legacy only: derive the mode from nr_ringid */
	NR_REG_ALL_NIC	= 1,	/**< all hardware rings */
	NR_REG_SW	= 2,	/**< all host rings */
	NR_REG_NIC_SW	= 3,	/**< hardware and host rings */
	NR_REG_ONE_NIC	= 4,	/**< hardware ring pair nr_ringid */
	NR_REG_PIPE_MASTER = 5,	/**< legacy only: pipe master end nr_ringid */
	NR_REG_PIPE_SLAVE = 6,	/**< legacy only: pipe slave end nr_ringid */
	NR_REG_NULL	= 7,	/**< null port */
	NR_REG_ONE_SW	= 8,	/**< host ring pair nr_ringid */
};

/** The single control ioctl of the current API. */
#define NIOCCTRL	_IOWR('i', 151, struct nmreq_header)
/** Sync every TX ring bound to the descriptor. */
#define NIOCTXSYNC	_IO('i', 148)
/** Sync every RX ring bound to the descriptor. */
#define NIOCRXSYNC	_IO('i', 149)

/** Body of NETMAP_REQ_PORT_INFO_GET (32 bytes). */
struct nmreq_port_info_get {
	uint64_t	nr_memsize;	/**< (out) size of the region */
	uint32_t	nr_tx_slots;	/**< (in/out) slots per TX ring */
	uint32_t	nr_rx_slots;	/**< (in/out) slots per RX ring */
	uint16_t	nr_tx_rings;	/**< (in/out) hardware TX rings */
	uint16_t	nr_rx_rings;	/**< (in/out) hardware RX rings */
	uint16_t	nr_host_tx_rings;	/**< (in/out) host TX rings */
	uint16_t	nr_host_rx_rings;	/**< (in/out) host RX rings */
	uint16_t	nr_mem_id;	/**< (in/out) allocator id */
	uint16_t	pad[3];
};

/** Prefix that identifies VALE switch port names. */
#define NM_BDG_NAME	"vale"

/** Body of NETMAP_REQ_VALE_ATTACH (64 bytes). */
struct nmreq_vale_attach {
	struct nmreq_register reg;	/**< how to bind the attached port */
	uint32_t	port_index;	/**< (out) index in the switch */
	uint32_t	pad1;
};

/** Body of NETMAP_REQ_VALE_DETACH (8 bytes). */
struct nmreq_vale_detach {
	uint32_t	port_index;	/**< (out) index the port had */
	uint32_t	pad1;
};

/** Body of NETMAP_REQ_VALE_LIST (8 bytes). */
struct nmreq_vale_list {
	uint16_t	nr_bridge_idx;	/**< (in/out) switch index */
	uint16_t	pad1;
	uint32_t	nr_port_idx;	/**< (in/out) port index */
};

/** Body of NETMAP_REQ_PORT_HDR_SET / _GET (8 bytes). */
struct nmreq_port_hdr {
	uint32_t	nr_hdr_len;	/**< virtio-net header length */
	uint32_t	pad1;
};

/** Body of NETMAP_REQ_VALE_NEWIF (16 bytes). */
struct nmreq_vale_newif {
	uint32_t	nr_tx_slots;	/**< (in/out) slots per TX ring */
	uint32_t	nr_rx_slots;	/**< (in/out) slots per RX ring */
	uint16_t	nr_tx_rings;	/**< (in/out) TX rings */
	uint16_t	nr_rx_rings;	/**< (in/out) RX rings */
	uint16_t	nr_mem_id;	/**< (in/out) allocator id */
	uint16_t	pad1;
};

/** Body of NETMAP_REQ_VALE_POLLING_ENABLE / _DISABLE (16 bytes). */
struct nmreq_vale_polling {
	uint32_t	nr_mode;	/**< NETMAP_POLLING_MODE_* */
	uint32_t	nr_first_cpu_id;	/**< first CPU (and ring) to use */
	uint32_t	nr_num_polling_cpus;	/**< number of CPUs */
	uint32_t	pad1;
};

/** One thread polls every ring. */
#define NETMAP_POLLING_MODE_SINGLE_CPU	1
/** One thread per ring, each on the CPU with the ring's number. */
#define NETMAP_POLLING_MODE_MULTI_CPU	2

/** Body of NETMAP_REQ_POOLS_INFO_GET (64 bytes); also used by EXTMEM. */
struct nmreq_pools_info {
	uint64_t	nr_memsize;		/**< size of the region */
	uint16_t	nr_mem_id;		/**< (in/out) allocator id */
	uint16_t	pad1[3];
	uint64_t	nr_if_pool_offset;	/**< netmap_if pool offset */
	uint32_t	nr_if_pool_objtotal;	/**< netmap_if objects */
	uint32_t	nr_if_pool_objsize;	/**< netmap_if object size */
	uint64_t	nr_ring_pool_offset;	/**< ring pool offset */
	uint32_t	nr_ring_pool_objtotal;	/**< ring objects */
	uint32_t	nr_ring_pool_objsize;	/**< ring object size */
	uint64_t	nr_buf_pool_offset;	/**< buffer pool offset */
	uint32_t	nr_buf_pool_objtotal;	/**< buffers */
	uint32_t	nr_buf_pool_objsize;	/**< buffer size */
};

/** Body of NETMAP_REQ_SYNC_KLOOP_START (8 bytes). */
struct nmreq_sync_kloop_start {
	uint32_t	sleep_us;	/**< idle sleep between loop iterations */
	uint32_t	pad1;
};

/** CSB entry written by the application, read by netmap (64 bytes). */
struct nm_csb_atok {
	uint32_t	head;		/**< application head */
	uint32_t	cur;		/**< application cur */
	uint32_t	appl_need_kick;	/**< application wants notifications */
	uint32_t	sync_flags;	/**< flags of the requested sync */
	uint32_t	pad[12];
};

/** CSB entry written by netmap, read by the application (64 bytes). */
struct nm_csb_ktoa {
	uint32_t	hwcur;		/**< netmap's consumer position */
	uint32_t	hwtail;		/**< netmap's producer position (tail) */
	uint32_t	kern_need_kick;	/**< netmap wants kicks */
	uint32_t	pad[13];
};

/** Store-store (release) fence for CSB updates. */
static inline void
nm_stst_barrier(void)
{
	__atomic_thread_fence(__ATOMIC_RELEASE);
}

/** Load-load (acquire) fence for CSB reads. */
static inline void
nm_ldld_barrier(void)
{
	__atomic_thread_fence(__ATOMIC_ACQUIRE);
}

/**
 * Publish new cur/head values to a CSB entry. cur is stored before head so
 * that the reader never sees a head that is ahead of cur.
 */
static inline void
nm_sync_kloop_appl_write(struct nm_csb_atok *atok, uint32_t cur,
			 uint32_t head)
{
	nm_stst_barrier();
	atok->cur = cur;
	nm_stst_barrier();
	atok->head = head;
}

/**
 * Fetch hwtail/hwcur from a CSB entry; hwtail is read first, and later
 * ring accesses are ordered after both loads.
 */
static inline void
nm_sync_kloop_appl_read(struct nm_csb_ktoa *ktoa, uint32_t *hwtail,
			uint32_t *hwcur)
{
	*hwtail = ktoa->hwtail;
	nm_ldld_barrier();
	*hwcur = ktoa->hwcur;
	nm_ldld_barrier();
}

/** Option NETMAP_REQ_OPT_SYNC_KLOOP_EVENTFDS (24 bytes + 8 per ring). */
struct nmreq_opt_sync_kloop_eventfds {
	struct nmreq_option	nro_opt;	/**< common header */
	/** One entry per bound ring, TX rings first (same order as the CSB). */
	struct {
		int32_t	ioeventfd;	/**< application -> loop kick */
		int32_t	irqfd;		/**< loop -> application notification */
	} eventfds[];
};

/** Option NETMAP_REQ_OPT_SYNC_KLOOP_MODE (32 bytes). */
struct nmreq_opt_sync_kloop_mode {
	struct nmreq_option	nro_opt;	/**< common header */
	uint32_t		mode;		/**< NM_OPT_SYNC_KLOOP_DIRECT_* */
};

/** Sync-loop mode bit: run txsync directly from the kick. */
#define NM_OPT_SYNC_KLOOP_DIRECT_TX	(1 << 0)
/** Sync-loop mode bit: run rxsync directly from the kick. */
#define NM_OPT_SYNC_KLOOP_DIRECT_RX	(1 << 1)

/** Option NETMAP_REQ_OPT_EXTMEM (96 bytes). */
struct nmreq_opt_extmem {
	struct nmreq_option	nro_opt;	/**< common header */
	uint64_t		nro_usrptr;	/**< (in) start of the user memory */
	struct nmreq_pools_info	nro_info;	/**< (in/out) pool layout */
};

/** Option NETMAP_REQ_OPT_CSB (40 bytes). */
struct nmreq_opt_csb {
	struct nmreq_option	nro_opt;	/**< common header */
	uint64_t		csb_atok;	/**< address of the nm_csb_atok array */
	uint64_t		csb_ktoa;	/**< address of the nm_csb_ktoa array */
};

/** Option NETMAP_REQ_OPT_OFFSETS (56 bytes). */
struct nmreq_opt_offsets {
	struct nmreq_option	nro_opt;	/**< common header */
	uint64_t		nro_max_offset;	/**< (in/out) largest offset used */
	uint64_t		nro_initial_offset;	/**< offset written into every slot */
	uint32_t		nro_offset_bits;	/**< low bits of ptr used (0: all) */
	uint32_t		nro_tx_align;	/**< requested TX alignment */
	uint64_t		nro_min_gap;	/**< space the port may use per slot */
};

#endif /* _NET_NETMAP_H_ */
