/* timefmt: cached wall-clock strings for logs and responses. */
#include "timefmt.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

static time_t iso_sec = -1, http_sec = -1;
static char iso_buf[32], http_buf[40];
static size_t iso_len, http_len;

size_t timefmt_iso_ms(char *out)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return timefmt_iso_ms_at(&ts, out);
}

size_t timefmt_iso_ms_at(const struct timespec *ts, char *out)
{
	/* the date and time to the second, formatted once a second (gmtime_r
	 * and strftime were a tenth of a log line's cost) */
	static time_t ms_sec = -1;
	static char ms_prefix[24];
	static size_t ms_len;
	long ms;
	size_t n;

	if (ts->tv_sec != ms_sec) {
		struct tm tm;

		gmtime_r(&ts->tv_sec, &tm);
		ms_len = strftime(ms_prefix, sizeof(ms_prefix), "%Y-%m-%dT%H:%M:%S", &tm);
		ms_sec = ts->tv_sec;
	}
	memcpy(out, ms_prefix, ms_len);
	n = ms_len;
	ms = ts->tv_nsec / 1000000;
	out[n++] = '.';
	out[n++] = (char)('0' + ms / 100);
	out[n++] = (char)('0' + ms / 10 % 10);
	out[n++] = (char)('0' + ms % 10);
	out[n++] = 'Z';
	out[n] = '\0';
	return n;
}

const char *timefmt_iso_s(size_t *len)
{
	time_t now = time(NULL);
	struct tm tm;

	if (now != iso_sec) {
		gmtime_r(&now, &tm);
		iso_len = strftime(iso_buf, sizeof(iso_buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
		iso_sec = now;
	}
	if (len)
		*len = iso_len;
	return iso_buf;
}

const char *timefmt_http_date(size_t *len)
{
	static const char days[7][4] = { "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat" };
	static const char months[12][4] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
					    "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
	time_t now = time(NULL);
	struct tm tm;

	if (now != http_sec) {
		gmtime_r(&now, &tm);
		http_len = (size_t)snprintf(http_buf, sizeof(http_buf),
					    "%s, %02d %s %04d %02d:%02d:%02d GMT",
					    days[tm.tm_wday], tm.tm_mday, months[tm.tm_mon],
					    tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
		http_sec = now;
	}
	if (len)
		*len = http_len;
	return http_buf;
}

double timefmt_mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}
