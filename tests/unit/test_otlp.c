/* Unit tests for common/otlp_*.c: the span written as OTLP JSON
 * (the OTLP specification's JSON mapping: hex ids, integer enums, unixNano
 * as strings, typed attribute values), the settings from flags and OTEL_*
 * variables (the SDK environment variable specification), the queue's bound. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <zlib.h>

#include "otlp_config.h"
#include "otlp_export.h"
#include "otlp_gzip.h"
#include "otlp_json.h"
#include "otlp_span.h"

/* o[key][0] */
static json_t *first(json_t *o, const char *key)
{
	return json_array_get(json_object_get(o, key), 0);
}

static struct buf res = BUF_INIT, body = BUF_INIT;

/* A body of one span: sp opened in it, for the test to fill, then encode(). */
static void open_span(struct otlp_span *sp)
{
	const char *kv[] = { "service.name", "lb-\"proxy\"" };

	buf_reset(&res);
	buf_reset(&body);
	assert_int_equal(otlp_json_resource(&res, kv, 1), 0);
	otlp_json_begin(&body, &res, "lb-proxy", "1");
	assert_int_equal(otlp_span_open(sp, &body, 1), 0);
}

static json_t *encode(struct otlp_span *sp)
{
	json_error_t e;
	json_t *doc;

	otlp_span_close(sp);
	assert_int_equal(otlp_json_end(&body), 0);
	doc = json_loadb(body.data, body.len, 0, &e);
	if (!doc)
		fail_msg("not JSON: %s: %.*s", e.text, (int)body.len, body.data);
	return doc;
}

/* The first span's attributes of a body. */
static json_t *span_attrs(json_t *doc)
{
	return json_object_get(first(first(first(doc, "resourceSpans"), "scopeSpans"), "spans"),
			       "attributes");
}

/* The string value of the attribute at i. */
static const char *attr_string(json_t *attrs, size_t i)
{
	return json_string_value(json_object_get(json_object_get(json_array_get(attrs, i), "value"),
						 "stringValue"));
}

static void test_span_encodes_by_the_json_mapping(void **state)
{
	static struct otlp_span sp;
	json_t *doc, *span, *attrs;
	(void)state;

	open_span(&sp);
	memset(sp.trace_id, 0xab, 16);
	memset(sp.span_id, 0x01, 8);
	memset(sp.parent_id, 0xfe, 8);
	sp.has_parent = 1;
	sp.kind = OTLP_KIND_SERVER;
	sp.status = OTLP_STATUS_ERROR;
	otlp_span_name(&sp, "GET", 3);
	sp.start_ns = 1700000000123456789ULL;
	sp.end_ns = 1700000000223456789ULL;
	otlp_span_str(&sp, "url.path", "/a\"b\\c\n", 7);
	otlp_span_int(&sp, "http.response.status_code", 503);
	otlp_span_event(&sp, "retried", 1700000000200000000ULL);
	doc = encode(&sp);
	span = first(first(first(doc, "resourceSpans"), "scopeSpans"), "spans");
	assert_non_null(span);
	/* ids: lower-case hex, not base64 */
	assert_string_equal(json_string_value(json_object_get(span, "traceId")),
			    "abababababababababababababababab");
	assert_string_equal(json_string_value(json_object_get(span, "spanId")), "0101010101010101");
	assert_string_equal(json_string_value(json_object_get(span, "parentSpanId")),
			    "fefefefefefefefe");
	/* enums: integers */
	assert_int_equal(json_integer_value(json_object_get(span, "kind")), 2);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(span, "status"), "code")), 2);
	/* fixed64: strings */
	assert_string_equal(json_string_value(json_object_get(span, "startTimeUnixNano")),
			    "1700000000123456789");
	attrs = json_object_get(span, "attributes");
	assert_string_equal(json_string_value(json_object_get(json_array_get(attrs, 0), "key")),
			    "url.path");
	assert_string_equal(json_string_value(json_object_get(json_object_get(
		json_array_get(attrs, 0), "value"), "stringValue")), "/a\"b\\c\n");
	assert_string_equal(json_string_value(json_object_get(json_object_get(
		json_array_get(attrs, 1), "value"), "intValue")), "503");
	assert_string_equal(json_string_value(json_object_get(json_array_get(
		json_object_get(span, "events"), 0), "name")), "retried");
	json_decref(doc);
}

/* Bytes from clients that are not UTF-8 never make the body invalid JSON;
 * the text of a span is bounded, and so are its attributes. */
static void test_text_is_repaired_and_bounded(void **state)
{
	static struct otlp_span sp;
	char big[3000];
	json_t *doc, *attrs;
	size_t text = 0;
	(void)state;

	open_span(&sp);
	memset(sp.trace_id, 1, 16);
	memset(sp.span_id, 1, 8);
	otlp_span_name(&sp, "G\xffT", 3);
	otlp_span_str(&sp, "user_agent.original", "a\xff\xc3\xa9\xed\xa0\x80z", 8);
	memset(big, 'x', sizeof(big));
	otlp_span_str(&sp, "url.path", big, sizeof(big));
	for (int i = 0; i < 40; i++)
		otlp_span_int(&sp, "n", i);
	assert_int_equal(otlp_span_int(&sp, "n", 41), -1);
	doc = encode(&sp);
	attrs = span_attrs(doc);
	assert_string_equal(attr_string(attrs, 0), "a?\xc3\xa9???z");
	assert_string_equal(json_string_value(json_object_get(first(first(first(doc,
		"resourceSpans"), "scopeSpans"), "spans"), "name")), "G?T");
	assert_int_equal(json_array_size(attrs), OTLP_SPAN_ATTRS_MAX);
	for (size_t i = 0; i < 2; i++)
		text += strlen(attr_string(attrs, i));
	assert_int_equal(text, OTLP_SPAN_TEXT_MAX);	/* "a?é???z": 8 bytes in, 8 out */
	assert_true(body.len < OTLP_SPAN_JSON_MAX);
	json_decref(doc);
}

/* The bound OTLP_SPAN_JSON_MAX holds for the worst a span can take: every
 * byte of its text and name escaped to six, every table full. */
static void test_worst_span_fits_its_bound(void **state)
{
	static struct otlp_span sp;
	static const char *const events[] = { "a", "b", "c", "d", "e", "f", "g" };
	char ctl[OTLP_SPAN_TEXT_MAX];
	size_t start;
	json_t *doc;
	(void)state;

	memset(ctl, 0x01, sizeof(ctl));
	open_span(&sp);
	start = body.len;
	memset(sp.trace_id, 1, 16);
	memset(sp.span_id, 1, 8);
	sp.has_parent = 1;
	sp.start_ns = sp.end_ns = UINT64_MAX;
	sp.status = OTLP_STATUS_ERROR;
	otlp_span_name(&sp, ctl, sizeof(ctl));
	otlp_span_str(&sp, "user_agent.original.of.a.long.key.for.the.bound.of.sixty.four.b", ctl,
		      sizeof(ctl));
	for (int i = 0; i < 20; i++)
		otlp_span_int(&sp, "user_agent.original.of.a.long.key.for.the.bound.of.sixty.four.b",
			      INT64_MIN);
	for (int i = 0; i < 7; i++)
		otlp_span_event(&sp, events[i], UINT64_MAX);
	doc = encode(&sp);
	assert_true(body.len - start - 6 <= OTLP_SPAN_JSON_MAX);	/* less the frame's end */
	assert_int_equal(json_array_size(span_attrs(doc)), OTLP_SPAN_ATTRS_MAX);
	/* the widest numbers, digit for digit */
	assert_string_equal(json_string_value(json_object_get(first(first(first(doc,
		"resourceSpans"), "scopeSpans"), "spans"), "endTimeUnixNano")), "18446744073709551615");
	assert_string_equal(json_string_value(json_object_get(json_object_get(json_array_get(
		span_attrs(doc), 1), "value"), "intValue")), "-9223372036854775808");
	json_decref(doc);
}

/* Numbers of every width come out digit for digit (times, ports, counts). */
static void test_numbers_of_every_width(void **state)
{
	static struct otlp_span sp;
	char want[32];
	json_t *doc, *attrs;
	uint64_t v = 1;
	(void)state;

	open_span(&sp);
	otlp_span_name(&sp, "GET", 3);
	for (int i = 0; i < OTLP_SPAN_ATTRS_MAX; i++, v = v * 10 + (uint64_t)i % 10)
		otlp_span_int(&sp, "n", (long long)(i % 2 ? v : v - 1));
	doc = encode(&sp);
	attrs = span_attrs(doc);
	v = 1;
	for (int i = 0; i < OTLP_SPAN_ATTRS_MAX; i++, v = v * 10 + (uint64_t)i % 10) {
		snprintf(want, sizeof(want), "%llu", (unsigned long long)(i % 2 ? v : v - 1));
		assert_string_equal(json_string_value(json_object_get(json_object_get(
			json_array_get(attrs, (size_t)i), "value"), "intValue")), want);
	}
	json_decref(doc);
}

/* A span opened and never closed leaves nothing in the body. */
static void test_span_not_closed_leaves_nothing(void **state)
{
	static struct otlp_span sp;
	size_t len;
	json_t *doc;
	(void)state;

	open_span(&sp);
	len = body.len;
	otlp_span_name(&sp, "lost", 4);
	otlp_span_str(&sp, "url.path", "/lost", 5);
	assert_int_equal(body.len, len);
	assert_int_equal(otlp_span_open(&sp, &body, 1), 0);
	otlp_span_name(&sp, "GET", 3);
	otlp_span_str(&sp, "url.path", "/kept", 5);
	doc = encode(&sp);
	assert_string_equal(attr_string(span_attrs(doc), 0), "/kept");
	assert_int_equal(json_array_size(json_object_get(first(first(doc, "resourceSpans"),
		"scopeSpans"), "spans")), 1);
	json_decref(doc);
}

/* The text check goes a word at a time: a byte JSON must escape (or one
 * past ASCII) at any place of a value of any length is found, and the value
 * comes back exact through the JSON either way. */
static void test_plain_text_word_at_a_time(void **state)
{
	static struct otlp_span sp;
	static const char specials[] = { '"', '\\', '\n', 0x01, 0x1f, (char)0xc3 };
	char v[40];
	(void)state;

	for (size_t n = 1; n <= 33; n++) {
		for (size_t at = 0; at <= n; at++) {
			for (size_t k = 0; k < sizeof(specials); k++) {
				json_t *doc, *attrs;
				size_t len = n;

				memset(v, 'a' + (int)(n % 26), n);
				if (at < n) {
					v[at] = specials[k];
					if (specials[k] == (char)0xc3) {	/* a whole é */
						if (at + 1 == n)
							continue;
						v[at + 1] = (char)0xa9;
					}
				}
				open_span(&sp);
				memset(sp.trace_id, 1, 16);
				memset(sp.span_id, 1, 8);
				otlp_span_name(&sp, "GET", 3);
				otlp_span_str(&sp, "url.path", v, len);
				doc = encode(&sp);
				assert_non_null(doc);
				attrs = span_attrs(doc);
				assert_int_equal(json_string_length(json_object_get(json_object_get(
					json_array_get(attrs, 0), "value"), "stringValue")), len);
				assert_memory_equal(json_string_value(json_object_get(json_object_get(
					json_array_get(attrs, 0), "value"), "stringValue")), v, len);
				json_decref(doc);
				if (at == n)
					break;
			}
		}
	}
}

/* --otlp-compression gzip: one gzip member that inflates to the body. */
static void test_gzip_round_trip(void **state)
{
	struct otlp_gzip *g = otlp_gzip_new();
	struct buf out = BUF_INIT;
	char in[5000], back[6000];
	(void)state;

	assert_non_null(g);
	for (size_t i = 0; i < sizeof(in); i++)
		in[i] = "{\"key\":\"http.request.method\"}"[i % 30];
	for (int round = 0; round < 2; round++) {	/* the stream is reused */
		z_stream z = { 0 };

		assert_int_equal(otlp_gzip_compress(g, in, sizeof(in) - (size_t)round, &out), 0);
		assert_true(out.len > 10 && out.len < sizeof(in) / 4);
		assert_int_equal((unsigned char)out.data[0], 0x1f);	/* RFC 1952's magic */
		assert_int_equal((unsigned char)out.data[1], 0x8b);
		assert_int_equal(inflateInit2(&z, 15 + 16), Z_OK);
		z.next_in = (Bytef *)out.data;
		z.avail_in = (uInt)out.len;
		z.next_out = (Bytef *)back;
		z.avail_out = sizeof(back);
		assert_int_equal(inflate(&z, Z_FINISH), Z_STREAM_END);
		assert_int_equal(z.total_out, sizeof(in) - (size_t)round);
		assert_memory_equal(back, in, sizeof(in) - (size_t)round);
		inflateEnd(&z);
	}
	otlp_gzip_free(g);
	buf_release(&out);
}

static void clear_env(void)
{
	static const char *const vars[] = {
		"OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
		"OTEL_EXPORTER_OTLP_HEADERS", "OTEL_EXPORTER_OTLP_TRACES_HEADERS",
		"OTEL_SERVICE_NAME", "OTEL_RESOURCE_ATTRIBUTES", "OTEL_TRACES_SAMPLER",
		"OTEL_TRACES_SAMPLER_ARG", "POD_NAME", "POD_NAMESPACE",
		"OTEL_EXPORTER_OTLP_COMPRESSION", "OTEL_EXPORTER_OTLP_TRACES_COMPRESSION",
	};
	for (size_t i = 0; i < sizeof(vars) / sizeof(vars[0]); i++)
		unsetenv(vars[i]);
}

/* OTLP exporter configuration: the base endpoint gets /v1/traces, the
 * per-signal one is used as is, the flag wins over both. */
static void test_endpoint_resolution(void **state)
{
	static struct otlp_config c;
	char err[256];
	(void)state;

	clear_env();
	assert_int_equal(otlp_config_read(&c, NULL, NULL, 0, -1, 0, 0, 0, "x", err, sizeof(err)), 0);
	assert_string_equal(c.url, "");		/* off */
	setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318/", 1);
	assert_int_equal(otlp_config_read(&c, NULL, NULL, 0, -1, 0, 0, 0, "x", err, sizeof(err)), 0);
	assert_string_equal(c.url, "http://collector:4318/v1/traces");
	otlp_config_release(&c);
	setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://other:4318/custom", 1);
	assert_int_equal(otlp_config_read(&c, NULL, NULL, 0, -1, 0, 0, 0, "x", err, sizeof(err)), 0);
	assert_string_equal(c.url, "http://other:4318/custom");
	otlp_config_release(&c);
	assert_int_equal(otlp_config_read(&c, "https://flag:4318", NULL, 0, -1, 0, 0, 0, "x", err,
					  sizeof(err)), 0);
	assert_string_equal(c.url, "https://flag:4318/v1/traces");
	/* four batches of 2048 (the SDK: of 512) */
	assert_int_equal(c.export.queue_size, 8192);
	assert_int_equal(c.export.batch_size, 2048);
	assert_true(c.sample == 1.0);
	otlp_config_release(&c);
	assert_int_equal(otlp_config_read(&c, "collector:4318", NULL, 0, -1, 0, 0, 0, "x", err,
					  sizeof(err)), -1);
	assert_non_null(strstr(err, "http://"));
	clear_env();
}

static void test_headers_sampler_and_resource(void **state)
{
	static struct otlp_config c;
	const char *flags[] = { "X-Key = v,1" };
	char err[256];
	(void)state;

	clear_env();
	setenv("OTEL_EXPORTER_OTLP_HEADERS", "x-key=env,api-key=a%3Db", 1);
	setenv("OTEL_TRACES_SAMPLER", "parentbased_traceidratio", 1);
	setenv("OTEL_TRACES_SAMPLER_ARG", "0.25", 1);
	setenv("OTEL_RESOURCE_ATTRIBUTES", "service.name=from-attrs,team=edge", 1);
	setenv("POD_NAMESPACE", "shop", 1);
	assert_int_equal(otlp_config_read(&c, "http://c:4318", flags, 1, -1, 0, 0, 0, "lb-proxy", err,
					  sizeof(err)), 0);
	assert_int_equal(c.export.nheaders, 2);
	assert_string_equal(c.export.headers[0], "X-Key: v,1");	/* the flag's, literal */
	assert_string_equal(c.export.headers[1], "api-key: a=b");	/* percent-decoded */
	assert_true(c.sample == 0.25);
	assert_non_null(strstr(c.resource.data, "\"service.name\",\"value\":{\"stringValue\":\"from-attrs\"}"));
	assert_non_null(strstr(c.resource.data, "\"k8s.namespace.name\""));
	assert_non_null(strstr(c.resource.data, "\"service.instance.id\""));
	otlp_config_release(&c);
	/* the flag wins over OTEL_TRACES_SAMPLER_ARG; a bad ARG is refused */
	assert_int_equal(otlp_config_read(&c, "http://c:4318", NULL, 0, 0.5, 0, 0, 0, "x", err,
					  sizeof(err)), 0);
	assert_true(c.sample == 0.5);
	otlp_config_release(&c);
	setenv("OTEL_TRACES_SAMPLER_ARG", "2", 1);
	assert_int_equal(otlp_config_read(&c, "http://c:4318", NULL, 0, -1, 0, 0, 0, "x", err,
					  sizeof(err)), -1);
	otlp_config_release(&c);
	clear_env();
}

/* The queue never grows: past queue_size, spans are dropped and counted. */
/* The compression: the flag, else the traces variable, else the general
 * one; gzip or none, anything else refused naming its source. */
static void test_compression_setting(void **state)
{
	static struct otlp_config c;
	char err[256];
	(void)state;

	clear_env();
	assert_int_equal(otlp_config_compression(&c, NULL, err, sizeof(err)), 0);
	assert_int_equal(c.export.gzip, 0);
	setenv("OTEL_EXPORTER_OTLP_COMPRESSION", "gzip", 1);
	assert_int_equal(otlp_config_compression(&c, NULL, err, sizeof(err)), 0);
	assert_int_equal(c.export.gzip, 1);
	setenv("OTEL_EXPORTER_OTLP_TRACES_COMPRESSION", "none", 1);
	assert_int_equal(otlp_config_compression(&c, NULL, err, sizeof(err)), 0);
	assert_int_equal(c.export.gzip, 0);
	assert_int_equal(otlp_config_compression(&c, "gzip", err, sizeof(err)), 0);
	assert_int_equal(c.export.gzip, 1);
	setenv("OTEL_EXPORTER_OTLP_TRACES_COMPRESSION", "br", 1);
	assert_int_equal(otlp_config_compression(&c, NULL, err, sizeof(err)), -1);
	assert_string_equal(err, "OTEL_EXPORTER_OTLP_TRACES_COMPRESSION \"br\" must be gzip or none");
	clear_env();
}

/* n spans into e; returns how many it took. */
static int queue_spans(struct otlp_export *e, int n)
{
	int taken = 0;

	for (int i = 0; i < n; i++) {
		struct otlp_span *sp = otlp_export_slot(e);

		if (sp) {
			otlp_span_name(sp, "GET", 3);
			otlp_span_str(sp, "url.path", "/", 1);
			otlp_export_commit(e);
			taken++;
		}
	}
	return taken;
}

/* The queue never grows: past queue_size spans waiting (full batches and
 * the one filling), spans are dropped and counted; the batch in flight is
 * out of the count, so its room takes new spans. */
static void test_queue_is_bounded(void **state)
{
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	struct buf resource = BUF_INIT;
	struct otlp_export_config cfg = {
		.url = "http://127.0.0.1:1/v1/traces", .resource = &resource, .scope = "t",
		.version = "1", .queue_size = 4, .batch_size = 100, .interval = 60, .timeout = 1,
	};
	struct otlp_export_stats st;
	struct otlp_export *e;
	char err[256];
	(void)state;

	buf_append_str(&resource, "{\"attributes\":[]}");
	e = otlp_export_new(loop, &cfg, err, sizeof(err));
	assert_non_null(e);
	assert_int_equal(queue_spans(e, 10), 4);
	otlp_export_stats(e, &st);
	assert_int_equal(st.queued, 4);
	assert_int_equal(st.dropped, 6);
	otlp_export_free(e);
	/* batches of 2 in a queue of 6: three full batches wait, then drops */
	cfg.queue_size = 6;
	cfg.batch_size = 2;
	e = otlp_export_new(loop, &cfg, err, sizeof(err));
	assert_non_null(e);
	assert_int_equal(queue_spans(e, 10), 6);
	otlp_export_stats(e, &st);
	assert_int_equal(st.queued, 6);
	assert_int_equal(st.dropped, 4);
	/* the loop's next pass sends the oldest batch: its two spans leave
	 * the queue, and two more fit */
	ev_run(loop, EVRUN_NOWAIT);
	otlp_export_stats(e, &st);
	assert_int_equal(st.queued, 4);
	assert_int_equal(queue_spans(e, 3), 2);
	otlp_export_stats(e, &st);
	assert_int_equal(st.queued, 6);
	assert_int_equal(st.dropped, 5);
	otlp_export_free(e);
	buf_release(&resource);
	ev_loop_destroy(loop);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_span_encodes_by_the_json_mapping),
		cmocka_unit_test(test_text_is_repaired_and_bounded),
		cmocka_unit_test(test_worst_span_fits_its_bound),
		cmocka_unit_test(test_span_not_closed_leaves_nothing),
		cmocka_unit_test(test_numbers_of_every_width),
		cmocka_unit_test(test_endpoint_resolution),
		cmocka_unit_test(test_headers_sampler_and_resource),
		cmocka_unit_test(test_queue_is_bounded),
		cmocka_unit_test(test_plain_text_word_at_a_time),
		cmocka_unit_test(test_gzip_round_trip),
		cmocka_unit_test(test_compression_setting),
	};
	int failed = cmocka_run_group_tests(tests, NULL, NULL);

	buf_release(&res);
	buf_release(&body);
	return failed;
}
