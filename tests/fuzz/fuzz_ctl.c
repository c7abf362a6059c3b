/* Control protocol: request lines decode, re-encode and decode to the same request, and run
 * against a live server (sessions waiting, paired, streaming, waiting in wait_for_message)
 * with answers that are well-formed response lines that never show a session id or a
 * message's text. reload runs a stand-in for the server's that alternates between a file that
 * loads (with keys that need a restart) and one that does not. Streams and waits touched by kick/notify must stay well-formed.
 *
 * Input: request lines separated by '\n'. Placeholders: @H0@..@H3@ session handles,
 * @R0@ the paired sessions' room, @S0@ a session id (never accepted as a handle). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin/ctl.h"
#include "chat/chat.h"
#include "fuzz_common.h"
#include "fuzz_entry.h"
#include "mcp/jsonrpc.h"

#define SESSIONS 4
#define MAX_LINES 32
#define SECRET "s3cret-message-text"
#define RECREATE_EVERY 512

static struct {
	struct fz_world w;
	struct ctl_env env;
	char id[SESSIONS][MCP_SESSION_ID_LEN + 1];
	char handle[SESSIONS][MCP_SESSION_HANDLE_LEN + 1];
	char room[80];
	uint32_t conns;
	unsigned runs, reloads;
	bool dirty; /* a session ended: rebuild before the next input */
	struct fz_sink stream, wait;
} G;

static void tool(int who, const char *name, const char *args)
{
	char body[512];

	snprintf(body, sizeof(body),
		 "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{\"name\":\"%s\","
		 "\"arguments\":%s}}",
		 name, args);
	fz_post(&G.w, G.id[who], body, NULL);
}

static int fake_reload(void *ctx, char *note, size_t len)
{
	(void)ctx;
	if (G.reloads++ % 2) {
		snprintf(note, len, "/etc/mcp-chat/mcp-chat.conf:28: bad value for max_sessions in [limits]");
		return -EINVAL;
	}
	snprintf(note, len, "[server] listen, [control] group");
	return 0;
}

/* 0 and 1 chat in a room, 2 waits in a named room, 3 waits in the queue with interests. */
static void world_build(void)
{
	struct chat_status st;
	struct mcp_session *s[SESSIONS];

	fz_world_down(&G.w);
	fz_world_up(&G.w);
	for (int i = 0; i < SESSIONS; i++) {
		s[i] = fz_session_new(&G.w);
		FZ_CHECK(s[i], "no session");
		memcpy(G.id[i], s[i]->id, sizeof(G.id[i]));
		memcpy(G.handle[i], s[i]->handle, sizeof(G.handle[i]));
	}
	tool(0, "enter_queue", "{\"display_name\":\"zero\"}");
	tool(1, "enter_queue", "{\"display_name\":\"one\"}");
	tool(2, "join_room", "{\"room_id\":\"lobby\",\"display_name\":\"two\"}");
	tool(3, "enter_queue", "{\"display_name\":\"three\",\"interests\":[\"cats\",\"x\"]}");
	chat_get_status(G.w.chat, s[0]->app, &st);
	FZ_CHECK(st.state == CHAT_IN_ROOM && st.room_id, "setup: 0 and 1 were not paired");
	snprintf(G.room, sizeof(G.room), "%s", st.room_id);
	G.env.listeners[0] = "127.0.0.1:8808";
	G.env.n_listeners = 1;
	G.env.mcp = G.w.srv;
	G.env.chat = G.w.chat;
	G.env.started_ms = timer_now_ms();
	G.env.conns = &G.conns;
	G.env.reload = fake_reload;
	G.env.config_path = "/etc/mcp-chat/mcp-chat.conf";
	G.dirty = false;
	G.runs = 0;
}

static struct http_request request(enum http_method_id m, const char *sid, const char *body)
{
	struct http_request r = {
		.method = m,
		.method_name = m == HTTP_M_GET ? "GET" : "POST",
		.path = "/mcp",
		.host = "localhost",
		.content_type = "application/json",
		.session_id = sid,
		.has_accept = true,
		.accept_json = true,
		.accept_sse = true,
		.keep_alive = true,
		.body = body,
		.body_len = strlen(body),
	};

	return r;
}

/* Session 0 streams, session 1 waits in wait_for_message, 0 has a message from 1. */
static void open_sinks(void)
{
	static const char wait[] = "{\"jsonrpc\":\"2.0\",\"id\":5,\"method\":\"tools/call\",\"params\":"
				   "{\"name\":\"wait_for_message\",\"arguments\":{\"timeout_s\":60}}}";
	struct http_request get = request(HTTP_M_GET, G.id[0], "");
	struct http_request post = request(HTTP_M_POST, G.id[1], wait);
	char args[160];

	fz_sink_init(&G.stream, &G.w.cfg, false);
	fz_sink_expect(&G.stream, FZ_REQ_BODY);
	mcp_handle(G.w.srv, &get, &G.stream.sink);
	fz_sink_init(&G.wait, &G.w.cfg, false);
	fz_sink_expect(&G.wait, FZ_REQ_BODY);
	mcp_handle(G.w.srv, &post, &G.wait.sink);
	snprintf(args, sizeof(args), "{\"room_id\":\"%s\",\"message\":\"" SECRET "\"}", G.room);
	tool(1, "send_message", args);
}

static void close_sinks(void)
{
	fz_sink_flush(G.w.srv, &G.stream);
	fz_sink_close(G.w.srv, &G.stream);
	fz_sink_finish(&G.stream);
	fz_sink_close(G.w.srv, &G.wait);
	fz_sink_finish(&G.wait);
}

/* Placeholders */

static char *expand(const char *p, size_t len, size_t *out_len)
{
	struct buf b = BUF_INIT;

	for (size_t i = 0; i < len; i++) {
		int k = i + 3 < len && p[i] == '@' && p[i + 3] == '@' ? p[i + 2] - '0' : -1;

		if (k >= 0 && k < SESSIONS && p[i + 1] == 'H')
			buf_puts(&b, G.handle[k]);
		else if (k >= 0 && k < SESSIONS && p[i + 1] == 'S')
			buf_puts(&b, G.id[k]);
		else if (k >= 0 && k < SESSIONS && p[i + 1] == 'R')
			buf_puts(&b, G.room);
		else {
			buf_append(&b, p + i, 1);
			continue;
		}
		i += 3;
	}
	*out_len = b.len;
	return buf_take(&b);
}

/* Checks */

static void check_round_trip(const char *line, size_t len)
{
	struct ctl_request a, b;
	const char *code, *msg;
	char *enc, *pa, *pb;

	if (ctl_request_decode(line, len, &a, &code, &msg) < 0)
		return;
	enc = ctl_request_encode(a.cmd, a.args);
	FZ_CHECK(enc, "encode failed");
	FZ_CHECK(ctl_request_decode(enc, strlen(enc), &b, &code, &msg) == 0,
		 "re-encoded request refused (%s: %s): %s", code, msg, enc);
	/* Compared as printed: cJSON_Compare looks keys up by name, so an object with a key
	 * twice (JSON allows it; notify params pass through as sent) never equals itself. */
	pa = cJSON_PrintUnformatted(a.args);
	pb = cJSON_PrintUnformatted(b.args);
	FZ_CHECK(a.cmd == b.cmd && pa && pb && strcmp(pa, pb) == 0,
		 "round trip changed the request: %.*s -> %s", (int)len, line, enc);
	cJSON_free(pa);
	cJSON_free(pb);
	ctl_request_free(&b);
	ctl_request_free(&a);
	free(enc);
}

/* The answer is one response line, agrees with the decoder, and shows no secrets. */
static void check_answer(const char *line, size_t len, const char *out)
{
	struct ctl_request req;
	struct ctl_response res;
	const char *code = NULL, *msg;
	size_t n = strlen(out);
	int rc = ctl_request_decode(line, len, &req, &code, &msg);

	FZ_CHECK(n > 1 && out[n - 1] == '\n' && !memchr(out, '\n', n - 1), "not one line: %s", out);
	FZ_CHECK(ctl_response_decode(out, n, &res) == 0, "answer does not decode: %s", out);
	FZ_CHECK(fz_utf8_valid(out, n), "answer is not UTF-8");
	if (rc < 0)
		FZ_CHECK(!res.ok && strcmp(res.code, code) == 0, "decoder said %s, answer %s", code, out);
	else
		FZ_CHECK(res.ok || strcmp(res.code, "not_found") == 0 ||
				 (req.cmd == CTL_RELOAD && strcmp(res.code, "reload_failed") == 0) ||
				 /* a session that reads nothing fills up under many notifies */
				 (req.cmd == CTL_NOTIFY && strcmp(res.code, "mailbox_full") == 0),
			 "refused a valid request: %s", out);
	for (int i = 0; i < SESSIONS; i++) /* unless the admin typed it (an echo) */
		FZ_CHECK(!strstr(out, G.id[i]) || memmem(line, len, G.id[i], MCP_SESSION_ID_LEN),
			 "answer shows a session id: %s", out);
	FZ_CHECK(!strstr(out, SECRET) || memmem(line, len, SECRET, strlen(SECRET)),
		 "answer shows message text: %s", out);
	if (rc == 0) {
		G.dirty |= req.cmd == CTL_KICK && res.ok;
		ctl_request_free(&req);
	}
	ctl_response_free(&res);
}

static void run_line(const char *p, size_t len)
{
	size_t n;
	char *line = expand(p, len, &n);
	struct ctl_later *later;
	char *out;

	check_round_trip(line, n);
	out = ctl_execute_line(&G.env, line, n, &later);
	FZ_CHECK(out, "no answer");
	check_answer(line, n, out);
	free(out);
	free(line);
	fz_sink_flush(G.w.srv, &G.stream);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fz_quiet();
	jsonrpc_init(); /* the daemon's cJSON hooks before any cJSON use */
	world_build();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data, *end = p + size;

	if (G.dirty || ++G.runs > RECREATE_EVERY)
		world_build();
	open_sinks();
	for (int i = 0; i < MAX_LINES && p < end; i++) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t len = nl ? (size_t)(nl - p) + 1 : (size_t)(end - p);

		run_line(p, len);
		p += len;
	}
	close_sinks();
	fz_check_quiet_world(&G.w);
	return 0;
}
