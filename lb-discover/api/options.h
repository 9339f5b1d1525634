/* options: lb-discover's flags, environment variables and config file keys
 * (common/config.h) into struct discover_options (core/discover.h). */
#ifndef LB_DISCOVER_OPTIONS_H
#define LB_DISCOVER_OPTIONS_H

#include "config.h"
#include "core/discover.h"

/*
 * Fills o with the defaults, then the config file, LB_DISCOVER_* and the
 * flags (config_startup), and sets up logging. Returns -1 to go on, else
 * the exit code (--help, a bad flag: printed). cfg is released by the
 * caller (when -1) with config_result_release(); o's strings point into it
 * or into argv.
 */
int options_load(struct discover_options *o, int argc, char **argv, struct config_result *cfg);
/* The settings' table (for --check-config's account of them). */
const struct config_spec *options_spec(void);
/*
 * The checks across flags: one source, --port with --dns a number (in
 * *dns_port, 0: SRV), --eject-time-max, --service, --admin-token and
 * --admin-insecure only with --admin. Maps the ConfigMap shape
 * (backendServiceName, backendPort) onto --kubernetes and --port. Returns
 * 0, or -1 with the problem printed on stderr.
 */
int options_check(struct discover_options *o, long *dns_port);

#endif
