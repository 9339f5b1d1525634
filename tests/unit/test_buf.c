/* Unit tests for common/buf.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"

static void test_append_grows_and_keeps_bytes(void **state)
{
	struct buf b = BUF_INIT;
	char chunk[1000];
	(void)state;

	memset(chunk, 'x', sizeof(chunk));
	for (int i = 0; i < 100; i++)
		assert_int_equal(buf_append(&b, chunk, sizeof(chunk)), 0);
	assert_int_equal(b.len, 100000);
	assert_true(b.cap >= b.len);
	assert_int_equal(buf_unread(&b), 100000);
	buf_release(&b);
	assert_null(b.data);
	assert_int_equal(b.cap, 0);
}

static void test_appendf_long(void **state)
{
	struct buf b = BUF_INIT;
	char big[5000];
	(void)state;

	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(buf_appendf(&b, "%d-%s-%d", 1, big, 2), 0);
	assert_int_equal(b.len, 4999 + 4);
	assert_memory_equal(b.data, "1-aaa", 5);
	assert_memory_equal(b.data + b.len - 2, "-2", 2);
	buf_release(&b);
}

static void test_consume_and_compact(void **state)
{
	struct buf b = BUF_INIT;
	(void)state;

	buf_append_str(&b, "hello world");
	buf_consume(&b, 6);
	assert_int_equal(buf_unread(&b), 5);
	assert_memory_equal(buf_head(&b), "world", 5);
	buf_compact(&b);
	assert_int_equal(b.pos, 0);
	assert_memory_equal(b.data, "world", 5);
	buf_consume(&b, 5);
	assert_int_equal(b.len, 0);
	assert_int_equal(b.pos, 0);
	assert_non_null(b.data);	/* storage kept for reuse */
	buf_release(&b);
}

static void test_json_escape(void **state)
{
	static const struct {
		const char *in;
		const char *out;
	} cases[] = {
		{ "plain", "plain" },
		{ "a\"b", "a\\\"b" },
		{ "back\\slash", "back\\\\slash" },
		{ "nl\nx\ty\r", "nl\\nx\\ty\\r" },
		{ "\x01\x1f", "\\u0001\\u001f" },
		{ "\xc3\xa9", "\xc3\xa9" },
	};
	(void)state;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct buf b = BUF_INIT;

		buf_append_json_escaped(&b, cases[i].in, strlen(cases[i].in));
		buf_append(&b, "", 1);
		assert_string_equal(b.data, cases[i].out);
		buf_release(&b);
	}
}

/* buf_write_fd: all out (1), a full pipe (0, the rest kept), a reader gone (-1) */
static void test_write_fd(void **state)
{
	struct buf b = BUF_INIT;
	char chunk[4096], got[16];
	int fds[2];
	(void)state;

	signal(SIGPIPE, SIG_IGN);
	assert_int_equal(pipe(fds), 0);
	assert_int_equal(fcntl(fds[1], F_SETFL, O_NONBLOCK), 0);
	buf_append(&b, "hello", 5);
	assert_int_equal(buf_write_fd(&b, fds[1]), 1);
	assert_int_equal(buf_unread(&b), 0);
	assert_int_equal(read(fds[0], got, sizeof(got)), 5);
	assert_memory_equal(got, "hello", 5);
	memset(chunk, 'x', sizeof(chunk));
	for (int i = 0; i < 64; i++)		/* more than a pipe holds (64 KiB) */
		buf_append(&b, chunk, sizeof(chunk));
	assert_int_equal(buf_write_fd(&b, fds[1]), 0);
	assert_true(buf_unread(&b) > 0 && buf_unread(&b) < 64 * sizeof(chunk));
	close(fds[0]);
	assert_int_equal(buf_write_fd(&b, fds[1]), -1);
	assert_int_equal(errno, EPIPE);
	close(fds[1]);
	buf_release(&b);
}

/* buf_read_fd appends what one read gives, says 0 at end of file and -1
 * EAGAIN when nothing is there yet. */
static void test_read_fd(void **state)
{
	struct buf b = BUF_INIT;
	int fds[2];

	(void)state;
	assert_int_equal(pipe2(fds, O_NONBLOCK), 0);
	assert_int_equal(buf_append_str(&b, "ab"), 0);
	errno = 0;
	assert_int_equal(buf_read_fd(&b, fds[0], 16), -1);
	assert_int_equal(errno, EAGAIN);
	assert_int_equal(b.len, 2);
	assert_int_equal(write(fds[1], "cdef", 4), 4);
	assert_int_equal(buf_read_fd(&b, fds[0], 16), 4);
	assert_int_equal(b.len, 6);
	assert_memory_equal(b.data, "abcdef", 6);
	assert_true(buf_room(&b) >= 12);
	close(fds[1]);
	assert_int_equal(buf_read_fd(&b, fds[0], 16), 0);
	assert_int_equal(b.len, 6);
	close(fds[0]);
	buf_release(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_append_grows_and_keeps_bytes),
		cmocka_unit_test(test_appendf_long),
		cmocka_unit_test(test_consume_and_compact),
		cmocka_unit_test(test_json_escape),
		cmocka_unit_test(test_write_fd),
		cmocka_unit_test(test_read_fd),
	};
	return cmocka_run_group_tests_name("buf", tests, NULL, NULL);
}
