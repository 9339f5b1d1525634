/* proxy_setup: a configuration's features made current in the proxy, at
 * start-up, by --check-config and on reload: the retry and ejection rules,
 * the rate limit, TLS (client listener and backends), the header rules. */
#include "proxy_setup.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config_show.h"
#include "http/routes.h"
#include "log.h"
#include "net/tls_server.h"
#include "net/transport_tls.h"
#include "options.h"
#include "policy/cors.h"
#include "policy/headers.h"
#include "policy/ratelimit.h"
#include "policy/retry.h"
#include "rundir.h"
#include "tcp_setup.h"
#include "trace_setup.h"
#include "upstream/balance.h"
#include "upstream/outlier.h"
#include "upstream/panic.h"

/* --retry-on, --retry-backoff(-max) and --eject-time(-max): what start-up,
 * --check-config and a reload check alike (the ranges are the table's).
 * Returns 0, or -1 with err filled ("--flag: what"). */
int proxy_setup_resilience_check(const struct proxy_options *opts, char *err, size_t errsz)
{
	char why[256];
	unsigned on;

	if (retry_on_parse(opts->retry_on, &on, why, sizeof(why)) == -1) {
		snprintf(err, errsz, "--retry-on: %s", why);
		return -1;
	}
	if (opts->retry_backoff_max > 0 && opts->retry_backoff_max < opts->retry_backoff) {
		snprintf(err, errsz, "--retry-backoff-max: %g is below --retry-backoff %g: give "
			 "seconds at least the base (or 0 for %d x the base)",
			 opts->retry_backoff_max, opts->retry_backoff, RETRY_BACKOFF_MAX_FACTOR);
		return -1;
	}
	if (opts->eject_time_max < opts->eject_time) {
		snprintf(err, errsz, "--eject-time-max must be at least --eject-time (got %g, "
			 "--eject-time %g)", opts->eject_time_max, opts->eject_time);
		return -1;
	}
	return 0;
}

/* Makes the checked (proxy_setup_resilience_check) retry policy, --max-per-backend,
 * the --eject-* rules and --panic-threshold current: at start-up and on
 * reload, for new requests. */
void proxy_setup_resilience_apply(struct proxy *px, struct proxy_options *opts)
{
	char err[256];

	retry_on_parse(opts->retry_on, &px->retry.on, err, sizeof(err));
	px->retry.backoff_base = opts->retry_backoff;
	px->retry.backoff_max = opts->retry_backoff_max > 0
					? opts->retry_backoff_max
					: RETRY_BACKOFF_MAX_FACTOR * opts->retry_backoff;
	px->retry.budget_percent = opts->retry_budget;
	if (opts->per_try_timeout <= 0)
		opts->per_try_timeout = opts->response_timeout;
	balance_set_max_active((unsigned)opts->max_per_backend);
	outlier_configure(&(struct outlier_config){
		.max_5xx = (unsigned)opts->eject_5xx, .max_gateway = (unsigned)opts->eject_gateway,
		.eject_time = opts->eject_time, .eject_time_max = opts->eject_time_max,
		.max_percent = (unsigned)opts->eject_max_percent, .pid = (int)getpid() });
	panic_set_threshold((unsigned)opts->panic_threshold);
}

/* The limit as a user wrote it, divided by the share: "50/m". */
void proxy_setup_rate_describe(const struct proxy *px, char *out, size_t outsz)
{
	snprintf(out, outsz, "%g/%c", (double)px->rate_n / px->rate.share, px->rate_unit);
}

/* A set said how many proxies lb-discover hears: each enforces its share of
 * the limit (Envoy's global limits need a service; this is the bus's). */
void proxy_setup_rate_share(struct proxy *px)
{
	char eff[48];

	if (!px->rate_on || !ratelimit_set_share(&px->rate, px->fleet_proxies))
		return;
	proxy_setup_rate_describe(px, eff, sizeof(eff));
	log_info("rate limit shared by the proxies", "proxies=%u effective=%s burst=%g",
		 px->rate.share, eff, px->rate.eff_burst);
}

/* --rate-limit, --rate-burst, --rate-key, --rate-table-size into px (rate_on,
 * rate, rate_key, rate_n, rate_unit): the table is allocated here, at start-up
 * and by a reload that changes them. Returns 0, or -1 with err filled. */
int proxy_setup_rate_build(struct proxy *px, const struct proxy_options *opts,
			   const struct config_spec *spec, const struct config_result *cfg,
			   char *err, size_t errsz)
{
	static const char *const needs[] = { "rateBurst", "rateKey", "rateTableSize" };
	static const char *const flags[] = { "--rate-burst", "--rate-key", "--rate-table-size" };
	double per_second;
	char why[256];

	if (!opts->rate_limit) {
		for (size_t i = 0; i < sizeof(needs) / sizeof(needs[0]); i++)
			if (config_source_of(spec, cfg, needs[i]) != CONFIG_SRC_DEFAULT) {
				snprintf(err, errsz, "%s needs --rate-limit N/s or N/m", flags[i]);
				return -1;
			}
		return 0;
	}
	if (ratelimit_parse(opts->rate_limit, &per_second, &px->rate_n, why, sizeof(why)) == -1) {
		snprintf(err, errsz, "--rate-limit: %s", why);
		return -1;
	}
	px->rate_unit = opts->rate_limit[strlen(opts->rate_limit) - 1];
	if (hashkey_parse(opts->rate_key, &px->rate_key, why, sizeof(why)) == -1 ||
	    (px->rate_key.kind != HASHKEY_CLIENT_IP && px->rate_key.kind != HASHKEY_HEADER)) {
		snprintf(err, errsz, "--rate-key: \"%s\" is not client-ip or header:NAME",
			 log_printable(opts->rate_key, why, sizeof(why)));
		return -1;
	}
	if (ratelimit_init(&px->rate, per_second,
			   (double)(opts->rate_burst ? opts->rate_burst : px->rate_n),
			   (uint32_t)opts->rate_table_size) == -1) {
		snprintf(err, errsz, "out of memory for --rate-table-size %ld", opts->rate_table_size);
		return -1;
	}
	px->rate_on = 1;
	return 0;
}

int proxy_setup_rate(struct proxy *px, const struct proxy_options *opts,
		     const struct config_spec *spec, const struct config_result *cfg)
{
	char err[512];

	if (proxy_setup_rate_build(px, opts, spec, cfg, err, sizeof(err)) == -1) {
		fprintf(stderr, "lb-proxy: %s\n", err);
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

/* A bus proxy's tls: listener without certificate flags serves the folder
 * lb-discover --gateway writes the Gateway's certificates to (RUNDIR_GATEWAY_TLS),
 * made here when lb-discover has not yet; it may hold no pair. Returns 0
 * (to->dir set, or not such a proxy), or -1 after saying why on stderr. */
static int gateway_tls_dir(const struct proxy *px, const struct proxy_options *opts,
			   struct tls_server_options *to)
{
	static char dir[1100];
	char err[1200];
	int marked = 0;

	for (unsigned i = 0; i < opts->nlisten; i++)
		marked |= opts->listen_tls[i];
	if (!marked || !px->rundir)
		return 0;
	snprintf(dir, sizeof(dir), "%s/%s", px->rundir, RUNDIR_GATEWAY_TLS);
	if (mkdir(dir, 0700) == -1 && errno != EEXIST) {
		fprintf(stderr, "lb-proxy: %s: %s\n", dir, strerror(errno));
		return -1;
	}
	if (rundir_check_file(dir, S_IFDIR, err, sizeof(err)) == -1) {
		fprintf(stderr, "lb-proxy: %s\n", err);
		return -1;
	}
	to->dir = dir;
	to->dir_may_be_empty = 1;
	log_info("TLS certificates from lb-discover --gateway", "dir=%s", dir);
	return 0;
}

/* --tls-cert/--tls-key, --tls-dir, --tls-ticket-keys: the client listener's
 * TLS (px->tls stays NULL without them); --backend-tls and its flags.
 * Returns 0, or -1 after saying what is wrong on stderr (exit 2). */
int proxy_setup_tls(struct proxy *px, const struct proxy_options *opts,
		    struct upstream_limits *limits)
{
	struct tls_server_options to = { opts->tls_cert, opts->tls_key, opts->tls_dir,
					 opts->tls_ticket_keys, opts->tls_resumption, opts->h2, 0 };
	char err[1024];

	if (!opts->backend_tls && (opts->backend_ca || opts->backend_sni ||
				   opts->backend_tls_insecure)) {
		fprintf(stderr, "lb-proxy: --backend-ca, --backend-sni and --backend-tls-insecure "
				"need --backend-tls\n");
		return -1;
	}
	if (strcmp(opts->backend_protocol, "h2") == 0 && !opts->backend_tls) {
		fprintf(stderr, "lb-proxy: --backend-protocol h2 is HTTP/2 over TLS: add --backend-tls, "
				"or use h2c (clear text)\n");
		return -1;
	}
	if (strcmp(opts->backend_protocol, "h2c") == 0 && opts->backend_tls) {
		fprintf(stderr, "lb-proxy: --backend-protocol h2c is clear text: with --backend-tls "
				"use h2\n");
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
		if (strcmp(opts->backend_protocol, "h2") == 0 &&
		    transport_tls_ctx_offer_h2(limits->tls) == -1) {
			fprintf(stderr, "lb-proxy: cannot offer h2 to backends by ALPN\n");
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
	if (!opts->tls_cert && !opts->tls_key && !opts->tls_dir && gateway_tls_dir(px, opts, &to) == -1)
		return -1;
	if (!opts->tls_cert && !opts->tls_key && !to.dir) {
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

/* --monitor-uri checked and the header rules parsed into `rules` (which
 * point into opts' strings). Returns 0, or -1 with err filled. */
int proxy_setup_rules_build(struct headers_rules *rules, const struct proxy_options *opts,
			    char *err, size_t errsz)
{
	const struct config_list *lists[HEADERS_RULE_KINDS] = {
		[HEADERS_SET_REQUEST] = &opts->set_request_header,
		[HEADERS_SET_RESPONSE] = &opts->set_response_header,
		[HEADERS_REMOVE_RESPONSE] = &opts->remove_response_header,
	};
	char why[512];

	if (routes_monitor_check(opts->monitor_uri, why, sizeof(why)) == -1) {
		snprintf(err, errsz, "--monitor-uri %s", why);
		return -1;
	}
	for (int kind = 0; kind < HEADERS_RULE_KINDS; kind++)
		for (size_t i = 0; i < lists[kind]->n; i++)
			if (headers_rules_add(rules, (enum headers_rule_kind)kind,
					      lists[kind]->items[i], err, errsz) == -1)
				return -1;
	return 0;
}

int proxy_setup_cors_build(struct cors_policy *cors, const struct proxy_options *opts, char *err,
			   size_t errsz)
{
	const struct cors_settings s = {
		opts->cors_origins.items, opts->cors_methods.items, opts->cors_headers.items,
		opts->cors_expose_headers.items, opts->cors_origins.n, opts->cors_methods.n,
		opts->cors_headers.n, opts->cors_expose_headers.n, opts->cors_max_age,
		opts->cors_credentials,
	};

	return cors_policy_compile(cors, &s, err, errsz);
}

int proxy_setup_traffic_rules(struct proxy *px, const struct proxy_options *opts)
{
	char err[768];

	if (proxy_setup_rules_build(&px->header_rules, opts, err, sizeof(err)) == -1 ||
	    proxy_setup_cors_build(&px->cors, opts, err, sizeof(err)) == -1) {
		fprintf(stderr, "lb-proxy: %s\n", err);
		return -1;
	}
	return 0;
}

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
int proxy_setup_descriptors(struct proxy_options *opts, int quiet, int asked)
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
	/* A warning when it matters: the operator asked for more, or what fits
	 * is few; fitting the default (100,000) to an ordinary limit is news
	 * (INFO), not a problem on every start. */
	if (!quiet)
		log_write(asked || (rl.rlim_cur - FD_RESERVE) / 2 < PROXY_FEW_CONNECTIONS ?
			  LOG_WARN : LOG_INFO, "max connections lowered to fit the descriptor limit",
			  "max_connections=%llu asked=%ld nofile=%llu",
			  (unsigned long long)(rl.rlim_cur - FD_RESERVE) / 2, opts->max_connections,
			  (unsigned long long)rl.rlim_cur);
	opts->max_connections = (long)((rl.rlim_cur - FD_RESERVE) / 2);
	return 0;
}

/* --check-config: everything start-up checks short of binding (nginx -t).
 * Returns the exit code: 0 valid, 2 not. */
int proxy_setup_check(struct proxy_config *c)
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
	if (proxy_setup_resilience_check(&c->opts, err, sizeof(err)) == -1 ||
	    tcp_setup_check(&c->opts, err, sizeof(err)) == -1 ||
	    trace_setup_check(&c->opts, err, sizeof(err)) == -1) {
		fprintf(stderr, "lb-proxy: %s\n", err);
		return 2;
	}
	memset(&limits, 0, sizeof(limits));
	TAILQ_INIT(&px.queue);
	rc = proxy_setup_traffic_rules(&px, &c->opts) == -1 ||
	     proxy_setup_rate(&px, &c->opts, options_spec(), &c->cfg) == -1 ||
	     proxy_setup_tls(&px, &c->opts, &limits) == -1;
	transport_tls_ctx_free(limits.tls);
	if (px.tls_server)
		tls_server_release(px.tls_server);
	ratelimit_release(&px.rate);
	if (rc)
		return 2;
	config_show(stdout, options_spec(), &c->opts, &c->cfg);
	fflush(stdout);
	fprintf(stderr, "lb-proxy: the configuration is valid (file: %s)\n",
		c->cfg.file[0] ? c->cfg.file : "none");
	return 0;
}
