/* transport_tls: TLS over a socket (OpenSSL, non-blocking), as a transport:
 * the server side of client connections, and the context they share. */
#ifndef LB_PROXY_TRANSPORT_TLS_H
#define LB_PROXY_TRANSPORT_TLS_H

#include <stddef.h>

#include "transport.h"

struct ssl_ctx_st;

/*
 * A server context from a PEM certificate file (the leaf first, then its
 * chain) and a PEM private key: TLS 1.2 and 1.3, Mozilla's "intermediate"
 * ciphers, ALPN http/1.1, session tickets. Returns it (the caller frees it
 * with transport_tls_ctx_free), or NULL with a message naming the file and
 * the problem in err. An expired certificate is logged, not refused.
 */
struct ssl_ctx_st *transport_tls_ctx_new(const char *cert, const char *key, char *err,
					 size_t errsz);
void transport_tls_ctx_free(struct ssl_ctx_st *ctx);

/* Makes t the server side of a TLS connection over fd (t owns fd, and
 * closes it on transport_close). Returns 0, or -1 (out of memory; fd is
 * left open). */
int transport_tls_accept(struct transport *t, struct ssl_ctx_st *ctx, int fd);
/* Advances the handshake: 1 when done, 0 when it waits for the fd
 * (t->read_want says which direction), -1 when it failed (t->plain_http
 * when the peer sent a plain HTTP request). */
int transport_tls_handshake(struct transport *t);
/* Frees the TLS state and leaves t a plain socket over the same fd (to
 * answer a peer that spoke plain HTTP). */
void transport_tls_to_plain(struct transport *t);
/* "1.3" or "1.2" for a TLS transport whose handshake is done, else NULL. */
const char *transport_tls_version(const struct transport *t);

#endif
