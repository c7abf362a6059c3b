#ifndef MCPCHAT_RING_H
#define MCPCHAT_RING_H

#include <stddef.h>
#include <stdint.h>

#include <liburing.h>
#include <sys/socket.h>

/* The io_uring every socket operation goes through: multishot accept, multishot recv into a
 * provided buffer ring, send, cancel+close, and reads of the signalfd. Each operation carries
 * a tagged pointer (the object it belongs to, the operation in the low bits). */

enum ring_op {
	RING_OP_ACCEPT = 1,
	RING_OP_RECV,
	RING_OP_SEND,
	RING_OP_SIGNAL,
	RING_OP_IGNORE, /* cancel and close: nothing to do on completion */
	RING_OP_CTL_ACCEPT,
	RING_OP_CTL_RECV,
	RING_OP_CTL_SEND,
	RING_OP_REDIS_CONNECT, /* redis/client.c: its connections to Redis */
	RING_OP_REDIS_RECV,
	RING_OP_REDIS_SEND,
};

struct ring {
	struct io_uring uring;
	struct io_uring_buf_ring *br;
	char *bufs;
	uint32_t nbufs, buf_size;
	unsigned pending_recycle;
};

/* entries: SQ size; nbufs (a power of two) receive buffers of buf_size bytes. 0 or -errno. */
int ring_init(struct ring *r, unsigned entries, unsigned nbufs, unsigned buf_size);
void ring_exit(struct ring *r);

/* Objects come from malloc, 16-byte aligned: the low four bits hold the operation. */
static inline uint64_t ring_tag(void *obj, enum ring_op op)
{
	return (uint64_t)(uintptr_t)obj | (uint64_t)op;
}
static inline void *ring_tag_obj(uint64_t tag)
{
	return (void *)(uintptr_t)(tag & ~(uint64_t)15);
}
static inline enum ring_op ring_tag_op(uint64_t tag)
{
	return (enum ring_op)(tag & 15);
}

void ring_accept(struct ring *r, int fd, uint64_t tag);
void ring_recv(struct ring *r, int fd, uint64_t tag);
void ring_send(struct ring *r, int fd, const void *buf, size_t len, uint64_t tag);
/* Connects a non-blocking socket; sa must stay valid until the completion (the kernel may
 * read it when the operation is issued, not when it is queued). */
void ring_connect(struct ring *r, int fd, const struct sockaddr *sa, socklen_t len, uint64_t tag);
void ring_read(struct ring *r, int fd, void *buf, size_t len, uint64_t tag);
/* Shuts the write side of a connected socket (a FIN after what was sent); recv goes on. */
void ring_shutdown_write(struct ring *r, int fd);
/* Shuts a connected socket down (its pending recv and send end) and closes it. */
void ring_close(struct ring *r, int fd);
/* Cancels the operation tagged tag (its completion still comes, -ECANCELED). */
void ring_cancel(struct ring *r, uint64_t tag);
/* Cancels the multishot accept on a listening socket and closes it. */
void ring_close_listener(struct ring *r, int fd);
/* Cancels every operation on fd (a connect in flight, say) and closes it; each cancelled
 * operation still completes (-ECANCELED) with its own tag. */
void ring_cancel_close(struct ring *r, int fd);

/* The bytes of a completed recv, and giving its buffer back. */
char *ring_buffer(struct ring *r, unsigned bid);
void ring_recycle(struct ring *r, unsigned bid);

/* Submits and waits for a completion or timeout_ms (UINT64_MAX: no limit). 0 or -errno
 * (-ETIME and -EINTR are normal). */
int ring_wait(struct ring *r, uint64_t timeout_ms);

#endif
