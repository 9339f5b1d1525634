/* bus_listens: encode and validate a report's "listens". */
#include "bus_listens.h"

#include <jansson.h>
#include <stdio.h>

int bus_listens_encode(const struct bus_listen *listens, unsigned n, json_t *root)
{
	json_t *list;

	if (!n)
		return 0;
	list = json_array();
	if (!list)
		return -1;
	for (unsigned i = 0; i < n && i < BUS_LISTENS_MAX; i++) {
		json_t *o = json_pack("{s:i}", "port", (int)listens[i].port);

		if (!o || (listens[i].tls && json_object_set_new(o, "tls", json_true()) == -1) ||
		    json_array_append_new(list, o) == -1) {
			json_decref(list);
			return -1;
		}
	}
	return json_object_set_new(root, "listens", list);
}

int bus_listens_decode(json_t *root, struct bus_listen *listens, unsigned *n, char *err,
		       size_t errsz)
{
	json_t *list = json_object_get(root, "listens"), *o;
	size_t i;

	*n = 0;
	if (!list)
		return 0;
	if (!json_is_array(list) || json_array_size(list) > BUS_LISTENS_MAX) {
		snprintf(err, errsz, "listens must be an array of at most %d (BUS_LISTENS_MAX)",
			 BUS_LISTENS_MAX);
		return -1;
	}
	json_array_foreach(list, i, o) {
		json_t *port = json_object_get(o, "port"), *tls = json_object_get(o, "tls");

		if (!json_is_object(o) || !json_is_integer(port) || json_integer_value(port) < 1 ||
		    json_integer_value(port) > 65535) {
			snprintf(err, errsz, "listens[%zu]: port must be an integer from 1 to 65535", i);
			return -1;
		}
		if (tls && !json_is_boolean(tls)) {
			snprintf(err, errsz, "listens[%zu]: tls must be true or false", i);
			return -1;
		}
		listens[i].port = (unsigned short)json_integer_value(port);
		listens[i].tls = json_is_true(tls);
	}
	*n = (unsigned)json_array_size(list);
	return 0;
}
