#ifndef MCPCHAT_SERVER_H
#define MCPCHAT_SERVER_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"

/* The daemon's event loop: listeners, connections and signals on one io_uring, requests
 * handed to mcp, timers run between waits. */

struct server;
struct mcp_server;

/* Binds every configured listener. Returns NULL with *err set (-errno) on failure; the
 * message for a person has been logged. */
struct server *server_new(struct config *cfg, int *err);
/* How SIGHUP and `mcpchatctl reload` read the configuration again: fills next (defaults, the
 * file at path, command line) or returns -errno with err saying why ("FILE:LINE: ..."). Without
 * one, SIGHUP only says there is nothing to do and `reload` is refused with "no_config". */
typedef int (*server_reload_fn)(struct config *next, char *err, size_t errlen);
void server_set_reload(struct server *srv, server_reload_fn fn, const char *path);
/* The bound address of listener i ("127.0.0.1:43211"), for the ready line. */
int server_listener_count(const struct server *srv);
/* The MCP layer (to add a catalog next to the chat's). */
struct mcp_server *server_mcp(struct server *srv);
const char *server_listener_name(const struct server *srv, int i);
/* The control socket's path, or NULL when running without one. */
const char *server_control_path(const struct server *srv);
/* Runs until SIGTERM/SIGINT and a graceful stop. Returns 0, or -errno on a fatal error. */
int server_run(struct server *srv);
void server_free(struct server *srv);

#endif
