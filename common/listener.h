/* listener: a listening socket in a libev loop that hands accepted fds to a callback. */
#ifndef LB_LISTENER_H
#define LB_LISTENER_H

#include <ev.h>

#include "log.h"
#include "net.h"

struct listener;
/* Called with a non-blocking, close-on-exec fd the callback now owns. */
typedef void (*listener_accept_cb)(struct listener *l, int fd, const struct sockaddr *peer);

/* How long accepting pauses when the process is out of descriptors or
 * memory: the pending connections wait in the backlog meanwhile. */
#define LISTENER_BACKOFF_SECONDS 0.1
#define LISTENER_BACKLOG 1024

struct listener {
	ev_io io;
	ev_timer backoff;	/* accepting resumes when it fires */
	int fd;
	struct ev_loop *loop;
	listener_accept_cb on_accept;
	void *data;
	/* Optional: out of descriptors, frees some (idle connections) and
	 * returns how many, so the accept is tried again before pausing. */
	unsigned (*reclaim)(void *data);
	unsigned wanted : 1;	/* started by the owner (listener_start) */
	unsigned listening : 1;	/* listen() was called */
	unsigned backing_off : 1;
	struct log_limit log_limit;
	char name[64];		/* the bound address, for logs */
};

/* Parses `addr` and binds (the bound address is in `name`); the socket
 * listens from the first listener_start(). Returns 0 or -1 with err filled. */
int listener_init(struct listener *l, struct ev_loop *loop, const char *addr, int reuseport,
		  listener_accept_cb cb, void *data, char *err, size_t errsz);
/* Like listener_init, for a socket already bound (and maybe listening)
 * that another process handed over (lb-proxy --takeover): the listener
 * owns fd from now on. Returns 0 or -1 with err filled. */
int listener_adopt(struct listener *l, struct ev_loop *loop, int fd, listener_accept_cb cb,
		   void *data, char *err, size_t errsz);
/* Accepting on or off, as the owner wants it (listener_start returns -1 and
 * logs when the first listen() fails); a pause for lack of
 * descriptors (EMFILE, ENFILE, ENOBUFS, ENOMEM) ends by itself after
 * LISTENER_BACKOFF_SECONDS and does not change what the owner wants. */
int listener_start(struct listener *l);
void listener_stop(struct listener *l);
/* Stops and closes the socket. */
void listener_release(struct listener *l);

#endif
