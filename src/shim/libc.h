/*
 * libc.h - the real libc entry points behind the interposed ones, looked up
 * once (dlsym RTLD_NEXT) for the whole library.  A NULL pointer means libc
 * lacks the symbol: the caller then makes the raw system call.
 */
#ifndef UNETMAP_SHIM_LIBC_H
#define UNETMAP_SHIM_LIBC_H

#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <time.h>

struct unm_libc {
	int (*openat)(int, const char *, int, ...);
	int (*close)(int);
	int (*ioctl)(int, unsigned long, ...);
	void *(*mmap)(void *, size_t, int, int, int, off_t);
	int (*poll)(struct pollfd *, nfds_t, int);
	int (*ppoll)(struct pollfd *, nfds_t, const struct timespec *, const sigset_t *);
	int (*dup)(int);
	int (*dup2)(int, int);
	int (*dup3)(int, int, int);
	int (*fcntl)(int, int, ...);
	ssize_t (*recvmsg)(int, struct msghdr *, int);
	int (*select)(int, fd_set *, fd_set *, fd_set *, struct timeval *);
	int (*pselect)(int, fd_set *, fd_set *, fd_set *, const struct timespec *,
		       const sigset_t *);
	int (*epoll_create)(int);
	int (*epoll_create1)(int);
	int (*epoll_ctl)(int, int, int, struct epoll_event *);
	int (*epoll_wait)(int, struct epoll_event *, int, int);
	int (*epoll_pwait)(int, struct epoll_event *, int, int, const sigset_t *);
	int (*epoll_pwait2)(int, struct epoll_event *, int, const struct timespec *,
			    const sigset_t *);
};

extern struct unm_libc unm_libc;
extern pthread_once_t unm_libc_once;
void unm_libc_resolve(void);

/* the libc entry point `fn`, resolved once (NULL: use the raw syscall) */
#define LIBC(fn) (pthread_once(&unm_libc_once, unm_libc_resolve), unm_libc.fn)

#endif
