/* cors: a CORS policy (the Fetch standard's CORS protocol, with the Gateway
 * API's HTTPCORSFilter semantics): compiled once from its settings, then
 * applied to each request and response without allocating, so a route can
 * hold one of its own. */
#ifndef LB_PROXY_CORS_H
#define LB_PROXY_CORS_H

#include <stddef.h>

#include "buf.h"
#include "http_parser.h"

#define CORS_ORIGINS_MAX 64	/* allowed origins (HTTPCORSFilter: MaxItems 64) */
#define CORS_ORIGIN_MAX 255	/* bytes of one origin, ours or a request's */
#define CORS_NAMES_MAX 64	/* methods, headers, exposed headers of a policy (each) */
#define CORS_LINE_MAX 2048	/* bytes of a rendered list ("GET, PUT") */
#define CORS_MAX_AGE_DEFAULT 5	/* seconds (HTTPCORSFilter's default) */

/* One allowed origin: scheme://host[:port], the host maybe "*.suffix". */
struct cors_origin {
	char scheme[8];			/* "http" or "https" */
	char host[CORS_ORIGIN_MAX + 1];	/* lower case; for a wildcard, ".suffix" */
	unsigned port;			/* the scheme's default when not given */
	int wildcard;			/* host matches any name ending in .suffix */
};

/* A list of names (methods or header names) as a response field says it. */
struct cors_names {
	int any;			/* "*" */
	unsigned n;
	char line[CORS_LINE_MAX];	/* "GET, PUT", or "*" */
};

struct cors_policy {
	int on;				/* origins were given */
	int any_origin;			/* "*" */
	struct cors_origin origins[CORS_ORIGINS_MAX];
	unsigned norigins;
	struct cors_names methods, headers, expose;
	long max_age;			/* seconds a browser may cache a preflight's answer */
	int credentials;		/* Access-Control-Allow-Credentials: true */
};

/* What the settings give, before compiling: each item may hold several
 * comma-separated values ("GET,PUT"). */
struct cors_settings {
	const char *const *origins, *const *methods, *const *headers, *const *expose;
	size_t norigins, nmethods, nheaders, nexpose;
	double max_age;			/* seconds, >= 1 */
	int credentials;
};

/*
 * Compiles `s` into p (zeroed first; nothing points into s afterwards).
 * Origins are `*` (alone), or http(s)://HOST[:PORT] where HOST may start
 * with `*.` (any subdomain, at any depth); methods and header names are
 * RFC 9110 tokens, or `*` alone. No origins: p->on stays 0, and any other
 * setting given is an error. `*` exposed headers with credentials is refused
 * (browsers read it as a header named "*" then). Returns 0, or -1 with err
 * naming the flag and what it must be.
 */
int cors_policy_compile(struct cors_policy *p, const struct cors_settings *s, char *err,
			size_t errsz);

enum cors_kind {
	CORS_NONE = 0,		/* no policy, or no Origin: not a CORS request */
	CORS_ACTUAL,		/* an Origin: forwarded, the answer gets the CORS fields */
	CORS_PREFLIGHT,		/* OPTIONS with Origin and Access-Control-Request-Method:
				 * answered by the proxy, never forwarded */
};

/* One request as the policy sees it (kept in its session: the response
 * comes after the request's bytes may be gone). */
struct cors_request {
	enum cors_kind kind;
	int allowed;			/* its origin is one the policy allows */
	size_t origin_len;
	char origin[CORS_ORIGIN_MAX + 1];	/* the request's Origin, when allowed */
};

/* Classifies request `req` (its head complete) under p (NULL or off:
 * CORS_NONE) into *r. A request with two Origin fields, or one that is not
 * a serialized origin (scheme://host[:port], or "null"), is not allowed. */
void cors_classify(const struct cors_policy *p, const struct http_msg *req,
		   struct cors_request *r);
/* Appends the field lines ("Name: value\r\n") of the answer to preflight
 * request `req`: for an allowed origin Access-Control-Allow-Origin,
 * -Credentials, -Methods, -Headers and -Max-Age (a `*` with credentials
 * echoes the request's Access-Control-Request-Method / -Headers); Vary
 * always. Returns 0 or -1 (out of memory). */
int cors_append_preflight(struct buf *out, const struct cors_policy *p,
			  const struct cors_request *r, const struct http_msg *req);
/* Appends the field lines of a response to a request classified as r (NULL:
 * no request head, as for a 400 to a bad one):
 * Access-Control-Allow-Origin, -Credentials and -Expose-Headers when its
 * origin is allowed; `Vary: Origin` whenever the answer depends on the
 * Origin (every response, unless the policy is `*` without credentials),
 * so a cache never hands one origin's answer to another. Returns 0 or -1. */
int cors_append_response(struct buf *out, const struct cors_policy *p,
			 const struct cors_request *r);
/* 1 when a response field [name, name + n) is one the policy writes
 * (Access-Control-Allow-*, -Expose-Headers, -Max-Age): the backend's own is
 * dropped when a policy is on, so a client never sees two. */
int cors_owns_field(const char *name, size_t n);

#endif
