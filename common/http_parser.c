/* http_parser: an incremental HTTP/1.x message parser over llhttp (see http_parser.h). */
#include "http_parser.h"

#include <ctype.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

static inline struct http_msg *msg_of(llhttp_t *p)
{
	return (struct http_msg *)p->data;
}

static int fail(struct http_msg *m, int status, const char *reason)
{
	m->error_status = status;
	m->error_reason = reason;
	return HPE_USER;
}

static int on_message_begin(llhttp_t *p)
{
	struct http_msg *m = msg_of(p);

	m->nheaders = 0;
	m->url.off = m->url.len = 0;
	m->in_field = m->in_value = m->in_url = 0;
	m->upgrade = 0;
	m->conn_close = m->conn_keep_alive = m->framing_close = 0;
	m->has_connection = m->conn_other = 0;
	m->trailer_name_len = 0;
	return 0;
}

static int on_url(llhttp_t *p, const char *at, size_t len)
{
	struct http_msg *m = msg_of(p);

	if (!m->in_url) {
		m->url.off = (uint32_t)(at - m->base);
		m->in_url = 1;
	}
	m->url.len += (uint32_t)len;
	return 0;
}

static int on_header_field(llhttp_t *p, const char *at, size_t len)
{
	struct http_msg *m = msg_of(p);
	struct http_header *h;

	/* Trailers of a chunked body are checked but not kept: their bytes
	 * travel with the body. */
	if (m->state != HTTP_MSG_HEAD) {
		for (size_t i = 0; i < len; i++, m->trailer_name_len++)
			if (m->trailer_name_len < sizeof(m->trailer_name))
				m->trailer_name[m->trailer_name_len] = (char)tolower((unsigned char)at[i]);
		m->in_value = 0;
		return 0;
	}
	if (!m->in_field) {
		if (m->nheaders == HTTP_MAX_HEADERS)
			return fail(m, 431, "too many headers");
		h = &m->headers[m->nheaders];
		h->name.off = (uint32_t)(at - m->base);
		h->name.len = 0;
		h->value.off = h->name.off;
		h->value.len = 0;
		m->in_field = 1;
	}
	m->headers[m->nheaders].name.len += (uint32_t)len;
	return 0;
}

/* RFC 9110 5.6.2: tchar, as a table (every byte of every field name is
 * looked up here; a strchr for each '-' cost more than the rest). */
static const unsigned char tchar[256] = {
	['0' ... '9'] = 1, ['A' ... 'Z'] = 1, ['a' ... 'z'] = 1,
	['!'] = 1, ['#'] = 1, ['$'] = 1, ['%'] = 1, ['&'] = 1, ['\''] = 1, ['*'] = 1,
	['+'] = 1, ['-'] = 1, ['.'] = 1, ['^'] = 1, ['_'] = 1, ['`'] = 1, ['|'] = 1, ['~'] = 1,
};

int http_is_tchar(unsigned char c)
{
	return tchar[c];
}

int http_token_valid(const char *s, size_t n)
{
	if (n == 0)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!http_is_tchar((unsigned char)s[i]))
			return 0;
	return 1;
}

static int trailer_name_is(const struct http_msg *m, const char *lit)
{
	size_t n = strlen(lit);

	return m->trailer_name_len == n && memcmp(m->trailer_name, lit, n) == 0;
}

/* RFC 9110 6.5.1: a trailer must not carry what frames or routes the message
 * (llhttp has checked the name's characters). */
static int trailer_field_complete(struct http_msg *m)
{
	if (m->trailer_name_len == 0)
		return fail(m, 400, "empty trailer field name");
	if (trailer_name_is(m, "content-length") || trailer_name_is(m, "transfer-encoding") ||
	    trailer_name_is(m, "host") || trailer_name_is(m, "connection") ||
	    trailer_name_is(m, "trailer"))
		return fail(m, 400, "framing or routing field in a trailer section");
	return 0;
}

static int on_header_field_complete(llhttp_t *p)
{
	struct http_msg *m = msg_of(p);
	const struct http_header *h = &m->headers[m->nheaders];
	const char *name = m->base + h->name.off;

	if (m->state != HTTP_MSG_HEAD)
		return trailer_field_complete(m);
	m->in_field = 0;
	/* llhttp lets "Name : value" through; a proxy must refuse it (RFC 9112
	 * 5.1), as another parser may read a different header name. */
	if (h->name.len == 0)
		return fail(m, 400, "empty header name");
	for (uint32_t i = 0; i < h->name.len; i++)
		if (!http_is_tchar((unsigned char)name[i]))
			return fail(m, 400, "invalid character in a header name");
	if (h->name.len == 10 && strncasecmp(name, "connection", 10) == 0)
		m->has_connection = 1;
	return 0;
}

/* llhttp accepts obs-text and some control bytes in values; RFC 9110 allows
 * only VCHAR, SP, HTAB and obs-text, and a proxy must not pass the rest on. */
static int bytes_are_clean(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if ((c < 0x20 && c != '\t') || c == 0x7f)
			return 0;
	}
	return 1;
}

/* The same, eight bytes at a time: a word with no byte under 0x20 and none
 * 0x7f is clean (the "has a byte less than" test of Bit Twiddling Hacks,
 * exact as a yes/no); one that may hold an HTAB is looked at byte by byte.
 * Every byte of every header passes here. */
static int value_is_clean(const char *s, size_t n)
{
	const uint64_t ones = 0x0101010101010101ull, highs = 0x8080808080808080ull;
	size_t i = 0;

	for (; i + 8 <= n; i += 8) {
		uint64_t w, del;

		memcpy(&w, s + i, 8);
		del = w ^ (ones * 0x7f);
		if ((((w - ones * 0x20) & ~w) | ((del - ones) & ~del)) & highs) {
			if (!bytes_are_clean(s + i, 8))
				return 0;
		}
	}
	return bytes_are_clean(s + i, n - i);
}

/* 1 when the bytes of the current feed before `at` end in a line break and
 * optional whitespace: a value starting on a continuation line. */
static int after_line_break(const struct http_msg *m, const char *at)
{
	const char *q = at;

	while (q > m->feed_start && (q[-1] == ' ' || q[-1] == '\t'))
		q--;
	return q > m->feed_start ? q[-1] == '\n' : m->feed_ended_line;
}

/* A trailer value: the bytes are not kept, so a value continued on another
 * line (obs-fold) shows as a second span that does not follow the first
 * one across a feed boundary. */
static int trailer_value(struct http_msg *m, const char *at, size_t len)
{
	if (!value_is_clean(at, len))
		return fail(m, 400, "control character in a trailer field");
	if (m->in_value ? !(m->value_to_feed_end && at == m->feed_start) : after_line_break(m, at))
		return fail(m, 400, "obsolete line folding in a trailer field");
	m->in_value = 1;
	m->value_to_feed_end = at + len == m->feed_end;
	return 0;
}

static int on_header_value(llhttp_t *p, const char *at, size_t len)
{
	struct http_msg *m = msg_of(p);
	struct http_header *h = &m->headers[m->nheaders];

	if (len == 0)
		return 0;
	if (m->state != HTTP_MSG_HEAD)
		return trailer_value(m, at, len);
	if (!value_is_clean(at, len))
		return fail(m, 400, "control character in a header value");
	if (!m->in_value) {
		const char *q = at - 1;

		/* A value that starts on a continuation line (after "Name:" and a
		 * line break) is obs-fold too; the head is contiguous in base. */
		while (q > m->base && (*q == ' ' || *q == '\t'))
			q--;
		if (*q == '\n')
			return fail(m, 400, "obsolete line folding in a header");
		h->value.off = (uint32_t)(at - m->base);
		m->in_value = 1;
	} else if (at != m->base + h->value.off + h->value.len) {
		/* A value continued after a line break: obs-fold (RFC 9112 5.2). */
		return fail(m, 400, "obsolete line folding in a header");
	}
	h->value.len += (uint32_t)len;
	return 0;
}

static int on_header_value_complete(llhttp_t *p)
{
	struct http_msg *m = msg_of(p);
	struct http_header *h = &m->headers[m->nheaders];

	m->in_value = 0;
	if (m->state != HTTP_MSG_HEAD) {
		m->trailer_name_len = 0;
		return 0;
	}
	/* RFC 9112 5: the value excludes trailing whitespace (llhttp keeps it). */
	while (h->value.len && (m->base[h->value.off + h->value.len - 1] == ' ' ||
				m->base[h->value.off + h->value.len - 1] == '\t'))
		h->value.len--;
	m->nheaders++;
	return 0;
}

int http_list_next(const char **p, const char *end, const char **tok, size_t *tlen)
{
	const char *v = *p;

	for (;;) {
		const char *e;

		while (v < end && (*v == ' ' || *v == '\t' || *v == ','))
			v++;
		if (v == end) {
			*p = v;
			return 0;
		}
		*tok = v;
		while (v < end && *v != ',')
			v++;
		e = v;
		while (e > *tok && (e[-1] == ' ' || e[-1] == '\t'))
			e--;
		*tlen = (size_t)(e - *tok);
		*p = v;
		if (*tlen)
			return 1;
	}
}

/* Header i is named name (n bytes, any case). */
static int name_at(const struct http_msg *m, unsigned i, const char *name, size_t n)
{
	return m->headers[i].name.len == n &&
	       strncasecmp(m->base + m->headers[i].name.off, name, n) == 0;
}

int http_msg_lists(const struct http_msg *m, const char *field, const char *token, size_t tlen)
{
	size_t flen = strlen(field);

	for (unsigned i = 0; i < m->nheaders; i++) {
		const char *v, *end, *tok;
		size_t n;

		if (!name_at(m, i, field, flen))
			continue;
		v = http_msg_ptr(m, m->headers[i].value);
		end = v + m->headers[i].value.len;
		while (http_list_next(&v, end, &tok, &n))
			if (n == tlen && strncasecmp(tok, token, tlen) == 0)
				return 1;
	}
	return 0;
}

/* Transfer-Encoding as RFC 9112 6.1 and 7 allow it: a non-empty list in which
 * chunked, if present, is applied once and last; requests must end in chunked
 * (llhttp checks that too) and HTTP/1.0 requests carry none. An HTTP/1.0
 * response with one is read as framed but ends its connection. */
static int check_transfer_encoding(struct http_msg *m)
{
	const llhttp_t *p = &m->parser;
	int seen = 0, chunked = 0, last_chunked = 0;

	for (unsigned i = 0; i < m->nheaders; i++) {
		const char *v, *end, *tok;
		size_t n;
		int codings = 0;

		if (!http_msg_header_is(m, i, "transfer-encoding"))
			continue;
		seen = 1;
		v = http_msg_ptr(m, m->headers[i].value);
		end = v + m->headers[i].value.len;
		while (http_list_next(&v, end, &tok, &n)) {
			codings++;
			last_chunked = n == 7 && strncasecmp(tok, "chunked", 7) == 0;
			chunked += last_chunked;
		}
		/* An empty list is allowed by the grammar, but a field line that
		 * names no coding is what smuggling probes send. */
		if (codings == 0)
			return fail(m, 400, "empty Transfer-Encoding");
	}
	if (!seen)
		return 0;
	if (chunked > 1)
		return fail(m, 400, "chunked applied more than once");
	if (chunked && !last_chunked)
		return fail(m, 400, "chunked is not the last transfer coding");
	if (p->type == HTTP_REQUEST && !last_chunked)
		return fail(m, 400, "Transfer-Encoding does not end in chunked");
	if (p->http_major == 1 && p->http_minor == 0) {
		if (p->type == HTTP_REQUEST)
			return fail(m, 400, "Transfer-Encoding in an HTTP/1.0 request");
		m->framing_close = 1;
	}
	return 0;
}

/* The Connection lists, read once: close, keep-alive, anything else. */
static void read_connection(struct http_msg *m)
{
	for (unsigned i = 0; i < m->nheaders; i++) {
		const char *v, *end, *tok;
		size_t n;

		if (!name_at(m, i, "connection", 10))
			continue;
		v = http_msg_ptr(m, m->headers[i].value);
		end = v + m->headers[i].value.len;
		while (http_list_next(&v, end, &tok, &n)) {
			if (n == 5 && strncasecmp(tok, "close", 5) == 0)
				m->conn_close = 1;
			else if (n == 10 && strncasecmp(tok, "keep-alive", 10) == 0)
				m->conn_keep_alive = 1;
			else
				m->conn_other = 1;
		}
	}
}

static int on_headers_complete(llhttp_t *p)
{
	struct http_msg *m = msg_of(p);

	/* RFC 9110 6.2: only HTTP/1.x is spoken here (1.2 and later minors are
	 * read as 1.1, see feed); a request for another major version is 505. */
	if (p->http_major != 1)
		return fail(m, p->type == HTTP_REQUEST ? 505 : 502, "HTTP version not supported");
	if (check_transfer_encoding(m))
		return HPE_USER;
	if (m->has_connection)
		read_connection(m);

	/* Responses to HEAD, 1xx, 204 and 304 have no body whatever their
	 * Content-Length says; llhttp leaves that to the caller. */
	if (m->skip_body || (p->type == HTTP_RESPONSE &&
			     (p->status_code / 100 == 1 || p->status_code == 204 ||
			      p->status_code == 304)))
		p->flags |= F_SKIPBODY;
	m->upgrade = p->upgrade;
	/* Pause so feed() learns where the head ends and returns to the caller
	 * before any body byte is handled. */
	return HPE_PAUSED;
}

static int on_body(llhttp_t *p, const char *at, size_t len)
{
	struct http_msg *m = msg_of(p);
	int status;

	if (!m->on_body)
		return 0;
	status = m->on_body(m->ctx, at, len);
	return status ? fail(m, status, "body refused") : 0;
}

static int on_message_complete(llhttp_t *p)
{
	(void)p;
	return HPE_PAUSED;
}

static llhttp_settings_t settings;
static int settings_ready;

void http_msg_init(struct http_msg *m, llhttp_type_t type, size_t head_limit, http_body_cb cb,
		   void *ctx)
{
	if (!settings_ready) {
		llhttp_settings_init(&settings);
		settings.on_message_begin = on_message_begin;
		settings.on_url = on_url;
		settings.on_header_field = on_header_field;
		settings.on_header_field_complete = on_header_field_complete;
		settings.on_header_value = on_header_value;
		settings.on_header_value_complete = on_header_value_complete;
		settings.on_headers_complete = on_headers_complete;
		settings.on_body = on_body;
		settings.on_message_complete = on_message_complete;
		settings_ready = 1;
	}
	memset(m, 0, offsetof(struct http_msg, headers));
	llhttp_init(&m->parser, type, &settings);
	m->parser.data = m;
	m->head_limit = head_limit;
	m->on_body = cb;
	m->ctx = ctx;
}

static size_t parse_error(struct http_msg *m, llhttp_errno_t err, size_t consumed)
{
	m->state = HTTP_MSG_ERROR;
	/* A callback that failed has already said why. */
	if (!m->error_status) {
		const char *pos = llhttp_get_error_pos(&m->parser);
		/* 505 is for a version read and not spoken (HTTP/3.0, 0.9); one
		 * that is not digits at all ("HTTP/\t1.1": llhttp fails at its
		 * first byte, the major left 0) is malformed: 400. */
		int read = !(pos && m->base && pos > m->base + m->head_start && pos[-1] == '/');

		m->error_status =
			err == HPE_INVALID_VERSION && m->parser.http_major != 1 && read ? 505 : 400;
		m->error_reason = llhttp_get_error_reason(&m->parser);
		if (!m->error_reason)
			m->error_reason = llhttp_errno_name(err);
	}
	return consumed;
}

/*
 * llhttp knows a fixed list of methods; any other token is a method this
 * server does not implement (501, RFC 9110 9.1), anything else a bad request.
 * Reads [p, end) of a request line that llhttp refused; returns the bytes
 * used, decides once a space or a non-token byte shows.
 */
#define HTTP_METHOD_MAX 64

static size_t unknown_method(struct http_msg *m, const char *p, const char *end)
{
	const char *from = p;

	for (; p < end; p++) {
		unsigned char c = (unsigned char)*p;

		if (!http_is_tchar(c) || m->method_len >= HTTP_METHOD_MAX) {
			m->state = HTTP_MSG_ERROR;
			if (c == ' ' && m->method_len > 0) {
				m->error_status = 501;
				m->error_reason = "method not implemented";
			} else {
				m->error_status = 400;
				m->error_reason = "invalid method";
			}
			return (size_t)(p - from);
		}
		m->method_len++;
	}
	return (size_t)(end - from);
}

/* Runs llhttp over [at, at + len). */
static llhttp_errno_t execute(struct http_msg *m, const char *at, size_t len)
{
	const char *q = at + len;
	llhttp_errno_t err;

	m->feed_start = at;
	m->feed_end = at + len;
	err = llhttp_execute(&m->parser, at, len);
	/* For after_line_break in the next feed: did this one end a line
	 * (whitespace after it aside)? One of only whitespace says nothing. */
	while (q > at && (q[-1] == ' ' || q[-1] == '\t'))
		q--;
	if (q > at)
		m->feed_ended_line = q[-1] == '\n';
	return err;
}

/*
 * RFC 9110 6.2: a recipient of HTTP/1.x with x > 1 reads it as the highest
 * minor version it knows; llhttp 8 refuses it. When it refused "HTTP/1.N"
 * whose digit ends at `pos`, this parses the message's bytes again from its
 * start with that digit read as 1 (the version is in no span, and base is not
 * written). Returns llhttp's result for the bytes up to `end`.
 */
static llhttp_errno_t reparse_as_http11(struct http_msg *m, const char *pos, const char *end)
{
	const char *head = m->base + m->head_start, *digit = pos - 1;
	llhttp_errno_t err;

	if (digit - head < 4 || memcmp(digit - 3, "/1.", 3) != 0 || !isdigit((unsigned char)*digit))
		return HPE_INVALID_VERSION;
	llhttp_init(&m->parser, m->parser.type, &settings);
	m->parser.data = m;
	err = execute(m, head, (size_t)(digit - head));
	if (err == HPE_OK)
		err = execute(m, "1", 1);
	if (err == HPE_OK)
		err = execute(m, digit + 1, (size_t)(end - digit - 1));
	return err;
}

size_t http_msg_feed(struct http_msg *m, const char *base, size_t off, size_t len)
{
	const char *start = base + off;
	llhttp_errno_t err;
	size_t used;

	if (m->state == HTTP_MSG_DONE || m->state == HTTP_MSG_ERROR)
		return 0;
	/* An empty feed still lets a body-less message complete after its head. */
	if (len == 0 && m->state != HTTP_MSG_BODY)
		return 0;
	m->base = base;
	if (m->method_pending)
		return unknown_method(m, start, start + len);
	/* After an upgrade llhttp stays paused and would answer every feed
	 * with its stale error position: bytes after a protocol switch are
	 * not HTTP, so a caller that feeds them is told so. */
	if (llhttp_get_errno(&m->parser) != HPE_OK) {
		m->state = HTTP_MSG_ERROR;
		m->error_status = 400;
		m->error_reason = "HTTP after a protocol switch";
		return 0;
	}
	err = execute(m, start, len);
	if (err == HPE_INVALID_VERSION && m->state == HTTP_MSG_HEAD && m->parser.http_major == 1)
		err = reparse_as_http11(m, llhttp_get_error_pos(&m->parser), start + len);
	if (err == HPE_INVALID_METHOD && m->state == HTTP_MSG_HEAD) {
		const char *pos = llhttp_get_error_pos(&m->parser), *head = base + m->head_start;

		/* llhttp skips empty lines before a request line */
		while (head < pos && (*head == '\r' || *head == '\n'))
			head++;
		m->method_pending = 1;
		m->method_len = 0;
		unknown_method(m, head, pos);
		if (m->state == HTTP_MSG_ERROR)
			return (size_t)(pos - start);
		return (size_t)(pos - start) + unknown_method(m, pos, start + len);
	}
	if (err == HPE_OK) {
		used = len;
	} else if (err == HPE_PAUSED || err == HPE_PAUSED_UPGRADE) {
		used = (size_t)(llhttp_get_error_pos(&m->parser) - start);
	} else {
		const char *pos = llhttp_get_error_pos(&m->parser);

		return parse_error(m, err, pos ? (size_t)(pos - start) : 0);
	}
	if (m->state == HTTP_MSG_HEAD) {
		size_t head = off + used - m->head_start;

		if (head > m->head_limit) {
			m->state = HTTP_MSG_ERROR;
			m->error_status = 431;
			m->error_reason = "header section too large";
			return used;
		}
		if (err == HPE_OK)
			return used;
		/* Paused in on_headers_complete: the head ends here. */
		m->head_end = off + used;
		m->state = HTTP_MSG_BODY;
		if (err == HPE_PAUSED_UPGRADE) {
			m->upgrade = 1;
			m->state = HTTP_MSG_DONE;
			return used;
		}
		llhttp_resume(&m->parser);
		return used;
	}
	if (err == HPE_PAUSED_UPGRADE) {
		m->upgrade = 1;
		m->state = HTTP_MSG_DONE;
	} else if (err == HPE_PAUSED) {
		m->state = HTTP_MSG_DONE;
	}
	return used;
}

void http_msg_next(struct http_msg *m, size_t off)
{
	if (m->state == HTTP_MSG_DONE && !m->upgrade)
		llhttp_resume(&m->parser);
	m->state = HTTP_MSG_HEAD;
	m->head_start = off;
	m->head_end = 0;
}

int http_msg_header_is(const struct http_msg *m, unsigned i, const char *name)
{
	return name_at(m, i, name, strlen(name));
}

int http_msg_find(const struct http_msg *m, const char *name)
{
	size_t n = strlen(name);

	for (unsigned i = 0; i < m->nheaders; i++)
		if (name_at(m, i, name, n))
			return (int)i;
	return -1;
}

int http_msg_keep_alive(const struct http_msg *m)
{
	const llhttp_t *p = &m->parser;

	if (m->conn_close || (p->flags & F_CONNECTION_CLOSE) || m->framing_close ||
	    llhttp_message_needs_eof(p))
		return 0;
	if (p->http_major == 1 && p->http_minor == 0)
		return m->conn_keep_alive || (p->flags & F_CONNECTION_KEEP_ALIVE);
	return 1;
}

int http_msg_has_body(const struct http_msg *m)
{
	const llhttp_t *p = &m->parser;

	if (p->flags & F_SKIPBODY)
		return 0;
	if (p->flags & F_CHUNKED)
		return 1;
	if (p->flags & F_CONTENT_LENGTH)
		return p->content_length > 0;
	return p->type == HTTP_RESPONSE && llhttp_message_needs_eof(p);
}
