/* config_value: one setting's value from text or JSON (see config_value.c):
 * the number and duration parsers programs use too, and the parts of
 * config.c's loading that know the types. Programs include config.h. */
#ifndef LB_CONFIG_VALUE_H
#define LB_CONFIG_VALUE_H

#include <jansson.h>
#include <stddef.h>

#include "config_types.h"

/* A decimal number at the start of s ([+-]digits[.digits][e[+-]digits]),
 * stored in *out with *end after it; returns 0, or -1 when there is none
 * (or it overflows). strtod alone also takes hexadecimal ("0x10"), "inf"
 * and "nan": a setting, a flag or a query parameter never means them. */
int config_parse_decimal(const char *s, double *out, char **end);
/* Parses a CONFIG_DURATION value ("500ms", "2s", "1m", a bare number of
 * seconds) into *seconds; returns 0, or -1 when it is not one (no range check). */
int config_parse_duration(const char *s, double *seconds);
/* What field f must be, for messages ("an integer between 1 and 65535"). */
void config_value_describe(const struct config_field *f, char *out, size_t outsz);
/* A CONFIG_LIST field from a stronger source starts again from no items. */
void config_value_list_clear(const struct config_field *f, void *opts);
/* Stores text `s` into field f of opts (a CONFIG_LIST: appends one item; a
 * string is copied and owned by res). Returns 0, or -1 when the value is
 * not what f must be. */
int config_value_store_text(const struct config_field *f, void *opts, const char *s,
			    struct config_result *res);
/* Stores a JSON value (from a file) into field f; returns 0 or -1 (the wrong
 * type or range). */
int config_value_store_json(const struct config_field *f, void *opts, json_t *v,
			    struct config_result *res);
/* "a string", "an array" ...: a JSON value's type, for messages. */
const char *config_value_json_type(json_t *v);

#endif
