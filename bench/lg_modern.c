#include "lg_modern.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lg_opt.h"
#include "lg_run.h"

/* tools/call of tool with the arguments args (the members, without braces) on c. */
static bool call_tool(struct lg_session *s, struct lg_conn *c, const char *tool, const char *args, uint8_t type)
{
	char body[512];
	int n = snprintf(body, sizeof(body),
			 "{\"jsonrpc\":\"2.0\",\"id\":%" PRIu64 ",\"method\":\"tools/call\",\"params\":{\"name\":\"%s\","
			 "\"arguments\":{%s}" LG_MODERN_META "}}",
			 c->next_id++, tool, args);

	if (n < 0 || (size_t)n >= sizeof(body))
		lg_die("a %s request does not fit", tool);
	if (lg_http_post_tool(c, tool, body, (size_t)n, type))
		return true;
	lg_mcp_session_fail(s, "connect", 0, "", 0);
	return false;
}

void lg_modern_start(struct lg_session *s)
{
	char args[160];

	snprintf(args, sizeof(args), "\"room_id\":\"%s\",\"display_name\":\"lg%d\"", s->room, s->idx);
	s->state = LG_S_JOIN;
	call_tool(s, s->post, "join_room", args, LG_T_JOIN);
}

/* The next long poll: everything after s->after, which it acknowledges. */
static void send_wait(struct lg_session *s)
{
	char args[160];

	snprintf(args, sizeof(args), "\"chat_id\":\"%s\",\"after\":%" PRIu64 ",\"timeout_s\":%d", s->chat, s->after,
		 LG_MODERN_WAIT_S);
	call_tool(s, s->stream, "wait_for_message", args, LG_T_WAIT);
}

/* The chat_id of a join_room answer; the wait loop starts on a connection of its own. */
static void on_joined(struct lg_session *s, int status, const char *body, size_t blen)
{
	const char *p = memmem(body, blen, "\"chat_id\":\"", 11), *q;

	if (status != 200 || lg_mcp_is_error_body(body, blen) || !p) {
		lg_mcp_session_fail(s, "join_room", status, body, blen);
		return;
	}
	p += 11;
	q = memchr(p, '"', blen - (size_t)(p - body));
	if (!q || q == p || (size_t)(q - p) >= sizeof(s->chat)) {
		lg_mcp_session_fail(s, "join_room: bad chat_id", status, body, blen);
		return;
	}
	memcpy(s->chat, p, (size_t)(q - p));
	s->chat[q - p] = 0;
	s->state = LG_S_MATCH;
	s->after = 0;
	s->stream = lg_conn_new_to(LG_K_STREAM, s, lg_mcp_target(s));
	if (s->stream->dead) {
		lg_mcp_session_fail(s, "connect", 0, "", 0);
		return;
	}
	send_wait(s);
}

static void wait_error(struct lg_session *s, const char *why, int status, const char *body, size_t blen)
{
	lg_run.errors++;
	lg_run_note_error(status, body, blen);
	if (s->state != LG_S_READY)
		lg_mcp_session_fail(s, why, status, body, blen);
	else if (lg_opt.verbose)
		fprintf(stderr, "session %d: %s (HTTP %d) %.*s\n", s->idx, why, status, (int)blen, body);
}

/* {events, next}: each message.received is checked (the escaped copy in content[].text never
 * matches the unescaped patterns), chatroom.found makes the session ready; then the next wait,
 * acknowledging this answer's events. A failed wait is not repeated: what it would have
 * returned shows as missing. */
static void on_waited(struct lg_session *s, int status, const char *body, size_t blen)
{
	const char *end = body + blen, *ev = memmem(body, blen, "\"events\":[", 10);
	const char *nx = memmem(body, blen, "\"next\":", 7), *p;
	u64 next;

	if (status != 200 || lg_mcp_is_error_body(body, blen)) {
		wait_error(s, "wait_for_message", status, body, blen);
		return;
	}
	if (!ev || !nx) {
		wait_error(s, "wait_for_message: no events or next", status, body, blen);
		return;
	}
	next = strtoull(nx + 7, NULL, 10);
	if (next < s->after) {
		wait_error(s, "wait_for_message: next went back", status, body, blen);
		return;
	}
	for (p = ev; (p = memmem(p, (size_t)(end - p), "\"message\":\"m ", 13)); p += 13)
		lg_mcp_check_message(s, p + 13, lg_loop_now);
	if (memmem(ev, (size_t)(end - ev), "\"partner.disconnected\"", 22))
		lg_run.unexpected_events++;
	if (s->state == LG_S_MATCH && memmem(ev, (size_t)(end - ev), "\"chatroom.found\"", 16))
		lg_mcp_session_ready(s);
	s->after = next;
	send_wait(s);
}

void lg_modern_response(struct lg_conn *c, struct lg_req *r, int status, const char *body, size_t blen)
{
	struct lg_session *s = c->s;

	if (s->state == LG_S_FAILED)
		return;
	if (r->type == LG_T_JOIN)
		on_joined(s, status, body, blen);
	else
		on_waited(s, status, body, blen);
}

/* A wait cut off is an error (lost answer); the loop goes on with the same `after`, so nothing
 * it would have returned is lost. */
void lg_modern_closed(struct lg_conn *c, bool had_outstanding)
{
	struct lg_session *s = c->s;

	lg_cstat.closed_streams++;
	if (had_outstanding)
		lg_run_lost_requests(c);
	if (s->state == LG_S_MATCH || s->state == LG_S_READY)
		send_wait(s);
}
