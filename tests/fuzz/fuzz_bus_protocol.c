/* libFuzzer target for common/bus_protocol.c: any bytes as a bus message;
 * what decodes must encode and decode again to the same set. */
#include <assert.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "bus_protocol.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct bus_set set, again;
	struct buf out = BUF_INIT;
	char err[256];

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
