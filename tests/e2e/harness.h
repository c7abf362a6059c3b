#ifndef MCPCHAT_E2E_HARNESS_H
#define MCPCHAT_E2E_HARNESS_H

/* End-to-end harness: runs the built mcp-chatd (path in $MCPCHATD) on 127.0.0.1:0 and talks
 * raw HTTP/1.1 to it over loopback sockets. Every wait has a deadline: nothing here blocks
 * for longer than the timeout it is given. Functions return 0 (or a count) on success and a
 * negative errno on failure (-ETIMEDOUT, -ECONNRESET, -EPROTO for a malformed response). */

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include <cjson/cJSON.h>

#define HX_TIMEOUT_MS 5000 /* default deadline for one response */
#define HX_SID_MAX 128

struct hx_daemon {
	pid_t pid;         /* 0 when not running */
	int port;          /* from its "listening on" line */
	int out_fd;        /* read end of its stdout */
	char log_path[64]; /* its stderr, a temporary file */
};

/* Starts $MCPCHATD --listen 127.0.0.1:0 followed by extra (NULL-terminated, may be NULL) and
 * waits up to 5 s for the port. */
int hx_daemon_start(struct hx_daemon *d, const char *const *extra);
/* CUnit suite init for suites that start daemons themselves: SIGPIPE ignored (a test's
 * writes to a closed socket fail instead of killing it) and $MCPCHATD required. */
int hx_suite_init(void);
/* The same with the given --listen ADDR:PORT instead of 127.0.0.1:0 (a restart on a known
 * port); the port is still read from its "listening on" line. */
int hx_daemon_start_listen(struct hx_daemon *d, const char *listen, const char *const *extra);
/* SIGTERM, then waits up to 5 s (SIGKILL after that, so nothing is left running). Returns the
 * exit status (0..255), 128 + signal when it died of a signal, 1000 + status when it had to be
 * killed, or a negative errno. The log file stays (hx_daemon_log); the caller unlinks it. */
int hx_daemon_stop(struct hx_daemon *d);
/* The daemon's stderr so far, NUL-terminated; the caller frees it. NULL on error. */
char *hx_daemon_log(const struct hx_daemon *d);

/* One client connection with its receive buffer (pipelined responses may arrive together). */
struct hx_conn {
	int fd;
	char *buf;
	size_t len, cap;
};

struct hx_response {
	int status;
	char *head;      /* status line and headers, NUL-terminated, without the blank line */
	char *body;      /* decoded (de-chunked) body, NUL-terminated */
	size_t body_len;
	bool chunked;
};

int hx_connect(struct hx_conn *c, int port);
void hx_close(struct hx_conn *c);
/* Sends all bytes (MSG_NOSIGNAL); -EPIPE/-ECONNRESET when the peer has closed. */
int hx_send(struct hx_conn *c, const void *data, size_t len);
int hx_send_str(struct hx_conn *c, const char *s);
/* Half-closes: no more bytes from us. */
int hx_shutdown_write(struct hx_conn *c);

/* Reads one response head (status and headers), leaving its body in the buffer. */
int hx_read_head(struct hx_conn *c, struct hx_response *r, int timeout_ms);
/* Reads one complete response: head, then a Content-Length or chunked body (or up to EOF
 * when it has neither). A 1xx response is returned as it is, without a body. */
int hx_read_response(struct hx_conn *c, struct hx_response *r, int timeout_ms);
/* Reads the body of a response whose head hx_read_head() returned (a push stream: up to its
 * end). */
int hx_read_body(struct hx_conn *c, struct hx_response *r, int timeout_ms);
void hx_response_free(struct hx_response *r);
/* Reads what arrives within timeout_ms into c->buf (NUL-terminated after c->len): > 0 bytes
 * read, 0 at EOF, a negative errno on error or timeout. */
int hx_fill(struct hx_conn *c, int timeout_ms);
/* Drops the first n bytes of c->buf (all of them when n > c->len). */
void hx_consume(struct hx_conn *c, size_t n);
/* True when the peer closes (EOF or reset) within timeout_ms; bytes it sends first are
 * discarded and counted in *extra when extra is not NULL. */
bool hx_wait_closed(struct hx_conn *c, int timeout_ms, size_t *extra);
/* True when nothing arrives within ms (and the connection is still open). */
bool hx_quiet(struct hx_conn *c, int ms);

/* Copies the value of header name (case-insensitive) into out; false when absent. */
bool hx_header(const struct hx_response *r, const char *name, char *out, size_t cap);
/* The body parsed as JSON, or NULL. */
cJSON *hx_json(const struct hx_response *r);
/* The JSON-RPC error code in the body; 0 when the body is a result, 1 when it is not JSON-RPC. */
int hx_rpc_code(const struct hx_response *r);

/* A complete POST /mcp request with the usual headers; sid and version may be NULL. Free it. */
char *hx_post_request(const char *sid, const char *version, const char *body);
/* Connects, sends req, reads one response, closes. */
int hx_roundtrip(int port, const char *req, size_t len, struct hx_response *r);
/* POSTs body on a fresh connection (Accept, Content-Type, Host, session id when not NULL). */
int hx_post(int port, const char *sid, const char *body, struct hx_response *r);
/* initialize (protocol version, or the newest when NULL) and notifications/initialized;
 * writes the Mcp-Session-Id into sid. */
int hx_initialize(int port, const char *version, char *sid, size_t cap);
/* A new client works: initialize, tools/list names send_message, DELETE the session. */
bool hx_serves_normal_client(int port);

long long hx_now_ms(void);

#endif
