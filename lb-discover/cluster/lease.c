/* lease: a replica's Lease object written and read (see lease.h). */
#include "lease.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

void lease_time_format(double t, char *out, size_t size)
{
	time_t s = (time_t)t;
	struct tm tm;
	char date[32];

	gmtime_r(&s, &tm);
	strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out, size, "%s.%06ldZ", date, (long)((t - (double)s) * 1e6));
}

/* "2026-12-01T23:20:20.123456Z" (or without the fraction) in seconds, or -1. */
static double time_parse(const char *text)
{
	struct tm tm;
	const char *rest;
	double frac = 0;

	if (!text)
		return -1;
	memset(&tm, 0, sizeof(tm));
	rest = strptime(text, "%Y-%m-%dT%H:%M:%S", &tm);
	if (!rest)
		return -1;
	if (*rest == '.') {
		char *end;

		frac = strtod(rest, &end);
		rest = end;
	}
	if (strcmp(rest, "Z") != 0)
		return -1;
	return (double)timegm(&tm) + frac;
}

json_t *lease_object(const struct lease_spec *spec, const char *annotation, int holding,
		     const char *renewed)
{
	json_t *obj = json_pack("{s:s,s:s,s:{s:s,s:s,s:{s:s,s:s},s:{s:s}},s:{s:s,s:I,s:s,s:s}}",
				"apiVersion", "coordination.k8s.io/v1", "kind", "Lease", "metadata",
				"name", spec->name, "namespace", spec->namespace, "labels",
				"app.kubernetes.io/name", "lb", LEASE_LABEL, spec->service,
				"annotations", LEASE_ANNOTATION, annotation, "spec",
				"holderIdentity", holding ? spec->pod : "", "leaseDurationSeconds",
				(json_int_t)spec->duration, "acquireTime", spec->acquired,
				"renewTime", renewed);

	if (obj && spec->pod_uid[0])
		json_object_set_new(json_object_get(obj, "metadata"), "ownerReferences",
				    json_pack("[{s:s,s:s,s:s,s:s}]", "apiVersion", "v1", "kind", "Pod",
					      "name", spec->pod, "uid", spec->pod_uid));
	return obj;
}

int lease_peer_live(const struct lease_peer *p, double now)
{
	return p->holder[0] && p->renewed > 0 && p->duration > 0 &&
	       now < p->renewed + (double)p->duration;
}

unsigned lease_peer_proxies(const struct lease_peer *p)
{
	return (unsigned)json_integer_value(json_object_get(p->report, "proxy_count"));
}

void lease_peer_read(struct lease_peer *p, const char *name, json_t *l)
{
	json_t *spec = json_object_get(l, "spec");
	const char *holder = json_string_value(json_object_get(spec, "holderIdentity"));
	const char *text = json_string_value(json_object_get(json_object_get(json_object_get(l,
					"metadata"), "annotations"), LEASE_ANNOTATION));

	snprintf(p->name, sizeof(p->name), "%s", name);
	snprintf(p->holder, sizeof(p->holder), "%s", holder ? holder : "");
	p->renewed = time_parse(json_string_value(json_object_get(spec, "renewTime")));
	p->duration = (long)json_integer_value(json_object_get(spec, "leaseDurationSeconds"));
	p->report = text ? json_loads(text, 0, NULL) : NULL;
	if (p->report && !json_is_object(p->report)) {
		json_decref(p->report);
		p->report = NULL;
	}
}

void lease_peers_release(struct lease_peer *peers, size_t n)
{
	for (size_t i = 0; i < n; i++)
		json_decref(peers[i].report);
	free(peers);
}
