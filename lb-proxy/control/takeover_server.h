/* takeover_server: the running proxy's side of a takeover: it offers its
 * listening sockets at a Unix socket in the runtime dir, and stops when its
 * replacement has them and says so. */
#ifndef LB_PROXY_TAKEOVER_SERVER_H
#define LB_PROXY_TAKEOVER_SERVER_H

#include <ev.h>

#include "log.h"
#include <sys/types.h>

#include "takeover.h"

enum takeover_peer_state {
	TAKEOVER_PEER_NONE = 0,	/* no replacement connected */
	TAKEOVER_PEER_HELLO,	/* connected: its HELLO is awaited (timer runs) */
	TAKEOVER_PEER_SENT,	/* it has the sockets: its STOP (or its leaving) is awaited */
};

typedef void (*takeover_stop_cb)(void *data);

struct takeover_server {
	struct ev_loop *loop;
	int fd;				/* the listening Unix socket, -1 when none */
	ev_io io;
	int peer;			/* the replacement's connection, -1 when none */
	ev_io peer_io;
	ev_timer peer_timer;		/* TAKEOVER_TIMEOUT_SECONDS for its HELLO */
	enum takeover_peer_state state;
	struct takeover_msg in;		/* what the peer sent so far */
	size_t got;
	dev_t dev;			/* the socket file, to unlink only our own */
	ino_t ino;
	char path[108];
	int listen_fd, admin_fd, listen2_fd;	/* handed over, never closed here */
	char listen_name[TAKEOVER_ADDR_MAX], admin_name[TAKEOVER_ADDR_MAX];
	char listen2_name[TAKEOVER_ADDR_MAX];	/* "" without a second listener */
	unsigned tls;			/* as takeover_msg.tls */
	takeover_stop_cb on_stop;	/* the peer serves now: stop accepting and drain */
	void *data;
	struct log_limit refused_log;	/* "a second replacement at once refused" */
};
/* The sockets a server offers (it never owns nor closes them). */
struct takeover_offer {
	int listen_fd;			/* the client listener */
	const char *listen_name;	/* its bound address (net_addr_format) */
	int admin_fd;			/* the admin listener */
	const char *admin_name;
	int listen2_fd;			/* a second client listener, or -1 */
	const char *listen2_name;	/* its address, or "" */
	unsigned tls;			/* bit 0: listen speaks TLS, bit 1: listen2 */
};

/*
 * Offers the sockets of `offer` (copied) at `path`, replacing a socket file
 * nobody accepts on (a dead proxy's). When a replacement has them and says
 * STOP, on_stop(data) runs once, after the STOPPING answer was written; the
 * server is closed by then. Returns 0, or -1 with err filled (a live proxy
 * already offers this path: the caller logs it and goes on without).
 */
int takeover_server_init(struct takeover_server *t, struct ev_loop *loop, const char *path,
			 const struct takeover_offer *offer, takeover_stop_cb on_stop, void *data,
			 char *err, size_t errsz);
/* Closes the server and its peer; unlinks the path if it is still ours. */
void takeover_server_release(struct takeover_server *t);

#endif
