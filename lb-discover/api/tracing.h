/* tracing: lb-discover's OTLP exporter from its flags (--otlp-endpoint,
 * --otlp-header, --otlp-compression) and the OTEL_* variables
 * (common/otlp_config.h), handed to core/spans.c. Start-up only. */
#ifndef LB_DISCOVER_TRACING_H
#define LB_DISCOVER_TRACING_H

#include <stddef.h>

#include <ev.h>

#include "core/discover.h"

/* --check-config: reads the settings as start-up does. 0, or -1 with err. */
int tracing_check(const struct discover_options *o, char *err, size_t errsz);
/* Builds the exporter on loop when an endpoint is set (else tracing stays
 * off). Returns 0, or -1 with err (a message naming the setting). */
int tracing_start(struct ev_loop *loop, const struct discover_options *o, char *err,
		  size_t errsz);
/* Stops it (spans still queued are lost). */
void tracing_stop(void);

#endif
