/**
 * @file libnetmap.h
 * @brief libnetmap: open netmap ports from a textual port specification.
 *
 * This is unetmap's implementation of the libnetmap programming interface
 * (the `nmport_*`, `nmreq_*` and `nmctx_*` functions).  Names, structure
 * layouts and error behaviour follow upstream netmap's libnetmap so that
 * programs written for it compile unchanged; the code behind them is our own.
 *
 * Error convention (kept from upstream): a function that fails returns -1
 * (or NULL), sets errno, and hands a human-readable message to the error
 * callback of the nmctx in use (see struct nmctx).  Nothing is printed unless
 * that callback prints; the default one writes to stderr when the context is
 * verbose.
 *
 * libunetmap.so is always thread safe in the sense of upstream's default
 * build: the default context is created with a pthread mutex as its lock.
 * Defining LIBNETMAP_NOTHREADSAFE before including this file is accepted and
 * has no effect.
 *
 * @section portspec Port specification grammar
 *
 * A port specification ("portspec") names a port and says how to bind it:
 *
 * @verbatim
   portspec  := subsystem ":" vpname [ring] [modifiers] [options]
   subsystem := "netmap" | "vale" [ident]
   vpname    := name [ ("{" | "}") pipeid ]
   ring      := "^" | "^" N | "*" | "-" N
   modifiers := any sequence of  "/" flag+  and  "@" memid
   flag      := "x" | "z" | "t" | "r" | "R" | "T"
   options   := ( "@" option )+
   option    := optname | optname "=" value | optname ":" key "=" value ( "," key "=" value )*
   @endverbatim
 *
 * Subsystem.  "netmap" takes no identifier and is removed from the name sent
 * to netmap ("netmap:eth0" registers "eth0").  "vale" may be followed by a
 * possibly empty switch identifier made of letters, digits and '_'; the whole
 * "valeX:" prefix stays in the registered name ("vale0:p1").  Anything else
 * (no prefix, "netmapX:", a missing ':') is rejected with EINVAL.
 *
 * Name.  The port name extends up to the first of '-', '*', '^', '/', '@' or
 * the end of the string.  It must not be empty and, including a kept "valeX:"
 * prefix, must be shorter than NETMAP_REQ_IFNAMSIZ (64) characters.  Apart
 * from the delimiters its characters are not restricted (so "eth0.12" works).
 * A '{' or '}' in the name selects the master or slave end of a netmap pipe;
 * the pipe identifier after it must be a non-empty run of letters, digits and
 * '_', and the part before it must not be empty.  "base{id" is registered as
 * a whole.
 *
 * Ring selection (at most one, right after the name; default: all hardware
 * rings, NR_REG_ALL_NIC):
 *  - `^`    all host rings (NR_REG_SW);
 *  - `^N`   host ring pair N (NR_REG_ONE_SW);
 *  - `*`    hardware and host rings (NR_REG_NIC_SW);
 *  - `-N`   hardware ring pair N (NR_REG_ONE_NIC).
 * N is decimal with 0 <= N < 4095 and is stored in nr_ringid.
 *
 * Modifiers, in any order:
 *  - `/` followed by one or more flags: x NR_EXCLUSIVE, z NR_ZCOPY_MON,
 *    t NR_MONITOR_TX, r NR_MONITOR_RX, R NR_RX_RINGS_ONLY, T NR_TX_RINGS_ONLY.
 *    A flag group ends at '@' or at the end of the string, so a second
 *    group must come after an "@memid".
 *  - `@` followed by a decimal number in 1..65535: the memory allocator
 *    (nr_mem_id).  Giving it again with the same value is allowed; a
 *    different value is EINVAL.  A lone '@' at the end is EINVAL.
 *
 * Options begin at the first '@' that is not followed by a digit.  Each one
 * is introduced by '@' and written as "name", "name=value" (the value goes to
 * the option's default key) or "name:key=value,key=value" (each key at most
 * once; '-' in key names is read as '_').  An unknown option or key, a
 * missing mandatory key, a key without value, or an empty option is EINVAL;
 * an option that has been disabled (see nmport_disable_option()) is
 * EOPNOTSUPP.  An option may appear more than once; occurrences are applied
 * in order.  Numeric values are unsigned decimal numbers.  Options that only
 * matter when a port is created may be ignored by netmap if the port exists.
 *
 *  - `share=PORT` (key `port`, default, mandatory): use the memory region of
 *    PORT, a "subsystem:vpname" name.  The mem_id is looked up with a
 *    NETMAP_REQ_PORT_INFO_GET request on a temporary /dev/netmap descriptor
 *    (see nmreq_get_mem_id()); an explicit, different @memid is EINVAL.
 *  - `conf:` (no default key) ring and slot counts: `rings`, `host-rings`,
 *    `slots` set both directions; `tx-rings`, `rx-rings`, `host-tx-rings`,
 *    `host-rx-rings`, `tx-slots`, `rx-slots` override one direction.
 *  - `extmem=FILE` or `extmem:file=FILE,if-num=,if-size=,ring-num=,
 *    ring-size=,buf-num=,buf-size=` (key `file` default and mandatory):
 *    map FILE and hand it to netmap as external memory
 *    (NETMAP_REQ_OPT_EXTMEM); unspecified sizes are chosen by netmap.
 *  - `offset=N` or `offset:initial=N,bits=B` (key `initial` default and
 *    mandatory): request per-slot buffer offsets (NETMAP_REQ_OPT_OFFSETS)
 *    with initial and maximum offset N, using B bits of slot->ptr (0: all).
 *    Disabled by default: call nmport_enable_option("offset") first.
 *
 * Examples: "netmap:eth0", "netmap:eth0-1", "netmap:eth0^", "netmap:eth0*",
 * "netmap:eth0-2/Tx", "netmap:eth0@2/R", "netmap:pipe{in-7", "netmap:pipeA}1",
 * "vale0:p", "vale:0", "vale0:0{0", "vale0:v0/z",
 * "netmap:lo@conf:rings=4,slots=1024", "vale0:a@share=vale0:b".
 */
#ifndef LIBNETMAP_H_
#define LIBNETMAP_H_

#include <stddef.h>
#include <stdint.h>
#include <net/netmap_user.h>

#ifdef __cplusplus
extern "C" {
#endif

struct nmctx;
struct nmport_d;
struct nmem_d;
struct nmport_cleanup_d;	/**< private to the library */

/* ------------------------------------------------------------------------ */
/** @name Port descriptors
 * @{ */

/**
 * @brief A netmap port: the registration request plus what it produced.
 *
 * @c hdr and @c reg are the NETMAP_REQ_REGISTER request filled by
 * nmport_parse() (hdr.nr_body points at reg); a program may adjust them
 * (e.g. reg.nr_extra_bufs, reg.nr_mode) between nmport_prepare() and
 * nmport_open_desc().  After registration reg holds netmap's reply.
 * Every other field is maintained by the library and must be treated as
 * read-only.
 */
struct nmport_d {
	struct nmreq_header hdr;	/**< request header (name, options) */
	struct nmreq_register reg;	/**< request body / netmap's reply */

	/** Memory region in use.  Within one nmctx, two ports have the same
	 *  @c mem exactly when they share a region, i.e. when buffers can be
	 *  exchanged between them by index (zero copy). */
	struct nmem_d *mem;

	struct nmctx *ctx;		/**< context the descriptor was made in */

	int register_done;		/**< nmport_register() succeeded */
	int mmap_done;			/**< nmport_mmap() succeeded */

	/** External-memory option in hdr's option list, or NULL. */
	struct nmreq_opt_extmem *extmem;

	int fd;				/**< the /dev/netmap descriptor, or -1 */
	struct netmap_if *nifp;		/**< this registration's netmap_if */
	/** Bound TX rings are [first_tx_ring, last_tx_ring] (indices for
	 *  NETMAP_TXRING); the range is empty (first > last) when none is. */
	uint16_t first_tx_ring;
	uint16_t last_tx_ring;
	/** Bound RX rings, as for TX (indices for NETMAP_RXRING). */
	uint16_t first_rx_ring;
	uint16_t last_rx_ring;
	uint16_t cur_tx_ring;		/**< next TX ring tried by nmport_inject() */
	uint16_t cur_rx_ring;		/**< free for the application's use */

	struct nmport_cleanup_d *clist;	/**< private: undo actions, newest first */
};

/**
 * @brief Open a port: nmport_prepare() followed by nmport_open_desc().
 *
 * @param portspec port specification (see @ref portspec).
 * @return a registered and mapped descriptor, to be released with
 *         nmport_close(); NULL on error with errno set (EINVAL for a
 *         malformed spec, EOPNOTSUPP for a disabled option, ENOMEM, or any
 *         error of open(), the NIOCCTRL request or mmap()).
 */
struct nmport_d *nmport_open(const char *portspec);

/**
 * @brief Undo everything nmport_open() (or the split-up calls) did and free
 *        the descriptor.  The memory region is unmapped only when no other
 *        port of the same nmctx still uses it.  NULL is ignored.
 */
void nmport_close(struct nmport_d *d);

/**
 * @brief Copy one packet into a TX ring of the port.
 *
 * Starting at cur_tx_ring and going round the bound TX rings, the packet is
 * written into the first ring with enough free slots, beginning at the
 * ring's @c cur.  A packet longer than the ring's buffer size is spread over
 * several slots, all but the last flagged NS_MOREFRAG.  The ring's head and
 * cur are moved past the packet and cur_tx_ring is set to the ring used.
 * No system call is made: the packet leaves at the next NIOCTXSYNC or poll().
 *
 * @return @p size on success; 0 if no bound TX ring has room (or the port
 *         has no TX ring).  Upstream's header says "0 on success"; the code,
 *         which we follow, returns the size.
 */
int nmport_inject(struct nmport_d *d, const void *buf, size_t size);

/*
 * The steps of nmport_open() are also available one by one:
 *
 *   nmport_open      = nmport_prepare   + nmport_open_desc
 *   nmport_prepare   = nmport_new       + nmport_parse
 *   nmport_open_desc = nmport_register  + nmport_mmap
 *
 * and each has an undo function.  A failing step leaves the descriptor as it
 * was before the call.
 */

/**
 * @brief Allocate an empty descriptor with the default context's malloc().
 *
 * hdr is initialised for NETMAP_REQ_REGISTER with reg as its body, fd is -1.
 * @return the descriptor, or NULL with errno ENOMEM.
 */
struct nmport_d *nmport_new(void);

/**
 * @brief Fill d->hdr and d->reg from a port specification.
 *
 * Options may allocate option structures and (for extmem) map a file; they
 * are released by nmport_undo_parse().  A non-zero d->reg.nr_mem_id set
 * before the call acts like an earlier "@memid".
 *
 * @return 0, or -1 with errno EINVAL (syntax, or @p d already
 *         registered), EOPNOTSUPP (disabled option), ENOMEM, or the errno
 *         of a failed look-up or file mapping; on failure *d is unchanged.
 */
int nmport_parse(struct nmport_d *d, const char *portspec);

/**
 * @brief Open /dev/netmap and send the NETMAP_REQ_REGISTER request in d->hdr.
 *
 * If netmap rejects the request, every option whose nro_status is non-zero
 * is reported through the context's error callback.
 *
 * @return 0, or -1 with errno set (EINVAL if already registered, else the
 *         errno of open() or of the request); on failure *d is unchanged.
 */
int nmport_register(struct nmport_d *d);

/**
 * @brief Map the memory region of a registered port and locate its rings.
 *
 * A region already mapped in the same nmctx for the same mem_id is reused
 * (its reference count is raised); with external memory the caller's memory
 * is used and nothing is mapped.  Sets nifp and the first/last/cur ring
 * fields from the non-zero entries of nifp->ring_ofs[].
 *
 * @return 0, or -1 with errno EINVAL (not registered, already mapped),
 *         ENOMEM, or the errno of mmap(); on failure *d is unchanged.
 */
int nmport_mmap(struct nmport_d *d);

/** @brief Free a descriptor made by nmport_new() (nothing else is undone). */
void nmport_delete(struct nmport_d *d);
/** @brief Undo nmport_parse(): drop options, unmap extmem files, reset
 *         hdr/reg to the state left by nmport_new(). */
void nmport_undo_parse(struct nmport_d *d);
/** @brief Undo nmport_register(): close the netmap descriptor. */
void nmport_undo_register(struct nmport_d *d);
/** @brief Undo nmport_mmap(): release the region (unmapped with its last
 *         user in the context) and clear the ring fields. */
void nmport_undo_mmap(struct nmport_d *d);

/**
 * @brief nmport_new() followed by nmport_parse().
 * @return the prepared descriptor, or NULL with errno set as for
 *         nmport_parse().
 */
struct nmport_d *nmport_prepare(const char *portspec);

/**
 * @brief nmport_register() followed by nmport_mmap().
 * @return 0, or -1 with errno set; on failure *d is unchanged.
 */
int nmport_open_desc(struct nmport_d *d);

/** @brief Undo nmport_prepare(): nmport_undo_parse() + nmport_delete(). */
void nmport_undo_prepare(struct nmport_d *d);
/** @brief Undo nmport_open_desc(): nmport_undo_mmap() + nmport_undo_register(). */
void nmport_undo_open_desc(struct nmport_d *d);

/**
 * @brief Make a new, unregistered descriptor with the same request as @p d.
 *
 * hdr and reg are copied (so name, mode, ring, flags, mem_id and ring/slot
 * configuration are the same) but not the option list; the copy uses the
 * same nmctx and, once opened, the same nmem_d if it lands in the same
 * region.  Typical use: one descriptor per thread, each re-registered with a
 * different reg.nr_mode / reg.nr_ringid before nmport_open_desc().
 *
 * @return the copy, or NULL with errno EINVAL (@p d uses extmem and is not
 *         registered yet) or ENOMEM.
 */
struct nmport_d *nmport_clone(struct nmport_d *d);

/**
 * @brief Let netmap place the port's memory region in [@p base, @p base + @p size).
 *
 * Adds a NETMAP_REQ_OPT_EXTMEM option to the request; pool sizes can be
 * tuned through nmport_extmem_getinfo().  Must be called before
 * nmport_register().
 *
 * @return 0, or -1 with errno EINVAL (already registered, extmem already
 *         set) or ENOMEM.
 */
int nmport_extmem(struct nmport_d *d, void *base, size_t size);

/**
 * @brief Like nmport_extmem(), with memory obtained by mapping a whole file
 *        (shared, read/write).  The file is unmapped by nmport_undo_parse().
 * @return 0, or -1 with errno from open()/lseek()/mmap() or nmport_extmem().
 */
int nmport_extmem_from_file(struct nmport_d *d, const char *fname);

/**
 * @brief The pool configuration of the port's external memory.
 * @return a pointer into the extmem option (writable before registration,
 *         netmap's values after), or NULL if the port has no extmem.
 */
struct nmreq_pools_info *nmport_extmem_getinfo(struct nmport_d *d);

/**
 * @brief Ask for per-slot buffer offsets (NETMAP_REQ_OPT_OFFSETS).
 *
 * @param initial offset netmap writes into every slot at registration.
 * @param maxoff  largest offset the application will use.
 * @param bits    low bits of slot->ptr holding the offset (0: all 64).
 * @param mingap  if non-zero, netmap never writes more than this many bytes
 *                per slot (for buffers shared between slots).
 * After registration, ring->offset_mask tells which bits of slot->ptr hold
 * the offset (see NETMAP_ROFFSET / NETMAP_WOFFSET).
 * @return 0, or -1 with errno ENOMEM.
 */
int nmport_offset(struct nmport_d *d, uint64_t initial, uint64_t maxoff,
		uint64_t bits, uint64_t mingap);

/**
 * @brief Refuse an option in port specifications from now on (it then fails
 *        with EOPNOTSUPP).  Unknown names are ignored.  Meant to be called
 *        at start-up, before ports are parsed.
 */
void nmport_disable_option(const char *opt);

/**
 * @brief Accept an option that is disabled (all options but "offset" are
 *        enabled initially).
 * @return 0, or -1 with errno EOPNOTSUPP if the option is unknown.
 */
int nmport_enable_option(const char *opt);

/** @} */

/* ------------------------------------------------------------------------ */
/** @name Request helpers
 * @{ */

/**
 * @brief Zero @p hdr, then set nr_version to NETMAP_API, nr_reqtype to
 *        @p reqtype and nr_body to @p body.
 */
void nmreq_header_init(struct nmreq_header *hdr, uint16_t reqtype, void *body);

/**
 * @brief Parse "subsystem:vpname" at *@p ppspec into hdr->nr_name.
 *
 * On success *@p ppspec is advanced to the first character after the name
 * (a ring/modifier/option character or the end) and only nr_name is
 * written.  On failure returns -1 with errno EINVAL, reports through @p ctx,
 * and leaves *@p ppspec and *@p hdr unchanged.
 */
int nmreq_header_decode(const char **ppspec, struct nmreq_header *hdr,
		struct nmctx *ctx);

/**
 * @brief Parse the ring selection and modifiers at *@p pmode.
 *
 * Sets reg->nr_mode, nr_ringid, nr_flags and nr_mem_id (a non-zero
 * nr_mem_id already in @p reg must be matched by any "@memid").  Parsing
 * stops without error at an '@' that is not followed by a digit: *@p pmode
 * is then left pointing at that '@' (the start of the options); otherwise it
 * points at the end of the string.  On failure returns -1 with errno EINVAL,
 * reports through @p ctx, and leaves *@p pmode and *@p reg unchanged.
 */
int nmreq_register_decode(const char **pmode, struct nmreq_register *reg,
		struct nmctx *ctx);

struct nmreq_opt_parser;
struct nmreq_parse_ctx;

/** @brief Callback interpreting the key values collected for one option. */
typedef int (*nmreq_opt_parser_cb)(struct nmreq_parse_ctx *);

#define NMREQ_OPT_MAXKEYS 16	/**< keys an option may define */

/** @brief One key of an option. */
struct nmreq_opt_key {
	const char *key;	/**< name, with '_' where users may write '-' */
	int id;			/**< index in nmreq_parse_ctx.keys */
	unsigned int flags;
#define NMREQ_OPTK_ALLOWEMPTY	(1U << 0) /**< may be given without "=value" */
#define NMREQ_OPTK_MUSTSET	(1U << 1) /**< mandatory */
#define NMREQ_OPTK_DEFAULT	(1U << 2) /**< receives the value of "opt=value" */
};

/** @brief Description of one option; parsers form a list through @c next. */
struct nmreq_opt_parser {
	const char *prefix;		/**< option name */
	nmreq_opt_parser_cb parse;	/**< called once the keys are collected */
	int default_key;		/**< id of the default key, -1 if none */
	int nr_keys;			/**< entries used in keys[] */
	unsigned int flags;
#define NMREQ_OPTF_DISABLED	(1U << 0) /**< reject with EOPNOTSUPP */
#define NMREQ_OPTF_ALLOWEMPTY	(1U << 1) /**< may be given as a bare name */
	struct nmreq_opt_parser *next;	/**< next parser in the list */
	struct nmreq_opt_key keys[NMREQ_OPT_MAXKEYS];
} __attribute__((aligned(16)));

/** @brief What a parser callback receives. */
struct nmreq_parse_ctx {
	struct nmctx *ctx;	/**< for errors and allocations */
	void *token;		/**< caller's token (nmport_parse: the nmport_d) */
	/** Value of each key by id; NULL when the key was not given.  For a
	 *  key given without "=value" (NMREQ_OPTK_ALLOWEMPTY) it points at the
	 *  key's name.  The strings are valid only during the callback. */
	const char *keys[NMREQ_OPT_MAXKEYS];
};

/**
 * @brief Parse an option list ("@opt@opt...", or "") with a list of parsers.
 *
 * Each option is matched by name against @p parsers (following ->next), its
 * keys are collected and checked, and the parser's callback is called with
 * @p token.  @return 0, or -1 with errno set (EINVAL, EOPNOTSUPP, ENOMEM or
 * whatever a callback set) after reporting through @p ctx.  Options handled
 * before the failing one are not undone.
 */
int nmreq_options_decode(const char *opt, struct nmreq_opt_parser *parsers,
		void *token, struct nmctx *ctx);

/**
 * @brief Find the mem_id of the port named at *@p portname.
 *
 * *@p portname must start with "subsystem:vpname" (anything may follow).
 * A NETMAP_REQ_PORT_INFO_GET request is sent on a temporary /dev/netmap
 * descriptor.  On success *@p portname is advanced past the name.
 * @return the mem_id, or -1 with errno set (EINVAL for a malformed name,
 *         else the errno of open() or of the request).
 */
int32_t nmreq_get_mem_id(const char **portname, struct nmctx *ctx);

/** @brief Insert @p o at the head of @p hdr's option list. */
void nmreq_push_option(struct nmreq_header *hdr, struct nmreq_option *o);
/** @brief Unlink @p o from @p hdr's option list (no-op if absent). */
void nmreq_remove_option(struct nmreq_header *hdr, struct nmreq_option *o);
/** @brief First option of type @p reqtype in @p hdr's list, or NULL. */
struct nmreq_option *nmreq_find_option(struct nmreq_header *hdr, uint32_t reqtype);
/** @brief free() every option in @p hdr's list (they must come from
 *         malloc()) and empty the list. */
void nmreq_free_options(struct nmreq_header *hdr);
/** @brief Printable name of an option type ("extmem", "offsets", ...;
 *         "unknown" for others). */
const char *nmreq_option_name(uint32_t reqtype);

/** @brief Iterate @p o_ over the options of header @p h_. */
#define nmreq_foreach_option(h_, o_)					\
	for ((o_) = (struct nmreq_option *)(uintptr_t)((h_)->nr_options);	\
	     (o_) != NULL;						\
	     (o_) = (struct nmreq_option *)(uintptr_t)((o_)->nro_next))

/** @} */

/* ------------------------------------------------------------------------ */
/** @name Contexts
 *
 * An nmctx groups what the library needs from its environment: where
 * error messages go, how memory is allocated, how the list of mapped
 * regions is locked, and that list itself (so that ports opened in the same
 * context on the same mem_id share one nmem_d).  nmport_new() and
 * nmport_prepare() use the default context; a descriptor keeps its context
 * for life.
 * @{ */

typedef void  (*nmctx_error_cb)(struct nmctx *, const char *);
typedef void *(*nmctx_malloc_cb)(struct nmctx *, size_t);
typedef void  (*nmctx_free_cb)(struct nmctx *, void *);
/** Second argument: 1 to lock, 0 to unlock. */
typedef void  (*nmctx_lock_cb)(struct nmctx *, int);

/** @brief A library context. */
struct nmctx {
	int verbose;		/**< 0: errors are not passed to @c error */
	nmctx_error_cb error;	/**< receives one message per failure */
	nmctx_malloc_cb malloc;	/**< allocator for descriptors and options */
	nmctx_free_cb free;	/**< its counterpart */
	nmctx_lock_cb lock;	/**< protects mem_descs; NULL: no locking */
	struct nmem_d *mem_descs; /**< regions mapped in this context */
};

/** @brief The current default context.  Initially a verbose context that
 *         prints errors to stderr, uses malloc()/free() and a pthread mutex. */
struct nmctx *nmctx_get(void);

/** @brief Install @p ctx as the default context (NULL: the built-in one).
 *  Descriptors already created keep their context.
 *  @return the previous default. */
struct nmctx *nmctx_set_default(struct nmctx *ctx);

/** @brief Make the default context lock its region list with a process-wide
 *         pthread mutex (if it has no lock callback yet).  Idempotent. */
void nmctx_set_threadsafe(void);

/** @brief Non-zero: the library was built thread safe (always 1 here; kept
 *         for programs that reference upstream's symbol). */
extern int nmctx_threadsafe;

/** @brief printf-like: format a message and pass it to ctx->error if
 *         ctx->verbose.  errno is preserved. */
void nmctx_ferror(struct nmctx *ctx, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/** @brief Allocate with the context's allocator. */
void *nmctx_malloc(struct nmctx *ctx, size_t size);
/** @brief Free memory obtained from nmctx_malloc(). */
void nmctx_free(struct nmctx *ctx, void *p);
/** @brief Take the context's lock (no-op without a lock callback). */
void nmctx_lock(struct nmctx *ctx);
/** @brief Release the context's lock. */
void nmctx_unlock(struct nmctx *ctx);

/**
 * @brief A memory region mapped by the library (one per mem_id and context).
 *
 * The regions of a context form a doubly linked list starting at
 * nmctx.mem_descs.
 */
struct nmem_d {
	uint16_t mem_id;	/**< netmap's allocator id */
	int refcount;		/**< ports of the context using it */
	void *mem;		/**< base address */
	size_t size;		/**< bytes */
	int is_extmem;		/**< memory belongs to the application */
	struct nmem_d *next;
	struct nmem_d *prev;
};

/** @} */

#ifdef __cplusplus
}
#endif

#endif /* LIBNETMAP_H_ */
