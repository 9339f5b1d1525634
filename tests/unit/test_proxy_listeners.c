/* Unit tests for proxy_config_listeners (lb-proxy/control/proxy_config.c): which
 * --listen speaks TLS, and the combinations refused at start-up. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "control/proxy_config.h"

static void test_listeners(void **state)
{
	static const struct {
		const char *listens[3];
		const char *port_listen;	/* --port's address, or NULL */
		int tls_files, redirect;
		unsigned n;			/* listeners, 0: refused */
		const char *addr0, *addr1;
		int tls0, tls1;
		const char *error;		/* a part of the error */
	} cases[] = {
		{ { NULL }, NULL, 0, 0, 1, PROXY_LISTEN_DEFAULT, NULL, 0, 0, NULL },
		{ { NULL }, NULL, 1, 0, 1, PROXY_LISTEN_DEFAULT, NULL, 1, 0, NULL },
		{ { "127.0.0.1:80" }, NULL, 0, 0, 1, "127.0.0.1:80", NULL, 0, 0, NULL },
		{ { "127.0.0.1:443" }, NULL, 1, 0, 1, "127.0.0.1:443", NULL, 1, 0, NULL },
		{ { "tls:127.0.0.1:443" }, NULL, 1, 0, 1, "127.0.0.1:443", NULL, 1, 0, NULL },
		{ { "127.0.0.1:80" }, "0.0.0.0:81", 1, 0, 1, "0.0.0.0:81", NULL, 1, 0, NULL },
		{ { "tls:a:443", "a:80" }, NULL, 1, 1, 2, "a:443", "a:80", 1, 0, NULL },
		{ { "a:80", "tls:a:443" }, NULL, 1, 1, 2, "a:80", "a:443", 0, 1, NULL },
		{ { "a:80", "a:81" }, NULL, 0, 0, 2, "a:80", "a:81", 0, 0, NULL },
		{ { "tls:a:443" }, NULL, 0, 0, 0, NULL, NULL, 0, 0, "needs --tls-cert" },
		{ { "tls:a:443", "tls:a:444" }, NULL, 1, 0, 0, NULL, NULL, 0, 0,
		  "at most one listener speaks TLS" },
		{ { "a:80", "a:81" }, NULL, 1, 0, 0, NULL, NULL, 0, 0, "mark the TLS one" },
		{ { "a:80", "a:81" }, NULL, 0, 1, 0, NULL, NULL, 0, 0, "--redirect-https needs" },
		{ { "a:443" }, NULL, 1, 1, 0, NULL, NULL, 0, 0, "--redirect-https needs" },
	};
	(void)state;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct proxy_options o;
		char err[256] = "";
		int rc;

		memset(&o, 0, sizeof(o));
		for (size_t k = 0; k < 3 && cases[i].listens[k]; k++)
			o.listens.items[o.listens.n++] = cases[i].listens[k];
		o.tls_cert = cases[i].tls_files ? "cert.pem" : NULL;
		o.redirect_https = cases[i].redirect;
		o.backends = "127.0.0.1:8081";
		rc = proxy_config_listeners(&o, cases[i].port_listen, err, sizeof(err));
		if (!cases[i].n) {
			if (rc != -1 || !strstr(err, cases[i].error))
				fail_msg("case %zu: rc %d, error \"%s\", expected \"%s\"", i, rc, err,
					 cases[i].error);
			continue;
		}
		if (rc != 0)
			fail_msg("case %zu: refused: %s", i, err);
		assert_int_equal(o.nlisten, cases[i].n);
		assert_string_equal(o.listen_addr[0], cases[i].addr0);
		assert_string_equal(o.listen, cases[i].addr0);
		assert_int_equal(o.listen_tls[0], cases[i].tls0);
		if (cases[i].n > 1) {
			assert_string_equal(o.listen_addr[1], cases[i].addr1);
			assert_int_equal(o.listen_tls[1], cases[i].tls1);
		}
	}
}

/* On the bus (no --backends), a tls: listener without TLS files is the
 * one that serves lb-discover --gateway's certificates (docs/tls.md). */
static void test_gateway_tls_listener(void **state)
{
	struct proxy_options o;
	char err[256] = "";
	(void)state;

	memset(&o, 0, sizeof(o));
	o.listens.items[o.listens.n++] = "a:80";
	o.listens.items[o.listens.n++] = "tls:a:443";
	assert_int_equal(proxy_config_listeners(&o, NULL, err, sizeof(err)), 0);
	assert_int_equal(o.nlisten, 2);
	assert_int_equal(o.listen_tls[0], 0);
	assert_int_equal(o.listen_tls[1], 1);
	assert_string_equal(o.listen_addr[1], "a:443");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_listeners),
		cmocka_unit_test(test_gateway_tls_listener),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
