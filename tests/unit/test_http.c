#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/request.h"
#include "http/response.h"
#include "unit.h"

#define MAX_HEAD 8192
#define MAX_BODY 1024

static const struct http_limits limits = { .max_head = MAX_HEAD, .max_body = MAX_BODY };

static struct http_conn *new_conn(void)
{
	struct http_conn *c = http_conn_new(&limits);

	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	return c;
}

/* Feeds all of s in one call; *used gets how much was taken. */
static int feed(struct http_conn *c, const char *s, size_t *used)
{
	return http_conn_feed(c, s, strlen(s), used);
}

/* Feeds s, which must hold exactly one complete request, and returns that request. */
static const struct http_request *parse_one(struct http_conn *c, const char *s)
{
	size_t used = 0;
	int rc = feed(c, s, &used);

	CU_ASSERT_EQUAL(rc, HTTP_FEED_REQUEST);
	CU_ASSERT_EQUAL(used, strlen(s));
	return http_conn_request(c);
}

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

/* ---- requests ---- */

static void test_simple_get(void)
{
	struct http_conn *c = new_conn();
	const struct http_request *r = parse_one(c, "GET /mcp HTTP/1.1\r\nHost: example.com\r\n\r\n");

	CU_ASSERT_PTR_NOT_NULL_FATAL(r);
	CU_ASSERT_EQUAL(r->method, HTTP_M_GET);
	CU_ASSERT_STRING_EQUAL(r->method_name, "GET");
	CU_ASSERT_STRING_EQUAL(r->path, "/mcp");
	CU_ASSERT_STRING_EQUAL(r->host, "example.com");
	CU_ASSERT_PTR_NULL(r->origin);
	CU_ASSERT_PTR_NULL(r->content_type);
	CU_ASSERT_PTR_NULL(r->session_id);
	CU_ASSERT_PTR_NULL(r->protocol_version);
	CU_ASSERT_PTR_NULL(r->last_event_id);
	CU_ASSERT_FALSE(r->has_accept);
	CU_ASSERT_FALSE(r->accept_json);
	CU_ASSERT_FALSE(r->accept_sse);
	CU_ASSERT_TRUE(r->keep_alive);
	CU_ASSERT_PTR_NOT_NULL(r->body);
	CU_ASSERT_EQUAL(r->body_len, 0);
	CU_ASSERT_STRING_EQUAL(r->body, "");
	http_conn_free(c);
}

static void test_methods(void)
{
	static const struct {
		const char *line;
		enum http_method_id id;
		const char *name;
	} cases[] = {
		{ "DELETE /mcp HTTP/1.1\r\n\r\n", HTTP_M_DELETE, "DELETE" },
		{ "HEAD /mcp HTTP/1.1\r\n\r\n", HTTP_M_HEAD, "HEAD" },
		{ "PUT /mcp HTTP/1.1\r\nContent-Length: 0\r\n\r\n", HTTP_M_OTHER, "PUT" },
		{ "OPTIONS * HTTP/1.1\r\n\r\n", HTTP_M_OTHER, "OPTIONS" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct http_conn *c = new_conn();
		const struct http_request *r = parse_one(c, cases[i].line);

		CU_ASSERT_PTR_NOT_NULL_FATAL(r);
		CU_ASSERT_EQUAL(r->method, cases[i].id);
		CU_ASSERT_STRING_EQUAL(r->method_name, cases[i].name);
		http_conn_free(c);
	}
}

static void test_query_stripped(void)
{
	struct http_conn *c = new_conn();
	const struct http_request *r = parse_one(c, "GET /mcp?session=1&x=%20y HTTP/1.1\r\n\r\n");

	CU_ASSERT_PTR_NOT_NULL_FATAL(r);
	CU_ASSERT_STRING_EQUAL(r->path, "/mcp");
	http_conn_free(c);
}

static void test_post_content_length(void)
{
	struct http_conn *c = new_conn();
	const struct http_request *r = parse_one(c, "POST /mcp HTTP/1.1\r\n"
						    "Content-Type: application/json\r\n"
						    "Content-Length: 13\r\n\r\n"
						    "{\"a\":[1,2,3]}");

	CU_ASSERT_PTR_NOT_NULL_FATAL(r);
	CU_ASSERT_EQUAL(r->method, HTTP_M_POST);
	CU_ASSERT_STRING_EQUAL(r->content_type, "application/json");
	CU_ASSERT_EQUAL(r->body_len, 13);
	CU_ASSERT_STRING_EQUAL(r->body, "{\"a\":[1,2,3]}");
	CU_ASSERT_EQUAL(r->body[r->body_len], '\0');
	http_conn_free(c);
}

static void test_body_split_from_head(void)
{
	struct http_conn *c = new_conn();
	const char *head = "POST /mcp HTTP/1.1\r\nContent-Length: 10\r\n\r\n";
	size_t used = 0;

	CU_ASSERT_EQUAL(feed(c, head, &used), HTTP_FEED_MORE);
	CU_ASSERT_EQUAL(used, strlen(head));
	CU_ASSERT_PTR_NULL(http_conn_request(c));
	CU_ASSERT_TRUE(http_conn_in_request(c));
	CU_ASSERT_EQUAL(feed(c, "01234", &used), HTTP_FEED_MORE);
	CU_ASSERT_EQUAL(used, 5);
	CU_ASSERT_EQUAL(feed(c, "56789", &used), HTTP_FEED_REQUEST);
	CU_ASSERT_EQUAL(used, 5);
	CU_ASSERT_PTR_NOT_NULL_FATAL(http_conn_request(c));
	CU_ASSERT_STRING_EQUAL(http_conn_request(c)->body, "0123456789");
	CU_ASSERT_EQUAL(http_conn_request(c)->body_len, 10);
	http_conn_free(c);
}

static void test_chunked_body(void)
{
	struct http_conn *c = new_conn();
	const struct http_request *r = parse_one(c, "POST /mcp HTTP/1.1\r\n"
						    "Transfer-Encoding: chunked\r\n\r\n"
						    "5\r\nhello\r\n"
						    "6;ext=1\r\n world\r\n"
						    "0\r\n\r\n");

	CU_ASSERT_PTR_NOT_NULL_FATAL(r);
	CU_ASSERT_EQUAL(r->body_len, 11);
	CU_ASSERT_STRING_EQUAL(r->body, "hello world");
	http_conn_free(c);
}

/* Many small chunks make the body buffer grow several times. */
static void test_chunked_body_grows(void)
{
	static const struct http_limits big = { .max_head = MAX_HEAD, .max_body = 1 << 20 };
	struct http_conn *c = http_conn_new(&big);
	char chunk[64];
	size_t used;

	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	CU_ASSERT_EQUAL(feed(c, "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", &used),
			HTTP_FEED_MORE);
	for (int i = 0; i < 500; i++) {
		snprintf(chunk, sizeof(chunk), "a\r\n%010d\r\n", i);
		CU_ASSERT_EQUAL(feed(c, chunk, &used), HTTP_FEED_MORE);
	}
	CU_ASSERT_EQUAL_FATAL(feed(c, "0\r\n\r\n", &used), HTTP_FEED_REQUEST);
	CU_ASSERT_EQUAL_FATAL(http_conn_request(c)->body_len, 5000);
	CU_ASSERT_EQUAL(memcmp(http_conn_request(c)->body, "0000000000", 10), 0);
	CU_ASSERT_EQUAL(memcmp(http_conn_request(c)->body + 4990, "0000000499", 10), 0);
	CU_ASSERT_EQUAL(http_conn_request(c)->body[5000], '\0');
	http_conn_free(c);
}

static void test_pipelined(void)
{
	const char *in = "POST /a HTTP/1.1\r\nMcp-Session-Id: s1\r\nContent-Length: 3\r\n\r\nabc"
			 "GET /b?q HTTP/1.1\r\nAccept: text/event-stream\r\n\r\n"
			 "DELETE /c HTTP/1.1\r\nConnection: close\r\n\r\n";
	struct http_conn *c = new_conn();
	size_t len = strlen(in), off = 0, used = 0;
	const struct http_request *r;

	CU_ASSERT_EQUAL(http_conn_feed(c, in, len, &used), HTTP_FEED_REQUEST);
	CU_ASSERT_TRUE_FATAL(used < len);
	off += used;
	r = http_conn_request(c);
	CU_ASSERT_PTR_NOT_NULL_FATAL(r);
	CU_ASSERT_STRING_EQUAL(r->path, "/a");
	CU_ASSERT_STRING_EQUAL(r->session_id, "s1");
	CU_ASSERT_STRING_EQUAL(r->body, "abc");
	CU_ASSERT_FALSE(r->has_accept);

	/* Until http_conn_next() the same request stays ready and nothing more is taken. */
	CU_ASSERT_EQUAL(http_conn_feed(c, in + off, len - off, &used), HTTP_FEED_REQUEST);
	CU_ASSERT_EQUAL(used, 0);
	http_conn_next(c);
	CU_ASSERT_PTR_NULL(http_conn_request(c));

	CU_ASSERT_EQUAL(http_conn_feed(c, in + off, len - off, &used), HTTP_FEED_REQUEST);
	CU_ASSERT_TRUE_FATAL(off + used < len);
	off += used;
	r = http_conn_request(c);
	CU_ASSERT_PTR_NOT_NULL_FATAL(r);
	CU_ASSERT_EQUAL(r->method, HTTP_M_GET);
	CU_ASSERT_STRING_EQUAL(r->path, "/b");
	CU_ASSERT_PTR_NULL(r->session_id); /* nothing carried over from the first request */
	CU_ASSERT_EQUAL(r->body_len, 0);
	CU_ASSERT_TRUE(r->accept_sse);
	CU_ASSERT_FALSE(r->accept_json);
	http_conn_next(c);

	CU_ASSERT_EQUAL(http_conn_feed(c, in + off, len - off, &used), HTTP_FEED_REQUEST);
	CU_ASSERT_EQUAL(off + used, len);
	r = http_conn_request(c);
	CU_ASSERT_PTR_NOT_NULL_FATAL(r);
	CU_ASSERT_EQUAL(r->method, HTTP_M_DELETE);
	CU_ASSERT_STRING_EQUAL(r->path, "/c");
	CU_ASSERT_FALSE(r->keep_alive);
	CU_ASSERT_FALSE(r->has_accept);
	http_conn_next(c);
	CU_ASSERT_FALSE(http_conn_in_request(c));
	http_conn_free(c);
}

/* Feeds s one byte per call; returns the index of the byte that completed the request. */
static size_t feed_bytewise(struct http_conn *c, const char *s)
{
	size_t len = strlen(s), used;

	for (size_t i = 0; i < len; i++) {
		int rc = http_conn_feed(c, s + i, 1, &used);

		CU_ASSERT_EQUAL(used, 1);
		if (rc == HTTP_FEED_REQUEST)
			return i;
		CU_ASSERT_EQUAL_FATAL(rc, HTTP_FEED_MORE);
		CU_ASSERT_TRUE(http_conn_in_request(c));
	}
	return len;
}

static void test_byte_by_byte(void)
{
	const char *in = "POST /mcp?x=1 HTTP/1.1\r\n"
			 "Host: localhost:8080\r\n"
			 "ORIGIN: http://localhost\r\n"
			 "Accept: application/json, text/event-stream\r\n"
			 "content-type: application/json; charset=utf-8\r\n"
			 "Mcp-Session-Id: 0123456789abcdef\r\n"
			 "MCP-Protocol-Version: 2025-06-18\r\n"
			 "Last-Event-ID: 42\r\n"
			 "Content-Length: 17\r\n\r\n"
			 "{\"jsonrpc\":\"2.0\"}";
	struct http_conn *c = new_conn();
	const struct http_request *r;

	CU_ASSERT_EQUAL(feed_bytewise(c, in), strlen(in) - 1);
	r = http_conn_request(c);
	CU_ASSERT_PTR_NOT_NULL_FATAL(r);
	CU_ASSERT_EQUAL(r->method, HTTP_M_POST);
	CU_ASSERT_STRING_EQUAL(r->path, "/mcp");
	CU_ASSERT_STRING_EQUAL(r->host, "localhost:8080");
	CU_ASSERT_STRING_EQUAL(r->origin, "http://localhost");
	CU_ASSERT_STRING_EQUAL(r->content_type, "application/json; charset=utf-8");
	CU_ASSERT_STRING_EQUAL(r->session_id, "0123456789abcdef");
	CU_ASSERT_STRING_EQUAL(r->protocol_version, "2025-06-18");
	CU_ASSERT_STRING_EQUAL(r->last_event_id, "42");
	CU_ASSERT_TRUE(r->accept_json && r->accept_sse);
	CU_ASSERT_STRING_EQUAL(r->body, "{\"jsonrpc\":\"2.0\"}");
	CU_ASSERT_EQUAL(r->body_len, 17);
	http_conn_free(c);
}

static void test_chunked_byte_by_byte(void)
{
	struct http_conn *c = new_conn();
	const char *in = "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
			 "3\r\nabc\r\n4\r\ndefg\r\n0\r\n\r\n";

	CU_ASSERT_EQUAL(feed_bytewise(c, in), strlen(in) - 1);
	CU_ASSERT_PTR_NOT_NULL_FATAL(http_conn_request(c));
	CU_ASSERT_STRING_EQUAL(http_conn_request(c)->body, "abcdefg");
	http_conn_free(c);
}

static void test_in_request(void)
{
	struct http_conn *c = new_conn();
	size_t used;

	CU_ASSERT_FALSE(http_conn_in_request(c));
	CU_ASSERT_EQUAL(http_conn_feed(c, "", 0, &used), HTTP_FEED_MORE);
	CU_ASSERT_EQUAL(used, 0);
	CU_ASSERT_FALSE(http_conn_in_request(c));
	CU_ASSERT_EQUAL(feed(c, "\r\n", &used), HTTP_FEED_MORE); /* empty lines between requests */
	CU_ASSERT_FALSE(http_conn_in_request(c));
	CU_ASSERT_EQUAL(feed(c, "GE", &used), HTTP_FEED_MORE);
	CU_ASSERT_EQUAL(used, 2);
	CU_ASSERT_TRUE(http_conn_in_request(c));
	CU_ASSERT_EQUAL(feed(c, "T / HTTP/1.1\r\n\r\n", &used), HTTP_FEED_REQUEST);
	CU_ASSERT_TRUE(http_conn_in_request(c));
	http_conn_next(c);
	CU_ASSERT_FALSE(http_conn_in_request(c));
	CU_ASSERT_EQUAL(feed(c, "P", &used), HTTP_FEED_MORE);
	CU_ASSERT_TRUE(http_conn_in_request(c));
	http_conn_free(c);
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

static void test_expect_continue(void)
{
	const char *head = "POST /mcp HTTP/1.1\r\nExpect: 100-Continue\r\nContent-Length: 4\r\n\r\n";
	struct http_conn *c = new_conn();
	size_t used;

	CU_ASSERT_EQUAL(feed(c, head, &used), HTTP_FEED_CONTINUE);
	CU_ASSERT_EQUAL(used, strlen(head));
	CU_ASSERT_PTR_NULL(http_conn_request(c));
	CU_ASSERT_EQUAL(feed(c, "ping", &used), HTTP_FEED_REQUEST);
	CU_ASSERT_EQUAL(used, 4);
	CU_ASSERT_PTR_NOT_NULL_FATAL(http_conn_request(c));
	CU_ASSERT_STRING_EQUAL(http_conn_request(c)->body, "ping");
	http_conn_free(c);
}

/* Head and body in one buffer: CONTINUE stops after the head, then the body follows. */
static void test_expect_continue_one_buffer(void)
{
	const char *in = "POST /mcp HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\nok";
	size_t len = strlen(in), used;
	struct http_conn *c = new_conn();

	CU_ASSERT_EQUAL(http_conn_feed(c, in, len, &used), HTTP_FEED_CONTINUE);
	CU_ASSERT_EQUAL(used, len - 2);
	CU_ASSERT_EQUAL(http_conn_feed(c, in + used, len - used, &used), HTTP_FEED_REQUEST);
	CU_ASSERT_EQUAL(used, 2);
	CU_ASSERT_STRING_EQUAL(http_conn_request(c)->body, "ok");
	http_conn_next(c);
	/* The next request on the connection does not inherit the expectation. */
	CU_ASSERT_EQUAL(feed(c, "POST / HTTP/1.1\r\nContent-Length: 1\r\n\r\nz", &used),
			HTTP_FEED_REQUEST);
	http_conn_free(c);
}

/* No body to wait for: after CONTINUE, a feed of nothing completes the request. */
static void test_expect_continue_empty_body(void)
{
	struct http_conn *c = new_conn();
	size_t used;

	CU_ASSERT_EQUAL(feed(c, "POST / HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 0\r\n\r\n",
			     &used),
			HTTP_FEED_CONTINUE);
	CU_ASSERT_EQUAL(http_conn_feed(c, "", 0, &used), HTTP_FEED_REQUEST);
	CU_ASSERT_PTR_NOT_NULL(http_conn_request(c));
	http_conn_free(c);
}

static void test_expect_other_refused(void)
{
	CU_ASSERT_EQUAL(feed_status("POST / HTTP/1.1\r\nExpect: something\r\n"
				    "Content-Length: 1\r\n\r\nx"),
			-417);
}

static void test_tracked_headers_case_insensitive(void)
{
	struct http_conn *c = new_conn();
	const struct http_request *r = parse_one(c, "GET / HTTP/1.1\r\n"
						    "hOsT: H\r\n"
						    "oRiGiN: O\r\n"
						    "CONTENT-TYPE: text/plain\r\n"
						    "mcp-session-id: S\r\n"
						    "mcp-protocol-version: P\r\n"
						    "last-event-id: 7\r\n"
						    "Mcp-Session-Id-But-Longer-Than-Tracked: X\r\n"
						    "X-Host: Y\r\n"
						    /* Same lengths, one letter off: no match, so no duplicate. */
						    "Hosz: D\r\nOrigim: D\r\nAcceps: D\r\nContent-Typf: D\r\n"
						    "Last-Event-Iq: D\r\nMcp-Session-Ix: D\r\n"
						    "Mcp-Protocol-Versiom: D\r\n\r\n");

	CU_ASSERT_PTR_NOT_NULL_FATAL(r);
	CU_ASSERT_STRING_EQUAL(r->host, "H");
	CU_ASSERT_STRING_EQUAL(r->origin, "O");
	CU_ASSERT_STRING_EQUAL(r->content_type, "text/plain");
	CU_ASSERT_STRING_EQUAL(r->session_id, "S");
	CU_ASSERT_STRING_EQUAL(r->protocol_version, "P");
	CU_ASSERT_STRING_EQUAL(r->last_event_id, "7");
	CU_ASSERT_FALSE(r->has_accept);
	http_conn_free(c);
}

static void test_header_value_whitespace(void)
{
	struct http_conn *c = new_conn();
	const struct http_request *r = parse_one(c, "GET / HTTP/1.1\r\nHost:   spaced\r\n"
						    "Mcp-Session-Id:abc\r\n\r\n");

	CU_ASSERT_PTR_NOT_NULL_FATAL(r);
	CU_ASSERT_STRING_EQUAL(r->host, "spaced");
	CU_ASSERT_STRING_EQUAL(r->session_id, "abc");
	http_conn_free(c);
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

/* RFC 9112 5: OWS after the last non-whitespace octet is not part of the field value. */
static void test_trailing_whitespace_trimmed(void)
{
	struct http_conn *c = new_conn();
	const struct http_request *r = parse_one(c, "GET / HTTP/1.1\r\nHost: localhost \r\n"
						    "Mcp-Session-Id: abc \t\r\n"
						    "MCP-Protocol-Version: 2025-06-18\t\r\n\r\n");

	CU_ASSERT_PTR_NOT_NULL_FATAL(r);
	CU_ASSERT_STRING_EQUAL(r->host, "localhost");
	CU_ASSERT_STRING_EQUAL(r->session_id, "abc");
	CU_ASSERT_STRING_EQUAL(r->protocol_version, "2025-06-18");
	http_conn_free(c);
}

/* Parses a GET with the given Accept lines and checks the three flags. */
static void check_accept(const char *accept_lines, bool has, bool json, bool sse)
{
	char in[512];
	struct http_conn *c = new_conn();
	const struct http_request *r;

	snprintf(in, sizeof(in), "GET / HTTP/1.1\r\n%s\r\n", accept_lines);
	r = parse_one(c, in);
	CU_ASSERT_PTR_NOT_NULL_FATAL(r);
	CU_ASSERT_EQUAL(r->has_accept, has);
	CU_ASSERT_EQUAL(r->accept_json, json);
	CU_ASSERT_EQUAL(r->accept_sse, sse);
	http_conn_free(c);
}

static void test_accept_flags(void)
{
	check_accept("", false, false, false);
	check_accept("Accept: application/json\r\n", true, true, false);
	check_accept("Accept: text/event-stream\r\n", true, false, true);
	check_accept("Accept: application/json, text/event-stream\r\n", true, true, true);
	check_accept("Accept: application/json\r\naccept: text/event-stream\r\n", true, true, true);
	check_accept("Accept: text/event-stream\r\nACCEPT: text/html\r\n", true, false, true);
	check_accept("Accept: */*\r\n", true, true, true);
	check_accept("Accept: text/*\r\n", true, false, true);
	check_accept("Accept: application/*\r\n", true, true, false);
	check_accept("Accept: text/html\r\n", true, false, false);
	check_accept("Accept: application/json;q=0, text/event-stream\r\n", true, false, true);
	check_accept("Accept: */*;q=0\r\n", true, false, false);
	check_accept("Accept: */*\r\nAccept: application/json;q=0\r\n", true, true, true);
}

static void test_keep_alive(void)
{
	static const struct {
		const char *in;
		bool keep_alive;
	} cases[] = {
		{ "GET / HTTP/1.1\r\n\r\n", true },
		{ "GET / HTTP/1.1\r\nConnection: close\r\n\r\n", false },
		{ "GET / HTTP/1.1\r\nConnection: Close\r\n\r\n", false },
		{ "GET / HTTP/1.1\r\nConnection: keep-alive\r\n\r\n", true },
		{ "GET / HTTP/1.0\r\n\r\n", false },
		{ "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", true },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct http_conn *c = new_conn();
		const struct http_request *r = parse_one(c, cases[i].in);

		CU_ASSERT_PTR_NOT_NULL_FATAL(r);
		CU_ASSERT_EQUAL(r->keep_alive, cases[i].keep_alive);
		http_conn_free(c);
	}
}

/* A large body then a small one: the buffers are reused or given back, never stale. */
static void test_requests_reuse_buffers(void)
{
	static const struct http_limits big = { .max_head = MAX_HEAD, .max_body = 65536 };
	struct http_conn *c = http_conn_new(&big);
	char *in = malloc(20000);
	size_t used;
	int n;

	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	CU_ASSERT_PTR_NOT_NULL_FATAL(in);
	n = snprintf(in, 20000, "POST /big HTTP/1.1\r\nHost: %0500d\r\nContent-Length: 10000\r\n\r\n", 1);
	memset(in + n, 'x', 10000);
	in[n + 10000] = '\0';
	CU_ASSERT_EQUAL(feed(c, in, &used), HTTP_FEED_REQUEST);
	CU_ASSERT_EQUAL(http_conn_request(c)->body_len, 10000);
	CU_ASSERT_EQUAL(strlen(http_conn_request(c)->host), 500);
	http_conn_next(c);
	CU_ASSERT_EQUAL(feed(c, "POST /small HTTP/1.1\r\nContent-Length: 2\r\n\r\nhi", &used),
			HTTP_FEED_REQUEST);
	CU_ASSERT_STRING_EQUAL(http_conn_request(c)->path, "/small");
	CU_ASSERT_PTR_NULL(http_conn_request(c)->host);
	CU_ASSERT_STRING_EQUAL(http_conn_request(c)->body, "hi");
	http_conn_next(c);
	CU_ASSERT_EQUAL(feed(c, "GET /empty HTTP/1.1\r\n\r\n", &used), HTTP_FEED_REQUEST);
	CU_ASSERT_EQUAL(http_conn_request(c)->body_len, 0);
	CU_ASSERT_STRING_EQUAL(http_conn_request(c)->body, "");
	http_conn_free(c);
	free(in);
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

/* ---- registration ---- */

static const struct unit_test request_tests[] = {
	{ "simple GET", test_simple_get },
	{ "methods", test_methods },
	{ "query string stripped", test_query_stripped },
	{ "POST with Content-Length", test_post_content_length },
	{ "body in later feeds", test_body_split_from_head },
	{ "chunked body", test_chunked_body },
	{ "chunked body grows", test_chunked_body_grows },
	{ "pipelined requests in order", test_pipelined },
	{ "byte by byte", test_byte_by_byte },
	{ "chunked byte by byte", test_chunked_byte_by_byte },
	{ "in_request", test_in_request },
	{ "tracked headers, any case", test_tracked_headers_case_insensitive },
	{ "header value whitespace", test_header_value_whitespace },
	{ "trailing OWS trimmed", test_trailing_whitespace_trimmed },
	{ "Accept flags", test_accept_flags },
	{ "keep-alive", test_keep_alive },
	{ "buffers reused", test_requests_reuse_buffers },
	{ "Expect: 100-continue", test_expect_continue },
	{ "Expect: 100-continue in one buffer", test_expect_continue_one_buffer },
	{ "Expect: 100-continue, empty body", test_expect_continue_empty_body },
	{ NULL, NULL },
};

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
		{ "http requests", request_tests, NULL, NULL, NULL, NULL },
		{ "http limits", limit_tests, NULL, NULL, NULL, NULL },
		{ "http helpers", helper_tests, NULL, NULL, NULL, NULL },
		{ NULL, NULL, NULL, NULL, NULL, NULL },
	};

	return unit_main(suites);
}
