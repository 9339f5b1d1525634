/* lb-proxy: the data plane of lb: an event-driven HTTP/1.1 reverse proxy. */
#include <errno.h>
#include <malloc.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "admin.h"
#include "config.h"
#include "http_limits.h"
#include "log.h"
#include "proxy.h"
#include "rundir.h"
#include "session.h"
#include "signals.h"
#include "sticky.h"
#include "subscriber.h"
#include "timefmt.h"
#include "tls_server.h"
#include "transport_tls.h"
#include "upstream.h"

#define SESSION_POOL_MAX 4096
/* Every TRIM_SECONDS the caches of closed sessions, parsers and read blocks
 * are cut to what the busiest moment since the last trim could use again
 * (at least TRIM_FLOOR each), and the freed memory goes back to the system:
 * a peak of connections does not keep its memory for good. */
#define TRIM_SECONDS 2.0
#define TRIM_FLOOR 64
#define POOL_KEEP_BYTES (64 * 1024)

static const char *const balance_choices[] = {
	"round-robin", "least-request", "random", "maglev", "ring-hash", "ip-hash", NULL,
};

static const struct config_field proxy_fields[] = {
	{ "listen", CONFIG_STRING, offsetof(struct proxy_options, listen), 0, 0, NULL,
	  "ADDR:PORT for clients" },
	{ "port", CONFIG_INT, offsetof(struct proxy_options, port), 1, 65535, NULL,
	  "listen on all addresses at this port (the ConfigMap shape)" },
	{ "admin", CONFIG_STRING, offsetof(struct proxy_options, admin), 0, 0, NULL,
	  "ADDR:PORT of the admin API" },
	{ "backends", CONFIG_STRING, offsetof(struct proxy_options, backends), 0, 0, NULL,
	  "static set: HOST:PORT[@WEIGHT],..." },
	{ "connectTimeout", CONFIG_DOUBLE, offsetof(struct proxy_options, connect_timeout), 0.001,
	  3600, NULL, "seconds to connect to a backend" },
	{ "responseTimeout", CONFIG_DOUBLE, offsetof(struct proxy_options, response_timeout), 0.001,
	  86400, NULL, "seconds from request sent to response head" },
	{ "headerTimeout", CONFIG_DOUBLE, offsetof(struct proxy_options, header_timeout), 0.001,
	  3600, NULL, "seconds a client has to send a request head (408)" },
	{ "keepaliveTimeout", CONFIG_DOUBLE, offsetof(struct proxy_options, keepalive_timeout), 0.001,
	  86400, NULL, "seconds an idle client connection is kept" },
	{ "idleTimeout", CONFIG_DOUBLE, offsetof(struct proxy_options, idle_timeout), 0.001, 86400,
	  NULL, "seconds without traffic while relaying or tunnelling" },
	{ "upstreamIdleTimeout", CONFIG_DOUBLE, offsetof(struct proxy_options, upstream_idle_timeout),
	  0.001, 86400, NULL, "seconds a pooled backend connection is kept" },
	{ "upstreamPoolSize", CONFIG_INT, offsetof(struct proxy_options, upstream_pool_size), 0,
	  100000, NULL, "idle connections kept per backend" },
	{ "drainTimeout", CONFIG_DOUBLE, offsetof(struct proxy_options, drain_timeout), 0, 86400,
	  NULL, "seconds in-flight requests get after SIGTERM" },
	{ "failTimeout", CONFIG_DOUBLE, offsetof(struct proxy_options, fail_timeout), 0, 3600, NULL,
	  "seconds a backend whose connect failed gets no requests (0: off)" },
	{ "runtimeDir", CONFIG_STRING, offsetof(struct proxy_options, runtime_dir), 0, 0, NULL,
	  "take sets from lb-discover on the bus in this dir (instead of --backends)" },
	{ "service", CONFIG_STRING, offsetof(struct proxy_options, service), 0, 0, NULL,
	  "the service whose sets to apply" },
	{ "heartbeat", CONFIG_DOUBLE, offsetof(struct proxy_options, heartbeat), 0.01, 3600, NULL,
	  "lb-discover's heartbeat: stale after 3 without a set" },
	{ "reportInterval", CONFIG_DOUBLE, offsetof(struct proxy_options, report_interval), 0.01,
	  3600, NULL, "seconds between counter reports to lb-discover" },
	{ "initialSetTimeout", CONFIG_DOUBLE, offsetof(struct proxy_options, initial_set_timeout), 0,
	  3600, NULL, "on the bus: seconds to wait for the first set before listening (0: at once)" },
	{ "loopBatch", CONFIG_DOUBLE, offsetof(struct proxy_options, loop_batch), 0, 0.1, NULL,
	  "seconds between event-loop polls under load (more events per pass; 0: poll at once)" },
	{ "balance", CONFIG_ENUM, offsetof(struct proxy_options, balance), 0, 0, balance_choices,
	  "how a backend is picked (ip-hash: maglev keyed by the client's address)" },
	{ "hashKey", CONFIG_STRING, offsetof(struct proxy_options, hash_key), 0, 0, NULL,
	  "what maglev and ring-hash hash: client-ip, header:NAME, cookie:NAME, query:NAME, path" },
	{ "trustedProxies", CONFIG_STRING, offsetof(struct proxy_options, trusted_proxies), 0, 0, NULL,
	  "CIDR,...: peers whose X-Forwarded-For names the client (for client-ip)" },
	{ "stickyCookie", CONFIG_STRING, offsetof(struct proxy_options, sticky_cookie), 0, 0, NULL,
	  "a cookie that keeps a client on the backend that first served it" },
	{ "stickySecret", CONFIG_STRING, offsetof(struct proxy_options, sticky_secret), 0, 0, NULL,
	  "the key of the sticky cookie's backend ids (the same on every proxy)" },
	{ "slowStart", CONFIG_DOUBLE, offsetof(struct proxy_options, slow_start), 0, 3600, NULL,
	  "seconds a backend that joins or comes back takes to reach its weight (0: off)" },
	{ "retries", CONFIG_INT, offsetof(struct proxy_options, retries), 0, 100, NULL,
	  "other backends tried after a failure" },
	{ "maxConnections", CONFIG_INT, offsetof(struct proxy_options, max_connections), 1, 10000000,
	  NULL, "client connections at once (accepting pauses beyond)" },
	{ "maxHeaderSize", CONFIG_SIZE, offsetof(struct proxy_options, max_header_size), 1024,
	  1 << 20, NULL, "largest request head (431 beyond)" },
	{ "maxBody", CONFIG_SIZE, offsetof(struct proxy_options, max_body), 0, 1e15, NULL,
	  "largest request body (413 beyond; 0: no limit)" },
	{ "accessLog", CONFIG_BOOL, offsetof(struct proxy_options, access_log), 0, 0, NULL,
	  "one log line per request (on/off)" },
	{ "reusePort", CONFIG_BOOL, offsetof(struct proxy_options, reuse_port), 0, 0, NULL,
	  "SO_REUSEPORT, so several proxies share the port" },
	{ "tlsCert", CONFIG_STRING, offsetof(struct proxy_options, tls_cert), 0, 0, NULL,
	  "PEM certificate (then its chain): clients speak TLS (with --tls-key)" },
	{ "tlsKey", CONFIG_STRING, offsetof(struct proxy_options, tls_key), 0, 0, NULL,
	  "PEM private key of --tls-cert" },
	{ "tlsHandshakeTimeout", CONFIG_DOUBLE, offsetof(struct proxy_options, tls_handshake_timeout),
	  0.001, 3600, NULL, "seconds a client has to complete the TLS handshake" },
	{ "tlsDir", CONFIG_STRING, offsetof(struct proxy_options, tls_dir), 0, 0, NULL,
	  "DIR of NAME.crt/NAME.key pairs or SUB/tls.crt secrets, chosen by SNI (first: default)" },
	{ "tlsTicketKeys", CONFIG_STRING, offsetof(struct proxy_options, tls_ticket_keys), 0, 0,
	  NULL, "FILE of base64 session ticket keys shared by a fleet (first encrypts)" },
	{ "tlsResumption", CONFIG_BOOL, offsetof(struct proxy_options, tls_resumption), 0, 0, NULL,
	  "clients may resume TLS sessions (tickets, session cache; off: full handshakes)" },
	{ "backendTls", CONFIG_BOOL, offsetof(struct proxy_options, backend_tls), 0, 0, NULL,
	  "backends speak TLS (verified against the system store or --backend-ca)" },
	{ "backendCa", CONFIG_STRING, offsetof(struct proxy_options, backend_ca), 0, 0, NULL,
	  "PEM FILE of the CAs backend certificates are verified against" },
	{ "backendSni", CONFIG_STRING, offsetof(struct proxy_options, backend_sni), 0, 0, NULL,
	  "NAME sent as SNI to backends and verified in their certificates" },
	{ "backendTlsInsecure", CONFIG_BOOL, offsetof(struct proxy_options, backend_tls_insecure), 0,
	  0, NULL, "do not verify backend certificates (a warning at start-up)" },
	CONFIG_LOG_FIELDS(struct proxy_options),
};

static const struct config_spec proxy_spec = {
	"lb-proxy", "LB_PROXY_", "--backends HOST:PORT[@WEIGHT],... [options]", proxy_fields,
	sizeof(proxy_fields) / sizeof(proxy_fields[0]),
};

/* Descriptors kept aside from client connections: listeners, the admin API
 * and its clients, the bus sockets, libev's, stderr. */
#define FD_RESERVE 64

/*
 * Each proxied connection holds two descriptors (client and backend). When
 * the descriptor limit cannot hold 2 x --max-connections + FD_RESERVE, the
 * soft limit is raised toward the hard one, and if that is not enough
 * max_connections is lowered to fit, as HAProxy sizes maxconn from the limit:
 * running out mid-request fails requests instead of queueing connections.
 * Returns 0, or -1 when not even one connection fits.
 */
static int fit_descriptor_limit(struct proxy_options *opts)
{
	struct rlimit rl;
	rlim_t need = (rlim_t)opts->max_connections * 2 + FD_RESERVE;

	if (getrlimit(RLIMIT_NOFILE, &rl) == -1 || rl.rlim_cur == RLIM_INFINITY ||
	    rl.rlim_cur >= need)
		return 0;
	if (rl.rlim_max == RLIM_INFINITY || rl.rlim_max > rl.rlim_cur) {
		struct rlimit raised = rl;

		raised.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max > need ? need : rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &raised) == 0)
			rl = raised;
	}
	if (rl.rlim_cur >= need)
		return 0;
	if (rl.rlim_cur < FD_RESERVE + 2) {
		fprintf(stderr, "lb-proxy: the descriptor limit (%llu, ulimit -n) leaves no room for a "
				"connection: at least %d are needed\n",
			(unsigned long long)rl.rlim_cur, FD_RESERVE + 2);
		return -1;
	}
	log_warn("max connections lowered to fit the descriptor limit",
		 "max_connections=%llu asked=%ld nofile=%llu",
		 (unsigned long long)(rl.rlim_cur - FD_RESERVE) / 2, opts->max_connections,
		 (unsigned long long)rl.rlim_cur);
	opts->max_connections = (long)((rl.rlim_cur - FD_RESERVE) / 2);
	return 0;
}

/* The listener is out of descriptors: pooled backend connections give theirs. */
static unsigned reclaim_descriptors(void *data)
{
	(void)data;
	return upstream_pool_shed(8);
}

static void accept_update(struct proxy *px)
{
	int full = px->nsessions >= (unsigned)px->opts->max_connections;

	if (px->stopping)
		return;
	if (full && !px->accept_paused) {
		static struct log_limit limit;
		unsigned long n = log_every(&limit, ev_now(px->loop), 1.0);

		listener_stop(&px->listener);
		px->accept_paused = 1;
		if (n)
			log_warn("max connections reached: not accepting", "max_connections=%ld times=%lu",
				 px->opts->max_connections, n);
	} else if (!full && px->accept_paused) {
		listener_start(&px->listener);
		px->accept_paused = 0;
	}
}

static void on_accept(struct listener *l, int fd, const struct sockaddr *peer)
{
	struct proxy *px = l->data;
	struct session *s = px->free_sessions;

	if (s) {
		px->free_sessions = s->next_free;
		px->nfree--;
	} else {
		s = calloc(1, sizeof(*s));
		if (!s) {
			log_error("out of memory for a connection", NULL);
			close(fd);
			return;
		}
	}
	LIST_INSERT_HEAD(&px->sessions, s, link);
	if (++px->nsessions > px->peak_sessions)
		px->peak_sessions = px->nsessions;
	px->metrics.accepted++;
	session_open(px, s, fd, peer);
	accept_update(px);
}

static void session_free(struct session *s)
{
	buf_release(&s->in);
	buf_release(&s->uin);
	buf_release(&s->out);
	buf_release(&s->up_head);
	free(s);
}

static void on_trim(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct proxy *px = w->data;
	unsigned spare = px->peak_sessions > px->nsessions ? px->peak_sessions - px->nsessions : 0;
	size_t freed;
	(void)loop;
	(void)revents;

	if (spare < TRIM_FLOOR)
		spare = TRIM_FLOOR;
	px->peak_sessions = px->nsessions;
	freed = session_cache_trim(spare, 2 * (size_t)spare);
	while (px->nfree > spare) {
		struct session *s = px->free_sessions;

		px->free_sessions = s->next_free;
		px->nfree--;
		session_free(s);
		freed++;
	}
	if (freed)
		malloc_trim(0);
}

static void shrink(struct buf *b)
{
	if (b->cap > POOL_KEEP_BYTES)
		buf_release(b);
}

void proxy_session_closed(struct proxy *px, struct session *s)
{
	LIST_REMOVE(s, link);
	px->nsessions--;
	if (px->nfree < SESSION_POOL_MAX && !px->stopping) {
		shrink(&s->in);
		shrink(&s->uin);
		shrink(&s->out);
		shrink(&s->up_head);
		s->next_free = px->free_sessions;
		px->free_sessions = s;
		px->nfree++;
	} else {
		session_free(s);
	}
	if (px->stopping && px->nsessions == 0)
		ev_break(px->loop, EVBREAK_ALL);
	accept_update(px);
}

/*
 * Before each poll: batching (the collect interval) pays when passes handle
 * many small events. When a read of the last pass filled its buffer, bytes
 * are already waiting (a body is streaming) and sleeping first would only
 * stall it: a lone 1 MiB download took 6 ms instead of 1 ms.
 */
static void on_batch_check(struct ev_loop *loop, ev_prepare *w, int revents)
{
	struct proxy *px = w->data;
	(void)revents;

	ev_set_io_collect_interval(loop, px->bulk ? 0. : px->opts->loop_batch);
	px->bulk = 0;
}

static void on_drain_timeout(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct proxy *px = w->data;
	(void)revents;

	log_warn("drain timeout: closing remaining connections", "connections=%u", px->nsessions);
	while (!LIST_EMPTY(&px->sessions))
		session_close(LIST_FIRST(&px->sessions));
	ev_break(loop, EVBREAK_ALL);
}

/*
 * Opens the client listener: at start-up with --backends; on the bus once the
 * first set is applied (Envoy waits for its initial configuration the same
 * way), so a new proxy on a shared port takes no connection it would answer
 * 503, or after --initial-set-timeout. Returns 0 or -1 (logged).
 */
static int open_listener(struct proxy *px, const char *why)
{
	if (px->listening || px->stopping)
		return 0;
	ev_timer_stop(px->loop, &px->initial_set_timer);
	if (listener_start(&px->listener) == -1)
		return -1;
	px->listening = 1;
	if (px->on_bus)
		log_info("listening", "listen=%s runtime_dir=%s service=%s generation=%llu%s",
			 px->listener.name, px->rundir, px->opts->service, px->set.generation, why);
	else
		log_info("listening", "listen=%s backends=%zu%s", px->listener.name, px->set.n,
			 px->tls ? " tls=on" : "");
	return 0;
}

/* A new set: the balancer is rebuilt (never per request); on the bus the
 * first one opens the listener. */
static void on_set_applied(struct proxy *px)
{
	if (balancer_rebuild(&px->balancer, px->balancer.ops, &px->set) == -1)
		log_error("out of memory rebuilding the balancer: the last one is kept", NULL);
	if (px->on_bus && px->opts->initial_set_timeout > 0 && open_listener(px, "") == -1)
		ev_break(px->loop, EVBREAK_ALL);
}

/* --balance, --hash-key, --trusted-proxies, --sticky-*, --slow-start.
 * Returns 0, or -1 after saying what is wrong on stderr (exit 2). */
static int balancing_setup(struct proxy *px, const struct proxy_options *opts)
{
	const char *name = strcmp(opts->balance, "ip-hash") == 0 ? "maglev" : opts->balance;
	const char *key = strcmp(opts->balance, "ip-hash") == 0 ? "client-ip" : opts->hash_key;
	const struct balance_ops *ops = balance_find(name);
	char err[256], cookie[HASHKEY_NAME_MAX + 8];

	if (!ops) {
		fprintf(stderr, "lb-proxy: --balance: \"%s\" is not one of %s, ip-hash\n",
			opts->balance, balance_names());
		return -1;
	}
	px->hash_key_spec = key;
	if (hashkey_parse(key, &px->hash_key, err, sizeof(err)) == -1) {
		fprintf(stderr, "lb-proxy: --hash-key: %s\n", err);
		return -1;
	}
	if (opts->trusted_proxies &&
	    trusted_parse(opts->trusted_proxies, &px->trusted, err, sizeof(err)) == -1) {
		fprintf(stderr, "lb-proxy: --trusted-proxies: %s\n", err);
		return -1;
	}
	if (opts->sticky_cookie) {
		snprintf(cookie, sizeof(cookie), "cookie:%s", opts->sticky_cookie);
		if (hashkey_parse(cookie, &px->sticky_key, err, sizeof(err)) == -1) {
			fprintf(stderr, "lb-proxy: --sticky-cookie: \"%s\" is not a cookie name\n",
				opts->sticky_cookie);
			return -1;
		}
		if (!opts->sticky_secret)
			log_warn("--sticky-cookie without --sticky-secret: anyone can tell which address "
				 "a cookie names by trying addresses", NULL);
	}
	sticky_setup(opts->sticky_cookie, opts->sticky_secret);
	balance_set_slow_start(opts->slow_start);
	px->balancer.ops = ops;
	if (balancer_rebuild(&px->balancer, ops, &px->set) == -1) {
		fprintf(stderr, "lb-proxy: out of memory\n");
		return -1;
	}
	return 0;
}

static struct tls_server tls_server;

/* A DNS name for SNI (RFC 6066: no IP address literal, no port). */
static int host_name_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 253 || s[0] == '.' || s[0] == '-')
		return 0;
	for (const char *p = s; *p; p++)
		if (!(*p >= 'a' && *p <= 'z') && !(*p >= 'A' && *p <= 'Z') &&
		    !(*p >= '0' && *p <= '9') && *p != '-' && *p != '.')
			return 0;
	return 1;
}

/* --tls-cert/--tls-key, --tls-dir, --tls-ticket-keys: the client listener's
 * TLS (px->tls stays NULL without them); --backend-tls and its flags.
 * Returns 0, or -1 after saying what is wrong on stderr (exit 2). */
static int tls_setup(struct proxy *px, const struct proxy_options *opts,
		     struct upstream_limits *limits)
{
	struct tls_server_options to = { opts->tls_cert, opts->tls_key, opts->tls_dir,
					 opts->tls_ticket_keys, opts->tls_resumption };
	char err[1024];

	if (!opts->backend_tls && (opts->backend_ca || opts->backend_sni ||
				   opts->backend_tls_insecure)) {
		fprintf(stderr, "lb-proxy: --backend-ca, --backend-sni and --backend-tls-insecure "
				"need --backend-tls\n");
		return -1;
	}
	if (opts->backend_tls) {
		limits->tls = transport_tls_client_ctx_new(opts->backend_ca,
							   !opts->backend_tls_insecure, err,
							   sizeof(err));
		if (!limits->tls) {
			fprintf(stderr, "lb-proxy: %s\n", err);
			return -1;
		}
		limits->tls_sni = opts->backend_sni;
		if (opts->backend_sni && !host_name_ok(opts->backend_sni)) {
			fprintf(stderr, "lb-proxy: --backend-sni \"%s\": not a host name (letters, "
					"digits, '-' and '.')\n", opts->backend_sni);
			return -1;
		}
		if (opts->backend_tls_insecure)
			log_warn("--backend-tls-insecure: backend certificates are not verified "
				 "(anyone on the path can read and change the traffic)", NULL);
	}
	if (!opts->tls_cert && !opts->tls_key && !opts->tls_dir) {
		if (opts->tls_ticket_keys) {
			fprintf(stderr, "lb-proxy: --tls-ticket-keys needs --tls-cert/--tls-key or "
					"--tls-dir\n");
			return -1;
		}
		return 0;
	}
	if (!opts->tls_cert != !opts->tls_key) {
		fprintf(stderr, "lb-proxy: give --tls-cert and --tls-key together\n");
		return -1;
	}
	if (opts->tls_ticket_keys && !opts->tls_resumption) {
		fprintf(stderr, "lb-proxy: --tls-ticket-keys is for resumption: not with "
				"--tls-resumption off\n");
		return -1;
	}
	if (tls_server_init(&tls_server, &to, err, sizeof(err)) == -1) {
		fprintf(stderr, "lb-proxy: %s\n", err);
		return -1;
	}
	px->tls = tls_server.ctx;
	px->tls_server = &tls_server;
	return 0;
}

static void on_initial_set_timeout(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct proxy *px = w->data;
	(void)revents;

	log_warn("no set from lb-discover in time: listening without one (503 until a set comes)",
		 "initial_set_timeout_s=%g", px->opts->initial_set_timeout);
	if (open_listener(px, " set=none") == -1)
		ev_break(loop, EVBREAK_ALL);
}

static void on_stop(void *data)
{
	struct proxy *px = data;
	struct session *s, *next;

	if (px->stopping)
		return;
	px->stopping = 1;
	listener_release(&px->listener);
	for (s = LIST_FIRST(&px->sessions); s; s = next) {
		next = LIST_NEXT(s, link);
		session_on_stop(s);
	}
	if (px->nsessions == 0) {
		ev_break(px->loop, EVBREAK_ALL);
		return;
	}
	log_info("draining", "connections=%u timeout_s=%g", px->nsessions, px->opts->drain_timeout);
	ev_timer_start(px->loop, &px->drain_timer);
}

static void proxy_release(struct proxy *px)
{
	struct session *s;

	px->stopping = 1;
	while (!LIST_EMPTY(&px->sessions))
		session_close(LIST_FIRST(&px->sessions));
	while ((s = px->free_sessions) != NULL) {
		px->free_sessions = s->next_free;
		session_free(s);
	}
	ev_timer_stop(px->loop, &px->drain_timer);
	ev_timer_stop(px->loop, &px->trim_timer);
	ev_timer_stop(px->loop, &px->initial_set_timer);
	listener_release(&px->listener);
	balancer_release(&px->balancer);
	backend_set_release(&px->set);
	session_cache_release();
	if (px->tls_server)
		tls_server_release(px->tls_server);
	px->tls = NULL;
	px->tls_server = NULL;
}

int main(int argc, char **argv)
{
	struct proxy_options opts = {
		.listen = "0.0.0.0:8080",
		.admin = "127.0.0.1:9901",
		.connect_timeout = 5,
		.response_timeout = 60,
		.header_timeout = 10,
		.keepalive_timeout = 75,
		.idle_timeout = 60,
		.upstream_idle_timeout = 15,
		.upstream_pool_size = 64,
		.drain_timeout = 30,
		.fail_timeout = 10,
		.loop_batch = 0.00002,
		.service = "backend",
		.heartbeat = 1.0,
		.report_interval = 0.25,
		.initial_set_timeout = 5,
		.retries = 2,
		.balance = "round-robin",
		.hash_key = "client-ip",
		.max_connections = 100000,
		.max_header_size = HTTP_DEFAULT_MAX_HEADER_SIZE,
		.access_log = 1,
		.reuse_port = 1,
		.log_level = "info",
		.log_format = "text",
		.tls_handshake_timeout = 10,
		.tls_resumption = 1,
	};
	struct upstream_limits limits;
	struct config_result cfg;
	struct proxy px;
	struct admin admin;
	struct signals sig;
	struct subscriber sub;
	char err[512], listen[32], rundir[256];
	int rc;

	memset(&px, 0, sizeof(px));
	LIST_INIT(&px.sessions);
	memset(&sub, 0, sizeof(sub));
	sub.sets.sock = sub.reports.sock = -1;
	rc = config_startup(&proxy_spec, &opts, argc, argv, &cfg);
	if (rc != -1)
		return rc;
	opts.listen = (char *)config_port_listen(&proxy_spec, &cfg, opts.listen, opts.port, listen,
						 sizeof(listen));
	if (opts.backends && opts.runtime_dir) {
		fprintf(stderr, "lb-proxy: give --backends (a static set) or --runtime-dir (sets "
				"from lb-discover), not both\n");
		config_result_release(&cfg);
		return 2;
	}
	if (opts.backends) {
		if (backend_set_parse(opts.backends, &px.set, err, sizeof(err)) == -1) {
			fprintf(stderr, "lb-proxy: --backends: %s\n", err);
			config_result_release(&cfg);
			return 2;
		}
		px.set.generation = 1;
	} else {
		if (rundir_resolve(opts.runtime_dir, 1, rundir, sizeof(rundir), err, sizeof(err)) == -1) {
			fprintf(stderr, "lb-proxy: %s\n", err);
			config_result_release(&cfg);
			return 2;
		}
		px.on_bus = 1;
		px.rundir = rundir;
	}
	log_setup("lb-proxy", log_level_parse(opts.log_level), log_format_parse(opts.log_format));
	memset(&limits, 0, sizeof(limits));
	if (balancing_setup(&px, &opts) == -1 || fit_descriptor_limit(&opts) == -1 ||
	    tls_setup(&px, &opts, &limits) == -1) {
		transport_tls_ctx_free(limits.tls);
		balancer_release(&px.balancer);
		backend_set_release(&px.set);
		config_result_release(&cfg);
		return 2;
	}
	px.loop = ev_default_loop(EVFLAG_AUTO);
	/* Under load, poll at most every loop_batch seconds so each pass handles
	 * more events (fewer sleeps and wake-ups: +45% on short connections here,
	 * with 20 us); an idle loop still wakes at once for a lone request, and
	 * a pass that filled a read buffer polls at once (see on_batch_check). */
	ev_set_io_collect_interval(px.loop, opts.loop_batch);
	ev_prepare_init(&px.batch_check, on_batch_check);
	px.batch_check.data = &px;
	ev_prepare_start(px.loop, &px.batch_check);
	ev_unref(px.loop);
	px.opts = &opts;
	px.started = timefmt_mono();
	limits.pool_size = (unsigned)opts.upstream_pool_size;
	limits.idle_timeout = opts.upstream_idle_timeout;
	upstream_setup(px.loop, &limits);
	if (px.tls_server && tls_server_watch(px.tls_server, px.loop, err, sizeof(err)) == -1)
		log_warn("TLS files are not watched: reload them with SIGHUP", "error=\"%s\"", err);
	ev_timer_init(&px.drain_timer, on_drain_timeout, opts.drain_timeout, 0);
	px.drain_timer.data = &px;
	ev_timer_init(&px.trim_timer, on_trim, TRIM_SECONDS, TRIM_SECONDS);
	px.trim_timer.data = &px;
	ev_timer_start(px.loop, &px.trim_timer);
	rc = 1;
	if (listener_init(&px.listener, px.loop, opts.listen, opts.reuse_port, on_accept, &px, err,
			  sizeof(err)) == -1 ||
	    admin_init(&admin, &px, opts.admin, err, sizeof(err)) == -1) {
		fprintf(stderr, "lb-proxy: %s\n", err);
		admin.listener.fd = -1;
		goto out;
	}
	px.listener.reclaim = reclaim_descriptors;
	/* Client sockets keep at most UNSENT_LIMIT unsent bytes in the
	 * kernel: the rest of a body waits in the session's bounded buffer, so
	 * backpressure reaches the backend at once and a slow client costs
	 * about IN_LIMIT + this, not a send buffer the kernel grows to 4 MiB.
	 * It also made the 1 MiB download benchmark faster (README). */
	if (net_set_notsent_lowat(px.listener.fd, UNSENT_LIMIT) == -1)
		log_warn("cannot limit unsent bytes on client sockets", "error=\"%s\"", strerror(errno));
	if (px.on_bus && subscriber_init(&sub, &px, rundir, opts.service, opts.heartbeat,
					 opts.report_interval, err, sizeof(err)) == -1) {
		fprintf(stderr, "lb-proxy: %s\n", err);
		goto out;
	}
	signals_init(&sig, px.loop, on_stop, NULL, &px);
	if (admin_start(&admin) == -1)
		goto out_signals;
	px.set_applied = on_set_applied;
	if (px.on_bus && opts.initial_set_timeout > 0) {
		log_info("waiting for the first set before listening", "listen=%s timeout_s=%g",
			 px.listener.name, opts.initial_set_timeout);
		ev_timer_init(&px.initial_set_timer, on_initial_set_timeout, opts.initial_set_timeout, 0);
		px.initial_set_timer.data = &px;
		ev_timer_start(px.loop, &px.initial_set_timer);
	} else if (open_listener(&px, px.on_bus ? " set=none" : "") == -1) {
		goto out_signals;
	}
	ev_run(px.loop, 0);
	log_info("stopped", "requests=%llu", px.metrics.requests);
	rc = 0;
out_signals:
	signals_release(&sig, px.loop);
out:
	subscriber_release(&sub);
	admin_release(&admin);
	proxy_release(&px);
	upstream_release();
	config_result_release(&cfg);
	ev_loop_destroy(px.loop);
	return rc;
}
