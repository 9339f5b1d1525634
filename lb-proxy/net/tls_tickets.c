/* tls_tickets: session ticket keys from --tls-ticket-keys (see tls_tickets.h). */
#include "tls_tickets.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>

/* The keys in use (one process, one set: contexts share them). */
static struct tls_tickets current;

/* Decodes one base64 line into out; its length, or -1. */
static int decode_line(const char *s, size_t n, unsigned char *out, size_t outsz)
{
	unsigned char tmp[128];
	int len, pad = 0;

	if (n == 0 || n % 4 || n / 4 * 3 > sizeof(tmp))
		return -1;
	len = EVP_DecodeBlock(tmp, (const unsigned char *)s, (int)n);
	if (len < 0)
		return -1;
	if (s[n - 1] == '=')
		pad++;
	if (n > 1 && s[n - 2] == '=')
		pad++;
	len -= pad;
	if (len < 0 || (size_t)len > outsz)
		return -1;
	memcpy(out, tmp, (size_t)len);
	return len;
}

int tls_tickets_parse(const char *text, size_t len, struct tls_tickets *out, char *err,
		      size_t errsz)
{
	const char *p = text, *end = text + len;
	unsigned line = 0;

	memset(out, 0, sizeof(*out));
	while (p < end) {
		const char *eol = memchr(p, '\n', (size_t)(end - p)), *stop = eol ? eol : end;
		const char *a = p, *b = stop;
		unsigned char raw[80];
		int n;

		line++;
		p = eol ? eol + 1 : end;
		while (a < b && (*a == ' ' || *a == '\t'))
			a++;
		while (b > a && (b[-1] == ' ' || b[-1] == '\t' || b[-1] == '\r'))
			b--;
		if (a == b || *a == '#')
			continue;
		n = decode_line(a, (size_t)(b - a), raw, sizeof(raw));
		if (n != 48 && n != 80) {
			snprintf(err, errsz, "line %u: not a key: base64 of 48 or 80 bytes (openssl "
					     "rand 80 | openssl base64 -A)", line);
			return -1;
		}
		if (out->n == TLS_TICKET_KEYS_MAX) {
			snprintf(err, errsz, "line %u: more than %d keys", line, TLS_TICKET_KEYS_MAX);
			return -1;
		}
		struct tls_ticket_key *k = &out->keys[out->n++];
		size_t half = n == 48 ? 16 : 32;

		memcpy(k->name, raw, TLS_TICKET_NAME_LEN);
		memcpy(k->aes, raw + 16, half);
		memcpy(k->hmac, raw + 16 + half, half);
		k->aes_len = k->hmac_len = half;
	}
	if (out->n == 0) {
		snprintf(err, errsz, "no key in it");
		return -1;
	}
	return 0;
}

int tls_tickets_load(const char *path, struct tls_tickets *out, char *err, size_t errsz)
{
	char text[TLS_TICKET_KEYS_MAX * 128], why[256];
	FILE *f = fopen(path, "r");
	size_t n;

	if (!f) {
		snprintf(err, errsz, "%s: cannot read it: %s", path, strerror(errno));
		return -1;
	}
	n = fread(text, 1, sizeof(text), f);
	if (n == sizeof(text)) {
		fclose(f);
		snprintf(err, errsz, "%s: too large for %d keys", path, TLS_TICKET_KEYS_MAX);
		return -1;
	}
	fclose(f);
	if (tls_tickets_parse(text, n, out, why, sizeof(why)) == -1) {
		snprintf(err, errsz, "%s: %s", path, why);
		OPENSSL_cleanse(text, sizeof(text));
		return -1;
	}
	OPENSSL_cleanse(text, sizeof(text));
	return 0;
}

static int set_hmac(EVP_MAC_CTX *hctx, const struct tls_ticket_key *k)
{
	OSSL_PARAM params[3];

	params[0] = OSSL_PARAM_construct_octet_string(OSSL_MAC_PARAM_KEY, (void *)k->hmac,
						      k->hmac_len);
	params[1] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, "SHA256", 0);
	params[2] = OSSL_PARAM_construct_end();
	return EVP_MAC_CTX_set_params(hctx, params) == 1 ? 0 : -1;
}

static const EVP_CIPHER *cipher_of(const struct tls_ticket_key *k)
{
	return k->aes_len == 32 ? EVP_aes_256_cbc() : EVP_aes_128_cbc();
}

/* OpenSSL's ticket callback: 1 done, 2 decrypted with an old key (a new
 * ticket is issued), 0 unknown key (a full handshake), -1 error. */
static int ticket_cb(SSL *ssl, unsigned char key_name[16], unsigned char *iv,
		     EVP_CIPHER_CTX *cctx, EVP_MAC_CTX *hctx, int enc)
{
	(void)ssl;
	if (current.n == 0)
		return enc ? -1 : 0;
	if (enc) {
		const struct tls_ticket_key *k = &current.keys[0];

		if (RAND_bytes(iv, EVP_CIPHER_get_iv_length(cipher_of(k))) != 1)
			return -1;
		memcpy(key_name, k->name, TLS_TICKET_NAME_LEN);
		if (EVP_EncryptInit_ex(cctx, cipher_of(k), NULL, k->aes, iv) != 1 ||
		    set_hmac(hctx, k) == -1)
			return -1;
		return 1;
	}
	for (size_t i = 0; i < current.n; i++) {
		const struct tls_ticket_key *k = &current.keys[i];

		if (memcmp(key_name, k->name, TLS_TICKET_NAME_LEN) != 0)
			continue;
		if (set_hmac(hctx, k) == -1 ||
		    EVP_DecryptInit_ex(cctx, cipher_of(k), NULL, k->aes, iv) != 1)
			return -1;
		return i == 0 ? 1 : 2;
	}
	return 0;
}

void tls_tickets_attach(struct ssl_ctx_st *ctx)
{
	SSL_CTX_set_tlsext_ticket_key_evp_cb(ctx, ticket_cb);
}

void tls_tickets_install(const struct tls_tickets *keys)
{
	OPENSSL_cleanse(&current, sizeof(current));
	current = *keys;
}
