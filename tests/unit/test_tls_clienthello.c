/* Unit tests for common/tls_clienthello.c: the SNI of a TLS ClientHello
 * (RFC 8446 section 4.1.2, the record layer of section 5.1; server_name,
 * RFC 6066 section 3), over real ClientHellos and built ones. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "tls_clienthello.h"

/* `openssl s_client -connect 127.0.0.1:PORT -servername www.example.org`
 * (OpenSSL 3.0, TLS 1.3), its first record as a listening socket read it. */
static const unsigned char hello_tls13[] = {
	0x16, 0x03, 0x01, 0x01, 0x3c, 0x01, 0x00, 0x01, 0x38, 0x03, 0x03, 0xd9,
	0x15, 0x89, 0x84, 0xd3, 0x44, 0xbe, 0xc4, 0x1a, 0x7d, 0x2c, 0x40, 0xa9,
	0x47, 0xe7, 0xdb, 0x76, 0x33, 0x8c, 0xf4, 0x73, 0xc1, 0x0a, 0x0a, 0xc7,
	0x6e, 0xd3, 0x5a, 0xfa, 0xbc, 0x75, 0x19, 0x20, 0x56, 0x24, 0x36, 0x59,
	0x29, 0x67, 0x0b, 0x6a, 0xd1, 0x41, 0xed, 0x6b, 0xf8, 0x32, 0xb7, 0x18,
	0x66, 0x67, 0xea, 0x4b, 0x37, 0x87, 0xbd, 0xb3, 0x8a, 0x9d, 0xe0, 0x7d,
	0x02, 0x55, 0x59, 0xd8, 0x00, 0x3e, 0x13, 0x02, 0x13, 0x03, 0x13, 0x01,
	0xc0, 0x2c, 0xc0, 0x30, 0x00, 0x9f, 0xcc, 0xa9, 0xcc, 0xa8, 0xcc, 0xaa,
	0xc0, 0x2b, 0xc0, 0x2f, 0x00, 0x9e, 0xc0, 0x24, 0xc0, 0x28, 0x00, 0x6b,
	0xc0, 0x23, 0xc0, 0x27, 0x00, 0x67, 0xc0, 0x0a, 0xc0, 0x14, 0x00, 0x39,
	0xc0, 0x09, 0xc0, 0x13, 0x00, 0x33, 0x00, 0x9d, 0x00, 0x9c, 0x00, 0x3d,
	0x00, 0x3c, 0x00, 0x35, 0x00, 0x2f, 0x00, 0xff, 0x01, 0x00, 0x00, 0xb1,
	0x00, 0x00, 0x00, 0x14, 0x00, 0x12, 0x00, 0x00, 0x0f, 0x77, 0x77, 0x77,
	0x2e, 0x65, 0x78, 0x61, 0x6d, 0x70, 0x6c, 0x65, 0x2e, 0x6f, 0x72, 0x67,
	0x00, 0x0b, 0x00, 0x04, 0x03, 0x00, 0x01, 0x02, 0x00, 0x0a, 0x00, 0x16,
	0x00, 0x14, 0x00, 0x1d, 0x00, 0x17, 0x00, 0x1e, 0x00, 0x19, 0x00, 0x18,
	0x01, 0x00, 0x01, 0x01, 0x01, 0x02, 0x01, 0x03, 0x01, 0x04, 0x00, 0x23,
	0x00, 0x00, 0x00, 0x16, 0x00, 0x00, 0x00, 0x17, 0x00, 0x00, 0x00, 0x0d,
	0x00, 0x2a, 0x00, 0x28, 0x04, 0x03, 0x05, 0x03, 0x06, 0x03, 0x08, 0x07,
	0x08, 0x08, 0x08, 0x09, 0x08, 0x0a, 0x08, 0x0b, 0x08, 0x04, 0x08, 0x05,
	0x08, 0x06, 0x04, 0x01, 0x05, 0x01, 0x06, 0x01, 0x03, 0x03, 0x03, 0x01,
	0x03, 0x02, 0x04, 0x02, 0x05, 0x02, 0x06, 0x02, 0x00, 0x2b, 0x00, 0x09,
	0x08, 0x03, 0x04, 0x03, 0x03, 0x03, 0x02, 0x03, 0x01, 0x00, 0x2d, 0x00,
	0x02, 0x01, 0x01, 0x00, 0x33, 0x00, 0x26, 0x00, 0x24, 0x00, 0x1d, 0x00,
	0x20, 0x70, 0xed, 0xc3, 0xc9, 0x04, 0x69, 0x8f, 0x2a, 0x39, 0x07, 0x0d,
	0xf2, 0x93, 0x50, 0xf8, 0xc0, 0xf7, 0xec, 0xc9, 0xc9, 0xfc, 0x30, 0xee,
	0x78, 0x06, 0xab, 0x3c, 0x7a, 0x3b, 0x6f, 0x20, 0x7a,
};

/* `openssl s_client ... -servername Example.COM -tls1_2`: a TLS 1.2 hello,
 * the name in mixed case. */
static const unsigned char hello_tls12[] = {
	0x16, 0x03, 0x01, 0x00, 0xcb, 0x01, 0x00, 0x00, 0xc7, 0x03, 0x03, 0xf1,
	0x29, 0x34, 0x2a, 0x20, 0xbf, 0x42, 0xe8, 0xc5, 0x5d, 0xd3, 0x45, 0x3b,
	0x65, 0x23, 0x56, 0x65, 0xfc, 0x6d, 0xc1, 0x9b, 0x25, 0x4d, 0xb5, 0xa0,
	0xa8, 0x38, 0x0b, 0x58, 0x03, 0x5e, 0x2d, 0x00, 0x00, 0x38, 0xc0, 0x2c,
	0xc0, 0x30, 0x00, 0x9f, 0xcc, 0xa9, 0xcc, 0xa8, 0xcc, 0xaa, 0xc0, 0x2b,
	0xc0, 0x2f, 0x00, 0x9e, 0xc0, 0x24, 0xc0, 0x28, 0x00, 0x6b, 0xc0, 0x23,
	0xc0, 0x27, 0x00, 0x67, 0xc0, 0x0a, 0xc0, 0x14, 0x00, 0x39, 0xc0, 0x09,
	0xc0, 0x13, 0x00, 0x33, 0x00, 0x9d, 0x00, 0x9c, 0x00, 0x3d, 0x00, 0x3c,
	0x00, 0x35, 0x00, 0x2f, 0x00, 0xff, 0x01, 0x00, 0x00, 0x66, 0x00, 0x00,
	0x00, 0x10, 0x00, 0x0e, 0x00, 0x00, 0x0b, 0x45, 0x78, 0x61, 0x6d, 0x70,
	0x6c, 0x65, 0x2e, 0x43, 0x4f, 0x4d, 0x00, 0x0b, 0x00, 0x04, 0x03, 0x00,
	0x01, 0x02, 0x00, 0x0a, 0x00, 0x0c, 0x00, 0x0a, 0x00, 0x1d, 0x00, 0x17,
	0x00, 0x1e, 0x00, 0x19, 0x00, 0x18, 0x00, 0x23, 0x00, 0x00, 0x00, 0x16,
	0x00, 0x00, 0x00, 0x17, 0x00, 0x00, 0x00, 0x0d, 0x00, 0x2a, 0x00, 0x28,
	0x04, 0x03, 0x05, 0x03, 0x06, 0x03, 0x08, 0x07, 0x08, 0x08, 0x08, 0x09,
	0x08, 0x0a, 0x08, 0x0b, 0x08, 0x04, 0x08, 0x05, 0x08, 0x06, 0x04, 0x01,
	0x05, 0x01, 0x06, 0x01, 0x03, 0x03, 0x03, 0x01, 0x03, 0x02, 0x04, 0x02,
	0x05, 0x02, 0x06, 0x02,
};

/* A ClientHello built around `exts` (the extensions block's content; NULL:
 * no block at all) into out; returns its length. The record and handshake
 * lengths are computed, unless split_by (the handshake says it is longer by
 * that many bytes, as when it continues in a second record). */
static size_t build(unsigned char *out, const unsigned char *exts, size_t extlen, size_t split_by)
{
	unsigned char *p = out + 9;
	size_t body;

	*p++ = 3, *p++ = 3;			/* legacy_version TLS 1.2 */
	memset(p, 0xab, 32), p += 32;		/* random */
	*p++ = 0;				/* legacy_session_id: empty */
	*p++ = 0, *p++ = 2, *p++ = 0x13, *p++ = 0x01;	/* cipher_suites: one */
	*p++ = 1, *p++ = 0;			/* compression: null */
	if (exts) {
		*p++ = (unsigned char)(extlen >> 8), *p++ = (unsigned char)extlen;
		memcpy(p, exts, extlen), p += extlen;
	}
	body = (size_t)(p - out) - 9;
	out[0] = 22, out[1] = 3, out[2] = 1;
	out[3] = (unsigned char)((body + 4) >> 8), out[4] = (unsigned char)(body + 4);
	out[5] = 1;
	out[6] = (unsigned char)((body + split_by) >> 16);
	out[7] = (unsigned char)((body + split_by) >> 8);
	out[8] = (unsigned char)(body + split_by);
	return (size_t)(p - out);
}

/* A server_name extension naming `name` (type 0, host_name) into out. */
static size_t sni_ext(unsigned char *out, const char *name)
{
	size_t n = strlen(name);

	out[0] = 0, out[1] = 0;					/* extension_type */
	out[2] = (unsigned char)((n + 5) >> 8), out[3] = (unsigned char)(n + 5);
	out[4] = (unsigned char)((n + 3) >> 8), out[5] = (unsigned char)(n + 3);	/* list */
	out[6] = 0;						/* host_name */
	out[7] = (unsigned char)(n >> 8), out[8] = (unsigned char)n;
	memcpy(out + 9, name, n);
	return 9 + n;
}

static void test_real_hellos_name_their_server(void **state)
{
	char sni[TLS_SNI_MAX + 1];
	(void)state;

	assert_int_equal(tls_clienthello_parse(hello_tls13, sizeof(hello_tls13), sni),
			 TLS_CLIENTHELLO_PARSED);
	assert_string_equal(sni, "www.example.org");
	/* host names compare case-insensitively (RFC 6066 section 3): lower case */
	assert_int_equal(tls_clienthello_parse(hello_tls12, sizeof(hello_tls12), sni),
			 TLS_CLIENTHELLO_PARSED);
	assert_string_equal(sni, "example.com");
}

/* The parser is called as bytes come: every prefix says "need more", never
 * "not TLS"; bytes after the record (the client's next flight) change nothing. */
static void test_every_prefix_needs_more(void **state)
{
	unsigned char more[sizeof(hello_tls13) + 64];
	char sni[TLS_SNI_MAX + 1];
	(void)state;

	for (size_t n = 0; n < sizeof(hello_tls13); n++)
		assert_int_equal(tls_clienthello_parse(hello_tls13, n, sni),
				 TLS_CLIENTHELLO_NEED_MORE);
	memcpy(more, hello_tls13, sizeof(hello_tls13));
	memset(more + sizeof(hello_tls13), 0x17, 64);
	assert_int_equal(tls_clienthello_parse(more, sizeof(more), sni), TLS_CLIENTHELLO_PARSED);
	assert_string_equal(sni, "www.example.org");
}

/* Other protocols are told apart from their first byte, not after a wait. */
static void test_plain_text_is_not_tls_at_once(void **state)
{
	static const char *const firsts[] = { "GET / HTTP/1.1\r\n", "SSH-2.0-OpenSSH_9.2\r\n",
					      "\x16\x02", "\x16\x03\x05", "PRI * HTTP/2.0" };
	char sni[TLS_SNI_MAX + 1];
	(void)state;

	for (size_t i = 0; i < sizeof(firsts) / sizeof(firsts[0]); i++)
		assert_int_equal(tls_clienthello_parse((const unsigned char *)firsts[i],
						       strlen(firsts[i]), sni),
				 TLS_CLIENTHELLO_NOT_TLS);
}

/* RFC 8446 section 5.1: a record holds 1 to 2^14 bytes; section 4: the
 * first message is a ClientHello (type 1). */
static void test_record_and_handshake_header(void **state)
{
	unsigned char h[sizeof(hello_tls13)];
	char sni[TLS_SNI_MAX + 1];
	(void)state;

	memcpy(h, hello_tls13, sizeof(h));
	h[3] = 0, h[4] = 0;		/* empty record */
	assert_int_equal(tls_clienthello_parse(h, sizeof(h), sni), TLS_CLIENTHELLO_NOT_TLS);
	h[3] = 0x40, h[4] = 0x01;	/* 16385 bytes: over the limit */
	assert_int_equal(tls_clienthello_parse(h, sizeof(h), sni), TLS_CLIENTHELLO_NOT_TLS);
	h[3] = 0x40, h[4] = 0x00;	/* 16384: allowed, waits for them */
	assert_int_equal(tls_clienthello_parse(h, sizeof(h), sni), TLS_CLIENTHELLO_NEED_MORE);
	memcpy(h, hello_tls13, sizeof(h));
	h[5] = 2;			/* a ServerHello */
	assert_int_equal(tls_clienthello_parse(h, sizeof(h), sni), TLS_CLIENTHELLO_NOT_TLS);
	memcpy(h, hello_tls13, sizeof(h));
	h[0] = 23;			/* application data */
	assert_int_equal(tls_clienthello_parse(h, sizeof(h), sni), TLS_CLIENTHELLO_NOT_TLS);
}

static void test_hello_without_name(void **state)
{
	unsigned char h[512];
	static const unsigned char other[] = { 0x00, 0x17, 0x00, 0x00 };	/* extended_master_secret */
	char sni[TLS_SNI_MAX + 1];
	(void)state;

	/* no extensions block at all (a TLS 1.0 client may send none) */
	assert_int_equal(tls_clienthello_parse(h, build(h, NULL, 0, 0), sni), TLS_CLIENTHELLO_PARSED);
	assert_string_equal(sni, "");
	assert_int_equal(tls_clienthello_parse(h, build(h, other, sizeof(other), 0), sni),
			 TLS_CLIENTHELLO_PARSED);
	assert_string_equal(sni, "");
}

/* One record is read (HAProxy's req.ssl_sni): a hello that continues in a
 * second record is parsed with no name, never waited for. */
static void test_hello_split_over_records_has_no_name(void **state)
{
	unsigned char h[512], ext[64];
	char sni[TLS_SNI_MAX + 1];
	(void)state;

	assert_int_equal(tls_clienthello_parse(h, build(h, ext, sni_ext(ext, "a.example"), 100), sni),
			 TLS_CLIENTHELLO_PARSED);
	assert_string_equal(sni, "");
}

/* What a name may be: a DNS name (RFC 6066 section 3: no trailing dot). */
static void test_host_names(void **state)
{
	static const struct {
		const char *name;
		int result;
		const char *sni;
	} cases[] = {
		{ "db.internal", TLS_CLIENTHELLO_PARSED, "db.internal" },
		{ "A-B_c.Example.NET", TLS_CLIENTHELLO_PARSED, "a-b_c.example.net" },
		{ "example.com.", TLS_CLIENTHELLO_NOT_TLS, "" },
		{ ".example.com", TLS_CLIENTHELLO_NOT_TLS, "" },
		{ "a..b", TLS_CLIENTHELLO_NOT_TLS, "" },
		{ "a b", TLS_CLIENTHELLO_NOT_TLS, "" },
		{ "a\nb", TLS_CLIENTHELLO_NOT_TLS, "" },
		{ "caf\xc3\xa9.fr", TLS_CLIENTHELLO_NOT_TLS, "" },	/* IDNs go as A-labels */
	};
	unsigned char h[1024], ext[512];
	char sni[TLS_SNI_MAX + 1];
	(void)state;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t n = build(h, ext, sni_ext(ext, cases[i].name), 0);

		assert_int_equal(tls_clienthello_parse(h, n, sni), cases[i].result);
		assert_string_equal(sni, cases[i].sni);
	}
}

static void test_longest_name(void **state)
{
	char name[TLS_SNI_MAX + 2], sni[TLS_SNI_MAX + 1];
	unsigned char h[1024], ext[512];
	(void)state;

	memset(name, 'a', sizeof(name));
	name[TLS_SNI_MAX] = '\0';
	assert_int_equal(tls_clienthello_parse(h, build(h, ext, sni_ext(ext, name), 0), sni),
			 TLS_CLIENTHELLO_PARSED);
	assert_string_equal(sni, name);
	name[TLS_SNI_MAX] = 'a', name[TLS_SNI_MAX + 1] = '\0';
	assert_int_equal(tls_clienthello_parse(h, build(h, ext, sni_ext(ext, name), 0), sni),
			 TLS_CLIENTHELLO_NOT_TLS);
}

/* RFC 8446 section 4.2: one extension of a type; two names would route two ways. */
static void test_two_server_names_are_malformed(void **state)
{
	unsigned char h[512], ext[128];
	size_t n;
	char sni[TLS_SNI_MAX + 1];
	(void)state;

	n = sni_ext(ext, "a.example");
	n += sni_ext(ext + n, "b.example");
	assert_int_equal(tls_clienthello_parse(h, build(h, ext, n, 0), sni), TLS_CLIENTHELLO_NOT_TLS);
	assert_string_equal(sni, "");
}

/* Lengths that point past what encloses them: every field's. */
static void test_lengths_past_their_container(void **state)
{
	unsigned char h[512], ext[64];
	size_t n, e;
	char sni[TLS_SNI_MAX + 1];
	/* offsets in the built hello: session id, cipher suites, compression,
	 * extensions, then the server_name extension's own lengths */
	static const size_t at[] = { 43, 44, 48, 50, 54, 56, 59 };
	(void)state;

	e = sni_ext(ext, "a.example");
	for (size_t i = 0; i < sizeof(at) / sizeof(at[0]); i++) {
		n = build(h, ext, e, 0);
		h[at[i]] = 0x7f;
		assert_int_equal(tls_clienthello_parse(h, n, sni), TLS_CLIENTHELLO_NOT_TLS);
		assert_string_equal(sni, "");
	}
}

/* Any byte of a real hello set to 0x00 or 0xff: an answer of the three,
 * never a read past the record (ASan in the unit run), a name within
 * bounds. */
static void test_hostile_bytes(void **state)
{
	unsigned char h[sizeof(hello_tls13)];
	char sni[TLS_SNI_MAX + 1];
	static const unsigned char values[] = { 0x00, 0xff, 0x01, 0x80 };
	(void)state;

	for (size_t i = 0; i < sizeof(h); i++)
		for (size_t v = 0; v < sizeof(values); v++) {
			int r;

			memcpy(h, hello_tls13, sizeof(h));
			h[i] = values[v];
			r = tls_clienthello_parse(h, sizeof(h), sni);
			assert_true(r == TLS_CLIENTHELLO_PARSED || r == TLS_CLIENTHELLO_NOT_TLS ||
				    r == TLS_CLIENTHELLO_NEED_MORE);
			assert_true(strlen(sni) <= TLS_SNI_MAX);
			if (r != TLS_CLIENTHELLO_PARSED)
				assert_string_equal(sni, "");
		}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_real_hellos_name_their_server),
		cmocka_unit_test(test_every_prefix_needs_more),
		cmocka_unit_test(test_plain_text_is_not_tls_at_once),
		cmocka_unit_test(test_record_and_handshake_header),
		cmocka_unit_test(test_hello_without_name),
		cmocka_unit_test(test_hello_split_over_records_has_no_name),
		cmocka_unit_test(test_host_names),
		cmocka_unit_test(test_longest_name),
		cmocka_unit_test(test_two_server_names_are_malformed),
		cmocka_unit_test(test_lengths_past_their_container),
		cmocka_unit_test(test_hostile_bytes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
