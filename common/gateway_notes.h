/* gateway_notes: the messages compiling Gateway API documents gives, each
 * naming the document and field: "file:line: spec.rules[2].matches[0]: why". */
#ifndef LB_GATEWAY_NOTES_H
#define LB_GATEWAY_NOTES_H

/* messages kept; past it one last note says more were dropped */
#define GATEWAY_NOTES_MAX 1000
/* bytes of a message in a status condition */
#define GATEWAY_MESSAGE_MAX 256

/* Messages in the order found. Starts zeroed; owns its strings. */
struct gateway_notes {
	char **list;
	unsigned n;
};

/* Adds "source: path: <fmt...>" (no "path: " when path is NULL). Out of
 * memory: the message is dropped. */
void gateway_notes_add(struct gateway_notes *notes, const char *source, const char *path,
		       const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* Frees every message; notes is zeroed. */
void gateway_notes_release(struct gateway_notes *notes);

#endif
