#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/request.h"
#include "http_harness.h"
#include "http/response.h"
#include "unit.h"

/* Unit tests of the HTTP/1.1 request parser on llhttp (http_harness.h feeds it). This file:
 * well-formed requests: methods, bodies (Content-Length, chunked), pipelining,
 * byte by byte, tracked headers, Accept, keep-alive, Expect: 100-continue. */

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
						    "iF-nOnE-mAtCh: \"e\"\r\n"
						    "Mcp-Session-Id-But-Longer-Than-Tracked: X\r\n"
						    "X-Host: Y\r\n"
						    /* Same lengths, one letter off: no match, so no duplicate. */
						    "Hosz: D\r\nOrigim: D\r\nAcceps: D\r\nContent-Typf: D\r\n"
						    "Last-Event-Iq: D\r\nMcp-Session-Ix: D\r\n"
						    "If-None-Matcx: D\r\nIast-Event-ID: D\r\n"
						    "Mcp-Protocol-Versiom: D\r\n\r\n");

	CU_ASSERT_PTR_NOT_NULL_FATAL(r);
	CU_ASSERT_STRING_EQUAL(r->host, "H");
	CU_ASSERT_STRING_EQUAL(r->origin, "O");
	CU_ASSERT_STRING_EQUAL(r->content_type, "text/plain");
	CU_ASSERT_STRING_EQUAL(r->session_id, "S");
	CU_ASSERT_STRING_EQUAL(r->protocol_version, "P");
	CU_ASSERT_STRING_EQUAL(r->last_event_id, "7");
	CU_ASSERT_STRING_EQUAL(r->if_none_match, "\"e\"");
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

/* Mcp-Param-* headers (MCP 2026-07-28): every one kept by its name after the prefix, as
 * sent, with its value trimmed; a name too long to be declared is not kept; past the cap
 * the request says some were dropped, and the next request starts with none. */
static void test_mcp_param_headers(void)
{
	char in[2048], name[80];
	struct http_conn *c = new_conn();
	const struct http_request *r;
	size_t n, used;

	memset(name, 'n', HTTP_PARAM_NAME_MAX + 1);
	name[HTTP_PARAM_NAME_MAX + 1] = '\0';
	n = (size_t)snprintf(in, sizeof(in), "POST / HTTP/1.1\r\nmcp-param-region:  us-west1 \r\n"
			     "MCP-PARAM-Dry-Run: true\r\nMcp-Param-: empty\r\nMcp-Param-%s: long\r\n"
			     "Mcp-Param-Region: =?base64?SGVsbG8=?=\r\nContent-Length: 0\r\n\r\n", name);
	r = parse_one(c, in);
	CU_ASSERT_PTR_NOT_NULL_FATAL(r);
	CU_ASSERT_EQUAL_FATAL(r->n_params, 3);
	CU_ASSERT_STRING_EQUAL(r->params[0].name, "region");
	CU_ASSERT_STRING_EQUAL(r->params[0].value, "us-west1");
	CU_ASSERT_STRING_EQUAL(r->params[1].name, "Dry-Run");
	CU_ASSERT_STRING_EQUAL(r->params[1].value, "true");
	CU_ASSERT_STRING_EQUAL(r->params[2].name, "Region");
	CU_ASSERT_STRING_EQUAL(r->params[2].value, "=?base64?SGVsbG8=?=");
	CU_ASSERT_FALSE(r->params_dropped);
	http_conn_next(c);
	n = (size_t)snprintf(in, sizeof(in), "GET / HTTP/1.1\r\n");
	for (int i = 0; i <= HTTP_MAX_PARAMS; i++)
		n += (size_t)snprintf(in + n, sizeof(in) - n, "Mcp-Param-P%d: %d\r\n", i, i);
	snprintf(in + n, sizeof(in) - n, "Host: h\r\n\r\n");
	CU_ASSERT_EQUAL_FATAL(feed(c, in, &used), HTTP_FEED_REQUEST);
	r = http_conn_request(c);
	CU_ASSERT_EQUAL(r->n_params, HTTP_MAX_PARAMS);
	CU_ASSERT_TRUE(r->params_dropped);
	CU_ASSERT_STRING_EQUAL(r->params[HTTP_MAX_PARAMS - 1].value, "15");
	CU_ASSERT_STRING_EQUAL(r->host, "h");
	http_conn_next(c);
	CU_ASSERT_EQUAL_FATAL(feed(c, "GET / HTTP/1.1\r\n\r\n", &used), HTTP_FEED_REQUEST);
	CU_ASSERT_EQUAL(http_conn_request(c)->n_params, 0);
	CU_ASSERT_FALSE(http_conn_request(c)->params_dropped);
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
	{ "Mcp-Param-* headers", test_mcp_param_headers },
	{ "Accept flags", test_accept_flags },
	{ "keep-alive", test_keep_alive },
	{ "buffers reused", test_requests_reuse_buffers },
	{ "Expect: 100-continue", test_expect_continue },
	{ "Expect: 100-continue in one buffer", test_expect_continue_one_buffer },
	{ "Expect: 100-continue, empty body", test_expect_continue_empty_body },
	{ NULL, NULL },
};

int main(void)
{
	static const struct unit_suite suites[] = {
		{ "http requests", request_tests, NULL, NULL, NULL, NULL },
		{ NULL, NULL, NULL, NULL, NULL, NULL },
	};

	return unit_main(suites);
}
