/* gateway_load: multi-document YAML (libyaml's document API) into JSON
 * objects, each with the file:line it starts at. */
#include "gateway_load.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "config_yaml.h"

/* One text being read: its name and where errors go. */
struct loader {
	const char *file;
	char *err;
	size_t errlen;
};

static int load_fail(struct loader *l, const yaml_mark_t *mark, const char *what)
{
	snprintf(l->err, l->errlen, "%s:%d:%d: %s", l->file, (int)mark->line + 1,
		 (int)mark->column + 1, what);
	return -1;
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
	struct loader l = { file, err, errlen };
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
		struct config_yaml_error yerr;
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
		json = config_yaml_json(&doc, root, GATEWAY_DEPTH_MAX, &yerr);
		if (!json)
			snprintf(err, errlen, "%s:%d:%d: %s", file, yerr.line, yerr.column, yerr.text);
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
