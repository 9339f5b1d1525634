/* routing: a Gateway's route table in the proxy (lb-discover --routes):
 * applied whole from the bus, matched per request, its services' sets
 * applied by name; and what a matched rule does to the exchange (redirect,
 * rewrite, header modifiers, the weighted pick of a backendRef) or
 * answers (404 no route, 500 a backendRef that does not resolve).
 *
 * Without a table the proxy balances its own service (px->set) as before,
 * at the cost of one pointer test per request. */
#ifndef LB_PROXY_ROUTING_H
#define LB_PROXY_ROUTING_H

#include "policy/hashkey.h"
#include "route.h"
#include "session_state.h"
#include "upstream/service.h"

/* A rule's lb.dev/split-key, parsed once when the table is applied. */
struct routing_split {
	int on;				/* 0: the rule picks at random by weight */
	struct hashkey key;		/* HASHKEY_COOKIE, HASHKEY_HEADER or HASHKEY_CLIENT_IP */
};

/* A route table as served: what exchanges that matched it hold on to. */
struct route_snapshot {
	struct route_table *table;
	unsigned long long generation;
	unsigned refs;			/* the proxy's (while current), and each exchange's */
	/* the service of each backendRef, then of each mirror: rules[i].backends[j]
	 * is services[first[i] + j], rules[i].mirrors[m].backend is
	 * services[first[i] + n_backends + m] (NULL: unresolved) */
	struct service **services;
	unsigned *first;
	unsigned nservices;
	/* requests each rule matched: hits[i] is rules[i]'s (routing_stats.h) */
	unsigned long long *hits;
	struct routing_split *splits;	/* one per rule */
};

struct routing {
	struct route_snapshot *current;	/* NULL: no routes */
	struct service *services;	/* those the current table names (its references) */
	unsigned long long rule_hits_total;
	unsigned long long unmatched_total;	/* requests no rule matched (404) */
};

/*
 * Serves table (owned from here) as generation: services are kept by name
 * (their sets and counters stay), new ones created empty (answer 503 until
 * their set comes), those no longer named let go once their exchanges end.
 * Returns 0, or -1 when out of memory (the previous table stays; table freed).
 */
int routing_apply(struct proxy *px, struct route_table *table, unsigned long long generation);
/* The routed service named, or NULL. */
struct service *routing_service(struct proxy *px, const char *name);
/* Appends "routes":{...},: the generation served (0: none), the table's
 * size, and each routed service's generation and backends (/info). */
void routing_info(struct proxy *px, struct buf *b);
/* The protocol ("http1", "h2c", "h2") and algorithm (a --balance name) the
 * routed service s uses now: its own, from its set, or the proxy's. */
const char *routing_service_protocol(const struct proxy *px, const struct service *s);
const char *routing_service_balance(const struct proxy *px, const struct service *s);
/* Rebuilds the balancer of every routed service that has no algorithm of
 * its own with the proxy's (after a reload changed --balance). */
void routing_follow_balance(struct proxy *px);
/* The service of rule's mirror m in snap, or NULL (unresolved). */
struct service *routing_mirror_service(const struct route_snapshot *snap,
				       const struct route_rule *rule, unsigned m);
/* Drops the table and every service (at exit). */
void routing_release(struct proxy *px);
/* The table served now, with a reference the caller owns (the table, its
 * services and their sets live until routing_let_go), or NULL: none. */
struct route_snapshot *routing_hold(struct proxy *px);
/* Drops a reference of routing_hold (NULL is fine). */
void routing_let_go(struct route_snapshot *snap);
/* The service of backendRef b of rule (both of snap's table), or NULL when
 * it does not resolve. */
struct service *routing_backend_service(const struct route_snapshot *snap,
					const struct route_rule *rule,
					const struct route_backend *b);

/* What routing decided for a request. */
enum routing_verdict {
	ROUTING_FORWARD = 0,	/* on to the exchange's service (x->set, x->balancer) */
	ROUTING_NO_ROUTE,	/* no rule matches: 404 (the spec's) */
	ROUTING_UNRESOLVED,	/* the backendRef picked does not resolve: 500 (the spec's) */
	ROUTING_REDIRECT,	/* the rule's RequestRedirect: answer it */
	ROUTING_NO_HOST,	/* a redirect without a Host to build on: 400 */
	ROUTING_TOO_LONG,	/* a rewritten path or a Location that does not fit: 500 */
};

/* bytes of a rewritten target or a redirect's Location */
#define ROUTING_TARGET_MAX 8192

/* A redirect to answer (ROUTING_REDIRECT). */
struct routing_redirect {
	int status;				/* 301, 302, 303, 307 or 308 */
	char location[ROUTING_TARGET_MAX];	/* NUL-terminated */
};

/*
 * Routes the request of s (its head parsed, http_request_route done): with
 * no table, the proxy's own service. Else the rule that matches sets the
 * exchange's service, filters and rewrite (ROUTING_FORWARD), or says what
 * to answer (a redirect into *rd). Allocates nothing per request.
 */
enum routing_verdict routing_route(struct session *s, struct routing_redirect *rd);
/* A new exchange's routing fields: nothing held, no rewrite buffer yet. */
void routing_exchange_init(struct exchange *x);
/* Lets go of what the exchange held of a route table (its end). */
void routing_exchange_done(struct exchange *x);
/* Seconds an attempt waits for a response head: --per-try-timeout, or the
 * rule's timeouts.backendRequest; never past its timeouts.request counted
 * from the request's start. */
double routing_try_timeout(const struct session *s);
/* 1 when the rule's timeouts.request has passed: no retry starts. */
int routing_deadline_passed(const struct session *s);
/* The rule's RequestMirror filters: each draws its fraction and, drawn,
 * starts a copy of the request (mirror_begin; nothing for an Upgrade). */
void routing_mirror(struct session *s);
/* The URLRewrite and header modifier fields for a request head (request:
 * 1) or a response head (0) into ctx. */
void routing_headers_ctx(const struct session *s, int request, struct headers_ctx *ctx);

#endif
