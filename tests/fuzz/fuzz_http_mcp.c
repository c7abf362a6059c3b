/* HTTP bytes → http_conn (fed in input-chosen fragments) → mcp_handle → fake connection,
 * with a persistent server and chat across inputs, as the daemon's connection loop drives it.
 *
 * Input: byte 0 = flags, byte 1 = seed for split points, then request bytes. "@C@" starts a
 * new connection (up to MAX_CONNS, opened in order; a connection left streaming or waiting
 * stays open while the next ones run). Placeholders, replaced when a connection opens:
 *   @S0@..@S3@  ids of four live sessions (re-created when they end)
 *   @H0@..@H3@  their admin handles      @R0@..@R3@  their current room id
 *   @L0@..@L3@  their mailbox's last seq @N@        the newest session's id
 *   @I0@..@I3@  their chat_id (what a 2026-07-28 request names the same chat by)
 *   @A@         the id of the newest request the server sent a client (mcp_tool_ask), so a
 *               response can answer it, or miss it on purpose ("@A@0", "\"@A@\"")
 *   @Q0@..@Q3@  the newest requestState the server sent on this input's connections: as
 *               sent, tampered (one character changed), truncated (half), and expired (its
 *               expiry moved into the past and sealed again with the server's key, so only
 *               the expiry check refuses it); "none" before any
 * "@T@" also starts a new connection, after a jump past every deadline (a parked call to a
 * client ends unanswered, so a response can come late). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chat/chat.h"
#include "chat/tools.h"
#include "fuzz_common.h"
#include "fuzz_entry.h"
#include "http/request.h"
#include "http/response.h"
#include "mcp/jsonrpc.h"
#include "util/b64url.h"
#include "util/sha256.h"
#include "web/static.h"

#define MAX_CONNS 8
#define SLOTS 4
#define RECREATE_EVERY 4096
#define MAX_SESSIONS 500
#define MAX_ROUNDS 64

enum flags {
	F_CHUNK = 3,          /* 0 whole, 1 bytes 1..16, 2 bytes 1..256, 3 one byte */
	F_PING = 1 << 2,      /* keep-alive every ms during this input */
	F_STRICT_RATE = 1 << 3,
	F_SLOW = 1 << 4,      /* the client reads slowly: send-queue limits apply */
	F_SHUTDOWN = 1 << 5,  /* graceful stop at the end (the world is rebuilt) */
	F_SMALL_MBOX = 1 << 6,
	F_TIGHT = 1 << 7,     /* small head/body limits */
};

struct conn {
	struct fz_sink sink;
	struct http_conn *http;
	char *data;
	size_t len, off;
	bool open, busy, closing;
};

static struct {
	struct fz_world w;
	char slot[SLOTS][MCP_SESSION_ID_LEN + 1];
	unsigned runs;
	uint8_t flags;
	uint32_t rng;
	struct conn conns[MAX_CONNS];
	int n_conns;
} G;

/* World */

static void world_reset(void)
{
	fz_world_down(&G.w);
	fz_world_up(&G.w);
	memset(G.slot, 0, sizeof(G.slot));
	G.runs = 0;
}

static void apply_flags(void)
{
	struct config *cfg = &G.w.cfg;

	cfg->sse_keepalive_ms = G.flags & F_PING ? 1 : 3600u * 1000;
	cfg->rate_per_second = G.flags & F_STRICT_RATE ? 5 : 1e9;
	cfg->rate_burst = G.flags & F_STRICT_RATE ? 3 : 1e9;
	cfg->mailbox_events = G.flags & F_SMALL_MBOX ? 16 : 64; /* new sessions */
	cfg->max_head_bytes = G.flags & F_TIGHT ? 1024 : 8192;
	cfg->max_body_bytes = G.flags & F_TIGHT ? 1024 : 65536;
	chat_tools_configure(G.w.chat, cfg);
}

/* A slot's session, made anew when it ended. */
static struct mcp_session *slot(int i)
{
	struct mcp_session *s = mcp_sessions_find((&G.w.srv->sessions), G.slot[i]);

	if (!s && (s = fz_session_new(&G.w)))
		memcpy(G.slot[i], s->id, sizeof(G.slot[i]));
	return s;
}

/* Placeholders */

/* The newest requestState in the bytes sent on this input's connections: *len chars, or
 * NULL. */
static const char *newest_state(size_t *len)
{
	static const char key[] = "\"requestState\":\"";
	const char *found = NULL;

	for (int i = 0; i < G.n_conns; i++) {
		const struct buf *log = &G.conns[i].sink.log;
		const char *p = log->p, *end, *q;

		if (!p)
			continue;
		end = p + log->len;
		while ((q = memmem(p, (size_t)(end - p), key, sizeof(key) - 1))) {
			p = q + sizeof(key) - 1;
			found = p;
			*len = 0;
			while (p + *len < end && p[*len] != '"')
				(*len)++;
		}
	}
	return found;
}

/* The same state, valid in every way but its expiry, now in the past (state.c's layout:
 * version, expiry (8 bytes, big-endian), nonce, digest, data, then the HMAC of all that). */
static void expired_state(const char *tok, size_t len, struct buf *b)
{
	uint8_t *raw = malloc(b64url_decoded_len(len) + 1);
	char *out;
	size_t n;

	FZ_CHECK(raw, "malloc");
	if (b64url_decode(tok, len, raw, &n) != 0 || n < 1 + 8 + MCP_STATE_NONCE_LEN + 2 * SHA256_LEN) {
		buf_append(b, tok, len);
		free(raw);
		return;
	}
	memset(raw + 1, 0, 8);
	raw[8] = 1;
	hmac_sha256(G.w.srv->state_key, MCP_STATE_KEY_LEN, raw, n - SHA256_LEN,
		    raw + n - SHA256_LEN);
	out = malloc(b64url_encoded_len(n) + 1);
	FZ_CHECK(out, "malloc");
	b64url_encode(raw, n, out);
	buf_puts(b, out);
	free(out);
	free(raw);
}

static void state_variant(int v, struct buf *b)
{
	size_t len = 0, at = b->len;
	const char *tok = newest_state(&len);

	if (!tok) {
		buf_puts(b, "none");
		return;
	}
	if (v == 3) {
		expired_state(tok, len, b);
		return;
	}
	buf_append(b, tok, v == 2 ? len / 2 : len);
	if (v == 1 && len)
		b->p[at + len / 2] = b->p[at + len / 2] == 'A' ? 'B' : 'A';
}

static size_t expand_one(const char *p, size_t left, char *val, size_t cap, struct buf *b)
{
	struct chat_status st;
	struct mcp_session *s;
	int i;

	if (left >= 3 && memcmp(p, "@A@", 3) == 0) {
		snprintf(val, cap, "%llu", (unsigned long long)G.w.srv->ask_seq);
		return 3;
	}
	if (left >= 4 && p[1] == 'Q' && p[2] >= '0' && p[2] <= '3' && p[3] == '@') {
		val[0] = '\0';
		state_variant(p[2] - '0', b);
		return 4;
	}
	if (left >= 3 && memcmp(p, "@N@", 3) == 0) {
		s = (&G.w.srv->sessions)->all;
		snprintf(val, cap, "%s", s ? s->id : "none");
		return 3;
	}
	if (left < 4 || p[3] != '@' || p[2] < '0' || p[2] >= '0' + SLOTS || !strchr("SHRLI", p[1]))
		return 0;
	i = p[2] - '0';
	s = slot(i);
	if (!s)
		snprintf(val, cap, "gone");
	else if (p[1] == 'S')
		snprintf(val, cap, "%s", s->id);
	else if (p[1] == 'H')
		snprintf(val, cap, "%s", s->handle);
	else if (p[1] == 'L')
		snprintf(val, cap, "%llu", (unsigned long long)s->mbox.last);
	else if (p[1] == 'I')
		snprintf(val, cap, "%s", chat_user_id(s->app));
	else {
		chat_get_status(G.w.chat, s->app, &st);
		snprintf(val, cap, "%s", st.room_id ? st.room_id : "no-room");
	}
	return 4;
}

static void expand_into(struct buf *b, const char *p, size_t len)
{
	for (size_t i = 0; i < len;) {
		char val[96];
		size_t n = p[i] == '@' ? expand_one(p + i, len - i, val, sizeof(val), b) : 0;

		if (n) {
			buf_puts(b, val);
			i += n;
		} else {
			buf_append(b, p + i, 1);
			i++;
		}
	}
}

/* The declared body length of the head p..end: the value's offset and length, or 0. */
static size_t find_length(const char *p, const char *end, size_t *val_off, size_t *val_len)
{
	static const char cl[] = "\r\nContent-Length: ";
	const char *h = memmem(p, (size_t)(end - p), cl, sizeof(cl) - 1);
	size_t digits = 0, v = 0;

	if (!h)
		return 0;
	h += sizeof(cl) - 1;
	while (h + digits < end && digits < 8 && h[digits] >= '0' && h[digits] <= '9')
		v = v * 10 + (size_t)(h[digits++] - '0');
	if (digits == 0 || digits > 7)
		return 0;
	*val_off = (size_t)(h - p);
	*val_len = digits;
	return v;
}

/* One request head (and its Content-Length body): placeholders replaced, the length
 * re-counted so the body still matches. Returns the bytes of p used. */
static size_t expand_message(struct buf *b, const char *p, size_t len)
{
	const char *end = memmem(p, len, "\r\n\r\n", 4);
	size_t head, body, off = 0, vlen = 0;
	struct buf exp = BUF_INIT;

	if (!end) {
		expand_into(b, p, len);
		return len;
	}
	head = (size_t)(end - p) + 4;
	body = find_length(p, end, &off, &vlen);
	if (body == 0 || body > len - head) {
		expand_into(b, p, head);
		return head;
	}
	expand_into(&exp, p + head, body);
	expand_into(b, p, off);
	buf_printf(b, "%zu", exp.len);
	expand_into(b, p + off + vlen, head - off - vlen);
	buf_append(b, exp.p, exp.len);
	buf_free(&exp);
	return head + body;
}

/* Returns a malloc'd copy of p with the placeholders replaced. */
static char *expand(const char *p, size_t len, size_t *out_len)
{
	struct buf b = BUF_INIT;

	for (size_t i = 0; i < len;)
		i += expand_message(&b, p + i, len - i);
	*out_len = b.len;
	return buf_take(&b);
}

/* Connections */

static size_t chunk_len(size_t left)
{
	switch (G.flags & F_CHUNK) {
	case 0:
		return left;
	case 1:
		return left < 16 ? left : 1 + fz_rand(&G.rng) % 16;
	case 2:
		return left < 256 ? left : 1 + fz_rand(&G.rng) % 256;
	default:
		return left ? 1 : 0;
	}
}

/* The page's routes (/ and /web/), as client.c routes them: every answer a known status
 * with a head that fits, no body on HEAD or 304. */
static void answer_web(const struct http_request *req)
{
	struct web_answer a;
	char head[1024];

	web_answer(!(G.flags & F_TIGHT), req, &a); /* [web] off with the tight limits */
	FZ_CHECK(a.status == 200 || a.status == 304 || a.status == 404 || a.status == 405,
		 "web: status %d", a.status);
	FZ_CHECK(a.status != 304 || a.head_only, "web: a 304 with a body");
	FZ_CHECK(req->method != HTTP_M_HEAD || a.head_only, "web: a body for HEAD");
	FZ_CHECK(a.body && a.len > 0, "web: no body");
	FZ_CHECK(http_format_head(head, sizeof(head), a.status, a.type, (long)a.len, a.extra,
				  req->keep_alive) > 0, "web: the head does not fit");
}

static void answer(struct conn *c)
{
	const struct http_request *req = http_conn_request(c->http);
	enum mcp_disposition d;

	if (web_is_path(req->path)) {
		answer_web(req);
		http_conn_next(c->http);
		return;
	}
	fz_sink_expect(&c->sink, req->method == HTTP_M_HEAD ? FZ_REQ_HEAD : FZ_REQ_BODY);
	d = mcp_handle(G.w.srv, req, &c->sink.sink);
	http_conn_next(c->http);
	if (d == MCP_CLOSE)
		c->closing = true;
	else if (d == MCP_STREAMING || d == MCP_PENDING)
		c->busy = true;
	FZ_CHECK(d != MCP_STREAMING || c->sink.sink.stream_of, "STREAMING without a stream");
	FZ_CHECK(d != MCP_PENDING || c->sink.sink.call, "PENDING without a call");
	FZ_CHECK(c->busy || (!c->sink.sink.call && !c->sink.sink.stream_of),
		 "mcp holds a sink it answered as done (%d)", d);
}

/* Parses and answers until the connection is held, closes, or its bytes run out. */
static void conn_pump(struct conn *c)
{
	while (c->open && !c->busy && !c->closing && !c->sink.aborted) {
		size_t want = chunk_len(c->len - c->off), used;
		int rc = http_conn_feed(c->http, c->data + c->off, want, &used);

		FZ_CHECK(used <= want, "feed used %zu of %zu", used, want);
		c->off += used;
		if (rc == HTTP_FEED_MORE) {
			if (c->off >= c->len)
				break;
			continue;
		}
		if (rc == HTTP_FEED_CONTINUE)
			continue;
		if (rc < 0) {
			fz_sink_expect(&c->sink, FZ_REQ_BODY);
			mcp_reply_http_error(&c->sink.sink, -rc, http_conn_error(c->http));
			c->closing = true;
			break;
		}
		FZ_CHECK(rc == HTTP_FEED_REQUEST && http_conn_request(c->http), "feed gave %d", rc);
		answer(c);
	}
}

static void conn_close(struct conn *c)
{
	if (!c->open)
		return;
	fz_sink_close(G.w.srv, &c->sink);
	c->open = false;
}

static void conn_open(struct conn *c, const char *p, size_t len)
{
	struct http_limits lim = { G.w.cfg.max_head_bytes, G.w.cfg.max_body_bytes };

	memset(c, 0, sizeof(*c));
	fz_sink_init(&c->sink, &G.w.cfg, G.flags & F_SLOW);
	c->http = http_conn_new(&lim);
	FZ_CHECK(c->http, "http_conn_new");
	c->data = expand(p, len, &c->len);
	c->open = true;
	c->sink.foreign_bytes = !fz_utf8_valid(c->data, c->len);
}

/* What the server loop does between events: drop aborted connections, go on with resumed
 * ones, send bytes. Stops when nothing moves. */
static void settle(void)
{
	for (int round = 0; round < MAX_ROUNDS; round++) {
		bool moved = false;

		for (int i = 0; i < G.n_conns; i++) {
			struct conn *c = &G.conns[i];

			if (!c->open)
				continue;
			if (c->sink.resumed) {
				c->sink.resumed = false;
				c->busy = false;
				c->closing |= !c->sink.keep_alive;
				moved = true;
			}
			if (c->sink.aborted || (c->closing && !c->busy)) {
				conn_close(c);
				moved = true;
				continue;
			}
			if (!c->busy && c->off < c->len) {
				conn_pump(c);
				moved = true;
			}
			fz_sink_flush(G.w.srv, &c->sink);
		}
		if (G.flags & F_PING)
			timer_run(&G.w.heap, timer_now_ms());
		if (!moved)
			return;
	}
}

/* Deferred calls reach their deadline (at most 300 s); idle and keep-alive timers are far
 * later in this world, so the jump cannot loop. */
static void run_deadlines(void)
{
	for (int i = 0; i < 4 && G.w.heap.n; i++) {
		timer_run(&G.w.heap, timer_now_ms() + 301 * 1000);
		settle();
	}
}

static void close_all(void)
{
	/* FZ_TRACE=1: every connection's response bytes, to see what a seed reaches. */
	bool trace = getenv("FZ_TRACE") != NULL;

	for (int i = 0; i < G.n_conns; i++) {
		struct conn *c = &G.conns[i];

		conn_close(c);
		if (trace) {
			fprintf(stderr, "--- connection %d ---\n", i);
			fz_dump(c->sink.log.p ? c->sink.log.p : "", c->sink.log.len);
		}
		fz_sink_finish(&c->sink);
		http_conn_free(c->http);
		free(c->data);
	}
	G.n_conns = 0;
}

/* Time passes (@T@): every parked call reaches its deadline. Keep-alives are slowed for the
 * jump, so a 1 ms one cannot re-arm within it forever. */
static void jump_time(void)
{
	uint32_t keepalive = G.w.cfg.sse_keepalive_ms;

	G.w.cfg.sse_keepalive_ms = 3600u * 1000;
	timer_run(&G.w.heap, timer_now_ms() + 301 * 1000);
	settle();
	G.w.cfg.sse_keepalive_ms = keepalive;
}

/* The first "@C@" or "@T@" in p, or NULL. */
static const char *next_sep(const char *p, size_t len)
{
	const char *c = memmem(p, len, "@C@", 3), *t = memmem(p, len, "@T@", 3);

	return !c ? t : !t ? c : c < t ? c : t;
}

/* Input */

static void run_input(const char *p, size_t len)
{
	while (len && G.n_conns < MAX_CONNS) {
		const char *sep = next_sep(p, len);
		size_t n = sep ? (size_t)(sep - p) : len;
		struct conn *c = &G.conns[G.n_conns++];

		conn_open(c, p, n);
		conn_pump(c);
		settle();
		if (!sep)
			break;
		if (sep[1] == 'T')
			jump_time();
		p += n + 3;
		len -= n + 3;
	}
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fz_quiet();
	jsonrpc_init(); /* the daemon's cJSON hooks before any cJSON use */
	world_reset();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 2)
		return 0;
	if (++G.runs > RECREATE_EVERY || (&G.w.srv->sessions)->count > MAX_SESSIONS)
		world_reset();
	G.flags = data[0];
	G.rng = data[1] * 0x01000193u + 1;
	apply_flags();
	for (int i = 0; i < SLOTS; i++)
		slot(i);
	run_input((const char *)data + 2, size - 2);
	G.w.cfg.sse_keepalive_ms = 3600u * 1000;
	run_deadlines();
	if (G.flags & F_SHUTDOWN) {
		mcp_server_shutdown(G.w.srv);
		settle();
	}
	close_all();
	fz_check_quiet_world(&G.w);
	if (G.flags & F_SHUTDOWN)
		world_reset();
	return 0;
}
