/* cert_dir: the Gateway's certificates written into the runtime dir's
 * RUNDIR_GATEWAY_TLS folder, which the pod's proxies serve as their SNI
 * directory (a tls: listener without certificate flags, docs/tls.md): one
 * subfolder per Secret, NAMESPACE_NAME/tls.crt and tls.key (0600), swapped in
 * whole as the kubelet swaps a mounted Secret: written into a hidden folder,
 * then a symbolic link renamed over the old one. */
#ifndef LB_DISCOVER_CERT_DIR_H
#define LB_DISCOVER_CERT_DIR_H

#include <stddef.h>

#include "gateway_tls.h"

struct cert_dir {
	char path[512];		/* RUNDIR/gateway-tls */
	unsigned long serial;	/* names each new hidden folder */
};

/* Makes (0700) or checks the folder in rundir. Returns 0, or -1 with err. */
int cert_dir_init(struct cert_dir *c, const char *rundir, char *err, size_t errsz);
/* Makes the folder hold exactly tls's certificates: a changed one is swapped
 * in, one no longer there removed (but those of tls->kept). Failures are logged (the folder keeps
 * what it had). Returns how many subfolders changed. */
int cert_dir_apply(struct cert_dir *c, const struct gateway_tls *tls);

#endif
