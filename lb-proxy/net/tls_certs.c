/* tls_certs: the certificates lb-proxy serves to clients, chosen by SNI
 * (see tls_certs.h). */
#include "tls_certs.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "log.h"

/* A pair to load: its files, and how a message names them. */
struct pair {
	char cert[1024], key[1024];
	const char *cert_label, *key_label;	/* "--tls-cert " or "" */
};

/* A message into err, cut to fit. */
static void say(char *err, size_t errsz, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void say(char *err, size_t errsz, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errsz, fmt, ap);
	va_end(ap);
}

/* A path into out; -1 when it does not fit. */
static int path_fmt(char *out, size_t outsz, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int path_fmt(char *out, size_t outsz, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(out, outsz, fmt, ap);
	va_end(ap);
	return n < 0 || (size_t)n >= outsz ? -1 : 0;
}

static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
	(void)buf;
	(void)size;
	(void)rwflag;
	(void)u;
	return -1;
}

static const char *openssl_reason(void)
{
	const char *r = ERR_reason_error_string(ERR_peek_last_error());

	return r ? r : "unknown error";
}

static void cert_free(struct tls_cert *c)
{
	for (size_t i = 0; i < c->nnames; i++)
		free(c->names[i]);
	X509_free(c->leaf);
	sk_X509_pop_free(c->chain, X509_free);
	EVP_PKEY_free(c->key);
	free(c->cert_path);
	free(c->key_path);
	free(c);
}

static void cert_unref(struct tls_cert *c)
{
	if (c && --c->refs == 0)
		cert_free(c);
}

static int add_name(struct tls_cert *c, const char *s, size_t n)
{
	char *name;

	if (c->nnames == TLS_CERT_NAMES_MAX || n == 0)
		return 0;
	name = strndup(s, n);
	if (!name)
		return -1;
	for (char *p = name; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	c->names[c->nnames++] = name;
	return 0;
}

/* Its subjectAltName DNS entries, else its common name (RFC 6125 6.4.4). */
static int collect_names(struct tls_cert *c)
{
	GENERAL_NAMES *sans = X509_get_ext_d2i(c->leaf, NID_subject_alt_name, NULL, NULL);
	int rc = 0;

	for (int i = 0; sans && i < sk_GENERAL_NAME_num(sans); i++) {
		const GENERAL_NAME *g = sk_GENERAL_NAME_value(sans, i);

		if (g->type == GEN_DNS &&
		    add_name(c, (const char *)ASN1_STRING_get0_data(g->d.dNSName),
			     (size_t)ASN1_STRING_length(g->d.dNSName)) == -1)
			rc = -1;
	}
	GENERAL_NAMES_free(sans);
	if (c->nnames == 0) {
		char cn[256];
		int n = X509_NAME_get_text_by_NID(X509_get_subject_name(c->leaf), NID_commonName, cn,
						  sizeof(cn));

		if (n > 0 && add_name(c, cn, (size_t)n) == -1)
			rc = -1;
	}
	return rc;
}

/* Reads the leaf and the chain after it; 0 or -1 with err set. */
static int read_cert(struct tls_cert *c, const struct pair *p, char *err, size_t errsz)
{
	FILE *f = fopen(p->cert, "r");
	X509 *x;

	if (!f) {
		say(err, errsz, "%s%s: cannot read it: %s", p->cert_label, p->cert,
			 strerror(errno));
		return -1;
	}
	c->leaf = PEM_read_X509(f, NULL, no_passphrase, NULL);
	if (!c->leaf) {
		say(err, errsz, "%s%s: not a PEM certificate (%s)", p->cert_label, p->cert,
			 openssl_reason());
		fclose(f);
		return -1;
	}
	while ((x = PEM_read_X509(f, NULL, no_passphrase, NULL)) != NULL) {
		if (!c->chain)
			c->chain = sk_X509_new_null();
		if (!c->chain || !sk_X509_push(c->chain, x)) {
			X509_free(x);
			say(err, errsz, "%s%s: out of memory", p->cert_label, p->cert);
			fclose(f);
			return -1;
		}
	}
	fclose(f);
	if (ERR_GET_REASON(ERR_peek_last_error()) != PEM_R_NO_START_LINE) {
		say(err, errsz, "%s%s: not a PEM certificate chain (%s)", p->cert_label, p->cert,
			 openssl_reason());
		return -1;
	}
	ERR_clear_error();
	return 0;
}

static int read_key(struct tls_cert *c, const struct pair *p, char *err, size_t errsz)
{
	FILE *f = fopen(p->key, "r");

	if (!f) {
		say(err, errsz, "%s%s: cannot read it: %s", p->key_label, p->key,
			 strerror(errno));
		return -1;
	}
	c->key = PEM_read_PrivateKey(f, NULL, no_passphrase, NULL);
	fclose(f);
	if (!c->key) {
		say(err, errsz, "%s%s: not a PEM private key, or an encrypted one (%s)",
			 p->key_label, p->key, openssl_reason());
		return -1;
	}
	if (X509_check_private_key(c->leaf, c->key) != 1) {
		say(err, errsz, "%s%s: the key does not match the certificate in %s",
			 p->key_label, p->key, p->cert);
		return -1;
	}
	return 0;
}

/* Loads one pair; NULL with err set. An expired (or not yet valid)
 * certificate fails when `refuse_expired`, else it is logged. */
static struct tls_cert *cert_load(const struct pair *p, int refuse_expired, char *err,
				  size_t errsz)
{
	struct tls_cert *c = calloc(1, sizeof(*c));
	struct tm tm;
	int expired, early;

	if (!c) {
		say(err, errsz, "%s: out of memory", p->cert);
		return NULL;
	}
	c->refs = 1;
	if (read_cert(c, p, err, errsz) == -1 || read_key(c, p, err, errsz) == -1)
		goto fail;
	c->cert_path = strdup(p->cert);
	c->key_path = strdup(p->key);
	if (!c->cert_path || !c->key_path || collect_names(c) == -1) {
		say(err, errsz, "%s: out of memory", p->cert);
		goto fail;
	}
	X509_NAME_oneline(X509_get_subject_name(c->leaf), c->subject, sizeof(c->subject));
	if (c->subject[0] == '/')
		memmove(c->subject, c->subject + 1, strlen(c->subject));
	if (ASN1_TIME_to_tm(X509_get0_notAfter(c->leaf), &tm) == 1)
		c->not_after = timegm(&tm);
	expired = X509_cmp_current_time(X509_get0_notAfter(c->leaf)) < 0;
	early = X509_cmp_current_time(X509_get0_notBefore(c->leaf)) > 0;
	if ((expired || early) && refuse_expired) {
		say(err, errsz, "%s%s: the certificate %s", p->cert_label, p->cert,
			 expired ? "has expired" : "is not valid yet");
		goto fail;
	}
	if (expired)
		log_warn("the TLS certificate has expired: clients will refuse it", "file=%s",
			 p->cert);
	else if (early)
		log_warn("the TLS certificate is not valid yet: clients will refuse it", "file=%s",
			 p->cert);
	ERR_clear_error();
	return c;
fail:
	ERR_clear_error();
	cert_free(c);
	return NULL;
}

static int by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int is_file(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/*
 * The pairs of a --tls-dir, in name order: NAME.crt with NAME.key, and
 * SUB/tls.crt with SUB/tls.key (a Kubernetes TLS secret per subfolder).
 * Hidden entries (a secret's ..data and its timestamped folders) are not
 * pairs. Returns how many, or -1 with err set.
 */
static int scan_dir(const char *dir, int reload, struct pair *pairs, size_t max, char *err,
		    size_t errsz)
{
	DIR *d = opendir(dir);
	char *names[TLS_CERTS_MAX * 2];
	size_t nnames = 0;
	struct dirent *e;
	int n = 0;

	if (!d) {
		say(err, errsz, "--tls-dir %s: cannot read it: %s", dir, strerror(errno));
		return -1;
	}
	while ((e = readdir(d)) != NULL && nnames < sizeof(names) / sizeof(names[0])) {
		if (e->d_name[0] == '.')
			continue;
		names[nnames] = strdup(e->d_name);
		if (names[nnames])
			nnames++;
	}
	closedir(d);
	qsort(names, nnames, sizeof(names[0]), by_name);
	for (size_t i = 0; i < nnames && n >= 0; i++) {
		size_t len = strlen(names[i]);
		struct pair *p = &pairs[n];
		char sub[1024];
		struct stat st;

		p->cert_label = p->key_label = "";
		if (path_fmt(sub, sizeof(sub), "%s/%s", dir, names[i]) == -1)
			continue;
		if (len > 4 && strcmp(names[i] + len - 4, ".crt") == 0 && is_file(sub)) {
			memcpy(p->cert, sub, sizeof(sub));
			/* on a reload a key not there yet fails its pair's load,
			 * which keeps the pair's old one */
			if (path_fmt(p->key, sizeof(p->key), "%s/%.*s.key", dir, (int)(len - 4),
				     names[i]) == -1 || (!reload && !is_file(p->key))) {
				say(err, errsz, "%s: no %.*s.key beside it", p->cert,
					 (int)(len - 4), names[i]);
				n = -1;
				break;
			}
		} else if (stat(sub, &st) == 0 && S_ISDIR(st.st_mode)) {
			if (path_fmt(p->cert, sizeof(p->cert), "%s/tls.crt", sub) == -1 ||
			    path_fmt(p->key, sizeof(p->key), "%s/tls.key", sub) == -1 ||
			    !is_file(p->cert))
				continue;
		} else {
			continue;
		}
		if ((size_t)++n == max) {
			say(err, errsz, "--tls-dir %s: more than %zu pairs", dir, max);
			n = -1;
		}
	}
	for (size_t i = 0; i < nnames; i++)
		free(names[i]);
	if (n == 0)
		say(err, errsz, "--tls-dir %s: no NAME.crt with NAME.key, nor SUB/tls.crt with "
				     "SUB/tls.key in it", dir);
	return n;
}

static struct tls_cert *old_pair(const struct tls_certs *old, const struct pair *p)
{
	for (size_t i = 0; old && i < old->n; i++)
		if (strcmp(old->items[i]->cert_path, p->cert) == 0)
			return old->items[i];
	return NULL;
}

int tls_certs_load(struct tls_certs *set, const struct tls_certs_source *src,
		   const struct tls_certs *old, char *err, size_t errsz)
{
	static struct pair pairs[TLS_CERTS_MAX];
	char why[1024];
	int n = 0, bad = 0;

	set->n = 0;
	if (src->cert) {
		if (path_fmt(pairs[0].cert, sizeof(pairs[0].cert), "%s", src->cert) == -1 ||
		    path_fmt(pairs[0].key, sizeof(pairs[0].key), "%s", src->key) == -1) {
			say(err, errsz, "--tls-cert %s: the path is too long", src->cert);
			return -1;
		}
		pairs[0].cert_label = "--tls-cert ";
		pairs[0].key_label = "--tls-key ";
		n = 1;
	}
	if (src->dir) {
		int m = scan_dir(src->dir, old != NULL, pairs + n, TLS_CERTS_MAX - (size_t)n, why,
				 sizeof(why));

		if (src->dir_may_be_empty && m <= 0 && n == 0)
			return 0;	/* nothing there (yet): an empty set */
		if (m == -1 || (m == 0 && n == 0)) {
			if (!old) {
				say(err, errsz, "%s", why);
				return -1;
			}
			/* a reload: the pairs still readable are loaded */
			log_error("TLS certificates: the directory is not usable now", "error=\"%s\"",
				  why);
			bad++;
		}
		if (m > 0)
			n += m;
	}
	for (int i = 0; i < n; i++) {
		struct tls_cert *c = cert_load(&pairs[i], old != NULL, why, sizeof(why));

		if (!c && !old && !src->dir_may_be_empty) {
			say(err, errsz, "%s", why);
			tls_certs_release(set);
			return -1;
		}
		if (!c) {
			bad++;
			c = old_pair(old, &pairs[i]);
			log_error(c ? "TLS certificate not reloaded: the one loaded before is kept"
				    : "TLS certificate not loaded",
				  "error=\"%s\"", why);
			if (!c)
				continue;
			c->refs++;
		}
		set->items[set->n++] = c;
	}
	if (set->n == 0 && !src->dir_may_be_empty) {
		say(err, errsz, "no usable TLS certificate");
		return -1;
	}
	return bad;
}

void tls_certs_release(struct tls_certs *set)
{
	for (size_t i = 0; i < set->n; i++)
		cert_unref(set->items[i]);
	set->n = 0;
}

int tls_certs_name_matches(const char *pattern, const char *name)
{
	const char *dot;

	if (strcasecmp(pattern, name) == 0)
		return 1;
	/* "*.example.com" covers "a.example.com", not "example.com" nor
	 * "a.b.example.com" (RFC 6125 6.4.3) */
	if (pattern[0] != '*' || pattern[1] != '.')
		return 0;
	dot = strchr(name, '.');
	return dot && dot != name && strcasecmp(dot, pattern + 1) == 0;
}

struct tls_cert *tls_certs_pick(const struct tls_certs *set, const char *servername)
{
	if (set->n == 0)
		return NULL;
	if (!servername)
		return set->items[0];
	for (size_t i = 0; i < set->n; i++)
		for (size_t j = 0; j < set->items[i]->nnames; j++)
			if (strcasecmp(set->items[i]->names[j], servername) == 0)
				return set->items[i];
	for (size_t i = 0; i < set->n; i++)
		for (size_t j = 0; j < set->items[i]->nnames; j++)
			if (tls_certs_name_matches(set->items[i]->names[j], servername))
				return set->items[i];
	return set->items[0];
}

static void json_str(struct buf *b, const char *s)
{
	buf_append_str(b, "\"");
	buf_append_json_escaped(b, s, strlen(s));
	buf_append_str(b, "\"");
}

void tls_certs_info_json(const struct tls_certs *set, struct buf *b, time_t now)
{
	buf_append_str(b, "[");
	for (size_t i = 0; i < set->n; i++) {
		const struct tls_cert *c = set->items[i];
		char when[32];
		struct tm tm;

		gmtime_r(&c->not_after, &tm);
		strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
		buf_append_str(b, i ? ",{\"file\":" : "{\"file\":");
		json_str(b, c->cert_path);
		buf_append_str(b, ",\"subject\":");
		json_str(b, c->subject);
		buf_append_str(b, ",\"names\":[");
		for (size_t j = 0; j < c->nnames; j++) {
			if (j)
				buf_append_str(b, ",");
			json_str(b, c->names[j]);
		}
		buf_appendf(b, "],\"not_after\":\"%s\",\"expires_in_seconds\":%lld,\"default\":%s}",
			    when, (long long)(c->not_after - now), i ? "false" : "true");
	}
	buf_append_str(b, "]");
}

void tls_certs_metrics(const struct tls_certs *set, struct buf *b, time_t now)
{
	buf_append_str(b, "# HELP lb_proxy_tls_cert_expiry_seconds Seconds until the certificate "
			  "expires (negative: expired), by file and subject.\n"
			  "# TYPE lb_proxy_tls_cert_expiry_seconds gauge\n");
	for (size_t i = 0; i < set->n; i++) {
		const struct tls_cert *c = set->items[i];

		buf_append_str(b, "lb_proxy_tls_cert_expiry_seconds{file=\"");
		buf_append_json_escaped(b, c->cert_path, strlen(c->cert_path));
		buf_append_str(b, "\",subject=\"");
		buf_append_json_escaped(b, c->subject, strlen(c->subject));
		buf_appendf(b, "\"} %lld\n", (long long)(c->not_after - now));
	}
}
