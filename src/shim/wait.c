/*
 * wait.c - select, pselect and epoll with netmap descriptors in the sets.
 *
 * A netmap descriptor is a FIFO; its readiness is not the FIFO's but the
 * one netmap_poll() computes (reference §1.10): implicit txsync unless
 * NR_NO_TX_POLL, rxsync only when input is asked for, ready iff cur != tail,
 * an unbound descriptor is an error condition.  unm_poll_common() (shim.c)
 * implements that for a pollfd array; everything here is a translation to
 * and from it.  A call whose sets hold no netmap descriptor goes to libc.
 *
 * select / pselect
 *   The sets become a pollfd array (readfds POLLIN, writefds POLLOUT,
 *   exceptfds POLLPRI) and the answer is mapped back with the kernel's
 *   rules: a descriptor is readable on POLLIN|POLLRDNORM|POLLRDBAND|POLLHUP|
 *   POLLERR, writable on POLLOUT|POLLWRNORM|POLLWRBAND|POLLERR, exceptional
 *   on POLLPRI.  An unbound netmap descriptor (POLLERR) is therefore
 *   reported in readfds and/or writefds, whichever it is in, and never in
 *   exceptfds, exactly as Linux's select() reports netmap's POLLERR.  select
 *   writes the time left back into its timeval, as Linux does.  With a
 *   netmap descriptor open in the process, nfds > FD_SETSIZE is EINVAL
 *   (POSIX; the kernel would read larger sets).  A closed descriptor in a
 *   set gives EBADF and leaves the sets untouched.
 *
 * epoll
 *   Per epoll descriptor a process-local table (under ep_lock) records the
 *   netmap members with their events and data.  The netmap descriptor is
 *   also put in the real set, with EPOLLIN|EPOLLET and a recognisable data
 *   value (EP_TAG_HI in the upper half), so that a wake-up byte written into
 *   its FIFO makes the epoll descriptor readable; such raw events are never
 *   returned.  epoll_wait on a set with netmap members:
 *     1. evaluates the members with unm_poll_common(timeout 0): the netmap
 *        poll rules, no system call;
 *     2. if something is ready, or the timeout is 0, returns those events
 *        plus what a non-blocking real epoll_wait finds for the other fds.
 *        The real set is skipped when it is known to hold no other fd (it
 *        is consulted every 64th call anyway, in case fds were added behind
 *        our back, e.g. with a raw system call or by another process);
 *     3. otherwise, when the set holds only netmap fds, spins on them
 *        (UNETMAP_SPIN_US) and then sleeps through unm_poll_common() on
 *        [the epoll fd + the members' FIFOs], re-evaluates and collects.
 *   Semantics: level-triggered.  EPOLLET on a netmap member is accepted and
 *   treated as level-triggered (netmap readiness is a state, cur != tail,
 *   not an edge; a level report is always a valid superset).  EPOLLONESHOT
 *   is honoured: the member is disabled after one report until
 *   EPOLL_CTL_MOD.  EPOLLEXCLUSIVE follows the kernel's validation rules.
 *   EPOLLERR/EPOLLHUP are always reported.  When more events are ready than
 *   maxevents, members are served round-robin and netmap members alternate
 *   with the other fds.  Closing a netmap fd removes it (the kernel drops
 *   the FIFO; this table drops members whose fd is no longer the same
 *   netmap fd).  EPOLL_CTL_ADD/MOD of a netmap member wakes the threads
 *   blocked in epoll_wait on that set, also those that entered it while the
 *   set had no netmap member (they sleep in libc and are counted per epoll
 *   fd), so they pick the member up.
 *   Sets without netmap members: epoll_wait is libc's; once the process uses
 *   netmap, its answer is filtered (never one of our registrations) and the
 *   waiter counted, both without system calls.  epoll_ctl on a plain fd is
 *   libc's unless the set has netmap members (then it also counts them).
 *   Limits: the table is keyed by descriptor number (a dup of an epoll fd
 *   is a different, plain set; epoll_create/epoll_create1 forget stale
 *   entries); an epoll fd with netmap members that is itself polled, put in
 *   another epoll set or selected sees FIFO wake-ups only, not netmap
 *   readiness.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <sys/select.h>
#include <sys/syscall.h>
#include "core/unm.h"
#include "shim/libc.h"

/* ---- libc ---------------------------------------------------------------- */

#define KSIGSET_SIZE 8	/* the kernel's sigset_t, for the raw syscalls */

static int real_select(int n, fd_set *r, fd_set *w, fd_set *x, struct timeval *tv)
{
	if (LIBC(select) != NULL)
		return unm_libc.select(n, r, w, x, tv);
#ifdef SYS_select
	return (int)syscall(SYS_select, n, r, w, x, tv);
#else
	struct timespec ts, *tp = NULL;
	if (tv != NULL) {
		ts.tv_sec = tv->tv_sec;
		ts.tv_nsec = tv->tv_usec * 1000;
		tp = &ts;
	}
	int ret = (int)syscall(SYS_pselect6, n, r, w, x, tp, NULL);
	if (tv != NULL) {
		tv->tv_sec = ts.tv_sec;
		tv->tv_usec = ts.tv_nsec / 1000;
	}
	return ret;
#endif
}

static int real_pselect(int n, fd_set *r, fd_set *w, fd_set *x, const struct timespec *ts,
			const sigset_t *ss)
{
	if (LIBC(pselect) != NULL)
		return unm_libc.pselect(n, r, w, x, ts, ss);
	struct timespec copy, *tp = NULL;	/* the kernel writes the time left */
	if (ts != NULL) {
		copy = *ts;
		tp = &copy;
	}
	struct { const sigset_t *ss; size_t len; } data = { ss, KSIGSET_SIZE };
	return (int)syscall(SYS_pselect6, n, r, w, x, tp, ss != NULL ? &data : NULL);
}

static int real_epoll_create1(int flags)
{
	if (LIBC(epoll_create1) != NULL)
		return unm_libc.epoll_create1(flags);
	return (int)syscall(SYS_epoll_create1, flags);
}

static int real_epoll_create(int size)
{
	if (LIBC(epoll_create) != NULL)
		return unm_libc.epoll_create(size);
	if (size <= 0) {
		errno = EINVAL;
		return -1;
	}
	return real_epoll_create1(0);
}

static int real_epoll_ctl(int epfd, int op, int fd, struct epoll_event *ev)
{
	if (LIBC(epoll_ctl) != NULL)
		return unm_libc.epoll_ctl(epfd, op, fd, ev);
	return (int)syscall(SYS_epoll_ctl, epfd, op, fd, ev);
}

static int real_epoll_pwait(int epfd, struct epoll_event *ev, int n, int ms, const sigset_t *ss)
{
	if (ss == NULL && LIBC(epoll_wait) != NULL)
		return unm_libc.epoll_wait(epfd, ev, n, ms);
	if (LIBC(epoll_pwait) != NULL)
		return unm_libc.epoll_pwait(epfd, ev, n, ms, ss);
	return (int)syscall(SYS_epoll_pwait, epfd, ev, n, ms, ss, KSIGSET_SIZE);
}

static int real_epoll_pwait2(int epfd, struct epoll_event *ev, int n, const struct timespec *ts,
			     const sigset_t *ss)
{
	if (LIBC(epoll_pwait2) != NULL)
		return unm_libc.epoll_pwait2(epfd, ev, n, ts, ss);
#ifdef SYS_epoll_pwait2
	return (int)syscall(SYS_epoll_pwait2, epfd, ev, n, ts, ss, KSIGSET_SIZE);
#else
	errno = ENOSYS;
	return -1;
#endif
}

/* ---- time ----------------------------------------------------------------- */

#define NS_PER_S 1000000000LL
/* beyond this a timeout is "forever" (about 292 years in ns fits int64) */
#define MAX_TIMEOUT_S (INT64_MAX / NS_PER_S - 1)

/* timespec -> ns; -1 forever; -2 invalid (as the kernel's timespec64_valid) */
static int64_t ts_to_ns(const struct timespec *ts)
{
	if (ts == NULL)
		return -1;
	if (ts->tv_sec < 0 || ts->tv_nsec < 0 || ts->tv_nsec >= NS_PER_S)
		return -2;
	if (ts->tv_sec > MAX_TIMEOUT_S)
		return -1;
	return (int64_t)ts->tv_sec * NS_PER_S + ts->tv_nsec;
}

/* deadline: -1 forever, 0 immediate, else absolute CLOCK_MONOTONIC ns */
static int64_t deadline_of(int64_t timeout_ns)
{
	return timeout_ns <= 0 ? timeout_ns : unm_now_ns() + timeout_ns;
}

static int64_t time_left(int64_t deadline)
{
	if (deadline <= 0)
		return deadline;
	int64_t left = deadline - unm_now_ns();
	return left > 0 ? left : 0;
}

/* ns -> poll-style ms, rounded up */
static int ns_to_ms(int64_t ns)
{
	if (ns < 0)
		return -1;
	int64_t ms = (ns + 999999) / 1000000;
	return ms > INT_MAX ? INT_MAX : (int)ms;
}

/* ---- select / pselect -------------------------------------------------------- */

/* what select asks poll for, and which answers count, per set (fs/select.c) */
#define SEL_ASK_IN	(POLLIN | POLLRDNORM | POLLRDBAND)
#define SEL_ASK_OUT	(POLLOUT | POLLWRNORM | POLLWRBAND)
#define SEL_ASK_EX	(POLLPRI)
#define SEL_IN_SET	(POLLIN | POLLRDNORM | POLLRDBAND | POLLHUP | POLLERR)
#define SEL_OUT_SET	(POLLOUT | POLLWRNORM | POLLWRBAND | POLLERR)
#define SEL_EX_SET	(POLLPRI)

static inline __fd_mask sel_word(const fd_set *s, int i)
{
	return s != NULL ? __FDS_BITS(s)[i] : 0;
}

/* word i of the sets restricted to descriptors < nfds */
static inline __fd_mask sel_mask(int nfds, int i)
{
	int left = nfds - i * NFDBITS;
	return left >= NFDBITS ? (__fd_mask)~0UL : (__fd_mask)((1UL << left) - 1);
}

static bool sel_has_netmap(int nfds, fd_set *r, fd_set *w, fd_set *x)
{
	for (int i = 0; i * NFDBITS < nfds; i++) {
		unsigned long bits = (unsigned long)((sel_word(r, i) | sel_word(w, i) | sel_word(x, i)) &
						     sel_mask(nfds, i));
		while (bits != 0) {
			int fd = i * NFDBITS + __builtin_ctzl(bits);
			bits &= bits - 1;
			if (unm_fd_lookup(fd) != NULL)
				return true;
		}
	}
	return false;
}

/* The netmap path of select/pselect.  Returns the number of bits set, 0 on
 * timeout, -1 with errno.  *left_ns gets the time left (for select). */
static int sel_common(int nfds, fd_set *r, fd_set *w, fd_set *x, int64_t timeout_ns,
		      const sigset_t *ss, int64_t *left_ns)
{
	struct pollfd small[64], *pfd = small;
	int n = 0, words = (nfds + NFDBITS - 1) / NFDBITS;
	for (int i = 0; i < words; i++)
		n += __builtin_popcountl((unsigned long)((sel_word(r, i) | sel_word(w, i) |
							  sel_word(x, i)) & sel_mask(nfds, i)));
	if (n > (int)(sizeof(small) / sizeof(small[0]))) {
		pfd = malloc((size_t)n * sizeof(*pfd));
		if (pfd == NULL) {
			errno = ENOMEM;
			return -1;
		}
	}
	n = 0;
	for (int i = 0; i < words; i++) {
		__fd_mask m = sel_mask(nfds, i);
		unsigned long bits = (unsigned long)((sel_word(r, i) | sel_word(w, i) |
						      sel_word(x, i)) & m);
		while (bits != 0) {
			int b = __builtin_ctzl(bits);
			bits &= bits - 1;
			__fd_mask bit = (__fd_mask)(1UL << b);
			short ev = 0;
			if (sel_word(r, i) & bit)
				ev |= SEL_ASK_IN;
			if (sel_word(w, i) & bit)
				ev |= SEL_ASK_OUT;
			if (sel_word(x, i) & bit)
				ev |= SEL_ASK_EX;
			pfd[n++] = (struct pollfd){ .fd = i * NFDBITS + b, .events = ev };
		}
	}

	int64_t deadline = deadline_of(timeout_ns);
	int ret, count = 0;
	for (;;) {
		ret = unm_poll_common(pfd, (nfds_t)n, time_left(deadline), ss, true);
		if (ret <= 0)
			break;
		bool stuck = false;
		count = 0;
		for (int i = 0; i < n; i++) {
			short rev = pfd[i].revents, ev = pfd[i].events;
			if (rev & POLLNVAL) {
				ret = -1;
				errno = EBADF;
				break;
			}
			int c = ((ev & SEL_ASK_IN) && (rev & SEL_IN_SET)) +
				((ev & SEL_ASK_OUT) && (rev & SEL_OUT_SET)) +
				((ev & SEL_ASK_EX) && (rev & SEL_EX_SET));
			if (rev != 0 && c == 0) {
				/* only conditions select ignores (POLLHUP/POLLERR
				 * on an exceptfds-only fd): the kernel would keep
				 * sleeping, and so does this loop, without that fd */
				pfd[i].fd = ~pfd[i].fd;
				stuck = true;
			}
			count += c;
		}
		if (ret < 0 || count > 0 || !stuck || time_left(deadline) == 0)
			break;
	}
	int e = errno;
	*left_ns = time_left(deadline);
	if (ret >= 0) {
		/* the kernel rewrites whole words of the sets it looked at */
		for (int i = 0; i < words; i++) {
			if (r != NULL)
				__FDS_BITS(r)[i] = 0;
			if (w != NULL)
				__FDS_BITS(w)[i] = 0;
			if (x != NULL)
				__FDS_BITS(x)[i] = 0;
		}
		count = 0;
		for (int i = 0; ret > 0 && i < n; i++) {
			short rev = pfd[i].revents, ev = pfd[i].events;
			if (pfd[i].fd < 0 || rev == 0)
				continue;
			if ((ev & SEL_ASK_IN) && (rev & SEL_IN_SET)) {
				FD_SET(pfd[i].fd, r);
				count++;
			}
			if ((ev & SEL_ASK_OUT) && (rev & SEL_OUT_SET)) {
				FD_SET(pfd[i].fd, w);
				count++;
			}
			if ((ev & SEL_ASK_EX) && (rev & SEL_EX_SET)) {
				FD_SET(pfd[i].fd, x);
				count++;
			}
		}
		ret = count;
	}
	if (pfd != small)
		free(pfd);
	errno = e;
	return ret;
}

int select(int nfds, fd_set *r, fd_set *w, fd_set *x, struct timeval *tv)
{
	if (unm_likely(unm_netmap_fd_count() == 0) || nfds <= 0)
		return real_select(nfds, r, w, x, tv);
	if (nfds > FD_SETSIZE) {
		errno = EINVAL;
		return -1;
	}
	if (!sel_has_netmap(nfds, r, w, x))
		return real_select(nfds, r, w, x, tv);
	int64_t t = -1;
	if (tv != NULL) {
		/* the kernel normalises tv_usec >= 1 s, then validates */
		struct timespec ts = { tv->tv_sec + tv->tv_usec / 1000000,
				       (tv->tv_usec % 1000000) * 1000 };
		t = ts_to_ns(&ts);
		if (t == -2) {
			errno = EINVAL;
			return -1;
		}
	}
	int64_t left;
	int ret = sel_common(nfds, r, w, x, t, NULL, &left);
	if (tv != NULL && t != 0) {
		/* Linux writes the time not slept back (a zero timeout stays) */
		int e = errno;
		if (t > 0) {
			tv->tv_sec = left / NS_PER_S;
			tv->tv_usec = (left % NS_PER_S) / 1000;
		}
		errno = e;
	}
	return ret;
}

int pselect(int nfds, fd_set *r, fd_set *w, fd_set *x, const struct timespec *ts,
	    const sigset_t *ss)
{
	if (unm_likely(unm_netmap_fd_count() == 0) || nfds <= 0)
		return real_pselect(nfds, r, w, x, ts, ss);
	if (nfds > FD_SETSIZE) {
		errno = EINVAL;
		return -1;
	}
	if (!sel_has_netmap(nfds, r, w, x))
		return real_pselect(nfds, r, w, x, ts, ss);
	int64_t t = ts_to_ns(ts);
	if (t == -2) {
		errno = EINVAL;
		return -1;
	}
	int64_t left;
	return sel_common(nfds, r, w, x, t, ss, &left);
}

/* ---- epoll: the table of netmap members ------------------------------------- */

/* data.u64 of our own registration of a netmap FIFO in the real set: the
 * upper half is "unmE" (never a user-space pointer), the lower the fd */
#define EP_TAG_HI	0x756e6d45u
#define EP_MAX_EVENTS	((int)(INT_MAX / sizeof(struct epoll_event)))
#define EP_HINT_MAX	65536
/* bits the kernel accepts together with EPOLLEXCLUSIVE */
#define EP_EXCL_OK	(EPOLLIN | EPOLLOUT | EPOLLRDNORM | EPOLLRDBAND | EPOLLWRNORM | \
			 EPOLLWRBAND | EPOLLERR | EPOLLHUP | EPOLLWAKEUP | EPOLLET | \
			 EPOLLEXCLUSIVE)
/* every how many evaluations the real set is consulted although it is
 * believed to hold netmap fds only */
#define EP_RAW_PERIOD	64

struct ep_member {
	int fd;
	uint32_t events;	/* as the user gave them */
	epoll_data_t data;
	struct unm_fd *f;	/* which netmap fd this was (fd numbers are reused) */
	uint32_t reg, gen;
	uint64_t id;
	bool disabled;		/* EPOLLONESHOT reported, until EPOLL_CTL_MOD */
};

struct ep_set {
	int epfd;
	bool in_table;
	int waiters;		/* threads sleeping on this set (keep it alive) */
	int n, cap;
	struct ep_member *m;
	long plain;		/* other fds in the real set; -1 unknown */
	uint64_t version;	/* changes whenever m[] is reshuffled */
	uint32_t rr;		/* round-robin start among the members */
	uint32_t evals;
	bool flip;		/* netmap vs other fds when maxevents is short */
};

static pthread_mutex_t ep_lock = PTHREAD_MUTEX_INITIALIZER;
static struct ep_set **ep_sets;
static int ep_nsets, ep_capsets;
static unsigned char ep_hint[EP_HINT_MAX];	/* epfd has a set (lock-free check) */
static int ep_big;				/* sets with epfd >= EP_HINT_MAX */
static uint64_t ep_stamp;			/* ids and versions */
static bool ep_used;				/* a netmap fd was put in some set */
/* threads in a real epoll_wait on the epoll fd (sets without netmap members) */
static uint32_t ep_libc_w[EP_HINT_MAX];
static uint32_t ep_libc_big;

/* could this epoll fd have netmap members?  (no lock; false = plain libc) */
static inline bool ep_maybe(int epfd)
{
	if (unm_likely(unm_netmap_fd_count() == 0))
		return false;
	if ((unsigned)epfd < EP_HINT_MAX)
		return __atomic_load_n(&ep_hint[epfd], __ATOMIC_SEQ_CST) != 0;
	return epfd >= 0 && __atomic_load_n(&ep_big, __ATOMIC_SEQ_CST) > 0;
}

/* Must results of the real epoll_wait be filtered (our FIFO registrations)
 * and real waiters be counted (so that a new member can wake them)? */
static inline bool ep_active(void)
{
	return unm_netmap_fd_count() != 0 || __atomic_load_n(&ep_used, __ATOMIC_RELAXED);
}

static void ep_set_hint_locked(int epfd, bool on)
{
	if ((unsigned)epfd < EP_HINT_MAX)
		__atomic_store_n(&ep_hint[epfd], on ? 1 : 0, __ATOMIC_SEQ_CST);
	else
		__atomic_store_n(&ep_big, ep_big + (on ? 1 : -1), __ATOMIC_SEQ_CST);
}

/* Dekker with ep_maybe()/ep_set_hint_locked(): a real waiter counts itself,
 * then looks at the hint; epoll_ctl sets the hint, then looks at the count */
static void ep_libc_count(int epfd, int d)
{
	uint32_t *c = (unsigned)epfd < EP_HINT_MAX ? &ep_libc_w[epfd] : &ep_libc_big;
	__atomic_add_fetch(c, (uint32_t)d, __ATOMIC_SEQ_CST);
}

static bool ep_libc_waiting(int epfd)
{
	uint32_t *c = (unsigned)epfd < EP_HINT_MAX ? &ep_libc_w[epfd] : &ep_libc_big;
	return __atomic_load_n(c, __ATOMIC_SEQ_CST) != 0;
}

/* drop our own registrations' events from what the real set returned */
static int ep_filter(struct epoll_event *ev, int n)
{
	int k = 0;
	for (int i = 0; i < n; i++)
		if ((uint32_t)(ev[i].data.u64 >> 32) != EP_TAG_HI)
			ev[k++] = ev[i];
	return k;
}

static struct ep_set *ep_find_locked(int epfd)
{
	for (int i = 0; i < ep_nsets; i++)
		if (ep_sets[i]->epfd == epfd)
			return ep_sets[i];
	return NULL;
}

static void ep_free(struct ep_set *s)
{
	free(s->m);
	free(s);
}

/* take a set out of the table; it is freed when no thread sleeps on it */
static void ep_unlink_locked(struct ep_set *s)
{
	for (int i = 0; i < ep_nsets; i++) {
		if (ep_sets[i] == s) {
			ep_sets[i] = ep_sets[--ep_nsets];
			break;
		}
	}
	s->in_table = false;
	ep_set_hint_locked(s->epfd, false);
	if (s->waiters == 0)
		ep_free(s);
}

static void ep_put_waiter_locked(struct ep_set *s)
{
	if (--s->waiters == 0 && !s->in_table)
		ep_free(s);
}

/* How many fds that are not our netmap registrations the real set holds,
 * from /proc/self/fdinfo (once, when a set gets its first netmap member);
 * -1 when that cannot be read. */
static long ep_count_plain(int epfd)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", epfd);
	int fd = unm_real_open(path, O_RDONLY | O_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	size_t cap = 4096, len = 0;
	char *buf = malloc(cap + 1);
	long n = -1;
	while (buf != NULL) {
		if (len == cap) {
			char *nb = realloc(buf, cap * 2 + 1);
			if (nb == NULL)
				break;
			buf = nb;
			cap *= 2;
		}
		ssize_t r = read(fd, buf + len, cap - len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			break;
		if (r == 0) {
			buf[len] = '\0';
			n = 0;
			break;
		}
		len += (size_t)r;
	}
	unm_real_close(fd);
	for (char *line = buf; n >= 0 && line != NULL && *line != '\0';) {
		char *next = strchr(line, '\n');
		if (next != NULL)
			*next++ = '\0';
		int tfd;
		unsigned events;
		unsigned long long data;
		if (sscanf(line, "tfd: %d events: %x data: %llx", &tfd, &events, &data) == 3 &&
		    (uint32_t)(data >> 32) != EP_TAG_HI && unm_fd_lookup(tfd) == NULL)
			n++;
		line = next;
	}
	free(buf);
	return n;
}

static struct ep_set *ep_get_locked(int epfd)
{
	struct ep_set *s = ep_find_locked(epfd);
	if (s != NULL)
		return s;
	if (ep_nsets == ep_capsets) {
		int cap = ep_capsets ? ep_capsets * 2 : 8;
		struct ep_set **ns = realloc(ep_sets, (size_t)cap * sizeof(*ns));
		if (ns == NULL)
			return NULL;
		ep_sets = ns;
		ep_capsets = cap;
	}
	s = calloc(1, sizeof(*s));
	if (s == NULL)
		return NULL;
	s->epfd = epfd;
	s->in_table = true;
	s->plain = ep_count_plain(epfd);
	s->version = ++ep_stamp;
	ep_sets[ep_nsets++] = s;
	ep_set_hint_locked(epfd, true);
	return s;
}

static int ep_member_find_locked(struct ep_set *s, int fd)
{
	for (int i = 0; i < s->n; i++)
		if (s->m[i].fd == fd)
			return i;
	return -1;
}

static void ep_member_del_locked(struct ep_set *s, int i)
{
	s->m[i] = s->m[--s->n];
	s->version = ++ep_stamp;
}

/* is member m still the netmap fd it was when added? */
static bool ep_member_live(const struct ep_member *m)
{
	struct unm_fd *f = unm_fd_lookup(m->fd);
	return f != NULL && f == m->f && f->reg == m->reg && f->gen == m->gen;
}

/* drop members whose fd was closed; returns the set, or NULL if it is gone */
static struct ep_set *ep_prune_locked(struct ep_set *s)
{
	for (int i = 0; i < s->n;) {
		if (ep_member_live(&s->m[i]))
			i++;
		else
			ep_member_del_locked(s, i);
	}
	if (s->n == 0) {
		ep_unlink_locked(s);
		return NULL;
	}
	return s;
}

/* ---- epoll: event bits --------------------------------------------------------- */

static const struct { uint32_t ep; short po; } ep_bits[] = {
	{ EPOLLIN, POLLIN }, { EPOLLPRI, POLLPRI }, { EPOLLOUT, POLLOUT },
	{ EPOLLERR, POLLERR }, { EPOLLHUP, POLLHUP }, { EPOLLRDNORM, POLLRDNORM },
	{ EPOLLRDBAND, POLLRDBAND }, { EPOLLWRNORM, POLLWRNORM }, { EPOLLWRBAND, POLLWRBAND },
	{ EPOLLMSG, POLLMSG }, { EPOLLRDHUP, POLLRDHUP },
};

static short ep_to_poll(uint32_t ev)
{
	short p = 0;
	for (size_t i = 0; i < sizeof(ep_bits) / sizeof(ep_bits[0]); i++)
		if (ev & ep_bits[i].ep)
			p |= ep_bits[i].po;
	return p;
}

static uint32_t poll_to_ep(short p)
{
	uint32_t ev = 0;
	for (size_t i = 0; i < sizeof(ep_bits) / sizeof(ep_bits[0]); i++)
		if (p & ep_bits[i].po)
			ev |= ep_bits[i].ep;
	return ev;
}

/* ---- epoll_create / epoll_ctl ------------------------------------------------ */

/* a new epoll fd: whatever the table remembers about that number is stale */
static int ep_forget(int epfd)
{
	if (epfd >= 0 && ep_maybe(epfd)) {
		pthread_mutex_lock(&ep_lock);
		struct ep_set *s = ep_find_locked(epfd);
		if (s != NULL)
			ep_unlink_locked(s);
		pthread_mutex_unlock(&ep_lock);
	}
	return epfd;
}

int epoll_create(int size)
{
	return ep_forget(real_epoll_create(size));
}

int epoll_create1(int flags)
{
	return ep_forget(real_epoll_create1(flags));
}

/* a plain fd on a set that has netmap members: keep the count of other fds,
 * and forget a netmap member that had this (now reused) number */
static int ep_ctl_plain(int epfd, int op, int fd, struct epoll_event *event)
{
	int ret = real_epoll_ctl(epfd, op, fd, event);
	int e = errno;
	pthread_mutex_lock(&ep_lock);
	struct ep_set *s = ep_find_locked(epfd);
	if (s != NULL) {
		int i = ep_member_find_locked(s, fd);
		if (i >= 0 && !ep_member_live(&s->m[i]))
			ep_member_del_locked(s, i);
		if (ret == 0 && s->plain >= 0) {
			if (op == EPOLL_CTL_ADD)
				s->plain++;
			else if (op == EPOLL_CTL_DEL && s->plain > 0)
				s->plain--;
		}
		if (s->n == 0)
			ep_unlink_locked(s);
	}
	pthread_mutex_unlock(&ep_lock);
	errno = e;
	return ret;
}

/* make threads sleeping on the set look at its members again: a byte in
 * the member's FIFO makes the epoll fd readable (our raw registration) */
static void ep_kick(int fd)
{
	char b = 1;
	if (write(fd, &b, 1) < 0) {
		/* EAGAIN: the FIFO is full, the sleepers are awake anyway */
	}
}

static int ep_ctl_netmap(int epfd, int op, int fd, struct unm_fd *f, struct epoll_event *event)
{
	struct epoll_event uev = { 0 }, raw = { 0 };
	if (op != EPOLL_CTL_ADD && op != EPOLL_CTL_MOD && op != EPOLL_CTL_DEL)
		return real_epoll_ctl(epfd, op, fd, event);	/* EINVAL, as the kernel says */
	if (op != EPOLL_CTL_DEL) {
		if (!unm_user_ok(event, sizeof(*event))) {
			errno = EFAULT;
			return -1;
		}
		uev = *event;
		if ((uev.events & EPOLLEXCLUSIVE) &&
		    (op == EPOLL_CTL_MOD || (uev.events & ~(uint32_t)EP_EXCL_OK))) {
			errno = EINVAL;
			return -1;
		}
		raw.events = EPOLLIN | EPOLLET | (uev.events & EPOLLEXCLUSIVE);
		raw.data.u64 = (uint64_t)EP_TAG_HI << 32 | (uint32_t)fd;
	}
	pthread_mutex_lock(&ep_lock);
	int ret = real_epoll_ctl(epfd, op, fd, op == EPOLL_CTL_DEL ? event : &raw);
	int e = errno;
	struct ep_set *s = ep_find_locked(epfd);
	int i = s != NULL ? ep_member_find_locked(s, fd) : -1;
	if (s != NULL && i >= 0 && (op == EPOLL_CTL_DEL || !ep_member_live(&s->m[i]))) {
		/* deleted, or a member that had this number before a close */
		ep_member_del_locked(s, i);
		i = -1;
	}
	if (ret == 0 && op != EPOLL_CTL_DEL) {
		if (s == NULL)
			s = ep_get_locked(epfd);
		if (s != NULL && i < 0 && s->n == s->cap) {
			int cap = s->cap ? s->cap * 2 : 4;
			struct ep_member *nm = realloc(s->m, (size_t)cap * sizeof(*nm));
			if (nm != NULL) {
				s->m = nm;
				s->cap = cap;
			}
		}
		if (s == NULL || (i < 0 && s->n == s->cap)) {
			/* cannot track it: take it out again */
			if (op == EPOLL_CTL_ADD)
				real_epoll_ctl(epfd, EPOLL_CTL_DEL, fd, &raw);
			ret = -1;
			e = ENOMEM;
		} else {
			if (i < 0) {
				i = s->n++;
				s->m[i].id = ++ep_stamp;
				s->version = ++ep_stamp;
			}
			struct ep_member *m = &s->m[i];
			m->fd = fd;
			m->events = uev.events;
			m->data = uev.data;
			m->f = f;
			m->reg = f->reg;
			m->gen = f->gen;
			m->disabled = false;
			__atomic_store_n(&ep_used, true, __ATOMIC_RELAXED);
			if (s->waiters > 0 || ep_libc_waiting(epfd))
				ep_kick(fd);
		}
	}
	if (s != NULL && s->in_table && s->n == 0)
		ep_unlink_locked(s);
	pthread_mutex_unlock(&ep_lock);
	errno = e;
	return ret;
}

int epoll_ctl(int epfd, int op, int fd, struct epoll_event *event)
{
	struct unm_fd *f = fd >= 0 ? unm_fd_lookup(fd) : NULL;
	if (unm_likely(f == NULL)) {
		if (unm_likely(!ep_maybe(epfd)))
			return real_epoll_ctl(epfd, op, fd, event);
		return ep_ctl_plain(epfd, op, fd, event);
	}
	return ep_ctl_netmap(epfd, op, fd, f, event);
}

/* ---- epoll_wait -------------------------------------------------------------- */

#define EP_SMALL 16

/* the enabled members of a set, as one evaluation sees them */
struct ep_snap {
	struct pollfd *pfd;	/* [0] the epoll fd, [1 + i] member i */
	uint64_t *id;
	int *idx;		/* index in the set's m[] when taken */
	int n;
	uint64_t version;
	uint32_t rr;
	bool raw;		/* consult the real set even if it has no other fd */
	bool only_netmap;	/* the real set is believed to hold netmap fds only */
	bool flip;
	struct pollfd pfd_small[1 + EP_SMALL];
	uint64_t id_small[EP_SMALL];
	int idx_small[EP_SMALL];
};

static void ep_snap_free(struct ep_snap *sn)
{
	if (sn->pfd != sn->pfd_small) {
		free(sn->pfd);
		free(sn->id);
		free(sn->idx);
	}
}

static int ep_snap_take_locked(struct ep_set *s, struct ep_snap *sn)
{
	sn->pfd = sn->pfd_small;
	sn->id = sn->id_small;
	sn->idx = sn->idx_small;
	if (s->n > EP_SMALL) {
		sn->pfd = malloc((size_t)(s->n + 1) * sizeof(*sn->pfd));
		sn->id = malloc((size_t)s->n * sizeof(*sn->id));
		sn->idx = malloc((size_t)s->n * sizeof(*sn->idx));
		if (sn->pfd == NULL || sn->id == NULL || sn->idx == NULL) {
			free(sn->pfd);
			free(sn->id);
			free(sn->idx);
			sn->pfd = sn->pfd_small;
			return -1;
		}
	}
	sn->n = 0;
	for (int i = 0; i < s->n; i++) {
		const struct ep_member *m = &s->m[i];
		if (m->disabled)
			continue;
		sn->pfd[1 + sn->n] = (struct pollfd){ .fd = m->fd, .events = ep_to_poll(m->events) };
		sn->id[sn->n] = m->id;
		sn->idx[sn->n] = i;
		sn->n++;
	}
	sn->pfd[0] = (struct pollfd){ .fd = s->epfd, .events = POLLIN };
	sn->version = s->version;
	sn->rr = s->rr;
	sn->only_netmap = s->plain == 0;
	sn->raw = s->plain != 0 || ++s->evals % EP_RAW_PERIOD == 0;
	sn->flip = s->flip = !s->flip;
	return 0;
}

static struct ep_member *ep_snap_member_locked(struct ep_set *s, const struct ep_snap *sn, int i)
{
	if (s->version == sn->version)
		return &s->m[sn->idx[i]];
	for (int j = 0; j < s->n; j++)
		if (s->m[j].id == sn->id[i])
			return &s->m[j];
	return NULL;
}

/* Fill ev[] with the events of the other fds (a non-blocking real
 * epoll_wait, when `raw`) and of the netmap members (from the revents of
 * the last evaluation).  Returns the count, or -1 with errno. */
static int ep_collect(int epfd, struct epoll_event *ev, int maxev, struct ep_snap *sn, bool raw)
{
	int nm = 0;
	for (int i = 0; i < sn->n; i++) {
		uint32_t want = poll_to_ep(sn->pfd[1 + i].events) | EPOLLERR | EPOLLHUP;
		nm += (poll_to_ep(sn->pfd[1 + i].revents) & want) != 0;
	}
	int cap = 0, got = 0;
	if (raw)	/* share maxevents; when short, alternate who goes first */
		cap = nm < maxev ? maxev - nm : sn->flip ? (maxev + 1) / 2 : 0;
	if (cap > 0) {
		int r = real_epoll_pwait(epfd, ev, cap, 0, NULL);
		if (r < 0)
			return -1;
		got = ep_filter(ev, r);
	}
	if (nm == 0 || got >= maxev)
		return got;
	pthread_mutex_lock(&ep_lock);
	struct ep_set *s = ep_find_locked(epfd);
	if (s != NULL) {
		int last = -1;
		for (int j = 0; j < sn->n && got < maxev; j++) {
			int i = (int)((sn->rr + (uint32_t)j) % (uint32_t)sn->n);
			uint32_t rev = poll_to_ep(sn->pfd[1 + i].revents);
			if (rev == 0)
				continue;
			struct ep_member *m = ep_snap_member_locked(s, sn, i);
			if (m == NULL || m->disabled)
				continue;
			rev &= m->events | EPOLLERR | EPOLLHUP;
			if (rev == 0)
				continue;
			ev[got].events = rev;
			ev[got].data = m->data;
			got++;
			if (m->events & EPOLLONESHOT)
				m->disabled = true;
			last = i;
		}
		if (last >= 0)
			s->rr = (uint32_t)last + 1;
	}
	pthread_mutex_unlock(&ep_lock);
	return got;
}

#define EP_NOT_OURS (-2)

/* epoll_wait on a set that may have netmap members, until `deadline`
 * (see deadline_of()).  EP_NOT_OURS: the set has none (any more); nothing
 * was collected, the caller waits on the real set for the time left. */
static int ep_wait(int epfd, struct epoll_event *ev, int maxev, int64_t deadline,
		   const sigset_t *ss)
{
	if (maxev <= 0 || maxev > EP_MAX_EVENTS) {
		errno = EINVAL;
		return -1;
	}
	struct ep_snap sn;
	for (;;) {
		int64_t left = time_left(deadline);
		pthread_mutex_lock(&ep_lock);
		struct ep_set *s = ep_find_locked(epfd);
		if (s != NULL)
			s = ep_prune_locked(s);
		if (s == NULL) {
			pthread_mutex_unlock(&ep_lock);
			return EP_NOT_OURS;
		}
		int err = ep_snap_take_locked(s, &sn);
		pthread_mutex_unlock(&ep_lock);
		if (err < 0) {
			errno = ENOMEM;
			return -1;
		}

		/* 1. evaluate the members: the netmap poll rules, no syscall */
		int r = sn.n > 0 ? unm_poll_common(sn.pfd + 1, (nfds_t)sn.n, 0, NULL, false) : 0;
		if (r < 0) {
			ep_snap_free(&sn);
			return -1;
		}
		/* 2. something ready, or no waiting: collect */
		if (r > 0 || left == 0) {
			int got = ep_collect(epfd, ev, maxev, &sn, sn.raw);
			if (got != 0 || left == 0) {
				ep_snap_free(&sn);
				return got;
			}
		}
		/* 3. wait */
		pthread_mutex_lock(&ep_lock);
		s = ep_find_locked(epfd);
		if (s != NULL)
			s->waiters++;
		pthread_mutex_unlock(&ep_lock);
		if (s == NULL) {
			ep_snap_free(&sn);
			continue;
		}
		r = 0;
		if (sn.only_netmap && sn.n > 0 && unm_spin_ns() > 0) {
			/* spin on the netmap fds, as poll() does when they are
			 * all it waits for; then sleep with the epoll fd too */
			int64_t t = left < 0 || left > unm_spin_ns() ? unm_spin_ns() : left;
			r = unm_poll_common(sn.pfd + 1, (nfds_t)sn.n, t, ss, true);
			left = time_left(deadline);
		}
		if (r == 0)
			r = unm_poll_common(sn.pfd, (nfds_t)sn.n + 1, left, ss, true);
		int e = errno;
		pthread_mutex_lock(&ep_lock);
		ep_put_waiter_locked(s);
		pthread_mutex_unlock(&ep_lock);
		if (r < 0) {
			ep_snap_free(&sn);
			errno = e;
			return -1;
		}
		int got = 0;
		if (r > 0)
			got = ep_collect(epfd, ev, maxev, &sn, sn.pfd[0].revents != 0 || sn.raw);
		ep_snap_free(&sn);
		if (got != 0)
			return got;
		if (deadline >= 0 && time_left(deadline) == 0)
			return 0;
	}
}

/* The common body of the epoll_wait family once the process uses netmap:
 * the netmap path while the set has netmap members, else the real set,
 * whose answer never includes our own FIFO registrations.  A real wait
 * that ends with only those (a member was added meanwhile: epoll_ctl
 * kicked it) goes on in the netmap path. */
static int ep_entry(int epfd, struct epoll_event *ev, int maxev, int64_t timeout_ns,
		    const sigset_t *ss, bool ns_timeout)
{
	int64_t deadline = deadline_of(timeout_ns);
	for (;;) {
		if (ep_maybe(epfd)) {
			int r = ep_wait(epfd, ev, maxev, deadline, ss);
			if (r != EP_NOT_OURS)
				return r;
		}
		int64_t left = time_left(deadline);
		ep_libc_count(epfd, 1);
		if (ep_maybe(epfd)) {
			ep_libc_count(epfd, -1);
			continue;
		}
		int n;
		if (ns_timeout) {
			struct timespec ts = { left / NS_PER_S, left % NS_PER_S };
			n = real_epoll_pwait2(epfd, ev, maxev, left < 0 ? NULL : &ts, ss);
		} else {
			n = real_epoll_pwait(epfd, ev, maxev, ns_to_ms(left), ss);
		}
		int e = errno;
		ep_libc_count(epfd, -1);
		errno = e;
		if (n <= 0)
			return n;
		n = ep_filter(ev, n);
		if (n > 0 || time_left(deadline) == 0)
			return n;
	}
}

int epoll_wait(int epfd, struct epoll_event *ev, int maxev, int timeout)
{
	if (unm_likely(!ep_active()))
		return real_epoll_pwait(epfd, ev, maxev, timeout, NULL);
	return ep_entry(epfd, ev, maxev, timeout < 0 ? -1 : (int64_t)timeout * 1000000, NULL,
			false);
}

int epoll_pwait(int epfd, struct epoll_event *ev, int maxev, int timeout, const sigset_t *ss)
{
	if (unm_likely(!ep_active()))
		return real_epoll_pwait(epfd, ev, maxev, timeout, ss);
	return ep_entry(epfd, ev, maxev, timeout < 0 ? -1 : (int64_t)timeout * 1000000, ss,
			false);
}

int epoll_pwait2(int epfd, struct epoll_event *ev, int maxev, const struct timespec *ts,
		 const sigset_t *ss)
{
	if (unm_likely(!ep_active()))
		return real_epoll_pwait2(epfd, ev, maxev, ts, ss);
	int64_t t = ts_to_ns(ts);
	if (t == -2) {
		errno = EINVAL;
		return -1;
	}
	return ep_entry(epfd, ev, maxev, t, ss, true);
}
