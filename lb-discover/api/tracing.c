/* tracing: lb-discover's exporter from the settings (see tracing.h). */
#include "tracing.h"

#include "core/spans.h"
#include "log.h"
#include "otlp_config.h"
#include "otlp_export.h"

/* The instrumentation scope every span names. */
#define TRACING_SCOPE "lb-discover"
#define TRACING_SCOPE_VERSION "1"

static struct otlp_config config;
static struct otlp_export *exporter;

static int read_config(const struct discover_options *o, char *err, size_t errsz)
{
	/* the sampler, the queue and the interval: OTEL_* or their defaults */
	if (otlp_config_read(&config, o->otlp_endpoint, o->otlp_headers.items, o->otlp_headers.n,
			     -1, 0, 0, 0, "lb-discover", err, errsz) == -1)
		return -1;
	return otlp_config_compression(&config, o->otlp_compression, err, errsz);
}

int tracing_check(const struct discover_options *o, char *err, size_t errsz)
{
	int rc = read_config(o, err, errsz);

	otlp_config_release(&config);
	return rc;
}

int tracing_start(struct ev_loop *loop, const struct discover_options *o, char *err,
		  size_t errsz)
{
	if (read_config(o, err, errsz) == -1) {
		otlp_config_release(&config);
		return -1;
	}
	if (!config.url[0]) {
		otlp_config_release(&config);
		return 0;
	}
	config.export.scope = TRACING_SCOPE;
	config.export.version = TRACING_SCOPE_VERSION;
	exporter = otlp_export_new(loop, &config.export, err, errsz);
	if (!exporter) {
		otlp_config_release(&config);
		return -1;
	}
	spans_configure(exporter, config.sample);
	log_info("tracing", "endpoint=%s sample=%g compression=%s", config.url, config.sample,
		 config.export.gzip ? "gzip" : "none");
	return 0;
}

void tracing_stop(void)
{
	spans_configure(NULL, 0);
	otlp_export_free(exporter);
	exporter = NULL;
	otlp_config_release(&config);
}
