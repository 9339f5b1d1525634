/* takeover: a running lb-proxy hands its listening sockets to its replacement
 * over a Unix socket in the runtime dir (SCM_RIGHTS, as HAProxy's -x and
 * Envoy's hot restart), so no connection waiting in a listen queue is lost. */
#ifndef LB_PROXY_TAKEOVER_H
#define LB_PROXY_TAKEOVER_H

#include <ev.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/*
 * The exchange, one fixed-size message each way at a time:
 *   new -> old  HELLO                     (asks for the sockets)
 *   old -> new  SOCKETS + 2 or 3 fds      (client listener, admin, second client listener)
 *   new -> old  STOP                      (the new one accepts now)
 *   old -> new  STOPPING                  (the old one stopped accepting; it drains)
 * A new proxy that closes the connection before STOP leaves the old one
 * serving as before. Bump TAKEOVER_VERSION if any of these change.
 */
#define TAKEOVER_MAGIC 0x4b54424cu	/* "LBTK" in little-endian byte order */
#define TAKEOVER_VERSION 2
#define TAKEOVER_ADDR_MAX 64		/* an address as net_addr_format writes it */
#define TAKEOVER_NFDS 2			/* the client listener, then the admin listener */
#define TAKEOVER_NFDS_MAX 3		/* then a second client listener (listen2) */
/* The new proxy's wait for each answer, and the old one's for a HELLO. */
#define TAKEOVER_TIMEOUT_SECONDS 5.0
/* The socket's name in the runtime dir: one per client port, so proxies
 * on one runtime dir with different ports do not collide. */
#define TAKEOVER_SOCKET_FORMAT "%s/lb-proxy-takeover-%u.sock"

enum takeover_type {
	TAKEOVER_HELLO = 1,	/* new -> old: send me your listening sockets */
	TAKEOVER_SOCKETS,	/* old -> new: the addresses; the fds ride along */
	TAKEOVER_STOP,		/* new -> old: I accept now: stop accepting and drain */
	TAKEOVER_STOPPING,	/* old -> new: no longer accepting; draining */
};

struct takeover_msg {
	uint32_t magic;
	uint16_t version;
	uint16_t type;			/* enum takeover_type */
	uint32_t pid;			/* the sender's */
	uint32_t nfds;			/* SOCKETS: TAKEOVER_NFDS, +1 with listen2; else 0 */
	uint32_t tls;			/* SOCKETS: bit 0 listen speaks TLS, bit 1 listen2 */
	char listen[TAKEOVER_ADDR_MAX];	/* SOCKETS: the client listener's bound address */
	char admin[TAKEOVER_ADDR_MAX];	/* SOCKETS: the admin listener's */
	char listen2[TAKEOVER_ADDR_MAX];	/* SOCKETS: the second client listener's, or "" */
};

/* Fills a message of `type` from this process. */
void takeover_msg_init(struct takeover_msg *m, enum takeover_type type);
/* Validates a received message of `len` bytes that should be of type
 * `want`: size, magic, version, type, fd count, terminated addresses.
 * Returns 0, or -1 with err saying what is wrong. */
int takeover_msg_check(const struct takeover_msg *m, size_t len, enum takeover_type want,
		       char *err, size_t errsz);
/* The socket path for client port `port` in `rundir` into out. Returns 0,
 * or -1 with err filled when it does not fit a Unix socket address. */
int takeover_path(const char *rundir, unsigned port, char *out, size_t outsz, char *err,
		  size_t errsz);

/* ---- the running proxy's side ------------------------------------------------- */

enum takeover_peer_state {
	TAKEOVER_PEER_NONE = 0,	/* no replacement connected */
	TAKEOVER_PEER_HELLO,	/* connected: its HELLO is awaited (timer runs) */
	TAKEOVER_PEER_SENT,	/* it has the sockets: its STOP (or its leaving) is awaited */
};

typedef void (*takeover_stop_cb)(void *data);

struct takeover_server {
	struct ev_loop *loop;
	int fd;				/* the listening Unix socket, -1 when none */
	ev_io io;
	int peer;			/* the replacement's connection, -1 when none */
	ev_io peer_io;
	ev_timer peer_timer;		/* TAKEOVER_TIMEOUT_SECONDS for its HELLO */
	enum takeover_peer_state state;
	struct takeover_msg in;		/* what the peer sent so far */
	size_t got;
	dev_t dev;			/* the socket file, to unlink only our own */
	ino_t ino;
	char path[108];
	int listen_fd, admin_fd, listen2_fd;	/* handed over, never closed here */
	char listen_name[TAKEOVER_ADDR_MAX], admin_name[TAKEOVER_ADDR_MAX];
	char listen2_name[TAKEOVER_ADDR_MAX];	/* "" without a second listener */
	unsigned tls;			/* as takeover_msg.tls */
	takeover_stop_cb on_stop;	/* the peer serves now: stop accepting and drain */
	void *data;
};

/*
 * Offers listen_fd and admin_fd (named by their bound addresses) at `path`,
 * and listen2_fd when listen2_name is not "" (-1 and "" without one); `tls`
 * says which client listeners speak TLS (bit 0 listen, bit 1 listen2),
 * replacing a socket file nobody accepts on (a dead proxy's). The server
 * does not own the fds. When a replacement has them and says STOP,
 * on_stop(data) runs once, after the STOPPING answer was written; the
 * server is closed by then. Returns 0, or -1 with err filled (a live
 * proxy already offers this path: the caller logs it and goes on without).
 */
int takeover_server_init(struct takeover_server *t, struct ev_loop *loop, const char *path,
			 int listen_fd, const char *listen_name, int admin_fd,
			 const char *admin_name, int listen2_fd, const char *listen2_name,
			 unsigned tls, takeover_stop_cb on_stop, void *data, char *err,
			 size_t errsz);
/* Closes the server and its peer; unlinks the path if it is still ours. */
void takeover_server_release(struct takeover_server *t);

/* ---- the replacement's side --------------------------------------------------- */

/* After takeover_finish: ok is 1 when the old proxy said it stopped
 * accepting, 0 when it did not answer in time (both serve meanwhile). */
typedef void (*takeover_done_cb)(void *data, int ok);

struct takeover_client {
	struct ev_loop *loop;
	int conn;			/* to the old proxy, -1 when done */
	ev_io io;
	ev_timer timer;			/* TAKEOVER_TIMEOUT_SECONDS for STOPPING */
	pid_t old_pid;
	int listen_fd, admin_fd, listen2_fd;	/* received; the caller takes them (-1: none) */
	struct takeover_msg in;		/* STOPPING, as it arrives */
	size_t got;
	takeover_done_cb on_done;
	void *data;
};

/*
 * At start-up, before the loop (it blocks up to TAKEOVER_TIMEOUT_SECONDS
 * per step): connects to `path` and receives the old proxy's listening
 * sockets, checking they are bound to `listen_name`, `listen2_name` ("":
 * no second listener) and `admin_name` (as net_addr_format writes them; a
 * name with port 0 matches its host on any port) and speak TLS as `tls`
 * says (bit 0 listen, bit 1 listen2). Returns 1 with c->listen_fd, c->listen2_fd and
 * c->admin_fd set (the caller owns them), 0 when no proxy accepts at path
 * (nothing to take over), or -1 with err filled.
 */
int takeover_fetch(struct takeover_client *c, const char *path, const char *listen_name,
		   const char *listen2_name, unsigned tls, const char *admin_name, char *err,
		   size_t errsz);
/* Once this proxy accepts on the sockets: tells the old one to stop
 * (without blocking); its answer is read in the loop, logged, and
 * on_done(data, ok) runs once. Returns 0, or -1 (logged; on_done does not
 * run and the old proxy keeps serving beside this one). */
int takeover_finish(struct takeover_client *c, struct ev_loop *loop, takeover_done_cb on_done,
		    void *data);
void takeover_client_release(struct takeover_client *c);

#endif
