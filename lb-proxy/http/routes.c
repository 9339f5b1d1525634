/* routes: the requests lb-proxy answers itself on the traffic port. */
#include "routes.h"

#include <stdio.h>
#include <string.h>

#include "upstream/backend.h"

/* RFC 3986 pchar and '/': unreserved, pct-encoded, sub-delims, ':', '@'. */
static int path_char(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       strchr("-._~%!$&'()*+,;=:@/", c) != NULL;
}

int routes_monitor_check(const char *uri, char *err, size_t errsz)
{
	size_t n;

	if (!uri)
		return 0;
	n = strlen(uri);
	if (n == 0 || uri[0] != '/' || n > ROUTES_MONITOR_URI_MAX) {
		snprintf(err, errsz, "\"%s\": must be a path of 1 to %d bytes starting with / "
			 "(e.g. /health)", uri, ROUTES_MONITOR_URI_MAX);
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		if (!path_char((unsigned char)uri[i])) {
			snprintf(err, errsz, "\"%s\": must be a path without a query, fragment, spaces "
				 "or control bytes (e.g. /health)", uri);
			return -1;
		}
	}
	return 0;
}

int routes_monitor_match(const char *uri, const struct http_msg *m,
			 const struct http_route *route)
{
	const char *path = http_msg_ptr(m, route->path), *q;
	size_t len = route->path.len, n;

	if (!uri)
		return 0;
	q = memchr(path, '?', len);
	if (q)
		len = (size_t)(q - path);
	n = strlen(uri);
	/* An absolute-form target without a path ("http://h?x") means "/". */
	if (route->path_slash)
		return len == 0 && n == 1;
	return len == n && memcmp(path, uri, n) == 0;
}

int routes_admin_path_match(const char *prefix, const struct http_msg *m,
			    const struct http_route *route, size_t *skip)
{
	size_t n = strlen(prefix);

	if (route->path_slash || route->path.len < n ||
	    memcmp(http_msg_ptr(m, route->path), prefix, n) != 0)
		return 0;
	*skip = n - 1;
	return 1;
}

/* 1 when b counts for readiness at `now`: usable, or, in panic, up and
 * not skipped after a failed connect. Panic sends requests to ejected
 * backends, which answered (a 5xx, a timeout) and may well have recovered;
 * a refused connect says nothing listens there now, and a proxy whose
 * every backend refuses is not ready, panic or not. */
static int ready_backend(const struct backend *b, int panic, double now)
{
	return backend_usable(b, now) ||
	       (panic && b->state == BACKEND_UP && b->fail_until <= now);
}

unsigned routes_usable_backends(struct proxy *px)
{
	double now = ev_now(px->loop);
	int panic = balancer_panic(&px->balancer, &px->set, now);
	unsigned n = 0;

	for (size_t i = 0; i < px->set.n; i++)
		n += (unsigned)ready_backend(px->set.items[i], panic, now);
	return n;
}

int routes_monitor_answer(struct proxy *px, char *body, size_t *len)
{
	unsigned n = routes_usable_backends(px);
	int healthy = n > 0 && !px->stopping;

	*len = (size_t)snprintf(body, ROUTES_BODY_MAX, "{\"status\":\"%s\",\"backends_available\":%u}",
				healthy ? "healthy" : "unhealthy", n);
	return healthy ? 200 : 503;
}

int routes_redirect_location(char *out, size_t outsz, const struct http_msg *m,
			     const struct http_route *route, unsigned tls_port)
{
	const char *host = http_msg_ptr(m, route->authority), *path = http_msg_ptr(m, route->path);
	size_t hlen = route->authority.len, plen = route->path.len;
	char port[16] = "";
	int n;

	if (!route->has_authority || hlen == 0)
		return -1;
	/* The port goes: the last ':' after a bracketed IPv6 address, if any. */
	for (size_t i = hlen; i-- > 0;) {
		if (host[i] == ']')
			break;
		if (host[i] == ':') {
			hlen = i;
			break;
		}
	}
	if (tls_port && tls_port != 443)
		snprintf(port, sizeof(port), ":%u", tls_port);
	if (plen == 1 && path[0] == '*')
		plen = 0;
	n = snprintf(out, outsz, "Location: https://%.*s%s%s%.*s\r\n", (int)hlen, host, port,
		     route->path_slash || plen == 0 ? "/" : "", (int)plen, path);
	return n < 0 || (size_t)n >= outsz ? -1 : n;
}
