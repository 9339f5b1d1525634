/* gateway_tls: HTTPS listeners' certificateRefs resolved to Secrets (see
 * gateway_tls.h). */
#include "gateway_tls.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "gateway_ref.h"

static const char *str(json_t *o, const char *key, const char *def)
{
	const char *s = json_string_value(json_object_get(o, key));

	return s ? s : def;
}

static int b64_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	return c == '+' ? 62 : c == '/' ? 63 : -1;
}

/* Standard base64 (a Secret's data) into a new NUL-terminated text; NULL
 * when it is not base64 or memory ran out. */
static char *b64_decode(const char *in, size_t *len)
{
	size_t n = strlen(in), o = 0;
	char *out = malloc(n / 4 * 3 + 4);
	unsigned acc = 0, bits = 0, pad = 0;

	if (!out)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		int v = b64_value((unsigned char)in[i]);

		if (in[i] == '=') {
			pad++;
			continue;
		}
		if (v < 0 || pad) {
			free(out);
			return NULL;
		}
		acc = (acc << 6) | (unsigned)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[o++] = (char)((acc >> bits) & 0xff);
		}
	}
	if (pad > 2 || (n - pad) % 4 == 1) {
		free(out);
		return NULL;
	}
	out[o] = '\0';
	*len = o;
	return out;
}

/* A Secret's key as text: data (base64) or stringData (what kubectl apply
 * of a file may carry). NULL when absent or not base64. */
static char *secret_value(json_t *secret, const char *key, size_t *len)
{
	const char *b64 = json_string_value(json_object_get(json_object_get(secret, "data"), key));
	const char *text = json_string_value(json_object_get(json_object_get(secret, "stringData"),
							     key));

	if (b64)
		return b64_decode(b64, len);
	if (!text)
		return NULL;
	*len = strlen(text);
	return strdup(text);
}

static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
	(void)buf;
	(void)size;
	(void)rwflag;
	(void)u;
	return -1;
}

/* Checks a PEM certificate and its key; NULL when usable, else why. */
static const char *pem_problem(const char *cert, size_t cert_len, const char *key,
			       size_t key_len)
{
	BIO *cb = BIO_new_mem_buf(cert, (int)cert_len), *kb = BIO_new_mem_buf(key, (int)key_len);
	X509 *x = cb ? PEM_read_bio_X509(cb, NULL, no_passphrase, NULL) : NULL;
	EVP_PKEY *k = kb ? PEM_read_bio_PrivateKey(kb, NULL, no_passphrase, NULL) : NULL;
	const char *why = NULL;

	if (!x)
		why = "tls.crt is not a PEM certificate";
	else if (!k)
		why = "tls.key is not an unencrypted PEM private key";
	else if (X509_check_private_key(x, k) != 1)
		why = "tls.key does not match the certificate in tls.crt";
	ERR_clear_error();
	X509_free(x);
	EVP_PKEY_free(k);
	BIO_free(cb);
	BIO_free(kb);
	return why;
}

static struct gateway_tls_cert *find_cert(struct gateway_tls *t, const char *id)
{
	for (unsigned i = 0; i < t->n_certs; i++)
		if (strcmp(t->certs[i].id, id) == 0)
			return &t->certs[i];
	return NULL;
}

/* Adds id to out->kept (once). */
static void keep(struct gateway_tls *out, const char *id, int *oom)
{
	struct gateway_tls_id *grown;

	for (unsigned i = 0; i < out->n_kept; i++)
		if (strcmp(out->kept[i].id, id) == 0)
			return;
	grown = realloc(out->kept, (out->n_kept + 1) * sizeof(*grown));
	if (!grown) {
		*oom = 1;
		return;
	}
	out->kept = grown;
	snprintf(grown[out->n_kept++].id, sizeof(grown->id), "%s", id);
}

/* Resolves one certificateRef; NULL when usable (its cert kept in out),
 * else the reason with why written. -2 in *oom when memory ran out. */
static const char *resolve_ref(json_t *ref, const char *gw_namespace,
			       const struct gateway_docs *docs, gateway_secret_fn secret,
			       void *ctx, struct gateway_tls *out, char *why, size_t size,
			       int *oom)
{
	const char *group = str(ref, "group", ""), *kind = str(ref, "kind", "Secret");
	const char *ns = str(ref, "namespace", gw_namespace), *name = str(ref, "name", "");
	struct gateway_tls_cert c, *grown = NULL;
	json_t *s;
	const char *problem;

	if (group[0] || strcmp(kind, "Secret") != 0) {
		snprintf(why, size, "certificateRef %s%s%s %s: only core Secrets are supported",
			 group, group[0] ? "/" : "", kind, name);
		return "InvalidCertificateRef";
	}
	if (strcmp(ns, gw_namespace) != 0 &&
	    !gateway_ref_granted(docs, "Gateway", gw_namespace, ns, "Secret", name)) {
		snprintf(why, size, "no ReferenceGrant in namespace %s lets Gateways of %s refer to "
			 "Secret %s", ns, gw_namespace, name);
		return "RefNotPermitted";
	}
	memset(&c, 0, sizeof(c));
	snprintf(c.id, sizeof(c.id), "%s_%s", ns, name);
	if (find_cert(out, c.id))
		return NULL;
	s = name[0] ? secret(ctx, ns, name) : NULL;
	if (!s) {
		snprintf(why, size, "Secret %s/%s does not exist", ns, name);
		return "InvalidCertificateRef";
	}
	if (strcmp(str(s, "type", ""), "kubernetes.io/tls") != 0) {
		snprintf(why, size, "Secret %s/%s is not of type kubernetes.io/tls", ns, name);
		return "InvalidCertificateRef";
	}
	c.cert = secret_value(s, "tls.crt", &c.cert_len);
	c.key = secret_value(s, "tls.key", &c.key_len);
	problem = !c.cert || !c.key ? "it needs tls.crt and tls.key (base64 in data)"
				    : pem_problem(c.cert, c.cert_len, c.key, c.key_len);
	if (!problem)
		grown = realloc(out->certs, (out->n_certs + 1) * sizeof(*grown));
	if (problem || !grown) {
		if (c.key)
			OPENSSL_cleanse(c.key, c.key_len);
		free(c.cert);
		free(c.key);
		if (!problem) {
			*oom = 1;
			return "InvalidCertificateRef";
		}
		snprintf(why, size, "Secret %s/%s: %s", ns, name, problem);
		keep(out, c.id, oom);
		return "InvalidCertificateRef";
	}
	out->certs = grown;
	out->certs[out->n_certs++] = c;
	return NULL;
}

int gateway_tls_resolve(json_t *gateway, const char *gw_namespace,
			const struct gateway_docs *docs, gateway_secret_fn secret, void *ctx,
			struct gateway_tls *out)
{
	json_t *listeners = json_object_get(json_object_get(gateway, "spec"), "listeners"), *l;
	size_t i, n = json_array_size(listeners);
	int oom = 0;

	memset(out, 0, sizeof(*out));
	out->listeners = calloc(n ? n : 1, sizeof(*out->listeners));
	if (!out->listeners)
		return -1;
	json_array_foreach(listeners, i, l) {
		json_t *tls = json_object_get(l, "tls"), *refs = json_object_get(tls, "certificateRefs");
		struct gateway_tls_listener *tl = &out->listeners[out->n_listeners];
		size_t j;
		json_t *ref;

		if (strcmp(str(l, "protocol", ""), "HTTPS") != 0 ||
		    strcmp(str(tls, "mode", "Terminate"), "Terminate") != 0)
			continue;
		snprintf(tl->name, sizeof(tl->name), "%s", str(l, "name", ""));
		out->n_listeners++;
		if (json_array_size(refs) == 0 || json_array_size(refs) > GATEWAY_TLS_REFS_MAX) {
			tl->reason = "InvalidCertificateRef";
			snprintf(tl->message, sizeof(tl->message), "an HTTPS listener needs 1 to %d "
				 "tls.certificateRefs", GATEWAY_TLS_REFS_MAX);
			continue;
		}
		json_array_foreach(refs, j, ref) {
			char why[GATEWAY_MESSAGE_MAX];
			const char *reason = resolve_ref(ref, gw_namespace, docs, secret, ctx, out,
							 why, sizeof(why), &oom);

			if (oom)
				goto fail;
			if (!reason) {
				tl->usable++;
			} else if (!tl->reason) {
				tl->reason = reason;
				snprintf(tl->message, sizeof(tl->message), "%s", why);
			}
		}
	}
	return 0;
fail:
	gateway_tls_release(out);
	return -1;
}

const struct gateway_tls_listener *gateway_tls_listener(const struct gateway_tls *tls,
							 const char *name)
{
	for (unsigned i = 0; tls && i < tls->n_listeners; i++)
		if (strcmp(tls->listeners[i].name, name) == 0)
			return &tls->listeners[i];
	return NULL;
}

void gateway_tls_release(struct gateway_tls *out)
{
	for (unsigned i = 0; i < out->n_certs; i++) {
		OPENSSL_cleanse(out->certs[i].key, out->certs[i].key_len);
		free(out->certs[i].cert);
		free(out->certs[i].key);
	}
	free(out->certs);
	free(out->kept);
	free(out->listeners);
	memset(out, 0, sizeof(*out));
}
