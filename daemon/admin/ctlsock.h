#ifndef MCPCHAT_CTLSOCK_H
#define MCPCHAT_CTLSOCK_H

#include <liburing.h>

#include "admin/ctl.h"
#include "net/ring.h"

/* The control socket: a Unix stream listener in the same io_uring as everything else
 * (multishot accept and recv, sends through the ring). Peers are checked with SO_PEERCRED:
 * root, the daemon's own uid, or members of its group; others are refused and logged. */

struct ctlsock;

/* Binds path (mode 0660; the parent directory is created 0750 when missing). group (may be
 * empty: the daemon's own) owns the socket, and its members may use it. NULL with *err
 * (-errno) on failure, after logging why. env must outlive the socket. */
struct ctlsock *ctlsock_open(const char *path, const char *group, struct ring *ring,
			     struct ctl_env *env, int *err);
void ctlsock_start(struct ctlsock *cs);
const char *ctlsock_path(const struct ctlsock *cs);
/* Completions tagged RING_OP_CTL_*. */
void ctlsock_on_cqe(struct ctlsock *cs, enum ring_op op, void *obj, struct io_uring_cqe *cqe);
/* Stops accepting and closes admin connections (through the ring); unlinks the path. */
void ctlsock_stop(struct ctlsock *cs);
/* Frees everything; call after the ring has no more operations of it, or at exit. */
void ctlsock_free(struct ctlsock *cs);

#endif
