#ifndef MCPCHAT_SERVER_H
#define MCPCHAT_SERVER_H

#include <stdint.h>

#include "config.h"

/* The daemon's event loop: listeners, connections and signals on one io_uring, requests
 * handed to mcp, timers run between waits. */

struct server;

/* Binds every configured listener. Returns NULL with *err set (-errno) on failure; the
 * message for a person has been logged. */
struct server *server_new(const struct config *cfg, int *err);
/* The bound address of listener i ("127.0.0.1:43211"), for the ready line. */
int server_listener_count(const struct server *srv);
const char *server_listener_name(const struct server *srv, int i);
/* Runs until SIGTERM/SIGINT and a graceful stop. Returns 0, or -errno on a fatal error. */
int server_run(struct server *srv);
void server_free(struct server *srv);

#endif
