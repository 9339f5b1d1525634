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
 * a digit after a letter starts a word too: "eject5xx" -> "eject-5xx". */
static void key_transform(const char *key, char sep, int upper, char *out, size_t outsz)
{
	size_t o = 0;

	for (const char *p = key; *p && o + 2 < outsz; p++) {
		if (p != key && (isupper((unsigned char)*p) ||
				 (isdigit((unsigned char)*p) && isalpha((unsigned char)p[-1]))))
			out[o++] = sep;
		out[o++] = upper ? (char)toupper((unsigned char)*p) : (char)tolower((unsigned char)*p);
	}
	out[o] = '\0';
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

static char *own(struct config_result *res, const char *s, size_t n)
{
	char **grown = realloc(res->owned, (res->nowned + 1) * sizeof(char *));
	char *copy;

	if (!grown)
		return NULL;
	res->owned = grown;
	copy = strndup(s, n);
	if (copy)
		res->owned[res->nowned++] = copy;
	return copy;
}

static void describe(const struct config_field *f, char *out, size_t outsz)
{
	switch (f->type) {
	case CONFIG_INT:
		snprintf(out, outsz, "an integer between %.0f and %.0f", f->min, f->max);
		break;
	case CONFIG_SIZE:
		snprintf(out, outsz, "a size between %.0f and %.0f bytes (suffixes k, m, g)",
			 f->min, f->max);
		break;
	case CONFIG_DOUBLE:
		snprintf(out, outsz, "a number between %g and %g", f->min, f->max);
		break;
	case CONFIG_DURATION:
		snprintf(out, outsz, "a duration between %gs and %gs (seconds, or with a unit: "
			 "500ms, 2s, 1m, 1h)", f->min, f->max);
		break;
	case CONFIG_BOOL:
		snprintf(out, outsz, "true or false");
		break;
	case CONFIG_LIST:
		snprintf(out, outsz, "a string, at most %.0f of them (repeat the flag; an array in "
			 "the file)", f->max);
		break;
	case CONFIG_ENUM: {
		size_t o = (size_t)snprintf(out, outsz, "one of");

		for (const char *const *c = f->choices; *c && o < outsz; c++)
			o += (size_t)snprintf(out + o, outsz - o, "%s %s", c == f->choices ? "" : ",", *c);
		break;
	}
	default:
		snprintf(out, outsz, "a string");
	}
}

int config_parse_decimal(const char *s, double *out, char **end)
{
	const char *p = s;
	int digits = 0;

	if (*p == '+' || *p == '-')
		p++;
	for (; isdigit((unsigned char)*p); p++)
		digits++;
	if (*p == '.')
		for (p++; isdigit((unsigned char)*p); p++)
			digits++;
	if (!digits)
		return -1;
	if (*p == 'e' || *p == 'E') {
		const char *q = p + 1;

		if (*q == '+' || *q == '-')
			q++;
		if (isdigit((unsigned char)*q)) {
			while (isdigit((unsigned char)*q))
				q++;
			p = q;
		}
	}
	errno = 0;
	*out = strtod(s, end);
	if (errno || *end != p)
		return -1;
	return 0;
}

/* "500ms", "2s", "1.5m", "1h", "1d", "250us" or a bare number of seconds. */
int config_parse_duration(const char *s, double *out)
{
	static const struct { const char *unit; double seconds; } units[] = {
		{ "us", 1e-6 }, { "ms", 1e-3 }, { "s", 1 }, { "m", 60 }, { "h", 3600 },
		{ "d", 86400 },
	};
	char *end;
	double v;

	if (config_parse_decimal(s, &v, &end) == -1)
		return -1;
	if (*end == '\0') {
		*out = v;
		return 0;
	}
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (strcmp(end, units[i].unit) == 0) {
			*out = v * units[i].seconds;
			return 0;
		}
	}
	return -1;
}

static int parse_size(const char *s, double *out)
{
	char *end;
	double v;

	if (config_parse_decimal(s, &v, &end) == -1)
		return -1;
	while (*end == ' ')
		end++;
	if (*end) {
		double mul;

		switch (tolower((unsigned char)*end)) {
		case 'k': mul = 1024.0; break;
		case 'm': mul = 1024.0 * 1024; break;
		case 'g': mul = 1024.0 * 1024 * 1024; break;
		case 'b': mul = 1; break;
		default: return -1;
		}
		end++;
		if (strcasecmp(end, "") != 0 && strcasecmp(end, "b") != 0 &&
		    strcasecmp(end, "ib") != 0)
			return -1;
		v *= mul;
	}
	*out = v;
	return 0;
}

/* A CONFIG_LIST field from a stronger source starts again from no items. */
static void list_clear(const struct config_field *f, void *opts)
{
	if (f->type == CONFIG_LIST)
		((struct config_list *)((char *)opts + f->offset))->n = 0;
}

/* Stores text `s` into field `f` of opts (a CONFIG_LIST: appends one item);
 * returns 0 or -1 (value invalid). */
static int store_text(const struct config_field *f, void *opts, const char *s,
		      struct config_result *res)
{
	char *dst = (char *)opts + f->offset;
	char *end;
	double v;

	switch (f->type) {
	case CONFIG_STRING:
		*(char **)dst = own(res, s, strlen(s));
		return *(char **)dst ? 0 : -1;
	case CONFIG_LIST: {
		struct config_list *l = (struct config_list *)dst;

		if (l->n >= (size_t)f->max || l->n >= CONFIG_LIST_MAX)
			return -1;
		l->items[l->n] = own(res, s, strlen(s));
		if (!l->items[l->n])
			return -1;
		l->n++;
		return 0;
	}
	case CONFIG_ENUM:
		for (const char *const *c = f->choices; *c; c++) {
			if (strcmp(*c, s) == 0) {
				*(char **)dst = (char *)*c;
				return 0;
			}
		}
		return -1;
	case CONFIG_BOOL:
		if (!strcasecmp(s, "true") || !strcasecmp(s, "on") || !strcasecmp(s, "yes") ||
		    !strcmp(s, "1")) {
			*(int *)dst = 1;
			return 0;
		}
		if (!strcasecmp(s, "false") || !strcasecmp(s, "off") || !strcasecmp(s, "no") ||
		    !strcmp(s, "0")) {
			*(int *)dst = 0;
			return 0;
		}
		return -1;
	case CONFIG_SIZE:
		if (parse_size(s, &v) == -1 || v != floor(v) || v < f->min || v > f->max)
			return -1;
		*(long *)dst = (long)v;
		return 0;
	case CONFIG_INT:
		if (config_parse_decimal(s, &v, &end) == -1 || *end || v != floor(v) || v < f->min ||
		    v > f->max)
			return -1;
		*(long *)dst = (long)v;
		return 0;
	case CONFIG_DOUBLE:
		if (config_parse_decimal(s, &v, &end) == -1 || *end || v < f->min || v > f->max)
			return -1;
		*(double *)dst = v;
		return 0;
	case CONFIG_DURATION:
		if (config_parse_duration(s, &v) == -1 || v < f->min || v > f->max)
			return -1;
		*(double *)dst = v;
		return 0;
	}
	return -1;
}

/* Stores a JSON value; returns 0 or -1 (wrong type or range). */
static int store_json(const struct config_field *f, void *opts, json_t *v,
		      struct config_result *res)
{
	char num[64];
	double d;

	switch (f->type) {
	case CONFIG_STRING:
	case CONFIG_ENUM:
		return json_is_string(v) ? store_text(f, opts, json_string_value(v), res) : -1;
	case CONFIG_LIST: {
		size_t i;
		json_t *item;

		list_clear(f, opts);
		if (json_is_string(v))
			return store_text(f, opts, json_string_value(v), res);
		if (!json_is_array(v))
			return -1;
		json_array_foreach(v, i, item) {
			if (!json_is_string(item) || store_text(f, opts, json_string_value(item), res) == -1)
				return -1;
		}
		return 0;
	}
	case CONFIG_BOOL:
		if (!json_is_boolean(v))
			return -1;
		*(int *)((char *)opts + f->offset) = json_is_true(v);
		return 0;
	case CONFIG_SIZE:
	case CONFIG_DURATION:
		if (json_is_string(v))
			return store_text(f, opts, json_string_value(v), res);
		/* fall through */
	case CONFIG_INT:
	case CONFIG_DOUBLE:
		if (!json_is_number(v))
			return -1;
		d = json_number_value(v);
		if ((f->type == CONFIG_INT || f->type == CONFIG_SIZE) && !json_is_integer(v))
			return -1;
		snprintf(num, sizeof(num), "%.17g", d);
		return store_text(f, opts, num, res);
	}
	return -1;
}

static const char *json_type_name(json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT: return "an object";
	case JSON_ARRAY: return "an array";
	case JSON_STRING: return "a string";
	case JSON_INTEGER: return "an integer";
	case JSON_REAL: return "a number";
	case JSON_TRUE:
	case JSON_FALSE: return "a boolean";
	default: return "null";
	}
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
			yaml ? "YAML mapping of keys" : "JSON object", json_type_name(root));
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
		if (store_json(f, opts, value, res) == -1) {
			describe(f, what, sizeof(what));
			if (json_is_string(value))
				set_err(res, "%s:%d:%d: \"%s\" must be %s (got \"%s\")", path, line, col,
					key, what, json_string_value(value));
			else if (json_is_number(value))
				set_err(res, "%s:%d:%d: \"%s\" must be %s (got %g)", path, line, col,
					key, what, json_number_value(value));
			else
				set_err(res, "%s:%d:%d: \"%s\" must be %s (got %s)", path, line, col,
					key, what, json_type_name(value));
			goto out;
		}
		res->sources[idx] = CONFIG_SRC_FILE;
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
	list_clear(f, opts);
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
			rc = store_text(f, opts, item, res);
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
				describe(&spec->fields[i], what, sizeof(what));
				set_err(res, "environment %s: must be one item per line, each %s", name,
					what);
				return -1;
			}
			res->sources[i] = CONFIG_SRC_ENV;
			continue;
		}
		if (store_text(&spec->fields[i], opts, v, res) == -1) {
			describe(&spec->fields[i], what, sizeof(what));
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
		describe(&spec->fields[i], what, sizeof(what));
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
			list_clear(f, opts);
		if (store_text(f, opts, value, res) == -1) {
			describe(f, what, sizeof(what));
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
