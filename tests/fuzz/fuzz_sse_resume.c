/* Last-Event-ID resumption: a session gets events (some refused, some acknowledged, some
 * delivered on earlier streams), then a client opens GET /mcp with an arbitrary
 * Last-Event-ID and keeps resuming from the last id it saw while the server ends the stream
 * early (send-queue limit). Every replayed id must be new, increasing, after the id the
 * client gave, held in the mailbox, and together they must be exactly what followed it.
 *
 * Input: byte 0 = mailbox capacity (16 + b % 48), byte 1 = send queue (16 KiB + b * 1 KiB),
 * then operations until 0xff:
 *   0x00-0xbf  add an event of (b >> 1) * 16 bytes, from 0xb0 of (b - 0xb0) * 1.5 KiB;
 *              refusable when b is odd (at most MAX_OPS operations)
 *   0xc0-0xef  acknowledge up to last - (b - 0xc0) (as wait_for_message would)
 *   0xf0-0xfc  a stream comes and goes: events pushed and sent, (b & 1): all sent
 *   0xfd       time passes: polled calls answer, with nobody connected (their answers kept)
 *   0xfe       tools/call test_reconnection: a POST stream that ends after its priming event
 * and the rest is the Last-Event-ID value (absent when empty; cut at the first NUL). An "N-M"
 * value resumes POST stream N instead: its answer once (at once when kept, else when the call
 * answers), never a push stream event; refused when N has nothing left to give. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "fuzz_entry.h"
#include "http/sse.h"
#include "mcp/jsonrpc.h"

#define MAX_IDS 4096
#define MAX_ROUNDS 64
#define MAX_OPS 512
#define MAX_PAYLOAD (4u << 20) /* well under the fake sink's log cap */

static struct fz_world W;

struct ids {
	uint64_t v[MAX_IDS];
	size_t n;
};

static struct http_request get_req(const char *sid, const char *last_event_id)
{
	struct http_request r = {
		.method = HTTP_M_GET,
		.method_name = "GET",
		.path = "/mcp",
		.host = "127.0.0.1:8808",
		.session_id = sid,
		.last_event_id = last_event_id,
		.has_accept = true,
		.accept_sse = true,
		.keep_alive = true,
		.body = "",
	};

	return r;
}

/* The ids of the events in a recorded stream response (the head is skipped). */
static void stream_ids(const struct buf *log, struct ids *out)
{
	const char *p = log->p ? log->p : "", *end = p + log->len;
	const char *body = memmem(p, log->len, "\r\n\r\n", 4);

	out->n = 0;
	for (p = body ? body + 4 : end; p < end;) {
		char *e;
		unsigned long n = strtoul(p, &e, 16);

		if (n == 0 || e + 2 + n > end)
			break;
		if (strncmp(e + 2, "id: ", 4) == 0 && out->n < MAX_IDS)
			out->v[out->n++] = strtoull(e + 6, NULL, 10);
		p = e + 2 + n + 2;
	}
}

static size_t payload; /* bytes of events added in this input */

static int64_t add_event(struct mcp_session *s, uint8_t b)
{
	static char params[24 * 1024];
	size_t pad = b >= 0xb0 ? (size_t)(b - 0xb0) * 1536 : (size_t)(b >> 1) * 16;
	int n = snprintf(params, sizeof(params), "{\"b\":%u,\"pad\":\"", b);

	if (payload + pad > MAX_PAYLOAD)
		pad = 0;
	payload += pad;
	memset(params + n, 'x', pad);
	memcpy(params + n + pad, "\"}", 3);
	return mcp_session_event(W.srv, s, "test.event", params, (size_t)n + pad + 2, b & 1);
}

/* Lets the stream's bytes go out (mcp pushes more as they do) until nothing new comes. */
static void drain(struct fz_sink *f)
{
	for (int i = 0; i < 10000; i++) {
		uint64_t before = f->committed;

		fz_sink_flush(W.srv, f);
		if (f->committed == before)
			return;
	}
	FZ_CHECK(0, "stream never stops growing");
}

/* A stream opens from the mailbox's acknowledged point, sends (all or half), and closes. */
static void stream_pass(struct mcp_session *s, bool all)
{
	struct http_request req = get_req(s->id, NULL);
	struct fz_sink f;

	fz_sink_init(&f, &W.cfg, !all);
	fz_sink_expect(&f, FZ_REQ_BODY);
	mcp_handle(W.srv, &req, &f.sink);
	if (all)
		drain(&f);
	else
		fz_sink_flush(W.srv, &f);
	if (all)
		FZ_CHECK(!f.sink.stream_of || s->mbox.acked == s->mbox.last,
			 "stream sent everything but acked %llu of %llu",
			 (unsigned long long)s->mbox.acked, (unsigned long long)s->mbox.last);
	fz_sink_close(W.srv, &f);
	fz_sink_finish(&f);
}

/* Polled calls answer: their deadline (300 ms) passes. */
static void time_passes(void)
{
	timer_run(&W.heap, timer_now_ms() + 1000);
}

/* A call whose POST stream the server ends after the priming event "id: N-0" and retry; at
 * the cap (every stream of the session still running) a plain wait on its open stream, which
 * ends with its connection. */
static void poll_call(struct mcp_session *s)
{
	static const char call[] = "{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"tools/call\","
				   "\"params\":{\"name\":\"test_reconnection\",\"arguments\":{}}}";
	struct buf resp = BUF_INIT;
	uint32_t next = s->next_pstream;
	enum mcp_disposition d = fz_post(&W, s->id, call, &resp);
	const char *p = resp.p ? resp.p : "";
	char want[64];

	if (s->next_pstream != next) {
		FZ_CHECK(d == MCP_DONE, "polled POST answered %d", d);
		snprintf(want, sizeof(want), "\r\nid: %u-0\nretry: ", s->next_pstream);
		FZ_CHECK(memmem(p, resp.len, want, strlen(want)), "no priming event %s", want + 2);
	} else {
		FZ_CHECK(s->n_pstreams == MCP_RESUME_STREAMS && !memmem(p, resp.len, "retry: ", 7),
			 "no POST stream made below the cap (%u)", s->n_pstreams);
	}
	FZ_CHECK(s->n_pstreams <= MCP_RESUME_STREAMS && s->pstream_bytes <= MCP_RESUME_BYTES,
		 "POST streams %u, %zu bytes kept", s->n_pstreams, s->pstream_bytes);
	buf_free(&resp);
}

static size_t run_ops(struct mcp_session *s, const uint8_t *p, size_t n)
{
	size_t i;

	for (i = 0; i < n && i < MAX_OPS && p[i] != 0xff; i++) {
		uint64_t last = s->mbox.last;

		if (p[i] < 0xc0)
			add_event(s, p[i]);
		else if (p[i] < 0xf0)
			mailbox_ack(&s->mbox, last > (uint64_t)(p[i] - 0xc0) ? last - (p[i] - 0xc0) : 0);
		else if (p[i] == 0xfd)
			time_passes();
		else if (p[i] == 0xfe)
			poll_call(s);
		else
			stream_pass(s, p[i] & 1);
	}
	return i < n ? i + 1 : n;
}

/* The events a resume from `from` must replay: held ones after it, in order. */
static void expected_ids(const struct mailbox *mb, uint64_t from, struct ids *want)
{
	want->n = 0;
	for (uint64_t seq = mb->first; mb->count && seq <= mb->last && want->n < MAX_IDS; seq++)
		if (seq > from)
			want->v[want->n++] = seq;
}

static void check_round(const struct ids *got, const struct ids *want, size_t *done,
			uint64_t from, const struct mailbox *mb)
{
	for (size_t i = 0; i < got->n; i++) {
		FZ_CHECK(got->v[i] > from, "replayed id %llu not after Last-Event-ID %llu",
			 (unsigned long long)got->v[i], (unsigned long long)from);
		FZ_CHECK(got->v[i] <= mb->last, "replayed id %llu past the mailbox (last %llu)",
			 (unsigned long long)got->v[i], (unsigned long long)mb->last);
		FZ_CHECK(*done < want->n && got->v[i] == want->v[*done],
			 "replayed id %llu, expected %llu (%zu of %zu)", (unsigned long long)got->v[i],
			 (unsigned long long)(*done < want->n ? want->v[*done] : 0), *done, want->n);
		(*done)++;
	}
}

/* One GET, read to the end of what the server has; returns its disposition. */
static enum mcp_disposition get_once(struct mcp_session *s, const char *lei, struct ids *got,
				     struct fz_sink *f)
{
	struct http_request req = get_req(s->id, lei);
	enum mcp_disposition d;

	fz_sink_init(f, &W.cfg, false);
	fz_sink_expect(f, FZ_REQ_BODY);
	d = mcp_handle(W.srv, &req, &f->sink);
	drain(f);
	stream_ids(&f->log, got);
	return d;
}

/* On an open stream a new event arrives at once, after the replayed ones. */
static void check_live(struct mcp_session *s, struct fz_sink *f, size_t replayed)
{
	static struct ids got;
	int64_t seq = add_event(s, 2);

	FZ_CHECK(seq > 0, "event refused: %lld", (long long)seq);
	drain(f);
	stream_ids(&f->log, &got);
	FZ_CHECK(got.n == replayed + 1 && got.v[replayed] == (uint64_t)seq,
		 "live event %lld not pushed on the open stream (%zu ids after %zu replayed)",
		 (long long)seq, got.n, replayed);
	FZ_CHECK(s->mbox.acked == s->mbox.last, "all sent, acked %llu of %llu",
		 (unsigned long long)s->mbox.acked, (unsigned long long)s->mbox.last);
}

static void end_round(struct fz_sink *f)
{
	fz_sink_close(W.srv, f);
	fz_sink_finish(f);
}

/* How many "id: " lines the bytes hold, and whether one is want. */
static size_t count_ids(const struct buf *log, const char *want, bool *found)
{
	size_t n = 0;
	const char *p = log->p ? log->p : "", *end = p + log->len;

	*found = false;
	while ((p = memmem(p, (size_t)(end - p), "id: ", 4))) {
		n++;
		if (strncmp(p, want, strlen(want)) == 0)
			*found = true;
		p += 4;
	}
	return n;
}

/* GET with a POST stream's id: the stream's answer, once, or a refusal. */
static void resume_post(struct mcp_session *s, const char *lei)
{
	struct mcp_pstream *ps = NULL;
	uint32_t no = 0, ev = 0;
	bool parsed = sse_parse_stream_event_id(lei, &no, &ev) == 0, live, found;
	char want[40];
	struct fz_sink f;
	static struct ids got;
	enum mcp_disposition d;

	for (ps = parsed ? s->pstreams : NULL; ps && ps->no != no; ps = ps->next)
		;
	/* Expired ones go at the look: none here, the clock jumps only by a second. */
	live = ps && ps->call;
	snprintf(want, sizeof(want), "id: %u-1\ndata: ", no);
	d = get_once(s, lei, &got, &f);
	FZ_CHECK(!f.sink.stream_of && !s->stream, "a POST stream's id opened the push stream");
	if (!ps || ev != 0) {
		FZ_CHECK(d == MCP_DONE && !f.sink.call && count_ids(&f.log, "", &found) == 0,
			 "Last-Event-ID \"%s\" names nothing to resume but was not refused", lei);
		end_round(&f);
		return;
	}
	if (live) {
		FZ_CHECK(d == MCP_PENDING && f.sink.call, "a live POST stream not resumed: %d", d);
		FZ_CHECK(count_ids(&f.log, want, &found) == 0, "answer before the call answered");
		time_passes();
	} else {
		FZ_CHECK(d == MCP_DONE && !f.sink.call, "a kept answer not replayed at once: %d", d);
	}
	FZ_CHECK(count_ids(&f.log, want, &found) == 1 && found, "not exactly the answer %s", want);
	FZ_CHECK(!f.sink.call, "the stream goes on after its answer");
	end_round(&f);
	for (ps = s->pstreams; ps; ps = ps->next)
		FZ_CHECK(ps->no != no, "POST stream %u still held after its answer was read", no);
	/* Once: the same id again is refused. */
	d = get_once(s, lei, &got, &f);
	FZ_CHECK(d == MCP_DONE && !f.sink.call && count_ids(&f.log, "", &found) == 0,
		 "POST stream %u replayed twice", no);
	end_round(&f);
}

/* Resumes until the stream stays open; every round must make progress. */
static void resume_all(struct mcp_session *s, const char *lei)
{
	static struct ids want, got;
	uint64_t from = 0;
	bool valid = lei && sse_parse_event_id(lei, &from) == 0;
	char next[24];
	size_t done = 0;

	if (lei && strchr(lei, '-')) {
		resume_post(s, lei);
		return;
	}
	if (!lei)
		from = s->mbox.acked;
	expected_ids(&s->mbox, from, &want);
	for (int round = 0; round < MAX_ROUNDS; round++) {
		struct fz_sink f;
		enum mcp_disposition d = get_once(s, lei, &got, &f);

		if (lei && !valid) {
			FZ_CHECK(d == MCP_DONE && !f.sink.stream_of && got.n == 0,
				 "malformed Last-Event-ID \"%s\" was not refused", lei);
			end_round(&f);
			return;
		}
		check_round(&got, &want, &done, from, &s->mbox);
		if (f.sink.stream_of) {
			FZ_CHECK(d == MCP_STREAMING, "stream attached but GET answered %d", d);
			FZ_CHECK(done == want.n, "stream idle after %zu of %zu events", done, want.n);
			check_live(s, &f, got.n); /* also after an id beyond the last */
			end_round(&f);
			return;
		}
		FZ_CHECK(got.n > 0, "stream ended without any event: event %llu can never be read",
			 (unsigned long long)(done < want.n ? want.v[done] : 0));
		end_round(&f);
		from = got.v[got.n - 1];
		snprintf(next, sizeof(next), "%llu", (unsigned long long)from);
		lei = next;
	}
	FZ_CHECK(0, "no open stream after %d resumptions", MAX_ROUNDS);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fz_quiet();
	jsonrpc_init(); /* the daemon's cJSON hooks before any cJSON use */
	fz_world_up(&W);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char lei[65];
	struct mcp_session *s;
	size_t used, n;

	if (size < 2)
		return 0;
	W.cfg.mailbox_events = 16 + data[0] % 48;
	W.cfg.max_send_queue = 16384 + (size_t)data[1] * 1024;
	payload = 0;
	s = fz_session_new(&W);
	FZ_CHECK(s, "no session");
	used = 2 + run_ops(s, data + 2, size - 2);
	n = strnlen((const char *)data + used, size - used);
	n = n < sizeof(lei) - 1 ? n : sizeof(lei) - 1;
	memcpy(lei, data + used, n);
	lei[n] = '\0';
	resume_all(s, used < size ? lei : NULL);
	mcp_session_end(W.srv, s, 1);
	fz_check_quiet_world(&W);
	return 0;
}
