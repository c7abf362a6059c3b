#include "lg_conn.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "lg_http.h"
#include "lg_opt.h"

const struct lg_conn_handlers *lg_conn_on;
struct lg_conn_stats lg_cstat;
u64 lg_loop_now;

static int epfd = -1;
static unsigned src_rr;
static u64 spin_idle_ns;

#define MAXEV 512
static struct epoll_event evs[MAXEV];
static char rbuf[256 * 1024];

void lg_conn_set_handlers(const struct lg_conn_handlers *h)
{
	lg_conn_on = h;
}

void lg_conn_source_from(unsigned first)
{
	src_rr = first;
}

static void conn_events(struct lg_conn *c)
{
	struct epoll_event ev = { .events = EPOLLIN | EPOLLRDHUP | EPOLLET, .data.ptr = c };

	if (c->connecting || c->wlen > c->woff)
		ev.events |= EPOLLOUT;
	c->want_out = ev.events & EPOLLOUT;
	if (epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev) < 0)
		lg_die("epoll_ctl mod: %s", strerror(errno));
}

static void bind_source(int fd)
{
	struct sockaddr_in src = { .sin_family = AF_INET };
	int one = 1;

	/* 127.0.0.2, .3, ...: each source address has its own ephemeral port range. */
	src.sin_addr.s_addr = htonl(0x7f000002u + (src_rr++ % (unsigned)lg_opt.src_addrs));
	setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&src, sizeof(src)) < 0)
		lg_die("bind 127.0.0.x: %s", strerror(errno));
}

int lg_conn_connect(struct lg_conn *c)
{
	struct epoll_event ev = { .events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET, .data.ptr = c };
	int one = 1, fd;

	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		lg_die("socket: %s (raise RLIMIT_NOFILE or use more --workers)", strerror(errno));
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (lg_opt.src_addrs > 0 && c->tgt->dst.sin_addr.s_addr == htonl(INADDR_LOOPBACK))
		bind_source(fd);
	if (connect(fd, (const struct sockaddr *)&c->tgt->dst, sizeof(c->tgt->dst)) < 0 && errno != EINPROGRESS) {
		close(fd);
		lg_cstat.connect_errors++;
		return -1;
	}
	c->fd = fd;
	c->connecting = true;
	c->want_out = true;
	c->dead = false;
	lg_http_reset(c);
	c->rlen = c->wlen = c->woff = 0;
	c->qn = c->qh = 0;
	if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
		lg_die("epoll_ctl add: %s", strerror(errno));
	return 0;
}

struct lg_conn *lg_conn_new_to(uint8_t kind, struct lg_session *s, const struct lg_target *t)
{
	struct lg_conn *c = lg_xcalloc(1, sizeof(*c));

	c->tgt = t;
	c->kind = kind;
	c->s = s;
	c->fd = -1;
	c->next_id = 1;
	if (lg_conn_connect(c) < 0)
		c->dead = true;
	return c;
}

struct lg_conn *lg_conn_new(uint8_t kind, struct lg_session *s)
{
	return lg_conn_new_to(kind, s, &lg_opt.tgt[0]);
}

void lg_conn_close(struct lg_conn *c)
{
	if (c->fd >= 0) {
		epoll_ctl(epfd, EPOLL_CTL_DEL, c->fd, NULL);
		close(c->fd);
	}
	c->fd = -1;
	c->dead = true;
	c->connecting = false;
}

void lg_conn_flush(struct lg_conn *c)
{
	while (c->wlen > c->woff && !c->connecting) {
		ssize_t n = write(c->fd, c->wb + c->woff, c->wlen - c->woff);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				break;
			return; /* the read side sees the error */
		}
		c->woff += (size_t)n;
	}
	if (c->woff == c->wlen)
		c->woff = c->wlen = 0;
	if ((c->connecting || c->wlen > c->woff) != c->want_out)
		conn_events(c);
}

void lg_conn_write(struct lg_conn *c, const char *p, size_t n)
{
	lg_buf_add(&c->wb, &c->wlen, &c->wcap, p, n);
}

struct lg_req *lg_conn_push(struct lg_conn *c, uint8_t type)
{
	struct lg_req *r;

	if (c->qn >= LG_QMAX)
		lg_die("too many requests outstanding on one connection");
	r = &c->q[(c->qh + c->qn++) % LG_QMAX];
	memset(r, 0, sizeof(*r));
	r->type = type;
	return r;
}

bool lg_conn_pop(struct lg_conn *c, struct lg_req *r)
{
	if (!c->qn)
		return false;
	*r = c->q[c->qh];
	c->qh = (c->qh + 1) % LG_QMAX;
	c->qn--;
	return true;
}

static void conn_eof(struct lg_conn *c)
{
	bool had;

	lg_http_eof(c);
	had = c->qn > 0;
	lg_conn_close(c);
	lg_conn_on->closed(c, had);
}

/* Bytes are parsed straight from rbuf; only an incomplete tail is kept in c->rb. */
static void conn_take(struct lg_conn *c, size_t n)
{
	size_t used;

	if (c->rlen == 0) {
		used = lg_http_parse(c, rbuf, n);
		if (!c->dead && used < n)
			lg_buf_add(&c->rb, &c->rlen, &c->rcap, rbuf + used, n - used);
		return;
	}
	lg_buf_add(&c->rb, &c->rlen, &c->rcap, rbuf, n);
	used = lg_http_parse(c, c->rb, c->rlen);
	if (!c->dead) {
		memmove(c->rb, c->rb + used, c->rlen - used);
		c->rlen -= used;
	}
}

static void conn_readable(struct lg_conn *c)
{
	/* Edge-triggered: read until the socket is drained (a short read or EAGAIN). */
	while (!c->dead) {
		ssize_t n = read(c->fd, rbuf, sizeof(rbuf));

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				return;
			conn_eof(c);
			return;
		}
		if (n == 0) {
			conn_eof(c);
			return;
		}
		conn_take(c, (size_t)n);
		if ((size_t)n < sizeof(rbuf))
			return;
	}
}

static void connected(struct lg_conn *c)
{
	int err = 0;
	socklen_t l = sizeof(err);

	getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &l);
	if (err) {
		lg_cstat.connect_errors++;
		if (lg_opt.verbose)
			fprintf(stderr, "connect: %s\n", strerror(err));
		lg_conn_close(c);
		lg_conn_on->closed(c, c->qn > 0);
		return;
	}
	c->connecting = false;
	lg_conn_flush(c);
}

static void handle_event(struct epoll_event *e)
{
	struct lg_conn *c = e->data.ptr;

	if (c->dead)
		return;
	if (c->connecting && (e->events & (EPOLLOUT | EPOLLERR | EPOLLHUP))) {
		connected(c);
		if (c->dead)
			return;
	} else if (e->events & EPOLLOUT) {
		lg_conn_flush(c);
	}
	if (e->events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
		conn_readable(c);
}

void lg_loop_init(void)
{
	epfd = epoll_create1(EPOLL_CLOEXEC);
	if (epfd < 0)
		lg_die("epoll_create1: %s", strerror(errno));
}

void lg_loop_once(u64 timeout_ns)
{
	struct timespec ts = { .tv_sec = (time_t)(timeout_ns / LG_NS), .tv_nsec = (long)(timeout_ns % LG_NS) };
	u64 t0 = timeout_ns ? 0 : lg_now_ns();
	int n = epoll_pwait2(epfd, evs, MAXEV, &ts, NULL);

	if (n < 0) {
		if (errno == EINTR)
			return;
		lg_die("epoll_pwait2: %s", strerror(errno));
	}
	lg_loop_now = lg_now_ns();
	if (!timeout_ns && !n)
		spin_idle_ns += lg_loop_now - t0;
	for (int i = 0; i < n; i++)
		handle_event(&evs[i]);
}

void lg_loop_until_readable(int fd)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = NULL };
	bool quit = false;

	epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev);
	while (!quit) {
		int k = epoll_pwait2(epfd, evs, MAXEV, NULL, NULL);

		lg_loop_now = lg_now_ns();
		for (int i = 0; i < k; i++) {
			if (!evs[i].data.ptr)
				quit = true;
			else
				handle_event(&evs[i]);
		}
	}
}

u64 lg_loop_idle_ns(void)
{
	return spin_idle_ns;
}
