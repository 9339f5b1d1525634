/* route_index: a listener's virtual hosts found by hostname without a scan:
 * an open-addressing hash of their hostnames (any case), exact names and
 * "*.suffix" wildcards alike, so a Host costs one probe for its exact name
 * and one per dot for the wildcards, longest first, whatever the count of
 * hostnames. Built when a table is applied (lb-proxy), read by route_match;
 * it finds what the linear scan finds (fuzz_route checks both agree). */
#ifndef LB_ROUTE_INDEX_H
#define LB_ROUTE_INDEX_H

#include <stddef.h>

#include "route.h"

/* Listeners with at most this many virtual hosts are scanned: a few
 * compares cost less than hashing. */
#define ROUTE_INDEX_MIN_VHOSTS 8

/* Builds an index for each listener of t with more than min_vhosts virtual
 * hosts (ROUTE_INDEX_MIN_VHOSTS; the others are scanned). Returns 0, or -1
 * when out of memory (those listeners stay without one: still right, only
 * slower). */
int route_index_build(struct route_table *t, unsigned min_vhosts);

/*
 * The virtual host of l for host [host, host + len) (no port; NULL: no
 * Host): the exact name, else the longest "*.suffix" that takes it, else
 * the first "*" one; NULL when none. The first of equal hostnames wins, as
 * in the scan. l must have an index.
 */
const struct route_vhost *route_index_find(const struct route_listener *l, const char *host,
					   size_t len);

/* Frees an index (NULL is fine). */
void route_index_free(struct route_vhost_index *ix);

#endif
