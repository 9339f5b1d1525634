/* admin_set: lb-proxy's admin API on its own set (--backends mode): the
 * same routes, bodies and answers as lb-discover's admin API (common/
 * admin_route.h, lb-discover/openapi.yaml): list, add, remove, drain (and
 * wait for it), undrain, weight, uneject. On the bus the set is
 * lb-discover's: the writes answer 409 naming where to send them. */
#ifndef LB_PROXY_ADMIN_SET_H
#define LB_PROXY_ADMIN_SET_H

#include <stddef.h>

#include "admin_route.h"
#include "buf.h"
#include "http/proxy.h"

/* bytes of a request body the admin API reads, at most (413 past it), as
 * lb-discover's */
#define ADMIN_SET_BODY_MAX 4096

/* A drain?wait= parked until the backend has nothing in flight. */
struct admin_set_wait {
	char address[64];
	unsigned long long generation;	/* the set that carried the drain */
	double deadline;		/* ev_now when it answers 202 */
};

enum admin_set_verdict {
	ADMIN_SET_ANSWERED = 0,	/* *status and out hold the answer */
	ADMIN_SET_PARKED,	/* a drain?wait= waits: admin_set_wait_check decides */
};

/*
 * Runs a write route (admin_route_writes(route)) on px's set, with the
 * request body [body, body + len) (NULL: none). Fills *status and out (a
 * JSON object: {"generation","address"}, or {"error"}), or parks a drain
 * with ?wait= whose backend still has requests in flight (*w filled).
 * `runtime_dir`: named in the 409 on the bus. Allocates the new set.
 */
enum admin_set_verdict admin_set_run(struct proxy *px, const struct admin_route *route,
				     const char *body, size_t len, const char *runtime_dir,
				     int *status, struct buf *out, struct admin_set_wait *w);
/* A parked wait at ev_now: 0 while it still waits (and `last` is 0), else
 * the status (200 drained, 202 the wait ran out, 409 the drain was undone
 * or the backend removed) with out filled. */
int admin_set_wait_check(struct proxy *px, const struct admin_set_wait *w, int last,
			 struct buf *out);
/* GET /admin/backends (and /admin/health): {"service","generation",
 * "backends":[...],"waiting":[]}, lb-discover's shape, from this proxy. */
void admin_set_list(struct proxy *px, struct buf *out);

#endif
