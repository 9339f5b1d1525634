/* Unit tests for workers (lb-proxy/control/workers.c): --workers N|auto, and
 * the variable a supervisor hands its workers' descriptors in. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>

#include "control/workers.h"

static void test_count(void **state)
{
	static const struct {
		const char *spec;
		int rc;
		unsigned n;
	} cases[] = {
		{ "1", 0, 1 }, { "2", 0, 2 }, { "256", 0, WORKERS_MAX },
		{ "0", -1, 0 }, { "257", -1, 0 }, { "-1", -1, 0 }, { "", -1, 0 },
		{ "2x", -1, 0 }, { "many", -1, 0 }, { " 2", -1, 0 }, { "99999999999999999999", -1, 0 },
	};
	char err[256];
	(void)state;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		unsigned n = 0;

		err[0] = '\0';
		assert_int_equal(workers_count(cases[i].spec, &n, err, sizeof(err)), cases[i].rc);
		if (cases[i].rc == 0)
			assert_int_equal(n, cases[i].n);
		else
			assert_non_null(strstr(err, "--workers must be a number between 1 and 256, or auto"));
	}
}

/* auto: the CPUs of this process's affinity mask, as taskset narrows it */
static void test_auto_follows_the_affinity(void **state)
{
	cpu_set_t set;
	unsigned n = 0;
	char err[256];
	(void)state;

	assert_int_equal(sched_getaffinity(0, sizeof(set), &set), 0);
	assert_int_equal(workers_count("auto", &n, err, sizeof(err)), 0);
	assert_int_equal(n, (unsigned)CPU_COUNT(&set));
}

static void test_inherited(void **state)
{
	struct worker_inherited w;
	(void)state;

	unsetenv(WORKERS_ENV);
	assert_int_equal(workers_inherited(&w), 0);
	assert_int_equal(w.index, -1);
	setenv(WORKERS_ENV, "1 5 -1 7 9", 1);
	assert_int_equal(workers_inherited(&w), 1);
	assert_int_equal(w.index, 1);
	assert_int_equal(w.listen_fd[0], 5);
	assert_int_equal(w.nlisten, 1);
	assert_int_equal(w.admin_fd, 7);
	assert_int_equal(w.ready_fd, 9);
	assert_null(getenv(WORKERS_ENV));	/* taken: not passed on */
	setenv(WORKERS_ENV, "1 5 6", 1);
	assert_int_equal(workers_inherited(&w), -1);
	assert_int_equal(w.index, -1);
	setenv(WORKERS_ENV, "-3 5 -1 7 9", 1);
	assert_int_equal(workers_inherited(&w), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_count),
		cmocka_unit_test(test_auto_follows_the_affinity),
		cmocka_unit_test(test_inherited),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
