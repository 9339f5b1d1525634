/* config_yaml: a YAML config file read into the JSON tree config.c checks, with
 * the line and column of every top-level key (libyaml's document API). */
#include "config_yaml.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <yaml.h>

/* YAML 1.1's plain-scalar words as Kubernetes' YAML reads them. */
static int is_word(const char *s, const char *const *words)
{
	for (; *words; words++)
		if (strcmp(s, *words) == 0)
			return 1;
	return 0;
}

/* A decimal integer or float, as JSON writes numbers (no 0x, no .inf). */
static int is_decimal(const char *s, int *integer)
{
	const char *p = s;
	int digits = 0;

	*integer = 1;
	if (*p == '-' || *p == '+')
		p++;
	for (; isdigit((unsigned char)*p); p++)
		digits++;
	if (*p == '.') {
		*integer = 0;
		for (p++; isdigit((unsigned char)*p); p++)
			digits++;
	}
	if (digits && (*p == 'e' || *p == 'E')) {
		*integer = 0;
		p++;
		if (*p == '-' || *p == '+')
			p++;
		if (!isdigit((unsigned char)*p))
			return 0;
		while (isdigit((unsigned char)*p))
			p++;
	}
	return digits && *p == '\0';
}

/* A plain scalar's value: null, a boolean, a number, else the string. A
 * quoted one is always a string ("on" quoted stays "on"). */
static json_t *scalar(const yaml_node_t *node)
{
	static const char *const nulls[] = { "~", "null", "Null", "NULL", "", NULL };
	static const char *const trues[] = { "true", "True", "TRUE", "yes", "Yes", "YES", "on",
					     "On", "ON", NULL };
	static const char *const falses[] = { "false", "False", "FALSE", "no", "No", "NO", "off",
					      "Off", "OFF", NULL };
	const char *s = (const char *)node->data.scalar.value;
	int integer;

	if (node->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return json_stringn(s, node->data.scalar.length);
	if (is_word(s, nulls))
		return json_null();
	if (is_word(s, trues))
		return json_true();
	if (is_word(s, falses))
		return json_false();
	if (is_decimal(s, &integer)) {
		char *end;
		long long v;

		errno = 0;
		v = strtoll(s, &end, 10);
		if (integer && errno == 0 && *end == '\0')
			return json_integer(v);
		return json_real(strtod(s, NULL));
	}
	return json_stringn(s, node->data.scalar.length);
}

/* One document being converted: how many nodes it has and how many were
 * visited, so an alias (a node visited twice) is caught before it
 * multiplies (a billion laughs), and where it went wrong. */
struct walk {
	size_t visits, nodes, depth_max;
	struct config_yaml_error *e;
};

static json_t *walk_fail(struct walk *w, const yaml_mark_t *mark, const char *fmt,
			 const char *arg)
{
	w->e->line = (int)mark->line + 1;
	w->e->column = (int)mark->column + 1;
	snprintf(w->e->text, sizeof(w->e->text), fmt, arg);
	return NULL;
}

static json_t *convert(struct walk *w, yaml_document_t *doc, yaml_node_t *node, size_t depth)
{
	json_t *out;

	if (++w->visits > w->nodes)
		return walk_fail(w, &node->start_mark, "%saliases are not supported", "");
	if (depth > w->depth_max)
		return walk_fail(w, &node->start_mark, "%snested too deeply", "");
	switch (node->type) {
	case YAML_SCALAR_NODE:
		if (!(out = scalar(node)))
			walk_fail(w, &node->start_mark, "%snot UTF-8, or out of memory", "");
		return out;
	case YAML_SEQUENCE_NODE:
		out = json_array();
		for (yaml_node_item_t *i = node->data.sequence.items.start;
		     out && i < node->data.sequence.items.top; i++) {
			json_t *item = convert(w, doc, yaml_document_get_node(doc, *i), depth + 1);

			if (!item || json_array_append_new(out, item) == -1)
				goto bad;
		}
		return out;
	case YAML_MAPPING_NODE:
		out = json_object();
		for (yaml_node_pair_t *p = node->data.mapping.pairs.start;
		     out && p < node->data.mapping.pairs.top; p++) {
			yaml_node_t *k = yaml_document_get_node(doc, p->key);
			const char *key;
			json_t *v;

			w->visits++;
			if (k->type != YAML_SCALAR_NODE) {
				walk_fail(w, &k->start_mark, "%sa key must be a string", "");
				goto bad;
			}
			key = (const char *)k->data.scalar.value;
			if (strlen(key) != k->data.scalar.length) {
				walk_fail(w, &k->start_mark, "%sa key holds a NUL", "");
				goto bad;
			}
			if (json_object_get(out, key)) {
				walk_fail(w, &k->start_mark, "duplicate key \"%s\"", key);
				goto bad;
			}
			v = convert(w, doc, yaml_document_get_node(doc, p->value), depth + 1);
			if (!v || json_object_set_new(out, key, v) == -1)
				goto bad;
		}
		return out;
bad:
		json_decref(out);
		return NULL;
	case YAML_NO_NODE:
		break;
	}
	return walk_fail(w, &node->start_mark, "%sempty node", "");
}

json_t *config_yaml_json(yaml_document_t *doc, yaml_node_t *node, size_t depth_max,
			 struct config_yaml_error *e)
{
	struct walk w = { 0, (size_t)(doc->nodes.top - doc->nodes.start), depth_max, e };

	return convert(&w, doc, node, 0);
}

json_t *config_yaml_parse(const char *text, size_t n, json_t **positions,
			  struct config_yaml_error *e)
{
	yaml_parser_t parser;
	yaml_document_t doc;
	yaml_node_t *root;
	json_t *out = NULL;

	*positions = NULL;
	memset(e, 0, sizeof(*e));
	if (!yaml_parser_initialize(&parser)) {
		snprintf(e->text, sizeof(e->text), "out of memory");
		return NULL;
	}
	yaml_parser_set_input_string(&parser, (const unsigned char *)text, n);
	if (!yaml_parser_load(&parser, &doc)) {
		e->line = (int)parser.problem_mark.line + 1;
		e->column = (int)parser.problem_mark.column + 1;
		snprintf(e->text, sizeof(e->text), "invalid YAML: %s%s%s",
			 parser.problem ? parser.problem : "error",
			 parser.context ? " " : "", parser.context ? parser.context : "");
		yaml_parser_delete(&parser);
		return NULL;
	}
	root = yaml_document_get_root_node(&doc);
	if (!root) {
		/* an empty file: no settings, as an empty JSON object */
		out = json_object();
		*positions = json_object();
		goto out;
	}
	out = config_yaml_json(&doc, root, CONFIG_YAML_DEPTH_MAX, e);
	if (out && json_is_object(out)) {
		*positions = json_object();
		for (yaml_node_pair_t *p = root->data.mapping.pairs.start;
		     *positions && p < root->data.mapping.pairs.top; p++) {
			yaml_node_t *k = yaml_document_get_node(&doc, p->key);

			json_object_set_new(*positions, (const char *)k->data.scalar.value,
					    json_pack("[ii]", (int)k->start_mark.line + 1,
						      (int)k->start_mark.column + 1));
		}
	}
	{
		yaml_document_t next;

		if (out && yaml_parser_load(&parser, &next)) {
			if (yaml_document_get_root_node(&next)) {
				e->line = (int)next.start_mark.line + 1;
				e->column = (int)next.start_mark.column + 1;
				snprintf(e->text, sizeof(e->text),
					 "a config file holds one YAML document, not several");
				json_decref(out);
				out = NULL;
			}
			yaml_document_delete(&next);
		}
	}
out:
	yaml_document_delete(&doc);
	yaml_parser_delete(&parser);
	if (!out) {
		json_decref(*positions);
		*positions = NULL;
	}
	return out;
}

int config_yaml_is_yaml(const char *path)
{
	const char *dot = strrchr(path, '.');

	return dot && (strcasecmp(dot, ".yaml") == 0 || strcasecmp(dot, ".yml") == 0);
}
