/* admin: lb-discover's HTTP admin API (GET /admin/health, POST
 * /admin/backends, ...): the token, the routes (admin_route.h) and what
 * they answer, over the HTTP server of admin_server.h; its writes call the
 * same handlers as lb-ctl's control socket (command.h). It serves the
 * status page (page.h) and its event stream (events.h) too. */
#ifndef LB_DISCOVER_ADMIN_H
#define LB_DISCOVER_ADMIN_H

#include <stddef.h>

#include "admin_server.h"
#include "events.h"
#include "admin_token.h"
#include "core/discover.h"


struct admin {
	struct discover *d;
	struct admin_server server;
	struct events events;		/* GET /events: the status page's feed */
	char *token;			/* the bearer token writes need; NULL: none */
};

/*
 * Binds the API at addr ("127.0.0.1:9902"; a name is resolved, it is
 * start-up). token (may be NULL) is copied. Without a token, addr must be
 * a loopback address unless `insecure`. Returns 0, or -1 with err (a
 * message naming the flag).
 */
int admin_init(struct admin *a, struct discover *d, const char *addr, const char *token,
	       int insecure, char *err, size_t errsz);
/* Starts accepting; returns 0 or -1 (logged). */
int admin_start(struct admin *a);
/* Closes every connection (parked drains too) and the listener; a no-op
 * on a struct admin zeroed and never initialized. */
void admin_release(struct admin *a);
/* Reads an --admin-token FILE (admin_token_read). */
char *admin_read_token(const char *path, char *err, size_t errsz);

#endif
