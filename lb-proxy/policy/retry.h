/* retry: lb-proxy's retry policy: why an attempt failed, which reasons are
 * retried (--retry-on), the retry budget and the backoff between attempts.
 * Pure logic: forward.c asks, the session carries it out. */
#ifndef LB_PROXY_RETRY_H
#define LB_PROXY_RETRY_H

#include <stddef.h>

/* Why an attempt on a backend failed. */
enum retry_reason {
	RETRY_CONNECT_FAILURE = 0,	/* no connection: refused, unreachable, connect timeout */
	RETRY_RESET,		/* the connection broke (reset, closed) before any response byte */
	RETRY_TIMEOUT,		/* no response head within the per-try timeout */
	RETRY_GATEWAY_ERROR,	/* the backend answered 502, 503 or 504 */
	RETRY_5XX,		/* the backend answered another 5xx (or any, without gateway-error) */
	RETRY_REASONS,		/* how many there are */
};

/* The default of --retry-on: connect-failure,reset (what lb retried before). */
#define RETRY_ON_DEFAULT ((1u << RETRY_CONNECT_FAILURE) | (1u << RETRY_RESET))
/* Retries in flight the budget always allows, whatever the percentage
 * (Envoy's retry_budget min_retry_concurrency). */
#define RETRY_BUDGET_MIN 3
/* --retry-backoff-max defaults to this many times the base (Envoy). */
#define RETRY_BACKOFF_MAX_FACTOR 10

struct retry_policy {
	unsigned on;			/* bit (1 << reason) per reason retried */
	double backoff_base;		/* seconds; 0: retry at once */
	double backoff_max;		/* seconds: no delay is longer */
	double budget_percent;		/* retries in flight / requests in flight, in % */
};

/* The --retry-on word for a reason ("connect-failure", ...; static). */
const char *retry_reason_name(enum retry_reason r);
/* "connect-failure, reset, timeout, gateway-error, 5xx" (for messages). */
const char *retry_reason_names(void);
/*
 * Parses a --retry-on list ("connect-failure,reset", words separated by
 * commas, spaces allowed around them, at least one) into *on. Returns 0, or
 * -1 with err naming the word that is not a reason.
 */
int retry_on_parse(const char *list, unsigned *on, char *err, size_t errsz);
/*
 * The reason a response with `status` is retried for under `on`: a 502, 503
 * or 504 is a gateway-error when that is on, else a 5xx when 5xx is on; any
 * other 5xx is a 5xx. Returns the reason, or -1 when the status is not
 * retried.
 */
int retry_status_reason(unsigned on, int status);
/* 1 when `reason` is retried under policy p. */
static inline int retry_wanted(const struct retry_policy *p, enum retry_reason reason)
{
	return (p->on >> reason) & 1u;
}
/*
 * 1 when one more retry may start: the retries in flight stay under
 * budget_percent of the requests in flight, or under RETRY_BUDGET_MIN.
 */
int retry_budget_allows(const struct retry_policy *p, unsigned retries_in_flight,
			unsigned requests_in_flight);
/*
 * The delay before retry number `n` (0 for the first): full jitter,
 * `random01` (uniform in [0, 1)) times min(backoff_max, backoff_base * 2^n).
 * Returns seconds (0 when backoff_base is 0).
 */
double retry_backoff(const struct retry_policy *p, unsigned n, double random01);
/* The access log's word for a retried status ("status-503"; static). */
const char *retry_status_word(int status);

#endif
