/* libFuzzer target for lb-proxy's HTTP/2 connections (http/h2_conn.c,
 * h2_stream.c, and the session and exchange code every stream goes through):
 * the connection preface and an empty SETTINGS, then any bytes, written into
 * one end of a socketpair whose other end is an lb-proxy client connection
 * (lb-proxy's modules as built, all but main.c), accepted and driven by its
 * own callbacks. The proxy has no backends: every stream whose request is
 * whole gets the proxy's own 503 through the whole exchange. Its frames are
 * read and dropped. Then the client leaves, and every session of the
 * connection (the connection's and its streams') must be closed. */
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "http/accept.h"
#include "http/proxy.h"
#include "log.h"
#include "upstream/balance_table.h"

#define MAX_ROUNDS 200		/* loop passes per drive */

static const char preface[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
			      "\x00\x00\x00\x04\x00\x00\x00\x00\x00";	/* SETTINGS, empty */

static struct proxy px;
static struct proxy_options opts;
static struct proxy_listener via;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	signal(SIGPIPE, SIG_IGN);
	log_setup("lb-proxy", LOG_ERROR, LOG_FORMAT_TEXT);
	opts.retries = 2;
	opts.queue_size = 4;
	opts.queue_timeout = 5;
	opts.connect_timeout = 5;
	opts.response_timeout = 60;
	opts.per_try_timeout = 60;
	opts.header_timeout = 10;
	opts.keepalive_timeout = 75;
	opts.idle_timeout = 60;
	opts.drain_timeout = 30;
	opts.max_header_size = 8192;
	opts.max_connections = 1000;
	opts.h2 = 1;
	opts.h2_max_concurrent_streams = 100;
	opts.h2_max_resets = 100;
	px.loop = ev_default_loop(0);
	px.opts = &opts;
	LIST_INIT(&px.sessions);
	TAILQ_INIT(&px.queue);
	if (balancer_rebuild(&px.balancer, balance_find("round-robin"), &px.set) == -1)
		return -1;
	accept_init(&px);
	via.l.data = &px;
	return 0;
}

/* Reads and drops what the proxy sent; 0 when it closed its side. */
static int drain(int fd)
{
	char buf[65536];
	ssize_t n;

	while ((n = read(fd, buf, sizeof(buf))) > 0)
		;
	return n == 0 ? 0 : 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sockaddr_in peer = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(0x7f000001) };
	int sv[2];
	size_t off = 0;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv) == -1)
		return 0;
	if (write(sv[1], preface, sizeof(preface) - 1) != (ssize_t)sizeof(preface) - 1) {
		close(sv[0]);
		close(sv[1]);
		return 0;
	}
	accept_on_accept(&via.l, sv[0], (const struct sockaddr *)&peer);
	for (int round = 0; round < MAX_ROUNDS && px.nsessions; round++) {
		if (off < size) {
			ssize_t n = write(sv[1], data + off, size - off);

			if (n > 0)
				off += (size_t)n;
		}
		ev_run(px.loop, EVRUN_NOWAIT);
		if (!drain(sv[1]))
			break;
		if (off == size && ev_pending_count(px.loop) == 0 && round > 4)
			break;
	}
	/* the client leaves: the connection and its streams close */
	shutdown(sv[1], SHUT_WR);
	for (int round = 0; round < MAX_ROUNDS && px.nsessions; round++) {
		ev_run(px.loop, EVRUN_NOWAIT);
		drain(sv[1]);
	}
	if (px.nsessions)
		__builtin_trap();	/* a connection the client left stayed open */
	close(sv[1]);
	return 0;
}
