/* access_log: one line per request (see access_log.h). */
#include "access_log.h"

#include <stdio.h>

#include "log.h"
#include "net/transport_tls.h"
#include "timefmt.h"

/* " tried=A:why,B:why,C" when the request tried more than one backend: each
 * that failed with why, then the one that answered. */
static void tried_list(const struct session *s, char *out, size_t outsz)
{
	size_t n = 0;

	out[0] = '\0';
	if (s->x->pick.ntried == 0)
		return;
	n = (size_t)snprintf(out, outsz, " tried=");
	for (unsigned i = 0; i < s->x->pick.ntried && n < outsz; i++)
		n += (size_t)snprintf(out + n, outsz - n, "%s%s:%s", i ? "," : "",
				      s->x->pick.tried[i]->name, s->x->tried_why[i]);
	/* the one that answered, unless the proxy answered for the last one tried */
	if (s->be && s->be != s->x->pick.tried[s->x->pick.ntried - 1] && n < outsz)
		snprintf(out + n, outsz - n, ",%s", s->be->name);
}

/* Values a client chooses (request, request_id) and the TLS version are
 * quoted, so --log-format json keeps them strings; the numbers (status,
 * duration_ms, bytes, retries) are JSON numbers. */
void access_log_request(const struct session *s)
{
	char tried[BALANCE_MAX_TRIED * 96], proto[32];
	const char *tls = transport_tls_version(&s->tr);

	if (!s->px->opts->access_log)
		return;
	tried_list(s, tried, sizeof(tried));
	/* an HTTP/2 stream (h2_stream.c) names its id */
	if (s->tr.stream_id)
		snprintf(proto, sizeof(proto), "h2 stream=%u", s->tr.stream_id);
	log_info("request",
		 "client=%s request=\"%s\" status=%d backend=%s duration_ms=%.3f bytes=%llu "
		 "retries=%d request_id=\"%.*s\"%s%s%s%s%s%s%s proto=%s",
		 s->client_ip, s->target, s->status, s->be ? s->be->name : "-",
		 (timefmt_mono() - s->started) * 1000.0, s->bytes_out, s->retries,
		 (int)s->request_id_len, s->request_id, tried, s->refusal ? " refused=\"" : "",
		 s->refusal ? s->refusal : "", s->refusal ? "\"" : "", tls ? " tls=\"" : "",
		 tls ? tls : "", tls ? "\"" : "", s->tr.stream_id ? proto : "h1");
}
