/* source_gateway: lb-discover as a Gateway API controller (see
 * source_gateway.h). */
#include "sources/source_gateway.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bus_routes.h"
#include "core/discover.h"
#include "gateway.h"
#include "gateway_ref.h"
#include "gateway_tls.h"
#include "kube/kube_watch.h"
#include "log.h"
#include "sources/cert_dir.h"
#include "sources/gateway_secrets.h"
#include "sources/listener_proxies.h"
#include "sources/source.h"
#include "sources/source_routes.h"

#define GATEWAY_API "/apis/gateway.networking.k8s.io"
/* seconds a burst of watch events is collected before one compile */
#define GATEWAY_SETTLE 0.05
/* seconds between looks at the proxies' generations (Programmed) */
#define GATEWAY_STATUS_INTERVAL 1.0
/* seconds a status write may take */
#define GATEWAY_WRITE_TIMEOUT 10.0

enum watched {
	W_CLASSES = 0,	/* GatewayClasses (cluster-scoped) */
	W_GATEWAYS,	/* Gateways of the served one's namespace */
	W_ROUTES,	/* HTTPRoutes, every namespace */
	W_TLSROUTES,	/* TLSRoutes (v1alpha2), every namespace */
	W_TCPROUTES,	/* TCPRoutes (v1alpha2), every namespace */
	W_GRANTS,	/* ReferenceGrants, every namespace */
	W_SERVICES,	/* Services, every namespace */
	W_SLICES,	/* EndpointSlices, every namespace */
	W_COUNT,
};

static const struct {
	const char *what, *path, *grant;
} watched[W_COUNT] = {
	{ "gatewayclasses", GATEWAY_API "/v1/gatewayclasses",
	  "get/list/watch on gateway.networking.k8s.io gatewayclasses" },
	{ "gateways", GATEWAY_API "/v1/namespaces/%s/gateways",
	  "get/list/watch on gateway.networking.k8s.io gateways" },
	{ "httproutes", GATEWAY_API "/v1/httproutes",
	  "get/list/watch on gateway.networking.k8s.io httproutes" },
	{ "tlsroutes", GATEWAY_API "/v1alpha2/tlsroutes",
	  "get/list/watch on gateway.networking.k8s.io tlsroutes" },
	{ "tcproutes", GATEWAY_API "/v1alpha2/tcproutes",
	  "get/list/watch on gateway.networking.k8s.io tcproutes" },
	{ "referencegrants", GATEWAY_API "/v1beta1/referencegrants",
	  "get/list/watch on gateway.networking.k8s.io referencegrants" },
	{ "services", "/api/v1/services", "get/list/watch on services" },
	{ "endpointslices", "/apis/discovery.k8s.io/v1/endpointslices",
	  "get/list/watch on discovery.k8s.io endpointslices" },
};

struct source_gateway;

/* A status PATCH in flight: the source owns it until its answer (or stop). */
struct status_write {
	struct status_write *next;
	struct source_gateway *g;
	struct kube_call *call;
	char key[600];			/* "kind ns/name", for the log */
};

struct gateway_watch {
	struct source_gateway *g;
	struct kube_watch *watch;
	json_t *objects;		/* the watch's map, held */
};

struct source_gateway {
	struct discover *d;
	struct kube *kube;
	char ns[ROUTE_NAME_MAX + 1];
	char name[ROUTE_NAME_MAX + 1];
	char controller[256];
	int health_on;
	struct health_options health;
	struct gateway_watch w[W_COUNT];
	ev_timer settle;		/* compiles once a burst of events is over */
	ev_timer status_timer;		/* Programmed follows the proxies */
	json_t *written;		/* "kind ns/name" -> the status last written (a string) */
	json_t *pending;		/* the statuses of the last compile, to write */
	char refused[2 * ROUTE_NAME_MAX + 64];	/* why the Gateway is not served ("" when it is) */
	struct source_routes_service *services;	/* of the last compile */
	size_t nservices;
	struct source_gateway_fleet fleet;	/* .writes NULL: a lone replica */
	int writing;			/* this replica wrote status at the last look */
	/* the Secrets of each namespace a certificateRef names (and may: its
	 * grant), watched from the first compile that needs them */
	struct gateway_secrets secrets;
	struct cert_dir certs;		/* where this pod's proxies read them */
	struct status_write *writes;	/* in flight: cancelled and freed at stop */
};

/* ---- what the cluster holds ------------------------------------------------ */

static json_t *object(struct source_gateway *g, enum watched w, const char *key)
{
	return g->w[w].objects ? json_object_get(g->w[w].objects, key) : NULL;
}

static const char *meta(json_t *o, const char *key)
{
	return json_string_value(json_object_get(json_object_get(o, "metadata"), key));
}

static long long generation_of(json_t *o)
{
	return json_integer_value(json_object_get(json_object_get(o, "metadata"), "generation"));
}

/* The Service port `port` of ns/name: its entry in spec.ports, or NULL. */
static json_t *service_port(struct source_gateway *g, const char *ns, const char *name,
			    unsigned port)
{
	char key[2 * ROUTE_NAME_MAX + 2];
	json_t *p;
	size_t i;

	snprintf(key, sizeof(key), "%s/%s", ns, name);
	json_array_foreach(json_object_get(json_object_get(object(g, W_SERVICES, key), "spec"),
					   "ports"), i, p)
		if (json_integer_value(json_object_get(p, "port")) == (json_int_t)port)
			return p;
	return NULL;
}

/* A Service port exists when its spec lists it; its lb.dev/proxy-protocol
 * annotation comes along (a value other than "v2" is logged and ignored). */
static int service_exists(void *ctx, const char *ns, const char *name, uint16_t port)
{
	struct source_gateway *g = ctx;
	char key[2 * ROUTE_NAME_MAX + 2];
	json_t *p = service_port(g, ns, name, port), *app = json_object_get(p, "appProtocol");
	int proxy_v2;

	if (!p)
		return 0;
	snprintf(key, sizeof(key), "%s/%s", ns, name);
	proxy_v2 = gateway_ref_proxy_protocol(object(g, W_SERVICES, key));
	if (proxy_v2 == -1) {
		log_warn("service annotation ignored: lb.dev/proxy-protocol takes \"v2\" only (its "
			 "backends get no PROXY header); set it to v2 or drop it", "service=%s "
			 "annotation=%s", key, GATEWAY_PROXY_PROTOCOL_ANNOTATION);
		proxy_v2 = 0;
	}
	return GATEWAY_SERVICE_EXISTS | proxy_v2 |
	       (app && !json_is_null(app) && !service_settings_app_protocol(json_string_value(app))
			? GATEWAY_SERVICE_UNSUPPORTED_PROTOCOL : 0);
}

/* The backends of Service port ns/name:port from its EndpointSlices. */
static int service_backends(struct source_gateway *g, const char *ns, const char *name,
			    unsigned port, struct source_routes_service *out)
{
	json_t *p = service_port(g, ns, name, port), *slice;
	const char *port_name = json_string_value(json_object_get(p, "name")), *key;

	char svc_key[2 * ROUTE_NAME_MAX + 2];

	memset(out, 0, sizeof(*out));
	if (bus_routes_service(ns, name, port, out->name, sizeof(out->name)) == -1)
		return -1;
	/* its appProtocol and lb.dev/balance, as a Backends document's */
	snprintf(svc_key, sizeof(svc_key), "%s/%s", ns, name);
	source_routes_settings(object(g, W_SERVICES, svc_key), p, out);
	json_object_foreach(g->w[W_SLICES].objects, key, slice) {
		const char *owner = json_string_value(json_object_get(json_object_get(
			json_object_get(slice, "metadata"), "labels"), "kubernetes.io/service-name"));
		const char *sns = meta(slice, "namespace");

		if (owner && sns && strcmp(owner, name) == 0 && strcmp(sns, ns) == 0)
			source_k8s_slice_backends(slice, port_name ? port_name : "", &out->list,
						  &out->n);
	}
	return 0;
}

/* Every watch has listed once: before, a missing Service would answer 500. */
static int all_listed(const struct source_gateway *g)
{
	for (int i = 0; i < W_COUNT; i++)
		if (!kube_watch_listed(g->w[i].watch))
			return 0;
	return 1;
}

/* ---- status ---------------------------------------------------------------- */

static json_t *condition(const char *type, int status, const char *reason, const char *message,
			 long long observed)
{
	return json_pack("{s:s, s:s, s:s, s:s, s:I, s:s}", "type", type, "status",
			 status ? "True" : "False", "reason", reason, "message", message,
			 "observedGeneration", (json_int_t)observed, "lastTransitionTime", "");
}

/* Every condition's lastTransitionTime, left empty while the status is
 * compared with the last written, becomes now: a condition's time moves
 * only when something in the status changed. */
static void stamp_conditions(json_t *v)
{
	const char *key;
	json_t *item;
	size_t i;

	if (json_is_array(v)) {
		json_array_foreach(v, i, item)
			stamp_conditions(item);
	} else if (json_is_object(v)) {
		json_object_foreach(v, key, item) {
			if (strcmp(key, "lastTransitionTime") == 0) {
				char now[32];
				time_t t = time(NULL);
				struct tm tm;

				gmtime_r(&t, &tm);
				strftime(now, sizeof(now), "%Y-%m-%dT%H:%M:%SZ", &tm);
				json_object_set_new(v, key, json_string(now));
			} else {
				stamp_conditions(item);
			}
		}
	}
}

/* 1 when this replica writes status: alone, or holding the status Lease. */
static int writes_status(const struct source_gateway *g)
{
	return !g->fleet.writes || g->fleet.writes(g->fleet.data);
}

static void status_write_free(struct status_write *w)
{
	struct status_write **p;

	for (p = &w->g->writes; *p; p = &(*p)->next)
		if (*p == w) {
			*p = w->next;
			break;
		}
	free(w);
}

static void on_written(void *data, long status, json_t *body, const char *error)
{
	struct status_write *w = data;

	if (status < 200 || status >= 300)
		log_warn("gateway: status not written", "object=\"%s\" status=%ld error=\"%s\"",
			 w->key, status, status ? kube_status_message(body) : error);
	status_write_free(w);
}

/* The watch of each route kind (gateway_route_kind's order). */
static const enum watched route_watch[GATEWAY_ROUTE_KINDS] = { W_ROUTES, W_TLSROUTES,
							       W_TCPROUTES };

/* PATCHes the status of kind ns/name (path: its collection, of API version
 * version) unless it is what was written last. Steals status. */
static void write_status(struct source_gateway *g, const char *kind, const char *version,
			 const char *collection, const char *ns, const char *name,
			 json_t *status)
{
	char key[600], path[1024], *text;
	const char *last;
	struct status_write *w;
	json_t *patch;

	if (!writes_status(g)) {
		json_decref(status);
		return;
	}
	text = json_dumps(status, JSON_COMPACT | JSON_SORT_KEYS);
	snprintf(key, sizeof(key), "%s %s/%s", kind, ns ? ns : "", name);
	last = json_string_value(json_object_get(g->written, key));
	if (!text || (last && strcmp(last, text) == 0)) {
		free(text);
		json_decref(status);
		return;
	}
	json_object_set_new(g->written, key, json_string(text));
	free(text);
	stamp_conditions(status);
	if (ns)
		snprintf(path, sizeof(path), "%s/%s/namespaces/%s/%s/%s/status", GATEWAY_API,
			 version, ns, collection, name);
	else
		snprintf(path, sizeof(path), "%s/%s/%s/%s/status", GATEWAY_API, version, collection,
			 name);
	patch = json_pack("{s:o}", "status", status);
	if ((w = calloc(1, sizeof(*w)))) {
		w->g = g;
		snprintf(w->key, sizeof(w->key), "%s", key);
		w->next = g->writes;
		g->writes = w;
		w->call = kube_request(g->kube, "PATCH", path, patch, GATEWAY_WRITE_TIMEOUT,
				       on_written, w);
	}
	if (!w || !w->call) {
		log_warn("gateway: status not written: out of memory", "object=\"%s\"", key);
		if (w)
			status_write_free(w);
	}
	json_decref(patch);
}

/* How many proxies serve the routes generation published, of how many heard:
 * this replica's, and every other replica's serving the same table. */
static void proxies_serving(const struct source_gateway *g, unsigned *serving, unsigned *of)
{
	const struct discover *d = g->d;
	unsigned others_serving = 0, others = 0;
	char digest[20];

	*serving = *of = 0;
	for (size_t i = 0; i < d->nproxies; i++) {
		(*of)++;
		if (d->routed.generation && d->proxies[i].report.routes == d->routed.generation)
			(*serving)++;
	}
	if (g->fleet.proxies) {
		routed_digest(&d->routed, digest, sizeof(digest));
		g->fleet.proxies(g->fleet.data, digest, &others_serving, &others);
		*serving += others_serving;
		*of += others;
	}
}

/* The Gateway's status: Accepted, Programmed (every proxy serves the
 * generation published: the fleet's acknowledgement), each listener's. */
static void write_gateway_status(struct source_gateway *g, json_t *gw, json_t *attached)
{
	long long observed = generation_of(gw);
	unsigned serving, of, nconflicted = 0;
	char message[256], accepted[GATEWAY_MESSAGE_MAX] = "", notvalid[GATEWAY_MESSAGE_MAX + 64];
	json_t *status, *listeners = json_array(), *l;
	size_t i;

	if (g->secrets.pending) {
		json_decref(listeners);
		return;		/* a certificate's Secret is not known yet */
	}
	proxies_serving(g, &serving, &of);
	if (of && serving == of)
		snprintf(message, sizeof(message), "every proxy (%u) serves routes generation %llu",
			 of, g->d->routed.generation);
	else
		snprintf(message, sizeof(message), "%u of %u proxies serve routes generation %llu",
			 serving, of, g->d->routed.generation);
	json_array_foreach(json_object_get(json_object_get(gw, "spec"), "listeners"), i, l) {
		const char *lname = json_string_value(json_object_get(l, "name"));
		json_t *n = json_object_get(attached, lname ? lname : ""), *kinds = json_array();
		json_int_t mask = json_integer_value(json_object_get(n, "kinds"));
		int invalid = json_is_true(json_object_get(n, "invalid"));
		const char *conflicted = json_string_value(json_object_get(n, "conflicted"));
		const char *why = json_string_value(json_object_get(n, "message"));
		/* an HTTPS listener's certificateRefs (gateway_tls) */
		const char *tls_reason = json_string_value(json_object_get(n, "tls_reason"));
		const char *tls_message = json_string_value(json_object_get(n, "tls_message"));
		int no_cert = json_is_integer(json_object_get(n, "tls_usable")) &&
			      json_integer_value(json_object_get(n, "tls_usable")) == 0;
		char cert_message[GATEWAY_MESSAGE_MAX + 64], listen_message[160];
		/* a port no proxy of this replica listens on (with the kind the
		 * protocol needs) is not served, whatever the generation */
		int listened = listener_proxies_check(
			g->d, json_string_value(json_object_get(l, "protocol")),
			(long)json_integer_value(json_object_get(l, "port")), listen_message,
			sizeof(listen_message));
		int programmed = n && of && serving == of && !no_cert && listened;

		snprintf(cert_message, sizeof(cert_message), "no usable certificate: %s",
			 tls_message ? tls_message : "");
		for (int k = 0; k < GATEWAY_ROUTE_KINDS; k++)
			if (mask & (1 << k))
				json_array_append_new(kinds, json_pack(
					"{s:s, s:s}", "group", "gateway.networking.k8s.io", "kind",
					gateway_route_kind_names[k]));
		if (conflicted) {
			/* the spec's indistinct listeners: none of them is served
			 * (GatewayListenerProtocolAndRouteKindConflicts) */
			nconflicted++;
			json_array_append_new(listeners, json_pack(
				"{s:s, s:o, s:I, s:[o, o, o, o]}", "name", lname, "supportedKinds",
				kinds, "attachedRoutes", (json_int_t)0, "conditions",
				condition("Accepted", 0, "Invalid", why ? why : "", observed),
				condition("Programmed", 0, "Invalid", why ? why : "", observed),
				condition("ResolvedRefs", 1, "ResolvedRefs", "", observed),
				condition("Conflicted", 1, conflicted, why ? why : "", observed)));
			continue;
		}
		if (n)
			snprintf(accepted + strlen(accepted), sizeof(accepted) - strlen(accepted),
				 "%s%s", accepted[0] ? ", " : "", lname);
		/* a listener the compiler skipped (a bad one) is not accepted:
		 * its note says why */
		json_array_append_new(listeners, json_pack(
			"{s:s, s:o, s:I, s:[o, o, o, o]}", "name", lname ? lname : "",
			"supportedKinds", kinds,
			"attachedRoutes", json_integer_value(json_object_get(n, "attached")),
			"conditions",
			condition("Accepted", n != NULL, n ? "Accepted" : "UnsupportedProtocol",
				  n ? "" : "the listener is not served: see lb-discover's notes",
				  observed),
			condition("Programmed", programmed,
				  programmed ? "Programmed" : no_cert ? "Invalid" : "Pending",
				  no_cert ? cert_message : !listened ? listen_message : message,
				  observed),
			invalid ? condition("ResolvedRefs", 0, "InvalidRouteKinds",
					    "allowedRoutes.kinds names a kind this listener cannot "
					    "take", observed)
				: condition("ResolvedRefs", !tls_reason,
					    tls_reason ? tls_reason : "ResolvedRefs",
					    tls_message ? tls_message : "", observed),
			condition("Conflicted", 0, "NoConflicts", "", observed)));
	}
	/* the spec: a Gateway with conflicted listeners says ListenersNotValid,
	 * naming them and those accepted; accepted while one is left */
	if (nconflicted)
		snprintf(notvalid, sizeof(notvalid), "%u listener%s conflicted and not accepted; "
			 "accepted: %s", nconflicted, nconflicted == 1 ? " is" : "s are",
			 accepted[0] ? accepted : "none");
	status = json_pack("{s:[o, o], s:o}", "conditions",
			   condition("Accepted", !nconflicted || accepted[0],
				     nconflicted ? "ListenersNotValid" : "Accepted",
				     nconflicted ? notvalid : "", observed),
			   condition("Programmed", of && serving == of,
				     of && serving == of ? "Programmed" : "Pending", message, observed),
			   "listeners", listeners);
	if (status)
		write_status(g, "Gateway", "v1", "gateways", g->ns, g->name, status);
}

/* Each route's parents (of one kind): the other controllers' entries kept,
 * this controller's replaced by the compile's. */
static void write_route_statuses(struct source_gateway *g, const struct gateway_result *res,
				 enum gateway_route_kind kind)
{
	json_t *mine = json_object(), *route, *entry;
	const char *key;
	size_t i;

	for (unsigned k = 0; k < res->n_statuses; k++) {
		const struct gateway_parent_status *st = &res->statuses[k];
		json_t *r = object(g, route_watch[kind], st->route), *ref, *list;

		if (st->kind != kind)
			continue;
		long long observed = generation_of(r);

		ref = json_deep_copy(json_array_get(json_object_get(json_object_get(r, "spec"),
								     "parentRefs"), st->parent));
		if (!ref)
			continue;
		list = json_object_get(mine, st->route);
		if (!list) {
			list = json_array();
			json_object_set_new(mine, st->route, list);
		}
		json_array_append_new(list, json_pack(
			"{s:o, s:s, s:[o, o]}", "parentRef", ref, "controllerName", g->controller,
			"conditions",
			condition("Accepted", st->accepted.status, st->accepted.reason,
				  st->accepted.message, observed),
			condition("ResolvedRefs", st->resolved_refs.status, st->resolved_refs.reason,
				  st->resolved_refs.message, observed)));
	}
	json_object_foreach(mine, key, route) {
		json_t *r = object(g, route_watch[kind], key), *parents = json_array();

		json_array_foreach(json_object_get(json_object_get(r, "status"), "parents"), i,
				   entry) {
			const char *c = json_string_value(json_object_get(entry, "controllerName"));

			if (!c || strcmp(c, g->controller) != 0)
				json_array_append(parents, entry);
		}
		json_array_extend(parents, route);
		write_status(g, gateway_route_kind_names[kind], gateway_route_kind_versions[kind],
			     gateway_route_kind_plurals[kind], meta(r, "namespace"), meta(r, "name"),
			     json_pack("{s:o}", "parents", parents));
	}
	json_decref(mine);
}

/* Each listener the compile kept, by name: {"attached", "kinds" (a mask of
 * gateway_route_kind bits), "invalid"}; and each it left out for a
 * conflict: {"conflicted": the reason, "message"}. */
static json_t *listener_statuses(const struct gateway_result *res)
{
	json_t *out = json_object();
	char message[GATEWAY_MESSAGE_MAX + 2 * ROUTE_NAME_MAX];

	for (unsigned l = 0; out && l < res->table->n_listeners; l++)
		json_object_set_new(out, res->table->listeners[l].name, json_pack(
			"{s:I, s:I, s:b}", "attached", (json_int_t)res->listeners[l].attached,
			"kinds", (json_int_t)res->listeners[l].kinds, "invalid",
			res->listeners[l].invalid_kinds));
	for (unsigned i = 0; out && i < res->n_conflicts; i++) {
		const struct gateway_listener_conflict *cf = &res->conflicts[i];

		snprintf(message, sizeof(message), "%s with listener %s on port %u: neither is "
			 "served (give one another port%s)", cf->reason, cf->with, cf->port,
			 strcmp(cf->reason, "HostnameConflict") == 0 ? " or hostname" : "");
		json_object_set_new(out, cf->name, json_pack("{s:s, s:s}", "conflicted",
							     cf->reason, "message", message));
	}
	return out;
}

/* The HTTPS listeners' certificates: written for this pod's proxies, and
 * each listener's outcome added to its entry of attached ("tls_reason",
 * "tls_message", "tls_usable"). While a Secret's namespace has not listed,
 * nothing is written (secrets.pending). */
static void listener_certificates(struct source_gateway *g, json_t *gw,
				  const struct gateway_docs *docs, json_t *attached)
{
	struct gateway_tls tls;

	g->secrets.pending = 0;
	if (gateway_tls_resolve(gw, g->ns, docs, gateway_secrets_lookup, &g->secrets, &tls) == -1) {
		log_error("gateway: certificates not resolved: out of memory", NULL);
		g->secrets.pending = 1;
		return;
	}
	for (unsigned i = 0; i < tls.n_listeners; i++) {
		const struct gateway_tls_listener *l = &tls.listeners[i];
		json_t *n = json_object_get(attached, l->name);

		if (!n)
			continue;
		json_object_set_new(n, "tls_usable", json_integer(l->usable));
		if (l->reason) {
			json_object_set_new(n, "tls_reason", json_string(l->reason));
			json_object_set_new(n, "tls_message", json_string(l->message));
		}
	}
	if (!g->secrets.pending)
		cert_dir_apply(&g->certs, &tls);
	gateway_tls_release(&tls);
}

/* ---- compile and publish ---------------------------------------------------- */

static int docs_add(struct gateway_docs *docs, json_t *obj, const char *kind)
{
	struct gateway_doc *grown = realloc(docs->docs, (docs->n + 1) * sizeof(*grown));
	char source[600];

	if (!grown)
		return -1;
	docs->docs = grown;
	snprintf(source, sizeof(source), "%s %s/%s", kind, meta(obj, "namespace") ?: "",
		 meta(obj, "name") ?: "");
	grown[docs->n].source = strdup(source);
	if (!grown[docs->n].source)
		return -1;
	grown[docs->n].json = json_incref(obj);
	docs->n++;
	return 0;
}

static int key_compare(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Adds every object of a watch's map in the order of their keys: two
 * replicas that hold the same objects compile the same table, byte for byte,
 * whatever order their watches heard them in (Programmed compares tables). */
static int docs_add_sorted(struct gateway_docs *docs, json_t *objects, const char *kind)
{
	size_t n = 0, size = json_object_size(objects);
	const char **keys = malloc((size ? size : 1) * sizeof(*keys)), *key;
	json_t *obj;
	int rc = 0;

	if (!keys)
		return -1;
	json_object_foreach(objects, key, obj)
		keys[n++] = key;
	qsort(keys, n, sizeof(*keys), key_compare);
	for (size_t i = 0; i < n && rc == 0; i++)
		rc = docs_add(docs, json_object_get(objects, keys[i]), kind);
	free(keys);
	return rc;
}

static void refuse(struct source_gateway *g, const char *why)
{
	if (strcmp(g->refused, why) != 0)
		log_warn("gateway: not served", "gateway=%s/%s why=\"%s\"", g->ns, g->name, why);
	snprintf(g->refused, sizeof(g->refused), "%s", why);
}

static void compile(struct source_gateway *g)
{
	struct gateway_docs docs = GATEWAY_DOCS_INIT;
	struct gateway_result res;
	struct source_routes_service *services = NULL;
	size_t nservices = 0;
	json_t *gw = object(g, W_GATEWAYS, g->name), *class, *attached;
	const char *class_name, *controller;
	char why[2 * ROUTE_NAME_MAX + 64];

	memset(&res, 0, sizeof(res));
	if (!all_listed(g))
		return;
	if (!gw) {
		snprintf(why, sizeof(why), "no Gateway %s/%s", g->ns, g->name);
		refuse(g, why);
		return;
	}
	class_name = json_string_value(json_object_get(json_object_get(gw, "spec"),
						       "gatewayClassName"));
	class = class_name ? object(g, W_CLASSES, class_name) : NULL;
	controller = json_string_value(json_object_get(json_object_get(class, "spec"),
						       "controllerName"));
	if (!controller || strcmp(controller, g->controller) != 0) {
		snprintf(why, sizeof(why), "its GatewayClass %s %s", class_name ? class_name : "-",
			 class ? "names another controller (--gateway-controller)" : "does not exist");
		refuse(g, why);
		return;
	}
	write_status(g, "GatewayClass", "v1", "gatewayclasses", NULL, class_name, json_pack(
		"{s:[o, o]}", "conditions",
		condition("Accepted", 1, "Accepted", "", generation_of(class)),
		condition("SupportedVersion", 1, "SupportedVersion", "", generation_of(class))));
	if (docs_add(&docs, gw, "Gateway") == -1)
		goto out;
	for (int k = 0; k < GATEWAY_ROUTE_KINDS; k++)
		if (docs_add_sorted(&docs, g->w[route_watch[k]].objects,
				    gateway_route_kind_names[k]) == -1)
			goto out;
	if (docs_add_sorted(&docs, g->w[W_GRANTS].objects, "ReferenceGrant") == -1)
		goto out;
	if (gateway_compile(&docs, g->ns, g->name, service_exists, g, &res) == -1) {
		refuse(g, res.notes.n ? res.notes.list[0] : "cannot compile");
		goto out;
	}
	g->refused[0] = '\0';
	for (unsigned i = 0; i < res.table->n_rules; i++) {
		const struct route_rule *rule = &res.table->rules[i];

		for (unsigned j = 0; j < rule->n_backends + rule->n_mirrors; j++) {
			const struct route_backend *b = j < rule->n_backends
				? &rule->backends[j] : &rule->mirrors[j - rule->n_backends].backend;
			struct source_routes_service *grown;
			char name[BUS_SERVICE_MAX];

			if (!b->resolved ||
			    bus_routes_service(b->namespace, b->name, b->port, name, sizeof(name)) == -1 ||
			    source_routes_find(services, nservices, name))
				continue;
			grown = realloc(services, (nservices + 1) * sizeof(*grown));
			if (!grown)
				goto out;
			services = grown;
			if (service_backends(g, b->namespace, b->name, b->port,
					     &services[nservices]) == 0)
				nservices++;
		}
	}
	if (source_routes_publish(g->d, res.table, services, nservices,
				  g->health_on ? &g->health : NULL) == -1)
		goto out;
	routed_keep_statuses(&g->d->routed, res.statuses, res.n_statuses);
	source_routes_services_free(g->services, g->nservices);
	g->services = services;
	g->nservices = nservices;
	services = NULL;
	nservices = 0;
	for (int k = 0; k < GATEWAY_ROUTE_KINDS; k++)
		write_route_statuses(g, &res, (enum gateway_route_kind)k);
	attached = listener_statuses(&res);
	listener_certificates(g, gw, &docs, attached);
	write_gateway_status(g, gw, attached);
	json_decref(g->pending);
	g->pending = attached;
out:
	source_routes_services_free(services, nservices);
	gateway_result_release(&res);
	gateway_docs_release(&docs);
}

static void on_settle(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop;
	(void)revents;
	compile(w->data);
}

/* Programmed follows the proxies' reports between compiles. */
static void on_status_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct source_gateway *g = w->data;
	json_t *gw = object(g, W_GATEWAYS, g->name);
	(void)loop;
	(void)revents;

	if (writes_status(g) && !g->writing) {
		/* taking over from another replica: its status, not this one's
		 * memory of what was written, is in the cluster; all written again */
		json_object_clear(g->written);
		g->writing = 1;
		compile(g);
		return;
	}
	g->writing = writes_status(g);
	if (gw && g->pending && !g->refused[0])
		write_gateway_status(g, gw, g->pending);
}

void source_gateway_set_fleet(struct source_gateway *g, const struct source_gateway_fleet *f)
{
	g->fleet = *f;
	g->writing = 0;
}

static void on_objects(void *data, json_t *objects)
{
	struct gateway_watch *w = data;

	if (w->objects != objects) {
		json_decref(w->objects);
		w->objects = json_incref(objects);
	}
	if (!ev_is_active(&w->g->settle))
		ev_timer_start(w->g->d->loop, &w->g->settle);
}

static void on_secrets(void *data)
{
	struct source_gateway *g = data;

	if (!ev_is_active(&g->settle))
		ev_timer_start(g->d->loop, &g->settle);
}

struct source_gateway *source_gateway_start(struct discover *d, struct kube *kube,
					    const char *gateway, const char *controller,
					    double watch_timeout,
					    const struct health_options *health, char *err,
					    size_t errsz)
{
	struct source_gateway *g = calloc(1, sizeof(*g));
	const char *slash = strchr(gateway, '/');

	if (!g || !(g->written = json_object())) {
		free(g);
		snprintf(err, errsz, "out of memory");
		return NULL;
	}
	g->d = d;
	g->kube = kube;
	g->writing = 1;		/* alone until source_gateway_set_fleet */
	gateway_secrets_init(&g->secrets, kube, watch_timeout, on_secrets, g);
	if (cert_dir_init(&g->certs, d->rundir, err, errsz) == -1) {
		json_decref(g->written);
		free(g);
		return NULL;
	}
	if (!slash || slash == gateway || !slash[1] ||
	    (size_t)(slash - gateway) > ROUTE_NAME_MAX || strlen(slash + 1) > ROUTE_NAME_MAX) {
		snprintf(err, errsz, "--gateway \"%s\": NAMESPACE/NAME", gateway);
		goto fail;
	}
	snprintf(g->ns, sizeof(g->ns), "%.*s", (int)(slash - gateway), gateway);
	snprintf(g->name, sizeof(g->name), "%s", slash + 1);
	snprintf(g->controller, sizeof(g->controller), "%s", controller);
	if (health) {
		g->health_on = 1;
		g->health = *health;
	}
	ev_timer_init(&g->settle, on_settle, GATEWAY_SETTLE, 0);
	g->settle.data = g;
	ev_timer_init(&g->status_timer, on_status_timer, GATEWAY_STATUS_INTERVAL,
		      GATEWAY_STATUS_INTERVAL);
	g->status_timer.data = g;
	ev_timer_start(d->loop, &g->status_timer);
	for (int i = 0; i < W_COUNT; i++) {
		struct kube_watch_options wo = { 0 };
		char path[512];

		snprintf(path, sizeof(path), watched[i].path, g->ns);
		wo.what = watched[i].what;
		wo.path = path;
		wo.query = "";
		wo.grant = watched[i].grant;
		wo.timeout = watch_timeout;
		wo.namespaced_keys = i != W_CLASSES && i != W_GATEWAYS;
		g->w[i].g = g;
		g->w[i].watch = kube_watch_start(kube, &wo, on_objects, &g->w[i]);
		if (!g->w[i].watch) {
			snprintf(err, errsz, "out of memory");
			goto fail;
		}
	}
	log_info("gateway controller", "gateway=%s/%s controller=%s via=\"%s\"", g->ns, g->name,
		 g->controller, kube->auth.source);
	return g;
fail:
	source_gateway_stop(g);
	return NULL;
}

void source_gateway_stop(struct source_gateway *g)
{
	if (!g)
		return;
	ev_timer_stop(g->d->loop, &g->settle);
	ev_timer_stop(g->d->loop, &g->status_timer);
	while (g->writes) {	/* a PATCH still out at exit: no answer will come */
		kube_cancel(g->kube, g->writes->call);
		status_write_free(g->writes);
	}
	for (int i = 0; i < W_COUNT; i++) {
		kube_watch_stop(g->w[i].watch);
		json_decref(g->w[i].objects);
	}
	gateway_secrets_release(&g->secrets);
	source_routes_release(g->d);
	source_routes_services_free(g->services, g->nservices);
	json_decref(g->written);
	json_decref(g->pending);
	free(g);
}
