#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <mcpchat/version.h>

#include "mcp_harness.h"
#include "mcp_stream.h"
#include "util/log.h"

/* The MCP layer without sockets (2025 sessions): hand-built requests, fake sinks capturing the
 * HTTP bytes (mcp_harness.h). This file: how sessions end: idle,
 * DELETE, the session cap, shutdown, the reconnect grace. */

static void test_idle_session_ends(void)
{
	char id[MCP_SESSION_ID_LEN + 1];
	struct reply rp;

	W.cfg.session_idle_timeout_ms = 1;
	init_session(id);
	usleep(5000);
	timer_run(&W.heap, timer_now_ms());
	CU_ASSERT_PTR_NULL(sess(id));
	rpc(id, "ping", NULL, 1, &rp);
	expect_refusal(&rp, 404, -32001);
	reply_free(&rp);
}

/* Tests: DELETE, cap, shutdown */

static void test_delete(void)
{
	char id[MCP_SESSION_ID_LEN + 1];
	struct http_request req;
	struct fake_sink *f;
	struct reply rp;
	struct sse e;
	bool ended;

	init_session(id);
	f = open_stream(id);
	req = req_new(HTTP_M_DELETE, id);
	do_req(&req, &rp);
	CU_ASSERT_EQUAL(rp.r.status, 200);
	CU_ASSERT_EQUAL(rp.d, MCP_DONE);
	reply_free(&rp);
	CU_ASSERT_PTR_NULL(sess(id));
	/* Its stream ended cleanly with the last chunk: the connection may go on (keep-alive). */
	CU_ASSERT_TRUE_FATAL(f->out.len >= 5);
	CU_ASSERT_EQUAL(memcmp(f->out.p + f->out.len - 5, "0\r\n\r\n", 5), 0);
	stream_events(f, &e, &ended);
	CU_ASSERT_TRUE(ended);
	sse_free(&e);
	CU_ASSERT_EQUAL(f->resumes, 1);
	CU_ASSERT_TRUE(f->resume_keep_alive);
	CU_ASSERT_EQUAL(f->aborts, 0);
	CU_ASSERT_PTR_NULL(f->sink.stream_of);
	CU_ASSERT_EQUAL(stats().streams, 0);
	sink_close(f);
	rpc(id, "ping", NULL, 1, &rp);
	expect_refusal(&rp, 404, -32001);
	reply_free(&rp);
	do_req(&req, &rp);
	expect_refusal(&rp, 404, -32001);
	reply_free(&rp);
	CU_ASSERT_EQUAL(stats().sessions, 0);
}

static void test_session_cap(void)
{
	char a[MCP_SESSION_ID_LEN + 1], b[MCP_SESSION_ID_LEN + 1];
	struct http_request del;
	struct reply rp;
	char retry[16];

	world_down();
	world_up(2);
	CU_ASSERT_PTR_NOT_NULL_FATAL(W.srv);
	init_session(a);
	init_session(b);
	rpc(NULL, "initialize", "{\"protocolVersion\":\"" NEWEST "\"}", 1, &rp);
	expect_refusal(&rp, 503, -32000);
	CU_ASSERT_TRUE(header_get(&rp.r, "Retry-After", retry, sizeof(retry)));
	CU_ASSERT_TRUE(atoi(retry) > 0);
	reply_free(&rp);
	CU_ASSERT_EQUAL(stats().sessions, 2);
	del = req_new(HTTP_M_DELETE, a);
	do_req(&del, &rp);
	CU_ASSERT_EQUAL(rp.r.status, 200);
	reply_free(&rp);
	init_session(a);
	CU_ASSERT_EQUAL(stats().sessions, 2);
}

static void test_shutdown(void)
{
	char a[MCP_SESSION_ID_LEN + 1], b[MCP_SESSION_ID_LEN + 1];
	struct fake_sink *fs, *fw;
	struct reply rp;
	struct sse e;
	bool ended;
	cJSON *msg;

	init_session(a);
	init_session(b);
	fs = open_stream(a);
	fw = sink_new();
	CU_ASSERT_EQUAL(post_wait(b, fw, "{\"timeout_s\":30}", 11), MCP_PENDING);
	expect_pending_head(fw);
	mcp_server_shutdown(W.srv);
	/* The stream ended cleanly (last chunk, keep-alive like any session end); during
	 * shutdown the connection layer closes the connection anyway. */
	stream_events(fs, &e, &ended);
	CU_ASSERT_TRUE(ended);
	CU_ASSERT_EQUAL(e.n, 0);
	sse_free(&e);
	CU_ASSERT_EQUAL(fs->resumes, 1);
	CU_ASSERT_TRUE(fs->resume_keep_alive);
	CU_ASSERT_EQUAL(fs->aborts, 0);
	CU_ASSERT_PTR_NULL(fs->sink.stream_of);
	/* The waiting call answered with what it had. */
	msg = expect_deferred_answer(fw, 11);
	CU_ASSERT_EQUAL(cJSON_GetArraySize(jget(msg, "result.structuredContent.events")), 0);
	cJSON_Delete(msg);
	CU_ASSERT_EQUAL(stats().sessions, 0);
	CU_ASSERT_EQUAL(stats().streams, 0);
	CU_ASSERT_EQUAL(stats().calls_waiting, 0);
	CU_ASSERT_TRUE(mcp_server_idle(W.srv));
	sink_close(fs);
	sink_close(fw);
	/* New requests: 503. */
	rpc(NULL, "initialize", "{\"protocolVersion\":\"" NEWEST "\"}", 1, &rp);
	CU_ASSERT_EQUAL(rp.r.status, 503);
	CU_ASSERT_TRUE(header_get(&rp.r, "Retry-After", (char[16]){ 0 }, 16));
	CU_ASSERT_EQUAL(jnum(rp.json, "error.code"), -32000);
	reply_free(&rp);
	rpc(a, "ping", NULL, 2, &rp);
	CU_ASSERT_EQUAL(rp.r.status, 503);
	reply_free(&rp);
	CU_ASSERT_EQUAL(stats().sessions, 0);
}

static void test_idle_not_while_streaming(void)
{
	char id[MCP_SESSION_ID_LEN + 1];
	struct fake_sink *f;

	W.cfg.session_idle_timeout_ms = 1;
	init_session(id);
	f = open_stream(id);
	usleep(5000);
	timer_run(&W.heap, timer_now_ms());
	CU_ASSERT_PTR_NOT_NULL(sess(id));
	CU_ASSERT_EQUAL(f->resumes, 0);
	sink_close(f);
	usleep(5000);
	timer_run(&W.heap, timer_now_ms());
	CU_ASSERT_PTR_NULL(sess(id));
}

static void test_idle_not_while_waiting(void)
{
	char id[MCP_SESSION_ID_LEN + 1];
	struct fake_sink *f = sink_new();

	W.cfg.session_idle_timeout_ms = 1;
	init_session(id);
	CU_ASSERT_EQUAL(post_wait(id, f, "{\"timeout_s\":30}", 1), MCP_PENDING);
	usleep(5000);
	timer_run(&W.heap, timer_now_ms());
	CU_ASSERT_PTR_NOT_NULL(sess(id));
	CU_ASSERT_EQUAL(f->resumes, 0);
	sink_close(f);
	usleep(5000);
	timer_run(&W.heap, timer_now_ms());
	CU_ASSERT_PTR_NULL(sess(id));
}

/* A session whose push stream closed ends after reconnect_grace_s with reason
 * disconnected, long before session_idle_s; its partner learns it. */
static void test_reconnect_grace_expires(void)
{
	char a[MCP_SESSION_ID_LEN + 1], b[MCP_SESSION_ID_LEN + 1], room[80];
	struct fake_sink *fa;
	enum mcp_disposition d;
	cJSON *j;

	W.cfg.reconnect_grace_ms = 1;
	match_pair(a, b, room);
	fa = open_get(a, NULL, &d);
	CU_ASSERT_EQUAL(d, MCP_STREAMING);
	flush_sink(fa);
	sink_close(fa); /* the client vanished without DELETE */
	CU_ASSERT_PTR_NOT_NULL(sess(a));
	usleep(5000);
	timer_run(&W.heap, timer_now_ms());
	CU_ASSERT_PTR_NULL(sess(a));
	j = call_tool(b, "wait_for_message", "{\"timeout_s\":0}");
	CU_ASSERT_EQUAL(events_in(j), 2);
	CU_ASSERT_STRING_EQUAL(jstr(j, "result.structuredContent.events.1.method"), "partner.disconnected");
	CU_ASSERT_STRING_EQUAL(jstr(j, "result.structuredContent.events.1.params.reason"), "disconnected");
	cJSON_Delete(j);
}

/* Within the grace a new stream (Last-Event-ID) or a request keeps the session: nothing is
 * lost, the partner hears nothing, and the plain idle rule applies again. */
static void test_reconnect_grace_kept(void)
{
	char a[MCP_SESSION_ID_LEN + 1], b[MCP_SESSION_ID_LEN + 1], room[80];
	struct fake_sink *fa;
	enum mcp_disposition d;
	struct reply rp;
	struct sse e;
	cJSON *j;

	W.cfg.reconnect_grace_ms = 20;
	match_pair(a, b, room);
	fa = open_get(a, NULL, &d);
	CU_ASSERT_EQUAL(d, MCP_STREAMING);
	flush_sink(fa);
	sink_close(fa);
	fa = open_get(a, "0", &d); /* resumes from the start */
	CU_ASSERT_EQUAL(d, MCP_STREAMING);
	expect_stream_head(fa, &e);
	CU_ASSERT_EQUAL(e.n, 1); /* chatroom.found again, as asked */
	sse_free(&e);
	usleep(40000);
	timer_run(&W.heap, timer_now_ms());
	CU_ASSERT_PTR_NOT_NULL(sess(a));
	sink_close(fa);
	/* Closed again; a request within the grace keeps it too. */
	rpc(a, "ping", NULL, 3, &rp);
	CU_ASSERT_EQUAL(rp.r.status, 200);
	reply_free(&rp);
	usleep(40000);
	timer_run(&W.heap, timer_now_ms());
	CU_ASSERT_PTR_NOT_NULL(sess(a));
	j = call_tool(b, "wait_for_message", "{\"timeout_s\":0}");
	CU_ASSERT_EQUAL(events_in(j), 1); /* only chatroom.found */
	cJSON_Delete(j);
}

/* A session that never opened a stream keeps the idle rule, however short the grace. */
static void test_reconnect_grace_needs_a_stream(void)
{
	char id[MCP_SESSION_ID_LEN + 1];

	W.cfg.reconnect_grace_ms = 1;
	init_session(id);
	usleep(5000);
	timer_run(&W.heap, timer_now_ms());
	CU_ASSERT_PTR_NOT_NULL(sess(id));
}

int main(void)
{
	static const struct unit_test tests[] = {
		{ "idle session ends", test_idle_session_ends },
		{ "DELETE", test_delete },
		{ "session cap 503", test_session_cap },
		{ "reconnect grace: ends, partner told", test_reconnect_grace_expires },
		{ "reconnect grace: new stream or request keeps it", test_reconnect_grace_kept },
		{ "reconnect grace: only after a stream", test_reconnect_grace_needs_a_stream },
		{ "shutdown", test_shutdown },
		{ "no idle end while streaming", test_idle_not_while_streaming },
		{ "no idle end while waiting", test_idle_not_while_waiting },
		{ NULL, NULL },
	};
	static const struct unit_suite suites[] = {
		{ "mcp_lifecycle", tests, NULL, NULL, setup, teardown },
		{ NULL, NULL, NULL, NULL, NULL, NULL },
	};

	log_set_level(LOG_LVL_WARNING);
	jsonrpc_init(); /* the daemon's cJSON hooks, as main() installs them */
	return unit_main(suites);
}
