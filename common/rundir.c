/* rundir: the runtime directory a deployment's programs share for the bus sockets. */
#include "rundir.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int usable(const char *dir, int create)
{
	struct stat st;

	if (stat(dir, &st) == 0)
		return S_ISDIR(st.st_mode) && access(dir, W_OK | X_OK) == 0;
	return create && mkdir(dir, 0700) == 0;
}

int rundir_resolve(const char *given, int create, char *out, size_t outsz, char *err, size_t errsz)
{
	const char *env = getenv("LB_RUNTIME_DIR"), *xdg = getenv("XDG_RUNTIME_DIR");
	struct stat st;

	if (!(given && *given) && env && *env)
		given = env;
	if (given && *given) {
		snprintf(out, outsz, "%s", given);
		if (stat(out, &st) == 0) {
			if (!S_ISDIR(st.st_mode)) {
				snprintf(err, errsz, "runtime dir %s is not a directory", out);
				return -1;
			}
			return 0;
		}
		if (!create) {
			snprintf(err, errsz, "runtime dir %s: %s", out, strerror(errno));
			return -1;
		}
		if (mkdir(out, 0700) == -1) {
			snprintf(err, errsz, "cannot create runtime dir %s: %s", out, strerror(errno));
			return -1;
		}
		return 0;
	}
	snprintf(out, outsz, "/run/lb");
	if (usable(out, create))
		return 0;
	if (xdg && *xdg) {
		snprintf(out, outsz, "%s/lb", xdg);
		if (usable(out, create))
			return 0;
	}
	snprintf(out, outsz, "/tmp/lb-%u", (unsigned)getuid());
	if (usable(out, create))
		return 0;
	snprintf(err, errsz, "no usable runtime dir (tried /run/lb, $XDG_RUNTIME_DIR/lb, %s): "
		 "give --runtime-dir", out);
	return -1;
}
