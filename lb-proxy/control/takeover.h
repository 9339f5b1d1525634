/* takeover: a running lb-proxy hands its listening sockets to its replacement
 * over a Unix socket in the runtime dir (SCM_RIGHTS, as HAProxy's -x and
 * Envoy's hot restart), so no connection waiting in a listen queue is lost. */
#ifndef LB_PROXY_TAKEOVER_H
#define LB_PROXY_TAKEOVER_H

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

struct sockaddr_un;

/* The Unix socket address of path into sun. */
void takeover_unix_addr(const char *path, struct sockaddr_un *sun);
/* 1 when something accepts at path (never blocks: a Unix connect completes
 * or fails at once). */
int takeover_path_alive(const char *path);
/* Writes one whole message (with fds[0..nfds) when nfds > 0, as SCM_RIGHTS)
 * without blocking; returns 0 or -1. A fresh Unix connection has room for it. */
int takeover_send(int fd, const struct takeover_msg *m, const int *fds, int nfds);
/* Blocking receive of one whole message (SO_RCVTIMEO bounds it), with the
 * fds it carries into fds[*nfds] (at most TAKEOVER_NFDS_MAX; the caller owns
 * them). Returns 0 or -1. */
int takeover_recv(int fd, struct takeover_msg *m, size_t *got, int *fds, int *nfds);

#endif
