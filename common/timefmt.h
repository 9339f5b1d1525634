/* timefmt: cached wall-clock strings (ISO 8601, HTTP Date) for logs and responses. */
#ifndef LB_TIMEFMT_H
#define LB_TIMEFMT_H

#include <stddef.h>

/* "2026-11-21T10:30:00.123Z" into out (at least 32 bytes); returns its length. */
size_t timefmt_iso_ms(char *out);
/* The same for the time ts (CLOCK_REALTIME's). */
struct timespec;
size_t timefmt_iso_ms_at(const struct timespec *ts, char *out);
/* "2026-11-21T10:30:00Z", cached per second; the pointer stays valid until
 * the next call. */
const char *timefmt_iso_s(size_t *len);
/* "Sat, 21 Nov 2026 10:30:00 GMT", cached per second, same lifetime rule. */
const char *timefmt_http_date(size_t *len);
/* Monotonic clock in seconds. */
double timefmt_mono(void);

#endif
