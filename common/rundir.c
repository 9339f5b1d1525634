/* rundir: the runtime directory a deployment's programs share for the bus sockets. */
#include "rundir.h"

#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* "uid 1001 (mallory)", or "uid 1001" when the name cannot be read. */
static void owner_name(uid_t uid, char *out, size_t outsz)
{
	struct passwd *pw = getpwuid(uid);

	if (pw && pw->pw_name)
		snprintf(out, outsz, "uid %u (%s)", (unsigned)uid, pw->pw_name);
	else
		snprintf(out, outsz, "uid %u", (unsigned)uid);
}

/* Whether st (of `what` at path) is ours alone: owned by this user, and
 * writable by no group and no other user (tmux's and ssh-agent's rule).
 * Else -1 with a message naming the owner or the mode and the fix, or -2
 * when only the owner is wrong. */
static int owned_alone(const char *what, const char *path, const struct stat *st, char *err,
		       size_t errsz)
{
	char owner[96], me[96];

	if (st->st_uid != geteuid()) {
		owner_name(st->st_uid, owner, sizeof(owner));
		owner_name(geteuid(), me, sizeof(me));
		snprintf(err, errsz, "%s %s is owned by %s, not by you (%s): another user could "
			 "read or replace lb's sockets there; remove it or give --runtime-dir",
			 what, path, owner, me);
		return -2;
	}
	if (st->st_mode & (S_IWGRP | S_IWOTH)) {
		snprintf(err, errsz, "%s %s has mode %04o: group or others can write to it (and "
			 "bind lb's sockets there); chmod 700 %s or give another --runtime-dir",
			 what, path, (unsigned)(st->st_mode & 07777), path);
		return -1;
	}
	return 0;
}

/* A directory that is ours alone (see owned_alone), made 0700 when absent and
 * `create`. `follow`: a given path may be a symbolic link (the user chose it);
 * a default one may not (in /tmp another user could plant or swap one).
 * Returns 0; 1 (with a message) when absent or not usable, 2 when another
 * user's, and a later default may be tried; -1 with a message when it is this
 * user's but may not be used. */
static int check_dir(const char *dir, int create, int follow, char *err, size_t errsz)
{
	struct stat st;

	if ((follow ? stat(dir, &st) : lstat(dir, &st)) == -1) {
		if (errno != ENOENT) {
			snprintf(err, errsz, "runtime dir %s: %s", dir, strerror(errno));
			return 1;
		}
		if (!create) {
			snprintf(err, errsz, "runtime dir %s: %s", dir, strerror(ENOENT));
			return 1;
		}
		/* mkdir is the atomic step: whoever made it first owns it, and
		 * the check below sees who that was. */
		if (mkdir(dir, 0700) == -1 && errno != EEXIST) {
			snprintf(err, errsz, "cannot create runtime dir %s: %s", dir,
				 strerror(errno));
			return 1;
		}
		if (lstat(dir, &st) == -1) {
			snprintf(err, errsz, "runtime dir %s: %s", dir, strerror(errno));
			return 1;
		}
	}
	if (S_ISLNK(st.st_mode)) {
		snprintf(err, errsz, "runtime dir %s is a symbolic link: remove it or give "
			 "--runtime-dir", dir);
		return -1;
	}
	if (!S_ISDIR(st.st_mode)) {
		snprintf(err, errsz, "runtime dir %s is not a directory", dir);
		return -1;
	}
	switch (owned_alone("runtime dir", dir, &st, err, errsz)) {
	case -2:
		return 2;
	case -1:
		return -1;
	}
	if (access(dir, W_OK | X_OK) == -1) {
		snprintf(err, errsz, "runtime dir %s: %s", dir, strerror(errno));
		return 1;
	}
	return 0;
}

int rundir_check_file(const char *path, mode_t type, char *err, size_t errsz)
{
	struct stat st;

	if (lstat(path, &st) == -1) {
		if (errno == ENOENT)
			return 0;
		snprintf(err, errsz, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (S_ISLNK(st.st_mode)) {
		snprintf(err, errsz, "%s is a symbolic link: lb does not follow links in its "
			 "runtime dir; remove it", path);
		return -1;
	}
	if (type && (st.st_mode & S_IFMT) != type) {
		/* a FIFO in place of the state file blocked lb-discover's start */
		snprintf(err, errsz, "%s is not a %s: remove it", path,
			 type == S_IFSOCK ? "socket" : "regular file");
		return -1;
	}
	return owned_alone("file", path, &st, err, errsz) == 0 ? 0 : -1;
}

int rundir_resolve(const char *given, int create, char *out, size_t outsz, char *err, size_t errsz)
{
	const char *env = getenv("LB_RUNTIME_DIR"), *xdg = getenv("XDG_RUNTIME_DIR");
	char tried[3][256];
	int n = 0, rc = 1;

	if (!(given && *given) && env && *env)
		given = env;
	if (given && *given) {
		snprintf(out, outsz, "%s", given);
		return check_dir(out, create, 1, err, errsz) == 0 ? 0 : -1;
	}
	snprintf(tried[n++], sizeof(tried[0]), "/run/lb");
	if (xdg && *xdg)
		snprintf(tried[n++], sizeof(tried[0]), "%s/lb", xdg);
	snprintf(tried[n++], sizeof(tried[0]), "/tmp/lb-%u", (unsigned)geteuid());
	/* A shared default another user owns (/run/lb of a root deployment)
	 * is skipped; this user's own name, /tmp/lb-UID, taken by someone
	 * else is the error, with its owner named. */
	for (int i = 0; i < n; i++) {
		snprintf(out, outsz, "%s", tried[i]);
		rc = check_dir(out, create, 0, err, errsz);
		if (rc <= 0)
			return rc;
	}
	if (rc == 2)
		return -1;
	snprintf(err, errsz, "no usable runtime dir (tried /run/lb, $XDG_RUNTIME_DIR/lb, %s): "
		 "give --runtime-dir", out);
	return -1;
}
