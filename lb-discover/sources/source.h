/* source: where lb-discover learns the backends (static list, file, DNS), and
 * the parsing they share. */
#ifndef LB_DISCOVER_SOURCE_H
#define LB_DISCOVER_SOURCE_H

#include <ev.h>
#include <stddef.h>

#include "bus_protocol.h"

/* A source hands over a full list (it keeps ownership) each time it changes. */
typedef void (*source_update_cb)(void *data, const struct bus_backend *list, size_t n);

/* Parses one "IP:PORT[@WEIGHT]" into b (an IP literal: it runs in the
 * loop, the file source's reloads); returns 0 or -1 with err. */
int source_parse_entry(const char *text, struct bus_backend *b, char *err, size_t errsz);
/* Parses --static's "HOST:PORT[@WEIGHT],..." into a malloc'd list, a name
 * resolved into its first address as lb-proxy --backends does (start-up
 * only: it may block); returns the count or -1. */
int source_parse_list(const char *spec, struct bus_backend **out, char *err, size_t errsz);

/* --file: a JSON list (["10.0.0.1:80", {"address":"10.0.0.2:80","weight":2}])
 * or one address per line (# comments), reloaded on change (inotify). */
struct source_file;
/* Reads the file (an error here stops the start-up) and watches it. */
struct source_file *source_file_start(struct ev_loop *loop, const char *path, source_update_cb cb,
				      void *data, char *err, size_t errsz);
void source_file_stop(struct source_file *f);
/* Parses file content; returns the count (list malloc'd) or -1 with
 * "PATH:LINE:COL: ..." in err. */
int source_file_parse(const char *path, const char *text, size_t len, struct bus_backend **out,
		      char *err, size_t errsz);

/* --dns NAME [--port P]: A/AAAA with a port, else SRV, every interval (c-ares). */
struct source_dns;
struct source_dns *source_dns_start(struct ev_loop *loop, const char *name, int port,
				    double interval, const char *servers, source_update_cb cb,
				    void *data, char *err, size_t errsz);
void source_dns_stop(struct source_dns *d);

/* --kubernetes SERVICE: list then watch the service's EndpointSlices (or core/v1
 * Endpoints) through the API client `kube` (kube.h, kept by the caller);
 * ready -> up, serving + terminating -> draining, not serving -> down. */
struct kube;
struct source_k8s_options {
	const char *service;
	const char *port;		/* a port name or number; NULL/"": the first */
	int use_endpoints;		/* core/v1 Endpoints instead of EndpointSlices */
	double watch_timeout;		/* timeoutSeconds of each watch */
};
struct source_k8s;
struct source_k8s *source_k8s_start(struct kube *kube, const struct source_k8s_options *o,
				    source_update_cb cb, void *data, char *err, size_t errsz);
void source_k8s_stop(struct source_k8s *k);
/* Adds the endpoints of one EndpointSlice for port (a port name, a number,
 * or "" for its only port) to *list (*n entries, realloc'd), the states
 * from its conditions as --kubernetes reads them. */
struct json_t;
void source_k8s_slice_backends(struct json_t *slice, const char *port, struct bus_backend **list,
			       size_t *n);

#endif
