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

/* End-to-end HTTP cases against the built mcp-chatd (e2e_http.h) that need more than one
 * request or careful timing: pipelining, split and slow requests, limits, truncated bodies,
 * streams, DELETE, batches, the head timeout, log hygiene, the session id, SIGTERM. */

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

/* The newest stream wins: a second GET opens (the first's client has most likely gone
 * without its close reaching the daemon, as behind a proxy), and the first is closed. */
static void test_second_stream_replaces(void)
{
	char sid[HX_SID_MAX];
	struct hx_conn s1, s2;

	CU_ASSERT_FATAL(hx_initialize(D.port, NULL, sid, sizeof(sid)) == 0);
	CU_ASSERT_FATAL(open_stream(&s1, sid));
	CU_ASSERT_FATAL(open_stream(&s2, sid));
	CU_ASSERT(hx_wait_closed(&s1, 2000, NULL));
	/* The new one is the session's stream: it stays open. */
	CU_ASSERT(hx_quiet(&s2, 200));
	hx_close(&s1);
	hx_close(&s2);
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
	{ "a second GET stream replaces the first", test_second_stream_replaces },
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
	for (size_t i = 0; i < sizeof(tests) / sizeof(tests[0]); i++)
		if (!CU_add_test(s, tests[i].name, tests[i].fn))
			return -1;
	return 0;
}

int main(void)
{
	return e2e_http_main("e2e_http_cases", add_tests);
}
