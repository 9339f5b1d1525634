/* cluster: the other replicas as core asks for them (struct discover_cluster,
 * core/discover.h): the shared state (fleet.c) and the Leases (replicas.c). */
#ifndef LB_DISCOVER_CLUSTER_H
#define LB_DISCOVER_CLUSTER_H

#include "core/discover.h"

/* The operations over d->fleet and d->replicas; main points d->cluster at
 * them once both are started (--kubernetes with shared state). */
extern const struct discover_cluster cluster_ops;

#endif
