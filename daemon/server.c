#include "server.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "admin/ctl.h"
#include "admin/ctlsock.h"
#include "admin/stats.h"
#include "chat/chat.h"
#include "chat/tools.h"
#include "client.h"
#include "cluster/engine.h"
#include "cluster/node.h"
#include "mcp/mcp.h"
#include "net/listener.h"
#include "net/ring.h"
#include "net/timer.h"
#include "redis/client.h"
#include "service.h"
#include "util/log.h"
#include "util/xalloc.h"

struct server {
	struct config *cfg;
	server_reload_fn reload;
	struct ring ring;
	struct timer_heap timers;
	struct mcp_server *mcp;
	struct chat *chat;
	struct cluster_engine *engine; /* [cluster] redis: the chat is in Redis */
	struct net_listener *listeners[CONFIG_MAX_LISTEN];
	int n_listeners;
	int sigfd;
	struct signalfd_siginfo siginfo;
	struct clients clients;
	struct timer accept_retry;
	struct timer service_tick; /* systemd STATUS= and watchdog */
	struct ctl_env ctl_env;
	struct ctlsock *ctl;
	bool stopping;
	uint64_t stop_deadline;
};

/* Listeners */

static void on_accept(struct server *srv, struct net_listener *l, struct io_uring_cqe *cqe)
{
	if (cqe->res >= 0)
		client_accept(&srv->clients, cqe->res);
	if (cqe->flags & IORING_CQE_F_MORE || srv->stopping)
		return;
	if (cqe->res == -EMFILE || cqe->res == -ENFILE || cqe->res == -ENOMEM) {
		/* Out of descriptors: try again shortly rather than spin. */
		log_warn("accept on %s: %s; retrying in 100 ms", l->name, strerror(-cqe->res));
		timer_arm(&srv->timers, &srv->accept_retry, timer_now_ms() + 100);
		return;
	}
	ring_accept(&srv->ring, l->fd, ring_tag(l, RING_OP_ACCEPT));
}

static void on_accept_retry(struct timer *t)
{
	struct server *srv = container_of(t, struct server, accept_retry);

	for (int i = 0; i < srv->n_listeners && !srv->stopping; i++)
		ring_accept(&srv->ring, srv->listeners[i]->fd, ring_tag(srv->listeners[i], RING_OP_ACCEPT));
}

/* Signals and the graceful stop */

static void begin_stop(struct server *srv)
{
	struct mcp_stats st;

	if (srv->stopping)
		return;
	mcp_server_stats(srv->mcp, &st);
	service_stopping();
	srv->stopping = true;
	srv->clients.stopping = true; /* answers from here on close their connection */
	srv->stop_deadline = timer_now_ms() + srv->cfg->shutdown_grace_ms;
	log_notice("stopping: no new connections, ending %u sessions", st.sessions);
	timer_cancel(&srv->timers, &srv->accept_retry);
	for (int i = 0; i < srv->n_listeners; i++)
		ring_close_listener(&srv->ring, srv->listeners[i]->fd);
	srv->n_listeners = 0;
	if (srv->ctl)
		ctlsock_stop(srv->ctl);
	mcp_server_shutdown(srv->mcp);
	/* Waiting calls answer now, the node leaves the member list. */
	cluster_engine_stop(srv->engine);
	clients_stop(&srv->clients);
}

/* Raises the soft descriptor limit to the hard one and keeps a margin below it (listeners,
 * the ring, the control socket, refusals), so the ceiling is met with a 503, not EMFILE. */
static uint32_t conn_ceiling(const struct config *cfg)
{
	struct rlimit rl;
	uint64_t max = cfg->max_connections;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		if (rl.rlim_cur < rl.rlim_max) {
			rl.rlim_cur = rl.rlim_max;
			setrlimit(RLIMIT_NOFILE, &rl);
		}
		if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur > 256 && rl.rlim_cur - 128 < max)
			max = rl.rlim_cur - 128;
	}
	return (uint32_t)max;
}

/* Reads the configuration file again and applies it, for SIGHUP and `mcpchatctl reload` (by
 * names the caller in the log). 0 with note = the keys that need a restart ("" when none);
 * -ENOENT without a file; -EINVAL with note = why the file did not load, keeping the running
 * configuration. systemd hears RELOADING=1 first and READY=1 once done, either way. */
static int reload(struct server *srv, const char *by, char *note, size_t len)
{
	struct config next;

	if (!srv->reload) {
		log_notice("%s: no configuration file in use, nothing to reload", by);
		snprintf(note, len, "no configuration file in use");
		return -ENOENT;
	}
	service_reloading();
	if (srv->reload(&next, note, len) < 0) {
		log_err("%s: %s; keeping the running configuration", by, note);
		service_ready("reload failed; running configuration kept");
		return -EINVAL;
	}
	config_reload(srv->cfg, &next, note, len);
	log_set_level((enum log_level)srv->cfg->log_level);
	chat_tools_configure(srv->chat, srv->cfg);
	mcp_server_reconfigure(srv->mcp);
	srv->clients.max_conns = conn_ceiling(srv->cfg);
	if (note[0])
		log_notice("configuration reloaded; these need a restart to change: %s", note);
	else
		log_notice("configuration reloaded");
	service_ready("configuration reloaded");
	return 0;
}

static int ctl_reload(void *ctx, char *note, size_t len)
{
	return reload(ctx, "control: reload", note, len);
}

static uint64_t tick_interval(void)
{
	uint64_t wd = service_watchdog_interval_ms();

	return wd && wd < 5000 ? wd : 5000;
}

/* Every few seconds: tell systemd how things are and that the loop is alive. */
static void on_service_tick(struct timer *t)
{
	struct server *srv = container_of(t, struct server, service_tick);
	struct mcp_stats ms;
	struct chat_stats cs;
	char status[200];

	mcp_server_stats(srv->mcp, &ms);
	chat_get_stats(srv->chat, &cs);
	if (srv->engine) {
		/* The chat state is the cluster's: waiting and rooms are too, labelled so. */
		struct cluster_node_stats ns;

		cluster_node_stats(cluster_engine_node(srv->engine), &ns);
		snprintf(status, sizeof(status), "%u sessions, %u streams, %u connections; cluster: "
			 "%llu chats, %llu waiting, %llu rooms", ms.sessions, ms.streams,
			 srv->clients.conns.n, (unsigned long long)ns.figures.chats,
			 (unsigned long long)ns.figures.waiting, (unsigned long long)ns.figures.rooms);
	} else {
		snprintf(status, sizeof(status), "%u sessions, %u waiting, %u rooms, %u streams, %u connections",
			 ms.sessions, cs.waiting, cs.rooms, ms.streams, srv->clients.conns.n);
	}
	service_status(status);
	service_watchdog();
	if (!srv->stopping)
		timer_arm(&srv->timers, t, timer_now_ms() + tick_interval());
}

const char *server_control_path(const struct server *srv)
{
	return srv->ctl ? ctlsock_path(srv->ctl) : NULL;
}

void server_set_reload(struct server *srv, server_reload_fn fn, const char *path)
{
	srv->reload = fn;
	srv->ctl_env.config_path = fn ? path : NULL;
}

static void on_signal(struct server *srv, int res)
{
	if (res == (int)sizeof(srv->siginfo)) {
		switch (srv->siginfo.ssi_signo) {
		case SIGTERM:
		case SIGINT:
			begin_stop(srv);
			break;
		case SIGHUP: {
			char note[512];

			reload(srv, "SIGHUP", note, sizeof(note));
			break;
		}
		}
	}
	ring_read(&srv->ring, srv->sigfd, &srv->siginfo, sizeof(srv->siginfo),
		  ring_tag(srv, RING_OP_SIGNAL));
}

static void handle_cqe(struct server *srv, struct io_uring_cqe *cqe)
{
	uint64_t tag = io_uring_cqe_get_data64(cqe);
	void *obj = ring_tag_obj(tag);

	switch (ring_tag_op(tag)) {
	case RING_OP_ACCEPT:
		on_accept(srv, obj, cqe);
		break;
	case RING_OP_RECV:
		net_conn_on_recv(obj, cqe);
		break;
	case RING_OP_SEND:
		net_conn_on_send(obj, cqe->res);
		break;
	case RING_OP_SIGNAL:
		on_signal(srv, cqe->res);
		break;
	case RING_OP_CTL_ACCEPT:
	case RING_OP_CTL_RECV:
	case RING_OP_CTL_SEND:
		if (srv->ctl)
			ctlsock_on_cqe(srv->ctl, ring_tag_op(tag), obj, cqe);
		else if (cqe->flags & IORING_CQE_F_BUFFER)
			ring_recycle(&srv->ring, cqe->flags >> IORING_CQE_BUFFER_SHIFT);
		break;
	case RING_OP_REDIS_CONNECT:
	case RING_OP_REDIS_RECV:
	case RING_OP_REDIS_SEND:
		redis_on_cqe(ring_tag_op(tag), obj, cqe);
		break;
	default:
		if (cqe->flags & IORING_CQE_F_BUFFER)
			ring_recycle(&srv->ring, cqe->flags >> IORING_CQE_BUFFER_SHIFT);
		break;
	}
}

static uint64_t wait_ms(struct server *srv, uint64_t now)
{
	uint64_t next = timer_next(&srv->timers);
	uint64_t ms = next == UINT64_MAX ? UINT64_MAX : next > now ? next - now : 0;

	if (srv->stopping && srv->stop_deadline - now < ms)
		ms = srv->stop_deadline > now ? srv->stop_deadline - now : 0;
	return ms;
}

int server_run(struct server *srv)
{
	for (int i = 0; i < srv->n_listeners; i++)
		ring_accept(&srv->ring, srv->listeners[i]->fd, ring_tag(srv->listeners[i], RING_OP_ACCEPT));
	ring_read(&srv->ring, srv->sigfd, &srv->siginfo, sizeof(srv->siginfo),
		  ring_tag(srv, RING_OP_SIGNAL));
	if (srv->ctl)
		ctlsock_start(srv->ctl);
	if (srv->engine) /* the heartbeat says where this node serves, and that it does */
		cluster_engine_running(srv->engine, srv->n_listeners ? srv->listeners[0]->name : "");
	timer_init(&srv->service_tick, on_service_tick);
	timer_arm(&srv->timers, &srv->service_tick, timer_now_ms() + tick_interval());
	for (;;) {
		struct io_uring_cqe *cqe;
		unsigned head, n = 0;
		uint64_t now;
		int err;

		timer_clock_tick();
		now = timer_now_ms();
		stats.loop_iterations++;
		timer_run(&srv->timers, now);
		client_process_ready(&srv->clients);
		/* The engine too: its node removes its heartbeat (HDEL) before the loop ends. */
		if (srv->stopping && ((srv->clients.conns.n == 0 && cluster_engine_idle(srv->engine)) ||
				      now >= srv->stop_deadline))
			break;
		err = ring_wait(&srv->ring, wait_ms(srv, now));
		if (err < 0 && err != -ETIME && err != -EINTR && err != -EAGAIN && err != -EBUSY) {
			log_err("io_uring wait failed: %s", strerror(-err));
			return err;
		}
		timer_clock_tick();
		io_uring_for_each_cqe(&srv->ring.uring, head, cqe) {
			handle_cqe(srv, cqe);
			n++;
		}
		io_uring_cq_advance(&srv->ring.uring, n);
	}
	log_notice("stopped");
	return 0;
}

/* Setup */

static int open_signals(struct server *srv)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
		return -errno;
	signal(SIGPIPE, SIG_IGN);
	srv->sigfd = signalfd(-1, &set, SFD_CLOEXEC);
	return srv->sigfd < 0 ? -errno : 0;
}

static int open_control(struct server *srv)
{
	char path[sizeof(srv->cfg->control_socket)];
	struct ctl_env *env = &srv->ctl_env;
	int err;

	if (srv->cfg->control_socket[0])
		snprintf(path, sizeof(path), "%s", srv->cfg->control_socket);
	else if ((err = ctl_default_socket_path(path, sizeof(path))) < 0)
		return err;
	env->mcp = srv->mcp;
	env->chat = srv->chat;
	for (int i = 0; i < srv->n_listeners && i < 8; i++)
		env->listeners[env->n_listeners++] = srv->listeners[i]->name;
	env->started_ms = timer_now_ms();
	env->conns = &srv->clients.conns.n;
	env->reload = ctl_reload;
	env->reload_ctx = srv;
	env->engine = srv->engine;
	env->node_name = srv->engine ? srv->cfg->cluster_node : NULL;
	srv->ctl = ctlsock_open(path, srv->cfg->control_group, &srv->ring, env, &err);
	if (srv->ctl) {
		log_info("control socket at %s", path);
		return 0;
	}
	/* Only the default path may be taken by another instance: then run without one. */
	if (err == -EADDRINUSE && !srv->cfg->control_socket[0]) {
		log_warn("control socket %s belongs to another running mcp-chatd; running without "
			 "one (pass --control-socket PATH to have one)", path);
		return 0;
	}
	return err;
}

struct server *server_new(struct config *cfg, int *err)
{
	struct server *srv = xcalloc(1, sizeof(*srv));

	srv->cfg = cfg;
	srv->sigfd = -1;
	timer_heap_init(&srv->timers);
	timer_init(&srv->accept_retry, on_accept_retry);
	clients_init(&srv->clients, &srv->ring, cfg, &srv->timers);
	srv->clients.max_conns = conn_ceiling(cfg);
	for (int i = 0; i < cfg->n_listen; i++) {
		struct net_listener *l = xcalloc(1, sizeof(*l));

		srv->listeners[srv->n_listeners++] = l;
		l->fd = -1;
		*err = net_listen(cfg->listen[i], l);
		if (*err < 0) {
			log_err("cannot listen on %s: %s", cfg->listen[i], strerror(-*err));
			goto fail;
		}
	}
	*err = open_signals(srv);
	if (*err < 0) {
		log_err("cannot set up signal handling: %s", strerror(-*err));
		goto fail;
	}
	*err = ring_init(&srv->ring, 4096, 1024, 4096);
	if (*err < 0) {
		log_err("cannot set up io_uring: %s", strerror(-*err));
		goto fail;
	}
	srv->mcp = mcp_server_new(cfg, &srv->timers);
	srv->chat = chat_tools_register(srv->mcp, cfg, &srv->timers);
	if (!srv->chat) {
		*err = -EIO;
		log_err("cannot key the chat's hash tables: getrandom failed");
		goto fail;
	}
	if (cfg->cluster_redis[0]) {
		srv->engine = cluster_engine_new(cfg, &srv->ring, &srv->timers, srv->mcp,
						 srv->chat, err);
		if (!srv->engine) {
			log_err("cannot set up the cluster node: %s", strerror(-*err));
			goto fail;
		}
		chat_tools_set_engine(srv->engine);
		log_notice("cluster node %s: the chat is shared through Redis", cfg->cluster_node);
	}
	srv->clients.mcp = srv->mcp;
	srv->clients.chat = srv->chat;
	srv->clients.engine = srv->engine;
	*err = open_control(srv);
	if (*err < 0)
		goto fail;
	return srv;
fail:
	server_free(srv);
	return NULL;
}

struct mcp_server *server_mcp(struct server *srv)
{
	return srv->mcp;
}

int server_listener_count(const struct server *srv)
{
	return srv->n_listeners;
}

const char *server_listener_name(const struct server *srv, int i)
{
	return srv->listeners[i]->name;
}

void server_free(struct server *srv)
{
	if (!srv)
		return;
	/* mcp lets go of every connection before it ends its sessions. */
	clients_release(&srv->clients);
	/* Every deferred answer the engine holds is answered before mcp goes. */
	cluster_engine_stop(srv->engine);
	chat_tools_set_engine(NULL);
	mcp_server_free(srv->mcp);
	if (srv->chat)
		chat_tools_free(srv->chat);
	/* The kernel lets go of buffers and sockets before their memory goes. */
	if (srv->ring.br)
		ring_exit(&srv->ring);
	cluster_engine_free(srv->engine);
	ctlsock_free(srv->ctl);
	clients_free(&srv->clients);
	for (int i = 0; i < CONFIG_MAX_LISTEN; i++) {
		if (srv->listeners[i] && srv->listeners[i]->fd >= 0 && i < srv->n_listeners)
			close(srv->listeners[i]->fd);
		free(srv->listeners[i]);
	}
	if (srv->sigfd >= 0)
		close(srv->sigfd);
	timer_heap_free(&srv->timers);
	free(srv);
}
