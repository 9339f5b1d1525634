/* route_json: a route table as JSON (see route_json.h). */
#include "route_json.h"

#include <string.h>

static void str(struct buf *b, const char *s)
{
	if (!s) {
		buf_append_str(b, "null");
		return;
	}
	buf_append_str(b, "\"");
	buf_append_json_escaped(b, s, strlen(s));
	buf_append_str(b, "\"");
}

static void conditions(struct buf *b, const struct route_condition *c, unsigned n)
{
	buf_append_str(b, "[");
	for (unsigned i = 0; i < n; i++) {
		buf_appendf(b, "%s{\"type\":\"%s\",\"name\":", i ? "," : "",
			    route_value_type_names[c[i].type]);
		str(b, c[i].name);
		buf_append_str(b, ",\"value\":");
		str(b, c[i].value);
		buf_append_str(b, "}");
	}
	buf_append_str(b, "]");
}

static void matches(struct buf *b, const struct route_rule *r)
{
	buf_append_str(b, "\"matches\":[");
	for (unsigned i = 0; i < r->n_matches; i++) {
		const struct route_match *m = &r->matches[i];

		buf_appendf(b, "%s{\"path\":{\"type\":\"%s\",\"value\":", i ? "," : "",
			    route_path_type_names[m->path_type]);
		str(b, m->path);
		buf_append_str(b, "},\"method\":");
		str(b, m->method);
		buf_append_str(b, ",\"headers\":");
		conditions(b, m->headers, m->n_headers);
		buf_append_str(b, ",\"queryParams\":");
		conditions(b, m->query, m->n_query);
		buf_append_str(b, "}");
	}
	buf_append_str(b, "]");
}

/* The filters' kinds, as the Gateway API names them. */
static void filters(struct buf *b, const struct route_rule *r)
{
	const char *kinds[6];
	unsigned n = 0;

	if (r->request_headers.n_set || r->request_headers.n_add || r->request_headers.n_remove)
		kinds[n++] = "RequestHeaderModifier";
	if (r->response_headers.n_set || r->response_headers.n_add ||
	    r->response_headers.n_remove)
		kinds[n++] = "ResponseHeaderModifier";
	if (r->redirect)
		kinds[n++] = "RequestRedirect";
	if (r->rewrite)
		kinds[n++] = "URLRewrite";
	if (r->n_mirrors)
		kinds[n++] = "RequestMirror";
	buf_append_str(b, "\"filters\":[");
	for (unsigned i = 0; i < n; i++)
		buf_appendf(b, "%s\"%s\"", i ? "," : "", kinds[i]);
	buf_append_str(b, "]");
	if (r->redirect)
		buf_appendf(b, ",\"redirect_status\":%d", r->redirect->status);
	if (r->timeout_request_ms || r->timeout_backend_ms)
		buf_appendf(b, ",\"timeouts\":{\"request_ms\":%u,\"backend_request_ms\":%u}",
			    r->timeout_request_ms, r->timeout_backend_ms);
}

static void backends(struct buf *b, const struct route_rule *r)
{
	buf_append_str(b, "\"backendRefs\":[");
	for (unsigned i = 0; i < r->n_backends; i++) {
		const struct route_backend *be = &r->backends[i];

		buf_appendf(b, "%s{\"service\":\"", i ? "," : "");
		buf_append_json_escaped(b, be->namespace, strlen(be->namespace));
		buf_append_str(b, "/");
		buf_append_json_escaped(b, be->name, strlen(be->name));
		buf_appendf(b, ":%u\",\"weight\":%u,\"resolved\":%s}", be->port, be->weight,
			    be->resolved ? "true" : "false");
	}
	buf_append_str(b, "]");
}

static void listeners(struct buf *b, const struct route_table *t)
{
	buf_append_str(b, "\"listeners\":[");
	for (unsigned i = 0; i < t->n_listeners; i++) {
		const struct route_listener *l = &t->listeners[i];

		buf_appendf(b, "%s{\"name\":", i ? "," : "");
		str(b, l->name);
		buf_appendf(b, ",\"port\":%u,\"protocol\":\"%s\",\"hostname\":", l->port,
			    route_protocol_name(l->protocol));
		str(b, l->hostname);
		buf_append_str(b, ",\"hostnames\":[");
		for (unsigned j = 0; j < l->n_vhosts; j++) {
			if (j)
				buf_append_str(b, ",");
			str(b, l->vhosts[j].hostname);
		}
		buf_append_str(b, "]}");
	}
	buf_append_str(b, "]");
}

int route_json_table(const struct route_table *t, const unsigned long long *hits,
		     struct buf *out)
{
	size_t before = out->len;
	const char *route = NULL;

	listeners(out, t);
	buf_append_str(out, ",\"routes\":[");
	for (unsigned i = 0; i < t->n_rules; i++) {
		const struct route_rule *r = &t->rules[i];
		int first = !route || strcmp(route, r->route) != 0;

		if (first) {
			buf_append_str(out, route ? "]},{\"name\":" : "{\"name\":");
			str(out, r->route);
			buf_append_str(out, ",\"rules\":[");
			route = r->route;
		}
		buf_appendf(out, "%s{\"rule\":%u,", first ? "" : ",", r->index);
		matches(out, r);
		buf_append_str(out, ",");
		filters(out, r);
		buf_append_str(out, ",");
		backends(out, r);
		if (hits)
			buf_appendf(out, ",\"hits\":%llu", hits[i]);
		buf_append_str(out, "}");
	}
	buf_append_str(out, route ? "]}]" : "]");
	/* buf_append* fail only for memory: the JSON ends where it should */
	return out->len > before && out->data[out->len - 1] == ']' ? 0 : -1;
}
