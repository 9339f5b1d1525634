/* gateway_rule: one HTTPRoute's spec.rules compiled into route rules (matches,
 * filters, weighted backendRefs, ReferenceGrant checks), with the verdicts
 * its status reports. common/gateway.c attaches the result to listeners. */
#ifndef LB_GATEWAY_RULE_H
#define LB_GATEWAY_RULE_H

#include <jansson.h>
#include <stdint.h>

#include "gateway_load.h"
#include "gateway_notes.h"
#include "gateway_ref.h"
#include "route.h"

/* The HTTPRoute annotation that makes its weighted splits sticky (its
 * value: route_split_key_valid). */
#define GATEWAY_SPLIT_KEY_ANNOTATION "lb.dev/split-key"

/* A status condition's outcome: reason NULL means it holds. */
struct gateway_verdict {
	const char *reason;	/* the spec's reason, e.g. "UnsupportedValue" */
	char message[GATEWAY_MESSAGE_MAX];
};

/* One HTTPRoute: its identity (filled by the caller) and what compiling its
 * rules gave. */
struct gateway_route {
	const struct gateway_doc *doc;
	const char *namespace;		/* points into doc */
	const char *name;		/* points into doc */
	const char *kind;		/* "HTTPRoute" (NULL too), "TLSRoute", "TCPRoute" */
	char id[2 * ROUTE_NAME_MAX + 2];	/* "namespace/name" */
	long long created;		/* creationTimestamp (s); LLONG_MAX: none */
	struct gateway_verdict accepted;	/* set: the route is refused */
	struct gateway_verdict resolved;	/* set: a ref does not resolve */
	struct route_rule *rules;	/* owned; none when refused */
	unsigned n_rules;
};

/* What rules are compiled against. */
struct gateway_rule_env {
	const struct gateway_docs *docs;	/* for ReferenceGrants */
	gateway_service_fn exists;		/* NULL: every Service port exists */
	void *exists_ctx;
	struct gateway_notes *notes;
};

/*
 * Compiles route's spec (the HTTPRoute's "spec" object) into route->rules.
 * A value the spec or lb does not support (a bad regex, a limit passed, an
 * unknown filter) refuses the whole route: route->accepted is set
 * (UnsupportedValue) and no rule is kept. A backendRef that does not resolve
 * sets route->resolved (InvalidKind, RefNotPermitted, BackendNotFound) and is
 * kept unresolved (its share answers 500). Each problem is also a note.
 * Returns 0, or -1 when out of memory.
 */
int gateway_rule_compile(struct gateway_route *route, json_t *spec,
			 const struct gateway_rule_env *env);

/*
 * Compiles one weighted backendRef o (at path, for messages) of route into
 * b, as a rule's are: a value lb refuses sets route->accepted, a ref that
 * does not resolve route->resolved (b kept, unresolved). Returns 0, or -1
 * when out of memory.
 */
int gateway_rule_backend(struct gateway_route *route, json_t *o, const char *path,
			 const struct gateway_rule_env *env, struct route_backend *b);

/* Frees what route owns (its rules). */
void gateway_route_release(struct gateway_route *route);

/* A Gateway API Duration ("1h", "500ms", "1m30s": 1 to 4 groups of 1 to 5
 * digits and h, m, s or ms) into *ms. Returns 0, or -1 when invalid or past
 * UINT32_MAX ms. */
int gateway_duration_parse(const char *s, uint32_t *ms);

/* 1 when s is a lower-case RFC 1123 hostname of at most ROUTE_HOSTNAME_MAX
 * bytes, with a leading "*." when wildcard allows one, else 0. */
int gateway_hostname_valid(const char *s, int wildcard);

#endif
