/* routes: lb-ctl routes (see routes.h). */
#include "routes.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "ctl_exit.h"
#include "net.h"

/* seconds a proxy's /routes may take at most (less with --timeout) */
#define ROUTES_PROXY_TIMEOUT 5.0
/* bytes of a proxy's /routes answer read at most */
#define ROUTES_ANSWER_MAX (16 << 20)

static double now_mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Waits for fd to be ready for `events` until deadline. Returns 0, or -1
 * (why in err). */
static int wait_fd(int fd, short events, double deadline, char *err, size_t errsz)
{
	struct pollfd p = { fd, events, 0 };
	double left = deadline - now_mono();
	int n;

	if (left <= 0) {
		snprintf(err, errsz, "timed out (--timeout)");
		return -1;
	}
	do
		n = poll(&p, 1, (int)(left * 1000) + 1);
	while (n == -1 && errno == EINTR);
	if (n == 0) {
		snprintf(err, errsz, "timed out (--timeout)");
		return -1;
	}
	return n == -1 ? (snprintf(err, errsz, "poll: %s", strerror(errno)), -1) : 0;
}

/* GET /routes from the proxy's admin API at `address`: the JSON body (a
 * new reference), or NULL with why in err. */
static json_t *proxy_routes(const char *address, double timeout, char *err, size_t errsz)
{
	static const char req[] = "GET /routes HTTP/1.1\r\nHost: lb-proxy\r\n"
				  "Connection: close\r\n\r\n";
	struct net_addr na;
	struct buf in = BUF_INIT;
	double deadline = now_mono() + timeout;
	json_t *doc = NULL;
	int fd = -1, soerr = 0, status = 0;
	socklen_t len = sizeof(soerr);
	size_t sent = 0;
	char *body;

	if (net_parse_numeric(address, &na, err, errsz) == -1)
		return NULL;
	fd = socket(na.ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1 || (connect(fd, (struct sockaddr *)&na.ss, na.len) == -1 &&
			 errno != EINPROGRESS)) {
		snprintf(err, errsz, "connect: %s", strerror(errno));
		goto out;
	}
	if (wait_fd(fd, POLLOUT, deadline, err, errsz) == -1)
		goto out;
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len) == -1 || soerr) {
		snprintf(err, errsz, "connect: %s", strerror(soerr ? soerr : errno));
		goto out;
	}
	while (sent < sizeof(req) - 1) {
		ssize_t n = send(fd, req + sent, sizeof(req) - 1 - sent, MSG_NOSIGNAL);

		if (n == -1 && errno == EAGAIN && wait_fd(fd, POLLOUT, deadline, err, errsz) == 0)
			continue;
		if (n == -1) {
			if (errno != EAGAIN)
				snprintf(err, errsz, "send: %s", strerror(errno));
			goto out;
		}
		sent += (size_t)n;
	}
	for (;;) {
		ssize_t n;

		if (buf_reserve(&in, 65536) == -1) {
			snprintf(err, errsz, "out of memory");
			goto out;
		}
		n = recv(fd, in.data + in.len, 65536, 0);
		if (n == 0)
			break;
		if (n == -1 && errno == EAGAIN) {
			if (wait_fd(fd, POLLIN, deadline, err, errsz) == -1)
				goto out;
			continue;
		}
		if (n == -1) {
			snprintf(err, errsz, "recv: %s", strerror(errno));
			goto out;
		}
		in.len += (size_t)n;
		if (in.len > ROUTES_ANSWER_MAX) {
			snprintf(err, errsz, "answer over %d bytes", ROUTES_ANSWER_MAX);
			goto out;
		}
	}
	buf_append(&in, "", 1);	/* a NUL for the string functions below */
	body = strstr(in.data, "\r\n\r\n");
	if (sscanf(in.data, "HTTP/1.%*d %d", &status) != 1 || !body) {
		snprintf(err, errsz, "not an HTTP answer");
		goto out;
	}
	if (status != 200) {
		snprintf(err, errsz, "GET /routes answered %d (an lb-proxy without /routes?)", status);
		goto out;
	}
	doc = json_loads(body + 4, 0, NULL);
	if (!json_is_object(doc)) {
		json_decref(doc);
		doc = NULL;
		snprintf(err, errsz, "GET /routes: not a JSON object");
	}
out:
	if (fd != -1)
		close(fd);
	buf_release(&in);
	return doc;
}

/* Adds a proxy's hits (its /routes document) to the table's rules, by
 * route name and rule index. */
static void add_hits(json_t *table, json_t *proxy_doc)
{
	json_t *route, *rule, *theirs, *their_rule;
	size_t i, j, k, l;

	json_array_foreach(json_object_get(proxy_doc, "routes"), k, theirs) {
		const char *name = json_string_value(json_object_get(theirs, "name"));

		json_array_foreach(json_object_get(table, "routes"), i, route) {
			const char *ours = json_string_value(json_object_get(route, "name"));

			if (!name || !ours || strcmp(name, ours) != 0)
				continue;
			json_array_foreach(json_object_get(theirs, "rules"), l, their_rule)
				json_array_foreach(json_object_get(route, "rules"), j, rule)
					if (json_integer_value(json_object_get(rule, "rule")) ==
					    json_integer_value(json_object_get(their_rule, "rule")))
						json_object_set_new(rule, "hits", json_integer(
							json_integer_value(json_object_get(rule, "hits")) +
							json_integer_value(json_object_get(their_rule,
											   "hits"))));
		}
	}
	json_object_set_new(table, "unmatched", json_integer(
		json_integer_value(json_object_get(table, "unmatched")) +
		json_integer_value(json_object_get(proxy_doc, "unmatched"))));
}

/* Adds a proxy's routed Services (its /routes "services") to doc's
 * "services": name -> {"protocol", "balance"} as the proxies use them,
 * "mixed" where two proxies differ (a proxy's --backend-tls, --balance). */
static void add_services(json_t *doc, json_t *proxy_doc)
{
	json_t *all = json_object_get(doc, "services"), *svc;
	size_t i;

	json_array_foreach(json_object_get(proxy_doc, "services"), i, svc) {
		const char *name = json_string_value(json_object_get(svc, "name"));
		json_t *ours;

		if (!name)
			continue;
		ours = json_object_get(all, name);
		if (!ours) {
			json_object_set_new(all, name, json_pack(
				"{s:O,s:O}", "protocol", json_object_get(svc, "protocol"), "balance",
				json_object_get(svc, "balance")));
			continue;
		}
		for (const char *const *k = (const char *const[]){ "protocol", "balance", NULL };
		     *k; k++)
			if (!json_equal(json_object_get(ours, *k), json_object_get(svc, *k)))
				json_object_set_new(ours, *k, json_string("mixed"));
	}
}

/* Reads every proxy's /routes into doc: the sums, and each proxy's "read"
 * or "error". */
static void gather(json_t *doc, double timeout)
{
	json_t *p, *route, *rule;
	size_t i, j;
	char err[256];

	json_array_foreach(json_object_get(doc, "routes"), i, route)
		json_array_foreach(json_object_get(route, "rules"), j, rule)
			json_object_set_new(rule, "hits", json_integer(0));
	json_object_set_new(doc, "unmatched", json_integer(0));
	json_object_set_new(doc, "services", json_object());
	json_array_foreach(json_object_get(doc, "proxies"), i, p) {
		const char *admin = json_string_value(json_object_get(p, "admin"));
		json_t *theirs;

		if (!admin || !*admin) {
			json_object_set_new(p, "error", json_string("its reports name no admin API "
								    "(an lb-proxy older than lb-ctl routes)"));
			continue;
		}
		theirs = proxy_routes(admin, timeout, err, sizeof(err));
		if (!theirs) {
			json_object_set_new(p, "error", json_string(err));
			continue;
		}
		add_hits(doc, theirs);
		add_services(doc, theirs);
		json_object_set_new(p, "read", json_true());
		json_decref(theirs);
	}
}

/* "PathPrefix /api GET 1 header" for a rule's matches (the first two, then
 * "+N"). */
static void matches_text(json_t *rule, char *out, size_t size)
{
	json_t *m;
	size_t i, used = 0;

	out[0] = '\0';
	json_array_foreach(json_object_get(rule, "matches"), i, m) {
		json_t *path = json_object_get(m, "path");
		const char *method = json_string_value(json_object_get(m, "method"));
		size_t nh = json_array_size(json_object_get(m, "headers"));
		size_t nq = json_array_size(json_object_get(m, "queryParams"));
		int n;

		if (i == 2) {
			snprintf(out + used, size - used, ", +%zu",
				 json_array_size(json_object_get(rule, "matches")) - 2);
			return;
		}
		n = snprintf(out + used, size - used, "%s%s %s%s%s", i ? ", " : "",
			     json_string_value(json_object_get(path, "type")),
			     json_string_value(json_object_get(path, "value")), method ? " " : "",
			     method ? method : "");
		if (n < 0 || (size_t)n >= size - used)
			return;
		used += (size_t)n;
		if (nh || nq) {
			n = snprintf(out + used, size - used, " (%zu header%s, %zu query)", nh,
				     nh == 1 ? "" : "s", nq);
			if (n < 0 || (size_t)n >= size - used)
				return;
			used += (size_t)n;
		}
	}
}

/* What lb-discover could not take of a backendRef's Service, or "". */
static void ref_notes(json_t *ref, char *out, size_t size)
{
	const char *p = json_string_value(json_object_get(ref, "unsupported_protocol"));
	const char *b = json_string_value(json_object_get(ref, "unsupported_balance"));

	snprintf(out, size, "%s%s%s%s%s%s", p ? "appProtocol " : "", p ? p : "",
		 p ? " not spoken" : "", p && b ? "; " : "", b ? "unknown lb.dev/balance " : "",
		 b ? b : "");
}

/* Each routed Service's protocol and algorithm as the proxies use
 * them, and what lb-discover could not take of its Service. */
static void print_services(json_t *doc)
{
	json_t *route, *rule, *ref, *seen = json_object(), *v;
	const char *name;
	size_t i, j, k;
	char notes[256];

	json_array_foreach(json_object_get(doc, "routes"), i, route)
		json_array_foreach(json_object_get(route, "rules"), j, rule)
			json_array_foreach(json_object_get(rule, "backendRefs"), k, ref) {
				name = json_string_value(json_object_get(ref, "service"));
				if (name && json_is_true(json_object_get(ref, "resolved")))
					json_object_set(seen, name, ref);
			}
	printf("\n%-44s %-9s %-14s %s\n", "SERVICE", "PROTOCOL", "BALANCE", "NOTES");
	json_object_foreach(seen, name, ref) {
		v = json_object_get(json_object_get(doc, "services"), name);
		ref_notes(ref, notes, sizeof(notes));
		printf("%-44s %-9s %-14s %s\n", name,
		       v ? json_string_value(json_object_get(v, "protocol")) : "-",
		       v ? json_string_value(json_object_get(v, "balance")) : "-", notes);
	}
	json_decref(seen);
}

static void print_tables(json_t *doc)
{
	long long gen = json_integer_value(json_object_get(doc, "generation"));
	json_t *l, *route, *rule, *ref, *p, *st;
	size_t i, j, k;
	char matches[256];

	printf("routes generation %lld  served by %lld of %zu proxies\n\n", gen,
	       (long long)json_integer_value(json_object_get(doc, "proxies_serving")),
	       json_array_size(json_object_get(doc, "proxies")));
	printf("%-20s %6s %-8s %s\n", "LISTENER", "PORT", "PROTOCOL", "HOSTNAMES");
	json_array_foreach(json_object_get(doc, "listeners"), i, l) {
		json_t *h;

		printf("%-20s %6lld %-8s", json_string_value(json_object_get(l, "name")),
		       (long long)json_integer_value(json_object_get(l, "port")),
		       json_string_value(json_object_get(l, "protocol")));
		json_array_foreach(json_object_get(l, "hostnames"), j, h)
			printf("%s%s", j ? ", " : " ", json_string_value(h));
		printf("\n");
	}
	printf("\n%-32s %4s %-34s %10s  %s\n", "ROUTE", "RULE", "MATCHES", "HITS", "BACKENDS");
	json_array_foreach(json_object_get(doc, "routes"), i, route) {
		json_array_foreach(json_object_get(route, "rules"), j, rule) {
			json_t *filters = json_object_get(rule, "filters"), *f;
			size_t n;

			matches_text(rule, matches, sizeof(matches));
			printf("%-32s %4lld %-34s %10lld ", json_string_value(json_object_get(route,
											       "name")),
			       (long long)json_integer_value(json_object_get(rule, "rule")), matches,
			       (long long)json_integer_value(json_object_get(rule, "hits")));
			json_array_foreach(json_object_get(rule, "backendRefs"), k, ref) {
				long long nb = json_integer_value(json_object_get(ref, "backends"));

				printf(" %s w=%lld", json_string_value(json_object_get(ref, "service")),
				       (long long)json_integer_value(json_object_get(ref, "weight")));
				if (nb < 0)
					printf(" (unresolved: 500)");
				else
					printf(" (%lld backend%s)", nb, nb == 1 ? "" : "s");
			}
			json_array_foreach(filters, n, f)
				printf(" %s", json_string_value(f));
			printf("\n");
		}
	}
	printf("%-32s %4s %-34s %10lld\n", "(no route: 404)", "-", "-",
	       (long long)json_integer_value(json_object_get(doc, "unmatched")));
	print_services(doc);
	json_array_foreach(json_object_get(doc, "statuses"), i, st) {
		json_t *a = json_object_get(st, "accepted"), *r = json_object_get(st, "resolved_refs");

		if (i == 0)
			printf("\n%-32s %6s %-24s %s\n", "ROUTE", "PARENT", "ACCEPTED", "RESOLVED REFS");
		printf("%-32s %6lld %-24s %s%s%s\n", json_string_value(json_object_get(st, "route")),
		       (long long)json_integer_value(json_object_get(st, "parent")),
		       json_is_true(json_object_get(a, "status")) ? "yes"
			: json_string_value(json_object_get(a, "reason")),
		       json_is_true(json_object_get(r, "status")) ? "yes"
			: json_string_value(json_object_get(r, "reason")),
		       json_is_true(json_object_get(r, "status")) ? "" : ": ",
		       json_is_true(json_object_get(r, "status")) ? ""
			: json_string_value(json_object_get(r, "message")));
	}
	printf("\n%-8s %-20s %-24s %s\n", "PROXY", "ROUTES GENERATION", "ADMIN", "HITS");
	json_array_foreach(json_object_get(doc, "proxies"), i, p) {
		long long served = json_integer_value(json_object_get(p, "routes"));
		const char *admin = json_string_value(json_object_get(p, "admin"));
		const char *error = json_string_value(json_object_get(p, "error"));

		printf("%-8lld %-20lld %-24s %s%s\n",
		       (long long)json_integer_value(json_object_get(p, "pid")), served,
		       admin && *admin ? admin : "-", error ? "not counted: " : "counted",
		       error ? error : "");
	}
	if (json_array_size(json_object_get(doc, "proxies")) == 0)
		printf("(no proxy has reported)\n");
}

int routes_print(json_t *doc, int json, double timeout)
{
	if (!json_integer_value(json_object_get(doc, "generation"))) {
		fprintf(stderr, "lb-ctl: lb-discover publishes no routes (start it with --routes FILE "
				"or --gateway NAMESPACE/NAME)\n");
		return CTL_FAILED;
	}
	/* a proxy that does not answer costs at most ROUTES_PROXY_TIMEOUT */
	gather(doc, timeout < ROUTES_PROXY_TIMEOUT ? timeout : ROUTES_PROXY_TIMEOUT);
	if (json) {
		json_dumpf(doc, stdout, JSON_COMPACT);
		fputc('\n', stdout);
	} else {
		print_tables(doc);
	}
	return CTL_OK;
}
