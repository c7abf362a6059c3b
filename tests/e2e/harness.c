#include "harness.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define START_TIMEOUT_MS 5000
#define STOP_TIMEOUT_MS 5000
#define MAX_HEAD (256 * 1024)

long long hx_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int remaining(long long deadline)
{
	long long left = deadline - hx_now_ms();

	return left > 0 ? (int)left : 0;
}

/* Waits until fd is readable or the deadline passes: 1 readable, 0 timed out. */
static int wait_readable(int fd, long long deadline)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	int n;

	do
		n = poll(&p, 1, remaining(deadline));
	while (n < 0 && errno == EINTR);
	return n > 0;
}

/* The daemon */

static void child_exec(const char *path, const char *listen, int out_w, int log_fd,
		       const char *const *extra)
{
	const char *argv[32];
	int n = 0;

	argv[n++] = path;
	argv[n++] = "--listen";
	argv[n++] = listen;
	for (int i = 0; extra && extra[i] && n < 31; i++)
		argv[n++] = extra[i];
	argv[n] = NULL;
	if (dup2(out_w, STDOUT_FILENO) < 0 || dup2(log_fd, STDERR_FILENO) < 0)
		_exit(126);
	execv(path, (char *const *)argv);
	_exit(127);
}

/* Reads the daemon's stdout until its "listening on http://127.0.0.1:PORT/mcp" line. */
static int read_port(int fd, long long deadline)
{
	static const char mark[] = "listening on http://127.0.0.1:";
	char line[512];
	size_t len = 0;

	while (len < sizeof(line) - 1 && wait_readable(fd, deadline)) {
		ssize_t n = read(fd, line + len, sizeof(line) - 1 - len);
		char *at;

		if (n <= 0)
			return -EPIPE;
		len += (size_t)n;
		line[len] = '\0';
		at = strstr(line, mark);
		if (at && strstr(at, "/mcp"))
			return atoi(at + sizeof(mark) - 1);
	}
	return -ETIMEDOUT;
}

int hx_daemon_start(struct hx_daemon *d, const char *const *extra)
{
	return hx_daemon_start_listen(d, "127.0.0.1:0", extra);
}

int hx_daemon_start_listen(struct hx_daemon *d, const char *listen, const char *const *extra)
{
	const char *path = getenv("MCPCHATD");
	int pipefd[2], log_fd, port;

	memset(d, 0, sizeof(*d));
	d->out_fd = -1;
	if (!path || !*path)
		return -ENOENT;
	snprintf(d->log_path, sizeof(d->log_path), "/tmp/mcpchat-e2e-XXXXXX");
	log_fd = mkostemp(d->log_path, O_CLOEXEC);
	if (log_fd < 0)
		return -errno;
	if (pipe2(pipefd, O_CLOEXEC) < 0) {
		close(log_fd);
		return -errno;
	}
	d->pid = fork();
	if (d->pid == 0)
		child_exec(path, listen, pipefd[1], log_fd, extra);
	close(pipefd[1]);
	close(log_fd);
	d->out_fd = pipefd[0];
	if (d->pid < 0) {
		d->pid = 0;
		return -errno;
	}
	port = read_port(d->out_fd, hx_now_ms() + START_TIMEOUT_MS);
	if (port <= 0) {
		hx_daemon_stop(d);
		unlink(d->log_path);
		return port < 0 ? port : -EPROTO;
	}
	d->port = port;
	return 0;
}

/* Polls waitpid until the child exits or the deadline passes: 1 reaped, 0 still running. */
static int reap(pid_t pid, int *status, long long deadline)
{
	for (;;) {
		pid_t r = waitpid(pid, status, WNOHANG);

		if (r == pid)
			return 1;
		if (r < 0 && errno != EINTR)
			return -errno;
		if (hx_now_ms() >= deadline)
			return 0;
		usleep(10 * 1000);
	}
}

static int decode_status(int status)
{
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return -EPROTO;
}

int hx_daemon_stop(struct hx_daemon *d)
{
	int status = 0, rc, result;

	if (d->pid <= 0)
		return -ESRCH;
	kill(d->pid, SIGTERM);
	rc = reap(d->pid, &status, hx_now_ms() + STOP_TIMEOUT_MS);
	if (rc == 0) {
		kill(d->pid, SIGKILL);
		rc = reap(d->pid, &status, hx_now_ms() + STOP_TIMEOUT_MS);
		result = rc > 0 ? 1000 + decode_status(status) : -ETIMEDOUT;
	} else {
		result = rc > 0 ? decode_status(status) : rc;
	}
	d->pid = 0;
	if (d->out_fd >= 0)
		close(d->out_fd);
	d->out_fd = -1;
	return result;
}

char *hx_daemon_log(const struct hx_daemon *d)
{
	FILE *f = fopen(d->log_path, "r");
	char *text = NULL;
	size_t len = 0, cap = 0, n;

	if (!f)
		return NULL;
	do {
		if (cap - len < 4097) {
			char *p = realloc(text, cap ? 2 * cap : 8192);

			if (!p)
				break;
			text = p;
			cap = cap ? 2 * cap : 8192;
		}
		n = fread(text + len, 1, cap - len - 1, f);
		len += n;
	} while (n > 0);
	fclose(f);
	if (text)
		text[len] = '\0';
	return text;
}

/* Connections */

int hx_connect(struct hx_conn *c, int port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	struct timeval tv = { .tv_sec = 5 };
	int one = 1;

	memset(c, 0, sizeof(*c));
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	c->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c->fd < 0)
		return -errno;
	/* Backstops: every read also polls with a deadline. */
	setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(c->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int err = -errno;

		close(c->fd);
		c->fd = -1;
		return err;
	}
	return 0;
}

void hx_close(struct hx_conn *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	free(c->buf);
	c->buf = NULL;
	c->len = c->cap = 0;
}

int hx_send(struct hx_conn *c, const void *data, size_t len)
{
	const char *p = data;

	while (len > 0) {
		ssize_t n = send(c->fd, p, len, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return errno == EAGAIN ? -ETIMEDOUT : -errno;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int hx_send_str(struct hx_conn *c, const char *s)
{
	return hx_send(c, s, strlen(s));
}

int hx_shutdown_write(struct hx_conn *c)
{
	return shutdown(c->fd, SHUT_WR) < 0 ? -errno : 0;
}

/* Reads what is available into the buffer: > 0 bytes read, 0 EOF, < 0 error or timeout. */
static int fill(struct hx_conn *c, long long deadline)
{
	ssize_t n;

	if (c->cap - c->len < 4096) {
		size_t cap = c->cap ? 2 * c->cap : 16384;
		char *p = realloc(c->buf, cap);

		if (!p)
			return -ENOMEM;
		c->buf = p;
		c->cap = cap;
	}
	if (!wait_readable(c->fd, deadline))
		return -ETIMEDOUT;
	do
		n = recv(c->fd, c->buf + c->len, c->cap - c->len - 1, 0);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return errno == EAGAIN ? -ETIMEDOUT : -errno;
	c->len += (size_t)n;
	c->buf[c->len] = '\0';
	return (int)n;
}

static void consume(struct hx_conn *c, size_t n)
{
	if (n == 0)
		return;
	memmove(c->buf, c->buf + n, c->len - n);
	c->len -= n;
}

int hx_fill(struct hx_conn *c, int timeout_ms)
{
	return fill(c, hx_now_ms() + timeout_ms);
}

void hx_consume(struct hx_conn *c, size_t n)
{
	consume(c, n > c->len ? c->len : n);
}

/* Finds needle in the first len bytes of hay (which may hold NULs). */
static const char *find(const char *hay, size_t len, const char *needle)
{
	return memmem(hay, len, needle, strlen(needle));
}

/* Ensures the buffer holds at least want bytes. */
static int fill_to(struct hx_conn *c, size_t want, long long deadline)
{
	while (c->len < want) {
		int n = fill(c, deadline);

		if (n <= 0)
			return n == 0 ? -EPIPE : n;
	}
	return 0;
}

static int parse_status_line(const char *head)
{
	int major, minor, status;

	if (sscanf(head, "HTTP/%d.%d %3d", &major, &minor, &status) != 3 || major != 1)
		return -EPROTO;
	return status;
}

static int read_head(struct hx_conn *c, struct hx_response *r, long long deadline)
{
	const char *end;

	memset(r, 0, sizeof(*r));
	while (!(end = find(c->buf ? c->buf : "", c->len, "\r\n\r\n"))) {
		int n = c->len > MAX_HEAD ? -EPROTO : fill(c, deadline);

		if (n <= 0)
			return n == 0 ? -EPIPE : n;
	}
	r->head = strndup(c->buf, (size_t)(end - c->buf));
	if (!r->head)
		return -ENOMEM;
	consume(c, (size_t)(end - c->buf) + 4);
	r->status = parse_status_line(r->head);
	if (r->status < 0)
		return r->status;
	r->chunked = false;
	{
		char te[64];

		if (hx_header(r, "Transfer-Encoding", te, sizeof(te)))
			r->chunked = strcasecmp(te, "chunked") == 0;
	}
	return 0;
}

int hx_read_head(struct hx_conn *c, struct hx_response *r, int timeout_ms)
{
	return read_head(c, r, hx_now_ms() + timeout_ms);
}

static int body_append(struct hx_response *r, const char *p, size_t n)
{
	char *b = realloc(r->body, r->body_len + n + 1);

	if (!b)
		return -ENOMEM;
	memcpy(b + r->body_len, p, n);
	r->body = b;
	r->body_len += n;
	r->body[r->body_len] = '\0';
	return 0;
}

/* One CRLF-terminated line from the buffer into line (without the CRLF). */
static int read_line(struct hx_conn *c, char *line, size_t cap, long long deadline)
{
	const char *end;
	size_t n;

	while (!(end = find(c->buf ? c->buf : "", c->len, "\r\n"))) {
		int rc = c->len > cap ? -EPROTO : fill(c, deadline);

		if (rc <= 0)
			return rc == 0 ? -EPIPE : rc;
	}
	n = (size_t)(end - c->buf);
	if (n >= cap)
		return -EPROTO;
	memcpy(line, c->buf, n);
	line[n] = '\0';
	consume(c, n + 2);
	return 0;
}

static int read_chunked(struct hx_conn *c, struct hx_response *r, long long deadline)
{
	char line[256];

	for (;;) {
		char *end;
		unsigned long size;
		int rc = read_line(c, line, sizeof(line), deadline);

		if (rc < 0)
			return rc;
		size = strtoul(line, &end, 16);
		if (end == line || (*end && *end != ';'))
			return -EPROTO;
		if (size == 0)
			break;
		if ((rc = fill_to(c, size + 2, deadline)) < 0 || (rc = body_append(r, c->buf, size)) < 0)
			return rc;
		if (memcmp(c->buf + size, "\r\n", 2) != 0)
			return -EPROTO;
		consume(c, size + 2);
	}
	do { /* trailers, up to the blank line */
		int rc = read_line(c, line, sizeof(line), deadline);

		if (rc < 0)
			return rc;
	} while (line[0]);
	return 0;
}

static int read_to_eof(struct hx_conn *c, struct hx_response *r, long long deadline)
{
	int n;

	while ((n = fill(c, deadline)) > 0)
		;
	if (n < 0 && n != -ECONNRESET)
		return n;
	n = body_append(r, c->buf ? c->buf : "", c->len);
	consume(c, c->len);
	return n;
}

static int read_body(struct hx_conn *c, struct hx_response *r, long long deadline)
{
	char value[32];
	char *end;
	unsigned long long len;
	int rc;

	if (body_append(r, "", 0) < 0)
		return -ENOMEM;
	if ((r->status >= 100 && r->status < 200) || r->status == 204 || r->status == 304)
		return 0;
	if (r->chunked)
		return read_chunked(c, r, deadline);
	if (!hx_header(r, "Content-Length", value, sizeof(value)))
		return read_to_eof(c, r, deadline);
	len = strtoull(value, &end, 10);
	if (end == value || *end)
		return -EPROTO;
	if ((rc = fill_to(c, (size_t)len, deadline)) < 0 ||
	    (rc = body_append(r, c->buf, (size_t)len)) < 0)
		return rc;
	consume(c, (size_t)len);
	return 0;
}

int hx_read_body(struct hx_conn *c, struct hx_response *r, int timeout_ms)
{
	return read_body(c, r, hx_now_ms() + timeout_ms);
}

int hx_read_response(struct hx_conn *c, struct hx_response *r, int timeout_ms)
{
	long long deadline = hx_now_ms() + timeout_ms;
	int rc = read_head(c, r, deadline);

	return rc < 0 ? rc : read_body(c, r, deadline);
}

void hx_response_free(struct hx_response *r)
{
	free(r->head);
	free(r->body);
	memset(r, 0, sizeof(*r));
}

bool hx_wait_closed(struct hx_conn *c, int timeout_ms, size_t *extra)
{
	long long deadline = hx_now_ms() + timeout_ms;
	size_t bytes = c->len;
	int n;

	consume(c, c->len);
	while ((n = fill(c, deadline)) > 0) {
		bytes += (size_t)n;
		consume(c, c->len);
	}
	if (extra)
		*extra = bytes;
	return n == 0 || n == -ECONNRESET || n == -EPIPE;
}

bool hx_quiet(struct hx_conn *c, int ms)
{
	return c->len == 0 && !wait_readable(c->fd, hx_now_ms() + ms);
}

/* Responses */

bool hx_header(const struct hx_response *r, const char *name, char *out, size_t cap)
{
	size_t nlen = strlen(name);
	const char *line = r->head ? strstr(r->head, "\r\n") : NULL;

	while (line) {
		const char *next;
		size_t vlen;

		line += 2;
		next = strstr(line, "\r\n");
		if (strncasecmp(line, name, nlen) == 0 && line[nlen] == ':') {
			const char *v = line + nlen + 1;

			while (*v == ' ' || *v == '\t')
				v++;
			vlen = next ? (size_t)(next - v) : strlen(v);
			while (vlen > 0 && (v[vlen - 1] == ' ' || v[vlen - 1] == '\t'))
				vlen--;
			if (vlen >= cap)
				vlen = cap - 1;
			memcpy(out, v, vlen);
			out[vlen] = '\0';
			return true;
		}
		line = next;
	}
	return false;
}

cJSON *hx_json(const struct hx_response *r)
{
	return r->body && r->body_len ? cJSON_ParseWithLength(r->body, r->body_len) : NULL;
}

int hx_rpc_code(const struct hx_response *r)
{
	cJSON *j = hx_json(r);
	const cJSON *err = cJSON_GetObjectItemCaseSensitive(j, "error");
	const cJSON *code = cJSON_GetObjectItemCaseSensitive(err, "code");
	int result = 1;

	if (cJSON_IsNumber(code))
		result = code->valueint;
	else if (cJSON_GetObjectItemCaseSensitive(j, "result"))
		result = 0;
	cJSON_Delete(j);
	return result;
}

/* Requests */

char *hx_post_request(const char *sid, const char *version, const char *body)
{
	char *req = NULL;
	int n = asprintf(&req,
			 "POST /mcp HTTP/1.1\r\n"
			 "Host: 127.0.0.1\r\n"
			 "Accept: application/json, text/event-stream\r\n"
			 "Content-Type: application/json\r\n"
			 "%s%s%s%s%s%s"
			 "Content-Length: %zu\r\n\r\n%s",
			 sid ? "Mcp-Session-Id: " : "", sid ? sid : "", sid ? "\r\n" : "",
			 version ? "MCP-Protocol-Version: " : "", version ? version : "",
			 version ? "\r\n" : "", strlen(body), body);

	return n < 0 ? NULL : req;
}

int hx_roundtrip(int port, const char *req, size_t len, struct hx_response *r)
{
	struct hx_conn c;
	int rc = hx_connect(&c, port);

	memset(r, 0, sizeof(*r));
	if (rc < 0)
		return rc;
	rc = hx_send(&c, req, len);
	if (rc == 0)
		rc = hx_read_response(&c, r, HX_TIMEOUT_MS);
	hx_close(&c);
	return rc;
}

int hx_post(int port, const char *sid, const char *body, struct hx_response *r)
{
	char *req = hx_post_request(sid, NULL, body);
	int rc;

	if (!req)
		return -ENOMEM;
	rc = hx_roundtrip(port, req, strlen(req), r);
	free(req);
	return rc;
}

int hx_initialize(int port, const char *version, char *sid, size_t cap)
{
	struct hx_response r;
	char body[512];
	int rc;

	snprintf(body, sizeof(body),
		 "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":{"
		 "\"protocolVersion\":\"%s\",\"capabilities\":{},"
		 "\"clientInfo\":{\"name\":\"e2e\",\"version\":\"1\"}}}",
		 version ? version : "2025-11-25");
	rc = hx_post(port, NULL, body, &r);
	if (rc == 0 && (r.status != 200 || hx_rpc_code(&r) != 0 ||
			!hx_header(&r, "Mcp-Session-Id", sid, cap)))
		rc = -EPROTO;
	hx_response_free(&r);
	if (rc < 0)
		return rc;
	rc = hx_post(port, sid, "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}", &r);
	if (rc == 0 && r.status != 202)
		rc = -EPROTO;
	hx_response_free(&r);
	return rc;
}

static bool lists_send_message(const struct hx_response *r)
{
	cJSON *j = hx_json(r);
	const cJSON *tools = cJSON_GetObjectItemCaseSensitive(
		cJSON_GetObjectItemCaseSensitive(j, "result"), "tools");
	const cJSON *t;
	bool found = false;

	cJSON_ArrayForEach(t, tools) {
		const cJSON *name = cJSON_GetObjectItemCaseSensitive(t, "name");

		found |= cJSON_IsString(name) && strcmp(name->valuestring, "send_message") == 0;
	}
	cJSON_Delete(j);
	return found;
}

bool hx_serves_normal_client(int port)
{
	char sid[HX_SID_MAX], *del;
	struct hx_response r;
	bool ok;

	if (hx_initialize(port, NULL, sid, sizeof(sid)) < 0)
		return false;
	ok = hx_post(port, sid, "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"tools/list\"}", &r) == 0 &&
	     r.status == 200 && lists_send_message(&r);
	hx_response_free(&r);
	if (asprintf(&del, "DELETE /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nMcp-Session-Id: %s\r\n\r\n",
		     sid) < 0)
		return false;
	ok = ok && hx_roundtrip(port, del, strlen(del), &r) == 0 && r.status == 200;
	hx_response_free(&r);
	free(del);
	return ok;
}

int hx_suite_init(void)
{
	signal(SIGPIPE, SIG_IGN);
	if (!getenv("MCPCHATD")) {
		fprintf(stderr, "set MCPCHATD to the built mcp-chatd\n");
		return -1;
	}
	return 0;
}
