#ifndef MCPCHAT_CTL_CLUSTER_H
#define MCPCHAT_CTL_CLUSTER_H

#include <stddef.h>

#include "admin/ctl.h"

struct cluster_member;

/* status: adds the "cluster" block on a cluster node (env->engine); nothing otherwise. */
void ctl_cluster_status(const struct ctl_env *env, cJSON *d);
/* nodes: 0 with *later (answered after the Redis round trip), or -1 with *code and *msg
 * ("not_cluster" on a single node, "unavailable" when Redis is not up). */
int ctl_cluster_nodes(struct ctl_env *env, struct ctl_later **later, const char **code,
		      const char **msg);
/* The data of a nodes answer for v[0..n) (pure; the caller deletes it). */
cJSON *ctl_cluster_nodes_json(const struct cluster_member *v, size_t n);

#endif
