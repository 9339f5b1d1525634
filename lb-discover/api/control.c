/* control: lb-discover's answers to lb-ctl (REP).
 *
 * Requests are "control" messages, answers "reply" messages
 * (common/bus_protocol.h); every verb runs through command_run(), as the
 * admin API's do. Every command is idempotent or refuses a repeat: nanomsg's
 * REQ may resend. */
#include "control.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "command.h"
#include "core/served.h"
#include "log.h"
#include "status.h"

static void send_reply(struct discover *d, json_t *body, int ok, const char *error)
{
	struct buf out = BUF_INIT;

	if (bus_reply_encode(body, ok, error, &out) == -1) {
		buf_reset(&out);
		if (bus_reply_encode(NULL, 0, body ? "reply too large" : "out of memory", &out) == -1)
			goto out;
	}
	bus_send(&d->rep, out.data, out.len);
out:
	buf_release(&out);
}

/* The full status, or with only busy backends per proxy when that is over
 * the bus's limit (thousands of backends times several proxies). */
static void reply_status(struct discover *d, const struct bus_control *c,
			 struct command_result *r)
{
	struct buf out = BUF_INIT;
	struct served sv;
	json_t *trimmed;

	if (bus_reply_encode(r->body, 1, NULL, &out) == 0) {
		bus_send(&d->rep, out.data, out.len);
		buf_release(&out);
		return;
	}
	buf_release(&out);
	if (served_find(d, c->service, &sv) == -1)
		served_main(d, &sv);	/* command_run found it: not reached */
	trimmed = status_json_of(d, &sv, 1);
	send_reply(d, trimmed, trimmed != NULL, "out of memory");
	json_decref(trimmed);
}

static void on_request(struct bus *b, const char *data, size_t len)
{
	struct discover *d = b->data;
	struct bus_control c;
	struct command_result r;
	char err[256], msg[320];

	if (bus_control_decode(data, len, &c, err, sizeof(err)) == -1) {
		if (c.version != 0 && c.version != BUS_PROTOCOL_VERSION) {
			snprintf(msg, sizeof(msg), "lb-ctl speaks bus protocol %d, this lb-discover "
				 "%d: use the lb-ctl of the same lb release", c.version,
				 BUS_PROTOCOL_VERSION);
			log_error("bus: control request of another protocol version refused",
				  "error=\"%s\"", msg);
		} else {
			snprintf(msg, sizeof(msg), "malformed request: %s", err);
			log_warn("bus: malformed control request dropped", "error=\"%s\"", err);
		}
		send_reply(d, NULL, 0, msg);
		return;
	}
	if (command_run(d, &c, &r) != COMMAND_OK)
		send_reply(d, NULL, 0, r.error);
	else if (strcmp(c.command, "status") == 0)
		reply_status(d, &c, &r);
	else
		send_reply(d, r.body, 1, NULL);
	command_result_release(&r);
}

void control_start(struct discover *d)
{
	bus_watch(&d->rep, d->loop, on_request, d);
}
