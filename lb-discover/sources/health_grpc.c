/* health_grpc: grpc.health.v1.Health/Check's request and verdict (see
 * health_grpc.h). */
#include "health_grpc.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

size_t health_grpc_request(const char *service, unsigned char *out)
{
	size_t n = strlen(service), body, at = 5;

	if (n > HEALTH_GRPC_SERVICE_MAX)
		return 0;
	body = n == 0 ? 0 : 1 + (n < 128 ? 1 : 2) + n;	/* proto3: an empty string is omitted */
	out[0] = 0;					/* not compressed */
	out[1] = 0;
	out[2] = 0;
	out[3] = (unsigned char)(body >> 8);
	out[4] = (unsigned char)body;
	if (n == 0)
		return at;
	out[at++] = 0x0a;				/* field 1, length-delimited */
	if (n < 128) {
		out[at++] = (unsigned char)n;
	} else {
		out[at++] = (unsigned char)(0x80 | (n & 0x7f));
		out[at++] = (unsigned char)(n >> 7);
	}
	memcpy(out + at, service, n);
	return at + n;
}

/* Reads a varint at p (< end) into *v: bytes used, or 0 when it is cut or
 * longer than 10 bytes. */
static size_t varint(const unsigned char *p, const unsigned char *end, unsigned long long *v)
{
	unsigned long long x = 0;

	for (size_t i = 0; i < 10 && p + i < end; i++) {
		x |= (unsigned long long)(p[i] & 0x7f) << (7 * i);
		if (!(p[i] & 0x80)) {
			*v = x;
			return i + 1;
		}
	}
	return 0;
}

/* The status field of a framed HealthCheckResponse; -1 when the bytes are
 * not one (other fields are skipped, as protobuf readers do). */
static int serving_status(const unsigned char *body, size_t n)
{
	const unsigned char *p, *end;
	size_t len;
	int status = HEALTH_GRPC_UNKNOWN;

	if (n < 5 || body[0] != 0)	/* compressed: never asked for */
		return -1;
	len = (size_t)body[1] << 24 | (size_t)body[2] << 16 | (size_t)body[3] << 8 | body[4];
	if (len > n - 5)
		return -1;
	p = body + 5;
	end = p + len;
	while (p < end) {
		unsigned long long key, v;
		size_t used = varint(p, end, &key);

		if (!used)
			return -1;
		p += used;
		switch (key & 7) {
		case 0:			/* varint */
			used = varint(p, end, &v);
			if (!used)
				return -1;
			p += used;
			if (key >> 3 == 1)
				status = v > 3 ? -1 : (int)v;
			break;
		case 1:			/* 64-bit */
			if (end - p < 8)
				return -1;
			p += 8;
			break;
		case 2:			/* length-delimited */
			used = varint(p, end, &v);
			if (!used || v > (unsigned long long)(end - p - (ptrdiff_t)used))
				return -1;
			p += used + v;
			break;
		case 5:			/* 32-bit */
			if (end - p < 4)
				return -1;
			p += 4;
			break;
		default:
			return -1;
		}
	}
	return status;
}

int health_grpc_verdict(long http_status, int grpc_status, const unsigned char *body, size_t n,
			char *why, size_t whysz)
{
	static const char *const names[] = { "UNKNOWN", "SERVING", "NOT_SERVING",
					     "SERVICE_UNKNOWN" };
	int serving;

	if (http_status != 200) {
		snprintf(why, whysz, "HTTP %ld", http_status);
		return 0;
	}
	if (grpc_status == -1) {
		snprintf(why, whysz, "no grpc-status");
		return 0;
	}
	if (grpc_status != 0) {
		snprintf(why, whysz, "grpc-status %d", grpc_status);
		return 0;
	}
	serving = serving_status(body, n);
	if (serving == -1) {
		snprintf(why, whysz, "not a HealthCheckResponse");
		return 0;
	}
	if (serving != HEALTH_GRPC_SERVING) {
		snprintf(why, whysz, "%s", names[serving]);
		return 0;
	}
	return 1;
}

int health_grpc_status_line(const char *line, size_t n)
{
	int v = 0;
	size_t i = 12;

	if (n < 13 || strncasecmp(line, "grpc-status:", 12) != 0)
		return -1;
	while (i < n && (line[i] == ' ' || line[i] == '\t'))
		i++;
	if (i == n || line[i] < '0' || line[i] > '9')
		return -1;
	for (; i < n && line[i] >= '0' && line[i] <= '9'; i++)
		if ((v = v * 10 + (line[i] - '0')) > 1000)
			return -1;
	return v;
}
