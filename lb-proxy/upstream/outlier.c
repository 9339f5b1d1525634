/* outlier: the per-backend circuit breaker (see outlier.h). */
#include "outlier.h"

#include <stdio.h>
#include <string.h>

#include "backend.h"
#include "bus_protocol.h"
#include "log.h"

static struct outlier_config config = {
	.max_5xx = 5, .max_gateway = 3, .eject_time = 30, .eject_time_max = 300,
	.max_percent = 50, .pid = 0,
};

static const char *const state_names[] = { "closed", "open", "half-open" };

void outlier_configure(const struct outlier_config *c)
{
	config = *c;
}

const struct outlier_config *outlier_config(void)
{
	return &config;
}

const char *outlier_state_name(enum outlier_state s)
{
	return (unsigned)s < 3 ? state_names[s] : "unknown";
}

unsigned outlier_ejected(const struct backend_set *set, double now)
{
	unsigned n = 0;

	for (size_t i = 0; set && i < set->n; i++)
		n += outlier_state_at(&set->items[i]->outlier, now) != OUTLIER_CLOSED;
	return n;
}

/* 1 when one more ejection keeps the set within max-percent (at least one
 * backend always may be ejected, as in Envoy). */
static int room_for_one(const struct backend_set *set, double now)
{
	size_t n = set ? set->n : 1;
	unsigned allowed = (unsigned)(n * config.max_percent / 100);

	if (config.max_percent == 0)
		return 0;
	if (allowed < 1)
		allowed = 1;
	return outlier_ejected(set, now) + 1 <= allowed;
}

/* The ejection time for the k-th ejection: eject_time * k, capped. */
static double eject_seconds(unsigned k)
{
	double t = config.eject_time * (k ? k : 1);

	return t > config.eject_time_max ? config.eject_time_max : t;
}

/* The bus_failure bit of a failure event (0: a success). */
static unsigned event_kind(enum outlier_event ev)
{
	switch (ev) {
	case OUTLIER_SUCCESS: return 0;
	case OUTLIER_5XX:
	case OUTLIER_GATEWAY: return BUS_FAILURE_5XX;
	case OUTLIER_CONNECT: return BUS_FAILURE_CONNECT;
	case OUTLIER_RESET: return BUS_FAILURE_RESET;
	case OUTLIER_TIMEOUT: return BUS_FAILURE_TIMEOUT;
	}
	return 0;
}

/* A failed trial's word: "5xx", "502-504", "connect error", "reset", "timeout". */
static const char *kind_word(enum outlier_event ev)
{
	switch (ev) {
	case OUTLIER_5XX: return "5xx";
	case OUTLIER_GATEWAY: return "502-504";
	case OUTLIER_CONNECT: return "connect error";
	case OUTLIER_RESET: return "reset";
	default: return "timeout";
	}
}

/* Opens b's breaker; `trial`: the event that failed its half-open trial (0:
 * none, a run reached its threshold). */
static void eject(struct backend *b, enum outlier_cause cause, enum outlier_event trial,
		  double now)
{
	struct outlier *o = &b->outlier;
	char words[40];
	double seconds;

	/* Closed for a whole eject_time_max since the last one: start over,
	 * as Envoy's multiplier decays while a host stays healthy. */
	if (o->ejections && o->state == OUTLIER_CLOSED && now - o->closed_at >= config.eject_time_max)
		o->ejections = 0;
	o->ejections++;
	o->ejections_total++;
	seconds = eject_seconds(o->ejections);
	o->state = OUTLIER_OPEN;
	backend_changed();
	o->cause = cause;
	o->until = now + seconds;
	o->fleet_known = 0;
	o->trial_passed = 0;
	o->eject_kinds = trial ? event_kind(trial)
			 : cause == OUTLIER_CAUSE_5XX ? o->kinds_5xx : o->kinds_gateway;
	/* the reason names what happened: timeouts, resets, connect errors, 5xx */
	if (trial)
		snprintf(o->reason, sizeof(o->reason), "outlier: the trial failed (%s) on proxy %d",
			 kind_word(trial), config.pid);
	else
		snprintf(o->reason, sizeof(o->reason), "outlier: %u consecutive %s on proxy %d",
			 cause == OUTLIER_CAUSE_5XX ? o->consecutive_5xx : o->consecutive_gateway,
			 bus_failure_words(cause == OUTLIER_CAUSE_5XX ? o->kinds_5xx : o->kinds_gateway,
					   cause != OUTLIER_CAUSE_5XX, words, sizeof(words)),
			 config.pid);
	log_warn("backend ejected", "backend=%s reason=\"%s\" seconds=%.1f ejections=%u",
		 b->name, o->reason, seconds, o->ejections);
	o->consecutive_5xx = o->consecutive_gateway = 0;
	o->kinds_5xx = o->kinds_gateway = 0;
}

void outlier_close(struct backend *b, double now)
{
	struct outlier *o = &b->outlier;

	if (o->state != OUTLIER_CLOSED) {
		log_info("backend ejection ended", "backend=%s state=%s", b->name,
			 outlier_state_name(outlier_state_at(o, now)));
		backend_changed();
	}
	o->state = OUTLIER_CLOSED;
	o->consecutive_5xx = o->consecutive_gateway = 0;
	o->kinds_5xx = o->kinds_gateway = 0;
	o->closed_at = now;
	o->fleet_known = 0;
}

int outlier_record(struct backend *b, enum outlier_event ev, double now,
		   const struct backend_set *set)
{
	struct outlier *o = &b->outlier;
	enum outlier_state st = outlier_state_at(o, now);
	enum outlier_cause cause;

	if (st == OUTLIER_OPEN)
		return 0;	/* a request from before the ejection: already decided */
	if (st == OUTLIER_HALF_OPEN) {
		if (ev == OUTLIER_SUCCESS) {
			outlier_close(b, now);
			o->trial_passed = 1;
			return 0;
		}
		/* the trial failed: longer this time (max-percent was met when
		 * it was first ejected, and it never left the count) */
		eject(b, ev == OUTLIER_5XX ? OUTLIER_CAUSE_5XX : OUTLIER_CAUSE_GATEWAY, ev, now);
		return 1;
	}
	switch (ev) {
	case OUTLIER_SUCCESS:
		o->consecutive_5xx = o->consecutive_gateway = 0;
		o->kinds_5xx = o->kinds_gateway = 0;
		return 0;
	case OUTLIER_5XX:
		/* Envoy: a 5xx counts for the 5xx rule only; 502-504 for both */
		o->consecutive_5xx++;
		o->kinds_5xx |= event_kind(ev);
		break;
	default:
		o->consecutive_gateway++;
		o->consecutive_5xx++;
		o->kinds_gateway |= event_kind(ev);
		o->kinds_5xx |= event_kind(ev);
		break;
	}
	if (config.max_gateway && o->consecutive_gateway >= config.max_gateway)
		cause = OUTLIER_CAUSE_GATEWAY;
	else if (config.max_5xx && o->consecutive_5xx >= config.max_5xx)
		cause = OUTLIER_CAUSE_5XX;
	else
		return 0;
	if (!room_for_one(set, now))
		return 0;	/* counted on: ejected once another comes back */
	eject(b, cause, OUTLIER_SUCCESS, now);
	return 1;
}

void outlier_fleet_eject(struct backend *b, const char *reason, double left, unsigned count,
			 double now)
{
	struct outlier *o = &b->outlier;
	enum outlier_state st = outlier_state_at(o, now);

	if (count > o->ejections)
		o->ejections = count;
	if (st == OUTLIER_OPEN && o->until >= now + left) {
		o->fleet_known = 1;	/* ours, and lb-discover publishes it */
		return;
	}
	if (left <= 0 && (st == OUTLIER_HALF_OPEN || o->trial_passed)) {
		/* half-open already, or our trial passed: lb-discover will hear it */
		o->fleet_known = st != OUTLIER_CLOSED;
		return;
	}
	if (st == OUTLIER_CLOSED) {
		o->ejections_total++;
		log_warn("backend ejected by lb-discover", "backend=%s reason=\"%s\" seconds=%.1f",
			 b->name, reason, left);
	}
	o->state = OUTLIER_OPEN;
	backend_changed();
	o->cause = OUTLIER_CAUSE_FLEET;
	o->eject_kinds = 0;
	o->until = now + (left > 0 ? left : 0);
	o->fleet_known = 1;
	o->consecutive_5xx = o->consecutive_gateway = 0;
	o->kinds_5xx = o->kinds_gateway = 0;
	snprintf(o->reason, sizeof(o->reason), "%s", reason);
}

void outlier_fleet_clear(struct backend *b, double now)
{
	struct outlier *o = &b->outlier;

	o->trial_passed = 0;
	if (o->state != OUTLIER_CLOSED && (o->fleet_known || o->cause == OUTLIER_CAUSE_FLEET))
		outlier_close(b, now);
}
