/* libFuzzer target for the fleet's shared state (lb-discover/cluster/fleet_apply.c,
 * core/state.c): any bytes as the ConfigMap's state.json. A document that
 * validates applies to the registry; every operation a replica can record
 * keeps a valid document valid (so no replica ever writes one the others
 * refuse), and applying it twice gives the same document (the conflict
 * path re-applies). */
#include <assert.h>
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "cluster/fleet_apply.h"
#include "core/registry.h"
#include "discover_fixture.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct fleet_op ops[] = {
		{ FLEET_DRAIN, "10.0.0.1:80", 0, 0, 0, "" },
		{ FLEET_UNDRAIN, "10.0.0.1:80", 0, 0, 0, "" },
		{ FLEET_ADD, "10.0.0.9:80", 7, 0, 0, "" },
		{ FLEET_REMOVE, "10.0.0.2:80", 0, 0, 0, "" },
		{ FLEET_WEIGHT, "[::1]:80", 1000, 0, 0, "" },
		{ FLEET_UNEJECT, "10.0.0.1:80", 0, 0, 0, "" },
		{ FLEET_EJECT, "10.0.0.1:80", 0, 1e9, 3, "outlier: 5 consecutive 5xx" },
		{ FLEET_FORGET, "10.0.0.2:80", 0, 0, 0, "" },
	};
	struct registry r;
	json_t *doc = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, NULL);
	char err[512];

	if (!doc)
		return 0;
	discover_fixture_registry(&r, "backend");	/* 10.0.0.1:80, 10.0.0.2:80 */
	if (fleet_apply_document(&r, doc, 2000, err, sizeof(err)) == 0) {
		for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
			json_t *once, *twice;

			assert(fleet_apply_op(doc, &ops[i]) == 0);
			once = json_deep_copy(doc);
			assert(fleet_apply_op(doc, &ops[i]) == 0);
			twice = doc;
			assert(json_equal(once, twice));
			json_decref(once);
			if (fleet_apply_document(&r, doc, 2001, err, sizeof(err)) != 0) {
				fprintf(stderr, "op %zu made the document invalid: %s\n", i, err);
				assert(0);
			}
		}
	} else {
		assert(err[0]);
	}
	json_decref(doc);
	registry_release(&r);
	return 0;
}
