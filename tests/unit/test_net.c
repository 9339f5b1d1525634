/* Unit tests for common/net.c's parsers of numbers in addresses: ports and
 * weights are decimal digits only (strtol alone takes " 80", "+80", "-0"). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "net.h"

static void test_ports_are_digits(void **state)
{
	static const struct {
		const char *addr;
		int ok;
	} cases[] = {
		{ "127.0.0.1:80", 1 },	{ "[::1]:65535", 1 },
		{ "127.0.0.1:+80", 0 }, { "127.0.0.1: 80", 0 },	   { "127.0.0.1:-0", 0 },
		{ "127.0.0.1:0x50", 0 }, { "127.0.0.1:", 0 },	   { "127.0.0.1:65536", 0 },
		{ "127.0.0.1:80 ", 0 },
	};
	(void)state;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct net_addr na;
		char err[256];
		int rc = net_parse_numeric(cases[i].addr, &na, err, sizeof(err));

		if ((rc == 0) != cases[i].ok)
			fail_msg("\"%s\": %s", cases[i].addr, rc == 0 ? "taken" : err);
	}
}

static void test_weights_are_digits(void **state)
{
	static const struct {
		const char *item;
		long weight;	/* 0: refused */
	} cases[] = {
		{ "10.0.0.1:80", 1 },	  { "10.0.0.1:80@5", 5 },    { "10.0.0.1:80@1000", 1000 },
		{ "10.0.0.1:80@+5", 0 },  { "10.0.0.1:80@ 5", 0 },   { "10.0.0.1:80@0x5", 0 },
		{ "10.0.0.1:80@0", 0 },	  { "10.0.0.1:80@1001", 0 }, { "10.0.0.1:80@", 0 },
	};
	(void)state;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char item[64], err[256];
		long w;
		int rc;

		snprintf(item, sizeof(item), "%s", cases[i].item);
		rc = net_split_weight(item, &w, err, sizeof(err));
		if (cases[i].weight == 0 ? rc != -1 : (rc != 0 || w != cases[i].weight))
			fail_msg("\"%s\": rc %d weight %ld", cases[i].item, rc, w);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ports_are_digits),
		cmocka_unit_test(test_weights_are_digits),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
