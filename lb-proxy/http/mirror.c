/* mirror: RequestMirror copies, fire-and-forget (see mirror.h). */
#include "mirror.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include "http_limits.h"
#include "net/transport_tls.h"
#include "upstream/upstream.h"

enum mirror_state {
	MIRROR_IDLE = 0,	/* in the free list */
	MIRROR_COLLECTING,	/* the request's head is in `data`; its body arrives (mirror_tee) */
	MIRROR_CONNECTING,	/* a new connection to the backend is being made */
	MIRROR_SENDING,		/* `data` (from its pos) is written to the backend */
	MIRROR_READING,		/* the answer is read and dropped */
};

struct mirror_copy {
	enum mirror_state state;
	struct proxy *px;
	struct service *svc;		/* a reference while not idle */
	struct buf data;		/* the request, then the answer; kept in the free list */
	size_t body_max;		/* bytes `data` may reach: the head and --mirror-max-body */
	size_t parsed;			/* READING: bytes of `data` the parser has had */
	struct upstream *up;		/* CONNECTING to READING */
	struct http_msg resp;
	int head_request;		/* a HEAD: its answer has no body */
	ev_timer timer;			/* --mirror-timeout, from the request's end */
	struct mirror_copy *next;	/* in the free list, or in its exchange's copies */
	struct mirror_copy *all_next;	/* in every copy allocated */
};

static const char *const result_names[MIRROR_RESULTS] = {
	"sent", "failed", "timeout", "no_backend", "dropped", "too_large", "aborted",
};
static unsigned long long results[MIRROR_RESULTS];
static struct mirror_copy *free_copies, *all_copies;
static unsigned in_use, allocated;

static void finish(struct mirror_copy *c, enum mirror_result r, int reuse)
{
	struct proxy *px = c->px;

	results[r]++;
	ev_timer_stop(px->loop, &c->timer);
	if (c->up) {
		if (reuse)
			upstream_pool_put(c->up, px->stopping);
		else
			upstream_close(c->up);
		c->up = NULL;
	}
	service_unref(c->svc);
	c->svc = NULL;
	c->state = MIRROR_IDLE;
	buf_reset(&c->data);
	c->next = free_copies;
	free_copies = c;
	in_use--;
}

/* A copy from the free list, or a new one while fewer than max exist. */
static struct mirror_copy *take(struct proxy *px, unsigned max)
{
	struct mirror_copy *c = free_copies;

	if (c) {
		free_copies = c->next;
	} else {
		if (allocated >= max || !(c = calloc(1, sizeof(*c))))
			return NULL;
		c->data = (struct buf)BUF_INIT;
		c->all_next = all_copies;
		all_copies = c;
		allocated++;
	}
	c->px = px;
	c->next = NULL;
	in_use++;
	return c;
}

void mirror_begin(struct session *s, struct service *svc, const struct headers_ctx *ctx)
{
	struct proxy *px = s->px;
	const struct http_msg *req = &s->x->req;
	unsigned max = px->opts->mirror_max_inflight > 0 ? (unsigned)px->opts->mirror_max_inflight : 0;
	size_t body_max = (size_t)px->opts->mirror_max_body;
	struct mirror_copy *c;

	if (!svc) {
		results[MIRROR_NO_BACKEND]++;
		return;
	}
	if ((req->parser.flags & F_CONTENT_LENGTH) && req->parser.content_length > body_max) {
		results[MIRROR_TOO_LARGE]++;
		return;
	}
	if (in_use >= max || !(c = take(px, max))) {
		results[MIRROR_DROPPED]++;
		return;
	}
	service_ref(svc);
	c->svc = svc;
	if (headers_request(&c->data, req, &s->x->route, ctx) == -1) {
		finish(c, MIRROR_FAILED, 0);
		return;
	}
	c->body_max = c->data.len + body_max;
	c->head_request = s->method == HTTP_HEAD;
	c->state = MIRROR_COLLECTING;
	c->next = s->x->mirrors;
	s->x->mirrors = c;
}

/* The connection is ready (or became so): the copy is written. */
static void send_more(struct mirror_copy *c)
{
	struct upstream *u = c->up;

	for (;;) {
		struct iovec iov = { buf_head(&c->data), buf_unread(&c->data) };
		ssize_t w;

		if (iov.iov_len == 0)
			break;
		w = transport_writev(&u->tr, &iov, 1);
		if (w > 0) {
			c->data.pos += (size_t)w;
			continue;
		}
		if (w == -1 && errno == EINTR)
			continue;
		if (w == -1 && errno == EAGAIN) {
			ev_io_start(c->px->loop, &u->wio);
			return;
		}
		finish(c, MIRROR_FAILED, 0);
		return;
	}
	ev_io_stop(c->px->loop, &u->wio);
	buf_reset(&c->data);
	c->parsed = 0;
	http_msg_init(&c->resp, HTTP_RESPONSE, HTTP_DEFAULT_MAX_HEADER_SIZE, NULL, c);
	c->resp.skip_body = c->head_request;
	c->state = MIRROR_READING;
	ev_io_start(c->px->loop, &u->rio);
}

/* Parses what came of the answer; 1 when it is done (finished), else 0. */
static int parse_answer(struct mirror_copy *c)
{
	for (;;) {
		enum http_msg_state before = c->resp.state;
		size_t used = http_msg_feed(&c->resp, c->data.data, c->parsed,
					    c->data.len - c->parsed);
		int status = http_msg_status(&c->resp);

		c->parsed += used;
		if (c->resp.state == HTTP_MSG_ERROR) {
			finish(c, MIRROR_FAILED, 0);
			return 1;
		}
		if (c->resp.state == HTTP_MSG_DONE && status >= 100 && status < 200) {
			if (status == 101) {	/* never asked for: not HTTP any more */
				finish(c, MIRROR_FAILED, 0);
				return 1;
			}
			http_msg_next(&c->resp, c->parsed);	/* an interim answer: the final one follows */
			continue;
		}
		if (c->resp.state == HTTP_MSG_DONE) {
			finish(c, MIRROR_SENT, c->parsed == c->data.len && http_msg_keep_alive(&c->resp));
			return 1;
		}
		if (c->resp.state == HTTP_MSG_BODY) {
			/* the head is read: the body's bytes are dropped as they come */
			memmove(c->data.data, c->data.data + c->parsed, c->data.len - c->parsed);
			c->data.len -= c->parsed;
			c->parsed = 0;
		}
		if (used == 0 && c->resp.state == before)
			return 0;	/* more is needed */
	}
}

static void on_read(struct ev_loop *loop, ev_io *w, int revents)
{
	struct mirror_copy *c = w->data;
	(void)loop;
	(void)revents;

	if (c->state != MIRROR_READING)
		return;
	for (;;) {
		ssize_t n;

		if (buf_reserve(&c->data, HTTP_READ_CHUNK) == -1) {
			finish(c, MIRROR_FAILED, 0);
			return;
		}
		n = transport_read(&c->up->tr, buf_tail(&c->data), buf_room(&c->data));
		if (n > 0) {
			c->data.len += (size_t)n;
			if (parse_answer(c))
				return;
			if (c->resp.state == HTTP_MSG_HEAD && c->data.len >= HTTP_DEFAULT_MAX_HEADER_SIZE) {
				finish(c, MIRROR_FAILED, 0);
				return;
			}
			continue;
		}
		if (n == 0) {
			/* an answer framed by the close ends here */
			http_msg_feed(&c->resp, c->data.data, c->parsed, 0);
			finish(c, c->resp.state == HTTP_MSG_DONE ? MIRROR_SENT : MIRROR_FAILED, 0);
			return;
		}
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN)
			finish(c, MIRROR_FAILED, 0);
		return;
	}
}

static void on_write(struct ev_loop *loop, ev_io *w, int revents)
{
	struct mirror_copy *c = w->data;
	int err = 0;
	socklen_t len = sizeof(err);
	(void)loop;
	(void)revents;

	if (c->state == MIRROR_CONNECTING) {
		getsockopt(c->up->tr.fd, SOL_SOCKET, SO_ERROR, &err, &len);
		if (err) {
			finish(c, MIRROR_FAILED, 0);
			return;
		}
		if (!c->up->tr.handshake_done) {
			int rc = transport_tls_handshake(&c->up->tr);

			if (rc == -1)
				finish(c, MIRROR_FAILED, 0);
			if (rc != 1)
				return;	/* the handshake goes on (or failed) */
		}
		c->state = MIRROR_SENDING;
	}
	if (c->state == MIRROR_SENDING)
		send_more(c);
}

static void on_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop;
	(void)revents;
	finish(w->data, MIRROR_TIMED_OUT, 0);
}

/* The request is whole: the copy goes to a backend of its Service, picked
 * by the Service's balancer; its outcome is told to no one. */
static void launch(struct mirror_copy *c)
{
	struct proxy *px = c->px;
	struct balance_request r;
	struct backend *b;
	struct upstream *u;

	memset(&r, 0, sizeof(r));
	r.now = ev_now(px->loop);
	b = balance_pick(&c->svc->balancer, &c->svc->set, &r);
	if (!b) {
		finish(c, MIRROR_NO_BACKEND, 0);
		return;
	}
	ev_timer_init(&c->timer, on_timer, px->opts->mirror_timeout, 0);
	c->timer.data = c;
	ev_timer_start(px->loop, &c->timer);
	u = upstream_pool_get(b);
	c->state = u ? MIRROR_SENDING : MIRROR_CONNECTING;
	if (!u && !(u = upstream_connect(b))) {
		finish(c, MIRROR_FAILED, 0);
		return;
	}
	c->up = u;
	u->owner = c;
	ev_set_cb(&u->rio, on_read);
	ev_set_cb(&u->wio, on_write);
	u->rio.data = u->wio.data = c;
	if (c->state == MIRROR_SENDING)
		send_more(c);
	else
		ev_io_start(px->loop, &u->wio);
}

void mirror_tee(struct exchange *x, const char *data, size_t len, int done)
{
	struct mirror_copy *c, *next, **link = &x->mirrors;

	for (c = x->mirrors; c; c = next) {
		next = c->next;
		if (c->data.len + len > c->body_max) {
			*link = next;	/* a chunked body grew past the limit */
			finish(c, MIRROR_TOO_LARGE, 0);
			continue;
		}
		if (len && buf_append(&c->data, data, len) == -1) {
			*link = next;
			finish(c, MIRROR_FAILED, 0);
			continue;
		}
		link = &c->next;
	}
	if (!done)
		return;
	for (c = x->mirrors, x->mirrors = NULL; c; c = next) {
		next = c->next;
		c->next = NULL;
		launch(c);
	}
}

void mirror_exchange_done(struct exchange *x)
{
	struct mirror_copy *c, *next;

	for (c = x->mirrors, x->mirrors = NULL; c; c = next) {
		next = c->next;
		finish(c, MIRROR_ABORTED, 0);
	}
}

void mirror_render_metrics(struct buf *out)
{
	buf_append_str(out, "# HELP lb_proxy_mirror_requests_total RequestMirror copies, by what "
			    "became of them (result).\n"
			    "# TYPE lb_proxy_mirror_requests_total counter\n");
	for (int r = 0; r < MIRROR_RESULTS; r++)
		buf_appendf(out, "lb_proxy_mirror_requests_total{result=\"%s\"} %llu\n",
			    result_names[r], results[r]);
	buf_appendf(out, "# HELP lb_proxy_mirror_in_flight RequestMirror copies collecting or "
			 "in flight.\n# TYPE lb_proxy_mirror_in_flight gauge\n"
			 "lb_proxy_mirror_in_flight %u\n", in_use);
}

void mirror_release(void)
{
	struct mirror_copy *c, *next;

	for (c = all_copies; c; c = next) {
		next = c->all_next;
		if (c->state != MIRROR_IDLE && c->state != MIRROR_COLLECTING)
			finish(c, MIRROR_ABORTED, 0);
		buf_release(&c->data);
		free(c);
	}
	all_copies = free_copies = NULL;
	allocated = 0;
}
