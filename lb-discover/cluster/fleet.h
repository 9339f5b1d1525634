/* fleet: in --kubernetes mode, the state every lb-discover replica shares:
 * the operator's overrides and the fleet's ejections, in one ConfigMap per
 * service (lb-state-SERVICE, the state document under "state.json"),
 * watched by every replica and written with optimistic concurrency (a
 * change is an operation, re-applied to the latest document on a 409). */
#ifndef LB_DISCOVER_FLEET_H
#define LB_DISCOVER_FLEET_H

#include <jansson.h>

#include "core/discover.h"
#include "core/fleet_op.h"

/* The key of the ConfigMap's data that holds the state document. */
#define FLEET_KEY "state.json"

struct fleet;
/*
 * Lists and watches lb-state-SERVICE (`service`: the Kubernetes Service)
 * through d->kube; applies it to d->reg as it changes (the ConfigMap wins
 * over the state file read at start-up) and creates it from d->reg when it
 * does not exist. NULL when out of memory.
 */
struct fleet *fleet_start(struct discover *d, const char *service, double watch_timeout);
void fleet_stop(struct fleet *f);
/* Records a change this replica made to d->reg (applied already): it is
 * written to the ConfigMap, and kept and re-applied until it is. f may be NULL. */
void fleet_record(struct fleet *f, const struct fleet_op *op);
/* 1 while changes of this replica are not in the ConfigMap yet (0 for f NULL). */
int fleet_pending(const struct fleet *f);
/* The shared state as `lb-ctl status` shows it (a new reference). */
json_t *fleet_json(const struct fleet *f);

#endif
