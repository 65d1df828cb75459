/* Description: one poll() over 100 netmap fds (50 pipes, both ends) mixed
 * with 100 socket fds reports exactly the ready ones, wakes on a frame or a
 * byte arriving at any of them, and times out when none is. */
#include <poll.h>
#include <stdbool.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <libnetmap.h>
#include "testlib.h"

#define NPIPES 50
#define NSOCK 100
#define N (2 * NPIPES + NSOCK)

static struct nmport_d *tx[NPIPES], *rx[NPIPES];
static int sk[NSOCK][2];
static struct pollfd pfd[N];

static void send_one(int p)
{
	struct netmap_ring *r = NETMAP_TXRING(tx[p]->nifp, 0);
	r->slot[r->head].len = 60;
	r->head = r->cur = nm_ring_next(r, r->head);
	ioctl(tx[p]->fd, NIOCTXSYNC, NULL);
}

static void consume(int p)
{
	struct netmap_ring *r = NETMAP_RXRING(rx[p]->nifp, 0);
	r->head = r->cur = r->tail;
	ioctl(rx[p]->fd, NIOCRXSYNC, NULL);
}

static int do_poll(int timeout)
{
	for (int i = 0; i < N; i++)
		pfd[i].revents = 0;
	return poll(pfd, N, timeout);
}

int main(void)
{
	t_setup(60);
	for (int p = 0; p < NPIPES; p++) {
		char a[64], b[64];
		snprintf(a, sizeof(a), "netmap:many%d{1", p);
		snprintf(b, sizeof(b), "netmap:many%d}1", p);
		tx[p] = nmport_open(a);
		rx[p] = nmport_open(b);
		REQUIRE(tx[p] != NULL && rx[p] != NULL, "open pipe %d: %s", p, strerror(errno));
		pfd[2 * p] = (struct pollfd){ .fd = rx[p]->fd, .events = POLLIN };
		pfd[2 * p + 1] = (struct pollfd){ .fd = tx[p]->fd, .events = POLLIN };
	}
	for (int s = 0; s < NSOCK; s++) {
		REQUIRE(socketpair(AF_UNIX, SOCK_DGRAM, 0, sk[s]) == 0, "socketpair");
		pfd[2 * NPIPES + s] = (struct pollfd){ .fd = sk[s][0], .events = POLLIN };
	}
	/* nothing ready */
	int64_t t0 = unm_test_now_ms();
	CHECK(do_poll(150) == 0, "idle set");
	CHECK(unm_test_now_ms() - t0 >= 120, "timed out after the timeout");

	/* frames on pipes 3 and 41, a byte on socket 77 */
	send_one(3);
	send_one(41);
	CHECK(write(sk[77][1], "x", 1) == 1, "write");
	int r = do_poll(1000);
	CHECK(r == 3, "3 ready, got %d", r);
	for (int i = 0; i < N; i++) {
		bool want = i == 2 * 3 || i == 2 * 41 || i == 2 * NPIPES + 77;
		CHECK(!!(pfd[i].revents & POLLIN) == want, "entry %d revents %x", i, pfd[i].revents);
	}
	consume(3);
	consume(41);
	char c;
	CHECK(read(sk[77][0], &c, 1) == 1, "read");
	CHECK(do_poll(0) == 0, "all consumed");

	/* a child wakes the blocked poll through one pipe, then a socket */
	for (int round = 0; round < 2; round++) {
		pid_t pid = fork();
		if (pid == 0) {
			usleep(100000);
			if (round == 0)
				send_one(29);
			else if (write(sk[5][1], "y", 1) != 1)
				_exit(1);
			_exit(0);
		}
		t0 = unm_test_now_ms();
		r = do_poll(5000);
		int64_t dt = unm_test_now_ms() - t0;
		CHECK(r == 1, "round %d: one ready, got %d", round, r);
		int idx = round == 0 ? 2 * 29 : 2 * NPIPES + 5;
		CHECK(pfd[idx].revents & POLLIN, "round %d: right entry", round);
		CHECK(dt >= 50 && dt < 3000, "round %d: woke after %lld ms", round, (long long)dt);
		waitpid(pid, NULL, 0);
		if (round == 0)
			consume(29);
		else
			CHECK(read(sk[5][0], &c, 1) == 1, "read");
	}
	for (int p = 0; p < NPIPES; p++) {
		nmport_close(tx[p]);
		nmport_close(rx[p]);
	}
	return t_done();
}
