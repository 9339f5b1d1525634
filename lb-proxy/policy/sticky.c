/* sticky: session persistence with an inserted cookie (see sticky.h). */
#include "sticky.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <string.h>

static char cookie_name[64];
static char secret[256];
/* Without --sticky-secret: one random key for the process's life, kept
 * across reloads (its cookies stay valid), never the empty key whose
 * cookies anyone can map back to addresses. */
static char random_secret[2 * 32 + 1];

int sticky_setup(const char *cookie, const char *key)
{
	int random = !key || !*key;

	/* Only for a cookie: RAND_bytes starts OpenSSL's providers and random
	 * generator, 3 MiB of RSS a proxy without TLS or cookies never needs. */
	if (random && cookie && *cookie && !random_secret[0]) {
		static const char hex[] = "0123456789abcdef";
		unsigned char bytes[32];

		if (RAND_bytes(bytes, sizeof(bytes)) != 1)
			return -1;
		for (size_t i = 0; i < sizeof(bytes); i++) {
			random_secret[2 * i] = hex[bytes[i] >> 4];
			random_secret[2 * i + 1] = hex[bytes[i] & 15];
		}
	}
	snprintf(cookie_name, sizeof(cookie_name), "%s", cookie ? cookie : "");
	snprintf(secret, sizeof(secret), "%s", random ? random_secret : key);
	return random;
}

const char *sticky_cookie(void)
{
	return cookie_name[0] ? cookie_name : NULL;
}

const char *sticky_id(struct backend *b)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned mdlen = 0;

	if (b->sticky_id[0])
		return b->sticky_id;
	HMAC(EVP_sha256(), secret, (int)strlen(secret), (const unsigned char *)b->name,
	     strlen(b->name), md, &mdlen);
	for (int i = 0; i < STICKY_ID_LEN / 2; i++) {
		b->sticky_id[2 * i] = hex[md[i] >> 4];
		b->sticky_id[2 * i + 1] = hex[md[i] & 15];
	}
	b->sticky_id[STICKY_ID_LEN] = '\0';
	return b->sticky_id;
}

struct backend *sticky_find(const struct backend_set *set, const char *v, size_t n)
{
	if (n != STICKY_ID_LEN)
		return NULL;
	for (size_t i = 0; i < set->n; i++)
		if (memcmp(sticky_id(set->items[i]), v, STICKY_ID_LEN) == 0)
			return set->items[i];
	return NULL;
}
