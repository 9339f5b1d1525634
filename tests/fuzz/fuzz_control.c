/* libFuzzer target for what the operator sends lb-discover: any bytes as a
 * control message (common/bus_protocol.c, what decodes must encode and
 * decode again the same), a reply (lb-ctl's side), and as an admin API
 * request target under every method (common/admin_route.c). */
#include <assert.h>
#include <llhttp.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "admin_route.h"
#include "bus_protocol.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const int methods[] = { HTTP_GET, HTTP_HEAD, HTTP_POST, HTTP_PUT, HTTP_DELETE };
	struct bus_control c, again;
	struct bus_reply r;
	struct buf out = BUF_INIT;
	char err[256];

	if (bus_control_decode((const char *)data, size, &c, err, sizeof(err)) == 0) {
		assert(bus_control_encode(&c, &out) == 0);
		assert(bus_control_decode(out.data, out.len, &again, err, sizeof(err)) == 0);
		assert(strcmp(again.command, c.command) == 0 &&
		       strcmp(again.address, c.address) == 0 &&
		       strcmp(again.service, c.service) == 0);
		assert(again.has_weight == c.has_weight && again.weight == c.weight);
		assert(again.has_generation == c.has_generation &&
		       again.generation == c.generation);
	}
	if (bus_reply_decode((const char *)data, size, &r, err, sizeof(err)) == 0)
		bus_reply_release(&r);
	for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++) {
		struct admin_route route;
		enum admin_route_status st = admin_route_parse(methods[i], (const char *)data, size,
							       &route);

		assert(strlen(route.path) < sizeof(route.path));
		assert(strlen(route.address) < sizeof(route.address));
		assert(st != ADMIN_ROUTE_NOT_ALLOWED || route.allow[0]);
		assert(st != ADMIN_ROUTE_OK || route.action != ADMIN_VERB || route.verb);
		assert(st != ADMIN_ROUTE_BAD || route.error);
		assert(route.wait >= 0 && route.wait <= ADMIN_WAIT_MAX);
	}
	buf_release(&out);
	return 0;
}
