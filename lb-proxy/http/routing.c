/* routing: a Gateway's route table in the proxy (see routing.h). */
#include "routing.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "routing_hits.h"
#include "mirror.h"
#include "timefmt.h"
#include "upstream/balance.h"

/* bytes of a Host copied for the matcher: a DNS name and a port */
#define ROUTING_HOST_MAX (ROUTE_HOSTNAME_MAX + 8)

static void snapshot_unref(struct route_snapshot *snap)
{
	if (!snap || --snap->refs)
		return;
	for (unsigned i = 0; i < snap->nservices; i++)
		service_unref(snap->services[i]);
	free(snap->services);
	free(snap->first);
	free(snap->hits);
	free(snap->splits);
	route_table_free(snap->table);
	free(snap);
}

struct route_snapshot *routing_hold(struct proxy *px)
{
	struct route_snapshot *snap = px->routing ? px->routing->current : NULL;

	if (snap)
		snap->refs++;
	return snap;
}

void routing_let_go(struct route_snapshot *snap)
{
	snapshot_unref(snap);
}

struct service *routing_backend_service(const struct route_snapshot *snap,
					const struct route_rule *rule,
					const struct route_backend *b)
{
	if (!b->resolved)
		return NULL;
	return snap->services[snap->first[rule - snap->table->rules] +
			      (unsigned)(b - rule->backends)];
}

struct service *routing_mirror_service(const struct route_snapshot *snap,
				       const struct route_rule *rule, unsigned m)
{
	return snap->services[snap->first[rule - snap->table->rules] + rule->n_backends + m];
}

/* The rule's split key parsed ("client" is hashkey's "client-ip"); a key
 * the proxy cannot parse (the codec checked it) leaves the split random. */
static void split_parse(const struct route_rule *rule, struct routing_split *sp)
{
	char err[128];

	sp->on = rule->split_key &&
		 hashkey_parse(strcmp(rule->split_key, "client") == 0 ? "client-ip"
								      : rule->split_key,
			       &sp->key, err, sizeof(err)) == 0;
}

struct service *routing_service(struct proxy *px, const char *name)
{
	if (!px->routing)
		return NULL;
	for (struct service *s = px->routing->services; s; s = s->next)
		if (strcmp(s->name, name) == 0)
			return s;
	return NULL;
}

/* The service of backendRef b in the new list, found there, taken from the
 * old list (unlinked from it), or made; NULL when out of memory. Each
 * service in the new list holds one reference for it. */
static struct service *service_for(struct proxy *px, struct service **list,
				   struct service **old, const struct route_backend *b)
{
	char name[BUS_SERVICE_MAX];
	struct service *s, **link;

	if (snprintf(name, sizeof(name), "%s/%s:%u", b->namespace, b->name, b->port) >=
	    (int)sizeof(name))
		return NULL;
	for (s = *list; s; s = s->next)
		if (strcmp(s->name, name) == 0)
			return s;
	for (link = old; *link; link = &(*link)->next)
		if (strcmp((*link)->name, name) == 0)
			break;
	if (*link) {
		s = *link;
		*link = s->next;	/* its list reference moves to the new list */
	} else {
		s = service_new(name, px->balancer.ops);
		if (!s)
			return NULL;
	}
	s->next = *list;
	*list = s;
	return s;
}

int routing_apply(struct proxy *px, struct route_table *table, unsigned long long generation)
{
	struct route_snapshot *snap;
	struct service *list = NULL, *s, *next;
	unsigned n = 0;

	if (!px->routing && !(px->routing = calloc(1, sizeof(*px->routing))))
		goto fail_table;
	/* without an index (out of memory) a listener's hosts are scanned */
	route_table_index(table, ROUTE_INDEX_MIN_VHOSTS);
	snap = calloc(1, sizeof(*snap));
	if (!snap)
		goto fail_table;
	snap->table = table;
	snap->generation = generation;
	snap->refs = 1;
	snap->first = calloc(table->n_rules ? table->n_rules : 1, sizeof(*snap->first));
	snap->splits = calloc(table->n_rules ? table->n_rules : 1, sizeof(*snap->splits));
	for (unsigned i = 0; i < table->n_rules; i++)
		n += table->rules[i].n_backends + table->rules[i].n_mirrors;
	snap->services = calloc(n ? n : 1, sizeof(*snap->services));
	snap->hits = calloc(table->n_rules ? table->n_rules : 1, sizeof(*snap->hits));
	if (!snap->first || !snap->services || !snap->hits || !snap->splits)
		goto fail;
	for (unsigned i = 0, k = 0; i < table->n_rules; i++) {
		const struct route_rule *rule = &table->rules[i];

		split_parse(rule, &snap->splits[i]);
		snap->first[i] = k;
		for (unsigned j = 0; j < rule->n_backends + rule->n_mirrors; j++, k++) {
			const struct route_backend *b = j < rule->n_backends
				? &rule->backends[j] : &rule->mirrors[j - rule->n_backends].backend;

			if (!b->resolved)
				continue;
			if (!(s = service_for(px, &list, &px->routing->services, b)))
				goto fail;
			/* one reference per slot: snapshot_unref drops them all */
			service_ref(s);
			snap->services[k] = s;
		}
	}
	snap->nservices = n;
	/* what is left of the old list is named no more: its exchanges and the
	 * previous table keep those services alive until they end */
	for (s = px->routing->services; s; s = next) {
		next = s->next;
		service_unref(s);
	}
	px->routing->services = list;
	if (px->routing->current)
		routing_hits_carry(px->routing->current->table, px->routing->current->hits, table,
				   snap->hits);
	snapshot_unref(px->routing->current);
	px->routing->current = snap;
	return 0;
fail:
	for (unsigned i = 0; i < n; i++)
		service_unref(snap->services[i]);
	/* the services go back to the old list (a new one stays listed, empty,
	 * until the next table: harmless) */
	for (s = list; s; s = next) {
		next = s->next;
		s->next = px->routing->services;
		px->routing->services = s;
	}
	free(snap->services);
	free(snap->first);
	free(snap->hits);
	free(snap->splits);
	free(snap);
fail_table:
	route_table_free(table);
	log_error("routes not applied: out of memory, serving the previous ones", NULL);
	return -1;
}

const char *routing_service_protocol(const struct proxy *px, const struct service *s)
{
	return s->protocol >= 0 ? s->settings.protocol : px->opts->backend_protocol;
}

const char *routing_service_balance(const struct proxy *px, const struct service *s)
{
	return s->own_ops ? s->settings.balance : px->opts->balance;
}

void routing_follow_balance(struct proxy *px)
{
	for (struct service *s = px->routing ? px->routing->services : NULL; s; s = s->next)
		if (!s->own_ops && s->balancer.ops != px->balancer.ops &&
		    balancer_rebuild(&s->balancer, px->balancer.ops, &s->set) == -1)
			log_error("service balancer not rebuilt: out of memory, balancing with the "
				  "last --balance", "service=%s", s->name);
}

void routing_info(struct proxy *px, struct buf *b)
{
	const struct route_snapshot *snap = px->routing ? px->routing->current : NULL;
	int first = 1;

	if (!snap) {
		buf_append_str(b, "\"routes\":{\"generation\":0},");
		return;
	}
	buf_appendf(b, "\"routes\":{\"generation\":%llu,\"listeners\":%u,\"rules\":%u,"
		    "\"matched_total\":%llu,\"services\":[", snap->generation,
		    snap->table->n_listeners, snap->table->n_rules, px->routing->rule_hits_total);
	for (const struct service *s = px->routing->services; s; s = s->next) {
		buf_append_str(b, first ? "{\"name\":\"" : ",{\"name\":\"");
		buf_append_json_escaped(b, s->name, strlen(s->name));
		buf_appendf(b, "\",\"generation\":%llu,\"backends\":%zu,\"protocol\":\"%s\","
			    "\"balance\":\"%s\"}", s->set.generation, s->set.n,
			    routing_service_protocol(px, s), routing_service_balance(px, s));
		first = 0;
	}
	buf_append_str(b, "]},");
}

void routing_release(struct proxy *px)
{
	struct service *s, *next;

	if (!px->routing)
		return;
	for (s = px->routing->services; s; s = next) {
		next = s->next;
		service_unref(s);
	}
	snapshot_unref(px->routing->current);
	free(px->routing);
	px->routing = NULL;
	mirror_release();
}

/* The matcher's header lookup over the request head. */
static const char *request_header(void *ctx, const char *name, size_t *len)
{
	const struct http_msg *req = ctx;
	int i = http_msg_find(req, name);

	if (i < 0)
		return NULL;
	*len = req->headers[i].value.len;
	return http_msg_ptr(req, req->headers[i].value);
}

/* A number in [0, 2^32) from the process's generator. */
static uint32_t random32(void)
{
	return (uint32_t)(balance_random() * 4294967296.0);
}

/*
 * The backendRef of rule for s's request. Without a split key, at random
 * by weight. With cookie:NAME, the backendRef the cookie names while the
 * rule still has it resolved (whatever its weight, 0 included: a session
 * finishes where it began); else at random by weight, and the response
 * sets the cookie (x->split_cookie). With header:NAME or client, the key's
 * balance_hash (the same on every proxy) placed on the cumulative weight
 * interval; a request without the key picks at random.
 */
static const struct route_backend *split_pick(struct session *s, const struct route_snapshot *snap,
					      const struct route_rule *rule)
{
	unsigned ri = (unsigned)(rule - snap->table->rules);
	const struct routing_split *sp = &snap->splits[ri];
	struct exchange *x = s->x;
	const char *key, *client = NULL;
	size_t klen, clen = 0;

	if (!sp->on)
		return route_pick_backend(rule, random32());
	if (sp->key.kind == HASHKEY_CLIENT_IP)
		client = hashkey_client_ip(&s->px->trusted, s->client_ip, &x->req, &clen);
	if (!hashkey_find(&sp->key, &x->req, &x->route, client, clen, &key, &klen)) {
		if (sp->key.kind == HASHKEY_COOKIE)
			x->split_cookie = sp->key.name;
		return route_pick_backend(rule, random32());
	}
	if (sp->key.kind != HASHKEY_COOKIE)
		return route_pick_backend(rule, (uint32_t)(balance_hash(key, klen) >> 32));
	for (unsigned j = 0; j < rule->n_backends; j++) {
		const struct service *svc = snap->services[snap->first[ri] + j];

		if (svc && strlen(svc->name) == klen && memcmp(svc->name, key, klen) == 0)
			return &rule->backends[j];
	}
	x->split_cookie = sp->key.name;	/* forged, or a backendRef gone: a new pick */
	return route_pick_backend(rule, random32());
}

enum routing_verdict routing_route(struct session *s, struct routing_redirect *rd)
{
	struct proxy *px = s->px;
	struct exchange *x = s->x;
	struct route_snapshot *snap = px->routing ? px->routing->current : NULL;
	struct route_request rq;
	struct route_result res;
	const struct route_backend *b;
	struct service *svc;
	char host[ROUTING_HOST_MAX + 1];
	const char *path = http_msg_ptr(&x->req, x->route.path), *q;
	size_t plen = x->route.path.len;
	int n;

	if (!snap)
		return ROUTING_FORWARD;
	memset(&rq, 0, sizeof(rq));
	if (x->route.has_authority && x->route.authority.len <= ROUTING_HOST_MAX) {
		memcpy(host, http_msg_ptr(&x->req, x->route.authority), x->route.authority.len);
		host[x->route.authority.len] = '\0';
		rq.host = host;
	}
	rq.method = llhttp_method_name(http_msg_method(&x->req));
	if (x->route.path_slash) {
		path = "/";	/* absolute-form without a path */
		plen = 1;
	}
	q = memchr(path, '?', plen);
	rq.path = path;
	rq.path_len = q ? (size_t)(q - path) : plen;
	rq.query = q ? q + 1 : NULL;
	rq.query_len = q ? plen - rq.path_len - 1 : 0;
	rq.header = request_header;
	rq.header_ctx = &x->req;
	if (route_match(snap->table, s->via->port, &rq, &res) == -1) {
		px->routing->unmatched_total++;
		return ROUTING_NO_ROUTE;
	}
	px->routing->rule_hits_total++;
	snap->hits[res.rule - snap->table->rules]++;
	/* http.route, the SERVER span's name: the match's path as the route
	 * wrote it (a template of the table's, never the request's path) */
	x->trace.route = res.match->path;
	snap->refs++;		/* the rule and its strings, until the exchange ends */
	x->routes = snap;
	if (res.rule->redirect) {
		rd->status = res.rule->redirect->status;
		n = route_redirect_location(res.rule->redirect, res.match, s->via->port,
					    s->via->tls ? "https" : "http", rq.host, rq.path,
					    rq.path_len, rq.query, rq.query_len, rd->location,
					    sizeof(rd->location));
		return n == -1 ? (rq.host ? ROUTING_TOO_LONG : ROUTING_NO_HOST) : ROUTING_REDIRECT;
	}
	b = split_pick(s, snap, res.rule);
	svc = b && b->resolved ? snap->services[snap->first[res.rule - snap->table->rules] +
						 (unsigned)(b - res.rule->backends)] : NULL;
	if (!svc)
		return ROUTING_UNRESOLVED;
	if (x->split_cookie)
		x->split_value = svc->name;
	service_ref(svc);
	x->svc = svc;
	x->set = &svc->set;
	x->balancer = &svc->balancer;
	x->rule = res.rule;
	x->rewrite_len = 0;
	if (res.rule->rewrite && res.rule->rewrite->path_type != ROUTE_MODIFY_NONE) {
		/* the rewritten path into the redirect's buffer, unused here */
		n = route_rewrite_path(res.rule->rewrite->path_type, res.rule->rewrite->path,
				       res.match->path, rq.path, rq.path_len, rd->location,
				       sizeof(rd->location));
		if (n == -1 || buf_reserve(&x->rewritten, (size_t)n + 1 + rq.query_len) == -1)
			return ROUTING_TOO_LONG;
		buf_reset(&x->rewritten);
		buf_append(&x->rewritten, rd->location, (size_t)n);
		if (rq.query) {
			buf_append(&x->rewritten, "?", 1);
			buf_append(&x->rewritten, rq.query, rq.query_len);
		}
		x->rewrite_len = x->rewritten.len;
	}
	return ROUTING_FORWARD;
}

void routing_exchange_init(struct exchange *x)
{
	x->rewritten = (struct buf)BUF_INIT;
	x->svc = NULL;
	x->routes = NULL;
	x->mirrors = NULL;
	routing_exchange_done(x);
}

void routing_exchange_done(struct exchange *x)
{
	if (x->svc)
		service_unref(x->svc);
	if (x->routes)
		snapshot_unref(x->routes);
	x->svc = NULL;
	x->routes = NULL;
	x->rule = NULL;
	x->set = NULL;
	x->balancer = NULL;
	x->rewrite_len = 0;
	x->split_cookie = x->split_value = NULL;
}

double routing_try_timeout(const struct session *s)
{
	const struct route_rule *rule = s->x ? s->x->rule : NULL;
	double t = s->px->opts->per_try_timeout, left;

	if (!rule)
		return t;
	if (rule->timeout_backend_ms)
		t = rule->timeout_backend_ms / 1000.0;
	if (rule->timeout_request_ms) {
		left = s->x->started + rule->timeout_request_ms / 1000.0 - timefmt_mono();
		if (left < t)
			t = left > 0.001 ? left : 0.001;
	}
	return t;
}

int routing_deadline_passed(const struct session *s)
{
	const struct route_rule *rule = s->x ? s->x->rule : NULL;

	return rule && rule->timeout_request_ms &&
	       timefmt_mono() >= s->x->started + rule->timeout_request_ms / 1000.0;
}

void routing_mirror(struct session *s)
{
	const struct route_rule *rule = s->x->rule;
	struct headers_ctx ctx;

	if (!rule || !rule->n_mirrors || s->x->req.upgrade)
		return;
	for (unsigned m = 0; m < rule->n_mirrors; m++) {
		const struct route_mirror *mr = &rule->mirrors[m];

		/* numerator/denominator of the requests (the spec's fraction) */
		if (mr->numerator < mr->denominator &&
		    balance_random() * mr->denominator >= mr->numerator)
			continue;
		ctx = session_headers_ctx(s);
		ctx.backend_name = "localhost";
		routing_headers_ctx(s, 1, &ctx);
		mirror_begin(s, routing_mirror_service(s->x->routes, rule, m), &ctx);
	}
}

void routing_headers_ctx(const struct session *s, int request, struct headers_ctx *ctx)
{
	const struct route_rule *rule = s->x ? s->x->rule : NULL;
	const struct route_header_modifier *m;

	if (!rule)
		return;
	m = request ? &rule->request_headers : &rule->response_headers;
	/* none when the rule has none: each of the message's fields would
	 * otherwise be looked up in an empty list */
	ctx->modify = m->n_set || m->n_add || m->n_remove ? m : NULL;
	if (!request) {
		if (s->x->split_value) {	/* the split's cookie, in place of --sticky-cookie's */
			ctx->sticky_cookie = s->x->split_cookie;
			ctx->sticky_insert = s->x->split_value;
		}
		return;
	}
	if (s->x->rewrite_len) {
		ctx->rewrite_target = s->x->rewritten.data;
		ctx->rewrite_target_len = s->x->rewrite_len;
	}
	if (rule->rewrite && rule->rewrite->hostname)
		ctx->rewrite_host = rule->rewrite->hostname;
}
