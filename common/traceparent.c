/* traceparent: W3C Trace Context's two fields, read and written (see
 * traceparent.h; section numbers are the Recommendation's). */
#include "traceparent.h"

#include <string.h>

static int lower_hex(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;		/* upper case too: 3.2.2 is HEXDIGLC */
}

/* Decodes 2n lower-case hex digits; -1 when one is not. */
static int hex_bytes(const char *s, size_t n, uint8_t *out)
{
	for (size_t i = 0; i < n; i++) {
		int hi = lower_hex(s[2 * i]), lo = lower_hex(s[2 * i + 1]);

		if (hi < 0 || lo < 0)
			return -1;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return 0;
}

static int all_zero(const uint8_t *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (b[i])
			return 0;
	return 1;
}

int traceparent_parse(const char *s, size_t n, struct trace_context *out)
{
	uint8_t version, flags;

	if (n < TRACEPARENT_LEN || hex_bytes(s, 1, &version) == -1 || version == 0xff)
		return -1;
	/* 3.2.4: version 00 is exactly 55; a later one may carry more after a dash. */
	if (version == 0 ? n != TRACEPARENT_LEN : n > TRACEPARENT_LEN && s[TRACEPARENT_LEN] != '-')
		return -1;
	if (s[2] != '-' || s[35] != '-' || s[52] != '-')
		return -1;
	if (hex_bytes(s + 3, 16, out->trace_id) == -1 || hex_bytes(s + 36, 8, out->span_id) == -1 ||
	    hex_bytes(s + 53, 1, &flags) == -1)
		return -1;
	/* 3.2.2.3, 3.2.2.4: all zeroes is an invalid id */
	if (all_zero(out->trace_id, 16) || all_zero(out->span_id, 8))
		return -1;
	out->flags = flags & TRACE_FLAG_SAMPLED;
	return 0;
}

/* Every byte's two hex digits: one load a byte instead of two. */
static const char hex_pairs[] =
	"000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
	"202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f"
	"404142434445464748494a4b4c4d4e4f505152535455565758595a5b5c5d5e5f"
	"606162636465666768696a6b6c6d6e6f707172737475767778797a7b7c7d7e7f"
	"808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f"
	"a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbebf"
	"c0c1c2c3c4c5c6c7c8c9cacbcccdcecfd0d1d2d3d4d5d6d7d8d9dadbdcdddedf"
	"e0e1e2e3e4e5e6e7e8e9eaebecedeeeff0f1f2f3f4f5f6f7f8f9fafbfcfdfeff";

void trace_hex(const uint8_t *bytes, size_t n, char *out)
{
	for (size_t i = 0; i < n; i++)
		memcpy(out + 2 * i, hex_pairs + 2 * bytes[i], 2);
}

size_t traceparent_format(const struct trace_context *c, char *out)
{
	memcpy(out, "00-", 3);
	trace_hex(c->trace_id, 16, out + 3);
	out[35] = '-';
	trace_hex(c->span_id, 8, out + 36);
	out[52] = '-';
	trace_hex(&c->flags, 1, out + 53);
	out[TRACEPARENT_LEN] = '\0';
	return TRACEPARENT_LEN;
}

/* ---- tracestate ------------------------------------------------------------ */

static int lcalpha(char c)
{
	return c >= 'a' && c <= 'z';
}

static int key_char(char c)
{
	return lcalpha(c) || (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '*' || c == '/';
}

/* 3.3.1.3.1: simple-key, or tenant-id "@" system-id. */
static int key_valid(const char *k, size_t n)
{
	const char *at = memchr(k, '@', n);

	if (n == 0)
		return 0;
	if (!at) {
		if (n > 256 || !lcalpha(k[0]))
			return 0;
		for (size_t i = 1; i < n; i++)
			if (!key_char(k[i]))
				return 0;
		return 1;
	}
	size_t tenant = (size_t)(at - k), system = n - tenant - 1;

	if (tenant == 0 || tenant > 241 || system == 0 || system > 14 || !lcalpha(at[1]) ||
	    (!lcalpha(k[0]) && !(k[0] >= '0' && k[0] <= '9')))
		return 0;
	for (size_t i = 1; i < tenant; i++)
		if (!key_char(k[i]))
			return 0;
	for (size_t i = 2; i <= system; i++)
		if (!key_char(at[i]))
			return 0;
	return 1;
}

/* 3.3.1.3.2: 1-256 printable characters but "," and "=", the last not a space. */
static int value_valid(const char *v, size_t n)
{
	if (n == 0 || n > 256 || v[n - 1] == ' ')
		return 0;
	for (size_t i = 0; i < n; i++)
		if (v[i] < 0x20 || v[i] > 0x7e || v[i] == ',' || v[i] == '=')
			return 0;
	return 1;
}

static void add_member(struct tracestate *ts, const char *p, size_t n)
{
	const char *eq = memchr(p, '=', n);

	if (!eq || !key_valid(p, (size_t)(eq - p)) ||
	    !value_valid(eq + 1, n - (size_t)(eq - p) - 1) || ts->n == TRACESTATE_MEMBERS_MAX) {
		ts->invalid = 1;
		return;
	}
	for (unsigned i = 0; i < ts->n; i++) {
		const char *other = ts->members[i].p;
		size_t klen = (size_t)(eq - p) + 1;	/* with its '=' */

		if (ts->members[i].len >= klen && memcmp(other, p, klen) == 0) {
			ts->invalid = 1;	/* 3.3.1.3: keys are unique */
			return;
		}
	}
	ts->members[ts->n].p = p;
	ts->members[ts->n].len = (uint16_t)n;
	ts->n++;
}

void tracestate_add(struct tracestate *ts, const char *s, size_t n)
{
	const char *end = s + n;

	while (s < end && !ts->invalid) {
		const char *comma = memchr(s, ',', (size_t)(end - s)), *stop = comma ? comma : end;
		const char *a = s, *b = stop;

		while (a < b && (*a == ' ' || *a == '\t'))
			a++;
		while (b > a && (b[-1] == ' ' || b[-1] == '\t'))
			b--;
		/* a member is key "=" value: 256 + 1 + 256 at most */
		if (b - a > 513)
			ts->invalid = 1;
		else if (b > a)
			add_member(ts, a, (size_t)(b - a));
		s = comma ? comma + 1 : end;
	}
}

size_t tracestate_format(const struct tracestate *ts, char *out)
{
	int keep[TRACESTATE_MEMBERS_MAX];
	size_t total = 0, len = 0;	/* each kept member and a comma: one more than written */

	out[0] = '\0';
	if (ts->invalid)
		return 0;
	for (unsigned i = 0; i < ts->n; i++) {
		keep[i] = 1;
		total += ts->members[i].len + 1u;
	}
	/* 3.3.1.5: the long members first, then from the right. */
	for (unsigned i = 0; i < ts->n && total > TRACESTATE_MAX + 1; i++)
		if (ts->members[i].len > TRACESTATE_LONG_MEMBER) {
			keep[i] = 0;
			total -= ts->members[i].len + 1;
		}
	for (unsigned i = ts->n; i-- > 0 && total > TRACESTATE_MAX + 1;)
		if (keep[i]) {
			keep[i] = 0;
			total -= ts->members[i].len + 1;
		}
	for (unsigned i = 0; i < ts->n; i++) {
		if (!keep[i])
			continue;
		if (len)
			out[len++] = ',';
		memcpy(out + len, ts->members[i].p, ts->members[i].len);
		len += ts->members[i].len;
	}
	out[len] = '\0';
	return len;
}
