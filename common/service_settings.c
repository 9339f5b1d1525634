/* service_settings: a routed Service's protocol and algorithm (see
 * service_settings.h). */
#include "service_settings.h"

#include <jansson.h>
#include <string.h>
#include <strings.h>

static const char *const protocols[] = { "http1", "h2c", "h2", NULL };
/* lb-proxy's --balance choices (lb-proxy/upstream/balance_table.c, and
 * ip-hash); tests/unit/test_service_settings.c holds the two together */
static const char *const algorithms[] = { "round-robin", "least-request", "random", "maglev",
					  "ring-hash", "ip-hash", NULL };

static int listed(const char *const *list, const char *name)
{
	for (size_t i = 0; name && list[i]; i++)
		if (strcmp(list[i], name) == 0)
			return 1;
	return 0;
}

int service_settings_protocol_valid(const char *name)
{
	return listed(protocols, name);
}

int service_settings_balance_valid(const char *name)
{
	return listed(algorithms, name);
}

const char *service_settings_balance_names(void)
{
	return "round-robin, least-request, random, maglev, ring-hash, ip-hash";
}

const char *service_settings_app_protocol(const char *app)
{
	/* IANA service names compare without case; kubernetes.io/ ones are
	 * KEP-3726's, spelled as it spells them */
	if (!app || !*app || strcasecmp(app, "http") == 0)
		return "";
	if (strcmp(app, "kubernetes.io/h2c") == 0 || strcasecmp(app, "http2") == 0 ||
	    strcasecmp(app, "grpc") == 0)
		return "h2c";
	if (strcmp(app, "kubernetes.io/ws") == 0 || strcmp(app, "kubernetes.io/wss") == 0)
		return "http1";
	return NULL;
}

int service_settings_read(json_t *service, json_t *port, struct service_settings *out)
{
	json_t *ann = json_object_get(json_object_get(json_object_get(service, "metadata"),
						      "annotations"),
				      SERVICE_SETTINGS_BALANCE_ANNOTATION);
	json_t *app = json_object_get(port, "appProtocol");
	const char *protocol = json_is_string(app) ? service_settings_app_protocol(
						     json_string_value(app)) : NULL;
	int bad = 0;

	memset(out, 0, sizeof(*out));
	if (json_is_null(app))
		app = NULL;
	if (json_is_null(ann))
		ann = NULL;
	if (app && !protocol)
		bad |= SERVICE_SETTINGS_BAD_PROTOCOL;
	else if (protocol)
		strcpy(out->protocol, protocol);
	if (ann && !service_settings_balance_valid(json_string_value(ann)))
		bad |= SERVICE_SETTINGS_BAD_BALANCE;
	else if (ann)
		strcpy(out->balance, json_string_value(ann));
	return bad;
}
