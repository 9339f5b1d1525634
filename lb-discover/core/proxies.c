/* proxies: lb-discover's view of the proxies, from their reports. */
#include "proxies.h"

#include <stdlib.h>
#include <string.h>

#include "ejection.h"
#include "log.h"

/* A proxy that holds a newer generation than ours ignores every set we
 * publish: our state file was lost or damaged. Publish above it. */
static void catch_up(struct discover *d, const struct bus_set *rep)
{
	if (rep->generation <= d->reg.generation)
		return;
	log_warn("a proxy holds a newer generation than lb-discover: publishing above it "
		 "(was the state file lost?)", "pid=%d proxy_generation=%llu generation=%llu",
		 rep->pid, rep->generation, d->reg.generation);
	registry_raise_above(&d->reg, rep->generation);
	discover_commit(d, 0);
}

/* What `was` (a proxy's last report) counted and `now` (its next, or NULL:
 * it is gone) no longer does goes to the entries' departed counters: a row
 * gone, or a counter lower than before (the proxy made the backend anew). */
static void keep_departed(struct discover *d, const struct bus_set *was, const struct bus_set *now)
{
	for (size_t k = 0; k < was->n; k++) {
		const struct bus_backend *o = &was->backends[k], *n = NULL;
		struct entry *e = registry_find(&d->reg, o->address);

		if (!e)
			continue;
		/* a proxy lists its set in one order: the same place first */
		if (now && k < now->n && strcmp(now->backends[k].address, o->address) == 0)
			n = &now->backends[k];
		for (size_t j = 0; now && j < now->n && !n; j++)
			if (strcmp(now->backends[j].address, o->address) == 0)
				n = &now->backends[j];
		if (!n || n->requests < o->requests)
			e->departed_requests += o->requests;
		if (!n || n->errors < o->errors)
			e->departed_errors += o->errors;
		if (!n || n->responses_5xx < o->responses_5xx)
			e->departed_5xx += o->responses_5xx;
	}
}

void proxies_take(struct discover *d, const char *data, size_t len)
{
	struct bus_set rep;
	char err[256];
	size_t i;
	int joined = 0;

	if (bus_set_decode(data, len, &rep, err, sizeof(err)) == -1 ||
	    strcmp(rep.type, "report") != 0) {
		if (bus_version_mismatch(&rep))
			log_error("bus: report of another protocol version dropped", "error=\"%s\"", err);
		else
			log_warn("bus: malformed report dropped", "error=\"%s\"", err);
		bus_set_release(&rep);
		return;
	}
	if (strcmp(rep.service, d->reg.service) != 0) {
		bus_set_release(&rep);
		return;
	}
	for (i = 0; i < d->nproxies; i++)
		if (d->proxies[i].report.pid == rep.pid)
			break;
	if (i == d->nproxies) {
		struct proxy_report *grown = realloc(d->proxies, (d->nproxies + 1) * sizeof(*grown));

		if (!grown) {
			bus_set_release(&rep);
			return;
		}
		d->proxies = grown;
		memset(&d->proxies[i], 0, sizeof(d->proxies[i]));
		d->proxies[i].joined_new = rep.fresh;
		d->nproxies++;
		log_info("proxy joined", "pid=%d generation=%llu proxies=%zu new=%d", rep.pid,
			 rep.generation, d->nproxies, rep.fresh);
		joined = 1;
	}
	if (!joined)
		keep_departed(d, &d->proxies[i].report, &rep);
	/* said once each way: the proxy's own log has the counts */
	if (rep.panic && (joined || !d->proxies[i].report.panic))
		log_warn("proxy in panic: it balances across every backend, ejected or not",
			 "pid=%d generation=%llu", rep.pid, rep.generation);
	else if (!rep.panic && !joined && d->proxies[i].report.panic)
		log_info("proxy out of panic", "pid=%d", rep.pid);
	bus_set_release(&d->proxies[i].report);
	d->proxies[i].report = rep;
	d->proxies[i].seen = ev_now(d->loop);
	catch_up(d, &rep);
	ejection_report(d, &d->proxies[i].report);
	/* every proxy's share of a fleet-wide limit changed: say so now, not
	 * at the next heartbeat */
	if (joined)
		discover_commit(d, 0);
	if (d->cluster)
		d->cluster->changed(d);
}

static void on_report(struct bus *b, const char *data, size_t len)
{
	proxies_take(b->data, data, len);
}

void proxies_start(struct discover *d)
{
	bus_watch(&d->pull, d->loop, on_report, d);
}

double proxies_window(const struct discover *d)
{
	return 5 * d->opts->heartbeat + 2;
}

int proxies_settled(const struct discover *d)
{
	double up = ev_now(d->loop) - d->started;

	if (up >= proxies_window(d))
		return 1;
	/* with other replicas, proxies of theirs may follow ours: no shortcut */
	if (!d->fresh || d->cluster || !d->nproxies || up < PROXIES_FRESH_SETTLE)
		return 0;
	for (size_t i = 0; i < d->nproxies; i++)
		if (!d->proxies[i].joined_new)
			return 0;
	return 1;
}

void proxies_prune(struct discover *d)
{
	double now = ev_now(d->loop);

	for (size_t i = 0; i < d->nproxies;) {
		if (now - d->proxies[i].seen > proxies_window(d)) {
			log_info("proxy gone", "pid=%d proxies=%zu", d->proxies[i].report.pid,
				 d->nproxies - 1);
			keep_departed(d, &d->proxies[i].report, NULL);
			bus_set_release(&d->proxies[i].report);
			d->proxies[i] = d->proxies[--d->nproxies];
		} else {
			i++;
		}
	}
}

void proxies_release(struct discover *d)
{
	for (size_t i = 0; i < d->nproxies; i++)
		bus_set_release(&d->proxies[i].report);
	free(d->proxies);
	d->proxies = NULL;
	d->nproxies = 0;
}

enum proxy_sync proxies_sync(const struct discover *d, const struct proxy_report *p)
{
	const struct bus_set *r = &p->report;

	if (r->stale)
		return PROXY_STALE;
	/* refusing a set of ours (at or above the floor) means holding a newer one */
	if (r->generation > d->reg.generation || (r->ignored && r->ignored >= d->reg.floor))
		return PROXY_IGNORING;
	if (r->generation == d->reg.generation)
		return PROXY_SYNCED;
	return PROXY_BEHIND;
}

void proxies_totals(struct discover *d, struct proxy_totals *totals, int departed)
{
	for (size_t i = 0; departed && i < d->reg.n; i++) {
		totals[i].requests += d->reg.entries[i].departed_requests;
		totals[i].errors += d->reg.entries[i].departed_errors;
		totals[i].responses_5xx += d->reg.entries[i].departed_5xx;
	}
	for (size_t p = 0; p < d->nproxies; p++) {
		const struct bus_set *r = &d->proxies[p].report;

		for (size_t k = 0; k < r->n; k++) {
			struct entry *e = registry_find(&d->reg, r->backends[k].address);
			struct proxy_totals *t = e ? &totals[e - d->reg.entries] : NULL;

			if (!t)
				continue;
			t->active += r->backends[k].active;
			t->requests += r->backends[k].requests;
			t->errors += r->backends[k].errors;
			t->responses_5xx += r->backends[k].responses_5xx;
			if (r->backends[k].state == BUS_STATE_DOWN) {
				t->down++;
				t->skip[(unsigned)r->backends[k].skip < 4 ? r->backends[k].skip : 0]++;
			}
		}
	}
}

long proxies_in_flight(const struct discover *d, const char *address, unsigned long long gen,
		       int *proxies)
{
	double now = ev_now(d->loop);
	long total = 0;

	*proxies = (int)d->nproxies;
	if (!proxies_settled(d))
		return -1;
	for (size_t p = 0; p < d->nproxies; p++) {
		const struct bus_set *r = &d->proxies[p].report;
		enum proxy_sync sync = proxies_sync(d, &d->proxies[p]);

		/* as the status's "follows": one of this lb-discover's sets */
		if (sync == PROXY_IGNORING || r->generation < d->reg.floor ||
		    r->generation > d->reg.generation || r->generation < gen ||
		    now - d->proxies[p].seen > PROXIES_REPORT_FRESH)
			return -1;
		for (size_t k = 0; k < r->n; k++)
			if (strcmp(r->backends[k].address, address) == 0)
				total += (long)r->backends[k].active;
	}
	return total;
}
