/* tls_server: lb-proxy's TLS for clients: the context, the certificates it
 * picks from by SNI, the ticket keys, and their live reload. */
#ifndef LB_PROXY_TLS_SERVER_H
#define LB_PROXY_TLS_SERVER_H

#include <ev.h>

#include "buf.h"
#include "tls_certs.h"
#include "tls_watch.h"

struct ssl_ctx_st;

struct tls_server_options {
	const char *cert, *key;		/* --tls-cert/--tls-key, or NULL */
	const char *dir;		/* --tls-dir, or NULL */
	const char *ticket_keys;	/* --tls-ticket-keys, or NULL */
	int resumption;			/* --tls-resumption: tickets and the session cache */
	int h2;				/* --h2: ALPN offers h2 before http/1.1 */
	int dir_may_be_empty;		/* dir is a Gateway's (tls_certs_source) */
};

struct tls_server {
	struct ssl_ctx_st *ctx;		/* every client connection's context */
	struct tls_certs certs;		/* in use for new handshakes */
	struct tls_certs_source src;
	const char *ticket_keys;
	struct tls_watch watch;
	unsigned long long reloads, reload_failures;
};

/*
 * Loads the certificates and ticket keys of opts (start-up: a bad one is
 * an error). Returns 0, or -1 with "FILE: problem" in err. ts->ctx is the
 * context to accept with.
 */
int tls_server_init(struct tls_server *ts, const struct tls_server_options *opts, char *err,
		    size_t errsz);
/* Watches the files' directories in loop: a change reloads (tls_server_reload).
 * Returns 0, or -1 with err set. */
int tls_server_watch(struct tls_server *ts, struct ev_loop *loop, char *err, size_t errsz);
/*
 * Reads the certificates and ticket keys again (what SIGHUP should call):
 * new handshakes use the new ones, established connections keep theirs; a
 * bad pair or keys file keeps the old one, logged as "FILE: problem".
 * Returns 0 when all loaded, -1 when something was kept.
 */
int tls_server_reload(struct tls_server *ts);
void tls_server_release(struct tls_server *ts);

#endif
