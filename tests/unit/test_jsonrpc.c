#include <cjson/cJSON.h>
#include <stdio.h>
#include <string.h>

#include "mcp/jsonrpc.h"
#include "unit.h"
#include "util/buf.h"

#define WHY_OBJECT "a JSON-RPC message must be a JSON object"
#define WHY_VERSION "\"jsonrpc\" must be \"2.0\""
#define WHY_ID "\"id\" must be a string or an integer"
#define WHY_METHOD "\"method\" must be a non-empty string"
#define WHY_PARAMS "\"params\" must be an object"
#define WHY_SHAPE "a JSON-RPC message needs \"method\" (a request or notification) or " \
		  "\"result\"/\"error\" with \"id\""

/* Classifies the JSON text; *why is set to "" first, so a valid message leaves it "". */
static enum jsonrpc_kind classify(const char *json, const char **why)
{
	cJSON *msg = cJSON_Parse(json);
	enum jsonrpc_kind kind;

	CU_ASSERT_PTR_NOT_NULL_FATAL(msg);
	*why = "";
	kind = jsonrpc_classify(msg, why);
	cJSON_Delete(msg);
	return kind;
}

static void check_kind(const char *json, enum jsonrpc_kind want)
{
	const char *why;

	CU_ASSERT_EQUAL(classify(json, &why), want);
}

static void check_invalid(const char *json, const char *want_why)
{
	const char *why;

	CU_ASSERT_EQUAL(classify(json, &why), JSONRPC_INVALID);
	CU_ASSERT_PTR_NOT_NULL_FATAL(why);
	CU_ASSERT_STRING_EQUAL(why, want_why);
}

static void test_requests(void)
{
	check_kind("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}", JSONRPC_REQUEST);
	check_kind("{\"jsonrpc\":\"2.0\",\"id\":0,\"method\":\"ping\"}", JSONRPC_REQUEST);
	check_kind("{\"jsonrpc\":\"2.0\",\"id\":-7,\"method\":\"ping\"}", JSONRPC_REQUEST);
	check_kind("{\"jsonrpc\":\"2.0\",\"id\":\"\",\"method\":\"ping\"}", JSONRPC_REQUEST);
	check_kind("{\"jsonrpc\":\"2.0\",\"id\":\"abc\",\"method\":\"tools/call\","
		   "\"params\":{\"name\":\"x\"}}",
		   JSONRPC_REQUEST);
	check_kind("{\"method\":\"m\",\"params\":[1,2],\"id\":2,\"jsonrpc\":\"2.0\"}", JSONRPC_REQUEST);
	check_kind("{\"jsonrpc\":\"2.0\",\"id\":1.0,\"method\":\"ping\"}", JSONRPC_REQUEST);
	check_kind("{\"jsonrpc\":\"2.0\",\"id\":9007199254740991,\"method\":\"ping\"}",
		   JSONRPC_REQUEST);
	check_kind("{\"jsonrpc\":\"2.0\",\"id\":-9007199254740991,\"method\":\"ping\"}",
		   JSONRPC_REQUEST);
	check_kind("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"m\",\"extra\":true}", JSONRPC_REQUEST);
}

static void test_notifications(void)
{
	check_kind("{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}",
		   JSONRPC_NOTIFICATION);
	check_kind("{\"jsonrpc\":\"2.0\",\"method\":\"n\",\"params\":{}}", JSONRPC_NOTIFICATION);
	check_kind("{\"jsonrpc\":\"2.0\",\"method\":\"n\",\"params\":[]}", JSONRPC_NOTIFICATION);
}

static void test_responses(void)
{
	check_kind("{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{}}", JSONRPC_RESPONSE);
	check_kind("{\"jsonrpc\":\"2.0\",\"id\":\"x\",\"result\":null}", JSONRPC_RESPONSE);
	check_kind("{\"jsonrpc\":\"2.0\",\"id\":0,\"result\":0}", JSONRPC_RESPONSE);
	check_kind("{\"jsonrpc\":\"2.0\",\"id\":3,\"error\":{\"code\":-32601,\"message\":\"no\"}}",
		   JSONRPC_RESPONSE);
}

static void test_not_object(void)
{
	check_invalid("[]", WHY_OBJECT);
	check_invalid("[{\"jsonrpc\":\"2.0\",\"method\":\"m\"}]", WHY_OBJECT);
	check_invalid("\"2.0\"", WHY_OBJECT);
	check_invalid("42", WHY_OBJECT);
	check_invalid("null", WHY_OBJECT);
}

static void test_bad_version(void)
{
	check_invalid("{\"id\":1,\"method\":\"m\"}", WHY_VERSION);
	check_invalid("{\"jsonrpc\":\"1.0\",\"id\":1,\"method\":\"m\"}", WHY_VERSION);
	check_invalid("{\"jsonrpc\":2.0,\"id\":1,\"method\":\"m\"}", WHY_VERSION);
	check_invalid("{\"jsonrpc\":\"2.0 \",\"id\":1,\"method\":\"m\"}", WHY_VERSION);
	check_invalid("{\"JSONRPC\":\"2.0\",\"id\":1,\"method\":\"m\"}", WHY_VERSION);
}

static void test_bad_id(void)
{
	check_invalid("{\"jsonrpc\":\"2.0\",\"id\":1.5,\"method\":\"m\"}", WHY_ID);
	check_invalid("{\"jsonrpc\":\"2.0\",\"id\":null,\"method\":\"m\"}", WHY_ID);
	check_invalid("{\"jsonrpc\":\"2.0\",\"id\":true,\"method\":\"m\"}", WHY_ID);
	check_invalid("{\"jsonrpc\":\"2.0\",\"id\":{},\"method\":\"m\"}", WHY_ID);
	check_invalid("{\"jsonrpc\":\"2.0\",\"id\":[1],\"method\":\"m\"}", WHY_ID);
	check_invalid("{\"jsonrpc\":\"2.0\",\"id\":9007199254740992,\"method\":\"m\"}", WHY_ID);
	check_invalid("{\"jsonrpc\":\"2.0\",\"id\":1e300,\"method\":\"m\"}", WHY_ID);
	check_invalid("{\"jsonrpc\":\"2.0\",\"id\":0.5,\"result\":{}}", WHY_ID);
}

static void test_bad_method_or_params(void)
{
	check_invalid("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"\"}", WHY_METHOD);
	check_invalid("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":5}", WHY_METHOD);
	check_invalid("{\"jsonrpc\":\"2.0\",\"method\":null}", WHY_METHOD);
	check_invalid("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"m\",\"params\":\"x\"}", WHY_PARAMS);
	check_invalid("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"m\",\"params\":3}", WHY_PARAMS);
	check_invalid("{\"jsonrpc\":\"2.0\",\"method\":\"m\",\"params\":null}", WHY_PARAMS);
}

static void test_bad_shape(void)
{
	check_invalid("{\"jsonrpc\":\"2.0\"}", WHY_SHAPE);
	check_invalid("{\"jsonrpc\":\"2.0\",\"id\":1}", WHY_SHAPE);
	check_invalid("{\"jsonrpc\":\"2.0\",\"result\":{}}", WHY_SHAPE);
	check_invalid("{\"jsonrpc\":\"2.0\",\"error\":{\"code\":1,\"message\":\"x\"}}", WHY_SHAPE);
	check_invalid("{\"jsonrpc\":\"2.0\",\"id\":1,\"error\":\"boom\"}", WHY_SHAPE);
	check_invalid("{\"jsonrpc\":\"2.0\",\"id\":1,\"Method\":\"m\"}", WHY_SHAPE);
}

/* ---- serialisation ---- */

static struct buf reply;

static const char *text(void)
{
	return reply.len ? reply.p : "";
}

/* Writes a result for the id given as JSON text ("" means no id at all) into reply. */
static void result_for_id(const char *id_json, const char *result)
{
	cJSON *id = *id_json ? cJSON_Parse(id_json) : NULL;

	CU_ASSERT_FATAL(!*id_json || id != NULL);
	buf_free(&reply);
	jsonrpc_append_result(&reply, id, result, strlen(result));
	cJSON_Delete(id);
}

static void check_result(const char *id_json, const char *want_id)
{
	char want[256];

	result_for_id(id_json, "{\"ok\":true}");
	snprintf(want, sizeof(want), "{\"jsonrpc\":\"2.0\",\"id\":%s,\"result\":{\"ok\":true}}",
		 want_id);
	CU_ASSERT_STRING_EQUAL(text(), want);
	if (strcmp(text(), want) != 0)
		fprintf(stderr, "\n      id %s echoed as: %s\n", id_json, text());
	buf_free(&reply);
}

static void test_result_ids(void)
{
	check_result("", "null");
	check_result("\"abc\"", "\"abc\"");
	check_result("\"\"", "\"\"");
	check_result("0", "0");
	check_result("1", "1");
	check_result("-5", "-5");
	check_result("2147483648", "2147483648");
	check_result("123456789012", "123456789012");
}

static void test_result_string_id_escaped(void)
{
	cJSON *id = cJSON_CreateString("a\"b\\c\n\x01");
	cJSON *back, *echoed;

	CU_ASSERT_PTR_NOT_NULL_FATAL(id);
	buf_free(&reply);
	jsonrpc_append_result(&reply, id, "1", 1);
	back = cJSON_Parse(text());
	CU_ASSERT_PTR_NOT_NULL_FATAL(back);
	echoed = cJSON_GetObjectItemCaseSensitive(back, "id");
	CU_ASSERT_TRUE(cJSON_IsString(echoed));
	if (cJSON_IsString(echoed))
		CU_ASSERT_STRING_EQUAL(echoed->valuestring, id->valuestring);
	cJSON_Delete(back);
	cJSON_Delete(id);
	buf_free(&reply);
}

/* Large integer ids must come back as the same integer, written as an integer. */
static void test_result_id_2pow53_minus_1(void)
{
	check_result("9007199254740991", "9007199254740991");
	check_result("-9007199254740991", "-9007199254740991");
}

static void test_result_id_no_exponent(void)
{
	check_result("1000000000000000", "1000000000000000");
	check_result("2000000000000000", "2000000000000000");
}

/* The result text is copied as given, len bytes of it. */
static void test_result_text_verbatim(void)
{
	cJSON *id = cJSON_CreateNumber(7);

	buf_free(&reply);
	jsonrpc_append_result(&reply, id, "[1, 2 ,3]garbage", 9);
	CU_ASSERT_STRING_EQUAL(text(), "{\"jsonrpc\":\"2.0\",\"id\":7,\"result\":[1, 2 ,3]}");
	buf_free(&reply);
	buf_puts(&reply, "prefix|");
	jsonrpc_append_result(&reply, id, "null", 4);
	CU_ASSERT_STRING_EQUAL(text(), "prefix|{\"jsonrpc\":\"2.0\",\"id\":7,\"result\":null}");
	buf_free(&reply);
	cJSON_Delete(id);
}

static void check_error(const cJSON *id, int code, const char *message, const char *want)
{
	buf_free(&reply);
	jsonrpc_append_error(&reply, id, code, message);
	CU_ASSERT_STRING_EQUAL(text(), want);
	buf_free(&reply);
}

static void test_error(void)
{
	cJSON *zero = cJSON_CreateNumber(0), *sid = cJSON_CreateString("req-1");

	check_error(NULL, JSONRPC_PARSE_ERROR, "Parse error",
		    "{\"jsonrpc\":\"2.0\",\"id\":null,\"error\":{\"code\":-32700,\"message\":\"Parse error\"}}");
	check_error(zero, JSONRPC_METHOD_NOT_FOUND, "Method not found",
		    "{\"jsonrpc\":\"2.0\",\"id\":0,\"error\":{\"code\":-32601,"
		    "\"message\":\"Method not found\"}}");
	check_error(sid, JSONRPC_INVALID_PARAMS, "bad \"name\"\n",
		    "{\"jsonrpc\":\"2.0\",\"id\":\"req-1\",\"error\":{\"code\":-32602,"
		    "\"message\":\"bad \\\"name\\\"\\n\"}}");
	check_error(sid, 42, "",
		    "{\"jsonrpc\":\"2.0\",\"id\":\"req-1\",\"error\":{\"code\":42,\"message\":\"\"}}");
	cJSON_Delete(zero);
	cJSON_Delete(sid);
}

static void check_error_data(const cJSON *id, int code, const char *message, const char *data,
			     const char *want)
{
	buf_free(&reply);
	jsonrpc_append_error_data(&reply, id, code, message, data);
	CU_ASSERT_STRING_EQUAL(text(), want);
	buf_free(&reply);
}

static void test_error_data(void)
{
	cJSON *seven = cJSON_CreateNumber(7), *sid = cJSON_CreateString("a\"b"), *msg;
	const char *why = "";

	/* No data: exactly jsonrpc_append_error. */
	check_error_data(seven, -32601, "Method not found", NULL,
			 "{\"jsonrpc\":\"2.0\",\"id\":7,\"error\":{\"code\":-32601,"
			 "\"message\":\"Method not found\"}}");
	/* data is JSON text, written as it is after the message. */
	check_error_data(NULL, -32022, "Unsupported", "{\"supported\":[\"2026-07-28\"],\"requested\":\"x\"}",
			 "{\"jsonrpc\":\"2.0\",\"id\":null,\"error\":{\"code\":-32022,"
			 "\"message\":\"Unsupported\",\"data\":{\"supported\":[\"2026-07-28\"],"
			 "\"requested\":\"x\"}}}");
	check_error_data(sid, -32602, "bad\n", "{\"uri\":\"mcp-chat://nope\"}",
			 "{\"jsonrpc\":\"2.0\",\"id\":\"a\\\"b\",\"error\":{\"code\":-32602,"
			 "\"message\":\"bad\\n\",\"data\":{\"uri\":\"mcp-chat://nope\"}}}");
	check_error_data(seven, 1, "", "[1,2]",
			 "{\"jsonrpc\":\"2.0\",\"id\":7,\"error\":{\"code\":1,\"message\":\"\","
			 "\"data\":[1,2]}}");
	check_error_data(seven, 1, "m", "null",
			 "{\"jsonrpc\":\"2.0\",\"id\":7,\"error\":{\"code\":1,\"message\":\"m\","
			 "\"data\":null}}");
	/* Appended after what the buffer holds; the whole is a response with data. */
	buf_puts(&reply, "x|");
	jsonrpc_append_error_data(&reply, seven, -32020, "Header mismatch", "{\"k\":1}");
	CU_ASSERT_EQUAL(strncmp(text(), "x|{", 3), 0);
	msg = cJSON_Parse(text() + 2);
	CU_ASSERT_PTR_NOT_NULL_FATAL(msg);
	CU_ASSERT_EQUAL(jsonrpc_classify(msg, &why), JSONRPC_RESPONSE);
	CU_ASSERT_EQUAL(cJSON_GetObjectItemCaseSensitive(
				cJSON_GetObjectItemCaseSensitive(
					cJSON_GetObjectItemCaseSensitive(msg, "error"), "data"),
				"k")->valuedouble, 1);
	cJSON_Delete(msg);
	buf_free(&reply);
	cJSON_Delete(seven);
	cJSON_Delete(sid);
}

/* What we write is itself a valid response, and the id survives the round trip. */
static void test_replies_classify_as_responses(void)
{
	cJSON *id = cJSON_CreateNumber(12), *msg;
	const char *why = "";

	buf_free(&reply);
	jsonrpc_append_error(&reply, id, JSONRPC_INTERNAL_ERROR, "x");
	msg = cJSON_Parse(text());
	CU_ASSERT_PTR_NOT_NULL_FATAL(msg);
	CU_ASSERT_EQUAL(jsonrpc_classify(msg, &why), JSONRPC_RESPONSE);
	CU_ASSERT_EQUAL(cJSON_GetObjectItemCaseSensitive(msg, "id")->valuedouble, 12);
	cJSON_Delete(msg);
	buf_free(&reply);
	jsonrpc_append_result(&reply, id, "{}", 2);
	msg = cJSON_Parse(text());
	CU_ASSERT_PTR_NOT_NULL_FATAL(msg);
	CU_ASSERT_EQUAL(jsonrpc_classify(msg, &why), JSONRPC_RESPONSE);
	cJSON_Delete(msg);
	buf_free(&reply);
	cJSON_Delete(id);
}

static int cleanup(void)
{
	buf_free(&reply);
	return 0;
}

static const struct unit_test classify_tests[] = {
	{ "requests", test_requests },
	{ "notifications", test_notifications },
	{ "responses", test_responses },
	{ "not an object", test_not_object },
	{ "bad jsonrpc version", test_bad_version },
	{ "bad id", test_bad_id },
	{ "bad method or params", test_bad_method_or_params },
	{ "neither request nor response", test_bad_shape },
	{ NULL, NULL },
};

/* What jsonrpc_fix_escapes makes goes back out as the escapes it came from; other bytes
 * that are not UTF-8 become U+FFFD; so every string we write is valid UTF-8. */
static void test_strings_out_are_utf8(void)
{
	char body[] = "{\"id\":\"a\\u0000b\\udc00c\",\"s\":\"\\ud83d\\ude00\"}";
	size_t n = jsonrpc_fix_escapes(body, strlen(body));
	cJSON *j = cJSON_ParseWithLength(body, n);
	struct buf out = BUF_INIT;
	const char *id;

	CU_ASSERT_PTR_NOT_NULL_FATAL(j);
	id = cJSON_GetObjectItem(j, "id")->valuestring;
	CU_ASSERT_EQUAL(strlen(id), 8); /* a C0 80 b ED B0 80 c */
	buf_json_string(&out, id, strlen(id));
	CU_ASSERT_STRING_EQUAL(out.p, "\"a\\u0000b\\udc00c\"");
	out.len = 0;
	/* A valid pair stays the character it names. */
	buf_json_string(&out, cJSON_GetObjectItem(j, "s")->valuestring, 4);
	CU_ASSERT_STRING_EQUAL(out.p, "\"\xf0\x9f\x98\x80\"");
	out.len = 0;
	buf_json_string(&out, "x\xff\xc3", 3);
	CU_ASSERT_STRING_EQUAL(out.p, "\"x\\ufffd\\ufffd\"");
	/* Cut at 3 bytes, a two-byte character is not split. */
	CU_ASSERT_EQUAL(buf_utf8_prefix("ab\xc3\xa9", 3), 2);
	CU_ASSERT_EQUAL(buf_utf8_prefix("ab\xc3\xa9", 4), 4);
	buf_free(&out);
	cJSON_Delete(j);
}

/* A byte-at-a-time escaper for ASCII, to check the 8-bytes-at-a-time path against. */
static void escape_ascii(struct buf *out, const char *s, size_t len)
{
	buf_puts(out, "\"");
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		char u[8];

		if (c == '"' || c == '\\') {
			buf_append(out, "\\", 1);
			buf_append(out, s + i, 1);
		} else if (c == '\n') {
			buf_puts(out, "\\n");
		} else if (c == '\r') {
			buf_puts(out, "\\r");
		} else if (c == '\t') {
			buf_puts(out, "\\t");
		} else if (c < 0x20) {
			snprintf(u, sizeof(u), "\\u%04x", c);
			buf_puts(out, u);
		} else {
			buf_append(out, s + i, 1);
		}
	}
	buf_puts(out, "\"");
}

static void test_string_escapes_everywhere(void)
{
	static const char pool[] = "ab \"\\\n\t\x01\x1f\x7f~ ";
	struct buf got = BUF_INIT, want = BUF_INIT;
	unsigned seed = 12345;
	char s[40];

	for (int round = 0; round < 20000; round++) {
		size_t len = (seed = seed * 1103515245 + 12345) % sizeof(s);

		for (size_t i = 0; i < len; i++)
			s[i] = pool[((seed = seed * 1103515245 + 12345) >> 16) % (sizeof(pool) - 1)];
		got.len = want.len = 0;
		buf_json_string(&got, s, len);
		escape_ascii(&want, s, len);
		CU_ASSERT_EQUAL_FATAL(got.len, want.len);
		CU_ASSERT_FATAL(memcmp(got.p, want.p, got.len) == 0);
	}
	/* A character of two bytes, or a stray byte, at each place of an 8-byte run. */
	for (size_t at = 0; at < 16; at++) {
		memset(s, 'x', 18);
		memcpy(s + at, "\xc3\xa9", 2);
		got.len = 0;
		buf_json_string(&got, s, 18);
		CU_ASSERT_EQUAL(got.len, 20);
		CU_ASSERT(memcmp(got.p + 1 + at, "\xc3\xa9", 2) == 0);
		s[at] = (char)0xff;
		s[at + 1] = 'x';
		got.len = 0;
		buf_json_string(&got, s, 18);
		CU_ASSERT_EQUAL(got.len, 25);
		CU_ASSERT(memcmp(got.p + 1 + at, "\\ufffd", 6) == 0);
	}
	buf_free(&got);
	buf_free(&want);
}

/* Request trees come from a reused block; one held while another is parsed, or one larger
 * than the block, still parses whole. */
static void test_parse_block(void)
{
	const char *a_text = "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}";
	cJSON *a = jsonrpc_parse(a_text, strlen(a_text));
	cJSON *b = jsonrpc_parse("{\"x\":[1,2,3]}", 13);
	struct buf big = BUF_INIT;
	cJSON *c;
	int n = 0;

	CU_ASSERT_PTR_NOT_NULL_FATAL(a);
	CU_ASSERT_PTR_NOT_NULL_FATAL(b);
	CU_ASSERT_STRING_EQUAL(cJSON_GetObjectItem(a, "method")->valuestring, "ping");
	CU_ASSERT_EQUAL(cJSON_GetArraySize(cJSON_GetObjectItem(b, "x")), 3);
	jsonrpc_release(b);
	CU_ASSERT_STRING_EQUAL(cJSON_GetObjectItem(a, "jsonrpc")->valuestring, "2.0");
	jsonrpc_release(a);
	buf_puts(&big, "[");
	for (int i = 0; i < 3000; i++)
		buf_printf(&big, "%s\"item number %d\"", i ? "," : "", i);
	buf_puts(&big, "]");
	c = jsonrpc_parse(big.p, big.len);
	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	for (const cJSON *it = c->child; it; it = it->next, n++) {
		char want[32];

		snprintf(want, sizeof(want), "item number %d", n);
		CU_ASSERT_STRING_EQUAL_FATAL(it->valuestring, want);
	}
	CU_ASSERT_EQUAL(n, 3000);
	jsonrpc_release(c);
	CU_ASSERT_PTR_NULL(jsonrpc_parse("{\"unterminated\":", 16));
	buf_free(&big);
}

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>

/* Under ASan a tree's nodes are poisoned once released, and again after a failed parse: a
 * use after jsonrpc_release() is reported, as it would be for malloc'd nodes. */
static void test_parse_block_poisoned(void)
{
	const char *text = "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}";
	cJSON *a = jsonrpc_parse(text, strlen(text));
	const char *method;

	CU_ASSERT_PTR_NOT_NULL_FATAL(a);
	method = cJSON_GetObjectItem(a, "method")->valuestring;
	CU_ASSERT_FALSE(__asan_address_is_poisoned(a));
	CU_ASSERT_FALSE(__asan_address_is_poisoned(method));
	jsonrpc_release(a);
	CU_ASSERT_TRUE(__asan_address_is_poisoned(a));
	CU_ASSERT_TRUE(__asan_address_is_poisoned(method));
	a = jsonrpc_parse("{\"unterminated\":[1,2", 20);
	CU_ASSERT_PTR_NULL(a);
	a = jsonrpc_parse(text, strlen(text));
	CU_ASSERT_PTR_NOT_NULL_FATAL(a);
	CU_ASSERT_FALSE(__asan_address_is_poisoned(a));
	jsonrpc_release(a);
	CU_ASSERT_TRUE(__asan_address_is_poisoned(a));
}
#endif

static const struct unit_test reply_tests[] = {
	{ "result id echo", test_result_ids },
	{ "result string id escaped", test_result_string_id_escaped },
	{ "result id 2^53-1 exact", test_result_id_2pow53_minus_1 },
	{ "result id without exponent", test_result_id_no_exponent },
	{ "result text verbatim", test_result_text_verbatim },
	{ "error", test_error },
	{ "error with data", test_error_data },
	{ "replies are responses", test_replies_classify_as_responses },
	{ "strings out are UTF-8", test_strings_out_are_utf8 },
	{ "string escapes at every offset", test_string_escapes_everywhere },
	{ "request trees from a reused block", test_parse_block },
#if defined(__SANITIZE_ADDRESS__)
	{ "released trees are poisoned (ASan)", test_parse_block_poisoned },
#endif
	{ NULL, NULL },
};

int main(void)
{
	static const struct unit_suite suites[] = {
		{ "jsonrpc classify", classify_tests, NULL, cleanup, NULL, NULL },
		{ "jsonrpc replies", reply_tests, NULL, cleanup, NULL, NULL },
		{ NULL, NULL, NULL, NULL, NULL, NULL },
	};

	jsonrpc_init(); /* the daemon's cJSON hooks, as main() installs them */
	return unit_main(suites);
}
