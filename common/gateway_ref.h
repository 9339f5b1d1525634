/* gateway_ref: whether a route's reference to a backend resolves: a
 * kind lb serves, a ReferenceGrant when it crosses namespaces, a Service
 * with that port. */
#ifndef LB_GATEWAY_REF_H
#define LB_GATEWAY_REF_H

#include <stddef.h>
#include <stdint.h>

#include "gateway_load.h"

/* Whether Service name in namespace has port: 1 yes, 0 no. */
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
 * "BackendNotFound") with why written into why (size bytes).
 */
const char *gateway_ref_resolve(const struct gateway_docs *docs, const char *route_kind,
				const char *route_namespace,
				const char *group, const char *kind, const char *namespace,
				const char *name, int port, gateway_service_fn exists,
				void *exists_ctx, char *why, size_t size);

#endif
