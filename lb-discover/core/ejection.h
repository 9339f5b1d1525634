/* ejection: outlier ejection fleet-wide: lb-discover hears the proxies'
 * ejections in their reports, ejects the backend for every proxy (within
 * the fleet's max-percent, for a time that grows with the fleet's count),
 * keeps it half-open until a proxy's trial passes, and ends it on uneject. */
#ifndef LB_DISCOVER_EJECTION_H
#define LB_DISCOVER_EJECTION_H

#include "discover.h"
#include "served.h"

/*
 * Applies what one proxy's report says of its breakers (rep: validated,
 * of the service sv, main or routed: each has its own ejections): an ejection of its own ejects the backend fleet-wide
 * (or again, longer, when its half-open trial failed); a closed breaker at
 * a generation that carried the ejection, once it is half-open, ends it.
 * Publishes when something changed. Keeps nothing of rep.
 */
void ejection_report(struct discover *d, const struct served *sv, const struct bus_set *rep);
/* Ends e's ejection (the operator's uneject; the multiplier starts over).
 * Returns 1 when it was ejected. The caller publishes. */
int ejection_end(struct discover *d, struct entry *e);
/* Entries ejected now (open or half-open), of the published ones: of the
 * main service, of reg's. */
size_t ejection_count(const struct discover *d);
size_t ejection_count_in(const struct registry *reg);

#endif
