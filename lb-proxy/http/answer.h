/* answer: the proxy's own answers, in place of a backend's: its JSON errors
 * (400 ... 504), 503 overloaded, 429 rate limited, --monitor-uri's health,
 * --redirect-https's 308, and the 400 to plain HTTP on the TLS port. */
#ifndef LB_PROXY_ANSWER_H
#define LB_PROXY_ANSWER_H

#include "policy/ratelimit.h"
#include "session_state.h"

/*
 * Queues the proxy's own answer (a JSON body of n bytes; none to HEAD) in
 * place of a backend's and ends the exchange (the backend connection is
 * closed); the client connection stays open when `keep` and the whole
 * request was read. `fields`: more header field lines ("Retry-After:
 * 1\r\n"), or NULL. The body's bytes count in the access log's `bytes`.
 * Copies body and fields into s->out.
 */
void answer_json(struct session *s, int status, const char *body, size_t n, int keep,
		 const char *fields);
/* Queues {"error":message,"status":status,"requestId":...} as answer_json()
 * does; the client connection stays open unless `status` leaves the
 * request's framing in doubt (400, 408, 413, 431, 501, 505). */
void answer_error(struct session *s, int status, const char *message);
/* Queues 503 {"error":"overloaded"} with Retry-After (the queue is full or
 * the wait in it was too long); the connection stays open as answer_json(). */
void answer_overloaded(struct session *s);
/* Answers a request the proxy will not forward (the parser's or the route's
 * verdict: `status` 400, 413, 414, 431, 501 or 505) and closes the
 * connection after it; `reason` (static) goes to the access log. */
void answer_refuse(struct session *s, int status, const char *reason);
/* --monitor-uri: the proxy's own health, any method (as HAProxy answers
 * it), never forwarded; the connection stays open as the request asks. */
void answer_monitor(struct session *s);
/* --admin-path: an admin route on the traffic port, never forwarded
 * (px->admin_path_answer says what); `skip`: the prefix's bytes before its
 * last '/'. A request with a body is 400 (the writes that take one go to
 * the admin listener). The connection stays open as the request asks. */
void answer_admin_path(struct session *s, size_t skip);
/* --redirect-https: 308 to the same target on the TLS listener (RFC 9110
 * 15.4.9: the method and body are kept), or 400/414 when there is no Host
 * or the target is too long; the connection stays open as the request asks. */
void answer_redirect(struct session *s);
/* 429 with Retry-After and the RateLimit-* fields of v (--rate-limit). */
/* The answer to a CORS preflight (s->x->cors.kind CORS_PREFLIGHT): 200 with
 * the policy's fields when its origin is allowed, without them (but Vary)
 * when not; the request is never forwarded. */
void answer_preflight(struct session *s);
void answer_rate_limited(struct session *s, const struct ratelimit_verdict *v);
/* The answer to a plain HTTP request on the TLS port (nginx answers 400 as
 * well), then a lingering close (SESSION_CLOSING): the client sees why
 * instead of a reset. Returns 0, or -1 when no buffer could be had (the
 * caller closes s). */
int answer_plain_http(struct session *s);

#endif
