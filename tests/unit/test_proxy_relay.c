/* relay: writing what a client is owed through a transport (lb-proxy/http/relay.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <string.h>

#include "http/relay.h"
#include "http/session.h"

static int calls;

/* A transport that writes nothing and says so with 0 (TLS's SSL_write
 * after the peer's close_notify did): must not be asked forever. */
static ssize_t writes_nothing(struct transport *t, const struct iovec *iov, int n)
{
	(void)t;
	(void)iov;
	(void)n;
	calls++;
	return calls > 1000 ? -1 : 0;	/* the old loop: stop it for the test */
}

static const struct transport_ops zero_ops = { .name = "zero", .writev = writes_nothing };

static void test_a_write_of_nothing_ends_the_flush(void **state)
{
	static struct session s;
	(void)state;

	memset(&s, 0, sizeof(s));
	s.tr.ops = &zero_ops;
	buf_append(&s.out, "HTTP/1.1 200 OK\r\n\r\n", 19);
	calls = 0;
	assert_int_equal(relay_client_flush(&s), -1);
	assert_int_equal(calls, 1);
	assert_int_equal(errno, EPIPE);
	buf_release(&s.out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_a_write_of_nothing_ends_the_flush),
	};
	return cmocka_run_group_tests_name("proxy_relay", tests, NULL, NULL);
}
