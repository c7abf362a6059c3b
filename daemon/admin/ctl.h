#ifndef MCPCHAT_CTL_H
#define MCPCHAT_CTL_H

#include <stddef.h>
#include <stdint.h>

#include <mcpchat/ctl_proto.h>

/* The control commands (include/mcpchat/ctl_proto.h) run against the daemon's state. Pure:
 * the Unix socket around it is ctlsock.c. Nothing here shows a session id or message text. */

struct mcp_server;
struct chat;
struct cluster_engine;

struct ctl_env {
	struct mcp_server *mcp;
	struct chat *chat;
	const char *listeners[8];
	int n_listeners;
	uint64_t started_ms;   /* timer_now_ms() at start */
	const uint32_t *conns; /* open client connections */
	/* `reload`: reads the configuration file again and applies it (server.c). Returns 0 with
	 * note = the keys that need a restart, ", "-separated ("" when none); -ENOENT when there
	 * is no file; another -errno with note = why the file did not load ("FILE:LINE: ...").
	 * NULL: there is no file to reload. */
	int (*reload)(void *ctx, char *note, size_t len);
	void *reload_ctx;
	const char *config_path; /* the file reload reads; NULL without -c */
	struct cluster_engine *engine; /* [cluster] redis set; NULL on a single node */
	const char *node_name;         /* [cluster] node, with engine */
};

/* A command answered later (nodes: a Redis round trip). ctl_execute_line returns NULL and
 * *later; the caller (ctlsock.c) sets answer and owner at once, and holds back the lines
 * behind it. The command then calls ctl_later_answer exactly once (bounded by the Redis
 * client's command timeout). A caller that goes away first sets owner to NULL: the answer
 * is dropped. */
struct ctl_later {
	void (*answer)(void *owner, char *line); /* takes line (malloc'd) */
	void *owner;
};
void ctl_later_answer(struct ctl_later *l, char *line);

/* Runs one request line; returns the response line (malloc'd, '\n'-terminated, never NULL:
 * allocation failure aborts, util/xalloc.h), or NULL with *later for a deferred answer. */
char *ctl_execute_line(struct ctl_env *env, const char *line, size_t len,
		       struct ctl_later **later);

#endif
