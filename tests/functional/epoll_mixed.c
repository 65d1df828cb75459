/* Description: epoll with netmap and plain fds: EPOLL_CTL_ADD/MOD/DEL and their errors, data.u64 round trip, level-triggered netmap readiness, wake-ups of a blocked epoll_wait by a child's frame, a plain fd and an EPOLL_CTL_ADD from another thread, timeouts (epoll_wait/epoll_pwait/epoll_pwait2), EPOLLONESHOT, EPOLLET (level), maxevents below the ready count, implicit txsync vs NR_NO_TX_POLL, EPOLLOUT, an unbound fd (EPOLLERR), closing a member, no raw FIFO events. */
#include <fcntl.h>
#include <pthread.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <libnetmap.h>
#include <unetmap.h>
#include "testlib.h"
#include "nmtest.h"

#define D_RX	0x1111222233334444ULL	/* data of the netmap receiver */
#define D_PL	0xaaaaULL		/* data of the plain socket */
#define D_RX2	0x2ULL			/* data of a second netmap receiver */

static int ep_add(int ep, int op, int fd, uint32_t events, uint64_t data)
{
	struct epoll_event e = { .events = events, .data.u64 = data };
	return epoll_ctl(ep, op, fd, &e);
}

/* index of the event carrying `data` in ev[0..n), -1 if none */
static int find(const struct epoll_event *ev, int n, uint64_t data)
{
	for (int i = 0; i < n; i++)
		if (ev[i].data.u64 == data)
			return i;
	return -1;
}

/* every event returned must carry data we registered */
static void check_known(const char *what, const struct epoll_event *ev, int n)
{
	for (int i = 0; i < n; i++)
		CHECK(ev[i].data.u64 == D_RX || ev[i].data.u64 == D_PL || ev[i].data.u64 == D_RX2 ||
		      ev[i].data.u64 == 0x55 || ev[i].data.u64 == 0x77 || ev[i].data.u64 == 0x99,
		      "%s: event with unknown data %#llx (events %#x)", what,
		      (unsigned long long)ev[i].data.u64, ev[i].events);
}

/* the three waits, selected by `kind`, with the timeout in ms (-1 none) */
static int kind;
static const char *kind_name[] = { "epoll_wait", "epoll_pwait", "epoll_pwait2" };

static int ep_wait(int ep, struct epoll_event *ev, int max, int ms)
{
	sigset_t ss;
	sigemptyset(&ss);
	sigaddset(&ss, SIGUSR2);
	if (kind == 1)
		return epoll_pwait(ep, ev, max, ms, &ss);
	if (kind == 2) {
		struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
		return epoll_pwait2(ep, ev, max, ms < 0 ? NULL : &ts, &ss);
	}
	return epoll_wait(ep, ev, max, ms);
}

static void run(struct nmport_d *tx, struct nmport_d *rx, int sv[2])
{
	const char *name = kind_name[kind];
	struct epoll_event ev[8];
	int n;
	int64_t t0, dt;
	int ep = epoll_create1(EPOLL_CLOEXEC);
	REQUIRE(ep >= 0, "epoll_create1: %s", strerror(errno));

	CHECK(ep_add(ep, EPOLL_CTL_ADD, rx->fd, EPOLLIN, D_RX) == 0, "add netmap: %s",
	      strerror(errno));
	CHECK(ep_add(ep, EPOLL_CTL_ADD, sv[0], EPOLLIN, D_PL) == 0, "add plain: %s",
	      strerror(errno));

	/* idle */
	n = ep_wait(ep, ev, 8, 0);
	CHECK(n == 0, "%s idle: %d", name, n);

	/* the plain fd only */
	CHECK(write(sv[1], "a", 1) == 1, "write");
	t0 = unm_test_now_ms();
	n = ep_wait(ep, ev, 8, 2000);
	dt = unm_test_now_ms() - t0;
	CHECK(n == 1 && ev[0].data.u64 == D_PL && ev[0].events == EPOLLIN, "%s plain: %d", name, n);
	CHECK(dt < 500, "%s plain took %lld ms", name, (long long)dt);
	t_empty_socket(sv[0]);

	/* the netmap fd only, level-triggered while not consumed */
	t_send_frame(tx);
	for (int i = 0; i < 3; i++) {
		t0 = unm_test_now_ms();
		n = ep_wait(ep, ev, 8, 2000);
		dt = unm_test_now_ms() - t0;
		CHECK(n == 1 && ev[0].data.u64 == D_RX && ev[0].events == EPOLLIN,
		      "%s netmap (round %d): %d %#llx %#x", name, i, n,
		      (unsigned long long)ev[0].data.u64, ev[0].events);
		CHECK(dt < 500, "%s netmap took %lld ms", name, (long long)dt);
	}
	CHECK(t_consume(rx) == 1, "%s: one frame", name);
	n = ep_wait(ep, ev, 8, 0);
	CHECK(n == 0, "%s after consuming: %d", name, n);

	/* both */
	t_send_frame(tx);
	CHECK(write(sv[1], "b", 1) == 1, "write");
	n = ep_wait(ep, ev, 8, 2000);
	CHECK(n == 2 && find(ev, n, D_RX) >= 0 && find(ev, n, D_PL) >= 0, "%s both: %d", name, n);
	check_known(name, ev, n > 0 ? n : 0);
	CHECK(t_consume(rx) == 1, "%s: one frame (both)", name);
	t_empty_socket(sv[0]);

	/* timeout */
	t0 = unm_test_now_ms();
	n = ep_wait(ep, ev, 8, 300);
	dt = unm_test_now_ms() - t0;
	CHECK(n == 0, "%s timeout: %d", name, n);
	CHECK(dt >= 250 && dt < 2000, "%s: 300 ms timeout took %lld ms", name, (long long)dt);

	/* a byte in the netmap fd's FIFO (what a wake-up writes) is not an event */
	CHECK(write(rx->fd, "w", 1) == 1, "write into the FIFO: %s", strerror(errno));
	t0 = unm_test_now_ms();
	n = ep_wait(ep, ev, 8, 200);
	dt = unm_test_now_ms() - t0;
	CHECK(n == 0, "%s: raw FIFO readability reported: %d %#llx", name, n,
	      (unsigned long long)ev[0].data.u64);
	CHECK(dt >= 150, "%s: stray FIFO byte ended the wait after %lld ms", name, (long long)dt);

	/* a child writes on the plain fd */
	pid_t pid = fork();
	REQUIRE(pid >= 0, "fork");
	if (pid == 0) {
		usleep(150000);
		_exit(write(sv[1], "c", 1) == 1 ? 0 : 1);
	}
	t0 = unm_test_now_ms();
	n = ep_wait(ep, ev, 8, 5000);
	dt = unm_test_now_ms() - t0;
	CHECK(n == 1 && ev[0].data.u64 == D_PL, "%s child write: %d", name, n);
	CHECK(dt >= 50 && dt < 3000, "%s child write woke after %lld ms", name, (long long)dt);
	waitpid(pid, NULL, 0);
	t_empty_socket(sv[0]);

	/* a child sends a frame: with a timeout, then without */
	for (int forever = 0; forever < 2; forever++) {
		pid = fork();
		REQUIRE(pid >= 0, "fork");
		if (pid == 0) {
			usleep(150000);
			t_queue_frame(tx);
			_exit(ioctl(tx->fd, NIOCTXSYNC, NULL) == 0 ? 0 : 1);
		}
		t0 = unm_test_now_ms();
		n = ep_wait(ep, ev, 8, forever ? -1 : 5000);
		dt = unm_test_now_ms() - t0;
		CHECK(n == 1 && ev[0].data.u64 == D_RX && ev[0].events == EPOLLIN,
		      "%s child frame (%s): %d", name, forever ? "no timeout" : "5 s", n);
		CHECK(dt >= 50 && dt < 3000, "%s child frame woke after %lld ms", name,
		      (long long)dt);
		int st = -1;
		waitpid(pid, &st, 0);
		CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "child txsync failed");
		t_frame_no++;
		CHECK(t_consume(rx) == 1, "%s: child frame", name);
	}

	/* EPOLLONESHOT: one report, then silence until EPOLL_CTL_MOD */
	CHECK(ep_add(ep, EPOLL_CTL_MOD, rx->fd, EPOLLIN | EPOLLONESHOT, 0x55) == 0, "mod: %s",
	      strerror(errno));
	t_send_frame(tx);
	n = ep_wait(ep, ev, 8, 2000);
	CHECK(n == 1 && ev[0].data.u64 == 0x55 && ev[0].events == EPOLLIN, "%s oneshot: %d", name,
	      n);
	n = ep_wait(ep, ev, 8, 200);
	CHECK(n == 0, "%s oneshot reported twice: %d", name, n);
	CHECK(ep_add(ep, EPOLL_CTL_MOD, rx->fd, EPOLLIN | EPOLLONESHOT, 0x77) == 0, "re-arm: %s",
	      strerror(errno));
	n = ep_wait(ep, ev, 8, 0);
	CHECK(n == 1 && ev[0].data.u64 == 0x77, "%s oneshot re-armed: %d", name, n);
	n = ep_wait(ep, ev, 8, 0);
	CHECK(n == 0, "%s oneshot re-armed, reported twice: %d", name, n);

	/* EPOLLET is accepted and behaves as level-triggered on netmap fds */
	CHECK(ep_add(ep, EPOLL_CTL_MOD, rx->fd, EPOLLIN | EPOLLET, 0x99) == 0, "mod ET: %s",
	      strerror(errno));
	for (int i = 0; i < 2; i++) {
		n = ep_wait(ep, ev, 8, 0);
		CHECK(n == 1 && ev[0].data.u64 == 0x99 && ev[0].events == EPOLLIN,
		      "%s EPOLLET round %d: %d", name, i, n);
	}

	/* EPOLL_CTL_DEL: a ready netmap fd is no longer reported */
	CHECK(epoll_ctl(ep, EPOLL_CTL_DEL, rx->fd, NULL) == 0, "del: %s", strerror(errno));
	n = ep_wait(ep, ev, 8, 100);
	CHECK(n == 0, "%s after del: %d %#llx", name, n, (unsigned long long)ev[0].data.u64);
	CHECK(t_consume(rx) == 1, "%s: one frame (oneshot)", name);
	CHECK(ioctl(rx->fd, NIOCRXSYNC, NULL) == 0, "rxsync");
	close(ep);
}

/* maxevents smaller than the number of ready fds */
static void short_array(struct nmport_d *tx, struct nmport_d *rx, struct nmport_d *tx2,
			struct nmport_d *rx2, int sv[2])
{
	int ep = epoll_create(4);
	REQUIRE(ep >= 0, "epoll_create: %s", strerror(errno));
	CHECK(ep_add(ep, EPOLL_CTL_ADD, rx->fd, EPOLLIN, D_RX) == 0, "add");
	CHECK(ep_add(ep, EPOLL_CTL_ADD, rx2->fd, EPOLLIN, D_RX2) == 0, "add");
	CHECK(ep_add(ep, EPOLL_CTL_ADD, sv[0], EPOLLIN, D_PL) == 0, "add");
	t_send_frame(tx);
	t_send_frame(tx2);
	CHECK(write(sv[1], "d", 1) == 1, "write");
	struct epoll_event ev[4];
	int seen_rx = 0, seen_rx2 = 0, seen_pl = 0;
	for (int i = 0; i < 12; i++) {
		int n = epoll_wait(ep, ev, 1, 1000);
		CHECK(n == 1, "maxevents 1, call %d: %d", i, n);
		check_known("maxevents 1", ev, n == 1 ? 1 : 0);
		if (n == 1) {
			seen_rx += ev[0].data.u64 == D_RX;
			seen_rx2 += ev[0].data.u64 == D_RX2;
			seen_pl += ev[0].data.u64 == D_PL;
		}
	}
	CHECK(seen_rx > 0 && seen_rx2 > 0 && seen_pl > 0,
	      "maxevents 1 starves someone: rx %d rx2 %d plain %d", seen_rx, seen_rx2, seen_pl);
	for (int i = 0; i < 4; i++) {
		int n = epoll_wait(ep, ev, 2, 1000);
		CHECK(n == 2 && ev[0].data.u64 != ev[1].data.u64, "maxevents 2: %d", n);
	}
	int n = epoll_wait(ep, ev, 4, 1000);
	CHECK(n == 3, "maxevents 4 with 3 ready: %d", n);
	volatile int bad_max = 0;	/* volatile: glibc's headers reject constants */
	CHECK_ERRNO(epoll_wait(ep, ev, bad_max, 0), EINVAL);
	bad_max = -1;
	CHECK_ERRNO(epoll_wait(ep, ev, bad_max, 0), EINVAL);
	t_consume(rx);
	t_consume(rx2);
	t_empty_socket(sv[0]);
	CHECK(ioctl(rx->fd, NIOCRXSYNC, NULL) == 0 && ioctl(rx2->fd, NIOCRXSYNC, NULL) == 0,
	      "rxsync");
	close(ep);
}

struct adder { int ep; int fd; uint64_t data; };

static void *add_later(void *arg)
{
	struct adder *a = arg;
	usleep(150000);
	if (ep_add(a->ep, EPOLL_CTL_ADD, a->fd, EPOLLIN, a->data) != 0)
		fprintf(stderr, "late add: %s\n", strerror(errno));
	return NULL;
}

int main(void)
{
	t_setup(120);
	struct nmport_d *tx = nmport_open("netmap:ep{1");
	REQUIRE(tx != NULL, "open ep{1: %s", strerror(errno));
	struct nmport_d *rx = nmport_open("netmap:ep}1");
	REQUIRE(rx != NULL, "open ep}1: %s", strerror(errno));
	struct nmport_d *tx2 = nmport_open("netmap:eq{1");
	struct nmport_d *rx2 = nmport_open("netmap:eq}1");
	REQUIRE(tx2 != NULL && rx2 != NULL, "open eq: %s", strerror(errno));
	int sv[2];
	REQUIRE(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0, "socketpair");

	for (kind = 0; kind < 3; kind++)
		run(tx, rx, sv);
	short_array(tx, rx, tx2, rx2, sv);

	/* ---- epoll_ctl errors on netmap fds ---- */
	int ep = epoll_create1(0);
	REQUIRE(ep >= 0, "epoll_create1");
	struct epoll_event e = { .events = EPOLLIN, .data.u64 = D_RX };
	CHECK(epoll_ctl(ep, EPOLL_CTL_ADD, rx->fd, &e) == 0, "add");
	CHECK_ERRNO(epoll_ctl(ep, EPOLL_CTL_ADD, rx->fd, &e), EEXIST);
	CHECK_ERRNO(epoll_ctl(ep, EPOLL_CTL_MOD, tx->fd, &e), ENOENT);
	CHECK_ERRNO(epoll_ctl(ep, EPOLL_CTL_DEL, tx->fd, NULL), ENOENT);
	CHECK_ERRNO(epoll_ctl(ep, EPOLL_CTL_ADD, tx->fd, NULL), EFAULT);
	CHECK_ERRNO(epoll_ctl(ep, 99, tx->fd, &e), EINVAL);
	CHECK_ERRNO(epoll_ctl(ep, EPOLL_CTL_ADD, tx->fd,
			      &(struct epoll_event){ .events = EPOLLIN | EPOLLEXCLUSIVE | EPOLLONESHOT }),
		    EINVAL);
	CHECK_ERRNO(epoll_ctl(ep, EPOLL_CTL_MOD, rx->fd,
			      &(struct epoll_event){ .events = EPOLLIN | EPOLLEXCLUSIVE }),
		    EINVAL);
	CHECK_ERRNO(epoll_ctl(sv[0], EPOLL_CTL_ADD, tx->fd, &e), EINVAL);	/* not an epoll fd */
	CHECK_ERRNO(epoll_ctl(-1, EPOLL_CTL_ADD, tx->fd, &e), EBADF);
	CHECK_ERRNO(epoll_ctl(ep, EPOLL_CTL_ADD, 100000, &e), EBADF);
	/* EPOLLEXCLUSIVE on ADD is fine, and forbids MOD afterwards (kernel rule) */
	CHECK(epoll_ctl(ep, EPOLL_CTL_ADD, rx2->fd,
			&(struct epoll_event){ .events = EPOLLIN | EPOLLEXCLUSIVE, .data.u64 = D_RX2 }) == 0,
	      "add exclusive: %s", strerror(errno));
	CHECK_ERRNO(epoll_ctl(ep, EPOLL_CTL_MOD, rx2->fd, &e), EINVAL);
	t_send_frame(tx2);
	struct epoll_event ev[8];
	int n = epoll_wait(ep, ev, 8, 1000);
	CHECK(n == 1 && ev[0].data.u64 == D_RX2, "exclusive member: %d", n);
	t_consume(rx2);
	CHECK(ioctl(rx2->fd, NIOCRXSYNC, NULL) == 0, "rxsync");
	CHECK(epoll_ctl(ep, EPOLL_CTL_DEL, rx2->fd, NULL) == 0, "del exclusive");

	/* ---- EPOLLOUT on a sender with room; EPOLLIN on it stays quiet ---- */
	CHECK(ep_add(ep, EPOLL_CTL_ADD, tx->fd, EPOLLIN | EPOLLOUT, 0x55) == 0, "add sender");
	int64_t t0 = unm_test_now_ms();
	n = epoll_wait(ep, ev, 8, 2000);
	int64_t dt = unm_test_now_ms() - t0;
	CHECK(n == 1 && ev[0].data.u64 == 0x55 && ev[0].events == EPOLLOUT, "EPOLLOUT: %d %#x", n,
	      ev[0].events);
	CHECK(dt < 100, "EPOLLOUT took %lld ms", (long long)dt);
	CHECK(epoll_ctl(ep, EPOLL_CTL_DEL, tx->fd, NULL) == 0, "del sender");

	/* ---- an unbound netmap fd: EPOLLERR, although not asked for ---- */
	int u = open("/dev/netmap", O_RDWR);
	REQUIRE(u >= 0, "open /dev/netmap");
	CHECK(ep_add(ep, EPOLL_CTL_ADD, u, EPOLLIN, 0x77) == 0, "add unbound: %s", strerror(errno));
	t0 = unm_test_now_ms();
	n = epoll_wait(ep, ev, 8, 2000);
	dt = unm_test_now_ms() - t0;
	CHECK(n == 1 && ev[0].data.u64 == 0x77 && (ev[0].events & EPOLLERR) &&
	      !(ev[0].events & EPOLLIN), "unbound: %d %#x", n, ev[0].events);
	CHECK(dt < 500, "unbound took %lld ms", (long long)dt);

	/* ---- closing a member removes it; its number can be added again ---- */
	close(u);
	n = epoll_wait(ep, ev, 8, 100);
	CHECK(n == 0, "closed member still reported: %d %#llx", n,
	      (unsigned long long)ev[0].data.u64);
	int u2 = open("/dev/netmap", O_RDWR);
	REQUIRE(u2 >= 0, "open /dev/netmap");
	CHECK(u2 == u, "fd number not reused (%d, %d): the rest of this check is moot", u2, u);
	/* a new (unbound, so EPOLLERR-ready) netmap fd on that number is not a member */
	n = epoll_wait(ep, ev, 8, 100);
	CHECK(n == 0, "new netmap fd on a closed member's number reported: %d %#llx", n,
	      (unsigned long long)ev[0].data.u64);
	CHECK(ep_add(ep, EPOLL_CTL_ADD, u2, EPOLLIN, 0x99) == 0, "add reused number: %s",
	      strerror(errno));
	n = epoll_wait(ep, ev, 8, 1000);
	CHECK(n == 1 && ev[0].data.u64 == 0x99, "reused number: %d %#llx", n,
	      (unsigned long long)ev[0].data.u64);
	close(u2);
	/* the number reused by a plain fd */
	int p = dup(sv[0]);
	CHECK(p == u, "plain fd did not take the number");
	CHECK(ep_add(ep, EPOLL_CTL_ADD, p, EPOLLOUT, 0x99) == 0, "add plain on the number: %s",
	      strerror(errno));
	n = epoll_wait(ep, ev, 8, 1000);
	CHECK(n == 1 && ev[0].data.u64 == 0x99 && ev[0].events == EPOLLOUT, "plain on the number: %d",
	      n);
	CHECK(epoll_ctl(ep, EPOLL_CTL_DEL, p, NULL) == 0, "del plain");
	close(p);

	/* ---- a blocked epoll_wait picks up a member added by another thread ---- */
	t_send_frame(tx2);	/* rx2 has a frame but is not in the set */
	struct adder ad = { ep, rx2->fd, D_RX2 };
	pthread_t th;
	REQUIRE(pthread_create(&th, NULL, add_later, &ad) == 0, "pthread_create");
	t0 = unm_test_now_ms();
	n = epoll_wait(ep, ev, 8, 5000);
	dt = unm_test_now_ms() - t0;
	pthread_join(th, NULL);
	CHECK(n == 1 && ev[0].data.u64 == D_RX2, "late add: %d %#llx", n,
	      (unsigned long long)ev[0].data.u64);
	CHECK(dt >= 50 && dt < 3000, "late add woke after %lld ms", (long long)dt);
	t_consume(rx2);
	CHECK(ioctl(rx2->fd, NIOCRXSYNC, NULL) == 0, "rxsync");

	/* ---- the same when the set had no netmap member yet (the waiter
	 * sleeps in libc): the answer is the member, never our registration */
	int ep2 = epoll_create1(0);
	REQUIRE(ep2 >= 0, "epoll_create1");
	CHECK(ep_add(ep2, EPOLL_CTL_ADD, sv[0], EPOLLIN, D_PL) == 0, "add plain");
	t_send_frame(tx2);
	/* no wake-up byte left in rx2's FIFO (the fd is the FIFO, non-blocking),
	 * so only the library's own wake-up can end this wait early */
	char junk[256];
	for (int i = 0; i < 1000 && read(rx2->fd, junk, sizeof(junk)) > 0; i++)
		;
	ad = (struct adder){ ep2, rx2->fd, D_RX2 };
	REQUIRE(pthread_create(&th, NULL, add_later, &ad) == 0, "pthread_create");
	t0 = unm_test_now_ms();
	n = epoll_wait(ep2, ev, 8, 5000);
	dt = unm_test_now_ms() - t0;
	pthread_join(th, NULL);
	CHECK(n == 1 && ev[0].data.u64 == D_RX2 && ev[0].events == EPOLLIN,
	      "first member added during a wait: %d %#llx %#x", n,
	      (unsigned long long)ev[0].data.u64, ev[0].events);
	CHECK(dt >= 50 && dt < 3000, "first member added: woke after %lld ms", (long long)dt);
	t_consume(rx2);
	CHECK(ioctl(rx2->fd, NIOCRXSYNC, NULL) == 0, "rxsync");
	/* a FIFO byte left by that wake-up is no event once the member is gone */
	CHECK(epoll_ctl(ep2, EPOLL_CTL_DEL, rx2->fd, NULL) == 0, "del");
	CHECK(ep_add(ep2, EPOLL_CTL_ADD, rx2->fd, EPOLLIN, D_RX2) == 0, "re-add");
	CHECK(write(rx2->fd, "w", 1) == 1, "write into the FIFO");
	n = epoll_wait(ep2, ev, 8, 100);
	CHECK(n == 0, "stray FIFO byte with a re-added member: %d %#llx", n,
	      (unsigned long long)ev[0].data.u64);
	close(ep2);

	/* ---- a ready netmap member costs no sleep ---- */
	t_send_frame(tx);
	struct unetmap_proc_stats s0, s1;
	unetmap_proc_stats(&s0);
	int hits = 0;
	for (int i = 0; i < 1000; i++)
		hits += epoll_wait(ep, ev, 8, 1000) == 1;
	unetmap_proc_stats(&s1);
	CHECK(hits == 1000, "ready member reported %d times of 1000", hits);
	CHECK(s1.sleeps == s0.sleeps, "%llu sleeps with a ready member",
	      (unsigned long long)(s1.sleeps - s0.sleeps));
	t_consume(rx);
	CHECK(ioctl(rx->fd, NIOCRXSYNC, NULL) == 0, "rxsync");

	/* ---- epoll_pwait's signal mask ---- */
	sigset_t block, open_mask;
	pid_t pid = t_usr1_soon(&block, &open_mask);
	t0 = unm_test_now_ms();
	errno = 0;
	n = epoll_pwait(ep, ev, 8, 5000, &open_mask);
	int err = errno;
	dt = unm_test_now_ms() - t0;
	CHECK(n == -1 && err == EINTR && t_got_usr1, "epoll_pwait with a signal: %d %s", n,
	      strerror(err));
	CHECK(dt < 3000, "epoll_pwait interrupted after %lld ms", (long long)dt);
	waitpid(pid, NULL, 0);
	sigprocmask(SIG_UNBLOCK, &block, NULL);

	/* ---- epoll_pwait2: a timeout below a millisecond, and an invalid one ---- */
	struct timespec ts = { 0, 300000 };
	t0 = unm_test_now_ms();
	n = epoll_pwait2(ep, ev, 8, &ts, NULL);
	dt = unm_test_now_ms() - t0;
	CHECK(n == 0 && dt < 100, "epoll_pwait2 300 us: %d in %lld ms", n, (long long)dt);
	ts.tv_nsec = 1000000000L;
	CHECK_ERRNO(epoll_pwait2(ep, ev, 8, &ts, NULL), EINVAL);
	close(ep);

	/* ---- implicit txsync of an EPOLLIN wait, and NR_NO_TX_POLL ---- */
	struct nmport_d *a3 = nmport_open("netmap:et{1");
	struct nmport_d *b3 = nmport_open("netmap:et}1");
	REQUIRE(a3 != NULL && b3 != NULL, "open et: %s", strerror(errno));
	ep = epoll_create1(0);
	REQUIRE(ep >= 0, "epoll_create1");
	CHECK(ep_add(ep, EPOLL_CTL_ADD, a3->fd, EPOLLIN, 0x55) == 0, "add a3");
	t_queue_frame(a3);
	n = epoll_wait(ep, ev, 8, 0);
	CHECK(n == 0, "EPOLLIN on an idle sender: %d", n);
	CHECK(ioctl(b3->fd, NIOCRXSYNC, NULL) == 0, "rxsync");
	CHECK(NETMAP_RXRING(b3->nifp, 0)->tail == 1,
	      "an EPOLLIN epoll_wait did not push the sender's frame (rx tail %u)",
	      NETMAP_RXRING(b3->nifp, 0)->tail);
	close(ep);

	struct nmport_d *a4 = nmport_prepare("netmap:en{1");
	REQUIRE(a4 != NULL, "prepare en{1");
	a4->reg.nr_flags |= NR_NO_TX_POLL;
	REQUIRE(nmport_open_desc(a4) == 0, "open en{1: %s", strerror(errno));
	struct nmport_d *b4 = nmport_open("netmap:en}1");
	REQUIRE(b4 != NULL, "open en}1");
	ep = epoll_create1(0);
	REQUIRE(ep >= 0, "epoll_create1");
	CHECK(ep_add(ep, EPOLL_CTL_ADD, a4->fd, EPOLLIN, 0x55) == 0, "add a4");
	t_queue_frame(a4);
	n = epoll_wait(ep, ev, 8, 100);
	CHECK(n == 0, "EPOLLIN on a NO_TX_POLL sender: %d", n);
	CHECK(ioctl(b4->fd, NIOCRXSYNC, NULL) == 0, "rxsync");
	CHECK(NETMAP_RXRING(b4->nifp, 0)->tail == 0,
	      "NR_NO_TX_POLL: an EPOLLIN wait pushed the frame (rx tail %u)",
	      NETMAP_RXRING(b4->nifp, 0)->tail);
	CHECK(ep_add(ep, EPOLL_CTL_MOD, a4->fd, EPOLLOUT, 0x55) == 0, "mod a4");
	n = epoll_wait(ep, ev, 8, 0);
	CHECK(n == 1 && ev[0].events == EPOLLOUT, "EPOLLOUT on a NO_TX_POLL sender: %d", n);
	CHECK(ioctl(b4->fd, NIOCRXSYNC, NULL) == 0, "rxsync");
	CHECK(NETMAP_RXRING(b4->nifp, 0)->tail == 1, "an EPOLLOUT wait did not push (rx tail %u)",
	      NETMAP_RXRING(b4->nifp, 0)->tail);
	close(ep);

	/* ---- a set without netmap fds is plain libc ---- */
	ep = epoll_create1(0);
	REQUIRE(ep >= 0, "epoll_create1");
	CHECK(ep_add(ep, EPOLL_CTL_ADD, sv[0], EPOLLIN, D_PL) == 0, "add plain");
	CHECK(write(sv[1], "e", 1) == 1, "write");
	n = epoll_wait(ep, ev, 8, 1000);
	CHECK(n == 1 && ev[0].data.u64 == D_PL, "plain-only set: %d", n);
	t_empty_socket(sv[0]);
	close(ep);

	nmport_close(b4);
	nmport_close(a4);
	nmport_close(b3);
	nmport_close(a3);
	close(sv[0]);
	close(sv[1]);
	nmport_close(rx2);
	nmport_close(tx2);
	nmport_close(rx);
	nmport_close(tx);
	return t_done();
}
