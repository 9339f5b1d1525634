/* page: the status page's files (lb-discover/api/page/), compiled into the
 * binary as they are (no build step, no CDN): what GET /, /page.js and
 * /page.css answer, with the headers that keep the page to its origin. */
#ifndef LB_DISCOVER_PAGE_H
#define LB_DISCOVER_PAGE_H

#include <stddef.h>

/*
 * The headers of every page answer: scripts, styles and connections from
 * the page's own origin only, no inline script or style (the page has
 * none: values from the bus are set as text, never as markup), no framing,
 * no MIME sniffing. "\r\n"-terminated lines.
 */
#define PAGE_HEADERS                                                                        \
	"Content-Security-Policy: default-src 'none'; script-src 'self'; style-src 'self'; "   \
	"connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; "      \
	"frame-ancestors 'none'\r\n"                                                            \
	"X-Content-Type-Options: nosniff\r\n"                                                   \
	"X-Frame-Options: DENY\r\n"                                                             \
	"Referrer-Policy: no-referrer\r\n"                                                      \
	"Cache-Control: no-cache\r\n"

struct page_file {
	const char *path;		/* "/", "/page.js", "/page.css" */
	const char *ctype;		/* its Content-Type */
	const unsigned char *data;	/* the file's bytes (static) */
	size_t len;
};

/* The file served at `path` (a decoded request path, no query), or NULL. */
const struct page_file *page_find(const char *path);

#endif
