/* Unit tests for common/config.c: sources, precedence and error messages. */
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

struct opts {
	long port;
	char *service_name;
	double error_rate;
	int access_log;
	long max_body;
	double timeout;
	char *log_level;
	char *log_format;
	struct config_list header;
};

static const struct config_field fields[] = {
	{ "port", CONFIG_INT, offsetof(struct opts, port), 1, 65535, NULL, "port" },
	{ "serviceName", CONFIG_STRING, offsetof(struct opts, service_name), 0, 0, NULL, "name" },
	{ "errorRate", CONFIG_DOUBLE, offsetof(struct opts, error_rate), 0, 1, NULL, "rate" },
	{ "accessLog", CONFIG_BOOL, offsetof(struct opts, access_log), 0, 0, NULL, "log" },
	{ "maxBody", CONFIG_SIZE, offsetof(struct opts, max_body), 0, 1 << 30, NULL, "size" },
	{ "timeout", CONFIG_DURATION, offsetof(struct opts, timeout), 0.001, 86400, NULL, "seconds" },
	CONFIG_LOG_FIELDS(struct opts),
	{ "addHeader", CONFIG_LIST, offsetof(struct opts, header), 0, 3, NULL, "repeatable" },
};

static const struct config_spec spec = {
	"lb-test", "LB_TEST_", "[options]", fields, sizeof(fields) / sizeof(fields[0]),
};

static struct opts defaults(void)
{
	struct opts o = { 8080, "backend", 0.0, 1, 1024, 5, "info", "text", { { NULL }, 0 } };
	return o;
}

static char path[64];

static const char *write_file_as(const char *text, const char *ext)
{
	FILE *fp;

	snprintf(path, sizeof(path), "/tmp/lb-test-config-%d.%s", (int)getpid(), ext);
	fp = fopen(path, "w");
	assert_non_null(fp);
	fputs(text, fp);
	fclose(fp);
	return path;
}

static void clear_env(void)
{
	unsetenv("LB_TEST_PORT");
	unsetenv("LB_TEST_SERVICE_NAME");
	unsetenv("LB_TEST_ERROR_RATE");
	unsetenv("LB_TEST_ADD_HEADER");
}

static const char *write_file(const char *text)
{
	return write_file_as(text, "json");
}

/* Loads with argv = {"lb-test", args..., NULL}; returns config_load's result. */
static int load(struct opts *o, struct config_result *res, const char *const *args)
{
	char *argv[16] = { "lb-test" };
	int argc = 1;

	while (args && args[argc - 1])
		argv[argc] = (char *)args[argc - 1], argc++;
	*o = defaults();
	return config_load(&spec, o, argc, argv, res);
}

static void test_no_config_gives_defaults(void **state)
{
	struct opts o;
	struct config_result res;
	(void)state;

	clear_env();
	if (access(CONFIG_DEFAULT_FILE, R_OK) == 0)
		skip();
	assert_int_equal(load(&o, &res, NULL), 0);
	assert_int_equal(o.port, 8080);
	assert_string_equal(o.service_name, "backend");
	assert_int_equal(res.sources[0], CONFIG_SRC_DEFAULT);
	config_result_release(&res);
}

/* Each bad file gives exactly this message (with the file's path first). */
static void test_file_errors(void **state)
{
	static const struct {
		const char *text;
		const char *message;
	} cases[] = {
		{ "{\n  \"port\": 80,\n  \"serviceName\": }\n",
		  ":3:18: invalid JSON: unexpected token near '}'" },
		{ "{\"port\": \"80\"}", ":1:2: \"port\" must be an integer between 1 and 65535 (got \"80\")" },
		{ "{\n  \"serviceName\": \"x\",\n  \"port\": 70000\n}",
		  ":3:3: \"port\" must be an integer between 1 and 65535 (got 70000)" },
		{ "{\"port\": 8.5}", ":1:2: \"port\" must be an integer between 1 and 65535 (got 8.5)" },
		{ "{\"errorRate\": 2}", ":1:2: \"errorRate\" must be a number between 0 and 1 (got 2)" },
		{ "{\"accessLog\": \"maybe\"}", ":1:2: \"accessLog\" must be true or false (got \"maybe\")" },
		{ "{\n\n    \"servicName\": \"x\"}",
		  ":3:5: unknown key \"servicName\" (did you mean \"serviceName\"?)" },
		{ "{\"zzzzzz\": 1}", ":1:2: unknown key \"zzzzzz\" (lb-test --help lists the keys)" },
		{ "{\"logLevel\": \"loud\"}",
		  ":1:2: \"logLevel\" must be one of debug, info, warn, error (got \"loud\")" },
		{ "[1, 2]", ":1:1: the config must be a JSON object, not an array" },
		{ "{\"port\": 1, \"port\": 2}", ":1:18: invalid JSON: duplicate object key near '\"port\"'" },
	};
	(void)state;

	clear_env();
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct opts o;
		struct config_result res;
		const char *file = write_file(cases[i].text);
		const char *args[] = { "--config", file, NULL };
		char want[512];

		snprintf(want, sizeof(want), "%s%s", file, cases[i].message);
		assert_int_equal(load(&o, &res, args), -1);
		assert_string_equal(res.err, want);
		config_result_release(&res);
	}
	unlink(path);
}

static void test_missing_file_is_an_error(void **state)
{
	struct opts o;
	struct config_result res;
	const char *args[] = { "--config", "/nonexistent/lb.json", NULL };
	(void)state;

	assert_int_equal(load(&o, &res, args), -1);
	assert_string_equal(res.err,
			    "/nonexistent/lb.json: cannot read config: No such file or directory");
	config_result_release(&res);
}

/* flags > env > file > defaults */
static void test_precedence(void **state)
{
	struct opts o;
	struct config_result res;
	const char *file = write_file("{\"port\": 80, \"serviceName\": \"from-file\", \"maxBody\": \"64k\"}");
	const char *with_file[] = { "--config", file, NULL };
	const char *with_flag[] = { "--config", file, "--port", "82", "--service-name=flag", NULL };
	(void)state;

	clear_env();
	assert_int_equal(load(&o, &res, with_file), 0);
	assert_int_equal(o.port, 80);
	assert_string_equal(o.service_name, "from-file");
	assert_int_equal(o.max_body, 65536);
	assert_int_equal(res.sources[0], CONFIG_SRC_FILE);
	config_result_release(&res);

	setenv("LB_TEST_PORT", "81", 1);
	assert_int_equal(load(&o, &res, with_file), 0);
	assert_int_equal(o.port, 81);
	assert_int_equal(config_source_of(&spec, &res, "port"), CONFIG_SRC_ENV);
	assert_string_equal(o.service_name, "from-file");
	config_result_release(&res);

	assert_int_equal(load(&o, &res, with_flag), 0);
	assert_int_equal(o.port, 82);
	assert_string_equal(o.service_name, "flag");
	assert_int_equal(config_source_of(&spec, &res, "port"), CONFIG_SRC_FLAG);
	config_result_release(&res);

	/* --config after flags with values (and a bare boolean) is still read */
	assert_int_equal(load(&o, &res, (const char *const[]){ "--port", "83", "--access-log",
							     "--config", file, NULL }), 0);
	assert_int_equal(o.port, 83);
	assert_string_equal(o.service_name, "from-file");
	assert_int_equal(o.max_body, 65536);
	config_result_release(&res);
	assert_int_equal(load(&o, &res, (const char *const[]){ "--access-log", "off", "--config",
							     file, NULL }), 0);
	assert_int_equal(o.access_log, 0);
	assert_string_equal(o.service_name, "from-file");
	config_result_release(&res);
	clear_env();
	unlink(path);
}

static void assert_list(const struct config_list *l, const char *const *want)
{
	size_t n = 0;

	while (want[n])
		n++;
	assert_int_equal(l->n, n);
	for (size_t i = 0; i < n; i++)
		assert_string_equal(l->items[i], want[i]);
}

/* A repeatable flag: flags add up; a stronger source replaces the list. */
static void test_list(void **state)
{
	struct opts o;
	struct config_result res;
	const char *file = write_file("{\"addHeader\": [\"A: 1\", \"B: 2, 3\"]}");
	const char *with_file[] = { "--config", file, NULL };
	const char *flags[] = { "--config", file, "--add-header", "C: x", "--port", "90",
				"--add-header=D: y", NULL };
	const char *too_many[] = { "--add-header", "1", "--add-header", "2", "--add-header", "3",
				   "--add-header", "4", NULL };
	const char *none[] = { NULL };
	(void)state;

	clear_env();
	assert_int_equal(load(&o, &res, none), 0);
	assert_int_equal(o.header.n, 0);
	config_result_release(&res);

	assert_int_equal(load(&o, &res, with_file), 0);
	assert_list(&o.header, (const char *const[]){ "A: 1", "B: 2, 3", NULL });
	assert_int_equal(config_source_of(&spec, &res, "addHeader"), CONFIG_SRC_FILE);
	config_result_release(&res);

	setenv("LB_TEST_ADD_HEADER", "E: 1\n\nF: 2\r\n", 1);
	assert_int_equal(load(&o, &res, with_file), 0);
	assert_list(&o.header, (const char *const[]){ "E: 1", "F: 2", NULL });
	config_result_release(&res);

	assert_int_equal(load(&o, &res, flags), 0);
	assert_list(&o.header, (const char *const[]){ "C: x", "D: y", NULL });
	assert_int_equal(o.port, 90);
	assert_int_equal(config_source_of(&spec, &res, "addHeader"), CONFIG_SRC_FLAG);
	config_result_release(&res);
	clear_env();

	assert_int_equal(load(&o, &res, too_many), -1);
	assert_string_equal(res.err, "--add-header \"4\": must be a string, at most 3 of them "
				     "(repeat the flag; an array in the file)");
	config_result_release(&res);

	write_file("{\"addHeader\": \"Only: one\"}");
	assert_int_equal(load(&o, &res, with_file), 0);
	assert_list(&o.header, (const char *const[]){ "Only: one", NULL });
	config_result_release(&res);

	write_file("{\n  \"addHeader\": [\"A: 1\", 2]\n}");
	assert_int_equal(load(&o, &res, with_file), -1);
	assert_non_null(strstr(res.err, ":2:3: \"addHeader\" must be a string, at most 3"));
	config_result_release(&res);

	write_file("{\"addHeader\": [\"1\", \"2\", \"3\", \"4\"]}");
	assert_int_equal(load(&o, &res, with_file), -1);
	config_result_release(&res);
	unlink(path);
}

static void test_flag_and_env_errors(void **state)
{
	static const struct {
		const char *args[4];
		const char *env;
		const char *message;
	} cases[] = {
		{ { "--sevice-name", "x" }, NULL, "unknown flag --sevice-name (did you mean --service-name?)" },
		{ { "--port", "abc" }, NULL, "--port \"abc\": must be an integer between 1 and 65535" },
		{ { "--port" }, NULL, "--port needs a value" },
		{ { "--max-body", "12q" }, NULL,
		  "--max-body \"12q\": must be a size between 0 and 1073741824 bytes (suffixes k, m, g)" },
		{ { NULL }, "abc", "environment LB_TEST_PORT=\"abc\": must be an integer between 1 and 65535" },
	};
	(void)state;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct opts o;
		struct config_result res;

		clear_env();
		if (cases[i].env)
			setenv("LB_TEST_PORT", cases[i].env, 1);
		assert_int_equal(load(&o, &res, cases[i].args), -1);
		assert_string_equal(res.err, cases[i].message);
		config_result_release(&res);
	}
	clear_env();
}

/* Durations take a unit (HAProxy's: us, ms, s, m, h, d) or are seconds; the
 * file takes a number or such a string. Numbers are decimal: strtod's
 * hexadecimal, inf and nan are no setting's value. */
static void test_durations_and_decimal_numbers(void **state)
{
	static const struct {
		const char *args[4];
		const char *file;
		int rc;
		double timeout;
		long port;
		const char *message;
	} cases[] = {
		{ { "--timeout", "2" }, NULL, 0, 2, 8080, NULL },
		{ { "--timeout", "2s" }, NULL, 0, 2, 8080, NULL },
		{ { "--timeout", "500ms" }, NULL, 0, 0.5, 8080, NULL },
		{ { "--timeout", "1.5m" }, NULL, 0, 90, 8080, NULL },
		{ { "--timeout", "1h" }, NULL, 0, 3600, 8080, NULL },
		{ { "--timeout", "1d" }, NULL, 0, 86400, 8080, NULL },
		{ { "--timeout", "2500us" }, NULL, 0, 0.0025, 8080, NULL },
		{ { "--timeout=0.25" }, NULL, 0, 0.25, 8080, NULL },
		{ { NULL }, "{\"timeout\": \"750ms\"}", 0, 0.75, 8080, NULL },
		{ { NULL }, "{\"timeout\": 3}", 0, 3, 8080, NULL },
		{ { NULL }, "{\"timeout\": 0.5}", 0, 0.5, 8080, NULL },
		{ { "--timeout", "2 s" }, NULL, -1, 0, 0, "--timeout \"2 s\": must be a duration "
		  "between 0.001s and 86400s (seconds, or with a unit: 500ms, 2s, 1m, 1h)" },
		{ { "--timeout", "2sec" }, NULL, -1, 0, 0, NULL },
		{ { "--timeout", "ms" }, NULL, -1, 0, 0, NULL },
		{ { "--timeout", "2d" }, NULL, -1, 0, 0, NULL },	/* past the max */
		{ { "--timeout", "0x10" }, NULL, -1, 0, 0, NULL },
		{ { "--timeout", "inf" }, NULL, -1, 0, 0, NULL },
		{ { "--timeout", "nan" }, NULL, -1, 0, 0, NULL },
		{ { "--port", "0x50" }, NULL, -1, 0, 0,
		  "--port \"0x50\": must be an integer between 1 and 65535" },
		{ { "--port", "8e1" }, NULL, 0, 5, 80, NULL },
		{ { "--error-rate", "0x0.1" }, NULL, -1, 0, 0, NULL },
		{ { "--error-rate", "nan" }, NULL, -1, 0, 0, NULL },
		{ { "--max-body", "0x10k" }, NULL, -1, 0, 0, NULL },
		{ { "--max-body", "1.5k" }, NULL, 0, 5, 8080, NULL },
	};
	(void)state;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *args[6] = { NULL };
		struct opts o;
		struct config_result res;
		size_t n = 0;

		clear_env();
		if (cases[i].file) {
			args[n++] = "--config";
			args[n++] = write_file(cases[i].file);
		}
		for (size_t j = 0; cases[i].args[j]; j++)
			args[n++] = cases[i].args[j];
		if (load(&o, &res, args) != cases[i].rc)
			fail_msg("case %zu (%s): rc %d, want %d: %s", i,
				 cases[i].args[0] ? cases[i].args[1] ? cases[i].args[1] :
				 cases[i].args[0] : cases[i].file, -cases[i].rc, cases[i].rc, res.err);
		if (cases[i].rc == 0) {
			assert_true(o.timeout == cases[i].timeout);
			assert_int_equal(o.port, cases[i].port);
		} else if (cases[i].message) {
			assert_string_equal(res.err, cases[i].message);
		}
		config_result_release(&res);
	}
	unlink(path);
	clear_env();
}

/* A .yaml/.yml file is read as YAML into the same checks: types, ranges,
 * unknown keys (with the hint), lists, and file:line:column in each error. */
static void test_yaml_files(void **state)
{
	static const struct {
		const char *text;
		int rc;
		const char *message;	/* with FILE for the path */
	} cases[] = {
		{ "# the service\nport: 9000\nserviceName: web\naccessLog: off\nmaxBody: 64k\n"
		  "timeout: 250ms\nerrorRate: 0.5\naddHeader:\n  - \"A: 1\"\n  - 'B: 2'\n", 0, NULL },
		{ "port: 9000\nservicName: web\n", -1,
		  "FILE:2:1: unknown key \"servicName\" (did you mean \"serviceName\"?)" },
		{ "port: 9000\n\n  # indented comment\nport: 80\n", -1, "FILE:4:1: duplicate key \"port\"" },
		{ "port: eighty\n", -1,
		  "FILE:1:1: \"port\" must be an integer between 1 and 65535 (got \"eighty\")" },
		{ "serviceName: web\n  port: 80\n", -1, NULL },	/* bad indentation */
		{ "port: \"9000\"\n", -1,
		  "FILE:1:1: \"port\" must be an integer between 1 and 65535 (got \"9000\")" },
		{ "accessLog: \"off\"\n", -1,
		  "FILE:1:1: \"accessLog\" must be true or false (got \"off\")" },
		{ "- port\n", -1, "FILE:1:1: the config must be a YAML mapping of keys, not an array" },
		{ "port: 1\n---\nport: 2\n", -1,
		  "FILE:2:1: a config file holds one YAML document, not several" },
		{ "", 0, NULL },
		{ "port: 0x50\n", -1, NULL },
		/* one YAML reader with the Gateway documents': no aliases (a
		 * billion laughs), no key holding a NUL */
		{ "addHeader: &x [\"A: 1\"]\nsetHeader: *x\n", -1,
		  "FILE:1:12: aliases are not supported" },
		{ "addHeader: [\"A: 1\", \"B: 2\", \"C: 3\", \"D: 4\"]\n", -1, NULL },
	};
	(void)state;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *file = write_file_as(cases[i].text, i % 2 ? "yml" : "yaml");
		const char *args[] = { "--config", file, NULL };
		struct opts o;
		struct config_result res;
		int rc = load(&o, &res, args);

		if (rc != cases[i].rc)
			fail_msg("case %zu: rc %d, want %d: %s", i, rc, cases[i].rc, res.err);
		if (i == 0) {
			assert_int_equal(o.port, 9000);
			assert_string_equal(o.service_name, "web");
			assert_int_equal(o.access_log, 0);
			assert_int_equal(o.max_body, 65536);
			assert_true(o.timeout == 0.25);
			assert_true(o.error_rate == 0.5);
			assert_int_equal(o.header.n, 2);
			assert_string_equal(o.header.items[0], "A: 1");
			assert_string_equal(o.header.items[1], "B: 2");
		}
		if (cases[i].message) {
			char want[512];
			const char *at = strstr(cases[i].message, "FILE");

			snprintf(want, sizeof(want), "%.*s%s%s", (int)(at - cases[i].message),
				 cases[i].message, file, at + 4);
			assert_string_equal(res.err, want);
		} else if (rc == -1) {
			assert_non_null(strstr(res.err, file));
		}
		config_result_release(&res);
		unlink(file);
	}
}

static void test_bool_flag_forms(void **state)
{
	static const struct {
		const char *args[4];
		int want;
		int argi;
	} cases[] = {
		{ { "--access-log", "off" }, 0, 3 },
		{ { "--access-log=false" }, 0, 2 },
		{ { "--access-log" }, 1, 2 },
		{ { "--access-log", "status" }, 1, 2 },	/* a positional argument follows */
	};
	(void)state;

	clear_env();
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct opts o;
		struct config_result res;

		assert_int_equal(load(&o, &res, cases[i].args), 0);
		assert_int_equal(o.access_log, cases[i].want);
		assert_int_equal(res.argi, cases[i].argi);
		config_result_release(&res);
	}
}

/* A key's flag and variable: a digit after a lower-case letter starts a
 * word ("eject5xx": --eject-5xx), after a capital it ends the word it is in
 * ("sendProxyV2": --send-proxy-v2, LB_NAMES_SEND_PROXY_V2, not --send-proxy-v-2). */
static void test_flag_names_from_keys(void **state)
{
	struct names {
		int eject5xx, proxy_v2;
	} n = { 0, 0 };
	static const struct config_field name_fields[] = {
		{ "eject5xx", CONFIG_BOOL, offsetof(struct names, eject5xx), 0, 0, NULL, "a" },
		{ "sendProxyV2", CONFIG_BOOL, offsetof(struct names, proxy_v2), 0, 0, NULL, "b" },
	};
	static const struct config_spec name_spec = { "lb-test", "LB_NAMES_", "[options]",
						      name_fields, 2 };
	char *argv[] = { "lb-test", "--eject-5xx", "--send-proxy-v2", NULL };
	char *envd[] = { "lb-test", NULL };
	struct config_result res;
	(void)state;

	assert_int_equal(config_load(&name_spec, &n, 3, argv, &res), 0);
	assert_int_equal(n.eject5xx, 1);
	assert_int_equal(n.proxy_v2, 1);
	config_result_release(&res);
	n.proxy_v2 = 0;
	setenv("LB_NAMES_SEND_PROXY_V2", "on", 1);
	assert_int_equal(config_load(&name_spec, &n, 1, envd, &res), 0);
	unsetenv("LB_NAMES_SEND_PROXY_V2");
	assert_int_equal(n.proxy_v2, 1);
	config_result_release(&res);
}

/* A digit after a letter starts a word of the flag ("eject5xx" is
 * --eject-5xx), but not after a key's one first letter ("h2MaxResets" is
 * --h2-max-resets, not --h-2-max-resets). */
static void test_flag_names_with_digits(void **state)
{
	struct digits {
		long h2_max_resets, eject_5xx;
	} d = { 0, 0 };
	static const struct config_field dfields[] = {
		{ "h2MaxResets", CONFIG_INT, offsetof(struct digits, h2_max_resets), 0, 100, NULL, "a" },
		{ "eject5xx", CONFIG_INT, offsetof(struct digits, eject_5xx), 0, 100, NULL, "b" },
	};
	static const struct config_spec dspec = { "lb-test", "LB_TEST_", "[options]", dfields, 2 };
	char *argv[] = { "lb-test", "--h2-max-resets", "7", "--eject-5xx", "3", NULL };
	struct config_result res;
	(void)state;

	setenv("LB_TEST_H2_MAX_RESETS", "9", 1);
	assert_int_equal(config_load(&dspec, &d, 1, argv, &res), 0);
	assert_int_equal(d.h2_max_resets, 9);
	config_result_release(&res);
	unsetenv("LB_TEST_H2_MAX_RESETS");
	assert_int_equal(config_load(&dspec, &d, 5, argv, &res), 0);
	assert_int_equal(d.h2_max_resets, 7);
	assert_int_equal(d.eject_5xx, 3);
	config_result_release(&res);
}

/* What a reload compares: each field of two readings, strings by content. */
static void test_field_equal_and_copy(void **state)
{
	static const struct {
		const char *key;	/* the field changed in b */
		const char *flag;	/* its new value */
	} changes[] = {
		{ "port", "--port=81" },
		{ "serviceName", "--service-name=other" },
		{ "errorRate", "--error-rate=0.5" },
		{ "accessLog", "--access-log=off" },
		{ "maxBody", "--max-body=2k" },
		{ "logLevel", "--log-level=debug" },
	};
	(void)state;

	for (size_t i = 0; i < sizeof(changes) / sizeof(changes[0]); i++) {
		const char *args[] = { changes[i].flag, NULL };
		const char *same[] = { "--service-name=backend", NULL };
		struct config_result ra, rb;
		struct opts a, b;

		/* equal strings in different buffers are equal */
		assert_int_equal(load(&a, &ra, same), 0);
		assert_int_equal(load(&b, &rb, args), 0);
		for (size_t f = 0; f < spec.nfields; f++) {
			int differs = strcmp(fields[f].key, changes[i].key) == 0;

			if (config_field_equal(&fields[f], &a, &b) == differs)
				fail_msg("%s: field %s %s", changes[i].flag, fields[f].key,
					 differs ? "seen as equal" : "seen as changed");
			config_field_copy(&fields[f], &b, &a);
			assert_int_equal(config_field_equal(&fields[f], &a, &b), 1);
		}
		config_result_release(&ra);
		config_result_release(&rb);
	}
	{
		struct opts a = defaults(), b = defaults();

		a.service_name = NULL;
		assert_int_equal(config_field_equal(&fields[1], &a, &b), 0);
		b.service_name = NULL;
		assert_int_equal(config_field_equal(&fields[1], &a, &b), 1);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_no_config_gives_defaults),
		cmocka_unit_test(test_file_errors),
		cmocka_unit_test(test_missing_file_is_an_error),
		cmocka_unit_test(test_precedence),
		cmocka_unit_test(test_list),
		cmocka_unit_test(test_flag_and_env_errors),
		cmocka_unit_test(test_durations_and_decimal_numbers),
		cmocka_unit_test(test_yaml_files),
		cmocka_unit_test(test_bool_flag_forms),
		cmocka_unit_test(test_flag_names_from_keys),
		cmocka_unit_test(test_flag_names_with_digits),
		cmocka_unit_test(test_field_equal_and_copy),
	};
	return cmocka_run_group_tests_name("config", tests, NULL, NULL);
}
