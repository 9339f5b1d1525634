/* fleet: in --kubernetes mode, the state every lb-discover replica shares:
 * the operator's overrides and the fleet's ejections, in one ConfigMap per
 * service (lb-state-SERVICE, the state document under "state.json"),
 * watched by every replica and written with optimistic concurrency (a
 * change is an operation, re-applied to the latest document on a 409). */
#ifndef LB_DISCOVER_FLEET_H
#define LB_DISCOVER_FLEET_H

#include <jansson.h>

#include "core/discover.h"

/* The key of the ConfigMap's data that holds the state document. */
#define FLEET_KEY "state.json"

/* What a replica changed: each is idempotent, so re-applying it to a newer
 * document after a conflict gives what the operator asked for. */
enum fleet_verb {
	FLEET_DRAIN = 0,	/* drained = true */
	FLEET_UNDRAIN,		/* drained = false */
	FLEET_ADD,		/* added = true, removed = false, the weight if given */
	FLEET_REMOVE,		/* removed = true, added = false */
	FLEET_WEIGHT,		/* weight = N */
	FLEET_UNEJECT,		/* the ejection ends (uneject, or a trial passed) */
	FLEET_EJECT,		/* ejected, unless the document has a later ejection */
	FLEET_FORGET,		/* the overrides expired: the backend leaves the document */
};

struct fleet_op {
	enum fleet_verb verb;
	char address[BUS_ADDRESS_MAX];
	int weight;			/* FLEET_ADD (0: none), FLEET_WEIGHT */
	double until;			/* FLEET_EJECT: wall clock */
	unsigned count;			/* FLEET_EJECT: the fleet's ejections of it */
	char reason[BUS_NAME_MAX];	/* FLEET_EJECT */
};

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
/* Applies one state document's overrides to r, replacing the ones it had
 * (exported for the unit tests). Returns 0, or -1 with err when the
 * document is not valid (then nothing changed). */
int fleet_apply_document(struct registry *r, json_t *doc, double now, char *err, size_t errsz);
/* Applies op to a state document (its "backends" list), as every replica
 * would (exported for the unit tests). Returns 0, or -1 out of memory. */
int fleet_apply_op(json_t *doc, const struct fleet_op *op);

#endif
