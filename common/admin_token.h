/* admin_token: the bearer token that guards an admin API's writes
 * (--admin-token FILE), read at start-up and checked per request; the same
 * rules for lb-discover's and lb-proxy's admin APIs (docs/admin-api.md). */
#ifndef LB_ADMIN_TOKEN_H
#define LB_ADMIN_TOKEN_H

#include <stddef.h>

#include "http_parser.h"
#include "net.h"

/* bytes of an --admin-token, at most */
#define ADMIN_TOKEN_MAX 4096

/*
 * Reads an --admin-token FILE: its content without the trailing line
 * break, which must be 1 to ADMIN_TOKEN_MAX visible ASCII bytes. Returns a
 * malloc'd string, or NULL with err naming the flag. Start-up only.
 */
char *admin_token_read(const char *path, char *err, size_t errsz);
/*
 * 1 when request m carries "Authorization: Bearer TOKEN" with `token`
 * (compared in constant time), 0 with another one, -1 with none (or
 * another scheme).
 */
int admin_token_check(const struct http_msg *m, const char *token);
/* 1 when na is a loopback address (127.0.0.0/8, ::1): an admin API
 * without a token is for loopback only, as Envoy's. */
int admin_token_loopback(const struct net_addr *na);

#endif
