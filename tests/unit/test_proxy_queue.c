/* Unit tests for lb-proxy/http/queue.c: requests waiting for a backend with
 * room: admission up to --queue-size, first come first woken, a wake passed
 * on by one that leaves, the wait's timeout and the room a new set makes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "fixture.h"
#include "http/queue.h"

#define N 5

static struct fixture_proxy f;
static struct session s[N];
static struct exchange x[N];
static int fired[N], nfired;

/* A queued session's timer: woken (fed) or its --queue-timeout. */
static void on_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop;
	(void)revents;
	fired[nfired++] = (int)((struct session *)w->data - s);
}

static int setup(void **state)
{
	(void)state;
	fixture_proxy_init(&f, -1);
	memset(s, 0, sizeof(s));
	memset(x, 0, sizeof(x));
	for (int i = 0; i < N; i++) {
		s[i].px = &f.px;
		s[i].x = &x[i];
		s[i].state = SESSION_CONNECT;
		ev_init(&s[i].timer, on_timer);
		s[i].timer.data = &s[i];
	}
	nfired = 0;
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	ev_invoke_pending(f.px.loop);	/* no event left for the next test's sessions */
	fixture_proxy_release(&f);
	return 0;
}

/* Runs the timer events queue_wake fed; returns how many fired. */
static int run_fed(void)
{
	int before = nfired;

	ev_invoke_pending(f.px.loop);
	return nfired - before;
}

static void test_admission(void **state)
{
	static const struct {
		long size;		/* --queue-size */
		int admitted;		/* of N that try */
	} cases[] = {
		{ 0, 0 }, { 1, 1 }, { 3, 3 }, { N, N }, { 100, N },
	};
	(void)state;

	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		setup(NULL);
		f.opts.queue_size = cases[c].size;
		f.opts.queue_timeout = 2.5;
		for (int i = 0; i < N; i++) {
			int in = i < cases[c].admitted;

			assert_int_equal(queue_enter(&s[i], 0), in ? 0 : -1);
			assert_int_equal(s[i].state, in ? SESSION_QUEUED : SESSION_CONNECT);
			assert_int_equal(s[i].queued, in);
			if (in) {
				assert_true(s[i].timer.repeat == 2.5);
				assert_true(s[i].timer_dirty);
				assert_ptr_equal(x[i].queued_session, &s[i]);
			}
		}
		assert_int_equal(f.px.metrics.queue_length, cases[c].admitted);
		for (int i = 0; i < cases[c].admitted; i++)
			queue_leave(&s[i]);
		assert_int_equal(f.px.metrics.queue_length, 0);
		assert_int_equal(f.px.metrics.queue_wait.count, cases[c].admitted);
		teardown(NULL);
	}
}

static void test_wake_order(void **state)
{
	(void)state;
	setup(NULL);
	f.opts.queue_size = N;
	for (int i = 0; i < N; i++)
		assert_int_equal(queue_enter(&s[i], 0), 0);
	/* each freed slot wakes the oldest not woken yet, from the loop */
	for (int i = 0; i < N; i++) {
		queue_wake(&f.px);
		assert_int_equal(nfired, i);	/* not from the caller's stack */
		assert_int_equal(run_fed(), 1);
		assert_int_equal(fired[i], i);
		assert_true(x[i].queue_woken);
	}
	/* more slots than waiting requests wake nobody twice */
	queue_wake(&f.px);
	assert_int_equal(run_fed(), 0);
	/* a woken one picks; one that timed out gets no slot */
	for (int i = 0; i < N; i++)
		assert_int_equal(queue_take(&s[i]), 1);
	assert_int_equal(f.px.metrics.queue_length, 0);
	teardown(NULL);
}

static void test_take_after_timeout(void **state)
{
	(void)state;
	setup(NULL);
	for (int i = 0; i < 3; i++)
		assert_int_equal(queue_enter(&s[i], 0), 0);
	queue_wake(&f.px);
	run_fed();
	/* s[1]'s timeout: it leaves unwoken, the others keep their places */
	assert_int_equal(queue_take(&s[1]), 0);
	assert_int_equal(s[1].queued, 0);
	assert_int_equal(f.px.metrics.queue_length, 2);
	queue_wake(&f.px);
	assert_int_equal(run_fed(), 1);
	assert_int_equal(fired[1], 2);
	assert_int_equal(queue_take(&s[0]), 1);
	assert_int_equal(queue_take(&s[2]), 1);
	assert_int_equal(f.px.metrics.queue_wait.count, 3);
	teardown(NULL);
}

static void test_cancel_passes_the_wake(void **state)
{
	static const struct {
		int leaving;		/* who goes away after the first wake */
		int next_fired;		/* who is woken by that, or -1 */
	} cases[] = {
		{ 0, 1 },		/* woken, then its client went away: the wake moves on */
		{ 1, -1 },		/* not woken: nobody is owed a slot */
		{ 2, -1 },
	};
	(void)state;

	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		setup(NULL);
		for (int i = 0; i < 3; i++)
			assert_int_equal(queue_enter(&s[i], 0), 0);
		queue_wake(&f.px);
		assert_int_equal(run_fed(), 1);
		queue_leave(&s[cases[c].leaving]);
		assert_int_equal(s[cases[c].leaving].queued, 0);
		assert_int_equal(f.px.metrics.queue_length, 2);
		if (cases[c].next_fired == -1) {
			assert_int_equal(run_fed(), 0);
		} else {
			assert_int_equal(run_fed(), 1);
			assert_int_equal(fired[1], cases[c].next_fired);
		}
		teardown(NULL);
	}
}

static void test_front_keeps_its_wait(void **state)
{
	(void)state;
	setup(NULL);
	f.opts.queue_timeout = 5;
	f.opts.queue_size = 2;
	assert_int_equal(queue_enter(&s[0], 0), 0);
	assert_int_equal(queue_enter(&s[1], 0), 0);
	/* s[0] was woken but lost its slot: back at the front, past the size,
	 * with what is left of its wait */
	queue_wake(&f.px);
	run_fed();
	assert_int_equal(queue_take(&s[0]), 1);
	x[0].queued_at = ev_now(f.px.loop) - 4;
	assert_int_equal(queue_enter(&s[0], 1), 0);
	assert_int_equal(f.px.metrics.queue_length, 2);
	assert_true(s[0].timer.repeat > 0.99 && s[0].timer.repeat <= 1.0);
	assert_false(x[0].queue_woken);
	queue_wake(&f.px);
	assert_int_equal(run_fed(), 1);
	assert_int_equal(fired[1], 0);
	/* its time is up: the timer says so at once */
	queue_leave(&s[0]);
	run_fed();
	x[0].queued_at = ev_now(f.px.loop) - 60;
	assert_int_equal(queue_enter(&s[0], 1), 0);
	assert_true(s[0].timer.repeat == 0.001);
	teardown(NULL);
}

static void test_wake_room(void **state)
{
	static const struct {
		long max;		/* --max-per-backend */
		unsigned active[3];	/* in flight at each backend */
		int down;		/* backend 2 is down */
		int woken;		/* of N queued */
	} cases[] = {
		{ 2, { 2, 2, 2 }, 0, 0 },
		{ 2, { 1, 2, 2 }, 0, 1 },
		{ 2, { 0, 1, 2 }, 0, 3 },
		{ 2, { 0, 0, 0 }, 0, N },
		{ 2, { 2, 2, 0 }, 1, 0 },	/* a down backend has no room */
		{ 4, { 3, 4, 1 }, 0, 4 },
	};
	(void)state;

	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		setup(NULL);
		f.opts.max_per_backend = cases[c].max;
		f.opts.queue_size = N;
		fixture_set(&f.px.set, 3, NULL);
		for (int b = 0; b < 3; b++)
			f.px.set.items[b]->active = cases[c].active[b];
		if (cases[c].down)
			f.px.set.items[2]->state = BACKEND_DOWN;
		for (int i = 0; i < N; i++)
			assert_int_equal(queue_enter(&s[i], 0), 0);
		queue_wake_room(&f.px);
		/* the oldest ones (libev runs fed events in its own order) */
		for (int i = 0; i < N; i++)
			assert_int_equal(x[i].queue_woken, i < cases[c].woken);
		assert_int_equal(run_fed(), cases[c].woken);
		for (int i = 0; i < N; i++)
			queue_leave(&s[i]);
		run_fed();
		for (int b = 0; b < 3; b++)
			f.px.set.items[b]->active = 0;
		teardown(NULL);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_admission),
		cmocka_unit_test(test_wake_order),
		cmocka_unit_test(test_take_after_timeout),
		cmocka_unit_test(test_cancel_passes_the_wake),
		cmocka_unit_test(test_front_keeps_its_wait),
		cmocka_unit_test(test_wake_room),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
