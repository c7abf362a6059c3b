#include "redis/resp.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "util/sha1.h"
#include "util/xalloc.h"

#define ELEMENT_WEIGHT 16

struct resp_script {
	char *name;
	const char *source; /* owned by a script, borrowed by a function (its library) */
	char *function;     /* NULL: a script (EVALSHA) */
	char sha[SHA1_HEX_LEN + 1];
};

/* One command awaiting its reply. */
struct pending {
	resp_reply_fn fn;
	void *ctx;
	uint64_t issued_us;
	size_t bytes;
	struct resp_script *script; /* EVALSHA: retried once on NOSCRIPT */
	char *cmd;                  /* EVALSHA: its bytes, for the retry */
	bool retried;
};

/* hiredis' reader with our object functions in front of its own: they weigh the reply being
 * built and refuse (NULL, which the reader reports as out of memory) past the cap. hiredis
 * 0.14 has no limit of its own on a reply's elements. */
struct reader {
	redisReader *r;
	redisReplyObjectFunctions fn;
	redisReplyObjectFunctions *base;
	size_t weight, max;
	bool over;
};

struct resp_pipe {
	struct resp_limits lim;
	struct buf out;
	struct pending *q; /* ring buffer, cap a power of two */
	uint32_t head, n, cap;
	size_t pending_bytes;
	struct reader rd;
	resp_message_fn on_message;
	void *message_ctx;
	int halt;
	struct resp_stats st;
};

/* Scripts */

struct resp_script *resp_script_new(const char *name, const char *source)
{
	struct resp_script *s = xcalloc(1, sizeof(*s));

	s->name = xstrdup(name);
	s->source = xstrdup(source);
	sha1_hex(source, strlen(source), s->sha);
	return s;
}

struct resp_script *resp_function_new(const char *name, const char *function,
				      const char *library)
{
	struct resp_script *s = xcalloc(1, sizeof(*s));

	s->name = xstrdup(name);
	s->function = xstrdup(function);
	s->source = library;
	return s;
}

void resp_script_free(struct resp_script *s)
{
	if (!s)
		return;
	free(s->name);
	if (s->function)
		free(s->function);
	else
		free((char *)s->source);
	free(s);
}

const char *resp_script_name(const struct resp_script *s)
{
	return s->name;
}

const char *resp_script_sha(const struct resp_script *s)
{
	return s->function ? s->function : s->sha;
}

/* The reader */

static bool weigh(const redisReadTask *task, size_t w)
{
	struct reader *rd = task->privdata;

	rd->weight += w;
	if (rd->weight > rd->max)
		rd->over = true;
	return !rd->over;
}

static void *create_string(const redisReadTask *task, char *str, size_t len)
{
	struct reader *rd = task->privdata;

	return weigh(task, ELEMENT_WEIGHT + len) ? rd->base->createString(task, str, len) : NULL;
}

static void *create_array(const redisReadTask *task, int elements)
{
	struct reader *rd = task->privdata;

	/* Weighed before hiredis allocates its element array. */
	return weigh(task, ELEMENT_WEIGHT + (size_t)elements * ELEMENT_WEIGHT)
		       ? rd->base->createArray(task, elements)
		       : NULL;
}

static void *create_integer(const redisReadTask *task, long long v)
{
	struct reader *rd = task->privdata;

	return weigh(task, ELEMENT_WEIGHT) ? rd->base->createInteger(task, v) : NULL;
}

static void *create_nil(const redisReadTask *task)
{
	struct reader *rd = task->privdata;

	return weigh(task, ELEMENT_WEIGHT) ? rd->base->createNil(task) : NULL;
}

static void reader_open(struct reader *rd, size_t max)
{
	rd->r = redisReaderCreate();
	if (!rd->r)
		xalloc_fail(sizeof(redisReader));
	rd->base = rd->r->fn;
	rd->fn.createString = create_string;
	rd->fn.createArray = create_array;
	rd->fn.createInteger = create_integer;
	rd->fn.createNil = create_nil;
	rd->fn.freeObject = rd->base->freeObject;
	rd->r->fn = &rd->fn;
	rd->r->privdata = rd; /* 0.14's redisReaderSetPrivdata casts the pointer to int */
	rd->weight = 0;
	rd->max = max;
	rd->over = false;
}

static void reader_close(struct reader *rd)
{
	if (rd->r)
		redisReaderFree(rd->r);
	rd->r = NULL;
}

/* The reader failed: why, as an errno. hiredis' own allocation failures follow the daemon's
 * policy (util/xalloc.h). */
static int reader_error(struct reader *rd)
{
	if (rd->over)
		return -EMSGSIZE;
	if (rd->r->err == REDIS_ERR_OOM)
		xalloc_fail(0);
	return -EPROTO;
}

/* The FIFO */

static struct pending *at(struct resp_pipe *p, uint32_t i)
{
	return &p->q[(p->head + i) & (p->cap - 1)];
}

static void grow(struct resp_pipe *p)
{
	uint32_t cap = p->cap ? p->cap * 2 : 64;
	struct pending *q = xmalloc(cap * sizeof(*q));

	for (uint32_t i = 0; i < p->n; i++)
		q[i] = *at(p, i);
	free(p->q);
	p->q = q;
	p->cap = cap;
	p->head = 0;
}

static struct pending *push_back(struct resp_pipe *p)
{
	if (p->n == p->cap)
		grow(p);
	return at(p, p->n++);
}

static struct pending *push_front(struct resp_pipe *p)
{
	if (p->n == p->cap)
		grow(p);
	p->head = (p->head - 1) & (p->cap - 1);
	p->n++;
	return at(p, 0);
}

/* Takes the oldest entry off the FIFO (its cmd now belongs to the caller). */
static struct pending pop(struct resp_pipe *p)
{
	struct pending e = *at(p, 0);

	p->head = (p->head + 1) & (p->cap - 1);
	p->n--;
	p->pending_bytes -= e.bytes;
	return e;
}

static void complete(struct pending *e, int err, const redisReply *reply)
{
	if (e->fn)
		e->fn(e->ctx, err, reply);
	free(e->cmd);
	e->cmd = NULL;
}

/* The pipe */

struct resp_pipe *resp_pipe_new(const struct resp_limits *lim)
{
	struct resp_pipe *p = xcalloc(1, sizeof(*p));

	if (lim)
		p->lim = *lim;
	if (!p->lim.max_pending)
		p->lim.max_pending = RESP_DEFAULT_MAX_PENDING;
	if (!p->lim.max_pending_bytes)
		p->lim.max_pending_bytes = RESP_DEFAULT_MAX_PENDING_BYTES;
	if (!p->lim.max_reply_bytes)
		p->lim.max_reply_bytes = RESP_DEFAULT_MAX_REPLY_BYTES;
	reader_open(&p->rd, p->lim.max_reply_bytes);
	return p;
}

void resp_pipe_free(struct resp_pipe *p)
{
	if (!p)
		return;
	resp_pipe_reset(p, -ECANCELED);
	reader_close(&p->rd);
	buf_free(&p->out);
	free(p->q);
	free(p);
}

void resp_pipe_set_subscriber(struct resp_pipe *p, resp_message_fn fn, void *ctx)
{
	p->on_message = fn;
	p->message_ctx = ctx;
}

struct buf *resp_pipe_out(struct resp_pipe *p)
{
	return &p->out;
}

/* hiredis formats into a buffer of its own: the length, or the daemon's OOM policy. */
static size_t format(char **cmd, int argc, const char **argv, const size_t *argvlen)
{
	int len = redisFormatCommandArgv(cmd, argc, argv, argvlen);

	if (len < 0)
		xalloc_fail(0);
	return (size_t)len;
}

static int admit(struct resp_pipe *p, size_t bytes)
{
	if (p->n >= p->lim.max_pending || p->pending_bytes + bytes > p->lim.max_pending_bytes) {
		p->st.refused++;
		return -ENOBUFS;
	}
	return 0;
}

/* Queues bytes (taking cmd when keep) with fn; the entry, to fill in further. */
static struct pending *enqueue(struct resp_pipe *p, char *cmd, size_t len, bool keep,
			       resp_reply_fn fn, void *ctx, uint64_t now_us)
{
	struct pending *e = push_back(p);

	buf_append(&p->out, cmd, len);
	memset(e, 0, sizeof(*e));
	e->fn = fn;
	e->ctx = ctx;
	e->issued_us = now_us;
	e->bytes = len;
	e->cmd = keep ? cmd : NULL;
	if (!keep)
		redisFreeCommand(cmd);
	p->pending_bytes += len;
	p->st.commands++;
	return e;
}

int resp_pipe_command(struct resp_pipe *p, int argc, const char **argv, const size_t *argvlen,
		      resp_reply_fn fn, void *ctx, uint64_t now_us)
{
	char *cmd;
	size_t len = format(&cmd, argc, argv, argvlen);

	if (admit(p, len) < 0) {
		redisFreeCommand(cmd);
		return -ENOBUFS;
	}
	enqueue(p, cmd, len, false, fn, ctx, now_us);
	return 0;
}

int resp_pipe_evalsha(struct resp_pipe *p, struct resp_script *s, int nkeys, int argc,
		      const char **argv, const size_t *argvlen, resp_reply_fn fn, void *ctx,
		      uint64_t now_us)
{
	const char **av = xmalloc(((size_t)argc + 3) * sizeof(*av));
	size_t *al = xmalloc(((size_t)argc + 3) * sizeof(*al));
	char nk[24];
	char *cmd;
	size_t len;
	int err = 0;

	snprintf(nk, sizeof(nk), "%d", nkeys);
	av[0] = s->function ? "FCALL" : "EVALSHA";
	av[1] = s->function ? s->function : s->sha;
	av[2] = nk;
	for (int i = 0; i < 3; i++)
		al[i] = strlen(av[i]);
	for (int i = 0; i < argc; i++) {
		av[i + 3] = argv[i];
		al[i + 3] = argvlen ? argvlen[i] : strlen(argv[i]);
	}
	len = format(&cmd, argc + 3, av, al);
	if ((err = admit(p, len)) < 0)
		redisFreeCommand(cmd);
	else
		enqueue(p, cmd, len, true, fn, ctx, now_us)->script = s;
	free(av);
	free(al);
	return err;
}

void resp_pipe_handshake(struct resp_pipe *p, int argc, const char **argv,
			 const size_t *argvlen, struct buf *out, resp_reply_fn fn, void *ctx,
			 uint64_t now_us)
{
	char *cmd;
	size_t len = format(&cmd, argc, argv, argvlen);
	struct pending *e = push_front(p);

	buf_append(out, cmd, len);
	redisFreeCommand(cmd);
	memset(e, 0, sizeof(*e));
	e->fn = fn;
	e->ctx = ctx;
	e->issued_us = now_us;
	e->bytes = len;
	p->pending_bytes += len;
	p->st.commands++;
}

void resp_pipe_halt(struct resp_pipe *p, int err)
{
	p->halt = err;
}

/* NOSCRIPT for an EVALSHA not yet retried: SCRIPT LOAD (a function: FUNCTION LOAD of its
 * library; "already exists" if another node just did, harmless), then the same bytes again
 * (behind whatever was sent meanwhile). e is off the FIFO; its callback and bytes move on. */
static void retry_noscript(struct resp_pipe *p, struct pending *e, uint64_t now_us)
{
	const char *av[3] = { e->script->function ? "FUNCTION" : "SCRIPT", "LOAD",
			      e->script->source };
	char *cmd;
	size_t len = format(&cmd, 3, av, NULL);
	struct pending *again;

	enqueue(p, cmd, len, false, NULL, NULL, now_us);
	again = enqueue(p, e->cmd, e->bytes, true, e->fn, e->ctx, now_us);
	again->script = e->script;
	again->retried = true;
	p->st.commands -= 2; /* one command to the caller, counted once */
	p->st.noscript_retries++;
}

static void note_rtt(struct resp_pipe *p, uint64_t issued_us, uint64_t now_us)
{
	uint64_t rtt = now_us > issued_us ? now_us - issued_us : 0;

	p->st.rtt_last_us = rtt;
	if (!p->st.rtt_ewma_us)
		p->st.rtt_ewma_us = rtt;
	else
		p->st.rtt_ewma_us = (uint64_t)((int64_t)p->st.rtt_ewma_us +
					       ((int64_t)rtt - (int64_t)p->st.rtt_ewma_us) / 8);
}

static bool str_is(const redisReply *r, const char *s)
{
	return r->type == REDIS_REPLY_STRING && r->len == strlen(s) && !memcmp(r->str, s, r->len);
}

/* A "message"/"pmessage" push on a subscriber connection: true when it was one. */
static bool push_message(struct resp_pipe *p, const redisReply *r)
{
	struct resp_message m = { 0 };
	size_t i = 1;

	if (!p->on_message || r->type != REDIS_REPLY_ARRAY || r->elements < 3)
		return false;
	if (str_is(r->element[0], "pmessage") && r->elements == 4) {
		m.pattern = r->element[1]->str;
		m.pattern_len = r->element[1]->len;
		i = 2;
	} else if (!str_is(r->element[0], "message") || r->elements != 3) {
		return false;
	}
	if (r->element[i]->type != REDIS_REPLY_STRING || r->element[i + 1]->type != REDIS_REPLY_STRING)
		return false;
	m.channel = r->element[i]->str;
	m.channel_len = r->element[i]->len;
	m.payload = r->element[i + 1]->str;
	m.payload_len = r->element[i + 1]->len;
	p->st.messages++;
	p->on_message(p->message_ctx, &m);
	return true;
}

/* One complete reply: to its command's callback. 0 or -EPROTO (nothing was waiting). */
static int dispatch(struct resp_pipe *p, const redisReply *r, uint64_t now_us)
{
	struct pending e;

	if (push_message(p, r))
		return 0;
	if (!p->n)
		return -EPROTO;
	e = pop(p);
	p->st.replies++;
	note_rtt(p, e.issued_us, now_us);
	if (e.script && !e.retried &&
	    resp_is_error(r, e.script->function ? "ERR Function not found" : "NOSCRIPT")) {
		retry_noscript(p, &e, now_us); /* e.cmd moves on */
		return 0;
	}
	if (r->type == REDIS_REPLY_ERROR)
		p->st.error_replies++;
	complete(&e, 0, r);
	return 0;
}

int resp_pipe_feed(struct resp_pipe *p, const char *data, size_t len, uint64_t now_us)
{
	struct reader *rd = &p->rd;
	void *reply;
	int err;

	if (redisReaderFeed(rd->r, data, len) != REDIS_OK)
		return reader_error(rd);
	for (;;) {
		if (redisReaderGetReply(rd->r, &reply) != REDIS_OK)
			return reader_error(rd);
		if (!reply)
			break;
		rd->weight = 0;
		err = dispatch(p, reply, now_us);
		freeReplyObject(reply);
		if (err < 0)
			return err;
		if (p->halt) {
			err = p->halt;
			p->halt = 0;
			return err;
		}
	}
	/* A reply still arriving (an endless bulk string, say) is held to the same cap. */
	if (rd->r->len - rd->r->pos > rd->max) {
		rd->over = true;
		return -EMSGSIZE;
	}
	return 0;
}

void resp_pipe_reset(struct resp_pipe *p, int err)
{
	uint32_t n = p->n;

	p->out.len = 0;
	p->halt = 0;
	reader_close(&p->rd);
	reader_open(&p->rd, p->lim.max_reply_bytes);
	/* Only those pending now: a callback may queue a command for the next connection. */
	while (n-- && p->n) {
		struct pending e = pop(p);

		complete(&e, err, NULL);
	}
}

void resp_pipe_fail_head(struct resp_pipe *p, int err)
{
	struct pending e;

	if (!p->n)
		return;
	e = pop(p);
	complete(&e, err, NULL);
}

uint32_t resp_pipe_expire(struct resp_pipe *p, uint64_t cutoff_us, int err)
{
	uint32_t n = p->n, failed = 0;

	for (; n-- && p->n && at(p, 0)->issued_us <= cutoff_us; failed++)
		resp_pipe_fail_head(p, err);
	return failed;
}

bool resp_pipe_oldest(const struct resp_pipe *p, uint64_t *issued_us)
{
	if (!p->n)
		return false;
	*issued_us = p->q[p->head].issued_us;
	return true;
}

uint32_t resp_pipe_pending(const struct resp_pipe *p)
{
	return p->n;
}

void resp_pipe_stats(const struct resp_pipe *p, struct resp_stats *st)
{
	*st = p->st;
	st->pending = p->n;
	st->pending_bytes = p->pending_bytes;
}

bool resp_is_error(const redisReply *reply, const char *prefix)
{
	size_t n = strlen(prefix);

	return reply && reply->type == REDIS_REPLY_ERROR && reply->len >= n &&
	       !memcmp(reply->str, prefix, n);
}
