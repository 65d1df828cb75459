/* Description: VALE switch permissions: a switch created by root with
 * umask 022 (file vale-NAME mode 0644) cannot be used by another user
 * (nobody): opening a port fails with EACCES/EPERM and a clear
 * unetmap_last_error(), and so do the counters and attaching a persistent
 * port; a switch created with umask 0 can be used by both.  Needs root. */
#include <grp.h>
#include <stdbool.h>
#include <dirent.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <libnetmap.h>
#include <unetmap.h>
#include "testlib.h"
#include "valetest.h"

#define NOBODY 65534

/* mode of the runtime-directory file whose name starts with prefix */
static int file_mode(const char *prefix)
{
	DIR *d = opendir(unetmap_dir());
	if (d == NULL)
		return -1;
	int mode = -1;
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		if (strncmp(e->d_name, prefix, strlen(prefix)) != 0)
			continue;
		char path[512];
		struct stat st;
		snprintf(path, sizeof(path), "%s/%s", unetmap_dir(), e->d_name);
		if (stat(path, &st) == 0)
			mode = st.st_mode & 07777;
		break;
	}
	closedir(d);
	return mode;
}

static bool denied(int e)
{
	return e == EACCES || e == EPERM;
}

/* runs as nobody; returns the number of failed checks */
static int as_nobody(void)
{
	nmctx_get()->verbose = 0;
	/* the switch created with umask 022 */
	errno = 0;
	struct nmport_d *d = nmport_open("vale0:nobody");
	int e = errno;
	const char *msg = unetmap_last_error();
	fprintf(stderr, "nobody opening vale0:nobody: %s; unetmap_last_error: \"%s\"\n",
		strerror(e), msg);
	CHECK(d == NULL && denied(e), "nobody opened a port of root's 0644 switch: %p %s",
	      (void *)d, strerror(e));
	CHECK(msg[0] != '\0', "no diagnostic in unetmap_last_error()");
	CHECK(strstr(msg, "vale0") != NULL, "diagnostic does not name the switch: \"%s\"", msg);
	if (d)
		nmport_close(d);
	/* raw REGISTER, and the port is not left behind */
	struct nmreq_register reg;
	memset(&reg, 0, sizeof(reg));
	reg.nr_mode = NR_REG_ALL_NIC;
	errno = 0;
	int r = t_ctl(NETMAP_REQ_REGISTER, "vale0:nobody2", &reg);
	CHECK(r < 0 && denied(errno), "raw REGISTER on vale0: %d %s", r, strerror(errno));
	/* the counters */
	struct unetmap_vale_port_stats st[4];
	r = unetmap_vale_stats("vale0", st, 4);
	CHECK(r == -EACCES, "unetmap_vale_stats(vale0) as nobody: %d (%s)", r,
	      r < 0 ? strerror(-r) : "success");
	/* attaching a persistent port of our own to root's switch */
	struct nmreq_vale_newif nb;
	memset(&nb, 0, sizeof(nb));
	nb.nr_tx_slots = nb.nr_rx_slots = 64;
	r = vt_newif("pnobody", &nb);
	CHECK(r == 0, "NEWIF as nobody: %s (%s)", strerror(errno), unetmap_last_error());
	if (r == 0) {
		errno = 0;
		r = vt_attach("vale0:pnobody", NULL);
		CHECK(r < 0 && denied(errno), "nobody attached a port to root's 0644 switch: %d %s",
		      r, strerror(errno));
		if (r == 0)
			vt_detach("vale0:pnobody", NULL);
		CHECK(vt_delif("pnobody") == 0, "DELIF: %s", strerror(errno));
	}

	/* the switch created with umask 0 is open to everybody */
	d = nmport_open("vale1:nobody");
	CHECK(d != NULL, "nobody on root's 0666 switch: %s (%s)", strerror(errno),
	      unetmap_last_error());
	if (d) {
		vt_send(d, vt_bcast, 0x42, 7, 60);
		nmport_close(d);
	}
	/* a switch of its own */
	d = nmport_open("vale2:nobody");
	CHECK(d != NULL, "nobody creating vale2: %s (%s)", strerror(errno), unetmap_last_error());
	if (d)
		nmport_close(d);
	return t_failures;
}

int main(void)
{
	if (geteuid() != 0) {
		printf("needs root (setuid to nobody)\n");
		return T_SKIP;
	}
	t_setup(60);
	REQUIRE(chmod(t_dir, 01777) == 0, "chmod %s: %s", t_dir, strerror(errno));
	umask(022);
	struct nmport_d *r0 = nmport_open("vale0:root");
	REQUIRE(r0 != NULL, "root opens vale0:root: %s", strerror(errno));
	int m = file_mode("vale-vale0");
	CHECK(m == 0644, "switch file vale-vale0* mode %o, want 644 (0666 & ~022)", m);
	umask(0);
	struct nmport_d *r1 = nmport_open("vale1:root");
	REQUIRE(r1 != NULL, "root opens vale1:root: %s", strerror(errno));
	m = file_mode("vale-vale1");
	CHECK(m == 0666, "switch file vale-vale1* mode %o, want 666", m);
	umask(022);

	pid_t pid = fork();
	REQUIRE(pid >= 0, "fork");
	if (pid == 0) {
		if (setgroups(0, NULL) != 0 || setgid(NOBODY) != 0 || setuid(NOBODY) != 0) {
			fprintf(stderr, "cannot become nobody: %s\n", strerror(errno));
			_exit(100);
		}
		_exit(as_nobody() ? 1 : 0);
	}
	int st = 0;
	REQUIRE(waitpid(pid, &st, 0) == pid, "waitpid");
	if (WIFEXITED(st) && WEXITSTATUS(st) == 100) {
		printf("cannot setuid to nobody here\n");
		return T_SKIP;
	}
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "checks as nobody failed (status %#x)", st);

	/* nothing of nobody's attempts is left on vale0; vale1 got its frame */
	struct unetmap_vale_port_stats ps[8];
	int n = unetmap_vale_stats("vale0", ps, 8);
	CHECK(n == 1, "vale0 has %d ports after nobody's attempts (want 1)", n);
	CHECK(vt_recv(r1, 0, NULL, 0, true) == 1, "root's port on vale1 got nobody's broadcast");
	CHECK(vt_recv(r0, 0, NULL, 0, true) == 0, "root's port on vale0 got frames");
	nmport_close(r0);
	nmport_close(r1);
	return t_done();
}
