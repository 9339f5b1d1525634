/* access_log: lb-proxy's line per request (--access-log), text or JSON as
 * --log-format says. */
#ifndef LB_PROXY_ACCESS_LOG_H
#define LB_PROXY_ACCESS_LOG_H

#include "session_state.h"

/* Logs s's request as it ended (status, backend, duration, bytes, retries,
 * the backends it tried, a refusal, the TLS version), unless --access-log
 * is off. s->x must be set. A line the log buffer had no room for is
 * counted in s->px->metrics.access_log_dropped. */
void access_log_request(const struct session *s);

#endif
