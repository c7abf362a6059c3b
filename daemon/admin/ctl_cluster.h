#ifndef MCPCHAT_CTL_CLUSTER_H
#define MCPCHAT_CTL_CLUSTER_H

#include <stddef.h>

#include "admin/ctl.h"

struct cluster_member;

/* status: adds the "cluster" block on a cluster node (env->engine); nothing otherwise. */
void ctl_cluster_status(const struct ctl_env *env, cJSON *d);
/* Its figures: the cluster's chats, waiting, rooms (also d's waiting and rooms) and the
 * wake-up lag, into the block c. */
void ctl_cluster_figures(const struct ctl_env *env, cJSON *d, cJSON *c);
/* nodes: 0 with *later (answered after the Redis round trip), or -1 with *code and *msg
 * ("not_cluster" on a single node, "unavailable" when Redis is not up). */
int ctl_cluster_nodes(struct ctl_env *env, struct ctl_later **later, const char **code,
		      const char **msg);
/* The data of a nodes answer for v[0..n) (pure; the caller deletes it). */
cJSON *ctl_cluster_nodes_json(const struct cluster_member *v, size_t n);
/* Adds chats, waiting and rooms to each member of d (a nodes answer) from counts (an
 * admin_list of CLUSTER_LIST_NODES; 0 for a node without a row), and truncated (pure). */
void ctl_cluster_nodes_counts(cJSON *d, const cJSON *counts);
/* Why Redis gave no answer (err: redis/resp.h's), for an operator. */
const char *ctl_cluster_failure(int err);

/* queues, rooms, sessions with cluster:true (ctl_cluster_list.c): 0 with *later, or -1 with
 * *code and *msg ("not_cluster", "unavailable"). */
int ctl_cluster_list(struct ctl_env *env, enum ctl_cmd cmd, struct ctl_later **later,
		     const char **code, const char **msg);
/* kick of a target that is no local session or room, on a cluster node: looked up in Redis.
 * 0 with *later (answers kicked, or not_found), or -1 with *code and *msg. */
int ctl_cluster_kick(struct ctl_env *env, const char *target, const char *reason,
		     struct ctl_later **later, const char **code, const char **msg);

#endif
