/* admin_trace: one SERVER span per write of the admin API (add, remove,
 * drain, undrain, weight, uneject), named "{method} {route}" by the HTTP
 * semantic conventions ("POST /admin/backends/{address}/drain", the route
 * as common/verbs.c writes it, never the raw path), with the backend's
 * address and the result (the status and the error the API answered); the
 * child of the caller's traceparent when it sent one. */
#ifndef LB_DISCOVER_ADMIN_TRACE_H
#define LB_DISCOVER_ADMIN_TRACE_H

#include <stddef.h>

#include "bus_protocol.h"
#include "core/spans.h"
#include "verbs.h"

/* One write's span while it runs (in its struct admin_conn). */
struct admin_trace {
	unsigned active : 1;		/* a write's span is open */
	struct spans_ctx ctx;
	const struct verb *verb;	/* its name and route */
	char address[BUS_ADDRESS_MAX];	/* the backend, as normalized once known */
};

struct http_msg;
struct sockaddr_storage;

/* A write of verb v begins at `now` (Unix ns), its whole request in m (its
 * traceparent read there). */
void admin_trace_begin(struct admin_trace *t, const struct http_msg *m, const struct verb *v,
		       uint64_t now);
/* The backend the write acts on (the address command_run normalized). */
void admin_trace_address(struct admin_trace *t, const char *address);
/* The write answers `status` with body[0, n) (JSON; {"error": ...} when it
 * failed) at `now`: its span, if one is open, ends and is queued, with the
 * request's path and the client's address `peer`. */
void admin_trace_end(struct admin_trace *t, uint64_t now, const char *path, size_t path_len,
		     const struct sockaddr_storage *peer, int status, const char *body, size_t n);

#endif
