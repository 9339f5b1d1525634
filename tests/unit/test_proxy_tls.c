/* Unit tests for lb-proxy's TLS logic that needs no handshake: SNI name
 * matching and picking (tls_certs.c), ticket key files (tls_tickets.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "net/tls_certs.h"
#include "net/tls_tickets.h"

static const struct {
	const char *pattern, *name;
	int matches;
} names[] = {
	{ "example.com", "example.com", 1 },
	{ "example.com", "EXAMPLE.com", 1 },
	{ "example.com", "www.example.com", 0 },
	{ "*.example.com", "www.example.com", 1 },
	{ "*.example.com", "WWW.Example.COM", 1 },
	{ "*.example.com", "example.com", 0 },
	{ "*.example.com", "a.b.example.com", 0 },
	{ "*.example.com", ".example.com", 0 },
	{ "*.example.com", "wwwexample.com", 0 },
	{ "*example.com", "wwwexample.com", 0 },
	{ "www.*.com", "www.example.com", 0 },
};

static void test_name_matches(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (tls_certs_name_matches(names[i].pattern, names[i].name) != names[i].matches)
			fail_msg("\"%s\" vs \"%s\": expected %d", names[i].pattern, names[i].name,
				 names[i].matches);
}

static void test_pick(void **state)
{
	static struct tls_cert a, b, c;
	static struct tls_certs set;
	(void)state;

	a.names[0] = "localhost";
	a.nnames = 1;
	b.names[0] = "*.example.com";
	b.names[1] = "other.test";
	b.nnames = 2;
	c.names[0] = "www.example.com";
	c.nnames = 1;
	set.items[0] = &a;
	set.items[1] = &b;
	set.items[2] = &c;
	set.n = 3;
	assert_ptr_equal(tls_certs_pick(&set, NULL), &a);		/* no SNI: the first */
	assert_ptr_equal(tls_certs_pick(&set, "unknown.test"), &a);
	assert_ptr_equal(tls_certs_pick(&set, "other.test"), &b);
	assert_ptr_equal(tls_certs_pick(&set, "api.example.com"), &b);
	assert_ptr_equal(tls_certs_pick(&set, "www.example.com"), &c);	/* exact before wildcard */
	assert_ptr_equal(tls_certs_pick(&set, "LOCALHOST"), &a);
	set.n = 0;
	assert_null(tls_certs_pick(&set, "localhost"));
}

/* base64 of 48 bytes 0x00..0x2f, and of 80 bytes 0x00..0x4f */
#define KEY48 "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJygpKissLS4v"
#define KEY80                                                                                  \
	"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJygpKissLS4vMDEyMzQ1Njc4OTo7PD0+P0BB" \
	"QkNERUZHSElKS0xNTk8="

static void test_ticket_keys(void **state)
{
	static const char text[] = "# rotated daily\n" KEY80 "\n\n  " KEY48 "  \r\n";
	static const char *const bad[] = {
		"", "# only a comment\n", "not base64!\n", "AAAA\n",
		KEY48 "AAAA\n",	/* 51 bytes */
	};
	struct tls_tickets t;
	char err[256];
	(void)state;

	assert_int_equal(tls_tickets_parse(text, strlen(text), &t, err, sizeof(err)), 0);
	assert_int_equal(t.n, 2);
	assert_int_equal(t.keys[0].aes_len, 32);
	assert_int_equal(t.keys[0].hmac_len, 32);
	assert_int_equal(t.keys[0].name[15], 15);
	assert_int_equal(t.keys[0].aes[0], 16);
	assert_int_equal(t.keys[0].hmac[0], 48);
	assert_int_equal(t.keys[1].aes_len, 16);
	assert_int_equal(t.keys[1].aes[0], 16);
	assert_int_equal(t.keys[1].hmac[0], 32);
	assert_int_equal(t.keys[1].hmac[15], 47);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (tls_tickets_parse(bad[i], strlen(bad[i]), &t, err, sizeof(err)) != -1)
			fail_msg("\"%s\" was accepted", bad[i]);
	assert_int_equal(tls_tickets_parse(KEY48 "\nAAAA\n", strlen(KEY48) + 6, &t, err,
					   sizeof(err)), -1);
	assert_non_null(strstr(err, "line 2"));
}

/* A --tls-dir with no pair stops start-up; lb-discover --gateway's folder
 * (dir_may_be_empty) loads as an empty set, missing or empty, at start-up
 * and on a reload: handshakes are refused until a pair arrives. */
static void test_empty_dir(void **state)
{
	char dir[] = "/tmp/lb-test-tls-XXXXXX", missing[64], err[256];
	struct tls_certs set, old = { .n = 0 };
	struct tls_certs_source src = { NULL, NULL, dir, 0 };
	(void)state;

	assert_non_null(mkdtemp(dir));
	assert_int_equal(tls_certs_load(&set, &src, NULL, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "no NAME.crt with NAME.key"));
	src.dir_may_be_empty = 1;
	assert_int_equal(tls_certs_load(&set, &src, NULL, err, sizeof(err)), 0);
	assert_int_equal(set.n, 0);
	assert_null(tls_certs_pick(&set, "a.example.com"));
	assert_int_equal(tls_certs_load(&set, &src, &old, err, sizeof(err)), 0);
	assert_int_equal(set.n, 0);
	snprintf(missing, sizeof(missing), "%s/none", dir);
	src.dir = missing;
	assert_int_equal(tls_certs_load(&set, &src, NULL, err, sizeof(err)), 0);
	assert_int_equal(set.n, 0);
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_name_matches),
		cmocka_unit_test(test_pick),
		cmocka_unit_test(test_ticket_keys),
		cmocka_unit_test(test_empty_dir),
	};
	return cmocka_run_group_tests_name("tls", tests, NULL, NULL);
}
