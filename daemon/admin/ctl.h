#ifndef MCPCHAT_CTL_H
#define MCPCHAT_CTL_H

#include <stddef.h>
#include <stdint.h>

#include <mcpchat/ctl_proto.h>

/* The control commands (include/mcpchat/ctl_proto.h) run against the daemon's state. Pure:
 * the Unix socket around it is ctlsock.c. Nothing here shows a session id or message text. */

struct mcp_server;
struct chat;

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
};

/* Runs one request line; returns the response line (malloc'd, '\n'-terminated, never NULL:
 * allocation failure aborts, util/xalloc.h). */
char *ctl_execute_line(struct ctl_env *env, const char *line, size_t len);

#endif
