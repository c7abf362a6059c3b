#ifndef MCPCHAT_TESTS_ENGINE_HARNESS_H
#define MCPCHAT_TESTS_ENGINE_HARNESS_H

/* The cluster engine on the scripted fake Redis (fake_redis.h), for test_cluster_engine_*.c:
 * one engine per test on mcp_harness.h's world, the node's housekeeping answered in bulk,
 * tool calls of the revision on fake sinks, canned replies of the scripts, and the path of
 * a wait_for_message until it listens. Header-only like mcp_harness.h. */
#include "fake_redis.h"
#include "mcp_harness.h"

#include "cluster/engine.h"
#include "util/buf.h"

#define CHAT "chat0123456789abcdefAB" /* 22 base64url: a chat id as the engine mints them */
#define PFX "{mcpchat}"
#define WAKE PFX ":wake:" CHAT
#define EPOCH "$22\r\nEPOCHaaaaaaaaaaaaaaaaa\r\n"
#define EPOCH2 "$22\r\nEPOCHbbbbbbbbbbbbbbbbb\r\n"

static struct cluster_engine *E;

static inline void setup_engine(void)
{
	int err = 0;

	fr_reset();
	timer_clock_set(timer_now_ms()); /* frozen: only advance() moves it */
	world_up(100);
	snprintf(W.cfg.cluster_redis, sizeof(W.cfg.cluster_redis), "127.0.0.1:1");
	snprintf(W.cfg.cluster_node, sizeof(W.cfg.cluster_node), "n1");
	/* No ring: the fake client never touches one. */
	E = cluster_engine_new(&W.cfg, NULL, &W.heap, W.srv, W.chat, &err);
	CU_ASSERT_PTR_NOT_NULL_FATAL(E);
	chat_tools_set_engine(E);
}

static inline void teardown_engine(void)
{
	chat_tools_set_engine(NULL);
	cluster_engine_free(E); /* answers what is left first: mcp must still be there */
	E = NULL;
	fr_reset();
	world_down();
}

static inline struct cluster_engine_stats est(void)
{
	struct cluster_engine_stats st;

	cluster_engine_stats(E, &st);
	return st;
}

/* ms pass on the fake clock (timer_clock_set: the timers that re-arm themselves from
 * timer_now_ms(), the node's heartbeat and sweep, then fire once per period, as they would). */
static inline void advance(uint64_t ms)
{
	timer_clock_set(timer_now_ms() + ms);
	timer_run(&W.heap, timer_now_ms());
}

/* The node's own round trips (scripts loaded, epoch, heartbeat, figures, timers), answered
 * as a healthy Redis would, until none is left: what the engine sends stays queued. */
static inline void chores(void)
{
	size_t n;

	do {
		n = fr_reply_all("SCRIPT", "+OK\r\n") + fr_reply_all("FUNCTION", "+OK\r\n") +
		    fr_reply_all("SET", "+OK\r\n") +
		    fr_reply_all("GET", EPOCH) +
		    fr_reply_all("TIME", "*2\r\n$10\r\n1760000000\r\n$6\r\n000000\r\n") +
		    fr_reply_all("HSET", ":0\r\n") + fr_reply_all("HMGET", "*3\r\n:1\r\n:0\r\n:0\r\n") +
		    fr_reply_all("ZCARD", ":0\r\n") +
		    fr_reply_all("sweep", "*3\r\n$2\r\nok\r\n:0\r\n:0\r\n") +
		    fr_reply_all("fallback", "*3\r\n$2\r\nok\r\n:0\r\n:0\r\n");
	} while (n);
}

/* Both connections up and the epoch read: the node is settled. */
static inline void up(void)
{
	fr_set_state(fr_cmd_client(), REDIS_UP, 0);
	fr_set_state(fr_sub_client(), REDIS_UP, 0);
	chores();
	CU_ASSERT_EQUAL(fr_count(NULL), 0);
}

/* A tools/call of the revision on a sink of its own, left waiting: the SSE head is out and
 * nothing else. */
static inline struct fake_sink *call(const char *tool, const char *args, int id)
{
	struct fake_sink *f = sink_new();
	char params[1024], rid[16];
	struct mreq m;

	snprintf(params, sizeof(params), "\"name\":\"%s\",\"arguments\":%s", tool, args);
	snprintf(rid, sizeof(rid), "%d", id);
	mreq_init(&m, rid, "tools/call", NULL, params, tool);
	CU_ASSERT_EQUAL(mcp_handle(W.srv, &m.req, &f->sink), MCP_PENDING);
	expect_pending_head(f);
	return f;
}

/* The call's one answer (the JSON-RPC message; free it); the sink is closed. */
static inline cJSON *answer(struct fake_sink *f, int id)
{
	cJSON *msg = expect_deferred_answer(f, id);

	expect_modern_result(msg);
	sink_close(f);
	return msg;
}

static inline bool silent(const struct fake_sink *f)
{
	return f->out.len == 0 && f->sink.call;
}

/* unavailable, with retry_after_ms: never a false success. */
static inline void expect_unavailable(const cJSON *msg)
{
	CU_ASSERT_TRUE(cJSON_IsTrue(jget(msg, "result.isError")));
	CU_ASSERT_STRING_EQUAL(jstr(msg, "result.structuredContent.error"), "unavailable");
	CU_ASSERT_EQUAL(jnum(msg, "result.structuredContent.retry_after_ms"), 1000);
	CU_ASSERT_PTR_NULL(jget(msg, "result.structuredContent.message_id"));
}

/* A tools/call answered within the call: unavailable. */
static inline void call_now_unavailable(const char *tool, const char *args)
{
	char params[1024];
	struct mreq m;
	struct reply rp;

	snprintf(params, sizeof(params), "\"name\":\"%s\",\"arguments\":%s", tool, args);
	mreq_init(&m, "5", "tools/call", NULL, params, tool);
	do_req(&m.req, &rp);
	CU_ASSERT_EQUAL(rp.r.status, 200);
	CU_ASSERT_EQUAL(rp.d, MCP_DONE);
	expect_unavailable(rp.json);
	reply_free(&rp);
}

static inline struct fake_sink *send_hello(int id)
{
	return call("send_message",
		    "{\"chat_id\":\"" CHAT "\",\"room_id\":\"lobby\",\"message\":\"hello\"}", id);
}

/* send's reply {"ok", message_id, timestamp} as RESP. */
static inline void reply_sent(struct fr_cmd *c, const char *mid)
{
	char resp[256];

	snprintf(resp, sizeof(resp), "*3\r\n$2\r\nok\r\n$%zu\r\n%s\r\n$24\r\n2026-07-28T12:00:00.000Z\r\n",
		 strlen(mid), mid);
	fr_reply(c, resp);
}

/* read's reply with the events from..to (params {"text":"m<seq>","seq":<seq>}); last = to
 * unless newer is given. */
static inline void reply_events(struct fr_cmd *c, uint64_t from, uint64_t to, uint64_t last)
{
	struct buf b = BUF_INIT;
	char params[64], *text;

	if (last < to)
		last = to;
	buf_printf(&b, "*%llu\r\n$2\r\nok\r\n:%llu\r\n:%llu\r\n:%llu\r\n",
		   (unsigned long long)(4 + 3 * (to - from + 1)), (unsigned long long)to,
		   (unsigned long long)last, (unsigned long long)(last - from + 1));
	for (uint64_t s = from; s <= to; s++) {
		int n = snprintf(params, sizeof(params), "{\"text\":\"m%llu\",\"seq\":%llu}",
				 (unsigned long long)s, (unsigned long long)s);

		buf_printf(&b, ":%llu\r\n$16\r\nchatroom.message\r\n$%d\r\n%s\r\n",
			   (unsigned long long)s, n, params);
	}
	text = buf_take(&b);
	fr_reply(c, text);
	free(text);
}

/* read's reply with nothing after seq (next = last = seq). */
static inline void reply_none(struct fr_cmd *c, uint64_t seq)
{
	char resp[96];

	snprintf(resp, sizeof(resp), "*4\r\n$2\r\nok\r\n:%llu\r\n:%llu\r\n:0\r\n",
		 (unsigned long long)seq, (unsigned long long)seq);
	fr_reply(c, resp);
}

/* The next pending read: of CHAT, after `after` ("" the cursor) with its ack. */
static inline struct fr_cmd *take_read(const char *after)
{
	struct fr_cmd *c = fr_take("read");

	if (!c)
		return NULL;
	CU_ASSERT_EQUAL(c->argc, 5);
	CU_ASSERT_STRING_EQUAL(fr_arg(c, 0), PFX);
	CU_ASSERT_STRING_EQUAL(fr_arg(c, 1), CHAT);
	CU_ASSERT_STRING_EQUAL(fr_arg(c, 2), after);
	CU_ASSERT_STRING_EQUAL(fr_arg(c, 3), *after ? "1" : "0"); /* `after` acknowledges */
	CU_ASSERT_STRING_EQUAL(fr_arg(c, 4), "512");
	return c;
}

static inline void subscribed(struct fr_cmd *c)
{
	fr_reply(c, "*3\r\n$9\r\nsubscribe\r\n$" "37" "\r\n" WAKE "\r\n:1\r\n");
}

/* wait_for_message with nothing to read: read, SUBSCRIBE the chat's channel, read once more
 * once subscribed (a doorbell may have rung before), then it waits. after: "" none. */
static inline struct fake_sink *start_wait(int id, const char *after, uint32_t timeout_s)
{
	char args[160];
	struct fake_sink *f;
	struct fr_cmd *c;

	snprintf(args, sizeof(args), "{\"chat_id\":\"" CHAT "\",\"timeout_s\":%u%s%s}", timeout_s,
		 *after ? ",\"after\":" : "", after);
	f = call("wait_for_message", args, id);
	c = take_read(after);
	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	reply_none(c, *after ? strtoull(after, NULL, 10) : 0);
	CU_ASSERT_EQUAL(fr_count("read"), 0);
	c = fr_take("SUBSCRIBE");
	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	CU_ASSERT_TRUE(c->sub);
	CU_ASSERT_STRING_EQUAL(fr_arg(c, 1), WAKE);
	CU_ASSERT_TRUE(silent(f));
	subscribed(c);
	c = take_read(*after ? after : "0");
	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	reply_none(c, *after ? strtoull(after, NULL, 10) : 0);
	CU_ASSERT_EQUAL(fr_count("read") + fr_count("SUBSCRIBE"), 0);
	CU_ASSERT_TRUE(silent(f));
	CU_ASSERT_EQUAL(est().chats_listened, 1);
	return f;
}

/* The `ack` that stands for a read, in its plain commands: of CHAT, acknowledging upto (""
 * none: no XTRIM; one is answered here, its reply unused), cursor to cursor: the SET,
 * left for the test to answer (ACKED, GONE). NULL when it is not there as expected. */
static inline struct fr_cmd *take_ack(const char *upto, const char *cursor)
{
	struct fr_cmd *c;
	char minid[24];

	if (*upto) {
		c = fr_take("XTRIM");
		if (!c)
			return NULL;
		snprintf(minid, sizeof(minid), "%llu", strtoull(upto, NULL, 10) + 1);
		CU_ASSERT_EQUAL(c->argc, 4);
		CU_ASSERT_STRING_EQUAL(fr_arg(c, 1), PFX ":mb:" CHAT);
		CU_ASSERT_STRING_EQUAL(fr_arg(c, 2), "MINID");
		CU_ASSERT_STRING_EQUAL(fr_arg(c, 3), minid);
		fr_reply(c, ":0\r\n");
	}
	c = fr_take("SET");
	if (!c)
		return NULL;
	CU_ASSERT_EQUAL(c->argc, 5);
	CU_ASSERT_STRING_EQUAL(fr_arg(c, 1), PFX ":cur:" CHAT);
	CU_ASSERT_STRING_EQUAL(fr_arg(c, 2), cursor);
	CU_ASSERT_STRING_EQUAL(fr_arg(c, 3), "XX");
	CU_ASSERT_STRING_EQUAL(fr_arg(c, 4), "KEEPTTL");
	return c;
}

/* acks on their way (their commands) */
#define ACKS() (fr_count("XTRIM") + fr_count("SET"))
#define ACKED "+OK\r\n"
#define GONE "$-1\r\n"

/* take_ack, which must be there, answered ACKED. */
static inline void ack_ok(const char *upto, const char *cursor)
{
	struct fr_cmd *c = take_ack(upto, cursor);

	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	fr_reply(c, ACKED);
}
#define BELL(seq) seq ":1760000000000:chatroom.message\n{\"text\":\"m" seq "\",\"seq\":" seq "}"

/* The answer's events: count, the first's text, next. */
static inline void expect_events(const cJSON *msg, int n, const char *first_text, double next)
{
	const cJSON *ev = jget(msg, "result.structuredContent.events");

	CU_ASSERT_PTR_NULL(jget(msg, "result.isError"));
	CU_ASSERT_EQUAL(cJSON_GetArraySize(ev), n);
	if (n && first_text) {
		CU_ASSERT_STRING_EQUAL(jstr(msg, "result.structuredContent.events.0.method"),
				       "chatroom.message");
		CU_ASSERT_STRING_EQUAL(jstr(msg, "result.structuredContent.events.0.params.text"),
				       first_text);
	}
	CU_ASSERT_EQUAL(jnum(msg, "result.structuredContent.next"), next);
}
#endif
