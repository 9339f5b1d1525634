/* config_show: --check-config's account of a reading: every setting's
 * effective value and where it came from (flag, environment, file:line,
 * default). */
#ifndef LB_CONFIG_SHOW_H
#define LB_CONFIG_SHOW_H

#include <stdio.h>

#include "config_types.h"

/* Settings whose value is never printed (a key ending in this): "(hidden)". */
#define CONFIG_SHOW_HIDDEN_SUFFIX "Secret"

/*
 * Writes one line per field of `spec` to out: the key, the value as JSON
 * (a duration in seconds, a list as an array, unset as null) and its source
 * ("flag --connect-timeout", "environment LB_PROXY_CONNECT_TIMEOUT",
 * "FILE:LINE", "default"), after a header line naming the program and the
 * file read. `opts` and `res` are what config_load() filled.
 */
void config_show(FILE *out, const struct config_spec *spec, const void *opts,
		 const struct config_result *res);
/* Takes the action flag `flag` ("--check-config") out of argv (a config
 * file cannot turn an action on); argv stays NULL-terminated and nothing
 * after "--" is looked at. Returns 1 when it was there, else 0. */
int config_show_take_flag(int *argc, char **argv, const char *flag);

#endif
