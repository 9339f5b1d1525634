/* admin: lb-proxy's admin listener: /health, /ready, /info, /debug/next-backend,
 * /metrics, and lb-discover's /admin/ routes on its own set (admin_set.h);
 * with --admin-path, the same on the traffic port under a prefix. */
#ifndef LB_PROXY_ADMIN_H
#define LB_PROXY_ADMIN_H

#include "conn_guard.h"
#include "http/proxy.h"
#include "listener.h"
#include "log.h"

/* seconds a client has to send its request head: 408 after it */
#define ADMIN_HEAD_TIMEOUT 2.0
/* seconds for the whole exchange (the answer taken too) */
#define ADMIN_TIMEOUT 10.0
/* connections at once; a new one evicts the oldest */
#define ADMIN_MAX_CONNECTIONS 64
/* connections from one client address at once; a new one evicts that
 * client's oldest */
#define ADMIN_MAX_PER_CLIENT 16
/* seconds between two log lines about evicted connections */
#define ADMIN_EVICT_LOG_INTERVAL 10.0

struct tcp_proxy;

struct admin {
	struct proxy *px;
	struct listener listener;
	struct conn_guard guard;	/* ADMIN_MAX_CONNECTIONS, ADMIN_MAX_PER_CLIENT */
	struct log_limit evict_log;
	const struct tcp_proxy *tcp;	/* --mode tcp: its series join /metrics (else NULL) */
	char *token;			/* --admin-token's: writes need it; NULL: none */
	int writes_open;		/* writes taken without a token (loopback, or
					 * --admin-insecure) */
	char runtime_dir[256];		/* on the bus: named when writes go to lb-discover */
};

/*
 * Reads --admin-token and checks --admin-path (a path that starts and ends
 * with '/') at start-up; `runtime_dir`: the bus's, named in the answers.
 * Without a token, writes are taken only on a loopback --admin (or with
 * --admin-insecure), as lb-discover's. Returns 0, or -1 with err (exit 2).
 */
int admin_configure(struct admin *a, const struct proxy_options *opts, const char *runtime_dir,
		    char *err, size_t errsz);

/* Binds the admin address; returns 0 or -1 with err filled. */
int admin_init(struct admin *a, struct proxy *px, const char *addr, char *err, size_t errsz);
/* Takes over a bound admin socket another lb-proxy handed over (--takeover):
 * the admin owns fd from now on. Returns 0 or -1 with err filled. */
int admin_adopt(struct admin *a, struct proxy *px, int fd, char *err, size_t errsz);
/* Starts listening and accepting; returns 0 or -1 (logged). */
int admin_start(struct admin *a);
/* Closes the listener and any admin connection still open. */
void admin_release(struct admin *a);

#endif
