/* gateway_ref: backendRef resolution, with the ReferenceGrant (v1beta1) check
 * of the Gateway API. */
#include "gateway_ref.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>

#define API_GROUP "gateway.networking.k8s.io"

static const char *str(json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

int gateway_ref_granted(const struct gateway_docs *docs, const char *route_kind,
		   const char *route_namespace,
		   const char *namespace, const char *kind, const char *name)
{
	for (unsigned i = 0; i < docs->n; i++) {
		json_t *d = docs->docs[i].json, *spec = json_object_get(d, "spec"), *e;
		const char *api = str(d, "apiVersion"), *k = str(d, "kind");
		const char *grant_namespace = str(json_object_get(d, "metadata"), "namespace");
		int from = 0, to = 0;
		size_t j;

		if (!api || strncmp(api, API_GROUP "/", strlen(API_GROUP) + 1) != 0 || !k ||
		    strcmp(k, "ReferenceGrant") != 0 ||
		    strcmp(grant_namespace ? grant_namespace : "default", namespace) != 0)
			continue;
		json_array_foreach(json_object_get(spec, "from"), j, e) {
			const char *g = str(e, "group"), *fk = str(e, "kind"), *n = str(e, "namespace");

			from |= g && fk && n && strcmp(g, API_GROUP) == 0 &&
				strcmp(fk, route_kind) == 0 && strcmp(n, route_namespace) == 0;
		}
		json_array_foreach(json_object_get(spec, "to"), j, e) {
			const char *g = str(e, "group"), *tk = str(e, "kind"), *n = str(e, "name");

			to |= tk && strcmp(g ? g : "", "") == 0 && strcmp(tk, kind) == 0 &&
			      (!n || strcmp(n, name) == 0);
		}
		if (from && to)
			return 1;
	}
	return 0;
}

int gateway_ref_proxy_protocol(json_t *object)
{
	json_t *v = json_object_get(json_object_get(json_object_get(object, "metadata"),
						    "annotations"),
				    GATEWAY_PROXY_PROTOCOL_ANNOTATION);

	if (!v)
		return 0;
	return json_is_string(v) && strcmp(json_string_value(v), GATEWAY_PROXY_PROTOCOL_V2) == 0
		       ? GATEWAY_SERVICE_PROXY_V2 : -1;
}

const char GATEWAY_REASON_UNSUPPORTED_PROTOCOL[] = "UnsupportedProtocol";

const char *gateway_ref_resolve(const struct gateway_docs *docs, const char *route_kind,
				const char *route_namespace,
				const char *group, const char *kind, const char *namespace,
				const char *name, int port, gateway_service_fn exists,
				void *exists_ctx, char *why, size_t size, int *flags)
{
	int found = GATEWAY_SERVICE_EXISTS;

	if (group[0] || strcmp(kind, "Service") != 0) {
		snprintf(why, size, "%s%s%s is not a supported kind", group, group[0] ? "/" : "",
			 kind);
		return "InvalidKind";
	}
	if (strcmp(namespace, route_namespace) != 0 &&
	    !gateway_ref_granted(docs, route_kind, route_namespace, namespace, kind, name)) {
		snprintf(why, size, "no ReferenceGrant in namespace %s lets this route refer to %s",
			 namespace, name);
		return "RefNotPermitted";
	}
	if (port <= 0) {
		snprintf(why, size, "a Service backendRef needs a \"port\"");
		return "BackendNotFound";
	}
	if (exists && !(found = exists(exists_ctx, namespace, name, (uint16_t)port))) {
		snprintf(why, size, "service %s/%s has no port %d", namespace, name, port);
		return "BackendNotFound";
	}
	if (flags)
		*flags = found;
	if (found & GATEWAY_SERVICE_UNSUPPORTED_PROTOCOL) {
		snprintf(why, size, "service %s/%s port %d: its appProtocol is not one lb speaks "
			 "(kubernetes.io/h2c, kubernetes.io/ws, kubernetes.io/wss, http, http2, "
			 "grpc): served with the proxies' --backend-protocol", namespace, name, port);
		return GATEWAY_REASON_UNSUPPORTED_PROTOCOL;
	}
	return NULL;
}
