/* tls_server_render: the client TLS state for the admin API: the "tls"
 * object of /info (JSON) and the TLS series of /metrics (Prometheus). */
#include "tls_server_render.h"

#include <time.h>

#include "transport_tls.h"

void tls_server_render_info(const struct tls_server *ts, struct buf *b)
{
	const unsigned long long(*h)[TRANSPORT_TLS_OUTCOMES] =
		transport_tls_stats.handshakes[TRANSPORT_TLS_CLIENTS];

	buf_append_str(b, "{\"certificates\":");
	tls_certs_info_json(&ts->certs, b, time(NULL));
	buf_appendf(b, ",\"reloads\":%llu,\"reload_failures\":%llu,\"ticket_keys\":%s,"
		       "\"handshakes\":{\"1.2\":{\"full\":%llu,\"resumed\":%llu,\"failed\":%llu},"
		       "\"1.3\":{\"full\":%llu,\"resumed\":%llu,\"failed\":%llu}}}",
		    ts->reloads, ts->reload_failures, ts->ticket_keys ? "true" : "false",
		    h[TRANSPORT_TLS_V12][0], h[TRANSPORT_TLS_V12][1], h[TRANSPORT_TLS_V12][2],
		    h[TRANSPORT_TLS_V13][0], h[TRANSPORT_TLS_V13][1], h[TRANSPORT_TLS_V13][2]);
}

static void render_handshakes(struct buf *b, const char *side, int s)
{
	static const char *const versions[] = { "1.2", "1.3", "other" };
	static const char *const outcomes[] = { "full", "resumed", "failed" };

	for (int v = 0; v < TRANSPORT_TLS_VERSIONS; v++)
		for (int o = 0; o < TRANSPORT_TLS_OUTCOMES; o++)
			buf_appendf(b, "lb_proxy_tls_handshakes_total{side=\"%s\",version=\"%s\","
				       "outcome=\"%s\"} %llu\n",
				    side, versions[v], outcomes[o], transport_tls_stats.handshakes[s][v][o]);
}

void tls_server_render_metrics(const struct tls_server *ts, struct buf *b)
{
	unsigned long long full = 0, resumed = 0;

	for (int v = 0; v < TRANSPORT_TLS_VERSIONS; v++) {
		full += transport_tls_stats.handshakes[TRANSPORT_TLS_CLIENTS][v][TRANSPORT_TLS_FULL];
		resumed += transport_tls_stats.handshakes[TRANSPORT_TLS_CLIENTS][v][TRANSPORT_TLS_RESUMED];
	}
	buf_append_str(b, "# HELP lb_proxy_tls_handshakes_total TLS handshakes, by side (clients, "
			  "backends), version and outcome (full, resumed, failed).\n"
			  "# TYPE lb_proxy_tls_handshakes_total counter\n");
	render_handshakes(b, "clients", TRANSPORT_TLS_CLIENTS);
	render_handshakes(b, "backends", TRANSPORT_TLS_BACKENDS);
	if (!ts)
		return;
	buf_appendf(b, "# HELP lb_proxy_tls_resumption_ratio Client handshakes that resumed a "
		       "session, of those that completed.\n"
		       "# TYPE lb_proxy_tls_resumption_ratio gauge\nlb_proxy_tls_resumption_ratio %.4f\n"
		       "# HELP lb_proxy_tls_reloads_total Certificate reloads, and those that kept "
		       "an old pair or keys.\n# TYPE lb_proxy_tls_reloads_total counter\n"
		       "lb_proxy_tls_reloads_total{result=\"ok\"} %llu\n"
		       "lb_proxy_tls_reloads_total{result=\"kept_old\"} %llu\n",
		    full + resumed ? (double)resumed / (double)(full + resumed) : 0.0,
		    ts->reloads - ts->reload_failures, ts->reload_failures);
	tls_certs_metrics(&ts->certs, b, time(NULL));
}
