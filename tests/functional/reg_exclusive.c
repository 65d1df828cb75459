/* Description: NR_EXCLUSIVE (/x): EBUSY both ways, per-ring granularity, release at close and when the exclusive holder is SIGKILLed. */
#include <fcntl.h>
#include <sys/ioctl.h>
#include <libnetmap.h>
#include "testlib.h"
#include "nmtest.h"

/* raw REGISTER on a fresh fd; returns the fd or -1 with errno */
static int reg_raw(const char *name, uint32_t mode, uint16_t ringid, uint64_t flags)
{
	struct nmreq_register reg;
	memset(&reg, 0, sizeof(reg));
	reg.nr_mode = mode;
	reg.nr_ringid = ringid;
	reg.nr_flags = flags;
	reg.nr_tx_rings = reg.nr_rx_rings = 2;	/* used only if this creates the pipe */
	reg.nr_tx_slots = reg.nr_rx_slots = 64;
	return t_register(name, &reg);
}

#define ONE(n) NR_REG_ONE_NIC, (n)
#define ALL NR_REG_ALL_NIC, 0

int main(void)
{
	t_setup(60);
	nmctx_get()->verbose = 0;	/* expected failures: keep the log short */

	/* exclusive ring pair 0 creates the pipe (2 rings); ring 1 stays free */
	int x0 = reg_raw("ex{1", ONE(0), NR_EXCLUSIVE);
	REQUIRE(x0 >= 0, "exclusive open of ring 0: %s", strerror(errno));

	/* granularity: plain open of ring 1 succeeds */
	int p1 = reg_raw("ex{1", ONE(1), 0);
	CHECK(p1 >= 0, "plain ring 1 next to exclusive ring 0: %s", strerror(errno));

	/* ring 0 is held exclusively: every binding that includes it fails */
	CHECK_ERRNO(reg_raw("ex{1", ONE(0), 0), EBUSY);
	CHECK_ERRNO(reg_raw("ex{1", ONE(0), NR_EXCLUSIVE), EBUSY);
	CHECK_ERRNO(reg_raw("ex{1", ALL, 0), EBUSY);
	CHECK_ERRNO(reg_raw("ex{1", ONE(0), NR_TX_RINGS_ONLY), EBUSY);
	CHECK_ERRNO(reg_raw("ex{1", ONE(0), NR_RX_RINGS_ONLY), EBUSY);
	/* libnetmap reports the same errno */
	errno = 0;
	struct nmport_d *d = nmport_open("netmap:ex{1-0");
	CHECK(d == NULL && errno == EBUSY, "nmport_open ex{1-0: %p %s", (void *)d, strerror(errno));
	if (d)
		nmport_close(d);

	/* ring 1 has a (plain) user: an exclusive open of it fails */
	CHECK_ERRNO(reg_raw("ex{1", ONE(1), NR_EXCLUSIVE), EBUSY);
	CHECK_ERRNO(reg_raw("ex{1", ALL, NR_EXCLUSIVE), EBUSY);
	/* the other end's rings are different rings */
	int sl = reg_raw("ex}1", ONE(0), 0);
	CHECK(sl >= 0, "slave ring 0 while master ring 0 is exclusive: %s", strerror(errno));
	if (sl >= 0)
		close(sl);

	/* a second plain user of ring 1 is fine */
	int p1b = reg_raw("ex{1", ONE(1), 0);
	CHECK(p1b >= 0, "second plain ring 1: %s", strerror(errno));
	if (p1b >= 0)
		close(p1b);

	/* after closing the exclusive holder, ring 0 is free again */
	close(x0);
	int q0 = reg_raw("ex{1", ONE(0), 0);
	CHECK(q0 >= 0, "ring 0 after the exclusive holder closed: %s", strerror(errno));
	/* exclusive on a ring that has a user fails, then succeeds once it is gone */
	CHECK_ERRNO(reg_raw("ex{1", ONE(0), NR_EXCLUSIVE), EBUSY);
	if (q0 >= 0)
		close(q0);
	x0 = reg_raw("ex{1", ONE(0), NR_EXCLUSIVE);
	CHECK(x0 >= 0, "exclusive ring 0 again: %s", strerror(errno));
	if (x0 >= 0)
		close(x0);
	d = nmport_open("netmap:ex{1-0/x");
	CHECK(d != NULL, "nmport_open ex{1-0/x: %s", strerror(errno));
	if (d)
		nmport_close(d);

	/* exclusive holder killed with SIGKILL */
	int sync[2];
	REQUIRE(pipe(sync) == 0, "pipe");
	pid_t pid = fork();
	REQUIRE(pid >= 0, "fork");
	if (pid == 0) {
		close(sync[0]);
		int fd = reg_raw("ex{1", ONE(0), NR_EXCLUSIVE);
		char c = fd >= 0 ? 'y' : 'n';
		if (write(sync[1], &c, 1) != 1)
			_exit(2);
		for (int i = 0; i < 600; i++)
			usleep(100000);	/* wait to be killed (bounded) */
		_exit(0);
	}
	close(sync[1]);
	char c = 0;
	CHECK(read(sync[0], &c, 1) == 1 && c == 'y', "child's exclusive open failed");
	close(sync[0]);
	CHECK_ERRNO(reg_raw("ex{1", ONE(0), 0), EBUSY);
	CHECK_ERRNO(reg_raw("ex{1", ONE(0), NR_EXCLUSIVE), EBUSY);
	kill(pid, SIGKILL);
	int st;
	REQUIRE(waitpid(pid, &st, 0) == pid, "waitpid");
	CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL, "child status %#x", st);
	x0 = reg_raw("ex{1", ONE(0), NR_EXCLUSIVE);
	CHECK(x0 >= 0, "exclusive open after the holder was killed: %s", strerror(errno));
	if (x0 >= 0)
		close(x0);
	q0 = reg_raw("ex{1", ONE(0), 0);
	CHECK(q0 >= 0, "plain open after the holder was killed: %s", strerror(errno));
	if (q0 >= 0)
		close(q0);

	if (p1 >= 0)
		close(p1);
	return t_done();
}
