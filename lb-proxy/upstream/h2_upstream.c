/* h2_upstream: an HTTP/2 stream to a backend as a session's backend
 * transport (see h2_upstream.h). */
#include "h2_upstream.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "h2_request.h"
#include "http_response.h"

/* Streams kept for reuse, with their buffers (those under POOL_KEEP_BYTES). */
#define STREAM_POOL_MAX 1024
#define POOL_KEEP_BYTES (64 * 1024)
/* A response's field section we render at most (the session refuses a
 * longer head anyway). */
#define RESP_FIELDS_MAX (64 * 1024)

static struct h2_ustream *pool;
static unsigned npool;

static void kick(struct h2_uconn *c)
{
	if (c && c->state != H2_UCONN_CONNECTING)
		ev_feed_event(c->loop, &c->wio, EV_WRITE);
}

/* The session waits for response bytes (or the end): it hears of them. */
static void wake_reader(struct h2_ustream *st)
{
	if (st->want_read)
		ev_feed_event(st->u.loop, &st->u.rio, EV_READ);
}

static void wake_writer(struct h2_ustream *st)
{
	if (st->write_blocked) {
		st->write_blocked = 0;
		ev_feed_event(st->u.loop, &st->u.wio, EV_WRITE);
	}
}

static void fail(struct h2_ustream *st, uint32_t code)
{
	if (st->rs_ended || st->failed)
		return;
	st->failed = 1;
	st->error_code = code;
	st->refused = code == NGHTTP2_REFUSED_STREAM;
	wake_reader(st);
	wake_writer(st);
}

static void detach(struct upstream *u, int whole);

struct h2_ustream *h2_upstream_new(struct h2_uconn *c)
{
	struct h2_ustream *st = pool;

	if (st) {
		pool = st->next_free;
		npool--;
	} else {
		st = calloc(1, sizeof(*st));
		if (!st)
			return NULL;
	}
	transport_plain_init(&st->u.tr, -1);
	st->u.tr.ops = &h2_upstream_ops;
	st->u.tr.stream = st;
	st->u.be = c->be;
	st->u.loop = c->loop;
	ev_io_init(&st->u.rio, NULL, -1, EV_READ);
	ev_io_init(&st->u.wio, NULL, -1, EV_WRITE);
	st->u.requests = 0;
	st->u.owner = NULL;
	st->u.pooled = 0;
	st->u.connect_error = c->state == H2_UCONN_CONNECTING ? EINPROGRESS : 0;
	st->u.detach = detach;
	backend_ref(c->be);
	st->c = c;
	st->id = 0;
	st->rq = H2_REQ_HEAD;
	st->rq_remaining = 0;
	buf_reset(&st->rq_head);
	buf_reset(&st->rq_data);
	buf_reset(&st->rs);
	buf_reset(&st->rs_fields);
	st->status = 0;
	st->unconsumed = 0;
	st->error_code = 0;
	st->is_head = st->rs_final = st->rs_chunked = st->rs_length = st->rs_ended = 0;
	st->failed = st->refused = st->want_read = st->write_blocked = st->closed = 0;
	st->connecting = c->state == H2_UCONN_CONNECTING;
	LIST_INSERT_HEAD(&c->streams, st, link);
	c->nstreams++;
	c->streams_total++;
	return st;
}

void h2_upstream_ready(struct h2_ustream *st, int err)
{
	if (!st->connecting)
		return;
	st->connecting = 0;
	st->u.connect_error = err;
	ev_feed_event(st->u.loop, &st->u.wio, EV_WRITE);
}

/* ---- the response, rendered as HTTP/1.1 --------------------------------------- */

void h2_upstream_begin_headers(struct h2_ustream *st)
{
	st->status = 0;
	st->rs_length = 0;
	buf_reset(&st->rs_fields);
}

int h2_upstream_header(struct h2_ustream *st, const uint8_t *name, size_t nlen,
		       const uint8_t *value, size_t vlen)
{
	/* nghttp2 checked the block (RFC 9113 8.2, 8.3): names lower-case,
	 * no CR, LF or NUL in values, pseudo-fields known and first, no
	 * connection-specific field */
	if (nlen == 7 && memcmp(name, ":status", 7) == 0) {
		st->status = vlen == 3 ? (value[0] - '0') * 100 + (value[1] - '0') * 10 +
					 (value[2] - '0') : 0;
		return 0;
	}
	if (nlen && name[0] == ':')
		return 0;
	if (nlen == 14 && memcmp(name, "content-length", 14) == 0)
		st->rs_length = 1;
	if (st->rs_fields.len + nlen + vlen + 4 > RESP_FIELDS_MAX)
		return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
	if (buf_append(&st->rs_fields, name, nlen) == -1 || buf_append(&st->rs_fields, ": ", 2) == -1 ||
	    buf_append(&st->rs_fields, value, vlen) == -1 || buf_append(&st->rs_fields, "\r\n", 2) == -1)
		return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
	return 0;
}

static int append_fields(struct h2_ustream *st)
{
	return st->rs_fields.len ? buf_append(&st->rs, st->rs_fields.data, st->rs_fields.len) : 0;
}

int h2_upstream_headers_end(struct h2_ustream *st, int end_stream)
{
	int rc = 0, bodyless;

	if (st->rs_final) {
		/* trailers (RFC 9113 8.1): the chunked body's trailer section
		 * (a content-length body has none in HTTP/1.1: dropped) */
		if (st->rs_chunked) {
			rc |= buf_append(&st->rs, "0\r\n", 3);
			rc |= append_fields(st);
			rc |= buf_append(&st->rs, "\r\n", 2);
			st->rs_chunked = 0;
		}
	} else if (st->status < 100 || st->status > 999) {
		return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
	} else if (st->status < 200) {
		/* 1xx (RFC 9110 15.2) before the final head; 101 has no place
		 * in HTTP/2 (RFC 9113 8.6). They come outside flow control: a
		 * backend that sends them faster than the session reads them
		 * fails its stream. */
		if (st->status == 101 || buf_unread(&st->rs) > RESP_FIELDS_MAX)
			return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
		rc |= buf_appendf(&st->rs, "HTTP/1.1 %d %s\r\n", st->status, http_reason(st->status));
		rc |= append_fields(st);
		rc |= buf_append(&st->rs, "\r\n", 2);
	} else {
		bodyless = st->is_head || st->status == 204 || st->status == 304;
		rc |= buf_appendf(&st->rs, "HTTP/1.1 %d %s\r\n", st->status, http_reason(st->status));
		rc |= append_fields(st);
		if (!st->rs_length && !bodyless) {
			/* HTTP/2 frames the body; HTTP/1.1 needs it said */
			if (end_stream) {
				rc |= buf_append_str(&st->rs, "content-length: 0\r\n");
			} else {
				rc |= buf_append_str(&st->rs, "transfer-encoding: chunked\r\n");
				st->rs_chunked = 1;
			}
		}
		rc |= buf_append(&st->rs, "\r\n", 2);
		st->rs_final = 1;
	}
	buf_reset(&st->rs_fields);
	if (rc)
		return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
	if (end_stream)
		h2_upstream_end(st);
	else
		wake_reader(st);
	return 0;
}

void h2_upstream_data(struct h2_ustream *st, const uint8_t *data, size_t len)
{
	int rc = 0;

	st->unconsumed += len;
	if (!st->rs_final || st->is_head || len == 0) {
		return;		/* nothing the session may read: given back when it reads */
	}
	if (st->rs_chunked)
		rc |= buf_appendf(&st->rs, "%zx\r\n", len);
	rc |= buf_append(&st->rs, data, len);
	if (st->rs_chunked)
		rc |= buf_append(&st->rs, "\r\n", 2);
	if (rc) {
		fail(st, NGHTTP2_INTERNAL_ERROR);
		return;
	}
	wake_reader(st);
}

void h2_upstream_end(struct h2_ustream *st)
{
	if (st->rs_ended || st->failed)
		return;
	if (!st->rs_final) {
		fail(st, NGHTTP2_PROTOCOL_ERROR);
		return;
	}
	if (st->rs_chunked && buf_append(&st->rs, "0\r\n\r\n", 5) == -1) {
		fail(st, NGHTTP2_INTERNAL_ERROR);
		return;
	}
	st->rs_chunked = 0;
	st->rs_ended = 1;
	wake_reader(st);
}

void h2_upstream_closed(struct h2_ustream *st, uint32_t error_code)
{
	st->closed = 1;
	fail(st, error_code ? error_code : NGHTTP2_INTERNAL_ERROR);
	wake_writer(st);
}

void h2_upstream_lost(struct h2_ustream *st, int err)
{
	st->c = NULL;
	if (st->connecting) {
		h2_upstream_ready(st, err);
		return;
	}
	st->closed = 1;
	fail(st, NGHTTP2_INTERNAL_ERROR);
	wake_writer(st);
}

/* ---- the transport's ops ------------------------------------------------------- */

static ssize_t stream_read(struct transport *t, void *buf, size_t len)
{
	struct h2_ustream *st = t->stream;
	size_t n = buf_unread(&st->rs);

	if (n > len)
		n = len;
	if (n) {
		size_t credit = n < st->unconsumed ? n : st->unconsumed;

		memcpy(buf, buf_head(&st->rs), n);
		buf_consume(&st->rs, n);
		if (credit && st->c) {
			/* the window opens as the session takes the body
			 * (RFC 9113 5.2: a stalled client holds one window) */
			st->unconsumed -= credit;
			nghttp2_session_consume(st->c->ng, st->id, credit);
			kick(st->c);
		}
		return (ssize_t)n;
	}
	if (st->failed) {
		/* REFUSED_STREAM (RFC 9113 8.7): the backend did not process it */
		errno = st->refused ? ECONNREFUSED : ECONNRESET;
		return -1;
	}
	if (st->rs_ended)
		return 0;
	errno = EAGAIN;
	return -1;
}

/* A stream that failed takes what the session writes and drops it: the
 * failure reaches the session once, by its read. */
static ssize_t stream_writev(struct transport *t, const struct iovec *iov, int n)
{
	struct h2_ustream *st = t->stream;
	ssize_t total = 0;
	int dropping = st->failed || st->closed || !st->c;

	if (!dropping && st->rq != H2_REQ_HEAD && buf_unread(&st->rq_data) >= H2_UP_STREAM_LIMIT) {
		st->write_blocked = 1;
		errno = EAGAIN;
		return -1;
	}
	for (int i = 0; i < n; i++) {
		if (!dropping && h2_request_feed(st, iov[i].iov_base, iov[i].iov_len,
						 st->c->tr.ssl != NULL) == -1) {
			if (st->id)
				nghttp2_submit_rst_stream(st->c->ng, NGHTTP2_FLAG_NONE, st->id,
							  NGHTTP2_INTERNAL_ERROR);
			fail(st, NGHTTP2_INTERNAL_ERROR);
			dropping = 1;
		}
		total += (ssize_t)iov[i].iov_len;
	}
	if (!dropping && st->id)
		nghttp2_session_resume_data(st->c->ng, st->id);
	kick(st->c);
	return total;
}

static void stream_shutdown_write(struct transport *t)
{
	(void)t;
}

/* Never called: upstream_close calls u.detach instead. */
static void stream_close(struct transport *t)
{
	(void)t;
}

static size_t stream_pending(const struct transport *t)
{
	const struct h2_ustream *st = t->stream;

	return buf_unread(&st->rs) + (st->failed || st->rs_ended);
}

static void stream_want_read(struct transport *t, int on)
{
	struct h2_ustream *st = t->stream;

	st->want_read = on;
}

const struct transport_ops h2_upstream_ops = {
	.name = "h2-upstream",
	.read = stream_read,
	.writev = stream_writev,
	.shutdown_write = stream_shutdown_write,
	.close = stream_close,
	.pending = stream_pending,
	.want_read = stream_want_read,
};

static void shrink(struct buf *b)
{
	if (b->cap > POOL_KEEP_BYTES)
		buf_release(b);
}

static void stream_free(struct h2_ustream *st)
{
	buf_release(&st->rq_head);
	buf_release(&st->rq_data);
	buf_release(&st->rs);
	buf_release(&st->rs_fields);
	free(st);
}

/* The session is done with the stream: one not closed both ways is reset
 * (RFC 9113 8.1: CANCEL, the response is no longer wanted), the window it
 * held given back, and its connection hears it. */
static void detach(struct upstream *u, int whole)
{
	struct h2_ustream *st = (struct h2_ustream *)u;
	struct h2_uconn *c = st->c;
	(void)whole;

	ev_io_stop(u->loop, &u->rio);
	ev_io_stop(u->loop, &u->wio);
	if (c) {
		LIST_REMOVE(st, link);
		c->nstreams--;
		if (st->id && !st->closed) {
			nghttp2_session_set_stream_user_data(c->ng, st->id, NULL);
			nghttp2_submit_rst_stream(c->ng, NGHTTP2_FLAG_NONE, st->id, NGHTTP2_CANCEL);
		}
		if (st->unconsumed)
			nghttp2_session_consume(c->ng, st->id, st->unconsumed);
		kick(c);
		c->stream_gone(c);
	}
	backend_unref(u->be);
	u->be = NULL;
	st->c = NULL;
	if (npool >= STREAM_POOL_MAX) {
		stream_free(st);
		return;
	}
	shrink(&st->rq_head);
	shrink(&st->rq_data);
	shrink(&st->rs);
	shrink(&st->rs_fields);
	st->next_free = pool;
	pool = st;
	npool++;
}

void h2_upstream_release(void)
{
	while (pool) {
		struct h2_ustream *st = pool;

		pool = st->next_free;
		stream_free(st);
	}
	npool = 0;
	h2_request_release();
}
