/* load_options: lb-ctl load's command line (flags and the http:// URL) and
 * the one request it describes. */
#ifndef LB_CTL_LOAD_OPTIONS_H
#define LB_CTL_LOAD_OPTIONS_H

#include <stddef.h>
#include <stdio.h>

#include "buf.h"

#define LOAD_DEFAULT_CONNECTIONS 10
#define LOAD_DEFAULT_DURATION 10.0	/* seconds, unless -n alone says when to stop */
#define LOAD_CONNECTIONS_MAX 10000
#define LOAD_DURATION_MAX 86400.0	/* for -d and --timeout */
#define LOAD_RATE_MAX 1e7
#define LOAD_HEADERS_MAX 64
#define LOAD_METHOD_MAX 32

struct load_options {
	const char *url;		/* as given */
	unsigned connections;
	double duration;		/* seconds; 0: until `count` requests ended */
	unsigned long long count;	/* requests to send; 0: no limit */
	double rate;			/* requests/s over all connections; 0: closed loop */
	double timeout;			/* seconds for one request, its connect included */
	const char *method;
	const char *headers[LOAD_HEADERS_MAX];	/* "Name: value", as given */
	unsigned nheaders;
	int json;
	/* the URL's parts */
	char authority[300];		/* HOST[:PORT] as written: the Host header */
	char address[300];		/* HOST:PORT, the port made explicit (net_parse_addr) */
	const char *path;		/* the target from its '/' or '?' on ("" for none) */
	size_t path_len;		/* up to a '#' */
};

/*
 * Fills o, which holds the defaults (connections, timeout, method, json),
 * from the arguments after "load" (argv points into the caller's argv).
 * Returns 0, 1 when --help was asked for, or -1 with err filled (a usage
 * error: an https:// URL is one).
 */
int load_options_parse(struct load_options *o, int argc, char **argv, char *err, size_t errsz);
/* Appends the request o describes to out; returns 0 or -1 (out of memory). */
int load_options_request(const struct load_options *o, struct buf *out);
/* Prints load's usage. */
void load_options_usage(FILE *out);

#endif
