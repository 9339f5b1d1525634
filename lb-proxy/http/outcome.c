/* outcome: the one hook for an attempt's end on a backend (see outcome.h). */
#include "outcome.h"

#include "proxy.h"
#include "upstream/outlier.h"

/* 1 when a run of failures grew to `now`, up to its threshold: what the
 * fleet's sum needs at once (past it, the max-percent holds it back, and a
 * report per failure would only cost). */
static int run_grew(unsigned before, unsigned now, unsigned threshold)
{
	return now > before && now <= threshold;
}

void outcome_record(struct proxy *px, struct balancer *bl, struct backend_set *set,
		    struct backend *b, enum outcome kind, int status, double seconds)
{
	double now = ev_now(px->loop);
	int cls = status / 100;

	enum outlier_state state;
	unsigned runs_5xx, runs_gateway;

	if (!b)
		return;
	state = b->outlier.state;
	runs_5xx = b->outlier.consecutive_5xx;
	runs_gateway = b->outlier.consecutive_gateway;
	switch (kind) {
	case OUTCOME_RESPONSE_DROPPED:
		b->errors++;
		b->failures[BACKEND_FAILURE_STATUS]++;
		/* and the backend's own answer, as any */
		/* fall through */
	case OUTCOME_RESPONSE:
		b->responses[cls >= 1 && cls <= 5 ? cls : 0]++;
		if (cls == 5)
			b->answered_5xx++;
		histogram_observe(&b->latency, seconds);
		balancer_outcome(bl, b, 0, seconds);
		/* Envoy's consecutive_5xx: any 5xx; its gateway rule: 502-504 */
		outlier_record(b, status >= 502 && status <= 504 ? OUTLIER_GATEWAY
				  : status >= 500 ? OUTLIER_5XX : OUTLIER_SUCCESS, now, set);
		break;
	case OUTCOME_CONNECT_FAILED:
	case OUTCOME_CONNECT_TIMEOUT:
		b->errors++;
		px->metrics.connect_errors++;
		/* nginx's max_fails=1: skip it for a while rather than retry it on
		 * every request. */
		backend_mark_failed(b, now + px->opts->fail_timeout,
				    kind == OUTCOME_CONNECT_TIMEOUT ? BACKEND_FAILURE_TIMEOUT
								    : BACKEND_FAILURE_CONNECT);
		balancer_outcome(bl, b, 1, seconds);
		outlier_record(b, kind == OUTCOME_CONNECT_TIMEOUT ? OUTLIER_TIMEOUT : OUTLIER_CONNECT,
			       now, set);
		break;
	case OUTCOME_RESET:
		b->errors++;
		b->failures[BACKEND_FAILURE_RESET]++;
		balancer_outcome(bl, b, 1, seconds);
		outlier_record(b, OUTLIER_RESET, now, set);
		break;
	case OUTCOME_TIMEOUT:
		b->errors++;
		b->failures[BACKEND_FAILURE_TIMEOUT]++;
		balancer_outcome(bl, b, 1, seconds);
		outlier_record(b, OUTLIER_TIMEOUT, now, set);
		break;
	case OUTCOME_PROXY_ANSWER:
		b->responses[cls >= 1 && cls <= 5 ? cls : 0]++;
		histogram_observe(&b->latency, seconds);
		break;
	}
	if (px->breaker_changed && (state != b->outlier.state || run_grew(runs_5xx,
				    b->outlier.consecutive_5xx, outlier_config()->max_5xx) ||
				    run_grew(runs_gateway, b->outlier.consecutive_gateway,
					     outlier_config()->max_gateway)))
		px->breaker_changed(px);
}
