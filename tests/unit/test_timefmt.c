/* Unit tests for common/timefmt.c: the log's timestamp, formatted once a
 * second and its milliseconds each call, reads as the clock does. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <ctype.h>
#include <string.h>
#include <time.h>

#include "timefmt.h"

/* "2026-11-21T10:30:00.123Z": 24 bytes, digits where digits go. */
static void assert_iso_ms_shape(const char *s, size_t n)
{
	static const char shape[] = "dddd-dd-ddTdd:dd:dd.dddZ";

	assert_int_equal(n, strlen(shape));
	assert_int_equal(strlen(s), n);
	for (size_t i = 0; i < n; i++)
		if (shape[i] == 'd')
			assert_true(isdigit((unsigned char)s[i]));
		else
			assert_int_equal(s[i], shape[i]);
}

static void test_iso_ms_reads_as_the_clock(void **state)
{
	(void)state;

	for (int i = 0; i < 2000; i++) {
		char got[32], want[32];
		struct timespec before, after;
		struct tm tm;
		size_t n;

		clock_gettime(CLOCK_REALTIME, &before);
		n = timefmt_iso_ms(got);
		clock_gettime(CLOCK_REALTIME, &after);
		assert_iso_ms_shape(got, n);
		if (before.tv_sec != after.tv_sec)
			continue;	/* a second turned over in between: either is right */
		gmtime_r(&before.tv_sec, &tm);
		strftime(want, sizeof(want), "%Y-%m-%dT%H:%M:%S", &tm);
		assert_memory_equal(got, want, 19);
		long ms = (got[20] - '0') * 100 + (got[21] - '0') * 10 + (got[22] - '0');
		assert_true(ms >= before.tv_nsec / 1000000 && ms <= after.tv_nsec / 1000000);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_iso_ms_reads_as_the_clock),
	};
	return cmocka_run_group_tests_name("timefmt", tests, NULL, NULL);
}
