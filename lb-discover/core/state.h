/* state: lb-discover's operator overrides and generation, kept in a file of
 * the runtime dir so a restart keeps them. */
#ifndef LB_DISCOVER_STATE_H
#define LB_DISCOVER_STATE_H

#include <jansson.h>

#include "registry.h"

/* One backend's overrides as a state document holds them. */
struct state_override {
	char address[BUS_ADDRESS_MAX];
	int added, removed, drained, weight;
	double left;		/* when the source stopped listing it, 0: listed */
	int ejected;		/* a fleet-wide ejection (ejection.c) */
	double eject_until;	/* wall clock */
	unsigned ejections;
	char eject_reason[BUS_NAME_MAX];
};

/*
 * Reads PATH (RUNTIME_DIR/discover-SERVICE.json) into r: the generation and
 * the overrides, all or nothing (the routed Services' "services" are checked
 * too, and read by state_services_read). Returns 0 when loaded, 1 when there is no
 * file, -1 when it is damaged (not JSON, empty, a wrong type, a bad field):
 * then nothing of it is applied, err says what was wrong and the file is
 * kept aside as PATH.corrupt-TIMESTAMP (named in err) so that the next
 * save does not replace it.
 */
int state_load(struct registry *r, const char *path, char *err, size_t errsz);
/* Writes it atomically (temporary file, fsync, rename, fsync of the dir),
 * with `services` (not stolen; NULL: none) as its "services": each routed
 * Service's overrides, {"NAMESPACE/NAME:PORT": {"backends": [...]}}. */
int state_save(const struct registry *r, json_t *services, const char *path, char *err,
	       size_t errsz);
/* Validates a state document's optional "services" (the file's, or the
 * shared state's): {"NAMESPACE/NAME:PORT": {"backends": [...]}}, each item
 * as the main service's. Returns 0 (NULL: none) or -1 with err. */
int state_services_check(json_t *services, char *err, size_t errsz);
/* The "services" of the state file at path (validated by state_load): a new
 * reference, or NULL when there is none. */
json_t *state_services_read(const char *path);
/* Sets the overrides of doc ({"backends": [...]}, one routed Service's
 * section of the state file) on r. Returns 0 or -1 with err. */
int state_apply(struct registry *r, json_t *doc, char *err, size_t errsz);

/*
 * Validates a state document: the file's, or the fleet's in its ConfigMap
 * (fleet.c): {"service": r's, "generation": N (need_generation: required),
 * "backends": [{"address", "added", "removed", "drained", "weight", "left",
 * "ejection"}]}. Returns the overrides (malloc'd, *n of them; *generation,
 * 0 when absent) or NULL with err saying what is wrong. Keeps nothing of root.
 */
struct state_override *state_parse(const struct registry *r, json_t *root, int need_generation,
				   unsigned long long *generation, size_t *n, char *err,
				   size_t errsz);
/* The registry's overrides as a document's "backends" list (a new reference,
 * NULL when out of memory). */
json_t *state_backends(const struct registry *r);

#endif
