/* Shared helpers for unetmap test programs.
 * Exit codes: 0 pass, 1 fail, 77 skip (automake convention). */
#ifndef UNETMAP_TESTLIB_H
#define UNETMAP_TESTLIB_H
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <stdint.h>

#define T_PASS 0
#define T_FAIL 1
#define T_SKIP 77

static int t_failures;

#define CHECK(cond, ...) do { \
	if (!(cond)) { \
		fprintf(stderr, "%s:%d: CHECK(%s) failed: ", __FILE__, __LINE__, #cond); \
		fprintf(stderr, __VA_ARGS__); fputc('\n', stderr); \
		t_failures++; \
	} } while (0)
#define REQUIRE(cond, ...) do { \
	if (!(cond)) { \
		fprintf(stderr, "%s:%d: REQUIRE(%s) failed: ", __FILE__, __LINE__, #cond); \
		fprintf(stderr, __VA_ARGS__); fputc('\n', stderr); \
		exit(T_FAIL); \
	} } while (0)
/* expect a call to fail with -1 and a given errno */
#define CHECK_ERRNO(call, want) do { \
	errno = 0; long _r = (long)(call); int _e = errno; \
	if (_r != -1 || _e != (want)) { \
		fprintf(stderr, "%s:%d: %s: want -1/%s, got %ld/%s\n", __FILE__, __LINE__, \
			#call, strerror(want), _r, strerror(_e)); \
		t_failures++; \
	} } while (0)

static inline int64_t unm_test_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static char t_dir[256];

static void t_cleanup_dir(void)
{
	char cmd[300];
	if (t_dir[0] && getenv("UNETMAP_KEEP_DIR") == NULL) {
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", t_dir);
		if (system(cmd) != 0) { /* best effort */ }
	}
}

/* Give this test a private runtime directory so tests never share state,
 * and kill the whole test (children included) after a time limit. */
static inline void t_setup(unsigned timeout_s)
{
	snprintf(t_dir, sizeof(t_dir), "/dev/shm/unetmap-test.XXXXXX");
	if (mkdtemp(t_dir) == NULL) { perror("mkdtemp"); exit(T_FAIL); }
	setenv("UNETMAP_DIR", t_dir, 1);
	atexit(t_cleanup_dir);
	if (timeout_s) alarm(timeout_s);
}

static inline int t_done(void)
{
	if (t_failures) {
		fprintf(stderr, "%d check(s) failed\n", t_failures);
		return T_FAIL;
	}
	return T_PASS;
}
/* run a shell command built like printf: its exit status, 128 if it did
 * not exit, -1 if it could not run */
static inline int t_sh(const char *fmt, ...)
{
	char cmd[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	int r = system(cmd);
	return r == -1 ? -1 : WIFEXITED(r) ? WEXITSTATUS(r) : 128;
}

#endif
