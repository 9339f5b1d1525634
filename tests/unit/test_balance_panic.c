/* Unit tests for lb-proxy/upstream/panic.c and the pick's panic tier: the
 * threshold (0 off, 50, 100), who counts (drained and down stay out,
 * half-open is available, a connect-failure skip is not), the picks in
 * panic, and the cached decision (computed again only on a change or when
 * an ejection or a skip runs out). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "fixture.h"
#include "upstream/outlier.h"
#include "upstream/panic.h"

#define NOW 1000.0
#define PICKS 400

static const struct outlier_config rules = {
	.max_5xx = 0, .max_gateway = 1, .eject_time = 10, .eject_time_max = 100,
	.max_percent = 100, .pid = 4321,
};

static int setup(void **state)
{
	(void)state;
	outlier_configure(&rules);
	balance_set_max_active(0);
	panic_set_threshold(PANIC_THRESHOLD_DEFAULT);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	panic_set_threshold(0);
	return 0;
}

/*
 * Puts b in the state `c` spells: 'u' up, 'd' draining, 'x' down, 'e' up and
 * ejected (open), 'h' up and half-open (its ejection ran out), 'f' up and
 * skipped after a failed connect, 'F' up and its skip over, 'E' down and
 * ejected.
 */
static void put(struct backend *b, char c)
{
	memset(&b->outlier, 0, sizeof(b->outlier));
	b->fail_until = 0;
	b->state = c == 'd' ? BACKEND_DRAINING : c == 'x' || c == 'E' ? BACKEND_DOWN : BACKEND_UP;
	if (c == 'e' || c == 'E' || c == 'h') {
		b->outlier.state = OUTLIER_OPEN;
		b->outlier.until = c == 'h' ? NOW - 1 : NOW + 10;
	}
	if (c == 'f' || c == 'F')
		b->fail_until = c == 'f' ? NOW + 5 : NOW - 5;
}

/* A set of strlen(states) backends in those states (put). */
static void make(struct backend_set *set, const char *states)
{
	fixture_set(set, strlen(states), NULL);
	for (size_t i = 0; i < set->n; i++)
		put(set->items[i], states[i]);
}

/* The picks of round-robin and random over set, by index, with a fresh
 * balancer (so a fresh panic decision). Returns whether it was in panic. */
static int count_picks(const struct backend_set *set, unsigned *counts)
{
	static const char *const algorithms[] = { "round-robin", "random", "least-request" };
	int panic = -1;

	memset(counts, 0, set->n * sizeof(*counts));
	for (size_t a = 0; a < sizeof(algorithms) / sizeof(algorithms[0]); a++) {
		struct balancer bl;

		memset(&bl, 0, sizeof(bl));
		fixture_balancer(&bl, algorithms[a], set);
		for (unsigned i = 0; i < PICKS; i++) {
			struct balance_request r = fixture_request(-1, NOW);
			struct backend *b = balance_pick(&bl, set, &r);

			if (b)
				counts[fixture_index(set, b)]++;
			assert_true(panic == -1 || panic == r.panic);
			panic = r.panic;
		}
		balancer_release(&bl);
	}
	return panic;
}

struct threshold_case {
	const char *what;
	unsigned threshold;
	const char *states;
	int panic;
};

static const struct threshold_case threshold_cases[] = {
	{ "0 is off, even with nothing available", 0, "eeee", 0 },
	{ "0 is off, one of four", 0, "ueee", 0 },
	{ "50: half available is enough", 50, "uuee", 0 },
	{ "50: one of four is not", 50, "ueee", 1 },
	{ "50: none of one", 50, "e", 1 },
	{ "50: one of one", 50, "u", 0 },
	{ "50: two of three", 50, "uue", 0 },
	{ "50: one of three", 50, "uee", 1 },
	{ "100: one missing is enough", 100, "uuue", 1 },
	{ "100: all available", 100, "uuuu", 0 },
	{ "1: only when none is", 1, "ueeeeeeeee", 0 },
	{ "1: none of ten", 1, "eeeeeeeeee", 1 },
};

/* The decision for each threshold, and what the picks do with it: in panic
 * every up backend gets requests, ejected or not; otherwise only the
 * available ones (and none when none is). */
static void test_thresholds(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(threshold_cases) / sizeof(threshold_cases[0]); i++) {
		const struct threshold_case *tc = &threshold_cases[i];
		struct backend_set set;
		unsigned counts[16];
		int panic;

		panic_set_threshold(tc->threshold);
		make(&set, tc->states);
		panic = count_picks(&set, counts);
		if (panic != tc->panic)
			fail_msg("%s: panic %d, want %d", tc->what, panic, tc->panic);
		for (size_t k = 0; k < set.n; k++) {
			int available = tc->states[k] == 'u';

			if (tc->panic ? counts[k] == 0 : (counts[k] > 0) != available)
				fail_msg("%s: backend %zu (%c) got %u picks", tc->what, k,
					 tc->states[k], counts[k]);
		}
		backend_set_release(&set);
	}
	panic_set_threshold(PANIC_THRESHOLD_DEFAULT);
}

struct population_case {
	const char *what;
	const char *states;
	unsigned available, of;
	int panic;		/* at 50% */
	const char *picked;	/* in the picks: 'y' some, '.' none */
};

static const struct population_case population_cases[] = {
	{ "drained and down stay out", "uedx", 1, 2, 0, "y..." },
	{ "out of the count, and of the picks in panic", "ueeddxx", 1, 3, 1, "yyy...." },
	{ "down and ejected: still out", "ueEE", 1, 2, 0, "y..." },
	{ "only down ones left up to no one", "xxx", 0, 0, 0, "..." },
	{ "half-open is available", "hhe", 2, 3, 0, "yy." },
	{ "half-open and ejected", "hee", 1, 3, 1, "yyy" },
	{ "a connect-failure skip is unavailable", "ffu", 1, 3, 1, "yyy" },
	{ "a skip that is over is not", "FFu", 3, 3, 0, "yyy" },
	{ "skipped and ejected alike", "fe", 0, 2, 1, "yy" },
	{ "draining only: no population, the draining tier", "dd", 0, 0, 0, "yy" },
};

static void test_population(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(population_cases) / sizeof(population_cases[0]); i++) {
		const struct population_case *tc = &population_cases[i];
		struct backend_set set;
		struct panic p;
		unsigned counts[16];

		make(&set, tc->states);
		memset(&p, 0, sizeof(p));
		if (panic_check(&p, &set, NOW) != tc->panic || p.available != tc->available ||
		    p.of != tc->of)
			fail_msg("%s: panic %d available %u of %u, want %d %u %u", tc->what, p.active,
				 p.available, p.of, tc->panic, tc->available, tc->of);
		assert_int_equal(count_picks(&set, counts), tc->panic);
		for (size_t k = 0; k < set.n; k++)
			if ((counts[k] > 0) != (tc->picked[k] == 'y'))
				fail_msg("%s: backend %zu (%c) got %u picks", tc->what, k,
					 tc->states[k], counts[k]);
		backend_set_release(&set);
	}
}

/* In panic the first tier still keeps to --max-per-backend and skips what
 * the request tried; the later tiers are as they were. */
static void test_panic_keeps_cap_and_tried(void **state)
{
	struct backend_set set;
	struct balancer bl;
	struct balance_request r;
	(void)state;

	make(&set, "ee");
	memset(&bl, 0, sizeof(bl));
	fixture_balancer(&bl, "round-robin", &set);
	r = fixture_request(-1, NOW);
	assert_non_null(balance_pick(&bl, &set, &r));
	assert_true(r.panic);
	assert_int_equal(r.tier, BALANCE_TIER_UP);
	r = fixture_request(-1, NOW);
	r.tried[r.ntried++] = set.items[0];
	assert_ptr_equal(balance_pick(&bl, &set, &r), set.items[1]);
	r.tried[r.ntried++] = set.items[1];
	assert_null(balance_pick(&bl, &set, &r));	/* tried, and ejected for the last tier */
	balance_set_max_active(1);
	set.items[0]->active = 1;
	r = fixture_request(-1, NOW);
	assert_ptr_equal(balance_pick(&bl, &set, &r), set.items[1]);
	set.items[1]->active = 1;
	assert_null(balance_pick(&bl, &set, &r));
	set.items[0]->active = set.items[1]->active = 0;
	balance_set_max_active(0);
	balancer_release(&bl);
	backend_set_release(&set);
}

/* The decision is cached: picks do not count the set again until something
 * changes (an ejection, its end, lb-discover's word, a failed connect, a new
 * threshold) or the earliest ejection or skip runs out. */
static void test_cache(void **state)
{
	struct backend_set set;
	struct balancer bl;
	unsigned long long n;
	(void)state;

	make(&set, "uuu");
	memset(&bl, 0, sizeof(bl));
	fixture_balancer(&bl, "round-robin", &set);
	assert_false(balancer_panic(&bl, &set, NOW));
	n = bl.panic.computed;
	assert_int_equal(n, 1);
	for (int i = 0; i < 100; i++) {
		struct balance_request r = fixture_request(-1, NOW + i * 0.01);

		assert_non_null(balance_pick(&bl, &set, &r));
	}
	assert_int_equal(bl.panic.computed, n);
	/* two ejections (the breaker: one gateway failure each): panic */
	assert_int_equal(outlier_record(set.items[0], OUTLIER_GATEWAY, NOW, &set), 1);
	assert_int_equal(outlier_record(set.items[1], OUTLIER_GATEWAY, NOW + 2, &set), 1);
	assert_true(balancer_panic(&bl, &set, NOW + 2));
	assert_int_equal(bl.panic.computed, ++n);
	assert_int_equal(bl.panic.available, 1);
	assert_int_equal(bl.panic.entered_total, 1);
	assert_true(bl.panic.next_check == NOW + 10);
	for (int i = 0; i < 100; i++) {
		struct balance_request r = fixture_request(-1, NOW + 2 + i * 0.07);

		assert_non_null(balance_pick(&bl, &set, &r));
		assert_true(r.panic);
	}
	assert_true(balancer_panic(&bl, &set, NOW + 9.999));
	assert_int_equal(bl.panic.computed, n);
	/* the first ejection runs out (half-open: available): computed again
	 * with no call from outlier.c, and panic is left */
	assert_false(balancer_panic(&bl, &set, NOW + 10));
	assert_int_equal(bl.panic.computed, ++n);
	assert_int_equal(bl.panic.available, 2);
	assert_true(bl.panic.next_check == NOW + 12);
	assert_false(balancer_panic(&bl, &set, NOW + 11));
	assert_int_equal(bl.panic.computed, n);
	/* a failed connect is a change: the skip counts until its end */
	backend_mark_failed(set.items[2], NOW + 11.5, BACKEND_FAILURE_CONNECT);
	assert_true(balancer_panic(&bl, &set, NOW + 11));
	assert_int_equal(bl.panic.computed, ++n);
	assert_int_equal(bl.panic.entered_total, 2);
	assert_false(balancer_panic(&bl, &set, NOW + 11.5));
	assert_int_equal(bl.panic.computed, ++n);
	/* lb-discover's ejection counts as this proxy's own, and its clearing
	 * ends it */
	outlier_fleet_eject(set.items[2], "outlier: 3 consecutive 5xx on proxy 99", 20, 1,
			    NOW + 11.5);
	assert_true(balancer_panic(&bl, &set, NOW + 11.5));
	assert_int_equal(bl.panic.available, 1);
	assert_int_equal(bl.panic.entered_total, 3);
	outlier_fleet_clear(set.items[2], NOW + 11.6);
	assert_false(balancer_panic(&bl, &set, NOW + 11.6));
	assert_int_equal(bl.panic.available, 2);
	/* a new threshold is taken at once */
	n = bl.panic.computed;
	panic_set_threshold(100);
	assert_true(balancer_panic(&bl, &set, NOW + 11.6));
	assert_int_equal(bl.panic.computed, n + 1);
	assert_int_equal(bl.panic.threshold, 100);
	panic_set_threshold(0);
	assert_false(balancer_panic(&bl, &set, NOW + 11.6));
	panic_set_threshold(PANIC_THRESHOLD_DEFAULT);
	balancer_release(&bl);
	backend_set_release(&set);
}

/* A new set is a change: the decision is computed again over it. */
static void test_new_set(void **state)
{
	struct backend_set set, next;
	struct balancer bl;
	(void)state;

	make(&set, "uee");
	memset(&bl, 0, sizeof(bl));
	fixture_balancer(&bl, "round-robin", &set);
	assert_true(balancer_panic(&bl, &set, NOW));
	/* lb-discover drains the two ejected ones: out of the population */
	fixture_set(&next, 3, NULL);
	next.generation = 2;
	next.items[1]->state = next.items[2]->state = BACKEND_DRAINING;
	backend_set_apply(&set, &next, NOW);
	assert_false(balancer_panic(&bl, &set, NOW));
	assert_int_equal(bl.panic.of, 1);
	assert_int_equal(bl.panic.available, 1);
	balancer_release(&bl);
	backend_set_release(&set);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_thresholds, setup, teardown),
		cmocka_unit_test_setup_teardown(test_population, setup, teardown),
		cmocka_unit_test_setup_teardown(test_panic_keeps_cap_and_tried, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cache, setup, teardown),
		cmocka_unit_test_setup_teardown(test_new_set, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
