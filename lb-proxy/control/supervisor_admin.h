/* supervisor_admin: the one admin port of lb-proxy --workers N. GET /metrics
 * and GET /info are answered here, the workers' fetched (non-blocking) and
 * merged (metrics_merge.h, info_merge.h); with --backends a write goes to
 * every worker; any other request is relayed to the first worker that
 * listens, whose answers the others would give alike (the routes read the
 * set, or write to lb-discover on the bus). */
#ifndef LB_PROXY_SUPERVISOR_ADMIN_H
#define LB_PROXY_SUPERVISOR_ADMIN_H

#include <ev.h>
#include <netinet/in.h>
#include <sys/queue.h>
#include <sys/types.h>

#include "buf.h"
#include "conn_guard.h"
#include "listener.h"
#include "log.h"

/* Seconds to read a request head, and for a whole /metrics exchange. */
#define SUPERVISOR_ADMIN_TIMEOUT 10.0
/* Seconds a relayed connection may stay silent (drain --wait parks on it). */
#define SUPERVISOR_ADMIN_RELAY_IDLE 300.0
/* Connections at once, and from one client address: a new one evicts the
 * oldest (conn_guard.h), as the workers' admin does. */
#define SUPERVISOR_ADMIN_MAX_CONNECTIONS 64
#define SUPERVISOR_ADMIN_MAX_PER_CLIENT 16
/* The largest request head read before deciding where it goes. */
#define SUPERVISOR_ADMIN_HEAD_MAX 16384
/* The largest body of an admin write sent to every worker (413 beyond). */
#define SUPERVISOR_ADMIN_BODY_MAX (1u << 20)

/* A worker's admin as the supervisor reaches it. */
struct supervisor_target {
	struct sockaddr_in addr;	/* 127.0.0.1, an ephemeral port the supervisor bound */
	pid_t pid;			/* 0 while not running */
	unsigned up : 1;		/* it listens (said it was ready) */
};

struct supervisor_admin_conn;

struct supervisor_admin {
	struct ev_loop *loop;
	struct listener listener;
	const struct supervisor_target *targets;	/* the supervisor's, updated in place */
	unsigned ntargets;
	/* Appends the supervisor's own series to a /metrics answer. */
	void (*own_metrics)(void *data, struct buf *out);
	void *data;
	/* --backends: each worker holds its own set, so a write (not GET or
	 * HEAD) goes to every worker, and the first one's answer to the client */
	int broadcast_writes;
	struct conn_guard guard;
	struct log_limit evict_log;
	LIST_HEAD(, supervisor_admin_conn) conns;
};

/* Takes the bound (maybe listening) admin socket fd; targets[0..n) stay
 * the caller's. Returns 0, or -1 with err filled (fd is then the caller's). */
int supervisor_admin_init(struct supervisor_admin *a, struct ev_loop *loop, int fd,
			  const struct supervisor_target *targets, unsigned n,
			  void (*own_metrics)(void *data, struct buf *out), void *data, char *err,
			  size_t errsz);
/* Accepting on. Returns 0 or -1 (logged). */
int supervisor_admin_start(struct supervisor_admin *a);
/* Stops accepting and closes the socket; connections open go on. */
void supervisor_admin_close(struct supervisor_admin *a);
/* Closes the socket and every connection. */
void supervisor_admin_release(struct supervisor_admin *a);

#endif
