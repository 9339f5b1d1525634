/* session: one client connection of lb-proxy, relaying its requests to backends.
 *
 * One request at a time: its head is rewritten for the backend, its body is
 * written to the backend straight from the client's read buffer as llhttp
 * frames it; the response goes back the same way. Pipelined requests wait in
 * the buffer, so responses keep their order. */
#include "session.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "forward.h"
#include "http_response.h"
#include "log.h"
#include "net.h"
#include "outcome.h"
#include "relay.h"
#include "routes.h"
#include "policy/sticky.h"
#include "timefmt.h"
#include "net/transport_tls.h"

#define LINGER_SECONDS 2.0
/* While the proxy stops, a connection idle for less than this is in use:
 * its next request comes soon and is answered with Connection: close, so
 * no random close is drawn before this much idleness (see idle_close_in). */
#define DRAIN_IN_USE_SECONDS 1.0
/* A response head stays in uin until it is whole, so it must hit its limit
 * (a 502) before uin holds RELAY_IN_LIMIT and reading stops (a stall). */
#define RESPONSE_HEAD_LIMIT HTTP_DEFAULT_MAX_HEADER_SIZE
_Static_assert(RESPONSE_HEAD_LIMIT + HTTP_READ_CHUNK <= RELAY_IN_LIMIT,
	       "response head limit too large");

static void pump(struct session *s);
static int resp_on_body(void *ctx, const char *at, size_t len);

#define EXCHANGE_POOL_MAX 4096

static struct exchange *exchange_pool;
static unsigned exchange_pooled;

static struct exchange *exchange_take(void)
{
	struct exchange *x = exchange_pool;

	if (x) {
		exchange_pool = x->next;
		exchange_pooled--;
		return x;
	}
	return malloc(sizeof(*x));
}

static void exchange_give(struct session *s)
{
	struct exchange *x = s->x;

	if (!x)
		return;
	s->x = NULL;
	if (exchange_pooled >= EXCHANGE_POOL_MAX) {
		free(x);
		return;
	}
	x->next = exchange_pool;
	exchange_pool = x;
	exchange_pooled++;
}

size_t session_cache_trim(unsigned exchanges, size_t blocks)
{
	size_t freed = 0;

	while (exchange_pooled > exchanges) {
		struct exchange *x = exchange_pool;

		exchange_pool = x->next;
		exchange_pooled--;
		free(x);
		freed++;
	}
	return freed + buf_cache_trim(blocks);
}

void session_cache_release(void)
{
	session_cache_trim(0, 0);
}

static void apply_timer(struct session *s)
{
	if (s->timer_dirty) {
		s->timer_dirty = 0;
		ev_timer_again(s->px->loop, &s->timer);
	}
}

static struct headers_ctx ctx_of(const struct session *s)
{
	struct headers_ctx ctx = {
		.client_ip = s->client_ip,
		.request_id = s->request_id,
		.request_id_len = s->request_id_len,
		.backend_name = s->be ? s->be->name : "localhost",
		.tunnel = s->tunnel_wanted,
		.tls = s->tr.ssl != NULL,
		.sticky_cookie = sticky_cookie(),
		.sticky_insert = s->sticky_insert,
		.rules = &s->px->header_rules,
	};
	return ctx;
}

/* " tried=A:why,B:why,C" when the request tried more than one backend: each
 * that failed with why, then the one that answered. */
static void tried_list(const struct session *s, char *out, size_t outsz)
{
	size_t n = 0;

	out[0] = '\0';
	if (s->x->pick.ntried == 0)
		return;
	n = (size_t)snprintf(out, outsz, " tried=");
	for (unsigned i = 0; i < s->x->pick.ntried && n < outsz; i++)
		n += (size_t)snprintf(out + n, outsz - n, "%s%s:%s", i ? "," : "",
				      s->x->pick.tried[i]->name, s->x->tried_why[i]);
	/* the one that answered, unless the proxy answered for the last one tried */
	if (s->be && s->be != s->x->pick.tried[s->x->pick.ntried - 1] && n < outsz)
		snprintf(out + n, outsz - n, ",%s", s->be->name);
}

/* One line per request. Values a client chooses (request, request_id) and
 * the TLS version are quoted, so --log-format json keeps them strings; the
 * numbers (status, duration_ms, bytes, retries) are JSON numbers. */
static void access_log(struct session *s)
{
	char tried[BALANCE_MAX_TRIED * 96];
	const char *tls = transport_tls_version(&s->tr);

	if (!s->px->opts->access_log)
		return;
	tried_list(s, tried, sizeof(tried));
	log_info("request",
		 "client=%s request=\"%s\" status=%d backend=%s duration_ms=%.3f bytes=%llu "
		 "retries=%d request_id=\"%.*s\"%s%s%s%s%s%s%s",
		 s->client_ip, s->target, s->status, s->be ? s->be->name : "-",
		 (timefmt_mono() - s->started) * 1000.0, s->bytes_out, s->retries,
		 (int)s->request_id_len, s->request_id, tried, s->refusal ? " refused=\"" : "",
		 s->refusal ? s->refusal : "", s->refusal ? "\"" : "", tls ? " tls=\"" : "",
		 tls ? tls : "", tls ? "\"" : "");
}

/* Clears the response side for a (new) attempt. */
void session_response_reset(struct session *s)
{
	if (s->x) {
		http_msg_init(&s->x->resp, HTTP_RESPONSE, RESPONSE_HEAD_LIMIT, resp_on_body, s);
		s->x->resp.skip_body = s->method == HTTP_HEAD;
	}
	buf_reset(&s->uin);
	s->uparse_off = s->usend_off = 0;
	s->resp_started = s->resp_head_done = s->resp_done = s->dechunk = 0;
	s->resp_timer = s->resp_interim = 0;
}

/* ---- answers of the proxy itself -------------------------------------------- */

static void goto_closing(struct session *s)
{
	/* Linger only when the client may still be sending (nginx's heuristic):
	 * closing with unread input would reset the connection and lose the
	 * answer. */
	s->linger = !(s->x && s->x->req.state == HTTP_MSG_DONE && !s->x->req.upgrade &&
		      s->parse_off == s->in.len);
	s->state = SESSION_CLOSING;
	session_set_timer(s, s->px->opts->idle_timeout);
}

/* Queues the proxy's own answer (a JSON body; none to HEAD) in place of a
 * backend's and ends the exchange; the client connection stays open when
 * `keep` and the whole request was read. `fields`: more header field lines
 * ("Retry-After: 1\r\n"), or NULL. The body's bytes count in the access
 * log's `bytes`. */
static void answer_own(struct session *s, int status, const char *body, size_t n, int keep,
		       const char *fields)
{
	struct headers_ctx ctx;

	keep = keep && s->keep_alive && s->req_done && !s->px->stopping;
	forward_drop(s);
	ctx = ctx_of(s);
	ctx.answer_fields = fields;
	buf_reset(&s->out);
	headers_answer(&s->out, status, "application/json", n, keep, &ctx);
	s->bytes_out = 0;
	if (s->method != HTTP_HEAD) {
		buf_append(&s->out, body, n);
		s->bytes_out = n;
	}
	s->status = status;
	s->keep_alive = keep;
	/* The rest of an unread body would be taken for the next request. */
	s->uparse_off = s->usend_off = 0;
	s->resp_done = 1;
	s->req_done = 1;
	s->send_off = s->parse_off;
	s->state = SESSION_EXCHANGE;
	s->again = 1;
}

/* The JSON error body of `status` into body (at least 384 bytes). */
static size_t error_body(const struct session *s, char *body, size_t size, int status,
			 const char *message)
{
	int n = snprintf(body, size, "{\"error\":\"%s\",\"status\":%d,\"requestId\":\"%.*s\"}",
			 message, status, (int)s->request_id_len, s->request_id);

	return n < 0 ? 0 : (size_t)n >= size ? size - 1 : (size_t)n;
}

/* Queues a JSON error answer and ends the exchange; the client connection
 * stays open only when the whole request was read. */
void session_answer_error(struct session *s, int status, const char *message)
{
	char body[384];
	size_t n = error_body(s, body, sizeof(body), status, message);

	/* A request the proxy refused leaves the connection's framing in doubt. */
	answer_own(s, status, body, n,
		   !(status == 400 || status == 408 || status == 431 || status == 413 ||
		     status == 501 || status == 505), NULL);
}

/* --monitor-uri: the proxy's own health, any method (as HAProxy answers
 * it), never forwarded; the connection stays open as the request asks. */
static void answer_monitor(struct session *s)
{
	char body[ROUTES_BODY_MAX];
	size_t n;
	int status = routes_monitor_answer(s->px, body, &n);

	s->req_done = s->x->req.state == HTTP_MSG_DONE;
	answer_own(s, status, body, n, 1, NULL);
}

static void refuse(struct session *s, int status, const char *reason);

/* --redirect-https: 308 to the same target on the TLS listener (RFC 9110
 * 15.4.9: the method and body are kept), never forwarded; the connection
 * stays open as the request asks, as the monitor's answer. */
static void answer_redirect(struct session *s)
{
	static char location[ROUTES_LOCATION_MAX];	/* copied into `out` at once */
	static const char body[] = "{\"status\":308,\"redirect\":\"https\"}";

	if (routes_redirect_location(location, sizeof(location), &s->x->req, &s->x->route,
				     s->px->tls_port) == -1) {
		refuse(s, s->x->route.has_authority ? 414 : 400,
		       s->x->route.has_authority ? "target too long to redirect"
						 : "no Host to redirect to");
		return;
	}
	s->req_done = s->x->req.state == HTTP_MSG_DONE;
	answer_own(s, 308, body, sizeof(body) - 1, 1, location);
}

/* A client told to come back: one second (HAProxy and Envoy send no
 * computed value either; a client with its own backoff keeps it). */
#define OVERLOADED_RETRY_AFTER "1"

void session_answer_overloaded(struct session *s)
{
	char body[384];
	size_t n = error_body(s, body, sizeof(body), 503, "overloaded");

	answer_own(s, 503, body, n, 1, "Retry-After: " OVERLOADED_RETRY_AFTER "\r\n");
}

/* Answers a request the proxy will not forward (the parser's or the route's
 * verdict) and closes the connection after it; `reason` goes to the access log. */
static void refuse(struct session *s, int status, const char *reason)
{
	const char *message = "bad request";

	if (status == 431)
		message = "request header fields too large";
	else if (status == 413)
		message = "request body too large";
	else if (status == 501)
		message = "not implemented";
	else if (status == 505)
		message = "HTTP version not supported";
	s->refusal = reason;
	s->keep_alive = 0;
	session_answer_error(s, status, message);
}

/* ---- end of an exchange --------------------------------------------------- */

/*
 * While the proxy stops, an idle connection is not closed at once (a
 * client may be sending on it that moment): it closes at its keep-alive
 * timeout or at a random moment of the drain timeout, whichever comes
 * first (HAProxy's close-spread-time), and a request that comes first is
 * answered with Connection: close. Not before it has been idle
 * DRAIN_IN_USE_SECONDS: a connection in use gets that answer within
 * moments, and a close drawn between two of its requests would race the
 * next one. A connection that has not carried a request yet was just
 * opened to send one: it waits for it as usual. `left` is what its
 * keep-alive timeout has left; returns the seconds until it closes.
 */
static double idle_close_in(const struct session *s, double left)
{
	double at = s->px->opts->drain_timeout * balance_random();
	double in_use = DRAIN_IN_USE_SECONDS - (ev_now(s->px->loop) - s->idle_since);

	if (!s->px->stopping || !s->served)
		return left;
	if (at < in_use)
		at = in_use;
	if (at >= left)
		return left;
	return at > 0.001 ? at : 0.001;
}

static void next_request(struct session *s)
{
	size_t rest = s->in.len - s->parse_off;

	memmove(s->in.data, s->in.data + s->parse_off, rest);
	s->in.len = rest;
	s->parse_off = s->send_off = s->body_start = 0;
	forward_forget(s);
	exchange_give(s);
	/* An idle connection keeps no read buffers. */
	if (rest == 0)
		buf_cache_give(&s->in);
	buf_cache_give(&s->uin);
	buf_reset(&s->up_head);
	s->req_done = s->req_sent_any = s->replayable = s->tunnel_wanted = 0;
	s->retries = 0;
	s->status = 0;
	s->method = -1;		/* none yet: an answer to a bad head has a body */
	s->bytes_out = 0;
	s->request_id_len = 0;
	s->refusal = NULL;
	s->sticky_insert = NULL;
	session_response_reset(s);
	s->state = SESSION_IDLE;
	s->served = 1;
	s->idle_since = ev_now(s->px->loop);
	session_set_timer(s, idle_close_in(s, s->px->opts->keepalive_timeout));
}

/* Everything of this exchange was written to the client. */
static void exchange_end(struct session *s)
{
	struct proxy *px = s->px;
	/* Pooled again only when both messages ended exactly where the bytes
	 * did, and no Upgrade left the backend's framing in doubt. */
	int reuse = s->up && s->req_done && buf_unread(&s->up_head) == 0 &&
		    s->send_off == s->parse_off && s->resp_done && !s->tunnel_wanted &&
		    http_msg_keep_alive(&s->x->resp) && s->uparse_off == s->uin.len;

	double took = timefmt_mono() - s->started;

	metrics_observe(&px->metrics, s->status, took);
	/* the proxy's own answer after a failure is not the backend's */
	outcome_record(px, s->be, s->resp_head_done ? OUTCOME_RESPONSE : OUTCOME_PROXY_ANSWER,
		       s->status, took);
	access_log(s);
	if (s->up) {
		if (reuse) {
			s->up->requests++;
			upstream_pool_put(s->up, px->stopping);
		} else {
			upstream_close(s->up);
		}
		s->up = NULL;
	}
	forward_release(s);
	forward_finish(s);
	/* A response that went out saying keep-alive keeps its promise while
	 * the proxy stops: the connection idles as the others do. */
	if (s->keep_alive) {
		next_request(s);
		return;
	}
	goto_closing(s);
}

/* ---- the exchange ------------------------------------------------------------------- */

/* While the request is sent, the idle timeout runs; once it is all sent,
 * the response timeout (see exchange_step). */
void session_exchange_start(struct session *s)
{
	s->state = SESSION_EXCHANGE;
	session_set_timer(s, s->px->opts->idle_timeout);
}

/* The request's hash key (--hash-key), for maglev and ring-hash. */
static void request_key(struct session *s)
{
	struct proxy *px = s->px;
	const struct http_msg *req = &s->x->req;
	const char *client = NULL, *key;
	size_t clen = 0, klen;

	if (px->hash_key.kind == HASHKEY_CLIENT_IP)
		client = hashkey_client_ip(&px->trusted, s->client_ip, req, &clen);
	s->x->pick.has_key = hashkey_find(&px->hash_key, req, &s->x->route, client, clen, &key, &klen);
	if (s->x->pick.has_key)
		s->x->pick.hash = balance_hash(key, klen);
}

/*
 * --rate-limit: takes one request from the bucket of the request's
 * --rate-key (a request without the header shares the bucket of the empty
 * key). Over the limit, answers 429 with Retry-After and the RateLimit-*
 * fields and returns 1; the connection stays usable when the whole request
 * (its body too) was read.
 */
static int rate_limited(struct session *s)
{
	struct proxy *px = s->px;
	const struct http_msg *req = &s->x->req;
	struct ratelimit_verdict v;
	const char *key = "";
	size_t klen = 0, n;
	char headers[192], body[384];

	if (px->rate_key.kind == HASHKEY_CLIENT_IP)
		key = hashkey_client_ip(&px->trusted, s->client_ip, req, &klen);
	else if (!hashkey_find(&px->rate_key, req, &s->x->route, NULL, 0, &key, &klen)) {
		key = "";
		klen = 0;
	}
	if (ratelimit_take(&px->rate, balance_hash(key, klen), ev_now(px->loop), &v))
		return 0;
	snprintf(headers, sizeof(headers),
		 "Retry-After: %lu\r\nRateLimit-Limit: %lu\r\nRateLimit-Remaining: %lu\r\n"
		 "RateLimit-Reset: %lu\r\n", v.retry_after, v.limit, v.remaining, v.reset);
	s->refusal = "rate limited";
	/* A body already read whole is skipped, so the connection goes on; one
	 * still to come closes it after the answer (as after a 503). */
	if (req->state == HTTP_MSG_BODY)
		s->parse_off += http_msg_feed(&s->x->req, s->in.data, s->parse_off,
					      s->in.len - s->parse_off);
	s->req_done = req->state == HTTP_MSG_DONE;
	n = error_body(s, body, sizeof(body), 429, "rate limited");
	answer_own(s, 429, body, n, 1, headers);
	return 1;
}

/* The request head is complete: decide, rewrite, connect. */
static int request_head(struct session *s)
{
	struct http_msg *req = &s->x->req;
	int rid = http_msg_find(req, "x-request-id");
	const char *method = llhttp_method_name(http_msg_method(req)), *reason;
	struct headers_ctx ctx;
	int status;

	s->started = timefmt_mono();
	s->method = http_msg_method(req);
	snprintf(s->target, sizeof(s->target), "%s %.*s", method,
		 (int)(req->url.len > 200 ? 200 : req->url.len), http_msg_ptr(req, req->url));
	if (rid >= 0 && headers_request_id_valid(http_msg_ptr(req, req->headers[rid].value),
						 req->headers[rid].value.len)) {
		s->request_id_len = req->headers[rid].value.len;
		memcpy(s->request_id, http_msg_ptr(req, req->headers[rid].value), s->request_id_len);
	} else {
		s->request_id_len = headers_request_id_new(s->request_id);
	}
	s->tunnel_wanted = req->upgrade;
	s->keep_alive = http_msg_keep_alive(req) && !s->px->stopping && !req->upgrade;
	status = http_request_route(req, &s->x->route, &reason);
	if (status) {
		refuse(s, status, reason);
		return 0;
	}
	if (routes_monitor_match(s->px->opts->monitor_uri, req, &s->x->route)) {
		answer_monitor(s);
		return 0;
	}
	if (s->via->redirect_https) {
		answer_redirect(s);
		return 0;
	}
	/* A declared body over --max-body is refused before anything is sent. */
	if (s->px->opts->max_body && (req->parser.flags & F_CONTENT_LENGTH) &&
	    req->parser.content_length > (uint64_t)s->px->opts->max_body) {
		refuse(s, 413, "Content-Length over --max-body");
		return 0;
	}
	if (s->px->rate_on && rate_limited(s))
		return 0;
	if (s->px->balancer.ops->uses_key)
		request_key(s);
	s->req_done = req->state == HTTP_MSG_DONE;
	s->body_start = s->send_off = req->head_end;
	s->replayable = 1;
	if (req->upgrade && req->state == HTTP_MSG_DONE)
		s->parse_off = req->head_end;	/* what follows is the tunnel's */
	s->x->resp.skip_body = s->method == HTTP_HEAD;
	buf_reset(&s->up_head);
	/* The backend is picked first: its name is the Host of HTTP/1.0 requests
	 * (of one that waits first, "localhost": the head is rewritten now,
	 * while the bytes it points to are surely in `in`). */
	s->be = NULL;
	s->in_flight = 1;
	s->px->requests_in_flight++;
	if (forward_begin(s) == -1)
		return -1;
	if (s->state == SESSION_CONNECT || s->state == SESSION_EXCHANGE ||
	    s->state == SESSION_BACKOFF || s->state == SESSION_QUEUED) {
		if (s->status == 0 && s->up_head.len == 0) {
			ctx = ctx_of(s);
			headers_request(&s->up_head, req, &s->x->route, &ctx);
		}
	}
	return 0;
}

static int resp_on_body(void *ctx, const char *at, size_t len)
{
	struct session *s = ctx;

	if (s->dechunk)
		return buf_append(&s->out, at, len) == -1 ? 500 : 0;
	return 0;
}

/* A response head is complete; returns -1 if the session closed. */
static int response_head(struct session *s)
{
	struct http_msg *resp = &s->x->resp;
	int status = http_msg_status(resp);
	struct headers_ctx ctx = ctx_of(s);

	if (status >= 100 && status < 200 && status != 101) {
		/* Interim (100 Continue, 103): pass it on, parse the final one. */
		http_msg_feed(resp, s->uin.data, s->uparse_off, 0);
		headers_response(&s->out, resp, &ctx, 0, 0);
		s->resp_interim = 1;
		s->usend_off = s->uparse_off;
		relay_uin_compact(s);
		s->usend_off = 0;
		http_msg_next(resp, 0);
		return 0;
	}
	if (status == 101) {
		if (!s->tunnel_wanted)
			return forward_failed(s, "bad-response", "101 to a request without Upgrade", 502, 0);
		headers_response(&s->out, resp, &ctx, 0, 0);
		s->status = 101;
		s->resp_head_done = 1;
		s->state = SESSION_TUNNEL;
		s->usend_off = resp->head_end;
		s->uparse_off = s->uin.len;
		s->parse_off = s->in.len;
		session_set_timer(s, s->px->opts->idle_timeout);
		return 0;
	}
	if (status >= 500) {
		int rc = forward_retry_response(s, status);

		if (rc != 0)
			return rc == -1 ? -1 : 0;
	}
	s->status = status;
	s->resp_head_done = 1;
	/* The request is unfinished, the body ends at close, or an HTTP/1.0
	 * response carried Transfer-Encoding (RFC 9112 6.1). */
	if (!s->req_done || resp->framing_close ||
	    (http_msg_has_body(resp) && !http_msg_chunked(resp) &&
	     !(resp->parser.flags & F_CONTENT_LENGTH)))
		s->keep_alive = 0;
	if (http_msg_minor(&s->x->req) == 0 && http_msg_chunked(resp)) {
		s->dechunk = 1;		/* HTTP/1.0 clients know no chunked coding */
		s->keep_alive = 0;
	}
	headers_response(&s->out, resp, &ctx, s->keep_alive, s->dechunk);
	s->usend_off = resp->head_end;
	if (s->dechunk)
		s->usend_off = s->uparse_off;
	session_set_timer(s, s->px->opts->idle_timeout);
	return 0;
}

/* Parses what the backend sent; returns -1 if the session closed. */
static int response_progress(struct session *s)
{
	while (!s->resp_done && s->state == SESSION_EXCHANGE) {
		enum http_msg_state before = s->x->resp.state;
		size_t avail = s->uin.len - s->uparse_off, used;

		if (before == HTTP_MSG_HEAD && avail == 0)
			return 0;
		used = http_msg_feed(&s->x->resp, s->uin.data, s->uparse_off, avail);
		s->uparse_off += used;
		if (s->x->resp.state == HTTP_MSG_ERROR)
			return forward_failed(s, "bad-response", s->x->resp.error_reason, 502, 0);
		if (before == HTTP_MSG_HEAD && s->x->resp.state != HTTP_MSG_HEAD) {
			if (response_head(s) == -1)
				return -1;
			continue;
		}
		if (s->dechunk)
			s->usend_off = s->uparse_off;
		if (s->x->resp.state == HTTP_MSG_DONE) {
			s->resp_done = 1;
			return 0;
		}
		if (used == 0)
			return 0;
	}
	return 0;
}

/* One pass over an exchange; returns -1 if the session closed. */
static int exchange_step(struct session *s)
{
	if (!s->req_done && s->parse_off < s->in.len) {
		size_t used = http_msg_feed(&s->x->req, s->in.data, s->parse_off, s->in.len - s->parse_off);

		s->parse_off += used;
		if (s->x->req.state == HTTP_MSG_DONE)
			s->req_done = 1;
		else if (s->x->req.state == HTTP_MSG_ERROR) {
			if (s->resp_head_done) {
				session_close(s);
				return -1;
			}
			s->req_done = 1;
			refuse(s, s->x->req.error_status, s->x->req.error_reason);
			return 0;
		}
	}
	if (s->up && !s->up_blocked && relay_upstream_flush(s) == -1)
		return forward_failed(s, forward_reason(errno), strerror(errno), 502, 0);
	if (!s->resp_timer && !s->resp_head_done && s->req_done && buf_unread(&s->up_head) == 0 &&
	    s->send_off == s->parse_off && s->up) {
		s->resp_timer = 1;
		session_set_timer(s, s->px->opts->per_try_timeout);
	}
	if (response_progress(s) == -1)
		return -1;
	if (s->state != SESSION_EXCHANGE)
		return 0;
	if (relay_client_flush(s) == -1) {
		s->px->metrics.client_aborts++;
		session_close(s);
		return -1;
	}
	if (s->resp_done && !s->client_blocked && buf_unread(&s->out) == 0 &&
	    s->usend_off == s->uparse_off)
		exchange_end(s);
	else
		relay_uin_compact(s);
	return 0;
}

/* --max-body for a chunked body, as it is parsed: past the limit the
 * parser stops with 413 (exchange_step answers it, or cuts the exchange). */
static int req_on_body(void *ctx, const char *at, size_t len)
{
	struct session *s = ctx;

	(void)at;
	s->body_bytes += len;
	return s->body_bytes > (unsigned long long)s->px->opts->max_body ? 413 : 0;
}

/* Reads the next request head; returns -1 if the session closed. */
static int request_step(struct session *s)
{
	size_t used;

	if (s->parse_off == s->in.len)
		return 0;
	if (!s->x) {
		s->x = exchange_take();
		if (!s->x) {
			session_close(s);
			return -1;
		}
		/* Bodies are forwarded as framed; they are only counted when
		 * --max-body asks for it. */
		http_msg_init(&s->x->req, HTTP_REQUEST, (size_t)s->px->opts->max_header_size,
			      s->px->opts->max_body ? req_on_body : NULL, s);
		s->body_bytes = 0;
		s->x->pick.ntried = 0;
		s->x->pick.has_key = 0;
		session_response_reset(s);
	}
	used = http_msg_feed(&s->x->req, s->in.data, s->parse_off, s->in.len - s->parse_off);
	s->parse_off += used;
	switch (s->x->req.state) {
	case HTTP_MSG_HEAD:
		if (s->state == SESSION_IDLE) {
			s->state = SESSION_HEAD;
			session_set_timer(s, s->px->opts->header_timeout);
		}
		return 0;
	case HTTP_MSG_DONE:
		return request_head(s);
	case HTTP_MSG_BODY:
		/* A body-less request completes on an empty feed, and framing
		 * errors (Transfer-Encoding) show there. */
		http_msg_feed(&s->x->req, s->in.data, s->parse_off, 0);
		if (s->x->req.state != HTTP_MSG_ERROR)
			return request_head(s);
		/* fall through */
	case HTTP_MSG_ERROR:
		s->started = timefmt_mono();
		snprintf(s->target, sizeof(s->target), "-");
		s->request_id_len = headers_request_id_new(s->request_id);
		s->keep_alive = 0;
		refuse(s, s->x->req.error_status, s->x->req.error_reason);
		return 0;
	}
	return 0;
}

static int tunnel_step(struct session *s)
{
	if (s->up && !s->up_blocked && relay_upstream_flush(s) == -1) {
		session_close(s);
		return -1;
	}
	if (relay_client_flush(s) == -1) {
		session_close(s);
		return -1;
	}
	relay_in_compact(s);
	relay_uin_compact(s);
	return 0;
}

static void update_watchers(struct session *s)
{
	struct ev_loop *loop = s->px->loop;
	int cread = 0, cwrite = s->client_blocked, uread = 0;

	switch (s->state) {
	case SESSION_HANDSHAKE:
		cread = s->tr.read_want == TRANSPORT_WANT_READ;
		cwrite = s->tr.read_want == TRANSPORT_WANT_WRITE;
		break;
	case SESSION_IDLE:
	case SESSION_HEAD:
		cread = !s->client_eof;
		break;
	case SESSION_BACKOFF:
	case SESSION_QUEUED:
		/* Armed, so a client that goes away while it waits is seen. */
		cread = !s->client_eof && s->in.len - s->send_off < RELAY_IN_LIMIT;
		break;
	case SESSION_CONNECT:
	case SESSION_EXCHANGE:
		/* An armed watcher stays armed (pipelined bytes wait in `in`): no
		 * epoll_ctl per request. One never armed (the request was read
		 * speculatively) is not armed just to wait for the response. */
		cread = !s->client_eof && s->in.len - s->send_off < RELAY_IN_LIMIT &&
			(!s->req_done || ev_is_active(&s->rio));
		uread = s->state == SESSION_EXCHANGE && !s->resp_done &&
			s->uin.len - s->usend_off < RELAY_IN_LIMIT;
		break;
	case SESSION_TUNNEL:
		cread = s->in.len - s->send_off < RELAY_IN_LIMIT;
		uread = s->uin.len - s->usend_off < RELAY_IN_LIMIT;
		break;
	case SESSION_CLOSING:
		break;
	case SESSION_LINGER:
		cread = 1;
		break;
	}
	/* TLS: a read that waits for the fd to be writable, or a write that
	 * waits for it to be readable, arms the other watcher. */
	if (s->tr.read_want == TRANSPORT_WANT_WRITE && s->state != SESSION_HANDSHAKE) {
		cwrite |= cread;
		cread = 0;
	}
	if (s->client_blocked && s->tr.write_want == TRANSPORT_WANT_READ) {
		cread = 1;
		cwrite = 0;
	}
	apply_timer(s);
	if (cread) {
		ev_io_start(loop, &s->rio);
		/* Bytes TLS already holds: the kernel will not signal them. */
		if (transport_pending(&s->tr))
			ev_feed_event(loop, &s->rio, EV_READ);
	} else {
		ev_io_stop(loop, &s->rio);
	}
	if (cwrite)
		ev_io_start(loop, &s->wio);
	else
		ev_io_stop(loop, &s->wio);
	if (s->up) {
		struct transport *ut = &s->up->tr;
		int uwrite = s->up_blocked || s->state == SESSION_CONNECT;

		/* --backend-tls: the handshake, or a read or write, may wait for
		 * the other direction (never for a plain socket) */
		if (s->state == SESSION_CONNECT) {
			if (ut->read_want == TRANSPORT_WANT_READ) {
				uread = 1;
				uwrite = 0;
			}
		} else if (ut->read_want == TRANSPORT_WANT_WRITE && uread) {
			uwrite = 1;
			uread = 0;
		} else if (s->up_blocked && ut->write_want == TRANSPORT_WANT_READ) {
			uread = 1;
			uwrite = 0;
		}
		if (uread) {
			ev_io_start(loop, &s->up->rio);
			if (transport_pending(ut))
				ev_feed_event(loop, &s->up->rio, EV_READ);
		} else {
			ev_io_stop(loop, &s->up->rio);
		}
		if (uwrite)
			ev_io_start(loop, &s->up->wio);
		else
			ev_io_stop(loop, &s->up->wio);
	}
}

static void linger(struct session *s)
{
	s->state = SESSION_LINGER;
	transport_shutdown_write(&s->tr);
	s->in.len = s->parse_off = s->send_off = 0;
	session_set_timer(s, LINGER_SECONDS);
}

static void pump(struct session *s)
{
	for (int round = 0; round < 1000; round++) {
		enum session_state before = s->state;
		int rc = 0;

		s->again = 0;

		switch (s->state) {
		case SESSION_IDLE:
		case SESSION_HEAD:
			rc = request_step(s);
			break;
		case SESSION_HANDSHAKE:	/* handshake_step drives it */
		case SESSION_CONNECT:
		case SESSION_BACKOFF:	/* the timer drives these */
		case SESSION_QUEUED:
			break;
		case SESSION_EXCHANGE:
			rc = exchange_step(s);
			break;
		case SESSION_TUNNEL:
			rc = tunnel_step(s);
			break;
		case SESSION_CLOSING:
			if (relay_client_flush(s) == -1) {
				session_close(s);
				return;
			}
			if (s->client_blocked)
				break;
			if (!s->linger) {
				session_close(s);
				return;
			}
			linger(s);
			break;
		case SESSION_LINGER:
			break;
		}
		if (rc == -1)
			return;
		if (s->state == before && !s->again)
			break;
	}
	update_watchers(s);
}

/* ---- the TLS handshake ------------------------------------------------------------------ */

static void client_on_read(struct ev_loop *loop, ev_io *w, int revents);

/* The answer to a plain HTTP request on the TLS port (nginx answers 400 as
 * well), then a lingering close: the client sees why instead of a reset. */
static void answer_plain_http(struct session *s)
{
	static const char answer[] = "HTTP/1.1 400 Bad Request\r\n"
				     "Content-Type: text/plain\r\n"
				     "Content-Length: 41\r\n"
				     "Connection: close\r\n\r\n"
				     "this port speaks TLS: use https:// here\r\n";

	transport_tls_to_plain(&s->tr);
	buf_reset(&s->out);
	if (buf_append(&s->out, answer, sizeof(answer) - 1) == -1) {
		session_close(s);
		return;
	}
	s->linger = 1;
	s->state = SESSION_CLOSING;
	session_set_timer(s, s->px->opts->idle_timeout);
	pump(s);
}

/* Advances the handshake; once done the session waits for a request as a
 * new plain connection does (and reads at once: it often came along). */
static void handshake_step(struct session *s)
{
	int rc = transport_tls_handshake(&s->tr);

	if (rc == 0) {
		update_watchers(s);
		return;
	}
	if (rc == -1) {
		log_debug("tls handshake failed", "client=%s error=\"%s\"", s->client_ip,
			  s->tr.plain_http ? "plain HTTP request" : strerror(errno));
		if (s->tr.plain_http)
			answer_plain_http(s);
		else
			session_close(s);
		return;
	}
	s->state = SESSION_IDLE;
	ev_io_stop(s->px->loop, &s->wio);	/* armed if the handshake waited to write */
	session_set_timer(s, idle_close_in(s, s->px->opts->keepalive_timeout));
	apply_timer(s);
	client_on_read(s->px->loop, &s->rio, EV_READ);
}

/* ---- event callbacks ------------------------------------------------------------------ */

static void client_on_read(struct ev_loop *loop, ev_io *w, int revents)
{
	struct session *s = w->data;
	ssize_t n;
	(void)revents;

	if (s->state == SESSION_HANDSHAKE) {
		handshake_step(s);
		return;
	}
	if (s->client_blocked && s->tr.write_want == TRANSPORT_WANT_READ) {
		/* A TLS write waited for this: retry it once the read is done. */
		s->tr.write_want = TRANSPORT_WANT_NONE;
		ev_feed_event(loop, &s->wio, EV_WRITE);
	}
	if (s->in.cap - s->in.len < HTTP_READ_CHUNK)
		relay_in_compact(s);
	n = relay_read(s, &s->tr, &s->in);
	if (n == -2) {
		session_close(s);
		return;
	}
	if (n == -1) {
		if (errno == EAGAIN || errno == EINTR) {
			/* nothing came (a speculative read): an idle connection
			 * keeps no read block */
			if (s->in.len == 0)
				buf_cache_give(&s->in);
			if (!ev_is_active(&s->rio))
				ev_io_start(s->px->loop, &s->rio);
			return;
		}
		n = 0;
	}
	if (n == 0) {
		s->client_eof = 1;
		if (s->state == SESSION_LINGER || s->state == SESSION_IDLE || s->state == SESSION_HEAD ||
		    s->state == SESSION_TUNNEL || s->state == SESSION_QUEUED ||
		    s->state == SESSION_BACKOFF || !s->req_done) {
			if (s->state == SESSION_CONNECT || s->state == SESSION_EXCHANGE ||
			    s->state == SESSION_QUEUED || s->state == SESSION_BACKOFF)
				s->px->metrics.client_aborts++;
			session_close(s);
			return;
		}
		s->keep_alive = 0;	/* answer what was asked, then close */
		update_watchers(s);
		return;
	}
	if (s->state == SESSION_LINGER) {
		s->in.len = 0;
		return;
	}
	s->in.len += (size_t)n;
	if (s->state == SESSION_TUNNEL) {
		s->parse_off = s->in.len;
		session_set_timer(s, s->px->opts->idle_timeout);
	} else if (s->state == SESSION_EXCHANGE && !s->resp_timer) {
		ev_timer_again(loop, &s->timer);	/* an upload is making progress */
	}
	pump(s);
}

static void client_on_write(struct ev_loop *loop, ev_io *w, int revents)
{
	struct session *s = w->data;
	(void)revents;

	if (s->state == SESSION_HANDSHAKE) {
		handshake_step(s);
		return;
	}
	if (s->tr.read_want == TRANSPORT_WANT_WRITE) {
		/* A TLS read waited for this: retry it after the writes. */
		s->tr.read_want = TRANSPORT_WANT_NONE;
		ev_feed_event(loop, &s->rio, EV_READ);
	}
	s->client_blocked = 0;
	pump(s);
}

void session_upstream_on_read(struct ev_loop *loop, ev_io *w, int revents)
{
	struct session *s = w->data;
	ssize_t n;
	(void)revents;

	if (s->state == SESSION_CONNECT) {
		/* a TLS handshake with the backend waited to read */
		if (forward_connected(s) == 0)
			pump(s);
		return;
	}
	if (s->up_blocked && s->up->tr.write_want == TRANSPORT_WANT_READ) {
		/* A TLS write waited for this: retry it once the read is done. */
		s->up->tr.write_want = TRANSPORT_WANT_NONE;
		ev_feed_event(loop, &s->up->wio, EV_WRITE);
	}
	if (s->uin.cap - s->uin.len < HTTP_READ_CHUNK)
		relay_uin_compact(s);
	n = relay_read(s, &s->up->tr, &s->uin);
	if (n == -2) {
		session_close(s);
		return;
	}
	if (n == -1) {
		if (errno == EAGAIN || errno == EINTR) {
			if (s->up->tr.read_want == TRANSPORT_WANT_WRITE)
				update_watchers(s);
			return;
		}
		if (s->state == SESSION_TUNNEL) {
			session_close(s);
			return;
		}
		if (forward_failed(s, forward_reason(errno), strerror(errno), 502, 0) == 0)
			pump(s);
		return;
	}
	if (n == 0) {
		if (s->state == SESSION_TUNNEL) {
			relay_client_flush(s);
			session_close(s);
			return;
		}
		if (s->resp_head_done && s->x->resp.state == HTTP_MSG_BODY &&
		    llhttp_message_needs_eof(&s->x->resp.parser)) {
			/* The body ended with the connection. */
			llhttp_finish(&s->x->resp.parser);
			s->resp_done = 1;
			forward_drop(s);
			pump(s);
			return;
		}
		if (forward_failed(s, "closed", "connection closed by backend", 502, 0) == 0)
			pump(s);
		return;
	}
	s->resp_started = 1;
	s->uin.len += (size_t)n;
	if (s->state == SESSION_TUNNEL) {
		s->uparse_off = s->uin.len;
		session_set_timer(s, s->px->opts->idle_timeout);
	} else if (s->resp_head_done) {
		ev_timer_again(loop, &s->timer);
	}
	pump(s);
}

void session_upstream_on_write(struct ev_loop *loop, ev_io *w, int revents)
{
	struct session *s = w->data;
	(void)revents;

	if (s->state == SESSION_CONNECT) {
		if (forward_connected(s) == -1)
			return;
		if (s->state == SESSION_CONNECT) {	/* a TLS handshake goes on */
			pump(s);
			return;
		}
	}
	if (s->up && s->up->tr.read_want == TRANSPORT_WANT_WRITE) {
		/* A TLS read waited for this: retry it after the writes. */
		s->up->tr.read_want = TRANSPORT_WANT_NONE;
		ev_feed_event(loop, &s->up->rio, EV_READ);
	}
	s->up_blocked = 0;
	pump(s);
}

static void session_on_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct session *s = w->data;
	(void)loop;
	(void)revents;

	switch (s->state) {
	case SESSION_HEAD:
		s->started = timefmt_mono();
		snprintf(s->target, sizeof(s->target), "-");
		s->request_id_len = headers_request_id_new(s->request_id);
		s->keep_alive = 0;
		session_answer_error(s, 408, "request header timeout");
		pump(s);
		return;
	case SESSION_CONNECT:
		if (forward_failed(s, "connect-timeout", "connect timeout", 504, 1) == 0)
			pump(s);
		return;
	case SESSION_BACKOFF:
		if (forward_begin(s) == 0)
			pump(s);
		return;
	case SESSION_QUEUED:
		if (forward_dequeue(s) == 0)
			pump(s);
		return;
	case SESSION_EXCHANGE:
		if (!s->req_done && !s->resp_head_done) {
			s->keep_alive = 0;
			session_answer_error(s, 408, "request body timeout");
			pump(s);
			return;
		}
		if (!s->resp_head_done && !s->resp_done) {
			/* The per-try timeout: 504, or another backend with
			 * --retry-on timeout (the outcome hook hears it). */
			if (forward_failed(s, "timeout", "response timeout", 504, 0) == 0)
				pump(s);
			return;
		}
		break;
	default:
		break;
	}
	session_close(s);
}

/* ---- life ------------------------------------------------------------------------------ */

void session_open(struct proxy *px, struct session *s, int fd, const struct sockaddr *peer,
		  const struct proxy_listener *via)
{
	s->px = px;
	transport_plain_init(&s->tr, fd);
	s->state = SESSION_IDLE;
	net_addr_ip(peer, s->client_ip, sizeof(s->client_ip));
	buf_reset(&s->in);
	buf_reset(&s->uin);
	buf_reset(&s->out);
	buf_reset(&s->up_head);
	s->parse_off = s->send_off = s->body_start = 0;
	s->up = NULL;
	s->be = NULL;
	s->req_done = s->req_sent_any = s->replayable = 0;
	s->in_flight = s->queued = s->from_queue = 0;
	s->keep_alive = s->client_eof = s->client_blocked = s->up_blocked = 0;
	s->tunnel_wanted = 0;
	s->served = 0;
	s->status = 0;
	s->method = -1;		/* no request head yet */
	s->retries = 0;
	s->bytes_out = 0;
	s->request_id_len = 0;
	s->refusal = NULL;
	s->sticky_insert = NULL;
	s->x = NULL;
	session_response_reset(s);
	s->via = via;
	ev_io_init(&s->rio, client_on_read, fd, EV_READ);
	ev_io_init(&s->wio, client_on_write, fd, EV_WRITE);
	ev_init(&s->timer, session_on_timer);
	s->rio.data = s->wio.data = s->timer.data = s;
	if (via->tls) {
		s->state = SESSION_HANDSHAKE;
		session_set_timer(s, px->opts->tls_handshake_timeout);
		apply_timer(s);
		if (transport_tls_accept(&s->tr, px->tls, fd) == -1) {
			log_error("out of memory for a TLS connection", "client=%s", s->client_ip);
			session_close(s);
			return;
		}
		/* Speculative too: the ClientHello came with the connection. */
		handshake_step(s);
		return;
	}
	session_set_timer(s, px->opts->keepalive_timeout);
	apply_timer(s);
	/* Speculative I/O, as HAProxy does: a client usually sends its request
	 * with the connection, so read now; the read watcher (an epoll_ctl) is
	 * armed only if the read would block. The session may close here. */
	client_on_read(px->loop, &s->rio, EV_READ);
}

void session_close(struct session *s)
{
	struct ev_loop *loop = s->px->loop;

	forward_drop(s);
	forward_release(s);
	forward_finish(s);
	forward_forget(s);
	exchange_give(s);
	buf_cache_give(&s->in);
	buf_cache_give(&s->uin);
	ev_io_stop(loop, &s->rio);
	ev_io_stop(loop, &s->wio);
	ev_timer_stop(loop, &s->timer);
	transport_close(&s->tr);
	proxy_session_closed(s->px, s);
}

void session_on_stop(struct session *s)
{
	switch (s->state) {
	case SESSION_IDLE:
		s->timer.repeat = idle_close_in(s, ev_timer_remaining(s->px->loop, &s->timer));
		ev_timer_again(s->px->loop, &s->timer);
		break;
	case SESSION_HANDSHAKE:
		/* Finishes; its first request is answered with Connection: close. */
		break;
	default:
		/* The response, when its head is still to come, says close. */
		if (!s->resp_head_done)
			s->keep_alive = 0;
		break;
	}
}
