#ifndef MCPCHAT_WEB_STATIC_H
#define MCPCHAT_WEB_STATIC_H

#include <stdbool.h>
#include <stddef.h>

#include "http/request.h"

/* The chat page for people: index.html at / and its assets under /web/, compiled into the
 * binary at build time (cmake/EmbedWeb.cmake). Pure: a request in, a whole answer out; the
 * connection (client.c) writes it. */

struct web_asset {
	const char *path; /* "/" or "/web/NAME" */
	const char *type; /* Content-Type */
	const char *data;
	size_t len;
	const char *etag; /* strong, quoted: "\"hex\"" */
};

/* The answer to one request: status, Content-Type (NULL for none), the extra head lines and
 * the body (empty for HEAD and 304, whose head still says the body's length). */
struct web_answer {
	int status;
	const char *type;
	const char *body;
	size_t len;
	bool head_only;
	char extra[768];
};

/* Is this path the page's: "/" or anything under "/web/"? (Others stay with /mcp's 404.) */
bool web_is_path(const char *path);
/* The asset served at path, or NULL. */
const struct web_asset *web_find(const char *path);
/* Does an If-None-Match value name this (quoted) ETag? "*", lists and W/ tags (weak
 * comparison, RFC 9110 13.1.2). Malformed values match nothing. */
bool web_etag_matches(const char *if_none_match, const char *etag);
/* Answers a request for a path where web_is_path() holds; enabled is [web] enabled. */
void web_answer(bool enabled, const struct http_request *req, struct web_answer *a);

#endif
