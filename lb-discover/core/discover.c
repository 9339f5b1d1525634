/* discover: the commit point every change to the registry goes through (see
 * discover.h): publication, the state file, and what the other replicas hear. */
#include "discover.h"

#include <stdio.h>

#include "buf.h"
#include "log.h"
#include "state.h"

/* addresses named in a "set changed" line, at most (then "+N more") */
#define DISCOVER_LOG_ADDRESSES 16

void discover_save(struct discover *d)
{
	char err[512];
	json_t *services = routed_overrides(&d->routed);

	if (state_save(&d->reg, services, d->state_path, err, sizeof(err)) == -1)
		log_error("state not saved", "error=\"%s\"", err);
	json_decref(services);
}

int discover_commit(struct discover *d, int save)
{
	struct bus_set set;
	struct buf msg = BUF_INIT, joined = BUF_INIT, left = BUF_INIT, what = BUF_INIT;
	int changed = registry_commit_diff(&d->reg, &joined, &left, &what,
					   DISCOVER_LOG_ADDRESSES);

	if (changed) {
		size_t listed = registry_published_count(&d->reg);

		/* backends= is what the proxies apply: the set published */
		log_info("set changed", "service=%s generation=%llu backends=%zu joined=%.*s "
			 "left=%.*s changed=%.*s", d->reg.service, d->reg.generation,
			 d->reg.last_n, (int)joined.len, joined.data ? joined.data : "",
			 (int)left.len, left.data ? left.data : "", (int)what.len,
			 what.data ? what.data : "");
		if (listed > BUS_MAX_BACKENDS)
			log_warn("more backends than the bus carries: publishing the first ones",
				 "backends=%zu published=%d", listed, BUS_MAX_BACKENDS);
	}
	buf_release(&joined);
	buf_release(&left);
	buf_release(&what);
	if (d->cluster)
		d->cluster->changed(d);
	if (registry_snapshot(&d->reg, &set) == 0) {
		/* The count is not part of the set: it changes no generation (a
		 * proxy takes it from any set of the generation it runs). */
		set.proxies = discover_fleet_proxies(d);
		snprintf(set.admin, sizeof(set.admin), "%s", d->admin_address);
		if (bus_set_encode(&set, &msg) == 0)
			bus_send(&d->pub, msg.data, msg.len);
		buf_release(&msg);
		bus_set_release(&set);
	}
	/* Saved after the send, in the same pass: the fsyncs took 4 ms, in which
	 * a proxy sent a request to a backend just ejected. A crash in between
	 * leaves the file a generation behind, which the report floor repairs
	 * (proxies.c catch_up). */
	if (changed || save)
		discover_save(d);
	return changed;
}

void discover_record(struct discover *d, const struct fleet_op *op)
{
	if (d->cluster)
		d->cluster->record(d, op);
}

unsigned discover_fleet_proxies(const struct discover *d)
{
	size_t n = d->nproxies + (d->cluster ? d->cluster->proxies(d) : 0);

	if (n > BUS_MAX_PROXIES)
		return BUS_MAX_PROXIES;
	return n ? (unsigned)n : 1;
}

void discover_source_update(void *data, const struct bus_backend *list, size_t n)
{
	struct discover *d = data;

	/* as nginx refuses an upstream without servers: an empty list is far
	 * more often a broken edit or lookup than an intent */
	if (n == 0 && registry_in_source(&d->reg) && !d->opts->allow_empty) {
		log_warn("the source lists no backends: keeping the last good set (--allow-empty "
			 "applies an empty one)", "service=%s kept=%zu", d->reg.service,
			 registry_in_source(&d->reg));
		return;
	}
	if (n == 0)
		log_warn("the source lists no backends: publishing an empty set (proxies answer 503)",
			 "service=%s allow_empty=%s", d->reg.service,
			 d->opts->allow_empty ? "on" : "off");
	if (n > BUS_MAX_BACKENDS)
		log_warn("the source lists more backends than the bus carries: publishing the first "
			 "ones", "listed=%zu published=%d", n, BUS_MAX_BACKENDS);
	registry_source_update(&d->reg, list, n, ev_time());
	/* before the loop runs, main publishes once everything is set up */
	if (d->loop)
		discover_commit(d, 0);
}
