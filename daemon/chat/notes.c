#include "chat/notes.h"

#include <stdio.h>
#include <string.h>

#include "chat/chat.h"
#include "util/buf.h"

/* One sentence at info. The sentences are built from fixed words and numbers only, so
 * nothing a person typed or an identifier ever reaches a client's log. */
static void note(struct mcp_tool_ctx *ctx, const char *sentence)
{
	struct buf data = BUF_INIT;

	buf_json_string(&data, sentence, strlen(sentence));
	mcp_tool_log(ctx, MCP_LOG_INFO, "chat", data.p);
	buf_free(&data);
}

/* Only a client that asked: mcp_tool_log alone would send at the session's default level. */
static bool wanted(const struct mcp_tool_ctx *ctx)
{
	return mcp_tool_log_asked(ctx, MCP_LOG_INFO);
}

void chat_notes_matched(struct mcp_tool_ctx *ctx, const struct chat_result *r, bool named)
{
	char s[96];

	if (!wanted(ctx))
		return;
	if (r->matched)
		note(ctx, "Matched with a partner: you can send messages now");
	else if (named)
		note(ctx, "Waiting in the room for someone to join");
	else {
		snprintf(s, sizeof(s), "Waiting in the queue at position %u", r->position);
		note(ctx, s);
	}
}

void chat_notes_sent(struct mcp_tool_ctx *ctx)
{
	if (wanted(ctx))
		note(ctx, "Message delivered to your partner's mailbox");
}

void chat_notes_left(struct mcp_tool_ctx *ctx)
{
	if (wanted(ctx))
		note(ctx, "You left the chat");
}

/* The reason of a partner.disconnected event, among the contract's four words only. */
static const char *gone_sentence(const cJSON *params)
{
	const cJSON *r = cJSON_GetObjectItemCaseSensitive(params, "reason");
	const char *why = cJSON_IsString(r) ? r->valuestring : "";

	if (strcmp(why, "left") == 0)
		return "Your partner left the chat";
	if (strcmp(why, "timeout") == 0)
		return "Your partner's session timed out: the chat is over";
	if (strcmp(why, "kicked") == 0)
		return "Your partner was removed by an operator: the chat is over";
	return "Your partner disconnected: the chat is over";
}

/* A run of message.received events, as a count. */
static void note_received(struct mcp_tool_ctx *ctx, unsigned n)
{
	char s[64];

	snprintf(s, sizeof(s), "%u new message%s from your partner", n, n == 1 ? "" : "s");
	note(ctx, s);
}

void chat_notes_events(struct mcp_tool_ctx *ctx, const cJSON *events)
{
	unsigned received = 0;
	const cJSON *e;

	if (!wanted(ctx))
		return;
	cJSON_ArrayForEach(e, events) {
		const cJSON *m = cJSON_GetObjectItemCaseSensitive(e, "method");
		const char *method = cJSON_IsString(m) ? m->valuestring : "";

		if (strcmp(method, "message.received") == 0) {
			received++;
			continue;
		}
		if (received) /* in order: the messages before what follows */
			note_received(ctx, received);
		received = 0;
		if (strcmp(method, "chatroom.found") == 0)
			note(ctx, "Matched with a partner: you can send messages now");
		else if (strcmp(method, "partner.disconnected") == 0) {
			/* params is the event's raw JSON text (cJSON_Raw). */
			const cJSON *raw = cJSON_GetObjectItemCaseSensitive(e, "params");
			cJSON *params = cJSON_Parse(raw ? raw->valuestring : "");

			note(ctx, gone_sentence(params));
			cJSON_Delete(params);
		}
	}
	if (received)
		note_received(ctx, received);
}
