/* Unit tests for lb-proxy/stream/proxy_v2.c: the PROXY protocol v2 header
 * (HAProxy's proxy-protocol.txt, section 2.2), byte for byte. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/un.h>

#include "stream/proxy_v2.h"

static struct sockaddr_in v4(const char *ip, unsigned short port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };

	inet_pton(AF_INET, ip, &a.sin_addr);
	return a;
}

static struct sockaddr_in6 v6(const char *ip, unsigned short port)
{
	struct sockaddr_in6 a = { .sin6_family = AF_INET6, .sin6_port = htons(port) };

	inet_pton(AF_INET6, ip, &a.sin6_addr);
	return a;
}

/* Section 2.2: signature, 0x21 (v2, PROXY), 0x11 (TCP over IPv4), length
 * 12, then source address, destination address, source port, destination
 * port, in network byte order. */
static void test_tcp4(void **state)
{
	struct sockaddr_in src = v4("192.0.2.10", 51234), dst = v4("198.51.100.7", 443);
	static const unsigned char want[] = {
		0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a,
		0x21, 0x11, 0x00, 0x0c,
		192, 0, 2, 10, 198, 51, 100, 7,
		0xc8, 0x22, 0x01, 0xbb,
	};
	unsigned char out[PROXY_V2_MAX];
	(void)state;

	assert_int_equal(proxy_v2_header((struct sockaddr *)&src, (struct sockaddr *)&dst, out),
			 sizeof(want));
	assert_memory_equal(out, want, sizeof(want));
}

/* 0x21 (TCP over IPv6), length 36: two 16-byte addresses, two ports. */
static void test_tcp6(void **state)
{
	struct sockaddr_in6 src = v6("2001:db8::1", 40000), dst = v6("2001:db8::2", 8443);
	static const unsigned char want[] = {
		0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a,
		0x21, 0x21, 0x00, 0x24,
		0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01,
		0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x02,
		0x9c, 0x40, 0x20, 0xfb,
	};
	unsigned char out[PROXY_V2_MAX];
	(void)state;

	assert_int_equal(proxy_v2_header((struct sockaddr *)&src, (struct sockaddr *)&dst, out),
			 sizeof(want));
	assert_int_equal(sizeof(want), PROXY_V2_MAX);
	assert_memory_equal(out, want, sizeof(want));
}

/* A client on a dual-stack listener arrives as ::ffff:a.b.c.d: the header
 * says TCP over IPv4, what a backend's allow-list of IPv4 networks expects. */
static void test_v4_mapped_is_tcp4(void **state)
{
	struct sockaddr_in6 src = v6("::ffff:10.1.2.3", 1000), dst = v6("::ffff:10.0.0.1", 80);
	unsigned char out[PROXY_V2_MAX];
	(void)state;

	assert_int_equal(proxy_v2_header((struct sockaddr *)&src, (struct sockaddr *)&dst, out), 28);
	assert_int_equal(out[13], 0x11);
	assert_memory_equal(out + 16, "\x0a\x01\x02\x03\x0a\x00\x00\x01\x03\xe8\x00\x50", 12);
}

/* A pair the header cannot name: LOCAL (0x20), UNSPEC, no address block. */
static void test_other_families_are_local(void **state)
{
	struct sockaddr_un un = { .sun_family = AF_UNIX };
	struct sockaddr_in dst = v4("127.0.0.1", 80);
	struct sockaddr_storage unspec = { .ss_family = AF_UNSPEC };
	static const unsigned char want[] = {
		0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a,
		0x20, 0x00, 0x00, 0x00,
	};
	unsigned char out[PROXY_V2_MAX];
	(void)state;

	assert_int_equal(proxy_v2_header((struct sockaddr *)&un, (struct sockaddr *)&dst, out),
			 sizeof(want));
	assert_memory_equal(out, want, sizeof(want));
	assert_int_equal(proxy_v2_header((struct sockaddr *)&dst, (struct sockaddr *)&unspec, out),
			 sizeof(want));
	assert_memory_equal(out, want, sizeof(want));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tcp4),
		cmocka_unit_test(test_tcp6),
		cmocka_unit_test(test_v4_mapped_is_tcp4),
		cmocka_unit_test(test_other_families_are_local),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
