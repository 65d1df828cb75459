/* Frame helpers shared by the tests that move frames through netmap
 * ports, and raw NIOCCTRL requests (include after testlib.h). */
#ifndef UNETMAP_NMTEST_H
#define UNETMAP_NMTEST_H
#include <fcntl.h>
#include <stdbool.h>
#include <signal.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <libnetmap.h>
#include <unetmap.h>

/* A SIGUSR1 for a wait to be interrupted by: the handler sets t_got_usr1;
 * SIGUSR1 is blocked now (mask `block`), `open_mask` is the empty mask to
 * wait with; a child sends the signal in 150 ms.  Returns the child. */
static volatile sig_atomic_t t_got_usr1;
static void t_on_usr1(int sig)
{
	(void)sig;
	t_got_usr1 = 1;
}

static inline pid_t t_usr1_soon(sigset_t *block, sigset_t *open_mask)
{
	struct sigaction sa = { .sa_handler = t_on_usr1 };
	sigemptyset(&sa.sa_mask);
	sigaction(SIGUSR1, &sa, NULL);
	sigemptyset(block);
	sigaddset(block, SIGUSR1);
	sigprocmask(SIG_BLOCK, block, NULL);
	sigemptyset(open_mask);
	pid_t parent = getpid(), pid = fork();
	REQUIRE(pid >= 0, "fork");
	if (pid == 0) {
		usleep(150000);
		_exit(kill(parent, SIGUSR1) == 0 ? 0 : 1);
	}
	return pid;
}

/* number carried by the next frame t_queue_frame() builds */
static unsigned t_frame_no;

/* queue one 60-byte frame (its number at offset 14) on the first TX
 * ring, without syncing */
static inline void t_queue_frame(struct nmport_d *d)
{
	struct netmap_ring *r = NETMAP_TXRING(d->nifp, d->first_tx_ring);
	REQUIRE(!nm_ring_empty(r), "no room in the tx ring");
	struct netmap_slot *s = &r->slot[r->head];
	char *buf = NETMAP_BUF(r, s->buf_idx);
	memset(buf, 0, 60);
	memcpy(buf + 14, &t_frame_no, sizeof(t_frame_no));
	t_frame_no++;
	s->len = 60;
	r->head = r->cur = nm_ring_next(r, r->head);
}

static inline void t_send_frame(struct nmport_d *d)
{
	t_queue_frame(d);
	CHECK(ioctl(d->fd, NIOCTXSYNC, NULL) == 0, "txsync: %s", strerror(errno));
}

/* release what the receiver sees; returns how many frames that was */
static inline int t_consume(struct nmport_d *d)
{
	struct netmap_ring *r = NETMAP_RXRING(d->nifp, d->first_rx_ring);
	int n = 0;
	while (!nm_ring_empty(r) && n < 4096) {
		r->head = r->cur = nm_ring_next(r, r->head);
		n++;
	}
	return n;
}

/* read whatever is pending on a socket */
static inline void t_empty_socket(int fd)
{
	char buf[64];
	for (int i = 0; i < 100; i++)
		if (recv(fd, buf, sizeof(buf), MSG_DONTWAIT) <= 0)
			break;
}

/* nmport_open() that must succeed */
static inline struct nmport_d *t_open(const char *spec)
{
	struct nmport_d *d = nmport_open(spec);
	REQUIRE(d != NULL, "nmport_open(%s): %s (%s)", spec, strerror(errno),
		unetmap_last_error());
	return d;
}

/* nmport_open() that must fail with errno `want` */
static inline void t_open_fails(const char *spec, int want)
{
	errno = 0;
	struct nmport_d *d = nmport_open(spec);
	int e = errno;
	CHECK(d == NULL && e == want, "nmport_open(%s): %s, want %s", spec,
	      d ? "success" : strerror(e), strerror(want));
	if (d)
		nmport_close(d);
}

/* ---- raw NIOCCTRL requests, each on a fresh /dev/netmap fd ---------------- */

static inline void t_hdr_init(struct nmreq_header *h, uint16_t type, const char *name,
			      void *body)
{
	memset(h, 0, sizeof(*h));
	h->nr_version = NETMAP_API;
	h->nr_reqtype = type;
	snprintf(h->nr_name, sizeof(h->nr_name), "%s", name);
	h->nr_body = (uintptr_t)body;
}

/* one ioctl (NIOCCTRL with a header, or a legacy one) on a /dev/netmap fd
 * opened and closed here; -1/errno on failure.  What arg points to is the
 * caller's and gets what the ioctl writes back. */
static inline int t_nm_ioctl(unsigned long req, void *arg)
{
	int fd = open("/dev/netmap", O_RDWR);
	REQUIRE(fd >= 0, "open /dev/netmap: %s", strerror(errno));
	int r = ioctl(fd, req, arg);
	int e = errno;
	close(fd);
	errno = e;
	return r;
}

static inline int t_ctl(uint16_t type, const char *name, void *body)
{
	struct nmreq_header h;
	t_hdr_init(&h, type, name, body);
	return t_nm_ioctl(NIOCCTRL, &h);
}

/* REGISTER of the caller's body (netmap's reply is written back into it);
 * returns the bound fd, or -1/errno */
static inline int t_register(const char *name, struct nmreq_register *reg)
{
	struct nmreq_header h;
	t_hdr_init(&h, NETMAP_REQ_REGISTER, name, reg);
	int fd = open("/dev/netmap", O_RDWR);
	REQUIRE(fd >= 0, "open /dev/netmap: %s", strerror(errno));
	if (ioctl(fd, NIOCCTRL, &h) < 0) {
		int e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

/* t_register() of a body with mode, ring id and flags, the rest 0 */
static inline int t_reg_raw(const char *name, uint32_t mode, uint16_t ringid, uint64_t flags)
{
	struct nmreq_register reg;
	memset(&reg, 0, sizeof(reg));
	reg.nr_mode = mode;
	reg.nr_ringid = ringid;
	reg.nr_flags = flags;
	return t_register(name, &reg);
}
/* NR_FORWARD (transparent mode) on or off on every bound RX ring of d */
static inline void t_set_forward(struct nmport_d *d, bool on)
{
	for (int ri = d->first_rx_ring; ri <= d->last_rx_ring; ri++) {
		struct netmap_ring *r = NETMAP_RXRING(d->nifp, ri);
		if (on)
			r->flags |= NR_FORWARD;
		else
			r->flags &= ~NR_FORWARD;
	}
}

#endif
