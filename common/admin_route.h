/* admin_route: what an admin API request asks for, from its method and
 * request target alone (no I/O: unit-tested in tests/unit/test_discover_admin_route.c). */
#ifndef LB_ADMIN_ROUTE_H
#define LB_ADMIN_ROUTE_H

#include <llhttp.h>
#include <stddef.h>

#include "bus_protocol.h"

/* bytes of a request path (before '?'), at most: 414 past it */
#define ADMIN_PATH_MAX 512
/* segments of a request path, at most (more match no route) */
#define ADMIN_PATH_SEGMENTS 8
/* seconds a drain?wait= may wait, at most */
#define ADMIN_WAIT_MAX 3600

struct verb;

/* What a route does. */
enum admin_action {
	ADMIN_LIST = 0,		/* GET the backends (/admin/health, /admin/backends) */
	ADMIN_PROXIES,		/* GET the proxies */
	ADMIN_METRICS,		/* GET Prometheus text */
	ADMIN_PAGE,		/* GET the status page or one of its files (r->path: which) */
	ADMIN_EVENTS,		/* GET the status as server-sent events */
	ADMIN_VERB,		/* a verb's route (common/verbs.c): route->verb */
	ADMIN_ROUTES,		/* GET the route table served (lb-discover --routes/--gateway) */
};

enum admin_route_status {
	ADMIN_ROUTE_OK = 0,		/* action (and verb, address, wait) filled */
	ADMIN_ROUTE_NOT_FOUND,		/* no such path: 404 */
	ADMIN_ROUTE_NOT_ALLOWED,	/* the path does not take the method: 405 with allow */
	ADMIN_ROUTE_BAD,		/* bad percent-encoding, an address with a '/', ?wait=:
					 * 400 with error (action filled when the path was
					 * understood) */
	ADMIN_ROUTE_TOO_LONG,		/* the path is over ADMIN_PATH_MAX bytes: 414 */
};

struct admin_route {
	enum admin_action action;
	int known_action;		/* action is filled (OK, and BAD past the path) */
	const struct verb *verb;	/* ADMIN_VERB: the verb whose route it is */
	int address_in_path;		/* ADMIN_VERB: {address} was in the path */
	char allow[48];			/* the methods the path takes ("GET, HEAD") */
	char address[ADMIN_PATH_MAX + 1];	/* {address}, percent-decoded; "" when none */
	double wait;			/* ?wait= of a verb that waits (drain); 0 when none */
	/* ?service= of a verb, /admin/backends or /admin/proxies, percent-decoded:
	 * the routed Service it is about ("" when none: the main service) */
	char service[BUS_SERVICE_MAX];
	const char *error;		/* when BAD: why, for the answer */
	char path[ADMIN_PATH_MAX + 1];	/* the path, each segment percent-decoded */
};

/* 1 for a route that changes something (the token guards it). */
int admin_route_writes(const struct admin_route *r);

/*
 * Routes `method` (llhttp's HTTP_GET ...) and the request target [target,
 * target + len) (origin-form): the reads here, the verbs by their
 * http_method and http_path rows in common/verbs.c. The raw path is split
 * at its slashes first, then each segment is percent-decoded, so "%2F"
 * never makes a route: {address} is one segment, and one that decodes to
 * a '/' is refused (BAD). ?wait= takes decimal seconds only; ?service=
 * (verbs, /admin/backends, /admin/health, /admin/proxies) a percent-encoded
 * name. HEAD is taken
 * wherever GET is. Owns nothing.
 */
enum admin_route_status admin_route_parse(int method, const char *target, size_t len,
					  struct admin_route *r);

#endif
