/* tcp_session: one TCP-mode connection's life (see tcp_session.h). */
#include "tcp_session.h"

#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"
#include "net.h"
#include "tcp_relay.h"
#include "upstream/outlier.h"
#include "upstream/upstream.h"

static void connect_next(struct tcp_session *s);

static void set_timer(struct tcp_session *s, double seconds)
{
	ev_timer_stop(s->tp->loop, &s->timer);
	ev_timer_set(&s->timer, seconds, 0);
	ev_timer_start(s->tp->loop, &s->timer);
}

static const char *sni_result_name(enum tcp_sni_result r)
{
	switch (r) {
	case TCP_SNI_FOUND: return "found";
	case TCP_SNI_NONE: return "none";
	case TCP_SNI_NOT_TLS: return "not-tls";
	case TCP_SNI_TIMEOUT: return "timeout";
	case TCP_SNI_RESULTS: break;
	}
	return "-";
}

/* The attempt on s->be ended: the one place its outcome is recorded (the
 * counters, the connect-failure skip, the balancer, the breaker), as
 * lb-proxy's HTTP outcome hook does for an exchange. */
static void attempt_end(struct tcp_session *s, int failed)
{
	struct tcp_proxy *tp = s->tp;
	struct backend *b = s->be;
	double now = ev_now(tp->loop), seconds = now - s->attempt_started;
	enum outlier_state state = b->outlier.state;
	unsigned run = b->outlier.consecutive_gateway;

	if (failed) {
		b->errors++;
		tp->metrics.connect_failures++;
		/* nginx's max_fails=1: skip it for a while rather than try it
		 * for every new connection */
		backend_mark_failed(b, now + tp->cfg.fail_timeout, BACKEND_FAILURE_CONNECT);
	}
	balancer_outcome(s->pool.balancer, b, failed, seconds);
	outlier_record(b, failed ? OUTLIER_CONNECT : OUTLIER_SUCCESS, now, s->pool.set);
	if (tp->breaker_changed && (state != b->outlier.state || b->outlier.consecutive_gateway > run))
		tp->breaker_changed(tp->breaker_data);
}

/* Lets go of the attempt's backend (its connection closed by the caller). */
static void drop_backend(struct tcp_session *s)
{
	if (!s->be)
		return;
	s->be->active--;
	backend_unref(s->be);
	s->be = NULL;
}

static void close_backend_fd(struct tcp_session *s)
{
	if (s->bfd == -1)
		return;
	ev_io_stop(s->tp->loop, &s->brio);
	ev_io_stop(s->tp->loop, &s->bwio);
	close(s->bfd);
	s->bfd = -1;
}

void tcp_session_close(struct tcp_session *s, const char *why)
{
	struct tcp_proxy *tp = s->tp;
	struct ev_loop *loop = tp->loop;

	if (s->state == TCP_SESSION_FREE)
		return;
	s->end = why;
	ev_io_stop(loop, &s->crio);
	ev_io_stop(loop, &s->cwio);
	ev_timer_stop(loop, &s->timer);
	close_backend_fd(s);
	close(s->cfd);
	s->cfd = -1;
	if (tp->cfg.access_log)
		log_info("tcp", "client=%s backend=%s sni=%s sni_result=%s bytes_in=%llu bytes_out=%llu "
			 "duration_s=%.3f end=\"%s\"", s->client, s->be ? s->be->name : "-",
			 s->sni[0] ? s->sni : "-", s->inspect_sni ? sni_result_name(s->sni_result) : "off",
			 s->up.bytes, s->down.bytes, ev_now(loop) - s->started, why);
	drop_backend(s);
	if (s->held && tp->release)
		tp->release(tp->route_data, s->held);
	s->held = NULL;
	for (unsigned i = 0; i < s->pick.ntried; i++)
		backend_unref((struct backend *)s->pick.tried[i]);
	s->pick.ntried = 0;
	/* the buffers stay with the session for the next connection */
	buf_reset(&s->up.buf);
	buf_reset(&s->down.buf);
	s->state = TCP_SESSION_FREE;
	tp->session_closed(tp, s);
}

int tcp_session_idle(const struct tcp_session *s)
{
	return s->state == TCP_SESSION_HELLO && buf_unread(&s->up.buf) == 0;
}

/* The connect finished (or failed): relay, or try the next backend. */
static void connect_done(struct tcp_session *s, int err)
{
	if (err == 0) {
		attempt_end(s, 0);
		ev_timer_stop(s->tp->loop, &s->timer);
		tcp_relay_start(s);
		return;
	}
	log_warn("connect to a backend failed", "client=%s backend=%s error=\"%s\" attempt=%u",
		 s->client, s->be->name, err == ETIMEDOUT ? "connect timeout" : strerror(err),
		 s->pick.ntried);
	attempt_end(s, 1);
	close_backend_fd(s);
	drop_backend(s);
	if (s->pick.ntried > s->tp->cfg.retries || s->pick.ntried >= BALANCE_MAX_TRIED) {
		tcp_session_close(s, "connect failed");
		return;
	}
	connect_next(s);
}

static void on_backend_connect(struct ev_loop *loop, ev_io *w, int revents)
{
	struct tcp_session *s = w->data;
	int err = 0;
	socklen_t len = sizeof(err);
	(void)revents;

	ev_io_stop(loop, w);
	if (getsockopt(s->bfd, SOL_SOCKET, SO_ERROR, &err, &len) == -1)
		err = errno;
	connect_done(s, err);
}

/* Picks a backend of the pool not tried yet and starts connecting to it;
 * closes s when there is none. */
static void connect_next(struct tcp_session *s)
{
	struct tcp_proxy *tp = s->tp;
	struct backend *b;
	int fd;

	s->pick.now = ev_now(tp->loop);
	b = balance_pick(s->pool.balancer, s->pool.set, &s->pick);
	if (!b) {
		tp->metrics.no_backend++;
		tcp_session_close(s, s->pick.ntried ? "connect failed" : "no backend");
		return;
	}
	if (s->pick.ntried < BALANCE_MAX_TRIED) {
		/* held until the session ends: a set applied meanwhile may
		 * drop it, and its address must not be reused for another */
		backend_ref(b);
		s->pick.tried[s->pick.ntried++] = b;
	}
	s->be = b;
	backend_ref(b);
	b->active++;
	b->requests++;
	s->attempt_started = ev_now(tp->loop);
	fd = socket(b->addr.ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1) {
		/* the proxy's own lack (descriptors, memory): not the backend's */
		log_error("cannot open a socket to a backend: raise the descriptor limit (ulimit -n)",
			  "client=%s error=\"%s\"", s->client, strerror(errno));
		tcp_session_close(s, "no socket");
		return;
	}
	s->bfd = fd;
	net_set_nodelay(fd);
	net_set_notsent_lowat(fd, UNSENT_LIMIT);
	ev_io_set(&s->brio, fd, EV_READ);
	ev_io_set(&s->bwio, fd, EV_WRITE);
	if (connect(fd, (struct sockaddr *)&b->addr.ss, b->addr.len) == 0) {
		connect_done(s, 0);
		return;
	}
	if (errno != EINPROGRESS) {
		connect_done(s, errno);
		return;
	}
	s->state = TCP_SESSION_CONNECT;
	ev_set_cb(&s->bwio, on_backend_connect);
	ev_io_start(tp->loop, &s->bwio);
	set_timer(s, tp->cfg.connect_timeout);
}

/* The client's first bytes are read (or waited for long enough): route. */
static void route(struct tcp_session *s)
{
	struct tcp_proxy *tp = s->tp;
	struct tcp_route_query q = { (struct sockaddr *)&s->peer, s->sni[0] ? s->sni : NULL,
				     s->held, s->port };
	enum tcp_route_verdict v;
	unsigned long n;

	ev_io_stop(tp->loop, &s->crio);
	ev_timer_stop(tp->loop, &s->timer);
	if (s->inspect_sni)
		tp->metrics.sni[s->sni_result]++;
	v = tp->route(tp->route_data, &q, &s->pool);
	if (v != TCP_ROUTE_OK) {
		tp->metrics.refused[v]++;
		if ((n = log_every(&tp->refused_log, ev_now(tp->loop), 1.0)))
			log_warn("connection closed: no route takes it",
				 "client=%s sni=%s reason=%s connections=%lu", s->client,
				 s->sni[0] ? s->sni : "-", tcp_route_verdict_name(v), n);
		tcp_session_close(s, v == TCP_ROUTE_UNRESOLVED ? "backend unresolved" : "no route");
		return;
	}
	/* A hashing balancer keys on the client's address, as --balance
	 * ip-hash does in HTTP mode (the IP's text: the same backend either way). */
	if (s->pool.balancer->ops && s->pool.balancer->ops->uses_key) {
		char ip[48];

		net_addr_ip((struct sockaddr *)&s->peer, ip, sizeof(ip));
		s->pick.hash = balance_hash(ip, strlen(ip));
		s->pick.has_key = 1;
	}
	connect_next(s);
}

/* TCP_SESSION_HELLO: the client's bytes until its ClientHello is whole. */
static void on_hello_read(struct ev_loop *loop, ev_io *w, int revents)
{
	struct tcp_session *s = w->data;
	struct buf *b = &s->up.buf;
	ssize_t n;
	int r;
	(void)loop;
	(void)revents;

	n = read(s->cfd, buf_tail(b), buf_room(b));
	if (n == -1 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n == -1) {
		tcp_session_close(s, "client reset");
		return;
	}
	if (n == 0) {
		if (buf_unread(b) == 0) {
			tcp_session_close(s, "client closed");
			return;
		}
		/* a half-close after a partial hello: relay what came */
		s->up.eof = 1;
		s->sni_result = TCP_SNI_TIMEOUT;
		route(s);
		return;
	}
	b->len += (size_t)n;
	s->up.bytes += (unsigned long long)n;
	r = tls_clienthello_parse((const unsigned char *)buf_head(b), buf_unread(b), s->sni);
	if (r == TLS_CLIENTHELLO_NEED_MORE && buf_room(b) > 0)
		return;
	s->sni_result = r == TLS_CLIENTHELLO_PARSED ? (s->sni[0] ? TCP_SNI_FOUND : TCP_SNI_NONE)
		      : r == TLS_CLIENTHELLO_NOT_TLS ? TCP_SNI_NOT_TLS : TCP_SNI_TIMEOUT;
	route(s);
}

static void on_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct tcp_session *s = w->data;
	(void)loop;
	(void)revents;

	switch (s->state) {
	case TCP_SESSION_HELLO:
		/* HAProxy's inspect-delay: what came decides (a protocol where
		 * the server speaks first sends nothing) */
		s->sni_result = TCP_SNI_TIMEOUT;
		route(s);
		break;
	case TCP_SESSION_CONNECT:
		ev_io_stop(s->tp->loop, &s->bwio);
		connect_done(s, ETIMEDOUT);
		break;
	case TCP_SESSION_RELAY:
		tcp_relay_on_timer(s);
		break;
	case TCP_SESSION_FREE:
		break;
	}
}

const char *tcp_route_verdict_name(enum tcp_route_verdict v)
{
	switch (v) {
	case TCP_ROUTE_OK: return "ok";
	case TCP_ROUTE_NO_ROUTE: return "no-route";
	case TCP_ROUTE_UNRESOLVED: return "unresolved";
	case TCP_ROUTE_VERDICTS: break;
	}
	return "-";
}

void tcp_session_open(struct tcp_proxy *tp, struct tcp_session *s, int fd,
		      const struct sockaddr *peer, int inspect_sni, void *held, unsigned port)
{
	struct ev_loop *loop = tp->loop;

	s->tp = tp;
	s->port = port;
	s->held = held;
	s->inspect_sni = inspect_sni;
	s->cfd = fd;
	s->bfd = -1;
	s->be = NULL;
	memset(&s->pool, 0, sizeof(s->pool));
	s->end = NULL;
	s->sni[0] = '\0';
	s->sni_result = TCP_SNI_NONE;
	s->pp2_len = s->pp2_off = 0;
	memset(&s->pick, 0, sizeof(s->pick));
	s->up.eof = s->up.shut = s->down.eof = s->down.shut = 0;
	s->up.bytes = s->down.bytes = 0;
	s->started = s->last_active = ev_now(loop);
	memset(&s->peer, 0, sizeof(s->peer));
	memcpy(&s->peer, peer, peer->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6)
							 : sizeof(struct sockaddr_in));
	net_addr_format(peer, s->client, sizeof(s->client));
	ev_io_init(&s->crio, on_hello_read, fd, EV_READ);
	ev_io_init(&s->cwio, on_hello_read, fd, EV_WRITE);
	ev_io_init(&s->brio, on_hello_read, -1, EV_READ);
	ev_io_init(&s->bwio, on_hello_read, -1, EV_WRITE);
	ev_init(&s->timer, on_timer);
	s->crio.data = s->cwio.data = s->brio.data = s->bwio.data = s->timer.data = s;
	/* a new session's buffers: cached blocks, else allocated once */
	buf_cache_take(&s->up.buf);
	buf_cache_take(&s->down.buf);
	if (buf_reserve(&s->up.buf, BUF_CACHE_BLOCK) == -1 ||
	    buf_reserve(&s->down.buf, BUF_CACHE_BLOCK) == -1) {
		log_error("out of memory for a connection's buffers: closed", "client=%s", s->client);
		s->state = TCP_SESSION_HELLO;
		tcp_session_close(s, "no memory");
		return;
	}
	s->state = TCP_SESSION_HELLO;
	if (!inspect_sni) {
		route(s);
		return;
	}
	ev_io_start(loop, &s->crio);
	set_timer(s, tp->cfg.hello_timeout);
}
