/* trace_setup: tracing's start-up: the exporter and the sampler from the
 * flags and the OTEL_* environment (docs/tracing.md), handed to http/trace.c. */
#ifndef LB_PROXY_TRACE_SETUP_H
#define LB_PROXY_TRACE_SETUP_H

#include <ev.h>
#include <stddef.h>

#include "http/proxy.h"

/* Reads the settings and, when an endpoint is set, starts the exporter on
 * `loop` (off otherwise: traceparent is only passed on). Logs what it
 * does. Returns 0, or -1 with the reason in err. */
int trace_setup_start(struct ev_loop *loop, const struct proxy_options *opts, char *err,
		      size_t errsz);
/* --check-config: the settings read as trace_setup_start reads them,
 * nothing started. Returns 0, or -1 with the reason in err. */
int trace_setup_check(const struct proxy_options *opts, char *err, size_t errsz);
/* Stops the exporter (spans still queued are lost) and frees it. */
void trace_setup_stop(void);

#endif
