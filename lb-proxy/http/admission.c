/* admission: --rate-limit at a request's door (see admission.h). */
#include "admission.h"

#include "answer.h"
#include "policy/hashkey.h"

int admission_rate_limited(struct session *s)
{
	struct proxy *px = s->px;
	const struct http_msg *req = &s->x->req;
	struct ratelimit_verdict v;
	const char *key = "";
	size_t klen = 0;

	if (px->rate_key.kind == HASHKEY_CLIENT_IP)
		key = hashkey_client_ip(&px->trusted, s->client_ip, req, &klen);
	else if (!hashkey_find(&px->rate_key, req, &s->x->route, NULL, 0, &key, &klen)) {
		key = "";
		klen = 0;
	}
	if (ratelimit_take(&px->rate, balance_hash(key, klen), ev_now(px->loop), &v))
		return 0;
	s->x->refusal = "rate limited";
	/* A body already read whole is skipped, so the connection goes on; one
	 * still to come closes it after the answer (as after a 503). */
	if (req->state == HTTP_MSG_BODY)
		s->parse_off += http_msg_feed(&s->x->req, s->in.data, s->parse_off,
					      s->in.len - s->parse_off);
	s->req_done = req->state == HTTP_MSG_DONE;
	answer_rate_limited(s, &v);
	return 1;
}
