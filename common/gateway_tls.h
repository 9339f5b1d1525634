/* gateway_tls: the certificates of a Gateway's HTTPS listeners: each
 * listener's tls.certificateRefs resolved against Secrets (core/v1, type
 * kubernetes.io/tls, a ReferenceGrant from the Gateway when in another
 * namespace, a PEM certificate and the key that matches it), with what the
 * listener's ResolvedRefs says. Pure: documents and a Secret lookup in. */
#ifndef LB_GATEWAY_TLS_H
#define LB_GATEWAY_TLS_H

#include <jansson.h>
#include <stddef.h>

#include "gateway_load.h"
#include "gateway_notes.h"
#include "route.h"

/* certificateRefs per listener (the CRD's maxItems) */
#define GATEWAY_TLS_REFS_MAX 64

/* The Secret namespace/name (a borrowed object), or NULL when there is none. */
typedef json_t *(*gateway_secret_fn)(void *ctx, const char *namespace, const char *name);

/* A usable certificate: the PEM texts of a Secret's tls.crt and tls.key. */
struct gateway_tls_cert {
	char id[2 * ROUTE_NAME_MAX + 2];	/* "NAMESPACE_NAME": its folder (names hold no '_') */
	char *cert, *key;			/* owned, NUL-terminated */
	size_t cert_len, key_len;
};

/* One HTTPS listener of the Gateway, by its name. */
struct gateway_tls_listener {
	char name[ROUTE_NAME_MAX + 1];
	const char *reason;	/* NULL: every ref resolved; else "InvalidCertificateRef",
				 * "RefNotPermitted" (its first bad ref's) */
	char message[GATEWAY_MESSAGE_MAX];
	unsigned usable;	/* refs that resolved: 0 means not Programmed */
};

/* A Secret id ("NAMESPACE_NAME"). */
struct gateway_tls_id {
	char id[2 * ROUTE_NAME_MAX + 2];
};

struct gateway_tls {
	struct gateway_tls_listener *listeners;
	unsigned n_listeners;
	struct gateway_tls_cert *certs;		/* each Secret once */
	unsigned n_certs;
	/* Secrets that exist, are referred to and permitted, but are not usable
	 * now (a bad PEM, a key that does not match): a copy written before,
	 * when one was good, is kept (as lb-proxy keeps a pair whose new files
	 * are bad) */
	struct gateway_tls_id *kept;
	unsigned n_kept;
};

/*
 * Resolves the certificateRefs of every HTTPS listener (tls.mode Terminate,
 * the default) of `gateway` (a Gateway object in namespace gw_namespace),
 * grants looked up in docs (its ReferenceGrants), Secrets through secret.
 * Fills out (zeroed first; the caller releases it). Returns 0, or -1 when
 * memory ran out.
 */
int gateway_tls_resolve(json_t *gateway, const char *gw_namespace,
			const struct gateway_docs *docs, gateway_secret_fn secret, void *ctx,
			struct gateway_tls *out);
/* The listener named name in tls, or NULL (not an HTTPS listener). */
const struct gateway_tls_listener *gateway_tls_listener(const struct gateway_tls *tls,
							 const char *name);
/* Frees what out owns; it is zeroed. */
void gateway_tls_release(struct gateway_tls *out);

#endif
