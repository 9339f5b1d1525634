/* service_settings: a routed Service's own backend protocol and balancing
 * algorithm, read from its Service document (a port's appProtocol, the
 * lb.dev/balance annotation) by lb-discover, carried in its sets on the bus
 * and applied by every proxy with the set. "" means "the proxy's own"
 * (--backend-protocol, --balance). */
#ifndef LB_SERVICE_SETTINGS_H
#define LB_SERVICE_SETTINGS_H

#include <stddef.h>

struct json_t;

/* The annotation naming a Service's algorithm (Traefik's and ingress-nginx's
 * way: the Gateway API's BackendLBPolicy has no algorithm). */
#define SERVICE_SETTINGS_BALANCE_ANNOTATION "lb.dev/balance"
/* bytes of a protocol name with its NUL ("http1", "h2c", "h2") */
#define SERVICE_SETTINGS_PROTOCOL_MAX 8
/* bytes of an algorithm name with its NUL ("least-request") */
#define SERVICE_SETTINGS_BALANCE_MAX 16

struct service_settings {
	char protocol[SERVICE_SETTINGS_PROTOCOL_MAX];	/* "http1", "h2c", "h2", "" */
	char balance[SERVICE_SETTINGS_BALANCE_MAX];	/* an --balance name, or "" */
};

/* 1 when name is a protocol a set may carry ("http1", "h2c", "h2"). */
int service_settings_protocol_valid(const char *name);
/* 1 when name is an algorithm --balance takes ("round-robin", ...,
 * "ip-hash"); "round-robin, least-request, random, maglev, ring-hash,
 * ip-hash" for messages. */
int service_settings_balance_valid(const char *name);
const char *service_settings_balance_names(void);
/*
 * The protocol of a Service port's appProtocol (GEP-1911, KEP-3726):
 * NULL or "http": "" (the proxy's own); kubernetes.io/h2c, and Istio's
 * "http2" and "grpc" (HTTP/2 without TLS, with prior knowledge): "h2c";
 * kubernetes.io/ws and kubernetes.io/wss (WebSocket: an HTTP/1.1 Upgrade):
 * "http1". NULL for any other value: the caller notes it (the route's
 * ResolvedRefs False, UnsupportedProtocol) and keeps "".
 */
const char *service_settings_app_protocol(const char *app_protocol);
/*
 * Reads a Service document's settings for one of its ports (`port`: the
 * spec.ports entry, or NULL) into out. Returns a bit set of what it could
 * not take (SERVICE_SETTINGS_BAD_*; that field stays ""), 0 when all was
 * well.
 */
#define SERVICE_SETTINGS_BAD_PROTOCOL 1	/* an appProtocol lb does not speak */
#define SERVICE_SETTINGS_BAD_BALANCE 2	/* an lb.dev/balance lb has not */
int service_settings_read(struct json_t *service, struct json_t *port,
			  struct service_settings *out);

#endif
