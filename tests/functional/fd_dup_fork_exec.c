/* Description: a netmap fd keeps working through dup, dup2, dup3,
 * fcntl(F_DUPFD), fork and exec: every copy reaches the same registration,
 * closing one copy leaves the others working, and the registration goes
 * away only with the last copy. */
#include <fcntl.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <libnetmap.h>
#include <unetmap.h>
#include "testlib.h"

/* send `n` frames through the TX ring of an fd registered on {1 */
static int push(int fd, struct netmap_if *nifp, int n)
{
	struct netmap_ring *r = NETMAP_TXRING(nifp, 0);
	int sent = 0;
	while (sent < n && !nm_ring_empty(r)) {
		r->slot[r->head].len = 64;
		r->head = r->cur = nm_ring_next(r, r->head);
		sent++;
	}
	return ioctl(fd, NIOCTXSYNC, NULL) == 0 ? sent : -1;
}

static unsigned drain(struct nmport_d *rx)
{
	struct pollfd p = { .fd = rx->fd, .events = POLLIN };
	unsigned got = 0;
	if (poll(&p, 1, 2000) <= 0)
		return 0;
	struct netmap_ring *r = NETMAP_RXRING(rx->nifp, 0);
	while (!nm_ring_empty(r)) {
		got++;
		r->head = r->cur = nm_ring_next(r, r->head);
	}
	ioctl(rx->fd, NIOCRXSYNC, NULL);
	return got;
}

static int count_regs(void)
{
	char cmd[512];
	snprintf(cmd, sizeof(cmd), "ls %s | grep -c '^reg-'", t_dir);
	FILE *p = popen(cmd, "r");
	int n = -1;
	if (p != NULL) {
		if (fscanf(p, "%d", &n) != 1)
			n = -1;
		pclose(p);
	}
	return n;
}

/* exec'd child: argv = self --exec-child FD MEMSIZE OFFSET */
static int exec_child(char **argv)
{
	int fd = atoi(argv[2]);
	size_t memsize = strtoull(argv[3], NULL, 0);
	size_t off = strtoull(argv[4], NULL, 0);
	void *mem = mmap(NULL, memsize, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (mem == MAP_FAILED) {
		fprintf(stderr, "exec child: mmap: %s\n", strerror(errno));
		return 1;
	}
	int n = push(fd, NETMAP_IF(mem, off), 7);
	return n == 7 ? 0 : 1;
}

int main(int argc, char **argv)
{
	if (argc == 5 && strcmp(argv[1], "--exec-child") == 0)
		return exec_child(argv);
	t_setup(60);
	struct nmport_d *tx = nmport_open("netmap:dp{1");
	struct nmport_d *rx = nmport_open("netmap:dp}1");
	REQUIRE(tx != NULL && rx != NULL, "open: %s", strerror(errno));
	int regs0 = count_regs();

	/* dup: the copy syncs the same rings; closing the original keeps it */
	int d1 = dup(tx->fd);
	REQUIRE(d1 >= 0, "dup");
	CHECK(push(d1, tx->nifp, 5) == 5, "push through dup");
	CHECK(drain(rx) == 5, "frames via dup");
	int d2 = fcntl(tx->fd, F_DUPFD_CLOEXEC, 100);
	CHECK(d2 >= 100, "F_DUPFD_CLOEXEC gave %d", d2);
	int d3 = open("/dev/null", O_RDONLY);
	CHECK(dup2(tx->fd, d3) == d3, "dup2 onto a plain fd");
	int d4 = dup3(tx->fd, 200, O_CLOEXEC);
	CHECK(d4 == 200, "dup3");
	CHECK(push(d3, tx->nifp, 3) == 3 && drain(rx) == 3, "push through dup2 copy");
	/* dup2 over a netmap copy with a plain fd: d4 is no longer netmap */
	int pl = open("/dev/null", O_RDONLY);
	CHECK(dup2(pl, d4) == d4, "dup2 plain over netmap copy");
	CHECK_ERRNO(ioctl(d4, NIOCTXSYNC, NULL), ENOTTY);
	close(pl);
	close(d4);
	int orig = tx->fd;
	close(orig);
	tx->fd = d1;	/* so that nmport_close closes the copy */
	CHECK(push(d2, tx->nifp, 4) == 4 && drain(rx) == 4, "original closed, copies work");
	CHECK(count_regs() == regs0, "registration kept while copies remain");
	close(d2);
	close(d3);

	/* fork: the child sends through the inherited fd, the parent closes
	 * its own copy meanwhile: the registration lives on in the child */
	int go[2];
	REQUIRE(pipe(go) == 0, "pipe");
	pid_t pid = fork();
	if (pid == 0) {
		char c;
		if (read(go[0], &c, 1) != 1)
			_exit(2);
		_exit(push(d1, tx->nifp, 9) == 9 ? 0 : 1);
	}
	close(d1);		/* parent gives up its copy first */
	CHECK(write(go[1], "x", 1) == 1, "go");
	int st = 0;
	waitpid(pid, &st, 0);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "child sent through inherited fd");
	CHECK(drain(rx) == 9, "frames from the child");
	unetmap_gc();
	CHECK(count_regs() == regs0 - 1, "registration gone with its last holder: %d vs %d",
	      count_regs(), regs0 - 1);

	/* exec: a netmap fd without O_CLOEXEC survives exec and is adopted */
	struct nmport_d *tx2 = nmport_open("netmap:dp{1");
	REQUIRE(tx2 != NULL, "reopen");
	int fl = fcntl(tx2->fd, F_GETFD);
	fcntl(tx2->fd, F_SETFD, fl & ~FD_CLOEXEC);
	char a2[16], a3[32], a4[32];
	snprintf(a2, sizeof(a2), "%d", tx2->fd);
	snprintf(a3, sizeof(a3), "%llu", (unsigned long long)tx2->reg.nr_memsize);
	snprintf(a4, sizeof(a4), "%llu", (unsigned long long)tx2->reg.nr_offset);
	pid = fork();
	if (pid == 0) {
		execl("/proc/self/exe", argv[0], "--exec-child", a2, a3, a4, (char *)NULL);
		_exit(3);
	}
	waitpid(pid, &st, 0);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "exec'd child used the fd (status %d)",
	      WEXITSTATUS(st));
	CHECK(drain(rx) == 7, "frames from the exec'd child");
	nmport_close(tx2);
	nmport_close(rx);
	tx->fd = -1;
	return t_done();
}
