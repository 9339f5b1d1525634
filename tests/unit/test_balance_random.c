/* Unit tests for lb-proxy/upstream/balance_random.c: weighted random shares. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "upstream/balance.h"
#include "upstream/balance_random.h"
#include "fixture.h"

#define NOW 1000.0
#define PICKS 100000

static void test_shares_follow_weights(void **state)
{
	static const struct {
		size_t n;
		int weights[5];
	} cases[] = {
		{ 3, { 1, 1, 1 } },
		{ 3, { 1, 2, 3 } },
		{ 5, { 10, 20, 30, 20, 20 } },
	};
	(void)state;

	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		struct backend_set set;
		struct balancer bl;
		struct balance_request r = { .now = NOW };
		unsigned counts[5] = { 0 };
		double error;

		fixture_set(&set, cases[c].n, cases[c].weights);
		fixture_balancer(&bl, "random", &set);
		fixture_count(&bl, &set, &r, PICKS, counts);
		error = fixture_share_error(&set, counts);
		print_message("random, %zu backends, case %zu: worst share %.2f%% off its weight's\n",
			      cases[c].n, c, 100 * error);
		assert_true(error < 0.04);
		balancer_release(&bl);
		backend_set_release(&set);
	}
}

static void test_pick_excludes(void **state)
{
	struct backend_set set;
	struct balance_request r = { .now = NOW, .tier = BALANCE_TIER_UP };
	(void)state;

	fixture_set(&set, 2, NULL);
	for (int i = 0; i < 100; i++)
		assert_ptr_equal(balance_random_pick(&set, &r, set.items[0]), set.items[1]);
	set.items[1]->state = BACKEND_DOWN;
	assert_null(balance_random_pick(&set, &r, set.items[0]));
	backend_set_release(&set);
}

static void test_slow_start_share(void **state)
{
	struct backend_set set;
	struct balancer bl;
	struct balance_request r = { .now = NOW + 5 };
	unsigned counts[2] = { 0 };
	(void)state;

	fixture_set(&set, 2, NULL);
	fixture_balancer(&bl, "random", &set);
	balance_set_slow_start(10);
	set.items[1]->up_since = NOW;		/* half its weight at NOW + 5 */
	fixture_count(&bl, &set, &r, PICKS, counts);
	balance_set_slow_start(0);
	print_message("random, slow start at half way: %.1f%% (want 33.3%%)\n",
		      100.0 * counts[1] / PICKS);
	assert_true(counts[1] > PICKS * 0.31 && counts[1] < PICKS * 0.35);
	balancer_release(&bl);
	backend_set_release(&set);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_shares_follow_weights),
		cmocka_unit_test(test_pick_excludes),
		cmocka_unit_test(test_slow_start_share),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
