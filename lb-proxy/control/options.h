/* options: lb-proxy's settings: the table of its flags, environment
 * variables and config file keys (common/config.h reads them), whether a
 * reload may change each, and their defaults. */
#ifndef LB_PROXY_OPTIONS_H
#define LB_PROXY_OPTIONS_H

#include "config.h"
#include "http/proxy.h"

/* The defaults of every setting. */
extern const struct proxy_options options_defaults;

/* The settings' table as config_read takes it (built on the first call;
 * the same table afterwards, never freed). */
const struct config_spec *options_spec(void);
/* 1 when the setting `key` ("tlsCert") keeps its running value on reload
 * (its sockets, its bus, its TLS context, or built once at start-up); 0 when
 * a reload applies it, or for a key not in the table. */
int options_fixed(const char *key);
/* Takes --check-config out of argv (it is an action, not a setting: a
 * config file cannot turn it on); argv stays NULL-terminated. Returns 1
 * when it was there. */
int options_take_check_config(int *argc, char **argv);

#endif
