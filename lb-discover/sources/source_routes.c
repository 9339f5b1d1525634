/* source_routes: --routes FILE (see source_routes.h). */
#include "sources/source_routes.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "bus_routes.h"
#include "core/discover.h"
#include "core/routed.h"
#include "gateway.h"
#include "gateway_ref.h"
#include "gateway_tls.h"
#include "log.h"
#include "sources/cert_dir.h"
#include "sources/file_watch.h"
#include "timefmt.h"
#include "sources/source.h"

struct source_routes {
	struct discover *d;
	char path[512];
	char gateway[2 * ROUTE_NAME_MAX + 2];	/* "namespace/name", or "" for the only one */
	struct file_watch watch;
	int health_on;
	struct health_options health;
	/* the Backends of the last good load, for the compiler's lookup */
	struct source_routes_service *services;
	size_t nservices;
	double compile_ms;	/* the last good load: read, parsed and compiled (make bench) */
	struct cert_dir certs;	/* the HTTPS listeners' Secrets, for the proxies */
};

void source_routes_services_free(struct source_routes_service *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(s[i].list);
	free(s);
}

static const char *meta(json_t *doc, const char *key, const char *def)
{
	const char *v = json_string_value(json_object_get(json_object_get(doc, "metadata"), key));

	return v ? v : def;
}

void source_routes_settings(json_t *doc, json_t *port, struct source_routes_service *s)
{
	json_t *ann = json_object_get(json_object_get(json_object_get(doc, "metadata"),
						      "annotations"),
				      SERVICE_SETTINGS_BALANCE_ANNOTATION);

	s->bad = service_settings_read(doc, port, &s->settings);
	snprintf(s->bad_protocol, sizeof(s->bad_protocol), "%s",
		 json_is_string(json_object_get(port, "appProtocol"))
			 ? json_string_value(json_object_get(port, "appProtocol")) : "(not a string)");
	snprintf(s->bad_balance, sizeof(s->bad_balance), "%s",
		 json_is_string(ann) ? json_string_value(ann) : "(not a string)");
}

/* One port of a Backends document into out[*n]. Returns 0 or -1 (err). */
static int parse_port(const struct gateway_doc *doc, const char *ns, const char *name,
		      json_t *port, size_t index, struct source_routes_service *out, char *err,
		      size_t errsz)
{
	json_t *p = json_object_get(port, "port"), *addrs = json_object_get(port, "addresses"), *a;
	char why[256];
	size_t i;

	if (!json_is_object(port) || !json_is_integer(p) || json_integer_value(p) < 1 ||
	    json_integer_value(p) > 65535) {
		snprintf(err, errsz, "%s: spec.ports[%zu].port: an integer from 1 to 65535",
			 doc->source, index);
		return -1;
	}
	if (!json_is_array(addrs) || json_array_size(addrs) > BUS_MAX_BACKENDS) {
		snprintf(err, errsz, "%s: spec.ports[%zu].addresses: a list of at most %d "
			 "\"IP:PORT[@WEIGHT]\"", doc->source, index, BUS_MAX_BACKENDS);
		return -1;
	}
	if (bus_routes_service(ns, name, (unsigned)json_integer_value(p), out->name,
			       sizeof(out->name)) == -1) {
		snprintf(err, errsz, "%s: metadata: namespace and name too long", doc->source);
		return -1;
	}
	source_routes_settings(doc->json, port, out);
	out->list = calloc(json_array_size(addrs) + 1, sizeof(*out->list));
	if (!out->list) {
		snprintf(err, errsz, "out of memory");
		return -1;
	}
	json_array_foreach(addrs, i, a) {
		if (!json_is_string(a) ||
		    source_parse_entry(json_string_value(a), &out->list[out->n], why,
				       sizeof(why)) == -1) {
			snprintf(err, errsz, "%s: spec.ports[%zu].addresses[%zu]: %s", doc->source,
				 index, i, json_is_string(a) ? why : "a string \"IP:PORT[@WEIGHT]\"");
			return -1;
		}
		out->list[out->n].state = BUS_STATE_UP;
		out->n++;
	}
	return 0;
}

int source_routes_services(const struct gateway_docs *docs, struct source_routes_service **out,
			   char *err, size_t errsz)
{
	struct source_routes_service *list = NULL, *grown;
	size_t n = 0;

	for (unsigned i = 0; i < docs->n; i++) {
		const struct gateway_doc *doc = &docs->docs[i];
		const char *kind = json_string_value(json_object_get(doc->json, "kind"));
		const char *api = json_string_value(json_object_get(doc->json, "apiVersion"));
		const char *ns = meta(doc->json, "namespace", "default");
		const char *name = meta(doc->json, "name", NULL);
		json_t *ports = json_object_get(json_object_get(doc->json, "spec"), "ports"), *port;
		int proxy_v2 = gateway_ref_proxy_protocol(doc->json);
		size_t j;

		if (!kind || strcmp(kind, SOURCE_ROUTES_KIND) != 0)
			continue;
		if (!api || strcmp(api, SOURCE_ROUTES_API) != 0) {
			snprintf(err, errsz, "%s: apiVersion: Backends is %s", doc->source,
				 SOURCE_ROUTES_API);
			goto fail;
		}
		if (!name || !*name || !json_is_array(ports) || json_array_size(ports) == 0) {
			snprintf(err, errsz, "%s: a Backends document needs metadata.name and "
				 "spec.ports: [{port, addresses}]", doc->source);
			goto fail;
		}
		if (proxy_v2 == -1) {
			snprintf(err, errsz, "%s: metadata.annotations[%s]: the one value is \"%s\" "
				 "(a PROXY protocol v2 header to the backends); drop it for none",
				 doc->source, GATEWAY_PROXY_PROTOCOL_ANNOTATION,
				 GATEWAY_PROXY_PROTOCOL_V2);
			goto fail;
		}
		json_array_foreach(ports, j, port) {
			grown = realloc(list, (n + 1) * sizeof(*list));
			if (!grown) {
				snprintf(err, errsz, "out of memory");
				goto fail;
			}
			list = grown;
			memset(&list[n], 0, sizeof(list[n]));
			n++;
			if (parse_port(doc, ns, name, port, j, &list[n - 1], err, errsz) == -1)
				goto fail;
			list[n - 1].proxy_v2 = proxy_v2 > 0;
			for (size_t k = 0; k + 1 < n; k++)
				if (strcmp(list[k].name, list[n - 1].name) == 0) {
					snprintf(err, errsz, "%s: spec.ports[%zu]: %s is listed before",
						 doc->source, j, list[n - 1].name);
					goto fail;
				}
		}
	}
	*out = list;
	return (int)n;
fail:
	source_routes_services_free(list, n);
	return -1;
}

const struct source_routes_service *source_routes_find(const struct source_routes_service *s,
						       size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(s[i].name, name) == 0)
			return &s[i];
	return NULL;
}

/* The compiler's lookup: a Service port exists when a Backends lists it. */
static int service_exists(void *ctx, const char *namespace, const char *name, uint16_t port)
{
	const struct source_routes *r = ctx;
	const struct source_routes_service *s;
	char key[BUS_SERVICE_MAX];

	if (bus_routes_service(namespace, name, port, key, sizeof(key)) == -1 ||
	    !(s = source_routes_find(r->services, r->nservices, key)))
		return 0;
	return GATEWAY_SERVICE_EXISTS | (s->proxy_v2 ? GATEWAY_SERVICE_PROXY_V2 : 0) |
	       (s->bad & SERVICE_SETTINGS_BAD_PROTOCOL ? GATEWAY_SERVICE_UNSUPPORTED_PROTOCOL : 0);
}

/* The Gateway to serve: the one named, or the only one in docs. */
static int pick_gateway(const struct source_routes *r, const struct gateway_docs *docs,
			char *ns, char *name, size_t size, char *err, size_t errsz)
{
	const char *slash = strchr(r->gateway, '/');
	unsigned found = 0;

	if (r->gateway[0] && slash) {
		snprintf(ns, size, "%.*s", (int)(slash - r->gateway), r->gateway);
		snprintf(name, size, "%s", slash + 1);
		return 0;
	}
	for (unsigned i = 0; i < docs->n; i++) {
		const char *kind = json_string_value(json_object_get(docs->docs[i].json, "kind"));

		if (kind && strcmp(kind, "Gateway") == 0 && found++ == 0) {
			snprintf(ns, size, "%s", meta(docs->docs[i].json, "namespace", "default"));
			snprintf(name, size, "%s", meta(docs->docs[i].json, "name", ""));
		}
	}
	if (found == 1)
		return 0;
	snprintf(err, errsz, "%s: %s", r->path, found ? "more than one Gateway: name the one to "
		 "serve with --gateway NAMESPACE/NAME" : "no Gateway document (kind: Gateway)");
	return -1;
}

/* The Secret document ns/name of the file (gateway_secret_fn; ctx: the docs). */
static json_t *file_secret(void *ctx, const char *ns, const char *name)
{
	const struct gateway_docs *docs = ctx;

	for (unsigned i = 0; i < docs->n; i++) {
		json_t *doc = docs->docs[i].json;
		const char *api = json_string_value(json_object_get(doc, "apiVersion"));
		const char *kind = json_string_value(json_object_get(doc, "kind"));

		if (api && kind && strcmp(api, "v1") == 0 && strcmp(kind, "Secret") == 0 &&
		    strcmp(meta(doc, "namespace", "default"), ns) == 0 &&
		    strcmp(meta(doc, "name", ""), name) == 0)
			return doc;
	}
	return NULL;
}

/* The HTTPS listeners' certificates of Gateway ns/name, from the file's
 * Secret documents, written for the proxies; a listener short of one is
 * logged (a file has no status to write). Returns 0, or -1 (out of memory). */
static int routes_certificates(struct source_routes *r, const struct gateway_docs *docs,
			       const char *ns, const char *name)
{
	struct gateway_tls tls;
	json_t *gw = NULL;
	int secrets = 0;
	struct stat st;

	for (unsigned i = 0; i < docs->n; i++) {
		json_t *doc = docs->docs[i].json;
		const char *kind = json_string_value(json_object_get(doc, "kind"));

		secrets += kind && strcmp(kind, "Secret") == 0;
		if (kind && strcmp(kind, "Gateway") == 0 &&
		    strcmp(meta(doc, "namespace", "default"), ns) == 0 &&
		    strcmp(meta(doc, "name", ""), name) == 0)
			gw = doc;
	}
	if (secrets && stat(r->path, &st) == 0 && (st.st_mode & 077))
		log_warn("routes file: it holds Secrets (private keys) and others can read it: "
			 "chmod 600 it", "file=%s", r->path);
	if (gateway_tls_resolve(gw, ns, docs, file_secret, (void *)docs, &tls) == -1)
		return -1;
	for (unsigned i = 0; i < tls.n_listeners; i++)
		if (tls.listeners[i].reason)
			log_warn("routes file: HTTPS listener certificate not resolved",
				 "listener=%s reason=%s usable=%u message=\"%s\"", tls.listeners[i].name,
				 tls.listeners[i].reason, tls.listeners[i].usable,
				 tls.listeners[i].message);
	cert_dir_apply(&r->certs, &tls);
	gateway_tls_release(&tls);
	return 0;
}

static void release_checks(struct routed_service *s)
{
	health_stop(s->checks);
	s->checks = NULL;
}

static void on_health_change(void *data)
{
	struct discover *d = data;

	for (size_t i = 0; i < d->routed.n; i++)
		routed_commit(&d->pub, discover_fleet_proxies(d), d->routed.list[i]);
}

int source_routes_publish(struct discover *d, const struct route_table *t,
			  const struct source_routes_service *services, size_t nservices,
			  const struct health_options *health)
{
	struct routed *routed = &d->routed;
	char key[BUS_SERVICE_MAX];

	if (routed_publish_table(routed, &d->pub, t) == -1)
		return -1;
	/* the sets after the table: a proxy keeps the sets of the services its
	 * table names */
	routed_unmark(routed);
	for (unsigned i = 0; i < t->n_rules; i++) {
		const struct route_rule *rule = &t->rules[i];

		for (unsigned j = 0; j < rule->n_backends + rule->n_mirrors; j++) {
			const struct route_backend *b = j < rule->n_backends
				? &rule->backends[j] : &rule->mirrors[j - rule->n_backends].backend;
			const struct source_routes_service *src;
			struct routed_service *s;

			if (!b->resolved ||
			    bus_routes_service(b->namespace, b->name, b->port, key, sizeof(key)) == -1 ||
			    !(src = source_routes_find(services, nservices, key)))
				continue;
			s = routed_get(routed, key);
			if (!s) {
				log_error("routed service not kept: out of memory", "service=%s", key);
				continue;
			}
			if (!s->mark) {
				registry_source_update(&s->reg, src->list, src->n, registry_clock());
				routed_settings(s, &src->settings, src->bad & SERVICE_SETTINGS_BAD_PROTOCOL
						? src->bad_protocol : NULL, src->bad & SERVICE_SETTINGS_BAD_BALANCE
						? src->bad_balance : NULL);
			}
			s->mark = 1;
			if (health && !s->checks)
				s->checks = health_start(d->loop, &s->reg, health, on_health_change, d);
		}
	}
	routed_sweep(routed, release_checks);
	for (size_t i = 0; i < routed->n; i++)
		routed_commit(&d->pub, discover_fleet_proxies(d), routed->list[i]);
	return 0;
}

void source_routes_release(struct discover *d)
{
	routed_release(&d->routed, release_checks);
}

/* Reads, compiles and publishes. Returns 0, or -1 with err (nothing changed). */
static int reload(struct source_routes *r, char *err, size_t errsz)
{
	struct gateway_docs docs = GATEWAY_DOCS_INIT;
	struct gateway_result res;
	struct source_routes_service *services = NULL;
	struct buf text = BUF_INIT;
	char ns[ROUTE_NAME_MAX + 1], name[ROUTE_NAME_MAX + 1];
	double started = timefmt_mono();
	int n, rc = -1;

	memset(&res, 0, sizeof(res));
	if (buf_read_file(&text, r->path) == -1) {
		snprintf(err, errsz, "%s: %s", r->path, strerror(errno));
		goto out;
	}
	if (gateway_load(&docs, r->path, text.data ? text.data : "", text.len, err, errsz) == -1 ||
	    pick_gateway(r, &docs, ns, name, sizeof(ns), err, errsz) == -1)
		goto out;
	n = source_routes_services(&docs, &services, err, errsz);
	if (n < 0)
		goto out;
	/* the compiler looks up the new Backends */
	source_routes_services_free(r->services, r->nservices);
	r->services = services;
	r->nservices = (size_t)n;
	if (gateway_compile(&docs, ns, name, service_exists, r, &res) == -1) {
		snprintf(err, errsz, "%s", res.notes.n ? res.notes.list[0] : "cannot compile");
		goto out;
	}
	r->compile_ms = (timefmt_mono() - started) * 1000.0;
	for (unsigned i = 0; i < res.notes.n; i++)
		log_warn("routes file", "note=\"%s\"", res.notes.list[i]);
	for (unsigned i = 0; i < res.n_statuses; i++) {
		const struct gateway_parent_status *st = &res.statuses[i];

		if (!st->accepted.status || !st->resolved_refs.status)
			log_warn("route not fully served", "route=%s parent=%u accepted=%s:%s "
				 "resolved_refs=%s:%s message=\"%s%s%s\"", st->route, st->parent,
				 st->accepted.status ? "True" : "False", st->accepted.reason,
				 st->resolved_refs.status ? "True" : "False",
				 st->resolved_refs.reason, st->accepted.message,
				 st->accepted.message[0] && st->resolved_refs.message[0] ? "; " : "",
				 st->resolved_refs.message);
	}
	if (routes_certificates(r, &docs, ns, name) == -1) {
		snprintf(err, errsz, "out of memory");
		goto out;
	}
	if (source_routes_publish(r->d, res.table, r->services, r->nservices,
				  r->health_on ? &r->health : NULL) == -1) {
		snprintf(err, errsz, "the route table is over the bus's message size");
		goto out;
	}
	routed_keep_statuses(&r->d->routed, res.statuses, res.n_statuses);
	rc = 0;
out:
	gateway_result_release(&res);
	gateway_docs_release(&docs);
	buf_release(&text);
	return rc;
}

static void on_change(void *data)
{
	struct source_routes *r = data;
	char err[512];

	if (reload(r, err, sizeof(err)) == -1)
		log_error("routes file: bad edit ignored, keeping the last good routes",
			  "error=\"%s\"", err);
	else
		log_info("routes file reloaded", "file=%s generation=%llu compile_ms=%.3f", r->path,
			 r->d->routed.generation, r->compile_ms);
}

struct source_routes *source_routes_start(struct discover *d, const char *path,
					  const char *gateway, const struct health_options *health,
					  char *err, size_t errsz)
{
	struct source_routes *r = calloc(1, sizeof(*r));
	if (!r) {
		snprintf(err, errsz, "out of memory");
		return NULL;
	}
	r->d = d;
	r->watch.ifd = -1;
	if (gateway && (!strchr(gateway, '/') || strlen(gateway) >= sizeof(r->gateway))) {
		snprintf(err, errsz, "--gateway \"%s\": NAMESPACE/NAME", gateway);
		goto fail;
	}
	snprintf(r->gateway, sizeof(r->gateway), "%s", gateway ? gateway : "");
	if (health) {
		r->health_on = 1;
		r->health = *health;
	}
	snprintf(r->path, sizeof(r->path), "%s", path);
	if (cert_dir_init(&r->certs, d->rundir, err, errsz) == -1)
		goto fail;
	if (file_watch_init(&r->watch, d->loop, path, on_change, r, err, errsz) == -1)
		goto fail;
	if (reload(r, err, errsz) == -1)
		goto fail;
	file_watch_run(&r->watch);
	return r;
fail:
	source_routes_stop(r);
	return NULL;
}

void source_routes_stop(struct source_routes *r)
{
	if (!r)
		return;
	file_watch_release(&r->watch);
	source_routes_release(r->d);
	source_routes_services_free(r->services, r->nservices);
	free(r);
}
