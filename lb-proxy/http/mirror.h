/* mirror: the Gateway API's RequestMirror: a copy of a routed request (its
 * head as the backend gets it, its body as the client framed it) sent to a
 * backend of the mirror's Service, fire-and-forget: the answer is read and
 * dropped, and nothing of the copy (its failure, its slowness) reaches the
 * client's exchange or any backend's outlier state.
 *
 * Copies are bounded: at most --mirror-max-inflight at once per proxy (past
 * it a copy is dropped), a body of at most --mirror-max-body (past it the
 * copy is skipped), --mirror-timeout for its whole life. Each copy's buffer
 * and response parser come from a free list that keeps them (at most
 * --mirror-max-inflight of them), so mirroring costs no allocation per
 * request once the list holds what the traffic needs. */
#ifndef LB_PROXY_MIRROR_H
#define LB_PROXY_MIRROR_H

#include "buf.h"
#include "policy/headers.h"
#include "session_state.h"
#include "upstream/service.h"

/* What became of a mirror copy (lb_proxy_mirror_requests_total{result}). */
enum mirror_result {
	MIRROR_SENT = 0,	/* "sent": went out, its answer was read and dropped */
	MIRROR_FAILED,		/* "failed": connect, write or read failed, or a bad answer */
	MIRROR_TIMED_OUT,	/* "timeout": not done within --mirror-timeout */
	MIRROR_NO_BACKEND,	/* "no_backend": the Service is unresolved or has no usable backend */
	MIRROR_DROPPED,		/* "dropped": --mirror-max-inflight copies were in flight */
	MIRROR_TOO_LARGE,	/* "too_large": the body passed --mirror-max-body */
	MIRROR_ABORTED,		/* "aborted": the client's request did not arrive whole */
	MIRROR_RESULTS
};

/* The copies in progress of one exchange (the copy is private to mirror.c). */
struct mirror_copy;

/*
 * Starts a copy of s's request (its head complete, forwarded by a route)
 * for svc (NULL: unresolved, counted no_backend): the head as ctx rewrites
 * it for a backend, then the body as it is parsed (mirror_tee). The copy
 * joins s->x->mirrors. Never fails the request: a copy that cannot be made
 * is counted and forgotten.
 */
void mirror_begin(struct session *s, struct service *svc, const struct headers_ctx *ctx);
/* Body bytes [data, data + len) of x's request were parsed: appended to its
 * copies; `done`: the request is whole, its copies go (and leave x). */
void mirror_tee(struct exchange *x, const char *data, size_t len, int done);
/* x's request ended before it was whole: its copies are let go (aborted). */
void mirror_exchange_done(struct exchange *x);
/* Appends lb_proxy_mirror_requests_total and lb_proxy_mirror_in_flight. */
void mirror_render_metrics(struct buf *out);
/* Closes every copy in flight and frees the free list (at exit). */
void mirror_release(void);

#endif
