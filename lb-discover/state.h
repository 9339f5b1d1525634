/* state: lb-discover's operator overrides and generation, kept in a file of
 * the runtime dir so a restart keeps them. */
#ifndef LB_DISCOVER_STATE_H
#define LB_DISCOVER_STATE_H

#include "registry.h"

/* Reads DIR/discover-SERVICE.json into r (overrides and the generation).
 * A missing file is no error. Returns 0 or -1 with err filled. */
int state_load(struct registry *r, const char *path, char *err, size_t errsz);
/* Writes it atomically (temporary file, fsync, rename, fsync of the dir). */
int state_save(const struct registry *r, const char *path, char *err, size_t errsz);

#endif
