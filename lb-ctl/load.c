/* load: `lb-ctl load URL`, an HTTP/1.1 keep-alive load generator (see load.h).
 * Each connection is a small state machine on one libev loop; dispatch()
 * hands requests to the free ones: all at once in a closed loop, or each at
 * its due time t0 + i/R in an open loop (--rate R). */
#include "load.h"

#include <errno.h>
#include <ev.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "buf.h"
#include "ctl_exit.h"
#include "http_parser.h"
#include "load_options.h"
#include "load_stats.h"
#include "net.h"
#include "timefmt.h"

#define LOAD_READ_CHUNK (16 * 1024)
#define LOAD_RECONNECT_PAUSE 0.1	/* seconds a connection waits after a failed connect */
/* libev's timers fire up to a millisecond late (epoll waits whole ms): the
 * pacer is armed this much early, and a request sent before its due time
 * counts its latency from the send, so neither lateness nor earliness of
 * the pacer shows in the latencies. */
#define LOAD_PACER_SLACK 0.0015

enum load_conn_state {
	LOAD_CONN_CLOSED = 0,	/* no socket: connects when it is given a request */
	LOAD_CONN_PAUSED,	/* its connect failed: waits LOAD_RECONNECT_PAUSE, then CLOSED */
	LOAD_CONN_CONNECTING,	/* non-blocking connect in progress, a request to send */
	LOAD_CONN_EXCHANGE,	/* request being written or written, its response being read */
	LOAD_CONN_IDLE,		/* connected, no request (reads only to see the server close) */
};

struct load;

struct load_conn {
	struct load *l;
	enum load_conn_state state;
	int fd;				/* -1 when CLOSED or PAUSED */
	ev_io io;
	unsigned io_events;		/* what io watches, 0 when stopped */
	ev_timer timer;			/* the request's timeout, or the pause after a failed connect */
	unsigned on_free_list : 1;	/* may be given a request (CLOSED or IDLE) */
	size_t sent;			/* bytes of l->request written */
	double start;			/* what the latency counts from (send, or due time) */
	struct buf in;			/* response bytes, [0, parsed) fed to msg; emptied when a
					 * response ends and as body bytes are framed (the
					 * storage stays for the next) */
	size_t parsed;
	int status;			/* of the response being read */
	int has_served_by;
	size_t served_by_len;
	char served_by[LOAD_BACKEND_NAME_MAX];
	struct http_msg msg;
};

struct load {
	struct ev_loop *loop;
	const struct load_options *o;
	struct net_addr addr;
	struct buf request;		/* what every connection sends, built once */
	int head_method;		/* HEAD: responses have no body */
	struct load_conn *conns;
	struct load_conn **free_list;	/* connections with no request, a stack */
	unsigned nfree;
	ev_prepare dispatcher;		/* dispatch() before the loop waits */
	ev_timer pacer;			/* wakes the loop for the next due request */
	ev_timer deadline;		/* -d */
	ev_signal sigint, sigterm;
	double t0, t_end;		/* the run's start and end (monotonic seconds) */
	unsigned long long issued;	/* requests given to a connection */
	unsigned long long ended;	/* of those, answered or failed */
	int stopped;
	char first_error[LOAD_ERR_KINDS][200];	/* what the first error of each kind was */
	struct load_stats stats;
};

/* --- connections ------------------------------------------------------------- */

static void load_stop(struct load *l)
{
	if (l->stopped)
		return;
	l->stopped = 1;
	l->t_end = timefmt_mono();
	ev_break(l->loop, EVBREAK_ALL);
}

static void note_error(struct load *l, enum load_error kind, const char *what, int err)
{
	load_stats_error(&l->stats, kind);
	if (!l->first_error[kind][0])
		snprintf(l->first_error[kind], sizeof(l->first_error[kind]), "%s%s%s", what,
			 err ? ": " : "", err ? strerror(err) : "");
}

static void conn_watch(struct load_conn *c, unsigned events)
{
	if (events == c->io_events)
		return;
	if (c->io_events)
		ev_io_stop(c->l->loop, &c->io);
	c->io_events = events;
	if (events) {
		ev_io_set(&c->io, c->fd, (int)events);
		ev_io_start(c->l->loop, &c->io);
	}
}

static void conn_close(struct load_conn *c)
{
	conn_watch(c, 0);
	if (c->fd != -1)
		close(c->fd);
	c->fd = -1;
	buf_reset(&c->in);
	c->parsed = 0;
	c->state = LOAD_CONN_CLOSED;
}

static void free_push(struct load_conn *c)
{
	if (c->on_free_list)
		return;
	c->l->free_list[c->l->nfree++] = c;
	c->on_free_list = 1;
}

static void request_ended(struct load *l)
{
	l->ended++;
	if (l->o->count && l->ended >= l->o->count)
		load_stop(l);
}

/* c's request failed: the connection closes (and after a failed connect
 * pauses before its next). */
static void conn_failed(struct load_conn *c, enum load_error kind, const char *what, int err)
{
	struct load *l = c->l;

	note_error(l, kind, what, err);
	conn_close(c);
	if (kind == LOAD_ERR_CONNECT) {
		c->state = LOAD_CONN_PAUSED;
		c->timer.repeat = LOAD_RECONNECT_PAUSE;
		ev_timer_again(l->loop, &c->timer);
	} else {
		ev_timer_stop(l->loop, &c->timer);
		free_push(c);
	}
	request_ended(l);
}

static void conn_answered(struct load_conn *c, int keep_alive)
{
	struct load *l = c->l;

	ev_timer_stop(l->loop, &c->timer);
	load_stats_response(&l->stats, c->status, c->has_served_by ? c->served_by : NULL,
			    c->served_by_len, timefmt_mono() - c->start);
	if (keep_alive) {
		c->state = LOAD_CONN_IDLE;
		buf_reset(&c->in);
		c->parsed = 0;
		conn_watch(c, EV_READ);
	} else {
		conn_close(c);
	}
	free_push(c);
	request_ended(l);
}

/* Writes what is left of the request. */
static void conn_send(struct load_conn *c)
{
	const struct buf *r = &c->l->request;

	while (c->sent < r->len) {
		ssize_t n = send(c->fd, r->data + c->sent, r->len - c->sent, MSG_NOSIGNAL);

		if (n > 0) {
			c->sent += (size_t)n;
		} else if (errno == EAGAIN) {
			conn_watch(c, EV_READ | EV_WRITE);
			return;
		} else if (errno != EINTR) {
			conn_failed(c, LOAD_ERR_CLOSED, "sending the request", errno);
			return;
		}
	}
	conn_watch(c, EV_READ);
}

static void conn_connect(struct load_conn *c)
{
	struct load *l = c->l;

	c->fd = socket(l->addr.ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->fd == -1) {
		conn_failed(c, LOAD_ERR_CONNECT, "socket", errno);
		return;
	}
	net_set_nodelay(c->fd);
	if (connect(c->fd, (struct sockaddr *)&l->addr.ss, l->addr.len) == 0) {
		c->state = LOAD_CONN_EXCHANGE;
		conn_send(c);
	} else if (errno == EINPROGRESS) {
		c->state = LOAD_CONN_CONNECTING;
		conn_watch(c, EV_WRITE);
	} else {
		conn_failed(c, LOAD_ERR_CONNECT, "connect", errno);
	}
}

/* Gives c (CLOSED or IDLE) a request whose latency counts from `start`. */
static void conn_give(struct load_conn *c, double start)
{
	struct load *l = c->l;

	l->issued++;
	c->start = start;
	c->sent = 0;
	c->status = 0;
	c->has_served_by = 0;
	http_msg_init(&c->msg, HTTP_RESPONSE, HTTP_DEFAULT_MAX_HEADER_SIZE, NULL, NULL);
	c->msg.skip_body = l->head_method;
	c->timer.repeat = l->o->timeout;
	ev_timer_again(l->loop, &c->timer);
	if (c->state == LOAD_CONN_IDLE) {
		c->state = LOAD_CONN_EXCHANGE;
		conn_send(c);
	} else {
		conn_connect(c);
	}
}

/* A response head arrived: keep what the report needs, as the head's bytes go. */
static void conn_head(struct load_conn *c)
{
	int i = http_msg_find(&c->msg, "X-Served-By");

	c->status = http_msg_status(&c->msg);
	c->has_served_by = i >= 0;
	if (i >= 0) {
		struct http_span v = c->msg.headers[i].value;

		c->served_by_len = v.len < sizeof(c->served_by) ? v.len : sizeof(c->served_by) - 1;
		memcpy(c->served_by, http_msg_ptr(&c->msg, v), c->served_by_len);
	}
}

/* Feeds what arrived to the parser, up to the end of the response. */
static void conn_parse(struct load_conn *c)
{
	for (;;) {
		enum http_msg_state before = c->msg.state;
		size_t avail = c->in.len - c->parsed, used;

		if (avail == 0 && before == HTTP_MSG_HEAD)
			return;
		used = http_msg_feed(&c->msg, c->in.data, c->parsed, avail);
		c->parsed += used;
		if (c->msg.state == HTTP_MSG_ERROR) {
			conn_failed(c, LOAD_ERR_MALFORMED, c->msg.error_reason, 0);
			return;
		}
		if (before == HTTP_MSG_HEAD && c->msg.state != HTTP_MSG_HEAD)
			conn_head(c);
		/* body bytes are only framed: none are kept */
		if (c->msg.state == HTTP_MSG_BODY && c->parsed == c->in.len) {
			buf_reset(&c->in);
			c->parsed = 0;
		}
		if (c->msg.state == HTTP_MSG_DONE) {
			if (c->msg.upgrade || c->status == 101) {
				conn_failed(c, LOAD_ERR_MALFORMED, "a protocol switch (101)", 0);
				return;
			}
			if (c->status < 200) {	/* interim (100, 103): the final one follows */
				http_msg_next(&c->msg, c->parsed);
				continue;
			}
			/* bytes after the response were asked for by no one: a new connection */
			conn_answered(c, http_msg_keep_alive(&c->msg) && c->parsed == c->in.len);
			return;
		}
		if (used == 0)
			return;
	}
}

static void conn_read(struct load_conn *c)
{
	ssize_t n = buf_read_fd(&c->in, c->fd, LOAD_READ_CHUNK);
	int err = errno;

	if (n == -1 && (err == EAGAIN || err == EINTR))
		return;
	if (c->state == LOAD_CONN_IDLE) {
		/* the server closed a keep-alive connection between requests: no
		 * request lost; bytes now answer nothing that was asked */
		if (n > 0)
			note_error(c->l, LOAD_ERR_MALFORMED, "bytes on an idle connection", 0);
		conn_close(c);
		return;
	}
	if (n > 0) {
		conn_parse(c);
	} else if (n == 0 && c->msg.state == HTTP_MSG_BODY &&
		   llhttp_message_needs_eof(&c->msg.parser)) {
		conn_answered(c, 0);	/* a body that ends at close */
	} else {
		conn_failed(c, LOAD_ERR_CLOSED, n == 0 ? "closed before the response's end" : "read",
			    n == 0 ? 0 : err);
	}
}

static void conn_on_io(struct ev_loop *loop, ev_io *w, int revents)
{
	struct load_conn *c = w->data;

	if (c->state == LOAD_CONN_CONNECTING) {
		int err = 0;
		socklen_t len = sizeof(err);

		if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) == -1)
			err = errno;
		if (err) {
			conn_failed(c, LOAD_ERR_CONNECT, "connect", err);
			return;
		}
		c->state = LOAD_CONN_EXCHANGE;
		conn_send(c);
		return;
	}
	if ((revents & EV_WRITE) && c->state == LOAD_CONN_EXCHANGE)
		conn_send(c);
	if ((revents & EV_READ) && (c->state == LOAD_CONN_EXCHANGE || c->state == LOAD_CONN_IDLE))
		conn_read(c);
}

static void conn_on_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct load_conn *c = w->data;

	ev_timer_stop(loop, w);
	if (c->state == LOAD_CONN_PAUSED) {
		c->state = LOAD_CONN_CLOSED;
		free_push(c);
	} else if (c->state == LOAD_CONN_CONNECTING) {
		conn_failed(c, LOAD_ERR_CONNECT, "connect", ETIMEDOUT);
	} else if (c->state == LOAD_CONN_EXCHANGE) {
		conn_failed(c, LOAD_ERR_TIMEOUT, "no complete response within --timeout", 0);
	}
}

/* --- the run ----------------------------------------------------------------- */

/*
 * Hands requests to free connections: in a closed loop every free one gets
 * one now; in an open loop those due by now go, and the pacer wakes the loop
 * for the next. A request that is due while no connection is free waits
 * for one, and its latency counts the wait.
 */
static void dispatch(struct load *l)
{
	double now = timefmt_mono();
	unsigned budget = l->nfree;	/* a connection that failed at once waits a round */

	while (l->nfree && budget && !l->stopped) {
		double due = l->o->rate > 0 ? l->t0 + (double)l->issued / l->o->rate : now;
		struct load_conn *c;

		if ((l->o->count && l->issued >= l->o->count) ||
		    (l->o->duration > 0 && due >= l->t0 + l->o->duration))
			return;
		if (due > now + LOAD_PACER_SLACK) {
			ev_timer_stop(l->loop, &l->pacer);
			ev_timer_set(&l->pacer, due - now - LOAD_PACER_SLACK, 0);
			ev_timer_start(l->loop, &l->pacer);
			return;
		}
		c = l->free_list[--l->nfree];
		c->on_free_list = 0;
		budget--;
		conn_give(c, due < now ? due : now);
	}
	if (l->nfree && !l->stopped && !ev_is_active(&l->pacer)) {
		ev_timer_set(&l->pacer, 0, 0);
		ev_timer_start(l->loop, &l->pacer);
	}
}

static void on_prepare(struct ev_loop *loop, ev_prepare *w, int revents)
{
	dispatch(w->data);
}

/* The pacer only wakes the loop: dispatch() runs before it waits again. */
static void on_pacer(struct ev_loop *loop, ev_timer *w, int revents)
{
}

static void on_deadline(struct ev_loop *loop, ev_timer *w, int revents)
{
	load_stop(w->data);
}

static void on_signal(struct ev_loop *loop, ev_signal *w, int revents)
{
	load_stop(w->data);
}

/* Room for a descriptor per connection, if the hard limit allows it. */
static void raise_fd_limit(unsigned connections)
{
	struct rlimit rl;
	rlim_t want = (rlim_t)connections + 64;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < want) {
		rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max > want ? want : rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

/* Sets up l's connections and watchers; returns 0 or -1 (out of memory). */
static int load_init(struct load *l, const struct load_options *o)
{
	l->o = o;
	l->loop = ev_default_loop(EVFLAG_AUTO);
	l->conns = calloc(o->connections, sizeof(*l->conns));
	l->free_list = calloc(o->connections, sizeof(*l->free_list));
	load_stats_init(&l->stats);
	if (!l->loop || !l->conns || !l->free_list)
		return -1;
	l->head_method = strcmp(o->method, "HEAD") == 0;
	for (unsigned i = o->connections; i-- > 0;) {
		struct load_conn *c = &l->conns[i];

		c->l = l;
		c->fd = -1;
		ev_init(&c->io, conn_on_io);
		c->io.data = c;
		ev_init(&c->timer, conn_on_timer);
		c->timer.data = c;
		free_push(c);
	}
	ev_prepare_init(&l->dispatcher, on_prepare);
	ev_init(&l->pacer, on_pacer);
	ev_timer_init(&l->deadline, on_deadline, o->duration, 0);
	ev_signal_init(&l->sigint, on_signal, SIGINT);
	ev_signal_init(&l->sigterm, on_signal, SIGTERM);
	l->dispatcher.data = l->deadline.data = l->sigint.data = l->sigterm.data = l;
	return 0;
}

static void load_run(struct load *l)
{
	ev_prepare_start(l->loop, &l->dispatcher);
	ev_signal_start(l->loop, &l->sigint);
	ev_signal_start(l->loop, &l->sigterm);
	ev_now_update(l->loop);
	if (l->o->duration > 0)
		ev_timer_start(l->loop, &l->deadline);
	l->t0 = timefmt_mono();
	ev_run(l->loop, 0);
	if (!l->stopped)
		l->t_end = timefmt_mono();
}

/* Open loop: the requests due before the end (and before -d, within -n)
 * that were never given to a connection. */
static unsigned long long load_unsent(const struct load *l)
{
	double until = l->t_end - l->t0;
	unsigned long long due;

	if (!(l->o->rate > 0))
		return 0;
	if (l->o->duration > 0 && until > l->o->duration)
		until = l->o->duration;
	due = (unsigned long long)ceil(until * l->o->rate);
	if (l->o->count && due > l->o->count)
		due = l->o->count;
	return due > l->issued ? due - l->issued : 0;
}

static void load_release(struct load *l)
{
	for (unsigned i = 0; l->conns && i < l->o->connections; i++) {
		if (l->conns[i].fd != -1)
			close(l->conns[i].fd);
		buf_release(&l->conns[i].in);
	}
	if (l->loop)
		ev_loop_destroy(l->loop);
	free(l->conns);
	free(l->free_list);
	buf_release(&l->request);
}

int load_main(int argc, char **argv, int json, double timeout)
{
	struct load_options o = { .connections = LOAD_DEFAULT_CONNECTIONS, .timeout = timeout,
				  .method = "GET", .json = json };
	struct load_run run;
	struct load *l;
	char err[600];
	int rc = load_options_parse(&o, argc, argv, err, sizeof(err));

	if (rc == 1) {
		load_options_usage(stdout);
		return CTL_OK;
	}
	if (rc == -1) {
		fprintf(stderr, "lb-ctl: load: %s (see lb-ctl load --help)\n", err);
		return CTL_USAGE;
	}
	l = calloc(1, sizeof(*l));
	if (!l) {
		fprintf(stderr, "lb-ctl: load: out of memory\n");
		return CTL_FAILED;
	}
	rc = CTL_FAILED;
	if (net_parse_addr(o.address, &l->addr, err, sizeof(err)) == -1) {
		fprintf(stderr, "lb-ctl: load: %s\n", err);
		goto out;
	}
	if (load_options_request(&o, &l->request) == -1 || load_init(l, &o) == -1) {
		fprintf(stderr, "lb-ctl: load: out of memory\n");
		goto out;
	}
	raise_fd_limit(o.connections);
	load_run(l);
	run = (struct load_run){ o.url, o.connections, l->t_end - l->t0, o.rate, load_unsent(l) };
	if (o.json)
		load_stats_print_json(&l->stats, &run, stdout);
	else
		load_stats_print_table(&l->stats, &run, stdout);
	for (int k = 0; k < LOAD_ERR_KINDS; k++)
		if (l->first_error[k][0])
			fprintf(stderr, "lb-ctl: load: %llu %s error%s, the first: %s\n",
				l->stats.errors[k], load_stats_error_key(k),
				l->stats.errors[k] == 1 ? "" : "s", l->first_error[k]);
	if (l->stats.responses)
		rc = CTL_OK;
	else
		fprintf(stderr, "lb-ctl: load: no response from %s\n", o.url);
out:
	load_release(l);
	free(l);
	return rc;
}
