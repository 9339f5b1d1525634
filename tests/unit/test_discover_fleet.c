/* Unit tests for lb-discover/cluster/fleet_apply.c: the shared state's operations on a
 * document (each idempotent, so a conflict's re-application gives what the
 * operator asked for) and a document applied to the registry. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster/fleet_apply.h"
#include "core/registry.h"
#include "discover_fixture.h"

static json_t *doc_of(const char *text)
{
	json_t *doc = json_loads(text, 0, NULL);

	assert_non_null(doc);
	return doc;
}

static char *dump(json_t *doc)
{
	return json_dumps(json_object_get(doc, "backends"), JSON_COMPACT | JSON_SORT_KEYS);
}

static struct fleet_op op(enum fleet_verb verb, const char *address, int weight)
{
	struct fleet_op o;

	memset(&o, 0, sizeof(o));
	o.verb = verb;
	o.weight = weight;
	snprintf(o.address, sizeof(o.address), "%s", address);
	return o;
}

static void test_operations(void **state)
{
	static const struct {
		const char *before;	/* the "backends" list */
		enum fleet_verb verb;
		int weight;
		const char *after;
	} cases[] = {
		{ "[]", FLEET_DRAIN, 0,
		  "[{\"added\":false,\"address\":\"10.0.0.1:80\",\"drained\":true,\"removed\":false}]" },
		/* the same again (a conflict's re-application): the same document */
		{ "[{\"address\":\"10.0.0.1:80\",\"drained\":true}]", FLEET_DRAIN, 0,
		  "[{\"address\":\"10.0.0.1:80\",\"drained\":true}]" },
		/* an item that says nothing any more leaves the document */
		{ "[{\"address\":\"10.0.0.1:80\",\"drained\":true}]", FLEET_UNDRAIN, 0, "[]" },
		{ "[]", FLEET_UNDRAIN, 0, "[]" },
		{ "[{\"address\":\"10.0.0.1:80\",\"drained\":true}]", FLEET_WEIGHT, 7,
		  "[{\"address\":\"10.0.0.1:80\",\"drained\":true,\"weight\":7}]" },
		{ "[{\"address\":\"10.0.0.1:80\",\"removed\":true}]", FLEET_ADD, 3,
		  "[{\"added\":true,\"address\":\"10.0.0.1:80\",\"removed\":false,\"weight\":3}]" },
		{ "[{\"address\":\"10.0.0.1:80\",\"added\":true}]", FLEET_REMOVE, 0,
		  "[{\"added\":false,\"address\":\"10.0.0.1:80\",\"removed\":true}]" },
		/* another backend's item is left as it is */
		{ "[{\"address\":\"10.0.0.2:80\",\"weight\":2}]", FLEET_FORGET, 0,
		  "[{\"address\":\"10.0.0.2:80\",\"weight\":2}]" },
		{ "[{\"address\":\"10.0.0.1:80\",\"weight\":2,\"left\":5.0}]", FLEET_FORGET, 0, "[]" },
		/* "left" is each replica's own clock */
		{ "[{\"address\":\"10.0.0.1:80\",\"weight\":2,\"left\":5.0}]", FLEET_WEIGHT, 4,
		  "[{\"address\":\"10.0.0.1:80\",\"weight\":4}]" },
		{ "[{\"address\":\"10.0.0.1:80\",\"ejection\":{\"reason\":\"x\",\"until\":9.0,"
		  "\"count\":1}}]", FLEET_UNEJECT, 0, "[]" },
	};
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		json_t *doc = json_pack("{s:o}", "backends", doc_of(cases[i].before));
		struct fleet_op o = op(cases[i].verb, "10.0.0.1:80", cases[i].weight);
		char *got;

		assert_int_equal(fleet_apply_op(doc, &o), 0);
		got = dump(doc);
		if (strcmp(got, cases[i].after) != 0)
			fail_msg("case %zu: %s, expected %s", i, got, cases[i].after);
		free(got);
		json_decref(doc);
	}
}

/* Two replicas eject at once: the higher count (a failed trial's) wins,
 * else the one written first stays. */
static void test_ejections_race(void **state)
{
	json_t *doc = json_pack("{s:[]}", "backends");
	struct fleet_op first = op(FLEET_EJECT, "10.0.0.1:80", 0), second = first, again = first;
	json_t *e;

	(void)state;
	first.count = 1;
	first.until = 100;
	snprintf(first.reason, sizeof(first.reason), "outlier: a");
	second.count = 1;
	second.until = 101;
	snprintf(second.reason, sizeof(second.reason), "outlier: b");
	again.count = 2;
	again.until = 160;
	snprintf(again.reason, sizeof(again.reason), "outlier: trial failed");
	assert_int_equal(fleet_apply_op(doc, &first), 0);
	assert_int_equal(fleet_apply_op(doc, &second), 0);
	e = json_object_get(json_array_get(json_object_get(doc, "backends"), 0), "ejection");
	assert_string_equal(json_string_value(json_object_get(e, "reason")), "outlier: a");
	assert_int_equal(fleet_apply_op(doc, &again), 0);
	e = json_object_get(json_array_get(json_object_get(doc, "backends"), 0), "ejection");
	assert_string_equal(json_string_value(json_object_get(e, "reason")), "outlier: trial failed");
	assert_int_equal(json_integer_value(json_object_get(e, "count")), 2);
	json_decref(doc);
}

/* A routed Service's operation goes to its own section of the document,
 * keyed by its name, never to the main service's backends (the same address
 * in both is two backends); applied twice it changes nothing; a section left
 * empty goes away. */
static void test_routed_service_sections(void **state)
{
	json_t *doc = json_pack("{s:[]}", "backends"), *section;
	struct fleet_op drain = op(FLEET_DRAIN, "10.0.0.1:80", 0), undrain = drain;
	char *text;

	(void)state;
	snprintf(drain.service, sizeof(drain.service), "default/api:80");
	undrain = drain;
	undrain.verb = FLEET_UNDRAIN;
	assert_int_equal(fleet_apply_op(doc, &drain), 0);
	assert_int_equal(fleet_apply_op(doc, &drain), 0);
	assert_int_equal(json_array_size(json_object_get(doc, "backends")), 0);
	section = json_object_get(json_object_get(doc, "services"), "default/api:80");
	text = dump(section);
	assert_string_equal(text, "[{\"added\":false,\"address\":\"10.0.0.1:80\","
				  "\"drained\":true,\"removed\":false}]");
	free(text);
	assert_int_equal(fleet_apply_op(doc, &undrain), 0);
	assert_null(json_object_get(doc, "services"));
	json_decref(doc);
}

/* A document replaces the registry's overrides: what it names is set, what
 * it does not name is cleared; an invalid one changes nothing. */
static void test_document_replaces_overrides(void **state)
{
	struct registry r;
	struct entry *a, *b, *c;
	json_t *doc;
	char err[256];

	(void)state;
	discover_fixture_registry(&r, "backend");	/* 10.0.0.1:80, 10.0.0.2:80 */
	a = registry_find(&r, "10.0.0.1:80");
	a->drained = 1;
	a->ejected = 1;
	a->eject_until = 50;
	doc = doc_of("{\"service\":\"backend\",\"revision\":4,\"backends\":["
		     "{\"address\":\"10.0.0.2:80\",\"weight\":9,\"ejection\":{\"reason\":\"outlier\","
		     "\"until\":70.5,\"count\":2}},{\"address\":\"10.0.0.3:80\",\"added\":true}]}");
	assert_int_equal(fleet_apply_document(&r, doc, 60, err, sizeof(err)), 0);
	json_decref(doc);
	a = registry_find(&r, "10.0.0.1:80");
	b = registry_find(&r, "10.0.0.2:80");
	c = registry_find(&r, "10.0.0.3:80");
	assert_non_null(c);
	assert_false(a->drained);
	assert_false(a->ejected);
	assert_true(a->eject_ended == 60);
	assert_int_equal(b->weight_override, 9);
	assert_true(b->ejected);
	assert_true(b->eject_until == 70.5);
	assert_int_equal(b->ejections, 2);
	assert_string_equal(b->eject_reason, "outlier");
	assert_true(c->added && registry_published(c));
	/* invalid: named field and nothing changed */
	doc = doc_of("{\"service\":\"backend\",\"backends\":[{\"address\":\"10.0.0.2:80\","
		     "\"weight\":0}]}");
	assert_int_equal(fleet_apply_document(&r, doc, 61, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "backends[0].weight must be 1 to 1000"));
	assert_int_equal(registry_find(&r, "10.0.0.2:80")->weight_override, 9);
	json_decref(doc);
	/* one address twice (found by fuzz_shared_state: an operation changed
	 * only the first, so applying it again changed the document) */
	doc = doc_of("{\"service\":\"backend\",\"backends\":[{\"address\":\"10.0.0.2:80\","
		     "\"drained\":true},{\"address\":\"10.0.0.1:80\"},{\"address\":\"10.0.0.2:80\","
		     "\"weight\":3}]}");
	assert_int_equal(fleet_apply_document(&r, doc, 61, err, sizeof(err)), -1);
	assert_string_equal(err, "backends[2].address 10.0.0.2:80 is backends[0]'s already");
	json_decref(doc);
	doc = doc_of("{\"service\":\"other\",\"backends\":[]}");
	assert_int_equal(fleet_apply_document(&r, doc, 61, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "\"service\" is not \"backend\""));
	json_decref(doc);
	registry_release(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_operations),
		cmocka_unit_test(test_ejections_race),
		cmocka_unit_test(test_routed_service_sections),
		cmocka_unit_test(test_document_replaces_overrides),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
