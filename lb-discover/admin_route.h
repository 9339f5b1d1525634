/* admin_route: what an admin API request asks for, from its method and
 * request target alone (no I/O: unit-tested in tests/unit/test_discover_admin_route.c). */
#ifndef LB_DISCOVER_ADMIN_ROUTE_H
#define LB_DISCOVER_ADMIN_ROUTE_H

#include <llhttp.h>
#include <stddef.h>

/* bytes of a decoded request path, at most */
#define ADMIN_PATH_MAX 512
/* seconds a drain?wait= may wait, at most */
#define ADMIN_WAIT_MAX 3600

/* What a route does; the reads first. */
enum admin_action {
	ADMIN_LIST = 0,		/* GET the backends (/admin/health, /admin/backends) */
	ADMIN_PROXIES,		/* GET the proxies */
	ADMIN_METRICS,		/* GET Prometheus text */
	ADMIN_ADD,		/* POST /admin/backends: the first write */
	ADMIN_REMOVE,		/* DELETE /admin/backends/{address} */
	ADMIN_DRAIN,		/* POST .../drain[?wait=S] */
	ADMIN_UNDRAIN,		/* POST .../undrain */
	ADMIN_WEIGHT,		/* PUT .../weight */
	ADMIN_UNEJECT,		/* POST .../uneject */
};

enum admin_route_status {
	ADMIN_ROUTE_OK = 0,		/* action (and address, wait) filled */
	ADMIN_ROUTE_NOT_FOUND,		/* no such path: 404 */
	ADMIN_ROUTE_NOT_ALLOWED,	/* the path does not take the method: 405 with allow */
	ADMIN_ROUTE_BAD,		/* bad percent-encoding or ?wait=: 400 with error (action
					 * filled when the path was understood) */
};

struct admin_route {
	enum admin_action action;
	int known_action;		/* action is filled (OK, and BAD past the path) */
	const char *allow;		/* the methods the path takes ("GET, HEAD") */
	char address[ADMIN_PATH_MAX];	/* {address}, percent-decoded; "" when none */
	double wait;			/* ?wait= of a drain; 0 when none */
	const char *error;		/* when BAD: why, for the answer */
	char path[ADMIN_PATH_MAX];	/* the decoded path */
};

/* 1 for an action that changes something (the token guards it). */
static inline int admin_action_writes(enum admin_action a) { return a >= ADMIN_ADD; }

/*
 * Routes `method` (llhttp's HTTP_GET ...) and the request target [target,
 * target + len). An {address} may itself hold slashes (http://10.0.0.9:8080):
 * the path's last segment says the action. HEAD is taken wherever GET is.
 * Returns r->status-like codes; owns nothing.
 */
enum admin_route_status admin_route_parse(int method, const char *target, size_t len,
					  struct admin_route *r);

#endif
