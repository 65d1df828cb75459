/*
 * fdops.c - netmap descriptors across dup(), fork(), exec() and SCM_RIGHTS.
 *
 * A netmap fd is a FIFO holding the registration's flock, so the kernel
 * already shares it correctly between duplicates and processes; what this
 * file keeps right is the process-local table that maps fd numbers to the
 * registration:
 *   - dup/dup2/dup3/fcntl(F_DUPFD*): the new number shares the state;
 *   - fork: the child inherits the table with the memory (nothing to do);
 *   - exec and fds received with SCM_RIGHTS: the fd is recognised by the
 *     identity (device, inode) of its FIFO and adopted, at start-up for
 *     exec, in recvmsg() for passed fds, and lazily on the first netmap
 *     ioctl or mmap otherwise.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include "core/unm.h"
#include "shim/libc.h"

struct unm_fd *unm_fd_adopt(int fd)
{
	struct stat st;
	if (fd < 0 || fstat(fd, &st) < 0 || !S_ISFIFO(st.st_mode))
		return NULL;
	struct unm_registry *r = unm_registry();
	if (r == NULL || unm_lock() < 0)
		return NULL;
	struct unm_fd *f = NULL;
	for (uint32_t i = 0; i < r->reg_hwm; i++) {
		struct unm_reg *g = &r->regs[i];
		if (g->state == UNM_REG_FREE || g->fifo_ino != st.st_ino ||
		    g->fifo_dev != (uint64_t)st.st_dev)
			continue;
		f = calloc(1, sizeof(*f));
		if (f == NULL)
			break;
		f->reg = i;
		f->gen = g->gen;
		pthread_mutex_init(&f->lock, NULL);
		if (g->state == UNM_REG_BOUND && unm_fd_attach(f) < 0) {
			pthread_mutex_destroy(&f->lock);
			free(f);
			f = NULL;
		}
		break;
	}
	unm_unlock();
	if (f != NULL)
		unm_fd_install(fd, f);
	return f;
}

/* the new fd number shares the netmap state of the old one */
static int dup_result(int oldfd, int newfd)
{
	if (newfd < 0)
		return newfd;
	struct unm_fd *f = unm_fd_lookup(oldfd);
	if (f != NULL)
		unm_fd_install(newfd, f);
	else
		unm_fd_forget(newfd);	/* it was closed by dup2/dup3 */
	return newfd;
}

int dup(int oldfd)
{
	int fd = LIBC(dup) ? unm_libc.dup(oldfd) : (int)syscall(SYS_dup, oldfd);
	return dup_result(oldfd, fd);
}

int dup2(int oldfd, int newfd)
{
	int fd = LIBC(dup2) ? unm_libc.dup2(oldfd, newfd) : (int)syscall(SYS_dup2, oldfd, newfd);
	if (fd < 0 || oldfd == newfd)
		return fd;
	return dup_result(oldfd, fd);
}

int dup3(int oldfd, int newfd, int flags)
{
	int fd = LIBC(dup3) ? unm_libc.dup3(oldfd, newfd, flags)
			    : (int)syscall(SYS_dup3, oldfd, newfd, flags);
	return dup_result(oldfd, fd);
}

int fcntl(int fd, int cmd, ...)
{
	va_list ap;
	va_start(ap, cmd);
	/* every fcntl argument fits in a pointer-sized slot */
	void *arg = va_arg(ap, void *);
	va_end(ap);
	int ret = LIBC(fcntl) ? unm_libc.fcntl(fd, cmd, arg) : (int)syscall(SYS_fcntl, fd, cmd, arg);
	if (ret >= 0 && (cmd == F_DUPFD || cmd == F_DUPFD_CLOEXEC) && unm_fd_lookup(fd) != NULL)
		dup_result(fd, ret);
	return ret;
}

int fcntl64(int fd, int cmd, ...);
int fcntl64(int fd, int cmd, ...)
{
	va_list ap;
	va_start(ap, cmd);
	void *arg = va_arg(ap, void *);
	va_end(ap);
	return fcntl(fd, cmd, arg);
}

/* fds passed with SCM_RIGHTS: adopt the netmap ones as they arrive */
ssize_t recvmsg(int sock, struct msghdr *msg, int flags)
{
	ssize_t ret = LIBC(recvmsg) ? unm_libc.recvmsg(sock, msg, flags)
				    : syscall(SYS_recvmsg, sock, msg, flags);
	if (ret < 0 || msg == NULL || msg->msg_controllen == 0)
		return ret;
	int e = errno;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(msg); c != NULL; c = CMSG_NXTHDR(msg, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		size_t n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		int *fds = (int *)CMSG_DATA(c);
		for (size_t i = 0; i < n; i++) {
			int fd;
			memcpy(&fd, &fds[i], sizeof(fd));
			unm_fd_forget(fd);	/* a stale entry for a reused number */
			unm_fd_adopt(fd);
		}
	}
	errno = e;
	return ret;
}

/* After exec: netmap fds that survived (no O_CLOEXEC) are FIFOs named
 * DIR/reg-*; adopt them before main() runs. */
__attribute__((constructor)) static void adopt_inherited(void)
{
	char dirpath[64], link[512], want[512];
	snprintf(dirpath, sizeof(dirpath), "/proc/self/fd");
	int n = snprintf(want, sizeof(want), "%s/reg-", unm_dir());
	if (n < 0 || (size_t)n >= sizeof(want))
		return;
	DIR *d = opendir(dirpath);
	if (d == NULL)
		return;
	int dfd = dirfd(d);
	struct dirent *e;
	int cand[64], nc = 0;
	while ((e = readdir(d)) != NULL && nc < 64) {
		int fd = atoi(e->d_name);
		if (e->d_name[0] < '0' || e->d_name[0] > '9' || fd == dfd)
			continue;
		char p[64];
		snprintf(p, sizeof(p), "/proc/self/fd/%d", fd);
		ssize_t l = readlink(p, link, sizeof(link) - 1);
		if (l <= 0)
			continue;
		link[l] = '\0';
		if (strncmp(link, want, (size_t)n) == 0)
			cand[nc++] = fd;
	}
	closedir(d);
	for (int i = 0; i < nc; i++)
		unm_fd_adopt(cand[i]);
}
