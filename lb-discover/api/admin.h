/* admin: lb-discover's HTTP admin API (GET /admin/health, POST
 * /admin/backends, ...): a small HTTP/1.1 server in the event loop whose
 * routes call the same handlers as lb-ctl's control socket (command.h). */
#ifndef LB_DISCOVER_ADMIN_H
#define LB_DISCOVER_ADMIN_H

#include <stddef.h>
#include <sys/queue.h>

#include "core/discover.h"
#include "listener.h"

/* bytes of a request head and of a request body, at most (431, 413) */
#define ADMIN_MAX_HEAD 8192
#define ADMIN_MAX_BODY 4096
/* bytes a request may take in all (chunked framing included), at most */
#define ADMIN_MAX_REQUEST (ADMIN_MAX_HEAD + 2 * ADMIN_MAX_BODY)
/* seconds a client has to send its request */
#define ADMIN_REQUEST_TIMEOUT 10.0
/* connections at once; more are closed at accept */
#define ADMIN_MAX_CONNECTIONS 256
/* bytes of an --admin-token, at most */
#define ADMIN_TOKEN_MAX 4096

struct admin_conn;

struct admin {
	struct discover *d;
	struct listener listener;
	char *token;			/* the bearer token writes need; NULL: none */
	size_t nconns;
	LIST_HEAD(, admin_conn) conns;
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
/* Closes every connection (parked drains too) and the listener. */
void admin_release(struct admin *a);
/*
 * Reads an --admin-token FILE: its content without the trailing line
 * break, which must be 1 to ADMIN_TOKEN_MAX visible ASCII bytes. Returns a
 * malloc'd string, or NULL with err.
 */
char *admin_read_token(const char *path, char *err, size_t errsz);

#endif
