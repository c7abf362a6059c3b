#include "net/conn.h"

#include <errno.h>
#include <unistd.h>

void net_conns_init(struct net_conns *set, struct ring *ring, enum ring_op op_recv,
		    enum ring_op op_send)
{
	set->ring = ring;
	set->op_recv = op_recv;
	set->op_send = op_send;
	set->open = set->zombies = NULL;
	set->n = 0;
}

static void conn_free(struct net_conn *c)
{
	sendq_free(&c->q);
	c->ops->free(c);
}

void net_conns_free(struct net_conns *set)
{
	while (set->open) {
		struct net_conn *c = net_conn_at(set->open);

		list_unlink(&set->open, &c->link);
		close(c->fd);
		conn_free(c);
	}
	while (set->zombies) {
		struct net_conn *c = net_conn_at(set->zombies);

		list_unlink(&set->zombies, &c->link);
		conn_free(c);
	}
	set->n = 0;
}

static void arm_recv(struct net_conn *c)
{
	c->recv_armed = true;
	ring_recv(c->set->ring, c->fd, ring_tag(c, c->set->op_recv));
}

void net_conn_start(struct net_conns *set, struct net_conn *c, int fd,
		    const struct net_conn_ops *ops)
{
	c->ops = ops;
	c->set = set;
	c->fd = fd;
	list_push(&set->open, &c->link);
	set->n++;
	arm_recv(c);
}

void net_conn_flush(struct net_conn *c)
{
	if (c->closing || sendq_idle(&c->q))
		return;
	sendq_start(&c->q, c->set->ring, c->fd, ring_tag(c, c->set->op_send));
}

void net_conn_maybe_free(struct net_conn *c)
{
	if (!c->closing || c->recv_armed || c->q.sending || (c->ops->held && c->ops->held(c)))
		return;
	list_unlink(&c->set->zombies, &c->link);
	conn_free(c);
}

void net_conn_close(struct net_conn *c)
{
	struct net_conns *set = c->set;

	if (c->closing)
		return;
	c->closing = true;
	ring_close(set->ring, c->fd);
	list_unlink(&set->open, &c->link);
	list_push(&set->zombies, &c->link);
	set->n--;
	net_conn_maybe_free(c);
}

void net_conn_on_recv(struct net_conn *c, struct io_uring_cqe *cqe)
{
	struct ring *ring = c->set->ring;
	int res = cqe->res;

	if (!(cqe->flags & IORING_CQE_F_MORE))
		c->recv_armed = false;
	if (cqe->flags & IORING_CQE_F_BUFFER) {
		unsigned bid = cqe->flags >> IORING_CQE_BUFFER_SHIFT;

		if (res > 0 && !c->closing)
			c->ops->on_data(c, ring_buffer(ring, bid), (size_t)res);
		ring_recycle(ring, bid);
	}
	if (c->closing) {
		/* After the shutdown a multishot recv goes on returning data for as long as the
		 * peer sends, holding the socket open: a peer that floods would keep it forever. */
		if (c->recv_armed && !c->recv_cancelled) {
			c->recv_cancelled = true;
			ring_cancel(ring, ring_tag(c, c->set->op_recv));
		}
		net_conn_maybe_free(c);
		return;
	}
	/* A multishot recv ends now and then (out of buffers, or the kernel's choice): the
	 * recycled buffers are published before the new one is submitted (ring.c). */
	if (res > 0 || res == -ENOBUFS) {
		if (!c->recv_armed)
			arm_recv(c);
		return;
	}
	c->ops->on_end(c, res);
}

void net_conn_on_send(struct net_conn *c, int res)
{
	if (c->closing || res < 0) {
		c->q.sending = false;
		if (c->closing)
			net_conn_maybe_free(c);
		else
			c->ops->on_end(c, res); /* the owner closes it, its own state first */
		return;
	}
	sendq_sent(&c->q, c->set->ring, c->fd, ring_tag(c, c->set->op_send), res);
	c->ops->on_sent(c, res);
}
