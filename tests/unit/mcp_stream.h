#ifndef MCPCHAT_TESTS_MCP_STREAM_H
#define MCPCHAT_TESTS_MCP_STREAM_H

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <mcpchat/version.h>

#include "mcp_harness.h"
#include "util/log.h"

/* The 2025 sessions' helpers shared by test_mcp*.c on top of mcp_harness.h: events pushed on a
 * session and read back off its stream, flow-control checks, the keep-alive interval, the
 * chat tools' queue. Header-only, like mcp_harness.h. */

static inline int64_t push(struct mcp_session *s, const char *params)
{
	return mcp_session_event(W.srv, s, "test.event", params, strlen(params), false);
}

/* The event i of e is the notification method with params.seq == seq and id: seq. */
static inline void expect_event(const struct sse *e, int i, const char *method, uint64_t seq)
{
	CU_ASSERT_TRUE_FATAL(i < e->n);
	CU_ASSERT_EQUAL(e->id[i], seq);
	CU_ASSERT_STRING_EQUAL(jstr(e->msg[i], "jsonrpc"), "2.0");
	CU_ASSERT_STRING_EQUAL(jstr(e->msg[i], "method"), method);
	CU_ASSERT_EQUAL(jnum(e->msg[i], "params.seq"), (double)seq);
	CU_ASSERT_PTR_NULL(jget(e->msg[i], "id"));
}

/* get_status's unread count for a session. */
static inline double status_unread(const char *sid)
{
	cJSON *j = call_tool(sid, "get_status", "{}");
	double n = jnum(j, "result.structuredContent.unread");

	cJSON_Delete(j);
	return n;
}

/* One keep-alive interval passes (W.cfg.sse_keepalive_ms = 1): the ping fires once. */
static inline void ping_interval(void)
{
	usleep(3000);
	timer_run(&W.heap, timer_now_ms());
}

/* Tests: chat through the tools */

static inline void enter_queue(const char *sid, const char *name, const char *want_status)
{
	char args[128];
	cJSON *j;

	snprintf(args, sizeof(args), "{\"display_name\":\"%s\"}", name);
	j = call_tool(sid, "enter_queue", args);
	CU_ASSERT_STRING_EQUAL(jstr(j, "result.structuredContent.status"), want_status);
	CU_ASSERT_PTR_NULL(jget(j, "result.isError"));
	cJSON_Delete(j);
}

/* Two matched sessions; the room id goes to room. */
static inline void match_pair(char a[MCP_SESSION_ID_LEN + 1], char b[MCP_SESSION_ID_LEN + 1], char room[80])
{
	const struct mailbox_event *ev;
	cJSON *p;

	init_session(a);
	init_session(b);
	enter_queue(a, "Alice", "waiting");
	enter_queue(b, "Bob", "matched");
	ev = mailbox_get(&sess(a)->mbox, 1);
	CU_ASSERT_PTR_NOT_NULL_FATAL(ev);
	CU_ASSERT_STRING_EQUAL(ev->method, "chatroom.found");
	p = cJSON_Parse(ev->params);
	snprintf(room, 80, "%s", jstr(p, "room_id"));
	cJSON_Delete(p);
	CU_ASSERT_TRUE(strlen(room) > 0);
}

/* POSTs wait_for_message on sink f. */
static inline enum mcp_disposition post_wait(const char *sid, struct fake_sink *f, const char *args,
				      int rpc_id)
{
	char body[256];
	struct http_request req = req_new(HTTP_M_POST, sid);

	snprintf(body, sizeof(body),
		 "{\"jsonrpc\":\"2.0\",\"id\":%d,\"method\":\"tools/call\",\"params\":"
		 "{\"name\":\"wait_for_message\",\"arguments\":%s}}",
		 rpc_id, args);
	req_body(&req, body);
	return mcp_handle(W.srv, &req, &f->sink);
}

static inline double events_in(const cJSON *j)
{
	return cJSON_GetArraySize(jget(j, "result.structuredContent.events"));
}

#endif
