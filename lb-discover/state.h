/* state: lb-discover's operator overrides and generation, kept in a file of
 * the runtime dir so a restart keeps them. */
#ifndef LB_DISCOVER_STATE_H
#define LB_DISCOVER_STATE_H

#include "registry.h"

/*
 * Reads PATH (RUNTIME_DIR/discover-SERVICE.json) into r: the generation and
 * the overrides, all or nothing. Returns 0 when loaded, 1 when there is no
 * file, -1 when it is damaged (not JSON, empty, a wrong type, a bad field):
 * then nothing of it is applied, err says what was wrong and the file is
 * kept aside as PATH.corrupt-TIMESTAMP (named in err) so that the next
 * save does not replace it.
 */
int state_load(struct registry *r, const char *path, char *err, size_t errsz);
/* Writes it atomically (temporary file, fsync, rename, fsync of the dir). */
int state_save(const struct registry *r, const char *path, char *err, size_t errsz);

#endif
