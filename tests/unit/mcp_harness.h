#ifndef MCPCHAT_TESTS_MCP_HARNESS_H
#define MCPCHAT_TESTS_MCP_HARNESS_H

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <mcpchat/version.h>

#include "chat/tools.h"
#include "config.h"
#include "mcp/internal.h"
#include "mcp/jsonrpc.h"
#include "mcp/mcp.h"
#include "net/timer.h"
#include "unit.h"
#include "util/buf.h"

/* The MCP layer without sockets, shared by the suites that drive mcp_handle (test_mcp*.c for
 * the 2025 sessions, test_modern*.c for 2026-07-28): one server world per test with the chat
 * tools registered, fake sinks capturing the HTTP bytes, request builders, the parsing of
 * answers and SSE streams, JSON getters. Header-only like unit.h: every suite is one
 * executable of one file. Timers run on the real clock; a test "advances" it by running the
 * heap at a later time (timer_run(&W.heap, timer_now_ms() + ms)), or, for timers that re-arm
 * themselves relative to the clock (keep-alives), by a 1 ms interval and a short sleep. */

#define MAX_SINKS 16
#define MAX_EVENTS 64
#define NEWEST "2025-11-25"

struct fake_sink {
	struct mcp_sink sink;
	struct buf out;    /* bytes appended and not yet taken by the test */
	uint64_t taken;    /* bytes appended and already taken (dropped from out) */
	uint64_t sent;     /* bytes "handed to the kernel": only the test moves it */
	int commits;
	int resumes;
	int aborts;
	bool resume_keep_alive;
	bool fail_commit;  /* commit() answers -ENOBUFS */
	bool in_use;
};

/* One server world per test. */
static struct mcp_world {
	struct config cfg;
	struct timer_heap heap;
	struct mcp_server *srv;
	struct chat *chat;
	struct fake_sink sinks[MAX_SINKS];
} W;

/* Fake sink */

static inline struct fake_sink *fake_of(struct mcp_sink *s)
{
	return container_of(s, struct fake_sink, sink);
}

static inline struct buf *fake_out(struct mcp_sink *s)
{
	return &fake_of(s)->out;
}

static inline int fake_commit(struct mcp_sink *s)
{
	struct fake_sink *f = fake_of(s);

	f->commits++;
	return f->fail_commit ? -ENOBUFS : 0;
}

static inline void fake_resume(struct mcp_sink *s, bool keep_alive)
{
	struct fake_sink *f = fake_of(s);

	f->resumes++;
	f->resume_keep_alive = keep_alive;
}

/* Everything ever appended, taken or not (the test takes bytes without sending them). */
static inline uint64_t fake_queued(struct mcp_sink *s)
{
	struct fake_sink *f = fake_of(s);

	return f->taken + f->out.len;
}

static inline uint64_t fake_sent(struct mcp_sink *s)
{
	return fake_of(s)->sent;
}

static inline void fake_abort(struct mcp_sink *s)
{
	fake_of(s)->aborts++;
}

static const struct mcp_sink_ops fake_ops = { fake_out,	   fake_commit, fake_resume,
					      fake_queued, fake_sent,	fake_abort };

static inline struct fake_sink *sink_new(void)
{
	for (int i = 0; i < MAX_SINKS; i++) {
		struct fake_sink *f = &W.sinks[i];

		if (f->in_use)
			continue;
		memset(f, 0, sizeof(*f));
		f->sink.ops = &fake_ops;
		f->in_use = true;
		return f;
	}
	CU_FAIL_FATAL("out of fake sinks");
	return NULL;
}

/* The test reads (or drops) what the sink got: it stays counted as queued. */
static inline void drop_out(struct fake_sink *f)
{
	f->taken += f->out.len;
	buf_free(&f->out);
}

/* The kernel took the first n bytes ever queued: what the I/O layer reports after a send. */
static inline void sink_sent_upto(struct fake_sink *f, uint64_t n)
{
	f->sent = n;
	mcp_sink_sent(W.srv, &f->sink);
}

/* Everything queued so far went out. */
static inline void flush_sink(struct fake_sink *f)
{
	sink_sent_upto(f, fake_queued(&f->sink));
}

/* The connection closes: what the I/O layer does. */
static inline void sink_close(struct fake_sink *f)
{
	mcp_sink_closed(W.srv, &f->sink);
	buf_free(&f->out);
	f->in_use = false;
}

/* Forgets a sink whose connection mcp already let go of. */
static inline void sink_release(struct fake_sink *f)
{
	buf_free(&f->out);
	f->in_use = false;
}

/* World */

static inline void world_up(uint32_t max_sessions)
{
	memset(&W, 0, sizeof(W));
	config_defaults(&W.cfg);
	W.cfg.max_sessions = max_sessions;
	timer_heap_init(&W.heap);
	W.srv = mcp_server_new(&W.cfg, &W.heap);
	if (W.srv)
		W.chat = chat_tools_register(W.srv, &W.cfg, &W.heap);
}

static inline void world_down(void)
{
	mcp_server_free(W.srv);
	chat_tools_free(W.chat);
	timer_heap_free(&W.heap);
	for (int i = 0; i < MAX_SINKS; i++)
		buf_free(&W.sinks[i].out);
	memset(&W, 0, sizeof(W));
}

static inline void setup(void)
{
	world_up(100);
}

static inline void teardown(void)
{
	world_down();
}

static inline struct mcp_session *sess(const char *id)
{
	return mcp_sessions_find((&W.srv->sessions), id);
}

static inline struct mcp_stats stats(void)
{
	struct mcp_stats st;

	mcp_server_stats(W.srv, &st);
	return st;
}

/* JSON paths: "result.tools.0.name" */

static const cJSON *jget(const cJSON *o, const char *path)
{
	char key[64];

	while (o && *path) {
		size_t n = strcspn(path, ".");

		if (n >= sizeof(key))
			return NULL;
		memcpy(key, path, n);
		key[n] = '\0';
		if (cJSON_IsArray(o) && key[0] >= '0' && key[0] <= '9')
			o = cJSON_GetArrayItem(o, atoi(key));
		else
			o = cJSON_GetObjectItemCaseSensitive(o, key);
		path += n + (path[n] == '.');
	}
	return o;
}

static const char *jstr(const cJSON *o, const char *path)
{
	const cJSON *v = jget(o, path);

	return cJSON_IsString(v) ? v->valuestring : "<none>";
}

static inline double jnum(const cJSON *o, const char *path)
{
	const cJSON *v = jget(o, path);

	return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

/* HTTP bytes */

struct resp {
	int status; /* 0 when the bytes continue a stream (no head) */
	char head[2048];
	struct buf body; /* de-chunked */
	bool chunked;
	bool ended; /* the terminating chunk came */
};

static inline void resp_free(struct resp *r)
{
	buf_free(&r->body);
}

static inline bool header_get(const struct resp *r, const char *name, char *val, size_t cap)
{
	size_t n = strlen(name);

	for (const char *l = strstr(r->head, "\r\n"); l; l = strstr(l, "\r\n")) {
		const char *v, *e;

		l += 2;
		if (strncasecmp(l, name, n) != 0 || l[n] != ':')
			continue;
		for (v = l + n + 1; *v == ' '; v++)
			;
		e = strstr(v, "\r\n");
		if (!e || (size_t)(e - v) >= cap)
			return false;
		memcpy(val, v, (size_t)(e - v));
		val[e - v] = '\0';
		return true;
	}
	return false;
}

static inline bool header_is(const struct resp *r, const char *name, const char *want)
{
	char v[256];

	return header_get(r, name, v, sizeof(v)) && strcmp(v, want) == 0;
}

/* Decodes chunks; the terminating chunk must be the last thing. */
static inline bool dechunk(const char *p, size_t len, struct buf *out, bool *ended)
{
	size_t i = 0;

	*ended = false;
	while (i < len) {
		char *end;
		unsigned long n = strtoul(p + i, &end, 16);

		if (end == p + i || (size_t)(end - p) + 2 > len || memcmp(end, "\r\n", 2) != 0)
			return false;
		i = (size_t)(end - p) + 2;
		if (n == 0) {
			*ended = i + 2 == len && memcmp(p + i, "\r\n", 2) == 0;
			return *ended;
		}
		if (i + n + 2 > len || memcmp(p + i + n, "\r\n", 2) != 0)
			return false;
		buf_append(out, p + i, n);
		i += n + 2;
	}
	return true;
}

/* One response (or the continuation of a stream) that must fill p..p+len exactly. */
static inline bool resp_parse(const char *p, size_t len, struct resp *r)
{
	char cl[32];
	const char *end;
	size_t hl;

	memset(r, 0, sizeof(*r));
	if (len < 5 || strncmp(p, "HTTP/", 5) != 0) {
		r->chunked = true;
		return dechunk(p, len, &r->body, &r->ended);
	}
	end = memmem(p, len, "\r\n\r\n", 4);
	if (!end || sscanf(p, "HTTP/1.1 %d ", &r->status) != 1)
		return false;
	hl = (size_t)(end - p) + 2;
	if (hl >= sizeof(r->head))
		return false;
	memcpy(r->head, p, hl);
	r->head[hl] = '\0';
	p += hl + 2;
	len -= hl + 2;
	r->chunked = header_is(r, "Transfer-Encoding", "chunked");
	if (r->chunked)
		return dechunk(p, len, &r->body, &r->ended);
	if (!header_get(r, "Content-Length", cl, sizeof(cl)) || strtoul(cl, NULL, 10) != len)
		return false;
	buf_append(&r->body, p, len);
	return true;
}

/* SSE frames of a de-chunked body: events with JSON data, and comments. */
struct sse {
	int n, comments;
	uint64_t id[MAX_EVENTS];
	cJSON *msg[MAX_EVENTS];
};

static inline void sse_free(struct sse *e)
{
	for (int i = 0; i < e->n; i++)
		cJSON_Delete(e->msg[i]);
	memset(e, 0, sizeof(*e));
}

static inline bool sse_frame(const char *p, const char *f, struct sse *e)
{
	const char *data = NULL;
	size_t dlen = 0;
	uint64_t id = 0;
	bool comment = false;

	for (const char *l = p; l < f;) {
		const char *nl = memchr(l, '\n', (size_t)(f - l));

		if (!nl)
			nl = f;
		if (strncmp(l, "id: ", 4) == 0)
			id = strtoull(l + 4, NULL, 10);
		else if (strncmp(l, "data: ", 6) == 0)
			data = l + 6, dlen = (size_t)(nl - data);
		else if (l[0] == ':')
			comment = true;
		else
			return false;
		l = nl + 1;
	}
	if (!data) {
		e->comments += comment;
		return comment;
	}
	if (e->n == MAX_EVENTS || !(e->msg[e->n] = cJSON_ParseWithLength(data, dlen)))
		return false;
	e->id[e->n++] = id;
	return true;
}

static inline bool sse_parse(const struct buf *body, struct sse *e)
{
	const char *p = body->p, *end = body->p + body->len;

	memset(e, 0, sizeof(*e));
	while (p && p < end) {
		const char *f = memmem(p, (size_t)(end - p), "\n\n", 2);

		if (!f || !sse_frame(p, f, e))
			return false;
		p = f + 2;
	}
	return true;
}

/* Parses what the sink got since the last take, then forgets it. */
static inline void take(struct fake_sink *f, struct resp *r, struct sse *e)
{
	CU_ASSERT_TRUE(resp_parse(f->out.p ? f->out.p : "", f->out.len, r));
	if (e)
		CU_ASSERT_TRUE(sse_parse(&r->body, e));
	drop_out(f);
}

/* Requests */

struct reply {
	enum mcp_disposition d;
	struct resp r;
	cJSON *json;
};

static inline void reply_free(struct reply *rp)
{
	resp_free(&rp->r);
	cJSON_Delete(rp->json);
	memset(rp, 0, sizeof(*rp));
}

static inline struct http_request req_new(enum http_method_id m, const char *sid)
{
	static const char *const names[] = { "GET", "POST", "DELETE", "HEAD", "PUT" };
	struct http_request r = {
		.method = m,
		.method_name = names[m],
		.path = "/mcp",
		.host = "localhost:8808",
		.content_type = m == HTTP_M_POST ? "application/json" : NULL,
		.session_id = sid,
		.has_accept = true,
		.accept_json = m != HTTP_M_GET,
		.accept_sse = true,
		.keep_alive = true,
		.body = "",
		.body_len = 0,
	};

	return r;
}

static inline void req_body(struct http_request *r, const char *body)
{
	r->body = body;
	r->body_len = strlen(body);
}

static inline void send_on(const struct http_request *req, struct fake_sink *f, struct reply *rp)
{
	memset(rp, 0, sizeof(*rp));
	rp->d = mcp_handle(W.srv, req, &f->sink);
	take(f, &rp->r, NULL);
	if (rp->r.body.len && !rp->r.chunked)
		rp->json = cJSON_ParseWithLength(rp->r.body.p, rp->r.body.len);
}

/* A request answered at once on a connection of its own. */
static inline void do_req(const struct http_request *req, struct reply *rp)
{
	struct fake_sink *f = sink_new();

	send_on(req, f, rp);
	CU_ASSERT_EQUAL(f->resumes, 0);
	CU_ASSERT_PTR_NULL(f->sink.call);
	CU_ASSERT_PTR_NULL(f->sink.stream_of);
	sink_close(f);
}

static inline void post(const char *sid, const char *body, struct reply *rp)
{
	struct http_request req = req_new(HTTP_M_POST, sid);

	req_body(&req, body);
	do_req(&req, rp);
}

/* An HTTP-level refusal: status, and a JSON-RPC error with a null id. */
static inline void expect_refusal(const struct reply *rp, int status, int code)
{
	CU_ASSERT_EQUAL(rp->r.status, status);
	CU_ASSERT_EQUAL(rp->d, MCP_DONE);
	CU_ASSERT_TRUE(header_is(&rp->r, "Content-Type", "application/json"));
	CU_ASSERT_STRING_EQUAL(jstr(rp->json, "jsonrpc"), "2.0");
	CU_ASSERT_TRUE(cJSON_IsNull(jget(rp->json, "id")));
	CU_ASSERT_EQUAL(jnum(rp->json, "error.code"), code);
	CU_ASSERT_TRUE(strlen(jstr(rp->json, "error.message")) > 8);
}

/* A JSON-RPC answer (200) with this id and error code. */
static inline void expect_rpc_error(const struct reply *rp, double id, int code)
{
	CU_ASSERT_EQUAL(rp->r.status, 200);
	CU_ASSERT_EQUAL(jnum(rp->json, "id"), id);
	CU_ASSERT_EQUAL(jnum(rp->json, "error.code"), code);
	CU_ASSERT_PTR_NULL(jget(rp->json, "result"));
}

static inline void rpc(const char *sid, const char *method, const char *params, int id,
		       struct reply *rp)
{
	char body[1024];

	snprintf(body, sizeof(body), "{\"jsonrpc\":\"2.0\",\"id\":%d,\"method\":\"%s\"%s%s}", id,
		 method, params ? ",\"params\":" : "", params ? params : "");
	post(sid, body, rp);
}

static inline void init_version(const char *version, char id[MCP_SESSION_ID_LEN + 1], struct reply *rp)
{
	char body[512];

	snprintf(body, sizeof(body),
		 "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":{"
		 "\"protocolVersion\":\"%s\",\"capabilities\":{},"
		 "\"clientInfo\":{\"name\":\"unit\",\"version\":\"1\"}}}",
		 version);
	post(NULL, body, rp);
	CU_ASSERT_EQUAL_FATAL(rp->r.status, 200);
	CU_ASSERT_TRUE_FATAL(header_get(&rp->r, "Mcp-Session-Id", id, MCP_SESSION_ID_LEN + 1));
}

/* A new session at the newest version; its id goes to id. */
static inline struct mcp_session *init_session(char id[MCP_SESSION_ID_LEN + 1])
{
	struct reply rp;
	struct mcp_session *s;

	init_version(NEWEST, id, &rp);
	reply_free(&rp);
	s = sess(id);
	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	return s;
}

/* tools/call answered at once; returns the whole JSON-RPC answer (free it). */
static inline cJSON *call_tool(const char *sid, const char *name, const char *args)
{
	char params[768];
	struct reply rp;
	cJSON *j;

	snprintf(params, sizeof(params), "{\"name\":\"%s\",\"arguments\":%s}", name, args);
	rpc(sid, "tools/call", params, 42, &rp);
	CU_ASSERT_EQUAL(rp.r.status, 200);
	CU_ASSERT_EQUAL(rp.d, MCP_DONE);
	CU_ASSERT_EQUAL(jnum(rp.json, "id"), 42);
	j = rp.json;
	rp.json = NULL;
	reply_free(&rp);
	return j;
}

/* GET /mcp on a new sink. */
static inline struct fake_sink *open_get(const char *sid, const char *last_event_id,
					 enum mcp_disposition *d)
{
	struct fake_sink *f = sink_new();
	struct http_request req = req_new(HTTP_M_GET, sid);

	req.last_event_id = last_event_id;
	*d = mcp_handle(W.srv, &req, &f->sink);
	return f;
}

/* An open stream's head; its events go to e. */
static inline void expect_stream_head(struct fake_sink *f, struct sse *e)
{
	struct resp r;

	take(f, &r, e);
	CU_ASSERT_EQUAL(r.status, 200);
	CU_ASSERT_TRUE(header_is(&r, "Content-Type", "text/event-stream"));
	CU_ASSERT_TRUE(r.chunked);
	CU_ASSERT_FALSE(r.ended);
	resp_free(&r);
}

/* A stream (with its head) that is open and has nothing yet. */
static inline struct fake_sink *open_stream(const char *sid)
{
	enum mcp_disposition d;
	struct fake_sink *f = open_get(sid, NULL, &d);
	struct sse e;

	CU_ASSERT_EQUAL_FATAL(d, MCP_STREAMING);
	expect_stream_head(f, &e);
	CU_ASSERT_EQUAL(e.n, 0);
	sse_free(&e);
	return f;
}

/* The stream's new events since the last take (no head expected). */
static inline void stream_events(struct fake_sink *f, struct sse *e, bool *ended)
{
	struct resp r;

	take(f, &r, e);
	CU_ASSERT_EQUAL(r.status, 0);
	*ended = r.ended;
	resp_free(&r);
}

/* A parked call's SSE head, with nothing after it yet. */
static inline void expect_pending_head(struct fake_sink *f)
{
	struct resp r;

	take(f, &r, NULL);
	CU_ASSERT_EQUAL(r.status, 200);
	CU_ASSERT_TRUE(header_is(&r, "Content-Type", "text/event-stream"));
	CU_ASSERT_TRUE(r.chunked);
	CU_ASSERT_FALSE(r.ended);
	CU_ASSERT_EQUAL(r.body.len, 0);
	resp_free(&r);
}

/* The deferred answer: one data frame with the JSON-RPC result, then the last chunk. */
static inline cJSON *expect_deferred_answer(struct fake_sink *f, int rpc_id)
{
	struct sse e;
	bool ended;
	cJSON *msg;

	stream_events(f, &e, &ended);
	CU_ASSERT_TRUE(ended);
	CU_ASSERT_EQUAL_FATAL(e.n, 1);
	CU_ASSERT_EQUAL(e.id[0], 0);
	CU_ASSERT_EQUAL(jnum(e.msg[0], "id"), rpc_id);
	CU_ASSERT_STRING_EQUAL(jstr(e.msg[0], "jsonrpc"), "2.0");
	CU_ASSERT_EQUAL(f->resumes, 1);
	CU_ASSERT_TRUE(f->resume_keep_alive);
	CU_ASSERT_PTR_NULL(f->sink.call);
	msg = e.msg[0];
	e.msg[0] = NULL;
	sse_free(&e);
	return msg;
}

/* MCP 2026-07-28 (the stateless path): _meta in the body, mirrored into headers. */

#define MODERN "2026-07-28"
#define META_VERSION "io.modelcontextprotocol/protocolVersion"
#define META_CAPS "io.modelcontextprotocol/clientCapabilities"
#define MODERN_META_OF(v) "\"_meta\":{\"" META_VERSION "\":\"" v "\",\"" META_CAPS "\":{}}"
#define MODERN_META MODERN_META_OF(MODERN)

/* A POST of the revision: the headers agree with the body unless the test changes them. The
 * request points into body: do not copy an mreq. */
struct mreq {
	struct http_request req;
	char body[2048];
};

/* Any body, with MCP-Protocol-Version 2026-07-28, Mcp-Method method, Mcp-Name name (each
 * header left out when NULL). */
static inline void mreq_raw(struct mreq *m, const char *body, const char *method, const char *name)
{
	snprintf(m->body, sizeof(m->body), "%s", body);
	m->req = req_new(HTTP_M_POST, NULL);
	m->req.protocol_version = MODERN;
	m->req.mcp_method = method;
	m->req.mcp_name = name;
	req_body(&m->req, m->body);
}

/* {"jsonrpc":"2.0","id":ID,"method":M,"params":{"_meta":{version, caps[, meta_extra]}[,
 * params_extra]}}; id is JSON text (NULL: a notification). */
static inline void mreq_init(struct mreq *m, const char *id, const char *method,
			     const char *meta_extra, const char *params_extra, const char *name)
{
	char body[sizeof(m->body)];

	snprintf(body, sizeof(body),
		 "{\"jsonrpc\":\"2.0\"%s%s,\"method\":\"%s\",\"params\":{\"_meta\":{\"" META_VERSION
		 "\":\"" MODERN "\",\"" META_CAPS "\":{}%s%s}%s%s}}",
		 id ? ",\"id\":" : "", id ? id : "", method, meta_extra ? "," : "",
		 meta_extra ? meta_extra : "", params_extra ? "," : "", params_extra ? params_extra : "");
	mreq_raw(m, body, method, name);
}

/* A modern request answered at once (id 7 unless given). */
static inline void mrpc(const char *method, const char *params_extra, const char *name,
			struct reply *rp)
{
	struct mreq m;

	mreq_init(&m, "7", method, NULL, params_extra, name);
	do_req(&m.req, rp);
}

/* An answer of the modern path: HTTP status, JSON, the id echoed (NAN: null), error code. */
static inline void expect_merror(const struct reply *rp, int status, int code, double id)
{
	CU_ASSERT_EQUAL(rp->r.status, status);
	CU_ASSERT_EQUAL(rp->d, MCP_DONE);
	CU_ASSERT_TRUE(header_is(&rp->r, "Content-Type", "application/json"));
	CU_ASSERT_STRING_EQUAL(jstr(rp->json, "jsonrpc"), "2.0");
	if (isnan(id)) {
		CU_ASSERT_TRUE(cJSON_IsNull(jget(rp->json, "id")));
	} else {
		CU_ASSERT_EQUAL(jnum(rp->json, "id"), id);
	}
	CU_ASSERT_EQUAL(jnum(rp->json, "error.code"), code);
	CU_ASSERT_TRUE(strlen(jstr(rp->json, "error.message")) > 8);
	CU_ASSERT_PTR_NULL(jget(rp->json, "result"));
}

/* result._meta["io.modelcontextprotocol/serverInfo"] (a key with dots jget cannot walk). */
static inline const cJSON *mserver_info(const cJSON *msg)
{
	return cJSON_GetObjectItemCaseSensitive(jget(msg, "result._meta"),
						"io.modelcontextprotocol/serverInfo");
}

/* A result of the revision: resultType and the server's identity. */
static inline void expect_modern_result(const cJSON *msg)
{
	const cJSON *info = mserver_info(msg);

	CU_ASSERT_PTR_NULL(jget(msg, "error"));
	CU_ASSERT_STRING_EQUAL(jstr(msg, "result.resultType"), "complete");
	CU_ASSERT_STRING_EQUAL(jstr(info, "name"), MCPCHAT_NAME);
	CU_ASSERT_STRING_EQUAL(jstr(info, "version"), MCPCHAT_VERSION);
}

/* tools/call of the revision answered at once: the whole answer (free it). */
static inline cJSON *mtool(const char *tool, const char *args)
{
	char params[1024];
	struct mreq m;
	struct reply rp;
	cJSON *j;

	snprintf(params, sizeof(params), "\"name\":\"%s\",\"arguments\":%s", tool, args);
	mreq_init(&m, "7", "tools/call", NULL, params, tool);
	do_req(&m.req, &rp);
	CU_ASSERT_EQUAL(rp.r.status, 200);
	CU_ASSERT_EQUAL(rp.d, MCP_DONE);
	CU_ASSERT_EQUAL(jnum(rp.json, "id"), 7);
	expect_modern_result(rp.json);
	j = rp.json;
	rp.json = NULL;
	reply_free(&rp);
	return j;
}

/* wait_for_message of the revision POSTed on sink f (meta_extra: more _meta members). */
static inline enum mcp_disposition mwait_on(struct fake_sink *f, const char *args,
					    const char *meta_extra, int rpc_id)
{
	char params[512], id[16];
	struct mreq m;

	snprintf(params, sizeof(params), "\"name\":\"wait_for_message\",\"arguments\":%s", args);
	snprintf(id, sizeof(id), "%d", rpc_id);
	mreq_init(&m, id, "tools/call", meta_extra, params, "wait_for_message");
	return mcp_handle(W.srv, &m.req, &f->sink);
}

#endif
