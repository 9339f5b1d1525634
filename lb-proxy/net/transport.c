/* transport: the plain-socket transport (the inline calls of transport.h
 * bypass these ops; they serve callers that go through the table). */
#include "transport.h"

static ssize_t plain_read(struct transport *t, void *buf, size_t len)
{
	return read(t->fd, buf, len);
}

static ssize_t plain_writev(struct transport *t, const struct iovec *iov, int n)
{
	return writev(t->fd, iov, n);
}

static void plain_shutdown_write(struct transport *t)
{
	shutdown(t->fd, SHUT_WR);
}

static void plain_close(struct transport *t)
{
	close(t->fd);
}

static size_t plain_pending(const struct transport *t)
{
	(void)t;
	return 0;
}

const struct transport_ops transport_plain_ops = {
	.name = "plain",
	.read = plain_read,
	.writev = plain_writev,
	.shutdown_write = plain_shutdown_write,
	.close = plain_close,
	.pending = plain_pending,
};
