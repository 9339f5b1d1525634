/* common/route_index.c: a listener's virtual hosts found by hash pick what
 * route_match's scan picks: the exact name (any case), the longest
 * "*.suffix", then the first "*"; the first of equal names. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "route.h"
#include "route_index.h"

static const char *const names[] = {
	"a.example.com", "A.EXAMPLE.COM", "*.example.com", "*.b.example.com",
	"x.b.example.com", "*.com", "c.org", "*.c.org", "d", "*.", "*", "e.example.com",
};
#define NNAMES (sizeof(names) / sizeof(names[0]))

static const struct {
	const char *host;	/* NULL: no Host */
	int want;		/* the index into names, -1: none */
} cases[] = {
	{ "a.example.com", 0 },		/* exact, the first of two equal names */
	{ "A.Example.Com", 0 },		/* any case */
	{ "e.example.com", 11 },
	{ "q.example.com", 2 },		/* the wildcard */
	{ "p.q.example.com", 2 },	/* a wildcard takes deeper names */
	{ "y.b.example.com", 3 },	/* the longest wildcard first */
	{ "x.b.example.com", 4 },	/* an exact name before any wildcard */
	{ "example.com", 5 },		/* *.example.com needs a label before it */
	{ "c.org", 6 },
	{ "z.c.org", 7 },
	{ "org", 10 },			/* nothing but "*" */
	{ "d", 8 },
	{ "d.", 9 },			/* "*." takes a name ending in a dot */
	{ "", 10 },
	{ NULL, 10 },			/* no Host: only "*" */
};

static void test_index_picks_what_the_scan_picks(void **state)
{
	struct route_vhost vhosts[NNAMES];
	struct route_listener l;
	struct route_table t;
	(void)state;

	memset(vhosts, 0, sizeof(vhosts));
	for (size_t i = 0; i < NNAMES; i++)
		vhosts[i].hostname = (char *)names[i];
	memset(&l, 0, sizeof(l));
	l.vhosts = vhosts;
	l.n_vhosts = NNAMES;
	t.listeners = &l;
	t.n_listeners = 1;
	assert_int_equal(route_index_build(&t, ROUTE_INDEX_MIN_VHOSTS), 0);
	assert_non_null(l.index);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *h = cases[i].host;
		const struct route_vhost *v = route_index_find(&l, h, h ? strlen(h) : 0);

		if (cases[i].want < 0)
			assert_null(v);
		else if (v != &vhosts[cases[i].want])
			fail_msg("host %s: got %s, want %s", h ? h : "(none)",
				 v ? v->hostname : "(none)", names[cases[i].want]);
	}
	route_index_free(l.index);
}

static void test_few_hosts_are_scanned(void **state)
{
	struct route_vhost vhosts[2] = { { .hostname = "a" }, { .hostname = "*" } };
	struct route_listener l = { .vhosts = vhosts, .n_vhosts = 2 };
	struct route_table t = { .listeners = &l, .n_listeners = 1 };
	(void)state;

	assert_int_equal(route_index_build(&t, ROUTE_INDEX_MIN_VHOSTS), 0);
	assert_null(l.index);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_index_picks_what_the_scan_picks),
		cmocka_unit_test(test_few_hosts_are_scanned),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
