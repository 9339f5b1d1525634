/* gateway_notes: messages about Gateway API documents, in a list. */
#include "gateway_notes.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void gateway_notes_add(struct gateway_notes *notes, const char *source, const char *path,
		       const char *fmt, ...)
{
	char text[512], **grown;
	va_list ap;
	int n;

	if (notes->n > GATEWAY_NOTES_MAX)
		return;
	n = snprintf(text, sizeof(text), "%.200s: %.200s%s", source, path ? path : "",
		     path ? ": " : "");
	va_start(ap, fmt);
	if (n >= 0 && (size_t)n < sizeof(text))
		vsnprintf(text + n, sizeof(text) - (size_t)n, fmt, ap);
	va_end(ap);
	if (notes->n == GATEWAY_NOTES_MAX)
		snprintf(text, sizeof(text), "%.200s: more problems, not listed", source);
	grown = realloc(notes->list, (notes->n + 1) * sizeof(*notes->list));
	if (!grown)
		return;
	notes->list = grown;
	if ((notes->list[notes->n] = strdup(text)))
		notes->n++;
}

void gateway_notes_release(struct gateway_notes *notes)
{
	for (unsigned i = 0; i < notes->n; i++)
		free(notes->list[i]);
	free(notes->list);
	notes->list = NULL;
	notes->n = 0;
}
