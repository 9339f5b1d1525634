/* verbs: the operator's commands (lb-ctl's verbs, the control socket's
 * "command", the admin API's routes): name, arguments, usage, help and
 * HTTP route, in one table. lb-ctl parses its command line and prints its help from it;
 * lb-discover's handler table (lb-discover/api/command.c) implements each row
 * that lb-discover answers. A new verb is a row here and a handler there. */
#ifndef LB_VERBS_H
#define LB_VERBS_H

#include <stdio.h>

/* What a verb takes on lb-ctl's command line (flags of verb->args). */
enum verb_arg {
	VERB_ADDRESS = 1 << 0,		/* ADDR, required */
	VERB_WEIGHT = 1 << 1,		/* N after ADDR, required (weight ADDR N) */
	VERB_OPT_WEIGHT = 1 << 2,	/* --weight N, optional */
	VERB_OPT_WAIT = 1 << 3,		/* --wait (with lb-ctl's --timeout) */
	VERB_OPT_VERBOSE = 1 << 4,	/* -v */
	VERB_OPT_COUNT = 1 << 5,	/* --count N */
	VERB_OPT_SERVICE = 1 << 6,	/* --service NAME: a routed Service (the control's
					 * "service", the admin API's ?service=) */
};

struct verb {
	const char *name;		/* "drain" */
	unsigned args;			/* enum verb_arg flags */
	/* the control command lb-ctl sends for it ("proxies" asks for "status"),
	 * NULL for a verb lb-ctl runs itself (watch) */
	const char *command;
	int writes;			/* changes the set or an override (the admin API's
					 * token guards it) */
	const char *usage;		/* "drain ADDR [--wait]" */
	const char *help;		/* one line */
	/* its route in lb-discover's admin API (common/admin_route.c), or
	 * NULL: the method and a path where "{address}" stands for ADDR; a path
	 * without it takes the address in the JSON body ({"address": ...}),
	 * as it takes a weight ({"weight": N}) */
	const char *http_method;	/* "POST" */
	const char *http_path;		/* "/admin/backends/{address}/drain" */
};

extern const struct verb verbs[];
extern const unsigned verbs_count;

/* The verb named `name`, or NULL. */
const struct verb *verbs_find(const char *name);
/* Prints the "commands:" lines of a help text, one per verb. */
void verbs_print_help(FILE *out);
/* Writes the same lines into buf (at most size bytes, NUL-terminated). */
void verbs_format_help(char *buf, size_t size);

#endif
