/* upstream: connections to backends, and the keep-alive pool each backend keeps. */
#ifndef LB_PROXY_UPSTREAM_H
#define LB_PROXY_UPSTREAM_H

#include <ev.h>
#include <sys/queue.h>

#include "backend.h"
#include "net/transport.h"

/* Unsent bytes a client or backend socket may hold in the kernel
 * (TCP_NOTSENT_LOWAT); the rest waits in the session's bounded buffers. */
#define UNSENT_LIMIT (64 * 1024)

struct upstream {
	struct transport tr;		/* plain, or TLS with --backend-tls */
	struct backend *be;		/* holds a reference */
	struct ev_loop *loop;
	ev_io rio, wio;			/* the session's callbacks while in use */
	ev_timer timer;			/* pool idle timeout */
	unsigned requests;		/* exchanges served on this connection */
	void *owner;			/* the session using it, NULL in the pool */
	int pooled;			/* in be->idle */
	LIST_ENTRY(upstream) link;	/* in be->idle */
	/* An HTTP/2 stream to the backend (h2_pool.c; tr.fd is -1): its
	 * connect's error for forward_connected (0: ready), and the call that
	 * takes it back when the session is done with it (whole: the exchange
	 * ended cleanly) instead of pooling or closing a socket. NULL for a
	 * connection of its own. */
	int connect_error;
	void (*detach)(struct upstream *u, int whole);
};

struct upstream_limits {
	unsigned pool_size;		/* idle connections kept per backend */
	double idle_timeout;		/* seconds a pooled connection is kept */
	struct ssl_ctx_st *tls;		/* --backend-tls: the client context (owned), or NULL */
	const char *tls_sni;		/* --backend-sni, or NULL */
};

struct ssl_ctx_st;

/* Takes the limits (and owns limits->tls from now on). */
void upstream_setup(struct ev_loop *loop, const struct upstream_limits *limits);
/* The loop and the limits upstream_setup took (h2_pool.c's too). */
struct ev_loop *upstream_loop(void);
const struct upstream_limits *upstream_limits(void);
/* Frees what upstream_setup took (after the last connection closed). */
void upstream_release(void);
/* Starts a non-blocking connect to b (with --backend-tls, a TLS client over
 * it: forward.c drives the handshake). Returns the connection (its connect
 * completes when wio fires), or NULL with errno set if it failed at once.
 * Out of descriptors, it closes an idle pooled connection and tries again. */
struct upstream *upstream_connect(struct backend *b);
/* A non-blocking socket connecting to b (SOCK_NONBLOCK, TCP_NODELAY, the
 * unsent limit): the fd, or -1 with errno set. Out of descriptors, it
 * closes an idle pooled connection and tries again. */
int upstream_socket(struct backend *b);
/* A pooled connection to b that is still open, or NULL. */
struct upstream *upstream_pool_get(struct backend *b);
/* Keeps u for the next request to its backend, or closes it when the pool
 * is full, the backend is removed or not up, or the process is stopping. */
void upstream_pool_put(struct upstream *u, int stopping);
void upstream_close(struct upstream *u);
/* Closes up to n idle pooled connections (of any backend), to give their
 * descriptors to new connections; returns how many it closed. */
unsigned upstream_pool_shed(unsigned n);
/* Connections open to all backends. */
unsigned upstream_open_count(void);

#endif
