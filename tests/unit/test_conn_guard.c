/* Unit tests for common/conn_guard.c: who gives way when an admin server is
 * full (the cap, the per-client cap, pinned parked requests). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

#include "conn_guard.h"

static struct sockaddr_in client(const char *ip, int port)
{
	struct sockaddr_in a;

	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_port = htons((uint16_t)port);
	inet_pton(AF_INET, ip, &a.sin_addr);
	return a;
}

/* Admits a connection from ip as the servers do: evicts first if told. */
static enum conn_guard_verdict connect_from(struct conn_guard *g, struct conn_guard_slot *slots,
					    size_t *used, const char *ip,
					    struct conn_guard_slot **victim)
{
	struct sockaddr_in a = client(ip, 40000 + (int)*used);
	enum conn_guard_verdict v = conn_guard_admit(g, (struct sockaddr *)&a, victim);

	if (v == CONN_GUARD_EVICT)
		conn_guard_remove(g, *victim);
	if (v != CONN_GUARD_REFUSE)
		conn_guard_add(g, &slots[(*used)++], (struct sockaddr *)&a);
	return v;
}

static void test_per_client_cap_evicts_that_clients_oldest(void **state)
{
	struct conn_guard g;
	struct conn_guard_slot slots[16], *victim;
	size_t used = 0;
	(void)state;

	conn_guard_init(&g, 8, 3);
	assert_int_equal(connect_from(&g, slots, &used, "10.0.0.1", &victim), CONN_GUARD_ADMIT);
	assert_int_equal(connect_from(&g, slots, &used, "10.0.0.2", &victim), CONN_GUARD_ADMIT);
	assert_int_equal(connect_from(&g, slots, &used, "10.0.0.2", &victim), CONN_GUARD_ADMIT);
	assert_int_equal(connect_from(&g, slots, &used, "10.0.0.2", &victim), CONN_GUARD_ADMIT);
	/* the fourth of 10.0.0.2: its oldest goes, not 10.0.0.1's older one */
	assert_int_equal(connect_from(&g, slots, &used, "10.0.0.2", &victim), CONN_GUARD_EVICT);
	assert_ptr_equal(victim, &slots[1]);
	assert_int_equal(g.n, 4);
	assert_int_equal(g.evicted, 1);
}

static void test_full_evicts_the_oldest_unpinned_or_refuses(void **state)
{
	struct conn_guard g;
	struct conn_guard_slot slots[16], *victim;
	size_t used = 0;
	(void)state;

	conn_guard_init(&g, 3, 3);
	connect_from(&g, slots, &used, "10.0.0.1", &victim);
	connect_from(&g, slots, &used, "10.0.0.2", &victim);
	connect_from(&g, slots, &used, "10.0.0.3", &victim);
	slots[0].pinned = 1;		/* a parked drain?wait= */
	assert_int_equal(connect_from(&g, slots, &used, "10.0.0.4", &victim), CONN_GUARD_EVICT);
	assert_ptr_equal(victim, &slots[1]);
	slots[2].pinned = slots[3].pinned = 1;
	assert_int_equal(connect_from(&g, slots, &used, "10.0.0.5", &victim), CONN_GUARD_REFUSE);
	assert_int_equal(g.n, 3);
	assert_int_equal(g.refused, 1);
	conn_guard_remove(&g, &slots[2]);
	assert_int_equal(connect_from(&g, slots, &used, "10.0.0.5", &victim), CONN_GUARD_ADMIT);
}

static void test_an_ipv6_client_is_its_64(void **state)
{
	struct conn_guard g;
	struct conn_guard_slot slots[4], *victim;
	const char *ips[] = { "2001:db8:1:2::1", "2001:db8:1:2:ffff::9", "2001:db8:1:3::1" };
	(void)state;

	conn_guard_init(&g, 8, 1);
	for (size_t i = 0; i < 3; i++) {
		struct sockaddr_in6 a;
		enum conn_guard_verdict v;

		memset(&a, 0, sizeof(a));
		a.sin6_family = AF_INET6;
		inet_pton(AF_INET6, ips[i], &a.sin6_addr);
		v = conn_guard_admit(&g, (struct sockaddr *)&a, &victim);
		/* the second is in the first's /64: it evicts it; the third is another */
		assert_int_equal(v, i == 1 ? CONN_GUARD_EVICT : CONN_GUARD_ADMIT);
		if (v == CONN_GUARD_EVICT)
			conn_guard_remove(&g, victim);
		conn_guard_add(&g, &slots[i], (struct sockaddr *)&a);
	}
	assert_int_equal(g.n, 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_per_client_cap_evicts_that_clients_oldest),
		cmocka_unit_test(test_full_evicts_the_oldest_unpinned_or_refuses),
		cmocka_unit_test(test_an_ipv6_client_is_its_64),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
