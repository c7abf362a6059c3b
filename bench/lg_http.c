#include "lg_http.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lg_opt.h"

enum { P_HEAD, P_CL, P_CH_SIZE, P_CH_DATA, P_CH_CRLF, P_CH_TRAILER, P_EOF };

/* ---------------------------------------------------------------- requests */

/* The head up to "Content-Length: ": a 2025 one (with the session id once there is one) or, with
 * tool set, a 2026-07-28 one (no session; the version, Mcp-Method and Mcp-Name headers). */
static void make_head(struct lg_conn *c, const char *sid, const char *tool)
{
	int k;

	if (tool)
		k = snprintf(c->head, sizeof(c->head),
			     "POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\n"
			     "Accept: application/json, text/event-stream\r\nMCP-Protocol-Version: " LG_MCP_MODERN "\r\n"
			     "Mcp-Method: tools/call\r\nMcp-Name: %s\r\nContent-Length: ",
			     c->tgt->path, c->tgt->hosthdr, tool);
	else
		k = snprintf(c->head, sizeof(c->head),
			     "POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\n"
			     "Accept: application/json, text/event-stream\r\n%s%s%s%s"
			     "Content-Length: ",
			     c->tgt->path, c->tgt->hosthdr, sid ? "Mcp-Session-Id: " : "", sid ? sid : "",
			     sid ? "\r\n" : "", sid ? "MCP-Protocol-Version: " LG_MCP_PROTOCOL "\r\n" : "");
	c->head_len = (size_t)k;
	c->head_has_sid = sid != NULL;
	snprintf(c->head_sid, sizeof(c->head_sid), "%s", sid ? sid : "");
	snprintf(c->head_tool, sizeof(c->head_tool), "%s", tool ? tool : "");
	c->head_made = true;
}

static bool head_fits(const struct lg_conn *c, const char *sid, const char *tool)
{
	if (!c->head_made || c->head_has_sid != (sid != NULL) || (sid && strcmp(c->head_sid, sid) != 0))
		return false;
	return tool ? !strcmp(c->head_tool, tool) : !c->head_tool[0];
}

static struct lg_req *post(struct lg_conn *c, const char *sid, const char *tool, const char *body, size_t blen,
			   uint8_t type)
{
	char tail[32];
	size_t n;
	struct lg_req *r;

	if (c->dead) {
		/* A keep-alive connection the server closed while idle: open a new one. */
		lg_cstat.reconnects++;
		if (lg_conn_connect(c) < 0)
			return NULL;
	}
	/* the head is formatted once per session id (and tool): it is on every request */
	if (!head_fits(c, sid, tool))
		make_head(c, sid, tool);
	n = lg_fmt_u64(tail, blen);
	memcpy(tail + n, "\r\n\r\n", 4);
	lg_conn_write(c, c->head, c->head_len);
	lg_conn_write(c, tail, n + 4);
	lg_conn_write(c, body, blen);
	r = lg_conn_push(c, type);
	r->t_sent = lg_now_ns();
	lg_conn_flush(c);
	return r;
}

struct lg_req *lg_http_post(struct lg_conn *c, const char *sid, const char *body, size_t blen, uint8_t type)
{
	return post(c, sid, NULL, body, blen, type);
}

struct lg_req *lg_http_post_tool(struct lg_conn *c, const char *tool, const char *body, size_t blen, uint8_t type)
{
	return post(c, NULL, tool, body, blen, type);
}

void lg_http_get(struct lg_conn *c, const char *sid)
{
	char head[512];
	int n;

	n = snprintf(head, sizeof(head),
		     "GET %s HTTP/1.1\r\nHost: %s\r\nAccept: text/event-stream\r\nMcp-Session-Id: %s\r\n"
		     "MCP-Protocol-Version: " LG_MCP_PROTOCOL "\r\n\r\n",
		     c->tgt->path, c->tgt->hosthdr, sid);
	lg_conn_write(c, head, (size_t)n);
	lg_conn_push(c, LG_T_GET)->t_sent = lg_now_ns();
	lg_conn_flush(c);
}

/* ---------------------------------------------------------------- SSE */

static void sse_post_event(struct lg_conn *c, const char *data, size_t len);

/* One line of an event; only data: is needed (id:, event:, retry: and comments are not). */
static void sse_line(struct lg_conn *c, const char *line, size_t ll)
{
	if (ll == 0) {
		if (c->evlen && c->sse_post)
			sse_post_event(c, c->ev, c->evlen);
		else if (c->evlen)
			lg_conn_on->sse_event(c, c->ev, c->evlen, lg_loop_now);
		c->evlen = 0;
	} else if (ll >= 5 && !memcmp(line, "data:", 5)) {
		line += 5, ll -= 5;
		if (ll && *line == ' ')
			line++, ll--;
		if (c->evlen)
			lg_buf_add(&c->ev, &c->evlen, &c->evcap, "\n", 1);
		lg_buf_add(&c->ev, &c->evlen, &c->evcap, line, ll);
	}
}

/* Feeds stream body bytes to the SSE parser: events end at an empty line. */
static void sse_feed(struct lg_conn *c, const char *p, size_t n)
{
	size_t pos = 0;

	lg_buf_add(&c->sb, &c->slen, &c->scap, p, n);
	for (;;) {
		char *nl = memchr(c->sb + pos, '\n', c->slen - pos);
		const char *line;
		size_t ll;

		if (!nl)
			break;
		line = c->sb + pos;
		ll = (size_t)(nl - line);
		pos += ll + 1;
		if (ll && line[ll - 1] == '\r')
			ll--;
		sse_line(c, line, ll);
	}
	if (pos) {
		memmove(c->sb, c->sb + pos, c->slen - pos);
		c->slen -= pos;
	}
}

/* ---------------------------------------------------------------- responses */

void lg_http_reset(struct lg_conn *c)
{
	c->ps = P_HEAD;
	c->slen = c->blen = 0;
	c->streaming = c->sse_post = false;
}

static bool hdr_is(const char *line, size_t ll, const char *name, const char **val, size_t *vl)
{
	size_t nl = strlen(name);

	if (ll <= nl || strncasecmp(line, name, nl) || line[nl] != ':')
		return false;
	line += nl + 1, ll -= nl + 1;
	while (ll && (*line == ' ' || *line == '\t'))
		line++, ll--;
	while (ll && (line[ll - 1] == ' ' || line[ll - 1] == '\t'))
		ll--;
	*val = line;
	*vl = ll;
	return true;
}

/* The answer to the oldest request is complete. */
static void complete(struct lg_conn *c, const char *body, size_t blen)
{
	struct lg_req r;

	if (!lg_conn_pop(c, &r)) {
		lg_cstat.proto_errors++;
		return;
	}
	c->ps = P_HEAD;
	lg_conn_on->response(c, &r, c->status, body, blen);
}

/* An event of a POST's text/event-stream answer: the first JSON-RPC response in it is the answer
 * (progress notifications and the like before it are not). The stream's end then only ends it. */
static void sse_post_event(struct lg_conn *c, const char *data, size_t len)
{
	struct lg_req r;

	if (c->sse_answered || !memmem(data, len, "\"id\"", 4) ||
	    (!memmem(data, len, "\"result\"", 8) && !memmem(data, len, "\"error\"", 7)))
		return;
	if (!lg_conn_pop(c, &r)) {
		lg_cstat.proto_errors++;
		return;
	}
	c->sse_answered = true;
	lg_conn_on->response(c, &r, c->status, data, len);
}

/* A stream body ended: a push stream has no body to hand over; an event-stream answer to a POST
 * was handed over already, unless it ended without one. */
static void stream_done(struct lg_conn *c)
{
	static const char none[] = "{\"error\":{\"message\":\"the event stream ended without a JSON-RPC response\"}}";
	bool was_post = c->sse_post, answered = c->sse_answered;

	c->streaming = c->sse_post = false;
	if (!was_post)
		complete(c, "", 0);
	else if (!answered)
		complete(c, none, sizeof(none) - 1);
	else
		c->ps = P_HEAD;
}

/* A chunked or close-delimited body ends. */
static void complete_body(struct lg_conn *c)
{
	if (c->streaming)
		stream_done(c);
	else
		complete(c, c->body, c->blen);
}

static void body_bytes(struct lg_conn *c, const char *p, size_t n)
{
	if (c->streaming)
		sse_feed(c, p, n);
	else
		lg_buf_add(&c->body, &c->blen, &c->bcap, p, n);
}

/* The status line and the headers this client needs; end points at the blank line. */
static void read_head(struct lg_conn *c, const char *s, const char *end)
{
	const char *line, *nl, *v;
	size_t vl;

	c->status = atoi(s + 9);
	c->clen = -1;
	c->chunked = false;
	c->sid[0] = 0;
	c->is_sse = false;
	line = memchr(s, '\n', (size_t)(end + 2 - s));
	for (line = line + 1; line < end; line = nl + 1) {
		size_t ll;

		nl = memchr(line, '\n', (size_t)(end + 2 - line));
		ll = (size_t)(nl - line);
		if (ll && line[ll - 1] == '\r')
			ll--;
		if (hdr_is(line, ll, "content-length", &v, &vl))
			c->clen = strtoll(v, NULL, 10);
		else if (hdr_is(line, ll, "transfer-encoding", &v, &vl))
			c->chunked = vl >= 7 && !strncasecmp(v + vl - 7, "chunked", 7);
		else if (hdr_is(line, ll, "content-type", &v, &vl))
			c->is_sse = vl >= 17 && !strncasecmp(v, "text/event-stream", 17);
		else if (hdr_is(line, ll, "mcp-session-id", &v, &vl) && vl < sizeof(c->sid)) {
			memcpy(c->sid, v, vl);
			c->sid[vl] = 0;
		}
	}
}

static uint8_t body_state(const struct lg_conn *c)
{
	return c->chunked ? P_CH_SIZE : c->clen >= 0 ? P_CL : P_EOF;
}

/* After the head: a push stream starts, an answer without a body completes, or a body follows. */
static void begin_body(struct lg_conn *c)
{
	bool is_get;

	c->blen = 0;
	if (c->status == 100)
		return;
	is_get = c->qn && c->q[c->qh].type == LG_T_GET;
	if (is_get && c->status == 200) {
		c->streaming = true;
		c->evlen = c->slen = 0;
		lg_conn_on->stream_head(c, c->status);
		if (c->dead)
			return;
		c->ps = body_state(c);
		if (c->ps == P_CL && c->clen == 0) {
			c->streaming = false;
			complete(c, "", 0);
		}
		return;
	}
	if (is_get)
		lg_conn_on->stream_head(c, c->status);
	if (c->dead)
		return;
	if (!is_get && c->is_sse && c->status == 200 && c->clen != 0) {
		/* an answer streamed as events (a waiting tools/call) */
		c->streaming = c->sse_post = true;
		c->sse_answered = false;
		c->evlen = c->slen = 0;
		c->ps = body_state(c);
		return;
	}
	if (c->status == 204 || c->status == 304 || c->clen == 0) {
		complete(c, "", 0);
		return;
	}
	c->ps = body_state(c);
}

/* Each state parser below returns the bytes it used, 0 when it needs more. */
static size_t parse_head(struct lg_conn *c, const char *s, size_t avail)
{
	const char *end = memmem(s, avail, "\r\n\r\n", 4);

	if (!end)
		return 0;
	if (avail < 12 || memcmp(s, "HTTP/1.", 7)) {
		lg_cstat.proto_errors++;
		lg_conn_close(c);
		return avail;
	}
	read_head(c, s, end);
	begin_body(c);
	return (size_t)(end + 4 - s);
}

static size_t parse_length(struct lg_conn *c, const char *s, size_t avail)
{
	size_t k, clen = (size_t)c->clen;

	if (c->streaming) {
		k = avail < clen ? avail : clen;
		sse_feed(c, s, k);
		c->clen -= (int64_t)k;
		if (!c->clen)
			stream_done(c);
		return k;
	}
	if (c->blen == 0 && avail >= clen) {
		/* the whole body is here: no copy */
		complete(c, s, clen);
		return clen;
	}
	k = clen - c->blen;
	if (k > avail)
		k = avail;
	lg_buf_add(&c->body, &c->blen, &c->bcap, s, k);
	if (c->blen == clen)
		complete(c, c->body, c->blen);
	return k;
}

static size_t parse_chunk_data(struct lg_conn *c, const char *s, size_t avail)
{
	size_t k = avail < (size_t)c->chunk_left ? avail : (size_t)c->chunk_left;

	body_bytes(c, s, k);
	c->chunk_left -= (int64_t)k;
	if (!c->chunk_left)
		c->ps = P_CH_CRLF;
	return k;
}

/* The line-based states: chunk size, the CRLF after a chunk, the trailer. */
static size_t parse_chunk_line(struct lg_conn *c, const char *s, size_t avail)
{
	const char *nl = memchr(s, '\n', avail);

	if (!nl)
		return 0;
	switch (c->ps) {
	case P_CH_SIZE:
		c->chunk_left = strtoll(s, NULL, 16);
		c->ps = c->chunk_left ? P_CH_DATA : P_CH_TRAILER;
		break;
	case P_CH_CRLF:
		c->ps = P_CH_SIZE;
		break;
	default: /* P_CH_TRAILER: an empty line ends it */
		if (nl == s || (nl == s + 1 && *s == '\r'))
			complete_body(c);
		break;
	}
	return (size_t)(nl - s) + 1;
}

size_t lg_http_parse(struct lg_conn *c, const char *p, size_t n)
{
	size_t pos = 0, k;

	while (pos < n && !c->dead) {
		const char *s = p + pos;
		size_t avail = n - pos;

		switch (c->ps) {
		case P_HEAD:
			k = parse_head(c, s, avail);
			break;
		case P_CL:
			k = parse_length(c, s, avail);
			break;
		case P_CH_DATA:
			k = parse_chunk_data(c, s, avail);
			break;
		case P_EOF:
			body_bytes(c, s, avail);
			k = avail;
			break;
		default:
			k = parse_chunk_line(c, s, avail);
			break;
		}
		if (!k)
			break;
		pos += k;
	}
	return pos;
}

void lg_http_eof(struct lg_conn *c)
{
	if (c->ps == P_EOF && c->qn)
		complete_body(c);
}
