/* reload: SIGHUP reads lb-proxy's configuration again; what may change
 * applies to new requests, what may not keeps its running value. */
#include "reload.h"

#include <stdio.h>
#include <string.h>

#include "http/accept.h"
#include "log.h"
#include "net/tls_server.h"
#include "options.h"
#include "proxy_setup.h"
#include "upstream/backend.h"

static void append_name(char *out, size_t outsz, const char *name)
{
	size_t n = strlen(out);

	snprintf(out + n, outsz - n, "%s%s", n ? "," : "", name);
}

void reload_run(struct reload *r)
{
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
	c = proxy_config_read(options_spec(), &options_defaults, r->argc, r->argv, 0, &status, err,
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
	if (proxy_setup_descriptors(&c->opts, 1, 0) == -1) {
		log_error("reload failed: the running configuration is kept",
			  "error=\"the descriptor limit leaves no room for a connection\"");
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
	r->limits.pool_size = (unsigned)c->opts.upstream_pool_size;
	r->limits.idle_timeout = c->opts.upstream_idle_timeout;
	upstream_setup(px->loop, &r->limits);
	/* The certificates are read again too (their files may have changed
	 * without inotify seeing it: a copy, a mount). */
	if (px->tls_server)
		tls_server_reload(px->tls_server);
	ev_timer_set(&px->drain_timer, c->opts.drain_timeout, 0);
	px->opts = &c->opts;
	if (r->current != r->boot)
		proxy_config_free(r->current);
	r->current = c;
	accept_update(px);
	log_info("reloaded", "file=%s changed=%s backends=%zu generation=%llu",
		 c->cfg.file[0] ? c->cfg.file : "-", changed[0] ? changed : "none", px->set.n,
		 px->set.generation);
}

void reload_release(struct reload *r)
{
	if (r->current != r->boot)
		proxy_config_free(r->current);
	proxy_config_free(r->boot);
	r->current = r->boot = NULL;
}
