/**
 * @file unetmap.h
 * unetmap extensions to the netmap API (not part of upstream netmap).
 *
 * Everything here is optional: a netmap program never needs it.  Functions
 * return 0 or a negative errno unless documented otherwise.
 */
#ifndef UNETMAP_H
#define UNETMAP_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Diagnostic of the last failed unetmap request of the calling thread
 *  (e.g. which memory pool ran out); "" if none.  Never NULL. */
const char *unetmap_last_error(void);

/** Occupancy of one memory region (allocator). */
struct unetmap_mem_stats {
	uint16_t mem_id;
	uint64_t memsize;	/**< bytes an application maps */
	uint32_t if_total, if_free, if_size;
	uint32_t ring_total, ring_free, ring_size;
	uint32_t buf_total, buf_free, buf_size;
	uint32_t users;		/**< ports and registrations using it */
};

/** Fill @p st for region @p mem_id.  -EINVAL if no such region. */
int unetmap_mem_stats(uint16_t mem_id, struct unetmap_mem_stats *st);

/** Release now the registrations whose every holder has exited (this also
 *  happens on its own, lazily).  Returns the number released. */
int unetmap_gc(void);

/** What this process's netmap waits cost (counters since start). */
struct unetmap_proc_stats {
	uint64_t polls;		/**< poll()/ppoll() calls with a netmap fd */
	uint64_t sleeps;	/**< of those, how many slept in the kernel */
	uint64_t wakeups;	/**< wake-ups this process sent to sleepers */
};

/** Fill @p st with this process's counters.  Always 0. */
int unetmap_proc_stats(struct unetmap_proc_stats *st);

/** The runtime directory in use (UNETMAP_DIR or /dev/shm/unetmap). */
const char *unetmap_dir(void);

#ifdef __cplusplus
}
#endif
#endif
