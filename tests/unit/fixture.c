/* fixture: backend sets and pick counting for the unit tests of lb-proxy's balancing. */
#include "fixture.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy/retry.h"
#include "upstream/balance_table.h"

void fixture_set(struct backend_set *set, size_t n, const int *weights)
{
	memset(set, 0, sizeof(*set));
	assert_true(n <= FIXTURE_MAX);
	set->items = calloc(n ? n : 1, sizeof(*set->items));
	assert_non_null(set->items);
	for (size_t i = 0; i < n; i++) {
		char name[64], err[128];
		struct net_addr addr;

		snprintf(name, sizeof(name), "10.0.%zu.%zu:80", i / 256, i % 256);
		assert_int_equal(net_parse_numeric(name, &addr, err, sizeof(err)), 0);
		set->items[i] = backend_new(name, &addr, weights ? weights[i] : 1);
		assert_non_null(set->items[i]);
		set->n++;
	}
}

void fixture_subset(struct backend_set *dst, const struct backend_set *src,
		    const size_t *order, size_t n)
{
	memset(dst, 0, sizeof(*dst));
	dst->items = calloc(n ? n : 1, sizeof(*dst->items));
	assert_non_null(dst->items);
	for (size_t i = 0; i < n; i++) {
		assert_true(order[i] < src->n);
		dst->items[i] = src->items[order[i]];
		backend_ref(dst->items[i]);
	}
	dst->n = n;
}

int fixture_index(const struct backend_set *set, const struct backend *b)
{
	for (size_t i = 0; i < set->n; i++)
		if (set->items[i] == b)
			return (int)i;
	return -1;
}

struct balance_request fixture_request(int i, double now)
{
	struct balance_request r = { .now = now };
	char key[32];

	if (i >= 0) {
		int len = snprintf(key, sizeof(key), "key-%d", i);

		r.hash = balance_hash(key, (size_t)len);
		r.has_key = 1;
	}
	return r;
}

void fixture_count(struct balancer *bl, const struct backend_set *set,
		   struct balance_request *r, unsigned picks, unsigned *counts)
{
	for (unsigned i = 0; i < picks; i++) {
		struct backend *b = balance_pick(bl, set, r);

		assert_non_null(b);
		counts[fixture_index(set, b)]++;
	}
}

double fixture_share_error(const struct backend_set *set, const unsigned *counts)
{
	double total_weight = 0, total = 0, worst = 0;

	for (size_t i = 0; i < set->n; i++) {
		total_weight += set->items[i]->weight;
		total += counts[i];
	}
	for (size_t i = 0; i < set->n; i++) {
		double want = set->items[i]->weight / total_weight;
		double error = (counts[i] / total - want) / want;

		if (error < 0)
			error = -error;
		if (error > worst)
			worst = error;
	}
	return worst;
}

void fixture_balancer(struct balancer *bl, const char *name, const struct backend_set *set)
{
	const struct balance_ops *ops = balance_find(name);

	memset(bl, 0, sizeof(*bl));
	assert_non_null(ops);
	assert_int_equal(balancer_rebuild(bl, ops, set), 0);
}

void fixture_proxy_init(struct fixture_proxy *f, int fd)
{
	memset(f, 0, sizeof(*f));
	f->opts.retries = 2;
	f->opts.queue_size = 4;
	f->opts.queue_timeout = 5;
	f->opts.connect_timeout = 5;
	f->opts.response_timeout = 60;
	f->opts.per_try_timeout = 60;
	f->opts.header_timeout = 10;
	f->opts.keepalive_timeout = 75;
	f->opts.idle_timeout = 60;
	f->opts.drain_timeout = 30;
	f->opts.max_header_size = 8192;
	f->px.loop = ev_default_loop(0);
	f->px.opts = &f->opts;
	f->px.retry.on = RETRY_ON_DEFAULT;
	f->px.retry.budget_percent = 20;
	LIST_INIT(&f->px.sessions);
	TAILQ_INIT(&f->px.queue);
	fixture_balancer(&f->px.balancer, "round-robin", &f->px.set);

	f->s.px = &f->px;
	transport_plain_init(&f->s.tr, fd);
	f->s.state = SESSION_EXCHANGE;
	f->s.x = &f->x;
	f->s.method = HTTP_GET;
	f->s.keep_alive = 1;
	f->s.req_done = 1;
	f->s.replayable = 1;
	memcpy(f->x.request_id, "req-1", 5);
	f->x.request_id_len = 5;
	snprintf(f->s.client_ip, sizeof(f->s.client_ip), "192.0.2.1");
}

void fixture_proxy_release(struct fixture_proxy *f)
{
	buf_release(&f->s.in);
	buf_release(&f->x.uin);
	buf_release(&f->s.out);
	buf_release(&f->x.up_head);
	balancer_release(&f->px.balancer);
	backend_set_release(&f->px.set);
}

const char *fixture_out(struct session *s)
{
	if (buf_append(&s->out, "", 1) == -1)	/* a NUL after the bytes, not counted */
		fail_msg("out of memory");
	s->out.len--;
	return s->out.data;
}

const char *fixture_out_body(struct session *s)
{
	const char *all = fixture_out(s), *end = strstr(all, "\r\n\r\n");

	return end ? end + 4 : "";
}
