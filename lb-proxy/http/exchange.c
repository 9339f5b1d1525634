/* exchange: one request and its response on a session, as HTTP (see
 * exchange.h); the bytes move in relay.c, the backend is forward.c's. */
#include "exchange.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "access_log.h"
#include "admission.h"
#include "answer.h"
#include "exchange_pool.h"
#include "forward.h"
#include "grpc_call.h"
#include "http_limits.h"
#include "mirror.h"
#include "outcome.h"
#include "policy/cors.h"
#include "policy/hashkey.h"
#include "relay.h"
#include "routes.h"
#include "routing.h"
#include "timefmt.h"
#include "trace.h"

/* While the proxy stops, a connection idle for less than this is in use:
 * its next request comes soon and is answered with Connection: close, so
 * no random close is drawn before this much idleness (exchange_idle_close_in). */
#define DRAIN_IN_USE_SECONDS 1.0
/* A response head stays in uin until it is whole, so it must hit its limit
 * (a 502) before uin holds RELAY_IN_LIMIT and reading stops (a stall). */
#define RESPONSE_HEAD_LIMIT HTTP_DEFAULT_MAX_HEADER_SIZE
_Static_assert(RESPONSE_HEAD_LIMIT + HTTP_READ_CHUNK <= RELAY_IN_LIMIT,
	       "response head limit too large");

static int resp_on_body(void *ctx, const char *at, size_t len);

void exchange_response_reset(struct session *s)
{
	if (s->x) {
		http_msg_init(&s->x->resp, HTTP_RESPONSE, RESPONSE_HEAD_LIMIT, resp_on_body, s);
		s->x->resp.skip_body = s->method == HTTP_HEAD;
	}
	if (s->x) {
		buf_reset(&s->x->uin);
		s->x->uparse_off = s->x->usend_off = 0;
	}
	s->resp_started = s->resp_head_done = s->resp_done = s->dechunk = 0;
	s->resp_timer = s->resp_interim = 0;
}

int exchange_act(struct session *s, enum forward_verdict v)
{
	for (;;) {
		switch (v) {
		case FORWARD_GOING:
		case FORWARD_DECLINED:
			return 0;
		case FORWARD_RETRY:
			exchange_response_reset(s);
			v = forward_retry(s);
			continue;
		case FORWARD_CLOSE:
			return -1;
		case FORWARD_NO_BACKENDS:
			answer_error(s, 503, "no backends available");
			return 0;
		case FORWARD_FAILED:
			answer_error(s, 502, "backend failed");
			return 0;
		case FORWARD_TIMED_OUT:
			answer_error(s, 504, "backend timed out");
			return 0;
		case FORWARD_NO_RESOURCES:
			answer_error(s, 503, "proxy out of resources");
			return 0;
		case FORWARD_OVERLOADED:
			answer_overloaded(s);
			return 0;
		}
		return 0;
	}
}

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
double exchange_idle_close_in(const struct session *s, double left)
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
	s->parse_off = s->send_off = 0;
	forward_forget(s);
	exchange_pool_give(s);
	/* An idle connection keeps no read buffers. */
	if (rest == 0)
		buf_cache_give(&s->in);
	s->req_done = s->req_sent_any = s->replayable = s->tunnel_wanted = 0;
	s->status = 0;
	s->method = -1;		/* none yet: an answer to a bad head has a body */
	exchange_response_reset(s);
	s->state = SESSION_IDLE;
	s->served = 1;
	s->idle_since = ev_now(s->px->loop);
	session_set_timer(s, exchange_idle_close_in(s, s->px->opts->keepalive_timeout));
}

/* Everything of this exchange was written to the client. */
static void exchange_end(struct session *s)
{
	struct proxy *px = s->px;
	/* Pooled again only when both messages ended exactly where the bytes
	 * did, and no Upgrade left the backend's framing in doubt. */
	int reuse = s->up && s->req_done && buf_unread(&s->x->up_head) == 0 &&
		    s->send_off == s->parse_off && s->resp_done && !s->tunnel_wanted &&
		    http_msg_keep_alive(&s->x->resp) && s->x->uparse_off == s->x->uin.len;

	double took = timefmt_mono() - s->x->started;

	metrics_observe(&px->metrics, s->status, took);
	/* the proxy's own answer after a failure is not the backend's */
	outcome_record(px, session_balancer(s), session_backends(s), s->be,
		       s->resp_head_done ? OUTCOME_RESPONSE : OUTCOME_PROXY_ANSWER, s->status, took);
	trace_request_end(s);
	access_log_request(s);
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

/* The request's hash key (--hash-key, or the client's address for a routed
 * Service balanced by ip-hash), for maglev and ring-hash. */
static void request_key(struct session *s)
{
	static const struct hashkey client_ip = { .kind = HASHKEY_CLIENT_IP };
	struct proxy *px = s->px;
	const struct http_msg *req = &s->x->req;
	const struct hashkey *hk = s->x->svc && s->x->svc->key_client_ip ? &client_ip
									   : &px->hash_key;
	const char *client = NULL, *key;
	size_t clen = 0, klen;

	if (hk->kind == HASHKEY_CLIENT_IP)
		client = hashkey_client_ip(&px->trusted, s->client_ip, req, &clen);
	s->x->pick.has_key = hashkey_find(hk, req, &s->x->route, client, clen, &key, &klen);
	if (s->x->pick.has_key)
		s->x->pick.hash = balance_hash(key, klen);
}

/* A Gateway's routes decide where the request goes: 0 on to a backend, -1
 * when routing answered it (404 no route, 500, a redirect). */
static int route_request(struct session *s)
{
	static struct routing_redirect rd;	/* copied into `out` at once */
	static char fields[ROUTING_TARGET_MAX + 16];
	char body[64];
	int n;

	switch (routing_route(s, &rd)) {
	case ROUTING_FORWARD:
		return 0;
	case ROUTING_NO_ROUTE:
		s->x->refusal = "no route";
		answer_error(s, 404, "no route");
		return -1;
	case ROUTING_UNRESOLVED:
		s->x->refusal = "backend not resolved";
		answer_error(s, 500, "route backend not resolved");
		return -1;
	case ROUTING_NO_HOST:
		answer_error(s, 400, "no Host to redirect to");
		return -1;
	case ROUTING_TOO_LONG:
		answer_error(s, 500, "rewritten target too long");
		return -1;
	case ROUTING_REDIRECT:
		break;
	}
	n = snprintf(body, sizeof(body), "{\"status\":%d,\"redirect\":\"route\"}", rd.status);
	snprintf(fields, sizeof(fields), "Location: %s\r\n", rd.location);
	s->req_done = s->x->req.state == HTTP_MSG_DONE;
	answer_json(s, rd.status, body, (size_t)n, 1, fields);
	return -1;
}

/* The request head is complete: decide, rewrite, connect. */
/* "METHOD path" for the access log, the path cut at 200 bytes (a printf
 * here cost more than the rest of the request's bookkeeping). */
static void target_set(char target[256], const char *method, const char *path, size_t len)
{
	size_t m = strlen(method);

	if (m > 50)
		m = 50;
	if (len > 200)
		len = 200;
	memcpy(target, method, m);
	target[m] = ' ';
	memcpy(target + m + 1, path, len);
	target[m + 1 + len] = '\0';
}

static int request_head(struct session *s)
{
	struct http_msg *req = &s->x->req;
	int rid = http_msg_find(req, "x-request-id");
	const char *method = llhttp_method_name(http_msg_method(req)), *reason;
	struct headers_ctx ctx;
	size_t skip;
	int status;

	s->x->started = timefmt_mono();
	s->method = http_msg_method(req);
	target_set(s->x->target, method, http_msg_ptr(req, req->url), req->url.len);
	if (rid >= 0 && headers_request_id_valid(http_msg_ptr(req, req->headers[rid].value),
						 req->headers[rid].value.len)) {
		s->x->request_id_len = req->headers[rid].value.len;
		memcpy(s->x->request_id, http_msg_ptr(req, req->headers[rid].value),
		       s->x->request_id_len);
	} else {
		s->x->request_id_len = headers_request_id_new(s->x->request_id);
	}
	trace_request_begin(s);
	grpc_call_begin(s);
	s->tunnel_wanted = req->upgrade;
	s->keep_alive = http_msg_keep_alive(req) && !s->px->stopping && !req->upgrade;
	cors_classify(&s->px->cors, req, &s->x->cors);
	status = http_request_route(req, &s->x->route, &reason);
	if (status) {
		answer_refuse(s, status, reason);
		return 0;
	}
	if (routes_monitor_match(s->px->opts->monitor_uri, req, &s->x->route)) {
		answer_monitor(s);
		return 0;
	}
	if (s->px->admin_path_answer &&
	    routes_admin_path_match(s->px->opts->admin_path, req, &s->x->route, &skip)) {
		answer_admin_path(s, skip);
		return 0;
	}
	if (s->via->redirect_https) {
		answer_redirect(s);
		return 0;
	}
	/* A declared body over --max-body is refused before anything is sent. */
	if (s->px->opts->max_body && (req->parser.flags & F_CONTENT_LENGTH) &&
	    req->parser.content_length > (uint64_t)s->px->opts->max_body) {
		answer_refuse(s, 413, "Content-Length over --max-body");
		return 0;
	}
	if (s->px->rate_on && admission_rate_limited(s))
		return 0;
	if (s->x->cors.kind == CORS_PREFLIGHT) {	/* the policy decides: never forwarded */
		answer_preflight(s);
		return 0;
	}
	mirror_exchange_done(s->x);	/* a pipelined request's exchange carries on */
	routing_exchange_done(s->x);
	if (s->px->routing && route_request(s) == -1)
		return 0;
	if (session_balancer(s)->ops->uses_key)
		request_key(s);
	s->req_done = req->state == HTTP_MSG_DONE;
	s->x->body_start = s->send_off = req->head_end;
	s->replayable = 1;
	if (req->upgrade && req->state == HTTP_MSG_DONE)
		s->parse_off = req->head_end;	/* what follows is the tunnel's */
	if (s->x->rule && s->x->rule->n_mirrors) {
		routing_mirror(s);
		if (s->x->mirrors)
			mirror_tee(s->x, s->in.data + req->head_end, s->parse_off - req->head_end,
				   s->req_done);
	}
	s->x->resp.skip_body = s->method == HTTP_HEAD;
	buf_reset(&s->x->up_head);
	/* The backend is picked first: its name is the Host of HTTP/1.0 requests
	 * (of one that waits first, "localhost": the head is rewritten now,
	 * while the bytes it points to are surely in `in`). */
	s->be = NULL;
	s->in_flight = 1;
	s->px->requests_in_flight++;
	if (exchange_act(s, forward_begin(s)) == -1)
		return -1;
	if (s->state == SESSION_CONNECT || s->state == SESSION_EXCHANGE ||
	    s->state == SESSION_BACKOFF || s->state == SESSION_QUEUED) {
		if (s->status == 0 && s->x->up_head.len == 0) {
			ctx = session_headers_ctx(s);
			/* from the block cache, given back when the exchange ends:
			 * an idle keep-alive connection keeps no head (it kept
			 * 0.8 KiB of the 2.7 KiB an idle served connection cost) */
			buf_cache_take(&s->x->up_head);
			routing_headers_ctx(s, 1, &ctx);
			headers_request(&s->x->up_head, req, &s->x->route, &ctx);
			if (grpc_call_forward_timeout(s) == -1)
				return -1;
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

/* A response head is complete; returns -1 when the session must close. */
static int response_head(struct session *s)
{
	struct http_msg *resp = &s->x->resp;
	int status = http_msg_status(resp);
	struct headers_ctx ctx = session_headers_ctx(s);

	routing_headers_ctx(s, 0, &ctx);
	if (status >= 100 && status < 200 && status != 101) {
		/* Interim (100 Continue, 103): pass it on, parse the final one;
		 * never to an HTTP/1.0 client (RFC 9110 15.2: a server MUST NOT
		 * send it a 1xx), which gets the final response alone. */
		http_msg_feed(resp, s->x->uin.data, s->x->uparse_off, 0);
		if (http_msg_minor(&s->x->req) != 0)
			headers_response(&s->out, resp, &ctx, 0, 0);
		s->resp_interim = 1;
		s->x->usend_off = s->x->uparse_off;
		relay_uin_compact(s);
		s->x->usend_off = 0;
		http_msg_next(resp, 0);
		return 0;
	}
	if (status == 101) {
		if (!s->tunnel_wanted)
			return exchange_act(s, forward_failed(s, "bad-response",
							       "101 to a request without Upgrade", 502, 0));
		headers_response(&s->out, resp, &ctx, 0, 0);
		s->status = 101;
		s->resp_head_done = 1;
		s->state = SESSION_TUNNEL;
		s->x->usend_off = resp->head_end;
		s->x->uparse_off = s->x->uin.len;
		s->parse_off = s->in.len;
		session_set_timer(s, s->px->opts->idle_timeout);
		return 0;
	}
	if (status >= 500) {
		enum forward_verdict v = forward_retry_response(s, status);

		if (v != FORWARD_DECLINED)
			return exchange_act(s, v);
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
	s->x->usend_off = resp->head_end;
	if (s->dechunk)
		s->x->usend_off = s->x->uparse_off;
	session_set_timer(s, s->px->opts->idle_timeout);
	return 0;
}

/* Parses what the backend sent; returns -1 when the session must close. */
static int response_progress(struct session *s)
{
	while (!s->resp_done && s->state == SESSION_EXCHANGE) {
		enum http_msg_state before = s->x->resp.state;
		size_t avail = s->x->uin.len - s->x->uparse_off, used;

		if (before == HTTP_MSG_HEAD && avail == 0)
			return 0;
		used = http_msg_feed(&s->x->resp, s->x->uin.data, s->x->uparse_off, avail);
		s->x->uparse_off += used;
		if (s->x->resp.state == HTTP_MSG_ERROR)
			return exchange_act(s, forward_failed(s, "bad-response",
							       s->x->resp.error_reason, 502, 0));
		if (before == HTTP_MSG_HEAD && s->x->resp.state != HTTP_MSG_HEAD) {
			if (response_head(s) == -1)
				return -1;
			continue;
		}
		if (s->dechunk)
			s->x->usend_off = s->x->uparse_off;
		if (s->x->resp.state == HTTP_MSG_DONE) {
			s->resp_done = 1;
			return 0;
		}
		if (used == 0)
			return 0;
	}
	return 0;
}

int exchange_step(struct session *s)
{
	if (!s->req_done && s->parse_off < s->in.len) {
		size_t used = http_msg_feed(&s->x->req, s->in.data, s->parse_off, s->in.len - s->parse_off);

		s->parse_off += used;
		if (s->x->req.state == HTTP_MSG_DONE)
			s->req_done = 1;
		if (s->x->mirrors && s->x->req.state != HTTP_MSG_ERROR)
			mirror_tee(s->x, s->in.data + s->parse_off - used, used, s->req_done);
		if (s->x->req.state == HTTP_MSG_ERROR) {
			if (s->resp_head_done)
				return -1;
			s->req_done = 1;
			answer_refuse(s, s->x->req.error_status, s->x->req.error_reason);
			return 0;
		}
	}
	if (s->up && !s->up_blocked && relay_upstream_flush(s) == -1)
		return exchange_act(s, forward_failed(s, forward_reason(errno), strerror(errno), 502,
						      0));
	if (!s->resp_timer && !s->resp_head_done && s->req_done && buf_unread(&s->x->up_head) == 0 &&
	    s->send_off == s->parse_off && s->up) {
		s->resp_timer = 1;
		session_set_timer(s, grpc_call_timeout(s, routing_try_timeout(s)));
	}
	if (response_progress(s) == -1)
		return -1;
	if (s->state != SESSION_EXCHANGE)
		return 0;
	if (relay_client_flush(s) == -1) {
		s->px->metrics.client_aborts++;
		return -1;
	}
	if (s->resp_done && !s->client_blocked && buf_unread(&s->out) == 0 &&
	    s->x->usend_off == s->x->uparse_off)
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
	s->x->body_bytes += len;
	return s->x->body_bytes > (unsigned long long)s->px->opts->max_body ? 413 : 0;
}

int exchange_request_step(struct session *s)
{
	size_t used;

	if (s->parse_off == s->in.len)
		return 0;
	if (!s->x) {
		if (exchange_pool_take(s) == -1)
			return -1;
		/* Bodies are forwarded as framed; they are only counted when
		 * --max-body asks for it. */
		http_msg_init(&s->x->req, HTTP_REQUEST, (size_t)s->px->opts->max_header_size,
			      s->px->opts->max_body ? req_on_body : NULL, s);
		s->x->body_bytes = 0;
		s->x->grpc = 0;		/* no head yet: the answers are HTTP's */
		s->x->pick.ntried = 0;
		s->x->pick.has_key = 0;
		trace_exchange_reset(s);
		exchange_response_reset(s);
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
		s->x->started = timefmt_mono();
		snprintf(s->x->target, sizeof(s->x->target), "-");
		s->x->request_id_len = headers_request_id_new(s->x->request_id);
		s->keep_alive = 0;
		answer_refuse(s, s->x->req.error_status, s->x->req.error_reason);
		return 0;
	}
	return 0;
}

int exchange_tunnel_step(struct session *s)
{
	if (s->up && !s->up_blocked && relay_upstream_flush(s) == -1)
		return -1;
	if (relay_client_flush(s) == -1)
		return -1;
	relay_in_compact(s);
	relay_uin_compact(s);
	return 0;
}
