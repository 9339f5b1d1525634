/* proxies: lb-discover's view of the proxies, from their reports (PULL): what
 * each applied and whether it follows this lb-discover. */
#ifndef LB_DISCOVER_PROXIES_H
#define LB_DISCOVER_PROXIES_H

#include <jansson.h>

#include "discover.h"

enum proxy_sync {
	PROXY_SYNCED = 0,	/* applied the current generation */
	PROXY_BEHIND,		/* applied an older set (catching up, or one from before
				 * lb-discover restarted) */
	PROXY_IGNORING,		/* refuses the sets: it holds a newer generation (lb-discover
				 * raises its own above it on hearing this) */
	PROXY_STALE,		/* says it hears no sets */
};

/* Starts collecting reports on d->pull. */
void proxies_start(struct discover *d);
/* Seconds without a report after which a proxy is taken for gone: every
 * live proxy has reported within that much of lb-discover's start. */
double proxies_window(const struct discover *d);
/* Forgets proxies not heard from for proxies_window() seconds. */
void proxies_prune(struct discover *d);
/* 1 once lb-discover has run for proxies_window(): before, a proxy not yet
 * heard may exist, so "every proxy applied it" cannot be told. */
int proxies_settled(const struct discover *d);
void proxies_release(struct discover *d);
/* The proxies of this service heard within proxies_window(), and in
 * --kubernetes mode those of every other live replica (the "proxies" of
 * every set: each enforces its share of a fleet-wide rate limit); at least 1. */
unsigned proxies_live(const struct discover *d);
enum proxy_sync proxies_sync(const struct discover *d, const struct proxy_report *p);
struct proxy_totals {
	unsigned active;
	unsigned long long requests, errors, responses_5xx;
	unsigned down;			/* proxies whose own view is down (a failed connect) */
};
/* Sums what every proxy reports into totals[i] for the registry's entry i
 * (d->reg.n of them, zeroed by the caller). */
void proxies_totals(struct discover *d, struct proxy_totals *totals);
/* The proxies as lb-ctl shows them (a new JSON array); with busy_only, each
 * proxy's per-backend list holds only backends with requests in flight. */
json_t *proxies_json(const struct discover *d, int busy_only);

#endif
