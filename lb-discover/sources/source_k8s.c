/* source_k8s: backends from the Kubernetes API: the service's EndpointSlices
 * (or core/v1 Endpoints), listed and watched by kube_watch, made a list. */
#include <curl/curl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kube/kube_watch.h"
#include "log.h"
#include "source.h"

struct source_k8s {
	char port[64];
	int use_endpoints;
	struct kube_watch *watch;
	source_update_cb cb;
	void *data;
};

/* ---- from objects to backends -------------------------------------------- */

static int port_matches(const struct source_k8s *k, json_t *p)
{
	const char *name = json_string_value(json_object_get(p, "name"));
	char *end;
	long n;

	if (!k->port[0])
		return 1;
	n = strtol(k->port, &end, 10);
	if (!*end)
		return json_integer_value(json_object_get(p, "port")) == n;
	return name && strcmp(name, k->port) == 0;
}

static long pick_port(const struct source_k8s *k, json_t *ports)
{
	json_t *p;
	size_t i;

	json_array_foreach(ports, i, p)
		if (port_matches(k, p))
			return (long)json_integer_value(json_object_get(p, "port"));
	return 0;
}

static void add(struct bus_backend **list, size_t *n, const char *ip, long port,
		enum bus_state state, const char *reason)
{
	char addr[BUS_ADDRESS_MAX];
	struct bus_backend *grown;

	snprintf(addr, sizeof(addr), strchr(ip, ':') ? "[%s]:%ld" : "%s:%ld", ip, port);
	for (size_t i = 0; i < *n; i++) {
		if (strcmp((*list)[i].address, addr) == 0) {
			/* in two slices (moving between them): the better state wins */
			if (state < (*list)[i].state) {
				(*list)[i].state = state;
				snprintf((*list)[i].reason, sizeof((*list)[i].reason), "%s", reason);
			}
			return;
		}
	}
	grown = realloc(*list, (*n + 1) * sizeof(*grown));
	if (!grown)
		return;
	*list = grown;
	memset(&grown[*n], 0, sizeof(grown[*n]));
	snprintf(grown[*n].address, sizeof(grown[*n].address), "%s", addr);
	grown[*n].weight = 1;
	grown[*n].state = state;
	snprintf(grown[*n].reason, sizeof(grown[*n].reason), "%s", reason);
	(*n)++;
}

/* Missing conditions mean ready and serving, not terminating. */
static int condition(json_t *conds, const char *name, int dflt)
{
	json_t *v = json_object_get(conds, name);

	return json_is_boolean(v) ? json_is_true(v) : dflt;
}

void source_k8s_slice_backends(json_t *slice, const char *port, struct bus_backend **list,
			       size_t *n)
{
	struct source_k8s k = { .port = "" };
	long number;
	size_t i;
	json_t *item;

	snprintf(k.port, sizeof(k.port), "%s", port ? port : "");
	number = pick_port(&k, json_object_get(slice, "ports"));
	if (!number)
		return;
	json_array_foreach(json_object_get(slice, "endpoints"), i, item) {
		json_t *conds = json_object_get(item, "conditions");
		const char *ip = json_string_value(json_array_get(json_object_get(item, "addresses"),
								  0));
		int ready = condition(conds, "ready", 1);
		int serving = condition(conds, "serving", ready);
		int terminating = condition(conds, "terminating", 0);

		if (!ip)
			continue;
		if (ready && !terminating)
			add(list, n, ip, number, BUS_STATE_UP, "");
		else if (serving && terminating)
			add(list, n, ip, number, BUS_STATE_DRAINING, "terminating");
		else if (serving)
			add(list, n, ip, number, BUS_STATE_UP, "");
		else
			add(list, n, ip, number, BUS_STATE_DOWN,
			    terminating ? "terminating" : "not ready");
	}
}

static void publish(void *data, json_t *objects)
{
	struct source_k8s *k = data;
	struct bus_backend *list = NULL;
	size_t n = 0;
	const char *name;
	json_t *obj;

	json_object_foreach(objects, name, obj) {
		size_t i, j;
		json_t *item, *sub;

		if (k->use_endpoints) {
			json_array_foreach(json_object_get(obj, "subsets"), i, sub) {
				long port = pick_port(k, json_object_get(sub, "ports"));

				if (!port)
					continue;
				json_array_foreach(json_object_get(sub, "addresses"), j, item)
					add(&list, &n, json_string_value(json_object_get(item, "ip")), port,
					    BUS_STATE_UP, "");
				json_array_foreach(json_object_get(sub, "notReadyAddresses"), j, item)
					add(&list, &n, json_string_value(json_object_get(item, "ip")), port,
					    BUS_STATE_DOWN, "not ready");
			}
			continue;
		}
		source_k8s_slice_backends(obj, k->port, &list, &n);
	}
	k->cb(k->data, list, n);
	free(list);
}

struct source_k8s *source_k8s_start(struct kube *kube, const struct source_k8s_options *o,
				    source_update_cb cb, void *data, char *err, size_t errsz)
{
	struct source_k8s *k = calloc(1, sizeof(*k));
	struct kube_watch_options wo = { 0 };
	char path[512], query[512], *esc;

	if (!k || !(esc = curl_easy_escape(NULL, o->service, 0))) {
		free(k);
		snprintf(err, errsz, "out of memory");
		return NULL;
	}
	k->cb = cb;
	k->data = data;
	k->use_endpoints = o->use_endpoints;
	snprintf(k->port, sizeof(k->port), "%s", o->port ? o->port : "");
	if (o->use_endpoints) {
		snprintf(path, sizeof(path), "/api/v1/namespaces/%s/endpoints", kube->namespace);
		snprintf(query, sizeof(query), "fieldSelector=metadata.name%%3D%s", esc);
		wo.what = "endpoints";
		wo.grant = "get/list/watch on endpoints (core)";
	} else {
		snprintf(path, sizeof(path), "/apis/discovery.k8s.io/v1/namespaces/%s/endpointslices",
			 kube->namespace);
		snprintf(query, sizeof(query), "labelSelector=kubernetes.io%%2Fservice-name%%3D%s",
			 esc);
		wo.what = "endpointslices";
		wo.grant = "get/list/watch on discovery.k8s.io endpointslices";
	}
	curl_free(esc);
	wo.path = path;
	wo.query = query;
	wo.timeout = o->watch_timeout;
	log_info("kubernetes", "service=%s namespace=%s api=%s via=\"%s\"", o->service,
		 kube->namespace, wo.what, kube->auth.source);
	k->watch = kube_watch_start(kube, &wo, publish, k);
	if (!k->watch) {
		free(k);
		snprintf(err, errsz, "out of memory");
		return NULL;
	}
	return k;
}

void source_k8s_stop(struct source_k8s *k)
{
	if (!k)
		return;
	kube_watch_stop(k->watch);
	free(k);
}
