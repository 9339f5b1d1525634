/* otlp_span: a span written as OTLP JSON while it is filled (see
 * otlp_span.h): trace and span ids as lower-case hex, kind and status code
 * as integers, times in Unix nanoseconds as strings, attribute values typed
 * (stringValue, intValue), by the OTLP JSON mapping. */
#include "otlp_span.h"

#include <string.h>

#include "traceparent.h"

/* ---- text ------------------------------------------------------------------ */

/* The length of the UTF-8 character at s (n bytes left), or 0 when it is
 * not one (RFC 3629: no overlong forms, no surrogates, at most U+10FFFF). */
static size_t utf8_char(const unsigned char *s, size_t n)
{
	size_t len;
	unsigned cp;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		len = 2, cp = s[0] & 0x1f;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		len = 3, cp = s[0] & 0x0f;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		len = 4, cp = s[0] & 0x07;
	else
		return 0;
	if (n < len)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	if ((len == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
	    (len == 4 && (cp < 0x10000 || cp > 0x10ffff)))
		return 0;
	return len;
}

size_t otlp_utf8_copy(const char *s, size_t n, char *repair)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t i = 0;

	while (i < n) {
		size_t len;

		if (u[i] < 0x80) {
			if (repair)
				repair[i] = s[i];
			i++;
			continue;
		}
		len = utf8_char(u + i, n - i);
		if (len == 0) {
			if (!repair)
				return i;
			repair[i++] = '?';
			continue;
		}
		if (repair)
			memcpy(repair + i, s + i, len);
		i += len;
	}
	return i;
}

/* 1 when the 8 bytes of w are all printable ASCII other than '"' and '\\':
 * copied as they are into JSON, unescaped. Word at a time (the classic "has
 * a byte less than" tests): the text of a span is mostly such bytes, and
 * checking them one by one was most of a span's cost. */
static int word_plain(uint64_t w)
{
	const uint64_t ones = 0x0101010101010101ULL, high = 0x8080808080808080ULL;
	uint64_t quote = w ^ (ones * '"'), backslash = w ^ (ones * '\\');

	return !((w | ((w - ones * 0x20) & ~w) | ((quote - ones) & ~quote) |
		  ((backslash - ones) & ~backslash)) & high);
}

/* 1 when s[0, n) is all plain bytes (as word_plain). */
static int text_plain(const char *s, size_t n)
{
	uint64_t w;
	size_t i = 0;

	if (n < 8) {
		w = 0x2020202020202020ULL;	/* spaces: plain */
		for (; i < n; i++)
			w = w << 8 | (unsigned char)s[i];
		return word_plain(w);
	}
	for (; i + 8 < n; i += 8) {
		memcpy(&w, s + i, 8);
		if (!word_plain(w))
			return 0;
	}
	memcpy(&w, s + n - 8, 8);	/* the last word, overlapping the one before */
	return word_plain(w);
}

/* s[0, n) as a JSON string's content, in one pass: what is not UTF-8
 * written as '?', what JSON escapes escaped (6 bytes out per byte in at
 * most). */
static char *put_text(char *p, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *u = (const unsigned char *)s;

	for (size_t i = 0; i < n;) {
		unsigned char c = u[i];
		size_t len;

		if (c >= 0x80) {
			len = utf8_char(u + i, n - i);
			if (len == 0) {
				*p++ = '?';
				i++;
				continue;
			}
			memcpy(p, s + i, len);
			p += len;
			i += len;
			continue;
		}
		i++;
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
			memcpy(p, "u00", 3);
			p[3] = hex[c >> 4];
			p[4] = hex[c & 15];
			p += 5;
		}
	}
	return p;
}

/* ---- numbers ------------------------------------------------------------------ */

static char *put(char *p, const char *s, size_t n)
{
	memcpy(p, s, n);
	return p + n;
}

#define PUT_LIT(p, lit) put((p), (lit), sizeof(lit) - 1)

/* A short copy of a length known only at run time, 8 bytes a step (the
 * last step overlapping the one before): the compiler's inline memcpy for
 * it is `rep movs`, whose start-up costs more than the 40 bytes of an
 * attribute's frame. */
static char *put_short(char *p, const char *s, size_t n)
{
	size_t i = 0;

	if (n < 8) {
		if (n >= 4) {	/* two 4-byte steps, overlapping */
			memcpy(p, s, 4);
			memcpy(p + n - 4, s + n - 4, 4);
			return p + n;
		}
		for (; i < n; i++)
			p[i] = s[i];
		return p + n;
	}
	for (; i + 8 < n; i += 8)
		memcpy(p + i, s + i, 8);
	memcpy(p + n - 8, s + n - 8, 8);
	return p + n;
}

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

/* v < 10^8, its digits: the leading one or two, then pairs. */
static char *put_u32(char *p, uint32_t x)
{
	int n = 0;

	if (x < 100)
		return put_small(p, x);
	for (uint32_t t = x; t >= 100; t /= 100)
		n += 2;
	/* x has n + 1 or n + 2 digits */
	p = put_small(p, x / (n == 2 ? 100u : n == 4 ? 10000u : 1000000u));
	for (int i = n - 2; i >= 0; i -= 2) {
		static const uint32_t pow100[] = { 1, 100, 10000 };

		memcpy(p, digit_pairs + 2 * (x / pow100[i / 2] % 100), 2);
		p += 2;
	}
	return p;
}

/* Unix nanoseconds have 19 digits: written 8 at a time in 32-bit
 * arithmetic, not a 64-bit division per digit. */
static char *put_u64(char *p, uint64_t v)
{
	uint64_t hi;

	if (v < 100000000)
		return put_u32(p, (uint32_t)v);
	hi = v / 100000000;
	if (hi < 100000000) {
		p = put_u32(p, (uint32_t)hi);
	} else {
		uint32_t top = (uint32_t)(hi / 100000000);	/* at most 1844 */

		p = put_u32(p, top);
		p = put_8digits(p, (uint32_t)(hi - (uint64_t)top * 100000000));
	}
	return put_8digits(p, (uint32_t)(v - hi * 100000000));
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

/* ---- the span ---------------------------------------------------------------- */

int otlp_span_open(struct otlp_span *sp, struct buf *out, int first)
{
	if (buf_reserve(out, OTLP_SPAN_JSON_MAX) == -1)
		return -1;
	sp->has_parent = 0;
	sp->kind = OTLP_KIND_UNSPECIFIED;
	sp->status = OTLP_STATUS_UNSET;
	sp->start_ns = sp->end_ns = 0;
	sp->nattrs = sp->nevents = 0;
	sp->first = first != 0;
	sp->name_len = 0;
	sp->text_len = 0;
	sp->out = out;
	sp->p = NULL;
	return 0;
}

void otlp_span_name(struct otlp_span *sp, const char *name, size_t n)
{
	if (n >= sizeof(sp->name))
		n = sizeof(sp->name) - 1;
	sp->name_len = (uint8_t)otlp_utf8_copy(name, n, sp->name);
}

/* The span's JSON up to its attributes' "[": what is set before the first
 * attribute. Returns where the attributes go. */
static char *put_head(struct otlp_span *sp)
{
	char *p = sp->out->data + sp->out->len;

	if (!sp->first)
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
	p = put_text(p, sp->name, sp->name_len);
	p = PUT_LIT(p, "\",\"kind\":");
	p = put_u64(p, (uint64_t)sp->kind);
	/* fixed64 and int64 are strings in the proto3 JSON mapping */
	p = PUT_LIT(p, ",\"startTimeUnixNano\":\"");
	p = put_u64(p, sp->start_ns);
	p = PUT_LIT(p, "\",\"endTimeUnixNano\":\"");
	p = put_u64(p, sp->end_ns);
	return PUT_LIT(p, "\",\"attributes\":[");
}

/* Where the next attribute's frame goes (the head written first, the comma
 * skipped for the first), or NULL when the table is full. */
static inline char *attr_begin(struct otlp_span *sp, const char *frame, size_t frame_len)
{
	char *p;

	if (sp->nattrs == OTLP_SPAN_ATTRS_MAX || frame_len > OTLP_SPAN_KEY_MAX + 40)
		return NULL;
	p = sp->p ? sp->p : put_head(sp);
	if (sp->nattrs++ == 0)
		frame++, frame_len--;
	return put_short(p, frame, frame_len);
}

int otlp_span_add_strv(struct otlp_span *sp, const char *frame, size_t frame_len,
		       const struct iovec *parts, size_t n)
{
	char *p = attr_begin(sp, frame, frame_len);

	if (!p)
		return -1;
	for (size_t i = 0; i < n; i++) {
		const char *v = parts[i].iov_base;
		size_t len = parts[i].iov_len, room = OTLP_SPAN_TEXT_MAX - sp->text_len;

		if (len > room) {
			/* cut on a character's boundary */
			len = room;
			while (len > 0 && ((unsigned char)v[len] & 0xc0) == 0x80)
				len--;
		}
		/* the common case: copied as it is */
		p = !text_plain(v, len) ? put_text(p, v, len)
		    : len <= 64	    ? put_short(p, v, len)
				    : put(p, v, len);
		sp->text_len += len;
	}
	sp->p = PUT_LIT(p, "\"}}");
	return 0;
}

int otlp_span_add_str(struct otlp_span *sp, const char *frame, size_t frame_len, const char *v,
		      size_t n)
{
	struct iovec one = { (void *)v, n };

	return otlp_span_add_strv(sp, frame, frame_len, &one, 1);
}

int otlp_span_add_int(struct otlp_span *sp, const char *frame, size_t frame_len, long long v)
{
	char *p = attr_begin(sp, frame, frame_len);

	if (!p)
		return -1;
	p = put_i64(p, v);
	sp->p = PUT_LIT(p, "\"}}");
	return 0;
}

int otlp_span_event(struct otlp_span *sp, const char *name, uint64_t time_ns)
{
	if (sp->nevents == OTLP_SPAN_EVENTS_MAX)
		return -1;
	sp->events[sp->nevents].name = name;
	sp->events[sp->nevents].time_ns = time_ns;
	sp->nevents++;
	return 0;
}

void otlp_span_close(struct otlp_span *sp)
{
	char *p = sp->p ? sp->p : put_head(sp);

	/* Empty events and an unset status are left out (proto3 JSON: a
	 * default value may be omitted), bytes saved on most spans. */
	*p++ = ']';
	for (unsigned i = 0; i < sp->nevents; i++) {
		const char *name = sp->events[i].name;
		size_t n = strnlen(name, OTLP_SPAN_KEY_MAX);

		p = i ? PUT_LIT(p, ",") : PUT_LIT(p, ",\"events\":[");
		p = PUT_LIT(p, "{\"timeUnixNano\":\"");
		p = put_u64(p, sp->events[i].time_ns);
		p = PUT_LIT(p, "\",\"name\":\"");
		p = put_text(p, name, n);	/* static, but cut: the bound counts on it */
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
	sp->out->len = (size_t)(p - sp->out->data);
	sp->p = NULL;
}
