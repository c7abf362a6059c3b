#include "redis/client.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "net/conn.h"
#include "util/log.h"
#include "util/xalloc.h"

#define DEFAULT_TIMEOUT_MS 2000
#define DEFAULT_BACKOFF_MIN_MS 50
#define DEFAULT_BACKOFF_MAX_MS 2000

/* One socket to Redis. Outlives its client's interest in it: the ring may still hold its
 * connect, recv or send, so it is freed when the ring is done (net/conn.h's zombies). */
struct redis_link {
	struct net_conn net;       /* first: the ring's tag is this pointer */
	struct redis_client *cl;   /* NULL once the client has let go */
	struct redis_client *home; /* whose lists it is on */
	struct redis_addr addr;    /* read by the connect operation */
	int fd;
	bool connecting; /* the connect is in flight; on home->connecting */
};

struct redis_client {
	struct ring *ring;
	struct timer_heap *timers;
	struct redis_addr addr;
	char *spec, *name, *user, *password;
	uint32_t timeout_ms, backoff_min, backoff_max;
	size_t max_reply; /* for the log line */
	redis_state_fn on_state;
	void *state_ctx;
	struct resp_pipe *pipe;
	struct resp_script **scripts;
	uint32_t n_scripts;
	struct net_conns conns;
	struct list_link *connecting;
	struct redis_link *link; /* the current connection; NULL when DOWN */
	enum redis_state state;
	struct timer timer; /* reconnect when DOWN, deadlines otherwise */
	uint64_t connect_deadline, retry_at; /* ms */
	uint32_t attempt, rnd;
	uint64_t replies_at_up; /* the backoff restarts once a reply has come */
	bool stopped, feeding, stop_pending;
	struct redis_stats st;
};

static void connect_now(struct redis_client *cl);

static uint64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

static struct redis_link *link_of(struct net_conn *n)
{
	return container_of(n, struct redis_link, net);
}

/* Addresses and backoff */

static int parse_port(const char *s, uint16_t *port)
{
	char *end;
	unsigned long v;

	if (*s < '0' || *s > '9')
		return -EINVAL;
	v = strtoul(s, &end, 10);
	if (*end || v == 0 || v > 65535)
		return -EINVAL;
	*port = (uint16_t)v;
	return 0;
}

static int parse_unix(const char *path, struct redis_addr *a)
{
	struct sockaddr_un *un = (struct sockaddr_un *)&a->sa;
	size_t len = strlen(path);

	if (!len)
		return -EINVAL;
	if (len >= sizeof(un->sun_path))
		return -ENAMETOOLONG;
	un->sun_family = AF_UNIX;
	memcpy(un->sun_path, path, len + 1);
	a->len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len + 1);
	return 0;
}

static int resolve(const char *host, uint16_t port, struct redis_addr *a)
{
	struct sockaddr_in *in4 = (struct sockaddr_in *)&a->sa;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&a->sa;
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *res;

	if (inet_pton(AF_INET, host, &in4->sin_addr) == 1) {
		in4->sin_family = AF_INET;
		in4->sin_port = htons(port);
		a->len = sizeof(*in4);
		return 0;
	}
	if (inet_pton(AF_INET6, host, &in6->sin6_addr) == 1) {
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons(port);
		a->len = sizeof(*in6);
		return 0;
	}
	if (getaddrinfo(host, NULL, &hints, &res) != 0)
		return -EHOSTUNREACH;
	memcpy(&a->sa, res->ai_addr, res->ai_addrlen);
	a->len = res->ai_addrlen;
	if (res->ai_family == AF_INET)
		in4->sin_port = htons(port);
	else
		in6->sin6_port = htons(port);
	freeaddrinfo(res);
	return 0;
}

int redis_addr_parse(const char *spec, struct redis_addr *a)
{
	char host[256];
	const char *end, *port_s;
	uint16_t port;
	size_t hlen;

	memset(a, 0, sizeof(*a));
	if (!strncmp(spec, "unix:", 5))
		return parse_unix(spec + 5, a);
	if (spec[0] == '[') {
		end = strchr(spec, ']');
		if (!end || end[1] != ':')
			return -EINVAL;
		spec++;
		port_s = end + 2;
	} else {
		end = strrchr(spec, ':');
		/* A bare IPv6 address is ambiguous: it needs its brackets. */
		if (!end || memchr(spec, ':', (size_t)(end - spec)))
			return -EINVAL;
		port_s = end + 1;
	}
	hlen = (size_t)(end - spec);
	if (!hlen || hlen >= sizeof(host) || parse_port(port_s, &port) < 0)
		return -EINVAL;
	memcpy(host, spec, hlen);
	host[hlen] = '\0';
	return resolve(host, port, a);
}

uint32_t redis_backoff_ms(uint32_t attempt, uint32_t min_ms, uint32_t max_ms, uint32_t rnd)
{
	uint64_t d = min_ms;
	uint64_t half;

	for (uint32_t i = 0; i < attempt && d < max_ms; i++)
		d *= 2;
	if (d > max_ms)
		d = max_ms;
	half = d / 2;
	return (uint32_t)(d - half + rnd % (half + 1));
}

static uint32_t next_rnd(struct redis_client *cl)
{
	uint32_t x = cl->rnd;

	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	return cl->rnd = x;
}

/* State and the one timer */

static void set_state(struct redis_client *cl, enum redis_state st)
{
	if (cl->state == st)
		return;
	cl->state = st;
	if (cl->on_state)
		cl->on_state(cl->state_ctx, st);
}

static void arm(struct redis_client *cl)
{
	uint64_t due = UINT64_MAX, oldest;

	if (cl->stopped) {
		timer_cancel(cl->timers, &cl->timer);
		return;
	}
	if (cl->state == REDIS_DOWN) {
		due = cl->retry_at;
	} else {
		if (cl->state == REDIS_CONNECTING)
			due = cl->connect_deadline;
		if (resp_pipe_oldest(cl->pipe, &oldest) && oldest / 1000 + cl->timeout_ms + 1 < due)
			due = oldest / 1000 + cl->timeout_ms + 1;
	}
	if (due == UINT64_MAX)
		timer_cancel(cl->timers, &cl->timer);
	else
		timer_arm(cl->timers, &cl->timer, due);
}

/* Lets go of the current socket: closed through the ring, freed once the ring is done. */
static void abandon(struct redis_client *cl)
{
	struct redis_link *l = cl->link;

	if (!l)
		return;
	cl->link = NULL;
	l->cl = NULL;
	if (l->connecting)
		ring_cancel_close(cl->ring, l->fd);
	else
		net_conn_close(&l->net);
}

/* The connection is gone (or given up): DOWN, the commands issued at or before cutoff_us
 * fail with -ETIMEDOUT (0: none), the rest with err, and a reconnect is scheduled. */
static void lost(struct redis_client *cl, int err, uint64_t cutoff_us)
{
	enum redis_state was = cl->state;

	if (was == REDIS_UP)
		cl->st.disconnects++;
	abandon(cl);
	cl->state = REDIS_DOWN; /* what the callbacks queue now is refused */
	if (!cl->stopped) {
		cl->retry_at = timer_now_ms() +
			       redis_backoff_ms(cl->attempt++, cl->backoff_min, cl->backoff_max, next_rnd(cl));
	}
	arm(cl);
	if (cutoff_us)
		cl->st.timeouts += resp_pipe_expire(cl->pipe, cutoff_us, -ETIMEDOUT);
	resp_pipe_reset(cl->pipe, err);
	if (was != REDIS_DOWN && cl->on_state)
		cl->on_state(cl->state_ctx, REDIS_DOWN);
}

/* Sending */

static void flush(struct redis_client *cl)
{
	struct buf *out = resp_pipe_out(cl->pipe);
	struct sendq *q;

	if (cl->state != REDIS_UP || !cl->link)
		return;
	q = &cl->link->net.q;
	if (!out->len) {
		/* What the last send left waiting in the queue. */
	} else if (q->out.len == 0) {
		struct buf t = q->out;

		q->out = *out;
		*out = t;
	} else {
		buf_append(&q->out, out->p, out->len);
		out->len = 0;
	}
	net_conn_flush(&cl->link->net);
}

/* The backoff is not reset here: a server that accepts and then sends garbage or nothing
 * would be hammered. It is once a reply has come (on_data). */
static void up(struct redis_client *cl)
{
	struct resp_stats rs;

	resp_pipe_stats(cl->pipe, &rs);
	cl->replies_at_up = rs.replies;
	cl->st.connects++;
	log_info("%s: connected to %s", cl->name, cl->spec);
	set_state(cl, REDIS_UP);
	flush(cl);
	arm(cl);
}

/* AUTH's answer: UP, or the connection goes (feed returns -EACCES through the halt). */
static void on_auth(void *ctx, int err, const redisReply *reply)
{
	struct redis_client *cl = ctx;

	if (err < 0)
		return;
	if (reply->type == REDIS_REPLY_ERROR) {
		cl->st.auth_failures++;
		/* Redis' own words name the user at most, never the password. */
		log_warn("%s: AUTH refused by %s: %.*s", cl->name, cl->spec,
			 (int)(reply->len < 200 ? reply->len : 200), reply->str);
		resp_pipe_halt(cl->pipe, -EACCES);
		return;
	}
	up(cl);
}

static void handshake(struct redis_client *cl)
{
	const char *av[3] = { "AUTH", cl->user, cl->password };

	if (cl->user)
		resp_pipe_handshake(cl->pipe, 3, av, NULL, &cl->link->net.q.out, on_auth, cl, now_us());
	else
		resp_pipe_handshake(cl->pipe, 2, (const char *[]){ "AUTH", cl->password }, NULL,
				    &cl->link->net.q.out, on_auth, cl, now_us());
	net_conn_flush(&cl->link->net);
	arm(cl);
}

/* The socket's events */

static void finish_stop(struct redis_client *cl);

static void feed_failed(struct redis_client *cl, int err)
{
	if (err == -EACCES) {
		lost(cl, -EACCES, 0);
		return;
	}
	if (err == -EMSGSIZE) {
		cl->st.oversize++;
		log_warn("%s: a reply over %zu bytes from %s: dropping the connection", cl->name,
			 cl->max_reply, cl->spec);
		resp_pipe_fail_head(cl->pipe, -EMSGSIZE);
	} else {
		cl->st.protocol_errors++;
		log_warn("%s: %s sent what is not a RESP reply to us: dropping the connection",
			 cl->name, cl->spec);
	}
	lost(cl, -ECONNRESET, 0);
}

static void on_data(struct net_conn *n, const char *data, size_t len)
{
	struct redis_client *cl = link_of(n)->cl;
	int err;

	if (!cl)
		return;
	cl->feeding = true;
	err = resp_pipe_feed(cl->pipe, data, len, now_us());
	cl->feeding = false;
	if (cl->stop_pending) {
		finish_stop(cl);
		return;
	}
	if (err < 0) {
		feed_failed(cl, err);
		return;
	}
	if (cl->attempt) {
		struct resp_stats rs;

		resp_pipe_stats(cl->pipe, &rs);
		if (rs.replies != cl->replies_at_up)
			cl->attempt = 0;
	}
	flush(cl);
	arm(cl);
}

static void on_end(struct net_conn *n, int res)
{
	struct redis_client *cl = link_of(n)->cl;

	if (!cl) {
		net_conn_close(n);
		return;
	}
	log_warn("%s: connection to %s lost: %s", cl->name, cl->spec,
		 res ? strerror(-res) : "closed by the server");
	lost(cl, -ECONNRESET, 0);
}

static void on_sent(struct net_conn *n, int res)
{
	struct redis_client *cl = link_of(n)->cl;

	(void)res;
	if (cl)
		flush(cl);
}

static void link_free(struct net_conn *n)
{
	free(link_of(n));
}

static const struct net_conn_ops link_ops = { on_data, on_end, on_sent, NULL, link_free };

static void on_connect(struct redis_link *l, int res)
{
	struct redis_client *cl = l->cl;

	l->connecting = false;
	list_unlink(&l->home->connecting, &l->net.link);
	if (!cl) { /* given up: ring_cancel_close closes the socket */
		free(l);
		return;
	}
	if (res < 0) {
		cl->st.connect_failures++;
		if (cl->attempt == 0)
			log_warn("%s: cannot connect to %s: %s", cl->name, cl->spec, strerror(-res));
		cl->link = NULL;
		ring_close(cl->ring, l->fd);
		free(l);
		lost(cl, -ECONNRESET, 0);
		return;
	}
	net_conn_start(&cl->conns, &l->net, l->fd, &link_ops);
	if (cl->password)
		handshake(cl);
	else
		up(cl);
}

void redis_on_cqe(enum ring_op op, void *obj, struct io_uring_cqe *cqe)
{
	switch (op) {
	case RING_OP_REDIS_CONNECT:
		on_connect(obj, cqe->res);
		break;
	case RING_OP_REDIS_RECV:
		net_conn_on_recv(obj, cqe);
		break;
	case RING_OP_REDIS_SEND:
		net_conn_on_send(obj, cqe->res);
		break;
	default:
		break;
	}
}

static void connect_now(struct redis_client *cl)
{
	struct redis_link *l;
	int one = 1;
	int fd = socket(cl->addr.sa.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd < 0) {
		cl->st.connect_failures++;
		log_warn("%s: cannot make a socket: %s", cl->name, strerror(errno));
		lost(cl, -ECONNRESET, 0);
		return;
	}
	/* Pipelined small commands: latency matters more than packet count. */
	if (cl->addr.sa.ss_family != AF_UNIX)
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	l = xcalloc(1, sizeof(*l));
	l->cl = l->home = cl;
	l->fd = fd;
	l->addr = cl->addr;
	l->connecting = true;
	list_push(&cl->connecting, &l->net.link);
	cl->link = l;
	cl->connect_deadline = timer_now_ms() + cl->timeout_ms;
	set_state(cl, REDIS_CONNECTING);
	ring_connect(cl->ring, fd, (struct sockaddr *)&l->addr.sa, l->addr.len,
		     ring_tag(l, RING_OP_REDIS_CONNECT));
	arm(cl);
}

/* Deadlines: a command unanswered for timeout_ms, or a connect + AUTH that long. */
static void on_timer(struct timer *t)
{
	struct redis_client *cl = container_of(t, struct redis_client, timer);
	uint64_t now = now_us(), tmo = (uint64_t)cl->timeout_ms * 1000, oldest;
	bool overdue, connect_overdue;

	if (cl->stopped)
		return;
	if (cl->state == REDIS_DOWN) {
		connect_now(cl);
		return;
	}
	overdue = resp_pipe_oldest(cl->pipe, &oldest) && now >= oldest + tmo;
	connect_overdue = cl->state == REDIS_CONNECTING && timer_now_ms() >= cl->connect_deadline;
	if (!overdue && !connect_overdue) {
		arm(cl);
		return;
	}
	if (cl->state == REDIS_CONNECTING)
		cl->st.connect_failures++;
	log_warn("%s: %s did not answer within %u ms: dropping the connection", cl->name,
		 cl->spec, cl->timeout_ms);
	lost(cl, -ECONNRESET, now >= tmo ? now - tmo : 1);
}

/* The client */

struct redis_client *redis_client_new(struct ring *ring, struct timer_heap *timers,
				      const struct redis_options *o, int *err)
{
	struct redis_client *cl = xcalloc(1, sizeof(*cl));

	*err = redis_addr_parse(o->addr, &cl->addr);
	if (*err < 0)
		goto fail;
	cl->ring = ring;
	cl->timers = timers;
	cl->spec = xstrdup(o->addr);
	cl->name = xstrdup(o->name ? o->name : "redis");
	cl->user = o->user && o->user[0] ? xstrdup(o->user) : NULL;
	cl->password = o->password && o->password[0] ? xstrdup(o->password) : NULL;
	cl->timeout_ms = o->timeout_ms ? o->timeout_ms : DEFAULT_TIMEOUT_MS;
	cl->backoff_min = o->backoff_min_ms ? o->backoff_min_ms : DEFAULT_BACKOFF_MIN_MS;
	cl->backoff_max = o->backoff_max_ms ? o->backoff_max_ms : DEFAULT_BACKOFF_MAX_MS;
	if (cl->backoff_max < cl->backoff_min)
		cl->backoff_max = cl->backoff_min;
	cl->on_state = o->on_state;
	cl->state_ctx = o->state_ctx;
	cl->pipe = resp_pipe_new(&o->limits);
	cl->max_reply = o->limits.max_reply_bytes ? o->limits.max_reply_bytes
						  : RESP_DEFAULT_MAX_REPLY_BYTES;
	if (o->subscriber)
		resp_pipe_set_subscriber(cl->pipe, o->on_message, o->message_ctx);
	cl->rnd = (uint32_t)now_us() ^ (uint32_t)(uintptr_t)cl;
	if (!cl->rnd)
		cl->rnd = 1;
	net_conns_init(&cl->conns, ring, RING_OP_REDIS_RECV, RING_OP_REDIS_SEND);
	timer_init(&cl->timer, on_timer);
	connect_now(cl);
	return cl;
fail:
	free(cl);
	return NULL;
}

static void finish_stop(struct redis_client *cl)
{
	cl->stop_pending = false;
	cl->stopped = true;
	timer_cancel(cl->timers, &cl->timer);
	abandon(cl);
	cl->state = REDIS_DOWN;
	resp_pipe_reset(cl->pipe, -ECANCELED);
}

void redis_client_stop(struct redis_client *cl)
{
	if (cl->stopped || cl->stop_pending)
		return;
	if (cl->feeding) { /* the reader is in use: feed stops, then on_data finishes */
		cl->stop_pending = true;
		resp_pipe_halt(cl->pipe, -ECANCELED);
		return;
	}
	finish_stop(cl);
}

bool redis_client_idle(const struct redis_client *cl)
{
	return cl->stopped && !cl->conns.open && !cl->conns.zombies && !cl->connecting;
}

/* Never touches the ring (it may be gone): what is left is closed and freed directly. A
 * socket already handed to the ring to close is not closed twice. */
void redis_client_free(struct redis_client *cl)
{
	if (!cl)
		return;
	if (!cl->stopped) {
		cl->stopped = true;
		timer_cancel(cl->timers, &cl->timer);
		cl->state = REDIS_DOWN;
		resp_pipe_reset(cl->pipe, -ECANCELED);
	}
	while (cl->connecting) {
		struct redis_link *l = link_of(net_conn_at(cl->connecting));

		list_unlink(&cl->connecting, &l->net.link);
		if (l->cl)
			close(l->fd);
		free(l);
	}
	net_conns_free(&cl->conns);
	resp_pipe_free(cl->pipe);
	for (uint32_t i = 0; i < cl->n_scripts; i++)
		resp_script_free(cl->scripts[i]);
	free(cl->scripts);
	if (cl->password)
		explicit_bzero(cl->password, strlen(cl->password));
	free(cl->password);
	free(cl->user);
	free(cl->name);
	free(cl->spec);
	free(cl);
}

/* Commands */

static int queued(struct redis_client *cl, int err)
{
	if (err < 0)
		return err;
	if (!cl->feeding)
		flush(cl);
	if (!timer_armed(&cl->timer))
		arm(cl);
	return 0;
}

int redis_command(struct redis_client *cl, int argc, const char **argv, const size_t *argvlen,
		  resp_reply_fn fn, void *ctx)
{
	if (cl->stopped || cl->state == REDIS_DOWN)
		return -ENOTCONN;
	return queued(cl, resp_pipe_command(cl->pipe, argc, argv, argvlen, fn, ctx, now_us()));
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
	const char *av[3] = { "SCRIPT", "LOAD", source };

	redis_command(cl, 3, av, NULL, NULL, NULL); /* DOWN: EVALSHA loads it later */
	return s;
}

struct resp_script *redis_function(struct redis_client *cl, const char *name,
				   const char *function, const char *library)
{
	return own(cl, resp_function_new(name, function, library));
}

void redis_library_load(struct redis_client *cl, const char *library)
{
	const char *av[3] = { "FUNCTION", "LOAD", library };

	redis_command(cl, 3, av, NULL, NULL, NULL); /* DOWN: FCALL loads it later */
}

int redis_evalsha(struct redis_client *cl, struct resp_script *s, int nkeys, int argc,
		  const char **argv, const size_t *argvlen, resp_reply_fn fn, void *ctx)
{
	if (cl->stopped || cl->state == REDIS_DOWN)
		return -ENOTCONN;
	return queued(cl, resp_pipe_evalsha(cl->pipe, s, nkeys, argc, argv, argvlen, fn, ctx,
					    now_us()));
}

int redis_subscribe(struct redis_client *cl, enum redis_sub_op op, const char *channel,
		    size_t len, resp_reply_fn fn, void *ctx)
{
	const char *name = redis_sub_op_name(op);
	const char *av[2] = { name, channel };
	size_t al[2] = { strlen(name), len };

	return redis_command(cl, 2, av, al, fn, ctx);
}

enum redis_state redis_client_state(const struct redis_client *cl)
{
	return cl->state;
}

const char *redis_state_name(enum redis_state st)
{
	switch (st) {
	case REDIS_UP:
		return "connected";
	case REDIS_CONNECTING:
		return "connecting";
	default:
		return "down";
	}
}

void redis_client_stats(const struct redis_client *cl, struct redis_stats *st)
{
	*st = cl->st;
	st->state = cl->state;
	resp_pipe_stats(cl->pipe, &st->resp);
}
