#include <errno.h>
#include <string.h>
#include <time.h>

#include "chat/chat_int.h"
#include "util/b64url.h"

/* send_message: the token bucket rate limit, message ids, RFC 3339 timestamps and the
 * message.received event, the one event a full mailbox may refuse. */

#define MESSAGE_ID_CHARS 11 /* 64 bits, 6 per base64url character */

/* Token bucket: 0 when a message may go now (and takes its token), else ms until it may. */
static uint32_t take_token(struct chat *c, struct chat_user *u, uint64_t now)
{
	const struct chat_limits *l = &c->limits;
	double wait;
	uint32_t ms;

	if (now > u->tokens_at) {
		u->tokens += (double)(now - u->tokens_at) * l->rate_per_second / 1000.0;
		if (u->tokens > l->rate_burst)
			u->tokens = l->rate_burst;
		u->tokens_at = now;
	}
	if (u->tokens >= 1) {
		u->tokens -= 1;
		return 0;
	}
	if (l->rate_per_second <= 0)
		return UINT32_MAX;
	wait = (1 - u->tokens) * 1000.0 / l->rate_per_second;
	if (wait >= (double)UINT32_MAX)
		return UINT32_MAX;
	ms = (uint32_t)wait;
	return ms < wait || ms == 0 ? ms + 1 : ms;
}

/* Unique within this chat (a bijective mix of a counter), unpredictable across runs. */
static void make_message_id(struct chat *c, char out[24])
{
	uint64_t x = ++c->msg_counter + c->id_key[0];

	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	x = (x ^ (x >> 31)) ^ c->id_key[1];
	for (int i = 0; i < MESSAGE_ID_CHARS; i++, x >>= 6)
		out[i] = b64url_alphabet[x & 63];
	out[MESSAGE_ID_CHARS] = '\0';
}

void chat_new_message_id(struct chat *c, char out[24])
{
	make_message_id(c, out);
}

static void format_time(int64_t ms, char out[32])
{
	static int64_t cached_sec = INT64_MIN;
	static char cached[24];
	static size_t cached_len;
	int64_t sec = ms / 1000, rem = ms % 1000;
	time_t t;
	struct tm tm;
	size_t n;

	if (rem < 0) {
		rem += 1000;
		sec--;
	}
	/* The date part changes once a second; messages come faster than that. */
	if (sec != cached_sec) {
		t = (time_t)sec;
		if (!gmtime_r(&t, &tm))
			memset(&tm, 0, sizeof(tm));
		cached_len = strftime(cached, sizeof(cached), "%Y-%m-%dT%H:%M:%S", &tm);
		cached_sec = sec;
	}
	memcpy(out, cached, cached_len);
	n = cached_len;
	out[n++] = '.';
	out[n++] = (char)('0' + rem / 100);
	out[n++] = (char)('0' + rem / 10 % 10);
	out[n++] = (char)('0' + rem % 10);
	out[n++] = 'Z';
	out[n] = '\0';
}

static void build_message(struct chat *c, const struct chat_user *u, const char *text,
			  size_t len, const struct chat_result *r)
{
	const char *name = chat_user_name(u);

	c->ev.len = 0;
	buf_puts(&c->ev, "{\"room_id\":");
	buf_json_string(&c->ev, u->room->id, strlen(u->room->id));
	buf_puts(&c->ev, ",\"message_id\":\"");
	buf_puts(&c->ev, r->message_id);
	buf_puts(&c->ev, "\",\"message\":");
	buf_json_string(&c->ev, text, len);
	buf_puts(&c->ev, ",\"sender\":{\"display_name\":");
	buf_json_string(&c->ev, name, strlen(name));
	buf_puts(&c->ev, "},\"timestamp\":\"");
	buf_puts(&c->ev, r->timestamp);
	buf_puts(&c->ev, "\"}");
}

static enum chat_error send_message(struct chat *c, struct chat_user *u, const char *room_id,
				    const char *text, size_t len, struct chat_result *r)
{
	uint32_t wait;
	int err;

	if (c->shutting_down)
		return chat_refuse_shutdown(c, r);
	if (!chat_check_room_id(c, room_id, r) || !chat_check_message(c, text, len, r))
		return r->error;
	if (u->state != CHAT_IN_ROOM || strcmp(u->room->id, room_id) != 0)
		return chat_room_refuse_not_in(c, u, room_id, r);
	wait = take_token(c, u, chat_mono_ms(c));
	if (wait) {
		r->retry_after_ms = wait;
		return chat_refuse(c, r, CHAT_RATE_LIMITED,
				   "You are sending too fast; try again in %u ms.", wait);
	}
	make_message_id(c, r->message_id);
	format_time(c->ops.wall_ms(c->ops.ctx), r->timestamp);
	build_message(c, u, text, len, r);
	err = c->ops.deliver(c->ops.ctx, chat_partner_of(u), "message.received", c->ev.p,
			     c->ev.len, true);
	if (err == -ENOSPC)
		return chat_refuse(c, r, CHAT_MAILBOX_FULL,
				   "Your partner has too many unread events; wait a moment and send again.");
	c->messages++;
	u->room->messages++;
	return CHAT_OK;
}

void chat_send(struct chat *c, struct chat_user *u, const char *room_id, const char *text,
	       size_t len, struct chat_result *r)
{
	chat_result_begin(r);
	if (send_message(c, u, room_id, text, len, r) != CHAT_OK) {
		r->message_id[0] = '\0';
		r->timestamp[0] = '\0';
	}
}
