/* routing_hits: a route table's hit counters carried to the table that
 * replaces it (routing_apply), so lb_proxy_route_requests_total does not
 * go back for a rule that stays. */
#ifndef LB_PROXY_ROUTING_HITS_H
#define LB_PROXY_ROUTING_HITS_H

#include "route.h"

/*
 * Fills next_hits (one per rule of next, zeroed) from old_hits (one per
 * rule of old): a rule of next with the identity of one of old (the same
 * route namespace/name and rule index) starts at old's count; any other at
 * 0 (a new series, or a rule removed and added again: a counter reset, as
 * Prometheus allows).
 */
void routing_hits_carry(const struct route_table *old, const unsigned long long *old_hits,
			const struct route_table *next, unsigned long long *next_hits);

#endif
