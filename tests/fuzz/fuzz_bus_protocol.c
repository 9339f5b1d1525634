/* libFuzzer target for common/bus_protocol.c and common/bus_routes.c: any
 * bytes as a bus message (a set or report, or a routes message as the
 * proxy's subscriber tells them apart); what decodes must encode and decode
 * again to the same message. */
#include <assert.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "bus_protocol.h"
#include "bus_routes.h"
#include "route_codec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct bus_set set, again;
	struct buf out = BUF_INIT;
	char err[256];

	if (bus_routes_is((const char *)data, size)) {
		struct route_table *t, *back;
		struct buf a = BUF_INIT, b = BUF_INIT;
		unsigned long long gen, gen2;

		if (bus_routes_decode((const char *)data, size, &gen, &t, err, sizeof(err)) == 0) {
			assert(bus_routes_encode(gen, t, &out) == 0);
			assert(bus_routes_decode(out.data, out.len, &gen2, &back, err,
						 sizeof(err)) == 0);
			assert(gen2 == gen);
			assert(route_codec_encode(t, &a) == 0 && route_codec_encode(back, &b) == 0);
			assert(a.len == b.len && memcmp(a.data, b.data, a.len) == 0);
			route_table_free(back);
			route_table_free(t);
			buf_release(&a);
			buf_release(&b);
		}
		buf_release(&out);
		return 0;
	}
	if (bus_set_decode((const char *)data, size, &set, err, sizeof(err)) == 0) {
		assert(bus_set_encode(&set, &out) == 0);
		assert(bus_set_decode(out.data, out.len, &again, err, sizeof(err)) == 0);
		assert(again.n == set.n && again.generation == set.generation);
		assert(again.proxies == set.proxies);
		for (size_t i = 0; i < set.n; i++)
			assert(strcmp(again.backends[i].address, set.backends[i].address) == 0);
		bus_set_release(&again);
	}
	bus_set_release(&set);
	buf_release(&out);
	return 0;
}
