/* proxies: lb-discover's view of the proxies, from their reports (PULL): what
 * each applied and whether it follows this lb-discover. */
#ifndef LB_DISCOVER_PROXIES_H
#define LB_DISCOVER_PROXIES_H

#include "discover.h"
#include "served.h"

/* seconds without a report after which drain --wait does not trust a
 * proxy's in-flight count */
#define PROXIES_REPORT_FRESH 5.0
/* seconds after a fresh start (no state file) after which lb-discover is
 * settled once every proxy it heard said "new": a proxy reports at once when
 * it applies a set, so one that holds a set of ours has reported by then */
#define PROXIES_FRESH_SETTLE 1.0

enum proxy_sync {
	PROXY_SYNCED = 0,	/* applied the current generation */
	PROXY_BEHIND,		/* applied an older set (catching up, or one from before
				 * lb-discover restarted) */
	PROXY_IGNORING,		/* refuses the sets: it holds a newer generation (lb-discover
				 * raises its own above it on hearing this) */
	PROXY_STALE,		/* says it hears no sets */
};

/* Starts collecting reports on d->pull (each through proxies_take). */
void proxies_start(struct discover *d);
/*
 * Takes one report message (its bytes as received): a malformed one, or one
 * of a service lb-discover does not serve, is logged and dropped. A report of
 * a routed Service goes to that service's proxies (served.h), the main
 * service's to d->proxies. A proxy not heard before joins
 * (the set is published again: every proxy's share of a fleet-wide limit
 * changed); a generation above ours raises ours above it; the proxy's
 * ejections and runs of failures go to ejection_report(). Keeps a copy.
 */
void proxies_take(struct discover *d, const char *data, size_t len);
/* Seconds without a report after which a proxy is taken for gone: every
 * live proxy has reported within that much of lb-discover's start. */
double proxies_window(const struct discover *d);
/* Forgets proxies not heard from for proxies_window() seconds, of every
 * service. */
void proxies_prune(struct discover *d);
/* 1 once lb-discover has run for proxies_window(): before, a proxy not yet
 * heard may exist, so "every proxy applied it" cannot be told. Sooner, after
 * PROXIES_FRESH_SETTLE, when it started fresh (d->fresh) and every proxy it
 * heard said "new" in its first report: none followed an earlier
 * lb-discover, and any that applied a set of this one has said so. */
int proxies_settled(const struct discover *d);
void proxies_release(struct discover *d);
/* Where p stands against this lb-discover's sets (of the main service; _in:
 * of the service whose registry is reg). */
enum proxy_sync proxies_sync(const struct discover *d, const struct proxy_report *p);
enum proxy_sync proxies_sync_in(const struct registry *reg, const struct proxy_report *p);
struct proxy_totals {
	unsigned active;
	unsigned long long requests, errors, responses_5xx;
	unsigned down;			/* proxies whose own view is down */
	unsigned skip[4];		/* of those, by why (enum bus_skip; [0]: not said) */
};
/* Sums what every proxy reports into totals[i] for the registry's entry i
 * (d->reg.n of them, zeroed by the caller); with `departed`, the counters
 * also hold what proxies reported and no longer do (a proxy gone or
 * restarted), so they never go down (Prometheus counters). */
void proxies_totals(struct discover *d, struct proxy_totals *totals, int departed);
/* The same for any service (sv->reg's entries, sv's proxies). */
void proxies_totals_of(const struct served *sv, struct proxy_totals *totals, int departed);
/*
 * Requests in flight to `address` summed over this lb-discover's proxies,
 * or -1 while one may not have applied generation `gen` of it (or has not
 * reported within PROXIES_REPORT_FRESH, or lb-discover has not yet heard
 * every proxy: proxies_settled). *proxies is how many proxies reported.
 */
long proxies_in_flight(const struct discover *d, const char *address, unsigned long long gen,
		       int *proxies);
/* The same for any service: over sv's proxies, against sv's generations; a
 * routed one is also -1 while a proxy that serves the routes published has
 * not reported the service yet. */
long proxies_in_flight_of(const struct discover *d, const struct served *sv, const char *address,
			  unsigned long long gen, int *proxies);

#endif
