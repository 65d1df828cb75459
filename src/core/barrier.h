/*
 * barrier.h - the memory-ordering vocabulary of unetmap.
 *
 * Every head/tail hand-off between two participants (processes or threads
 * that share a region) goes through these names, so each ordering decision
 * can be found with grep.  Definitions, as in the kernel's memory model:
 *
 *  - a RELEASE store makes every earlier load and store of this thread
 *    visible to whoever ACQUIREs the same location and reads that value;
 *  - an ACQUIRE load orders every later load and store after it.
 *
 * A producer fills slots then publishes its index with unm_store_release();
 * the consumer reads the index with unm_load_acquire() and only then reads
 * the slots.  The wake-up protocol (see sync.c) is a Dekker-style pair and
 * needs a full fence on both sides: unm_smp_mb().
 */
#ifndef UNETMAP_BARRIER_H
#define UNETMAP_BARRIER_H

#include <stdint.h>

#define UNM_READ_ONCE(x)	__atomic_load_n(&(x), __ATOMIC_RELAXED)
#define UNM_WRITE_ONCE(x, v)	__atomic_store_n(&(x), (v), __ATOMIC_RELAXED)
#define unm_load_acquire(p)	__atomic_load_n((p), __ATOMIC_ACQUIRE)
#define unm_store_release(p, v)	__atomic_store_n((p), (v), __ATOMIC_RELEASE)
/* Full barrier.  On x86-64 a locked add to the stack orders like mfence
 * for ordinary write-back memory and is cheaper (the kernel's smp_mb()
 * does the same).  ThreadSanitizer does not model fences, so under it a
 * sequentially consistent read-modify-write stands in. */
#if defined(__SANITIZE_THREAD__)
static inline void unm_smp_mb_rmw(void)
{
	static uint64_t word;
	__atomic_fetch_add(&word, 0, __ATOMIC_SEQ_CST);
}
#define unm_smp_mb()		unm_smp_mb_rmw()
#elif defined(__x86_64__)
#define unm_smp_mb()		__asm__ __volatile__("lock; addl $0,-4(%%rsp)" ::: "memory", "cc")
#else
#define unm_smp_mb()		__atomic_thread_fence(__ATOMIC_SEQ_CST)
#endif

/* Ask for a cache line we are about to write.  prefetchw fetches it in
 * exclusive state (a plain prefetch would get it shared and the store
 * would still wait for ownership); every x86-64 CPU since 2014 decodes it
 * (older ones as a no-op). */
#if defined(__x86_64__) && !defined(__SANITIZE_THREAD__)
#define unm_prefetchw(p)	__asm__ __volatile__("prefetchw %0" :: "m"(*(const char *)(p)))
#else
#define unm_prefetchw(p)	__builtin_prefetch((p), 1)
#endif

#define unm_likely(x)		__builtin_expect(!!(x), 1)
#define unm_unlikely(x)		__builtin_expect(!!(x), 0)

#define UNM_CACHELINE 64

#endif
