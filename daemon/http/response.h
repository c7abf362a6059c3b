#ifndef MCPCHAT_HTTP_RESPONSE_H
#define MCPCHAT_HTTP_RESPONSE_H

#include <stdbool.h>
#include <stddef.h>

#include "util/buf.h"

/* Response heads and whole responses, appended to a connection's output. */

const char *http_reason(int status);

/* Formats a response head into buf. content_length < 0 means chunked. extra is zero or more
 * complete "Name: value\r\n" lines. Returns the length, or -ENOSPC when buf is too small. */
int http_format_head(char *buf, size_t cap, int status, const char *content_type,
		     long content_length, const char *extra, bool keep_alive);
/* Appends a head (as http_format_head; a head over 1 KiB is a bug and is not sent). */
void http_response_head(struct buf *out, int status, const char *content_type,
			long content_length, const char *extra, bool keep_alive);
/* Appends a whole response; head_only for HEAD (the length of the body, no body). */
void http_response(struct buf *out, int status, const char *content_type, const char *extra,
		   const char *body, size_t len, bool keep_alive, bool head_only);
/* Appends the interim 100 Continue (Expect: 100-continue). */
void http_response_continue(struct buf *out);

#endif
