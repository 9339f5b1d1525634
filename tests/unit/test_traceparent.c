/* Unit tests for common/traceparent.c: W3C Trace Context
 * (https://www.w3.org/TR/trace-context/), each case naming its section. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "traceparent.h"

#define TP "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"

static int parse(const char *s, struct trace_context *c)
{
	return traceparent_parse(s, strlen(s), c);
}

/* 3.2.2: the version-00 example, read and written back the same. */
static void test_version_00_round_trips(void **state)
{
	struct trace_context c;
	char out[TRACEPARENT_LEN + 1];
	(void)state;

	assert_int_equal(parse(TP, &c), 0);
	assert_int_equal(c.trace_id[0], 0x4b);
	assert_int_equal(c.span_id[7], 0xb7);
	assert_int_equal(c.flags, TRACE_FLAG_SAMPLED);
	assert_int_equal(traceparent_format(&c, out), TRACEPARENT_LEN);
	assert_string_equal(out, TP);
}

/* Every value here must start a new trace (-1). */
static void test_invalid_values_are_refused(void **state)
{
	static const char *const bad[] = {
		"",
		/* 3.2.2.2: version ff is forbidden */
		"ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
		/* 3.2.2: HEXDIGLC: upper case is not hex here */
		"00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
		"00-4bf92f3577b34da6a3ce929d0e0e4736-00F067AA0BA902B7-01",
		"0A-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
		/* 3.2.2.3: an all-zero trace-id */
		"00-00000000000000000000000000000000-00f067aa0ba902b7-01",
		/* 3.2.2.4: an all-zero parent-id */
		"00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
		/* 3.2.4: version 00 is exactly 55 characters */
		"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-",
		"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0",
		"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01 ",
		/* 3.2.2: the dashes where they belong */
		"00_4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
		"00-4bf92f3577b34da6a3ce929d0e0e4736_00f067aa0ba902b7-01",
		"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7_01",
		"00-4bf92f3577b34da6a3ce929d0e0e473-600f067aa0ba902b7-01",
		"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0g",
		/* 3.2.4: a later version shorter than 55, or not a dash after 55 */
		"01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0",
		"01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01x",
		"01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01.what-the-future-will-be-like",
	};
	struct trace_context c;
	(void)state;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (parse(bad[i], &c) != -1)
			fail_msg("accepted %s", bad[i]);
}

/* 3.2.4: a later version is read at version 00's places, with whatever
 * follows a dash; it goes on as version 00 (3.2.4: the highest we know). */
static void test_future_version_is_read_as_00(void **state)
{
	struct trace_context c;
	char out[TRACEPARENT_LEN + 1];
	(void)state;

	assert_int_equal(parse("cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-what-the-future-will-be-like", &c), 0);
	traceparent_format(&c, out);
	assert_string_equal(out, TP);
	assert_int_equal(parse("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00", &c), 0);
	assert_int_equal(c.flags, 0);
}

/* 3.2.2.5: flags other than sampled are not ours to pass on; sampled is
 * read from bit 0 whatever the others. */
static void test_only_the_sampled_flag_is_kept(void **state)
{
	struct trace_context c;
	(void)state;

	assert_int_equal(parse("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-ff", &c), 0);
	assert_int_equal(c.flags, TRACE_FLAG_SAMPLED);
	assert_int_equal(parse("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-02", &c), 0);
	assert_int_equal(c.flags, 0);
}

static const char *state_of(const char *const *fields, size_t n, char *out)
{
	struct tracestate ts = { 0 };

	for (size_t i = 0; i < n; i++)
		tracestate_add(&ts, fields[i], strlen(fields[i]));
	tracestate_format(&ts, out);
	return out;
}

/* 3.3.1: members joined by ",", spaces and tabs around them dropped,
 * empty members skipped (3.3.1.1), two fields combined in order. */
static void test_tracestate_combined_and_trimmed(void **state)
{
	static const char *const f[] = { " congo=t61rcWkgMzE ,\t, rojo=00f067aa0ba902b7 ", "a@b=c" };
	char out[TRACESTATE_MAX + 1];
	(void)state;

	assert_string_equal(state_of(f, 2, out), "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7,a@b=c");
}

/* 3.3.1.3: a member off the grammar, a repeated key or more than 32
 * members: the whole value is dropped. */
static void test_tracestate_invalid_is_dropped(void **state)
{
	static const char *const bad[] = {
		"Congo=1",		/* 3.3.1.3.1: keys are lower case */
		"congo=1,congo=2",	/* keys are unique */
		"congo=a=b",		/* 3.3.1.3.2: no "=" in a value */
		"congo",		/* no value */
		"congo=",		/* a value has at least one character */
		"1congo=x",		/* a simple key starts with a letter */
		"t@0sys=x",		/* a system-id starts with a letter */
		"t@abcdefghijklmno=x",	/* a system-id is 14 characters at most */
		"congo=\x01",
	};
	char out[TRACESTATE_MAX + 1], many[40 * 8];
	const char *f[1];
	size_t n = 0;
	(void)state;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		f[0] = bad[i];
		if (state_of(f, 1, out)[0])
			fail_msg("kept %s", bad[i]);
	}
	for (int i = 0; i < 33; i++)
		n += (size_t)snprintf(many + n, sizeof(many) - n, "%sk%d=v", i ? "," : "", i);
	f[0] = many;
	assert_string_equal(state_of(f, 1, out), "");
}

/* 3.3.1.5: past 512 characters, members over 128 go first, then members
 * from the right; the result is at most 512. */
static void test_tracestate_truncated_by_whole_members(void **state)
{
	char big[200], mid[130], out[TRACESTATE_MAX + 1], in[2048];
	const char *f[1] = { in };
	(void)state;

	memset(big, 'b', sizeof(big));
	memcpy(big, "big=", 4);
	big[sizeof(big) - 1] = '\0';			/* 199 characters */
	memset(mid, 'm', sizeof(mid));
	memcpy(mid, "m0=", 3);
	mid[120] = '\0';				/* 120 characters */
	/* first=1 big mid m1 m2 m3: 7 + 199 + 4 x 120 + 5 commas = 691 */
	snprintf(in, sizeof(in), "first=1,%s,%s,%s,%s,%s", big, mid, mid, mid, mid);
	in[8 + 199 + 1 + 1] = '1';	/* keys m0, m1, m2, m3 */
	in[8 + 199 + 1 + 121 + 1] = '2';
	in[8 + 199 + 1 + 242 + 1] = '3';
	state_of(f, 1, out);
	/* big goes (over 128): 491 left, under 512 */
	assert_int_equal(strlen(out), 7 + 4 * 120 + 4);
	assert_null(strstr(out, "big="));
	/* now with no long member: from the right */
	snprintf(in, sizeof(in), "first=1,%s,%s,%s,%s,%s", mid, mid, mid, mid, mid);
	for (int i = 1; i < 5; i++)
		in[8 + 121 * i + 1] = (char)('0' + i);
	state_of(f, 1, out);
	assert_true(strlen(out) <= TRACESTATE_MAX);
	assert_non_null(strstr(out, "m3="));
	assert_null(strstr(out, "m4="));
	assert_int_equal(strncmp(out, "first=1,", 8), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_version_00_round_trips),
		cmocka_unit_test(test_invalid_values_are_refused),
		cmocka_unit_test(test_future_version_is_read_as_00),
		cmocka_unit_test(test_only_the_sampled_flag_is_kept),
		cmocka_unit_test(test_tracestate_combined_and_trimmed),
		cmocka_unit_test(test_tracestate_invalid_is_dropped),
		cmocka_unit_test(test_tracestate_truncated_by_whole_members),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
