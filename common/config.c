/* config: one loader for every program: JSON file, then environment, then flags. */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "buf.h"
#include "config_value.h"
#include "config_yaml.h"

const char *const config_log_levels[] = { "debug", "info", "warn", "error", NULL };
const char *const config_log_formats[] = { "text", "json", NULL };

static void set_err(struct config_result *res, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void set_err(struct config_result *res, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(res->err, sizeof(res->err), fmt, ap);
	va_end(ap);
}

/* "serviceName" -> "service-name" (sep '-') or "SERVICE_NAME" (sep '_', upper);
 * a digit after a lower-case letter starts a word too: "eject5xx" ->
 * "eject-5xx", but not after a capital ("sendProxyV2" -> "send-proxy-v2") nor
 * after a key's one first letter ("h2MaxResets" -> "h2-max-resets"). */
static void key_transform(const char *key, char sep, int upper, char *out, size_t outsz)
{
	size_t o = 0;

	for (const char *p = key; *p && o + 2 < outsz; p++) {
		if (p != key && (isupper((unsigned char)*p) ||
				 (isdigit((unsigned char)*p) && islower((unsigned char)p[-1]) &&
				  p - key > 1)))
			out[o++] = sep;
		out[o++] = upper ? (char)toupper((unsigned char)*p) : (char)tolower((unsigned char)*p);
	}
	out[o] = '\0';
}

void config_key_name(const char *key, char sep, int upper, char *out, size_t outsz)
{
	key_transform(key, sep, upper, out, outsz);
}

static size_t levenshtein(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), prev[64], cur[64];

	if (la >= 63 || lb >= 63)
		return 99;
	for (size_t j = 0; j <= lb; j++)
		prev[j] = j;
	for (size_t i = 1; i <= la; i++) {
		cur[0] = i;
		for (size_t j = 1; j <= lb; j++) {
			size_t sub = prev[j - 1] +
				     (tolower((unsigned char)a[i - 1]) != tolower((unsigned char)b[j - 1]));
			size_t del = prev[j] + 1, ins = cur[j - 1] + 1;

			cur[j] = sub < del ? (sub < ins ? sub : ins) : (del < ins ? del : ins);
		}
		memcpy(prev, cur, (lb + 1) * sizeof(size_t));
	}
	return prev[lb];
}

const char *config_suggest(const char *word, const char *const *candidates, size_t n)
{
	const char *best = NULL;
	size_t best_d = 99, limit = strlen(word) / 3 + 1;

	if (limit < 2)
		limit = 2;
	for (size_t i = 0; i < n; i++) {
		size_t d = levenshtein(word, candidates[i]);

		if (d < best_d) {
			best_d = d;
			best = candidates[i];
		}
	}
	return best_d <= limit ? best : NULL;
}

static const char *suggest_key(const struct config_spec *spec, const char *word, int as_flag)
{
	static char flags[CONFIG_MAX_FIELDS][64];
	const char *names[CONFIG_MAX_FIELDS];

	for (size_t i = 0; i < spec->nfields; i++) {
		if (as_flag) {
			key_transform(spec->fields[i].key, '-', 0, flags[i], sizeof(flags[i]));
			names[i] = flags[i];
		} else {
			names[i] = spec->fields[i].key;
		}
	}
	return config_suggest(word, names, spec->nfields);
}

/* Finds where top-level key `key` of the JSON text starts (1-based line, column).
 * jansson does not keep positions of values, so errors about a value point
 * at its key, found by a scan that knows strings and nesting. */
static void key_position(const char *text, size_t n, const char *key, int *line, int *col)
{
	size_t klen = strlen(key);
	int depth = 0, l = 1, c = 1;

	*line = 0;
	*col = 0;
	for (size_t i = 0; i < n; i++) {
		char ch = text[i];

		if (ch == '"') {
			size_t start = i + 1, j = start;
			int sl = l, sc = c;

			while (j < n && text[j] != '"') {
				if (text[j] == '\\')
					j++;
				j++;
			}
			c += (int)(j - i) + 1;
			if (depth == 1 && j - start == klen && memcmp(text + start, key, klen) == 0) {
				size_t k = j + 1;

				while (k < n && (text[k] == ' ' || text[k] == '\t' || text[k] == '\r' ||
						 text[k] == '\n'))
					k++;
				if (k < n && text[k] == ':') {
					*line = sl;
					*col = sc;
					return;
				}
			}
			i = j;
			continue;
		}
		if (ch == '{' || ch == '[')
			depth++;
		else if (ch == '}' || ch == ']')
			depth--;
		if (ch == '\n') {
			l++;
			c = 1;
		} else {
			c++;
		}
	}
}

static const struct config_field *find_field(const struct config_spec *spec, const char *key,
					     size_t *index)
{
	for (size_t i = 0; i < spec->nfields; i++) {
		if (strcmp(spec->fields[i].key, key) == 0) {
			*index = i;
			return &spec->fields[i];
		}
	}
	return NULL;
}

static int load_file(const struct config_spec *spec, void *opts, const char *path,
		     struct config_result *res)
{
	struct buf file = BUF_INIT;
	const char *text;
	size_t n;
	json_t *root = NULL;
	json_error_t jerr;
	const char *key;
	json_t *value, *positions = NULL;
	int rc = -1, yaml = config_yaml_is_yaml(path);

	snprintf(res->file, sizeof(res->file), "%s", path);
	if (buf_read_file(&file, path) == -1) {
		set_err(res, "%s: cannot read config: %s", path, strerror(errno));
		goto out;
	}
	text = file.data;
	n = file.len;
	if (yaml) {
		struct config_yaml_error yerr;

		root = config_yaml_parse(text, n, &positions, &yerr);
		if (!root) {
			set_err(res, "%s:%d:%d: %s", path, yerr.line, yerr.column, yerr.text);
			goto out;
		}
	} else {
		root = json_loadb(text, n, JSON_REJECT_DUPLICATES, &jerr);
		if (!root) {
			set_err(res, "%s:%d:%d: invalid JSON: %s", path, jerr.line, jerr.column,
				jerr.text);
			goto out;
		}
	}
	if (!json_is_object(root)) {
		set_err(res, "%s:1:1: the config must be a %s, not %s", path,
			yaml ? "YAML mapping of keys" : "JSON object", config_value_json_type(root));
		goto out;
	}
	json_object_foreach(root, key, value) {
		size_t idx = 0;
		const struct config_field *f = find_field(spec, key, &idx);
		int line, col;
		char what[256];

		if (yaml) {
			json_t *at = json_object_get(positions, key);

			line = (int)json_integer_value(json_array_get(at, 0));
			col = (int)json_integer_value(json_array_get(at, 1));
		} else {
			key_position(text, n, key, &line, &col);
		}
		if (!f) {
			const char *hint = suggest_key(spec, key, 0);

			if (hint)
				set_err(res, "%s:%d:%d: unknown key \"%s\" (did you mean \"%s\"?)", path,
					line, col, key, hint);
			else
				set_err(res, "%s:%d:%d: unknown key \"%s\" (%s --help lists the keys)",
					path, line, col, key, spec->program);
			goto out;
		}
		if (config_value_store_json(f, opts, value, res) == -1) {
			config_value_describe(f, what, sizeof(what));
			if (json_is_string(value))
				set_err(res, "%s:%d:%d: \"%s\" must be %s (got \"%s\")", path, line, col,
					key, what, json_string_value(value));
			else if (json_is_number(value))
				set_err(res, "%s:%d:%d: \"%s\" must be %s (got %g)", path, line, col,
					key, what, json_number_value(value));
			else
				set_err(res, "%s:%d:%d: \"%s\" must be %s (got %s)", path, line, col,
					key, what, config_value_json_type(value));
			goto out;
		}
		res->sources[idx] = CONFIG_SRC_FILE;
		res->lines[idx] = line;
	}
	rc = 0;
out:
	json_decref(root);
	json_decref(positions);
	buf_release(&file);
	return rc;
}

/* A CONFIG_LIST from the environment: one item per line, empty lines skipped. */
static int store_env_list(const struct config_field *f, void *opts, const char *v,
			  struct config_result *res)
{
	config_value_list_clear(f, opts);
	while (*v) {
		const char *nl = strchr(v, '\n');
		size_t n = nl ? (size_t)(nl - v) : strlen(v);
		char *item;
		int rc;

		if (n > 0 && v[n - 1] == '\r')
			n--;
		if (n > 0) {
			item = strndup(v, n);
			if (!item)
				return -1;
			rc = config_value_store_text(f, opts, item, res);
			free(item);
			if (rc == -1)
				return -1;
		}
		v = nl ? nl + 1 : v + strlen(v);
	}
	return 0;
}

static int load_env(const struct config_spec *spec, void *opts, struct config_result *res)
{
	for (size_t i = 0; i < spec->nfields; i++) {
		char name[128], snake[96], what[256];
		const char *v;
		size_t plen = strlen(spec->env_prefix);

		key_transform(spec->fields[i].key, '_', 1, snake, sizeof(snake));
		if (plen + strlen(snake) + 1 > sizeof(name))
			continue;
		memcpy(name, spec->env_prefix, plen);
		strcpy(name + plen, snake);
		v = getenv(name);
		if (!v)
			continue;
		if (spec->fields[i].type == CONFIG_LIST) {
			if (store_env_list(&spec->fields[i], opts, v, res) == -1) {
				config_value_describe(&spec->fields[i], what, sizeof(what));
				set_err(res, "environment %s: must be one item per line, each %s", name,
					what);
				return -1;
			}
			res->sources[i] = CONFIG_SRC_ENV;
			continue;
		}
		if (config_value_store_text(&spec->fields[i], opts, v, res) == -1) {
			config_value_describe(&spec->fields[i], what, sizeof(what));
			set_err(res, "environment %s=\"%s\": must be %s", name, v, what);
			return -1;
		}
		res->sources[i] = CONFIG_SRC_ENV;
	}
	return 0;
}

static int is_bool_word(const char *s)
{
	static const char *const words[] = { "true", "false", "on", "off", "yes", "no", "1", "0" };

	for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
		if (strcasecmp(s, words[i]) == 0)
			return 1;
	return 0;
}

void config_usage(const struct config_spec *spec)
{
	printf("usage: %s %s\n\noptions (flag, environment, config key):\n", spec->program,
	       spec->synopsis);
	printf("  --config FILE  JSON or YAML (.yaml, .yml) config file (default %s, else %s, "
	       "when it exists)\n", CONFIG_DEFAULT_FILE, CONFIG_DEFAULT_YAML_FILE);
	for (size_t i = 0; i < spec->nfields; i++) {
		char flag[64], snake[96], what[256];

		key_transform(spec->fields[i].key, '-', 0, flag, sizeof(flag));
		key_transform(spec->fields[i].key, '_', 1, snake, sizeof(snake));
		config_value_describe(&spec->fields[i], what, sizeof(what));
		printf("  --%-18s %s%-24s %-18s %s\n", flag, spec->env_prefix, snake,
		       spec->fields[i].key, spec->fields[i].help);
	}
	printf("  --help         this text\n");
}

/* Finds the flag's field; returns it or NULL. */
static const struct config_field *flag_field(const struct config_spec *spec, const char *name,
					     size_t namelen, size_t *idx)
{
	for (size_t i = 0; i < spec->nfields; i++) {
		char flag[64];

		key_transform(spec->fields[i].key, '-', 0, flag, sizeof(flag));
		if (strlen(flag) == namelen && memcmp(flag, name, namelen) == 0) {
			*idx = i;
			return &spec->fields[i];
		}
	}
	return NULL;
}

int config_load(const struct config_spec *spec, void *opts, int argc, char **argv,
		struct config_result *res)
{
	const char *file = NULL;
	int i;

	memset(res, 0, sizeof(*res));
	res->argi = argc;
	if (spec->nfields > CONFIG_MAX_FIELDS) {
		set_err(res, "internal: too many config fields");
		return -1;
	}
	/* First pass: --help and --config, which decide what is read first. */
	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0 || argv[i][0] != '-')
			break;
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			config_usage(spec);
			return 1;
		}
		if (strcmp(argv[i], "--config") == 0) {
			if (i + 1 >= argc) {
				set_err(res, "--config needs a file name");
				return -1;
			}
			file = argv[++i];
		} else if (strncmp(argv[i], "--config=", 9) == 0) {
			file = argv[i] + 9;
		} else {
			/* Another flag: step over its value, as the main pass will
			 * (a --config after `--listen ADDR` counts too). */
			const char *name = argv[i] + (argv[i][1] == '-' ? 2 : 1);
			size_t idx;
			const struct config_field *f = strchr(name, '=') ? NULL :
				flag_field(spec, name, strlen(name), &idx);

			if (f && (f->type != CONFIG_BOOL || (i + 1 < argc && is_bool_word(argv[i + 1]))))
				i++;
		}
	}
	if (file) {
		if (load_file(spec, opts, file, res) == -1)
			return -1;
	} else if (access(CONFIG_DEFAULT_FILE, R_OK) == 0) {
		if (load_file(spec, opts, CONFIG_DEFAULT_FILE, res) == -1)
			return -1;
	} else if (access(CONFIG_DEFAULT_YAML_FILE, R_OK) == 0) {
		if (load_file(spec, opts, CONFIG_DEFAULT_YAML_FILE, res) == -1)
			return -1;
	}
	if (load_env(spec, opts, res) == -1)
		return -1;
	for (i = 1; i < argc; i++) {
		const char *arg = argv[i], *name, *eq, *value;
		const struct config_field *f;
		size_t idx, namelen;
		char what[256];

		if (strcmp(arg, "--") == 0) {
			i++;
			break;
		}
		if (arg[0] != '-' || arg[1] == '\0')
			break;
		if (strcmp(arg, "--config") == 0) {
			i++;
			continue;
		}
		if (strncmp(arg, "--config=", 9) == 0)
			continue;
		name = arg + (arg[1] == '-' ? 2 : 1);
		eq = strchr(name, '=');
		namelen = eq ? (size_t)(eq - name) : strlen(name);
		f = flag_field(spec, name, namelen, &idx);
		if (!f) {
			char word[64];
			const char *hint;

			snprintf(word, sizeof(word), "%.*s", (int)namelen, name);
			hint = suggest_key(spec, word, 1);
			if (hint)
				set_err(res, "unknown flag --%s (did you mean --%s?)", word, hint);
			else
				set_err(res, "unknown flag --%s (see %s --help)", word, spec->program);
			return -1;
		}
		if (eq) {
			value = eq + 1;
		} else if (f->type == CONFIG_BOOL) {
			value = (i + 1 < argc && is_bool_word(argv[i + 1])) ? argv[++i] : "true";
		} else if (i + 1 < argc) {
			value = argv[++i];
		} else {
			set_err(res, "--%.*s needs a value", (int)namelen, name);
			return -1;
		}
		/* The first of a repeatable flag replaces the weaker sources' list. */
		if (res->sources[idx] != CONFIG_SRC_FLAG)
			config_value_list_clear(f, opts);
		if (config_value_store_text(f, opts, value, res) == -1) {
			config_value_describe(f, what, sizeof(what));
			set_err(res, "--%.*s \"%s\": must be %s", (int)namelen, name, value, what);
			return -1;
		}
		res->sources[idx] = CONFIG_SRC_FLAG;
	}
	res->argi = i;
	return 0;
}

int config_field_equal(const struct config_field *f, const void *a, const void *b)
{
	const char *pa = (const char *)a + f->offset, *pb = (const char *)b + f->offset;

	switch (f->type) {
	case CONFIG_STRING:
	case CONFIG_ENUM: {
		const char *sa = *(char *const *)pa, *sb = *(char *const *)pb;

		return (!sa || !sb) ? sa == sb : strcmp(sa, sb) == 0;
	}
	case CONFIG_INT:
	case CONFIG_SIZE:
		return *(const long *)pa == *(const long *)pb;
	case CONFIG_DOUBLE:
	case CONFIG_DURATION:
		return *(const double *)pa == *(const double *)pb;
	case CONFIG_BOOL:
		return *(const int *)pa == *(const int *)pb;
	case CONFIG_LIST: {
		const struct config_list *la = (const void *)pa, *lb = (const void *)pb;

		if (la->n != lb->n)
			return 0;
		for (size_t i = 0; i < la->n; i++)
			if (strcmp(la->items[i], lb->items[i]) != 0)
				return 0;
		return 1;
	}
	}
	return 1;
}

void config_field_copy(const struct config_field *f, void *to, const void *from)
{
	size_t size = sizeof(char *);

	switch (f->type) {
	case CONFIG_INT:
	case CONFIG_SIZE: size = sizeof(long); break;
	case CONFIG_DOUBLE:
	case CONFIG_DURATION: size = sizeof(double); break;
	case CONFIG_BOOL: size = sizeof(int); break;
	case CONFIG_LIST: size = sizeof(struct config_list); break;
	case CONFIG_STRING:
	case CONFIG_ENUM: break;
	}
	memcpy((char *)to + f->offset, (const char *)from + f->offset, size);
}

enum config_source config_source_of(const struct config_spec *spec,
				    const struct config_result *res, const char *key)
{
	size_t idx;

	return find_field(spec, key, &idx) ? res->sources[idx] : CONFIG_SRC_DEFAULT;
}

void config_result_release(struct config_result *res)
{
	for (size_t i = 0; i < res->nowned; i++)
		free(res->owned[i]);
	free(res->owned);
	res->owned = NULL;
	res->nowned = 0;
}

int config_startup(const struct config_spec *spec, void *opts, int argc, char **argv,
		   struct config_result *res)
{
	int rc = config_load(spec, opts, argc, argv, res);

	if (rc == -1)
		fprintf(stderr, "%s: %s\n", spec->program, res->err);
	else if (rc == 0 && res->argi < argc)
		fprintf(stderr, "%s: unexpected argument \"%s\" (see %s --help)\n", spec->program,
			argv[res->argi], spec->program);
	else if (rc == 0)
		return -1;
	config_result_release(res);
	return rc == 1 ? 0 : 2;
}

const char *config_port_listen(const struct config_spec *spec, const struct config_result *res,
			       const char *listen, long port, char *buf, size_t bufsz)
{
	if (config_source_of(spec, res, "port") <= config_source_of(spec, res, "listen"))
		return listen;
	snprintf(buf, bufsz, "0.0.0.0:%ld", port);
	return buf;
}
