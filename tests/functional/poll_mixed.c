/* Description: poll()/ppoll() mixing netmap and plain fds: independent readiness, timeouts, wake-ups from a child, POLLOUT, implicit txsync vs NR_NO_TX_POLL, POLLERR on an unbound fd. */
#include <fcntl.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <libnetmap.h>
#include "testlib.h"
#include "nmtest.h"

static void drain_plain(int fd)
{
	char buf[64];
	struct pollfd p = { .fd = fd, .events = POLLIN };
	while (poll(&p, 1, 0) == 1 && (p.revents & POLLIN)) {
		if (read(fd, buf, sizeof(buf)) <= 0)
			break;
	}
}

typedef int (*poll_fn)(struct pollfd *, nfds_t, int);

static int do_poll(struct pollfd *p, nfds_t n, int ms)
{
	return poll(p, n, ms);
}

static int do_ppoll(struct pollfd *p, nfds_t n, int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
	sigset_t ss;
	sigemptyset(&ss);
	return ppoll(p, n, ms < 0 ? NULL : &ts, &ss);
}

static void run(const char *name, poll_fn pf_call, struct nmport_d *a, struct nmport_d *b,
		int sv[2])
{
	struct pollfd pf[2];
	int r;
	int64_t t0, dt;
#define SETUP() do { \
	pf[0] = (struct pollfd){ .fd = b->fd, .events = POLLIN }; \
	pf[1] = (struct pollfd){ .fd = sv[0], .events = POLLIN }; } while (0)

	/* idle */
	SETUP();
	r = pf_call(pf, 2, 0);
	CHECK(r == 0 && pf[0].revents == 0 && pf[1].revents == 0, "%s idle: %d %#x %#x", name, r,
	      pf[0].revents, pf[1].revents);

	/* plain fd ready, netmap idle */
	CHECK(write(sv[1], "x", 1) == 1, "write");
	SETUP();
	t0 = unm_test_now_ms();
	r = pf_call(pf, 2, 2000);
	dt = unm_test_now_ms() - t0;
	CHECK(r == 1 && pf[0].revents == 0 && pf[1].revents == POLLIN,
	      "%s plain ready: %d %#x %#x", name, r, pf[0].revents, pf[1].revents);
	CHECK(dt < 500, "%s plain ready took %lld ms", name, (long long)dt);
	drain_plain(sv[0]);

	/* netmap ready, plain idle */
	t_send_frame(a);
	SETUP();
	t0 = unm_test_now_ms();
	r = pf_call(pf, 2, 2000);
	dt = unm_test_now_ms() - t0;
	CHECK(r == 1 && pf[0].revents == POLLIN && pf[1].revents == 0,
	      "%s netmap ready: %d %#x %#x", name, r, pf[0].revents, pf[1].revents);
	CHECK(dt < 500, "%s netmap ready took %lld ms", name, (long long)dt);
	CHECK(t_consume(b) == 1, "%s: one frame", name);

	/* both ready */
	t_send_frame(a);
	CHECK(write(sv[1], "y", 1) == 1, "write");
	SETUP();
	r = pf_call(pf, 2, 2000);
	CHECK(r == 2 && pf[0].revents == POLLIN && pf[1].revents == POLLIN,
	      "%s both ready: %d %#x %#x", name, r, pf[0].revents, pf[1].revents);
	CHECK(t_consume(b) == 1, "%s: one frame (both)", name);
	drain_plain(sv[0]);

	/* nothing happens: timeout */
	SETUP();
	t0 = unm_test_now_ms();
	r = pf_call(pf, 2, 300);
	dt = unm_test_now_ms() - t0;
	CHECK(r == 0 && pf[0].revents == 0 && pf[1].revents == 0, "%s timeout: %d %#x %#x", name,
	      r, pf[0].revents, pf[1].revents);
	CHECK(dt >= 250 && dt < 2000, "%s: 300 ms timeout took %lld ms", name, (long long)dt);

	/* a child writes to the plain fd */
	pid_t pid = fork();
	REQUIRE(pid >= 0, "fork");
	if (pid == 0) {
		usleep(150000);
		_exit(write(sv[1], "z", 1) == 1 ? 0 : 1);
	}
	SETUP();
	t0 = unm_test_now_ms();
	r = pf_call(pf, 2, 5000);
	dt = unm_test_now_ms() - t0;
	CHECK(r == 1 && pf[0].revents == 0 && pf[1].revents == POLLIN,
	      "%s child write: %d %#x %#x", name, r, pf[0].revents, pf[1].revents);
	CHECK(dt >= 50 && dt < 3000, "%s child write woke after %lld ms", name, (long long)dt);
	waitpid(pid, NULL, 0);
	drain_plain(sv[0]);

	/* a child sends a netmap frame; once with a timeout, once without */
	for (int inf = 0; inf < 2; inf++) {
		pid = fork();
		REQUIRE(pid >= 0, "fork");
		if (pid == 0) {
			usleep(150000);
			t_queue_frame(a);
			_exit(ioctl(a->fd, NIOCTXSYNC, NULL) == 0 ? 0 : 1);
		}
		SETUP();
		t0 = unm_test_now_ms();
		r = pf_call(pf, 2, inf ? -1 : 5000);
		dt = unm_test_now_ms() - t0;
		CHECK(r == 1 && pf[0].revents == POLLIN && pf[1].revents == 0,
		      "%s child frame (%s): %d %#x %#x", name, inf ? "-1" : "5000", r,
		      pf[0].revents, pf[1].revents);
		CHECK(dt >= 50 && dt < 3000, "%s child frame woke after %lld ms", name,
		      (long long)dt);
		int st = -1;
		waitpid(pid, &st, 0);
		CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "child txsync failed");
		t_frame_no++;	/* the child used one sequence number */
		CHECK(t_consume(b) == 1, "%s: child frame", name);
	}

	/* POLLOUT on the sender with free space is immediate */
	struct pollfd po[2] = { { .fd = a->fd, .events = POLLOUT },
				{ .fd = sv[0], .events = POLLIN } };
	t0 = unm_test_now_ms();
	r = pf_call(po, 2, 2000);
	dt = unm_test_now_ms() - t0;
	CHECK(r == 1 && po[0].revents == POLLOUT && po[1].revents == 0, "%s POLLOUT: %d %#x %#x",
	      name, r, po[0].revents, po[1].revents);
	CHECK(dt < 100, "%s POLLOUT took %lld ms", name, (long long)dt);
	po[0].events = POLLIN | POLLOUT;
	r = pf_call(po, 1, 0);
	CHECK(r == 1 && po[0].revents == POLLOUT, "%s POLLIN|POLLOUT on sender: %d %#x", name, r,
	      po[0].revents);

	/* an unbound netmap fd */
	int u = open("/dev/netmap", O_RDWR);
	REQUIRE(u >= 0, "open /dev/netmap");
	struct pollfd pu[2] = { { .fd = u, .events = POLLIN },
				{ .fd = sv[0], .events = POLLIN } };
	t0 = unm_test_now_ms();
	r = pf_call(pu, 2, 2000);
	dt = unm_test_now_ms() - t0;
	CHECK(r == 1 && (pu[0].revents & POLLERR) && pu[1].revents == 0,
	      "%s unbound: %d %#x %#x", name, r, pu[0].revents, pu[1].revents);
	CHECK(dt < 500, "%s unbound fd poll took %lld ms", name, (long long)dt);
	pu[0].events = POLLOUT;
	r = pf_call(pu, 1, 0);
	CHECK(r == 1 && (pu[0].revents & POLLERR), "%s unbound POLLOUT: %d %#x", name, r,
	      pu[0].revents);
	close(u);
#undef SETUP
}

int main(void)
{
	t_setup(60);
	struct nmport_d *a = nmport_open("netmap:pm{1");
	REQUIRE(a != NULL, "open pm{1: %s", strerror(errno));
	struct nmport_d *b = nmport_open("netmap:pm}1");
	REQUIRE(b != NULL, "open pm}1: %s", strerror(errno));
	int sv[2];
	REQUIRE(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0, "socketpair");

	run("poll", do_poll, a, b, sv);
	run("ppoll", do_ppoll, a, b, sv);

	/* POLLRDNORM alone is honoured */
	t_send_frame(a);
	struct pollfd pr = { .fd = b->fd, .events = POLLRDNORM };
	int r = poll(&pr, 1, 1000);
	CHECK(r == 1 && (pr.revents & POLLRDNORM) && !(pr.revents & POLLERR), "POLLRDNORM: %d %#x",
	      r, pr.revents);
	t_consume(b);

	/* ---- implicit txsync of a POLLIN-only poll, and NR_NO_TX_POLL ---- */
	struct nmport_d *a3 = nmport_open("netmap:pt{1");
	REQUIRE(a3 != NULL, "open pt{1");
	struct nmport_d *b3 = nmport_open("netmap:pt}1");
	REQUIRE(b3 != NULL, "open pt}1");
	struct netmap_ring *rb3 = NETMAP_RXRING(b3->nifp, 0);
	t_queue_frame(a3);
	struct pollfd p3[2] = { { .fd = a3->fd, .events = POLLIN },
				{ .fd = sv[0], .events = POLLIN } };
	r = poll(p3, 2, 0);
	CHECK(r == 0, "POLLIN on an idle sender: %d %#x", r, p3[0].revents);
	CHECK(ioctl(b3->fd, NIOCRXSYNC, NULL) == 0, "rxsync");
	CHECK(rb3->tail == 1, "without NR_NO_TX_POLL a POLLIN poll did not push: rx tail %u",
	      rb3->tail);

	struct nmport_d *a2 = nmport_prepare("netmap:pn{1");
	REQUIRE(a2 != NULL, "prepare pn{1");
	a2->reg.nr_flags |= NR_NO_TX_POLL;
	REQUIRE(nmport_open_desc(a2) == 0, "open pn{1: %s", strerror(errno));
	CHECK(a2->reg.nr_flags == NR_NO_TX_POLL, "nr_flags echoed %#llx",
	      (unsigned long long)a2->reg.nr_flags);
	struct nmport_d *b2 = nmport_open("netmap:pn}1");
	REQUIRE(b2 != NULL, "open pn}1");
	struct netmap_ring *rb2 = NETMAP_RXRING(b2->nifp, 0);
	t_queue_frame(a2);
	struct pollfd p2[2] = { { .fd = a2->fd, .events = POLLIN },
				{ .fd = sv[0], .events = POLLIN } };
	r = poll(p2, 2, 0);
	CHECK(r == 0, "POLLIN on NO_TX_POLL sender: %d %#x", r, p2[0].revents);
	r = poll(p2, 1, 100);
	CHECK(r == 0, "POLLIN on NO_TX_POLL sender (100 ms): %d %#x", r, p2[0].revents);
	CHECK(ioctl(b2->fd, NIOCRXSYNC, NULL) == 0, "rxsync");
	CHECK(rb2->tail == 0, "NR_NO_TX_POLL: a POLLIN poll pushed the frame (rx tail %u)",
	      rb2->tail);
	struct pollfd pb2 = { .fd = b2->fd, .events = POLLIN };
	CHECK(poll(&pb2, 1, 0) == 0, "receiver sees a frame that was never sent");
	/* POLLOUT still syncs */
	p2[0].events = POLLOUT;
	r = poll(p2, 1, 0);
	CHECK(r == 1 && p2[0].revents == POLLOUT, "POLLOUT on NO_TX_POLL sender: %d %#x", r,
	      p2[0].revents);
	CHECK(ioctl(b2->fd, NIOCRXSYNC, NULL) == 0, "rxsync");
	CHECK(rb2->tail == 1, "POLLOUT poll did not push the frame (rx tail %u)", rb2->tail);

	nmport_close(b2);
	nmport_close(a2);
	nmport_close(b3);
	nmport_close(a3);
	close(sv[0]);
	close(sv[1]);
	nmport_close(b);
	nmport_close(a);
	return t_done();
}
