/*
 * libnetmap request helpers: the port-specification parser (name, ring
 * selection and modifiers, option lists), the mem_id look-up used by
 * "@share", and nmreq_option list handling.
 *
 * Every parser works on a const input and commits its results only after
 * the whole piece it is responsible for has been accepted, so a failure
 * leaves both the caller's cursor and the output structure untouched.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "libnetmap.h"
#include "nmlib.h"

/* The subsystem prefixes and what they allow between prefix and ':'. */
#define NM_PREFIX_NETMAP "netmap"	/* nothing; the prefix is dropped */
#define NM_PREFIX_VALE   "vale"		/* a switch identifier; kept */

/* Characters that end a port name. */
static const char nm_name_delims[] = "-*^/@";

/* Ring numbers accepted after '-' and '^' are [0, NM_RING_LIMIT). */
#define NM_RING_LIMIT NETMAP_RING_MASK

static int
nm_ident_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || c == '_';
}

static int
nm_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* 1 if [b, e) contains only identifier characters (an empty span is fine). */
static int
nm_span_is_ident(const char *b, const char *e)
{
	for (; b < e; b++)
		if (!nm_ident_char(*b))
			return 0;
	return 1;
}

/*
 * Read the run of digits at *ps and advance past it.  The value saturates
 * at a number far above every limit we check, so overflow cannot wrap a
 * huge input into a valid one.
 */
static uint64_t
nm_read_digits(const char **ps)
{
	const uint64_t cap = UINT64_C(1) << 48;
	const char *s = *ps;
	uint64_t v = 0;

	for (; nm_digit(*s); s++) {
		if (v < cap)
			v = v * 10 + (uint64_t)(*s - '0');
	}
	*ps = s;
	return v;
}

int
nmlib_parse_uint(const char *s, uint64_t max, uint64_t *out)
{
	uint64_t v;

	if (s == NULL || !nm_digit(*s))
		return -1;
	v = nm_read_digits(&s);
	if (*s != '\0' || v > max)
		return -1;
	*out = v;
	return 0;
}

void
nmreq_header_init(struct nmreq_header *hdr, uint16_t reqtype, void *body)
{
	memset(hdr, 0, sizeof(*hdr));
	hdr->nr_version = NETMAP_API;
	hdr->nr_reqtype = reqtype;
	hdr->nr_body = (uint64_t)(uintptr_t)body;
}

/* Common exit for the decoders: errno EINVAL, message already reported. */
static int
nm_syntax_error(void)
{
	errno = EINVAL;
	return -1;
}

int
nmreq_header_decode(const char **ppspec, struct nmreq_header *hdr,
		struct nmctx *ctx)
{
	const char *spec, *id, *colon, *vpname, *name, *end, *sep;
	int keep_prefix;
	size_t len;

	if (ctx == NULL)
		ctx = nmctx_get();
	if (ppspec == NULL || *ppspec == NULL || hdr == NULL) {
		nmctx_ferror(ctx, "invalid arguments to nmreq_header_decode");
		return nm_syntax_error();
	}
	spec = *ppspec;

	if (strncmp(spec, NM_PREFIX_NETMAP, strlen(NM_PREFIX_NETMAP)) == 0) {
		id = spec + strlen(NM_PREFIX_NETMAP);
		keep_prefix = 0;
	} else if (strncmp(spec, NM_PREFIX_VALE, strlen(NM_PREFIX_VALE)) == 0) {
		id = spec + strlen(NM_PREFIX_VALE);
		keep_prefix = 1;
	} else {
		nmctx_ferror(ctx, "%s: invalid port spec: it must start with "
				"'netmap:' or 'vale'", spec);
		return nm_syntax_error();
	}

	colon = strchr(id, ':');
	if (colon == NULL) {
		nmctx_ferror(ctx, "%s: missing ':' after the subsystem name",
				spec);
		return nm_syntax_error();
	}
	if (!keep_prefix && colon != id) {
		nmctx_ferror(ctx, "%s: nothing may stand between 'netmap' and ':'",
				spec);
		return nm_syntax_error();
	}
	if (keep_prefix && !nm_span_is_ident(id, colon)) {
		nmctx_ferror(ctx, "%s: invalid VALE switch name '%.*s' (letters, "
				"digits and '_' only)", spec, (int)(colon - id), id);
		return nm_syntax_error();
	}

	vpname = colon + 1;
	name = keep_prefix ? spec : vpname;
	for (end = vpname; *end != '\0' && strchr(nm_name_delims, *end) == NULL;
	     end++)
		;

	/* The first '{' or '}' splits "base{pipe" / "base}pipe". */
	for (sep = vpname; sep < end && *sep != '{' && *sep != '}'; sep++)
		;
	if (sep == vpname) {
		nmctx_ferror(ctx, "%s: empty port name", spec);
		return nm_syntax_error();
	}
	if (sep < end) {
		if (sep + 1 == end) {
			nmctx_ferror(ctx, "%s: empty pipe identifier after '%c'",
					spec, *sep);
			return nm_syntax_error();
		}
		if (!nm_span_is_ident(sep + 1, end)) {
			nmctx_ferror(ctx, "%s: invalid pipe identifier '%.*s' "
					"(letters, digits and '_' only)", spec,
					(int)(end - sep - 1), sep + 1);
			return nm_syntax_error();
		}
	}

	len = (size_t)(end - name);
	if (len >= sizeof(hdr->nr_name)) {
		nmctx_ferror(ctx, "%s: port name '%.*s' is too long (%zu "
				"characters, at most %zu)", spec, (int)len, name,
				len, sizeof(hdr->nr_name) - 1);
		return nm_syntax_error();
	}

	memset(hdr->nr_name, 0, sizeof(hdr->nr_name));
	memcpy(hdr->nr_name, name, len);
	*ppspec = end;
	return 0;
}

/* Parse the ring number after '-' or '^' (at least one digit expected). */
static int
nm_ring_number(const char **ps, const char *spec, uint16_t *ringid,
		struct nmctx *ctx)
{
	uint64_t n;

	if (!nm_digit(**ps)) {
		nmctx_ferror(ctx, "port mode '%s': expected a ring number at '%s'",
				spec, *ps);
		return nm_syntax_error();
	}
	n = nm_read_digits(ps);
	if (n >= NM_RING_LIMIT) {
		nmctx_ferror(ctx, "port mode '%s': ring %llu out of range [0, %d)", spec,
				(unsigned long long)n, NM_RING_LIMIT);
		return nm_syntax_error();
	}
	*ringid = (uint16_t)n;
	return 0;
}

static int
nm_flag_bit(char c, uint64_t *bit)
{
	switch (c) {
	case 'x': *bit = NR_EXCLUSIVE; return 1;
	case 'z': *bit = NR_ZCOPY_MON; return 1;
	case 't': *bit = NR_MONITOR_TX; return 1;
	case 'r': *bit = NR_MONITOR_RX; return 1;
	case 'R': *bit = NR_RX_RINGS_ONLY; return 1;
	case 'T': *bit = NR_TX_RINGS_ONLY; return 1;
	default: return 0;
	}
}

int
nmreq_register_decode(const char **pmode, struct nmreq_register *reg,
		struct nmctx *ctx)
{
	const char *spec, *s;
	uint32_t mode = NR_REG_ALL_NIC;
	uint16_t ringid = 0;
	uint64_t flags = 0, bit, n;
	uint16_t mem_id;

	if (ctx == NULL)
		ctx = nmctx_get();
	if (pmode == NULL || *pmode == NULL || reg == NULL) {
		nmctx_ferror(ctx, "invalid arguments to nmreq_register_decode");
		return nm_syntax_error();
	}
	spec = s = *pmode;
	mem_id = reg->nr_mem_id;	/* a preset id must be matched */

	/* Ring selection: at most one, and only first. */
	switch (*s) {
	case '^':
		s++;
		if (nm_digit(*s)) {
			mode = NR_REG_ONE_SW;
			if (nm_ring_number(&s, spec, &ringid, ctx) < 0)
				return -1;
		} else {
			mode = NR_REG_SW;
		}
		break;
	case '*':
		s++;
		mode = NR_REG_NIC_SW;
		break;
	case '-':
		s++;
		mode = NR_REG_ONE_NIC;
		if (nm_ring_number(&s, spec, &ringid, ctx) < 0)
			return -1;
		break;
	default:
		break;
	}

	/* Modifiers: "/flags" groups and "@memid", until the options. */
	while (*s != '\0') {
		if (*s == '/') {
			s++;
			if (*s == '\0' || *s == '@') {
				nmctx_ferror(ctx, "port mode '%s': expected a flag "
						"(one of xztrRT) after '/'", spec);
				return nm_syntax_error();
			}
			for (; *s != '\0' && *s != '@'; s++) {
				if (!nm_flag_bit(*s, &bit)) {
					nmctx_ferror(ctx, "port mode '%s': "
							"unrecognized flag '%c'",
							spec, *s);
					return nm_syntax_error();
				}
				flags |= bit;
			}
		} else if (*s == '@') {
			if (!nm_digit(s[1])) {
				if (s[1] == '\0') {
					nmctx_ferror(ctx, "port mode '%s': nothing "
							"after '@'", spec);
					return nm_syntax_error();
				}
				break;	/* the option list starts here */
			}
			s++;
			n = nm_read_digits(&s);
			if (n == 0 || n > UINT16_MAX) {
				nmctx_ferror(ctx, "port mode '%s': invalid mem_id "
						"%llu (must be in 1..%u)", spec,
						(unsigned long long)n, UINT16_MAX);
				return nm_syntax_error();
			}
			if (mem_id != 0 && mem_id != n) {
				nmctx_ferror(ctx, "port mode '%s': mem_id %llu "
						"conflicts with mem_id %u set before", spec,
						(unsigned long long)n,
						(unsigned)mem_id);
				return nm_syntax_error();
			}
			mem_id = (uint16_t)n;
		} else {
			nmctx_ferror(ctx, "port mode '%s': unexpected "
					"character '%c'", spec, *s);
			return nm_syntax_error();
		}
	}

	reg->nr_mode = mode;
	reg->nr_ringid = ringid;
	reg->nr_flags = flags;
	reg->nr_mem_id = mem_id;
	*pmode = s;
	return 0;
}

static struct nmreq_opt_parser *
nm_find_parser(struct nmreq_opt_parser *list, const char *name)
{
	for (; list != NULL; list = list->next)
		if (list->prefix != NULL && strcmp(list->prefix, name) == 0)
			return list;
	return NULL;
}

static const struct nmreq_opt_key *
nm_find_key(const struct nmreq_opt_parser *p, const char *key)
{
	int i;

	for (i = 0; i < p->nr_keys && i < NMREQ_OPT_MAXKEYS; i++) {
		const struct nmreq_opt_key *k = &p->keys[i];

		if (k->key != NULL && strcmp(k->key, key) == 0)
			return k;
	}
	return NULL;
}

static int
nm_key_slot_ok(const struct nmreq_opt_key *k)
{
	return k->id >= 0 && k->id < NMREQ_OPT_MAXKEYS;
}

/*
 * Split "k=v,k,k=v" (modified in place) into pctx->keys.  Keys are
 * normalised ('-' becomes '_') before the look-up.
 */
static int
nm_parse_keys(char *body, const struct nmreq_opt_parser *p,
		struct nmreq_parse_ctx *pctx)
{
	struct nmctx *ctx = pctx->ctx;
	char *item = body;

	for (;;) {
		char *comma = strchr(item, ',');
		char *eq, *c;
		const struct nmreq_opt_key *k;

		if (comma != NULL)
			*comma = '\0';
		eq = strchr(item, '=');
		if (eq != NULL)
			*eq = '\0';
		for (c = item; *c != '\0'; c++)
			if (*c == '-')
				*c = '_';
		if (*item == '\0') {
			nmctx_ferror(ctx, "option '%s': empty key", p->prefix);
			return nm_syntax_error();
		}
		k = nm_find_key(p, item);
		if (k == NULL || !nm_key_slot_ok(k)) {
			nmctx_ferror(ctx, "option '%s': unknown key '%s'",
					p->prefix, item);
			return nm_syntax_error();
		}
		if (pctx->keys[k->id] != NULL) {
			nmctx_ferror(ctx, "option '%s': key '%s' given twice",
					p->prefix, item);
			return nm_syntax_error();
		}
		if (eq != NULL) {
			if (eq[1] == '\0') {
				nmctx_ferror(ctx, "option '%s': missing value "
						"after '%s='", p->prefix, item);
				return nm_syntax_error();
			}
			pctx->keys[k->id] = eq + 1;
		} else {
			if (!(k->flags & NMREQ_OPTK_ALLOWEMPTY)) {
				nmctx_ferror(ctx, "option '%s': key '%s' needs "
						"'=value'", p->prefix, item);
				return nm_syntax_error();
			}
			pctx->keys[k->id] = k->key;
		}
		if (comma == NULL)
			return 0;
		item = comma + 1;
	}
}

/* Decode one option; @text holds it without the leading '@'. */
static int
nm_decode_option(char *text, struct nmreq_opt_parser *parsers, void *token,
		struct nmctx *ctx)
{
	struct nmreq_opt_parser *p;
	struct nmreq_parse_ctx pctx;
	char *delim, *body;
	char kind;
	int i, ret;

	delim = text + strcspn(text, ":=");
	kind = *delim;
	*delim = '\0';
	body = (kind != '\0') ? delim + 1 : delim;

	p = nm_find_parser(parsers, text);
	if (p == NULL) {
		nmctx_ferror(ctx, "unknown option '%s'", text);
		return nm_syntax_error();
	}
	if (__atomic_load_n(&p->flags, __ATOMIC_RELAXED) & NMREQ_OPTF_DISABLED) {
		errno = EOPNOTSUPP;
		nmctx_ferror(ctx, "option '%s' is disabled", text);
		return -1;
	}

	memset(&pctx, 0, sizeof(pctx));
	pctx.ctx = ctx;
	pctx.token = token;

	switch (kind) {
	case '\0':
		if (!(p->flags & NMREQ_OPTF_ALLOWEMPTY)) {
			nmctx_ferror(ctx, "option '%s' needs a value", text);
			return nm_syntax_error();
		}
		break;
	case '=':
		if (p->default_key < 0 || p->default_key >= NMREQ_OPT_MAXKEYS) {
			nmctx_ferror(ctx, "option '%s' has no default key: write "
					"'%s:key=value'", text, text);
			return nm_syntax_error();
		}
		if (*body == '\0') {
			nmctx_ferror(ctx, "option '%s': missing value after '='",
					text);
			return nm_syntax_error();
		}
		pctx.keys[p->default_key] = body;
		break;
	default: /* ':' */
		if (*body == '\0') {
			nmctx_ferror(ctx, "option '%s': missing 'key=value' list "
					"after ':'", text);
			return nm_syntax_error();
		}
		if (nm_parse_keys(body, p, &pctx) < 0)
			return -1;
		break;
	}

	for (i = 0; i < p->nr_keys && i < NMREQ_OPT_MAXKEYS; i++) {
		const struct nmreq_opt_key *k = &p->keys[i];

		if ((k->flags & NMREQ_OPTK_MUSTSET) && nm_key_slot_ok(k) &&
		    pctx.keys[k->id] == NULL) {
			nmctx_ferror(ctx, "option '%s': mandatory key '%s' is "
					"missing", text, k->key);
			return nm_syntax_error();
		}
	}

	if (p->parse == NULL)
		return 0;
	errno = 0;
	ret = p->parse(&pctx);
	if (ret < 0 && errno == 0)
		errno = EINVAL;
	return ret < 0 ? -1 : 0;
}

int
nmreq_options_decode(const char *opt, struct nmreq_opt_parser *parsers,
		void *token, struct nmctx *ctx)
{
	const char *s, *end;

	if (ctx == NULL)
		ctx = nmctx_get();
	if (opt == NULL || *opt == '\0')
		return 0;
	if (*opt != '@') {
		nmctx_ferror(ctx, "%s: options must start with '@'", opt);
		return nm_syntax_error();
	}

	for (s = opt; *s == '@'; s = end) {
		size_t len;
		char *text;
		int ret;

		s++;
		end = strchrnul(s, '@');
		len = (size_t)(end - s);
		if (len == 0) {
			nmctx_ferror(ctx, "%s: empty option", opt);
			return nm_syntax_error();
		}
		text = nmctx_malloc(ctx, len + 1);
		if (text == NULL) {
			errno = ENOMEM;
			nmctx_ferror(ctx, "cannot allocate memory for option "
					"parsing");
			return -1;
		}
		memcpy(text, s, len);
		text[len] = '\0';
		ret = nm_decode_option(text, parsers, token, ctx);
		if (ret < 0) {
			int err = errno;

			nmctx_free(ctx, text);
			errno = err;
			return -1;
		}
		nmctx_free(ctx, text);
	}
	return 0;
}

int32_t
nmreq_get_mem_id(const char **portname, struct nmctx *ctx)
{
	struct nmreq_header hdr;
	struct nmreq_port_info_get info;
	const char *scan;
	int fd, err;

	if (ctx == NULL)
		ctx = nmctx_get();
	if (portname == NULL || *portname == NULL) {
		nmctx_ferror(ctx, "invalid arguments to nmreq_get_mem_id");
		return nm_syntax_error();
	}
	scan = *portname;
	memset(&info, 0, sizeof(info));
	nmreq_header_init(&hdr, NETMAP_REQ_PORT_INFO_GET, &info);
	if (nmreq_header_decode(&scan, &hdr, ctx) < 0)
		return -1;

	fd = open("/dev/netmap", O_RDWR);
	if (fd < 0) {
		nmctx_ferror(ctx, "cannot open /dev/netmap: %s", strerror(errno));
		return -1;
	}
	if (ioctl(fd, NIOCCTRL, &hdr) < 0) {
		err = errno;
		close(fd);
		errno = err;
		nmctx_ferror(ctx, "cannot get the mem_id of '%.*s': %s",
				(int)(scan - *portname), *portname, strerror(err));
		return -1;
	}
	close(fd);
	*portname = scan;
	return (int32_t)info.nr_mem_id;
}

void
nmreq_push_option(struct nmreq_header *hdr, struct nmreq_option *o)
{
	o->nro_next = hdr->nr_options;
	hdr->nr_options = (uint64_t)(uintptr_t)o;
}

void
nmreq_remove_option(struct nmreq_header *hdr, struct nmreq_option *o)
{
	uint64_t *link = &hdr->nr_options;

	while (*link != 0) {
		struct nmreq_option *cur =
			(struct nmreq_option *)(uintptr_t)*link;

		if (cur == o) {
			*link = o->nro_next;
			o->nro_next = 0;
			return;
		}
		link = &cur->nro_next;
	}
}

struct nmreq_option *
nmreq_find_option(struct nmreq_header *hdr, uint32_t reqtype)
{
	struct nmreq_option *o;

	nmreq_foreach_option(hdr, o) {
		if (o->nro_reqtype == reqtype)
			return o;
	}
	return NULL;
}

void
nmreq_free_options(struct nmreq_header *hdr)
{
	struct nmreq_option *o =
		(struct nmreq_option *)(uintptr_t)hdr->nr_options;

	while (o != NULL) {
		struct nmreq_option *next =
			(struct nmreq_option *)(uintptr_t)o->nro_next;

		free(o);
		o = next;
	}
	hdr->nr_options = 0;
}

const char *
nmreq_option_name(uint32_t reqtype)
{
	switch (reqtype) {
	case NETMAP_REQ_OPT_EXTMEM:
		return "extmem";
	case NETMAP_REQ_OPT_SYNC_KLOOP_EVENTFDS:
		return "sync-kloop-eventfds";
	case NETMAP_REQ_OPT_CSB:
		return "csb";
	case NETMAP_REQ_OPT_SYNC_KLOOP_MODE:
		return "sync-kloop-mode";
	case NETMAP_REQ_OPT_OFFSETS:
		return "offsets";
	default:
		return "unknown";
	}
}
