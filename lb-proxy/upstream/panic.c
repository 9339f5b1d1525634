/* panic: the panic threshold's decision per set, cached (see panic.h). */
#include "panic.h"

#include <math.h>
#include <stdio.h>

#include "log.h"

static unsigned threshold;	/* percent; 0: off */

void panic_set_threshold(unsigned percent)
{
	threshold = percent > PANIC_THRESHOLD_MAX ? PANIC_THRESHOLD_MAX : percent;
}

unsigned panic_threshold(void)
{
	return threshold;
}

int panic_available(const struct backend *b, double now)
{
	return b->state == BACKEND_UP && b->fail_until <= now &&
	       outlier_state_at(&b->outlier, now) != OUTLIER_OPEN;
}

/* The earlier of `next` and `t`, when t is still to come. */
static double earlier(double next, double t, double now)
{
	return t > now && t < next ? t : next;
}

static void compute(struct panic *p, const struct backend_set *set, double now)
{
	unsigned available = 0, of = 0;
	double next = INFINITY;
	int was = p->active;

	for (size_t i = 0; i < set->n; i++) {
		const struct backend *b = set->items[i];

		if (b->state != BACKEND_UP)
			continue;
		of++;
		available += (unsigned)panic_available(b, now);
		/* when an ejection runs out or a skip ends, it may count again */
		if (b->outlier.state == OUTLIER_OPEN)
			next = earlier(next, b->outlier.until, now);
		next = earlier(next, b->fail_until, now);
	}
	p->available = available;
	p->of = of;
	p->threshold = threshold;
	p->changes = backend_changes();
	p->next_check = next;
	p->computed++;
	p->active = of > 0 && (unsigned long long)available * 100 <
			      (unsigned long long)threshold * of;
	if (p->active && !was) {
		char msg[96];

		p->entered_total++;
		snprintf(msg, sizeof(msg), "panic: fewer than %u%% of backends available, "
			 "balancing across all of them", threshold);
		log_warn(msg, "available=%u of=%u threshold=%u", available, of, threshold);
	} else if (!p->active && was) {
		log_info("panic ended: enough backends available, balancing across those again",
			 "available=%u of=%u threshold=%u", available, of, threshold);
	}
}

int panic_check(struct panic *p, const struct backend_set *set, double now)
{
	if (p->changes != backend_changes() || p->threshold != threshold || now >= p->next_check)
		compute(p, set, now);
	return p->active;
}
