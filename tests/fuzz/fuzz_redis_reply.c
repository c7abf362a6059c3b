/* The Redis reply path (redis/resp.c over hiredis' reader): bytes from a server, as one
 * chunk and as input-chosen fragments, against a pipe with commands, EVALSHAs (NOSCRIPT
 * retries), FCALLs (a function not found: FUNCTION LOAD and the retry) and optionally
 * subscriber mode, under small limits.
 *
 * Checks: both feedings give the same callbacks in the same order with the same results and
 * both fail or neither does (the split never matters); every callback runs exactly once, by the end
 * (replies, then the reset's error); a reply is never handed out for a command that was not
 * queued; the weight cap holds (no reply string longer than the cap reaches a callback).
 *
 * Every reply is also read as the answer of a cluster script (cluster/call.c, the script by
 * the command's index): well-formed or refused (-EIO, -EPROTO), never trusted past its
 * checks; what it accepts holds its documented invariants. Every pub/sub message is also a
 * wake-up (cluster/wake.c, a waiter listening on chat WAKE_ID): refused, or delivered with
 * an event that lies inside the payload and has the shape wake.h promises; the events go on
 * to a kept run (cluster/kept.c) as a lingering subscription keeps them, which stays in line
 * and inside its bounds and gives back every byte of its charge.
 *
 * Input: byte 0 flags (bit 0 subscriber, bits 1-6 the number of commands), byte 1 a seed
 * for the split points, the rest the server's bytes. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cluster/call.h"
#include "cluster/kept.h"
#include "cluster/node.h"
#include "cluster/wake.h"
#include "fuzz_common.h"
#include "fuzz_entry.h"
#include "redis/resp.h"

#define MAX_CMDS 64
#define MAX_TRACE 256
#define REPLY_CAP 4096

struct trace {
	uint64_t h[MAX_TRACE];
	int n;
	int calls[MAX_CMDS + 1];
	int messages;
};

static struct trace *cur;

#define WAKE_ID "AAAAAAAAAAAAAAAAAAAAA1"
static struct cluster_wake *wake;
static struct cluster_wake_waiter waiter;
static const struct resp_message *msg; /* the message being delivered */
static struct cluster_kept_budget budget = { 0, 256u * 1024u };
static struct cluster_kept kept; /* charged to budget */

/* The kept run after a wake-up of seq (newer: than what it kept): in line, inside its
 * bounds, ending with that event when it could be kept; each entry as it was given. A seq
 * rung again changes nothing, whatever it carries. */
static void check_kept(uint64_t seq, const struct cluster_wake_event *ev, bool newer)
{
	const char *m, *p;
	uint64_t s;
	size_t len = 0;

	FZ_CHECK(kept.n <= CLUSTER_KEPT_EVENTS && kept.len <= CLUSTER_KEPT_BYTES &&
			 kept.len <= kept.cap && budget.used <= budget.max,
		 "kept out of bounds: %u events, %zu bytes", kept.n, kept.len);
	for (uint32_t i = 0; i < kept.n; i++) {
		cluster_kept_get(&kept, i, &s, &m, &p);
		FZ_CHECK(s == kept.first + i, "kept out of line");
		len += strlen(m) + strlen(p) + 2;
	}
	FZ_CHECK(len == kept.len, "kept entries %zu bytes, counted %zu", len, kept.len);
	if (!kept.n)
		return;
	FZ_CHECK(cluster_kept_last(&kept) >= seq || !ev, "a newer event not kept last");
	if (ev && newer && cluster_kept_last(&kept) == seq) {
		cluster_kept_get(&kept, kept.n - 1, &s, &m, &p);
		FZ_CHECK(strlen(m) == ev->method_len && !memcmp(m, ev->method, ev->method_len) &&
				 strlen(p) == ev->params_len && !memcmp(p, ev->params, ev->params_len),
			 "the kept event is not the one that rang");
	}
}

/* A wake-up's event into the kept run, as engine_linger.c's placeholder does. */
static void keep(uint64_t seq, bool end, const struct cluster_wake_event *ev)
{
	bool newer = !kept.n || seq > cluster_kept_last(&kept);

	if (end) {
		cluster_kept_clear(&kept);
		return;
	}
	cluster_kept_ring(&kept, seq, ev ? ev->method : NULL, ev ? ev->method_len : 0,
			  ev ? ev->params : NULL, ev ? ev->params_len : 0);
	check_kept(seq, ev, newer);
}

static void on_wake(struct cluster_wake_waiter *w, const char *chat_id, uint64_t seq, bool end,
		    const struct cluster_wake_event *ev)
{
	const char *lo = msg->payload, *hi = msg->payload + msg->payload_len;

	FZ_CHECK(w == &waiter && strcmp(chat_id, WAKE_ID) == 0, "woke the wrong waiter");
	FZ_CHECK(end ? seq == 0 && !ev : seq > 0, "end %d with seq %llu", end, (unsigned long long)seq);
	keep(seq, end, ev);
	if (!ev)
		return;
	FZ_CHECK(ev->method >= lo && ev->method + ev->method_len <= hi && ev->params >= lo &&
			 ev->params + ev->params_len <= hi,
		 "an event outside its payload");
	FZ_CHECK(ev->method_len > 0 && !memchr(ev->method, '\n', ev->method_len), "a bad method");
	FZ_CHECK(ev->params_len >= 2 && ev->params[0] == '{' && ev->params[ev->params_len - 1] == '}',
		 "params not an object");
}

/* A pub/sub message as a wake-up: delivered to WAKE_ID's waiter or refused; its lag read. */
static void deliver(const struct resp_message *m)
{
	uint64_t ms;
	int rc, lag;

	msg = m;
	rc = cluster_wake_deliver(wake, m->channel, m->channel_len, m->payload, m->payload_len);
	FZ_CHECK(rc == -EPROTO || rc == 0 || rc == 1, "cluster_wake_deliver returned %d", rc);
	lag = cluster_wake_payload_ms(m->payload, m->payload_len, &ms);
	FZ_CHECK(lag == 0 || lag == -ENOENT || lag == -EPROTO, "payload_ms returned %d", lag);
	FZ_CHECK(rc != 1 || lag != -EPROTO, "a wake-up whose payload the lag refuses");
}

static uint64_t mix(uint64_t h, uint64_t v)
{
	h ^= v + 0x9e3779b97f4a7c15ull + (h << 6) + (h >> 2);
	return h;
}

static uint64_t hash_reply(const redisReply *r, int depth)
{
	uint64_t h = mix((uint64_t)r->type, (uint64_t)depth);

	FZ_CHECK(depth < 9, "nesting deeper than the reader allows");
	switch (r->type) {
	case REDIS_REPLY_INTEGER:
		return mix(h, (uint64_t)r->integer);
	case REDIS_REPLY_ARRAY:
		h = mix(h, r->elements);
		for (size_t i = 0; i < r->elements; i++)
			h = mix(h, hash_reply(r->element[i], depth + 1));
		return h;
	case REDIS_REPLY_NIL:
		return h;
	default:
		FZ_CHECK(r->len <= REPLY_CAP, "a %zu-byte string passed a %d-byte cap", r->len, REPLY_CAP);
		for (size_t i = 0; i < r->len; i++)
			h = mix(h, (uint8_t)r->str[i]);
		return h;
	}
}

/* A script's reply as the cluster engine reads it. */
static void parse_as_script(int i, const redisReply *r)
{
	struct cluster_call_reply out;
	enum cluster_script sc = (enum cluster_script)(i % CLUSTER_SCRIPT_COUNT);
	int rc = cluster_call_parse(sc, r, &out);

	FZ_CHECK(rc == 0 || rc == -EIO || rc == -EPROTO, "cluster_call_parse returned %d", rc);
	if (rc == 0) {
		FZ_CHECK(out.chat.error < CHAT_ERROR_COUNT, "error %d", out.chat.error);
		FZ_CHECK(out.chat.error == CHAT_OK || (out.chat.message && out.chat.message[0]),
			 "a refusal without a sentence");
		for (size_t k = 0; k < out.n_events; k++) {
			FZ_CHECK(out.events[k].method && out.events[k].params, "event %zu incomplete", k);
			FZ_CHECK(k == 0 || out.events[k].seq > out.events[k - 1].seq, "seqs out of order");
		}
		for (size_t k = 0; k < out.n_ids; k++)
			FZ_CHECK(out.ids[k] && out.ids[k][0], "empty id %zu", k);
	}
	cluster_call_reply_free(&out);
	/* and as wait_for_message's plain ack (a SET's reply) */
	{
		bool gone = false;

		rc = cluster_call_parse_ack(r, &gone);
		FZ_CHECK(rc == 0 || rc == -EIO || rc == -EPROTO, "cluster_call_parse_ack returned %d", rc);
		FZ_CHECK(!gone || (rc == 0 && r->type == REDIS_REPLY_NIL), "gone from a reply that is no nil");
	}
}

static void on_reply(void *ctx, int err, const redisReply *r)
{
	int i = (int)(intptr_t)ctx;
	uint64_t h = mix((uint64_t)i, (uint64_t)(int64_t)err);

	FZ_CHECK(i >= 0 && i <= MAX_CMDS, "unknown context %d", i);
	FZ_CHECK((err == 0) == (r != NULL), "err %d with reply %p", err, (const void *)r);
	cur->calls[i]++;
	if (r) {
		h = mix(h, hash_reply(r, 0));
		parse_as_script(i, r);
	}
	if (cur->n < MAX_TRACE)
		cur->h[cur->n] = h;
	cur->n++;
}

static void on_message(void *ctx, const struct resp_message *m)
{
	(void)ctx;
	FZ_CHECK(m->channel && m->payload, "a message without channel or payload");
	cur->messages++;
	deliver(m);
	if (cur->n < MAX_TRACE)
		cur->h[cur->n] = mix(mix(0x55, m->channel_len), m->payload_len);
	cur->n++;
}

/* Queues n commands (every third an EVALSHA), feeds data in fragments from seed (0: at
 * once), then resets; returns how the feeding ended. */
static int run(struct trace *t, struct resp_script *s, struct resp_script *f, bool sub, int n,
	       const uint8_t *data, size_t len, uint32_t seed)
{
	struct resp_limits lim = { .max_pending = MAX_CMDS + 8, .max_reply_bytes = REPLY_CAP };
	struct resp_pipe *p = resp_pipe_new(&lim);
	const char *av[2] = { "GET", "k" };
	size_t off = 0;
	int err = 0;

	memset(t, 0, sizeof(*t));
	cur = t;
	if (sub)
		resp_pipe_set_subscriber(p, on_message, NULL);
	for (int i = 0; i < n; i++) {
		void *ctx = (void *)(intptr_t)i;
		struct resp_script *sf = i % 6 == 2 ? s : i % 6 == 5 ? f : NULL;
		int r = sf ? resp_pipe_evalsha(p, sf, 1, 2, av, NULL, on_reply, ctx, (uint64_t)i)
			   : resp_pipe_command(p, 2, av, NULL, on_reply, ctx, (uint64_t)i);

		FZ_CHECK(r == 0, "command %d refused: %d", i, r);
	}
	while (off < len && err == 0) {
		size_t chunk = len - off;

		if (seed)
			chunk = 1 + fz_rand(&seed) % (chunk < 64 ? chunk : 64);
		err = resp_pipe_feed(p, (const char *)data + off, chunk, 1000);
		off += chunk;
	}
	FZ_CHECK(err == 0 || err == -EPROTO || err == -EMSGSIZE, "feed returned %d", err);
	resp_pipe_reset(p, -ECONNRESET);
	FZ_CHECK(resp_pipe_pending(p) == 0, "%u pending after a reset", resp_pipe_pending(p));
	for (int i = 0; i < n; i++)
		FZ_CHECK(t->calls[i] == 1, "command %d completed %d times", i, t->calls[i]);
	resp_pipe_free(p);
	return err;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	char ch[CLUSTER_WAKE_CHANNEL_MAX];

	fz_quiet();
	cluster_kept_init(&kept, &budget);
	wake = cluster_wake_new("{mcpchat}", 4);
	if (!wake || cluster_wake_add(wake, WAKE_ID, &waiter, on_wake, NULL, ch) != 1)
		abort();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct trace whole, split;
	static const char lib[] = "#!lua name=l\nredis.register_function('l_f', function() return 1 end)";
	struct resp_script *s, *f;
	bool sub;
	int n, e1, e2;
	uint32_t seed;

	if (size < 2)
		return 0;
	sub = data[0] & 1;
	n = (data[0] >> 1) & 63;
	seed = data[1] | 0x100u;
	s = resp_script_new("s", "return 1");
	f = resp_function_new("f", "l_f", lib);
	e1 = run(&whole, s, f, sub, n, data + 2, size - 2, 0);
	e2 = run(&split, s, f, sub, n, data + 2, size - 2, seed);
	/* The same failure may be named differently: a long malformed line is -EPROTO at once
	 * but over the cap (-EMSGSIZE) while it is still arriving. */
	FZ_CHECK((e1 == 0) == (e2 == 0), "at once: %d, in fragments: %d", e1, e2);
	FZ_CHECK(whole.n == split.n, "at once %d callbacks, in fragments %d", whole.n, split.n);
	for (int i = 0; i < whole.n && i < MAX_TRACE; i++)
		FZ_CHECK(whole.h[i] == split.h[i], "callback %d differs with the split", i);
	resp_script_free(s);
	resp_script_free(f);
	cluster_kept_clear(&kept);
	FZ_CHECK(budget.used == 0, "%zu bytes still charged", budget.used);
	return 0;
}
