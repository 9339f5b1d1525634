/* options: lb-proxy's settings: the table of its flags (names, types,
 * ranges, help, and whether a reload may change each), and their defaults. */
#include "options.h"

#include <stddef.h>
#include <string.h>

#include "config_show.h"
#include "http_limits.h"
#include "policy/cors.h"
#include "otlp_export.h"
#include "policy/headers.h"
#include "policy/ratelimit.h"
#include "upstream/panic.h"

/* Whether a running proxy takes a new value on reload (SIGHUP). */
enum option_reload {
	RUNTIME = 0,	/* applies to new requests */
	FIXED,		/* kept: its sockets, its bus, its TLS context, or built once at
			 * start-up (TLS contexts) */
};

/* One setting: its field of the config table and its reload rule. */
struct option_row {
	struct config_field field;
	enum option_reload reload;
};

static const char *const balance_choices[] = {
	"round-robin", "least-request", "random", "maglev", "ring-hash", "ip-hash", NULL,
};

static const char *const mode_choices[] = { "http", "tcp", NULL };

static const char *const backend_protocol_choices[] = { "http1", "h2c", "h2", NULL };

static const struct option_row rows[] = {
	{ { "listen", CONFIG_LIST, offsetof(struct proxy_options, listens), 0, PROXY_LISTEN_MAX, NULL,
	    "[tls:]ADDR:PORT for clients (twice: one tls: and one plain, with TLS files)" }, FIXED },
	{ { "redirectHttps", CONFIG_BOOL, offsetof(struct proxy_options, redirect_https), 0, 0, NULL,
	    "the plain listener answers 308 to https:// on the tls: one" }, FIXED },
	{ { "port", CONFIG_INT, offsetof(struct proxy_options, port), 1, 65535, NULL,
	    "listen on all addresses at this port (the ConfigMap shape)" }, FIXED },
	{ { "admin", CONFIG_STRING, offsetof(struct proxy_options, admin), 0, 0, NULL,
	    "ADDR:PORT of the admin API" }, FIXED },
	{ { "adminToken", CONFIG_STRING, offsetof(struct proxy_options, admin_token), 0, 0, NULL,
	    "a file holding the bearer token the admin API's writes need" }, FIXED },
	{ { "adminInsecure", CONFIG_BOOL, offsetof(struct proxy_options, admin_insecure), 0, 0,
	    NULL, "admin writes without --admin-token on a non-loopback --admin" }, FIXED },
	{ { "adminPath", CONFIG_STRING, offsetof(struct proxy_options, admin_path), 0, 0, NULL,
	    "/PREFIX/: the admin routes on the traffic port under it (HAProxy's stats uri)" },
	  FIXED },
	{ { "backends", CONFIG_STRING, offsetof(struct proxy_options, backends), 0, 0, NULL,
	    "static set: HOST:PORT[@WEIGHT],..." }, RUNTIME },
	{ { "connectTimeout", CONFIG_DURATION, offsetof(struct proxy_options, connect_timeout), 0.001,
	    3600, NULL, "seconds to connect to a backend" }, RUNTIME },
	{ { "responseTimeout", CONFIG_DURATION, offsetof(struct proxy_options, response_timeout), 0.001,
	    86400, NULL, "seconds from request sent to response head" }, RUNTIME },
	{ { "headerTimeout", CONFIG_DURATION, offsetof(struct proxy_options, header_timeout), 0.001,
	    3600, NULL, "seconds a client has to send a request head (408)" }, RUNTIME },
	{ { "keepaliveTimeout", CONFIG_DURATION, offsetof(struct proxy_options, keepalive_timeout), 0.001,
	    86400, NULL, "seconds an idle client connection is kept" }, RUNTIME },
	{ { "idleTimeout", CONFIG_DURATION, offsetof(struct proxy_options, idle_timeout), 0.001, 86400,
	    NULL, "seconds without traffic while relaying or tunnelling" }, RUNTIME },
	{ { "upstreamIdleTimeout", CONFIG_DURATION, offsetof(struct proxy_options, upstream_idle_timeout),
	    0.001, 86400, NULL, "seconds a pooled backend connection is kept" }, RUNTIME },
	{ { "upstreamPoolSize", CONFIG_INT, offsetof(struct proxy_options, upstream_pool_size), 0,
	    100000, NULL, "idle connections kept per backend" }, RUNTIME },
	{ { "drainTimeout", CONFIG_DURATION, offsetof(struct proxy_options, drain_timeout), 0, 86400,
	    NULL, "seconds in-flight requests get after SIGTERM" }, RUNTIME },
	{ { "failTimeout", CONFIG_DURATION, offsetof(struct proxy_options, fail_timeout), 0, 3600, NULL,
	    "seconds a backend whose connect failed gets no requests (0: off)" }, RUNTIME },
	{ { "eject5xx", CONFIG_INT, offsetof(struct proxy_options, eject_5xx), 0, 1000000, NULL,
	    "consecutive 5xx answers that eject a backend (0: off)" }, RUNTIME },
	{ { "ejectGateway", CONFIG_INT, offsetof(struct proxy_options, eject_gateway), 0, 1000000,
	    NULL, "consecutive gateway failures (connect, reset, timeout, 502-504) that eject (0: off)" }, RUNTIME },
	{ { "ejectTime", CONFIG_DURATION, offsetof(struct proxy_options, eject_time), 0.001, 86400, NULL,
	    "seconds a backend is ejected, times the number of its ejections" }, RUNTIME },
	{ { "ejectTimeMax", CONFIG_DURATION, offsetof(struct proxy_options, eject_time_max), 0.001, 86400,
	    NULL, "seconds an ejection lasts at most" }, RUNTIME },
	{ { "ejectMaxPercent", CONFIG_INT, offsetof(struct proxy_options, eject_max_percent), 0, 100,
	    NULL, "percent of the set ejected at once, at most (at least one can be; 0: no ejection)" }, RUNTIME },
	{ { "panicThreshold", CONFIG_INT, offsetof(struct proxy_options, panic_threshold), 0,
	    PANIC_THRESHOLD_MAX, NULL, "percent of the up backends that must be available: below it, "
	    "requests go to all of them, ejected or not (0: off)" }, RUNTIME },
	{ { "runtimeDir", CONFIG_STRING, offsetof(struct proxy_options, runtime_dir), 0, 0, NULL,
	    "take sets from lb-discover on the bus in this dir (instead of --backends)" }, FIXED },
	{ { "service", CONFIG_STRING, offsetof(struct proxy_options, service), 0, 0, NULL,
	    "the service whose sets to apply" }, FIXED },
	{ { "heartbeat", CONFIG_DURATION, offsetof(struct proxy_options, heartbeat), 0.01, 3600, NULL,
	    "lb-discover's heartbeat: stale after 3 without a set" }, FIXED },
	{ { "reportInterval", CONFIG_DURATION, offsetof(struct proxy_options, report_interval), 0.01,
	    3600, NULL, "seconds between counter reports to lb-discover" }, FIXED },
	{ { "initialSetTimeout", CONFIG_DURATION, offsetof(struct proxy_options, initial_set_timeout), 0,
	    3600, NULL, "on the bus: seconds to wait for the first set before listening (0: at once)" }, FIXED },
	{ { "loopBatch", CONFIG_DURATION, offsetof(struct proxy_options, loop_batch), 0, 0.1, NULL,
	    "seconds between event-loop polls under load (more events per pass; 0: poll at once)" }, RUNTIME },
	{ { "balance", CONFIG_ENUM, offsetof(struct proxy_options, balance), 0, 0, balance_choices,
	    "how a backend is picked (ip-hash: maglev keyed by the client's address)" }, RUNTIME },
	{ { "hashKey", CONFIG_STRING, offsetof(struct proxy_options, hash_key), 0, 0, NULL,
	    "what maglev and ring-hash hash: client-ip, header:NAME, cookie:NAME, query:NAME, path" }, RUNTIME },
	{ { "trustedProxies", CONFIG_STRING, offsetof(struct proxy_options, trusted_proxies), 0, 0, NULL,
	    "CIDR,...: peers whose X-Forwarded-For names the client (for client-ip)" }, RUNTIME },
	{ { "stickyCookie", CONFIG_STRING, offsetof(struct proxy_options, sticky_cookie), 0, 0, NULL,
	    "a cookie that keeps a client on the backend that first served it" }, RUNTIME },
	{ { "stickySecret", CONFIG_STRING, offsetof(struct proxy_options, sticky_secret), 0, 0, NULL,
	    "the key of the sticky cookie's backend ids (the same on every proxy)" }, RUNTIME },
	{ { "slowStart", CONFIG_DURATION, offsetof(struct proxy_options, slow_start), 0, 3600, NULL,
	    "seconds a backend that joins or comes back takes to reach its weight (0: off)" }, RUNTIME },
	{ { "retries", CONFIG_INT, offsetof(struct proxy_options, retries), 0, 100, NULL,
	    "other backends tried after a failure" }, RUNTIME },
	{ { "retryOn", CONFIG_STRING, offsetof(struct proxy_options, retry_on), 0, 0, NULL,
	    "what is retried: connect-failure, reset, timeout, gateway-error, 5xx (comma-separated)" }, RUNTIME },
	{ { "perTryTimeout", CONFIG_DURATION, offsetof(struct proxy_options, per_try_timeout), 0, 86400,
	    NULL, "seconds each attempt waits for a response head (0: --response-timeout)" }, RUNTIME },
	{ { "retryBackoff", CONFIG_DURATION, offsetof(struct proxy_options, retry_backoff), 0, 60, NULL,
	    "base of the jittered exponential backoff between attempts, seconds (0: none)" }, RUNTIME },
	{ { "retryBackoffMax", CONFIG_DURATION, offsetof(struct proxy_options, retry_backoff_max), 0, 600,
	    NULL, "longest backoff, seconds (0: 10 x --retry-backoff)" }, RUNTIME },
	{ { "retryBudget", CONFIG_DOUBLE, offsetof(struct proxy_options, retry_budget), 0, 100, NULL,
	    "retries in flight, in % of requests in flight (at least 3 are always allowed)" }, RUNTIME },
	{ { "maxPerBackend", CONFIG_INT, offsetof(struct proxy_options, max_per_backend), 0, 10000000,
	    NULL, "requests in flight to one backend; beyond, requests queue (0: no cap)" }, RUNTIME },
	{ { "queueSize", CONFIG_INT, offsetof(struct proxy_options, queue_size), 0, 10000000, NULL,
	    "requests that may wait for a backend under --max-per-backend (503 beyond)" }, RUNTIME },
	{ { "queueTimeout", CONFIG_DURATION, offsetof(struct proxy_options, queue_timeout), 0.001, 3600,
	    NULL, "seconds a request may wait in the queue (then 503 overloaded)" }, RUNTIME },
	{ { "maxConnections", CONFIG_INT, offsetof(struct proxy_options, max_connections), 1, 10000000,
	    NULL, "client connections at once (accepting pauses beyond)" }, RUNTIME },
	{ { "maxHeaderSize", CONFIG_SIZE, offsetof(struct proxy_options, max_header_size), 1024,
	    1 << 20, NULL, "largest request head (431 beyond)" }, RUNTIME },
	{ { "maxBody", CONFIG_SIZE, offsetof(struct proxy_options, max_body), 0, 1e15, NULL,
	    "largest request body (413 beyond; 0: no limit)" }, RUNTIME },
	{ { "mirrorMaxInflight", CONFIG_INT, offsetof(struct proxy_options, mirror_max_inflight), 0,
	    100000, NULL, "RequestMirror copies in flight at once (more are dropped; 0: none)" },
	  RUNTIME },
	{ { "mirrorMaxBody", CONFIG_SIZE, offsetof(struct proxy_options, mirror_max_body), 0, 1 << 30,
	    NULL, "largest request body a RequestMirror copy carries (larger: not mirrored)" },
	  RUNTIME },
	{ { "mirrorTimeout", CONFIG_DURATION, offsetof(struct proxy_options, mirror_timeout), 0.001,
	    3600, NULL, "seconds a RequestMirror copy may take to be sent and answered" }, RUNTIME },
	{ { "accessLog", CONFIG_BOOL, offsetof(struct proxy_options, access_log), 0, 0, NULL,
	    "one log line per request (on/off)" }, RUNTIME },
	{ { "logFlush", CONFIG_DURATION, offsetof(struct proxy_options, log_flush), 0, 10, NULL,
	    "seconds access log lines may wait to be written together while they keep coming "
	    "(0: at the end of every loop pass; other lines always are)" }, RUNTIME },
	{ { "reusePort", CONFIG_BOOL, offsetof(struct proxy_options, reuse_port), 0, 0, NULL,
	    "SO_REUSEPORT, so several proxies share the port" }, FIXED },
	{ { "tlsCert", CONFIG_STRING, offsetof(struct proxy_options, tls_cert), 0, 0, NULL,
	    "PEM certificate (then its chain): clients speak TLS (with --tls-key)" }, FIXED },
	{ { "tlsKey", CONFIG_STRING, offsetof(struct proxy_options, tls_key), 0, 0, NULL,
	    "PEM private key of --tls-cert" }, FIXED },
	{ { "tlsHandshakeTimeout", CONFIG_DURATION, offsetof(struct proxy_options, tls_handshake_timeout),
	    0.001, 3600, NULL, "seconds a client has to complete the TLS handshake" }, RUNTIME },
	{ { "h2", CONFIG_BOOL, offsetof(struct proxy_options, h2), 0, 0, NULL,
	    "clients may speak HTTP/2: h2 by ALPN on the tls: listener, h2c by its preface" }, FIXED },
	{ { "h2MaxConcurrentStreams", CONFIG_INT,
	    offsetof(struct proxy_options, h2_max_concurrent_streams), 1, 100000, NULL,
	    "streams one HTTP/2 connection may have open (SETTINGS; REFUSED_STREAM beyond)" }, RUNTIME },
	{ { "h2MaxResets", CONFIG_INT, offsetof(struct proxy_options, h2_max_resets), 1, 1000000, NULL,
	    "streams an HTTP/2 client may reset a second (GOAWAY ENHANCE_YOUR_CALM beyond)" }, RUNTIME },
	/* the proxy's own routes and header rules */
	{ { "monitorUri", CONFIG_STRING, offsetof(struct proxy_options, monitor_uri), 0, 0, NULL,
	    "PATH answered by the proxy itself with its health (200 or 503)" }, RUNTIME },
	{ { "setRequestHeader", CONFIG_LIST, offsetof(struct proxy_options, set_request_header), 0,
	    HEADERS_RULES_MAX, NULL, "'Name: value' every request to a backend carries (repeatable)" }, RUNTIME },
	{ { "setResponseHeader", CONFIG_LIST, offsetof(struct proxy_options, set_response_header), 0,
	    HEADERS_RULES_MAX, NULL, "'Name: value' every response to a client carries (repeatable)" }, RUNTIME },
	{ { "removeResponseHeader", CONFIG_LIST,
	    offsetof(struct proxy_options, remove_response_header), 0, HEADERS_RULES_MAX, NULL,
	    "a field name no response to a client carries (repeatable)" }, RUNTIME },
	/* CORS (policy/cors.h): the Gateway API's HTTPCORSFilter as flags */
	{ { "corsOrigins", CONFIG_LIST, offsetof(struct proxy_options, cors_origins), 0,
	    CONFIG_LIST_MAX, NULL, "origins allowed cross-origin: https://app.example, "
	    "https://*.example.com, or * (comma-separated or repeated)" }, RUNTIME },
	{ { "corsMethods", CONFIG_LIST, offsetof(struct proxy_options, cors_methods), 0,
	    CONFIG_LIST_MAX, NULL, "methods a preflight allows beyond GET, HEAD, POST (or *)" }, RUNTIME },
	{ { "corsHeaders", CONFIG_LIST, offsetof(struct proxy_options, cors_headers), 0,
	    CONFIG_LIST_MAX, NULL, "request header names a preflight allows (or *)" }, RUNTIME },
	{ { "corsExposeHeaders", CONFIG_LIST, offsetof(struct proxy_options, cors_expose_headers), 0,
	    CONFIG_LIST_MAX, NULL, "response header names scripts may read (or *)" }, RUNTIME },
	{ { "corsMaxAge", CONFIG_DURATION, offsetof(struct proxy_options, cors_max_age), 1, 86400,
	    NULL, "seconds a browser may cache a preflight's answer" }, RUNTIME },
	{ { "corsCredentials", CONFIG_BOOL, offsetof(struct proxy_options, cors_credentials), 0, 0,
	    NULL, "cross-origin requests may carry cookies (Access-Control-Allow-Credentials)" }, RUNTIME },
	{ { "rateLimit", CONFIG_STRING, offsetof(struct proxy_options, rate_limit), 0, 0, NULL,
	    "N/s or N/m: requests a client (--rate-key) may make; 429 beyond (on the bus, shared "
	    "by the proxies)" }, RUNTIME },
	{ { "rateBurst", CONFIG_INT, offsetof(struct proxy_options, rate_burst), 1, RATELIMIT_MAX_N,
	    NULL, "requests a client may make at once (default: N of --rate-limit)" }, RUNTIME },
	{ { "rateKey", CONFIG_STRING, offsetof(struct proxy_options, rate_key), 0, 0, NULL,
	    "who --rate-limit counts: client-ip or header:NAME" }, RUNTIME },
	{ { "rateTableSize", CONFIG_INT, offsetof(struct proxy_options, rate_table_size), 1,
	    RATELIMIT_TABLE_MAX, NULL, "clients --rate-limit tracks at once (least recently seen "
	    "forgotten)" }, RUNTIME },
	{ { "tlsDir", CONFIG_STRING, offsetof(struct proxy_options, tls_dir), 0, 0, NULL,
	    "DIR of NAME.crt/NAME.key pairs or SUB/tls.crt secrets, chosen by SNI (first: default)" }, FIXED },
	{ { "tlsTicketKeys", CONFIG_STRING, offsetof(struct proxy_options, tls_ticket_keys), 0, 0,
	    NULL, "FILE of base64 session ticket keys shared by a fleet (first encrypts)" }, FIXED },
	{ { "tlsResumption", CONFIG_BOOL, offsetof(struct proxy_options, tls_resumption), 0, 0, NULL,
	    "clients may resume TLS sessions (tickets, session cache; off: full handshakes)" }, FIXED },
	{ { "backendTls", CONFIG_BOOL, offsetof(struct proxy_options, backend_tls), 0, 0, NULL,
	    "backends speak TLS (verified against the system store or --backend-ca)" }, FIXED },
	{ { "backendCa", CONFIG_STRING, offsetof(struct proxy_options, backend_ca), 0, 0, NULL,
	    "PEM FILE of the CAs backend certificates are verified against" }, FIXED },
	{ { "backendSni", CONFIG_STRING, offsetof(struct proxy_options, backend_sni), 0, 0, NULL,
	    "NAME sent as SNI to backends and verified in their certificates" }, FIXED },
	{ { "backendTlsInsecure", CONFIG_BOOL, offsetof(struct proxy_options, backend_tls_insecure), 0,
	    0, NULL, "do not verify backend certificates (a warning at start-up)" }, FIXED },
	{ { "backendProtocol", CONFIG_ENUM, offsetof(struct proxy_options, backend_protocol), 0, 0,
	    backend_protocol_choices, "http1: HTTP/1.1 to backends; h2c: HTTP/2 in clear text; h2: "
	    "HTTP/2 over --backend-tls (ALPN h2); many streams per connection" }, FIXED },
	/* TCP mode (docs/tcp.md) */
	{ { "mode", CONFIG_ENUM, offsetof(struct proxy_options, mode), 0, 0, mode_choices,
	    "http: an HTTP/1.1 proxy; tcp: relay bytes to a balanced backend (TLS passes through)" }, FIXED },
	{ { "sendProxyV2", CONFIG_BOOL, offsetof(struct proxy_options, send_proxy_v2), 0, 0, NULL,
	    "tcp: send backends a PROXY protocol v2 header naming the client" }, RUNTIME },
	{ { "tcpInspectSni", CONFIG_BOOL, offsetof(struct proxy_options, tcp_inspect_sni), 0, 0, NULL,
	    "tcp: read the TLS ClientHello's server name first (waits --header-timeout at most)" }, RUNTIME },
	/* Tracing (docs/tracing.md): built once at start-up. */
	{ { "otlpEndpoint", CONFIG_STRING, offsetof(struct proxy_options, otlp_endpoint), 0, 0, NULL,
	    "OTLP/HTTP base URL spans go to (/v1/traces appended; unset: propagation only)" }, FIXED },
	{ { "otlpHeader", CONFIG_LIST, offsetof(struct proxy_options, otlp_headers), 0,
	    OTLP_EXPORT_HEADERS_MAX, NULL, "NAME=VALUE sent with every export (repeatable)" }, FIXED },
	{ { "traceSample", CONFIG_DOUBLE, offsetof(struct proxy_options, trace_sample), 0, 1, NULL,
	    "ratio of new traces recorded, 0-1 (an incoming sampled flag is honoured; default 1)" }, FIXED },
	{ { "otlpQueueSize", CONFIG_INT, offsetof(struct proxy_options, otlp_queue_size), 1, 1000000,
	    NULL, "spans held for export at most (beyond: dropped and counted; default 8192)" }, FIXED },
	{ { "otlpBatchSize", CONFIG_INT, offsetof(struct proxy_options, otlp_batch_size), 1, 100000,
	    NULL, "spans per export request at most (default 2048)" }, FIXED },
	{ { "otlpInterval", CONFIG_DURATION, offsetof(struct proxy_options, otlp_interval), 0.001,
	    3600, NULL, "seconds between exports of what is queued (default 5)" }, FIXED },
	{ { "otlpCompression", CONFIG_STRING, offsetof(struct proxy_options, otlp_compression), 0, 0,
	    NULL, "gzip: export bodies compressed (default none)" }, FIXED },
	/* Reload and restart (--check-config is not a setting: read before the table). */
	{ { "takeover", CONFIG_BOOL, offsetof(struct proxy_options, takeover), 0, 0, NULL,
	    "take the listening sockets of the lb-proxy on this port, then make it drain" }, FIXED },
	{ { "workers", CONFIG_STRING, offsetof(struct proxy_options, workers), 0, 0, NULL,
	    "N or auto (one per core it may run on): event-loop processes sharing the listeners "
	    "under a supervisor (1: no supervisor)" }, FIXED },
	{ { "watchConfig", CONFIG_BOOL, offsetof(struct proxy_options, watch_config), 0, 0, NULL,
	    "reload when the --config file changes (inotify), as on SIGHUP" }, FIXED },
};
#define NROWS (sizeof(rows) / sizeof(rows[0]))

/* The log settings every program has (common/config.h): reloadable. */
static const struct config_field log_fields[] = {
	CONFIG_LOG_FIELDS(struct proxy_options),
};
#define NLOG (sizeof(log_fields) / sizeof(log_fields[0]))

_Static_assert(NROWS + NLOG <= CONFIG_MAX_FIELDS, "too many settings");

const struct config_spec *options_spec(void)
{
	static struct config_field fields[NROWS + NLOG];
	static struct config_spec spec = {
		"lb-proxy", "LB_PROXY_", "--backends HOST:PORT[@WEIGHT],... [options] [--check-config]",
		fields, NROWS + NLOG,
	};

	if (!fields[0].key) {
		for (size_t i = 0; i < NROWS; i++)
			fields[i] = rows[i].field;
		for (size_t i = 0; i < NLOG; i++)
			fields[NROWS + i] = log_fields[i];
	}
	return &spec;
}

int options_fixed(const char *key)
{
	for (size_t i = 0; i < NROWS; i++)
		if (strcmp(rows[i].field.key, key) == 0)
			return rows[i].reload == FIXED;
	return 0;
}

const struct proxy_options options_defaults = {
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
	.panic_threshold = PANIC_THRESHOLD_DEFAULT,
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
	.mirror_max_inflight = 256,
	.mirror_max_body = 64 * 1024,
	.mirror_timeout = 10,
	.queue_timeout = 5,
	.balance = "round-robin",
	.hash_key = "client-ip",
	.max_connections = 100000,
	.max_header_size = HTTP_DEFAULT_MAX_HEADER_SIZE,
	.access_log = 1,
	.log_flush = 0.01,
	.reuse_port = 0,
	.log_level = "info",
	.log_format = "text",
	.tls_handshake_timeout = 10,
	.rate_key = "client-ip",
	.rate_table_size = RATELIMIT_TABLE_DEFAULT,
	.tls_resumption = 1,
	.mode = "http",
	.backend_protocol = "http1",
	.watch_config = 1,
	.workers = "1",
	.cors_max_age = CORS_MAX_AGE_DEFAULT,
	.trace_sample = -1,
	.h2 = 1,
	.h2_max_concurrent_streams = 100,
	.h2_max_resets = 100,
};

/* Takes --check-config out of argv (it is an action, not a setting: a
 * config file cannot turn it on). Returns 1 when it was there. */
int options_take_check_config(int *argc, char **argv)
{
	return config_show_take_flag(argc, argv, "--check-config");
}
