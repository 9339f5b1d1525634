/* admin_server: the admin API's HTTP/1.1 server in the event loop: one
 * request per connection, read within limits and a deadline, handed to its
 * handler, answered (now, or parked until the handler answers) and closed. */
#ifndef LB_DISCOVER_ADMIN_SERVER_H
#define LB_DISCOVER_ADMIN_SERVER_H

#include <ev.h>
#include <jansson.h>
#include <stddef.h>
#include <sys/queue.h>

#include "buf.h"
#include "bus_protocol.h"
#include "http_parser.h"
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
/* seconds between two calls of a parked request's on_wait */
#define ADMIN_WAIT_POLL 0.05

enum admin_conn_state {
	ADMIN_READING = 0,	/* the request's head and body */
	ADMIN_WAITING,		/* parked (a drain?wait=) until answered or its deadline */
	ADMIN_WRITING,		/* the answer; then the connection closes */
};

struct admin_server;

struct admin_conn {
	struct admin_server *s;
	enum admin_conn_state state;
	int fd;
	ev_io io;
	ev_timer timer;		/* the request's deadline, then a wait's */
	ev_timer poll;		/* a parked request's on_wait */
	/* the request stays whole in `in` (its spans point there): nothing is
	 * consumed from it, `parsed` says how much the parser has seen */
	struct buf in, out, body;
	size_t parsed;
	struct http_msg msg;
	/* what a parked request waits for, kept for its handler (the API's
	 * drain: the backend and the generation that drained it) */
	char address[BUS_ADDRESS_MAX];
	unsigned long long generation;
	LIST_ENTRY(admin_conn) link;
};

/* A whole request came (c->msg, c->body): the handler answers it with
 * admin_server_respond*() or parks it with admin_server_park(). */
typedef void (*admin_request_cb)(struct admin_conn *c, void *data);
/* A parked request's turn: every ADMIN_WAIT_POLL seconds, and once with
 * `last` at its deadline, when it must answer. */
typedef void (*admin_wait_cb)(struct admin_conn *c, int last, void *data);

struct admin_server {
	struct ev_loop *loop;
	struct listener listener;
	admin_request_cb on_request;
	admin_wait_cb on_wait;
	void *data;
	size_t nconns;
	LIST_HEAD(, admin_conn) conns;
};

/* Binds addr ("127.0.0.1:9902"; a name is resolved, it is start-up).
 * Returns 0, or -1 with err (listener_init's). */
int admin_server_init(struct admin_server *s, struct ev_loop *loop, const char *addr,
		      admin_request_cb on_request, admin_wait_cb on_wait, void *data, char *err,
		      size_t errsz);
/* Starts accepting; returns 0 or -1 (logged). */
int admin_server_start(struct admin_server *s);
/* Closes every connection (parked ones too) and the listener. */
void admin_server_release(struct admin_server *s);
/* Queues the answer (no body for a HEAD) and closes once it is written.
 * `extra` is "" or header lines ("Allow: GET\r\n"). body is copied. */
void admin_server_respond(struct admin_conn *c, int status, const char *ctype, const char *body,
			  size_t len, const char *extra);
/* Answers a JSON document (stolen; NULL: a 500 "out of memory"). */
void admin_server_respond_json(struct admin_conn *c, int status, json_t *doc, const char *extra);
/* Answers {"error": msg}. */
void admin_server_respond_error(struct admin_conn *c, int status, const char *msg,
				const char *extra);
/* Parks c for at most `seconds`: on_wait is called until it answers. */
void admin_server_park(struct admin_conn *c, double seconds);

#endif
