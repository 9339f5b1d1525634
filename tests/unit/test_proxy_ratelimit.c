/* Unit tests for lb-proxy/policy/ratelimit.c: the N/s and N/m forms, refill
 * arithmetic, bursts, the fleet share, LRU eviction and a full table. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "policy/ratelimit.h"

static void test_parse(void **state)
{
	static const struct {
		const char *spec;
		int ok;
		double per_second;
		long n;
	} cases[] = {
		{ "10/s", 1, 10, 10 },
		{ "60/m", 1, 1, 60 },
		{ "1/m", 1, 1.0 / 60, 1 },
		{ "1000000000/s", 1, 1e9, 1000000000 },
		{ "1000000001/s", 0, 0, 0 },
		{ "0/s", 0, 0, 0 },
		{ "10", 0, 0, 0 },
		{ "10/h", 0, 0, 0 },
		{ "10/sec", 0, 0, 0 },
		{ "-1/s", 0, 0, 0 },
		{ "1.5/s", 0, 0, 0 },
		{ "/s", 0, 0, 0 },
		{ "", 0, 0, 0 },
		{ " 10/s", 0, 0, 0 },
	};
	(void)state;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		double ps = -1;
		long n = -1;
		char err[256] = "";
		int rc = ratelimit_parse(cases[i].spec, &ps, &n, err, sizeof(err));

		if (rc != (cases[i].ok ? 0 : -1))
			fail_msg("case \"%s\": rc %d", cases[i].spec, rc);
		if (cases[i].ok) {
			if (ps < cases[i].per_second * (1 - 1e-12) || ps > cases[i].per_second * (1 + 1e-12))
				fail_msg("case \"%s\": %g a second", cases[i].spec, ps);
			assert_int_equal(n, cases[i].n);
		} else {
			assert_non_null(strstr(err, "N/s or N/m"));
		}
	}
}

/* Burst B admits B at once, then one per 1/rate seconds. */
static void test_burst_then_refill(void **state)
{
	struct ratelimit rl;
	struct ratelimit_verdict v;
	(void)state;

	assert_int_equal(ratelimit_init(&rl, 2.0, 5, 16), 0);
	for (int i = 0; i < 5; i++) {
		assert_int_equal(ratelimit_take(&rl, 42, 100.0, &v), 1);
		assert_int_equal(v.limit, 5);
		assert_int_equal(v.remaining, 4 - i);
	}
	assert_int_equal(ratelimit_take(&rl, 42, 100.0, &v), 0);
	assert_int_equal(v.remaining, 0);
	assert_int_equal(v.retry_after, 1);	/* 0.5 s, rounded up */
	assert_int_equal(v.reset, 3);		/* 2.5 s to full, rounded up */
	assert_int_equal(rl.limited, 1);
	/* 0.4 s: 0.8 of a token, still refused */
	assert_int_equal(ratelimit_take(&rl, 42, 100.4, &v), 0);
	/* 0.5 s: one token */
	assert_int_equal(ratelimit_take(&rl, 42, 100.5, &v), 1);
	assert_int_equal(ratelimit_take(&rl, 42, 100.5, &v), 0);
	/* a long pause fills the bucket to its burst, never past it */
	for (int i = 0; i < 5; i++)
		assert_int_equal(ratelimit_take(&rl, 42, 1000.0, &v), 1);
	assert_int_equal(ratelimit_take(&rl, 42, 1000.0, &v), 0);
	/* time going backwards (it is monotonic, but) adds nothing */
	assert_int_equal(ratelimit_take(&rl, 42, 999.0, &v), 0);
	ratelimit_release(&rl);
}

/* 3/m: three at once, the fourth waits 20 s. */
static void test_per_minute(void **state)
{
	struct ratelimit rl;
	struct ratelimit_verdict v;
	double ps;
	long n;
	char err[128];
	(void)state;

	assert_int_equal(ratelimit_parse("3/m", &ps, &n, err, sizeof(err)), 0);
	assert_int_equal(ratelimit_init(&rl, ps, (double)n, 16), 0);
	for (int i = 0; i < 3; i++)
		assert_int_equal(ratelimit_take(&rl, 7, 0.0, &v), 1);
	assert_int_equal(ratelimit_take(&rl, 7, 0.0, &v), 0);
	assert_int_equal(v.retry_after, 20);
	assert_int_equal(v.reset, 60);
	assert_int_equal(ratelimit_take(&rl, 7, 19.9, &v), 0);
	assert_int_equal(v.retry_after, 1);
	assert_int_equal(ratelimit_take(&rl, 7, 20.0, &v), 1);
	ratelimit_release(&rl);
}

/* Keys have buckets of their own. */
static void test_keys_apart(void **state)
{
	struct ratelimit rl;
	struct ratelimit_verdict v;
	(void)state;

	assert_int_equal(ratelimit_init(&rl, 1.0, 2, 16), 0);
	assert_int_equal(ratelimit_take(&rl, 1, 0, &v), 1);
	assert_int_equal(ratelimit_take(&rl, 1, 0, &v), 1);
	assert_int_equal(ratelimit_take(&rl, 1, 0, &v), 0);
	assert_int_equal(ratelimit_take(&rl, 2, 0, &v), 1);
	/* same slot (hashes equal modulo the slots), different keys */
	assert_int_equal(ratelimit_take(&rl, 1 + (uint64_t)(rl.mask + 1), 0, &v), 1);
	assert_int_equal(ratelimit_take(&rl, 1 + (uint64_t)(rl.mask + 1), 0, &v), 1);
	assert_int_equal(ratelimit_take(&rl, 1 + (uint64_t)(rl.mask + 1), 0, &v), 0);
	assert_int_equal(ratelimit_take(&rl, 1, 0, &v), 0);
	assert_int_equal(rl.used, 3);
	ratelimit_release(&rl);
}

/* A full table evicts the least recently used key, which comes back with a
 * full bucket; a used key moves to the front. */
static void test_eviction_order(void **state)
{
	struct ratelimit rl;
	struct ratelimit_verdict v;
	(void)state;

	assert_int_equal(ratelimit_init(&rl, 1.0, 1, 3), 0);
	for (uint64_t k = 1; k <= 3; k++)
		assert_int_equal(ratelimit_take(&rl, k, 0, &v), 1);
	assert_int_equal(rl.used, 3);
	assert_int_equal(ratelimit_take(&rl, 1, 0, &v), 0);	/* 1 is now the newest */
	assert_int_equal(ratelimit_take(&rl, 4, 0, &v), 1);	/* evicts 2, the oldest */
	assert_int_equal(rl.evicted, 1);
	assert_null(ratelimit_find(&rl, 2));
	assert_non_null(ratelimit_find(&rl, 1));
	assert_non_null(ratelimit_find(&rl, 3));
	assert_non_null(ratelimit_find(&rl, 4));
	assert_int_equal(ratelimit_take(&rl, 5, 0, &v), 1);	/* evicts 3 */
	assert_null(ratelimit_find(&rl, 3));
	assert_int_equal(ratelimit_take(&rl, 1, 0, &v), 0);	/* 1 kept its empty bucket */
	assert_int_equal(ratelimit_take(&rl, 2, 0, &v), 1);	/* 2 came back full; evicts 4 */
	assert_null(ratelimit_find(&rl, 4));
	assert_int_equal(rl.used, 3);
	assert_int_equal(rl.evicted, 3);
	ratelimit_release(&rl);
}

/* A table of one key, and many more keys than buckets: the table never grows. */
static void test_table_full(void **state)
{
	struct ratelimit rl;
	struct ratelimit_verdict v;
	(void)state;

	assert_int_equal(ratelimit_init(&rl, 1.0, 1, 1), 0);
	assert_int_equal(ratelimit_take(&rl, 9, 0, &v), 1);
	assert_int_equal(ratelimit_take(&rl, 9, 0, &v), 0);
	assert_int_equal(ratelimit_take(&rl, 10, 0, &v), 1);
	assert_null(ratelimit_find(&rl, 9));
	ratelimit_release(&rl);

	assert_int_equal(ratelimit_init(&rl, 1.0, 1, 1000), 0);
	for (uint64_t k = 0; k < 100000; k++)
		assert_int_equal(ratelimit_take(&rl, k * 0x9e3779b97f4a7c15ULL, 0, &v), 1);
	assert_int_equal(rl.used, 1000);
	assert_int_equal(rl.evicted, 99000);
	/* the last 1000 are the ones kept */
	for (uint64_t k = 99000; k < 100000; k++)
		assert_non_null(ratelimit_find(&rl, k * 0x9e3779b97f4a7c15ULL));
	assert_null(ratelimit_find(&rl, 98999 * 0x9e3779b97f4a7c15ULL));
	ratelimit_release(&rl);
	assert_int_equal(ratelimit_init(&rl, 1.0, 1, 0), -1);
	assert_int_equal(ratelimit_init(&rl, 1.0, 1, RATELIMIT_TABLE_MAX + 1), -1);
}

/* Divided among proxies: rate and burst by the count, the burst at least 1;
 * a bucket fuller than the new size is cut when next used. */
static void test_share(void **state)
{
	struct ratelimit rl;
	struct ratelimit_verdict v;
	(void)state;

	assert_int_equal(ratelimit_init(&rl, 10.0, 10, 16), 0);
	assert_int_equal(ratelimit_set_share(&rl, 1), 0);
	assert_int_equal(ratelimit_take(&rl, 1, 0, &v), 1);	/* 9 left */
	assert_int_equal(ratelimit_set_share(&rl, 2), 1);
	assert_true(rl.eff_rate == 5.0 && rl.eff_burst == 5.0);
	assert_int_equal(ratelimit_take(&rl, 1, 0, &v), 1);	/* cut to 5, then 4 left */
	assert_int_equal(v.limit, 5);
	assert_int_equal(v.remaining, 4);
	for (int i = 0; i < 4; i++)
		assert_int_equal(ratelimit_take(&rl, 1, 0, &v), 1);
	assert_int_equal(ratelimit_take(&rl, 1, 0, &v), 0);
	assert_int_equal(v.retry_after, 1);	/* 0.2 s at 5/s */
	assert_int_equal(ratelimit_set_share(&rl, 20), 1);
	assert_true(rl.eff_burst == 1.0 && rl.eff_rate == 0.5);
	assert_int_equal(ratelimit_take(&rl, 2, 0, &v), 1);
	assert_int_equal(ratelimit_take(&rl, 2, 0, &v), 0);
	assert_int_equal(v.retry_after, 2);
	assert_int_equal(ratelimit_set_share(&rl, 0), 1);	/* taken as 1 */
	assert_int_equal(rl.share, 1);
	ratelimit_release(&rl);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_burst_then_refill),
		cmocka_unit_test(test_per_minute),
		cmocka_unit_test(test_keys_apart),
		cmocka_unit_test(test_eviction_order),
		cmocka_unit_test(test_table_full),
		cmocka_unit_test(test_share),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
