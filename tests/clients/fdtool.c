/*
 * fdtool - netmap fd handling as kernel-netmap programs do it, through libc
 * only (NOT linked with libunetmap; run it under unetmap-run):
 *
 *   fdtool serve SOCKPATH PORT   register PORT, pass the fd to the first
 *                                client over a Unix socket, then exit
 *   fdtool client SOCKPATH N     receive an fd, mmap it, send N frames
 *   fdtool forkdup PORT N        dup the fd, fork: the child sends N/2
 *                                through the duplicate, the parent closes
 *                                its original and sends the rest
 *   fdtool epollrx PORT N        receive N frames in an epoll loop that
 *                                also watches a plain pipe
 */
#define NETMAP_WITH_LIBS
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/epoll.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <net/netmap_user.h>

struct info { uint32_t memsize, offset; };

static int send_frames(int fd, struct netmap_if *nifp, unsigned n)
{
	struct netmap_ring *r = NETMAP_TXRING(nifp, 0);
	struct pollfd p = { .fd = fd, .events = POLLOUT };
	unsigned sent = 0;
	for (int idle = 0; sent < n && idle < 100; ) {
		if (poll(&p, 1, 100) <= 0) {
			idle++;
			continue;
		}
		while (sent < n && !nm_ring_empty(r)) {
			struct netmap_slot *s = &r->slot[r->head];
			char *b = NETMAP_BUF(r, s->buf_idx);
			memset(b, 0xff, 14);
			s->len = 60;
			r->head = r->cur = nm_ring_next(r, r->head);
			sent++;
		}
	}
	ioctl(fd, NIOCTXSYNC, NULL);
	return sent == n ? 0 : 1;
}

static int serve(const char *path, const char *port)
{
	struct nm_desc *d = nm_open(port, NULL, NM_OPEN_NO_MMAP, NULL);
	if (d == NULL)
		return 1;
	int ls = socket(AF_UNIX, SOCK_STREAM, 0);
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	snprintf(a.sun_path, sizeof(a.sun_path), "%s", path);
	unlink(path);
	if (bind(ls, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(ls, 1) < 0)
		return 1;
	int c = accept(ls, NULL, NULL);
	struct info in = { d->req.nr_memsize, d->req.nr_offset };
	char cb[CMSG_SPACE(sizeof(int))];
	struct iovec iov = { &in, sizeof(in) };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cb,
			    .msg_controllen = sizeof(cb) };
	struct cmsghdr *cm = CMSG_FIRSTHDR(&m);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &d->fd, sizeof(int));
	if (sendmsg(c, &m, 0) < 0)
		return 1;
	return 0;	/* exit without closing: the client keeps the port */
}

static int client(const char *path, unsigned n)
{
	int s = socket(AF_UNIX, SOCK_STREAM, 0);
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	snprintf(a.sun_path, sizeof(a.sun_path), "%s", path);
	for (int i = 0; connect(s, (struct sockaddr *)&a, sizeof(a)) < 0; i++) {
		if (i > 100)
			return 1;
		usleep(20000);
	}
	struct info in;
	char cb[CMSG_SPACE(sizeof(int))];
	struct iovec iov = { &in, sizeof(in) };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cb,
			    .msg_controllen = sizeof(cb) };
	if (recvmsg(s, &m, 0) != (ssize_t)sizeof(in))
		return 1;
	int fd;
	memcpy(&fd, CMSG_DATA(CMSG_FIRSTHDR(&m)), sizeof(int));
	void *mem = mmap(NULL, in.memsize, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (mem == MAP_FAILED) {
		perror("client mmap");
		return 1;
	}
	return send_frames(fd, NETMAP_IF(mem, in.offset), n);
}

static int forkdup(const char *port, unsigned n)
{
	struct nm_desc *d = nm_open(port, NULL, 0, NULL);
	if (d == NULL)
		return 1;
	int dupfd = dup(d->fd);
	pid_t pid = fork();
	if (pid == 0)
		_exit(send_frames(dupfd, d->nifp, n / 2));
	int st;
	waitpid(pid, &st, 0);
	close(d->fd);		/* the duplicate stays in use */
	int ret = send_frames(dupfd, d->nifp, n - n / 2);
	return ret || !WIFEXITED(st) || WEXITSTATUS(st) != 0;
}

static int epollrx(const char *port, unsigned n)
{
	struct nm_desc *d = nm_open(port, NULL, 0, NULL);
	if (d == NULL)
		return 1;
	int ep = epoll_create1(0), pp[2];
	if (ep < 0 || pipe(pp) < 0)
		return 1;
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = 1 };
	epoll_ctl(ep, EPOLL_CTL_ADD, d->fd, &ev);
	ev.data.u64 = 2;
	epoll_ctl(ep, EPOLL_CTL_ADD, pp[0], &ev);
	if (write(pp[1], "x", 1) != 1)
		return 1;
	unsigned got = 0, plain = 0;
	for (int idle = 0; got < n && idle < 50; ) {
		struct epoll_event out[4];
		int r = epoll_wait(ep, out, 4, 100);
		if (r <= 0) {
			idle++;
			continue;
		}
		for (int i = 0; i < r; i++) {
			if (out[i].data.u64 == 2) {
				char c;
				plain += read(pp[0], &c, 1) == 1;
				continue;
			}
			struct netmap_ring *ring = NETMAP_RXRING(d->nifp, d->first_rx_ring);
			while (!nm_ring_empty(ring)) {
				got++;
				ring->head = ring->cur = nm_ring_next(ring, ring->head);
			}
		}
	}
	nm_close(d);
	printf("epollrx %u frames, %u plain\n", got, plain);
	return got == n && plain == 1 ? 0 : 1;
}

int main(int argc, char **argv)
{
	if (argc == 4 && strcmp(argv[1], "serve") == 0)
		return serve(argv[2], argv[3]);
	if (argc == 4 && strcmp(argv[1], "client") == 0)
		return client(argv[2], (unsigned)atoi(argv[3]));
	if (argc == 4 && strcmp(argv[1], "epollrx") == 0)
		return epollrx(argv[2], (unsigned)atoi(argv[3]));
	if (argc == 4 && strcmp(argv[1], "forkdup") == 0)
		return forkdup(argv[2], (unsigned)atoi(argv[3]));
	fprintf(stderr, "usage: fdtool serve|client|forkdup|epollrx ...\n");
	return 2;
}
