/* forward: the backend side of a session's request: picks a backend, gets a
 * connection to it, and decides what a failure means; it says so with a
 * verdict, the caller acts on it (see forward.h). */
#include "forward.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>

#include "grpc_call.h"
#include "log.h"
#include "net/transport_tls.h"
#include "outcome.h"
#include "policy/retry.h"
#include "policy/sticky.h"
#include "queue.h"
#include "routing.h"
#include "timefmt.h"
#include "trace.h"
#include "upstream/h2_pool.h"
#include "upstream/upstream.h"

void forward_release(struct session *s)
{
	if (!s->be)
		return;
	s->be->active--;
	backend_unref(s->be);
	s->be = NULL;
	/* A slot at a backend freed: the first request waiting for one picks. */
	if (s->px->metrics.queue_length)
		queue_wake(s->px);
}

void forward_finish(struct session *s)
{
	struct proxy *px = s->px;

	if (s->queued)
		queue_leave(s);
	if (!s->in_flight)
		return;
	s->in_flight = 0;
	px->requests_in_flight--;
	if (s->x && s->x->retries)	/* in flight: it has its exchange */
		px->retries_in_flight--;
}

void forward_forget(struct session *s)
{
	if (!s->x)
		return;
	for (unsigned i = 0; i < s->x->pick.ntried; i++)
		backend_unref((struct backend *)s->x->pick.tried[i]);
	s->x->pick.ntried = 0;
	s->x->pick.has_key = 0;
}

void forward_drop(struct session *s)
{
	if (s->up) {
		upstream_close(s->up);
		s->up = NULL;
	}
	s->up_blocked = 0;
}

static int idempotent(int method)
{
	return method == HTTP_GET || method == HTTP_HEAD || method == HTTP_PUT ||
	       method == HTTP_DELETE || method == HTTP_OPTIONS || method == HTTP_TRACE;
}

const char *forward_reason(int err)
{
	switch (err) {
	case ECONNREFUSED: return "connect-refused";
	case ETIMEDOUT: return "timeout";
	case ECONNRESET:
	case EPIPE: return "reset";
	case EHOSTUNREACH:
	case ENETUNREACH: return "unreachable";
	default: return "error";
	}
}

/* 1 when some backend of the set could take a request now by its own state
 * (panic aside: a connect that failed on the last backend not ejected or
 * skipped is "no backends available", 503, as before panic, whichever
 * backends panic would still try). */
static int any_usable(struct proxy *px, const struct backend_set *set)
{
	double now = ev_now(px->loop);

	for (size_t i = 0; i < set->n; i++)
		if (balance_takes(set->items[i], 0, now) ||
		    set->items[i]->state == BACKEND_DRAINING)
			return 1;
	return 0;
}

/* Why an attempt that got no response failed, for --retry-on. */
static enum retry_reason failure_reason(int status, int connect_error)
{
	if (connect_error)
		return RETRY_CONNECT_FAILURE;
	return status == 504 ? RETRY_TIMEOUT : RETRY_RESET;
}

/*
 * 1 when s's request may go to another backend after an attempt failed for
 * `why` (`response`: the backend answered with a status --retry-on names).
 * The safety rules: nothing of a response was used, and once request bytes
 * went out only an idempotent request still whole in memory. Then the
 * policy, --retries and the budget, whose refusal is counted.
 */
static int may_retry(struct session *s, enum retry_reason why, int response)
{
	struct proxy *px = s->px;

	if (s->x->retries >= px->opts->retries || !retry_wanted(&px->retry, why) ||
	    routing_deadline_passed(s) || grpc_call_deadline_passed(s))
		return 0;
	if (response) {
		if (!idempotent(s->method) || !s->replayable || !s->req_done || s->resp_interim)
			return 0;
	} else if (s->resp_started || (s->req_sent_any && !(idempotent(s->method) && s->replayable))) {
		return 0;
	}
	/* A request already retrying holds its place in the budget. */
	if (s->x->retries == 0 &&
	    !retry_budget_allows(&px->retry, px->retries_in_flight, px->requests_in_flight)) {
		px->metrics.retry_budget_exhausted++;
		return 0;
	}
	return 1;
}

enum forward_verdict forward_retry(struct session *s)
{
	struct proxy *px = s->px;
	double delay;

	if (s->x->retries++ == 0)
		px->retries_in_flight++;
	trace_event(s, "retried");
	s->x->up_head.pos = 0;
	/* the next attempt's backend gets what the deadline has left */
	if (grpc_call_forward_timeout(s) == -1)
		return FORWARD_NO_RESOURCES;
	s->send_off = s->x->body_start;
	s->req_sent_any = 0;
	/* A pooled connection to the next backend is written by the next
	 * round of the pump, not only when it signals. */
	s->again = 1;
	delay = retry_backoff(&px->retry, (unsigned)s->x->retries - 1, balance_random());
	if (delay <= 0)
		return forward_begin(s);
	s->state = SESSION_BACKOFF;
	session_set_timer(s, grpc_call_timeout(s, delay));
	return FORWARD_GOING;
}

/* forward_failed() once the retry decision (can_retry, for `why`) is made;
 * `kind` and `answered` (the backend's status, for OUTCOME_RESPONSE) go to
 * the outcome hook. */
static enum forward_verdict attempt_failed(struct session *s, const char *reason,
					   const char *what, int status, int connect_error,
					   int can_retry, enum retry_reason why, enum outcome kind,
					   int answered)
{
	struct proxy *px = s->px;

	if (s->be)
		log_warn("backend failed", "backend=%s error=\"%s\" request_id=\"%.*s\" retry=%s",
			 s->be->name, what, (int)s->x->request_id_len, s->x->request_id,
			 can_retry ? "yes" : "no");
	outcome_record(px, session_balancer(s), session_backends(s), s->be, kind, answered,
		       timefmt_mono() - s->x->started);
	trace_attempt_end(s, reason, answered);
	forward_drop(s);
	if (s->be) {
		unsigned n = s->x->pick.ntried;

		if (n < BALANCE_MAX_TRIED) {
			backend_ref(s->be);	/* named in the access log, even if removed */
			s->x->pick.tried[n] = s->be;
			s->x->tried_why[n] = reason;
			s->x->pick.ntried++;
		}
	}
	if (can_retry) {
		forward_release(s);
		px->metrics.retries_by[why]++;
		return FORWARD_RETRY;
	}
	if (s->resp_head_done) {
		/* Part of the response went out: all we can do is cut it short. */
		forward_release(s);
		return FORWARD_CLOSE;
	}
	if (connect_error && !any_usable(px, session_backends(s)))
		return FORWARD_NO_BACKENDS;
	return status == 504 ? FORWARD_TIMED_OUT : FORWARD_FAILED;
}

enum forward_verdict forward_failed(struct session *s, const char *reason, const char *what,
				    int status, int connect_error)
{
	enum retry_reason why = failure_reason(status, connect_error);
	enum outcome kind = connect_error ? (status == 504 ? OUTCOME_CONNECT_TIMEOUT
							    : OUTCOME_CONNECT_FAILED)
			    : status == 504 ? OUTCOME_TIMEOUT : OUTCOME_RESET;

	return attempt_failed(s, reason, what, status, connect_error, may_retry(s, why, 0), why,
			      kind, 0);
}

enum forward_verdict forward_retry_response(struct session *s, int status)
{
	int why = retry_status_reason(s->px->retry.on, status);

	if (why == -1 || !may_retry(s, (enum retry_reason)why, 1))
		return FORWARD_DECLINED;
	/* Nothing of it reached the client: the connection (and the rest of
	 * the answer) is dropped, never pooled. */
	return attempt_failed(s, retry_status_word(status), retry_status_word(status), 502, 0, 1,
			      (enum retry_reason)why, OUTCOME_RESPONSE_DROPPED, status);
}

static void (*upstream_on_read)(struct ev_loop *loop, ev_io *w, int revents);
static void (*upstream_on_write)(struct ev_loop *loop, ev_io *w, int revents);

void forward_set_callbacks(void (*on_read)(struct ev_loop *loop, ev_io *w, int revents),
			   void (*on_write)(struct ev_loop *loop, ev_io *w, int revents))
{
	upstream_on_read = on_read;
	upstream_on_write = on_write;
}

static void attach(struct session *s, struct upstream *u)
{
	s->up = u;
	u->owner = s;
	ev_set_cb(&u->rio, upstream_on_read);
	ev_set_cb(&u->wio, upstream_on_write);
	u->rio.data = u->wio.data = s;
}

/* Errors of this process, not of the backend: out of descriptors, buffers,
 * memory or local ports. */
static int local_error(int err)
{
	return err == EMFILE || err == ENFILE || err == ENOBUFS || err == ENOMEM ||
	       err == EADDRNOTAVAIL;
}

/* A backend connection could not be made for a local reason: this one
 * request fails with 503 and the backend is not blamed (no error, no fail
 * timeout, no retry that would fail alike). Logged once a second at most. */
static enum forward_verdict local_failure(struct session *s, int err)
{
	static struct log_limit limit;
	struct proxy *px = s->px;
	unsigned long n = log_every(&limit, ev_now(px->loop), 1.0);

	px->metrics.resource_errors++;
	if (n)
		log_error("cannot connect to a backend: out of resources",
			  "error=\"%s\" backend=%s times=%lu", strerror(err), s->be->name, n);
	forward_drop(s);
	s->be->requests--;
	forward_release(s);
	return FORWARD_NO_RESOURCES;
}

enum forward_verdict forward_connected(struct session *s)
{
	int err = 0;
	socklen_t len = sizeof(err);

	if (s->up->tr.fd < 0) {
		/* an HTTP/2 stream (h2_pool.c): its connection's connect */
		err = s->up->connect_error;
		if (err == EINPROGRESS)
			return FORWARD_GOING;
	} else {
		getsockopt(s->up->tr.fd, SOL_SOCKET, SO_ERROR, &err, &len);
	}
	if (err == 0 && !s->up->tr.handshake_done) {
		/* --backend-tls: the handshake, in the connect's time; a failed
		 * one (a certificate not verified) is a connect error. */
		int rc = transport_tls_handshake(&s->up->tr);

		if (rc == 0)
			return FORWARD_GOING;
		if (rc == -1)
			return forward_failed(s, "tls", transport_tls_last_error(), 502, 1);
	}
	if (err == 0) {
		session_exchange_start(s);
		return FORWARD_GOING;
	}
	if (local_error(err))
		return local_failure(s, err);
	return forward_failed(s, forward_reason(err), strerror(err), 502, 1);
}

/* The backend the request's sticky cookie names, when it may take it. */
static struct backend *sticky_backend(struct session *s)
{
	struct proxy *px = s->px;
	const char *v;
	size_t n;
	struct backend *b;

	if (!hashkey_find(&px->sticky_key, &s->x->req, &s->x->route, NULL, 0, &v, &n))
		return NULL;
	b = sticky_find(session_backends(s), v, n);
	/* At --max-per-backend it is balanced (and stuck) elsewhere, as a
	 * down one is: HAProxy's redispatch rather than a queue per backend. */
	if (b && px->opts->max_per_backend && b->active >= (unsigned)px->opts->max_per_backend)
		return NULL;
	return b && balance_takes(b, balancer_panic(session_balancer(s), session_backends(s),
						    s->x->pick.now),
				  s->x->pick.now) ? b : NULL;
}

/* 1 when a backend that could take requests is at --max-per-backend. */
static int any_at_cap(struct session *s)
{
	struct proxy *px = s->px;
	struct backend_set *set = session_backends(s);
	double now = ev_now(px->loop);
	int panic = balancer_panic(session_balancer(s), set, now);

	for (size_t i = 0; i < set->n; i++) {
		const struct backend *b = set->items[i];

		if ((balance_takes(b, panic, now) || b->state == BACKEND_DRAINING) &&
		    b->active >= (unsigned)px->opts->max_per_backend)
			return 1;
	}
	return 0;
}

/* Every backend is at its cap: s waits in the queue, or gets 503 at once
 * when the queue is full. `front`: it was woken and lost its slot. */
static enum forward_verdict wait_in_queue(struct session *s, int front)
{
	if (queue_enter(s, front) == 0) {
		if (!front)
			trace_event(s, "queued");
		return FORWARD_GOING;
	}
	s->px->metrics.queue_full++;
	s->x->refusal = "queue full";
	return FORWARD_OVERLOADED;
}

enum forward_verdict forward_dequeue(struct session *s)
{
	if (!queue_take(s)) {
		s->px->metrics.queue_timeouts++;
		s->x->refusal = "queue timeout";
		return FORWARD_OVERLOADED;
	}
	s->from_queue = 1;
	return forward_begin(s);
}

/* The protocol of the attempt's backend connection: the routed Service's
 * own (its appProtocol), else --backend-protocol. */
static int backend_protocol(const struct session *s)
{
	if (s->x && s->x->svc && s->x->svc->protocol >= 0)
		return s->x->svc->protocol;
	return h2_pool_protocol_parse(s->px->opts->backend_protocol);
}

/* HTTP/2 to the backend: a stream on one of be's connections. */
static enum forward_verdict begin_h2(struct session *s, struct backend *be, int protocol)
{
	struct proxy *px = s->px;
	int tls = protocol == H2_POOL_H2;
	struct upstream *u = h2_pool_stream(be, tls, px->opts->connect_timeout);

	if (!u && local_error(errno))
		return local_failure(s, errno);
	if (!u)
		return forward_failed(s, forward_reason(errno), strerror(errno), 502, 1);
	attach(s, u);
	if (u->connect_error == EINPROGRESS) {
		/* its connection connects: u->wio is fed once it is ready */
		s->state = SESSION_CONNECT;
		session_set_timer(s, px->opts->connect_timeout);
		return FORWARD_GOING;
	}
	session_exchange_start(s);
	return FORWARD_GOING;
}

enum forward_verdict forward_begin(struct session *s)
{
	struct proxy *px = s->px;
	struct backend *be = NULL;
	struct upstream *u;
	int from_queue = s->from_queue, protocol;

	s->from_queue = 0;
	/* First come, first served: with requests waiting, a new one queues
	 * behind them (HAProxy's pendconn rule). */
	if (px->metrics.queue_length && !from_queue && px->opts->max_per_backend)
		return wait_in_queue(s, 0);
	s->x->pick.now = ev_now(px->loop);
	/* A sticky client goes back to its backend (not on a retry: that one
	 * just failed), and is stuck again to whichever serves it otherwise. */
	if (sticky_cookie() && s->x->pick.ntried == 0)
		be = sticky_backend(s);
	s->x->sticky_insert = NULL;
	if (!be) {
		be = balance_pick(session_balancer(s), session_backends(s), &s->x->pick);
		if (be && sticky_cookie())
			s->x->sticky_insert = sticky_id(be);
	}
	if (!be) {
		if (px->opts->max_per_backend && any_at_cap(s))
			return wait_in_queue(s, from_queue);
		return FORWARD_NO_BACKENDS;
	}
	s->be = be;
	trace_attempt_begin(s);
	backend_ref(be);
	be->active++;
	be->requests++;
	protocol = backend_protocol(s);
	if (protocol > H2_POOL_HTTP1)
		return begin_h2(s, be, protocol);
	u = upstream_pool_get(be);
	if (u) {
		attach(s, u);
		session_exchange_start(s);
		return FORWARD_GOING;
	}
	u = upstream_connect(be);
	if (!u && local_error(errno))
		return local_failure(s, errno);
	if (!u)
		return forward_failed(s, forward_reason(errno), strerror(errno), 502, 1);
	attach(s, u);
	s->state = SESSION_CONNECT;
	ev_io_start(px->loop, &u->wio);
	session_set_timer(s, grpc_call_timeout(s, px->opts->connect_timeout));
	return FORWARD_GOING;
}

