/* transport_tls: TLS over a socket (OpenSSL, non-blocking), as a transport:
 * the server side of client connections, the client side of backend ones,
 * and the contexts they share. */
#ifndef LB_PROXY_TRANSPORT_TLS_H
#define LB_PROXY_TRANSPORT_TLS_H

#include <stddef.h>

#include "transport.h"

struct ssl_ctx_st;

/*
 * A server context with no certificate (tls_server.c gives each handshake
 * its own from the client's SNI): TLS 1.2 and 1.3, Mozilla's "intermediate"
 * ciphers, ALPN http/1.1, session tickets. Returns it (the caller frees it
 * with transport_tls_ctx_free), or NULL with the problem in err.
 */
struct ssl_ctx_st *transport_tls_ctx_new(char *err, size_t errsz);
/*
 * A client context for backends: the same versions and ciphers, ALPN
 * http/1.1, certificates verified (when `verify`) against the PEM file `ca`
 * or, when NULL, the system's store. Sessions are kept by the connections'
 * slots (transport_tls_connect). Returns it, or NULL with err "--backend-ca
 * FILE: problem".
 */
struct ssl_ctx_st *transport_tls_client_ctx_new(const char *ca, int verify, char *err,
						size_t errsz);
void transport_tls_ctx_free(struct ssl_ctx_st *ctx);

/* Makes t the server side of a TLS connection over fd (t owns fd, and
 * closes it on transport_close). Returns 0, or -1 (out of memory; fd is
 * left open). */
int transport_tls_accept(struct transport *t, struct ssl_ctx_st *ctx, int fd);
/*
 * Makes t the client side of a TLS connection over fd (connected or
 * connecting): SNI `sni` (or none), the certificate checked for
 * `verify_name`, else for the address `verify_ip`. *session_slot (when the
 * slot is given) is offered for resumption, and replaced by each new session
 * the server sends; the slot must outlive the connection, and its session
 * is freed with transport_tls_session_free. Returns 0, or -1 (fd left open).
 */
int transport_tls_connect(struct transport *t, struct ssl_ctx_st *ctx, int fd,
			  const char *sni, const char *verify_name, const char *verify_ip,
			  void **session_slot);
void transport_tls_session_free(void *session);
/* Advances the handshake: 1 when done, 0 when it waits for the fd
 * (t->read_want says which direction), -1 when it failed (t->plain_http
 * when the peer sent a plain HTTP request; transport_tls_last_error says
 * why). Counted in transport_tls_stats. */
int transport_tls_handshake(struct transport *t);
/* Why the last failed handshake failed ("certificate verify failed: ..."). */
const char *transport_tls_last_error(void);
/* A pooled connection became readable: 0 when that was only TLS's own
 * messages (a session ticket), -1 when it is data, an end or an error. */
int transport_tls_idle_check(struct transport *t);
/* Frees the TLS state and leaves t a plain socket over the same fd (to
 * answer a peer that spoke plain HTTP). */
void transport_tls_to_plain(struct transport *t);
/* Offers h2 before http/1.1 by ALPN on the server context (on), or
 * http/1.1 alone (off: the default). */
void transport_tls_ctx_alpn_h2(struct ssl_ctx_st *ctx, int on);
/* Offers h2 alone by ALPN on the client context (--backend-protocol h2).
 * Returns 0 or -1. */
int transport_tls_ctx_offer_h2(struct ssl_ctx_st *ctx);
/* 1 when the handshake of the TLS transport t selected h2 by ALPN. */
int transport_tls_alpn_h2(const struct transport *t);
/* "1.3" or "1.2" for a TLS transport whose handshake is done (or for a
 * stream of one: over_tls), else NULL. */
const char *transport_tls_version(const struct transport *t);

enum transport_tls_side {
	TRANSPORT_TLS_CLIENTS = 0,	/* handshakes with clients (we accepted) */
	TRANSPORT_TLS_BACKENDS,		/* handshakes with backends (we connected) */
};

enum transport_tls_version_index {
	TRANSPORT_TLS_V12 = 0,		/* TLS 1.2 */
	TRANSPORT_TLS_V13,		/* TLS 1.3 */
	TRANSPORT_TLS_VOTHER,		/* an older version a client offered (refused) */
	TRANSPORT_TLS_VERSIONS,
};

enum transport_tls_outcome {
	TRANSPORT_TLS_FULL = 0,		/* done, a new session */
	TRANSPORT_TLS_RESUMED,		/* done, a session resumed (ticket or id) */
	TRANSPORT_TLS_FAILED,		/* refused or broken */
	TRANSPORT_TLS_OUTCOMES,
};

/* Handshakes since start, by side, version and outcome. */
struct transport_tls_stats {
	unsigned long long handshakes[2][TRANSPORT_TLS_VERSIONS][TRANSPORT_TLS_OUTCOMES];
};
extern struct transport_tls_stats transport_tls_stats;

#endif
