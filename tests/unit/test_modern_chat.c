#include <cjson/cJSON.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "chat/chat.h"
#include "mcp_harness.h"
#include "util/log.h"

/* The chat over MCP 2026-07-28 without sockets (design-14, "The chat on the modern path"):
 * chat_id minted by enter_queue/join_room, named by every other call, wait_for_message whose
 * `after` acknowledges, parked calls (SSE, progress, cancel by close), chat_idle_s. */

#define CHAT_ID_LEN 22

/* tools/call with printf-made arguments. */
static cJSON *mtoolf(const char *tool, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static cJSON *mtoolf(const char *tool, const char *fmt, ...)
{
	char args[768];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(args, sizeof(args), fmt, ap);
	va_end(ap);
	return mtool(tool, args);
}

/* A tool error of the chat: isError, structuredContent.error (and field when not NULL). */
static void expect_tool_error(const cJSON *j, const char *error, const char *field)
{
	CU_ASSERT_TRUE(cJSON_IsTrue(jget(j, "result.isError")));
	CU_ASSERT_STRING_EQUAL(jstr(j, "result.structuredContent.error"), error);
	if (field)
		CU_ASSERT_STRING_EQUAL(jstr(j, "result.structuredContent.field"), field);
}

/* A new chat by tool (enter_queue or join_room); its chat_id goes to cid. */
static void mint(const char *tool, const char *args, const char *want_status,
		 char cid[CHAT_ID_LEN + 1])
{
	cJSON *j = mtool(tool, args);

	CU_ASSERT_PTR_NULL(jget(j, "result.isError"));
	CU_ASSERT_STRING_EQUAL(jstr(j, "result.structuredContent.status"), want_status);
	CU_ASSERT_EQUAL_FATAL(strlen(jstr(j, "result.structuredContent.chat_id")), CHAT_ID_LEN);
	snprintf(cid, CHAT_ID_LEN + 1, "%s", jstr(j, "result.structuredContent.chat_id"));
	cJSON_Delete(j);
}

/* The MCP session behind a chat_id, or NULL. */
static struct mcp_session *chat_sess(const char *cid)
{
	struct chat_user *u = chat_find(W.chat, cid);

	return u ? chat_user_owner(u) : NULL;
}

/* Two matched modern chats; the room goes to room. */
static void mpair(char a[CHAT_ID_LEN + 1], char b[CHAT_ID_LEN + 1], char room[80])
{
	cJSON *j;

	mint("enter_queue", "{\"display_name\":\"Alice\"}", "waiting", a);
	j = mtool("enter_queue", "{\"display_name\":\"Bob\"}");
	CU_ASSERT_STRING_EQUAL(jstr(j, "result.structuredContent.status"), "matched");
	CU_ASSERT_STRING_EQUAL(jstr(j, "result.structuredContent.partner.display_name"), "Alice");
	snprintf(b, CHAT_ID_LEN + 1, "%s", jstr(j, "result.structuredContent.chat_id"));
	snprintf(room, 80, "%s", jstr(j, "result.structuredContent.room_id"));
	cJSON_Delete(j);
	CU_ASSERT_EQUAL_FATAL(strlen(b), CHAT_ID_LEN);
	CU_ASSERT_STRING_NOT_EQUAL(a, b);
}

static void msend(const char *cid, const char *room, const char *text)
{
	cJSON *j = mtoolf("send_message", "{\"chat_id\":\"%s\",\"room_id\":\"%s\",\"message\":\"%s\"}",
			  cid, room, text);

	CU_ASSERT_PTR_NULL(jget(j, "result.isError"));
	CU_ASSERT_TRUE(strlen(jstr(j, "result.structuredContent.message_id")) > 0);
	cJSON_Delete(j);
}

/* wait_for_message answered at once (timeout_s 0); after < 0 leaves it out. */
static cJSON *mpoll(const char *cid, long after)
{
	if (after < 0)
		return mtoolf("wait_for_message", "{\"chat_id\":\"%s\",\"timeout_s\":0}", cid);
	return mtoolf("wait_for_message", "{\"chat_id\":\"%s\",\"after\":%ld,\"timeout_s\":0}", cid,
		      after);
}

static double unread(const char *cid)
{
	cJSON *j = mtoolf("get_status", "{\"chat_id\":\"%s\"}", cid);
	double n = jnum(j, "result.structuredContent.unread");

	cJSON_Delete(j);
	return n;
}

/* Tests: identity */

static void test_mint_enter_and_join(void)
{
	char a[CHAT_ID_LEN + 1], b[CHAT_ID_LEN + 1], c[CHAT_ID_LEN + 1], sid[MCP_SESSION_ID_LEN + 1];
	struct mcp_session_view v;
	struct mcp_session *s;
	struct reply rp;

	mint("enter_queue", "{\"display_name\":\"Alice\"}", "waiting", a);
	CU_ASSERT_EQUAL(strspn(a, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"),
			CHAT_ID_LEN);
	CU_ASSERT_EQUAL(stats().sessions, 1);
	mint("join_room", "{\"room_id\":\"r1\"}", "waiting", b);
	mint("join_room", "{\"room_id\":\"r1\",\"display_name\":\"Carol\"}", "matched", c);
	CU_ASSERT_STRING_NOT_EQUAL(a, b);
	CU_ASSERT_STRING_NOT_EQUAL(b, c);
	CU_ASSERT_EQUAL(stats().sessions, 3);
	/* The session view says modern: no session id, the 2026-07-28 protocol. */
	s = chat_sess(a);
	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	CU_ASSERT_TRUE(mcp_session_modern(s));
	mcp_session_view(s, &v);
	CU_ASSERT_TRUE(v.modern);
	CU_ASSERT_STRING_EQUAL(v.protocol_version, "2026-07-28");
	CU_ASSERT_FALSE(v.stream);
	/* A 2025 session's view does not. */
	s = init_session(sid);
	mcp_session_view(s, &v);
	CU_ASSERT_FALSE(v.modern);
	CU_ASSERT_FALSE(mcp_session_modern(s));
	CU_ASSERT_STRING_EQUAL(v.protocol_version, "2025-11-25");
	/* A modern chat's session id never left the server and is never accepted. */
	rpc(chat_sess(a)->id, "tools/list", NULL, 1, &rp);
	expect_refusal(&rp, 404, -32001);
	reply_free(&rp);
	rpc(chat_sess(a)->id, "ping", NULL, 2, &rp);
	expect_refusal(&rp, 404, -32001);
	reply_free(&rp);
}

/* A mint whose call is refused leaves no chat behind (and nobody in the queue). */
static void test_refused_mint_leaves_nothing(void)
{
	static const struct {
		const char *tool, *args, *error, *field;
	} rows[] = {
		{ "enter_queue", "{\"display_name\":5}", "invalid_arguments", "display_name" },
		{ "enter_queue", "{\"interests\":\"x\"}", "invalid_arguments", "interests" },
		{ "enter_queue", "{\"chat_id\":5}", "invalid_arguments", "chat_id" },
		{ "join_room", "{}", "invalid_arguments", "room_id" },
		{ "join_room", "{\"room_id\":\"r\",\"display_name\":[]}", "invalid_arguments",
		  "display_name" },
		{ "join_room", "{\"room_id\":\"not a room id!\"}", "invalid_arguments", "room_id" },
		{ "enter_queue", "{\"chat_id\":\"AAAAAAAAAAAAAAAAAAAAAA\"}", "chat_expired", NULL },
	};
	char a[CHAT_ID_LEN + 1];

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		cJSON *j = mtool(rows[i].tool, rows[i].args);

		CHECKF(strcmp(jstr(j, "result.structuredContent.error"), rows[i].error) == 0,
		       "%s %s: error %s", rows[i].tool, rows[i].args,
		       jstr(j, "result.structuredContent.error"));
		expect_tool_error(j, rows[i].error, rows[i].field);
		CU_ASSERT_PTR_NULL(jget(j, "result.structuredContent.chat_id"));
		cJSON_Delete(j);
		CHECKF(stats().sessions == 0, "%s %s left %u sessions", rows[i].tool, rows[i].args,
		       stats().sessions);
	}
	/* No ghost waits in the queue or the room: the next ones wait. */
	mint("enter_queue", "{}", "waiting", a);
	mint("join_room", "{\"room_id\":\"r\"}", "waiting", a);
	CU_ASSERT_EQUAL(stats().sessions, 2);
}

/* At the session cap a new chat cannot start: unavailable, with when to try again; the chats
 * that exist go on. */
static void test_mint_at_cap_unavailable(void)
{
	char a[CHAT_ID_LEN + 1], b[CHAT_ID_LEN + 1];
	cJSON *j;

	world_down();
	world_up(2);
	mint("join_room", "{\"room_id\":\"cap\"}", "waiting", a);
	mint("join_room", "{\"room_id\":\"cap\"}", "matched", b);
	j = mtool("enter_queue", "{}");
	expect_tool_error(j, "unavailable", NULL);
	CU_ASSERT_EQUAL(jnum(j, "result.structuredContent.retry_after_ms"), 5000);
	CU_ASSERT_PTR_NULL(jget(j, "result.structuredContent.chat_id"));
	cJSON_Delete(j);
	CU_ASSERT_EQUAL(stats().sessions, 2);
	j = mtoolf("send_message", "{\"chat_id\":\"%s\",\"room_id\":\"cap\",\"message\":\"still here\"}", a);
	CU_ASSERT_PTR_NULL(jget(j, "result.isError"));
	cJSON_Delete(j);
}

static void test_chat_id_required(void)
{
	static const char *const tools[] = { "send_message", "wait_for_message", "leave_chat",
					     "get_status" };

	for (size_t i = 0; i < sizeof(tools) / sizeof(tools[0]); i++) {
		cJSON *j = mtool(tools[i], "{\"room_id\":\"r\",\"message\":\"hi\",\"timeout_s\":0}");

		expect_tool_error(j, "invalid_arguments", "chat_id");
		cJSON_Delete(j);
	}
	CU_ASSERT_EQUAL(stats().sessions, 0);
	CU_ASSERT_EQUAL(stats().calls_waiting, 0);
}

static void test_unknown_chat_id(void)
{
	static const char *const tools[] = { "send_message", "wait_for_message", "leave_chat",
					     "get_status", "join_room" };

	for (size_t i = 0; i < sizeof(tools) / sizeof(tools[0]); i++) {
		cJSON *j = mtoolf(tools[i], "{\"chat_id\":\"%s\",\"room_id\":\"r\",\"message\":\"hi\","
					    "\"timeout_s\":0}", "AAAAAAAAAAAAAAAAAAAAAA");

		expect_tool_error(j, "chat_expired", NULL);
		cJSON_Delete(j);
	}
	CU_ASSERT_EQUAL(stats().sessions, 0);
}

/* A chat_id from a 2025 session names the same chat on the modern path. */
static void test_2025_chat_id_on_modern(void)
{
	char sid[MCP_SESSION_ID_LEN + 1], old[CHAT_ID_LEN + 1], m[CHAT_ID_LEN + 1], room[80];
	struct mcp_session *s = init_session(sid);
	cJSON *j;

	j = call_tool(sid, "enter_queue", "{\"display_name\":\"Old\"}");
	snprintf(old, sizeof(old), "%s", jstr(j, "result.structuredContent.chat_id"));
	cJSON_Delete(j);
	CU_ASSERT_EQUAL_FATAL(strlen(old), CHAT_ID_LEN);
	CU_ASSERT_PTR_EQUAL(chat_sess(old), s);
	j = mtoolf("get_status", "{\"chat_id\":\"%s\"}", old);
	CU_ASSERT_PTR_NULL(jget(j, "result.isError"));
	CU_ASSERT_STRING_EQUAL(jstr(j, "result.structuredContent.state"), "waiting");
	cJSON_Delete(j);
	/* A modern chat meets it; both sides talk, the old one over the modern path. */
	j = mtool("enter_queue", "{\"display_name\":\"New\"}");
	CU_ASSERT_STRING_EQUAL(jstr(j, "result.structuredContent.status"), "matched");
	CU_ASSERT_STRING_EQUAL(jstr(j, "result.structuredContent.partner.display_name"), "Old");
	snprintf(m, sizeof(m), "%s", jstr(j, "result.structuredContent.chat_id"));
	snprintf(room, sizeof(room), "%s", jstr(j, "result.structuredContent.room_id"));
	cJSON_Delete(j);
	msend(old, room, "from-old");
	j = mpoll(m, 0);
	CU_ASSERT_STRING_EQUAL(jstr(j, "result.structuredContent.events.1.params.message"), "from-old");
	cJSON_Delete(j);
	msend(m, room, "from-new");
	j = mpoll(old, 0);
	CU_ASSERT_STRING_EQUAL(jstr(j, "result.structuredContent.events.0.method"), "chatroom.found");
	CU_ASSERT_STRING_EQUAL(jstr(j, "result.structuredContent.events.1.params.message"), "from-new");
	cJSON_Delete(j);
	/* The 2025 session is still itself. */
	j = call_tool(sid, "get_status", "{}");
	CU_ASSERT_STRING_EQUAL(jstr(j, "result.structuredContent.state"), "in_room");
	cJSON_Delete(j);
	CU_ASSERT_FALSE(mcp_session_modern(s));
	CU_ASSERT_EQUAL(stats().sessions, 2);
}

/* Tests: messages and wait_for_message */

static void test_two_modern_chats_both_ways(void)
{
	char a[CHAT_ID_LEN + 1], b[CHAT_ID_LEN + 1], room[80];
	cJSON *j;

	mpair(a, b, room);
	msend(b, room, "hello A");
	j = mpoll(a, 0);
	CU_ASSERT_EQUAL_FATAL(cJSON_GetArraySize(jget(j, "result.structuredContent.events")), 2);
	CU_ASSERT_STRING_EQUAL(jstr(j, "result.structuredContent.events.0.method"), "chatroom.found");
	CU_ASSERT_EQUAL(jnum(j, "result.structuredContent.events.0.params.seq"), 1);
	CU_ASSERT_STRING_EQUAL(jstr(j, "result.structuredContent.events.0.params.room_id"), room);
	CU_ASSERT_STRING_EQUAL(jstr(j, "result.structuredContent.events.1.method"), "message.received");
	CU_ASSERT_EQUAL(jnum(j, "result.structuredContent.events.1.params.seq"), 2);
	CU_ASSERT_STRING_EQUAL(jstr(j, "result.structuredContent.events.1.params.message"), "hello A");
	CU_ASSERT_STRING_EQUAL(jstr(j, "result.structuredContent.events.1.params.sender.display_name"),
			       "Bob");
	CU_ASSERT_EQUAL(jnum(j, "result.structuredContent.next"), 2);
	cJSON_Delete(j);
	msend(a, room, "hello B");
	j = mpoll(b, 1);
	CU_ASSERT_EQUAL_FATAL(cJSON_GetArraySize(jget(j, "result.structuredContent.events")), 1);
	CU_ASSERT_STRING_EQUAL(jstr(j, "result.structuredContent.events.0.params.message"), "hello B");
	CU_ASSERT_STRING_EQUAL(jstr(j, "result.structuredContent.events.0.params.sender.display_name"),
			       "Alice");
	cJSON_Delete(j);
	/* leave_chat: the partner hears it. */
	j = mtoolf("leave_chat", "{\"chat_id\":\"%s\",\"room_id\":\"%s\"}", a, room);
	CU_ASSERT_PTR_NULL(jget(j, "result.isError"));
	cJSON_Delete(j);
	j = mpoll(b, 2);
	CU_ASSERT_STRING_EQUAL(jstr(j, "result.structuredContent.events.0.method"),
			       "partner.disconnected");
	cJSON_Delete(j);
}

/* `after` is the acknowledgement: the same after returns the same events; a larger one
 * acknowledges (get_status's unread drops). */
static void test_after_acknowledges(void)
{
	char a[CHAT_ID_LEN + 1], b[CHAT_ID_LEN + 1], room[80];
	char *first, *again;
	cJSON *j;

	mpair(a, b, room);
	msend(b, room, "one");
	msend(b, room, "two");
	CU_ASSERT_EQUAL(unread(a), 3);
	j = mpoll(a, 0);
	CU_ASSERT_EQUAL(cJSON_GetArraySize(jget(j, "result.structuredContent.events")), 3);
	CU_ASSERT_EQUAL(jnum(j, "result.structuredContent.next"), 3);
	first = cJSON_PrintUnformatted(jget(j, "result.structuredContent"));
	cJSON_Delete(j);
	CU_ASSERT_EQUAL(unread(a), 3); /* returned, not acknowledged */
	/* The answer was lost: the same call again gets the same events. */
	j = mpoll(a, 0);
	again = cJSON_PrintUnformatted(jget(j, "result.structuredContent"));
	cJSON_Delete(j);
	CU_ASSERT_STRING_EQUAL(first, again);
	cJSON_free(first);
	cJSON_free(again);
	/* after 1 acknowledges chatroom.found. */
	j = mpoll(a, 1);
	CU_ASSERT_EQUAL(cJSON_GetArraySize(jget(j, "result.structuredContent.events")), 2);
	CU_ASSERT_STRING_EQUAL(jstr(j, "result.structuredContent.events.0.params.message"), "one");
	cJSON_Delete(j);
	CU_ASSERT_EQUAL(unread(a), 2);
	j = mpoll(a, 3);
	CU_ASSERT_EQUAL(cJSON_GetArraySize(jget(j, "result.structuredContent.events")), 0);
	CU_ASSERT_EQUAL(jnum(j, "result.structuredContent.next"), 3);
	cJSON_Delete(j);
	CU_ASSERT_EQUAL(unread(a), 0);
	/* Without after: the next of the last answer. */
	msend(b, room, "three");
	j = mpoll(a, -1);
	CU_ASSERT_EQUAL(cJSON_GetArraySize(jget(j, "result.structuredContent.events")), 1);
	CU_ASSERT_STRING_EQUAL(jstr(j, "result.structuredContent.events.0.params.message"), "three");
	CU_ASSERT_EQUAL(jnum(j, "result.structuredContent.next"), 4);
	cJSON_Delete(j);
	CU_ASSERT_EQUAL(unread(a), 1);
	j = mpoll(a, -1); /* acknowledges 4 and finds nothing */
	CU_ASSERT_EQUAL(cJSON_GetArraySize(jget(j, "result.structuredContent.events")), 0);
	cJSON_Delete(j);
	CU_ASSERT_EQUAL(unread(a), 0);
}

/* Tests: parked calls */

static void test_parked_woken_by_message(void)
{
	char a[CHAT_ID_LEN + 1], b[CHAT_ID_LEN + 1], room[80], args[128];
	struct fake_sink *f;
	cJSON *msg;

	mpair(a, b, room);
	f = sink_new();
	snprintf(args, sizeof(args), "{\"chat_id\":\"%s\",\"after\":1,\"timeout_s\":30}", a);
	CU_ASSERT_EQUAL(mwait_on(f, args, NULL, 9), MCP_PENDING);
	expect_pending_head(f); /* the SSE head at once, nothing else */
	CU_ASSERT_EQUAL(stats().calls_waiting, 1);
	msend(b, room, "wake up");
	msg = expect_deferred_answer(f, 9);
	expect_modern_result(msg);
	CU_ASSERT_PTR_NULL(jget(msg, "result.ttlMs"));
	CU_ASSERT_EQUAL(cJSON_GetArraySize(jget(msg, "result.structuredContent.events")), 1);
	CU_ASSERT_STRING_EQUAL(jstr(msg, "result.structuredContent.events.0.params.message"), "wake up");
	CU_ASSERT_EQUAL(jnum(msg, "result.structuredContent.next"), 2);
	cJSON_Delete(msg);
	CU_ASSERT_EQUAL(stats().calls_waiting, 0);
	sink_close(f);
	CU_ASSERT_EQUAL(unread(a), 1); /* returned, acknowledged only by a later after */
}

/* The keep-alive of a parked call: notifications/progress with the request's token (growing
 * progress), else a comment. The keep-alive re-arms on the real clock: 1 ms and a sleep. */
static void expect_progress(struct fake_sink *f, const char *token_json, double progress)
{
	struct sse e;
	bool ended;
	char *tok;

	usleep(3000);
	timer_run(&W.heap, timer_now_ms());
	stream_events(f, &e, &ended);
	CU_ASSERT_FALSE(ended);
	CU_ASSERT_EQUAL_FATAL(e.n, 1);
	CU_ASSERT_STRING_EQUAL(jstr(e.msg[0], "method"), "notifications/progress");
	CU_ASSERT_PTR_NULL(jget(e.msg[0], "id"));
	tok = cJSON_PrintUnformatted(jget(e.msg[0], "params.progressToken"));
	CU_ASSERT_STRING_EQUAL(tok, token_json);
	cJSON_free(tok);
	CU_ASSERT_EQUAL(jnum(e.msg[0], "params.progress"), progress);
	sse_free(&e);
}

static void test_progress_token(void)
{
	char a[CHAT_ID_LEN + 1], b[CHAT_ID_LEN + 1], args[128];
	struct fake_sink *f, *g, *h;
	struct sse e;
	bool ended;

	W.cfg.sse_keepalive_ms = 1;
	mint("enter_queue", "{}", "waiting", a);
	mint("join_room", "{\"room_id\":\"p\"}", "waiting", b);
	f = sink_new();
	snprintf(args, sizeof(args), "{\"chat_id\":\"%s\",\"timeout_s\":30}", a);
	CU_ASSERT_EQUAL(mwait_on(f, args, "\"progressToken\":\"tok-1\"", 10), MCP_PENDING);
	expect_pending_head(f);
	expect_progress(f, "\"tok-1\"", 1);
	expect_progress(f, "\"tok-1\"", 2);
	expect_progress(f, "\"tok-1\"", 3);
	/* A numeric token, on another chat's call. */
	g = sink_new();
	snprintf(args, sizeof(args), "{\"chat_id\":\"%s\",\"timeout_s\":30}", b);
	CU_ASSERT_EQUAL(mwait_on(g, args, "\"progressToken\":17", 11), MCP_PENDING);
	expect_pending_head(g);
	sink_close(f);
	expect_progress(g, "17", 1);
	sink_close(g);
	/* No token (or one of another type): comments. */
	h = sink_new();
	snprintf(args, sizeof(args), "{\"chat_id\":\"%s\",\"timeout_s\":30}", a);
	CU_ASSERT_EQUAL(mwait_on(h, args, "\"progressToken\":{\"x\":1}", 12), MCP_PENDING);
	expect_pending_head(h);
	usleep(3000);
	timer_run(&W.heap, timer_now_ms());
	stream_events(h, &e, &ended);
	CU_ASSERT_EQUAL(e.n, 0);
	CU_ASSERT_EQUAL(e.comments, 1);
	sse_free(&e);
	sink_close(h);
	CU_ASSERT_EQUAL(stats().calls_waiting, 0);
}

static void test_close_cancels_parked(void)
{
	char a[CHAT_ID_LEN + 1], b[CHAT_ID_LEN + 1], room[80], args[128];
	struct mcp_session *sa;
	struct fake_sink *f;
	cJSON *j;

	mpair(a, b, room);
	sa = chat_sess(a);
	f = sink_new();
	snprintf(args, sizeof(args), "{\"chat_id\":\"%s\",\"after\":1,\"timeout_s\":30}", a);
	CU_ASSERT_EQUAL(mwait_on(f, args, NULL, 13), MCP_PENDING);
	expect_pending_head(f);
	mcp_sink_closed(W.srv, &f->sink);
	CU_ASSERT_PTR_NULL(f->sink.call);
	CU_ASSERT_PTR_NULL(sa->calls);
	CU_ASSERT_EQUAL(sa->busy, 0);
	CU_ASSERT_EQUAL(stats().calls_waiting, 0);
	msend(b, room, "still there?");
	CU_ASSERT_EQUAL(f->out.len, 0);
	CU_ASSERT_EQUAL(f->resumes, 0);
	sink_release(f);
	/* Nothing was lost: the next call gets it. */
	j = mpoll(a, 1);
	CU_ASSERT_STRING_EQUAL(jstr(j, "result.structuredContent.events.0.params.message"),
			       "still there?");
	cJSON_Delete(j);
}

/* Tests: chat_idle_s */

static void test_chat_idle_expires(void)
{
	char a[CHAT_ID_LEN + 1], b[CHAT_ID_LEN + 1], room[80], args[128];
	struct mcp_session *sa;
	struct fake_sink *f;
	cJSON *msg, *j;

	W.cfg.chat_idle_ms = 1000;
	mpair(a, b, room);
	sa = chat_sess(a);
	CU_ASSERT_PTR_NOT_NULL_FATAL(sa);
	/* b waits (and so does not expire); a says nothing more. */
	f = sink_new();
	snprintf(args, sizeof(args), "{\"chat_id\":\"%s\",\"after\":1,\"timeout_s\":300}", b);
	CU_ASSERT_EQUAL(mwait_on(f, args, NULL, 14), MCP_PENDING);
	expect_pending_head(f);
	/* Not yet. */
	timer_run(&W.heap, sa->active_ms + W.cfg.chat_idle_ms - 1);
	CU_ASSERT_PTR_NOT_NULL(chat_find(W.chat, a));
	CU_ASSERT_EQUAL(f->out.len, 0);
	/* chat_idle_s after a's last call (run exactly then: b, woken, restarts its own clock
	 * on the real one, which is later). */
	usleep(2000);
	timer_run(&W.heap, sa->active_ms + W.cfg.chat_idle_ms);
	CU_ASSERT_PTR_NULL(chat_find(W.chat, a));
	msg = expect_deferred_answer(f, 14);
	expect_modern_result(msg);
	CU_ASSERT_STRING_EQUAL(jstr(msg, "result.structuredContent.events.0.method"),
			       "partner.disconnected");
	CU_ASSERT_STRING_EQUAL(jstr(msg, "result.structuredContent.events.0.params.reason"), "timeout");
	CU_ASSERT_STRING_EQUAL(jstr(msg, "result.structuredContent.events.0.params.room_id"), room);
	cJSON_Delete(msg);
	sink_close(f);
	/* a's chat_id now answers chat_expired; b lives on. */
	j = mtoolf("get_status", "{\"chat_id\":\"%s\"}", a);
	expect_tool_error(j, "chat_expired", NULL);
	cJSON_Delete(j);
	CU_ASSERT_EQUAL(stats().sessions, 1);
	j = mtoolf("get_status", "{\"chat_id\":\"%s\"}", b);
	CU_ASSERT_STRING_EQUAL(jstr(j, "result.structuredContent.state"), "idle");
	cJSON_Delete(j);
	/* And b too, once silent. */
	timer_run(&W.heap, timer_now_ms() + 2 * W.cfg.chat_idle_ms);
	CU_ASSERT_EQUAL(stats().sessions, 0);
}

static void test_chat_idle_not_while_parked(void)
{
	char a[CHAT_ID_LEN + 1], b[CHAT_ID_LEN + 1], room[80], args[128];
	struct fake_sink *fa, *fb;
	struct mcp_session *sa;
	cJSON *msg;

	W.cfg.chat_idle_ms = 1000;
	mpair(a, b, room);
	sa = chat_sess(a);
	fa = sink_new();
	fb = sink_new();
	snprintf(args, sizeof(args), "{\"chat_id\":\"%s\",\"after\":1,\"timeout_s\":300}", a);
	CU_ASSERT_EQUAL(mwait_on(fa, args, NULL, 15), MCP_PENDING);
	snprintf(args, sizeof(args), "{\"chat_id\":\"%s\",\"after\":1,\"timeout_s\":300}", b);
	CU_ASSERT_EQUAL(mwait_on(fb, args, NULL, 16), MCP_PENDING);
	expect_pending_head(fa);
	expect_pending_head(fb);
	/* Five idle periods pass (the keep-alive, 15 s, does not come up): both wait on. */
	timer_run(&W.heap, timer_now_ms() + 5 * W.cfg.chat_idle_ms);
	CU_ASSERT_EQUAL(stats().sessions, 2);
	CU_ASSERT_EQUAL(stats().calls_waiting, 2);
	CU_ASSERT_EQUAL(fa->out.len + fb->out.len, 0);
	/* a's client goes away: a's clock runs from its last request, b is told "timeout". */
	sink_close(fa);
	usleep(2000);
	timer_run(&W.heap, sa->active_ms + W.cfg.chat_idle_ms);
	CU_ASSERT_PTR_NULL(chat_find(W.chat, a));
	msg = expect_deferred_answer(fb, 16);
	CU_ASSERT_STRING_EQUAL(jstr(msg, "result.structuredContent.events.0.params.reason"), "timeout");
	cJSON_Delete(msg);
	sink_close(fb);
	CU_ASSERT_PTR_NOT_NULL(chat_find(W.chat, b));
}

int main(void)
{
	static const struct unit_test tests[] = {
		{ "mint at the session cap: unavailable", test_mint_at_cap_unavailable },
		{ "enter_queue and join_room mint chat_ids", test_mint_enter_and_join },
		{ "a refused mint leaves nothing", test_refused_mint_leaves_nothing },
		{ "chat_id required", test_chat_id_required },
		{ "unknown chat_id: chat_expired", test_unknown_chat_id },
		{ "a 2025 chat_id on the modern path", test_2025_chat_id_on_modern },
		{ "two modern chats, both ways", test_two_modern_chats_both_ways },
		{ "after acknowledges", test_after_acknowledges },
		{ "parked call woken by a message", test_parked_woken_by_message },
		{ "progressToken: notifications/progress", test_progress_token },
		{ "closing the stream cancels a parked call", test_close_cancels_parked },
		{ "chat_idle_s: a silent chat expires", test_chat_idle_expires },
		{ "chat_idle_s: not while parked", test_chat_idle_not_while_parked },
		{ NULL, NULL },
	};
	static const struct unit_suite suites[] = {
		{ "modern_chat", tests, NULL, NULL, setup, teardown },
		{ NULL, NULL, NULL, NULL, NULL, NULL },
	};

	log_set_level(LOG_LVL_WARNING);
	jsonrpc_init();
	return unit_main(suites);
}
