#ifndef MCPCHAT_SERVICE_H
#define MCPCHAT_SERVICE_H

#include <stdint.h>

/* Running as a system service: systemd notifications (readiness, status, watchdog, stop) via
 * libsystemd's sd_notify, and giving up root and every capability once the sockets are bound. */

/* Each is a no-op when not started by systemd with Type=notify. */
void service_ready(const char *status);
void service_status(const char *status);
void service_reloading(void);
void service_stopping(void);
void service_watchdog(void);
/* How often the loop must call service_watchdog(), in ms; 0 when the watchdog is off. */
uint64_t service_watchdog_interval_ms(void);

/* Started as root: switches to user (and its groups) after dropping the capability bounding
 * set; in every case clears all capabilities and sets no_new_privs. socket_path (may be NULL)
 * is handed to the user so the daemon can replace it. Returns 0 or -errno, having logged why. */
int service_drop_privileges(const char *user, const char *socket_path);

#endif
