/* curl_dl: the libcurl functions curl_ev.c and otlp_export.c call, loaded
 * with dlopen("libcurl.so.4") at the first call instead of linked, for
 * lb-proxy alone (the Makefile links this object into it and nothing else):
 * libcurl pulls in GnuTLS, Kerberos, LDAP and SSH (~3.6 MiB of RSS, and
 * GnuTLS initializes itself at load), which a proxy without an OTLP exporter
 * never uses. Each function here has libcurl's own name and signature, so
 * the callers are the same in every program; lb-discover links libcurl.
 *
 * When libcurl cannot be loaded, one error line says why, and each function
 * answers as libcurl does when it cannot start (NULL, CURLE_FAILED_INIT,
 * CURLM_INTERNAL_ERROR): the exporter's start-up fails with its message. */
#define CURL_DISABLE_TYPECHECK	/* plain prototypes: the macros would rename these */
#include <curl/curl.h>
#include <dlfcn.h>
#include <stdarg.h>

#include "curl_dl.h"
#include "log.h"

static struct {
	int tried;			/* dlopen was tried (once: its answer stands) */
	void *handle;			/* libcurl, or NULL */
	CURLcode (*global_init)(long);
	void (*global_cleanup)(void);
	CURLM *(*multi_init)(void);
	CURLMcode (*multi_cleanup)(CURLM *);
	CURLMcode (*multi_setopt)(CURLM *, CURLMoption, ...);
	CURLMcode (*multi_add_handle)(CURLM *, CURL *);
	CURLMcode (*multi_remove_handle)(CURLM *, CURL *);
	CURLMcode (*multi_assign)(CURLM *, curl_socket_t, void *);
	CURLMcode (*multi_socket_action)(CURLM *, curl_socket_t, int, int *);
	CURLMsg *(*multi_info_read)(CURLM *, int *);
	CURL *(*easy_init)(void);
	void (*easy_cleanup)(CURL *);
	CURLcode (*easy_setopt)(CURL *, CURLoption, ...);
	CURLcode (*easy_getinfo)(CURL *, CURLINFO, ...);
	const char *(*easy_strerror)(CURLcode);
	struct curl_slist *(*slist_append)(struct curl_slist *, const char *);
	void (*slist_free_all)(struct curl_slist *);
} lib;

/* Looks `name` up into *slot (a function pointer's storage, as dlsym(3)
 * shows); returns 0 or -1. */
static int lookup(void *slot, const char *name)
{
	void *f = dlsym(lib.handle, name);

	if (!f) {
		log_write(LOG_ERROR, "libcurl lacks a function the OTLP exporter calls: "
			  "install Debian's libcurl4 (7.62 or later)", "function=%s", name);
		return -1;
	}
	*(void **)slot = f;
	return 0;
}

/* Loads libcurl at the first call; returns 0 when it is loaded, else -1. */
static int load(void)
{
	if (lib.tried)
		return lib.handle ? 0 : -1;
	lib.tried = 1;
	lib.handle = dlopen(CURL_DL_SONAME, RTLD_NOW | RTLD_LOCAL);
	if (!lib.handle) {
		log_write(LOG_ERROR, "cannot load libcurl, which the OTLP exporter needs: "
			  "install Debian's libcurl4, or run without --otlp-endpoint",
			  "error=\"%s\"", dlerror());
		return -1;
	}
	if (lookup(&lib.global_init, "curl_global_init") == -1 ||
	    lookup(&lib.global_cleanup, "curl_global_cleanup") == -1 ||
	    lookup(&lib.multi_init, "curl_multi_init") == -1 ||
	    lookup(&lib.multi_cleanup, "curl_multi_cleanup") == -1 ||
	    lookup(&lib.multi_setopt, "curl_multi_setopt") == -1 ||
	    lookup(&lib.multi_add_handle, "curl_multi_add_handle") == -1 ||
	    lookup(&lib.multi_remove_handle, "curl_multi_remove_handle") == -1 ||
	    lookup(&lib.multi_assign, "curl_multi_assign") == -1 ||
	    lookup(&lib.multi_socket_action, "curl_multi_socket_action") == -1 ||
	    lookup(&lib.multi_info_read, "curl_multi_info_read") == -1 ||
	    lookup(&lib.easy_init, "curl_easy_init") == -1 ||
	    lookup(&lib.easy_cleanup, "curl_easy_cleanup") == -1 ||
	    lookup(&lib.easy_setopt, "curl_easy_setopt") == -1 ||
	    lookup(&lib.easy_getinfo, "curl_easy_getinfo") == -1 ||
	    lookup(&lib.easy_strerror, "curl_easy_strerror") == -1 ||
	    lookup(&lib.slist_append, "curl_slist_append") == -1 ||
	    lookup(&lib.slist_free_all, "curl_slist_free_all") == -1) {
		dlclose(lib.handle);
		lib.handle = NULL;
		return -1;
	}
	return 0;
}

CURLcode curl_global_init(long flags)
{
	return load() == -1 ? CURLE_FAILED_INIT : lib.global_init(flags);
}

void curl_global_cleanup(void)
{
	if (lib.handle)
		lib.global_cleanup();
}

CURLM *curl_multi_init(void)
{
	return load() == -1 ? NULL : lib.multi_init();
}

CURLMcode curl_multi_cleanup(CURLM *multi)
{
	return lib.handle ? lib.multi_cleanup(multi) : CURLM_BAD_HANDLE;
}

/* The option's number says its argument's type (curl.h's CURLOPTTYPE_*,
 * the same bases for CURLMOPT_*, which has no blobs): the variadic argument
 * of curl_easy_setopt and curl_multi_setopt is passed on to fn as what it
 * is, its result into rc. */
#define PASS_OPTION(rc, fn, handle, option, ap)							\
	do {											\
		if ((option) < CURLOPTTYPE_OBJECTPOINT)						\
			(rc) = fn((handle), (option), va_arg((ap), long));			\
		else if ((option) < CURLOPTTYPE_FUNCTIONPOINT)					\
			(rc) = fn((handle), (option), va_arg((ap), void *));			\
		else if ((option) < CURLOPTTYPE_OFF_T)						\
			(rc) = fn((handle), (option), va_arg((ap), void (*)(void)));		\
		else if ((option) < CURLOPTTYPE_BLOB)						\
			(rc) = fn((handle), (option), va_arg((ap), curl_off_t));		\
		else										\
			(rc) = fn((handle), (option), va_arg((ap), void *));			\
	} while (0)

CURLMcode curl_multi_setopt(CURLM *multi, CURLMoption option, ...)
{
	va_list ap;
	CURLMcode rc;

	if (!lib.handle)
		return CURLM_BAD_HANDLE;
	va_start(ap, option);
	PASS_OPTION(rc, lib.multi_setopt, multi, option, ap);
	va_end(ap);
	return rc;
}

CURLMcode curl_multi_add_handle(CURLM *multi, CURL *easy)
{
	return lib.handle ? lib.multi_add_handle(multi, easy) : CURLM_BAD_HANDLE;
}

CURLMcode curl_multi_remove_handle(CURLM *multi, CURL *easy)
{
	return lib.handle ? lib.multi_remove_handle(multi, easy) : CURLM_BAD_HANDLE;
}

CURLMcode curl_multi_assign(CURLM *multi, curl_socket_t s, void *p)
{
	return lib.handle ? lib.multi_assign(multi, s, p) : CURLM_BAD_HANDLE;
}

CURLMcode curl_multi_socket_action(CURLM *multi, curl_socket_t s, int ev_bitmask,
				   int *running)
{
	return lib.handle ? lib.multi_socket_action(multi, s, ev_bitmask, running)
			  : CURLM_BAD_HANDLE;
}

CURLMsg *curl_multi_info_read(CURLM *multi, int *left)
{
	return lib.handle ? lib.multi_info_read(multi, left) : NULL;
}

CURL *curl_easy_init(void)
{
	return load() == -1 ? NULL : lib.easy_init();
}

void curl_easy_cleanup(CURL *easy)
{
	if (lib.handle)
		lib.easy_cleanup(easy);
}

CURLcode curl_easy_setopt(CURL *easy, CURLoption option, ...)
{
	va_list ap;
	CURLcode rc;

	if (!lib.handle)
		return CURLE_FAILED_INIT;
	va_start(ap, option);
	PASS_OPTION(rc, lib.easy_setopt, easy, option, ap);
	va_end(ap);
	return rc;
}

/* Every CURLINFO_* takes a pointer to where the answer goes. */
CURLcode curl_easy_getinfo(CURL *easy, CURLINFO info, ...)
{
	va_list ap;
	CURLcode rc;

	if (!lib.handle)
		return CURLE_FAILED_INIT;
	va_start(ap, info);
	rc = lib.easy_getinfo(easy, info, va_arg(ap, void *));
	va_end(ap);
	return rc;
}

const char *curl_easy_strerror(CURLcode code)
{
	return lib.handle ? lib.easy_strerror(code) : "libcurl is not loaded";
}

struct curl_slist *curl_slist_append(struct curl_slist *list, const char *s)
{
	return load() == -1 ? NULL : lib.slist_append(list, s);
}

void curl_slist_free_all(struct curl_slist *list)
{
	if (lib.handle)
		lib.slist_free_all(list);
}
