#include "net/ring.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>

#include "util/xalloc.h"

#define RING_BGID 1

static int setup(struct ring *r, unsigned entries)
{
	struct io_uring_params p;
	int err;

	memset(&p, 0, sizeof(p));
	/* One thread issues everything; let the kernel run completions only when we wait. */
	p.flags = IORING_SETUP_CQSIZE | IORING_SETUP_SUBMIT_ALL | IORING_SETUP_SINGLE_ISSUER |
		  IORING_SETUP_DEFER_TASKRUN;
	p.cq_entries = entries * 4;
	err = io_uring_queue_init_params(entries, &r->uring, &p);
	if (err == -EINVAL) {
		memset(&p, 0, sizeof(p));
		p.flags = IORING_SETUP_CQSIZE;
		p.cq_entries = entries * 4;
		err = io_uring_queue_init_params(entries, &r->uring, &p);
	}
	return err;
}

int ring_init(struct ring *r, unsigned entries, unsigned nbufs, unsigned buf_size)
{
	struct io_uring_buf_reg reg;
	size_t ring_bytes = nbufs * sizeof(struct io_uring_buf);
	int err;

	memset(r, 0, sizeof(*r));
	err = setup(r, entries);
	if (err < 0)
		return err;
	/* Every wait enters the kernel: a registered ring fd spares it the fd lookup. It is an
	 * optimisation only, so a kernel without it is fine. */
	io_uring_register_ring_fd(&r->uring);
	r->nbufs = nbufs;
	r->buf_size = buf_size;
	r->br = mmap(NULL, ring_bytes, PROT_READ | PROT_WRITE, MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
	if (r->br == MAP_FAILED) {
		err = -errno;
		r->br = NULL;
		goto fail;
	}
	r->bufs = xmalloc((size_t)nbufs * buf_size);
	memset(&reg, 0, sizeof(reg));
	reg.ring_addr = (uint64_t)(uintptr_t)r->br;
	reg.ring_entries = nbufs;
	reg.bgid = RING_BGID;
	err = io_uring_register_buf_ring(&r->uring, &reg, 0);
	if (err < 0)
		goto fail;
	io_uring_buf_ring_init(r->br);
	for (unsigned i = 0; i < nbufs; i++)
		io_uring_buf_ring_add(r->br, r->bufs + (size_t)i * buf_size, buf_size, (unsigned short)i,
				      io_uring_buf_ring_mask(nbufs), (int)i);
	io_uring_buf_ring_advance(r->br, (int)nbufs);
	return 0;
fail:
	ring_exit(r);
	return err;
}

void ring_exit(struct ring *r)
{
	if (r->br)
		munmap(r->br, r->nbufs * sizeof(struct io_uring_buf));
	free(r->bufs);
	io_uring_queue_exit(&r->uring);
	memset(r, 0, sizeof(*r));
}

/* Recycled buffers become visible to the kernel in one step, before anything is submitted:
 * a recv re-armed after -ENOBUFS then finds them. */
static void publish_recycled(struct ring *r)
{
	if (r->pending_recycle) {
		io_uring_buf_ring_advance(r->br, (int)r->pending_recycle);
		r->pending_recycle = 0;
	}
}

/* Never fails: when the SQ is full, what is queued is submitted to make room. */
static struct io_uring_sqe *get_sqe(struct ring *r)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&r->uring);

	while (!sqe) {
		publish_recycled(r);
		io_uring_submit(&r->uring);
		sqe = io_uring_get_sqe(&r->uring);
	}
	return sqe;
}

void ring_accept(struct ring *r, int fd, uint64_t tag)
{
	struct io_uring_sqe *sqe = get_sqe(r);

	io_uring_prep_multishot_accept(sqe, fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	io_uring_sqe_set_data64(sqe, tag);
}

void ring_recv(struct ring *r, int fd, uint64_t tag)
{
	struct io_uring_sqe *sqe = get_sqe(r);

	io_uring_prep_recv_multishot(sqe, fd, NULL, 0, 0);
	sqe->flags |= IOSQE_BUFFER_SELECT;
	sqe->buf_group = RING_BGID;
	io_uring_sqe_set_data64(sqe, tag);
}

void ring_send(struct ring *r, int fd, const void *buf, size_t len, uint64_t tag)
{
	struct io_uring_sqe *sqe = get_sqe(r);

	io_uring_prep_send(sqe, fd, buf, len, MSG_NOSIGNAL);
	io_uring_sqe_set_data64(sqe, tag);
}

void ring_connect(struct ring *r, int fd, const struct sockaddr *sa, socklen_t len, uint64_t tag)
{
	struct io_uring_sqe *sqe = get_sqe(r);

	io_uring_prep_connect(sqe, fd, sa, len);
	io_uring_sqe_set_data64(sqe, tag);
}

void ring_read(struct ring *r, int fd, void *buf, size_t len, uint64_t tag)
{
	struct io_uring_sqe *sqe = get_sqe(r);

	io_uring_prep_read(sqe, fd, buf, (unsigned)len, 0);
	io_uring_sqe_set_data64(sqe, tag);
}

void ring_shutdown_write(struct ring *r, int fd)
{
	struct io_uring_sqe *sqe = get_sqe(r);

	io_uring_prep_shutdown(sqe, fd, SHUT_WR);
	io_uring_sqe_set_data64(sqe, RING_OP_IGNORE);
}

/* first, hard-linked to a close of fd (the close runs whatever first returns). */
static void then_close(struct ring *r, struct io_uring_sqe *first, int fd)
{
	struct io_uring_sqe *sqe;

	io_uring_sqe_set_data64(first, RING_OP_IGNORE);
	first->flags |= IOSQE_IO_HARDLINK;
	sqe = get_sqe(r);
	io_uring_prep_close(sqe, fd);
	io_uring_sqe_set_data64(sqe, RING_OP_IGNORE);
}

void ring_close(struct ring *r, int fd)
{
	/* Two SQEs that must be queued together: make room for both first. */
	if (io_uring_sq_space_left(&r->uring) < 2) {
		publish_recycled(r);
		io_uring_submit(&r->uring);
	}
	/* Shutting the socket down ends its pending recv and send at once. Cancelling by fd
	 * would make the kernel scan every pending request: quadratic in a mass close. */
	{
		struct io_uring_sqe *sqe = get_sqe(r);

		io_uring_prep_shutdown(sqe, fd, SHUT_RDWR);
		then_close(r, sqe, fd);
	}
}

void ring_cancel(struct ring *r, uint64_t tag)
{
	struct io_uring_sqe *sqe = get_sqe(r);

	io_uring_prep_cancel64(sqe, tag, 0);
	io_uring_sqe_set_data64(sqe, RING_OP_IGNORE);
}

void ring_close_listener(struct ring *r, int fd)
{
	ring_cancel_close(r, fd);
}

void ring_cancel_close(struct ring *r, int fd)
{
	struct io_uring_sqe *sqe;

	if (io_uring_sq_space_left(&r->uring) < 2) {
		publish_recycled(r);
		io_uring_submit(&r->uring);
	}
	sqe = get_sqe(r);
	io_uring_prep_cancel_fd(sqe, fd, IORING_ASYNC_CANCEL_ALL);
	then_close(r, sqe, fd);
}

char *ring_buffer(struct ring *r, unsigned bid)
{
	return r->bufs + (size_t)bid * r->buf_size;
}

void ring_recycle(struct ring *r, unsigned bid)
{
	io_uring_buf_ring_add(r->br, ring_buffer(r, bid), r->buf_size, (unsigned short)bid,
			      io_uring_buf_ring_mask(r->nbufs), (int)r->pending_recycle++);
}

int ring_wait(struct ring *r, uint64_t timeout_ms)
{
	struct io_uring_cqe *cqe;
	struct __kernel_timespec ts;

	publish_recycled(r);
	if (timeout_ms == UINT64_MAX) {
		int ret = io_uring_submit_and_wait(&r->uring, 1);
		return ret < 0 ? ret : 0;
	}
	ts.tv_sec = (long long)(timeout_ms / 1000);
	ts.tv_nsec = (long long)(timeout_ms % 1000) * 1000000;
	return io_uring_submit_and_wait_timeout(&r->uring, &cqe, 1, &ts, NULL);
}
