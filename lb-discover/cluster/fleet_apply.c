/* fleet_apply: the shared state's document operations (see fleet_apply.h). */
#include "fleet_apply.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/state.h"

static json_t *find_item(json_t *list, const char *address, size_t *at)
{
	size_t i;
	json_t *item;

	json_array_foreach(list, i, item) {
		if (strcmp(json_string_value(json_object_get(item, "address")) ?: "", address) == 0) {
			*at = i;
			return item;
		}
	}
	return NULL;
}

/* 1 when the item still says something (else it leaves the document). */
static int item_meaningful(json_t *item)
{
	return json_is_true(json_object_get(item, "added")) ||
	       json_is_true(json_object_get(item, "removed")) ||
	       json_is_true(json_object_get(item, "drained")) ||
	       json_object_get(item, "weight") || json_object_get(item, "ejection");
}

/* fleet_apply_op on one service's section ({"backends": [...]}). */
static int apply_op(json_t *doc, const struct fleet_op *op)
{
	json_t *list = json_object_get(doc, "backends"), *item, *old;
	size_t at = 0;

	if (!json_is_array(list)) {
		list = json_array();
		if (!list || json_object_set_new(doc, "backends", list) == -1)
			return -1;
	}
	item = find_item(list, op->address, &at);
	if (!item) {
		if (op->verb == FLEET_FORGET || op->verb == FLEET_UNEJECT || op->verb == FLEET_UNDRAIN)
			return 0;
		item = json_pack("{s:s,s:b,s:b,s:b}", "address", op->address, "added", 0, "removed",
				 0, "drained", 0);
		if (!item || json_array_append_new(list, item) == -1)
			return -1;
		at = json_array_size(list) - 1;
	}
	switch (op->verb) {
	case FLEET_DRAIN:
	case FLEET_UNDRAIN:
		json_object_set_new(item, "drained", json_boolean(op->verb == FLEET_DRAIN));
		break;
	case FLEET_ADD:
		json_object_set_new(item, "added", json_true());
		json_object_set_new(item, "removed", json_false());
		if (op->weight)
			json_object_set_new(item, "weight", json_integer(op->weight));
		break;
	case FLEET_REMOVE:
		json_object_set_new(item, "removed", json_true());
		json_object_set_new(item, "added", json_false());
		break;
	case FLEET_WEIGHT:
		json_object_set_new(item, "weight", json_integer(op->weight));
		break;
	case FLEET_UNEJECT:
		json_object_del(item, "ejection");
		break;
	case FLEET_EJECT:
		old = json_object_get(item, "ejection");
		/* two replicas ejecting at once: the one of the higher count (a
		 * failed trial's) wins, else the first written */
		if (old && json_integer_value(json_object_get(old, "count")) >= (json_int_t)op->count)
			break;
		json_object_set_new(item, "ejection", json_pack("{s:s,s:f,s:i}", "reason", op->reason,
				    "until", op->until, "count", (int)op->count));
		break;
	case FLEET_FORGET:
		json_array_remove(list, at);
		return 0;
	}
	json_object_del(item, "left");	/* each replica times that itself */
	if (!item_meaningful(item))
		json_array_remove(list, at);
	return 0;
}

int fleet_apply_op(json_t *doc, const struct fleet_op *op)
{
	json_t *services, *section;
	int rc;

	if (!op->service[0])
		return apply_op(doc, op);
	/* a routed Service's backend: its own section, keyed by its name */
	services = json_object_get(doc, "services");
	if (!json_is_object(services)) {
		services = json_object();
		if (!services || json_object_set_new(doc, "services", services) == -1)
			return -1;
	}
	section = json_object_get(services, op->service);
	if (!json_is_object(section)) {
		section = json_object();
		if (!section || json_object_set_new(services, op->service, section) == -1)
			return -1;
	}
	rc = apply_op(section, op);
	if (json_array_size(json_object_get(section, "backends")) == 0)
		json_object_del(services, op->service);
	if (json_object_size(services) == 0)
		json_object_del(doc, "services");
	return rc;
}

int fleet_apply_document(struct registry *r, json_t *doc, double now, char *err, size_t errsz)
{
	unsigned long long generation;
	size_t n = 0;
	struct state_override *ov = state_parse(r, doc, 0, &generation, &n, err, errsz);
	unsigned char *listed;

	if (!ov)
		return -1;
	for (size_t i = 0; i < n; i++)
		if (!registry_get(r, ov[i].address)) {
			snprintf(err, errsz, "out of memory");
			free(ov);
			return -1;
		}
	listed = calloc(r->n ? r->n : 1, 1);
	if (!listed) {
		snprintf(err, errsz, "out of memory");
		free(ov);
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		struct entry *e = registry_find(r, ov[i].address);

		listed[e - r->entries] = 1;
		e->added = ov[i].added;
		e->removed = ov[i].removed;
		e->drained = ov[i].drained;
		e->weight_override = ov[i].weight;
		if (ov[i].ejected && (!e->ejected || e->eject_until != ov[i].eject_until ||
				      e->ejections != ov[i].ejections)) {
			e->ejected = 1;
			e->eject_until = ov[i].eject_until;
			e->ejections = ov[i].ejections;
			e->eject_generation = r->generation + 1;	/* the next commit's */
			snprintf(e->eject_reason, sizeof(e->eject_reason), "%s", ov[i].eject_reason);
		} else if (!ov[i].ejected && e->ejected) {
			e->ejected = 0;
			e->eject_ended = now;
		}
	}
	for (size_t i = 0; i < r->n; i++) {
		struct entry *e = &r->entries[i];

		if (listed[i])
			continue;
		e->added = e->removed = e->drained = 0;
		e->weight_override = 0;
		if (e->ejected) {
			e->ejected = 0;
			e->eject_ended = now;
		}
	}
	free(listed);
	free(ov);
	return 0;
}
