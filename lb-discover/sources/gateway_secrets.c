/* gateway_secrets: Secrets watched per namespace (see gateway_secrets.h). */
#include "sources/gateway_secrets.h"

#include <stdio.h>
#include <string.h>

#include "log.h"

void gateway_secrets_init(struct gateway_secrets *s, struct kube *kube, double watch_timeout,
			  void (*changed)(void *data), void *data)
{
	memset(s, 0, sizeof(*s));
	s->kube = kube;
	s->watch_timeout = watch_timeout;
	s->changed = changed;
	s->data = data;
}

static void on_objects(void *data, json_t *objects)
{
	struct gateway_secrets_ns *w = data;

	if (w->objects != objects) {
		json_decref(w->objects);
		w->objects = json_incref(objects);
	}
	w->s->changed(w->s->data);
}

/* The watch of namespace ns, started when new; NULL when none can be. */
static struct gateway_secrets_ns *namespace_watch(struct gateway_secrets *s, const char *ns)
{
	struct kube_watch_options wo = { 0 };
	struct gateway_secrets_ns *w;
	char path[512], grant[600];

	for (unsigned i = 0; i < s->n; i++)
		if (strcmp(s->list[i].ns, ns) == 0)
			return &s->list[i];
	if (s->n == GATEWAY_SECRETS_NAMESPACES) {
		log_warn("gateway: too many namespaces of certificate Secrets", "namespace=%s max=%d",
			 ns, GATEWAY_SECRETS_NAMESPACES);
		return NULL;
	}
	w = &s->list[s->n];
	snprintf(path, sizeof(path), "/api/v1/namespaces/%s/secrets", ns);
	snprintf(grant, sizeof(grant), "get/list/watch on secrets in namespace %s", ns);
	wo.what = "secrets";
	wo.path = path;
	wo.query = "";
	wo.grant = grant;
	wo.timeout = s->watch_timeout;
	w->s = s;
	w->objects = NULL;
	w->watch = kube_watch_start(s->kube, &wo, on_objects, w);
	if (!w->watch)
		return NULL;
	snprintf(w->ns, sizeof(w->ns), "%s", ns);
	s->n++;
	return w;
}

json_t *gateway_secrets_lookup(void *ctx, const char *ns, const char *name)
{
	struct gateway_secrets *s = ctx;
	struct gateway_secrets_ns *w = namespace_watch(s, ns);

	if (!w)
		return NULL;
	if (!kube_watch_listed(w->watch) && !kube_watch_error(w->watch)[0]) {
		s->pending = 1;
		return NULL;
	}
	return w->objects ? json_object_get(w->objects, name) : NULL;
}

void gateway_secrets_release(struct gateway_secrets *s)
{
	for (unsigned i = 0; i < s->n; i++) {
		kube_watch_stop(s->list[i].watch);
		json_decref(s->list[i].objects);
	}
	s->n = 0;
}
