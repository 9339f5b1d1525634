/* relay: moves a session's bytes: reads into its buffers, writes the parsed
 * bytes on, compacts what was sent (see relay.h). */
#include "relay.h"

#include <errno.h>
#include <string.h>

#include "http_limits.h"

/*
 * Writes `head` (from its pos) then data[*off, end) to t, one writev a
 * round, until all is written (returns 1), the fd would block (0) or fails
 * (-1). Written head bytes advance head->pos; the head is emptied once
 * written unless keep_head (a request head is kept for a retry). Written
 * data bytes advance *off and are added to *counted when not NULL.
 */
static int write_pair(struct transport *t, struct buf *head, int keep_head, const char *data, size_t *off,
		      size_t end, unsigned long long *counted)
{
	for (;;) {
		struct iovec iov[2];
		int n = 0;
		size_t hlen = buf_unread(head);
		ssize_t w;

		if (hlen) {
			iov[n].iov_base = buf_head(head);
			iov[n++].iov_len = hlen;
		}
		if (end > *off) {
			iov[n].iov_base = (char *)data + *off;
			iov[n++].iov_len = end - *off;
		}
		if (n == 0)
			return 1;
		w = transport_writev(t, iov, n);
		if (w == 0) {		/* no transport writes nothing: never loop on it */
			errno = EPIPE;
			return -1;
		}
		if (w == -1) {
			if (errno == EINTR)
				continue;
			return errno == EAGAIN ? 0 : -1;
		}
		if ((size_t)w < hlen) {
			head->pos += (size_t)w;
			continue;
		}
		if (keep_head)
			head->pos = head->len;
		else
			buf_reset(head);
		*off += (size_t)w - hlen;
		if (counted)
			*counted += (size_t)w - hlen;
	}
}

/* Writes what the client is owed; returns -1 on a fatal error. Nothing of a
 * response head goes out as received: until the whole head is parsed and
 * rewritten into `out`, the bytes parsed so far stay in uin. */
int relay_client_flush(struct session *s)
{
	struct exchange *x = s->x;
	size_t none = 0;
	int rc;

	if (x) {
		size_t end = s->resp_head_done ? x->uparse_off : x->usend_off;

		rc = write_pair(&s->tr, &s->out, 0, x->uin.data, &x->usend_off, end, &x->bytes_out);
	} else {	/* an answer before any request (plain HTTP on a TLS port) */
		rc = write_pair(&s->tr, &s->out, 0, NULL, &none, 0, NULL);
	}

	s->client_blocked = rc == 0;
	return rc == -1 ? -1 : 0;
}

/* Writes the request head and parsed body bytes to the backend; -1 on error. */
int relay_upstream_flush(struct session *s)
{
	size_t head_pos = s->x->up_head.pos, off = s->send_off;
	int rc = write_pair(&s->up->tr, &s->x->up_head, 1, s->in.data, &s->send_off, s->parse_off, NULL);

	if (s->x->up_head.pos != head_pos || s->send_off != off)
		s->req_sent_any = 1;
	s->up_blocked = rc == 0;
	return rc == -1 ? -1 : 0;
}

/* Makes room to read more client bytes, dropping what was sent. */
void relay_in_compact(struct session *s)
{
	size_t drop = s->send_off;

	/* sent bytes are a request's: a session without its exchange has none */
	if (drop == 0 || !s->x || s->state == SESSION_IDLE || s->state == SESSION_HEAD)
		return;
	if (drop > s->x->body_start)
		s->replayable = 0;
	memmove(s->in.data, s->in.data + drop, s->in.len - drop);
	s->in.len -= drop;
	s->parse_off -= drop;
	s->send_off = 0;
	s->x->body_start = s->x->body_start > drop ? s->x->body_start - drop : 0;
}

void relay_uin_compact(struct session *s)
{
	size_t drop = s->x->usend_off;

	if (drop == 0 || (s->x && s->x->resp.state == HTTP_MSG_HEAD && s->state == SESSION_EXCHANGE))
		return;
	memmove(s->x->uin.data, s->x->uin.data + drop, s->x->uin.len - drop);
	s->x->uin.len -= drop;
	s->x->uparse_off -= drop;
	s->x->usend_off = 0;
}

/*
 * One read from t into b, which gets a cached block with at least
 * HTTP_READ_CHUNK free. A read that fills the room tells the loop more is
 * waiting (no batching sleep before the next poll). Returns the transport's
 * read result (transport.h),
 * or -2 when no buffer could be had.
 */
ssize_t relay_read(struct session *s, struct transport *t, struct buf *b)
{
	size_t room;
	ssize_t n;

	buf_cache_take(b);
	if (buf_reserve(b, HTTP_READ_CHUNK) == -1)
		return -2;
	room = buf_room(b);
	n = transport_read(t, buf_tail(b), room);
	if (n > 0 && (size_t)n == room)
		s->px->bulk = 1;
	return n;
}

