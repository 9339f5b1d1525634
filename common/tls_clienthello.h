/* tls_clienthello: the server name (SNI) of a TLS ClientHello read from the
 * first bytes of a connection, without terminating TLS (a TLS-passthrough
 * listener routes by it; HAProxy's req.ssl_sni). */
#ifndef LB_TLS_CLIENTHELLO_H
#define LB_TLS_CLIENTHELLO_H

#include <stddef.h>

/* A record's header (RFC 8446 section 5.1): type, legacy version, length. */
#define TLS_RECORD_HEADER 5
/* The most a record's fragment may hold (2^14, section 5.1). */
#define TLS_RECORD_FRAGMENT_MAX 16384
/* The most bytes the parser reads: one record. */
#define TLS_CLIENTHELLO_MAX (TLS_RECORD_HEADER + TLS_RECORD_FRAGMENT_MAX)
/* The longest host name (a DNS name, RFC 6066 section 3; RFC 1035 2.3.4). */
#define TLS_SNI_MAX 255

enum tls_clienthello_result {
	TLS_CLIENTHELLO_PARSED = 0,	/* a whole ClientHello: sni is its host name,
					 * "" when it names none */
	TLS_CLIENTHELLO_NOT_TLS = -1,	/* not a handshake record holding a ClientHello,
					 * or a malformed one */
	TLS_CLIENTHELLO_NEED_MORE = -2,	/* a prefix of one so far: call again with more */
};

/*
 * Reads the first record of a connection from [p, p + n) (every byte
 * received so far; only the first TLS_CLIENTHELLO_MAX are looked at, so a
 * call costs at most one record's walk) and returns an enum
 * tls_clienthello_result. On TLS_CLIENTHELLO_PARSED, sni (TLS_SNI_MAX + 1
 * bytes) holds the server_name extension's host_name in lower case, or ""
 * when there is none. Every length is checked against the one enclosing
 * it; a host name that is not a DNS name (letters, digits, '-', '_', '.'
 * between labels) makes the hello malformed.
 *
 * A ClientHello longer than its first record (split over several, as RFC
 * 8446 section 5.1 allows) is PARSED with no name: like HAProxy's
 * req.ssl_sni, one record is read, and no client sends a hello of more
 * than 16 KiB in practice. With Encrypted Client Hello the name is the
 * outer, public one.
 */
int tls_clienthello_parse(const unsigned char *p, size_t n, char *sni);

#endif
