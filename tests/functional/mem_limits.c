/* Description: memory regions are sparse files (untouched buffers cost no
 * RAM), honour the UNETMAP_* pool parameters, report them through
 * NETMAP_REQ_POOLS_INFO_GET, and an exhausted pool fails with ENOMEM and a
 * diagnostic naming that pool. */
#include <dirent.h>
#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <libnetmap.h>
#include <unetmap.h>
#include "testlib.h"

static struct nmport_d *open_quiet(const char *spec)
{
	struct nmctx *ctx = nmctx_get();
	int v = ctx->verbose;
	ctx->verbose = 0;
	struct nmport_d *d = nmport_open(spec);
	ctx->verbose = v;
	return d;
}

/* allocated bytes and apparent size of the region file of mem_id */
static int region_usage(uint16_t id, off_t *alloc, off_t *size)
{
	DIR *d = opendir(t_dir);
	struct dirent *e;
	char prefix[32];
	int found = 0;
	snprintf(prefix, sizeof(prefix), "mem-%u-", id);
	while (d != NULL && (e = readdir(d)) != NULL) {
		if (strncmp(e->d_name, prefix, strlen(prefix)) != 0)
			continue;
		char path[512];
		struct stat st;
		snprintf(path, sizeof(path), "%s/%s", t_dir, e->d_name);
		if (stat(path, &st) == 0) {
			*alloc = (off_t)st.st_blocks * 512;
			*size = st.st_size;
			found = 1;
		}
	}
	if (d != NULL)
		closedir(d);
	return found;
}

int main(void)
{
	t_setup(60);
	/* 1: defaults are large and sparse */
	struct nmport_d *a = nmport_open("netmap:ml{1");
	REQUIRE(a != NULL, "open: %s", strerror(errno));
	off_t alloc = 0, size = 0;
	CHECK(region_usage(a->reg.nr_mem_id, &alloc, &size), "region file exists");
	CHECK(size >= (off_t)a->reg.nr_memsize, "file %lld >= memsize %llu", (long long)size,
	      (unsigned long long)a->reg.nr_memsize);
	CHECK(a->reg.nr_memsize >= 256ULL << 20, "default region is large: %llu",
	      (unsigned long long)a->reg.nr_memsize);
	CHECK(alloc < size / 8, "sparse: %lld of %lld bytes allocated", (long long)alloc,
	      (long long)size);
	nmport_close(a);

	/* 2: parameters from the environment, visible in POOLS_INFO_GET */
	setenv("UNETMAP_BUF_NUM", "3000", 1);
	setenv("UNETMAP_RING_NUM", "8", 1);
	setenv("UNETMAP_IF_NUM", "3", 1);
	a = nmport_open("netmap:lim{1");
	REQUIRE(a != NULL, "open small region: %s", strerror(errno));
	struct nmreq_header hdr;
	struct nmreq_pools_info pi;
	memset(&hdr, 0, sizeof(hdr));
	memset(&pi, 0, sizeof(pi));
	hdr.nr_version = NETMAP_API;
	hdr.nr_reqtype = NETMAP_REQ_POOLS_INFO_GET;
	snprintf(hdr.nr_name, sizeof(hdr.nr_name), "lim{1");
	hdr.nr_body = (uintptr_t)&pi;
	CHECK(ioctl(a->fd, NIOCCTRL, &hdr) == 0, "POOLS_INFO_GET: %s", strerror(errno));
	CHECK(pi.nr_buf_pool_objtotal == 3000, "buf_num %u", pi.nr_buf_pool_objtotal);
	CHECK(pi.nr_ring_pool_objtotal == 8, "ring_num %u", pi.nr_ring_pool_objtotal);
	CHECK(pi.nr_if_pool_objtotal == 3, "if_num %u", pi.nr_if_pool_objtotal);
	CHECK(pi.nr_mem_id == a->reg.nr_mem_id, "mem id");
	char spec[64];

	/* buffers: a second 1024-slot pair needs 2048 more, only ~950 left */
	snprintf(spec, sizeof(spec), "netmap:lim{2@%u", a->reg.nr_mem_id);
	struct nmport_d *b = open_quiet(spec);
	CHECK(b == NULL && errno == ENOMEM, "buffer pool exhausted: %p %s", (void *)b,
	      strerror(errno));
	CHECK(strstr(unetmap_last_error(), "buffer pool") != NULL, "diagnostic: '%s'",
	      unetmap_last_error());

	/* rings: 4 of 8 used by pair 1, a pair of 3+3 small rings per end needs 12 */
	snprintf(spec, sizeof(spec), "netmap:lim{3@%u@conf:rings=3,slots=64", a->reg.nr_mem_id);
	b = open_quiet(spec);
	CHECK(b == NULL && errno == ENOMEM, "ring pool exhausted: %s", strerror(errno));
	CHECK(strstr(unetmap_last_error(), "ring pool") != NULL, "diagnostic: '%s'",
	      unetmap_last_error());

	/* netmap_if objects: 3, one per registration */
	struct nmport_d *c = nmport_open("netmap:lim}1");
	struct nmport_d *d = nmport_open("netmap:lim}1");
	CHECK(c != NULL && d != NULL, "two more registrations fit");
	struct nmport_d *e = open_quiet("netmap:lim{1");
	CHECK(e == NULL && errno == ENOMEM, "if pool exhausted: %s", strerror(errno));
	CHECK(strstr(unetmap_last_error(), "netmap_if pool") != NULL, "diagnostic: '%s'",
	      unetmap_last_error());
	if (d != NULL)
		nmport_close(d);
	e = nmport_open("netmap:lim{1");
	CHECK(e != NULL, "room again after a close: %s", strerror(errno));
	if (e != NULL)
		nmport_close(e);
	if (c != NULL)
		nmport_close(c);
	nmport_close(a);
	return t_done();
}
