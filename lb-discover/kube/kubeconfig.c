/* kubeconfig: how lb-discover reaches the Kubernetes API. */
#include "kubeconfig.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <yaml.h>

#include "buf.h"

/* Reads a whole small file; returns malloc'd bytes (NUL-terminated) or NULL. */
static char *read_file(const char *path, size_t *len)
{
	struct buf b = BUF_INIT;

	if (buf_read_file(&b, path) == -1) {
		int saved = errno;

		buf_release(&b);
		errno = saved;
		return NULL;
	}
	if (len)
		*len = b.len;
	return b.data;
}

static void trim(char *s)
{
	size_t n = strlen(s);

	while (n && (s[n - 1] == '\n' || s[n - 1] == '\r' || s[n - 1] == ' '))
		s[--n] = '\0';
}

/* Standard base64 (kubeconfig's *-data fields); malloc'd, or NULL. */
static char *base64_decode(const char *in, size_t *out_len)
{
	static const char alphabet[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t n = strlen(in), o = 0;
	char *out = malloc(n / 4 * 3 + 4);
	unsigned acc = 0;
	int bits = 0;

	if (!out)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		const char *p;

		if (in[i] == '=' || in[i] == '\n' || in[i] == '\r' || in[i] == ' ')
			continue;
		p = strchr(alphabet, in[i]);
		if (!p || !*p) {
			free(out);
			return NULL;
		}
		acc = acc << 6 | (unsigned)(p - alphabet);
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[o++] = (char)(acc >> bits & 0xff);
		}
	}
	out[o] = '\0';
	*out_len = o;
	return out;
}

/* libyaml events into a jansson tree (scalars as strings). */
static json_t *yaml_node(yaml_parser_t *p, yaml_event_t *first, char *err, size_t errsz)
{
	json_t *node = NULL;

	switch (first->type) {
	case YAML_SCALAR_EVENT:
		return json_stringn((const char *)first->data.scalar.value, first->data.scalar.length);
	case YAML_SEQUENCE_START_EVENT:
		node = json_array();
		break;
	case YAML_MAPPING_START_EVENT:
		node = json_object();
		break;
	case YAML_ALIAS_EVENT:
		snprintf(err, errsz, "line %zu: YAML aliases are not supported",
			 first->start_mark.line + 1);
		return NULL;
	default:
		snprintf(err, errsz, "line %zu: unexpected YAML", first->start_mark.line + 1);
		return NULL;
	}
	for (;;) {
		yaml_event_t ev, val;
		json_t *child;

		if (!yaml_parser_parse(p, &ev)) {
			snprintf(err, errsz, "line %zu: %s", p->problem_mark.line + 1,
				 p->problem ? p->problem : "bad YAML");
			json_decref(node);
			return NULL;
		}
		if (ev.type == YAML_SEQUENCE_END_EVENT || ev.type == YAML_MAPPING_END_EVENT) {
			yaml_event_delete(&ev);
			return node;
		}
		if (json_is_array(node)) {
			child = yaml_node(p, &ev, err, errsz);
			yaml_event_delete(&ev);
			if (!child) {
				json_decref(node);
				return NULL;
			}
			json_array_append_new(node, child);
			continue;
		}
		/* a mapping: ev is the key */
		if (ev.type != YAML_SCALAR_EVENT) {
			snprintf(err, errsz, "line %zu: only plain keys are supported",
				 ev.start_mark.line + 1);
			yaml_event_delete(&ev);
			json_decref(node);
			return NULL;
		}
		if (!yaml_parser_parse(p, &val)) {
			snprintf(err, errsz, "line %zu: %s", p->problem_mark.line + 1,
				 p->problem ? p->problem : "bad YAML");
			yaml_event_delete(&ev);
			json_decref(node);
			return NULL;
		}
		child = yaml_node(p, &val, err, errsz);
		yaml_event_delete(&val);
		if (!child) {
			yaml_event_delete(&ev);
			json_decref(node);
			return NULL;
		}
		json_object_setn_new(node, (const char *)ev.data.scalar.value, ev.data.scalar.length,
				     child);
		yaml_event_delete(&ev);
	}
}

static json_t *yaml_load(const char *text, size_t len, char *err, size_t errsz)
{
	yaml_parser_t p;
	yaml_event_t ev;
	json_t *root = NULL;

	yaml_parser_initialize(&p);
	yaml_parser_set_input_string(&p, (const unsigned char *)text, len);
	while (!root) {
		if (!yaml_parser_parse(&p, &ev)) {
			snprintf(err, errsz, "line %zu: %s", p.problem_mark.line + 1,
				 p.problem ? p.problem : "bad YAML");
			break;
		}
		if (ev.type == YAML_STREAM_END_EVENT) {
			yaml_event_delete(&ev);
			snprintf(err, errsz, "empty");
			break;
		}
		if (ev.type == YAML_MAPPING_START_EVENT || ev.type == YAML_SEQUENCE_START_EVENT ||
		    ev.type == YAML_SCALAR_EVENT) {
			root = yaml_node(&p, &ev, err, errsz);
			yaml_event_delete(&ev);
			if (!root)
				break;
		} else {
			yaml_event_delete(&ev);
		}
	}
	yaml_parser_delete(&p);
	return root;
}

/* The entry of list `key` whose "name" is `name`, its `field` object. */
static json_t *named(json_t *root, const char *key, const char *name, const char *field)
{
	json_t *list = json_object_get(root, key), *item;
	size_t i;

	json_array_foreach(list, i, item) {
		const char *n = json_string_value(json_object_get(item, "name"));

		if (n && name && strcmp(n, name) == 0)
			return json_object_get(item, field);
	}
	return NULL;
}

/* Data from "<field>-data" (base64) or from the file "<field>". */
static int pem_from(json_t *obj, const char *field, const char *dir, char **out, size_t *len,
		    char *err, size_t errsz)
{
	char key[64], path[1024];
	const char *data, *file;

	snprintf(key, sizeof(key), "%s-data", field);
	data = json_string_value(json_object_get(obj, key));
	file = json_string_value(json_object_get(obj, field));
	if (data) {
		*out = base64_decode(data, len);
		if (!*out) {
			snprintf(err, errsz, "%s is not valid base64", key);
			return -1;
		}
	} else if (file) {
		snprintf(path, sizeof(path), "%s%s", file[0] == '/' ? "" : dir, file);
		*out = read_file(path, len);
		if (!*out) {
			snprintf(err, errsz, "%s %.200s: %s", field, path, strerror(errno));
			return -1;
		}
	}
	return 0;
}

static int from_kubeconfig(struct kube_auth *a, const char *path, char *err, size_t errsz)
{
	size_t len;
	char *text = read_file(path, &len), dir[600], why[300];
	json_t *root, *cluster, *user;
	const char *ctx_name, *cluster_name = NULL, *user_name = NULL, *server, *ns;
	json_t *ctx;
	int rc = -1;

	if (!text) {
		snprintf(err, errsz, "kubeconfig %s: %s", path, strerror(errno));
		return -1;
	}
	root = yaml_load(text, len, why, sizeof(why));
	free(text);
	if (!json_is_object(root)) {
		snprintf(err, errsz, "kubeconfig %s: %s", path, root ? "not a mapping" : why);
		goto out;
	}
	snprintf(dir, sizeof(dir), "%s", path);
	{
		char *slash = strrchr(dir, '/');

		if (slash)
			slash[1] = '\0';
		else
			dir[0] = '\0';
	}
	ctx_name = json_string_value(json_object_get(root, "current-context"));
	ctx = named(root, "contexts", ctx_name, "context");
	if (!ctx) {
		snprintf(err, errsz, "kubeconfig %s: no current-context (or it is not in contexts)",
			 path);
		goto out;
	}
	cluster_name = json_string_value(json_object_get(ctx, "cluster"));
	user_name = json_string_value(json_object_get(ctx, "user"));
	ns = json_string_value(json_object_get(ctx, "namespace"));
	cluster = named(root, "clusters", cluster_name, "cluster");
	user = named(root, "users", user_name, "user");
	server = json_string_value(json_object_get(cluster, "server"));
	if (!server) {
		snprintf(err, errsz, "kubeconfig %s: cluster \"%s\" has no server", path,
			 cluster_name ? cluster_name : "");
		goto out;
	}
	snprintf(a->server, sizeof(a->server), "%s", server);
	if (ns)
		snprintf(a->namespace, sizeof(a->namespace), "%s", ns);
	{
		const char *insecure = json_string_value(json_object_get(cluster,
									 "insecure-skip-tls-verify"));

		a->insecure = insecure && strcmp(insecure, "true") == 0;
	}
	if (pem_from(cluster, "certificate-authority", dir, &a->ca, &a->ca_len, why,
		     sizeof(why)) == -1 ||
	    (user && pem_from(user, "client-certificate", dir, &a->cert, &a->cert_len, why,
			      sizeof(why)) == -1) ||
	    (user && pem_from(user, "client-key", dir, &a->key, &a->key_len, why,
			      sizeof(why)) == -1)) {
		snprintf(err, errsz, "kubeconfig %s: %s", path, why);
		goto out;
	}
	if (user && json_string_value(json_object_get(user, "token")))
		snprintf(a->token, sizeof(a->token), "%s",
			 json_string_value(json_object_get(user, "token")));
	if (user && json_string_value(json_object_get(user, "tokenFile")))
		snprintf(a->token_file, sizeof(a->token_file), "%s",
			 json_string_value(json_object_get(user, "tokenFile")));
	snprintf(a->source, sizeof(a->source), "kubeconfig %s (context %s)", path, ctx_name);
	rc = 0;
out:
	json_decref(root);
	return rc;
}

void kube_auth_refresh(struct kube_auth *a)
{
	char *t;

	if (!a->token_file[0] || !(t = read_file(a->token_file, NULL)))
		return;
	trim(t);
	snprintf(a->token, sizeof(a->token), "%s", t);
	free(t);
}

int kube_auth_resolve(struct kube_auth *a, const char *api_server, const char *kubeconfig,
		      const char *sa_dir, char *err, size_t errsz)
{
	const char *host = getenv("KUBERNETES_SERVICE_HOST"), *port = getenv("KUBERNETES_SERVICE_PORT");
	const char *env = getenv("KUBECONFIG"), *home = getenv("HOME");
	char path[1024], *ns;

	memset(a, 0, sizeof(*a));
	/* the service account's namespace, whatever the way in */
	snprintf(path, sizeof(path), "%s/namespace", sa_dir);
	if ((ns = read_file(path, NULL)) != NULL) {
		trim(ns);
		snprintf(a->namespace, sizeof(a->namespace), "%s", ns);
		free(ns);
	}
	if (api_server && *api_server) {
		snprintf(a->server, sizeof(a->server), "%s", api_server);
		snprintf(a->source, sizeof(a->source), "--api-server %s", api_server);
	} else if (kubeconfig && *kubeconfig) {
		return from_kubeconfig(a, kubeconfig, err, errsz);
	} else if (host && *host && port && *port) {
		snprintf(a->server, sizeof(a->server), strchr(host, ':') ? "https://[%s]:%s"
									 : "https://%s:%s", host, port);
		snprintf(a->token_file, sizeof(a->token_file), "%s/token", sa_dir);
		snprintf(a->ca_file, sizeof(a->ca_file), "%s/ca.crt", sa_dir);
		if (access(a->token_file, R_OK) == -1) {
			snprintf(err, errsz, "in-cluster: cannot read %s: %s (is a service account "
				 "mounted?)", a->token_file, strerror(errno));
			return -1;
		}
		kube_auth_refresh(a);
		snprintf(a->source, sizeof(a->source), "in-cluster (%s)", sa_dir);
	} else if (env && *env) {
		char first[1024];

		snprintf(first, sizeof(first), "%s", env);
		if (strchr(first, ':'))
			*strchr(first, ':') = '\0';	/* the first file of the list */
		return from_kubeconfig(a, first, err, errsz);
	} else if (home && *home) {
		snprintf(path, sizeof(path), "%s/.kube/config", home);
		if (access(path, R_OK) == 0)
			return from_kubeconfig(a, path, err, errsz);
		snprintf(err, errsz, "no Kubernetes API: not in a cluster, no --kubeconfig, $KUBECONFIG "
			 "or ~/.kube/config, no --api-server");
		return -1;
	} else {
		snprintf(err, errsz, "no Kubernetes API: give --kubeconfig or --api-server");
		return -1;
	}
	return 0;
}

void kube_auth_apply(const struct kube_auth *a, CURL *easy, struct curl_slist **hdrs)
{
	if (a->ca) {
		struct curl_blob blob = { a->ca, a->ca_len, CURL_BLOB_COPY };

		curl_easy_setopt(easy, CURLOPT_CAINFO_BLOB, &blob);
	} else if (a->ca_file[0]) {
		curl_easy_setopt(easy, CURLOPT_CAINFO, a->ca_file);
	}
	if (a->cert && a->key) {
		struct curl_blob cert = { a->cert, a->cert_len, CURL_BLOB_COPY };
		struct curl_blob key = { a->key, a->key_len, CURL_BLOB_COPY };

		curl_easy_setopt(easy, CURLOPT_SSLCERT_BLOB, &cert);
		curl_easy_setopt(easy, CURLOPT_SSLCERTTYPE, "PEM");
		curl_easy_setopt(easy, CURLOPT_SSLKEY_BLOB, &key);
		curl_easy_setopt(easy, CURLOPT_SSLKEYTYPE, "PEM");
	}
	if (a->insecure) {
		curl_easy_setopt(easy, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(easy, CURLOPT_SSL_VERIFYHOST, 0L);
	}
	if (a->token[0]) {
		char h[8300];

		snprintf(h, sizeof(h), "Authorization: Bearer %s", a->token);
		*hdrs = curl_slist_append(*hdrs, h);
	}
}

void kube_auth_release(struct kube_auth *a)
{
	free(a->ca);
	free(a->cert);
	free(a->key);
	a->ca = a->cert = a->key = NULL;
}
