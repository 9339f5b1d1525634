/* fault: the injected faults of lb-echo (delay, error rate, failing health). */
#ifndef LB_ECHO_FAULT_H
#define LB_ECHO_FAULT_H

#include <stddef.h>

#include "buf.h"

struct fault {
	long delay_ms;		/* every ordinary request waits this long */
	double error_rate;	/* this fraction of ordinary requests answers 500 */
	int health_fail;	/* /health and /ready answer 503 */
	unsigned long long rng;	/* xorshift state */
};

void fault_init(struct fault *f, long delay_ms, double error_rate);
/* Applies a JSON object {"delayMs":N,"errorRate":F,"health":"fail"|"ok"};
 * absent keys keep their value. Returns 0, or -1 with a message in err. */
int fault_update(struct fault *f, const char *json, size_t len, char *err, size_t errsz);
/* Back to no fault at all. */
void fault_clear(struct fault *f);
/* 1 when this request should fail, drawn with the error rate. */
int fault_should_fail(struct fault *f);
/* Appends the state as a JSON object. */
int fault_to_json(const struct fault *f, struct buf *out);

#endif
