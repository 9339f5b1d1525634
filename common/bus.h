/* bus: lb's message bus over nanomsg ipc:// sockets in the runtime dir. Every
 * nanomsg call of lb is in bus.c, so the transport (e.g. NNG) can be swapped there. */
#ifndef LB_BUS_H
#define LB_BUS_H

#include <ev.h>
#include <stddef.h>

enum bus_kind {
	BUS_PUB = 0,	/* lb-discover: publishes sets */
	BUS_SUB,	/* lb-proxy, lb-ctl watch: receive sets */
	BUS_PUSH,	/* lb-proxy: sends reports */
	BUS_PULL,	/* lb-discover: receives reports */
	BUS_REQ,	/* lb-ctl: control requests */
	BUS_REP,	/* lb-discover: control replies */
};

struct bus;
/* A received message; `data` is valid during the call only. */
typedef void (*bus_message_cb)(struct bus *b, const char *data, size_t len);

struct bus {
	int sock;
	enum bus_kind kind;
	char path[256];		/* the ipc socket file */
	struct ev_loop *loop;
	ev_io io;		/* on NN_RCVFD */
	bus_message_cb on_message;
	void *data;
};

/*
 * Opens a socket of `kind` on DIR/NAME.sock: PUB, PULL and REP bind (a stale
 * socket file of a dead process is replaced; a live one is an error),
 * the others connect (nanomsg reconnects by itself). Every socket receives
 * at most BUS_MAX_MESSAGE bytes a message: nanomsg drops a peer that
 * announces more. Returns 0 or -1 + err.
 */
int bus_open(struct bus *b, enum bus_kind kind, const char *dir, const char *name, char *err,
	     size_t errsz);
/* Calls cb for every message received, from the loop (receiving with
 * NN_DONTWAIT until EAGAIN, as NN_RCVFD is level-triggered). */
void bus_watch(struct bus *b, struct ev_loop *loop, bus_message_cb cb, void *data);
/* Sends without blocking; returns 0, or -1 (dropped: nobody listens, or full,
 * or over BUS_MAX_MESSAGE, which is logged). */
int bus_send(struct bus *b, const void *data, size_t len);
/* Blocking round trip for a REQ socket (for lb-ctl, outside any loop):
 * sends, waits up to timeout_ms for the reply into *reply (malloc'd, NUL-
 * terminated). Returns 0 or -1 + err. */
int bus_request(struct bus *b, const void *data, size_t len, char **reply, size_t *reply_len,
		int timeout_ms, char *err, size_t errsz);
/* Blocking receive (lb-ctl watch); returns 0 or -1 on timeout/error. */
int bus_receive(struct bus *b, char **msg, size_t *len, int timeout_ms);
void bus_close(struct bus *b);
/* 1 when something accepts connections at DIR/NAME.sock. */
int bus_alive(const char *dir, const char *name);

#endif
