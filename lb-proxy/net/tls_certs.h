/* tls_certs: the certificates lb-proxy serves to clients, chosen by SNI:
 * pairs from --tls-cert/--tls-key and --tls-dir, loaded, checked, described. */
#ifndef LB_PROXY_TLS_CERTS_H
#define LB_PROXY_TLS_CERTS_H

#include <stddef.h>
#include <time.h>

#include "buf.h"

/* Pairs a --tls-dir may hold (NAME.crt/NAME.key files, SUB/tls.crt secrets). */
#define TLS_CERTS_MAX 256
/* DNS names kept per certificate (its subjectAltName entries). */
#define TLS_CERT_NAMES_MAX 64

struct x509_st;
struct evp_pkey_st;
struct stack_st_X509;

/* One certificate with its key, as loaded from its two files. Shared by the
 * sets that hold it (refs): a reload that keeps a pair keeps the object. */
struct tls_cert {
	unsigned refs;
	char *cert_path, *key_path;
	struct x509_st *leaf;
	struct stack_st_X509 *chain;	/* the certificates after the leaf, or NULL */
	struct evp_pkey_st *key;
	char *names[TLS_CERT_NAMES_MAX];	/* DNS names, lower-case ("*.x" wildcards) */
	size_t nnames;
	char subject[256];		/* "CN=localhost" */
	time_t not_after;
};

/* The certificates in use: items[0] is the default (no SNI, or no match). */
struct tls_certs {
	struct tls_cert *items[TLS_CERTS_MAX];
	size_t n;
};

/* Where the pairs are: cert+key (either may be NULL when dir is given), and
 * a directory of pairs (or NULL). */
struct tls_certs_source {
	const char *cert, *key;
	const char *dir;
	/* dir is lb-discover's copy of a Gateway's certificates: it may hold no
	 * pair (none resolved yet, or every Secret removed), and the set is then
	 * empty (handshakes refused) instead of an error or the old pairs kept */
	int dir_may_be_empty;
};

/*
 * Loads every pair of src into set (which must be empty). At start-up
 * (old == NULL) any bad pair fails the load: -1 with "FILE: problem" in err;
 * an expired certificate is only logged. On a reload (old is the set in use)
 * a bad pair, expired included, is logged as "FILE: problem" and the pair of
 * the same files in old is kept instead; it returns how many pairs were bad,
 * or -1 (err set) when no pair is left. The set holds references to what it
 * loaded or kept. Returns 0 at start-up when all loaded. With
 * src->dir_may_be_empty a directory with no pair (or none yet) loads an
 * empty set, at start-up and on a reload alike.
 */
int tls_certs_load(struct tls_certs *set, const struct tls_certs_source *src,
		   const struct tls_certs *old, char *err, size_t errsz);
/* Drops the set's references (the set is empty after). */
void tls_certs_release(struct tls_certs *set);
/* The certificate for a client that asked for `servername` (may be NULL): an
 * exact name first, then a wildcard, else the default. NULL for an empty set. */
struct tls_cert *tls_certs_pick(const struct tls_certs *set, const char *servername);
/* 1 when a certificate name (lower-case, "*.example.com" matches one label)
 * covers the host name `name` (compared without case). */
int tls_certs_name_matches(const char *pattern, const char *name);
/* Appends a JSON array: each certificate's file, subject, names, expiry. */
void tls_certs_info_json(const struct tls_certs *set, struct buf *b, time_t now);
/* Appends lb_proxy_tls_cert_expiry_seconds, one series per certificate. */
void tls_certs_metrics(const struct tls_certs *set, struct buf *b, time_t now);

#endif
