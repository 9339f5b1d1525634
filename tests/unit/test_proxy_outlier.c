/* Unit tests for lb-proxy/upstream/outlier.c: the circuit breaker's thresholds, time
 * growth and cap, max-percent, half-open trials and lb-discover's word. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "fixture.h"
#include "bus_protocol.h"
#include "upstream/outlier.h"

#define NOW 1000.0

static const struct outlier_config defaults = {
	.max_5xx = 5, .max_gateway = 3, .eject_time = 30, .eject_time_max = 300,
	.max_percent = 50, .pid = 4321,
};

static int setup(void **state)
{
	(void)state;
	outlier_configure(&defaults);
	return 0;
}

/* Records `n` events `ev` on b; returns how many ejected it. */
static int record(struct backend *b, enum outlier_event ev, unsigned n, double now,
		  const struct backend_set *set)
{
	int ejected = 0;

	for (unsigned i = 0; i < n; i++)
		ejected += outlier_record(b, ev, now, set);
	return ejected;
}

static void test_thresholds(void **state)
{
	/* event, count, ejected after exactly that many? (table-driven) */
	static const struct {
		enum outlier_event ev;
		unsigned threshold;
		const char *reason;
	} rows[] = {
		{ OUTLIER_5XX, 5, "outlier: 5 consecutive 5xx on proxy 4321" },
		/* the reason names what happened (issue 27: timeouts were "gateway
		 * failures", and lb-ctl said "failed connects") */
		{ OUTLIER_GATEWAY, 3, "outlier: 3 consecutive 502-504s on proxy 4321" },
		{ OUTLIER_TIMEOUT, 3, "outlier: 3 consecutive timeouts on proxy 4321" },
		{ OUTLIER_RESET, 3, "outlier: 3 consecutive resets on proxy 4321" },
		{ OUTLIER_CONNECT, 3, "outlier: 3 consecutive connect errors on proxy 4321" },
	};
	(void)state;
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct backend_set set;
		struct backend *b;

		fixture_set(&set, 4, NULL);
		b = set.items[0];
		assert_int_equal(record(b, rows[i].ev, rows[i].threshold - 1, NOW, &set), 0);
		assert_true(backend_usable(b, NOW));
		/* a success in between starts the count again */
		record(b, OUTLIER_SUCCESS, 1, NOW, &set);
		assert_int_equal(record(b, rows[i].ev, rows[i].threshold - 1, NOW, &set), 0);
		assert_int_equal(record(b, rows[i].ev, 1, NOW, &set), 1);
		assert_int_equal(outlier_state_at(&b->outlier, NOW), OUTLIER_OPEN);
		assert_false(backend_usable(b, NOW));
		assert_string_equal(b->outlier.reason, rows[i].reason);
		assert_true(b->outlier.until == NOW + 30);
		backend_set_release(&set);
	}
}

/* A run of mixed kinds names each; a success forgets them; a failed trial
 * names its own kind. */
static void test_reason_names_the_kinds(void **state)
{
	struct backend_set set;
	struct backend *b;
	(void)state;

	fixture_set(&set, 4, NULL);
	b = set.items[0];
	record(b, OUTLIER_RESET, 1, NOW, &set);
	record(b, OUTLIER_SUCCESS, 1, NOW, &set);
	record(b, OUTLIER_TIMEOUT, 1, NOW, &set);
	assert_int_equal(b->outlier.kinds_gateway, BUS_FAILURE_TIMEOUT);
	record(b, OUTLIER_CONNECT, 1, NOW, &set);
	assert_int_equal(record(b, OUTLIER_TIMEOUT, 1, NOW, &set), 1);
	assert_string_equal(b->outlier.reason,
			    "outlier: 3 consecutive connect errors+timeouts on proxy 4321");
	assert_int_equal(b->outlier.kinds_gateway, 0);
	assert_int_equal(record(b, OUTLIER_TIMEOUT, 1, b->outlier.until, &set), 1);
	assert_string_equal(b->outlier.reason, "outlier: the trial failed (timeout) on proxy 4321");
	/* a 500 in the 5xx run is named beside the gateway kinds */
	outlier_close(b, NOW);
	record(b, OUTLIER_5XX, 3, NOW, &set);
	record(b, OUTLIER_RESET, 1, NOW, &set);
	record(b, OUTLIER_SUCCESS, 0, NOW, &set);
	assert_int_equal(b->outlier.kinds_5xx, BUS_FAILURE_5XX | BUS_FAILURE_RESET);
	assert_int_equal(record(b, OUTLIER_5XX, 1, NOW, &set), 1);
	assert_string_equal(b->outlier.reason, "outlier: 5 consecutive 5xx+resets on proxy 4321");
	backend_set_release(&set);
}

static void test_rule_off(void **state)
{
	struct outlier_config c = defaults;
	struct backend_set set;
	(void)state;

	c.max_5xx = 0;
	c.max_gateway = 0;
	outlier_configure(&c);
	fixture_set(&set, 2, NULL);
	assert_int_equal(record(set.items[0], OUTLIER_5XX, 100, NOW, &set), 0);
	assert_int_equal(record(set.items[0], OUTLIER_GATEWAY, 100, NOW, &set), 0);
	c = defaults;
	c.max_percent = 0;
	outlier_configure(&c);
	assert_int_equal(record(set.items[1], OUTLIER_GATEWAY, 100, NOW, &set), 0);
	outlier_configure(&defaults);
	backend_set_release(&set);
}

/* Half-open: one trial at a time; a failure ejects for eject_time times the
 * ejections (30, 60, 90 ... capped at 300); a success closes. */
static void test_half_open_growth_and_cap(void **state)
{
	struct backend_set set;
	struct backend *b;
	double now = NOW;
	(void)state;

	fixture_set(&set, 4, NULL);
	b = set.items[0];
	record(b, OUTLIER_GATEWAY, 3, now, &set);
	for (unsigned k = 1; k <= 12; k++) {
		double seconds = 30.0 * k > 300 ? 300 : 30.0 * k;

		assert_int_equal(b->outlier.ejections, k);
		assert_true(b->outlier.until == now + seconds);
		assert_false(backend_usable(b, now + seconds - 0.001));
		now += seconds;
		assert_int_equal(outlier_state_at(&b->outlier, now), OUTLIER_HALF_OPEN);
		assert_true(backend_usable(b, now));
		b->active = 1;		/* the trial in flight: nobody else */
		assert_false(backend_usable(b, now));
		b->active = 0;
		/* a failure while open changes nothing; the trial's re-ejects */
		assert_int_equal(record(b, OUTLIER_5XX, 1, now, &set), 1);
		assert_string_equal(b->outlier.reason, "outlier: the trial failed (5xx) on proxy 4321");
	}
	now = b->outlier.until;
	assert_int_equal(record(b, OUTLIER_SUCCESS, 1, now, &set), 0);
	assert_int_equal(outlier_state_at(&b->outlier, now), OUTLIER_CLOSED);
	assert_true(backend_usable(b, now));
	assert_int_equal(b->outlier.ejections_total, 13);
	/* closed for a whole eject_time_max: the multiplier starts over */
	record(b, OUTLIER_GATEWAY, 3, now + 300, &set);
	assert_int_equal(b->outlier.ejections, 1);
	assert_true(b->outlier.until == now + 300 + 30);
	backend_set_release(&set);
}

static void test_open_ignores_late_outcomes(void **state)
{
	struct backend_set set;
	struct backend *b;
	(void)state;

	fixture_set(&set, 2, NULL);
	b = set.items[0];
	record(b, OUTLIER_GATEWAY, 3, NOW, &set);
	assert_int_equal(record(b, OUTLIER_SUCCESS, 1, NOW + 1, &set), 0);
	assert_int_equal(record(b, OUTLIER_5XX, 10, NOW + 1, &set), 0);
	assert_int_equal(outlier_state_at(&b->outlier, NOW + 1), OUTLIER_OPEN);
	assert_int_equal(b->outlier.ejections, 1);
	backend_set_release(&set);
}

/* max-percent: of 4 backends at 50%, 2 may be ejected; of 1, one always can. */
static void test_max_percent(void **state)
{
	struct backend_set set, one;
	(void)state;

	fixture_set(&set, 4, NULL);
	for (size_t i = 0; i < 4; i++)
		record(set.items[i], OUTLIER_GATEWAY, 3, NOW, &set);
	assert_int_equal(outlier_ejected(&set, NOW), 2);
	assert_true(backend_usable(set.items[2], NOW));
	/* one comes back: the next failure of a waiting one ejects it */
	outlier_close(set.items[0], NOW);
	assert_int_equal(record(set.items[2], OUTLIER_GATEWAY, 1, NOW, &set), 1);
	assert_int_equal(outlier_ejected(&set, NOW), 2);
	backend_set_release(&set);

	fixture_set(&one, 1, NULL);
	assert_int_equal(record(one.items[0], OUTLIER_5XX, 5, NOW, &one), 1);
	backend_set_release(&one);
}

static void test_fleet(void **state)
{
	struct backend_set set;
	struct backend *b, *c;
	(void)state;

	fixture_set(&set, 4, NULL);
	b = set.items[0];
	c = set.items[1];
	/* another proxy's ejection: open for what lb-discover says is left */
	outlier_fleet_eject(b, "outlier: 5 consecutive 5xx on proxy 99", 12.5, 2, NOW);
	assert_int_equal(outlier_state_at(&b->outlier, NOW + 12), OUTLIER_OPEN);
	assert_int_equal(outlier_state_at(&b->outlier, NOW + 12.5), OUTLIER_HALF_OPEN);
	assert_int_equal(b->outlier.ejections, 2);
	assert_string_equal(b->outlier.reason, "outlier: 5 consecutive 5xx on proxy 99");
	/* its set no longer lists it (uneject): closed at once */
	outlier_fleet_clear(b, NOW + 1);
	assert_int_equal(outlier_state_at(&b->outlier, NOW + 1), OUTLIER_CLOSED);
	/* our own ejection, published by lb-discover: a clear ends it too */
	record(c, OUTLIER_GATEWAY, 3, NOW, &set);
	outlier_fleet_eject(c, "outlier: 3 consecutive gateway failures on proxy 4321", 29, 1, NOW);
	assert_true(c->outlier.until == NOW + 30);
	outlier_fleet_clear(c, NOW + 1);
	assert_int_equal(outlier_state_at(&c->outlier, NOW + 1), OUTLIER_CLOSED);
	/* ours, not (yet) published: a set without it leaves it */
	record(c, OUTLIER_GATEWAY, 3, NOW + 2, &set);
	outlier_fleet_clear(c, NOW + 3);
	assert_int_equal(outlier_state_at(&c->outlier, NOW + 3), OUTLIER_OPEN);
	/* half-open on lb-discover's word; a passed trial is not re-opened by it */
	outlier_fleet_eject(b, "outlier: 5 consecutive 5xx on proxy 99", 0, 3, NOW + 5);
	assert_int_equal(outlier_state_at(&b->outlier, NOW + 5), OUTLIER_HALF_OPEN);
	record(b, OUTLIER_SUCCESS, 1, NOW + 5, &set);
	outlier_fleet_eject(b, "outlier: 5 consecutive 5xx on proxy 99", 0, 3, NOW + 6);
	assert_int_equal(outlier_state_at(&b->outlier, NOW + 6), OUTLIER_CLOSED);
	backend_set_release(&set);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_thresholds, setup),
		cmocka_unit_test_setup(test_reason_names_the_kinds, setup),
		cmocka_unit_test_setup(test_rule_off, setup),
		cmocka_unit_test_setup(test_half_open_growth_and_cap, setup),
		cmocka_unit_test_setup(test_open_ignores_late_outcomes, setup),
		cmocka_unit_test_setup(test_max_percent, setup),
		cmocka_unit_test_setup(test_fleet, setup),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
