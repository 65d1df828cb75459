/* Description: the legacy API of <net/netmap_user.h> (nm_open with pipe
 * names, NIOCREGIF/NIOCGINFO with struct nmreq, nm_inject, nm_dispatch,
 * nm_close) works on unetmap as on netmap, timestamps included. */
#define NETMAP_WITH_LIBS
#include <poll.h>
#include <net/netmap_user.h>
#include "testlib.h"

static unsigned got, bad;

static void cb(u_char *arg, const struct nm_pkthdr *h, const u_char *buf)
{
	(void)arg;
	unsigned v;
	memcpy(&v, buf + 14, sizeof(v));
	if (v != got || h->len != 60 || (h->ts.tv_sec == 0 && h->ts.tv_usec == 0))
		bad++;
	got++;
}

int main(void)
{
	t_setup(60);
	errno = 0;
	CHECK(nm_open("eth0", NULL, 0, NULL) == NULL && errno == 0, "non-netmap name");
	struct nm_desc *a = nm_open("netmap:lg{3", NULL, 0, NULL);
	REQUIRE(a != NULL, "nm_open master: %s", strerror(errno));
	struct nm_desc *b = nm_open("netmap:lg}3", NULL, 0, NULL);
	REQUIRE(b != NULL, "nm_open slave: %s", strerror(errno));
	CHECK(a->req.nr_tx_rings == 1 && a->req.nr_rx_rings == 1, "rings %u/%u",
	      a->req.nr_tx_rings, a->req.nr_rx_rings);
	CHECK(a->req.nr_arg2 == b->req.nr_arg2, "same mem id %u/%u", a->req.nr_arg2, b->req.nr_arg2);
	CHECK(a->first_tx_ring == 0 && a->last_tx_ring == 0, "ring range");

	unsigned char frame[60];
	memset(frame, 0xff, sizeof(frame));
	for (unsigned i = 0; i < 3000; i++) {
		memcpy(frame + 14, &i, sizeof(i));
		int tries = 0;
		while (nm_inject(a, frame, sizeof(frame)) == 0 && tries++ < 1000) {
			/* ring full: let poll push the frames, drain the peer */
			struct pollfd p = { .fd = a->fd, .events = POLLOUT };
			poll(&p, 1, 10);
			struct pollfd q = { .fd = b->fd, .events = POLLIN };
			poll(&q, 1, 10);
			nm_dispatch(b, -1, cb, NULL);
		}
	}
	for (int i = 0; i < 100 && got < 3000; i++) {
		struct pollfd p = { .fd = a->fd, .events = POLLOUT };
		poll(&p, 1, 10);
		struct pollfd q = { .fd = b->fd, .events = POLLIN };
		poll(&q, 1, 100);
		nm_dispatch(b, -1, cb, NULL);
	}
	CHECK(got == 3000, "received %u of 3000", got);
	CHECK(bad == 0, "%u frames out of order, wrong length or without timestamp", bad);

	/* NIOCGINFO on a fresh fd reports the pipe's geometry */
	int fd = open("/dev/netmap", O_RDWR);
	REQUIRE(fd >= 0, "open");
	struct nmreq req;
	memset(&req, 0, sizeof(req));
	req.nr_version = NETMAP_API;
	snprintf(req.nr_name, sizeof(req.nr_name), "lg{3");
	CHECK(ioctl(fd, NIOCGINFO, &req) == 0, "NIOCGINFO: %s", strerror(errno));
	CHECK(req.nr_tx_slots == 1024 && req.nr_memsize == a->req.nr_memsize,
	      "slots %u memsize %u", req.nr_tx_slots, req.nr_memsize);
	req.nr_version = 13;
	CHECK_ERRNO(ioctl(fd, NIOCREGIF, &req), EINVAL);
	close(fd);
	nm_close(a);
	nm_close(b);
	return t_done();
}
