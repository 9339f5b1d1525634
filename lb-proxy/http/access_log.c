/* access_log: one line per request (see access_log.h); written with the
 * pass's other lines by common/log_buffer.c, never one write per request. */
#include "access_log.h"

#include <stdio.h>
#include <string.h>

#include "log.h"
#include "net/transport_tls.h"
#include "timefmt.h"
#include "trace.h"

/* " tried=A:why,B:why,C" when the request tried more than one backend: each
 * that failed with why, then the one that answered. */
static void tried_list(const struct session *s, char *out, size_t outsz)
{
	size_t n = 0;

	out[0] = '\0';
	if (s->x->pick.ntried == 0)
		return;
	n = (size_t)snprintf(out, outsz, " tried=");
	for (unsigned i = 0; i < s->x->pick.ntried && n < outsz; i++)
		n += (size_t)snprintf(out + n, outsz - n, "%s%s:%s", i ? "," : "",
				      s->x->pick.tried[i]->name, s->x->tried_why[i]);
	/* the one that answered, unless the proxy answered for the last one tried */
	if (s->be && s->be != s->x->pick.tried[s->x->pick.ntried - 1] && n < outsz)
		snprintf(out + n, outsz - n, ",%s", s->be->name);
}

/* The line, appended piece by piece into a fixed buffer and cut at its end
 * as log_write cuts a printf's (a printf of these fourteen values was half
 * of a line's cost). A text line is made whole here, its prefix first and
 * the one value a client chooses that may need it escaped (the target), and
 * is copied once, into the log buffer; a JSON one is made of the key=value
 * text by log_write_request_fields. */
struct fields {
	char text[LOG_PREFIX_MAX + LOG_KV_MAX];
	size_t len;
	size_t end;		/* fields stop here */
	int text_line;		/* text[0..len) is a text line's start */
};

static void put(struct fields *f, const char *p, size_t n)
{
	size_t room = f->end - f->len;

	if (n > room)
		n = room;
	memcpy(f->text + f->len, p, n);
	f->len += n;
}

/* a string literal, without strlen */
#define put_lit(f, lit) put((f), (lit), sizeof(lit) - 1)

static void put_str(struct fields *f, const char *p)
{
	put(f, p, strlen(p));
}

/* a quoted value a client chose, escaped for the text line (the JSON one
 * escapes it its way) */
static void put_quoted(struct fields *f, const char *p, size_t n)
{
	if (f->text_line)
		f->len += log_escape_text(f->text + f->len, f->end - f->len, p, n);
	else
		put(f, p, n);
}

static void put_uint(struct fields *f, unsigned long long v)
{
	char d[24];
	size_t i = sizeof(d);

	do {
		d[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	put(f, d + i, sizeof(d) - i);
}

static void put_int(struct fields *f, long long v)
{
	if (v < 0) {
		put(f, "-", 1);
		put_uint(f, 0ULL - (unsigned long long)v);
		return;
	}
	put_uint(f, (unsigned long long)v);
}

/* seconds as milliseconds with three decimals: 0.000412 is 0.412 */
static void put_ms(struct fields *f, double seconds)
{
	unsigned long long us = seconds > 0 ? (unsigned long long)(seconds * 1e6 + 0.5) : 0;
	char frac[4] = { (char)('0' + us / 100 % 10), (char)('0' + us / 10 % 10),
			 (char)('0' + us % 10), '\0' };

	put_uint(f, us / 1000);
	put(f, ".", 1);
	put(f, frac, 3);
}

/* Values a client chooses (request, request_id) and the TLS version are
 * quoted, so --log-format json keeps them strings; the numbers (status,
 * duration_ms, bytes, retries) are JSON numbers. */
void access_log_request(const struct session *s)
{
	char tried[BALANCE_MAX_TRIED * 96];
	const char *tls = transport_tls_version(&s->tr);
	struct fields f;
	char trace_id[33];
	int rc;

	if (!s->px->opts->access_log)
		return;
	f.len = log_text_prefix(LOG_INFO, "request", f.text);
	f.text_line = f.len > 0;
	/* room for the text line's newline; the JSON one's fields as
	 * log_write_request_fields cuts them */
	f.end = f.text_line ? sizeof(f.text) - 1 : LOG_KV_MAX - 1;
	put_lit(&f, "client=");
	put_str(&f, s->client_ip);
	put_lit(&f, " request=\"");
	put_quoted(&f, s->x->target, strlen(s->x->target));
	put_lit(&f, "\" status=");
	put_int(&f, s->status);
	put_lit(&f, " backend=");
	put_str(&f, s->be ? s->be->name : "-");
	put_lit(&f, " duration_ms=");
	put_ms(&f, timefmt_mono() - s->x->started);
	put_lit(&f, " bytes=");
	put_uint(&f, s->x->bytes_out);
	put_lit(&f, " retries=");
	put_int(&f, s->x->retries);
	/* the request id is checked (headers_request_id_valid) or made here:
	 * nothing in it needs escaping, nor in the trace id (hex) */
	put_lit(&f, " request_id=\"");
	put(&f, s->x->request_id, s->x->request_id_len);
	put_lit(&f, "\" trace_id=\"");
	trace_log_id(s, trace_id);
	put_str(&f, trace_id);
	put_lit(&f, "\"");
	if (s->x->pick.ntried) {
		tried_list(s, tried, sizeof(tried));
		put_str(&f, tried);
	}
	if (s->x->refusal) {	/* static, but some are llhttp's words */
		put_lit(&f, " refused=\"");
		put_quoted(&f, s->x->refusal, strlen(s->x->refusal));
		put_lit(&f, "\"");
	}
	if (tls) {
		put_lit(&f, " tls=\"");
		put_str(&f, tls);
		put_lit(&f, "\"");
	}
	/* an HTTP/2 stream (h2_stream.c) names its id */
	put_lit(&f, " proto=");
	if (s->tr.stream_id) {
		put_lit(&f, "h2 stream=");
		put_uint(&f, s->tr.stream_id);
	} else {
		put_lit(&f, "h1");
	}
	if (f.text_line) {
		f.text[f.len++] = '\n';
		rc = log_write_line(f.text, f.len);
	} else {
		rc = log_write_request_fields(LOG_INFO, "request", f.text, f.len);
	}
	if (rc == -1)
		s->px->metrics.access_log_dropped++;
}
