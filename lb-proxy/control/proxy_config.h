/* proxy_config: one reading of lb-proxy's flags, environment and file,
 * validated: what start-up uses and what a reload (SIGHUP) swaps in. */
#ifndef LB_PROXY_PROXY_CONFIG_H
#define LB_PROXY_PROXY_CONFIG_H

#include "config.h"
#include "http/proxy.h"
#include "policy/hashkey.h"
#include "upstream/backend.h"
#include "upstream/balance.h"

struct proxy_config {
	struct proxy_options opts;
	struct config_result cfg;	/* owns the option strings */
	char listen[32];		/* opts.listen when --port made it */
	struct backend_set set;		/* --backends, parsed (taken when applied) */
	const struct balance_ops *ops;	/* --balance */
	struct hashkey hash_key, sticky_key;
	struct trusted trusted;
};

/*
 * Reads `defaults`, then the file, the environment and argv (the fields of
 * `spec`) into a new config, and checks what can be checked without
 * binding: --backends, --balance and the hash keys, --tls-cert with
 * --tls-key, --takeover's runtime dir. With `addresses`, --listen and
 * --admin are parsed too (they may resolve names: start-up only), and
 * --takeover's listen port. Returns
 * the config (the caller frees it with proxy_config_free), or NULL with
 * *status 0 (--help was printed) or 2 and err filled
 * ("file:line:column: what", "--flag ...", "environment ...").
 */
struct proxy_config *proxy_config_read(const struct config_spec *spec,
				       const struct proxy_options *defaults, int argc, char **argv,
				       int addresses, int *status, char *err, size_t errsz);
/* The default client listener (no --listen, no --port). */
#define PROXY_LISTEN_DEFAULT "0.0.0.0:8080"
/*
 * Fills opts->listen_addr/listen_tls/nlisten/listen from opts->listens (or
 * from port_listen, --port's address, when not NULL), and checks the
 * combination with the TLS files and --redirect-https: a tls: prefix needs
 * TLS files, at most one is TLS, two with TLS files need the prefix on
 * one, a single one speaks TLS when TLS files are given. The addresses
 * point into opts->listens (or port_listen). Returns 0, or -1 with err
 * naming the flag.
 */
int proxy_config_listeners(struct proxy_options *opts, const char *port_listen, char *err,
			   size_t errsz);
/* Frees c, its strings and the set it still holds (NULL is fine). */
void proxy_config_free(struct proxy_config *c);
/* Makes c's balancing current in px (at start-up and on reload): hash key,
 * trusted proxies, sticky cookie, slow start, and the balancer rebuilt over
 * px->set. px keeps a pointer to c's --hash-key string (hash_key_spec): c
 * must outlive its use. Returns 0 or -1 (out of memory: the old balancer
 * is kept). */
int proxy_config_apply_balancing(struct proxy *px, const struct proxy_config *c);

#endif
