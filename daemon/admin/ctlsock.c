#include "admin/ctlsock.h"

#include <errno.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "net/conn.h"
#include "util/buf.h"
#include "util/log.h"
#include "util/xalloc.h"

#define CTL_MAX_CONNS 64
/* Input held behind a deferred answer (pipelined requests) beyond this drops the caller. */
#define CTL_MAX_HELD (4 * CTL_MAX_REQUEST)

struct ctl_conn {
	struct net_conn net; /* first: the ring's tag is this pointer */
	struct ctlsock *cs;
	struct buf in;
	struct ctl_later *pending; /* a deferred answer: the lines behind it wait */
	bool close_after;
	bool eof; /* the peer is done sending: close once every answer is out */
};

struct ctlsock {
	int fd;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	struct ring *ring;
	struct ctl_env *env;
	gid_t gid; /* members of this group may connect */
	struct net_conns conns;
	bool stopped;
};

static struct ctl_conn *ctl_of(struct net_conn *n)
{
	return container_of(n, struct ctl_conn, net);
}

/* Every close goes here: a deferred answer still to come is dropped when it comes. */
static void conn_close(struct ctl_conn *c)
{
	if (c->pending) {
		c->pending->owner = NULL;
		c->pending = NULL;
	}
	net_conn_close(&c->net);
}

static void conn_flush(struct ctl_conn *c)
{
	if (c->close_after && sendq_idle(&c->net.q))
		conn_close(c);
	else
		net_conn_flush(&c->net);
}

/* line is never NULL: ctl_proto allocates through cJSON's hooks, which abort (jsonrpc_init). */
static void reply(struct ctl_conn *c, char *line)
{
	buf_puts(&c->net.q.out, line);
	free(line);
}

static void conn_lines(struct ctl_conn *c);

/* A deferred answer: it goes out, then the lines that waited behind it run. */
static void on_later(void *owner, char *line)
{
	struct ctl_conn *c = owner;

	c->pending = NULL;
	reply(c, line);
	conn_lines(c);
}

/* Answers every complete line in the input, in order; a deferred answer holds the rest. */
static void conn_lines(struct ctl_conn *c)
{
	struct ctl_later *later = NULL;
	size_t start = 0;
	char *nl, *out;

	while (!c->close_after && !c->pending &&
	       (nl = memchr(c->in.p + start, '\n', c->in.len - start))) {
		size_t len = (size_t)(nl - (c->in.p + start)) + 1;

		if (len > CTL_MAX_REQUEST)
			break;
		out = ctl_execute_line(c->cs->env, c->in.p + start, len, &later);
		start += len;
		if (out) {
			reply(c, out);
		} else {
			c->pending = later;
			later->answer = on_later;
			later->owner = c;
		}
	}
	memmove(c->in.p, c->in.p + start, c->in.len - start);
	c->in.len -= start;
	if (c->pending && c->in.len > CTL_MAX_HELD) {
		log_warn("control: dropped a caller that sent over %d bytes behind a pending answer",
			 CTL_MAX_HELD);
		conn_close(c);
		return;
	}
	if (!c->pending && c->in.len >= CTL_MAX_REQUEST) {
		reply(c, ctl_response_error("too_large", "request line over 65536 bytes"));
		c->close_after = true;
		c->in.len = 0;
	}
	if (c->eof && !c->pending)
		c->close_after = true;
	conn_flush(c);
}

static void on_data(struct net_conn *n, const char *data, size_t len)
{
	struct ctl_conn *c = ctl_of(n);

	if (c->close_after)
		return;
	buf_append(&c->in, data, len);
	conn_lines(c);
}

static void on_end(struct net_conn *n, int res)
{
	struct ctl_conn *c = ctl_of(n);

	if (res < 0) {
		conn_close(c);
		return;
	}
	c->eof = true;
	if (!c->pending)
		c->close_after = true;
	conn_flush(c);
}

static void on_sent(struct net_conn *n, int res)
{
	(void)res;
	conn_flush(ctl_of(n));
}

static void conn_free(struct net_conn *n)
{
	struct ctl_conn *c = ctl_of(n);

	if (c->pending)
		c->pending->owner = NULL;
	buf_free(&c->in);
	free(c);
}

static const struct net_conn_ops ctl_conn_ops = { on_data, on_end, on_sent, NULL, conn_free };

/* Root, our own uid, our group as primary or supplementary group of the peer. 1 allowed, 0
 * refused (cred says who), -errno when the credentials cannot be read (cred is then unset). */
static int peer_allowed(int fd, gid_t gid, struct ucred *cred)
{
	socklen_t len = sizeof(*cred);
	gid_t groups[256];
	socklen_t glen = sizeof(groups);

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, cred, &len) < 0)
		return -errno;
	if (cred->uid == 0 || cred->uid == geteuid() || cred->gid == gid)
		return 1;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups, &glen) < 0)
		return 0;
	for (size_t i = 0; i < glen / sizeof(gid_t); i++)
		if (groups[i] == gid)
			return 1;
	return 0;
}

static void on_accept(struct ctlsock *cs, struct io_uring_cqe *cqe)
{
	struct ctl_conn *c;
	struct ucred cred;
	int ok;

	if (cqe->res >= 0) {
		if (cs->stopped || cs->conns.n >= CTL_MAX_CONNS) {
			ring_close(cs->ring, cqe->res);
		} else {
			c = xcalloc(1, sizeof(*c));
			c->cs = cs;
			net_conn_start(&cs->conns, &c->net, cqe->res, &ctl_conn_ops);
			ok = peer_allowed(c->net.fd, cs->gid, &cred);
			if (ok < 0)
				log_warn("control: refused a caller whose credentials cannot be read: %s",
					 strerror(-ok));
			else if (!ok)
				log_warn("control: refused uid %u (pid %d): not root, the daemon's user or its group",
					 (unsigned)cred.uid, (int)cred.pid);
			if (ok <= 0) {
				reply(c, ctl_response_error("forbidden", "this user may not control mcp-chatd; run as root, the daemon's user or a member of its group"));
				c->close_after = true;
				conn_flush(c);
			}
		}
	}
	if (!(cqe->flags & IORING_CQE_F_MORE) && !cs->stopped)
		ring_accept(cs->ring, cs->fd, ring_tag(cs, RING_OP_CTL_ACCEPT));
}

void ctlsock_on_cqe(struct ctlsock *cs, enum ring_op op, void *obj, struct io_uring_cqe *cqe)
{
	switch (op) {
	case RING_OP_CTL_ACCEPT:
		on_accept(cs, cqe);
		break;
	case RING_OP_CTL_RECV:
		net_conn_on_recv(obj, cqe);
		break;
	case RING_OP_CTL_SEND:
		net_conn_on_send(obj, cqe->res);
		break;
	default:
		break;
	}
}

static int make_parent(const char *path)
{
	char dir[sizeof(((struct sockaddr_un *)0)->sun_path)];
	char *slash;

	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (!slash || slash == dir)
		return 0;
	*slash = '\0';
	if (mkdir(dir, 0750) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

/* A socket file left by a daemon that died is replaced; a live one is not. */
static int clear_stale(const struct sockaddr_un *sa)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int err = 0;

	if (fd < 0)
		return -errno;
	if (connect(fd, (const struct sockaddr *)sa, sizeof(*sa)) == 0)
		err = -EADDRINUSE;
	else if (errno == ECONNREFUSED)
		unlink(sa->sun_path);
	close(fd);
	return err;
}

static int resolve_group(const char *group, gid_t *gid)
{
	struct group *gr;

	*gid = getegid();
	if (!group || !group[0])
		return 0;
	gr = getgrnam(group);
	if (!gr) {
		log_err("control socket group %s does not exist", group);
		return -ENOENT;
	}
	*gid = gr->gr_gid;
	return 0;
}

struct ctlsock *ctlsock_open(const char *path, const char *group, struct ring *ring,
			     struct ctl_env *env, int *err)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct ctlsock *cs = NULL;
	int fd = -1;

	*err = -ENAMETOOLONG;
	if (strlen(path) >= sizeof(sa.sun_path))
		goto fail;
	strcpy(sa.sun_path, path);
	if ((*err = make_parent(path)) < 0 || (*err = clear_stale(&sa)) < 0)
		goto fail;
	cs = xcalloc(1, sizeof(*cs));
	if ((*err = resolve_group(group, &cs->gid)) < 0)
		goto fail;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    chmod(path, 0660) < 0 || chown(path, (uid_t)-1, cs->gid) < 0 || listen(fd, 64) < 0) {
		*err = -errno;
		goto fail;
	}
	cs->fd = fd;
	strcpy(cs->path, path);
	cs->ring = ring;
	net_conns_init(&cs->conns, ring, RING_OP_CTL_RECV, RING_OP_CTL_SEND);
	cs->env = env;
	*err = 0;
	return cs;
fail:
	if (*err != -EADDRINUSE)
		log_err("cannot open the control socket %s: %s", path, strerror(-*err));
	else if (!cs)
		log_info("control socket %s is in use by a running daemon", path);
	if (fd >= 0)
		close(fd);
	free(cs);
	return NULL;
}

const char *ctlsock_path(const struct ctlsock *cs)
{
	return cs->path;
}

void ctlsock_start(struct ctlsock *cs)
{
	ring_accept(cs->ring, cs->fd, ring_tag(cs, RING_OP_CTL_ACCEPT));
}

void ctlsock_stop(struct ctlsock *cs)
{
	if (cs->stopped)
		return;
	cs->stopped = true;
	ring_close_listener(cs->ring, cs->fd);
	unlink(cs->path);
	while (cs->conns.open)
		conn_close(ctl_of(net_conn_at(cs->conns.open)));
}

void ctlsock_free(struct ctlsock *cs)
{
	if (!cs)
		return;
	if (!cs->stopped) {
		close(cs->fd);
		unlink(cs->path);
	}
	net_conns_free(&cs->conns);
	free(cs);
}
