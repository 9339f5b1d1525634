/* proxies: lb-discover's view of the proxies, from their reports. */
#include "proxies.h"

#include <stdlib.h>
#include <string.h>

#include "ejection.h"
#include "log.h"
#include "served.h"

/* A proxy that holds a newer generation than ours ignores every set we
 * publish: our state file was lost or damaged. Publish above it. */
static void catch_up(struct discover *d, const struct served *sv, const struct bus_set *rep)
{
	if (rep->generation <= sv->reg->generation)
		return;
	log_warn("a proxy holds a newer generation than lb-discover: publishing above it "
		 "(was the state file lost?)", "pid=%d proxy_generation=%llu generation=%llu "
		 "service=%s", rep->pid, rep->generation, sv->reg->generation, sv->reg->service);
	registry_raise_above(sv->reg, rep->generation);
	served_commit(d, sv, 0);
}

/* What `was` (a proxy's last report) counted and `now` (its next, or NULL:
 * it is gone) no longer does goes to the entries' departed counters: a row
 * gone, or a counter lower than before (the proxy made the backend anew). */
static void keep_departed(struct registry *reg, const struct bus_set *was, const struct bus_set *now)
{
	for (size_t k = 0; k < was->n; k++) {
		const struct bus_backend *o = &was->backends[k], *n = NULL;
		struct entry *e = registry_find(reg, o->address);

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

/* A report of a service lb-discover does not serve (a proxy of another
 * --service, a route table it no longer publishes): said at most every 10 s. */
static void unknown_service(struct discover *d, const struct bus_set *rep)
{
	static struct log_limit limit;
	unsigned long times = log_every(&limit, ev_now(d->loop), 10);
	char known[256];

	if (!times)
		return;
	served_names(d, known, sizeof(known));
	log_warn("bus: report of an unknown service dropped", "pid=%d service=\"%s\" known=\"%s\" "
		 "times=%lu", rep->pid, rep->service, known, times);
}

void proxies_take(struct discover *d, const char *data, size_t len)
{
	struct bus_set rep;
	struct served sv;
	struct proxy_report *list;
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
	/* each routed Service has its own proxies' reports: its ejections,
	 * drains and in-flight counts are its own */
	if (served_find(d, rep.service, &sv) == -1) {
		unknown_service(d, &rep);
		bus_set_release(&rep);
		return;
	}
	list = *sv.proxies;
	for (i = 0; i < *sv.nproxies; i++)
		if (list[i].report.pid == rep.pid)
			break;
	if (i == *sv.nproxies) {
		struct proxy_report *grown = realloc(list, (i + 1) * sizeof(*grown));

		if (!grown) {
			bus_set_release(&rep);
			return;
		}
		*sv.proxies = list = grown;
		memset(&list[i], 0, sizeof(list[i]));
		list[i].joined_new = rep.fresh;
		(*sv.nproxies)++;
		if (sv.routed)
			log_info("proxy joined", "pid=%d generation=%llu proxies=%zu service=%s",
				 rep.pid, rep.generation, *sv.nproxies, rep.service);
		else
			log_info("proxy joined", "pid=%d generation=%llu proxies=%zu new=%d", rep.pid,
				 rep.generation, *sv.nproxies, rep.fresh);
		joined = 1;
	}
	if (!joined)
		keep_departed(sv.reg, &list[i].report, &rep);
	/* said once each way: the proxy's own log has the counts */
	if (rep.panic && (joined || !list[i].report.panic))
		log_warn("proxy in panic: it balances across every backend, ejected or not",
			 "pid=%d generation=%llu service=%s", rep.pid, rep.generation, rep.service);
	else if (!rep.panic && !joined && list[i].report.panic)
		log_info("proxy out of panic", "pid=%d service=%s", rep.pid, rep.service);
	bus_set_release(&list[i].report);
	list[i].report = rep;
	list[i].seen = ev_now(d->loop);
	catch_up(d, &sv, &rep);
	ejection_report(d, &sv, &list[i].report);
	/* every proxy's share of a fleet-wide limit changed: say so now, not
	 * at the next heartbeat */
	if (joined)
		served_commit(d, &sv, 0);
	if (d->cluster)
		d->cluster->changed(d);	/* the Lease counts a routed Service's too */
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

/* Forgets sv's proxies not heard from for proxies_window() seconds. */
static void prune(struct discover *d, const struct served *sv)
{
	double now = ev_now(d->loop);
	struct proxy_report *list = *sv->proxies;

	for (size_t i = 0; i < *sv->nproxies;) {
		if (now - list[i].seen > proxies_window(d)) {
			log_info("proxy gone", "pid=%d proxies=%zu service=%s", list[i].report.pid,
				 *sv->nproxies - 1, sv->reg->service);
			keep_departed(sv->reg, &list[i].report, NULL);
			bus_set_release(&list[i].report);
			list[i] = list[--*sv->nproxies];
		} else {
			i++;
		}
	}
}

void proxies_prune(struct discover *d)
{
	struct served sv;

	served_main(d, &sv);
	prune(d, &sv);
	for (size_t i = 0; i < d->routed.n; i++) {
		served_routed(d->routed.list[i], &sv);
		prune(d, &sv);
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

enum proxy_sync proxies_sync_in(const struct registry *reg, const struct proxy_report *p)
{
	const struct bus_set *r = &p->report;

	if (r->stale)
		return PROXY_STALE;
	/* refusing a set of ours (at or above the floor) means holding a newer one */
	if (r->generation > reg->generation || (r->ignored && r->ignored >= reg->floor))
		return PROXY_IGNORING;
	if (r->generation == reg->generation)
		return PROXY_SYNCED;
	return PROXY_BEHIND;
}

enum proxy_sync proxies_sync(const struct discover *d, const struct proxy_report *p)
{
	return proxies_sync_in(&d->reg, p);
}

void proxies_totals_of(const struct served *sv, struct proxy_totals *totals, int departed)
{
	struct registry *reg = sv->reg;

	for (size_t i = 0; departed && i < reg->n; i++) {
		totals[i].requests += reg->entries[i].departed_requests;
		totals[i].errors += reg->entries[i].departed_errors;
		totals[i].responses_5xx += reg->entries[i].departed_5xx;
	}
	for (size_t p = 0; p < *sv->nproxies; p++) {
		const struct bus_set *r = &(*sv->proxies)[p].report;

		for (size_t k = 0; k < r->n; k++) {
			struct entry *e = registry_find(reg, r->backends[k].address);
			struct proxy_totals *t = e ? &totals[e - reg->entries] : NULL;

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

void proxies_totals(struct discover *d, struct proxy_totals *totals, int departed)
{
	struct served sv;

	served_main(d, &sv);
	proxies_totals_of(&sv, totals, departed);
}

/* 1 when a proxy that serves the routes published has not reported sv yet
 * (it applied the table a moment ago): its requests in flight are unknown. */
static int routed_unreported(const struct discover *d, const struct served *sv, double now)
{
	for (size_t p = 0; p < d->nproxies; p++) {
		const struct proxy_report *m = &d->proxies[p];
		size_t k;

		if (!d->routed.generation || m->report.routes != d->routed.generation ||
		    now - m->seen > PROXIES_REPORT_FRESH)
			continue;
		for (k = 0; k < *sv->nproxies; k++)
			if ((*sv->proxies)[k].report.pid == m->report.pid)
				break;
		if (k == *sv->nproxies)
			return 1;
	}
	return 0;
}

long proxies_in_flight_of(const struct discover *d, const struct served *sv, const char *address,
			  unsigned long long gen, int *proxies)
{
	double now = ev_now(d->loop);
	const struct registry *reg = sv->reg;
	long total = 0;

	*proxies = (int)*sv->nproxies;
	if (!proxies_settled(d) || (sv->routed && routed_unreported(d, sv, now)))
		return -1;
	for (size_t p = 0; p < *sv->nproxies; p++) {
		const struct proxy_report *pr = &(*sv->proxies)[p];
		const struct bus_set *r = &pr->report;
		enum proxy_sync sync = proxies_sync_in(reg, pr);

		/* as the status's "follows": one of this lb-discover's sets */
		if (sync == PROXY_IGNORING || r->generation < reg->floor ||
		    r->generation > reg->generation || r->generation < gen ||
		    now - pr->seen > PROXIES_REPORT_FRESH)
			return -1;
		for (size_t k = 0; k < r->n; k++)
			if (strcmp(r->backends[k].address, address) == 0)
				total += (long)r->backends[k].active;
	}
	return total;
}

long proxies_in_flight(const struct discover *d, const char *address, unsigned long long gen,
		       int *proxies)
{
	struct served sv;

	served_main((struct discover *)d, &sv);
	return proxies_in_flight_of(d, &sv, address, gen, proxies);
}
