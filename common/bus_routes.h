/* bus_routes: the bus's "routes" message, a Gateway's compiled route table
 * from lb-discover (--routes) to every proxy, on sets.sock beside the sets.
 *
 *   {"v":8,"type":"routes","generation":12,"table":{...route_codec.h...}}
 *
 * "generation" only grows (lb-discover's routes generation, apart from the
 * sets'); a proxy applies a table whole or not at all and reports the
 * generation it serves ("routes" in its report). The table's backends are
 * Services named "namespace/name:port": each has its own "set" message
 * with that name as "service". */
#ifndef LB_BUS_ROUTES_H
#define LB_BUS_ROUTES_H

#include <stddef.h>

#include "buf.h"
#include "route.h"

/* Appends the message. Returns 0, or -1 (out of memory, or over
 * BUS_MAX_MESSAGE: the caller logs and keeps the last table). */
int bus_routes_encode(unsigned long long generation, const struct route_table *t,
		      struct buf *out);
/* 1 when the message (len bytes) says it is a "routes" message: where the
 * encoder puts "type", near its start. A message that hides it further is
 * taken for a set, and refused there. */
int bus_routes_is(const char *data, size_t len);
/*
 * Validates and decodes a "routes" message (size, version, type,
 * generation, the table field by field). Returns 0 with *table (the
 * caller's, route_table_free) and *generation, or -1 with the reason in
 * err and *table NULL.
 */
int bus_routes_decode(const char *data, size_t len, unsigned long long *generation,
		      struct route_table **table, char *err, size_t errsz);

/* The service name of a backendRef, "namespace/name:port", into out.
 * Returns its length, or -1 when it does not fit. */
int bus_routes_service(const char *namespace, const char *name, unsigned port, char *out,
		       size_t size);

#endif
