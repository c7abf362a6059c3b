#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mcp_harness.h"
#include "util/log.h"
#include "util/xalloc.h"

/* SEP-2243's custom headers (MCP 2026-07-28) without sockets: tool parameters an inputSchema
 * marks "x-mcp-header" are mirrored into Mcp-Param-{Name}; the server reads the declarations
 * from the schema (mcp_headers_scan) and refuses a tools/call whose headers are missing,
 * malformed or disagree with its arguments (400, -32020). */

#define DEPLOY_SCHEMA                                                                          \
	"{\"type\":\"object\",\"properties\":{"                                                  \
	"\"region\":{\"type\":\"string\",\"x-mcp-header\":\"Region\"},"                          \
	"\"priority\":{\"type\":\"integer\",\"x-mcp-header\":\"Priority\"},"                     \
	"\"dry_run\":{\"type\":\"boolean\",\"x-mcp-header\":\"Dry-Run\"},"                       \
	"\"query\":{\"type\":\"string\"}}}"

static enum mcp_tool_status t_deploy(struct mcp_tool_ctx *ctx)
{
	ctx->content = xstrdup("[{\"type\":\"text\",\"text\":\"deployed\"}]");
	return MCP_TOOL_DONE;
}

static const struct mcp_tool tools[] = {
	{ "x_deploy", NULL, "deploys", DEPLOY_SCHEMA, NULL, t_deploy },
	{ "x_plain", NULL, "no headers", "{\"type\":\"object\"}", NULL, t_deploy },
};

static const struct mcp_catalog catalog = { .tools = tools, .n_tools = 2 };

static void setup_headers(void)
{
	world_up(100);
	mcp_server_add_catalog(W.srv, &catalog);
}

/* Tests: the value encoding */

static void decodes(const char *v, int want, const char *text)
{
	char *out;
	size_t n = 0;
	int r = mcp_headers_decode(v, &out, &n);

	CHECKF(r == want, "decode %s: want %d, got %d", v, want, r);
	if (r == 1 && text) {
		CHECKF(n == strlen(text) && memcmp(out, text, n) == 0, "decode %s: wrong bytes", v);
	}
	if (r != 1) {
		CU_ASSERT_PTR_NULL(out);
	}
	free(out);
}

static void test_decode(void)
{
	decodes("us-west1", 0, NULL);
	decodes("", 0, NULL);
	decodes("=?base64?SGVsbG8=?=", 1, "Hello");
	decodes("=?base64?SGVsbG8sIOS4lueVjA==?=", 1, "Hello, \xe4\xb8\x96\xe7\x95\x8c");
	decodes("=?base64?PT9iYXNlNjQ/bGl0ZXJhbD89?=", 1, "=?base64?literal?=");
	decodes("=?" "?=", 0, NULL);
	decodes("=?base64?" "?=", 1, ""); /* the empty string, encoded */
	/* Not the exact wrapper: literal. */
	decodes("=?base64?SGVsbG8=", 0, NULL);
	decodes("SGVsbG8=?=", 0, NULL);
	decodes("=?BASE64?SGVsbG8=?=", 0, NULL);
	/* Padding missing or wrong, characters outside the alphabet: invalid. */
	decodes("=?base64?SGVsbG8?=", -EINVAL, NULL);
	decodes("=?base64?SGVsbG8==?=", -EINVAL, NULL);
	decodes("=?base64?SGVs!!!bG8=?=", -EINVAL, NULL);
	decodes("=?base64?SGVs-G8=?=", -EINVAL, NULL);
	/* Control characters and non-ASCII never travel plain. */
	decodes("a\tb", -EINVAL, NULL);
	decodes("caf\xc3\xa9", -EINVAL, NULL);
}

/* Tests: the schema extension */

static int scan(const char *schema, size_t *n)
{
	struct mcp_tool t = { "t", NULL, "d", schema, NULL, t_deploy };
	struct mcp_param_header *ph = NULL;
	const char *why;
	int r;

	*n = 0;
	r = mcp_headers_scan(&t, &ph, n, &why);
	CU_ASSERT_TRUE(r == 0 ? why == NULL : why != NULL);
	mcp_headers_free(ph, *n);
	return r;
}

#define PROP(type, ann) "{\"type\":\"" type "\",\"x-mcp-header\":" ann "}"
#define SCHEMA1(p) "{\"type\":\"object\",\"properties\":{\"a\":" p "}}"

static void test_scan(void)
{
	struct mcp_tool t = { "x_deploy", NULL, "d", DEPLOY_SCHEMA, NULL, t_deploy };
	struct mcp_param_header *ph = NULL;
	const char *why;
	size_t n = 0;

	CU_ASSERT_EQUAL_FATAL(mcp_headers_scan(&t, &ph, &n, &why), 0);
	CU_ASSERT_EQUAL_FATAL(n, 3);
	CU_ASSERT_STRING_EQUAL(ph[0].param, "region");
	CU_ASSERT_STRING_EQUAL(ph[0].header, "Region");
	CU_ASSERT_STRING_EQUAL(ph[2].header, "Dry-Run");
	CU_ASSERT_PTR_EQUAL(ph[1].tool, &t);
	/* Unique within a tool: another tool may use the same names. */
	CU_ASSERT_EQUAL(mcp_headers_scan(&t, &ph, &n, &why), 0);
	CU_ASSERT_EQUAL(n, 6);
	mcp_headers_free(ph, n);

	CU_ASSERT_EQUAL(scan("{\"type\":\"object\"}", &n), 0);
	CU_ASSERT_EQUAL(n, 0);
	CU_ASSERT_EQUAL(scan(SCHEMA1(PROP("string", "\"A!#$%&'*+-.^_`|~9\"")), &n), 0);
	CU_ASSERT_EQUAL(n, 1);
	/* Not a token, empty, not a string, a number parameter, no type, an object. */
	CU_ASSERT_EQUAL(scan(SCHEMA1(PROP("string", "\"Re gion\"")), &n), -EINVAL);
	CU_ASSERT_EQUAL(scan(SCHEMA1(PROP("string", "\"Re:gion\"")), &n), -EINVAL);
	CU_ASSERT_EQUAL(scan(SCHEMA1(PROP("string", "\"\"")), &n), -EINVAL);
	CU_ASSERT_EQUAL(scan(SCHEMA1(PROP("string", "7")), &n), -EINVAL);
	CU_ASSERT_EQUAL(scan(SCHEMA1(PROP("number", "\"N\"")), &n), -EINVAL);
	CU_ASSERT_EQUAL(scan(SCHEMA1(PROP("object", "\"N\"")), &n), -EINVAL);
	CU_ASSERT_EQUAL(scan(SCHEMA1("{\"x-mcp-header\":\"N\"}"), &n), -EINVAL);
	/* Unique without case. */
	CU_ASSERT_EQUAL(scan("{\"properties\":{\"a\":" PROP("string", "\"Zone\"") ",\"b\":"
			     PROP("integer", "\"ZONE\"") "}}", &n), -EINVAL);
	/* Anywhere but a top-level property: refused, not silently unenforced. */
	CU_ASSERT_EQUAL(scan("{\"properties\":{\"a\":{\"type\":\"object\",\"properties\":{\"b\":"
			     PROP("string", "\"B\"") "}}}}", &n), -EINVAL);
	CU_ASSERT_EQUAL(scan("{\"properties\":{\"a\":{\"type\":\"array\",\"items\":"
			     PROP("string", "\"B\"") "}}}", &n), -EINVAL);
	CU_ASSERT_EQUAL(scan("{\"oneOf\":[" PROP("string", "\"B\"") "]}", &n), -EINVAL);
}

/* Tests: the server's check */

/* tools/call of tool with arguments args (JSON text), Mcp-Param-{names[i]}: values[i]:
 * status and error code (0: a result). */
static void call_with(const char *tool, const char *args, const char *const *names,
		      const char *const *values, size_t n, int *status, int *code)
{
	char params[512];
	struct mreq m;
	struct reply rp;

	snprintf(params, sizeof(params), "\"name\":\"%s\",\"arguments\":%s", tool, args);
	mreq_init(&m, "9", "tools/call", NULL, params, tool);
	for (size_t i = 0; i < n; i++)
		m.req.params[i] = (struct http_param){ names[i], values[i] };
	m.req.n_params = (uint8_t)n;
	do_req(&m.req, &rp);
	*status = rp.r.status;
	*code = jget(rp.json, "error") ? (int)jnum(rp.json, "error.code") : 0;
	if (!*code) {
		CU_ASSERT_STRING_EQUAL(jstr(rp.json, "result.content.0.text"), "deployed");
	}
	reply_free(&rp);
}

#define CALL(args, want_status, ...)                                                           \
	do {                                                                                   \
		const char *const hv_[] = { __VA_ARGS__ };                                     \
		const char *nm_[8], *vl_[8];                                                    \
		size_t n_ = sizeof(hv_) / sizeof(hv_[0]) / 2;                                   \
		int st_, code_;                                                                 \
		for (size_t i_ = 0; i_ < n_; i_++) {                                            \
			nm_[i_] = hv_[2 * i_];                                                  \
			vl_[i_] = hv_[2 * i_ + 1];                                              \
		}                                                                               \
		call_with("x_deploy", args, nm_, vl_, n_, &st_, &code_);                        \
		CHECKF(st_ == (want_status) && code_ == ((want_status) == 200 ? 0 : -32020),     \
		       "args %s: want %d, got %d %d", args, want_status, st_, code_);           \
	} while (0)

static void test_param_match(void)
{
	CALL("{\"region\":\"us-west1\",\"priority\":3,\"dry_run\":true,\"query\":\"q\"}", 200,
	     "Region", "us-west1", "Priority", "3", "Dry-Run", "true");
	/* Names without case, values exactly. */
	CALL("{\"region\":\"us-west1\"}", 200, "REGION", "us-west1");
	CALL("{\"region\":\"us-west1\"}", 400, "Region", "US-west1");
	CALL("{\"region\":\"us-west1\"}", 400, "Region", "us-west2");
	/* SEP-2243's test cases: base64 decoded; bad padding or characters refused; a value
	 * without the exact wrapper is literal. */
	CALL("{\"region\":\"Hello\"}", 200, "Region", "=?base64?SGVsbG8=?=");
	CALL("{\"region\":\"Hello\"}", 400, "Region", "=?base64?SGVsbG8?=");
	CALL("{\"region\":\"Hello\"}", 400, "Region", "=?base64?SGVs!!!bG8=?=");
	CALL("{\"region\":\"SGVsbG8=\"}", 200, "Region", "SGVsbG8=");
	CALL("{\"region\":\"=?base64?SGVsbG8=\"}", 200, "Region", "=?base64?SGVsbG8=");
	CALL("{\"region\":\"Hello, \\u4e16\\u754c\"}", 200, "Region",
	     "=?base64?SGVsbG8sIOS4lueVjA==?=");
	CALL("{\"region\":\" padded \"}", 200, "Region", "=?base64?IHBhZGRlZCA=?=");
	CALL("{\"region\":\"a\\tb\"}", 400, "Region", "a\tb");
	/* Integers numerically, booleans as lower-case words. */
	CALL("{\"region\":\"r\",\"priority\":42}", 200, "Region", "r", "Priority", "42.0");
	CALL("{\"region\":\"r\",\"priority\":-7}", 200, "Region", "r", "Priority", "-7");
	CALL("{\"region\":\"r\",\"priority\":42}", 400, "Region", "r", "Priority", "43");
	CALL("{\"region\":\"r\",\"priority\":42}", 400, "Region", "r", "Priority", "0x2a");
	CALL("{\"region\":\"r\",\"priority\":42}", 400, "Region", "r", "Priority", "42abc");
	CALL("{\"region\":\"r\",\"priority\":42}", 400, "Region", "r", "Priority", "inf");
	CALL("{\"region\":\"r\",\"priority\":42}", 200, "Region", "r", "Priority", "=?base64?NDI=?=");
	CALL("{\"region\":\"r\",\"dry_run\":false}", 200, "Region", "r", "Dry-Run", "false");
	CALL("{\"region\":\"r\",\"dry_run\":false}", 400, "Region", "r", "Dry-Run", "False");
	CALL("{\"region\":\"r\",\"dry_run\":false}", 400, "Region", "r", "Dry-Run", "0");
	/* A value of a type no header can carry never matches. */
	CALL("{\"region\":[\"r\"]}", 400, "Region", "r");
	CALL("{\"region\":{}}", 400, "Region", "{}");
}

static void test_param_presence(void)
{
	/* In the body without its header: refused (a client that skipped the mirror). */
	CALL("{\"region\":\"test-value\"}", 400, "Other", "x");
	CALL("{\"region\":\"r\",\"priority\":1}", 400, "Region", "r");
	/* Null or absent: no header expected, and one that names a value is refused. */
	CALL("{\"region\":null}", 200, "Other", "x");
	CALL("{}", 200, "Other", "x");
	CALL("{\"region\":null}", 400, "Region", "r");
	CALL("{}", 400, "Region", "r");
	/* Twice (an intermediary may have read either): refused, even when both agree. */
	CALL("{\"region\":\"r\"}", 400, "Region", "r", "region", "r");
	/* Headers no parameter declares are ignored (intermediaries forward them). */
	CALL("{\"region\":\"r\"}", 200, "Region", "r", "Query", "other");
}

static void test_param_scope(void)
{
	struct mreq m;
	struct reply rp;
	int st, code;
	const char *name = "Region", *value = "elsewhere";

	/* More headers than kept: a declared one may be among the dropped, so refused. */
	mreq_init(&m, "9", "tools/call", NULL, "\"name\":\"x_deploy\",\"arguments\":{\"region\":"
		  "\"r\"}", "x_deploy");
	m.req.params[0] = (struct http_param){ "Region", "r" };
	m.req.n_params = 1;
	m.req.params_dropped = true;
	do_req(&m.req, &rp);
	expect_merror(&rp, 400, -32020, 9);
	reply_free(&rp);
	/* A tool that declares none does not look at them; nor does any other method. */
	call_with("x_plain", "{\"region\":\"r\"}", &name, &value, 1, &st, &code);
	CU_ASSERT_EQUAL(st, 200);
	CU_ASSERT_EQUAL(code, 0);
	mreq_init(&m, "10", "tools/list", NULL, NULL, NULL);
	m.req.params[0] = (struct http_param){ "Region", "=?base64?!?=" };
	m.req.n_params = 1;
	do_req(&m.req, &rp);
	CU_ASSERT_EQUAL(rp.r.status, 200);
	reply_free(&rp);
}

/* tools/list shows the annotations as declared, so clients know what to mirror. */
static void test_tools_list_shows_annotations(void)
{
	struct reply rp;
	const cJSON *t, *found = NULL;

	mrpc("tools/list", NULL, NULL, &rp);
	cJSON_ArrayForEach(t, jget(rp.json, "result.tools"))
		if (strcmp(jstr(t, "name"), "x_deploy") == 0)
			found = t;
	CU_ASSERT_PTR_NOT_NULL_FATAL(found);
	CU_ASSERT_STRING_EQUAL(jstr(jget(found, "inputSchema.properties.region"), "x-mcp-header"),
			       "Region");
	reply_free(&rp);
	/* None of the chat's own tools mirrors a parameter (README: why not). */
	CU_ASSERT_EQUAL(W.srv->n_param_headers, 3);
}

int main(void)
{
	static const struct unit_test pure[] = {
		{ "value encoding: base64 sentinel, literal, invalid", test_decode },
		{ "schema extension: x-mcp-header rules", test_scan },
		{ NULL, NULL },
	};
	static const struct unit_test tests[] = {
		{ "Mcp-Param-* match the arguments", test_param_match },
		{ "Mcp-Param-* presence: required, null, absent, twice", test_param_presence },
		{ "Mcp-Param-* only for the tool that declares them", test_param_scope },
		{ "tools/list shows x-mcp-header", test_tools_list_shows_annotations },
		{ NULL, NULL },
	};
	static const struct unit_suite suites[] = {
		{ "mcp_headers_pure", pure, NULL, NULL, setup, teardown },
		{ "mcp_headers", tests, NULL, NULL, setup_headers, teardown },
		{ NULL, NULL, NULL, NULL, NULL, NULL },
	};

	log_set_level(LOG_LVL_WARNING);
	jsonrpc_init();
	return unit_main(suites);
}
