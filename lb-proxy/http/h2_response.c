/* h2_response: the HTTP/1.1 response a stream's session writes, sent as
 * HTTP/2 frames (see h2_response.h). */
#include "h2_response.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "http_limits.h"
#include "session_state.h"

/* Fields of a response head we send at most (the backend's, under
 * HTTP_MAX_HEADERS, plus the proxy's own and its rules). */
#define RESP_FIELDS_MAX (HTTP_MAX_HEADERS + 32)
/* A response head the session writes is the proxy's rewriting of one it
 * parsed under its limit: anything longer is a fault. */
#define RESP_HEAD_MAX (128 * 1024)

/* The bytes that came after a response head in one write, fed on from here
 * (h2_response_feed is never re-entered: one loop, one thread). */
static struct buf spill;

/* Connection-specific fields (RFC 9113 8.2.2) an HTTP/1.1 head may carry
 * (name lower-cased); by length first, as every field of every response
 * passes here. */
static int connection_specific(const char *name, size_t n)
{
	switch (n) {
	case 2:
		return memcmp(name, "te", 2) == 0;
	case 7:
		return memcmp(name, "upgrade", 7) == 0;
	case 10:
		return memcmp(name, "connection", 10) == 0 || memcmp(name, "keep-alive", 10) == 0;
	case 16:
		return memcmp(name, "proxy-connection", 16) == 0;
	case 17:
		return memcmp(name, "transfer-encoding", 17) == 0;
	default:
		return 0;
	}
}

/* The trailer lines of a chunked response (kept in st->resp) as a trailer
 * HEADERS; -1 when there is none to send. */
static int send_trailers(struct h2_stream *st)
{
	static nghttp2_nv nva[RESP_FIELDS_MAX];
	char *line = st->resp.data, *end = st->resp.data + st->resp.len, *eol;
	size_t n = 0;

	for (; line && line < end; line = eol + 1) {
		char *colon, *v, *vend;

		eol = memchr(line, '\n', (size_t)(end - line));
		if (!eol)
			break;
		vend = eol > line && eol[-1] == '\r' ? eol - 1 : eol;
		colon = memchr(line, ':', (size_t)(vend - line));
		if (!colon || colon == line || n == RESP_FIELDS_MAX)
			continue;
		for (char *c = line; c < colon; c++)
			if (*c >= 'A' && *c <= 'Z')
				*c = (char)(*c - 'A' + 'a');
		if (connection_specific(line, (size_t)(colon - line)))
			continue;
		for (v = colon + 1; v < vend && (*v == ' ' || *v == '\t'); v++)
			;
		nva[n++] = (nghttp2_nv){ (uint8_t *)line, (uint8_t *)v, (size_t)(colon - line),
					 (size_t)(vend - v), NGHTTP2_NV_FLAG_NONE };
	}
	buf_reset(&st->resp);
	if (n == 0)
		return -1;
	return nghttp2_submit_trailer(st->peer->ng, st->id, nva, n) == 0 ? 0 : -1;
}

static ssize_t data_read(nghttp2_session *ng, int32_t id, uint8_t *out, size_t len,
			 uint32_t *flags, nghttp2_data_source *src, void *user)
{
	struct h2_stream *st = src->ptr;
	size_t n = buf_unread(&st->data);
	(void)ng;
	(void)id;
	(void)user;

	if (n > len)
		n = len;
	if (n) {	/* an empty body may have no storage at all */
		memcpy(out, buf_head(&st->data), n);
		buf_consume(&st->data, n);
	}
	if (st->write_blocked && buf_unread(&st->data) < H2_STREAM_OUT_LIMIT / 2) {
		st->write_blocked = 0;
		if (st->s)
			ev_feed_event(st->peer->px->loop, &st->s->wio, EV_WRITE);
	}
	if (buf_unread(&st->data) == 0 && st->rstate == H2_RESP_DONE) {
		*flags |= NGHTTP2_DATA_FLAG_EOF;
		/* the trailers end the stream, after the last DATA */
		if (st->resp.len && send_trailers(st) == 0)
			*flags |= NGHTTP2_DATA_FLAG_NO_END_STREAM;
		return (ssize_t)n;
	}
	return n ? (ssize_t)n : NGHTTP2_ERR_DEFERRED;
}

/* A request id differs in every response: kept out of HPACK's dynamic table
 * (RFC 7541 6.2.3), where each would push out a field that repeats and make
 * every later search compare against the ids before it. */
static uint8_t index_flag(const char *name, size_t n)
{
	return n == 12 && memcmp(name, "x-request-id", 12) == 0 ? NGHTTP2_NV_FLAG_NO_INDEX
								 : NGHTTP2_NV_FLAG_NONE;
}

static int lists_chunked(const char *v, size_t n)
{
	for (size_t i = 0; i + 7 <= n; i++)
		if (strncasecmp(v + i, "chunked", 7) == 0)
			return 1;
	return 0;
}

/*
 * The response head [h, h + len) (it ends with an empty line) as HEADERS:
 * :status, the fields lower-cased (in place) but the connection's own.
 * Sets the body's framing. Returns 0, or -1 when it is not a head.
 */
static int response_head(struct h2_stream *st, char *h, size_t len)
{
	static nghttp2_nv nva[RESP_FIELDS_MAX];
	nghttp2_data_provider prd = { .source.ptr = st, .read_callback = data_read };
	char *end = h + len, *line, *eol;
	size_t n = 1;
	int status, chunked = 0, has_length = 0;
	uint64_t length = 0;

	eol = memchr(h, '\n', len);
	if (!eol || eol - h < 12 || memcmp(h, "HTTP/1.", 7) != 0 || h[8] != ' ')
		return -1;
	status = (h[9] - '0') * 100 + (h[10] - '0') * 10 + (h[11] - '0');
	if (status < 100 || status > 999)
		return -1;
	nva[0] = (nghttp2_nv){ (uint8_t *)":status", (uint8_t *)h + 9, 7, 3, NGHTTP2_NV_FLAG_NONE };
	for (line = eol + 1; line < end; line = eol + 1) {
		char *colon, *v, *vend;

		eol = memchr(line, '\n', (size_t)(end - line));
		if (!eol)
			return -1;
		vend = eol > line && eol[-1] == '\r' ? eol - 1 : eol;
		if (vend == line)
			break;		/* the empty line */
		colon = memchr(line, ':', (size_t)(vend - line));
		if (!colon || colon == line)
			return -1;
		for (char *c = line; c < colon; c++)
			if (*c >= 'A' && *c <= 'Z')
				*c = (char)(*c - 'A' + 'a');
		for (v = colon + 1; v < vend && (*v == ' ' || *v == '\t'); v++)
			;
		while (vend > v && (vend[-1] == ' ' || vend[-1] == '\t'))
			vend--;
		if (connection_specific(line, (size_t)(colon - line))) {
			if ((size_t)(colon - line) == 17 && lists_chunked(v, (size_t)(vend - v)))
				chunked = 1;
			continue;
		}
		if ((size_t)(colon - line) == 14 && memcmp(line, "content-length", 14) == 0) {
			has_length = 1;
			length = strtoull(v, NULL, 10);
		}
		if (n == RESP_FIELDS_MAX)
			return -1;
		nva[n++] = (nghttp2_nv){ (uint8_t *)line, (uint8_t *)v, (size_t)(colon - line),
					 (size_t)(vend - v), index_flag(line, (size_t)(colon - line)) };
	}
	if (status < 200) {
		/* 1xx: passed on (RFC 9110 15.2), the final head follows */
		nghttp2_submit_headers(st->peer->ng, NGHTTP2_FLAG_NONE, st->id, NULL, nva, n, NULL);
		return 0;
	}
	if (st->is_head || status == 204 || status == 304 || (has_length && !chunked && length == 0))
		st->rstate = H2_RESP_DONE;
	else if (chunked)
		st->rstate = H2_RESP_CHUNK_SIZE;
	else if (has_length)
		st->rstate = H2_RESP_LENGTH;
	else
		st->rstate = H2_RESP_UNTIL_CLOSE;
	st->remaining = length;
	st->submitted = 1;
	if (nghttp2_submit_response(st->peer->ng, st->id, nva, n,
				    st->rstate == H2_RESP_DONE ? NULL : &prd) != 0)
		return -1;
	return 0;
}

static int body_append(struct h2_stream *st, const char *p, size_t n)
{
	if (st->data.pos && st->data.pos == st->data.len)
		buf_reset(&st->data);
	return buf_append(&st->data, p, n);
}

static void response_done(struct h2_stream *st)
{
	st->rstate = H2_RESP_DONE;
	/* the session, waiting to read, reads the end and closes */
	if (st->s && st->want_read)
		ev_feed_event(st->peer->px->loop, &st->s->rio, EV_READ);
}

/* The end of a head whose bytes from `from` on are new: the byte after its
 * first CRLF CRLF, or NULL. Line by line (memchr finds each LF), which costs
 * less than memmem over a short head. */
static char *head_end(char *s, size_t from, size_t len)
{
	char *p = s + from, *end = s + len;

	while (p < end && (p = memchr(p, '\n', (size_t)(end - p))) != NULL) {
		if (p - s >= 3 && p[-1] == '\r' && p[-2] == '\n' && p[-3] == '\r')
			return p + 1;
		p++;
	}
	return NULL;
}

int h2_response_feed(struct h2_stream *st, const char *p, size_t n)
{
	while (n) {
		size_t take;

		switch (st->rstate) {
		case H2_RESP_HEAD: {
			size_t from = st->resp.len;
			char *end;

			if (buf_append(&st->resp, p, n) == -1)
				return -1;
			end = head_end(st->resp.data, from, st->resp.len);
			if (!end)
				return st->resp.len > RESP_HEAD_MAX ? -1 : 0;
			take = (size_t)(end - st->resp.data);
			if (response_head(st, st->resp.data, take) == -1)
				return -1;
			/* what came after the head is the body's (or, after a 1xx,
			 * the next head's): fed on from a copy, as resp is reused */
			n = st->resp.len - take;
			if (n == 0) {
				buf_reset(&st->resp);
				return 0;
			}
			buf_reset(&spill);
			if (buf_append(&spill, st->resp.data + take, n) == -1)
				return -1;
			buf_reset(&st->resp);
			p = spill.data;
			break;
		}
		case H2_RESP_LENGTH:
			take = n < st->remaining ? n : (size_t)st->remaining;
			if (body_append(st, p, take) == -1)
				return -1;
			st->remaining -= take;
			p += take;
			n -= take;
			if (st->remaining == 0)
				response_done(st);
			break;
		case H2_RESP_CHUNK_SIZE: {
			char c = *p;
			int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
				: c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;

			p++;
			n--;
			if (d >= 0) {
				if (st->remaining >> 56)
					return -1;
				st->remaining = st->remaining * 16 + (uint64_t)d;
			} else if (c == '\n') {
				st->rstate = st->remaining ? H2_RESP_CHUNK_DATA : H2_RESP_TRAILERS;
				buf_reset(&st->resp);
			} else if (c != '\r') {
				st->rstate = H2_RESP_CHUNK_EXT;
			}
			break;
		}
		case H2_RESP_CHUNK_EXT:
			if (*p == '\n')
				st->rstate = st->remaining ? H2_RESP_CHUNK_DATA : H2_RESP_TRAILERS;
			if (*p == '\n')
				buf_reset(&st->resp);
			p++;
			n--;
			break;
		case H2_RESP_CHUNK_DATA:
			take = n < st->remaining ? n : (size_t)st->remaining;
			if (body_append(st, p, take) == -1)
				return -1;
			st->remaining -= take;
			p += take;
			n -= take;
			if (st->remaining == 0) {
				st->rstate = H2_RESP_CHUNK_CRLF;
				st->remaining = 2;
			}
			break;
		case H2_RESP_CHUNK_CRLF:
			p++;
			n--;
			if (--st->remaining == 0)
				st->rstate = H2_RESP_CHUNK_SIZE;
			break;
		case H2_RESP_TRAILERS: {
			/* trailer lines gather in resp; `remaining` is where the
			 * current one starts, and an empty one ends them */
			char *nl = memchr(p, '\n', n);
			size_t upto = nl ? (size_t)(nl - p) + 1 : n;

			if (st->resp.len + upto > RESP_HEAD_MAX || buf_append(&st->resp, p, upto) == -1)
				return -1;
			p += upto;
			n -= upto;
			if (!nl)
				break;
			if (st->resp.len - st->remaining <= 2) {
				/* sent after the last DATA (data_read) */
				st->resp.len = (size_t)st->remaining;
				response_done(st);
			} else {
				st->remaining = st->resp.len;
			}
			break;
		}
		case H2_RESP_UNTIL_CLOSE:
			if (body_append(st, p, n) == -1)
				return -1;
			n = 0;
			break;
		case H2_RESP_DONE:
			return 0;	/* nothing may follow a response */
		}
	}
	return 0;
}

void h2_response_end(struct h2_stream *st)
{
	response_done(st);
	nghttp2_session_resume_data(st->peer->ng, st->id);
	ev_feed_event(st->peer->px->loop, st->peer->kick, EV_WRITE);
}

void h2_response_release(void)
{
	buf_release(&spill);
}
