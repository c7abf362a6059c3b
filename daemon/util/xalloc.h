#ifndef MCPCHAT_XALLOC_H
#define MCPCHAT_XALLOC_H

#include <stdarg.h>
#include <stddef.h>

/* Allocation failure policy: every allocation in the daemon goes through these, and they
 * never return NULL. When memory runs out they write one line at error level to stderr
 * ("<3>out of memory: ... N bytes; aborting") and abort(): systemd restarts the daemon
 * (Restart=on-failure). On Linux with overcommit a failed malloc means the process is in
 * trouble anyway, and a clean restart beats carrying on with partial state (a half-written
 * response on a keep-alive connection, a session half set up). Redis (zmalloc_oom_handler)
 * and h2o (h2o_mem_alloc) do the same. So callers do not test the results, and no function
 * of the daemon reports -ENOMEM or NULL for its own allocations. Whatever a peer can size
 * must be held to a configured limit before it is allocated, so no request can trip this.
 *
 * The line goes to stderr directly, not through log.c: this library is also linked into
 * mcpchatctl, which has no log.c (its own policy is cli_oom()). */

void *xmalloc(size_t n) __attribute__((malloc, returns_nonnull));
void *xcalloc(size_t count, size_t size) __attribute__((malloc, returns_nonnull));
void *xrealloc(void *p, size_t n) __attribute__((returns_nonnull));
char *xstrdup(const char *s) __attribute__((malloc, returns_nonnull));
char *xvasprintf(const char *fmt, va_list ap) __attribute__((format(printf, 1, 0), returns_nonnull));
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2), returns_nonnull));
/* Logs the failed size and aborts; for allocators that are not these (cJSON's hooks use
 * the ones above, so they need not call it). */
void xalloc_fail(size_t n) __attribute__((noreturn, cold));

#endif
