#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include <mcpchat/version.h>

#include "mcp_harness.h"
#include "util/log.h"

/* MCP 2026-07-28 on /mcp without sockets: which requests take the stateless path, the checks
 * of its envelope in order (design-14, "Modern path"), its methods and their results. The chat
 * over this path is in test_modern_chat.c. */

/* Tests: routing */

/* UnsupportedProtocolVersionError: 400 -32022, id echoed, every version spoken, the one asked. */
static void expect_version_error(const struct reply *rp, double id, const char *requested)
{
	const cJSON *sup = jget(rp->json, "error.data.supported");

	expect_merror(rp, 400, -32022, id);
	CU_ASSERT_EQUAL_FATAL(cJSON_GetArraySize(sup), 4);
	CU_ASSERT_STRING_EQUAL(jstr(sup, "0"), "2026-07-28");
	CU_ASSERT_STRING_EQUAL(jstr(sup, "1"), "2025-11-25");
	CU_ASSERT_STRING_EQUAL(jstr(sup, "2"), "2025-06-18");
	CU_ASSERT_STRING_EQUAL(jstr(sup, "3"), "2025-03-26");
	CU_ASSERT_STRING_EQUAL(jstr(rp->json, "error.data.requested"), requested);
}

static void test_route_header_beats_session(void)
{
	char sid[MCP_SESSION_ID_LEN + 1];
	struct mreq m;
	struct reply rp;

	init_session(sid);
	/* The header says 2026-07-28: the modern path, though the request names a session. */
	mreq_init(&m, "3", "tools/list", NULL, NULL, NULL);
	m.req.session_id = sid;
	do_req(&m.req, &rp);
	CU_ASSERT_EQUAL(rp.r.status, 200);
	CU_ASSERT_EQUAL(jnum(rp.json, "id"), 3);
	expect_modern_result(rp.json);
	reply_free(&rp);
	/* There ping is gone, though the session has it. */
	mreq_init(&m, "4", "ping", NULL, NULL, NULL);
	m.req.session_id = sid;
	do_req(&m.req, &rp);
	expect_merror(&rp, 404, -32601, 4);
	reply_free(&rp);
	/* And a body without _meta is refused as the revision refuses it. */
	mreq_raw(&m, "{\"jsonrpc\":\"2.0\",\"id\":5,\"method\":\"tools/list\"}", "tools/list", NULL);
	m.req.session_id = sid;
	do_req(&m.req, &rp);
	expect_merror(&rp, 400, -32602, 5);
	reply_free(&rp);
	/* Without the header the session's requests are 2025 ones, _meta or not. */
	mreq_init(&m, "6", "tools/list", NULL, NULL, NULL);
	m.req.session_id = sid;
	m.req.protocol_version = NULL;
	do_req(&m.req, &rp);
	CU_ASSERT_EQUAL(rp.r.status, 200);
	CU_ASSERT_EQUAL(jnum(rp.json, "id"), 6);
	CU_ASSERT_TRUE(cJSON_IsArray(jget(rp.json, "result.tools")));
	CU_ASSERT_PTR_NULL(jget(rp.json, "result.resultType"));
	reply_free(&rp);
	CU_ASSERT_EQUAL(stats().sessions, 1);
}

static void test_route_meta_without_header(void)
{
	struct mreq m;
	struct reply rp;

	/* _meta, no header, no session: the modern path, which then wants the header (-32020;
	 * the 2025 path would have said 400 -32000 "no session" with a null id). */
	mreq_init(&m, "8", "tools/list", NULL, NULL, NULL);
	m.req.protocol_version = NULL;
	do_req(&m.req, &rp);
	expect_merror(&rp, 400, -32020, 8);
	reply_free(&rp);
	/* Without _meta and without a session: the 2025 path. */
	rpc(NULL, "tools/list", NULL, 9, &rp);
	expect_refusal(&rp, 400, -32000);
	reply_free(&rp);
	/* A _meta without the version is no claim either. */
	post(NULL, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/list\",\"params\":{\"_meta\":{}}}", &rp);
	expect_refusal(&rp, 400, -32000);
	reply_free(&rp);
	CU_ASSERT_EQUAL(stats().sessions, 0);
}

static void test_route_initialize_legacy(void)
{
	char sid[MCP_SESSION_ID_LEN + 1];
	struct mreq m;
	struct reply rp;

	/* initialize carrying _meta and no header: a 2025 session. */
	mreq_init(&m, "1", "initialize", NULL,
		  "\"protocolVersion\":\"2025-06-18\",\"capabilities\":{},"
		  "\"clientInfo\":{\"name\":\"unit\",\"version\":\"1\"}", NULL);
	m.req.protocol_version = NULL;
	m.req.mcp_method = NULL;
	do_req(&m.req, &rp);
	CU_ASSERT_EQUAL(rp.r.status, 200);
	CU_ASSERT_TRUE(header_get(&rp.r, "Mcp-Session-Id", sid, sizeof(sid)));
	CU_ASSERT_STRING_EQUAL(jstr(rp.json, "result.protocolVersion"), "2025-06-18");
	CU_ASSERT_PTR_NULL(jget(rp.json, "result.resultType"));
	reply_free(&rp);
	CU_ASSERT_EQUAL(stats().sessions, 1);
	/* initialize asking for 2026-07-28 gets the newest version that has initialize. */
	post(NULL, "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"initialize\",\"params\":{"
		   "\"protocolVersion\":\"2026-07-28\",\"capabilities\":{},"
		   "\"clientInfo\":{\"name\":\"unit\",\"version\":\"1\"}}}", &rp);
	CU_ASSERT_EQUAL(rp.r.status, 200);
	CU_ASSERT_STRING_EQUAL(jstr(rp.json, "result.protocolVersion"), "2025-11-25");
	reply_free(&rp);
	CU_ASSERT_EQUAL(stats().sessions, 2);
	/* With the 2026-07-28 header initialize is a method the revision does not have. */
	mreq_init(&m, "3", "initialize", NULL, "\"protocolVersion\":\"2026-07-28\"", NULL);
	do_req(&m.req, &rp);
	expect_merror(&rp, 404, -32601, 3);
	CU_ASSERT_FALSE(header_get(&rp.r, "Mcp-Session-Id", sid, sizeof(sid)));
	reply_free(&rp);
	CU_ASSERT_EQUAL(stats().sessions, 2);
}

static void test_unknown_version_both_paths(void)
{
	char sid[MCP_SESSION_ID_LEN + 1];
	struct http_request req;
	struct mreq m;
	struct reply rp;

	/* 2025 path: a session's request with an unknown header. */
	init_session(sid);
	req = req_new(HTTP_M_POST, sid);
	req_body(&req, "{\"jsonrpc\":\"2.0\",\"id\":11,\"method\":\"ping\"}");
	req.protocol_version = "2099-01-01";
	do_req(&req, &rp);
	expect_version_error(&rp, 11, "2099-01-01");
	reply_free(&rp);
	/* 2025 path: initialize with an unknown header. */
	req = req_new(HTTP_M_POST, NULL);
	req_body(&req, "{\"jsonrpc\":\"2.0\",\"id\":12,\"method\":\"initialize\",\"params\":"
		       "{\"protocolVersion\":\"2025-11-25\"}}");
	req.protocol_version = "1.0";
	do_req(&req, &rp);
	expect_version_error(&rp, 12, "1.0");
	reply_free(&rp);
	CU_ASSERT_EQUAL(stats().sessions, 1);
	/* Modern path: header and _meta agree on a version nobody speaks. */
	mreq_raw(&m, "{\"jsonrpc\":\"2.0\",\"id\":13,\"method\":\"tools/list\",\"params\":{"
		     MODERN_META_OF("2099-01-01") "}}", "tools/list", NULL);
	m.req.protocol_version = "2099-01-01";
	do_req(&m.req, &rp);
	expect_version_error(&rp, 13, "2099-01-01");
	reply_free(&rp);
	/* Modern path: a 2025 version without a session (string id echoed). */
	mreq_raw(&m, "{\"jsonrpc\":\"2.0\",\"id\":\"v\",\"method\":\"tools/list\",\"params\":{"
		     MODERN_META_OF("2025-06-18") "}}", "tools/list", NULL);
	m.req.protocol_version = "2025-06-18";
	do_req(&m.req, &rp);
	CU_ASSERT_STRING_EQUAL(jstr(rp.json, "id"), "v");
	CU_ASSERT_EQUAL(rp.r.status, 400);
	CU_ASSERT_EQUAL(jnum(rp.json, "error.code"), -32022);
	CU_ASSERT_EQUAL(cJSON_GetArraySize(jget(rp.json, "error.data.supported")), 4);
	CU_ASSERT_STRING_EQUAL(jstr(rp.json, "error.data.requested"), "2025-06-18");
	reply_free(&rp);
	/* GET without a session: the version first (no body, no id), then 405 Allow: POST. */
	req = req_new(HTTP_M_GET, NULL);
	req.protocol_version = "2099-01-01";
	do_req(&req, &rp);
	expect_version_error(&rp, NAN, "2099-01-01");
	reply_free(&rp);
	req.protocol_version = MODERN;
	do_req(&req, &rp);
	expect_refusal(&rp, 405, -32000);
	CU_ASSERT_TRUE(header_is(&rp.r, "Allow", "POST"));
	reply_free(&rp);
}

/* Tests: the envelope, row by row */

/* A body with the modern headers (Mcp-Method method), answered at once. */
static void mraw(const char *body, const char *method, struct reply *rp)
{
	struct mreq m;

	mreq_raw(&m, body, method, NULL);
	do_req(&m.req, rp);
}

static void test_batch_400(void)
{
	struct reply rp;

	mraw("[{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/list\",\"params\":{" MODERN_META "}}]",
	     "tools/list", &rp);
	expect_merror(&rp, 400, -32600, NAN);
	reply_free(&rp);
	mraw("[]", "tools/list", &rp);
	expect_merror(&rp, 400, -32600, NAN);
	reply_free(&rp);
}

static void test_response_or_invalid_400(void)
{
	struct reply rp;

	mraw("{\"jsonrpc\":\"2.0\",\"id\":5,\"result\":{}}", NULL, &rp);
	expect_merror(&rp, 400, -32600, 5);
	reply_free(&rp);
	mraw("{\"jsonrpc\":\"2.0\",\"id\":\"e\",\"error\":{\"code\":1,\"message\":\"x\"}}", NULL, &rp);
	CU_ASSERT_EQUAL(rp.r.status, 400);
	CU_ASSERT_STRING_EQUAL(jstr(rp.json, "id"), "e");
	CU_ASSERT_EQUAL(jnum(rp.json, "error.code"), -32600);
	reply_free(&rp);
	mraw("{\"jsonrpc\":\"1.0\",\"id\":6,\"method\":\"tools/list\",\"params\":{" MODERN_META "}}",
	     "tools/list", &rp);
	expect_merror(&rp, 400, -32600, 6);
	reply_free(&rp);
	mraw("{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"\"}", "", &rp);
	expect_merror(&rp, 400, -32600, 7);
	reply_free(&rp);
	mraw("42", "tools/list", &rp);
	expect_merror(&rp, 400, -32600, NAN);
	reply_free(&rp);
	/* Scalar params make the message invalid JSON-RPC (params is structured): -32600. */
	mraw("{\"jsonrpc\":\"2.0\",\"id\":8,\"method\":\"tools/list\",\"params\":5}", "tools/list", &rp);
	expect_merror(&rp, 400, -32600, 8);
	reply_free(&rp);
}

static void test_notification_202(void)
{
	struct mreq m;
	struct reply rp;

	mreq_init(&m, NULL, "notifications/cancelled", NULL, "\"requestId\":1", NULL);
	do_req(&m.req, &rp);
	CU_ASSERT_EQUAL(rp.r.status, 202);
	CU_ASSERT_EQUAL(rp.d, MCP_DONE);
	CU_ASSERT_EQUAL(rp.r.body.len, 0);
	reply_free(&rp);
	/* Accepted before any check of _meta or headers (none is defined for them). */
	mraw("{\"jsonrpc\":\"2.0\",\"method\":\"notifications/whatever\"}", NULL, &rp);
	CU_ASSERT_EQUAL(rp.r.status, 202);
	CU_ASSERT_EQUAL(rp.r.body.len, 0);
	reply_free(&rp);
}

static void test_params_not_object(void)
{
	struct reply rp;

	mraw("{\"jsonrpc\":\"2.0\",\"id\":9,\"method\":\"tools/list\",\"params\":[1]}", "tools/list", &rp);
	expect_merror(&rp, 400, -32602, 9);
	reply_free(&rp);
}

static void test_meta_required(void)
{
	static const char *const params[] = {
		"",                                       /* no params at all */
		",\"params\":{}",                         /* no _meta */
		",\"params\":{\"_meta\":\"x\"}",          /* _meta not an object */
		",\"params\":{\"_meta\":{}}",             /* neither field */
		",\"params\":{\"_meta\":{\"" META_CAPS "\":{}}}",
		",\"params\":{\"_meta\":{\"" META_VERSION "\":20260728,\"" META_CAPS "\":{}}}",
		",\"params\":{\"_meta\":{\"" META_VERSION "\":\"" MODERN "\"}}",
		",\"params\":{\"_meta\":{\"" META_VERSION "\":\"" MODERN "\",\"" META_CAPS "\":\"x\"}}",
		",\"params\":{\"_meta\":{\"" META_VERSION "\":\"" MODERN "\",\"" META_CAPS "\":[]}}",
		",\"params\":{\"_meta\":{\"" META_VERSION "\":\"" MODERN "\",\"" META_CAPS "\":null}}",
	};
	char body[512];
	struct reply rp;

	for (size_t i = 0; i < sizeof(params) / sizeof(params[0]); i++) {
		snprintf(body, sizeof(body), "{\"jsonrpc\":\"2.0\",\"id\":%zu,\"method\":\"tools/list\"%s}",
			 i + 20, params[i]);
		mraw(body, "tools/list", &rp);
		CHECKF(rp.r.status == 400 && jnum(rp.json, "error.code") == -32602 &&
			       jnum(rp.json, "id") == (double)(i + 20),
		       "params %s: status %d code %g", params[i], rp.r.status,
		       jnum(rp.json, "error.code"));
		reply_free(&rp);
	}
	/* _meta comes before the headers: both wrong is -32602. */
	{
		struct mreq m;

		mreq_raw(&m, "{\"jsonrpc\":\"2.0\",\"id\":30,\"method\":\"tools/list\"}", NULL, NULL);
		do_req(&m.req, &rp);
		expect_merror(&rp, 400, -32602, 30);
		reply_free(&rp);
	}
}

static void test_version_header_mismatch(void)
{
	struct mreq m;
	struct reply rp;

	/* Header says a known 2025 version, _meta 2026-07-28 (no session): modern, mismatch. */
	mreq_init(&m, "31", "tools/list", NULL, NULL, NULL);
	m.req.protocol_version = "2025-11-25";
	do_req(&m.req, &rp);
	expect_merror(&rp, 400, -32020, 31);
	reply_free(&rp);
	/* Header 2026-07-28, _meta another version: a mismatch before "unsupported". */
	mraw("{\"jsonrpc\":\"2.0\",\"id\":32,\"method\":\"tools/list\",\"params\":{"
	     MODERN_META_OF("2025-11-25") "}}", "tools/list", &rp);
	expect_merror(&rp, 400, -32020, 32);
	reply_free(&rp);
	/* Exactly equal, not a prefix. */
	mreq_init(&m, "33", "tools/list", NULL, NULL, NULL);
	m.req.protocol_version = "2026-07-28 ";
	do_req(&m.req, &rp);
	expect_merror(&rp, 400, -32020, 33);
	reply_free(&rp);
}

/* Mcp-Method: missing, different, or with bytes outside 0x20-0x7E. */
static void test_mcp_method_header(void)
{
	struct mreq m;
	struct reply rp;

	mreq_init(&m, "40", "tools/list", NULL, NULL, NULL);
	m.req.mcp_method = NULL;
	do_req(&m.req, &rp);
	expect_merror(&rp, 400, -32020, 40);
	reply_free(&rp);
	mreq_init(&m, "41", "tools/list", NULL, NULL, NULL);
	m.req.mcp_method = "prompts/list";
	do_req(&m.req, &rp);
	expect_merror(&rp, 400, -32020, 41);
	reply_free(&rp);
	mreq_init(&m, "42", "tools/list", NULL, NULL, NULL);
	m.req.mcp_method = "Tools/List";
	do_req(&m.req, &rp);
	expect_merror(&rp, 400, -32020, 42);
	reply_free(&rp);
	/* Equal to the body's method, but not visible ASCII: refused (else it would be 404). */
	mreq_init(&m, "43", "x\\u0001y", NULL, NULL, NULL);
	m.req.mcp_method = "x\001y";
	do_req(&m.req, &rp);
	expect_merror(&rp, 400, -32020, 43);
	reply_free(&rp);
	mreq_init(&m, "44", "x\\u007fy", NULL, NULL, NULL);
	m.req.mcp_method = "x\177y";
	do_req(&m.req, &rp);
	expect_merror(&rp, 400, -32020, 44);
	reply_free(&rp);
	mreq_init(&m, "45", "caf\\u00e9", NULL, NULL, NULL);
	m.req.mcp_method = "caf\xc3\xa9";
	do_req(&m.req, &rp);
	expect_merror(&rp, 400, -32020, 45);
	reply_free(&rp);
	/* The control check is no blanket refusal: the same method in plain ASCII is a 404. */
	mreq_init(&m, "46", "x y", NULL, NULL, NULL);
	do_req(&m.req, &rp);
	expect_merror(&rp, 404, -32601, 46);
	reply_free(&rp);
}

/* A TAB is a control character: mirrored values carry it only in the base64 form, so a plain
 * header with one is refused (400 -32020) even when it repeats the body. */
static void test_mcp_method_header_tab(void)
{
	struct mreq m;
	struct reply rp;

	mreq_init(&m, "47", "x\\ty", NULL, NULL, NULL);
	m.req.mcp_method = "x\ty";
	do_req(&m.req, &rp);
	CHECKF(rp.r.status == 400 && jnum(rp.json, "error.code") == -32020,
	       "Mcp-Method \"x<TAB>y\" = body method: want 400 -32020, got %d %g", rp.r.status,
	       jnum(rp.json, "error.code"));
	reply_free(&rp);
}

/* tools/call of name with Mcp-Name header (NULL: none): status and error code (0: a result). */
static void call_named(const char *name_json, const char *header, int *status, int *code)
{
	char params[256];
	struct mreq m;
	struct reply rp;

	snprintf(params, sizeof(params), "\"name\":%s,\"arguments\":{}", name_json);
	mreq_init(&m, "50", "tools/call", NULL, params, header);
	do_req(&m.req, &rp);
	*status = rp.r.status;
	*code = jget(rp.json, "error") ? (int)jnum(rp.json, "error.code") : 0;
	CU_ASSERT_EQUAL(jnum(rp.json, "id"), 50);
	reply_free(&rp);
}

#define NAMED(name_json, header, want_status, want_code)                                        \
	do {                                                                                    \
		int st_, code_;                                                                 \
		call_named(name_json, header, &st_, &code_);                                     \
		CHECKF(st_ == (want_status) && code_ == (want_code),                             \
		       "name %s, Mcp-Name %s: want %d %d, got %d %d", name_json,                  \
		       (header) ? (header) : "(none)", want_status, want_code, st_, code_);       \
	} while (0)

static void test_mcp_name_header(void)
{
	/* get_status answers (a tool error: no chat_id) when the name is right. */
	NAMED("\"get_status\"", "get_status", 200, 0);
	NAMED("\"get_status\"", NULL, 400, -32020);
	NAMED("\"get_status\"", "get_statuS", 400, -32020);
	NAMED("\"get_status\"", "get_status ", 400, -32020);
	NAMED("\"get_status\"", "", 400, -32020);
	/* The base64 form ("=?base64?...?="), padded: one spelling per value, as the
	 * Mcp-Param-* headers (SEP-2243's test cases refuse "SGVsbG8" for "Hello"). */
	NAMED("\"get_status\"", "=?base64?Z2V0X3N0YXR1cw==?=", 200, 0);
	NAMED("\"get_status\"", "=?base64?Z2V0X3N0YXR1cw?=", 400, -32020);
	NAMED("\"get_status\"", "=?base64?Z2V0X3N0YXR1?=", 400, -32020);     /* "get_statu" */
	NAMED("\"get_status\"", "=?base64?Z2V0X3N0YXR1czE=?=", 400, -32020); /* "get_status1" */
	/* Invalid base64 inside the sentinel: refused, never compared as plain text. */
	NAMED("\"get_status\"", "=?base64?Z2V0X3N0YXR1cw=?=", 400, -32020);  /* padding */
	NAMED("\"get_status\"", "=?base64?Z2V0X3N0YXR1cw===?=", 400, -32020);
	NAMED("\"get_status\"", "=?base64?Z2V0X3N0YXR1c?=", 400, -32020);    /* 4k+1 digits */
	NAMED("\"get_status\"", "=?base64?Z2V0X3N0YXR1cx==?=", 400, -32020); /* stray bits */
	NAMED("\"get_status\"", "=?base64?Z2V0X3N0*XR1cw==?=", 400, -32020);
	NAMED("\"=?base64?!!?=\"", "=?base64?!!?=", 400, -32020);
	/* Standard alphabet: '+' and '/' decode, the url-safe '-' and '_' do not. */
	NAMED("\"~~~\"", "=?base64?fn5+?=", 200, -32602); /* unknown tool, but the name matched */
	NAMED("\"???\"", "=?base64?Pz8/?=", 200, -32602);
	NAMED("\"~~~\"", "=?base64?fn5-?=", 400, -32020);
	NAMED("\"???\"", "=?base64?Pz8_?=", 400, -32020);
	/* Not the sentinel (too short, or not closed): compared as it is. */
	NAMED("\"=?base64?\"", "=?base64?", 200, -32602);
	NAMED("\"=?base64?Zg==\"", "=?base64?Zg==", 200, -32602);
	/* Non-ASCII names travel base64-encoded; raw bytes and control bytes are refused. */
	NAMED("\"caf\\u00e9\"", "=?base64?Y2Fmw6k=?=", 200, -32602);
	NAMED("\"caf\\u00e9\"", "=?base64?Y2Fmw6k?=", 400, -32020);
	NAMED("\"caf\\u00e9\"", "caf\xc3\xa9", 400, -32020);
	NAMED("\"a\\u0001b\"", "a\001b", 400, -32020);
	NAMED("\"a\\u0001b\"", "=?base64?YQFi?=", 200, -32602);
	/* A name that is not a string: nothing to mirror, the method refuses it. */
	NAMED("5", NULL, 200, -32602);
}

static void test_mcp_name_prompts_resources(void)
{
	struct mreq m;
	struct reply rp;

	mreq_init(&m, "51", "prompts/get", NULL, "\"name\":\"chat_with_stranger\"", NULL);
	do_req(&m.req, &rp);
	expect_merror(&rp, 400, -32020, 51);
	reply_free(&rp);
	mreq_init(&m, "52", "prompts/get", NULL, "\"name\":\"chat_with_stranger\"", "chat_with_stranger");
	do_req(&m.req, &rp);
	CU_ASSERT_EQUAL(rp.r.status, 200);
	CU_ASSERT_STRING_EQUAL(jstr(rp.json, "result.messages.0.role"), "user");
	expect_modern_result(rp.json);
	CU_ASSERT_PTR_NULL(jget(rp.json, "result.ttlMs")); /* not cacheable */
	CU_ASSERT_PTR_NULL(jget(rp.json, "result.cacheScope"));
	reply_free(&rp);
	mreq_init(&m, "53", "resources/read", NULL, "\"uri\":\"mcp-chat://guide\"", NULL);
	do_req(&m.req, &rp);
	expect_merror(&rp, 400, -32020, 53);
	reply_free(&rp);
	mreq_init(&m, "54", "resources/read", NULL, "\"uri\":\"mcp-chat://guide\"", "mcp-chat://guidE");
	do_req(&m.req, &rp);
	expect_merror(&rp, 400, -32020, 54);
	reply_free(&rp);
	mreq_init(&m, "55", "resources/read", NULL, "\"uri\":\"mcp-chat://guide\"",
		  "=?base64?bWNwLWNoYXQ6Ly9ndWlkZQ==?=");
	do_req(&m.req, &rp);
	CU_ASSERT_EQUAL(rp.r.status, 200);
	CU_ASSERT_STRING_EQUAL(jstr(rp.json, "result.contents.0.uri"), "mcp-chat://guide");
	reply_free(&rp);
}

static void test_methods_not_served_404(void)
{
	static const char *const gone[] = { "initialize", "ping", "logging/setLevel",
					    "resources/subscribe", "resources/unsubscribe",
					    "subscriptions/listen", "completion/complete",
					    "nope/nothing" };
	struct mreq m;
	struct reply rp;

	for (size_t i = 0; i < sizeof(gone) / sizeof(gone[0]); i++) {
		mreq_init(&m, "60", gone[i], NULL, "\"uri\":\"mcp-chat://guide\",\"level\":\"info\"", NULL);
		do_req(&m.req, &rp);
		CHECKF(rp.r.status == 404 && jnum(rp.json, "error.code") == -32601 &&
			       jnum(rp.json, "id") == 60,
		       "%s: got %d %g", gone[i], rp.r.status, jnum(rp.json, "error.code"));
		reply_free(&rp);
	}
	CU_ASSERT_EQUAL(stats().sessions, 0);
}

static void test_unknown_resource_and_tool(void)
{
	char sid[MCP_SESSION_ID_LEN + 1];
	struct reply rp;

	mrpc("resources/read", "\"uri\":\"mcp-chat://nope\"", "mcp-chat://nope", &rp);
	expect_merror(&rp, 200, -32602, 7);
	CU_ASSERT_STRING_EQUAL(jstr(rp.json, "error.data.uri"), "mcp-chat://nope");
	reply_free(&rp);
	/* The same on a 2025 session: -32002, no data. */
	init_session(sid);
	rpc(sid, "resources/read", "{\"uri\":\"mcp-chat://nope\"}", 3, &rp);
	expect_rpc_error(&rp, 3, -32002);
	CU_ASSERT_PTR_NULL(jget(rp.json, "error.data"));
	reply_free(&rp);
	mrpc("tools/call", "\"name\":\"nope\",\"arguments\":{}", "nope", &rp);
	expect_merror(&rp, 200, -32602, 7);
	reply_free(&rp);
	mrpc("prompts/get", "\"name\":\"nope\"", "nope", &rp);
	expect_merror(&rp, 200, -32602, 7);
	reply_free(&rp);
}

/* Tests: methods and results */

static void test_server_discover(void)
{
	const cJSON *v;
	struct reply rp;

	mrpc("server/discover", NULL, NULL, &rp);
	CU_ASSERT_EQUAL(rp.r.status, 200);
	CU_ASSERT_EQUAL(rp.d, MCP_DONE);
	CU_ASSERT_TRUE(header_is(&rp.r, "Content-Type", "application/json"));
	CU_ASSERT_EQUAL(jnum(rp.json, "id"), 7);
	v = jget(rp.json, "result.supportedVersions");
	CU_ASSERT_EQUAL_FATAL(cJSON_GetArraySize(v), 4);
	CU_ASSERT_STRING_EQUAL(jstr(v, "0"), "2026-07-28");
	CU_ASSERT_STRING_EQUAL(jstr(v, "1"), "2025-11-25");
	CU_ASSERT_STRING_EQUAL(jstr(v, "2"), "2025-06-18");
	CU_ASSERT_STRING_EQUAL(jstr(v, "3"), "2025-03-26");
	CU_ASSERT_TRUE(cJSON_IsObject(jget(rp.json, "result.capabilities.tools")));
	CU_ASSERT_TRUE(cJSON_IsObject(jget(rp.json, "result.capabilities.resources")));
	CU_ASSERT_TRUE(cJSON_IsObject(jget(rp.json, "result.capabilities.prompts")));
	/* logging/setLevel is gone in 2026, logging per request (_meta logLevel) is not */
	CU_ASSERT_TRUE(cJSON_IsObject(jget(rp.json, "result.capabilities.logging")));
	CU_ASSERT_PTR_NOT_NULL(strstr(jstr(rp.json, "result.instructions"), "enter_queue"));
	expect_modern_result(rp.json);
	CU_ASSERT_EQUAL(jnum(rp.json, "result.ttlMs"), 60000);
	CU_ASSERT_STRING_EQUAL(jstr(rp.json, "result.cacheScope"), "public");
	reply_free(&rp);
	CU_ASSERT_EQUAL(stats().sessions, 0);
}

/* resultType and serverInfo on every result; ttlMs and cacheScope exactly on the cacheable. */
static void test_result_meta_and_caching(void)
{
	static const struct {
		const char *method, *params, *name;
		bool cacheable;
	} rows[] = {
		{ "server/discover", NULL, NULL, true },
		{ "tools/list", NULL, NULL, true },
		{ "resources/list", NULL, NULL, true },
		{ "resources/read", "\"uri\":\"mcp-chat://guide\"", "mcp-chat://guide", true },
		{ "resources/templates/list", NULL, NULL, true },
		{ "prompts/list", NULL, NULL, true },
		{ "prompts/get", "\"name\":\"chat_with_stranger\"", "chat_with_stranger", false },
		{ "tools/call", "\"name\":\"get_status\",\"arguments\":{}", "get_status", false },
	};
	struct reply rp;

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		const cJSON *ttl, *scope;

		mrpc(rows[i].method, rows[i].params, rows[i].name, &rp);
		CU_ASSERT_EQUAL(rp.r.status, 200);
		expect_modern_result(rp.json);
		ttl = jget(rp.json, "result.ttlMs");
		scope = jget(rp.json, "result.cacheScope");
		if (rows[i].cacheable) {
			CHECKF(jnum(rp.json, "result.ttlMs") == 60000 &&
				       strcmp(jstr(rp.json, "result.cacheScope"), "public") == 0,
			       "%s: no ttlMs 60000 / cacheScope public", rows[i].method);
		} else {
			CHECKF(!ttl && !scope, "%s: cache hints on a result that is not cacheable",
			       rows[i].method);
		}
		/* The hints and the identity are the result's own members, once each. */
		CU_ASSERT_TRUE(cJSON_IsObject(jget(rp.json, "result")));
		reply_free(&rp);
	}
	/* Errors carry none of it. */
	mrpc("resources/read", "\"uri\":\"mcp-chat://nope\"", "mcp-chat://nope", &rp);
	CU_ASSERT_PTR_NULL(jget(rp.json, "result"));
	CU_ASSERT_PTR_NULL(jget(rp.json, "error.ttlMs"));
	reply_free(&rp);
}

static void test_tools_list_stable(void)
{
	char sid[MCP_SESSION_ID_LEN + 1];
	struct reply a, b, legacy;
	char *ta, *tl;

	mrpc("tools/list", NULL, NULL, &a);
	mrpc("tools/list", NULL, NULL, &b);
	CU_ASSERT_EQUAL(a.r.status, 200);
	CU_ASSERT_EQUAL_FATAL(a.r.body.len, b.r.body.len);
	CU_ASSERT_EQUAL(memcmp(a.r.body.p, b.r.body.p, a.r.body.len), 0);
	CU_ASSERT_EQUAL(cJSON_GetArraySize(jget(a.json, "result.tools")), 6);
	/* The same tools as a 2025 session lists. */
	init_session(sid);
	rpc(sid, "tools/list", NULL, 7, &legacy);
	ta = cJSON_PrintUnformatted(jget(a.json, "result.tools"));
	tl = cJSON_PrintUnformatted(jget(legacy.json, "result.tools"));
	CU_ASSERT_STRING_EQUAL(ta, tl);
	cJSON_free(ta);
	cJSON_free(tl);
	reply_free(&a);
	reply_free(&b);
	reply_free(&legacy);
}

static void test_keep_alive_false(void)
{
	struct mreq m;
	struct reply rp;

	mreq_init(&m, "70", "tools/list", NULL, NULL, NULL);
	m.req.keep_alive = false;
	do_req(&m.req, &rp);
	CU_ASSERT_EQUAL(rp.r.status, 200);
	CU_ASSERT_EQUAL(rp.d, MCP_CLOSE);
	reply_free(&rp);
	mreq_init(&m, "71", "ping", NULL, NULL, NULL);
	m.req.keep_alive = false;
	do_req(&m.req, &rp);
	CU_ASSERT_EQUAL(rp.r.status, 404);
	CU_ASSERT_EQUAL(rp.d, MCP_CLOSE);
	reply_free(&rp);
}

int main(void)
{
	static const struct unit_test tests[] = {
		{ "route: 2026-07-28 header beats Mcp-Session-Id", test_route_header_beats_session },
		{ "route: _meta without header or session", test_route_meta_without_header },
		{ "route: initialize is 2025", test_route_initialize_legacy },
		{ "unknown version -32022 on both paths", test_unknown_version_both_paths },
		{ "batch 400 -32600", test_batch_400 },
		{ "response or invalid 400 -32600", test_response_or_invalid_400 },
		{ "notification 202", test_notification_202 },
		{ "params not an object 400 -32602", test_params_not_object },
		{ "_meta required 400 -32602", test_meta_required },
		{ "MCP-Protocol-Version mismatch -32020", test_version_header_mismatch },
		{ "Mcp-Method header -32020", test_mcp_method_header },
		{ "Mcp-Method with a TAB -32020", test_mcp_method_header_tab },
		{ "Mcp-Name header and base64 form", test_mcp_name_header },
		{ "Mcp-Name for prompts/get and resources/read", test_mcp_name_prompts_resources },
		{ "methods not served 404 -32601", test_methods_not_served_404 },
		{ "unknown resource, tool, prompt", test_unknown_resource_and_tool },
		{ "server/discover", test_server_discover },
		{ "resultType, serverInfo, cache hints", test_result_meta_and_caching },
		{ "tools/list identical twice", test_tools_list_stable },
		{ "keep-alive false closes", test_keep_alive_false },
		{ NULL, NULL },
	};
	static const struct unit_suite suites[] = {
		{ "modern", tests, NULL, NULL, setup, teardown },
		{ NULL, NULL, NULL, NULL, NULL, NULL },
	};

	log_set_level(LOG_LVL_WARNING);
	jsonrpc_init();
	return unit_main(suites);
}
