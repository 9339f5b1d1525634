/* backend: the servers a proxy balances across, and the sets that replace each other. */
#ifndef LB_PROXY_BACKEND_H
#define LB_PROXY_BACKEND_H

#include <ev.h>
#include <sys/queue.h>

#include "bus_protocol.h"
#include "histogram.h"
#include "net.h"
#include "outlier_state.h"

enum backend_state {
	BACKEND_UP = 0,		/* gets new requests */
	BACKEND_DRAINING,	/* no new requests; in-flight ones finish */
	BACKEND_DOWN,		/* no new requests */
};

struct upstream;
struct h2_uconn;

/* Why an attempt on a backend failed (its errors, by reason). */
enum backend_failure {
	BACKEND_FAILURE_CONNECT = 0,	/* "connect": refused, unreachable, TLS */
	BACKEND_FAILURE_TIMEOUT,	/* "timeout": a connect or the response head timed out */
	BACKEND_FAILURE_RESET,		/* "reset": the connection failed mid-exchange */
	BACKEND_FAILURE_STATUS,		/* "status": a --retry-on status dropped for a retry */
};
#define BACKEND_FAILURES 4

/* One server. Shared by every set that names its address and by the
 * requests using it (refs); freed when the last one lets go. */
struct backend {
	char name[64];			/* "127.0.0.1:8081" */
	char service[BUS_SERVICE_MAX];	/* a routed service's name ("ns/name:port"), or "" */
	struct net_addr addr;
	int weight;
	enum backend_state state;
	int current_weight;		/* smooth weighted round-robin state */
	double fail_until;		/* a connect failed: skipped until then (ev_now) */
	enum backend_failure fail_why;	/* how it failed: CONNECT or TIMEOUT */
	double up_since;		/* ev_now when it joined the set or came back up; 0: at full weight */
	unsigned refs;
	unsigned removed : 1;		/* not in the current set any more */
	LIST_HEAD(, upstream) idle;	/* pooled keep-alive connections */
	unsigned nidle;
	LIST_HEAD(, h2_uconn) h2_conns;	/* --backend-protocol h2c|h2: its connections (h2_pool.c) */
	unsigned active;		/* requests in flight */
	unsigned connections;		/* open upstream connections */
	unsigned long long requests;	/* forwarded */
	unsigned long long errors;	/* connect or exchange failures */
	unsigned long long failures[BACKEND_FAILURES];	/* the errors by reason */
	unsigned long long responses[6];/* by status class: [1] 1xx ... [5] 5xx, the proxy's
					 * own answers for it included (a 504) */
	unsigned long long answered_5xx;	/* 5xx answers the backend itself gave */
	unsigned long long bytes_in, bytes_out;	/* --mode tcp: relayed to it, and from it */
	char sticky_id[17];		/* its sticky cookie value, once computed (sticky.c) */
	struct histogram latency;	/* of the requests it answered */
	struct outlier outlier;		/* the circuit breaker (outlier.c) */
	void *tls_session;		/* --backend-tls: the last session, to resume (upstream.c) */
	struct backend *all_next;	/* in the list of live backend objects */
};

struct backend_set {
	unsigned long long generation;
	size_t n;
	struct backend **items;
};

/* Parses "HOST:PORT[@WEIGHT],..." ("[::1]:8080@3" for IPv6) into a new set
 * (names resolved now: start-up only). Returns 0 or -1 with err filled. */
int backend_set_parse(const char *spec, struct backend_set *set, char *err, size_t errsz);
/* Makes `next` current: backends of the old set whose address is in `next`
 * are reused (keeping counters and pooled connections); the others are
 * marked removed, their idle connections closed. A backend that joins, or
 * comes back up, starts its slow start at `now` (0 for a proxy's first set:
 * no ramp) and forgets a connect failure (lb-discover saw it healthy).
 * Takes ownership of next. */
void backend_set_apply(struct backend_set *current, struct backend_set *next, double now);
void backend_set_release(struct backend_set *set);

struct backend *backend_new(const char *name, const struct net_addr *addr, int weight);
void backend_ref(struct backend *b);
void backend_unref(struct backend *b);
/* All backend objects alive, current or still in use (for metrics). */
struct backend *backend_all(void);
/*
 * A count of the changes to what makes backends available, process-wide:
 * a set applied (backend_set_apply), a connect failure marked
 * (backend_mark_failed), a breaker opened or closed (outlier.c calls
 * backend_changed). A decision cached over a set (panic.c) stays good while
 * the count does, until the earliest time-based change (an ejection's
 * `until`, a `fail_until`), which the cache keeps itself.
 */
unsigned long long backend_changes(void);
void backend_changed(void);
/* A connect to b failed (`why`: CONNECT or TIMEOUT, counted in b->failures):
 * it is skipped until `until` (--fail-timeout). */
void backend_mark_failed(struct backend *b, double until, enum backend_failure why);
/* "connect", "timeout", "reset", "status" (metrics' reason label). */
const char *backend_failure_name(enum backend_failure f);
const char *backend_state_name(enum backend_state s);
/* 1 when b may get new requests at `now`: up, not marked failed, and its
 * breaker lets one through (not ejected, or half-open with no trial in
 * flight). */
static inline int backend_usable(const struct backend *b, double now)
{
	return b->state == BACKEND_UP && b->fail_until <= now &&
	       outlier_admits(&b->outlier, b->active, now);
}

/* Closes the pooled connections of b (set by upstream.c). */
extern void (*backend_close_idle)(struct backend *b);

#endif
