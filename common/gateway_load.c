/* gateway_load: multi-document YAML (libyaml's document API) into JSON
 * objects, each with the file:line it starts at. */
#include "gateway_load.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

/* One text being read: where, and how many nodes were visited, so that an
 * alias (a node visited twice) is caught before it multiplies. */
struct loader {
	const char *file;
	char *err;
	size_t errlen;
	size_t visits, nodes;
};

static int load_fail(struct loader *l, const yaml_mark_t *mark, const char *what)
{
	snprintf(l->err, l->errlen, "%s:%d:%d: %s", l->file, (int)mark->line + 1,
		 (int)mark->column + 1, what);
	return -1;
}

static int is_word(const char *s, const char *const *words)
{
	for (; *words; words++)
		if (strcmp(s, *words) == 0)
			return 1;
	return 0;
}

/* A decimal number as Kubernetes' YAML reads one (no 0x, no .inf). */
static int is_number(const char *s, int *integer)
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

/* A plain scalar is null, a boolean or a number when it reads as one; a
 * quoted one is always a string. */
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
	if (is_number(s, &integer)) {
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

static json_t *convert(struct loader *l, yaml_document_t *doc, yaml_node_t *node, int depth)
{
	json_t *out;

	if (++l->visits > l->nodes) {
		load_fail(l, &node->start_mark, "aliases are not supported");
		return NULL;
	}
	if (depth > GATEWAY_DEPTH_MAX) {
		load_fail(l, &node->start_mark, "nested too deeply");
		return NULL;
	}
	switch (node->type) {
	case YAML_SCALAR_NODE:
		if (!(out = scalar(node)))
			load_fail(l, &node->start_mark, "not UTF-8, or out of memory");
		return out;
	case YAML_SEQUENCE_NODE:
		out = json_array();
		for (yaml_node_item_t *i = node->data.sequence.items.start;
		     out && i < node->data.sequence.items.top; i++) {
			json_t *item = convert(l, doc, yaml_document_get_node(doc, *i), depth + 1);

			if (!item || json_array_append_new(out, item) == -1)
				goto bad;
		}
		return out;
	case YAML_MAPPING_NODE:
		out = json_object();
		for (yaml_node_pair_t *p = node->data.mapping.pairs.start;
		     out && p < node->data.mapping.pairs.top; p++) {
			yaml_node_t *k = yaml_document_get_node(doc, p->key);
			json_t *v;

			l->visits++;
			if (k->type != YAML_SCALAR_NODE) {
				load_fail(l, &k->start_mark, "a key must be a string");
				goto bad;
			}
			if (strlen((const char *)k->data.scalar.value) != k->data.scalar.length) {
				load_fail(l, &k->start_mark, "a key holds a NUL");
				goto bad;
			}
			if (json_object_get(out, (const char *)k->data.scalar.value)) {
				load_fail(l, &k->start_mark, "duplicate key");
				goto bad;
			}
			v = convert(l, doc, yaml_document_get_node(doc, p->value), depth + 1);
			if (!v || json_object_set_new(out, (const char *)k->data.scalar.value, v) == -1)
				goto bad;
		}
		return out;
bad:
		json_decref(out);
		return NULL;
	case YAML_NO_NODE:
		break;
	}
	load_fail(l, &node->start_mark, "empty node");
	return NULL;
}

static int append(struct gateway_docs *docs, json_t *json, const char *file, int line)
{
	struct gateway_doc *grown;
	char source[300];

	if (docs->n >= GATEWAY_DOCS_MAX)
		return -1;
	grown = realloc(docs->docs, (docs->n + 1) * sizeof(*docs->docs));
	if (!grown)
		return -1;
	docs->docs = grown;
	snprintf(source, sizeof(source), "%.280s:%d", file, line);
	docs->docs[docs->n].source = strdup(source);
	if (!docs->docs[docs->n].source)
		return -1;
	docs->docs[docs->n].json = json_incref(json);
	docs->n++;
	return 0;
}

/* Appends a document, or each item of a `kind: List`. */
static int add_document(struct loader *l, struct gateway_docs *docs, json_t *json,
			const yaml_mark_t *mark)
{
	json_t *items = json_object_get(json, "items");
	const char *kind = json_string_value(json_object_get(json, "kind"));
	size_t i;
	json_t *item;

	if (!json_is_object(json))
		return load_fail(l, mark, "a document must be a mapping");
	if (!kind || strcmp(kind, "List") != 0 || !json_is_array(items))
		return append(docs, json, l->file, (int)mark->line + 1) == -1
			       ? load_fail(l, mark, "too many documents, or out of memory")
			       : 0;
	json_array_foreach(items, i, item) {
		if (!json_is_object(item))
			return load_fail(l, mark, "a List's items must be mappings");
		if (append(docs, item, l->file, (int)mark->line + 1) == -1)
			return load_fail(l, mark, "too many documents, or out of memory");
	}
	return 0;
}

int gateway_load(struct gateway_docs *docs, const char *file, const char *text, size_t n,
		 char *err, size_t errlen)
{
	struct loader l = { file, err, errlen, 0, 0 };
	struct gateway_docs read = GATEWAY_DOCS_INIT;
	yaml_parser_t parser;
	int rc = -1;

	if (n > GATEWAY_TEXT_MAX) {
		snprintf(err, errlen, "%s: more than %d bytes", file, GATEWAY_TEXT_MAX);
		return -1;
	}
	if (!yaml_parser_initialize(&parser)) {
		snprintf(err, errlen, "%s: out of memory", file);
		return -1;
	}
	yaml_parser_set_input_string(&parser, (const unsigned char *)text, n);
	for (;;) {
		yaml_document_t doc;
		yaml_node_t *root;
		json_t *json;
		int added;

		if (!yaml_parser_load(&parser, &doc)) {
			snprintf(err, errlen, "%s:%d:%d: invalid YAML: %s%s%s", file,
				 (int)parser.problem_mark.line + 1,
				 (int)parser.problem_mark.column + 1,
				 parser.problem ? parser.problem : "error",
				 parser.context ? " " : "", parser.context ? parser.context : "");
			goto out;
		}
		root = yaml_document_get_root_node(&doc);
		if (!root) {
			/* the stream's end */
			yaml_document_delete(&doc);
			break;
		}
		l.visits = 0;
		l.nodes = (size_t)(doc.nodes.top - doc.nodes.start);
		json = convert(&l, &doc, root, 0);
		added = !json ? -1 : json_is_null(json) ? 0 : add_document(&l, &read, json,
									      &root->start_mark);
		json_decref(json);
		yaml_document_delete(&doc);
		if (added == -1)
			goto out;
	}
	if (read.n) {
		struct gateway_doc *grown;

		if (docs->n + read.n > GATEWAY_DOCS_MAX ||
		    !(grown = realloc(docs->docs, (docs->n + read.n) * sizeof(*docs->docs)))) {
			snprintf(err, errlen, "%s: too many documents, or out of memory", file);
			goto out;
		}
		docs->docs = grown;
		memcpy(docs->docs + docs->n, read.docs, read.n * sizeof(*read.docs));
		docs->n += read.n;
		free(read.docs);
		read.docs = NULL;
		read.n = 0;
	}
	rc = 0;
out:
	/* on failure what this call read goes, and docs is as it was */
	gateway_docs_release(&read);
	yaml_parser_delete(&parser);
	return rc;
}

void gateway_docs_release(struct gateway_docs *docs)
{
	for (unsigned i = 0; i < docs->n; i++) {
		json_decref(docs->docs[i].json);
		free(docs->docs[i].source);
	}
	free(docs->docs);
	docs->docs = NULL;
	docs->n = 0;
}
