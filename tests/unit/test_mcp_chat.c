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
 * HTTP bytes (mcp_harness.h). This file: the chat through the tools:
 * wait_for_message, cancellation, chat_id, mailbox capacity. */

static void test_chat_match_and_message(void)
{
	char a[MCP_SESSION_ID_LEN + 1], b[MCP_SESSION_ID_LEN + 1], args[256];
	struct fake_sink *fa, *fb;
	struct sse e;
	bool ended;
	cJSON *j;
	char room[80];

	init_session(a);
	init_session(b);
	fa = open_stream(a);
	fb = open_stream(b);
	enter_queue(a, "Alice", "waiting");
	j = call_tool(b, "enter_queue", "{\"display_name\":\"Bob\"}");
	CU_ASSERT_STRING_EQUAL(jstr(j, "result.structuredContent.status"), "matched");
	CU_ASSERT_STRING_EQUAL(jstr(j, "result.structuredContent.partner.display_name"), "Alice");
	snprintf(room, sizeof(room), "%s", jstr(j, "result.structuredContent.room_id"));
	cJSON_Delete(j);
	/* chatroom.found on both streams. */
	stream_events(fa, &e, &ended);
	CU_ASSERT_EQUAL_FATAL(e.n, 1);
	expect_event(&e, 0, "chatroom.found", 1);
	CU_ASSERT_STRING_EQUAL(jstr(e.msg[0], "params.room_id"), room);
	CU_ASSERT_STRING_EQUAL(jstr(e.msg[0], "params.partner.display_name"), "Bob");
	sse_free(&e);
	stream_events(fb, &e, &ended);
	CU_ASSERT_EQUAL_FATAL(e.n, 1);
	expect_event(&e, 0, "chatroom.found", 1);
	CU_ASSERT_STRING_EQUAL(jstr(e.msg[0], "params.partner.display_name"), "Alice");
	sse_free(&e);
	/* Bob talks; Alice's stream hears it. */
	snprintf(args, sizeof(args), "{\"room_id\":\"%s\",\"message\":\"hello \\\"you\\\"\"}", room);
	j = call_tool(b, "send_message", args);
	CU_ASSERT_PTR_NULL(jget(j, "result.isError"));
	CU_ASSERT_TRUE(strlen(jstr(j, "result.structuredContent.message_id")) > 0);
	CU_ASSERT_TRUE(strlen(jstr(j, "result.structuredContent.timestamp")) > 0);
	stream_events(fa, &e, &ended);
	CU_ASSERT_EQUAL_FATAL(e.n, 1);
	expect_event(&e, 0, "message.received", 2);
	CU_ASSERT_STRING_EQUAL(jstr(e.msg[0], "params.message"), "hello \"you\"");
	CU_ASSERT_STRING_EQUAL(jstr(e.msg[0], "params.sender.display_name"), "Bob");
	CU_ASSERT_STRING_EQUAL(jstr(e.msg[0], "params.room_id"), room);
	CU_ASSERT_STRING_EQUAL(jstr(e.msg[0], "params.message_id"),
			       jstr(j, "result.structuredContent.message_id"));
	sse_free(&e);
	cJSON_Delete(j);
	/* Bob's stream got nothing from his own message. */
	stream_events(fb, &e, &ended);
	CU_ASSERT_EQUAL(e.n, 0);
	sse_free(&e);
	sink_close(fa);
	sink_close(fb);
}

static void test_partner_disconnect_on_delete(void)
{
	char a[MCP_SESSION_ID_LEN + 1], b[MCP_SESSION_ID_LEN + 1], room[80];
	struct http_request del;
	enum mcp_disposition d;
	struct fake_sink *fa;
	struct reply rp;
	struct sse e;
	bool ended;

	match_pair(a, b, room);
	fa = open_get(a, NULL, &d);
	CU_ASSERT_EQUAL(d, MCP_STREAMING);
	expect_stream_head(fa, &e); /* writes chatroom.found */
	CU_ASSERT_EQUAL(e.n, 1);
	sse_free(&e);
	del = req_new(HTTP_M_DELETE, b);
	do_req(&del, &rp);
	CU_ASSERT_EQUAL(rp.r.status, 200);
	reply_free(&rp);
	stream_events(fa, &e, &ended);
	CU_ASSERT_EQUAL_FATAL(e.n, 1);
	expect_event(&e, 0, "partner.disconnected", 2);
	CU_ASSERT_STRING_EQUAL(jstr(e.msg[0], "params.room_id"), room);
	sse_free(&e);
	sink_close(fa);
}

static void test_wait_returns_at_once_with_events(void)
{
	char a[MCP_SESSION_ID_LEN + 1], b[MCP_SESSION_ID_LEN + 1], room[80];
	cJSON *j;

	match_pair(a, b, room);
	j = call_tool(a, "wait_for_message", "{}");
	CU_ASSERT_EQUAL(cJSON_GetArraySize(jget(j, "result.structuredContent.events")), 1);
	CU_ASSERT_STRING_EQUAL(jstr(j, "result.structuredContent.events.0.method"), "chatroom.found");
	CU_ASSERT_EQUAL(jnum(j, "result.structuredContent.events.0.params.seq"), 1);
	CU_ASSERT_STRING_EQUAL(jstr(j, "result.structuredContent.events.0.params.room_id"), room);
	CU_ASSERT_EQUAL(jnum(j, "result.structuredContent.next"), 1);
	cJSON_Delete(j);
	CU_ASSERT_EQUAL(mailbox_unread(&sess(a)->mbox), 0);
	/* timeout_s 0: nothing new, at once. */
	j = call_tool(a, "wait_for_message", "{\"timeout_s\":0}");
	CU_ASSERT_EQUAL(cJSON_GetArraySize(jget(j, "result.structuredContent.events")), 0);
	CU_ASSERT_EQUAL(jnum(j, "result.structuredContent.next"), 1);
	cJSON_Delete(j);
	/* after: 0 replays what is held. */
	j = call_tool(a, "wait_for_message", "{\"after\":0,\"timeout_s\":0}");
	CU_ASSERT_EQUAL(cJSON_GetArraySize(jget(j, "result.structuredContent.events")), 1);
	cJSON_Delete(j);
	CU_ASSERT_EQUAL(stats().calls_waiting, 0);
}

static void test_wait_timeout_zero(void)
{
	char id[MCP_SESSION_ID_LEN + 1];
	cJSON *j;

	init_session(id);
	j = call_tool(id, "wait_for_message", "{\"timeout_s\":0}");
	CU_ASSERT_TRUE(cJSON_IsArray(jget(j, "result.structuredContent.events")));
	CU_ASSERT_EQUAL(cJSON_GetArraySize(jget(j, "result.structuredContent.events")), 0);
	CU_ASSERT_EQUAL(jnum(j, "result.structuredContent.next"), 0);
	cJSON_Delete(j);
	j = call_tool(id, "wait_for_message", "{\"timeout_s\":-1}");
	CU_ASSERT_TRUE(cJSON_IsTrue(jget(j, "result.isError")));
	CU_ASSERT_STRING_EQUAL(jstr(j, "result.structuredContent.field"), "timeout_s");
	cJSON_Delete(j);
	CU_ASSERT_EQUAL(stats().calls_waiting, 0);
}

static void test_wait_pending_then_event(void)
{
	char id[MCP_SESSION_ID_LEN + 1];
	struct mcp_session *s = init_session(id);
	struct fake_sink *f = sink_new();
	cJSON *msg;

	CU_ASSERT_EQUAL(post_wait(id, f, "{\"timeout_s\":30}", 77), MCP_PENDING);
	expect_pending_head(f);
	CU_ASSERT_EQUAL(f->resumes, 0);
	CU_ASSERT_PTR_NOT_NULL(f->sink.call);
	CU_ASSERT_EQUAL(stats().calls_waiting, 1);
	CU_ASSERT_FALSE(mcp_server_idle(W.srv));
	CU_ASSERT_EQUAL(push(s, "{\"x\":5}"), 1);
	msg = expect_deferred_answer(f, 77);
	CU_ASSERT_EQUAL(cJSON_GetArraySize(jget(msg, "result.structuredContent.events")), 1);
	CU_ASSERT_STRING_EQUAL(jstr(msg, "result.structuredContent.events.0.method"), "test.event");
	CU_ASSERT_EQUAL(jnum(msg, "result.structuredContent.events.0.params.x"), 5);
	CU_ASSERT_EQUAL(jnum(msg, "result.structuredContent.events.0.params.seq"), 1);
	CU_ASSERT_EQUAL(jnum(msg, "result.structuredContent.next"), 1);
	cJSON_Delete(msg);
	CU_ASSERT_EQUAL(stats().calls_waiting, 0);
	CU_ASSERT_EQUAL(mailbox_unread(&s->mbox), 0);
	/* Later events do not write to the finished call's connection. */
	push(s, "{}");
	CU_ASSERT_EQUAL(f->out.len, 0);
	CU_ASSERT_EQUAL(f->resumes, 1);
	sink_close(f);
}

static void test_wait_pending_then_partner_message(void)
{
	char a[MCP_SESSION_ID_LEN + 1], b[MCP_SESSION_ID_LEN + 1], room[80], args[160];
	struct fake_sink *f;
	cJSON *j, *msg;

	match_pair(a, b, room);
	j = call_tool(a, "wait_for_message", "{\"timeout_s\":0}"); /* takes chatroom.found */
	cJSON_Delete(j);
	f = sink_new();
	CU_ASSERT_EQUAL(post_wait(a, f, "{}", 5), MCP_PENDING);
	expect_pending_head(f);
	snprintf(args, sizeof(args), "{\"room_id\":\"%s\",\"message\":\"ping?\"}", room);
	j = call_tool(b, "send_message", args);
	CU_ASSERT_PTR_NULL(jget(j, "result.isError"));
	cJSON_Delete(j);
	msg = expect_deferred_answer(f, 5);
	CU_ASSERT_STRING_EQUAL(jstr(msg, "result.structuredContent.events.0.method"), "message.received");
	CU_ASSERT_STRING_EQUAL(jstr(msg, "result.structuredContent.events.0.params.message"), "ping?");
	CU_ASSERT_EQUAL(jnum(msg, "result.structuredContent.next"), 2);
	cJSON_Delete(msg);
	sink_close(f);
}

static void test_wait_times_out(void)
{
	char id[MCP_SESSION_ID_LEN + 1];
	struct fake_sink *f = sink_new();
	uint64_t now;
	cJSON *msg;

	init_session(id);
	CU_ASSERT_EQUAL(post_wait(id, f, "{\"timeout_s\":1}", 3), MCP_PENDING);
	expect_pending_head(f);
	now = timer_now_ms();
	timer_run(&W.heap, now + 500);
	CU_ASSERT_EQUAL(f->out.len, 0);
	CU_ASSERT_EQUAL(f->resumes, 0);
	timer_run(&W.heap, now + 1500);
	msg = expect_deferred_answer(f, 3);
	CU_ASSERT_EQUAL(cJSON_GetArraySize(jget(msg, "result.structuredContent.events")), 0);
	CU_ASSERT_TRUE(cJSON_IsArray(jget(msg, "result.structuredContent.events")));
	cJSON_Delete(msg);
	CU_ASSERT_EQUAL(stats().calls_waiting, 0);
	CU_ASSERT_PTR_NOT_NULL(sess(id));
	sink_close(f);
}

static void test_wait_cancelled_by_close(void)
{
	char id[MCP_SESSION_ID_LEN + 1];
	struct mcp_session *s = init_session(id);
	struct fake_sink *f = sink_new();
	struct reply rp;

	CU_ASSERT_EQUAL(post_wait(id, f, "{\"timeout_s\":1}", 3), MCP_PENDING);
	expect_pending_head(f);
	mcp_sink_closed(W.srv, &f->sink);
	CU_ASSERT_PTR_NULL(f->sink.call);
	CU_ASSERT_PTR_NULL(s->calls);
	CU_ASSERT_EQUAL(stats().calls_waiting, 0);
	CU_ASSERT_EQUAL(s->busy, 0);
	push(s, "{}");
	timer_run(&W.heap, timer_now_ms() + 2000);
	CU_ASSERT_EQUAL(f->out.len, 0);
	CU_ASSERT_EQUAL(f->resumes, 0);
	CU_ASSERT_EQUAL(mailbox_unread(&s->mbox), 1); /* nobody took it */
	sink_release(f); /* mcp_sink_closed() was the close */
	rpc(id, "ping", NULL, 1, &rp); /* the session lives on */
	CU_ASSERT_EQUAL(rp.r.status, 200);
	reply_free(&rp);
}

static void test_wait_keepalive_comment(void)
{
	char id[MCP_SESSION_ID_LEN + 1];
	struct fake_sink *f = sink_new();
	struct sse e;
	bool ended;

	init_session(id);
	W.cfg.sse_keepalive_ms = 1;
	CU_ASSERT_EQUAL(post_wait(id, f, "{\"timeout_s\":30}", 3), MCP_PENDING);
	expect_pending_head(f);
	usleep(5000);
	timer_run(&W.heap, timer_now_ms());
	stream_events(f, &e, &ended);
	CU_ASSERT_EQUAL(e.n, 0);
	CU_ASSERT_TRUE(e.comments >= 1);
	CU_ASSERT_FALSE(ended);
	sse_free(&e);
	CU_ASSERT_EQUAL(f->resumes, 0);
	sink_close(f);
	CU_ASSERT_EQUAL(stats().calls_waiting, 0);
}

/* notifications/cancelled for the request id, answered 202 with no body. */
static void post_cancel(const char *sid, const char *request_id)
{
	char body[256];
	struct reply rp;

	snprintf(body, sizeof(body),
		 "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/cancelled\",\"params\":"
		 "{\"requestId\":%s,\"reason\":\"timeout\"}}",
		 request_id);
	post(sid, body, &rp);
	CU_ASSERT_EQUAL(rp.r.status, 202);
	CU_ASSERT_EQUAL(rp.r.body.len, 0);
	reply_free(&rp);
}

/* A cancelled parked call ends with no answer and leaves the cursor alone: the event that
 * arrives next goes to the next wait_for_message (the mcp-remote loss of issue 12). */
static void test_cancel_parked_wait(void)
{
	char id[MCP_SESSION_ID_LEN + 1];
	struct mcp_session *s = init_session(id);
	struct fake_sink *f = sink_new();
	struct sse e;
	bool ended;
	cJSON *j;

	CU_ASSERT_EQUAL(post_wait(id, f, "{\"timeout_s\":30}", 77), MCP_PENDING);
	expect_pending_head(f);
	post_cancel(id, "78"); /* another id: nothing happens */
	CU_ASSERT_EQUAL(stats().calls_waiting, 1);
	CU_ASSERT_EQUAL(f->resumes, 0);
	post_cancel(id, "\"77\""); /* a string is another id than the number */
	CU_ASSERT_EQUAL(stats().calls_waiting, 1);
	post_cancel(id, "77");
	CU_ASSERT_EQUAL(stats().calls_waiting, 0);
	CU_ASSERT_PTR_NULL(s->calls);
	CU_ASSERT_EQUAL(s->busy, 0);
	CU_ASSERT_PTR_NULL(f->sink.call);
	stream_events(f, &e, &ended);
	CU_ASSERT_TRUE(ended);
	CU_ASSERT_EQUAL(e.n, 0); /* no response at all */
	sse_free(&e);
	CU_ASSERT_EQUAL(f->resumes, 1);
	CU_ASSERT_TRUE(f->resume_keep_alive);
	CU_ASSERT_EQUAL(push(s, "{\"x\":1}"), 1);
	CU_ASSERT_EQUAL(f->out.len, 0);
	CU_ASSERT_EQUAL(s->mbox.cursor, 0);
	j = call_tool(id, "wait_for_message", "{\"timeout_s\":0}");
	CU_ASSERT_EQUAL(events_in(j), 1);
	CU_ASSERT_EQUAL(jnum(j, "result.structuredContent.events.0.params.x"), 1);
	cJSON_Delete(j);
	sink_close(f);
}

/* A string id, and a cancellation after the connection closed: nothing to do. */
static void test_cancel_string_id_and_late(void)
{
	char id[MCP_SESSION_ID_LEN + 1], body[256];
	struct mcp_session *s = init_session(id);
	struct fake_sink *f = sink_new();
	struct http_request req = req_new(HTTP_M_POST, id);

	snprintf(body, sizeof(body),
		 "{\"jsonrpc\":\"2.0\",\"id\":\"w-1\",\"method\":\"tools/call\",\"params\":"
		 "{\"name\":\"wait_for_message\",\"arguments\":{}}}");
	req_body(&req, body);
	CU_ASSERT_EQUAL(mcp_handle(W.srv, &req, &f->sink), MCP_PENDING);
	expect_pending_head(f);
	post_cancel(id, "\"w-1\"");
	CU_ASSERT_EQUAL(stats().calls_waiting, 0);
	CU_ASSERT_EQUAL(f->resumes, 1);
	post_cancel(id, "\"w-1\""); /* twice: harmless */
	post_cancel(id, "{\"not\":\"an id\"}");
	CU_ASSERT_PTR_NOT_NULL(sess(id));
	CU_ASSERT_EQUAL(s->busy, 0);
	sink_close(f);
}

/* The answer went out (as JSON, at once) but the client's timeout fired first and it sent
 * notifications/cancelled: it never saw the events, so the next wait returns them again. */
static void test_cancel_after_json_answer(void)
{
	char a[MCP_SESSION_ID_LEN + 1], b[MCP_SESSION_ID_LEN + 1], room[80];
	struct reply rp;
	struct mcp_session *s;
	cJSON *j;

	match_pair(a, b, room);
	s = sess(a);
	j = call_tool(a, "wait_for_message", "{\"timeout_s\":0}"); /* id 42 */
	CU_ASSERT_EQUAL(events_in(j), 1);
	cJSON_Delete(j);
	CU_ASSERT_EQUAL(s->mbox.cursor, 1);
	post_cancel(a, "41"); /* not that call */
	CU_ASSERT_EQUAL(s->mbox.cursor, 1);
	post_cancel(a, "42");
	CU_ASSERT_EQUAL(s->mbox.cursor, 0);
	j = call_tool(a, "wait_for_message", "{\"timeout_s\":0}");
	CU_ASSERT_EQUAL(events_in(j), 1);
	CU_ASSERT_STRING_EQUAL(jstr(j, "result.structuredContent.events.0.method"), "chatroom.found");
	cJSON_Delete(j);
	/* Another call moved on since: an old cancellation changes nothing. */
	CU_ASSERT_EQUAL(push(s, "{}"), 2);
	rpc(a, "tools/call", "{\"name\":\"wait_for_message\",\"arguments\":{\"timeout_s\":0}}", 7, &rp);
	CU_ASSERT_EQUAL(jnum(rp.json, "result.structuredContent.next"), 2);
	reply_free(&rp);
	post_cancel(a, "42");
	CU_ASSERT_EQUAL(s->mbox.cursor, 2);
	post_cancel(a, "7");
	CU_ASSERT_EQUAL(s->mbox.cursor, 1);
	post_cancel(a, "7"); /* once only */
	CU_ASSERT_EQUAL(s->mbox.cursor, 1);
}

/* A deferred answer that crossed the cancellation is undone the same way. */
static void test_cancel_after_deferred_answer(void)
{
	char id[MCP_SESSION_ID_LEN + 1];
	struct mcp_session *s = init_session(id);
	struct fake_sink *f = sink_new();
	cJSON *msg;

	CU_ASSERT_EQUAL(post_wait(id, f, "{}", 5), MCP_PENDING);
	expect_pending_head(f);
	push(s, "{}");
	msg = expect_deferred_answer(f, 5);
	cJSON_Delete(msg);
	CU_ASSERT_EQUAL(s->mbox.cursor, 1);
	post_cancel(id, "5");
	CU_ASSERT_EQUAL(s->mbox.cursor, 0);
	sink_close(f);
}

/* enter_queue and join_room return the chat_id; every tool takes it on a 2025 session, where
 * it must name the session's own chat. */
static void test_chat_id_on_a_session(void)
{
	char a[MCP_SESSION_ID_LEN + 1], b[MCP_SESSION_ID_LEN + 1], args[160], ida[40];
	cJSON *j;

	init_session(a);
	init_session(b);
	j = call_tool(a, "enter_queue", "{}");
	snprintf(ida, sizeof(ida), "%s", jstr(j, "result.structuredContent.chat_id"));
	CU_ASSERT_EQUAL(strlen(ida), 22);
	cJSON_Delete(j);
	snprintf(args, sizeof(args), "{\"chat_id\":\"%s\"}", ida);
	j = call_tool(a, "get_status", args); /* its own: fine */
	CU_ASSERT_PTR_NULL(jget(j, "result.isError"));
	CU_ASSERT_STRING_EQUAL(jstr(j, "result.structuredContent.state"), "waiting");
	cJSON_Delete(j);
	j = call_tool(b, "enter_queue", args); /* another session's: refused, nothing done */
	CU_ASSERT_TRUE(cJSON_IsTrue(jget(j, "result.isError")));
	CU_ASSERT_STRING_EQUAL(jstr(j, "result.structuredContent.error"), "invalid_arguments");
	CU_ASSERT_STRING_EQUAL(jstr(j, "result.structuredContent.field"), "chat_id");
	cJSON_Delete(j);
	j = call_tool(b, "get_status", "{}");
	CU_ASSERT_STRING_EQUAL(jstr(j, "result.structuredContent.state"), "idle");
	cJSON_Delete(j);
	j = call_tool(b, "wait_for_message", "{\"chat_id\":\"AAAAAAAAAAAAAAAAAAAAAA\",\"timeout_s\":0}");
	CU_ASSERT_STRING_EQUAL(jstr(j, "result.structuredContent.error"), "chat_expired");
	cJSON_Delete(j);
	j = call_tool(b, "send_message", "{\"chat_id\":5,\"room_id\":\"r\",\"message\":\"x\"}");
	CU_ASSERT_STRING_EQUAL(jstr(j, "result.structuredContent.error"), "invalid_arguments");
	CU_ASSERT_STRING_EQUAL(jstr(j, "result.structuredContent.field"), "chat_id");
	cJSON_Delete(j);
	j = call_tool(b, "join_room", "{\"room_id\":\"named\"}");
	CU_ASSERT_EQUAL(strlen(jstr(j, "result.structuredContent.chat_id")), 22);
	CU_ASSERT_STRING_NOT_EQUAL(jstr(j, "result.structuredContent.chat_id"), ida);
	cJSON_Delete(j);
	/* Once the session ends its chat_id names nothing. */
	mcp_session_end(W.srv, sess(a), MCP_END_DELETED);
	j = call_tool(b, "get_status", args);
	CU_ASSERT_STRING_EQUAL(jstr(j, "result.structuredContent.error"), "chat_expired");
	cJSON_Delete(j);
}

/* Messages are refused, not lost, when the partner's mailbox is full of undelivered events. */
static void test_mailbox_full_refuses_message(void)
{
	char a[MCP_SESSION_ID_LEN + 1], b[MCP_SESSION_ID_LEN + 1], room[80], args[160];
	cJSON *j;

	W.cfg.mailbox_events = 2;
	match_pair(a, b, room); /* a holds chatroom.found, undelivered */
	snprintf(args, sizeof(args), "{\"room_id\":\"%s\",\"message\":\"one\"}", room);
	j = call_tool(b, "send_message", args);
	CU_ASSERT_PTR_NULL(jget(j, "result.isError"));
	cJSON_Delete(j);
	j = call_tool(b, "send_message", args);
	CU_ASSERT_TRUE(cJSON_IsTrue(jget(j, "result.isError")));
	CU_ASSERT_STRING_EQUAL(jstr(j, "result.structuredContent.error"), "mailbox_full");
	cJSON_Delete(j);
	CU_ASSERT_EQUAL(sess(a)->mbox.last, 2);
	/* a reads; b may send again. */
	j = call_tool(a, "wait_for_message", "{\"timeout_s\":0}");
	CU_ASSERT_EQUAL(cJSON_GetArraySize(jget(j, "result.structuredContent.events")), 2);
	cJSON_Delete(j);
	j = call_tool(b, "send_message", args);
	CU_ASSERT_PTR_NULL(jget(j, "result.isError"));
	cJSON_Delete(j);
	CU_ASSERT_EQUAL(sess(a)->mbox.last, 3);
}

/* send_message from a session; true when it was accepted, else the error code goes to err. */
static bool send_msg(const char *from, const char *room, const char *text, char err[32])
{
	char args[256];
	bool ok;
	cJSON *j;

	snprintf(args, sizeof(args), "{\"room_id\":\"%s\",\"message\":\"%s\"}", room, text);
	j = call_tool(from, "send_message", args);
	ok = !jget(j, "result.isError");
	snprintf(err, 32, "%s", jstr(j, "result.structuredContent.error"));
	cJSON_Delete(j);
	return ok;
}

/* The bound is capacity *undelivered* events: events sent on the stream no longer count, and
 * stay held for Last-Event-ID replay until the mailbox holds 2 * capacity. */
static void test_capacity_counts_undelivered_only(void)
{
	char a[MCP_SESSION_ID_LEN + 1], b[MCP_SESSION_ID_LEN + 1], room[80], err[32];
	struct fake_sink *fa;
	enum mcp_disposition d;
	struct mcp_session *sa;
	struct sse e;
	bool ended;

	W.cfg.mailbox_events = 2;
	W.cfg.replay_window_bytes = 0; /* the count rule alone: 2 * capacity */
	match_pair(a, b, room); /* a: chatroom.found (1) */
	sa = sess(a);
	CU_ASSERT_EQUAL(sa->mbox.capacity, 2);
	fa = open_get(a, NULL, &d);
	CU_ASSERT_EQUAL(d, MCP_STREAMING);
	expect_stream_head(fa, &e);
	CU_ASSERT_EQUAL(e.n, 1);
	sse_free(&e);
	flush_sink(fa);
	/* Three messages, each sent on a's stream: 4 held, all delivered, none refused. */
	for (uint64_t seq = 2; seq <= 4; seq++) {
		CU_ASSERT_TRUE(send_msg(b, room, "hi", err));
		stream_events(fa, &e, &ended);
		CU_ASSERT_EQUAL_FATAL(e.n, 1);
		expect_event(&e, 0, "message.received", seq);
		sse_free(&e);
		flush_sink(fa);
	}
	CU_ASSERT_EQUAL(sa->mbox.count, 4);
	CU_ASSERT_EQUAL(sa->mbox.acked, 4);
	CU_ASSERT_EQUAL(status_unread(a), 0);
	/* All 4 (twice the capacity) still replay from an old id. */
	sink_close(fa);
	fa = open_get(a, "0", &d);
	CU_ASSERT_EQUAL(d, MCP_STREAMING);
	expect_stream_head(fa, &e);
	CU_ASSERT_EQUAL_FATAL(e.n, 4);
	expect_event(&e, 0, "chatroom.found", 1);
	for (int i = 1; i < 4; i++)
		expect_event(&e, i, "message.received", (uint64_t)i + 1);
	sse_free(&e);
	/* Now a's client stops reading: two more get in (each evicting the oldest delivered). */
	CU_ASSERT_TRUE(send_msg(b, room, "five", err));
	CU_ASSERT_TRUE(send_msg(b, room, "six", err));
	CU_ASSERT_EQUAL(sa->mbox.last, 6);
	CU_ASSERT_EQUAL(sa->mbox.count, 4);
	CU_ASSERT_EQUAL(sa->mbox.first, 3);
	CU_ASSERT_EQUAL(status_unread(a), 2);
	/* Last-Event-ID from an evicted id replays from the oldest held: 3 and 4 delivered, 5 and
	 * 6 not. */
	sink_close(fa);
	fa = open_get(a, "1", &d);
	CU_ASSERT_EQUAL(d, MCP_STREAMING);
	expect_stream_head(fa, &e);
	CU_ASSERT_EQUAL_FATAL(e.n, 4);
	for (int i = 0; i < 4; i++)
		expect_event(&e, i, "message.received", (uint64_t)i + 3);
	CU_ASSERT_STRING_EQUAL(jstr(e.msg[3], "params.message"), "six");
	sse_free(&e);
	/* 2 undelivered = capacity: refused, though a holds 4 events. */
	CU_ASSERT_FALSE(send_msg(b, room, "seven", err));
	CU_ASSERT_STRING_EQUAL(err, "mailbox_full");
	CU_ASSERT_EQUAL(sa->mbox.last, 6);
	CU_ASSERT_EQUAL(status_unread(a), 2);
	/* The replayed ones go out: room again. */
	flush_sink(fa);
	CU_ASSERT_EQUAL(status_unread(a), 0);
	CU_ASSERT_TRUE(send_msg(b, room, "eight", err));
	CU_ASSERT_EQUAL(sa->mbox.last, 7);
	stream_events(fa, &e, &ended);
	CU_ASSERT_EQUAL_FATAL(e.n, 1);
	expect_event(&e, 0, "message.received", 7);
	CU_ASSERT_STRING_EQUAL(jstr(e.msg[0], "params.message"), "eight");
	sse_free(&e);
	CU_ASSERT_TRUE(sa->mbox.count <= 4);
	sink_close(fa);
}

int main(void)
{
	static const struct unit_test tests[] = {
		{ "chat: match and message", test_chat_match_and_message },
		{ "chat: partner.disconnected on DELETE", test_partner_disconnect_on_delete },
		{ "wait_for_message with events", test_wait_returns_at_once_with_events },
		{ "wait_for_message timeout_s 0", test_wait_timeout_zero },
		{ "wait_for_message pending, event", test_wait_pending_then_event },
		{ "wait_for_message pending, partner message", test_wait_pending_then_partner_message },
		{ "wait_for_message times out", test_wait_times_out },
		{ "wait_for_message cancelled by close", test_wait_cancelled_by_close },
		{ "wait_for_message keep-alive comment", test_wait_keepalive_comment },
		{ "cancelled parked wait: no answer, cursor kept", test_cancel_parked_wait },
		{ "cancel: string id, twice, after close", test_cancel_string_id_and_late },
		{ "cancel after a JSON answer puts the cursor back", test_cancel_after_json_answer },
		{ "cancel after a deferred answer", test_cancel_after_deferred_answer },
		{ "chat_id on a 2025 session", test_chat_id_on_a_session },
		{ "mailbox full refuses messages", test_mailbox_full_refuses_message },
		{ "capacity counts undelivered only", test_capacity_counts_undelivered_only },
		{ NULL, NULL },
	};
	static const struct unit_suite suites[] = {
		{ "mcp_chat", tests, NULL, NULL, setup, teardown },
		{ NULL, NULL, NULL, NULL, NULL, NULL },
	};

	log_set_level(LOG_LVL_WARNING);
	jsonrpc_init(); /* the daemon's cJSON hooks, as main() installs them */
	return unit_main(suites);
}
