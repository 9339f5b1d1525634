/* discover_fixture: what lb-discover's unit tests (and fuzz_shared_state)
 * start from: a registry whose source lists two backends, and a process
 * state (struct discover) over it. */
#ifndef LB_TESTS_DISCOVER_FIXTURE_H
#define LB_TESTS_DISCOVER_FIXTURE_H

#include "core/discover.h"
#include "core/registry.h"

/* The two backends the fixture's source lists (weight 1 each). */
#define FIXTURE_A "10.0.0.1:80"
#define FIXTURE_B "10.0.0.2:80"

/* r: a registry of `service` whose source lists FIXTURE_A and FIXTURE_B
 * (at wall clock 1000), nothing committed yet. Released with
 * registry_release(). */
void discover_fixture_registry(struct registry *r, const char *service);

/* operations a fixture's fake cluster keeps, at most */
#define FIXTURE_OPS_MAX 16

/* A struct discover as main.c leaves it, without sockets or sources. */
struct discover_fixture {
	struct discover d;		/* first: the fake cluster finds the fixture by it */
	struct discover_options opts;	/* lb-discover's defaults, as the flags' */
	char dir[64];			/* a temporary runtime dir: the state file's */
	/* the fake cluster (discover_fixture_cluster) */
	struct fleet_op ops[FIXTURE_OPS_MAX];	/* the operations recorded */
	size_t nops;
	unsigned changed;		/* "what this replica reports changed" calls */
	unsigned other_proxies;		/* the other replicas' proxies it answers */
};
/*
 * Sets f up: service "backend" over discover_fixture_registry() with its
 * set committed (generation 1), a loop of its own, the bus closed (sends
 * fail quietly), the state file in a temporary dir, no cluster, started
 * long enough ago for the proxies to be settled. Returns 0 or -1.
 */
int discover_fixture_init(struct discover_fixture *f);
/* Points f->d.cluster at a fake cluster that keeps what core tells it in
 * f->ops, f->changed and answers f->other_proxies. */
void discover_fixture_cluster(struct discover_fixture *f);
/* Frees everything of f (the proxies' reports too) and its dir. */
void discover_fixture_release(struct discover_fixture *f);
/* A report of proxy `pid` at `generation` listing FIXTURE_A and FIXTURE_B
 * up (their other fields zero); the caller changes what it tests and
 * releases it with bus_set_release(). */
void discover_fixture_report(struct bus_set *rep, int pid, unsigned long long generation);

#endif
