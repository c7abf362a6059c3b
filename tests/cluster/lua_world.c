#include "lua_world.h"

#include "cluster/call.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define MAX_CHATS 64

const char *lw_fallback_ms = "10000";
const char *lw_cap = "256";
static unsigned counter;

const char *lw_id(int n)
{
	static char ids[MAX_CHATS][23];

	snprintf(ids[n % MAX_CHATS], sizeof(ids[0]), "chat%018d", n);
	return ids[n % MAX_CHATS];
}

static const char *fresh(const char *kind)
{
	static char buf[16][24];
	char *b = buf[counter % 16];

	snprintf(b, sizeof(buf[0]), "%s%u", kind, ++counter);
	return b;
}

redisReply *lw_new_ex(int n, const char *idle_ms, const char *era)
{
	const char *a[] = { lw_id(n), idle_ms, "node1", era, "h", "nonce" };

	return lh_eval(NULL, CLUSTER_SCRIPT_CHAT_NEW, 6, a);
}

redisReply *lw_new(int n)
{
	return lw_new_ex(n, "60000", "modern");
}

static redisReply *enter_v(int n, const char *req, const char *name, va_list ap)
{
	const char *a[16] = { lw_id(n), req, name ? name : "", lw_fallback_ms, lw_cap };
	int argc = 5;
	const char *t;

	while ((t = va_arg(ap, const char *)) && argc < 16)
		a[argc++] = t;
	return lh_eval(NULL, CLUSTER_SCRIPT_ENTER_QUEUE, argc, a);
}

redisReply *lw_enter(int n, const char *name, ...)
{
	va_list ap;
	redisReply *r;

	va_start(ap, name);
	r = enter_v(n, fresh("r"), name, ap);
	va_end(ap);
	return r;
}

redisReply *lw_enter_req(int n, const char *req, const char *name, ...)
{
	va_list ap;
	redisReply *r;

	va_start(ap, name);
	r = enter_v(n, req, name, ap);
	va_end(ap);
	return r;
}

redisReply *lw_join_req(int n, const char *req, const char *room, const char *name)
{
	const char *a[] = { lw_id(n), req, room, name ? name : "", lw_cap };

	return lh_eval(NULL, CLUSTER_SCRIPT_JOIN_ROOM, 5, a);
}

const char *lw_paired(int a, int b)
{
	lw_new(a);
	lw_new(b);
	lw_enter(a, NULL, NULL);
	lw_enter(b, NULL, NULL);
	return lw_room(a);
}

redisReply *lw_join(int n, const char *room, const char *name)
{
	return lw_join_req(n, fresh("r"), room, name);
}

redisReply *lw_send_ex(int n, const char *room, const char *msg_id, const char *text,
		       const char *rate, const char *burst)
{
	const char *a[] = { lw_id(n), room, msg_id, text, rate, burst, lw_cap };

	return lh_eval(NULL, CLUSTER_SCRIPT_SEND, 7, a);
}

redisReply *lw_send(int n, const char *room, const char *text)
{
	return lw_send_ex(n, room, fresh("m"), text, "5", "20");
}

redisReply *lw_leave_req(int n, const char *req, const char *room)
{
	const char *a[] = { lw_id(n), req, room };

	return lh_eval(NULL, CLUSTER_SCRIPT_LEAVE, 3, a);
}

redisReply *lw_leave(int n, const char *room)
{
	return lw_leave_req(n, fresh("r"), room);
}

redisReply *lw_status(int n)
{
	const char *a[] = { lw_id(n) };

	return lh_eval(NULL, CLUSTER_SCRIPT_STATUS, 1, a);
}

redisReply *lw_read(int n, const char *after, const char *ack, const char *max)
{
	const char *a[] = { lw_id(n), after, ack, max };

	return lh_eval(NULL, CLUSTER_SCRIPT_READ, 4, a);
}

redisReply *lw_end(int n, const char *reason)
{
	const char *a[] = { lw_id(n), reason };

	return lh_eval(NULL, CLUSTER_SCRIPT_END, 2, a);
}

redisReply *lw_sweep(const char *max)
{
	return lh_eval(NULL, CLUSTER_SCRIPT_SWEEP, 1, &max);
}

redisReply *lw_touch(int n)
{
	const char *a[] = { lw_id(n) };

	return lh_eval(NULL, CLUSTER_SCRIPT_TOUCH, 1, a);
}

const char *lw_state(int n)
{
	return lh_str(lw_status(n), 1);
}

const char *lw_room(int n)
{
	return lh_str(lw_status(n), 2);
}

long long lw_position(int n)
{
	return lh_int(lw_status(n), 4);
}

long long lw_unread(int n)
{
	return lh_int(lw_status(n), 5);
}

bool lw_together(int a, int b)
{
	const char *ra = lw_room(a), *rb = lw_room(b);

	return strcmp(lw_state(a), "in_room") == 0 && strcmp(lw_state(b), "in_room") == 0 &&
	       *ra && strcmp(ra, rb) == 0;
}

static redisReply *all_events(int n)
{
	return lw_read(n, "0", "0", "100000");
}

int lw_count(int n)
{
	redisReply *r = all_events(n);

	return lh_ok(r) ? (int)(r->elements - 4) / 3 : -1;
}

const char *lw_last_method(int n)
{
	redisReply *r = all_events(n);

	return r->elements >= 7 ? lh_str(r, r->elements - 2) : "";
}

const char *lw_last_params(int n)
{
	redisReply *r = all_events(n);

	return r->elements >= 7 ? lh_str(r, r->elements - 1) : "";
}

bool lw_has(const char *params, const char *key, const char *value)
{
	char want[256];

	snprintf(want, sizeof(want), "\"%s\":\"%s\"", key, value);
	return strstr(params, want) != NULL;
}

int lw_ack(int n, bool has_upto, uint64_t upto, uint64_t cursor, bool *gone)
{
	struct cluster_call_ack_cmds a;
	redisReply *r = NULL;
	int err;

	err = cluster_call_ack(&a, LH_PREFIX, lw_id(n), has_upto, upto, cursor);
	for (size_t i = 0; err == 0 && i < a.n; i++) {
		if (r)
			freeReplyObject(r);
		r = redisCommandArgv(lh_ctx(), a.cmd[i].argc, a.cmd[i].argv, a.cmd[i].argvlen);
		if (!r)
			err = -EIO;
	}
	if (err == 0)
		err = cluster_call_parse_ack(r, gone);
	if (r)
		freeReplyObject(r);
	return err;
}
