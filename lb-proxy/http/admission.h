/* admission: --rate-limit at a request's door: one request taken from the
 * bucket of its --rate-key, or the 429 answered. */
#ifndef LB_PROXY_ADMISSION_H
#define LB_PROXY_ADMISSION_H

#include "session_state.h"

/*
 * Takes one request from the bucket of s's request's --rate-key (a request
 * without the header shares the bucket of the empty key); px->rate_on must
 * be set. Over the limit, answers 429 with Retry-After and the RateLimit-*
 * fields and returns 1 (the connection stays usable when the whole request,
 * its body too, was read); else returns 0.
 */
int admission_rate_limited(struct session *s);

#endif
