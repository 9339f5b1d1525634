/* Unit tests for lb-discover/core/ejection.c: outlier ejection fleet-wide
 * from the proxies' reports, table driven: who counts (a proxy's own
 * ejection, the fleet's runs of failures summed), the limits
 * (--eject-5xx, --eject-gateway, --eject-max-percent), how long (times the
 * count, capped) and how it ends (a trial passed at a generation that
 * carried it, uneject). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "buf.h"
#include "core/ejection.h"
#include "core/proxies.h"
#include "discover_fixture.h"
#include "log.h"

/* What one proxy reports of one backend. */
struct said {
	int pid;			/* the proxy; 0 ends the list */
	int backend;			/* 0: FIXTURE_A, 1: FIXTURE_B */
	int ejected;			/* the proxy ejected it itself */
	unsigned ejections;		/* its count of them */
	unsigned runs_5xx, runs_gateway;
	unsigned kinds;			/* enum bus_failure bits of both runs (0: not said) */
};

static const struct ejection_case {
	const char *what;
	long eject_5xx, eject_gateway, max_percent;	/* -1: the fixture's (5, 3, 50) */
	struct said said[4];
	int ejected[2];			/* A's and B's afterwards */
	const char *reason;		/* A's (or B's, when A is not) */
	unsigned ejections;		/* its count */
	double seconds;			/* its time */
} cases[] = {
	{ "a proxy's own ejection", -1, -1, -1, { { 100, 0, 1, 1, 0, 0, 0 } }, { 1, 0 },
	  "outlier: reported", 1, 30 },
	{ "its count multiplies the time", -1, -1, -1, { { 100, 0, 1, 4, 0, 0, 0 } }, { 1, 0 },
	  "outlier: reported", 4, 120 },
	{ "capped at --eject-time-max", -1, -1, -1, { { 100, 0, 1, 20, 0, 0, 0 } }, { 1, 0 },
	  "outlier: reported", 20, 300 },
	{ "50% of two: one at a time", -1, -1, -1,
	  { { 100, 0, 1, 1, 0, 0, 0 }, { 100, 1, 1, 1, 0, 0, 0 } }, { 1, 0 }, "outlier: reported", 1,
	  30 },
	{ "100%: both", -1, -1, 100, { { 100, 0, 1, 1, 0, 0, 0 }, { 200, 1, 1, 1, 0, 0, 0 } }, { 1, 1 },
	  "outlier: reported", 1, 30 },
	{ "0%: none", -1, -1, 0, { { 100, 0, 1, 1, 0, 0, 0 } }, { 0, 0 }, NULL, 0, 0 },
	{ "runs of 5xx summed over proxies", -1, -1, -1,
	  { { 100, 0, 0, 0, 3, 0, 0 }, { 200, 0, 0, 0, 2, 0, 0 } }, { 1, 0 },
	  "outlier: 5 consecutive 5xx over 2 proxies", 1, 30 },
	{ "runs under the limit", -1, -1, -1, { { 100, 0, 0, 0, 2, 0, 0 }, { 200, 0, 0, 0, 2, 0, 0 } },
	  { 0, 0 }, NULL, 0, 0 },
	{ "one proxy's gateway failures", -1, -1, -1, { { 100, 1, 0, 0, 0, 3, 0 } }, { 0, 1 },
	  "outlier: 3 consecutive gateway failures on proxy 100", 1, 30 },
	{ "gateway failures say why first", -1, -1, -1, { { 100, 0, 0, 0, 9, 3, 0 } }, { 1, 0 },
	  "outlier: 3 consecutive gateway failures on proxy 100", 1, 30 },
	{ "--eject-5xx 0: off", 0, -1, -1, { { 100, 0, 0, 0, 50, 0, 0 } }, { 0, 0 }, NULL, 0, 0 },
	{ "--eject-gateway 0: off", -1, 0, -1, { { 100, 0, 0, 0, 0, 50, 0 } }, { 0, 0 }, NULL, 0,
	  0 },
	{ "--eject-gateway 0, 5xx still count", -1, 0, -1, { { 100, 0, 0, 0, 5, 50, 0 } }, { 1, 0 },
	  "outlier: 5 consecutive 5xx on proxy 100", 1, 30 },
	/* the reason names what the proxies saw (issue 27) */
	{ "timeouts are named", -1, -1, -1, { { 100, 0, 0, 0, 3, 3, BUS_FAILURE_TIMEOUT } },
	  { 1, 0 }, "outlier: 3 consecutive timeouts on proxy 100", 1, 30 },
	{ "kinds over proxies joined", -1, -1, -1,
	  { { 100, 0, 0, 0, 2, 2, BUS_FAILURE_RESET }, { 200, 0, 0, 0, 1, 1, BUS_FAILURE_TIMEOUT } },
	  { 1, 0 }, "outlier: 3 consecutive resets+timeouts over 2 proxies", 1, 30 },
	{ "5xx with a reset", -1, -1, -1,
	  { { 100, 0, 0, 0, 5, 1, BUS_FAILURE_5XX | BUS_FAILURE_RESET } }, { 1, 0 },
	  "outlier: 5 consecutive 5xx+resets on proxy 100", 1, 30 },
};

/* Hands the proxy's report (what it says of one backend, the other clean)
 * to proxies_take, which passes it to ejection_report. */
static void report(struct discover_fixture *f, const struct said *s)
{
	struct bus_set rep;
	struct bus_backend *b;
	struct buf msg = BUF_INIT;

	discover_fixture_report(&rep, s->pid, f->d.reg.generation);
	b = &rep.backends[s->backend];
	b->consecutive_5xx = s->runs_5xx;
	b->consecutive_gateway = s->runs_gateway;
	b->failures_5xx = s->kinds;
	b->failures_gateway = s->kinds & ~(unsigned)BUS_FAILURE_5XX;
	if (s->ejected) {
		b->ejected = 1;
		b->ejections = s->ejections;
		b->eject_left = 30;
		b->breaker = BUS_BREAKER_OPEN;
		snprintf(b->eject_reason, sizeof(b->eject_reason), "outlier: reported");
	}
	assert_int_equal(bus_set_encode(&rep, &msg), 0);
	proxies_take(&f->d, msg.data, msg.len);
	buf_release(&msg);
	bus_set_release(&rep);
}

/* ejection_report for the main service. */
static void main_report(struct discover *d, const struct bus_set *rep)
{
	struct served sv;

	served_main(d, &sv);
	ejection_report(d, &sv, rep);
}

/* A routed Service's reports go to its own registry and proxies: a proxy's
 * ejection of a routed backend ejects it there, not in the main service
 * (which lists the same address), and shares the operation under the
 * Service's name; a report of a service not served is dropped. */
static void test_routed_service_ejection(void **state)
{
	struct discover_fixture f;
	struct routed_service *rs;
	struct bus_set rep;
	struct buf msg = BUF_INIT;
	struct bus_backend list[2];
	struct entry *e;
	(void)state;

	assert_int_equal(discover_fixture_init(&f), 0);
	discover_fixture_cluster(&f);
	rs = routed_get(&f.d.routed, "default/api:80");
	assert_non_null(rs);
	memset(list, 0, sizeof(list));
	snprintf(list[0].address, sizeof(list[0].address), "%s", FIXTURE_A);
	snprintf(list[1].address, sizeof(list[1].address), "%s", FIXTURE_B);
	list[0].weight = list[1].weight = 1;
	registry_source_update(&rs->reg, list, 2, 1000);
	registry_commit(&rs->reg);
	discover_fixture_report(&rep, 300, rs->reg.generation);
	snprintf(rep.service, sizeof(rep.service), "default/api:80");
	rep.backends[0].ejected = 1;
	rep.backends[0].ejections = 1;
	rep.backends[0].eject_left = 30;
	rep.backends[0].breaker = BUS_BREAKER_OPEN;
	snprintf(rep.backends[0].eject_reason, sizeof(rep.backends[0].eject_reason), "outlier: r");
	assert_int_equal(bus_set_encode(&rep, &msg), 0);
	proxies_take(&f.d, msg.data, msg.len);
	e = registry_find(&rs->reg, FIXTURE_A);
	assert_true(e->ejected);
	assert_false(registry_find(&f.d.reg, FIXTURE_A)->ejected);
	assert_int_equal(rs->nproxies, 1);
	assert_int_equal(f.d.nproxies, 0);
	/* shared with the other replicas in the Service's own section */
	assert_int_equal(f.nops, 1);
	assert_int_equal(f.ops[0].verb, FLEET_EJECT);
	assert_string_equal(f.ops[0].service, "default/api:80");
	assert_int_equal(ejection_count_in(&rs->reg), 1);
	assert_int_equal(ejection_count(&f.d), 0);
	/* a service nobody routes to: dropped, kept nowhere */
	buf_reset(&msg);
	snprintf(rep.service, sizeof(rep.service), "default/gone:80");
	rep.pid = 301;
	assert_int_equal(bus_set_encode(&rep, &msg), 0);
	proxies_take(&f.d, msg.data, msg.len);
	assert_int_equal(rs->nproxies, 1);
	assert_int_equal(f.d.nproxies, 0);
	buf_release(&msg);
	bus_set_release(&rep);
	routed_release(&f.d.routed, NULL);
	discover_fixture_release(&f);
}

static void test_thresholds(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct ejection_case *c = &cases[i];
		struct discover_fixture f;
		struct entry *e[2];
		double start;
		int which;

		assert_int_equal(discover_fixture_init(&f), 0);
		discover_fixture_cluster(&f);
		if (c->eject_5xx >= 0)
			f.opts.eject_5xx = c->eject_5xx;
		if (c->eject_gateway >= 0)
			f.opts.eject_gateway = c->eject_gateway;
		if (c->max_percent >= 0)
			f.opts.eject_max_percent = c->max_percent;
		start = registry_clock();
		for (size_t k = 0; k < 4 && c->said[k].pid; k++)
			report(&f, &c->said[k]);
		e[0] = registry_find(&f.d.reg, FIXTURE_A);
		e[1] = registry_find(&f.d.reg, FIXTURE_B);
		for (int k = 0; k < 2; k++)
			if ((int)e[k]->ejected != c->ejected[k])
				fail_msg("%s: backend %d ejected=%d", c->what, k, e[k]->ejected);
		assert_int_equal(ejection_count(&f.d), c->ejected[0] + c->ejected[1]);
		if (!c->ejected[0] && !c->ejected[1]) {
			assert_int_equal(f.d.reg.generation, 1);
			assert_int_equal(f.nops, 0);
			discover_fixture_release(&f);
			continue;
		}
		which = c->ejected[0] ? 0 : 1;
		if (strcmp(e[which]->eject_reason, c->reason) != 0)
			fail_msg("%s: reason \"%s\"", c->what, e[which]->eject_reason);
		if (e[which]->ejections != c->ejections)
			fail_msg("%s: %u ejections", c->what, e[which]->ejections);
		if (fabs(e[which]->eject_until - start - c->seconds) > 2)
			fail_msg("%s: %.1f s, expected %.0f", c->what, e[which]->eject_until - start,
				 c->seconds);
		/* published in the next generation (each ejection its own), and shared
		 * with the other replicas */
		assert_int_equal(f.d.reg.generation, 1 + c->ejected[0] + c->ejected[1]);
		assert_int_equal(e[which]->eject_generation, 2);
		assert_int_equal(f.ops[0].verb, FLEET_EJECT);
		assert_string_equal(f.ops[0].reason, c->reason);
		assert_int_equal(f.ops[0].count, c->ejections);
		discover_fixture_release(&f);
	}
}

/* Ejected, then half-open once its time is up: a proxy's closed breaker
 * ends it, but only in a report of a generation that carried the ejection;
 * a trial that fails ejects it again for longer. */
static void test_half_open(void **state)
{
	static const struct said eject = { 100, 0, 1, 1, 0, 0, 0 };
	struct discover_fixture f;
	struct entry *a;
	struct bus_set rep;

	(void)state;
	assert_int_equal(discover_fixture_init(&f), 0);
	discover_fixture_cluster(&f);
	report(&f, &eject);
	a = registry_find(&f.d.reg, FIXTURE_A);
	assert_true(a->ejected);
	/* still open: the same report again changes nothing */
	report(&f, &eject);
	assert_int_equal(a->ejections, 1);
	assert_int_equal(f.nops, 1);
	/* half-open; a report of the generation before the ejection does not end it */
	a->eject_until = registry_clock() - 1;
	discover_fixture_report(&rep, 200, 1);
	main_report(&f.d, &rep);
	assert_true(a->ejected);
	/* its trial failed on a proxy: ejected again, for twice as long */
	report(&f, &eject);
	assert_true(a->ejected);
	assert_int_equal(a->ejections, 2);
	assert_true(fabs(a->eject_until - registry_clock() - 60) < 2);
	/* half-open again; a proxy that applied it closes its breaker: it ends */
	a->eject_until = registry_clock() - 1;
	rep.generation = f.d.reg.generation;
	main_report(&f.d, &rep);
	assert_false(a->ejected);
	assert_int_equal(a->ejections, 2);	/* the next one lasts longer still */
	assert_int_equal(f.ops[f.nops - 1].verb, FLEET_UNEJECT);
	assert_int_equal(ejection_count(&f.d), 0);
	bus_set_release(&rep);
	discover_fixture_release(&f);
}

/* After a whole --eject-time-max without one, the count starts over. */
static void test_count_starts_over(void **state)
{
	static const struct said eject = { 100, 0, 1, 1, 0, 0, 0 };
	struct discover_fixture f;
	struct entry *a;

	(void)state;
	assert_int_equal(discover_fixture_init(&f), 0);
	a = registry_find(&f.d.reg, FIXTURE_A);
	a->ejections = 3;
	a->eject_ended = registry_clock() - 100;
	report(&f, &eject);
	assert_int_equal(a->ejections, 4);
	a->ejected = 0;
	a->eject_ended = registry_clock() - 300;
	report(&f, &eject);
	assert_int_equal(a->ejections, 1);
	discover_fixture_release(&f);
}

static void test_end(void **state)
{
	struct discover_fixture f;
	struct entry *a;

	(void)state;
	assert_int_equal(discover_fixture_init(&f), 0);
	a = registry_find(&f.d.reg, FIXTURE_A);
	assert_int_equal(ejection_end(&f.d, a), 0);
	a->ejected = 1;
	a->ejections = 3;
	assert_int_equal(ejection_count(&f.d), 1);
	assert_int_equal(ejection_end(&f.d, a), 1);
	assert_false(a->ejected);
	assert_int_equal(a->ejections, 0);
	assert_true(a->eject_ended > 0);
	/* an ejected backend the set no longer lists does not count */
	a->ejected = 1;
	a->removed = 1;
	assert_int_equal(ejection_count(&f.d), 0);
	discover_fixture_release(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_thresholds),
		cmocka_unit_test(test_half_open),
		cmocka_unit_test(test_count_starts_over),
		cmocka_unit_test(test_end),
		cmocka_unit_test(test_routed_service_ejection),
	};

	log_setup("test", LOG_ERROR, LOG_FORMAT_TEXT);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
