#ifndef MCPCHAT_HTTP_H
#define MCPCHAT_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* HTTP/1.1 request assembly on llhttp. Pure: bytes in, one request at a time out.
 * The parser pauses after each complete request, so pipelined requests are handed out in
 * order and the caller decides when to go on (it may hold a request open for a long poll). */

enum http_method_id { HTTP_M_GET, HTTP_M_POST, HTTP_M_DELETE, HTTP_M_HEAD, HTTP_M_OTHER };

/* MCP 2026-07-28 mirrors tool arguments into "Mcp-Param-{Name}" headers: kept are the first
 * HTTP_MAX_PARAMS of them whose name fits HTTP_PARAM_NAME_MAX (longer ones no tool declares,
 * so they are never recognised and may be ignored). */
#define HTTP_MAX_PARAMS 16
#define HTTP_PARAM_NAME_MAX 64
struct http_param {
	const char *name;  /* the part after "Mcp-Param-", as sent (compare without case) */
	const char *value; /* without surrounding whitespace */
};

struct http_request {
	enum http_method_id method;
	const char *method_name;
	const char *path; /* without the query string */
	/* Selected headers, NUL-terminated, NULL when absent. */
	const char *host;
	const char *origin;
	const char *content_type;
	const char *session_id;
	const char *protocol_version;
	const char *last_event_id;
	const char *mcp_method; /* MCP 2026-07-28 mirrors of the body's method and name */
	const char *mcp_name;
	const char *if_none_match; /* the page's revalidation (web/static) */
	struct http_param params[HTTP_MAX_PARAMS];
	uint8_t n_params;
	bool params_dropped; /* more Mcp-Param-* headers came than are kept */
	bool has_accept;
	bool accept_json; /* Accept admits application/json */
	bool accept_sse;  /* Accept admits text/event-stream */
	bool keep_alive;
	const char *body; /* NUL-terminated; body_len excludes the NUL */
	size_t body_len;
};

struct http_limits {
	size_t max_head;
	size_t max_body;
};

enum http_feed {
	HTTP_FEED_MORE = 0,     /* everything used; feed more when it arrives */
	HTTP_FEED_REQUEST = 1,  /* a request is ready: http_conn_request(), then http_conn_next() */
	HTTP_FEED_CONTINUE = 2, /* client sent Expect: 100-continue: answer 100, then feed the rest */
};

struct http_conn;

/* Never NULL (allocation failure aborts, util/xalloc.h). */
struct http_conn *http_conn_new(const struct http_limits *limits);
void http_conn_free(struct http_conn *c);

/* Parses up to len bytes; *used says how many were taken. Returns an enum http_feed value,
 * or a negative HTTP status (-400, -408, -413, -431, -505) after which the connection must
 * answer that status and close; http_conn_error() then says why in words. */
int http_conn_feed(struct http_conn *c, const char *data, size_t len, size_t *used);
/* The request ready after HTTP_FEED_REQUEST; valid until http_conn_next(). */
const struct http_request *http_conn_request(const struct http_conn *c);
/* Done with the current request: frees its storage and lets parsing go on. */
void http_conn_next(struct http_conn *c);
/* True while part of a request has been read (for the head timeout: idle vs in a request). */
bool http_conn_in_request(const struct http_conn *c);
const char *http_conn_error(const struct http_conn *c);

/* Does the Accept value admit this media type (lower case, "application/json")? Honours
 * wildcards and q=0. */
bool http_accepts(const char *accept, const char *type);
/* Is the Content-Type value this media type (lower case), ignoring parameters and case? */
bool http_media_is(const char *content_type, const char *type);

#endif
