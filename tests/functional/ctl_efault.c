/* Description: requests with bad pointers (header, body, option list,
 * legacy nmreq) fail with EFAULT, as the kernel answers, instead of
 * crashing the caller; the fd stays usable. */
#include <fcntl.h>
#include <sys/ioctl.h>
#include <net/netmap_user.h>
#include "testlib.h"

int main(void)
{
	t_setup(30);
	int fd = open("/dev/netmap", O_RDWR);
	REQUIRE(fd >= 0, "open: %s", strerror(errno));
	void *bad = (void *)(uintptr_t)0x10;

	CHECK_ERRNO(ioctl(fd, NIOCCTRL, bad), EFAULT);
	CHECK_ERRNO(ioctl(fd, NIOCCTRL, NULL), EFAULT);

	struct nmreq_header hdr;
	struct nmreq_register reg;
	memset(&hdr, 0, sizeof(hdr));
	memset(&reg, 0, sizeof(reg));
	hdr.nr_version = NETMAP_API;
	hdr.nr_reqtype = NETMAP_REQ_REGISTER;
	snprintf(hdr.nr_name, sizeof(hdr.nr_name), "ef{1");
	hdr.nr_body = (uintptr_t)bad;
	CHECK_ERRNO(ioctl(fd, NIOCCTRL, &hdr), EFAULT);

	hdr.nr_body = (uintptr_t)&reg;
	hdr.nr_options = (uintptr_t)bad;
	reg.nr_mode = NR_REG_ALL_NIC;
	CHECK_ERRNO(ioctl(fd, NIOCCTRL, &hdr), EFAULT);

	/* second option of the list is bad */
	struct nmreq_option opt;
	memset(&opt, 0, sizeof(opt));
	opt.nro_reqtype = 1000;
	opt.nro_next = (uintptr_t)bad;
	hdr.nr_options = (uintptr_t)&opt;
	CHECK_ERRNO(ioctl(fd, NIOCCTRL, &hdr), EFAULT);

	CHECK_ERRNO(ioctl(fd, NIOCREGIF, bad), EFAULT);
	CHECK_ERRNO(ioctl(fd, NIOCGINFO, bad), EFAULT);

	/* the descriptor still works */
	hdr.nr_options = 0;
	CHECK(ioctl(fd, NIOCCTRL, &hdr) == 0, "register after faults: %s", strerror(errno));
	CHECK(reg.nr_tx_slots == 1024, "slots %u", reg.nr_tx_slots);
	close(fd);
	return t_done();
}
