/* libFuzzer target for common/tls_clienthello.c: any bytes as a
 * connection's first bytes. Invariants: no crash and no read past the input
 * (ASan); a PARSED name is a lower-case DNS name of at most TLS_SNI_MAX
 * bytes, and "" otherwise; an early answer is never taken back (a prefix
 * refused as not TLS is refused whole, a whole answer stands with more
 * bytes after it); the answer for a prefix is NEED_MORE or the whole's. */
#include <assert.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tls_clienthello.h"

static void check_name(int r, const char *sni)
{
	size_t n = strlen(sni);

	assert(n <= TLS_SNI_MAX);
	if (r != TLS_CLIENTHELLO_PARSED) {
		assert(n == 0);
		return;
	}
	for (size_t i = 0; i < n; i++)
		assert((sni[i] >= 'a' && sni[i] <= 'z') || (sni[i] >= '0' && sni[i] <= '9') ||
		       sni[i] == '-' || sni[i] == '_' || sni[i] == '.');
	assert(n == 0 || (sni[0] != '.' && sni[n - 1] != '.' && !strstr(sni, "..")));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char sni[TLS_SNI_MAX + 1], again[TLS_SNI_MAX + 1];
	int whole = tls_clienthello_parse(data, size, sni);
	size_t cut = size ? data[0] % (size + 1) : 0;
	int part;
	uint8_t *more;

	assert(whole == TLS_CLIENTHELLO_PARSED || whole == TLS_CLIENTHELLO_NOT_TLS ||
	       whole == TLS_CLIENTHELLO_NEED_MORE);
	check_name(whole, sni);
	/* a prefix (the bytes as they came in two reads) */
	part = tls_clienthello_parse(data, cut, again);
	check_name(part, again);
	assert(part == TLS_CLIENTHELLO_NEED_MORE || part == whole);
	if (part == whole && whole == TLS_CLIENTHELLO_PARSED)
		assert(strcmp(sni, again) == 0);
	/* bytes after a decided answer change nothing */
	if (whole != TLS_CLIENTHELLO_NEED_MORE && (more = malloc(size + 16)) != NULL) {
		memcpy(more, data, size);
		memset(more + size, 0x16, 16);
		assert(tls_clienthello_parse(more, size + 16, again) == whole);
		assert(strcmp(sni, again) == 0);
		free(more);
	}
	return 0;
}
