#ifndef MCPCHAT_CLUSTER_ADMIN_H
#define MCPCHAT_CLUSTER_ADMIN_H

#include <stdbool.h>
#include <stddef.h>

#include <cjson/cJSON.h>

#include "redis/resp.h"

/* What an operator sees and does across the cluster (issue 15): `mcpchatctl rooms|queues|
 * sessions --cluster`, the per-node counts of `nodes`, and `kick` of a chat held by any
 * node. Two scripts: admin_list (read-only) and kick (ends chats as `end` does, reason
 * kicked). Chats are named by their admin handle (P:handles maps handle -> chat id): no
 * answer here ever holds a chat id, which is a credential. */

struct cluster_node;

#define CLUSTER_ADMIN_ROWS_MAX 1000  /* rows a listing answers at most */
#define CLUSTER_ADMIN_SCAN_MAX 10000 /* chats a listing looks at at most (its time in Redis) */
#define CLUSTER_HANDLE_LEN 12        /* a cluster chat's handle: 48 random bits, hex */

enum cluster_admin_list {
	CLUSTER_LIST_ROOMS,
	CLUSTER_LIST_QUEUES,
	CLUSTER_LIST_SESSIONS,
	CLUSTER_LIST_NODES, /* per node: chats, waiting, rooms */
};

/* err 0: data is the control answer's data ({rooms|waiting|sessions|nodes: [...], cluster:
 * true, truncated: bool}; the callee may keep it: it owns it); err < 0: no answer (redis/
 * resp.h's errors, -EPROTO for a reply of another shape, -EIO for an error reply). */
typedef void (*cluster_admin_list_fn)(void *ctx, int err, cJSON *data);
/* 0: fn is called once; -ENOTCONN, -ENOBUFS: it is not. */
int cluster_admin_list(struct cluster_node *n, enum cluster_admin_list what,
		       cluster_admin_list_fn fn, void *ctx);

/* err 0: handles[0..count) were kicked (none: no such handle or room); valid during the call. */
typedef void (*cluster_admin_kick_fn)(void *ctx, int err, const char *const *handles,
				      size_t count);
/* target: a handle or a room id, 1..64 printable characters (the control protocol checked
 * it). 0: fn is called once; -ENOTCONN, -ENOBUFS: it is not. */
int cluster_admin_kick(struct cluster_node *n, const char *target, cluster_admin_kick_fn fn,
		       void *ctx);

/* A fresh handle for a chat made on a cluster node (CLUSTER_HANDLE_LEN + 1 bytes): 0 or
 * -errno from getrandom. */
int cluster_admin_new_handle(char *out);

/* Pure parts (unit-tested). admin_list's reply {"ok", json} as the control data: every row
 * rebuilt from the fields the listing has, of the types they have (ms ages become whole
 * seconds, *_s); anything else is refused: NULL with *err -EPROTO (-EIO for an error reply). */
cJSON *cluster_admin_list_parse(enum cluster_admin_list what, const redisReply *r, int *err);
/* kick's reply {"ok", handle...}: up to max handles into v (pointing into r); the count, or
 * -EPROTO. */
int cluster_admin_kick_parse(const redisReply *r, const char **v, size_t max);

#endif
