/* libFuzzer target for common/http_parser.c: any bytes, split at a point the
 * input chooses, parsed as requests and as responses the way connections do;
 * every span must stay inside what was fed and parsing must end. */
#include <assert.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http_parser.h"

static void check_spans(const struct http_msg *m, size_t fed)
{
	assert(m->url.off + (size_t)m->url.len <= fed || m->url.len == 0);
	assert(m->nheaders <= HTTP_MAX_HEADERS);
	for (unsigned i = 0; i < m->nheaders; i++) {
		assert(m->headers[i].name.off + (size_t)m->headers[i].name.len <= fed);
		assert(m->headers[i].value.off + (size_t)m->headers[i].value.len <= fed);
	}
}

static void run(llhttp_type_t type, const uint8_t *data, size_t size, size_t split)
{
	char *buf = malloc(size + 1);
	struct http_msg m;
	size_t off = 0, len = 0;
	int rounds = 0;

	http_msg_init(&m, type, 4096, NULL, NULL);
	for (int step = 0; step < 2; step++) {
		size_t upto = step == 0 ? split : size;

		memcpy(buf + len, data + len, upto - len);
		len = upto;
		while (rounds++ < 10000) {
			size_t used = http_msg_feed(&m, buf, off, len - off);

			assert(used <= len - off);
			off += used;
			if (m.state == HTTP_MSG_ERROR) {
				/* the statuses http_parser.h documents: 501 for a
				 * method it does not know, 505 for a version read and
				 * not spoken (the 4xx-only check was wrong) */
				assert((m.error_status >= 400 && m.error_status < 500) ||
				       m.error_status == 501 || m.error_status == 505 ||
				       (type == HTTP_RESPONSE && m.error_status == 502));
				goto out;
			}
			if (m.state >= HTTP_MSG_BODY)
				check_spans(&m, len);
			if (m.state == HTTP_MSG_DONE) {
				if (m.upgrade)
					goto out;
				/* compact as connections do, then the next message */
				memmove(buf, buf + off, len - off);
				len -= off;
				data += off;
				size -= off;
				split = split > off ? split - off : 0;
				upto = step == 0 ? split : size;
				off = 0;
				http_msg_next(&m, 0);
				continue;
			}
			if (m.state == HTTP_MSG_BODY && used > 0)
				continue;
			if (off == len)
				break;
		}
	}
out:
	free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t split = size ? data[0] % (size + 1) : 0;

	run(HTTP_REQUEST, data, size, split);
	run(HTTP_RESPONSE, data, size, split);
	return 0;
}
