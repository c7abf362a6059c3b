/* loadgen: a small HTTP/1.1 + SSE load generator for mcp-chatd, the reference peer and nginx.
 *
 * Modes (one JSON object per run on stdout):
 *   rpc    N sessions in matched pairs, each with a keep-alive POST connection calling
 *          send_message closed-loop (one outstanding) and a push stream the loadgen drains.
 *   raw    N keep-alive connections POSTing the same request closed-loop to any URL (nginx).
 *   relay  P pairs (push stream + POST connection each), messages offered open-loop at an
 *          aggregate rate R; latency = stream receive time - scheduled send time.
 *          --find-max steps the rate and reports the highest one sustained with p99 < limit.
 *   idle   N sessions each holding a push stream, spread over forked workers and several
 *          127.0.0.x source addresses; --pid PID gives the server's RSS per session.
 *   scale  N idle sessions in the background, then relay at a fixed rate; --pid PID gives the
 *          server's CPU time per relayed message.
 *   freeport  prints a free TCP port on 127.0.0.1.
 *
 * One epoll loop per process, non-blocking sockets, CLOCK_MONOTONIC, log-linear histograms
 * (128 sub-buckets per power of two, < 0.8 % error). */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/sockios.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

typedef uint64_t u64;

#define NS 1000000000ull
#define PROTO_VERSION "2025-11-25"

static u64 now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (u64)ts.tv_sec * NS + (u64)ts.tv_nsec;
}

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fprintf(stderr, "loadgen: ");
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	exit(1);
}

static void *xrealloc(void *p, size_t n)
{
	p = realloc(p, n);
	if (!p && n)
		die("out of memory");
	return p;
}

/* ---------------------------------------------------------------- histogram */

#define HB 128
#define HN ((64 - 6) * HB)

struct hist {
	u64 n, sum, max;
	u64 b[HN];
};

static int hidx(u64 v)
{
	int e;

	if (v < HB)
		return (int)v;
	e = 63 - __builtin_clzll(v);
	return (e - 6) * HB + (int)((v >> (e - 7)) & (HB - 1));
}

static u64 hval(int i)
{
	int e;
	u64 sub, w;

	if (i < HB)
		return (u64)i;
	e = i / HB + 6;
	sub = (u64)(i % HB);
	w = 1ull << (e - 7);
	return ((HB + sub) << (e - 7)) + w / 2;
}

static void hadd(struct hist *h, u64 v)
{
	h->b[hidx(v)]++;
	h->n++;
	h->sum += v;
	if (v > h->max)
		h->max = v;
}

static u64 hpct(const struct hist *h, double q)
{
	u64 want, seen = 0;

	if (!h->n)
		return 0;
	want = (u64)(q * (double)h->n + 0.999999);
	if (want < 1)
		want = 1;
	for (int i = 0; i < HN; i++) {
		seen += h->b[i];
		if (seen >= want) {
			u64 v = hval(i);
			return v > h->max ? h->max : v;
		}
	}
	return h->max;
}

/* {"p50":..,"p99":..,"p999":..,"max":..,"mean":..} in microseconds */
static void print_hist(const char *name, const struct hist *h)
{
	printf("\"%s\":{\"n\":%" PRIu64 ",\"p50\":%.1f,\"p90\":%.1f,\"p99\":%.1f,\"p999\":%.1f,\"max\":%.1f,\"mean\":%.1f}",
	       name, h->n, hpct(h, 0.50) / 1e3, hpct(h, 0.90) / 1e3, hpct(h, 0.99) / 1e3,
	       hpct(h, 0.999) / 1e3, h->max / 1e3, h->n ? (double)h->sum / (double)h->n / 1e3 : 0.0);
}

/* ---------------------------------------------------------------- options */

enum mode { M_RPC, M_RAW, M_RELAY, M_IDLE, M_SCALE };

static struct {
	enum mode mode;
	const char *url;
	const char *label;
	char host[64];
	int port;
	char path[256];
	char hosthdr[96];
	struct sockaddr_in dst;
	int conns;        /* rpc/raw: POST connections (= sessions for rpc) */
	int pairs;        /* relay/scale */
	double rate;      /* relay/scale: offered messages per second, aggregate */
	double duration;  /* measured seconds */
	double warmup;    /* seconds before measuring */
	int depth;        /* relay: most requests outstanding per POST connection */
	int msg_size;     /* message text bytes (at least what the header needs) */
	bool find_max;
	double find_samples; /* relay --find-max: messages a step measures at least */
	u64 spin_us;     /* relay: spin instead of sleeping when the next send is this close */
	double stall_ms; /* debug: report POSTs unanswered for this long, with TCP state */
	char rates[512];
	double p99_limit_ms;
	int sessions;     /* idle/scale */
	int workers;      /* idle/scale: forked processes holding idle sessions */
	int per_worker;   /* most sessions per worker */
	int concurrency;  /* idle: sessions being set up at once, all workers together */
	int src_addrs;    /* number of 127.0.0.x source addresses (from .2) */
	int pid;          /* server pid for RSS and CPU */
	double hold;      /* idle: seconds to hold after all are open before measuring RSS */
	double setup_timeout;
	double drain_timeout;
	const char *body; /* raw: request body */
	bool verbose;
} opt = {
	.conns = 32, .pairs = 100, .rate = 20000, .duration = 10, .warmup = 2, .depth = 4,
	.msg_size = 64, .p99_limit_ms = 5, .find_samples = 500, .sessions = 1000, .per_worker = 4500,
	.concurrency = 256, .src_addrs = 8, .spin_us = 500, .hold = 2, .setup_timeout = 120, .drain_timeout = 10,
};

static void parse_url(const char *url)
{
	const char *p, *slash, *colon;
	size_t hl;

	if (strncmp(url, "http://", 7))
		die("URL must start with http://: %s", url);
	p = url + 7;
	slash = strchr(p, '/');
	if (!slash)
		slash = p + strlen(p);
	colon = memchr(p, ':', (size_t)(slash - p));
	if (!colon)
		die("URL needs an explicit port: %s", url);
	hl = (size_t)(colon - p);
	if (hl >= sizeof(opt.host))
		die("host too long");
	memcpy(opt.host, p, hl);
	opt.host[hl] = 0;
	opt.port = atoi(colon + 1);
	snprintf(opt.path, sizeof(opt.path), "%s", *slash ? slash : "/");
	snprintf(opt.hosthdr, sizeof(opt.hosthdr), "%s:%d", opt.host, opt.port);
	opt.dst.sin_family = AF_INET;
	opt.dst.sin_port = htons((uint16_t)opt.port);
	if (inet_pton(AF_INET, opt.host, &opt.dst.sin_addr) != 1)
		die("host must be a numeric IPv4 address: %s", opt.host);
}

/* ---------------------------------------------------------------- connections */

enum { K_POST, K_STREAM, K_RAW, K_IDLE };
enum { T_INIT, T_NOTIF, T_GET, T_JOIN, T_SEND, T_RAW };
enum { P_HEAD, P_CL, P_CH_SIZE, P_CH_DATA, P_CH_CRLF, P_CH_TRAILER, P_EOF };

#define QMAX 64

struct req {
	u64 t_sent, t_sched, j;
	uint8_t type;
};

struct session;

struct conn {
	int fd;
	uint8_t kind;
	bool connecting, want_out, streaming, dead;
	struct session *s;
	char *wb;
	size_t wlen, woff, wcap;
	char *rb;
	size_t rlen, rcap;
	/* response parser */
	uint8_t ps;
	int status;
	int64_t clen, chunk_left;
	bool chunked;
	char *body;
	size_t blen, bcap;
	char sid[96];
	/* SSE */
	char *sb;
	size_t slen, scap;
	char *ev;
	size_t evlen, evcap;
	/* outstanding requests */
	struct req q[QMAX];
	int qh, qn;
	u64 next_id;
	/* the request head up to "Content-Length: ", made once per session id */
	char head[512];
	size_t head_len;
	char head_sid[96];
	bool head_made, head_has_sid;
};

static int epfd;
static unsigned src_rr;
static bool stopping; /* streams closing now are expected */

static struct {
	u64 connect_errors, reconnects, closed_streams, bad_status, proto_errors;
} cstat;

static void conn_events(struct conn *c)
{
	struct epoll_event ev = { .events = EPOLLIN | EPOLLRDHUP | EPOLLET, .data.ptr = c };

	if (c->connecting || c->wlen > c->woff)
		ev.events |= EPOLLOUT;
	c->want_out = ev.events & EPOLLOUT;
	if (epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev) < 0)
		die("epoll_ctl mod: %s", strerror(errno));
}

static int conn_connect(struct conn *c)
{
	struct sockaddr_in src = { .sin_family = AF_INET };
	struct epoll_event ev = { .events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET, .data.ptr = c };
	int one = 1, fd;

	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		die("socket: %s (raise RLIMIT_NOFILE or use more --workers)", strerror(errno));
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (opt.src_addrs > 0 && opt.dst.sin_addr.s_addr == htonl(INADDR_LOOPBACK)) {
		/* 127.0.0.2, .3, ...: each source address has its own ephemeral port range. */
		src.sin_addr.s_addr = htonl(0x7f000002u + (src_rr++ % (unsigned)opt.src_addrs));
		setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one));
		if (bind(fd, (struct sockaddr *)&src, sizeof(src)) < 0)
			die("bind 127.0.0.x: %s", strerror(errno));
	}
	if (connect(fd, (struct sockaddr *)&opt.dst, sizeof(opt.dst)) < 0 && errno != EINPROGRESS) {
		close(fd);
		cstat.connect_errors++;
		return -1;
	}
	c->fd = fd;
	c->connecting = true;
	c->want_out = true;
	c->dead = false;
	c->ps = P_HEAD;
	c->rlen = c->wlen = c->woff = c->slen = c->blen = 0;
	c->qn = c->qh = 0;
	c->streaming = false;
	if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
		die("epoll_ctl add: %s", strerror(errno));
	return 0;
}

static struct conn *conn_new(uint8_t kind, struct session *s)
{
	struct conn *c = calloc(1, sizeof(*c));

	if (!c)
		die("out of memory");
	c->kind = kind;
	c->s = s;
	c->fd = -1;
	c->next_id = 1;
	if (conn_connect(c) < 0) {
		c->dead = true;
	}
	return c;
}

static void conn_close(struct conn *c)
{
	if (c->fd >= 0) {
		epoll_ctl(epfd, EPOLL_CTL_DEL, c->fd, NULL);
		close(c->fd);
	}
	c->fd = -1;
	c->dead = true;
	c->connecting = false;
}

static void conn_flush(struct conn *c)
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

static void conn_write(struct conn *c, const char *p, size_t n)
{
	if (c->wlen + n > c->wcap) {
		c->wcap = (c->wlen + n) * 2 + 1024;
		c->wb = xrealloc(c->wb, c->wcap);
	}
	memcpy(c->wb + c->wlen, p, n);
	c->wlen += n;
}

static struct req *conn_push(struct conn *c, uint8_t type)
{
	struct req *r;

	if (c->qn >= QMAX)
		die("too many requests outstanding on one connection");
	r = &c->q[(c->qh + c->qn++) % QMAX];
	memset(r, 0, sizeof(*r));
	r->type = type;
	return r;
}

/* POST with the common MCP headers; sid may be NULL (initialize). */
/* Decimal digits of v into out (room for 20); returns the count. Formatting is on every
 * request: without printf the load generator keeps up with faster servers. */
static size_t fmt_u64(char *out, u64 v)
{
	char tmp[20];
	size_t n = 0, i;

	do
		tmp[n++] = (char)('0' + v % 10);
	while ((v /= 10));
	for (i = 0; i < n; i++)
		out[i] = tmp[n - 1 - i];
	return n;
}

static struct req *send_post(struct conn *c, const char *sid, const char *body, size_t blen, uint8_t type)
{
	char tail[32];
	size_t n;
	struct req *r;

	if (c->dead) {
		/* A keep-alive connection the server closed while idle: open a new one. */
		cstat.reconnects++;
		if (conn_connect(c) < 0)
			return NULL;
	}
	if (!c->head_made || c->head_has_sid != (sid != NULL) || (sid && strcmp(c->head_sid, sid) != 0)) {
		int k = snprintf(c->head, sizeof(c->head),
				 "POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\n"
				 "Accept: application/json, text/event-stream\r\n%s%s%s%s"
				 "Content-Length: ",
				 opt.path, opt.hosthdr, sid ? "Mcp-Session-Id: " : "", sid ? sid : "",
				 sid ? "\r\n" : "", sid ? "MCP-Protocol-Version: " PROTO_VERSION "\r\n" : "");
		c->head_len = (size_t)k;
		c->head_has_sid = sid != NULL;
		snprintf(c->head_sid, sizeof(c->head_sid), "%s", sid ? sid : "");
		c->head_made = true;
	}
	n = fmt_u64(tail, blen);
	memcpy(tail + n, "\r\n\r\n", 4);
	conn_write(c, c->head, c->head_len);
	conn_write(c, tail, n + 4);
	conn_write(c, body, blen);
	r = conn_push(c, type);
	r->t_sent = now_ns();
	conn_flush(c);
	return r;
}

static void send_get(struct conn *c, const char *sid)
{
	char head[512];
	int n;

	n = snprintf(head, sizeof(head),
		     "GET %s HTTP/1.1\r\nHost: %s\r\nAccept: text/event-stream\r\nMcp-Session-Id: %s\r\n"
		     "MCP-Protocol-Version: " PROTO_VERSION "\r\n\r\n",
		     opt.path, opt.hosthdr, sid);
	conn_write(c, head, (size_t)n);
	conn_push(c, T_GET)->t_sent = now_ns();
	conn_flush(c);
}

/* ---------------------------------------------------------------- mode callbacks */

static void on_response(struct conn *c, struct req *r, int status, const char *body, size_t blen);
static void on_stream_head(struct conn *c, int status);
static void on_sse_event(struct conn *c, const char *data, size_t len, u64 t);
static void on_closed(struct conn *c, bool had_outstanding);

/* ---------------------------------------------------------------- response parser */

static void buf_add(char **b, size_t *len, size_t *cap, const char *p, size_t n)
{
	if (*len + n > *cap) {
		*cap = (*len + n) * 2 + 256;
		*b = xrealloc(*b, *cap);
	}
	memcpy(*b + *len, p, n);
	*len += n;
}

static u64 loop_now; /* time of the current wakeup */

/* Feeds stream body bytes to the SSE parser: events end at an empty line. */
static void sse_feed(struct conn *c, const char *p, size_t n)
{
	size_t pos = 0;

	buf_add(&c->sb, &c->slen, &c->scap, p, n);
	for (;;) {
		char *nl = memchr(c->sb + pos, '\n', c->slen - pos);
		size_t ll;
		const char *line;

		if (!nl)
			break;
		line = c->sb + pos;
		ll = (size_t)(nl - line);
		pos += ll + 1;
		if (ll && line[ll - 1] == '\r')
			ll--;
		if (ll == 0) {
			if (c->evlen)
				on_sse_event(c, c->ev, c->evlen, loop_now);
			c->evlen = 0;
		} else if (ll >= 5 && !memcmp(line, "data:", 5)) {
			line += 5, ll -= 5;
			if (ll && *line == ' ')
				line++, ll--;
			if (c->evlen)
				buf_add(&c->ev, &c->evlen, &c->evcap, "\n", 1);
			buf_add(&c->ev, &c->evlen, &c->evcap, line, ll);
		}
		/* id:, event:, retry: and comments are not needed */
	}
	if (pos) {
		memmove(c->sb, c->sb + pos, c->slen - pos);
		c->slen -= pos;
	}
}

static bool hdr_is(const char *line, size_t ll, const char *name, const char **val, size_t *vl)
{
	size_t nl = strlen(name);

	if (ll <= nl || strncasecmp(line, name, nl) || line[nl] != ':')
		return false;
	line += nl + 1, ll -= nl + 1;
	while (ll && (*line == ' ' || *line == '\t'))
		line++, ll--;
	while (ll && (line[ll - 1] == ' ' || line[ll - 1] == '\t'))
		ll--;
	*val = line;
	*vl = ll;
	return true;
}

static void complete(struct conn *c, const char *body, size_t blen)
{
	struct req r;

	if (!c->qn) {
		cstat.proto_errors++;
		return;
	}
	r = c->q[c->qh];
	c->qh = (c->qh + 1) % QMAX;
	c->qn--;
	c->ps = P_HEAD;
	on_response(c, &r, c->status, body, blen);
}

static void body_bytes(struct conn *c, const char *p, size_t n)
{
	if (c->streaming)
		sse_feed(c, p, n);
	else
		buf_add(&c->body, &c->blen, &c->bcap, p, n);
}

/* Parses what it can of p[0..n); returns the bytes consumed. */
static size_t parse(struct conn *c, const char *p, size_t n)
{
	size_t pos = 0;

	while (pos < n && !c->dead) {
		const char *s = p + pos;
		size_t avail = n - pos;

		switch (c->ps) {
		case P_HEAD: {
			const char *end = memmem(s, avail, "\r\n\r\n", 4);
			const char *line, *nl, *v;
			size_t vl;
			bool is_get;

			if (!end)
				return pos;
			if (avail < 12 || memcmp(s, "HTTP/1.", 7)) {
				cstat.proto_errors++;
				conn_close(c);
				return n;
			}
			c->status = atoi(s + 9);
			c->clen = -1;
			c->chunked = false;
			c->sid[0] = 0;
			line = memchr(s, '\n', (size_t)(end + 2 - s));
			for (line = line + 1; line < end; line = nl + 1) {
				nl = memchr(line, '\n', (size_t)(end + 2 - line));
				size_t ll = (size_t)(nl - line);
				if (ll && line[ll - 1] == '\r')
					ll--;
				if (hdr_is(line, ll, "content-length", &v, &vl))
					c->clen = strtoll(v, NULL, 10);
				else if (hdr_is(line, ll, "transfer-encoding", &v, &vl))
					c->chunked = vl >= 7 && !strncasecmp(v + vl - 7, "chunked", 7);
				else if (hdr_is(line, ll, "mcp-session-id", &v, &vl) && vl < sizeof(c->sid)) {
					memcpy(c->sid, v, vl);
					c->sid[vl] = 0;
				}
			}
			pos = (size_t)(end + 4 - p);
			c->blen = 0;
			if (c->status == 100)
				continue;
			is_get = c->qn && c->q[c->qh].type == T_GET;
			if (is_get && c->status == 200) {
				c->streaming = true;
				c->evlen = c->slen = 0;
				on_stream_head(c, c->status);
				if (c->dead)
					return n;
				c->ps = c->chunked ? P_CH_SIZE : c->clen >= 0 ? P_CL : P_EOF;
				if (c->ps == P_CL && c->clen == 0) {
					c->streaming = false;
					complete(c, "", 0);
				}
				continue;
			}
			if (is_get)
				on_stream_head(c, c->status);
			if (c->dead)
				return n;
			if (c->status == 204 || c->status == 304 || c->clen == 0) {
				complete(c, "", 0);
				continue;
			}
			c->ps = c->chunked ? P_CH_SIZE : c->clen >= 0 ? P_CL : P_EOF;
			continue;
		}
		case P_CL:
			if (c->streaming) {
				size_t k = avail < (size_t)c->clen ? avail : (size_t)c->clen;
				sse_feed(c, s, k);
				c->clen -= (int64_t)k;
				pos += k;
				if (!c->clen) {
					c->streaming = false;
					complete(c, "", 0);
				}
				continue;
			}
			if (c->blen == 0 && avail >= (size_t)c->clen) {
				pos += (size_t)c->clen;
				complete(c, s, (size_t)c->clen);
				continue;
			}
			{
				size_t k = (size_t)c->clen - c->blen;
				if (k > avail)
					k = avail;
				buf_add(&c->body, &c->blen, &c->bcap, s, k);
				pos += k;
				if (c->blen == (size_t)c->clen)
					complete(c, c->body, c->blen);
			}
			continue;
		case P_CH_SIZE: {
			const char *nl = memchr(s, '\n', avail);
			if (!nl)
				return pos;
			c->chunk_left = strtoll(s, NULL, 16);
			pos += (size_t)(nl - s) + 1;
			c->ps = c->chunk_left ? P_CH_DATA : P_CH_TRAILER;
			continue;
		}
		case P_CH_DATA: {
			size_t k = avail < (size_t)c->chunk_left ? avail : (size_t)c->chunk_left;
			body_bytes(c, s, k);
			c->chunk_left -= (int64_t)k;
			pos += k;
			if (!c->chunk_left)
				c->ps = P_CH_CRLF;
			continue;
		}
		case P_CH_CRLF: {
			const char *nl = memchr(s, '\n', avail);
			if (!nl)
				return pos;
			pos += (size_t)(nl - s) + 1;
			c->ps = P_CH_SIZE;
			continue;
		}
		case P_CH_TRAILER: {
			const char *nl = memchr(s, '\n', avail);
			if (!nl)
				return pos;
			pos += (size_t)(nl - s) + 1;
			if (nl == s || (nl == s + 1 && *s == '\r')) {
				bool was_stream = c->streaming;
				c->streaming = false;
				if (was_stream)
					complete(c, "", 0);
				else
					complete(c, c->body, c->blen);
			}
			continue;
		}
		case P_EOF:
			body_bytes(c, s, avail);
			pos = n;
			continue;
		}
	}
	return pos;
}

static char rbuf[256 * 1024];

static void conn_eof(struct conn *c)
{
	bool had = c->qn > 0;

	if (c->ps == P_EOF && c->qn) {
		/* a close-delimited body ends here */
		bool was_stream = c->streaming;
		c->streaming = false;
		if (was_stream)
			complete(c, "", 0);
		else
			complete(c, c->body, c->blen);
		had = c->qn > 0;
	}
	conn_close(c);
	on_closed(c, had);
}

static void conn_readable(struct conn *c)
{
	/* Edge-triggered: read until the socket is drained (a short read or EAGAIN). */
	while (!c->dead) {
		ssize_t n = read(c->fd, rbuf, sizeof(rbuf));
		size_t used;

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
		if (c->rlen == 0) {
			used = parse(c, rbuf, (size_t)n);
			if (!c->dead && used < (size_t)n)
				buf_add(&c->rb, &c->rlen, &c->rcap, rbuf + used, (size_t)n - used);
		} else {
			buf_add(&c->rb, &c->rlen, &c->rcap, rbuf, (size_t)n);
			used = parse(c, c->rb, c->rlen);
			if (!c->dead) {
				memmove(c->rb, c->rb + used, c->rlen - used);
				c->rlen -= used;
			}
		}
		if ((size_t)n < sizeof(rbuf))
			return;
	}
}

static void handle_event(struct epoll_event *e)
{
	struct conn *c = e->data.ptr;

	if (c->dead)
		return;
	if (c->connecting && (e->events & (EPOLLOUT | EPOLLERR | EPOLLHUP))) {
		int err = 0;
		socklen_t l = sizeof(err);

		getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &l);
		if (err) {
			cstat.connect_errors++;
			if (opt.verbose)
				fprintf(stderr, "connect: %s\n", strerror(err));
			conn_close(c);
			on_closed(c, c->qn > 0);
			return;
		}
		c->connecting = false;
		conn_flush(c);
	} else if (e->events & EPOLLOUT) {
		conn_flush(c);
	}
	if (e->events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
		conn_readable(c);
}

#define MAXEV 512
static struct epoll_event evs[MAXEV];
static u64 spin_idle_ns; /* time spent polling with nothing ready (relay spins between sends) */

/* Waits at most timeout_ns (0: poll) and handles what is ready. */
static void loop_once(u64 timeout_ns)
{
	struct timespec ts = { .tv_sec = (time_t)(timeout_ns / NS), .tv_nsec = (long)(timeout_ns % NS) };
	u64 t0 = timeout_ns ? 0 : now_ns();
	int n = epoll_pwait2(epfd, evs, MAXEV, &ts, NULL);

	if (n < 0) {
		if (errno == EINTR)
			return;
		die("epoll_pwait2: %s", strerror(errno));
	}
	loop_now = now_ns();
	if (!timeout_ns && !n)
		spin_idle_ns += loop_now - t0;
	for (int i = 0; i < n; i++)
		handle_event(&evs[i]);
}

/* ---------------------------------------------------------------- sessions */

enum { S_NEW, S_INIT, S_NOTIF, S_STREAM, S_JOIN, S_READY, S_FAILED };

struct session {
	int idx, partner;
	int state;
	char sid[96];
	char room[48];
	struct conn *post, *stream;
	/* sending */
	u64 j_next, sent_ok, send_err;
	/* receiving (from the partner) */
	u64 expect, recv, dup, gap, ooo;
};

static struct session *sess;
static int n_sess, n_ready, n_failed;
static char run_tag[32];

static struct {
	bool measuring, sending, relay;
	u64 t_warm, t_end;
	u64 calls, errors, completed;
	u64 sent, sent_window;
	u64 unexpected_events;
	struct hist rtt, delivery;
	char first_error[256];
} st;

static bool is_error_body(const char *b, size_t n)
{
	return memmem(b, n, "\"isError\":true", 14) || memmem(b, n, "\"error\":{", 9);
}

static void note_error(int status, const char *b, size_t n)
{
	if (st.first_error[0])
		return;
	snprintf(st.first_error, sizeof(st.first_error), "HTTP %d: %.*s", status,
		 (int)(n > 180 ? 180 : n), b);
	for (char *p = st.first_error; *p; p++)
		if (*p == '"' || *p == '\\' || (unsigned char)*p < 32)
			*p = '\'';
}

static void session_fail(struct session *s, const char *why, int status, const char *b, size_t n)
{
	if (s->state == S_FAILED)
		return;
	if (opt.verbose)
		fprintf(stderr, "session %d failed: %s (HTTP %d) %.*s\n", s->idx, why, status, (int)n, b);
	note_error(status, b, n);
	s->state = S_FAILED;
	n_failed++;
}

static void session_start(struct session *s)
{
	static const char init[] =
		"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":{\"protocolVersion\":\""
		PROTO_VERSION "\",\"capabilities\":{},\"clientInfo\":{\"name\":\"mcp-chat-loadgen\",\"version\":\"1.0\"}}}";

	s->state = S_INIT;
	if (!send_post(s->post, NULL, init, sizeof(init) - 1, T_INIT))
		session_fail(s, "connect", 0, "", 0);
}

static void send_join(struct session *s)
{
	char body[256];
	int n = snprintf(body, sizeof(body),
			 "{\"jsonrpc\":\"2.0\",\"id\":%" PRIu64 ",\"method\":\"tools/call\",\"params\":{\"name\":\"join_room\","
			 "\"arguments\":{\"room_id\":\"%s\",\"display_name\":\"lg%d\"}}}",
			 s->post->next_id++, s->room, s->idx);
	s->state = S_JOIN;
	if (!send_post(s->post, s->sid, body, (size_t)n, T_JOIN))
		session_fail(s, "connect", 0, "", 0);
}

/* Message text: "m <sender> <j> <t_sched_ns> <t_sent_ns> <padding>". Latency is measured from
 * the scheduled time; the sample counts when the message was sent inside the measured window. */
static size_t put_str(char *out, const char *s)
{
	size_t n = strlen(s);

	memcpy(out, s, n);
	return n;
}

static void send_msg(struct session *s, u64 t_sched)
{
	char body[8192];
	size_t n = 0, text;
	struct req *r;

	n += put_str(body + n, "{\"jsonrpc\":\"2.0\",\"id\":");
	n += fmt_u64(body + n, s->post->next_id++);
	n += put_str(body + n, ",\"method\":\"tools/call\",\"params\":{\"name\":\"send_message\","
			       "\"arguments\":{\"room_id\":\"");
	n += put_str(body + n, s->room);
	n += put_str(body + n, "\",\"message\":\"");
	text = n;
	n += put_str(body + n, "m ");
	n += fmt_u64(body + n, (u64)s->idx);
	body[n++] = ' ';
	n += fmt_u64(body + n, s->j_next);
	body[n++] = ' ';
	n += fmt_u64(body + n, t_sched);
	body[n++] = ' ';
	n += fmt_u64(body + n, now_ns());
	body[n++] = ' ';
	while (n - text < (size_t)opt.msg_size && n - text < 4000)
		body[n++] = 'x';
	n += put_str(body + n, "\"}}}");
	r = send_post(s->post, s->sid, body, n, T_SEND);
	if (!r) {
		session_fail(s, "reconnect", 0, "", 0);
		return;
	}
	r->t_sched = t_sched;
	r->j = s->j_next++;
	st.sent++;
	if (r->t_sent >= st.t_warm && r->t_sent < st.t_end)
		st.sent_window++;
}

static void relay_try_send(struct session *s);

static void on_response(struct conn *c, struct req *r, int status, const char *body, size_t blen)
{
	struct session *s = c->s;
	u64 t = loop_now;

	switch (r->type) {
	case T_RAW: {
		bool bad = status != 200;
		if (bad) {
			cstat.bad_status++;
			note_error(status, body, blen);
		}
		if (t >= st.t_warm && t < st.t_end) {
			st.calls++;
			if (bad)
				st.errors++;
			hadd(&st.rtt, t - r->t_sent);
		}
		if (st.sending && t < st.t_end) {
			send_post(c, "bench-raw-session-id-0000000000000", opt.body, strlen(opt.body), T_RAW);
		}
		return;
	}
	case T_INIT:
		if (status != 200 || !c->sid[0]) {
			session_fail(s, "initialize", status, body, blen);
			return;
		}
		memcpy(s->sid, c->sid, sizeof(s->sid));
		{
			static const char notif[] = "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}";
			s->state = S_NOTIF;
			send_post(c, s->sid, notif, sizeof(notif) - 1, T_NOTIF);
		}
		return;
	case T_NOTIF:
		if (status != 202 && status != 200) {
			session_fail(s, "notifications/initialized", status, body, blen);
			return;
		}
		s->state = S_STREAM;
		if (c->kind == K_IDLE) {
			send_get(c, s->sid);
		} else {
			s->stream = conn_new(K_STREAM, s);
			send_get(s->stream, s->sid);
		}
		return;
	case T_GET:
		/* a push stream ended with a complete body: not expected while running */
		if (!stopping && status == 200)
			cstat.closed_streams++;
		return;
	case T_JOIN:
		if (status != 200 || is_error_body(body, blen)) {
			session_fail(s, "join_room", status, body, blen);
			return;
		}
		s->state = S_READY;
		n_ready++;
		return;
	case T_SEND: {
		bool bad = status != 200 || is_error_body(body, blen);
		if (bad) {
			s->send_err++;
			st.errors++;
			note_error(status, body, blen);
		} else {
			s->sent_ok++;
		}
		if (!st.relay) {
			/* rpc: closed loop */
			if (t >= st.t_warm && t < st.t_end) {
				st.calls++;
				hadd(&st.rtt, t - r->t_sent);
			}
			if (st.sending && t < st.t_end)
				send_msg(s, t);
		} else {
			if (r->t_sent >= st.t_warm && r->t_sent < st.t_end)
				hadd(&st.rtt, t - r->t_sent);
			if (opt.stall_ms > 0 && (r->j >> 63))
				fprintf(stderr, "stall: session %d answered after %.1f ms\n", s->idx, (t - r->t_sent) / 1e6);
			relay_try_send(s);
		}
		return;
	}
	}
}

static void on_stream_head(struct conn *c, int status)
{
	struct session *s = c->s;

	if (status != 200) {
		session_fail(s, "GET push stream", status, "", 0);
		return;
	}
	if (c->kind == K_IDLE) {
		s->state = S_READY;
		n_ready++;
		return;
	}
	send_join(s);
}

/* Checks order and records the delivery latency of one message.received. */
static void on_sse_event(struct conn *c, const char *data, size_t len, u64 t)
{
	struct session *s = c->s;
	const char *m;
	char *end;
	long sender;
	u64 j, ts, tsent;

	if (!memmem(data, len, "\"message.received\"", 18))
		return; /* chatroom.found and the like */
	m = memmem(data, len, "\"message\":\"m ", 13);
	if (!m) {
		st.unexpected_events++;
		return;
	}
	m += 13;
	sender = strtol(m, &end, 10);
	j = strtoull(end, &end, 10);
	ts = strtoull(end, &end, 10);
	tsent = strtoull(end, &end, 10);
	if (sender != s->partner) {
		st.unexpected_events++;
		return;
	}
	s->recv++;
	if (j == s->expect) {
		s->expect++;
	} else if (j > s->expect) {
		s->gap += j - s->expect;
		s->expect = j + 1;
	} else {
		/* seen already, or late after a gap */
		s->dup++;
	}
	if (tsent >= st.t_warm && tsent < st.t_end && t >= ts)
		hadd(&st.delivery, t - ts);
}

static void on_closed(struct conn *c, bool had_outstanding)
{
	struct session *s = c->s;

	if (stopping)
		return;
	if (c->kind == K_STREAM || c->kind == K_IDLE) {
		cstat.closed_streams++;
		if (s && s->state != S_READY)
			session_fail(s, "connection closed during setup", 0, "", 0);
		return;
	}
	if (had_outstanding) {
		/* requests lost with the connection */
		for (int i = 0; i < c->qn; i++) {
			st.errors++;
			if (s && c->q[(c->qh + i) % QMAX].type == T_SEND)
				s->send_err++;
		}
		c->qn = 0;
		note_error(0, "connection closed with requests outstanding", 43);
		if (s && s->state != S_READY)
			session_fail(s, "connection closed during setup", 0, "", 0);
	}
	/* an idle keep-alive connection closed by the server: send_post reconnects */
}

/* ---------------------------------------------------------------- relay scheduling */

static struct {
	u64 t0, k_sched, k_limit, rate_num;
	double rate;
} rl;

/* Debug aid (--stall-ms): a POST unanswered for long, with the client socket's TCP state. */
static void stall_check(u64 now)
{
	static u64 last;

	if (opt.stall_ms <= 0 || now - last < NS / 100)
		return;
	last = now;
	for (int i = 0; i < n_sess; i++) {
		struct conn *c = sess[i].post;
		struct req *r;
		struct tcp_info ti;
		struct sockaddr_in a;
		socklen_t l = sizeof(ti), al = sizeof(a);
		int outq = 0, inq = 0;

		if (!c || c->dead || !c->qn)
			continue;
		r = &c->q[c->qh];
		if (now - r->t_sent < (u64)(opt.stall_ms * 1e6))
			continue;
		if (r->j & (1ull << 63)) /* reported already */
			continue;
		r->j |= 1ull << 63;
		memset(&ti, 0, sizeof(ti));
		getsockopt(c->fd, IPPROTO_TCP, TCP_INFO, &ti, &l);
		getsockname(c->fd, (struct sockaddr *)&a, &al);
		ioctl(c->fd, SIOCOUTQ, &outq);
		ioctl(c->fd, SIOCINQ, &inq);
		fprintf(stderr,
			"stall: t=%.3f session %d request %d of %d unanswered for %.1f ms; client %s:%d outq %d inq %d "
			"unacked %u retrans %u/%u backoff %u rto %u ms rtt %u us probes %u%s\n",
			now / 1e9, i, 1, c->qn, (now - r->t_sent) / 1e6, inet_ntoa(a.sin_addr), ntohs(a.sin_port), outq, inq,
			ti.tcpi_unacked, ti.tcpi_retransmits, ti.tcpi_total_retrans, ti.tcpi_backoff, ti.tcpi_rto / 1000,
			ti.tcpi_rtt, ti.tcpi_probes, inq ? " (the answer is here: the load generator is late)" : "");
	}
}

static u64 due_time(u64 k)
{
	return rl.t0 + (u64)((double)k * 1e9 / rl.rate);
}

static void relay_try_send(struct session *s)
{
	while (st.sending && s->state == S_READY && s->post->qn < opt.depth &&
	       s->j_next * (u64)n_sess + (u64)s->idx < rl.k_sched) {
		u64 k = s->j_next * (u64)n_sess + (u64)s->idx;
		send_msg(s, due_time(k));
	}
}

static void relay_advance(u64 now)
{
	while (rl.k_sched < rl.k_limit && due_time(rl.k_sched) <= now) {
		struct session *s = &sess[rl.k_sched % (u64)n_sess];
		rl.k_sched++;
		relay_try_send(s);
	}
}

/* ---------------------------------------------------------------- setup */

static void sessions_setup(int n, int first_idx)
{
	u64 deadline;
	int started = 0;

	n_sess = n;
	sess = calloc((size_t)n, sizeof(*sess));
	if (!sess)
		die("out of memory");
	for (int i = 0; i < n; i++) {
		struct session *s = &sess[i];
		s->idx = i;
		s->partner = i ^ 1;
		snprintf(s->room, sizeof(s->room), "lg-%s-%d", run_tag, (first_idx + i) / 2);
	}
	deadline = now_ns() + (u64)(opt.setup_timeout * 1e9);
	while (n_ready + n_failed < n) {
		/* at most `concurrency` sessions in setup at once (listen backlogs are finite) */
		while (started < n && started - n_ready - n_failed < opt.concurrency) {
			struct session *s = &sess[started++];
			s->post = conn_new(K_POST, s);
			if (s->post->dead)
				session_fail(s, "connect", 0, "", 0);
			else
				session_start(s);
		}
		loop_once(NS / 100);
		if (now_ns() > deadline)
			die("setup timed out: %d of %d sessions ready, %d failed", n_ready, n, n_failed);
	}
	if (n_failed)
		die("%d of %d sessions failed to set up; first error: %s", n_failed, n, st.first_error);
}

/* ---------------------------------------------------------------- measurement helpers */

static double cpu_self(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
	       ru.ru_stime.tv_usec / 1e6;
}

/* A numeric field of /proc/PID/status ("VmRSS:"), or dflt when it cannot be read. */
static long status_field(int pid, const char *name, long dflt)
{
	char path[64], line[256];
	size_t n = strlen(name);
	long v = dflt;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	if (!(f = fopen(path, "r")))
		return dflt;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, name, n))
			v = strtol(line + n, NULL, 10);
	fclose(f);
	return v;
}

static long rss_kb(int pid)
{
	return status_field(pid, "VmRSS:", -1);
}

/* utime + stime of the whole process, in seconds */
static double proc_cpu(int pid)
{
	char path[64], buf[2048], *p;
	unsigned long ut, stt;
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	if (!(f = fopen(path, "r")))
		return -1;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = 0;
	p = strrchr(buf, ')');
	if (!p)
		return -1;
	/* after ") ": state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime */
	if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &stt) != 2)
		return -1;
	return (double)(ut + stt) / (double)sysconf(_SC_CLK_TCK);
}

/* CPU accounting over a run: the server (--pid), this process and its workers, and everything
 * else on the machine ("foreign": other people's jobs; should be ~0 for a clean measurement). */
struct cpusnap {
	u64 t, spin;
	double busy, self, server;
	double server_wait, self_wait; /* run-queue wait (runnable, not running) of the main threads */
	long server_preempt, self_preempt; /* involuntary context switches of the main threads */
};

static long preemptions(int pid)
{
	return status_field(pid, "nonvoluntary_ctxt_switches:", 0);
}

/* Seconds the process's main thread has waited on a run queue (/proc/PID/schedstat). */
static double runq_wait(int pid)
{
	char path[64];
	unsigned long long run, wait;
	FILE *f;
	int ok;

	snprintf(path, sizeof(path), "/proc/%d/schedstat", pid);
	if (!(f = fopen(path, "r")))
		return 0;
	ok = fscanf(f, "%llu %llu", &run, &wait) == 2;
	fclose(f);
	return ok ? (double)wait / 1e9 : 0;
}

static double machine_busy(void)
{
	unsigned long long v[8] = { 0 };
	FILE *f = fopen("/proc/stat", "r");

	if (!f)
		return 0;
	if (fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5],
		   &v[6], &v[7]) != 8)
		v[0] = v[1] = v[2] = v[5] = v[6] = v[7] = 0;
	fclose(f);
	return (double)(v[0] + v[1] + v[2] + v[5] + v[6] + v[7]) / (double)sysconf(_SC_CLK_TCK);
}

static double cpu_self_children(void)
{
	struct rusage ru;
	double t = cpu_self();

	getrusage(RUSAGE_CHILDREN, &ru);
	return t + (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
	       ru.ru_stime.tv_usec / 1e6;
}

static void cpu_snap(struct cpusnap *c)
{
	c->t = now_ns();
	c->spin = spin_idle_ns;
	c->busy = machine_busy();
	c->self = cpu_self_children();
	c->server = opt.pid ? proc_cpu(opt.pid) : 0;
	c->server_wait = opt.pid ? runq_wait(opt.pid) : 0;
	c->self_wait = runq_wait(getpid());
	c->server_preempt = opt.pid ? preemptions(opt.pid) : 0;
	c->self_preempt = preemptions(getpid());
}

/* "cpu":{...} in percent of one CPU */
static void print_cpu(const struct cpusnap *a, const struct cpusnap *b)
{
	double wall = (b->t - a->t) / 1e9, busy = b->busy - a->busy, self = b->self - a->self;
	double server = b->server - a->server, foreign = busy - self - server;

	if (wall <= 0)
		wall = 1e-9;
	if (foreign < 0)
		foreign = 0;
	printf(",\"cpu\":{\"wall_s\":%.3f,\"server_pct\":%.1f,\"loadgen_pct\":%.1f,\"machine_busy_pct\":%.1f,"
	       "\"foreign_pct\":%.1f,\"server_runq_wait_pct\":%.2f,\"loadgen_runq_wait_pct\":%.2f,"
	       "\"loadgen_busy_pct\":%.1f,\"server_preemptions\":%ld,\"loadgen_preemptions\":%ld}",
	       wall, opt.pid ? 100 * server / wall : -1.0, 100 * self / wall, 100 * busy / wall, 100 * foreign / wall,
	       100 * (b->server_wait - a->server_wait) / wall, 100 * (b->self_wait - a->self_wait) / wall,
	       100 * (self - (b->spin - a->spin) / 1e9) / wall, b->server_preempt - a->server_preempt,
	       b->self_preempt - a->self_preempt);
}

static void print_common(const char *mode)
{
	printf("{\"mode\":\"%s\",\"label\":\"%s\",\"url\":\"%s\"", mode, opt.label ? opt.label : "", opt.url);
}

static void print_conn_stats(void)
{
	printf(",\"connect_errors\":%" PRIu64 ",\"reconnects\":%" PRIu64 ",\"closed_streams\":%" PRIu64
	       ",\"protocol_errors\":%" PRIu64,
	       cstat.connect_errors, cstat.reconnects, cstat.closed_streams, cstat.proto_errors);
	if (st.first_error[0])
		printf(",\"first_error\":\"%s\"", st.first_error);
}

struct delivery {
	u64 sent_ok, send_err, recv, dup, gap, missing, unsent;
};

static struct delivery delivery_totals(void)
{
	struct delivery d = { 0 };

	for (int i = 0; i < n_sess; i++) {
		struct session *s = &sess[i], *p = &sess[s->partner];
		d.sent_ok += s->sent_ok;
		d.send_err += s->send_err;
		d.recv += s->recv;
		d.dup += s->dup;
		d.gap += s->gap;
		/* what the partner was told is sent but this stream has not seen */
		if (p->sent_ok > s->recv - s->dup)
			d.missing += p->sent_ok - (s->recv - s->dup);
	}
	return d;
}

/* Waits until every outstanding request is answered and every message is delivered. */
static void drain(void)
{
	u64 deadline = now_ns() + (u64)(opt.drain_timeout * 1e9);

	for (;;) {
		int outstanding = 0;
		struct delivery d;

		for (int i = 0; i < n_sess; i++)
			outstanding += sess[i].post->qn;
		d = delivery_totals();
		if (!outstanding && d.recv - d.dup >= d.sent_ok)
			return;
		if (now_ns() > deadline)
			return;
		loop_once(NS / 1000);
	}
}

/* ---------------------------------------------------------------- rpc and raw */

static int run_rpc(void)
{
	u64 t0;
	struct cpusnap c0, c1;
	struct delivery d;
	bool ok;

	if (opt.conns < 2 || opt.conns % 2)
		die("rpc needs an even number of connections (pairs)");
	sessions_setup(opt.conns, 0);
	t0 = now_ns();
	st.t_warm = t0 + (u64)(opt.warmup * 1e9);
	st.t_end = st.t_warm + (u64)(opt.duration * 1e9);
	st.sending = true;
	cpu_snap(&c0);
	for (int i = 0; i < n_sess; i++)
		send_msg(&sess[i], now_ns());
	while (now_ns() < st.t_end)
		loop_once(NS / 100);
	st.sending = false;
	cpu_snap(&c1);
	drain();
	d = delivery_totals();
	ok = !st.errors && !d.missing && !d.dup && !d.gap && !n_failed && !cstat.closed_streams;
	print_common("rpc");
	printf(",\"conns\":%d,\"duration_s\":%.3f,\"calls\":%" PRIu64 ",\"calls_per_s\":%.1f,\"errors\":%" PRIu64 ",",
	       opt.conns, opt.duration, st.calls, st.calls / opt.duration, st.errors);
	print_hist("lat_us", &st.rtt);
	printf(",");
	print_hist("delivery_us", &st.delivery);
	printf(",\"sent_ok\":%" PRIu64 ",\"delivered\":%" PRIu64 ",\"missing\":%" PRIu64 ",\"dup\":%" PRIu64
	       ",\"gap\":%" PRIu64,
	       d.sent_ok, d.recv, d.missing, d.dup, d.gap);
	print_cpu(&c0, &c1);
	print_conn_stats();
	printf(",\"ok\":%s}\n", ok ? "true" : "false");
	return ok ? 0 : 3;
}

static int run_raw(void)
{
	struct conn **cs = calloc((size_t)opt.conns, sizeof(*cs));
	u64 t0, deadline;
	struct cpusnap c0, c1;
	bool ok;

	if (!opt.body)
		opt.body = "{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"tools/call\",\"params\":{\"name\":\"send_message\","
			   "\"arguments\":{\"room_id\":\"lg-raw-0\",\"message\":\"m 0 0 0 xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\"}}}";
	t0 = now_ns();
	st.t_warm = t0 + (u64)(opt.warmup * 1e9);
	st.t_end = st.t_warm + (u64)(opt.duration * 1e9);
	st.sending = true;
	cpu_snap(&c0);
	for (int i = 0; i < opt.conns; i++) {
		cs[i] = conn_new(K_RAW, NULL);
		send_post(cs[i], "bench-raw-session-id-0000000000000", opt.body, strlen(opt.body), T_RAW);
	}
	while (now_ns() < st.t_end)
		loop_once(NS / 100);
	st.sending = false;
	cpu_snap(&c1);
	deadline = now_ns() + NS;
	for (;;) {
		int out = 0;
		for (int i = 0; i < opt.conns; i++)
			out += cs[i]->qn;
		if (!out || now_ns() > deadline)
			break;
		loop_once(NS / 1000);
	}
	ok = !st.errors && !cstat.connect_errors;
	print_common("raw");
	printf(",\"conns\":%d,\"duration_s\":%.3f,\"calls\":%" PRIu64 ",\"calls_per_s\":%.1f,\"errors\":%" PRIu64 ",",
	       opt.conns, opt.duration, st.calls, st.calls / opt.duration, st.errors);
	print_hist("lat_us", &st.rtt);
	print_cpu(&c0, &c1);
	print_conn_stats();
	printf(",\"ok\":%s}\n", ok ? "true" : "false");
	return ok ? 0 : 3;
}

/* ---------------------------------------------------------------- relay */

struct step {
	double rate, achieved, duration;
	struct cpusnap c0, c1;
	u64 sent, unsent, errors;
	struct delivery d;
	struct hist lat, rtt;
	bool correct, sustained;
};

static void relay_step(double rate, struct step *out)
{
	u64 sent0 = st.sent, err0 = st.errors, t_start;
	struct delivery d0 = delivery_totals(), d1;
	u64 sent_sum = 0;

	cpu_snap(&out->c0);
	memset(&st.delivery, 0, sizeof(st.delivery));
	memset(&st.rtt, 0, sizeof(st.rtt));
	st.relay = true;
	/* start the schedule where the per-session sequence numbers are */
	rl.rate = rate;
	t_start = now_ns();
	{
		u64 maxj = 0;
		for (int i = 0; i < n_sess; i++)
			if (sess[i].j_next > maxj)
				maxj = sess[i].j_next;
		/* align: every session's next message j_next; fill the schedule from k = maxj*n */
		for (int i = 0; i < n_sess; i++)
			sess[i].j_next = maxj;
		for (int i = 0; i < n_sess; i++) {
			/* the receiver expects the partner's next j */
			sess[i].expect = maxj;
		}
		rl.k_sched = maxj * (u64)n_sess;
		rl.t0 = t_start - (u64)((double)rl.k_sched * 1e9 / rate);
		rl.k_limit = rl.k_sched + (u64)(rate * (opt.warmup + opt.duration));
	}
	st.t_warm = t_start + (u64)(opt.warmup * 1e9);
	st.t_end = st.t_warm + (u64)(opt.duration * 1e9);
	st.sending = true;
	while (rl.k_sched < rl.k_limit) {
		u64 now = now_ns(), next;
		relay_advance(now);
		if (rl.k_sched >= rl.k_limit)
			break;
		next = due_time(rl.k_sched);
		now = now_ns();
		stall_check(now);
		/* Short gaps are spun (CPU 1 is ours): sleeping on a timer costs more than it saves
		 * and wakes late. Time spun with nothing to do is left out of loadgen_busy_pct. */
		loop_once(next > now + opt.spin_us * 1000 ? next - now - opt.spin_us * 1000 : 0);
		if (now > st.t_end + 2 * NS)
			break;
	}
	/* what is due but still unsent (the server could not keep up) is abandoned */
	st.sending = false;
	cpu_snap(&out->c1);
	drain();
	d1 = delivery_totals();
	for (int i = 0; i < n_sess; i++)
		sent_sum += sess[i].j_next;
	out->rate = rate;
	out->duration = opt.duration;
	out->sent = st.sent - sent0;
	out->unsent = rl.k_limit > sent_sum ? rl.k_limit - sent_sum : 0;
	out->errors = st.errors - err0;
	out->d.sent_ok = d1.sent_ok - d0.sent_ok;
	out->d.recv = d1.recv - d0.recv;
	out->d.dup = d1.dup - d0.dup;
	out->d.gap = d1.gap - d0.gap;
	out->d.missing = d1.missing;
	out->achieved = st.sent_window / opt.duration;
	st.sent_window = 0;
	out->lat = st.delivery;
	out->rtt = st.rtt;
	out->correct = !out->errors && !out->d.missing && !out->d.dup && !out->d.gap && !cstat.closed_streams;
	out->sustained = out->correct && out->achieved >= 0.97 * rate &&
			 hpct(&out->lat, 0.99) < (u64)(opt.p99_limit_ms * 1e6);
}

static void print_step_fields(const struct step *s)
{
	printf("\"rate\":%.0f,\"step_s\":%.3f,\"achieved_rate\":%.1f,\"sent\":%" PRIu64 ",\"sent_ok\":%" PRIu64 ",\"unsent\":%" PRIu64
	       ",\"errors\":%" PRIu64 ",\"delivered\":%" PRIu64 ",\"missing\":%" PRIu64 ",\"dup\":%" PRIu64
	       ",\"gap\":%" PRIu64 ",",
	       s->rate, s->duration, s->achieved, s->sent, s->d.sent_ok, s->unsent, s->errors, s->d.recv, s->d.missing, s->d.dup,
	       s->d.gap);
	print_hist("lat_us", &s->lat);
	printf(",");
	print_hist("post_rtt_us", &s->rtt);
	print_cpu(&s->c0, &s->c1);
	printf(",\"correct\":%s,\"sustained\":%s", s->correct ? "true" : "false", s->sustained ? "true" : "false");
}

static void print_step(const struct step *s)
{
	printf("{");
	print_step_fields(s);
	printf("}");
}

/* A p99 over a few dozen messages is the maximum of a handful: a find-max step lasts long
 * enough for --find-samples messages at its rate. */
static void find_step(double rate, struct step *out)
{
	double set = opt.duration;

	if (opt.duration * rate < opt.find_samples)
		opt.duration = opt.find_samples / rate;
	relay_step(rate, out);
	opt.duration = set;
}

static int run_relay_in_process(const char *mode_name, void (*extra)(void))
{
	static struct step steps[64];
	int ns = 0;
	bool correct = true;

	sessions_setup(opt.pairs * 2, 0);
	if (!opt.find_max) {
		relay_step(opt.rate, &steps[ns++]);
		correct = steps[0].correct;
		print_common(mode_name);
		printf(",\"pairs\":%d,\"duration_s\":%.3f,\"depth\":%d,", opt.pairs, opt.duration, opt.depth);
		print_step_fields(&steps[0]);
		if (extra)
			extra();
	} else {
		/* the listed rates (doubling), then two bisection steps between the last pass and the
		 * first failure */
		double lo = 0, hi = 0;
		char *save, *tok, buf[512];

		snprintf(buf, sizeof(buf), "%s", opt.rates[0] ? opt.rates : "5000,10000,20000,40000,80000,160000");
		for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
			double r = atof(tok);
			find_step(r, &steps[ns]);
			if (opt.verbose)
				fprintf(stderr, "relay %.0f/s: p99 %.1f us, achieved %.0f, %s\n", r,
					hpct(&steps[ns].lat, 0.99) / 1e3, steps[ns].achieved,
					steps[ns].sustained ? "sustained" : "not sustained");
			correct &= steps[ns].correct;
			if (steps[ns++].sustained) {
				lo = r;
			} else {
				hi = r;
				break;
			}
		}
		for (int b = 0; b < 2 && hi > 0 && lo > 0 && correct; b++) {
			double r = (lo + hi) / 2;
			find_step(r, &steps[ns]);
			correct &= steps[ns].correct;
			if (steps[ns++].sustained)
				lo = r;
			else
				hi = r;
		}
		print_common(mode_name);
		printf(",\"find_max\":true,\"pairs\":%d,\"duration_s\":%.3f,\"depth\":%d,\"p99_limit_ms\":%.3f,"
		       "\"max_rate\":%.0f,\"steps\":[",
		       opt.pairs, opt.duration, opt.depth, opt.p99_limit_ms, lo);
		for (int i = 0; i < ns; i++) {
			if (i)
				printf(",");
			print_step(&steps[i]);
		}
		printf("]");
	}
	print_conn_stats();
	printf(",\"ok\":%s}\n", correct ? "true" : "false");
	return correct ? 0 : 3;
}

/* ---------------------------------------------------------------- idle (workers) */

/* A worker: sets up n idle sessions, reports "ready <ok> <failed> <ms>", holds them until its
 * control pipe closes, then reports "done <closed_streams>". */
static void idle_worker(int n, int first, int conc, int report_fd, int ctl_fd)
{
	u64 t0 = now_ns(), deadline;
	int started = 0;
	char line[128];
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = NULL };
	bool quit = false;

	epfd = epoll_create1(EPOLL_CLOEXEC);
	n_sess = n;
	sess = calloc((size_t)n, sizeof(*sess));
	for (int i = 0; i < n; i++)
		sess[i].idx = first + i;
	src_rr = (unsigned)first;
	deadline = t0 + (u64)(opt.setup_timeout * 1e9);
	while (n_ready + n_failed < n && now_ns() < deadline) {
		while (started < n && started - n_ready - n_failed < conc) {
			struct session *s = &sess[started++];
			s->post = conn_new(K_IDLE, s);
			if (s->post->dead)
				session_fail(s, "connect", 0, "", 0);
			else
				session_start(s);
		}
		loop_once(NS / 100);
	}
	snprintf(line, sizeof(line), "ready %d %d %.1f %s\n", n_ready, n - n_ready, (now_ns() - t0) / 1e6,
		 st.first_error[0] ? "error" : "-");
	if (write(report_fd, line, strlen(line)) < 0)
		_exit(1);
	if (st.first_error[0]) {
		snprintf(line, sizeof(line), "error %.100s\n", st.first_error);
		if (write(report_fd, line, strlen(line)) < 0)
			_exit(1);
	}
	/* hold: drain pings, notice closes, stop when the parent closes the control pipe */
	epoll_ctl(epfd, EPOLL_CTL_ADD, ctl_fd, &ev);
	while (!quit) {
		int k = epoll_pwait2(epfd, evs, MAXEV, NULL, NULL);
		loop_now = now_ns();
		for (int i = 0; i < k; i++) {
			if (!evs[i].data.ptr)
				quit = true;
			else
				handle_event(&evs[i]);
		}
	}
	snprintf(line, sizeof(line), "done %" PRIu64 "\n", cstat.closed_streams);
	if (write(report_fd, line, strlen(line)) < 0)
		_exit(1);
	stopping = true;
	_exit(0);
}

struct pool {
	int n, workers, opened, failed;
	pid_t pid[64];
	int rep[64], ctl[64];
	double open_s;
	char first_error[160];
	u64 closed_streams;
};

static int read_line(int fd, char *buf, size_t cap)
{
	size_t n = 0;

	while (n + 1 < cap) {
		ssize_t k = read(fd, buf + n, 1);
		if (k <= 0)
			return -1;
		if (buf[n] == '\n')
			break;
		n++;
	}
	buf[n] = 0;
	return (int)n;
}

static void pool_open(struct pool *p, int n)
{
	u64 t0 = now_ns();
	int per;

	memset(p, 0, sizeof(*p));
	p->n = n;
	p->workers = opt.workers ? opt.workers : (n + opt.per_worker - 1) / opt.per_worker;
	if (p->workers < 1)
		p->workers = 1;
	if (p->workers > 64)
		die("too many workers");
	per = (n + p->workers - 1) / p->workers;
	fflush(stdout);
	for (int w = 0; w < p->workers; w++) {
		int rp[2], cp[2], first = w * per, cnt = n - first < per ? n - first : per;
		int conc = opt.concurrency / p->workers;

		if (conc < 8)
			conc = 8;
		if (pipe2(rp, O_CLOEXEC) < 0 || pipe2(cp, O_CLOEXEC) < 0)
			die("pipe: %s", strerror(errno));
		p->pid[w] = fork();
		if (p->pid[w] < 0)
			die("fork: %s", strerror(errno));
		if (p->pid[w] == 0) {
			close(rp[0]);
			close(cp[1]);
			for (int k = 0; k < w; k++) {
				close(p->rep[k]);
				close(p->ctl[k]);
			}
			idle_worker(cnt, first, conc, rp[1], cp[0]);
		}
		close(rp[1]);
		close(cp[0]);
		p->rep[w] = rp[0];
		p->ctl[w] = cp[1];
	}
	for (int w = 0; w < p->workers; w++) {
		char line[256];
		int ok = 0, bad = 0;

		if (read_line(p->rep[w], line, sizeof(line)) < 0)
			die("idle worker %d died", w);
		sscanf(line, "ready %d %d", &ok, &bad);
		p->opened += ok;
		p->failed += bad;
		if (strstr(line, " error")) {
			if (read_line(p->rep[w], line, sizeof(line)) >= 0 && !p->first_error[0])
				snprintf(p->first_error, sizeof(p->first_error), "%.150s", line + 6);
		}
	}
	p->open_s = (now_ns() - t0) / 1e9;
}

static void pool_close(struct pool *p)
{
	for (int w = 0; w < p->workers; w++)
		close(p->ctl[w]);
	for (int w = 0; w < p->workers; w++) {
		char line[128];
		u64 closed = 0;

		if (read_line(p->rep[w], line, sizeof(line)) >= 0 && sscanf(line, "done %" SCNu64, &closed) == 1)
			p->closed_streams += closed;
		close(p->rep[w]);
		waitpid(p->pid[w], NULL, 0);
	}
}

static void sleep_s(double s)
{
	struct timespec ts = { .tv_sec = (time_t)s, .tv_nsec = (long)((s - (double)(time_t)s) * 1e9) };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static int run_idle(void)
{
	struct pool p;
	long before = -1, after = -1;
	struct cpusnap c0, c1;
	bool ok;

	if (opt.pid)
		before = rss_kb(opt.pid);
	cpu_snap(&c0);
	pool_open(&p, opt.sessions);
	sleep_s(opt.hold);
	if (opt.pid)
		after = rss_kb(opt.pid);
	pool_close(&p);
	cpu_snap(&c1); /* after the workers are reaped, so their CPU counts as ours */
	ok = p.opened == opt.sessions && !p.closed_streams;
	print_common("idle");
	printf(",\"sessions\":%d,\"workers\":%d,\"opened\":%d,\"failed\":%d,\"open_s\":%.3f,\"sessions_per_s\":%.1f,"
	       "\"closed_streams\":%" PRIu64,
	       opt.sessions, p.workers, p.opened, p.failed, p.open_s, p.opened / p.open_s, p.closed_streams);
	if (opt.pid)
		printf(",\"pid\":%d,\"rss_before_kb\":%ld,\"rss_after_kb\":%ld,\"bytes_per_session\":%.0f", opt.pid,
		       before, after, p.opened ? (after - before) * 1024.0 / p.opened : 0.0);
	if (p.first_error[0])
		printf(",\"first_error\":\"%s\"", p.first_error);
	print_cpu(&c0, &c1);
	printf(",\"ok\":%s}\n", ok ? "true" : "false");
	return ok ? 0 : 3;
}

/* ---------------------------------------------------------------- scale */

static struct {
	struct pool p;
	double cpu0, cpu1;
	long rss;
} sc;

static void scale_extra(void)
{
	struct delivery d = delivery_totals();

	printf(",\"idle_sessions\":%d,\"idle_opened\":%d,\"idle_open_s\":%.3f,\"server_rss_kb\":%ld,"
	       "\"server_cpu_s\":%.3f,\"relayed\":%" PRIu64 ",\"cpu_us_per_msg\":%.3f",
	       sc.p.n, sc.p.opened, sc.p.open_s, sc.rss, sc.cpu1 - sc.cpu0, d.recv,
	       d.recv ? (sc.cpu1 - sc.cpu0) * 1e6 / (double)d.recv : 0.0);
}

static int run_scale(void)
{
	int rc;

	if (!opt.pid)
		die("scale needs --pid");
	/* idle sessions first, in forked workers (before this process opens its own sockets) */
	pool_open(&sc.p, opt.sessions);
	if (sc.p.opened != opt.sessions)
		fprintf(stderr, "loadgen: scale: only %d of %d idle sessions opened (%s)\n", sc.p.opened,
			opt.sessions, sc.p.first_error);
	epfd = epoll_create1(EPOLL_CLOEXEC);
	sessions_setup(opt.pairs * 2, 0);
	sleep_s(0.5);
	sc.rss = rss_kb(opt.pid);
	sc.cpu0 = proc_cpu(opt.pid);
	{
		static struct step s;
		relay_step(opt.rate, &s);
		sc.cpu1 = proc_cpu(opt.pid);
		print_common("scale");
		printf(",\"pairs\":%d,\"duration_s\":%.3f,\"depth\":%d,", opt.pairs, opt.duration, opt.depth);
		print_step_fields(&s);
		scale_extra();
		stopping = true;
		pool_close(&sc.p);
		cstat.closed_streams += sc.p.closed_streams;
		print_conn_stats();
		rc = s.correct && sc.p.opened == opt.sessions && !sc.p.closed_streams ? 0 : 3;
		printf(",\"ok\":%s}\n", rc ? "false" : "true");
	}
	return rc;
}

/* ---------------------------------------------------------------- main */

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: loadgen MODE --url http://127.0.0.1:PORT/mcp [OPTION]...\n"
		"Modes: rpc, raw, relay, idle, scale, freeport\n"
		"  --conns N           rpc/raw: POST connections (rpc: sessions, in pairs; default 32)\n"
		"  --pairs P           relay/scale: session pairs (default 100)\n"
		"  --rate R            relay/scale: offered messages/s, aggregate (default 20000)\n"
		"  --duration S        measured seconds (default 10)\n"
		"  --warmup S          seconds before measuring (default 2)\n"
		"  --depth N           relay: most requests outstanding per POST connection (default 4)\n"
		"  --msg-size B        message text bytes (default 64)\n"
		"  --find-max          relay: step the rate up, report the highest with p99 < limit\n"
		"  --rates LIST        relay --find-max: comma-separated rates\n"
		"  --p99-limit-ms MS   relay --find-max: the p99 limit (default 5)\n"
		"  --find-samples N    relay --find-max: a step lasts for N messages at least (default 500)\n"
		"  --sessions N        idle/scale: idle sessions (default 1000)\n"
		"  --workers N         idle/scale: worker processes (default: one per 4500 sessions)\n"
		"  --concurrency N     sessions being set up at once (default 256)\n"
		"  --src-addrs N       use 127.0.0.2 .. 127.0.0.(N+1) as source addresses (default 8; 0: any)\n"
		"  --pid PID           the server: RSS (idle) and CPU time (scale)\n"
		"  --hold S            idle: seconds to hold before measuring RSS (default 2)\n"
		"  --body JSON         raw: the request body\n"
		"  --label TEXT        copied into the JSON output\n"
		"  --verbose           progress on stderr\n"
		"  --spin-us US        relay: poll instead of sleeping when the next send is due within US (500)\n"
		"  --stall-ms MS       relay: report POSTs unanswered for MS with their TCP state (debug)\n");
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "url", 1, 0, 'u' }, { "conns", 1, 0, 'c' }, { "pairs", 1, 0, 'P' }, { "rate", 1, 0, 'r' },
		{ "duration", 1, 0, 'd' }, { "warmup", 1, 0, 'w' }, { "depth", 1, 0, 'D' },
		{ "msg-size", 1, 0, 'm' }, { "find-max", 0, 0, 'F' }, { "rates", 1, 0, 'R' },
		{ "p99-limit-ms", 1, 0, 'L' }, { "find-samples", 1, 0, 'J' }, { "sessions", 1, 0, 'n' }, { "workers", 1, 0, 'W' },
		{ "concurrency", 1, 0, 'C' }, { "src-addrs", 1, 0, 'S' }, { "pid", 1, 0, 'p' },
		{ "hold", 1, 0, 'H' }, { "body", 1, 0, 'b' }, { "label", 1, 0, 'l' }, { "verbose", 0, 0, 'v' },
		{ "setup-timeout", 1, 0, 'T' }, { "stall-ms", 1, 0, 'X' }, { "spin-us", 1, 0, 'Y' }, { "help", 0, 0, 'h' }, { 0, 0, 0, 0 },
	};
	const char *mode;
	int c;

	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	mode = argv[1];
	if (!strcmp(mode, "freeport")) {
		struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
		socklen_t l = sizeof(a);
		int fd = socket(AF_INET, SOCK_STREAM, 0);
		if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 || getsockname(fd, (struct sockaddr *)&a, &l) < 0)
			die("freeport: %s", strerror(errno));
		printf("%d\n", ntohs(a.sin_port));
		return 0;
	}
	if (!strcmp(mode, "-h") || !strcmp(mode, "--help")) {
		usage(stdout);
		return 0;
	}
	if (!strcmp(mode, "rpc"))
		opt.mode = M_RPC;
	else if (!strcmp(mode, "raw"))
		opt.mode = M_RAW;
	else if (!strcmp(mode, "relay"))
		opt.mode = M_RELAY;
	else if (!strcmp(mode, "idle"))
		opt.mode = M_IDLE;
	else if (!strcmp(mode, "scale"))
		opt.mode = M_SCALE;
	else {
		usage(stderr);
		return 2;
	}
	optind = 2;
	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case 'u': opt.url = optarg; break;
		case 'c': opt.conns = atoi(optarg); break;
		case 'P': opt.pairs = atoi(optarg); break;
		case 'r': opt.rate = atof(optarg); break;
		case 'd': opt.duration = atof(optarg); break;
		case 'w': opt.warmup = atof(optarg); break;
		case 'D': opt.depth = atoi(optarg); break;
		case 'm': opt.msg_size = atoi(optarg); break;
		case 'F': opt.find_max = true; break;
		case 'R': snprintf(opt.rates, sizeof(opt.rates), "%s", optarg); break;
		case 'L': opt.p99_limit_ms = atof(optarg); break;
		case 'J': opt.find_samples = atof(optarg); break;
		case 'n': opt.sessions = atoi(optarg); break;
		case 'W': opt.workers = atoi(optarg); break;
		case 'C': opt.concurrency = atoi(optarg); break;
		case 'S': opt.src_addrs = atoi(optarg); break;
		case 'p': opt.pid = atoi(optarg); break;
		case 'H': opt.hold = atof(optarg); break;
		case 'b': opt.body = optarg; break;
		case 'l': opt.label = optarg; break;
		case 'v': opt.verbose = true; break;
		case 'T': opt.setup_timeout = atof(optarg); break;
		case 'X': opt.stall_ms = atof(optarg); break;
		case 'Y': opt.spin_us = (u64)atoll(optarg); break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (!opt.url)
		die("--url is required");
	if (opt.depth < 1 || opt.depth > QMAX - 4)
		die("--depth must be 1..%d", QMAX - 4);
	if (opt.duration <= 0 || opt.rate <= 0)
		die("--duration and --rate must be positive");
	parse_url(opt.url);
	signal(SIGPIPE, SIG_IGN);
	prctl(PR_SET_TIMERSLACK, 1UL);
	snprintf(run_tag, sizeof(run_tag), "%x%x", (unsigned)getpid(), (unsigned)(now_ns() & 0xffffff));
	{
		struct rlimit r;
		if (getrlimit(RLIMIT_NOFILE, &r) == 0 && r.rlim_cur < r.rlim_max) {
			r.rlim_cur = r.rlim_max;
			setrlimit(RLIMIT_NOFILE, &r);
		}
	}
	switch (opt.mode) {
	case M_IDLE:
		return run_idle();
	case M_SCALE:
		return run_scale();
	default:
		break;
	}
	epfd = epoll_create1(EPOLL_CLOEXEC);
	if (epfd < 0)
		die("epoll_create1: %s", strerror(errno));
	switch (opt.mode) {
	case M_RPC:
		return run_rpc();
	case M_RAW:
		return run_raw();
	case M_RELAY:
		return run_relay_in_process("relay", NULL);
	default:
		return 2;
	}
}
