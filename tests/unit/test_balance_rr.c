/* Unit tests for lb-proxy/upstream/balance_rr.c: smooth weighted round-robin. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "upstream/balance.h"
#include "upstream/balance_rr.h"
#include "fixture.h"

#define NOW 1000.0

/* The sequence of picks as letters, a being the set's first backend. */
static void picks(struct balancer *bl, const struct backend_set *set,
		  struct balance_request *r, char *out, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		struct backend *b = balance_pick(bl, set, r);

		assert_non_null(b);
		out[i] = (char)('a' + fixture_index(set, b));
	}
	out[n] = '\0';
}

static void test_sequences(void **state)
{
	static const struct {
		int weights[3];
		const char *want;
	} cases[] = {
		{ { 1, 1, 1 }, "abcabcabcabc" },
		{ { 5, 1, 1 }, "aabacaaaabacaa" },
		{ { 2, 1, 1 }, "abcaabca" },
		{ { 1, 2, 3 }, "cbacbccbacbc" },
	};
	(void)state;

	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		struct backend_set set;
		struct balancer bl;
		struct balance_request r = { .now = NOW };
		char got[32];

		fixture_set(&set, 3, cases[c].weights);
		fixture_balancer(&bl, "round-robin", &set);
		picks(&bl, &set, &r, got, strlen(cases[c].want));
		assert_string_equal(got, cases[c].want);
		balancer_release(&bl);
		backend_set_release(&set);
	}
}

static void test_thirty_over_three_is_exact(void **state)
{
	struct backend_set set;
	struct balancer bl;
	struct balance_request r = { .now = NOW };
	unsigned counts[3] = { 0 };
	(void)state;

	fixture_set(&set, 3, NULL);
	fixture_balancer(&bl, "round-robin", &set);
	fixture_count(&bl, &set, &r, 30, counts);
	assert_int_equal(counts[0], 10);
	assert_int_equal(counts[1], 10);
	assert_int_equal(counts[2], 10);
	balancer_release(&bl);
	backend_set_release(&set);
}

/* One case over four equal backends a, b, c, d, from a fresh rotation. */
struct eligibility_case {
	const char *what;
	const char *states;	/* per backend: u up, r draining, d down, f up but failed */
	const char *tried;	/* backends this request tried */
	double now;
	const char *want;	/* the picks, in order */
	enum balance_tier tier;
};

static const struct eligibility_case eligibility_cases[] = {
	{ "down and failed skipped", "udfu", "", NOW, "adad", BALANCE_TIER_UP },
	{ "tried skipped", "udfu", "d", NOW, "aaa", BALANCE_TIER_UP },
	{ "failure expired", "udfu", "", NOW + 1, "acdacd", BALANCE_TIER_UP },
	{ "up before draining", "rrud", "", NOW, "ccc", BALANCE_TIER_UP },
	{ "draining when nothing is up", "rrdf", "", NOW, "abab", BALANCE_TIER_DRAINING },
	{ "untried first", "uuud", "ab", NOW, "ccc", BALANCE_TIER_UP },
	{ "draining before tried", "uurd", "ab", NOW, "ccc", BALANCE_TIER_DRAINING },
	{ "tried only last", "uuud", "abc", NOW, "abcabc", BALANCE_TIER_TRIED },
};

static void test_eligibility(void **state)
{
	(void)state;
	for (size_t c = 0; c < sizeof(eligibility_cases) / sizeof(eligibility_cases[0]); c++) {
		const struct eligibility_case *ec = &eligibility_cases[c];
		struct backend_set set;
		struct balancer bl;
		struct balance_request r = { .now = ec->now };
		char got[16];

		fixture_set(&set, 4, NULL);
		for (size_t i = 0; i < 4; i++) {
			char st = ec->states[i];

			set.items[i]->state = st == 'r' ? BACKEND_DRAINING :
					      st == 'd' ? BACKEND_DOWN : BACKEND_UP;
			set.items[i]->fail_until = st == 'f' ? NOW + 1 : 0;
		}
		for (const char *t = ec->tried; *t; t++)
			r.tried[r.ntried++] = set.items[*t - 'a'];
		fixture_balancer(&bl, "round-robin", &set);
		picks(&bl, &set, &r, got, strlen(ec->want));
		if (strcmp(got, ec->want) != 0)
			print_message("%s: got %s\n", ec->what, got);
		assert_string_equal(got, ec->want);
		assert_int_equal(r.tier, ec->tier);
		balancer_release(&bl);
		backend_set_release(&set);
	}
}

static void test_slow_start_holds_back_a_new_backend(void **state)
{
	struct backend_set set;
	struct balancer bl;
	struct balance_request r = { .now = NOW };
	unsigned early[2] = { 0 }, late[2] = { 0 };
	(void)state;

	fixture_set(&set, 2, NULL);
	fixture_balancer(&bl, "round-robin", &set);
	balance_set_slow_start(10);
	set.items[1]->up_since = NOW;		/* weight 0.1 now, 0.5 at +5 s */
	fixture_count(&bl, &set, &r, 1100, early);
	r.now = NOW + 5;
	fixture_count(&bl, &set, &r, 1500, late);
	balance_set_slow_start(0);
	assert_int_equal(early[1], 100);
	assert_int_equal(late[1], 500);
	balancer_release(&bl);
	backend_set_release(&set);
}

/* The functions session.c and admin.c call until they use balance_pick(). */
static void test_legacy_next_and_peek(void **state)
{
	struct backend_set set;
	int weights[] = { 5, 1, 1 };
	char got[16];
	(void)state;

	fixture_set(&set, 3, weights);
	for (int i = 0; i < 7; i++) {
		struct backend *peeked = balance_rr_peek(&set, NOW, 0);
		struct backend *b = balance_rr_next(&set, NULL, NOW);

		assert_ptr_equal(peeked, b);
		got[i] = (char)('a' + fixture_index(&set, b));
	}
	got[7] = '\0';
	assert_string_equal(got, "aabacaa");
	for (int i = 0; i < 3; i++)
		assert_ptr_not_equal(balance_rr_next(&set, set.items[0], NOW), set.items[0]);
	set.items[1]->state = BACKEND_DOWN;
	set.items[2]->fail_until = NOW + 1;
	assert_null(balance_rr_next(&set, set.items[0], NOW));
	assert_ptr_equal(balance_rr_peek(&set, NOW, 0), set.items[0]);
	backend_set_release(&set);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sequences),
		cmocka_unit_test(test_thirty_over_three_is_exact),
		cmocka_unit_test(test_eligibility),
		cmocka_unit_test(test_slow_start_holds_back_a_new_backend),
		cmocka_unit_test(test_legacy_next_and_peek),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
