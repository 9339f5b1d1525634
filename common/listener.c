/* listener: a listening socket in a libev loop that hands accepted fds to a callback. */
#include "listener.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
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
			if (errno == EMFILE || errno == ENFILE) {
				log_warn("accept: out of file descriptors", "listen=%s", l->name);
				return;
			}
			log_error("accept failed", "listen=%s error=%d", l->name, errno);
			return;
		}
		l->on_accept(l, fd, (struct sockaddr *)&peer);
	}
}

int listener_init(struct listener *l, struct ev_loop *loop, const char *addr, int reuseport,
		  listener_accept_cb cb, void *data, char *err, size_t errsz)
{
	struct net_addr na;

	memset(l, 0, sizeof(*l));
	l->fd = -1;
	if (net_parse_addr(addr, &na, err, errsz) == -1)
		return -1;
	l->fd = net_listen(&na, reuseport, 1024, err, errsz);
	if (l->fd == -1)
		return -1;
	{
		struct sockaddr_storage ss;
		socklen_t len = sizeof(ss);

		getsockname(l->fd, (struct sockaddr *)&ss, &len);
		net_addr_format((struct sockaddr *)&ss, l->name, sizeof(l->name));
	}
	l->loop = loop;
	l->on_accept = cb;
	l->data = data;
	ev_io_init(&l->io, listener_on_readable, l->fd, EV_READ);
	l->io.data = l;
	return 0;
}

void listener_start(struct listener *l)
{
	ev_io_start(l->loop, &l->io);
}

void listener_stop(struct listener *l)
{
	ev_io_stop(l->loop, &l->io);
}

void listener_release(struct listener *l)
{
	if (l->fd == -1)
		return;
	listener_stop(l);
	close(l->fd);
	l->fd = -1;
}
