/* forward: the backend side of a session's request: which backend, the
 * connection to it (pooled or new), and what a failure means (retry, 502,
 * 503, 504). HAProxy's backend.c and nginx's upstream peer choice. */
#ifndef LB_PROXY_FORWARD_H
#define LB_PROXY_FORWARD_H

#include "session.h"

/* Picks a backend for s's request and gets a connection to it (the session
 * moves to SESSION_CONNECT or SESSION_EXCHANGE), waits in the queue when
 * every backend is at --max-per-backend (SESSION_QUEUED), or queues the
 * proxy's own answer (503). Returns -1 when the session was closed, else 0. */
int forward_begin(struct session *s);
/*
 * The backend failed: `reason` a short word for the access log (static:
 * "connect-refused", "reset", ...), `what` for the warning; `status` 502 or
 * 504 if the client must be told; `connect_error` when no connection was
 * made. The backend joins the request's tried list. Retries on
 * another backend (after the backoff delay: SESSION_BACKOFF) when nothing
 * of the response came, the request can be sent again, --retry-on names the
 * reason (connect-failure, reset, or timeout for a 504) and the budget
 * allows; else answers, or closes when part of the response went out.
 * Returns -1 when the session was closed, else 0.
 */
int forward_failed(struct session *s, const char *reason, const char *what, int status,
		   int connect_error);
/*
 * The backend answered `status` (a final 5xx head, nothing of it sent to the
 * client yet): when --retry-on names it and the request may be sent again
 * (forward_failed's rules, for idempotent requests only), the answer is
 * dropped with its connection and the request goes to another backend.
 * Returns 1 when it did, 0 when the answer is to be relayed, -1 when the
 * session was closed.
 */
int forward_retry_response(struct session *s, int status);
/* s's timer fired while it waited in the queue (SESSION_QUEUED): woken for a
 * freed slot it picks a backend (forward_begin), else its queue timeout is
 * up and it gets 503 overloaded. Returns -1 when the session was closed. */
int forward_dequeue(struct session *s);
/* s's request ended (answered or abandoned): it leaves the queue and the
 * in-flight counts of the retry budget. */
void forward_finish(struct session *s);
/* The access log's word for a socket error. */
const char *forward_reason(int err);
/* The connect to s's backend completed (write-ready in SESSION_CONNECT): on
 * success the exchange starts; a failure is handled as forward_failed() does,
 * or as a local error (503). Returns -1 when the session was closed, else 0. */
int forward_connected(struct session *s);
/* Lets go of s's backend (its in-flight count and reference). */
void forward_release(struct session *s);
/* Forgets the backends the last request tried (their references go). */
void forward_forget(struct session *s);
/* Closes s's backend connection, if any. */
void forward_drop(struct session *s);

#endif
