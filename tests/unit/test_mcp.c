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
#include "util/log.h"

/* The MCP layer without sockets: hand-built requests, fake sinks capturing the HTTP bytes. */

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
static struct {
	struct config cfg;
	struct timer_heap heap;
	struct mcp_server *srv;
	struct chat *chat;
	struct fake_sink sinks[MAX_SINKS];
} W;

/* Fake sink */

static struct fake_sink *fake_of(struct mcp_sink *s)
{
	return container_of(s, struct fake_sink, sink);
}

static struct buf *fake_out(struct mcp_sink *s)
{
	return &fake_of(s)->out;
}

static int fake_commit(struct mcp_sink *s)
{
	struct fake_sink *f = fake_of(s);

	f->commits++;
	return f->fail_commit ? -ENOBUFS : 0;
}

static void fake_resume(struct mcp_sink *s, bool keep_alive)
{
	struct fake_sink *f = fake_of(s);

	f->resumes++;
	f->resume_keep_alive = keep_alive;
}

/* Everything ever appended, taken or not (the test takes bytes without sending them). */
static uint64_t fake_queued(struct mcp_sink *s)
{
	struct fake_sink *f = fake_of(s);

	return f->taken + f->out.len;
}

static uint64_t fake_sent(struct mcp_sink *s)
{
	return fake_of(s)->sent;
}

static void fake_abort(struct mcp_sink *s)
{
	fake_of(s)->aborts++;
}

static const struct mcp_sink_ops fake_ops = { fake_out,	   fake_commit, fake_resume,
					      fake_queued, fake_sent,	fake_abort };

static struct fake_sink *sink_new(void)
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
static void drop_out(struct fake_sink *f)
{
	f->taken += f->out.len;
	buf_free(&f->out);
}

/* The kernel took the first n bytes ever queued: what the I/O layer reports after a send. */
static void sink_sent_upto(struct fake_sink *f, uint64_t n)
{
	f->sent = n;
	mcp_sink_sent(W.srv, &f->sink);
}

/* Everything queued so far went out. */
static void flush_sink(struct fake_sink *f)
{
	sink_sent_upto(f, fake_queued(&f->sink));
}

/* The connection closes: what the I/O layer does. */
static void sink_close(struct fake_sink *f)
{
	mcp_sink_closed(W.srv, &f->sink);
	buf_free(&f->out);
	f->in_use = false;
}

/* Forgets a sink whose connection mcp already let go of. */
static void sink_release(struct fake_sink *f)
{
	buf_free(&f->out);
	f->in_use = false;
}

/* World */

static void world_up(uint32_t max_sessions)
{
	memset(&W, 0, sizeof(W));
	config_defaults(&W.cfg);
	W.cfg.max_sessions = max_sessions;
	timer_heap_init(&W.heap);
	W.srv = mcp_server_new(&W.cfg, &W.heap);
	if (W.srv)
		W.chat = chat_tools_register(W.srv, &W.cfg, &W.heap);
}

static void world_down(void)
{
	mcp_server_free(W.srv);
	chat_tools_free(W.chat);
	timer_heap_free(&W.heap);
	for (int i = 0; i < MAX_SINKS; i++)
		buf_free(&W.sinks[i].out);
	memset(&W, 0, sizeof(W));
}

static void setup(void)
{
	world_up(100);
}

static void teardown(void)
{
	world_down();
}

static struct mcp_session *sess(const char *id)
{
	return mcp_sessions_find((&W.srv->sessions), id);
}

static struct mcp_stats stats(void)
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

static double jnum(const cJSON *o, const char *path)
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

static void resp_free(struct resp *r)
{
	buf_free(&r->body);
}

static bool header_get(const struct resp *r, const char *name, char *val, size_t cap)
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

static bool header_is(const struct resp *r, const char *name, const char *want)
{
	char v[256];

	return header_get(r, name, v, sizeof(v)) && strcmp(v, want) == 0;
}

/* Decodes chunks; the terminating chunk must be the last thing. */
static bool dechunk(const char *p, size_t len, struct buf *out, bool *ended)
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
static bool resp_parse(const char *p, size_t len, struct resp *r)
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

static void sse_free(struct sse *e)
{
	for (int i = 0; i < e->n; i++)
		cJSON_Delete(e->msg[i]);
	memset(e, 0, sizeof(*e));
}

static bool sse_frame(const char *p, const char *f, struct sse *e)
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

static bool sse_parse(const struct buf *body, struct sse *e)
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
static void take(struct fake_sink *f, struct resp *r, struct sse *e)
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

static void reply_free(struct reply *rp)
{
	resp_free(&rp->r);
	cJSON_Delete(rp->json);
	memset(rp, 0, sizeof(*rp));
}

static struct http_request req_new(enum http_method_id m, const char *sid)
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

static void req_body(struct http_request *r, const char *body)
{
	r->body = body;
	r->body_len = strlen(body);
}

static void send_on(const struct http_request *req, struct fake_sink *f, struct reply *rp)
{
	memset(rp, 0, sizeof(*rp));
	rp->d = mcp_handle(W.srv, req, &f->sink);
	take(f, &rp->r, NULL);
	if (rp->r.body.len && !rp->r.chunked)
		rp->json = cJSON_ParseWithLength(rp->r.body.p, rp->r.body.len);
}

/* A request answered at once on a connection of its own. */
static void do_req(const struct http_request *req, struct reply *rp)
{
	struct fake_sink *f = sink_new();

	send_on(req, f, rp);
	CU_ASSERT_EQUAL(f->resumes, 0);
	CU_ASSERT_PTR_NULL(f->sink.call);
	CU_ASSERT_PTR_NULL(f->sink.stream_of);
	sink_close(f);
}

static void post(const char *sid, const char *body, struct reply *rp)
{
	struct http_request req = req_new(HTTP_M_POST, sid);

	req_body(&req, body);
	do_req(&req, rp);
}

/* An HTTP-level refusal: status, and a JSON-RPC error with a null id. */
static void expect_refusal(const struct reply *rp, int status, int code)
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
static void expect_rpc_error(const struct reply *rp, double id, int code)
{
	CU_ASSERT_EQUAL(rp->r.status, 200);
	CU_ASSERT_EQUAL(jnum(rp->json, "id"), id);
	CU_ASSERT_EQUAL(jnum(rp->json, "error.code"), code);
	CU_ASSERT_PTR_NULL(jget(rp->json, "result"));
}

static void rpc(const char *sid, const char *method, const char *params, int id,
		struct reply *rp)
{
	char body[1024];

	snprintf(body, sizeof(body), "{\"jsonrpc\":\"2.0\",\"id\":%d,\"method\":\"%s\"%s%s}", id,
		 method, params ? ",\"params\":" : "", params ? params : "");
	post(sid, body, rp);
}

static void init_version(const char *version, char id[MCP_SESSION_ID_LEN + 1], struct reply *rp)
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
static struct mcp_session *init_session(char id[MCP_SESSION_ID_LEN + 1])
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
static cJSON *call_tool(const char *sid, const char *name, const char *args)
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
static struct fake_sink *open_get(const char *sid, const char *last_event_id,
				  enum mcp_disposition *d)
{
	struct fake_sink *f = sink_new();
	struct http_request req = req_new(HTTP_M_GET, sid);

	req.last_event_id = last_event_id;
	*d = mcp_handle(W.srv, &req, &f->sink);
	return f;
}

/* An open stream's head; its events go to e. */
static void expect_stream_head(struct fake_sink *f, struct sse *e)
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
static struct fake_sink *open_stream(const char *sid)
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
static void stream_events(struct fake_sink *f, struct sse *e, bool *ended)
{
	struct resp r;

	take(f, &r, e);
	CU_ASSERT_EQUAL(r.status, 0);
	*ended = r.ended;
	resp_free(&r);
}

static int64_t push(struct mcp_session *s, const char *params)
{
	return mcp_session_event(W.srv, s, "test.event", params, strlen(params), false);
}

/* The event i of e is the notification method with params.seq == seq and id: seq. */
static void expect_event(const struct sse *e, int i, const char *method, uint64_t seq)
{
	CU_ASSERT_TRUE_FATAL(i < e->n);
	CU_ASSERT_EQUAL(e->id[i], seq);
	CU_ASSERT_STRING_EQUAL(jstr(e->msg[i], "jsonrpc"), "2.0");
	CU_ASSERT_STRING_EQUAL(jstr(e->msg[i], "method"), method);
	CU_ASSERT_EQUAL(jnum(e->msg[i], "params.seq"), (double)seq);
	CU_ASSERT_PTR_NULL(jget(e->msg[i], "id"));
}

/* A test.event of params {"n":n,"pad":"xx..."} with pad bytes of padding. */
static int64_t push_padded(struct mcp_session *s, int n, size_t pad)
{
	char *p = malloc(pad + 32);
	int64_t seq;
	int k;

	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	k = snprintf(p, 32, "{\"n\":%d,\"pad\":\"", n);
	memset(p + k, 'x', pad);
	memcpy(p + k + pad, "\"}", 3);
	seq = push(s, p);
	free(p);
	return seq;
}

/* The events of e continue at *next, in order, each once (params.n is the seq). */
static void expect_in_order(const struct sse *e, uint64_t *next)
{
	for (int i = 0; i < e->n; i++) {
		CU_ASSERT_EQUAL(e->id[i], *next);
		CU_ASSERT_EQUAL(jnum(e->msg[i], "params.n"), (double)*next);
		CU_ASSERT_EQUAL(jnum(e->msg[i], "params.seq"), (double)*next);
		(*next)++;
	}
}

/* Takes the stream's new bytes: events continuing at *next, no end. Returns how many. */
static int take_in_order(struct fake_sink *f, uint64_t *next)
{
	struct sse e;
	bool ended;
	int n;

	stream_events(f, &e, &ended);
	CU_ASSERT_FALSE(ended);
	expect_in_order(&e, next);
	n = e.n;
	sse_free(&e);
	return n;
}

/* Only what fits waits on s's stream f: the bytes waiting stay within max_send_queue, and
 * when events are held back the next one would not have fitted. */
static void expect_fits(struct mcp_session *s, struct fake_sink *f)
{
	uint64_t waiting = fake_queued(&f->sink) - f->sent;

	CU_ASSERT_TRUE(waiting <= W.cfg.max_send_queue);
	if (s->pushed < s->mbox.last) {
		const struct mailbox_event *ev = mailbox_get(&s->mbox, s->pushed + 1);

		CU_ASSERT_PTR_NOT_NULL_FATAL(ev);
		CU_ASSERT_TRUE(waiting > 0);
		CU_ASSERT_TRUE(waiting + ev->params_len + 128 > W.cfg.max_send_queue);
	}
}

/* Delivered are exactly the pushed events whose last byte was sent. */
static void expect_delivered_as_sent(struct mcp_session *s, struct fake_sink *f)
{
	if (s->mbox.acked)
		CU_ASSERT_TRUE(mailbox_get(&s->mbox, s->mbox.acked)->wire_end <= f->sent);
	if (s->mbox.acked < s->pushed)
		CU_ASSERT_TRUE(mailbox_get(&s->mbox, s->mbox.acked + 1)->wire_end > f->sent);
}

/* Tests: initialize */

static void expect_initialize(const char *asked, const char *answered)
{
	char id[MCP_SESSION_ID_LEN + 1];
	struct reply rp;

	init_version(asked, id, &rp);
	CU_ASSERT_EQUAL(rp.d, MCP_DONE);
	CU_ASSERT_TRUE(header_is(&rp.r, "Content-Type", "application/json"));
	CU_ASSERT_EQUAL(strlen(id), MCP_SESSION_ID_LEN);
	CU_ASSERT_EQUAL(strspn(id, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"),
			MCP_SESSION_ID_LEN);
	CU_ASSERT_PTR_NOT_NULL(sess(id));
	CU_ASSERT_STRING_EQUAL(jstr(rp.json, "jsonrpc"), "2.0");
	CU_ASSERT_EQUAL(jnum(rp.json, "id"), 1);
	CU_ASSERT_STRING_EQUAL(jstr(rp.json, "result.protocolVersion"), answered);
	CU_ASSERT_STRING_EQUAL(jstr(rp.json, "result.serverInfo.name"), MCPCHAT_NAME);
	CU_ASSERT_STRING_EQUAL(jstr(rp.json, "result.serverInfo.version"), MCPCHAT_VERSION);
	CU_ASSERT_TRUE(cJSON_IsObject(jget(rp.json, "result.capabilities.tools")));
	CU_ASSERT_TRUE(cJSON_IsObject(jget(rp.json, "result.capabilities.logging")));
	CU_ASSERT_TRUE(cJSON_IsObject(jget(rp.json, "result.capabilities.resources")));
	CU_ASSERT_TRUE(cJSON_IsObject(jget(rp.json, "result.capabilities.prompts")));
	CU_ASSERT_TRUE(cJSON_IsString(jget(rp.json, "result.instructions")));
	reply_free(&rp);
}

static void test_initialize(void)
{
	expect_initialize("2025-11-25", "2025-11-25");
	expect_initialize("2025-06-18", "2025-06-18");
	expect_initialize("2025-03-26", "2025-03-26");
	expect_initialize("1999-01-01", "2025-11-25");
	expect_initialize("2030-01-01", "2025-11-25");
	CU_ASSERT_EQUAL(stats().sessions, 5);
}

static void test_initialize_distinct_sessions(void)
{
	char a[MCP_SESSION_ID_LEN + 1], b[MCP_SESSION_ID_LEN + 1];

	init_session(a);
	init_session(b);
	CU_ASSERT_STRING_NOT_EQUAL(a, b);
	CU_ASSERT_PTR_NOT_EQUAL(sess(a), sess(b));
}

static void test_initialize_malformed(void)
{
	char id[MCP_SESSION_ID_LEN + 1];
	struct reply rp;

	/* No protocolVersion. */
	post(NULL, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":{}}", &rp);
	expect_refusal(&rp, 400, -32602);
	reply_free(&rp);
	/* As a notification. */
	post(NULL, "{\"jsonrpc\":\"2.0\",\"method\":\"initialize\",\"params\":{\"protocolVersion\":\"" NEWEST "\"}}", &rp);
	expect_refusal(&rp, 400, -32600);
	reply_free(&rp);
	CU_ASSERT_EQUAL(stats().sessions, 0);
	/* Again inside a session: refused at the HTTP level, as the SDK does. */
	init_session(id);
	rpc(id, "initialize", "{\"protocolVersion\":\"" NEWEST "\"}", 2, &rp);
	expect_refusal(&rp, 400, -32600);
	reply_free(&rp);
	CU_ASSERT_EQUAL(stats().sessions, 1);
}

/* Tests: transport refusals */

static void test_missing_session(void)
{
	struct reply rp;
	struct http_request get = req_new(HTTP_M_GET, NULL);
	struct http_request del = req_new(HTTP_M_DELETE, NULL);

	rpc(NULL, "tools/list", NULL, 1, &rp);
	expect_refusal(&rp, 400, -32000);
	reply_free(&rp);
	/* Without a session, GET and DELETE are the 2026-07-28 case: 405 (no stream, no DELETE). */
	do_req(&get, &rp);
	expect_refusal(&rp, 405, -32000);
	reply_free(&rp);
	do_req(&del, &rp);
	expect_refusal(&rp, 405, -32000);
	reply_free(&rp);
}

static void test_unknown_session(void)
{
	static const char *const ids[] = { "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "nope", "" };
	char id[MCP_SESSION_ID_LEN + 1];
	struct reply rp;

	init_session(id);
	for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
		struct http_request get = req_new(HTTP_M_GET, ids[i]);
		struct http_request del = req_new(HTTP_M_DELETE, ids[i]);

		rpc(ids[i], "ping", NULL, 1, &rp);
		expect_refusal(&rp, 404, -32001);
		reply_free(&rp);
		do_req(&get, &rp);
		expect_refusal(&rp, 404, -32001);
		reply_free(&rp);
		do_req(&del, &rp);
		expect_refusal(&rp, 404, -32001);
		reply_free(&rp);
	}
	/* The admin handle is not a session id. */
	rpc(sess(id)->handle, "ping", NULL, 1, &rp);
	expect_refusal(&rp, 404, -32001);
	reply_free(&rp);
	CU_ASSERT_EQUAL(stats().sessions, 1);
}

static void test_protocol_version_header(void)
{
	char id[MCP_SESSION_ID_LEN + 1];
	struct http_request req;
	struct reply rp;

	init_session(id);
	req = req_new(HTTP_M_POST, id);
	req_body(&req, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}");
	req.protocol_version = "2099-01-01";
	do_req(&req, &rp);
	/* UnsupportedProtocolVersionError: the request's id, every version spoken, the one asked. */
	CU_ASSERT_EQUAL(rp.r.status, 400);
	CU_ASSERT_EQUAL(jnum(rp.json, "id"), 1);
	CU_ASSERT_EQUAL(jnum(rp.json, "error.code"), -32022);
	CU_ASSERT_EQUAL(cJSON_GetArraySize(jget(rp.json, "error.data.supported")), 4);
	CU_ASSERT_STRING_EQUAL(jstr(rp.json, "error.data.requested"), "2099-01-01");
	reply_free(&rp);
	req.protocol_version = "2025-06-18";
	do_req(&req, &rp);
	CU_ASSERT_EQUAL(rp.r.status, 200);
	CU_ASSERT_TRUE(cJSON_IsObject(jget(rp.json, "result")));
	reply_free(&rp);
}

static void test_accept_required(void)
{
	char id[MCP_SESSION_ID_LEN + 1];
	struct http_request req;
	struct reply rp;

	init_session(id);
	req = req_new(HTTP_M_POST, id);
	req_body(&req, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}");
	req.has_accept = req.accept_json = req.accept_sse = false;
	do_req(&req, &rp);
	expect_refusal(&rp, 406, -32000);
	reply_free(&rp);
	req.has_accept = req.accept_json = true; /* application/json only */
	do_req(&req, &rp);
	expect_refusal(&rp, 406, -32000);
	reply_free(&rp);
	req.accept_json = false, req.accept_sse = true; /* text/event-stream only */
	do_req(&req, &rp);
	expect_refusal(&rp, 406, -32000);
	reply_free(&rp);
	/* GET needs text/event-stream. */
	req = req_new(HTTP_M_GET, id);
	req.accept_sse = false, req.accept_json = true;
	do_req(&req, &rp);
	expect_refusal(&rp, 406, -32000);
	reply_free(&rp);
	CU_ASSERT_EQUAL(stats().streams, 0);
}

static void test_content_type(void)
{
	static const char *const bad[] = { "text/plain", "application/jsonx", "", NULL };
	char id[MCP_SESSION_ID_LEN + 1];
	struct http_request req;
	struct reply rp;

	init_session(id);
	req = req_new(HTTP_M_POST, id);
	req_body(&req, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}");
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		req.content_type = bad[i];
		do_req(&req, &rp);
		expect_refusal(&rp, 415, -32000);
		reply_free(&rp);
	}
	req.content_type = "Application/JSON; charset=utf-8";
	do_req(&req, &rp);
	CU_ASSERT_EQUAL(rp.r.status, 200);
	reply_free(&rp);
}

static void test_bad_json(void)
{
	static const char *const bad[] = { "{", "", "{\"jsonrpc\":\"2.0\",}", "nul" };
	char id[MCP_SESSION_ID_LEN + 1];
	struct reply rp;

	init_session(id);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		post(id, bad[i], &rp);
		expect_refusal(&rp, 400, -32700);
		reply_free(&rp);
	}
	/* Without a session too: parse errors come first. */
	post(NULL, "{", &rp);
	expect_refusal(&rp, 400, -32700);
	reply_free(&rp);
}

static void test_invalid_jsonrpc(void)
{
	static const char *const bad[] = {
		"{\"id\":1,\"method\":\"ping\"}",
		"{\"jsonrpc\":\"1.0\",\"id\":1,\"method\":\"ping\"}",
		"{\"jsonrpc\":\"2.0\",\"id\":{},\"method\":\"ping\"}",
		"{\"jsonrpc\":\"2.0\",\"id\":true,\"method\":\"ping\"}",
		"{\"jsonrpc\":\"2.0\",\"id\":1.5,\"method\":\"ping\"}",
		"{\"jsonrpc\":\"2.0\",\"id\":null,\"method\":\"ping\"}",
		"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":7}",
		"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"\"}",
		"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\",\"params\":5}",
		"{\"jsonrpc\":\"2.0\"}",
		"42",
	};
	char id[MCP_SESSION_ID_LEN + 1];
	struct reply rp;

	init_session(id);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		post(id, bad[i], &rp);
		expect_refusal(&rp, 400, -32600);
		reply_free(&rp);
	}
}

static void test_unknown_method(void)
{
	char id[MCP_SESSION_ID_LEN + 1];
	struct reply rp;

	init_session(id);
	rpc(id, "no/such/method", "{}", 7, &rp);
	expect_rpc_error(&rp, 7, -32601);
	reply_free(&rp);
}

static void test_ping(void)
{
	char id[MCP_SESSION_ID_LEN + 1];
	struct reply rp;

	init_session(id);
	post(id, "{\"jsonrpc\":\"2.0\",\"id\":\"abc\",\"method\":\"ping\"}", &rp);
	CU_ASSERT_EQUAL(rp.r.status, 200);
	CU_ASSERT_EQUAL(rp.d, MCP_DONE);
	CU_ASSERT_STRING_EQUAL(jstr(rp.json, "id"), "abc");
	CU_ASSERT_TRUE(cJSON_IsObject(jget(rp.json, "result")));
	CU_ASSERT_EQUAL(cJSON_GetArraySize(jget(rp.json, "result")), 0);
	reply_free(&rp);
	/* params as an array is not an object. */
	rpc(id, "ping", "[]", 8, &rp);
	expect_rpc_error(&rp, 8, -32602);
	reply_free(&rp);
}

static void test_keep_alive_false_closes(void)
{
	char id[MCP_SESSION_ID_LEN + 1];
	struct http_request req;
	struct reply rp;

	init_session(id);
	req = req_new(HTTP_M_POST, id);
	req_body(&req, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}");
	req.keep_alive = false;
	do_req(&req, &rp);
	CU_ASSERT_EQUAL(rp.r.status, 200);
	CU_ASSERT_EQUAL(rp.d, MCP_CLOSE);
	CU_ASSERT_TRUE(header_is(&rp.r, "Connection", "close"));
	reply_free(&rp);
}

/* Tests: methods */

static void test_tools_list(void)
{
	static const char *const names[] = { "enter_queue", "join_room", "send_message",
					     "wait_for_message", "leave_chat", "get_status" };
	char id[MCP_SESSION_ID_LEN + 1];
	const cJSON *tools, *t;
	struct reply rp;
	int seen = 0;

	init_session(id);
	rpc(id, "tools/list", NULL, 3, &rp);
	CU_ASSERT_EQUAL(rp.r.status, 200);
	tools = jget(rp.json, "result.tools");
	CU_ASSERT_TRUE_FATAL(cJSON_IsArray(tools));
	CU_ASSERT_EQUAL(cJSON_GetArraySize(tools), 6);
	cJSON_ArrayForEach(t, tools) {
		CU_ASSERT_STRING_EQUAL(jstr(t, "inputSchema.type"), "object");
		CU_ASSERT_TRUE(strlen(jstr(t, "description")) > 10);
		for (int i = 0; i < 6; i++)
			if (strcmp(jstr(t, "name"), names[i]) == 0)
				seen |= 1 << i;
	}
	CU_ASSERT_EQUAL(seen, 0x3f);
	reply_free(&rp);
}

static void test_tools_call_refusals(void)
{
	static const char *const bad[] = {
		"{\"name\":\"no_such_tool\",\"arguments\":{}}",
		"{\"name\":\"get_status\",\"arguments\":[1]}",
		"{\"name\":\"get_status\",\"arguments\":\"x\"}",
		"{\"name\":\"get_status\",\"arguments\":7}",
		"{\"arguments\":{}}",
		"{\"name\":5}",
	};
	char id[MCP_SESSION_ID_LEN + 1];
	struct reply rp;

	init_session(id);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		rpc(id, "tools/call", bad[i], 9, &rp);
		expect_rpc_error(&rp, 9, -32602);
		reply_free(&rp);
	}
}

static void test_tools_call_result_shape(void)
{
	char id[MCP_SESSION_ID_LEN + 1];
	struct reply rp;
	cJSON *text;

	init_session(id);
	/* No arguments at all is an empty object. */
	rpc(id, "tools/call", "{\"name\":\"get_status\"}", 4, &rp);
	CU_ASSERT_EQUAL(rp.r.status, 200);
	CU_ASSERT_STRING_EQUAL(jstr(rp.json, "result.structuredContent.state"), "idle");
	CU_ASSERT_EQUAL(jnum(rp.json, "result.structuredContent.unread"), 0);
	CU_ASSERT_STRING_EQUAL(jstr(rp.json, "result.content.0.type"), "text");
	text = cJSON_Parse(jstr(rp.json, "result.content.0.text"));
	CU_ASSERT_STRING_EQUAL(jstr(text, "state"), "idle");
	CU_ASSERT_PTR_NULL(jget(rp.json, "result.isError"));
	cJSON_Delete(text);
	reply_free(&rp);
	/* A tool-level refusal is a result with isError. */
	rpc(id, "tools/call", "{\"name\":\"send_message\",\"arguments\":{\"room_id\":\"r1\",\"message\":\"hi\"}}", 5, &rp);
	CU_ASSERT_EQUAL(rp.r.status, 200);
	CU_ASSERT_TRUE(cJSON_IsTrue(jget(rp.json, "result.isError")));
	CU_ASSERT_STRING_EQUAL(jstr(rp.json, "result.structuredContent.error"), "not_in_room");
	CU_ASSERT_STRING_EQUAL(jstr(rp.json, "result.content.0.text"),
			       jstr(rp.json, "result.structuredContent.message"));
	reply_free(&rp);
}

static void test_logging_set_level(void)
{
	static const char *const bad[] = { "{\"level\":\"loud\"}", "{\"level\":3}", "{}",
					   "{\"level\":\"DEBUG\"}" };
	char id[MCP_SESSION_ID_LEN + 1];
	struct reply rp;

	init_session(id);
	rpc(id, "logging/setLevel", "{\"level\":\"debug\"}", 1, &rp);
	CU_ASSERT_EQUAL(rp.r.status, 200);
	CU_ASSERT_TRUE(cJSON_IsObject(jget(rp.json, "result")));
	CU_ASSERT_EQUAL(sess(id)->log_level, 7);
	reply_free(&rp);
	rpc(id, "logging/setLevel", "{\"level\":\"error\"}", 2, &rp);
	CU_ASSERT_EQUAL(sess(id)->log_level, 3);
	reply_free(&rp);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		rpc(id, "logging/setLevel", bad[i], 3, &rp);
		expect_rpc_error(&rp, 3, -32602);
		reply_free(&rp);
	}
	CU_ASSERT_EQUAL(sess(id)->log_level, 3);
}

static void test_notifications_and_responses_202(void)
{
	static const char *const msgs[] = {
		"{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}",
		"{\"jsonrpc\":\"2.0\",\"method\":\"notifications/cancelled\",\"params\":{\"requestId\":1}}",
		"{\"jsonrpc\":\"2.0\",\"id\":3,\"result\":{}}",
		"{\"jsonrpc\":\"2.0\",\"id\":\"x\",\"error\":{\"code\":-1,\"message\":\"no\"}}",
	};
	char id[MCP_SESSION_ID_LEN + 1];
	struct reply rp;

	init_session(id);
	for (size_t i = 0; i < sizeof(msgs) / sizeof(msgs[0]); i++) {
		post(id, msgs[i], &rp);
		CU_ASSERT_EQUAL(rp.r.status, 202);
		CU_ASSERT_EQUAL(rp.d, MCP_DONE);
		CU_ASSERT_EQUAL(rp.r.body.len, 0);
		CU_ASSERT_TRUE(header_is(&rp.r, "Content-Length", "0"));
		reply_free(&rp);
	}
}

static void post_batch(const char *sid, const char *version, const char *body, struct reply *rp)
{
	struct http_request req = req_new(HTTP_M_POST, sid);

	req_body(&req, body);
	req.protocol_version = version;
	do_req(&req, rp);
}

static void test_batch_2025_03_26(void)
{
	char id[MCP_SESSION_ID_LEN + 1];
	struct reply rp;

	init_session(id);
	post_batch(id, "2025-03-26",
		   "[{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"},"
		   "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"},"
		   "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"tools/list\"},"
		   "{\"jsonrpc\":\"2.0\",\"id\":9,\"result\":{}},"
		   "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"nope\"},"
		   "{\"id\":4}]",
		   &rp);
	CU_ASSERT_EQUAL(rp.r.status, 200);
	CU_ASSERT_TRUE_FATAL(cJSON_IsArray(rp.json));
	CU_ASSERT_EQUAL(cJSON_GetArraySize(rp.json), 4);
	CU_ASSERT_EQUAL(jnum(rp.json, "0.id"), 1);
	CU_ASSERT_TRUE(cJSON_IsObject(jget(rp.json, "0.result")));
	CU_ASSERT_EQUAL(jnum(rp.json, "1.id"), 2);
	CU_ASSERT_EQUAL(cJSON_GetArraySize(jget(rp.json, "1.result.tools")), 6);
	CU_ASSERT_EQUAL(jnum(rp.json, "2.id"), 3);
	CU_ASSERT_EQUAL(jnum(rp.json, "2.error.code"), -32601);
	CU_ASSERT_TRUE(cJSON_IsNull(jget(rp.json, "3.id")));
	CU_ASSERT_EQUAL(jnum(rp.json, "3.error.code"), -32600);
	reply_free(&rp);
	/* Only notifications: nothing to answer. */
	post_batch(id, "2025-03-26", "[{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}]", &rp);
	CU_ASSERT_EQUAL(rp.r.status, 202);
	reply_free(&rp);
}

static void test_batch_negotiated_version(void)
{
	char id[MCP_SESSION_ID_LEN + 1];
	struct reply rp;

	init_version("2025-03-26", id, &rp);
	reply_free(&rp);
	post_batch(id, NULL, "[{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}]", &rp);
	CU_ASSERT_EQUAL(rp.r.status, 200);
	CU_ASSERT_EQUAL(cJSON_GetArraySize(rp.json), 1);
	reply_free(&rp);
	/* The header wins over the negotiated version. */
	post_batch(id, NEWEST, "[{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}]", &rp);
	expect_refusal(&rp, 400, -32600);
	reply_free(&rp);
}

static void test_batch_refused_on_newer(void)
{
	char id[MCP_SESSION_ID_LEN + 1];
	struct reply rp;

	init_session(id);
	post_batch(id, NEWEST, "[{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}]", &rp);
	expect_refusal(&rp, 400, -32600);
	reply_free(&rp);
	post_batch(id, "2025-06-18", "[{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}]", &rp);
	expect_refusal(&rp, 400, -32600);
	reply_free(&rp);
	post_batch(id, NULL, "[{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}]", &rp);
	expect_refusal(&rp, 400, -32600);
	reply_free(&rp);
}

static void test_empty_batch(void)
{
	char id[MCP_SESSION_ID_LEN + 1];
	struct reply rp;

	init_session(id);
	post_batch(id, "2025-03-26", "[]", &rp);
	expect_refusal(&rp, 400, -32600);
	reply_free(&rp);
}

/* Nothing in a batch waits: wait_for_message answers at once. */
static void test_batch_never_waits(void)
{
	char id[MCP_SESSION_ID_LEN + 1];
	struct reply rp;

	init_session(id);
	post_batch(id, "2025-03-26",
		   "[{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":"
		   "{\"name\":\"wait_for_message\",\"arguments\":{\"timeout_s\":30}}}]",
		   &rp);
	CU_ASSERT_EQUAL(rp.r.status, 200);
	CU_ASSERT_EQUAL(rp.d, MCP_DONE);
	CU_ASSERT_EQUAL(cJSON_GetArraySize(jget(rp.json, "0.result.structuredContent.events")), 0);
	CU_ASSERT_EQUAL(stats().calls_waiting, 0);
	reply_free(&rp);
}

static void test_resources(void)
{
	char id[MCP_SESSION_ID_LEN + 1];
	struct reply rp;

	init_session(id);
	rpc(id, "resources/list", NULL, 1, &rp);
	CU_ASSERT_EQUAL(cJSON_GetArraySize(jget(rp.json, "result.resources")), 1);
	CU_ASSERT_STRING_EQUAL(jstr(rp.json, "result.resources.0.uri"), "mcp-chat://guide");
	CU_ASSERT_STRING_EQUAL(jstr(rp.json, "result.resources.0.mimeType"), "text/markdown");
	reply_free(&rp);
	rpc(id, "resources/read", "{\"uri\":\"mcp-chat://guide\"}", 2, &rp);
	CU_ASSERT_STRING_EQUAL(jstr(rp.json, "result.contents.0.uri"), "mcp-chat://guide");
	CU_ASSERT_STRING_EQUAL(jstr(rp.json, "result.contents.0.mimeType"), "text/markdown");
	CU_ASSERT_PTR_NOT_NULL(strstr(jstr(rp.json, "result.contents.0.text"), "enter_queue"));
	reply_free(&rp);
	rpc(id, "resources/read", "{\"uri\":\"mcp-chat://nope\"}", 3, &rp);
	expect_rpc_error(&rp, 3, -32002);
	reply_free(&rp);
	rpc(id, "resources/read", "{}", 4, &rp);
	expect_rpc_error(&rp, 4, -32002);
	reply_free(&rp);
	rpc(id, "resources/templates/list", NULL, 5, &rp);
	CU_ASSERT_TRUE(cJSON_IsArray(jget(rp.json, "result.resourceTemplates")));
	reply_free(&rp);
}

static void test_prompts(void)
{
	char id[MCP_SESSION_ID_LEN + 1];
	struct reply rp;

	init_session(id);
	rpc(id, "prompts/list", NULL, 1, &rp);
	CU_ASSERT_EQUAL(cJSON_GetArraySize(jget(rp.json, "result.prompts")), 1);
	CU_ASSERT_STRING_EQUAL(jstr(rp.json, "result.prompts.0.name"), "chat_with_stranger");
	CU_ASSERT_TRUE(cJSON_IsArray(jget(rp.json, "result.prompts.0.arguments")));
	reply_free(&rp);
	rpc(id, "prompts/get", "{\"name\":\"chat_with_stranger\"}", 2, &rp);
	CU_ASSERT_STRING_EQUAL(jstr(rp.json, "result.messages.0.role"), "user");
	CU_ASSERT_STRING_EQUAL(jstr(rp.json, "result.messages.0.content.type"), "text");
	CU_ASSERT_PTR_NOT_NULL(strstr(jstr(rp.json, "result.messages.0.content.text"), "enter_queue"));
	reply_free(&rp);
	rpc(id, "prompts/get", "{\"name\":\"nope\"}", 3, &rp);
	expect_rpc_error(&rp, 3, -32602);
	reply_free(&rp);
}

/* Tests: Host, Origin, path, method */

static int status_with(const char *host, const char *origin, const char *path,
		       enum http_method_id m)
{
	struct http_request req = req_new(m, NULL);
	struct reply rp;
	int status;

	req.host = host;
	req.origin = origin;
	req.path = path;
	req_body(&req, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":"
		       "{\"protocolVersion\":\"" NEWEST "\"}}");
	do_req(&req, &rp);
	status = rp.r.status;
	if (status != 200)
		CU_ASSERT_TRUE(cJSON_IsObject(jget(rp.json, "error")));
	reply_free(&rp);
	return status;
}

static void test_host_check(void)
{
	CU_ASSERT_EQUAL(status_with("localhost:8808", NULL, "/mcp", HTTP_M_POST), 200);
	CU_ASSERT_EQUAL(status_with("LOCALHOST", NULL, "/mcp", HTTP_M_POST), 200);
	CU_ASSERT_EQUAL(status_with("127.0.0.1:8808", NULL, "/mcp", HTTP_M_POST), 200);
	CU_ASSERT_EQUAL(status_with("[::1]:8808", NULL, "/mcp", HTTP_M_POST), 200);
	CU_ASSERT_EQUAL(status_with("evil.example", NULL, "/mcp", HTTP_M_POST), 403);
	CU_ASSERT_EQUAL(status_with("evil.example:8808", NULL, "/mcp", HTTP_M_POST), 403);
	CU_ASSERT_EQUAL(status_with("localhost.evil.example", NULL, "/mcp", HTTP_M_POST), 403);
	CU_ASSERT_EQUAL(status_with("[::1", NULL, "/mcp", HTTP_M_POST), 403);
	CU_ASSERT_EQUAL(status_with("", NULL, "/mcp", HTTP_M_POST), 403);
	CU_ASSERT_EQUAL(status_with(NULL, NULL, "/mcp", HTTP_M_POST), 400);
	CU_ASSERT_EQUAL(status_with("evil.example", NULL, "/mcp", HTTP_M_GET), 403);
	CU_ASSERT_EQUAL(stats().sessions, 4);
}

static void test_origin_check(void)
{
	CU_ASSERT_EQUAL(status_with("localhost", "http://evil.example", "/mcp", HTTP_M_POST), 403);
	CU_ASSERT_EQUAL(status_with("localhost", "http://evil.example:1234", "/mcp", HTTP_M_POST), 403);
	CU_ASSERT_EQUAL(status_with("localhost", "http://localhost.evil.example", "/mcp", HTTP_M_POST), 403);
	CU_ASSERT_EQUAL(status_with("localhost", "null", "/mcp", HTTP_M_POST), 403);
	CU_ASSERT_EQUAL(status_with("localhost", "localhost", "/mcp", HTTP_M_POST), 403);
	CU_ASSERT_EQUAL(status_with("localhost", "ftp://localhost", "/mcp", HTTP_M_POST), 403);
	CU_ASSERT_EQUAL(stats().sessions, 0);
	CU_ASSERT_EQUAL(status_with("localhost", "http://localhost:1234", "/mcp", HTTP_M_POST), 200);
	CU_ASSERT_EQUAL(status_with("localhost", "https://127.0.0.1", "/mcp", HTTP_M_POST), 200);
	CU_ASSERT_EQUAL(status_with("localhost", "http://[::1]:3000", "/mcp", HTTP_M_POST), 200);
	CU_ASSERT_EQUAL(stats().sessions, 3);
}

static void test_path_and_method(void)
{
	char id[MCP_SESSION_ID_LEN + 1];
	struct http_request req;
	struct reply rp;
	char allow[64];

	CU_ASSERT_EQUAL(status_with("localhost", NULL, "/other", HTTP_M_POST), 404);
	CU_ASSERT_EQUAL(status_with("localhost", NULL, "/mcp/", HTTP_M_POST), 404);
	CU_ASSERT_EQUAL(status_with("localhost", NULL, "/", HTTP_M_GET), 404);
	init_session(id);
	req = req_new(HTTP_M_OTHER, id);
	do_req(&req, &rp);
	expect_refusal(&rp, 405, -32000);
	CU_ASSERT_TRUE(header_get(&rp.r, "Allow", allow, sizeof(allow)));
	CU_ASSERT_STRING_EQUAL(allow, "GET, POST, DELETE");
	reply_free(&rp);
	CU_ASSERT_PTR_NOT_NULL(sess(id));
}

/* A HEAD answer is the head alone (RFC 9110 9.3.2): its Content-Length, no body bytes. */
static void test_head_has_no_body(void)
{
	struct http_request req = req_new(HTTP_M_HEAD, NULL);
	struct fake_sink *f = sink_new();
	size_t n;

	CU_ASSERT_EQUAL(mcp_handle(W.srv, &req, &f->sink), MCP_DONE);
	CU_ASSERT_TRUE(f->out.len > 12 && memcmp(f->out.p, "HTTP/1.1 405", 12) == 0);
	n = f->out.len;
	CU_ASSERT_TRUE(n >= 4 && memcmp(f->out.p + n - 4, "\r\n\r\n", 4) == 0);
	CU_ASSERT_PTR_NOT_NULL(memmem(f->out.p, n, "Allow: GET, POST, DELETE\r\n", 26));
	CU_ASSERT_PTR_NULL(memmem(f->out.p, n, "{", 1));
	drop_out(f);
	sink_close(f);
}

/* Tests: the GET stream */

static void test_get_stream(void)
{
	char id[MCP_SESSION_ID_LEN + 1];
	struct mcp_session *s = init_session(id);
	struct fake_sink *f;
	enum mcp_disposition d;
	struct resp r;
	char cc[32];

	f = open_get(id, NULL, &d);
	CU_ASSERT_EQUAL(d, MCP_STREAMING);
	take(f, &r, NULL);
	CU_ASSERT_EQUAL(r.status, 200);
	CU_ASSERT_TRUE(header_is(&r, "Content-Type", "text/event-stream"));
	CU_ASSERT_TRUE(header_is(&r, "Transfer-Encoding", "chunked"));
	CU_ASSERT_FALSE(header_get(&r, "Content-Length", cc, sizeof(cc)));
	CU_ASSERT_TRUE(header_get(&r, "Cache-Control", cc, sizeof(cc)));
	CU_ASSERT_STRING_EQUAL(cc, "no-cache");
	CU_ASSERT_FALSE(r.ended);
	CU_ASSERT_EQUAL(r.body.len, 0);
	resp_free(&r);
	CU_ASSERT_PTR_EQUAL(s->stream, &f->sink);
	CU_ASSERT_PTR_EQUAL(f->sink.stream_of, s);
	CU_ASSERT_EQUAL(stats().streams, 1);
	CU_ASSERT_TRUE(f->commits >= 1);
	CU_ASSERT_EQUAL(f->resumes, 0);
	sink_close(f);
	CU_ASSERT_PTR_NULL(s->stream);
	CU_ASSERT_EQUAL(stats().streams, 0);
}

static void test_second_get_conflict(void)
{
	char id[MCP_SESSION_ID_LEN + 1];
	struct mcp_session *s = init_session(id);
	struct fake_sink *f = open_stream(id);
	struct http_request req = req_new(HTTP_M_GET, id);
	struct reply rp;

	do_req(&req, &rp);
	expect_refusal(&rp, 409, -32000);
	reply_free(&rp);
	CU_ASSERT_PTR_EQUAL(s->stream, &f->sink);
	CU_ASSERT_EQUAL(stats().streams, 1);
	/* Once the first is gone a new one opens. */
	sink_close(f);
	f = open_stream(id);
	CU_ASSERT_PTR_EQUAL(s->stream, &f->sink);
	sink_close(f);
}

static void test_stream_events(void)
{
	char id[MCP_SESSION_ID_LEN + 1];
	struct mcp_session *s = init_session(id);
	struct fake_sink *f = open_stream(id);
	struct sse e;
	bool ended;

	CU_ASSERT_EQUAL(push(s, "{\"a\":1}"), 1);
	CU_ASSERT_EQUAL(push(s, "{}"), 2);
	stream_events(f, &e, &ended);
	CU_ASSERT_FALSE(ended);
	CU_ASSERT_EQUAL_FATAL(e.n, 2);
	expect_event(&e, 0, "test.event", 1);
	CU_ASSERT_EQUAL(jnum(e.msg[0], "params.a"), 1);
	CU_ASSERT_EQUAL(cJSON_GetArraySize(jget(e.msg[0], "params")), 2);
	expect_event(&e, 1, "test.event", 2);
	CU_ASSERT_EQUAL(cJSON_GetArraySize(jget(e.msg[1], "params")), 1);
	sse_free(&e);
	/* Pushed (queued) is not delivered: only once the bytes went out. */
	CU_ASSERT_EQUAL(mailbox_unread(&s->mbox), 2);
	CU_ASSERT_EQUAL(mailbox_get(&s->mbox, 2)->wire_end, fake_queued(&f->sink));
	flush_sink(f);
	CU_ASSERT_EQUAL(mailbox_unread(&s->mbox), 0);
	CU_ASSERT_EQUAL(s->mbox.acked, 2);
	CU_ASSERT_EQUAL(f->resumes, 0);
	sink_close(f);
}

static void test_last_event_id_replay(void)
{
	char id[MCP_SESSION_ID_LEN + 1];
	struct mcp_session *s = init_session(id);
	struct fake_sink *f = open_stream(id);
	enum mcp_disposition d;
	struct sse e;
	bool ended;

	for (int i = 0; i < 3; i++)
		push(s, "{\"k\":\"v\"}");
	drop_out(f); /* the client saw only 1 and 2 of these */
	sink_close(f);
	push(s, "{\"k\":\"w\"}");
	push(s, "{\"k\":\"x\"}");
	f = open_get(id, "2", &d);
	CU_ASSERT_EQUAL(d, MCP_STREAMING);
	expect_stream_head(f, &e);
	CU_ASSERT_EQUAL_FATAL(e.n, 3);
	for (int i = 0; i < 3; i++)
		expect_event(&e, i, "test.event", (uint64_t)i + 3);
	CU_ASSERT_STRING_EQUAL(jstr(e.msg[1], "params.k"), "w");
	sse_free(&e);
	/* Last-Event-ID: 2 delivered 1 and 2; the replayed ones wait for their bytes to go. */
	CU_ASSERT_EQUAL(s->mbox.acked, 2);
	CU_ASSERT_EQUAL(mailbox_unread(&s->mbox), 3);
	/* The next event comes once. */
	push(s, "{}");
	stream_events(f, &e, &ended);
	CU_ASSERT_EQUAL_FATAL(e.n, 1);
	expect_event(&e, 0, "test.event", 6);
	sse_free(&e);
	CU_ASSERT_EQUAL(mailbox_unread(&s->mbox), 4);
	flush_sink(f);
	CU_ASSERT_EQUAL(mailbox_unread(&s->mbox), 0);
	sink_close(f);
}

static void test_last_event_id_bad(void)
{
	char id[MCP_SESSION_ID_LEN + 1];
	struct http_request req;
	struct reply rp;

	init_session(id);
	req = req_new(HTTP_M_GET, id);
	req.last_event_id = "abc";
	do_req(&req, &rp);
	expect_refusal(&rp, 400, -32000);
	reply_free(&rp);
	CU_ASSERT_EQUAL(stats().streams, 0);
}

static void test_fresh_get_delivers_undelivered(void)
{
	char id[MCP_SESSION_ID_LEN + 1];
	struct mcp_session *s = init_session(id);
	struct fake_sink *f;
	enum mcp_disposition d;
	struct sse e;

	for (int i = 0; i < 3; i++)
		push(s, "{}");
	CU_ASSERT_EQUAL(mailbox_unread(&s->mbox), 3);
	f = open_get(id, NULL, &d);
	CU_ASSERT_EQUAL(d, MCP_STREAMING);
	expect_stream_head(f, &e);
	CU_ASSERT_EQUAL_FATAL(e.n, 3);
	for (int i = 0; i < 3; i++)
		expect_event(&e, i, "test.event", (uint64_t)i + 1);
	sse_free(&e);
	CU_ASSERT_EQUAL(mailbox_unread(&s->mbox), 3); /* written, not sent yet */
	flush_sink(f);
	CU_ASSERT_EQUAL(mailbox_unread(&s->mbox), 0);
	sink_close(f);
	/* Delivered: the next fresh stream starts empty. */
	f = open_stream(id);
	sink_close(f);
}

static void test_enobufs_detaches_stream(void)
{
	char id[MCP_SESSION_ID_LEN + 1];
	struct mcp_session *s = init_session(id);
	struct fake_sink *f = open_stream(id);
	enum mcp_disposition d;
	struct sse e;
	size_t len;

	f->fail_commit = true;
	CU_ASSERT_EQUAL(push(s, "{\"n\":1}"), 1);
	CU_ASSERT_PTR_NULL(s->stream);
	CU_ASSERT_PTR_NULL(f->sink.stream_of);
	CU_ASSERT_EQUAL(stats().streams, 0);
	CU_ASSERT_EQUAL(mailbox_unread(&s->mbox), 1);
	len = f->out.len;
	CU_ASSERT_EQUAL(push(s, "{\"n\":2}"), 2); /* not written to the detached sink */
	CU_ASSERT_EQUAL(f->out.len, len);
	CU_ASSERT_EQUAL(f->resumes, 0);
	sink_close(f);
	f = open_get(id, NULL, &d);
	CU_ASSERT_EQUAL(d, MCP_STREAMING);
	expect_stream_head(f, &e);
	CU_ASSERT_EQUAL_FATAL(e.n, 2);
	expect_event(&e, 0, "test.event", 1);
	expect_event(&e, 1, "test.event", 2);
	sse_free(&e);
	sink_close(f);
}

/* The backlog written when a stream opens is delivered only if it could be sent. */
static void test_enobufs_on_open_keeps_backlog(void)
{
	char id[MCP_SESSION_ID_LEN + 1];
	struct mcp_session *s = init_session(id);
	struct fake_sink *f;
	enum mcp_disposition d;
	struct sse e;

	push(s, "{\"n\":1}");
	push(s, "{\"n\":2}");
	f = sink_new();
	f->fail_commit = true;
	{
		struct http_request req = req_new(HTTP_M_GET, id);

		d = mcp_handle(W.srv, &req, &f->sink);
	}
	CU_ASSERT_EQUAL(d, MCP_CLOSE);
	CU_ASSERT_PTR_NULL(s->stream);
	sink_close(f);
	CU_ASSERT_EQUAL(mailbox_unread(&s->mbox), 2);
	f = open_get(id, NULL, &d);
	CU_ASSERT_EQUAL(d, MCP_STREAMING);
	expect_stream_head(f, &e);
	CU_ASSERT_EQUAL(e.n, 2);
	sse_free(&e);
	sink_close(f);
}

/* get_status's unread count for a session. */
static double status_unread(const char *sid)
{
	cJSON *j = call_tool(sid, "get_status", "{}");
	double n = jnum(j, "result.structuredContent.unread");

	cJSON_Delete(j);
	return n;
}

/* Pushed on the open stream but never sent: not delivered. get_status counts it, and a fresh
 * GET after the stream is gone replays it. */
static void test_pushed_not_sent_undelivered(void)
{
	char id[MCP_SESSION_ID_LEN + 1];
	struct mcp_session *s = init_session(id);
	struct fake_sink *f = open_stream(id);
	uint64_t head = fake_queued(&f->sink);
	enum mcp_disposition d;
	struct sse e;
	bool ended;

	CU_ASSERT_EQUAL(push(s, "{\"n\":1}"), 1);
	CU_ASSERT_EQUAL(push(s, "{\"n\":2}"), 2);
	stream_events(f, &e, &ended); /* written to the connection... */
	CU_ASSERT_EQUAL(e.n, 2);
	sse_free(&e);
	CU_ASSERT_TRUE(mailbox_get(&s->mbox, 1)->wire_end > head);
	CU_ASSERT_TRUE(mailbox_get(&s->mbox, 2)->wire_end > mailbox_get(&s->mbox, 1)->wire_end);
	CU_ASSERT_EQUAL(mailbox_get(&s->mbox, 2)->wire_end, fake_queued(&f->sink));
	/* ...but nothing left yet (the head alone went out). */
	sink_sent_upto(f, head);
	CU_ASSERT_EQUAL(s->mbox.acked, 0);
	CU_ASSERT_EQUAL(mailbox_unread(&s->mbox), 2);
	CU_ASSERT_EQUAL(status_unread(id), 2);
	sink_close(f);
	CU_ASSERT_EQUAL(status_unread(id), 2);
	f = open_get(id, NULL, &d);
	CU_ASSERT_EQUAL(d, MCP_STREAMING);
	expect_stream_head(f, &e);
	CU_ASSERT_EQUAL_FATAL(e.n, 2);
	expect_event(&e, 0, "test.event", 1);
	expect_event(&e, 1, "test.event", 2);
	CU_ASSERT_EQUAL(jnum(e.msg[1], "params.n"), 2);
	sse_free(&e);
	/* Re-pushed on the new connection: its own offsets. */
	CU_ASSERT_EQUAL(mailbox_get(&s->mbox, 2)->wire_end, fake_queued(&f->sink));
	CU_ASSERT_EQUAL(status_unread(id), 2);
	flush_sink(f);
	CU_ASSERT_EQUAL(status_unread(id), 0);
	sink_close(f);
}

/* Once the sink reports the bytes sent, the events are delivered: a fresh GET starts empty,
 * and Last-Event-ID can still replay them from the replay window. */
static void test_sent_delivers(void)
{
	char id[MCP_SESSION_ID_LEN + 1];
	struct mcp_session *s = init_session(id);
	struct fake_sink *f = open_stream(id), *other = sink_new();
	enum mcp_disposition d;
	struct sse e;
	bool ended;

	CU_ASSERT_EQUAL(push(s, "{\"n\":1}"), 1);
	stream_events(f, &e, &ended);
	CU_ASSERT_EQUAL(e.n, 1);
	sse_free(&e);
	CU_ASSERT_EQUAL(status_unread(id), 1);
	/* Another connection's sends mean nothing for this stream. */
	other->sent = 1 << 20;
	mcp_sink_sent(W.srv, &other->sink);
	CU_ASSERT_EQUAL(mailbox_unread(&s->mbox), 1);
	sink_close(other);
	flush_sink(f);
	CU_ASSERT_EQUAL(s->mbox.acked, 1);
	CU_ASSERT_EQUAL(status_unread(id), 0);
	flush_sink(f); /* again: nothing moves */
	CU_ASSERT_EQUAL(s->mbox.acked, 1);
	/* The next one is pushed after the flush: undelivered until sent in turn. */
	CU_ASSERT_EQUAL(push(s, "{\"n\":2}"), 2);
	CU_ASSERT_EQUAL(mailbox_unread(&s->mbox), 1);
	flush_sink(f);
	CU_ASSERT_EQUAL(mailbox_unread(&s->mbox), 0);
	sink_close(f);
	f = open_stream(id); /* fresh: nothing undelivered */
	sink_close(f);
	f = open_get(id, "0", &d);
	CU_ASSERT_EQUAL(d, MCP_STREAMING);
	expect_stream_head(f, &e);
	CU_ASSERT_EQUAL_FATAL(e.n, 2);
	expect_event(&e, 0, "test.event", 1);
	expect_event(&e, 1, "test.event", 2);
	sse_free(&e);
	CU_ASSERT_EQUAL(mailbox_unread(&s->mbox), 0);
	sink_close(f);
}

/* The kernel took part of the bytes: only the events wholly before that point count. */
static void test_partial_send_acks_prefix(void)
{
	char id[MCP_SESSION_ID_LEN + 1];
	struct mcp_session *s = init_session(id);
	struct fake_sink *f = open_stream(id);
	uint64_t head = fake_queued(&f->sink), end[4];
	enum mcp_disposition d;
	struct sse e;
	bool ended;

	for (uint64_t seq = 1; seq <= 3; seq++) {
		CU_ASSERT_EQUAL(push(s, "{\"pad\":\"0123456789\"}"), (int64_t)seq);
		end[seq] = mailbox_get(&s->mbox, seq)->wire_end;
		CU_ASSERT_EQUAL(end[seq], fake_queued(&f->sink));
	}
	CU_ASSERT_TRUE(head < end[1] && end[1] < end[2] && end[2] < end[3]);
	stream_events(f, &e, &ended);
	CU_ASSERT_EQUAL(e.n, 3);
	sse_free(&e);
	sink_sent_upto(f, end[1] - 1); /* one byte short of the first */
	CU_ASSERT_EQUAL(s->mbox.acked, 0);
	sink_sent_upto(f, end[1] + 5); /* into the second */
	CU_ASSERT_EQUAL(s->mbox.acked, 1);
	sink_sent_upto(f, end[2] - 1);
	CU_ASSERT_EQUAL(s->mbox.acked, 1);
	CU_ASSERT_EQUAL(status_unread(id), 2);
	sink_sent_upto(f, end[2]); /* exactly the end of the second */
	CU_ASSERT_EQUAL(s->mbox.acked, 2);
	/* The connection drops with the third half sent: a fresh GET replays it alone. */
	sink_sent_upto(f, end[2] + (end[3] - end[2]) / 2);
	CU_ASSERT_EQUAL(s->mbox.acked, 2);
	sink_close(f);
	f = open_get(id, NULL, &d);
	CU_ASSERT_EQUAL(d, MCP_STREAMING);
	expect_stream_head(f, &e);
	CU_ASSERT_EQUAL_FATAL(e.n, 1);
	expect_event(&e, 0, "test.event", 3);
	sse_free(&e);
	CU_ASSERT_EQUAL(s->mbox.acked, 2);
	flush_sink(f);
	CU_ASSERT_EQUAL(s->mbox.acked, 3);
	sink_close(f);
}

/* The backlog written when a stream opens is delivered as its bytes go, in order. */
static void test_backlog_delivered_as_sent(void)
{
	char id[MCP_SESSION_ID_LEN + 1];
	struct mcp_session *s = init_session(id);
	struct fake_sink *f;
	enum mcp_disposition d;
	uint64_t end[4];
	struct sse e;

	for (int i = 0; i < 3; i++)
		push(s, "{}");
	f = open_get(id, NULL, &d);
	CU_ASSERT_EQUAL(d, MCP_STREAMING);
	for (uint64_t seq = 1; seq <= 3; seq++)
		end[seq] = mailbox_get(&s->mbox, seq)->wire_end;
	CU_ASSERT_TRUE(0 < end[1] && end[1] < end[2] && end[2] < end[3]);
	CU_ASSERT_TRUE(end[3] <= fake_queued(&f->sink));
	expect_stream_head(f, &e);
	CU_ASSERT_EQUAL(e.n, 3);
	sse_free(&e);
	CU_ASSERT_EQUAL(mailbox_unread(&s->mbox), 3);
	sink_sent_upto(f, end[1] - 1); /* the head and most of the first */
	CU_ASSERT_EQUAL(mailbox_unread(&s->mbox), 3);
	sink_sent_upto(f, end[2]);
	CU_ASSERT_EQUAL(mailbox_unread(&s->mbox), 1);
	flush_sink(f);
	CU_ASSERT_EQUAL(mailbox_unread(&s->mbox), 0);
	sink_close(f);
}

/* A push that overflows the send queue detaches the stream and stays undelivered, even if
 * the old connection later reports its bytes sent: replayed by Last-Event-ID and by a fresh
 * GET alike. */
static void test_enobufs_event_replayable(void)
{
	char id[MCP_SESSION_ID_LEN + 1];
	struct mcp_session *s = init_session(id);
	struct fake_sink *f = open_stream(id);
	enum mcp_disposition d;
	struct sse e;
	bool ended;

	CU_ASSERT_EQUAL(push(s, "{\"n\":1}"), 1);
	flush_sink(f);
	CU_ASSERT_EQUAL(s->mbox.acked, 1);
	f->fail_commit = true;
	CU_ASSERT_EQUAL(push(s, "{\"n\":2}"), 2);
	CU_ASSERT_PTR_NULL(s->stream);
	CU_ASSERT_PTR_NULL(f->sink.stream_of);
	flush_sink(f); /* not a stream any more: no effect */
	CU_ASSERT_EQUAL(s->mbox.acked, 1);
	CU_ASSERT_EQUAL(status_unread(id), 1);
	sink_close(f);
	/* Resuming from 1 replays 2. */
	f = open_get(id, "1", &d);
	CU_ASSERT_EQUAL(d, MCP_STREAMING);
	expect_stream_head(f, &e);
	CU_ASSERT_EQUAL_FATAL(e.n, 1);
	expect_event(&e, 0, "test.event", 2);
	CU_ASSERT_EQUAL(jnum(e.msg[0], "params.n"), 2);
	sse_free(&e);
	/* This connection goes too before sending it: still undelivered. */
	CU_ASSERT_EQUAL(mailbox_unread(&s->mbox), 1);
	sink_close(f);
	f = open_get(id, NULL, &d);
	CU_ASSERT_EQUAL(d, MCP_STREAMING);
	expect_stream_head(f, &e);
	CU_ASSERT_EQUAL_FATAL(e.n, 1);
	expect_event(&e, 0, "test.event", 2);
	sse_free(&e);
	flush_sink(f);
	CU_ASSERT_EQUAL(status_unread(id), 0);
	/* The stream goes on normally. */
	CU_ASSERT_EQUAL(push(s, "{\"n\":3}"), 3);
	stream_events(f, &e, &ended);
	CU_ASSERT_EQUAL_FATAL(e.n, 1);
	expect_event(&e, 0, "test.event", 3);
	sse_free(&e);
	flush_sink(f);
	CU_ASSERT_EQUAL(mailbox_unread(&s->mbox), 0);
	sink_close(f);
}

/* One keep-alive interval passes (W.cfg.sse_keepalive_ms = 1): the ping fires once. */
static void ping_interval(void)
{
	usleep(3000);
	timer_run(&W.heap, timer_now_ms());
}

/* A stream whose client reads everything gets a ": ping" comment every interval. */
static void test_stream_keepalive_ping(void)
{
	char id[MCP_SESSION_ID_LEN + 1];
	struct mcp_session *s;
	struct fake_sink *f;
	struct sse e;
	bool ended;

	s = init_session(id);
	W.cfg.sse_keepalive_ms = 1;
	f = open_stream(id);
	flush_sink(f); /* the client read the head: nothing waits */
	for (int i = 0; i < 3; i++) {
		ping_interval();
		CU_ASSERT_EQUAL(f->aborts, 0);
		CU_ASSERT_PTR_EQUAL(s->stream, &f->sink);
		CU_ASSERT_EQUAL(s->ping_sent, f->sent); /* progress recorded at the ping */
		CU_ASSERT_TRUE(fake_queued(&f->sink) > f->sent);
		stream_events(f, &e, &ended);
		CU_ASSERT_EQUAL(e.n, 0);
		CU_ASSERT_EQUAL(e.comments, 1);
		CU_ASSERT_FALSE(ended);
		sse_free(&e);
		flush_sink(f); /* and the ping */
	}
	CU_ASSERT_EQUAL(f->resumes, 0);
	CU_ASSERT_EQUAL(stats().streams, 1);
	sink_close(f);
}

static void test_idle_session_ends(void)
{
	char id[MCP_SESSION_ID_LEN + 1];
	struct reply rp;

	W.cfg.session_idle_timeout_ms = 1;
	init_session(id);
	usleep(5000);
	timer_run(&W.heap, timer_now_ms());
	CU_ASSERT_PTR_NULL(sess(id));
	rpc(id, "ping", NULL, 1, &rp);
	expect_refusal(&rp, 404, -32001);
	reply_free(&rp);
}

/* Tests: DELETE, cap, shutdown */

static void test_delete(void)
{
	char id[MCP_SESSION_ID_LEN + 1];
	struct http_request req;
	struct fake_sink *f;
	struct reply rp;
	struct sse e;
	bool ended;

	init_session(id);
	f = open_stream(id);
	req = req_new(HTTP_M_DELETE, id);
	do_req(&req, &rp);
	CU_ASSERT_EQUAL(rp.r.status, 200);
	CU_ASSERT_EQUAL(rp.d, MCP_DONE);
	reply_free(&rp);
	CU_ASSERT_PTR_NULL(sess(id));
	/* Its stream ended cleanly with the last chunk: the connection may go on (keep-alive). */
	CU_ASSERT_TRUE_FATAL(f->out.len >= 5);
	CU_ASSERT_EQUAL(memcmp(f->out.p + f->out.len - 5, "0\r\n\r\n", 5), 0);
	stream_events(f, &e, &ended);
	CU_ASSERT_TRUE(ended);
	sse_free(&e);
	CU_ASSERT_EQUAL(f->resumes, 1);
	CU_ASSERT_TRUE(f->resume_keep_alive);
	CU_ASSERT_EQUAL(f->aborts, 0);
	CU_ASSERT_PTR_NULL(f->sink.stream_of);
	CU_ASSERT_EQUAL(stats().streams, 0);
	sink_close(f);
	rpc(id, "ping", NULL, 1, &rp);
	expect_refusal(&rp, 404, -32001);
	reply_free(&rp);
	do_req(&req, &rp);
	expect_refusal(&rp, 404, -32001);
	reply_free(&rp);
	CU_ASSERT_EQUAL(stats().sessions, 0);
}

static void test_session_cap(void)
{
	char a[MCP_SESSION_ID_LEN + 1], b[MCP_SESSION_ID_LEN + 1];
	struct http_request del;
	struct reply rp;
	char retry[16];

	world_down();
	world_up(2);
	CU_ASSERT_PTR_NOT_NULL_FATAL(W.srv);
	init_session(a);
	init_session(b);
	rpc(NULL, "initialize", "{\"protocolVersion\":\"" NEWEST "\"}", 1, &rp);
	expect_refusal(&rp, 503, -32000);
	CU_ASSERT_TRUE(header_get(&rp.r, "Retry-After", retry, sizeof(retry)));
	CU_ASSERT_TRUE(atoi(retry) > 0);
	reply_free(&rp);
	CU_ASSERT_EQUAL(stats().sessions, 2);
	del = req_new(HTTP_M_DELETE, a);
	do_req(&del, &rp);
	CU_ASSERT_EQUAL(rp.r.status, 200);
	reply_free(&rp);
	init_session(a);
	CU_ASSERT_EQUAL(stats().sessions, 2);
}

/* Tests: chat through the tools */

static void enter_queue(const char *sid, const char *name, const char *want_status)
{
	char args[128];
	cJSON *j;

	snprintf(args, sizeof(args), "{\"display_name\":\"%s\"}", name);
	j = call_tool(sid, "enter_queue", args);
	CU_ASSERT_STRING_EQUAL(jstr(j, "result.structuredContent.status"), want_status);
	CU_ASSERT_PTR_NULL(jget(j, "result.isError"));
	cJSON_Delete(j);
}

/* Two matched sessions; the room id goes to room. */
static void match_pair(char a[MCP_SESSION_ID_LEN + 1], char b[MCP_SESSION_ID_LEN + 1], char room[80])
{
	const struct mailbox_event *ev;
	cJSON *p;

	init_session(a);
	init_session(b);
	enter_queue(a, "Alice", "waiting");
	enter_queue(b, "Bob", "matched");
	ev = mailbox_get(&sess(a)->mbox, 1);
	CU_ASSERT_PTR_NOT_NULL_FATAL(ev);
	CU_ASSERT_STRING_EQUAL(ev->method, "chatroom.found");
	p = cJSON_Parse(ev->params);
	snprintf(room, 80, "%s", jstr(p, "room_id"));
	cJSON_Delete(p);
	CU_ASSERT_TRUE(strlen(room) > 0);
}

static void test_chat_match_and_message(void)
{
	char a[MCP_SESSION_ID_LEN + 1], b[MCP_SESSION_ID_LEN + 1], args[256];
	struct fake_sink *fa, *fb;
	struct sse e;
	bool ended;
	cJSON *j;
	char room[80];

	init_session(a);
	init_session(b);
	fa = open_stream(a);
	fb = open_stream(b);
	enter_queue(a, "Alice", "waiting");
	j = call_tool(b, "enter_queue", "{\"display_name\":\"Bob\"}");
	CU_ASSERT_STRING_EQUAL(jstr(j, "result.structuredContent.status"), "matched");
	CU_ASSERT_STRING_EQUAL(jstr(j, "result.structuredContent.partner.display_name"), "Alice");
	snprintf(room, sizeof(room), "%s", jstr(j, "result.structuredContent.room_id"));
	cJSON_Delete(j);
	/* chatroom.found on both streams. */
	stream_events(fa, &e, &ended);
	CU_ASSERT_EQUAL_FATAL(e.n, 1);
	expect_event(&e, 0, "chatroom.found", 1);
	CU_ASSERT_STRING_EQUAL(jstr(e.msg[0], "params.room_id"), room);
	CU_ASSERT_STRING_EQUAL(jstr(e.msg[0], "params.partner.display_name"), "Bob");
	sse_free(&e);
	stream_events(fb, &e, &ended);
	CU_ASSERT_EQUAL_FATAL(e.n, 1);
	expect_event(&e, 0, "chatroom.found", 1);
	CU_ASSERT_STRING_EQUAL(jstr(e.msg[0], "params.partner.display_name"), "Alice");
	sse_free(&e);
	/* Bob talks; Alice's stream hears it. */
	snprintf(args, sizeof(args), "{\"room_id\":\"%s\",\"message\":\"hello \\\"you\\\"\"}", room);
	j = call_tool(b, "send_message", args);
	CU_ASSERT_PTR_NULL(jget(j, "result.isError"));
	CU_ASSERT_TRUE(strlen(jstr(j, "result.structuredContent.message_id")) > 0);
	CU_ASSERT_TRUE(strlen(jstr(j, "result.structuredContent.timestamp")) > 0);
	stream_events(fa, &e, &ended);
	CU_ASSERT_EQUAL_FATAL(e.n, 1);
	expect_event(&e, 0, "message.received", 2);
	CU_ASSERT_STRING_EQUAL(jstr(e.msg[0], "params.message"), "hello \"you\"");
	CU_ASSERT_STRING_EQUAL(jstr(e.msg[0], "params.sender.display_name"), "Bob");
	CU_ASSERT_STRING_EQUAL(jstr(e.msg[0], "params.room_id"), room);
	CU_ASSERT_STRING_EQUAL(jstr(e.msg[0], "params.message_id"),
			       jstr(j, "result.structuredContent.message_id"));
	sse_free(&e);
	cJSON_Delete(j);
	/* Bob's stream got nothing from his own message. */
	stream_events(fb, &e, &ended);
	CU_ASSERT_EQUAL(e.n, 0);
	sse_free(&e);
	sink_close(fa);
	sink_close(fb);
}

static void test_partner_disconnect_on_delete(void)
{
	char a[MCP_SESSION_ID_LEN + 1], b[MCP_SESSION_ID_LEN + 1], room[80];
	struct http_request del;
	enum mcp_disposition d;
	struct fake_sink *fa;
	struct reply rp;
	struct sse e;
	bool ended;

	match_pair(a, b, room);
	fa = open_get(a, NULL, &d);
	CU_ASSERT_EQUAL(d, MCP_STREAMING);
	expect_stream_head(fa, &e); /* writes chatroom.found */
	CU_ASSERT_EQUAL(e.n, 1);
	sse_free(&e);
	del = req_new(HTTP_M_DELETE, b);
	do_req(&del, &rp);
	CU_ASSERT_EQUAL(rp.r.status, 200);
	reply_free(&rp);
	stream_events(fa, &e, &ended);
	CU_ASSERT_EQUAL_FATAL(e.n, 1);
	expect_event(&e, 0, "partner.disconnected", 2);
	CU_ASSERT_STRING_EQUAL(jstr(e.msg[0], "params.room_id"), room);
	sse_free(&e);
	sink_close(fa);
}

/* POSTs wait_for_message on sink f. */
static enum mcp_disposition post_wait(const char *sid, struct fake_sink *f, const char *args,
				      int rpc_id)
{
	char body[256];
	struct http_request req = req_new(HTTP_M_POST, sid);

	snprintf(body, sizeof(body),
		 "{\"jsonrpc\":\"2.0\",\"id\":%d,\"method\":\"tools/call\",\"params\":"
		 "{\"name\":\"wait_for_message\",\"arguments\":%s}}",
		 rpc_id, args);
	req_body(&req, body);
	return mcp_handle(W.srv, &req, &f->sink);
}

/* A parked call's SSE head, with nothing after it yet. */
static void expect_pending_head(struct fake_sink *f)
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
static cJSON *expect_deferred_answer(struct fake_sink *f, int rpc_id)
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

static void test_wait_returns_at_once_with_events(void)
{
	char a[MCP_SESSION_ID_LEN + 1], b[MCP_SESSION_ID_LEN + 1], room[80];
	cJSON *j;

	match_pair(a, b, room);
	j = call_tool(a, "wait_for_message", "{}");
	CU_ASSERT_EQUAL(cJSON_GetArraySize(jget(j, "result.structuredContent.events")), 1);
	CU_ASSERT_STRING_EQUAL(jstr(j, "result.structuredContent.events.0.method"), "chatroom.found");
	CU_ASSERT_EQUAL(jnum(j, "result.structuredContent.events.0.params.seq"), 1);
	CU_ASSERT_STRING_EQUAL(jstr(j, "result.structuredContent.events.0.params.room_id"), room);
	CU_ASSERT_EQUAL(jnum(j, "result.structuredContent.next"), 1);
	cJSON_Delete(j);
	CU_ASSERT_EQUAL(mailbox_unread(&sess(a)->mbox), 0);
	/* timeout_s 0: nothing new, at once. */
	j = call_tool(a, "wait_for_message", "{\"timeout_s\":0}");
	CU_ASSERT_EQUAL(cJSON_GetArraySize(jget(j, "result.structuredContent.events")), 0);
	CU_ASSERT_EQUAL(jnum(j, "result.structuredContent.next"), 1);
	cJSON_Delete(j);
	/* after: 0 replays what is held. */
	j = call_tool(a, "wait_for_message", "{\"after\":0,\"timeout_s\":0}");
	CU_ASSERT_EQUAL(cJSON_GetArraySize(jget(j, "result.structuredContent.events")), 1);
	cJSON_Delete(j);
	CU_ASSERT_EQUAL(stats().calls_waiting, 0);
}

static void test_wait_timeout_zero(void)
{
	char id[MCP_SESSION_ID_LEN + 1];
	cJSON *j;

	init_session(id);
	j = call_tool(id, "wait_for_message", "{\"timeout_s\":0}");
	CU_ASSERT_TRUE(cJSON_IsArray(jget(j, "result.structuredContent.events")));
	CU_ASSERT_EQUAL(cJSON_GetArraySize(jget(j, "result.structuredContent.events")), 0);
	CU_ASSERT_EQUAL(jnum(j, "result.structuredContent.next"), 0);
	cJSON_Delete(j);
	j = call_tool(id, "wait_for_message", "{\"timeout_s\":-1}");
	CU_ASSERT_TRUE(cJSON_IsTrue(jget(j, "result.isError")));
	CU_ASSERT_STRING_EQUAL(jstr(j, "result.structuredContent.field"), "timeout_s");
	cJSON_Delete(j);
	CU_ASSERT_EQUAL(stats().calls_waiting, 0);
}

static void test_wait_pending_then_event(void)
{
	char id[MCP_SESSION_ID_LEN + 1];
	struct mcp_session *s = init_session(id);
	struct fake_sink *f = sink_new();
	cJSON *msg;

	CU_ASSERT_EQUAL(post_wait(id, f, "{\"timeout_s\":30}", 77), MCP_PENDING);
	expect_pending_head(f);
	CU_ASSERT_EQUAL(f->resumes, 0);
	CU_ASSERT_PTR_NOT_NULL(f->sink.call);
	CU_ASSERT_EQUAL(stats().calls_waiting, 1);
	CU_ASSERT_FALSE(mcp_server_idle(W.srv));
	CU_ASSERT_EQUAL(push(s, "{\"x\":5}"), 1);
	msg = expect_deferred_answer(f, 77);
	CU_ASSERT_EQUAL(cJSON_GetArraySize(jget(msg, "result.structuredContent.events")), 1);
	CU_ASSERT_STRING_EQUAL(jstr(msg, "result.structuredContent.events.0.method"), "test.event");
	CU_ASSERT_EQUAL(jnum(msg, "result.structuredContent.events.0.params.x"), 5);
	CU_ASSERT_EQUAL(jnum(msg, "result.structuredContent.events.0.params.seq"), 1);
	CU_ASSERT_EQUAL(jnum(msg, "result.structuredContent.next"), 1);
	cJSON_Delete(msg);
	CU_ASSERT_EQUAL(stats().calls_waiting, 0);
	CU_ASSERT_EQUAL(mailbox_unread(&s->mbox), 0);
	/* Later events do not write to the finished call's connection. */
	push(s, "{}");
	CU_ASSERT_EQUAL(f->out.len, 0);
	CU_ASSERT_EQUAL(f->resumes, 1);
	sink_close(f);
}

static void test_wait_pending_then_partner_message(void)
{
	char a[MCP_SESSION_ID_LEN + 1], b[MCP_SESSION_ID_LEN + 1], room[80], args[160];
	struct fake_sink *f;
	cJSON *j, *msg;

	match_pair(a, b, room);
	j = call_tool(a, "wait_for_message", "{\"timeout_s\":0}"); /* takes chatroom.found */
	cJSON_Delete(j);
	f = sink_new();
	CU_ASSERT_EQUAL(post_wait(a, f, "{}", 5), MCP_PENDING);
	expect_pending_head(f);
	snprintf(args, sizeof(args), "{\"room_id\":\"%s\",\"message\":\"ping?\"}", room);
	j = call_tool(b, "send_message", args);
	CU_ASSERT_PTR_NULL(jget(j, "result.isError"));
	cJSON_Delete(j);
	msg = expect_deferred_answer(f, 5);
	CU_ASSERT_STRING_EQUAL(jstr(msg, "result.structuredContent.events.0.method"), "message.received");
	CU_ASSERT_STRING_EQUAL(jstr(msg, "result.structuredContent.events.0.params.message"), "ping?");
	CU_ASSERT_EQUAL(jnum(msg, "result.structuredContent.next"), 2);
	cJSON_Delete(msg);
	sink_close(f);
}

static void test_wait_times_out(void)
{
	char id[MCP_SESSION_ID_LEN + 1];
	struct fake_sink *f = sink_new();
	uint64_t now;
	cJSON *msg;

	init_session(id);
	CU_ASSERT_EQUAL(post_wait(id, f, "{\"timeout_s\":1}", 3), MCP_PENDING);
	expect_pending_head(f);
	now = timer_now_ms();
	timer_run(&W.heap, now + 500);
	CU_ASSERT_EQUAL(f->out.len, 0);
	CU_ASSERT_EQUAL(f->resumes, 0);
	timer_run(&W.heap, now + 1500);
	msg = expect_deferred_answer(f, 3);
	CU_ASSERT_EQUAL(cJSON_GetArraySize(jget(msg, "result.structuredContent.events")), 0);
	CU_ASSERT_TRUE(cJSON_IsArray(jget(msg, "result.structuredContent.events")));
	cJSON_Delete(msg);
	CU_ASSERT_EQUAL(stats().calls_waiting, 0);
	CU_ASSERT_PTR_NOT_NULL(sess(id));
	sink_close(f);
}

static void test_wait_cancelled_by_close(void)
{
	char id[MCP_SESSION_ID_LEN + 1];
	struct mcp_session *s = init_session(id);
	struct fake_sink *f = sink_new();
	struct reply rp;

	CU_ASSERT_EQUAL(post_wait(id, f, "{\"timeout_s\":1}", 3), MCP_PENDING);
	expect_pending_head(f);
	mcp_sink_closed(W.srv, &f->sink);
	CU_ASSERT_PTR_NULL(f->sink.call);
	CU_ASSERT_PTR_NULL(s->calls);
	CU_ASSERT_EQUAL(stats().calls_waiting, 0);
	CU_ASSERT_EQUAL(s->busy, 0);
	push(s, "{}");
	timer_run(&W.heap, timer_now_ms() + 2000);
	CU_ASSERT_EQUAL(f->out.len, 0);
	CU_ASSERT_EQUAL(f->resumes, 0);
	CU_ASSERT_EQUAL(mailbox_unread(&s->mbox), 1); /* nobody took it */
	sink_release(f); /* mcp_sink_closed() was the close */
	rpc(id, "ping", NULL, 1, &rp); /* the session lives on */
	CU_ASSERT_EQUAL(rp.r.status, 200);
	reply_free(&rp);
}

static void test_wait_keepalive_comment(void)
{
	char id[MCP_SESSION_ID_LEN + 1];
	struct fake_sink *f = sink_new();
	struct sse e;
	bool ended;

	init_session(id);
	W.cfg.sse_keepalive_ms = 1;
	CU_ASSERT_EQUAL(post_wait(id, f, "{\"timeout_s\":30}", 3), MCP_PENDING);
	expect_pending_head(f);
	usleep(5000);
	timer_run(&W.heap, timer_now_ms());
	stream_events(f, &e, &ended);
	CU_ASSERT_EQUAL(e.n, 0);
	CU_ASSERT_TRUE(e.comments >= 1);
	CU_ASSERT_FALSE(ended);
	sse_free(&e);
	CU_ASSERT_EQUAL(f->resumes, 0);
	sink_close(f);
	CU_ASSERT_EQUAL(stats().calls_waiting, 0);
}

static void test_shutdown(void)
{
	char a[MCP_SESSION_ID_LEN + 1], b[MCP_SESSION_ID_LEN + 1];
	struct fake_sink *fs, *fw;
	struct reply rp;
	struct sse e;
	bool ended;
	cJSON *msg;

	init_session(a);
	init_session(b);
	fs = open_stream(a);
	fw = sink_new();
	CU_ASSERT_EQUAL(post_wait(b, fw, "{\"timeout_s\":30}", 11), MCP_PENDING);
	expect_pending_head(fw);
	mcp_server_shutdown(W.srv);
	/* The stream ended cleanly (last chunk, keep-alive like any session end); during
	 * shutdown the connection layer closes the connection anyway. */
	stream_events(fs, &e, &ended);
	CU_ASSERT_TRUE(ended);
	CU_ASSERT_EQUAL(e.n, 0);
	sse_free(&e);
	CU_ASSERT_EQUAL(fs->resumes, 1);
	CU_ASSERT_TRUE(fs->resume_keep_alive);
	CU_ASSERT_EQUAL(fs->aborts, 0);
	CU_ASSERT_PTR_NULL(fs->sink.stream_of);
	/* The waiting call answered with what it had. */
	msg = expect_deferred_answer(fw, 11);
	CU_ASSERT_EQUAL(cJSON_GetArraySize(jget(msg, "result.structuredContent.events")), 0);
	cJSON_Delete(msg);
	CU_ASSERT_EQUAL(stats().sessions, 0);
	CU_ASSERT_EQUAL(stats().streams, 0);
	CU_ASSERT_EQUAL(stats().calls_waiting, 0);
	CU_ASSERT_TRUE(mcp_server_idle(W.srv));
	sink_close(fs);
	sink_close(fw);
	/* New requests: 503. */
	rpc(NULL, "initialize", "{\"protocolVersion\":\"" NEWEST "\"}", 1, &rp);
	CU_ASSERT_EQUAL(rp.r.status, 503);
	CU_ASSERT_TRUE(header_get(&rp.r, "Retry-After", (char[16]){ 0 }, 16));
	CU_ASSERT_EQUAL(jnum(rp.json, "error.code"), -32000);
	reply_free(&rp);
	rpc(a, "ping", NULL, 2, &rp);
	CU_ASSERT_EQUAL(rp.r.status, 503);
	reply_free(&rp);
	CU_ASSERT_EQUAL(stats().sessions, 0);
}

/* A backlog larger than the send queue stays on one stream and goes out as sends make room;
 * when the connection drops midway, resuming from the last event read gets the rest, each
 * event once and none skipped. */
static void test_backlog_over_send_queue(void)
{
	char id[MCP_SESSION_ID_LEN + 1], last[24] = "";
	struct mcp_session *s = init_session(id);
	uint64_t next = 1;
	int rounds = 0;

	for (int i = 1; i <= 5; i++)
		push_padded(s, i, 40);
	W.cfg.max_send_queue = 400;
	for (int round = 0; round < 10 && next <= 5; round++) {
		enum mcp_disposition d;
		struct fake_sink *f = open_get(id, last[0] ? last : NULL, &d);
		uint64_t first = next;
		struct sse e;

		/* Never closed for the backlog: it streams what fits. */
		CU_ASSERT_EQUAL(d, MCP_STREAMING);
		CU_ASSERT_PTR_EQUAL(s->stream, &f->sink);
		expect_fits(s, f);
		expect_stream_head(f, &e);
		CU_ASSERT_TRUE(e.n >= 1);
		if (round == 0)
			CU_ASSERT_TRUE(e.n < 5); /* the limit holds the backlog back */
		expect_in_order(&e, &next);
		sse_free(&e);
		/* Only the Last-Event-ID delivered anything: what this GET wrote is not sent. */
		CU_ASSERT_EQUAL(s->mbox.acked, first - 1);
		/* The client reads one event, which makes room for more, then the connection
		 * drops with those unread. */
		sink_sent_upto(f, mailbox_get(&s->mbox, first)->wire_end);
		CU_ASSERT_EQUAL(s->mbox.acked, first);
		expect_fits(s, f);
		if (first < 5)
			CU_ASSERT_TRUE(s->pushed > next - 1 || s->pushed == 5);
		sink_close(f);
		CU_ASSERT_EQUAL(s->mbox.acked, first);
		snprintf(last, sizeof(last), "%llu", (unsigned long long)first);
		next = first + 1; /* what was written after it never reached the client */
		rounds++;
	}
	CU_ASSERT_EQUAL(next, 6);
	CU_ASSERT_EQUAL(rounds, 5);
	CU_ASSERT_EQUAL(mailbox_unread(&s->mbox), 0);
}

/* A stream whose client reads nothing holds back what does not fit in the send queue; the
 * held events follow in order as sent bytes make room, each once. */
static void test_stream_throttled(void)
{
	char id[MCP_SESSION_ID_LEN + 1];
	struct mcp_session *s = init_session(id);
	struct fake_sink *f;
	uint64_t next = 1, pushed;
	int rounds = 0;

	W.cfg.max_send_queue = 16384;
	f = open_stream(id);
	for (int i = 1; i <= 20; i++) {
		CU_ASSERT_EQUAL(push_padded(s, i, 3000), i);
		expect_fits(s, f);
	}
	pushed = s->pushed;
	CU_ASSERT_TRUE(pushed >= 2 && pushed < 20);
	CU_ASSERT_EQUAL(take_in_order(f, &next), (int)pushed);
	CU_ASSERT_EQUAL(mailbox_get(&s->mbox, pushed)->wire_end, fake_queued(&f->sink));
	for (uint64_t seq = pushed + 1; seq <= 20; seq++)
		CU_ASSERT_EQUAL(mailbox_get(&s->mbox, seq)->wire_end, 0);
	/* Not closed, nothing delivered. */
	CU_ASSERT_PTR_EQUAL(s->stream, &f->sink);
	CU_ASSERT_EQUAL(stats().streams, 1);
	CU_ASSERT_EQUAL(f->resumes, 0);
	CU_ASSERT_EQUAL(f->aborts, 0);
	CU_ASSERT_EQUAL(mailbox_unread(&s->mbox), 20);
	/* Sent bytes make room byte by byte: one short of the next event's room, nothing moves;
	 * exactly its room, it goes (and only it). */
	{
		uint64_t need = fake_queued(&f->sink) +
				mailbox_get(&s->mbox, pushed + 1)->params_len + 128 -
				W.cfg.max_send_queue;

		sink_sent_upto(f, need - 1);
		CU_ASSERT_EQUAL(s->pushed, pushed);
		CU_ASSERT_EQUAL(take_in_order(f, &next), 0);
		expect_delivered_as_sent(s, f);
		sink_sent_upto(f, need);
		CU_ASSERT_EQUAL(s->pushed, pushed + 1);
		CU_ASSERT_EQUAL(take_in_order(f, &next), 1);
		expect_fits(s, f);
		expect_delivered_as_sent(s, f);
	}
	/* The first is all out: delivered. */
	pushed = s->pushed;
	sink_sent_upto(f, mailbox_get(&s->mbox, 1)->wire_end);
	CU_ASSERT_EQUAL(s->mbox.acked, 1);
	expect_fits(s, f);
	CU_ASSERT_EQUAL(take_in_order(f, &next), (int)(s->pushed - pushed));
	/* A new event while others wait takes its turn behind them. */
	pushed = s->pushed;
	CU_ASSERT_EQUAL(push_padded(s, 21, 10), 21);
	CU_ASSERT_EQUAL(s->pushed, pushed);
	CU_ASSERT_EQUAL(take_in_order(f, &next), 0);
	/* The rest follow as the bytes go. */
	while (next <= 21 && rounds < 50) {
		flush_sink(f);
		CU_ASSERT_EQUAL(s->mbox.acked, next - 1);
		expect_fits(s, f);
		CU_ASSERT_TRUE(take_in_order(f, &next) >= 1);
		rounds++;
	}
	CU_ASSERT_EQUAL(next, 22);
	CU_ASSERT_TRUE(rounds > 1);
	CU_ASSERT_EQUAL(s->pushed, 21);
	flush_sink(f);
	CU_ASSERT_EQUAL(s->mbox.acked, 21);
	CU_ASSERT_EQUAL(mailbox_unread(&s->mbox), 0);
	CU_ASSERT_EQUAL(take_in_order(f, &next), 0);
	CU_ASSERT_EQUAL(f->resumes, 0);
	CU_ASSERT_EQUAL(f->aborts, 0);
	sink_close(f);
}

/* Bytes waiting and none sent for a whole keep-alive interval: the client stopped reading.
 * The connection is aborted, the stream detached; its undelivered events replay on a new GET
 * with Last-Event-ID, in order, once. */
static void test_stopped_reader_aborted(void)
{
	char id[MCP_SESSION_ID_LEN + 1];
	struct mcp_session *s = init_session(id);
	struct fake_sink *f;
	enum mcp_disposition d;
	uint64_t next = 1;
	struct sse e;
	bool ended;
	int rounds = 0;

	W.cfg.sse_keepalive_ms = 1;
	W.cfg.max_send_queue = 16384;
	f = open_stream(id);
	for (int i = 1; i <= 10; i++)
		push_padded(s, i, 3000);
	CU_ASSERT_TRUE(s->pushed >= 2 && s->pushed < 10);
	take_in_order(f, &next);
	/* The client reads the head and two events, then stops. */
	sink_sent_upto(f, mailbox_get(&s->mbox, 2)->wire_end);
	CU_ASSERT_EQUAL(s->mbox.acked, 2);
	take_in_order(f, &next);
	CU_ASSERT_TRUE(s->pushed < 10);
	/* First interval: bytes wait, but some went since the stream opened: a ping. */
	ping_interval();
	CU_ASSERT_EQUAL(f->aborts, 0);
	CU_ASSERT_PTR_EQUAL(s->stream, &f->sink);
	CU_ASSERT_EQUAL(s->ping_sent, f->sent);
	stream_events(f, &e, &ended);
	CU_ASSERT_EQUAL(e.n, 0);
	CU_ASSERT_EQUAL(e.comments, 1);
	CU_ASSERT_FALSE(ended);
	sse_free(&e);
	/* Second interval: still waiting, not a byte sent since the last ping: aborted, no
	 * ping written, no clean end. */
	CU_ASSERT_TRUE(fake_queued(&f->sink) > f->sent);
	ping_interval();
	CU_ASSERT_EQUAL(f->aborts, 1);
	CU_ASSERT_PTR_NULL(s->stream);
	CU_ASSERT_PTR_NULL(f->sink.stream_of);
	CU_ASSERT_EQUAL(stats().streams, 0);
	CU_ASSERT_EQUAL(f->out.len, 0);
	CU_ASSERT_EQUAL(f->resumes, 0);
	/* Detached: its late sends deliver nothing, and no more pings come. */
	flush_sink(f);
	CU_ASSERT_EQUAL(s->mbox.acked, 2);
	CU_ASSERT_EQUAL(mailbox_unread(&s->mbox), 8);
	ping_interval();
	CU_ASSERT_EQUAL(f->aborts, 1);
	CU_ASSERT_EQUAL(f->out.len, 0);
	sink_close(f); /* what the I/O layer does after the abort */
	CU_ASSERT_PTR_NOT_NULL(sess(id));
	CU_ASSERT_EQUAL(push_padded(s, 11, 10), 11);
	CU_ASSERT_EQUAL(mailbox_unread(&s->mbox), 9);
	/* The client comes back with the last id it read: 3..11, in order, once. */
	next = 3;
	f = open_get(id, "2", &d);
	CU_ASSERT_EQUAL(d, MCP_STREAMING);
	expect_fits(s, f);
	expect_stream_head(f, &e);
	CU_ASSERT_TRUE(e.n >= 1 && e.n < 9);
	expect_in_order(&e, &next);
	sse_free(&e);
	while (next <= 11 && rounds < 50) {
		flush_sink(f);
		CU_ASSERT_EQUAL(s->mbox.acked, next - 1);
		expect_fits(s, f);
		CU_ASSERT_TRUE(take_in_order(f, &next) >= 1);
		rounds++;
	}
	CU_ASSERT_EQUAL(next, 12);
	flush_sink(f);
	CU_ASSERT_EQUAL(mailbox_unread(&s->mbox), 0);
	CU_ASSERT_EQUAL(take_in_order(f, &next), 0);
	CU_ASSERT_EQUAL(f->aborts, 0);
	sink_close(f);
}

/* A slow reader, with bytes always waiting but some sent in every interval, is not aborted. */
static void test_slow_reader_not_aborted(void)
{
	char id[MCP_SESSION_ID_LEN + 1];
	struct mcp_session *s = init_session(id);
	struct fake_sink *f;
	uint64_t next = 1;
	int comments = 0, rounds = 0;

	W.cfg.sse_keepalive_ms = 1;
	W.cfg.max_send_queue = 16384;
	f = open_stream(id);
	for (int i = 1; i <= 10; i++)
		push_padded(s, i, 3000);
	for (int i = 0; i < 5; i++) {
		struct sse e;
		bool ended;

		sink_sent_upto(f, f->sent + 1000); /* a little each interval */
		CU_ASSERT_TRUE(fake_queued(&f->sink) > f->sent);
		ping_interval();
		CU_ASSERT_EQUAL(f->aborts, 0);
		CU_ASSERT_PTR_EQUAL(s->stream, &f->sink);
		CU_ASSERT_EQUAL(s->ping_sent, f->sent);
		stream_events(f, &e, &ended);
		CU_ASSERT_FALSE(ended);
		comments += e.comments;
		expect_in_order(&e, &next);
		sse_free(&e);
	}
	CU_ASSERT_EQUAL(comments, 5);
	/* It speeds up: everything arrives, in order, on the same stream. */
	while (next <= 10 && rounds < 50) {
		flush_sink(f);
		take_in_order(f, &next);
		rounds++;
	}
	CU_ASSERT_EQUAL(next, 11);
	flush_sink(f);
	CU_ASSERT_EQUAL(mailbox_unread(&s->mbox), 0);
	CU_ASSERT_EQUAL(f->aborts, 0);
	CU_ASSERT_EQUAL(stats().streams, 1);
	sink_close(f);
}

/* An event larger than the whole send queue still goes, alone, once nothing waits. */
static void test_event_bigger_than_queue(void)
{
	char id[MCP_SESSION_ID_LEN + 1];
	struct mcp_session *s = init_session(id);
	struct fake_sink *f;
	uint64_t next = 1;

	W.cfg.max_send_queue = 16384;
	f = open_stream(id);
	/* The head still waits: the big one waits for it. */
	CU_ASSERT_EQUAL(push_padded(s, 1, 20000), 1);
	CU_ASSERT_EQUAL(s->pushed, 0);
	CU_ASSERT_EQUAL(take_in_order(f, &next), 0);
	flush_sink(f);
	CU_ASSERT_EQUAL(s->pushed, 1);
	CU_ASSERT_TRUE(fake_queued(&f->sink) - f->sent > W.cfg.max_send_queue);
	CU_ASSERT_EQUAL(take_in_order(f, &next), 1);
	/* A small one waits behind it while the queue is over full, and fits once most of the
	 * big one went. */
	CU_ASSERT_EQUAL(push_padded(s, 2, 10), 2);
	CU_ASSERT_EQUAL(s->pushed, 1);
	sink_sent_upto(f, f->sent + 1000);
	CU_ASSERT_EQUAL(s->pushed, 1);
	CU_ASSERT_EQUAL(take_in_order(f, &next), 0);
	sink_sent_upto(f, mailbox_get(&s->mbox, 1)->wire_end - 1);
	CU_ASSERT_EQUAL(s->mbox.acked, 0);
	CU_ASSERT_EQUAL(s->pushed, 2);
	CU_ASSERT_EQUAL(take_in_order(f, &next), 1);
	flush_sink(f);
	CU_ASSERT_EQUAL(s->mbox.acked, 2);
	/* A big one waits while anything does, then goes alone. */
	CU_ASSERT_EQUAL(push_padded(s, 3, 10), 3);
	CU_ASSERT_EQUAL(push_padded(s, 4, 20000), 4);
	CU_ASSERT_EQUAL(s->pushed, 3);
	CU_ASSERT_EQUAL(take_in_order(f, &next), 1);
	flush_sink(f);
	CU_ASSERT_EQUAL(s->mbox.acked, 3);
	CU_ASSERT_EQUAL(s->pushed, 4);
	CU_ASSERT_EQUAL(take_in_order(f, &next), 1);
	flush_sink(f);
	CU_ASSERT_EQUAL(s->mbox.acked, 4);
	/* Nothing waits: a big one goes at once. */
	CU_ASSERT_EQUAL(push_padded(s, 5, 40000), 5);
	CU_ASSERT_EQUAL(s->pushed, 5);
	CU_ASSERT_EQUAL(mailbox_get(&s->mbox, 5)->wire_end, fake_queued(&f->sink));
	CU_ASSERT_EQUAL(take_in_order(f, &next), 1);
	flush_sink(f);
	CU_ASSERT_EQUAL(mailbox_unread(&s->mbox), 0);
	CU_ASSERT_PTR_EQUAL(s->stream, &f->sink);
	CU_ASSERT_EQUAL(f->resumes, 0);
	sink_close(f);
}

/* A fresh GET on a backlog many times the send queue streams (never closes for it) and
 * delivers everything, in order, as the sink reports partial sends. */
static void test_fresh_get_large_backlog(void)
{
	char id[MCP_SESSION_ID_LEN + 1];
	struct mcp_session *s = init_session(id);
	struct fake_sink *f;
	enum mcp_disposition d;
	uint64_t next = 1;
	struct sse e;
	int rounds = 0;

	W.cfg.max_send_queue = 16384;
	for (int i = 1; i <= 40; i++)
		push_padded(s, i, 3000);
	f = open_get(id, NULL, &d);
	CU_ASSERT_EQUAL(d, MCP_STREAMING);
	CU_ASSERT_PTR_EQUAL(s->stream, &f->sink);
	CU_ASSERT_PTR_EQUAL(f->sink.stream_of, s);
	CU_ASSERT_EQUAL(stats().streams, 1);
	expect_fits(s, f);
	expect_stream_head(f, &e);
	CU_ASSERT_TRUE(e.n >= 1 && e.n < 40);
	expect_in_order(&e, &next);
	sse_free(&e);
	CU_ASSERT_EQUAL(mailbox_unread(&s->mbox), 40);
	while (next <= 40 && rounds < 500) {
		uint64_t q = fake_queued(&f->sink);

		sink_sent_upto(f, f->sent + 5000 < q ? f->sent + 5000 : q);
		expect_fits(s, f);
		expect_delivered_as_sent(s, f);
		take_in_order(f, &next);
		rounds++;
	}
	CU_ASSERT_EQUAL(next, 41);
	CU_ASSERT_TRUE(rounds > 5);
	flush_sink(f);
	CU_ASSERT_EQUAL(s->mbox.acked, 40);
	CU_ASSERT_EQUAL(mailbox_unread(&s->mbox), 0);
	CU_ASSERT_EQUAL(take_in_order(f, &next), 0);
	CU_ASSERT_EQUAL(f->resumes, 0);
	CU_ASSERT_EQUAL(f->aborts, 0);
	sink_close(f);
}

/* The stream of a session that ends (here: kicked, with events still held back) gets what was
 * written, then the last chunk, and resumes with keep-alive: it ended cleanly. */
static void test_session_end_stream_resume(void)
{
	char id[MCP_SESSION_ID_LEN + 1];
	struct mcp_session *s = init_session(id);
	struct fake_sink *f;
	uint64_t next = 1, pushed;
	struct sse e;
	bool ended;
	int commits;

	W.cfg.max_send_queue = 16384;
	f = open_stream(id);
	for (int i = 1; i <= 10; i++)
		push_padded(s, i, 3000);
	pushed = s->pushed;
	CU_ASSERT_TRUE(pushed < 10);
	commits = f->commits;
	mcp_session_end(W.srv, s, 3 /* CHAT_KICKED */);
	CU_ASSERT_PTR_NULL(sess(id));
	CU_ASSERT_EQUAL(f->commits, commits + 1);
	CU_ASSERT_EQUAL(f->resumes, 1);
	CU_ASSERT_TRUE(f->resume_keep_alive);
	CU_ASSERT_EQUAL(f->aborts, 0);
	CU_ASSERT_PTR_NULL(f->sink.stream_of);
	CU_ASSERT_EQUAL(stats().streams, 0);
	CU_ASSERT_TRUE_FATAL(f->out.len >= 5);
	CU_ASSERT_EQUAL(memcmp(f->out.p + f->out.len - 5, "0\r\n\r\n", 5), 0);
	/* What was written, then the end; the held-back events are not written. */
	stream_events(f, &e, &ended);
	CU_ASSERT_TRUE(ended);
	CU_ASSERT_EQUAL(e.n, (int)pushed);
	expect_in_order(&e, &next);
	sse_free(&e);
	/* The connection's later sends touch nothing (the session is gone). */
	flush_sink(f);
	CU_ASSERT_EQUAL(f->out.len, 0);
	sink_close(f);
}

static void test_idle_not_while_streaming(void)
{
	char id[MCP_SESSION_ID_LEN + 1];
	struct fake_sink *f;

	W.cfg.session_idle_timeout_ms = 1;
	init_session(id);
	f = open_stream(id);
	usleep(5000);
	timer_run(&W.heap, timer_now_ms());
	CU_ASSERT_PTR_NOT_NULL(sess(id));
	CU_ASSERT_EQUAL(f->resumes, 0);
	sink_close(f);
	usleep(5000);
	timer_run(&W.heap, timer_now_ms());
	CU_ASSERT_PTR_NULL(sess(id));
}

static void test_idle_not_while_waiting(void)
{
	char id[MCP_SESSION_ID_LEN + 1];
	struct fake_sink *f = sink_new();

	W.cfg.session_idle_timeout_ms = 1;
	init_session(id);
	CU_ASSERT_EQUAL(post_wait(id, f, "{\"timeout_s\":30}", 1), MCP_PENDING);
	usleep(5000);
	timer_run(&W.heap, timer_now_ms());
	CU_ASSERT_PTR_NOT_NULL(sess(id));
	CU_ASSERT_EQUAL(f->resumes, 0);
	sink_close(f);
	usleep(5000);
	timer_run(&W.heap, timer_now_ms());
	CU_ASSERT_PTR_NULL(sess(id));
}

/* notifications/cancelled for the request id, answered 202 with no body. */
static void post_cancel(const char *sid, const char *request_id)
{
	char body[256];
	struct reply rp;

	snprintf(body, sizeof(body),
		 "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/cancelled\",\"params\":"
		 "{\"requestId\":%s,\"reason\":\"timeout\"}}",
		 request_id);
	post(sid, body, &rp);
	CU_ASSERT_EQUAL(rp.r.status, 202);
	CU_ASSERT_EQUAL(rp.r.body.len, 0);
	reply_free(&rp);
}

static double events_in(const cJSON *j)
{
	return cJSON_GetArraySize(jget(j, "result.structuredContent.events"));
}

/* A cancelled parked call ends with no answer and leaves the cursor alone: the event that
 * arrives next goes to the next wait_for_message (the mcp-remote loss of issue 12). */
static void test_cancel_parked_wait(void)
{
	char id[MCP_SESSION_ID_LEN + 1];
	struct mcp_session *s = init_session(id);
	struct fake_sink *f = sink_new();
	struct sse e;
	bool ended;
	cJSON *j;

	CU_ASSERT_EQUAL(post_wait(id, f, "{\"timeout_s\":30}", 77), MCP_PENDING);
	expect_pending_head(f);
	post_cancel(id, "78"); /* another id: nothing happens */
	CU_ASSERT_EQUAL(stats().calls_waiting, 1);
	CU_ASSERT_EQUAL(f->resumes, 0);
	post_cancel(id, "\"77\""); /* a string is another id than the number */
	CU_ASSERT_EQUAL(stats().calls_waiting, 1);
	post_cancel(id, "77");
	CU_ASSERT_EQUAL(stats().calls_waiting, 0);
	CU_ASSERT_PTR_NULL(s->calls);
	CU_ASSERT_EQUAL(s->busy, 0);
	CU_ASSERT_PTR_NULL(f->sink.call);
	stream_events(f, &e, &ended);
	CU_ASSERT_TRUE(ended);
	CU_ASSERT_EQUAL(e.n, 0); /* no response at all */
	sse_free(&e);
	CU_ASSERT_EQUAL(f->resumes, 1);
	CU_ASSERT_TRUE(f->resume_keep_alive);
	CU_ASSERT_EQUAL(push(s, "{\"x\":1}"), 1);
	CU_ASSERT_EQUAL(f->out.len, 0);
	CU_ASSERT_EQUAL(s->mbox.cursor, 0);
	j = call_tool(id, "wait_for_message", "{\"timeout_s\":0}");
	CU_ASSERT_EQUAL(events_in(j), 1);
	CU_ASSERT_EQUAL(jnum(j, "result.structuredContent.events.0.params.x"), 1);
	cJSON_Delete(j);
	sink_close(f);
}

/* A string id, and a cancellation after the connection closed: nothing to do. */
static void test_cancel_string_id_and_late(void)
{
	char id[MCP_SESSION_ID_LEN + 1], body[256];
	struct mcp_session *s = init_session(id);
	struct fake_sink *f = sink_new();
	struct http_request req = req_new(HTTP_M_POST, id);

	snprintf(body, sizeof(body),
		 "{\"jsonrpc\":\"2.0\",\"id\":\"w-1\",\"method\":\"tools/call\",\"params\":"
		 "{\"name\":\"wait_for_message\",\"arguments\":{}}}");
	req_body(&req, body);
	CU_ASSERT_EQUAL(mcp_handle(W.srv, &req, &f->sink), MCP_PENDING);
	expect_pending_head(f);
	post_cancel(id, "\"w-1\"");
	CU_ASSERT_EQUAL(stats().calls_waiting, 0);
	CU_ASSERT_EQUAL(f->resumes, 1);
	post_cancel(id, "\"w-1\""); /* twice: harmless */
	post_cancel(id, "{\"not\":\"an id\"}");
	CU_ASSERT_PTR_NOT_NULL(sess(id));
	CU_ASSERT_EQUAL(s->busy, 0);
	sink_close(f);
}

/* The answer went out (as JSON, at once) but the client's timeout fired first and it sent
 * notifications/cancelled: it never saw the events, so the next wait returns them again. */
static void test_cancel_after_json_answer(void)
{
	char a[MCP_SESSION_ID_LEN + 1], b[MCP_SESSION_ID_LEN + 1], room[80];
	struct reply rp;
	struct mcp_session *s;
	cJSON *j;

	match_pair(a, b, room);
	s = sess(a);
	j = call_tool(a, "wait_for_message", "{\"timeout_s\":0}"); /* id 42 */
	CU_ASSERT_EQUAL(events_in(j), 1);
	cJSON_Delete(j);
	CU_ASSERT_EQUAL(s->mbox.cursor, 1);
	post_cancel(a, "41"); /* not that call */
	CU_ASSERT_EQUAL(s->mbox.cursor, 1);
	post_cancel(a, "42");
	CU_ASSERT_EQUAL(s->mbox.cursor, 0);
	j = call_tool(a, "wait_for_message", "{\"timeout_s\":0}");
	CU_ASSERT_EQUAL(events_in(j), 1);
	CU_ASSERT_STRING_EQUAL(jstr(j, "result.structuredContent.events.0.method"), "chatroom.found");
	cJSON_Delete(j);
	/* Another call moved on since: an old cancellation changes nothing. */
	CU_ASSERT_EQUAL(push(s, "{}"), 2);
	rpc(a, "tools/call", "{\"name\":\"wait_for_message\",\"arguments\":{\"timeout_s\":0}}", 7, &rp);
	CU_ASSERT_EQUAL(jnum(rp.json, "result.structuredContent.next"), 2);
	reply_free(&rp);
	post_cancel(a, "42");
	CU_ASSERT_EQUAL(s->mbox.cursor, 2);
	post_cancel(a, "7");
	CU_ASSERT_EQUAL(s->mbox.cursor, 1);
	post_cancel(a, "7"); /* once only */
	CU_ASSERT_EQUAL(s->mbox.cursor, 1);
}

/* A deferred answer that crossed the cancellation is undone the same way. */
static void test_cancel_after_deferred_answer(void)
{
	char id[MCP_SESSION_ID_LEN + 1];
	struct mcp_session *s = init_session(id);
	struct fake_sink *f = sink_new();
	cJSON *msg;

	CU_ASSERT_EQUAL(post_wait(id, f, "{}", 5), MCP_PENDING);
	expect_pending_head(f);
	push(s, "{}");
	msg = expect_deferred_answer(f, 5);
	cJSON_Delete(msg);
	CU_ASSERT_EQUAL(s->mbox.cursor, 1);
	post_cancel(id, "5");
	CU_ASSERT_EQUAL(s->mbox.cursor, 0);
	sink_close(f);
}

/* A session whose push stream closed ends after reconnect_grace_s with reason
 * disconnected, long before session_idle_s; its partner learns it. */
static void test_reconnect_grace_expires(void)
{
	char a[MCP_SESSION_ID_LEN + 1], b[MCP_SESSION_ID_LEN + 1], room[80];
	struct fake_sink *fa;
	enum mcp_disposition d;
	cJSON *j;

	W.cfg.reconnect_grace_ms = 1;
	match_pair(a, b, room);
	fa = open_get(a, NULL, &d);
	CU_ASSERT_EQUAL(d, MCP_STREAMING);
	flush_sink(fa);
	sink_close(fa); /* the client vanished without DELETE */
	CU_ASSERT_PTR_NOT_NULL(sess(a));
	usleep(5000);
	timer_run(&W.heap, timer_now_ms());
	CU_ASSERT_PTR_NULL(sess(a));
	j = call_tool(b, "wait_for_message", "{\"timeout_s\":0}");
	CU_ASSERT_EQUAL(events_in(j), 2);
	CU_ASSERT_STRING_EQUAL(jstr(j, "result.structuredContent.events.1.method"), "partner.disconnected");
	CU_ASSERT_STRING_EQUAL(jstr(j, "result.structuredContent.events.1.params.reason"), "disconnected");
	cJSON_Delete(j);
}

/* Within the grace a new stream (Last-Event-ID) or a request keeps the session: nothing is
 * lost, the partner hears nothing, and the plain idle rule applies again. */
static void test_reconnect_grace_kept(void)
{
	char a[MCP_SESSION_ID_LEN + 1], b[MCP_SESSION_ID_LEN + 1], room[80];
	struct fake_sink *fa;
	enum mcp_disposition d;
	struct reply rp;
	struct sse e;
	cJSON *j;

	W.cfg.reconnect_grace_ms = 20;
	match_pair(a, b, room);
	fa = open_get(a, NULL, &d);
	CU_ASSERT_EQUAL(d, MCP_STREAMING);
	flush_sink(fa);
	sink_close(fa);
	fa = open_get(a, "0", &d); /* resumes from the start */
	CU_ASSERT_EQUAL(d, MCP_STREAMING);
	expect_stream_head(fa, &e);
	CU_ASSERT_EQUAL(e.n, 1); /* chatroom.found again, as asked */
	sse_free(&e);
	usleep(40000);
	timer_run(&W.heap, timer_now_ms());
	CU_ASSERT_PTR_NOT_NULL(sess(a));
	sink_close(fa);
	/* Closed again; a request within the grace keeps it too. */
	rpc(a, "ping", NULL, 3, &rp);
	CU_ASSERT_EQUAL(rp.r.status, 200);
	reply_free(&rp);
	usleep(40000);
	timer_run(&W.heap, timer_now_ms());
	CU_ASSERT_PTR_NOT_NULL(sess(a));
	j = call_tool(b, "wait_for_message", "{\"timeout_s\":0}");
	CU_ASSERT_EQUAL(events_in(j), 1); /* only chatroom.found */
	cJSON_Delete(j);
}

/* A session that never opened a stream keeps the idle rule, however short the grace. */
static void test_reconnect_grace_needs_a_stream(void)
{
	char id[MCP_SESSION_ID_LEN + 1];

	W.cfg.reconnect_grace_ms = 1;
	init_session(id);
	usleep(5000);
	timer_run(&W.heap, timer_now_ms());
	CU_ASSERT_PTR_NOT_NULL(sess(id));
}

/* enter_queue and join_room return the chat_id; every tool takes it on a 2025 session, where
 * it must name the session's own chat. */
static void test_chat_id_on_a_session(void)
{
	char a[MCP_SESSION_ID_LEN + 1], b[MCP_SESSION_ID_LEN + 1], args[160], ida[40];
	cJSON *j;

	init_session(a);
	init_session(b);
	j = call_tool(a, "enter_queue", "{}");
	snprintf(ida, sizeof(ida), "%s", jstr(j, "result.structuredContent.chat_id"));
	CU_ASSERT_EQUAL(strlen(ida), 22);
	cJSON_Delete(j);
	snprintf(args, sizeof(args), "{\"chat_id\":\"%s\"}", ida);
	j = call_tool(a, "get_status", args); /* its own: fine */
	CU_ASSERT_PTR_NULL(jget(j, "result.isError"));
	CU_ASSERT_STRING_EQUAL(jstr(j, "result.structuredContent.state"), "waiting");
	cJSON_Delete(j);
	j = call_tool(b, "enter_queue", args); /* another session's: refused, nothing done */
	CU_ASSERT_TRUE(cJSON_IsTrue(jget(j, "result.isError")));
	CU_ASSERT_STRING_EQUAL(jstr(j, "result.structuredContent.error"), "invalid_arguments");
	CU_ASSERT_STRING_EQUAL(jstr(j, "result.structuredContent.field"), "chat_id");
	cJSON_Delete(j);
	j = call_tool(b, "get_status", "{}");
	CU_ASSERT_STRING_EQUAL(jstr(j, "result.structuredContent.state"), "idle");
	cJSON_Delete(j);
	j = call_tool(b, "wait_for_message", "{\"chat_id\":\"AAAAAAAAAAAAAAAAAAAAAA\",\"timeout_s\":0}");
	CU_ASSERT_STRING_EQUAL(jstr(j, "result.structuredContent.error"), "chat_expired");
	cJSON_Delete(j);
	j = call_tool(b, "send_message", "{\"chat_id\":5,\"room_id\":\"r\",\"message\":\"x\"}");
	CU_ASSERT_STRING_EQUAL(jstr(j, "result.structuredContent.error"), "invalid_arguments");
	CU_ASSERT_STRING_EQUAL(jstr(j, "result.structuredContent.field"), "chat_id");
	cJSON_Delete(j);
	j = call_tool(b, "join_room", "{\"room_id\":\"named\"}");
	CU_ASSERT_EQUAL(strlen(jstr(j, "result.structuredContent.chat_id")), 22);
	CU_ASSERT_STRING_NOT_EQUAL(jstr(j, "result.structuredContent.chat_id"), ida);
	cJSON_Delete(j);
	/* Once the session ends its chat_id names nothing. */
	mcp_session_end(W.srv, sess(a), MCP_END_DELETED);
	j = call_tool(b, "get_status", args);
	CU_ASSERT_STRING_EQUAL(jstr(j, "result.structuredContent.error"), "chat_expired");
	cJSON_Delete(j);
}

/* Messages are refused, not lost, when the partner's mailbox is full of undelivered events. */
static void test_mailbox_full_refuses_message(void)
{
	char a[MCP_SESSION_ID_LEN + 1], b[MCP_SESSION_ID_LEN + 1], room[80], args[160];
	cJSON *j;

	W.cfg.mailbox_events = 2;
	match_pair(a, b, room); /* a holds chatroom.found, undelivered */
	snprintf(args, sizeof(args), "{\"room_id\":\"%s\",\"message\":\"one\"}", room);
	j = call_tool(b, "send_message", args);
	CU_ASSERT_PTR_NULL(jget(j, "result.isError"));
	cJSON_Delete(j);
	j = call_tool(b, "send_message", args);
	CU_ASSERT_TRUE(cJSON_IsTrue(jget(j, "result.isError")));
	CU_ASSERT_STRING_EQUAL(jstr(j, "result.structuredContent.error"), "mailbox_full");
	cJSON_Delete(j);
	CU_ASSERT_EQUAL(sess(a)->mbox.last, 2);
	/* a reads; b may send again. */
	j = call_tool(a, "wait_for_message", "{\"timeout_s\":0}");
	CU_ASSERT_EQUAL(cJSON_GetArraySize(jget(j, "result.structuredContent.events")), 2);
	cJSON_Delete(j);
	j = call_tool(b, "send_message", args);
	CU_ASSERT_PTR_NULL(jget(j, "result.isError"));
	cJSON_Delete(j);
	CU_ASSERT_EQUAL(sess(a)->mbox.last, 3);
}

/* send_message from a session; true when it was accepted, else the error code goes to err. */
static bool send_msg(const char *from, const char *room, const char *text, char err[32])
{
	char args[256];
	bool ok;
	cJSON *j;

	snprintf(args, sizeof(args), "{\"room_id\":\"%s\",\"message\":\"%s\"}", room, text);
	j = call_tool(from, "send_message", args);
	ok = !jget(j, "result.isError");
	snprintf(err, 32, "%s", jstr(j, "result.structuredContent.error"));
	cJSON_Delete(j);
	return ok;
}

/* The bound is capacity *undelivered* events: events sent on the stream no longer count, and
 * stay held for Last-Event-ID replay until the mailbox holds 2 * capacity. */
static void test_capacity_counts_undelivered_only(void)
{
	char a[MCP_SESSION_ID_LEN + 1], b[MCP_SESSION_ID_LEN + 1], room[80], err[32];
	struct fake_sink *fa;
	enum mcp_disposition d;
	struct mcp_session *sa;
	struct sse e;
	bool ended;

	W.cfg.mailbox_events = 2;
	W.cfg.replay_window_bytes = 0; /* the count rule alone: 2 * capacity */
	match_pair(a, b, room); /* a: chatroom.found (1) */
	sa = sess(a);
	CU_ASSERT_EQUAL(sa->mbox.capacity, 2);
	fa = open_get(a, NULL, &d);
	CU_ASSERT_EQUAL(d, MCP_STREAMING);
	expect_stream_head(fa, &e);
	CU_ASSERT_EQUAL(e.n, 1);
	sse_free(&e);
	flush_sink(fa);
	/* Three messages, each sent on a's stream: 4 held, all delivered, none refused. */
	for (uint64_t seq = 2; seq <= 4; seq++) {
		CU_ASSERT_TRUE(send_msg(b, room, "hi", err));
		stream_events(fa, &e, &ended);
		CU_ASSERT_EQUAL_FATAL(e.n, 1);
		expect_event(&e, 0, "message.received", seq);
		sse_free(&e);
		flush_sink(fa);
	}
	CU_ASSERT_EQUAL(sa->mbox.count, 4);
	CU_ASSERT_EQUAL(sa->mbox.acked, 4);
	CU_ASSERT_EQUAL(status_unread(a), 0);
	/* All 4 (twice the capacity) still replay from an old id. */
	sink_close(fa);
	fa = open_get(a, "0", &d);
	CU_ASSERT_EQUAL(d, MCP_STREAMING);
	expect_stream_head(fa, &e);
	CU_ASSERT_EQUAL_FATAL(e.n, 4);
	expect_event(&e, 0, "chatroom.found", 1);
	for (int i = 1; i < 4; i++)
		expect_event(&e, i, "message.received", (uint64_t)i + 1);
	sse_free(&e);
	/* Now a's client stops reading: two more get in (each evicting the oldest delivered). */
	CU_ASSERT_TRUE(send_msg(b, room, "five", err));
	CU_ASSERT_TRUE(send_msg(b, room, "six", err));
	CU_ASSERT_EQUAL(sa->mbox.last, 6);
	CU_ASSERT_EQUAL(sa->mbox.count, 4);
	CU_ASSERT_EQUAL(sa->mbox.first, 3);
	CU_ASSERT_EQUAL(status_unread(a), 2);
	/* Last-Event-ID from an evicted id replays from the oldest held: 3 and 4 delivered, 5 and
	 * 6 not. */
	sink_close(fa);
	fa = open_get(a, "1", &d);
	CU_ASSERT_EQUAL(d, MCP_STREAMING);
	expect_stream_head(fa, &e);
	CU_ASSERT_EQUAL_FATAL(e.n, 4);
	for (int i = 0; i < 4; i++)
		expect_event(&e, i, "message.received", (uint64_t)i + 3);
	CU_ASSERT_STRING_EQUAL(jstr(e.msg[3], "params.message"), "six");
	sse_free(&e);
	/* 2 undelivered = capacity: refused, though a holds 4 events. */
	CU_ASSERT_FALSE(send_msg(b, room, "seven", err));
	CU_ASSERT_STRING_EQUAL(err, "mailbox_full");
	CU_ASSERT_EQUAL(sa->mbox.last, 6);
	CU_ASSERT_EQUAL(status_unread(a), 2);
	/* The replayed ones go out: room again. */
	flush_sink(fa);
	CU_ASSERT_EQUAL(status_unread(a), 0);
	CU_ASSERT_TRUE(send_msg(b, room, "eight", err));
	CU_ASSERT_EQUAL(sa->mbox.last, 7);
	stream_events(fa, &e, &ended);
	CU_ASSERT_EQUAL_FATAL(e.n, 1);
	expect_event(&e, 0, "message.received", 7);
	CU_ASSERT_STRING_EQUAL(jstr(e.msg[0], "params.message"), "eight");
	sse_free(&e);
	CU_ASSERT_TRUE(sa->mbox.count <= 4);
	sink_close(fa);
}

int main(void)
{
	static const struct unit_test tests[] = {
		{ "initialize", test_initialize },
		{ "initialize makes distinct sessions", test_initialize_distinct_sessions },
		{ "initialize malformed", test_initialize_malformed },
		{ "missing session 400", test_missing_session },
		{ "unknown session 404", test_unknown_session },
		{ "MCP-Protocol-Version header", test_protocol_version_header },
		{ "Accept 406", test_accept_required },
		{ "Content-Type 415", test_content_type },
		{ "bad JSON -32700", test_bad_json },
		{ "invalid JSON-RPC -32600", test_invalid_jsonrpc },
		{ "unknown method -32601", test_unknown_method },
		{ "ping", test_ping },
		{ "keep-alive false closes", test_keep_alive_false_closes },
		{ "tools/list", test_tools_list },
		{ "tools/call refusals -32602", test_tools_call_refusals },
		{ "tools/call result shape", test_tools_call_result_shape },
		{ "logging/setLevel", test_logging_set_level },
		{ "notifications and responses 202", test_notifications_and_responses_202 },
		{ "batch on 2025-03-26", test_batch_2025_03_26 },
		{ "batch on negotiated 2025-03-26", test_batch_negotiated_version },
		{ "batch refused on newer versions", test_batch_refused_on_newer },
		{ "empty batch 400", test_empty_batch },
		{ "batch never waits", test_batch_never_waits },
		{ "resources", test_resources },
		{ "prompts", test_prompts },
		{ "Host check", test_host_check },
		{ "Origin check", test_origin_check },
		{ "path 404, method 405", test_path_and_method },
		{ "HEAD has no body", test_head_has_no_body },
		{ "GET stream", test_get_stream },
		{ "second GET 409", test_second_get_conflict },
		{ "stream events", test_stream_events },
		{ "Last-Event-ID replay", test_last_event_id_replay },
		{ "Last-Event-ID malformed", test_last_event_id_bad },
		{ "fresh GET delivers undelivered", test_fresh_get_delivers_undelivered },
		{ "ENOBUFS detaches the stream", test_enobufs_detaches_stream },
		{ "ENOBUFS on open keeps the backlog", test_enobufs_on_open_keeps_backlog },
		{ "pushed but not sent is undelivered", test_pushed_not_sent_undelivered },
		{ "sent delivers", test_sent_delivers },
		{ "partial send acks the events before it", test_partial_send_acks_prefix },
		{ "backlog delivered as sent", test_backlog_delivered_as_sent },
		{ "ENOBUFS event replayable", test_enobufs_event_replayable },
		{ "stream keep-alive ping", test_stream_keepalive_ping },
		{ "idle session ends", test_idle_session_ends },
		{ "DELETE", test_delete },
		{ "session cap 503", test_session_cap },
		{ "chat: match and message", test_chat_match_and_message },
		{ "chat: partner.disconnected on DELETE", test_partner_disconnect_on_delete },
		{ "wait_for_message with events", test_wait_returns_at_once_with_events },
		{ "wait_for_message timeout_s 0", test_wait_timeout_zero },
		{ "wait_for_message pending, event", test_wait_pending_then_event },
		{ "wait_for_message pending, partner message", test_wait_pending_then_partner_message },
		{ "wait_for_message times out", test_wait_times_out },
		{ "wait_for_message cancelled by close", test_wait_cancelled_by_close },
		{ "wait_for_message keep-alive comment", test_wait_keepalive_comment },
		{ "cancelled parked wait: no answer, cursor kept", test_cancel_parked_wait },
		{ "cancel: string id, twice, after close", test_cancel_string_id_and_late },
		{ "cancel after a JSON answer puts the cursor back", test_cancel_after_json_answer },
		{ "cancel after a deferred answer", test_cancel_after_deferred_answer },
		{ "reconnect grace: ends, partner told", test_reconnect_grace_expires },
		{ "reconnect grace: new stream or request keeps it", test_reconnect_grace_kept },
		{ "reconnect grace: only after a stream", test_reconnect_grace_needs_a_stream },
		{ "chat_id on a 2025 session", test_chat_id_on_a_session },
		{ "shutdown", test_shutdown },
		{ "backlog over the send queue", test_backlog_over_send_queue },
		{ "stream throttled to the send queue", test_stream_throttled },
		{ "stopped reader aborted, replays", test_stopped_reader_aborted },
		{ "slow reader not aborted", test_slow_reader_not_aborted },
		{ "event bigger than the send queue", test_event_bigger_than_queue },
		{ "fresh GET on a large backlog", test_fresh_get_large_backlog },
		{ "session end: last chunk, keep-alive", test_session_end_stream_resume },
		{ "no idle end while streaming", test_idle_not_while_streaming },
		{ "no idle end while waiting", test_idle_not_while_waiting },
		{ "mailbox full refuses messages", test_mailbox_full_refuses_message },
		{ "capacity counts undelivered only", test_capacity_counts_undelivered_only },
		{ NULL, NULL },
	};
	static const struct unit_suite suites[] = {
		{ "mcp", tests, NULL, NULL, setup, teardown },
		{ NULL, NULL, NULL, NULL, NULL, NULL },
	};

	log_set_level(LOG_LVL_WARNING);
	jsonrpc_init(); /* the daemon's cJSON hooks, as main() installs them */
	return unit_main(suites);
}
