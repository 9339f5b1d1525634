/* lb-proxy: the data plane of lb: an event-driven HTTP/1.1 reverse proxy. */
#include <errno.h>
#include <malloc.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <arpa/inet.h>

#include "control/admin.h"
#include "bus.h"
#include "bus_protocol.h"
#include "config.h"
#include "http_limits.h"
#include "log.h"
#include "http/proxy.h"
#include "control/proxy_config.h"
#include "control/proxy_setup.h"
#include "http/queue.h"
#include "policy/retry.h"
#include "http/routes.h"
#include "rundir.h"
#include "http/session.h"
#include "signals.h"
#include "policy/sticky.h"
#include "control/subscriber.h"
#include "control/takeover.h"
#include "timefmt.h"
#include "net/tls_server.h"
#include "net/transport_tls.h"
#include "upstream/upstream.h"

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
	{ "listen", CONFIG_LIST, offsetof(struct proxy_options, listens), 0, PROXY_LISTEN_MAX, NULL,
	  "[tls:]ADDR:PORT for clients (twice: one tls: and one plain, with TLS files)" },
	{ "redirectHttps", CONFIG_BOOL, offsetof(struct proxy_options, redirect_https), 0, 0, NULL,
	  "the plain listener answers 308 to https:// on the tls: one" },
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
	{ "eject5xx", CONFIG_INT, offsetof(struct proxy_options, eject_5xx), 0, 1000000, NULL,
	  "consecutive 5xx answers that eject a backend (0: off)" },
	{ "ejectGateway", CONFIG_INT, offsetof(struct proxy_options, eject_gateway), 0, 1000000,
	  NULL, "consecutive gateway failures (connect, reset, timeout, 502-504) that eject (0: off)" },
	{ "ejectTime", CONFIG_DOUBLE, offsetof(struct proxy_options, eject_time), 0.001, 86400, NULL,
	  "seconds a backend is ejected, times the number of its ejections" },
	{ "ejectTimeMax", CONFIG_DOUBLE, offsetof(struct proxy_options, eject_time_max), 0.001, 86400,
	  NULL, "seconds an ejection lasts at most" },
	{ "ejectMaxPercent", CONFIG_INT, offsetof(struct proxy_options, eject_max_percent), 0, 100,
	  NULL, "percent of the set ejected at once, at most (at least one can be; 0: no ejection)" },
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
	{ "retryOn", CONFIG_STRING, offsetof(struct proxy_options, retry_on), 0, 0, NULL,
	  "what is retried: connect-failure, reset, timeout, gateway-error, 5xx (comma-separated)" },
	{ "perTryTimeout", CONFIG_DOUBLE, offsetof(struct proxy_options, per_try_timeout), 0, 86400,
	  NULL, "seconds each attempt waits for a response head (0: --response-timeout)" },
	{ "retryBackoff", CONFIG_DOUBLE, offsetof(struct proxy_options, retry_backoff), 0, 60, NULL,
	  "base of the jittered exponential backoff between attempts, seconds (0: none)" },
	{ "retryBackoffMax", CONFIG_DOUBLE, offsetof(struct proxy_options, retry_backoff_max), 0, 600,
	  NULL, "longest backoff, seconds (0: 10 x --retry-backoff)" },
	{ "retryBudget", CONFIG_DOUBLE, offsetof(struct proxy_options, retry_budget), 0, 100, NULL,
	  "retries in flight, in % of requests in flight (at least 3 are always allowed)" },
	{ "maxPerBackend", CONFIG_INT, offsetof(struct proxy_options, max_per_backend), 0, 10000000,
	  NULL, "requests in flight to one backend; beyond, requests queue (0: no cap)" },
	{ "queueSize", CONFIG_INT, offsetof(struct proxy_options, queue_size), 0, 10000000, NULL,
	  "requests that may wait for a backend under --max-per-backend (503 beyond)" },
	{ "queueTimeout", CONFIG_DOUBLE, offsetof(struct proxy_options, queue_timeout), 0.001, 3600,
	  NULL, "seconds a request may wait in the queue (then 503 overloaded)" },
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
	/* the proxy's own routes and header rules */
	{ "monitorUri", CONFIG_STRING, offsetof(struct proxy_options, monitor_uri), 0, 0, NULL,
	  "PATH answered by the proxy itself with its health (200 or 503)" },
	{ "setRequestHeader", CONFIG_LIST, offsetof(struct proxy_options, set_request_header), 0,
	  HEADERS_RULES_MAX, NULL, "'Name: value' every request to a backend carries (repeatable)" },
	{ "setResponseHeader", CONFIG_LIST, offsetof(struct proxy_options, set_response_header), 0,
	  HEADERS_RULES_MAX, NULL, "'Name: value' every response to a client carries (repeatable)" },
	{ "removeResponseHeader", CONFIG_LIST,
	  offsetof(struct proxy_options, remove_response_header), 0, HEADERS_RULES_MAX, NULL,
	  "a field name no response to a client carries (repeatable)" },
	{ "rateLimit", CONFIG_STRING, offsetof(struct proxy_options, rate_limit), 0, 0, NULL,
	  "N/s or N/m: requests a client (--rate-key) may make; 429 beyond (on the bus, shared "
	  "by the proxies)" },
	{ "rateBurst", CONFIG_INT, offsetof(struct proxy_options, rate_burst), 1, RATELIMIT_MAX_N,
	  NULL, "requests a client may make at once (default: N of --rate-limit)" },
	{ "rateKey", CONFIG_STRING, offsetof(struct proxy_options, rate_key), 0, 0, NULL,
	  "who --rate-limit counts: client-ip or header:NAME" },
	{ "rateTableSize", CONFIG_INT, offsetof(struct proxy_options, rate_table_size), 1,
	  RATELIMIT_TABLE_MAX, NULL, "clients --rate-limit tracks at once (least recently seen "
	  "forgotten)" },
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
	/* Reload and restart (--check-config is not a setting: read before the table). */
	{ "takeover", CONFIG_BOOL, offsetof(struct proxy_options, takeover), 0, 0, NULL,
	  "take the listening sockets of the lb-proxy on this port, then make it drain" },
	CONFIG_LOG_FIELDS(struct proxy_options),
};

static const struct config_spec proxy_spec = {
	"lb-proxy", "LB_PROXY_", "--backends HOST:PORT[@WEIGHT],... [options] [--check-config]",
	proxy_fields,
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
 * Returns 0, or -1 when not even one connection fits. `quiet` on reload:
 * the lowering was said at start-up.
 */
static int fit_descriptor_limit(struct proxy_options *opts, int quiet)
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
		if (!quiet)
			fprintf(stderr, "lb-proxy: the descriptor limit (%llu, ulimit -n) leaves no room "
					"for a connection: at least %d are needed\n",
				(unsigned long long)rl.rlim_cur, FD_RESERVE + 2);
		return -1;
	}
	if (!quiet)
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

		for (unsigned i = 0; i < px->nlisteners; i++)
			listener_stop(&px->listeners[i].l);
		px->accept_paused = 1;
		if (n)
			log_warn("max connections reached: not accepting", "max_connections=%ld times=%lu",
				 px->opts->max_connections, n);
	} else if (!full && px->accept_paused) {
		for (unsigned i = 0; i < px->nlisteners; i++)
			listener_start(&px->listeners[i].l);
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
	session_open(px, s, fd, peer, (const struct proxy_listener *)l);
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


/* What the signal, set and takeover callbacks reach (main.c's wiring);
 * px comes first, so a struct proxy * of this process is one of these. */
struct proxy_main {
	struct proxy px;
	struct admin admin;
	struct subscriber sub;
	struct signals sig;
	struct takeover_server tk_server;	/* offers our sockets to a replacement */
	struct takeover_client tk_client;	/* --takeover: the proxy we replace */
	char tk_path[108];		/* the takeover socket, "" when none is offered */
	struct proxy_config *boot;	/* the start-up reading: settings fixed at run time */
	struct proxy_config *current;	/* what px.opts points into */
	int argc;			/* argv less --check-config: read again on SIGHUP */
	char **argv;
	char rundir[256];
	struct upstream_limits limits;	/* the upstream pool's (a reload changes its sizes) */
};

static struct proxy_main *main_of(struct proxy *px)
{
	return (struct proxy_main *)px;
}

static void takeover_offer(struct proxy_main *m);
static void takeover_done(void *data, int ok);

/*
 * Opens the client listener: at start-up with --backends; on the bus once the
 * first set is applied (Envoy waits for its initial configuration the same
 * way), so a new proxy on a shared port takes no connection it would answer
 * 503, or after --initial-set-timeout. With --takeover the old proxy is told
 * to stop only now that this one accepts. Returns 0 or -1 (logged).
 */
static int open_listener(struct proxy *px, const char *why)
{
	struct proxy_main *m = main_of(px);

	if (px->listening || px->stopping)
		return 0;
	ev_timer_stop(px->loop, &px->initial_set_timer);
	for (unsigned i = 0; i < px->nlisteners; i++)
		if (listener_start(&px->listeners[i].l) == -1)
			return -1;
	px->listening = 1;
	for (unsigned i = 0; i < px->nlisteners; i++) {
		const struct proxy_listener *pl = &px->listeners[i];

		if (px->on_bus)
			log_info("listening", "listen=%s runtime_dir=%s service=%s generation=%llu%s%s",
				 pl->l.name, px->rundir, px->opts->service, px->set.generation, why,
				 pl->tls ? " tls=on" : pl->redirect_https ? " redirect=https" : "");
		else
			log_info("listening", "listen=%s backends=%zu%s", pl->l.name, px->set.n,
				 pl->tls ? " tls=on" : pl->redirect_https ? " redirect=https" : "");
	}
	if (m->tk_client.conn != -1) {
		if (takeover_finish(&m->tk_client, px->loop, takeover_done, m) == -1)
			takeover_offer(m);
	} else {
		takeover_offer(m);
	}
	return 0;
}

/* A new set: the balancer is rebuilt (never per request); on the bus the
 * first one opens the listener. */
static void on_set_applied(struct proxy *px)
{
	if (balancer_rebuild(&px->balancer, px->balancer.ops, &px->set) == -1)
		log_error("out of memory rebuilding the balancer: the last one is kept", NULL);
	if (px->metrics.queue_length)
		queue_wake_room(px);
	if (px->on_bus && px->opts->initial_set_timeout > 0 && open_listener(px, "") == -1)
		ev_break(px->loop, EVBREAK_ALL);
}

static const struct proxy_options proxy_defaults = {
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
	.eject_5xx = 5,
	.eject_gateway = 3,
	.eject_time = 30,
	.eject_time_max = 300,
	.eject_max_percent = 50,
	.loop_batch = 0.00002,
	.service = "backend",
	.heartbeat = 1.0,
	.report_interval = 0.25,
	.initial_set_timeout = 5,
	.retries = 2,
	.retry_on = "connect-failure,reset",
	.retry_backoff = 0.025,
	.retry_budget = 20,
	.queue_size = 1024,
	.queue_timeout = 5,
	.balance = "round-robin",
	.hash_key = "client-ip",
	.max_connections = 100000,
	.max_header_size = HTTP_DEFAULT_MAX_HEADER_SIZE,
	.access_log = 1,
	.reuse_port = 1,
	.log_level = "info",
	.log_format = "text",
	.tls_handshake_timeout = 10,
	.rate_key = "client-ip",
	.rate_table_size = RATELIMIT_TABLE_DEFAULT,
	.tls_resumption = 1,
};

/* ---- reload (SIGHUP) ------------------------------------------------------ */

/* Settings a running proxy keeps: its sockets, its bus, its TLS context. */
static int field_fixed(const char *key)
{
	static const char *const fixed[] = {
		"listen", "port", "admin", "runtimeDir", "service", "heartbeat", "reportInterval",
		"initialSetTimeout", "reusePort", "tlsCert", "tlsKey", "takeover", "redirectHttps",
		/* built once at start-up (a table, parsed rules, TLS contexts) */
		"rateLimit", "rateBurst", "rateKey", "rateTableSize", "monitorUri",
		"setRequestHeader", "setResponseHeader", "removeResponseHeader", "tlsDir",
		"tlsTicketKeys", "tlsResumption", "backendTls", "backendCa", "backendSni",
		"backendTlsInsecure",
	};

	for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++)
		if (strcmp(key, fixed[i]) == 0)
			return 1;
	return 0;
}

static void append_name(char *out, size_t outsz, const char *name)
{
	size_t n = strlen(out);

	snprintf(out + n, outsz - n, "%s%s", n ? "," : "", name);
}

/* Reads the configuration again; what may change applies to new requests,
 * what may not is named in the log; a bad one keeps the running one. */
static void reload(void *data)
{
	struct proxy_main *m = data;
	struct proxy *px = &m->px;
	const struct proxy_options *run = px->opts;
	struct proxy_config *c;
	char err[1024], changed[1024] = "", fixed[1024] = "";
	int status, set_changed;

	if (px->stopping) {
		log_warn("reload ignored: stopping", NULL);
		return;
	}
	c = proxy_config_read(&proxy_spec, &proxy_defaults, m->argc, m->argv, 0, &status, err,
			      sizeof(err));
	if (!c) {
		log_error("reload failed: the running configuration is kept", "error=\"%s\"", err);
		return;
	}
	if (proxy_setup_resilience_check(&c->opts, err, sizeof(err)) == -1) {
		log_error("reload failed: the running configuration is kept", "error=\"%s\"", err);
		proxy_config_free(c);
		return;
	}
	if (c->opts.per_try_timeout <= 0)	/* as at start-up: not a change */
		c->opts.per_try_timeout = c->opts.response_timeout;
	/* The same limit as at start-up, so only a new --max-connections differs. */
	if (fit_descriptor_limit(&c->opts, 1) == -1) {
		log_error("reload failed: the running configuration is kept",
			  "error=\"the descriptor limit leaves no room for a connection\"");
		proxy_config_free(c);
		return;
	}
	/* --backends and the bus are two modes; neither turns into the other. */
	if (!c->opts.backends != !run->backends) {
		append_name(fixed, sizeof(fixed), "backends");
		backend_set_release(&c->set);
		c->opts.backends = m->boot->opts.backends;
	}
	for (size_t i = 0; i < proxy_spec.nfields; i++) {
		const struct config_field *f = &proxy_spec.fields[i];

		if (!!config_field_equal(f, &c->opts, run))
			continue;
		if (field_fixed(f->key)) {
			append_name(fixed, sizeof(fixed), f->key);
			/* The running value: the start-up reading lives as long as
			 * the process. */
			config_field_copy(f, &c->opts, &m->boot->opts);
		} else {
			append_name(changed, sizeof(changed), f->key);
		}
	}
	if (fixed[0])
		log_warn("reload: settings that cannot change at run time keep their running values "
			 "(restart with --takeover to change them)", "settings=%s", fixed);
	log_setup("lb-proxy", log_level_parse(c->opts.log_level),
		  log_format_parse(c->opts.log_format));
	/* Names in --backends were resolved by config_read: the loop waited
	 * for the resolver once, as nginx's and HAProxy's reloads do. */
	set_changed = !px->on_bus && c->opts.backends && c->set.n &&
		      strcmp(c->opts.backends, run->backends) != 0;
	if (set_changed) {
		c->set.generation = px->set.generation + 1;
		backend_set_apply(&px->set, &c->set, ev_now(px->loop));
	} else {
		backend_set_release(&c->set);
	}
	if (!c->opts.sticky_secret != !run->sticky_secret ||
	    (c->opts.sticky_secret && strcmp(c->opts.sticky_secret, run->sticky_secret) != 0))
		for (struct backend *b = backend_all(); b; b = b->all_next)
			b->sticky_id[0] = '\0';	/* computed again with the new secret */
	if (proxy_config_apply_balancing(px, c) == -1)
		log_error("out of memory rebuilding the balancer: the last one is kept", NULL);
	proxy_setup_resilience_apply(px, &c->opts);
	m->limits.pool_size = (unsigned)c->opts.upstream_pool_size;
	m->limits.idle_timeout = c->opts.upstream_idle_timeout;
	upstream_setup(px->loop, &m->limits);
	/* The certificates are read again too (their files may have changed
	 * without inotify seeing it: a copy, a mount). */
	if (px->tls_server)
		tls_server_reload(px->tls_server);
	ev_timer_set(&px->drain_timer, c->opts.drain_timeout, 0);
	px->opts = &c->opts;
	if (m->current != m->boot)
		proxy_config_free(m->current);
	m->current = c;
	accept_update(px);
	log_info("reloaded", "file=%s changed=%s backends=%zu generation=%llu",
		 c->cfg.file[0] ? c->cfg.file : "-", changed[0] ? changed : "none", px->set.n,
		 px->set.generation);
}

/* ---- stop and takeover ----------------------------------------------------- */

static void on_initial_set_timeout(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct proxy *px = w->data;
	(void)revents;

	log_warn("no set from lb-discover in time: listening without one (503 until a set comes)",
		 "initial_set_timeout_s=%g runtime_dir=%s", px->opts->initial_set_timeout,
		 px->rundir);
	if (open_listener(px, " set=none") == -1)
		ev_break(loop, EVBREAK_ALL);
}

/* SIGTERM, or a replacement took over: stop accepting, let in-flight
 * requests finish (their answers say Connection: close), close idle
 * connections over the drain timeout, exit. */
static void on_stop(void *data)
{
	struct proxy_main *m = data;
	struct proxy *px = &m->px;
	struct session *s, *next;

	if (px->stopping)
		return;
	px->stopping = 1;
	takeover_server_release(&m->tk_server);
	for (unsigned i = 0; i < px->nlisteners; i++)
		listener_release(&px->listeners[i].l);
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

/* The replacement serves now: its admin listener is the one clients reach. */
static void on_taken_over(void *data)
{
	struct proxy_main *m = data;

	listener_release(&m->admin.listener);
	on_stop(m);
}

/* Offers our listening sockets at the takeover socket (when there is one). */
static void takeover_offer(struct proxy_main *m)
{
	char err[512];
	const struct proxy_listener *ls = m->px.listeners;
	int two = m->px.nlisteners > 1;

	if (!m->tk_path[0] || m->px.stopping)
		return;
	if (takeover_server_init(&m->tk_server, m->px.loop, m->tk_path, ls[0].l.fd, ls[0].l.name,
				 m->admin.listener.fd, m->admin.listener.name,
				 two ? ls[1].l.fd : -1, two ? ls[1].l.name : "",
				 (ls[0].tls ? 1u : 0u) | (two && ls[1].tls ? 2u : 0u), on_taken_over,
				 m, err, sizeof(err)) == -1)
		log_warn("no takeover socket: a replacement cannot take this proxy's sockets",
			 "error=\"%s\"", err);
	else
		log_info("takeover socket ready", "path=%s", m->tk_path);
}

static void takeover_done(void *data, int ok)
{
	(void)ok;
	takeover_offer(data);
}

/* --takeover's addresses as the old proxy reports its bound ones; an
 * --admin port of 0 takes whichever port the old one has. Returns 0, or -1
 * with err filled. */
static int takeover_names(const struct proxy_options *opts, char *listen, char *listen2,
			  char *admin, unsigned *port, char *err, size_t errsz)
{
	struct net_addr na;
	char why[256];

	listen2[0] = '\0';
	if (opts->nlisten > 1) {
		if (net_parse_addr(opts->listen_addr[1], &na, why, sizeof(why)) == -1) {
			snprintf(err, errsz, "--listen: %s", why);
			return -1;
		}
		net_addr_format((struct sockaddr *)&na.ss, listen2, TAKEOVER_ADDR_MAX);
	}

	if (net_parse_addr(opts->listen, &na, why, sizeof(why)) == -1) {
		snprintf(err, errsz, "--listen: %s", why);
		return -1;
	}
	*port = ntohs(((struct sockaddr_in *)&na.ss)->sin_port);	/* same place in v6 */
	if (*port == 0) {
		snprintf(err, errsz, "--takeover needs --listen with a port, not 0: the port names "
			 "the proxy to take over");
		return -1;
	}
	net_addr_format((struct sockaddr *)&na.ss, listen, TAKEOVER_ADDR_MAX);
	if (net_parse_addr(opts->admin, &na, why, sizeof(why)) == -1) {
		snprintf(err, errsz, "--admin: %s", why);
		return -1;
	}
	net_addr_format((struct sockaddr *)&na.ss, admin, TAKEOVER_ADDR_MAX);
	return 0;
}

/* Fetches the old proxy's sockets (before the loop; blocks at most a few
 * seconds) and adopts them. Returns 1 (adopted), 0 (nothing to take over:
 * bind as usual) or -1 after saying why on stderr. */
static int takeover_start(struct proxy_main *m, const struct proxy_options *opts)
{
	char listen[TAKEOVER_ADDR_MAX], listen2[TAKEOVER_ADDR_MAX], admin[TAKEOVER_ADDR_MAX];
	char err[512];
	unsigned port, tls = 0;
	int rc;

	for (unsigned i = 0; i < opts->nlisten; i++)
		tls |= opts->listen_tls[i] ? 1u << i : 0;
	if (takeover_names(opts, listen, listen2, admin, &port, err, sizeof(err)) == -1) {
		fprintf(stderr, "lb-proxy: %s\n", err);
		return -1;
	}
	rc = takeover_fetch(&m->tk_client, m->tk_path, listen, listen2, tls, admin, err,
			    sizeof(err));
	if (rc == 0) {
		log_info("takeover: no lb-proxy to take over: binding", "path=%s", m->tk_path);
		return 0;
	}
	if (rc == -1) {
		fprintf(stderr, "lb-proxy: %s\n", err);
		return -1;
	}
	if (listener_adopt(&m->px.listeners[0].l, m->px.loop, m->tk_client.listen_fd, on_accept, &m->px,
			   err, sizeof(err)) == -1 ||
	    (m->tk_client.listen2_fd != -1 &&
	     listener_adopt(&m->px.listeners[1].l, m->px.loop, m->tk_client.listen2_fd, on_accept,
			    &m->px, err, sizeof(err)) == -1) ||
	    admin_adopt(&m->admin, &m->px, m->tk_client.admin_fd, err, sizeof(err)) == -1) {
		fprintf(stderr, "lb-proxy: --takeover: %s\n", err);
		return -1;
	}
	m->px.nlisteners = m->tk_client.listen2_fd != -1 ? 2 : 1;
	log_info("takeover: took the listening sockets", "old_pid=%d listen=%s%s%s admin=%s",
		 (int)m->tk_client.old_pid, m->px.listeners[0].l.name,
		 m->px.nlisteners > 1 ? " listen2=" : "", m->px.nlisteners > 1 ?
		 m->px.listeners[1].l.name : "", m->admin.listener.name);
	return 1;
}

/* Binds every --listen (start-up, not --takeover). Returns 0, or -1 with err filled. */
static int listeners_init(struct proxy *px, const struct proxy_options *opts, char *err,
			  size_t errsz)
{
	for (unsigned i = 0; i < opts->nlisten; i++) {
		if (listener_init(&px->listeners[i].l, px->loop, opts->listen_addr[i],
				  opts->reuse_port, on_accept, px, err, errsz) == -1)
			return -1;
		px->nlisteners = i + 1;
	}
	return 0;
}

/* What each bound (or adopted) listener does: TLS, the 308, reclaiming. */
static void listeners_setup(struct proxy *px, const struct proxy_options *opts)
{
	for (unsigned i = 0; i < px->nlisteners; i++) {
		struct proxy_listener *pl = &px->listeners[i];
		struct net_addr na;
		char why[128];

		pl->l.reclaim = reclaim_descriptors;
		pl->tls = opts->listen_tls[i] && px->tls;
		if (pl->tls && net_parse_addr(pl->l.name, &na, why, sizeof(why)) == 0)
			px->tls_port = ntohs(((struct sockaddr_in *)&na.ss)->sin_port);
	}
	for (unsigned i = 0; i < px->nlisteners; i++)
		px->listeners[i].redirect_https = opts->redirect_https && !px->listeners[i].tls;
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
	for (unsigned i = 0; i < PROXY_LISTEN_MAX; i++)
		listener_release(&px->listeners[i].l);
	balancer_release(&px->balancer);
	backend_set_release(&px->set);
	session_cache_release();
	if (px->tls_server)
		tls_server_release(px->tls_server);
	px->tls = NULL;
	px->tls_server = NULL;
	ratelimit_release(&px->rate);
}

/* Takes --check-config out of argv (it is an action, not a setting: a
 * config file cannot turn it on). Returns 1 when it was there. */
static int take_check_config(int *argc, char **argv)
{
	int found = 0, o = 1;

	for (int i = 1; i < *argc; i++) {
		if (strcmp(argv[i], "--check-config") == 0)
			found = 1;
		else
			argv[o++] = argv[i];
		if (strcmp(argv[i], "--") == 0) {
			while (++i < *argc)
				argv[o++] = argv[i];
			break;
		}
	}
	*argc = o;
	argv[o] = NULL;
	return found;
}

/* --check-config: everything start-up checks short of binding (nginx -t).
 * Returns the exit code: 0 valid, 2 not. */
static int check_config(struct proxy_config *c)
{
	const char *dir = c->opts.runtime_dir ? c->opts.runtime_dir : getenv("LB_RUNTIME_DIR");
	struct proxy px;
	struct stat st;
	struct upstream_limits limits;
	char err[512];
	int rc;

	memset(&px, 0, sizeof(px));
	/* A runtime dir that does not exist yet is made at start-up. */
	if (dir && *dir && stat(dir, &st) == 0 && !S_ISDIR(st.st_mode)) {
		fprintf(stderr, "lb-proxy: runtime dir %s is not a directory\n", dir);
		return 2;
	}
	if (proxy_setup_resilience_check(&c->opts, err, sizeof(err)) == -1) {
		fprintf(stderr, "lb-proxy: %s\n", err);
		return 2;
	}
	memset(&limits, 0, sizeof(limits));
	TAILQ_INIT(&px.queue);
	rc = proxy_setup_traffic_rules(&px, &c->opts) == -1 ||
	     proxy_setup_rate(&px, &c->opts, &proxy_spec, &c->cfg) == -1 ||
	     proxy_setup_tls(&px, &c->opts, &limits) == -1;
	transport_tls_ctx_free(limits.tls);
	if (px.tls_server)
		tls_server_release(px.tls_server);
	ratelimit_release(&px.rate);
	if (rc)
		return 2;
	fprintf(stderr, "lb-proxy: the configuration is valid (file: %s)\n",
		c->cfg.file[0] ? c->cfg.file : "none");
	return 0;
}

int main(int argc, char **argv)
{
	static struct proxy_main m;
	struct proxy *px = &m.px;
	struct proxy_options *opts;
	struct proxy_config *c;
	char err[1024];
	int rc, checking, status, adopted = 0;

	LIST_INIT(&px->sessions);
	TAILQ_INIT(&px->queue);
	m.sub.sets.sock = m.sub.reports.sock = -1;
	m.tk_client.conn = -1;
	m.admin.listener.fd = -1;
	for (unsigned i = 0; i < PROXY_LISTEN_MAX; i++)
		px->listeners[i].l.fd = -1;
	checking = take_check_config(&argc, argv);
	m.argc = argc;
	m.argv = argv;
	c = proxy_config_read(&proxy_spec, &proxy_defaults, argc, argv, 1, &status, err,
			      sizeof(err));
	if (!c) {
		if (status)
			fprintf(stderr, "lb-proxy: %s\n", err);
		return status;
	}
	if (checking) {
		rc = check_config(c);
		proxy_config_free(c);
		return rc;
	}
	m.boot = m.current = c;
	opts = &c->opts;
	if (proxy_setup_resilience_check(opts, err, sizeof(err)) == -1) {
		fprintf(stderr, "lb-proxy: %s\n", err);
		proxy_config_free(c);
		return 2;
	}
	if (opts->backends) {
		px->set = c->set;
		memset(&c->set, 0, sizeof(c->set));
		px->set.generation = 1;
	} else {
		px->on_bus = 1;
	}
	if (!opts->backends || opts->runtime_dir) {
		if (rundir_resolve(opts->runtime_dir, 1, m.rundir, sizeof(m.rundir), err,
				   sizeof(err)) == -1) {
			fprintf(stderr, "lb-proxy: %s\n", err);
			proxy_config_free(c);
			return 2;
		}
		px->rundir = m.rundir;
	}
	log_setup("lb-proxy", log_level_parse(opts->log_level), log_format_parse(opts->log_format));
	proxy_setup_resilience_apply(px, opts);
	if (proxy_setup_traffic_rules(px, opts) == -1 || proxy_config_apply_balancing(px, c) == -1 ||
	    proxy_setup_rate(px, opts, &proxy_spec, &c->cfg) == -1 ||
	    fit_descriptor_limit(opts, 0) == -1 || proxy_setup_tls(px, opts, &m.limits) == -1) {
		transport_tls_ctx_free(m.limits.tls);
		balancer_release(&px->balancer);
		ratelimit_release(&px->rate);
		backend_set_release(&px->set);
		proxy_config_free(c);
		return 2;
	}
	px->loop = ev_default_loop(EVFLAG_AUTO);
	/* Under load, poll at most every loop_batch seconds so each pass handles
	 * more events (fewer sleeps and wake-ups: +45% on short connections here,
	 * with 20 us); an idle loop still wakes at once for a lone request, and
	 * a pass that filled a read buffer polls at once (see on_batch_check). */
	ev_set_io_collect_interval(px->loop, opts->loop_batch);
	ev_prepare_init(&px->batch_check, on_batch_check);
	px->batch_check.data = px;
	ev_prepare_start(px->loop, &px->batch_check);
	ev_unref(px->loop);
	px->opts = opts;
	px->started = timefmt_mono();
	m.limits.pool_size = (unsigned)opts->upstream_pool_size;
	m.limits.idle_timeout = opts->upstream_idle_timeout;
	upstream_setup(px->loop, &m.limits);
	if (px->tls_server && tls_server_watch(px->tls_server, px->loop, err, sizeof(err)) == -1)
		log_warn("TLS files are not watched: reload them with SIGHUP", "error=\"%s\"", err);
	ev_timer_init(&px->drain_timer, on_drain_timeout, opts->drain_timeout, 0);
	px->drain_timer.data = px;
	ev_timer_init(&px->trim_timer, on_trim, TRIM_SECONDS, TRIM_SECONDS);
	px->trim_timer.data = px;
	ev_timer_start(px->loop, &px->trim_timer);
	rc = 1;
	if (px->rundir) {
		struct net_addr na;
		unsigned port = 0;

		if (net_parse_addr(opts->listen, &na, err, sizeof(err)) == 0)
			port = ntohs(((struct sockaddr_in *)&na.ss)->sin_port);	/* same place in v6 */
		if (port && takeover_path(px->rundir, port, m.tk_path, sizeof(m.tk_path), err,
					  sizeof(err)) == -1) {
			fprintf(stderr, "lb-proxy: %s\n", err);
			goto out;
		}
	}
	if (opts->takeover) {
		adopted = takeover_start(&m, opts);
		if (adopted == -1)
			goto out;
	} else if (opts->reuse_port &&
		   config_source_of(&proxy_spec, &c->cfg, "reusePort") == CONFIG_SRC_DEFAULT &&
		   listener_port_in_use(opts->listen_addr[0])) {
		log_warn("the port already accepts connections: this proxy will share its traffic "
			 "(SO_REUSEPORT); give --reuse-port to mean it, or --takeover to replace an "
			 "lb-proxy", "listen=%s", opts->listen);
	}
	if (!adopted && (listeners_init(px, opts, err, sizeof(err)) == -1 ||
			 admin_init(&m.admin, px, opts->admin, err, sizeof(err)) == -1)) {
		fprintf(stderr, "lb-proxy: %s\n", err);
		goto out;
	}
	listeners_setup(px, opts);
	/* Client sockets keep at most UNSENT_LIMIT unsent bytes in the
	 * kernel: the rest of a body waits in the session's bounded buffer, so
	 * backpressure reaches the backend at once and a slow client costs
	 * about IN_LIMIT + this, not a send buffer the kernel grows to 4 MiB.
	 * It also made the 1 MiB download benchmark faster (README). */
	for (unsigned i = 0; i < px->nlisteners; i++)
		if (net_set_notsent_lowat(px->listeners[i].l.fd, UNSENT_LIMIT) == -1)
			log_warn("cannot limit unsent bytes on client sockets", "error=\"%s\"",
				 strerror(errno));
	if (px->on_bus && subscriber_init(&m.sub, px, m.rundir, opts->service, opts->heartbeat,
					  opts->report_interval, err, sizeof(err)) == -1) {
		fprintf(stderr, "lb-proxy: %s\n", err);
		goto out;
	}
	if (px->on_bus && !bus_alive(m.rundir, BUS_SOCKET_SETS))
		log_warn("no --backends and no lb-discover on the runtime dir: requests get 503 until "
			 "lb-discover publishes a set there", "runtime_dir=%s%s", m.rundir,
			 opts->runtime_dir || getenv("LB_RUNTIME_DIR") ? "" : " (the default)");
	signals_init(&m.sig, px->loop, on_stop, reload, &m);
	if (admin_start(&m.admin) == -1)
		goto out_signals;
	px->set_applied = on_set_applied;
	px->proxies_heard = proxy_setup_rate_share;
	if (px->rate_on) {
		char eff[48];

		proxy_setup_rate_describe(px, eff, sizeof(eff));
		log_info("rate limit", "limit=%s burst=%g key=%s table_size=%u", eff, px->rate.burst,
			 opts->rate_key, px->rate.size);
	}
	if (px->on_bus && opts->initial_set_timeout > 0) {
		log_info("waiting for the first set before listening", "listen=%s timeout_s=%g",
			 px->listeners[0].l.name, opts->initial_set_timeout);
		ev_timer_init(&px->initial_set_timer, on_initial_set_timeout, opts->initial_set_timeout, 0);
		px->initial_set_timer.data = px;
		ev_timer_start(px->loop, &px->initial_set_timer);
	} else if (open_listener(px, px->on_bus ? " set=none" : "") == -1) {
		goto out_signals;
	}
	ev_run(px->loop, 0);
	log_info("stopped", "requests=%llu", px->metrics.requests);
	rc = 0;
out_signals:
	signals_release(&m.sig, px->loop);
out:
	takeover_server_release(&m.tk_server);
	takeover_client_release(&m.tk_client);
	subscriber_release(&m.sub);
	admin_release(&m.admin);
	proxy_release(px);
	upstream_release();
	if (m.current != m.boot)
		proxy_config_free(m.current);
	proxy_config_free(m.boot);
	ev_loop_destroy(px->loop);
	return rc;
}
