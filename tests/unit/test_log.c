/* Unit tests for common/log.c: the JSON format's fields and their types. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "log.h"

/* Writes one line with log_write(kv) (stderr goes to a temporary file
 * meanwhile) and returns it, in a static buffer. */
static const char *written_line(const char *kv)
{
	static char line[2048];
	FILE *f = tmpfile();
	int saved = dup(STDERR_FILENO);
	size_t n;

	assert_non_null(f);
	assert_true(saved >= 0);
	assert_true(dup2(fileno(f), STDERR_FILENO) >= 0);
	log_write(LOG_INFO, "request", "%s", kv);
	assert_true(dup2(saved, STDERR_FILENO) >= 0);
	close(saved);
	rewind(f);
	n = fread(line, 1, sizeof(line) - 1, f);
	fclose(f);
	line[n] = '\0';
	return line;
}

/* Writes one JSON line with log_write(kv) and returns it parsed. */
static json_t *json_line(const char *kv)
{
	const char *line = written_line(kv);
	json_error_t err;
	json_t *obj = json_loads(line, 0, &err);

	if (!obj)
		fail_msg("not JSON: %s (%s)", line, err.text);
	return obj;
}

static void test_values_take_their_json_type(void **state)
{
	static const struct {
		const char *kv, *key;
		int type;		/* json_type */
		const char *text;	/* the string, or the number as %.17g */
	} cases[] = {
		{ "status=200", "status", JSON_INTEGER, "200" },
		{ "retries=0", "retries", JSON_INTEGER, "0" },
		{ "delta=-3", "delta", JSON_INTEGER, "-3" },
		{ "duration_ms=0.412", "duration_ms", JSON_REAL, "0.41199999999999998" },
		{ "timeout_s=1e-05", "timeout_s", JSON_REAL, "1.0000000000000001e-05" },
		{ "big=123456789012345", "big", JSON_INTEGER, "123456789012345" },
		/* not JSON numbers, or not exact as one: strings */
		{ "big=1234567890123456", "big", JSON_STRING, "1234567890123456" },
		{ "zip=007", "zip", JSON_STRING, "007" },
		{ "v=1.", "v", JSON_STRING, "1." },
		{ "v=.5", "v", JSON_STRING, ".5" },
		{ "v=inf", "v", JSON_STRING, "inf" },
		{ "v=1e999", "v", JSON_STRING, "1e999" },
		{ "v=0x10", "v", JSON_STRING, "0x10" },
		{ "client=10.0.0.1", "client", JSON_STRING, "10.0.0.1" },
		{ "backend=127.0.0.1:8081", "backend", JSON_STRING, "127.0.0.1:8081" },
		{ "backend=-", "backend", JSON_STRING, "-" },
		{ "empty=", "empty", JSON_STRING, "" },
		/* a quoted value is a string whatever it spells */
		{ "request_id=\"12345\"", "request_id", JSON_STRING, "12345" },
		{ "tls=\"1.3\"", "tls", JSON_STRING, "1.3" },
		{ "request=\"GET /x y\" status=1", "request", JSON_STRING, "GET /x y" },
	};

	log_setup("test", LOG_INFO, LOG_FORMAT_JSON);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		json_t *obj = json_line(cases[i].kv), *v = json_object_get(obj, cases[i].key);
		char num[64];

		if (!v || (int)json_typeof(v) != cases[i].type)
			fail_msg("%s: %s has type %d, want %d", cases[i].kv, cases[i].key,
				 v ? (int)json_typeof(v) : -1, cases[i].type);
		if (json_is_string(v)) {
			assert_string_equal(json_string_value(v), cases[i].text);
		} else {
			snprintf(num, sizeof(num), "%.17g", json_number_value(v));
			assert_string_equal(num, cases[i].text);
		}
		json_decref(obj);
	}
}

static void test_access_log_line(void **state)
{
	json_t *obj;

	log_setup("lb-proxy", LOG_INFO, LOG_FORMAT_JSON);
	obj = json_line("client=127.0.0.1 request=\"GET /x\" status=503 backend=- duration_ms=0.031 "
			"bytes=96 retries=0 request_id=\"0042\" tls=\"1.2\"");
	assert_string_equal(json_string_value(json_object_get(obj, "msg")), "request");
	assert_int_equal(json_integer_value(json_object_get(obj, "status")), 503);
	assert_int_equal(json_integer_value(json_object_get(obj, "bytes")), 96);
	assert_true(json_is_real(json_object_get(obj, "duration_ms")));
	assert_string_equal(json_string_value(json_object_get(obj, "request_id")), "0042");
	assert_string_equal(json_string_value(json_object_get(obj, "tls")), "1.2");
	assert_string_equal(json_string_value(json_object_get(obj, "request")), "GET /x");
	json_decref(obj);
}

/* Writes one text line with log_write(kv) and returns what follows the
 * message ("k=v ..."). */
static const char *text_fields_of(const char *kv)
{
	const char *at = strstr(written_line(kv), " request ");

	assert_non_null(at);
	return at + 9;
}

/* A quoted value a client chose is escaped as logfmt does (a quote or a
 * backslash in a request target forged fields before), and the JSON line
 * of the same call holds the original text. A quoted value ends at a quote
 * followed by the end or " key=": a request target holds no space, so a
 * client cannot end one early. */
static void test_quoted_values_are_escaped_in_text_and_exact_in_json(void **state)
{
	static const struct {
		const char *kv, *text, *json;
	} cases[] = {
		{ "request=\"GET /a\"x=1\" status=200", "request=\"GET /a\\\"x=1\" status=200\n",
		  "GET /a\"x=1" },
		{ "request=\"GET /a\\b\" status=200", "request=\"GET /a\\\\b\" status=200\n",
		  "GET /a\\b" },
		{ "error=\"line\nbreak\ttab\x01\" n=1", "error=\"line\\nbreak\\ttab\\x01\" n=1\n",
		  NULL },
		{ "request=\"GET /plain\" status=200", "request=\"GET /plain\" status=200\n", "GET /plain" },
		{ "path=/x status=200", "path=/x status=200\n", NULL },
	};
	(void)state;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		log_setup("lb-proxy", LOG_INFO, LOG_FORMAT_TEXT);
		assert_string_equal(text_fields_of(cases[i].kv), cases[i].text);
		if (cases[i].json) {
			json_t *obj;
			const char *key = strncmp(cases[i].kv, "error", 5) ? "request" : "error";

			log_setup("lb-proxy", LOG_INFO, LOG_FORMAT_JSON);
			obj = json_line(cases[i].kv);
			assert_string_equal(json_string_value(json_object_get(obj, key)), cases[i].json);
			json_decref(obj);
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_values_take_their_json_type),
		cmocka_unit_test(test_access_log_line),
		cmocka_unit_test(test_quoted_values_are_escaped_in_text_and_exact_in_json),
	};
	return cmocka_run_group_tests_name("log", tests, NULL, NULL);
}
