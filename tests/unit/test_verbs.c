/* Unit tests for common/verbs.c: the verb table lb-ctl, the control socket
 * and the admin API share. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "bus_protocol.h"
#include "verbs.h"

static void test_every_row_is_complete(void **state)
{
	(void)state;
	assert_true(verbs_count >= 8);
	for (unsigned i = 0; i < verbs_count; i++) {
		const struct verb *v = &verbs[i];

		assert_non_null(v->name);
		assert_true(strlen(v->name) < BUS_COMMAND_MAX);
		/* the usage starts with the name; ADDR is there when it is taken */
		assert_int_equal(strncmp(v->usage, v->name, strlen(v->name)), 0);
		assert_true(!(v->args & VERB_ADDRESS) || strstr(v->usage, "ADDR"));
		assert_true(!(v->args & VERB_OPT_WAIT) || strstr(v->usage, "--wait"));
		assert_true(v->help[0] != '\0');
		/* a write names a backend, and goes to lb-discover */
		assert_true(!v->writes || ((v->args & VERB_ADDRESS) && v->command));
		/* a verb that names a backend is lb-discover's */
		assert_true(!(v->args & VERB_ADDRESS) || v->command);
		/* every write is on the admin API, under /admin/, with a method */
		assert_true(!v->writes || (v->http_method && v->http_path));
		assert_true(!v->http_path || strncmp(v->http_path, "/admin/", 7) == 0);
		assert_true(!v->http_path == !v->http_method);
		assert_ptr_equal(verbs_find(v->name), v);
	}
}

static void test_find(void **state)
{
	(void)state;
	assert_string_equal(verbs_find("drain")->command, "drain");
	assert_string_equal(verbs_find("proxies")->command, "status");
	assert_null(verbs_find("watch")->command);
	assert_null(verbs_find("frobnicate"));
	assert_null(verbs_find(""));
}

static void test_help_lists_every_verb(void **state)
{
	char text[2048];
	(void)state;

	verbs_format_help(text, sizeof(text));
	for (unsigned i = 0; i < verbs_count; i++) {
		char line[128];

		snprintf(line, sizeof(line), "  %s", verbs[i].usage);
		assert_non_null(strstr(text, line));
	}
	verbs_format_help(text, 10);	/* cut, still terminated */
	assert_true(strlen(text) < 10);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_row_is_complete),
		cmocka_unit_test(test_find),
		cmocka_unit_test(test_help_lists_every_verb),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
