/* proxy: lb-proxy's process-wide state, shared by sessions, admin and main. */
#ifndef LB_PROXY_PROXY_H
#define LB_PROXY_PROXY_H

#include <ev.h>
#include <sys/queue.h>

#include "backend.h"
#include "balance.h"
#include "hashkey.h"
#include "listener.h"
#include "metrics.h"

struct proxy_options {
	char *listen;
	long port;
	char *admin;
	char *backends;
	double connect_timeout;		/* seconds for a backend connect */
	double response_timeout;	/* seconds from request sent to response head */
	double header_timeout;		/* seconds a client has to send a request head */
	double keepalive_timeout;	/* seconds an idle client connection is kept */
	double idle_timeout;		/* seconds without traffic mid-exchange or in a tunnel */
	double upstream_idle_timeout;	/* seconds a pooled backend connection is kept */
	double drain_timeout;		/* seconds in-flight requests get after SIGTERM */
	double fail_timeout;		/* seconds a backend that refused a connect is skipped */
	char *runtime_dir;		/* on the bus: sets from lb-discover */
	char *service;
	double heartbeat;		/* lb-discover's; stale after 3 silent ones */
	double report_interval;
	double initial_set_timeout;	/* on the bus: seconds to wait for a set before listening */
	double loop_batch;		/* libev io_collect_interval */
	char *balance;			/* --balance: an algorithm name, or ip-hash */
	char *hash_key;			/* --hash-key */
	char *trusted_proxies;		/* --trusted-proxies CIDR,... */
	char *sticky_cookie;
	char *sticky_secret;
	double slow_start;		/* seconds a backend takes to reach its weight */
	long retries;
	long max_connections;
	long max_header_size;
	long max_body;			/* request body bytes allowed (0: no limit) */
	long upstream_pool_size;
	int access_log;
	int reuse_port;
	char *log_level;
	char *log_format;
	char *tls_cert;			/* PEM: the client listener speaks TLS */
	char *tls_key;
	double tls_handshake_timeout;	/* seconds a client has to complete a handshake */
	int takeover;			/* take the listeners of the proxy running on this port */
};

struct session;
struct ssl_ctx_st;

struct proxy {
	struct ev_loop *loop;
	/* Read through on every use: a reload (SIGHUP) points it at a new
	 * reading and frees the previous one, so nothing keeps a pointer into
	 * *opts past the callback it runs in. */
	const struct proxy_options *opts;
	struct listener listener;
	struct ssl_ctx_st *tls;		/* the client listener's TLS context, or NULL */
	struct backend_set set;
	struct balancer balancer;	/* over `set`, rebuilt when it changes */
	struct hashkey hash_key;
	const char *hash_key_spec;	/* as given (ip-hash: client-ip) */
	struct trusted trusted;
	struct hashkey sticky_key;	/* the sticky cookie as a key to find */
	LIST_HEAD(, session) sessions;	/* open client connections */
	struct session *free_sessions;	/* closed ones kept for reuse */
	unsigned nsessions, nfree;
	unsigned peak_sessions;		/* most open at once since the last trim */
	ev_timer trim_timer;		/* gives idle caches back after a peak */
	int stopping;
	int accept_paused;		/* at --max-connections */
	int on_bus;			/* sets come from lb-discover */
	int listening;			/* the client listener was opened */
	const char *rundir;		/* on the bus: the runtime dir, resolved */
	ev_timer initial_set_timer;	/* on the bus: listen even without a set */
	void (*set_applied)(struct proxy *px);	/* after each set applied (main.c) */
	int stale;			/* on the bus, and no set heard for a while */
	ev_timer drain_timer;
	ev_prepare batch_check;		/* sets the collect interval of the next poll */
	int bulk;			/* a read of this loop pass filled its buffer */
	struct metrics metrics;
	double started;
};

#endif
