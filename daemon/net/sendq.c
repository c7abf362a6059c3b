#include "net/sendq.h"

void sendq_start(struct sendq *q, struct ring *r, int fd, uint64_t tag)
{
	struct buf t;

	if (q->sending || q->out.len == 0)
		return;
	t = q->inflight;
	q->inflight = q->out;
	q->out = t;
	q->out.len = 0;
	q->sent = 0;
	q->sending = true;
	ring_send(r, fd, q->inflight.p, q->inflight.len, tag);
}

bool sendq_sent(struct sendq *q, struct ring *r, int fd, uint64_t tag, int res)
{
	q->sending = false;
	q->sent += (size_t)res;
	q->sent_total += (uint64_t)res;
	if (q->sent < q->inflight.len) {
		q->sending = true;
		ring_send(r, fd, q->inflight.p + q->sent, q->inflight.len - q->sent, tag);
		return true;
	}
	q->inflight.len = 0;
	q->sent = 0;
	/* An idle connection keeps small buffers only. */
	if (q->inflight.cap > 16384)
		buf_free(&q->inflight);
	return false;
}

void sendq_free(struct sendq *q)
{
	buf_free(&q->out);
	buf_free(&q->inflight);
}
