/* hashkey: a request's balancing key and its client behind trusted proxies (see hashkey.h). */
#include "hashkey.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "log.h"

const char hashkey_forms[] = "client-ip | header:NAME | cookie:NAME | query:NAME | path";

/* A header or cookie name is an RFC 9110 token (a CR or LF in one put every
 * client in one bucket before); a query parameter's name is visible ASCII
 * but for the separators '&', '=', '#' and '%'. */
static int name_valid(enum hashkey_kind kind, const char *s, size_t n)
{
	if (kind != HASHKEY_QUERY)
		return http_token_valid(s, n);
	for (size_t i = 0; i < n; i++)
		if (s[i] <= ' ' || s[i] >= 0x7f || strchr("&=#%", s[i]))
			return 0;
	return 1;
}

int hashkey_parse(const char *spec, struct hashkey *k, char *err, size_t errsz)
{
	static const struct {
		const char *prefix;
		enum hashkey_kind kind;
	} named[] = {
		{ "header:", HASHKEY_HEADER },
		{ "cookie:", HASHKEY_COOKIE },
		{ "query:", HASHKEY_QUERY },
	};

	char shown[3 * HASHKEY_NAME_MAX];

	memset(k, 0, sizeof(*k));
	if (strcmp(spec, "client-ip") == 0) {
		k->kind = HASHKEY_CLIENT_IP;
		return 0;
	}
	if (strcmp(spec, "path") == 0) {
		k->kind = HASHKEY_PATH;
		return 0;
	}
	for (size_t i = 0; i < sizeof(named) / sizeof(named[0]); i++) {
		size_t pl = strlen(named[i].prefix), n = strlen(spec) - pl;

		if (strncmp(spec, named[i].prefix, pl) != 0)
			continue;
		if (n == 0 || n >= HASHKEY_NAME_MAX || !name_valid(named[i].kind, spec + pl, n))
			break;
		k->kind = named[i].kind;
		memcpy(k->name, spec + pl, n);
		k->name_len = n;
		return 0;
	}
	snprintf(err, errsz, "\"%s\" is not a hash key: use %s",
		 log_printable(spec, shown, sizeof(shown)), hashkey_forms);
	return -1;
}

/* In "a=1; b=2" (cookies, sep ';') or "a=1&b=2" (a query, sep '&'), the
 * value of `name`. */
static int pair_value(const char *s, size_t n, char sep, const char *name, size_t nlen,
		      const char **val, size_t *vlen)
{
	const char *end = s + n;

	while (s < end) {
		const char *item, *eq, *stop;

		while (s < end && (*s == ' ' || *s == '\t' || *s == sep))
			s++;
		item = s;
		while (s < end && *s != sep)
			s++;
		stop = s;
		eq = memchr(item, '=', (size_t)(stop - item));
		if (eq && (size_t)(eq - item) == nlen && memcmp(item, name, nlen) == 0) {
			*val = eq + 1;
			*vlen = (size_t)(stop - eq - 1);
			while (*vlen && (eq[*vlen] == ' ' || eq[*vlen] == '\t'))
				(*vlen)--;
			return 1;
		}
	}
	return 0;
}

int hashkey_find(const struct hashkey *k, const struct http_msg *m, const struct http_route *route,
		 const char *client_ip, size_t client_len, const char **key, size_t *len)
{
	const char *path = http_msg_ptr(m, route->path), *q;
	size_t plen = route->path.len;
	int i;

	switch (k->kind) {
	case HASHKEY_CLIENT_IP:
		*key = client_ip;
		*len = client_len;
		return client_len > 0;
	case HASHKEY_PATH:
		q = memchr(path, '?', plen);
		*key = path;
		*len = q ? (size_t)(q - path) : plen;
		return 1;
	case HASHKEY_QUERY:
		q = memchr(path, '?', plen);
		return q && pair_value(q + 1, plen - (size_t)(q + 1 - path), '&', k->name, k->name_len,
				       key, len);
	case HASHKEY_HEADER:
		for (i = 0; i < (int)m->nheaders; i++) {
			if (m->headers[i].name.len != k->name_len ||
			    strncasecmp(http_msg_ptr(m, m->headers[i].name), k->name, k->name_len) != 0)
				continue;
			*key = http_msg_ptr(m, m->headers[i].value);
			*len = m->headers[i].value.len;
			return 1;
		}
		return 0;
	case HASHKEY_COOKIE:
		for (i = 0; i < (int)m->nheaders; i++)
			if (http_msg_header_is(m, (unsigned)i, "cookie") &&
			    pair_value(http_msg_ptr(m, m->headers[i].value), m->headers[i].value.len, ';',
				       k->name, k->name_len, key, len))
				return 1;
		return 0;
	}
	return 0;
}

/* ---- trusted proxies ---------------------------------------------------------- */

static int parse_ip(const char *s, size_t n, struct trusted_net *out)
{
	char buf[64];

	if (n == 0 || n >= sizeof(buf))
		return -1;
	memcpy(buf, s, n);
	buf[n] = '\0';
	if (inet_pton(AF_INET, buf, out->addr) == 1) {
		out->family = AF_INET;
		return 0;
	}
	if (inet_pton(AF_INET6, buf, out->addr) == 1) {
		out->family = AF_INET6;
		return 0;
	}
	return -1;
}

int trusted_parse(const char *spec, struct trusted *t, char *err, size_t errsz)
{
	const char *p = spec;

	memset(t, 0, sizeof(*t));
	while (*p) {
		const char *end = strchr(p, ','), *slash;
		size_t n = end ? (size_t)(end - p) : strlen(p);
		struct trusted_net net;
		unsigned long bits;
		char *stop;

		slash = memchr(p, '/', n);
		if (t->n == TRUSTED_MAX) {
			snprintf(err, errsz, "more than %d networks", TRUSTED_MAX);
			return -1;
		}
		if (parse_ip(p, slash ? (size_t)(slash - p) : n, &net) == -1)
			goto bad;
		bits = net.family == AF_INET ? 32 : 128;
		if (slash) {
			unsigned long max = bits;

			/* digits only: strtoul also took "/+24" and "/ 24" */
			if (!isdigit((unsigned char)slash[1]))
				goto bad;
			bits = strtoul(slash + 1, &stop, 10);
			if (stop == slash + 1 || stop != p + n || bits > max)
				goto bad;
		}
		net.bits = (unsigned)bits;
		t->nets[t->n++] = net;
		p += n;
		if (*p == ',' && *++p == '\0') {
			snprintf(err, errsz, "nothing after the last comma");
			return -1;
		}
		continue;
bad:
		snprintf(err, errsz, "\"%.*s\" is not an address or CIDR network (10.0.0.0/8, ::1/128)",
			 (int)n, p);
		return -1;
	}
	return 0;
}

static int net_contains(const struct trusted_net *net, const struct trusted_net *ip)
{
	unsigned full = net->bits / 8, rest = net->bits % 8;

	if (net->family != ip->family || memcmp(net->addr, ip->addr, full) != 0)
		return 0;
	return rest == 0 ||
	       ((net->addr[full] ^ ip->addr[full]) & (unsigned char)(0xff << (8 - rest))) == 0;
}

int trusted_contains(const struct trusted *t, const char *ip, size_t n)
{
	struct trusted_net addr;

	if (t->n == 0 || parse_ip(ip, n, &addr) == -1)
		return 0;
	for (unsigned i = 0; i < t->n; i++)
		if (net_contains(&t->nets[i], &addr))
			return 1;
	return 0;
}

const char *hashkey_client_ip(const struct trusted *t, const char *peer_ip,
			      const struct http_msg *m, size_t *len)
{
	const char *client = peer_ip;
	size_t clen = strlen(peer_ip);

	if (!trusted_contains(t, peer_ip, clen))
		goto out;
	/* The last X-Forwarded-For line holds the nearest hops. */
	for (int i = (int)m->nheaders - 1; i >= 0; i--) {
		const char *v, *end;

		if (!http_msg_header_is(m, (unsigned)i, "x-forwarded-for"))
			continue;
		v = http_msg_ptr(m, m->headers[i].value);
		end = v + m->headers[i].value.len;
		while (end > v) {
			const char *e = end, *b;

			while (e > v && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == ','))
				e--;
			b = e;
			while (b > v && b[-1] != ',' && b[-1] != ' ' && b[-1] != '\t')
				b--;
			if (b == e)
				break;
			client = b;
			clen = (size_t)(e - b);
			if (!trusted_contains(t, b, clen))
				goto out;
			end = b;
		}
	}
out:
	*len = clen;
	return client;
}
