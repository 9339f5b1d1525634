/* host_index: hostnames found without a scan: an open-addressing hash of
 * names (any case), exact names and "*.suffix" wildcards alike, so a Host
 * costs one probe for its exact name and one per dot for the wildcards,
 * longest first, whatever the count of names. A route listener's virtual
 * hosts use it (route_table_index, route.h); it picks what the scan picks
 * (fuzz_route checks both agree). */
#ifndef LB_HOST_INDEX_H
#define LB_HOST_INDEX_H

#include <stddef.h>

struct host_index;

/* An index of names[0..n) (NULL or "*": the catch-all; the strings are
 * not copied and must outlive it), or NULL when out of memory. */
struct host_index *host_index_new(const char *const *names, unsigned n);

/*
 * The name for host [host, host + len) (no port; NULL: no Host): the exact
 * name (any case), else the longest "*.suffix" that takes it (at least one
 * byte before the suffix's dot), else the first catch-all; its index in
 * names, or -1 when none. The first of equal names wins, as in a scan.
 */
int host_index_find(const struct host_index *ix, const char *host, size_t len);

/* Frees an index (NULL is fine). */
void host_index_free(struct host_index *ix);

#endif
