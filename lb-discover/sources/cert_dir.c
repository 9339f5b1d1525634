/* cert_dir: a Gateway's certificates as an SNI directory (see cert_dir.h). */
#include "sources/cert_dir.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "rundir.h"

/* subfolders whose hidden folders a sweep keeps */
#define TLS_SWEEP_MAX 256
/* bytes of a path built here (the folder, an id, a file name) */
#define CERT_PATH 2048

/* Formats a path into out (CERT_PATH bytes). Returns 0, or -1 when too long. */
__attribute__((format(printf, 2, 3))) static int pathf(char *out, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(out, CERT_PATH, fmt, ap);
	va_end(ap);
	return n < 0 || n >= CERT_PATH ? -1 : 0;
}

int cert_dir_init(struct cert_dir *c, const char *rundir, char *err, size_t errsz)
{
	memset(c, 0, sizeof(*c));
	c->serial = (unsigned long)time(NULL);
	if ((size_t)snprintf(c->path, sizeof(c->path), "%s/%s", rundir, RUNDIR_GATEWAY_TLS) >=
	    sizeof(c->path)) {
		snprintf(err, errsz, "%s/%s: the path is too long", rundir, RUNDIR_GATEWAY_TLS);
		return -1;
	}
	if (mkdir(c->path, 0700) == -1 && errno != EEXIST) {
		snprintf(err, errsz, "%s: %s", c->path, strerror(errno));
		return -1;
	}
	return rundir_check_file(c->path, S_IFDIR, err, errsz);
}

/* 1 when file holds exactly text. */
static int same_content(const char *file, const char *text, size_t len)
{
	FILE *f = fopen(file, "rb");
	char *have = malloc(len + 1);
	size_t n = 0;
	int same = 0;

	if (f && have) {
		n = fread(have, 1, len + 1, f);
		same = n == len && memcmp(have, text, len) == 0;
	}
	free(have);
	if (f)
		fclose(f);
	return same;
}

static int write_file(const char *file, const char *text, size_t len)
{
	int fd = open(file, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	size_t done = 0;

	if (fd == -1)
		return -1;
	while (done < len) {
		ssize_t w = write(fd, text + done, len - done);

		if (w == -1 && errno == EINTR)
			continue;
		if (w <= 0) {
			close(fd);
			return -1;
		}
		done += (size_t)w;
	}
	return close(fd);
}

/* Removes a hidden folder of a pair (its two files, then it). */
static void remove_pair_folder(const char *dir)
{
	char file[CERT_PATH];

	pathf(file, "%s/tls.crt", dir);
	unlink(file);
	pathf(file, "%s/tls.key", dir);
	unlink(file);
	rmdir(dir);
}

/* Writes cert into a new hidden folder and renames a link to it over its
 * subfolder's. Returns 0, or -1 (logged). */
static int swap_in(struct cert_dir *c, const struct gateway_tls_cert *cert)
{
	char hidden[CERT_PATH], dir[CERT_PATH], file[CERT_PATH], link_tmp[CERT_PATH],
	     link[CERT_PATH], old[CERT_PATH];
	ssize_t n;

	/* the pid too: two lb-discover given one runtime dir make no name twice */
	pathf(hidden, ".%s.%ld.%lu", cert->id, (long)getpid(), ++c->serial);
	pathf(dir, "%s/%s", c->path, hidden);
	pathf(link, "%s/%s", c->path, cert->id);
	pathf(link_tmp, "%s/.%s.%ld.link", c->path, cert->id, (long)getpid());
	if (mkdir(dir, 0700) == -1)
		goto fail;
	pathf(file, "%s/tls.key", dir);
	if (write_file(file, cert->key, cert->key_len) == -1)
		goto fail;
	pathf(file, "%s/tls.crt", dir);
	if (write_file(file, cert->cert, cert->cert_len) == -1)
		goto fail;
	n = readlink(link, old, sizeof(old) - 1);
	unlink(link_tmp);
	if (symlink(hidden, link_tmp) == -1 || rename(link_tmp, link) == -1)
		goto fail;
	if (n > 0 && old[0] == '.' && !strchr((old[n] = '\0', old), '/')) {
		pathf(dir, "%s/%s", c->path, old);
		remove_pair_folder(dir);
	}
	return 0;
fail:
	log_error("gateway: certificate not written", "secret=%s dir=%s error=\"%s\"", cert->id,
		  c->path, strerror(errno));
	remove_pair_folder(dir);
	return -1;
}

/* 1 when the subfolder named id holds cert already. */
static int up_to_date(const struct cert_dir *c, const struct gateway_tls_cert *cert)
{
	char file[CERT_PATH];

	pathf(file, "%s/%s/tls.crt", c->path, cert->id);
	if (!same_content(file, cert->cert, cert->cert_len))
		return 0;
	pathf(file, "%s/%s/tls.key", c->path, cert->id);
	return same_content(file, cert->key, cert->key_len);
}

/* Removes what no certificate of tls names: a visible entry's link and its
 * folder; hidden folders no link points to (left by a crash). */
static int sweep(struct cert_dir *c, const struct gateway_tls *tls)
{
	DIR *d = opendir(c->path);
	struct dirent *e;
	char path[CERT_PATH], target[CERT_PATH];
	static char targets[TLS_SWEEP_MAX][CERT_PATH];
	struct stat st;
	unsigned ntargets = 0;
	int removed = 0;

	if (!d)
		return 0;
	while ((e = readdir(d)) != NULL) {
		int wanted = 0;
		ssize_t n;

		if (e->d_name[0] == '.')
			continue;
		for (unsigned i = 0; i < tls->n_certs && !wanted; i++)
			wanted = strcmp(tls->certs[i].id, e->d_name) == 0;
		for (unsigned i = 0; i < tls->n_kept && !wanted; i++)
			wanted = strcmp(tls->kept[i].id, e->d_name) == 0;
		pathf(path, "%s/%s", c->path, e->d_name);
		n = readlink(path, target, sizeof(target) - 1);
		if (wanted) {
			if (n > 0 && ntargets < TLS_SWEEP_MAX)
				pathf(targets[ntargets++], "%.*s", (int)n, target);
			continue;
		}
		unlink(path);
		removed++;
		if (n > 0 && target[0] == '.') {
			target[n] = '\0';
			if (!strchr(target, '/')) {
				pathf(path, "%s/%s", c->path, target);
				remove_pair_folder(path);
			}
		}
	}
	rewinddir(d);
	while ((e = readdir(d)) != NULL) {
		int kept = strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0 ||
			   e->d_name[0] != '.';

		for (unsigned i = 0; i < ntargets && !kept; i++)
			kept = strcmp(targets[i], e->d_name) == 0;
		if (kept)
			continue;
		pathf(path, "%s/%s", c->path, e->d_name);
		/* a link left by a crash is removed, never followed */
		if (lstat(path, &st) == 0 && S_ISDIR(st.st_mode))
			remove_pair_folder(path);
		else
			unlink(path);
	}
	closedir(d);
	return removed;
}

int cert_dir_apply(struct cert_dir *c, const struct gateway_tls *tls)
{
	int changed = 0;

	for (unsigned i = 0; i < tls->n_certs; i++) {
		if (up_to_date(c, &tls->certs[i]))
			continue;
		if (swap_in(c, &tls->certs[i]) == 0) {
			log_info("gateway: certificate written", "secret=%s dir=%s", tls->certs[i].id,
				 c->path);
			changed++;
		}
	}
	changed += sweep(c, tls);
	return changed;
}
