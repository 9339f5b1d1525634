/* reload: SIGHUP, or a change of the --config file, reads lb-proxy's
 * configuration again; what may change applies to new requests, what may
 * not keeps its running value. */
#include "reload.h"

#include <stdio.h>
#include <string.h>

#include "http/accept.h"
#include "http/routing.h"
#include "log.h"
#include "log_buffer.h"
#include "net/tls_server.h"
#include "options.h"
#include "policy/headers.h"
#include "policy/ratelimit.h"
#include "proxy_setup.h"
#include "upstream/backend.h"

static void append_name(char *out, size_t outsz, const char *name)
{
	size_t n = strlen(out);

	snprintf(out + n, outsz - n, "%s%s", n ? "," : "", name);
}

static int same_text(const char *a, const char *b)
{
	return (!a || !b) ? a == b : strcmp(a, b) == 0;
}

static int rate_settings_changed(const struct proxy_options *a, const struct proxy_options *b)
{
	return !same_text(a->rate_limit, b->rate_limit) || a->rate_burst != b->rate_burst ||
	       !same_text(a->rate_key, b->rate_key) || a->rate_table_size != b->rate_table_size;
}

/*
 * What start-up builds once from the options, built again from c before
 * anything is applied, so a bad value changes nothing: the header rules
 * (always: they point into c's strings, and c replaces the running reading),
 * the CORS policy and, when its settings changed, the rate limit's table in
 * *rate (a scratch proxy; for a moment two tables are allocated). Returns 0,
 * or -1 with err filled.
 */
static int build_rules(const struct proxy *px, struct proxy_config *c,
		       struct headers_rules *rules, struct cors_policy *cors, struct proxy *rate,
		       char *err, size_t errsz)
{
	memset(rules, 0, sizeof(*rules));
	if (proxy_setup_rules_build(rules, &c->opts, err, errsz) == -1 ||
	    proxy_setup_cors_build(cors, &c->opts, err, errsz) == -1)
		return -1;
	if (!rate_settings_changed(&c->opts, px->opts))
		return 0;
	memset(rate, 0, sizeof(*rate));
	return proxy_setup_rate_build(rate, &c->opts, options_spec(), &c->cfg, err, errsz);
}

/* The new rate limit's table takes the running one's place: every key
 * starts with a full bucket again; the counters go on from their totals. */
static void swap_rate(struct proxy *px, struct proxy *rate)
{
	unsigned long long limited = px->rate.limited, evicted = px->rate.evicted;
	char eff[48];

	ratelimit_release(&px->rate);
	px->rate_on = rate->rate_on;
	px->rate = rate->rate;
	px->rate_key = rate->rate_key;
	px->rate_n = rate->rate_n;
	px->rate_unit = rate->rate_unit;
	memset(&rate->rate, 0, sizeof(rate->rate));
	if (!px->rate_on) {
		log_info("rate limit off", NULL);
		return;
	}
	px->rate.limited = limited;
	px->rate.evicted = evicted;
	ratelimit_set_share(&px->rate, px->fleet_proxies);
	proxy_setup_rate_describe(px, eff, sizeof(eff));
	log_info("rate limit", "limit=%s burst=%g key=%s table_size=%u buckets=reset", eff,
		 px->rate.burst, px->opts->rate_key, px->rate.size);
}

void reload_run(struct reload *r)
{
	static struct proxy rate;	/* a reload's new rate table, before the swap */
	static struct cors_policy cors;	/* its CORS policy, compiled */
	struct headers_rules rules;
	int rate_changed;
	struct proxy *px = r->px;
	const struct proxy_options *run = px->opts;
	struct proxy_config *c;
	char err[1024], changed[1024] = "", fixed[1024] = "";
	const struct config_spec *spec = options_spec();
	int status, set_changed;

	if (px->stopping) {
		log_warn("reload ignored: stopping", NULL);
		return;
	}
	config_watch_mark(&r->watch);	/* this reading sees the file as it is now */
	c = proxy_config_read(options_spec(), &options_defaults, r->argc, r->argv, 0, &status, err,
			      sizeof(err));
	if (!c) {
		log_error("reload failed: the running configuration is kept", "error=\"%s\"", err);
		return;
	}
	if (proxy_setup_resilience_check(&c->opts, err, sizeof(err)) == -1 ||
	    build_rules(px, c, &rules, &cors, &rate, err, sizeof(err)) == -1) {
		log_error("reload failed: the running configuration is kept", "error=\"%s\"", err);
		proxy_config_free(c);
		return;
	}
	rate_changed = rate_settings_changed(&c->opts, run);
	if (c->opts.per_try_timeout <= 0)	/* as at start-up: not a change */
		c->opts.per_try_timeout = c->opts.response_timeout;
	/* The same limit as at start-up, so only a new --max-connections differs. */
	if (proxy_setup_descriptors(&c->opts, 1, 0) == -1) {
		log_error("reload failed: the running configuration is kept",
			  "error=\"the descriptor limit leaves no room for a connection\"");
		ratelimit_release(&rate.rate);
		proxy_config_free(c);
		return;
	}
	/* --backends and the bus are two modes; neither turns into the other. */
	if (!c->opts.backends != !run->backends) {
		append_name(fixed, sizeof(fixed), "backends");
		backend_set_release(&c->set);
		c->opts.backends = r->boot->opts.backends;
	}
	for (size_t i = 0; i < spec->nfields; i++) {
		const struct config_field *f = &spec->fields[i];

		if (!!config_field_equal(f, &c->opts, run))
			continue;
		if (options_fixed(f->key)) {
			append_name(fixed, sizeof(fixed), f->key);
			/* The running value: the start-up reading lives as long as
			 * the process. */
			config_field_copy(f, &c->opts, &r->boot->opts);
		} else {
			append_name(changed, sizeof(changed), f->key);
		}
	}
	if (fixed[0])
		log_warn("reload: settings that cannot change at run time keep their running values "
			 "(restart with --takeover to change them)", "settings=%s", fixed);
	log_setup(NULL, log_level_parse(c->opts.log_level),
		  log_format_parse(c->opts.log_format));
	log_buffer_set_interval(c->opts.log_flush);
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
	routing_follow_balance(px);	/* routed Services without their own lb.dev/balance */
	proxy_setup_resilience_apply(px, &c->opts);
	r->limits.pool_size = (unsigned)c->opts.upstream_pool_size;
	r->limits.idle_timeout = c->opts.upstream_idle_timeout;
	upstream_setup(px->loop, &r->limits);
	/* The certificates are read again too (their files may have changed
	 * without inotify seeing it: a copy, a mount). */
	if (px->tls_server)
		tls_server_reload(px->tls_server);
	ev_timer_set(&px->drain_timer, c->opts.drain_timeout, 0);
	px->header_rules = rules;
	px->cors = cors;
	px->opts = &c->opts;
	if (rate_changed)
		swap_rate(px, &rate);
	if (r->current != r->boot)
		proxy_config_free(r->current);
	r->current = c;
	accept_update(px);
	log_info("reloaded", "file=%s changed=%s backends=%zu generation=%llu",
		 c->cfg.file[0] ? c->cfg.file : "-", changed[0] ? changed : "none", px->set.n,
		 px->set.generation);
}

static void on_file_changed(void *data)
{
	struct reload *r = data;

	log_info("reloading: the config file changed", "file=%s", r->watch.path);
	reload_run(r);
}

void reload_watch_start(struct reload *r)
{
	char err[768];

	if (!r->boot->cfg.file[0] || !r->boot->opts.watch_config)
		return;
	if (config_watch_start(&r->watch, r->px->loop, r->boot->cfg.file, on_file_changed, r, err,
			       sizeof(err)) == -1)
		log_warn("the config file is not watched: reload it with SIGHUP", "error=\"%s\"",
			 err);
}

void reload_release(struct reload *r)
{
	config_watch_release(&r->watch);
	if (r->current != r->boot)
		proxy_config_free(r->current);
	proxy_config_free(r->boot);
	r->current = r->boot = NULL;
}
