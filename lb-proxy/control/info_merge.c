/* info_merge: several workers' /info as one (see info_merge.h). Once per
 * admin request, off the request path. */
#include "info_merge.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

/* The counts each worker holds a share of; everything else is the first worker's. */
static const char *const top_sums[] = { "total_requests", NULL };
static const char *const backend_sums[] = {
	"requests_forwarded", "active", "errors", "connections", "idle_connections", NULL,
};
static const char *const queue_sums[] = { "length", "timeouts", "full", NULL };
static const char *const panic_sums[] = { "entered_total", NULL };
static const char *const breaker_sums[] = { "ejections_total", NULL };

/* dst[key] += src[key] for each key both hold as integers. */
static void add_keys(json_t *dst, const json_t *src, const char *const *keys)
{
	if (!json_is_object(dst) || !json_is_object(src))
		return;
	for (; *keys; keys++) {
		json_t *d = json_object_get(dst, *keys);
		const json_t *s = json_object_get(src, *keys);

		if (json_is_integer(d) && json_is_integer(s))
			json_integer_set(d, json_integer_value(d) + json_integer_value(s));
	}
}

/* The backend of `array` whose "address" is addr, or NULL. */
static const json_t *backend_find(const json_t *array, const char *addr)
{
	size_t i;
	const json_t *b;

	json_array_foreach(array, i, b) {
		const char *a = json_string_value(json_object_get(b, "address"));

		if (a && strcmp(a, addr) == 0)
			return b;
	}
	return NULL;
}

static void add_worker(json_t *base, const json_t *w)
{
	const json_t *wb = json_object_get(w, "backends");
	json_t *bb = json_object_get(base, "backends");
	size_t i;
	json_t *b;

	add_keys(base, w, top_sums);
	add_keys(json_object_get(base, "queue"), json_object_get(w, "queue"), queue_sums);
	add_keys(json_object_get(base, "panic"), json_object_get(w, "panic"), panic_sums);
	json_array_foreach(bb, i, b) {
		const char *addr = json_string_value(json_object_get(b, "address"));
		const json_t *o = addr ? backend_find(wb, addr) : NULL;

		if (!o)
			continue;
		add_keys(b, o, backend_sums);
		add_keys(json_object_get(b, "breaker"), json_object_get(o, "breaker"), breaker_sums);
	}
}

int info_merge(struct buf *out, const struct metrics_part *parts, size_t n)
{
	json_t **objs = calloc(n ? n : 1, sizeof(*objs));
	json_t *base = NULL, *list = json_array();
	char *text = NULL;
	int rc = -1;

	if (!objs || !list)
		goto out;
	for (size_t i = 0; i < n; i++) {
		json_t *o = json_loadb(parts[i].text, parts[i].len, 0, NULL);

		if (!json_is_object(o)) {
			json_decref(o);
			continue;
		}
		objs[i] = o;
		if (!base)
			base = json_deep_copy(o);
		else
			add_worker(base, o);
		json_array_append_new(list, json_pack("{s:i, s:i, s:O?, s:O?}", "worker",
						      (json_int_t)parts[i].worker, "pid",
						      (json_int_t)parts[i].pid, "total_requests",
						      json_object_get(o, "total_requests"), "uptime",
						      json_object_get(o, "uptime")));
	}
	if (!base)
		goto out;
	json_object_set(base, "workers", list);
	/* 15 digits: a worker's 5.4 stays 5.4, not 5.4000000000000004 */
	text = json_dumps(base, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(15));
	if (text && buf_append_str(out, text) == 0)
		rc = 0;
out:
	for (size_t i = 0; objs && i < n; i++)
		json_decref(objs[i]);
	free(objs);
	free(text);
	json_decref(base);
	json_decref(list);
	return rc;
}
