/* Cluster-wide admin listings and kicks (cluster/admin.h): two scripts on the node's command
 * client, and the shape checks of their replies. */
#include "cluster/admin.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "cluster/node.h"
#include "cluster/scripts.h"
#include "redis/client.h"

/* Replies */

enum ftype { F_STR, F_STR_OPT, F_MS, F_NUM, F_STRS };

struct field {
	const char *in, *out;
	enum ftype type;
};

/* The fields each listing has, in the order they are shown; nothing else gets through. */
static const struct field f_sessions[] = {
	{ "handle", "handle", F_STR },   { "display_name", "display_name", F_STR },
	{ "node", "node", F_STR },       { "era", "era", F_STR },
	{ "state", "state", F_STR },     { "room_id", "room_id", F_STR_OPT },
	{ "idle_ms", "idle_s", F_MS },   { NULL, NULL, F_STR },
};
static const struct field f_queues[] = {
	{ "handle", "handle", F_STR },       { "display_name", "display_name", F_STR },
	{ "node", "node", F_STR },           { "interests", "interests", F_STRS },
	{ "waited_ms", "waited_s", F_MS },   { "kind", "kind", F_STR },
	{ "room_id", "room_id", F_STR_OPT }, { NULL, NULL, F_STR },
};
static const struct field f_rooms[] = {
	{ "room_id", "room_id", F_STR }, { "kind", "kind", F_STR },
	{ "age_ms", "age_s", F_MS },     { "messages", "messages", F_NUM },
	{ "members", "members", F_STRS }, { "handles", "handles", F_STRS },
	{ NULL, NULL, F_STR },
};
static const struct field f_nodes[] = {
	{ "name", "name", F_STR },       { "chats", "chats", F_NUM },
	{ "waiting", "waiting", F_NUM }, { "rooms", "rooms", F_NUM },
	{ NULL, NULL, F_STR },
};

static const struct {
	const char *arg, *key;
	const struct field *fields;
} lists[] = {
	[CLUSTER_LIST_ROOMS] = { "rooms", "rooms", f_rooms },
	[CLUSTER_LIST_QUEUES] = { "queues", "waiting", f_queues },
	[CLUSTER_LIST_SESSIONS] = { "sessions", "sessions", f_sessions },
	[CLUSTER_LIST_NODES] = { "nodes", "nodes", f_nodes },
};

/* cjson writes an empty Lua table as {}: an empty list. */
static bool empty_list(const cJSON *v)
{
	return cJSON_IsObject(v) && !v->child;
}

static bool copy_strings(const cJSON *v, cJSON *out)
{
	const cJSON *it;

	if (empty_list(v))
		return true;
	if (!cJSON_IsArray(v))
		return false;
	cJSON_ArrayForEach(it, v) {
		if (!cJSON_IsString(it))
			return false;
		cJSON_AddItemToArray(out, cJSON_CreateString(it->valuestring));
	}
	return true;
}

static bool copy_field(const struct field *f, const cJSON *row, cJSON *o)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(row, f->in);

	switch (f->type) {
	case F_STR_OPT:
		if (!v)
			return true;
		/* fall through */
	case F_STR:
		return cJSON_IsString(v) && cJSON_AddStringToObject(o, f->out, v->valuestring);
	case F_MS:
	case F_NUM:
		if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble) || v->valuedouble < 0)
			return false;
		/* Whole seconds, as the single node shows ages. */
		cJSON_AddNumberToObject(o, f->out, f->type == F_MS ? floor(v->valuedouble / 1000)
								   : v->valuedouble);
		return true;
	case F_STRS:
		return copy_strings(v, cJSON_AddArrayToObject(o, f->out));
	}
	return false;
}

static bool copy_rows(const struct field *fields, const cJSON *rows, cJSON *out)
{
	const cJSON *row;

	if (empty_list(rows))
		return true;
	if (!cJSON_IsArray(rows) || cJSON_GetArraySize(rows) > CLUSTER_ADMIN_ROWS_MAX)
		return false;
	cJSON_ArrayForEach(row, rows) {
		cJSON *o = cJSON_CreateObject();

		cJSON_AddItemToArray(out, o);
		if (!cJSON_IsObject(row))
			return false;
		for (const struct field *f = fields; f->in; f++) {
			if (!copy_field(f, row, o))
				return false;
		}
	}
	return true;
}

static bool ok_str(const redisReply *e)
{
	return e->type == REDIS_REPLY_STRING || e->type == REDIS_REPLY_STATUS;
}

cJSON *cluster_admin_list_parse(enum cluster_admin_list what, const redisReply *r, int *err)
{
	cJSON *in = NULL, *d = NULL;
	const cJSON *truncated;

	*err = -EPROTO;
	if ((unsigned)what > CLUSTER_LIST_NODES || !r)
		return NULL;
	if (r->type == REDIS_REPLY_ERROR) {
		*err = -EIO;
		return NULL;
	}
	if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 || !ok_str(r->element[0]) ||
	    strcmp(r->element[0]->str, "ok") != 0 || r->element[1]->type != REDIS_REPLY_STRING)
		return NULL;
	in = cJSON_ParseWithLength(r->element[1]->str, r->element[1]->len);
	truncated = cJSON_GetObjectItemCaseSensitive(in, "truncated");
	if (!cJSON_IsObject(in) || !cJSON_IsBool(truncated))
		goto fail;
	d = cJSON_CreateObject();
	if (!copy_rows(lists[what].fields, cJSON_GetObjectItemCaseSensitive(in, "rows"),
		       cJSON_AddArrayToObject(d, lists[what].key)))
		goto fail;
	cJSON_AddTrueToObject(d, "cluster");
	cJSON_AddBoolToObject(d, "truncated", cJSON_IsTrue(truncated));
	cJSON_Delete(in);
	*err = 0;
	return d;
fail:
	cJSON_Delete(in);
	cJSON_Delete(d);
	return NULL;
}

int cluster_admin_kick_parse(const redisReply *r, const char **v, size_t max)
{
	size_t n;

	if (!r || r->type != REDIS_REPLY_ARRAY || r->elements < 1 || !ok_str(r->element[0]) ||
	    strcmp(r->element[0]->str, "ok") != 0 || r->elements - 1 > max)
		return -EPROTO;
	for (n = 0; n + 1 < r->elements; n++) {
		const redisReply *e = r->element[n + 1];

		if (e->type != REDIS_REPLY_STRING || e->len > 64 || strlen(e->str) != e->len)
			return -EPROTO;
		v[n] = e->str;
	}
	return (int)n;
}

int cluster_admin_new_handle(char *out)
{
	unsigned char raw[CLUSTER_HANDLE_LEN / 2];

	if (getrandom(raw, sizeof(raw), 0) != (ssize_t)sizeof(raw))
		return errno ? -errno : -EIO;
	for (size_t i = 0; i < sizeof(raw); i++) {
		out[2 * i] = "0123456789abcdef"[raw[i] >> 4];
		out[2 * i + 1] = "0123456789abcdef"[raw[i] & 15];
	}
	out[CLUSTER_HANDLE_LEN] = '\0';
	return 0;
}

/* Calls */

struct list_req {
	enum cluster_admin_list what;
	cluster_admin_list_fn fn;
	void *ctx;
};

static void on_list(void *ctx, int err, const redisReply *r)
{
	struct list_req *q = ctx;
	cJSON *d = NULL;

	if (err == 0)
		d = cluster_admin_list_parse(q->what, r, &err);
	q->fn(q->ctx, err, d);
	free(q);
}

int cluster_admin_list(struct cluster_node *n, enum cluster_admin_list what,
		       cluster_admin_list_fn fn, void *ctx)
{
	struct redis_client *cl = cluster_node_redis(n);
	char max[16], scan[16];
	const char *argv[] = { cluster_node_prefix(n), lists[what].arg, max, scan };
	struct list_req *q;
	int err;

	if (redis_client_state(cl) != REDIS_UP)
		return -ENOTCONN;
	q = calloc(1, sizeof(*q));
	if (!q)
		return -ENOMEM;
	*q = (struct list_req){ what, fn, ctx };
	snprintf(max, sizeof(max), "%d", CLUSTER_ADMIN_ROWS_MAX);
	snprintf(scan, sizeof(scan), "%d", CLUSTER_ADMIN_SCAN_MAX);
	err = redis_evalsha(cl, cluster_node_script(n, CLUSTER_SCRIPT_ADMIN_LIST), 1, 4, argv, NULL,
			    on_list, q);
	if (err < 0)
		free(q);
	return err;
}

struct kick_req {
	cluster_admin_kick_fn fn;
	void *ctx;
};

static void on_kick(void *ctx, int err, const redisReply *r)
{
	struct kick_req *q = ctx;
	const char *v[2];
	int n = -EPROTO;

	if (err == 0 && r->type == REDIS_REPLY_ERROR)
		err = -EIO;
	if (err == 0) {
		n = cluster_admin_kick_parse(r, v, 2);
		err = n < 0 ? n : 0;
	}
	q->fn(q->ctx, err, v, err < 0 ? 0 : (size_t)n);
	free(q);
}

int cluster_admin_kick(struct cluster_node *n, const char *target, cluster_admin_kick_fn fn,
		       void *ctx)
{
	struct redis_client *cl = cluster_node_redis(n);
	const char *argv[] = { cluster_node_prefix(n), target };
	struct kick_req *q;
	int err;

	if (redis_client_state(cl) != REDIS_UP)
		return -ENOTCONN;
	q = calloc(1, sizeof(*q));
	if (!q)
		return -ENOMEM;
	*q = (struct kick_req){ fn, ctx };
	err = redis_evalsha(cl, cluster_node_script(n, CLUSTER_SCRIPT_KICK), 1, 2, argv, NULL,
			    on_kick, q);
	if (err < 0)
		free(q);
	return err;
}
