/* reload: SIGHUP, or a change of the --config file, reads lb-proxy's
 * configuration again; what may change applies to new requests, what may
 * not (options_fixed) keeps its value. */
#ifndef LB_PROXY_RELOAD_H
#define LB_PROXY_RELOAD_H

#include "config_watch.h"
#include "proxy_config.h"
#include "upstream/upstream.h"

/* What a reload reads and changes (main.c fills it at start-up). */
struct reload {
	struct proxy *px;
	struct proxy_config *boot;	/* the start-up reading: settings fixed at run time */
	struct proxy_config *current;	/* what px->opts points into (boot at first) */
	int argc;			/* argv less --check-config: read again on SIGHUP */
	char **argv;
	struct upstream_limits limits;	/* the upstream pool's (a reload changes its sizes) */
	struct config_watch watch;	/* the file read at start-up, if any */
};

/* Reads the configuration again and applies it to r->px (ignored while
 * stopping); r->current becomes the new reading, the previous one is freed
 * unless it is r->boot. Logs what changed, what could not, or why the
 * reading was refused. */
void reload_run(struct reload *r);
/* Watches the file r->boot read (none: nothing to do): a change of it runs
 * reload_run as SIGHUP does. Failing to watch is a warning, not an error. */
void reload_watch_start(struct reload *r);
/* Frees r's readings and stops the watch (at exit; px->opts must no longer be used). */
void reload_release(struct reload *r);

#endif
