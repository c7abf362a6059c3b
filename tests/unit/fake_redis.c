/* The scripted fake Redis (fake_redis.h): daemon/redis/client.h's API over a FIFO the test
 * answers. Only what a test can observe is modelled: states, refusals, answers exactly once. */
#include "fake_redis.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <hiredis/hiredis.h>

#include "util/xalloc.h"

struct redis_client {
	enum redis_state state;
	bool subscriber, stopped;
	redis_state_fn on_state;
	void *state_ctx;
	resp_message_fn on_message;
	void *message_ctx;
	struct resp_script **scripts;
	uint32_t n_scripts;
	struct redis_stats st;
};

static struct fake {
	struct fr_cmd *head, **tail;
	struct redis_client *cmd, *sub;
	int refuse;
} F = { .tail = &F.head };

/* The seam */

int redis_addr_parse(const char *spec, struct redis_addr *a)
{
	memset(a, 0, sizeof(*a));
	return spec && *spec ? 0 : -EINVAL;
}

uint32_t redis_backoff_ms(uint32_t attempt, uint32_t min_ms, uint32_t max_ms, uint32_t rnd)
{
	(void)attempt, (void)rnd, (void)max_ms;
	return min_ms;
}

void redis_on_cqe(enum ring_op op, void *obj, struct io_uring_cqe *cqe)
{
	(void)op, (void)obj, (void)cqe; /* no ring operation is ever made */
}

struct redis_client *redis_client_new(struct ring *ring, struct timer_heap *timers,
				      const struct redis_options *o, int *err)
{
	struct redis_client *cl;

	(void)ring, (void)timers;
	if (redis_addr_parse(o->addr, &(struct redis_addr){ 0 }) < 0) {
		*err = -EINVAL;
		return NULL;
	}
	cl = xcalloc(1, sizeof(*cl));
	cl->state = REDIS_CONNECTING;
	cl->subscriber = o->subscriber;
	cl->on_state = o->on_state;
	cl->state_ctx = o->state_ctx;
	cl->on_message = o->on_message;
	cl->message_ctx = o->message_ctx;
	if (o->subscriber)
		F.sub = cl;
	else
		F.cmd = cl;
	return cl;
}

/* Fails every pending command of cl with err, oldest first; callbacks may queue more (those
 * stay, as a reset real pipe keeps them). */
static void fail_all(struct redis_client *cl, int err)
{
	struct fr_cmd *mine = NULL, **mt = &mine, **pp = &F.head;

	while (*pp) {
		struct fr_cmd *c = *pp;

		if (c->cl != cl) {
			pp = &c->next;
			continue;
		}
		*pp = c->next;
		c->next = NULL;
		*mt = c;
		mt = &c->next;
	}
	for (F.tail = &F.head; *F.tail; F.tail = &(*F.tail)->next)
		;
	while (mine) {
		struct fr_cmd *c = mine;

		mine = c->next;
		fr_fail(c, err);
	}
}

void redis_client_stop(struct redis_client *cl)
{
	if (cl->stopped)
		return;
	cl->stopped = true;
	cl->state = REDIS_DOWN;
	fail_all(cl, -ECANCELED);
}

bool redis_client_idle(const struct redis_client *cl)
{
	return cl->stopped;
}

void redis_client_free(struct redis_client *cl)
{
	if (!cl)
		return;
	redis_client_stop(cl);
	for (uint32_t i = 0; i < cl->n_scripts; i++)
		resp_script_free(cl->scripts[i]);
	free(cl->scripts);
	if (F.cmd == cl)
		F.cmd = NULL;
	if (F.sub == cl)
		F.sub = NULL;
	free(cl);
}

static int record(struct redis_client *cl, const char *script, int argc, const char **argv,
		  const size_t *argvlen, resp_reply_fn fn, void *ctx)
{
	struct fr_cmd *c;

	if (cl->stopped || cl->state == REDIS_DOWN)
		return -ENOTCONN;
	if (F.refuse) {
		cl->st.resp.refused++;
		return F.refuse;
	}
	c = xcalloc(1, sizeof(*c));
	*c = (struct fr_cmd){ .cl = cl, .sub = cl->subscriber, .script = script, .argc = argc,
			      .fn = fn, .ctx = ctx };
	c->argv = xcalloc((size_t)argc + 1, sizeof(*c->argv));
	c->argvlen = xcalloc((size_t)argc + 1, sizeof(*c->argvlen));
	for (int i = 0; i < argc; i++) {
		size_t len = argvlen ? argvlen[i] : strlen(argv[i]);

		c->argv[i] = xmalloc(len + 1);
		memcpy(c->argv[i], argv[i], len);
		c->argv[i][len] = '\0';
		c->argvlen[i] = len;
	}
	*F.tail = c;
	F.tail = &c->next;
	cl->st.resp.commands++;
	cl->st.resp.pending++;
	return 0;
}

int redis_command(struct redis_client *cl, int argc, const char **argv, const size_t *argvlen,
		  resp_reply_fn fn, void *ctx)
{
	return record(cl, NULL, argc, argv, argvlen, fn, ctx);
}

/* The client keeps every script handle it gave out (freed with it). */
static struct resp_script *own(struct redis_client *cl, struct resp_script *s)
{
	cl->scripts = xrealloc(cl->scripts, (cl->n_scripts + 1) * sizeof(*cl->scripts));
	cl->scripts[cl->n_scripts++] = s;
	return s;
}

struct resp_script *redis_script_load(struct redis_client *cl, const char *name,
				      const char *source)
{
	struct resp_script *s = own(cl, resp_script_new(name, source));
	const char *av[3] = { "SCRIPT", "LOAD", name }; /* the name: the source is long */

	redis_command(cl, 3, av, NULL, NULL, NULL);
	return s;
}

struct resp_script *redis_function(struct redis_client *cl, const char *name,
				   const char *function, const char *library)
{
	return own(cl, resp_function_new(name, function, library));
}

void redis_library_load(struct redis_client *cl, const char *library)
{
	const char *av[3] = { "FUNCTION", "LOAD", "library" }; /* not the text: it is long */

	(void)library;
	redis_command(cl, 3, av, NULL, NULL, NULL);
}

int redis_evalsha(struct redis_client *cl, struct resp_script *s, int nkeys, int argc,
		  const char **argv, const size_t *argvlen, resp_reply_fn fn, void *ctx)
{
	(void)nkeys; /* the engine's scripts take one key, argv[0] */
	return record(cl, resp_script_name(s), argc, argv, argvlen, fn, ctx);
}

int redis_subscribe(struct redis_client *cl, enum redis_sub_op op, const char *channel,
		    size_t len, resp_reply_fn fn, void *ctx)
{
	const char *name = redis_sub_op_name(op);
	const char *av[2] = { name, channel };
	size_t al[2] = { strlen(name), len };

	return record(cl, NULL, 2, av, al, fn, ctx);
}

enum redis_state redis_client_state(const struct redis_client *cl)
{
	return cl->state;
}

const char *redis_state_name(enum redis_state st)
{
	return st == REDIS_UP ? "connected" : st == REDIS_CONNECTING ? "connecting" : "down";
}

void redis_client_stats(const struct redis_client *cl, struct redis_stats *st)
{
	*st = cl->st;
	st->state = cl->state;
}

/* The test's side */

void fr_reset(void)
{
	while (F.head) {
		struct fr_cmd *c = F.head;

		F.head = c->next;
		fr_cmd_free(c);
	}
	F.tail = &F.head;
	F.refuse = 0;
}

struct redis_client *fr_cmd_client(void)
{
	return F.cmd;
}

struct redis_client *fr_sub_client(void)
{
	return F.sub;
}

static bool matches(const struct fr_cmd *c, const char *what)
{
	if (!what)
		return true;
	if (c->script)
		return strcmp(c->script, what) == 0;
	return c->argc > 0 && strcasecmp(c->argv[0], what) == 0;
}

size_t fr_count(const char *what)
{
	size_t n = 0;

	for (struct fr_cmd *c = F.head; c; c = c->next)
		n += matches(c, what);
	return n;
}

struct fr_cmd *fr_peek(const char *what)
{
	struct fr_cmd *c = F.head;

	while (c && !matches(c, what))
		c = c->next;
	return c;
}

struct fr_cmd *fr_take(const char *what)
{
	struct fr_cmd **pp = &F.head, *c;

	while (*pp && !matches(*pp, what))
		pp = &(*pp)->next;
	c = *pp;
	if (!c)
		return NULL;
	*pp = c->next;
	if (F.tail == &c->next)
		F.tail = pp;
	c->next = NULL;
	return c;
}

void fr_cmd_free(struct fr_cmd *c)
{
	if (!c)
		return;
	for (int i = 0; i < c->argc; i++)
		free(c->argv[i]);
	free(c->argv);
	free(c->argvlen);
	free(c);
}

const char *fr_arg(const struct fr_cmd *c, int i)
{
	return c && i >= 0 && i < c->argc ? c->argv[i] : "";
}

/* The client's counters as the real one keeps them: one answered command less pending. */
static void answered(struct fr_cmd *c, bool error_reply)
{
	if (c->cl->st.resp.pending)
		c->cl->st.resp.pending--;
	c->cl->st.resp.replies++;
	c->cl->st.resp.error_replies += error_reply;
}

void fr_reply(struct fr_cmd *c, const char *resp)
{
	redisReader *rd = redisReaderCreate();
	void *r = NULL;

	redisReaderFeed(rd, resp, strlen(resp));
	if (redisReaderGetReply(rd, &r) != REDIS_OK || !r) {
		redisReaderFree(rd);
		fr_fail(c, -EPROTO); /* a test's typo: fail loudly rather than hang */
		return;
	}
	redisReaderFree(rd);
	answered(c, ((redisReply *)r)->type == REDIS_REPLY_ERROR);
	if (c->fn)
		c->fn(c->ctx, 0, r);
	freeReplyObject(r);
	fr_cmd_free(c);
}

void fr_fail(struct fr_cmd *c, int err)
{
	if (c->cl->st.resp.pending)
		c->cl->st.resp.pending--;
	if (err == -ETIMEDOUT)
		c->cl->st.timeouts++;
	if (c->fn)
		c->fn(c->ctx, err, NULL);
	fr_cmd_free(c);
}

size_t fr_reply_all(const char *what, const char *resp)
{
	size_t n = 0, todo = fr_count(what);
	struct fr_cmd *c;

	/* Only those pending now: answers may queue more of the same kind. */
	while (n < todo && (c = fr_take(what))) {
		fr_reply(c, resp);
		n++;
	}
	return n;
}

void fr_publish(const char *channel, const char *payload)
{
	struct resp_message m = { .channel = channel, .channel_len = strlen(channel),
				  .payload = payload, .payload_len = strlen(payload) };

	if (F.sub && F.sub->state == REDIS_UP && F.sub->on_message) {
		F.sub->st.resp.messages++;
		F.sub->on_message(F.sub->message_ctx, &m);
	}
}

void fr_set_state(struct redis_client *cl, enum redis_state st, int err)
{
	enum redis_state was = cl->state;

	if (cl->stopped || was == st)
		return;
	cl->state = st;
	if (st == REDIS_DOWN) {
		cl->st.disconnects += was == REDIS_UP;
		fail_all(cl, err ? err : -ECONNRESET);
	} else if (st == REDIS_UP) {
		cl->st.connects++;
	}
	if (cl->on_state)
		cl->on_state(cl->state_ctx, st);
}

void fr_refuse(int err)
{
	F.refuse = err;
}
