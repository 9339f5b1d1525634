/* tcp: lb-proxy's TCP mode (--mode tcp, HAProxy's `mode tcp`): the state its
 * connections share, and the seam that chooses where a connection goes. */
#ifndef LB_PROXY_TCP_H
#define LB_PROXY_TCP_H

#include <ev.h>
#include <sys/queue.h>
#include <sys/socket.h>

#include "listener.h"
#include "upstream/backend.h"
#include "upstream/balance.h"

/* Client listeners TCP mode accepts on, at most (lb-proxy's PROXY_LISTEN_MAX). */
#define TCP_LISTEN_MAX 2
/* Closed sessions kept for reuse, at most, with their two buffers (64 KiB
 * each session): the trim timer gives back what the last peak did not use. */
#define TCP_FREE_MAX 1024
/* How often the free sessions are trimmed, and how many are always kept. */
#define TCP_TRIM_SECONDS 2.0
#define TCP_TRIM_FLOOR 64

/* The settings a connection reads, on every use (a reload replaces them:
 * control/tcp_setup.c fills them from lb-proxy's options). */
struct tcp_config {
	double connect_timeout;		/* seconds for one connect to a backend */
	double idle_timeout;		/* seconds without a byte either way */
	double hello_timeout;		/* seconds a client has to send its ClientHello */
	double drain_timeout;		/* seconds connections get after SIGTERM */
	double fail_timeout;		/* seconds a backend whose connect failed is skipped */
	unsigned retries;		/* other backends tried after a failed connect */
	unsigned max_connections;	/* client connections at once; accepting pauses beyond */
	int send_proxy_v2;		/* a PROXY protocol v2 header goes first to the backend */
	int inspect_sni;		/* read the ClientHello's server name before choosing */
	int access_log;			/* one line per connection */
};

/* The backends a connection is balanced over: a set and its balancer. */
struct tcp_pool {
	struct backend_set *set;
	struct balancer *balancer;
	int send_proxy_v2;	/* its backends take a PROXY v2 header (as cfg's, per route) */
};

/* What the route seam is asked about a connection. */
struct tcp_route_query {
	const struct sockaddr *client;
	const char *sni;	/* the ClientHello's server name; NULL: not inspected,
				 * not TLS, or none named */
	void *held;		/* what the connection was accepted with
				 * (tcp_accept_take): a route table, say */
	unsigned port;		/* the local port it came to (0: not told) */
};

/* The route seam's answer; every one but TCP_ROUTE_OK closes the
 * connection, counted by reason in lb_proxy_tcp_refused_total. */
enum tcp_route_verdict {
	TCP_ROUTE_OK = 0,	/* *pool filled: connect */
	TCP_ROUTE_NO_ROUTE,	/* no route takes this server name (or no name) */
	TCP_ROUTE_UNRESOLVED,	/* the backendRef drawn by weight does not resolve */
	TCP_ROUTE_VERDICTS,
};

/*
 * The routing seam: fills *pool with the backends a new connection goes to,
 * given q. Called once per connection, before the first connect; retries
 * stay in that pool, which must live as long as q->held does (or as tp).
 * Must not block or allocate per call.
 */
typedef enum tcp_route_verdict (*tcp_route_fn)(void *data, const struct tcp_route_query *q,
					       struct tcp_pool *pool);

/* Outcomes of --tcp-inspect-sni, counted in the metrics. */
enum tcp_sni_result {
	TCP_SNI_FOUND = 0,	/* a ClientHello that names a server */
	TCP_SNI_NONE,		/* a ClientHello without server_name (or split over records) */
	TCP_SNI_NOT_TLS,	/* the first bytes are not a (well-formed) ClientHello */
	TCP_SNI_TIMEOUT,	/* nothing complete within the hello timeout (or the client
				 * half-closed first): relayed without a name */
	TCP_SNI_RESULTS,
};

struct tcp_metrics {
	unsigned long long accepted;		/* client connections */
	unsigned long long connect_failures;	/* connects to backends that failed */
	unsigned long long no_backend;		/* connections closed: no backend could take them */
	unsigned long long refused[TCP_ROUTE_VERDICTS];	/* closed by the route seam, by verdict */
	unsigned long long sni[TCP_SNI_RESULTS];
	unsigned long long bytes_in, bytes_out;	/* client to backends, backends to clients */
};

struct tcp_session;

struct tcp_proxy {
	int on;				/* --mode tcp */
	struct ev_loop *loop;
	struct tcp_config cfg;
	tcp_route_fn route;
	void *route_data;
	/* Optional: a connection ends; lets go of the held it was accepted with. */
	void (*release)(void *data, void *held);
	/* Optional: after tcp_accept_stop, the last connection closed (or the
	 * drain timed out); called instead of ending the loop, for a tp that
	 * shares its loop with HTTP's connections. */
	void (*drained)(void *data);
	struct log_limit refused_log;	/* "connection refused by routing" lines */
	/* Optional: a backend's breaker changed (a failure counted, an
	 * ejection): on the bus the subscriber reports it soon. */
	void (*breaker_changed)(void *data);
	void *breaker_data;
	struct listener *listeners[TCP_LISTEN_MAX];	/* paused at max_connections */
	unsigned nlisteners;
	LIST_HEAD(, tcp_session) sessions;	/* open client connections */
	struct tcp_session *free_sessions;	/* closed ones kept for reuse */
	/* set by tcp_accept_init: ends a session (tcp_session_close), and
	 * takes back one that ended (so the relay and the session never call
	 * up into their callers) */
	void (*session_close)(struct tcp_session *s, const char *why);
	void (*session_closed)(struct tcp_proxy *tp, struct tcp_session *s);
	unsigned nsessions, nfree;
	unsigned peak_sessions;		/* most open at once since the last trim */
	ev_timer trim_timer;
	int stopping;			/* SIGTERM: no new connections */
	int paused;			/* accepting paused at max_connections */
	ev_timer drain_timer;
	struct tcp_metrics metrics;
};

#endif
