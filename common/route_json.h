/* route_json: a compiled route table as JSON, for the admin APIs (lb-proxy's
 * GET /routes, lb-discover's GET /admin/routes) and lb-ctl routes: its
 * listeners and their virtual hosts, its routes, each rule's matches,
 * filters and backendRefs with weights. */
#ifndef LB_ROUTE_JSON_H
#define LB_ROUTE_JSON_H

#include "buf.h"
#include "route.h"

/*
 * Appends the members "listeners":[...],"routes":[...] (no braces: the
 * caller writes its own around them) for table t. hits (NULL: none) is one
 * counter per rule of t, written as each rule's "hits". A route's rules are
 * those that follow one another under its name. Returns 0, or -1 when out of
 * memory (out holds part of it).
 */
int route_json_table(const struct route_table *t, const unsigned long long *hits,
		     struct buf *out);

#endif
