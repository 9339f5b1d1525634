/* Unit tests for lb-proxy/upstream/balance_least.c: power of two choices by requests in flight. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "upstream/balance.h"
#include "fixture.h"

#define NOW 1000.0
#define PICKS 100000

static void test_busy_backend_is_avoided(void **state)
{
	static const struct {
		size_t n;
		int weights[4];
		unsigned active[4];
		int busy;
	} cases[] = {
		{ 3, { 1, 1, 1 }, { 50, 0, 0 }, 0 },
		{ 3, { 1, 1, 1 }, { 50, 3, 2 }, 0 },
		{ 4, { 3, 1, 1, 1 }, { 100, 5, 5, 5 }, 0 },
		{ 2, { 1, 1 }, { 1, 0 }, 0 },
	};
	(void)state;

	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		struct backend_set set;
		struct balancer bl;
		struct balance_request r = { .now = NOW };
		unsigned counts[4] = { 0 };
		int busy = cases[c].busy;

		fixture_set(&set, cases[c].n, cases[c].weights);
		for (size_t i = 0; i < cases[c].n; i++)
			set.items[i]->active = cases[c].active[i];
		fixture_balancer(&bl, "least-request", &set);
		fixture_count(&bl, &set, &r, PICKS, counts);
		print_message("least-request, case %zu: the busy backend got %.2f%%\n", c,
			      100.0 * counts[busy] / PICKS);
		assert_true(counts[busy] < PICKS / 20);
		balancer_release(&bl);
		backend_set_release(&set);
	}
}

/* With the same requests in flight (none), picks follow the weights. */
static void test_idle_shares_follow_weights(void **state)
{
	static const int weights[][3] = { { 1, 1, 1 }, { 1, 2, 3 } };
	(void)state;

	for (size_t c = 0; c < sizeof(weights) / sizeof(weights[0]); c++) {
		struct backend_set set;
		struct balancer bl;
		struct balance_request r = { .now = NOW };
		unsigned counts[3] = { 0 };
		double error;

		fixture_set(&set, 3, weights[c]);
		fixture_balancer(&bl, "least-request", &set);
		fixture_count(&bl, &set, &r, PICKS, counts);
		error = fixture_share_error(&set, counts);
		print_message("least-request, weights %d,%d,%d, idle: worst share %.2f%% off\n",
			      weights[c][0], weights[c][1], weights[c][2], 100 * error);
		assert_true(error < 0.04);
		balancer_release(&bl);
		backend_set_release(&set);
	}
}

/*
 * Under load: each pick adds a request in flight and the oldest of the
 * last CONCURRENCY finishes (all as slow as each other), so a backend's
 * active count is its share of recent picks. Shares should still follow
 * the weights (a comparison of active alone would even them out).
 */
#define CONCURRENCY 60
static void test_loaded_shares_follow_weights(void **state)
{
	static const int weights[3] = { 1, 2, 3 };
	struct backend *window[CONCURRENCY] = { NULL };
	struct backend_set set;
	struct balancer bl;
	struct balance_request r = { .now = NOW };
	unsigned counts[3] = { 0 };
	double error;
	(void)state;

	fixture_set(&set, 3, weights);
	fixture_balancer(&bl, "least-request", &set);
	for (unsigned i = 0; i < PICKS; i++) {
		struct backend *b = balance_pick(&bl, &set, &r);

		assert_non_null(b);
		counts[fixture_index(&set, b)]++;
		if (window[i % CONCURRENCY])
			window[i % CONCURRENCY]->active--;
		window[i % CONCURRENCY] = b;
		b->active++;
	}
	error = fixture_share_error(&set, counts);
	print_message("least-request, weights 1,2,3, %d in flight: %.1f%% %.1f%% %.1f%%, "
		      "worst %.2f%% off\n", CONCURRENCY, 100.0 * counts[0] / PICKS,
		      100.0 * counts[1] / PICKS, 100.0 * counts[2] / PICKS, 100 * error);
	assert_true(error < 0.10);
	balancer_release(&bl);
	backend_set_release(&set);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_busy_backend_is_avoided),
		cmocka_unit_test(test_idle_shares_follow_weights),
		cmocka_unit_test(test_loaded_shares_follow_weights),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
