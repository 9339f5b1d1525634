/* log: one line per event on stderr, as text or JSON, with levels. */
#include "log.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "timefmt.h"

static const char *log_component = "lb";
static enum log_level log_min = LOG_INFO;
static enum log_format log_fmt = LOG_FORMAT_TEXT;
static const char *const level_names[] = { "debug", "info", "warn", "error" };
static const char *const level_upper[] = { "DEBUG", "INFO", "WARN", "ERROR" };
static log_sink_fn log_sink;
/* log_text_prefix's last prefix, kept for the lines of the same millisecond
 * (a busy proxy logs dozens a millisecond: the strlens and the timestamp
 * were a sixth of an access line's cost); log_setup forgets it. */
static struct {
	const char *msg;
	enum log_level level;
	long long ms;		/* CLOCK_REALTIME in ms; -1: none */
	size_t len;
	char text[LOG_PREFIX_MAX];
} prefix_cache = { .ms = -1 };

void log_set_sink(log_sink_fn sink)
{
	log_sink = sink;
}

void log_setup(const char *component, enum log_level level, enum log_format format)
{
	if (component)
		log_component = component;
	prefix_cache.ms = -1;
	log_min = level;
	log_fmt = format;
}

int log_level_parse(const char *s)
{
	for (int i = 0; i < 4; i++)
		if (strcmp(s, level_names[i]) == 0)
			return i;
	return -1;
}

int log_format_parse(const char *s)
{
	if (strcmp(s, "text") == 0)
		return LOG_FORMAT_TEXT;
	if (strcmp(s, "json") == 0)
		return LOG_FORMAT_JSON;
	return -1;
}

int log_enabled(enum log_level level)
{
	return level >= log_min;
}

unsigned long log_every(struct log_limit *l, double now, double interval)
{
	unsigned long n;

	l->count++;
	if (now < l->next)
		return 0;
	n = l->count;
	l->count = 0;
	l->next = now + interval;
	return n;
}

/* Longest unquoted value written as a JSON number; up to 15 integer digits,
 * so any double a reader makes of it is exact, and a 2-digit exponent at
 * most, so it never overflows one. */
#define LOG_NUMBER_MAX 24
#define LOG_NUMBER_INT_DIGITS 15

/* 1 when s[0..n) is a JSON number (RFC 8259 section 6: -?(0|[1-9][0-9]*)
 * (.[0-9]+)?([eE][+-]?[0-9]+)?) short enough to be exact: 42, -1, 0.412,
 * 1e-05. Anything else (007, 1., .5, inf, 0x10, 10.0.0.1) stays a string. */
static int json_number(const char *s, size_t n)
{
	size_t i = 0, digits;

	if (n == 0 || n > LOG_NUMBER_MAX)
		return 0;
	if (s[i] == '-')
		i++;
	if (i == n || s[i] < '0' || s[i] > '9')
		return 0;
	if (s[i] == '0') {
		i++;
	} else {
		for (digits = 0; i < n && s[i] >= '0' && s[i] <= '9'; i++)
			digits++;
		if (digits > LOG_NUMBER_INT_DIGITS)
			return 0;
	}
	if (i < n && s[i] == '.') {
		size_t start = ++i;

		while (i < n && s[i] >= '0' && s[i] <= '9')
			i++;
		if (i == start)
			return 0;
	}
	if (i < n && (s[i] == 'e' || s[i] == 'E')) {
		size_t start;

		i++;
		if (i < n && (s[i] == '+' || s[i] == '-'))
			i++;
		start = i;
		while (i < n && s[i] >= '0' && s[i] <= '9')
			i++;
		if (i == start || i - start > 2)
			return 0;
	}
	return i == n;
}

static const char *closing_quote(const char *p, const char *end)
{
	for (; p < end; p++) {
		const char *k;

		if (*p != '"')
			continue;
		if (p + 1 == end)
			return p;
		if (p[1] != ' ')
			continue;
		for (k = p + 2; k < end && (isalnum((unsigned char)*k) || *k == '_'); k++)
			;
		if (k > p + 2 && k < end && *k == '=')
			return p;
	}
	return NULL;
}

/* Turns "k=v k2=v2" into ,"k":"v","k2":v2 */
static void json_fields(struct buf *out, const char *kv, size_t n)
{
	size_t i = 0;

	while (i < n) {
		size_t start, eq, end;

		while (i < n && kv[i] == ' ')
			i++;
		if (i >= n)
			break;
		start = i;
		while (i < n && kv[i] != ' ' && kv[i] != '=')
			i++;
		eq = i;
		if (i + 1 < n && kv[i + 1] == '"') {
			/* key="quoted value" may hold spaces, and quotes too: it ends
			 * at a quote followed by the end or by " key=" */
			const char *close = closing_quote(kv + i + 2, kv + n);
			size_t vend = close ? (size_t)(close - kv) : n;

			buf_append(out, ",\"", 2);
			buf_append_json_escaped(out, kv + start, eq - start);
			buf_append(out, "\":\"", 3);
			buf_append_json_escaped(out, kv + eq + 2, vend - eq - 2);
			buf_append(out, "\"", 1);
			i = close ? vend + 1 : n;
			continue;
		}
		while (i < n && kv[i] != ' ')
			i++;
		end = i;
		buf_append(out, ",\"", 2);
		buf_append_json_escaped(out, kv + start, eq - start);
		buf_append(out, "\":", 2);
		if (eq < end && json_number(kv + eq + 1, end - eq - 1)) {
			buf_append(out, kv + eq + 1, end - eq - 1);
		} else {
			buf_append(out, "\"", 1);
			if (eq < end)
				buf_append_json_escaped(out, kv + eq + 1, end - eq - 1);
			buf_append(out, "\"", 1);
		}
	}
}

/* Bytes a text line's quoted value escapes: '"', '\\', controls and DEL. */
static const unsigned char escape_byte[256] = {
	[0x00 ... 0x1f] = 1, ['"'] = 1, ['\\'] = 1, [0x7f] = 1,
};

/* Appends a quoted value's bytes as logfmt escapes them: \\ and \" for the
 * two that would end or confuse it, \n \r \t and \xHH for control bytes, so
 * a client's request (GET /a"x=1) cannot forge a field or break the line. */
static void text_escaped(struct buf *out, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	size_t run = 0;	/* start of the bytes that need no escape, appended at once */

	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (!escape_byte[c])
			continue;
		buf_append(out, s + run, i - run);
		run = i + 1;
		if (c == '\\' || c == '"') {
			char e[2] = { '\\', (char)c };

			buf_append(out, e, 2);
		} else if (c == '\n') {
			buf_append(out, "\\n", 2);
		} else if (c == '\r') {
			buf_append(out, "\\r", 2);
		} else if (c == '\t') {
			buf_append(out, "\\t", 2);
		} else {
			char e[4] = { '\\', 'x', hex[c >> 4], hex[c & 15] };

			buf_append(out, e, 4);
		}
	}
	buf_append(out, s + run, n - run);
}

const char *log_printable(const char *s, char *out, size_t outsz)
{
	struct buf b = BUF_INIT;

	text_escaped(&b, s, strlen(s));
	snprintf(out, outsz, "%.*s", (int)b.len, b.len ? b.data : "");
	buf_release(&b);
	return out;
}

/* The text line's fields: as written, but each key="quoted value" (found as
 * json_fields finds it) escaped by text_escaped. */
static void text_fields(struct buf *out, const char *kv, size_t n)
{
	size_t i = 0, copied = 0;

	while (i < n) {
		const char *close;
		size_t vstart, vend;

		while (i < n && kv[i] != '=')
			i++;
		if (i + 1 >= n || kv[i + 1] != '"' || (i > 0 && kv[i - 1] == ' ')) {
			i++;
			continue;
		}
		vstart = i + 2;
		close = closing_quote(kv + vstart, kv + n);
		vend = close ? (size_t)(close - kv) : n;
		buf_append(out, kv + copied, vstart - copied);
		text_escaped(out, kv + vstart, vend - vstart);
		buf_append(out, "\"", 1);
		i = copied = close ? vend + 1 : n;
		/* the next token starts after the closing quote's space */
	}
	if (copied < n)
		buf_append(out, kv + copied, n - copied);
}

int log_write(enum log_level level, const char *msg, const char *kv, ...)
{
	char kvbuf[LOG_KV_MAX];
	size_t kvlen = 0;
	va_list ap;

	if (level < log_min)
		return 0;
	if (kv) {
		int n;

		va_start(ap, kv);
		n = vsnprintf(kvbuf, sizeof(kvbuf), kv, ap);
		va_end(ap);
		if (n > 0)
			kvlen = (size_t)n < sizeof(kvbuf) ? (size_t)n : sizeof(kvbuf) - 1;
	}
	return log_write_fields(level, msg, kvbuf, kvlen);
}

static int write_fields(enum log_level level, const char *msg, const char *kv, size_t kvlen,
			int request);

int log_write_fields(enum log_level level, const char *msg, const char *kv, size_t kvlen)
{
	return write_fields(level, msg, kv, kvlen, 0);
}

int log_write_request_fields(enum log_level level, const char *msg, const char *kv,
			     size_t kvlen)
{
	return write_fields(level, msg, kv, kvlen, 1);
}

static int write_fields(enum log_level level, const char *msg, const char *kv, size_t kvlen,
			int request)
{
	/* Reused across calls: the programs are single-threaded, and a log line
	 * must not cost a malloc on the request path. */
	static struct buf out = BUF_INIT;
	char ts[32];
	size_t tslen;

	if (level < log_min)
		return 0;
	if (kvlen > LOG_KV_MAX - 1)
		kvlen = LOG_KV_MAX - 1;
	tslen = timefmt_iso_ms(ts);
	buf_reset(&out);
	if (log_fmt == LOG_FORMAT_JSON) {
		buf_append_str(&out, "{\"ts\":\"");
		buf_append(&out, ts, tslen);
		buf_append_str(&out, "\",\"level\":\"");
		buf_append_str(&out, level_names[level]);
		buf_append_str(&out, "\",\"component\":\"");
		buf_append_json_escaped(&out, log_component, strlen(log_component));
		buf_append_str(&out, "\",\"msg\":\"");
		buf_append_json_escaped(&out, msg, strlen(msg));
		buf_append(&out, "\"", 1);
		json_fields(&out, kv, kvlen);
		buf_append(&out, "}\n", 2);
	} else {
		/* appended piece by piece: a printf here was an eighth of a line's cost */
		buf_append(&out, "[", 1);
		buf_append_str(&out, log_component);
		buf_append(&out, "] ", 2);
		buf_append(&out, ts, tslen);
		buf_append(&out, " ", 1);
		buf_append_str(&out, level_upper[level]);
		buf_append(&out, " ", 1);
		buf_append_str(&out, msg);
		if (kvlen) {
			buf_append(&out, " ", 1);
			text_fields(&out, kv, kvlen);
		}
		buf_append(&out, "\n", 1);
	}
	if (log_sink)
		return log_sink(out.data, out.len, request);
	/* One write per line so lines of concurrent processes do not interleave. */
	if (write(STDERR_FILENO, out.data, out.len) < 0) {
		/* nowhere left to report it */
	}
	return 0;
}

size_t log_text_prefix(enum log_level level, const char *msg, char *out)
{
	size_t clen, mlen, llen, n = 0;
	struct timespec ts;
	long long ms;

	if (level < log_min || log_fmt != LOG_FORMAT_TEXT)
		return 0;
	clock_gettime(CLOCK_REALTIME, &ts);
	ms = (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
	if (ms == prefix_cache.ms && msg == prefix_cache.msg && level == prefix_cache.level) {
		memcpy(out, prefix_cache.text, prefix_cache.len);
		return prefix_cache.len;
	}
	clen = strlen(log_component);
	mlen = strlen(msg);
	llen = strlen(level_upper[level]);
	/* [] and spaces 5, the timestamp 24 and its NUL */
	if (clen + mlen + llen + 5 + 25 > LOG_PREFIX_MAX)
		return 0;
	out[n++] = '[';
	memcpy(out + n, log_component, clen);
	n += clen;
	out[n++] = ']';
	out[n++] = ' ';
	n += timefmt_iso_ms_at(&ts, out + n);
	out[n++] = ' ';
	memcpy(out + n, level_upper[level], llen);
	n += llen;
	out[n++] = ' ';
	memcpy(out + n, msg, mlen);
	n += mlen;
	out[n++] = ' ';
	memcpy(prefix_cache.text, out, n);
	prefix_cache.len = n;
	prefix_cache.ms = ms;
	prefix_cache.msg = msg;
	prefix_cache.level = level;
	return n;
}

int log_write_line(const char *line, size_t len)
{
	if (log_sink)
		return log_sink(line, len, 1);
	if (write(STDERR_FILENO, line, len) < 0) {
		/* nowhere left to report it */
	}
	return 0;
}

size_t log_escape_text(char *out, size_t room, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	size_t w = 0, run = 0;	/* s[run..i) need no escape: copied at once */

	for (size_t i = 0;; i++) {
		size_t len, elen = 2;
		unsigned char c;
		char e[4];

		while (i < n && !escape_byte[(unsigned char)s[i]])
			i++;
		len = i - run;
		if (len > room - w)
			len = room - w;
		memcpy(out + w, s + run, len);
		w += len;
		if (i == n || len < i - run)
			return w;
		c = (unsigned char)s[i];
		run = i + 1;
		e[0] = '\\';
		if (c == '\\' || c == '"') {
			e[1] = (char)c;
		} else if (c == '\n') {
			e[1] = 'n';
		} else if (c == '\r') {
			e[1] = 'r';
		} else if (c == '\t') {
			e[1] = 't';
		} else {
			e[1] = 'x';
			e[2] = hex[c >> 4];
			e[3] = hex[c & 15];
			elen = 4;
		}
		if (room - w < elen)
			return w;
		memcpy(out + w, e, elen);
		w += elen;
	}
}
