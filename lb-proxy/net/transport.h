/* transport: the bytes of one connection under the session and relay code:
 * a plain socket, or TLS over it (transport_tls.c), behind one set of ops
 * (redis's ConnectionType, HAProxy's xprt). */
#ifndef LB_PROXY_TRANSPORT_H
#define LB_PROXY_TRANSPORT_H

#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>

struct transport;

/*
 * What a transport does. read and writev return what read(2)/writev(2) do:
 * bytes moved, 0 at the peer's end (read), or -1 with errno (EAGAIN: try
 * again once the kernel signals the direction `want_read`/`want_write` say).
 */
struct transport_ops {
	const char *name;
	ssize_t (*read)(struct transport *t, void *buf, size_t len);
	ssize_t (*writev)(struct transport *t, const struct iovec *iov, int n);
	/* Ends the sending direction (close_notify for TLS, then SHUT_WR). */
	void (*shutdown_write)(struct transport *t);
	/* Frees the transport's state and closes the fd. */
	void (*close)(struct transport *t);
	/* Bytes already read from the kernel the caller has not had: the fd
	 * will not become readable for them. */
	size_t (*pending)(const struct transport *t);
	/* A transport with no fd of its own (fd -1: an HTTP/2 stream) hears
	 * after each pass whether its owner waits to read; it signals the
	 * owner's watchers itself. NULL for a socket. */
	void (*want_read)(struct transport *t, int on);
};

enum transport_want {
	TRANSPORT_WANT_NONE = 0,	/* nothing is waiting on the fd */
	TRANSPORT_WANT_READ,		/* retry once the fd is readable */
	TRANSPORT_WANT_WRITE,		/* retry once the fd is writable */
};

/* One connection's transport: embedded in its owner (no allocation for a
 * plain socket). */
struct transport {
	const struct transport_ops *ops;
	int fd;
	void *ssl;			/* TLS: the SSL object, else NULL */
	/* After a read or writev returned EAGAIN: the direction it waits for
	 * (a TLS read may need the fd writable, a write readable). */
	enum transport_want read_want, write_want;
	unsigned handshake_done : 1;	/* TLS: the handshake completed */
	unsigned failed : 1;		/* TLS: a fatal error (no close_notify) */
	unsigned plain_http : 1;	/* TLS: the peer spoke plain HTTP */
	unsigned read_more : 1;		/* TLS: a read filled its room with bytes left */
	unsigned connect_side : 1;	/* TLS: we connected (to a backend) */
	unsigned over_tls : 1;		/* a stream of a client connection that speaks TLS */
	const char *tls_version;	/* over_tls: the connection's ("1.3"), static */
	unsigned stream_id;		/* HTTP/2: the stream this transport carries, else 0 */
	void *stream;			/* HTTP/2: the stream's state (fd is -1), else NULL */
};

extern const struct transport_ops transport_plain_ops;

/* Makes t a plain socket over fd (t owns fd from now on). */
static inline void transport_plain_init(struct transport *t, int fd)
{
	t->ops = &transport_plain_ops;
	t->fd = fd;
	t->ssl = NULL;
	t->read_want = t->write_want = TRANSPORT_WANT_NONE;
	t->handshake_done = 1;
	t->failed = t->plain_http = t->read_more = t->connect_side = 0;
	t->over_tls = 0;
	t->tls_version = NULL;
	t->stream_id = 0;
	t->stream = NULL;
}

/* The calls the session and relay make. A plain socket takes a direct path
 * (a compare, then the syscall); others go through their ops. */
static inline ssize_t transport_read(struct transport *t, void *buf, size_t len)
{
	if (t->ops == &transport_plain_ops)
		return read(t->fd, buf, len);
	return t->ops->read(t, buf, len);
}

static inline ssize_t transport_writev(struct transport *t, const struct iovec *iov, int n)
{
	if (t->ops == &transport_plain_ops)
		return writev(t->fd, iov, n);
	return t->ops->writev(t, iov, n);
}

static inline size_t transport_pending(const struct transport *t)
{
	if (t->ops == &transport_plain_ops)
		return 0;
	return t->ops->pending(t);
}

static inline void transport_shutdown_write(struct transport *t)
{
	t->ops->shutdown_write(t);
}

/* Closes t (and its fd); t may be initialised again after. */
static inline void transport_close(struct transport *t)
{
	t->ops->close(t);
	t->fd = -1;
}

#endif
