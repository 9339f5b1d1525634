/* otlp_config: the exporter's settings from flags and OTEL_* variables
 * (see otlp_config.h). */
#include "otlp_config.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>

#include "otlp_json.h"

/* The OpenTelemetry SDK's defaults (the batch span processor, OTLP), but
 * for the batch: each export request costs libcurl about what 200 spans
 * cost to write, so lb sends 2048 spans a request where the SDK sends 512,
 * and holds four batches as the SDK does (docs/benchmarks.md#tracing). */
#define DEFAULT_QUEUE 8192
#define DEFAULT_BATCH 2048
#define DEFAULT_INTERVAL 5.0
#define DEFAULT_TIMEOUT 10.0

static const char *env(const char *name)
{
	const char *v = getenv(name);

	return v && *v ? v : NULL;
}

/* Copies n bytes (NUL-terminated) into c's text; NULL when it is full. */
static char *keep(struct otlp_config *c, const char *s, size_t n)
{
	char *p = c->text + c->text_len;

	if (c->text_len + n + 1 > sizeof(c->text))
		return NULL;
	memcpy(p, s, n);
	p[n] = '\0';
	c->text_len += n + 1;
	return p;
}

static int hexval(char ch)
{
	return isdigit((unsigned char)ch) ? ch - '0'
	       : isxdigit((unsigned char)ch) ? (tolower((unsigned char)ch) - 'a' + 10) : -1;
}

/* Percent-decodes s[0, n) in place (the W3C Baggage form the OTEL_*
 * lists use); returns the new length. */
static size_t percent_decode(char *s, size_t n)
{
	size_t o = 0;

	for (size_t i = 0; i < n; i++) {
		if (s[i] == '%' && i + 2 < n && hexval(s[i + 1]) >= 0 && hexval(s[i + 2]) >= 0) {
			s[o++] = (char)(hexval(s[i + 1]) << 4 | hexval(s[i + 2]));
			i += 2;
		} else {
			s[o++] = s[i];
		}
	}
	return o;
}

static void trim(const char **s, size_t *n)
{
	while (*n && isspace((unsigned char)**s))
		(*s)++, (*n)--;
	while (*n && isspace((unsigned char)(*s)[*n - 1]))
		(*n)--;
}

/* Calls each(c, key, value) for every "key=value" of a comma-separated
 * list (values percent-decoded, both trimmed, NUL-terminated in c's
 * text). Returns 0, or -1 with err filled. */
static int each_pair(struct otlp_config *c, const char *list, const char *what,
		     int (*each)(struct otlp_config *, const char *, const char *, char *, size_t),
		     char *err, size_t errsz)
{
	while (*list) {
		const char *comma = strchr(list, ','), *end = comma ? comma : list + strlen(list);
		const char *eq = memchr(list, '=', (size_t)(end - list)), *k = list, *v;
		size_t kn, vn;
		char *key, *val;

		if (!eq) {
			if (end - list > 0 && strspn(list, " \t") < (size_t)(end - list)) {
				snprintf(err, errsz, "%s: \"%.*s\" must be KEY=VALUE", what,
					 (int)(end - list), list);
				return -1;
			}
			list = comma ? comma + 1 : end;
			continue;
		}
		kn = (size_t)(eq - k);
		v = eq + 1;
		vn = (size_t)(end - v);
		trim(&k, &kn);
		trim(&v, &vn);
		key = keep(c, k, kn);
		val = keep(c, v, vn);
		if (!key || !val) {
			snprintf(err, errsz, "%s: too long (%d bytes at most in all)", what,
				 OTLP_CONFIG_TEXT_MAX);
			return -1;
		}
		val[percent_decode(val, vn)] = '\0';
		if (kn == 0 || each(c, key, val, err, errsz) == -1) {
			if (kn == 0)
				snprintf(err, errsz, "%s: a pair has no key", what);
			return -1;
		}
		list = comma ? comma + 1 : end;
	}
	return 0;
}

static int add_header(struct otlp_config *c, const char *k, const char *v, char *err, size_t errsz)
{
	char line[1024];
	const char *kept;

	for (const char *p = k; *p; p++)
		if (!isalnum((unsigned char)*p) && !strchr("!#$%&'*+-.^_`|~", *p)) {
			snprintf(err, errsz, "OTLP header \"%s\": the name must be an HTTP token", k);
			return -1;
		}
	for (const char *p = v; *p; p++)
		if ((unsigned char)*p < 0x20 && *p != '\t') {
			snprintf(err, errsz, "OTLP header \"%s\": the value has a control character", k);
			return -1;
		}
	snprintf(line, sizeof(line), "%s: %s", k, v);
	kept = keep(c, line, strlen(line));
	if (!kept) {
		snprintf(err, errsz, "OTLP headers: too long");
		return -1;
	}
	/* a later one of the same name replaces it: the flag's win */
	for (unsigned i = 0; i < c->export.nheaders; i++)
		if (strncasecmp(c->export.headers[i], k, strlen(k)) == 0 &&
		    c->export.headers[i][strlen(k)] == ':') {
			c->export.headers[i] = kept;
			return 0;
		}
	if (c->export.nheaders == OTLP_EXPORT_HEADERS_MAX) {
		snprintf(err, errsz, "OTLP headers: %d at most", OTLP_EXPORT_HEADERS_MAX);
		return -1;
	}
	c->export.headers[c->export.nheaders++] = kept;
	return 0;
}

/* The resource attributes as key/value pairs, in the order they are set. */
static const char *res_kv[2 * OTLP_CONFIG_RESOURCE_MAX];
static size_t res_n;

static int add_attr(struct otlp_config *c, const char *k, const char *v, char *err, size_t errsz)
{
	for (size_t i = 0; i < res_n; i++)
		if (strcmp(res_kv[2 * i], k) == 0)
			return 0;	/* set already, by what wins */
	if (res_n == OTLP_CONFIG_RESOURCE_MAX) {
		snprintf(err, errsz, "OTEL_RESOURCE_ATTRIBUTES: %d attributes at most",
			 OTLP_CONFIG_RESOURCE_MAX);
		return -1;
	}
	res_kv[2 * res_n] = k;
	res_kv[2 * res_n + 1] = v;
	res_n++;
	return 0;
}

/* service.name from OTEL_RESOURCE_ATTRIBUTES, when it has one. */
static int find_service(struct otlp_config *c, const char *k, const char *v, char *err,
			size_t errsz)
{
	return strcmp(k, "service.name") == 0 ? add_attr(c, k, v, err, errsz) : 0;
}

/* A random (version 4) UUID: service.instance.id's recommended form. */
static void uuid4(char *out)
{
	unsigned char b[16];

	if (getrandom(b, sizeof(b), 0) != (ssize_t)sizeof(b))
		for (size_t i = 0; i < sizeof(b); i++)
			b[i] = (unsigned char)rand();
	b[6] = (b[6] & 0x0f) | 0x40;
	b[8] = (b[8] & 0x3f) | 0x80;
	snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
		 b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12],
		 b[13], b[14], b[15]);
}

static int resource(struct otlp_config *c, const char *service, char *err, size_t errsz)
{
	const char *attrs = env("OTEL_RESOURCE_ATTRIBUTES"), *v;
	char id[37];

	res_n = 0;
	if ((v = env("OTEL_SERVICE_NAME")) && add_attr(c, "service.name", v, err, errsz) == -1)
		return -1;
	if (attrs && each_pair(c, attrs, "OTEL_RESOURCE_ATTRIBUTES", find_service, err, errsz) == -1)
		return -1;
	add_attr(c, "service.name", service, err, errsz);
	if (attrs && each_pair(c, attrs, "OTEL_RESOURCE_ATTRIBUTES", add_attr, err, errsz) == -1)
		return -1;
	uuid4(id);
	if (!(v = keep(c, id, strlen(id))) || add_attr(c, "service.instance.id", v, err, errsz) == -1)
		return -1;
	if ((v = env("POD_NAME")) && add_attr(c, "k8s.pod.name", v, err, errsz) == -1)
		return -1;
	if ((v = env("POD_NAMESPACE")) && add_attr(c, "k8s.namespace.name", v, err, errsz) == -1)
		return -1;
	if (otlp_json_resource(&c->resource, res_kv, res_n) == -1) {
		snprintf(err, errsz, "out of memory");
		return -1;
	}
	c->export.resource = &c->resource;
	return 0;
}

static int url(struct otlp_config *c, const char *endpoint, char *err, size_t errsz)
{
	const char *base = endpoint ? endpoint : NULL, *full = NULL;
	size_t n;

	if (!base && !(full = env("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")))
		base = env("OTEL_EXPORTER_OTLP_ENDPOINT");
	if (full) {
		n = (size_t)snprintf(c->url, sizeof(c->url), "%s", full);
	} else if (base) {
		n = strlen(base);
		while (n && base[n - 1] == '/')
			n--;
		n = (size_t)snprintf(c->url, sizeof(c->url), "%.*s%s", (int)n, base, OTLP_TRACES_PATH);
	} else {
		c->url[0] = '\0';
		return 0;
	}
	if (n >= sizeof(c->url) || (strncmp(c->url, "http://", 7) && strncmp(c->url, "https://", 8))) {
		snprintf(err, errsz, "OTLP endpoint \"%s\": an http:// or https:// URL of at most %d "
			 "bytes (the collector's OTLP/HTTP port, often :4318)", base ? base : full,
			 OTLP_CONFIG_URL_MAX - 1);
		return -1;
	}
	c->export.url = c->url;
	return 0;
}

/* OTEL_TRACES_SAMPLER[_ARG]: lb is always parent-based; the ratio is for
 * the traces it starts. */
static int sample_ratio(struct otlp_config *c, double flag, char *err, size_t errsz)
{
	const char *s = env("OTEL_TRACES_SAMPLER"), *arg = env("OTEL_TRACES_SAMPLER_ARG");
	char *end;

	c->sample = 1.0;
	if (flag >= 0) {
		c->sample = flag;
		return 0;
	}
	if (!s || strcmp(s, "always_on") == 0 || strcmp(s, "parentbased_always_on") == 0)
		return 0;
	if (strcmp(s, "always_off") == 0 || strcmp(s, "parentbased_always_off") == 0) {
		c->sample = 0;
		return 0;
	}
	if (strcmp(s, "traceidratio") && strcmp(s, "parentbased_traceidratio"))
		return 0;	/* the spec: an unknown sampler is the default's */
	if (!arg)
		return 0;
	c->sample = strtod(arg, &end);
	if (*end || !(c->sample >= 0 && c->sample <= 1)) {
		snprintf(err, errsz, "OTEL_TRACES_SAMPLER_ARG \"%s\" must be a number from 0 to 1", arg);
		return -1;
	}
	return 0;
}

/* A positive integer from the environment, or `dflt`. */
static double env_number(const char *name, double dflt)
{
	const char *v = env(name);
	char *end;
	double d;

	if (!v)
		return dflt;
	d = strtod(v, &end);
	return *end || !(d > 0) ? dflt : d;
}

int otlp_config_read(struct otlp_config *c, const char *endpoint, const char *const *headers,
		     size_t n, double sample, long queue_size, long batch_size, double interval,
		     const char *service, char *err, size_t errsz)
{
	const char *h;

	memset(c, 0, sizeof(*c));
	if (url(c, endpoint, err, errsz) == -1)
		return -1;
	if (!c->url[0])
		return 0;
	if (((h = env("OTEL_EXPORTER_OTLP_HEADERS")) &&
	     each_pair(c, h, "OTEL_EXPORTER_OTLP_HEADERS", add_header, err, errsz) == -1) ||
	    ((h = env("OTEL_EXPORTER_OTLP_TRACES_HEADERS")) &&
	     each_pair(c, h, "OTEL_EXPORTER_OTLP_TRACES_HEADERS", add_header, err, errsz) == -1))
		return -1;
	for (size_t i = 0; i < n; i++) {
		/* the flag's value is literal: commas and '%' are the header's */
		const char *eq = strchr(headers[i], '='), *k = headers[i], *v;
		size_t kn, vn;
		char *key;

		if (!eq || eq == k) {
			snprintf(err, errsz, "--otlp-header \"%s\" must be NAME=VALUE", headers[i]);
			return -1;
		}
		kn = (size_t)(eq - k);
		v = eq + 1;
		vn = strlen(v);
		trim(&k, &kn);
		trim(&v, &vn);
		if (!(key = keep(c, k, kn)) || !keep(c, v, vn)) {
			snprintf(err, errsz, "--otlp-header: too long");
			return -1;
		}
		if (add_header(c, key, key + kn + 1, err, errsz) == -1)
			return -1;
	}
	if (sample_ratio(c, sample, err, errsz) == -1 || resource(c, service, err, errsz) == -1)
		return -1;
	c->export.queue_size = queue_size > 0 ? (size_t)queue_size
			       : (size_t)env_number("OTEL_BSP_MAX_QUEUE_SIZE", DEFAULT_QUEUE);
	c->export.batch_size = batch_size > 0 ? (size_t)batch_size
			       : (size_t)env_number("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", DEFAULT_BATCH);
	if (c->export.batch_size > c->export.queue_size)
		c->export.batch_size = c->export.queue_size;
	c->export.interval = interval > 0 ? interval
			     : env_number("OTEL_BSP_SCHEDULE_DELAY", DEFAULT_INTERVAL * 1000) / 1000;
	c->export.timeout = env_number("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT",
				       env_number("OTEL_EXPORTER_OTLP_TIMEOUT",
						  DEFAULT_TIMEOUT * 1000)) / 1000;
	return 0;
}

int otlp_config_compression(struct otlp_config *c, const char *flag, char *err, size_t errsz)
{
	const char *v = flag, *from = "--otlp-compression";

	if (!v && (v = env("OTEL_EXPORTER_OTLP_TRACES_COMPRESSION")))
		from = "OTEL_EXPORTER_OTLP_TRACES_COMPRESSION";
	else if (!v && (v = env("OTEL_EXPORTER_OTLP_COMPRESSION")))
		from = "OTEL_EXPORTER_OTLP_COMPRESSION";
	c->export.gzip = 0;
	if (!v || strcmp(v, "none") == 0)
		return 0;
	if (strcmp(v, "gzip") == 0) {
		c->export.gzip = 1;
		return 0;
	}
	snprintf(err, errsz, "%s \"%s\" must be gzip or none", from, v);
	return -1;
}

void otlp_config_release(struct otlp_config *c)
{
	buf_release(&c->resource);
}
