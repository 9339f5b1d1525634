/* supervisor_admin: the admin port of lb-proxy --workers N (see supervisor_admin.h). */
#include "supervisor_admin.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"
#include "info_merge.h"
#include "metrics_merge.h"

/* The answer while no worker listens (all starting or restarting). */
#define NO_WORKER "no worker listens yet: try again in a moment\n"

/* Bytes buffered one way of a relay before reading that side pauses. */
#define RELAY_BUFFER_MAX 65536

/* Where a connection is. */
enum sa_state {
	SA_HEAD = 0,	/* reading the request head */
	SA_SCRAPE,	/* GET /metrics: the workers' answers are coming */
	SA_ANSWER,	/* writing our answer, then closing */
	SA_RELAY,	/* bytes both ways between the client and a worker's admin */
};

/* What a request sent to every worker makes of their answers. */
enum fetch_kind {
	FETCH_METRICS = 0,	/* GET /metrics: merged (metrics_merge.h) */
	FETCH_INFO,		/* GET /info: merged (info_merge.h) */
	FETCH_WRITE,		/* a write with --backends: the first worker's answer */
};

/* One worker's answer being fetched. */
struct scrape {
	struct supervisor_admin_conn *c;
	int fd;
	ev_io io;
	struct buf b;		/* the answer as it comes */
	unsigned worker;
	pid_t pid;
	size_t off;		/* bytes of the conn's payload sent */
	unsigned connected : 1;
	unsigned done : 1;
};

struct supervisor_admin_conn {
	LIST_ENTRY(supervisor_admin_conn) link;
	struct conn_guard_slot slot;
	struct supervisor_admin *a;
	enum sa_state state;
	int fd;
	ev_io io;
	ev_timer timer;
	struct buf in;		/* from the client: its head, then what goes to the worker */
	struct buf out;		/* to the client: our answer, or the worker's */
	int up;			/* SA_RELAY: the worker's admin connection, -1 when none */
	ev_io up_io;
	unsigned up_connected : 1;
	unsigned client_eof : 1;
	unsigned up_eof : 1;
	struct scrape *scrapes;
	unsigned nscrapes, pending;
	struct buf payload;	/* the request each fetch sends */
	enum fetch_kind kind;
};

static void conn_free(struct supervisor_admin_conn *c)
{
	struct ev_loop *loop = c->a->loop;

	ev_io_stop(loop, &c->io);
	ev_io_stop(loop, &c->up_io);
	ev_timer_stop(loop, &c->timer);
	for (unsigned i = 0; i < c->nscrapes; i++) {
		ev_io_stop(loop, &c->scrapes[i].io);
		if (c->scrapes[i].fd != -1)
			close(c->scrapes[i].fd);
		buf_release(&c->scrapes[i].b);
	}
	free(c->scrapes);
	buf_release(&c->payload);
	if (c->up != -1)
		close(c->up);
	close(c->fd);
	buf_release(&c->in);
	buf_release(&c->out);
	LIST_REMOVE(c, link);
	conn_guard_remove(&c->a->guard, &c->slot);
	free(c);
}

/* (Re)arms w on fd for events (none: stopped). */
static void io_want(struct ev_loop *loop, ev_io *w, int fd, int events)
{
	if (ev_is_active(w) && (w->events & (EV_READ | EV_WRITE)) == events)
		return;
	ev_io_stop(loop, w);
	if (!events)
		return;
	ev_io_set(w, fd, events);
	ev_io_start(loop, w);
}

/* Our own answer: status, a text body, Connection: close. */
static void answer(struct supervisor_admin_conn *c, const char *status, const char *ctype,
		   const char *body, size_t len)
{
	buf_reset(&c->out);
	if (buf_appendf(&c->out, "HTTP/1.1 %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
			"Connection: close\r\n\r\n", status, ctype, len) == -1 ||
	    buf_append(&c->out, body, len) == -1) {
		conn_free(c);
		return;
	}
	c->state = SA_ANSWER;
	io_want(c->a->loop, &c->io, c->fd, EV_WRITE);
}

static void answer_text(struct supervisor_admin_conn *c, const char *status, const char *text)
{
	answer(c, status, "text/plain", text, strlen(text));
}

/* The bodies of the workers that answered 200 into parts; returns how many. */
static size_t answers_collect(const struct supervisor_admin_conn *c, struct metrics_part *parts)
{
	size_t n = 0;

	for (unsigned i = 0; i < c->nscrapes; i++) {
		const struct scrape *s = &c->scrapes[i];
		const char *head_end;

		if (!s->done || s->b.len < 12 || memcmp(s->b.data, "HTTP/1.", 7) != 0 ||
		    memcmp(s->b.data + 8, " 200", 4) != 0)
			continue;
		head_end = memmem(s->b.data, s->b.len, "\r\n\r\n", 4);
		if (!head_end)
			continue;
		parts[n].text = head_end + 4;
		parts[n].len = s->b.len - (size_t)(head_end + 4 - s->b.data);
		parts[n].worker = s->worker;
		parts[n].pid = s->pid;
		n++;
	}
	return n;
}

static void scrape_merge(struct supervisor_admin_conn *c)
{
	struct supervisor_admin *a = c->a;
	struct metrics_part *parts = calloc(c->nscrapes ? c->nscrapes : 1, sizeof(*parts));
	struct buf body = BUF_INIT;
	size_t n = parts ? answers_collect(c, parts) : 0;
	int rc;

	if (c->kind == FETCH_INFO) {
		rc = parts ? info_merge(&body, parts, n) : -1;
		free(parts);
		if (rc == -1)
			answer_text(c, "502 Bad Gateway", "no worker answered\n");
		else
			answer(c, "200 OK", "application/json", body.data, body.len);
		buf_release(&body);
		return;
	}
	if (!parts || metrics_merge(&body, parts, n) == -1) {
		free(parts);
		buf_release(&body);
		answer_text(c, "500 Internal Server Error", "out of memory\n");
		return;
	}
	free(parts);
	if (a->own_metrics)
		a->own_metrics(a->data, &body);
	buf_appendf(&body, "# HELP lb_proxy_workers_scraped Workers whose /metrics this answer "
		    "sums.\n# TYPE lb_proxy_workers_scraped gauge\nlb_proxy_workers_scraped %zu\n", n);
	answer(c, "200 OK", "text/plain; version=0.0.4; charset=utf-8", body.data ? body.data : "",
	       body.len);
	buf_release(&body);
}

/* A write sent to every worker (--backends: each holds the set): the first
 * worker's answer is the client's; a worker that answered otherwise is logged. */
static void broadcast_answer(struct supervisor_admin_conn *c)
{
	const struct scrape *first = NULL;

	for (unsigned i = 0; i < c->nscrapes; i++) {
		const struct scrape *s = &c->scrapes[i];

		if (!s->done || s->b.len < 12)
			continue;
		if (!first)
			first = s;
		else if (memcmp(s->b.data + 9, first->b.data + 9, 3) != 0)
			log_warn("an admin write was answered otherwise by another worker",
				 "worker=%u status=%.3s first_worker=%u first_status=%.3s", s->worker,
				 s->b.data + 9, first->worker, first->b.data + 9);
	}
	if (!first) {
		answer_text(c, "502 Bad Gateway", "no worker answered\n");
		return;
	}
	buf_reset(&c->out);
	if (buf_append(&c->out, first->b.data, first->b.len) == -1) {
		conn_free(c);
		return;
	}
	c->state = SA_ANSWER;
	io_want(c->a->loop, &c->io, c->fd, EV_WRITE);
}

static void scrape_done(struct scrape *s)
{
	struct supervisor_admin_conn *c = s->c;

	ev_io_stop(c->a->loop, &s->io);
	close(s->fd);
	s->fd = -1;
	if (--c->pending)
		return;
	if (c->kind == FETCH_WRITE)
		broadcast_answer(c);
	else
		scrape_merge(c);
}

static void scrape_on_io(struct ev_loop *loop, ev_io *w, int revents)
{
	struct scrape *s = w->data;
	struct buf *req = &s->c->payload;
	ssize_t n;
	(void)revents;

	if (s->off < req->len) {
		int soerr = 0;
		socklen_t len = sizeof(soerr);

		if (!s->connected)
			getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &soerr, &len);
		s->connected = 1;
		n = soerr ? -1 : send(s->fd, req->data + s->off, req->len - s->off, MSG_NOSIGNAL);
		if (n == -1 && !soerr && (errno == EAGAIN || errno == EINTR))
			return;
		if (n == -1) {
			log_warn("a worker's admin could not be reached: its answer is left out",
				 "worker=%u pid=%d error=\"%s\"", s->worker, (int)s->pid,
				 strerror(soerr ? soerr : errno));
			scrape_done(s);
			return;
		}
		s->off += (size_t)n;
		if (s->off == req->len)
			io_want(loop, w, s->fd, EV_READ);
		return;
	}
	n = buf_read_fd(&s->b, s->fd, 65536);
	if (n == -1 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n > 0 && s->b.len <= METRICS_MERGE_BODY_MAX)
		return;
	s->done = n == 0;
	scrape_done(s);
}

/* c->payload to every listening worker's admin, their answers merged
 * (GET /metrics, /info) or the first relayed (a write) when all are in. */
static void scrape_start(struct supervisor_admin_conn *c, enum fetch_kind kind)
{
	struct supervisor_admin *a = c->a;

	c->state = SA_SCRAPE;
	c->kind = kind;
	io_want(a->loop, &c->io, c->fd, 0);
	c->scrapes = calloc(a->ntargets ? a->ntargets : 1, sizeof(*c->scrapes));
	if (!c->scrapes) {
		conn_free(c);
		return;
	}
	for (unsigned i = 0; i < a->ntargets; i++) {
		const struct supervisor_target *t = &a->targets[i];
		struct scrape *s = &c->scrapes[c->nscrapes];
		int fd;

		if (!t->up || !t->pid)
			continue;
		fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (fd == -1)
			continue;
		if (connect(fd, (const struct sockaddr *)&t->addr, sizeof(t->addr)) == -1 &&
		    errno != EINPROGRESS) {
			close(fd);
			continue;
		}
		s->c = c;
		s->fd = fd;
		s->worker = i;
		s->pid = t->pid;
		ev_io_init(&s->io, scrape_on_io, fd, EV_WRITE);
		s->io.data = s;
		ev_io_start(a->loop, &s->io);
		c->nscrapes++;
	}
	c->pending = c->nscrapes;
	if (c->nscrapes == 0)
		answer_text(c, "503 Service Unavailable", NO_WORKER);
}

/* Arms both sides of a relay from what each buffer holds. */
static void relay_arm(struct supervisor_admin_conn *c)
{
	struct ev_loop *loop = c->a->loop;
	int client = 0, up = 0;

	if (!c->client_eof && buf_unread(&c->in) < RELAY_BUFFER_MAX)
		client |= EV_READ;
	if (buf_unread(&c->out))
		client |= EV_WRITE;
	if (!c->up_connected)
		up = EV_WRITE;
	else {
		if (!c->up_eof && buf_unread(&c->out) < RELAY_BUFFER_MAX)
			up |= EV_READ;
		if (buf_unread(&c->in))
			up |= EV_WRITE;
	}
	io_want(loop, &c->io, c->fd, client);
	io_want(loop, &c->up_io, c->up, up);
}

/* After any progress: a side done and its bytes delivered ends the relay. */
static void relay_settle(struct supervisor_admin_conn *c)
{
	if (c->up_eof && !buf_unread(&c->out)) {
		conn_free(c);
		return;
	}
	if (c->client_eof && !buf_unread(&c->in) && c->up_connected)
		shutdown(c->up, SHUT_WR);
	ev_timer_again(c->a->loop, &c->timer);
	relay_arm(c);
}

static void relay_on_up(struct ev_loop *loop, ev_io *w, int revents)
{
	struct supervisor_admin_conn *c = w->data;

	if (!c->up_connected) {
		int soerr = 0;
		socklen_t len = sizeof(soerr);

		getsockopt(c->up, SOL_SOCKET, SO_ERROR, &soerr, &len);
		if (soerr) {
			log_warn("the admin request could not reach a worker", "error=\"%s\"",
				 strerror(soerr));
			ev_io_stop(loop, &c->up_io);
			close(c->up);
			c->up = -1;
			answer_text(c, "502 Bad Gateway", "the worker did not answer\n");
			return;
		}
		c->up_connected = 1;
	}
	if ((revents & EV_WRITE) && buf_unread(&c->in) && buf_write_fd(&c->in, c->up) == -1) {
		conn_free(c);
		return;
	}
	if (revents & EV_READ) {
		ssize_t n = buf_read_fd(&c->out, c->up, 16384);

		if (n == 0)
			c->up_eof = 1;
		else if (n == -1 && errno != EAGAIN && errno != EINTR) {
			conn_free(c);
			return;
		}
	}
	relay_settle(c);
}

static void relay_start(struct supervisor_admin_conn *c)
{
	struct supervisor_admin *a = c->a;
	const struct supervisor_target *t = NULL;

	for (unsigned i = 0; i < a->ntargets && !t; i++)
		if (a->targets[i].up && a->targets[i].pid)
			t = &a->targets[i];
	if (!t) {
		answer_text(c, "503 Service Unavailable", NO_WORKER);
		return;
	}
	c->up = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->up == -1 || (connect(c->up, (const struct sockaddr *)&t->addr, sizeof(t->addr)) == -1 &&
			    errno != EINPROGRESS)) {
		answer_text(c, "502 Bad Gateway", "the worker did not answer\n");
		return;
	}
	c->state = SA_RELAY;
	ev_io_init(&c->up_io, relay_on_up, c->up, EV_WRITE);
	c->up_io.data = c;
	c->timer.repeat = SUPERVISOR_ADMIN_RELAY_IDLE;
	relay_settle(c);
}

/* The value of header `name` (lower-case) in the head [p, p + n), or NULL; *len its length. */
static const char *head_value(const char *p, size_t n, const char *name, size_t *len)
{
	size_t nl = strlen(name);
	const char *end = p + n, *line = memchr(p, '\n', n);

	while (line && ++line < end) {
		const char *eol = memchr(line, '\n', (size_t)(end - line));

		if (!eol)
			break;
		if ((size_t)(eol - line) > nl && line[nl] == ':' && strncasecmp(line, name, nl) == 0) {
			const char *v = line + nl + 1;

			while (v < eol && (*v == ' ' || *v == '\t'))
				v++;
			*len = (size_t)(eol - v);
			while (*len && (v[*len - 1] == '\r' || v[*len - 1] == ' '))
				(*len)--;
			return v;
		}
		line = eol;
	}
	return NULL;
}

/*
 * A write with --backends: every worker holds the set, so each gets it
 * (RFC 9112 section 6.3: the body framed by Content-Length; chunked is
 * refused, 411). Returns 1 when the payload is ready, 0 when more of the
 * body is to come, -1 when answered already.
 */
static int broadcast_payload(struct supervisor_admin_conn *c)
{
	static const char close_field[] = "Connection: close\r\n";
	const char *p = buf_head(&c->in), *cl;
	size_t n = buf_unread(&c->in), head = (size_t)((const char *)memmem(p, n, "\r\n\r\n", 4) - p) + 4;
	size_t line = (size_t)((const char *)memchr(p, '\n', n) - p) + 1, vlen = 0, body = 0;
	char num[24];

	if (head_value(p, head, "transfer-encoding", &vlen)) {
		answer_text(c, "411 Length Required", "an admin write needs a Content-Length body\n");
		return -1;
	}
	cl = head_value(p, head, "content-length", &vlen);
	if (cl) {
		char *end;

		if (vlen == 0 || vlen >= sizeof(num)) {
			answer_text(c, "400 Bad Request", "bad Content-Length\n");
			return -1;
		}
		memcpy(num, cl, vlen);
		num[vlen] = '\0';
		body = strtoul(num, &end, 10);
		if (*end || num[0] == '-') {
			answer_text(c, "400 Bad Request", "bad Content-Length\n");
			return -1;
		}
		if (body > SUPERVISOR_ADMIN_BODY_MAX) {
			answer_text(c, "413 Content Too Large", "admin request body too large\n");
			return -1;
		}
	}
	if (n < head + body)
		return 0;
	/* Connection: close after the request line: each worker answers, then closes */
	if (buf_append(&c->payload, p, line) == -1 ||
	    buf_append(&c->payload, close_field, sizeof(close_field) - 1) == -1 ||
	    buf_append(&c->payload, p + line, head + body - line) == -1) {
		conn_free(c);
		return -1;
	}
	return 1;
}

/* GET path (exactly, or with a query) at the start of p[0..n). */
static int is_get(const char *p, size_t n, const char *path)
{
	size_t m = strlen(path);

	return n > m + 4 && memcmp(p, "GET ", 4) == 0 && memcmp(p + 4, path, m) == 0 &&
	       (p[4 + m] == ' ' || p[4 + m] == '?');
}

/* A whole head is in: /metrics and /info are ours (merged), a write with
 * --backends every worker's, the rest the first worker's. */
static void route(struct supervisor_admin_conn *c)
{
	static const char fetch[] = "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
	const char *p = buf_head(&c->in);
	size_t n = buf_unread(&c->in);
	int metrics = is_get(p, n, "/metrics"), info = is_get(p, n, "/info");

	if (metrics || info) {
		if (buf_appendf(&c->payload, fetch, metrics ? "/metrics" : "/info") == -1)
			conn_free(c);
		else
			scrape_start(c, metrics ? FETCH_METRICS : FETCH_INFO);
		return;
	}
	if (!c->a->broadcast_writes || (n > 4 && (memcmp(p, "GET ", 4) == 0 ||
						  memcmp(p, "HEAD ", 5) == 0))) {
		relay_start(c);
		return;
	}
	if (broadcast_payload(c) == 1)
		scrape_start(c, FETCH_WRITE);
}

static void conn_on_io(struct ev_loop *loop, ev_io *w, int revents)
{
	struct supervisor_admin_conn *c = w->data;
	(void)loop;

	if (c->state == SA_ANSWER) {
		int rc = buf_write_fd(&c->out, c->fd);

		if (rc != 0)
			conn_free(c);
		return;
	}
	if (c->state == SA_RELAY) {
		if ((revents & EV_WRITE) && buf_write_fd(&c->out, c->fd) == -1) {
			conn_free(c);
			return;
		}
		if (revents & EV_READ) {
			ssize_t n = buf_read_fd(&c->in, c->fd, 16384);

			if (n == 0)
				c->client_eof = 1;
			else if (n == -1 && errno != EAGAIN && errno != EINTR) {
				conn_free(c);
				return;
			}
		}
		relay_settle(c);
		return;
	}
	/* SA_HEAD */
	{
		ssize_t n = buf_read_fd(&c->in, c->fd, 4096);

		if (n == -1 && (errno == EAGAIN || errno == EINTR))
			return;
		if (n <= 0) {
			conn_free(c);
			return;
		}
		if (memmem(buf_head(&c->in), buf_unread(&c->in), "\r\n\r\n", 4))
			route(c);	/* may wait for more of a write's body */
		else if (buf_unread(&c->in) > SUPERVISOR_ADMIN_HEAD_MAX)
			answer_text(c, "431 Request Header Fields Too Large", "request head too large\n");
	}
}

static void conn_on_timeout(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop;
	(void)revents;
	conn_free(w->data);
}

/* Room for a connection from peer: 1, or 0 (the new one is to be closed). */
static int make_room(struct supervisor_admin *a, const struct sockaddr *peer)
{
	struct conn_guard_slot *victim;
	enum conn_guard_verdict v = conn_guard_admit(&a->guard, peer, &victim);
	unsigned long n;

	if (v == CONN_GUARD_ADMIT)
		return 1;
	if (v == CONN_GUARD_EVICT)
		conn_free((struct supervisor_admin_conn *)((char *)victim -
			  offsetof(struct supervisor_admin_conn, slot)));
	n = log_every(&a->evict_log, ev_now(a->loop), 10.0);
	if (n)
		log_warn("admin listener full: the oldest connections evicted for new ones",
			 "connections=%zu max=%d per_client=%d evicted_total=%llu events=%lu",
			 a->guard.n, SUPERVISOR_ADMIN_MAX_CONNECTIONS, SUPERVISOR_ADMIN_MAX_PER_CLIENT,
			 a->guard.evicted, n);
	return v == CONN_GUARD_EVICT;
}

static void on_accept(struct listener *l, int fd, const struct sockaddr *peer)
{
	struct supervisor_admin *a = l->data;
	struct supervisor_admin_conn *c;

	if (!make_room(a, peer) || !(c = calloc(1, sizeof(*c)))) {
		close(fd);
		return;
	}
	c->a = a;
	c->fd = fd;
	c->up = -1;
	LIST_INSERT_HEAD(&a->conns, c, link);
	conn_guard_add(&a->guard, &c->slot, peer);
	ev_io_init(&c->io, conn_on_io, fd, EV_READ);
	c->io.data = c;
	ev_io_start(a->loop, &c->io);
	ev_init(&c->up_io, relay_on_up);
	c->up_io.data = c;
	ev_timer_init(&c->timer, conn_on_timeout, 0., SUPERVISOR_ADMIN_TIMEOUT);
	c->timer.data = c;
	ev_timer_again(a->loop, &c->timer);
}

int supervisor_admin_init(struct supervisor_admin *a, struct ev_loop *loop, int fd,
			  const struct supervisor_target *targets, unsigned n,
			  void (*own_metrics)(void *data, struct buf *out), void *data, char *err,
			  size_t errsz)
{
	a->loop = loop;
	a->targets = targets;
	a->ntargets = n;
	a->own_metrics = own_metrics;
	a->data = data;
	conn_guard_init(&a->guard, SUPERVISOR_ADMIN_MAX_CONNECTIONS, SUPERVISOR_ADMIN_MAX_PER_CLIENT);
	memset(&a->evict_log, 0, sizeof(a->evict_log));
	LIST_INIT(&a->conns);
	return listener_adopt(&a->listener, loop, fd, on_accept, a, err, errsz);
}

int supervisor_admin_start(struct supervisor_admin *a)
{
	return listener_start(&a->listener);
}

void supervisor_admin_close(struct supervisor_admin *a)
{
	listener_release(&a->listener);
}

void supervisor_admin_release(struct supervisor_admin *a)
{
	listener_release(&a->listener);
	while (!LIST_EMPTY(&a->conns))
		conn_free(LIST_FIRST(&a->conns));
}
