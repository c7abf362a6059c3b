#ifndef MCPCHAT_CLIENT_H
#define MCPCHAT_CLIENT_H

#include <stdbool.h>
#include <stdint.h>

#include "chat/chat.h"
#include "config.h"
#include "mcp/mcp.h"
#include "net/conn.h"
#include "net/timer.h"

/* The HTTP client connections of the server (client.c): the glue between net/conn, the HTTP
 * request parser, mcp and the status endpoints. The server owns the set and drives it. */

struct client;

struct clients {
	struct net_conns conns; /* tagged RING_OP_RECV / RING_OP_SEND */
	const struct config *cfg;
	struct timer_heap *timers;
	struct mcp_server *mcp;
	struct chat *chat;     /* for /metrics */
	struct cluster_engine *engine; /* for /metrics; NULL: one node */
	struct client *ready;  /* connections with work to do after the current completions */
	uint32_t max_conns;    /* the ceiling: a newcomer past it gets a 503 */
	bool stopping;
};

/* An empty set on ring; mcp and chat are set by the caller once they exist. */
void clients_init(struct clients *cs, struct ring *ring, const struct config *cfg,
		  struct timer_heap *timers);
/* A socket from accept: a new connection, or a 503 and the door at the ceiling or a stop. */
void client_accept(struct clients *cs, int fd);
/* Does the work marked during the last completions (parsing after a held answer, closes). */
void client_process_ready(struct clients *cs);
/* A stop begins: idle connections close, lingering ones go, the rest finish their answer. */
void clients_stop(struct clients *cs);
/* At exit, before mcp goes: mcp lets go of every connection. */
void clients_release(struct clients *cs);
/* At exit, with the ring gone: frees every connection. */
void clients_free(struct clients *cs);

#endif
