/* gateway_ref: whether a route's reference to a backend resolves: a
 * kind lb serves, a ReferenceGrant when it crosses namespaces, a Service
 * with that port. */
#ifndef LB_GATEWAY_REF_H
#define LB_GATEWAY_REF_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "gateway_load.h"

/* What a gateway_service_fn says of a Service port: 0 it does not exist,
 * else GATEWAY_SERVICE_EXISTS with the Service's options or'ed in. */
#define GATEWAY_SERVICE_EXISTS 1
#define GATEWAY_SERVICE_PROXY_V2 2	/* annotated lb.dev/proxy-protocol: v2 */
/* It exists, with an appProtocol lb does not speak (the port is served with
 * the proxies' own protocol; an HTTPRoute's ResolvedRefs is False,
 * UnsupportedProtocol, as GEP-1911 says). */
#define GATEWAY_SERVICE_UNSUPPORTED_PROTOCOL 4
/* The Service annotation that makes TLS and TCP relays to its backends start
 * with a PROXY protocol v2 header; its one value. */
#define GATEWAY_PROXY_PROTOCOL_ANNOTATION "lb.dev/proxy-protocol"
#define GATEWAY_PROXY_PROTOCOL_V2 "v2"

/* Whether Service name in namespace has port: 0 no, else GATEWAY_SERVICE_*. */
typedef int (*gateway_service_fn)(void *ctx, const char *namespace, const char *name,
				  uint16_t port);

/*
 * 1 when a ReferenceGrant among docs, in namespace, lets objects of
 * route_kind ("HTTPRoute", "Gateway", ...) in route_namespace refer to the
 * core-group object kind/name ("Service", "Secret"): one "from" entry names
 * them, one "to" entry the kind, and the name too when it has one; else 0.
 */
int gateway_ref_granted(const struct gateway_docs *docs, const char *route_kind,
			const char *route_namespace, const char *namespace, const char *kind,
			const char *name);

/*
 * Checks a backendRef {group, kind, namespace, name, port (0: none)} of a
 * route of route_kind ("HTTPRoute", "TLSRoute", "TCPRoute") in
 * route_namespace, against the ReferenceGrants among docs and
 * exists (NULL: every Service port exists). Returns NULL when it resolves,
 * else the spec's ResolvedRefs reason ("InvalidKind", "RefNotPermitted",
 * "BackendNotFound") with why written into why (size bytes); or
 * GATEWAY_REASON_UNSUPPORTED_PROTOCOL when it resolves but the port's
 * appProtocol is not one lb speaks (why says so). When the Service exists,
 * *flags (NULL: not wanted) gets what exists said of it
 * (GATEWAY_SERVICE_EXISTS when exists is NULL).
 */
extern const char GATEWAY_REASON_UNSUPPORTED_PROTOCOL[];
const char *gateway_ref_resolve(const struct gateway_docs *docs, const char *route_kind,
				const char *route_namespace,
				const char *group, const char *kind, const char *namespace,
				const char *name, int port, gateway_service_fn exists,
				void *exists_ctx, char *why, size_t size, int *flags);

/* A Service's (or Backends document's) lb.dev/proxy-protocol annotation:
 * 0 absent, GATEWAY_SERVICE_PROXY_V2 for "v2", -1 for any other value. */
int gateway_ref_proxy_protocol(json_t *object);

#endif
