#include "admin/status.h"

#include <string.h>

#include "admin/stats.h"
#include "chat/chat.h"
#include "mcp/mcp.h"

bool status_is_path(const char *path)
{
	return strcmp(path, "/healthz") == 0 || strcmp(path, "/metrics") == 0;
}

static void metric(struct buf *out, const char *name, const char *type, const char *help,
		   double value)
{
	buf_printf(out, "# HELP %s %s\n# TYPE %s %s\n%s %.17g\n", name, help, name, type, name, value);
}

static void refusals(struct buf *out)
{
	buf_puts(out, "# HELP mcpchat_refusals_total Tool calls refused, by error code.\n"
		      "# TYPE mcpchat_refusals_total counter\n");
	for (int e = CHAT_INVALID_ARGUMENTS; e < CHAT_ERROR_COUNT && e < STATS_REFUSAL_CODES; e++)
		buf_printf(out, "mcpchat_refusals_total{code=\"%s\"} %llu\n",
			   chat_error_code((enum chat_error)e), (unsigned long long)stats.refusals[e]);
}

static void metrics(const struct status_env *env, struct buf *out)
{
	struct mcp_stats ms;
	struct chat_stats cs;

	mcp_server_stats(env->mcp, &ms);
	chat_get_stats(env->chat, &cs);
	metric(out, "mcpchat_sessions", "gauge", "Open MCP sessions.", ms.sessions);
	metric(out, "mcpchat_waiting", "gauge", "Sessions waiting for a partner.", cs.waiting);
	metric(out, "mcpchat_rooms", "gauge", "Rooms with two people.", cs.rooms);
	metric(out, "mcpchat_push_streams", "gauge", "Open SSE push streams.", ms.streams);
	metric(out, "mcpchat_waiting_calls", "gauge", "wait_for_message calls waiting.", ms.calls_waiting);
	metric(out, "mcpchat_connections", "gauge", "Open client connections.", env->conns ? *env->conns : 0);
	metric(out, "mcpchat_sessions_started_total", "counter", "Sessions started.", (double)stats.sessions_started);
	metric(out, "mcpchat_sessions_ended_total", "counter", "Sessions ended.", (double)stats.sessions_ended);
	metric(out, "mcpchat_matches_total", "counter", "Pairs matched.", (double)cs.matches);
	metric(out, "mcpchat_messages_relayed_total", "counter", "Messages delivered to a partner's mailbox.", (double)cs.messages);
	refusals(out);
	metric(out, "mcpchat_http_client_errors_total", "counter", "Requests answered 4xx.", (double)stats.http_4xx);
	metric(out, "mcpchat_http_server_errors_total", "counter", "Requests answered 5xx.", (double)stats.http_5xx);
	metric(out, "mcpchat_requests_total", "counter", "HTTP requests parsed.", (double)stats.requests);
	metric(out, "mcpchat_received_bytes_total", "counter", "Bytes received from clients.", (double)stats.bytes_in);
	metric(out, "mcpchat_sent_bytes_total", "counter", "Bytes sent to clients.", (double)stats.bytes_out);
	metric(out, "mcpchat_connections_accepted_total", "counter", "Connections accepted.", (double)stats.connections_accepted);
	metric(out, "mcpchat_loop_iterations_total", "counter", "Event loop iterations.", (double)stats.loop_iterations);
}

int status_body(const struct status_env *env, const char *path, struct buf *out, const char **ctype)
{
	*ctype = "text/plain; charset=utf-8";
	if (strcmp(path, "/healthz") == 0) {
		buf_puts(out, env->draining ? "draining\n" : "ok\n");
		return env->draining ? 503 : 200;
	}
	*ctype = "text/plain; version=0.0.4; charset=utf-8";
	metrics(env, out);
	return 200;
}
