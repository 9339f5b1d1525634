/* spans: lb-discover's own spans (see spans.h). */
#include "spans.h"

#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "otlp_export.h"
#include "traceparent.h"

static struct otlp_export *exporter;
static double sample_ratio;

void spans_configure(struct otlp_export *e, double sample)
{
	exporter = e;
	sample_ratio = sample;
}

uint64_t spans_now(struct ev_loop *loop)
{
	return (uint64_t)(ev_now(loop) * 1e9);
}

/* Ids: random, never all zero (W3C Trace Context 3.2.2.3, 3.2.2.4); a
 * xorshift generator seeded once from the kernel. */
static uint64_t next_random(void)
{
	static uint64_t s;

	if (!s && (getrandom(&s, sizeof(s), 0) != (ssize_t)sizeof(s) || !s))
		s = 0x9e3779b97f4a7c15ULL ^ (uint64_t)time(NULL);
	s ^= s << 13;
	s ^= s >> 7;
	s ^= s << 17;
	return s;
}

static void random_id(uint8_t *out, size_t n)
{
	for (size_t i = 0; i < n; i += 8) {
		uint64_t r = next_random();	/* never 0: xorshift's state never is */

		memcpy(out + i, &r, 8);
	}
}

void spans_begin(struct spans_ctx *c, const char *traceparent, size_t n, uint64_t now)
{
	struct trace_context in;

	memset(c, 0, sizeof(*c));
	if (!exporter)
		return;
	c->start_ns = now;
	random_id(c->span_id, 8);
	if (traceparent && traceparent_parse(traceparent, n, &in) == 0) {
		memcpy(c->trace_id, in.trace_id, 16);
		memcpy(c->parent_id, in.span_id, 8);
		c->has_parent = 1;
		c->recording = (in.flags & TRACE_FLAG_SAMPLED) != 0;	/* parent-based */
		return;
	}
	random_id(c->trace_id, 16);
	c->recording = sample_ratio >= 1.0 ||
		       (sample_ratio > 0 && (double)(next_random() >> 11) / 9007199254740992.0 <
						    sample_ratio);
}

struct otlp_span *spans_record(const struct spans_ctx *c, enum otlp_span_kind kind,
			       const char *name, uint64_t end)
{
	struct otlp_span *sp;

	if (!exporter || !c->recording || !(sp = otlp_export_slot(exporter)))
		return NULL;
	memcpy(sp->trace_id, c->trace_id, 16);
	memcpy(sp->span_id, c->span_id, 8);
	memcpy(sp->parent_id, c->parent_id, 8);
	sp->has_parent = c->has_parent;
	sp->kind = kind;
	otlp_span_name(sp, name, strlen(name));
	sp->start_ns = c->start_ns;
	sp->end_ns = end < c->start_ns ? c->start_ns : end;
	return sp;
}

void spans_commit(void)
{
	otlp_export_commit(exporter);
}

void spans_stats(struct otlp_export_stats *out)
{
	memset(out, 0, sizeof(*out));
	if (exporter)
		otlp_export_stats(exporter, out);
}
