/* Unit tests for common/gateway_tls.c: HTTPS listeners' certificateRefs
 * resolved to Secrets, with the listener ResolvedRefs reasons of the Gateway
 * API conformance tests GatewayInvalidTLSConfiguration,
 * GatewaySecretMissingReferenceGrant, GatewaySecretInvalidReferenceGrant and
 * GatewaySecretReferenceGrantSpecific/AllInNamespace. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "gateway_tls.h"

/* The PEM texts of a self-signed certificate, its key and another key, base64'd
 * as a Secret's data holds them. */
static char cert_b64[4096], key_b64[2048], other_key_b64[2048];

static void b64(const char *pem, size_t len, char *out)
{
	EVP_EncodeBlock((unsigned char *)out, (const unsigned char *)pem, (int)len);
}

static void pem_of_key(EVP_PKEY *k, char *out)
{
	BIO *b = BIO_new(BIO_s_mem());
	char *p;
	long n;

	assert_int_equal(PEM_write_bio_PrivateKey(b, k, NULL, NULL, 0, NULL, NULL), 1);
	n = BIO_get_mem_data(b, &p);
	b64(p, (size_t)n, out);
	BIO_free(b);
}

static int make_pems(void **state)
{
	EVP_PKEY *k = EVP_EC_gen("P-256"), *other = EVP_EC_gen("P-256");
	X509 *x = X509_new();
	BIO *b = BIO_new(BIO_s_mem());
	char *p;
	long n;
	(void)state;

	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
	X509_gmtime_adj(X509_getm_notBefore(x), 0);
	X509_gmtime_adj(X509_getm_notAfter(x), 86400);
	X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
				   (const unsigned char *)"a.example.com", -1, -1, 0);
	X509_set_issuer_name(x, X509_get_subject_name(x));
	X509_set_pubkey(x, k);
	assert_true(X509_sign(x, k, EVP_sha256()) > 0);
	PEM_write_bio_X509(b, x);
	n = BIO_get_mem_data(b, &p);
	b64(p, (size_t)n, cert_b64);
	pem_of_key(k, key_b64);
	pem_of_key(other, other_key_b64);
	BIO_free(b);
	X509_free(x);
	EVP_PKEY_free(k);
	EVP_PKEY_free(other);
	return 0;
}

/* The Secrets every case sees. */
static void secrets_yaml(char *out, size_t size)
{
	int n = snprintf(out, size,
		 "---\n{apiVersion: v1, kind: Secret, type: kubernetes.io/tls, metadata: {name: good,"
		 " namespace: gw}, data: {tls.crt: '%s', tls.key: '%s'}}\n"
		 "---\n{apiVersion: v1, kind: Secret, type: kubernetes.io/tls, metadata: {name: good,"
		 " namespace: other}, data: {tls.crt: '%s', tls.key: '%s'}}\n"
		 "---\n{apiVersion: v1, kind: Secret, type: Opaque, metadata: {name: opaque,"
		 " namespace: gw}, data: {tls.crt: '%s', tls.key: '%s'}}\n"
		 "---\n{apiVersion: v1, kind: Secret, type: kubernetes.io/tls, metadata: {name: "
		 "mismatch, namespace: gw}, data: {tls.crt: '%s', tls.key: '%s'}}\n"
		 "---\n{apiVersion: v1, kind: Secret, type: kubernetes.io/tls, metadata: {name: "
		 "notb64, namespace: gw}, data: {tls.crt: '%%%%%%', tls.key: '%s'}}\n"
		 "---\n{apiVersion: v1, kind: Secret, type: kubernetes.io/tls, metadata: {name: "
		 "garbage, namespace: gw}, data: {tls.crt: 'bm90IHBlbQ==', tls.key: 'bm90IHBlbQ=='}}\n",
		 cert_b64, key_b64, cert_b64, key_b64, cert_b64, key_b64, cert_b64, other_key_b64,
		 key_b64);

	assert_true(n > 0 && (size_t)n < size);
}

static json_t *lookup(void *ctx, const char *ns, const char *name)
{
	const struct gateway_docs *docs = ctx;

	for (unsigned i = 0; i < docs->n; i++) {
		json_t *m = json_object_get(docs->docs[i].json, "metadata");

		if (strcmp(json_string_value(json_object_get(docs->docs[i].json, "kind")), "Secret")
			    == 0 &&
		    strcmp(json_string_value(json_object_get(m, "namespace")), ns) == 0 &&
		    strcmp(json_string_value(json_object_get(m, "name")), name) == 0)
			return docs->docs[i].json;
	}
	return NULL;
}

static const struct {
	const char *test;	/* the conformance test, or what lb adds */
	const char *refs;	/* the listener's tls.certificateRefs (YAML flow) */
	const char *grant;	/* a ReferenceGrant's spec in namespace other, or NULL */
	const char *reason;	/* NULL: resolved */
	unsigned usable, certs, kept;
	const char *words;	/* in the message */
} cases[] = {
	{ "HTTPRouteHTTPSListener", "[{name: good}]", NULL, NULL, 1, 1, 0, "" },
	{ "HTTPRouteHTTPSListener: two refs to one Secret, written once",
	  "[{name: good}, {kind: Secret, group: '', name: good, namespace: gw}]", NULL, NULL, 2, 1,
	  0, "" },
	{ "GatewayInvalidTLSConfiguration: nonexistent secret", "[{name: nope}]", NULL,
	  "InvalidCertificateRef", 0, 0, 0, "does not exist" },
	{ "GatewayInvalidTLSConfiguration: unsupported group",
	  "[{group: wrong.group.company.io, kind: Secret, name: good}]", NULL,
	  "InvalidCertificateRef", 0, 0, 0, "only core Secrets" },
	{ "GatewayInvalidTLSConfiguration: unsupported kind", "[{kind: WrongKind, name: good}]",
	  NULL, "InvalidCertificateRef", 0, 0, 0, "only core Secrets" },
	{ "GatewayInvalidTLSConfiguration: malformed secret", "[{name: garbage}]", NULL,
	  "InvalidCertificateRef", 0, 0, 1, "not a PEM certificate" },
	{ "not a TLS Secret", "[{name: opaque}]", NULL, "InvalidCertificateRef", 0, 0, 0,
	  "kubernetes.io/tls" },
	{ "a key of another certificate", "[{name: mismatch}]", NULL, "InvalidCertificateRef", 0,
	  0, 1, "does not match" },
	{ "data not base64", "[{name: notb64}]", NULL, "InvalidCertificateRef", 0, 0, 1,
	  "needs tls.crt and tls.key" },
	{ "one good ref of two: resolved refs False, still served", "[{name: nope}, {name: good}]",
	  NULL, "InvalidCertificateRef", 1, 1, 0, "nope" },
	{ "no certificateRefs", "[]", NULL, "InvalidCertificateRef", 0, 0, 0,
	  "1 to 64 tls.certificateRefs" },
	{ "GatewaySecretMissingReferenceGrant", "[{name: good, namespace: other}]", NULL,
	  "RefNotPermitted", 0, 0, 0, "no ReferenceGrant in namespace other" },
	{ "GatewaySecretInvalidReferenceGrant (another Secret's name)",
	  "[{name: good, namespace: other}]",
	  "{from: [{group: gateway.networking.k8s.io, kind: Gateway, namespace: gw}], "
	  "to: [{group: '', kind: Secret, name: not-good}]}", "RefNotPermitted", 0, 0, 0, "" },
	{ "GatewaySecretInvalidReferenceGrant (from HTTPRoutes)",
	  "[{name: good, namespace: other}]",
	  "{from: [{group: gateway.networking.k8s.io, kind: HTTPRoute, namespace: gw}], "
	  "to: [{group: '', kind: Secret}]}", "RefNotPermitted", 0, 0, 0, "" },
	{ "GatewaySecretReferenceGrantSpecific", "[{name: good, namespace: other}]",
	  "{from: [{group: gateway.networking.k8s.io, kind: Gateway, namespace: gw}], "
	  "to: [{group: '', kind: Secret, name: good}]}", NULL, 1, 1, 0, "" },
	{ "GatewaySecretReferenceGrantAllInNamespace", "[{name: good, namespace: other}]",
	  "{from: [{group: gateway.networking.k8s.io, kind: Gateway, namespace: gw}], "
	  "to: [{group: '', kind: Secret}]}", NULL, 1, 1, 0, "" },
};

static void test_certificate_refs(void **state)
{
	static char text[65536], secrets[32768], grant[1024];
	(void)state;

	secrets_yaml(secrets, sizeof(secrets));
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct gateway_docs docs = GATEWAY_DOCS_INIT;
		struct gateway_tls tls;
		const struct gateway_tls_listener *l;
		char err[256];
		json_t *gw;

		snprintf(grant, sizeof(grant), cases[i].grant ? "---\n{apiVersion: "
			 "gateway.networking.k8s.io/v1beta1, kind: ReferenceGrant, metadata: {name: g, "
			 "namespace: other}, spec: %s}\n" : "%s", cases[i].grant ? cases[i].grant : "");
		snprintf(text, sizeof(text),
			 "apiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\n"
			 "metadata: {name: gw, namespace: gw}\nspec:\n  gatewayClassName: lb\n"
			 "  listeners:\n"
			 "  - {name: plain, port: 80, protocol: HTTP}\n"
			 "  - {name: pass, port: 443, protocol: TLS, tls: {mode: Passthrough}}\n"
			 "  - {name: https, port: 443, protocol: HTTPS, hostname: a.example.com, "
			 "tls: {certificateRefs: %s}}\n%s%s", cases[i].refs, grant, secrets);
		if (gateway_load(&docs, "t.yaml", text, strlen(text), err, sizeof(err)) == -1)
			fail_msg("%s: %s", cases[i].test, err);
		gw = docs.docs[0].json;
		assert_int_equal(gateway_tls_resolve(gw, "gw", &docs, lookup, &docs, &tls), 0);
		/* HTTPS listeners only: neither HTTP nor TLS passthrough */
		assert_int_equal(tls.n_listeners, 1);
		assert_null(gateway_tls_listener(&tls, "plain"));
		l = gateway_tls_listener(&tls, "https");
		assert_non_null(l);
		if ((cases[i].reason == NULL) != (l->reason == NULL) ||
		    (l->reason && strcmp(l->reason, cases[i].reason) != 0) ||
		    l->usable != cases[i].usable || tls.n_certs != cases[i].certs ||
		    tls.n_kept != cases[i].kept || !strstr(l->message, cases[i].words))
			fail_msg("%s: reason %s usable %u certs %u kept %u message \"%s\"",
				 cases[i].test, l->reason ? l->reason : "-", l->usable, tls.n_certs,
				 tls.n_kept, l->message);
		if (tls.n_certs)
			assert_true(strstr(tls.certs[0].cert, "BEGIN CERTIFICATE") &&
				    strcmp(tls.certs[0].id, cases[i].grant ? "other_good"
									     : "gw_good") == 0);
		gateway_tls_release(&tls);
		gateway_docs_release(&docs);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_certificate_refs),
	};

	return cmocka_run_group_tests(tests, make_pems, NULL);
}
