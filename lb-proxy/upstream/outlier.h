/* outlier: the per-backend circuit breaker (Envoy's outlier detection):
 * consecutive 5xx answers or gateway failures eject a backend for a time
 * that grows with each ejection; then one trial request at a time decides. */
#ifndef LB_PROXY_OUTLIER_H
#define LB_PROXY_OUTLIER_H

#include "outlier_state.h"

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
	OUTLIER_5XX,		/* the backend answered 5xx, not 502-504 (the 5xx rule) */
	OUTLIER_GATEWAY,	/* it answered 502-504 (both rules, as Envoy's) */
	OUTLIER_CONNECT,	/* a connect failed: refused, unreachable, TLS (gateway) */
	OUTLIER_RESET,		/* the connection failed mid-exchange (gateway) */
	OUTLIER_TIMEOUT,	/* a connect or the response head timed out (gateway) */
};

struct backend;
struct backend_set;

/* Sets the rules (copied). Defaults until called: 5, 3, 30 s, 300 s, 50%. */
void outlier_configure(const struct outlier_config *c);
const struct outlier_config *outlier_config(void);

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
