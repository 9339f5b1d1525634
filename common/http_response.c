/* http_response: writes HTTP/1.1 response heads into a buf. */
#include "http_response.h"

#include <string.h>

#include "timefmt.h"

const char *http_reason(int status)
{
	/* RFC 9110 section 15 and the IANA registry's other codes in use. */
	switch (status) {
	case 100: return "Continue";
	case 101: return "Switching Protocols";
	case 102: return "Processing";
	case 103: return "Early Hints";
	case 200: return "OK";
	case 201: return "Created";
	case 202: return "Accepted";
	case 203: return "Non-Authoritative Information";
	case 204: return "No Content";
	case 205: return "Reset Content";
	case 206: return "Partial Content";
	case 207: return "Multi-Status";
	case 208: return "Already Reported";
	case 226: return "IM Used";
	case 300: return "Multiple Choices";
	case 301: return "Moved Permanently";
	case 302: return "Found";
	case 303: return "See Other";
	case 304: return "Not Modified";
	case 305: return "Use Proxy";
	case 307: return "Temporary Redirect";
	case 308: return "Permanent Redirect";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 402: return "Payment Required";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 406: return "Not Acceptable";
	case 407: return "Proxy Authentication Required";
	case 408: return "Request Timeout";
	case 409: return "Conflict";
	case 410: return "Gone";
	case 411: return "Length Required";
	case 412: return "Precondition Failed";
	case 413: return "Content Too Large";
	case 414: return "URI Too Long";
	case 415: return "Unsupported Media Type";
	case 416: return "Range Not Satisfiable";
	case 417: return "Expectation Failed";
	case 421: return "Misdirected Request";
	case 422: return "Unprocessable Content";
	case 423: return "Locked";
	case 424: return "Failed Dependency";
	case 425: return "Too Early";
	case 426: return "Upgrade Required";
	case 428: return "Precondition Required";
	case 429: return "Too Many Requests";
	case 431: return "Request Header Fields Too Large";
	case 451: return "Unavailable For Legal Reasons";
	case 500: return "Internal Server Error";
	case 501: return "Not Implemented";
	case 502: return "Bad Gateway";
	case 503: return "Service Unavailable";
	case 504: return "Gateway Timeout";
	case 505: return "HTTP Version Not Supported";
	case 506: return "Variant Also Negotiates";
	case 507: return "Insufficient Storage";
	case 508: return "Loop Detected";
	case 510: return "Not Extended";
	case 511: return "Network Authentication Required";
	/* RFC 9112 section 4: the reason phrase may be empty (nginx writes
	 * "599 " for a code it does not know); "Unknown" would be a lie. */
	default: return "";
	}
}

int http_append_uint(struct buf *out, unsigned long long v)
{
	char digits[24];
	size_t i = sizeof(digits);

	do {
		digits[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	return buf_append(out, digits + i, sizeof(digits) - i);
}

int http_response_begin(struct buf *out, int status)
{
	const char *reason = http_reason(status);
	size_t dlen;
	const char *date = timefmt_http_date(&dlen);

	if (buf_reserve(out, 64 + strlen(reason) + dlen) == -1)
		return -1;
	buf_append(out, "HTTP/1.1 ", 9);
	http_append_uint(out, (unsigned)status);
	buf_append(out, " ", 1);
	buf_append_str(out, reason);
	buf_append(out, "\r\nDate: ", 8);
	buf_append(out, date, dlen);
	return buf_append(out, "\r\n", 2);
}

int http_response_header(struct buf *out, const char *name, const char *value, size_t vlen)
{
	size_t nlen = strlen(name);

	if (buf_reserve(out, nlen + vlen + 4) == -1)
		return -1;
	buf_append(out, name, nlen);
	buf_append(out, ": ", 2);
	buf_append(out, value, vlen);
	return buf_append(out, "\r\n", 2);
}

int http_response_end(struct buf *out, const char *content_type, size_t content_length,
		      int keep_alive)
{
	if (buf_reserve(out, 128 + (content_type ? strlen(content_type) : 0)) == -1)
		return -1;
	if (content_type) {
		buf_append(out, "Content-Type: ", 14);
		buf_append_str(out, content_type);
		buf_append(out, "\r\n", 2);
	}
	buf_append(out, "Content-Length: ", 16);
	http_append_uint(out, content_length);
	if (keep_alive)
		return buf_append(out, "\r\nConnection: keep-alive\r\n\r\n", 28);
	return buf_append(out, "\r\nConnection: close\r\n\r\n", 23);
}

int http_response_simple(struct buf *out, int status, const char *content_type, const char *body,
			 size_t len, int keep_alive)
{
	if (http_response_begin(out, status) == -1 ||
	    http_response_end(out, content_type, len, keep_alive) == -1)
		return -1;
	return buf_append(out, body, len);
}
