/* tls_server: TLS for clients: context, SNI, ticket keys, live reload (see
 * tls_server.h); its rendering for the admin API is tls_server_render.c. */
#include "tls_server.h"

#include <errno.h>
#include <libgen.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "log.h"
#include "tls_tickets.h"
#include "transport_tls.h"

/* Gives the handshake the certificate for the name the client asked for:
 * the set in use now, so a reload counts from the next ClientHello on (an
 * SSL holds references to what it was given). */
static int on_cert(SSL *ssl, void *arg)
{
	struct tls_server *ts = arg;
	const char *name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
	struct tls_cert *c = tls_certs_pick(&ts->certs, name);

	if (!c)
		return 0;
	if (SSL_use_cert_and_key(ssl, c->leaf, c->key, c->chain, 1) != 1) {
		ERR_clear_error();
		return 0;
	}
	return 1;
}

static int load_tickets(struct tls_server *ts, char *err, size_t errsz)
{
	struct tls_tickets keys;

	if (!ts->ticket_keys)
		return 0;
	if (tls_tickets_load(ts->ticket_keys, &keys, err, errsz) == -1)
		return -1;
	tls_tickets_install(&keys);
	OPENSSL_cleanse(&keys, sizeof(keys));
	return 0;
}

int tls_server_init(struct tls_server *ts, const struct tls_server_options *opts, char *err,
		    size_t errsz)
{
	char why[1024];

	memset(ts, 0, sizeof(*ts));
	ts->watch.fd = -1;
	ts->src.cert = opts->cert;
	ts->src.key = opts->key;
	ts->src.dir = opts->dir;
	ts->src.dir_may_be_empty = opts->dir_may_be_empty;
	ts->ticket_keys = opts->ticket_keys;
	ts->ctx = transport_tls_ctx_new(err, errsz);
	if (!ts->ctx)
		return -1;
	if (tls_certs_load(&ts->certs, &ts->src, NULL, err, errsz) == -1)
		goto fail;
	if (load_tickets(ts, why, sizeof(why)) == -1) {
		snprintf(err, errsz, "--tls-ticket-keys %s", why);
		goto fail;
	}
	if (ts->ticket_keys)
		tls_tickets_attach(ts->ctx);
	if (!opts->resumption) {
		/* every handshake a full one: no tickets (TLS 1.3 would issue
		 * stateful ones from the cache without SSL_OP_NO_TICKET) */
		SSL_CTX_set_options(ts->ctx, SSL_OP_NO_TICKET);
		SSL_CTX_set_num_tickets(ts->ctx, 0);
		SSL_CTX_set_session_cache_mode(ts->ctx, SSL_SESS_CACHE_OFF);
	}
	SSL_CTX_set_cert_cb(ts->ctx, on_cert, ts);
	transport_tls_ctx_alpn_h2(ts->ctx, opts->h2);
	return 0;
fail:
	tls_certs_release(&ts->certs);
	transport_tls_ctx_free(ts->ctx);
	ts->ctx = NULL;
	return -1;
}

static void watch_dir_of(struct tls_server *ts, const char *path)
{
	char copy[1024];

	snprintf(copy, sizeof(copy), "%s", path);
	if (tls_watch_add(&ts->watch, dirname(copy)) == -1)
		log_warn("cannot watch a TLS file's folder: reload it with SIGHUP", "file=%s error=\"%s\"",
			 path, strerror(errno));
}

/* The folders whose changes matter: the flags' files', --tls-dir and its
 * subfolders (one Kubernetes secret each). */
static void watch_all(struct tls_server *ts)
{
	if (ts->src.cert) {
		watch_dir_of(ts, ts->src.cert);
		watch_dir_of(ts, ts->src.key);
	}
	if (ts->ticket_keys)
		watch_dir_of(ts, ts->ticket_keys);
	if (ts->src.dir) {
		if (tls_watch_add(&ts->watch, ts->src.dir) == -1)
			log_warn("cannot watch --tls-dir: reload it with SIGHUP", "dir=%s error=\"%s\"",
				 ts->src.dir, strerror(errno));
		for (size_t i = 0; i < ts->certs.n; i++)
			if (strcmp(ts->certs.items[i]->cert_path + strlen(ts->src.dir),
				   "/tls.crt") != 0)
				watch_dir_of(ts, ts->certs.items[i]->cert_path);
	}
}

static void on_changed(void *data)
{
	tls_server_reload(data);
}

int tls_server_watch(struct tls_server *ts, struct ev_loop *loop, char *err, size_t errsz)
{
	if (tls_watch_start(&ts->watch, loop, on_changed, ts) == -1) {
		snprintf(err, errsz, "cannot watch the TLS files (inotify): %s", strerror(errno));
		return -1;
	}
	watch_all(ts);
	return 0;
}

int tls_server_reload(struct tls_server *ts)
{
	struct tls_certs next;
	char err[1024];
	int rc = 0, bad = tls_certs_load(&next, &ts->src, &ts->certs, err, sizeof(err));

	if (bad == -1) {
		log_error("TLS certificates not reloaded: the ones in use are kept", "error=\"%s\"",
			  err);
		rc = -1;
	} else {
		if (bad > 0)
			rc = -1;
		tls_certs_release(&ts->certs);
		ts->certs = next;
	}
	if (load_tickets(ts, err, sizeof(err)) == -1) {
		log_error("TLS ticket keys not reloaded: the ones in use are kept",
			  "error=\"%s\"", err);
		rc = -1;
	}
	if (ts->watch.fd != -1)
		watch_all(ts);
	ts->reloads++;
	if (rc == -1)
		ts->reload_failures++;
	log_info("TLS certificates reloaded", "certificates=%zu default=%s%s", ts->certs.n,
		 ts->certs.n ? ts->certs.items[0]->cert_path : "-", rc == -1 ? " kept_old=yes" : "");
	return rc;
}

void tls_server_release(struct tls_server *ts)
{
	tls_watch_release(&ts->watch);
	tls_certs_release(&ts->certs);
	transport_tls_ctx_free(ts->ctx);
	ts->ctx = NULL;
}
