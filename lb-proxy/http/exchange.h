/* exchange: one request and its response on a session, as HTTP (HAProxy's
 * http_ana), and forward's verdicts carried out. */
#ifndef LB_PROXY_EXCHANGE_H
#define LB_PROXY_EXCHANGE_H

#include "forward.h"
#include "session_state.h"

/* The steps return -1 when the session must close (the caller, session.c,
 * closes it), else 0. The request head read and decided (the proxy's own
 * answer, or forwarded), the response head rewritten, the bodies framed,
 * the exchange's end. */

/* Reads the next request head from s->in (SESSION_IDLE or SESSION_HEAD;
 * takes an exchange from the pool at its first byte); once it is complete
 * the request is answered by the proxy or forwarded. */
int exchange_request_step(struct session *s);
/* One pass over an exchange (SESSION_EXCHANGE): the request's body parsed
 * and sent, the response parsed and written to the client; at its end the
 * session idles for the next request or closes (SESSION_CLOSING). */
int exchange_step(struct session *s);
/* One pass over a tunnel (SESSION_TUNNEL, after a 101): bytes both ways. */
int exchange_tunnel_step(struct session *s);
/* Carries out forward's verdict v on s: nothing more (FORWARD_GOING,
 * FORWARD_DECLINED), the proxy's answer, the next attempt (FORWARD_RETRY,
 * as often as it takes), or -1 (FORWARD_CLOSE). */
int exchange_act(struct session *s, enum forward_verdict v);
/* Clears the response side for a (new) attempt. */
void exchange_response_reset(struct session *s);
/* The seconds until an idle connection closes, `left` being what its
 * keep-alive timeout has left: `left` unless the proxy is stopping; then a
 * random moment of the drain timeout (HAProxy's close-spread-time), not
 * before it has been idle a second. */
double exchange_idle_close_in(const struct session *s, double left);

#endif
