/*
 * libnetmap contexts: error reporting, allocation and the lock that guards a
 * context's list of mapped regions.
 */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "libnetmap.h"

/* Longest message handed to an error callback, terminator included. */
#define NMCTX_MSG_MAX 1024

int nmctx_threadsafe = 1;

static void
nmctx_stderr_error(struct nmctx *ctx, const char *msg)
{
	(void)ctx;
	fprintf(stderr, "%s\n", msg);
}

static void *
nmctx_libc_malloc(struct nmctx *ctx, size_t size)
{
	(void)ctx;
	return malloc(size);
}

static void
nmctx_libc_free(struct nmctx *ctx, void *p)
{
	(void)ctx;
	free(p);
}

/*
 * One mutex for every context that uses this callback.  Keying the mutex on
 * the context pointer would break programs that copy a context (upstream's
 * pthread variant is itself a copy of the previous default), and the lock is
 * only held for list updates and one mmap(), so sharing it costs nothing.
 */
static pthread_mutex_t nmctx_mutex = PTHREAD_MUTEX_INITIALIZER;

static void
nmctx_mutex_lock(struct nmctx *ctx, int lock)
{
	(void)ctx;
	if (lock)
		pthread_mutex_lock(&nmctx_mutex);
	else
		pthread_mutex_unlock(&nmctx_mutex);
}

static struct nmctx nmctx_builtin = {
	.verbose = 1,
	.error = nmctx_stderr_error,
	.malloc = nmctx_libc_malloc,
	.free = nmctx_libc_free,
	.lock = nmctx_mutex_lock,
	.mem_descs = NULL,
};

/* Read and written with atomics so that a program may switch the default
 * while other threads open ports without a data race on the pointer. */
static struct nmctx *nmctx_default = &nmctx_builtin;

struct nmctx *
nmctx_get(void)
{
	return __atomic_load_n(&nmctx_default, __ATOMIC_ACQUIRE);
}

struct nmctx *
nmctx_set_default(struct nmctx *ctx)
{
	if (ctx == NULL)
		ctx = &nmctx_builtin;
	return __atomic_exchange_n(&nmctx_default, ctx, __ATOMIC_ACQ_REL);
}

void
nmctx_set_threadsafe(void)
{
	struct nmctx *ctx = nmctx_get();

	/* Only a context without its own lock gets ours: a program that
	 * installed a lock callback has already chosen its locking.  Like
	 * upstream, this is meant for start-up, before threads open ports. */
	if (ctx->lock == NULL)
		ctx->lock = nmctx_mutex_lock;
}

void
nmctx_ferror(struct nmctx *ctx, const char *fmt, ...)
{
	char msg[NMCTX_MSG_MAX];
	int saved_errno = errno;
	va_list ap;
	int n;

	if (ctx == NULL || !ctx->verbose || ctx->error == NULL)
		return;

	va_start(ap, fmt);
	n = vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (n < 0) {
		ctx->error(ctx, "libnetmap: cannot format error message");
	} else {
		/* An over-long message is cut and marked rather than dropped:
		 * its beginning usually names the port and the problem. */
		if ((size_t)n >= sizeof(msg)) {
			msg[sizeof(msg) - 4] = '.';
			msg[sizeof(msg) - 3] = '.';
			msg[sizeof(msg) - 2] = '.';
		}
		ctx->error(ctx, msg);
	}
	/* Callers set errno before reporting; a callback that prints must
	 * not change what the caller finally returns. */
	errno = saved_errno;
}

void *
nmctx_malloc(struct nmctx *ctx, size_t size)
{
	return ctx->malloc(ctx, size);
}

void
nmctx_free(struct nmctx *ctx, void *p)
{
	ctx->free(ctx, p);
}

void
nmctx_lock(struct nmctx *ctx)
{
	if (ctx->lock != NULL)
		ctx->lock(ctx, 1);
}

void
nmctx_unlock(struct nmctx *ctx)
{
	if (ctx->lock != NULL)
		ctx->lock(ctx, 0);
}
