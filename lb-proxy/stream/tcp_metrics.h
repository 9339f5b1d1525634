/* tcp_metrics: TCP mode's series in lb-proxy's /metrics (Prometheus text). */
#ifndef LB_PROXY_TCP_METRICS_H
#define LB_PROXY_TCP_METRICS_H

#include "buf.h"
#include "tcp.h"

/* Appends TCP mode's series to out: connections (total, active),
 * connect failures, connections no backend took, --tcp-inspect-sni's
 * results, and bytes each way per backend (from the backend list). */
void tcp_metrics_render(const struct tcp_proxy *tp, struct buf *out);

#endif
