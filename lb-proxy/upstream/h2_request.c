/* h2_request: the HTTP/1.1 request a session writes on a backend's HTTP/2
 * stream, sent as frames (see h2_request.h). */
#include "h2_request.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "http_limits.h"

/* Fields of a request head we send at most (the client's, under
 * HTTP_MAX_HEADERS, plus the proxy's own and its rules). */
#define REQ_FIELDS_MAX (HTTP_MAX_HEADERS + 32)
/* A request head the session writes is the proxy's rewriting of one it
 * parsed under its limit: anything longer is a fault. */
#define REQ_HEAD_MAX (128 * 1024)

/* The bytes that came after a request head in one write, fed on from here
 * (h2_request_feed is never re-entered: one loop, one thread). */
static struct buf spill;

/* Connection-specific fields (RFC 9113 8.2.2) an HTTP/1.1 head may carry;
 * `te` is one but for "trailers" (checked by the caller), and Host becomes
 * :authority (8.3.1). */
static int dropped(const char *name, size_t n)
{
	static const char *const names[] = {
		"connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade",
		"host", NULL,
	};

	for (unsigned i = 0; names[i]; i++)
		if (n == strlen(names[i]) && memcmp(name, names[i], n) == 0)
			return 1;
	return 0;
}

static void wake_writer(struct h2_ustream *st)
{
	if (st->write_blocked && buf_unread(&st->rq_data) < H2_UP_STREAM_LIMIT / 2) {
		st->write_blocked = 0;
		ev_feed_event(st->u.loop, &st->u.wio, EV_WRITE);
	}
}

/* The trailer lines of a chunked request (in st->rq_head) as a trailing
 * HEADERS; -1 when there is none to send. */
static int send_trailers(struct h2_ustream *st)
{
	static nghttp2_nv nva[REQ_FIELDS_MAX];
	char *line = st->rq_head.data, *end = st->rq_head.data + st->rq_head.len, *eol;
	size_t n = 0;

	for (; line && line < end; line = eol + 1) {
		char *colon, *v, *vend;

		eol = memchr(line, '\n', (size_t)(end - line));
		if (!eol)
			break;
		vend = eol > line && eol[-1] == '\r' ? eol - 1 : eol;
		colon = memchr(line, ':', (size_t)(vend - line));
		if (!colon || colon == line || n == REQ_FIELDS_MAX)
			continue;
		for (char *c = line; c < colon; c++)
			if (*c >= 'A' && *c <= 'Z')
				*c = (char)(*c - 'A' + 'a');
		if (dropped(line, (size_t)(colon - line)) ||
		    ((size_t)(colon - line) == 2 && memcmp(line, "te", 2) == 0))
			continue;
		for (v = colon + 1; v < vend && (*v == ' ' || *v == '\t'); v++)
			;
		nva[n++] = (nghttp2_nv){ (uint8_t *)line, (uint8_t *)v, (size_t)(colon - line),
					 (size_t)(vend - v), NGHTTP2_NV_FLAG_NONE };
	}
	if (n == 0 || !st->c)
		return -1;
	return nghttp2_submit_trailer(st->c->ng, st->id, nva, n) == 0 ? 0 : -1;
}

static ssize_t data_read(nghttp2_session *ng, int32_t id, uint8_t *out, size_t len,
			 uint32_t *flags, nghttp2_data_source *src, void *user)
{
	/* the stream's, unless its session let it go (the stream is reset) */
	struct h2_ustream *st = nghttp2_session_get_stream_user_data(ng, id);
	size_t n;
	(void)src;
	(void)user;

	if (!st)
		return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
	n = buf_unread(&st->rq_data);

	if (n > len)
		n = len;
	if (n) {
		memcpy(out, buf_head(&st->rq_data), n);
		buf_consume(&st->rq_data, n);
	}
	wake_writer(st);
	if (buf_unread(&st->rq_data) == 0 && st->rq == H2_REQ_DONE) {
		*flags |= NGHTTP2_DATA_FLAG_EOF;
		if (st->rq_head.len && send_trailers(st) == 0)
			*flags |= NGHTTP2_DATA_FLAG_NO_END_STREAM;
		buf_reset(&st->rq_head);
		return (ssize_t)n;
	}
	return n ? (ssize_t)n : NGHTTP2_ERR_DEFERRED;
}

static int lists_chunked(const char *v, size_t n)
{
	for (size_t i = 0; i + 7 <= n; i++)
		if (strncasecmp(v + i, "chunked", 7) == 0)
			return 1;
	return 0;
}

/*
 * The request head [h, h + len) (it ends with an empty line) as HEADERS:
 * the pseudo-fields from the request line and Host, the fields lower-cased
 * (in place) but the connection's own. Sets the body's framing and submits
 * the stream. Returns 0, or -1.
 */
static int request_head(struct h2_ustream *st, char *h, size_t len, int tls)
{
	static nghttp2_nv nva[REQ_FIELDS_MAX];
	nghttp2_data_provider prd = { .source.ptr = st, .read_callback = data_read };
	char *end = h + len, *line, *eol, *sp1, *sp2;
	size_t n = 4;
	int chunked = 0, has_length = 0;
	uint64_t length = 0;
	int32_t id;

	eol = memchr(h, '\n', len);
	if (!eol)
		return -1;
	sp1 = memchr(h, ' ', (size_t)(eol - h));
	sp2 = sp1 ? memchr(sp1 + 1, ' ', (size_t)(eol - sp1 - 1)) : NULL;
	if (!sp1 || !sp2 || sp1 == h || sp2 == sp1 + 1)
		return -1;
	st->is_head = sp1 - h == 4 && memcmp(h, "HEAD", 4) == 0;
	nva[0] = (nghttp2_nv){ (uint8_t *)":method", (uint8_t *)h, 7, (size_t)(sp1 - h),
			       NGHTTP2_NV_FLAG_NONE };
	nva[1] = (nghttp2_nv){ (uint8_t *)":scheme", (uint8_t *)(tls ? "https" : "http"), 7,
			       tls ? 5 : 4, NGHTTP2_NV_FLAG_NONE };
	nva[2] = (nghttp2_nv){ (uint8_t *)":path", (uint8_t *)sp1 + 1, 5, (size_t)(sp2 - sp1 - 1),
			       NGHTTP2_NV_FLAG_NONE };
	nva[3].name = NULL;	/* :authority, from Host */
	for (line = eol + 1; line < end; line = eol + 1) {
		char *colon, *v, *vend;
		size_t nlen;

		eol = memchr(line, '\n', (size_t)(end - line));
		if (!eol)
			return -1;
		vend = eol > line && eol[-1] == '\r' ? eol - 1 : eol;
		if (vend == line)
			break;		/* the empty line */
		colon = memchr(line, ':', (size_t)(vend - line));
		if (!colon || colon == line)
			return -1;
		nlen = (size_t)(colon - line);
		for (char *c = line; c < colon; c++)
			if (*c >= 'A' && *c <= 'Z')
				*c = (char)(*c - 'A' + 'a');
		for (v = colon + 1; v < vend && (*v == ' ' || *v == '\t'); v++)
			;
		while (vend > v && (vend[-1] == ' ' || vend[-1] == '\t'))
			vend--;
		if (nlen == 4 && memcmp(line, "host", 4) == 0) {
			if (!nva[3].name)
				nva[3] = (nghttp2_nv){ (uint8_t *)":authority", (uint8_t *)v, 10,
						       (size_t)(vend - v), NGHTTP2_NV_FLAG_NONE };
			continue;
		}
		if (dropped(line, nlen)) {
			if (nlen == 17 && lists_chunked(v, (size_t)(vend - v)))
				chunked = 1;
			continue;
		}
		if (nlen == 2 && memcmp(line, "te", 2) == 0)
			continue;	/* sent below, once */
		if (nlen == 14 && memcmp(line, "content-length", 14) == 0) {
			has_length = 1;
			length = strtoull(v, NULL, 10);
		}
		if (n == REQ_FIELDS_MAX)
			return -1;
		nva[n++] = (nghttp2_nv){ (uint8_t *)line, (uint8_t *)v, nlen, (size_t)(vend - v),
					 NGHTTP2_NV_FLAG_NONE };
	}
	/* lb takes trailers from the backend whatever the client said (they
	 * reach it as chunked trailers or a trailing HEADERS): `te: trailers`
	 * (RFC 9113 8.2.2), which gRPC servers require */
	if (n == REQ_FIELDS_MAX)
		return -1;
	nva[n++] = (nghttp2_nv){ (uint8_t *)"te", (uint8_t *)"trailers", 2, 8, NGHTTP2_NV_FLAG_NONE };
	if (!nva[3].name) {
		/* no Host (an HTTP/1.0 request): no :authority (RFC 9113 8.3.1) */
		nva[3] = nva[--n];
	}
	if (chunked)
		st->rq = H2_REQ_CHUNK_SIZE;
	else if (has_length && length)
		st->rq = H2_REQ_LENGTH;
	else
		st->rq = H2_REQ_DONE;
	st->rq_remaining = chunked ? 0 : length;
	if (!st->c)
		return -1;
	/* a request with no body ends with its HEADERS; one whose body may
	 * still be empty (chunked) sends an empty DATA with END_STREAM */
	id = nghttp2_submit_request(st->c->ng, NULL, nva, n,
				    st->rq == H2_REQ_DONE ? NULL : &prd, st);
	if (id < 0)
		return -1;
	st->id = id;
	return 0;
}

static int body_append(struct h2_ustream *st, const char *p, size_t n)
{
	if (st->rq_data.pos && st->rq_data.pos == st->rq_data.len)
		buf_reset(&st->rq_data);
	return buf_append(&st->rq_data, p, n);
}

int h2_request_feed(struct h2_ustream *st, const char *p, size_t n, int tls)
{
	while (n) {
		size_t take;

		switch (st->rq) {
		case H2_REQ_HEAD: {
			size_t from = st->rq_head.len > 3 ? st->rq_head.len - 3 : 0;
			char *end;

			if (buf_append(&st->rq_head, p, n) == -1)
				return -1;
			end = memmem(st->rq_head.data + from, st->rq_head.len - from, "\r\n\r\n", 4);
			if (!end)
				return st->rq_head.len > REQ_HEAD_MAX ? -1 : 0;
			take = (size_t)(end + 4 - st->rq_head.data);
			if (request_head(st, st->rq_head.data, take, tls) == -1)
				return -1;
			n = st->rq_head.len - take;
			if (n == 0) {
				buf_reset(&st->rq_head);
				return 0;
			}
			buf_reset(&spill);
			if (buf_append(&spill, st->rq_head.data + take, n) == -1)
				return -1;
			buf_reset(&st->rq_head);
			p = spill.data;
			break;
		}
		case H2_REQ_LENGTH:
			take = n < st->rq_remaining ? n : (size_t)st->rq_remaining;
			if (body_append(st, p, take) == -1)
				return -1;
			st->rq_remaining -= take;
			p += take;
			n -= take;
			if (st->rq_remaining == 0)
				st->rq = H2_REQ_DONE;
			break;
		case H2_REQ_CHUNK_SIZE: {
			char c = *p;
			int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
				: c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;

			p++;
			n--;
			if (d >= 0) {
				if (st->rq_remaining >> 56)
					return -1;
				st->rq_remaining = st->rq_remaining * 16 + (uint64_t)d;
			} else if (c == '\n') {
				st->rq = st->rq_remaining ? H2_REQ_CHUNK_DATA : H2_REQ_TRAILERS;
			} else if (c != '\r') {
				st->rq = H2_REQ_CHUNK_EXT;
			}
			break;
		}
		case H2_REQ_CHUNK_EXT:
			if (*p == '\n')
				st->rq = st->rq_remaining ? H2_REQ_CHUNK_DATA : H2_REQ_TRAILERS;
			p++;
			n--;
			break;
		case H2_REQ_CHUNK_DATA:
			take = n < st->rq_remaining ? n : (size_t)st->rq_remaining;
			if (body_append(st, p, take) == -1)
				return -1;
			st->rq_remaining -= take;
			p += take;
			n -= take;
			if (st->rq_remaining == 0) {
				st->rq = H2_REQ_CHUNK_CRLF;
				st->rq_remaining = 2;
			}
			break;
		case H2_REQ_CHUNK_CRLF:
			p++;
			n--;
			if (--st->rq_remaining == 0)
				st->rq = H2_REQ_CHUNK_SIZE;
			break;
		case H2_REQ_TRAILERS: {
			/* trailer lines gather in rq_head; `rq_remaining` is where
			 * the current one starts, and an empty one ends them */
			char *nl = memchr(p, '\n', n);
			size_t upto = nl ? (size_t)(nl - p) + 1 : n;

			if (st->rq_head.len + upto > REQ_HEAD_MAX ||
			    buf_append(&st->rq_head, p, upto) == -1)
				return -1;
			p += upto;
			n -= upto;
			if (!nl)
				break;
			if (st->rq_head.len - st->rq_remaining <= 2) {
				/* sent after the last DATA (data_read) */
				st->rq_head.len = (size_t)st->rq_remaining;
				st->rq = H2_REQ_DONE;
			} else {
				st->rq_remaining = st->rq_head.len;
			}
			break;
		}
		case H2_REQ_DONE:
			return 0;	/* nothing may follow a request on its stream */
		}
	}
	return 0;
}

void h2_request_release(void)
{
	buf_release(&spill);
}
