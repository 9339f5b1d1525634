/* routing_stats: what the route table served counts, shown: the requests each
 * compiled rule matched (a counter per rule in the snapshot, bumped by
 * routing_route without a lock: one loop) and those no rule matched; shown
 * by the admin API's GET /routes and /metrics
 * (lb_proxy_route_requests_total{route,rule}, lb_proxy_route_unmatched_total). */
#ifndef LB_PROXY_ROUTING_STATS_H
#define LB_PROXY_ROUTING_STATS_H

#include "buf.h"
#include "routing.h"

/* The body of GET /routes: {"generation":G,"unmatched":N,"listeners":[..],
 * "routes":[..],"services":[..]} with each rule's hits and each routed
 * Service's protocol and balance (generation 0 and empty lists: no table). Returns 0, or -1 when out of memory. */
int routing_stats_json(const struct proxy *px, struct buf *out);
/* The route series of /metrics (nothing while no table was ever served). */
void routing_stats_metrics(const struct proxy *px, struct buf *out);

#endif
