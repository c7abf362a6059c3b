#include "client.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "cli.h"

#define MAX_RESPONSE (64u << 20)

/* Talking to the daemon: one request line out, one response line back, within the timeout. */

/* Talking to the daemon */
struct conn {
	const char *path; /* the path in use, for messages */
	int fd;
	double deadline, timeout_s;
	const char *cmd;
	bool quiet; /* failures are reported by the caller */
};

static const char *connect_hint(int err)
{
	switch (err) {
	case EACCES:
	case EPERM:
		return "the socket is for root, the daemon's user and its group only; use sudo or join "
		       "the group";
	case EAGAIN:
	case ETIMEDOUT:
		return "mcp-chatd is not accepting (too busy?); retry, or raise --timeout";
	default:
		return "is mcp-chatd running? check `systemctl status mcp-chat` or pass --socket PATH";
	}
}

/* 0 or an errno. SO_SNDTIMEO also bounds a connect that waits for a full backlog. */
static int try_connect(const char *path, double timeout_s, int *fd_out)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct timeval tv = { .tv_sec = (time_t)timeout_s,
			      .tv_usec = (suseconds_t)((timeout_s - (double)(time_t)timeout_s) * 1e6) };
	int fd, err;

	if (strlen(path) >= sizeof(sa.sun_path))
		return ENAMETOOLONG;
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return errno;
	if (tv.tv_sec == 0 && tv.tv_usec == 0)
		tv.tv_usec = 1;
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		err = errno;
		close(fd);
		return err;
	}
	*fd_out = fd;
	return 0;
}

static int open_conn(const struct opts *o, struct conn *c, char *buf, size_t len)
{
	int err, err2;

	if (o->socket) {
		if (strlen(o->socket) >= len)
			return cli_usage(NULL, "--socket path is longer than %zu bytes", len - 1);
		c->path = o->socket;
		err = try_connect(c->path, o->timeout_s, &c->fd);
	} else if (ctl_default_socket_path(buf, len) < 0) {
		fprintf(stderr, PROG ": the default control socket path (under $RUNTIME_DIRECTORY or "
				"$XDG_RUNTIME_DIR) is too long for a Unix socket; pass --socket PATH\n");
		return EXIT_UNREACHABLE;
	} else {
		c->path = buf;
		err = try_connect(c->path, o->timeout_s, &c->fd);
		/* An operator's shell lacks the service's RUNTIME_DIRECTORY: try systemd's path. */
		if (err == ENOENT && strcmp(buf, CLIENT_SYSTEMD_SOCKET) != 0) {
			err2 = try_connect(CLIENT_SYSTEMD_SOCKET, o->timeout_s, &c->fd);
			if (err2 != ENOENT) {
				c->path = CLIENT_SYSTEMD_SOCKET;
				err = err2;
			}
		}
	}
	if (!err)
		return 0;
	fprintf(stderr, PROG ": cannot connect to %s%s: %s; %s\n", c->path,
		!o->socket && err == ENOENT && c->path == buf && strcmp(buf, CLIENT_SYSTEMD_SOCKET) != 0
			? " (nor " CLIENT_SYSTEMD_SOCKET ")"
			: "",
		strerror(err), connect_hint(err));
	return EXIT_UNREACHABLE;
}

static int conn_fail(const struct conn *c, const char *what, int err)
{
	if (c->quiet)
		return EXIT_UNREACHABLE;
	if (err)
		fprintf(stderr, PROG ": %s: %s: %s\n", c->path, what, strerror(err));
	else
		fprintf(stderr, PROG ": %s: %s\n", c->path, what);
	return EXIT_UNREACHABLE;
}

static int send_line(const struct conn *c, const char *line)
{
	size_t len = strlen(line), off = 0;

	while (off < len) {
		ssize_t n = send(c->fd, line + off, len - off, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EPIPE || errno == ECONNRESET))
			return -errno; /* it may have answered first, e.g. to refuse us */
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return conn_fail(c, "the request could not be sent within the timeout", 0);
		if (n < 0)
			return conn_fail(c, "cannot send the request", errno);
		off += (size_t)n;
	}
	return 0;
}

/* Waits for input until the deadline: 0 when readable, else an exit code. */
static int wait_readable(const struct conn *c)
{
	struct pollfd pfd = { .fd = c->fd, .events = POLLIN };
	double left = c->deadline - cli_now_s();
	int n;

	for (;;) {
		if (left <= 0)
			goto timeout;
		n = poll(&pfd, 1, (int)(left * 1000) + 1);
		if (n > 0)
			return 0;
		if (n < 0 && errno != EINTR)
			return conn_fail(c, "cannot wait for the answer", errno);
		left = c->deadline - cli_now_s();
	}
timeout:
	if (c->quiet)
		return EXIT_UNREACHABLE;
	fprintf(stderr, PROG ": %s: no answer to %s within %g s; mcp-chatd may be busy or stuck; "
			"retry, or raise --timeout\n",
		c->path, c->cmd, c->timeout_s);
	return EXIT_UNREACHABLE;
}

/* Reads one line into *out (malloc'd, without the newline). */
static int read_line(const struct conn *c, char **out, size_t *out_len)
{
	size_t len = 0, cap = 4096;
	char *buf = malloc(cap), *nl = NULL, *grown;
	ssize_t n;
	int rc;

	if (!buf)
		cli_oom();
	while (!nl) {
		rc = wait_readable(c);
		if (rc)
			goto fail;
		if (cap - len < 4096) {
			rc = cap >= MAX_RESPONSE ? conn_fail(c, "the answer is too large", 0) : 0;
			if (rc)
				goto fail;
			grown = realloc(buf, cap *= 2);
			if (!grown)
				cli_oom();
			buf = grown;
		}
		n = read(c->fd, buf + len, cap - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			rc = conn_fail(c, n < 0 ? "cannot read the answer"
				       : len ? "mcp-chatd closed the connection in the middle of its answer"
					     : "mcp-chatd closed the connection without answering",
				       n < 0 ? errno : 0);
			goto fail;
		}
		nl = memchr(buf + len, '\n', (size_t)n);
		len += (size_t)n;
	}
	*out = buf;
	*out_len = (size_t)(nl - buf);
	return 0;
fail:
	free(buf);
	return rc;
}

/* Sends the request line and decodes the answer into res. 0 or an exit code. */
int client_exchange(const struct opts *o, const char *line, struct ctl_response *res)
{
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	struct conn c = {
		.fd = -1, .deadline = cli_now_s() + o->timeout_s, .timeout_s = o->timeout_s, .cmd = o->command
	};
	char *answer = NULL;
	size_t len = 0;
	int rc, err;

	rc = open_conn(o, &c, path, sizeof(path));
	if (rc)
		return rc;
	rc = send_line(&c, line);
	if (rc < 0) {
		err = -rc;
		c.quiet = true;
		rc = read_line(&c, &answer, &len);
		c.quiet = false;
		if (rc)
			rc = conn_fail(&c, "cannot send the request", err);
	} else if (rc == 0) {
		rc = read_line(&c, &answer, &len);
	}
	close(c.fd);
	if (rc)
		return rc;
	if (ctl_response_decode(answer, len, res) < 0)
		rc = conn_fail(&c, "mcp-chatd sent an answer that is not a control response", 0);
	free(answer);
	return rc;
}
