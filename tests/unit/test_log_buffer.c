/* Unit tests for common/log_buffer.c: lines wait for the loop's pass, a
 * reader that stops reading never blocks the writer (lines dropped and
 * counted), writes to a pipe are whole lines, and stop writes what waits. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "log_buffer.h"
#include "timefmt.h"

struct pipe_fixture {
	struct ev_loop *loop;
	int rd, wr;
};

static int setup(void **state)
{
	static struct pipe_fixture f;
	int fds[2];

	if (pipe(fds) == -1)
		return -1;
	f.rd = fds[0];
	f.wr = fds[1];
	/* a page: the smallest pipe, full after a few lines */
	fcntl(f.wr, F_SETPIPE_SZ, 4096);
	fcntl(f.rd, F_SETFL, O_NONBLOCK);
	f.loop = ev_loop_new(EVFLAG_AUTO);
	log_setup("lb-proxy", LOG_INFO, LOG_FORMAT_TEXT);
	*state = &f;
	return 0;
}

static int teardown(void **state)
{
	struct pipe_fixture *f = *state;

	log_buffer_stop(0);
	ev_loop_destroy(f->loop);
	close(f->rd);
	close(f->wr);
	return 0;
}

/* Reads what the pipe holds now. */
static size_t drain(int fd, char *out, size_t outsz)
{
	size_t n = 0;
	ssize_t r;

	while (n < outsz && (r = read(fd, out + n, outsz - n)) > 0)
		n += (size_t)r;
	return n;
}

static unsigned lines_in(const char *p, size_t n)
{
	unsigned lines = 0;

	for (size_t i = 0; i < n; i++)
		lines += p[i] == '\n';
	return lines;
}

static void test_lines_wait_for_the_pass_then_go_in_one_write(void **state)
{
	struct pipe_fixture *f = *state;
	char got[8192];
	char err[256];

	assert_int_equal(log_buffer_start(f->loop, f->wr, err, sizeof(err)), 0);
	for (int i = 0; i < 10; i++)
		assert_int_equal(log_write(LOG_INFO, "request", "n=%d", i), 0);
	/* nothing written yet: the lines wait for the end of the pass */
	assert_int_equal(drain(f->rd, got, sizeof(got)), 0);
	ev_run(f->loop, EVRUN_NOWAIT);
	size_t n = drain(f->rd, got, sizeof(got));
	assert_int_equal(lines_in(got, n), 10);
	assert_non_null(strstr(got, "INFO request n=0\n"));
	assert_non_null(strstr(got, "INFO request n=9\n"));
	/* the pipe itself stays blocking: its other holders are not changed */
	assert_int_equal(fcntl(f->wr, F_GETFL) & O_NONBLOCK, 0);
}

static void test_a_reader_that_stops_never_blocks_and_lines_are_counted(void **state)
{
	struct pipe_fixture *f = *state;
	unsigned long long before = log_buffer_dropped();
	unsigned refused = 0, logged = 0;
	static char got[1 << 16];
	char err[256];
	double t0;

	assert_int_equal(log_buffer_start(f->loop, f->wr, err, sizeof(err)), 0);
	/* far more than the pipe and the buffer hold, with passes in between;
	 * nothing reads: every call returns */
	for (unsigned i = 0; i < 3 * LOG_BUFFER_LIMIT / 64; i++) {
		if (log_write(LOG_INFO, "request", "n=%u pad=%s", i, "0123456789abcdef") == -1)
			refused++;
		logged++;
		if (i % 100 == 0)
			ev_run(f->loop, EVRUN_NOWAIT);
	}
	assert_true(refused > 0);
	assert_int_equal(log_buffer_dropped() - before, refused);
	/* stop waits its bound for the reader, no more, and counts the rest */
	t0 = timefmt_mono();
	log_buffer_stop(0.2);
	assert_true(timefmt_mono() - t0 < 1.0);
	size_t n = drain(f->rd, got, sizeof(got));
	assert_true(n > 0);
	/* what reached the pipe is whole lines */
	assert_int_equal(got[n - 1], '\n');
	assert_int_equal(strncmp(got, "[lb-proxy] ", 11), 0);
	for (char *nl = memchr(got, '\n', n); nl && nl + 1 < got + n;
	     nl = memchr(nl + 1, '\n', (size_t)(got + n - nl - 1)))
		assert_int_equal(strncmp(nl + 1, "[lb-proxy] ", 11), 0);
	assert_int_equal(lines_in(got, n) + (log_buffer_dropped() - before), logged);
}

static void test_stop_writes_what_waits(void **state)
{
	struct pipe_fixture *f = *state;
	char got[8192];
	char err[256];

	assert_int_equal(log_buffer_start(f->loop, f->wr, err, sizeof(err)), 0);
	for (int i = 0; i < 5; i++)
		log_write(LOG_INFO, "draining", "n=%d", i);
	log_buffer_stop(1.0);
	size_t n = drain(f->rd, got, sizeof(got));
	assert_int_equal(lines_in(got, n), 5);
	assert_non_null(strstr(got, "INFO draining n=4\n"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_lines_wait_for_the_pass_then_go_in_one_write,
						setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_a_reader_that_stops_never_blocks_and_lines_are_counted, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stop_writes_what_waits, setup, teardown),
	};
	return cmocka_run_group_tests_name("log_buffer", tests, NULL, NULL);
}
