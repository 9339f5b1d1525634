/* source_file: backends from a file, JSON list or one per line, reloaded on
 * change through inotify; a bad edit keeps the last good list. */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "log.h"
#include "net.h"
#include "source.h"
#include "sources/file_watch.h"

struct source_file {
	char path[512];
	struct file_watch watch;
	source_update_cb cb;
	void *data;
};

/* With `resolve` (start-up only: it may block), a name in HOST:PORT is
 * resolved into the IP literal the set carries. */
static int parse_entry(const char *text, struct bus_backend *b, int resolve, char *err,
		       size_t errsz)
{
	char item[BUS_ADDRESS_MAX + 16];
	struct net_addr na;
	long weight;

	memset(b, 0, sizeof(*b));
	/* "http://10.0.0.9:8080" is 10.0.0.9:8080 (seed 004's spelling) */
	if (net_url_address(text, item, sizeof(item), err, errsz) == -1)
		return -1;
	if (net_split_weight(item, &weight, err, errsz) == -1)
		return -1;
	b->weight = (int)weight;
	if (resolve && item[0] != '[' && item[0] != ':' && strchr(item, ':') &&
	    net_parse_numeric(item, &na, err, errsz) == -1) {
		if (net_parse_addr(item, &na, err, errsz) == -1)
			return -1;
		net_addr_format((struct sockaddr *)&na.ss, b->address, sizeof(b->address));
		return 0;
	}
	if (strlen(item) >= BUS_ADDRESS_MAX || net_parse_numeric(item, &na, err, errsz) == -1)
		return -1;
	if (net_is_localhost(item))	/* one spelling per backend: 127.0.0.1:PORT */
		net_addr_format((struct sockaddr *)&na.ss, b->address, sizeof(b->address));
	else
		memcpy(b->address, item, strlen(item) + 1);
	return 0;
}

int source_parse_entry(const char *text, struct bus_backend *b, char *err, size_t errsz)
{
	return parse_entry(text, b, 0, err, errsz);
}

/* Appends b, growing the list geometrically (capacity 16, then the next
 * power of two: implied by n). */
static int append(struct bus_backend **list, int *n, const struct bus_backend *b)
{
	if (*n == 0 || (*n >= 16 && (*n & (*n - 1)) == 0)) {
		struct bus_backend *grown = realloc(*list, (size_t)(*n ? 2 * *n : 16) * sizeof(*grown));

		if (!grown)
			return -1;
		*list = grown;
	}
	(*list)[(*n)++] = *b;
	return 0;
}

struct slot {
	const char *address;
	int i;
};

static int by_address_then_place(const void *a, const void *b)
{
	const struct slot *x = a, *y = b;
	int c = strcmp(x->address, y->address);

	return c ? c : x->i - y->i;
}

/* An address listed twice is taken once, at its first place; the order is
 * kept. Returns the new count (sorting, so thousands cost little). */
static int drop_repeats(struct bus_backend *list, int n)
{
	struct slot *slots = n > 1 ? malloc((size_t)n * sizeof(*slots)) : NULL;
	char *repeat = n > 1 ? calloc((size_t)n, 1) : NULL;
	int k = 0;

	if (!slots || !repeat) {
		free(slots);
		free(repeat);
		return n;	/* n < 2, or no memory: the registry takes repeats as one */
	}
	for (int i = 0; i < n; i++)
		slots[i] = (struct slot){ list[i].address, i };
	qsort(slots, (size_t)n, sizeof(*slots), by_address_then_place);
	for (int i = 1; i < n; i++)
		if (strcmp(slots[i].address, slots[i - 1].address) == 0)
			repeat[slots[i].i] = 1;
	for (int i = 0; i < n; i++)
		if (!repeat[i])
			list[k++] = list[i];
	free(slots);
	free(repeat);
	return k;
}

int source_parse_list(const char *spec, struct bus_backend **out, char *err, size_t errsz)
{
	char *copy = strdup(spec), *save = NULL, *item;
	struct bus_backend *list = NULL, b;
	int n = 0;

	if (!copy)
		return -1;
	for (item = strtok_r(copy, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
		while (*item == ' ')
			item++;
		if (parse_entry(item, &b, 1, err, errsz) == -1 || append(&list, &n, &b) == -1)
			goto fail;
	}
	free(copy);
	*out = list;
	return drop_repeats(list, n);
fail:
	free(copy);
	free(list);
	return -1;
}

static int parse_json(const char *path, const char *text, size_t len, struct bus_backend **out,
		      char *err, size_t errsz)
{
	json_error_t jerr;
	json_t *root = json_loadb(text, len, 0, &jerr), *v;
	struct bus_backend *list = NULL, b;
	char why[256];
	size_t i;
	int n = 0;

	if (!root) {
		snprintf(err, errsz, "%s:%d:%d: invalid JSON: %s", path, jerr.line, jerr.column,
			 jerr.text);
		return -1;
	}
	if (!json_is_array(root)) {
		snprintf(err, errsz, "%s:1:1: expected a JSON list of addresses", path);
		goto fail;
	}
	json_array_foreach(root, i, v) {
		const char *addr = json_is_string(v) ? json_string_value(v)
						     : json_string_value(json_object_get(v, "address"));
		json_t *w = json_is_object(v) ? json_object_get(v, "weight") : NULL;

		if (!addr || source_parse_entry(addr, &b, why, sizeof(why)) == -1) {
			snprintf(err, errsz, "%s: item %zu: %s", path, i + 1,
				 addr ? why : "expected \"IP:PORT\" or {\"address\": ..., \"weight\": N}");
			goto fail;
		}
		if (w) {
			if (!json_is_integer(w) || json_integer_value(w) < 1 ||
			    json_integer_value(w) > 1000) {
				snprintf(err, errsz, "%s: item %zu: \"weight\" must be 1 to 1000", path,
					 i + 1);
				goto fail;
			}
			b.weight = (int)json_integer_value(w);
		}
		if (append(&list, &n, &b) == -1)
			goto fail;
	}
	json_decref(root);
	*out = list;
	return drop_repeats(list, n);
fail:
	json_decref(root);
	free(list);
	return -1;
}

int source_file_parse(const char *path, const char *text, size_t len, struct bus_backend **out,
		      char *err, size_t errsz)
{
	struct bus_backend *list = NULL, b;
	size_t i = 0;
	int n = 0, line = 0;

	while (i < len && (text[i] == ' ' || text[i] == '\t' || text[i] == '\n' || text[i] == '\r'))
		i++;
	if (i < len && (text[i] == '[' || text[i] == '{'))
		return parse_json(path, text, len, out, err, errsz);
	for (i = 0; i < len;) {
		const char *start = text + i, *nl = memchr(start, '\n', len - i);
		size_t l = nl ? (size_t)(nl - start) : len - i;
		char row[256], why[256];
		char *p = row, *e;

		line++;
		i += l + (nl ? 1 : 0);
		snprintf(row, sizeof(row), "%.*s", (int)(l < sizeof(row) ? l : sizeof(row) - 1), start);
		if ((e = strchr(row, '#')) != NULL)
			*e = '\0';
		while (*p == ' ' || *p == '\t')
			p++;
		e = p + strlen(p);
		while (e > p && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
			*--e = '\0';
		if (!*p)
			continue;
		if (source_parse_entry(p, &b, why, sizeof(why)) == -1) {
			snprintf(err, errsz, "%s:%d: %s", path, line, why);
			free(list);
			return -1;
		}
		if (append(&list, &n, &b) == -1) {
			free(list);
			return -1;
		}
	}
	*out = list;
	return drop_repeats(list, n);
}

/* Reads and parses; on success hands the list over. */
static int reload(struct source_file *f, char *err, size_t errsz)
{
	struct buf text = BUF_INIT;
	struct bus_backend *list = NULL;
	int n;

	if (buf_read_file(&text, f->path) == -1) {
		snprintf(err, errsz, "%s: %s", f->path, strerror(errno));
		buf_release(&text);
		return -1;
	}
	n = source_file_parse(f->path, text.data, text.len, &list, err, errsz);
	buf_release(&text);
	if (n < 0)
		return -1;
	f->cb(f->data, list, (size_t)n);
	free(list);
	return 0;
}

static void on_change(void *data)
{
	struct source_file *f = data;
	char err[512];

	if (reload(f, err, sizeof(err)) == -1)
		log_error("file source: bad edit ignored, keeping the last good set",
			  "error=\"%s\"", err);
	else
		log_info("file source reloaded", "file=%s", f->path);
}

struct source_file *source_file_start(struct ev_loop *loop, const char *path, source_update_cb cb,
				      void *data, char *err, size_t errsz)
{
	struct source_file *f = calloc(1, sizeof(*f));

	if (!f)
		return NULL;
	f->cb = cb;
	f->data = data;
	snprintf(f->path, sizeof(f->path), "%s", path);
	/* The directory is watched, not the file: editors and ConfigMaps
	 * replace files by renaming. */
	if (file_watch_init(&f->watch, loop, path, on_change, f, err, errsz) == -1)
		goto fail;
	if (reload(f, err, errsz) == -1)
		goto fail;
	file_watch_run(&f->watch);
	return f;
fail:
	file_watch_release(&f->watch);
	free(f);
	return NULL;
}

void source_file_stop(struct source_file *f)
{
	if (!f)
		return;
	file_watch_release(&f->watch);
	free(f);
}
