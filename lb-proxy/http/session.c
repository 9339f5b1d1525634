/* session: one client connection of lb-proxy: its life, its events and the
 * pump of its state machine (the exchange is exchange.c's, see session.h). */
#include "session.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "answer.h"
#include "exchange.h"
#include "exchange_pool.h"
#include "forward.h"
#include "log.h"
#include "net.h"
#include "net/transport_tls.h"
#include "relay.h"
#include "timefmt.h"

#define LINGER_SECONDS 2.0
/* RFC 9113 3.4: what a client with prior knowledge of h2c sends first. */
#define H2_PREFACE "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
#define H2_PREFACE_LEN 24

static const struct session_h2 *h2_ops;

void session_set_h2(const struct session_h2 *h2)
{
	h2_ops = h2;
}

static void apply_timer(struct session *s)
{
	if (s->timer_dirty) {
		s->timer_dirty = 0;
		ev_timer_again(s->px->loop, &s->timer);
	}
}

static void update_watchers(struct session *s)
{
	struct ev_loop *loop = s->px->loop;
	int cread = 0, cwrite = s->client_blocked, uread = 0;

	switch (s->state) {
	case SESSION_HANDSHAKE:
		cread = s->tr.read_want == TRANSPORT_WANT_READ;
		cwrite = s->tr.read_want == TRANSPORT_WANT_WRITE;
		break;
	case SESSION_IDLE:
	case SESSION_HEAD:
		cread = !s->client_eof;
		break;
	case SESSION_BACKOFF:
	case SESSION_QUEUED:
		/* Armed, so a client that goes away while it waits is seen. */
		cread = !s->client_eof && s->in.len - s->send_off < RELAY_IN_LIMIT;
		break;
	case SESSION_CONNECT:
	case SESSION_EXCHANGE:
		/* An armed watcher stays armed (pipelined bytes wait in `in`): no
		 * epoll_ctl per request. One never armed (the request was read
		 * speculatively) is not armed just to wait for the response. */
		cread = !s->client_eof && s->in.len - s->send_off < RELAY_IN_LIMIT &&
			(!s->req_done || ev_is_active(&s->rio));
		uread = s->state == SESSION_EXCHANGE && !s->resp_done &&
			s->x->uin.len - s->x->usend_off < RELAY_IN_LIMIT;
		break;
	case SESSION_TUNNEL:
		cread = s->in.len - s->send_off < RELAY_IN_LIMIT;
		uread = s->x->uin.len - s->x->usend_off < RELAY_IN_LIMIT;
		break;
	case SESSION_CLOSING:
		break;
	case SESSION_LINGER:
		cread = 1;
		break;
	case SESSION_H2:	/* h2_conn.c watches the connection */
		return;
	}
	/* TLS: a read that waits for the fd to be writable, or a write that
	 * waits for it to be readable, arms the other watcher. */
	if (s->tr.read_want == TRANSPORT_WANT_WRITE && s->state != SESSION_HANDSHAKE) {
		cwrite |= cread;
		cread = 0;
	}
	if (s->client_blocked && s->tr.write_want == TRANSPORT_WANT_READ) {
		cread = 1;
		cwrite = 0;
	}
	apply_timer(s);
	if (s->tr.fd < 0) {
		/* an HTTP/2 stream: it feeds rio and wio itself */
		s->tr.ops->want_read(&s->tr, cread);
		if (cread && transport_pending(&s->tr))
			ev_feed_event(loop, &s->rio, EV_READ);
	} else if (cread) {
		ev_io_start(loop, &s->rio);
		/* Bytes TLS already holds: the kernel will not signal them. */
		if (transport_pending(&s->tr))
			ev_feed_event(loop, &s->rio, EV_READ);
	} else {
		ev_io_stop(loop, &s->rio);
	}
	if (cwrite && s->tr.fd >= 0)
		ev_io_start(loop, &s->wio);
	else
		ev_io_stop(loop, &s->wio);
	if (s->up) {
		struct transport *ut = &s->up->tr;
		int uwrite = s->up_blocked || s->state == SESSION_CONNECT;

		/* --backend-tls: the handshake, or a read or write, may wait for
		 * the other direction (never for a plain socket) */
		if (s->state == SESSION_CONNECT) {
			if (ut->read_want == TRANSPORT_WANT_READ) {
				uread = 1;
				uwrite = 0;
			}
		} else if (ut->read_want == TRANSPORT_WANT_WRITE && uread) {
			uwrite = 1;
			uread = 0;
		} else if (s->up_blocked && ut->write_want == TRANSPORT_WANT_READ) {
			uread = 1;
			uwrite = 0;
		}
		if (ut->fd < 0) {
			/* an HTTP/2 stream to the backend: it feeds rio and wio */
			ut->ops->want_read(ut, uread);
			if (uread && transport_pending(ut))
				ev_feed_event(loop, &s->up->rio, EV_READ);
		} else if (uread) {
			ev_io_start(loop, &s->up->rio);
			if (transport_pending(ut))
				ev_feed_event(loop, &s->up->rio, EV_READ);
		} else {
			ev_io_stop(loop, &s->up->rio);
		}
		/* (a stream feeds its wio itself, when it takes more) */
		if (ut->fd >= 0 && uwrite)
			ev_io_start(loop, &s->up->wio);
		else if (ut->fd >= 0)
			ev_io_stop(loop, &s->up->wio);
	}
}

static void linger(struct session *s)
{
	s->state = SESSION_LINGER;
	transport_shutdown_write(&s->tr);
	s->in.len = s->parse_off = s->send_off = 0;
	session_set_timer(s, LINGER_SECONDS);
}

static void pump(struct session *s)
{
	for (int round = 0; round < 1000; round++) {
		enum session_state before = s->state;
		int rc = 0;

		s->again = 0;

		switch (s->state) {
		case SESSION_IDLE:
		case SESSION_HEAD:
			rc = exchange_request_step(s);
			break;
		case SESSION_HANDSHAKE:	/* handshake_step drives it */
		case SESSION_CONNECT:
		case SESSION_BACKOFF:	/* the timer drives these */
		case SESSION_QUEUED:
			break;
		case SESSION_EXCHANGE:
			rc = exchange_step(s);
			break;
		case SESSION_TUNNEL:
			rc = exchange_tunnel_step(s);
			break;
		case SESSION_CLOSING:
			if (relay_client_flush(s) == -1) {
				session_close(s);
				return;
			}
			if (s->client_blocked)
				break;
			if (!s->linger) {
				session_close(s);
				return;
			}
			linger(s);
			break;
		case SESSION_LINGER:
		case SESSION_H2:
			break;
		}
		if (rc == -1) {
			session_close(s);
			return;
		}
		if (s->state == before && !s->again)
			break;
	}
	update_watchers(s);
}

/* Carries out forward's verdict v, then pumps; or closes s. */
static void act(struct session *s, enum forward_verdict v)
{
	if (exchange_act(s, v) == -1)
		session_close(s);
	else
		pump(s);
}

/* ---- the TLS handshake ------------------------------------------------------------------ */

static void client_on_read(struct ev_loop *loop, ev_io *w, int revents);

/* Advances the handshake; once done the session waits for a request as a
 * new plain connection does (and reads at once: it often came along). */
static void handshake_step(struct session *s)
{
	int rc = transport_tls_handshake(&s->tr);

	if (rc == 0) {
		update_watchers(s);
		return;
	}
	if (rc == -1) {
		log_debug("tls handshake failed", "client=%s error=\"%s\"", s->client_ip,
			  s->tr.plain_http ? "plain HTTP request" : strerror(errno));
		if (s->tr.plain_http && answer_plain_http(s) == 0)
			pump(s);
		else
			session_close(s);
		return;
	}
	s->state = SESSION_IDLE;
	ev_io_stop(s->px->loop, &s->wio);	/* armed if the handshake waited to write */
	if (h2_ops && transport_tls_alpn_h2(&s->tr)) {
		if (h2_ops->start(s) == -1)
			session_close(s);
		return;
	}
	session_set_timer(s, exchange_idle_close_in(s, s->px->opts->keepalive_timeout));
	apply_timer(s);
	client_on_read(s->px->loop, &s->rio, EV_READ);
}

/* ---- event callbacks ------------------------------------------------------------------ */

/* h2c with prior knowledge (RFC 9113 3.4): 0 when s->in holds the preface
 * or the start of it, -1 when it is something else (HTTP/1.x). */
static int h2c_preface(const struct session *s)
{
	size_t n = s->in.len < H2_PREFACE_LEN ? s->in.len : H2_PREFACE_LEN;

	return memcmp(s->in.data, H2_PREFACE, n) == 0 ? 0 : -1;
}

static void client_on_read(struct ev_loop *loop, ev_io *w, int revents)
{
	struct session *s = w->data;
	ssize_t n;
	(void)revents;

	if (s->state == SESSION_HANDSHAKE) {
		handshake_step(s);
		return;
	}
	if (s->client_blocked && s->tr.write_want == TRANSPORT_WANT_READ) {
		/* A TLS write waited for this: retry it once the read is done. */
		s->tr.write_want = TRANSPORT_WANT_NONE;
		ev_feed_event(loop, &s->wio, EV_WRITE);
	}
	if (s->in.cap - s->in.len < HTTP_READ_CHUNK)
		relay_in_compact(s);
	n = relay_read(s, &s->tr, &s->in);
	if (n == -2) {
		session_close(s);
		return;
	}
	if (n == -1) {
		if (errno == EAGAIN || errno == EINTR) {
			/* nothing came (a speculative read): an idle connection
			 * keeps no read block */
			if (s->in.len == 0)
				buf_cache_give(&s->in);
			if (!ev_is_active(&s->rio) && s->tr.fd >= 0)
				ev_io_start(s->px->loop, &s->rio);
			return;
		}
		n = 0;
	}
	if (n == 0) {
		s->client_eof = 1;
		if (s->state == SESSION_LINGER || s->state == SESSION_IDLE || s->state == SESSION_HEAD ||
		    s->state == SESSION_TUNNEL || s->state == SESSION_QUEUED ||
		    s->state == SESSION_BACKOFF || !s->req_done) {
			if (s->state == SESSION_CONNECT || s->state == SESSION_EXCHANGE ||
			    s->state == SESSION_QUEUED || s->state == SESSION_BACKOFF)
				s->px->metrics.client_aborts++;
			session_close(s);
			return;
		}
		s->keep_alive = 0;	/* answer what was asked, then close */
		update_watchers(s);
		return;
	}
	if (s->state == SESSION_LINGER) {
		s->in.len = 0;
		return;
	}
	s->in.len += (size_t)n;
	if (s->state == SESSION_IDLE && !s->served && h2_ops && !s->via->tls && s->tr.fd >= 0 &&
	    s->px->opts->h2 && h2c_preface(s) != -1) {
		if (s->in.len < H2_PREFACE_LEN) {	/* the rest of it is coming */
			update_watchers(s);
			return;
		}
		if (h2_ops->start(s) == -1)
			session_close(s);
		return;
	}
	if (s->state == SESSION_TUNNEL) {
		s->parse_off = s->in.len;
		session_set_timer(s, s->px->opts->idle_timeout);
	} else if (s->state == SESSION_EXCHANGE && !s->resp_timer) {
		ev_timer_again(loop, &s->timer);	/* an upload is making progress */
	}
	pump(s);
}

static void client_on_write(struct ev_loop *loop, ev_io *w, int revents)
{
	struct session *s = w->data;
	(void)revents;

	if (s->state == SESSION_HANDSHAKE) {
		handshake_step(s);
		return;
	}
	if (s->tr.read_want == TRANSPORT_WANT_WRITE) {
		/* A TLS read waited for this: retry it after the writes. */
		s->tr.read_want = TRANSPORT_WANT_NONE;
		ev_feed_event(loop, &s->rio, EV_READ);
	}
	s->client_blocked = 0;
	pump(s);
}

static void upstream_on_read(struct ev_loop *loop, ev_io *w, int revents)
{
	struct session *s = w->data;
	ssize_t n;
	(void)revents;

	if (s->state == SESSION_CONNECT) {
		/* a TLS handshake with the backend waited to read */
		act(s, forward_connected(s));
		return;
	}
	if (s->up_blocked && s->up->tr.write_want == TRANSPORT_WANT_READ) {
		/* A TLS write waited for this: retry it once the read is done. */
		s->up->tr.write_want = TRANSPORT_WANT_NONE;
		ev_feed_event(loop, &s->up->wio, EV_WRITE);
	}
	if (s->x->uin.cap - s->x->uin.len < HTTP_READ_CHUNK)
		relay_uin_compact(s);
	n = relay_read(s, &s->up->tr, &s->x->uin);
	if (n == -2) {
		session_close(s);
		return;
	}
	if (n == -1) {
		if (errno == EAGAIN || errno == EINTR) {
			if (s->up->tr.read_want == TRANSPORT_WANT_WRITE)
				update_watchers(s);
			return;
		}
		if (s->state == SESSION_TUNNEL) {
			session_close(s);
			return;
		}
		if (errno == ECONNREFUSED && s->up->tr.fd < 0) {
			/* an HTTP/2 stream the backend refused (REFUSED_STREAM, or
			 * above a GOAWAY's last stream id): never processed, so
			 * retried as never sent (RFC 9113 8.7) */
			s->req_sent_any = 0;
			act(s, forward_failed(s, "refused-stream", "stream refused by backend", 502, 0));
			return;
		}
		act(s, forward_failed(s, forward_reason(errno), strerror(errno), 502, 0));
		return;
	}
	if (n == 0) {
		if (s->state == SESSION_TUNNEL) {
			relay_client_flush(s);
			session_close(s);
			return;
		}
		if (s->resp_head_done && s->x->resp.state == HTTP_MSG_BODY &&
		    llhttp_message_needs_eof(&s->x->resp.parser)) {
			/* The body ended with the connection. */
			llhttp_finish(&s->x->resp.parser);
			s->resp_done = 1;
			forward_drop(s);
			pump(s);
			return;
		}
		act(s, forward_failed(s, "closed", "connection closed by backend", 502, 0));
		return;
	}
	s->resp_started = 1;
	s->x->uin.len += (size_t)n;
	if (s->state == SESSION_TUNNEL) {
		s->x->uparse_off = s->x->uin.len;
		session_set_timer(s, s->px->opts->idle_timeout);
	} else if (s->resp_head_done) {
		ev_timer_again(loop, &s->timer);
	}
	pump(s);
}

static void upstream_on_write(struct ev_loop *loop, ev_io *w, int revents)
{
	struct session *s = w->data;
	(void)revents;

	if (s->state == SESSION_CONNECT) {
		if (exchange_act(s, forward_connected(s)) == -1) {
			session_close(s);
			return;
		}
		if (s->state == SESSION_CONNECT) {	/* a TLS handshake goes on */
			pump(s);
			return;
		}
	}
	if (s->up && s->up->tr.read_want == TRANSPORT_WANT_WRITE) {
		/* A TLS read waited for this: retry it after the writes. */
		s->up->tr.read_want = TRANSPORT_WANT_NONE;
		ev_feed_event(loop, &s->up->rio, EV_READ);
	}
	s->up_blocked = 0;
	pump(s);
}

static void session_on_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct session *s = w->data;
	(void)loop;
	(void)revents;

	switch (s->state) {
	case SESSION_HEAD:
		s->x->started = timefmt_mono();
		snprintf(s->x->target, sizeof(s->x->target), "-");
		s->x->request_id_len = headers_request_id_new(s->x->request_id);
		s->keep_alive = 0;
		answer_error(s, 408, "request header timeout");
		pump(s);
		return;
	case SESSION_CONNECT:
		act(s, forward_failed(s, "connect-timeout", "connect timeout", 504, 1));
		return;
	case SESSION_BACKOFF:
		act(s, forward_begin(s));
		return;
	case SESSION_QUEUED:
		act(s, forward_dequeue(s));
		return;
	case SESSION_EXCHANGE:
		if (!s->req_done && !s->resp_head_done) {
			s->keep_alive = 0;
			answer_error(s, 408, "request body timeout");
			pump(s);
			return;
		}
		if (!s->resp_head_done && !s->resp_done) {
			/* The per-try timeout: 504, or another backend with
			 * --retry-on timeout (the outcome hook hears it). */
			act(s, forward_failed(s, "timeout", "response timeout", 504, 0));
			return;
		}
		break;
	default:
		break;
	}
	session_close(s);
}

/* ---- life ------------------------------------------------------------------------------ */

void session_open(struct proxy *px, struct session *s, int fd, const struct sockaddr *peer,
		  const struct proxy_listener *via)
{
	s->px = px;
	transport_plain_init(&s->tr, fd);
	s->state = SESSION_IDLE;
	if (peer)
		net_addr_ip(peer, s->client_ip, sizeof(s->client_ip));
	buf_reset(&s->in);
	buf_reset(&s->out);
	s->parse_off = s->send_off = 0;
	s->up = NULL;
	s->be = NULL;
	s->req_done = s->req_sent_any = s->replayable = 0;
	s->in_flight = s->queued = s->from_queue = 0;
	s->keep_alive = s->client_eof = s->client_blocked = s->up_blocked = 0;
	s->tunnel_wanted = 0;
	s->served = 0;
	s->status = 0;
	s->method = -1;		/* no request head yet */
	s->x = NULL;
	exchange_response_reset(s);
	s->via = via;
	ev_io_init(&s->rio, client_on_read, fd, EV_READ);
	ev_io_init(&s->wio, client_on_write, fd, EV_WRITE);
	ev_init(&s->timer, session_on_timer);
	s->rio.data = s->wio.data = s->timer.data = s;
	forward_set_callbacks(upstream_on_read, upstream_on_write);
	s->h2 = NULL;
	if (fd < 0) {	/* an HTTP/2 stream: session_open_stream goes on */
		session_set_timer(s, px->opts->header_timeout);
		apply_timer(s);
		return;
	}
	if (via->tls) {
		s->state = SESSION_HANDSHAKE;
		session_set_timer(s, px->opts->tls_handshake_timeout);
		apply_timer(s);
		if (transport_tls_accept(&s->tr, px->tls, fd) == -1) {
			log_error("out of memory for a TLS connection", "client=%s", s->client_ip);
			session_close(s);
			return;
		}
		/* Speculative too: the ClientHello came with the connection. */
		handshake_step(s);
		return;
	}
	session_set_timer(s, px->opts->keepalive_timeout);
	apply_timer(s);
	/* Speculative I/O, as HAProxy does: a client usually sends its request
	 * with the connection, so read now; the read watcher (an epoll_ctl) is
	 * armed only if the read would block. The session may close here. */
	client_on_read(px->loop, &s->rio, EV_READ);
}

void session_open_stream(struct proxy *px, struct session *s, const struct transport *tr,
			 const char *client_ip, const struct proxy_listener *via)
{
	size_t n = strnlen(client_ip, sizeof(s->client_ip) - 1);

	session_open(px, s, -1, NULL, via);
	s->tr = *tr;
	memcpy(s->client_ip, client_ip, n);
	s->client_ip[n] = '\0';
	/* the request came with the stream's HEADERS: read it now */
	client_on_read(px->loop, &s->rio, EV_READ);
}

void session_close(struct session *s)
{
	struct ev_loop *loop = s->px->loop;

	if (s->state == SESSION_H2 && h2_ops)
		h2_ops->close(s);
	forward_drop(s);
	forward_release(s);
	forward_finish(s);
	forward_forget(s);
	exchange_pool_give(s);
	buf_cache_give(&s->in);
	ev_io_stop(loop, &s->rio);
	ev_io_stop(loop, &s->wio);
	ev_timer_stop(loop, &s->timer);
	transport_close(&s->tr);
	s->px->session_closed(s->px, s);
}

void session_on_stop(struct session *s)
{
	switch (s->state) {
	case SESSION_IDLE:
		s->timer.repeat = exchange_idle_close_in(s, ev_timer_remaining(s->px->loop, &s->timer));
		ev_timer_again(s->px->loop, &s->timer);
		break;
	case SESSION_HANDSHAKE:
		/* Finishes; its first request is answered with Connection: close. */
		break;
	case SESSION_H2:
		h2_ops->stop(s);
		break;
	default:
		/* The response, when its head is still to come, says close. */
		if (!s->resp_head_done)
			s->keep_alive = 0;
		break;
	}
}
