/* admin: lb-proxy's admin listener: one request per connection, answered and closed. */
#include "admin.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <unistd.h>

#include "buf.h"
#include "http/routes.h"
#include "http_parser.h"
#include "http_request.h"
#include "http_response.h"
#include "log.h"
#include "net/tls_server_render.h"
#include "timefmt.h"
#include "upstream/balance_rr.h"
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
	struct http_msg msg;
	LIST_ENTRY(admin_conn) link;
};

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

/* Builds the answer for the parsed request into c->out. */
static void answer(struct admin_conn *c)
{
	static struct buf body = BUF_INIT;
	struct proxy *px = c->a->px;
	struct http_route route;
	const char *url, *q, *why;
	size_t plen;
	const char *ctype = "application/json";
	int status = http_request_route(&c->msg, &route, &why);

	/* RFC 9112 3.2: HTTP/1.1 without Host (or with two) is 400, as on the
	 * traffic port */
	if (status) {
		answer_error(c, status, why);
		return;
	}
	status = 200;
	url = http_msg_ptr(&c->msg, route.path);
	plen = route.path.len;
	q = memchr(url, '?', plen);
	if (q)
		plen = (size_t)(q - url);
	buf_reset(&body);
#define PATH_IS(p) (plen == sizeof(p) - 1 && memcmp(url, p, plen) == 0)
	if (http_msg_method(&c->msg) != HTTP_GET && http_msg_method(&c->msg) != HTTP_HEAD) {
		status = 405;
		buf_append_str(&body, "{\"error\":\"the admin API answers GET only\"}");
	} else if (PATH_IS("/health")) {
		buf_append_str(&body, "{\"status\":\"ok\"}");
	} else if (PATH_IS("/ready")) {
		int n = (int)routes_usable_backends(px);

		status = (n > 0 && !px->stopping) ? 200 : 503;
		buf_appendf(&body, "{\"status\":\"%s\",\"usable_backends\":%d}",
			    status == 200 ? "ready" : "not ready", n);
	} else if (PATH_IS("/info")) {
		info(px, &body);
	} else if (PATH_IS("/debug/next-backend")) {
		status = next_backend(px, q, url + route.path.len, &body);
	} else if (PATH_IS("/metrics")) {
		int panic;

		ctype = "text/plain; version=0.0.4";
		metrics_render(&px->metrics, &body, px->nsessions, upstream_open_count(),
			       px->set.generation, px->stale, timefmt_mono() - px->started,
			       ev_now(px->loop));
		if (px->rate_on)
			metrics_render_rate(&body, px->rate.limited, px->rate.eff_rate,
					    px->rate.eff_burst, px->rate.share, px->rate.used,
					    px->rate.evicted);
		if (px->tls_server || px->opts->backend_tls)
			tls_server_render_metrics(px->tls_server, &body);
		panic = balancer_panic(&px->balancer, &px->set, ev_now(px->loop));
		metrics_render_panic(&body, panic, px->balancer.panic.entered_total);
		h2_metrics_render(&px->metrics.h2, &body);
		listeners_metrics(px, &body);
	} else {
		status = 404;
		buf_append_str(&body, "{\"error\":\"not found: try /health /ready /info "
				      "/debug/next-backend /metrics\"}");
	}
#undef PATH_IS
	http_response_begin(&c->out, status);
	http_response_end(&c->out, ctype, body.len, 0);
	if (http_msg_method(&c->msg) != HTTP_HEAD)
		buf_append(&c->out, body.data, body.len);
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

static void conn_on_io(struct ev_loop *loop, ev_io *w, int revents)
{
	struct admin_conn *c = w->data;

	if (revents & EV_READ) {
		ssize_t n = buf_read_fd(&c->in, c->fd, 4096);

		if (n <= 0) {
			if (n == -1 && (errno == EAGAIN || errno == EINTR))
				return;
			conn_free(c);
			return;
		}
		http_msg_feed(&c->msg, c->in.data, c->in.pos, c->in.len - c->in.pos);
		c->in.pos = c->in.len;
		if (c->msg.state == HTTP_MSG_HEAD)
			return;
		if (c->msg.state == HTTP_MSG_ERROR)
			answer_error(c, c->msg.error_status, "bad request");
		else
			answer(c);
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
	(void)loop;
	(void)revents;

	if (c->msg.state == HTTP_MSG_HEAD && c->out.len == 0) {
		char why[64];

		snprintf(why, sizeof(why), "the request head did not come within %gs",
			 ADMIN_HEAD_TIMEOUT);
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
	http_msg_init(&c->msg, HTTP_REQUEST, 8192, NULL, NULL);
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

int admin_start(struct admin *a)
{
	if (listener_start(&a->listener) == -1)
		return -1;
	log_info("admin listening", "admin=%s", a->listener.name);
	return 0;
}

void admin_release(struct admin *a)
{
	while (!LIST_EMPTY(&admin_conns))
		conn_free(LIST_FIRST(&admin_conns));
	listener_release(&a->listener);
}
