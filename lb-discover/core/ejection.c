/* ejection: outlier ejection fleet-wide (see ejection.h). */
#include "ejection.h"

#include <stdio.h>
#include <string.h>

#include "log.h"

size_t ejection_count_in(const struct registry *reg)
{
	size_t n = 0;

	for (size_t i = 0; i < reg->n; i++)
		n += reg->entries[i].ejected && registry_published(&reg->entries[i]);
	return n;
}

size_t ejection_count(const struct discover *d)
{
	return ejection_count_in(&d->reg);
}

/* 1 when one more ejection keeps the service's set within
 * --eject-max-percent (at least one backend always can be; 0: never). */
static int room_for_one(const struct discover *d, const struct registry *reg)
{
	size_t allowed = registry_published_count(reg) * (size_t)d->opts->eject_max_percent / 100;

	if (d->opts->eject_max_percent == 0)
		return 0;
	return ejection_count_in(reg) + 1 <= (allowed ? allowed : 1);
}

/* Shares an ejection's start or end with the other replicas (a routed
 * Service's in its section of the shared state). */
static void record(struct discover *d, const struct served *sv, enum fleet_verb verb,
		   const struct entry *e)
{
	struct fleet_op op;

	memset(&op, 0, sizeof(op));
	if (sv->routed)
		snprintf(op.service, sizeof(op.service), "%s", sv->reg->service);
	op.verb = verb;
	op.until = e->eject_until;
	op.count = e->ejections;
	snprintf(op.address, sizeof(op.address), "%s", e->address);
	snprintf(op.reason, sizeof(op.reason), "%s", e->eject_reason);
	discover_record(d, &op);
}

static void eject(struct discover *d, const struct served *sv, struct entry *e,
		  const struct bus_backend *b, int pid, double now)
{
	double seconds;

	/* stayed in for a whole --eject-time-max since the last one: start over */
	if (!e->ejected && e->ejections && now - e->eject_ended >= d->opts->eject_time_max)
		e->ejections = 0;
	e->ejections++;
	if (b->ejections > e->ejections)
		e->ejections = b->ejections;
	seconds = d->opts->eject_time * e->ejections;
	if (seconds > d->opts->eject_time_max)
		seconds = d->opts->eject_time_max;
	e->ejected = 1;
	e->eject_until = now + seconds;
	e->eject_generation = sv->reg->generation + 1;	/* the next commit's */
	snprintf(e->eject_reason, sizeof(e->eject_reason), "%s", b->eject_reason);
	e->ejections_by[bus_failure_label_index(b->eject_failures)]++;
	log_warn("backend ejected fleet-wide", "address=%s reason=\"%s\" seconds=%.1f "
		 "ejections=%u pid=%d service=%s", e->address, e->eject_reason, seconds,
		 e->ejections, pid, sv->reg->service);
	record(d, sv, FLEET_EJECT, e);
}

int ejection_end(struct discover *d, struct entry *e)
{
	(void)d;
	if (!e->ejected)
		return 0;
	e->ejected = 0;
	e->ejections = 0;
	e->eject_ended = registry_clock();
	return 1;
}

/* The fleet's runs of failures on `address`: the last report of each proxy,
 * summed; `proxies` counts those with a run. `hint`: where the address
 * likely is in each report (proxies list a set in its order). */
static void fleet_runs(const struct served *sv, const char *address, size_t hint,
		       unsigned *runs_5xx, unsigned *runs_gateway, unsigned *proxies,
		       unsigned *kinds_5xx, unsigned *kinds_gateway)
{
	*runs_5xx = *runs_gateway = *proxies = *kinds_5xx = *kinds_gateway = 0;
	for (size_t p = 0; p < *sv->nproxies; p++) {
		const struct bus_set *r = &(*sv->proxies)[p].report;
		const struct bus_backend *b = NULL;

		if (hint < r->n && strcmp(r->backends[hint].address, address) == 0)
			b = &r->backends[hint];
		for (size_t k = 0; !b && k < r->n; k++)
			if (strcmp(r->backends[k].address, address) == 0)
				b = &r->backends[k];
		if (!b || (!b->consecutive_5xx && !b->consecutive_gateway))
			continue;
		*runs_5xx += b->consecutive_5xx;
		*runs_gateway += b->consecutive_gateway;
		*kinds_5xx |= b->failures_5xx;
		*kinds_gateway |= b->failures_gateway;
		(*proxies)++;
	}
}

/* 1 when the proxies' runs of failures on b's address, summed, reach
 * --eject-5xx or --eject-gateway; the reason goes to why. */
static int fleet_threshold(const struct discover *d, const struct served *sv,
			   const struct bus_backend *b, size_t hint, int pid, struct bus_backend *why)
{
	unsigned r5, rg, n, k5, kg;
	long max5 = d->opts->eject_5xx, maxg = d->opts->eject_gateway;
	char words[40];

	if ((!b->consecutive_5xx || !max5) && (!b->consecutive_gateway || !maxg))
		return 0;
	fleet_runs(sv, b->address, hint, &r5, &rg, &n, &k5, &kg);
	memset(why, 0, sizeof(*why));
	why->eject_failures = maxg && rg >= maxg ? kg : k5 ? k5 : BUS_FAILURE_5XX;
	/* the reason names what the proxies saw (timeouts, resets, connect
	 * errors, 5xx); a proxy that did not say is "gateway failures" */
	if (maxg && rg >= maxg)
		snprintf(why->eject_reason, sizeof(why->eject_reason),
			 n > 1 ? "outlier: %u consecutive %s over %u proxies"
			       : "outlier: %u consecutive %s on proxy %u", rg,
			 kg ? bus_failure_words(kg, 1, words, sizeof(words)) : "gateway failures",
			 n > 1 ? n : (unsigned)pid);
	else if (max5 && r5 >= max5)
		snprintf(why->eject_reason, sizeof(why->eject_reason),
			 n > 1 ? "outlier: %u consecutive %s over %u proxies"
			       : "outlier: %u consecutive %s on proxy %u", r5,
			 bus_failure_words(k5 ? k5 : BUS_FAILURE_5XX, 0, words, sizeof(words)),
			 n > 1 ? n : (unsigned)pid);
	else
		return 0;
	return 1;
}

void ejection_report(struct discover *d, const struct served *sv, const struct bus_set *rep)
{
	static struct log_limit full;
	double now = registry_clock();
	struct bus_backend why;
	int changed = 0;

	for (size_t i = 0; i < rep->n; i++) {
		const struct bus_backend *b = &rep->backends[i];
		struct entry *e = registry_find(sv->reg, b->address);
		int half_open;

		if (!e || !registry_published(e))
			continue;
		half_open = e->ejected && now >= e->eject_until;
		if (b->ejected) {
			if (e->ejected && !half_open)
				continue;	/* published already */
			if (!e->ejected && !room_for_one(d, sv->reg)) {
				unsigned long times = log_every(&full, ev_now(d->loop), 10);

				if (times)
					log_warn("backend not ejected fleet-wide: --eject-max-percent "
						 "reached", "address=%s pid=%d ejected=%zu times=%lu "
						 "service=%s", b->address, rep->pid,
						 ejection_count_in(sv->reg), times, sv->reg->service);
				continue;
			}
			/* a new ejection, or the half-open trial failed on that proxy */
			eject(d, sv, e, b, rep->pid, now);
			changed = 1;
		} else if (half_open && b->breaker == BUS_BREAKER_CLOSED &&
			   rep->generation >= e->eject_generation) {
			/* that proxy applied the ejection and its trial passed */
			log_info("backend ejection ended: a trial passed", "address=%s pid=%d "
				 "service=%s", e->address, rep->pid, sv->reg->service);
			e->ejected = 0;
			e->eject_ended = now;
			record(d, sv, FLEET_UNEJECT, e);
			changed = 1;
		} else if (!e->ejected && fleet_threshold(d, sv, b, i, rep->pid, &why)) {
			/* no proxy reached its threshold, the fleet did */
			if (!room_for_one(d, sv->reg))
				continue;
			eject(d, sv, e, &why, rep->pid, now);
			changed = 1;
		}
	}
	if (changed)
		served_commit(d, sv, 0);
}
