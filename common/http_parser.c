/* http_parser: an incremental HTTP/1.x message parser over llhttp (see http_parser.h). */
#include "http_parser.h"

#include <stddef.h>
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

	/* Trailers of a chunked body are framed by llhttp but not kept: their
	 * bytes travel with the body. */
	if (m->state != HTTP_MSG_HEAD)
		return 0;
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

/* RFC 9110 token characters. */
static int is_tchar(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       (c && strchr("!#$%&'*+-.^_`|~", c));
}

static int on_header_field_complete(llhttp_t *p)
{
	struct http_msg *m = msg_of(p);
	const struct http_header *h = &m->headers[m->nheaders];
	const char *name = m->base + h->name.off;

	if (m->state != HTTP_MSG_HEAD)
		return 0;
	m->in_field = 0;
	/* llhttp lets "Name : value" through; a proxy must refuse it (RFC 9112
	 * 5.1), as another parser may read a different header name. */
	if (h->name.len == 0)
		return fail(m, 400, "empty header name");
	for (uint32_t i = 0; i < h->name.len; i++)
		if (!is_tchar((unsigned char)name[i]))
			return fail(m, 400, "invalid character in a header name");
	return 0;
}

/* llhttp accepts obs-text and some control bytes in values; RFC 9110 allows
 * only VCHAR, SP, HTAB and obs-text, and a proxy must not pass the rest on. */
static int value_is_clean(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if ((c < 0x20 && c != '\t') || c == 0x7f)
			return 0;
	}
	return 1;
}

static int on_header_value(llhttp_t *p, const char *at, size_t len)
{
	struct http_msg *m = msg_of(p);
	struct http_header *h = &m->headers[m->nheaders];

	if (m->state != HTTP_MSG_HEAD || len == 0)
		return 0;
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

	if (m->state != HTTP_MSG_HEAD)
		return 0;
	m->in_value = 0;
	m->nheaders++;
	return 0;
}

static int on_headers_complete(llhttp_t *p)
{
	struct http_msg *m = msg_of(p);

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
		m->error_status = 400;
		m->error_reason = llhttp_get_error_reason(&m->parser);
		if (!m->error_reason)
			m->error_reason = llhttp_errno_name(err);
	}
	return consumed;
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
	err = llhttp_execute(&m->parser, start, len);
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
	size_t n = strlen(name);

	return m->headers[i].name.len == n &&
	       strncasecmp(m->base + m->headers[i].name.off, name, n) == 0;
}

int http_msg_find(const struct http_msg *m, const char *name)
{
	for (unsigned i = 0; i < m->nheaders; i++)
		if (http_msg_header_is(m, i, name))
			return (int)i;
	return -1;
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
