/* config_yaml: a YAML config file read into the JSON tree config.c checks. */
#ifndef LB_CONFIG_YAML_H
#define LB_CONFIG_YAML_H

#include <jansson.h>
#include <stddef.h>
#include <yaml.h>

/* nesting of mappings and sequences a config file may have */
#define CONFIG_YAML_DEPTH_MAX 32

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

/*
 * The one YAML-to-JSON conversion of lb (config files, Gateway API
 * documents): node of doc (and all it holds) as JSON, with the typing rules
 * above; an alias, a duplicate key, a key that is not a string or holds a
 * NUL, or nesting past depth_max is refused. Returns a new value, or NULL
 * with e filled (line and column of the node at fault).
 */
json_t *config_yaml_json(yaml_document_t *doc, yaml_node_t *node, size_t depth_max,
			 struct config_yaml_error *e);

/* 1 when path names a YAML file (.yaml or .yml), else 0 (JSON). */
int config_yaml_is_yaml(const char *path);

#endif
