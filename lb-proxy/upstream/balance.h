/* balance: the seam every balancing algorithm sits behind (HAProxy's lbprm
 * ops, h2o's balancer callbacks): built from a set when the set is applied,
 * asked to pick per request, told how each attempt ended. One
 * balance_NAME.c per algorithm exports its `balance_NAME_ops`;
 * balance_table.c names them all. */
#ifndef LB_PROXY_BALANCE_H
#define LB_PROXY_BALANCE_H

#include <stddef.h>
#include <stdint.h>

#include "backend.h"
#include "panic.h"

/* Backends one request may have tried already (retries). */
#define BALANCE_MAX_TRIED 8

/* Which backends a pick may return, tried in this order by balance_pick(). */
enum balance_tier {
	BALANCE_TIER_UP = 0,	/* up, not marked failed, not tried by this request (in
				 * panic: up and not tried, ejected or marked or not) */
	BALANCE_TIER_DRAINING,	/* no such backend: draining ones (serving but terminating) */
	BALANCE_TIER_TRIED,	/* none either: up ones this request tried already */
};

/* What a pick may look at. */
struct balance_request {
	uint64_t hash;			/* balance_hash() of the request's key, when has_key */
	unsigned has_key : 1;
	const struct backend *tried[BALANCE_MAX_TRIED];
	unsigned ntried;
	double now;			/* ev_now */
	enum balance_tier tier;		/* set by balance_pick() */
	int panic;			/* set by balance_pick(): the set is in panic */
};

struct balance_ops {
	const char *name;		/* "round-robin", as --balance spells it */
	int uses_key;			/* picks by the request's key (--hash-key) */
	/*
	 * Builds the algorithm's state for `set`: called when a set is applied,
	 * never per request. The set's order is arrival order: an algorithm
	 * whose result must agree across proxies sorts by backend name.
	 * `old` is the previous state of this algorithm (or NULL), given back
	 * to release() by the caller after build returns. Returns the state
	 * (non-NULL, even for an empty set), or NULL when out of memory (the
	 * caller keeps the old).
	 */
	void *(*build)(const struct backend_set *set, void *old);
	void (*release)(void *state);
	/*
	 * Picks a backend of `set` (the one build() saw) for which
	 * balance_eligible(b, r) is 1, or NULL when there is none. Hashing
	 * algorithms use r->hash when r->has_key and fall back to weighted
	 * random otherwise. Must not allocate.
	 */
	struct backend *(*pick)(void *state, const struct backend_set *set,
				const struct balance_request *r);
	/* Optional: an attempt on b ended (`failed`: connect or exchange
	 * failure), `seconds` after it began. */
	void (*outcome)(void *state, struct backend *b, int failed, double seconds);
};

/* build() and release() for an algorithm with no state of its own (what it
 * keeps lives in the backends): a static non-NULL pointer, nothing freed. */
void *balance_stateless_build(const struct backend_set *set, void *old);
void balance_stateless_release(void *state);

/* One algorithm over the current set, and the set's panic decision. */
struct balancer {
	const struct balance_ops *ops;
	void *state;
	struct panic panic;		/* cached: see balancer_panic() */
};

/* Builds state for `set` with `ops` (keeping the old state if out of
 * memory); returns 0 or -1. */
int balancer_rebuild(struct balancer *bl, const struct balance_ops *ops,
		     const struct backend_set *set);
void balancer_release(struct balancer *bl);
/*
 * Picks for request r, tier by tier (enum balance_tier): the first tier
 * with an eligible backend wins. Sets r->panic (balancer_panic()) and
 * r->tier. NULL when no backend of any tier is eligible. Allocates nothing;
 * the panic decision costs three comparisons unless something changed.
 */
struct backend *balance_pick(struct balancer *bl, const struct backend_set *set,
			     struct balance_request *r);

/* 1 when `set` (the one bl was built over) is in panic at `now`
 * (panic_check() on the balancer's cache). */
int balancer_panic(struct balancer *bl, const struct backend_set *set, double now);
/* 1 when b may get a new request at `now` outside of the tried list, with
 * `panic` the set's balancer_panic(): usable, or up while in panic. */
static inline int balance_takes(const struct backend *b, int panic, double now)
{
	return backend_usable(b, now) || (panic && b->state == BACKEND_UP);
}

/* Tells the algorithm how an attempt on b ended (balance_ops.outcome). */
void balancer_outcome(struct balancer *bl, struct backend *b, int failed, double seconds);

/* 1 when b may be returned for r in r->tier. */
int balance_eligible(const struct backend *b, const struct balance_request *r);
/* b's weight now: its configured weight (at least 1), ramped up linearly
 * over the slow-start period after it joined or came back up (up_since),
 * from weight/period (one second's worth, so never 0) to the full weight. */
double balance_weight(const struct backend *b, double now);
/* Sets the slow-start period in seconds (0: off). */
void balance_set_slow_start(double seconds);
/* Sets the requests in flight a backend may have to be eligible
 * (--max-per-backend, HAProxy's maxconn; 0: no cap). */
void balance_set_max_active(unsigned n);
/* A 64-bit hash of a key (good avalanche; the same on every proxy). */
uint64_t balance_hash(const void *key, size_t len);
/* A uniform double in [0, 1) from the process's generator (xorshift,
 * seeded once from getrandom). */
double balance_random(void);

#endif
