/* grpc_wire: gRPC's content-type, grpc-timeout and status codes (see
 * grpc_wire.h). */
#include "grpc_wire.h"

#include <stdio.h>
#include <strings.h>

int grpc_wire_is_grpc(const char *v, size_t n)
{
	if (n < 16 || strncasecmp(v, "application/grpc", 16) != 0)
		return 0;
	return n == 16 || v[16] == '+' || v[16] == ';';
}

int grpc_wire_timeout_parse(const char *v, size_t n, double *seconds)
{
	double value = 0, unit;

	if (n < 2 || n > GRPC_TIMEOUT_MAX_LEN)
		return -1;
	for (size_t i = 0; i + 1 < n; i++) {
		if (v[i] < '0' || v[i] > '9')
			return -1;
		value = value * 10 + (v[i] - '0');
	}
	switch (v[n - 1]) {
	case 'H': unit = 3600; break;
	case 'M': unit = 60; break;
	case 'S': unit = 1; break;
	case 'm': unit = 1e-3; break;
	case 'u': unit = 1e-6; break;
	case 'n': unit = 1e-9; break;
	default: return -1;
	}
	*seconds = value * unit;
	return 0;
}

size_t grpc_wire_timeout_format(double seconds, char *out)
{
	static const struct {
		char unit;
		double per_second;
	} units[] = { { 'n', 1e9 }, { 'u', 1e6 }, { 'm', 1e3 }, { 'S', 1 }, { 'M', 1.0 / 60 },
		      { 'H', 1.0 / 3600 } };
	double count = 1;
	char unit = 'n';
	int n;

	if (!(seconds > 0))
		seconds = 0;	/* the least there is: 1n */
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		double c = seconds * units[i].per_second, whole;

		unit = units[i].unit;
		if (!(c <= 99999999)) {		/* too many of this unit (or NaN) */
			count = 99999999;
			continue;
		}
		/* rounded up, but a float's dust (2.0000000001) is not a whole unit */
		whole = (double)(unsigned long long)c;
		if (c - whole > 1e-6)
			whole += 1;
		count = whole < 1 ? 1 : whole;
		if (count <= 99999999)
			break;
	}
	n = snprintf(out, GRPC_TIMEOUT_MAX_LEN + 1, "%llu%c", (unsigned long long)count, unit);
	return n < 0 ? 0 : (size_t)n;
}

enum grpc_status grpc_wire_status_for_http(int status, int overloaded)
{
	if (overloaded)
		return GRPC_RESOURCE_EXHAUSTED;
	switch (status) {
	case 400: return GRPC_INTERNAL;
	case 401: return GRPC_UNAUTHENTICATED;
	case 403: return GRPC_PERMISSION_DENIED;
	case 404: return GRPC_UNIMPLEMENTED;
	case 408: return GRPC_DEADLINE_EXCEEDED;
	case 413: return GRPC_RESOURCE_EXHAUSTED;
	case 429: return GRPC_RESOURCE_EXHAUSTED;
	case 431: return GRPC_RESOURCE_EXHAUSTED;
	case 500: return GRPC_INTERNAL;
	case 501: return GRPC_UNIMPLEMENTED;
	case 502: return GRPC_UNAVAILABLE;
	case 503: return GRPC_UNAVAILABLE;
	case 504: return GRPC_DEADLINE_EXCEEDED;
	default: return GRPC_UNKNOWN;
	}
}
