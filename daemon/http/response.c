#include "http/response.h"

#include <errno.h>
#include <string.h>

/* Every status line and response head the daemon sends is written here (the SSE frames of
 * a streamed body in http/sse.c): one place for the bytes of an answer. */

const char *http_reason(int status)
{
	switch (status) {
	case 100: return "Continue";
	case 200: return "OK";
	case 202: return "Accepted";
	case 204: return "No Content";
	case 304: return "Not Modified";
	case 400: return "Bad Request";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 406: return "Not Acceptable";
	case 408: return "Request Timeout";
	case 409: return "Conflict";
	case 413: return "Content Too Large";
	case 415: return "Unsupported Media Type";
	case 417: return "Expectation Failed";
	case 429: return "Too Many Requests";
	case 431: return "Request Header Fields Too Large";
	case 500: return "Internal Server Error";
	case 501: return "Not Implemented";
	case 503: return "Service Unavailable";
	case 505: return "HTTP Version Not Supported";
	default: return "Unknown";
	}
}

/* Appends n bytes at *p if they fit before end. */
static bool put(char **p, const char *end, const char *s, size_t n)
{
	if ((size_t)(end - *p) < n)
		return false;
	memcpy(*p, s, n);
	*p += n;
	return true;
}

static bool puts_(char **p, const char *end, const char *s)
{
	return put(p, end, s, strlen(s));
}

int http_format_head(char *buf, size_t cap, int status, const char *content_type,
		     long content_length, const char *extra, bool keep_alive)
{
	char *p = buf, *end = buf + cap, num[24];
	bool ok;

	/* Written by hand: this runs for every response, and printf showed in profiles. */
	ok = put(&p, end, "HTTP/1.1 ", 9) && put(&p, end, num, buf_fmt_u64(num, (uint64_t)status)) &&
	     put(&p, end, " ", 1) && puts_(&p, end, http_reason(status)) && put(&p, end, "\r\n", 2);
	if (ok && content_type)
		ok = put(&p, end, "Content-Type: ", 14) && puts_(&p, end, content_type) &&
		     put(&p, end, "\r\n", 2);
	if (ok && content_length >= 0)
		ok = put(&p, end, "Content-Length: ", 16) &&
		     put(&p, end, num, buf_fmt_u64(num, (uint64_t)content_length)) &&
		     put(&p, end, "\r\n", 2);
	else if (ok)
		ok = puts_(&p, end, "Transfer-Encoding: chunked\r\n");
	if (ok && extra)
		ok = puts_(&p, end, extra);
	if (ok && !keep_alive)
		ok = puts_(&p, end, "Connection: close\r\n");
	if (!ok || !put(&p, end, "\r\n\0", 3))
		return -ENOSPC;
	return (int)(p - buf - 1);
}

void http_response_head(struct buf *out, int status, const char *content_type,
			long content_length, const char *extra, bool keep_alive)
{
	char head[1024];
	int n = http_format_head(head, sizeof(head), status, content_type, content_length, extra,
				 keep_alive);

	if (n > 0)
		buf_append(out, head, (size_t)n);
}

void http_response(struct buf *out, int status, const char *content_type, const char *extra,
		   const char *body, size_t len, bool keep_alive, bool head_only)
{
	http_response_head(out, status, content_type, (long)len, extra, keep_alive);
	/* HEAD gets the head alone, with the length the body would have (RFC 9110 9.3.2). */
	if (!head_only && len)
		buf_append(out, body, len);
}

void http_response_continue(struct buf *out)
{
	buf_puts(out, "HTTP/1.1 100 Continue\r\n\r\n");
}
