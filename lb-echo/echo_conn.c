/* echo_conn: one client connection of lb-echo: read, parse, answer in order, write. */
#include <errno.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "echo_routes.h"
#include "echo_server.h"
#include "http_response.h"
#include "log.h"
#include "net.h"
#include "timefmt.h"

#define OUT_HIGH_WATER (256 * 1024)	/* stop reading while this much waits to be sent */
#define LINGER_SECONDS 2.0		/* drain input after a final answer, to avoid a reset */

static void conn_process(struct echo_conn *c);
static void conn_flush(struct echo_conn *c);

static int conn_on_body(void *ctx, const char *at, size_t len)
{
	struct echo_conn *c = ctx;

	if (c->body.len + len > (size_t)c->srv->opts->max_body)
		return 413;
	return buf_append(&c->body, at, len) == -1 ? 500 : 0;
}

/* Bytes queued for the client: `out`, then the pattern body. */
static size_t out_pending(const struct echo_conn *c)
{
	return buf_unread(&c->out) + c->pattern_left;
}

int echo_conn_idle(const struct echo_conn *c)
{
	return c->state == ECHO_CONN_READING && c->in.len == 0 && out_pending(c) == 0 &&
	       c->msg.state == HTTP_MSG_HEAD;
}

static void pause_reading(struct echo_conn *c)
{
	if (!c->read_paused) {
		ev_io_stop(c->srv->loop, &c->rio);
		c->read_paused = 1;
	}
}

static void resume_reading(struct echo_conn *c)
{
	if (c->read_paused) {
		ev_io_start(c->srv->loop, &c->rio);
		c->read_paused = 0;
	}
}

static void arm_timer(struct echo_conn *c, double seconds)
{
	c->timer.repeat = seconds;
	ev_timer_again(c->srv->loop, &c->timer);
}

/* The request's path and X-Request-Id are the client's: quoted (the log
 * escapes them) so a quote in either cannot forge a field. */
static void access_log(struct echo_conn *c)
{
	const char *method = llhttp_method_name(http_msg_method(&c->msg));
	int rid = http_msg_find(&c->msg, "x-request-id");
	size_t rid_len = rid >= 0 ? c->msg.headers[rid].value.len : 0;

	if (!c->srv->opts->access_log)
		return;
	log_info("request", "method=%s path=\"%.*s\" status=%d bytes_in=%zu duration_ms=%.3f "
		 "peer=%s request_id=\"%.*s\"",
		 method, (int)(c->msg.url.len > 512 ? 512 : c->msg.url.len),
		 http_msg_ptr(&c->msg, c->msg.url), c->status, c->body.len,
		 (timefmt_mono() - c->started) * 1000.0, c->peer, (int)(rid_len > 128 ? 128 : rid_len),
		 rid >= 0 ? http_msg_ptr(&c->msg, c->msg.headers[rid].value) : "");
}

/* A final error: answer, then close once written. */
static void conn_fail(struct echo_conn *c, int status, const char *reason)
{
	log_debug("bad request", "status=%d peer=%s reason=%s", status, c->peer, reason);
	echo_routes_error(c, status, reason);
	c->state = ECHO_CONN_CLOSING;
	pause_reading(c);
}

/* Drops the parsed request and makes its pipelined followers the buffer's start. */
static void next_request(struct echo_conn *c)
{
	size_t rest = c->in.len - c->parse_off;

	memmove(c->in.data, c->in.data + c->parse_off, rest);
	c->in.len = rest;
	c->parse_off = 0;
	buf_reset(&c->body);
	c->head_seen = 0;
	http_msg_next(&c->msg, 0);
}

static void answer(struct echo_conn *c)
{
	/* llhttp parses nothing after a request it counts as an upgrade: what
	 * follows belongs to the new protocol. An upgrade answered with anything
	 * but 101 therefore ends the connection, as its framing is lost. */
	int keep_alive = http_msg_keep_alive(&c->msg) && !c->srv->stopping && !c->msg.upgrade;

	echo_routes_answer(c, keep_alive);
	access_log(c);
	if (c->status == 101) {
		c->state = ECHO_CONN_TUNNEL;
		/* Bytes after the head already belong to the tunnel. */
		buf_append(&c->out, c->in.data + c->parse_off, c->in.len - c->parse_off);
		c->in.len = c->parse_off = 0;
		return;
	}
	next_request(c);
	c->state = keep_alive ? ECHO_CONN_READING : ECHO_CONN_CLOSING;
	if (c->state == ECHO_CONN_READING)
		arm_timer(c, c->srv->opts->idle_timeout);
}

/* The head of a request is complete: method, limits and Expect. */
static int on_head(struct echo_conn *c)
{
	const struct http_msg *m = &c->msg;
	int expect = http_msg_find(m, "expect");

	c->head_seen = 1;
	/* An origin server opens no tunnels. The bytes after a CONNECT head are
	 * tunnel data (RFC 9110 9.3.6), whatever Content-Length says, so the
	 * connection closes after the answer. */
	if (http_msg_method(m) == HTTP_CONNECT) {
		conn_fail(c, 501, "CONNECT is not supported by an origin server");
		return -1;
	}
	if ((m->parser.flags & F_CONTENT_LENGTH) &&
	    m->parser.content_length > (unsigned long long)c->srv->opts->max_body) {
		conn_fail(c, 413, "body larger than --max-body");
		return -1;
	}
	if (expect >= 0) {
		struct http_span v = m->headers[expect].value;

		if (v.len != 12 || strncasecmp(http_msg_ptr(m, v), "100-continue", 12) != 0) {
			conn_fail(c, 417, "only Expect: 100-continue is supported");
			return -1;
		}
		if (http_msg_has_body(m) && http_msg_minor(m) >= 1)
			buf_append_str(&c->out, "HTTP/1.1 100 Continue\r\n\r\n");
	}
	return 0;
}

static void conn_process(struct echo_conn *c)
{
	while (c->state == ECHO_CONN_READING) {
		size_t used;

		/* A pattern body goes last: the next answer waits for it. */
		if (buf_unread(&c->out) > OUT_HIGH_WATER || c->pattern_left > 0) {
			pause_reading(c);
			break;
		}
		if (c->msg.state == HTTP_MSG_HEAD && c->parse_off == c->in.len)
			break;
		if (c->parse_off == 0 && c->msg.state == HTTP_MSG_HEAD)
			c->started = timefmt_mono();
		used = http_msg_feed(&c->msg, c->in.data, c->parse_off, c->in.len - c->parse_off);
		c->parse_off += used;
		switch (c->msg.state) {
		case HTTP_MSG_HEAD:
			break;
		case HTTP_MSG_BODY:
			if (!c->head_seen) {
				if (on_head(c) == -1)
					return;
				/* Feed the rest, even nothing: a body-less request
				 * completes on an empty feed. */
				continue;
			}
			if (c->parse_off == c->in.len) {
				/* Body bytes were copied out; keep only the head. */
				c->in.len = c->parse_off = c->msg.head_end;
				return;
			}
			break;
		case HTTP_MSG_DONE:
			if (!c->head_seen && on_head(c) == -1)
				return;
			if (echo_routes_delay(c) > 0) {
				c->state = ECHO_CONN_DELAYING;
				pause_reading(c);
				arm_timer(c, (double)echo_routes_delay(c) / 1000.0);
				return;
			}
			answer(c);
			break;
		case HTTP_MSG_ERROR:
			conn_fail(c, c->msg.error_status, c->msg.error_reason);
			return;
		}
		if (c->msg.state == HTTP_MSG_HEAD && c->parse_off == c->in.len)
			break;
	}
}

static void conn_on_read(struct ev_loop *loop, ev_io *w, int revents)
{
	struct echo_conn *c = w->data;
	ssize_t n;
	(void)loop;
	(void)revents;

	if (buf_reserve(&c->in, HTTP_READ_CHUNK) == -1) {
		echo_conn_close(c);
		return;
	}
	n = read(c->fd, buf_tail(&c->in), buf_room(&c->in));
	if (n == -1) {
		if (errno == EAGAIN || errno == EINTR)
			return;
		echo_conn_close(c);
		return;
	}
	if (n == 0) {
		/* The client is done; answer what is complete, then close. */
		if (c->state == ECHO_CONN_LINGER || out_pending(c) == 0) {
			echo_conn_close(c);
			return;
		}
		c->state = ECHO_CONN_CLOSING;
		pause_reading(c);
		return;
	}
	if (c->state == ECHO_CONN_LINGER) {
		c->in.len = 0;
		return;
	}
	if (c->state == ECHO_CONN_TUNNEL) {
		buf_append(&c->out, c->in.data, (size_t)n);
		c->in.len = 0;
		arm_timer(c, c->srv->opts->idle_timeout);
		conn_flush(c);
		return;
	}
	/* The deadline runs from a request's first byte, not from the last
	 * read: a client that trickles a byte at a time still gets its 408
	 * at --idle-timeout (the connection was idle until then). */
	if (c->in.len == 0 && c->msg.state == HTTP_MSG_HEAD)
		arm_timer(c, c->srv->opts->idle_timeout);
	c->in.len += (size_t)n;
	conn_process(c);
	conn_flush(c);
}

static void conn_linger(struct echo_conn *c)
{
	c->state = ECHO_CONN_LINGER;
	shutdown(c->fd, SHUT_WR);
	c->in.len = c->parse_off = 0;
	resume_reading(c);
	arm_timer(c, LINGER_SECONDS);
}

/* One writev of `out` and up to 1 MiB of the pattern body; returns writev's. */
static ssize_t write_out(struct echo_conn *c)
{
	struct iovec iov[1 + 16];
	int n = 0;
	size_t left = c->pattern_left, off = c->pattern_off;
	ssize_t w;

	if (buf_unread(&c->out) > 0) {
		iov[n].iov_base = buf_head(&c->out);
		iov[n++].iov_len = buf_unread(&c->out);
	}
	while (left > 0 && n < (int)(sizeof(iov) / sizeof(iov[0]))) {
		size_t chunk = ECHO_PATTERN_LEN - off < left ? ECHO_PATTERN_LEN - off : left;

		iov[n].iov_base = (char *)c->srv->pattern + off;
		iov[n++].iov_len = chunk;
		left -= chunk;
		off = 0;
	}
	w = writev(c->fd, iov, n);
	if (w > 0) {
		size_t k = (size_t)w, head = buf_unread(&c->out);

		if (k <= head) {
			buf_consume(&c->out, k);
		} else {
			buf_consume(&c->out, head);
			k -= head;
			c->pattern_left -= k;
			c->pattern_off = (c->pattern_off + k) % ECHO_PATTERN_LEN;
		}
	}
	return w;
}

static void conn_flush(struct echo_conn *c)
{
	while (out_pending(c) > 0) {
		if (write_out(c) == -1) {
			if (errno == EAGAIN || errno == EINTR) {
				ev_io_start(c->srv->loop, &c->wio);
				if (c->state == ECHO_CONN_TUNNEL)
					pause_reading(c);
				return;
			}
			echo_conn_close(c);
			return;
		}
	}
	ev_io_stop(c->srv->loop, &c->wio);
	if (c->state == ECHO_CONN_CLOSING) {
		conn_linger(c);
		return;
	}
	if (c->srv->stopping && echo_conn_idle(c)) {
		echo_conn_close(c);
		return;
	}
	if (c->state == ECHO_CONN_READING || c->state == ECHO_CONN_TUNNEL) {
		resume_reading(c);
		/* Pipelined requests left when output backed up. */
		if (c->state == ECHO_CONN_READING && c->parse_off < c->in.len) {
			conn_process(c);
			if (out_pending(c) > 0)
				conn_flush(c);
		}
	}
}

static void conn_on_write(struct ev_loop *loop, ev_io *w, int revents)
{
	(void)loop;
	(void)revents;
	conn_flush(w->data);
}

static void conn_on_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct echo_conn *c = w->data;
	(void)loop;
	(void)revents;

	switch (c->state) {
	case ECHO_CONN_DELAYING:
		c->state = ECHO_CONN_READING;
		ev_timer_stop(c->srv->loop, &c->timer);
		answer(c);
		resume_reading(c);
		conn_process(c);
		conn_flush(c);
		return;
	case ECHO_CONN_READING:
		if (c->in.len > 0 || c->msg.state != HTTP_MSG_HEAD) {
			conn_fail(c, 408, "request not received in time");
			conn_flush(c);
			return;
		}
		break;
	default:
		break;
	}
	echo_conn_close(c);
}

void echo_conn_on_stop(struct echo_conn *c)
{
	if (echo_conn_idle(c))
		echo_conn_close(c);
	else if (c->state == ECHO_CONN_TUNNEL)
		echo_conn_close(c);
}

void echo_conn_open(struct echo_server *srv, struct echo_conn *c, int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	c->srv = srv;
	c->fd = fd;
	c->state = ECHO_CONN_READING;
	c->parse_off = 0;
	c->head_seen = 0;
	c->read_paused = 0;
	c->status = 0;
	buf_reset(&c->in);
	buf_reset(&c->out);
	c->pattern_left = c->pattern_off = 0;
	buf_reset(&c->body);
	http_msg_init(&c->msg, HTTP_REQUEST, (size_t)srv->opts->max_header_size, conn_on_body, c);
	if (getsockname(fd, (struct sockaddr *)&ss, &len) == 0)
		net_addr_ip((struct sockaddr *)&ss, c->local_ip, sizeof(c->local_ip));
	else
		strcpy(c->local_ip, "0.0.0.0");
	ev_io_init(&c->rio, conn_on_read, fd, EV_READ);
	ev_io_init(&c->wio, conn_on_write, fd, EV_WRITE);
	ev_init(&c->timer, conn_on_timer);
	c->rio.data = c->wio.data = c->timer.data = c;
	ev_io_start(srv->loop, &c->rio);
	arm_timer(c, srv->opts->idle_timeout);
}

void echo_conn_close(struct echo_conn *c)
{
	ev_io_stop(c->srv->loop, &c->rio);
	ev_io_stop(c->srv->loop, &c->wio);
	ev_timer_stop(c->srv->loop, &c->timer);
	close(c->fd);
	c->fd = -1;
	c->srv->conn_closed(c->srv, c);
}
