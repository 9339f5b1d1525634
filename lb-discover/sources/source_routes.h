/* source_routes: --routes FILE, a Gateway's routes and the backends of the
 * Services they send to, from Gateway API documents (what `kubectl apply`
 * takes: Gateway, HTTPRoute, ReferenceGrant) and lb's compact Backends
 * documents; compiled (common/gateway.h) and published through core/routed
 * on every change of the file (inotify). A bad edit keeps the last good
 * routes and sets. */
#ifndef LB_DISCOVER_SOURCE_ROUTES_H
#define LB_DISCOVER_SOURCE_ROUTES_H

#include <ev.h>
#include <stddef.h>

#include "bus_protocol.h"
#include "gateway_load.h"
#include "sources/health.h"

struct discover;
struct source_routes;

/* The kind lb reads a Service's backends from in a routes file:
 *   apiVersion: lb.dev/v1alpha1
 *   kind: Backends
 *   metadata: {name: echo, namespace: default}
 *   # optional: relays to it start with a PROXY protocol v2 header
 *   #   annotations: {lb.dev/proxy-protocol: v2}
 *   spec:
 *     ports:
 *     - port: 80                      # the Service port a backendRef names
 *       appProtocol: kubernetes.io/h2c  # optional, as a Service port's
 *       addresses: ["127.0.0.1:9001", "127.0.0.1:9002@3"]   # IP:PORT[@WEIGHT]
 * with metadata.annotations {lb.dev/balance: least-request} optional, as a
 * Service's (common/service_settings.h).
 */
#define SOURCE_ROUTES_KIND "Backends"
#define SOURCE_ROUTES_API "lb.dev/v1alpha1"

/* One Service port's backends, from a Backends document. */
struct source_routes_service {
	char name[BUS_SERVICE_MAX];	/* "namespace/name:port" */
	struct bus_backend *list;	/* malloc'd */
	size_t n;
	int proxy_v2;	/* annotated lb.dev/proxy-protocol: v2 (TLS/TCP relays) */
	/* its own protocol and algorithm (common/service_settings.h), and what
	 * could not be taken of them (SERVICE_SETTINGS_BAD_* bits; the values
	 * as written, for the log) */
	struct service_settings settings;
	int bad;
	char bad_protocol[64], bad_balance[64];
};
struct json_t;
/* Reads the settings of Service (or Backends) document `doc`'s port entry
 * `port` into s. */
void source_routes_settings(struct json_t *doc, struct json_t *port,
			    struct source_routes_service *s);

/* The Backends documents among docs, checked (file:line: field: why in err).
 * Returns the count (*out malloc'd, release with source_routes_services_free)
 * or -1. */
int source_routes_services(const struct gateway_docs *docs, struct source_routes_service **out,
			   char *err, size_t errsz);
void source_routes_services_free(struct source_routes_service *s, size_t n);
/* The service named among s (n of them), or NULL. */
const struct source_routes_service *source_routes_find(const struct source_routes_service *s,
						       size_t n, const char *name);

struct route_table;
/*
 * What a routes source (this file's, or the cluster's: source_gateway.h)
 * publishes: the table t, then the set of each Service it sends to, the
 * backends from `services`, health-checked with `health` (NULL: none);
 * Services no longer named are dropped. Returns 0, or -1 when the table
 * is over the bus's size (logged; nothing changed).
 */
int source_routes_publish(struct discover *d, const struct route_table *t,
			  const struct source_routes_service *services, size_t nservices,
			  const struct health_options *health);
/* Drops every routed Service and its checks (at exit). */
void source_routes_release(struct discover *d);

/*
 * Reads path (an error stops the start-up: the file, its documents, the
 * Gateway), publishes, and watches it. gateway: "namespace/name", or NULL
 * when the file holds exactly one Gateway. health: the checks each routed
 * Service's backends get, or NULL for none.
 */
struct source_routes *source_routes_start(struct discover *d, const char *path,
					  const char *gateway, const struct health_options *health,
					  char *err, size_t errsz);
void source_routes_stop(struct source_routes *r);

#endif
