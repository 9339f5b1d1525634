/* metrics: lb-discover's view of the fleet in Prometheus text format (the
 * admin API's GET /admin/metrics). */
#ifndef LB_DISCOVER_METRICS_H
#define LB_DISCOVER_METRICS_H

#include "buf.h"
#include "core/discover.h"

/* Appends every series (per-backend state, weight and health checks, the
 * proxies' counters summed per backend, of the main service and of every
 * routed Service, each labelled with its service; per service the
 * generation, backends, ejections and proxies; each proxy's generation and
 * report age; the route table's) to out. Returns 0, or -1 when out of
 * memory. */
int metrics_render(struct discover *d, struct buf *out);

#endif
