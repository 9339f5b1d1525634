/* admin_server: the admin API's HTTP/1.1 server in the event loop: one
 * request per connection, read within limits and a deadline, handed to its
 * handler, answered (now, or parked until the handler answers) and closed. */
#ifndef LB_DISCOVER_ADMIN_SERVER_H
#define LB_DISCOVER_ADMIN_SERVER_H

#include <ev.h>
#include <jansson.h>
#include <stddef.h>
#include <sys/queue.h>

#include "admin_trace.h"
#include "buf.h"
#include "bus_protocol.h"
#include "conn_guard.h"
#include "http_parser.h"
#include "http_request.h"
#include "listener.h"
#include "log.h"

/* bytes of a request head and of a request body, at most (431, 413) */
#define ADMIN_MAX_HEAD 8192
#define ADMIN_MAX_BODY 4096
/* bytes a request may take in all (chunked framing included), at most */
#define ADMIN_MAX_REQUEST (ADMIN_MAX_HEAD + 2 * ADMIN_MAX_BODY)
/* seconds a client has to send its request head (as HAProxy's `timeout
 * http-request`): 408 after it */
#define ADMIN_HEAD_TIMEOUT 2.0
/* seconds a client has to send its whole request (head and body), and an
 * answer to be taken */
#define ADMIN_REQUEST_TIMEOUT 10.0
/* connections at once; a new one evicts the oldest unfinished (not parked)
 * one, and is refused only when every one is a parked drain?wait= */
#define ADMIN_MAX_CONNECTIONS 256
/* connections from one client address at once; a new one evicts that
 * client's oldest unfinished one */
#define ADMIN_MAX_PER_CLIENT 16
/* seconds between two log lines about evicted or refused connections */
#define ADMIN_EVICT_LOG_INTERVAL 10.0
/* seconds between two calls of a parked request's on_wait */
#define ADMIN_WAIT_POLL 0.05
/* event streams (GET /events) at once; a new one closes the oldest (a live
 * EventSource reconnects). Streams are never evicted for other connections:
 * half of ADMIN_MAX_PER_CLIENT, so one client's streams leave it room */
#define ADMIN_MAX_STREAMS 8
/* bytes a stream may leave unsent, beyond the whole of the last thing sent
 * to it, when the next comes: past it the client is more than one event
 * behind, too slow, and is dropped, never buffered for */
#define ADMIN_STREAM_BACKLOG (256 * 1024)
/* bytes of a stream's socket send buffer (SO_SNDBUF): the kernel holds
 * little for a client that does not read, so the backlog shows it soon */
#define ADMIN_STREAM_SNDBUF (64 * 1024)

enum admin_conn_state {
	ADMIN_READING = 0,	/* the request's head and body */
	ADMIN_WAITING,		/* parked (a drain?wait=) until answered or its deadline */
	ADMIN_WRITING,		/* the answer; then the connection closes */
	ADMIN_STREAMING,	/* an event stream: answered, events sent until the client
				 * leaves, is too slow or the server stops */
};

struct admin_server;

struct admin_conn {
	struct admin_server *s;
	enum admin_conn_state state;
	int fd;
	ev_io io;
	ev_timer timer;		/* the head's deadline, the request's, then a wait's */
	double accepted;	/* ev_now at accept */
	struct conn_guard_slot slot;	/* its place in the server's caps */
	ev_timer poll;		/* a parked request's on_wait */
	/* the request stays whole in `in` (its spans point there): nothing is
	 * consumed from it, `parsed` says how much the parser has seen */
	struct buf in, out, body;
	size_t parsed;
	struct http_msg msg;
	struct http_route route;	/* of a whole request: its path, Host checked */
	/* what a parked request waits for, kept for its handler (the API's
	 * drain: the backend and the generation that drained it) */
	char address[BUS_ADDRESS_MAX];
	unsigned long long generation;
	/* of the backend ("": the main service); a stream's ?service= */
	char service[BUS_SERVICE_MAX];
	size_t last_sent;	/* a stream: bytes of the last admin_server_send */
	struct admin_trace trace;	/* a write's span (admin_trace.h) */
	LIST_ENTRY(admin_conn) link;
};

/* A whole request came (c->msg, c->body, c->route: HTTP/1.1 with one valid
 * Host, RFC 9112 3.2, else the server answered 400): the handler answers it with
 * admin_server_respond*() or parks it with admin_server_park(). */
typedef void (*admin_request_cb)(struct admin_conn *c, void *data);
/* A parked request's turn: every ADMIN_WAIT_POLL seconds, and once with
 * `last` at its deadline, when it must answer. */
typedef void (*admin_wait_cb)(struct admin_conn *c, int last, void *data);
/* Every answer as it is given (status, body[0, n)): the writes' spans. */
typedef void (*admin_answer_cb)(struct admin_conn *c, int status, const char *body, size_t n,
				void *data);

struct admin_server {
	struct ev_loop *loop;
	struct listener listener;
	admin_request_cb on_request;
	admin_wait_cb on_wait;
	admin_answer_cb on_answer;	/* NULL: none */
	void *data;
	struct conn_guard guard;	/* ADMIN_MAX_CONNECTIONS, ADMIN_MAX_PER_CLIENT */
	struct log_limit evict_log;
	struct log_limit stream_log;	/* streams dropped or replaced */
	size_t nstreams;		/* connections in ADMIN_STREAMING */
	unsigned long long streams_dropped;	/* too slow: ADMIN_STREAM_BACKLOG */
	LIST_HEAD(, admin_conn) conns;
};

/* Binds addr ("127.0.0.1:9902"; a name is resolved, it is start-up).
 * Returns 0, or -1 with err (listener_init's). */
int admin_server_init(struct admin_server *s, struct ev_loop *loop, const char *addr,
		      admin_request_cb on_request, admin_wait_cb on_wait, void *data, char *err,
		      size_t errsz);
/* Starts accepting; returns 0 or -1 (logged). */
int admin_server_start(struct admin_server *s);
/* Closes every connection and the listener; a parked request is answered
 * 503 (the server is stopping) first, as far as its socket takes it. */
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
/* Parks c for at most `seconds`: on_wait is called until it answers. A
 * parked connection is never evicted. */
void admin_server_park(struct admin_conn *c, double seconds);
/*
 * Answers c with the head of an endless body of type ctype (`extra`: "" or
 * header lines): no Content-Length, the body ends when the connection
 * closes (RFC 9112 6.3). c is then a stream: no deadline, never evicted,
 * closed when the client leaves. At ADMIN_MAX_STREAMS the oldest stream is
 * closed for it. A HEAD gets the head and the connection closes.
 */
void admin_server_stream(struct admin_conn *c, const char *ctype, const char *extra);
/* Queues [data, data + len) on stream c. A client that left more than the
 * last send and ADMIN_STREAM_BACKLOG bytes unsent is dropped (closed,
 * logged): returns -1 then (c is freed), else 0. data is copied. */
int admin_server_send(struct admin_conn *c, const char *data, size_t len);
/* admin_server_send() to every stream whose c->service is `service` (a
 * stream's ?service=, "" for none). */
void admin_server_broadcast_service(struct admin_server *s, const char *service,
				    const char *data, size_t len);

#endif
