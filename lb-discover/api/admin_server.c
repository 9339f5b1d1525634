/* admin_server: the admin API's HTTP/1.1 server (see admin_server.h); one
 * request per connection, answered (or parked until its handler answers)
 * and closed. */
#include "admin_server.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "http_response.h"

static void conn_free(struct admin_conn *c)
{
	struct ev_loop *loop = c->s->loop;

	ev_io_stop(loop, &c->io);
	ev_timer_stop(loop, &c->timer);
	ev_timer_stop(loop, &c->poll);
	close(c->fd);
	if (c->state == ADMIN_STREAMING)
		c->s->nstreams--;
	LIST_REMOVE(c, link);
	conn_guard_remove(&c->s->guard, &c->slot);
	buf_release(&c->in);
	buf_release(&c->out);
	buf_release(&c->body);
	free(c);
}

/* Writes what c->out holds, then closes. */
static void start_writing(struct admin_conn *c)
{
	struct ev_loop *loop = c->s->loop;

	c->state = ADMIN_WRITING;
	ev_timer_stop(loop, &c->poll);
	ev_io_stop(loop, &c->io);
	ev_io_set(&c->io, c->fd, EV_WRITE);
	ev_io_start(loop, &c->io);
	ev_timer_stop(loop, &c->timer);
	ev_timer_set(&c->timer, ADMIN_REQUEST_TIMEOUT, 0);
	ev_timer_start(loop, &c->timer);
}

void admin_server_respond(struct admin_conn *c, int status, const char *ctype, const char *body,
			  size_t len, const char *extra)
{
	if (c->s->on_answer)
		c->s->on_answer(c, status, body, len, c->s->data);
	http_response_begin(&c->out, status);
	buf_append_str(&c->out, extra);
	http_response_end(&c->out, ctype, len, 0);
	if (http_msg_method(&c->msg) != HTTP_HEAD)
		buf_append(&c->out, body, len);
	start_writing(c);
}

void admin_server_respond_json(struct admin_conn *c, int status, json_t *doc, const char *extra)
{
	char *text = doc ? json_dumps(doc, JSON_COMPACT) : NULL;

	json_decref(doc);
	if (!text) {
		static const char oom[] = "{\"error\":\"out of memory\"}";

		admin_server_respond(c, 500, "application/json", oom, sizeof(oom) - 1, "");
		return;
	}
	admin_server_respond(c, status, "application/json", text, strlen(text), extra);
	free(text);
}

void admin_server_respond_error(struct admin_conn *c, int status, const char *msg,
				const char *extra)
{
	admin_server_respond_json(c, status, json_pack("{s:s}", "error", msg), extra);
}

void admin_server_park(struct admin_conn *c, double seconds)
{
	struct ev_loop *loop = c->s->loop;

	c->state = ADMIN_WAITING;
	c->slot.pinned = 1;
	ev_timer_stop(loop, &c->timer);
	ev_timer_set(&c->timer, seconds, 0);
	ev_timer_start(loop, &c->timer);
	ev_timer_start(loop, &c->poll);
}

/* The events a stream waits for: reads (to see the client leave), and
 * writes while it has bytes to send. */
static void stream_watch(struct admin_conn *c)
{
	int events = EV_READ | (c->out.len > c->out.pos ? EV_WRITE : 0);

	if ((c->io.events & (EV_READ | EV_WRITE)) == events)
		return;
	ev_io_stop(c->s->loop, &c->io);
	ev_io_set(&c->io, c->fd, events);
	ev_io_start(c->s->loop, &c->io);
}

/* Closes the oldest stream, for a new one past ADMIN_MAX_STREAMS. */
static void stream_replace_oldest(struct admin_server *s)
{
	struct admin_conn *c, *oldest = NULL;

	/* newest first: the last stream found is the oldest */
	LIST_FOREACH(c, &s->conns, link)
		if (c->state == ADMIN_STREAMING)
			oldest = c;
	if (!oldest)
		return;
	if (log_every(&s->stream_log, ev_now(s->loop), ADMIN_EVICT_LOG_INTERVAL))
		log_warn("event streams full: the oldest closed for a new one", "streams=%zu "
			 "max=%d", s->nstreams, ADMIN_MAX_STREAMS);
	conn_free(oldest);
}

void admin_server_stream(struct admin_conn *c, const char *ctype, const char *extra)
{
	struct admin_server *s = c->s;

	http_response_begin(&c->out, 200);
	buf_append_str(&c->out, extra);
	buf_appendf(&c->out, "Content-Type: %s\r\nCache-Control: no-store\r\n"
		    "Connection: close\r\n\r\n", ctype);
	/* RFC 9110 9.3.2: GET's head (no Content-Length: GET's has none) */
	if (http_msg_method(&c->msg) == HTTP_HEAD) {
		start_writing(c);
		return;
	}
	if (s->nstreams >= ADMIN_MAX_STREAMS)
		stream_replace_oldest(s);
	(void)setsockopt(c->fd, SOL_SOCKET, SO_SNDBUF, &(int){ ADMIN_STREAM_SNDBUF }, sizeof(int));
	c->state = ADMIN_STREAMING;
	c->slot.pinned = 1;
	s->nstreams++;
	ev_timer_stop(s->loop, &c->timer);
	ev_timer_stop(s->loop, &c->poll);
	stream_watch(c);
}

int admin_server_send(struct admin_conn *c, const char *data, size_t len)
{
	struct admin_server *s = c->s;

	if (c->out.len - c->out.pos > c->last_sent + ADMIN_STREAM_BACKLOG) {
		s->streams_dropped++;
		if (log_every(&s->stream_log, ev_now(s->loop), ADMIN_EVICT_LOG_INTERVAL))
			log_warn("event stream dropped: the client takes events too slowly",
				 "unsent=%zu max=%d dropped_total=%llu", c->out.len - c->out.pos,
				 ADMIN_STREAM_BACKLOG, s->streams_dropped);
		conn_free(c);
		return -1;
	}
	buf_compact(&c->out);
	c->last_sent = len;
	if (buf_append(&c->out, data, len) == -1) {
		conn_free(c);
		return -1;
	}
	stream_watch(c);
	return 0;
}

void admin_server_broadcast_service(struct admin_server *s, const char *service,
				    const char *data, size_t len)
{
	struct admin_conn *c, *next;

	for (c = LIST_FIRST(&s->conns); c; c = next) {
		next = LIST_NEXT(c, link);
		if (c->state == ADMIN_STREAMING && strcmp(c->service, service) == 0)
			admin_server_send(c, data, len);
	}
}

static void conn_on_poll(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct admin_conn *c = w->data;
	(void)loop;
	(void)revents;

	c->s->on_wait(c, 0, c->s->data);
}

static int on_body(void *ctx, const char *at, size_t len)
{
	struct admin_conn *c = ctx;

	if (c->body.len + len > ADMIN_MAX_BODY)
		return 413;
	return buf_append(&c->body, at, len) == -1 ? 500 : 0;
}

static void on_readable(struct admin_conn *c)
{
	ssize_t n;
	size_t used;
	int head;

	n = buf_read_fd(&c->in, c->fd, 4096);
	if (n <= 0) {
		if (n == -1 && (errno == EAGAIN || errno == EINTR))
			return;
		conn_free(c);		/* the client left (a parked request too) */
		return;
	}
	if (c->state != ADMIN_READING) {
		c->in.len -= (size_t)n;	/* bytes after the request: it closes anyway */
		return;
	}
	if (c->in.len > ADMIN_MAX_REQUEST) {
		admin_server_respond_error(c, 413, "the request is over its limit", "");
		return;
	}
	head = c->msg.state == HTTP_MSG_HEAD;
	do {
		used = http_msg_feed(&c->msg, c->in.data, c->parsed, c->in.len - c->parsed);
		c->parsed += used;
	} while (c->msg.state == HTTP_MSG_BODY && used > 0);
	if (head && (c->msg.state == HTTP_MSG_BODY || c->msg.state == HTTP_MSG_DONE)) {
		/* the head came in time: the body has what is left of the request's */
		double left = ADMIN_REQUEST_TIMEOUT - (ev_now(c->s->loop) - c->accepted);

		ev_timer_stop(c->s->loop, &c->timer);
		ev_timer_set(&c->timer, left > 0 ? left : 0.001, 0);
		ev_timer_start(c->s->loop, &c->timer);
	}
	if (c->msg.state == HTTP_MSG_ERROR) {
		char msg[128];

		snprintf(msg, sizeof(msg), "%s", c->msg.error_reason ? c->msg.error_reason
								 : "bad request");
		if (c->msg.error_status == 413)
			snprintf(msg, sizeof(msg), "the body is over %d bytes", ADMIN_MAX_BODY);
		admin_server_respond_error(c, c->msg.error_status ? c->msg.error_status : 400, msg,
					   "");
	} else if (c->msg.state == HTTP_MSG_DONE) {
		const char *why;
		int status = http_request_route(&c->msg, &c->route, &why);

		/* RFC 9112 3.2: an HTTP/1.1 request without Host (or with two) is 400 */
		if (status)
			admin_server_respond_error(c, status, why, "");
		else
			c->s->on_request(c, c->s->data);
	}
}

/* A stream's client sends nothing more that counts: what comes is dropped,
 * its end closes the stream. Returns -1 when c was freed. */
static int stream_read(struct admin_conn *c)
{
	char junk[512];
	ssize_t n = read(c->fd, junk, sizeof(junk));

	if (n > 0 || (n == -1 && (errno == EAGAIN || errno == EINTR)))
		return 0;
	conn_free(c);
	return -1;
}

static void conn_on_io(struct ev_loop *loop, ev_io *w, int revents)
{
	struct admin_conn *c = w->data;
	int written;
	(void)loop;

	if (c->state == ADMIN_STREAMING) {
		if ((revents & EV_READ) && stream_read(c) == -1)
			return;
		if (!(revents & EV_WRITE))
			return;
		written = buf_write_fd(&c->out, c->fd);
		if (written == -1)
			conn_free(c);
		else
			stream_watch(c);
		return;
	}
	if (revents & EV_READ) {
		on_readable(c);
		return;
	}
	if (buf_write_fd(&c->out, c->fd) == 0)
		return;
	conn_free(c);		/* all written, or the client is gone */
}

static void conn_on_timeout(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct admin_conn *c = w->data;
	(void)loop;
	(void)revents;

	if (c->state == ADMIN_WAITING) {
		c->s->on_wait(c, 1, c->s->data);
	} else if (c->state == ADMIN_READING) {
		char msg[96];

		if (c->msg.state == HTTP_MSG_HEAD)
			snprintf(msg, sizeof(msg), "the request head did not come within %gs",
				 ADMIN_HEAD_TIMEOUT);
		else
			snprintf(msg, sizeof(msg), "the request did not come within %gs",
				 ADMIN_REQUEST_TIMEOUT);
		admin_server_respond_error(c, 408, msg, "");
	} else {
		conn_free(c);
	}
}

static struct admin_conn *conn_of(struct conn_guard_slot *slot)
{
	return (struct admin_conn *)((char *)slot - offsetof(struct admin_conn, slot));
}

/* Makes room for a connection from peer: 1 when it may be taken. */
static int make_room(struct admin_server *s, const struct sockaddr *peer)
{
	struct conn_guard_slot *victim;
	enum conn_guard_verdict v = conn_guard_admit(&s->guard, peer, &victim);
	unsigned long n;

	if (v == CONN_GUARD_ADMIT)
		return 1;
	if (v == CONN_GUARD_EVICT)
		conn_free(conn_of(victim));
	n = log_every(&s->evict_log, ev_now(s->loop), ADMIN_EVICT_LOG_INTERVAL);
	if (n)
		log_warn("admin API full: unfinished connections evicted for new ones",
			 "connections=%zu max=%d per_client=%d evicted_total=%llu "
			 "refused_total=%llu events=%lu", s->guard.n, ADMIN_MAX_CONNECTIONS,
			 ADMIN_MAX_PER_CLIENT, s->guard.evicted, s->guard.refused, n);
	return v == CONN_GUARD_EVICT;
}

static void on_accept(struct listener *l, int fd, const struct sockaddr *peer)
{
	struct admin_server *s = l->data;
	struct admin_conn *c;
	if (!make_room(s, peer) || !(c = calloc(1, sizeof(*c)))) {
		close(fd);
		return;
	}
	c->s = s;
	c->fd = fd;
	c->accepted = ev_now(s->loop);
	http_msg_init(&c->msg, HTTP_REQUEST, ADMIN_MAX_HEAD, on_body, c);
	ev_io_init(&c->io, conn_on_io, fd, EV_READ);
	ev_timer_init(&c->timer, conn_on_timeout, ADMIN_HEAD_TIMEOUT, 0);
	ev_timer_init(&c->poll, conn_on_poll, ADMIN_WAIT_POLL, ADMIN_WAIT_POLL);
	c->io.data = c->timer.data = c->poll.data = c;
	ev_io_start(s->loop, &c->io);
	ev_timer_start(s->loop, &c->timer);
	LIST_INSERT_HEAD(&s->conns, c, link);
	conn_guard_add(&s->guard, &c->slot, peer);
}

int admin_server_init(struct admin_server *s, struct ev_loop *loop, const char *addr,
		      admin_request_cb on_request, admin_wait_cb on_wait, void *data, char *err,
		      size_t errsz)
{
	memset(s, 0, sizeof(*s));
	LIST_INIT(&s->conns);
	conn_guard_init(&s->guard, ADMIN_MAX_CONNECTIONS, ADMIN_MAX_PER_CLIENT);
	if (listener_init(&s->listener, loop, addr, 0, on_accept, s, err, errsz) == -1)
		return -1;
	s->loop = loop;
	s->on_request = on_request;
	s->on_wait = on_wait;
	s->data = data;
	return 0;
}

int admin_server_start(struct admin_server *s)
{
	return listener_start(&s->listener);
}

void admin_server_release(struct admin_server *s)
{
	if (!s->loop)
		return;
	while (!LIST_EMPTY(&s->conns)) {
		struct admin_conn *c = LIST_FIRST(&s->conns);

		/* a parked drain?wait= hears why it ends, not a closed socket:
		 * one write, the socket's buffer takes so small an answer */
		if (c->state == ADMIN_WAITING) {
			admin_server_respond_error(c, 503, "lb-discover is stopping: the wait ended "
						   "before the drain did (lb-ctl in-flight ADDR asks "
						   "again)", "");
			buf_write_fd(&c->out, c->fd);
		}
		conn_free(c);
	}
	listener_release(&s->listener);
	s->loop = NULL;
}
