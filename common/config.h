/* config: one loader for every program: JSON file, then environment, then flags. */
#ifndef LB_CONFIG_H
#define LB_CONFIG_H

#include <stddef.h>

#include "config_types.h"
#include "config_value.h"

/* The log settings every program has: put CONFIG_LOG_FIELDS(struct x) in the
 * table of a struct with `char *log_level, *log_format`. */
extern const char *const config_log_levels[];
extern const char *const config_log_formats[];
#define CONFIG_LOG_FIELDS(type) \
	{ "logLevel", CONFIG_ENUM, offsetof(type, log_level), 0, 0, config_log_levels, \
	  "debug, info, warn or error" }, \
	{ "logFormat", CONFIG_ENUM, offsetof(type, log_format), 0, 0, config_log_formats, \
	  "text or json" }

/*
 * Fills `opts` (already holding the defaults) from the file named by
 * --config (or CONFIG_DEFAULT_FILE, else CONFIG_DEFAULT_YAML_FILE, when it
 * exists; JSON, or YAML when its name ends in .yaml or .yml), the environment and
 * argv, in that order of increasing precedence. Positional arguments stop
 * flag parsing (res->argi). Returns 0, 1 when --help was printed (exit 0),
 * or -1 with a message naming the file:line:column, variable or flag in
 * res->err. Call config_result_release() when the options are no longer used.
 */
int config_load(const struct config_spec *spec, void *opts, int argc, char **argv,
		struct config_result *res);
void config_result_release(struct config_result *res);
/*
 * A program's start-up: config_load() with errors printed as "PROGRAM: ...",
 * and no positional argument allowed. Returns -1 to go on, else the exit
 * code to leave with (0 after --help, 2 on a bad configuration).
 */
int config_startup(const struct config_spec *spec, void *opts, int argc, char **argv,
		   struct config_result *res);
/* The ConfigMap shape {"port": N} means all addresses at N: returns
 * "0.0.0.0:N" (in buf) when `port` came from a stronger source than
 * `listen`, else `listen`. */
const char *config_port_listen(const struct config_spec *spec, const struct config_result *res,
			       const char *listen, long port, char *buf, size_t bufsz);
/* The field's source after config_load, by key; CONFIG_SRC_DEFAULT if unknown. */
enum config_source config_source_of(const struct config_spec *spec,
				    const struct config_result *res, const char *key);
/* 1 when field f holds the same value in the options structs a and b
 * (strings by content; NULL equals only NULL), else 0. */
int config_field_equal(const struct config_field *f, const void *a, const void *b);
/* Copies field f's value from `from` to `to`; a string is shared, not
 * duplicated (its owner must outlive `to`). */
void config_field_copy(const struct config_field *f, void *to, const void *from);
/* A key's flag name ("serviceName" -> "service-name": sep '-', upper 0) or
 * its environment variable's suffix ("SERVICE_NAME": sep '_', upper 1). */
void config_key_name(const char *key, char sep, int upper, char *out, size_t outsz);
/* Prints the generated usage to stdout. */
void config_usage(const struct config_spec *spec);
/* The closest of `n` candidates to `word`, or NULL when none is close. */
const char *config_suggest(const char *word, const char *const *candidates, size_t n);

#endif
