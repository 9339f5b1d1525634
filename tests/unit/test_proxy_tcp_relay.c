/* Unit tests for lb-proxy/stream/tcp_relay.c: a TCP-mode session between
 * two socketpairs (the client's and the backend's), the loop run until
 * nothing moves: bytes both ways in order, back-pressure on a backend that
 * does not read, a FIN passed on (half-close, RFC 9293 section 3.6), the
 * PROXY v2 header and the bytes read before the backend was chosen first. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "net.h"
#include "stream/tcp_relay.h"

struct relay_fixture {
	struct tcp_proxy tp;
	struct tcp_session s;
	struct backend *be;
	int client, backend;		/* the test's ends of the two socketpairs */
	const char *closed;		/* why tp.session_close was called, or NULL */
};

static struct relay_fixture *current;

static void record_close(struct tcp_session *s, const char *why)
{
	struct ev_loop *loop = s->tp->loop;

	current->closed = why;
	ev_io_stop(loop, &s->crio);
	ev_io_stop(loop, &s->cwio);
	ev_io_stop(loop, &s->brio);
	ev_io_stop(loop, &s->bwio);
	ev_timer_stop(loop, &s->timer);
	close(s->cfd);
	close(s->bfd);
	s->cfd = s->bfd = -1;
}

static void nonblocking(int fd)
{
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
}

/* A session of a tcp_proxy on the default loop, relaying between two
 * socketpairs, with `pre` (n bytes) already read from the client. */
static void setup_relay(struct relay_fixture *f, const char *pre, size_t n, int proxy_v2)
{
	int c[2], b[2];
	struct net_addr na;
	char err[64];

	memset(f, 0, sizeof(*f));
	current = f;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, c), 0);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, b), 0);
	nonblocking(c[0]);
	nonblocking(b[0]);
	f->client = c[1];
	f->backend = b[1];
	f->tp.loop = ev_default_loop(0);
	f->tp.cfg.idle_timeout = 60;
	f->tp.cfg.send_proxy_v2 = proxy_v2;
	f->tp.session_close = record_close;
	assert_int_equal(net_parse_numeric("127.0.0.1:9", &na, err, sizeof(err)), 0);
	f->be = backend_new("127.0.0.1:9", &na, 1);
	f->s.tp = &f->tp;
	f->s.cfd = c[0];
	f->s.bfd = b[0];
	f->s.be = f->be;
	/* the client a PROXY v2 header would name: an AF_UNIX pair says LOCAL */
	f->s.peer.ss_family = AF_UNIX;
	ev_io_init(&f->s.crio, NULL, c[0], EV_READ);
	ev_io_init(&f->s.cwio, NULL, c[0], EV_WRITE);
	ev_io_init(&f->s.brio, NULL, b[0], EV_READ);
	ev_io_init(&f->s.bwio, NULL, b[0], EV_WRITE);
	ev_init(&f->s.timer, NULL);
	f->s.crio.data = f->s.cwio.data = f->s.brio.data = f->s.bwio.data = f->s.timer.data = &f->s;
	assert_int_equal(buf_reserve(&f->s.up.buf, BUF_CACHE_BLOCK), 0);
	assert_int_equal(buf_reserve(&f->s.down.buf, BUF_CACHE_BLOCK), 0);
	assert_int_equal(buf_append(&f->s.up.buf, pre, n), 0);
	tcp_relay_start(&f->s);
}

static void teardown_relay(struct relay_fixture *f)
{
	if (!f->closed)
		record_close(&f->s, "test over");
	buf_release(&f->s.up.buf);
	buf_release(&f->s.down.buf);
	close(f->client);
	close(f->backend);
	backend_unref(f->be);
}

/* Runs the loop until a pass handles nothing (the watchers' fds are ready
 * at once or not at all on a socketpair). */
static void settle(struct relay_fixture *f)
{
	for (int i = 0; i < 200; i++)
		ev_run(f->tp.loop, EVRUN_NOWAIT);
}

/* Reads what the peer has now (non-blocking), up to n bytes. */
static size_t drain(int fd, char *out, size_t n)
{
	size_t got = 0;
	ssize_t r;

	while (got < n && (r = recv(fd, out + got, n - got, MSG_DONTWAIT)) > 0)
		got += (size_t)r;
	return got;
}

static void test_bytes_both_ways_in_order(void **state)
{
	struct relay_fixture f;
	char got[64];
	(void)state;

	setup_relay(&f, "first ", 6, 0);
	assert_int_equal(write(f.client, "second", 6), 6);
	settle(&f);
	assert_int_equal(drain(f.backend, got, sizeof(got)), 12);
	assert_memory_equal(got, "first second", 12);
	assert_int_equal(write(f.backend, "answer", 6), 6);
	settle(&f);
	assert_int_equal(drain(f.client, got, sizeof(got)), 6);
	assert_memory_equal(got, "answer", 6);
	assert_int_equal(f.s.up.bytes, 6);	/* what the relay read; pre counts in the session */
	assert_int_equal(f.be->bytes_in, 6);
	assert_int_equal(f.be->bytes_out, 6);
	assert_null(f.closed);
	teardown_relay(&f);
}

/* A backend that does not read: the relay stops reading the client once its
 * buffer is full, and every byte arrives, in order, once the backend reads. */
static void test_back_pressure_stops_reading_the_client(void **state)
{
	static char chunk[4096], got[1 << 20];
	struct relay_fixture f;
	size_t sent = 0, total = 0;
	ssize_t w;
	(void)state;

	for (size_t i = 0; i < sizeof(chunk); i++)
		chunk[i] = (char)('a' + i % 26);
	setup_relay(&f, "", 0, 0);
	nonblocking(f.client);
	/* write until the client's own socket is full: the proxy holds at most
	 * its 32 KiB buffer plus the two socket buffers */
	for (int rounds = 0; rounds < 2000; rounds++) {
		w = write(f.client, chunk + sent % sizeof(chunk), sizeof(chunk) - sent % sizeof(chunk));
		if (w > 0)
			sent += (size_t)w;
		settle(&f);
		if (w == -1 && errno == EAGAIN)
			break;
	}
	assert_true(w == -1 && errno == EAGAIN);
	assert_false(ev_is_active(&f.s.crio));		/* not reading the client */
	assert_true(ev_is_active(&f.s.bwio));		/* waiting for the backend */
	assert_int_equal(buf_unread(&f.s.up.buf), BUF_CACHE_BLOCK);
	/* the backend reads: everything arrives */
	while (total < sent) {
		size_t n = drain(f.backend, got + total, sizeof(got) - total);

		total += n;
		settle(&f);
		if (n == 0 && total < sent)
			assert_true(ev_is_active(&f.s.bwio) || ev_is_active(&f.s.crio));
	}
	assert_int_equal(total, sent);
	for (size_t i = 0; i < total; i++)
		if (got[i] != (char)('a' + (i % sizeof(chunk)) % 26))
			fail_msg("byte %zu out of order", i);
	assert_null(f.closed);
	teardown_relay(&f);
}

/* The client's FIN becomes the backend's EOF; the backend's answer still
 * reaches the client; both FINs passed on, the session ends "done". */
static void test_half_close(void **state)
{
	struct relay_fixture f;
	char got[64];
	(void)state;

	setup_relay(&f, "", 0, 0);
	assert_int_equal(write(f.client, "query", 5), 5);
	shutdown(f.client, SHUT_WR);
	settle(&f);
	assert_int_equal(drain(f.backend, got, sizeof(got)), 5);
	assert_int_equal(recv(f.backend, got, sizeof(got), MSG_DONTWAIT), 0);	/* EOF */
	assert_null(f.closed);
	assert_int_equal(write(f.backend, "result", 6), 6);
	settle(&f);
	assert_int_equal(drain(f.client, got, sizeof(got)), 6);
	assert_memory_equal(got, "result", 6);
	assert_null(f.closed);		/* the backend has not finished */
	shutdown(f.backend, SHUT_WR);
	settle(&f);
	assert_string_equal(f.closed, "done");
	teardown_relay(&f);
}

/* --send-proxy-v2: the header goes before the bytes read first. */
static void test_proxy_v2_header_first(void **state)
{
	struct relay_fixture f;
	char got[64];
	(void)state;

	setup_relay(&f, "\x16\x03\x01", 3, 1);
	settle(&f);
	/* AF_UNIX ends: LOCAL, 16 bytes */
	assert_int_equal(drain(f.backend, got, sizeof(got)), 16 + 3);
	assert_memory_equal(got, PROXY_V2_SIGNATURE "\x20\x00\x00\x00", 16);
	assert_memory_equal(got + 16, "\x16\x03\x01", 3);
	teardown_relay(&f);
}

/* A backend gone (its FIN passed on to the client) that the client still
 * writes to: the write fails and the session ends. */
static void test_backend_reset_ends_the_session(void **state)
{
	struct relay_fixture f;
	(void)state;

	setup_relay(&f, "", 0, 0);
	close(f.backend);
	f.backend = -1;
	assert_int_equal(write(f.client, "x", 1), 1);
	settle(&f);
	assert_string_equal(f.closed, "backend reset");
	teardown_relay(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bytes_both_ways_in_order),
		cmocka_unit_test(test_back_pressure_stops_reading_the_client),
		cmocka_unit_test(test_half_close),
		cmocka_unit_test(test_proxy_v2_header_first),
		cmocka_unit_test(test_backend_reset_ends_the_session),
	};

	signal(SIGPIPE, SIG_IGN);	/* as lb-proxy does (common/signals.c) */
	return cmocka_run_group_tests(tests, NULL, NULL);
}
