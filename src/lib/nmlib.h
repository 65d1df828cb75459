/*
 * Internal declarations shared by the libnetmap sources (src/lib/).
 * Not installed; nothing here is exported from libunetmap.so.
 */
#ifndef UNETMAP_LIB_NMLIB_H
#define UNETMAP_LIB_NMLIB_H

#include <stdint.h>

#include "libnetmap.h"

#define NMLIB_HIDDEN __attribute__((visibility("hidden")))

/*
 * Parse a whole string as an unsigned decimal number no larger than @max.
 * Only digits are accepted (no sign, no spaces, no base prefix, not empty).
 * Returns 0 and stores the value, or -1 without touching errno.
 */
NMLIB_HIDDEN int nmlib_parse_uint(const char *s, uint64_t max, uint64_t *out);

#endif /* UNETMAP_LIB_NMLIB_H */
