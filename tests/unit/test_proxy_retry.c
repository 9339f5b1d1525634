/* Unit tests for lb-proxy/policy/retry.c: --retry-on lists, which statuses retry,
 * the retry budget and the jittered backoff. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "policy/retry.h"

#define BIT(r) (1u << (r))

static const struct {
	const char *list;
	int ok;
	unsigned on;
} lists[] = {
	{ "connect-failure,reset", 1, RETRY_ON_DEFAULT },
	{ "connect-failure", 1, BIT(RETRY_CONNECT_FAILURE) },
	{ "timeout, gateway-error ,5xx", 1, BIT(RETRY_TIMEOUT) | BIT(RETRY_GATEWAY_ERROR) | BIT(RETRY_5XX) },
	{ "reset,reset", 1, BIT(RETRY_RESET) },
	{ "connect-failure,reset,timeout,gateway-error,5xx", 1, 0x1f },
	{ "", 0, 0 },
	{ "reset,", 0, 0 },
	{ ",reset", 0, 0 },
	{ "resets", 0, 0 },
	{ "Reset", 0, 0 },
	{ "502", 0, 0 },
	{ "connect-failure;reset", 0, 0 },
};

static void test_retry_on_parse(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(lists) / sizeof(lists[0]); i++) {
		unsigned on = 0xdead;
		char err[256] = "";
		int rc = retry_on_parse(lists[i].list, &on, err, sizeof(err));

		if (lists[i].ok) {
			if (rc != 0 || on != lists[i].on)
				fail_msg("\"%s\": rc %d on %#x, want %#x (%s)", lists[i].list, rc, on,
					 lists[i].on, err);
		} else {
			if (rc != -1)
				fail_msg("\"%s\" parsed as %#x, want an error", lists[i].list, on);
			assert_non_null(strstr(err, "is not one of"));
			assert_int_equal(on, 0xdead);
		}
	}
}

static void test_status_reason(void **state)
{
	unsigned gw = BIT(RETRY_GATEWAY_ERROR), any = BIT(RETRY_5XX);
	(void)state;

	assert_int_equal(retry_status_reason(RETRY_ON_DEFAULT, 503), -1);
	assert_int_equal(retry_status_reason(gw, 502), RETRY_GATEWAY_ERROR);
	assert_int_equal(retry_status_reason(gw, 503), RETRY_GATEWAY_ERROR);
	assert_int_equal(retry_status_reason(gw, 504), RETRY_GATEWAY_ERROR);
	assert_int_equal(retry_status_reason(gw, 500), -1);
	assert_int_equal(retry_status_reason(gw, 501), -1);
	assert_int_equal(retry_status_reason(any, 500), RETRY_5XX);
	assert_int_equal(retry_status_reason(any, 503), RETRY_5XX);
	assert_int_equal(retry_status_reason(any, 599), RETRY_5XX);
	assert_int_equal(retry_status_reason(gw | any, 503), RETRY_GATEWAY_ERROR);
	assert_int_equal(retry_status_reason(gw | any, 500), RETRY_5XX);
	assert_int_equal(retry_status_reason(gw | any, 404), -1);
	assert_int_equal(retry_status_reason(gw | any, 200), -1);
	assert_int_equal(retry_status_reason(gw | any, 600), -1);
	assert_string_equal(retry_status_word(503), "status-503");
	assert_string_equal(retry_status_word(500), "status-500");
	assert_ptr_equal(retry_status_word(503), retry_status_word(503));
}

static void test_budget(void **state)
{
	struct retry_policy p = { .budget_percent = 20 };
	(void)state;

	/* The floor: 3 retries in flight whatever the load. */
	assert_true(retry_budget_allows(&p, 0, 1));
	assert_true(retry_budget_allows(&p, 2, 1));
	assert_false(retry_budget_allows(&p, 3, 1));
	assert_false(retry_budget_allows(&p, 3, 15));
	/* 20% of 100 in flight: 20. */
	assert_true(retry_budget_allows(&p, 19, 100));
	assert_false(retry_budget_allows(&p, 20, 100));
	p.budget_percent = 0;
	assert_true(retry_budget_allows(&p, 2, 1000));
	assert_false(retry_budget_allows(&p, 3, 1000));
	p.budget_percent = 100;
	assert_true(retry_budget_allows(&p, 999, 1000));
	assert_false(retry_budget_allows(&p, 1000, 1000));
}

static void test_backoff(void **state)
{
	struct retry_policy p = { .backoff_base = 0.025, .backoff_max = 0.25 };
	(void)state;

	/* Full jitter: random in [0, min(max, base * 2^n)). */
	assert_float_equal(retry_backoff(&p, 0, 0.0), 0.0, 1e-12);
	assert_float_equal(retry_backoff(&p, 0, 0.5), 0.0125, 1e-12);
	assert_float_equal(retry_backoff(&p, 1, 0.5), 0.025, 1e-12);
	assert_float_equal(retry_backoff(&p, 2, 0.5), 0.05, 1e-12);
	assert_float_equal(retry_backoff(&p, 3, 0.999), 0.2 * 0.999, 1e-12);
	assert_float_equal(retry_backoff(&p, 4, 0.999), 0.25 * 0.999, 1e-12);
	assert_float_equal(retry_backoff(&p, 1000, 0.5), 0.125, 1e-12);
	assert_true(retry_backoff(&p, 0, 0.9999) < 0.025);
	p.backoff_base = 0;
	assert_float_equal(retry_backoff(&p, 3, 0.9), 0.0, 1e-12);
}

static void test_names(void **state)
{
	(void)state;
	for (int r = 0; r < RETRY_REASONS; r++) {
		unsigned on = 0;
		char err[256];

		assert_int_equal(retry_on_parse(retry_reason_name((enum retry_reason)r), &on, err,
						sizeof(err)), 0);
		assert_int_equal(on, BIT(r));
		assert_non_null(strstr(retry_reason_names(), retry_reason_name((enum retry_reason)r)));
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_retry_on_parse),
		cmocka_unit_test(test_status_reason),
		cmocka_unit_test(test_budget),
		cmocka_unit_test(test_backoff),
		cmocka_unit_test(test_names),
	};

	return cmocka_run_group_tests_name("retry", tests, NULL, NULL);
}
