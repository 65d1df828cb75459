/*
 * libnetmap port descriptors: parse a port spec into a REGISTER request,
 * register it on a /dev/netmap descriptor, map the memory region (shared
 * per mem_id within an nmctx), and the small helpers built on top
 * (inject, clone, extmem, offsets, option switches).
 *
 * Everything a step allocates or maps is recorded in the descriptor's
 * cleanup list (newest first), so that the matching undo step, or a
 * failure half-way through a step, can roll back exactly what was done.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "libnetmap.h"
#include "nmlib.h"
#include "unetmap.h"

/* ------------------------------------------------------------------------ */
/* Cleanup records */

typedef void (*nmport_undo_fn)(struct nmport_cleanup_d *, struct nmport_d *);

struct nmport_cleanup_d {
	struct nmport_cleanup_d *next;
	nmport_undo_fn undo;
};

/* Allocate a zeroed record of @size bytes (at least the header). */
static void *
nmport_cleanup_alloc(struct nmport_d *d, size_t size, nmport_undo_fn undo)
{
	struct nmport_cleanup_d *c = nmctx_malloc(d->ctx, size);

	if (c == NULL) {
		errno = ENOMEM;
		nmctx_ferror(d->ctx, "%s: cannot allocate a cleanup record",
				d->hdr.nr_name);
		return NULL;
	}
	memset(c, 0, size);
	c->undo = undo;
	return c;
}

static void
nmport_cleanup_push(struct nmport_d *d, struct nmport_cleanup_d *c)
{
	c->next = d->clist;
	d->clist = c;
}

/* Run and free records until @mark is at the top; errno is preserved. */
static void
nmport_cleanup_unwind(struct nmport_d *d, struct nmport_cleanup_d *mark)
{
	int err = errno;

	while (d->clist != NULL && d->clist != mark) {
		struct nmport_cleanup_d *c = d->clist;

		d->clist = c->next;
		c->undo(c, d);
		nmctx_free(d->ctx, c);
	}
	errno = err;
}

/* ------------------------------------------------------------------------ */
/* Creation and destruction */

static struct nmport_d *
nmport_new_in(struct nmctx *ctx)
{
	struct nmport_d *d = nmctx_malloc(ctx, sizeof(*d));

	if (d == NULL) {
		errno = ENOMEM;
		nmctx_ferror(ctx, "cannot allocate a port descriptor");
		return NULL;
	}
	memset(d, 0, sizeof(*d));
	nmreq_header_init(&d->hdr, NETMAP_REQ_REGISTER, &d->reg);
	d->ctx = ctx;
	d->fd = -1;
	return d;
}

struct nmport_d *
nmport_new(void)
{
	return nmport_new_in(nmctx_get());
}

void
nmport_delete(struct nmport_d *d)
{
	if (d == NULL)
		return;
	nmctx_free(d->ctx, d);
}

/* ------------------------------------------------------------------------ */
/* External memory and offsets */

struct nmport_extmem_cleanup {
	struct nmport_cleanup_d up;
	struct nmreq_opt_extmem *opt;
};

static void
nmport_extmem_undo(struct nmport_cleanup_d *c, struct nmport_d *d)
{
	struct nmport_extmem_cleanup *ec = (struct nmport_extmem_cleanup *)c;

	nmreq_remove_option(&d->hdr, &ec->opt->nro_opt);
	if (d->extmem == ec->opt)
		d->extmem = NULL;
	nmctx_free(d->ctx, ec->opt);
}

int
nmport_extmem(struct nmport_d *d, void *base, size_t size)
{
	struct nmctx *ctx = d->ctx;
	struct nmport_extmem_cleanup *ec;
	struct nmreq_opt_extmem *opt;

	if (d->register_done) {
		errno = EINVAL;
		nmctx_ferror(ctx, "%s: cannot add extmem to a registered port",
				d->hdr.nr_name);
		return -1;
	}
	if (d->extmem != NULL) {
		errno = EINVAL;
		nmctx_ferror(ctx, "%s: the port already uses extmem",
				d->hdr.nr_name);
		return -1;
	}

	ec = nmport_cleanup_alloc(d, sizeof(*ec), nmport_extmem_undo);
	if (ec == NULL)
		return -1;
	opt = nmctx_malloc(ctx, sizeof(*opt));
	if (opt == NULL) {
		nmctx_free(ctx, ec);
		errno = ENOMEM;
		nmctx_ferror(ctx, "%s: cannot allocate the extmem option",
				d->hdr.nr_name);
		return -1;
	}
	memset(opt, 0, sizeof(*opt));
	opt->nro_opt.nro_reqtype = NETMAP_REQ_OPT_EXTMEM;
	opt->nro_usrptr = (uint64_t)(uintptr_t)base;
	opt->nro_info.nr_memsize = size;

	nmreq_push_option(&d->hdr, &opt->nro_opt);
	d->extmem = opt;
	ec->opt = opt;
	nmport_cleanup_push(d, &ec->up);
	return 0;
}

struct nmport_mapping_cleanup {
	struct nmport_cleanup_d up;
	void *base;
	size_t size;
};

static void
nmport_mapping_undo(struct nmport_cleanup_d *c, struct nmport_d *d)
{
	struct nmport_mapping_cleanup *mc = (struct nmport_mapping_cleanup *)c;

	(void)d;
	munmap(mc->base, mc->size);
}

int
nmport_extmem_from_file(struct nmport_d *d, const char *fname)
{
	struct nmctx *ctx = d->ctx;
	struct nmport_cleanup_d *mark = d->clist;
	struct nmport_mapping_cleanup *mc;
	off_t len;
	void *p;
	int fd, err;

	mc = nmport_cleanup_alloc(d, sizeof(*mc), nmport_mapping_undo);
	if (mc == NULL)
		return -1;

	fd = open(fname, O_RDWR);
	if (fd < 0) {
		err = errno;
		nmctx_ferror(ctx, "extmem: cannot open '%s': %s", fname,
				strerror(err));
		goto fail;
	}
	len = lseek(fd, 0, SEEK_END);
	if (len <= 0) {
		err = (len < 0) ? errno : EINVAL;
		close(fd);
		errno = err;
		nmctx_ferror(ctx, "extmem: cannot use '%s': %s", fname,
				len < 0 ? strerror(err) : "empty file");
		goto fail;
	}
	p = mmap(NULL, (size_t)len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	err = errno;
	close(fd);
	if (p == MAP_FAILED) {
		errno = err;
		nmctx_ferror(ctx, "extmem: cannot map '%s': %s", fname,
				strerror(err));
		goto fail;
	}

	mc->base = p;
	mc->size = (size_t)len;
	nmport_cleanup_push(d, &mc->up);
	if (nmport_extmem(d, p, (size_t)len) < 0) {
		nmport_cleanup_unwind(d, mark);	/* unmaps the file */
		return -1;
	}
	return 0;

fail:
	err = errno;
	nmctx_free(ctx, mc);
	errno = err;
	return -1;
}

struct nmreq_pools_info *
nmport_extmem_getinfo(struct nmport_d *d)
{
	if (d == NULL || d->extmem == NULL)
		return NULL;
	return &d->extmem->nro_info;
}

struct nmport_offset_cleanup {
	struct nmport_cleanup_d up;
	struct nmreq_opt_offsets *opt;
};

static void
nmport_offset_undo(struct nmport_cleanup_d *c, struct nmport_d *d)
{
	struct nmport_offset_cleanup *oc = (struct nmport_offset_cleanup *)c;

	nmreq_remove_option(&d->hdr, &oc->opt->nro_opt);
	nmctx_free(d->ctx, oc->opt);
}

int
nmport_offset(struct nmport_d *d, uint64_t initial, uint64_t maxoff,
		uint64_t bits, uint64_t mingap)
{
	struct nmctx *ctx = d->ctx;
	struct nmport_offset_cleanup *oc;
	struct nmreq_opt_offsets *opt;

	if (bits > UINT32_MAX) {
		errno = EINVAL;
		nmctx_ferror(ctx, "%s: offset bits %llu out of range",
				d->hdr.nr_name, (unsigned long long)bits);
		return -1;
	}
	oc = nmport_cleanup_alloc(d, sizeof(*oc), nmport_offset_undo);
	if (oc == NULL)
		return -1;
	opt = nmctx_malloc(ctx, sizeof(*opt));
	if (opt == NULL) {
		nmctx_free(ctx, oc);
		errno = ENOMEM;
		nmctx_ferror(ctx, "%s: cannot allocate the offsets option",
				d->hdr.nr_name);
		return -1;
	}
	memset(opt, 0, sizeof(*opt));
	opt->nro_opt.nro_reqtype = NETMAP_REQ_OPT_OFFSETS;
	opt->nro_initial_offset = initial;
	opt->nro_max_offset = maxoff;
	opt->nro_offset_bits = (uint32_t)bits;
	opt->nro_min_gap = mingap;

	nmreq_push_option(&d->hdr, &opt->nro_opt);
	oc->opt = opt;
	nmport_cleanup_push(d, &oc->up);
	return 0;
}

/* ------------------------------------------------------------------------ */
/* Port-spec options */

enum { SHARE_PORT, SHARE_NKEYS };
enum {
	EXTMEM_FILE, EXTMEM_IF_NUM, EXTMEM_IF_SIZE, EXTMEM_RING_NUM,
	EXTMEM_RING_SIZE, EXTMEM_BUF_NUM, EXTMEM_BUF_SIZE, EXTMEM_NKEYS
};
enum {
	CONF_RINGS, CONF_HOST_RINGS, CONF_SLOTS, CONF_TX_RINGS, CONF_RX_RINGS,
	CONF_HOST_TX_RINGS, CONF_HOST_RX_RINGS, CONF_TX_SLOTS, CONF_RX_SLOTS,
	CONF_NKEYS
};
enum { OFFSET_INITIAL, OFFSET_BITS, OFFSET_NKEYS };

/* Convert the value of key @id of option @opt, or leave *out alone if the
 * key was not given.  Returns -1 (EINVAL, reported) for a bad number. */
static int
nmport_opt_uint(struct nmreq_parse_ctx *p, const char *opt,
		const struct nmreq_opt_parser *desc, int id, uint64_t max,
		uint64_t *out)
{
	const char *v = p->keys[id];

	if (v == NULL)
		return 0;
	if (nmlib_parse_uint(v, max, out) < 0) {
		errno = EINVAL;
		nmctx_ferror(p->ctx, "option '%s': invalid value '%s' for key "
				"'%s' (expected a number in 0..%llu)", opt, v,
				desc->keys[id].key, (unsigned long long)max);
		return -1;
	}
	return 1;
}

static int nmport_opt_share(struct nmreq_parse_ctx *);
static int nmport_opt_extmem(struct nmreq_parse_ctx *);
static int nmport_opt_conf(struct nmreq_parse_ctx *);
static int nmport_opt_offset(struct nmreq_parse_ctx *);
static int nmport_opt_xdp(struct nmreq_parse_ctx *);

enum { XDP_MODE, XDP_NKEYS };

/* unetmap extension: @xdp:mode=auto|zc|copy|packet for NIC ports */
static struct nmreq_opt_parser nmport_parser_xdp = {
	.prefix = "xdp",
	.parse = nmport_opt_xdp,
	.default_key = XDP_MODE,
	.nr_keys = XDP_NKEYS,
	.flags = 0,
	.next = NULL,
	.keys = {
		{ "mode", XDP_MODE, NMREQ_OPTK_DEFAULT | NMREQ_OPTK_MUSTSET },
	},
};

static struct nmreq_opt_parser nmport_parser_offset = {
	.prefix = "offset",
	.parse = nmport_opt_offset,
	.default_key = OFFSET_INITIAL,
	.nr_keys = OFFSET_NKEYS,
	.flags = NMREQ_OPTF_DISABLED,	/* the application must opt in */
	.next = &nmport_parser_xdp,
	.keys = {
		{ "initial", OFFSET_INITIAL, NMREQ_OPTK_DEFAULT | NMREQ_OPTK_MUSTSET },
		{ "bits", OFFSET_BITS, 0 },
	},
};

static struct nmreq_opt_parser nmport_parser_conf = {
	.prefix = "conf",
	.parse = nmport_opt_conf,
	.default_key = -1,
	.nr_keys = CONF_NKEYS,
	.flags = 0,
	.next = &nmport_parser_offset,
	.keys = {
		{ "rings", CONF_RINGS, 0 },
		{ "host_rings", CONF_HOST_RINGS, 0 },
		{ "slots", CONF_SLOTS, 0 },
		{ "tx_rings", CONF_TX_RINGS, 0 },
		{ "rx_rings", CONF_RX_RINGS, 0 },
		{ "host_tx_rings", CONF_HOST_TX_RINGS, 0 },
		{ "host_rx_rings", CONF_HOST_RX_RINGS, 0 },
		{ "tx_slots", CONF_TX_SLOTS, 0 },
		{ "rx_slots", CONF_RX_SLOTS, 0 },
	},
};

static struct nmreq_opt_parser nmport_parser_extmem = {
	.prefix = "extmem",
	.parse = nmport_opt_extmem,
	.default_key = EXTMEM_FILE,
	.nr_keys = EXTMEM_NKEYS,
	.flags = 0,
	.next = &nmport_parser_conf,
	.keys = {
		{ "file", EXTMEM_FILE, NMREQ_OPTK_DEFAULT | NMREQ_OPTK_MUSTSET },
		{ "if_num", EXTMEM_IF_NUM, 0 },
		{ "if_size", EXTMEM_IF_SIZE, 0 },
		{ "ring_num", EXTMEM_RING_NUM, 0 },
		{ "ring_size", EXTMEM_RING_SIZE, 0 },
		{ "buf_num", EXTMEM_BUF_NUM, 0 },
		{ "buf_size", EXTMEM_BUF_SIZE, 0 },
	},
};

static struct nmreq_opt_parser nmport_parser_share = {
	.prefix = "share",
	.parse = nmport_opt_share,
	.default_key = SHARE_PORT,
	.nr_keys = SHARE_NKEYS,
	.flags = 0,
	.next = &nmport_parser_extmem,
	.keys = {
		{ "port", SHARE_PORT, NMREQ_OPTK_DEFAULT | NMREQ_OPTK_MUSTSET },
	},
};

#define NMPORT_PARSERS (&nmport_parser_share)

static int
nmport_opt_share(struct nmreq_parse_ctx *p)
{
	struct nmport_d *d = p->token;
	const char *port = p->keys[SHARE_PORT];
	int32_t mem_id;

	mem_id = nmreq_get_mem_id(&port, p->ctx);
	if (mem_id < 0)
		return -1;
	if (d->reg.nr_mem_id != 0 && d->reg.nr_mem_id != mem_id) {
		errno = EINVAL;
		nmctx_ferror(p->ctx, "option 'share': '%s' uses mem_id %d, but "
				"mem_id %u was already requested",
				p->keys[SHARE_PORT], (int)mem_id,
				(unsigned)d->reg.nr_mem_id);
		return -1;
	}
	d->reg.nr_mem_id = (uint16_t)mem_id;
	return 0;
}

static int
nmport_opt_extmem(struct nmreq_parse_ctx *p)
{
	const struct nmreq_opt_parser *desc = &nmport_parser_extmem;
	struct nmport_d *d = p->token;
	struct nmreq_pools_info *pi;
	uint64_t v[EXTMEM_NKEYS];
	int i;

	/* Check every number before anything is mapped. */
	memset(v, 0, sizeof(v));
	for (i = EXTMEM_IF_NUM; i < EXTMEM_NKEYS; i++)
		if (nmport_opt_uint(p, "extmem", desc, i, UINT32_MAX, &v[i]) < 0)
			return -1;

	if (nmport_extmem_from_file(d, p->keys[EXTMEM_FILE]) < 0)
		return -1;
	pi = &d->extmem->nro_info;
	pi->nr_if_pool_objtotal = (uint32_t)v[EXTMEM_IF_NUM];
	pi->nr_if_pool_objsize = (uint32_t)v[EXTMEM_IF_SIZE];
	pi->nr_ring_pool_objtotal = (uint32_t)v[EXTMEM_RING_NUM];
	pi->nr_ring_pool_objsize = (uint32_t)v[EXTMEM_RING_SIZE];
	pi->nr_buf_pool_objtotal = (uint32_t)v[EXTMEM_BUF_NUM];
	pi->nr_buf_pool_objsize = (uint32_t)v[EXTMEM_BUF_SIZE];
	return 0;
}

static int
nmport_opt_conf(struct nmreq_parse_ctx *p)
{
	const struct nmreq_opt_parser *desc = &nmport_parser_conf;
	struct nmport_d *d = p->token;
	struct nmreq_register r = d->reg;
	uint64_t v;
	int got;

	/* The two-direction keys first, so that the specific ones win. */
	if ((got = nmport_opt_uint(p, "conf", desc, CONF_RINGS, UINT16_MAX, &v)) < 0)
		return -1;
	if (got)
		r.nr_tx_rings = r.nr_rx_rings = (uint16_t)v;
	if ((got = nmport_opt_uint(p, "conf", desc, CONF_HOST_RINGS, UINT16_MAX, &v)) < 0)
		return -1;
	if (got)
		r.nr_host_tx_rings = r.nr_host_rx_rings = (uint16_t)v;
	if ((got = nmport_opt_uint(p, "conf", desc, CONF_SLOTS, UINT32_MAX, &v)) < 0)
		return -1;
	if (got)
		r.nr_tx_slots = r.nr_rx_slots = (uint32_t)v;

	if ((got = nmport_opt_uint(p, "conf", desc, CONF_TX_RINGS, UINT16_MAX, &v)) < 0)
		return -1;
	if (got)
		r.nr_tx_rings = (uint16_t)v;
	if ((got = nmport_opt_uint(p, "conf", desc, CONF_RX_RINGS, UINT16_MAX, &v)) < 0)
		return -1;
	if (got)
		r.nr_rx_rings = (uint16_t)v;
	if ((got = nmport_opt_uint(p, "conf", desc, CONF_HOST_TX_RINGS, UINT16_MAX, &v)) < 0)
		return -1;
	if (got)
		r.nr_host_tx_rings = (uint16_t)v;
	if ((got = nmport_opt_uint(p, "conf", desc, CONF_HOST_RX_RINGS, UINT16_MAX, &v)) < 0)
		return -1;
	if (got)
		r.nr_host_rx_rings = (uint16_t)v;
	if ((got = nmport_opt_uint(p, "conf", desc, CONF_TX_SLOTS, UINT32_MAX, &v)) < 0)
		return -1;
	if (got)
		r.nr_tx_slots = (uint32_t)v;
	if ((got = nmport_opt_uint(p, "conf", desc, CONF_RX_SLOTS, UINT32_MAX, &v)) < 0)
		return -1;
	if (got)
		r.nr_rx_slots = (uint32_t)v;

	d->reg = r;
	return 0;
}

static int
nmport_opt_offset(struct nmreq_parse_ctx *p)
{
	const struct nmreq_opt_parser *desc = &nmport_parser_offset;
	struct nmport_d *d = p->token;
	uint64_t initial = 0, bits = 0;

	if (nmport_opt_uint(p, "offset", desc, OFFSET_INITIAL, UINT64_MAX, &initial) < 0)
		return -1;
	if (nmport_opt_uint(p, "offset", desc, OFFSET_BITS, 64, &bits) < 0)
		return -1;
	/* The largest offset the port will see is the initial one. */
	return nmport_offset(d, initial, initial, bits, 0);
}

struct nmport_xdp_cleanup {
	struct nmport_cleanup_d up;
	struct unetmap_opt_nic *opt;
};

static void
nmport_xdp_undo(struct nmport_cleanup_d *c, struct nmport_d *d)
{
	struct nmport_xdp_cleanup *xc = (struct nmport_xdp_cleanup *)c;

	nmreq_remove_option(&d->hdr, &xc->opt->nro_opt);
	nmctx_free(d->ctx, xc->opt);
}

static int
nmport_opt_xdp(struct nmreq_parse_ctx *p)
{
	static const char *const names[] = { "auto", "zc", "copy", "packet" };
	struct nmport_d *d = p->token;
	struct nmctx *ctx = d->ctx;
	const char *v = p->keys[XDP_MODE];
	struct nmport_xdp_cleanup *xc;
	struct unetmap_opt_nic *opt;
	uint32_t mode;

	for (mode = 0; mode < 4; mode++)
		if (strcmp(v, names[mode]) == 0)
			break;
	if (mode == 4) {
		errno = EINVAL;
		nmctx_ferror(ctx, "%s: xdp mode '%s': want auto, zc, copy or packet",
				d->hdr.nr_name, v);
		return -1;
	}
	xc = nmport_cleanup_alloc(d, sizeof(*xc), nmport_xdp_undo);
	if (xc == NULL)
		return -1;
	opt = nmctx_malloc(ctx, sizeof(*opt));
	if (opt == NULL) {
		nmctx_free(ctx, xc);
		errno = ENOMEM;
		nmctx_ferror(ctx, "%s: cannot allocate the xdp option", d->hdr.nr_name);
		return -1;
	}
	memset(opt, 0, sizeof(*opt));
	opt->nro_opt.nro_reqtype = UNETMAP_REQ_OPT_NIC;
	opt->nro_mode = mode;
	nmreq_push_option(&d->hdr, &opt->nro_opt);
	xc->opt = opt;
	nmport_cleanup_push(d, &xc->up);
	return 0;
}

void
nmport_disable_option(const char *opt)
{
	struct nmreq_opt_parser *p;

	if (opt == NULL)
		return;
	for (p = NMPORT_PARSERS; p != NULL; p = p->next)
		if (strcmp(p->prefix, opt) == 0)
			__atomic_fetch_or(&p->flags, NMREQ_OPTF_DISABLED,
					__ATOMIC_RELAXED);
}

int
nmport_enable_option(const char *opt)
{
	struct nmreq_opt_parser *p;

	for (p = NMPORT_PARSERS; opt != NULL && p != NULL; p = p->next) {
		if (strcmp(p->prefix, opt) == 0) {
			__atomic_fetch_and(&p->flags, ~NMREQ_OPTF_DISABLED,
					__ATOMIC_RELAXED);
			return 0;
		}
	}
	errno = EOPNOTSUPP;
	nmctx_ferror(nmctx_get(), "cannot enable unknown option '%s'",
			opt != NULL ? opt : "(null)");
	return -1;
}

/* ------------------------------------------------------------------------ */
/* Parse / prepare */

int
nmport_parse(struct nmport_d *d, const char *portspec)
{
	struct nmport_cleanup_d *mark;
	struct nmreq_header saved_hdr;
	struct nmreq_register saved_reg;
	const char *scan = portspec;

	if (d == NULL || portspec == NULL) {
		errno = EINVAL;
		nmctx_ferror(d != NULL ? d->ctx : nmctx_get(),
				"nmport_parse: missing descriptor or port spec");
		return -1;
	}
	if (d->register_done) {
		errno = EINVAL;
		nmctx_ferror(d->ctx, "%s: cannot parse into a registered port",
				d->hdr.nr_name);
		return -1;
	}

	mark = d->clist;
	saved_hdr = d->hdr;
	saved_reg = d->reg;

	if (nmreq_header_decode(&scan, &d->hdr, d->ctx) < 0 ||
	    nmreq_register_decode(&scan, &d->reg, d->ctx) < 0 ||
	    nmreq_options_decode(scan, NMPORT_PARSERS, d, d->ctx) < 0) {
		/* Roll back options and mappings added by this call, then
		 * the request itself; errno survives the unwinding. */
		nmport_cleanup_unwind(d, mark);
		d->hdr = saved_hdr;
		d->reg = saved_reg;
		return -1;
	}
	return 0;
}

void
nmport_undo_parse(struct nmport_d *d)
{
	if (d == NULL)
		return;
	nmport_cleanup_unwind(d, NULL);
	d->extmem = NULL;
	memset(&d->reg, 0, sizeof(d->reg));
	nmreq_header_init(&d->hdr, NETMAP_REQ_REGISTER, &d->reg);
}

struct nmport_d *
nmport_prepare(const char *portspec)
{
	struct nmport_d *d = nmport_new();
	int err;

	if (d == NULL)
		return NULL;
	if (nmport_parse(d, portspec) < 0) {
		err = errno;
		nmport_delete(d);
		errno = err;
		return NULL;
	}
	return d;
}

void
nmport_undo_prepare(struct nmport_d *d)
{
	if (d == NULL)
		return;
	nmport_undo_parse(d);
	nmport_delete(d);
}

/* ------------------------------------------------------------------------ */
/* Register / mmap */

int
nmport_register(struct nmport_d *d)
{
	struct nmctx *ctx = d->ctx;
	struct nmreq_option *o;
	int fd, err;

	if (d->register_done) {
		errno = EINVAL;
		nmctx_ferror(ctx, "%s: already registered", d->hdr.nr_name);
		return -1;
	}

	fd = open("/dev/netmap", O_RDWR);
	if (fd < 0) {
		nmctx_ferror(ctx, "%s: cannot open /dev/netmap: %s",
				d->hdr.nr_name, strerror(errno));
		return -1;
	}
	if (ioctl(fd, NIOCCTRL, &d->hdr) < 0) {
		err = errno;
		close(fd);
		errno = err;
		/* netmap leaves a status in every option it looked at; an
		 * option it never reached still reads EOPNOTSUPP. */
		nmreq_foreach_option(&d->hdr, o) {
			if (o->nro_status != 0)
				nmctx_ferror(ctx, "%s: option %s: %s",
						d->hdr.nr_name,
						nmreq_option_name(o->nro_reqtype),
						strerror((int)o->nro_status));
		}
		nmctx_ferror(ctx, "%s: register failed: %s", d->hdr.nr_name,
				strerror(err));
		return -1;
	}
	d->fd = fd;
	d->register_done = 1;
	return 0;
}

void
nmport_undo_register(struct nmport_d *d)
{
	int err;

	if (d == NULL)
		return;
	err = errno;
	if (d->fd >= 0)
		close(d->fd);
	d->fd = -1;
	d->register_done = 0;
	errno = err;
}

/* Drop one reference to @m; the last one unmaps and frees it. */
static void
nmport_mem_release(struct nmctx *ctx, struct nmem_d *m)
{
	int err = errno;

	nmctx_lock(ctx);
	if (--m->refcount <= 0) {
		if (m->prev != NULL)
			m->prev->next = m->next;
		else
			ctx->mem_descs = m->next;
		if (m->next != NULL)
			m->next->prev = m->prev;
		if (!m->is_extmem && m->mem != NULL && m->mem != MAP_FAILED)
			munmap(m->mem, m->size);
		nmctx_free(ctx, m);
	}
	nmctx_unlock(ctx);
	errno = err;
}

/* Find the run of non-zero ring offsets in ofs[0..n): those rings are bound
 * to this descriptor.  With none, the range is empty (first > last). */
static void
nmport_bound_range(const ssize_t *ofs, unsigned n, uint16_t *first,
		uint16_t *last)
{
	unsigned i = 0;

	while (i < n && ofs[i] == 0)
		i++;
	if (i == n) {
		*first = (uint16_t)(n > 0 ? n : 1);
		*last = (uint16_t)(*first - 1);
		return;
	}
	*first = (uint16_t)i;
	while (i < n && ofs[i] != 0)
		i++;
	*last = (uint16_t)(i - 1);
}

int
nmport_mmap(struct nmport_d *d)
{
	struct nmctx *ctx = d->ctx;
	struct netmap_if *nifp;
	struct nmem_d *m;
	unsigned ntx, nrx;
	uint16_t ftx, ltx, frx, lrx;
	int err;

	if (d->mmap_done) {
		errno = EINVAL;
		nmctx_ferror(ctx, "%s: already mapped", d->hdr.nr_name);
		return -1;
	}
	if (!d->register_done) {
		errno = EINVAL;
		nmctx_ferror(ctx, "%s: cannot map a port that is not registered",
				d->hdr.nr_name);
		return -1;
	}

	nmctx_lock(ctx);
	for (m = ctx->mem_descs; m != NULL; m = m->next)
		if (m->mem_id == d->reg.nr_mem_id)
			break;
	if (m == NULL) {
		m = nmctx_malloc(ctx, sizeof(*m));
		if (m == NULL) {
			nmctx_unlock(ctx);
			errno = ENOMEM;
			nmctx_ferror(ctx, "%s: cannot allocate a memory descriptor",
					d->hdr.nr_name);
			return -1;
		}
		memset(m, 0, sizeof(*m));
		if (d->extmem != NULL) {
			m->mem = (void *)(uintptr_t)d->extmem->nro_usrptr;
			m->size = (size_t)d->extmem->nro_info.nr_memsize;
			m->is_extmem = 1;
		} else {
			void *p = mmap(NULL, (size_t)d->reg.nr_memsize,
					PROT_READ | PROT_WRITE, MAP_SHARED,
					d->fd, 0);

			if (p == MAP_FAILED) {
				err = errno;
				nmctx_unlock(ctx);
				nmctx_free(ctx, m);
				errno = err;
				nmctx_ferror(ctx, "%s: mmap of %llu bytes failed: %s",
						d->hdr.nr_name,
						(unsigned long long)d->reg.nr_memsize,
						strerror(err));
				return -1;
			}
			m->mem = p;
			m->size = (size_t)d->reg.nr_memsize;
		}
		m->mem_id = d->reg.nr_mem_id;
		m->prev = NULL;
		m->next = ctx->mem_descs;
		if (m->next != NULL)
			m->next->prev = m;
		ctx->mem_descs = m;
	}
	m->refcount++;
	nmctx_unlock(ctx);

	/* The netmap_if, with its ring table, must lie inside the region. */
	if (d->reg.nr_offset > m->size ||
	    m->size - d->reg.nr_offset < sizeof(struct netmap_if))
		goto bad_layout;
	nifp = NETMAP_IF(m->mem, d->reg.nr_offset);
	ntx = nifp->ni_tx_rings + nifp->ni_host_tx_rings;
	nrx = nifp->ni_rx_rings + nifp->ni_host_rx_rings;
	if ((uint64_t)ntx + nrx > (m->size - d->reg.nr_offset -
			sizeof(struct netmap_if)) / sizeof(ssize_t))
		goto bad_layout;

	nmport_bound_range(&nifp->ring_ofs[0], ntx, &ftx, &ltx);
	nmport_bound_range(&nifp->ring_ofs[ntx], nrx, &frx, &lrx);

	d->mem = m;
	d->nifp = nifp;
	d->first_tx_ring = d->cur_tx_ring = ftx;
	d->last_tx_ring = ltx;
	d->first_rx_ring = d->cur_rx_ring = frx;
	d->last_rx_ring = lrx;
	d->mmap_done = 1;
	return 0;

bad_layout:
	nmport_mem_release(ctx, m);
	errno = EINVAL;
	nmctx_ferror(ctx, "%s: netmap_if at offset %llu does not fit in the "
			"%zu-byte region", d->hdr.nr_name,
			(unsigned long long)d->reg.nr_offset, m->size);
	return -1;
}

void
nmport_undo_mmap(struct nmport_d *d)
{
	if (d == NULL)
		return;
	if (d->mem != NULL)
		nmport_mem_release(d->ctx, d->mem);
	d->mem = NULL;
	d->nifp = NULL;
	d->first_tx_ring = d->last_tx_ring = 0;
	d->first_rx_ring = d->last_rx_ring = 0;
	d->cur_tx_ring = d->cur_rx_ring = 0;
	d->mmap_done = 0;
}

int
nmport_open_desc(struct nmport_d *d)
{
	if (nmport_register(d) < 0)
		return -1;
	if (nmport_mmap(d) < 0) {
		nmport_undo_register(d);	/* keeps errno */
		return -1;
	}
	return 0;
}

void
nmport_undo_open_desc(struct nmport_d *d)
{
	nmport_undo_mmap(d);
	nmport_undo_register(d);
}

struct nmport_d *
nmport_open(const char *portspec)
{
	struct nmport_d *d = nmport_prepare(portspec);
	int err;

	if (d == NULL)
		return NULL;
	if (nmport_open_desc(d) < 0) {
		err = errno;
		nmport_undo_prepare(d);
		errno = err;
		return NULL;
	}
	return d;
}

void
nmport_close(struct nmport_d *d)
{
	if (d == NULL)
		return;
	nmport_undo_open_desc(d);
	nmport_undo_prepare(d);
}

/* ------------------------------------------------------------------------ */
/* Clone and inject */

struct nmport_d *
nmport_clone(struct nmport_d *d)
{
	struct nmport_d *c;

	if (d->extmem != NULL && !d->register_done) {
		errno = EINVAL;
		nmctx_ferror(d->ctx, "%s: a port using extmem can only be "
				"cloned after registration", d->hdr.nr_name);
		return NULL;
	}
	c = nmport_new_in(d->ctx);
	if (c == NULL)
		return NULL;
	/* Same request, but the copy owns its body and has no options:
	 * after registration reg.nr_mem_id names the region (extmem
	 * included), so the copy ends up sharing d's nmem_d. */
	c->hdr = d->hdr;
	c->hdr.nr_body = (uint64_t)(uintptr_t)&c->reg;
	c->hdr.nr_options = 0;
	c->reg = d->reg;
	return c;
}

int
nmport_inject(struct nmport_d *d, const void *buf, size_t size)
{
	unsigned first, last, nrings, k, ri;

	if (d == NULL || d->nifp == NULL || size > INT_MAX ||
	    d->first_tx_ring > d->last_tx_ring)
		return 0;
	first = d->first_tx_ring;
	last = d->last_tx_ring;
	nrings = last - first + 1;
	ri = d->cur_tx_ring;
	if (ri < first || ri > last)
		ri = first;

	for (k = 0; k < nrings; k++, ri = (ri == last) ? first : ri + 1) {
		struct netmap_ring *ring = NETMAP_TXRING(d->nifp, ri);
		const char *src = buf;
		/* slot.len is 16 bits wide: larger buffers are filled only
		 * up to 65535 bytes per fragment. */
		uint32_t bufsz = ring->nr_buf_size > UINT16_MAX ?
			UINT16_MAX : ring->nr_buf_size;
		uint32_t nslots = ring->num_slots;
		uint32_t cur = ring->cur, tail = ring->tail;
		size_t need, room, rem = size, s;
		uint32_t i;

		if (bufsz == 0 || nslots == 0 || cur >= nslots || tail >= nslots)
			continue;
		need = (size == 0) ? 1 : (size + bufsz - 1) / bufsz;
		room = (tail >= cur) ? tail - cur : tail + nslots - cur;
		if (room < need)
			continue;

		/* Fill [cur, cur + need): all fragments but the last are
		 * full buffers carrying NS_MOREFRAG. */
		i = cur;
		for (s = 0; s < need; s++) {
			struct netmap_slot *slot = &ring->slot[i];
			size_t chunk = rem > bufsz ? bufsz : rem;

			if (chunk > 0)
				memcpy(NETMAP_BUF(ring, slot->buf_idx), src, chunk);
			slot->len = (uint16_t)chunk;
			slot->flags = (uint16_t)((slot->flags & NS_BUF_CHANGED) |
					(s + 1 < need ? NS_MOREFRAG : 0));
			src += chunk;
			rem -= chunk;
			i = (i + 1 == nslots) ? 0 : i + 1;
		}
		ring->head = ring->cur = i;
		d->cur_tx_ring = (uint16_t)ri;
		return (int)size;
	}
	return 0;
}
