/* h2_pool: HTTP/2 connections to backends, each carrying many streams (see
 * h2_pool.h). */
#include "h2_pool.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "h2_mem.h"
#include "h2_upstream.h"
#include "log.h"
#include "net/transport_tls.h"

/* Streams a connection takes before the backend's SETTINGS said how many
 * (RFC 9113 6.5.2: unlimited until then; 100 is its recommended floor). */
#define H2_POOL_INITIAL_STREAMS 100
/* The connection's receive window: many streams' (each H2_UP_STREAM_LIMIT)
 * fit, so one session that reads slowly does not stall the others. */
#define H2_POOL_CONN_WINDOW (16 * 1024 * 1024)
/* A response's field section at most (SETTINGS_MAX_HEADER_LIST_SIZE). */
#define H2_POOL_MAX_HEADER_LIST (64 * 1024)
/* Stream ids left when a connection stops taking new streams (RFC 9113
 * 5.1.1: ids are not reused; a new connection takes over). */
#define H2_POOL_IDS_LEFT 1000

struct h2_pool_stats h2_pool_stats;

static nghttp2_session_callbacks *callbacks;
static nghttp2_option *option;

int h2_pool_protocol_parse(const char *name)
{
	if (!name || strcmp(name, "http1") == 0)
		return H2_POOL_HTTP1;
	if (strcmp(name, "h2c") == 0)
		return H2_POOL_H2C;
	if (strcmp(name, "h2") == 0)
		return H2_POOL_H2;
	return -1;
}

void h2_pool_render_metrics(struct buf *out)
{
	buf_appendf(out,
		    "# HELP lb_proxy_upstream_h2_connections_total HTTP/2 connections opened to "
		    "backends (--backend-protocol h2c|h2).\n"
		    "# TYPE lb_proxy_upstream_h2_connections_total counter\n"
		    "lb_proxy_upstream_h2_connections_total %llu\n"
		    "# HELP lb_proxy_upstream_h2_open_connections Open HTTP/2 connections to backends.\n"
		    "# TYPE lb_proxy_upstream_h2_open_connections gauge\n"
		    "lb_proxy_upstream_h2_open_connections %u\n"
		    "# HELP lb_proxy_upstream_h2_goaways_received_total GOAWAY frames backends sent.\n"
		    "# TYPE lb_proxy_upstream_h2_goaways_received_total counter\n"
		    "lb_proxy_upstream_h2_goaways_received_total %llu\n"
		    "# HELP lb_proxy_upstream_h2_refused_streams_total Streams backends did not "
		    "process (REFUSED_STREAM, above a GOAWAY's last stream id): retried.\n"
		    "# TYPE lb_proxy_upstream_h2_refused_streams_total counter\n"
		    "lb_proxy_upstream_h2_refused_streams_total %llu\n",
		    h2_pool_stats.connections, h2_pool_stats.open, h2_pool_stats.goaways,
		    h2_pool_stats.refused);
}

/* ---- a connection's life -------------------------------------------------------- */

static void conn_free(struct h2_uconn *c)
{
	ev_io_stop(c->loop, &c->rio);
	ev_io_stop(c->loop, &c->wio);
	ev_timer_stop(c->loop, &c->timer);
	LIST_REMOVE(c, link);
	nghttp2_session_del(c->ng);
	transport_close(&c->tr);
	c->be->connections--;
	backend_unref(c->be);
	h2_pool_stats.open--;
	free(c);
}

/* The connection failed (err) or ended: its streams hear it, it is freed. */
static void conn_fail(struct h2_uconn *c, int err)
{
	while (!LIST_EMPTY(&c->streams)) {
		struct h2_ustream *st = LIST_FIRST(&c->streams);

		LIST_REMOVE(st, link);
		h2_upstream_lost(st, err);
	}
	c->nstreams = 0;
	c->state = H2_UCONN_DEAD;
	conn_free(c);
}

/* The streams a connection may carry at once: the backend's
 * SETTINGS_MAX_CONCURRENT_STREAMS (RFC 9113 5.1.2). */
static unsigned conn_room(struct h2_uconn *c)
{
	struct h2_uconn *known = c, *o;
	uint32_t max;

	/* Before its SETTINGS came, a connection takes what the backend's
	 * other connections said it allows (it was opened because they were
	 * full: it fills no faster than they did). */
	if (!c->settings_seen)
		LIST_FOREACH(o, &c->be->h2_conns, link)
			if (o->settings_seen) {
				known = o;
				break;
			}
	max = nghttp2_session_get_remote_settings(known->ng,
						  NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS);

	return max > c->nstreams ? max - c->nstreams : 0;
}

/* Writes what nghttp2 has to send. Returns 0, or -1 when the connection
 * failed or ended (it is freed: c must not be used). */
static int conn_flush(struct h2_uconn *c)
{
	for (;;) {
		struct iovec iov;
		ssize_t w;

		if (c->pend_len == 0) {
			ssize_t n = nghttp2_session_mem_send(c->ng, &c->pend);

			if (n < 0) {
				conn_fail(c, EPROTO);
				return -1;
			}
			if (n == 0)
				break;
			c->pend_len = (size_t)n;
		}
		iov.iov_base = (void *)c->pend;
		iov.iov_len = c->pend_len;
		w = transport_writev(&c->tr, &iov, 1);
		if (w == -1 && errno == EINTR)
			continue;
		if (w == -1 && errno == EAGAIN) {
			ev_io_start(c->loop, &c->wio);
			return 0;
		}
		if (w <= 0) {
			conn_fail(c, errno ? errno : EPIPE);
			return -1;
		}
		c->pend += w;
		c->pend_len -= (size_t)w;
	}
	if (c->tr.read_want != TRANSPORT_WANT_WRITE)
		ev_io_stop(c->loop, &c->wio);
	if (!nghttp2_session_want_read(c->ng) && !nghttp2_session_want_write(c->ng)) {
		/* a GOAWAY both ways and no stream left */
		conn_fail(c, ECONNRESET);
		return -1;
	}
	return 0;
}

/* No stream left: closed when it takes no more (drained, its backend gone),
 * else kept for the pool's idle timeout. */
static void conn_stream_gone(struct h2_uconn *c)
{
	struct backend *b = c->be;

	if (c->nstreams)
		return;
	if (c->state == H2_UCONN_DRAINING || b->removed || b->state != BACKEND_UP) {
		nghttp2_session_terminate_session(c->ng, NGHTTP2_NO_ERROR);
		ev_feed_event(c->loop, &c->wio, EV_WRITE);
		return;
	}
	if (c->state == H2_UCONN_READY) {
		c->timer.repeat = upstream_limits()->idle_timeout;
		ev_timer_again(c->loop, &c->timer);
	}
}

/* The connect (and the TLS handshake) completed: streams may start. */
static int conn_ready(struct h2_uconn *c)
{
	struct h2_ustream *st, *next;

	if (c->tr.ssl && !transport_tls_alpn_h2(&c->tr)) {
		log_warn("backend does not speak h2", "backend=%s fix=\"--backend-protocol http1, "
			 "or enable HTTP/2 on the backend\"", c->be->name);
		conn_fail(c, EPROTO);
		return -1;
	}
	c->state = H2_UCONN_READY;
	ev_timer_stop(c->loop, &c->timer);
	ev_io_start(c->loop, &c->rio);
	for (st = LIST_FIRST(&c->streams); st; st = next) {
		next = LIST_NEXT(st, link);
		h2_upstream_ready(st, 0);
	}
	if (c->nstreams == 0)
		conn_stream_gone(c);
	return conn_flush(c);
}

/* While connecting: 0 when it goes on, -1 when c is freed. */
static int conn_connecting(struct h2_uconn *c)
{
	int err = 0;
	socklen_t len = sizeof(err);
	struct sockaddr_storage peer;
	socklen_t plen = sizeof(peer);

	if (!c->tr.handshake_done || !c->tr.ssl) {
		getsockopt(c->tr.fd, SOL_SOCKET, SO_ERROR, &err, &len);
		if (err) {
			conn_fail(c, err);
			return -1;
		}
		if (getpeername(c->tr.fd, (struct sockaddr *)&peer, &plen) == -1)
			return 0;	/* not connected yet */
	}
	if (c->tr.ssl && !c->tr.handshake_done) {
		int rc = transport_tls_handshake(&c->tr);

		if (rc == -1) {
			log_warn("backend TLS handshake failed", "backend=%s error=\"%s\"", c->be->name,
				 transport_tls_last_error());
			conn_fail(c, ECONNREFUSED);
			return -1;
		}
		if (rc == 0) {
			if (c->tr.read_want == TRANSPORT_WANT_READ) {
				ev_io_stop(c->loop, &c->wio);
				ev_io_start(c->loop, &c->rio);
			} else {
				ev_io_stop(c->loop, &c->rio);
				ev_io_start(c->loop, &c->wio);
			}
			return 0;
		}
	}
	return conn_ready(c);
}

static void conn_on_read(struct ev_loop *loop, ev_io *w, int revents)
{
	static uint8_t in[64 * 1024];
	struct h2_uconn *c = w->data;
	(void)loop;
	(void)revents;

	if (c->state == H2_UCONN_CONNECTING) {
		conn_connecting(c);
		return;
	}
	for (;;) {
		ssize_t n = transport_read(&c->tr, in, sizeof(in));

		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && errno == EAGAIN) {
			if (c->tr.read_want == TRANSPORT_WANT_WRITE)
				ev_io_start(c->loop, &c->wio);
			break;
		}
		if (n <= 0) {
			conn_fail(c, n == 0 ? ECONNRESET : errno);
			return;
		}
		if (nghttp2_session_mem_recv(c->ng, in, (size_t)n) < 0) {
			/* a protocol error: nghttp2 queued its GOAWAY; sent once */
			conn_flush(c);
			if (c->state != H2_UCONN_DEAD)
				conn_fail(c, EPROTO);
			return;
		}
		if ((size_t)n < sizeof(in) && !transport_pending(&c->tr))
			break;
	}
	conn_flush(c);
}

static void conn_on_write(struct ev_loop *loop, ev_io *w, int revents)
{
	struct h2_uconn *c = w->data;
	(void)loop;
	(void)revents;

	if (c->state == H2_UCONN_CONNECTING) {
		conn_connecting(c);
		return;
	}
	if (c->tr.read_want == TRANSPORT_WANT_WRITE) {
		c->tr.read_want = TRANSPORT_WANT_NONE;
		ev_feed_event(c->loop, &c->rio, EV_READ);
	}
	conn_flush(c);
}

static void conn_on_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct h2_uconn *c = w->data;
	(void)loop;
	(void)revents;

	if (c->state == H2_UCONN_CONNECTING) {
		conn_fail(c, ETIMEDOUT);
		return;
	}
	if (c->nstreams == 0) {
		/* idle for the pool's timeout: GOAWAY, then closed */
		c->state = H2_UCONN_DRAINING;
		conn_stream_gone(c);
	}
}

/* ---- nghttp2's callbacks ------------------------------------------------------------- */

static struct h2_ustream *stream_of(nghttp2_session *ng, int32_t id)
{
	return nghttp2_session_get_stream_user_data(ng, id);
}

static int on_begin_headers(nghttp2_session *ng, const nghttp2_frame *frame, void *user)
{
	struct h2_ustream *st = stream_of(ng, frame->hd.stream_id);
	(void)user;

	if (st && frame->hd.type == NGHTTP2_HEADERS)
		h2_upstream_begin_headers(st);
	return 0;
}

static int on_header(nghttp2_session *ng, const nghttp2_frame *frame, const uint8_t *name,
		     size_t nlen, const uint8_t *value, size_t vlen, uint8_t flags, void *user)
{
	struct h2_ustream *st = stream_of(ng, frame->hd.stream_id);
	(void)flags;
	(void)user;

	if (!st || frame->hd.type != NGHTTP2_HEADERS)
		return 0;
	return h2_upstream_header(st, name, nlen, value, vlen);
}

static int on_frame_recv(nghttp2_session *ng, const nghttp2_frame *frame, void *user)
{
	struct h2_uconn *c = user;
	struct h2_ustream *st;

	switch (frame->hd.type) {
	case NGHTTP2_HEADERS:
		st = stream_of(ng, frame->hd.stream_id);
		/* a head that cannot be rendered fails its stream alone (a
		 * nonzero return here would end the connection) */
		if (st && h2_upstream_headers_end(st, frame->hd.flags & NGHTTP2_FLAG_END_STREAM) != 0)
			nghttp2_submit_rst_stream(ng, NGHTTP2_FLAG_NONE, frame->hd.stream_id,
						  NGHTTP2_PROTOCOL_ERROR);
		break;
	case NGHTTP2_DATA:
		st = stream_of(ng, frame->hd.stream_id);
		if (st && (frame->hd.flags & NGHTTP2_FLAG_END_STREAM))
			h2_upstream_end(st);
		break;
	case NGHTTP2_SETTINGS:
		if (!(frame->hd.flags & NGHTTP2_FLAG_ACK))
			c->settings_seen = 1;
		break;
	case NGHTTP2_GOAWAY:
		/* RFC 9113 6.8: no new stream here; the ones above its last
		 * stream id were not processed (nghttp2 closes them as
		 * REFUSED_STREAM, and their sessions retry them elsewhere) */
		h2_pool_stats.goaways++;
		if (c->state == H2_UCONN_READY)
			c->state = H2_UCONN_DRAINING;
		log_info("backend sent GOAWAY", "backend=%s last_stream_id=%d error_code=%u",
			 c->be->name, frame->goaway.last_stream_id, frame->goaway.error_code);
		break;
	default:
		break;
	}
	return 0;
}

static int on_data_chunk(nghttp2_session *ng, uint8_t flags, int32_t id, const uint8_t *data,
			 size_t len, void *user)
{
	struct h2_ustream *st = stream_of(ng, id);
	(void)flags;
	(void)user;

	if (st)
		h2_upstream_data(st, data, len);
	else
		nghttp2_session_consume(ng, id, len);	/* nobody reads it */
	return 0;
}

static int on_stream_close(nghttp2_session *ng, int32_t id, uint32_t error_code, void *user)
{
	struct h2_ustream *st = stream_of(ng, id);
	(void)user;

	if (st) {
		if (error_code == NGHTTP2_REFUSED_STREAM)
			h2_pool_stats.refused++;
		h2_upstream_closed(st, error_code);
	}
	return 0;
}

static int setup_callbacks(void)
{
	if (callbacks)
		return 0;
	if (nghttp2_session_callbacks_new(&callbacks) != 0 || nghttp2_option_new(&option) != 0)
		return -1;
	nghttp2_session_callbacks_set_on_begin_headers_callback(callbacks, on_begin_headers);
	nghttp2_session_callbacks_set_on_header_callback(callbacks, on_header);
	nghttp2_session_callbacks_set_on_frame_recv_callback(callbacks, on_frame_recv);
	nghttp2_session_callbacks_set_on_data_chunk_recv_callback(callbacks, on_data_chunk);
	nghttp2_session_callbacks_set_on_stream_close_callback(callbacks, on_stream_close);
	/* the window opens as sessions read (h2_upstream.c) */
	nghttp2_option_set_no_auto_window_update(option, 1);
	nghttp2_option_set_peer_max_concurrent_streams(option, H2_POOL_INITIAL_STREAMS);
	return 0;
}

/* A new connection to b, connecting. NULL with errno set. */
static struct h2_uconn *conn_new(struct backend *b, int tls, double connect_timeout)
{
	const struct upstream_limits *limits = upstream_limits();
	nghttp2_settings_entry settings[] = {
		{ NGHTTP2_SETTINGS_ENABLE_PUSH, 0 },
		{ NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, H2_UP_STREAM_LIMIT },
		{ NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, H2_POOL_MAX_HEADER_LIST },
	};
	struct h2_uconn *c;
	int fd;

	if (setup_callbacks() == -1 || (tls && !limits->tls)) {
		errno = ENOMEM;
		return NULL;
	}
	fd = upstream_socket(b);
	if (fd == -1)
		return NULL;
	c = calloc(1, sizeof(*c));
	if (!c)
		goto fail_fd;
	transport_plain_init(&c->tr, fd);
	if (tls) {
		char ip[64];

		net_addr_ip((struct sockaddr *)&b->addr.ss, ip, sizeof(ip));
		if (transport_tls_connect(&c->tr, limits->tls, fd, limits->tls_sni, limits->tls_sni,
					  ip, &b->tls_session) == -1)
			goto fail_c;
	}
	if (nghttp2_session_client_new3(&c->ng, callbacks, c, option, h2_mem()) != 0)
		goto fail_tls;
	/* RFC 9113 3.4: the preface and SETTINGS go first, with the connection's
	 * own window */
	if (nghttp2_submit_settings(c->ng, NGHTTP2_FLAG_NONE, settings,
				    sizeof(settings) / sizeof(settings[0])) != 0 ||
	    nghttp2_session_set_local_window_size(c->ng, NGHTTP2_FLAG_NONE, 0,
						  H2_POOL_CONN_WINDOW) != 0) {
		nghttp2_session_del(c->ng);
		goto fail_tls;
	}
	c->be = b;
	c->loop = upstream_loop();
	c->state = H2_UCONN_CONNECTING;
	c->stream_gone = conn_stream_gone;
	LIST_INIT(&c->streams);
	ev_io_init(&c->rio, conn_on_read, fd, EV_READ);
	ev_io_init(&c->wio, conn_on_write, fd, EV_WRITE);
	ev_init(&c->timer, conn_on_timer);
	c->rio.data = c->wio.data = c->timer.data = c;
	c->timer.repeat = connect_timeout;
	ev_timer_again(c->loop, &c->timer);
	ev_io_start(c->loop, &c->wio);
	backend_ref(b);
	b->connections++;
	LIST_INSERT_HEAD(&b->h2_conns, c, link);
	h2_pool_stats.connections++;
	h2_pool_stats.open++;
	return c;
fail_tls:
	transport_close(&c->tr);	/* closes fd */
	free(c);
	errno = ENOMEM;
	return NULL;
fail_c:
	free(c);
fail_fd:
	close(fd);
	errno = ENOMEM;
	return NULL;
}

struct upstream *h2_pool_stream(struct backend *b, int tls, double connect_timeout)
{
	struct h2_uconn *c;
	struct h2_ustream *st;

	LIST_FOREACH(c, &b->h2_conns, link) {
		if (c->state == H2_UCONN_READY &&
		    nghttp2_session_get_next_stream_id(c->ng) > (1u << 31) - H2_POOL_IDS_LEFT) {
			c->state = H2_UCONN_DRAINING;	/* out of stream ids soon */
			continue;
		}
		if ((c->state == H2_UCONN_READY || c->state == H2_UCONN_CONNECTING) && conn_room(c))
			break;
	}
	if (!c) {
		c = conn_new(b, tls, connect_timeout);
		if (!c)
			return NULL;
	}
	st = h2_upstream_new(c);
	if (!st) {
		if (c->nstreams == 0 && c->state == H2_UCONN_CONNECTING)
			conn_fail(c, ENOMEM);
		errno = ENOMEM;
		return NULL;
	}
	if (c->state == H2_UCONN_READY)
		ev_timer_stop(c->loop, &c->timer);	/* not idle */
	return &st->u;
}

void h2_pool_release(void)
{
	struct backend *b = backend_all(), *next;

	for (; b; b = next) {
		backend_ref(b);		/* its last connection may hold its last reference */
		while (!LIST_EMPTY(&b->h2_conns))
			conn_fail(LIST_FIRST(&b->h2_conns), ECONNRESET);
		next = b->all_next;
		backend_unref(b);
	}
	h2_upstream_release();
	h2_mem_release();
	if (callbacks)
		nghttp2_session_callbacks_del(callbacks);
	if (option)
		nghttp2_option_del(option);
	callbacks = NULL;
	option = NULL;
}
