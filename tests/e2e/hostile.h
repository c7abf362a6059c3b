#ifndef MCPCHAT_TESTS_E2E_HOSTILE_H
#define MCPCHAT_TESTS_E2E_HOSTILE_H

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

/* Hostile clients against the built mcp-chatd (path in $MCPCHATD), loopback only.
 *
 * Each test starts its own daemon (a unique control socket, a config file when it needs one),
 * does something a hostile or broken client would do, checks that a normal pair of sessions
 * still chats correctly, and stops the daemon with SIGTERM, which must exit 0 (with a
 * sanitizer build that also means no leak and no memory error). Timing is printed, never
 * asserted: benchmark figures belong in bench/.
 *
 * This header is what the test_hostile_*.c suites share (one executable each, header-only like
 * tests/unit/unit.h): daemons started and tracked, requests and tool calls, metrics, raw push
 * streams, paced chat rounds, the teardown that stops what a failed test left running. */

static inline long long now_us(void)
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

static inline void track(struct dmn *x)
{
	for (int i = 0; i < MAX_TRACKED; i++)
		if (!tracked[i]) {
			tracked[i] = x;
			return;
		}
}

static inline void untrack(struct dmn *x)
{
	for (int i = 0; i < MAX_TRACKED; i++)
		if (tracked[i] == x)
			tracked[i] = NULL;
}

static int serial;

/* Starts the daemon on listen (NULL: 127.0.0.1:0) with config text (or none), a control
 * socket at sock (NULL: a fresh temporary path) and extra arguments. */
static inline int dmn_start(struct dmn *x, const char *listen, const char *sock, const char *config,
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
static inline bool log_is_clean(const char *log)
{
	return !strstr(log, "Sanitizer") && !strstr(log, "runtime error:") &&
	       !strstr(log, "AddressSanitizer");
}

static inline void print_log_digest(const char *log)
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
static inline int dmn_stop(struct dmn *x, bool keep_sock)
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
static inline cJSON *rpc_message(const struct hx_response *r)
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

static inline void tres_free(struct tres *t)
{
	cJSON_Delete(t->msg);
	memset(t, 0, sizeof(*t));
}

/* Sends req on c (connecting when c->fd < 0); NULL c: a fresh connection. */
static inline int request(struct hx_conn *c, int port, const char *req, struct hx_response *r)
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
static inline int tool(struct hx_conn *c, int port, const char *sid, const char *name, const char *args,
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

static inline const char *str_of(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

static inline bool join_room(int port, const char *sid, const char *room, const char *name)
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
static inline bool make_pair(int port, const char *room, char a[HX_SID_MAX], char b[HX_SID_MAX])
{
	return hx_initialize(port, NULL, a, HX_SID_MAX) == 0 &&
	       hx_initialize(port, NULL, b, HX_SID_MAX) == 0 && join_room(port, a, room, "Ann") &&
	       join_room(port, b, room, "Bob");
}

/* send_message; 0 and the message id on success, else the refusal code in err. */
static inline int send_msg(struct hx_conn *c, int port, const char *sid, const char *room,
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

static inline int delete_session(int port, const char *sid)
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
static inline int ping_status(int port, const char *sid)
{
	struct hx_response r;
	int rc = hx_post(port, sid, "{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"ping\"}", &r);

	rc = rc < 0 ? rc : r.status;
	hx_response_free(&r);
	return rc;
}

/* A value from GET /metrics, or -1. */
static inline double metric(int port, const char *name)
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
static inline double metric_until(int port, const char *name, bool (*pred)(double, double), double arg,
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

static inline bool at_most(double v, double max)
{
	return v >= 0 && v <= max;
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

static inline void sev_free(struct sev *e)
{
	cJSON_Delete(e->msg);
	memset(e, 0, sizeof(*e));
}

static inline void stream_free(struct stream *s)
{
	hx_close(&s->c);
	free(s->data);
	memset(s, 0, sizeof(*s));
	s->c.fd = -1;
}

/* GET /mcp as sid (with Last-Event-ID when resume); returns the HTTP status (200: open). A
 * rcvbuf > 0 shrinks the socket's receive buffer. */
static inline int stream_open(struct stream *s, int port, const char *sid, bool resume, uint64_t last,
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

static inline int data_append(struct stream *s, const char *p, size_t n)
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
static inline int dechunk(struct stream *s)
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
static inline int parse_block(char *block, size_t len, struct sev *ev)
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
static inline int stream_next(struct stream *s, struct sev *ev, int timeout_ms)
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
static inline int stream_until(struct stream *s, const char *method, struct sev *ev, int timeout_ms)
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

/* Opens sid's stream, retrying while the daemon still holds the previous one (409). */
static inline int stream_reopen(struct stream *s, int port, const char *sid, bool resume, uint64_t last,
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

/* A sends n messages one at a time on its connection ca, one every pace_ms (0: at once);
 * each must arrive on b's stream, in order, before the next is sent. lat_ms gets each
 * send→receive time. Returns how many arrived in order. */
static inline int chat_round_paced(int port, struct hx_conn *ca, const char *sid_a, const char *room,
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

static inline int chat_round(int port, struct hx_conn *ca, const char *sid_a, const char *room,
		      struct stream *sb, int n, double *lat_ms, const char *tag)
{
	return chat_round_paced(port, ca, sid_a, room, sb, n, lat_ms, tag, 0);
}

static inline void reap_children(void)
{
	for (size_t i = 0; i < sizeof(children) / sizeof(children[0]); i++) {
		if (children[i] > 0) {
			kill(children[i], SIGKILL);
			waitpid(children[i], NULL, 0);
			children[i] = 0;
		}
	}
}

/* Runner */

static inline void teardown(void)
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

#endif
