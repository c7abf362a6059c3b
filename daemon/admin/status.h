#ifndef MCPCHAT_STATUS_H
#define MCPCHAT_STATUS_H

#include <stdbool.h>

#include "util/buf.h"

/* GET /healthz and GET /metrics (Prometheus text format 0.0.4). */

struct mcp_server;
struct chat;
struct cluster_engine;

struct status_env {
	struct mcp_server *mcp;
	struct chat *chat;
	const unsigned *conns; /* open client connections */
	bool draining;
	struct cluster_engine *engine; /* a cluster node's Redis metrics; NULL: one node */
};

/* Is this one of the status paths? */
bool status_is_path(const char *path);
/* Builds the answer body for path; returns the HTTP status (200, or 503 while draining for
 * /healthz) and sets *ctype. */
int status_body(const struct status_env *env, const char *path, struct buf *out, const char **ctype);

#endif
