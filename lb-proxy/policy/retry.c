/* retry: lb-proxy's retry policy (see retry.h). */
#include "retry.h"

#include <stdio.h>
#include <string.h>

static const char *const reason_names[RETRY_REASONS] = {
	[RETRY_CONNECT_FAILURE] = "connect-failure",
	[RETRY_RESET] = "reset",
	[RETRY_TIMEOUT] = "timeout",
	[RETRY_GATEWAY_ERROR] = "gateway-error",
	[RETRY_5XX] = "5xx",
};

const char *retry_reason_name(enum retry_reason r)
{
	return r < RETRY_REASONS ? reason_names[r] : "?";
}

const char *retry_reason_names(void)
{
	return "connect-failure, reset, timeout, gateway-error, 5xx";
}

int retry_on_parse(const char *list, unsigned *on, char *err, size_t errsz)
{
	const char *p = list;
	unsigned mask = 0;

	for (;;) {
		const char *end, *comma = strchr(p, ',');
		size_t len;
		int found = -1;

		while (*p == ' ')
			p++;
		end = comma ? comma : p + strlen(p);
		while (end > p && end[-1] == ' ')
			end--;
		len = (size_t)(end - p);
		for (int r = 0; r < RETRY_REASONS; r++)
			if (strlen(reason_names[r]) == len && memcmp(reason_names[r], p, len) == 0)
				found = r;
		if (found < 0) {
			snprintf(err, errsz, "\"%.*s\" is not one of %s (a comma-separated list)",
				 (int)(len > 64 ? 64 : len), p, retry_reason_names());
			return -1;
		}
		mask |= 1u << found;
		if (!comma)
			break;
		p = comma + 1;
	}
	*on = mask;
	return 0;
}

int retry_status_reason(unsigned on, int status)
{
	int gateway = status == 502 || status == 503 || status == 504;

	if (status < 500 || status > 599)
		return -1;
	if (gateway && (on & (1u << RETRY_GATEWAY_ERROR)))
		return RETRY_GATEWAY_ERROR;
	if (on & (1u << RETRY_5XX))
		return RETRY_5XX;
	return -1;
}

int retry_budget_allows(const struct retry_policy *p, unsigned retries_in_flight,
			unsigned requests_in_flight)
{
	double allowed = p->budget_percent / 100.0 * requests_in_flight;

	if (allowed < RETRY_BUDGET_MIN)
		allowed = RETRY_BUDGET_MIN;
	return (double)retries_in_flight < allowed;
}

double retry_backoff(const struct retry_policy *p, unsigned n, double random01)
{
	double ceiling = p->backoff_base;

	if (p->backoff_base <= 0)
		return 0;
	for (unsigned i = 0; i < n && ceiling < p->backoff_max; i++)
		ceiling *= 2;
	if (ceiling > p->backoff_max)
		ceiling = p->backoff_max;
	return random01 * ceiling;
}

const char *retry_status_word(int status)
{
	static char words[100][12];

	if (status < 500 || status > 599)
		return "status";
	if (!words[status - 500][0])
		snprintf(words[status - 500], sizeof(words[0]), "status-%d", status);
	return words[status - 500];
}
