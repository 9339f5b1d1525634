/* routed: the Services a Gateway's routes send to (lb-discover --routes),
 * each with its own registry, set generation and health checks, and the
 * route table published beside them on the bus (common/bus_routes.h).
 *
 * The sources layer fills it (sources/source_routes.c); core publishes it:
 * a new table or a changed service set at once, everything again at every
 * heartbeat (a proxy that joins late learns it within one). */
#ifndef LB_DISCOVER_ROUTED_H
#define LB_DISCOVER_ROUTED_H

#include <stddef.h>

#include <jansson.h>

#include "buf.h"
#include "bus_protocol.h"
#include "gateway.h"
#include "proxy_report.h"
#include "registry.h"
#include "route.h"

struct bus;

struct routed_service {
	struct registry reg;		/* reg.service: "namespace/name:port" */
	void *checks;			/* its health checks (sources/), or NULL */
	/* the last report of each proxy that serves it (core/proxies.c) */
	struct proxy_report *proxies;
	size_t nproxies;
	unsigned mark : 1;		/* listed by the last update */
	/* an appProtocol or lb.dev/balance it could not take, as written
	 * ("": none), logged when it changes and shown by GET /admin/routes */
	char bad_protocol[64], bad_balance[64];
};

struct routed {
	struct routed_service **list;
	size_t n;
	unsigned long long generation;	/* of the routes last published (0: none yet) */
	struct buf msg;			/* the routes message last published */
	struct buf table;		/* its table's encoding, to tell a change */
	unsigned rules, listeners;	/* of the table published */
	/* each route's status per parentRef, of the last compile published */
	struct gateway_parent_status *statuses;
	unsigned n_statuses;
	/* the state file's "services" not applied yet: each Service's
	 * overrides, taken by routed_get when it is created (NULL: none) */
	json_t *saved;
};

/* The service named, or NULL. */
struct routed_service *routed_find(struct routed *r, const char *name);
/* The service named, created (an empty registry whose first generation
 * follows the wall clock, so a restarted lb-discover publishes above what
 * the proxies hold, with its overrides from r->saved) when new; NULL when
 * out of memory or the name is too long. */
struct routed_service *routed_get(struct routed *r, const char *name);
/* The service's protocol and algorithm, published with its next commit
 * (a change is a new generation); bad_protocol, bad_balance: a value the
 * source had that could not be taken (NULL: none), logged once. */
void routed_settings(struct routed_service *s, const struct service_settings *settings,
		     const char *bad_protocol, const char *bad_balance);
/* Forgets every service not marked since routed_unmark(), calling
 * release(service) first for each (its health checks). */
void routed_unmark(struct routed *r);
void routed_sweep(struct routed *r, void (*release)(struct routed_service *s));

/* Commits a service's registry and publishes its set on pub, with the
 * count of proxies that report the service (`proxies`, the fleet's, until
 * one does); logs a change. */
void routed_commit(struct bus *pub, unsigned proxies, struct routed_service *s);
/* Publishes t when it differs from the table last published, under a new
 * generation (the first follows the wall clock in milliseconds, then +1).
 * Returns 1 when it was new, 0 when unchanged, -1 when it cannot be
 * encoded or is over the bus's size (logged; the last table stays). */
int routed_publish_table(struct routed *r, struct bus *pub, const struct route_table *t);
/* The heartbeat: the table and every service's set again. */
void routed_heartbeat(struct routed *r, struct bus *pub, unsigned proxies);
/* The digest of the table last published (16 hex digits, "" when none):
 * equal on two replicas that compiled the same documents, whatever their
 * generations (Programmed across replicas). out: at least 17 bytes. */
void routed_digest(const struct routed *r, char *out, size_t size);
/* Keeps a copy of the n statuses of the compile just published (for
 * GET /admin/routes); on a lack of memory the previous ones stay. */
void routed_keep_statuses(struct routed *r, const struct gateway_parent_status *st, unsigned n);
void routed_release(struct routed *r, void (*release)(struct routed_service *s));
/* The overrides of every service (live ones, then those of r->saved not
 * routed to yet) as the state file's "services": a new reference, or NULL
 * when none has any. */
json_t *routed_overrides(const struct routed *r);

#endif
