/**
 * @file unetmap.h
 * unetmap extensions to the netmap API (not part of upstream netmap).
 *
 * Everything here is optional: a netmap program never needs it.  Functions
 * return 0 or a negative errno unless documented otherwise.
 */
#ifndef UNETMAP_H
#define UNETMAP_H

#include <stdint.h>
#include <net/netmap.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Diagnostic of the last failed unetmap request of the calling thread
 *  (e.g. which memory pool ran out); "" if none.  Never NULL. */
const char *unetmap_last_error(void);

/** Occupancy of one memory region (allocator). */
struct unetmap_mem_stats {
	uint16_t mem_id;
	uint64_t memsize;	/**< bytes an application maps */
	uint32_t if_total, if_free, if_size;
	uint32_t ring_total, ring_free, ring_size;
	uint32_t buf_total, buf_free, buf_size;
	uint32_t users;		/**< ports and registrations using it */
};

/** Fill @p st for region @p mem_id.  -EINVAL if no such region. */
int unetmap_mem_stats(uint16_t mem_id, struct unetmap_mem_stats *st);

/** Release now the registrations whose every holder has exited (this also
 *  happens on its own, lazily).  Returns the number released. */
int unetmap_gc(void);

/** What this process's netmap waits cost (counters since start). */
struct unetmap_proc_stats {
	uint64_t polls;		/**< poll()/ppoll() calls with a netmap fd */
	uint64_t sleeps;	/**< of those, how many slept in the kernel */
	uint64_t wakeups;	/**< wake-ups this process sent to sleepers */
};

/** Fill @p st with this process's counters.  Always 0. */
int unetmap_proc_stats(struct unetmap_proc_stats *st);

/** The runtime directory in use (UNETMAP_DIR or /dev/shm/unetmap). */
const char *unetmap_dir(void);

/* ------------------------------------------------------------------------ */
/* VALE switches (beyond netmap): counters, MAC table, pluggable lookup       */

/** Ports per switch (netmap's NM_BDG_MAXPORTS): switch port indices are
 *  0 .. UNETMAP_VALE_MAXPORTS-1. */
#define UNETMAP_VALE_MAXPORTS	254
/** Switches that can exist at once in one runtime directory. */
#define UNETMAP_VALE_MAXSWITCHES 64
/** Lookup results besides a port index (netmap's NM_BDG_BROADCAST/NOPORT). */
#define UNETMAP_VALE_BROADCAST	254
#define UNETMAP_VALE_NOPORT	255

/** Counters of one switch port.  Frames are counted once per destination
 *  (a broadcast to 3 ports is 3 rx frames, 1 tx frame). */
struct unetmap_vale_port_stats {
	char name[64];		/**< "valeS:P" */
	uint32_t port_idx;	/**< index in the switch */
	uint32_t rx_rings_open;	/**< RX rings currently bound by an application */
	uint64_t tx_frames, tx_bytes;	/**< frames this port sent into the switch */
	uint64_t rx_frames, rx_bytes;	/**< frames delivered into its RX rings */
	uint64_t drop_full;	/**< sent by it, destination ring full */
	uint64_t drop_closed;	/**< sent by it, destination port/ring not open */
	uint64_t drop_malformed;/**< sent by it: < 14 bytes, bad buffer or length */
	uint64_t drop_dead;	/**< to it: slots reserved by a sender that died */
};

/** Fill up to @p max entries for the ports of switch @p sw ("vale0", or
 *  "vale0:anything").  Returns the number of ports (possibly > max), or
 *  -ENOENT if no such switch, -EINVAL for a name not starting with "vale",
 *  -EACCES if the caller may not open the switch. */
int unetmap_vale_stats(const char *sw, struct unetmap_vale_port_stats *st, unsigned max);

/** The XDP fast path of switch port @p port ("valeS:IF", an interface
 *  attached with vale-ctl -a): frames between two interfaces of one switch
 *  that the switch's table sends from one to the other are forwarded by the
 *  XDP program of the first, without leaving the kernel.  Returns 1 when the
 *  fast path serves the port now, 0 when not (UNETMAP_VALE_XDP=0 at attach,
 *  TPACKET data path, no other interface that can take redirected frames,
 *  a monitor on the way), -ENOENT when @p port is not an attached interface,
 *  -EINVAL for a name not starting with "vale".  @p sent / @p received (may
 *  be NULL): frames the fast path carried from / to this port (they are in
 *  unetmap_vale_stats() too). */
int unetmap_vale_xdp_state(const char *port, uint64_t *sent, uint64_t *received);

/** Give up every capability of the calling thread (effective, permitted,
 *  inheritable; call it before creating threads, which inherit the sets).
 *  Once its ports are open a netmap program needs none: moving frames on
 *  pipes, VALE and NIC ports (whose kernel objects belong to helper
 *  processes) is plain memory access and ioctl()s on its own descriptors.
 *  Opening a NIC port needs CAP_NET_RAW, CAP_NET_ADMIN and CAP_BPF, so
 *  open every port first.  Returns 0, or -1 with errno. */
int unetmap_drop_privileges(void);

/** One learned address. */
struct unetmap_vale_mac {
	uint8_t mac[6];
	uint16_t port_idx;
};

/** Copy up to @p max learned entries of switch @p sw; returns how many
 *  entries the table holds (possibly > max) or a negative errno. */
int unetmap_vale_macs(const char *sw, struct unetmap_vale_mac *macs, unsigned max);

/** Replace the forwarding decision of switch @p sw (which must exist) by
 *  the function UNETMAP_VALE_LOOKUP_SYM of the shared object at @p path
 *  (an absolute path; NULL or "" restores the learning bridge).  Every
 *  process forwarding on the switch loads it at its next txsync.  -ENOENT
 *  no switch, -EINVAL path not absolute/too long, -ENOEXEC if the object
 *  cannot be loaded or lacks the symbol (checked in the caller first). */
int unetmap_vale_set_lookup(const char *sw, const char *path);

/** Path of the lookup object of switch @p sw ("" = learning bridge). */
int unetmap_vale_get_lookup(const char *sw, char *buf, unsigned len);

/** Symbol a lookup object must export, of type unetmap_vale_lookup_fn. */
#define UNETMAP_VALE_LOOKUP_SYM	"unetmap_vale_lookup"

/** A lookup function: @p frame / @p len is the first fragment of a frame
 *  (len >= 14) sent by switch port @p src_port from its TX ring
 *  *@p ring.  Returns a destination port index, UNETMAP_VALE_BROADCAST or
 *  UNETMAP_VALE_NOPORT (drop); may set *@p ring to choose the destination
 *  RX ring (taken modulo its ring count).  Called on the data path of
 *  every sender: it must not block.  @p nports is the number of port
 *  indices in use (highest index + 1). */
typedef uint32_t (*unetmap_vale_lookup_fn)(const uint8_t *frame, uint32_t len,
					    uint32_t src_port, uint8_t *ring,
					    uint32_t nports);

/** Enumerate switches: fills @p names (up to @p max names of 16 bytes);
 *  returns how many exist. */
int unetmap_vale_switches(char (*names)[16], unsigned max);

/** What holds Linux interface @p ifname in netmap mode (a NIC port). */
struct unetmap_nic_info {
	char ifname[16];
	char backend[16];	/**< "xdp" (AF_XDP) or "packet" (TPACKET_V3) */
	char mode[16];		/**< "zc", "copy" or "packet": the data path the
				 *   last registration got */
	uint32_t nrxq, ntxq;	/**< queues of the interface = hardware rings */
	uint32_t users;		/**< sessions (registrations' processes) */
	int32_t helper_pid;	/**< process holding the shared kernel objects */
	char tap[16];		/**< TAP of the host rings, "" if none */
	char note[96];		/**< e.g. why the TPACKET backend was chosen */
};

/** REGISTER option (unetmap extension) choosing a NIC port's data path,
 *  as the port-name option `@xdp:mode=auto|zc|copy|packet` of libnetmap
 *  does; it overrides the environment variable UNETMAP_NIC_MODE.  Other
 *  port kinds answer EOPNOTSUPP. */
#define UNETMAP_REQ_OPT_NIC	0x5501
enum unetmap_nic_mode {
	UNETMAP_NIC_MODE_AUTO = 0,	/**< AF_XDP zero copy, copy, else TPACKET_V3 */
	UNETMAP_NIC_MODE_ZC = 1,	/**< AF_XDP zero copy or fail */
	UNETMAP_NIC_MODE_COPY = 2,	/**< AF_XDP copy mode */
	UNETMAP_NIC_MODE_PACKET = 3,	/**< TPACKET_V3 */
};
struct unetmap_opt_nic {
	struct nmreq_option nro_opt;	/**< nro_reqtype = UNETMAP_REQ_OPT_NIC */
	uint32_t nro_mode;		/**< enum unetmap_nic_mode */
	uint32_t nro_pad;
};

/** 0 and *@p out, or -1 with errno ENOENT when nothing holds @p ifname. */
int unetmap_nic_info(const char *ifname, struct unetmap_nic_info *out);

/** Interfaces that are netmap ports (NIC ports) in this runtime directory:
 *  fills @p names (up to @p max), returns how many there are (-1/errno on
 *  error). */
int unetmap_nic_ports(char (*names)[16], unsigned max);

#ifdef __cplusplus
}
#endif
#endif
