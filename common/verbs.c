/* verbs: the table of the operator's commands (see verbs.h). */
#include "verbs.h"

#include <string.h>

#define BACKEND "/admin/backends/{address}"

const struct verb verbs[] = {
	{ "status", VERB_OPT_VERBOSE | VERB_OPT_SERVICE, "status", 0, "status [-v]",
	  "the set, its backends and the proxies", NULL, NULL },
	{ "proxies", VERB_OPT_SERVICE, "status", 0, "proxies", "the proxies and what they applied", NULL, NULL },
	{ "routes", 0, "routes", 0, "routes", "the route table, who serves it, hits per rule",
	  NULL, NULL },
	{ "drain", VERB_ADDRESS | VERB_OPT_WAIT | VERB_OPT_SERVICE, "drain", 1, "drain ADDR [--wait] [--timeout S]",
	  "no new requests to ADDR (in-flight finish)", "POST", BACKEND "/drain" },
	{ "undrain", VERB_ADDRESS | VERB_OPT_SERVICE, "undrain", 1, "undrain ADDR", "ADDR takes requests again",
	  "POST", BACKEND "/undrain" },
	{ "add", VERB_ADDRESS | VERB_OPT_WEIGHT | VERB_OPT_SERVICE, "add", 1, "add ADDR [--weight N]",
	  "add a backend the source does not list", "POST", "/admin/backends" },
	{ "remove", VERB_ADDRESS | VERB_OPT_SERVICE, "remove", 1, "remove ADDR", "take a backend out of the set",
	  "DELETE", BACKEND },
	{ "weight", VERB_ADDRESS | VERB_WEIGHT | VERB_OPT_SERVICE, "weight", 1, "weight ADDR N",
	  "set a backend's weight (1-1000)", "PUT", BACKEND "/weight" },
	{ "uneject", VERB_ADDRESS | VERB_OPT_SERVICE, "uneject", 1, "uneject ADDR",
	  "end ADDR's outlier ejection on every proxy", "POST", BACKEND "/uneject" },
	{ "in-flight", VERB_ADDRESS | VERB_OPT_SERVICE, "in-flight", 0, "in-flight ADDR",
	  "requests in flight to ADDR, summed over the proxies", NULL, NULL },
	{ "watch", VERB_OPT_COUNT | VERB_OPT_SERVICE, NULL, 0, "watch [--count N]",
	  "one JSON line per set change (of every service; --service: one)",
	  NULL, NULL },
	{ "help", 0, NULL, 0, "help", "this help", NULL, NULL },
};

const unsigned verbs_count = sizeof(verbs) / sizeof(verbs[0]);

const struct verb *verbs_find(const char *name)
{
	for (unsigned i = 0; i < verbs_count; i++)
		if (strcmp(verbs[i].name, name) == 0)
			return &verbs[i];
	return NULL;
}

void verbs_format_help(char *buf, size_t size)
{
	size_t used = 0;

	if (size)
		buf[0] = '\0';
	for (unsigned i = 0; i < verbs_count && used < size; i++) {
		int n = snprintf(buf + used, size - used, "  %-34s %s\n", verbs[i].usage,
				 verbs[i].help);

		if (n < 0)
			break;
		used += (size_t)n;
	}
}

void verbs_print_help(FILE *out)
{
	char text[2048];

	verbs_format_help(text, sizeof(text));
	fputs(text, out);
}
