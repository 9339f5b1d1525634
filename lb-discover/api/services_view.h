/* services_view: every service lb-discover serves, one summary each (the
 * status page's list of Services, /events): the main one first, then each
 * routed Service (lb-discover --routes, --gateway) in the routes' order. */
#ifndef LB_DISCOVER_SERVICES_VIEW_H
#define LB_DISCOVER_SERVICES_VIEW_H

#include <jansson.h>

#include "core/discover.h"

/* rows of the list at most: the main service, the one `selected` and the
 * first others; "services_total" says how many there are */
#define SERVICES_VIEW_MAX 100

/*
 * Adds to doc "services": [{"name","main","generation","backends","up",
 * "draining","down","ejected","active","requests","errors","responses_5xx",
 * "proxies","proxies_synced"}, ...] (the counters summed over the live
 * proxies' reports of the service) and "services_total". `selected` ("" or
 * NULL: none) is listed even past SERVICES_VIEW_MAX. Returns 0, or -1 when
 * out of memory.
 */
int services_view_add(struct discover *d, const char *selected, json_t *doc);

#endif
