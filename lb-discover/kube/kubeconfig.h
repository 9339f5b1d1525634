/* kubeconfig: how lb-discover reaches the Kubernetes API: in-cluster service
 * account, a kubeconfig file, or --api-server (kubectl proxy). */
#ifndef LB_DISCOVER_KUBECONFIG_H
#define LB_DISCOVER_KUBECONFIG_H

#include <curl/curl.h>
#include <stddef.h>

struct kube_auth {
	char server[512];	/* "https://10.96.0.1:443", no trailing slash */
	char *ca;		/* CA bundle (PEM) in memory, or NULL */
	size_t ca_len;
	char ca_file[512];	/* or a CA file ("" for the system's) */
	char *cert;		/* client certificate (PEM) in memory, or NULL */
	size_t cert_len;
	char *key;		/* its key (PEM) */
	size_t key_len;
	char token[8192];	/* bearer token, "" for none */
	char token_file[512];	/* re-read by kube_auth_refresh (it rotates) */
	int insecure;		/* insecure-skip-tls-verify */
	char namespace[254];	/* the context's or the service account's, "" if none */
	char source[600];	/* for logs: "in-cluster", "kubeconfig PATH", ... */
};

/*
 * Finds the API: --api-server (`api_server`, may be NULL), else `kubeconfig`
 * (the flag), else in-cluster (KUBERNETES_SERVICE_HOST/PORT with the service
 * account in `sa_dir`), else $KUBECONFIG, else ~/.kube/config. Start-up
 * only (reads files). Returns 0 or -1 with err filled.
 */
int kube_auth_resolve(struct kube_auth *a, const char *api_server, const char *kubeconfig,
		      const char *sa_dir, char *err, size_t errsz);
/* Re-reads a rotating token file, if any. */
void kube_auth_refresh(struct kube_auth *a);
/* Sets TLS and authentication options on easy (headers appended to *hdrs). */
void kube_auth_apply(const struct kube_auth *a, CURL *easy, struct curl_slist **hdrs);
void kube_auth_release(struct kube_auth *a);

#endif
