/* routes: the requests lb-proxy answers itself on the traffic port
 * (--monitor-uri, HAProxy's monitor-uri) instead of forwarding them. */
#ifndef LB_PROXY_ROUTES_H
#define LB_PROXY_ROUTES_H

#include <stddef.h>

#include "http_request.h"
#include "proxy.h"

/* The longest --monitor-uri. */
#define ROUTES_MONITOR_URI_MAX 256
/* Room for the monitor's body. */
#define ROUTES_BODY_MAX 96

/* Checks --monitor-uri at start-up: NULL (off) or a path of 1 to
 * ROUTES_MONITOR_URI_MAX bytes starting with '/', of URI characters, with
 * no query or fragment. Returns 0, or -1 with the reason in err. */
int routes_monitor_check(const char *uri, char *err, size_t errsz);
/* 1 when the request's path (its target without the query, the path of an
 * absolute-form target) is exactly `uri` (compared byte for byte, as
 * HAProxy 2.2+ compares a monitor-uri starting with '/'); 0 otherwise or
 * when `uri` is NULL. `route` is http_request_route()'s, its spans in `m`. */
int routes_monitor_match(const char *uri, const struct http_msg *m,
			 const struct http_route *route);
/* 1 when the request's path starts with `prefix` (--admin-path: "/lb/",
 * never NULL here), with *skip the bytes of the prefix before its last '/'
 * (the admin route is the rest: "/lb/info" is /info). */
int routes_admin_path_match(const char *prefix, const struct http_msg *m,
			    const struct http_route *route, size_t *skip);
/* The longest Location --redirect-https writes (with "Location: " and CRLF);
 * a longer target is answered 414. */
#define ROUTES_LOCATION_MAX 8192

/*
 * --redirect-https: writes the field line "Location: https://HOST[:PORT]PATH\r\n"
 * into out (outsz bytes, at most ROUTES_LOCATION_MAX is enough): HOST is
 * the request's authority (route->authority, valid) without its port, PORT
 * is `tls_port` unless 443, PATH the target as passed on (origin-form with
 * its query; "/" for "*" or an absolute-form target without a path).
 * Returns the line's length, or -1 when there is no authority or it does
 * not fit.
 */
int routes_redirect_location(char *out, size_t outsz, const struct http_msg *m,
			     const struct http_route *route, unsigned tls_port);
/* How many backends of the current set a pick could return now: up, not
 * ejected and not skipped after a failed connect (backend_usable); while the
 * set is in panic (balancer_panic) the ejected ones count too, not those
 * skipped after a failed connect. /ready counts the same. */
unsigned routes_usable_backends(struct proxy *px);
/* Writes the monitor's JSON body into body (at least ROUTES_BODY_MAX
 * bytes): {"status":"healthy","backends_available":N} with 200, or
 * "unhealthy" with 503 when no backend is usable or the proxy is stopping.
 * Returns the status; *len is the body's length. */
int routes_monitor_answer(struct proxy *px, char *body, size_t *len);

#endif
