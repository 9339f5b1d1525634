/* Unit tests for lb-discover/api/command.c: the command table behind lb-ctl
 * and the admin API, table driven: each verb's validation (address, weight,
 * the backend it names) and its effect on the registry's overrides, the
 * operation shared with the other replicas, the generation and the state
 * file. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "api/command.h"
#include "core/registry.h"
#include "discover_fixture.h"
#include "log.h"

#define FIXTURE_C "10.0.0.3:80"
#define NOWHERE "10.0.0.9:80"

static void drained_a(struct discover *d)
{
	registry_find(&d->reg, FIXTURE_A)->drained = 1;
	registry_commit(&d->reg);
}

static void ejected_a(struct discover *d)
{
	struct entry *e = registry_find(&d->reg, FIXTURE_A);

	e->ejected = 1;
	e->ejections = 2;
	e->eject_until = registry_clock() + 30;
	snprintf(e->eject_reason, sizeof(e->eject_reason), "outlier: test");
	registry_commit(&d->reg);
}

/* the source stops listing B while it is drained: its drain waits for it */
static void waiting_b(struct discover *d)
{
	struct bus_backend a;

	memset(&a, 0, sizeof(a));
	snprintf(a.address, sizeof(a.address), FIXTURE_A);
	a.weight = 1;
	registry_find(&d->reg, FIXTURE_B)->drained = 1;
	registry_source_update(&d->reg, &a, 1, 2000);
	registry_commit(&d->reg);
}

struct expect_entry {
	const char *address;		/* NULL: no entry checked */
	int exists, drained, removed, added, weight, ejected, published;
};

static const struct command_case {
	const char *what;
	const char *command, *address;
	int has_weight;
	long weight;
	void (*setup)(struct discover *d);
	enum command_status status;
	const char *error;		/* in r.error when refused ("": any) */
	struct expect_entry entry;	/* afterwards */
	int shared;			/* an operation was recorded: */
	enum fleet_verb op;
	int op_weight;
	int bumps;			/* the generation went up */
} cases[] = {
#define VERB(w, cmd, addr) .what = w, .command = cmd, .address = addr
#define WEIGHT(n) .has_weight = 1, .weight = n
#define ENTRY(addr, drained, removed, added, weight, ejected, published) \
	.entry = { addr, 1, drained, removed, added, weight, ejected, published }
#define NO_ENTRY(addr) .entry = { addr, 0, 0, 0, 0, 0, 0, 0 }
#define SHARED(verb, weight) .shared = 1, .op = verb, .op_weight = weight
	{ VERB("unknown verb", "frobnicate", FIXTURE_A), .status = COMMAND_INVALID,
	  .error = "unknown command \"frobnicate\"" },
	{ VERB("no address", "drain", ""), .status = COMMAND_INVALID,
	  .error = "\"drain\" needs an \"address\"" },
	{ VERB("no port", "drain", "10.0.0.1"), .status = COMMAND_INVALID, .error = "" },
	{ VERB("a name, not an IP", "drain", "backend.example:80"), .status = COMMAND_INVALID,
	  .error = "" },
	{ VERB("drain", "drain", FIXTURE_A), ENTRY(FIXTURE_A, 1, 0, 0, 0, 0, 1),
	  SHARED(FLEET_DRAIN, 0), .bumps = 1 },
	{ VERB("seed 004's http:// spelling", "drain", "http://10.0.0.1:80"),
	  ENTRY(FIXTURE_A, 1, 0, 0, 0, 0, 1), SHARED(FLEET_DRAIN, 0), .bumps = 1 },
	{ VERB("drain an unknown backend", "drain", NOWHERE), .status = COMMAND_UNKNOWN,
	  .error = "unknown backend " NOWHERE, NO_ENTRY(NOWHERE) },
	{ VERB("undrain", "undrain", FIXTURE_A), .setup = drained_a,
	  ENTRY(FIXTURE_A, 0, 0, 0, 0, 0, 1), SHARED(FLEET_UNDRAIN, 0), .bumps = 1 },
	{ VERB("undrain cancels a drain waiting for its backend", "undrain", FIXTURE_B),
	  .setup = waiting_b, ENTRY(FIXTURE_B, 0, 0, 0, 0, 0, 0), SHARED(FLEET_UNDRAIN, 0) },
	{ VERB("only undrain reaches a waiting backend", "drain", FIXTURE_B), .setup = waiting_b,
	  .status = COMMAND_UNKNOWN, .error = "unknown backend " FIXTURE_B,
	  ENTRY(FIXTURE_B, 1, 0, 0, 0, 0, 0) },
	{ VERB("weight without one", "weight", FIXTURE_A), .status = COMMAND_INVALID,
	  .error = "the weight must be 1 to 1000", ENTRY(FIXTURE_A, 0, 0, 0, 0, 0, 1) },
	{ VERB("weight 0", "weight", FIXTURE_A), WEIGHT(0), .status = COMMAND_INVALID,
	  .error = "the weight must be 1 to 1000", ENTRY(FIXTURE_A, 0, 0, 0, 0, 0, 1) },
	{ VERB("weight 1001", "weight", FIXTURE_A), WEIGHT(1001), .status = COMMAND_INVALID,
	  .error = "the weight must be 1 to 1000" },
	{ VERB("weight", "weight", FIXTURE_A), WEIGHT(7), ENTRY(FIXTURE_A, 0, 0, 0, 7, 0, 1),
	  SHARED(FLEET_WEIGHT, 7), .bumps = 1 },
	{ VERB("weight 1000", "weight", FIXTURE_A), WEIGHT(1000),
	  ENTRY(FIXTURE_A, 0, 0, 0, 1000, 0, 1), SHARED(FLEET_WEIGHT, 1000), .bumps = 1 },
	{ VERB("add one in the set", "add", FIXTURE_A), .status = COMMAND_CONFLICT,
	  .error = "backend " FIXTURE_A " is already in the set" },
	{ VERB("add", "add", FIXTURE_C), WEIGHT(5), ENTRY(FIXTURE_C, 0, 0, 1, 5, 0, 1),
	  SHARED(FLEET_ADD, 5), .bumps = 1 },
	{ VERB("add without a weight", "add", FIXTURE_C), ENTRY(FIXTURE_C, 0, 0, 1, 0, 0, 1),
	  SHARED(FLEET_ADD, 0), .bumps = 1 },
	{ VERB("add IPv6", "add", "[::1]:80"), ENTRY("[::1]:80", 0, 0, 1, 0, 0, 1),
	  SHARED(FLEET_ADD, 0), .bumps = 1 },
	{ VERB("add with weight 0", "add", FIXTURE_C), WEIGHT(0), .status = COMMAND_INVALID,
	  .error = "the weight must be 1 to 1000", NO_ENTRY(FIXTURE_C) },
	{ VERB("remove", "remove", FIXTURE_B), ENTRY(FIXTURE_B, 0, 1, 0, 0, 0, 0),
	  SHARED(FLEET_REMOVE, 0), .bumps = 1 },
	{ VERB("remove an unknown backend", "remove", NOWHERE), .status = COMMAND_UNKNOWN,
	  .error = "unknown backend " NOWHERE },
	{ VERB("uneject", "uneject", FIXTURE_A), .setup = ejected_a,
	  ENTRY(FIXTURE_A, 0, 0, 0, 0, 0, 1), SHARED(FLEET_UNEJECT, 0), .bumps = 1 },
	{ VERB("uneject one not ejected", "uneject", FIXTURE_B),
	  ENTRY(FIXTURE_B, 0, 0, 0, 0, 0, 1), SHARED(FLEET_UNEJECT, 0) },
	{ VERB("status", "status", NULL) },
	{ VERB("in-flight", "in-flight", FIXTURE_A) },
};

static void check_entry(const struct command_case *c, struct discover *d)
{
	const struct expect_entry *x = &c->entry;
	struct entry *e;

	if (!x->address)
		return;
	e = registry_find(&d->reg, x->address);
	if (!x->exists) {
		if (e)
			fail_msg("%s: %s exists", c->what, x->address);
		return;
	}
	if (!e)
		fail_msg("%s: no entry %s", c->what, x->address);
	if ((int)e->drained != x->drained || (int)e->removed != x->removed ||
	    (int)e->added != x->added || e->weight_override != x->weight ||
	    (int)e->ejected != x->ejected || registry_published(e) != x->published)
		fail_msg("%s: %s drained=%d removed=%d added=%d weight=%d ejected=%d published=%d, "
			 "expected %d %d %d %d %d %d", c->what, x->address, e->drained, e->removed,
			 e->added, e->weight_override, e->ejected, registry_published(e), x->drained,
			 x->removed, x->added, x->weight, x->ejected, x->published);
	if (c->op == FLEET_UNEJECT && c->shared && e->ejections != 0)
		fail_msg("%s: the ejection count starts over, got %u", c->what, e->ejections);
}

static void test_verbs(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct command_case *c = &cases[i];
		struct discover_fixture f;
		struct bus_control ctl;
		struct command_result r;
		unsigned long long before;
		enum command_status st;

		assert_int_equal(discover_fixture_init(&f), 0);
		discover_fixture_cluster(&f);
		if (c->setup)
			c->setup(&f.d);
		before = f.d.reg.generation;
		memset(&ctl, 0, sizeof(ctl));
		snprintf(ctl.command, sizeof(ctl.command), "%s", c->command);
		snprintf(ctl.address, sizeof(ctl.address), "%s", c->address ? c->address : "");
		ctl.has_weight = c->has_weight;
		ctl.weight = c->weight;
		st = command_run(&f.d, &ctl, &r);
		if (st != c->status || r.status != c->status)
			fail_msg("%s: status %d, expected %d (%s)", c->what, st, c->status, r.error);
		if (c->error && (!r.error[0] || !strstr(r.error, c->error)))
			fail_msg("%s: error \"%s\", expected \"%s\"", c->what, r.error, c->error);
		if (!c->error && (!r.body || r.error[0]))
			fail_msg("%s: no answer (%s)", c->what, r.error);
		check_entry(c, &f.d);
		if (f.nops != (size_t)c->shared)
			fail_msg("%s: %zu operations recorded, expected %d", c->what, f.nops, c->shared);
		if (c->shared && (f.ops[0].verb != c->op || f.ops[0].weight != c->op_weight ||
				  strcmp(f.ops[0].address, c->entry.address) != 0))
			fail_msg("%s: recorded verb %d weight %d %s", c->what, f.ops[0].verb,
				 f.ops[0].weight, f.ops[0].address);
		if ((f.d.reg.generation > before) != c->bumps)
			fail_msg("%s: generation %llu -> %llu", c->what, before, f.d.reg.generation);
		/* a write answers the generation, and the state file holds it */
		if (c->shared) {
			assert_int_equal(json_integer_value(json_object_get(r.body, "generation")),
					 f.d.reg.generation);
			if (access(f.d.state_path, F_OK) != 0)
				fail_msg("%s: the state file was not saved", c->what);
		} else if (access(f.d.state_path, F_OK) == 0) {
			fail_msg("%s: the state file was saved", c->what);
		}
		command_result_release(&r);
		discover_fixture_release(&f);
	}
}

/* status answers the whole document; in-flight what drain --wait needs */
static void test_reads(void **state)
{
	struct discover_fixture f;
	struct bus_control ctl;
	struct command_result r;

	(void)state;
	assert_int_equal(discover_fixture_init(&f), 0);
	memset(&ctl, 0, sizeof(ctl));
	snprintf(ctl.command, sizeof(ctl.command), "status");
	assert_int_equal(command_run(&f.d, &ctl, &r), COMMAND_OK);
	assert_string_equal(json_string_value(json_object_get(r.body, "service")), "backend");
	assert_int_equal(json_array_size(json_object_get(r.body, "backends")), 2);
	assert_int_equal(json_integer_value(json_object_get(r.body, "generation")), 1);
	command_result_release(&r);
	/* no proxy, lb-discover settled: nothing in flight */
	snprintf(ctl.command, sizeof(ctl.command), "in-flight");
	snprintf(ctl.address, sizeof(ctl.address), "http://10.0.0.1:80");
	assert_int_equal(command_run(&f.d, &ctl, &r), COMMAND_OK);
	assert_string_equal(json_string_value(json_object_get(r.body, "address")), FIXTURE_A);
	assert_int_equal(json_integer_value(json_object_get(r.body, "in_flight")), 0);
	/* nothing in flight is not "drained": the backend is not draining */
	assert_true(json_is_false(json_object_get(r.body, "drained")));
	assert_non_null(strstr(json_string_value(json_object_get(r.body, "cancelled")),
			       "not draining"));
	command_result_release(&r);
	drained_a(&f.d);
	assert_int_equal(command_run(&f.d, &ctl, &r), COMMAND_OK);
	assert_true(json_is_true(json_object_get(r.body, "drained")));
	assert_null(json_object_get(r.body, "cancelled"));
	command_result_release(&r);
	/* before every proxy may have reported: not known */
	f.d.started = ev_now(f.d.loop);
	assert_int_equal(command_run(&f.d, &ctl, &r), COMMAND_OK);
	assert_int_equal(json_integer_value(json_object_get(r.body, "in_flight")), -1);
	assert_true(json_is_false(json_object_get(r.body, "drained")));
	command_result_release(&r);
	discover_fixture_release(&f);
}

static void run_verb(struct discover *d, const char *verb, const char *address)
{
	struct bus_control ctl;
	struct command_result r;

	memset(&ctl, 0, sizeof(ctl));
	snprintf(ctl.command, sizeof(ctl.command), "%s", verb);
	snprintf(ctl.address, sizeof(ctl.address), "%s", address);
	assert_int_equal(command_run(d, &ctl, &r), COMMAND_OK);
	command_result_release(&r);
}

static void source_lists_b_only(struct discover *d)
{
	struct bus_backend b;

	memset(&b, 0, sizeof(b));
	snprintf(b.address, sizeof(b.address), FIXTURE_B);
	b.weight = 1;
	registry_source_update(&d->reg, &b, 1, 2000);
	registry_commit(&d->reg);
}

static void source_lists_both(struct discover *d)
{
	struct bus_backend b[2];

	memset(b, 0, sizeof(b));
	snprintf(b[0].address, sizeof(b[0].address), FIXTURE_A);
	snprintf(b[1].address, sizeof(b[1].address), FIXTURE_B);
	b[0].weight = b[1].weight = 1;
	registry_source_update(&d->reg, b, 2, 2001);
	registry_commit(&d->reg);
}

/* drain --wait's rule: the drain of generation G is done only while it is
 * still in effect; whatever undid or replaced it since ends the wait
 * "cancelled", never "drained" (issue "Reliability round 3") */
static void test_drain_state(void **state)
{
	static const struct {
		const char *what;
		void (*change)(struct discover *d);	/* after the drain; NULL: none */
		enum command_drain want;
		const char *why;
	} changes[] = {
		{ "still drained", NULL, COMMAND_DRAIN_DONE, NULL },
		{ "undrained", NULL, COMMAND_DRAIN_CANCELLED, "not draining" },
		{ "removed", NULL, COMMAND_DRAIN_CANCELLED, "removed" },
		{ "removed, added again", NULL, COMMAND_DRAIN_CANCELLED, "drained again" },
		{ "undrained, drained again", NULL, COMMAND_DRAIN_CANCELLED, "drained again" },
		{ "left the set", source_lists_b_only, COMMAND_DRAIN_CANCELLED, "left the set" },
		{ "left the set and came back", NULL, COMMAND_DRAIN_CANCELLED, "drained again" },
		{ "drained twice", NULL, COMMAND_DRAIN_DONE, NULL },
	};
	(void)state;

	for (size_t i = 0; i < sizeof(changes) / sizeof(changes[0]); i++) {
		struct discover_fixture f;
		unsigned long long gen;
		long n;
		int proxies;
		char why[200] = "";
		enum command_drain st;
		const char *what = changes[i].what;

		assert_int_equal(discover_fixture_init(&f), 0);
		run_verb(&f.d, "drain", FIXTURE_A);
		gen = f.d.reg.generation;
		if (changes[i].change)
			changes[i].change(&f.d);
		if (strcmp(what, "undrained") == 0 || strcmp(what, "undrained, drained again") == 0)
			run_verb(&f.d, "undrain", FIXTURE_A);
		if (strncmp(what, "removed", 7) == 0)
			run_verb(&f.d, "remove", FIXTURE_A);
		if (strcmp(what, "removed, added again") == 0)
			run_verb(&f.d, "add", FIXTURE_A);
		if (strcmp(what, "left the set and came back") == 0) {
			source_lists_b_only(&f.d);
			source_lists_both(&f.d);
		}
		if (strcmp(what, "undrained, drained again") == 0 ||
		    strcmp(what, "removed, added again") == 0 ||
		    strcmp(what, "left the set and came back") == 0 ||
		    strcmp(what, "drained twice") == 0)
			run_verb(&f.d, "drain", FIXTURE_A);
		st = command_drain_state(&f.d, NULL, FIXTURE_A, gen, &n, &proxies, why, sizeof(why));
		if (st != changes[i].want)
			fail_msg("%s: state %d, wanted %d (%s)", what, st, changes[i].want, why);
		if (changes[i].why && !strstr(why, changes[i].why))
			fail_msg("%s: \"%s\" does not say \"%s\"", what, why, changes[i].why);
		discover_fixture_release(&f);
	}
}

/* The bus carries BUS_MAX_BACKENDS: an add past it is refused. */
static void test_add_to_a_full_set(void **state)
{
	struct discover_fixture f;
	struct bus_control ctl;
	struct command_result r;
	char address[BUS_ADDRESS_MAX];

	(void)state;
	assert_int_equal(discover_fixture_init(&f), 0);
	for (int i = 0; registry_published_count(&f.d.reg) < BUS_MAX_BACKENDS; i++) {
		snprintf(address, sizeof(address), "10.1.%d.%d:80", i / 256, i % 256);
		registry_get(&f.d.reg, address)->added = 1;
	}
	memset(&ctl, 0, sizeof(ctl));
	snprintf(ctl.command, sizeof(ctl.command), "add");
	snprintf(ctl.address, sizeof(ctl.address), FIXTURE_C);
	assert_int_equal(command_run(&f.d, &ctl, &r), COMMAND_CONFLICT);
	assert_non_null(strstr(r.error, "the set is full"));
	assert_null(registry_find(&f.d.reg, FIXTURE_C));
	command_result_release(&r);
	discover_fixture_release(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_verbs),
		cmocka_unit_test(test_reads),
		cmocka_unit_test(test_drain_state),
		cmocka_unit_test(test_add_to_a_full_set),
	};

	log_setup("test", LOG_ERROR, LOG_FORMAT_TEXT);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
