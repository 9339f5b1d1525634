/* Unit tests for lb-discover/core/proxies.c (and the fleet's proxy count,
 * core/discover.c): the proxies' reports heard (a proxy joins, a report
 * replaces its last one, a malformed or foreign one is dropped, a newer
 * generation is caught up with), where each stands against our sets, who
 * is forgotten, and what drain --wait counts in flight. Table driven. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/status.h"
#include "buf.h"
#include "core/proxies.h"
#include "discover_fixture.h"
#include "log.h"

/* Encodes rep (released) and hands it to proxies_take as the bus would. */
static void take(struct discover_fixture *f, struct bus_set *rep)
{
	struct buf msg = BUF_INIT;

	assert_int_equal(bus_set_encode(rep, &msg), 0);
	proxies_take(&f->d, msg.data, msg.len);
	buf_release(&msg);
	bus_set_release(rep);
}

static void take_report(struct discover_fixture *f, int pid, unsigned long long generation)
{
	struct bus_set rep;

	discover_fixture_report(&rep, pid, generation);
	take(f, &rep);
}

static void test_join_replace_drop(void **state)
{
	struct discover_fixture f;
	struct bus_set rep;
	static const char junk[] = "{\"v\":5,\"type\":\"report\",\"pid\":";

	(void)state;
	assert_int_equal(discover_fixture_init(&f), 0);
	discover_fixture_cluster(&f);
	take_report(&f, 100, 1);
	assert_int_equal(f.d.nproxies, 1);
	assert_int_equal(f.changed, 2);		/* the join's publication, and the report */
	/* the same proxy again: its report replaces the last one */
	discover_fixture_report(&rep, 100, 1);
	rep.backends[0].active = 7;
	take(&f, &rep);
	assert_int_equal(f.d.nproxies, 1);
	assert_int_equal(f.d.proxies[0].report.backends[0].active, 7);
	assert_int_equal(f.changed, 3);
	take_report(&f, 200, 1);
	assert_int_equal(f.d.nproxies, 2);
	assert_int_equal(f.d.proxies[1].report.pid, 200);
	assert_int_equal(f.changed, 5);
	/* dropped: malformed, another service's, a set instead of a report */
	proxies_take(&f.d, junk, sizeof(junk) - 1);
	discover_fixture_report(&rep, 300, 1);
	snprintf(rep.service, sizeof(rep.service), "other");
	take(&f, &rep);
	discover_fixture_report(&rep, 300, 1);
	snprintf(rep.type, sizeof(rep.type), "set");
	take(&f, &rep);
	assert_int_equal(f.d.nproxies, 2);
	assert_int_equal(f.changed, 5);
	/* nothing of it changed the set */
	assert_int_equal(f.d.reg.generation, 1);
	discover_fixture_release(&f);
}

/* "panic" (bus protocol 6): kept per proxy from its last report, and shown
 * in the status (lb-ctl status, /admin/proxies). */
static void test_panic_kept_and_shown(void **state)
{
	static const int reported[] = { 1, 1, 0 };
	struct discover_fixture f;

	(void)state;
	assert_int_equal(discover_fixture_init(&f), 0);
	for (size_t i = 0; i < sizeof(reported) / sizeof(reported[0]); i++) {
		struct bus_set rep;
		json_t *list;

		discover_fixture_report(&rep, 100, 1);
		rep.panic = reported[i];
		take(&f, &rep);
		assert_int_equal(f.d.nproxies, 1);
		assert_int_equal(f.d.proxies[0].report.panic, reported[i]);
		list = status_proxies(&f.d, 0);
		assert_non_null(list);
		assert_int_equal(json_is_true(json_object_get(json_array_get(list, 0), "panic")),
				 reported[i]);
		json_decref(list);
	}
	discover_fixture_release(&f);
}

/* A proxy holds a newer generation (our state file was lost): we publish
 * above it, and its report no longer counts as following us. */
static void test_catch_up(void **state)
{
	struct discover_fixture f;

	(void)state;
	assert_int_equal(discover_fixture_init(&f), 0);
	take_report(&f, 100, 41);
	assert_int_equal(f.d.reg.generation, 42);
	assert_int_equal(f.d.reg.floor, 42);
	assert_int_equal(proxies_sync(&f.d, &f.d.proxies[0]), PROXY_BEHIND);
	/* an older one changes nothing */
	take_report(&f, 200, 3);
	assert_int_equal(f.d.reg.generation, 42);
	discover_fixture_release(&f);
}

static void test_sync(void **state)
{
	static const struct {
		unsigned long long generation, ignored;
		int stale;
		enum proxy_sync sync;
	} cases[] = {
		{ 10, 0, 0, PROXY_SYNCED },
		{ 9, 0, 0, PROXY_BEHIND },
		{ 2, 0, 0, PROXY_BEHIND },	/* below the floor: an earlier lb-discover's */
		{ 11, 0, 0, PROXY_IGNORING },	/* holds a newer one */
		{ 10, 8, 0, PROXY_IGNORING },	/* refused one of ours */
		{ 10, 7, 0, PROXY_SYNCED },	/* refused an earlier lb-discover's */
		{ 10, 0, 1, PROXY_STALE },
		{ 11, 0, 1, PROXY_STALE },
	};
	struct discover_fixture f;

	(void)state;
	assert_int_equal(discover_fixture_init(&f), 0);
	f.d.reg.generation = 10;
	f.d.reg.floor = 8;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct proxy_report p;

		memset(&p, 0, sizeof(p));
		p.report.generation = cases[i].generation;
		p.report.ignored = cases[i].ignored;
		p.report.stale = cases[i].stale;
		if (proxies_sync(&f.d, &p) != cases[i].sync)
			fail_msg("case %zu: %d, expected %d", i, proxies_sync(&f.d, &p),
				 cases[i].sync);
	}
	discover_fixture_release(&f);
}

/* A proxy not heard for proxies_window() is forgotten; before lb-discover
 * has run that long, one not heard yet may exist. */
static void test_prune_and_settled(void **state)
{
	struct discover_fixture f;
	double now;

	(void)state;
	assert_int_equal(discover_fixture_init(&f), 0);
	assert_true(proxies_window(&f.d) == 7.0);	/* 5 heartbeats + 2 s */
	take_report(&f, 100, 1);
	take_report(&f, 200, 1);
	take_report(&f, 300, 1);
	now = ev_now(f.d.loop);
	f.d.proxies[0].seen = now - 7.5;
	f.d.proxies[2].seen = now - 6.5;
	proxies_prune(&f.d);
	assert_int_equal(f.d.nproxies, 2);
	assert_true(f.d.proxies[0].report.pid != 100 && f.d.proxies[1].report.pid != 100);
	assert_true(proxies_settled(&f.d));
	f.d.started = now - 6.9;
	assert_false(proxies_settled(&f.d));
	discover_fixture_release(&f);
}

/* What drain --wait counts: requests in flight over our proxies, -1 while
 * one may not have applied the generation asked about. */
static void test_in_flight(void **state)
{
	static const struct {
		const char *what;
		int proxies;			/* reporting (pids 100, 200) */
		unsigned active[2];		/* FIXTURE_A's, by each */
		unsigned long long generation[2];	/* each report's */
		int stale_report;		/* the second report is older than PROXIES_REPORT_FRESH */
		int unsettled;			/* lb-discover has just started */
		unsigned long long asked;	/* the drain's generation */
		long in_flight;
	} cases[] = {
		{ "no proxy", 0, { 0, 0 }, { 0, 0 }, 0, 0, 1, 0 },
		{ "summed", 2, { 3, 2 }, { 1, 1 }, 0, 0, 1, 5 },
		{ "drained", 2, { 0, 0 }, { 1, 1 }, 0, 0, 1, 0 },
		{ "not settled", 2, { 0, 0 }, { 1, 1 }, 0, 1, 1, -1 },
		{ "one behind the drain", 2, { 0, 0 }, { 1, 1 }, 0, 0, 2, -1 },
		{ "one heard too long ago", 2, { 0, 0 }, { 1, 1 }, 1, 0, 1, -1 },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct discover_fixture f;
		int proxies = -1;
		long n;

		assert_int_equal(discover_fixture_init(&f), 0);
		f.d.reg.generation = 2;		/* so that a drain at 2 may be asked about */
		for (int p = 0; p < cases[i].proxies; p++) {
			struct bus_set rep;

			discover_fixture_report(&rep, 100 * (p + 1), cases[i].generation[p]);
			rep.backends[0].active = cases[i].active[p];
			rep.backends[1].active = 50;	/* another backend's: not counted */
			take(&f, &rep);
		}
		if (cases[i].stale_report)
			f.d.proxies[1].seen -= PROXIES_REPORT_FRESH + 1;
		if (cases[i].unsettled)
			f.d.started = ev_now(f.d.loop);
		n = proxies_in_flight(&f.d, FIXTURE_A, cases[i].asked, &proxies);
		if (n != cases[i].in_flight || proxies != cases[i].proxies)
			fail_msg("%s: %ld over %d proxies, expected %ld over %d", cases[i].what, n,
				 proxies, cases[i].in_flight, cases[i].proxies);
		discover_fixture_release(&f);
	}
}

static void test_totals(void **state)
{
	struct discover_fixture f;
	struct proxy_totals totals[2];
	struct bus_set rep;

	(void)state;
	assert_int_equal(discover_fixture_init(&f), 0);
	for (int p = 0; p < 2; p++) {
		discover_fixture_report(&rep, 100 + p, 1);
		rep.backends[0].active = 2;
		rep.backends[0].requests = 10;
		rep.backends[0].errors = 1;
		rep.backends[0].responses_5xx = 3;
		rep.backends[1].state = p ? BUS_STATE_DOWN : BUS_STATE_UP;
		take(&f, &rep);
	}
	memset(totals, 0, sizeof(totals));
	proxies_totals(&f.d, totals, 0);
	assert_int_equal(totals[0].active, 4);
	assert_int_equal(totals[0].requests, 20);
	assert_int_equal(totals[0].errors, 2);
	assert_int_equal(totals[0].responses_5xx, 6);
	assert_int_equal(totals[0].down, 0);
	assert_int_equal(totals[1].down, 1);
	discover_fixture_release(&f);
}

/* The "proxies" of every set: ours and the other replicas', at least 1. */
static void test_fleet_proxies(void **state)
{
	struct discover_fixture f;

	(void)state;
	assert_int_equal(discover_fixture_init(&f), 0);
	assert_int_equal(discover_fleet_proxies(&f.d), 1);
	take_report(&f, 100, 1);
	take_report(&f, 200, 1);
	assert_int_equal(discover_fleet_proxies(&f.d), 2);
	discover_fixture_cluster(&f);
	f.other_proxies = 3;
	assert_int_equal(discover_fleet_proxies(&f.d), 5);
	f.other_proxies = BUS_MAX_PROXIES;
	assert_int_equal(discover_fleet_proxies(&f.d), BUS_MAX_PROXIES);
	discover_fixture_release(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_join_replace_drop),
		cmocka_unit_test(test_catch_up),
		cmocka_unit_test(test_panic_kept_and_shown),
		cmocka_unit_test(test_sync),
		cmocka_unit_test(test_prune_and_settled),
		cmocka_unit_test(test_in_flight),
		cmocka_unit_test(test_totals),
		cmocka_unit_test(test_fleet_proxies),
	};

	log_setup("test", LOG_ERROR, LOG_FORMAT_TEXT);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
