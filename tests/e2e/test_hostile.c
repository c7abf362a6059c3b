/* Hostile clients against the built mcp-chatd (path in $MCPCHATD), loopback only.
 *
 * Each test starts its own daemon (a unique control socket, a config file when it needs one),
 * does something a hostile or broken client would do, checks that a normal pair of sessions
 * still chats correctly, and stops the daemon with SIGTERM, which must exit 0 (with a
 * sanitizer build that also means no leak and no memory error). Timing is printed, never
 * asserted: benchmark figures belong in bench/.
 *
 * Usage: test_hostile [SUBSTRING]   runs only the tests whose name contains SUBSTRING. */

#include <CUnit/Basic.h>
#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "unit.h"

static long long now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* Daemons. Every one started is stopped, by the test or by the teardown. */

struct dmn {
	struct hx_daemon d;
	char sock[108];
	char cfg[64];
	char *log; /* its stderr, kept by dmn_stop */
	bool running;
};

#define MAX_TRACKED 8
static struct dmn *tracked[MAX_TRACKED];
static pid_t children[8];

static void track(struct dmn *x)
{
	for (int i = 0; i < MAX_TRACKED; i++)
		if (!tracked[i]) {
			tracked[i] = x;
			return;
		}
}

static void untrack(struct dmn *x)
{
	for (int i = 0; i < MAX_TRACKED; i++)
		if (tracked[i] == x)
			tracked[i] = NULL;
}

static int serial;

/* Starts the daemon on listen (NULL: 127.0.0.1:0) with config text (or none), a control
 * socket at sock (NULL: a fresh temporary path) and extra arguments. */
static int dmn_start(struct dmn *x, const char *listen, const char *sock, const char *config,
		     const char *const *args)
{
	const char *argv[28];
	int n = 0, rc;

	memset(x, 0, sizeof(*x));
	if (sock)
		snprintf(x->sock, sizeof(x->sock), "%s", sock);
	else
		snprintf(x->sock, sizeof(x->sock), "/tmp/mcpchat-hostile-%d-%d.sock", (int)getpid(),
			 ++serial);
	argv[n++] = "-s";
	argv[n++] = x->sock;
	if (config) {
		size_t len = strlen(config);
		int fd;

		snprintf(x->cfg, sizeof(x->cfg), "/tmp/mcpchat-hostile-cfg-XXXXXX");
		fd = mkstemp(x->cfg);
		if (fd < 0)
			return -errno;
		if (write(fd, config, len) != (ssize_t)len) {
			close(fd);
			unlink(x->cfg);
			return -EIO;
		}
		close(fd);
		argv[n++] = "-c";
		argv[n++] = x->cfg;
	}
	for (int i = 0; args && args[i] && n < 27; i++)
		argv[n++] = args[i];
	argv[n] = NULL;
	rc = hx_daemon_start_listen(&x->d, listen ? listen : "127.0.0.1:0", argv);
	if (rc < 0) {
		printf("\n    cannot start %s: %s\n", getenv("MCPCHATD") ? getenv("MCPCHATD") : "(MCPCHATD unset)",
		       strerror(-rc));
		if (x->cfg[0])
			unlink(x->cfg);
		return rc;
	}
	x->running = true;
	track(x);
	return 0;
}

/* A sanitizer report or a crash in the log. */
static bool log_is_clean(const char *log)
{
	return !strstr(log, "Sanitizer") && !strstr(log, "runtime error:") &&
	       !strstr(log, "AddressSanitizer");
}

static void print_log_digest(const char *log)
{
	const char *at = strstr(log, "==ERROR");
	size_t len = strlen(log);

	if (!at)
		at = strstr(log, "runtime error:");
	if (!at)
		at = len > 3000 ? log + len - 3000 : log;
	printf("\n    --- daemon log (excerpt) ---\n%.3000s\n    ---\n", at);
}

/* SIGTERM; returns the exit status (0 expected). Keeps the log in x->log (free it). */
static int dmn_stop(struct dmn *x, bool keep_sock)
{
	int rc;

	if (!x->running)
		return -ESRCH;
	rc = hx_daemon_stop(&x->d);
	x->running = false;
	untrack(x);
	free(x->log);
	x->log = hx_daemon_log(&x->d);
	if (x->log && !log_is_clean(x->log)) {
		print_log_digest(x->log);
		if (rc == 0)
			rc = 2000;
	} else if (rc != 0 && x->log) {
		printf("\n    daemon exit status %d\n", rc);
		print_log_digest(x->log);
	}
	unlink(x->d.log_path);
	if (x->cfg[0])
		unlink(x->cfg);
	if (!keep_sock)
		unlink(x->sock);
	return rc;
}

#define STOP_OK(x)                                           \
	do {                                                 \
		int src_ = dmn_stop((x), false);             \
		CHECKF(src_ == 0, "daemon exit status %d", src_); \
	} while (0)

/* JSON-RPC over HTTP */

static int rpc_id = 100;

/* The JSON-RPC message in a response: the JSON body, or the first data: line of SSE. */
static cJSON *rpc_message(const struct hx_response *r)
{
	char ct[128] = "";
	const char *d, *e;

	if (!r->body)
		return NULL;
	hx_header(r, "Content-Type", ct, sizeof(ct));
	if (strncmp(ct, "text/event-stream", 17) != 0)
		return hx_json(r);
	d = strstr(r->body, "data: ");
	if (!d)
		return NULL;
	d += 6;
	e = strchr(d, '\n');
	return cJSON_ParseWithLength(d, e ? (size_t)(e - d) : strlen(d));
}

struct tres {
	int status;     /* HTTP */
	cJSON *msg;     /* the whole JSON-RPC message */
	const cJSON *sc; /* result.structuredContent */
	bool is_error;
	const char *error; /* structuredContent.error when is_error */
};

static void tres_free(struct tres *t)
{
	cJSON_Delete(t->msg);
	memset(t, 0, sizeof(*t));
}

/* Sends req on c (connecting when c->fd < 0); NULL c: a fresh connection. */
static int request(struct hx_conn *c, int port, const char *req, struct hx_response *r)
{
	int rc;

	memset(r, 0, sizeof(*r));
	if (!c)
		return hx_roundtrip(port, req, strlen(req), r);
	if (c->fd < 0 && (rc = hx_connect(c, port)) < 0)
		return rc;
	rc = hx_send_str(c, req);
	if (rc == 0)
		rc = hx_read_response(c, r, HX_TIMEOUT_MS);
	if (rc < 0)
		hx_close(c);
	return rc;
}

/* tools/call name(args) as session sid; 0 when a result with structuredContent came back. */
static int tool(struct hx_conn *c, int port, const char *sid, const char *name, const char *args,
		struct tres *t)
{
	struct hx_response r;
	char *body = NULL, *req;
	const cJSON *result, *e;
	int rc;

	memset(t, 0, sizeof(*t));
	if (asprintf(&body, "{\"jsonrpc\":\"2.0\",\"id\":%d,\"method\":\"tools/call\",\"params\":"
			    "{\"name\":\"%s\",\"arguments\":%s}}", ++rpc_id, name, args) < 0)
		return -ENOMEM;
	req = hx_post_request(sid, NULL, body);
	free(body);
	if (!req)
		return -ENOMEM;
	rc = request(c, port, req, &r);
	free(req);
	t->status = r.status;
	if (rc == 0) {
		t->msg = rpc_message(&r);
		result = cJSON_GetObjectItemCaseSensitive(t->msg, "result");
		t->sc = cJSON_GetObjectItemCaseSensitive(result, "structuredContent");
		t->is_error = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(result, "isError"));
		e = cJSON_GetObjectItemCaseSensitive(t->sc, "error");
		t->error = cJSON_IsString(e) ? e->valuestring : NULL;
		if (r.status != 200 || !t->sc)
			rc = -EPROTO;
	}
	hx_response_free(&r);
	return rc;
}

static const char *str_of(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

static bool join_room(int port, const char *sid, const char *room, const char *name)
{
	char args[256];
	struct tres t;
	bool ok;

	snprintf(args, sizeof(args), "{\"room_id\":\"%s\",\"display_name\":\"%s\"}", room, name);
	ok = tool(NULL, port, sid, "join_room", args, &t) == 0 && !t.is_error;
	if (!ok)
		printf("\n    join_room %s failed (HTTP %d, %s)\n", room, t.status,
		       t.error ? t.error : "no result");
	tres_free(&t);
	return ok;
}

/* Two new sessions in the named room: a waits, b joins. */
static bool make_pair(int port, const char *room, char a[HX_SID_MAX], char b[HX_SID_MAX])
{
	return hx_initialize(port, NULL, a, HX_SID_MAX) == 0 &&
	       hx_initialize(port, NULL, b, HX_SID_MAX) == 0 && join_room(port, a, room, "Ann") &&
	       join_room(port, b, room, "Bob");
}

/* send_message; 0 and the message id on success, else the refusal code in err. */
static int send_msg(struct hx_conn *c, int port, const char *sid, const char *room,
		    const char *text, char id[64], char err[32])
{
	struct tres t;
	cJSON *args = cJSON_CreateObject();
	char *json;
	int rc;

	id[0] = err[0] = '\0';
	cJSON_AddStringToObject(args, "room_id", room);
	cJSON_AddStringToObject(args, "message", text);
	json = cJSON_PrintUnformatted(args);
	cJSON_Delete(args);
	rc = tool(c, port, sid, "send_message", json, &t);
	cJSON_free(json);
	if (rc == 0 && t.is_error) {
		snprintf(err, 32, "%s", t.error ? t.error : "?");
		rc = -EAGAIN;
	} else if (rc == 0) {
		const char *m = str_of(t.sc, "message_id");

		if (m)
			snprintf(id, 64, "%s", m);
		else
			rc = -EPROTO;
	} else {
		snprintf(err, 32, "rc %d HTTP %d", rc, t.status);
	}
	tres_free(&t);
	return rc;
}

static int delete_session(int port, const char *sid)
{
	struct hx_response r;
	char *req;
	int rc;

	if (asprintf(&req, "DELETE /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nMcp-Session-Id: %s\r\n\r\n", sid) < 0)
		return -ENOMEM;
	rc = hx_roundtrip(port, req, strlen(req), &r);
	free(req);
	rc = rc < 0 ? rc : r.status;
	hx_response_free(&r);
	return rc;
}

/* A POST ping as sid: the HTTP status. */
static int ping_status(int port, const char *sid)
{
	struct hx_response r;
	int rc = hx_post(port, sid, "{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"ping\"}", &r);

	rc = rc < 0 ? rc : r.status;
	hx_response_free(&r);
	return rc;
}

/* A value from GET /metrics, or -1. */
static double metric(int port, const char *name)
{
	static const char req[] = "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
	struct hx_response r;
	char needle[128];
	double v = -1;

	snprintf(needle, sizeof(needle), "\n%s ", name);
	if (hx_roundtrip(port, req, sizeof(req) - 1, &r) == 0 && r.status == 200 && r.body) {
		const char *at = strstr(r.body, needle);

		if (at)
			v = strtod(at + strlen(needle), NULL);
	}
	hx_response_free(&r);
	return v;
}

/* Polls a metric until pred holds or timeout_ms pass; returns the last value. */
static double metric_until(int port, const char *name, bool (*pred)(double, double), double arg,
			   int timeout_ms)
{
	long long deadline = hx_now_ms() + timeout_ms;
	double v;

	for (;;) {
		v = metric(port, name);
		if (pred(v, arg) || hx_now_ms() >= deadline)
			return v;
		usleep(50 * 1000);
	}
}

static bool at_most(double v, double max)
{
	return v >= 0 && v <= max;
}

static bool at_least(double v, double min)
{
	return v >= min;
}

/* Closes a socket with a reset instead of a FIN. */
static void close_rst(struct hx_conn *c)
{
	struct linger lg = { 1, 0 };

	if (c->fd >= 0)
		setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	hx_close(c);
}

/* Push streams, read event by event */

struct stream {
	struct hx_conn c;
	int status;
	bool term, eof; /* saw the chunked terminator; saw EOF or a reset */
	size_t chunk_left;
	bool need_crlf;
	char *data; /* de-chunked, not yet parsed */
	size_t dlen, dcap;
	uint64_t last_id; /* id of the last complete event parsed */
};

struct sev {
	uint64_t id;
	cJSON *msg;
	const char *method;
	const cJSON *params;
};

static void sev_free(struct sev *e)
{
	cJSON_Delete(e->msg);
	memset(e, 0, sizeof(*e));
}

static void stream_free(struct stream *s)
{
	hx_close(&s->c);
	free(s->data);
	memset(s, 0, sizeof(*s));
	s->c.fd = -1;
}

/* GET /mcp as sid (with Last-Event-ID when resume); returns the HTTP status (200: open). A
 * rcvbuf > 0 shrinks the socket's receive buffer. */
static int stream_open(struct stream *s, int port, const char *sid, bool resume, uint64_t last,
		       int rcvbuf)
{
	struct hx_response r = { 0 };
	char req[512], lei[64] = "";
	int rc;

	memset(s, 0, sizeof(*s));
	s->c.fd = -1;
	rc = hx_connect(&s->c, port);
	if (rc < 0)
		return rc;
	if (rcvbuf > 0)
		setsockopt(s->c.fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
	if (resume)
		snprintf(lei, sizeof(lei), "Last-Event-ID: %llu\r\n", (unsigned long long)last);
	snprintf(req, sizeof(req),
		 "GET /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n"
		 "Mcp-Session-Id: %s\r\n%s\r\n", sid, lei);
	rc = hx_send_str(&s->c, req);
	if (rc == 0)
		rc = hx_read_head(&s->c, &r, HX_TIMEOUT_MS);
	if (rc < 0) {
		hx_response_free(&r);
		hx_close(&s->c);
		return rc;
	}
	s->status = r.status;
	s->last_id = last;
	if (r.status == 200 && !r.chunked) {
		hx_response_free(&r);
		return -EPROTO;
	}
	if (r.status != 200) /* the refusal's body; the connection is not used again */
		hx_read_body(&s->c, &r, HX_TIMEOUT_MS);
	hx_response_free(&r);
	return s->status;
}

static int data_append(struct stream *s, const char *p, size_t n)
{
	if (s->dlen + n + 1 > s->dcap) {
		size_t cap = s->dcap ? s->dcap : 16384;
		char *d;

		while (cap < s->dlen + n + 1)
			cap *= 2;
		d = realloc(s->data, cap);
		if (!d)
			return -ENOMEM;
		s->data = d;
		s->dcap = cap;
	}
	memcpy(s->data + s->dlen, p, n);
	s->dlen += n;
	s->data[s->dlen] = '\0';
	return 0;
}

/* Moves chunk payload from the connection into s->data: 1 progress, 0 none, < 0 malformed. */
static int dechunk(struct stream *s)
{
	struct hx_conn *c = &s->c;
	int progress = 0;

	for (;;) {
		if (s->need_crlf) {
			if (c->len < 2)
				return progress;
			if (memcmp(c->buf, "\r\n", 2) != 0)
				return -EPROTO;
			hx_consume(c, 2);
			s->need_crlf = false;
			progress = 1;
		}
		if (s->term)
			return progress;
		if (s->chunk_left == 0) {
			const char *eol = c->len ? memmem(c->buf, c->len, "\r\n", 2) : NULL;
			char *end;
			unsigned long size;

			if (!eol)
				return progress;
			size = strtoul(c->buf, &end, 16);
			if (end == c->buf)
				return -EPROTO;
			hx_consume(c, (size_t)(eol - c->buf) + 2);
			progress = 1;
			if (size == 0) {
				s->term = true;
				return progress;
			}
			s->chunk_left = size;
		}
		if (c->len == 0)
			return progress;
		{
			size_t n = c->len < s->chunk_left ? c->len : s->chunk_left;

			if (data_append(s, c->buf, n) < 0)
				return -ENOMEM;
			hx_consume(c, n);
			s->chunk_left -= n;
			progress = 1;
			if (s->chunk_left == 0)
				s->need_crlf = true;
		}
	}
}

/* One SSE block (without the blank line): 1 an event with data, 0 a comment only. */
static int parse_block(char *block, size_t len, struct sev *ev)
{
	char *line = block, *end = block + len;

	memset(ev, 0, sizeof(*ev));
	while (line < end) {
		char *nl = memchr(line, '\n', (size_t)(end - line));
		size_t ll = nl ? (size_t)(nl - line) : (size_t)(end - line);

		if (ll > 4 && strncmp(line, "id: ", 4) == 0)
			ev->id = strtoull(line + 4, NULL, 10);
		else if (ll > 6 && strncmp(line, "data: ", 6) == 0 && !ev->msg)
			ev->msg = cJSON_ParseWithLength(line + 6, ll - 6);
		line += ll + 1;
	}
	if (!ev->msg)
		return 0;
	ev->method = str_of(ev->msg, "method");
	ev->params = cJSON_GetObjectItemCaseSensitive(ev->msg, "params");
	return 1;
}

/* The next event: 1 (ev filled; sev_free it), 0 the stream ended (terminator, EOF or reset),
 * -ETIMEDOUT, or another negative errno. */
static int stream_next(struct stream *s, struct sev *ev, int timeout_ms)
{
	long long deadline = hx_now_ms() + timeout_ms;

	memset(ev, 0, sizeof(*ev));
	for (;;) {
		char *end;
		int rc, left;

		while (s->dlen && (end = memmem(s->data, s->dlen, "\n\n", 2))) {
			size_t blen = (size_t)(end - s->data) + 2;
			int got = parse_block(s->data, (size_t)(end - s->data), ev);

			memmove(s->data, s->data + blen, s->dlen - blen);
			s->dlen -= blen;
			if (got) {
				if (ev->id)
					s->last_id = ev->id;
				return 1;
			}
		}
		if (s->term || s->eof)
			return 0;
		rc = dechunk(s);
		if (rc < 0)
			return rc;
		if (rc > 0)
			continue;
		left = (int)(deadline - hx_now_ms());
		if (left < 0)
			left = 0;
		rc = hx_fill(&s->c, left);
		if (rc == 0 || rc == -ECONNRESET || rc == -EPIPE)
			s->eof = true;
		else if (rc < 0)
			return rc;
	}
}

/* Reads events until one named method arrives (others are skipped); 1 found, else <= 0. */
static int stream_until(struct stream *s, const char *method, struct sev *ev, int timeout_ms)
{
	long long deadline = hx_now_ms() + timeout_ms;

	for (;;) {
		int left = (int)(deadline - hx_now_ms());
		int rc = stream_next(s, ev, left > 0 ? left : 0);

		if (rc <= 0)
			return rc;
		if (ev->method && strcmp(ev->method, method) == 0)
			return 1;
		sev_free(ev);
	}
}

enum drop { DROP_FIN, DROP_RST };

/* Ends our side: FIN (and waits up to 2 s for the daemon to close) or a reset. */
static void stream_drop(struct stream *s, enum drop how)
{
	if (s->c.fd >= 0) {
		if (how == DROP_FIN) {
			hx_shutdown_write(&s->c);
			hx_wait_closed(&s->c, 2000, NULL);
		} else {
			close_rst(&s->c);
		}
	}
	stream_free(s);
}

/* Opens sid's stream, retrying while the daemon still holds the previous one (409). */
static int stream_reopen(struct stream *s, int port, const char *sid, bool resume, uint64_t last,
			 int *conflicts)
{
	long long deadline = hx_now_ms() + 3000;
	int st;

	for (;;) {
		st = stream_open(s, port, sid, resume, last, 0);
		if (st != 409 || hx_now_ms() >= deadline)
			return st;
		if (conflicts)
			(*conflicts)++;
		stream_free(s);
		usleep(2000);
	}
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
	if (n <= 0)
		return 0;
	qsort(v, (size_t)n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static double percentile(double *v, int n, double p) /* v sorted */
{
	int i = (int)(p * (n - 1) + 0.5);

	return n > 0 ? v[i] : 0;
}

/* A sends n messages one at a time on its connection ca, one every pace_ms (0: at once);
 * each must arrive on b's stream, in order, before the next is sent. lat_ms gets each
 * send→receive time. Returns how many arrived in order. */
static int chat_round_paced(int port, struct hx_conn *ca, const char *sid_a, const char *room,
			    struct stream *sb, int n, double *lat_ms, const char *tag, int pace_ms)
{
	long long start = now_us();
	int i;

	for (i = 0; i < n; i++) {
		char text[64], id[64], err[32];
		struct sev ev;
		long long t0, due = start + (long long)i * pace_ms * 1000;
		const char *got_id, *got_text;
		int rc;

		while ((t0 = now_us()) < due)
			usleep((useconds_t)(due - t0));

		snprintf(text, sizeof(text), "%s-%04d", tag, i);
		if (send_msg(ca, port, sid_a, room, text, id, err) < 0) {
			printf("\n    %s message %d not sent: %s\n", tag, i, err);
			break;
		}
		rc = stream_until(sb, "message.received", &ev, 5000);
		if (rc != 1) {
			printf("\n    %s message %d not received (%d)\n", tag, i, rc);
			break;
		}
		got_id = str_of(ev.params, "message_id");
		got_text = str_of(ev.params, "message");
		if (!got_id || strcmp(got_id, id) != 0 || !got_text || strcmp(got_text, text) != 0) {
			printf("\n    %s message %d: expected %s '%s', got %s '%s'\n", tag, i, id, text,
			       got_id ? got_id : "-", got_text ? got_text : "-");
			sev_free(&ev);
			break;
		}
		sev_free(&ev);
		lat_ms[i] = (double)(now_us() - t0) / 1000.0;
	}
	return i;
}

static int chat_round(int port, struct hx_conn *ca, const char *sid_a, const char *room,
		      struct stream *sb, int n, double *lat_ms, const char *tag)
{
	return chat_round_paced(port, ca, sid_a, room, sb, n, lat_ms, tag, 0);
}

/* 1. Slowloris */

#define SLOW_CONNS 10000
#define SLOW_PROCS 2
#define CHAT_N 200
#define CHAT_PACE_MS 25 /* 200 messages over 5 s: through two head-timeout cycles */

static volatile sig_atomic_t slow_stop;

static void on_usr1(int sig)
{
	(void)sig;
	slow_stop = 1;
}

static void slow_open(struct pollfd *p, unsigned char *st, int port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	p->fd = -1;
	p->revents = 0;
	*st = 0;
	if (fd < 0)
		return;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 && errno != EINPROGRESS) {
		close(fd);
		return;
	}
	p->fd = fd;
	p->events = POLLOUT;
}

/* Holds n connections that each sent half a request head; reopens those the daemon closes
 * until SIGUSR1, then holds what it has (never closing) until killed. */
static void slowloris_child(int port, int n)
{
	static const char half[] = "POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\n"
				   "Accept: application/json, text/event-stream\r\nContent-Ty";
	struct sigaction sa = { .sa_handler = on_usr1 };
	struct pollfd *p = calloc((size_t)n, sizeof(*p));
	unsigned char *st = calloc((size_t)n, 1);
	struct rlimit rl;
	int opened = 0;
	long long next_batch = hx_now_ms();

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	sigaction(SIGUSR1, &sa, NULL);
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	if (!p || !st)
		_exit(1);
	for (int i = 0; i < n; i++)
		p[i].fd = -1;
	while (!slow_stop) {
		/* The first connections are spread over one head timeout (20 batches in 2 s), so
		 * the daemon's timeouts and the reconnections that follow are spread too. */
		if (opened < n && hx_now_ms() >= next_batch) {
			for (int i = opened; i < n && i < opened + n / 20 + 1; i++)
				slow_open(&p[i], &st[i], port);
			opened += n / 20 + 1;
			next_batch += 100;
		}
		if (poll(p, (nfds_t)n, opened < n ? 20 : 200) <= 0)
			continue;
		for (int i = 0; i < n && !slow_stop; i++) {
			short re = p[i].revents;

			if (!re || p[i].fd < 0)
				continue;
			if (st[i] == 0) {
				if (re & (POLLERR | POLLHUP) ||
				    send(p[i].fd, half, sizeof(half) - 1, MSG_NOSIGNAL) < 0) {
					close(p[i].fd);
					slow_open(&p[i], &st[i], port);
					continue;
				}
				st[i] = 1;
				p[i].events = POLLIN;
			} else {
				char buf[1024];
				ssize_t r = recv(p[i].fd, buf, sizeof(buf), 0);

				if (r > 0 || (r < 0 && (errno == EAGAIN || errno == EINTR)))
					continue; /* the 408; the close follows */
				close(p[i].fd);
				slow_open(&p[i], &st[i], port);
			}
		}
	}
	for (;;)
		pause();
}

static void reap_children(void)
{
	for (size_t i = 0; i < sizeof(children) / sizeof(children[0]); i++) {
		if (children[i] > 0) {
			kill(children[i], SIGKILL);
			waitpid(children[i], NULL, 0);
			children[i] = 0;
		}
	}
}

static void test_slowloris(void)
{
	static const char *const args[] = { "--rate", "100000", "--burst", "100000", NULL };
	struct dmn x = { .running = false };
	struct stream sb = { .c.fd = -1 };
	struct hx_conn ca = { .fd = -1 };
	char a[HX_SID_MAX], b[HX_SID_MAX];
	double *quiet = calloc(CHAT_N, sizeof(double)), *attack = calloc(CHAT_N, sizeof(double));
	double conns, peak = 0, lowest = 0;
	int nq = 0, na = 0, started = 0;
	long long t0;

	REQUIRE(quiet && attack);
	REQUIRE(dmn_start(&x, NULL, NULL, "[timeouts]\nhead_s = 2\n", args) == 0);
	REQUIRE(make_pair(x.d.port, "slow-room", a, b));
	REQUIRE(stream_open(&sb, x.d.port, b, false, 0, 0) == 200);

	/* A quiet baseline first. */
	nq = chat_round_paced(x.d.port, &ca, a, "slow-room", &sb, CHAT_N, quiet, "quiet",
			      CHAT_PACE_MS);
	CHECKF(nq == CHAT_N, "%d of %d quiet messages delivered in order", nq, CHAT_N);

	/* The attack: SLOW_PROCS processes hold SLOW_CONNS half-sent heads between them. */
	for (int i = 0; i < SLOW_PROCS; i++) {
		pid_t pid = fork();

		if (pid == 0) {
			slowloris_child(x.d.port, SLOW_CONNS / SLOW_PROCS);
			_exit(0);
		}
		REQUIRE(pid > 0);
		children[i] = pid;
		started++;
	}
	t0 = hx_now_ms();
	conns = metric_until(x.d.port, "mcpchat_connections", at_least, SLOW_CONNS * 0.95, 30000);
	lowest = conns;
	printf("\n    slowloris: %.0f connections open in the daemon after %lld ms", conns,
	       hx_now_ms() - t0);
	CHECKF(conns >= SLOW_CONNS * 0.95, "only %.0f stalled connections reached the daemon", conns);
	peak = conns;

	/* The pair keeps chatting through it, over 5 s in which the daemon times out the
	 * stalled heads and the attackers reconnect; a new client is served too. */
	for (int part = 0; part < 5 && na == part * (CHAT_N / 5); part++) {
		char tag[16];
		double v = metric(x.d.port, "mcpchat_connections");

		lowest = part == 0 || v < lowest ? v : lowest;
		snprintf(tag, sizeof(tag), "attack%d", part);
		na += chat_round_paced(x.d.port, &ca, a, "slow-room", &sb, CHAT_N / 5, attack + na, tag,
				       CHAT_PACE_MS);
	}
	CHECKF(na == CHAT_N, "%d of %d messages delivered in order during the attack", na, CHAT_N);
	CU_ASSERT(hx_serves_normal_client(x.d.port));
	conns = metric(x.d.port, "mcpchat_connections");
	if (conns < lowest)
		lowest = conns;
	printf("\n    slowloris: %.0f connections open after the chat under attack (at least %.0f "
	       "throughout); %.0f accepted in all", conns, lowest,
	       metric(x.d.port, "mcpchat_connections_accepted_total"));
	if (conns > peak)
		peak = conns;

	/* The attackers stop reconnecting but keep their sockets: the daemon frees its side
	 * after the 2 s head timeout. */
	for (int i = 0; i < started; i++)
		kill(children[i], SIGUSR1);
	t0 = hx_now_ms();
	conns = metric_until(x.d.port, "mcpchat_connections", at_most, 8, 15000);
	printf("\n    slowloris: %.0f connections left %lld ms after the attackers stopped reconnecting",
	       conns, hx_now_ms() - t0);
	CHECKF(at_most(conns, 8), "the daemon still holds %.0f connections", conns);
	reap_children();

	if (nq > 0 && na > 0) {
		double mq = median(quiet, nq), ma = median(attack, na);

		printf("\n    latency send->receive, %d messages each: quiet median %.3f ms (p99 %.3f, "
		       "max %.3f), under %d stalled connections median %.3f ms (p99 %.3f, max %.3f), "
		       "median ratio %.2f\n    ",
		       CHAT_N, mq, percentile(quiet, nq, 0.99), quiet[nq - 1], (int)peak, ma,
		       percentile(attack, na, 0.99), attack[na - 1], mq > 0 ? ma / mq : 0);
	}
	/* Still chatting after the attack. */
	CU_ASSERT(chat_round(x.d.port, &ca, a, "slow-room", &sb, 10, quiet, "after") == 10);
out:
	reap_children();
	hx_close(&ca);
	stream_free(&sb);
	if (x.running)
		STOP_OK(&x);
	free(x.log);
	free(quiet);
	free(attack);
}

/* 2. A push stream that never reads */

/* B's stream is read up to chatroom.found and then never again, while A sends n messages of
 * len bytes. A's sends must succeed or be refused mailbox_full; the daemon must drop the
 * stream (its 16 KiB send queue stays full: no byte moves for a keep-alive interval, here
 * 1 s); and B, resuming from the last event it read, must get every accepted message in
 * order, exactly once. */
static void deaf_stream(int n_sends, int len)
{
	static const char *const args[] = { "--rate", "100000", "--burst", "100000", NULL };
	struct dmn x = { .running = false };
	struct stream sb = { .c.fd = -1 };
	struct hx_conn ca = { .fd = -1 };
	char a[HX_SID_MAX], b[HX_SID_MAX], (*ids)[64] = calloc((size_t)n_sends, 64);
	char *text = malloc((size_t)len + 1);
	int n_ok = 0, n_full = 0, n_other = 0, got = 0, reconnects = 0, conflicts = 0;
	int order_errors = 0, extra = 0, missing = 0;
	uint64_t last;
	size_t unread = 0;
	struct sev ev;
	double streams;

	REQUIRE(ids && text);
	REQUIRE(dmn_start(&x, NULL, NULL,
			  "[limits]\nmax_send_queue_bytes = 16384\n[timeouts]\nsse_keepalive_s = 1\n",
			  args) == 0);
	REQUIRE(make_pair(x.d.port, "deaf-room", a, b));
	/* B opens its stream, reads chatroom.found, then never reads again. */
	REQUIRE(stream_open(&sb, x.d.port, b, false, 0, 0) == 200);
	REQUIRE(stream_until(&sb, "chatroom.found", &ev, 5000) == 1);
	sev_free(&ev);
	last = sb.last_id;
	CU_ASSERT(last > 0);

	for (int i = 0; i < n_sends; i++) {
		char err[32];
		int rc;

		memset(text, 'x', (size_t)len);
		text[len] = '\0';
		{
			char tag[24];
			int tl = snprintf(tag, sizeof(tag), "deaf-%04d-", i % 10000);

			memcpy(text, tag, (size_t)tl);
		}
		rc = send_msg(&ca, x.d.port, a, "deaf-room", text, ids[n_ok], err);
		if (rc == 0)
			n_ok++;
		else if (strcmp(err, "mailbox_full") == 0)
			n_full++;
		else {
			if (n_other++ == 0)
				printf("\n    send %d refused: %s", i, err);
		}
	}
	printf("\n    deaf stream: %d-byte messages: %d sends accepted, %d refused mailbox_full, "
	       "%d otherwise", len, n_ok, n_full, n_other);
	CHECKF(n_other == 0, "%d sends failed with something other than mailbox_full", n_other);
	CU_ASSERT(n_ok > 0);
	CHECKF(n_full > 0, "no mailbox_full after %d unread %d-byte messages", n_sends, len);

	/* The daemon dropped the stream: no push stream left, and the socket ends once read. */
	streams = metric_until(x.d.port, "mcpchat_push_streams", at_most, 0, 6000);
	CHECKF(streams == 0, "%.0f push streams still open", streams);
	CHECKF(hx_wait_closed(&sb.c, 5000, &unread), "the deaf stream was not closed");
	printf("\n    deaf stream: %zu unread bytes were waiting in the socket before its end", unread);
	stream_free(&sb);

	/* B resumes from the last event it read and gets every accepted message, in order,
	 * exactly once, however many reconnections that takes. */
	while (got < n_ok && reconnects < 2000) {
		int st = stream_reopen(&sb, x.d.port, b, true, last, &conflicts), rc;

		reconnects++;
		CHECKF(st == 200, "resume with Last-Event-ID %llu answered %d", (unsigned long long)last, st);
		if (st != 200)
			break;
		while ((rc = stream_next(&sb, &ev, got < n_ok ? 5000 : 300)) == 1) {
			if (ev.id <= last) {
				if (order_errors++ < 3)
					printf("\n    event id %llu after %llu", (unsigned long long)ev.id,
					       (unsigned long long)last);
			}
			last = ev.id;
			if (ev.method && strcmp(ev.method, "message.received") == 0) {
				const char *mid = str_of(ev.params, "message_id");

				if (got >= n_ok) {
					extra++;
				} else if (!mid || strcmp(mid, ids[got]) != 0) {
					int skip = got;

					/* Skip to it, to count what went missing. */
					while (mid && skip < n_ok && strcmp(mid, ids[skip]) != 0)
						skip++;
					if (order_errors++ < 3)
						printf("\n    message %d: expected %s, got %s (accepted message "
						       "%d)", got, ids[got], mid ? mid : "-", skip);
					if (mid && skip < n_ok) {
						missing += skip - got;
						got = skip + 1;
					} else {
						got++;
					}
				} else {
					got++;
				}
			}
			sev_free(&ev);
			if (got == n_ok)
				break;
		}
		if (rc < 0 && rc != -ETIMEDOUT)
			printf("\n    stream error %d", rc);
		if (rc == -ETIMEDOUT && got < n_ok) {
			printf("\n    stalled at message %d of %d", got, n_ok);
			break;
		}
		if (got == n_ok) {
			/* Nothing more may follow. */
			while (stream_next(&sb, &ev, 300) == 1) {
				if (ev.method && strcmp(ev.method, "message.received") == 0)
					extra++;
				sev_free(&ev);
			}
		}
		stream_free(&sb);
	}
	printf("\n    deaf stream: resumed over %d connections (%d answered 409 first), %d of %d "
	       "accepted messages received\n    ", reconnects, conflicts, got - missing, n_ok);
	CHECKF(got == n_ok && missing == 0, "%d of %d accepted messages received, %d skipped",
	       got - missing, n_ok, missing);
	CHECKF(order_errors == 0, "%d out of order or unexpected", order_errors);
	CHECKF(extra == 0, "%d messages more than were accepted", extra);
	CU_ASSERT(hx_serves_normal_client(x.d.port));
out:
	hx_close(&ca);
	stream_free(&sb);
	if (x.running)
		STOP_OK(&x);
	free(x.log);
	free(ids);
	free(text);
}

static void test_deaf_stream(void)
{
	deaf_stream(400, 4000);
}

/* The same with small messages: hundreds of them fit in the socket buffers (the client's
 * receive buffer as well as the daemon's 64 KiB send buffer), where they count as delivered. */
static void test_deaf_stream_small(void)
{
	deaf_stream(1500, 250);
}

/* 3. Clients that vanish mid-request */

/* Connects, sends len bytes, and goes: FIN or reset. */
static int vanish(int port, const char *data, size_t len, enum drop how)
{
	struct hx_conn c;
	int rc = hx_connect(&c, port);

	if (rc < 0)
		return rc;
	rc = hx_send(&c, data, len);
	if (how == DROP_RST)
		close_rst(&c);
	else
		hx_close(&c);
	return rc;
}

/* POSTs a wait_for_message that will wait, reads the response head, then vanishes. */
static int vanish_during_wait(int port, const char *sid, enum drop how)
{
	struct hx_conn c;
	struct hx_response r = { 0 };
	char *req = hx_post_request(sid, NULL,
				    "{\"jsonrpc\":\"2.0\",\"id\":5,\"method\":\"tools/call\",\"params\":"
				    "{\"name\":\"wait_for_message\",\"arguments\":{\"timeout_s\":30}}}");
	int rc = req ? hx_connect(&c, port) : -ENOMEM;

	if (rc < 0) {
		free(req);
		return rc;
	}
	rc = hx_send_str(&c, req);
	free(req);
	if (rc == 0)
		rc = hx_read_head(&c, &r, HX_TIMEOUT_MS);
	if (rc == 0 && (r.status != 200 || !r.chunked))
		rc = -EPROTO;
	hx_response_free(&r);
	if (how == DROP_RST)
		close_rst(&c);
	else
		hx_close(&c);
	return rc;
}

static void test_vanishing_clients(void)
{
	static const char half_head[] = "POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: appl";
	struct dmn x = { .running = false };
	struct stream sa = { .c.fd = -1 }, sd = { .c.fd = -1 };
	struct hx_conn ca = { .fd = -1 };
	char a[HX_SID_MAX], b[HX_SID_MAX], c[HX_SID_MAX], c2[HX_SID_MAX], d[HX_SID_MAX],
		d2[HX_SID_MAX], id[64], err[32], *half_body = NULL, *init = NULL, *list = NULL;
	double lat[20], v;
	struct tres t;
	struct sev ev;
	int fails = 0, conflicts = 0;

	REQUIRE(dmn_start(&x, NULL, NULL, NULL, NULL) == 0);
	REQUIRE(make_pair(x.d.port, "normal", a, b));
	REQUIRE(make_pair(x.d.port, "poll-room", c, c2));
	REQUIRE(make_pair(x.d.port, "push-room", d, d2));
	/* B reads its stream throughout (as sa: the normal pair's receiver). */
	REQUIRE(stream_open(&sa, x.d.port, b, false, 0, 0) == 200);

	REQUIRE(asprintf(&half_body, "POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\n"
				     "Accept: application/json, text/event-stream\r\n"
				     "Content-Type: application/json\r\nMcp-Session-Id: %s\r\n"
				     "Content-Length: 200\r\n\r\n{\"jsonrpc\":\"2.0\",\"id\":1,\"met", a) > 0);
	init = hx_post_request(NULL, NULL,
			       "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":{"
			       "\"protocolVersion\":\"2025-11-25\",\"capabilities\":{},"
			       "\"clientInfo\":{\"name\":\"gone\",\"version\":\"1\"}}}");
	list = hx_post_request(a, NULL, "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"tools/list\"}");
	REQUIRE(init && list);

	for (int i = 0; i < 40; i++) {
		enum drop how = i % 2 ? DROP_RST : DROP_FIN;

		fails += vanish(x.d.port, half_head, sizeof(half_head) - 1, how) < 0;
		fails += vanish(x.d.port, half_body, strlen(half_body), how) < 0;
		/* A whole request, gone before its answer: the daemon writes to a dead socket. */
		fails += vanish(x.d.port, init, strlen(init), how) < 0;
		fails += vanish(x.d.port, list, strlen(list), how) < 0;
	}
	CHECKF(fails == 0, "%d connections could not even be made", fails);

	/* wait_for_message long polls abandoned mid-wait (after C has read chatroom.found). */
	CU_ASSERT(tool(NULL, x.d.port, c, "wait_for_message", "{\"timeout_s\":0}", &t) == 0);
	tres_free(&t);
	for (int i = 0; i < 10; i++)
		CU_ASSERT(vanish_during_wait(x.d.port, c, i % 2 ? DROP_RST : DROP_FIN) == 0);
	v = metric_until(x.d.port, "mcpchat_waiting_calls", at_most, 0, 3000);
	CHECKF(v == 0, "%.0f wait_for_message calls still held", v);
	/* The long-poll's session works, and a message after the vanishings reaches it. */
	CU_ASSERT(tool(NULL, x.d.port, c, "get_status", "{}", &t) == 0 && !t.is_error &&
		  str_of(t.sc, "state") && strcmp(str_of(t.sc, "state"), "in_room") == 0);
	tres_free(&t);
	CU_ASSERT(send_msg(NULL, x.d.port, c2, "poll-room", "after the vanishing", id, err) == 0);
	CU_ASSERT(tool(NULL, x.d.port, c, "wait_for_message", "{\"timeout_s\":5}", &t) == 0);
	{
		const cJSON *evs = cJSON_GetObjectItemCaseSensitive(t.sc, "events"), *e;
		bool found = false;

		cJSON_ArrayForEach(e, evs) {
			const cJSON *p = cJSON_GetObjectItemCaseSensitive(e, "params");
			const char *m = str_of(p, "message_id");

			found |= m && strcmp(m, id) == 0;
		}
		CHECKF(found, "the message sent after the abandoned long polls did not reach them");
	}
	tres_free(&t);

	/* Push streams abandoned (FIN, then reset): each time the session may open a new one. */
	for (int i = 0; i < 10; i++) {
		int st = stream_reopen(&sd, x.d.port, d, false, 0, &conflicts);

		CHECKF(st == 200, "push stream %d answered %d", i, st);
		if (i % 2)
			close_rst(&sd.c);
		else
			hx_close(&sd.c);
		stream_free(&sd);
	}
	v = metric_until(x.d.port, "mcpchat_push_streams", at_most, 1, 3000);
	CHECKF(v == 1, "%.0f push streams open (only the normal pair's should be)", v);
	CU_ASSERT(stream_reopen(&sd, x.d.port, d, false, 0, &conflicts) == 200);
	CU_ASSERT(send_msg(NULL, x.d.port, d2, "push-room", "to the reopened stream", id, err) == 0);
	if (stream_until(&sd, "message.received", &ev, 5000) == 1) {
		const char *m = str_of(ev.params, "message_id");

		CU_ASSERT(m && strcmp(m, id) == 0);
		sev_free(&ev);
	} else {
		CU_FAIL("the reopened push stream got no message");
	}
	printf("\n    vanishing: %d reopened streams answered 409 first\n    ", conflicts);

	/* The normal pair still chats; a new client is served; the connections are gone. */
	CU_ASSERT(chat_round(x.d.port, &ca, a, "normal", &sa, 20, lat, "normal") == 20);
	CU_ASSERT(hx_serves_normal_client(x.d.port));
	v = metric_until(x.d.port, "mcpchat_connections", at_most, 4, 5000);
	CHECKF(at_most(v, 4), "%.0f connections still open", v);
out:
	free(half_body);
	free(init);
	free(list);
	hx_close(&ca);
	stream_free(&sa);
	stream_free(&sd);
	if (x.running)
		STOP_OK(&x);
	free(x.log);
}

/* 4. Initialize flood up to the session cap */

#define CAP 200
#define FLOOD 220

static void test_initialize_flood(void)
{
	static const char *const args[] = { "--max-sessions", "200", NULL };
	struct dmn x = { .running = false };
	struct hx_conn *c = calloc(FLOOD, sizeof(*c));
	char (*sids)[HX_SID_MAX] = calloc(FLOOD, HX_SID_MAX), *init = NULL, sid[HX_SID_MAX];
	int ok = 0, busy = 0, other = 0, busy_checked = 0;
	struct hx_response r;

	REQUIRE(c && sids);
	for (int i = 0; i < FLOOD; i++)
		c[i].fd = -1;
	REQUIRE(dmn_start(&x, NULL, NULL, NULL, args) == 0);
	init = hx_post_request(NULL, NULL,
			       "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":{"
			       "\"protocolVersion\":\"2025-11-25\",\"capabilities\":{},"
			       "\"clientInfo\":{\"name\":\"flood\",\"version\":\"1\"}}}");
	REQUIRE(init);
	/* All at once: every request is on the wire before any answer is read. */
	for (int i = 0; i < FLOOD; i++) {
		REQUIRE(hx_connect(&c[i], x.d.port) == 0);
		REQUIRE(hx_send_str(&c[i], init) == 0);
	}
	for (int i = 0; i < FLOOD; i++) {
		char ra[32] = "";
		cJSON *j;

		if (hx_read_response(&c[i], &r, HX_TIMEOUT_MS) < 0) {
			other++;
			continue;
		}
		if (r.status == 200 && hx_header(&r, "Mcp-Session-Id", sids[ok], HX_SID_MAX)) {
			ok++;
		} else if (r.status == 503) {
			busy++;
			j = hx_json(&r);
			CHECKF(hx_header(&r, "Retry-After", ra, sizeof(ra)) && atoi(ra) > 0,
			       "503 without a usable Retry-After");
			CHECKF(!hx_header(&r, "Mcp-Session-Id", sid, sizeof(sid)),
			       "a refused initialize got a session id");
			CHECKF(j && str_of(j, "jsonrpc") && strcmp(str_of(j, "jsonrpc"), "2.0") == 0 &&
				       hx_rpc_code(&r) < 0 &&
				       str_of(cJSON_GetObjectItemCaseSensitive(j, "error"), "message"),
			       "503 body is not a JSON-RPC error: %s", r.body ? r.body : "(none)");
			if (!busy_checked++)
				printf("\n    flood: the 503 says Retry-After: %s, %s", ra, r.body);
			cJSON_Delete(j);
		} else {
			other++;
		}
		hx_response_free(&r);
	}
	printf("\n    flood: %d initializes at once: %d sessions, %d refused 503, %d other\n    ",
	       FLOOD, ok, busy, other);
	CU_ASSERT_EQUAL(ok, CAP);
	CU_ASSERT_EQUAL(busy, FLOOD - CAP);
	CU_ASSERT_EQUAL(other, 0);
	CU_ASSERT_EQUAL(metric(x.d.port, "mcpchat_sessions"), CAP);

	/* One more, one at a time: still refused. */
	CU_ASSERT(hx_post(x.d.port, NULL, strstr(init, "\r\n\r\n") + 4, &r) == 0 && r.status == 503);
	hx_response_free(&r);
	/* DELETE one: now there is room for exactly one. */
	REQUIRE(ok > 0);
	CU_ASSERT_EQUAL(delete_session(x.d.port, sids[0]), 200);
	CU_ASSERT_EQUAL(ping_status(x.d.port, sids[0]), 404);
	CU_ASSERT(hx_initialize(x.d.port, NULL, sid, sizeof(sid)) == 0);
	CU_ASSERT_EQUAL(ping_status(x.d.port, sid), 200);
	CU_ASSERT(hx_post(x.d.port, NULL, strstr(init, "\r\n\r\n") + 4, &r) == 0 && r.status == 503);
	hx_response_free(&r);
	/* The sessions that got in all work. */
	{
		int working = 0;

		for (int i = 1; i < ok; i++)
			working += ping_status(x.d.port, sids[i]) == 200;
		CU_ASSERT_EQUAL(working, ok - 1);
	}
out:
	for (int i = 0; c && i < FLOOD; i++)
		hx_close(&c[i]);
	if (x.running)
		STOP_OK(&x);
	free(x.log);
	free(c);
	free(sids);
	free(init);
}

/* 5. Soak: 10 000 messages across 1 000 stream drops */

#define SOAK_N 10000
#define SOAK_EVERY 10
/* How far A may run ahead of what B has read: inside the replay window the contract promises
 * (the last 256 events), since events in B's socket buffers count as delivered. */
#define SOAK_LEAD 200

static void test_soak(void)
{
	static const char *const args[] = { "--rate", "1000000", "--burst", "1000000", NULL };
	struct dmn x = { .running = false };
	struct stream sb = { .c.fd = -1 };
	struct hx_conn ca = { .fd = -1 };
	char a[HX_SID_MAX], b[HX_SID_MAX], (*ids)[64] = calloc(SOAK_N, 64);
	int n_sent = 0, got = 0, since = 0, drops = 0, fin = 0, rst = 0, conflicts = 0;
	int full = 0, limited = 0, bad = 0, ends = 0, stalls = 0, unread_drops = 0;
	unsigned rnd = 1;
	uint64_t last;
	long long t0 = hx_now_ms(), deadline = t0 + 75000;
	struct sev ev;

	REQUIRE(ids);
	REQUIRE(dmn_start(&x, NULL, NULL, NULL, args) == 0);
	REQUIRE(make_pair(x.d.port, "soak-room", a, b));
	REQUIRE(stream_open(&sb, x.d.port, b, false, 0, 0) == 200);
	REQUIRE(stream_until(&sb, "chatroom.found", &ev, 5000) == 1);
	sev_free(&ev);
	last = sb.last_id;

	while (got < SOAK_N && hx_now_ms() < deadline && bad < 5) {
		/* A sends a burst of 1..60, staying at most SOAK_LEAD ahead of what B has read. */
		int burst = 1 + (int)((rnd = rnd * 1103515245u + 12345u) >> 16) % 60;

		if (burst > SOAK_LEAD - (n_sent - got))
			burst = SOAK_LEAD - (n_sent - got);

		for (int k = 0; k < burst && n_sent < SOAK_N; k++) {
			char text[32], err[32];

			snprintf(text, sizeof(text), "soak-%05d", n_sent);
			if (send_msg(&ca, x.d.port, a, "soak-room", text, ids[n_sent], err) == 0) {
				n_sent++;
			} else if (strcmp(err, "mailbox_full") == 0) {
				full++; /* retried after B has read */
				break;
			} else if (strcmp(err, "rate_limited") == 0) {
				limited++;
				break;
			} else {
				printf("\n    soak: send %d failed: %s", n_sent, err);
				bad++;
				break;
			}
		}
		/* B reads until it has caught up or has read SOAK_EVERY messages on this stream;
		 * then the stream is dropped, whatever else is already in its socket. */
		while (got < n_sent) {
			int rc = stream_next(&sb, &ev, 5000);

			if (rc == 0) { /* the daemon ended the stream: resume */
				ends++;
				stream_free(&sb);
				if (stream_reopen(&sb, x.d.port, b, true, last, &conflicts) != 200) {
					bad++;
					break;
				}
				continue;
			}
			if (rc < 0) {
				printf("\n    soak: stalled at message %d of %d (%d)", got, n_sent, rc);
				stalls++;
				bad++;
				break;
			}
			if (ev.id <= last) {
				if (bad++ < 3)
					printf("\n    soak: event id %llu after %llu",
					       (unsigned long long)ev.id, (unsigned long long)last);
			}
			last = ev.id;
			if (ev.method && strcmp(ev.method, "message.received") == 0) {
				const char *mid = str_of(ev.params, "message_id");

				if (!mid || strcmp(mid, ids[got]) != 0) {
					if (bad++ < 3)
						printf("\n    soak: message %d: expected %s, got %s", got,
						       ids[got], mid ? mid : "-");
				}
				got++;
				since++;
			}
			sev_free(&ev);
			if (since == SOAK_EVERY) {
				enum drop how = drops % 2 ? DROP_RST : DROP_FIN;

				since = 0;
				drops++;
				if (sb.c.len || sb.dlen || got < n_sent)
					unread_drops++;
				if (how == DROP_RST)
					rst++;
				else
					fin++;
				stream_drop(&sb, how);
				if (stream_reopen(&sb, x.d.port, b, true, last, &conflicts) != 200) {
					printf("\n    soak: resume after drop %d refused", drops);
					bad++;
				}
				break;
			}
		}
	}
	printf("\n    soak: %d of %d messages sent and received in order in %lld ms; %d stream drops "
	       "(%d FIN, %d RST; %d with messages sent but not yet read), %d resumes answered 409 "
	       "first, %d mailbox_full retried, %d rate_limited, %d streams ended by the daemon\n    ",
	       got, n_sent, hx_now_ms() - t0, drops, fin, rst, unread_drops, conflicts, full,
	       limited, ends);
	CHECKF(n_sent == SOAK_N, "only %d of %d sent", n_sent, SOAK_N);
	CHECKF(got == n_sent, "%d of %d received", got, n_sent);
	CHECKF(bad == 0, "%d errors (order, duplicates, refusals, stalls %d)", bad, stalls);
	CU_ASSERT(drops >= SOAK_N / SOAK_EVERY - 1);
	/* Nothing after the last. */
	if (sb.c.fd >= 0 && stream_next(&sb, &ev, 300) == 1) {
		CHECKF(!ev.method || strcmp(ev.method, "message.received") != 0,
		       "a message after the last one sent");
		sev_free(&ev);
	}
out:
	hx_close(&ca);
	stream_free(&sb);
	if (x.running)
		STOP_OK(&x);
	free(x.log);
	free(ids);
}

/* 6. Session safety */

static bool id_shape_ok(const char *id)
{
	size_t n = strlen(id);

	if (n != 32)
		return false;
	for (size_t i = 0; i < n; i++) {
		char ch = id[i];

		if (!((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
		      ch == '-' || ch == '_'))
			return false;
	}
	return true;
}

/* One command to the control socket: the parsed answer line, or NULL. */
static cJSON *ctl_query(const char *path, const char *cmd)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char buf[65536];
	size_t len = 0;
	long long deadline = hx_now_ms() + 5000;
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	cJSON *j = NULL;

	if (fd < 0)
		return NULL;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    write(fd, cmd, strlen(cmd)) != (ssize_t)strlen(cmd) || write(fd, "\n", 1) != 1)
		goto out;
	while (len < sizeof(buf) - 1 && !memchr(buf, '\n', len)) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		int left = (int)(deadline - hx_now_ms());
		ssize_t n;

		if (left <= 0 || poll(&p, 1, left) <= 0)
			goto out;
		n = read(fd, buf + len, sizeof(buf) - 1 - len);
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	buf[len] = '\0';
	j = cJSON_Parse(buf);
out:
	close(fd);
	return j;
}

/* Every event of a wait_for_message(after 0, timeout 0) for sid, as one JSON text. */
static char *all_events_text(int port, const char *sid)
{
	struct tres t;
	char *text = NULL;

	if (tool(NULL, port, sid, "wait_for_message", "{\"timeout_s\":0,\"after\":0}", &t) == 0)
		text = cJSON_PrintUnformatted(cJSON_GetObjectItemCaseSensitive(t.sc, "events"));
	tres_free(&t);
	return text;
}

#define N_SAFE 4

static void test_session_safety(void)
{
	static const char *const args[] = { "--log-level", "debug", NULL };
	static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	struct dmn x = { .running = false };
	struct stream sa = { .c.fd = -1 }, sb = { .c.fd = -1 }, sm = { .c.fd = -1 };
	char sid[N_SAFE][HX_SID_MAX]; /* A, B (a pair), C, D (idle) */
	char secret[32], to_a[3][64], to_b[3][64], id[64], err[32], *text = NULL;
	unsigned char rnd[6];
	cJSON *ans = NULL;
	const cJSON *s;
	int handles = 0, got_a = 0, got_b = 0, mutated_ok = 0, leaks = 0;
	struct sev ev;
	FILE *ur = fopen("/dev/urandom", "r");

	REQUIRE(ur && fread(rnd, 1, sizeof(rnd), ur) == sizeof(rnd));
	snprintf(secret, sizeof(secret), "%02x%02x%02x%02x%02x%02x", rnd[0], rnd[1], rnd[2], rnd[3],
		 rnd[4], rnd[5]);
	for (int i = 0; i < 3; i++) {
		snprintf(to_a[i], sizeof(to_a[i]), "Quokka-lantern-%s-%d", secret, i);
		snprintf(to_b[i], sizeof(to_b[i]), "Okapi-harbour-%s-%d", secret, i);
	}
	REQUIRE(dmn_start(&x, NULL, NULL, NULL, args) == 0);
	REQUIRE(make_pair(x.d.port, "safe-room", sid[0], sid[1]));
	for (int i = 2; i < N_SAFE; i++)
		REQUIRE(hx_initialize(x.d.port, NULL, sid[i], HX_SID_MAX) == 0);
	for (int i = 0; i < N_SAFE; i++) {
		CHECKF(id_shape_ok(sid[i]), "session id '%s' is not 32 base64url characters", sid[i]);
		for (int k = 0; k < i; k++)
			CU_ASSERT(strcmp(sid[i], sid[k]) != 0);
	}

	/* A and B talk, each on its own stream. */
	REQUIRE(stream_open(&sa, x.d.port, sid[0], false, 0, 0) == 200);
	REQUIRE(stream_open(&sb, x.d.port, sid[1], false, 0, 0) == 200);
	for (int i = 0; i < 3; i++) {
		CU_ASSERT(send_msg(NULL, x.d.port, sid[1], "safe-room", to_a[i], id, err) == 0);
		CU_ASSERT(send_msg(NULL, x.d.port, sid[0], "safe-room", to_b[i], id, err) == 0);
	}
	/* Each stream carries its own session's events and nothing of the other's. */
	for (struct stream *st = &sa; st; st = st == &sa ? &sb : NULL) {
		int *got = st == &sa ? &got_a : &got_b;
		char (*mine)[64] = st == &sa ? to_a : to_b, (*theirs)[64] = st == &sa ? to_b : to_a;

		while (*got < 3 && stream_next(st, &ev, 3000) == 1) {
			char *j = cJSON_PrintUnformatted(ev.msg);

			for (int i = 0; j && i < 3; i++) {
				CHECKF(!strstr(j, theirs[i]), "%s's stream shows '%s'",
				       st == &sa ? "A" : "B", theirs[i]);
				*got += strstr(j, mine[i]) != NULL;
			}
			for (int i = 0; j && i < N_SAFE; i++)
				CHECKF(!strstr(j, sid[i]), "an event shows a session id: %s", j);
			cJSON_free(j);
			sev_free(&ev);
		}
	}
	CU_ASSERT_EQUAL(got_a, 3);
	CU_ASSERT_EQUAL(got_b, 3);
	/* wait_for_message from the start: B's never shows A's messages, C's and D's are empty. */
	for (int i = 0; i < N_SAFE; i++) {
		text = all_events_text(x.d.port, sid[i]);
		REQUIRE(text);
		for (int k = 0; k < 3; k++) {
			CHECKF(i == 0 || !strstr(text, to_a[k]), "session %d reads A's message", i);
			CHECKF(i == 1 || !strstr(text, to_b[k]), "session %d reads B's message", i);
		}
		if (i >= 2)
			CHECKF(strcmp(text, "[]") == 0, "an idle session reads events: %s", text);
		for (int k = 0; k < N_SAFE; k++)
			CHECKF(!strstr(text, sid[k]), "events show a session id");
		free(text);
		text = NULL;
	}

	/* Ids one character away, truncated, extended or case-flipped: 404, and A unharmed. */
	for (int i = 0; i < 32; i++) {
		char m[HX_SID_MAX];
		const char *p;

		snprintf(m, sizeof(m), "%s", sid[0]);
		p = strchr(b64, m[i]);
		m[i] = b64[p ? ((p - b64) + 1 + i) % 64 : 0];
		if (ping_status(x.d.port, m) == 404 &&
		    stream_open(&sm, x.d.port, m, false, 0, 0) == 404 && delete_session(x.d.port, m) == 404)
			mutated_ok++;
		stream_free(&sm);
	}
	CHECKF(mutated_ok == 32, "only %d of 32 one-character changes were refused with 404", mutated_ok);
	{
		char m[HX_SID_MAX * 2];

		snprintf(m, sizeof(m), "%.31s", sid[0]);
		CU_ASSERT_EQUAL(ping_status(x.d.port, m), 404);
		snprintf(m, sizeof(m), "%sA", sid[0]);
		CU_ASSERT_EQUAL(ping_status(x.d.port, m), 404);
		snprintf(m, sizeof(m), "%s", sid[0]);
		for (char *q = m; *q; q++)
			if (*q >= 'a' && *q <= 'z')
				*q = (char)(*q - 32);
			else if (*q >= 'A' && *q <= 'Z')
				*q = (char)(*q + 32);
		if (strcmp(m, sid[0]) != 0)
			CU_ASSERT_EQUAL(ping_status(x.d.port, m), 404);
	}
	CU_ASSERT_EQUAL(ping_status(x.d.port, sid[0]), 200);

	/* Admin handles are not session ids. */
	ans = ctl_query(x.sock, "{\"cmd\":\"sessions\"}");
	REQUIRE(ans && cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(ans, "ok")));
	cJSON_ArrayForEach(s, cJSON_GetObjectItemCaseSensitive(
				      cJSON_GetObjectItemCaseSensitive(ans, "data"), "sessions")) {
		const char *h = str_of(s, "handle");

		if (!h)
			continue;
		handles++;
		CHECKF(ping_status(x.d.port, h) == 404, "handle %s works as a session id", h);
		CHECKF(stream_open(&sm, x.d.port, h, false, 0, 0) == 404, "handle %s opens a stream", h);
		stream_free(&sm);
		for (int i = 0; i < N_SAFE; i++)
			CU_ASSERT(!strstr(sid[i], h));
	}
	CU_ASSERT_EQUAL(handles, N_SAFE);
	text = cJSON_PrintUnformatted(ans);
	for (int i = 0; text && i < N_SAFE; i++)
		CHECKF(!strstr(text, sid[i]), "the control socket shows a session id");
	cJSON_free(text);
	text = NULL;
	cJSON_Delete(ans);
	ans = NULL;
	/* Nor does /metrics show one. */
	{
		static const char req[] = "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
		struct hx_response r;

		if (hx_roundtrip(x.d.port, req, sizeof(req) - 1, &r) == 0 && r.body)
			for (int i = 0; i < N_SAFE; i++)
				CU_ASSERT(!strstr(r.body, sid[i]));
		hx_response_free(&r);
	}
	/* One more message after all that, then end one session by DELETE. */
	CU_ASSERT(send_msg(NULL, x.d.port, sid[1], "safe-room", "Final-wombat-message", id, err) == 0);
	CU_ASSERT_EQUAL(delete_session(x.d.port, sid[2]), 200);
	stream_free(&sa);
	stream_free(&sb);

	/* The debug log names no message and no session id. */
	REQUIRE(dmn_stop(&x, false) == 0);
	REQUIRE(x.log);
	CHECKF(strstr(x.log, "session") != NULL, "the debug log is empty: the check proves nothing");
	for (int i = 0; i < 3; i++) {
		leaks += strstr(x.log, to_a[i]) != NULL;
		leaks += strstr(x.log, to_b[i]) != NULL;
	}
	leaks += strstr(x.log, secret) != NULL;
	leaks += strstr(x.log, "Final-wombat-message") != NULL;
	CHECKF(leaks == 0, "%d message texts in the debug log", leaks);
	for (int i = 0; i < N_SAFE; i++)
		CHECKF(!strstr(x.log, sid[i]), "session id %d (%s) in the debug log", i, sid[i]);
	{
		size_t lines = 0;

		for (const char *p = x.log; *p; p++)
			lines += *p == '\n';
		printf("\n    safety: %zu debug log lines checked, %d handles, 32 one-character "
		       "variants refused\n    ", lines, handles);
	}
out:
	if (ur)
		fclose(ur);
	cJSON_Delete(ans);
	free(text);
	stream_free(&sa);
	stream_free(&sb);
	stream_free(&sm);
	if (x.running)
		STOP_OK(&x);
	free(x.log);
}

/* 7. Graceful shutdown and restart */

static void test_shutdown_restart(void)
{
	struct dmn x = { .running = false }, y = { .running = false };
	struct stream st[4];
	char sid[4][HX_SID_MAX], listen[64], sock[108];
	bool told[4] = { false }, ended[4] = { false }, before_end[4] = { false };
	long long t0;
	int rc, port;

	memset(&y, 0, sizeof(y));
	for (int i = 0; i < 4; i++) {
		memset(&st[i], 0, sizeof(st[i]));
		st[i].c.fd = -1;
	}
	REQUIRE(dmn_start(&x, NULL, NULL, NULL, NULL) == 0);
	port = x.d.port;
	snprintf(sock, sizeof(sock), "%s", x.sock);
	REQUIRE(make_pair(x.d.port, "bye-1", sid[0], sid[1]));
	REQUIRE(make_pair(x.d.port, "bye-2", sid[2], sid[3]));
	for (int i = 0; i < 4; i++) {
		struct sev ev;

		REQUIRE(stream_open(&st[i], x.d.port, sid[i], false, 0, 0) == 200);
		REQUIRE(stream_until(&st[i], "chatroom.found", &ev, 5000) == 1);
		sev_free(&ev);
	}

	/* SIGTERM, then read every stream to its end. */
	t0 = hx_now_ms();
	REQUIRE(kill(x.d.pid, SIGTERM) == 0);
	for (int i = 0; i < 4; i++) {
		struct sev ev;

		while ((rc = stream_next(&st[i], &ev, 6000)) == 1) {
			if (ev.method && strcmp(ev.method, "partner.disconnected") == 0) {
				const char *why = str_of(ev.params, "reason");

				CHECKF(why && strcmp(why, "disconnected") == 0, "reason %s", why ? why : "-");
				told[i] = true;
			}
			sev_free(&ev);
		}
		ended[i] = rc == 0;
		before_end[i] = told[i] && ended[i];
	}
	rc = dmn_stop(&x, true);
	printf("\n    shutdown: exit status %d after %lld ms; partner.disconnected seen by %d%d %d%d "
	       "(pair 1, pair 2); streams ended by %s",
	       rc, hx_now_ms() - t0, told[0], told[1], told[2], told[3],
	       st[0].term ? "chunked terminator" : "close");
	CU_ASSERT_EQUAL(rc, 0);
	CU_ASSERT(hx_now_ms() - t0 < 5000);
	for (int i = 0; i < 4; i++)
		CHECKF(ended[i], "stream %d did not end", i);
	/* In each pair the one still connected when the other's session ended is told. */
	CHECKF(before_end[0] || before_end[1], "nobody in pair 1 was told before the stream ended");
	CHECKF(before_end[2] || before_end[3], "nobody in pair 2 was told before the stream ended");

	/* At once, a new daemon on the same port and control socket path. */
	snprintf(listen, sizeof(listen), "127.0.0.1:%d", port);
	t0 = hx_now_ms();
	rc = dmn_start(&y, listen, sock, NULL, NULL);
	CHECKF(rc == 0, "restart on port %d failed: %s", port, strerror(-rc));
	REQUIRE(rc == 0);
	CU_ASSERT_EQUAL(y.d.port, port);
	CU_ASSERT(hx_serves_normal_client(y.d.port));
	printf("\n    restart: serving on the same port %lld ms after the old daemon exited\n    ",
	       hx_now_ms() - t0);
	{
		cJSON *ans = ctl_query(y.sock, "{\"cmd\":\"status\"}");

		CHECKF(ans && cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(ans, "ok")),
		       "the new daemon's control socket does not answer");
		cJSON_Delete(ans);
	}
out:
	for (int i = 0; i < 4; i++)
		stream_free(&st[i]);
	if (x.running)
		STOP_OK(&x);
	if (y.running)
		STOP_OK(&y);
	free(x.log);
	free(y.log);
}

/* Runner */

static void teardown(void)
{
	reap_children();
	for (int i = 0; i < MAX_TRACKED; i++) {
		if (tracked[i]) {
			struct dmn *x = tracked[i];

			printf("\n    teardown: stopping a daemon left running");
			dmn_stop(x, false);
			free(x->log);
			x->log = NULL;
		}
	}
}

static const struct unit_test tests[] = {
	{ "slowloris: 10000 stalled heads, the pair keeps chatting", test_slowloris },
	{ "a push stream that never reads is dropped, then resumed", test_deaf_stream },
	{ "a never-reading stream, 250-byte messages: nothing accepted is lost", test_deaf_stream_small },
	{ "clients that vanish mid-request", test_vanishing_clients },
	{ "initialize flood up to the session cap", test_initialize_flood },
	{ "soak: 10000 messages across 1000 stream drops", test_soak },
	{ "session safety: ids, handles, isolation, log", test_session_safety },
	{ "graceful shutdown, restart on the same port", test_shutdown_restart },
	{ NULL, NULL },
};

int main(int argc, char **argv)
{
	static const struct unit_suite suites[] = {
		{ "e2e_hostile", tests, hx_suite_init, NULL, NULL, teardown },
		{ NULL, NULL, NULL, NULL, NULL, NULL },
	};

	setvbuf(stdout, NULL, _IOLBF, 0);
	return unit_main_only(suites, argc > 1 ? argv[1] : NULL);
}
