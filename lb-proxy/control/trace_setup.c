/* trace_setup: the exporter built from the settings (see trace_setup.h). */
#include "trace_setup.h"

#include "http/trace.h"
#include "log.h"
#include "otlp_config.h"
#include "otlp_export.h"

/* The instrumentation scope every span names. */
#define TRACE_SCOPE "lb-proxy"
#define TRACE_SCOPE_VERSION "1"

static struct otlp_config config;
static struct otlp_export *exporter;

/* The settings of opts and the environment into config. */
static int read_config(const struct proxy_options *opts, char *err, size_t errsz)
{
	if (otlp_config_read(&config, opts->otlp_endpoint, opts->otlp_headers.items,
			     opts->otlp_headers.n, opts->trace_sample, opts->otlp_queue_size,
			     opts->otlp_batch_size, opts->otlp_interval, "lb-proxy", err, errsz) == -1)
		return -1;
	return otlp_config_compression(&config, opts->otlp_compression, err, errsz);
}

int trace_setup_check(const struct proxy_options *opts, char *err, size_t errsz)
{
	int rc = read_config(opts, err, errsz);

	otlp_config_release(&config);
	return rc;
}

int trace_setup_start(struct ev_loop *loop, const struct proxy_options *opts, char *err,
		      size_t errsz)
{
	if (read_config(opts, err, errsz) == -1) {
		otlp_config_release(&config);
		return -1;
	}
	if (!config.url[0]) {
		trace_configure(NULL, 0);
		return 0;
	}
	config.export.scope = TRACE_SCOPE;
	config.export.version = TRACE_SCOPE_VERSION;
	exporter = otlp_export_new(loop, &config.export, err, errsz);
	if (!exporter) {
		otlp_config_release(&config);
		return -1;
	}
	trace_configure(exporter, config.sample);
	log_info("tracing", "endpoint=%s sample=%g queue=%zu batch=%zu interval_s=%g headers=%u "
		 "compression=%s", config.url, config.sample, config.export.queue_size,
		 config.export.batch_size, config.export.interval, config.export.nheaders,
		 config.export.gzip ? "gzip" : "none");
	return 0;
}

void trace_setup_stop(void)
{
	trace_configure(NULL, 0);
	otlp_export_free(exporter);
	exporter = NULL;
	otlp_config_release(&config);
}
