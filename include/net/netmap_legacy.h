/*
 * unetmap -- legacy netmap control interface (struct nmreq, NIOCREGIF).
 *
 * Before NIOCCTRL existed, ports were registered and queried with a single
 * fixed-size struct nmreq. Every legacy call is translated into the
 * equivalent NIOCCTRL request. Normally reached through <net/netmap.h>.
 */
#ifndef _NET_NETMAP_LEGACY_H_
#define _NET_NETMAP_LEGACY_H_

#include <stdint.h>
#include <sys/ioctl.h>		/* _IOWR */
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

/**
 * Argument of NIOCGINFO and NIOCREGIF (60 bytes). The name comes first so
 * the structure can stand in for a struct ifreq.
 */
struct nmreq {
	char		nr_name[_NETMAP_IFNAMSIZ];	/**< port name */
	uint32_t	nr_version;	/**< must be >= NETMAP_MIN_API */
	uint32_t	nr_offset;	/**< (out) netmap_if offset in the region */
	uint32_t	nr_memsize;	/**< (out) size of the region */
	uint32_t	nr_tx_slots;	/**< (in/out) slots per TX ring */
	uint32_t	nr_rx_slots;	/**< (in/out) slots per RX ring */
	uint16_t	nr_tx_rings;	/**< (in/out) hardware TX rings */
	uint16_t	nr_rx_rings;	/**< (in/out) hardware RX rings */

	uint16_t	nr_ringid;	/**< ring/pipe number and NETMAP_* bits */
	uint16_t	nr_cmd;		/**< 0 or a NETMAP_BDG_* sub-command */
	uint16_t	nr_arg1;	/**< sub-command argument */
	uint16_t	nr_arg2;	/**< (in/out) allocator id */
	uint32_t	nr_arg3;	/**< (in/out) extra buffers */
	uint32_t	nr_flags;	/**< NR_REG_* mode (low bits) | NR_* flags */
	uint32_t	spare2[1];
};

/** nr_ringid: bind only the hardware ring pair in the low bits. */
#define NETMAP_HW_RING		0x4000
/** nr_ringid: bind only the host ring pair. */
#define NETMAP_SW_RING		0x2000
/** nr_ringid: ring (or pipe) number. */
#define NETMAP_RING_MASK	0x0fff
/** nr_ringid: poll() does not txsync unless POLLOUT is requested. */
#define NETMAP_NO_TX_POLL	0x1000
/** nr_ringid: poll() also rxsyncs without POLLIN. */
#define NETMAP_DO_RX_POLL	0x8000

/** nr_cmd: attach the interface named in nr_name to a VALE switch. */
#define NETMAP_BDG_ATTACH	1
/** nr_cmd: detach an interface from its VALE switch. */
#define NETMAP_BDG_DETACH	2
/** nr_cmd: register switch callbacks (kernel modules only; unused). */
#define NETMAP_BDG_REGOPS	3
/** nr_cmd (NIOCGINFO): look up / enumerate VALE ports. */
#define NETMAP_BDG_LIST		4
/** nr_cmd: set the virtio-net header length (nr_arg1) of a port. */
#define NETMAP_BDG_VNET_HDR	5
/** nr_cmd: create a persistent VALE port. */
#define NETMAP_BDG_NEWIF	6
/** nr_cmd: destroy a persistent VALE port. */
#define NETMAP_BDG_DELIF	7
/** nr_cmd: create ptnetmap threads (not supported). */
#define NETMAP_PT_HOST_CREATE	8
/** nr_cmd: delete ptnetmap threads (not supported). */
#define NETMAP_PT_HOST_DELETE	9
/** nr_cmd: start polling threads on an attached interface. */
#define NETMAP_BDG_POLLING_ON	10
/** nr_cmd: stop polling threads on an attached interface. */
#define NETMAP_BDG_POLLING_OFF	11
/** nr_cmd: read the virtio-net header length of a port. */
#define NETMAP_VNET_HDR_GET	12

/** nr_arg1 for NETMAP_BDG_ATTACH: attach the host stack as well. */
#define NETMAP_BDG_HOST		1

/** Mask extracting the NR_REG_* mode from nmreq.nr_flags. */
#define NR_REG_MASK		0xf

/** Size of the opaque payload of struct nm_ifreq. */
#define NM_IFRDATA_LEN		256

/** Argument of NIOCCONFIG: a switch name plus opaque data (272 bytes). */
struct nm_ifreq {
	char	nifr_name[_NETMAP_IFNAMSIZ];	/**< switch name */
	char	data[NM_IFRDATA_LEN];	/**< request for the switch module */
};

/** Legacy: query a port (or list VALE ports with NETMAP_BDG_LIST). */
#define NIOCGINFO	_IOWR('i', 145, struct nmreq)
/** Legacy: register a port, or run the sub-command in nr_cmd. */
#define NIOCREGIF	_IOWR('i', 146, struct nmreq)
/** Legacy: configuration request for an external switch module. */
#define NIOCCONFIG	_IOWR('i', 150, struct nm_ifreq)

#endif /* _NET_NETMAP_LEGACY_H_ */
