/* Lingering close against the built mcp-chatd (path in $MCPCHATD), loopback only.
 *
 * When the daemon answers before it has read a request to its end (413, 431, 400, or a
 * `Connection: close` answer with more input behind it), it must not close at once: closing a
 * socket with unread input sends a reset that can destroy the answer before the client reads
 * it. It shuts its write side, reads and discards for a bounded time and byte count, then
 * closes (RFC 9112 section 9.6). These tests show the answer always arrives and that the
 * bounds hold: total time, idle time, bytes, the connection ceiling and a prompt stop.
 *
 * With `[timeouts] head_s = H` the daemon lingers at most min(5 s, H) without data and
 * min(30 s, 3 H) in all (daemon/net/linger.h).
 *
 * Usage: test_e2e_linger [SUBSTRING]   runs only the tests whose name contains SUBSTRING. */

#include <CUnit/Basic.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "unit.h"

#define MIB (1024 * 1024)
#define TRIES 40

/* A daemon with an optional config text; its log is checked for sanitizer reports at stop. */
struct dmn {
	struct hx_daemon d;
	char cfg[64];
	char sock[108];
	bool running;
};

static struct dmn *running_dmn;

static int dmn_start(struct dmn *x, const char *config)
{
	static int serial;
	const char *argv[5] = { "-s", x->sock, NULL };
	int rc;

	memset(x, 0, sizeof(*x));
	/* A control socket of its own: the default path may belong to another daemon. */
	snprintf(x->sock, sizeof(x->sock), "/tmp/mcpchat-linger-%d-%d.sock", (int)getpid(), ++serial);
	if (config) {
		size_t len = strlen(config);
		int fd;

		snprintf(x->cfg, sizeof(x->cfg), "/tmp/mcpchat-linger-cfg-XXXXXX");
		fd = mkstemp(x->cfg);
		if (fd < 0)
			return -errno;
		if (write(fd, config, len) != (ssize_t)len) {
			close(fd);
			unlink(x->cfg);
			return -EIO;
		}
		close(fd);
		argv[2] = "-c";
		argv[3] = x->cfg;
	}
	rc = hx_daemon_start(&x->d, argv);
	if (rc < 0) {
		printf("\n    cannot start the daemon: %s\n", strerror(-rc));
		if (x->cfg[0])
			unlink(x->cfg);
		return rc;
	}
	x->running = true;
	running_dmn = x;
	return 0;
}

/* SIGTERM; the exit status (0 expected), 2000 when the log holds a sanitizer report. */
static int dmn_stop(struct dmn *x)
{
	char *log;
	int rc;

	if (!x->running)
		return -ESRCH;
	rc = hx_daemon_stop(&x->d);
	x->running = false;
	running_dmn = NULL;
	log = hx_daemon_log(&x->d);
	if (!log) {
		rc = rc ? rc : 3000;
	} else if (strstr(log, "Sanitizer") || strstr(log, "runtime error:")) {
		printf("\n    --- daemon log ---\n%.4000s\n    ---\n", log);
		rc = rc ? rc : 2000;
	}
	free(log);
	unlink(x->d.log_path);
	if (x->cfg[0])
		unlink(x->cfg);
	unlink(x->sock);
	return rc;
}

#define STOP_OK(x)                                                \
	do {                                                      \
		int src_ = dmn_stop(x);                           \
		CHECKF(src_ == 0, "daemon exit status %d", src_); \
	} while (0)

/* A POST /mcp head announcing body_len bytes. */
static int post_head(char *out, size_t cap, size_t body_len, const char *extra)
{
	return snprintf(out, cap,
			"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
			"Accept: application/json, text/event-stream\r\n%sContent-Length: %zu\r\n\r\n",
			extra ? extra : "", body_len);
}

/* head + body_len bytes of 'x' in one buffer. */
static char *request_with_body(size_t body_len, size_t *len)
{
	char head[512];
	int hl = post_head(head, sizeof(head), body_len, NULL);
	char *p = malloc((size_t)hl + body_len);

	if (!p)
		return NULL;
	memcpy(p, head, (size_t)hl);
	memset(p + hl, 'x', body_len);
	*len = (size_t)hl + body_len;
	return p;
}

/* Connects, sends req with one blocking send() and reads one response, as a client does that
 * gives up when its request cannot be sent (Python's http.client, many HTTP libraries). With
 * sndbuf (0: the system's default) the client's send buffer is that small, as when the bytes
 * cross a network rather than loopback: the send then blocks until the daemon reads.
 * The HTTP status, -EPIPE/-ECONNRESET when the send failed, or another negative errno. */
static int one_write_status(int port, const char *req, size_t len, int sndbuf)
{
	struct hx_conn c;
	struct hx_response r;
	ssize_t n;
	int rc;

	rc = hx_connect(&c, port);
	if (rc < 0)
		return rc;
	if (sndbuf)
		setsockopt(c.fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
	n = send(c.fd, req, len, MSG_NOSIGNAL);
	if (n < 0 || (size_t)n < len) {
		/* A blocking send returns short only when the connection failed under it. */
		rc = n < 0 ? -errno : -ECONNRESET;
		hx_close(&c);
		return rc;
	}
	memset(&r, 0, sizeof(r));
	rc = hx_read_response(&c, &r, HX_TIMEOUT_MS);
	if (rc == 0)
		rc = r.status;
	hx_response_free(&r);
	hx_close(&c);
	return rc;
}

/* TRIES times req in one write, half of them with a 64 KiB send buffer: how many got want. */
static int tries_answered(int port, const char *req, size_t len, int want, const char *what)
{
	int got = 0, other = 0, last = 0;

	for (int i = 0; i < TRIES; i++) {
		int st = one_write_status(port, req, len, i % 2 ? 64 * 1024 : 0);

		if (st == want) {
			got++;
		} else {
			other++;
			last = st;
		}
	}
	printf("\n    %s: %d of %d answered %d", what, got, TRIES, want);
	if (other)
		printf(" (%d lost, the last as %d%s)", other, last,
		       last == -EPIPE || last == -ECONNRESET ? ": the send failed" : "");
	printf("\n    ");
	return got;
}

/* Open client connections, from GET /metrics (which counts its own), or -1. */
static int connections(int port)
{
	static const char req[] = "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
	struct hx_response r;
	int v = -1;

	if (hx_roundtrip(port, req, sizeof(req) - 1, &r) == 0 && r.status == 200 && r.body) {
		const char *at = strstr(r.body, "\nmcpchat_connections ");

		if (at)
			v = atoi(at + strlen("\nmcpchat_connections "));
	}
	hx_response_free(&r);
	return v;
}

/* Polls until at most want connections are open (the poll's own included); ms waited or -1. */
static long long wait_connections(int port, int want, int timeout_ms)
{
	long long t0 = hx_now_ms();

	while (hx_now_ms() - t0 < timeout_ms) {
		int n = connections(port);

		if (n >= 0 && n <= want)
			return hx_now_ms() - t0;
		usleep(20 * 1000);
	}
	return -1;
}

/* A connection that got its 413 for an announced 1 MiB body, sent no body, and now lingers. */
static int lingering_413(struct hx_conn *c, int port)
{
	char head[512];
	struct hx_response r;
	int rc, hl = post_head(head, sizeof(head), MIB, NULL);

	rc = hx_connect(c, port);
	if (rc < 0)
		return rc;
	rc = hx_send(c, head, (size_t)hl);
	memset(&r, 0, sizeof(r));
	if (rc == 0)
		rc = hx_read_response(c, &r, HX_TIMEOUT_MS);
	if (rc == 0)
		rc = r.status == 413 ? 0 : -EPROTO;
	hx_response_free(&r);
	return rc;
}

/* 1. A body far over the limit, sent in one blocking write, always gets its 413. */
static void test_413_one_write(void)
{
	struct dmn x;
	size_t len;
	char *req = request_with_body(MIB, &len);
	int got;

	REQUIRE(req);
	REQUIRE(dmn_start(&x, NULL) == 0);
	got = tries_answered(x.d.port, req, len, 413, "1 MiB body in one write");
	CHECKF(got == TRIES, "%d of %d answers lost", TRIES - got, TRIES);
	CU_ASSERT(hx_serves_normal_client(x.d.port));
	STOP_OK(&x);
out:
	if (x.running)
		dmn_stop(&x);
	free(req);
}

/* 2. A head far over the limit (one 1 MiB header), in one write, always gets its 431. */
static void test_431_one_write(void)
{
	static const char start[] = "POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Pad: ";
	size_t pad = MIB, len = sizeof(start) - 1 + pad + 4;
	char *req = malloc(len);
	struct dmn x;
	int got;

	REQUIRE(req);
	memcpy(req, start, sizeof(start) - 1);
	memset(req + sizeof(start) - 1, 'p', pad);
	memcpy(req + len - 4, "\r\n\r\n", 4);
	REQUIRE(dmn_start(&x, NULL) == 0);
	got = tries_answered(x.d.port, req, len, 431, "1 MiB head in one write");
	CHECKF(got == TRIES, "%d of %d answers lost", TRIES - got, TRIES);
	STOP_OK(&x);
out:
	if (x.running)
		dmn_stop(&x);
	free(req);
}

/* 3. `Connection: close` with a pipelined request and a large body still arriving behind it:
 * the first answer arrives, every time. */
static void test_close_with_pipelined_input(void)
{
	static const char ping[] = "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}";
	char head[512];
	struct dmn x;
	char *req = NULL;
	size_t len, body = MIB;
	int got, hl;

	REQUIRE(dmn_start(&x, NULL) == 0);
	/* A ping without a session answers 400 (no Mcp-Session-Id) and closes: a close after an
	 * answer, with the next request's 1 MiB body behind it. */
	hl = post_head(head, sizeof(head), sizeof(ping) - 1, "Connection: close\r\n");
	req = malloc((size_t)hl + sizeof(ping) - 1 + 512 + body);
	REQUIRE(req);
	memcpy(req, head, (size_t)hl);
	memcpy(req + hl, ping, sizeof(ping) - 1);
	len = (size_t)hl + sizeof(ping) - 1;
	len += (size_t)post_head(req + len, 512, body, NULL);
	memset(req + len, 'x', body);
	len += body;
	got = tries_answered(x.d.port, req, len, 400, "Connection: close, 1 MiB pipelined behind");
	CHECKF(got == TRIES, "%d of %d answers lost", TRIES - got, TRIES);
	STOP_OK(&x);
out:
	free(req);
	if (x.running)
		dmn_stop(&x);
}

/* 4. After the answer the daemon shuts its write side (the client reads EOF) but keeps the
 * connection until the idle bound (head_s = 1: 1 s without data). */
static void test_idle_bound(void)
{
	struct dmn x;
	struct hx_conn c = { .fd = -1 };
	long long t0, waited;
	int n;

	REQUIRE(dmn_start(&x, "[timeouts]\nhead_s = 1\n") == 0);
	REQUIRE(lingering_413(&c, x.d.port) == 0);
	t0 = hx_now_ms();
	n = hx_fill(&c, 2000);
	CHECKF(n == 0, "expected EOF (the daemon's FIN) after the 413, got %d", n);
	/* Still open on the daemon's side: it and the metrics request. */
	n = connections(x.d.port);
	CHECKF(n == 2, "%d connections open during the linger, expected 2", n);
	waited = wait_connections(x.d.port, 1, 4000);
	printf("\n    idle lingering connection closed %lld ms after its 413 (bound 1000 ms)\n    ",
	       waited < 0 ? -1 : hx_now_ms() - t0);
	CHECKF(waited >= 0, "the lingering connection was never closed");
	CHECKF(hx_now_ms() - t0 >= 800, "closed after %lld ms, before the idle bound", hx_now_ms() - t0);
	CHECKF(hx_now_ms() - t0 < 2500, "closed after %lld ms, long after the idle bound",
	       hx_now_ms() - t0);
	STOP_OK(&x);
out:
	hx_close(&c);
	if (x.running)
		dmn_stop(&x);
}

/* A 408 goes to a client that sent nothing for head_s: it is closed at once, not lingered
 * on (a slowloris must not hold its descriptor longer for it). */
static void test_408_closes_at_once(void)
{
	struct dmn x;
	struct hx_conn c = { .fd = -1 };
	struct hx_response r;
	int n;

	memset(&r, 0, sizeof(r));
	REQUIRE(dmn_start(&x, "[timeouts]\nhead_s = 1\n") == 0);
	REQUIRE(hx_connect(&c, x.d.port) == 0);
	REQUIRE(hx_send_str(&c, "POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\n") == 0);
	REQUIRE(hx_read_response(&c, &r, 4000) == 0);
	CHECKF(r.status == 408, "status %d, expected 408", r.status);
	n = hx_fill(&c, 2000);
	CHECKF(n == 0, "expected EOF after the 408, got %d", n);
	/* Only the metrics request itself is open: nothing lingers. */
	n = connections(x.d.port);
	CHECKF(n == 1, "%d connections open after the 408, expected 1 (it lingered)", n);
	STOP_OK(&x);
out:
	hx_response_free(&r);
	hx_close(&c);
	if (x.running)
		dmn_stop(&x);
}

/* Sends chunk every gap_ms until a send fails or limit_ms pass; ms until the failure or -1,
 * with the bytes sent in *sent. */
static long long send_until_cut(struct hx_conn *c, size_t chunk, int gap_ms, int limit_ms,
				size_t *sent)
{
	char *buf = calloc(1, chunk);
	long long t0 = hx_now_ms();

	*sent = 0;
	if (!buf)
		return -1;
	while (hx_now_ms() - t0 < limit_ms) {
		ssize_t n = send(c->fd, buf, chunk, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno != EAGAIN) {
			free(buf);
			return hx_now_ms() - t0;
		}
		if (n > 0)
			*sent += (size_t)n;
		if (gap_ms)
			usleep((useconds_t)gap_ms * 1000);
	}
	free(buf);
	return -1;
}

/* 5. A client that keeps sending after its answer is cut off: a slow one at the total bound
 * (head_s = 1: 3 s), a fast one at the byte bound. */
static void test_endless_sender(void)
{
	struct dmn x;
	struct hx_conn c = { .fd = -1 };
	long long t;
	size_t sent;

	REQUIRE(dmn_start(&x, "[timeouts]\nhead_s = 1\n") == 0);
	/* Slow: 100 bytes every 200 ms, never idle for the idle bound. */
	REQUIRE(lingering_413(&c, x.d.port) == 0);
	t = send_until_cut(&c, 100, 200, 8000, &sent);
	printf("\n    a slow endless sender was cut off after %lld ms and %zu bytes (bound 3000 ms)",
	       t, sent);
	CHECKF(t >= 2500 && t < 4500, "cut off after %lld ms, expected about 3000", t);
	hx_close(&c);
	/* Fast: as fast as loopback goes. */
	REQUIRE(lingering_413(&c, x.d.port) == 0);
	t = send_until_cut(&c, 64 * 1024, 0, 8000, &sent);
	printf("\n    a fast endless sender was cut off after %lld ms and %zu bytes (bound 4 MiB "
	       "discarded)\n    ", t, sent);
	CHECKF(t >= 0 && t < 2500, "not cut off by the byte bound (%lld ms)", t);
	/* What it could send: the bound plus what the two socket buffers hold. */
	CHECKF(sent < 4 * MIB + 16 * MIB, "%zu bytes sent", sent);
	CU_ASSERT(wait_connections(x.d.port, 1, 2000) >= 0);
	CU_ASSERT(hx_serves_normal_client(x.d.port));
	STOP_OK(&x);
out:
	hx_close(&c);
	if (x.running)
		dmn_stop(&x);
}

/* 6. Lingering connections count against the ceiling, and go at the idle bound. */
static void test_ceiling(void)
{
	enum { N = 16 };
	struct dmn x;
	struct hx_conn c[N], extra = { .fd = -1 };
	struct hx_response r;
	int made = 0, rc;

	memset(&r, 0, sizeof(r));
	REQUIRE(dmn_start(&x, "[server]\nmax_connections = 16\n[timeouts]\nhead_s = 1\n") == 0);
	for (; made < N; made++)
		REQUIRE(lingering_413(&c[made], x.d.port) == 0);
	/* The seventeenth is refused while they linger. */
	REQUIRE(hx_connect(&extra, x.d.port) == 0);
	rc = hx_send_str(&extra, "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
	if (rc == 0)
		rc = hx_read_response(&extra, &r, HX_TIMEOUT_MS);
	CHECKF(rc == 0 && r.status == 503, "a connection over the ceiling: rc %d, HTTP %d", rc,
	       r.status);
	hx_response_free(&r);
	hx_close(&extra);
	/* At the idle bound they are gone and the daemon serves again. */
	usleep(1600 * 1000);
	CU_ASSERT(hx_serves_normal_client(x.d.port));
	STOP_OK(&x);
out:
	hx_response_free(&r);
	for (int i = 0; i < made; i++)
		hx_close(&c[i]);
	hx_close(&extra);
	if (x.running)
		dmn_stop(&x);
}

/* 7. SIGTERM with lingering connections (idle and sending; default bounds of 5 s and 30 s):
 * the daemon still stops at once. */
static void test_prompt_stop(void)
{
	enum { N = 20 };
	struct dmn x;
	struct hx_conn c[N];
	char junk[4096];
	long long t0, took;
	int made = 0, rc;

	memset(junk, 'j', sizeof(junk));
	REQUIRE(dmn_start(&x, NULL) == 0);
	for (; made < N; made++)
		REQUIRE(lingering_413(&c[made], x.d.port) == 0);
	for (int i = 0; i < N; i += 2)
		hx_send(&c[i], junk, sizeof(junk));
	CHECKF(connections(x.d.port) == N + 1, "not all %d connections linger", N);
	t0 = hx_now_ms();
	rc = dmn_stop(&x);
	took = hx_now_ms() - t0;
	printf("\n    SIGTERM with %d lingering connections: exit status %d after %lld ms\n    ", N,
	       rc, took);
	CU_ASSERT_EQUAL(rc, 0);
	CHECKF(took < 1000, "the stop took %lld ms", took);
out:
	for (int i = 0; i < made; i++)
		hx_close(&c[i]);
	if (x.running)
		dmn_stop(&x);
}

/* Runner */

static void teardown(void)
{
	if (running_dmn)
		dmn_stop(running_dmn);
}

static const struct unit_test tests[] = {
	{ "413 for 1 MiB in one write, every time", test_413_one_write },
	{ "431 for a 1 MiB head in one write, every time", test_431_one_write },
	{ "Connection: close with input still arriving", test_close_with_pipelined_input },
	{ "an idle lingering client goes at the idle bound", test_idle_bound },
	{ "a 408 closes at once, without lingering", test_408_closes_at_once },
	{ "an endless sender is cut off (time and bytes)", test_endless_sender },
	{ "lingering connections count against the ceiling", test_ceiling },
	{ "SIGTERM with lingering connections stops at once", test_prompt_stop },
	{ NULL, NULL },
};

int main(int argc, char **argv)
{
	static const struct unit_suite suites[] = {
		{ "e2e_hostile_linger", tests, hx_suite_init, NULL, NULL, teardown },
		{ NULL, NULL, NULL, NULL, NULL, NULL },
	};

	setvbuf(stdout, NULL, _IOLBF, 0);
	return unit_main_only(suites, argc > 1 ? argv[1] : NULL);
}
