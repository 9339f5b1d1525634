/* fault: the injected faults of lb-echo (delay, error rate, failing health). */
#include "fault.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

void fault_init(struct fault *f, long delay_ms, double error_rate)
{
	f->delay_ms = delay_ms;
	f->error_rate = error_rate;
	f->health_fail = 0;
	f->rng = (unsigned long long)time(NULL) * 2654435761ULL ^ (unsigned long long)getpid() << 17;
	if (f->rng == 0)
		f->rng = 88172645463325252ULL;
}

void fault_clear(struct fault *f)
{
	f->delay_ms = 0;
	f->error_rate = 0;
	f->health_fail = 0;
}

int fault_update(struct fault *f, const char *json, size_t len, char *err, size_t errsz)
{
	json_error_t jerr;
	json_t *root = json_loadb(json, len, 0, &jerr), *v;
	struct fault next = *f;
	const char *key;
	int rc = -1;

	if (!root) {
		snprintf(err, errsz, "invalid JSON at line %d column %d: %s", jerr.line, jerr.column,
			 jerr.text);
		return -1;
	}
	if (!json_is_object(root)) {
		snprintf(err, errsz, "the fault must be a JSON object");
		goto out;
	}
	json_object_foreach(root, key, v) {
		if (strcmp(key, "delayMs") == 0) {
			if (!json_is_integer(v) || json_integer_value(v) < 0 ||
			    json_integer_value(v) > 600000) {
				snprintf(err, errsz, "\"delayMs\" must be an integer from 0 to 600000");
				goto out;
			}
			next.delay_ms = (long)json_integer_value(v);
		} else if (strcmp(key, "errorRate") == 0) {
			if (!json_is_number(v) || json_number_value(v) < 0 || json_number_value(v) > 1) {
				snprintf(err, errsz, "\"errorRate\" must be a number from 0 to 1");
				goto out;
			}
			next.error_rate = json_number_value(v);
		} else if (strcmp(key, "health") == 0) {
			const char *s = json_string_value(v);

			if (!s || (strcmp(s, "fail") != 0 && strcmp(s, "ok") != 0)) {
				snprintf(err, errsz, "\"health\" must be \"fail\" or \"ok\"");
				goto out;
			}
			next.health_fail = strcmp(s, "fail") == 0;
		} else {
			snprintf(err, errsz, "unknown key \"%s\" (use delayMs, errorRate, health)", key);
			goto out;
		}
	}
	*f = next;
	rc = 0;
out:
	json_decref(root);
	return rc;
}

int fault_should_fail(struct fault *f)
{
	unsigned long long x = f->rng;

	if (f->error_rate <= 0)
		return 0;
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	f->rng = x;
	return (double)(x >> 11) / 9007199254740992.0 < f->error_rate;
}

int fault_to_json(const struct fault *f, struct buf *out)
{
	return buf_appendf(out, "{\"delayMs\":%ld,\"errorRate\":%g,\"health\":\"%s\"}", f->delay_ms,
			   f->error_rate, f->health_fail ? "fail" : "ok");
}
