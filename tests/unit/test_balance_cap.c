/* Unit tests for --max-per-backend in lb-proxy/upstream/balance.c: a backend at its
 * cap is never picked, by any algorithm and in any tier. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "upstream/balance.h"
#include "fixture.h"

static const char *const algorithms[] = {
	"round-robin", "least-request", "random", "maglev", "ring-hash",
};
#define NALGORITHMS (sizeof(algorithms) / sizeof(algorithms[0]))
#define NOW 1000.0

static void test_full_backends_are_skipped(void **state)
{
	(void)state;
	for (size_t a = 0; a < NALGORITHMS; a++) {
		struct backend_set set;
		struct balancer bl = { 0 };

		fixture_set(&set, 4, NULL);
		fixture_balancer(&bl, algorithms[a], &set);
		balance_set_max_active(2);
		set.items[0]->active = 2;
		set.items[1]->active = 5;	/* over: the cap was lowered */
		set.items[2]->active = 1;
		for (int i = 0; i < 200; i++) {
			struct balance_request r = fixture_request(i % 3 ? i : -1, NOW);
			struct backend *b = balance_pick(&bl, &set, &r);

			if (!b || (b != set.items[2] && b != set.items[3]))
				fail_msg("%s: request %d picked %s", algorithms[a], i, b ? b->name : "none");
		}
		/* every one full: nothing in any tier */
		set.items[2]->active = set.items[3]->active = 2;
		for (int i = 0; i < 20; i++) {
			struct balance_request r = fixture_request(i, NOW);

			r.tried[0] = set.items[0];	/* even an already tried one */
			r.ntried = 1;
			assert_null(balance_pick(&bl, &set, &r));
		}
		/* no cap: all of them again */
		balance_set_max_active(0);
		{
			struct balance_request r = fixture_request(1, NOW);

			assert_non_null(balance_pick(&bl, &set, &r));
		}
		for (size_t i = 0; i < set.n; i++)
			set.items[i]->active = 0;
		balancer_release(&bl);
		backend_set_release(&set);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_full_backends_are_skipped),
	};

	return cmocka_run_group_tests_name("balance cap", tests, NULL, NULL);
}
