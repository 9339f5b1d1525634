/* libFuzzer target for lb-echo's connection handling: a byte stream, written
 * in pieces the input chooses, into one end of a socketpair whose other end
 * is an lb-echo connection (lb-echo's modules as built, all but main.c),
 * accepted and driven by their own callbacks; its answers are read and dropped.
 *
 * Input: byte 0 is n; the next n % 33 bytes (as many as there are) are steps,
 * taken in turn and cycled; the rest is what the client sends. A step s > 0
 * writes the next s bytes, s == 0 lets time pass (fires the connection's
 * armed timer: an injected delay ends, a deadline expires). No steps: the
 * stream is written at once. Then the client shuts down its side, and the
 * connection must close within a few deadlines. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "echo_server.h"
#include "log.h"

#define MAX_STEPS 32
#define MAX_ZERO_STEPS 64	/* time passes at most this often per input */
#define MAX_ROUNDS 1000		/* loop passes per drive; a quiet connection needs one */
#define CLOSE_DEADLINES 8	/* deadlines a connection may take to close after EOF */

static struct echo_options opts = {
	.listen = "127.0.0.1:0",	/* bound, never started: connections come from here */
	.service_name = "backend",
	.max_body = 128 * 1024,		/* /bytes/N crosses the pattern block */
	.max_header_size = 4096,	/* small enough for 431 within -max_len */
	.access_log = 0,
	.idle_timeout = 60,
	.drain_timeout = 1,
};
static struct ev_loop *loop;
static struct echo_server srv;
static unsigned invoked;	/* callbacks run by the last loop pass */

static void invoke_counting(struct ev_loop *l)
{
	invoked += ev_pending_count(l);
	ev_invoke_pending(l);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char err[256];
	(void)argc;
	(void)argv;

	signal(SIGPIPE, SIG_IGN);
	log_setup("lb-echo", LOG_ERROR, LOG_FORMAT_TEXT);
	loop = ev_loop_new(EVFLAG_AUTO);
	ev_set_invoke_pending_cb(loop, invoke_counting);
	srv.id.pod_name = "fuzz";
	srv.id.service = "backend";
	if (echo_server_init(&srv, loop, &opts, err, sizeof(err)) == -1) {
		fprintf(stderr, "fuzz_echo_conn: %s\n", err);
		abort();
	}
	return 0;
}

static struct echo_conn *open_conn(void)
{
	return LIST_FIRST(&srv.conns);
}

/* Reads what the connection sent; returns the byte count. */
static size_t drain(int client, char *first, size_t *nfirst)
{
	static char sink[64 * 1024];
	size_t total = 0;
	ssize_t n;

	while ((n = read(client, sink, sizeof(sink))) > 0) {
		size_t keep = (size_t)n < 9 - *nfirst ? (size_t)n : 9 - *nfirst;

		memcpy(first + *nfirst, sink, keep);
		*nfirst += keep;
		total += (size_t)n;
	}
	return total;
}

/* Loop passes until one runs no callback and brings no output. */
static void drive(int client, char *first, size_t *nfirst)
{
	for (int round = 0; round < MAX_ROUNDS; round++) {
		struct echo_conn *c;
		size_t got;

		invoked = 0;
		ev_run(loop, EVRUN_NOWAIT);
		got = drain(client, first, nfirst);
		c = open_conn();
		/* [0, parse_off) of `in` is parsed: never past what was read. */
		if (c && c->parse_off > c->in.len) {
			fprintf(stderr, "parse_off %zu past in.len %zu\n", c->parse_off, c->in.len);
			abort();
		}
		if (!invoked && !got)
			return;
	}
}

static void fire_timer(void)
{
	struct echo_conn *c = open_conn();

	if (c && ev_is_active(&c->timer))
		ev_feed_event(loop, &c->timer, EV_TIMER);
}

/* Writes n bytes, letting the connection read when the socket is full;
 * returns -1 when it stopped reading for good. */
static int send_bytes(int client, const uint8_t *p, size_t n, char *first, size_t *nfirst)
{
	while (n > 0) {
		ssize_t w = write(client, p, n);

		if (w == -1) {
			if (errno != EAGAIN || !open_conn())
				return -1;
			drive(client, first, nfirst);
			if (!invoked)
				return -1;
			continue;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sockaddr_in peer = { .sin_family = AF_INET, .sin_port = htons(40000),
				    .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	size_t nsteps, off, k = 0, nfirst = 0, zero_steps = 0;
	const uint8_t *steps = data + 1;
	char first[9];
	int sv[2];

	if (size == 0)
		return 0;
	nsteps = data[0] % (MAX_STEPS + 1);
	if (nsteps > size - 1)
		nsteps = size - 1;
	off = 1 + nsteps;
	/* Faults set by an input end with it; the error draws replay. */
	fault_clear(&srv.fault);
	srv.fault.rng = 88172645463325252ULL;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) == -1) {
		perror("socketpair");
		abort();
	}
	srv.listener.on_accept(&srv.listener, sv[0], (const struct sockaddr *)&peer);
	while (off < size && open_conn()) {
		size_t n = nsteps ? steps[k++ % nsteps] : size - off;

		if (n == 0) {
			if (++zero_steps > MAX_ZERO_STEPS)
				n = size - off;
			else
				fire_timer();
		}
		if (n > 0) {
			n = n < size - off ? n : size - off;
			if (send_bytes(sv[1], data + off, n, first, &nfirst) == -1)
				break;
			off += n;
		}
		drive(sv[1], first, &nfirst);
	}
	shutdown(sv[1], SHUT_WR);
	drive(sv[1], first, &nfirst);
	for (int i = 0; i < CLOSE_DEADLINES && open_conn(); i++) {
		fire_timer();
		drive(sv[1], first, &nfirst);
	}
	if (open_conn()) {
		fprintf(stderr, "the connection is still open after the client left (state %d)\n",
			open_conn()->state);
		abort();
	}
	/* Whatever it sent, a connection's first bytes are a status line. */
	if (nfirst == sizeof(first) && memcmp(first, "HTTP/1.1 ", sizeof(first)) != 0) {
		fprintf(stderr, "the answer starts with \"%.9s\"\n", first);
		abort();
	}
	close(sv[1]);
	return 0;
}
