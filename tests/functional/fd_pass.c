/* Description: an fd server registers netmap ports and hands the fds over
 * a Unix socket (SCM_RIGHTS); the receiving process maps, syncs and polls
 * them, and the ports stay alive after the registering process exits or is
 * killed, until the last holder closes. */
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <libnetmap.h>
#include <unetmap.h>
#include "testlib.h"

struct info { uint64_t memsize, offset; };

static void send_fd(int sock, int fd, const struct info *in)
{
	char cbuf[CMSG_SPACE(sizeof(int))];
	struct iovec iov = { (void *)in, sizeof(*in) };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
			    .msg_controllen = sizeof(cbuf) };
	struct cmsghdr *c = CMSG_FIRSTHDR(&m);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &fd, sizeof(int));
	if (sendmsg(sock, &m, 0) < 0)
		_exit(5);
}

static int recv_fd(int sock, struct info *in)
{
	char cbuf[CMSG_SPACE(sizeof(int))];
	struct iovec iov = { in, sizeof(*in) };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
			    .msg_controllen = sizeof(cbuf) };
	if (recvmsg(sock, &m, 0) != (ssize_t)sizeof(*in))
		return -1;
	struct cmsghdr *c = CMSG_FIRSTHDR(&m);
	int fd = -1;
	if (c != NULL && c->cmsg_type == SCM_RIGHTS)
		memcpy(&fd, CMSG_DATA(c), sizeof(int));
	return fd;
}

/* the server: register `spec`, pass the fd, then exit or wait for a kill */
static pid_t server(int sock, const char *spec, int linger)
{
	pid_t pid = fork();
	if (pid == 0) {
		struct nmport_d *d = nmport_open(spec);
		if (d == NULL)
			_exit(4);
		struct info in = { d->reg.nr_memsize, d->reg.nr_offset };
		send_fd(sock, d->fd, &in);
		if (linger)
			pause();
		_exit(0);	/* exits without closing: the kernel closes */
	}
	return pid;
}

static int use_fd(int fd, const struct info *in, int frames)
{
	char *mem = mmap(NULL, in->memsize, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (mem == MAP_FAILED)
		return -1;
	struct netmap_if *nifp = NETMAP_IF(mem, in->offset);
	struct netmap_ring *r = NETMAP_TXRING(nifp, 0);
	int sent = 0;
	struct pollfd p = { .fd = fd, .events = POLLOUT };
	while (sent < frames && poll(&p, 1, 1000) > 0) {
		while (sent < frames && !nm_ring_empty(r)) {
			r->slot[r->head].len = 60;
			r->head = r->cur = nm_ring_next(r, r->head);
			sent++;
		}
	}
	ioctl(fd, NIOCTXSYNC, NULL);
	munmap(mem, in->memsize);
	return sent;
}

static int receive(struct nmport_d *rx, int want)
{
	struct netmap_ring *r = NETMAP_RXRING(rx->nifp, 0);
	struct pollfd p = { .fd = rx->fd, .events = POLLIN };
	int got = 0;
	for (int i = 0; i < 100 && got < want; i++) {
		if (poll(&p, 1, 100) <= 0)
			continue;
		while (!nm_ring_empty(r)) {
			got++;
			r->head = r->cur = nm_ring_next(r, r->head);
		}
	}
	return got;
}

int main(void)
{
	t_setup(60);
	int sv[2];
	REQUIRE(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0, "socketpair");
	struct nmport_d *rx = nmport_open("netmap:fs}1");
	REQUIRE(rx != NULL, "open: %s", strerror(errno));

	/* 1: the registering process exits right after passing the fd */
	pid_t srv = server(sv[1], "netmap:fs{1", 0);
	struct info in;
	int fd = recv_fd(sv[0], &in);
	REQUIRE(fd >= 0, "received an fd");
	int st;
	waitpid(srv, &st, 0);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "server status %d", st);
	unetmap_gc();	/* must not collect a registration we hold */
	CHECK(use_fd(fd, &in, 300) == 300, "sent through the passed fd");
	CHECK(receive(rx, 300) == 300, "frames arrived");
	/* the passed fd is a real netmap fd here: poll, ioctl errors */
	struct nmreq_header h;
	memset(&h, 0, sizeof(h));
	h.nr_version = NETMAP_API;
	h.nr_reqtype = NETMAP_REQ_REGISTER;
	struct nmreq_register reg;
	memset(&reg, 0, sizeof(reg));
	h.nr_body = (uintptr_t)&reg;
	snprintf(h.nr_name, sizeof(h.nr_name), "fs{1");
	reg.nr_mode = NR_REG_ALL_NIC;
	CHECK_ERRNO(ioctl(fd, NIOCCTRL, &h), EBUSY);
	close(fd);
	unetmap_gc();
	/* the master end is gone: a new exclusive open of it succeeds */
	struct nmport_d *x = nmport_open("netmap:fs{1/x");
	CHECK(x != NULL, "exclusive reopen after the last holder closed: %s", strerror(errno));
	if (x != NULL)
		nmport_close(x);

	/* 2: the server is killed after passing the fd: still usable */
	srv = server(sv[1], "netmap:fs{1/x", 1);
	fd = recv_fd(sv[0], &in);
	REQUIRE(fd >= 0, "received an fd (2)");
	kill(srv, SIGKILL);
	waitpid(srv, &st, 0);
	unetmap_gc();
	CHECK(use_fd(fd, &in, 200) == 200, "sent after the server was killed");
	CHECK(receive(rx, 200) == 200, "frames arrived (2)");
	x = nmport_open("netmap:fs{1/x");
	CHECK(x == NULL && errno == EBUSY, "still held exclusively by the passed fd");
	close(fd);
	x = nmport_open("netmap:fs{1/x");
	CHECK(x != NULL, "free after close: %s", strerror(errno));
	if (x != NULL)
		nmport_close(x);
	nmport_close(rx);
	return t_done();
}
