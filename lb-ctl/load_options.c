/* load_options: lb-ctl load's flags, URL and request (see load_options.h). */
#include "load_options.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config.h"

static const char usage_text[] =
	"usage: lb-ctl [--json] [--timeout S] load URL [options]\n"
	"\n"
	"An HTTP/1.1 keep-alive load test of URL (http://HOST[:PORT][/PATH]; HOST an IPv4\n"
	"address, [IPv6] or a name; https:// is not supported).\n"
	"\n"
	"  -c, --connections N  connections (default 10)\n"
	"  -d, --duration D     how long: 2s, 500ms, 1m or seconds (default 10s; with -n\n"
	"                       alone, until N requests ended)\n"
	"  -n, --requests N     send N requests at most\n"
	"  --rate R             open loop: R requests/s in all, request i due at start + i/R,\n"
	"                       latency counted from its due time (else closed loop: each\n"
	"                       connection sends when answered, latency from the send)\n"
	"  -H, --header 'N: v'  add a request header (repeatable)\n"
	"  --method M           the request method (default GET)\n"
	"  --timeout S          a request's timeout, its connect included (default 30s)\n"
	"  --json               one JSON object for scripts\n"
	"\n"
	"exit codes: 0 a response arrived, 1 none did, 2 usage\n";

static int is_token(const char *s, size_t n)
{
	if (n == 0)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!strchr("!#$%&'*+-.^_`|~", s[i]) && !(s[i] >= '0' && s[i] <= '9') &&
		    !(s[i] >= 'a' && s[i] <= 'z') && !(s[i] >= 'A' && s[i] <= 'Z'))
			return 0;
	return 1;
}

static int parse_count(const char *s, unsigned long long max, unsigned long long *out)
{
	char *end;

	errno = 0;
	if (*s < '0' || *s > '9')
		return -1;
	*out = strtoull(s, &end, 10);
	return *end || errno || *out < 1 || *out > max ? -1 : 0;
}

/* Splits o->url into o's URL parts; returns 0 or -1 with err filled. */
static int url_parse(struct load_options *o, char *err, size_t errsz)
{
	const char *url = o->url, *auth, *end, *host_end, *port = NULL;
	size_t n;

	if (strncasecmp(url, "https://", 8) == 0) {
		snprintf(err, errsz, "%s: https:// is not supported: lb-ctl load speaks plain "
			 "HTTP (no TLS); load an http:// listener", url);
		return -1;
	}
	if (strncasecmp(url, "http://", 7) != 0) {
		snprintf(err, errsz, "\"%s\": give an http://HOST[:PORT][/PATH] URL", url);
		return -1;
	}
	auth = url + 7;
	end = auth + strcspn(auth, "/?#");
	n = (size_t)(end - auth);
	if (memchr(auth, '@', n)) {
		snprintf(err, errsz, "\"%s\": no user name in the URL", url);
		return -1;
	}
	if (auth[0] == '[') {
		host_end = memchr(auth, ']', n);
		if (!host_end || host_end == auth + 1 || (host_end + 1 < end && host_end[1] != ':')) {
			snprintf(err, errsz, "\"%s\": an IPv6 address is written [::1]:PORT", url);
			return -1;
		}
		if (host_end + 1 < end)
			port = host_end + 2;
		host_end++;
	} else {
		host_end = memchr(auth, ':', n);
		if (host_end)
			port = host_end + 1;
		else
			host_end = end;
	}
	if (host_end == auth || n >= sizeof(o->authority)) {
		snprintf(err, errsz, "\"%s\": %s", url, n ? "the host is too long" : "no host");
		return -1;
	}
	if (port) {
		char *pend;
		long p = strtol(port, &pend, 10);

		if (port == end || *port < '0' || *port > '9' || pend != end || p < 1 || p > 65535) {
			snprintf(err, errsz, "\"%s\": the port must be a number from 1 to 65535", url);
			return -1;
		}
	}
	snprintf(o->authority, sizeof(o->authority), "%.*s", (int)n, auth);
	snprintf(o->address, sizeof(o->address), "%.*s:%.*s", (int)(host_end - auth), auth,
		 port ? (int)(end - port) : 2, port ? port : "80");
	o->path = end;
	o->path_len = strcspn(end, "#");
	for (size_t i = 0; i < o->path_len; i++) {
		if ((unsigned char)end[i] <= 0x20 || (unsigned char)end[i] >= 0x7f) {
			snprintf(err, errsz, "\"%s\": encode spaces and other such bytes in the path "
				 "(%%20)", url);
			return -1;
		}
	}
	return 0;
}

int load_options_parse(struct load_options *o, int argc, char **argv, char *err, size_t errsz)
{
	int has_duration = 0;

	for (int i = 0; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		unsigned long long n;
		char *end;

		if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0)
			return 1;
		if (strcmp(a, "--json") == 0) {
			o->json = 1;
			continue;
		}
		if (a[0] != '-') {
			if (o->url) {
				snprintf(err, errsz, "unexpected \"%s\": one URL only", a);
				return -1;
			}
			o->url = a;
			continue;
		}
		if (!v) {
			snprintf(err, errsz, "%s needs a value", a);
			return -1;
		}
		i++;
		if (strcmp(a, "-c") == 0 || strcmp(a, "--connections") == 0) {
			if (parse_count(v, LOAD_CONNECTIONS_MAX, &n) == -1) {
				snprintf(err, errsz, "%s: connections from 1 to %d", a,
					 LOAD_CONNECTIONS_MAX);
				return -1;
			}
			o->connections = (unsigned)n;
		} else if (strcmp(a, "-n") == 0 || strcmp(a, "--requests") == 0) {
			if (parse_count(v, 1ULL << 53, &o->count) == -1) {
				snprintf(err, errsz, "%s: a number of requests, at least 1", a);
				return -1;
			}
		} else if (strcmp(a, "-d") == 0 || strcmp(a, "--duration") == 0 ||
			   strcmp(a, "--timeout") == 0) {
			double s;

			if (config_parse_duration(v, &s) == -1 || !(s > 0) || s > LOAD_DURATION_MAX) {
				snprintf(err, errsz, "%s \"%s\": a duration up to 1d: 2s, 500ms, 1m or "
					 "seconds", a, v);
				return -1;
			}
			if (a[2] == 't') {
				o->timeout = s;
			} else {
				o->duration = s;
				has_duration = 1;
			}
		} else if (strcmp(a, "--rate") == 0) {
			/* decimal: strtod alone takes "0x10" */
			if (config_parse_decimal(v, &o->rate, &end) == -1 || *end ||
			    !(o->rate > 0) || o->rate > LOAD_RATE_MAX) {
				snprintf(err, errsz, "--rate: requests per second, more than 0");
				return -1;
			}
		} else if (strcmp(a, "-H") == 0 || strcmp(a, "--header") == 0) {
			const char *colon = strchr(v, ':');

			if (!colon || !is_token(v, (size_t)(colon - v)) || strpbrk(v, "\r\n")) {
				snprintf(err, errsz, "%s \"%s\": give a header as 'Name: value'", a, v);
				return -1;
			}
			if (o->nheaders == LOAD_HEADERS_MAX) {
				snprintf(err, errsz, "%s: at most %d headers", a, LOAD_HEADERS_MAX);
				return -1;
			}
			o->headers[o->nheaders++] = v;
		} else if (strcmp(a, "--method") == 0) {
			if (!is_token(v, strlen(v)) || strlen(v) > LOAD_METHOD_MAX) {
				snprintf(err, errsz, "--method \"%s\": a method is a token (GET, POST ...)",
					 v);
				return -1;
			}
			o->method = v;
		} else {
			snprintf(err, errsz, "unknown option \"%s\"", a);
			return -1;
		}
	}
	if (!o->url) {
		snprintf(err, errsz, "which URL? give http://HOST:PORT/PATH");
		return -1;
	}
	if (!has_duration)
		o->duration = o->count ? 0 : LOAD_DEFAULT_DURATION;
	return url_parse(o, err, errsz);
}

/* 1 when one of the user's headers is called `name`. */
static int has_header(const struct load_options *o, const char *name)
{
	size_t n = strlen(name);

	for (unsigned i = 0; i < o->nheaders; i++)
		if (strncasecmp(o->headers[i], name, n) == 0 && o->headers[i][n] == ':')
			return 1;
	return 0;
}

int load_options_request(const struct load_options *o, struct buf *out)
{
	int rc = buf_appendf(out, "%s %s%.*s HTTP/1.1\r\n", o->method, o->path[0] == '/' ? "" : "/",
			     (int)o->path_len, o->path);

	if (!has_header(o, "Host"))
		rc |= buf_appendf(out, "Host: %s\r\n", o->authority);
	if (!has_header(o, "User-Agent"))
		rc |= buf_append_str(out, "User-Agent: lb-ctl-load\r\n");
	for (unsigned i = 0; i < o->nheaders; i++)
		rc |= buf_appendf(out, "%s\r\n", o->headers[i]);
	/* a body is expected of these: say there is none */
	if ((strcmp(o->method, "POST") == 0 || strcmp(o->method, "PUT") == 0 ||
	     strcmp(o->method, "PATCH") == 0) && !has_header(o, "Content-Length") &&
	    !has_header(o, "Transfer-Encoding"))
		rc |= buf_append_str(out, "Content-Length: 0\r\n");
	rc |= buf_append_str(out, "\r\n");
	return rc == 0 ? 0 : -1;
}

void load_options_usage(FILE *out)
{
	fputs(usage_text, out);
}
