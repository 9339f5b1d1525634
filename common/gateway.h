/* gateway: Gateway API documents (Gateway, HTTPRoute v1, TLSRoute and
 * TCPRoute v1alpha2, ReferenceGrant) compiled into the route table of one
 * Gateway, with the status of every route's parentRef to it and of every
 * listener. Pure: the documents and a Service lookup in, the table and
 * statuses out. */
#ifndef LB_GATEWAY_H
#define LB_GATEWAY_H

#include "gateway_load.h"
#include "gateway_rule.h"
#include "route.h"

/* A status condition as the Gateway API writes it. */
struct gateway_condition {
	int status;		/* 1: "True", 0: "False" */
	const char *reason;	/* "Accepted", "NoMatchingParent", "ResolvedRefs", ... */
	char message[GATEWAY_MESSAGE_MAX];
};

/* The route kinds a listener may take. */
enum gateway_route_kind {
	GATEWAY_HTTPROUTE = 0,	/* HTTP and HTTPS listeners */
	GATEWAY_TLSROUTE,	/* TLS listeners of tls.mode Passthrough */
	GATEWAY_TCPROUTE,	/* TCP listeners */
	GATEWAY_ROUTE_KINDS,
};

/* "HTTPRoute", "TLSRoute", "TCPRoute"; and their API versions ("v1",
 * "v1alpha2") and collections ("httproutes", ...), indexed by the enum. */
extern const char *const gateway_route_kind_names[GATEWAY_ROUTE_KINDS];
extern const char *const gateway_route_kind_versions[GATEWAY_ROUTE_KINDS];
extern const char *const gateway_route_kind_plurals[GATEWAY_ROUTE_KINDS];

/* The status of one route for one of its parentRefs to the Gateway. */
struct gateway_parent_status {
	enum gateway_route_kind kind;
	char route[2 * ROUTE_NAME_MAX + 2];	/* "namespace/name" */
	unsigned parent;			/* index in its spec.parentRefs */
	struct gateway_condition accepted;	/* Accepted */
	struct gateway_condition resolved_refs;	/* ResolvedRefs */
};

/* What a listener's status says (one per listener of the table, same order). */
struct gateway_listener_status {
	unsigned kinds;			/* supportedKinds: bit (1 << kind) per route kind */
	unsigned attached;		/* attachedRoutes */
	int invalid_kinds;		/* allowedRoutes.kinds named a kind it cannot take:
					 * ResolvedRefs False, InvalidRouteKinds */
};

/* A listener left out because it conflicts with another on its port (the
 * spec's Conflicted: True); every listener of a conflict is left out. */
struct gateway_listener_conflict {
	char name[ROUTE_NAME_MAX + 1];
	const char *reason;		/* "ProtocolConflict" or "HostnameConflict" */
	char with[ROUTE_NAME_MAX + 1];	/* the (first) listener it conflicts with */
	uint16_t port;
};

struct gateway_result {
	struct route_table *table;	/* owned */
	struct gateway_parent_status *statuses;
	unsigned n_statuses;
	struct gateway_listener_status *listeners;	/* table->n_listeners of them */
	struct gateway_listener_conflict *conflicts;	/* the listeners left out so */
	unsigned n_conflicts;
	struct gateway_notes notes;	/* every problem, "file:line: field: what" */
};

/*
 * Compiles the Gateway namespace/name of docs (HTTP and HTTPS listeners take
 * HTTPRoutes, TLS listeners of tls.mode Passthrough TLSRoutes, TCP listeners
 * TCPRoutes, as allowedRoutes.kinds lets them) and every route whose
 * parentRefs name it. exists (NULL: all exist) says
 * which Service ports exist. Fills out (zeroed first; the caller releases
 * it). Returns 0, or -1 when the Gateway is missing or unusable or memory
 * ran out (out->notes say why, out->table is NULL).
 */
int gateway_compile(const struct gateway_docs *docs, const char *namespace, const char *name,
		    gateway_service_fn exists, void *exists_ctx, struct gateway_result *out);

/* Frees what out owns; it is zeroed. */
void gateway_result_release(struct gateway_result *out);

#endif
