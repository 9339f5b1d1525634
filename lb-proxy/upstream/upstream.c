/* upstream: connections to backends, and the keep-alive pool each backend keeps. */
#include "upstream.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"
#include "net/transport_tls.h"

static struct ev_loop *up_loop;
static struct upstream_limits up_limits;
static unsigned open_count;

static void pool_remove(struct upstream *u)
{
	LIST_REMOVE(u, link);
	u->pooled = 0;
	u->be->nidle--;
}

void upstream_close(struct upstream *u)
{
	if (u->detach) {
		u->detach(u, 0);
		return;
	}
	if (u->pooled)
		pool_remove(u);
	ev_io_stop(up_loop, &u->rio);
	ev_io_stop(up_loop, &u->wio);
	ev_timer_stop(up_loop, &u->timer);
	transport_close(&u->tr);
	open_count--;
	u->be->connections--;
	backend_unref(u->be);
	free(u);
}

/* Called when b is removed from the set and when it is freed: its TLS
 * session goes too (a backend that comes back starts afresh). */
static void close_idle(struct backend *b)
{
	while (!LIST_EMPTY(&b->idle))
		upstream_close(LIST_FIRST(&b->idle));
	if (b->tls_session && b->refs == 0) {
		transport_tls_session_free(b->tls_session);
		b->tls_session = NULL;
	}
}

/* Anything readable on a pooled connection is a close or junk: drop it
 * (but TLS's own messages, a TLS 1.3 session ticket, leave it pooled). */
static void pool_on_read(struct ev_loop *loop, ev_io *w, int revents)
{
	struct upstream *u = w->data;
	(void)loop;
	(void)revents;

	if (u->tr.ssl && transport_tls_idle_check(&u->tr) == 0)
		return;
	upstream_close(u);
}

static void pool_on_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop;
	(void)revents;
	upstream_close(w->data);
}

void upstream_setup(struct ev_loop *loop, const struct upstream_limits *limits)
{
	up_loop = loop;
	up_limits = *limits;
	backend_close_idle = close_idle;
}

struct ev_loop *upstream_loop(void)
{
	return up_loop;
}

const struct upstream_limits *upstream_limits(void)
{
	return &up_limits;
}

void upstream_release(void)
{
	transport_tls_ctx_free(up_limits.tls);
	up_limits.tls = NULL;
}

unsigned upstream_open_count(void)
{
	return open_count;
}

unsigned upstream_pool_shed(unsigned n)
{
	unsigned closed = 0;

	for (struct backend *b = backend_all(); b && closed < n; b = b->all_next)
		while (closed < n && !LIST_EMPTY(&b->idle)) {
			upstream_close(LIST_FIRST(&b->idle));
			closed++;
		}
	return closed;
}

int upstream_socket(struct backend *b)
{
	int fd = socket(b->addr.ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	/* Out of descriptors: an idle pooled connection is worth less than
	 * this request. */
	if (fd == -1 && (errno == EMFILE || errno == ENFILE) && upstream_pool_shed(1))
		fd = socket(b->addr.ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1)
		return -1;
	if (connect(fd, (struct sockaddr *)&b->addr.ss, b->addr.len) == -1 && errno != EINPROGRESS) {
		int saved = errno;

		close(fd);
		errno = saved;
		return -1;
	}
	net_set_nodelay(fd);
	net_set_notsent_lowat(fd, UNSENT_LIMIT);	/* an upload to a slow backend, as for clients */
	return fd;
}

struct upstream *upstream_connect(struct backend *b)
{
	struct upstream *u;
	int fd = upstream_socket(b);

	if (fd == -1)
		return NULL;
	u = calloc(1, sizeof(*u));
	if (!u) {
		close(fd);
		errno = ENOMEM;
		return NULL;
	}
	transport_plain_init(&u->tr, fd);
	if (up_limits.tls) {
		char ip[64];

		net_addr_ip((struct sockaddr *)&b->addr.ss, ip, sizeof(ip));
		if (transport_tls_connect(&u->tr, up_limits.tls, fd, up_limits.tls_sni,
					  up_limits.tls_sni, ip, &b->tls_session) == -1) {
			close(fd);
			free(u);
			errno = ENOMEM;
			return NULL;
		}
	}
	u->be = b;
	u->loop = up_loop;
	backend_ref(b);
	b->connections++;
	open_count++;
	ev_io_init(&u->rio, pool_on_read, fd, EV_READ);
	ev_io_init(&u->wio, pool_on_read, fd, EV_WRITE);
	ev_init(&u->timer, pool_on_timer);
	u->rio.data = u->wio.data = u->timer.data = u;
	return u;
}

struct upstream *upstream_pool_get(struct backend *b)
{
	struct upstream *u = LIST_FIRST(&b->idle);

	if (!u)
		return NULL;
	pool_remove(u);
	ev_io_stop(up_loop, &u->rio);
	ev_timer_stop(up_loop, &u->timer);
	return u;
}

void upstream_pool_put(struct upstream *u, int stopping)
{
	struct backend *b = u->be;

	if (u->detach) {
		u->detach(u, 1);
		return;
	}
	ev_io_stop(up_loop, &u->rio);
	ev_io_stop(up_loop, &u->wio);
	u->owner = NULL;
	if (stopping || b->removed || b->state != BACKEND_UP || b->nidle >= up_limits.pool_size) {
		upstream_close(u);
		return;
	}
	ev_set_cb(&u->rio, pool_on_read);
	ev_set_cb(&u->wio, pool_on_read);
	u->rio.data = u->wio.data = u;
	ev_io_start(up_loop, &u->rio);
	u->timer.repeat = up_limits.idle_timeout;
	ev_timer_again(up_loop, &u->timer);
	LIST_INSERT_HEAD(&b->idle, u, link);
	u->pooled = 1;
	b->nidle++;
}
