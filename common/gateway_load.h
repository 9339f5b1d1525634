/* gateway_load: Gateway API documents read from YAML (several, split by
 * `---`) or JSON text, each with the file and line it starts at. */
#ifndef LB_GATEWAY_LOAD_H
#define LB_GATEWAY_LOAD_H

#include <jansson.h>
#include <stddef.h>

/* documents per load (a `kind: List` counts its items) */
#define GATEWAY_DOCS_MAX 10000
/* nesting of mappings and sequences in one document */
#define GATEWAY_DEPTH_MAX 32
/* bytes of text per load */
#define GATEWAY_TEXT_MAX (16 * 1024 * 1024)

struct gateway_doc {
	json_t *json;		/* an object (owned) */
	char *source;		/* "file:line" of its start, for messages (owned) */
};

/* Documents in the order read. Starts zeroed (GATEWAY_DOCS_INIT). */
struct gateway_docs {
	struct gateway_doc *docs;
	unsigned n;
};

#define GATEWAY_DOCS_INIT { NULL, 0 }

/*
 * Reads text (n bytes; YAML 1.1 as Kubernetes writes it, so JSON too) named
 * file in messages, and appends each non-empty document (the items of a
 * `kind: List` one by one) to docs. A document that is not a mapping, a
 * duplicate key, an alias or a YAML error refuses the whole text: returns -1
 * with "file:line:column: why" in err and docs unchanged; else 0.
 */
int gateway_load(struct gateway_docs *docs, const char *file, const char *text, size_t n,
		 char *err, size_t errlen);

/* Frees every document; docs is again as GATEWAY_DOCS_INIT. */
void gateway_docs_release(struct gateway_docs *docs);

#endif
