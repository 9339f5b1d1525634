/* Unit tests for lb-proxy/upstream/balance.c: the table, tiers for every algorithm,
 * slow start, the hash and the generator. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "upstream/balance.h"
#include "upstream/balance_table.h"
#include "fixture.h"

static const char *const algorithms[] = {
	"round-robin", "least-request", "random", "maglev", "ring-hash",
};
#define NALGORITHMS (sizeof(algorithms) / sizeof(algorithms[0]))
#define NOW 1000.0
/* balance_hash() of "" and "key-1", computed apart (FNV-1a 64, ^ length,
 * murmur3 fmix64): changing them remaps every hashed key of a fleet. */
#define HASH_EMPTY 0xefd01f60ba992926ULL
#define HASH_KEY_1 0x0ff1b8c57b0fd100ULL

static void test_find_and_names(void **state)
{
	(void)state;
	for (size_t i = 0; i < NALGORITHMS; i++) {
		const struct balance_ops *ops = balance_find(algorithms[i]);

		assert_non_null(ops);
		assert_string_equal(ops->name, algorithms[i]);
		assert_non_null(ops->build);
		assert_non_null(ops->release);
		assert_non_null(ops->pick);
	}
	assert_null(balance_find("leastconn"));
	assert_null(balance_find(""));
	assert_string_equal(balance_names(), "round-robin, least-request, random, maglev, ring-hash");
}

/* Rebuilding keeps picking, across set changes and algorithm switches
 * (ASan checks each old state is released). */
static void test_rebuild_and_switch(void **state)
{
	struct backend_set set, two;
	struct balancer bl = { 0 };
	static const size_t first_two[] = { 0, 1 };
	(void)state;

	fixture_set(&set, 3, NULL);
	fixture_subset(&two, &set, first_two, 2);
	for (size_t round = 0; round < 2; round++) {
		for (size_t i = 0; i < NALGORITHMS; i++) {
			const struct backend_set *s = i % 2 ? &two : &set;
			struct balance_request r = fixture_request((int)i, NOW);

			assert_int_equal(balancer_rebuild(&bl, balance_find(algorithms[i]), s), 0);
			assert_int_equal(balancer_rebuild(&bl, bl.ops, s), 0);
			assert_ptr_equal(bl.ops, balance_find(algorithms[i]));
			assert_true(fixture_index(s, balance_pick(&bl, s, &r)) >= 0);
		}
	}
	balancer_release(&bl);
	assert_null(bl.ops);
	assert_null(bl.state);
	backend_set_release(&two);
	backend_set_release(&set);
}

static void test_empty_set_picks_nothing(void **state)
{
	struct backend_set set;
	(void)state;

	fixture_set(&set, 0, NULL);
	for (size_t i = 0; i < NALGORITHMS; i++) {
		struct balancer bl;

		for (int key = -1; key < 3; key++) {
			struct balance_request r = fixture_request(key, NOW);

			fixture_balancer(&bl, algorithms[i], &set);
			assert_null(balance_pick(&bl, &set, &r));
			balancer_release(&bl);
		}
	}
	backend_set_release(&set);
}

/* One case of tiers: two or three backends in given states, some tried. */
struct tier_case {
	const char *what;
	enum backend_state states[3];
	int failed[3];		/* fail_until in the future */
	int tried[3];
	int want;		/* index picked, -1: none */
	enum balance_tier tier;
};

static const struct tier_case tier_cases[] = {
	{ "up beats draining and down", { BACKEND_UP, BACKEND_DRAINING, BACKEND_DOWN },
	  { 0, 0, 0 }, { 0, 0, 0 }, 0, BALANCE_TIER_UP },
	{ "failed is skipped", { BACKEND_UP, BACKEND_UP, BACKEND_DOWN },
	  { 1, 0, 0 }, { 0, 0, 0 }, 1, BALANCE_TIER_UP },
	{ "tried is skipped", { BACKEND_UP, BACKEND_UP, BACKEND_DOWN },
	  { 0, 0, 0 }, { 0, 1, 0 }, 0, BALANCE_TIER_UP },
	{ "draining when nothing is up", { BACKEND_DOWN, BACKEND_DRAINING, BACKEND_UP },
	  { 0, 0, 1 }, { 0, 0, 0 }, 1, BALANCE_TIER_DRAINING },
	{ "draining before tried", { BACKEND_UP, BACKEND_DRAINING, BACKEND_DOWN },
	  { 0, 0, 0 }, { 1, 0, 0 }, 1, BALANCE_TIER_DRAINING },
	{ "tried last", { BACKEND_UP, BACKEND_DRAINING, BACKEND_DOWN },
	  { 0, 0, 0 }, { 1, 1, 0 }, 0, BALANCE_TIER_TRIED },
	{ "tried but failed: none", { BACKEND_UP, BACKEND_DOWN, BACKEND_DOWN },
	  { 1, 0, 0 }, { 1, 0, 0 }, -1, BALANCE_TIER_UP },
	{ "all down: none", { BACKEND_DOWN, BACKEND_DOWN, BACKEND_DOWN },
	  { 0, 0, 0 }, { 0, 0, 0 }, -1, BALANCE_TIER_UP },
	{ "draining and tried: none", { BACKEND_DRAINING, BACKEND_DOWN, BACKEND_DOWN },
	  { 0, 0, 0 }, { 1, 0, 0 }, -1, BALANCE_TIER_UP },
};

static void test_tiers_every_algorithm(void **state)
{
	(void)state;
	for (size_t c = 0; c < sizeof(tier_cases) / sizeof(tier_cases[0]); c++) {
		const struct tier_case *tc = &tier_cases[c];
		struct backend_set set;

		fixture_set(&set, 3, NULL);
		for (size_t i = 0; i < 3; i++) {
			set.items[i]->state = tc->states[i];
			set.items[i]->fail_until = tc->failed[i] ? NOW + 5 : 0;
		}
		for (size_t a = 0; a < NALGORITHMS; a++) {
			struct balancer bl;

			fixture_balancer(&bl, algorithms[a], &set);
			/* unkeyed, and keys that land anywhere */
			for (int key = -1; key < 50; key++) {
				struct balance_request r = fixture_request(key, NOW);
				struct backend *b;

				for (size_t i = 0; i < 3; i++)
					if (tc->tried[i])
						r.tried[r.ntried++] = set.items[i];
				b = balance_pick(&bl, &set, &r);
				if (tc->want == -1) {
					if (b)
						print_message("%s, %s: picked %s\n", tc->what,
							      algorithms[a], b->name);
					assert_null(b);
					continue;
				}
				if (b != set.items[tc->want] || r.tier != tc->tier)
					print_message("%s, %s: picked %s in tier %d\n", tc->what,
						      algorithms[a], b ? b->name : "none", r.tier);
				assert_ptr_equal(b, set.items[tc->want]);
				assert_int_equal(r.tier, tc->tier);
			}
			balancer_release(&bl);
		}
		backend_set_release(&set);
	}
}

static void test_eligible(void **state)
{
	struct backend_set set;
	struct balance_request r = fixture_request(-1, NOW);
	(void)state;

	fixture_set(&set, 2, NULL);
	r.tier = BALANCE_TIER_UP;
	assert_true(balance_eligible(set.items[0], &r));
	set.items[0]->fail_until = NOW;		/* until now: usable again */
	assert_true(balance_eligible(set.items[0], &r));
	set.items[0]->fail_until = NOW + 0.001;
	assert_false(balance_eligible(set.items[0], &r));
	r.tier = BALANCE_TIER_TRIED;
	assert_false(balance_eligible(set.items[0], &r));
	set.items[0]->fail_until = 0;
	r.tried[r.ntried++] = set.items[0];
	assert_true(balance_eligible(set.items[0], &r));
	r.tier = BALANCE_TIER_UP;
	assert_false(balance_eligible(set.items[0], &r));
	assert_true(balance_eligible(set.items[1], &r));
	r.tier = BALANCE_TIER_DRAINING;
	assert_false(balance_eligible(set.items[1], &r));
	set.items[1]->state = BACKEND_DRAINING;
	assert_true(balance_eligible(set.items[1], &r));
	backend_set_release(&set);
}

static void test_slow_start_ramps(void **state)
{
	static const struct { double since, now, want; } steps[] = {
		{ 0, NOW, 4 },			/* up_since 0: full weight */
		{ NOW, NOW, 0.4 },		/* just up: one second's share */
		{ NOW, NOW + 0.5, 0.4 },
		{ NOW, NOW + 1, 0.4 },
		{ NOW, NOW + 2.5, 1 },
		{ NOW, NOW + 5, 2 },
		{ NOW, NOW + 9, 3.6 },
		{ NOW, NOW + 10, 4 },
		{ NOW, NOW + 1000, 4 },
	};
	struct backend_set set;
	int weights[] = { 4 };
	(void)state;

	fixture_set(&set, 1, weights);
	balance_set_slow_start(10);
	for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		set.items[0]->up_since = steps[i].since;
		assert_float_equal(balance_weight(set.items[0], steps[i].now), steps[i].want, 1e-9);
	}
	set.items[0]->up_since = NOW;
	balance_set_slow_start(0);
	assert_float_equal(balance_weight(set.items[0], NOW), 4, 0);
	set.items[0]->weight = 0;		/* never below 1 */
	assert_float_equal(balance_weight(set.items[0], NOW), 1, 0);
	backend_set_release(&set);
}

static void test_hash_is_fixed_and_mixes(void **state)
{
	uint64_t a = balance_hash("key-1", 5), flips = 0;
	(void)state;

	assert_true(a != balance_hash("key-2", 5));
	assert_true(balance_hash("", 0) == HASH_EMPTY);
	assert_true(a == HASH_KEY_1);
	/* Avalanche: one flipped input bit flips about half the output bits. */
	for (int k = 0; k < 1000; k++) {
		unsigned char key[8];

		memcpy(key, &k, sizeof(k));
		memset(key + sizeof(k), 0, sizeof(key) - sizeof(k));
		for (int bit = 0; bit < 64; bit++) {
			unsigned char flipped[8];

			memcpy(flipped, key, sizeof(key));
			flipped[bit / 8] ^= (unsigned char)(1u << (bit % 8));
			flips += (uint64_t)__builtin_popcountll(balance_hash(key, 8) ^
							       balance_hash(flipped, 8));
		}
	}
	print_message("hash avalanche: %.2f of 64 bits flip per input bit\n", flips / 64000.0);
	assert_true(flips / 64000.0 > 31 && flips / 64000.0 < 33);
}

static void test_random_in_unit_interval(void **state)
{
	double sum = 0;
	(void)state;

	for (int i = 0; i < 100000; i++) {
		double x = balance_random();

		assert_true(x >= 0 && x < 1);
		sum += x;
	}
	assert_true(sum / 100000 > 0.49 && sum / 100000 < 0.51);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_find_and_names),
		cmocka_unit_test(test_rebuild_and_switch),
		cmocka_unit_test(test_empty_set_picks_nothing),
		cmocka_unit_test(test_tiers_every_algorithm),
		cmocka_unit_test(test_eligible),
		cmocka_unit_test(test_slow_start_ramps),
		cmocka_unit_test(test_hash_is_fixed_and_mixes),
		cmocka_unit_test(test_random_in_unit_interval),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
