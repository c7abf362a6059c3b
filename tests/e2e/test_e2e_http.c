#include <CUnit/Basic.h>
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "e2e_http.h"

/* The table of malformed and hostile requests against the built mcp-chatd (e2e_http.h): each
 * with its exact status and JSON-RPC error code; after them the daemon must still serve a
 * normal client, and exit 0 on SIGTERM (the suite's cleanup). */

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

static void test_serves_after_table(void)
{
	CU_ASSERT_EQUAL(next_row, N_ROWS);
	assert_serves("after the table");
}

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
	return 0;
}

int main(void)
{
	return e2e_http_main("e2e_http", add_tests);
}
