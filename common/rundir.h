/* rundir: the runtime directory a deployment's programs share for the bus sockets. */
#ifndef LB_RUNDIR_H
#define LB_RUNDIR_H

#include <stddef.h>
#include <sys/types.h>

/*
 * Picks the directory: `given` (a flag or the program's variable) if not
 * NULL/empty, else LB_RUNTIME_DIR, else /run/lb when it can be used, else
 * $XDG_RUNTIME_DIR/lb, else /tmp/lb-UID. With `create`, makes it (mkdir 0700,
 * atomic). The directory must belong to this user and be writable by no group
 * and no other user (else anyone could bind lb's sockets there and feed a
 * proxy their own backends); a default one must not be a symbolic link. A
 * default that exists but fails that check is an error, not a reason to try
 * the next one. Returns 0, or -1 with a message in err naming the owner or mode.
 */
int rundir_resolve(const char *given, int create, char *out, size_t outsz, char *err, size_t errsz);

/*
 * A file lb is about to open or connect to in its runtime dir (a bus socket,
 * the state file, the takeover socket): absent is fine; present, it must not
 * be a symbolic link, must be of `type` (S_IFSOCK, S_IFREG; 0: any) and must
 * belong to this user and be writable by no group or other. Returns 0, or -1
 * with a message in err.
 */
int rundir_check_file(const char *path, mode_t type, char *err, size_t errsz);

/* The folder of the runtime dir where lb-discover --gateway writes the
 * certificates of the Gateway's HTTPS listeners (one SUB/tls.crt, SUB/tls.key
 * per Secret), which a bus proxy's tls: listener serves when it is given no
 * certificate flag. */
#define RUNDIR_GATEWAY_TLS "gateway-tls"

#endif
