/* otlp_config: where spans go and what they say about their sender, from a
 * program's flags and the standard OpenTelemetry environment variables
 * (the flags win): OTEL_EXPORTER_OTLP_[TRACES_]ENDPOINT, _HEADERS,
 * OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES, OTEL_TRACES_SAMPLER[_ARG],
 * OTEL_BSP_*, OTEL_EXPORTER_OTLP_[TRACES_]TIMEOUT, _COMPRESSION; and the Downward API's
 * POD_NAME and POD_NAMESPACE. Start-up only (it reads the environment). */
#ifndef LB_OTLP_CONFIG_H
#define LB_OTLP_CONFIG_H

#include <stddef.h>

#include "buf.h"
#include "otlp_export.h"

#define OTLP_CONFIG_URL_MAX 2048
#define OTLP_CONFIG_TEXT_MAX 8192	/* header lines and resource attributes, in all */
#define OTLP_CONFIG_RESOURCE_MAX 32	/* resource attributes */
#define OTLP_TRACES_PATH "/v1/traces"

struct otlp_config {
	char url[OTLP_CONFIG_URL_MAX];	/* "" when tracing is off */
	struct otlp_export_config export;	/* its url, headers and resource point in here */
	double sample;			/* the ratio of new traces recorded, 0-1 */
	struct buf resource;		/* otlp_json_resource() */
	char text[OTLP_CONFIG_TEXT_MAX];
	size_t text_len;
};

/*
 * Fills c. `endpoint`: the --otlp-endpoint flag or NULL, a base URL as
 * OTEL_EXPORTER_OTLP_ENDPOINT is (OTLP_TRACES_PATH appended);
 * OTEL_EXPORTER_OTLP_TRACES_ENDPOINT is used as is. `headers`: n "K=V"
 * from the flag, after the environment's (so they win). `sample`: the flag,
 * or < 0 when not given. The queue's sizes and interval: the flags, or 0
 * for the environment's or the default (2048, 512, 5 s, timeout 10 s).
 * `service`: service.name's default. Returns 0 (c->url[0] == '\0': no
 * endpoint, tracing off), or -1 with the reason in err.
 */
int otlp_config_read(struct otlp_config *c, const char *endpoint, const char *const *headers,
		     size_t n, double sample, long queue_size, long batch_size, double interval,
		     const char *service, char *err, size_t errsz);
/* The body's compression after otlp_config_read: `flag` ("gzip" or
 * "none", the --otlp-compression flag) or NULL for
 * OTEL_EXPORTER_OTLP_TRACES_COMPRESSION, then OTEL_EXPORTER_OTLP_COMPRESSION
 * (default none). Sets c->export.gzip. Returns 0, or -1 with err filled. */
int otlp_config_compression(struct otlp_config *c, const char *flag, char *err, size_t errsz);
void otlp_config_release(struct otlp_config *c);

#endif
