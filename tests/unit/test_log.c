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

/* A text line built in place (log_text_prefix, log_escape_text,
 * log_write_line: the access log's one copy) reads as log_write's of the
 * same fields; log_escape_text escapes as the text line does and never
 * writes past its room, cutting before an escape that does not fit. */
static void test_a_line_built_in_place_reads_as_log_writes(void **state)
{
	static const struct {
		const char *value;
		size_t room;
		const char *escaped;
	} cases[] = {
		{ "GET /plain", 64, "GET /plain" },
		{ "GET /a\"x=1\\b", 64, "GET /a\\\"x=1\\\\b" },
		{ "a\nb\rc\td\x01\x7f", 64, "a\\nb\\rc\\td\\x01\\x7f" },
		{ "GET /plain", 5, "GET /" },
		{ "ab\"c", 3, "ab" },		/* \" does not fit in the last byte */
		{ "ab\x01", 5, "ab" },		/* nor \x01 in three */
		{ "", 8, "" },
	};
	char line[LOG_PREFIX_MAX + 256], want[512];
	size_t n;
	(void)state;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char out[64];

		memset(out, '#', sizeof(out));
		n = log_escape_text(out, cases[i].room, cases[i].value, strlen(cases[i].value));
		assert_int_equal(n, strlen(cases[i].escaped));
		assert_memory_equal(out, cases[i].escaped, n);
		assert_true(n == sizeof(out) || out[n] == '#');
	}
	log_setup("lb-proxy", LOG_INFO, LOG_FORMAT_TEXT);
	n = log_text_prefix(LOG_INFO, "request", line);
	assert_true(n > 0 && n < LOG_PREFIX_MAX);
	memcpy(line + n, "status=200 request=\"", 20);
	n += 20;
	n += log_escape_text(line + n, sizeof(line) - n, "GET /a\"x", 8);
	memcpy(line + n, "\"\n", 3);
	snprintf(want, sizeof(want), "%s", written_line("status=200 request=\"GET /a\"x\""));
	/* the same but for the timestamp's milliseconds */
	assert_int_equal(strlen(line), strlen(want));
	assert_memory_equal(line, want, 11);	/* "[lb-proxy] " */
	assert_string_equal(strstr(line, " INFO request "), strstr(want, " INFO request "));
	/* JSON lines, or a level that is off, are not built in place */
	log_setup("lb-proxy", LOG_INFO, LOG_FORMAT_JSON);
	assert_int_equal(log_text_prefix(LOG_INFO, "request", line), 0);
	log_setup("lb-proxy", LOG_WARN, LOG_FORMAT_TEXT);
	assert_int_equal(log_text_prefix(LOG_INFO, "request", line), 0);
	log_setup("lb-proxy", LOG_INFO, LOG_FORMAT_TEXT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_values_take_their_json_type),
		cmocka_unit_test(test_access_log_line),
		cmocka_unit_test(test_quoted_values_are_escaped_in_text_and_exact_in_json),
		cmocka_unit_test(test_a_line_built_in_place_reads_as_log_writes),
	};
	return cmocka_run_group_tests_name("log", tests, NULL, NULL);
}
