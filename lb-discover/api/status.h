/* status: lb-discover's state as lb-ctl status and the admin API show it
 * (JSON documents rendered from the registry, the proxies' reports and,
 * in --kubernetes mode, the shared state and the replicas). */
#ifndef LB_DISCOVER_STATUS_H
#define LB_DISCOVER_STATUS_H

#include <jansson.h>

#include "core/discover.h"
#include "core/served.h"

/* The status document (lb-ctl status --json): with busy_only, per-proxy
 * lists keep only backends with requests in flight. A new reference, or
 * NULL when out of memory. */
json_t *status_json(struct discover *d, int busy_only);
/* The same document for any service sv (lb-ctl status --service): a routed
 * one's has its own backends, waiting overrides and proxies, "routed": true,
 * and no routes, shared state or replicas. */
json_t *status_json_of(struct discover *d, const struct served *sv, int busy_only);
/* The proxies as lb-ctl shows them (a new JSON array); with busy_only, each
 * proxy's per-backend list holds only backends with requests in flight. */
json_t *status_proxies(const struct discover *d, int busy_only);
/* The proxies that report sv, against sv's generations. */
json_t *status_proxies_of(const struct discover *d, const struct served *sv, int busy_only);
/* --routes / --gateway: the route table published (generation, listeners,
 * rules), the proxies serving it, each routed Service's generation and
 * backend count (a new reference); NULL without routes. */
json_t *status_routes(const struct discover *d);

#endif
