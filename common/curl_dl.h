/* curl_dl: libcurl for lb-proxy, loaded at its first use (dlopen) rather
 * than linked, so a proxy without an OTLP exporter maps none of it. It
 * defines libcurl's own functions (those curl_ev.c and otlp_export.c call):
 * include <curl/curl.h> as usual; the Makefile links curl_dl.o into lb-proxy
 * alone. A missing libcurl is logged once; the calls then fail as libcurl's
 * do when it cannot start. */
#ifndef LB_CURL_DL_H
#define LB_CURL_DL_H

/* The library loaded (Debian's libcurl4). */
#define CURL_DL_SONAME "libcurl.so.4"

#endif
