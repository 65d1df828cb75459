/* Description: select()/pselect() mixing netmap and plain fds: readiness of each, timeouts (select writes the time left back), wake-ups by a child's frame or write, writefds on a sender with room, an unbound netmap fd (readfds/writefds, never exceptfds), implicit txsync, EBADF/EINVAL, pselect's signal mask. */
#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <libnetmap.h>
#include "testlib.h"
#include "nmtest.h"

/* one of select/pselect, with the timeout in ms (-1: none); for select,
 * *left_ms gets what the call left in its timeval */
static int use_pselect;

static int wait_sets(int nfds, fd_set *r, fd_set *w, fd_set *x, int ms, long *left_ms)
{
	if (use_pselect) {
		struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
		sigset_t ss;
		sigemptyset(&ss);
		sigaddset(&ss, SIGUSR2);
		return pselect(nfds, r, w, x, ms < 0 ? NULL : &ts, &ss);
	}
	struct timeval tv = { ms / 1000, (long)(ms % 1000) * 1000L };
	int ret = select(nfds, r, w, x, ms < 0 ? NULL : &tv);
	if (left_ms != NULL)
		*left_ms = ms < 0 ? -1 : tv.tv_sec * 1000 + tv.tv_usec / 1000;
	return ret;
}

static int maxfd(int a, int b)
{
	return (a > b ? a : b) + 1;
}

static void run(const char *name, struct nmport_d *tx, struct nmport_d *rx, int sv[2])
{
	fd_set r, w, x;
	int ret, n = maxfd(rx->fd, sv[0]);
	long left;
	int64_t t0, dt;
#define READ_BOTH() do { FD_ZERO(&r); FD_SET(rx->fd, &r); FD_SET(sv[0], &r); } while (0)

	/* nothing ready, zero timeout */
	READ_BOTH();
	ret = wait_sets(n, &r, NULL, NULL, 0, NULL);
	CHECK(ret == 0 && !FD_ISSET(rx->fd, &r) && !FD_ISSET(sv[0], &r), "%s idle: %d", name, ret);

	/* the plain fd only */
	CHECK(write(sv[1], "a", 1) == 1, "write");
	READ_BOTH();
	t0 = unm_test_now_ms();
	ret = wait_sets(n, &r, NULL, NULL, 2000, &left);
	dt = unm_test_now_ms() - t0;
	CHECK(ret == 1 && !FD_ISSET(rx->fd, &r) && FD_ISSET(sv[0], &r), "%s plain: %d nm=%d pl=%d",
	      name, ret, FD_ISSET(rx->fd, &r), FD_ISSET(sv[0], &r));
	CHECK(dt < 500, "%s plain took %lld ms", name, (long long)dt);
	if (!use_pselect)
		CHECK(left > 1500 && left <= 2000, "select left %ld ms of 2000 after %lld ms", left,
		      (long long)dt);
	t_empty_socket(sv[0]);

	/* the netmap fd only */
	t_send_frame(tx);
	READ_BOTH();
	t0 = unm_test_now_ms();
	ret = wait_sets(n, &r, NULL, NULL, 2000, NULL);
	dt = unm_test_now_ms() - t0;
	CHECK(ret == 1 && FD_ISSET(rx->fd, &r) && !FD_ISSET(sv[0], &r), "%s netmap: %d nm=%d pl=%d",
	      name, ret, FD_ISSET(rx->fd, &r), FD_ISSET(sv[0], &r));
	CHECK(dt < 500, "%s netmap took %lld ms", name, (long long)dt);
	/* level: not consumed, still readable */
	READ_BOTH();
	ret = wait_sets(n, &r, NULL, NULL, 0, NULL);
	CHECK(ret == 1 && FD_ISSET(rx->fd, &r), "%s netmap again: %d", name, ret);
	CHECK(t_consume(rx) == 1, "%s: one frame", name);
	READ_BOTH();
	ret = wait_sets(n, &r, NULL, NULL, 0, NULL);
	CHECK(ret == 0 && !FD_ISSET(rx->fd, &r), "%s after consuming: %d", name, ret);

	/* both, and the count of bits over all sets */
	t_send_frame(tx);
	CHECK(write(sv[1], "b", 1) == 1, "write");
	READ_BOTH();
	FD_ZERO(&w);
	FD_SET(sv[0], &w);
	ret = wait_sets(n, &r, &w, NULL, 2000, NULL);
	CHECK(ret == 3 && FD_ISSET(rx->fd, &r) && FD_ISSET(sv[0], &r) && FD_ISSET(sv[0], &w),
	      "%s both (+ socket writable): %d", name, ret);
	CHECK(t_consume(rx) == 1, "%s: one frame (both)", name);
	t_empty_socket(sv[0]);

	/* timeout */
	READ_BOTH();
	t0 = unm_test_now_ms();
	ret = wait_sets(n, &r, NULL, NULL, 300, &left);
	dt = unm_test_now_ms() - t0;
	CHECK(ret == 0 && !FD_ISSET(rx->fd, &r) && !FD_ISSET(sv[0], &r), "%s timeout: %d", name,
	      ret);
	CHECK(dt >= 250 && dt < 2000, "%s: 300 ms timeout took %lld ms", name, (long long)dt);
	if (!use_pselect)
		CHECK(left == 0, "select left %ld ms after timing out", left);

	/* a child writes on the plain fd */
	pid_t pid = fork();
	REQUIRE(pid >= 0, "fork");
	if (pid == 0) {
		usleep(150000);
		_exit(write(sv[1], "c", 1) == 1 ? 0 : 1);
	}
	READ_BOTH();
	t0 = unm_test_now_ms();
	ret = wait_sets(n, &r, NULL, NULL, 5000, NULL);
	dt = unm_test_now_ms() - t0;
	CHECK(ret == 1 && FD_ISSET(sv[0], &r) && !FD_ISSET(rx->fd, &r), "%s child write: %d", name,
	      ret);
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
		READ_BOTH();
		t0 = unm_test_now_ms();
		ret = wait_sets(n, &r, NULL, NULL, forever ? -1 : 5000, NULL);
		dt = unm_test_now_ms() - t0;
		CHECK(ret == 1 && FD_ISSET(rx->fd, &r) && !FD_ISSET(sv[0], &r),
		      "%s child frame (%s): %d", name, forever ? "no timeout" : "5 s", ret);
		CHECK(dt >= 50 && dt < 3000, "%s child frame woke after %lld ms", name,
		      (long long)dt);
		int st = -1;
		waitpid(pid, &st, 0);
		CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "child txsync failed");
		t_frame_no++;
		CHECK(t_consume(rx) == 1, "%s: child frame", name);
	}

	/* writefds: the sender has room at once; readfds on it stays quiet */
	FD_ZERO(&r);
	FD_ZERO(&w);
	FD_SET(tx->fd, &w);
	FD_SET(tx->fd, &r);
	FD_SET(sv[0], &r);
	t0 = unm_test_now_ms();
	ret = wait_sets(maxfd(tx->fd, sv[0]), &r, &w, NULL, 2000, NULL);
	dt = unm_test_now_ms() - t0;
	CHECK(ret == 1 && FD_ISSET(tx->fd, &w) && !FD_ISSET(tx->fd, &r) && !FD_ISSET(sv[0], &r),
	      "%s writefds on the sender: %d w=%d r=%d", name, ret, FD_ISSET(tx->fd, &w),
	      FD_ISSET(tx->fd, &r));
	CHECK(dt < 100, "%s writefds took %lld ms", name, (long long)dt);

	/* an unbound netmap fd: an error condition, so readable and writable
	 * (as Linux's select reports netmap's POLLERR), never exceptional */
	int u = open("/dev/netmap", O_RDWR);
	REQUIRE(u >= 0, "open /dev/netmap");
	int nu = maxfd(u, sv[0]);
	FD_ZERO(&r);
	FD_ZERO(&x);
	FD_SET(u, &r);
	FD_SET(u, &x);
	FD_SET(sv[0], &r);
	t0 = unm_test_now_ms();
	ret = wait_sets(nu, &r, NULL, &x, 2000, NULL);
	dt = unm_test_now_ms() - t0;
	CHECK(ret == 1 && FD_ISSET(u, &r) && !FD_ISSET(u, &x) && !FD_ISSET(sv[0], &r),
	      "%s unbound in readfds+exceptfds: %d r=%d x=%d", name, ret, FD_ISSET(u, &r),
	      FD_ISSET(u, &x));
	CHECK(dt < 500, "%s unbound took %lld ms", name, (long long)dt);
	FD_ZERO(&w);
	FD_SET(u, &w);
	ret = wait_sets(nu, NULL, &w, NULL, 0, NULL);
	CHECK(ret == 1 && FD_ISSET(u, &w), "%s unbound in writefds: %d", name, ret);
	FD_ZERO(&x);
	FD_SET(u, &x);
	t0 = unm_test_now_ms();
	ret = wait_sets(nu, NULL, NULL, &x, 200, NULL);
	dt = unm_test_now_ms() - t0;
	CHECK(ret == 0 && !FD_ISSET(u, &x), "%s unbound in exceptfds only: %d", name, ret);
	CHECK(dt >= 150 && dt < 2000, "%s exceptfds-only wait took %lld ms", name, (long long)dt);
	close(u);

	/* EBADF for a closed fd next to an idle netmap fd, at once (no wait);
	 * the sets are left as they were */
	int dead = dup(sv[0]);
	REQUIRE(dead >= 0, "dup");
	close(dead);
	FD_ZERO(&r);
	FD_SET(rx->fd, &r);
	FD_SET(dead, &r);
	t0 = unm_test_now_ms();
	CHECK_ERRNO(wait_sets(maxfd(rx->fd, dead), &r, NULL, NULL, 2000, NULL), EBADF);
	dt = unm_test_now_ms() - t0;
	CHECK(dt < 500, "%s EBADF after %lld ms", name, (long long)dt);
	CHECK(FD_ISSET(rx->fd, &r) && FD_ISSET(dead, &r), "%s: sets changed on EBADF", name);

	/* EINVAL */
	READ_BOTH();
	CHECK_ERRNO(wait_sets(-1, &r, NULL, NULL, 0, NULL), EINVAL);
	CHECK_ERRNO(wait_sets(FD_SETSIZE + 1, &r, NULL, NULL, 0, NULL), EINVAL);
#undef READ_BOTH
}

int main(void)
{
	t_setup(90);
	struct nmport_d *tx = nmport_open("netmap:sel{1");
	REQUIRE(tx != NULL, "open sel{1: %s", strerror(errno));
	struct nmport_d *rx = nmport_open("netmap:sel}1");
	REQUIRE(rx != NULL, "open sel}1: %s", strerror(errno));
	int sv[2];
	REQUIRE(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0, "socketpair");

	use_pselect = 0;
	run("select", tx, rx, sv);
	use_pselect = 1;
	run("pselect", tx, rx, sv);

	/* an invalid timeval / timespec */
	fd_set r;
	FD_ZERO(&r);
	FD_SET(rx->fd, &r);
	struct timeval bad_tv = { 0, -1 };
	CHECK_ERRNO(select(rx->fd + 1, &r, NULL, NULL, &bad_tv), EINVAL);
	struct timeval big_usec = { 0, 1200000 };	/* normalised to 1.2 s, as Linux */
	t_send_frame(tx);
	FD_ZERO(&r);
	FD_SET(rx->fd, &r);
	CHECK(select(rx->fd + 1, &r, NULL, NULL, &big_usec) == 1, "tv_usec >= 1e6 rejected");
	t_consume(rx);
	struct timespec bad_ts = { 0, 1000000000L };
	FD_ZERO(&r);
	FD_SET(rx->fd, &r);
	CHECK_ERRNO(pselect(rx->fd + 1, &r, NULL, NULL, &bad_ts, NULL), EINVAL);

	/* a set without netmap fds is plain libc, also while netmap fds exist */
	CHECK(write(sv[1], "d", 1) == 1, "write");
	FD_ZERO(&r);
	FD_SET(sv[0], &r);
	struct timeval tv = { 1, 0 };
	CHECK(select(sv[0] + 1, &r, NULL, NULL, &tv) == 1 && FD_ISSET(sv[0], &r), "plain select");
	t_empty_socket(sv[0]);

	/* implicit txsync: readfds on the sender pushes its queued frame */
	t_queue_frame(tx);
	FD_ZERO(&r);
	FD_SET(tx->fd, &r);
	CHECK(select(tx->fd + 1, &r, NULL, NULL, &(struct timeval){ 0, 0 }) == 0,
	      "readfds on an idle sender");
	struct netmap_ring *rr = NETMAP_RXRING(rx->nifp, 0);
	uint32_t tail0 = rr->tail;
	CHECK(ioctl(rx->fd, NIOCRXSYNC, NULL) == 0, "rxsync");
	CHECK(rr->tail != tail0, "a readfds select did not push the sender's frame");
	CHECK(t_consume(rx) == 1, "implicit txsync frame");
	CHECK(ioctl(rx->fd, NIOCRXSYNC, NULL) == 0, "rxsync");

	/* pselect installs its signal mask for the wait: SIGUSR1 is blocked
	 * outside, let through inside, and interrupts a wait on a netmap fd */
	sigset_t block, open_mask;
	pid_t pid = t_usr1_soon(&block, &open_mask);
	FD_ZERO(&r);
	FD_SET(rx->fd, &r);
	FD_SET(sv[0], &r);
	struct timespec ts5 = { 5, 0 };
	int64_t t0 = unm_test_now_ms();
	errno = 0;
	int ret = pselect(maxfd(rx->fd, sv[0]), &r, NULL, NULL, &ts5, &open_mask);
	int e = errno;
	int64_t dt = unm_test_now_ms() - t0;
	CHECK(ret == -1 && e == EINTR && t_got_usr1, "pselect with a signal: %d %s handler=%d", ret,
	      strerror(e), (int)t_got_usr1);
	CHECK(dt < 3000, "pselect interrupted after %lld ms", (long long)dt);
	waitpid(pid, NULL, 0);
	/* with the mask kept blocked, a pending signal does not interrupt */
	t_got_usr1 = 0;
	kill(getpid(), SIGUSR1);
	FD_ZERO(&r);
	FD_SET(rx->fd, &r);
	struct timespec ts200 = { 0, 200000000L };
	ret = pselect(rx->fd + 1, &r, NULL, NULL, &ts200, &block);
	CHECK(ret == 0 && !t_got_usr1, "pselect with SIGUSR1 blocked: %d handler=%d", ret,
	      (int)t_got_usr1);
	sigprocmask(SIG_UNBLOCK, &block, NULL);
	CHECK(t_got_usr1, "pending SIGUSR1 not delivered after unblocking");

	close(sv[0]);
	close(sv[1]);
	nmport_close(rx);
	nmport_close(tx);
	return t_done();
}
