/* bus_protocol: the messages lb's programs exchange over the bus, and their codec.
 *
 * Every message is one JSON object with "v" (the protocol version) and
 * "type". Bump BUS_PROTOCOL_VERSION if any of these change; readers drop
 * (and log) messages of another version, oversized or malformed ones.
 *
 * Sockets, all ipc:// in the runtime dir, bound by lb-discover:
 *   sets.sock     PUB -> SUB   "set": full backend sets, on every change and
 *                              every heartbeat
 *   reports.sock  PULL <- PUSH "report": each proxy's counters, every
 *                              report interval
 *   control.sock  REP <- REQ   "control" requests from lb-ctl, "reply" answers
 */
#ifndef LB_BUS_PROTOCOL_H
#define LB_BUS_PROTOCOL_H

#include <stddef.h>

#include "buf.h"
#include "bus_listens.h"
#include "service_settings.h"

/* 2: reports say which set a proxy ignored; 3: status replies may trim the
 * per-proxy lists to busy backends ("proxies_trimmed"); 4: report backends
 * carry the proxy's own view ("state": down while it skips a backend after
 * a failed connect) and its 5xx answers ("responses_5xx"); 5: outlier
 * ejection: set backends may carry lb-discover's "ejection", report backends
 * carry the proxy's "breaker" and its own "ejection" (see below), the
 * control command "uneject"; sets say how many proxies lb-discover hears
 * ("proxies", for fleet-wide rate limits); control messages may carry a
 * "generation" (in-flight, drain --wait's question); 6: reports say whether
 * the proxy is in panic ("panic": fewer than its --panic-threshold of the
 * backends available, it balances across all of them); 7: "routes" (a
 * Gateway's route table, lb-discover --routes) on sets.sock, sets of routed
 * services named "namespace/name:port" (BUS_SERVICE_MAX), reports say the
 * routes generation the proxy serves ("routes"); report backends name the
 * kinds of failure in the proxy's runs ("failures_5xx", "failures_gateway")
 * and why it skips a backend lb-discover holds up ("skip"), so reasons say
 * timeouts, resets, connects or 5xx; a proxy's first report says "new"
 * (drain --wait counts it as applied at once); sets name lb-discover's admin
 * API ("admin"); 8: control messages may name a routed service
 * ("service": drain, weight, status ... of that Service's set), and a proxy
 * reports each routed Service it serves (a report per Service, the same
 * schema); 9: a routed Service's sets carry its own backend "protocol" and
 * balancing algorithm ("balance"), absent: the proxy's own */
#define BUS_PROTOCOL_VERSION 9
/* bytes: every bus socket's NN_RCVMAXSIZE (nanomsg disconnects a peer that
 * announces more), and no program sends more (2 MiB since version 5: a full
 * set with an ejection on every backend is 1.3 MB) */
#define BUS_MAX_MESSAGE (2 * 1024 * 1024)
/* backends in a set or report: lb-discover publishes no more (an `add` past
 * it is refused, a longer source cut), proxies refuse a set with more; a set
 * or report of this many, with the longest fields, fits BUS_MAX_MESSAGE */
#define BUS_MAX_BACKENDS 4096
/* "proxies" in a set: 1 to this many */
#define BUS_MAX_PROXIES 100000
#define BUS_ADDRESS_MAX 64
#define BUS_NAME_MAX 64
/* bytes of a service's name with its NUL: "namespace/name:port" of a routed
 * Service (63 + 1 + 253 + 1 + 5) */
#define BUS_SERVICE_MAX 324

#define BUS_SOCKET_SETS "sets"
#define BUS_SOCKET_REPORTS "reports"
#define BUS_SOCKET_CONTROL "control"

enum bus_state {
	BUS_STATE_UP = 0,	/* gets new requests */
	BUS_STATE_DRAINING,	/* no new requests; in-flight ones finish */
	BUS_STATE_DOWN,		/* no new requests */
};

/* A proxy's circuit breaker for a backend (lb-proxy/upstream/outlier.h). */
enum bus_breaker {
	BUS_BREAKER_CLOSED = 0,	/* takes requests */
	BUS_BREAKER_OPEN,	/* ejected */
	BUS_BREAKER_HALF_OPEN,	/* one trial request at a time */
};

/* The kinds of failure in a proxy's run on a backend, as bits (reports'
 * "failures_5xx" and "failures_gateway": a list of their names). */
enum bus_failure {
	BUS_FAILURE_5XX = 1 << 0,	/* "5xx": the backend answered 5xx */
	BUS_FAILURE_CONNECT = 1 << 1,	/* "connect": a connect refused, unreachable, TLS */
	BUS_FAILURE_RESET = 1 << 2,	/* "reset": the connection failed mid-exchange */
	BUS_FAILURE_TIMEOUT = 1 << 3,	/* "timeout": a connect or response timed out */
};
#define BUS_FAILURE_KINDS 4
/* A metric's `reason` label for a set of kinds: each kind's name, "mixed"
 * (more than one), "unknown" (none said): BUS_FAILURE_LABELS values. */
#define BUS_FAILURE_LABELS (BUS_FAILURE_KINDS + 2)

/* Why a proxy skips a backend lb-discover holds up (reports' "skip"). */
enum bus_skip {
	BUS_SKIP_NONE = 0,		/* it does not (absent) */
	BUS_SKIP_CONNECT,		/* "connect": a connect failed, skipped --fail-timeout */
	BUS_SKIP_CONNECT_TIMEOUT,	/* "connect-timeout": a connect timed out, the same */
	BUS_SKIP_EJECTED,		/* "ejected": its breaker is open (the ejection says why) */
};

/* an ejection's seconds left, at most (a day: --eject-time-max's bound) */
#define BUS_EJECT_LEFT_MAX 86400
/* a backend's ejections, at most */
#define BUS_EJECTIONS_MAX 1000000

struct bus_backend {
	char address[BUS_ADDRESS_MAX];	/* "10.0.0.7:8080", "[::1]:8080" */
	int weight;			/* 1-1000 */
	enum bus_state state;
	char reason[BUS_NAME_MAX];	/* why not up: "operator", "health check", "source" */
	/* in reports (state: the proxy's view): */
	unsigned active;		/* requests in flight */
	unsigned long long requests;	/* forwarded */
	unsigned long long errors;	/* connects and exchanges that failed */
	unsigned long long responses_5xx;	/* 5xx answers the backend gave */
	/* outlier ejection: in sets, the fleet's (lb-discover's); in reports,
	 * one this proxy made that lb-discover does not publish yet */
	int ejected;			/* 1: "ejection" is present */
	double eject_left;		/* seconds left; 0: half-open, one trial at a time */
	unsigned ejections;		/* the backend's ejections so far (the time multiplier) */
	char eject_reason[BUS_NAME_MAX];	/* "outlier: 5 consecutive 5xx on proxy 4321" */
	enum bus_breaker breaker;	/* reports: the proxy's breaker for it */
	unsigned consecutive_5xx;	/* reports: its current run of 5xx answers */
	unsigned consecutive_gateway;	/* reports: its current run of gateway failures */
	unsigned failures_5xx;		/* reports: enum bus_failure bits of the 5xx run */
	unsigned failures_gateway;	/* reports: the same, of the gateway run */
	enum bus_skip skip;		/* reports: why the proxy skips it (version 7) */
	unsigned eject_failures;	/* reports' "ejection": enum bus_failure bits that made
					 * it (0: not said; version 7) */
};

/* "set": {"v":6,"type":"set","service":"backend","generation":42,"proxies":2,
 *         "backends":[{"address":"10.0.0.7:8080","weight":1,"state":"up","reason":""},
 *                     {"address":"10.0.0.8:8080","weight":1,"state":"up","reason":"",
 *                      "ejection":{"reason":"outlier: 5 consecutive 5xx on proxy 4321",
 *                                  "left":27.5,"count":1}}]}
 *        "ejection" (optional): lb-discover ejected it fleet-wide; "left" 0 means
 *        half-open (each proxy lets one trial through; it stays listed until a
 *        proxy reports its trial passed), "count" the ejections so far.
 *        "proxies": the proxies lb-discover hears (at least 1).
 *        "admin" (optional): lb-discover's admin API, ADDR:PORT.
 *        "protocol", "balance" (optional, version 9): a routed Service's own
 *        backend protocol (http1, h2c, h2) and algorithm (a --balance name);
 *        absent: the proxy's --backend-protocol and --balance.
 * "report": {"v":7,"type":"report","pid":123,"service":"backend","generation":42,
 *            "ignored":0,"stale":false,"uptime":12.5,"panic":false,"new":true,
 *            "backends":[{"address":..,"state":"up","active":0,"requests":10,"errors":0,
 *                         "responses_5xx":0,"breaker":"open","consecutive_5xx":2,
 *                         "consecutive_gateway":1,"failures_5xx":["timeout"],
 *                         "failures_gateway":["timeout"],"skip":"ejected"}]}
 *        "admin" (optional): the proxy's admin API, ADDR:PORT.
 *        "failures_*" (absent: none): the kinds of failure in the runs, and
 *        in a report's "ejection" (optional "failures"), those that made it;
 *        "skip" (absent: none): why the proxy's own view is down while
 *        lb-discover's is up; "new" (absent: false): the proxy's first report.
 *        "breaker": open or half-open (absent: closed); "consecutive_*": the
 *        proxy's current runs of failures, lb-discover sums them over the fleet
 *        (absent: 0); "ejection" (optional, same shape as in sets): an ejection
 *        this proxy made itself, until lb-discover publishes it. "panic"
 *        (absent: false): the proxy is in panic (lb-proxy/upstream/panic.h).
 *        "listens" (optional, version 9; bus_listens.h): the ports the proxy
 *        listens on, [{"port":8080},{"port":8443,"tls":true}], at most
 *        BUS_LISTENS_MAX (lb-discover's Gateway listener status). */
struct bus_set {
	char type[16];			/* "set" or "report" */
	char service[BUS_SERVICE_MAX];
	unsigned long long generation;	/* only grows; a set applies only if newer */
	int pid;			/* reports */
	int stale;			/* reports: the proxy hears no sets */
	double uptime;			/* reports */
	size_t n;
	struct bus_backend *backends;	/* malloc'd, n entries */
	/* reports: the generation of the last set this proxy refused as older
	 * than the one it applied (0: none since it applied one) */
	unsigned long long ignored;
	int version;			/* decoded: the "v" the message had (0: none) */
	/* sets: the live proxies of this service lb-discover hears (at least
	 * 1; a set without the field decodes as 1): each enforces 1/proxies
	 * of a fleet-wide rate limit */
	unsigned proxies;
	/* reports: the proxy is in panic, balancing across every backend,
	 * ejected or not (lb-proxy's --panic-threshold; version 6) */
	int panic;
	/* reports: the generation of the routes message the proxy serves (0:
	 * none; version 7) */
	unsigned long long routes;
	/* reports: the proxy's first report since it started ("new"; version 7) */
	int fresh;
	/* sets: lb-discover's admin API address ("admin", optional; "" none;
	 * version 7): where a proxy's admin API sends an operator's writes;
	 * reports: the proxy's own admin API (lb-ctl routes reads its hits) */
	char admin[BUS_ADDRESS_MAX];
	/* sets of a routed Service: its own "protocol" and "balance" ("": the
	 * proxy's; version 9), applied with the set */
	struct service_settings settings;
	/* reports: the ports the proxy listens on ("listens", optional;
	 * version 9), nlistens of them */
	struct bus_listen listens[BUS_LISTENS_MAX];
	unsigned nlistens;
};

const char *bus_state_name(enum bus_state s);
const char *bus_breaker_name(enum bus_breaker b);
/* The name of failure kind `bit` (one enum bus_failure bit): "5xx", ... */
const char *bus_failure_name(unsigned bit);
const char *bus_skip_name(enum bus_skip s);
/* Writes what a run of failures of kinds `bits` (enum bus_failure) was, for
 * reasons: "timeouts", "timeouts+resets", "5xx"; `gateway`: a 5xx in it is a
 * 502-504 ("502-504s"). "failures" when bits is 0. Returns out. */
char *bus_failure_words(unsigned bits, int gateway, char *out, size_t size);
/* The label index (0 to BUS_FAILURE_LABELS - 1) of `bits`, and its name. */
unsigned bus_failure_label_index(unsigned bits);
const char *bus_failure_label(unsigned index);
/* Parses "up"/"draining"/"down"; returns the state or -1. */
int bus_state_parse(const char *s);

/* Appends the JSON of a set or report (per set->type). Returns 0 or -1. */
int bus_set_encode(const struct bus_set *set, struct buf *out);
/*
 * Validates and decodes a "set" or "report" of `len` bytes (size, version,
 * type, every field). Returns 0, or -1 with the reason in err; the caller
 * frees with bus_set_release() either way. A message of another protocol
 * version leaves its "v" in set->version (bus_version_mismatch()).
 */
int bus_set_decode(const char *data, size_t len, struct bus_set *set, char *err, size_t errsz);
void bus_set_release(struct bus_set *set);
/* 1 when a message that failed to decode had another protocol version:
 * the peer runs another lb release (the reason says which versions). */
int bus_version_mismatch(const struct bus_set *set);

/* "control" (lb-ctl -> lb-discover):
 *   {"v":4,"type":"control","command":"drain","address":"10.0.0.8:8080"}
 *   {"v":4,"type":"control","command":"add","address":"10.0.0.9:8080","weight":2}
 *   {"v":5,"type":"control","command":"in-flight","address":"10.0.0.8:8080","generation":43}
 *   {"v":8,"type":"control","command":"drain","address":"10.0.0.8:8080",
 *    "service":"default/api:80"}
 * The command is one of lb-discover's verbs (common/verbs.h); the address is
 * as the operator spelled it (a URL too: net_url_address() reads it).
 * "service" (optional): the routed service whose backend it names (absent
 * or "": lb-discover's main service). */
#define BUS_COMMAND_MAX 16
/* bytes of a control's address as spelled: "http://[v6]:port/" is longer
 * than the address it names */
#define BUS_CONTROL_ADDRESS_MAX 128
struct bus_control {
	char command[BUS_COMMAND_MAX];
	char address[BUS_CONTROL_ADDRESS_MAX];	/* "" when none */
	int has_weight;
	long long weight;		/* when has_weight: as sent (the handler checks the range) */
	int has_generation;
	unsigned long long generation;	/* when has_generation: in-flight's "since this set" */
	int version;			/* decoded: the "v" the message had (0: none) */
	char service[BUS_SERVICE_MAX];	/* "" : the main service; else a routed one's name */
};

/* Appends the JSON of a control request. Returns 0 or -1. */
int bus_control_encode(const struct bus_control *c, struct buf *out);
/* Validates and decodes a "control" of `len` bytes (size, version, type,
 * command, address, service, weight and generation types). Returns 0, or -1 with the reason in
 * err (c->version says whether it was a version mismatch). Owns nothing. */
int bus_control_decode(const char *data, size_t len, struct bus_control *c, char *err,
		       size_t errsz);

/* "reply" (lb-discover -> lb-ctl): {"v":4,"type":"reply","ok":true,"generation":43,...}
 * or {"v":4,"type":"reply","ok":false,"error":"unknown backend ..."}; a
 * status reply carries the status document's fields beside "ok". */
struct json_t;
struct bus_reply {
	int ok;
	char error[256];		/* when !ok */
	struct json_t *body;		/* the whole reply object (a new reference) */
};
/* Appends the reply: the fields of `body` (a JSON object, or NULL; not
 * stolen) with v, type, ok and, when !ok, error. Returns 0, or -1 when out
 * of memory or over BUS_MAX_MESSAGE (the caller answers something shorter). */
int bus_reply_encode(struct json_t *body, int ok, const char *error, struct buf *out);
/* Validates and decodes a reply; returns 0 (release with bus_reply_release)
 * or -1 with the reason in err (nothing to release). */
int bus_reply_decode(const char *data, size_t len, struct bus_reply *r, char *err, size_t errsz);
void bus_reply_release(struct bus_reply *r);

#endif
