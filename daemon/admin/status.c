#include "admin/status.h"

#include <string.h>

#include "admin/stats.h"
#include "chat/chat.h"
#include "cluster/engine.h"
#include "cluster/node.h"
#include "net/timer.h"
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

/* The wake-up lag histogram (cluster/node.h), in seconds. */
static void lag_histogram(const struct cluster_lag *l, struct buf *out)
{
	uint64_t cum = 0;

	buf_puts(out, "# HELP mcpchat_cluster_wakeup_lag_seconds From a script's publish to this node "
		      "receiving the wake-up (Redis clock, estimated here).\n"
		      "# TYPE mcpchat_cluster_wakeup_lag_seconds histogram\n");
	for (size_t i = 0; i < CLUSTER_LAG_BUCKETS; i++) {
		cum += l->buckets[i];
		if (i < CLUSTER_LAG_BUCKETS - 1)
			buf_printf(out, "mcpchat_cluster_wakeup_lag_seconds_bucket{le=\"%g\"} %llu\n",
				   cluster_lag_bounds_ms[i] / 1000.0, (unsigned long long)cum);
		else
			buf_printf(out, "mcpchat_cluster_wakeup_lag_seconds_bucket{le=\"+Inf\"} %llu\n",
				   (unsigned long long)cum);
	}
	buf_printf(out, "mcpchat_cluster_wakeup_lag_seconds_sum %.17g\n", l->sum_ms / 1000.0);
	buf_printf(out, "mcpchat_cluster_wakeup_lag_seconds_count %llu\n", (unsigned long long)l->count);
}

/* The cluster's figures (Redis, read with the heartbeat) and this node's wake-up lag. */
static void cluster_figures(struct cluster_engine *e, struct buf *out)
{
	struct cluster_node_stats ns;

	cluster_node_stats(cluster_engine_node(e), &ns);
	metric(out, "mcpchat_cluster_chats", "gauge", "Chats in the whole cluster (Redis P:stats, read every 2 s).", (double)ns.figures.chats);
	metric(out, "mcpchat_cluster_figures_age_seconds", "gauge", "Age of the cluster figures (-1: not read yet).",
	       ns.figures.read_local_ms ? (double)(timer_now_ms() - ns.figures.read_local_ms) / 1000.0 : -1);
	metric(out, "mcpchat_cluster_wakeup_lag_ewma_seconds", "gauge", "Wake-up lag, moving average.", ns.lag.ewma_ms / 1000.0);
	metric(out, "mcpchat_cluster_wakeup_lag_max_seconds", "gauge", "Largest wake-up lag since start.", (double)ns.lag.max_ms / 1000.0);
	lag_histogram(&ns.lag, out);
}

/* A cluster node's Redis side (issue 15). */
static void cluster_metrics(struct cluster_engine *e, struct buf *out)
{
	struct cluster_engine_stats st;

	cluster_engine_stats(e, &st);
	metric(out, "mcpchat_redis_up", "gauge", "1 when the Redis command connection is up.", st.redis_up);
	metric(out, "mcpchat_redis_rtt_ms", "gauge", "Redis command round trip, moving average (ms).", st.rtt_ewma_us / 1000.0);
	metric(out, "mcpchat_redis_commands_failed_total", "counter", "Redis commands refused, failed or not answered.", (double)st.commands_failed);
	metric(out, "mcpchat_redis_malformed_replies_total", "counter", "Script replies or wake-ups of an unexpected shape.", (double)st.malformed);
	metric(out, "mcpchat_cluster_wakeups_total", "counter", "Wake-ups received on the pub/sub connection.", (double)st.wakeups);
	metric(out, "mcpchat_cluster_calls_total", "counter", "Tool calls taken by the cluster engine.", (double)st.calls);
	metric(out, "mcpchat_cluster_unavailable_total", "counter", "Tool calls answered unavailable.", (double)st.unavailable);
	metric(out, "mcpchat_cluster_chats_listened", "gauge", "Chats this node is subscribed to.", (double)st.chats_listened);
	metric(out, "mcpchat_cluster_chats_lingering", "gauge", "Of those, kept a few seconds after their last wait answered.", (double)st.chats_lingering);
	metric(out, "mcpchat_cluster_linger_reused_total", "counter", "Waits that found their chat still subscribed.", (double)st.linger_reused);
	metric(out, "mcpchat_cluster_reads_skipped_total", "counter", "Of those, waits that acknowledged and waited without reading the stream.", (double)st.reads_skipped);
	metric(out, "mcpchat_cluster_doorbell_answers_total", "counter", "Waits answered with the event their wake-up carried, without reading the stream.", (double)st.doorbell_answers);
	metric(out, "mcpchat_cluster_acks_owed_total", "counter", "Of those, waits whose acknowledgement went with their next Redis command instead of a round trip of its own.", (double)st.acks_owed);
	metric(out, "mcpchat_cluster_kept_answers_total", "counter", "Waits answered with the events a lingering subscription kept from their wake-ups, without reading the stream.", (double)st.kept_answers);
	metric(out, "mcpchat_cluster_legacy_sessions", "gauge", "2025 sessions on this node (their chats in Redis).", (double)st.legacy_sessions);
	metric(out, "mcpchat_cluster_epoch_changes_total", "counter", "Times Redis was found to have lost its state.", (double)st.epoch_changes);
	metric(out, "mcpchat_cluster_heartbeats_total", "counter", "Heartbeats stored.", (double)st.heartbeats);
	metric(out, "mcpchat_cluster_heartbeat_failures_total", "counter", "Heartbeats not stored.", (double)st.heartbeat_failures);
	metric(out, "mcpchat_cluster_sweeps_total", "counter", "Expiry sweeps run.", (double)st.sweeps);
	metric(out, "mcpchat_cluster_sweep_ended_total", "counter", "Chats ended by this node's sweeps.", (double)st.sweep_ended);
	cluster_figures(e, out);
}

static void metrics(const struct status_env *env, struct buf *out)
{
	struct mcp_stats ms;
	struct chat_stats cs;

	mcp_server_stats(env->mcp, &ms);
	chat_get_stats(env->chat, &cs);
	if (env->engine)
		cluster_engine_add_counts(env->engine, &cs);
	metric(out, "mcpchat_sessions", "gauge", "Open MCP sessions (this node's).", ms.sessions);
	if (env->engine) {
		/* The chat state is the cluster's: so are these (the in-memory chat is empty). */
		struct cluster_node_stats ns;

		cluster_node_stats(cluster_engine_node(env->engine), &ns);
		metric(out, "mcpchat_waiting", "gauge", "Chats waiting for a partner, in the whole cluster (Redis, every 2 s).", (double)ns.figures.waiting);
		metric(out, "mcpchat_rooms", "gauge", "Rooms with two people, in the whole cluster (Redis, every 2 s).", (double)ns.figures.rooms);
	} else {
		metric(out, "mcpchat_waiting", "gauge", "Sessions waiting for a partner.", cs.waiting);
		metric(out, "mcpchat_rooms", "gauge", "Rooms with two people.", cs.rooms);
	}
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
	if (env->engine)
		cluster_metrics(env->engine, out);
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
