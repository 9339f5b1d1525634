/* state: lb-discover's operator overrides and generation, kept across restarts. */
#include "state.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int state_load(struct registry *r, const char *path, char *err, size_t errsz)
{
	json_error_t jerr;
	json_t *root, *list, *v;
	size_t i;

	if (access(path, F_OK) == -1)
		return 0;
	root = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
	if (!root) {
		snprintf(err, errsz, "%s:%d:%d: %s", path, jerr.line, jerr.column, jerr.text);
		return -1;
	}
	v = json_object_get(root, "generation");
	if (json_is_integer(v) && json_integer_value(v) > 0)
		r->generation = (unsigned long long)json_integer_value(v);
	list = json_object_get(root, "backends");
	json_array_foreach(list, i, v) {
		const char *addr = json_string_value(json_object_get(v, "address"));
		struct entry *e;

		if (!addr || strlen(addr) >= BUS_ADDRESS_MAX || !(e = registry_get(r, addr)))
			continue;
		e->added = json_is_true(json_object_get(v, "added"));
		e->removed = json_is_true(json_object_get(v, "removed"));
		e->drained = json_is_true(json_object_get(v, "drained"));
		if (json_is_integer(json_object_get(v, "weight")))
			e->weight_override = (int)json_integer_value(json_object_get(v, "weight"));
	}
	json_decref(root);
	return 0;
}

int state_save(const struct registry *r, const char *path, char *err, size_t errsz)
{
	json_t *root = json_object(), *list = json_array();
	char tmp[512], dir[512];
	int fd = -1, rc = -1, dfd;
	char *text = NULL;
	size_t len;

	json_object_set_new(root, "service", json_string(r->service));
	json_object_set_new(root, "generation", json_integer((json_int_t)r->generation));
	for (size_t i = 0; i < r->n; i++) {
		const struct entry *e = &r->entries[i];
		json_t *o;

		if (!e->added && !e->removed && !e->drained && !e->weight_override)
			continue;
		o = json_pack("{s:s,s:b,s:b,s:b}", "address", e->address, "added", e->added,
			      "removed", e->removed, "drained", e->drained);
		if (e->weight_override)
			json_object_set_new(o, "weight", json_integer(e->weight_override));
		json_array_append_new(list, o);
	}
	json_object_set_new(root, "backends", list);
	text = json_dumps(root, JSON_INDENT(2));
	json_decref(root);
	if (!text)
		goto fail;
	len = strlen(text);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd == -1 || write(fd, text, len) != (ssize_t)len || write(fd, "\n", 1) != 1 ||
	    fsync(fd) == -1)
		goto fail;
	close(fd);
	fd = -1;
	if (rename(tmp, path) == -1)
		goto fail;
	snprintf(dir, sizeof(dir), "%s", path);
	dfd = open(dirname(dir), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd != -1) {
		fsync(dfd);
		close(dfd);
	}
	rc = 0;
	goto out;
fail:
	snprintf(err, errsz, "cannot write %s: %s", path, strerror(errno));
	if (fd != -1)
		close(fd);
	unlink(tmp);
out:
	free(text);
	return rc;
}
