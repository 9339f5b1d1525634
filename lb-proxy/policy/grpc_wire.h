/* grpc_wire: the few pieces of gRPC's HTTP/2 protocol (PROTOCOL-HTTP2.md)
 * lb-proxy reads and writes itself: what makes a request gRPC, the
 * grpc-timeout field, and the status codes of the proxy's own answers.
 * Pure functions: the session glue is http/grpc_call.c. */
#ifndef LB_PROXY_GRPC_WIRE_H
#define LB_PROXY_GRPC_WIRE_H

#include <stddef.h>

/* gRPC status codes lb answers with (grpc/doc/statuscodes.md). */
enum grpc_status {
	GRPC_OK = 0,			/* not an error */
	GRPC_UNKNOWN = 2,		/* an HTTP status with no better code */
	GRPC_DEADLINE_EXCEEDED = 4,	/* the deadline (grpc-timeout, lb's own) passed */
	GRPC_PERMISSION_DENIED = 7,	/* HTTP 403 */
	GRPC_RESOURCE_EXHAUSTED = 8,	/* rate limited, queue full, message too large */
	GRPC_UNIMPLEMENTED = 12,	/* no route for the method, a method lb does not speak */
	GRPC_INTERNAL = 13,		/* a malformed request, a fault of the proxy */
	GRPC_UNAVAILABLE = 14,		/* no backend, a backend failed: try again */
	GRPC_UNAUTHENTICATED = 16,	/* HTTP 401 */
};

/* grpc-timeout holds at most this many digits (TimeoutValue). */
#define GRPC_TIMEOUT_DIGITS 8
/* The longest grpc-timeout value: 8 digits and a unit. */
#define GRPC_TIMEOUT_MAX_LEN (GRPC_TIMEOUT_DIGITS + 1)

/* 1 when a content-type value names gRPC: "application/grpc", alone or
 * followed by "+format" or ";params" (case-insensitive), else 0. */
int grpc_wire_is_grpc(const char *v, size_t n);
/*
 * Parses a grpc-timeout value ("1 to 8 ASCII digits, then one of H M S m u
 * n"; no sign, no spaces around, as the spec's TimeoutValue TimeoutUnit)
 * into seconds. Returns 0, or -1 when it is malformed (*seconds untouched).
 */
int grpc_wire_timeout_parse(const char *v, size_t n, double *seconds);
/*
 * Writes `seconds` (> 0) as a grpc-timeout value into out (at least
 * GRPC_TIMEOUT_MAX_LEN + 1 bytes, NUL-terminated), in the finest unit whose
 * 8 digits hold it, rounded up so a backend never gets less than is left
 * (at least 1n). Returns its length.
 */
size_t grpc_wire_timeout_format(double seconds, char *out);
/* The gRPC status that stands for one of lb's own HTTP answers (`status`:
 * 400 ... 505; `overloaded`: the 503 of a full queue). See docs/http2.md. */
enum grpc_status grpc_wire_status_for_http(int status, int overloaded);

#endif
