/* route_view: GET /admin/routes and the control command "routes": the
 * route table lb-discover publishes (decoded from what went on the bus),
 * each backendRef's routed Service with its backend count, every route's
 * status per parentRef, and per proxy the routes generation it serves and
 * its admin API (where lb-ctl routes reads its hits). */
#ifndef LB_DISCOVER_ROUTE_VIEW_H
#define LB_DISCOVER_ROUTE_VIEW_H

#include <jansson.h>

#include "core/discover.h"

/* The document (a new reference; NULL when out of memory):
 * {"generation":G (0: no routes published),"listeners":[..],"routes":[..],
 *  "statuses":[..],"proxies":[..],"proxies_serving":N} */
json_t *route_view_json(const struct discover *d);

#endif
