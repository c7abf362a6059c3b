#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cluster/call.h"
#include "util/utf8.h"
#include "util/xalloc.h"

/* cluster_call_parse: a script's reply, never trusted. First the whole reply is checked for
 * what every answer is (an array of at most CLUSTER_CALL_MAX_ELEMENTS strings and integers
 * within the byte limits) and one arena is allocated for all it may keep; then the script's
 * own shape is read element by element, each string copied into the arena when taken. */

#define SENTENCE_MAX 1024 /* the scripts' sentences are the single node's, under 256 */
#define NAME_MAX_BYTES 256 /* 32 code points of at most 4 bytes, with room */
#define METHOD_MAX 64

struct parse {
	const redisReply *r;
	struct cluster_call_reply *out;
	char *strs; /* where the next copied string goes */
};

/* Every element a string or an integer, within the limits; the arena's size. */
static int precheck(const redisReply *r, size_t *arena)
{
	size_t bytes = 0;

	if (!r)
		return -EPROTO;
	if (r->type == REDIS_REPLY_ERROR)
		return -EIO;
	if (r->type != REDIS_REPLY_ARRAY || r->elements < 1 ||
	    r->elements > CLUSTER_CALL_MAX_ELEMENTS || !r->element)
		return -EPROTO;
	for (size_t i = 0; i < r->elements; i++) {
		const redisReply *e = r->element[i];

		if (!e || (e->type != REDIS_REPLY_STRING && e->type != REDIS_REPLY_INTEGER))
			return -EPROTO;
		if (e->type == REDIS_REPLY_STRING) {
			if (e->len > CLUSTER_CALL_MAX_STRING || (!e->str && e->len))
				return -EPROTO;
			bytes += e->len + 1;
		}
	}
	if (bytes > CLUSTER_CALL_MAX_REPLY)
		return -EPROTO;
	/* Room for the events (at most a third of the elements) or ids (at most all). */
	*arena = r->elements * (sizeof(struct cluster_call_event) + sizeof(char *)) + bytes;
	return 0;
}

/* Element i as a C string in the arena: NULL unless it is a string of at most max bytes
 * without a NUL inside (text handed on as C strings must not be cut short). */
static const char *take(struct parse *p, size_t i, size_t max)
{
	const redisReply *e;
	char *s;

	if (i >= p->r->elements)
		return NULL;
	e = p->r->element[i];
	if (e->type != REDIS_REPLY_STRING || e->len > max || (e->len && memchr(e->str, 0, e->len)))
		return NULL;
	s = p->strs;
	if (e->len)
		memcpy(s, e->str, e->len);
	s[e->len] = '\0';
	p->strs += e->len + 1;
	return s;
}

/* Element i is exactly the string s. */
static bool is(const struct parse *p, size_t i, const char *s)
{
	const redisReply *e = i < p->r->elements ? p->r->element[i] : NULL;

	return e && e->type == REDIS_REPLY_STRING && e->len == strlen(s) &&
	       memcmp(e->str, s, e->len) == 0;
}

/* Element i is an integer in [min, max]. */
static bool integer(const struct parse *p, size_t i, long long min, long long max,
		    long long *v)
{
	const redisReply *e = i < p->r->elements ? p->r->element[i] : NULL;

	if (!e || e->type != REDIS_REPLY_INTEGER || e->integer < min || e->integer > max)
		return false;
	*v = e->integer;
	return true;
}

static bool chat_id_ok(const char *s)
{
	if (!s || strlen(s) != CHAT_ID_LEN)
		return false;
	for (const char *c = s; *c; c++)
		if (!((*c >= 'A' && *c <= 'Z') || (*c >= 'a' && *c <= 'z') ||
		      (*c >= '0' && *c <= '9') || *c == '_' || *c == '-'))
			return false;
	return true;
}

static const char *take_room(struct parse *p, size_t i)
{
	const char *s = take(p, i, 64);

	return s && chat_room_id_valid(s) ? s : NULL;
}

/* A display name as the scripts keep it: 1.. bytes of UTF-8. */
static const char *take_name(struct parse *p, size_t i)
{
	const char *s = take(p, i, NAME_MAX_BYTES);

	return s && *s && utf8_valid(s, strlen(s), NULL) ? s : NULL;
}

/* Which codes each script may answer (a bit per enum chat_error); 0: never err. */
static unsigned allowed_errors(enum cluster_script s)
{
#define B(e) (1u << (e))
	const unsigned not_in = B(CHAT_NOT_IN_ROOM) | B(CHAT_ROOM_CLOSED) | B(CHAT_PARTNER_GONE);

	switch (s) {
	case CLUSTER_SCRIPT_ENTER_QUEUE:
		return B(CHAT_EXPIRED) | B(CHAT_ALREADY_IN_ROOM) | B(CHAT_ALREADY_WAITING) |
		       B(CHAT_MAILBOX_FULL);
	case CLUSTER_SCRIPT_JOIN_ROOM:
		return B(CHAT_EXPIRED) | B(CHAT_ALREADY_IN_ROOM) | B(CHAT_ALREADY_WAITING) |
		       B(CHAT_ROOM_FULL) | B(CHAT_MAILBOX_FULL);
	case CLUSTER_SCRIPT_SEND:
		return B(CHAT_EXPIRED) | B(CHAT_RATE_LIMITED) | B(CHAT_MAILBOX_FULL) | not_in;
	case CLUSTER_SCRIPT_LEAVE:
		return B(CHAT_EXPIRED) | not_in;
	case CLUSTER_SCRIPT_READ:
	case CLUSTER_SCRIPT_STATUS:
		return B(CHAT_EXPIRED);
	default:
		return 0;
	}
#undef B
}

/* {"err", code, sentence} or, for rate_limited, {"err", code, sentence, retry_after_ms}. */
static int parse_err(struct parse *p)
{
	struct chat_result *r = &p->out->chat;
	enum chat_error code = CHAT_OK;
	long long wait;

	for (int e = CHAT_OK + 1; e < CHAT_ERROR_COUNT; e++)
		if (is(p, 1, chat_error_code((enum chat_error)e)))
			code = (enum chat_error)e;
	if (code == CHAT_OK || !(allowed_errors(p->out->script) & (1u << code)))
		return -EPROTO;
	r->message = take(p, 2, SENTENCE_MAX);
	if (!r->message || !*r->message)
		return -EPROTO;
	if (code == CHAT_RATE_LIMITED) {
		if (p->r->elements != 4 || !integer(p, 3, 1, UINT32_MAX, &wait))
			return -EPROTO;
		r->retry_after_ms = (uint32_t)wait;
	} else if (p->r->elements != 3) {
		return -EPROTO;
	}
	r->error = code;
	if (code == CHAT_EXPIRED)
		r->field = "chat_id"; /* as tools.c refuses an unknown chat_id */
	return 0;
}

/* enter_queue, join_room: {"ok","waiting",position} (the queue) or {"ok","waiting",room_id}
 * (a named room), or {"ok","matched",room_id,partner_name}. */
static int parse_found(struct parse *p, bool named)
{
	struct chat_result *r = &p->out->chat;
	long long pos;

	if (is(p, 1, "matched")) {
		r->matched = true;
		r->room_id = take_room(p, 2);
		r->partner_name = take_name(p, 3);
		return p->r->elements == 4 && r->room_id && r->partner_name ? 0 : -EPROTO;
	}
	if (!is(p, 1, "waiting") || p->r->elements != 3)
		return -EPROTO;
	if (named) {
		r->room_id = take_room(p, 2);
		return r->room_id ? 0 : -EPROTO;
	}
	if (!integer(p, 2, 1, UINT32_MAX, &pos))
		return -EPROTO;
	r->position = (uint32_t)pos;
	return 0;
}

/* "YYYY-MM-DDTHH:MM:SS.mmmZ", as message.c's format_time and the prelude's rfc3339 write. */
static bool timestamp_ok(const char *s)
{
	static const char pattern[] = "dddd-dd-ddTdd:dd:dd.dddZ";

	if (!s || strlen(s) != sizeof(pattern) - 1)
		return false;
	for (size_t i = 0; pattern[i]; i++)
		if (pattern[i] == 'd' ? !(s[i] >= '0' && s[i] <= '9') : s[i] != pattern[i])
			return false;
	return true;
}

/* send: {"ok", message_id, timestamp}. */
static int parse_send(struct parse *p)
{
	struct chat_result *r = &p->out->chat;
	const char *id = take(p, 1, sizeof(r->message_id) - 1);
	const char *ts = take(p, 2, sizeof(r->timestamp) - 1);

	if (p->r->elements != 3 || !id || !*id || !timestamp_ok(ts))
		return -EPROTO;
	for (const char *c = id; *c; c++)
		if (!((*c >= 'A' && *c <= 'Z') || (*c >= 'a' && *c <= 'z') ||
		      (*c >= '0' && *c <= '9') || *c == '_' || *c == '-'))
			return -EPROTO;
	strcpy(r->message_id, id);
	strcpy(r->timestamp, ts);
	return 0;
}

/* One event's params: a JSON object's text (its inside is the scripts' own JSON). */
static bool params_ok(const char *s, size_t len)
{
	return len >= 2 && s[0] == '{' && s[len - 1] == '}' && utf8_valid(s, len, NULL);
}

static bool method_ok(const char *s)
{
	if (!s || !*s)
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || *s == '.' || *s == '_'))
			return false;
	return true;
}

/* read: {"ok", next, last, unread, seq, method, params, ...}: seqs rising, none past last,
 * next the last returned (or, with none, at most last). */
static int parse_read(struct parse *p, char *area)
{
	struct cluster_call_reply *o = p->out;
	long long next, last, unread, seq;
	uint64_t prev = 0;
	size_t n = p->r->elements;

	if (n < 4 || (n - 4) % 3 || (n - 4) / 3 > CLUSTER_CALL_READ_MAX ||
	    !integer(p, 1, 0, INT64_MAX, &next) || !integer(p, 2, 0, INT64_MAX, &last) ||
	    !integer(p, 3, 0, last, &unread) || unread > UINT32_MAX || next > last)
		return -EPROTO;
	o->events = (struct cluster_call_event *)area;
	for (size_t i = 4; i < n; i += 3) {
		struct cluster_call_event *ev = &o->events[o->n_events];

		if (!integer(p, i, 1, last, &seq) || (uint64_t)seq <= prev)
			return -EPROTO;
		ev->seq = prev = (uint64_t)seq;
		ev->method = take(p, i + 1, METHOD_MAX);
		ev->params = take(p, i + 2, CLUSTER_CALL_MAX_STRING);
		if (!method_ok(ev->method) || !ev->params)
			return -EPROTO;
		ev->params_len = strlen(ev->params);
		if (!params_ok(ev->params, ev->params_len))
			return -EPROTO;
		o->n_events++;
	}
	if (o->n_events && (uint64_t)next != prev)
		return -EPROTO;
	o->next = (uint64_t)next;
	o->last = (uint64_t)last;
	o->unread = (uint32_t)unread;
	return 0;
}

/* status: {"ok", state, room_id|"", partner_name|"", position, unread}. */
static int parse_status(struct parse *p)
{
	struct chat_status *st = &p->out->status;
	long long pos, unread;

	if (p->r->elements != 6 || !integer(p, 4, 0, UINT32_MAX, &pos) ||
	    !integer(p, 5, 0, UINT32_MAX, &unread))
		return -EPROTO;
	if (is(p, 1, "idle"))
		st->state = CHAT_IDLE;
	else if (is(p, 1, "waiting"))
		st->state = CHAT_WAITING;
	else if (is(p, 1, "in_room"))
		st->state = CHAT_IN_ROOM;
	else
		return -EPROTO;
	if (!is(p, 2, "") && !(st->room_id = take_room(p, 2)))
		return -EPROTO;
	if (!is(p, 3, "") && !(st->partner_name = take_name(p, 3)))
		return -EPROTO;
	/* The single node's invariants: a partner only in a room, a position only while in the
	 * random queue, a room in a room. */
	if ((st->partner_name && st->state != CHAT_IN_ROOM) ||
	    (st->state == CHAT_IN_ROOM && !st->room_id) ||
	    (pos && (st->state != CHAT_WAITING || st->room_id)))
		return -EPROTO;
	st->position = (uint32_t)pos;
	p->out->unread = (uint32_t)unread;
	return 0;
}

/* touch {"ok", id...}, sweep {"ok", fired, more, id...}: chat ids from first on. */
static int parse_ids(struct parse *p, size_t first, char *area)
{
	struct cluster_call_reply *o = p->out;

	o->ids = (const char **)area;
	for (size_t i = first; i < p->r->elements; i++) {
		const char *id = take(p, i, CHAT_ID_LEN);

		if (!chat_id_ok(id))
			return -EPROTO;
		o->ids[o->n_ids++] = id;
	}
	return 0;
}

/* sweep, fallback: {"ok", count, more(0/1), ...}. */
static int parse_timers(struct parse *p, uint32_t *count)
{
	long long n, more;

	if (!integer(p, 1, 0, UINT32_MAX, &n) || !integer(p, 2, 0, 1, &more))
		return -EPROTO;
	*count = (uint32_t)n;
	p->out->more = more == 1;
	return 0;
}

/* A word answer: {"ok", yes} sets *flag, {"ok", no} clears it. */
static int parse_word(struct parse *p, const char *yes, const char *no, bool *flag)
{
	if (p->r->elements != 2 || !(is(p, 1, yes) || is(p, 1, no)))
		return -EPROTO;
	*flag = is(p, 1, yes);
	return 0;
}

static int parse_ok(struct parse *p, char *area)
{
	struct cluster_call_reply *o = p->out;

	switch (o->script) {
	case CLUSTER_SCRIPT_CHAT_NEW: return parse_word(p, "created", "exists", &o->created);
	case CLUSTER_SCRIPT_ENTER_QUEUE: return parse_found(p, false);
	case CLUSTER_SCRIPT_JOIN_ROOM: return parse_found(p, true);
	case CLUSTER_SCRIPT_SEND: return parse_send(p);
	case CLUSTER_SCRIPT_READ: return parse_read(p, area);
	case CLUSTER_SCRIPT_LEAVE:
		return p->r->elements == 2 && is(p, 1, "left") ? 0 : -EPROTO;
	case CLUSTER_SCRIPT_STATUS: return parse_status(p);
	case CLUSTER_SCRIPT_TOUCH: return parse_ids(p, 1, area);
	case CLUSTER_SCRIPT_END: return parse_word(p, "ended", "gone", &o->ended);
	case CLUSTER_SCRIPT_SWEEP:
		return parse_timers(p, &o->fired) < 0 ? -EPROTO : parse_ids(p, 3, area);
	case CLUSTER_SCRIPT_FALLBACK:
		if (p->r->elements != 3)
			return -EPROTO;
		return parse_timers(p, &o->matched);
	case CLUSTER_SCRIPT_ADMIN_LIST: /* cluster/admin.c parses these */
	case CLUSTER_SCRIPT_KICK:
	case CLUSTER_SCRIPT_COUNT: break;
	}
	return -EPROTO;
}

int cluster_call_parse(enum cluster_script s, const redisReply *reply,
		       struct cluster_call_reply *out)
{
	struct parse p = { reply, out, NULL };
	size_t size = 0, area;
	int err;

	memset(out, 0, sizeof(*out));
	out->script = s;
	if ((unsigned)s >= CLUSTER_SCRIPT_COUNT)
		return -EPROTO;
	err = precheck(reply, &size);
	if (err < 0)
		return err;
	out->arena = xmalloc(size);
	area = reply->elements * (sizeof(struct cluster_call_event) + sizeof(char *));
	p.strs = out->arena + area;
	if (is(&p, 0, "err"))
		err = parse_err(&p);
	else if (is(&p, 0, "ok"))
		err = parse_ok(&p, out->arena);
	else
		err = -EPROTO;
	if (err < 0)
		goto fail;
	return 0;
fail:
	cluster_call_reply_free(out);
	out->script = s;
	return err;
}

void cluster_call_reply_free(struct cluster_call_reply *out)
{
	free(out->arena);
	memset(out, 0, sizeof(*out));
}

size_t cluster_call_strip_seq(const char *params, size_t len)
{
	static const char key[] = "\"seq\":";
	size_t k = sizeof(key) - 1, i;

	if (len < 2 || params[len - 1] != '}')
		return len ? len - 1 : 0;
	/* The digits before the brace, then the key, then ',' or the object's '{'. */
	for (i = len - 1; i > 0 && params[i - 1] >= '0' && params[i - 1] <= '9'; i--)
		;
	if (i == len - 1 || i < k + 1 || memcmp(params + i - k, key, k) != 0)
		return len - 1;
	i -= k;
	if (params[i - 1] == ',')
		return i - 1;
	return params[i - 1] == '{' ? i : len - 1;
}

int cluster_call_parse_ack(const redisReply *reply, bool *gone)
{
	*gone = false;
	if (!reply)
		return -EPROTO;
	if (reply->type == REDIS_REPLY_ERROR)
		return -EIO;
	if (reply->type == REDIS_REPLY_NIL) {
		*gone = true;
		return 0;
	}
	return reply->type == REDIS_REPLY_STATUS && reply->len == 2 &&
		       memcmp(reply->str, "OK", 2) == 0 ? 0 : -EPROTO;
}
