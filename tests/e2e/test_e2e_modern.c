/* End-to-end HTTP tests of the MCP 2026-07-28 ("modern", stateless) path of /mcp: the built
 * mcp-chatd on 127.0.0.1:0, driven with raw bytes. A table of requests, each with its exact
 * status, JSON-RPC code and the id echoed, then the results' fields (server/discover, caching
 * hints), the chat by chat_id, and a 2025 client served afterwards. */

#include <CUnit/Basic.h>
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "unit.h"

#define V26 "2026-07-28"
#define PV_KEY "\"io.modelcontextprotocol/protocolVersion\":"
#define CAPS_KEY "\"io.modelcontextprotocol/clientCapabilities\":"
#define META_PV PV_KEY "\"" V26 "\""
#define META_CAPS CAPS_KEY "{}"
#define META_INFO "\"io.modelcontextprotocol/clientInfo\":{\"name\":\"e2e\",\"version\":\"1\"}"
#define META_OF(fields) "\"_meta\":{" fields "}"
#define META META_OF(META_PV "," META_INFO "," META_CAPS)

/* A request with id 7; MOD: params are extra (empty, or fields ending with a comma) + _meta. */
#define REQ(method, params) "{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"" method "\",\"params\":" params "}"
#define MOD(method, extra) REQ(method, "{" extra META "}")
#define NOTE(method, params) "{\"jsonrpc\":\"2.0\",\"method\":\"" method "\",\"params\":" params "}"

#define HV "MCP-Protocol-Version: " V26 "\r\n"
#define HVER(v) "MCP-Protocol-Version: " v "\r\n"
#define HM(m) "Mcp-Method: " m "\r\n"
#define HN(n) "Mcp-Name: " n "\r\n"
#define HVM(m) HV HM(m)

#define TOOL(name, args) "\"name\":\"" name "\",\"arguments\":" args ","
#define URI(u) "\"uri\":\"" u "\","
#define GUIDE "mcp-chat://guide"
#define B64_GET_STATUS "=?base64?Z2V0X3N0YXR1cw==?="
#define B64_SEND_MESSAGE "=?base64?c2VuZF9tZXNzYWdl?="
#define B64_GUIDE "=?base64?bWNwLWNoYXQ6Ly9ndWlkZQ==?="

/* Expected body: a JSON-RPC error code (negative), a result, or nothing at all. */
#define RESULT 0
#define NO_BODY 1
/* Expected id: the request's (7), null, or not checked. */
#define ID_SEVEN 0
#define ID_NULL 1
#define ID_ANY 2

struct row {
	const char *name;
	const char *hdrs;   /* header lines after Host, Accept and Content-Type */
	const char *body;
	int status;
	int code;
	int id;
	const char *raw;    /* a whole request instead of hdrs + body */
	const char *allow;  /* the Allow header the answer must carry */
};

#define R(n, h, b, st, cd, ...) { .name = n, .hdrs = h, .body = b, .status = st, .code = cd, __VA_ARGS__ }
#define REMOVED(m, extra) R("removed method " m, HVM(m), MOD(m, extra), 404, -32601)

static const struct row rows[] = {
	/* Served */
	R("server/discover", HVM("server/discover"), MOD("server/discover", ""), 200, RESULT),
	R("tools/list", HVM("tools/list"), MOD("tools/list", ""), 200, RESULT),
	R("resources/list", HVM("resources/list"), MOD("resources/list", ""), 200, RESULT),
	R("resources/templates/list", HVM("resources/templates/list"), MOD("resources/templates/list", ""), 200, RESULT),
	R("prompts/list", HVM("prompts/list"), MOD("prompts/list", ""), 200, RESULT),
	R("resources/read of the guide", HVM("resources/read") HN(GUIDE), MOD("resources/read", URI(GUIDE)), 200, RESULT),
	R("prompts/get", HVM("prompts/get") HN("chat_with_stranger"), MOD("prompts/get", "\"name\":\"chat_with_stranger\","), 200, RESULT),
	R("tools/call", HVM("tools/call") HN("get_status"), MOD("tools/call", TOOL("get_status", "{}")), 200, RESULT),
	R("Mcp-Name in base64, matching", HVM("tools/call") HN(B64_GET_STATUS), MOD("tools/call", TOOL("get_status", "{}")), 200, RESULT),
	R("Mcp-Name of a uri in base64, matching", HVM("resources/read") HN(B64_GUIDE), MOD("resources/read", URI(GUIDE)), 200, RESULT),
	R("Mcp-Name with spaces around it", HVM("tools/call") HN("  get_status  "), MOD("tools/call", TOOL("get_status", "{}")), 200, RESULT),
	R("header names in lower case", "mcp-protocol-version: " V26 "\r\nmcp-method: tools/list\r\n", MOD("tools/list", ""), 200, RESULT),
	R("_meta without clientInfo", HVM("tools/list"), REQ("tools/list", "{" META_OF(META_PV "," META_CAPS) "}"), 200, RESULT),
	R("notification", HVM("notifications/cancelled"), NOTE("notifications/cancelled", "{" META "}"), 202, NO_BODY),
	R("notification without _meta or Mcp-Method", HV, NOTE("notifications/initialized", "{}"), 202, NO_BODY),
	/* Shapes */
	R("batch", HV, "[" MOD("tools/list", "") "]", 400, -32600, .id = ID_NULL),
	R("empty batch", HV, "[]", 400, -32600, .id = ID_NULL),
	R("JSON-RPC response", HV, "{\"jsonrpc\":\"2.0\",\"id\":7,\"result\":{}}", 400, -32600),
	R("request without a method", HVM("tools/list"), "{\"jsonrpc\":\"2.0\",\"id\":7,\"params\":{" META "}}", 400, -32600),
	R("params is an array", HVM("tools/list"), REQ("tools/list", "[]"), 400, -32602),
	/* Not a structured value: an invalid JSON-RPC request before it is a modern one (as on the
	 * 2025 path; the design table says -32602 for any params that is not an object). */
	R("params is a string", HVM("tools/list"), REQ("tools/list", "\"x\""), 400, -32600),
	/* _meta */
	R("no params, so no _meta", HVM("tools/list"), "{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"tools/list\"}", 400, -32602),
	R("_meta missing", HVM("server/discover"), REQ("server/discover", "{}"), 400, -32602),
	R("_meta is an array", HVM("server/discover"), REQ("server/discover", "{\"_meta\":[]}"), 400, -32602),
	R("_meta without protocolVersion", HVM("server/discover"), REQ("server/discover", "{" META_OF(META_INFO "," META_CAPS) "}"), 400, -32602),
	R("protocolVersion is a number", HVM("server/discover"), REQ("server/discover", "{" META_OF(PV_KEY "20260728," META_CAPS) "}"), 400, -32602),
	R("_meta without clientCapabilities", HVM("server/discover"), REQ("server/discover", "{" META_OF(META_PV "," META_INFO) "}"), 400, -32602),
	R("clientCapabilities is an array", HVM("server/discover"), REQ("server/discover", "{" META_OF(META_PV "," CAPS_KEY "[]") "}"), 400, -32602),
	/* MCP-Protocol-Version */
	R("MCP-Protocol-Version missing", HM("tools/list"), MOD("tools/list", ""), 400, -32020),
	R("MCP-Protocol-Version 2025-11-25, _meta 2026-07-28", HVER("2025-11-25") HM("tools/list"), MOD("tools/list", ""), 400, -32020),
	R("MCP-Protocol-Version 2026-07-28, _meta 2025-11-25", HVM("tools/list"),
	  REQ("tools/list", "{" META_OF(PV_KEY "\"2025-11-25\"," META_CAPS) "}"), 400, -32020),
	R("unknown version in header and _meta", HVER("2099-01-01") HM("tools/list"),
	  REQ("tools/list", "{" META_OF(PV_KEY "\"2099-01-01\"," META_CAPS) "}"), 400, -32022),
	R("2025-11-25 in header and _meta, no session", HVER("2025-11-25") HM("tools/list"),
	  REQ("tools/list", "{" META_OF(PV_KEY "\"2025-11-25\"," META_CAPS) "}"), 400, -32022),
	/* Mcp-Method */
	R("Mcp-Method missing", HV, MOD("tools/list", ""), 400, -32020),
	R("Mcp-Method empty", HV "Mcp-Method:\r\n", MOD("tools/list", ""), 400, -32020),
	R("Mcp-Method names another method", HVM("prompts/list"), MOD("tools/list", ""), 400, -32020),
	R("Mcp-Method in another case", HVM("TOOLS/LIST"), MOD("tools/list", ""), 400, -32020),
	R("Mcp-Method with bytes outside 0x20-0x7E", HVM("tools/l\xc3\xafst"), MOD("tools/l\xc3\xafst", ""), 400, -32020),
	/* Mcp-Name */
	R("Mcp-Name missing (tools/call)", HVM("tools/call"), MOD("tools/call", TOOL("get_status", "{}")), 400, -32020),
	R("Mcp-Name names another tool", HVM("tools/call") HN("send_message"), MOD("tools/call", TOOL("get_status", "{}")), 400, -32020),
	R("Mcp-Name in base64, not matching", HVM("tools/call") HN(B64_SEND_MESSAGE), MOD("tools/call", TOOL("get_status", "{}")), 400, -32020),
	R("Mcp-Name in invalid base64", HVM("tools/call") HN("=?base64?!!!?="), MOD("tools/call", TOOL("get_status", "{}")), 400, -32020),
	R("Mcp-Name sentinel in upper case (literal)", HVM("tools/call") HN("=?BASE64?Z2V0X3N0YXR1cw==?="), MOD("tools/call", TOOL("get_status", "{}")), 400, -32020),
	R("Mcp-Name missing (resources/read)", HVM("resources/read"), MOD("resources/read", URI(GUIDE)), 400, -32020),
	R("Mcp-Name names another uri", HVM("resources/read") HN("mcp-chat://other"), MOD("resources/read", URI(GUIDE)), 400, -32020),
	R("Mcp-Name missing (prompts/get)", HVM("prompts/get"), MOD("prompts/get", "\"name\":\"chat_with_stranger\","), 400, -32020),
	R("Mcp-Name names another prompt", HVM("prompts/get") HN("other"), MOD("prompts/get", "\"name\":\"chat_with_stranger\","), 400, -32020),
	/* Methods */
	R("unknown method", HVM("no/such"), MOD("no/such", ""), 404, -32601),
	REMOVED("initialize", ""),
	REMOVED("ping", ""),
	REMOVED("logging/setLevel", "\"level\":\"debug\","),
	REMOVED("resources/subscribe", URI(GUIDE)),
	REMOVED("resources/unsubscribe", URI(GUIDE)),
	REMOVED("subscriptions/listen", "\"notifications\":{\"toolsListChanged\":true},"),
	REMOVED("completion/complete", "\"ref\":{\"type\":\"ref/prompt\",\"name\":\"chat_with_stranger\"},\"argument\":{\"name\":\"a\",\"value\":\"b\"},"),
	R("resources/read of an unknown uri", HVM("resources/read") HN("mcp-chat://nope"), MOD("resources/read", URI("mcp-chat://nope")), 200, -32602),
	R("unknown tool", HVM("tools/call") HN("no_such_tool"), MOD("tools/call", TOOL("no_such_tool", "{}")), 200, -32602),
	/* The 2025 endpoints without a session */
	R("GET without a session id", NULL, NULL, 405, -32000, .id = ID_NULL, .allow = "POST",
	  .raw = "GET /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n"),
	R("DELETE without a session id", NULL, NULL, 405, -32000, .id = ID_NULL, .allow = "POST",
	  .raw = "DELETE /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"),
};

#define N_ROWS (sizeof(rows) / sizeof(rows[0]))

static struct hx_daemon D;

static char *build(const struct row *row)
{
	char *req;

	if (row->raw)
		return strdup(row->raw);
	if (asprintf(&req,
		     "POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\n"
		     "Accept: application/json, text/event-stream\r\n"
		     "Content-Type: application/json\r\n%sContent-Length: %zu\r\n\r\n%s",
		     row->hdrs, strlen(row->body), row->body) < 0)
		return NULL;
	return req;
}

static bool id_ok(const cJSON *j, int want)
{
	const cJSON *id = cJSON_GetObjectItemCaseSensitive(j, "id");

	if (want == ID_ANY)
		return true;
	if (want == ID_NULL)
		return cJSON_IsNull(id);
	return cJSON_IsNumber(id) && id->valuedouble == 7;
}

static void check_body(const struct row *row, const struct hx_response *r)
{
	char ctype[128] = "";
	cJSON *j;

	if (row->code == NO_BODY) {
		CHECKF(r->body_len == 0, "[%s] %zu body bytes", row->name, r->body_len);
		return;
	}
	CHECKF(hx_rpc_code(r) == row->code, "[%s] code %d, want %d (%.200s)", row->name,
	       hx_rpc_code(r), row->code, r->body);
	j = hx_json(r);
	CHECKF(id_ok(j, row->id), "[%s] id not echoed: %.200s", row->name, r->body);
	cJSON_Delete(j);
	CHECKF(hx_header(r, "Content-Type", ctype, sizeof(ctype)) &&
		       strcmp(ctype, "application/json") == 0,
	       "[%s] Content-Type \"%s\"", row->name, ctype);
}

static void run_row(const struct row *row)
{
	struct hx_response r = { 0 };
	char *req = build(row), allow[64] = "";
	int rc;

	REQUIRE(req != NULL);
	rc = hx_roundtrip(D.port, req, strlen(req), &r);
	REQUIRE(rc == 0);
	CHECKF(r.status == row->status, "[%s] status %d, want %d (%.200s)", row->name, r.status,
	       row->status, r.body);
	check_body(row, &r);
	if (row->allow)
		CHECKF(hx_header(&r, "Allow", allow, sizeof(allow)) && strcmp(allow, row->allow) == 0,
		       "[%s] Allow \"%s\", want \"%s\"", row->name, allow, row->allow);
	CHECKF(!hx_header(&r, "Mcp-Session-Id", allow, sizeof(allow)),
	       "[%s] a modern answer carries an Mcp-Session-Id", row->name);
out:
	hx_response_free(&r);
	free(req);
}

static size_t next_row;

static void test_row(void)
{
	CU_ASSERT_FATAL(next_row < N_ROWS);
	run_row(&rows[next_row++]);
}

/* Requests one at a time */

/* POSTs method on the modern path (id 7) with params {extra _meta}; Mcp-Name when name. */
static int modern_post(const char *method, const char *name, const char *extra,
		       struct hx_response *r)
{
	char *body, *req;
	int rc = -1;

	if (asprintf(&body, "{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"%s\",\"params\":{%s" META "}}",
		     method, extra) < 0)
		return -1;
	if (asprintf(&req,
		     "POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\n"
		     "Accept: application/json, text/event-stream\r\nContent-Type: application/json\r\n"
		     HV "Mcp-Method: %s\r\n%s%s%sContent-Length: %zu\r\n\r\n%s",
		     method, name ? "Mcp-Name: " : "", name ? name : "", name ? "\r\n" : "",
		     strlen(body), body) >= 0) {
		rc = hx_roundtrip(D.port, req, strlen(req), r);
		free(req);
	}
	free(body);
	return rc;
}

/* The answer's JSON when it is 200 with a result; NULL (and a failed check) otherwise. */
static cJSON *modern_result(const char *method, const char *name, const char *extra)
{
	struct hx_response r = { 0 };
	cJSON *j = NULL;

	if (modern_post(method, name, extra, &r) == 0 && r.status == 200 && hx_rpc_code(&r) == 0)
		j = hx_json(&r);
	CHECKF(j != NULL, "%s: status %d, %.300s", method, r.status, r.body ? r.body : "");
	hx_response_free(&r);
	return j;
}

static const cJSON *at(const cJSON *j, const char *a, const char *b)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, a);

	return b ? cJSON_GetObjectItemCaseSensitive(v, b) : v;
}

static bool str_is(const cJSON *v, const char *want)
{
	return cJSON_IsString(v) && strcmp(v->valuestring, want) == 0;
}

/* A tools/call on the modern path: its structuredContent (a detached copy) and isError. */
static cJSON *call_tool(const char *tool, const char *args, bool *is_error)
{
	char extra[512];
	cJSON *j, *sc = NULL;

	snprintf(extra, sizeof(extra), "\"name\":\"%s\",\"arguments\":%s,", tool, args);
	j = modern_result("tools/call", tool, extra);
	*is_error = cJSON_IsTrue(at(at(j, "result", NULL), "isError", NULL));
	sc = cJSON_DetachItemFromObjectCaseSensitive(cJSON_GetObjectItemCaseSensitive(j, "result"),
						     "structuredContent");
	cJSON_Delete(j);
	CHECKF(sc != NULL, "%s: no structuredContent", tool);
	return sc;
}

/* Fields of results */

static const char *const versions[] = { "2026-07-28", "2025-11-25", "2025-06-18", "2025-03-26" };

static bool lists_all_versions(const cJSON *a)
{
	if (!cJSON_IsArray(a) || cJSON_GetArraySize(a) != 4)
		return false;
	for (int i = 0; i < 4; i++)
		if (!str_is(cJSON_GetArrayItem(a, i), versions[i]))
			return false;
	return true;
}

/* resultType and _meta serverInfo: on every modern result. */
static void check_result_meta(const char *what, const cJSON *res)
{
	const cJSON *info = at(at(res, "_meta", NULL), "io.modelcontextprotocol/serverInfo", NULL);
	const cJSON *version = at(info, "version", NULL);

	CHECKF(str_is(at(res, "resultType", NULL), "complete"), "%s: resultType", what);
	CHECKF(str_is(at(info, "name", NULL), "mcp-chatd"), "%s: serverInfo.name", what);
	CHECKF(cJSON_IsString(version) && version->valuestring[0], "%s: serverInfo.version", what);
}

/* Caching hints: on server/discover, the four lists and resources/read. */
static void check_cache_hints(const char *what, const cJSON *res)
{
	const cJSON *ttl = at(res, "ttlMs", NULL);

	check_result_meta(what, res);
	CHECKF(cJSON_IsNumber(ttl) && ttl->valuedouble == 60000, "%s: ttlMs", what);
	CHECKF(str_is(at(res, "cacheScope", NULL), "public"), "%s: cacheScope", what);
}

static void test_discover_fields(void)
{
	cJSON *j = modern_result("server/discover", NULL, "");
	const cJSON *res = at(j, "result", NULL), *caps = at(res, "capabilities", NULL);

	REQUIRE(res != NULL);
	CHECKF(id_ok(j, ID_SEVEN), "id");
	CHECKF(lists_all_versions(at(res, "supportedVersions", NULL)), "supportedVersions");
	CHECKF(cJSON_IsObject(at(caps, "tools", NULL)), "capabilities.tools");
	CHECKF(cJSON_IsObject(at(caps, "resources", NULL)), "capabilities.resources");
	CHECKF(cJSON_IsObject(at(caps, "prompts", NULL)), "capabilities.prompts");
	CHECKF(cJSON_IsString(at(res, "instructions", NULL)), "instructions");
	check_cache_hints("server/discover", res);
out:
	cJSON_Delete(j);
}

static void test_cache_hints(void)
{
	static const char *const lists[] = { "tools/list", "resources/list",
					     "resources/templates/list", "prompts/list" };
	cJSON *j;

	for (size_t i = 0; i < sizeof(lists) / sizeof(lists[0]); i++) {
		j = modern_result(lists[i], NULL, "");
		check_cache_hints(lists[i], at(j, "result", NULL));
		cJSON_Delete(j);
	}
	j = modern_result("resources/read", GUIDE, URI(GUIDE));
	check_cache_hints("resources/read", at(j, "result", NULL));
	cJSON_Delete(j);
	j = modern_result("prompts/get", "chat_with_stranger", "\"name\":\"chat_with_stranger\",");
	check_result_meta("prompts/get", at(j, "result", NULL));
	cJSON_Delete(j);
	j = modern_result("tools/call", "get_status", TOOL("get_status", "{}"));
	check_result_meta("tools/call", at(j, "result", NULL));
	cJSON_Delete(j);
}

/* A cacheable answer does not change between two asks: the same bytes. */
static void test_tools_list_twice(void)
{
	struct hx_response a = { 0 }, b = { 0 };

	REQUIRE(modern_post("tools/list", NULL, "", &a) == 0);
	REQUIRE(modern_post("tools/list", NULL, "", &b) == 0);
	CHECKF(a.status == 200 && b.status == 200, "statuses %d %d", a.status, b.status);
	CHECKF(a.body_len == b.body_len && memcmp(a.body, b.body, a.body_len) == 0,
	       "two tools/list answers differ");
out:
	hx_response_free(&a);
	hx_response_free(&b);
}

/* UnsupportedProtocolVersionError: every supported version, and the one asked for. */
static void check_unsupported(const struct hx_response *r, const char *requested, int id)
{
	cJSON *j = hx_json(r);
	const cJSON *data = at(at(j, "error", NULL), "data", NULL), *jid = at(j, "id", NULL);

	CHECKF(r->status == 400, "status %d", r->status);
	CHECKF(hx_rpc_code(r) == -32022, "code %d", hx_rpc_code(r));
	CHECKF(lists_all_versions(at(data, "supported", NULL)), "data.supported: %.300s", r->body);
	CHECKF(str_is(at(data, "requested", NULL), requested), "data.requested: %.300s", r->body);
	CHECKF(cJSON_IsNumber(jid) && jid->valueint == id, "id: %.300s", r->body);
	cJSON_Delete(j);
}

static void test_unsupported_version_data(void)
{
	static const char body[] = REQ("tools/list", "{" META_OF(PV_KEY "\"2099-01-01\"," META_CAPS) "}");
	char *req = NULL;
	struct hx_response r = { 0 };

	REQUIRE(asprintf(&req, "POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\n"
			       "Accept: application/json, text/event-stream\r\n"
			       "Content-Type: application/json\r\n" HVER("2099-01-01") HM("tools/list")
			       "Content-Length: %zu\r\n\r\n%s", strlen(body), body) > 0);
	REQUIRE(hx_roundtrip(D.port, req, strlen(req), &r) == 0);
	check_unsupported(&r, "2099-01-01", 7);
out:
	hx_response_free(&r);
	free(req);
}

/* The same error on the 2025 path: a session's request naming an unknown version. */
static void test_unsupported_version_2025(void)
{
	char sid[HX_SID_MAX], *req = NULL;
	struct hx_response r = { 0 };

	REQUIRE(hx_initialize(D.port, NULL, sid, sizeof(sid)) == 0);
	req = hx_post_request(sid, "2099-01-01", "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"ping\"}");
	REQUIRE(req != NULL);
	REQUIRE(hx_roundtrip(D.port, req, strlen(req), &r) == 0);
	check_unsupported(&r, "2099-01-01", 3);
out:
	hx_response_free(&r);
	free(req);
}

static void test_resource_not_found_uri(void)
{
	struct hx_response r = { 0 };
	cJSON *j = NULL;

	REQUIRE(modern_post("resources/read", "mcp-chat://nope", URI("mcp-chat://nope"), &r) == 0);
	CHECKF(r.status == 200 && hx_rpc_code(&r) == -32602, "%d %.200s", r.status, r.body);
	j = hx_json(&r);
	CHECKF(str_is(at(at(j, "error", NULL), "data", "uri"), "mcp-chat://nope"), "data.uri: %.200s",
	       r.body);
out:
	cJSON_Delete(j);
	hx_response_free(&r);
}

/* The chat by chat_id */

static bool is_chat_id(const cJSON *v)
{
	return cJSON_IsString(v) && strlen(v->valuestring) == 22 &&
	       strspn(v->valuestring, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
				      "0123456789-_") == 22;
}

static void test_enter_queue_mints_chat_id(void)
{
	char args[128];
	bool err = true;
	cJSON *sc = call_tool("enter_queue", "{}", &err), *st = NULL;

	CHECKF(!err, "enter_queue refused");
	REQUIRE(is_chat_id(at(sc, "chat_id", NULL)));
	snprintf(args, sizeof(args), "{\"chat_id\":\"%s\"}", at(sc, "chat_id", NULL)->valuestring);
	st = call_tool("get_status", args, &err);
	CHECKF(!err && str_is(at(st, "state", NULL), "waiting"), "get_status of the new chat");
	/* It stays in the queue: the next test's 2025 session meets it. */
out:
	cJSON_Delete(st);
	cJSON_Delete(sc);
}

static void check_refusal(const char *tool, const char *args, const char *error)
{
	bool err = false;
	cJSON *sc = call_tool(tool, args, &err);

	CHECKF(err, "%s %s: not an error", tool, args);
	CHECKF(str_is(at(sc, "error", NULL), error), "%s %s: error, want %s", tool, args, error);
	CHECKF(str_is(at(sc, "field", NULL), "chat_id"), "%s %s: field", tool, args);
	cJSON_Delete(sc);
}

static void test_chat_id_required(void)
{
	check_refusal("send_message", "{\"message\":\"hi\"}", "invalid_arguments");
	check_refusal("get_status", "{}", "invalid_arguments");
	check_refusal("wait_for_message", "{\"timeout_s\":0}", "invalid_arguments");
	check_refusal("leave_chat", "{}", "invalid_arguments");
}

static void test_unknown_chat_id(void)
{
	static const char unknown[] = "{\"chat_id\":\"AAAAAAAAAAAAAAAAAAAAAA\",\"message\":\"hi\"}";

	check_refusal("send_message", unknown, "chat_expired");
	check_refusal("get_status", "{\"chat_id\":\"AAAAAAAAAAAAAAAAAAAAAA\"}", "chat_expired");
}

/* A chat begun in a 2025 session is the same chat on the modern path (it meets the chat the
 * modern enter_queue left waiting: the same room on both paths). */
static void test_session_chat_on_modern_path(void)
{
	char sid[HX_SID_MAX], args[128];
	struct hx_response r = { 0 };
	bool err = true;
	cJSON *j = NULL, *st = NULL;
	const cJSON *id, *room;

	REQUIRE(hx_initialize(D.port, NULL, sid, sizeof(sid)) == 0);
	REQUIRE(hx_post(D.port, sid, "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"tools/call\","
			"\"params\":{\"name\":\"enter_queue\",\"arguments\":{}}}", &r) == 0);
	j = hx_json(&r);
	id = at(at(j, "result", NULL), "structuredContent", "chat_id");
	REQUIRE(is_chat_id(id));
	snprintf(args, sizeof(args), "{\"chat_id\":\"%s\"}", id->valuestring);
	room = at(at(j, "result", NULL), "structuredContent", "room_id");
	st = call_tool("get_status", args, &err);
	CHECKF(!err, "get_status of the session's chat, modern");
	if (cJSON_IsString(room)) {
		CHECKF(str_is(at(st, "state", NULL), "in_room"), "the session's chat, modern");
		CHECKF(str_is(at(st, "room_id", NULL), room->valuestring), "the same room");
	} else {
		CHECKF(str_is(at(st, "state", NULL), "waiting"), "the session's chat, modern");
	}
out:
	cJSON_Delete(st);
	cJSON_Delete(j);
	hx_response_free(&r);
}

static void test_serves_2025_client(void)
{
	CU_ASSERT_EQUAL(next_row, N_ROWS);
	CHECKF(hx_serves_normal_client(D.port), "a 2025 client after the modern requests");
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
	if (hx_suite_init() < 0 || hx_daemon_start(&D, NULL) < 0) {
		fprintf(stderr, "cannot start the daemon ($MCPCHATD=%s)\n", getenv("MCPCHATD"));
		return -1;
	}
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

static const struct unit_test cases[] = {
	{ "server/discover: versions, capabilities, serverInfo, caching", test_discover_fields },
	{ "caching hints on the lists and resources/read; resultType and serverInfo", test_cache_hints },
	{ "tools/list twice: the same bytes", test_tools_list_twice },
	{ "unsupported version: data.supported and data.requested", test_unsupported_version_data },
	{ "unsupported version on the 2025 path", test_unsupported_version_2025 },
	{ "resources/read of an unknown uri: data.uri", test_resource_not_found_uri },
	{ "enter_queue without chat_id mints one", test_enter_queue_mints_chat_id },
	{ "tools without chat_id: invalid_arguments chat_id", test_chat_id_required },
	{ "unknown chat_id: chat_expired", test_unknown_chat_id },
	{ "a 2025 session's chat_id on the modern path", test_session_chat_on_modern_path },
	{ "a 2025 client is served afterwards", test_serves_2025_client },
	{ "SIGTERM exits 0", test_sigterm_exits_zero },
	{ NULL, NULL },
};

int main(int argc, char **argv)
{
	static char names[N_ROWS][112];
	static struct unit_test tests[N_ROWS + sizeof(cases) / sizeof(cases[0])];
	const struct unit_suite suites[] = {
		{ "e2e_http_modern", tests, suite_init, suite_clean, NULL, NULL },
		{ NULL, NULL, NULL, NULL, NULL, NULL },
	};
	size_t n = 0;

	/* Every row runs (in order: test_row takes the next); a filter picks among the cases. */
	for (size_t i = 0; i < N_ROWS; i++) {
		snprintf(names[i], sizeof(names[i]), "table %02zu: %s", i + 1, rows[i].name);
		tests[n++] = (struct unit_test){ names[i], test_row };
	}
	for (size_t i = 0; cases[i].name; i++)
		if (argc < 2 || strstr(cases[i].name, argv[1]))
			tests[n++] = cases[i];
	tests[n] = (struct unit_test){ NULL, NULL };
	return unit_main(suites);
}
