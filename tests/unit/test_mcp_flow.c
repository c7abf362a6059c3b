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
 * HTTP bytes (mcp_harness.h). This file: streams throttled to the send
 * queue, stopped and slow readers, large backlogs. */

/* A test.event of params {"n":n,"pad":"xx..."} with pad bytes of padding. */
static int64_t push_padded(struct mcp_session *s, int n, size_t pad)
{
	char *p = malloc(pad + 32);
	int64_t seq;
	int k;

	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	k = snprintf(p, 32, "{\"n\":%d,\"pad\":\"", n);
	memset(p + k, 'x', pad);
	memcpy(p + k + pad, "\"}", 3);
	seq = push(s, p);
	free(p);
	return seq;
}

/* The events of e continue at *next, in order, each once (params.n is the seq). */
static void expect_in_order(const struct sse *e, uint64_t *next)
{
	for (int i = 0; i < e->n; i++) {
		CU_ASSERT_EQUAL(e->id[i], *next);
		CU_ASSERT_EQUAL(jnum(e->msg[i], "params.n"), (double)*next);
		CU_ASSERT_EQUAL(jnum(e->msg[i], "params.seq"), (double)*next);
		(*next)++;
	}
}

/* Takes the stream's new bytes: events continuing at *next, no end. Returns how many. */
static int take_in_order(struct fake_sink *f, uint64_t *next)
{
	struct sse e;
	bool ended;
	int n;

	stream_events(f, &e, &ended);
	CU_ASSERT_FALSE(ended);
	expect_in_order(&e, next);
	n = e.n;
	sse_free(&e);
	return n;
}

/* Only what fits waits on s's stream f: the bytes waiting stay within max_send_queue, and
 * when events are held back the next one would not have fitted. */
static void expect_fits(struct mcp_session *s, struct fake_sink *f)
{
	uint64_t waiting = fake_queued(&f->sink) - f->sent;

	CU_ASSERT_TRUE(waiting <= W.cfg.max_send_queue);
	if (s->pushed < s->mbox.last) {
		const struct mailbox_event *ev = mailbox_get(&s->mbox, s->pushed + 1);

		CU_ASSERT_PTR_NOT_NULL_FATAL(ev);
		CU_ASSERT_TRUE(waiting > 0);
		CU_ASSERT_TRUE(waiting + ev->params_len + 128 > W.cfg.max_send_queue);
	}
}

/* Delivered are exactly the pushed events whose last byte was sent. */
static void expect_delivered_as_sent(struct mcp_session *s, struct fake_sink *f)
{
	if (s->mbox.acked)
		CU_ASSERT_TRUE(mailbox_get(&s->mbox, s->mbox.acked)->wire_end <= f->sent);
	if (s->mbox.acked < s->pushed)
		CU_ASSERT_TRUE(mailbox_get(&s->mbox, s->mbox.acked + 1)->wire_end > f->sent);
}

/* A backlog larger than the send queue stays on one stream and goes out as sends make room;
 * when the connection drops midway, resuming from the last event read gets the rest, each
 * event once and none skipped. */
static void test_backlog_over_send_queue(void)
{
	char id[MCP_SESSION_ID_LEN + 1], last[24] = "";
	struct mcp_session *s = init_session(id);
	uint64_t next = 1;
	int rounds = 0;

	for (int i = 1; i <= 5; i++)
		push_padded(s, i, 40);
	W.cfg.max_send_queue = 400;
	for (int round = 0; round < 10 && next <= 5; round++) {
		enum mcp_disposition d;
		struct fake_sink *f = open_get(id, last[0] ? last : NULL, &d);
		uint64_t first = next;
		struct sse e;

		/* Never closed for the backlog: it streams what fits. */
		CU_ASSERT_EQUAL(d, MCP_STREAMING);
		CU_ASSERT_PTR_EQUAL(s->stream, &f->sink);
		expect_fits(s, f);
		expect_stream_head(f, &e);
		CU_ASSERT_TRUE(e.n >= 1);
		if (round == 0)
			CU_ASSERT_TRUE(e.n < 5); /* the limit holds the backlog back */
		expect_in_order(&e, &next);
		sse_free(&e);
		/* Only the Last-Event-ID delivered anything: what this GET wrote is not sent. */
		CU_ASSERT_EQUAL(s->mbox.acked, first - 1);
		/* The client reads one event, which makes room for more, then the connection
		 * drops with those unread. */
		sink_sent_upto(f, mailbox_get(&s->mbox, first)->wire_end);
		CU_ASSERT_EQUAL(s->mbox.acked, first);
		expect_fits(s, f);
		if (first < 5)
			CU_ASSERT_TRUE(s->pushed > next - 1 || s->pushed == 5);
		sink_close(f);
		CU_ASSERT_EQUAL(s->mbox.acked, first);
		snprintf(last, sizeof(last), "%llu", (unsigned long long)first);
		next = first + 1; /* what was written after it never reached the client */
		rounds++;
	}
	CU_ASSERT_EQUAL(next, 6);
	CU_ASSERT_EQUAL(rounds, 5);
	CU_ASSERT_EQUAL(mailbox_unread(&s->mbox), 0);
}

/* A stream whose client reads nothing holds back what does not fit in the send queue; the
 * held events follow in order as sent bytes make room, each once. */
static void test_stream_throttled(void)
{
	char id[MCP_SESSION_ID_LEN + 1];
	struct mcp_session *s = init_session(id);
	struct fake_sink *f;
	uint64_t next = 1, pushed;
	int rounds = 0;

	W.cfg.max_send_queue = 16384;
	f = open_stream(id);
	for (int i = 1; i <= 20; i++) {
		CU_ASSERT_EQUAL(push_padded(s, i, 3000), i);
		expect_fits(s, f);
	}
	pushed = s->pushed;
	CU_ASSERT_TRUE(pushed >= 2 && pushed < 20);
	CU_ASSERT_EQUAL(take_in_order(f, &next), (int)pushed);
	CU_ASSERT_EQUAL(mailbox_get(&s->mbox, pushed)->wire_end, fake_queued(&f->sink));
	for (uint64_t seq = pushed + 1; seq <= 20; seq++)
		CU_ASSERT_EQUAL(mailbox_get(&s->mbox, seq)->wire_end, 0);
	/* Not closed, nothing delivered. */
	CU_ASSERT_PTR_EQUAL(s->stream, &f->sink);
	CU_ASSERT_EQUAL(stats().streams, 1);
	CU_ASSERT_EQUAL(f->resumes, 0);
	CU_ASSERT_EQUAL(f->aborts, 0);
	CU_ASSERT_EQUAL(mailbox_unread(&s->mbox), 20);
	/* Sent bytes make room byte by byte: one short of the next event's room, nothing moves;
	 * exactly its room, it goes (and only it). */
	{
		uint64_t need = fake_queued(&f->sink) +
				mailbox_get(&s->mbox, pushed + 1)->params_len + 128 -
				W.cfg.max_send_queue;

		sink_sent_upto(f, need - 1);
		CU_ASSERT_EQUAL(s->pushed, pushed);
		CU_ASSERT_EQUAL(take_in_order(f, &next), 0);
		expect_delivered_as_sent(s, f);
		sink_sent_upto(f, need);
		CU_ASSERT_EQUAL(s->pushed, pushed + 1);
		CU_ASSERT_EQUAL(take_in_order(f, &next), 1);
		expect_fits(s, f);
		expect_delivered_as_sent(s, f);
	}
	/* The first is all out: delivered. */
	pushed = s->pushed;
	sink_sent_upto(f, mailbox_get(&s->mbox, 1)->wire_end);
	CU_ASSERT_EQUAL(s->mbox.acked, 1);
	expect_fits(s, f);
	CU_ASSERT_EQUAL(take_in_order(f, &next), (int)(s->pushed - pushed));
	/* A new event while others wait takes its turn behind them. */
	pushed = s->pushed;
	CU_ASSERT_EQUAL(push_padded(s, 21, 10), 21);
	CU_ASSERT_EQUAL(s->pushed, pushed);
	CU_ASSERT_EQUAL(take_in_order(f, &next), 0);
	/* The rest follow as the bytes go. */
	while (next <= 21 && rounds < 50) {
		flush_sink(f);
		CU_ASSERT_EQUAL(s->mbox.acked, next - 1);
		expect_fits(s, f);
		CU_ASSERT_TRUE(take_in_order(f, &next) >= 1);
		rounds++;
	}
	CU_ASSERT_EQUAL(next, 22);
	CU_ASSERT_TRUE(rounds > 1);
	CU_ASSERT_EQUAL(s->pushed, 21);
	flush_sink(f);
	CU_ASSERT_EQUAL(s->mbox.acked, 21);
	CU_ASSERT_EQUAL(mailbox_unread(&s->mbox), 0);
	CU_ASSERT_EQUAL(take_in_order(f, &next), 0);
	CU_ASSERT_EQUAL(f->resumes, 0);
	CU_ASSERT_EQUAL(f->aborts, 0);
	sink_close(f);
}

/* Bytes waiting and none sent for a whole keep-alive interval: the client stopped reading.
 * The connection is aborted, the stream detached; its undelivered events replay on a new GET
 * with Last-Event-ID, in order, once. */
static void test_stopped_reader_aborted(void)
{
	char id[MCP_SESSION_ID_LEN + 1];
	struct mcp_session *s = init_session(id);
	struct fake_sink *f;
	enum mcp_disposition d;
	uint64_t next = 1;
	struct sse e;
	bool ended;
	int rounds = 0;

	W.cfg.sse_keepalive_ms = 1;
	W.cfg.max_send_queue = 16384;
	f = open_stream(id);
	for (int i = 1; i <= 10; i++)
		push_padded(s, i, 3000);
	CU_ASSERT_TRUE(s->pushed >= 2 && s->pushed < 10);
	take_in_order(f, &next);
	/* The client reads the head and two events, then stops. */
	sink_sent_upto(f, mailbox_get(&s->mbox, 2)->wire_end);
	CU_ASSERT_EQUAL(s->mbox.acked, 2);
	take_in_order(f, &next);
	CU_ASSERT_TRUE(s->pushed < 10);
	/* First interval: bytes wait, but some went since the stream opened: a ping. */
	ping_interval();
	CU_ASSERT_EQUAL(f->aborts, 0);
	CU_ASSERT_PTR_EQUAL(s->stream, &f->sink);
	CU_ASSERT_EQUAL(s->ping_sent, f->sent);
	stream_events(f, &e, &ended);
	CU_ASSERT_EQUAL(e.n, 0);
	CU_ASSERT_EQUAL(e.comments, 1);
	CU_ASSERT_FALSE(ended);
	sse_free(&e);
	/* Second interval: still waiting, not a byte sent since the last ping: aborted, no
	 * ping written, no clean end. */
	CU_ASSERT_TRUE(fake_queued(&f->sink) > f->sent);
	ping_interval();
	CU_ASSERT_EQUAL(f->aborts, 1);
	CU_ASSERT_PTR_NULL(s->stream);
	CU_ASSERT_PTR_NULL(f->sink.stream_of);
	CU_ASSERT_EQUAL(stats().streams, 0);
	CU_ASSERT_EQUAL(f->out.len, 0);
	CU_ASSERT_EQUAL(f->resumes, 0);
	/* Detached: its late sends deliver nothing, and no more pings come. */
	flush_sink(f);
	CU_ASSERT_EQUAL(s->mbox.acked, 2);
	CU_ASSERT_EQUAL(mailbox_unread(&s->mbox), 8);
	ping_interval();
	CU_ASSERT_EQUAL(f->aborts, 1);
	CU_ASSERT_EQUAL(f->out.len, 0);
	sink_close(f); /* what the I/O layer does after the abort */
	CU_ASSERT_PTR_NOT_NULL(sess(id));
	CU_ASSERT_EQUAL(push_padded(s, 11, 10), 11);
	CU_ASSERT_EQUAL(mailbox_unread(&s->mbox), 9);
	/* The client comes back with the last id it read: 3..11, in order, once. */
	next = 3;
	f = open_get(id, "2", &d);
	CU_ASSERT_EQUAL(d, MCP_STREAMING);
	expect_fits(s, f);
	expect_stream_head(f, &e);
	CU_ASSERT_TRUE(e.n >= 1 && e.n < 9);
	expect_in_order(&e, &next);
	sse_free(&e);
	while (next <= 11 && rounds < 50) {
		flush_sink(f);
		CU_ASSERT_EQUAL(s->mbox.acked, next - 1);
		expect_fits(s, f);
		CU_ASSERT_TRUE(take_in_order(f, &next) >= 1);
		rounds++;
	}
	CU_ASSERT_EQUAL(next, 12);
	flush_sink(f);
	CU_ASSERT_EQUAL(mailbox_unread(&s->mbox), 0);
	CU_ASSERT_EQUAL(take_in_order(f, &next), 0);
	CU_ASSERT_EQUAL(f->aborts, 0);
	sink_close(f);
}

/* A slow reader, with bytes always waiting but some sent in every interval, is not aborted. */
static void test_slow_reader_not_aborted(void)
{
	char id[MCP_SESSION_ID_LEN + 1];
	struct mcp_session *s = init_session(id);
	struct fake_sink *f;
	uint64_t next = 1;
	int comments = 0, rounds = 0;

	W.cfg.sse_keepalive_ms = 1;
	W.cfg.max_send_queue = 16384;
	f = open_stream(id);
	for (int i = 1; i <= 10; i++)
		push_padded(s, i, 3000);
	for (int i = 0; i < 5; i++) {
		struct sse e;
		bool ended;

		sink_sent_upto(f, f->sent + 1000); /* a little each interval */
		CU_ASSERT_TRUE(fake_queued(&f->sink) > f->sent);
		ping_interval();
		CU_ASSERT_EQUAL(f->aborts, 0);
		CU_ASSERT_PTR_EQUAL(s->stream, &f->sink);
		CU_ASSERT_EQUAL(s->ping_sent, f->sent);
		stream_events(f, &e, &ended);
		CU_ASSERT_FALSE(ended);
		comments += e.comments;
		expect_in_order(&e, &next);
		sse_free(&e);
	}
	CU_ASSERT_EQUAL(comments, 5);
	/* It speeds up: everything arrives, in order, on the same stream. */
	while (next <= 10 && rounds < 50) {
		flush_sink(f);
		take_in_order(f, &next);
		rounds++;
	}
	CU_ASSERT_EQUAL(next, 11);
	flush_sink(f);
	CU_ASSERT_EQUAL(mailbox_unread(&s->mbox), 0);
	CU_ASSERT_EQUAL(f->aborts, 0);
	CU_ASSERT_EQUAL(stats().streams, 1);
	sink_close(f);
}

/* An event larger than the whole send queue still goes, alone, once nothing waits. */
static void test_event_bigger_than_queue(void)
{
	char id[MCP_SESSION_ID_LEN + 1];
	struct mcp_session *s = init_session(id);
	struct fake_sink *f;
	uint64_t next = 1;

	W.cfg.max_send_queue = 16384;
	f = open_stream(id);
	/* The head still waits: the big one waits for it. */
	CU_ASSERT_EQUAL(push_padded(s, 1, 20000), 1);
	CU_ASSERT_EQUAL(s->pushed, 0);
	CU_ASSERT_EQUAL(take_in_order(f, &next), 0);
	flush_sink(f);
	CU_ASSERT_EQUAL(s->pushed, 1);
	CU_ASSERT_TRUE(fake_queued(&f->sink) - f->sent > W.cfg.max_send_queue);
	CU_ASSERT_EQUAL(take_in_order(f, &next), 1);
	/* A small one waits behind it while the queue is over full, and fits once most of the
	 * big one went. */
	CU_ASSERT_EQUAL(push_padded(s, 2, 10), 2);
	CU_ASSERT_EQUAL(s->pushed, 1);
	sink_sent_upto(f, f->sent + 1000);
	CU_ASSERT_EQUAL(s->pushed, 1);
	CU_ASSERT_EQUAL(take_in_order(f, &next), 0);
	sink_sent_upto(f, mailbox_get(&s->mbox, 1)->wire_end - 1);
	CU_ASSERT_EQUAL(s->mbox.acked, 0);
	CU_ASSERT_EQUAL(s->pushed, 2);
	CU_ASSERT_EQUAL(take_in_order(f, &next), 1);
	flush_sink(f);
	CU_ASSERT_EQUAL(s->mbox.acked, 2);
	/* A big one waits while anything does, then goes alone. */
	CU_ASSERT_EQUAL(push_padded(s, 3, 10), 3);
	CU_ASSERT_EQUAL(push_padded(s, 4, 20000), 4);
	CU_ASSERT_EQUAL(s->pushed, 3);
	CU_ASSERT_EQUAL(take_in_order(f, &next), 1);
	flush_sink(f);
	CU_ASSERT_EQUAL(s->mbox.acked, 3);
	CU_ASSERT_EQUAL(s->pushed, 4);
	CU_ASSERT_EQUAL(take_in_order(f, &next), 1);
	flush_sink(f);
	CU_ASSERT_EQUAL(s->mbox.acked, 4);
	/* Nothing waits: a big one goes at once. */
	CU_ASSERT_EQUAL(push_padded(s, 5, 40000), 5);
	CU_ASSERT_EQUAL(s->pushed, 5);
	CU_ASSERT_EQUAL(mailbox_get(&s->mbox, 5)->wire_end, fake_queued(&f->sink));
	CU_ASSERT_EQUAL(take_in_order(f, &next), 1);
	flush_sink(f);
	CU_ASSERT_EQUAL(mailbox_unread(&s->mbox), 0);
	CU_ASSERT_PTR_EQUAL(s->stream, &f->sink);
	CU_ASSERT_EQUAL(f->resumes, 0);
	sink_close(f);
}

/* A fresh GET on a backlog many times the send queue streams (never closes for it) and
 * delivers everything, in order, as the sink reports partial sends. */
static void test_fresh_get_large_backlog(void)
{
	char id[MCP_SESSION_ID_LEN + 1];
	struct mcp_session *s = init_session(id);
	struct fake_sink *f;
	enum mcp_disposition d;
	uint64_t next = 1;
	struct sse e;
	int rounds = 0;

	W.cfg.max_send_queue = 16384;
	for (int i = 1; i <= 40; i++)
		push_padded(s, i, 3000);
	f = open_get(id, NULL, &d);
	CU_ASSERT_EQUAL(d, MCP_STREAMING);
	CU_ASSERT_PTR_EQUAL(s->stream, &f->sink);
	CU_ASSERT_PTR_EQUAL(f->sink.stream_of, s);
	CU_ASSERT_EQUAL(stats().streams, 1);
	expect_fits(s, f);
	expect_stream_head(f, &e);
	CU_ASSERT_TRUE(e.n >= 1 && e.n < 40);
	expect_in_order(&e, &next);
	sse_free(&e);
	CU_ASSERT_EQUAL(mailbox_unread(&s->mbox), 40);
	while (next <= 40 && rounds < 500) {
		uint64_t q = fake_queued(&f->sink);

		sink_sent_upto(f, f->sent + 5000 < q ? f->sent + 5000 : q);
		expect_fits(s, f);
		expect_delivered_as_sent(s, f);
		take_in_order(f, &next);
		rounds++;
	}
	CU_ASSERT_EQUAL(next, 41);
	CU_ASSERT_TRUE(rounds > 5);
	flush_sink(f);
	CU_ASSERT_EQUAL(s->mbox.acked, 40);
	CU_ASSERT_EQUAL(mailbox_unread(&s->mbox), 0);
	CU_ASSERT_EQUAL(take_in_order(f, &next), 0);
	CU_ASSERT_EQUAL(f->resumes, 0);
	CU_ASSERT_EQUAL(f->aborts, 0);
	sink_close(f);
}

/* The stream of a session that ends (here: kicked, with events still held back) gets what was
 * written, then the last chunk, and resumes with keep-alive: it ended cleanly. */
static void test_session_end_stream_resume(void)
{
	char id[MCP_SESSION_ID_LEN + 1];
	struct mcp_session *s = init_session(id);
	struct fake_sink *f;
	uint64_t next = 1, pushed;
	struct sse e;
	bool ended;
	int commits;

	W.cfg.max_send_queue = 16384;
	f = open_stream(id);
	for (int i = 1; i <= 10; i++)
		push_padded(s, i, 3000);
	pushed = s->pushed;
	CU_ASSERT_TRUE(pushed < 10);
	commits = f->commits;
	mcp_session_end(W.srv, s, 3 /* CHAT_KICKED */);
	CU_ASSERT_PTR_NULL(sess(id));
	CU_ASSERT_EQUAL(f->commits, commits + 1);
	CU_ASSERT_EQUAL(f->resumes, 1);
	CU_ASSERT_TRUE(f->resume_keep_alive);
	CU_ASSERT_EQUAL(f->aborts, 0);
	CU_ASSERT_PTR_NULL(f->sink.stream_of);
	CU_ASSERT_EQUAL(stats().streams, 0);
	CU_ASSERT_TRUE_FATAL(f->out.len >= 5);
	CU_ASSERT_EQUAL(memcmp(f->out.p + f->out.len - 5, "0\r\n\r\n", 5), 0);
	/* What was written, then the end; the held-back events are not written. */
	stream_events(f, &e, &ended);
	CU_ASSERT_TRUE(ended);
	CU_ASSERT_EQUAL(e.n, (int)pushed);
	expect_in_order(&e, &next);
	sse_free(&e);
	/* The connection's later sends touch nothing (the session is gone). */
	flush_sink(f);
	CU_ASSERT_EQUAL(f->out.len, 0);
	sink_close(f);
}

int main(void)
{
	static const struct unit_test tests[] = {
		{ "backlog over the send queue", test_backlog_over_send_queue },
		{ "stream throttled to the send queue", test_stream_throttled },
		{ "stopped reader aborted, replays", test_stopped_reader_aborted },
		{ "slow reader not aborted", test_slow_reader_not_aborted },
		{ "event bigger than the send queue", test_event_bigger_than_queue },
		{ "fresh GET on a large backlog", test_fresh_get_large_backlog },
		{ "session end: last chunk, keep-alive", test_session_end_stream_resume },
		{ NULL, NULL },
	};
	static const struct unit_suite suites[] = {
		{ "mcp_flow", tests, NULL, NULL, setup, teardown },
		{ NULL, NULL, NULL, NULL, NULL, NULL },
	};

	log_set_level(LOG_LVL_WARNING);
	jsonrpc_init(); /* the daemon's cJSON hooks, as main() installs them */
	return unit_main(suites);
}
