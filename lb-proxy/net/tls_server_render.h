/* tls_server_render: the client TLS state (tls_server.h) rendered for the
 * admin API: JSON for /info, Prometheus series for /metrics. */
#ifndef LB_PROXY_TLS_SERVER_RENDER_H
#define LB_PROXY_TLS_SERVER_RENDER_H

#include "buf.h"
#include "tls_server.h"

/* Appends the "tls" object of /info to b: certificates, reloads, ticket
 * keys, handshake counts. */
void tls_server_render_info(const struct tls_server *ts, struct buf *b);
/* Appends the TLS series of /metrics to b: handshakes of both sides, and
 * with ts (NULL: no client TLS) the resumption ratio, reloads and the
 * certificates' expiry. */
void tls_server_render_metrics(const struct tls_server *ts, struct buf *b);

#endif
