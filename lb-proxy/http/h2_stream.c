/* h2_stream: an HTTP/2 stream as a session's transport: the request in as
 * HTTP/1.1 (here), the response out as HTTP/2 frames (h2_response.c); see
 * h2_stream.h. */
#include "h2_stream.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "h2_response.h"
#include "session.h"

/* Streams kept for reuse, with their buffers (those under POOL_KEEP_BYTES). */
#define STREAM_POOL_MAX 1024
#define POOL_KEEP_BYTES (64 * 1024)

static struct h2_stream *pool;
static unsigned npool;

static void kick(struct h2_stream *st)
{
	ev_feed_event(st->peer->px->loop, st->peer->kick, EV_WRITE);
}

/* The session waits for request bytes (or the end): it hears of them. */
static void wake_reader(struct h2_stream *st)
{
	if (st->s && st->want_read)
		ev_feed_event(st->peer->px->loop, &st->s->rio, EV_READ);
}

static void reset(struct h2_stream *st, uint32_t code)
{
	if (st->closed)
		return;
	nghttp2_submit_rst_stream(st->peer->ng, NGHTTP2_FLAG_NONE, st->id, code);
	kick(st);
}

struct h2_stream *h2_stream_new(struct h2_peer *peer, int32_t id)
{
	struct h2_stream *st = pool;

	if (st) {
		pool = st->next_free;
		npool--;
	} else {
		st = calloc(1, sizeof(*st));
		if (!st)
			return NULL;
	}
	st->peer = peer;
	st->id = id;
	st->s = NULL;
	buf_reset(&st->in);
	buf_reset(&st->fields);
	buf_reset(&st->pseudo);
	buf_reset(&st->cookie);
	buf_reset(&st->resp);
	buf_reset(&st->data);
	st->method_off = st->method_len = st->path_off = st->path_len = st->authority_off = st->authority_len = 0;
	st->header_bytes = st->unconsumed = 0;
	st->rstate = H2_RESP_HEAD;
	st->remaining = 0;
	st->refuse = 0;
	st->is_head = st->has_length = st->has_authority = st->chunked_req = st->req_ended = 0;
	st->want_read = st->write_blocked = st->closed = st->submitted = 0;
	LIST_INSERT_HEAD(&peer->streams, st, link);
	return st;
}

static void shrink(struct buf *b)
{
	if (b->cap > POOL_KEEP_BYTES)
		buf_release(b);
}

static void stream_free(struct h2_stream *st)
{
	buf_release(&st->in);
	buf_release(&st->fields);
	buf_release(&st->pseudo);
	buf_release(&st->cookie);
	buf_release(&st->resp);
	buf_release(&st->data);
	free(st);
}

static void stream_put(struct h2_stream *st)
{
	LIST_REMOVE(st, link);
	if (npool >= STREAM_POOL_MAX) {
		stream_free(st);
		return;
	}
	shrink(&st->in);
	shrink(&st->fields);
	shrink(&st->pseudo);
	shrink(&st->cookie);
	shrink(&st->resp);
	shrink(&st->data);
	st->next_free = pool;
	pool = st;
	npool++;
}

void h2_stream_pool_release(void)
{
	while (pool) {
		struct h2_stream *st = pool;

		pool = st->next_free;
		stream_free(st);
	}
	npool = 0;
	h2_response_release();
}

/* ---- the request ------------------------------------------------------------ */

static int name_is(const uint8_t *name, size_t n, const char *lit)
{
	return n == strlen(lit) && memcmp(name, lit, n) == 0;
}

int h2_stream_field(struct h2_stream *st, const uint8_t *name, size_t nlen, const uint8_t *value,
		    size_t vlen)
{
	struct buf *b = &st->fields;

	/* RFC 9113 6.5.2: a field's size is its name, its value and 32. */
	st->header_bytes += nlen + vlen + 32;
	if (st->header_bytes > (size_t)st->peer->px->opts->max_header_size)
		st->refuse = 431;
	if (st->refuse)
		return 0;	/* the rest of the block is decoded (HPACK state), not kept */
	if (nlen && name[0] == ':') {
		/* nghttp2 checked the pseudo-fields (RFC 9113 8.3): one each, known, first */
		size_t off = st->pseudo.len;

		if (buf_append(&st->pseudo, value, vlen) == -1 || buf_append(&st->pseudo, "", 1) == -1)
			return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
		if (name_is(name, nlen, ":method")) {
			st->method_off = off;
			st->method_len = vlen;
			st->is_head = vlen == 4 && memcmp(value, "HEAD", 4) == 0;
		} else if (name_is(name, nlen, ":path")) {
			st->path_off = off;
			st->path_len = vlen;
		} else if (name_is(name, nlen, ":authority")) {
			st->authority_off = off;
			st->authority_len = vlen;
			st->has_authority = 1;
		}
		return 0;
	}
	if (name_is(name, nlen, "cookie")) {
		if ((st->cookie.len && buf_append(&st->cookie, "; ", 2) == -1) ||
		    buf_append(&st->cookie, value, vlen) == -1)
			return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
		return 0;
	}
	if (name_is(name, nlen, "host") && st->has_authority)
		return 0;	/* RFC 9113 8.3.1: :authority is the target's */
	if (name_is(name, nlen, "content-length"))
		st->has_length = 1;
	if (buf_append(b, name, nlen) == -1 || buf_append(b, ": ", 2) == -1 ||
	    buf_append(b, value, vlen) == -1 || buf_append(b, "\r\n", 2) == -1)
		return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
	return 0;
}

/* A response of the proxy's own with no body, on a stream no session took. */
static void answer_bare(struct h2_stream *st, const char *status)
{
	nghttp2_nv nv = { (uint8_t *)":status", (uint8_t *)status, 7, 3, NGHTTP2_NV_FLAG_NONE };

	st->rstate = H2_RESP_DONE;
	st->submitted = 1;
	nghttp2_submit_response(st->peer->ng, st->id, &nv, 1, NULL);
	kick(st);
}

int h2_stream_head_done(struct h2_stream *st, int end_stream)
{
	struct buf *in = &st->in;
	const char *p = st->pseudo.data;
	int rc = 0;

	if (st->refuse) {
		answer_bare(st, "431");
		return -1;
	}
	/* Appends, no printf: this runs for every stream. CONNECT (RFC 9113
	 * 8.5) has no :path: its target is :authority. */
	rc |= buf_append(in, p + st->method_off, st->method_len);
	rc |= buf_append(in, " ", 1);
	if (st->path_len)
		rc |= buf_append(in, p + st->path_off, st->path_len);
	else
		rc |= buf_append(in, p + st->authority_off, st->authority_len);
	rc |= buf_append(in, " HTTP/1.1\r\nhost: ", st->has_authority ? 17 : 11);
	if (st->has_authority) {
		rc |= buf_append(in, p + st->authority_off, st->authority_len);
		rc |= buf_append(in, "\r\n", 2);
	}
	rc |= buf_append(in, st->fields.data ? st->fields.data : "", st->fields.len);
	if (st->cookie.len) {
		rc |= buf_append(in, "cookie: ", 8);
		rc |= buf_append(in, st->cookie.data, st->cookie.len);
		rc |= buf_append(in, "\r\n", 2);
	}
	st->req_ended = end_stream;
	/* A body of unknown length is chunked for the session (RFC 9113 8.2.2:
	 * HTTP/2 frames it; HTTP/1.1 needs it said). */
	if (!end_stream && !st->has_length) {
		st->chunked_req = 1;
		rc |= buf_append_str(in, "transfer-encoding: chunked\r\n");
	}
	rc |= buf_append(in, "\r\n", 2);
	buf_reset(&st->fields);
	if (rc) {
		reset(st, NGHTTP2_INTERNAL_ERROR);
		return -1;
	}
	return 0;
}

void h2_stream_open(struct h2_stream *st)
{
	struct h2_peer *peer = st->peer;
	struct session *s = peer->take(peer->px);
	struct transport tr;

	if (!s) {
		peer->px->metrics.h2.refused_streams++;
		reset(st, NGHTTP2_REFUSED_STREAM);
		return;
	}
	peer->px->metrics.h2.streams++;
	transport_plain_init(&tr, -1);
	tr.ops = &h2_stream_ops;
	tr.stream = st;
	tr.stream_id = (unsigned)st->id;
	tr.over_tls = peer->tls;
	tr.tls_version = peer->tls_version;
	st->s = s;
	session_open_stream(peer->px, s, &tr, peer->client_ip, peer->via);
}

void h2_stream_data(struct h2_stream *st, const uint8_t *data, size_t len)
{
	int rc = 0;

	if (!st->s && st->rstate == H2_RESP_DONE) {
		/* nobody reads it any more: the window goes back at once */
		nghttp2_session_consume(st->peer->ng, st->id, len);
		return;
	}
	if (st->chunked_req && len)
		rc |= buf_appendf(&st->in, "%zx\r\n", len);
	rc |= buf_append(&st->in, data, len);
	if (st->chunked_req && len)
		rc |= buf_append(&st->in, "\r\n", 2);
	st->unconsumed += len;
	if (rc) {
		reset(st, NGHTTP2_INTERNAL_ERROR);
		return;
	}
	wake_reader(st);
}

void h2_stream_end(struct h2_stream *st)
{
	if (st->req_ended)
		return;
	st->req_ended = 1;
	if (st->chunked_req) {
		/* the trailers, if any, were gathered in `fields` */
		if (buf_append(&st->in, "0\r\n", 3) == -1 ||
		    buf_append(&st->in, st->fields.data ? st->fields.data : "", st->fields.len) == -1 ||
		    buf_append(&st->in, "\r\n", 2) == -1) {
			reset(st, NGHTTP2_INTERNAL_ERROR);
			return;
		}
	}
	buf_reset(&st->fields);
	wake_reader(st);
}

void h2_stream_sent_end(struct h2_stream *st)
{
	if (!st->s && !st->req_ended)
		reset(st, NGHTTP2_NO_ERROR);
}

void h2_stream_close(struct h2_stream *st)
{
	st->closed = 1;
	if (st->s)
		session_close(st->s);	/* its transport's close detaches it */
	if (st->unconsumed)
		nghttp2_session_consume_connection(st->peer->ng, st->unconsumed);
	stream_put(st);
}

/* ---- the transport's ops ------------------------------------------------------------- */

static ssize_t stream_read(struct transport *t, void *buf, size_t len)
{
	struct h2_stream *st = t->stream;
	size_t n;

	if (!st)
		return 0;
	n = buf_unread(&st->in);
	if (n > len)
		n = len;
	if (n) {
		size_t credit = n < st->unconsumed ? n : st->unconsumed;

		memcpy(buf, buf_head(&st->in), n);
		buf_consume(&st->in, n);
		if (credit) {
			/* the window opens as the session takes the body */
			st->unconsumed -= credit;
			nghttp2_session_consume(st->peer->ng, st->id, credit);
			kick(st);
		}
		return (ssize_t)n;
	}
	if (st->rstate == H2_RESP_DONE)
		return 0;	/* answered: the session ends here */
	errno = EAGAIN;
	return -1;
}

static ssize_t stream_writev(struct transport *t, const struct iovec *iov, int n)
{
	struct h2_stream *st = t->stream;
	ssize_t total = 0;

	if (!st || st->closed) {
		errno = EPIPE;
		return -1;
	}
	if (buf_unread(&st->data) >= H2_STREAM_OUT_LIMIT) {
		st->write_blocked = 1;
		errno = EAGAIN;
		return -1;
	}
	for (int i = 0; i < n; i++) {
		if (h2_response_feed(st, iov[i].iov_base, iov[i].iov_len) == -1) {
			reset(st, NGHTTP2_INTERNAL_ERROR);
			errno = EPROTO;
			return -1;
		}
		total += (ssize_t)iov[i].iov_len;
	}
	if (st->submitted)
		nghttp2_session_resume_data(st->peer->ng, st->id);
	kick(st);
	return total;
}

static void stream_shutdown_write(struct transport *t)
{
	struct h2_stream *st = t->stream;

	if (st && st->rstate == H2_RESP_UNTIL_CLOSE)
		h2_response_end(st);
}

/* The session closes: a response cut short is reset; one whole goes on
 * being sent from the stream's buffer. */
static void stream_close(struct transport *t)
{
	struct h2_stream *st = t->stream;

	t->stream = NULL;
	if (!st)
		return;
	st->s = NULL;
	if (st->closed)
		return;
	if (st->rstate == H2_RESP_UNTIL_CLOSE) {
		h2_response_end(st);
	} else if (st->rstate != H2_RESP_DONE) {
		reset(st, NGHTTP2_INTERNAL_ERROR);
	} else if (st->unconsumed) {
		nghttp2_session_consume(st->peer->ng, st->id, st->unconsumed);
		st->unconsumed = 0;
		kick(st);
	}
}

static size_t stream_pending(const struct transport *t)
{
	const struct h2_stream *st = t->stream;

	if (!st)
		return 1;
	return buf_unread(&st->in) + (st->rstate == H2_RESP_DONE);
}

static void stream_want_read(struct transport *t, int on)
{
	struct h2_stream *st = t->stream;

	if (st)
		st->want_read = on;
}

const struct transport_ops h2_stream_ops = {
	.name = "h2-stream",
	.read = stream_read,
	.writev = stream_writev,
	.shutdown_write = stream_shutdown_write,
	.close = stream_close,
	.pending = stream_pending,
	.want_read = stream_want_read,
};
