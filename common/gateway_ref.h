/* gateway_ref: whether a route's reference to a backend resolves: a
 * kind lb serves, a ReferenceGrant when it crosses namespaces, a Service
 * with that port. */
#ifndef LB_GATEWAY_REF_H
#define LB_GATEWAY_REF_H

#include <stddef.h>
#include <stdint.h>

#include "gateway_load.h"

/* Whether Service name in namespace has port: 1 yes, 0 no,
 * GATEWAY_SERVICE_UNSUPPORTED_PROTOCOL: yes, with an appProtocol lb does not
 * speak (the port is served with the proxies' own protocol; an HTTPRoute's
 * ResolvedRefs is False, UnsupportedProtocol, as GEP-1911 says). */
#define GATEWAY_SERVICE_UNSUPPORTED_PROTOCOL 2
typedef int (*gateway_service_fn)(void *ctx, const char *namespace, const char *name,
				  uint16_t port);

/*
 * Checks a backendRef {group, kind, namespace, name, port (0: none)} of a
 * route of route_kind ("HTTPRoute", "TLSRoute", "TCPRoute") in
 * route_namespace, against the ReferenceGrants among docs and
 * exists (NULL: every Service port exists). Returns NULL when it resolves,
 * else the spec's ResolvedRefs reason ("InvalidKind", "RefNotPermitted",
 * "BackendNotFound") with why written into why (size bytes); or
 * GATEWAY_REASON_UNSUPPORTED_PROTOCOL when it resolves but the port's
 * appProtocol is not one lb speaks (why says so).
 */
extern const char GATEWAY_REASON_UNSUPPORTED_PROTOCOL[];
const char *gateway_ref_resolve(const struct gateway_docs *docs, const char *route_kind,
				const char *route_namespace,
				const char *group, const char *kind, const char *namespace,
				const char *name, int port, gateway_service_fn exists,
				void *exists_ctx, char *why, size_t size);

#endif
