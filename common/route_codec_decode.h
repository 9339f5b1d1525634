/* route_codec_decode: a route table from its JSON (route_codec.h), checked
 * field by field: the input comes off the bus and is treated as hostile. */
#ifndef LB_ROUTE_CODEC_DECODE_H
#define LB_ROUTE_CODEC_DECODE_H

#include <stddef.h>

#include "route.h"
#include "route_codec.h"

/*
 * Decodes n bytes (at most ROUTE_CODEC_MAX) of JSON into a new table (*out,
 * the caller's to free with route_table_free), checking every field: types,
 * unknown keys, the limits of route.h, indexes, regexes, the version.
 * Returns 0, or -1 with *out NULL and a message in err naming the field.
 */
int route_codec_decode(const char *data, size_t n, struct route_table **out, char *err,
		       size_t errlen);

#endif
