/* Unit tests for lb-proxy/http/trace.c's sampler: OpenTelemetry's
 * TraceIdRatioBased (the trace SDK specification: deterministic on the
 * trace id, the ratio of ids it keeps). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "http/trace.h"

static void test_ratio_keeps_its_share_of_ids(void **state)
{
	uint8_t id[16];
	uint64_t x = 0x243f6a8885a308d3ULL;
	unsigned kept = 0, n = 20000;
	(void)state;

	for (unsigned i = 0; i < n; i++) {
		/* splitmix64: ids spread as random ones are */
		uint64_t z = (x += 0x9e3779b97f4a7c15ULL);

		z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
		z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
		z ^= z >> 31;
		memcpy(id, &z, 8);
		memcpy(id + 8, &z, 8);
		kept += (unsigned)trace_ratio_sampled(id, 0.1);
		/* deterministic: a second look agrees, and a larger ratio keeps
		 * whatever a smaller one kept (so every hop keeps the same traces) */
		assert_int_equal(trace_ratio_sampled(id, 0.1), trace_ratio_sampled(id, 0.1));
		if (trace_ratio_sampled(id, 0.1))
			assert_true(trace_ratio_sampled(id, 0.5));
		assert_true(trace_ratio_sampled(id, 1.0));
		assert_false(trace_ratio_sampled(id, 0.0));
	}
	assert_in_range(kept, n / 10 - n / 50, n / 10 + n / 50);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ratio_keeps_its_share_of_ids),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
