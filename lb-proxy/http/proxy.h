/* proxy: lb-proxy's process-wide state, shared by sessions, admin and main. */
#ifndef LB_PROXY_PROXY_H
#define LB_PROXY_PROXY_H

#include <ev.h>
#include <sys/queue.h>

#include "config.h"
#include "listener.h"
#include "metrics.h"
#include "policy/cors.h"
#include "policy/hashkey.h"
#include "policy/headers.h"
#include "policy/ratelimit.h"
#include "policy/retry.h"
#include "upstream/backend.h"
#include "upstream/balance.h"

/* Client listeners at most: one TLS and one plain (HAProxy's `bind :443 ssl`
 * and `bind :80` in one frontend). */
#define PROXY_LISTEN_MAX 2
/* The --listen prefix that marks the TLS listener of two. */
#define PROXY_LISTEN_TLS_PREFIX "tls:"

struct proxy_options {
	struct config_list listens;	/* --listen as given ([tls:]ADDR:PORT, repeatable) */
	/* From `listens` (or --port, or the default) by proxy_config_read:
	 * the addresses without their prefix and whether each speaks TLS;
	 * `listen` is the first (it names the takeover socket's port). */
	char *listen;
	const char *listen_addr[PROXY_LISTEN_MAX];
	int listen_tls[PROXY_LISTEN_MAX];
	unsigned nlisten;
	int redirect_https;		/* the plain listener answers 308 to the TLS one */
	long port;
	char *admin;
	char *admin_token;		/* a file holding the bearer token admin writes need */
	int admin_insecure;		/* admin writes without a token off loopback */
	char *admin_path;		/* the admin routes under this prefix on the traffic port */
	char *backends;
	double connect_timeout;		/* seconds for a backend connect */
	double response_timeout;	/* seconds from request sent to response head */
	double header_timeout;		/* seconds a client has to send a request head */
	double keepalive_timeout;	/* seconds an idle client connection is kept */
	double idle_timeout;		/* seconds without traffic mid-exchange or in a tunnel */
	double upstream_idle_timeout;	/* seconds a pooled backend connection is kept */
	double drain_timeout;		/* seconds in-flight requests get after SIGTERM */
	double fail_timeout;		/* seconds a backend that refused a connect is skipped */
	long eject_5xx;			/* consecutive 5xx that eject a backend (0: off) */
	long eject_gateway;		/* consecutive gateway failures that eject (0: off) */
	double eject_time;		/* seconds, times the backend's ejections */
	double eject_time_max;		/* seconds, the cap */
	long eject_max_percent;		/* of the set ejected at once */
	long panic_threshold;		/* percent of the up backends available below which
					 * every up one gets requests (0: off) */
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
	long retries;			/* attempts after the first, at most */
	char *retry_on;			/* --retry-on: reasons, parsed into proxy.retry */
	double per_try_timeout;		/* seconds an attempt waits for a response head */
	double retry_backoff;		/* base of the backoff between attempts, seconds */
	double retry_backoff_max;	/* its ceiling (0: RETRY_BACKOFF_MAX_FACTOR x base) */
	double retry_budget;		/* retries in flight, % of requests in flight */
	long max_per_backend;		/* requests in flight to one backend (0: no cap) */
	long queue_size;		/* requests waiting for a backend with room */
	double queue_timeout;		/* seconds one may wait, then 503 overloaded */
	long max_connections;
	long max_header_size;
	long max_body;			/* request body bytes allowed (0: no limit) */
	/* RequestMirror copies (http/mirror.h) */
	long mirror_max_inflight;	/* copies at once (past it, dropped) */
	long mirror_max_body;		/* body bytes a copy may carry (past it, skipped) */
	double mirror_timeout;		/* seconds a copy may take, from the request's end */
	long upstream_pool_size;
	int access_log;
	double log_flush;		/* seconds lines may wait while they keep coming */
	int reuse_port;
	char *log_level;
	char *log_format;
	char *tls_cert;			/* PEM: the client listener speaks TLS */
	char *tls_key;
	double tls_handshake_timeout;	/* seconds a client has to complete a handshake */
	char *monitor_uri;		/* the path answered by the proxy itself, or NULL */
	struct config_list set_request_header;	/* "Name: value" rules (headers.h) */
	struct config_list set_response_header;
	struct config_list remove_response_header;	/* "Name" rules */
	char *rate_limit;		/* --rate-limit N/s or N/m, or NULL: off */
	long rate_burst;		/* --rate-burst (0: N) */
	char *rate_key;			/* --rate-key client-ip | header:NAME */
	long rate_table_size;		/* --rate-table-size: keys tracked at once */
	char *tls_dir;			/* pairs chosen by SNI (NAME.crt/NAME.key, SUB/tls.crt) */
	char *tls_ticket_keys;		/* a fleet's shared session ticket keys */
	int tls_resumption;		/* clients may resume sessions (tickets, cache) */
	int backend_tls;		/* backends speak TLS */
	char *backend_ca;		/* PEM CA file backends are verified against */
	char *backend_sni;		/* SNI and the name verified on backends */
	int backend_tls_insecure;	/* backend certificates are not verified */
	char *backend_protocol;		/* http1, h2c or h2 (upstream/h2_pool.h) */
	int takeover;			/* take the listeners of the proxy running on this port */
	char *workers;			/* --workers N|auto: event-loop processes (control/workers.h) */
	/* --mode tcp: bytes relayed to a balanced backend, no HTTP (stream/) */
	char *mode;			/* "http" or "tcp" */
	int send_proxy_v2;		/* tcp: a PROXY protocol v2 header to backends */
	int tcp_inspect_sni;		/* tcp: read the ClientHello's SNI first */
	int watch_config;		/* a change of the --config file reloads it */
	struct config_list cors_origins;	/* --cors-*: compiled into proxy.cors */
	struct config_list cors_methods;
	struct config_list cors_headers;
	struct config_list cors_expose_headers;
	double cors_max_age;
	int cors_credentials;
	/* tracing (docs/tracing.md; control/trace_setup.c) */
	char *otlp_endpoint;		/* --otlp-endpoint: OTLP/HTTP base URL, or NULL */
	struct config_list otlp_headers;	/* --otlp-header NAME=VALUE (repeatable) */
	double trace_sample;		/* --trace-sample 0-1 (< 0: not given) */
	long otlp_queue_size;		/* spans held for export (0: the default) */
	long otlp_batch_size;		/* spans per export request (0: the default) */
	double otlp_interval;		/* seconds between exports (0: the default) */
	char *otlp_compression;		/* --otlp-compression gzip|none, or NULL (OTEL_*) */
	int h2;				/* clients may speak HTTP/2 (ALPN h2, the h2c preface) */
	long h2_max_concurrent_streams;	/* SETTINGS_MAX_CONCURRENT_STREAMS we announce */
	long h2_max_resets;		/* client stream resets a second before GOAWAY */
};

struct session;
struct exchange;
struct routing;
struct ssl_ctx_st;
struct tls_server;

/* A client listener; `l` comes first: on_accept's struct listener * is one. */
struct proxy_listener {
	struct listener l;
	int tls;			/* its sessions speak TLS (proxy.tls) */
	int redirect_https;		/* --redirect-https: every request gets a 308 */
	uint16_t port;			/* its bound port (routes match on it), 0 unknown */
};

struct proxy {
	struct ev_loop *loop;
	/* Read through on every use: a reload (SIGHUP) points it at a new
	 * reading and frees the previous one, so nothing keeps a pointer into
	 * *opts past the callback it runs in. */
	const struct proxy_options *opts;
	struct proxy_listener listeners[PROXY_LISTEN_MAX];
	char discover_admin[64];	/* on the bus: lb-discover's admin API (its sets), "" unknown */
	char admin_address[64];		/* this proxy's admin API, bound ("" none): in its reports */
	unsigned nlisteners;
	unsigned tls_port;		/* the TLS listener's bound port (--redirect-https) */
	struct ssl_ctx_st *tls;		/* the TLS listener's context, or NULL */
	struct tls_server *tls_server;	/* its certificates and their reload, or NULL */
	struct backend_set set;
	struct balancer balancer;	/* over `set`, rebuilt when it changes */
	struct routing *routing;	/* a Gateway's routes from the bus (http/routing.h), or NULL */
	struct hashkey hash_key;
	const char *hash_key_spec;	/* as given (ip-hash: client-ip) */
	struct trusted trusted;
	struct hashkey sticky_key;	/* the sticky cookie as a key to find */
	struct headers_rules header_rules;	/* parsed from the options at start-up */
	struct cors_policy cors;	/* --cors-*, compiled (cors.on 0: none) */
	int rate_on;			/* --rate-limit given: `rate` is allocated */
	struct ratelimit rate;		/* buckets per rate_key */
	struct hashkey rate_key;
	long rate_n;			/* N of --rate-limit N/s */
	char rate_unit;			/* 's' or 'm' */
	unsigned fleet_proxies;		/* on the bus: proxies in the last set heard (0: none yet) */
	void (*proxies_heard)(struct proxy *px);	/* fleet_proxies was set (main.c) */
	LIST_HEAD(, session) sessions;	/* open client connections */
	/* takes back a session session_close() closed (set by accept_init) */
	void (*session_closed)(struct proxy *px, struct session *s);
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
	/* --admin-path: answers an admin route on the traffic port (control/admin.c,
	 * NULL: off): `target` is the path past the prefix, with its '/'; the
	 * request body [body, body + blen) (NULL: none); returns the status, the answer in
	 * out, its type in *ctype, more header lines in hdr */
	int (*admin_path_answer)(struct proxy *px, const struct http_msg *req, const char *target,
				 size_t len, const char *body, size_t blen, struct buf *out,
				 const char **ctype, char *hdr, size_t hdrsz);
	/* a breaker changed (a failure counted, an ejection, a trial passed):
	 * on the bus, the subscriber reports it soon, not at the next interval */
	void (*breaker_changed)(struct proxy *px);
	void *breaker_changed_data;
	int stale;			/* on the bus, and no set heard for a while */
	ev_timer drain_timer;
	ev_prepare batch_check;		/* sets the collect interval of the next poll */
	ev_check batch_count;		/* counts the events the last poll returned */
	unsigned pass_events;		/* watchers the last poll made pending */
	int bulk;			/* a read of this loop pass filled its buffer */
	struct metrics metrics;
	double started;
	struct retry_policy retry;	/* from --retry-on, --retry-backoff*, --retry-budget */
	unsigned requests_in_flight;	/* forwarded, not ended (the budget's base) */
	unsigned retries_in_flight;	/* of those, the ones that were retried */
	TAILQ_HEAD(, exchange) queue;	/* waiting for a backend with room, oldest first */
};

#endif
