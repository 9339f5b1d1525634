/* config: one loader for every program: JSON file, then environment, then flags. */
#ifndef LB_CONFIG_H
#define LB_CONFIG_H

#include <stddef.h>

enum config_type {
	CONFIG_STRING = 0,	/* char *; owned by the config_result */
	CONFIG_INT,		/* long, within [min, max] */
	CONFIG_SIZE,		/* long bytes; accepts 64k, 1MiB, 2g ... */
	CONFIG_DOUBLE,		/* double, within [min, max] */
	CONFIG_DURATION,	/* double seconds, within [min, max]; a number is seconds,
				 * a unit may follow: 500ms, 2s, 1.5m, 1h, 1d (also us) */
	CONFIG_BOOL,		/* int 0/1; true/false/on/off/yes/no/1/0 */
	CONFIG_ENUM,		/* char *, one of `choices` */
	CONFIG_LIST,		/* struct config_list of strings, at most `max` (repeatable flag) */
};

/* A repeatable setting's values (CONFIG_LIST), in the order given. Items are
 * owned by the config_result. A stronger source replaces the whole list of a
 * weaker one: a flag given once or more replaces the environment's list,
 * which replaces the file's. In the file the value is an array of strings
 * (or one string); in the environment one item per line. */
#define CONFIG_LIST_MAX 32
struct config_list {
	const char *items[CONFIG_LIST_MAX];
	size_t n;
};

enum config_source {
	CONFIG_SRC_DEFAULT = 0,	/* the program's built-in value */
	CONFIG_SRC_FILE,	/* the JSON config file */
	CONFIG_SRC_ENV,		/* PREFIX_UPPER_SNAKE environment variable */
	CONFIG_SRC_FLAG,	/* --kebab-case command-line flag */
};

/* One setting. Its flag (--service-name) and environment variable
 * (LB_ECHO_SERVICE_NAME) are derived from the camelCase JSON key. */
struct config_field {
	const char *key;
	enum config_type type;
	size_t offset;			/* into the program's options struct */
	double min, max;		/* for numbers; max: items of a CONFIG_LIST */
	const char *const *choices;	/* NULL-terminated, for CONFIG_ENUM */
	const char *help;
};

#define CONFIG_MAX_FIELDS 128
#define CONFIG_DEFAULT_FILE "/etc/config/config.json"
#define CONFIG_DEFAULT_YAML_FILE "/etc/config/config.yaml"

struct config_spec {
	const char *program;		/* "lb-echo" */
	const char *env_prefix;		/* "LB_ECHO_" */
	const char *synopsis;		/* usage line after the program name */
	const struct config_field *fields;
	size_t nfields;
};

struct config_result {
	enum config_source sources[CONFIG_MAX_FIELDS];
	int argi;			/* index of the first positional argument */
	char file[512];			/* the file read, "" if none */
	char err[768];			/* the error, when config_load returns -1 */
	char **owned;			/* strings the options point to */
	size_t nowned;
};

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
/* A decimal number at the start of s ([+-]digits[.digits][e[+-]digits]),
 * stored in *out with *end after it; returns 0, or -1 when there is none
 * (or it overflows). strtod alone also takes hexadecimal ("0x10"), "inf"
 * and "nan": a setting, a flag or a query parameter never means them. */
int config_parse_decimal(const char *s, double *out, char **end);
/* Parses a CONFIG_DURATION value ("500ms", "2s", "1m", a bare number of
 * seconds) into *seconds; returns 0, or -1 when it is not one (no range check). */
int config_parse_duration(const char *s, double *seconds);
/* Prints the generated usage to stdout. */
void config_usage(const struct config_spec *spec);
/* The closest of `n` candidates to `word`, or NULL when none is close. */
const char *config_suggest(const char *word, const char *const *candidates, size_t n);

#endif
