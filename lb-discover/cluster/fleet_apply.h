/* fleet_apply: the shared state's document operations, without I/O: an
 * operation applied to a state document, a document applied to the
 * registry (unit-tested in tests/unit/test_discover_fleet.c, fuzzed by
 * tests/fuzz/fuzz_shared_state.c). */
#ifndef LB_DISCOVER_FLEET_APPLY_H
#define LB_DISCOVER_FLEET_APPLY_H

#include <jansson.h>
#include <stddef.h>

#include "core/fleet_op.h"
#include "core/registry.h"

/* Applies one state document's overrides to r, replacing the ones it had.
 * Returns 0, or -1 with err when the document is not valid (then nothing
 * changed). Keeps nothing of doc. */
int fleet_apply_document(struct registry *r, json_t *doc, double now, char *err, size_t errsz);
/* Applies op to a state document (its "backends" list; a routed Service's,
 * op->service, in "services": {NAME: {"backends": [...]}}, a section that
 * is left empty going away), as every replica would. Returns 0, or -1 out
 * of memory. */
int fleet_apply_op(json_t *doc, const struct fleet_op *op);

#endif
