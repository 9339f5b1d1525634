/* config_value: one setting's value from text or JSON: the number, size,
 * duration and boolean forms, the ranges, and what a field must be (for
 * messages); config.c reads files, the environment and flags through it. */
#include "config_value.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

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

void config_value_describe(const struct config_field *f, char *out, size_t outsz)
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
void config_value_list_clear(const struct config_field *f, void *opts)
{
	if (f->type == CONFIG_LIST)
		((struct config_list *)((char *)opts + f->offset))->n = 0;
}

/* Stores text `s` into field `f` of opts (a CONFIG_LIST: appends one item);
 * returns 0 or -1 (value invalid). */
int config_value_store_text(const struct config_field *f, void *opts, const char *s,
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
int config_value_store_json(const struct config_field *f, void *opts, json_t *v,
			    struct config_result *res)
{
	char num[64];
	double d;

	switch (f->type) {
	case CONFIG_STRING:
	case CONFIG_ENUM:
		return json_is_string(v) ? config_value_store_text(f, opts, json_string_value(v), res) : -1;
	case CONFIG_LIST: {
		size_t i;
		json_t *item;

		config_value_list_clear(f, opts);
		if (json_is_string(v))
			return config_value_store_text(f, opts, json_string_value(v), res);
		if (!json_is_array(v))
			return -1;
		json_array_foreach(v, i, item) {
			if (!json_is_string(item) || config_value_store_text(f, opts, json_string_value(item), res) == -1)
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
			return config_value_store_text(f, opts, json_string_value(v), res);
		/* fall through */
	case CONFIG_INT:
	case CONFIG_DOUBLE:
		if (!json_is_number(v))
			return -1;
		d = json_number_value(v);
		if ((f->type == CONFIG_INT || f->type == CONFIG_SIZE) && !json_is_integer(v))
			return -1;
		snprintf(num, sizeof(num), "%.17g", d);
		return config_value_store_text(f, opts, num, res);
	}
	return -1;
}

const char *config_value_json_type(json_t *v)
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
