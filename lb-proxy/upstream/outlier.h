/* outlier: the per-backend circuit breaker (Envoy's outlier detection):
 * consecutive 5xx answers or gateway failures eject a backend for a time
 * that grows with each ejection; then one trial request at a time decides. */
#ifndef LB_PROXY_OUTLIER_H
#define LB_PROXY_OUTLIER_H

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

/* The rules (lb-proxy's --eject-* flags). */
struct outlier_config {
	unsigned max_5xx;		/* consecutive 5xx that eject (0: rule off) */
	unsigned max_gateway;		/* consecutive gateway failures that eject (0: off) */
	double eject_time;		/* seconds, times the number of ejections */
	double eject_time_max;		/* seconds, the cap */
	unsigned max_percent;		/* of the set ejected at once (0: no ejection; at
					 * least one backend always can be) */
	int pid;			/* named in reasons */
};

/* What an attempt's end was, for the breaker (outcome.h maps to it). */
enum outlier_event {
	OUTLIER_SUCCESS = 0,	/* an answer below 500 */
	OUTLIER_5XX,		/* the backend answered 5xx */
	OUTLIER_GATEWAY,	/* connect failure, reset, response timeout */
};

struct backend;
struct backend_set;

/* Sets the rules (copied). Defaults until called: 5, 3, 30 s, 300 s, 50%. */
void outlier_configure(const struct outlier_config *c);
const struct outlier_config *outlier_config(void);

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

const char *outlier_state_name(enum outlier_state s);

/*
 * Records an attempt's end on b at `now`; `set` is the set b is in (for
 * max-percent, NULL: b alone). A success closes a half-open breaker; a
 * failure while half-open ejects again for longer; failures in a row past
 * a threshold eject it when max-percent allows. Returns 1 when b was
 * ejected by this call, else 0. Allocates nothing.
 */
int outlier_record(struct backend *b, enum outlier_event ev, double now,
		   const struct backend_set *set);

/* Ejects b on lb-discover's word (`reason`, `left` seconds more; 0: half-open
 * now, a trial decides), unless this proxy holds it open longer already.
 * `count`: the fleet's ejections of it (the multiplier, at least ours). */
void outlier_fleet_eject(struct backend *b, const char *reason, double left, unsigned count,
			 double now);
/* lb-discover no longer lists b as ejected: an ejection that came from it
 * ends (an operator's uneject, or a trial that passed on another proxy);
 * this proxy's own stands. */
void outlier_fleet_clear(struct backend *b, double now);
/* Ends b's ejection (closed, counters reset). */
void outlier_close(struct backend *b, double now);
/* Ejections of `set` at `now` (open or half-open). */
unsigned outlier_ejected(const struct backend_set *set, double now);

#endif
