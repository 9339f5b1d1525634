/* forward: the backend side of a session's request: which backend, the
 * connection to it (pooled or new), and what a failure means (retry, 502,
 * 503, 504). HAProxy's backend.c and nginx's upstream peer choice. */
#ifndef LB_PROXY_FORWARD_H
#define LB_PROXY_FORWARD_H

#include "session_state.h"

/*
 * What became of a request forward handled: the caller (exchange_act)
 * carries it out, as nothing here answers or closes.
 */
enum forward_verdict {
	FORWARD_GOING = 0,	/* on its way: connecting, relayed, backing off or queued */
	FORWARD_RETRY,		/* another attempt is due: reset the response side, then
				 * forward_retry() */
	FORWARD_CLOSE,		/* part of the response went out: cut the connection */
	FORWARD_NO_BACKENDS,	/* answer 503 "no backends available" */
	FORWARD_FAILED,		/* answer 502 "backend failed" */
	FORWARD_TIMED_OUT,	/* answer 504 "backend timed out" */
	FORWARD_NO_RESOURCES,	/* answer 503 "proxy out of resources" */
	FORWARD_OVERLOADED,	/* answer 503 overloaded (the queue is full, or the wait
				 * in it was too long) */
	FORWARD_DECLINED,	/* forward_retry_response(): not retried, relay the answer */
};

/* The callbacks forward attaches to the watchers of each backend connection
 * it gets (the session's: it sets them before its first forward_begin). */
void forward_set_callbacks(void (*on_read)(struct ev_loop *loop, ev_io *w, int revents),
			   void (*on_write)(struct ev_loop *loop, ev_io *w, int revents));
/* Picks a backend for s's request and gets a connection to it (the session
 * moves to SESSION_CONNECT or SESSION_EXCHANGE), waits in the queue when
 * every backend is at --max-per-backend (SESSION_QUEUED), or says which
 * answer is due (503). Returns the verdict. */
enum forward_verdict forward_begin(struct session *s);
/*
 * The backend failed: `reason` a short word for the access log (static:
 * "connect-refused", "reset", ...), `what` for the warning; `status` 502 or
 * 504 if the client must be told; `connect_error` when no connection was
 * made. The backend joins the request's tried list. FORWARD_RETRY (on
 * another backend) when nothing of the response came, the request can be
 * sent again, --retry-on names the reason (connect-failure, reset, or
 * timeout for a 504) and the budget allows; else the answer due, or
 * FORWARD_CLOSE when part of the response went out.
 */
enum forward_verdict forward_failed(struct session *s, const char *reason, const char *what,
				    int status, int connect_error);
/* After FORWARD_RETRY (the response side reset): counts the retry and
 * sends the request again, after the backoff delay (SESSION_BACKOFF) or at
 * once (forward_begin). Returns the verdict. */
enum forward_verdict forward_retry(struct session *s);
/*
 * The backend answered `status` (a final 5xx head, nothing of it sent to the
 * client yet): when --retry-on names it and the request may be sent again
 * (forward_failed's rules, for idempotent requests only), the answer is
 * dropped with its connection: FORWARD_RETRY. Else FORWARD_DECLINED: the
 * answer is to be relayed.
 */
enum forward_verdict forward_retry_response(struct session *s, int status);
/* s's timer fired while it waited in the queue (SESSION_QUEUED): woken for a
 * freed slot it picks a backend (forward_begin), else its queue timeout is
 * up: FORWARD_OVERLOADED. */
enum forward_verdict forward_dequeue(struct session *s);
/* s's request ended (answered or abandoned): it leaves the queue and the
 * in-flight counts of the retry budget. */
void forward_finish(struct session *s);
/* The access log's word for a socket error. */
const char *forward_reason(int err);
/* The connect to s's backend completed (write-ready in SESSION_CONNECT): on
 * success the exchange starts (a TLS handshake may go on first); a failure
 * is judged as forward_failed() does, or as a local error (503). Returns
 * the verdict. */
enum forward_verdict forward_connected(struct session *s);
/* Lets go of s's backend (its in-flight count and reference). */
void forward_release(struct session *s);
/* Forgets the backends the last request tried (their references go). */
void forward_forget(struct session *s);
/* Closes s's backend connection, if any. */
void forward_drop(struct session *s);

#endif
