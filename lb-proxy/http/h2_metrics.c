/* h2_metrics: HTTP/2 counters rendered for /metrics (see h2_metrics.h). */
#include "h2_metrics.h"

static const char *const code_names[H2_ERROR_CODES] = {
	"no_error", "protocol_error", "internal_error", "flow_control_error",
	"settings_timeout", "stream_closed", "frame_size_error", "refused_stream",
	"cancel", "compression_error", "connect_error", "enhance_your_calm",
	"inadequate_security", "http_1_1_required", "other",
};

const char *h2_metrics_code_name(uint32_t code)
{
	return code_names[h2_metrics_code(code)];
}

/* One series per error code that was counted (all of them stay 0 otherwise). */
static void by_code(struct buf *out, const char *name, const char *help,
		    const unsigned long long *v)
{
	buf_appendf(out, "# HELP %s %s\n# TYPE %s counter\n", name, help, name);
	for (unsigned i = 0; i < H2_ERROR_CODES; i++)
		if (v[i] || i == 0)
			buf_appendf(out, "%s{error_code=\"%s\"} %llu\n", name, code_names[i], v[i]);
}

void h2_metrics_render(const struct h2_metrics *m, struct buf *out)
{
	buf_appendf(out,
		    "# HELP lb_proxy_h2_connections_total Client connections that spoke HTTP/2, "
		    "by how it was chosen.\n"
		    "# TYPE lb_proxy_h2_connections_total counter\n"
		    "lb_proxy_h2_connections_total{via=\"alpn\"} %llu\n"
		    "lb_proxy_h2_connections_total{via=\"preface\"} %llu\n"
		    "# HELP lb_proxy_h2_open_connections Open HTTP/2 client connections.\n"
		    "# TYPE lb_proxy_h2_open_connections gauge\n"
		    "lb_proxy_h2_open_connections %u\n"
		    "# HELP lb_proxy_h2_streams_total HTTP/2 streams balanced as requests.\n"
		    "# TYPE lb_proxy_h2_streams_total counter\n"
		    "lb_proxy_h2_streams_total %llu\n"
		    "# HELP lb_proxy_h2_refused_streams_total Streams refused (REFUSED_STREAM) "
		    "at --max-connections.\n"
		    "# TYPE lb_proxy_h2_refused_streams_total counter\n"
		    "lb_proxy_h2_refused_streams_total %llu\n"
		    "# HELP lb_proxy_h2_calm_total Connections closed with GOAWAY "
		    "ENHANCE_YOUR_CALM by lb's own counters (rapid reset, empty DATA).\n"
		    "# TYPE lb_proxy_h2_calm_total counter\n"
		    "lb_proxy_h2_calm_total %llu\n",
		    m->connections - m->connections_h2c, m->connections_h2c, m->open_connections,
		    m->streams, m->refused_streams, m->calm);
	by_code(out, "lb_proxy_h2_goaways_sent_total", "GOAWAY frames sent, by error code.",
		m->goaways_sent);
	by_code(out, "lb_proxy_h2_resets_sent_total", "RST_STREAM frames sent, by error code.",
		m->resets_sent);
	by_code(out, "lb_proxy_h2_resets_received_total",
		"RST_STREAM frames received, by error code.", m->resets_received);
}
