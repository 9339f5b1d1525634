/* otlp_json: OTLP/HTTP JSON request bodies (see otlp_json.h). */
#include "otlp_json.h"

#include <string.h>

#include "traceparent.h"


static int append_string(struct buf *out, const char *s, size_t n)
{
	buf_append(out, "\"", 1);
	buf_append_json_escaped(out, s, n);
	return buf_append(out, "\"", 1);
}

int otlp_json_resource(struct buf *out, const char *const *kv, size_t n)
{
	buf_append_str(out, "{\"attributes\":[");
	for (size_t i = 0; i < n; i++) {
		buf_append_str(out, i ? ",{\"key\":" : "{\"key\":");
		append_string(out, kv[2 * i], strlen(kv[2 * i]));
		buf_append_str(out, ",\"value\":{\"stringValue\":");
		append_string(out, kv[2 * i + 1], strlen(kv[2 * i + 1]));
		buf_append_str(out, "}}");
	}
	return buf_append_str(out, "]}");
}

int otlp_json_begin(struct buf *out, const struct buf *resource, const char *scope,
		    const char *version)
{
	buf_append_str(out, "{\"resourceSpans\":[{\"resource\":");
	buf_append(out, resource->data, resource->len);
	buf_append_str(out, ",\"scopeSpans\":[{\"scope\":{\"name\":");
	append_string(out, scope, strlen(scope));
	buf_append_str(out, ",\"version\":");
	append_string(out, version, strlen(version));
	return buf_append_str(out, "},\"spans\":[");
}

/* ---- one span, written straight into reserved room (the hot part) ---- */

static char *put(char *p, const char *s, size_t n)
{
	memcpy(p, s, n);
	return p + n;
}

#define PUT_LIT(p, lit) put((p), (lit), sizeof(lit) - 1)

/* "00" to "99": two digits a step, half the divisions. */
static const char digit_pairs[] =
	"00010203040506070809101112131415161718192021222324252627282930313233343536373839"
	"40414243444546474849505152535455565758596061626364656667686970717273747576777879"
	"8081828384858687888990919293949596979899";

/* v < 100: its one or two digits. */
static char *put_small(char *p, unsigned v)
{
	if (v < 10) {
		*p = (char)('0' + v);
		return p + 1;
	}
	memcpy(p, digit_pairs + 2 * v, 2);
	return p + 2;
}

/* v < 10^8 as exactly 8 digits (leading zeros), in 32-bit steps. */
static char *put_8digits(char *p, uint32_t v)
{
	for (int i = 6; i >= 0; i -= 2) {
		memcpy(p + i, digit_pairs + 2 * (v % 100), 2);
		v /= 100;
	}
	return p + 8;
}

/* Unix nanoseconds have 19 digits: written 8 at a time in 32-bit
 * arithmetic, not a 64-bit division per digit. */
static char *put_u64(char *p, uint64_t v)
{
	uint32_t x;
	int n = 0;

	if (v >= 100000000) {
		p = put_u64(p, v / 100000000);
		return put_8digits(p, (uint32_t)(v % 100000000));
	}
	x = (uint32_t)v;
	if (x < 100)
		return put_small(p, x);
	for (uint32_t t = x; t >= 100; t /= 100)
		n += 2;
	/* x has n + 1 or n + 2 digits: the leading one or two, then pairs */
	p = put_small(p, x / (n == 2 ? 100u : n == 4 ? 10000u : 1000000u));
	for (int i = n - 2; i >= 0; i -= 2) {
		static const uint32_t pow100[] = { 1, 100, 10000 };

		memcpy(p, digit_pairs + 2 * (x / pow100[i / 2] % 100), 2);
		p += 2;
	}
	return p;
}

static char *put_i64(char *p, long long v)
{
	if (v < 0) {
		*p++ = '-';
		return put_u64(p, (uint64_t)0 - (uint64_t)v);
	}
	return put_u64(p, (uint64_t)v);
}

static char *put_hex(char *p, const uint8_t *b, size_t n)
{
	trace_hex(b, n, p);
	return p + 2 * n;
}

/* A JSON string's content: at most 6 bytes out per byte in. */
static char *put_escaped(char *p, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c >= 0x20 && c != '"' && c != '\\') {
			*p++ = (char)c;
			continue;
		}
		*p++ = '\\';
		switch (c) {
		case '"': *p++ = '"'; break;
		case '\\': *p++ = '\\'; break;
		case '\n': *p++ = 'n'; break;
		case '\r': *p++ = 'r'; break;
		case '\t': *p++ = 't'; break;
		default:
			p = PUT_LIT(p, "u00");
			*p++ = hex[c >> 4];
			*p++ = hex[c & 15];
		}
	}
	return p;
}

/* The most bytes sp can take in JSON. */
static size_t span_bound(const struct otlp_span *sp)
{
	size_t n = 512 + 6 * strlen(sp->name) + 6 * sp->text_len;

	for (unsigned i = 0; i < sp->nattrs; i++)
		n += sp->attrs[i].key_len + 64u;
	for (unsigned i = 0; i < sp->nevents; i++)
		n += strlen(sp->events[i].name) + 64;
	return n;
}

int otlp_json_span(struct buf *out, const struct otlp_span *sp, int first)
{
	char *p;

	if (buf_reserve(out, span_bound(sp)) == -1)
		return -1;
	p = out->data + out->len;
	if (!first)
		*p++ = ',';
	p = PUT_LIT(p, "{\"traceId\":\"");
	p = put_hex(p, sp->trace_id, 16);
	p = PUT_LIT(p, "\",\"spanId\":\"");
	p = put_hex(p, sp->span_id, 8);
	*p++ = '"';
	if (sp->has_parent) {
		p = PUT_LIT(p, ",\"parentSpanId\":\"");
		p = put_hex(p, sp->parent_id, 8);
		*p++ = '"';
	}
	p = PUT_LIT(p, ",\"name\":\"");
	p = put_escaped(p, sp->name, strlen(sp->name));
	p = PUT_LIT(p, "\",\"kind\":");
	p = put_u64(p, (uint64_t)sp->kind);
	/* fixed64 and int64 are strings in the proto3 JSON mapping */
	p = PUT_LIT(p, ",\"startTimeUnixNano\":\"");
	p = put_u64(p, sp->start_ns);
	p = PUT_LIT(p, "\",\"endTimeUnixNano\":\"");
	p = put_u64(p, sp->end_ns);
	p = PUT_LIT(p, "\",\"attributes\":[");
	for (unsigned i = 0; i < sp->nattrs; i++) {
		const struct otlp_attr *a = &sp->attrs[i];

		if (i)
			*p++ = ',';
		p = PUT_LIT(p, "{\"key\":\"");
		p = put(p, a->key, a->key_len);	/* static, plain ASCII */
		if (a->type == OTLP_VALUE_INT) {
			p = PUT_LIT(p, "\",\"value\":{\"intValue\":\"");
			p = put_i64(p, a->i);
		} else {
			p = PUT_LIT(p, "\",\"value\":{\"stringValue\":\"");
			p = a->plain ? put(p, sp->text + a->off, a->len)
				     : put_escaped(p, sp->text + a->off, a->len);
		}
		p = PUT_LIT(p, "\"}}");
	}
	/* Empty events and an unset status are left out (proto3 JSON: a
	 * default value may be omitted), bytes saved on most spans. */
	*p++ = ']';
	for (unsigned i = 0; i < sp->nevents; i++) {
		p = i ? PUT_LIT(p, ",") : PUT_LIT(p, ",\"events\":[");
		p = PUT_LIT(p, "{\"timeUnixNano\":\"");
		p = put_u64(p, sp->events[i].time_ns);
		p = PUT_LIT(p, "\",\"name\":\"");
		p = put(p, sp->events[i].name, strlen(sp->events[i].name));	/* static */
		p = PUT_LIT(p, "\"}");
	}
	if (sp->nevents)
		*p++ = ']';
	if (sp->status != OTLP_STATUS_UNSET) {
		p = PUT_LIT(p, ",\"status\":{\"code\":");
		p = put_u64(p, (uint64_t)sp->status);
		*p++ = '}';
	}
	*p++ = '}';
	out->len = (size_t)(p - out->data);
	return 0;
}

int otlp_json_end(struct buf *out)
{
	return buf_append_str(out, "]}]}]}");
}
