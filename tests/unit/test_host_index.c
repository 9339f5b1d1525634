/* common/host_index.c (a route listener's virtual hosts by hash): it picks
 * what route_match's scan picks: the exact name (any case), the longest
 * "*.suffix", then the first "*"; the first of equal names. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "host_index.h"
#include "route.h"

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
	struct host_index *ix = host_index_new(names, NNAMES);
	(void)state;

	assert_non_null(ix);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *h = cases[i].host;
		int got = host_index_find(ix, h, h ? strlen(h) : 0);

		if (got != cases[i].want)
			fail_msg("host %s: got %d, want %d", h ? h : "(none)", got, cases[i].want);
	}
	host_index_free(ix);
}

/* A route table indexes listeners past ROUTE_INDEX_MIN_VHOSTS; route_match
 * then finds the virtual host through it. */
static void test_tables_index_their_big_listeners(void **state)
{
	struct route_vhost vhosts[NNAMES], few[2] = { { .hostname = "a" }, { .hostname = "*" } };
	struct route_listener l[2];
	struct route_table t = { .listeners = l, .n_listeners = 2 };
	(void)state;

	memset(vhosts, 0, sizeof(vhosts));
	for (size_t i = 0; i < NNAMES; i++)
		vhosts[i].hostname = (char *)names[i];
	memset(l, 0, sizeof(l));
	l[0].vhosts = vhosts;
	l[0].n_vhosts = NNAMES;
	l[1].vhosts = few;
	l[1].n_vhosts = 2;
	assert_int_equal(route_table_index(&t, ROUTE_INDEX_MIN_VHOSTS), 0);
	assert_non_null(l[0].index);
	assert_null(l[1].index);
	assert_int_equal(host_index_find(l[0].index, "y.b.example.com", 15), 3);
	host_index_free(l[0].index);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_index_picks_what_the_scan_picks),
		cmocka_unit_test(test_tables_index_their_big_listeners),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
