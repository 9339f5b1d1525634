/* tcp_metrics: TCP mode's series (see tcp_metrics.h). */
#include "tcp_metrics.h"

#include "upstream/backend.h"

static const char *const sni_names[TCP_SNI_RESULTS] = { "found", "none", "not-tls", "timeout" };

void tcp_metrics_render(const struct tcp_proxy *tp, struct buf *out)
{
	const struct tcp_metrics *m = &tp->metrics;

	buf_appendf(out, "# HELP lb_proxy_tcp_connections_total Client connections accepted in TCP mode.\n"
		    "# TYPE lb_proxy_tcp_connections_total counter\n"
		    "lb_proxy_tcp_connections_total %llu\n", m->accepted);
	buf_appendf(out, "# HELP lb_proxy_tcp_connections_active Client connections open now.\n"
		    "# TYPE lb_proxy_tcp_connections_active gauge\n"
		    "lb_proxy_tcp_connections_active %u\n", tp->nsessions);
	buf_appendf(out, "# HELP lb_proxy_tcp_connect_failures_total Connects to backends that failed "
		    "(refused, unreachable, timed out).\n"
		    "# TYPE lb_proxy_tcp_connect_failures_total counter\n"
		    "lb_proxy_tcp_connect_failures_total %llu\n", m->connect_failures);
	buf_appendf(out, "# HELP lb_proxy_tcp_no_backend_total Client connections closed because no "
		    "backend could take them.\n"
		    "# TYPE lb_proxy_tcp_no_backend_total counter\n"
		    "lb_proxy_tcp_no_backend_total %llu\n", m->no_backend);
	buf_appendf(out, "# HELP lb_proxy_tcp_refused_total Client connections closed by routing "
		    "(a Gateway's TLS or TCP listener), by reason.\n"
		    "# TYPE lb_proxy_tcp_refused_total counter\n"
		    "lb_proxy_tcp_refused_total{reason=\"no-route\"} %llu\n"
		    "lb_proxy_tcp_refused_total{reason=\"unresolved\"} %llu\n",
		    m->refused[TCP_ROUTE_NO_ROUTE], m->refused[TCP_ROUTE_UNRESOLVED]);
	buf_appendf(out, "# HELP lb_proxy_tcp_bytes_total Bytes relayed, by direction.\n"
		    "# TYPE lb_proxy_tcp_bytes_total counter\n"
		    "lb_proxy_tcp_bytes_total{direction=\"in\"} %llu\n"
		    "lb_proxy_tcp_bytes_total{direction=\"out\"} %llu\n", m->bytes_in, m->bytes_out);
	if (tp->cfg.inspect_sni) {
		buf_appendf(out, "# HELP lb_proxy_tcp_sni_total ClientHellos read (--tcp-inspect-sni), "
			    "by result.\n"
			    "# TYPE lb_proxy_tcp_sni_total counter\n");
		for (int i = 0; i < TCP_SNI_RESULTS; i++)
			buf_appendf(out, "lb_proxy_tcp_sni_total{result=\"%s\"} %llu\n", sni_names[i],
				    m->sni[i]);
	}
	/* beside HTTP (a Gateway's TLS and TCP listeners) the backends'
	 * own series are HTTP's, which count these connections too */
	if (!tp->on)
		return;
	buf_appendf(out, "# HELP lb_proxy_tcp_backend_connections_total Connections to each backend "
		    "(attempts, failed ones included).\n"
		    "# TYPE lb_proxy_tcp_backend_connections_total counter\n");
	for (const struct backend *b = backend_all(); b; b = b->all_next)
		buf_appendf(out, "lb_proxy_tcp_backend_connections_total{backend=\"%s\"} %llu\n", b->name,
			    b->requests);
	buf_appendf(out, "# HELP lb_proxy_tcp_backend_bytes_total Bytes relayed to (in) and from "
		    "(out) each backend.\n"
		    "# TYPE lb_proxy_tcp_backend_bytes_total counter\n");
	for (const struct backend *b = backend_all(); b; b = b->all_next)
		buf_appendf(out, "lb_proxy_tcp_backend_bytes_total{backend=\"%s\",direction=\"in\"} %llu\n"
			    "lb_proxy_tcp_backend_bytes_total{backend=\"%s\",direction=\"out\"} %llu\n",
			    b->name, b->bytes_in, b->name, b->bytes_out);
}
