#include "fuzz_common.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "chat/tools.h"
#include "conformance/fixtures.h"
#include "mcp/jsonrpc.h"
#include "util/log.h"


#define LOG_CAP (16u << 20)

void fz_fail(const char *file, int line, const char *cond, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "\n==FUZZ CHECK FAILED== %s:%d: %s\n  ", file, line, cond);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n");
	abort();
}

void fz_dump(const char *p, size_t len)
{
	for (size_t i = 0; i < len && i < 6000; i++) {
		unsigned char c = (unsigned char)p[i];

		if (c == '\n' || (c >= 0x20 && c < 0x7f))
			fputc(c, stderr);
		else
			fprintf(stderr, "\\x%02x", c);
	}
	fputs("\n---\n", stderr);
}

void fz_quiet(void)
{
	log_set_level(LOG_LVL_ERR);
}

/* World */

void fz_config(struct config *cfg)
{
	config_defaults(cfg);
	cfg->max_sessions = 2500;
	cfg->max_send_queue = 16384;
	cfg->mailbox_events = 16;
	cfg->session_idle_timeout_ms = 86400u * 1000; /* never within a timer_run jump */
	cfg->sse_keepalive_ms = 3600u * 1000;
	cfg->rate_per_second = 1e9;
	cfg->rate_burst = 1e9;
}

void fz_world_up(struct fz_world *w)
{
	memset(w, 0, sizeof(*w));
	fz_config(&w->cfg);
	timer_heap_init(&w->heap);
	w->srv = mcp_server_new(&w->cfg, &w->heap);
	FZ_CHECK(w->srv, "mcp_server_new failed");
	w->chat = chat_tools_register(w->srv, &w->cfg, &w->heap);
	FZ_CHECK(w->chat, "tools_register failed");
	/* The conformance fixtures too: templates, blobs, prompt arguments, completion,
	 * subscriptions, streamed notifications and requests to the client get fuzzed. */
	conformance_fixtures_register(w->srv);
}

void fz_world_down(struct fz_world *w)
{
	if (!w->srv)
		return;
	mcp_server_free(w->srv);
	chat_tools_free(w->chat);
	timer_heap_free(&w->heap);
	memset(w, 0, sizeof(*w));
}

/* Fake sink */

static struct fz_sink *fz_of(struct mcp_sink *s)
{
	return container_of(s, struct fz_sink, sink);
}

static struct buf *op_out(struct mcp_sink *s)
{
	return &fz_of(s)->out;
}

static void log_bytes(struct fz_sink *f, const char *p, size_t n)
{
	if (f->truncated || f->log.len + n > LOG_CAP) {
		f->truncated = true;
		return;
	}
	buf_append(&f->log, p, n);
}

/* As server.c: over the send queue the connection is dropped (-ENOBUFS, the bytes are
 * lost), and a dropped connection takes nothing more (-EPIPE). */
static int op_commit(struct mcp_sink *s)
{
	struct fz_sink *f = fz_of(s);

	FZ_CHECK(!f->closed, "commit on a sink mcp was told is closed");
	if (f->aborted) {
		f->out.len = 0;
		return -EPIPE;
	}
	if (f->slow && f->out.len + (f->committed - f->sent) > f->cfg->max_send_queue) {
		f->out.len = 0;
		f->aborted = true;
		return -ENOBUFS;
	}
	log_bytes(f, f->out.p, f->out.len);
	f->committed += f->out.len;
	f->out.len = 0;
	if (!f->slow)
		f->sent = f->committed;
	return 0;
}

static void op_resume(struct mcp_sink *s, bool keep_alive)
{
	struct fz_sink *f = fz_of(s);

	FZ_CHECK(!f->closed, "resume on a closed sink");
	FZ_CHECK(!s->call && !s->stream_of, "resume while mcp still holds the sink");
	f->resumed = true;
	f->keep_alive = keep_alive;
}

static uint64_t op_queued(struct mcp_sink *s)
{
	struct fz_sink *f = fz_of(s);

	return f->committed + f->out.len;
}

static uint64_t op_sent(struct mcp_sink *s)
{
	return fz_of(s)->sent;
}

/* The client stopped reading: the connection is dropped with what it had queued. */
static void op_abort(struct mcp_sink *s)
{
	struct fz_sink *f = fz_of(s);

	FZ_CHECK(!f->closed, "abort on a closed sink");
	f->out.len = 0;
	f->aborted = true;
}

static const struct mcp_sink_ops fz_ops = {
	.out = op_out,
	.commit = op_commit,
	.resume = op_resume,
	.queued = op_queued,
	.sent = op_sent,
	.abort = op_abort,
};

void fz_sink_init(struct fz_sink *s, const struct config *cfg, bool slow)
{
	memset(s, 0, sizeof(*s));
	s->sink.ops = &fz_ops;
	s->cfg = cfg;
	s->slow = slow;
}

void fz_sink_expect(struct fz_sink *s, enum fz_kind kind)
{
	FZ_CHECK(s->n_req < FZ_MAX_REQ, "harness: too many requests on one sink");
	s->kinds[s->n_req++] = (uint8_t)kind;
}

void fz_sink_flush(struct mcp_server *srv, struct fz_sink *s)
{
	if (s->closed)
		return;
	s->sent += s->slow ? (s->committed - s->sent + 1) / 2 : s->committed - s->sent;
	if (s->sent > s->committed)
		s->sent = s->committed;
	if (s->sink.stream_of)
		mcp_sink_sent(srv, &s->sink);
}

void fz_sink_close(struct mcp_server *srv, struct fz_sink *s)
{
	if (s->closed)
		return;
	s->open_at_close = s->sink.stream_of || s->sink.call;
	mcp_sink_closed(srv, &s->sink);
	FZ_CHECK(!s->sink.call && !s->sink.stream_of, "mcp kept a closed sink");
	s->closed = true;
}

void fz_sink_finish(struct fz_sink *s)
{
	/* FZ_NO_UTF8_CHECK=1: a known UTF-8 bug is reported; fuzz past it. */
	bool utf8 = !s->foreign_bytes && !getenv("FZ_NO_UTF8_CHECK");
	const char *why = fz_check_responses(s->log.p ? s->log.p : "", s->log.len, s->kinds,
					     s->n_req, s->aborted || s->truncated, s->open_at_close,
					     utf8);

	if (why) {
		fprintf(stderr, "--- %zu response bytes ---\n", s->log.len);
		fz_dump(s->log.p, s->log.len);
	}
	FZ_CHECK(!why, "bad response bytes: %s", why);
	buf_free(&s->out);
	buf_free(&s->log);
}

/* UTF-8 */

static size_t utf8_seq(const unsigned char *p, size_t left)
{
	unsigned c = p[0], len, cp, min;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		len = 2, cp = c & 0x1f, min = 0x80;
	else if (c >= 0xe0 && c <= 0xef)
		len = 3, cp = c & 0x0f, min = 0x800;
	else if (c >= 0xf0 && c <= 0xf4)
		len = 4, cp = c & 0x07, min = 0x10000;
	else
		return 0;
	if (len > left)
		return 0;
	for (unsigned i = 1; i < len; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (p[i] & 0x3f);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

bool fz_utf8_valid(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;

	for (size_t i = 0; i < len;) {
		size_t n = utf8_seq(p + i, len - i);

		if (!n)
			return false;
		i += n;
	}
	return true;
}

/* Response checker */

struct rd {
	const char *p;
	size_t len, off;
	bool may_truncate, open_last, last, utf8;
	const char *why;
};

static char msg[160]; /* what fz_check_responses returns */

struct head {
	int status;
	long length; /* -1: chunked */
	bool close, json, sse;
};

static bool bad(struct rd *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static bool bad(struct rd *r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	snprintf(msg + strlen(msg), sizeof(msg) - strlen(msg), " (at byte %zu)", r->off);
	r->why = msg;
	return false;
}

/* The bytes ran out: fine only when the log may be cut short. */
static bool short_read(struct rd *r, const char *what)
{
	if (r->may_truncate) {
		r->off = r->len;
		return false;
	}
	return bad(r, "bytes end inside %s", what);
}

static bool header_line(struct head *h, const char *l, size_t n)
{
	static const char cl[] = "Content-Length: ", te[] = "Transfer-Encoding: chunked";
	static const char ct[] = "Content-Type: ", conn[] = "Connection: close";

	if (n > sizeof(cl) - 1 && strncasecmp(l, cl, sizeof(cl) - 1) == 0) {
		if (h->length != -2)
			return false;
		h->length = strtol(l + sizeof(cl) - 1, NULL, 10);
		return h->length >= 0;
	}
	if (n == sizeof(te) - 1 && strncasecmp(l, te, n) == 0) {
		if (h->length != -2)
			return false;
		h->length = -1;
	} else if (n > sizeof(ct) - 1 && strncasecmp(l, ct, sizeof(ct) - 1) == 0) {
		h->json = strncmp(l + sizeof(ct) - 1, "application/json", 16) == 0;
		h->sse = strncmp(l + sizeof(ct) - 1, "text/event-stream", 17) == 0;
	} else if (n == sizeof(conn) - 1 && strncasecmp(l, conn, n) == 0) {
		h->close = true;
	}
	return memchr(l, ':', n) != NULL;
}

static bool parse_head(struct rd *r, struct head *h)
{
	const char *p = r->p + r->off, *end;
	size_t left = r->len - r->off;

	memset(h, 0, sizeof(*h));
	h->length = -2;
	end = memmem(p, left, "\r\n\r\n", 4);
	if (!end)
		return short_read(r, "a response head");
	if (left < 13 || memcmp(p, "HTTP/1.1 ", 9) != 0 || p[9] < '1' || p[9] > '5' ||
	    p[10] < '0' || p[10] > '9' || p[11] < '0' || p[11] > '9' || p[12] != ' ')
		return bad(r, "response does not start with \"HTTP/1.1 NNN \"");
	h->status = (p[9] - '0') * 100 + (p[10] - '0') * 10 + (p[11] - '0');
	if (strncmp(p + 13, "Unknown", 7) == 0)
		return bad(r, "status %d has no reason phrase", h->status);
	for (const char *l = strstr(p, "\r\n") + 2; l < end + 2;) {
		const char *e = memmem(l, (size_t)(end + 2 - l), "\r\n", 2);

		if (!header_line(h, l, (size_t)(e - l)))
			return bad(r, "malformed or conflicting header line");
		l = e + 2;
	}
	if (h->length == -2)
		return bad(r, "response %d has neither Content-Length nor chunked coding", h->status);
	r->off = (size_t)(end - r->p) + 4;
	return true;
}

static bool check_json(struct rd *r, const char *p, size_t n, bool object_only)
{
	cJSON *j, *v;
	bool ok;

	char *copy;

	if (r->utf8 && !fz_utf8_valid(p, n))
		return bad(r, "JSON is not valid UTF-8 (the client sent only UTF-8)");
	/* A lone surrogate escape echoed from the client (\udc00) is JSON by RFC 8259's grammar,
	 * but cJSON refuses it: rewrite those as the daemon does before parsing. */
	copy = malloc(n + 1);
	if (!copy)
		return bad(r, "out of memory");
	memcpy(copy, p, n);
	j = cJSON_ParseWithLength(copy, jsonrpc_fix_escapes(copy, n));
	free(copy);
	if (!j)
		return bad(r, "body is not JSON: %.60s", p);
	ok = cJSON_IsObject(j) || (!object_only && cJSON_IsArray(j) && cJSON_GetArraySize(j) > 0);
	v = cJSON_IsArray(j) ? cJSON_GetArrayItem(j, 0) : j;
	ok = ok && cJSON_IsString(cJSON_GetObjectItemCaseSensitive(v, "jsonrpc")) &&
	     strcmp(cJSON_GetObjectItemCaseSensitive(v, "jsonrpc")->valuestring, "2.0") == 0;
	cJSON_Delete(j);
	return ok ? true : bad(r, "body is not a JSON-RPC message: %.60s", p);
}

/* "id: " and what follows: a push stream's seq, or a POST stream's "N-M" (resume.c), whose M
 * counts as M + 1 here. Either must grow within the stream. Returns the line's end or NULL. */
static const char *sse_id(const char *p, unsigned long long *id)
{
	char *e;

	*id = strtoull(p + 4, &e, 10);
	if (*e == '-' && *id > 0 && e[1] >= '0' && e[1] <= '9')
		*id = strtoull(e + 1, &e, 10) + 1;
	else if (*id == 0)
		return NULL;
	return *e == '\n' ? e : NULL;
}

/* One SSE event or comment; an event's id must grow within the stream. A priming event
 * (id, retry, empty data) opens a resumable POST stream. */
static bool check_sse(struct rd *r, const char *p, size_t n, uint64_t *last_id)
{
	const char *data;
	bool retry = false;

	if (n < 3 || p[n - 1] != '\n' || p[n - 2] != '\n')
		return bad(r, "SSE chunk does not end with a blank line");
	if (p[0] == ':')
		return memchr(p, '\n', n - 2) ? bad(r, "SSE comment spans lines") : true;
	if (strncmp(p, "id: ", 4) == 0) {
		unsigned long long id;
		const char *e = sse_id(p, &id);

		if (!e || id <= *last_id)
			return bad(r, "SSE id %llu after %llu", id, (unsigned long long)*last_id);
		*last_id = id;
		n -= (size_t)(e + 1 - p);
		p = e + 1;
		if (n > 7 && strncmp(p, "retry: ", 7) == 0) {
			size_t digits = strspn(p + 7, "0123456789");

			if (digits == 0 || p[7 + digits] != '\n')
				return bad(r, "SSE retry line");
			n -= 8 + digits;
			p += 8 + digits;
			retry = true;
		}
	}
	if (retry && n == 8 && strncmp(p, "data: \n\n", 8) == 0)
		return *last_id == 1 ? true : bad(r, "SSE priming event that is not event 0");
	if (n < 8 || strncmp(p, "data: ", 6) != 0)
		return bad(r, "SSE event without a data line");
	data = p + 6;
	if (memchr(data, '\n', n - 8))
		return bad(r, "SSE data spans lines");
	return check_json(r, data, n - 8, true);
}

static bool read_chunk(struct rd *r, const char **data, size_t *n)
{
	const char *p = r->p + r->off, *e;
	size_t left = r->len - r->off, digits;

	e = memmem(p, left, "\r\n", 2);
	if (!e)
		return short_read(r, "a chunk size");
	digits = strspn(p, "0123456789abcdef");
	if (digits == 0 || digits > 8 || p + digits != e)
		return bad(r, "bad chunk size line");
	*n = strtoul(p, NULL, 16);
	if (left < digits + 2 + *n + 2)
		return short_read(r, "a chunk");
	*data = e + 2;
	if (memcmp(*data + *n, "\r\n", 2) != 0)
		return bad(r, "chunk not followed by CRLF");
	r->off += digits + 2 + *n + 2;
	return true;
}

static bool check_chunked(struct rd *r, const struct head *h)
{
	uint64_t last_id = 0;

	if (!h->sse)
		return bad(r, "chunked response that is not text/event-stream");
	for (;;) {
		const char *data;
		size_t n;

		if (r->off == r->len && r->last && r->open_last)
			return true; /* the stream was still running when the connection closed */
		if (r->off == r->len)
			return short_read(r, "an open stream");
		if (!read_chunk(r, &data, &n))
			return false;
		if (n == 0)
			return true;
		if (!check_sse(r, data, n, &last_id))
			return false;
	}
}

static bool check_one(struct rd *r, enum fz_kind kind, bool *closed)
{
	struct head h;

	if (!parse_head(r, &h))
		return false;
	*closed = h.close;
	if (h.length < 0)
		return check_chunked(r, &h);
	if (kind == FZ_REQ_HEAD)
		return true;
	if ((size_t)h.length > r->len - r->off)
		return short_read(r, "a body");
	if (h.length > 0 && (!h.json || !check_json(r, r->p + r->off, (size_t)h.length, false)))
		return r->why ? false : bad(r, "body of %d is not application/json", h.status);
	if (h.length == 0 && h.status != 202 && !(h.status == 200 && h.json))
		return bad(r, "empty body with status %d", h.status);
	r->off += (size_t)h.length;
	return true;
}

const char *fz_check_responses(const char *p, size_t len, const uint8_t *kinds, size_t n,
			       bool may_truncate, bool open_last, bool utf8)
{
	struct rd r = { .p = p, .len = len, .may_truncate = may_truncate, .open_last = open_last,
			.utf8 = utf8 };
	bool closed = false;

	for (size_t i = 0; i < n; i++) {
		if (r.off == r.len && r.may_truncate)
			return NULL;
		if (closed)
			return bad(&r, "response after Connection: close"), r.why;
		if (r.off == r.len)
			return bad(&r, "no response for request %zu of %zu", i + 1, n), r.why;
		r.last = i + 1 == n;
		if (!check_one(&r, (enum fz_kind)kinds[i], &closed))
			return r.why;
	}
	if (r.off != r.len)
		return bad(&r, "%zu bytes after the last response", r.len - r.off), r.why;
	return NULL;
}

/* Sessions */

static struct http_request post_req(const char *sid, const char *body)
{
	struct http_request r = {
		.method = HTTP_M_POST,
		.method_name = "POST",
		.path = "/mcp",
		.host = "localhost:8808",
		.content_type = "application/json",
		.session_id = sid,
		.has_accept = true,
		.accept_json = true,
		.accept_sse = true,
		.keep_alive = true,
		.body = body,
		.body_len = strlen(body),
	};

	return r;
}

enum mcp_disposition fz_post(struct fz_world *w, const char *sid, const char *body,
			     struct buf *resp)
{
	struct http_request req = post_req(sid, body);
	struct fz_sink s;
	enum mcp_disposition d;

	fz_sink_init(&s, &w->cfg, false);
	fz_sink_expect(&s, FZ_REQ_BODY);
	d = mcp_handle(w->srv, &req, &s.sink);
	fz_sink_close(w->srv, &s);
	if (resp) /* a copy: fz_sink_finish checks the bytes and frees them */
		buf_append(resp, s.log.p ? s.log.p : "", s.log.len);
	fz_sink_finish(&s);
	return d;
}

struct mcp_session *fz_session_new(struct fz_world *w)
{
	static const char init[] =
		"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":{"
		"\"protocolVersion\":\"2025-11-25\",\"capabilities\":{},"
		"\"clientInfo\":{\"name\":\"fuzz\",\"version\":\"1\"}}}";
	struct mcp_sessions *t = (&w->srv->sessions);
	uint32_t before = t->count;

	fz_post(w, NULL, init, NULL);
	return t->count > before ? t->all : NULL;
}

void fz_check_quiet_world(struct fz_world *w)
{
	struct mcp_sessions *t = (&w->srv->sessions);
	struct mcp_stats st;
	uint32_t n = 0;

	mcp_server_stats(w->srv, &st);
	FZ_CHECK(st.streams == 0 && st.calls_waiting == 0, "streams %u calls %u with no connection",
		 st.streams, st.calls_waiting);
	for (struct mcp_session *s = t->all; s; s = s->next_all, n++) {
		const struct mailbox *mb = &s->mbox;

		FZ_CHECK(!s->stream && !s->calls && s->busy == 0 && !s->ended,
			 "session %s: stream %p calls %p busy %u ended %d", s->handle,
			 (void *)s->stream, (void *)s->calls, s->busy, s->ended);
		FZ_CHECK(mb->acked <= mb->last, "mailbox acked %llu > last %llu",
			 (unsigned long long)mb->acked, (unsigned long long)mb->last);
		FZ_CHECK(mb->count == 0 || mb->first + mb->count - 1 == mb->last,
			 "mailbox holes: first %llu count %u last %llu",
			 (unsigned long long)mb->first, mb->count, (unsigned long long)mb->last);
		FZ_CHECK(mcp_sessions_find(t, s->id) == s, "session %s not found by id", s->handle);
	}
	FZ_CHECK(n == t->count, "session list has %u, count says %u", n, t->count);
}
