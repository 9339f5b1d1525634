/* admin: the admin API's answers: the token, the routes, the verbs through
 * the command table, a drain?wait= parked until the proxies drained (see
 * admin.h). */
#include "admin.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin_route.h"
#include "admin_trace.h"
#include "admin_token.h"
#include "buf.h"
#include "cluster/fleet.h"
#include "cluster/replicas.h"
#include "command.h"
#include "core/proxies.h"
#include "core/served.h"
#include "log.h"
#include "metrics.h"
#include "page.h"
#include "route_view.h"
#include "status.h"
#include "verbs.h"

static struct admin *admin_of(const struct admin_conn *c)
{
	return c->s->data;
}

static int http_status_of(enum command_status st)
{
	switch (st) {
	case COMMAND_OK:
		return 200;
	case COMMAND_INVALID:
		return 400;
	case COMMAND_UNKNOWN:
		return 404;
	case COMMAND_CONFLICT:
		return 409;
	default:
		return 500;
	}
}

/* 1 when the request carries the token, 0 another one, -1 none (admin_token.h). */
static int authorized(const struct admin_conn *c)
{
	return admin_token_check(&c->msg, admin_of(c)->token);
}

/* 1 when a browser sent the write from a page of another origin: its
 * Origin is not http://HOST, HOST the request's own Host. Browsers send
 * Origin with every POST, PUT and DELETE, scripts and curl none; so a site
 * open in the operator's browser cannot drive the API (cross-site request
 * forgery: without --admin-token a write needs no credential). */
static int cross_origin(const struct admin_conn *c)
{
	int i = http_msg_find(&c->msg, "origin");
	const char *v, *host;
	size_t vlen, hlen;

	if (i < 0)
		return 0;
	if (!c->route.has_authority)
		return 1;
	v = http_msg_ptr(&c->msg, c->msg.headers[i].value);
	vlen = c->msg.headers[i].value.len;
	host = http_msg_ptr(&c->msg, c->route.authority);
	hlen = c->route.authority.len;
	return vlen != 7 + hlen || strncasecmp(v, "http://", 7) != 0 ||
	       strncasecmp(v + 7, host, hlen) != 0;
}

/* The request body as a JSON object (a new reference), or NULL with an
 * error answered. */
static json_t *body_object(struct admin_conn *c)
{
	json_error_t jerr;
	json_t *doc;
	char msg[256];

	if (c->body.len == 0) {
		admin_server_respond_error(c, 400, "the body must be a JSON object", "");
		return NULL;
	}
	doc = json_loadb(c->body.data, c->body.len, JSON_REJECT_DUPLICATES, &jerr);
	if (!doc) {
		snprintf(msg, sizeof(msg), "the body is not JSON (line %d column %d: %s)", jerr.line,
			 jerr.column, jerr.text);
		admin_server_respond_error(c, 400, msg, "");
		return NULL;
	}
	if (!json_is_object(doc)) {
		json_decref(doc);
		admin_server_respond_error(c, 400, "the body must be a JSON object", "");
		return NULL;
	}
	return doc;
}

/* Fills the control's weight from doc's "weight"; returns 0, or -1 with
 * the error answered. */
static int take_weight(struct admin_conn *c, json_t *doc, struct bus_control *ctl, int required)
{
	json_t *w = json_object_get(doc, "weight");

	if (!w && !required)
		return 0;
	if (!json_is_integer(w)) {
		admin_server_respond_error(c, 400, "the weight must be 1 to 1000", "");
		return -1;
	}
	ctl->has_weight = 1;
	ctl->weight = json_integer_value(w);
	return 0;
}

/* A parked drain?wait=: answers once the fleet drained the backend, at once
 * when the drain was cancelled (409, command_drain_state's rule: the one of
 * lb-ctl drain --wait), or at the deadline (`last`) with what is still in
 * flight. */
static void drain_check(struct admin_conn *c, int last, void *data)
{
	struct discover *d = ((struct admin *)data)->d;
	int proxies, status;
	long n;
	char why[200], msg[256];
	enum command_drain st = command_drain_state(d, c->service, c->address, c->generation, &n,
						     &proxies, why, sizeof(why));
	json_t *doc;

	if (st == COMMAND_DRAIN_WAITING && !last)
		return;
	/* 202: the drain is applied, its requests are still running */
	status = st == COMMAND_DRAIN_DONE ? 200 : st == COMMAND_DRAIN_CANCELLED ? 409 : 202;
	doc = json_pack("{s:I,s:s,s:b,s:i,s:I}", "generation", (json_int_t)c->generation,
			"address", c->address, "drained", st == COMMAND_DRAIN_DONE, "proxies",
			proxies, "in_flight", (json_int_t)n);
	if (doc && c->service[0])
		json_object_set_new(doc, "service", json_string(c->service));
	if (st == COMMAND_DRAIN_CANCELLED) {
		log_info("drain wait ended: the drain was cancelled", "service=%s address=%s "
			 "generation=%llu reason=\"%s\"", c->service[0] ? c->service : "-",
			 c->address, c->generation, why);
		snprintf(msg, sizeof(msg), "not drained: the drain was cancelled: %s", why);
		if (doc)
			json_object_set_new(doc, "error", json_string(msg));
	}
	admin_server_respond_json(c, status, doc, "");
}

/* Runs a verb and answers its result (201 when it `created` a resource); a
 * drain with ?wait= parks instead. */
static void run(struct admin_conn *c, struct bus_control *ctl, double wait, int created)
{
	struct command_result r;
	int status;

	enum command_status st = command_run(admin_of(c)->d, ctl, &r);

	admin_trace_address(&c->trace, r.address[0] ? r.address : ctl->address);
	if (st != COMMAND_OK) {
		admin_server_respond_error(c, http_status_of(r.status), r.error, "");
		command_result_release(&r);
		return;
	}
	status = created ? 201 : 200;
	json_object_set_new(r.body, "address", json_string(r.address));
	if (wait > 0) {
		snprintf(c->address, sizeof(c->address), "%s", r.address);
		snprintf(c->service, sizeof(c->service), "%s", ctl->service);
		c->generation = (unsigned long long)json_integer_value(
			json_object_get(r.body, "generation"));
		command_result_release(&r);
		admin_server_park(c, wait);
		return;
	}
	admin_server_respond_json(c, status, r.body, "");
	r.body = NULL;
	command_result_release(&r);
}

static void answer_write(struct admin_conn *c, const struct admin_route *route)
{
	const struct verb *v = route->verb;
	struct bus_control ctl;
	json_t *doc = NULL;
	char msg[128];

	memset(&ctl, 0, sizeof(ctl));
	admin_trace_begin(&c->trace, &c->msg, v, spans_now(c->s->loop));
	if (cross_origin(c)) {
		admin_server_respond_error(c, 403, "a write from a page of another origin is "
					   "refused: use the status page this lb-discover serves, "
					   "lb-ctl or a client that sends no Origin", "");
		return;
	}
	if (admin_of(c)->token) {
		int ok = authorized(c);

		if (ok == -1) {
			admin_server_respond_error(c, 401, "this needs the admin token: "
						   "Authorization: Bearer TOKEN (lb-discover "
						   "--admin-token)",
						   "WWW-Authenticate: Bearer realm=\"lb-discover\"\r\n");
			return;
		}
		if (ok == 0) {
			admin_server_respond_error(c, 403, "wrong admin token", "");
			return;
		}
	}
	if (route->error) {
		admin_server_respond_error(c, 400, route->error, "");
		return;
	}
	if (strlen(route->address) >= sizeof(ctl.address)) {
		admin_server_respond_error(c, 400, "the address is too long", "");
		return;
	}
	memcpy(ctl.address, route->address, strlen(route->address) + 1);
	snprintf(ctl.command, sizeof(ctl.command), "%s", v->command);
	snprintf(ctl.service, sizeof(ctl.service), "%s", route->service);
	/* what the row takes beyond a path's {address} comes in the body */
	if (!route->address_in_path || (v->args & (VERB_WEIGHT | VERB_OPT_WEIGHT))) {
		if (!(doc = body_object(c)))
			return;
	}
	if (!route->address_in_path) {
		json_t *a = json_object_get(doc, "address");

		if (!json_is_string(a) || strlen(json_string_value(a)) >= sizeof(ctl.address)) {
			snprintf(msg, sizeof(msg), "\"%s\" needs an \"address\" (a string: "
				 "\"10.0.0.9:8080\")", v->name);
			admin_server_respond_error(c, 400, msg, "");
			goto out;
		}
		snprintf(ctl.address, sizeof(ctl.address), "%s", json_string_value(a));
	}
	if ((v->args & (VERB_WEIGHT | VERB_OPT_WEIGHT)) &&
	    take_weight(c, doc, &ctl, (v->args & VERB_WEIGHT) != 0) == -1)
		goto out;
	/* a POST to a collection (/admin/backends) creates */
	run(c, &ctl, route->wait, !route->address_in_path && strcmp(v->http_method, "POST") == 0);
out:
	json_decref(doc);
}

static void answer_read(struct admin_conn *c, const struct admin_route *route)
{
	struct discover *d = admin_of(c)->d;
	enum admin_action action = route->action;
	json_t *st, *doc;
	struct served sv;

	if (action == ADMIN_PAGE) {
		const struct page_file *f = page_find(route->path);

		if (f)
			admin_server_respond(c, 200, f->ctype, (const char *)f->data, f->len,
					     PAGE_HEADERS);
		else
			admin_server_respond_error(c, 404, "not found", "");
		return;
	}
	if (action == ADMIN_EVENTS) {
		events_subscribe(&admin_of(c)->events, c, route->service);
		return;
	}
	if (action == ADMIN_METRICS) {
		struct buf text = BUF_INIT;

		if (metrics_render(d, &text) == -1)
			admin_server_respond_error(c, 500, "out of memory", "");
		else
			admin_server_respond(c, 200, "text/plain; version=0.0.4", text.data,
					     text.len, "");
		buf_release(&text);
		return;
	}
	if (action == ADMIN_ROUTES) {
		json_t *body = route_view_json(d);

		if (body)
			admin_server_respond_json(c, 200, body, "");
		else
			admin_server_respond_error(c, 500, "out of memory", "");
		return;
	}
	/* ?service=: a routed Service's backends or proxies */
	if (served_find(d, route->service, &sv) == -1) {
		char known[200], msg[400];

		served_names(d, known, sizeof(known));
		snprintf(msg, sizeof(msg), "unknown service %.120s: lb-discover serves %s",
			 route->service, known);
		admin_server_respond_error(c, 404, msg, "");
		return;
	}
	if (action == ADMIN_PROXIES && sv.routed) {
		json_t *body = json_pack("{s:s,s:I,s:b,s:o}", "service", sv.reg->service,
					 "generation", (json_int_t)sv.reg->generation,
					 "proxies_settled", proxies_settled(d), "proxies",
					 status_proxies_of(d, &sv, 0));

		admin_server_respond_json(c, 200, body, "");
		return;
	}
	if (action == ADMIN_PROXIES) {
		/* not the whole status: thousands of backends cost it tens of ms */
		json_t *body = json_pack("{s:I,s:b,s:o,s:i}", "generation",
					 (json_int_t)d->reg.generation, "proxies_settled",
					 proxies_settled(d), "proxies", status_proxies(d, 0),
					 "fleet_proxies", (int)discover_fleet_proxies(d));

		/* --kubernetes: every replica and its proxies, the shared state */
		if (body && d->replicas)
			json_object_set_new(body, "replicas", replicas_json(d->replicas));
		if (body && d->fleet)
			json_object_set_new(body, "shared_state", fleet_json(d->fleet));
		admin_server_respond_json(c, 200, body, "");
		return;
	}
	st = status_json_of(d, &sv, 0);
	if (!st) {
		admin_server_respond_error(c, 500, "out of memory", "");
		return;
	}
	doc = json_pack("{s:O,s:O,s:O,s:O}", "service", json_object_get(st, "service"),
			"generation", json_object_get(st, "generation"), "backends",
			json_object_get(st, "backends"), "waiting", json_object_get(st, "waiting"));
	json_decref(st);
	admin_server_respond_json(c, 200, doc, "");
}

/* Every answer: a write's span ends with it. */
static void on_answer(struct admin_conn *c, int status, const char *body, size_t n, void *data)
{
	admin_trace_end(&c->trace, spans_now(c->s->loop), http_msg_ptr(&c->msg, c->route.path),
			c->route.path.len, &c->slot.peer, status, body, n);
}

/* Routes a whole request (the server's on_request). */
static void answer(struct admin_conn *c, void *data)
{
	static struct admin_route route;	/* one request at a time: the loop's */
	char hdr[64], msg[ADMIN_PATH_MAX + 128];

	switch (admin_route_parse(http_msg_method(&c->msg), http_msg_ptr(&c->msg, c->route.path),
				  c->route.path.len, &route)) {
	case ADMIN_ROUTE_TOO_LONG:
		snprintf(msg, sizeof(msg), "the path is over %d bytes", ADMIN_PATH_MAX);
		admin_server_respond_error(c, 414, msg, "");
		return;
	case ADMIN_ROUTE_NOT_FOUND:
		admin_server_respond_error(c, 404, "not found: the routes are / (the status page), "
					   "/events, /admin/health, "
					   "/admin/backends[/ADDR[/drain|/undrain|/weight|/uneject]], "
					   "/admin/proxies, /admin/routes, /admin/metrics", "");
		return;
	case ADMIN_ROUTE_NOT_ALLOWED:
		snprintf(hdr, sizeof(hdr), "Allow: %s\r\n", route.allow);
		snprintf(msg, sizeof(msg), "method not allowed: %s takes %s",
			 strncmp(route.path, "/admin/backends/", 16) == 0 ? "this route" : route.path,
			 route.allow);
		admin_server_respond_error(c, 405, msg, hdr);
		return;
	case ADMIN_ROUTE_BAD:
		if (!route.known_action || !admin_route_writes(&route)) {
			admin_server_respond_error(c, 400, route.error, "");
			return;
		}
		break;		/* the token first: answer_write says 400 after it */
	default:
		break;
	}
	if (admin_route_writes(&route))
		answer_write(c, &route);
	else
		answer_read(c, &route);
}

int admin_init(struct admin *a, struct discover *d, const char *addr, const char *token,
	       int insecure, char *err, size_t errsz)
{
	struct net_addr na;
	char why[256];

	memset(a, 0, sizeof(*a));
	if (net_parse_addr(addr, &na, why, sizeof(why)) == -1) {
		snprintf(err, errsz, "--admin %s", why);
		return -1;
	}
	if (!token && !insecure && !admin_token_loopback(&na)) {
		snprintf(err, errsz, "--admin %s: without --admin-token FILE the admin API binds to "
			 "loopback only (127.0.0.1:PORT, [::1]:PORT); give --admin-token, or "
			 "--admin-insecure to open it to anyone who can reach it", addr);
		return -1;
	}
	if (token && !(a->token = strdup(token))) {
		snprintf(err, errsz, "out of memory");
		return -1;
	}
	if (admin_server_init(&a->server, d->loop, addr, answer, drain_check, a, why,
			      sizeof(why)) == -1) {
		snprintf(err, errsz, "--admin %s", why);
		free(a->token);
		a->token = NULL;
		return -1;
	}
	a->d = d;
	a->server.on_answer = on_answer;
	events_init(&a->events, d, &a->server, a->token != NULL);
	return 0;
}

int admin_start(struct admin *a)
{
	if (admin_server_start(&a->server) == -1)
		return -1;
	events_start(&a->events);
	/* the sets name it: a proxy's admin API sends an operator's writes here */
	snprintf(a->d->admin_address, sizeof(a->d->admin_address), "%s", a->server.listener.name);
	log_info("admin listening", "admin=%s auth=%s", a->server.listener.name,
		 a->token ? "token" : "none");
	return 0;
}

void admin_release(struct admin *a)
{
	if (!a->d)
		return;
	events_release(&a->events);
	admin_server_release(&a->server);
	free(a->token);
	a->token = NULL;
	a->d = NULL;
}

char *admin_read_token(const char *path, char *err, size_t errsz)
{
	return admin_token_read(path, err, errsz);
}
