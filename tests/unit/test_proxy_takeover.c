/* Unit tests for lb-proxy/control/takeover.c: what a received takeover message must be
 * to be used, and the socket path's limit. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "control/takeover.h"

enum mutation {
	M_NONE = 0,		/* as takeover_msg_init makes it */
	M_SHORT,		/* one byte short */
	M_MAGIC,		/* another program's bytes */
	M_VERSION,		/* a newer protocol */
	M_TYPE,			/* another message than the one expected */
	M_NFDS,			/* a descriptor count that does not fit the type */
	M_UNTERMINATED,		/* an address without its NUL */
	M_NO_ADDRESS,		/* SOCKETS without the addresses */
	M_LISTEN2,		/* a second client listener and its descriptor */
	M_LISTEN2_NO_FD,	/* a second client listener without its descriptor */
	M_LISTEN2_UNTERMINATED,	/* the second listener's address without its NUL */
};

static const struct {
	enum takeover_type type, want;
	enum mutation mutation;
	const char *error;	/* a part of the error, NULL: accepted */
} cases[] = {
	{ TAKEOVER_HELLO, TAKEOVER_HELLO, M_NONE, NULL },
	{ TAKEOVER_SOCKETS, TAKEOVER_SOCKETS, M_NONE, NULL },
	{ TAKEOVER_STOP, TAKEOVER_STOP, M_NONE, NULL },
	{ TAKEOVER_STOPPING, TAKEOVER_STOPPING, M_NONE, NULL },
	{ TAKEOVER_HELLO, TAKEOVER_HELLO, M_SHORT, "bytes, expected" },
	{ TAKEOVER_HELLO, TAKEOVER_HELLO, M_MAGIC, "not an lb-proxy takeover socket" },
	{ TAKEOVER_STOP, TAKEOVER_STOP, M_VERSION, "protocol version 3" },
	{ TAKEOVER_STOPPING, TAKEOVER_STOP, M_TYPE, "a stopping message where stop was expected" },
	{ TAKEOVER_HELLO, TAKEOVER_HELLO, M_NFDS, "announcing 2 descriptors" },
	{ TAKEOVER_SOCKETS, TAKEOVER_SOCKETS, M_NFDS, "announcing 1 descriptors" },
	{ TAKEOVER_SOCKETS, TAKEOVER_SOCKETS, M_UNTERMINATED, "not terminated" },
	{ TAKEOVER_SOCKETS, TAKEOVER_SOCKETS, M_NO_ADDRESS, "without its addresses" },
	{ TAKEOVER_SOCKETS, TAKEOVER_SOCKETS, M_LISTEN2, NULL },
	{ TAKEOVER_SOCKETS, TAKEOVER_SOCKETS, M_LISTEN2_NO_FD, "announcing 2 descriptors" },
	{ TAKEOVER_SOCKETS, TAKEOVER_SOCKETS, M_LISTEN2_UNTERMINATED, "not terminated" },
};

static void test_message_check(void **state)
{
	(void)state;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct takeover_msg m;
		size_t len = sizeof(m);
		char err[160] = "";
		int rc;

		takeover_msg_init(&m, cases[i].type);
		if (cases[i].type == TAKEOVER_SOCKETS) {
			m.nfds = TAKEOVER_NFDS;
			snprintf(m.listen, sizeof(m.listen), "127.0.0.1:8080");
			snprintf(m.admin, sizeof(m.admin), "127.0.0.1:9901");
		}
		switch (cases[i].mutation) {
		case M_NONE: break;
		case M_SHORT: len--; break;
		case M_MAGIC: m.magic = 0x50545448; break;
		case M_VERSION: m.version = TAKEOVER_VERSION + 1; break;
		case M_TYPE: break;
		case M_NFDS: m.nfds = m.nfds ? 1 : 2; break;
		case M_UNTERMINATED: memset(m.admin, 'a', sizeof(m.admin)); break;
		case M_NO_ADDRESS: m.listen[0] = '\0'; break;
		case M_LISTEN2:
			snprintf(m.listen2, sizeof(m.listen2), "127.0.0.1:8443");
			m.nfds = TAKEOVER_NFDS_MAX;
			m.tls = 2;
			break;
		case M_LISTEN2_NO_FD: snprintf(m.listen2, sizeof(m.listen2), "127.0.0.1:8443"); break;
		case M_LISTEN2_UNTERMINATED:
			memset(m.listen2, 'a', sizeof(m.listen2));
			m.nfds = TAKEOVER_NFDS_MAX;
			break;
		}
		rc = takeover_msg_check(&m, len, cases[i].want, err, sizeof(err));
		if (!cases[i].error) {
			if (rc != 0)
				fail_msg("case %zu refused: %s", i, err);
		} else if (rc != -1 || !strstr(err, cases[i].error)) {
			fail_msg("case %zu: rc %d, error \"%s\", expected \"%s\"", i, rc, err,
				 cases[i].error);
		}
	}
}

static void test_path(void **state)
{
	char path[108], err[256], dir[200];
	(void)state;

	assert_int_equal(takeover_path("/run/lb", 8080, path, sizeof(path), err, sizeof(err)), 0);
	assert_string_equal(path, "/run/lb/lb-proxy-takeover-8080.sock");
	memset(dir, 'd', sizeof(dir) - 1);
	dir[0] = '/';
	dir[sizeof(dir) - 1] = '\0';
	assert_int_equal(takeover_path(dir, 8080, path, sizeof(path), err, sizeof(err)), -1);
	assert_non_null(strstr(err, "use a shorter --runtime-dir"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_message_check),
		cmocka_unit_test(test_path),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
