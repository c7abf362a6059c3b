/* The pure side of cluster/node.c: the heartbeat's JSON, and the shape checks of what Redis
 * answers (P:nodes, TIME, sweep, fallback, the epoch). Whatever comes from Redis was written
 * by other nodes, or by anyone who can reach it: nothing is trusted before it is checked. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include <cjson/cJSON.h>

#include "cluster/node.h"
#include "cluster/wake.h"
#include "util/b64url.h"

int cluster_heartbeat_json(const struct cluster_heartbeat *hb, char *out, size_t len)
{
	cJSON *o = cJSON_CreateObject();
	char *s = NULL;
	int n = -ENOSPC;

	if (!o)
		return -ENOMEM;
	/* Numbers as doubles: exact up to 2^53, ms since 1970 need 41 bits. */
	if (!cJSON_AddStringToObject(o, "addr", hb->addr ? hb->addr : "") ||
	    !cJSON_AddNumberToObject(o, "heartbeat_ms", (double)hb->heartbeat_ms) ||
	    !cJSON_AddNumberToObject(o, "pid", (double)hb->pid) ||
	    !cJSON_AddStringToObject(o, "version", hb->version ? hb->version : "") ||
	    !cJSON_AddNumberToObject(o, "started_ms", (double)hb->started_ms) ||
	    !cJSON_AddStringToObject(o, "state", hb->state ? hb->state : "")) {
		n = -ENOMEM;
		goto fail;
	}
	s = cJSON_PrintUnformatted(o);
	if (!s) {
		n = -ENOMEM;
		goto fail;
	}
	if (strlen(s) < len) {
		n = (int)strlen(s);
		memcpy(out, s, (size_t)n + 1);
	}
fail:
	cJSON_free(s); /* cJSON's allocator (xalloc once jsonrpc_init ran) */
	cJSON_Delete(o);
	return n;
}

static bool name_ok(const char *s, size_t len, size_t max, const char *extra)
{
	if (len == 0 || len > max)
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '_' || c == '-' || (c && strchr(extra, c))))
			return false;
	}
	return true;
}

/* A string member into dst (printable ASCII only: it ends up in a terminal). */
static bool get_str(const cJSON *o, const char *key, char *dst, size_t cap)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
	size_t len;

	if (!cJSON_IsString(v) || !v->valuestring)
		return false;
	len = strlen(v->valuestring);
	if (len >= cap)
		return false;
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)v->valuestring[i] < 0x20 || (unsigned char)v->valuestring[i] > 0x7e)
			return false;
	memcpy(dst, v->valuestring, len + 1);
	return true;
}

static bool get_num(const cJSON *o, const char *key, double max, uint64_t *out)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	if (!cJSON_IsNumber(v) || !(v->valuedouble >= 0) || v->valuedouble > max ||
	    v->valuedouble != (double)(uint64_t)v->valuedouble)
		return false;
	*out = (uint64_t)v->valuedouble;
	return true;
}

int cluster_member_parse(const char *name, size_t name_len, const char *json, size_t json_len,
			 uint64_t now_ms, struct cluster_member *m)
{
	cJSON *o = NULL;
	uint64_t pid;
	int rc = -EPROTO;

	memset(m, 0, sizeof(*m));
	if (!name_ok(name, name_len, CONFIG_NODE_MAX, "") || json_len > 4096)
		return -EPROTO;
	memcpy(m->name, name, name_len);
	o = cJSON_ParseWithLength(json, json_len);
	if (!cJSON_IsObject(o))
		goto fail;
	if (!get_str(o, "addr", m->addr, sizeof(m->addr)) ||
	    !get_str(o, "state", m->state, sizeof(m->state)) ||
	    !get_str(o, "version", m->version, sizeof(m->version)) ||
	    !get_num(o, "heartbeat_ms", 9007199254740992.0, &m->heartbeat_ms) ||
	    !get_num(o, "started_ms", 9007199254740992.0, &m->started_ms) ||
	    !get_num(o, "pid", 4194304.0, &pid))
		goto fail;
	m->pid = (int64_t)pid;
	m->age_ms = now_ms > m->heartbeat_ms ? now_ms - m->heartbeat_ms : 0;
	m->alive = m->age_ms < CLUSTER_NODE_STALE_MS;
	rc = 0;
fail:
	cJSON_Delete(o);
	return rc;
}

static int by_name(const void *a, const void *b)
{
	return strcmp(((const struct cluster_member *)a)->name,
		      ((const struct cluster_member *)b)->name);
}

int cluster_members_parse(const redisReply *r, uint64_t now_ms, struct cluster_member **v,
			  size_t *n, size_t *malformed)
{
	struct cluster_member *out = NULL;
	size_t k = 0, bad = 0;

	*v = NULL;
	*n = *malformed = 0;
	if (!r || r->type != REDIS_REPLY_ARRAY || r->elements % 2)
		return -EPROTO;
	if (r->elements) {
		out = calloc(r->elements / 2, sizeof(*out));
		if (!out)
			return -ENOMEM;
	}
	for (size_t i = 0; i + 1 < r->elements; i += 2) {
		const redisReply *f = r->element[i], *j = r->element[i + 1];

		if (f->type != REDIS_REPLY_STRING || j->type != REDIS_REPLY_STRING ||
		    cluster_member_parse(f->str, f->len, j->str, j->len, now_ms, &out[k]) < 0)
			bad++;
		else
			k++;
	}
	if (k)
		qsort(out, k, sizeof(*out), by_name);
	else {
		free(out);
		out = NULL;
	}
	*v = out;
	*n = k;
	*malformed = bad;
	return 0;
}

/* A non-negative decimal integer of at most 18 digits. */
static bool dec(const char *s, size_t len, uint64_t *out)
{
	uint64_t v = 0;

	if (len == 0 || len > 18)
		return false;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	*out = v;
	return true;
}

int cluster_time_parse(const redisReply *r, uint64_t *ms)
{
	uint64_t sec, usec;

	if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
	    r->element[0]->type != REDIS_REPLY_STRING || r->element[1]->type != REDIS_REPLY_STRING ||
	    !dec(r->element[0]->str, r->element[0]->len, &sec) ||
	    !dec(r->element[1]->str, r->element[1]->len, &usec) || usec >= 1000000 ||
	    sec > 1000000000000ull)
		return -EPROTO;
	*ms = sec * 1000 + usec / 1000;
	return 0;
}

/* The {"ok", n, more} head every timer script answers. */
static bool ok_head(const redisReply *r, long long *n, bool *more)
{
	const redisReply *e;

	if (!r || r->type != REDIS_REPLY_ARRAY || r->elements < 3)
		return false;
	e = r->element[0];
	/* A Lua string is a bulk string; a status reply says the same. */
	if ((e->type != REDIS_REPLY_STRING && e->type != REDIS_REPLY_STATUS) || e->len != 2 ||
	    memcmp(e->str, "ok", 2))
		return false;
	if (r->element[1]->type != REDIS_REPLY_INTEGER || r->element[1]->integer < 0 ||
	    r->element[1]->integer > CLUSTER_NODE_SWEEP_MAX)
		return false;
	if (r->element[2]->type != REDIS_REPLY_INTEGER ||
	    (r->element[2]->integer != 0 && r->element[2]->integer != 1))
		return false;
	*n = r->element[1]->integer;
	*more = r->element[2]->integer == 1;
	return true;
}

int cluster_sweep_parse(const redisReply *r, struct cluster_sweep *out)
{
	memset(out, 0, sizeof(*out));
	if (!ok_head(r, &out->fired, &out->more))
		goto fail;
	/* Every ended chat was a fired timer. */
	if (r->elements - 3 > (size_t)out->fired)
		goto fail;
	for (size_t i = 3; i < r->elements; i++) {
		const redisReply *e = r->element[i];

		if (e->type != REDIS_REPLY_STRING ||
		    !name_ok(e->str, e->len, CLUSTER_CHAT_ID_MAX, "."))
			goto fail;
		out->ended[out->n_ended++] = e->str; /* NUL-terminated by hiredis */
	}
	return 0;
fail:
	memset(out, 0, sizeof(*out));
	return -EPROTO;
}

int cluster_fallback_parse(const redisReply *r, long long *matched, bool *more)
{
	if (!ok_head(r, matched, more) || r->elements != 3)
		return -EPROTO;
	return 0;
}

enum cluster_epoch_verdict cluster_epoch_judge(const char *known, const redisReply *r)
{
	if (!r)
		return CLUSTER_EPOCH_BAD;
	if (r->type == REDIS_REPLY_NIL)
		return CLUSTER_EPOCH_MISSING;
	/* Another node's epoch is as good as ours, whatever its length, within reason. */
	if (r->type != REDIS_REPLY_STRING || !name_ok(r->str, r->len, 64, ""))
		return CLUSTER_EPOCH_BAD;
	if (!known || !known[0])
		return CLUSTER_EPOCH_FIRST;
	if (strlen(known) == r->len && !memcmp(known, r->str, r->len))
		return CLUSTER_EPOCH_SAME;
	return CLUSTER_EPOCH_CHANGED;
}

int cluster_epoch_new(char *out)
{
	unsigned char raw[16];
	ssize_t got = getrandom(raw, sizeof(raw), 0);

	if (got != (ssize_t)sizeof(raw))
		return got < 0 ? -errno : -EIO;
	b64url_encode(raw, sizeof(raw), out);
	return 0;
}

/* The cluster's figures and the wake-up lag (issue 15: what operators see). */

static bool signed_dec(const char *s, size_t len, uint64_t *out)
{
	if (len > 1 && s[0] == '-' && dec(s + 1, len - 1, out)) {
		*out = 0;
		return true;
	}
	return dec(s, len, out);
}

int cluster_stats_parse(const redisReply *r, uint64_t out[3])
{
	if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != 3)
		return -EPROTO;
	for (size_t i = 0; i < 3; i++) {
		const redisReply *e = r->element[i];

		out[i] = 0;
		if (e->type == REDIS_REPLY_NIL)
			continue;
		if (e->type != REDIS_REPLY_STRING || !signed_dec(e->str, e->len, &out[i]))
			return -EPROTO;
	}
	return 0;
}

int cluster_wake_payload_ms(const char *p, size_t len, uint64_t *ms)
{
	struct cluster_wake_payload pl;

	if (cluster_wake_payload_parse(p, len, &pl) < 0)
		return -EPROTO;
	if (!pl.has_ms)
		return -ENOENT; /* "end" or a bare seq */
	*ms = pl.ms;
	return 0;
}

const uint32_t cluster_lag_bounds_ms[CLUSTER_LAG_BUCKETS - 1] = { 1,   2,   5,   10,   25,  50,
								   100, 250, 500, 1000, 2500 };

void cluster_lag_add(struct cluster_lag *l, uint64_t lag_ms)
{
	size_t i = 0;

	while (i < CLUSTER_LAG_BUCKETS - 1 && lag_ms > cluster_lag_bounds_ms[i])
		i++;
	l->buckets[i]++;
	l->ewma_ms = l->count ? l->ewma_ms * 0.9 + (double)lag_ms * 0.1 : (double)lag_ms;
	l->count++;
	l->sum_ms += lag_ms;
	if (lag_ms > l->max_ms)
		l->max_ms = lag_ms;
}
