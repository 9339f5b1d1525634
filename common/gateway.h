/* gateway: Gateway API documents (Gateway, HTTPRoute v1, ReferenceGrant)
 * compiled into the route table of one Gateway, with the status of every
 * HTTPRoute parentRef to it. Pure: the documents and a Service lookup in,
 * the table and statuses out. */
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

/* The status of one HTTPRoute for one of its parentRefs to the Gateway. */
struct gateway_parent_status {
	char route[2 * ROUTE_NAME_MAX + 2];	/* "namespace/name" */
	unsigned parent;			/* index in its spec.parentRefs */
	struct gateway_condition accepted;	/* Accepted */
	struct gateway_condition resolved_refs;	/* ResolvedRefs */
};

struct gateway_result {
	struct route_table *table;	/* owned */
	struct gateway_parent_status *statuses;
	unsigned n_statuses;
	struct gateway_notes notes;	/* every problem, "file:line: field: what" */
};

/*
 * Compiles the Gateway namespace/name of docs (HTTP and HTTPS listeners take
 * HTTPRoutes; TLS and TCP listeners are kept, without routes for now) and
 * every HTTPRoute whose parentRefs name it. exists (NULL: all exist) says
 * which Service ports exist. Fills out (zeroed first; the caller releases
 * it). Returns 0, or -1 when the Gateway is missing or unusable or memory
 * ran out (out->notes say why, out->table is NULL).
 */
int gateway_compile(const struct gateway_docs *docs, const char *namespace, const char *name,
		    gateway_service_fn exists, void *exists_ctx, struct gateway_result *out);

/* Frees what out owns; it is zeroed. */
void gateway_result_release(struct gateway_result *out);

#endif
