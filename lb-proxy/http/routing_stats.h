/* routing_stats: what the route table served counts: the requests each
 * compiled rule matched (a counter per rule in the snapshot, bumped by
 * routing_route without a lock: one loop) and those no rule matched; shown
 * by the admin API's GET /routes and /metrics
 * (lb_proxy_route_requests_total{route,rule}, lb_proxy_route_unmatched_total). */
#ifndef LB_PROXY_ROUTING_STATS_H
#define LB_PROXY_ROUTING_STATS_H

#include "buf.h"
#include "routing.h"

/*
 * Carries the counts of old (NULL: none) into next, which is about to
 * replace it: a rule of next that has the identity of one of old (the same
 * route namespace/name and rule index) starts at old's count; any other
 * starts at 0 (a new series, or a reset as Prometheus counters allow: a
 * rule removed and added again).
 */
void routing_stats_carry(const struct route_snapshot *old, struct route_snapshot *next);
/* The body of GET /routes: {"generation":G,"unmatched":N,"listeners":[..],
 * "routes":[..]} with each rule's hits (generation 0 and empty lists: no
 * table). Returns 0, or -1 when out of memory. */
int routing_stats_json(const struct proxy *px, struct buf *out);
/* The route series of /metrics (nothing while no table was ever served). */
void routing_stats_metrics(const struct proxy *px, struct buf *out);

#endif
