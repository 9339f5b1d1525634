/* h2_metrics: the HTTP/2 counters of lb-proxy (connections, streams, GOAWAY
 * and RST_STREAM frames by error code) and their Prometheus text. */
#ifndef LB_PROXY_H2_METRICS_H
#define LB_PROXY_H2_METRICS_H

#include <stdint.h>

#include "buf.h"

/* RFC 9113 7: NO_ERROR (0x0) to HTTP_1_1_REQUIRED (0xd), then "other". */
#define H2_ERROR_CODES 15

struct h2_metrics {
	unsigned long long connections;		/* taken over: h2 by ALPN, h2c by preface */
	unsigned long long connections_h2c;	/* of those, h2c (prior knowledge) */
	unsigned open_connections;		/* gauge */
	unsigned long long streams;		/* requests on streams given to a session */
	unsigned long long refused_streams;	/* REFUSED_STREAM: no session could be had */
	unsigned long long goaways_sent[H2_ERROR_CODES];
	unsigned long long resets_sent[H2_ERROR_CODES];
	unsigned long long resets_received[H2_ERROR_CODES];
	unsigned long long calm;		/* GOAWAY ENHANCE_YOUR_CALM of lb's own counters
						 * (rapid reset, empty DATA flood) */
};

/* The index of an HTTP/2 error code in the arrays above. */
static inline unsigned h2_metrics_code(uint32_t code)
{
	return code < H2_ERROR_CODES - 1 ? code : H2_ERROR_CODES - 1;
}
/* The lower-case name of an HTTP/2 error code ("protocol_error"), "other"
 * past the registry. */
const char *h2_metrics_code_name(uint32_t code);
/* Appends the series of m in the Prometheus text format. */
void h2_metrics_render(const struct h2_metrics *m, struct buf *out);

#endif
