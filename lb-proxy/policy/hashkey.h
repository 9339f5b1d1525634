/* hashkey: what a hashing balancer hashes for a request (--hash-key), and
 * who the client is when it comes through trusted proxies (--trusted-proxies). */
#ifndef LB_PROXY_HASHKEY_H
#define LB_PROXY_HASHKEY_H

#include <stddef.h>
#include <stdint.h>

#include "http_parser.h"
#include "http_request.h"

enum hashkey_kind {
	HASHKEY_CLIENT_IP = 0,	/* the client's address (see hashkey_client_ip) */
	HASHKEY_HEADER,		/* the value of a request header */
	HASHKEY_COOKIE,		/* the value of a cookie */
	HASHKEY_QUERY,		/* the value of a query parameter */
	HASHKEY_PATH,		/* the path, without the query */
};

#define HASHKEY_NAME_MAX 64

struct hashkey {
	enum hashkey_kind kind;
	char name[HASHKEY_NAME_MAX];	/* header, cookie or parameter name */
	size_t name_len;
};

/* Parses "client-ip", "header:NAME", "cookie:NAME", "query:NAME" or "path".
 * Returns 0, or -1 with err naming the accepted forms. */
int hashkey_parse(const char *spec, struct hashkey *k, char *err, size_t errsz);
/* "client-ip | header:NAME | cookie:NAME | query:NAME | path" */
extern const char hashkey_forms[];

/*
 * Finds k's key in request m (its route says where the path is) for a
 * client at [client_ip, client_ip + client_len) (hashkey_client_ip). Returns 1 with [*key, *key + *len) pointing into the
 * request's buffer or client_ip, or 0 when the request has no such key.
 */
int hashkey_find(const struct hashkey *k, const struct http_msg *m, const struct http_route *route,
		 const char *client_ip, size_t client_len, const char **key, size_t *len);

#define TRUSTED_MAX 32

struct trusted_net {
	int family;			/* AF_INET or AF_INET6 */
	unsigned char addr[16];
	unsigned bits;
};

struct trusted {
	unsigned n;
	struct trusted_net nets[TRUSTED_MAX];
};

/* Parses "CIDR,..." ("10.0.0.0/8,::1/128"; a bare address is a /32 or
 * /128). Returns 0, or -1 with err filled. */
int trusted_parse(const char *spec, struct trusted *t, char *err, size_t errsz);
/* 1 when the numeric address [ip, ip + n) is in one of t's networks. */
int trusted_contains(const struct trusted *t, const char *ip, size_t n);
/*
 * The client's address for hashing: the connection's peer, or, when the
 * peer is a trusted proxy, the X-Forwarded-For entries walked from the
 * right past trusted ones (nginx's real_ip_recursive: a client can prepend
 * anything, but cannot hide behind a hop it does not control). Returns a
 * pointer into m's buffer or peer_ip, and its length in *len.
 */
const char *hashkey_client_ip(const struct trusted *t, const char *peer_ip,
			      const struct http_msg *m, size_t *len);

#endif
