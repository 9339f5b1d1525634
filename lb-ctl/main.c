/* lb-ctl: the operator's CLI: the verbs of common/verbs.h (status, drain,
 * add ...), and load (load.h); tables for people, --json for scripts. */
#include <errno.h>
#include <jansson.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bus.h"
#include "bus_protocol.h"
#include "config.h"
#include "ctl_exit.h"
#include "load.h"
#include "net.h"
#include "routes.h"
#include "rundir.h"
#include "timefmt.h"
#include "status_routes.h"
#include "verbs.h"
#include "watch.h"

struct ctl_options {
	char *runtime_dir;
	int json;
	double timeout;
	char *log_level;
	char *log_format;
};

static const struct config_field ctl_fields[] = {
	{ "runtimeDir", CONFIG_STRING, offsetof(struct ctl_options, runtime_dir), 0, 0, NULL,
	  "the bus directory (else LB_RUNTIME_DIR, /run/lb, ...)" },
	{ "json", CONFIG_BOOL, offsetof(struct ctl_options, json), 0, 0, NULL,
	  "JSON output for scripts" },
	{ "timeout", CONFIG_DURATION, offsetof(struct ctl_options, timeout), 0.1, 86400, NULL,
	  "seconds to wait (replies; drain --wait)" },
	CONFIG_LOG_FIELDS(struct ctl_options),
};

/* the synopsis is completed from the verb table at start-up */
static char ctl_synopsis[3072];
static struct config_spec ctl_spec = {
	"lb-ctl", "LB_CTL_", ctl_synopsis, ctl_fields, sizeof(ctl_fields) / sizeof(ctl_fields[0]),
};

static void build_synopsis(void)
{
	char verbs_help[2048];

	verbs_format_help(verbs_help, sizeof(verbs_help));
	snprintf(ctl_synopsis, sizeof(ctl_synopsis),
		 "[--runtime-dir DIR] [--json] COMMAND\n\ncommands:\n%s  %-34s %s\n\n"
		 "status, proxies, drain, undrain, add, remove, weight, uneject and in-flight take\n"
		 "--service NAMESPACE/NAME:PORT: a routed Service's backends, overrides and proxies\n"
		 "(lb-discover --routes or --gateway) instead of the main service's; watch\n"
		 "--service NAME prints that service's set changes only\n\n"
		 "exit codes: 0 done, 1 refused, 2 usage, 3 drain --wait timed out, 4 no lb-discover,\n"
		 "5 drain --wait: the drain was cancelled (undrain, remove, the backend left the set)",
		 verbs_help, "load URL [-c N] [-d D] [-n N] ...", "HTTP load test of URL (load --help)");
}

static struct ctl_options opts = { NULL, 0, 30, "warn", "text" };
static char rundir[256];
/* --service NAME: the routed Service every request is about (NULL: the main one) */
static const char *service;

static int usage(const char *msg)
{
	fprintf(stderr, "lb-ctl: %s (see lb-ctl --help)\n", msg);
	return CTL_USAGE;
}

/* Sends a control request; returns the reply object or NULL (exit code in *rc). */
static json_t *request(const struct bus_control *c, int *rc)
{
	struct bus b;
	struct buf text = BUF_INIT;
	struct bus_reply r;
	char err[512], *reply = NULL;
	size_t len;
	json_t *doc = NULL;

	if (!bus_alive(rundir, BUS_SOCKET_CONTROL)) {
		fprintf(stderr, "lb-ctl: no lb-discover at %s/%s.sock: is it running? see --runtime-dir\n",
			rundir, BUS_SOCKET_CONTROL);
		*rc = CTL_NO_DISCOVER;
		return NULL;
	}
	if (bus_control_encode(c, &text) == -1) {
		fprintf(stderr, "lb-ctl: out of memory\n");
		*rc = CTL_FAILED;
		return NULL;
	}
	if (bus_open(&b, BUS_REQ, rundir, BUS_SOCKET_CONTROL, err, sizeof(err)) == -1) {
		fprintf(stderr, "lb-ctl: %s\n", err);
		*rc = CTL_NO_DISCOVER;
		buf_release(&text);
		return NULL;
	}
	if (bus_request(&b, text.data, text.len, &reply, &len, (int)(opts.timeout * 1000), err,
			sizeof(err)) == -1) {
		fprintf(stderr, "lb-ctl: %s\n", err);
		*rc = CTL_NO_DISCOVER;
	} else if (bus_reply_decode(reply, len, &r, err, sizeof(err)) == -1) {
		fprintf(stderr, "lb-ctl: unreadable reply from lb-discover: %s\n", err);
		*rc = CTL_FAILED;
	} else if (!r.ok) {
		fprintf(stderr, "lb-ctl: %s\n", r.error);
		bus_reply_release(&r);
		*rc = CTL_FAILED;
	} else {
		doc = r.body;
	}
	free(reply);
	buf_release(&text);
	bus_close(&b);
	return doc;
}

/* A control request of `command` (about `address` when not NULL). */
static struct bus_control control_of(const char *command, const char *address)
{
	struct bus_control c;

	memset(&c, 0, sizeof(c));
	snprintf(c.command, sizeof(c.command), "%s", command);
	if (address)
		snprintf(c.address, sizeof(c.address), "%s", address);
	if (service)
		snprintf(c.service, sizeof(c.service), "%s", service);
	return c;
}

static void print_json(json_t *doc)
{
	json_object_del(doc, "v");
	json_object_del(doc, "type");
	json_object_del(doc, "ok");
	json_dumpf(doc, stdout, JSON_COMPACT);
	fputc('\n', stdout);
}

static void print_proxies(json_t *doc)
{
	json_t *proxies = json_object_get(doc, "proxies"), *p;
	size_t i;

	printf("%-8s %-11s %-9s %s\n", "PROXY", "GENERATION", "STATE", "LAST REPORT");
	json_array_foreach(proxies, i, p) {
		long long ignored = json_integer_value(json_object_get(p, "ignored"));

		printf("%-8lld %-11lld %-9s %.1fs ago",
		       (long long)json_integer_value(json_object_get(p, "pid")),
		       (long long)json_integer_value(json_object_get(p, "generation")),
		       json_string_value(json_object_get(p, "state")),
		       json_number_value(json_object_get(p, "age")));
		if (ignored)
			printf("  ignored generation %lld", ignored);
		if (json_is_true(json_object_get(p, "panic")))
			printf("  panic");
		printf("\n");
	}
	/* --kubernetes: the other replicas' proxies, from their Leases */
	json_array_foreach(json_object_get(doc, "replicas"), i, p) {
		json_t *q;
		size_t k;

		if (json_is_true(json_object_get(p, "self")))
			continue;
		json_array_foreach(json_object_get(p, "proxies"), k, q) {
			long long gen = json_integer_value(json_object_get(q, "generation"));
			const char *state = json_is_true(json_object_get(q, "stale")) ? "stale"
				: gen == json_integer_value(json_object_get(p, "generation")) ? "synced"
				: "behind";

			printf("%-8lld %-11lld %-9s replica %s (%s)\n",
			       (long long)json_integer_value(json_object_get(q, "pid")), gen, state,
			       json_string_value(json_object_get(p, "pod")),
			       json_string_value(json_object_get(p, "state")));
		}
	}
	if (json_array_size(proxies) == 0 && !json_object_get(doc, "replicas"))
		printf("(no proxy has reported)\n");
}

/* `proxies --json`: this lb-discover's proxies; in --kubernetes mode each
 * with its "replica", then every other replica's (from its Lease). */
static void print_fleet_proxies_json(json_t *doc)
{
	json_t *out = json_deep_copy(json_object_get(doc, "proxies")), *r, *p;
	size_t i, k;

	json_array_foreach(json_object_get(doc, "replicas"), i, r) {
		const char *pod = json_string_value(json_object_get(r, "pod"));

		if (json_is_true(json_object_get(r, "self"))) {
			json_array_foreach(out, k, p)
				json_object_set_new(p, "replica", json_string(pod ? pod : ""));
			continue;
		}
		json_array_foreach(json_object_get(r, "proxies"), k, p) {
			json_t *q = json_deep_copy(p);

			json_object_set_new(q, "replica", json_string(pod ? pod : ""));
			json_object_set(q, "replica_state", json_object_get(r, "state"));
			json_array_append_new(out, q);
		}
	}
	print_json(out);
	json_decref(out);
}

/* --kubernetes: every replica (from its Lease) and the shared state. */
static void print_replicas(json_t *doc)
{
	json_t *replicas = json_object_get(doc, "replicas"), *r;
	json_t *st = json_object_get(doc, "shared_state");
	size_t i;

	if (!replicas)
		return;
	printf("%-32s %-9s %11s %8s  %-7s %s\n", "REPLICA", "STATE", "GENERATION", "PROXIES",
	       "SYNCED", "RENEWED");
	json_array_foreach(replicas, i, r) {
		char name[300];
		json_t *ago = json_object_get(r, "renewed_ago");

		snprintf(name, sizeof(name), "%s%s", json_string_value(json_object_get(r, "pod")) ?: "",
			 json_is_true(json_object_get(r, "self")) ? " (this one)" : "");
		printf("%-32s %-9s %11lld %8lld  %-7s ", name,
		       json_string_value(json_object_get(r, "state")),
		       (long long)json_integer_value(json_object_get(r, "generation")),
		       (long long)json_integer_value(json_object_get(r, "proxy_count")),
		       json_is_true(json_object_get(r, "synced")) ? "yes" : "no");
		if (json_is_number(ago))
			printf("%.1fs ago\n", json_number_value(ago));
		else
			printf("-\n");
	}
	if (st) {
		const char *err = json_string_value(json_object_get(st, "error"));
		const char *damaged = json_string_value(json_object_get(st, "damaged"));
		long long pending = json_integer_value(json_object_get(st, "pending"));

		printf("\nshared state: configmap %s/%s revision %lld, ",
		       json_string_value(json_object_get(st, "namespace")),
		       json_string_value(json_object_get(st, "configmap")),
		       (long long)json_integer_value(json_object_get(st, "revision")));
		if (pending)
			printf("%lld change%s not written yet", pending, pending == 1 ? "" : "s");
		else
			printf("%s", json_is_true(json_object_get(st, "synced")) ? "synced" : "not read yet");
		if (err)
			printf(" (%s)", err);
		if (damaged)
			printf("; damaged, ignored: %s", damaged);
		printf("\n");
	}
	printf("\n");
}

/* Overrides kept for a backend the source stopped listing, until they expire. */
static void print_waiting(json_t *waiting)
{
	json_t *w;
	size_t i;

	if (json_array_size(waiting) == 0)
		return;
	printf("%-24s %-26s %9s %11s\n", "WAITING FOR BACKEND", "OVERRIDES", "LEFT", "EXPIRES IN");
	json_array_foreach(waiting, i, w) {
		char what[64] = "";
		long long weight = json_integer_value(json_object_get(w, "weight"));

		if (json_is_true(json_object_get(w, "drained")))
			strcat(what, "drained ");
		if (json_is_true(json_object_get(w, "removed")))
			strcat(what, "removed ");
		if (weight)
			snprintf(what + strlen(what), sizeof(what) - strlen(what), "weight %lld", weight);
		printf("%-24s %-26s %8.1fs %10.1fs\n", json_string_value(json_object_get(w, "address")),
		       what, json_number_value(json_object_get(w, "left_ago")),
		       json_number_value(json_object_get(w, "expires_in")));
	}
	printf("\n");
}

/* An ejected backend's STATE and REASON: "ejected", and the ejection's
 * reason with its time left (or that it is half-open) before any other. */
static void eject_reason(json_t *ej, char *reason, size_t size, const char **state)
{
	char other[160];
	double left = json_number_value(json_object_get(ej, "left"));

	snprintf(other, sizeof(other), "%.150s", reason);
	if (left > 0)
		snprintf(reason, size, "%s (%.1fs left)%s%s",
			 json_string_value(json_object_get(ej, "reason")), left, *other ? "; " : "",
			 other);
	else
		snprintf(reason, size, "%s (half-open: a trial request decides)%s%s",
			 json_string_value(json_object_get(ej, "reason")), *other ? "; " : "", other);
	if (strcmp(*state, "up") == 0)
		*state = "ejected";
}

/* Appends to `reason` (lb-discover's) why proxies skip a backend it holds
 * up, named by what happened: "skipped by 1 proxy (connect timeouts)".
 * `skipping`: the count by why (status's "skipping"; absent from an older
 * lb-discover: all of them, unnamed); `published`: lb-discover ejected it
 * too, and the ejection's reason, shown first, says why already. */
static void skip_reason(json_t *skipping, long long total, int published, char *reason,
			size_t size)
{
	static const struct {
		const char *key, *words;
	} kinds[] = {
		{ "connect", "connect errors" },
		{ "connect-timeout", "connect timeouts" },
		{ "ejected", "ejected there" },
		{ "down", "down" },
	};
	char words[96] = "";
	long long n = 0;
	size_t len = 0;

	for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
		long long c = json_integer_value(json_object_get(skipping, kinds[k].key));

		if (!c || (published && strcmp(kinds[k].key, "ejected") == 0))
			continue;
		n += c;
		len += (size_t)snprintf(words + len, sizeof(words) - len, "%s%s", len ? ", " : "",
					kinds[k].words);
		if (len >= sizeof(words))
			break;
	}
	if (!skipping) {
		n = total;
		snprintf(words, sizeof(words), "down");
	}
	if (!n)
		return;
	len = strlen(reason);
	snprintf(reason + len, size - len, "%sskipped by %lld prox%s (%s)", len ? "; " : "", n,
		 n == 1 ? "y" : "ies", words);
}

/* One line per proxy in panic (lb-proxy's --panic-threshold), then a blank. */
static void print_panic(json_t *proxies)
{
	json_t *p;
	size_t i;
	int any = 0;

	json_array_foreach(proxies, i, p) {
		if (!json_is_true(json_object_get(p, "panic")))
			continue;
		printf("panic: proxy %lld balances across every backend, ejected or not (fewer than "
		       "its --panic-threshold available)\n",
		       (long long)json_integer_value(json_object_get(p, "pid")));
		any = 1;
	}
	if (any)
		printf("\n");
}

static void print_status(json_t *doc, int verbose)
{
	json_t *backends = json_object_get(doc, "backends"), *b, *p;
	size_t i, k;

	printf("service %s  generation %lld  lb-discover pid %lld\n\n",
	       json_string_value(json_object_get(doc, "service")),
	       (long long)json_integer_value(json_object_get(doc, "generation")),
	       (long long)json_integer_value(json_object_get(doc, "pid")));
	printf("%-24s %-9s %6s  %-8s %9s %10s %7s %7s  %s\n", "ADDRESS", "STATE", "WEIGHT",
	       "HEALTH", "IN-FLIGHT", "REQUESTS", "ERRORS", "5XX", "REASON");
	json_array_foreach(backends, i, b) {
		long long skipping = json_integer_value(json_object_get(b, "proxies_skipping"));
		json_t *ej = json_object_get(b, "ejection");
		const char *state = json_string_value(json_object_get(b, "state"));
		char reason[320];

		/* lb-discover's state, and the proxies' own view when it differs */
		snprintf(reason, sizeof(reason), "%s", json_string_value(json_object_get(b, "reason")));
		if (skipping)
			skip_reason(json_object_get(b, "skipping"), skipping, ej != NULL, reason,
				    sizeof(reason));
		if (ej)
			eject_reason(ej, reason, sizeof(reason), &state);
		printf("%-24s %-9s %6lld  %-8s %9lld %10lld %7lld %7lld  %s\n",
		       json_string_value(json_object_get(b, "address")), state,
		       (long long)json_integer_value(json_object_get(b, "weight")),
		       json_string_value(json_object_get(b, "health")),
		       (long long)json_integer_value(json_object_get(b, "active")),
		       (long long)json_integer_value(json_object_get(b, "requests")),
		       (long long)json_integer_value(json_object_get(b, "errors")),
		       (long long)json_integer_value(json_object_get(b, "responses_5xx")), reason);
	}
	printf("\n");
	status_routes_print(doc);
	print_panic(json_object_get(doc, "proxies"));
	print_waiting(json_object_get(doc, "waiting"));
	print_replicas(doc);
	print_proxies(doc);
	if (!verbose)
		return;
	if (json_is_true(json_object_get(doc, "proxies_trimmed")))
		printf("\n(per proxy, only backends with requests in flight: the full breakdown is "
		       "over the bus's message limit)\n");
	json_array_foreach(json_object_get(doc, "proxies"), i, p) {
		printf("\nproxy %lld:\n", (long long)json_integer_value(json_object_get(p, "pid")));
		json_array_foreach(json_object_get(p, "backends"), k, b)
			printf("  %-24s %-9s in-flight %-6lld requests %-10lld errors %-6lld 5xx %lld\n",
			       json_string_value(json_object_get(b, "address")),
			       json_string_value(json_object_get(b, "state")),
			       (long long)json_integer_value(json_object_get(b, "active")),
			       (long long)json_integer_value(json_object_get(b, "requests")),
			       (long long)json_integer_value(json_object_get(b, "errors")),
			       (long long)json_integer_value(json_object_get(b, "responses_5xx")));
	}
}

/* lb-discover's in-flight answer for addr since generation gen (0: the
 * current one): the rule drain --wait and the admin API's ?wait= share
 * (lb-discover/api/command.c). NULL when lb-discover refused (*rc set). */
static json_t *ask_in_flight(const char *addr, long long gen, int *rc)
{
	struct bus_control c = control_of("in-flight", addr);

	c.has_generation = gen > 0;
	c.generation = (unsigned long long)gen;
	return request(&c, rc);
}

static int drain_wait(const char *addr, long long gen)
{
	double deadline = timefmt_mono() + opts.timeout;
	long long last_n = -2;	/* the count last printed (-1: not every proxy applied it) */
	int rc = CTL_OK;

	for (;;) {
		json_t *doc = ask_in_flight(addr, gen, &rc);
		long long proxies, n;
		double uptime;
		const char *cancelled;
		int drained;

		if (!doc)
			return rc;
		n = json_integer_value(json_object_get(doc, "in_flight"));
		proxies = json_integer_value(json_object_get(doc, "proxies"));
		uptime = json_number_value(json_object_get(doc, "uptime"));
		drained = json_is_true(json_object_get(doc, "drained"));
		cancelled = json_string_value(json_object_get(doc, "cancelled"));
		if (cancelled) {
			/* a script that stops the backend on "drained" must not */
			fprintf(stderr, "lb-ctl: %s is not drained: the drain was cancelled: %s\n",
				addr, cancelled);
			json_decref(doc);
			return CTL_CANCELLED;
		}
		json_decref(doc);
		if (drained) {
			fprintf(stderr, "lb-ctl: %s drained on %lld prox%s\n", addr, proxies,
				proxies == 1 ? "y" : "ies");
			return CTL_OK;
		}
		if (timefmt_mono() > deadline) {
			fprintf(stderr, "lb-ctl: %s still has requests in flight after %gs\n", addr,
				opts.timeout);
			return CTL_TIMEOUT;
		}
		/* a line when something changed, not the same one every second */
		if (n != last_n) {
			if (n < 0)
				fprintf(stderr, "lb-ctl: waiting for every proxy to apply the drain "
						"(and, for an lb-discover started %.1fs ago, to report)\n",
					uptime);
			else
				fprintf(stderr, "lb-ctl: waiting: %lld request%s in flight to %s\n", n,
					n == 1 ? "" : "s", addr);
			last_n = n < 0 ? -1 : n;
		}
		usleep(100 * 1000);
	}
}

/*
 * A name in ADDR ("localhost:8081") is resolved here into the IP literal
 * lb-discover takes, as lb-proxy --backends and lb-discover --static
 * resolve theirs at start-up: lb-ctl runs no event loop, so it may block;
 * lb-discover never resolves (its loop must not block). Anything else is
 * sent as it is, for lb-discover to accept or explain.
 */
static void resolve_address(const char *in, char *out, size_t outsz)
{
	struct net_addr na;
	char plain[BUS_CONTROL_ADDRESS_MAX], err[256];

	snprintf(out, outsz, "%s", in);
	if (net_url_address(in, plain, sizeof(plain), err, sizeof(err)) == -1 ||
	    !strchr(plain, ':') || plain[0] == ':' || plain[0] == '[' ||
	    net_parse_numeric(plain, &na, err, sizeof(err)) == 0 ||
	    net_parse_addr(plain, &na, err, sizeof(err)) == -1)
		return;
	net_addr_format((struct sockaddr *)&na.ss, out, outsz);
}

/* s as a decimal integer from 1 to LONG_MAX, digits only (strtod and
 * strtol would take "0x10", "inf", " 5", "5x" or 2.7 as 2); -1 otherwise. */
static long positive_integer(const char *s)
{
	char *end;
	long v;

	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	v = strtol(s, &end, 10);
	return *end || errno || v < 1 ? -1 : v;
}

int main(int argc, char **argv)
{
	struct config_result cfg;
	const struct verb *verb;
	const char *cmd, *addr = NULL;
	int rc, verbose = 0, wait = 0, has_weight = 0, i;
	long weight = 0, count = 0;
	struct bus_control c;
	json_t *doc;
	char err[512], literal[BUS_CONTROL_ADDRESS_MAX];

	build_synopsis();
	rc = config_load(&ctl_spec, &opts, argc, argv, &cfg);
	if (rc != 0) {
		if (rc == -1)
			fprintf(stderr, "lb-ctl: %s\n", cfg.err);
		config_result_release(&cfg);
		return rc == 1 ? CTL_OK : CTL_USAGE;
	}
	if (cfg.argi >= argc) {
		config_result_release(&cfg);
		return usage("no command");
	}
	cmd = argv[cfg.argi];
	if (strcmp(cmd, "load") == 0) {	/* local to lb-ctl: no bus verb */
		rc = load_main(argc - cfg.argi - 1, argv + cfg.argi + 1, opts.json, opts.timeout);
		config_result_release(&cfg);
		return rc;
	}
	verb = verbs_find(cmd);
	if (!verb) {
		config_result_release(&cfg);
		return usage("unknown command");
	}
	/* Command arguments, as the verb's row says: the address, then flags. */
	for (i = cfg.argi + 1; i < argc; i++) {
		const char *a = argv[i];

		if ((verb->args & VERB_OPT_VERBOSE) &&
		    (strcmp(a, "-v") == 0 || strcmp(a, "--verbose") == 0)) {
			verbose = 1;
		} else if (strcmp(a, "--json") == 0) {
			opts.json = 1;
		} else if ((verb->args & VERB_OPT_WAIT) && strcmp(a, "--wait") == 0) {
			wait = 1;
		} else if ((verb->args & VERB_OPT_SERVICE) && strcmp(a, "--service") == 0 &&
			   i + 1 < argc) {
			service = argv[++i];
			if (!*service || strlen(service) >= BUS_SERVICE_MAX) {
				config_result_release(&cfg);
				return usage("--service takes a Service's name, NAMESPACE/NAME:PORT");
			}
		} else if ((strcmp(a, "--timeout") == 0 ||
			    ((verb->args & VERB_OPT_WEIGHT) && strcmp(a, "--weight") == 0) ||
			    ((verb->args & VERB_OPT_COUNT) && strcmp(a, "--count") == 0)) &&
			   i + 1 < argc) {
			const char *v = argv[++i];
			double seconds;

			if (a[2] == 't') {
				/* as the --timeout before the command: a duration */
				if (config_parse_duration(v, &seconds) == -1 || !(seconds >= 0.1) ||
				    seconds > 86400) {
					config_result_release(&cfg);
					return usage("--timeout takes a duration from 0.1s to 86400s "
						     "(seconds, or 500ms, 2s, 1m, 1h)");
				}
				opts.timeout = seconds;
			} else if (a[2] == 'w') {
				if ((weight = positive_integer(v)) == -1) {
					config_result_release(&cfg);
					return usage("--weight takes a decimal integer from 1 to 1000");
				}
				has_weight = 1;
			} else if ((count = positive_integer(v)) == -1) {
				config_result_release(&cfg);
				return usage("--count takes a positive decimal integer");
			}
		} else if (a[0] != '-' && (verb->args & VERB_ADDRESS) && !addr) {
			addr = a;
		} else if (a[0] != '-' && (verb->args & VERB_WEIGHT) && !has_weight) {
			weight = positive_integer(a);	/* -1 ("5x", "0x10"): refused below */
			has_weight = 1;
		} else {
			fprintf(stderr, "lb-ctl: unexpected \"%s\" (see lb-ctl --help)\n", a);
			config_result_release(&cfg);
			return CTL_USAGE;
		}
	}
	if (strcmp(verb->name, "help") == 0) {
		config_usage(&ctl_spec);
		config_result_release(&cfg);
		return CTL_OK;
	}
	if ((verb->args & VERB_ADDRESS) && !addr) {
		config_result_release(&cfg);
		return usage("which backend? give its ADDRESS");
	}
	if ((verb->args & VERB_WEIGHT) && (!has_weight || weight < 1 || weight > 1000)) {
		config_result_release(&cfg);
		return usage("weight ADDR N: N from 1 to 1000");
	}
	if (addr)
		resolve_address(addr, literal, sizeof(literal));
	if (rundir_resolve(opts.runtime_dir, 0, rundir, sizeof(rundir), err, sizeof(err)) == -1) {
		fprintf(stderr, "lb-ctl: %s: is lb-discover running? see --runtime-dir\n", err);
		config_result_release(&cfg);
		return CTL_NO_DISCOVER;
	}
	rc = CTL_OK;
	if (!verb->command) {
		rc = watch_run(rundir, count, service);
	} else if (strcmp(verb->name, "in-flight") == 0) {
		doc = ask_in_flight(literal, 0, &rc);
		if (doc && opts.json) {
			print_json(doc);
		} else if (doc) {
			long long n = json_integer_value(json_object_get(doc, "in_flight"));

			if (n < 0)
				printf("%s: not known yet (a proxy has not applied generation %lld or "
				       "reported lately)\n", literal,
				       (long long)json_integer_value(json_object_get(doc, "generation")));
			else
				printf("%s: %lld in flight on %lld prox%s\n", literal, n,
				       (long long)json_integer_value(json_object_get(doc, "proxies")),
				       json_integer_value(json_object_get(doc, "proxies")) == 1 ? "y"
												: "ies");
		}
		json_decref(doc);
	} else if (!verb->writes) {
		c = control_of(verb->command, NULL);
		doc = request(&c, &rc);
		if (doc && strcmp(cmd, "routes") == 0) {
			rc = routes_print(doc, opts.json, opts.timeout);
			json_decref(doc);
		} else if (doc) {
			if (opts.json && strcmp(cmd, "proxies") == 0)
				print_fleet_proxies_json(doc);
			else if (opts.json)
				print_json(doc);
			else if (strcmp(cmd, "proxies") == 0)
				print_proxies(doc);
			else
				print_status(doc, verbose);
			json_decref(doc);
		}
	} else {
		c = control_of(verb->command, addr ? literal : NULL);
		c.has_weight = has_weight;
		c.weight = weight;
		doc = request(&c, &rc);
		if (doc) {
			long long gen = json_integer_value(json_object_get(doc, "generation"));

			if (opts.json)
				print_json(doc);
			else if (service)
				printf("%s %s of %s: done (generation %lld)\n", cmd, addr, service, gen);
			else
				printf("%s %s: done (generation %lld)\n", cmd, addr, gen);
			fflush(stdout);
			json_decref(doc);
			if (wait)
				rc = drain_wait(literal, gen);
		}
	}
	config_result_release(&cfg);
	return rc;
}
