/* `mcpchatctl queues|rooms|sessions --cluster` and kick of a chat on another node (issue
 * 15): deferred answers from the cluster's scripts (cluster/admin.h). Chats are shown and
 * named by handle only; a chat id never reaches an answer or a log line. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "admin/ctl_cluster.h"
#include "cluster/admin.h"
#include "cluster/engine.h"
#include "util/log.h"
#include "util/xalloc.h"

struct list_ask {
	struct ctl_later later; /* first: ctlsock holds this pointer */
};

static void on_list(void *ctx, int err, cJSON *d)
{
	struct list_ask *q = ctx;

	if (err < 0)
		ctl_later_answer(&q->later, ctl_response_error("unavailable", ctl_cluster_failure(err)));
	else
		ctl_later_answer(&q->later, ctl_response_ok(d));
	cJSON_Delete(d);
	free(q);
}

static bool not_cluster(const struct ctl_env *env, const char **code, const char **msg)
{
	if (env->engine)
		return false;
	*code = "not_cluster";
	*msg = "not a cluster node: [cluster] redis is not set; without --cluster this node's own "
	       "are listed";
	return true;
}

int ctl_cluster_list(struct ctl_env *env, enum ctl_cmd cmd, struct ctl_later **later,
		     const char **code, const char **msg)
{
	enum cluster_admin_list what = cmd == CTL_ROOMS    ? CLUSTER_LIST_ROOMS
				       : cmd == CTL_QUEUES ? CLUSTER_LIST_QUEUES
							   : CLUSTER_LIST_SESSIONS;
	struct list_ask *q;
	int err;

	if (not_cluster(env, code, msg))
		return -1;
	q = xcalloc(1, sizeof(*q));
	err = cluster_admin_list(cluster_engine_node(env->engine), what, on_list, q);
	if (err < 0) {
		free(q);
		*code = "unavailable";
		*msg = ctl_cluster_failure(err);
		return -1;
	}
	*later = &q->later;
	return 0;
}

struct kick_ask {
	struct ctl_later later; /* first */
	char reason[4 * 200 + 1]; /* for the log line: 200 characters of UTF-8 at most */
};

static void on_kick(void *ctx, int err, const char *const *handles, size_t n)
{
	struct kick_ask *q = ctx;
	cJSON *d, *kicked;

	if (err < 0) {
		ctl_later_answer(&q->later, ctl_response_error("unavailable", ctl_cluster_failure(err)));
	} else if (!n) {
		ctl_later_answer(&q->later, ctl_response_error("not_found",
			"no chat with that handle and no room with that id in the cluster; see "
			"`mcpchatctl sessions --cluster` and `mcpchatctl rooms --cluster`"));
	} else {
		d = cJSON_CreateObject();
		kicked = cJSON_AddArrayToObject(d, "kicked");
		for (size_t i = 0; i < n; i++) {
			cJSON_AddItemToArray(kicked, cJSON_CreateString(handles[i]));
			log_notice("chat %s kicked by an admin (cluster)%s%s", handles[i],
				   q->reason[0] ? ": " : "", q->reason);
		}
		ctl_later_answer(&q->later, ctl_response_ok(d));
		cJSON_Delete(d);
	}
	free(q);
}

int ctl_cluster_kick(struct ctl_env *env, const char *target, const char *reason,
		     struct ctl_later **later, const char **code, const char **msg)
{
	struct kick_ask *q = xcalloc(1, sizeof(*q));
	int err;

	snprintf(q->reason, sizeof(q->reason), "%s", reason ? reason : "");
	err = cluster_admin_kick(cluster_engine_node(env->engine), target, on_kick, q);
	if (err < 0) {
		free(q);
		*code = "unavailable";
		*msg = ctl_cluster_failure(err);
		return -1;
	}
	*later = &q->later;
	return 0;
}
