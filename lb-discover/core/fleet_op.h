/* fleet_op: one change a replica made to its overrides or ejections, as the
 * other replicas re-apply it (core records it, cluster/fleet.c shares it). */
#ifndef LB_DISCOVER_FLEET_OP_H
#define LB_DISCOVER_FLEET_OP_H

#include "bus_protocol.h"

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
	/* "": the main service's backend (the document's "backends"); else the
	 * routed Service whose backend it is ("services": {NAME: {"backends"}}) */
	char service[BUS_SERVICE_MAX];
};

#endif
