/* load: `lb-ctl load URL`, an HTTP/1.1 keep-alive load test of the user's own
 * deployment on a libev loop; the report is load_stats'. */
#ifndef LB_CTL_LOAD_H
#define LB_CTL_LOAD_H

/*
 * Runs the load command: argv holds its arguments (after "load"), json and
 * timeout (seconds per request) are lb-ctl's global --json and --timeout,
 * which its own flags may override. Prints the report on stdout, errors on
 * stderr. Returns lb-ctl's exit code (ctl_exit.h): CTL_OK when at least one
 * response arrived, CTL_FAILED when none did (or the host did not resolve),
 * CTL_USAGE for a bad command line or an https:// URL.
 */
int load_main(int argc, char **argv, int json, double timeout);

#endif
