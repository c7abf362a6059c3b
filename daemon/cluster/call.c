#include "cluster/call.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "chat/tools.h"

/* The builders and the argument checks; the reply parser is in call_reply.c. */

int cluster_call_prefix(const char *key_prefix, char *out)
{
	size_t n = key_prefix ? strlen(key_prefix) : 0;

	/* A brace inside would make Redis hash another part of the key: keys could spread
	 * over slots, and the scripts must see one. */
	if (n == 0 || n + 3 > CLUSTER_CALL_PREFIX_MAX || strpbrk(key_prefix, "{}"))
		return -EINVAL;
	snprintf(out, CLUSTER_CALL_PREFIX_MAX, "{%s}", key_prefix);
	return 0;
}

/* A chat id is part of key names: exactly the 22 base64url characters chat.h issues. */
static bool chat_id_valid(const char *id)
{
	size_t n;

	if (!id)
		return false;
	for (n = 0; id[n]; n++) {
		char ch = id[n];

		if (n == CHAT_ID_LEN ||
		    !((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
		      ch == '_' || ch == '-'))
			return false;
	}
	return n == CHAT_ID_LEN;
}

static void push_n(struct cluster_call_args *a, const char *s, size_t len)
{
	a->argv[a->argc] = s;
	a->argvlen[a->argc] = len;
	a->argc++;
}

static void push(struct cluster_call_args *a, const char *s)
{
	s = s ? s : "";
	push_n(a, s, strlen(s));
}

static void push_u64(struct cluster_call_args *a, int slot, uint64_t v)
{
	snprintf(a->num[slot], sizeof(a->num[slot]), "%" PRIu64, v);
	push(a, a->num[slot]);
}

/* Rates are doubles: %.17g gives Lua's tonumber the exact value. */
static void push_double(struct cluster_call_args *a, int slot, double v)
{
	snprintf(a->num[slot], sizeof(a->num[slot]), "%.17g", v);
	push(a, a->num[slot]);
}

/* The common start: the script, KEYS[1], and (for a chat's call) its id. */
static int begin(struct cluster_call_args *a, enum cluster_script s, const char *prefix,
		 const char *chat_id)
{
	a->script = s;
	a->argc = 0;
	if (!prefix || !*prefix || strlen(prefix) >= CLUSTER_CALL_PREFIX_MAX)
		return -EINVAL;
	push(a, prefix);
	if (chat_id) {
		if (!chat_id_valid(chat_id))
			return -EINVAL;
		push(a, chat_id);
	}
	return 0;
}

int cluster_call_chat_new(struct cluster_call_args *a, const char *prefix, const char *chat_id,
			  uint32_t idle_ms, const char *node, bool legacy, const char *handle,
			  const char *nonce)
{
	if (begin(a, CLUSTER_SCRIPT_CHAT_NEW, prefix, chat_id) < 0 || !chat_id)
		return -EINVAL;
	push_u64(a, 0, idle_ms);
	push(a, node);
	push(a, legacy ? "legacy" : "modern");
	push(a, handle);
	push(a, nonce);
	return 0;
}

int cluster_call_chat_base(struct cluster_call_args *a, uint64_t base)
{
	if (a->script != CLUSTER_SCRIPT_CHAT_NEW || a->argc != 7)
		return -EINVAL;
	push_u64(a, 1, base);
	return 0;
}

int cluster_call_enter_queue(struct cluster_call_args *a, const char *prefix,
			     const char *chat_id, const char *req, const char *name,
			     const char *const *tags, size_t n, const struct config *cfg)
{
	if (begin(a, CLUSTER_SCRIPT_ENTER_QUEUE, prefix, chat_id) < 0 || !chat_id ||
	    n > CLUSTER_CALL_MAX_TAGS || (n && !tags))
		return -EINVAL;
	push(a, req);
	push(a, name); /* NULL: "" keeps the current name */
	push_u64(a, 0, cfg->interest_fallback_ms);
	push_u64(a, 1, cfg->mailbox_events);
	for (size_t i = 0; i < n; i++) {
		if (!tags[i])
			return -EINVAL;
		push(a, tags[i]);
	}
	return 0;
}

int cluster_call_join_room(struct cluster_call_args *a, const char *prefix, const char *chat_id,
			   const char *req, const char *room_id, const char *name,
			   const struct config *cfg)
{
	if (begin(a, CLUSTER_SCRIPT_JOIN_ROOM, prefix, chat_id) < 0 || !chat_id ||
	    !chat_room_id_valid(room_id))
		return -EINVAL;
	push(a, req);
	push(a, room_id);
	push(a, name);
	push_u64(a, 0, cfg->mailbox_events);
	return 0;
}

int cluster_call_send(struct cluster_call_args *a, const char *prefix, const char *chat_id,
		      const char *room_id, const char *message_id, const char *text, size_t len,
		      const struct config *cfg)
{
	if (begin(a, CLUSTER_SCRIPT_SEND, prefix, chat_id) < 0 || !chat_id ||
	    !chat_room_id_valid(room_id) || !message_id || !*message_id || (!text && len))
		return -EINVAL;
	push(a, room_id);
	push(a, message_id);
	push_n(a, text ? text : "", len); /* binary-safe: the length, never strlen */
	push_double(a, 0, cfg->rate_per_second);
	push_double(a, 1, cfg->rate_burst);
	push_u64(a, 2, cfg->mailbox_events);
	return 0;
}

int cluster_call_read(struct cluster_call_args *a, const char *prefix, const char *chat_id,
		      bool has_after, uint64_t after, enum cluster_call_ack ack, uint32_t max)
{
	if (begin(a, CLUSTER_SCRIPT_READ, prefix, chat_id) < 0 || !chat_id ||
	    (unsigned)ack > CLUSTER_ACK_RETURNED)
		return -EINVAL;
	if (has_after)
		push_u64(a, 0, after);
	else
		push(a, "");
	push_u64(a, 1, (uint64_t)ack);
	push_u64(a, 2, max == 0 ? 1 : max > CLUSTER_CALL_READ_MAX ? CLUSTER_CALL_READ_MAX : max);
	return 0;
}

int cluster_call_pull(struct cluster_call_args *a, const char *prefix, const char *chat_id,
		      uint64_t after, uint64_t upto, uint32_t max)
{
	if (begin(a, CLUSTER_SCRIPT_READ, prefix, chat_id) < 0 || !chat_id)
		return -EINVAL;
	push_u64(a, 0, after);
	push(a, "3");
	push_u64(a, 1, max > CLUSTER_CALL_READ_MAX ? CLUSTER_CALL_READ_MAX : max);
	push_u64(a, 2, upto);
	return 0;
}

static void cmd_arg(struct cluster_call_cmd *c, const char *s, size_t len)
{
	c->argv[c->argc] = s;
	c->argvlen[c->argc] = len;
	c->argc++;
}

int cluster_call_ack(struct cluster_call_ack_cmds *a, const char *prefix, const char *chat_id,
		     bool has_upto, uint64_t upto, uint64_t cursor)
{
	static const char *const kinds[2] = { "mb", "cur" };
	struct cluster_call_cmd *c;
	int len;

	a->n = 0;
	if (!prefix || !*prefix || strlen(prefix) >= CLUSTER_CALL_PREFIX_MAX ||
	    !chat_id_valid(chat_id))
		return -EINVAL;
	for (int i = 0; i < 2; i++) {
		len = snprintf(a->keys[i], sizeof(a->keys[i]), "%s:%s:%s", prefix, kinds[i],
			       chat_id);
		if (len < 0 || (size_t)len >= sizeof(a->keys[i]))
			return -EINVAL;
	}
	if (has_upto) {
		c = &a->cmd[a->n++];
		c->argc = 0;
		/* MINID is the first id kept: upto + 1 (no wrap past the largest id) */
		len = snprintf(a->num[0], sizeof(a->num[0]), "%" PRIu64,
			       upto < UINT64_MAX ? upto + 1 : UINT64_MAX);
		cmd_arg(c, "XTRIM", 5);
		cmd_arg(c, a->keys[0], strlen(a->keys[0]));
		cmd_arg(c, "MINID", 5);
		cmd_arg(c, a->num[0], (size_t)len);
	}
	c = &a->cmd[a->n++];
	c->argc = 0;
	len = snprintf(a->num[1], sizeof(a->num[1]), "%" PRIu64, cursor);
	cmd_arg(c, "SET", 3);
	cmd_arg(c, a->keys[1], strlen(a->keys[1]));
	cmd_arg(c, a->num[1], (size_t)len);
	cmd_arg(c, "XX", 2);
	cmd_arg(c, "KEEPTTL", 7);
	return 0;
}

int cluster_call_leave(struct cluster_call_args *a, const char *prefix, const char *chat_id,
		       const char *req, const char *room_id)
{
	if (begin(a, CLUSTER_SCRIPT_LEAVE, prefix, chat_id) < 0 || !chat_id ||
	    !chat_room_id_valid(room_id))
		return -EINVAL;
	push(a, req);
	push(a, room_id);
	return 0;
}

int cluster_call_status(struct cluster_call_args *a, const char *prefix, const char *chat_id)
{
	if (begin(a, CLUSTER_SCRIPT_STATUS, prefix, chat_id) < 0 || !chat_id)
		return -EINVAL;
	return 0;
}

int cluster_call_touch(struct cluster_call_args *a, const char *prefix, const char *const *ids,
		       size_t n)
{
	if (begin(a, CLUSTER_SCRIPT_TOUCH, prefix, NULL) < 0 || n == 0 ||
	    n > CLUSTER_CALL_TOUCH_MAX || !ids)
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		if (!chat_id_valid(ids[i]))
			return -EINVAL;
		push(a, ids[i]);
	}
	return 0;
}

int cluster_call_end(struct cluster_call_args *a, const char *prefix, const char *chat_id,
		     enum chat_reason reason)
{
	if (begin(a, CLUSTER_SCRIPT_END, prefix, chat_id) < 0 || !chat_id)
		return -EINVAL;
	push(a, chat_reason_name(reason));
	return 0;
}

static int timers(struct cluster_call_args *a, enum cluster_script s, const char *prefix,
		  uint32_t max)
{
	if (begin(a, s, prefix, NULL) < 0 || max == 0)
		return -EINVAL;
	push_u64(a, 0, max);
	return 0;
}

int cluster_call_sweep(struct cluster_call_args *a, const char *prefix, uint32_t max)
{
	return timers(a, CLUSTER_SCRIPT_SWEEP, prefix, max);
}

int cluster_call_fallback(struct cluster_call_args *a, const char *prefix, uint32_t max)
{
	return timers(a, CLUSTER_SCRIPT_FALLBACK, prefix, max);
}

/* Checks: chat.h's, on the limits the configuration sets, as the single node's. */

bool cluster_call_check_enter(const struct config *cfg, const char *name,
			      const char *const *tags, size_t n, struct chat_result *r, char *msg)
{
	struct chat_limits l;

	chat_tools_limits(cfg, &l);
	return chat_valid_name(&l, name, r, msg) && chat_valid_interests(&l, tags, n, r, msg);
}

bool cluster_call_check_join(const char *room_id, const char *name, const struct config *cfg,
			     struct chat_result *r, char *msg)
{
	struct chat_limits l;

	chat_tools_limits(cfg, &l);
	return chat_valid_room_id(room_id, r, msg) && chat_valid_name(&l, name, r, msg);
}

bool cluster_call_check_send(const char *room_id, const char *text, size_t len,
			     const struct config *cfg, struct chat_result *r, char *msg)
{
	struct chat_limits l;

	chat_tools_limits(cfg, &l);
	return chat_valid_room_id(room_id, r, msg) && chat_valid_message(&l, text, len, r, msg);
}

bool cluster_call_check_room(const char *room_id, struct chat_result *r, char *msg)
{
	return chat_valid_room_id(room_id, r, msg);
}
