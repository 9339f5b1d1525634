/* health_grpc: the bytes of gRPC's standard health check
 * (grpc.health.v1.Health/Check, grpc/doc/health-checking.md) over HTTP/2:
 * the request message, and the verdict from the answer's grpc-status and
 * HealthCheckResponse. Hand-encoded protobuf: two fields, no library. */
#ifndef LB_DISCOVER_HEALTH_GRPC_H
#define LB_DISCOVER_HEALTH_GRPC_H

#include <stddef.h>

/* The path of the check. */
#define HEALTH_GRPC_PATH "/grpc.health.v1.Health/Check"
/* A service name is at most this long (the request fits a small buffer). */
#define HEALTH_GRPC_SERVICE_MAX 200
/* A request message is at most this long: the 5-byte gRPC prefix, a tag, a
 * two-byte length, the name. */
#define HEALTH_GRPC_REQUEST_MAX (5 + 1 + 2 + HEALTH_GRPC_SERVICE_MAX)
/* Response bytes kept: a HealthCheckResponse is 7 bytes framed; more is
 * not read (a hostile backend cannot make the check buffer). */
#define HEALTH_GRPC_RESPONSE_MAX 64

/* ServingStatus of grpc.health.v1.HealthCheckResponse. */
enum health_grpc_serving {
	HEALTH_GRPC_UNKNOWN = 0,	/* the field's default (absent) */
	HEALTH_GRPC_SERVING = 1,
	HEALTH_GRPC_NOT_SERVING = 2,
	HEALTH_GRPC_SERVICE_UNKNOWN = 3,	/* only for Watch */
};

/*
 * The framed HealthCheckRequest{service} (a gRPC Length-Prefixed-Message:
 * flag 0, big-endian length, then field 1 as a length-delimited string;
 * an empty name asks for the server as a whole) into out
 * (HEALTH_GRPC_REQUEST_MAX bytes). Returns its length, or 0 when the name
 * is longer than HEALTH_GRPC_SERVICE_MAX.
 */
size_t health_grpc_request(const char *service, unsigned char *out);
/*
 * The verdict on an answer: `http_status`, `grpc_status` (-1: none came, in
 * the head or the trailers) and the response body (at most the first
 * HEALTH_GRPC_RESPONSE_MAX bytes). Returns 1 healthy (200, grpc-status 0,
 * SERVING), else 0 with why in `why` ("NOT_SERVING", "grpc-status 12", ...).
 */
int health_grpc_verdict(long http_status, int grpc_status, const unsigned char *body, size_t n,
			char *why, size_t whysz);
/* The value of a "grpc-status: N" header or trailer line (as libcurl hands
 * it over, CRLF included), or -1 when the line is another field. */
int health_grpc_status_line(const char *line, size_t n);

#endif
