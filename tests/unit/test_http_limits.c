#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/request.h"
#include "http_harness.h"
#include "http/response.h"
#include "unit.h"

/* Unit tests of the HTTP/1.1 request parser on llhttp (http_harness.h feeds it). This file:
 * the limits and every refusal (431, 413, 400, 505, 417); the helpers
 * (http_accepts, http_media_is, http_reason, http_format_head). */

/* Feeds s in one call and returns the status; the connection is freed. */
static int feed_status(const char *s)
{
	struct http_conn *c = new_conn();
	size_t used = 0;
	int rc = feed(c, s, &used);

	if (rc < 0) {
		CU_ASSERT_PTR_NOT_NULL(http_conn_error(c));
		CU_ASSERT_PTR_NULL(http_conn_request(c));
	}
	http_conn_free(c);
	return rc;
}

/* A request whose head is exactly head_len bytes, padded with an X-Pad header. */
static char *padded_get(size_t head_len)
{
	const char *start = "GET /mcp HTTP/1.1\r\nHost: h\r\nX-Pad: ";
	size_t fixed = strlen(start) + 4; /* "\r\n\r\n" */
	char *s = malloc(head_len + 1);

	CU_ASSERT_FATAL(s != NULL && head_len > fixed);
	memcpy(s, start, strlen(start));
	memset(s + strlen(start), 'a', head_len - fixed);
	memcpy(s + head_len - 4, "\r\n\r\n", 5);
	CU_ASSERT_EQUAL(strlen(s), head_len);
	return s;
}

/* ---- limits and errors ---- */

static void test_head_at_limit(void)
{
	char *s = padded_get(MAX_HEAD);
	struct http_conn *c = new_conn();
	const struct http_request *r = parse_one(c, s);

	CU_ASSERT_PTR_NOT_NULL(r);
	http_conn_free(c);
	free(s);
}

static void test_head_over_limit(void)
{
	char *s = padded_get(MAX_HEAD + 1);

	CU_ASSERT_EQUAL(feed_status(s), -431);
	free(s);
}

static void test_head_limit_byte_by_byte(void)
{
	char *ok = padded_get(MAX_HEAD), *over = padded_get(MAX_HEAD + 1);
	struct http_conn *c = new_conn();
	size_t used, i;
	int rc = HTTP_FEED_MORE;

	CU_ASSERT_EQUAL(feed_bytewise(c, ok), MAX_HEAD - 1);
	http_conn_free(c);
	c = new_conn();
	for (i = 0; i < MAX_HEAD + 1 && rc == HTTP_FEED_MORE; i++)
		rc = http_conn_feed(c, over + i, 1, &used);
	CU_ASSERT_EQUAL(rc, -431);
	http_conn_free(c);
	free(ok);
	free(over);
}

/* A head that never ends is refused as soon as it passes the limit. */
static void test_unterminated_head_over_limit(void)
{
	char *s = padded_get(MAX_HEAD + 64);
	struct http_conn *c = new_conn();
	size_t used;

	s[MAX_HEAD + 1] = '\0'; /* cut inside the X-Pad value */
	CU_ASSERT_EQUAL(http_conn_feed(c, s, MAX_HEAD, &used), HTTP_FEED_MORE);
	CU_ASSERT_EQUAL(http_conn_feed(c, s + MAX_HEAD, 1, &used), -431);
	CU_ASSERT_STRING_EQUAL(http_conn_error(c), "request head too large");
	http_conn_free(c);
	free(s);
}

/* Each request gets the whole head budget, also when pipelined. */
static void test_head_limit_per_request(void)
{
	char *one = padded_get(MAX_HEAD);
	size_t n = strlen(one), used;
	char *two = malloc(2 * n + 1);
	struct http_conn *c = new_conn();

	CU_ASSERT_PTR_NOT_NULL_FATAL(two);
	memcpy(two, one, n);
	memcpy(two + n, one, n + 1);
	CU_ASSERT_EQUAL(http_conn_feed(c, two, 2 * n, &used), HTTP_FEED_REQUEST);
	CU_ASSERT_EQUAL(used, n);
	http_conn_next(c);
	CU_ASSERT_EQUAL(http_conn_feed(c, two + n, n, &used), HTTP_FEED_REQUEST);
	CU_ASSERT_EQUAL(used, n);
	http_conn_free(c);
	free(one);
	free(two);
}

static void test_body_at_limit(void)
{
	char head[128], *s = malloc(MAX_BODY + sizeof(head));
	struct http_conn *c = new_conn();
	const struct http_request *r;
	int n = snprintf(head, sizeof(head), "POST / HTTP/1.1\r\nContent-Length: %d\r\n\r\n", MAX_BODY);

	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	memcpy(s, head, (size_t)n);
	memset(s + n, 'b', MAX_BODY);
	s[n + MAX_BODY] = '\0';
	r = parse_one(c, s);
	CU_ASSERT_PTR_NOT_NULL_FATAL(r);
	CU_ASSERT_EQUAL(r->body_len, MAX_BODY);
	http_conn_free(c);
	free(s);
}

/* Refused from the head alone, before any body byte arrives. */
static void test_body_over_limit_content_length(void)
{
	struct http_conn *c = new_conn();
	char head[128];
	size_t used;

	snprintf(head, sizeof(head), "POST / HTTP/1.1\r\nContent-Length: %d\r\n\r\n", MAX_BODY + 1);
	CU_ASSERT_EQUAL(feed(c, head, &used), -413);
	CU_ASSERT_STRING_EQUAL(http_conn_error(c), "request body too large");
	CU_ASSERT_PTR_NULL(http_conn_request(c));
	http_conn_free(c);
	CU_ASSERT_EQUAL(feed_status("POST / HTTP/1.1\r\nContent-Length: 99999999999\r\n\r\n"), -413);
}

/* Chunked bodies total max_body + 1 in two chunks: the second one goes over. */
static void test_body_over_limit_chunked(void)
{
	struct http_conn *c = new_conn();
	char chunk[MAX_BODY + 32];
	size_t used;
	int n;

	CU_ASSERT_EQUAL(feed(c, "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", &used),
			HTTP_FEED_MORE);
	n = snprintf(chunk, sizeof(chunk), "%x\r\n", MAX_BODY);
	memset(chunk + n, 'c', MAX_BODY);
	memcpy(chunk + n + MAX_BODY, "\r\n", 3);
	CU_ASSERT_EQUAL(feed(c, chunk, &used), HTTP_FEED_MORE);
	CU_ASSERT_EQUAL(feed(c, "1\r\nx\r\n0\r\n\r\n", &used), -413);
	CU_ASSERT_PTR_NULL(http_conn_request(c));
	http_conn_free(c);
	/* One chunk declared larger than the limit is refused once its bytes pass the limit. */
	c = new_conn();
	CU_ASSERT_EQUAL(feed(c, "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nfffff\r\n", &used),
			HTTP_FEED_MORE);
	memset(chunk, 'd', MAX_BODY);
	CU_ASSERT_EQUAL(http_conn_feed(c, chunk, MAX_BODY, &used), HTTP_FEED_MORE);
	CU_ASSERT_EQUAL(http_conn_feed(c, chunk, 1, &used), -413);
	http_conn_free(c);
}

static void test_garbage(void)
{
	CU_ASSERT_EQUAL(feed_status("\x01\x02\x03garbage\r\n\r\n"), -400);
	CU_ASSERT_EQUAL(feed_status("GET / FOO/1.1\r\n\r\n"), -400);
	CU_ASSERT_EQUAL(feed_status("GET / HTTP/1.1\r\nBa\001d: x\r\n\r\n"), -400);
	CU_ASSERT_EQUAL(feed_status("GET / HTTP/1.1\r\nNoColon\r\n\r\n"), -400);
	CU_ASSERT_EQUAL(feed_status("GET / HTTP/1.1\nHost: bare-lf\n\n"), -400);
	CU_ASSERT_EQUAL(feed_status("POST / HTTP/1.1\r\nContent-Length: abc\r\n\r\n"), -400);
	CU_ASSERT_EQUAL(feed_status("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"),
			-400);
}

/* After an error the connection keeps answering the same status and takes nothing. */
static void test_error_sticks(void)
{
	struct http_conn *c = new_conn();
	size_t used = 99;

	CU_ASSERT_EQUAL(feed(c, "garbage\r\n\r\n", &used), -400);
	CU_ASSERT_EQUAL(feed(c, "GET / HTTP/1.1\r\n\r\n", &used), -400);
	CU_ASSERT_EQUAL(used, 0);
	CU_ASSERT_PTR_NULL(http_conn_request(c));
	http_conn_free(c);
}

static void test_request_smuggling_refused(void)
{
	CU_ASSERT_EQUAL(feed_status("POST / HTTP/1.1\r\nContent-Length: 3\r\n"
				    "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n"),
			-400);
	CU_ASSERT_EQUAL(feed_status("POST / HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n"
				    "abcd"),
			-400);
}

static void test_bad_version(void)
{
	CU_ASSERT_EQUAL(feed_status("GET / HTTP/3.0\r\nHost: h\r\n\r\n"), -505);
	CU_ASSERT_EQUAL(feed_status("GET / HTTP/x.1\r\nHost: h\r\n\r\n"), -505);
	CU_ASSERT_EQUAL(feed_status("GET / HTTP/9.9\r\n\r\n"), -505);
}

static void test_upgrade_refused(void)
{
	CU_ASSERT_EQUAL(feed_status("GET / HTTP/1.1\r\nConnection: Upgrade\r\n"
				    "Upgrade: websocket\r\n\r\n"),
			-400);
}

static void test_duplicate_session_id(void)
{
	CU_ASSERT_EQUAL(feed_status("POST / HTTP/1.1\r\nMcp-Session-Id: a\r\n"
				    "Mcp-Session-Id: b\r\nContent-Length: 0\r\n\r\n"),
			-400);
	CU_ASSERT_EQUAL(feed_status("POST / HTTP/1.1\r\nmcp-session-id: a\r\n"
				    "MCP-SESSION-ID: a\r\n\r\n"),
			-400);
}

static void test_duplicate_tracked_headers(void)
{
	CU_ASSERT_EQUAL(feed_status("GET / HTTP/1.1\r\nHost: a\r\nhost: b\r\n\r\n"), -400);
	CU_ASSERT_EQUAL(feed_status("GET / HTTP/1.1\r\nOrigin: a\r\nOrigin: a\r\n\r\n"), -400);
	CU_ASSERT_EQUAL(feed_status("GET / HTTP/1.1\r\nMCP-Protocol-Version: a\r\n"
				    "MCP-Protocol-Version: b\r\n\r\n"),
			-400);
	CU_ASSERT_EQUAL(feed_status("GET / HTTP/1.1\r\nLast-Event-ID: 1\r\nLast-Event-ID: 2\r\n\r\n"),
			-400);
	/* Untracked headers may repeat. */
	CU_ASSERT_EQUAL(feed_status("GET / HTTP/1.1\r\nX-A: 1\r\nX-A: 2\r\n\r\n"), HTTP_FEED_REQUEST);
}

static void test_expect_other_refused(void)
{
	CU_ASSERT_EQUAL(feed_status("POST / HTTP/1.1\r\nExpect: something\r\n"
				    "Content-Length: 1\r\n\r\nx"),
			-417);
}

/* RFC 9112 5.1: whitespace between a field name and the colon MUST be answered 400 (else a
 * proxy and this parser may disagree on which headers a request has). */
static void test_whitespace_in_field_name(void)
{
	CU_ASSERT_EQUAL(feed_status("GET / HTTP/1.1\r\nHost : h\r\n\r\n"), -400);
	CU_ASSERT_EQUAL(feed_status("GET / HTTP/1.1\r\nMcp-Session-Id: a\r\n"
				    "Mcp-Session-Id\t: b\r\n\r\n"),
			-400);
	CU_ASSERT_EQUAL(feed_status("GET / HTTP/1.1\r\nBad Header: x\r\n\r\n"), -400);
}

/* ---- helpers ---- */

static void test_http_accepts(void)
{
	CU_ASSERT_TRUE(http_accepts("application/json", "application/json"));
	CU_ASSERT_TRUE(http_accepts("Application/JSON", "application/json"));
	CU_ASSERT_TRUE(http_accepts("text/html,  application/json ;q=0.5", "application/json"));
	CU_ASSERT_TRUE(http_accepts("\tapplication/json", "application/json"));
	CU_ASSERT_TRUE(http_accepts("*/*", "text/event-stream"));
	CU_ASSERT_TRUE(http_accepts("text/*", "text/event-stream"));
	CU_ASSERT_TRUE(http_accepts("application/json;q=1", "application/json"));
	CU_ASSERT_TRUE(http_accepts("application/json;q=0.01", "application/json"));
	CU_ASSERT_TRUE(http_accepts("application/json;q=0.5", "application/json"));
	CU_ASSERT_FALSE(http_accepts("application/json;q=0", "application/json"));
	CU_ASSERT_FALSE(http_accepts("application/json; q=0.0", "application/json"));
	CU_ASSERT_FALSE(http_accepts("application/json;Q=0.000", "application/json"));
	CU_ASSERT_FALSE(http_accepts("text/event-stream ; q=0", "text/event-stream"));
	CU_ASSERT_FALSE(http_accepts("text/*", "application/json"));
	CU_ASSERT_FALSE(http_accepts("application/jsonx", "application/json"));
	CU_ASSERT_FALSE(http_accepts("application/jso", "application/json"));
	CU_ASSERT_FALSE(http_accepts("text/event", "text/event-stream"));
	CU_ASSERT_FALSE(http_accepts("", "application/json"));
	CU_ASSERT_FALSE(http_accepts(NULL, "application/json"));
	CU_ASSERT_FALSE(http_accepts(",,", "application/json"));
}

static void test_http_media_is(void)
{
	CU_ASSERT_TRUE(http_media_is("application/json", "application/json"));
	CU_ASSERT_TRUE(http_media_is("Application/JSON", "application/json"));
	CU_ASSERT_TRUE(http_media_is("application/json; charset=utf-8", "application/json"));
	CU_ASSERT_TRUE(http_media_is("application/json;charset=utf-8", "application/json"));
	CU_ASSERT_TRUE(http_media_is("  application/json  ", "application/json"));
	CU_ASSERT_FALSE(http_media_is("application/jsonp", "application/json"));
	CU_ASSERT_FALSE(http_media_is("application/json-seq", "application/json"));
	CU_ASSERT_FALSE(http_media_is("application/jso", "application/json"));
	CU_ASSERT_FALSE(http_media_is("text/plain", "application/json"));
	CU_ASSERT_FALSE(http_media_is("", "application/json"));
	CU_ASSERT_FALSE(http_media_is(NULL, "application/json"));
}

static void test_http_reason(void)
{
	CU_ASSERT_STRING_EQUAL(http_reason(100), "Continue");
	CU_ASSERT_STRING_EQUAL(http_reason(200), "OK");
	CU_ASSERT_STRING_EQUAL(http_reason(202), "Accepted");
	CU_ASSERT_STRING_EQUAL(http_reason(400), "Bad Request");
	CU_ASSERT_STRING_EQUAL(http_reason(404), "Not Found");
	CU_ASSERT_STRING_EQUAL(http_reason(413), "Content Too Large");
	CU_ASSERT_STRING_EQUAL(http_reason(431), "Request Header Fields Too Large");
	CU_ASSERT_STRING_EQUAL(http_reason(505), "HTTP Version Not Supported");
	CU_ASSERT_STRING_EQUAL(http_reason(299), "Unknown");
	CU_ASSERT_STRING_EQUAL(http_reason(-1), "Unknown");
}

static void test_format_head(void)
{
	char buf[256];
	int n = http_format_head(buf, sizeof(buf), 200, "application/json", 12, NULL, true);

	CU_ASSERT_STRING_EQUAL(buf, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
				    "Content-Length: 12\r\n\r\n");
	CU_ASSERT_EQUAL(n, (int)strlen(buf));
	n = http_format_head(buf, sizeof(buf), 200, "text/event-stream", -1,
			     "Mcp-Session-Id: abc\r\nCache-Control: no-cache\r\n", false);
	CU_ASSERT_STRING_EQUAL(buf, "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
				    "Transfer-Encoding: chunked\r\nMcp-Session-Id: abc\r\n"
				    "Cache-Control: no-cache\r\nConnection: close\r\n\r\n");
	CU_ASSERT_EQUAL(n, (int)strlen(buf));
	n = http_format_head(buf, sizeof(buf), 202, NULL, 0, "", true);
	CU_ASSERT_STRING_EQUAL(buf, "HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\n\r\n");
	CU_ASSERT_EQUAL(n, (int)strlen(buf));
}

static void test_format_head_nospace(void)
{
	const char *want = "HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n";
	size_t len = strlen(want);
	char buf[128];

	CU_ASSERT_EQUAL(http_format_head(buf, len + 1, 204, NULL, 0, NULL, true), (int)len);
	CU_ASSERT_STRING_EQUAL(buf, want);
	CU_ASSERT_EQUAL(http_format_head(buf, len, 204, NULL, 0, NULL, true), -ENOSPC);
	CU_ASSERT_EQUAL(http_format_head(buf, 10, 204, NULL, 0, NULL, true), -ENOSPC);
}

static const struct unit_test limit_tests[] = {
	{ "head at limit", test_head_at_limit },
	{ "head over limit -> 431", test_head_over_limit },
	{ "head limit byte by byte", test_head_limit_byte_by_byte },
	{ "unterminated head over limit", test_unterminated_head_over_limit },
	{ "head limit per pipelined request", test_head_limit_per_request },
	{ "body at limit", test_body_at_limit },
	{ "Content-Length over limit -> 413", test_body_over_limit_content_length },
	{ "chunked over limit -> 413", test_body_over_limit_chunked },
	{ "garbage -> 400", test_garbage },
	{ "error sticks", test_error_sticks },
	{ "CL+TE, double CL -> 400", test_request_smuggling_refused },
	{ "bad version -> 505", test_bad_version },
	{ "upgrade -> 400", test_upgrade_refused },
	{ "duplicate Mcp-Session-Id -> 400", test_duplicate_session_id },
	{ "duplicate tracked headers -> 400", test_duplicate_tracked_headers },
	{ "whitespace in field name -> 400", test_whitespace_in_field_name },
	{ "other Expect -> 417", test_expect_other_refused },
	{ NULL, NULL },
};

static const struct unit_test helper_tests[] = {
	{ "http_accepts", test_http_accepts },
	{ "http_media_is", test_http_media_is },
	{ "http_reason", test_http_reason },
	{ "http_format_head", test_format_head },
	{ "http_format_head -ENOSPC", test_format_head_nospace },
	{ NULL, NULL },
};

int main(void)
{
	static const struct unit_suite suites[] = {
		{ "http limits", limit_tests, NULL, NULL, NULL, NULL },
		{ "http helpers", helper_tests, NULL, NULL, NULL, NULL },
		{ NULL, NULL, NULL, NULL, NULL, NULL },
	};

	return unit_main(suites);
}
