#ifndef MCPCHAT_NET_CONN_H
#define MCPCHAT_NET_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "net/ring.h"
#include "net/sendq.h"
#include "util/list.h"

/* One connection lifecycle for every socket the loop serves (HTTP clients, control
 * clients): a multishot recv kept armed, a send queue, and a close through the ring. A
 * closed connection waits among the set's zombies until the ring is done with it (its recv
 * has ended, no send is in flight) and its owner lets go (ops->held); then ops->free frees
 * the object that embeds it. Like redis's connection type: the owner supplies the vtable. */

struct net_conn;

struct net_conn_ops {
	/* Bytes arrived; data is valid during the call only. May close the connection. */
	void (*on_data)(struct net_conn *c, const char *data, size_t len);
	/* The input ended (0 at the peer's EOF, -errno on a recv error) or a send failed
	 * (-errno): the owner closes c with net_conn_close, now or once its answer is out. */
	void (*on_end)(struct net_conn *c, int res);
	/* res bytes went out (the queue has moved on). */
	void (*on_sent)(struct net_conn *c, int res);
	/* The owner still refers to c (e.g. on a work list); NULL: never. */
	bool (*held)(const struct net_conn *c);
	/* Frees the object that embeds c; its fd is closed already. */
	void (*free)(struct net_conn *c);
};

/* The connections of one kind: their ring, the ring operations they are tagged with, and
 * who is open and who is waiting to be freed. */
struct net_conns {
	struct ring *ring;
	enum ring_op op_recv, op_send;
	struct list_link *open;
	struct list_link *zombies;
	uint32_t n; /* open */
};

struct net_conn {
	const struct net_conn_ops *ops;
	struct net_conns *set;
	int fd;
	struct sendq q;
	struct list_link link; /* in set->open, then set->zombies */
	bool recv_armed, closing;
	bool recv_cancelled; /* closing: its recv is being cancelled */
};

void net_conns_init(struct net_conns *set, struct ring *ring, enum ring_op op_recv,
		    enum ring_op op_send);
/* At exit, with the ring gone: closes and frees every connection still there. */
void net_conns_free(struct net_conns *set);

static inline struct net_conn *net_conn_at(struct list_link *l)
{
	return container_of(l, struct net_conn, link);
}

/* c (zeroed by the caller, embedded in its object) takes fd and starts receiving. */
void net_conn_start(struct net_conns *set, struct net_conn *c, int fd,
		    const struct net_conn_ops *ops);
/* Sends what waits in c->q.out, unless a send is in flight. */
void net_conn_flush(struct net_conn *c);
/* Starts tearing down: the ring shuts the socket and closes it; freed when all is done. */
void net_conn_close(struct net_conn *c);
/* Frees a closed connection once nothing refers to it (call when ops->held turns false). */
void net_conn_maybe_free(struct net_conn *c);
/* Completions of its recv and send. */
void net_conn_on_recv(struct net_conn *c, struct io_uring_cqe *cqe);
void net_conn_on_send(struct net_conn *c, int res);

#endif
