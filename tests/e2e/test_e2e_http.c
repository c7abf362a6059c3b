/* End-to-end HTTP tests: the built mcp-chatd on 127.0.0.1:0, driven with raw bytes.
 * A table of malformed and hostile requests, each with its exact status and JSON-RPC error
 * code, then individual cases that need more than one request or careful timing. After the
 * nasty ones the daemon must still serve a normal client. */

#include <CUnit/Basic.h>
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

#define H_HOST "Host: 127.0.0.1\r\n"
#define H_ACCEPT "Accept: application/json, text/event-stream\r\n"
#define H_JSON "Content-Type: application/json\r\n"
#define H_SID "Mcp-Session-Id: $SID\r\n"
#define H_LEN "Content-Length: $LEN\r\n"
#define POST_LINE "POST /mcp HTTP/1.1\r\n"
#define POST_HEAD POST_LINE H_HOST H_ACCEPT H_JSON
/* A POST with the suite's session; extra is zero or more complete header lines. */
#define POST_SID_X(extra, body) POST_HEAD H_SID extra H_LEN "\r\n" body
#define POST_SID(body) POST_SID_X("", body)
#define POST_NOSID(body) POST_HEAD H_LEN "\r\n" body
#define GET_SID(extra) "GET /mcp HTTP/1.1\r\n" H_HOST H_SID extra "\r\n"

#define RPC(rest) "{\"jsonrpc\":\"2.0\"," rest "}"
#define PING RPC("\"id\":1,\"method\":\"ping\"")
#define TOOLS_LIST RPC("\"id\":1,\"method\":\"tools/list\"")
#define CALL(args) RPC("\"id\":1,\"method\":\"tools/call\",\"params\":" args)
#define INIT(params) RPC("\"id\":1,\"method\":\"initialize\",\"params\":" params)
#define INIT_PARAMS "{\"protocolVersion\":\"2025-11-25\",\"capabilities\":{},\"clientInfo\":{\"name\":\"e2e\",\"version\":\"1\"}}"

/* Expected body: a JSON-RPC error code (negative), a result, or nothing at all. */
#define RESULT 0
#define NO_BODY 1

#define CLOSES 1u    /* the daemon closes the connection after answering */
#define HEAD_ONLY 2u /* answer to HEAD: read the head, no body may follow */
#define ECHOES_ID 4u /* a refusal of a parsed request: it carries the request's id (1) */

#define ALLOW "Allow: GET, POST, DELETE"

struct row {
	const char *name;
	const char *req;  /* template: $SID, $LEN (body length), $PAD, $HDRS */
	int status;
	int code;         /* JSON-RPC error code, RESULT or NO_BODY */
	unsigned flags;
	const char *header; /* a header line the response must carry */
	size_t pad;         /* $PAD: this many 'a' */
	size_t hdrs;        /* $HDRS: this many tiny header lines */
	size_t raw_len;     /* non-zero: req is raw bytes (may hold NUL), sent as is */
};

#define RAW(s) .req = s, .raw_len = sizeof(s) - 1
#define R(n, rq, st, cd, ...) { .name = n, .req = rq, .status = st, .code = cd, __VA_ARGS__ }

static const struct row rows[] = {
	/* JSON and JSON-RPC */
	R("bad JSON", POST_SID("{\"jsonrpc\":\"2.0\",\"id\":1,"), 400, -32700),
	R("bad JSON without a session", POST_NOSID("{oops"), 400, -32700),
	R("empty body", POST_SID(""), 400, -32700),
	R("JSON number, not JSON-RPC", POST_SID("42"), 400, -32600),
	R("JSON string, not JSON-RPC", POST_SID("\"ping\""), 400, -32600),
	R("empty object", POST_SID("{}"), 400, -32600),
	R("jsonrpc 1.0", POST_SID("{\"jsonrpc\":\"1.0\",\"id\":1,\"method\":\"ping\"}"), 400, -32600),
	R("id is an object", POST_SID(RPC("\"id\":{\"a\":1},\"method\":\"ping\"")), 400, -32600),
	R("id is a bool", POST_SID(RPC("\"id\":true,\"method\":\"ping\"")), 400, -32600),
	R("id is a fraction", POST_SID(RPC("\"id\":1.5,\"method\":\"ping\"")), 400, -32600),
	R("method is a number", POST_SID(RPC("\"id\":1,\"method\":7")), 400, -32600),
	R("method is empty", POST_SID(RPC("\"id\":1,\"method\":\"\"")), 400, -32600),
	R("params is a string", POST_SID(RPC("\"id\":1,\"method\":\"ping\",\"params\":\"x\"")), 400, -32600),
	R("params is an array", POST_SID(RPC("\"id\":1,\"method\":\"ping\",\"params\":[1]")), 200, -32602),
	R("unknown method", POST_SID(RPC("\"id\":1,\"method\":\"no/such\"")), 200, -32601),
	R("unknown tool", POST_SID(CALL("{\"name\":\"no_such_tool\",\"arguments\":{}}")), 200, -32602),
	R("tools/call without a name", POST_SID(CALL("{\"arguments\":{}}")), 200, -32602),
	R("tools/call arguments is an array", POST_SID(CALL("{\"name\":\"get_status\",\"arguments\":[]}")), 200, -32602),
	R("notification", POST_SID(RPC("\"method\":\"notifications/cancelled\",\"params\":{}")), 202, NO_BODY),
	R("response message", POST_SID(RPC("\"id\":9,\"result\":{}")), 202, NO_BODY),
	R("batch on 2025-11-25", POST_SID_X("MCP-Protocol-Version: 2025-11-25\r\n", "[" PING "]"), 400, -32600),
	R("empty batch on 2025-03-26", POST_SID_X("MCP-Protocol-Version: 2025-03-26\r\n", "[]"), 400, -32600),
	R("initialize with an existing session", POST_SID(INIT(INIT_PARAMS)), 400, -32600),
	R("initialize without protocolVersion", POST_NOSID(INIT("{\"capabilities\":{}}")), 400, -32602),
	R("initialize as a notification", POST_NOSID(RPC("\"method\":\"initialize\",\"params\":" INIT_PARAMS)), 400, -32600),
	/* Sessions and protocol versions */
	R("missing session id", POST_NOSID(TOOLS_LIST), 400, -32000),
	R("unknown session id", POST_HEAD "Mcp-Session-Id: AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\r\n" H_LEN "\r\n" TOOLS_LIST, 404, -32001),
	R("malformed session id", POST_HEAD "Mcp-Session-Id: not a session id!\r\n" H_LEN "\r\n" TOOLS_LIST, 404, -32001),
	R("overlong session id", POST_HEAD "Mcp-Session-Id: $SID$SID$SID\r\n" H_LEN "\r\n" TOOLS_LIST, 404, -32001),
	R("duplicate Mcp-Session-Id", POST_SID_X(H_SID, PING), 400, -32000, .flags = CLOSES),
	R("unsupported MCP-Protocol-Version", POST_SID_X("MCP-Protocol-Version: 2024-01-01\r\n", PING), 400, -32022, .flags = ECHOES_ID),
	R("empty MCP-Protocol-Version", POST_SID_X("MCP-Protocol-Version:\r\n", PING), 400, -32022, .flags = ECHOES_ID),
	R("DELETE without a session id", "DELETE /mcp HTTP/1.1\r\n" H_HOST "\r\n", 405, -32000),
	R("DELETE of an unknown session", "DELETE /mcp HTTP/1.1\r\n" H_HOST "Mcp-Session-Id: BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB\r\n\r\n", 404, -32001),
	R("bad Last-Event-ID", GET_SID("Accept: text/event-stream\r\nLast-Event-ID: banana\r\n"), 400, -32000),
	/* Content negotiation */
	R("no Accept", POST_LINE H_HOST H_JSON H_SID H_LEN "\r\n" PING, 406, -32000),
	R("Accept: text/html", POST_LINE H_HOST "Accept: text/html\r\n" H_JSON H_SID H_LEN "\r\n" PING, 406, -32000),
	R("Accept without text/event-stream", POST_LINE H_HOST "Accept: application/json\r\n" H_JSON H_SID H_LEN "\r\n" PING, 406, -32000),
	R("Accept with q=0 for the stream", POST_LINE H_HOST "Accept: application/json, text/event-stream;q=0\r\n" H_JSON H_SID H_LEN "\r\n" PING, 406, -32000),
	R("GET without text/event-stream", GET_SID("Accept: application/json\r\n"), 406, -32000),
	R("Content-Type text/plain", POST_LINE H_HOST H_ACCEPT "Content-Type: text/plain\r\n" H_SID H_LEN "\r\n" PING, 415, -32000),
	R("no Content-Type", POST_LINE H_HOST H_ACCEPT H_SID H_LEN "\r\n" PING, 415, -32000),
	R("Content-Type application/jsonx", POST_LINE H_HOST H_ACCEPT "Content-Type: application/jsonx\r\n" H_SID H_LEN "\r\n" PING, 415, -32000),
	R("Content-Type with charset", POST_LINE H_HOST H_ACCEPT "Content-Type: application/json; charset=utf-8\r\n" H_SID H_LEN "\r\n" PING, 200, RESULT),
	/* DNS rebinding */
	R("evil Host", POST_LINE "Host: evil.example\r\n" H_ACCEPT H_JSON H_SID H_LEN "\r\n" PING, 403, -32000),
	R("evil Host with port", POST_LINE "Host: evil.example:8808\r\n" H_ACCEPT H_JSON H_SID H_LEN "\r\n" PING, 403, -32000),
	R("no Host", POST_LINE H_ACCEPT H_JSON H_SID H_LEN "\r\n" PING, 400, -32000),
	R("evil Origin", POST_SID_X("Origin: http://evil.example\r\n", PING), 403, -32000),
	R("Origin null", POST_SID_X("Origin: null\r\n", PING), 403, -32000),
	R("Origin with an allowed prefix", POST_SID_X("Origin: http://127.0.0.1.evil.example\r\n", PING), 403, -32000),
	R("Origin localhost on another port", POST_SID_X("Origin: http://localhost:3000\r\n", PING), 200, RESULT),
	/* Paths and methods */
	R("path /other", "POST /other HTTP/1.1\r\n" H_HOST H_ACCEPT H_JSON H_SID H_LEN "\r\n" PING, 404, -32000),
	R("path /mcp/", "POST /mcp/ HTTP/1.1\r\n" H_HOST H_ACCEPT H_JSON H_SID H_LEN "\r\n" PING, 404, -32000),
	R("path /mcp with a query", "POST /mcp?x=1 HTTP/1.1\r\n" H_HOST H_ACCEPT H_JSON H_SID H_LEN "\r\n" PING, 200, RESULT),
	R("PUT /mcp", "PUT /mcp HTTP/1.1\r\n" H_HOST H_ACCEPT H_JSON H_SID H_LEN "\r\n" PING, 405, -32000, .header = ALLOW),
	R("PATCH /mcp", "PATCH /mcp HTTP/1.1\r\n" H_HOST H_ACCEPT H_JSON H_SID H_LEN "\r\n" PING, 405, -32000, .header = ALLOW),
	R("OPTIONS /mcp", "OPTIONS /mcp HTTP/1.1\r\n" H_HOST "\r\n", 405, -32000, .header = ALLOW),
	R("HEAD /mcp", "HEAD /mcp HTTP/1.1\r\n" H_HOST "\r\n", 405, NO_BODY, .flags = HEAD_ONLY, .header = ALLOW),
	/* HTTP framing */
	R("Connection: close", POST_SID_X("Connection: close\r\n", PING), 200, RESULT, .flags = CLOSES, .header = "Connection: close"),
	R("unsupported Expect", POST_SID_X("Expect: 200-ok\r\n", PING), 417, -32000, .flags = CLOSES),
	R("Content-Length with Transfer-Encoding", POST_SID_X("Transfer-Encoding: chunked\r\n", "0\r\n\r\n"), 400, -32000, .flags = CLOSES),
	R("two different Content-Lengths", POST_SID_X("Content-Length: 3\r\n", PING), 400, -32000, .flags = CLOSES),
	R("Content-Length not a number", POST_HEAD H_SID "Content-Length: 4x\r\n\r\n" PING, 400, -32000, .flags = CLOSES),
	R("negative Content-Length", POST_HEAD H_SID "Content-Length: -1\r\n\r\n" PING, 400, -32000, .flags = CLOSES),
	R("space before a header colon", POST_HEAD H_SID "X-Test : 1\r\n" H_LEN "\r\n" PING, 400, -32000, .flags = CLOSES),
	R("unknown method token", "BREW /mcp HTTP/1.1\r\n" H_HOST "\r\n", 400, -32000, .flags = CLOSES),
	R("not HTTP at all", "GARBAGE\r\n\r\n", 400, -32000, .flags = CLOSES),
	{ .name = "NUL in the request line", RAW("GET /m\0cp HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"),
	  .status = 400, .code = -32000, .flags = CLOSES },
	R("HTTP/1.2", "GET /mcp HTTP/1.2\r\n" H_HOST "\r\n", 505, -32000, .flags = CLOSES),
	R("HTTP/3.0", "GET /mcp HTTP/3.0\r\n" H_HOST "\r\n", 505, -32000, .flags = CLOSES),
	R("Upgrade: websocket", "GET /mcp HTTP/1.1\r\n" H_HOST "Connection: Upgrade\r\nUpgrade: websocket\r\n\r\n", 400, -32000, .flags = CLOSES),
	R("chunked body", POST_HEAD H_SID "Transfer-Encoding: chunked\r\n\r\n" "a\r\n{\"jsonrpc\"\r\n1e\r\n:\"2.0\",\"id\":1,\"method\":\"ping\"}\r\n0\r\n\r\n", 200, RESULT),
	R("invalid chunk size", POST_HEAD H_SID "Transfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n", 400, -32000, .flags = CLOSES),
	/* Limits */
	R("header over 8 KiB", POST_SID_X("X-Pad: $PAD\r\n", PING), 431, -32000, .flags = CLOSES, .pad = 9000),
	R("URL over 8 KiB", "GET /mcp?$PAD HTTP/1.1\r\n" H_HOST "\r\n", 431, -32000, .flags = CLOSES, .pad = 9000),
	R("2000 tiny headers (12 KiB)", POST_SID_X("$HDRS", PING), 431, -32000, .flags = CLOSES, .hdrs = 2000),
	R("1000 tiny headers (6 KiB)", POST_SID_X("$HDRS", PING), 200, RESULT, .hdrs = 1000),
	R("Content-Length over 64 KiB", POST_HEAD H_SID "Content-Length: 70000\r\n\r\n", 413, -32000, .flags = CLOSES),
	R("Content-Length 64 KiB + 1", POST_HEAD H_SID "Content-Length: 65537\r\n\r\n", 413, -32000, .flags = CLOSES),
	R("Content-Length 2^64", POST_HEAD H_SID "Content-Length: 18446744073709551616\r\n\r\n", 400, -32000, .flags = CLOSES),
};

#define N_ROWS (sizeof(rows) / sizeof(rows[0]))

static struct hx_daemon D;
static char SID[HX_SID_MAX]; /* the suite's session (protocol 2025-11-25) */

/* Assertions that say which case failed. */

static void check(bool ok, const char *name, const char *what, unsigned line)
{
	char msg[512];

	snprintf(msg, sizeof(msg), "[%s] %s", name, what);
	CU_assertImplementation(ok, line, msg, __FILE__, "", CU_FALSE);
}

#define CHECK(name, cond) check((cond), (name), #cond, __LINE__)

/* Request building */

struct sb {
	char *p;
	size_t len, cap;
};

static void sb_add(struct sb *b, const char *s, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 1024;
		char *p;

		while (cap < b->len + n + 1)
			cap *= 2;
		p = realloc(b->p, cap);
		if (!p)
			abort();
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static void sb_repeat(struct sb *b, const char *s, size_t times)
{
	while (times--)
		sb_add(b, s, strlen(s));
}

/* Replaces $SID, $PAD and $HDRS; $LEN stays for the second pass. */
static void expand_tokens(const struct row *row, struct sb *out)
{
	const char *p = row->req;

	while (*p) {
		if (strncmp(p, "$SID", 4) == 0) {
			sb_add(out, SID, strlen(SID));
			p += 4;
		} else if (strncmp(p, "$PAD", 4) == 0) {
			for (size_t i = 0; i < row->pad; i++)
				sb_add(out, "a", 1);
			p += 4;
		} else if (strncmp(p, "$HDRS", 5) == 0) {
			sb_repeat(out, "a: b\r\n", row->hdrs);
			p += 5;
		} else {
			sb_add(out, p++, 1);
		}
	}
}

/* The bytes of a row, with $LEN set to the length of what follows the head. */
static char *build(const struct row *row, size_t *len)
{
	struct sb a = { 0 }, b = { 0 };
	const char *end, *mark;
	char num[24];

	if (row->raw_len) {
		char *raw = malloc(row->raw_len);

		memcpy(raw, row->req, row->raw_len);
		*len = row->raw_len;
		return raw;
	}
	expand_tokens(row, &a);
	end = strstr(a.p, "\r\n\r\n");
	mark = strstr(a.p, "$LEN");
	if (!mark || !end || mark > end) {
		*len = a.len;
		return a.p;
	}
	snprintf(num, sizeof(num), "%zu", a.len - (size_t)(end + 4 - a.p));
	sb_add(&b, a.p, (size_t)(mark - a.p));
	sb_add(&b, num, strlen(num));
	sb_add(&b, mark + 4, a.len - (size_t)(mark + 4 - a.p));
	free(a.p);
	*len = b.len;
	return b.p;
}

/* Checks shared by table rows and individual cases */

static bool id_is(const struct hx_response *r, double want, bool null)
{
	cJSON *j = hx_json(r);
	const cJSON *id = cJSON_GetObjectItemCaseSensitive(j, "id");
	bool ok = null ? cJSON_IsNull(id) : cJSON_IsNumber(id) && id->valuedouble == want;

	cJSON_Delete(j);
	return ok;
}

static void check_body(const char *name, const struct hx_response *r, int code, unsigned flags)
{
	if (code == NO_BODY) {
		CHECK(name, r->body_len == 0);
		return;
	}
	CHECK(name, hx_rpc_code(r) == code);
	/* An answer to the request carries its id (1); an HTTP-level refusal has id null. */
	CHECK(name, id_is(r, 1, r->status != 200 && !(flags & ECHOES_ID)));
	if (r->body_len) {
		char ctype[128] = "";

		CHECK(name, hx_header(r, "Content-Type", ctype, sizeof(ctype)));
		CHECK(name, strcmp(ctype, "application/json") == 0);
	}
}

static void check_header_line(const char *name, const struct hx_response *r, const char *line)
{
	char want_name[64], value[256];
	const char *colon = strchr(line, ':');
	size_t n = (size_t)(colon - line);

	memcpy(want_name, line, n);
	want_name[n] = '\0';
	CHECK(name, hx_header(r, want_name, value, sizeof(value)));
	CHECK(name, strcmp(value, colon + 2) == 0);
}

/* A ping on an open connection is answered: the connection is still in sync. */
static void check_still_usable(const char *name, struct hx_conn *c)
{
	char *req = hx_post_request(SID, NULL, PING);
	struct hx_response r;
	int rc;

	CHECK(name, hx_send_str(c, req) == 0);
	rc = hx_read_response(c, &r, HX_TIMEOUT_MS);
	if (rc < 0 || r.status != 200)
		fprintf(stderr, "\n  [%s] follow-up ping: rc %d, status %d, head \"%.60s\"\n", name, rc,
			r.status, r.head ? r.head : "");
	CHECK(name, rc == 0);
	CHECK(name, r.status == 200);
	CHECK(name, hx_rpc_code(&r) == 0);
	hx_response_free(&r);
	free(req);
}

/* The table */

static void run_row(const struct row *row)
{
	struct hx_conn c;
	struct hx_response r;
	size_t len;
	char *req = build(row, &len);
	int rc;

	CU_ASSERT_FATAL(hx_connect(&c, D.port) == 0);
	CHECK(row->name, hx_send(&c, req, len) == 0);
	rc = row->flags & HEAD_ONLY ? hx_read_head(&c, &r, HX_TIMEOUT_MS)
				    : hx_read_response(&c, &r, HX_TIMEOUT_MS);
	CHECK(row->name, rc == 0);
	if (r.status != row->status)
		fprintf(stderr, "\n  [%s] status %d, want %d\n", row->name, r.status, row->status);
	CHECK(row->name, r.status == row->status);
	if (rc == 0 && !(row->flags & HEAD_ONLY))
		check_body(row->name, &r, row->code, row->flags);
	if (row->header)
		check_header_line(row->name, &r, row->header);
	if (row->flags & CLOSES)
		CHECK(row->name, hx_wait_closed(&c, 2000, NULL));
	else if (rc == 0)
		check_still_usable(row->name, &c);
	hx_response_free(&r);
	hx_close(&c);
	free(req);
}

static size_t next_row;

static void test_row(void)
{
	CU_ASSERT_FATAL(next_row < N_ROWS);
	run_row(&rows[next_row++]);
}

/* Individual cases */

static void assert_serves(const char *after)
{
	CHECK(after, hx_serves_normal_client(D.port));
}

static void test_serves_after_table(void)
{
	CU_ASSERT_EQUAL(next_row, N_ROWS);
	assert_serves("after the table");
}

/* Reads the next response on c: its status, error code (or RESULT) and id (id < 0: null). */
static void expect(struct hx_conn *c, int status, int code, double id, const char *name)
{
	struct hx_response r;

	CHECK(name, hx_read_response(c, &r, HX_TIMEOUT_MS) == 0);
	CHECK(name, r.status == status);
	if (code != NO_BODY) {
		CHECK(name, hx_rpc_code(&r) == code);
		CHECK(name, id_is(&r, id, id < 0));
	}
	hx_response_free(&r);
}

static char *rpc_post(const char *sid, const char *version, const char *method, int id)
{
	char body[256];

	snprintf(body, sizeof(body), "{\"jsonrpc\":\"2.0\",\"id\":%d,\"method\":\"%s\"}", id, method);
	return hx_post_request(sid, version, body);
}

static void test_pipelined_in_order(void)
{
	char *a = rpc_post(SID, NULL, "ping", 11), *b = rpc_post(SID, NULL, "tools/list", 12);
	char *d = rpc_post(SID, NULL, "no/such", 13), *all;
	struct hx_conn c;

	CU_ASSERT_FATAL(asprintf(&all, "%s%s%s", a, b, d) > 0);
	CU_ASSERT_FATAL(hx_connect(&c, D.port) == 0);
	CU_ASSERT(hx_send_str(&c, all) == 0);
	expect(&c, 200, 0, 11, "pipelined 1");
	expect(&c, 200, 0, 12, "pipelined 2");
	expect(&c, 200, -32601, 13, "pipelined 3");
	CU_ASSERT(hx_quiet(&c, 100));
	hx_close(&c);
	free(a);
	free(b);
	free(d);
	free(all);
}

static void test_pipelined_garbage(void)
{
	char *a = rpc_post(SID, NULL, "ping", 21), *all;
	struct hx_conn c;

	CU_ASSERT_FATAL(asprintf(&all, "%sGARBAGE / NOT-HTTP\r\n\r\n", a) > 0);
	CU_ASSERT_FATAL(hx_connect(&c, D.port) == 0);
	CU_ASSERT(hx_send_str(&c, all) == 0);
	expect(&c, 200, 0, 21, "valid before garbage");
	expect(&c, 400, -32000, -1, "garbage");
	CU_ASSERT(hx_wait_closed(&c, 2000, NULL));
	hx_close(&c);
	free(a);
	free(all);
	assert_serves("after pipelined garbage");
}

static void test_split_into_bytes(void)
{
	char *req = rpc_post(SID, NULL, "ping", 31);
	struct hx_conn c;

	CU_ASSERT_FATAL(hx_connect(&c, D.port) == 0);
	for (size_t i = 0; req[i]; i++)
		CU_ASSERT_FATAL(hx_send(&c, req + i, 1) == 0);
	expect(&c, 200, 0, 31, "one byte per send");
	hx_close(&c);
	free(req);
}

static void test_slow_header(void)
{
	char *req = rpc_post(SID, NULL, "ping", 32);
	size_t len = strlen(req), step = len / 20 + 1;
	struct hx_conn c;

	CU_ASSERT_FATAL(hx_connect(&c, D.port) == 0);
	for (size_t off = 0; off < len; off += step) {
		CU_ASSERT_FATAL(hx_send(&c, req + off, off + step < len ? step : len - off) == 0);
		usleep(100 * 1000);
	}
	expect(&c, 200, 0, 32, "slow header");
	hx_close(&c);
	free(req);
}

static void test_expect_continue(void)
{
	static const char body[] = PING;
	char head[512];
	struct hx_conn c;
	struct hx_response r;

	snprintf(head, sizeof(head),
		 POST_HEAD "Mcp-Session-Id: %s\r\nExpect: 100-continue\r\nContent-Length: %zu\r\n\r\n",
		 SID, strlen(body));
	CU_ASSERT_FATAL(hx_connect(&c, D.port) == 0);
	CU_ASSERT(hx_send_str(&c, head) == 0);
	CU_ASSERT(hx_read_response(&c, &r, HX_TIMEOUT_MS) == 0);
	CU_ASSERT_EQUAL(r.status, 100);
	hx_response_free(&r);
	CU_ASSERT(hx_send_str(&c, body) == 0);
	expect(&c, 200, 0, 1, "after 100 Continue");
	hx_close(&c);
}

static void test_http10_closes(void)
{
	static const char body[] = PING;
	char req[512];
	struct hx_conn c;
	struct hx_response r;

	snprintf(req, sizeof(req),
		 "POST /mcp HTTP/1.0\r\n" H_HOST H_ACCEPT H_JSON
		 "Mcp-Session-Id: %s\r\nContent-Length: %zu\r\n\r\n%s",
		 SID, strlen(body), body);
	CU_ASSERT_FATAL(hx_connect(&c, D.port) == 0);
	CU_ASSERT(hx_send_str(&c, req) == 0);
	CU_ASSERT(hx_read_response(&c, &r, HX_TIMEOUT_MS) == 0);
	CU_ASSERT_EQUAL(r.status, 200);
	CU_ASSERT_EQUAL(hx_rpc_code(&r), 0);
	hx_response_free(&r);
	CU_ASSERT(hx_wait_closed(&c, 2000, NULL));
	hx_close(&c);
}

/* A body of exactly max_body bytes is taken. */
static void test_body_at_limit(void)
{
	static const char pre[] = "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\",\"params\":{\"p\":\"";
	static const char post[] = "\"}}";
	size_t pad = 65536 - (sizeof(pre) - 1) - (sizeof(post) - 1);
	char *body = malloc(65537), *req;
	struct hx_response r;

	CU_ASSERT_FATAL(body != NULL);
	memcpy(body, pre, sizeof(pre) - 1);
	memset(body + sizeof(pre) - 1, 'a', pad);
	memcpy(body + sizeof(pre) - 1 + pad, post, sizeof(post));
	CU_ASSERT_EQUAL(strlen(body), 65536);
	req = hx_post_request(SID, NULL, body);
	CU_ASSERT(hx_roundtrip(D.port, req, strlen(req), &r) == 0);
	CU_ASSERT_EQUAL(r.status, 200);
	CU_ASSERT_EQUAL(hx_rpc_code(&r), 0);
	hx_response_free(&r);
	free(req);
	free(body);
}

/* Sends 16 KiB chunks until the daemon answers; stops sending once it has. */
static void test_chunked_over_limit(void)
{
	char head[512], *chunk = malloc(16384 + 16);
	struct hx_conn c;
	int sent = 0;

	CU_ASSERT_FATAL(chunk != NULL);
	snprintf(head, sizeof(head),
		 POST_HEAD "Mcp-Session-Id: %s\r\nTransfer-Encoding: chunked\r\n\r\n", SID);
	memcpy(chunk, "4000\r\n", 6);
	memset(chunk + 6, ' ', 16384);
	memcpy(chunk + 6 + 16384, "\r\n", 2);
	CU_ASSERT_FATAL(hx_connect(&c, D.port) == 0);
	CU_ASSERT(hx_send_str(&c, head) == 0);
	while (sent < 8 && hx_quiet(&c, 50) && hx_send(&c, chunk, 16384 + 8) == 0)
		sent++;
	CU_ASSERT(sent >= 4); /* 64 KiB went in before the refusal */
	expect(&c, 413, -32000, -1, "chunked body over 64 KiB");
	CU_ASSERT(hx_wait_closed(&c, 2000, NULL));
	hx_close(&c);
	free(chunk);
	assert_serves("after a chunked body over the limit");
}

static char *truncated_request(void)
{
	char *req;

	if (asprintf(&req, POST_HEAD "Mcp-Session-Id: %s\r\nContent-Length: 100\r\n\r\n{\"jsonrpc\"", SID) < 0)
		return NULL;
	return req;
}

static void test_truncated_body_half_close(void)
{
	char *req = truncated_request();
	struct hx_conn c;
	struct hx_response r;
	int rc;

	CU_ASSERT_FATAL(hx_connect(&c, D.port) == 0);
	CU_ASSERT(hx_send_str(&c, req) == 0);
	CU_ASSERT(hx_shutdown_write(&c) == 0);
	/* Nothing to answer: the daemon closes at once, or says 400 and closes; never 200. */
	rc = hx_read_response(&c, &r, 2000);
	CU_ASSERT(rc == -EPIPE || rc == -ECONNRESET || (rc == 0 && r.status == 400));
	CU_ASSERT(hx_wait_closed(&c, 2000, NULL));
	hx_response_free(&r);
	hx_close(&c);
	free(req);
	assert_serves("after a truncated body and half-close");
}

static void test_truncated_body_stall(void)
{
	char *req = truncated_request();
	struct hx_conn c;

	CU_ASSERT_FATAL(hx_connect(&c, D.port) == 0);
	CU_ASSERT(hx_send_str(&c, req) == 0);
	/* Others are served while this one waits for 90 more bytes. */
	assert_serves("while a body is stalled");
	assert_serves("while a body is stalled (again)");
	CU_ASSERT(hx_quiet(&c, 200));
	hx_close(&c);
	free(req);
}

static void test_many_half_open_connections(void)
{
	enum { N = 100 };
	struct hx_conn c[N];
	int open = 0;

	for (int i = 0; i < N; i++)
		if (hx_connect(&c[i], D.port) == 0 && hx_send_str(&c[i], "POST /mcp HTTP/1.1\r\nHo") == 0)
			open++;
	CU_ASSERT_EQUAL(open, N);
	assert_serves("with 100 half-sent requests open");
	for (int i = 0; i < N; i++)
		hx_close(&c[i]);
	assert_serves("after 100 half-sent requests");
}

static char *get_stream_request(const char *sid)
{
	char *req;

	if (asprintf(&req, "GET /mcp HTTP/1.1\r\n" H_HOST "Accept: text/event-stream\r\n"
			   "Mcp-Session-Id: %s\r\n\r\n", sid) < 0)
		return NULL;
	return req;
}

/* Opens the push stream on c: 200, text/event-stream, chunked. */
static bool open_stream(struct hx_conn *c, const char *sid)
{
	char *req = get_stream_request(sid), ctype[64] = "";
	struct hx_response r;
	bool ok = hx_connect(c, D.port) == 0 && hx_send_str(c, req) == 0 &&
		  hx_read_head(c, &r, HX_TIMEOUT_MS) == 0 && r.status == 200 && r.chunked &&
		  hx_header(&r, "Content-Type", ctype, sizeof(ctype)) &&
		  strcmp(ctype, "text/event-stream") == 0;

	hx_response_free(&r);
	free(req);
	return ok;
}

static void test_second_stream_conflict(void)
{
	char sid[HX_SID_MAX], *req;
	struct hx_conn s1, s3;
	struct hx_response r;
	int status = 0;

	CU_ASSERT_FATAL(hx_initialize(D.port, NULL, sid, sizeof(sid)) == 0);
	CU_ASSERT_FATAL(open_stream(&s1, sid));
	req = get_stream_request(sid);
	CU_ASSERT(hx_roundtrip(D.port, req, strlen(req), &r) == 0);
	CU_ASSERT_EQUAL(r.status, 409);
	CU_ASSERT_EQUAL(hx_rpc_code(&r), -32000);
	hx_response_free(&r);
	hx_close(&s1);
	/* Once the first stream is gone, a new one may open (the daemon sees the close soon). */
	for (long long end = hx_now_ms() + 2000; status != 200 && hx_now_ms() < end;) {
		CU_ASSERT_FATAL(hx_connect(&s3, D.port) == 0);
		CU_ASSERT(hx_send_str(&s3, req) == 0);
		CU_ASSERT(hx_read_head(&s3, &r, HX_TIMEOUT_MS) == 0);
		status = r.status;
		hx_response_free(&r);
		hx_close(&s3);
		if (status != 200)
			usleep(20 * 1000);
	}
	CU_ASSERT_EQUAL(status, 200);
	free(req);
}

static int delete_session(const char *sid)
{
	char *req;
	struct hx_response r;
	int status;

	if (asprintf(&req, "DELETE /mcp HTTP/1.1\r\n" H_HOST "Mcp-Session-Id: %s\r\n\r\n", sid) < 0)
		return -1;
	status = hx_roundtrip(D.port, req, strlen(req), &r) == 0 ? r.status : -1;
	if (status == 404)
		CU_ASSERT_EQUAL(hx_rpc_code(&r), -32001);
	hx_response_free(&r);
	free(req);
	return status;
}

static void test_delete_then_use(void)
{
	char sid[HX_SID_MAX];
	struct hx_response r;

	CU_ASSERT_FATAL(hx_initialize(D.port, NULL, sid, sizeof(sid)) == 0);
	CU_ASSERT_EQUAL(delete_session(sid), 200);
	CU_ASSERT(hx_post(D.port, sid, TOOLS_LIST, &r) == 0);
	CU_ASSERT_EQUAL(r.status, 404);
	CU_ASSERT_EQUAL(hx_rpc_code(&r), -32001);
	hx_response_free(&r);
	CU_ASSERT_EQUAL(delete_session(sid), 404);
}

/* DELETE ends the session's open push stream: its chunked body ends cleanly and the
 * connection stays usable (the head promised keep-alive), here for a request that now 404s. */
static void test_delete_ends_stream(void)
{
	char sid[HX_SID_MAX], *req;
	struct hx_conn s;
	struct hx_response r = { .status = 200, .chunked = true }, next;

	CU_ASSERT_FATAL(hx_initialize(D.port, NULL, sid, sizeof(sid)) == 0);
	CU_ASSERT_FATAL(open_stream(&s, sid));
	CU_ASSERT_EQUAL(delete_session(sid), 200);
	CU_ASSERT(hx_read_body(&s, &r, 2000) == 0); /* the terminating chunk arrives */
	CU_ASSERT_FATAL(asprintf(&req, "GET /mcp HTTP/1.1\r\n" H_HOST "Accept: text/event-stream\r\n"
					 "Mcp-Session-Id: %s\r\n\r\n", sid) > 0);
	CU_ASSERT(hx_send_str(&s, req) == 0);
	CU_ASSERT(hx_read_response(&s, &next, 2000) == 0);
	CU_ASSERT_EQUAL(next.status, 404);
	hx_response_free(&next);
	free(req);
	hx_close(&s);
	hx_response_free(&r);
}

static void test_batch_by_version(void)
{
	static const char batch[] =
		"[" RPC("\"id\":1,\"method\":\"ping\"") "," RPC("\"method\":\"notifications/progress\",\"params\":{}")
		"," RPC("\"id\":2,\"method\":\"tools/list\"") "]";
	char sid[HX_SID_MAX], *req;
	struct hx_response r;
	cJSON *j;

	CU_ASSERT_FATAL(hx_initialize(D.port, "2025-03-26", sid, sizeof(sid)) == 0);
	req = hx_post_request(sid, "2025-03-26", batch);
	CU_ASSERT(hx_roundtrip(D.port, req, strlen(req), &r) == 0);
	CU_ASSERT_EQUAL(r.status, 200);
	j = hx_json(&r);
	CU_ASSERT(cJSON_IsArray(j));
	CU_ASSERT_EQUAL(cJSON_GetArraySize(j), 2); /* the notification has no answer */
	CU_ASSERT_EQUAL(cJSON_GetObjectItem(cJSON_GetArrayItem(j, 0), "id")->valueint, 1);
	CU_ASSERT_EQUAL(cJSON_GetObjectItem(cJSON_GetArrayItem(j, 1), "id")->valueint, 2);
	cJSON_Delete(j);
	hx_response_free(&r);
	free(req);
	/* The same session saying 2025-11-25 may not batch. */
	req = hx_post_request(sid, "2025-11-25", batch);
	CU_ASSERT(hx_roundtrip(D.port, req, strlen(req), &r) == 0);
	CU_ASSERT_EQUAL(r.status, 400);
	CU_ASSERT_EQUAL(hx_rpc_code(&r), -32600);
	hx_response_free(&r);
	free(req);
	/* Nor may a 2025-11-25 session without the header. */
	CU_ASSERT(hx_post(D.port, SID, batch, &r) == 0);
	CU_ASSERT_EQUAL(r.status, 400);
	CU_ASSERT_EQUAL(hx_rpc_code(&r), -32600);
	hx_response_free(&r);
}

/* The one slow test: a head that never completes gets 408 after the 10 s head timeout. */
static void test_head_timeout(void)
{
	struct hx_conn partial, silent;
	struct hx_response r;
	long long start = hx_now_ms();

	CU_ASSERT_FATAL(hx_connect(&partial, D.port) == 0);
	CU_ASSERT_FATAL(hx_connect(&silent, D.port) == 0);
	CU_ASSERT(hx_send_str(&partial, "POST /mcp HTTP/1.1\r\n" H_HOST) == 0);
	assert_serves("while a head is incomplete");
	CU_ASSERT(hx_read_response(&partial, &r, 12000) == 0);
	CU_ASSERT_EQUAL(r.status, 408);
	CU_ASSERT_EQUAL(hx_rpc_code(&r), -32000);
	CU_ASSERT(hx_now_ms() - start >= 9500);
	hx_response_free(&r);
	CU_ASSERT(hx_wait_closed(&partial, 2000, NULL));
	/* A connection that never sent a byte is closed by then too. */
	CU_ASSERT(hx_wait_closed(&silent, 1000, NULL));
	hx_close(&partial);
	hx_close(&silent);
	assert_serves("after the head timeout");
}

/* Log hygiene: with --log-level debug, no log line holds a session id or a message body. */

static char *call_tool_body(const char *tool, const char *args)
{
	char *body;

	if (asprintf(&body, "{\"jsonrpc\":\"2.0\",\"id\":5,\"method\":\"tools/call\","
			    "\"params\":{\"name\":\"%s\",\"arguments\":%s}}", tool, args) < 0)
		return NULL;
	return body;
}

static int call_tool(int port, const char *sid, const char *tool, const char *args)
{
	char *body = call_tool_body(tool, args);
	struct hx_response r;
	int status = hx_post(port, sid, body, &r) == 0 ? r.status : -1;

	if (status == 200 && hx_rpc_code(&r) != 0)
		status = -2;
	hx_response_free(&r);
	free(body);
	return status;
}

/* A chat between two sessions, a refused send and some HTTP errors, all carrying secret. */
static void chatter(int port, const char *a, const char *b, const char *secret)
{
	char args[256], *req;
	struct hx_response r;

	CU_ASSERT_EQUAL(call_tool(port, a, "join_room", "{\"room_id\":\"e2e-log\"}"), 200);
	CU_ASSERT_EQUAL(call_tool(port, b, "join_room", "{\"room_id\":\"e2e-log\"}"), 200);
	snprintf(args, sizeof(args), "{\"room_id\":\"e2e-log\",\"message\":\"%s\"}", secret);
	CU_ASSERT_EQUAL(call_tool(port, a, "send_message", args), 200);
	snprintf(args, sizeof(args), "{\"room_id\":\"elsewhere\",\"message\":\"%s\"}", secret);
	CU_ASSERT_EQUAL(call_tool(port, b, "send_message", args), 200); /* isError result */
	CU_ASSERT(asprintf(&req, POST_HEAD "Mcp-Session-Id: %s\r\nMcp-Session-Id: %s\r\n"
				 "Content-Length: %zu\r\n\r\n%s", a, a, strlen(secret), secret) > 0);
	CU_ASSERT(hx_roundtrip(port, req, strlen(req), &r) == 0);
	CU_ASSERT_EQUAL(r.status, 400);
	hx_response_free(&r);
	free(req);
	CU_ASSERT(hx_post(port, a, secret, &r) == 0); /* not JSON */
	CU_ASSERT_EQUAL(r.status, 400);
	hx_response_free(&r);
}

static void test_log_hygiene(void)
{
	static const char *const extra[] = { "--log-level", "debug", NULL };
	struct hx_daemon d;
	char a[HX_SID_MAX], b[HX_SID_MAX], secret[64], *log;

	snprintf(secret, sizeof(secret), "e2e-secret-%d-%lld", (int)getpid(), hx_now_ms());
	CU_ASSERT_FATAL(hx_daemon_start(&d, extra) == 0);
	CU_ASSERT_FATAL(hx_initialize(d.port, NULL, a, sizeof(a)) == 0);
	CU_ASSERT_FATAL(hx_initialize(d.port, NULL, b, sizeof(b)) == 0);
	chatter(d.port, a, b, secret);
	CU_ASSERT_EQUAL(hx_daemon_stop(&d), 0);
	log = hx_daemon_log(&d);
	unlink(d.log_path);
	CU_ASSERT_FATAL(log != NULL);
	CU_ASSERT(strstr(log, "ready") != NULL);           /* the log was captured */
	CU_ASSERT(strstr(log, "started") != NULL);         /* sessions are logged, by handle */
	CU_ASSERT(strstr(log, "<7>") != NULL);             /* debug lines are in it */
	CU_ASSERT(strstr(log, a) == NULL);
	CU_ASSERT(strstr(log, b) == NULL);
	CU_ASSERT(strstr(log, secret) == NULL);
	free(log);
}

/* Mcp-Session-Id: URL-safe text carrying at least 128 bits (22+ base64url characters). */
static void test_session_id_shape(void)
{
	size_t n = strspn(SID, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_");
	char other[HX_SID_MAX];

	CU_ASSERT(n >= 22);
	CU_ASSERT_EQUAL(SID[n], '\0');
	CU_ASSERT_FATAL(hx_initialize(D.port, NULL, other, sizeof(other)) == 0);
	CU_ASSERT(strcmp(SID, other) != 0);
	CU_ASSERT_EQUAL(delete_session(other), 200);
}

static void test_sigterm_exits_zero(void)
{
	CU_ASSERT_FATAL(D.pid > 0);
	CU_ASSERT_EQUAL(hx_daemon_stop(&D), 0);
	unlink(D.log_path);
}

/* Suite */

static int suite_init(void)
{
	if (hx_daemon_start(&D, NULL) < 0) {
		fprintf(stderr, "cannot start the daemon ($MCPCHATD=%s)\n", getenv("MCPCHATD"));
		return -1;
	}
	if (hx_initialize(D.port, NULL, SID, sizeof(SID)) < 0)
		return -1;
	return 0;
}

static int suite_clean(void)
{
	if (D.pid > 0) {
		hx_daemon_stop(&D);
		unlink(D.log_path);
	}
	return 0;
}

static const struct {
	const char *name;
	CU_TestFunc fn;
} tests[] = {
	{ "pipelined requests answered in order", test_pipelined_in_order },
	{ "pipelined garbage after a valid request", test_pipelined_garbage },
	{ "request sent one byte at a time", test_split_into_bytes },
	{ "slow header completing in time", test_slow_header },
	{ "Expect: 100-continue", test_expect_continue },
	{ "HTTP/1.0 answered and closed", test_http10_closes },
	{ "body of exactly 64 KiB", test_body_at_limit },
	{ "chunked body over 64 KiB", test_chunked_over_limit },
	{ "truncated body then half-close", test_truncated_body_half_close },
	{ "truncated body stalls, others served", test_truncated_body_stall },
	{ "100 half-sent requests", test_many_half_open_connections },
	{ "second GET stream is 409", test_second_stream_conflict },
	{ "DELETE then use of the id", test_delete_then_use },
	{ "DELETE ends the push stream", test_delete_ends_stream },
	{ "batches by protocol version", test_batch_by_version },
	{ "head timeout (about 10 s)", test_head_timeout },
	{ "no session id or message in the debug log", test_log_hygiene },
	{ "session id is URL-safe, 128+ bits", test_session_id_shape },
	{ "SIGTERM exits 0", test_sigterm_exits_zero },
};

static int add_tests(CU_pSuite s)
{
	static char names[N_ROWS][96];

	for (size_t i = 0; i < N_ROWS; i++) {
		snprintf(names[i], sizeof(names[i]), "table %02zu: %s", i + 1, rows[i].name);
		if (!CU_add_test(s, names[i], test_row))
			return -1;
	}
	if (!CU_add_test(s, "daemon still serves after the table", test_serves_after_table))
		return -1;
	for (size_t i = 0; i < sizeof(tests) / sizeof(tests[0]); i++)
		if (!CU_add_test(s, tests[i].name, tests[i].fn))
			return -1;
	return 0;
}

int main(void)
{
	CU_pSuite s;
	unsigned failed;

	if (CU_initialize_registry() != CUE_SUCCESS)
		return 1;
	s = CU_add_suite("e2e_http", suite_init, suite_clean);
	if (!s || add_tests(s) < 0) {
		CU_cleanup_registry();
		return 1;
	}
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	failed = CU_get_number_of_tests_failed() + CU_get_number_of_failures() +
		 CU_get_number_of_suites_failed();
	CU_cleanup_registry();
	return failed ? 1 : 0;
}
