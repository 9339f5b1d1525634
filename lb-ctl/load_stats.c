/* load_stats: lb-ctl load's counters, latency histogram and report (see load_stats.h). */
#include "load_stats.h"

#include <jansson.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static const char *const error_keys[LOAD_ERR_KINDS] = { "connect", "closed", "timeout",
							 "malformed" };
static const char *const error_names[LOAD_ERR_KINDS] = { "connect failed", "reset/closed early",
							  "timeout", "malformed response" };
static const double percentiles[] = { 50, 90, 99, 99.9 };
static const char *const percentile_keys[] = { "p50", "p90", "p99", "p99.9" };
#define NPERCENTILES (sizeof(percentiles) / sizeof(percentiles[0]))

void load_stats_init(struct load_stats *s)
{
	memset(s, 0, sizeof(*s));
}

/* The bucket of a latency of us microseconds: exact below LOAD_HIST_SUB,
 * then LOAD_HIST_SUB per power of two. */
static unsigned hist_index(uint64_t us)
{
	unsigned top, shift;

	if (us >= (uint64_t)1 << LOAD_HIST_TOP_BITS)
		us = ((uint64_t)1 << LOAD_HIST_TOP_BITS) - 1;
	if (us < LOAD_HIST_SUB)
		return (unsigned)us;
	top = 63 - (unsigned)__builtin_clzll(us);
	shift = top - LOAD_HIST_SUB_BITS;
	return (shift + 1) * LOAD_HIST_SUB + (unsigned)(us >> shift) - LOAD_HIST_SUB;
}

/* The middle of bucket i, in microseconds. */
static double hist_value(unsigned i)
{
	unsigned shift;
	uint64_t low;

	if (i < LOAD_HIST_SUB)
		return i;
	shift = i / LOAD_HIST_SUB - 1;
	low = (uint64_t)(i % LOAD_HIST_SUB + LOAD_HIST_SUB) << shift;
	return (double)low + (double)(((uint64_t)1 << shift) - 1) / 2;
}

/* Finds or adds the backend called name; NULL past LOAD_BACKENDS_MAX. */
static struct load_backend *backend_of(struct load_stats *s, const char *name, size_t len)
{
	char clean[LOAD_BACKEND_NAME_MAX];

	if (len >= sizeof(clean))
		len = sizeof(clean) - 1;
	/* the name goes into a table and a JSON string: printable ASCII only */
	for (size_t i = 0; i < len; i++)
		clean[i] = name[i] >= 0x20 && name[i] < 0x7f ? name[i] : '?';
	clean[len] = '\0';
	for (unsigned i = 0; i < s->nbackends; i++)
		if (strcmp(s->backends[i].name, clean) == 0)
			return &s->backends[i];
	if (s->nbackends == LOAD_BACKENDS_MAX)
		return NULL;
	memcpy(s->backends[s->nbackends].name, clean, len + 1);
	return &s->backends[s->nbackends++];
}

void load_stats_response(struct load_stats *s, int status, const char *name, size_t len,
			 double latency)
{
	uint64_t us = latency > 0 ? (uint64_t)llround(latency * 1e6) : 0;
	struct load_backend *b;

	s->responses++;
	s->hist[hist_index(us)]++;
	s->latency_sum_us += us;
	if (us > s->latency_max_us)
		s->latency_max_us = us;
	if (status >= 0 && status < LOAD_STATUS_MAX)
		s->status[status]++;
	b = name && len ? backend_of(s, name, len) : backend_of(s, "-", 1);
	if (b)
		b->count++;
	else
		s->other_backends++;
}

void load_stats_error(struct load_stats *s, enum load_error kind)
{
	s->errors[kind]++;
}

const char *load_stats_error_key(enum load_error kind)
{
	return error_keys[kind];
}

double load_stats_percentile(const struct load_stats *s, double percent)
{
	unsigned long long want, seen = 0;

	if (s->responses == 0)
		return 0;
	want = (unsigned long long)ceil(percent / 100 * (double)s->responses);
	if (want < 1)
		want = 1;
	for (unsigned i = 0; i < LOAD_HIST_BUCKETS; i++) {
		seen += s->hist[i];
		if (seen >= want)
			return fmin(hist_value(i), (double)s->latency_max_us) / 1e6;
	}
	return (double)s->latency_max_us / 1e6;
}

static unsigned long long errors_total(const struct load_stats *s)
{
	unsigned long long n = 0;

	for (int k = 0; k < LOAD_ERR_KINDS; k++)
		n += s->errors[k];
	return n;
}

static double mean_seconds(const struct load_stats *s)
{
	return s->responses ? (double)s->latency_sum_us / (double)s->responses / 1e6 : 0;
}

static int by_count(const void *a, const void *b)
{
	const struct load_backend *x = *(const struct load_backend *const *)a;
	const struct load_backend *y = *(const struct load_backend *const *)b;

	if (x->count != y->count)
		return x->count < y->count ? 1 : -1;
	return strcmp(x->name, y->name);
}

static void print_backends(const struct load_stats *s, FILE *out)
{
	const struct load_backend *sorted[LOAD_BACKENDS_MAX];
	unsigned n = 0;

	for (unsigned i = 0; i < s->nbackends; i++)
		if (s->backends[i].count)
			sorted[n++] = &s->backends[i];
	qsort(sorted, n, sizeof(sorted[0]), by_count);
	fprintf(out, "\n%-32s %10s %7s\n", "BACKEND (X-Served-By)", "COUNT", "SHARE");
	for (unsigned i = 0; i < n; i++)
		fprintf(out, "%-32s %10llu %6.1f%%\n", sorted[i]->name, sorted[i]->count,
			100.0 * (double)sorted[i]->count / (double)s->responses);
	if (s->other_backends)
		fprintf(out, "%-32s %10llu %6.1f%%\n", "other", s->other_backends,
			100.0 * (double)s->other_backends / (double)s->responses);
}

void load_stats_print_table(const struct load_stats *s, const struct load_run *run, FILE *out)
{
	double rps = run->duration > 0 ? (double)s->responses / run->duration : 0;

	fprintf(out, "%s  %u connection%s, ", run->url, run->connections,
		run->connections == 1 ? "" : "s");
	if (run->rate > 0)
		fprintf(out, "open loop at %g req/s: latency from each request's due time\n",
			run->rate);
	else
		fprintf(out, "closed loop: latency from each request's send\n");
	fprintf(out, "\n%10s %10s %10s %10s\n", "REQUESTS", "DURATION", "REQ/S", "ERRORS");
	fprintf(out, "%10llu %9.2fs %10.1f %10llu\n", s->responses, run->duration, rps,
		errors_total(s));
	if (run->unsent)
		fprintf(out, "(and %llu request%s due but never sent: every connection was busy; "
			"more -c?)\n", run->unsent, run->unsent == 1 ? "" : "s");
	fprintf(out, "\n%-12s", "LATENCY");
	for (size_t i = 0; i < NPERCENTILES; i++)
		fprintf(out, " %9s", percentile_keys[i]);
	fprintf(out, " %9s %9s\n%-12s", "max", "mean", "ms");
	if (s->responses == 0) {
		for (size_t i = 0; i < NPERCENTILES + 2; i++)
			fprintf(out, " %9s", "-");
	} else {
		for (size_t i = 0; i < NPERCENTILES; i++)
			fprintf(out, " %9.3f", load_stats_percentile(s, percentiles[i]) * 1e3);
		fprintf(out, " %9.3f %9.3f", (double)s->latency_max_us / 1e3, mean_seconds(s) * 1e3);
	}
	fprintf(out, "\n\n%-20s %10s\n", "ERROR", "COUNT");
	for (int k = 0; k < LOAD_ERR_KINDS; k++)
		fprintf(out, "%-20s %10llu\n", error_names[k], s->errors[k]);
	fprintf(out, "\n%-20s %10s %7s\n", "STATUS", "COUNT", "SHARE");
	for (int st = 0; st < LOAD_STATUS_MAX; st++)
		if (s->status[st])
			fprintf(out, "%-20d %10llu %6.1f%%\n", st, s->status[st],
				100.0 * (double)s->status[st] / (double)s->responses);
	if (s->responses)
		print_backends(s, out);
	else
		fprintf(out, "(no response)\n");
}

/* Milliseconds rounded to the microsecond, the histogram's unit. */
static json_t *json_ms(double seconds)
{
	return json_real(round(seconds * 1e6) / 1e3);
}

int load_stats_print_json(const struct load_stats *s, const struct load_run *run, FILE *out)
{
	json_t *doc = json_object(), *errors = json_object(), *latency = json_object();
	json_t *status = json_object(), *backends = json_object();
	double rps = run->duration > 0 ? (double)s->responses / run->duration : 0;
	char key[16];
	int rc = -1;

	if (!doc || !errors || !latency || !status || !backends)
		goto out;
	json_object_set_new(doc, "url", json_string(run->url));
	json_object_set_new(doc, "connections", json_integer(run->connections));
	json_object_set_new(doc, "rate", run->rate > 0 ? json_real(run->rate) : json_null());
	json_object_set_new(doc, "duration_s", json_real(round(run->duration * 1e3) / 1e3));
	json_object_set_new(doc, "requests", json_integer((json_int_t)s->responses));
	json_object_set_new(doc, "rps", json_real(round(rps * 10) / 10));
	json_object_set_new(doc, "unsent", json_integer((json_int_t)run->unsent));
	for (int k = 0; k < LOAD_ERR_KINDS; k++)
		json_object_set_new(errors, error_keys[k], json_integer((json_int_t)s->errors[k]));
	for (size_t i = 0; i < NPERCENTILES; i++)
		json_object_set_new(latency, percentile_keys[i],
				    s->responses ? json_ms(load_stats_percentile(s, percentiles[i]))
						 : json_null());
	json_object_set_new(latency, "max",
			    s->responses ? json_ms((double)s->latency_max_us / 1e6) : json_null());
	json_object_set_new(latency, "mean", s->responses ? json_ms(mean_seconds(s)) : json_null());
	for (int st = 0; st < LOAD_STATUS_MAX; st++) {
		if (!s->status[st])
			continue;
		snprintf(key, sizeof(key), "%d", st);
		json_object_set_new(status, key, json_integer((json_int_t)s->status[st]));
	}
	for (unsigned i = 0; i < s->nbackends; i++)
		if (s->backends[i].count)
			json_object_set_new(backends, s->backends[i].name,
					    json_integer((json_int_t)s->backends[i].count));
	if (s->other_backends)
		json_object_set_new(backends, "other", json_integer((json_int_t)s->other_backends));
	json_object_set(doc, "errors", errors);
	json_object_set(doc, "latency_ms", latency);
	json_object_set(doc, "status", status);
	json_object_set(doc, "backends", backends);
	if (json_dumpf(doc, out, JSON_COMPACT | JSON_REAL_PRECISION(12)) == 0) {
		fputc('\n', out);
		rc = 0;
	}
out:
	json_decref(doc);
	json_decref(errors);
	json_decref(latency);
	json_decref(status);
	json_decref(backends);
	return rc;
}
