/* listener: a listening socket in a libev loop that hands accepted fds to a callback. */
#ifndef LB_LISTENER_H
#define LB_LISTENER_H

#include <ev.h>

#include "net.h"

struct listener;
/* Called with a non-blocking, close-on-exec fd the callback now owns. */
typedef void (*listener_accept_cb)(struct listener *l, int fd, const struct sockaddr *peer);

struct listener {
	ev_io io;
	int fd;
	struct ev_loop *loop;
	listener_accept_cb on_accept;
	void *data;
	char name[64];		/* the bound address, for logs */
};

/* Parses `addr`, binds and listens; returns 0 or -1 with err filled. */
int listener_init(struct listener *l, struct ev_loop *loop, const char *addr, int reuseport,
		  listener_accept_cb cb, void *data, char *err, size_t errsz);
void listener_start(struct listener *l);
void listener_stop(struct listener *l);
/* Stops and closes the socket. */
void listener_release(struct listener *l);

#endif
