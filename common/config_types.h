/* config_types: the settings' table and a reading's result, as config.h
 * (loading) and config_value.h (one value) both use them. */
#ifndef LB_CONFIG_TYPES_H
#define LB_CONFIG_TYPES_H

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
	int lines[CONFIG_MAX_FIELDS];	/* CONFIG_SRC_FILE: the key's line in `file` */
	int argi;			/* index of the first positional argument */
	char file[512];			/* the file read, "" if none */
	char err[768];			/* the error, when config_load returns -1 */
	char **owned;			/* strings the options point to */
	size_t nowned;
};

#endif
