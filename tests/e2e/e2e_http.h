#ifndef MCPCHAT_TESTS_E2E_HTTP_H
#define MCPCHAT_TESTS_E2E_HTTP_H

/* End-to-end HTTP tests: the built mcp-chatd on 127.0.0.1:0, driven with raw bytes.
 * A table of malformed and hostile requests, each with its exact status and JSON-RPC error
 * code, then individual cases that need more than one request or careful timing. After the
 * nasty ones the daemon must still serve a normal client.
 *
 * This header is what test_e2e_http.c (the table) and test_e2e_http_cases.c share, header-only
 * like tests/unit/unit.h: the request templates, the suite's daemon and session, assertions
 * that say which case failed, the checks both use, and the suite's init, cleanup and runner. */

#include <CUnit/Basic.h>
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

#define H_HOST "Host: 127.0.0.1\r\n"
#define H_ACCEPT "Accept: application/json, text/event-stream\r\n"
#define H_JSON "Content-Type: application/json\r\n"
#define H_SID "Mcp-Session-Id: $SID\r\n"
#define H_LEN "Content-Length: $LEN\r\n"
#define POST_LINE "POST /mcp HTTP/1.1\r\n"
#define POST_HEAD POST_LINE H_HOST H_ACCEPT H_JSON
/* A POST with the suite's session; extra is zero or more complete header lines. */
#define POST_SID_X(extra, body) POST_HEAD H_SID extra H_LEN "\r\n" body
#define POST_SID(body) POST_SID_X("", body)
#define POST_NOSID(body) POST_HEAD H_LEN "\r\n" body
#define GET_SID(extra) "GET /mcp HTTP/1.1\r\n" H_HOST H_SID extra "\r\n"

#define RPC(rest) "{\"jsonrpc\":\"2.0\"," rest "}"
#define PING RPC("\"id\":1,\"method\":\"ping\"")
#define TOOLS_LIST RPC("\"id\":1,\"method\":\"tools/list\"")
#define CALL(args) RPC("\"id\":1,\"method\":\"tools/call\",\"params\":" args)
#define INIT(params) RPC("\"id\":1,\"method\":\"initialize\",\"params\":" params)
#define INIT_PARAMS "{\"protocolVersion\":\"2025-11-25\",\"capabilities\":{},\"clientInfo\":{\"name\":\"e2e\",\"version\":\"1\"}}"

/* Expected body: a JSON-RPC error code (negative), a result, or nothing at all. */
#define RESULT 0
#define NO_BODY 1

#define CLOSES 1u    /* the daemon closes the connection after answering */
#define HEAD_ONLY 2u /* answer to HEAD: read the head, no body may follow */
#define ECHOES_ID 4u /* a refusal of a parsed request: it carries the request's id (1) */

#define ALLOW "Allow: GET, POST, DELETE"

static struct hx_daemon D;
static char SID[HX_SID_MAX]; /* the suite's session (protocol 2025-11-25) */

/* Assertions that say which case failed. */

static void check(bool ok, const char *name, const char *what, unsigned line)
{
	char msg[512];

	snprintf(msg, sizeof(msg), "[%s] %s", name, what);
	CU_assertImplementation(ok, line, msg, __FILE__, "", CU_FALSE);
}

#define CHECK(name, cond) check((cond), (name), #cond, __LINE__)

/* Checks shared by table rows and individual cases */

static inline bool id_is(const struct hx_response *r, double want, bool null)
{
	cJSON *j = hx_json(r);
	const cJSON *id = cJSON_GetObjectItemCaseSensitive(j, "id");
	bool ok = null ? cJSON_IsNull(id) : cJSON_IsNumber(id) && id->valuedouble == want;

	cJSON_Delete(j);
	return ok;
}

/* The daemon serves a normal client (checked after the nasty cases). */

static inline void assert_serves(const char *after)
{
	CHECK(after, hx_serves_normal_client(D.port));
}

/* Suite */

static inline int suite_init(void)
{
	if (hx_daemon_start(&D, NULL) < 0) {
		fprintf(stderr, "cannot start the daemon ($MCPCHATD=%s)\n", getenv("MCPCHATD"));
		return -1;
	}
	if (hx_initialize(D.port, NULL, SID, sizeof(SID)) < 0)
		return -1;
	return 0;
}

/* The daemon must exit 0 on SIGTERM (under the sanitizers: no leak, no memory error): the
 * cases check it in their last test, the table here (a failed cleanup fails the run). */
static inline int suite_clean(void)
{
	int rc = 0;

	if (D.pid > 0) {
		rc = hx_daemon_stop(&D);
		unlink(D.log_path);
	}
	return rc == 0 ? 0 : -1;
}

/* One suite, its tests added by add_tests; 0 when all passed. */
static inline int e2e_http_main(const char *suite, int (*add_tests)(CU_pSuite))
{
	CU_pSuite s;
	unsigned failed;

	if (CU_initialize_registry() != CUE_SUCCESS)
		return 1;
	s = CU_add_suite(suite, suite_init, suite_clean);
	if (!s || add_tests(s) < 0) {
		CU_cleanup_registry();
		return 1;
	}
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	failed = CU_get_number_of_tests_failed() + CU_get_number_of_failures() +
		 CU_get_number_of_suites_failed();
	CU_cleanup_registry();
	return failed ? 1 : 0;
}

#endif
