/*
 * runtime.c - runtime directory, error messages, small helpers.
 *
 * The library never prints unless asked: UNETMAP_VERBOSE=1 sends the
 * diagnostic of each failed request to stderr.  The last diagnostic of the
 * calling thread is always available from unetmap_last_error().
 */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/syscall.h>
#include <linux/capability.h>
#include "core/unm.h"
#include "unetmap.h"

int unm_verbose = -1;
static __thread char last_err[256];

const char *unm_dir(void)
{
	const char *d = getenv("UNETMAP_DIR");
	return (d != NULL && *d != '\0') ? d : "/dev/shm/unetmap";
}

int unm_path(char *buf, size_t len, const char *fmt, ...)
{
	int n = snprintf(buf, len, "%s/", unm_dir());
	if (n < 0 || (size_t)n >= len)
		return -ENAMETOOLONG;
	va_list ap;
	va_start(ap, fmt);
	int m = vsnprintf(buf + n, len - (size_t)n, fmt, ap);
	va_end(ap);
	if (m < 0 || (size_t)(n + m) >= len)
		return -ENAMETOOLONG;
	return 0;
}

void unm_seterr(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(last_err, sizeof(last_err), fmt, ap);
	va_end(ap);
	if (unm_verbose < 0) {
		const char *v = getenv("UNETMAP_VERBOSE");
		unm_verbose = v != NULL && atoi(v) > 0;
	}
	if (unm_verbose)
		fprintf(stderr, "unetmap: %s\n", last_err);
}

void unm_clearerr(void)
{
	last_err[0] = '\0';
}

const char *unetmap_last_error(void)
{
	return last_err;
}

int unetmap_drop_privileges(void)
{
	struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct d[2];
	memset(d, 0, sizeof(d));
	if (syscall(SYS_capget, &h, d) != 0)
		return -1;
	if ((d[0].effective | d[1].effective | d[0].permitted | d[1].permitted |
	     d[0].inheritable | d[1].inheritable) == 0)
		return 0;
	memset(d, 0, sizeof(d));
	return syscall(SYS_capset, &h, d) == 0 ? 0 : -1;
}

int64_t unm_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Is `pid` a running process?  A zombie (killed, not yet reaped) is not:
 * it holds no files and runs no code.  Slow paths only. */
bool unm_pid_alive(pid_t pid)
{
	if (pid <= 0)
		return false;
	if (kill(pid, 0) != 0 && errno != EPERM)
		return false;
	char path[64], buf[512];
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	FILE *f = fopen(path, "re");
	if (f == NULL)
		return true;	/* no procfs: trust kill() */
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	const char *rp = strrchr(buf, ')');
	if (rp == NULL || rp[1] != ' ')
		return true;
	return rp[2] != 'Z' && rp[2] != 'X';
}

/* Deterministic fault points for the crash tests: when UNETMAP_FAULT names
 * `point`, the process kills itself there (SIGKILL, as an external kill -9
 * would).  Control paths only. */
void unm_fault(const char *point)
{
	const char *want = getenv("UNETMAP_FAULT");
	if (want != NULL && strcmp(want, point) == 0)
		raise(SIGKILL);
}
