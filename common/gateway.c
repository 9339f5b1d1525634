/* gateway: a Gateway's listeners, the routes that attach to them
 * (parentRefs, allowedRoutes, hostname intersection), their virtual hosts
 * and the precedence of the entries in each (Gateway API v1). */
#include "gateway.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "gateway_stream.h"

#define API_GROUP "gateway.networking.k8s.io"
/* parentRefs per route (the CRD's limit) */
#define PARENT_REFS_MAX 32

enum listener_from {
	FROM_SAME = 0,	/* routes of the Gateway's namespace */
	FROM_ALL,	/* routes of any namespace */
	FROM_SELECTOR,	/* by namespace labels: lb does not see them, so none */
};

const char *const gateway_route_kind_names[GATEWAY_ROUTE_KINDS] = { "HTTPRoute", "TLSRoute",
								     "TCPRoute" };
const char *const gateway_route_kind_versions[GATEWAY_ROUTE_KINDS] = { "v1", "v1alpha2",
									"v1alpha2" };
const char *const gateway_route_kind_plurals[GATEWAY_ROUTE_KINDS] = { "httproutes", "tlsroutes",
								       "tcproutes" };

struct listener_info {
	enum listener_from from;
	unsigned kinds;		/* route kinds it takes: bit (1 << kind) */
	int invalid_kinds;	/* allowedRoutes.kinds named one it cannot take */
};

/* A route to compile, and where its rules went in the table. */
struct route_slot {
	struct gateway_route route;
	enum gateway_route_kind kind;
	unsigned base;		/* its first rule in the table */
	unsigned count;		/* its rules there; 0: not in the table */
};

/* A route attached to a listener, for these (intersected) hostnames. */
struct attachment {
	unsigned slot;
	unsigned listener;
	const char *hosts[ROUTE_HOSTNAMES_MAX];	/* into documents or the table; "*": any */
	unsigned n_hosts;
};

struct compiler {
	const struct gateway_docs *docs;
	const char *namespace, *name;
	struct gateway_result *out;
	struct route_table *t;
	struct listener_info *info;
	struct route_slot *slots;
	unsigned n_slots;
	struct attachment *attachments;
	unsigned n_attachments;
	gateway_service_fn exists;
	void *exists_ctx;
	int oom;
};

static int is_kind(json_t *doc, const char *kind)
{
	const char *api = json_string_value(json_object_get(doc, "apiVersion"));
	const char *k = json_string_value(json_object_get(doc, "kind"));

	return api && k && strncmp(api, API_GROUP "/", strlen(API_GROUP) + 1) == 0 &&
	       strcmp(k, kind) == 0;
}

static const char *meta(json_t *doc, const char *key, const char *def)
{
	const char *s = json_string_value(json_object_get(json_object_get(doc, "metadata"), key));

	return s && s[0] ? s : def;
}

static const char *str(json_t *o, const char *key, const char *def)
{
	const char *s = json_string_value(json_object_get(o, key));

	return s ? s : def;
}

/* creationTimestamp in seconds; LLONG_MAX (the newest) when absent or unreadable. */
static long long timestamp(const char *s)
{
	struct tm tm;

	memset(&tm, 0, sizeof(tm));
	if (!s || !strptime(s, "%Y-%m-%dT%H:%M:%S", &tm))
		return LLONG_MAX;
	return (long long)timegm(&tm);
}

static void *grow(struct compiler *c, void *p, size_t n, size_t size)
{
	void *out = realloc(p, n * size);

	if (!out)
		c->oom = 1;
	return out;
}

/* The route kind a listener of protocol takes. */
static enum gateway_route_kind protocol_kind(int protocol)
{
	return protocol == ROUTE_PROTOCOL_TLS   ? GATEWAY_TLSROUTE
	       : protocol == ROUTE_PROTOCOL_TCP ? GATEWAY_TCPROUTE
						: GATEWAY_HTTPROUTE;
}

/* 1 when lb-proxy relays a listener of protocol as bytes (lb-proxy/stream/):
 * one port serves HTTP or streams, not both. */
static int protocol_stream(int protocol)
{
	return protocol == ROUTE_PROTOCOL_TLS || protocol == ROUTE_PROTOCOL_TCP;
}

/* Why listeners a and b cannot share their port, or NULL when they can:
 * lb-proxy serves a port as HTTP(S) or as streams, a TCP listener alone,
 * and tells HTTP(S) or TLS listeners apart by hostname only. The spec's
 * reasons: the protocols differ, else the hostnames are the same. */
static const char *conflict(const struct route_listener *a, const struct route_listener *b)
{
	if (a->port != b->port)
		return NULL;
	if (protocol_stream((int)a->protocol) != protocol_stream((int)b->protocol) ||
	    a->protocol == ROUTE_PROTOCOL_TCP || b->protocol == ROUTE_PROTOCOL_TCP ||
	    (a->hostname && b->hostname ? strcmp(a->hostname, b->hostname) == 0
					: a->hostname == b->hostname))
		return a->protocol != b->protocol ? "ProtocolConflict" : "HostnameConflict";
	return NULL;
}

/* The spec's "Handling indistinct Listeners": every listener that conflicts
 * with another leaves the table (none is picked as the winner), each
 * recorded in out->conflicts with the first it conflicts with. */
static int drop_conflicted(struct compiler *c, const struct gateway_doc *doc)
{
	struct route_table *t = c->t;
	struct gateway_listener_conflict *cf;
	unsigned kept = 0;

	if (!(cf = calloc(t->n_listeners ? t->n_listeners : 1, sizeof(*cf)))) {
		c->oom = 1;
		return -1;
	}
	c->out->conflicts = cf;
	/* every pair is judged before any listener leaves the table */
	for (unsigned i = 0; i < t->n_listeners; i++) {
		const char *reason = NULL;
		unsigned j;

		for (j = 0; j < t->n_listeners && !reason; j++)
			if (j != i)
				reason = conflict(&t->listeners[i], &t->listeners[j]);
		if (!reason)
			continue;
		cf = &c->out->conflicts[c->out->n_conflicts++];
		snprintf(cf->name, sizeof(cf->name), "%s", t->listeners[i].name);
		snprintf(cf->with, sizeof(cf->with), "%s", t->listeners[j - 1].name);
		cf->reason = reason;
		cf->port = t->listeners[i].port;
		gateway_notes_add(&c->out->notes, doc->source, "spec.listeners",
				  "listener %s skipped: %s with listener %s on port %u", cf->name,
				  reason, cf->with, cf->port);
	}
	for (unsigned i = 0, k = 0; i < t->n_listeners; i++) {
		if (k < c->out->n_conflicts &&
		    strcmp(c->out->conflicts[k].name, t->listeners[i].name) == 0) {
			k++;
			route_listener_release(&t->listeners[i]);
			continue;
		}
		t->listeners[kept] = t->listeners[i];
		c->info[kept++] = c->info[i];
	}
	t->n_listeners = kept;
	return 0;
}

static int compile_listeners(struct compiler *c, const struct gateway_doc *doc)
{
	json_t *listeners = json_object_get(json_object_get(doc->json, "spec"), "listeners");
	size_t i;
	json_t *l;

	if (!json_is_array(listeners) || json_array_size(listeners) == 0 ||
	    json_array_size(listeners) > ROUTE_LISTENERS_MAX) {
		gateway_notes_add(&c->out->notes, doc->source, "spec.listeners",
				  "a Gateway needs 1 to %d listeners", ROUTE_LISTENERS_MAX);
		return -1;
	}
	c->t->listeners = calloc(json_array_size(listeners), sizeof(*c->t->listeners));
	c->info = calloc(json_array_size(listeners), sizeof(*c->info));
	if (!c->t->listeners || !c->info) {
		c->oom = 1;
		return -1;
	}
	json_array_foreach(listeners, i, l) {
		struct route_listener *rl = &c->t->listeners[c->t->n_listeners];
		struct listener_info *info = &c->info[c->t->n_listeners];
		const char *name = str(l, "name", ""), *hostname = str(l, "hostname", NULL);
		const char *from = str(json_object_get(json_object_get(l, "allowedRoutes"),
						       "namespaces"), "from", "Same");
		json_t *kinds = json_object_get(json_object_get(l, "allowedRoutes"), "kinds"), *k;
		json_int_t port = json_integer_value(json_object_get(l, "port"));
		int protocol = route_protocol_parse(str(l, "protocol", ""));
		const char *mode = str(json_object_get(l, "tls"), "mode", "Terminate");
		enum gateway_route_kind native;
		char path[64];
		size_t j;

		snprintf(path, sizeof(path), "spec.listeners[%zu]", i);
		if (!gateway_hostname_valid(name, 0) || port < 1 || port > 65535 ||
		    protocol == -1 || (hostname && !gateway_hostname_valid(hostname, 1))) {
			gateway_notes_add(&c->out->notes, doc->source, path,
					  "skipped: a listener needs a name, a port, a protocol "
					  "of HTTP, HTTPS, TLS or TCP, and a valid hostname");
			continue;
		}
		if (protocol == ROUTE_PROTOCOL_TLS && strcmp(mode, "Passthrough") != 0) {
			gateway_notes_add(&c->out->notes, doc->source, path,
					  "skipped: a TLS listener of tls.mode %s: lb passes TLS "
					  "through (tls.mode Passthrough); terminate it with an "
					  "HTTPS listener", mode);
			continue;
		}
		if (protocol == ROUTE_PROTOCOL_TCP)
			hostname = NULL;	/* the spec: ignored for TCP */
		for (unsigned m = 0; m < c->t->n_listeners; m++)
			if (strcmp(c->t->listeners[m].name, name) == 0) {
				gateway_notes_add(&c->out->notes, doc->source, path,
						  "skipped: listener %s is named before", name);
				name = NULL;
				break;
			}
		if (!name)
			continue;
		rl->name = strdup(name);
		rl->hostname = hostname ? strdup(hostname) : NULL;
		if (!rl->name || (hostname && !rl->hostname)) {
			c->t->n_listeners++;
			c->oom = 1;
			return -1;
		}
		rl->port = (uint16_t)port;
		rl->protocol = (enum route_protocol)protocol;
		info->from = strcmp(from, "All") == 0 ? FROM_ALL
			     : strcmp(from, "Same") == 0 ? FROM_SAME : FROM_SELECTOR;
		if (info->from == FROM_SELECTOR)
			gateway_notes_add(&c->out->notes, doc->source, path,
					  "allowedRoutes.namespaces.from %s is not supported: "
					  "no route attaches", from);
		native = protocol_kind(protocol);
		info->kinds = json_array_size(kinds) ? 0 : 1u << native;
		json_array_foreach(kinds, j, k) {
			int ok = strcmp(str(k, "group", API_GROUP), API_GROUP) == 0 &&
				 strcmp(str(k, "kind", ""), gateway_route_kind_names[native]) == 0;

			info->kinds |= ok ? 1u << native : 0;
			info->invalid_kinds |= !ok;
		}
		c->t->n_listeners++;
	}
	return drop_conflicted(c, doc);
}

/* The hostname a route hostname and a listener's have in common, or NULL:
 * the more specific of the two when one takes the other. */
static const char *intersect(const char *listener, const char *route)
{
	if (!listener || strcmp(listener, route) == 0)
		return route;
	if (route[0] == '*' && route_hostname_matches(route, listener, strlen(listener)))
		return listener;
	if (listener[0] == '*' && route_hostname_matches(listener, route, strlen(route)))
		return route;
	return NULL;
}

static int targets_us(struct compiler *c, json_t *ref, const char *route_ns)
{
	return strcmp(str(ref, "group", API_GROUP), API_GROUP) == 0 &&
	       strcmp(str(ref, "kind", "Gateway"), "Gateway") == 0 &&
	       strcmp(str(ref, "namespace", route_ns), c->namespace) == 0 &&
	       strcmp(str(ref, "name", ""), c->name) == 0;
}

static void condition(struct gateway_condition *cond, int status, const char *reason,
		      const char *message)
{
	cond->status = status;
	cond->reason = reason;
	snprintf(cond->message, sizeof(cond->message), "%s", message);
}

/* Attaches slot's route through parentRef index to the listeners it names,
 * and records the parent's status. */
static void attach(struct compiler *c, unsigned s, json_t *ref, unsigned index)
{
	struct gateway_route *r = &c->slots[s].route;
	enum gateway_route_kind kind = c->slots[s].kind;
	/* a TCPRoute has no hostnames: it takes every connection */
	json_t *hostnames = kind == GATEWAY_TCPROUTE ? NULL
			    : json_object_get(json_object_get(r->doc->json, "spec"), "hostnames");
	const char *section = str(ref, "sectionName", NULL);
	json_int_t port = json_integer_value(json_object_get(ref, "port"));
	unsigned named = 0, allowed = 0, attached = 0;
	struct gateway_parent_status *st;

	st = grow(c, c->out->statuses, c->out->n_statuses + 1, sizeof(*st));
	if (!st)
		return;
	c->out->statuses = st;
	st = &st[c->out->n_statuses++];
	memset(st, 0, sizeof(*st));
	snprintf(st->route, sizeof(st->route), "%s", r->id);
	st->kind = kind;
	st->parent = index;
	if (r->resolved.reason)
		condition(&st->resolved_refs, 0, r->resolved.reason, r->resolved.message);
	else
		condition(&st->resolved_refs, 1, "ResolvedRefs", "all references resolved");
	if (r->accepted.reason) {
		condition(&st->accepted, 0, r->accepted.reason, r->accepted.message);
		return;
	}
	for (unsigned l = 0; l < c->t->n_listeners; l++) {
		const struct route_listener *rl = &c->t->listeners[l];
		struct attachment *a;
		int duplicate = 0;

		if ((section && strcmp(section, rl->name) != 0) || (port && port != rl->port))
			continue;
		named++;
		if (!(c->info[l].kinds & (1u << kind)) || c->info[l].from == FROM_SELECTOR ||
		    (c->info[l].from == FROM_SAME && strcmp(r->namespace, c->namespace) != 0))
			continue;
		allowed++;
		for (unsigned i = 0; i < c->n_attachments; i++)
			duplicate |= c->attachments[i].slot == s && c->attachments[i].listener == l;
		a = grow(c, c->attachments, c->n_attachments + 1, sizeof(*a));
		if (!a)
			return;
		c->attachments = a;
		a = &a[c->n_attachments];
		memset(a, 0, sizeof(*a));
		a->slot = s;
		a->listener = l;
		if (json_array_size(hostnames) == 0)
			a->hosts[a->n_hosts++] = rl->hostname ? rl->hostname : "*";
		for (size_t h = 0; h < json_array_size(hostnames); h++) {
			const char *common = intersect(rl->hostname,
						       json_string_value(json_array_get(hostnames, h)));

			if (common)
				a->hosts[a->n_hosts++] = common;
		}
		if (a->n_hosts == 0)
			continue;
		attached++;
		if (!duplicate)
			c->n_attachments++;
	}
	if (named == 0)
		condition(&st->accepted, 0, "NoMatchingParent",
			  section || port ? "no listener has this sectionName and port"
					  : "the Gateway has no usable listener");
	else if (allowed == 0)
		condition(&st->accepted, 0, "NotAllowedByListeners",
			  "no listener allows this route's kind and namespace");
	else if (attached == 0)
		condition(&st->accepted, 0, "NoMatchingListenerHostname",
			  "no hostname of this route intersects a listener's");
	else
		condition(&st->accepted, 1, "Accepted", "attached");
}

/* Refuses a route whose rules would take the table past
 * ROUTE_TABLE_RULES_MAX. */
static void check_room(struct compiler *c, struct gateway_route *r)
{
	if (r->accepted.reason || c->t->n_rules + r->n_rules <= ROUTE_TABLE_RULES_MAX)
		return;
	r->accepted.reason = "UnsupportedValue";
	snprintf(r->accepted.message, sizeof(r->accepted.message),
		 "spec.rules: the Gateway has more than %d rules", ROUTE_TABLE_RULES_MAX);
	gateway_notes_add(&c->out->notes, r->doc->source, NULL, "%s", r->accepted.message);
	gateway_route_release(r);
}

/* Moves the rules of a route that attached into the table. */
static void place_rules(struct compiler *c, struct route_slot *slot)
{
	struct gateway_route *r = &slot->route;
	struct route_rule *rules;
	int attached = 0;

	for (unsigned i = 0; i < c->n_attachments; i++)
		attached |= c->attachments[i].slot == (unsigned)(slot - c->slots);
	if (!attached || r->n_rules == 0)
		return;
	rules = grow(c, c->t->rules, c->t->n_rules + r->n_rules, sizeof(*rules));
	if (!rules)
		return;
	c->t->rules = rules;
	memcpy(rules + c->t->n_rules, r->rules, r->n_rules * sizeof(*rules));
	slot->base = c->t->n_rules;
	slot->count = r->n_rules;
	c->t->n_rules += r->n_rules;
	free(r->rules);
	r->rules = NULL;
	r->n_rules = 0;
}

/* Reads one route that names this Gateway, compiles it and attaches it. */
static void compile_route(struct compiler *c, const struct gateway_doc *doc,
			  enum gateway_route_kind kind)
{
	json_t *spec = json_object_get(doc->json, "spec");
	json_t *refs = json_object_get(spec, "parentRefs"), *ref;
	json_t *hostnames = json_object_get(spec, "hostnames");
	const char *ns = meta(doc->json, "namespace", "default");
	const char *name = meta(doc->json, "name", NULL);
	struct gateway_rule_env env = { c->docs, c->exists, c->exists_ctx, &c->out->notes };
	struct route_slot *slot;
	struct gateway_route *r;
	int ours = 0;
	size_t i;

	json_array_foreach(refs, i, ref)
		ours |= targets_us(c, ref, ns);
	if (!ours)
		return;
	if (!name || !gateway_hostname_valid(name, 0) || !gateway_hostname_valid(ns, 0)) {
		gateway_notes_add(&c->out->notes, doc->source, "metadata",
				  "skipped: a route needs a name and namespace of lower-case "
				  "letters, digits, '-' and '.'");
		return;
	}
	for (unsigned s = 0; s < c->n_slots; s++)
		if (c->slots[s].kind == kind && !strcmp(c->slots[s].route.namespace, ns) &&
		    !strcmp(c->slots[s].route.name, name)) {
			gateway_notes_add(&c->out->notes, doc->source, "metadata.name",
					  "skipped: route %s/%s is defined before", ns, name);
			return;
		}
	slot = grow(c, c->slots, c->n_slots + 1, sizeof(*slot));
	if (!slot)
		return;
	c->slots = slot;
	slot = &slot[c->n_slots++];
	memset(slot, 0, sizeof(*slot));
	slot->kind = kind;
	r = &slot->route;
	r->doc = doc;
	r->kind = gateway_route_kind_names[kind];
	r->namespace = ns;
	r->name = name;
	snprintf(r->id, sizeof(r->id), "%s/%s", ns, name);
	r->created = timestamp(meta(doc->json, "creationTimestamp", NULL));
	if (json_array_size(refs) > PARENT_REFS_MAX ||
	    json_array_size(hostnames) > ROUTE_HOSTNAMES_MAX ||
	    (hostnames && !json_is_array(hostnames) && !json_is_null(hostnames)))
		snprintf(r->accepted.message, sizeof(r->accepted.message),
			 "spec: at most %d parentRefs, and a list of at most %d hostnames", PARENT_REFS_MAX,
			 ROUTE_HOSTNAMES_MAX);
	for (size_t h = 0; h < json_array_size(hostnames); h++) {
		const char *host = json_string_value(json_array_get(hostnames, h));

		if (!host || !gateway_hostname_valid(host, 1))
			snprintf(r->accepted.message, sizeof(r->accepted.message),
				 "spec.hostnames[%zu]: not a hostname", h);
	}
	if (r->accepted.message[0]) {
		r->accepted.reason = "UnsupportedValue";
		gateway_notes_add(&c->out->notes, doc->source, NULL, "%s", r->accepted.message);
	} else if ((kind == GATEWAY_HTTPROUTE ? gateway_rule_compile(r, spec, &env)
					      : gateway_stream_compile(r, spec, &env)) == -1) {
		c->oom = 1;
		return;
	}
	check_room(c, r);
	json_array_foreach(refs, i, ref)
		if (!c->oom && targets_us(c, ref, ns))
			attach(c, (unsigned)(slot - c->slots), ref, (unsigned)i);
	place_rules(c, slot);
}

/* One entry of a virtual host with what ranks it. */
struct ranked {
	struct route_entry entry;
	long host;		/* the route hostname that brought it here (hostname_rank) */
	int path;		/* 2: Exact, 1: RegularExpression, 0: PathPrefix */
	size_t path_len;
	int method;
	unsigned headers, query;
	long long created;
	const char *route;
	unsigned rule, match;
};

/* Exact hostnames before wildcards, longer before shorter, "*" last (the
 * spec: "characters in a matching non-wildcard hostname", then in a
 * matching hostname). */
static long hostname_rank(const char *h)
{
	if (strcmp(h, "*") == 0)
		return 0;
	return (h[0] == '*' ? 1 : 100000) + (long)strlen(h);
}

/* 1 when route hostname h takes every request of virtual host v. */
static int covers(const char *h, const char *v)
{
	return strcmp(h, "*") == 0 || strcasecmp(h, v) == 0 ||
	       (h[0] == '*' && strcmp(v, "*") != 0 && route_hostname_matches(h, v, strlen(v)));
}

/*
 * The Gateway API's precedence, first difference wins: the route's matching
 * hostname; an Exact path, then a RegularExpression (lb's choice, as Envoy
 * Gateway: a catch-all PathPrefix "/" would otherwise hide every regex), then
 * a PathPrefix, each longer value first; a method; more header matches; more
 * query param matches; the older route; "namespace/name" alphabetically; the
 * rule, then the match, in list order.
 */
static int ranked_compare(const void *pa, const void *pb)
{
	const struct ranked *a = pa, *b = pb;
	int names;

	if (a->host != b->host)
		return a->host > b->host ? -1 : 1;
	if (a->path != b->path)
		return a->path > b->path ? -1 : 1;
	if (a->path_len != b->path_len)
		return a->path_len > b->path_len ? -1 : 1;
	if (a->method != b->method)
		return a->method > b->method ? -1 : 1;
	if (a->headers != b->headers)
		return a->headers > b->headers ? -1 : 1;
	if (a->query != b->query)
		return a->query > b->query ? -1 : 1;
	if (a->created != b->created)
		return a->created < b->created ? -1 : 1;
	if ((names = strcmp(a->route, b->route)) != 0)
		return names;
	if (a->rule != b->rule)
		return a->rule < b->rule ? -1 : 1;
	return a->match < b->match ? -1 : a->match > b->match;
}

static void build_vhost(struct compiler *c, unsigned l, struct route_vhost *v)
{
	struct ranked *ranked = NULL;
	unsigned n = 0;

	for (unsigned i = 0; i < c->n_attachments && !c->oom; i++) {
		const struct attachment *a = &c->attachments[i];
		const struct route_slot *slot = &c->slots[a->slot];
		long host = -1;

		if (a->listener != l)
			continue;
		for (unsigned h = 0; h < a->n_hosts; h++)
			if (covers(a->hosts[h], v->hostname) && hostname_rank(a->hosts[h]) > host)
				host = hostname_rank(a->hosts[h]);
		for (unsigned r = 0; host >= 0 && r < slot->count; r++) {
			const struct route_rule *rule = &c->t->rules[slot->base + r];

			for (unsigned m = 0; m < rule->n_matches; m++) {
				const struct route_match *match = &rule->matches[m];
				struct ranked *k;

				if (n == ROUTE_TABLE_ENTRIES_MAX) {
					gateway_notes_add(&c->out->notes, slot->route.doc->source,
							  NULL, "virtual host %s is full at %d "
							  "matches", v->hostname,
							  ROUTE_TABLE_ENTRIES_MAX);
					host = -1;
					break;
				}
				if (!(k = grow(c, ranked, n + 1, sizeof(*ranked))))
					break;
				ranked = k;
				k = &ranked[n++];
				k->entry.rule = slot->base + r;
				k->entry.match = m;
				k->host = host;
				k->path = match->path_type == ROUTE_PATH_EXACT ? 2
					  : match->path_type == ROUTE_PATH_REGEX ? 1 : 0;
				k->path_len = strlen(match->path);
				k->method = match->method != NULL;
				k->headers = match->n_headers;
				k->query = match->n_query;
				k->created = slot->route.created;
				k->route = rule->route;
				k->rule = rule->index;
				k->match = m;
			}
		}
	}
	if (n && !c->oom) {
		qsort(ranked, n, sizeof(*ranked), ranked_compare);
		if ((v->entries = grow(c, NULL, n, sizeof(*v->entries)))) {
			for (unsigned i = 0; i < n; i++)
				v->entries[i] = ranked[i].entry;
			v->n_entries = n;
		}
	}
	free(ranked);
}

/* A virtual host per distinct hostname the attached routes have on each
 * listener, with every route that covers it. */
static void build_vhosts(struct compiler *c)
{
	for (unsigned l = 0; l < c->t->n_listeners && !c->oom; l++) {
		struct route_listener *rl = &c->t->listeners[l];

		for (unsigned i = 0; i < c->n_attachments && !c->oom; i++) {
			const struct attachment *a = &c->attachments[i];

			for (unsigned h = 0; a->listener == l && h < a->n_hosts; h++) {
				struct route_vhost *v;
				int known = 0;

				for (unsigned j = 0; j < rl->n_vhosts; j++)
					known |= strcasecmp(rl->vhosts[j].hostname, a->hosts[h]) == 0;
				if (known || rl->n_vhosts == ROUTE_TABLE_VHOSTS_MAX)
					continue;
				v = grow(c, rl->vhosts, rl->n_vhosts + 1, sizeof(*v));
				if (!v)
					break;
				rl->vhosts = v;
				v = &v[rl->n_vhosts++];
				memset(v, 0, sizeof(*v));
				if (!(v->hostname = strdup(a->hosts[h])))
					c->oom = 1;
			}
		}
		for (unsigned j = 0; j < rl->n_vhosts && !c->oom; j++)
			build_vhost(c, l, &rl->vhosts[j]);
	}
}

/* Each listener's supportedKinds and attachedRoutes (the routes attached
 * to it, once each). */
static void listener_statuses(struct compiler *c)
{
	struct gateway_listener_status *ls;

	if (c->oom || !(ls = calloc(c->t->n_listeners ? c->t->n_listeners : 1, sizeof(*ls)))) {
		c->oom = 1;
		return;
	}
	for (unsigned l = 0; l < c->t->n_listeners; l++) {
		ls[l].kinds = c->info[l].kinds;
		ls[l].invalid_kinds = c->info[l].invalid_kinds;
		for (unsigned i = 0; i < c->n_attachments; i++)
			ls[l].attached += c->attachments[i].listener == l;
	}
	c->out->listeners = ls;
}

int gateway_compile(const struct gateway_docs *docs, const char *namespace, const char *name,
		    gateway_service_fn exists, void *exists_ctx, struct gateway_result *out)
{
	struct compiler c = { docs, namespace, name, out, NULL, NULL, NULL, 0, NULL, 0,
			      exists, exists_ctx, 0 };
	const struct gateway_doc *gateway = NULL;
	int rc = -1;

	memset(out, 0, sizeof(*out));
	for (unsigned i = 0; i < docs->n; i++) {
		json_t *d = docs->docs[i].json;

		if (!is_kind(d, "Gateway") || strcmp(meta(d, "namespace", "default"), namespace) ||
		    strcmp(meta(d, "name", ""), name))
			continue;
		if (gateway)
			gateway_notes_add(&out->notes, docs->docs[i].source, NULL,
					  "skipped: Gateway %s/%s is defined before", namespace,
					  name);
		else
			gateway = &docs->docs[i];
	}
	if (!gateway) {
		gateway_notes_add(&out->notes, "gateway", NULL, "no Gateway %s/%s among the "
				  "documents", namespace, name);
		return -1;
	}
	if (!(c.t = calloc(1, sizeof(*c.t)))) {
		c.oom = 1;
		goto out;
	}
	if (compile_listeners(&c, gateway) == -1 || c.oom)
		goto out;
	for (unsigned i = 0; i < docs->n && !c.oom; i++)
		for (int k = 0; k < GATEWAY_ROUTE_KINDS; k++)
			if (is_kind(docs->docs[i].json, gateway_route_kind_names[k]))
				compile_route(&c, &docs->docs[i], (enum gateway_route_kind)k);
	build_vhosts(&c);
	listener_statuses(&c);
	if (!c.oom) {
		out->table = c.t;
		c.t = NULL;
		rc = 0;
	}
out:
	if (c.oom)
		gateway_notes_add(&out->notes, gateway->source, NULL, "out of memory");
	for (unsigned s = 0; s < c.n_slots; s++)
		gateway_route_release(&c.slots[s].route);
	free(c.slots);
	free(c.attachments);
	free(c.info);
	route_table_free(c.t);
	return rc;
}

void gateway_result_release(struct gateway_result *out)
{
	route_table_free(out->table);
	free(out->statuses);
	free(out->listeners);
	free(out->conflicts);
	gateway_notes_release(&out->notes);
	memset(out, 0, sizeof(*out));
}
