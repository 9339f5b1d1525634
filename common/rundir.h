/* rundir: the runtime directory a deployment's programs share for the bus sockets. */
#ifndef LB_RUNDIR_H
#define LB_RUNDIR_H

#include <stddef.h>

/*
 * Picks the directory: `given` (a flag or the program's variable) if not
 * NULL/empty, else LB_RUNTIME_DIR, else /run/lb when it can be used, else
 * $XDG_RUNTIME_DIR/lb, else /tmp/lb-UID. With `create`, makes it (0700).
 * Returns 0, or -1 with a message in err.
 */
int rundir_resolve(const char *given, int create, char *out, size_t outsz, char *err, size_t errsz);

#endif
