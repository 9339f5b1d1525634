/* ctl_exit: lb-ctl's exit codes (documented in docs/lb-ctl.md), for main.c and load.c. */
#ifndef LB_CTL_EXIT_H
#define LB_CTL_EXIT_H

enum ctl_exit {
	CTL_OK = 0,		/* done (load: at least one response arrived) */
	CTL_FAILED = 1,		/* lb-discover refused (unknown backend, bad weight ...); load: no response */
	CTL_USAGE = 2,		/* bad command line */
	CTL_TIMEOUT = 3,	/* drain --wait: requests still in flight at --timeout */
	CTL_NO_DISCOVER = 4,	/* nothing answers at the runtime dir */
	CTL_CANCELLED = 5,	/* drain --wait: the drain was undone or replaced (undrain,
				 * remove, the backend left the set): not drained */
};

#endif
