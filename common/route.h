/* route: the compiled route table of a Gateway (listeners, virtual hosts,
 * rules in precedence order) and the per-request matcher over it.
 *
 * Built by common/gateway.c from Gateway API documents, carried on the bus by
 * common/route_codec.c, read by lb-proxy. Nothing here does I/O; matching a
 * request allocates nothing (every regex has its PCRE2 match data from the
 * moment it is compiled), so a table is used by one thread at a time.
 */
#ifndef LB_ROUTE_H
#define LB_ROUTE_H

#include <stddef.h>
#include <stdint.h>

/* Limits of the Gateway API (v1 HTTPRoute CRD validation), checked by the
 * compiler (as route status conditions) and by the codec (as refusals). */
#define ROUTE_RULES_MAX 16		/* rules per HTTPRoute */
#define ROUTE_MATCHES_MAX 64		/* matches per rule */
#define ROUTE_BACKENDS_MAX 16		/* backendRefs per rule */
#define ROUTE_CONDITIONS_MAX 16		/* headers, and query params, per match */
#define ROUTE_HEADER_OPS_MAX 16		/* set, add, remove entries per modifier */
#define ROUTE_FILTERS_MAX 16		/* filters per rule */
#define ROUTE_HOSTNAMES_MAX 16		/* hostnames per HTTPRoute */
#define ROUTE_LISTENERS_MAX 64		/* listeners per Gateway */
#define ROUTE_WEIGHT_MAX 1000000	/* a backendRef's weight */
#define ROUTE_HOSTNAME_MAX 253		/* a DNS name */
#define ROUTE_NAME_MAX 253		/* names, namespaces, header names */
#define ROUTE_PATH_MAX 1024		/* path values and replacements */
#define ROUTE_VALUE_MAX 4096		/* header and query param values */
#define ROUTE_REGEX_MAX 1024		/* a regular expression's length */
/* Limits of lb's own: a whole table (the compiler stops adding there, the
 * codec refuses more). */
#define ROUTE_TABLE_RULES_MAX 4096
#define ROUTE_TABLE_VHOSTS_MAX 4096
#define ROUTE_TABLE_ENTRIES_MAX 65536
/* PCRE2 match limit: backtracking steps per regex per request, so a
 * pathological pattern costs a bounded time and then does not match. */
#define ROUTE_REGEX_MATCH_LIMIT 100000
/* KiB: PCRE2's backtracking frames per regex, allocated when it is compiled */
#define ROUTE_REGEX_HEAP_KB 64

enum route_protocol {
	ROUTE_PROTOCOL_HTTP = 0,	/* plain HTTP/1.1 */
	ROUTE_PROTOCOL_HTTPS,		/* HTTP over TLS terminated by lb */
	ROUTE_PROTOCOL_TLS,		/* TLS, routed by SNI (TLSRoute, later) */
	ROUTE_PROTOCOL_TCP,		/* TCP (TCPRoute, later) */
};

enum route_path_type {
	ROUTE_PATH_PREFIX = 0,	/* element-wise prefix: /foo takes /foo, /foo/, /foo/x */
	ROUTE_PATH_EXACT,	/* the whole path */
	ROUTE_PATH_REGEX,	/* a PCRE2 pattern over the whole path */
};

enum route_value_type {
	ROUTE_VALUE_EXACT = 0,	/* the whole value, byte for byte */
	ROUTE_VALUE_REGEX,	/* a PCRE2 pattern over the whole value */
};

enum route_path_modifier {
	ROUTE_MODIFY_NONE = 0,	/* the path as it came */
	ROUTE_MODIFY_FULL,	/* ReplaceFullPath */
	ROUTE_MODIFY_PREFIX,	/* ReplacePrefixMatch: the matched PathPrefix replaced */
};

/* A compiled pattern (route.c): anchored at both ends, never UTF, with its
 * own match data. */
struct route_regex;

/* A header (name case-insensitive) or query param (name case-sensitive)
 * condition. */
struct route_condition {
	enum route_value_type type;
	char *name;
	char *value;		/* the value, or the pattern */
	struct route_regex *re;	/* ROUTE_VALUE_REGEX only */
};

/* One HTTPRouteMatch: every condition must hold. */
struct route_match {
	enum route_path_type path_type;
	char *path;		/* as written (a PathPrefix's trailing '/' ignored when matching) */
	struct route_regex *path_re;
	char *method;		/* NULL: any method */
	struct route_condition *headers;
	unsigned n_headers;
	struct route_condition *query;
	unsigned n_query;
};

struct route_header {
	char *name;
	char *value;
};

/* RequestHeaderModifier / ResponseHeaderModifier (all counts 0: none). */
struct route_header_modifier {
	struct route_header *set;
	unsigned n_set;
	struct route_header *add;
	unsigned n_add;
	char **remove;
	unsigned n_remove;
};

struct route_redirect {
	char *scheme;		/* "http", "https", or NULL: the request's */
	char *hostname;		/* NULL: the request's Host */
	uint16_t port;		/* 0: derived (route_redirect_location) */
	enum route_path_modifier path_type;
	char *path;		/* the replacement (ROUTE_MODIFY_NONE: NULL) */
	int status;		/* 301, 302, 303, 307 or 308 */
};

struct route_rewrite {
	char *hostname;		/* NULL: Host unchanged */
	enum route_path_modifier path_type;
	char *path;
};

/* A backendRef (a Service port). An unresolved one stays in the rule: the
 * requests its weight draws are answered 500. */
struct route_backend {
	char *namespace;
	char *name;
	uint16_t port;
	uint32_t weight;	/* 0 to ROUTE_WEIGHT_MAX; 0 is never picked */
	int resolved;		/* 1: exists and is permitted; 0: answers 500 */
	/* 2: a TLS or TCP relay to the Service starts with a PROXY protocol v2
	 * header (its lb.dev/proxy-protocol annotation); 0: none */
	int proxy_protocol;
};

/* RequestMirror: a copy of numerator/denominator of the requests. */
struct route_mirror {
	struct route_backend backend;
	uint32_t numerator;
	uint32_t denominator;	/* > 0; a percent p is p/100 */
};

/* One HTTPRouteRule of one route, with its filters. */
struct route_rule {
	char *route;		/* "namespace/name", for logs and metrics */
	unsigned index;		/* its index in the route's spec.rules */
	struct route_match *matches;	/* at least one */
	unsigned n_matches;
	struct route_header_modifier request_headers;
	struct route_header_modifier response_headers;
	struct route_redirect *redirect;	/* NULL: none */
	struct route_rewrite *rewrite;		/* NULL: none */
	struct route_mirror *mirrors;
	unsigned n_mirrors;
	uint32_t timeout_request_ms;		/* 0: none */
	uint32_t timeout_backend_ms;		/* 0: none */
	/* the route's lb.dev/split-key annotation ("cookie:NAME",
	 * "header:NAME" or "client"), or NULL: each request picks at random */
	char *split_key;
	struct route_backend *backends;
	unsigned n_backends;
};

/* One (rule, match) pair of a virtual host, in precedence order. */
struct route_entry {
	uint32_t rule;		/* index in route_table.rules */
	uint32_t match;		/* index in that rule's matches */
};

/* The routes that answer one hostname of a listener. */
struct route_vhost {
	char *hostname;		/* "a.example.com", "*.example.com", or "*": any */
	struct route_entry *entries;	/* the first that matches wins */
	unsigned n_entries;
};

struct host_index;

struct route_listener {
	char *name;		/* the Gateway listener's name */
	uint16_t port;
	char *hostname;		/* NULL: any host */
	enum route_protocol protocol;
	struct route_vhost *vhosts;
	unsigned n_vhosts;
	struct host_index *index;	/* vhosts by hostname (route_table_index), or NULL: scanned */
};

/* A Gateway's routes. Owns every string, array and regex below it. */
struct route_table {
	struct route_listener *listeners;
	unsigned n_listeners;
	struct route_rule *rules;
	unsigned n_rules;
};

/* What the matcher needs of a request: nothing is copied. */
struct route_request {
	const char *host;	/* the Host header, a ":port" ignored; NULL: none */
	const char *method;
	const char *path;	/* without the query */
	size_t path_len;
	const char *query;	/* after '?', NULL or "" when none */
	size_t query_len;
	/* The first value of the header name (case-insensitive), its length
	 * in *len, or NULL when the request has none. */
	const char *(*header)(void *ctx, const char *name, size_t *len);
	void *header_ctx;
};

/* Where a request goes. */
struct route_result {
	const struct route_listener *listener;
	const struct route_vhost *vhost;
	const struct route_rule *rule;
	const struct route_match *match;	/* the match that held */
};

/* Frees everything t owns (t itself too); NULL is fine. */
void route_table_free(struct route_table *t);
/* Frees what a rule owns (not the rule itself). */
void route_rule_release(struct route_rule *r);
/* Frees what a listener owns (not the listener itself). */
void route_listener_release(struct route_listener *l);

/* Listeners with at most this many virtual hosts are scanned: a few
 * compares cost less than hashing. */
#define ROUTE_INDEX_MIN_VHOSTS 8
/* Indexes the virtual hosts (common/host_index.c) of each listener of t
 * with more than min_vhosts of them, so route_match finds one without a
 * scan. Returns 0, or -1 when out of memory (those listeners stay scanned:
 * still right, only slower). */
int route_table_index(struct route_table *t, unsigned min_vhosts);

/*
 * Compiles pattern (NUL-terminated) into *out, anchored at both ends, with
 * its match data and backtracking frames (ROUTE_REGEX_HEAP_KB at most).
 * Returns 0, or -1 with PCRE2's message and offset in err.
 */
int route_regex_compile(const char *pattern, struct route_regex **out, char *err, size_t errlen);
void route_regex_free(struct route_regex *re);
/* 1 when the whole of s (n bytes) matches, else 0 (no match, or a limit was
 * reached). Allocates nothing, but for PCRE2 growing the regex's frames the
 * first time a match backtracks deeper than any before (up to
 * ROUTE_REGEX_HEAP_KB, kept for the next ones). */
int route_regex_match(struct route_regex *re, const char *s, size_t n);

/*
 * Finds the rule for a request that came to port: the listener on that port
 * whose hostname fits the Host best (exact, longest wildcard, then none), its
 * best virtual host, and the first of its entries whose match holds.
 * Returns 0 with *out filled, or -1: no route, the answer is 404.
 * Allocates nothing (see route_regex_match); the regexes' match data is
 * written to, so one thread at a time.
 */
int route_match(const struct route_table *t, uint16_t port, const struct route_request *req,
		struct route_result *out);

/* 1 when the match holds for the request, else 0. */
int route_match_holds(const struct route_match *m, const struct route_request *req);

/*
 * Picks a backend by weight for a 32-bit random number or hash r: the
 * backends lay out intervals of their weights one after the other (Envoy's
 * weighted clusters); weight 0 has none. Returns NULL when the weights sum to
 * 0 or there are none: answer 500. An unresolved backend returned also means
 * 500 for this request.
 */
const struct route_backend *route_pick_backend(const struct route_rule *rule, uint32_t r);

/*
 * 1 when hostname pattern (exact, "*.suffix" or "*") takes host (no port,
 * any case): "*.example.com" takes "a.example.com" and "b.a.example.com",
 * not "example.com".
 */
int route_hostname_matches(const char *pattern, const char *host, size_t host_len);

/*
 * The path of a request rewritten by a URLRewrite or redirect path modifier:
 * ReplaceFullPath puts value; ReplacePrefixMatch replaces the matched
 * PathPrefix prefix element-wise (/foo by /bar: /foo/x -> /bar/x; by /:
 * /foo/x -> /x, /foo -> /). Writes it NUL-terminated into out (size bytes).
 * Returns its length, or -1 when it does not fit or prefix does not match.
 */
int route_rewrite_path(enum route_path_modifier type, const char *value, const char *prefix,
		       const char *path, size_t path_len, char *out, size_t size);

/*
 * The Location of a RequestRedirect: scheme (the redirect's, else
 * req_scheme), hostname (the redirect's, else host without its port), port
 * (the redirect's; else 80 or 443 for a redirect scheme; else the listener's),
 * left out when it is the scheme's default; the path modified as
 * route_rewrite_path (prefix: the match's PathPrefix) and the query kept.
 * Writes it NUL-terminated into out. Returns its length, or -1 when it does
 * not fit or the Host holds anything but a name or an address (answer 400).
 */
int route_redirect_location(const struct route_redirect *rd, const struct route_match *m,
			    uint16_t listener_port, const char *req_scheme, const char *host,
			    const char *path, size_t path_len, const char *query,
			    size_t query_len, char *out, size_t size);

/* 1 when s is a header name (an RFC 9110 token) of at most ROUTE_NAME_MAX
 * bytes, else 0. */
int route_header_name_valid(const char *s);
/* 1 when s has at most max bytes and no control character (a value that
 * goes into a header, a path or a log line as it is), else 0. */
int route_text_valid(const char *s, size_t max);

/* 1 when s is a split key lb serves: "cookie:NAME" (NAME a cookie name,
 * an RFC 9110 token of at most ROUTE_SPLIT_NAME_MAX bytes), "header:NAME"
 * (a header name as long) or "client", else 0. */
int route_split_key_valid(const char *s);
#define ROUTE_SPLIT_NAME_MAX 63

/* Names as the Gateway API spells them, indexed by the enums. */
extern const char *const route_path_type_names[3];
extern const char *const route_value_type_names[2];
extern const char *const route_modifier_names[3];	/* [0] "None": no modifier */

/* A protocol's name ("HTTP", "HTTPS", ...), and back (-1: unknown). */
const char *route_protocol_name(enum route_protocol p);
int route_protocol_parse(const char *s);

#endif
