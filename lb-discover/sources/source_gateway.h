/* source_gateway: lb-discover --gateway NAMESPACE/NAME as a Gateway API
 * controller: it watches the Gateway, its GatewayClass (whose
 * spec.controllerName must be --gateway-controller), HTTPRoutes and
 * ReferenceGrants of every namespace, and the Services and EndpointSlices
 * the routes send to; compiles them (common/gateway.h) into the route table
 * and the routed Services' backends it publishes (source_routes_publish);
 * and writes their status back: GatewayClass Accepted and SupportedVersion,
 * the Gateway's Accepted and Programmed (True once every proxy serves the
 * generation published) and its listeners', each HTTPRoute's parents with
 * Accepted and ResolvedRefs. Nothing is published before every watch has
 * listed once (a Service not listed yet would answer 500). */
#ifndef LB_DISCOVER_SOURCE_GATEWAY_H
#define LB_DISCOVER_SOURCE_GATEWAY_H

#include "kube/kube.h"
#include "sources/health.h"

/* the default --gateway-controller */
#define SOURCE_GATEWAY_CONTROLLER "lb.dev/gateway-controller"

struct discover;
struct source_gateway;

struct source_gateway *source_gateway_start(struct discover *d, struct kube *kube,
					    const char *gateway, const char *controller,
					    double watch_timeout,
					    const struct health_options *health, char *err,
					    size_t errsz);
void source_gateway_stop(struct source_gateway *g);

/* What the other lb-discover replicas of the Gateway say (main wires the
 * cluster's Leases into it); without it this replica writes status alone and
 * Programmed counts its own proxies. */
struct source_gateway_fleet {
	/* 1 when this replica writes status (it holds the status Lease) */
	int (*writes)(void *data);
	/* the other replicas' proxies (*of), and those of them that serve the
	 * table whose digest is `digest` (routed_digest; *serving) */
	void (*proxies)(void *data, const char *digest, unsigned *serving, unsigned *of);
	void *data;
};
/* Status writing from now on follows f (copied). */
void source_gateway_set_fleet(struct source_gateway *g, const struct source_gateway_fleet *f);

#endif
