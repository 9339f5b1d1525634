/* Unit tests for common/config_show.c: --check-config's table of every
 * setting's value and source, and taking an action flag out of argv. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "config_show.h"

struct opts {
	long port;
	char *service_name;
	char *token_secret;
	double timeout;
	int access_log;
	struct config_list header;
};

static const struct config_field fields[] = {
	{ "port", CONFIG_INT, offsetof(struct opts, port), 1, 65535, NULL, "port" },
	{ "serviceName", CONFIG_STRING, offsetof(struct opts, service_name), 0, 0, NULL, "name" },
	{ "tokenSecret", CONFIG_STRING, offsetof(struct opts, token_secret), 0, 0, NULL, "secret" },
	{ "timeout", CONFIG_DURATION, offsetof(struct opts, timeout), 0.001, 86400, NULL, "s" },
	{ "accessLog", CONFIG_BOOL, offsetof(struct opts, access_log), 0, 0, NULL, "log" },
	{ "addHeader", CONFIG_LIST, offsetof(struct opts, header), 0, 3, NULL, "repeatable" },
};

static const struct config_spec spec = {
	"lb-test", "LB_TEST_", "[options]", fields, sizeof(fields) / sizeof(fields[0]),
};

/* The table config_show writes for argv over `file_text` (NULL: no file). */
static char *shown(const char *file_text, int argc, char **argv, char *file, size_t filesz)
{
	static char out[4096];
	struct opts o = { 8080, "backend", NULL, 5, 1, { { NULL }, 0 } };
	struct config_result res;
	char *full[16] = { "lb-test" };
	int n = 1;
	FILE *fp;

	if (file_text) {
		snprintf(file, filesz, "/tmp/lb-test-show-%d.yaml", (int)getpid());
		fp = fopen(file, "w");
		assert_non_null(fp);
		fputs(file_text, fp);
		fclose(fp);
		full[n++] = "--config";
		full[n++] = file;
	}
	for (int i = 0; i < argc; i++)
		full[n++] = argv[i];
	assert_int_equal(config_load(&spec, &o, n, full, &res), 0);
	fp = fmemopen(out, sizeof(out), "w");
	assert_non_null(fp);
	config_show(fp, &spec, &o, &res);
	fclose(fp);
	config_result_release(&res);
	if (file_text)
		unlink(file);
	return out;
}

/* The line of `key` in the table, without its padding: "key value source". */
static const char *row(const char *table, const char *key)
{
	static char line[512];
	const char *p = table;
	size_t klen = strlen(key);

	while (p && *p) {
		const char *nl = strchr(p, '\n');
		size_t n = nl ? (size_t)(nl - p) : strlen(p);

		if (n > klen && strncmp(p, key, klen) == 0 && p[klen] == ' ') {
			size_t o = 0;

			for (size_t i = 0; i < n && o + 1 < sizeof(line); i++)
				if (p[i] != ' ' || (o && line[o - 1] != ' '))
					line[o++] = p[i];
			line[o] = '\0';
			return line;
		}
		p = nl ? nl + 1 : NULL;
	}
	fail_msg("no row %s in:\n%s", key, table);
	return NULL;
}

static void test_each_source_named(void **state)
{
	char file[64];
	char *argv[] = { "--port", "9000", "--add-header", "B: 2" };
	const char *t;
	(void)state;

	setenv("LB_TEST_TIMEOUT", "250ms", 1);
	t = shown("# comment\nserviceName: \"api \\\"v2\\\"\"\naccessLog: off\ntokenSecret: hush\n"
		  "addHeader: [\"A: 1\"]\n", 4, argv, file, sizeof(file));
	unsetenv("LB_TEST_TIMEOUT");
	assert_true(strncmp(t, "# lb-test: the effective configuration (file: /tmp/lb-test-show-",
			    63) == 0);
	assert_string_equal(row(t, "port"), "port 9000 flag --port");
	{
		char want[160];

		snprintf(want, sizeof(want), "serviceName \"api \\\"v2\\\"\" %s:2", file);
		assert_string_equal(row(t, "serviceName"), want);	/* JSON-escaped */
		snprintf(want, sizeof(want), "accessLog false %s:3", file);
		assert_string_equal(row(t, "accessLog"), want);
		snprintf(want, sizeof(want), "tokenSecret \"(hidden)\" %s:4", file);
		assert_string_equal(row(t, "tokenSecret"), want);	/* never printed */
	}
	assert_null(strstr(t, "hush"));
	assert_string_equal(row(t, "timeout"), "timeout 0.25 environment LB_TEST_TIMEOUT");
	/* a flag's list replaces the file's whole list */
	assert_string_equal(row(t, "addHeader"), "addHeader [\"B: 2\"] flag --add-header");
}

static void test_defaults_and_no_file(void **state)
{
	char file[64];
	const char *t;
	(void)state;

	t = shown(NULL, 0, NULL, file, sizeof(file));
	assert_non_null(strstr(t, "(file: none)"));
	assert_string_equal(row(t, "port"), "port 8080 default");
	assert_string_equal(row(t, "tokenSecret"), "tokenSecret null default");
	assert_string_equal(row(t, "addHeader"), "addHeader [] default");
}

static void test_take_flag(void **state)
{
	char *argv[] = { "prog", "--a", "--check-config", "x", "--", "--check-config", NULL };
	int argc = 6;
	(void)state;

	assert_int_equal(config_show_take_flag(&argc, argv, "--check-config"), 1);
	assert_int_equal(argc, 5);
	assert_string_equal(argv[2], "x");
	assert_string_equal(argv[4], "--check-config");	/* after --: an argument */
	assert_null(argv[5]);
	assert_int_equal(config_show_take_flag(&argc, argv, "--nothing"), 0);
	assert_int_equal(argc, 5);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_each_source_named),
		cmocka_unit_test(test_defaults_and_no_file),
		cmocka_unit_test(test_take_flag),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
