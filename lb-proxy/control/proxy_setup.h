/* proxy_setup: a configuration's features made current in the proxy, at
 * start-up, by --check-config and on reload (SIGHUP): the retry and
 * ejection rules, the rate limit, TLS, the header rules. */
#ifndef LB_PROXY_PROXY_SETUP_H
#define LB_PROXY_PROXY_SETUP_H

#include <stddef.h>

#include "config.h"
#include "http/proxy.h"
#include "proxy_config.h"
#include "upstream/upstream.h"

/* --retry-on, --retry-backoff(-max) and --eject-time(-max): what start-up,
 * --check-config and a reload check alike (the ranges are the table's).
 * Returns 0, or -1 with err filled ("--flag: what"). */
int proxy_setup_resilience_check(const struct proxy_options *opts, char *err, size_t errsz);
/* Makes the checked retry policy, --max-per-backend and the --eject-* rules
 * current: at start-up and on reload, for new requests. Fills
 * opts->per_try_timeout when it was 0 (--response-timeout). */
void proxy_setup_resilience_apply(struct proxy *px, struct proxy_options *opts);
/* --rate-limit, --rate-burst, --rate-key, --rate-table-size (`spec` and
 * `cfg` tell which were given) into px's rate_on, rate, rate_key, rate_n and
 * rate_unit (a zeroed px: the table is allocated here; at start-up and by a
 * reload that changes them). Returns 0, or -1 with err filled. */
int proxy_setup_rate_build(struct proxy *px, const struct proxy_options *opts,
			   const struct config_spec *spec, const struct config_result *cfg,
			   char *err, size_t errsz);
/* --rate-limit, --rate-burst, --rate-key, --rate-table-size (`spec` and
 * `cfg` tell which were given): the table is allocated here, once. Returns
 * 0, or -1 after saying what is wrong on stderr (exit 2). */
int proxy_setup_rate(struct proxy *px, const struct proxy_options *opts,
		     const struct config_spec *spec, const struct config_result *cfg);
/* The limit as a user wrote it, divided by the proxies' share: "50/m". */
void proxy_setup_rate_describe(const struct proxy *px, char *out, size_t outsz);
/* A set said how many proxies the fleet has (px->fleet_proxies): each
 * enforces its share of the limit; logs a change (px->proxies_heard). */
void proxy_setup_rate_share(struct proxy *px);
/* --tls-cert/--tls-key, --tls-dir, --tls-ticket-keys: the client listener's
 * TLS (px->tls and px->tls_server stay NULL without them: the process's one
 * server, released with tls_server_release); --backend-tls and its flags
 * into `limits`. Returns 0, or -1 after saying what is wrong on stderr
 * (exit 2). */
int proxy_setup_tls(struct proxy *px, const struct proxy_options *opts,
		    struct upstream_limits *limits);
/* --monitor-uri checked and the header rules parsed into `rules` (zeroed;
 * they point into opts' strings: opts must outlive them). Returns 0, or -1
 * with err filled. */
int proxy_setup_rules_build(struct headers_rules *rules, const struct proxy_options *opts,
			    char *err, size_t errsz);
/* --cors-* compiled into `cors` (cors_policy_compile: nothing points into
 * opts afterwards). Returns 0, or -1 with err filled. */
int proxy_setup_cors_build(struct cors_policy *cors, const struct proxy_options *opts, char *err,
			   size_t errsz);
/* --monitor-uri, the header rules (parsed into px->header_rules) and the
 * CORS policy (px->cors).
 * Returns 0, or -1 after saying what is wrong on stderr (exit 2). */
int proxy_setup_traffic_rules(struct proxy *px, const struct proxy_options *opts);
/* Fewer connections than this fit the descriptor limit: worth a warning. */
#define PROXY_FEW_CONNECTIONS 1024
/* Each proxied connection holds two descriptors (client and backend): when
 * the descriptor limit cannot hold 2 x --max-connections and the reserve,
 * the soft limit is raised, and then max_connections lowered to fit (said
 * unless `quiet`, on reload: a warning when --max-connections was `asked`
 * for or fewer than PROXY_FEW_CONNECTIONS fit, else at INFO). Returns 0, or
 * -1 when not even one connection fits (said on stderr unless `quiet`). */
int proxy_setup_descriptors(struct proxy_options *opts, int quiet, int asked);
/* --check-config: everything start-up checks of c short of binding (nginx
 * -t), said on stderr; when valid, the effective configuration and where
 * each value came from on stdout (config_show). Returns the exit code: 0
 * valid, 2 not. */
int proxy_setup_check(struct proxy_config *c);

#endif
