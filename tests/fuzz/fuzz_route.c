/* libFuzzer target for common/gateway*.c, route.c, route_stream.c and route_codec.c: any
 * bytes as Gateway API documents (YAML or JSON) through the loader, the
 * compiler of the first Gateway among them, the codec and the matcher; and
 * the same bytes as a route table for the decoder. Invariants: no crash, no
 * leak, and decode(encode(t)) encodes to encode(t). */
#include <assert.h>
#include <ctype.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "gateway.h"
#include "gateway_tls.h"
#include "host_index.h"
#include "route.h"
#include "route_codec.h"
#include "route_codec_decode.h"
#include "route_stream.h"

/* The codec round trip of t: encode, decode, encode again, same bytes. */
static void round_trip(const struct route_table *t)
{
	struct buf a = BUF_INIT, b = BUF_INIT;
	struct route_table *again = NULL;
	char err[256];

	assert(route_codec_encode(t, &a) == 0);
	if (a.len <= ROUTE_CODEC_MAX) {
		assert(route_codec_decode(a.data, a.len, &again, err, sizeof(err)) == 0);
		assert(route_codec_encode(again, &b) == 0);
		assert(a.len == b.len && memcmp(a.data, b.data, a.len) == 0);
	}
	route_table_free(again);
	buf_release(&a);
	buf_release(&b);
}

static const char *no_headers(void *ctx, const char *name, size_t *len)
{
	(void)ctx;
	(void)name;
	*len = 0;
	return strcmp(name, "accept-encoding") == 0 ? "gzip" : NULL;
}

/* A connection to a TLS or TCP listener, with each virtual host's name as
 * its SNI (and none): the rule and a backendRef by weight. */
static void exercise_stream(const struct route_table *t, const struct route_listener *rl)
{
	struct route_result out;

	if (route_stream_protocol(t, rl->port) == -1)
		return;
	for (unsigned v = 0; v <= rl->n_vhosts && v < 8; v++) {
		const char *name = v < rl->n_vhosts ? rl->vhosts[v].hostname : NULL;
		char sni[300];

		if (name)
			snprintf(sni, sizeof(sni), "%s%s", name[0] == '*' ? "a" : "",
				 name[0] == '*' ? name + 1 : name);
		if (route_stream_match(t, rl->port, name ? sni : NULL, &out) == 0)
			route_pick_backend(out.rule, 0x7f4a7c15u);
	}
}

/* A few requests at every listener, for every virtual host's name; what
 * matches gets its redirect or rewrite computed. */
static void exercise(const struct route_table *t)
{
	static const char *const targets[] = { "/", "/api/x?lang=en&a=b", "/static/a.css", "" };

	for (unsigned l = 0; l < t->n_listeners; l++) {
		const struct route_listener *rl = &t->listeners[l];

		exercise_stream(t, rl);
		for (unsigned v = 0; v <= rl->n_vhosts && v < 8; v++) {
			char host[300];
			const char *name = v < rl->n_vhosts ? rl->vhosts[v].hostname : "x.example";

			snprintf(host, sizeof(host), "%s%s:1", name[0] == '*' ? "a" : "",
				 name[0] == '*' ? name + 1 : name);
			for (const char *const *target = targets; **target; target++) {
				const char *q = strchr(*target, '?');
				struct route_request req = {
					.host = host, .method = "GET", .path = *target,
					.path_len = q ? (size_t)(q - *target) : strlen(*target),
					.query = q ? q + 1 : NULL, .query_len = q ? strlen(q + 1) : 0,
					.header = no_headers,
				};
				struct route_result out;
				char location[2048];

				if (route_match(t, rl->port, &req, &out) == -1)
					continue;
				route_pick_backend(out.rule, 0x9e3779b9u);
				if (out.rule->redirect)
					route_redirect_location(out.rule->redirect, out.match, rl->port,
								"http", host, req.path, req.path_len,
								req.query, req.query_len, location,
								sizeof(location));
				if (out.rule->rewrite)
					route_rewrite_path(out.rule->rewrite->path_type,
							   out.rule->rewrite->path, out.match->path,
							   req.path, req.path_len, location,
							   sizeof(location));
			}
		}
	}
}

/* The virtual host the scan picks (route_match's rule, written again here
 * as the reference): exact, the longest wildcard, then the first "*". */
static const struct route_vhost *scan(const struct route_listener *l, const char *host,
				      size_t len)
{
	const struct route_vhost *best = NULL;
	long best_score = -1;

	for (unsigned i = 0; i < l->n_vhosts; i++) {
		const char *p = l->vhosts[i].hostname;
		long score;

		if (!p || strcmp(p, "*") == 0)
			score = 0;
		else if (!host || !route_hostname_matches(p, host, len))
			score = -1;
		else
			score = (p[0] == '*' ? 1 : 100000) + (long)strlen(p);
		if (score > best_score) {
			best_score = score;
			best = &l->vhosts[i];
		}
	}
	return best;
}

/* The virtual host the index finds. */
static const struct route_vhost *found(const struct route_listener *l, const char *host)
{
	int v = host_index_find(l->index, host, host ? strlen(host) : 0);

	return v >= 0 ? &l->vhosts[v] : NULL;
}

/* The index finds what the scan finds, for every name, its wildcard's
 * hosts, upper case, a deeper name, no Host and an unknown one. */
static void check_index(struct route_table *t)
{
	if (route_table_index(t, 0) == -1)
		return;
	for (unsigned l = 0; l < t->n_listeners; l++) {
		const struct route_listener *rl = &t->listeners[l];

		if (!rl->index)
			continue;	/* no virtual hosts */
		for (unsigned v = 0; v <= rl->n_vhosts; v++) {
			const char *name = v < rl->n_vhosts ? rl->vhosts[v].hostname : "x.example";
			char hosts[4][300];

			snprintf(hosts[0], sizeof(hosts[0]), "%s", name);
			snprintf(hosts[1], sizeof(hosts[1]), "a%s", name[0] == '*' ? name + 1 : name);
			snprintf(hosts[2], sizeof(hosts[2]), "b.%s", hosts[1]);
			for (size_t i = 0; i < sizeof(hosts[3]); i++)
				hosts[3][i] = (char)toupper((unsigned char)hosts[2][i]);
			for (int h = 0; h < 4; h++)
				assert(found(rl, hosts[h]) == scan(rl, hosts[h], strlen(hosts[h])));
		}
		assert(found(rl, NULL) == scan(rl, NULL, 0));
	}
}

/* A Secret document of the input (gateway_secret_fn; ctx: the documents). */
static json_t *fuzz_secret(void *ctx, const char *ns, const char *name)
{
	const struct gateway_docs *docs = ctx;

	for (unsigned i = 0; i < docs->n; i++) {
		json_t *m = json_object_get(docs->docs[i].json, "metadata");
		const char *kind = json_string_value(json_object_get(docs->docs[i].json, "kind"));
		const char *n = json_string_value(json_object_get(m, "name"));
		const char *s = json_string_value(json_object_get(m, "namespace"));

		if (kind && n && strcmp(kind, "Secret") == 0 && strcmp(n, name) == 0 &&
		    strcmp(s ? s : "default", ns) == 0)
			return docs->docs[i].json;
	}
	return NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct gateway_docs docs = GATEWAY_DOCS_INIT;
	struct route_table *t = NULL;
	char err[256];

	/* the bytes as a table off the bus */
	if (route_codec_decode((const char *)data, size, &t, err, sizeof(err)) == 0) {
		round_trip(t);
		exercise(t);
		check_index(t);
		route_table_free(t);
	}
	if (gateway_load(&docs, "fuzz.yaml", (const char *)data, size, err, sizeof(err)) == -1)
		return 0;
	for (unsigned i = 0; i < docs.n; i++) {
		json_t *d = docs.docs[i].json, *meta = json_object_get(d, "metadata");
		const char *kind = json_string_value(json_object_get(d, "kind"));
		const char *ns = json_string_value(json_object_get(meta, "namespace"));
		const char *name = json_string_value(json_object_get(meta, "name"));
		struct gateway_result res;
		struct gateway_tls tls;

		if (!kind || strcmp(kind, "Gateway") != 0 || !name)
			continue;
		if (gateway_compile(&docs, ns && ns[0] ? ns : "default", name, NULL, NULL,
				    &res) == 0) {
			round_trip(res.table);
			exercise(res.table);
		}
		gateway_result_release(&res);
		/* the HTTPS listeners' certificateRefs: base64 and PEM of any bytes */
		if (gateway_tls_resolve(d, ns && ns[0] ? ns : "default", &docs, fuzz_secret, &docs,
					&tls) == 0) {
			for (unsigned j = 0; j < tls.n_certs; j++)
				assert(tls.certs[j].cert[tls.certs[j].cert_len] == '\0');
			gateway_tls_release(&tls);
		}
		break;
	}
	gateway_docs_release(&docs);
	return 0;
}
