/*
 * Description: libnetmap port-spec parsing (nmport_prepare / nmport_parse
 * and the nmreq_*_decode helpers) against the grammar of reference §3.1:
 * accepted specs with the resulting nr_name / nr_mode / nr_ringid /
 * nr_flags / nr_mem_id, rejected specs with their errno, option handling
 * (conf, extmem, offset, disabled options), rollback on failure and error
 * reporting through the nmctx callback.  Needs no netmap engine: "@share"
 * cases that would query a port are left to functional tests.
 */
#include <fcntl.h>
#include <stdint.h>
#include <sys/mman.h>

#include "libnetmap.h"
#include "testlib.h"

/* ------------------------------------------------------------------------ */
/* Error-callback capture */

static int msg_count;
static char last_msg[1100];

static void
capture_error(struct nmctx *ctx, const char *msg)
{
	(void)ctx;
	msg_count++;
	snprintf(last_msg, sizeof(last_msg), "%s", msg);
	errno = ERANGE;	/* the library must not let this leak out */
}

static struct nmctx test_ctx;

/* ------------------------------------------------------------------------ */
/* Table of accepted specs */

struct ok_case {
	const char *spec;
	const char *name;
	uint32_t mode;
	uint16_t ringid;
	uint64_t flags;
	uint16_t mem_id;
};

#define X NR_EXCLUSIVE
#define Z NR_ZCOPY_MON
#define MT NR_MONITOR_TX
#define MR NR_MONITOR_RX
#define RO NR_RX_RINGS_ONLY
#define TO NR_TX_RINGS_ONLY

static const struct ok_case ok_cases[] = {
	/* reference §3.1 example table */
	{ "netmap:eth0", "eth0", NR_REG_ALL_NIC, 0, 0, 0 },
	{ "netmap:eth0-1", "eth0", NR_REG_ONE_NIC, 1, 0, 0 },
	{ "netmap:eth0^", "eth0", NR_REG_SW, 0, 0, 0 },
	{ "netmap:eth0^3", "eth0", NR_REG_ONE_SW, 3, 0, 0 },
	{ "netmap:eth0*", "eth0", NR_REG_NIC_SW, 0, 0, 0 },
	{ "netmap:eth0-2/Tx", "eth0", NR_REG_ONE_NIC, 2, TO | X, 0 },
	{ "netmap:eth0/z", "eth0", NR_REG_ALL_NIC, 0, Z, 0 },
	{ "netmap:eth0/r", "eth0", NR_REG_ALL_NIC, 0, MR, 0 },
	{ "netmap:eth0/t", "eth0", NR_REG_ALL_NIC, 0, MT, 0 },
	{ "netmap:eth0/x", "eth0", NR_REG_ALL_NIC, 0, X, 0 },
	{ "netmap:eth0@2/R", "eth0", NR_REG_ALL_NIC, 0, RO, 2 },
	{ "netmap:pipe{0", "pipe{0", NR_REG_ALL_NIC, 0, 0, 0 },
	{ "netmap:pipe{in-7", "pipe{in", NR_REG_ONE_NIC, 7, 0, 0 },
	{ "netmap:pipeA}1", "pipeA}1", NR_REG_ALL_NIC, 0, 0, 0 },
	{ "vale0:0", "vale0:0", NR_REG_ALL_NIC, 0, 0, 0 },
	{ "vale:0", "vale:0", NR_REG_ALL_NIC, 0, 0, 0 },
	{ "valeXXX:YYY-4", "valeXXX:YYY", NR_REG_ONE_NIC, 4, 0, 0 },
	{ "vale0:0{0", "vale0:0{0", NR_REG_ALL_NIC, 0, 0, 0 },
	{ "vale0:v0/z", "vale0:v0", NR_REG_ALL_NIC, 0, Z, 0 },
	{ "netmap:v0/r", "v0", NR_REG_ALL_NIC, 0, MR, 0 },
	{ "netmap:lo@conf:rings=4,slots=1024", "lo", NR_REG_ALL_NIC, 0, 0, 0 },
	/* netmap: names are not validated beyond the delimiters */
	{ "netmap:vale0:0", "vale0:0", NR_REG_ALL_NIC, 0, 0, 0 },
	{ "netmap:eth0&", "eth0&", NR_REG_ALL_NIC, 0, 0, 0 },
	{ "netmap:em0.123", "em0.123", NR_REG_ALL_NIC, 0, 0, 0 },
	{ "vale0:em0.5", "vale0:em0.5", NR_REG_ALL_NIC, 0, 0, 0 },
	/* ring numbers */
	{ "netmap:eth0-0", "eth0", NR_REG_ONE_NIC, 0, 0, 0 },
	{ "netmap:eth0-4094", "eth0", NR_REG_ONE_NIC, 4094, 0, 0 },
	{ "netmap:eth0^4094", "eth0", NR_REG_ONE_SW, 4094, 0, 0 },
	{ "netmap:eth0^0", "eth0", NR_REG_ONE_SW, 0, 0, 0 },
	{ "netmap:eth0-007", "eth0", NR_REG_ONE_NIC, 7, 0, 0 },
	/* modifiers in various orders */
	{ "netmap:eth0^/x", "eth0", NR_REG_SW, 0, X, 0 },
	{ "netmap:eth0*@7", "eth0", NR_REG_NIC_SW, 0, 0, 7 },
	{ "netmap:eth0/RT", "eth0", NR_REG_ALL_NIC, 0, RO | TO, 0 },
	{ "netmap:eth0/xxzz", "eth0", NR_REG_ALL_NIC, 0, X | Z, 0 },
	{ "netmap:eth0/ztrRTx", "eth0", NR_REG_ALL_NIC, 0, Z | MT | MR | RO | TO | X, 0 },
	{ "netmap:eth0@2@2", "eth0", NR_REG_ALL_NIC, 0, 0, 2 },
	{ "netmap:eth0@3/xT@3/R", "eth0", NR_REG_ALL_NIC, 0, X | TO | RO, 3 },
	{ "netmap:eth0-3@65535", "eth0", NR_REG_ONE_NIC, 3, 0, 65535 },
	{ "netmap:eth0^2/r@9", "eth0", NR_REG_ONE_SW, 2, MR, 9 },
	{ "netmap:pipe{in/xT@5", "pipe{in", NR_REG_ALL_NIC, 0, X | TO, 5 },
	{ "vale0:0/Tx@conf:slots=64", "vale0:0", NR_REG_ALL_NIC, 0, TO | X, 0 },
	{ "vale_1:p", "vale_1:p", NR_REG_ALL_NIC, 0, 0, 0 },
	{ "valeA9_:x}y_Z9", "valeA9_:x}y_Z9", NR_REG_ALL_NIC, 0, 0, 0 },
};

/* ------------------------------------------------------------------------ */
/* Table of rejected specs */

struct bad_case {
	const char *spec;
	int err;
};

static const struct bad_case bad_cases[] = {
	/* reference §3.1 */
	{ "", EINVAL },
	{ "eth0", EINVAL },
	{ "netmap:", EINVAL },
	{ "netmap:^", EINVAL },
	{ "netmap:{", EINVAL },
	{ "netmapXXX:eth0", EINVAL },
	{ "netmap:pipe{1}2", EINVAL },
	{ "netmap:pipe{", EINVAL },
	{ "netmap:eth0-", EINVAL },
	{ "netmap:eth0*-2", EINVAL },
	{ "netmap:eth0@2/R@3", EINVAL },
	{ "netmap:eth0/R@xxx", EINVAL },	/* unknown option "xxx" */
	{ "netmap:eth0@netmap:lo/R", EINVAL },	/* unknown option "netmap" */
	/* subsystem */
	{ "netmap", EINVAL },
	{ "netmap0:eth0", EINVAL },
	{ "Netmap:eth0", EINVAL },
	{ "vale0", EINVAL },
	{ "vale", EINVAL },
	{ "vale-1:0", EINVAL },
	{ "vale+x:0", EINVAL },
	{ "vale0.1:p", EINVAL },
	{ "vale0:", EINVAL },
	{ "vale0:-1", EINVAL },
	{ "tap:eth0", EINVAL },
	{ ":eth0", EINVAL },
	/* names and pipes */
	{ "netmap:-1", EINVAL },
	{ "netmap:*", EINVAL },
	{ "netmap:/x", EINVAL },
	{ "netmap:@2", EINVAL },
	{ "netmap:{0", EINVAL },
	{ "netmap:}0", EINVAL },
	{ "netmap:pipe}", EINVAL },
	{ "netmap:pipe{a.b", EINVAL },
	{ "netmap:pipe{a{b", EINVAL },
	{ "netmap:pipe{-1", EINVAL },
	{ "vale0:0{", EINVAL },
	{ "vale0:{0", EINVAL },
	/* ring part */
	{ "netmap:eth0-4095", EINVAL },
	{ "netmap:eth0^4095", EINVAL },
	{ "netmap:eth0-99999999999999999999999", EINVAL },
	{ "netmap:eth0-x", EINVAL },
	{ "netmap:eth0^-1", EINVAL },
	{ "netmap:eth0-1-2", EINVAL },
	{ "netmap:eth0-1x", EINVAL },
	{ "netmap:eth0**", EINVAL },
	{ "netmap:eth0^*", EINVAL },
	{ "netmap:eth0*^", EINVAL },
	{ "netmap:eth0/x-1", EINVAL },
	{ "netmap:eth0@2-1", EINVAL },
	{ "netmap:eth0@2^", EINVAL },
	/* flags */
	{ "netmap:eth0/q", EINVAL },
	{ "netmap:eth0/xq", EINVAL },
	{ "netmap:eth0/", EINVAL },
	{ "netmap:eth0/x/z", EINVAL },
	{ "netmap:eth0//x", EINVAL },
	{ "netmap:eth0/@2", EINVAL },
	{ "netmap:eth0/X", EINVAL },
	/* mem_id */
	{ "netmap:eth0@", EINVAL },
	{ "netmap:eth0/R@", EINVAL },
	{ "netmap:eth0@2@", EINVAL },
	{ "netmap:eth0@0", EINVAL },
	{ "netmap:eth0@65536", EINVAL },
	{ "netmap:eth0@99999999999999999999999", EINVAL },
	{ "netmap:eth0@2@3", EINVAL },
	{ "netmap:eth0@2x", EINVAL },
	/* options: syntax */
	{ "netmap:eth0@bogus", EINVAL },
	{ "netmap:eth0@bogus=1", EINVAL },
	{ "netmap:eth0@conf:rings=1@", EINVAL },
	{ "netmap:eth0@conf:rings=1@@conf:slots=2", EINVAL },
	{ "netmap:eth0@conf:bogus=1", EINVAL },
	{ "netmap:eth0@conf", EINVAL },
	{ "netmap:eth0@conf:", EINVAL },
	{ "netmap:eth0@conf=4", EINVAL },
	{ "netmap:eth0@conf:rings", EINVAL },
	{ "netmap:eth0@conf:rings=", EINVAL },
	{ "netmap:eth0@conf:rings=4,rings=5", EINVAL },
	{ "netmap:eth0@conf:rings=4,tx-rings=5,tx_rings=6", EINVAL },
	{ "netmap:eth0@conf:rings=4,", EINVAL },
	{ "netmap:eth0@conf:,rings=4", EINVAL },
	{ "netmap:eth0@conf:=4", EINVAL },
	{ "netmap:eth0@conf:rings=x", EINVAL },
	{ "netmap:eth0@conf:rings=-1", EINVAL },
	{ "netmap:eth0@conf:rings=4x", EINVAL },
	{ "netmap:eth0@conf:rings=70000", EINVAL },
	{ "netmap:eth0@conf:slots=4294967296", EINVAL },
	{ "netmap:eth0@conf:rings=1@bogus", EINVAL },
	{ "netmap:eth0@CONF:rings=1", EINVAL },
	/* share (only forms rejected before any port look-up) */
	{ "netmap:eth0@share", EINVAL },
	{ "netmap:eth0@share=", EINVAL },
	{ "netmap:eth0@share:", EINVAL },
	{ "netmap:eth0@share:bogus=1", EINVAL },
	{ "netmap:eth0@share=eth0", EINVAL },
	{ "netmap:eth0@share=netmap:", EINVAL },
	/* extmem */
	{ "netmap:eth0@extmem", EINVAL },
	{ "netmap:eth0@extmem=", EINVAL },
	{ "netmap:eth0@extmem:if-num=2", EINVAL },
	{ "netmap:eth0@extmem:file=/x,bogus=1", EINVAL },
	{ "netmap:eth0@extmem:file=/x,buf-num=abc", EINVAL },
	{ "netmap:eth0@extmem=/nonexistent/unetmap/extmem", ENOENT },
	/* offset is disabled by default */
	{ "netmap:eth0@offset=4", EOPNOTSUPP },
	{ "netmap:eth0@offset:initial=4,bits=8", EOPNOTSUPP },
	{ "netmap:eth0@offset", EOPNOTSUPP },
	{ "netmap:eth0@conf:rings=2@offset=4", EOPNOTSUPP },
};

/* ------------------------------------------------------------------------ */

static int
count_options(const struct nmreq_header *h)
{
	struct nmreq_option *o;
	int n = 0;

	nmreq_foreach_option(h, o)
		n++;
	return n;
}

static void
test_ok_table(void)
{
	size_t i;

	for (i = 0; i < sizeof(ok_cases) / sizeof(ok_cases[0]); i++) {
		const struct ok_case *c = &ok_cases[i];
		struct nmport_d *d;

		errno = 0;
		d = nmport_prepare(c->spec);
		CHECK(d != NULL, "'%s' rejected: %s (%s)", c->spec,
				strerror(errno), last_msg);
		if (d == NULL)
			continue;
		CHECK(strcmp(d->hdr.nr_name, c->name) == 0,
				"'%s': nr_name '%s', want '%s'", c->spec,
				d->hdr.nr_name, c->name);
		CHECK(d->reg.nr_mode == c->mode, "'%s': nr_mode %u, want %u",
				c->spec, d->reg.nr_mode, c->mode);
		CHECK(d->reg.nr_ringid == c->ringid, "'%s': nr_ringid %u, want %u",
				c->spec, d->reg.nr_ringid, c->ringid);
		CHECK(d->reg.nr_flags == c->flags, "'%s': nr_flags %#llx, want %#llx",
				c->spec, (unsigned long long)d->reg.nr_flags,
				(unsigned long long)c->flags);
		CHECK(d->reg.nr_mem_id == c->mem_id, "'%s': nr_mem_id %u, want %u",
				c->spec, d->reg.nr_mem_id, c->mem_id);
		CHECK(d->hdr.nr_version == NETMAP_API, "'%s': nr_version %u",
				c->spec, d->hdr.nr_version);
		CHECK(d->hdr.nr_reqtype == NETMAP_REQ_REGISTER, "'%s': nr_reqtype %u",
				c->spec, d->hdr.nr_reqtype);
		CHECK(d->hdr.nr_body == (uint64_t)(uintptr_t)&d->reg,
				"'%s': nr_body does not point at reg", c->spec);
		CHECK(d->hdr.nr_options == 0, "'%s': unexpected options", c->spec);
		CHECK(d->fd == -1 && !d->register_done && !d->mmap_done &&
				d->mem == NULL && d->nifp == NULL,
				"'%s': descriptor state after prepare", c->spec);
		CHECK(d->ctx == &test_ctx, "'%s': wrong ctx", c->spec);
		nmport_undo_prepare(d);
	}
}

static void
test_bad_table(void)
{
	size_t i;

	for (i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
		const struct bad_case *c = &bad_cases[i];
		struct nmport_d *d;
		int before = msg_count, err;

		errno = 0;
		d = nmport_prepare(c->spec);
		err = errno;
		CHECK(d == NULL, "'%s' accepted (name '%s')", c->spec,
				d ? d->hdr.nr_name : "");
		if (d != NULL) {
			nmport_undo_prepare(d);
			continue;
		}
		CHECK(err == c->err, "'%s': errno %s, want %s", c->spec,
				strerror(err), strerror(c->err));
		CHECK(msg_count > before, "'%s': no error message reported",
				c->spec);
	}
}

/* Names of 63 characters are the longest accepted (NETMAP_REQ_IFNAMSIZ is
 * 64 with the terminator); a kept "valeX:" prefix counts. */
static void
test_name_lengths(void)
{
	char spec[200], name[100];
	struct nmport_d *d;
	size_t len;

	for (len = 60; len <= 66; len++) {
		memset(name, 'a', len);
		name[len] = '\0';

		snprintf(spec, sizeof(spec), "netmap:%s-3", name);
		errno = 0;
		d = nmport_prepare(spec);
		if (len < NETMAP_REQ_IFNAMSIZ) {
			CHECK(d != NULL && strcmp(d->hdr.nr_name, name) == 0 &&
					d->reg.nr_ringid == 3,
					"netmap name of %zu chars", len);
		} else {
			CHECK(d == NULL && errno == EINVAL,
					"netmap name of %zu chars accepted", len);
		}
		nmport_undo_prepare(d);

		/* "vale0:" + (len - 6) characters = len characters */
		snprintf(spec, sizeof(spec), "vale0:%s", name + 6);
		errno = 0;
		d = nmport_prepare(spec);
		if (len < NETMAP_REQ_IFNAMSIZ) {
			CHECK(d != NULL && strcmp(d->hdr.nr_name, spec) == 0,
					"vale name of %zu chars", len);
		} else {
			CHECK(d == NULL && errno == EINVAL,
					"vale name of %zu chars accepted", len);
		}
		nmport_undo_prepare(d);

		/* a pipe suffix counts too */
		snprintf(spec, sizeof(spec), "netmap:%s{p", name + 2);
		errno = 0;
		d = nmport_prepare(spec);
		if (len < NETMAP_REQ_IFNAMSIZ) {
			CHECK(d != NULL, "pipe name of %zu chars", len);
		} else {
			CHECK(d == NULL && errno == EINVAL,
					"pipe name of %zu chars accepted", len);
		}
		nmport_undo_prepare(d);
	}
}

/* conf keys: two-direction keys first, specific ones override, '-' and
 * '_' are equivalent, repeated options apply in order. */
static void
test_conf(void)
{
	struct nmport_d *d;

	d = nmport_prepare("netmap:lo@conf:rings=4,slots=1024");
	REQUIRE(d != NULL, "conf 1");
	CHECK(d->reg.nr_tx_rings == 4 && d->reg.nr_rx_rings == 4, "rings");
	CHECK(d->reg.nr_tx_slots == 1024 && d->reg.nr_rx_slots == 1024, "slots");
	CHECK(d->reg.nr_host_tx_rings == 0 && d->reg.nr_host_rx_rings == 0, "host");
	nmport_undo_prepare(d);

	d = nmport_prepare("vale0:p@conf:tx-rings=2,rings=3,rx-slots=128,"
			"host-rings=1,slots=64,host-rx-rings=5,tx-slots=32");
	REQUIRE(d != NULL, "conf 2: %s", last_msg);
	CHECK(d->reg.nr_tx_rings == 2, "tx_rings %u", d->reg.nr_tx_rings);
	CHECK(d->reg.nr_rx_rings == 3, "rx_rings %u", d->reg.nr_rx_rings);
	CHECK(d->reg.nr_tx_slots == 32, "tx_slots %u", d->reg.nr_tx_slots);
	CHECK(d->reg.nr_rx_slots == 128, "rx_slots %u", d->reg.nr_rx_slots);
	CHECK(d->reg.nr_host_tx_rings == 1, "host_tx %u", d->reg.nr_host_tx_rings);
	CHECK(d->reg.nr_host_rx_rings == 5, "host_rx %u", d->reg.nr_host_rx_rings);
	nmport_undo_prepare(d);

	d = nmport_prepare("netmap:lo-1@conf:rings=4@conf:tx_rings=2,"
			"host_tx_rings=7@conf:slots=4294967295");
	REQUIRE(d != NULL, "conf 3: %s", last_msg);
	CHECK(d->reg.nr_mode == NR_REG_ONE_NIC && d->reg.nr_ringid == 1, "mode");
	CHECK(d->reg.nr_tx_rings == 2 && d->reg.nr_rx_rings == 4, "rings %u/%u",
			d->reg.nr_tx_rings, d->reg.nr_rx_rings);
	CHECK(d->reg.nr_host_tx_rings == 7, "host_tx");
	CHECK(d->reg.nr_tx_slots == UINT32_MAX, "slots max");
	nmport_undo_prepare(d);
}

static void
test_extmem(void)
{
	char path[] = "/tmp/unetmap-extmem-XXXXXX";
	const size_t size = 1 << 20;
	struct nmport_d *d;
	struct nmreq_opt_extmem *e;
	struct nmreq_pools_info *pi;
	char spec[256];
	int fd;

	fd = mkstemp(path);
	REQUIRE(fd >= 0, "mkstemp: %s", strerror(errno));
	REQUIRE(ftruncate(fd, (off_t)size) == 0, "ftruncate: %s", strerror(errno));
	close(fd);

	snprintf(spec, sizeof(spec), "netmap:eth0@extmem=%s", path);
	d = nmport_prepare(spec);
	CHECK(d != NULL, "%s: %s", spec, last_msg);
	if (d != NULL) {
		e = d->extmem;
		CHECK(e != NULL, "extmem not set");
		CHECK(count_options(&d->hdr) == 1, "one option expected");
		CHECK(nmreq_find_option(&d->hdr, NETMAP_REQ_OPT_EXTMEM) ==
				(e ? &e->nro_opt : NULL), "find_option");
		if (e != NULL) {
			CHECK(e->nro_usrptr != 0, "usrptr");
			CHECK(e->nro_info.nr_memsize == size, "memsize %llu",
					(unsigned long long)e->nro_info.nr_memsize);
			CHECK(e->nro_info.nr_if_pool_objtotal == 0 &&
					e->nro_info.nr_buf_pool_objsize == 0,
					"pool defaults");
			/* the file really is mapped read/write */
			memset((void *)(uintptr_t)e->nro_usrptr, 0x5a, 64);
		}
		CHECK(nmport_extmem_getinfo(d) == (e ? &e->nro_info : NULL),
				"getinfo");
		/* a second extmem on the same port is refused */
		CHECK_ERRNO(nmport_extmem(d, (void *)spec, sizeof(spec)), EINVAL);
		nmport_undo_prepare(d);
	}

	snprintf(spec, sizeof(spec), "netmap:eth0@extmem:file=%s,if-num=3,"
			"if-size=1024,ring-num=4,ring_size=8192,buf-num=100,"
			"buf-size=4096", path);
	d = nmport_prepare(spec);
	CHECK(d != NULL, "%s: %s", spec, last_msg);
	if (d != NULL && (pi = nmport_extmem_getinfo(d)) != NULL) {
		CHECK(pi->nr_if_pool_objtotal == 3, "if-num");
		CHECK(pi->nr_if_pool_objsize == 1024, "if-size");
		CHECK(pi->nr_ring_pool_objtotal == 4, "ring-num");
		CHECK(pi->nr_ring_pool_objsize == 8192, "ring-size");
		CHECK(pi->nr_buf_pool_objtotal == 100, "buf-num");
		CHECK(pi->nr_buf_pool_objsize == 4096, "buf-size");
		CHECK(pi->nr_memsize == size, "memsize");
	}
	/* an unregistered port with extmem cannot be cloned */
	if (d != NULL) {
		errno = 0;
		CHECK(nmport_clone(d) == NULL && errno == EINVAL,
				"clone of unregistered extmem port");
	}
	nmport_undo_prepare(d);

	/* two extmem options: the second is refused and everything is
	 * rolled back */
	snprintf(spec, sizeof(spec), "netmap:eth0@extmem=%s@extmem=%s", path,
			path);
	errno = 0;
	CHECK(nmport_prepare(spec) == NULL && errno == EINVAL,
			"double extmem: %s", strerror(errno));

	unlink(path);
}

static void
test_offset_and_switches(void)
{
	struct nmport_d *d;
	struct nmreq_opt_offsets *o;

	CHECK_ERRNO(nmport_enable_option("no-such-option"), EOPNOTSUPP);
	nmport_disable_option("no-such-option");	/* no-op */

	CHECK(nmport_enable_option("offset") == 0, "enable offset");
	d = nmport_prepare("netmap:eth0@offset=64");
	CHECK(d != NULL, "offset=64: %s", last_msg);
	if (d != NULL) {
		o = (struct nmreq_opt_offsets *)nmreq_find_option(&d->hdr,
				NETMAP_REQ_OPT_OFFSETS);
		CHECK(o != NULL, "offsets option missing");
		if (o != NULL) {
			CHECK(o->nro_initial_offset == 64, "initial");
			CHECK(o->nro_max_offset == 64, "max");
			CHECK(o->nro_offset_bits == 0, "bits");
			CHECK(o->nro_min_gap == 0, "min gap");
		}
		nmport_undo_prepare(d);
	}
	d = nmport_prepare("netmap:eth0-1/T@offset:initial=8,bits=16@conf:rings=2");
	CHECK(d != NULL, "offset:initial,bits: %s", last_msg);
	if (d != NULL) {
		o = (struct nmreq_opt_offsets *)nmreq_find_option(&d->hdr,
				NETMAP_REQ_OPT_OFFSETS);
		CHECK(o != NULL && o->nro_initial_offset == 8 &&
				o->nro_max_offset == 8 && o->nro_offset_bits == 16,
				"offset values");
		CHECK(d->reg.nr_tx_rings == 2, "conf after offset");
		CHECK(count_options(&d->hdr) == 1, "one option");
		nmport_undo_prepare(d);
	}
	CHECK_ERRNO(nmport_parse(d = nmport_new(), "netmap:eth0@offset:bits=16"),
			EINVAL);
	nmport_delete(d);
	CHECK_ERRNO(nmport_parse(d = nmport_new(), "netmap:eth0@offset=1,bits=2"),
			EINVAL);
	nmport_delete(d);
	CHECK_ERRNO(nmport_parse(d = nmport_new(), "netmap:eth0@offset:initial=1,bits=65"),
			EINVAL);
	nmport_delete(d);
	nmport_disable_option("offset");
	errno = 0;
	CHECK(nmport_prepare("netmap:eth0@offset=64") == NULL &&
			errno == EOPNOTSUPP, "offset disabled again");

	/* any option can be switched off and on */
	nmport_disable_option("conf");
	errno = 0;
	CHECK(nmport_prepare("netmap:lo@conf:rings=1") == NULL &&
			errno == EOPNOTSUPP, "conf disabled");
	CHECK(nmport_enable_option("conf") == 0, "enable conf");
	d = nmport_prepare("netmap:lo@conf:rings=1");
	CHECK(d != NULL, "conf re-enabled");
	nmport_undo_prepare(d);

	/* programmatic offsets */
	d = nmport_prepare("netmap:eth0");
	REQUIRE(d != NULL, "prepare");
	CHECK(nmport_offset(d, 10, 100, 12, 256) == 0, "nmport_offset");
	o = (struct nmreq_opt_offsets *)nmreq_find_option(&d->hdr,
			NETMAP_REQ_OPT_OFFSETS);
	CHECK(o != NULL && o->nro_initial_offset == 10 && o->nro_max_offset == 100 &&
			o->nro_offset_bits == 12 && o->nro_min_gap == 256,
			"nmport_offset values");
	nmport_undo_parse(d);
	CHECK(d->hdr.nr_options == 0, "undo_parse drops options");
	nmport_delete(d);
}

/* A failed nmport_parse() leaves the descriptor exactly as it was. */
static void
test_parse_rollback(void)
{
	char path[] = "/tmp/unetmap-extmem-XXXXXX";
	struct nmport_d *d, saved;
	char spec[256];
	int fd;

	d = nmport_prepare("netmap:eth0-1/x@conf:rings=2");
	REQUIRE(d != NULL, "prepare");
	saved = *d;

	CHECK_ERRNO(nmport_parse(d, "netmap:foo^@conf:rings=3@bogus"), EINVAL);
	CHECK(memcmp(&saved, d, sizeof(saved)) == 0, "descriptor changed (1)");
	CHECK_ERRNO(nmport_parse(d, "vale0:x@7@8"), EINVAL);
	CHECK(memcmp(&saved, d, sizeof(saved)) == 0, "descriptor changed (2)");

	fd = mkstemp(path);
	REQUIRE(fd >= 0, "mkstemp");
	REQUIRE(ftruncate(fd, 65536) == 0, "ftruncate");
	close(fd);
	snprintf(spec, sizeof(spec), "netmap:bar@conf:rings=9@extmem=%s@conf:x=1",
			path);
	CHECK_ERRNO(nmport_parse(d, spec), EINVAL);
	CHECK(d->extmem == NULL && d->hdr.nr_options == 0, "extmem rolled back");
	CHECK(strcmp(d->hdr.nr_name, "eth0") == 0, "name rolled back");
	CHECK(d->reg.nr_tx_rings == 2, "conf rolled back");
	unlink(path);

	/* a later successful parse replaces the request */
	CHECK(nmport_parse(d, "vale1:q^2") == 0, "reparse: %s", last_msg);
	CHECK(strcmp(d->hdr.nr_name, "vale1:q") == 0 &&
			d->reg.nr_mode == NR_REG_ONE_SW && d->reg.nr_ringid == 2 &&
			d->reg.nr_flags == 0, "reparse result");

	/* undo_parse returns to the nmport_new() state */
	nmport_undo_parse(d);
	CHECK(d->hdr.nr_name[0] == '\0' && d->hdr.nr_version == NETMAP_API &&
			d->hdr.nr_reqtype == NETMAP_REQ_REGISTER &&
			d->hdr.nr_body == (uint64_t)(uintptr_t)&d->reg &&
			d->reg.nr_mode == 0 && d->reg.nr_mem_id == 0 && d->clist == NULL,
			"state after undo_parse");
	nmport_delete(d);
}

/* A mem_id preset in reg before parsing behaves like an earlier "@id". */
static void
test_preset_mem_id(void)
{
	struct nmport_d *d = nmport_new();

	REQUIRE(d != NULL, "new");
	d->reg.nr_mem_id = 5;
	CHECK_ERRNO(nmport_parse(d, "netmap:eth0@6"), EINVAL);
	CHECK(d->reg.nr_mem_id == 5, "mem_id kept");
	CHECK(nmport_parse(d, "netmap:eth0@5") == 0, "same id accepted");
	CHECK(nmport_parse(d, "netmap:eth1") == 0 && d->reg.nr_mem_id == 5,
			"preset id kept without @");
	nmport_undo_prepare(d);
}

static void
test_decoders(void)
{
	struct nmreq_header h;
	struct nmreq_register r;
	const char *s, *orig;

	/* header: only nr_name is written, cursor moves past the name */
	memset(&h, 0, sizeof(h));
	h.nr_reqtype = 77;
	h.nr_options = 0x1234;
	s = "netmap:eth0-1/T@conf:rings=1";
	CHECK(nmreq_header_decode(&s, &h, &test_ctx) == 0, "header decode");
	CHECK(strcmp(s, "-1/T@conf:rings=1") == 0, "rest '%s'", s);
	CHECK(strcmp(h.nr_name, "eth0") == 0 && h.nr_reqtype == 77 &&
			h.nr_options == 0x1234 && h.nr_version == 0,
			"other header fields touched");

	s = "vale3:p{x^";
	CHECK(nmreq_header_decode(&s, &h, &test_ctx) == 0 &&
			strcmp(h.nr_name, "vale3:p{x") == 0 && strcmp(s, "^") == 0,
			"vale pipe header");

	orig = s = "netmap:pipe{";
	CHECK_ERRNO(nmreq_header_decode(&s, &h, &test_ctx), EINVAL);
	CHECK(s == orig && strcmp(h.nr_name, "vale3:p{x") == 0,
			"failed header decode changed its outputs");

	/* register: stops at an '@' that starts the options */
	memset(&r, 0, sizeof(r));
	r.nr_tx_slots = 99;
	s = "/R@xxx";
	CHECK(nmreq_register_decode(&s, &r, &test_ctx) == 0, "register decode");
	CHECK(strcmp(s, "@xxx") == 0, "rest '%s'", s);
	CHECK(r.nr_mode == NR_REG_ALL_NIC && r.nr_flags == NR_RX_RINGS_ONLY &&
			r.nr_tx_slots == 99, "register fields");

	s = "^3@4/x@share=vale0:a";
	CHECK(nmreq_register_decode(&s, &r, &test_ctx) == 0 &&
			r.nr_mode == NR_REG_ONE_SW && r.nr_ringid == 3 &&
			r.nr_mem_id == 4 && r.nr_flags == NR_EXCLUSIVE &&
			strcmp(s, "@share=vale0:a") == 0, "register 2 ('%s')", s);

	s = "";
	r.nr_mem_id = 0;
	CHECK(nmreq_register_decode(&s, &r, &test_ctx) == 0 &&
			r.nr_mode == NR_REG_ALL_NIC && r.nr_ringid == 0 &&
			r.nr_flags == 0 && *s == '\0', "empty mode resets");

	orig = s = "-2/x@5@6";
	r.nr_mem_id = 0;
	CHECK_ERRNO(nmreq_register_decode(&s, &r, &test_ctx), EINVAL);
	CHECK(s == orig && r.nr_mode == NR_REG_ALL_NIC && r.nr_mem_id == 0 &&
			r.nr_flags == 0, "failed register decode changed outputs");

	/* init */
	nmreq_header_init(&h, NETMAP_REQ_PORT_INFO_GET, &r);
	CHECK(h.nr_version == NETMAP_API && h.nr_reqtype == NETMAP_REQ_PORT_INFO_GET &&
			h.nr_body == (uint64_t)(uintptr_t)&r && h.nr_options == 0 &&
			h.nr_name[0] == '\0' && h.nr_reserved == 0, "header_init");
}

/* A user-defined option list through nmreq_options_decode(). */
static const char *seen_a, *seen_bc;
static int seen_calls;

static int
foo_cb(struct nmreq_parse_ctx *p)
{
	seen_calls++;
	seen_a = p->keys[0];
	seen_bc = p->keys[1];
	CHECK(p->token == (void *)&seen_calls, "token");
	if (seen_bc != NULL && strcmp(seen_bc, "fail") == 0) {
		errno = ENOSPC;
		nmctx_ferror(p->ctx, "foo: asked to fail");
		return -1;
	}
	return 0;
}

static void
test_options_decode(void)
{
	struct nmreq_opt_parser foo = {
		.prefix = "foo",
		.parse = foo_cb,
		.default_key = 1,
		.nr_keys = 2,
		.flags = 0,
		.next = NULL,
		.keys = {
			{ "a", 0, NMREQ_OPTK_ALLOWEMPTY },
			{ "b_c", 1, NMREQ_OPTK_DEFAULT },
		},
	};
	void *tok = &seen_calls;

	CHECK(nmreq_options_decode("", &foo, tok, &test_ctx) == 0, "empty list");
	CHECK_ERRNO(nmreq_options_decode("foo", &foo, tok, &test_ctx), EINVAL);

	seen_calls = 0;
	CHECK(nmreq_options_decode("@foo:a,b-c=3@foo=7", &foo, tok, &test_ctx) == 0,
			"decode: %s", last_msg);
	CHECK(seen_calls == 2, "callback calls %d", seen_calls);
	CHECK(seen_a == NULL && seen_bc != NULL, "second occurrence keys");

	seen_calls = 0;
	CHECK(nmreq_options_decode("@foo:b_c=x=y,a", &foo, tok, &test_ctx) == 0,
			"decode 2");
	CHECK(seen_calls == 1, "calls");

	CHECK_ERRNO(nmreq_options_decode("@foo", &foo, tok, &test_ctx), EINVAL);
	foo.flags = NMREQ_OPTF_ALLOWEMPTY;
	seen_calls = 0;
	CHECK(nmreq_options_decode("@foo", &foo, tok, &test_ctx) == 0 &&
			seen_calls == 1 && seen_a == NULL && seen_bc == NULL,
			"bare option allowed");
	CHECK_ERRNO(nmreq_options_decode("@foo:a=1,a", &foo, tok, &test_ctx), EINVAL);
	CHECK_ERRNO(nmreq_options_decode("@foo:b_c", &foo, tok, &test_ctx), EINVAL);
	CHECK_ERRNO(nmreq_options_decode("@bar", &foo, tok, &test_ctx), EINVAL);
	CHECK_ERRNO(nmreq_options_decode("@foo=fail", &foo, tok, &test_ctx), ENOSPC);
	foo.flags |= NMREQ_OPTF_DISABLED;
	CHECK_ERRNO(nmreq_options_decode("@foo=1", &foo, tok, &test_ctx), EOPNOTSUPP);
	foo.flags = 0;
	foo.keys[0].flags |= NMREQ_OPTK_MUSTSET;
	CHECK_ERRNO(nmreq_options_decode("@foo=1", &foo, tok, &test_ctx), EINVAL);
	CHECK(nmreq_options_decode("@foo:a", &foo, tok, &test_ctx) == 0 &&
			seen_a != NULL, "mandatory flag key");
}

static void
test_option_list(void)
{
	struct nmreq_header h;
	struct nmreq_option *a, *b, *c;

	nmreq_header_init(&h, NETMAP_REQ_REGISTER, NULL);
	a = calloc(1, sizeof(*a));
	b = calloc(1, sizeof(*b));
	c = calloc(1, sizeof(*c));
	REQUIRE(a && b && c, "calloc");
	a->nro_reqtype = NETMAP_REQ_OPT_EXTMEM;
	b->nro_reqtype = NETMAP_REQ_OPT_OFFSETS;
	c->nro_reqtype = NETMAP_REQ_OPT_EXTMEM;
	nmreq_push_option(&h, a);
	nmreq_push_option(&h, b);
	nmreq_push_option(&h, c);
	CHECK(count_options(&h) == 3, "three options");
	CHECK(nmreq_find_option(&h, NETMAP_REQ_OPT_EXTMEM) == c, "find newest");
	CHECK(nmreq_find_option(&h, NETMAP_REQ_OPT_CSB) == NULL, "find none");
	nmreq_remove_option(&h, b);
	CHECK(count_options(&h) == 2 && b->nro_next == 0, "remove middle");
	nmreq_remove_option(&h, b);	/* not in the list: no-op */
	CHECK(count_options(&h) == 2, "remove absent");
	nmreq_remove_option(&h, c);
	CHECK(nmreq_find_option(&h, NETMAP_REQ_OPT_EXTMEM) == a, "remove head");
	nmreq_push_option(&h, b);
	nmreq_free_options(&h);
	CHECK(h.nr_options == 0, "free_options empties the list");
	free(c);

	CHECK(strcmp(nmreq_option_name(NETMAP_REQ_OPT_EXTMEM), "extmem") == 0, "name");
	CHECK(strcmp(nmreq_option_name(NETMAP_REQ_OPT_OFFSETS), "offsets") == 0, "name");
	CHECK(strcmp(nmreq_option_name(NETMAP_REQ_OPT_CSB), "csb") == 0, "name");
	CHECK(strcmp(nmreq_option_name(NETMAP_REQ_OPT_SYNC_KLOOP_EVENTFDS),
			"sync-kloop-eventfds") == 0, "name");
	CHECK(strcmp(nmreq_option_name(NETMAP_REQ_OPT_SYNC_KLOOP_MODE),
			"sync-kloop-mode") == 0, "name");
	CHECK(strcmp(nmreq_option_name(999), "unknown") == 0, "name");
}

static void
test_clone(void)
{
	struct nmport_d *d, *c;

	d = nmport_prepare("vale0:a-1/T@3@conf:rings=2,slots=64");
	REQUIRE(d != NULL, "prepare");
	d->reg.nr_extra_bufs = 5;
	c = nmport_clone(d);
	REQUIRE(c != NULL, "clone");
	CHECK(c != d && c->ctx == d->ctx, "clone ctx");
	CHECK(strcmp(c->hdr.nr_name, "vale0:a") == 0, "clone name");
	CHECK(c->hdr.nr_body == (uint64_t)(uintptr_t)&c->reg, "clone body");
	CHECK(c->hdr.nr_options == 0, "clone options");
	CHECK(memcmp(&c->reg, &d->reg, sizeof(c->reg)) == 0, "clone reg");
	CHECK(c->fd == -1 && !c->register_done && c->mem == NULL &&
			c->extmem == NULL && c->clist == NULL, "clone state");
	/* pkt-gen style: re-target the copy */
	c->reg.nr_mode = NR_REG_ONE_NIC;
	c->reg.nr_ringid = 0;
	CHECK(d->reg.nr_ringid == 1, "original untouched");
	nmport_undo_prepare(c);
	nmport_close(d);
	nmport_close(NULL);
	nmport_undo_prepare(NULL);
}

static void
test_context(void)
{
	int before;
	struct nmport_d *d;

	/* errno survives an error callback that clobbers it */
	errno = 0;
	CHECK(nmport_prepare("netmap:eth0/q") == NULL && errno == EINVAL,
			"errno %s after callback", strerror(errno));

	/* verbose 0: nothing reaches the callback */
	test_ctx.verbose = 0;
	before = msg_count;
	errno = 0;
	CHECK(nmport_prepare("bogus") == NULL && errno == EINVAL, "quiet error");
	CHECK(msg_count == before, "callback called while not verbose");
	test_ctx.verbose = 1;

	/* descriptors keep the context they were made in */
	d = nmport_new();
	REQUIRE(d != NULL, "new");
	CHECK(d->ctx == &test_ctx, "ctx");
	nmport_delete(d);

	nmctx_set_threadsafe();	/* idempotent; must not disturb the ctx */
	CHECK(nmctx_get() == &test_ctx && test_ctx.lock != NULL, "threadsafe");
	nmctx_lock(&test_ctx);
	nmctx_unlock(&test_ctx);
	CHECK(nmctx_threadsafe != 0, "nmctx_threadsafe");
}

int
main(void)
{
	struct nmctx *def;

	t_setup(60);

	def = nmctx_get();
	REQUIRE(def != NULL && def->verbose && def->error != NULL &&
			def->malloc != NULL && def->free != NULL,
			"default context");
	test_ctx = *def;
	test_ctx.error = capture_error;
	test_ctx.verbose = 1;
	test_ctx.mem_descs = NULL;
	CHECK(nmctx_set_default(&test_ctx) == def, "set_default");
	CHECK(nmctx_get() == &test_ctx, "get after set_default");

	test_ok_table();
	test_bad_table();
	test_name_lengths();
	test_conf();
	test_extmem();
	test_offset_and_switches();
	test_parse_rollback();
	test_preset_mem_id();
	test_decoders();
	test_options_decode();
	test_option_list();
	test_clone();
	test_context();

	CHECK(nmctx_set_default(def) == &test_ctx, "restore default");
	return t_done();
}
