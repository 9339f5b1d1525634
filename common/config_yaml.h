/* config_yaml: a YAML config file read into the JSON tree config.c checks. */
#ifndef LB_CONFIG_YAML_H
#define LB_CONFIG_YAML_H

#include <jansson.h>
#include <stddef.h>

/* Where and what, 1-based, when the text is not a usable YAML document. */
struct config_yaml_error {
	int line, column;
	char text[256];
};

/*
 * Parses YAML text (one document) into a JSON value: mappings to objects,
 * sequences to arrays, plain scalars to null, booleans (true/false, yes/no,
 * on/off) and decimal numbers when they read as such, every other scalar
 * (and every quoted one) to a string. A duplicate key is an error. On
 * success *positions is an object mapping each top-level key to [line,
 * column] (for messages about its value); the caller owns both values.
 * Returns NULL with e filled on error.
 */
json_t *config_yaml_parse(const char *text, size_t n, json_t **positions,
			  struct config_yaml_error *e);

/* 1 when path names a YAML file (.yaml or .yml), else 0 (JSON). */
int config_yaml_is_yaml(const char *path);

#endif
