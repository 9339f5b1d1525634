/* registry: what lb-discover knows of each backend (source, operator, health),
 * and the set it publishes from that. */
#ifndef LB_DISCOVER_REGISTRY_H
#define LB_DISCOVER_REGISTRY_H

#include <stddef.h>

#include "bus_protocol.h"

struct entry {
	char address[BUS_ADDRESS_MAX];
	int source_weight;		/* the weight the source gave */
	enum bus_state source_state;	/* the source's word: Kubernetes conditions */
	char source_reason[BUS_NAME_MAX];
	unsigned in_source : 1;		/* the source lists it now */
	unsigned added : 1;		/* operator: add */
	unsigned removed : 1;		/* operator: remove */
	unsigned drained : 1;		/* operator: drain */
	unsigned healthy : 1;		/* health checks: up (a new backend starts up) */
	unsigned checking : 1;		/* health checks: one is running */
	int weight_override;		/* operator: weight, 0 for none */
	double left_at;			/* wall clock when the source stopped listing it
					 * (0 while listed); its overrides expire a grace
					 * period later */
	int rise_count, fall_count;	/* consecutive check results */
	char health_reason[BUS_NAME_MAX];
	/* outlier ejection, fleet-wide (ejection.c); health checks leave it */
	unsigned ejected : 1;		/* published with an "ejection" */
	double eject_until;		/* wall clock: then half-open until a trial passes */
	unsigned ejections;		/* the fleet's ejections of it (the time multiplier) */
	double eject_ended;		/* wall clock when the last one ended */
	unsigned long long eject_generation;	/* the first set that carried it */
	char eject_reason[BUS_NAME_MAX];
	/* this replica's ejections of it, by what made them (metrics' reason
	 * label: bus_failure_label) */
	unsigned long long ejections_by[BUS_FAILURE_LABELS];
	double check_seconds;		/* how long the last health check took */
	/* the generation of the first set that carried this drain (published
	 * and draining); 0 while the set does not carry it draining. An undrain,
	 * a remove or leaving the set resets it, so a later drain is told from
	 * the one a drain --wait waits on (command_drain_state). */
	unsigned long long drain_since;
	unsigned long long checks;	/* health checks done, and how many failed */
	unsigned long long check_failures;
	/* what proxies reported of it and no longer report (a proxy gone, a
	 * counter that started again): the fleet's counters never go down */
	unsigned long long departed_requests, departed_errors, departed_5xx;
};

struct registry {
	char service[BUS_SERVICE_MAX];
	unsigned long long generation;	/* of the set last computed */
	unsigned long long floor;	/* the first generation published since the start or
					 * the last raise: a proxy below it runs a set of an
					 * earlier lb-discover */
	struct entry *entries;
	size_t n, cap;
	size_t *index;			/* open addressing by address: entry number + 1, 0 empty */
	size_t index_cap;		/* a power of two, at least 2 * cap */
	int changed;			/* the published set differs from the last one */
	struct bus_backend *last;	/* the view last committed, to detect changes */
	size_t last_n;
	/* a routed Service's protocol and algorithm, published in its sets
	 * ("": the proxies' own); a change is a new generation, as a set's */
	struct service_settings settings, last_settings;
};

void registry_init(struct registry *r, const char *service);
void registry_release(struct registry *r);
/* The entry for address, or NULL; constant time (a hash index). */
struct entry *registry_find(struct registry *r, const char *address);
/* The entry for address, created (healthy, nothing set) if new; NULL on ENOMEM. */
struct entry *registry_get(struct registry *r, const char *address);
/* Replaces what the source lists (addresses, weights, and states with
 * reasons when the source knows them). Only the first BUS_MAX_BACKENDS of
 * the list are taken (the caller warns). */
void registry_source_update(struct registry *r, const struct bus_backend *list, size_t n,
			    double now);
/* 1 when the operator set something on the entry (drain, remove, weight). */
int registry_overridden(const struct entry *e);
/* 1 when the entry's overrides wait for the source to list it again. */
int registry_waiting(const struct entry *e);
typedef void (*registry_expired_cb)(const struct entry *e, void *data);
/*
 * Forgets the entries the source stopped listing `grace` seconds ago (wall
 * clock `now`) and the operator did not add: their health state, and their
 * overrides, calling on_expired for an entry that had some. Entry pointers
 * are invalid afterwards. Returns how many had overrides (the caller saves
 * the state).
 */
size_t registry_expire(struct registry *r, double now, double grace, registry_expired_cb on_expired,
		       void *data);
/* 1 when the entry is in the published set. */
int registry_published(const struct entry *e);
/* How many entries the source lists now. */
size_t registry_in_source(const struct registry *r);
/* How many entries are published (before the BUS_MAX_BACKENDS cut). */
size_t registry_published_count(const struct registry *r);
/* The wall clock (seconds) ejections are timed by. */
double registry_clock(void);
/* The published set (addresses, weights, states, reasons) at the current
 * generation, at most BUS_MAX_BACKENDS of them (the first, in the order
 * they were first seen); the caller releases it with bus_set_release(). */
int registry_snapshot(const struct registry *r, struct bus_set *out);
/* Records that something may have changed: compares the published view
 * with the last one and, if it differs, bumps the generation. Returns 1
 * when it did. */
int registry_commit(struct registry *r);
struct buf;
/* registry_commit(), and when the set changed, the addresses that joined
 * and left the published set appended to `joined` and `left` ("a,b",
 * "a,+9 more" past `max` names, "-" for none), and what changed of those in
 * both to `changed` ("a:up>draining", "a:weight:1>5", "a:ejected",
 * "a:ejection-ended"). Returns as registry_commit. */
int registry_commit_diff(struct registry *r, struct buf *joined, struct buf *left,
			 struct buf *changed, size_t max);
/* Makes the next commit publish a generation above `seen` (a proxy holds a
 * set that new: the state file was lost), whatever changed. */
void registry_raise_above(struct registry *r, unsigned long long seen);

#endif
