/* h2_conn: an HTTP/2 client connection over nghttp2 (see h2_conn.h). */
#include "h2_conn.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "h2_stream.h"
#include "log.h"
#include "net/transport_tls.h"
#include "session.h"
#include "upstream/h2_mem.h"

struct h2_conn {
	struct session *s;		/* the client connection (SESSION_H2) */
	struct h2_peer peer;		/* what its streams share; peer.ng the codec */
	struct buf out;			/* frames produced, not yet written */
	struct buf opening;		/* ids (int32_t) of streams whose request is whole,
					 * to be given sessions after this read */
	double window_start;		/* of the reset and empty DATA counts */
	unsigned resets, empty_data;
	unsigned eof : 1;		/* the client closed its side */
	unsigned dead : 1;		/* closing: callbacks do nothing */
};

static struct session *(*take_session)(struct proxy *px);
static nghttp2_session_callbacks *callbacks;

/* ---- nghttp2's callbacks -------------------------------------------------------------- */

static struct h2_stream *stream_of(struct h2_conn *c, int32_t id)
{
	return nghttp2_session_get_stream_user_data(c->peer.ng, id);
}

static int on_begin_headers(nghttp2_session *ng, const nghttp2_frame *frame, void *user)
{
	struct h2_conn *c = user;
	struct h2_stream *st;

	if (frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_REQUEST)
		return 0;
	st = h2_stream_new(&c->peer, frame->hd.stream_id);
	if (!st)
		return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
	nghttp2_session_set_stream_user_data(ng, frame->hd.stream_id, st);
	return 0;
}

static int on_header(nghttp2_session *ng, const nghttp2_frame *frame, const uint8_t *name,
		     size_t nlen, const uint8_t *value, size_t vlen, uint8_t flags, void *user)
{
	struct h2_stream *st = stream_of(user, frame->hd.stream_id);
	(void)ng;
	(void)flags;

	if (!st || frame->hd.type != NGHTTP2_HEADERS)
		return 0;
	return h2_stream_field(st, name, nlen, value, vlen);
}

/* Rapid reset and empty DATA: lb's own counts over H2_RESET_WINDOW. */
static void count_abuse(struct h2_conn *c, unsigned *count, unsigned max, const char *what)
{
	struct proxy *px = c->peer.px;
	double now = ev_now(px->loop);

	if (now - c->window_start >= H2_RESET_WINDOW) {
		c->window_start = now;
		c->resets = c->empty_data = 0;
	}
	if (++*count <= max)
		return;
	log_warn("http/2 client over a limit: goaway", "client=%s what=\"%s\" limit=%u",
		 c->peer.client_ip, what, max);
	px->metrics.h2.calm++;
	nghttp2_session_terminate_session(c->peer.ng, NGHTTP2_ENHANCE_YOUR_CALM);
}

static int on_frame_recv(nghttp2_session *ng, const nghttp2_frame *frame, void *user)
{
	struct h2_conn *c = user;
	struct h2_stream *st = stream_of(c, frame->hd.stream_id);
	int end = (frame->hd.flags & NGHTTP2_FLAG_END_STREAM) != 0;
	(void)ng;

	switch (frame->hd.type) {
	case NGHTTP2_RST_STREAM:
		c->peer.px->metrics.h2.resets_received[h2_metrics_code(frame->rst_stream.error_code)]++;
		count_abuse(c, &c->resets, (unsigned)c->peer.px->opts->h2_max_resets,
			    "stream resets a second (--h2-max-resets)");
		return 0;
	case NGHTTP2_DATA:
		if (frame->hd.length == 0 && !end)
			count_abuse(c, &c->empty_data, H2_EMPTY_DATA_MAX, "empty DATA frames a second");
		if (st && end)
			h2_stream_end(st);
		return 0;
	case NGHTTP2_HEADERS:
		if (!st)
			return 0;
		if (frame->headers.cat == NGHTTP2_HCAT_REQUEST) {
			if (h2_stream_head_done(st, end) == 0 &&
			    buf_append(&c->opening, &frame->hd.stream_id, sizeof(int32_t)) == -1)
				return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
		} else if (end) {
			h2_stream_end(st);	/* trailers */
		}
		return 0;
	default:
		return 0;
	}
}

static int on_data_chunk_recv(nghttp2_session *ng, uint8_t flags, int32_t id, const uint8_t *data,
			      size_t len, void *user)
{
	struct h2_stream *st = stream_of(user, id);
	(void)flags;

	if (!st) {
		nghttp2_session_consume(ng, id, len);
		return 0;
	}
	h2_stream_data(st, data, len);
	return 0;
}

static int on_frame_send(nghttp2_session *ng, const nghttp2_frame *frame, void *user)
{
	struct h2_conn *c = user;
	struct h2_stream *st;
	(void)ng;

	switch (frame->hd.type) {
	case NGHTTP2_GOAWAY:
		c->peer.px->metrics.h2.goaways_sent[h2_metrics_code(frame->goaway.error_code)]++;
		log_debug("http/2 goaway sent", "client=%s code=%s last_stream=%d", c->peer.client_ip,
			  h2_metrics_code_name(frame->goaway.error_code), frame->goaway.last_stream_id);
		break;
	case NGHTTP2_RST_STREAM:
		c->peer.px->metrics.h2.resets_sent[h2_metrics_code(frame->rst_stream.error_code)]++;
		break;
	case NGHTTP2_DATA:
	case NGHTTP2_HEADERS:
		st = stream_of(c, frame->hd.stream_id);
		if (st && (frame->hd.flags & NGHTTP2_FLAG_END_STREAM))
			h2_stream_sent_end(st);
		break;
	default:
		break;
	}
	return 0;
}

static int on_stream_close(nghttp2_session *ng, int32_t id, uint32_t code, void *user)
{
	struct h2_conn *c = user;
	struct h2_stream *st = stream_of(c, id);

	if (!st || c->dead)
		return 0;
	nghttp2_session_set_stream_user_data(ng, id, NULL);
	if (code != NGHTTP2_NO_ERROR && st->s)
		c->peer.px->metrics.client_aborts++;
	h2_stream_close(st);
	return 0;
}

/* Frames nghttp2 refuses (a protocol error it answers itself): logged. */
static int on_invalid_frame(nghttp2_session *ng, const nghttp2_frame *frame, int err, void *user)
{
	struct h2_conn *c = user;
	(void)ng;

	log_debug("http/2 invalid frame", "client=%s type=%u stream=%d error=\"%s\"",
		  c->peer.client_ip, frame->hd.type, frame->hd.stream_id, nghttp2_strerror(err));
	return 0;
}

/* ---- the connection's I/O --------------------------------------------------------------- */

static void conn_close(struct h2_conn *c)
{
	session_close(c->s);	/* calls h2_close below */
}

static void update_watchers(struct h2_conn *c)
{
	struct session *s = c->s;
	struct ev_loop *loop = c->peer.px->loop;
	int cread = !c->eof && nghttp2_session_want_read(c->peer.ng) &&
		    buf_unread(&c->out) < H2_OUT_LIMIT;
	int cwrite = s->client_blocked;

	if (s->tr.read_want == TRANSPORT_WANT_WRITE) {
		cwrite |= cread;
		cread = 0;
	}
	if (s->client_blocked && s->tr.write_want == TRANSPORT_WANT_READ) {
		cread = 1;
		cwrite = 0;
	}
	if (cread) {
		ev_io_start(loop, &s->rio);
		if (transport_pending(&s->tr))
			ev_feed_event(loop, &s->rio, EV_READ);
	} else {
		ev_io_stop(loop, &s->rio);
	}
	if (cwrite)
		ev_io_start(loop, &s->wio);
	else
		ev_io_stop(loop, &s->wio);
}

/* What nghttp2 has to send is gathered here and written at once, up to
 * H2_GATHER_MAX: nghttp2 hands over a frame at a time, and a write per frame
 * cost a system call for the HEADERS and another for the DATA of every
 * response. One loop, one thread: the connections share it (what a write
 * leaves goes to the connection's own `out`). */
#define H2_GATHER_MAX (32 * 1024)
static struct buf gather;

/* The frames nghttp2 has ready into gather; 0, or -1 on its error. */
static int gather_frames(struct h2_conn *c)
{
	buf_reset(&gather);
	while (gather.len < H2_GATHER_MAX) {
		const uint8_t *data;
		ssize_t n = nghttp2_session_mem_send(c->peer.ng, &data);

		if (n < 0)
			return -1;
		if (n == 0)
			break;
		if (buf_append(&gather, data, (size_t)n) == -1)
			return -1;
	}
	return 0;
}

/* Writes what nghttp2 has to send, as far as the client takes it. Returns
 * -1 when the connection closed (c is gone), else 0. */
static int flush(struct h2_conn *c)
{
	struct session *s = c->s;

	s->client_blocked = 0;
	for (;;) {
		struct buf *b = &c->out;
		struct iovec iov;
		ssize_t w;
		int err;

		if (buf_unread(&c->out) == 0) {
			if (gather_frames(c) == -1)
				goto gone;
			if (buf_unread(&gather) == 0)
				break;
			b = &gather;
		}
		iov.iov_base = buf_head(b);
		iov.iov_len = buf_unread(b);
		w = transport_writev(&s->tr, &iov, 1);
		err = errno;
		if (w == 0 || (w == -1 && err != EAGAIN && err != EINTR))
			goto gone;
		if (w > 0)
			buf_consume(b, (size_t)w);
		/* what the client did not take waits in the connection's own */
		if (b == &gather && buf_unread(&gather) &&
		    buf_append(&c->out, buf_head(&gather), buf_unread(&gather)) == -1)
			goto gone;
		if (w == -1 && err == EAGAIN) {
			s->client_blocked = 1;
			break;
		}
	}
	if (!nghttp2_session_want_read(c->peer.ng) && !nghttp2_session_want_write(c->peer.ng) &&
	    buf_unread(&c->out) == 0) {
		conn_close(c);	/* said GOAWAY, and every stream is done */
		return -1;
	}
	update_watchers(c);
	return 0;
gone:
	conn_close(c);
	return -1;
}

/* Gives sessions to the streams whose request heads came in this read. */
static void open_streams(struct h2_conn *c)
{
	for (size_t off = 0; off + sizeof(int32_t) <= c->opening.len; off += sizeof(int32_t)) {
		int32_t id;
		struct h2_stream *st;

		memcpy(&id, c->opening.data + off, sizeof(id));
		st = stream_of(c, id);
		if (st && !st->s)
			h2_stream_open(st);
	}
	buf_reset(&c->opening);
}

/* Bytes from the client through nghttp2; returns -1 when c closed. */
static int take_input(struct h2_conn *c, const uint8_t *data, size_t len)
{
	ssize_t rv = nghttp2_session_mem_recv(c->peer.ng, data, len);

	if (rv < 0) {
		log_debug("http/2 connection failed", "client=%s error=\"%s\"", c->peer.client_ip,
			  nghttp2_strerror((int)rv));
		if (rv == NGHTTP2_ERR_BAD_CLIENT_MAGIC || rv == NGHTTP2_ERR_NOMEM) {
			conn_close(c);
			return -1;
		}
		/* a flood or a protocol error: nghttp2 queued its GOAWAY */
		nghttp2_session_terminate_session(c->peer.ng, NGHTTP2_PROTOCOL_ERROR);
	}
	open_streams(c);
	return 0;
}

static void conn_on_read(struct ev_loop *loop, ev_io *w, int revents);

static void conn_on_write(struct ev_loop *loop, ev_io *w, int revents)
{
	struct h2_conn *c = ((struct session *)w->data)->h2;
	(void)revents;

	if (c->s->tr.read_want == TRANSPORT_WANT_WRITE) {
		c->s->tr.read_want = TRANSPORT_WANT_NONE;
		ev_feed_event(loop, &c->s->rio, EV_READ);
	}
	flush(c);
}

static void conn_on_read(struct ev_loop *loop, ev_io *w, int revents)
{
	struct session *s = w->data;
	struct h2_conn *c = s->h2;
	uint8_t in[16384];
	ssize_t n;
	(void)revents;

	if (s->client_blocked && s->tr.write_want == TRANSPORT_WANT_READ) {
		s->tr.write_want = TRANSPORT_WANT_NONE;
		ev_feed_event(loop, &s->wio, EV_WRITE);
	}
	n = transport_read(&s->tr, in, sizeof(in));
	if (n == -1 && (errno == EAGAIN || errno == EINTR)) {
		update_watchers(c);
		return;
	}
	if (n <= 0) {
		/* the client left: its streams end with it */
		c->eof = 1;
		conn_close(c);
		return;
	}
	ev_timer_again(loop, &s->timer);
	if (take_input(c, in, (size_t)n) == -1)
		return;
	/* what the input asks to send goes with the pass's other frames */
	ev_feed_event(loop, &s->wio, EV_WRITE);
}

/* Idle: no stream with a session for the timer's span. Streams that wait
 * only for the client's window count as idle too. */
static void conn_on_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct session *s = w->data;
	struct h2_conn *c = s->h2;
	struct h2_stream *st;
	(void)revents;

	LIST_FOREACH(st, &c->peer.streams, link) {
		if (st->s) {
			ev_timer_again(loop, w);
			return;
		}
	}
	log_debug("http/2 connection idle: goaway", "client=%s", c->peer.client_ip);
	nghttp2_session_terminate_session(c->peer.ng, NGHTTP2_NO_ERROR);
	if (flush(c) == 0)
		conn_close(c);
}

/* ---- the hand-over from session.c --------------------------------------------------------- */

static void h2_stop(struct session *s);

static int h2_start(struct session *s)
{
	struct proxy *px = s->px;
	struct h2_conn *c = calloc(1, sizeof(*c));
	nghttp2_option *opt = NULL;
	nghttp2_settings_entry settings[] = {
		{ NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, (uint32_t)px->opts->h2_max_concurrent_streams },
		{ NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, (uint32_t)px->opts->max_header_size },
		{ NGHTTP2_SETTINGS_ENABLE_PUSH, 0 },
	};

	if (!c || nghttp2_option_new(&opt) != 0)
		goto fail;
	/* the window opens as sessions take request bodies, never before */
	nghttp2_option_set_no_auto_window_update(opt, 1);
	nghttp2_option_set_max_outbound_ack(opt, H2_MAX_OUTBOUND_ACK);
	nghttp2_option_set_max_settings(opt, H2_MAX_SETTINGS);
	nghttp2_option_set_max_continuations(opt, H2_MAX_CONTINUATIONS);
	/* nghttp2's own rapid reset guard stays behind lb's count as a backstop */
	nghttp2_option_set_stream_reset_rate_limit(opt, 2 * (uint64_t)px->opts->h2_max_resets,
						   (uint64_t)px->opts->h2_max_resets);
	nghttp2_option_set_peer_max_concurrent_streams(opt, 100);
	/* nghttp2's stream objects and header copies from free lists, not
	 * malloc and free per stream */
	if (nghttp2_session_server_new3(&c->peer.ng, callbacks, c, opt, h2_mem()) != 0)
		goto fail;
	nghttp2_option_del(opt);
	opt = NULL;
	if (nghttp2_submit_settings(c->peer.ng, NGHTTP2_FLAG_NONE, settings,
				    sizeof(settings) / sizeof(settings[0])) != 0)
		goto fail;
	c->s = s;
	c->peer.px = px;
	c->peer.kick = &s->wio;
	c->peer.client_ip = s->client_ip;
	c->peer.via = s->via;
	c->peer.tls = s->tr.ssl != NULL;
	c->peer.tls_version = transport_tls_version(&s->tr);
	c->peer.take = take_session;
	c->window_start = ev_now(px->loop);
	LIST_INIT(&c->peer.streams);
	s->h2 = c;
	s->state = SESSION_H2;
	px->metrics.h2.connections++;
	px->metrics.h2.open_connections++;
	if (!s->tr.ssl)
		px->metrics.h2.connections_h2c++;
	ev_set_cb(&s->rio, conn_on_read);
	/* One flush per loop pass: streams kick the writer (h2_peer.kick) as
	 * their answers come; at the lowest priority it runs once the pass's
	 * other events (the backends' reads) are done, so the answers of every
	 * stream that finished in the pass leave in one write. What the flush
	 * feeds in turn still runs in the same pass (libev goes back up the
	 * priorities). session_open's ev_io_init sets it back for HTTP/1.1. */
	ev_io_stop(px->loop, &s->wio);
	ev_set_priority(&s->wio, EV_MINPRI);
	ev_set_cb(&s->wio, conn_on_write);
	ev_set_cb(&s->timer, conn_on_timer);
	s->timer.repeat = px->opts->keepalive_timeout;
	ev_timer_again(px->loop, &s->timer);
	/* the preface and what came with it (h2c), already read */
	if (s->in.len) {
		if (take_input(c, (const uint8_t *)s->in.data, s->in.len) == -1)
			return 0;
		s->in.len = 0;
	}
	buf_cache_give(&s->in);
	if (px->stopping)	/* its handshake ended while the proxy stops */
		h2_stop(s);
	if (flush(c) == -1)
		return 0;
	/* speculative, as a new connection's first read: it often came along */
	conn_on_read(px->loop, &s->rio, EV_READ);
	return 0;
fail:
	if (opt)
		nghttp2_option_del(opt);
	if (c && c->peer.ng)
		nghttp2_session_del(c->peer.ng);
	free(c);
	log_error("out of memory for an http/2 connection", "client=%s", s->client_ip);
	return -1;
}

static void h2_stop(struct session *s)
{
	struct h2_conn *c = s->h2;

	/* RFC 9113 6.8: the last stream processed; those in flight finish */
	nghttp2_submit_goaway(c->peer.ng, NGHTTP2_FLAG_NONE,
			      nghttp2_session_get_last_proc_stream_id(c->peer.ng), NGHTTP2_NO_ERROR,
			      NULL, 0);
	ev_feed_event(s->px->loop, &s->wio, EV_WRITE);
}

static void h2_close(struct session *s)
{
	struct h2_conn *c = s->h2;
	struct h2_stream *st;

	if (!c)
		return;
	s->h2 = NULL;
	c->dead = 1;
	while ((st = LIST_FIRST(&c->peer.streams)) != NULL) {
		nghttp2_session_set_stream_user_data(c->peer.ng, st->id, NULL);
		h2_stream_close(st);
	}
	nghttp2_session_del(c->peer.ng);
	buf_release(&c->out);
	buf_release(&c->opening);
	s->px->metrics.h2.open_connections--;
	free(c);
}

static const struct session_h2 ops = {
	.start = h2_start,
	.stop = h2_stop,
	.close = h2_close,
};

void h2_conn_setup(struct session *(*take)(struct proxy *px))
{
	take_session = take;
	if (!callbacks && nghttp2_session_callbacks_new(&callbacks) == 0) {
		nghttp2_session_callbacks_set_on_begin_headers_callback(callbacks, on_begin_headers);
		nghttp2_session_callbacks_set_on_header_callback(callbacks, on_header);
		nghttp2_session_callbacks_set_on_frame_recv_callback(callbacks, on_frame_recv);
		nghttp2_session_callbacks_set_on_data_chunk_recv_callback(callbacks, on_data_chunk_recv);
		nghttp2_session_callbacks_set_on_frame_send_callback(callbacks, on_frame_send);
		nghttp2_session_callbacks_set_on_stream_close_callback(callbacks, on_stream_close);
		nghttp2_session_callbacks_set_on_invalid_frame_recv_callback(callbacks,
									      on_invalid_frame);
	}
	if (callbacks)
		session_set_h2(&ops);
}
