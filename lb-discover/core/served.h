/* served: one service lb-discover serves, as the per-service modules see it
 * (proxies.c, ejection.c, api/command.c, api/status.c): the main one (d->reg
 * and d->proxies) or a routed one (routed.h), each with its own registry,
 * generation and proxies' reports. */
#ifndef LB_DISCOVER_SERVED_H
#define LB_DISCOVER_SERVED_H

#include <stddef.h>

#include "discover.h"

struct served {
	struct registry *reg;
	struct proxy_report **proxies;	/* &d->proxies or &routed->proxies */
	size_t *nproxies;
	struct routed_service *routed;	/* NULL: the main service */
};

/* Fills sv with the main service, or with the routed Service rs. */
void served_main(struct discover *d, struct served *sv);
void served_routed(struct routed_service *rs, struct served *sv);
/* Fills sv with the service named: NULL, "" or the main service's name is
 * the main one, else a routed Service ("namespace/name:port"). Returns 0,
 * or -1 when lb-discover serves no such service. */
int served_find(struct discover *d, const char *name, struct served *sv);
/* Writes the names of the services served, the main one first ("backend,
 * default/api:80"), cut at size with "...", for an error naming them. */
void served_names(const struct discover *d, char *out, size_t size);
/* The commit point of sv: discover_commit() for the main service; for a
 * routed one, routed_commit() and, with `save`, the state file. Returns 1
 * when the set changed. */
int served_commit(struct discover *d, const struct served *sv, int save);

#endif
