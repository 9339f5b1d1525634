/* routing_stats: the route table's counters (see routing_stats.h). */
#include "routing_stats.h"

#include <string.h>

#include "route_json.h"

int routing_stats_json(const struct proxy *px, struct buf *out)
{
	const struct route_snapshot *snap = px->routing ? px->routing->current : NULL;

	buf_appendf(out, "{\"generation\":%llu,\"unmatched\":%llu,",
		    snap ? snap->generation : 0ULL, px->routing ? px->routing->unmatched_total : 0ULL);
	if (!snap)
		return buf_append_str(out, "\"listeners\":[],\"routes\":[],\"services\":[]}");
	if (route_json_table(snap->table, snap->hits, out) == -1)
		return -1;
	/* each routed Service's protocol and algorithm as this proxy uses them */
	buf_append_str(out, ",\"services\":[");
	for (const struct service *s = px->routing->services; s; s = s->next) {
		buf_append_str(out, s == px->routing->services ? "{\"name\":\"" : ",{\"name\":\"");
		buf_append_json_escaped(out, s->name, strlen(s->name));
		buf_appendf(out, "\",\"protocol\":\"%s\",\"balance\":\"%s\",\"generation\":%llu}",
			    routing_service_protocol(px, s), routing_service_balance(px, s),
			    s->set.generation);
	}
	return buf_append_str(out, "]}");
}

/* A label value as the text format wants it: backslash, quote and newline
 * escaped (a route's name comes over the bus). */
static void label_value(struct buf *out, const char *s)
{
	for (; *s; s++) {
		if (*s == '\\' || *s == '"')
			buf_appendf(out, "\\%c", *s);
		else if (*s == '\n')
			buf_append_str(out, "\\n");
		else
			buf_append(out, s, 1);
	}
}

void routing_stats_metrics(const struct proxy *px, struct buf *out)
{
	const struct route_snapshot *snap = px->routing ? px->routing->current : NULL;

	if (!px->routing)
		return;
	buf_append_str(out, "# HELP lb_proxy_route_requests_total Requests a route rule matched "
			    "(route namespace/name, rule its index in spec.rules).\n"
			    "# TYPE lb_proxy_route_requests_total counter\n");
	for (unsigned i = 0; snap && i < snap->table->n_rules; i++) {
		buf_append_str(out, "lb_proxy_route_requests_total{route=\"");
		label_value(out, snap->table->rules[i].route);
		buf_appendf(out, "\",rule=\"%u\"} %llu\n", snap->table->rules[i].index,
			    snap->hits[i]);
	}
	buf_appendf(out, "# HELP lb_proxy_route_unmatched_total Requests no route rule matched "
			 "(answered 404).\n"
			 "# TYPE lb_proxy_route_unmatched_total counter\n"
			 "lb_proxy_route_unmatched_total %llu\n", px->routing->unmatched_total);
}
