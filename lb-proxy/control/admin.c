/* admin: lb-proxy's admin listener: one request per connection, answered and closed. */
#include "admin.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <unistd.h>

#include "admin_set.h"
#include "admin_token.h"
#include "buf.h"
#include "http/routes.h"
#include "http/mirror.h"
#include "http/routing.h"
#include "http/routing_stats.h"
#include "http_parser.h"
#include "http_request.h"
#include "http_response.h"
#include "log.h"
#include "http/trace.h"
#include "net/tls_server_render.h"
#include "stream/tcp_metrics.h"
#include "timefmt.h"
#include "upstream/balance_rr.h"
#include "upstream/h2_pool.h"
#include "upstream/outlier.h"
#include "upstream/upstream.h"

struct admin_conn {
	struct admin *a;
	int fd;
	ev_io io;
	ev_timer timer;		/* the head's deadline, then the exchange's */
	double accepted;	/* ev_now at accept */
	struct conn_guard_slot slot;
	struct buf in, out;
	size_t fed;		/* bytes of `in` the parser has had (all kept: the
				 * head's spans point into it) */
	struct buf body;	/* the request's, up to ADMIN_SET_BODY_MAX */
	int parked;		/* a drain?wait= waits (wait) */
	struct admin_set_wait wait;
	struct http_msg msg;
	LIST_ENTRY(admin_conn) link;
};

/* the admin whose routes --admin-path answers on the traffic port */
static struct admin *traffic_admin;

static LIST_HEAD(, admin_conn) admin_conns = LIST_HEAD_INITIALIZER(admin_conns);

static void conn_free(struct admin_conn *c)
{
	struct ev_loop *loop = c->a->px->loop;

	ev_io_stop(loop, &c->io);
	ev_timer_stop(loop, &c->timer);
	close(c->fd);
	LIST_REMOVE(c, link);
	conn_guard_remove(&c->a->guard, &c->slot);
	buf_release(&c->in);
	buf_release(&c->out);
	buf_release(&c->body);
	free(c);
}

/* One lb_proxy_listener_info line per client listener (its address, TLS or not). */
static void listeners_metrics(const struct proxy *px, struct buf *b)
{
	buf_append_str(b, "# HELP lb_proxy_listener_info A client listener: its bound address, "
			  "whether it speaks TLS and redirects to https.\n"
			  "# TYPE lb_proxy_listener_info gauge\n");
	for (unsigned i = 0; i < px->nlisteners; i++) {
		const struct proxy_listener *pl = &px->listeners[i];

		buf_appendf(b, "lb_proxy_listener_info{address=\"%s\",tls=\"%d\","
			    "redirect_https=\"%d\"} 1\n", pl->l.name, pl->tls, pl->redirect_https);
	}
}

/* /info's "panic": the set's panic decision now (balancer_panic). */
static void panic_info(struct proxy *px, struct buf *b)
{
	const struct panic *p = &px->balancer.panic;
	int active = balancer_panic(&px->balancer, &px->set, ev_now(px->loop));

	buf_appendf(b, ",\"panic\":{\"active\":%s,\"available\":%u,\"of\":%u,\"threshold\":%u,"
		    "\"entered_total\":%llu}", active ? "true" : "false", p->available, p->of,
		    p->threshold, p->entered_total);
}

static void info(struct proxy *px, struct buf *b)
{
	buf_appendf(b, "{\"uptime\":%.3f,\"source\":\"%s\",\"generation\":%llu,\"stale\":%s,"
		    "\"total_requests\":%llu,\"balance\":\"%s\",\"hash_key\":\"",
		    timefmt_mono() - px->started, px->on_bus ? "bus" : "static", px->set.generation,
		    px->stale ? "true" : "false", px->metrics.requests, px->balancer.ops->name);
	if (px->balancer.ops->uses_key)
		buf_append_json_escaped(b, px->hash_key_spec, strlen(px->hash_key_spec));
	buf_append_str(b, "\",");
	routing_info(px, b);
	if (px->rate_on) {
		const struct ratelimit *rl = &px->rate;

		buf_appendf(b, "\"rate_limit\":{\"limit\":\"%ld/%c\",\"burst\":%g,\"key\":\"",
			    px->rate_n, px->rate_unit, rl->burst);
		buf_append_json_escaped(b, px->opts->rate_key, strlen(px->opts->rate_key));
		buf_appendf(b, "\",\"proxies\":%u,\"effective\":\"%g/%c\",\"effective_per_second\":%.6g,"
			    "\"effective_burst\":%g,\"table_size\":%u,\"keys\":%u,\"limited\":%llu,"
			    "\"evicted\":%llu},",
			    rl->share, (double)px->rate_n / rl->share, px->rate_unit, rl->eff_rate,
			    rl->eff_burst, rl->size, rl->used, rl->limited, rl->evicted);
	}
	buf_append_str(b, "\"listeners\":[");
	for (unsigned i = 0; i < px->nlisteners; i++) {
		const struct proxy_listener *pl = &px->listeners[i];

		buf_appendf(b, "%s{\"address\":\"", i ? "," : "");
		buf_append_json_escaped(b, pl->l.name, strlen(pl->l.name));
		buf_appendf(b, "\",\"tls\":%s,\"redirect_https\":%s}", pl->tls ? "true" : "false",
			    pl->redirect_https ? "true" : "false");
	}
	buf_append_str(b, "],\"backends\":[");
	for (size_t i = 0; i < px->set.n; i++) {
		const struct backend *be = px->set.items[i];
		const struct outlier *o = &be->outlier;
		double now = ev_now(px->loop);
		enum outlier_state st = outlier_state_at(o, now);

		buf_appendf(b,
			    "%s{\"address\":\"%s\",\"state\":\"%s\",\"weight\":%d,"
			    "\"requests_forwarded\":%llu,\"active\":%u,\"errors\":%llu,"
			    "\"connections\":%u,\"idle_connections\":%u,"
			    "\"breaker\":{\"state\":\"%s\",\"ejections\":%u,\"ejections_total\":%llu,"
			    "\"consecutive_5xx\":%u,\"consecutive_gateway\":%u,\"left\":%.3f,"
			    "\"reason\":\"",
			    i ? "," : "", be->name,
			    be->state == BACKEND_UP && be->fail_until > now
				    ? "down" : backend_state_name(be->state),
			    be->weight,
			    be->requests, be->active, be->errors, be->connections, be->nidle,
			    outlier_state_name(st), o->ejections, o->ejections_total,
			    o->consecutive_5xx, o->consecutive_gateway,
			    st == OUTLIER_OPEN ? o->until - now : 0.0);
		if (st != OUTLIER_CLOSED)
			buf_append_json_escaped(b, o->reason, strlen(o->reason));
		buf_append_str(b, "\"}}");
	}
	buf_appendf(b, "],\"queue\":{\"length\":%u,\"size\":%ld,\"timeout\":%g,"
		    "\"max_per_backend\":%ld,\"timeouts\":%llu,\"full\":%llu}",
		    px->metrics.queue_length, px->opts->queue_size, px->opts->queue_timeout,
		    px->opts->max_per_backend, px->metrics.queue_timeouts, px->metrics.queue_full);
	panic_info(px, b);
	if (px->tls_server) {
		buf_append_str(b, ",\"tls\":");
		tls_server_render_info(px->tls_server, b);
	}
	buf_append_str(b, "}");
}

/*
 * What the next request would get: for round-robin exactly (the rotation is
 * not moved); for hashing algorithms the backend of `?key=VALUE` (taken as
 * the key's bytes, no percent-decoding), or with no key what a keyless
 * request gets (one weighted random draw, as for random and least-request).
 * Returns the status.
 */
static int next_backend(struct proxy *px, const char *query, const char *end, struct buf *body)
{
	struct balance_request r;
	const struct backend *be;
	const char *key = NULL;
	size_t klen = 0;

	memset(&r, 0, sizeof(r));
	r.now = ev_now(px->loop);
	if (query) {
		for (const char *p = query + 1; p < end;) {
			const char *amp = memchr(p, '&', (size_t)(end - p)), *stop = amp ? amp : end;

			if (stop - p >= 4 && memcmp(p, "key=", 4) == 0) {
				key = p + 4;
				klen = (size_t)(stop - key);
			}
			p = stop + 1;
		}
	}
	if (key && px->balancer.ops->uses_key) {
		r.has_key = 1;
		r.hash = balance_hash(key, klen);
	}
	if (strcmp(px->balancer.ops->name, "round-robin") == 0)
		be = balance_rr_peek(&px->set, r.now,
				     balancer_panic(&px->balancer, &px->set, r.now));
	else
		be = balance_pick(&px->balancer, &px->set, &r);
	if (!be) {
		buf_append_str(body, "{\"error\":\"no backends available\"}");
		return 503;
	}
	buf_appendf(body, "{\"backend\":\"%s\",\"balance\":\"%s\",\"keyed\":%s}", be->name,
		    px->balancer.ops->name, r.has_key ? "true" : "false");
	return 200;
}

/* An error answer {"error": why} into c->out. */
static void answer_error(struct admin_conn *c, int status, const char *why)
{
	char body[160];
	int n = snprintf(body, sizeof(body), "{\"error\":\"%s\"}", why);

	http_response_simple(&c->out, status, "application/json", body, (size_t)n, 0);
}

/* The read routes of lb-proxy's own (/health ... /metrics) for `method`
 * and the path [url, url + plen) with its query at q (or NULL; the target
 * ends at end). Returns the status; the body in body, its type in *ctype. */
static int own_route(const struct admin *a, int method, const char *url, size_t plen,
		     const char *q, const char *end, struct buf *body, const char **ctype)
{
	struct proxy *px = a->px;
	int status = 200;

	*ctype = "application/json";
#define PATH_IS(p) (plen == sizeof(p) - 1 && memcmp(url, p, plen) == 0)
	if (method != HTTP_GET && method != HTTP_HEAD) {
		status = 405;
		buf_append_str(body, "{\"error\":\"the admin API answers GET only, but for its "
				     "/admin/ routes\"}");
	} else if (PATH_IS("/health")) {
		buf_append_str(body, "{\"status\":\"ok\"}");
	} else if (PATH_IS("/ready")) {
		int n = (int)routes_usable_backends(px);

		status = (n > 0 && !px->stopping) ? 200 : 503;
		buf_appendf(body, "{\"status\":\"%s\",\"usable_backends\":%d}",
			    status == 200 ? "ready" : "not ready", n);
	} else if (PATH_IS("/info")) {
		info(px, body);
	} else if (PATH_IS("/routes")) {
		if (routing_stats_json(px, body) == -1)
			status = 500;
	} else if (PATH_IS("/debug/next-backend")) {
		status = next_backend(px, q, end, body);
	} else if (PATH_IS("/metrics")) {
		int panic;

		*ctype = "text/plain; version=0.0.4";
		metrics_render(&px->metrics, body, px->nsessions, upstream_open_count(),
			       px->set.generation, px->stale, timefmt_mono() - px->started,
			       ev_now(px->loop));
		if (px->rate_on)
			metrics_render_rate(body, px->rate.limited, px->rate.eff_rate,
					    px->rate.eff_burst, px->rate.share, px->rate.used,
					    px->rate.evicted);
		if (px->tls_server || px->opts->backend_tls)
			tls_server_render_metrics(px->tls_server, body);
		panic = balancer_panic(&px->balancer, &px->set, ev_now(px->loop));
		metrics_render_panic(body, panic, px->balancer.panic.entered_total);
		listeners_metrics(px, body);
		if (a->tcp)
			tcp_metrics_render(a->tcp, body);
		trace_render_metrics(body);
		h2_metrics_render(&px->metrics.h2, body);
		routing_stats_metrics(px, body);
		h2_pool_render_metrics(body);
		if (px->routing)
			mirror_render_metrics(body);
	} else {
		status = 404;
		buf_append_str(body, "{\"error\":\"not found: try /health /ready /info /routes "
				     "/debug/next-backend /metrics /admin/backends\"}");
	}
#undef PATH_IS
	return status;
}

/* {"error": why} into body; returns status. */
static int api_error(struct buf *body, int status, const char *why)
{
	buf_reset(body);
	buf_append_str(body, "{\"error\":\"");
	buf_append_json_escaped(body, why, strlen(why));
	buf_append_str(body, "\"}");
	return status;
}

/*
 * lb-discover's admin routes (/admin/...) on this proxy: reads of its set
 * and metrics, writes on its own set (admin_set.h) behind the token rules of
 * docs/admin-api.md. `traffic`: asked on the traffic port (--admin-path):
 * writes there need the token, and a drain does not wait. Returns the
 * status (body, *ctype, header lines in hdr), or 0 when a drain?wait= parks
 * (*w filled).
 */
static int api_route(struct admin *a, const struct http_msg *m, const char *target, size_t len,
		     const char *rbody, size_t rlen, int traffic, struct buf *body,
		     const char **ctype, char *hdr, size_t hdrsz, struct admin_set_wait *w)
{
	static struct admin_route route;	/* one request at a time: the loop's */
	struct proxy *px = a->px;
	char msg[ADMIN_PATH_MAX + 128];
	int status;

	*ctype = "application/json";
	switch (admin_route_parse(http_msg_method(m), target, len, &route)) {
	case ADMIN_ROUTE_TOO_LONG:
		snprintf(msg, sizeof(msg), "the path is over %d bytes", ADMIN_PATH_MAX);
		return api_error(body, 414, msg);
	case ADMIN_ROUTE_NOT_FOUND:
		return api_error(body, 404, "not found: the routes are /admin/health, "
				 "/admin/backends[/ADDR[/drain|/undrain|/weight|/uneject]], "
				 "/admin/routes, /admin/metrics");
	case ADMIN_ROUTE_NOT_ALLOWED:
		snprintf(hdr, hdrsz, "Allow: %s\r\n", route.allow);
		snprintf(msg, sizeof(msg), "method not allowed: %s takes %s",
			 strncmp(route.path, "/admin/backends/", 16) == 0 ? "this route" : route.path,
			 route.allow);
		return api_error(body, 405, msg);
	case ADMIN_ROUTE_BAD:
		if (!route.known_action || !admin_route_writes(&route))
			return api_error(body, 400, route.error);
		break;		/* the token first: admin_set_run says 400 after it */
	default:
		break;
	}
	if (!admin_route_writes(&route)) {
		if (route.action == ADMIN_METRICS)
			return own_route(a, HTTP_GET, "/metrics", 8, NULL, NULL, body, ctype);
		if (route.action == ADMIN_ROUTES)
			return own_route(a, HTTP_GET, "/routes", 7, NULL, NULL, body, ctype);
		if (route.action == ADMIN_PROXIES)
			return api_error(body, 404, "lb-proxy has no proxies to list: lb-discover's "
					 "admin API does (GET /admin/proxies)");
		admin_set_list(px, body);
		return 200;
	}
	if (a->token) {
		int ok = admin_token_check(m, a->token);

		if (ok == -1) {
			snprintf(hdr, hdrsz, "WWW-Authenticate: Bearer realm=\"lb-proxy\"\r\n");
			return api_error(body, 401, "this needs the admin token: Authorization: "
					 "Bearer TOKEN (lb-proxy --admin-token)");
		}
		if (ok == 0)
			return api_error(body, 403, "wrong admin token");
	} else if (traffic) {
		return api_error(body, 403, "writes under --admin-path need --admin-token: the "
				 "traffic port is open to every client");
	} else if (!a->writes_open) {
		return api_error(body, 403, "writes need --admin-token on a non-loopback --admin "
				 "(or --admin-insecure)");
	}
	if (traffic && route.wait > 0)
		return api_error(body, 400, "?wait= is answered on the admin listener only (--admin)");
	if (admin_set_run(px, &route, rbody, rlen, a->runtime_dir, &status, body, w) ==
	    ADMIN_SET_PARKED)
		return 0;
	return status;
}

/* Builds the answer for the parsed request into c->out, or parks it. */
static void answer(struct admin_conn *c)
{
	static struct buf body = BUF_INIT;
	struct http_route route;
	const char *url, *q, *why, *ctype = "application/json";
	char hdr[96] = "";
	size_t plen;
	int status = http_request_route(&c->msg, &route, &why);

	/* RFC 9112 3.2: HTTP/1.1 without Host (or with two) is 400, as on the
	 * traffic port */
	if (status) {
		answer_error(c, status, why);
		return;
	}
	url = http_msg_ptr(&c->msg, route.path);
	plen = route.path.len;
	q = memchr(url, '?', plen);
	if (q)
		plen = (size_t)(q - url);
	buf_reset(&body);
	if (plen >= 6 && memcmp(url, "/admin", 6) == 0 && (plen == 6 || url[6] == '/')) {
		status = api_route(c->a, &c->msg, url, route.path.len, c->body.data, c->body.len, 0,
				   &body, &ctype, hdr, sizeof(hdr), &c->wait);
		if (status == 0) {
			c->parked = 1;
			return;
		}
	} else {
		status = own_route(c->a, http_msg_method(&c->msg), url, plen, q, url + route.path.len,
				   &body, &ctype);
	}
	http_response_begin(&c->out, status);
	buf_append_str(&c->out, hdr);
	http_response_end(&c->out, ctype, body.len, 0);
	if (http_msg_method(&c->msg) != HTTP_HEAD)
		buf_append(&c->out, body.data, body.len);
}

/* --admin-path on the traffic port (px->admin_path_answer): the same
 * routes, `target` the path past the prefix (with its '/'). */
static int traffic_answer(struct proxy *px, const struct http_msg *req, const char *target,
			  size_t len, const char *rbody, size_t rlen, struct buf *out,
			  const char **ctype, char *hdr, size_t hdrsz)
{
	struct admin_set_wait unused;
	const char *q = memchr(target, '?', len);
	size_t plen = q ? (size_t)(q - target) : len;

	if (plen >= 6 && memcmp(target, "/admin", 6) == 0 && (plen == 6 || target[6] == '/'))
		return api_route(traffic_admin, req, target, len, rbody, rlen, 1, out, ctype, hdr,
				 hdrsz, &unused);
	return own_route(traffic_admin, http_msg_method(req), target, plen, q, target + len, out,
			 ctype);
}

/* The answer in c->out goes out; the exchange has what is left of
 * ADMIN_TIMEOUT. */
static void respond(struct admin_conn *c)
{
	struct ev_loop *loop = c->a->px->loop;
	double left = ADMIN_TIMEOUT - (ev_now(loop) - c->accepted);

	ev_io_stop(loop, &c->io);
	ev_io_set(&c->io, c->fd, EV_WRITE);
	ev_io_start(loop, &c->io);
	ev_timer_stop(loop, &c->timer);
	ev_timer_set(&c->timer, left > 0 ? left : 0.001, 0);
	ev_timer_start(loop, &c->timer);
}

/* A drain?wait= checks every ADMIN_WAIT_TICK until it is answered. */
#define ADMIN_WAIT_TICK 0.05

static void park(struct admin_conn *c)
{
	struct ev_loop *loop = c->a->px->loop;

	ev_timer_stop(loop, &c->timer);
	ev_timer_set(&c->timer, ADMIN_WAIT_TICK, 0);
	ev_timer_start(loop, &c->timer);
}

/* A parked wait's tick: answered when the drain is done, undone or past
 * its time. */
static void parked_check(struct admin_conn *c)
{
	static struct buf body = BUF_INIT;
	struct proxy *px = c->a->px;
	int status;

	buf_reset(&body);
	status = admin_set_wait_check(px, &c->wait, px->stopping, &body);
	if (!status) {
		park(c);
		return;
	}
	if (px->stopping && status != 200) {
		status = api_error(&body, 503, "lb-proxy is stopping: the drain stays applied "
				   "until it exits");
	}
	c->parked = 0;
	http_response_simple(&c->out, status, "application/json", body.data, body.len, 0);
	/* the wait had its own time: the answer gets ADMIN_TIMEOUT */
	c->accepted = ev_now(px->loop);
	respond(c);
}

/* The request body (llhttp's, dechunked): kept up to ADMIN_SET_BODY_MAX;
 * past it the request is 413. */
static int on_body(void *ctx, const char *at, size_t len)
{
	struct admin_conn *c = ctx;

	if (c->body.len + len > ADMIN_SET_BODY_MAX)
		return 413;
	return buf_append(&c->body, at, len) == -1 ? 500 : 0;
}

static void conn_on_io(struct ev_loop *loop, ev_io *w, int revents)
{
	struct admin_conn *c = w->data;

	if (revents & EV_READ) {
		char scratch[512];
		/* one request per connection: what follows a parked one is dropped */
		ssize_t n = c->parked ? read(c->fd, scratch, sizeof(scratch))
				      : buf_read_fd(&c->in, c->fd, 4096);

		if (n <= 0) {
			if (n == -1 && (errno == EAGAIN || errno == EINTR))
				return;
			conn_free(c);	/* a parked drain stays applied */
			return;
		}
		if (c->parked)
			return;
		/* the feed stops after the head: again for the body (an empty
		 * feed completes a message without one) */
		for (;;) {
			enum http_msg_state before = c->msg.state;

			c->fed += http_msg_feed(&c->msg, c->in.data, c->fed, c->in.len - c->fed);
			if (c->msg.state != HTTP_MSG_BODY ||
			    (before == HTTP_MSG_BODY && c->fed == c->in.len))
				break;
		}
		if (c->msg.state == HTTP_MSG_HEAD || c->msg.state == HTTP_MSG_BODY)
			return;		/* the body comes within ADMIN_TIMEOUT (conn_on_timeout) */
		if (c->msg.state == HTTP_MSG_ERROR)
			answer_error(c, c->msg.error_status, c->msg.error_status == 413
				     ? "the body is over 4096 bytes" : "bad request");
		else
			answer(c);
		if (c->parked) {
			park(c);
			return;
		}
		respond(c);
	}
	if (revents & EV_WRITE) {
		if (buf_write_fd(&c->out, c->fd) == 0)
			return;
		conn_free(c);	/* all written, or the client is gone */
	}
}

static void conn_on_timeout(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct admin_conn *c = w->data;
	(void)revents;

	if (c->parked) {
		parked_check(c);
		return;
	}
	if (c->msg.state == HTTP_MSG_BODY && c->out.len == 0 &&
	    ev_now(loop) - c->accepted < ADMIN_TIMEOUT) {
		/* the head came: the body has the rest of ADMIN_TIMEOUT */
		ev_timer_set(w, ADMIN_TIMEOUT - (ev_now(loop) - c->accepted), 0);
		ev_timer_start(loop, w);
		return;
	}
	if ((c->msg.state == HTTP_MSG_HEAD || c->msg.state == HTTP_MSG_BODY) && c->out.len == 0) {
		char why[64];

		snprintf(why, sizeof(why), "the request did not come within %gs",
			 c->msg.state == HTTP_MSG_HEAD ? ADMIN_HEAD_TIMEOUT : ADMIN_TIMEOUT);
		answer_error(c, 408, why);
		respond(c);
		return;
	}
	conn_free(c);
}

/* Makes room for a connection from peer (conn_guard.h): 1 when it may be taken. */
static int make_room(struct admin *a, const struct sockaddr *peer)
{
	struct conn_guard_slot *victim;
	enum conn_guard_verdict v = conn_guard_admit(&a->guard, peer, &victim);
	unsigned long n;

	if (v == CONN_GUARD_ADMIT)
		return 1;
	if (v == CONN_GUARD_EVICT)
		conn_free((struct admin_conn *)((char *)victim - offsetof(struct admin_conn, slot)));
	n = log_every(&a->evict_log, ev_now(a->px->loop), ADMIN_EVICT_LOG_INTERVAL);
	if (n)
		log_warn("admin listener full: the oldest connections evicted for new ones",
			 "connections=%zu max=%d per_client=%d evicted_total=%llu events=%lu",
			 a->guard.n, ADMIN_MAX_CONNECTIONS, ADMIN_MAX_PER_CLIENT, a->guard.evicted,
			 n);
	return v == CONN_GUARD_EVICT;
}

static void admin_on_accept(struct listener *l, int fd, const struct sockaddr *peer)
{
	struct admin *a = l->data;
	struct admin_conn *c;

	if (!make_room(a, peer) || !(c = calloc(1, sizeof(*c)))) {
		close(fd);
		return;
	}
	c->a = a;
	c->fd = fd;
	c->accepted = ev_now(a->px->loop);
	http_msg_init(&c->msg, HTTP_REQUEST, 8192, on_body, c);
	ev_io_init(&c->io, conn_on_io, fd, EV_READ);
	ev_timer_init(&c->timer, conn_on_timeout, ADMIN_HEAD_TIMEOUT, 0);
	c->io.data = c->timer.data = c;
	ev_io_start(a->px->loop, &c->io);
	ev_timer_start(a->px->loop, &c->timer);
	LIST_INSERT_HEAD(&admin_conns, c, link);
	conn_guard_add(&a->guard, &c->slot, peer);
}

int admin_init(struct admin *a, struct proxy *px, const char *addr, char *err, size_t errsz)
{
	a->px = px;
	conn_guard_init(&a->guard, ADMIN_MAX_CONNECTIONS, ADMIN_MAX_PER_CLIENT);
	return listener_init(&a->listener, px->loop, addr, 0, admin_on_accept, a, err, errsz);
}

int admin_adopt(struct admin *a, struct proxy *px, int fd, char *err, size_t errsz)
{
	a->px = px;
	conn_guard_init(&a->guard, ADMIN_MAX_CONNECTIONS, ADMIN_MAX_PER_CLIENT);
	return listener_adopt(&a->listener, px->loop, fd, admin_on_accept, a, err, errsz);
}

int admin_configure(struct admin *a, const struct proxy_options *opts, const char *runtime_dir,
		    char *err, size_t errsz)
{
	struct net_addr na;
	const char *p = opts->admin_path;
	size_t n = p ? strlen(p) : 0;

	snprintf(a->runtime_dir, sizeof(a->runtime_dir), "%s", runtime_dir ? runtime_dir : "");
	if (p && (n < 2 || p[0] != '/' || p[n - 1] != '/' || n > ROUTES_MONITOR_URI_MAX ||
		  strspn(p, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
			    "-._~/") != n || strstr(p, "//"))) {
		snprintf(err, errsz, "--admin-path %s: a path that starts and ends with '/' (/lb/), of "
			 "letters, digits and -._~, at most %d bytes", p, ROUTES_MONITOR_URI_MAX);
		return -1;
	}
	if (opts->admin_token && !(a->token = admin_token_read(opts->admin_token, err, errsz)))
		return -1;
	/* as lb-discover's: without a token, writes only from loopback */
	a->writes_open = a->token || opts->admin_insecure ||
			 (net_parse_addr(opts->admin, &na, err, errsz) == 0 &&
			  admin_token_loopback(&na));
	return 0;
}

int admin_start(struct admin *a)
{
	struct proxy *px = a->px;

	if (listener_start(&a->listener) == -1)
		return -1;
	snprintf(px->admin_address, sizeof(px->admin_address), "%s", a->listener.name);
	if (px->opts->admin_path) {
		traffic_admin = a;
		px->admin_path_answer = traffic_answer;
	}
	log_info("admin listening", "admin=%s auth=%s writes=%s%s%s", a->listener.name,
		 a->token ? "token" : "none",
		 px->on_bus ? "lb-discover's" : a->writes_open ? "open" : "token-only",
		 px->opts->admin_path ? " admin_path=" : "",
		 px->opts->admin_path ? px->opts->admin_path : "");
	return 0;
}

void admin_release(struct admin *a)
{
	while (!LIST_EMPTY(&admin_conns)) {
		struct admin_conn *c = LIST_FIRST(&admin_conns);

		/* a parked wait is told why it ends (one try: the loop is over) */
		if (c->parked) {
			static const char stopping[] = "{\"error\":\"lb-proxy is stopping: the drain "
						       "stays applied until it exits\"}";

			http_response_simple(&c->out, 503, "application/json", stopping,
					     sizeof(stopping) - 1, 0);
			buf_write_fd(&c->out, c->fd);
		}
		conn_free(c);
	}
	listener_release(&a->listener);
	if (traffic_admin == a) {
		a->px->admin_path_answer = NULL;
		traffic_admin = NULL;
	}
	free(a->token);
	a->token = NULL;
}
