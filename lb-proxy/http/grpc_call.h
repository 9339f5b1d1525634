/* grpc_call: what lb-proxy does for a gRPC request (content-type
 * application/grpc over HTTP/2): its deadline from grpc-timeout, the
 * grpc-timeout the backend gets, and its own answers as gRPC statuses
 * (answer.c writes them). See docs/http2.md, "gRPC". */
#ifndef LB_PROXY_GRPC_CALL_H
#define LB_PROXY_GRPC_CALL_H

#include <stddef.h>

#include "policy/grpc_wire.h"
#include "session_state.h"

/* The field lines of a gRPC answer are at most this long (grpc-status,
 * grpc-message and the answer's own fields). */
#define GRPC_CALL_FIELDS_MAX 512

/*
 * Classifies the request of s once its head is parsed (s->x->started set):
 * gRPC when it came on an HTTP/2 stream with a gRPC content-type (over
 * HTTP/1.1 gRPC cannot be spoken: its answers stay HTTP). A grpc-timeout
 * sets the exchange's deadline; a malformed one is ignored (as gRPC's
 * servers and Envoy do) and logged at most once a second.
 */
void grpc_call_begin(struct session *s);
/* 1 when the proxy's own answers to s's request are gRPC statuses. */
int grpc_call_is_grpc(const struct session *s);
/* `seconds` (a timeout lb would set), or less when the request's deadline
 * comes first (never below a millisecond). */
double grpc_call_timeout(const struct session *s, double seconds);
/* 1 when the request's deadline has passed: no attempt starts. */
int grpc_call_deadline_passed(const struct session *s);
/*
 * Rewrites the grpc-timeout field of the request head for the backend
 * (s->x->up_head, not yet written) to what the deadline has left, as Envoy
 * does on each attempt: a backend never gets more time than the client has.
 * Nothing happens without a deadline. Returns 0, or -1 out of memory.
 */
int grpc_call_forward_timeout(struct session *s);
/*
 * The field lines of the gRPC answer that stands for the HTTP answer
 * `status` (`overloaded`: a full queue's 503): grpc-status, grpc-message
 * (`message`, printable ASCII without '%') and `fields` (or NULL), into out
 * (GRPC_CALL_FIELDS_MAX bytes, NUL-terminated).
 */
void grpc_call_answer_fields(int status, int overloaded, const char *message, const char *fields,
			     char *out, size_t size);

#endif
