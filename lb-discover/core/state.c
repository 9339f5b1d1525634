/* state: lb-discover's operator overrides and generation, kept across restarts. */
#include "state.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "net.h"

/* The optional "ejection" of a backends[] item; returns 0 or -1 with err. */
static int parse_ejection(json_t *o, size_t i, struct state_override *ov, char *err, size_t errsz)
{
	json_t *e = json_object_get(o, "ejection");
	json_t *until = json_object_get(e, "until"), *count = json_object_get(e, "count");
	const char *reason = json_string_value(json_object_get(e, "reason"));

	if (!e)
		return 0;
	if (!json_is_object(e) || !json_is_number(until) || json_number_value(until) < 0 ||
	    !json_is_integer(count) || json_integer_value(count) < 1 ||
	    json_integer_value(count) > BUS_EJECTIONS_MAX || !reason || !*reason ||
	    strlen(reason) >= BUS_NAME_MAX) {
		snprintf(err, errsz, "backends[%zu].ejection must be {\"reason\": a short string, "
			 "\"until\": a time in seconds, \"count\": 1 to %d}", i, BUS_EJECTIONS_MAX);
		return -1;
	}
	ov->ejected = 1;
	ov->eject_until = json_number_value(until);
	ov->ejections = (unsigned)json_integer_value(count);
	snprintf(ov->eject_reason, sizeof(ov->eject_reason), "%s", reason);
	return 0;
}

/* A rename is durable once the directory holding it is on disk. */
static int fsync_dir_of(const char *path)
{
	char dir[512];
	int dfd, rc;

	snprintf(dir, sizeof(dir), "%s", path);
	dfd = open(dirname(dir), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd == -1)
		return -1;
	rc = fsync(dfd);
	close(dfd);
	return rc;
}

static int flag(json_t *o, const char *key, int *out)
{
	json_t *v = json_object_get(o, key);

	if (v && !json_is_boolean(v))
		return -1;
	*out = json_is_true(v);
	return 0;
}

/* Validates one backends[] item into ov; returns 0 or -1 with err. */
static int parse_override(json_t *o, size_t i, struct state_override *ov, char *err, size_t errsz)
{
	const char *addr = json_string_value(json_object_get(o, "address"));
	json_t *w = json_object_get(o, "weight");
	struct net_addr na;
	char why[256];

	memset(ov, 0, sizeof(*ov));
	if (!json_is_object(o)) {
		snprintf(err, errsz, "backends[%zu] must be an object", i);
		return -1;
	}
	if (!addr || strlen(addr) >= BUS_ADDRESS_MAX ||
	    net_parse_numeric(addr, &na, why, sizeof(why)) == -1) {
		snprintf(err, errsz, "backends[%zu].address must be an IP:PORT string", i);
		return -1;
	}
	snprintf(ov->address, sizeof(ov->address), "%s", addr);
	if (flag(o, "added", &ov->added) == -1 || flag(o, "removed", &ov->removed) == -1 ||
	    flag(o, "drained", &ov->drained) == -1) {
		snprintf(err, errsz, "backends[%zu]: added, removed and drained must be booleans", i);
		return -1;
	}
	if (w && (!json_is_integer(w) || json_integer_value(w) < 1 || json_integer_value(w) > 1000)) {
		snprintf(err, errsz, "backends[%zu].weight must be 1 to 1000", i);
		return -1;
	}
	ov->weight = w ? (int)json_integer_value(w) : 0;
	w = json_object_get(o, "left");
	if (w && (!json_is_number(w) || json_number_value(w) < 0)) {
		snprintf(err, errsz, "backends[%zu].left must be a time in seconds", i);
		return -1;
	}
	ov->left = w ? json_number_value(w) : 0;
	return parse_ejection(o, i, ov, err, errsz);
}

static int by_address(const void *a, const void *b)
{
	const struct state_override *const *x = a, *const *y = b;
	int c = strcmp((*x)->address, (*y)->address);

	return c ? c : (*x < *y ? -1 : *x > *y);
}

/* 1 (with err) when two items name one address: which one applies would
 * depend on the order, and an operation would change only the first. */
static int repeated(struct state_override *ov, size_t n, char *err, size_t errsz)
{
	struct state_override **sorted;
	int found = 0;

	if (n < 2)
		return 0;
	sorted = malloc(n * sizeof(*sorted));
	if (!sorted) {
		snprintf(err, errsz, "out of memory");
		return 1;
	}
	for (size_t i = 0; i < n; i++)
		sorted[i] = &ov[i];
	qsort(sorted, n, sizeof(*sorted), by_address);
	for (size_t i = 1; i < n && !found; i++) {
		if (strcmp(sorted[i - 1]->address, sorted[i]->address) != 0)
			continue;
		snprintf(err, errsz, "backends[%zu].address %s is backends[%zu]'s already",
			 (size_t)(sorted[i] - ov), sorted[i]->address, (size_t)(sorted[i - 1] - ov));
		found = 1;
	}
	free(sorted);
	return found;
}

struct state_override *state_parse(const struct registry *r, json_t *root, int need_generation,
				   unsigned long long *generation, size_t *n, char *err,
				   size_t errsz)
{
	json_t *v, *list;
	struct state_override *out = NULL;
	size_t i;

	*generation = 0;
	if (!json_is_object(root)) {
		snprintf(err, errsz, "expected a JSON object, found %s",
			 json_is_array(root) ? "an array" : "a scalar");
		return NULL;
	}
	v = json_object_get(root, "service");
	if (v && (!json_is_string(v) || strcmp(json_string_value(v), r->service) != 0)) {
		snprintf(err, errsz, "\"service\" is not \"%s\"", r->service);
		return NULL;
	}
	v = json_object_get(root, "generation");
	if ((v || need_generation) && (!json_is_integer(v) || json_integer_value(v) < 0)) {
		snprintf(err, errsz, "\"generation\" must be a non-negative integer");
		return NULL;
	}
	if (v)
		*generation = (unsigned long long)json_integer_value(v);
	list = json_object_get(root, "backends");
	if (!json_is_array(list)) {
		snprintf(err, errsz, "\"backends\" must be a list");
		return NULL;
	}
	*n = json_array_size(list);
	out = calloc(*n ? *n : 1, sizeof(*out));
	if (!out) {
		snprintf(err, errsz, "out of memory");
		return NULL;
	}
	json_array_foreach(list, i, v) {
		if (parse_override(v, i, &out[i], err, errsz) == -1) {
			free(out);
			return NULL;
		}
	}
	if (repeated(out, *n, err, errsz)) {
		free(out);
		return NULL;
	}
	return out;
}

int state_services_check(json_t *services, char *err, size_t errsz)
{
	static struct registry any;	/* no "service" to check in a section */
	const char *name;
	json_t *doc;
	char why[300];

	if (!services)
		return 0;
	if (!json_is_object(services)) {
		snprintf(err, errsz, "\"services\" must be an object of service names");
		return -1;
	}
	json_object_foreach(services, name, doc) {
		unsigned long long generation;
		size_t n;
		struct state_override *ov;

		if (strlen(name) >= BUS_SERVICE_MAX || !json_is_object(doc) ||
		    json_object_get(doc, "service") || json_object_get(doc, "generation")) {
			snprintf(err, errsz, "services[\"%.80s\"] must be {\"backends\": [...]} of a "
				 "service name under %d bytes", name, BUS_SERVICE_MAX);
			return -1;
		}
		ov = state_parse(&any, doc, 0, &generation, &n, why, sizeof(why));
		if (!ov) {
			snprintf(err, errsz, "services[\"%.80s\"]: %s", name, why);
			return -1;
		}
		free(ov);
	}
	return 0;
}

/* Parses the file's text; returns the overrides (malloc'd, *n of them) or
 * NULL with err ("what was wrong", without the path). */
static struct state_override *parse(const struct registry *r, const struct buf *text,
				    unsigned long long *generation, size_t *n, char *err,
				    size_t errsz)
{
	json_error_t jerr;
	json_t *root;
	struct state_override *out;

	if (text->len == 0) {
		snprintf(err, errsz, "the file is empty");
		return NULL;
	}
	root = json_loadb(text->data, text->len, JSON_REJECT_DUPLICATES, &jerr);
	if (!root) {
		snprintf(err, errsz, "%d:%d: not JSON: %s", jerr.line, jerr.column, jerr.text);
		return NULL;
	}
	out = state_parse(r, root, 1, generation, n, err, errsz);
	if (out && state_services_check(json_object_get(root, "services"), err, errsz) == -1) {
		free(out);
		out = NULL;
	}
	json_decref(root);
	return out;
}

/* Renames a damaged file to PATH.corrupt-TIMESTAMP; appends the outcome to err. */
static void keep_aside(const char *path, char *err, size_t errsz)
{
	char aside[600], stamp[32];
	time_t now = time(NULL);
	struct tm tm;
	size_t len = strlen(err);

	gmtime_r(&now, &tm);
	strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%SZ", &tm);
	snprintf(aside, sizeof(aside), "%s.corrupt-%s", path, stamp);
	if (rename(path, aside) == -1 || fsync_dir_of(path) == -1)
		snprintf(err + len, errsz - len, " (could not keep it aside as %s: %s)", aside,
			 strerror(errno));
	else
		snprintf(err + len, errsz - len, "; kept aside as %s", aside);
}

/* Sets the overrides ov (n of them) on r's entries; an ejection is carried
 * from the set after generation. */
static void apply(struct registry *r, const struct state_override *ov, size_t n,
		  unsigned long long generation)
{
	for (size_t i = 0; i < n; i++) {
		struct entry *e = registry_get(r, ov[i].address);

		if (!e)
			continue;
		e->added = ov[i].added;
		e->removed = ov[i].removed;
		e->drained = ov[i].drained;
		e->weight_override = ov[i].weight;
		if (!e->in_source)
			e->left_at = ov[i].left;	/* 0: registry_expire starts the clock */
		if (ov[i].ejected) {
			e->ejected = 1;
			e->eject_until = ov[i].eject_until;
			e->ejections = ov[i].ejections;
			e->eject_generation = generation + 1;	/* this run's first */
			snprintf(e->eject_reason, sizeof(e->eject_reason), "%s", ov[i].eject_reason);
		}
	}
}

int state_load(struct registry *r, const char *path, char *err, size_t errsz)
{
	struct buf text = BUF_INIT;
	struct state_override *ov;
	unsigned long long generation = 0;
	size_t n = 0;
	char why[400];

	if (buf_read_file(&text, path) == -1) {
		buf_release(&text);
		if (errno == ENOENT)
			return 1;
		snprintf(err, errsz, "%s: %s", path, strerror(errno));
		return -1;
	}
	ov = parse(r, &text, &generation, &n, why, sizeof(why));
	buf_release(&text);
	if (!ov) {
		snprintf(err, errsz, "%s: %s", path, why);
		keep_aside(path, err, errsz);
		return -1;
	}
	r->generation = generation;
	apply(r, ov, n, generation);
	free(ov);
	return 0;
}

json_t *state_services_read(const char *path)
{
	struct buf text = BUF_INIT;
	json_t *root, *services = NULL;

	if (buf_read_file(&text, path) == -1) {
		buf_release(&text);
		return NULL;
	}
	root = json_loadb(text.data ? text.data : "", text.len, JSON_REJECT_DUPLICATES, NULL);
	buf_release(&text);
	services = json_object_get(root, "services");
	if (json_is_object(services))
		json_incref(services);
	else
		services = NULL;
	json_decref(root);
	return services;
}

int state_apply(struct registry *r, json_t *doc, char *err, size_t errsz)
{
	unsigned long long generation;
	size_t n;
	struct state_override *ov = state_parse(r, doc, 0, &generation, &n, err, errsz);

	if (!ov)
		return -1;
	apply(r, ov, n, r->generation);
	free(ov);
	return 0;
}

json_t *state_backends(const struct registry *r)
{
	json_t *list = json_array();

	for (size_t i = 0; list && i < r->n; i++) {
		const struct entry *e = &r->entries[i];
		json_t *o;

		if (!e->added && !registry_overridden(e) && !e->ejected)
			continue;
		o = json_pack("{s:s,s:b,s:b,s:b}", "address", e->address, "added", e->added,
			      "removed", e->removed, "drained", e->drained);
		if (e->weight_override)
			json_object_set_new(o, "weight", json_integer(e->weight_override));
		if (!e->in_source && e->left_at)
			json_object_set_new(o, "left", json_real(e->left_at));
		if (e->ejected)
			json_object_set_new(o, "ejection", json_pack("{s:s,s:f,s:i}", "reason",
					    e->eject_reason, "until", e->eject_until, "count",
					    (int)e->ejections));
		json_array_append_new(list, o);
	}
	return list;
}

int state_save(const struct registry *r, json_t *services, const char *path, char *err,
	       size_t errsz)
{
	json_t *root = json_object(), *list = state_backends(r);
	char tmp[512];
	int fd = -1, rc = -1;
	char *text = NULL;
	size_t len;

	json_object_set_new(root, "service", json_string(r->service));
	json_object_set_new(root, "generation", json_integer((json_int_t)r->generation));
	json_object_set_new(root, "backends", list);
	if (services)
		json_object_set(root, "services", services);
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
	if (rename(tmp, path) == -1 || fsync_dir_of(path) == -1)
		goto fail;
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
