/* proxy_config: one reading of lb-proxy's flags, environment and file,
 * validated: what start-up uses and what a reload (SIGHUP) swaps in. */
#include "proxy_config.h"

#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "net.h"
#include "policy/sticky.h"
#include "upstream/balance_table.h"

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
				 log_printable(opts->sticky_cookie, why, sizeof(why)));
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
	switch (sticky_setup(opts->sticky_cookie, opts->sticky_secret)) {
	case -1:
		log_error("--sticky-cookie: no random secret could be made: give --sticky-secret",
			  NULL);
		return -1;
	case 1:
		if (opts->sticky_cookie)
			log_warn("--sticky-cookie without --sticky-secret: this proxy signs its "
				 "cookies with a random secret, so another proxy of the fleet (or "
				 "this one after a restart) sends their clients elsewhere: give "
				 "every proxy one --sticky-secret", NULL);
		break;
	}
	balance_set_slow_start(opts->slow_start);
	return balancer_rebuild(&px->balancer, c->ops, &px->set);
}

int proxy_config_listeners(struct proxy_options *opts, const char *port_listen, char *err,
			   size_t errsz)
{
	size_t plen = strlen(PROXY_LISTEN_TLS_PREFIX);
	int tls_files = opts->tls_cert || opts->tls_dir, marked = 0, ntls = 0;

	opts->nlisten = 0;
	if (port_listen || opts->listens.n == 0) {
		opts->listen_addr[opts->nlisten] = port_listen ? port_listen : PROXY_LISTEN_DEFAULT;
		opts->listen_tls[opts->nlisten++] = 0;
	} else {
		for (size_t i = 0; i < opts->listens.n && i < PROXY_LISTEN_MAX; i++) {
			const char *a = opts->listens.items[i];
			int tls = strncmp(a, PROXY_LISTEN_TLS_PREFIX, plen) == 0;

			opts->listen_addr[opts->nlisten] = tls ? a + plen : a;
			opts->listen_tls[opts->nlisten++] = tls;
			marked += tls;
		}
	}
	/* on the bus without certificate flags, a tls: listener serves the
	 * Gateway's certificates (proxy_setup_tls) */
	if (marked && !tls_files && opts->backends) {
		snprintf(err, errsz, "--listen: a %sADDR:PORT listener needs --tls-cert/--tls-key or "
			 "--tls-dir", PROXY_LISTEN_TLS_PREFIX);
		return -1;
	}
	if (marked > 1) {
		snprintf(err, errsz, "--listen: at most one listener speaks TLS: give one "
			 "%sADDR:PORT and one plain ADDR:PORT", PROXY_LISTEN_TLS_PREFIX);
		return -1;
	}
	/* One listener speaks TLS when TLS files are given, as before. */
	if (tls_files && opts->nlisten == 1)
		opts->listen_tls[0] = 1;
	if (tls_files && opts->nlisten > 1 && !marked) {
		snprintf(err, errsz, "--listen: with two listeners and TLS files, mark the TLS one "
			 "%sADDR:PORT (the other stays plain)", PROXY_LISTEN_TLS_PREFIX);
		return -1;
	}
	for (unsigned i = 0; i < opts->nlisten; i++)
		ntls += opts->listen_tls[i];
	if (opts->redirect_https && (ntls != 1 || opts->nlisten != 2)) {
		snprintf(err, errsz, "--redirect-https needs a TLS listener and a plain one: "
			 "--listen %sADDR:PORT --listen ADDR:PORT with --tls-cert/--tls-key or "
			 "--tls-dir", PROXY_LISTEN_TLS_PREFIX);
		return -1;
	}
	opts->listen = (char *)opts->listen_addr[0];
	return 0;
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
	/* --port stands for one listener (config_port_listen: the stronger source wins). */
	{
		const char *pl = config_port_listen(spec, &c->cfg, NULL, c->opts.port, c->listen,
						    sizeof(c->listen));

		if (proxy_config_listeners(&c->opts, pl, err, errsz) == -1)
			goto fail;
	}
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
	for (unsigned i = 0; addresses && i < c->opts.nlisten; i++) {
		if (net_parse_addr(c->opts.listen_addr[i], &na, why, sizeof(why)) == -1) {
			snprintf(err, errsz, "--listen: %s", why);
			goto fail;
		}
	}
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

