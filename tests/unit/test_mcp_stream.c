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
 * HTTP bytes (mcp_harness.h). This file: the GET stream, Last-Event-ID,
 * delivery as bytes are sent, keep-alive pings. */

/* Tests: the GET stream */

static void test_get_stream(void)
{
	char id[MCP_SESSION_ID_LEN + 1];
	struct mcp_session *s = init_session(id);
	struct fake_sink *f;
	enum mcp_disposition d;
	struct resp r;
	char cc[32];

	f = open_get(id, NULL, &d);
	CU_ASSERT_EQUAL(d, MCP_STREAMING);
	take(f, &r, NULL);
	CU_ASSERT_EQUAL(r.status, 200);
	CU_ASSERT_TRUE(header_is(&r, "Content-Type", "text/event-stream"));
	CU_ASSERT_TRUE(header_is(&r, "Transfer-Encoding", "chunked"));
	CU_ASSERT_FALSE(header_get(&r, "Content-Length", cc, sizeof(cc)));
	CU_ASSERT_TRUE(header_get(&r, "Cache-Control", cc, sizeof(cc)));
	CU_ASSERT_STRING_EQUAL(cc, "no-cache");
	CU_ASSERT_FALSE(r.ended);
	CU_ASSERT_EQUAL(r.body.len, 0);
	resp_free(&r);
	CU_ASSERT_PTR_EQUAL(s->stream, &f->sink);
	CU_ASSERT_PTR_EQUAL(f->sink.stream_of, s);
	CU_ASSERT_EQUAL(stats().streams, 1);
	CU_ASSERT_TRUE(f->commits >= 1);
	CU_ASSERT_EQUAL(f->resumes, 0);
	sink_close(f);
	CU_ASSERT_PTR_NULL(s->stream);
	CU_ASSERT_EQUAL(stats().streams, 0);
}

/* The newest stream wins: a second GET replaces the open one, whose connection is dropped
 * (its client has most likely gone unseen, as behind a proxy). */
static void test_second_get_replaces(void)
{
	char id[MCP_SESSION_ID_LEN + 1];
	struct mcp_session *s = init_session(id);
	struct fake_sink *f = open_stream(id), *g;

	g = open_stream(id);
	CU_ASSERT_PTR_EQUAL(s->stream, &g->sink);
	CU_ASSERT_PTR_NULL(f->sink.stream_of);
	CU_ASSERT_EQUAL(f->aborts, 1);
	CU_ASSERT_EQUAL(stats().streams, 1);
	/* The old connection's close is no longer the session's business. */
	sink_close(f);
	CU_ASSERT_PTR_EQUAL(s->stream, &g->sink);
	CU_ASSERT_EQUAL(stats().streams, 1);
	sink_close(g);
	CU_ASSERT_EQUAL(stats().streams, 0);
}

static void test_stream_events(void)
{
	char id[MCP_SESSION_ID_LEN + 1];
	struct mcp_session *s = init_session(id);
	struct fake_sink *f = open_stream(id);
	struct sse e;
	bool ended;

	CU_ASSERT_EQUAL(push(s, "{\"a\":1}"), 1);
	CU_ASSERT_EQUAL(push(s, "{}"), 2);
	stream_events(f, &e, &ended);
	CU_ASSERT_FALSE(ended);
	CU_ASSERT_EQUAL_FATAL(e.n, 2);
	expect_event(&e, 0, "test.event", 1);
	CU_ASSERT_EQUAL(jnum(e.msg[0], "params.a"), 1);
	CU_ASSERT_EQUAL(cJSON_GetArraySize(jget(e.msg[0], "params")), 2);
	expect_event(&e, 1, "test.event", 2);
	CU_ASSERT_EQUAL(cJSON_GetArraySize(jget(e.msg[1], "params")), 1);
	sse_free(&e);
	/* Pushed (queued) is not delivered: only once the bytes went out. */
	CU_ASSERT_EQUAL(mailbox_unread(&s->mbox), 2);
	CU_ASSERT_EQUAL(mailbox_get(&s->mbox, 2)->wire_end, fake_queued(&f->sink));
	flush_sink(f);
	CU_ASSERT_EQUAL(mailbox_unread(&s->mbox), 0);
	CU_ASSERT_EQUAL(s->mbox.acked, 2);
	CU_ASSERT_EQUAL(f->resumes, 0);
	sink_close(f);
}

static void test_last_event_id_replay(void)
{
	char id[MCP_SESSION_ID_LEN + 1];
	struct mcp_session *s = init_session(id);
	struct fake_sink *f = open_stream(id);
	enum mcp_disposition d;
	struct sse e;
	bool ended;

	for (int i = 0; i < 3; i++)
		push(s, "{\"k\":\"v\"}");
	drop_out(f); /* the client saw only 1 and 2 of these */
	sink_close(f);
	push(s, "{\"k\":\"w\"}");
	push(s, "{\"k\":\"x\"}");
	f = open_get(id, "2", &d);
	CU_ASSERT_EQUAL(d, MCP_STREAMING);
	expect_stream_head(f, &e);
	CU_ASSERT_EQUAL_FATAL(e.n, 3);
	for (int i = 0; i < 3; i++)
		expect_event(&e, i, "test.event", (uint64_t)i + 3);
	CU_ASSERT_STRING_EQUAL(jstr(e.msg[1], "params.k"), "w");
	sse_free(&e);
	/* Last-Event-ID: 2 delivered 1 and 2; the replayed ones wait for their bytes to go. */
	CU_ASSERT_EQUAL(s->mbox.acked, 2);
	CU_ASSERT_EQUAL(mailbox_unread(&s->mbox), 3);
	/* The next event comes once. */
	push(s, "{}");
	stream_events(f, &e, &ended);
	CU_ASSERT_EQUAL_FATAL(e.n, 1);
	expect_event(&e, 0, "test.event", 6);
	sse_free(&e);
	CU_ASSERT_EQUAL(mailbox_unread(&s->mbox), 4);
	flush_sink(f);
	CU_ASSERT_EQUAL(mailbox_unread(&s->mbox), 0);
	sink_close(f);
}

static void test_last_event_id_bad(void)
{
	char id[MCP_SESSION_ID_LEN + 1];
	struct http_request req;
	struct reply rp;

	init_session(id);
	req = req_new(HTTP_M_GET, id);
	req.last_event_id = "abc";
	do_req(&req, &rp);
	expect_refusal(&rp, 400, -32000);
	reply_free(&rp);
	CU_ASSERT_EQUAL(stats().streams, 0);
}

static void test_fresh_get_delivers_undelivered(void)
{
	char id[MCP_SESSION_ID_LEN + 1];
	struct mcp_session *s = init_session(id);
	struct fake_sink *f;
	enum mcp_disposition d;
	struct sse e;

	for (int i = 0; i < 3; i++)
		push(s, "{}");
	CU_ASSERT_EQUAL(mailbox_unread(&s->mbox), 3);
	f = open_get(id, NULL, &d);
	CU_ASSERT_EQUAL(d, MCP_STREAMING);
	expect_stream_head(f, &e);
	CU_ASSERT_EQUAL_FATAL(e.n, 3);
	for (int i = 0; i < 3; i++)
		expect_event(&e, i, "test.event", (uint64_t)i + 1);
	sse_free(&e);
	CU_ASSERT_EQUAL(mailbox_unread(&s->mbox), 3); /* written, not sent yet */
	flush_sink(f);
	CU_ASSERT_EQUAL(mailbox_unread(&s->mbox), 0);
	sink_close(f);
	/* Delivered: the next fresh stream starts empty. */
	f = open_stream(id);
	sink_close(f);
}

static void test_enobufs_detaches_stream(void)
{
	char id[MCP_SESSION_ID_LEN + 1];
	struct mcp_session *s = init_session(id);
	struct fake_sink *f = open_stream(id);
	enum mcp_disposition d;
	struct sse e;
	size_t len;

	f->fail_commit = true;
	CU_ASSERT_EQUAL(push(s, "{\"n\":1}"), 1);
	CU_ASSERT_PTR_NULL(s->stream);
	CU_ASSERT_PTR_NULL(f->sink.stream_of);
	CU_ASSERT_EQUAL(stats().streams, 0);
	CU_ASSERT_EQUAL(mailbox_unread(&s->mbox), 1);
	len = f->out.len;
	CU_ASSERT_EQUAL(push(s, "{\"n\":2}"), 2); /* not written to the detached sink */
	CU_ASSERT_EQUAL(f->out.len, len);
	CU_ASSERT_EQUAL(f->resumes, 0);
	sink_close(f);
	f = open_get(id, NULL, &d);
	CU_ASSERT_EQUAL(d, MCP_STREAMING);
	expect_stream_head(f, &e);
	CU_ASSERT_EQUAL_FATAL(e.n, 2);
	expect_event(&e, 0, "test.event", 1);
	expect_event(&e, 1, "test.event", 2);
	sse_free(&e);
	sink_close(f);
}

/* The backlog written when a stream opens is delivered only if it could be sent. */
static void test_enobufs_on_open_keeps_backlog(void)
{
	char id[MCP_SESSION_ID_LEN + 1];
	struct mcp_session *s = init_session(id);
	struct fake_sink *f;
	enum mcp_disposition d;
	struct sse e;

	push(s, "{\"n\":1}");
	push(s, "{\"n\":2}");
	f = sink_new();
	f->fail_commit = true;
	{
		struct http_request req = req_new(HTTP_M_GET, id);

		d = mcp_handle(W.srv, &req, &f->sink);
	}
	CU_ASSERT_EQUAL(d, MCP_CLOSE);
	CU_ASSERT_PTR_NULL(s->stream);
	sink_close(f);
	CU_ASSERT_EQUAL(mailbox_unread(&s->mbox), 2);
	f = open_get(id, NULL, &d);
	CU_ASSERT_EQUAL(d, MCP_STREAMING);
	expect_stream_head(f, &e);
	CU_ASSERT_EQUAL(e.n, 2);
	sse_free(&e);
	sink_close(f);
}

/* Pushed on the open stream but never sent: not delivered. get_status counts it, and a fresh
 * GET after the stream is gone replays it. */
static void test_pushed_not_sent_undelivered(void)
{
	char id[MCP_SESSION_ID_LEN + 1];
	struct mcp_session *s = init_session(id);
	struct fake_sink *f = open_stream(id);
	uint64_t head = fake_queued(&f->sink);
	enum mcp_disposition d;
	struct sse e;
	bool ended;

	CU_ASSERT_EQUAL(push(s, "{\"n\":1}"), 1);
	CU_ASSERT_EQUAL(push(s, "{\"n\":2}"), 2);
	stream_events(f, &e, &ended); /* written to the connection... */
	CU_ASSERT_EQUAL(e.n, 2);
	sse_free(&e);
	CU_ASSERT_TRUE(mailbox_get(&s->mbox, 1)->wire_end > head);
	CU_ASSERT_TRUE(mailbox_get(&s->mbox, 2)->wire_end > mailbox_get(&s->mbox, 1)->wire_end);
	CU_ASSERT_EQUAL(mailbox_get(&s->mbox, 2)->wire_end, fake_queued(&f->sink));
	/* ...but nothing left yet (the head alone went out). */
	sink_sent_upto(f, head);
	CU_ASSERT_EQUAL(s->mbox.acked, 0);
	CU_ASSERT_EQUAL(mailbox_unread(&s->mbox), 2);
	CU_ASSERT_EQUAL(status_unread(id), 2);
	sink_close(f);
	CU_ASSERT_EQUAL(status_unread(id), 2);
	f = open_get(id, NULL, &d);
	CU_ASSERT_EQUAL(d, MCP_STREAMING);
	expect_stream_head(f, &e);
	CU_ASSERT_EQUAL_FATAL(e.n, 2);
	expect_event(&e, 0, "test.event", 1);
	expect_event(&e, 1, "test.event", 2);
	CU_ASSERT_EQUAL(jnum(e.msg[1], "params.n"), 2);
	sse_free(&e);
	/* Re-pushed on the new connection: its own offsets. */
	CU_ASSERT_EQUAL(mailbox_get(&s->mbox, 2)->wire_end, fake_queued(&f->sink));
	CU_ASSERT_EQUAL(status_unread(id), 2);
	flush_sink(f);
	CU_ASSERT_EQUAL(status_unread(id), 0);
	sink_close(f);
}

/* Once the sink reports the bytes sent, the events are delivered: a fresh GET starts empty,
 * and Last-Event-ID can still replay them from the replay window. */
static void test_sent_delivers(void)
{
	char id[MCP_SESSION_ID_LEN + 1];
	struct mcp_session *s = init_session(id);
	struct fake_sink *f = open_stream(id), *other = sink_new();
	enum mcp_disposition d;
	struct sse e;
	bool ended;

	CU_ASSERT_EQUAL(push(s, "{\"n\":1}"), 1);
	stream_events(f, &e, &ended);
	CU_ASSERT_EQUAL(e.n, 1);
	sse_free(&e);
	CU_ASSERT_EQUAL(status_unread(id), 1);
	/* Another connection's sends mean nothing for this stream. */
	other->sent = 1 << 20;
	mcp_sink_sent(W.srv, &other->sink);
	CU_ASSERT_EQUAL(mailbox_unread(&s->mbox), 1);
	sink_close(other);
	flush_sink(f);
	CU_ASSERT_EQUAL(s->mbox.acked, 1);
	CU_ASSERT_EQUAL(status_unread(id), 0);
	flush_sink(f); /* again: nothing moves */
	CU_ASSERT_EQUAL(s->mbox.acked, 1);
	/* The next one is pushed after the flush: undelivered until sent in turn. */
	CU_ASSERT_EQUAL(push(s, "{\"n\":2}"), 2);
	CU_ASSERT_EQUAL(mailbox_unread(&s->mbox), 1);
	flush_sink(f);
	CU_ASSERT_EQUAL(mailbox_unread(&s->mbox), 0);
	sink_close(f);
	f = open_stream(id); /* fresh: nothing undelivered */
	sink_close(f);
	f = open_get(id, "0", &d);
	CU_ASSERT_EQUAL(d, MCP_STREAMING);
	expect_stream_head(f, &e);
	CU_ASSERT_EQUAL_FATAL(e.n, 2);
	expect_event(&e, 0, "test.event", 1);
	expect_event(&e, 1, "test.event", 2);
	sse_free(&e);
	CU_ASSERT_EQUAL(mailbox_unread(&s->mbox), 0);
	sink_close(f);
}

/* The kernel took part of the bytes: only the events wholly before that point count. */
static void test_partial_send_acks_prefix(void)
{
	char id[MCP_SESSION_ID_LEN + 1];
	struct mcp_session *s = init_session(id);
	struct fake_sink *f = open_stream(id);
	uint64_t head = fake_queued(&f->sink), end[4];
	enum mcp_disposition d;
	struct sse e;
	bool ended;

	for (uint64_t seq = 1; seq <= 3; seq++) {
		CU_ASSERT_EQUAL(push(s, "{\"pad\":\"0123456789\"}"), (int64_t)seq);
		end[seq] = mailbox_get(&s->mbox, seq)->wire_end;
		CU_ASSERT_EQUAL(end[seq], fake_queued(&f->sink));
	}
	CU_ASSERT_TRUE(head < end[1] && end[1] < end[2] && end[2] < end[3]);
	stream_events(f, &e, &ended);
	CU_ASSERT_EQUAL(e.n, 3);
	sse_free(&e);
	sink_sent_upto(f, end[1] - 1); /* one byte short of the first */
	CU_ASSERT_EQUAL(s->mbox.acked, 0);
	sink_sent_upto(f, end[1] + 5); /* into the second */
	CU_ASSERT_EQUAL(s->mbox.acked, 1);
	sink_sent_upto(f, end[2] - 1);
	CU_ASSERT_EQUAL(s->mbox.acked, 1);
	CU_ASSERT_EQUAL(status_unread(id), 2);
	sink_sent_upto(f, end[2]); /* exactly the end of the second */
	CU_ASSERT_EQUAL(s->mbox.acked, 2);
	/* The connection drops with the third half sent: a fresh GET replays it alone. */
	sink_sent_upto(f, end[2] + (end[3] - end[2]) / 2);
	CU_ASSERT_EQUAL(s->mbox.acked, 2);
	sink_close(f);
	f = open_get(id, NULL, &d);
	CU_ASSERT_EQUAL(d, MCP_STREAMING);
	expect_stream_head(f, &e);
	CU_ASSERT_EQUAL_FATAL(e.n, 1);
	expect_event(&e, 0, "test.event", 3);
	sse_free(&e);
	CU_ASSERT_EQUAL(s->mbox.acked, 2);
	flush_sink(f);
	CU_ASSERT_EQUAL(s->mbox.acked, 3);
	sink_close(f);
}

/* The backlog written when a stream opens is delivered as its bytes go, in order. */
static void test_backlog_delivered_as_sent(void)
{
	char id[MCP_SESSION_ID_LEN + 1];
	struct mcp_session *s = init_session(id);
	struct fake_sink *f;
	enum mcp_disposition d;
	uint64_t end[4];
	struct sse e;

	for (int i = 0; i < 3; i++)
		push(s, "{}");
	f = open_get(id, NULL, &d);
	CU_ASSERT_EQUAL(d, MCP_STREAMING);
	for (uint64_t seq = 1; seq <= 3; seq++)
		end[seq] = mailbox_get(&s->mbox, seq)->wire_end;
	CU_ASSERT_TRUE(0 < end[1] && end[1] < end[2] && end[2] < end[3]);
	CU_ASSERT_TRUE(end[3] <= fake_queued(&f->sink));
	expect_stream_head(f, &e);
	CU_ASSERT_EQUAL(e.n, 3);
	sse_free(&e);
	CU_ASSERT_EQUAL(mailbox_unread(&s->mbox), 3);
	sink_sent_upto(f, end[1] - 1); /* the head and most of the first */
	CU_ASSERT_EQUAL(mailbox_unread(&s->mbox), 3);
	sink_sent_upto(f, end[2]);
	CU_ASSERT_EQUAL(mailbox_unread(&s->mbox), 1);
	flush_sink(f);
	CU_ASSERT_EQUAL(mailbox_unread(&s->mbox), 0);
	sink_close(f);
}

/* A push that overflows the send queue detaches the stream and stays undelivered, even if
 * the old connection later reports its bytes sent: replayed by Last-Event-ID and by a fresh
 * GET alike. */
static void test_enobufs_event_replayable(void)
{
	char id[MCP_SESSION_ID_LEN + 1];
	struct mcp_session *s = init_session(id);
	struct fake_sink *f = open_stream(id);
	enum mcp_disposition d;
	struct sse e;
	bool ended;

	CU_ASSERT_EQUAL(push(s, "{\"n\":1}"), 1);
	flush_sink(f);
	CU_ASSERT_EQUAL(s->mbox.acked, 1);
	f->fail_commit = true;
	CU_ASSERT_EQUAL(push(s, "{\"n\":2}"), 2);
	CU_ASSERT_PTR_NULL(s->stream);
	CU_ASSERT_PTR_NULL(f->sink.stream_of);
	flush_sink(f); /* not a stream any more: no effect */
	CU_ASSERT_EQUAL(s->mbox.acked, 1);
	CU_ASSERT_EQUAL(status_unread(id), 1);
	sink_close(f);
	/* Resuming from 1 replays 2. */
	f = open_get(id, "1", &d);
	CU_ASSERT_EQUAL(d, MCP_STREAMING);
	expect_stream_head(f, &e);
	CU_ASSERT_EQUAL_FATAL(e.n, 1);
	expect_event(&e, 0, "test.event", 2);
	CU_ASSERT_EQUAL(jnum(e.msg[0], "params.n"), 2);
	sse_free(&e);
	/* This connection goes too before sending it: still undelivered. */
	CU_ASSERT_EQUAL(mailbox_unread(&s->mbox), 1);
	sink_close(f);
	f = open_get(id, NULL, &d);
	CU_ASSERT_EQUAL(d, MCP_STREAMING);
	expect_stream_head(f, &e);
	CU_ASSERT_EQUAL_FATAL(e.n, 1);
	expect_event(&e, 0, "test.event", 2);
	sse_free(&e);
	flush_sink(f);
	CU_ASSERT_EQUAL(status_unread(id), 0);
	/* The stream goes on normally. */
	CU_ASSERT_EQUAL(push(s, "{\"n\":3}"), 3);
	stream_events(f, &e, &ended);
	CU_ASSERT_EQUAL_FATAL(e.n, 1);
	expect_event(&e, 0, "test.event", 3);
	sse_free(&e);
	flush_sink(f);
	CU_ASSERT_EQUAL(mailbox_unread(&s->mbox), 0);
	sink_close(f);
}

/* A stream whose client reads everything gets a ": ping" comment every interval. */
static void test_stream_keepalive_ping(void)
{
	char id[MCP_SESSION_ID_LEN + 1];
	struct mcp_session *s;
	struct fake_sink *f;
	struct sse e;
	bool ended;

	s = init_session(id);
	W.cfg.sse_keepalive_ms = 1;
	f = open_stream(id);
	flush_sink(f); /* the client read the head: nothing waits */
	for (int i = 0; i < 3; i++) {
		ping_interval();
		CU_ASSERT_EQUAL(f->aborts, 0);
		CU_ASSERT_PTR_EQUAL(s->stream, &f->sink);
		CU_ASSERT_EQUAL(s->ping_sent, f->sent); /* progress recorded at the ping */
		CU_ASSERT_TRUE(fake_queued(&f->sink) > f->sent);
		stream_events(f, &e, &ended);
		CU_ASSERT_EQUAL(e.n, 0);
		CU_ASSERT_EQUAL(e.comments, 1);
		CU_ASSERT_FALSE(ended);
		sse_free(&e);
		flush_sink(f); /* and the ping */
	}
	CU_ASSERT_EQUAL(f->resumes, 0);
	CU_ASSERT_EQUAL(stats().streams, 1);
	sink_close(f);
}

int main(void)
{
	static const struct unit_test tests[] = {
		{ "GET stream", test_get_stream },
		{ "a second GET replaces the first", test_second_get_replaces },
		{ "stream events", test_stream_events },
		{ "Last-Event-ID replay", test_last_event_id_replay },
		{ "Last-Event-ID malformed", test_last_event_id_bad },
		{ "fresh GET delivers undelivered", test_fresh_get_delivers_undelivered },
		{ "ENOBUFS detaches the stream", test_enobufs_detaches_stream },
		{ "ENOBUFS on open keeps the backlog", test_enobufs_on_open_keeps_backlog },
		{ "pushed but not sent is undelivered", test_pushed_not_sent_undelivered },
		{ "sent delivers", test_sent_delivers },
		{ "partial send acks the events before it", test_partial_send_acks_prefix },
		{ "backlog delivered as sent", test_backlog_delivered_as_sent },
		{ "ENOBUFS event replayable", test_enobufs_event_replayable },
		{ "stream keep-alive ping", test_stream_keepalive_ping },
		{ NULL, NULL },
	};
	static const struct unit_suite suites[] = {
		{ "mcp_stream", tests, NULL, NULL, setup, teardown },
		{ NULL, NULL, NULL, NULL, NULL, NULL },
	};

	log_set_level(LOG_LVL_WARNING);
	jsonrpc_init(); /* the daemon's cJSON hooks, as main() installs them */
	return unit_main(suites);
}
