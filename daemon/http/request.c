#include "http/request.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <llhttp.h>

#include "util/buf.h"
#include "util/xalloc.h"

enum tracked {
	H_HOST,
	H_ORIGIN,
	H_CONTENT_TYPE,
	H_SESSION_ID,
	H_PROTOCOL_VERSION,
	H_LAST_EVENT_ID,
	H_ACCEPT,
	H_MCP_METHOD,
	H_MCP_NAME,
	H_IF_NONE_MATCH,
	H_COUNT,
	H_NONE = H_COUNT,
	H_PARAM, /* an Mcp-Param-* header: kept in the params list, not by offset */
};

#define PARAM_PREFIX "mcp-param-"
#define PARAM_PREFIX_LEN 10

static const char *const tracked_names[H_COUNT] = {
	[H_HOST] = "host",
	[H_ORIGIN] = "origin",
	[H_CONTENT_TYPE] = "content-type",
	[H_SESSION_ID] = "mcp-session-id",
	[H_PROTOCOL_VERSION] = "mcp-protocol-version",
	[H_LAST_EVENT_ID] = "last-event-id",
	[H_ACCEPT] = "accept",
	[H_MCP_METHOD] = "mcp-method",
	[H_MCP_NAME] = "mcp-name",
	[H_IF_NONE_MATCH] = "if-none-match",
};

/* Header values and the path are kept in one growing arena, addressed by offsets (the arena
 * moves when it grows); pointers are handed out only once the request is complete. */
struct http_conn {
	llhttp_t parser;
	struct http_limits limits;
	struct http_request req;
	int status;        /* error status to answer, 0 when none */
	const char *error; /* why, in words */
	bool started, head_done, ready, expect_continue, continue_sent;
	size_t head_bytes;

	char *arena;
	size_t arena_len, arena_cap;
	size_t path_off;
	bool path_open;
	size_t off[H_COUNT];
	bool seen[H_COUNT];

	size_t param_name[HTTP_MAX_PARAMS], param_value[HTTP_MAX_PARAMS]; /* arena offsets */
	uint8_t n_params;
	bool params_dropped;

	/* The current header name as sent; longer names are not tracked (room for an
	 * Mcp-Param-* name of HTTP_PARAM_NAME_MAX). */
	char field[PARAM_PREFIX_LEN + HTTP_PARAM_NAME_MAX + 1];
	size_t field_len;
	enum tracked cur;
	size_t value_off;
	bool in_value;
	bool expect_hdr;

	char *body;
	size_t body_len, body_cap;
};

static const llhttp_settings_t settings;

static int fail(struct http_conn *c, int status, const char *why)
{
	if (!c->status) {
		c->status = status;
		c->error = why;
	}
	return -1;
}

static int arena_put(struct http_conn *c, const char *at, size_t len)
{
	if (c->arena_len + len + 1 > c->limits.max_head + 1)
		return fail(c, 431, "request head too large");
	if (c->arena_len + len + 1 > c->arena_cap) {
		size_t cap = c->arena_cap ? c->arena_cap : 256;

		while (cap < c->arena_len + len + 1)
			cap *= 2;
		c->arena = xrealloc(c->arena, cap); /* bounded by max_head, checked above */
		c->arena_cap = cap;
	}
	memcpy(c->arena + c->arena_len, at, len);
	c->arena_len += len;
	return 0;
}

static int arena_end_string(struct http_conn *c)
{
	if (arena_put(c, "", 0) < 0)
		return -1;
	c->arena[c->arena_len++] = '\0';
	return 0;
}

static struct http_conn *conn_of(llhttp_t *p)
{
	return p->data;
}

static int on_message_begin(llhttp_t *p)
{
	struct http_conn *c = conn_of(p);

	c->started = true;
	c->path_off = 0;
	c->path_open = true;
	return 0;
}

static int on_url(llhttp_t *p, const char *at, size_t len)
{
	return arena_put(conn_of(p), at, len);
}

static int on_url_complete(llhttp_t *p)
{
	struct http_conn *c = conn_of(p);

	c->path_open = false;
	return arena_end_string(c);
}

/* a (any case) equals lower (lower case), n bytes; no locale, as header names are ASCII. */
static bool name_is(const char *a, const char *lower, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		char ch = a[i];

		if (ch >= 'A' && ch <= 'Z')
			ch = (char)(ch + ('a' - 'A'));
		if (ch != lower[i])
			return false;
	}
	return true;
}

static int on_header_field(llhttp_t *p, const char *at, size_t len)
{
	struct http_conn *c = conn_of(p);

	/* RFC 9112 5.1: no whitespace between a field name and its colon. */
	for (size_t i = 0; i < len; i++)
		if (at[i] == ' ' || at[i] == '\t')
			return fail(c, 400, "whitespace in a header name");
	if (c->field_len + len < sizeof(c->field))
		memcpy(c->field + c->field_len, at, len);
	c->field_len += len;
	return 0;
}

/* An Mcp-Param-* header begins: its name goes into the arena, then its value. A header
 * past the cap is not kept, and the request says so (params_dropped). */
static int param_begin(struct http_conn *c)
{
	c->field_len = 0;
	c->in_value = true;
	if (c->n_params == HTTP_MAX_PARAMS) {
		c->params_dropped = true;
		return 0;
	}
	c->param_name[c->n_params] = c->arena_len;
	if (arena_put(c, c->field + PARAM_PREFIX_LEN, strlen(c->field + PARAM_PREFIX_LEN)) < 0 ||
	    arena_end_string(c) < 0)
		return -1;
	c->cur = H_PARAM;
	c->value_off = c->arena_len;
	return 0;
}

static int on_header_field_complete(llhttp_t *p)
{
	struct http_conn *c = conn_of(p);
	enum tracked cur = H_NONE;

	c->cur = H_NONE;
	c->expect_hdr = false;
	if (c->field_len < sizeof(c->field)) {
		c->field[c->field_len] = '\0';
		/* Every header of every request passes here: compare only the name of its length. */
		switch (c->field_len) {
		case 4: cur = H_HOST; break;
		case 8: cur = H_MCP_NAME; break;
		case 10: cur = H_MCP_METHOD; break;
		case 6: cur = c->field[0] == 'a' || c->field[0] == 'A' ? H_ACCEPT : H_ORIGIN; break;
		case 12: cur = H_CONTENT_TYPE; break;
		case 13:
			cur = c->field[0] == 'i' || c->field[0] == 'I' ? H_IF_NONE_MATCH
								       : H_LAST_EVENT_ID;
			break;
		case 14: cur = H_SESSION_ID; break;
		case 20: cur = H_PROTOCOL_VERSION; break;
		}
		if (cur != H_NONE && name_is(c->field, tracked_names[cur], c->field_len))
			c->cur = cur;
		else if (c->field_len > PARAM_PREFIX_LEN &&
			 name_is(c->field, PARAM_PREFIX, PARAM_PREFIX_LEN))
			return param_begin(c);
		c->expect_hdr = c->field_len == 6 && name_is(c->field, "expect", 6);
	}
	c->field_len = 0;
	c->value_off = c->arena_len;
	c->in_value = true;
	if (c->cur != H_NONE && c->cur != H_ACCEPT && c->seen[c->cur])
		return fail(c, 400, "duplicate header");
	return 0;
}

static int on_header_value(llhttp_t *p, const char *at, size_t len)
{
	struct http_conn *c = conn_of(p);

	if (c->cur == H_NONE && !c->expect_hdr)
		return 0;
	return arena_put(c, at, len);
}

static void accept_scan(const char *accept, const char *const *types, bool *ok, int n);

static void apply_accept(struct http_conn *c, const char *value)
{
	static const char *const types[] = { "application/json", "text/event-stream" };
	bool ok[2] = { c->req.accept_json, c->req.accept_sse };

	c->req.has_accept = true;
	accept_scan(value, types, ok, 2);
	c->req.accept_json = ok[0];
	c->req.accept_sse = ok[1];
}

static int on_header_value_complete(llhttp_t *p)
{
	struct http_conn *c = conn_of(p);
	const char *value;

	c->in_value = false;
	if (c->cur == H_NONE && !c->expect_hdr)
		return 0;
	/* Trailing whitespace is not part of a field value (RFC 9112 5). */
	while (c->arena_len > c->value_off &&
	       (c->arena[c->arena_len - 1] == ' ' || c->arena[c->arena_len - 1] == '\t'))
		c->arena_len--;
	if (arena_end_string(c) < 0)
		return -1;
	value = c->arena + c->value_off;
	if (c->expect_hdr) {
		if (strcasecmp(value, "100-continue") != 0)
			return fail(c, 417, "unsupported Expect header");
		c->expect_continue = true;
	} else if (c->cur == H_ACCEPT) {
		apply_accept(c, value);
	} else if (c->cur == H_PARAM) {
		c->param_value[c->n_params++] = c->value_off;
	} else {
		c->seen[c->cur] = true;
		c->off[c->cur] = c->value_off;
	}
	c->arena_len = c->cur == H_ACCEPT || c->expect_hdr ? c->value_off : c->arena_len;
	return 0;
}

static int on_headers_complete(llhttp_t *p)
{
	struct http_conn *c = conn_of(p);

	if ((p->flags & F_CONTENT_LENGTH) && p->content_length > c->limits.max_body)
		return fail(c, 413, "request body too large");
	if (p->upgrade)
		return fail(c, 400, "protocol upgrades are not supported");
	return HPE_PAUSED;
}

static int on_body(llhttp_t *p, const char *at, size_t len)
{
	struct http_conn *c = conn_of(p);

	if (c->body_len + len > c->limits.max_body)
		return fail(c, 413, "request body too large");
	if (c->body_len + len + 1 > c->body_cap) {
		size_t cap = c->body_cap ? c->body_cap : 512;

		/* The declared length was held to max_body in on_headers_complete: a peer cannot
		 * make this allocation big enough to fail. */
		if (p->flags & F_CONTENT_LENGTH)
			cap = c->body_len + len + (size_t)p->content_length + 1;
		while (cap < c->body_len + len + 1)
			cap *= 2;
		c->body = xrealloc(c->body, cap);
		c->body_cap = cap;
	}
	memcpy(c->body + c->body_len, at, len);
	c->body_len += len;
	return 0;
}

static enum http_method_id method_id(uint8_t m)
{
	switch (m) {
	case HTTP_GET:
		return HTTP_M_GET;
	case HTTP_POST:
		return HTTP_M_POST;
	case HTTP_DELETE:
		return HTTP_M_DELETE;
	case HTTP_HEAD:
		return HTTP_M_HEAD;
	default:
		return HTTP_M_OTHER;
	}
}

static int on_message_complete(llhttp_t *p)
{
	struct http_conn *c = conn_of(p);
	struct http_request *r = &c->req;
	char *q;

	r->method = method_id(p->method);
	r->method_name = llhttp_method_name((llhttp_method_t)p->method);
	r->path = c->arena + c->path_off;
	q = strchr(c->arena + c->path_off, '?');
	if (q)
		*q = '\0';
	r->host = c->seen[H_HOST] ? c->arena + c->off[H_HOST] : NULL;
	r->origin = c->seen[H_ORIGIN] ? c->arena + c->off[H_ORIGIN] : NULL;
	r->content_type = c->seen[H_CONTENT_TYPE] ? c->arena + c->off[H_CONTENT_TYPE] : NULL;
	r->session_id = c->seen[H_SESSION_ID] ? c->arena + c->off[H_SESSION_ID] : NULL;
	r->protocol_version =
		c->seen[H_PROTOCOL_VERSION] ? c->arena + c->off[H_PROTOCOL_VERSION] : NULL;
	r->last_event_id = c->seen[H_LAST_EVENT_ID] ? c->arena + c->off[H_LAST_EVENT_ID] : NULL;
	r->mcp_method = c->seen[H_MCP_METHOD] ? c->arena + c->off[H_MCP_METHOD] : NULL;
	r->mcp_name = c->seen[H_MCP_NAME] ? c->arena + c->off[H_MCP_NAME] : NULL;
	r->if_none_match = c->seen[H_IF_NONE_MATCH] ? c->arena + c->off[H_IF_NONE_MATCH] : NULL;
	for (uint8_t i = 0; i < c->n_params; i++) {
		r->params[i].name = c->arena + c->param_name[i];
		r->params[i].value = c->arena + c->param_value[i];
	}
	r->n_params = c->n_params;
	r->params_dropped = c->params_dropped;
	r->keep_alive = llhttp_should_keep_alive(p);
	if (c->body)
		c->body[c->body_len] = '\0';
	r->body = c->body ? c->body : "";
	r->body_len = c->body_len;
	c->ready = true;
	return HPE_PAUSED;
}

static const llhttp_settings_t settings = {
	.on_message_begin = on_message_begin,
	.on_url = on_url,
	.on_url_complete = on_url_complete,
	.on_header_field = on_header_field,
	.on_header_field_complete = on_header_field_complete,
	.on_header_value = on_header_value,
	.on_header_value_complete = on_header_value_complete,
	.on_headers_complete = on_headers_complete,
	.on_body = on_body,
	.on_message_complete = on_message_complete,
};

struct http_conn *http_conn_new(const struct http_limits *limits)
{
	struct http_conn *c = xcalloc(1, sizeof(*c));

	c->limits = *limits;
	llhttp_init(&c->parser, HTTP_REQUEST, &settings);
	c->parser.data = c;
	c->cur = H_NONE;
	return c;
}

void http_conn_free(struct http_conn *c)
{
	if (!c)
		return;
	free(c->arena);
	free(c->body);
	free(c);
}

static void reset_request(struct http_conn *c)
{
	memset(&c->req, 0, sizeof(c->req));
	memset(c->seen, 0, sizeof(c->seen));
	c->n_params = 0;
	c->params_dropped = false;
	c->started = c->head_done = c->ready = false;
	c->expect_continue = c->continue_sent = false;
	c->head_bytes = 0;
	c->arena_len = 0;
	c->field_len = 0;
	c->cur = H_NONE;
	c->in_value = false;
	c->body_len = 0;
	/* Keep small buffers for the next request; give large ones back. */
	if (c->arena_cap > 1024) {
		free(c->arena);
		c->arena = NULL;
		c->arena_cap = 0;
	}
	if (c->body_cap > 4096) {
		free(c->body);
		c->body = NULL;
		c->body_cap = 0;
	}
}

static int parse_error(struct http_conn *c, llhttp_errno_t err)
{
	if (c->status)
		return -c->status;
	switch (err) {
	case HPE_INVALID_VERSION:
		fail(c, 505, "HTTP version not supported");
		break;
	case HPE_PAUSED_UPGRADE:
		fail(c, 400, "protocol upgrades are not supported");
		break;
	default:
		fail(c, 400, llhttp_get_error_reason(&c->parser));
		break;
	}
	return -c->status;
}

int http_conn_feed(struct http_conn *c, const char *data, size_t len, size_t *used)
{
	*used = 0;
	if (c->status)
		return -c->status;
	if (c->ready)
		return HTTP_FEED_REQUEST;
	/* A pause at the end of the head may leave nothing to feed: run once more anyway so a
	 * body-less request completes without waiting for more bytes. */
	for (;;) {
		size_t left = len - *used;
		llhttp_errno_t err = llhttp_execute(&c->parser, data + *used, left);
		size_t n = err == HPE_OK ? left : (size_t)(llhttp_get_error_pos(&c->parser) - (data + *used));

		*used += n;
		if (!c->head_done)
			c->head_bytes += n;
		if (err == HPE_OK)
			break;
		if (err != HPE_PAUSED)
			return parse_error(c, err);
		llhttp_resume(&c->parser);
		if (c->ready)
			return HTTP_FEED_REQUEST;
		c->head_done = true;
		if (c->head_bytes > c->limits.max_head) {
			fail(c, 431, "request head too large");
			return -c->status;
		}
		if (c->expect_continue && !c->continue_sent) {
			c->continue_sent = true;
			return HTTP_FEED_CONTINUE;
		}
	}
	if (!c->head_done && c->head_bytes > c->limits.max_head) {
		fail(c, 431, "request head too large");
		return -c->status;
	}
	return HTTP_FEED_MORE;
}

const struct http_request *http_conn_request(const struct http_conn *c)
{
	return c->ready ? &c->req : NULL;
}

void http_conn_next(struct http_conn *c)
{
	reset_request(c);
}

bool http_conn_in_request(const struct http_conn *c)
{
	return c->started;
}

const char *http_conn_error(const struct http_conn *c)
{
	return c->error ? c->error : "bad request";
}

/* Compares one media range (a type, "major/ wildcard" or the full wildcard) with a type. */
static bool range_matches(const char *range, size_t len, const char *type)
{
	const char *slash = strchr(type, '/');
	size_t major = (size_t)(slash - type);

	if (len == 3 && memcmp(range, "*/*", 3) == 0)
		return true;
	if (len == major + 2 && name_is(range, type, major + 1) && range[major + 1] == '*')
		return true;
	return len == strlen(type) && name_is(range, type, len);
}

/* True when the parameters of a media range say q=0 (explicitly not acceptable). */
static bool q_is_zero(const char *params, size_t len)
{
	for (size_t i = 0; i + 1 < len; i++) {
		if ((params[i] == 'q' || params[i] == 'Q') && params[i + 1] == '=') {
			const char *v = params + i + 2;
			size_t rest = len - i - 2;
			bool zero = rest > 0 && v[0] == '0';

			for (size_t k = 1; zero && k < rest && v[k] != ';' && v[k] != ' '; k++)
				zero = v[k] == '0' || v[k] == '.';
			return zero;
		}
	}
	return false;
}

/* Marks in ok[] which of the n types the Accept value admits: one pass over its ranges. */
static void accept_scan(const char *accept, const char *const *types, bool *ok, int n)
{
	const char *p = accept;

	while (p && *p) {
		const char *end = strchr(p, ',');
		size_t item = end ? (size_t)(end - p) : strlen(p);
		size_t start = 0, rlen;

		while (start < item && (p[start] == ' ' || p[start] == '\t'))
			start++;
		rlen = start;
		while (rlen < item && p[rlen] != ';' && p[rlen] != ' ' && p[rlen] != '\t')
			rlen++;
		for (int i = 0; i < n; i++)
			if (!ok[i] && range_matches(p + start, rlen - start, types[i]))
				ok[i] = !q_is_zero(p + rlen, item - rlen);
		p = end ? end + 1 : NULL;
	}
}

bool http_accepts(const char *accept, const char *type)
{
	bool ok = false;

	accept_scan(accept, &type, &ok, 1);
	return ok;
}

bool http_media_is(const char *content_type, const char *type)
{
	size_t n = strlen(type);

	if (!content_type)
		return false;
	while (*content_type == ' ')
		content_type++;
	if (strnlen(content_type, n) < n || !name_is(content_type, type, n))
		return false;
	content_type += n;
	while (*content_type == ' ')
		content_type++;
	return *content_type == '\0' || *content_type == ';';
}
