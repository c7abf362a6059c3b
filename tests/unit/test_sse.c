#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/sse.h"
#include "unit.h"
#include "util/buf.h"

static struct buf out;

static int reset_buf(void)
{
	buf_free(&out);
	return 0;
}

/* The buffer's bytes as a string (the buffer may be empty). */
static const char *text(void)
{
	return out.len ? out.p : "";
}

/* Checks that out holds exactly one chunk, "<hex>\r\n" payload "\r\n", with this payload. */
static void check_one_chunk(const char *payload)
{
	char want[1024];
	int n = snprintf(want, sizeof(want), "%zx\r\n%s\r\n", strlen(payload), payload);

	CU_ASSERT_FATAL(n > 0 && (size_t)n < sizeof(want));
	CU_ASSERT_EQUAL(out.len, (size_t)n);
	CU_ASSERT_STRING_EQUAL(text(), want);
}

static void test_event_with_id(void)
{
	const char *json = "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{}}";

	reset_buf();
	sse_append_event(&out, 42, json, strlen(json));
	check_one_chunk("id: 42\ndata: {\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{}}\n\n");
	CU_ASSERT_EQUAL(strncmp(text(), "33\r\n", 4), 0); /* 51 bytes, in hex */
	reset_buf();
}

static void test_event_without_id(void)
{
	reset_buf();
	sse_append_event(&out, 0, "{}", 2);
	CU_ASSERT_STRING_EQUAL(text(), "a\r\ndata: {}\n\n\r\n");
	CU_ASSERT_PTR_NULL(strstr(text(), "id:"));
	CU_ASSERT_PTR_NULL(strstr(text(), "event:"));
	reset_buf();
}

/* Only len bytes of the JSON are used, not the whole string. */
static void test_event_uses_len(void)
{
	reset_buf();
	sse_append_event(&out, 7, "{\"a\":1}TRAILING", 7);
	check_one_chunk("id: 7\ndata: {\"a\":1}\n\n");
	reset_buf();
}

static void test_event_max_id(void)
{
	reset_buf();
	sse_append_event(&out, UINT64_MAX, "1", 1);
	check_one_chunk("id: 18446744073709551615\ndata: 1\n\n");
	reset_buf();
}

/* A payload over 255 bytes needs a multi-digit hex length. */
static void test_event_large(void)
{
	size_t n = 70000;
	char *json = malloc(n + 3), head[32];
	size_t payload = strlen("data: ") + n + 2 + 2;

	CU_ASSERT_PTR_NOT_NULL_FATAL(json);
	json[0] = '"';
	memset(json + 1, 'x', n);
	json[n + 1] = '"';
	json[n + 2] = '\0';
	reset_buf();
	sse_append_event(&out, 0, json, n + 2);
	snprintf(head, sizeof(head), "%zx\r\ndata: \"", payload);
	CU_ASSERT_STRING_EQUAL(head, "1117a\r\ndata: \"");
	CU_ASSERT_EQUAL(strncmp(text(), head, strlen(head)), 0);
	CU_ASSERT_EQUAL(out.len, strlen("1117a\r\n") + payload + 2);
	CU_ASSERT_EQUAL(memcmp(out.p + out.len - 5, "\"\n\n\r\n", 5), 0);
	reset_buf();
	free(json);
}

static void test_events_append(void)
{
	reset_buf();
	sse_append_event(&out, 1, "1", 1);
	sse_append_event(&out, 2, "2", 1);
	sse_append_end(&out);
	CU_ASSERT_STRING_EQUAL(text(), "f\r\nid: 1\ndata: 1\n\n\r\n"
				       "f\r\nid: 2\ndata: 2\n\n\r\n"
				       "0\r\n\r\n");
	reset_buf();
}

static void test_notification(void)
{
	const char *params = "{\"text\":\"hi\"}";

	reset_buf();
	sse_append_notification(&out, 9, "notifications/message", params, strlen(params));
	check_one_chunk("id: 9\ndata: {\"jsonrpc\":\"2.0\",\"method\":\"notifications/message\","
			"\"params\":{\"text\":\"hi\"}}\n\n");
	reset_buf();
	sse_append_notification(&out, 0, "m", "{}XX", 2);
	check_one_chunk("data: {\"jsonrpc\":\"2.0\",\"method\":\"m\",\"params\":{}}\n\n");
	reset_buf();
}

static void test_comment(void)
{
	reset_buf();
	sse_append_comment(&out, "keep-alive");
	check_one_chunk(": keep-alive\n\n");
	CU_ASSERT_STRING_EQUAL(text(), "e\r\n: keep-alive\n\n\r\n");
	reset_buf();
	sse_append_comment(&out, "");
	CU_ASSERT_STRING_EQUAL(text(), "4\r\n: \n\n\r\n");
	reset_buf();
}

static void test_end(void)
{
	reset_buf();
	sse_append_end(&out);
	CU_ASSERT_EQUAL(out.len, 5);
	CU_ASSERT_STRING_EQUAL(text(), "0\r\n\r\n");
	reset_buf();
}

/* Appending keeps what the buffer held before. */
static void test_appends_after_existing(void)
{
	reset_buf();
	buf_puts(&out, "HEAD\r\n\r\n");
	sse_append_comment(&out, "x");
	CU_ASSERT_STRING_EQUAL(text(), "HEAD\r\n\r\n5\r\n: x\n\n\r\n");
	reset_buf();
}

static void check_id_ok(const char *value, uint64_t want)
{
	uint64_t seq = 12345;

	CU_ASSERT_EQUAL(sse_parse_event_id(value, &seq), 0);
	CU_ASSERT_EQUAL(seq, want);
}

static void check_id_bad(const char *value)
{
	uint64_t seq = 12345;

	CU_ASSERT_EQUAL(sse_parse_event_id(value, &seq), -EINVAL);
	CU_ASSERT_EQUAL(seq, 12345); /* untouched */
}

static void test_parse_event_id(void)
{
	check_id_ok("0", 0);
	check_id_ok("1", 1);
	check_id_ok("42", 42);
	check_id_ok("007", 7);
	check_id_ok("4294967296", 4294967296ULL);
	check_id_ok("18446744073709551609", 18446744073709551609ULL);
}

static void test_parse_event_id_invalid(void)
{
	check_id_bad(NULL);
	check_id_bad("");
	check_id_bad("-1");
	check_id_bad("+1");
	check_id_bad(" 1");
	check_id_bad("1 ");
	check_id_bad("12a");
	check_id_bad("0x10");
	check_id_bad("1.5");
	check_id_bad("18446744073709551616");  /* 2^64 */
	check_id_bad("99999999999999999999"); /* 20 digits, over */
	check_id_bad("184467440737095516150");
}

/* POST streams (MCP SSE polling): a text id, the priming event with retry and empty data. */
static void test_event_text_id(void)
{
	reset_buf();
	sse_append_event_id(&out, "3-1", "{}", 2);
	check_one_chunk("id: 3-1\ndata: {}\n\n");
	reset_buf();
	sse_append_priming(&out, "3-0", 1500);
	check_one_chunk("id: 3-0\nretry: 1500\ndata: \n\n");
	reset_buf();
}

static void check_stream_id(const char *value, int want_rc, uint32_t want_n, uint32_t want_m)
{
	uint32_t n = 77, m = 77;

	CU_ASSERT_EQUAL(sse_parse_stream_event_id(value, &n, &m), want_rc);
	if (want_rc == 0) {
		CU_ASSERT_EQUAL(n, want_n);
		CU_ASSERT_EQUAL(m, want_m);
	}
}

static void test_parse_stream_event_id(void)
{
	check_stream_id("1-0", 0, 1, 0);
	check_stream_id("42-7", 0, 42, 7);
	check_stream_id("4294967295-4294967295", 0, UINT32_MAX, UINT32_MAX);
	check_stream_id("0-0", -EINVAL, 0, 0);     /* streams are numbered from 1 */
	check_stream_id("4294967296-0", -EINVAL, 0, 0);
	check_stream_id("1-4294967296", -EINVAL, 0, 0);
	check_stream_id("00000000001-0", -EINVAL, 0, 0); /* more than 10 digits */
	check_stream_id("1", -EINVAL, 0, 0);
	check_stream_id("-1", -EINVAL, 0, 0);
	check_stream_id("1-", -EINVAL, 0, 0);
	check_stream_id("1--1", -EINVAL, 0, 0);
	check_stream_id("1-1-1", -EINVAL, 0, 0);
	check_stream_id("+1-1", -EINVAL, 0, 0);
	check_stream_id("1 -1", -EINVAL, 0, 0);
	check_stream_id("1-1 ", -EINVAL, 0, 0);
	check_stream_id("", -EINVAL, 0, 0);
	check_stream_id(NULL, -EINVAL, 0, 0);
}

int main(void)
{
	static const struct unit_test tests[] = {
		{ "event with id", test_event_with_id },
		{ "event without id", test_event_without_id },
		{ "event uses len", test_event_uses_len },
		{ "event with max id", test_event_max_id },
		{ "large event, hex length", test_event_large },
		{ "events then end", test_events_append },
		{ "notification", test_notification },
		{ "comment", test_comment },
		{ "end chunk", test_end },
		{ "appends after existing bytes", test_appends_after_existing },
		{ "parse Last-Event-ID", test_parse_event_id },
		{ "parse Last-Event-ID, invalid", test_parse_event_id_invalid },
		{ "event with a text id, priming event", test_event_text_id },
		{ "parse a POST stream's event id", test_parse_stream_event_id },
		{ NULL, NULL },
	};
	static const struct unit_suite suites[] = {
		{ "sse", tests, NULL, reset_buf, NULL, NULL },
		{ NULL, NULL, NULL, NULL, NULL, NULL },
	};

	return unit_main(suites);
}
