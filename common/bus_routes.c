/* bus_routes: encode and validate the bus's "routes" message. */
#include "bus_routes.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bus_protocol.h"
#include "route_codec.h"
#include "route_codec_decode.h"

int bus_routes_encode(unsigned long long generation, const struct route_table *t,
		      struct buf *out)
{
	char head[96];
	int n = snprintf(head, sizeof(head), "{\"v\":%d,\"type\":\"routes\",\"generation\":%llu,"
			 "\"table\":", BUS_PROTOCOL_VERSION, generation);
	size_t start = out->len;

	if (buf_append(out, head, (size_t)n) == -1 || route_codec_encode(t, out) == -1 ||
	    buf_append(out, "}", 1) == -1 || out->len - start > BUS_MAX_MESSAGE) {
		out->len = start;
		return -1;
	}
	return 0;
}

int bus_routes_is(const char *data, size_t len)
{
	static const char tag[] = "\"type\":\"routes\"";
	size_t n = len < 48 ? len : 48;

	for (size_t i = 0; i + sizeof(tag) - 1 <= n; i++)
		if (memcmp(data + i, tag, sizeof(tag) - 1) == 0)
			return 1;
	return 0;
}

int bus_routes_decode(const char *data, size_t len, unsigned long long *generation,
		      struct route_table **table, char *err, size_t errsz)
{
	json_t *root = NULL, *v;
	json_error_t jerr;
	char *text = NULL;
	int rc = -1;

	*table = NULL;
	if (len > BUS_MAX_MESSAGE) {
		snprintf(err, errsz, "routes message of %zu bytes, over %d", len, BUS_MAX_MESSAGE);
		return -1;
	}
	root = json_loadb(data, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!json_is_object(root)) {
		snprintf(err, errsz, "routes message is not a JSON object: %s", jerr.text);
		goto out;
	}
	v = json_object_get(root, "v");
	if (!json_is_integer(v) || json_integer_value(v) != BUS_PROTOCOL_VERSION) {
		snprintf(err, errsz, "routes message of bus protocol version %lld, this program "
			 "speaks %d", json_is_integer(v) ? (long long)json_integer_value(v) : 0LL,
			 BUS_PROTOCOL_VERSION);
		goto out;
	}
	v = json_object_get(root, "type");
	if (!json_is_string(v) || strcmp(json_string_value(v), "routes") != 0) {
		snprintf(err, errsz, "type must be routes");
		goto out;
	}
	v = json_object_get(root, "generation");
	if (!json_is_integer(v) || json_integer_value(v) < 1) {
		snprintf(err, errsz, "generation must be a positive integer");
		goto out;
	}
	*generation = (unsigned long long)json_integer_value(v);
	if (json_object_size(root) != 4 || !json_is_object(json_object_get(root, "table"))) {
		snprintf(err, errsz, "a routes message has v, type, generation and table (an "
			 "object), nothing else");
		goto out;
	}
	text = json_dumps(json_object_get(root, "table"), JSON_COMPACT);
	if (!text) {
		snprintf(err, errsz, "out of memory");
		goto out;
	}
	if (route_codec_decode(text, strlen(text), table, err, errsz) == -1)
		goto out;
	rc = 0;
out:
	free(text);
	json_decref(root);
	return rc;
}

int bus_routes_service(const char *namespace, const char *name, unsigned port, char *out,
		       size_t size)
{
	int n = snprintf(out, size, "%s/%s:%u", namespace, name, port);

	return n < 0 || (size_t)n >= size ? -1 : n;
}
