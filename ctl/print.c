#include "print.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "format.h"
#include "table.h"

/* Printers for each command's data: the human form of what --json shows. */

static bool has_suffix(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* One key/value line per scalar; nested objects as "key.sub" lines. The key's name picks the
 * format: *_s is a duration (shown without "_s"), *bytes* a size. */
static void kv_add(struct table *t, const char *prefix, const cJSON *v)
{
	char key[128], buf[96];
	const cJSON *it;

	snprintf(key, sizeof(key), "%s%s%.64s", prefix, *prefix ? "." : "", v->string);
	if (cJSON_IsObject(v)) {
		cJSON_ArrayForEach(it, v)
			kv_add(t, key, it);
		if (!v->child) {
			table_add(t, key);
			table_add(t, "-");
		}
		return;
	}
	if (cJSON_IsNumber(v) && has_suffix(key, "_s")) {
		key[strlen(key) - 2] = '\0';
		fmt_duration(v, buf, sizeof(buf));
	} else if (cJSON_IsNumber(v) && v->valuedouble < 0) {
		snprintf(buf, sizeof(buf), "-"); /* the daemon could not tell */
	} else if (cJSON_IsNumber(v) && strstr(key, "bytes")) {
		fmt_bytes(v, buf, sizeof(buf));
	} else if (cJSON_IsNumber(v)) {
		fmt_number(v, buf, sizeof(buf));
	} else if (cJSON_IsBool(v)) {
		snprintf(buf, sizeof(buf), "%s", cJSON_IsTrue(v) ? "yes" : "no");
	} else if (cJSON_IsString(v)) {
		table_add(t, key);
		table_add(t, v->valuestring);
		return;
	} else if (cJSON_IsArray(v)) {
		table_add(t, key);
		table_add_owned(t, fmt_join(v, ", "));
		return;
	} else {
		snprintf(buf, sizeof(buf), "-");
	}
	table_add(t, key);
	table_add(t, buf);
}

/* Aligned key/value lines: the keys in order first, then whatever else the daemon sent. */
static void print_kv(const cJSON *d, const char *const *order)
{
	const cJSON *it;
	struct table t;
	size_t k;

	table_init(&t, 2);
	for (k = 0; order[k]; k++) {
		it = cJSON_GetObjectItemCaseSensitive(d, order[k]);
		if (it)
			kv_add(&t, "", it);
	}
	cJSON_ArrayForEach(it, d) {
		for (k = 0; order[k] && strcmp(order[k], it->string) != 0; k++)
			;
		if (!order[k])
			kv_add(&t, "", it);
	}
	table_print_free(&t);
}

void print_status(const cJSON *d)
{
	static const char *const order[] = { "version", "uptime_s", "pid", "listeners", "sessions",
					     "waiting", "rooms", "streams", "connections", "memory",
					     "cluster", NULL };

	print_kv(d, order);
}

void print_stats(const cJSON *d)
{
	static const char *const order[] = { "sessions_started", "sessions_ended", "matches",
					     "messages_relayed", "requests", "bytes_in", "bytes_out",
					     "refusals", NULL };

	print_kv(d, order);
}

static void print_local_sessions(const cJSON *d);

/* A cluster listing (--cluster) has cluster:true; it says when rows were left out. */
static bool is_cluster(const cJSON *d)
{
	return cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(d, "cluster"));
}

static void truncation_note(const cJSON *d, const char *what)
{
	if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(d, "truncated")))
		printf("(truncated: the cluster has more %s than one answer shows)\n", what);
}

/* The queue in order, then the named rooms' waiters; with --cluster the node each began on. */
static void print_waiters(const cJSON *d, bool cluster)
{
	static const char *const local[] = { "HANDLE", "NAME", "WAITED", "KIND", "ROOM", "INTERESTS" };
	static const char *const all[] = { "HANDLE", "NAME", "NODE", "WAITED", "KIND", "ROOM", "INTERESTS" };
	const cJSON *it;
	struct table t;
	char buf[32];

	table_init(&t, cluster ? 7 : 6);
	table_headers(&t, cluster ? all : local);
	cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(d, "waiting")) {
		table_add(&t, fmt_field(it, "handle"));
		table_add(&t, fmt_field(it, "display_name"));
		if (cluster)
			table_add(&t, fmt_field(it, "node"));
		fmt_duration(cJSON_GetObjectItemCaseSensitive(it, "waited_s"), buf, sizeof(buf));
		table_add(&t, buf);
		table_add(&t, fmt_field(it, "kind"));
		table_add(&t, fmt_field(it, "room_id"));
		table_add_owned(&t, fmt_join(cJSON_GetObjectItemCaseSensitive(it, "interests"), ","));
	}
	table_print_free(&t);
	if (cluster)
		truncation_note(d, "waiters");
}

/* --cluster: every chat in Redis; no stream or mailbox columns (a node's own). */
static void print_cluster_sessions(const cJSON *d)
{
	static const char *const head[] = { "HANDLE", "NAME", "NODE", "ERA", "STATE", "ROOM", "IDLE" };
	const cJSON *it;
	struct table t;
	char buf[32];

	table_init(&t, 7);
	table_headers(&t, head);
	cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(d, "sessions")) {
		table_add(&t, fmt_field(it, "handle"));
		table_add(&t, fmt_field(it, "display_name"));
		table_add(&t, fmt_field(it, "node"));
		table_add(&t, fmt_field(it, "era"));
		table_add(&t, fmt_field(it, "state"));
		table_add(&t, fmt_field(it, "room_id"));
		fmt_duration(cJSON_GetObjectItemCaseSensitive(it, "idle_s"), buf, sizeof(buf));
		table_add(&t, buf);
	}
	table_print_free(&t);
	truncation_note(d, "chats");
}

void print_queues(const cJSON *d)
{
	print_waiters(d, is_cluster(d));
}

void print_rooms(const cJSON *d)
{
	static const char *const head[] = { "ROOM", "KIND", "AGE", "MESSAGES", "MEMBERS", "HANDLES" };
	const cJSON *it;
	struct table t;
	char buf[32];
	bool cluster = is_cluster(d);

	/* --cluster adds the members' handles (the column kick takes). */
	table_init(&t, cluster ? 6 : 5);
	table_headers(&t, head);
	cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(d, "rooms")) {
		table_add(&t, fmt_field(it, "room_id"));
		table_add(&t, fmt_field(it, "kind"));
		fmt_duration(cJSON_GetObjectItemCaseSensitive(it, "age_s"), buf, sizeof(buf));
		table_add(&t, buf);
		fmt_number(cJSON_GetObjectItemCaseSensitive(it, "messages"), buf, sizeof(buf));
		table_add(&t, buf);
		table_add_owned(&t, fmt_join(cJSON_GetObjectItemCaseSensitive(it, "members"), ", "));
		if (cluster)
			table_add_owned(&t, fmt_join(cJSON_GetObjectItemCaseSensitive(it, "handles"), ", "));
	}
	table_print_free(&t);
	truncation_note(d, "rooms");
}

void print_sessions(const cJSON *d)
{
	if (is_cluster(d)) {
		print_cluster_sessions(d);
		return;
	}
	print_local_sessions(d);
}

static void print_local_sessions(const cJSON *d)
{
	static const char *const head[] = { "HANDLE", "PROTOCOL", "STATE", "ROOM", "IDLE", "STREAM", "MAILBOX" };
	const cJSON *it, *stream;
	struct table t;
	char buf[32];

	table_init(&t, 7);
	table_headers(&t, head);
	cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(d, "sessions")) {
		table_add(&t, fmt_field(it, "handle"));
		/* The protocol names the era: 2026-07-28 is a chat without a session. */
		table_add(&t, fmt_field(it, "protocol"));
		table_add(&t, fmt_field(it, "state"));
		table_add(&t, fmt_field(it, "room_id"));
		fmt_duration(cJSON_GetObjectItemCaseSensitive(it, "idle_s"), buf, sizeof(buf));
		table_add(&t, buf);
		stream = cJSON_GetObjectItemCaseSensitive(it, "stream");
		table_add(&t, cJSON_IsBool(stream) ? (cJSON_IsTrue(stream) ? "yes" : "no") : "-");
		fmt_number(cJSON_GetObjectItemCaseSensitive(it, "mailbox"), buf, sizeof(buf));
		table_add(&t, buf);
	}
	table_print_free(&t);
}

void print_kick(const cJSON *d)
{
	const cJSON *kicked = cJSON_GetObjectItemCaseSensitive(d, "kicked");
	char *list = fmt_join(kicked, ", ");
	char *shown = fmt_clean(list, NULL);

	printf("kicked %d session%s: %s\n", cJSON_GetArraySize(kicked),
	       cJSON_GetArraySize(kicked) == 1 ? "" : "s", shown);
	free(shown);
	free(list);
}

void print_notify(const cJSON *d)
{
	const cJSON *n = cJSON_GetObjectItemCaseSensitive(d, "delivered");
	char buf[32];

	const cJSON *full = cJSON_GetObjectItemCaseSensitive(d, "mailbox_full");

	fmt_number(n, buf, sizeof(buf));
	printf("delivered to %s session%s", buf, cJSON_IsNumber(n) && n->valuedouble == 1 ? "" : "s");
	/* Sessions that must read their events first are refused, not silently skipped. */
	if (cJSON_IsNumber(full) && full->valuedouble > 0) {
		fmt_number(full, buf, sizeof(buf));
		printf("; refused for %s with a full mailbox (unread events)", buf);
	}
	printf("\n");
}

void print_reload(const cJSON *d)
{
	const cJSON *later = cJSON_GetObjectItemCaseSensitive(d, "restart_needed");
	char *file = fmt_clean(fmt_field(d, "file"), NULL);

	printf("configuration reloaded from %s\n", file);
	if (cJSON_GetArraySize(later) > 0) {
		char *list = fmt_join(later, ", ");
		char *shown = fmt_clean(list, NULL);

		printf("these need a restart to change: %s\n", shown);
		free(shown);
		free(list);
	}
	free(file);
}

/* The cluster's members, as the daemon sorted them (by name). */
void print_nodes(const cJSON *d)
{
	static const char *const head[] = { "NAME", "ADDRESS", "AGE", "STATE", "CHATS", "WAITING",
					    "ROOMS", "VERSION", "PID" };
	const cJSON *it;
	struct table t;
	char buf[32];

	table_init(&t, 9);
	table_headers(&t, head);
	cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(d, "nodes")) {
		table_add(&t, fmt_field(it, "name"));
		table_add(&t, fmt_field(it, "address"));
		fmt_duration(cJSON_GetObjectItemCaseSensitive(it, "heartbeat_age_s"), buf, sizeof(buf));
		table_add(&t, buf);
		table_add(&t, fmt_field(it, "state"));
		for (int k = 0; k < 3; k++) {
			fmt_number(cJSON_GetObjectItemCaseSensitive(it, (const char *[]){ "chats", "waiting", "rooms" }[k]),
				   buf, sizeof(buf));
			table_add(&t, buf);
		}
		table_add(&t, fmt_field(it, "version"));
		fmt_number(cJSON_GetObjectItemCaseSensitive(it, "pid"), buf, sizeof(buf));
		table_add(&t, buf);
	}
	table_print_free(&t);
	truncation_note(d, "chats to count");
}
