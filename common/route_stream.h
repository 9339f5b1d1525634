/* route_stream: the route table's TLS and TCP listeners (TLSRoute,
 * TCPRoute), matched per connection by the ClientHello's server name.
 * Nothing here does I/O or allocates. */
#ifndef LB_ROUTE_STREAM_H
#define LB_ROUTE_STREAM_H

#include <stdint.h>

#include "route.h"

/* The protocol a connection to port is served with: ROUTE_PROTOCOL_TLS or
 * ROUTE_PROTOCOL_TCP when a listener of t on port is one (a port has one
 * kind: the compiler refuses a mix), else -1 (HTTP, or no listener). */
int route_stream_protocol(const struct route_table *t, uint16_t port);

/*
 * The rule for a connection to port: among its TLS or TCP listeners the one
 * whose hostname fits sni best, then the virtual host that fits best (an
 * exact name, then the longest wildcard, then "*"), and its first entry
 * (the oldest route's first rule). sni NULL (none sent, or a TCP listener)
 * fits a listener without a hostname and the "*" host only. Returns 0 with
 * out's listener, vhost, rule and match set, or -1: no route.
 */
int route_stream_match(const struct route_table *t, uint16_t port, const char *sni,
		       struct route_result *out);

#endif
