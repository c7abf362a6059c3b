#include "admin/ctl_cluster.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cluster/admin.h"
#include "cluster/engine.h"
#include "cluster/node.h"
#include "net/timer.h"
#include "redis/client.h"
#include "util/log.h"
#include "util/xalloc.h"

/* The cluster's side of the control commands (issue 15): node names, addresses, states and
 * Redis counters only; never a chat id (a credential) or anything of a chat. */

static const char *redis_word(int st)
{
	switch (st) {
	case REDIS_UP:
		return "up";
	case REDIS_CONNECTING:
		return "connecting";
	default:
		return "down";
	}
}

void ctl_cluster_status(const struct ctl_env *env, cJSON *d)
{
	struct cluster_engine_stats st;
	cJSON *c;
	uint64_t now = timer_now_ms();

	if (!env->engine)
		return;
	cluster_engine_stats(env->engine, &st);
	c = cJSON_AddObjectToObject(d, "cluster");
	cJSON_AddStringToObject(c, "node", env->node_name ? env->node_name : "");
	cJSON_AddStringToObject(c, "redis", redis_word(st.redis_state));
	cJSON_AddNumberToObject(c, "rtt_ms", (double)st.rtt_ewma_us / 1000.0);
	cJSON_AddNumberToObject(c, "commands_failed", (double)st.commands_failed);
	cJSON_AddNumberToObject(c, "epoch_changes", (double)st.epoch_changes);
	/* -1: no heartbeat stored yet (the CLI shows "-"). */
	cJSON_AddNumberToObject(c, "heartbeat_age_s",
				!st.last_heartbeat_local_ms ? -1
				: now > st.last_heartbeat_local_ms
					? (double)(now - st.last_heartbeat_local_ms) / 1000.0 : 0);
	cJSON_AddNumberToObject(c, "sweeps", (double)st.sweeps);
	cJSON_AddNumberToObject(c, "wakeups", (double)st.wakeups);
	ctl_cluster_figures(env, d, c);
}

static double age_s(uint64_t then_ms)
{
	uint64_t now = timer_now_ms();

	return !then_ms ? -1 : now > then_ms ? (double)(now - then_ms) / 1000.0 : 0;
}

void ctl_cluster_figures(const struct ctl_env *env, cJSON *d, cJSON *c)
{
	struct cluster_node_stats ns;

	cluster_node_stats(cluster_engine_node(env->engine), &ns);
	/* The cluster's figures, from Redis with the heartbeat; the top-level waiting and rooms
	 * (this node's in-memory chat: always 0 here) say the same, as /metrics does. */
	cJSON_AddNumberToObject(c, "chats", (double)ns.figures.chats);
	cJSON_AddNumberToObject(c, "waiting", (double)ns.figures.waiting);
	cJSON_AddNumberToObject(c, "rooms", (double)ns.figures.rooms);
	cJSON_AddNumberToObject(c, "figures_age_s", age_s(ns.figures.read_local_ms));
	cJSON_ReplaceItemInObjectCaseSensitive(d, "waiting", cJSON_CreateNumber((double)ns.figures.waiting));
	cJSON_ReplaceItemInObjectCaseSensitive(d, "rooms", cJSON_CreateNumber((double)ns.figures.rooms));
	cJSON_AddNumberToObject(c, "wakeup_lag_ms", ns.lag.count ? ns.lag.ewma_ms : -1);
	cJSON_AddNumberToObject(c, "wakeup_lag_max_ms", ns.lag.count ? (double)ns.lag.max_ms : -1);
}

/* Why Redis gave no answer, for an operator. */
const char *ctl_cluster_failure(int err)
{
	switch (err) {
	case -ENOTCONN:
		return "Redis is down or still connecting; try again when `mcpchatctl status` shows "
		       "cluster.redis up";
	case -ETIMEDOUT:
		return "Redis did not answer within the command timeout";
	case -ECANCELED:
		return "the node is stopping";
	case -EPROTO:
		return "Redis answered in an unexpected shape";
	case -EIO:
		return "a cluster script failed in Redis (see the daemon's log)";
	case -ENOBUFS:
		return "too many Redis commands are waiting; try again";
	default:
		return "the Redis command failed";
	}
}

struct nodes_ask {
	struct ctl_later later; /* first: ctlsock holds this pointer */
	struct ctl_env *env;
	cJSON *d; /* the members, waiting for their counts */
};

cJSON *ctl_cluster_nodes_json(const struct cluster_member *v, size_t n)
{
	cJSON *d = cJSON_CreateObject(), *arr = cJSON_AddArrayToObject(d, "nodes");

	for (size_t i = 0; i < n; i++) {
		cJSON *o = cJSON_CreateObject();

		cJSON_AddStringToObject(o, "name", v[i].name);
		cJSON_AddStringToObject(o, "address", v[i].addr);
		cJSON_AddNumberToObject(o, "heartbeat_age_s", (double)v[i].age_ms / 1000.0);
		cJSON_AddStringToObject(o, "state", v[i].alive ? v[i].state : "stale");
		cJSON_AddStringToObject(o, "version", v[i].version);
		cJSON_AddNumberToObject(o, "pid", (double)v[i].pid);
		cJSON_AddItemToArray(arr, o);
	}
	return d;
}

void ctl_cluster_nodes_counts(cJSON *d, const cJSON *counts)
{
	const cJSON *rows = cJSON_GetObjectItemCaseSensitive(counts, "nodes"), *c;
	cJSON *m;
	static const char *const keys[] = { "chats", "waiting", "rooms" };

	cJSON_ArrayForEach(m, cJSON_GetObjectItemCaseSensitive(d, "nodes")) {
		const char *name = cJSON_GetObjectItemCaseSensitive(m, "name")->valuestring;
		const cJSON *row = NULL;

		cJSON_ArrayForEach(c, rows) {
			const cJSON *cn = cJSON_GetObjectItemCaseSensitive(c, "name");

			if (cJSON_IsString(cn) && strcmp(cn->valuestring, name) == 0)
				row = c;
		}
		/* A node without chats has no row: zeros. */
		for (size_t k = 0; k < 3; k++) {
			const cJSON *v = row ? cJSON_GetObjectItemCaseSensitive(row, keys[k]) : NULL;

			cJSON_AddNumberToObject(m, keys[k], cJSON_IsNumber(v) ? v->valuedouble : 0);
		}
	}
	cJSON_AddBoolToObject(d, "truncated",
			      cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(counts, "truncated")));
}

static void on_counts(void *ctx, int err, cJSON *counts)
{
	struct nodes_ask *q = ctx;

	if (err < 0) {
		ctl_later_answer(&q->later, ctl_response_error("unavailable", ctl_cluster_failure(err)));
	} else {
		ctl_cluster_nodes_counts(q->d, counts);
		ctl_later_answer(&q->later, ctl_response_ok(q->d));
	}
	cJSON_Delete(counts);
	cJSON_Delete(q->d);
	free(q);
}

static void on_nodes(void *ctx, int err, const struct cluster_member *v, size_t n,
		     size_t malformed)
{
	struct nodes_ask *q = ctx;

	if (malformed)
		log_warn("control: nodes: %zu heartbeat fields of an unexpected shape skipped", malformed);
	if (err == 0) {
		/* Then the counts, from the chats themselves: the second round trip. */
		q->d = ctl_cluster_nodes_json(v, n);
		err = cluster_admin_list(cluster_engine_node(q->env->engine), CLUSTER_LIST_NODES,
					 on_counts, q);
		if (err == 0)
			return;
		cJSON_Delete(q->d);
	}
	ctl_later_answer(&q->later, ctl_response_error("unavailable", ctl_cluster_failure(err)));
	free(q);
}

int ctl_cluster_nodes(struct ctl_env *env, struct ctl_later **later, const char **code,
		      const char **msg)
{
	struct nodes_ask *q;
	int err;

	if (!env->engine) {
		*code = "not_cluster";
		*msg = "not a cluster node: [cluster] redis is not set";
		return -1;
	}
	q = xcalloc(1, sizeof(*q));
	q->env = env;
	err = cluster_node_nodes(cluster_engine_node(env->engine), on_nodes, q);
	if (err < 0) {
		free(q);
		*code = "unavailable";
		*msg = ctl_cluster_failure(err);
		return -1;
	}
	*later = &q->later;
	return 0;
}
