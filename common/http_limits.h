/* http_limits: the HTTP limits lb-echo and lb-proxy share. */
#ifndef LB_HTTP_LIMITS_H
#define LB_HTTP_LIMITS_H

#define HTTP_MAX_HEADERS 100			/* more is 431 */
#define HTTP_DEFAULT_MAX_HEADER_SIZE (32 * 1024)	/* request line + headers; more is 431 */
#define HTTP_READ_CHUNK (32 * 1024)		/* bytes asked of one read() */

#endif
