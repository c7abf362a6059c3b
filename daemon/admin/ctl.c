#include "admin/ctl.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <mcpchat/version.h>

#include "admin/ctl_cluster.h"
#include "cluster/engine.h"
#include "admin/stats.h"
#include "chat/chat.h"
#include "mcp/mcp.h"
#include "net/timer.h"
#include "util/log.h"
#include "util/xalloc.h"

static const char *const state_names[] = { "idle", "waiting", "in_room" };

static double seconds_since(uint64_t then_ms)
{
	uint64_t now = timer_now_ms();

	return now > then_ms ? (double)((now - then_ms) / 1000) : 0;
}

static long rss_bytes(void)
{
	long pages = 0, rss = 0;
	FILE *f = fopen("/proc/self/statm", "r");

	if (!f)
		return -1;
	if (fscanf(f, "%ld %ld", &pages, &rss) != 2)
		rss = -1;
	fclose(f);
	return rss < 0 ? -1 : rss * sysconf(_SC_PAGESIZE);
}

static cJSON *cmd_status(struct ctl_env *env)
{
	cJSON *d = cJSON_CreateObject();
	cJSON *ls = cJSON_AddArrayToObject(d, "listeners");
	cJSON *mem;
	struct mcp_stats ms;
	struct chat_stats cs;

	mcp_server_stats(env->mcp, &ms);
	chat_get_stats(env->chat, &cs);
	cJSON_AddStringToObject(d, "version", MCPCHAT_VERSION);
	cJSON_AddNumberToObject(d, "uptime_s", seconds_since(env->started_ms));
	cJSON_AddNumberToObject(d, "pid", getpid());
	for (int i = 0; i < env->n_listeners; i++)
		cJSON_AddItemToArray(ls, cJSON_CreateString(env->listeners[i]));
	cJSON_AddNumberToObject(d, "sessions", ms.sessions);
	cJSON_AddNumberToObject(d, "waiting", cs.waiting);
	cJSON_AddNumberToObject(d, "rooms", cs.rooms);
	cJSON_AddNumberToObject(d, "streams", ms.streams);
	cJSON_AddNumberToObject(d, "connections", env->conns ? *env->conns : 0);
	mem = cJSON_AddObjectToObject(d, "memory");
	cJSON_AddNumberToObject(mem, "rss_bytes", (double)rss_bytes());
	ctl_cluster_status(env, d);
	return d;
}

static const char *handle_of(const struct chat_user *u)
{
	return mcp_session_handle(chat_user_owner(u));
}

static void add_waiter(void *ctx, const struct chat_user *u)
{
	cJSON *arr = ctx, *w = cJSON_CreateObject(), *tags;
	struct chat_user_view v;

	chat_user_view(u, &v);
	cJSON_AddStringToObject(w, "handle", handle_of(u));
	cJSON_AddStringToObject(w, "display_name", v.display_name);
	tags = cJSON_AddArrayToObject(w, "interests");
	for (size_t i = 0; i < v.n_interests; i++)
		cJSON_AddItemToArray(tags, cJSON_CreateString(v.interests[i]));
	cJSON_AddNumberToObject(w, "waited_s", seconds_since(v.waiting_since_ms));
	cJSON_AddStringToObject(w, "kind", v.named ? "named" : "queue");
	if (v.named)
		cJSON_AddStringToObject(w, "room_id", v.room_id);
	cJSON_AddItemToArray(arr, w);
}

static cJSON *cmd_queues(struct ctl_env *env)
{
	cJSON *d = cJSON_CreateObject();

	chat_each_waiting(env->chat, add_waiter, cJSON_AddArrayToObject(d, "waiting"));
	return d;
}

static void add_room(void *ctx, const struct chat_room_view *r)
{
	cJSON *arr = ctx, *o = cJSON_CreateObject(), *members;

	cJSON_AddStringToObject(o, "room_id", r->room_id);
	cJSON_AddStringToObject(o, "kind", r->named ? "named" : "queue");
	cJSON_AddNumberToObject(o, "age_s", seconds_since(r->created_ms));
	cJSON_AddNumberToObject(o, "messages", (double)r->messages);
	members = cJSON_AddArrayToObject(o, "members");
	for (int i = 0; i < 2 && r->members[i]; i++) {
		struct chat_user_view v;

		chat_user_view(r->members[i], &v);
		cJSON_AddItemToArray(members, cJSON_CreateString(v.display_name));
	}
	cJSON_AddItemToArray(arr, o);
}

static cJSON *cmd_rooms(struct ctl_env *env)
{
	cJSON *d = cJSON_CreateObject();

	chat_each_room(env->chat, add_room, cJSON_AddArrayToObject(d, "rooms"));
	return d;
}

static void add_session(void *ctx, struct mcp_session *s)
{
	cJSON *o = cJSON_CreateObject();
	struct mcp_session_view sv;
	struct chat_user_view v;

	mcp_session_view(s, &sv);
	chat_user_view(sv.app, &v);
	cJSON_AddStringToObject(o, "handle", sv.handle);
	cJSON_AddStringToObject(o, "state", state_names[v.state]);
	/* The era: a 2025 session (initialize) or a 2026-07-28 chat without one. */
	cJSON_AddStringToObject(o, "era", sv.modern ? "modern" : "legacy");
	cJSON_AddStringToObject(o, "protocol", sv.protocol_version);
	if (v.room_id)
		cJSON_AddStringToObject(o, "room_id", v.room_id);
	cJSON_AddNumberToObject(o, "idle_s", sv.stream ? 0 : seconds_since(sv.active_ms));
	cJSON_AddBoolToObject(o, "stream", sv.stream);
	cJSON_AddNumberToObject(o, "mailbox", sv.unread);
	cJSON_AddItemToArray(ctx, o);
}

static cJSON *cmd_sessions(struct ctl_env *env)
{
	cJSON *d = cJSON_CreateObject();

	mcp_each_session(env->mcp, add_session, cJSON_AddArrayToObject(d, "sessions"));
	return d;
}

static cJSON *cmd_stats(struct ctl_env *env)
{
	cJSON *d = cJSON_CreateObject(), *ref;
	struct chat_stats cs;

	chat_get_stats(env->chat, &cs);
	if (env->engine)
		cluster_engine_add_counts(env->engine, &cs);
	cJSON_AddNumberToObject(d, "sessions_started", (double)stats.sessions_started);
	cJSON_AddNumberToObject(d, "sessions_ended", (double)stats.sessions_ended);
	cJSON_AddNumberToObject(d, "matches", (double)cs.matches);
	cJSON_AddNumberToObject(d, "messages_relayed", (double)cs.messages);
	ref = cJSON_AddObjectToObject(d, "refusals");
	for (int e = CHAT_INVALID_ARGUMENTS; e < CHAT_ERROR_COUNT && e < STATS_REFUSAL_CODES; e++)
		cJSON_AddNumberToObject(ref, chat_error_code((enum chat_error)e), (double)stats.refusals[e]);
	cJSON_AddNumberToObject(d, "http_4xx", (double)stats.http_4xx);
	cJSON_AddNumberToObject(d, "http_5xx", (double)stats.http_5xx);
	cJSON_AddNumberToObject(d, "bytes_in", (double)stats.bytes_in);
	cJSON_AddNumberToObject(d, "bytes_out", (double)stats.bytes_out);
	cJSON_AddNumberToObject(d, "requests", (double)stats.requests);
	cJSON_AddNumberToObject(d, "connections_accepted", (double)stats.connections_accepted);
	cJSON_AddNumberToObject(d, "loop_iterations", (double)stats.loop_iterations);
	return d;
}

/* kick: a handle ends that session; a room id ends everyone in the room. On a cluster node
 * a target that is neither here is looked for in Redis (a chat of any node). */
static cJSON *cmd_kick(struct ctl_env *env, const cJSON *args, struct ctl_later **later,
		       const char **code, const char **msg)
{
	const char *target = cJSON_GetObjectItemCaseSensitive(args, "target")->valuestring;
	const cJSON *reason = cJSON_GetObjectItemCaseSensitive(args, "reason");
	struct mcp_session *victims[2] = { mcp_find_handle(env->mcp, target) };
	struct chat_user *members[2];
	size_t n = victims[0] ? 1 : 0;
	cJSON *d, *kicked;

	if (!n) {
		n = chat_room_members(env->chat, target, members);
		for (size_t i = 0; i < n; i++)
			victims[i] = chat_user_owner(members[i]);
	}
	if (!n && env->engine) {
		ctl_cluster_kick(env, target, cJSON_IsString(reason) ? reason->valuestring : NULL,
				 later, code, msg);
		return NULL;
	}
	if (!n) {
		*code = "not_found";
		*msg = "no session with that handle and no room with that id; see `mcpchatctl sessions` and `mcpchatctl rooms`";
		return NULL;
	}
	d = cJSON_CreateObject();
	kicked = cJSON_AddArrayToObject(d, "kicked");
	for (size_t i = 0; i < n; i++)
		cJSON_AddItemToArray(kicked, cJSON_CreateString(mcp_session_handle(victims[i])));
	for (size_t i = 0; i < n; i++) {
		log_notice("session %s kicked by an admin%s%s", mcp_session_handle(victims[i]),
			   cJSON_IsString(reason) ? ": " : "", cJSON_IsString(reason) ? reason->valuestring : "");
		mcp_session_end(env->mcp, victims[i], MCP_END_KICKED);
	}
	return d;
}

struct notify {
	struct mcp_server *mcp;
	const char *method, *text;
	size_t delivered, refused;
};

/* Refusable like a message: an operator cannot grow a mailbox past its bound either. */
static void notify_one(void *ctx, struct mcp_session *s)
{
	struct notify *n = ctx;
	int64_t seq = mcp_session_event(n->mcp, s, n->method, n->text, strlen(n->text), true);

	if (seq > 0)
		n->delivered++;
	else if (seq == -ENOSPC)
		n->refused++;
}

static cJSON *cmd_notify(struct ctl_env *env, const cJSON *args, const char **code, const char **msg)
{
	const cJSON *target = cJSON_GetObjectItemCaseSensitive(args, "target");
	const cJSON *params = cJSON_GetObjectItemCaseSensitive(args, "params");
	/* cJSON's allocations abort (jsonrpc_init) and params is a parsed object: never NULL. */
	char *text = params ? cJSON_PrintUnformatted(params) : xstrdup("{}");
	struct notify n = { env->mcp, cJSON_GetObjectItemCaseSensitive(args, "method")->valuestring, text, 0, 0 };
	struct mcp_session *s = NULL;
	cJSON *d;

	if (cJSON_IsString(target) && !(s = mcp_find_handle(env->mcp, target->valuestring))) {
		free(text);
		*code = "not_found";
		*msg = "no session with that handle; see `mcpchatctl sessions`";
		return NULL;
	}
	if (s)
		notify_one(&n, s);
	else
		mcp_each_session(env->mcp, notify_one, &n);
	free(text);
	if (s && n.refused) {
		*code = "mailbox_full";
		*msg = "that session has a full mailbox of unread events; it must read them first";
		return NULL;
	}
	d = cJSON_CreateObject();
	cJSON_AddNumberToObject(d, "delivered", (double)n.delivered);
	cJSON_AddNumberToObject(d, "mailbox_full", (double)n.refused);
	return d;
}

/* "[server] listen, [control] group" → ["[server] listen", "[control] group"] */
static cJSON *split_keys(const char *note)
{
	cJSON *arr = cJSON_CreateArray();

	while (*note) {
		size_t n = strcspn(note, ",");
		char key[96];

		snprintf(key, sizeof(key), "%.*s", (int)n, note);
		cJSON_AddItemToArray(arr, cJSON_CreateString(key));
		note += n;
		note += strspn(note, ", ");
	}
	return arr;
}

/* reload: the same steps as SIGHUP; the answer waits for the outcome. */
static cJSON *cmd_reload(struct ctl_env *env, const char **code, const char **msg)
{
	/* The refusal's message is read by ctl_execute_line right after; one request at a time. */
	static char note[600];
	cJSON *d;
	int err = env->reload ? env->reload(env->reload_ctx, note, sizeof(note)) : -ENOENT;

	if (err == -ENOENT) {
		*code = "no_config";
		*msg = "mcp-chatd was started without a configuration file (-c FILE): there is nothing "
		       "to reload; restart it to change its options";
		return NULL;
	}
	if (err < 0) {
		size_t n = strlen(note);

		snprintf(note + n, sizeof(note) - n, "; the running configuration is kept");
		*code = "reload_failed";
		*msg = note;
		return NULL;
	}
	d = cJSON_CreateObject();
	cJSON_AddStringToObject(d, "file", env->config_path ? env->config_path : "");
	cJSON_AddItemToObject(d, "restart_needed", split_keys(note));
	return d;
}

/* NULL with *later set: answered later; NULL without: refused (*code, *msg). */
static cJSON *run(struct ctl_env *env, const struct ctl_request *req, struct ctl_later **later,
		  const char **code, const char **msg)
{
	switch (req->cmd) {
	case CTL_NODES:
		ctl_cluster_nodes(env, later, code, msg);
		return NULL;
	case CTL_STATUS:
		return cmd_status(env);
	case CTL_QUEUES:
	case CTL_ROOMS:
	case CTL_SESSIONS:
		if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(req->args, "cluster"))) {
			ctl_cluster_list(env, req->cmd, later, code, msg);
			return NULL;
		}
		return req->cmd == CTL_QUEUES ? cmd_queues(env)
		       : req->cmd == CTL_ROOMS ? cmd_rooms(env) : cmd_sessions(env);
	case CTL_KICK:
		return cmd_kick(env, req->args, later, code, msg);
	case CTL_NOTIFY:
		return cmd_notify(env, req->args, code, msg);
	case CTL_STATS:
		return cmd_stats(env);
	case CTL_RELOAD:
		return cmd_reload(env, code, msg);
	default:
		*code = "unknown_command";
		*msg = "unknown command";
		return NULL;
	}
}

void ctl_later_answer(struct ctl_later *l, char *line)
{
	if (l->owner)
		l->answer(l->owner, line);
	else
		free(line);
}

char *ctl_execute_line(struct ctl_env *env, const char *line, size_t len,
		       struct ctl_later **later)
{
	struct ctl_request req;
	const char *code = "internal", *msg = "the command gave no answer";
	cJSON *data;
	char *out;

	if (ctl_request_decode(line, len, &req, &code, &msg) < 0)
		return ctl_response_error(code, msg);
	log_info("control: %s", ctl_cmd_name(req.cmd));
	*later = NULL;
	data = run(env, &req, later, &code, &msg);
	if (!data && *later) {
		ctl_request_free(&req);
		return NULL;
	}
	out = data ? ctl_response_ok(data) : ctl_response_error(code, msg);
	cJSON_Delete(data);
	ctl_request_free(&req);
	return out;
}
