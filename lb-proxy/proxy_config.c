/* proxy_config: one reading of lb-proxy's flags, environment and file,
 * validated: what start-up uses and what a reload (SIGHUP) swaps in. */
#include "proxy_config.h"

#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "net.h"
#include "sticky.h"

/* --balance, --hash-key, --trusted-proxies, --sticky-cookie into c. Returns
 * 0, or -1 with err naming the flag. */
static int balancing_parse(struct proxy_config *c, char *err, size_t errsz)
{
	const struct proxy_options *opts = &c->opts;
	const char *name = strcmp(opts->balance, "ip-hash") == 0 ? "maglev" : opts->balance;
	const char *key = strcmp(opts->balance, "ip-hash") == 0 ? "client-ip" : opts->hash_key;
	char why[256], cookie[HASHKEY_NAME_MAX + 8];

	c->ops = balance_find(name);
	if (!c->ops) {
		snprintf(err, errsz, "--balance: \"%s\" is not one of %s, ip-hash", opts->balance,
			 balance_names());
		return -1;
	}
	if (hashkey_parse(key, &c->hash_key, why, sizeof(why)) == -1) {
		snprintf(err, errsz, "--hash-key: %s", why);
		return -1;
	}
	if (opts->trusted_proxies &&
	    trusted_parse(opts->trusted_proxies, &c->trusted, why, sizeof(why)) == -1) {
		snprintf(err, errsz, "--trusted-proxies: %s", why);
		return -1;
	}
	if (opts->sticky_cookie) {
		snprintf(cookie, sizeof(cookie), "cookie:%s", opts->sticky_cookie);
		if (hashkey_parse(cookie, &c->sticky_key, why, sizeof(why)) == -1) {
			snprintf(err, errsz, "--sticky-cookie: \"%s\" is not a cookie name",
				 opts->sticky_cookie);
			return -1;
		}
	}
	return 0;
}

int proxy_config_apply_balancing(struct proxy *px, const struct proxy_config *c)
{
	const struct proxy_options *opts = &c->opts;

	px->hash_key = c->hash_key;
	px->hash_key_spec = strcmp(opts->balance, "ip-hash") == 0 ? "client-ip" : opts->hash_key;
	px->trusted = c->trusted;
	px->sticky_key = c->sticky_key;
	if (opts->sticky_cookie && !opts->sticky_secret)
		log_warn("--sticky-cookie without --sticky-secret: anyone can tell which address "
			 "a cookie names by trying addresses", NULL);
	sticky_setup(opts->sticky_cookie, opts->sticky_secret);
	balance_set_slow_start(opts->slow_start);
	return balancer_rebuild(&px->balancer, c->ops, &px->set);
}

void proxy_config_free(struct proxy_config *c)
{
	if (!c)
		return;
	backend_set_release(&c->set);
	config_result_release(&c->cfg);
	free(c);
}

struct proxy_config *proxy_config_read(const struct config_spec *spec,
				       const struct proxy_options *defaults, int argc, char **argv,
				       int addresses, int *status, char *err, size_t errsz)
{
	struct proxy_config *c = calloc(1, sizeof(*c));
	struct net_addr na;
	char why[384];
	int rc;

	*status = 2;
	if (!c) {
		snprintf(err, errsz, "out of memory");
		return NULL;
	}
	c->opts = *defaults;
	rc = config_load(spec, &c->opts, argc, argv, &c->cfg);
	if (rc == 1) {
		*status = 0;
		goto fail;
	}
	if (rc == -1) {
		snprintf(err, errsz, "%s", c->cfg.err);
		goto fail;
	}
	if (c->cfg.argi < argc) {
		snprintf(err, errsz, "unexpected argument \"%s\" (see %s --help)",
			 argv[c->cfg.argi], spec->program);
		goto fail;
	}
	c->opts.listen = (char *)config_port_listen(spec, &c->cfg, c->opts.listen,
						    c->opts.port, c->listen, sizeof(c->listen));
	if (c->opts.backends && backend_set_parse(c->opts.backends, &c->set, why, sizeof(why)) == -1) {
		snprintf(err, errsz, "--backends: %s", why);
		goto fail;
	}
	if (c->opts.takeover && c->opts.backends && !c->opts.runtime_dir) {
		snprintf(err, errsz, "--takeover with --backends needs --runtime-dir DIR: the directory "
			 "where the running proxy offers its sockets");
		goto fail;
	}
	if (!c->opts.tls_cert != !c->opts.tls_key) {
		snprintf(err, errsz, "give --tls-cert and --tls-key together");
		goto fail;
	}
	if (balancing_parse(c, err, errsz) == -1)
		goto fail;
	if (addresses && net_parse_addr(c->opts.listen, &na, why, sizeof(why)) == -1) {
		snprintf(err, errsz, "--listen: %s", why);
		goto fail;
	}
	/* sin_port and sin6_port sit at the same place */
	if (addresses && c->opts.takeover && ((struct sockaddr_in *)&na.ss)->sin_port == 0) {
		snprintf(err, errsz, "--takeover needs --listen HOST:PORT with a port other than 0: "
			 "the port names the proxy to take over");
		goto fail;
	}
	if (addresses && net_parse_addr(c->opts.admin, &na, why, sizeof(why)) == -1) {
		snprintf(err, errsz, "--admin: %s", why);
		goto fail;
	}
	return c;
fail:
	proxy_config_free(c);
	return NULL;
}

