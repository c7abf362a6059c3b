#ifndef MCPCHAT_CTL_PROTO_H
#define MCPCHAT_CTL_PROTO_H

#include <stdbool.h>
#include <stddef.h>

#include <cjson/cJSON.h>

/* The control protocol between mcp-chatd and mcpchatctl, over a Unix stream socket.
 *
 * One JSON object per line, each way, in order; a connection may carry many requests.
 *   request:  {"cmd":"<command>","args":{...}}            args may be omitted
 *   response: {"ok":true,"data":{...}}
 *             {"ok":false,"error":{"code":"<code>","message":"<sentence>"}}
 * A request line is at most CTL_MAX_REQUEST bytes including its newline; a longer one is
 * answered with error "too_large" and the connection is closed.
 *
 * Commands and their data:
 *   status    {version, uptime_s, pid, listeners:[addr], sessions, waiting, rooms, streams,
 *              connections, memory:{rss_bytes}, cluster?:{node, redis:"up"|"connecting"|"down",
 *              rtt_ms, commands_failed, epoch_changes, heartbeat_age_s (-1: none yet),
 *              sweeps, wakeups, chats, waiting, rooms, figures_age_s (-1: none yet),
 *              wakeup_lag_ms, wakeup_lag_max_ms (-1: none measured)}} (cluster: on a cluster
 *              node only; there waiting and rooms are the cluster's, as cluster.waiting/rooms,
 *              read from Redis with the heartbeat; sessions and streams stay this node's)
 *   queues    {waiting:[{handle, display_name, interests:[tag], waited_s, kind:"queue"|"named",
 *              room_id?}]}
 *   rooms     {rooms:[{room_id, kind:"queue"|"named", age_s, messages, members:[display_name]}]}
 *   sessions  {sessions:[{handle, state:"idle"|"waiting"|"in_room", room_id?, idle_s,
 *              stream:bool, mailbox:N}]}
 *             queues, rooms and sessions take args {cluster?:bool}: true lists the whole
 *             cluster's from Redis (a cluster node only; else "not_cluster"), answered after
 *             the round trip, at most 1000 rows, with cluster:true and truncated:bool; rows
 *             gain node (queues, sessions), handles:[handle] (rooms), display_name and era
 *             (sessions; no stream or mailbox). Never a chat id: chats by handle.
 *   kick      args {target:"HANDLE"|"ROOM_ID", reason?:"text"} → {kicked:[handle]}; on a
 *             cluster node a target that is not local is looked up in Redis (answered later)
 *   notify    args {target:"HANDLE"} or {all:true}, method:"name", params?:{...}
 *              → {delivered:N}
 *   stats     {sessions_started, sessions_ended, matches, messages_relayed,
 *              refusals:{code:N}, bytes_in, bytes_out, requests}
 *   reload    reads the configuration file again and applies it, as SIGHUP does, and answers
 *              once that is done: {file:"PATH", restart_needed:["[section] key"]} (the keys
 *              that changed in the file but need a restart to take effect). Refused with
 *              "reload_failed" (message "FILE:LINE: what is wrong"; the running configuration
 *              is kept) or "no_config" (the daemon runs without -c).
 *   nodes     the cluster's members from their heartbeats in Redis, sorted by name:
 *              {nodes:[{name, address, heartbeat_age_s, state:"running"|"draining"|"starting"
 *              |"stale", version, pid, chats, waiting, rooms}], truncated} (stale: no
 *              heartbeat for 6 s; chats, waiting, rooms: counted in Redis by the chats' node). Answered after a Redis
 *              round trip (bounded by its command timeout). Refused with "not_cluster" on a
 *              single node, "unavailable" when Redis is down or does not answer.
 * Error codes: "bad_request" (not a JSON object of the shape above), "unknown_command",
 * "bad_arguments", "not_found", "too_large", "reload_failed", "no_config", "not_cluster",
 * "unavailable", "internal".
 * Handles are short public ids for admins; no command ever shows a session id or message text. */

#define CTL_MAX_REQUEST (64 * 1024)

enum ctl_cmd {
	CTL_STATUS,
	CTL_QUEUES,
	CTL_ROOMS,
	CTL_SESSIONS,
	CTL_KICK,
	CTL_NOTIFY,
	CTL_STATS,
	CTL_RELOAD,
	CTL_NODES,
	CTL_CMD_COUNT,
};

/* "status", ... for a command; NULL when out of range. */
const char *ctl_cmd_name(enum ctl_cmd cmd);
/* -1 when name is not a command. */
int ctl_cmd_parse(const char *name);

struct ctl_request {
	enum ctl_cmd cmd;
	cJSON *args; /* an object, never NULL; owned by the request */
};

/* Every allocation here goes through cJSON's hooks (cJSON_InitHooks), so NULL on ENOMEM comes
 * back only where those hooks can return NULL: mcp-chatd installs hooks that abort instead.
 *
 * Encodes a request as one line ("...\n"); args may be NULL. Returns a malloc'd string the
 * caller frees, or NULL on ENOMEM. */
char *ctl_request_encode(enum ctl_cmd cmd, const cJSON *args);

/* Decodes one request line (without or with its newline). Returns 0 and fills req (free it
 * with ctl_request_free), or a negative errno with *code and *message describing the error
 * ("bad_request", "unknown_command", "bad_arguments", "too_large"). Argument checks per
 * command: kick needs a string target (1..64 chars) and an optional string reason
 * (≤ 200 chars); notify needs a string method (1..128 chars), target xor all:true, and
 * optional object params; queues, rooms and sessions an optional bool cluster. */
int ctl_request_decode(const char *line, size_t len, struct ctl_request *req, const char **code,
		       const char **message);
void ctl_request_free(struct ctl_request *req);

/* Encodes a response line; data (may be NULL → {}) is not consumed. malloc'd, or NULL. */
char *ctl_response_ok(const cJSON *data);
char *ctl_response_error(const char *code, const char *message);

struct ctl_response {
	bool ok;
	cJSON *data;         /* with ok: the data object (owned) */
	const char *code;    /* without ok: points into the parsed tree */
	const char *message; /* without ok */
	cJSON *root;         /* owns everything */
};

/* Decodes a response line. 0, or -EINVAL when it is not a well-formed response. */
int ctl_response_decode(const char *line, size_t len, struct ctl_response *res);
void ctl_response_free(struct ctl_response *res);

/* The default control socket path: $RUNTIME_DIRECTORY/control.sock (systemd), else
 * $XDG_RUNTIME_DIR/mcp-chat/control.sock, else /tmp/mcp-chat-$UID/control.sock.
 * Returns 0, or -ENAMETOOLONG when it does not fit in len. */
int ctl_default_socket_path(char *buf, size_t len);

#endif
