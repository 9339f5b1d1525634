/* transport_tls: TLS over a socket with OpenSSL, non-blocking: every call
 * returns at once, and SSL_ERROR_WANT_READ/WANT_WRITE become EAGAIN with the
 * direction to wait for in the transport (see transport.h). */
#include "transport_tls.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "log.h"

/* Mozilla's "intermediate" configuration (TLS 1.2 ciphers; TLS 1.3 keeps
 * OpenSSL's suites, which are the same three). */
#define TLS12_CIPHERS                                                                        \
	"ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"                         \
	"ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"                         \
	"ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:"                         \
	"DHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES256-GCM-SHA384:DHE-RSA-CHACHA20-POLY1305"
#define TLS_GROUPS "X25519:prime256v1:secp384r1"
/* Largest TLS record payload: what one writev is gathered into. */
#define TLS_RECORD_MAX 16384

static const unsigned char alpn_http11[] = "\x08http/1.1";
/* --h2: the server's preference, h2 first (RFC 7301: the server picks). */
static const unsigned char alpn_h2_http11[] = "\x02h2\x08http/1.1";
static int alpn_h2_on = 1, alpn_h2_off = 0;

/* ---- the context ------------------------------------------------------- */

static int alpn_select(SSL *ssl, const unsigned char **out, unsigned char *outlen,
		       const unsigned char *in, unsigned int inlen, void *arg)
{
	unsigned char *selected;
	int h2 = arg && *(const int *)arg;
	(void)ssl;

	if (SSL_select_next_proto(&selected, outlen, h2 ? alpn_h2_http11 : alpn_http11,
				  h2 ? sizeof(alpn_h2_http11) - 1 : sizeof(alpn_http11) - 1, in,
				  inlen) != OPENSSL_NPN_NEGOTIATED)
		return SSL_TLSEXT_ERR_ALERT_FATAL;	/* as nginx: no protocol in common */
	*out = selected;
	return SSL_TLSEXT_ERR_OK;
}

static const char *openssl_reason(void)
{
	const char *r = ERR_reason_error_string(ERR_peek_last_error());

	return r ? r : "unknown error";
}

struct transport_tls_stats transport_tls_stats;

/* What both sides share: TLS 1.2 and 1.3, Mozilla's ciphers and groups. */
static int ctx_common(SSL_CTX *ctx, char *err, size_t errsz)
{
	if (SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1 ||
	    SSL_CTX_set_cipher_list(ctx, TLS12_CIPHERS) != 1 ||
	    SSL_CTX_set1_groups_list(ctx, TLS_GROUPS) != 1) {
		snprintf(err, errsz, "cannot configure TLS (%s)", openssl_reason());
		return -1;
	}
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_IGNORE_UNEXPECTED_EOF |
					 SSL_OP_NO_COMPRESSION);
	/* Partial writes and a buffer that moves (relay compacts its buffers);
	 * buffers are given back while a connection idles. */
	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
				      SSL_MODE_RELEASE_BUFFERS);
	/* Read what the kernel has in one go: fewer read syscalls; what is left
	 * in OpenSSL's buffer shows in the transport's `pending`. */
	SSL_CTX_set_read_ahead(ctx, 1);
	return 0;
}

struct ssl_ctx_st *transport_tls_ctx_new(char *err, size_t errsz)
{
	static const unsigned char sid_ctx[] = "lb-proxy";
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());

	err[0] = 0;
	if (!ctx) {
		snprintf(err, errsz, "cannot make a TLS context (%s)", openssl_reason());
		return NULL;
	}
	if (ctx_common(ctx, err, errsz) == -1 || SSL_CTX_set_dh_auto(ctx, 1) != 1) {
		if (!err[0])
			snprintf(err, errsz, "cannot configure TLS (%s)", openssl_reason());
		goto fail;
	}
	SSL_CTX_set_session_id_context(ctx, sid_ctx, sizeof(sid_ctx) - 1);
	SSL_CTX_set_alpn_select_cb(ctx, alpn_select, NULL);
	ERR_clear_error();
	return ctx;
fail:
	ERR_clear_error();
	SSL_CTX_free(ctx);
	return NULL;
}

/* A new session from a backend (a TLS 1.3 ticket comes after the handshake):
 * kept in the slot the connection was given, for the next connection. */
static int client_new_session(SSL *ssl, SSL_SESSION *sess)
{
	void **slot = SSL_get_app_data(ssl);

	if (!slot)
		return 0;
	if (*slot)
		SSL_SESSION_free(*slot);
	*slot = sess;
	return 1;
}

struct ssl_ctx_st *transport_tls_client_ctx_new(const char *ca, int verify, char *err,
						size_t errsz)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());

	err[0] = 0;
	if (!ctx) {
		snprintf(err, errsz, "cannot make a TLS context (%s)", openssl_reason());
		return NULL;
	}
	if (ctx_common(ctx, err, errsz) == -1)
		goto fail;
	if (ca && SSL_CTX_load_verify_locations(ctx, ca, NULL) != 1) {
		snprintf(err, errsz, "--backend-ca %s: not a readable PEM file of CA certificates "
				     "(%s)", ca, openssl_reason());
		goto fail;
	}
	if (!ca && SSL_CTX_set_default_verify_paths(ctx) != 1) {
		snprintf(err, errsz, "cannot load the system's CA certificates (%s)",
			 openssl_reason());
		goto fail;
	}
	SSL_CTX_set_verify(ctx, verify ? SSL_VERIFY_PEER : SSL_VERIFY_NONE, NULL);
	if (SSL_CTX_set_alpn_protos(ctx, alpn_http11, sizeof(alpn_http11) - 1) != 0) {
		snprintf(err, errsz, "cannot configure TLS (%s)", openssl_reason());
		goto fail;
	}
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
	SSL_CTX_sess_set_new_cb(ctx, client_new_session);
	ERR_clear_error();
	return ctx;
fail:
	ERR_clear_error();
	SSL_CTX_free(ctx);
	return NULL;
}

void transport_tls_session_free(void *session)
{
	SSL_SESSION_free(session);
}

void transport_tls_ctx_free(struct ssl_ctx_st *ctx)
{
	SSL_CTX_free(ctx);
}

/* ---- one connection ------------------------------------------------------ */

/* Maps a failed SSL call (rc <= 0) to the transport's convention: -1 with
 * EAGAIN and *want set, 0 at the peer's end, or -1 with errno. */
static ssize_t tls_result(struct transport *t, int rc, enum transport_want *want)
{
	int e = SSL_get_error(t->ssl, rc);

	switch (e) {
	case SSL_ERROR_WANT_READ:
		*want = TRANSPORT_WANT_READ;
		errno = EAGAIN;
		return -1;
	case SSL_ERROR_WANT_WRITE:
		*want = TRANSPORT_WANT_WRITE;
		errno = EAGAIN;
		return -1;
	case SSL_ERROR_ZERO_RETURN:
		return 0;
	case SSL_ERROR_SYSCALL:
		t->failed = 1;
		ERR_clear_error();
		if (errno == 0 || errno == EAGAIN)
			errno = ECONNRESET;
		return -1;
	default:
		t->failed = 1;
		if (ERR_GET_REASON(ERR_peek_error()) == SSL_R_HTTP_REQUEST)
			t->plain_http = 1;
		ERR_clear_error();
		errno = EPROTO;
		return -1;
	}
}

/* Reads what OpenSSL can give without waiting: records it has buffered are
 * decrypted in the same call (no syscall), the kernel is asked once. */
static ssize_t tls_read(struct transport *t, void *buf, size_t len)
{
	size_t got = 0;

	t->read_want = TRANSPORT_WANT_NONE;
	t->read_more = 0;
	while (got < len) {
		size_t ask = len - got > INT_MAX ? INT_MAX : len - got;
		int n = SSL_read(t->ssl, (char *)buf + got, (int)ask);

		if (n <= 0) {
			ssize_t rc = tls_result(t, n, &t->read_want);

			/* What came first is returned; an error shows on the next
			 * call, EAGAIN is signalled again by the fd, but the end
			 * (a close_notify) may come with no FIN: `pending` says it. */
			if (got && rc == 0)
				t->read_more = 1;
			return got ? (ssize_t)got : rc;
		}
		got += (size_t)n;
		if (!SSL_has_pending(t->ssl))
			return (ssize_t)got;
	}
	/* The room is full and OpenSSL holds more: only `pending` tells. */
	t->read_more = 1;
	return (ssize_t)got;
}

static ssize_t tls_write(struct transport *t, const void *buf, size_t len)
{
	int n = SSL_write(t->ssl, buf, len > INT_MAX ? INT_MAX : (int)len);
	ssize_t rc;

	if (n > 0)
		return n;
	rc = tls_result(t, n, &t->write_want);
	/* The peer's close_notify ends its side: a write can never go out
	 * (a 0 here would read as "nothing written, try again" forever). */
	if (rc == 0) {
		t->failed = 1;
		errno = EPIPE;
		return -1;
	}
	return rc;
}

/*
 * Several small pieces (a head and the start of a body) are gathered into
 * one record. A write OpenSSL could not finish must be retried with at least
 * the bytes it was given, which holds as the caller offers the unsent bytes
 * of one stream in order (relay.c): the same prefix, perhaps longer, moved.
 */
static ssize_t tls_writev(struct transport *t, const struct iovec *iov, int n)
{
	static char gather[TLS_RECORD_MAX];
	size_t total = 0;

	t->write_want = TRANSPORT_WANT_NONE;
	if (n > 1 && iov[0].iov_len < sizeof(gather)) {
		size_t len = 0;

		for (int i = 0; i < n && len < sizeof(gather); i++) {
			size_t take = iov[i].iov_len;

			if (take > sizeof(gather) - len)
				take = sizeof(gather) - len;
			memcpy(gather + len, iov[i].iov_base, take);
			len += take;
		}
		return tls_write(t, gather, len);
	}
	for (int i = 0; i < n; i++) {
		ssize_t w = tls_write(t, iov[i].iov_base, iov[i].iov_len);

		if (w < 0)
			return total ? (ssize_t)total : w;
		total += (size_t)w;
		if ((size_t)w < iov[i].iov_len)
			break;
	}
	return (ssize_t)total;
}

/* A close_notify, unless the connection failed (OpenSSL forbids it then). */
static void send_close_notify(struct transport *t)
{
	if (t->handshake_done && !t->failed && !(SSL_get_shutdown(t->ssl) & SSL_SENT_SHUTDOWN))
		SSL_shutdown(t->ssl);
	ERR_clear_error();
}

static void tls_shutdown_write(struct transport *t)
{
	send_close_notify(t);
	shutdown(t->fd, SHUT_WR);
}

static void tls_close(struct transport *t)
{
	send_close_notify(t);
	SSL_free(t->ssl);
	t->ssl = NULL;
	close(t->fd);
}

/* Only after a read that stopped for want of room (or before the end it
 * saw): a partial record in OpenSSL's buffer waits for the kernel like any
 * other byte. */
static size_t tls_pending(const struct transport *t)
{
	int n;

	if (!t->read_more)
		return 0;
	n = SSL_pending(t->ssl);
	return n > 0 ? (size_t)n : 1;
}

static const struct transport_ops tls_ops = {
	.name = "tls",
	.read = tls_read,
	.writev = tls_writev,
	.shutdown_write = tls_shutdown_write,
	.close = tls_close,
	.pending = tls_pending,
};

int transport_tls_accept(struct transport *t, struct ssl_ctx_st *ctx, int fd)
{
	SSL *ssl = SSL_new(ctx);

	if (!ssl || SSL_set_fd(ssl, fd) != 1) {
		SSL_free(ssl);
		ERR_clear_error();
		return -1;
	}
	SSL_set_accept_state(ssl);
	t->ops = &tls_ops;
	t->fd = fd;
	t->ssl = ssl;
	t->read_want = t->write_want = TRANSPORT_WANT_NONE;
	t->handshake_done = t->failed = t->plain_http = t->read_more = t->connect_side = 0;
	return 0;
}

int transport_tls_connect(struct transport *t, struct ssl_ctx_st *ctx, int fd,
			  const char *sni, const char *verify_name, const char *verify_ip,
			  void **session_slot)
{
	SSL *ssl = SSL_new(ctx);
	X509_VERIFY_PARAM *param;

	if (!ssl || SSL_set_fd(ssl, fd) != 1)
		goto fail;
	param = SSL_get0_param(ssl);
	if ((sni && SSL_set_tlsext_host_name(ssl, sni) != 1) ||
	    (verify_name && X509_VERIFY_PARAM_set1_host(param, verify_name, 0) != 1) ||
	    (!verify_name && verify_ip && X509_VERIFY_PARAM_set1_ip_asc(param, verify_ip) != 1))
		goto fail;
	if (session_slot) {
		SSL_set_app_data(ssl, session_slot);
		if (*session_slot)
			SSL_set_session(ssl, *session_slot);
	}
	SSL_set_connect_state(ssl);
	t->ops = &tls_ops;
	t->fd = fd;
	t->ssl = ssl;
	t->read_want = t->write_want = TRANSPORT_WANT_NONE;
	t->handshake_done = t->failed = t->plain_http = t->read_more = 0;
	t->connect_side = 1;
	return 0;
fail:
	SSL_free(ssl);
	ERR_clear_error();
	return -1;
}

/* Why the last handshake failed, for the log. */
static char last_error[160];

const char *transport_tls_last_error(void)
{
	return last_error[0] ? last_error : "TLS handshake failed";
}

static int version_index(const SSL *ssl)
{
	int v = SSL_version(ssl);

	return v == TLS1_3_VERSION ? TRANSPORT_TLS_V13 : v == TLS1_2_VERSION ? TRANSPORT_TLS_V12
									 : TRANSPORT_TLS_VOTHER;
}

int transport_tls_handshake(struct transport *t)
{
	int rc = SSL_do_handshake(t->ssl);
	unsigned long long(*count)[TRANSPORT_TLS_OUTCOMES] =
		transport_tls_stats.handshakes[t->connect_side];

	t->read_want = TRANSPORT_WANT_NONE;
	if (rc == 1) {
		t->handshake_done = 1;
		count[version_index(t->ssl)][SSL_session_reused(t->ssl) ? TRANSPORT_TLS_RESUMED
									: TRANSPORT_TLS_FULL]++;
		return 1;
	}
	last_error[0] = 0;
	if (t->connect_side && SSL_get_verify_result(t->ssl) != X509_V_OK)
		snprintf(last_error, sizeof(last_error), "certificate verify failed: %s",
			 X509_verify_cert_error_string(SSL_get_verify_result(t->ssl)));
	else if (ERR_peek_error())
		snprintf(last_error, sizeof(last_error), "%s", openssl_reason());
	if (tls_result(t, rc, &t->read_want) == -1 && errno == EAGAIN)
		return 0;
	t->failed = 1;
	count[version_index(t->ssl)][TRANSPORT_TLS_FAILED]++;
	return -1;
}

int transport_tls_idle_check(struct transport *t)
{
	char c;
	int n = SSL_read(t->ssl, &c, 1);
	int e = SSL_get_error(t->ssl, n);

	ERR_clear_error();
	return n <= 0 && e == SSL_ERROR_WANT_READ ? 0 : -1;
}

void transport_tls_to_plain(struct transport *t)
{
	int fd = t->fd;

	SSL_free(t->ssl);
	transport_plain_init(t, fd);
}

void transport_tls_ctx_alpn_h2(struct ssl_ctx_st *ctx, int on)
{
	SSL_CTX_set_alpn_select_cb(ctx, alpn_select, on ? &alpn_h2_on : &alpn_h2_off);
}

int transport_tls_ctx_offer_h2(struct ssl_ctx_st *ctx)
{
	static const unsigned char alpn_h2[] = "\x02h2";

	return SSL_CTX_set_alpn_protos(ctx, alpn_h2, sizeof(alpn_h2) - 1) == 0 ? 0 : -1;
}

int transport_tls_alpn_h2(const struct transport *t)
{
	const unsigned char *p = NULL;
	unsigned int n = 0;

	if (t->ops != &tls_ops || !t->ssl)
		return 0;
	SSL_get0_alpn_selected(t->ssl, &p, &n);
	return n == 2 && memcmp(p, "h2", 2) == 0;
}

const char *transport_tls_version(const struct transport *t)
{
	if (t->over_tls)
		return t->tls_version;
	if (t->ops != &tls_ops || !t->handshake_done)
		return NULL;
	return SSL_version(t->ssl) == TLS1_3_VERSION ? "1.3" : "1.2";
}
