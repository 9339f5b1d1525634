/* panic: Envoy's panic threshold: when fewer than a threshold's share of a
 * set's backends are available, the pick balances across all of them,
 * ejected or not, rather than pile the traffic on the few left (or answer
 * 503 when none is). */
#ifndef LB_PROXY_PANIC_H
#define LB_PROXY_PANIC_H

#include "backend.h"

/* --panic-threshold's default, percent (Envoy's healthy_panic_threshold) */
#define PANIC_THRESHOLD_DEFAULT 50
/* its bound: at 100 one unavailable backend is enough */
#define PANIC_THRESHOLD_MAX 100

/*
 * One set's panic decision, cached (inside struct balancer). Zeroed: not
 * computed yet. The population is the set's `up` backends (lb-discover's
 * or --backends' word: an operator's drain and a failing health check are
 * stronger signals than this proxy's, and stay out); available are those
 * of them not ejected (a half-open breaker is available: it takes a trial)
 * and not skipped after a failed connect (--fail-timeout).
 */
struct panic {
	int active;			/* balancing across every up backend */
	unsigned available;		/* at the last computation */
	unsigned of;			/* the population: up backends */
	unsigned threshold;		/* percent it was computed with (0: off) */
	unsigned long long entered_total;	/* times it entered panic */
	unsigned long long computed;	/* times it was computed (a test's probe) */
	unsigned long long changes;	/* backend_changes() when computed */
	double next_check;		/* ev_now of the earliest time-based change
					 * (an ejection's until, a fail_until) */
};

/* Sets the threshold, percent of the population (0: never in panic; at
 * most PANIC_THRESHOLD_MAX). Off until called: lb-proxy sets
 * --panic-threshold at start-up and on reload. */
void panic_set_threshold(unsigned percent);
unsigned panic_threshold(void);

/* 1 when b counts as available at `now` (see struct panic). */
int panic_available(const struct backend *b, double now);

/*
 * 1 when `set` is in panic at `now`: available x 100 < threshold x
 * population, with a population of at least one. The decision cached in p
 * is returned as it is unless backends changed since (backend_changes()),
 * the threshold did, or p->next_check is reached; then it is computed
 * again over the set (O(n)) and a change is logged, entering at WARN,
 * leaving at INFO, once each. Allocates nothing.
 */
int panic_check(struct panic *p, const struct backend_set *set, double now);

#endif
