/* outlier_state: a backend's circuit breaker as struct backend holds it, and
 * the reads of it every pick makes; outlier.c changes it. */
#ifndef LB_PROXY_OUTLIER_STATE_H
#define LB_PROXY_OUTLIER_STATE_H

/* bytes of an ejection's reason, with its NUL ("outlier: 5 consecutive 5xx
 * on proxy 4321"); the bus carries the same (BUS_NAME_MAX) */
#define OUTLIER_REASON_MAX 64

enum outlier_state {
	OUTLIER_CLOSED = 0,	/* takes requests; failures in a row are counted */
	OUTLIER_OPEN,		/* ejected: no request until `until` */
	OUTLIER_HALF_OPEN,	/* the ejection ran out: one trial request at a time
				 * (read from OPEN once `until` passed, never stored) */
};

/* What caused an ejection. */
enum outlier_cause {
	OUTLIER_CAUSE_5XX = 0,	/* consecutive 5xx answers */
	OUTLIER_CAUSE_GATEWAY,	/* consecutive gateway failures */
	OUTLIER_CAUSE_FLEET,	/* lb-discover's set: another proxy ejected it */
};

/* One backend's breaker, inside struct backend (no allocation). */
struct outlier {
	enum outlier_state state;	/* CLOSED or OPEN (see outlier_state_at) */
	enum outlier_cause cause;	/* of the current or last ejection */
	unsigned consecutive_5xx;
	unsigned consecutive_gateway;
	unsigned kinds_5xx;		/* enum bus_failure bits of the 5xx run */
	unsigned kinds_gateway;		/* the same, of the gateway run */
	unsigned eject_kinds;		/* the same, of what made the current or last ejection */
	unsigned ejections;		/* the time multiplier: ejections since it last
					 * stayed closed for eject_time_max */
	unsigned long long ejections_total;	/* for metrics */
	double until;			/* OPEN: ev_now when the ejection ends */
	double closed_at;		/* ev_now when it last closed */
	unsigned fleet_known : 1;	/* lb-discover publishes this ejection: its set
					 * saying the backend is no longer ejected ends it */
	unsigned trial_passed : 1;	/* a trial closed it while lb-discover's set still
					 * says half-open (not re-opened by that set) */
	char reason[OUTLIER_REASON_MAX];	/* of the current or last ejection */
};

/* The state at `now`: OPEN reads as HALF_OPEN once its time is up. */
static inline enum outlier_state outlier_state_at(const struct outlier *o, double now)
{
	if (o->state == OUTLIER_OPEN && o->until <= now)
		return OUTLIER_HALF_OPEN;
	return o->state;
}

/* 1 when the breaker lets a new request through at `now`: closed, or
 * half-open with no request in flight (`active`: the trial is one). */
static inline int outlier_admits(const struct outlier *o, unsigned active, double now)
{
	return o->state == OUTLIER_CLOSED || (o->until <= now && active == 0);
}

#endif
