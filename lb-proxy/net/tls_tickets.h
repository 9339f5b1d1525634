/* tls_tickets: session ticket keys shared by a fleet (--tls-ticket-keys FILE,
 * HAProxy's format), so each proxy resumes the others' sessions. */
#ifndef LB_PROXY_TLS_TICKETS_H
#define LB_PROXY_TLS_TICKETS_H

#include <stddef.h>

/* Keys a file may hold; each line is one key, base64 of 48 bytes (a 16-byte
 * name, an AES-128 key, a 16-byte HMAC key) or 80 bytes (name, AES-256 key,
 * 32-byte HMAC key). */
#define TLS_TICKET_KEYS_MAX 16
#define TLS_TICKET_NAME_LEN 16

struct tls_ticket_key {
	unsigned char name[TLS_TICKET_NAME_LEN];
	unsigned char aes[32];
	unsigned char hmac[32];
	size_t aes_len, hmac_len;	/* 16 or 32 each */
};

/* The keys of one file: keys[0] encrypts new tickets, all decrypt. */
struct tls_tickets {
	struct tls_ticket_key keys[TLS_TICKET_KEYS_MAX];
	size_t n;
};

/* Parses the text of a keys file (blank lines and lines starting with '#'
 * are skipped). Returns 0, or -1 with err "line N: problem". */
int tls_tickets_parse(const char *text, size_t len, struct tls_tickets *out, char *err,
		      size_t errsz);
/* Reads and parses path; -1 with err "PATH: problem". */
int tls_tickets_load(const char *path, struct tls_tickets *out, char *err, size_t errsz);

struct ssl_ctx_st;
/* Makes ctx encrypt and decrypt tickets with the installed keys (see
 * tls_tickets_install). */
void tls_tickets_attach(struct ssl_ctx_st *ctx);
/* Makes `keys` (copied) the keys every attached context uses from now on:
 * tickets issued under a key still in the file keep resuming. */
void tls_tickets_install(const struct tls_tickets *keys);

#endif
