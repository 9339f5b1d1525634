/* tls_clienthello: the SNI of a TLS ClientHello (see tls_clienthello.h). */
#include "tls_clienthello.h"

#include <stdint.h>

#define CONTENT_HANDSHAKE 22		/* RFC 8446 section 5.1, ContentType */
#define HANDSHAKE_CLIENT_HELLO 1	/* section 4, HandshakeType */
#define EXT_SERVER_NAME 0		/* RFC 6066 section 3 */
#define NAME_TYPE_HOST_NAME 0

/* A bounded reader over the hello's bytes: every take fails past `end`. */
struct reader {
	const unsigned char *p, *end;
};

static int take(struct reader *r, size_t n, const unsigned char **out)
{
	if ((size_t)(r->end - r->p) < n)
		return -1;
	*out = r->p;
	r->p += n;
	return 0;
}

static int take_u8(struct reader *r, unsigned *v)
{
	const unsigned char *b;

	if (take(r, 1, &b) == -1)
		return -1;
	*v = b[0];
	return 0;
}

static int take_u16(struct reader *r, unsigned *v)
{
	const unsigned char *b;

	if (take(r, 2, &b) == -1)
		return -1;
	*v = (unsigned)b[0] << 8 | b[1];
	return 0;
}

/* A vector with a length prefix of `width` bytes, as a reader of its own. */
static int take_vector(struct reader *r, int width, struct reader *sub)
{
	unsigned len;
	const unsigned char *b;

	if ((width == 1 ? take_u8(r, &len) : take_u16(r, &len)) == -1 || take(r, len, &b) == -1)
		return -1;
	sub->p = b;
	sub->end = b + len;
	return 0;
}

/* Copies a host_name into sni in lower case; -1 when it is not a DNS name. */
static int copy_host_name(const unsigned char *name, size_t len, char *sni)
{
	if (len == 0 || len > TLS_SNI_MAX || name[0] == '.' || name[len - 1] == '.')
		return -1;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = name[i];

		if (c >= 'A' && c <= 'Z')
			c = (unsigned char)(c - 'A' + 'a');
		else if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
			   c == '_' || (c == '.' && name[i - 1] != '.')))
			return -1;
		sni[i] = (char)c;
	}
	sni[len] = '\0';
	return 0;
}

/* The server_name extension's body (RFC 6066 section 3): a ServerNameList
 * whose host_name entry is copied. -1 when malformed. */
static int server_name(struct reader *ext, char *sni)
{
	struct reader list, name;
	unsigned type;
	int found = 0;

	if (take_vector(ext, 2, &list) == -1 || ext->p != ext->end || list.p == list.end)
		return -1;
	while (list.p < list.end) {
		if (take_u8(&list, &type) == -1 || take_vector(&list, 2, &name) == -1)
			return -1;
		/* "The ServerNameList MUST NOT contain more than one name of the
		 * same name_type" */
		if (type == NAME_TYPE_HOST_NAME) {
			if (found || copy_host_name(name.p, (size_t)(name.end - name.p), sni) == -1)
				return -1;
			found = 1;
		}
	}
	return 0;
}

/* The ClientHello's body (RFC 8446 section 4.1.2). */
static int client_hello(struct reader *r, char *sni)
{
	struct reader v, exts, ext;
	const unsigned char *skip;
	unsigned type, seen_sni = 0;

	/* legacy_version, random */
	if (take(r, 2 + 32, &skip) == -1)
		return -1;
	if (take_vector(r, 1, &v) == -1 || v.end - v.p > 32)	/* legacy_session_id<0..32> */
		return -1;
	/* cipher_suites<2..2^16-2>: two-byte values */
	if (take_vector(r, 2, &v) == -1 || v.end - v.p < 2 || (v.end - v.p) % 2)
		return -1;
	if (take_vector(r, 1, &v) == -1 || v.end == v.p)	/* legacy_compression_methods<1..> */
		return -1;
	if (r->p == r->end)	/* no extensions at all (SSL 3.0, TLS 1.0 clients) */
		return 0;
	if (take_vector(r, 2, &exts) == -1 || r->p != r->end)
		return -1;
	while (exts.p < exts.end) {
		if (take_u16(&exts, &type) == -1 || take_vector(&exts, 2, &ext) == -1)
			return -1;
		if (type != EXT_SERVER_NAME)
			continue;
		/* "There MUST NOT be more than one extension of the same type"
		 * (section 4.2): two names would route two ways */
		if (seen_sni++ || server_name(&ext, sni) == -1)
			return -1;
	}
	return 0;
}

int tls_clienthello_parse(const unsigned char *p, size_t n, char *sni)
{
	size_t fragment, body;
	struct reader r;

	sni[0] = '\0';
	/* Refuse as early as the bytes allow: a plain-text protocol is told
	 * apart by its first byte, not after a timeout. */
	if (n >= 1 && p[0] != CONTENT_HANDSHAKE)
		return TLS_CLIENTHELLO_NOT_TLS;
	if (n >= 2 && p[1] != 3)	/* legacy_record_version 0x0300 to 0x0304 */
		return TLS_CLIENTHELLO_NOT_TLS;
	if (n >= 3 && p[2] > 4)
		return TLS_CLIENTHELLO_NOT_TLS;
	if (n < TLS_RECORD_HEADER)
		return TLS_CLIENTHELLO_NEED_MORE;
	fragment = (size_t)p[3] << 8 | p[4];
	if (fragment == 0 || fragment > TLS_RECORD_FRAGMENT_MAX)
		return TLS_CLIENTHELLO_NOT_TLS;
	if (n >= TLS_RECORD_HEADER + 1 && p[5] != HANDSHAKE_CLIENT_HELLO)
		return TLS_CLIENTHELLO_NOT_TLS;
	if (n < TLS_RECORD_HEADER + fragment)
		return TLS_CLIENTHELLO_NEED_MORE;
	/* The handshake message: type, a 24-bit length, the body. */
	if (fragment < 4)
		return TLS_CLIENTHELLO_NOT_TLS;
	body = (size_t)p[6] << 16 | (size_t)p[7] << 8 | p[8];
	if (body > fragment - 4)
		return TLS_CLIENTHELLO_PARSED;	/* split over records: no name (see .h) */
	if (body != fragment - 4)
		/* another message after it in the record: a ClientHello is the
		 * first flight's only one */
		return TLS_CLIENTHELLO_NOT_TLS;
	r.p = p + 9;
	r.end = r.p + body;
	if (client_hello(&r, sni) == -1) {
		sni[0] = '\0';
		return TLS_CLIENTHELLO_NOT_TLS;
	}
	return TLS_CLIENTHELLO_PARSED;
}
