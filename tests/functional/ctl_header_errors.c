/* Description: NIOCCTRL header/body/option validation errnos (version, reserved, reqtype, body, options), EBUSY re-register, ENXIO syncs and mmap limits on unbound/bound fds, unknown ioctls. */
#include <fcntl.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <libnetmap.h>
#include "testlib.h"

#define SENTINEL 0x5a5aU

static int nm_fd(void)
{
	int fd = open("/dev/netmap", O_RDWR);
	REQUIRE(fd >= 0, "open /dev/netmap: %s", strerror(errno));
	return fd;
}

static void hdr_init(struct nmreq_header *h, uint16_t type, const char *name, void *body)
{
	memset(h, 0, sizeof(*h));
	h->nr_version = NETMAP_API;
	h->nr_reqtype = type;
	snprintf(h->nr_name, sizeof(h->nr_name), "%s", name);
	h->nr_body = (uintptr_t)body;
}

static void reg_init(struct nmreq_register *r)
{
	memset(r, 0, sizeof(*r));
	r->nr_mode = NR_REG_ALL_NIC;
}

static void opt_init(struct nmreq_option *o, uint32_t type)
{
	memset(o, 0, sizeof(*o));
	o->nro_reqtype = type;
	o->nro_status = SENTINEL;
}

static int is_unbound(int fd)
{
	errno = 0;
	return ioctl(fd, NIOCTXSYNC, NULL) == -1 && errno == ENXIO;
}

int main(void)
{
	t_setup(60);
	struct nmreq_header h, hsave;
	struct nmreq_register reg, rsave;
	struct nmreq_port_info_get pi;
	struct nmreq_option o1, o2;

	/* ---- API version: only 14 and 15; nothing written back ---- */
	int fd = nm_fd();
	const uint16_t badv[] = { 13, 16, 0, 0xffff };
	for (unsigned i = 0; i < sizeof(badv) / sizeof(badv[0]); i++) {
		reg_init(&reg);
		reg.nr_offset = 0x1111;
		reg.nr_memsize = 0x2222;
		reg.nr_mem_id = 0;
		hdr_init(&h, NETMAP_REQ_REGISTER, "hv{1", &reg);
		h.nr_version = badv[i];
		h.nr_name[NETMAP_REQ_IFNAMSIZ - 1] = 'Z';	/* kernel would force a NUL */
		opt_init(&o1, 1000);
		h.nr_options = (uintptr_t)&o1;
		hsave = h;
		rsave = reg;
		CHECK_ERRNO(ioctl(fd, NIOCCTRL, &h), EINVAL);
		CHECK(memcmp(&h, &hsave, sizeof(h)) == 0, "version %u: header modified", badv[i]);
		CHECK(memcmp(&reg, &rsave, sizeof(reg)) == 0, "version %u: body modified", badv[i]);
		CHECK(o1.nro_status == SENTINEL, "version %u: option status written (%u)",
		      badv[i], o1.nro_status);
		CHECK(is_unbound(fd), "version %u: fd got bound", badv[i]);
	}
	/* PORT_INFO_GET with a bad version: body untouched */
	memset(&pi, 0, sizeof(pi));
	pi.nr_memsize = 0x3333;
	hdr_init(&h, NETMAP_REQ_PORT_INFO_GET, "", &pi);
	h.nr_version = 13;
	CHECK_ERRNO(ioctl(fd, NIOCCTRL, &h), EINVAL);
	CHECK(pi.nr_memsize == 0x3333 && pi.nr_mem_id == 0, "info body written on bad version");

	/* versions 14 and 15 accepted */
	for (uint16_t v = 14; v <= 15; v++) {
		memset(&pi, 0, sizeof(pi));
		hdr_init(&h, NETMAP_REQ_PORT_INFO_GET, "", &pi);
		h.nr_version = v;
		CHECK(ioctl(fd, NIOCCTRL, &h) == 0, "version %u info: %s", v, strerror(errno));
		CHECK(pi.nr_mem_id == 1 && pi.nr_memsize > 0, "version %u: mem_id %u memsize %llu",
		      v, pi.nr_mem_id, (unsigned long long)pi.nr_memsize);
	}
	int fd15 = nm_fd();
	reg_init(&reg);
	hdr_init(&h, NETMAP_REQ_REGISTER, "hv{1", &reg);
	h.nr_version = 15;
	CHECK(ioctl(fd15, NIOCCTRL, &h) == 0, "register with version 15: %s", strerror(errno));
	CHECK(reg.nr_memsize > 0 && reg.nr_tx_rings == 1, "v15 reply memsize %llu rings %u",
	      (unsigned long long)reg.nr_memsize, reg.nr_tx_rings);
	int fd14 = nm_fd();
	reg_init(&reg);
	hdr_init(&h, NETMAP_REQ_REGISTER, "hv}1", &reg);
	h.nr_version = 14;
	CHECK(ioctl(fd14, NIOCCTRL, &h) == 0, "register with version 14: %s", strerror(errno));

	/* ---- nr_reserved must be 0 ---- */
	const uint32_t resv[] = { 1, 0x80000000U };
	for (unsigned i = 0; i < 2; i++) {
		memset(&pi, 0, sizeof(pi));
		pi.nr_memsize = 0x4444;
		hdr_init(&h, NETMAP_REQ_PORT_INFO_GET, "", &pi);
		h.nr_reserved = resv[i];
		CHECK_ERRNO(ioctl(fd, NIOCCTRL, &h), EINVAL);
		CHECK(pi.nr_memsize == 0x4444 && pi.nr_mem_id == 0, "reserved %#x: body written",
		      resv[i]);
	}
	reg_init(&reg);
	hdr_init(&h, NETMAP_REQ_REGISTER, "hr{1", &reg);
	h.nr_reserved = 1;
	CHECK_ERRNO(ioctl(fd, NIOCCTRL, &h), EINVAL);
	CHECK(is_unbound(fd), "bound despite nr_reserved");

	/* ---- unknown request types ---- */
	const uint16_t badt[] = { 99, 0, 16, 0xffff };
	for (unsigned i = 0; i < sizeof(badt) / sizeof(badt[0]); i++) {
		hdr_init(&h, badt[i], "hv{1", NULL);
		CHECK_ERRNO(ioctl(fd, NIOCCTRL, &h), EINVAL);
		memset(&pi, 0, sizeof(pi));
		hdr_init(&h, badt[i], "hv{1", &pi);
		CHECK_ERRNO(ioctl(fd, NIOCCTRL, &h), EINVAL);
	}

	/* ---- body present iff the type has one ---- */
	hdr_init(&h, NETMAP_REQ_REGISTER, "hb{1", NULL);
	CHECK_ERRNO(ioctl(fd, NIOCCTRL, &h), EINVAL);
	CHECK(is_unbound(fd), "bound without a body");
	hdr_init(&h, NETMAP_REQ_PORT_INFO_GET, "", NULL);
	CHECK_ERRNO(ioctl(fd, NIOCCTRL, &h), EINVAL);
	hdr_init(&h, NETMAP_REQ_POOLS_INFO_GET, "hv{1", NULL);
	CHECK_ERRNO(ioctl(fd, NIOCCTRL, &h), EINVAL);
	const uint16_t bodiless[] = { NETMAP_REQ_VALE_DELIF, NETMAP_REQ_SYNC_KLOOP_STOP,
				      NETMAP_REQ_CSB_ENABLE };
	for (unsigned i = 0; i < 3; i++) {
		memset(&pi, 0, sizeof(pi));
		hdr_init(&h, bodiless[i], "hv{1", &pi);
		CHECK_ERRNO(ioctl(fd, NIOCCTRL, &h), EINVAL);
	}

	/* ---- option of unknown type on REGISTER: EOPNOTSUPP, registration undone ---- */
	int fo = nm_fd();
	reg_init(&reg);
	hdr_init(&h, NETMAP_REQ_REGISTER, "ho{1", &reg);
	opt_init(&o1, 1000);
	h.nr_options = (uintptr_t)&o1;
	CHECK_ERRNO(ioctl(fo, NIOCCTRL, &h), EOPNOTSUPP);
	CHECK(o1.nro_status == EOPNOTSUPP, "unknown option status %u", o1.nro_status);
	CHECK(o1.nro_next == 0, "nro_next changed");
	CHECK(h.nr_options == (uintptr_t)&o1, "nr_options changed");
	CHECK(reg.nr_memsize == 0 && reg.nr_offset == 0 && reg.nr_tx_rings == 0,
	      "body written back on failure");
	CHECK(is_unbound(fo), "fd left bound after EOPNOTSUPP");
	/* the fd can register again (no EBUSY left over) */
	reg_init(&reg);
	hdr_init(&h, NETMAP_REQ_REGISTER, "ho{1", &reg);
	CHECK(ioctl(fo, NIOCCTRL, &h) == 0, "register after failed option: %s", strerror(errno));
	close(fo);

	/* other request types ignore unknown options (status stays EOPNOTSUPP) */
	memset(&pi, 0, sizeof(pi));
	hdr_init(&h, NETMAP_REQ_PORT_INFO_GET, "", &pi);
	opt_init(&o1, 1000);
	h.nr_options = (uintptr_t)&o1;
	CHECK(ioctl(fd, NIOCCTRL, &h) == 0, "info with unknown option: %s", strerror(errno));
	CHECK(o1.nro_status == EOPNOTSUPP, "info: unknown option status %u", o1.nro_status);
	CHECK(pi.nr_mem_id == 1, "info with option: mem_id %u", pi.nr_mem_id);

	/* ---- option of type 0 ---- */
	reg_init(&reg);
	hdr_init(&h, NETMAP_REQ_REGISTER, "hz{1", &reg);
	opt_init(&o1, 0);
	h.nr_options = (uintptr_t)&o1;
	CHECK_ERRNO(ioctl(fd, NIOCCTRL, &h), EINVAL);
	CHECK(o1.nro_status == EINVAL, "type-0 option status %u", o1.nro_status);
	CHECK(is_unbound(fd), "bound despite type-0 option");

	/* ---- the same known option twice ---- */
	struct nmreq_opt_offsets off1, off2;
	memset(&off1, 0, sizeof(off1));
	memset(&off2, 0, sizeof(off2));
	off1.nro_opt.nro_reqtype = off2.nro_opt.nro_reqtype = NETMAP_REQ_OPT_OFFSETS;
	off1.nro_opt.nro_status = off2.nro_opt.nro_status = SENTINEL;
	off1.nro_opt.nro_next = (uintptr_t)&off2;
	reg_init(&reg);
	hdr_init(&h, NETMAP_REQ_REGISTER, "hd{1", &reg);
	h.nr_options = (uintptr_t)&off1;
	CHECK_ERRNO(ioctl(fd, NIOCCTRL, &h), EINVAL);
	CHECK(off1.nro_opt.nro_status == EINVAL, "first dup status %u", off1.nro_opt.nro_status);
	CHECK(off2.nro_opt.nro_status == EINVAL, "second dup status %u", off2.nro_opt.nro_status);
	CHECK(off1.nro_opt.nro_next == (uintptr_t)&off2 && off2.nro_opt.nro_next == 0,
	      "option chain not restored");
	CHECK(is_unbound(fd), "bound despite duplicated option");

	/* ---- a looping option list ---- */
	opt_init(&o2, 1000);
	o2.nro_next = (uintptr_t)&o2;
	reg_init(&reg);
	hdr_init(&h, NETMAP_REQ_REGISTER, "hl{1", &reg);
	h.nr_options = (uintptr_t)&o2;
	CHECK_ERRNO(ioctl(fd, NIOCCTRL, &h), EMSGSIZE);
	CHECK(o2.nro_next == (uintptr_t)&o2, "looping nro_next not restored");
	CHECK(o2.nro_status == EOPNOTSUPP, "looping option status %u", o2.nro_status);
	CHECK(is_unbound(fd), "bound despite looping options");

	/* ---- second REGISTER on a bound fd ---- */
	reg_init(&reg);
	reg.nr_memsize = 0x5555;
	hdr_init(&h, NETMAP_REQ_REGISTER, "hv{1", &reg);
	CHECK_ERRNO(ioctl(fd15, NIOCCTRL, &h), EBUSY);
	CHECK(reg.nr_memsize == 0x5555, "body written on EBUSY");
	reg_init(&reg);
	hdr_init(&h, NETMAP_REQ_REGISTER, "other{1", &reg);
	CHECK_ERRNO(ioctl(fd15, NIOCCTRL, &h), EBUSY);
	CHECK(ioctl(fd15, NIOCTXSYNC, NULL) == 0, "first binding still works");

	/* ---- syncs and mmap on an unbound fd ---- */
	CHECK_ERRNO(ioctl(fd, NIOCTXSYNC, NULL), ENXIO);
	CHECK_ERRNO(ioctl(fd, NIOCRXSYNC, NULL), ENXIO);
	CHECK_ERRNO(mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0), EINVAL);

	/* ---- mmap limits on a bound fd ---- */
	int fm = nm_fd();
	reg_init(&reg);
	hdr_init(&h, NETMAP_REQ_REGISTER, "hm{1", &reg);
	REQUIRE(ioctl(fm, NIOCCTRL, &h) == 0, "register hm{1: %s", strerror(errno));
	size_t ms = (size_t)reg.nr_memsize;
	REQUIRE(ms > 0 && ms % 4096 == 0, "memsize %zu", ms);
	CHECK_ERRNO(mmap(NULL, ms + 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fm, 0), EINVAL);
	CHECK_ERRNO(mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fm, (off_t)ms), EINVAL);
	CHECK_ERRNO(mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_SHARED, fm, (off_t)(ms - 4096)),
		    EINVAL);
	void *p = mmap(NULL, ms, PROT_READ | PROT_WRITE, MAP_SHARED, fm, 0);
	CHECK(p != MAP_FAILED, "mmap of exactly nr_memsize: %s", strerror(errno));
	if (p != MAP_FAILED) {
		struct netmap_if *nifp = NETMAP_IF(p, reg.nr_offset);
		CHECK(strcmp(nifp->ni_name, "hm{1") == 0, "ni_name '%.16s'", nifp->ni_name);
		CHECK(nifp->ni_tx_rings == 1 && nifp->ni_rx_rings == 1, "rings %u/%u",
		      nifp->ni_tx_rings, nifp->ni_rx_rings);
		munmap(p, ms);
	}

	/* ---- unknown ioctls; FIONBIO / FIOASYNC ---- */
	int on = 1;
	CHECK_ERRNO(ioctl(fd, _IO('i', 200), NULL), EOPNOTSUPP);
	CHECK_ERRNO(ioctl(fm, _IO('i', 200), NULL), EOPNOTSUPP);
	CHECK_ERRNO(ioctl(fm, _IOR('x', 1, int), &on), EOPNOTSUPP);
	CHECK(ioctl(fd, FIONBIO, &on) == 0, "FIONBIO unbound: %s", strerror(errno));
	CHECK(ioctl(fd, FIOASYNC, &on) == 0, "FIOASYNC unbound: %s", strerror(errno));
	CHECK(ioctl(fm, FIONBIO, &on) == 0, "FIONBIO bound: %s", strerror(errno));
	CHECK(ioctl(fm, FIOASYNC, &on) == 0, "FIOASYNC bound: %s", strerror(errno));
	on = 0;
	CHECK(ioctl(fm, FIONBIO, &on) == 0, "FIONBIO off: %s", strerror(errno));
	CHECK(ioctl(fm, NIOCTXSYNC, NULL) == 0, "fd still usable");

	close(fm);
	close(fd14);
	close(fd15);
	close(fd);
	return t_done();
}
