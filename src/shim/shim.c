/*
 * shim.c - the libc entry points that netmap programs use on /dev/netmap:
 * open, close, ioctl, mmap, poll, ppoll.  A call on a netmap descriptor is
 * served here; any other call goes to libc after one table lookup.
 *
 * A program linked with -lunetmap gets these definitions by ordinary symbol
 * interposition (the library comes before libc in the lookup order).
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include "core/unm.h"
#include "shim/libc.h"
#include "unetmap.h"

extern void __chk_fail(void) __attribute__((noreturn));

#define FDTAB_MAX 65536
static struct unm_fd *fdtab[FDTAB_MAX];
static int n_netmap_fds;	/* quick "no netmap fd at all" test */
static pthread_mutex_t fdtab_lock = PTHREAD_MUTEX_INITIALIZER;

/* ---- libc ---------------------------------------------------------------- */

struct unm_libc unm_libc;
pthread_once_t unm_libc_once = PTHREAD_ONCE_INIT;

#define RESOLVE(fn) (unm_libc.fn = (__typeof__(unm_libc.fn))dlsym(RTLD_NEXT, #fn))

void unm_libc_resolve(void)
{
	RESOLVE(openat);
	RESOLVE(close);
	RESOLVE(ioctl);
	RESOLVE(mmap);
	RESOLVE(poll);
	RESOLVE(ppoll);
	RESOLVE(dup);
	RESOLVE(dup2);
	RESOLVE(dup3);
	RESOLVE(fcntl);
	RESOLVE(recvmsg);
	RESOLVE(select);
	RESOLVE(pselect);
	RESOLVE(epoll_create);
	RESOLVE(epoll_create1);
	RESOLVE(epoll_ctl);
	RESOLVE(epoll_wait);
	RESOLVE(epoll_pwait);
	RESOLVE(epoll_pwait2);
}

int unm_real_open(const char *path, int flags, mode_t mode)
{
	if (LIBC(openat) != NULL)
		return unm_libc.openat(AT_FDCWD, path, flags, mode);
	return (int)syscall(SYS_openat, AT_FDCWD, path, flags, mode);
}

int unm_real_close(int fd)
{
	return LIBC(close) ? unm_libc.close(fd) : (int)syscall(SYS_close, fd);
}

int unm_real_ioctl(int fd, unsigned long req, void *arg)
{
	return LIBC(ioctl) ? unm_libc.ioctl(fd, req, arg) : (int)syscall(SYS_ioctl, fd, req, arg);
}

void *unm_real_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	if (LIBC(mmap) != NULL)
		return unm_libc.mmap(addr, len, prot, flags, fd, off);
	return (void *)syscall(SYS_mmap, addr, len, prot, flags, fd, off);
}

int unm_real_poll(struct pollfd *fds, unsigned long n, int timeout)
{
	if (LIBC(poll) != NULL)
		return unm_libc.poll(fds, n, timeout);
	struct timespec ts = { timeout / 1000, (timeout % 1000) * 1000000L };
	return (int)syscall(SYS_ppoll, fds, n, timeout < 0 ? NULL : &ts, NULL, 8);
}

static int real_ppoll(struct pollfd *fds, nfds_t n, const struct timespec *ts, const sigset_t *ss)
{
	if (LIBC(ppoll) != NULL)
		return unm_libc.ppoll(fds, n, ts, ss);
	return (int)syscall(SYS_ppoll, fds, n, ts, ss, 8);
}

/* ---- the fd table ---------------------------------------------------------- */

struct unm_fd *unm_fd_lookup(int fd)
{
	if ((unsigned)fd >= FDTAB_MAX)
		return NULL;
	return __atomic_load_n(&fdtab[fd], __ATOMIC_ACQUIRE);
}

static void netmap_release(struct unm_fd *f);

/* Point fd at f (NULL: clear).  Returns the state fd pointed to before if
 * this was its last fd number here (the caller releases it), else NULL. */
static struct unm_fd *fd_set_entry(int fd, struct unm_fd *f)
{
	struct unm_fd *old, *last = NULL;
	pthread_mutex_lock(&fdtab_lock);
	old = fdtab[fd];
	if (old == f) {
		pthread_mutex_unlock(&fdtab_lock);
		return NULL;
	}
	if (f != NULL) {
		f->refs++;
		if (old == NULL)
			n_netmap_fds++;
	} else if (old != NULL) {
		n_netmap_fds--;
	}
	if (old != NULL && --old->refs == 0)
		last = old;
	__atomic_store_n(&fdtab[fd], f, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&fdtab_lock);
	return last;
}

void unm_fd_install(int fd, struct unm_fd *f)
{
	if ((unsigned)fd >= FDTAB_MAX)
		return;
	struct unm_fd *last = fd_set_entry(fd, f);
	if (last != NULL)
		netmap_release(last);
}

bool unm_fd_forget(int fd)
{
	if (unm_fd_lookup(fd) == NULL)
		return false;
	struct unm_fd *last = fd_set_entry(fd, NULL);
	if (last != NULL)
		netmap_release(last);
	return true;
}

/* open("/dev/netmap"): a new registration slot and its FIFO. */
static int netmap_open(int flags)
{
	uint32_t idx, gen;
	int ret = unm_lock();
	if (ret < 0) {
		errno = -ret;
		return -1;
	}
	unm_gc_locked(false);
	ret = unm_reg_alloc_locked(&idx);
	gen = ret == 0 ? unm_registry()->regs[idx].gen : 0;
	unm_unlock();
	if (ret < 0) {
		errno = -ret;
		return -1;
	}
	char path[512];
	unm_fifo_path(path, sizeof(path), idx, gen);
	int fd = -1;
	if (mkfifo(path, 0666) == 0 || errno == EEXIST)
		fd = unm_real_open(path, O_RDWR | O_NONBLOCK | (flags & O_CLOEXEC), 0);
	int e = errno;
	if (fd >= 0) {
		fchmod(fd, 0666);
		if (flock(fd, LOCK_EX | LOCK_NB) < 0 || fd >= FDTAB_MAX) {
			e = fd >= FDTAB_MAX ? EMFILE : errno;
			unm_real_close(fd);
			fd = -1;
		}
	}
	struct unm_fd *f = fd >= 0 ? calloc(1, sizeof(*f)) : NULL;
	if (f == NULL) {
		if (fd >= 0) {
			unm_real_close(fd);
			e = ENOMEM;
		}
		unm_seterr("cannot create %s: %s", path, strerror(e));
		if (unm_lock() == 0) {
			unm_reg_release_locked(idx);
			unm_unlock();
		}
		errno = e;
		return -1;
	}
	f->oflags = flags;
	f->reg = idx;
	f->gen = gen;
	pthread_mutex_init(&f->lock, NULL);
	struct stat st;
	if (fstat(fd, &st) == 0 && unm_lock() == 0) {
		struct unm_reg *g = &unm_registry()->regs[idx];
		if (g->gen == gen) {
			g->fifo_dev = st.st_dev;
			g->fifo_ino = st.st_ino;
		}
		unm_unlock();
	}
	fd_set_entry(fd, f);
	return fd;
}

/* The descriptor was closed here.  If nobody else holds it (dup, fork,
 * passed to another process), the registration goes away now; otherwise
 * the last holder's close, or the collector, releases it. */
static void netmap_release(struct unm_fd *f)
{
	unm_fd_detach(f);
	char path[512];
	unm_fifo_path(path, sizeof(path), f->reg, f->gen);
	int fd = unm_real_open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC, 0);
	if (fd >= 0) {
		if (flock(fd, LOCK_EX | LOCK_NB) == 0 && unm_lock() == 0) {
			struct unm_reg *g = &unm_registry()->regs[f->reg];
			if (g->gen == f->gen && g->state != UNM_REG_FREE)
				unm_reg_release_locked(f->reg);
			unm_unlock();
		}
		unm_real_close(fd);
	}
	pthread_mutex_destroy(&f->lock);
	free(f);
}

static bool is_netmap_path(const char *path)
{
	return path != NULL && strcmp(path, "/dev/netmap") == 0;
}

static mode_t open_mode(int flags, va_list ap)
{
	return (flags & (O_CREAT | __O_TMPFILE)) ? (mode_t)va_arg(ap, int) : 0;
}

int open(const char *path, int flags, ...)
{
	va_list ap;
	va_start(ap, flags);
	mode_t mode = open_mode(flags, ap);
	va_end(ap);
	if (is_netmap_path(path))
		return netmap_open(flags);
	return unm_real_open(path, flags, mode);
}

int open64(const char *path, int flags, ...)
{
	va_list ap;
	va_start(ap, flags);
	mode_t mode = open_mode(flags, ap);
	va_end(ap);
	if (is_netmap_path(path))
		return netmap_open(flags);
	return unm_real_open(path, flags | O_LARGEFILE, mode);
}

int openat(int dirfd, const char *path, int flags, ...)
{
	va_list ap;
	va_start(ap, flags);
	mode_t mode = open_mode(flags, ap);
	va_end(ap);
	if (is_netmap_path(path))
		return netmap_open(flags);
	if (LIBC(openat) != NULL)
		return unm_libc.openat(dirfd, path, flags, mode);
	return (int)syscall(SYS_openat, dirfd, path, flags, mode);
}

int openat64(int dirfd, const char *path, int flags, ...)
{
	va_list ap;
	va_start(ap, flags);
	mode_t mode = open_mode(flags, ap);
	va_end(ap);
	return openat(dirfd, path, flags | O_LARGEFILE, mode);
}

/* glibc's fortified variants (used by -D_FORTIFY_SOURCE builds) */
int __open_2(const char *path, int flags);
int __open_2(const char *path, int flags) { return open(path, flags); }
int __open64_2(const char *path, int flags);
int __open64_2(const char *path, int flags) { return open64(path, flags); }
int __openat_2(int dirfd, const char *path, int flags);
int __openat_2(int dirfd, const char *path, int flags) { return openat(dirfd, path, flags); }
int __openat64_2(int dirfd, const char *path, int flags);
int __openat64_2(int dirfd, const char *path, int flags) { return openat64(dirfd, path, flags); }

int close(int fd)
{
	struct unm_fd *f = unm_fd_lookup(fd);
	if (unm_likely(f == NULL))
		return unm_real_close(fd);
	struct unm_fd *last = fd_set_entry(fd, NULL);
	int ret = unm_real_close(fd);
	int e = errno;
	if (last != NULL)
		netmap_release(last);
	errno = e;
	return ret;
}

/* ---- ioctl ---------------------------------------------------------------- */

static int netmap_ioctl(struct unm_fd *f, unsigned long req, void *arg)
{
	int ret = 0;
	switch (req) {
	case NIOCCTRL:
		pthread_mutex_lock(&f->lock);
		ret = unm_ctl(f, arg);
		pthread_mutex_unlock(&f->lock);
		break;
	case NIOCTXSYNC:
		if (!f->bound)
			return errno = ENXIO, -1;
		for (uint32_t i = 0; i < f->ntx; i++)
			if (unm_txsync_ring(f, &f->tx[i]) == -2)
				ret = EIO;
		/* 0 also after a ring reset, as netmap; -2 is an I/O error
		 * (a monitor's TX ring, a monitor whose parent is gone) */
		return ret ? (errno = ret, -1) : 0;
	case NIOCRXSYNC:
		if (!f->bound)
			return errno = ENXIO, -1;
		for (uint32_t i = 0; i < f->nrx; i++)
			if (unm_rxsync_ring(f, &f->rx[i]) == -2)
				ret = EIO;
		return ret ? (errno = ret, -1) : 0;
	case NIOCREGIF:
	case NIOCGINFO:
		pthread_mutex_lock(&f->lock);
		ret = unm_legacy_ioctl(f, req, arg);
		pthread_mutex_unlock(&f->lock);
		break;
	case FIONBIO:
	case FIOASYNC:
		return 0;	/* accepted as netmap does (libpcap sets them) */
	default:
		ret = -EOPNOTSUPP;
		break;
	}
	if (ret < 0) {
		errno = -ret;
		return -1;
	}
	return 0;
}

int ioctl(int fd, unsigned long req, ...)
{
	va_list ap;
	va_start(ap, req);
	void *arg = va_arg(ap, void *);
	va_end(ap);
	struct unm_fd *f = unm_fd_lookup(fd);
	if (unm_likely(f == NULL)) {
		/* a netmap fd received by exec or SCM_RIGHTS and not seen yet */
		bool nioc = req == NIOCCTRL || req == NIOCTXSYNC || req == NIOCRXSYNC ||
			    req == NIOCREGIF || req == NIOCGINFO;
		if (!nioc || (f = unm_fd_adopt(fd)) == NULL)
			return unm_real_ioctl(fd, req, arg);
	}
	return netmap_ioctl(f, req, arg);
}

/* ---- mmap ------------------------------------------------------------------ */

static void *netmap_mmap(struct unm_fd *f, void *addr, size_t len, int prot, int flags,
			 off_t off)
{
	if (!f->bound || off < 0 || len == 0 || (uint64_t)off + len > f->memsize) {
		errno = EINVAL;
		return MAP_FAILED;
	}
	char path[512];
	unm_path(path, sizeof(path), "mem-%u-%u", f->map->mem_id, f->map->gen);
	int fd = unm_real_open(path, O_RDWR | O_CLOEXEC, 0);
	if (fd < 0)
		return MAP_FAILED;
	void *p = unm_real_mmap(addr, len, prot, flags, fd, off);
	int e = errno;
	unm_real_close(fd);
	errno = e;
	return p;
}

void *mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	struct unm_fd *f = fd >= 0 ? unm_fd_lookup(fd) : NULL;
	if (unm_likely(f == NULL)) {
		void *p = unm_real_mmap(addr, len, prot, flags, fd, off);
		/* a FIFO cannot be mapped: maybe a netmap fd not seen yet */
		if (p != MAP_FAILED || errno != ENODEV || (f = unm_fd_adopt(fd)) == NULL)
			return p;
	}
	return netmap_mmap(f, addr, len, prot, flags, off);
}

void *mmap64(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	return mmap(addr, len, prot, flags, fd, off);
}

/* ---- poll ------------------------------------------------------------------ */

/* One netmap descriptor, as netmap_poll() does it (reference §1.10):
 * implicit txsync unless NR_NO_TX_POLL, rxsync only for POLLIN, ready iff
 * cur != tail after the sync. */
static short netmap_poll_one(struct unm_fd *f, short events)
{
	if (!f->bound)
		return POLLERR;
	short want_tx = events & (POLLOUT | POLLWRNORM);
	short want_rx = events & (POLLIN | POLLRDNORM);
	short rev = 0;
	if (!f->no_tx_poll || want_tx) {
		for (uint32_t i = 0; i < f->ntx; i++) {
			struct unm_kref *k = &f->tx[i];
			if (!want_tx && UNM_READ_ONCE(k->ring->head) == k->kr->hwcur)
				continue;
			if (unm_txsync_ring(f, k) < 0)
				rev |= POLLERR;
			if (want_tx && UNM_READ_ONCE(k->ring->cur) != UNM_READ_ONCE(k->ring->tail)) {
				rev |= want_tx;
				want_tx = 0;
			}
		}
	}
	if (want_rx) {
		for (uint32_t i = 0; i < f->nrx; i++) {
			struct unm_kref *k = &f->rx[i];
			if (unm_rxsync_ring(f, k) < 0)
				rev |= POLLERR;
			if (UNM_READ_ONCE(k->ring->cur) != UNM_READ_ONCE(k->ring->tail))
				rev |= want_rx;
		}
	}
	return rev;
}

/* arm (or disarm) the wake-up of every ring that can satisfy `events`;
 * returns false if some ring has no waiter slot (then sleep briefly) */
static bool netmap_arm(struct unm_fd *f, short events, bool on)
{
	bool all = true;
	if (!f->bound)
		return true;
	if (f->ops->no_wakeup)	/* nobody notifies: a kernel fd, or short sleeps */
		return f->ops->wait_fd != NULL && f->ops->wait_fd(f, events) >= 0;
	if (events & (POLLOUT | POLLWRNORM)) {
		for (uint32_t i = 0; i < f->ntx; i++) {
			on ? unm_arm(&f->tx[i]) : unm_disarm(&f->tx[i]);
			all &= f->tx[i].waiter >= 0;
		}
	}
	if (events & (POLLIN | POLLRDNORM)) {
		for (uint32_t i = 0; i < f->nrx; i++) {
			on ? unm_arm(&f->rx[i]) : unm_disarm(&f->rx[i]);
			all &= f->rx[i].waiter >= 0;
		}
	}
	return all;
}

static void drain(int fd)
{
	char buf[256];
	while (read(fd, buf, sizeof(buf)) == (ssize_t)sizeof(buf))
		;
}

/* Could a scan find anything?  Reads shared indices only, no sync. */
static bool peek(struct pollfd *fds, nfds_t n, struct unm_fd **nm)
{
	for (nfds_t i = 0; i < n; i++) {
		struct unm_fd *f = nm[i];
		if (f == NULL || !f->bound)
			continue;
		if (fds[i].events & (POLLOUT | POLLWRNORM))
			for (uint32_t j = 0; j < f->ntx; j++)
				if (f->ops->ready(&f->tx[j]))
					return true;
		if (fds[i].events & (POLLIN | POLLRDNORM))
			for (uint32_t j = 0; j < f->nrx; j++)
				if (f->ops->ready(&f->rx[j]))
					return true;
	}
	return false;
}

/* Check every netmap entry; returns how many entries are ready. */
static int scan(struct pollfd *fds, nfds_t n, struct unm_fd **nm)
{
	int ready = 0;
	for (nfds_t i = 0; i < n; i++) {
		if (nm[i] == NULL)
			continue;
		fds[i].revents = netmap_poll_one(nm[i], fds[i].events);
		ready += fds[i].revents != 0;
	}
	return ready;
}

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ volatile("yield");
#endif
}

/* How long a wait on netmap fds alone (poll, select, epoll) busy-waits
 * before sleeping: UNETMAP_SPIN_US (default 50, 0 disables). */
int64_t unm_spin_ns(void)
{
	static int64_t cached = -1;
	int64_t v = __atomic_load_n(&cached, __ATOMIC_RELAXED);
	if (v < 0) {
		const char *e = getenv("UNETMAP_SPIN_US");
		long us = e != NULL ? strtol(e, NULL, 10) : 50;
		v = us < 0 ? 0 : (int64_t)us * 1000;
		__atomic_store_n(&cached, v, __ATOMIC_RELAXED);
	}
	return v;
}

/* timeout_ns < 0: forever */
int unm_poll_common(struct pollfd *fds, nfds_t n, int64_t timeout_ns, const sigset_t *ss,
		       bool use_ppoll)
{
	struct unm_fd *nm_small[16], **nm = nm_small;
	struct pollfd sh_small[16], *sh = sh_small;
	/* -1: forever; for a positive timeout, computed when we first wait */
	int64_t deadline = timeout_ns < 0 ? -1 : 0;
	int others = 0, ret = -1;

	if (n > 16) {
		nm = calloc(n, sizeof(*nm));
		sh = calloc(n, sizeof(*sh));
		if (nm == NULL || sh == NULL) {
			free(nm);
			free(sh);
			errno = ENOMEM;
			return -1;
		}
	}
	for (nfds_t i = 0; i < n; i++) {
		nm[i] = fds[i].fd >= 0 ? unm_fd_lookup(fds[i].fd) : NULL;
		others += nm[i] == NULL && fds[i].fd >= 0;
	}
	UNM_STAT_INC(unm_stat_polls);
	for (;;) {
		int ready = scan(fds, n, nm);
		if (ready == 0 && deadline == 0 && timeout_ns > 0)
			deadline = unm_now_ns() + timeout_ns;
		/* Before sleeping, spin a little: when the peer is running on
		 * another core, its next batch usually lands within a few
		 * microseconds, far sooner than a sleep/wake-up round trip.
		 * The clock is read every 16 probes only. */
		if (ready == 0 && timeout_ns != 0 && others == 0) {
			int64_t spin_end = unm_now_ns() + unm_spin_ns();
			for (unsigned it = 1; ready == 0; it++) {
				for (int k = 0; k < 4; k++)
					cpu_relax();
				if (peek(fds, n, nm))
					ready = scan(fds, n, nm);
				if (ready == 0 && (it % 16) == 0 && unm_now_ns() >= spin_end)
					break;
			}
		}
		bool sleep = ready == 0;
		bool short_sleep = false;
		if (sleep) {
			/* arm, then look again: a producer that published
			 * before seeing our bit is caught by this re-scan */
			for (nfds_t i = 0; i < n; i++)
				if (nm[i] != NULL)
					short_sleep |= !netmap_arm(nm[i], fds[i].events, true);
			ready = scan(fds, n, nm);
			sleep = ready == 0;
		}
		/* the real poll: other fds as given, netmap fds as their FIFO */
		int64_t wait_ns = 0;
		if (sleep) {
			wait_ns = deadline < 0 ? -1 : deadline - unm_now_ns();
			if (wait_ns < 0 && deadline >= 0)
				wait_ns = 0;
			if (short_sleep && (wait_ns < 0 || wait_ns > 1000000))
				wait_ns = 1000000;
		}
		int r = 0;
		if (sleep || others) {
			for (nfds_t i = 0; i < n; i++) {
				sh[i] = fds[i];
				sh[i].revents = 0;
				if (nm[i] != NULL) {
					sh[i].events = POLLIN;
					const struct unm_port_ops *o = nm[i]->bound ? nm[i]->ops : NULL;
					int wf = o != NULL && o->wait_fd != NULL ?
						 o->wait_fd(nm[i], fds[i].events) : -1;
					if (wf >= 0)
						sh[i].fd = wf;	/* the kernel's sockets */
					if (!sleep)
						sh[i].fd = -1;
				}
			}
			if (sleep)
				UNM_STAT_INC(unm_stat_sleeps);
			if (use_ppoll) {
				struct timespec ts = { wait_ns / 1000000000, wait_ns % 1000000000 };
				r = real_ppoll(sh, n, wait_ns < 0 ? NULL : &ts, ss);
			} else {
				int ms = wait_ns < 0 ? -1 : (int)((wait_ns + 999999) / 1000000);
				r = unm_real_poll(sh, n, ms);
			}
		}
		int e = errno;
		if (sleep) {
			for (nfds_t i = 0; i < n; i++) {
				if (nm[i] == NULL)
					continue;
				netmap_arm(nm[i], fds[i].events, false);
				if (sh[i].revents & POLLIN)
					drain(fds[i].fd);
			}
		}
		if (r < 0) {
			errno = e;
			ret = -1;
			break;
		}
		if (sleep)
			ready = scan(fds, n, nm);
		for (nfds_t i = 0; i < n; i++) {
			if (nm[i] == NULL && fds[i].fd >= 0) {
				fds[i].revents = sh[i].revents;
				ready += sh[i].revents != 0;
			} else if (nm[i] == NULL) {
				fds[i].revents = 0;
			}
		}
		if (ready > 0 || !sleep ||
		    (deadline >= 0 && unm_now_ns() >= deadline)) {
			ret = ready;
			break;
		}
	}
	if (nm != nm_small) {
		free(nm);
		free(sh);
	}
	return ret;
}

int poll(struct pollfd *fds, nfds_t n, int timeout)
{
	if (unm_likely(__atomic_load_n(&n_netmap_fds, __ATOMIC_RELAXED) == 0))
		return unm_real_poll(fds, n, timeout);
	return unm_poll_common(fds, n, timeout < 0 ? -1 : (int64_t)timeout * 1000000, NULL, false);
}

int ppoll(struct pollfd *fds, nfds_t n, const struct timespec *ts, const sigset_t *ss)
{
	if (unm_likely(__atomic_load_n(&n_netmap_fds, __ATOMIC_RELAXED) == 0))
		return real_ppoll(fds, n, ts, ss);
	int64_t t = ts == NULL ? -1 : (int64_t)ts->tv_sec * 1000000000 + ts->tv_nsec;
	return unm_poll_common(fds, n, t, ss, true);
}

int __poll_chk(struct pollfd *fds, nfds_t n, int timeout, size_t fdslen);
int __poll_chk(struct pollfd *fds, nfds_t n, int timeout, size_t fdslen)
{
	if (fdslen / sizeof(*fds) < n)
		__chk_fail();	/* what glibc's checker does on overflow */
	return poll(fds, n, timeout);
}

int __ppoll_chk(struct pollfd *fds, nfds_t n, const struct timespec *ts, const sigset_t *ss,
		size_t fdslen);
int __ppoll_chk(struct pollfd *fds, nfds_t n, const struct timespec *ts, const sigset_t *ss,
		size_t fdslen)
{
	if (fdslen / sizeof(*fds) < n)
		__chk_fail();
	return ppoll(fds, n, ts, ss);
}

/* ---- extensions -------------------------------------------------------------- */

const char *unetmap_dir(void)
{
	return unm_dir();
}

int unetmap_gc(void)
{
	int ret = unm_lock();
	if (ret < 0)
		return ret;
	uint32_t before = 0, after = 0;
	struct unm_registry *r = unm_registry();
	for (uint32_t i = 0; i < r->reg_hwm; i++)
		before += r->regs[i].state != UNM_REG_FREE;
	unm_gc_locked(true);
	for (uint32_t i = 0; i < r->reg_hwm; i++)
		after += r->regs[i].state != UNM_REG_FREE;
	unm_unlock();
	return (int)(before - after);
}

int unetmap_proc_stats(struct unetmap_proc_stats *st)
{
	st->polls = __atomic_load_n(&unm_stat_polls, __ATOMIC_RELAXED);
	st->sleeps = __atomic_load_n(&unm_stat_sleeps, __ATOMIC_RELAXED);
	st->wakeups = __atomic_load_n(&unm_stat_wakeups, __ATOMIC_RELAXED);
	return 0;
}

int unm_netmap_fd_count(void)
{
	return __atomic_load_n(&n_netmap_fds, __ATOMIC_RELAXED);
}
