/* listener: a listening socket in a libev loop that hands accepted fds to a callback. */
#include "listener.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"

static void listener_on_readable(struct ev_loop *loop, ev_io *w, int revents)
{
	struct listener *l = w->data;
	(void)loop;
	(void)revents;

	/* Bounded so one busy listener cannot starve the rest of the loop. */
	for (int i = 0; i < 64; i++) {
		struct sockaddr_storage peer;
		socklen_t len = sizeof(peer);
		int fd = accept4(l->fd, (struct sockaddr *)&peer, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd == -1) {
			if (errno == EAGAIN || errno == EINTR || errno == ECONNABORTED)
				return;
			if ((errno == EMFILE || errno == ENFILE) && l->reclaim && l->reclaim(l->data))
				continue;
			if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
				unsigned long n = log_every(&l->log_limit, ev_now(loop), 1.0);

				/* The connection stays in the backlog, so the socket
				 * stays readable: without a pause this spins. */
				if (n)
					log_warn("accept: out of resources, pausing", "listen=%s error=\"%s\" "
						 "times=%lu", l->name, strerror(errno), n);
				ev_io_stop(loop, &l->io);
				l->backing_off = 1;
				ev_timer_set(&l->backoff, LISTENER_BACKOFF_SECONDS, 0.0);
				ev_timer_start(loop, &l->backoff);
				return;
			}
			log_error("accept failed", "listen=%s error=%d", l->name, errno);
			return;
		}
		l->on_accept(l, fd, (struct sockaddr *)&peer);
		/* The owner may have stopped accepting (a connection limit). */
		if (!l->wanted)
			return;
	}
}

static void listener_on_backoff(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct listener *l = w->data;
	(void)revents;

	l->backing_off = 0;
	if (l->wanted)
		ev_io_start(loop, &l->io);
}

/* The bound address for logs, and the watchers. */
static void listener_wire(struct listener *l, struct ev_loop *loop, listener_accept_cb cb,
			  void *data)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	if (getsockname(l->fd, (struct sockaddr *)&ss, &len) == 0)
		net_addr_format((struct sockaddr *)&ss, l->name, sizeof(l->name));
	l->loop = loop;
	l->on_accept = cb;
	l->data = data;
	ev_io_init(&l->io, listener_on_readable, l->fd, EV_READ);
	ev_init(&l->backoff, listener_on_backoff);
	l->io.data = l->backoff.data = l;
}

int listener_init(struct listener *l, struct ev_loop *loop, const char *addr, int reuseport,
		  listener_accept_cb cb, void *data, char *err, size_t errsz)
{
	struct net_addr na;

	memset(l, 0, sizeof(*l));
	l->fd = -1;
	if (net_parse_addr(addr, &na, err, errsz) == -1)
		return -1;
	l->fd = net_bind(&na, reuseport, err, errsz);
	if (l->fd == -1)
		return -1;
	listener_wire(l, loop, cb, data);
	return 0;
}

int listener_adopt(struct listener *l, struct ev_loop *loop, int fd, listener_accept_cb cb,
		   void *data, char *err, size_t errsz)
{
	int type = 0, accepting = 0;
	socklen_t len = sizeof(type);

	memset(l, 0, sizeof(*l));
	l->fd = -1;
	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) == -1 || type != SOCK_STREAM) {
		snprintf(err, errsz, "the socket handed over is not a TCP socket");
		return -1;
	}
	len = sizeof(accepting);
	getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &accepting, &len);
	l->fd = fd;
	l->listening = accepting != 0;
	listener_wire(l, loop, cb, data);
	return 0;
}

int listener_start(struct listener *l)
{
	if (!l->listening) {
		if (listen(l->fd, LISTENER_BACKLOG) == -1) {
			log_error("cannot listen", "listen=%s error=\"%s\"", l->name, strerror(errno));
			return -1;
		}
		l->listening = 1;
	}
	l->wanted = 1;
	if (!l->backing_off)
		ev_io_start(l->loop, &l->io);
	return 0;
}

void listener_stop(struct listener *l)
{
	l->wanted = 0;
	ev_io_stop(l->loop, &l->io);
}

void listener_release(struct listener *l)
{
	if (l->fd == -1)
		return;
	listener_stop(l);
	ev_timer_stop(l->loop, &l->backoff);
	close(l->fd);
	l->fd = -1;
}
