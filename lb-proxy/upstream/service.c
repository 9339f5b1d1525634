/* service: a routed Service's set and balancer (see service.h). */
#include "upstream/service.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

struct service *service_new(const char *name, const struct balance_ops *ops)
{
	struct service *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	snprintf(s->name, sizeof(s->name), "%s", name);
	s->refs = 1;
	s->protocol = -1;
	if (balancer_rebuild(&s->balancer, ops, &s->set) == -1) {
		free(s);
		return NULL;
	}
	return s;
}

void service_ref(struct service *s)
{
	s->refs++;
}

void service_unref(struct service *s)
{
	if (!s || --s->refs)
		return;
	balancer_release(&s->balancer);
	backend_set_release(&s->set);
	free(s);
}

void service_apply(struct service *s, struct backend_set *next, const struct balance_ops *ops,
		   double now)
{
	for (size_t i = 0; i < next->n; i++)
		snprintf(next->items[i]->service, sizeof(next->items[i]->service), "%s", s->name);
	backend_set_apply(&s->set, next, s->set.generation ? now : 0);
	if (balancer_rebuild(&s->balancer, ops ? ops : s->balancer.ops, &s->set) == -1)
		log_error("service balancer not rebuilt: out of memory, balancing over the last "
			  "set's state", "service=%s", s->name);
}
