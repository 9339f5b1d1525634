/* grpc_call: a gRPC request's deadline and answers (see grpc_call.h). */
#include "grpc_call.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "log.h"
#include "timefmt.h"

/* The value of field `name` in s's request, or NULL. */
static const char *request_field(const struct session *s, const char *name, size_t *n)
{
	const struct http_msg *req = &s->x->req;
	int i = http_msg_find(req, name);

	if (i < 0)
		return NULL;
	*n = req->headers[i].value.len;
	return http_msg_ptr(req, req->headers[i].value);
}

void grpc_call_begin(struct session *s)
{
	static struct log_limit malformed;
	const char *v;
	size_t n;
	double seconds;
	unsigned long times;

	s->x->grpc = 0;
	s->x->grpc_deadline = 0;
	if (!s->tr.stream_id)
		return;
	v = request_field(s, "content-type", &n);
	if (!v || !grpc_wire_is_grpc(v, n))
		return;
	s->x->grpc = 1;
	v = request_field(s, "grpc-timeout", &n);
	if (!v)
		return;
	if (grpc_wire_timeout_parse(v, n, &seconds) == 0) {
		s->x->grpc_deadline = s->x->started + seconds;
		return;
	}
	times = log_every(&malformed, ev_now(s->px->loop), 1.0);
	if (times)
		log_warn("malformed grpc-timeout ignored: the value is 1 to 8 digits and a unit "
			 "(H M S m u n)", "value=\"%.*s\" request_id=\"%.*s\" times=%lu",
			 (int)(n > 32 ? 32 : n), v, (int)s->x->request_id_len, s->x->request_id, times);
}

int grpc_call_is_grpc(const struct session *s)
{
	return s->x && s->x->grpc && s->tr.stream_id;
}

double grpc_call_timeout(const struct session *s, double seconds)
{
	double left;

	if (!s->x || !s->x->grpc || s->x->grpc_deadline <= 0)
		return seconds;
	left = s->x->grpc_deadline - timefmt_mono();
	if (left < 0.001)
		left = 0.001;
	return left < seconds ? left : seconds;
}

int grpc_call_deadline_passed(const struct session *s)
{
	return s->x && s->x->grpc && s->x->grpc_deadline > 0 &&
	       timefmt_mono() >= s->x->grpc_deadline;
}

/* The start of the "grpc-timeout:" line in a head, or NULL. */
static char *find_field(char *h, size_t len)
{
	static const char name[] = "\ngrpc-timeout:";
	size_t k = sizeof(name) - 1;

	for (size_t i = 0; i + k <= len; i++)
		if (h[i] == '\n' && strncasecmp(h + i, name, k) == 0)
			return h + i + 1;
	return NULL;
}

int grpc_call_forward_timeout(struct session *s)
{
	struct buf *h = &s->x->up_head;
	char value[GRPC_TIMEOUT_MAX_LEN + 1], *line, *v, *end;
	size_t vlen, old;
	double left;

	if (!s->x || !s->x->grpc || s->x->grpc_deadline <= 0 || h->pos != 0)
		return 0;
	line = find_field(h->data, h->len);
	if (!line)
		return 0;
	v = line + 13;
	while (v < h->data + h->len && (*v == ' ' || *v == '\t'))
		v++;
	end = memchr(v, '\r', (size_t)(h->data + h->len - v));
	if (!end)
		return 0;
	left = s->x->grpc_deadline - timefmt_mono();
	vlen = grpc_wire_timeout_format(left, value);
	old = (size_t)(end - v);
	if (vlen > old) {
		size_t at = (size_t)(v - h->data);

		if (buf_reserve(h, vlen - old) == -1)
			return -1;
		v = h->data + at;	/* it may have moved */
		end = v + old;
	}
	memmove(v + vlen, end, (size_t)(h->data + h->len - end));
	memcpy(v, value, vlen);
	h->len = h->len + vlen - old;
	return 0;
}

void grpc_call_answer_fields(int status, int overloaded, const char *message, const char *fields,
			     char *out, size_t size)
{
	snprintf(out, size, "grpc-status: %d\r\ngrpc-message: %s\r\n%s",
		 (int)grpc_wire_status_for_http(status, overloaded), message, fields ? fields : "");
}
