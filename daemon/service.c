#include "service.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/capability.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#include <systemd/sd-daemon.h>

#include "util/log.h"

void service_ready(const char *status)
{
	sd_notifyf(0, "READY=1\nSTATUS=%s\nMAINPID=%lu", status, (unsigned long)getpid());
}

void service_status(const char *status)
{
	sd_notifyf(0, "STATUS=%s", status);
}

void service_reloading(void)
{
	struct timespec ts;

	/* systemd 253+ pairs RELOADING=1 with the time it was sent; 252 ignores the field. */
	clock_gettime(CLOCK_MONOTONIC, &ts);
	sd_notifyf(0, "RELOADING=1\nSTATUS=reloading\nMONOTONIC_USEC=%llu",
		   (unsigned long long)ts.tv_sec * 1000000ULL + (unsigned long long)ts.tv_nsec / 1000);
}

void service_stopping(void)
{
	sd_notify(0, "STOPPING=1\nSTATUS=stopping");
}

void service_watchdog(void)
{
	sd_notify(0, "WATCHDOG=1");
}

uint64_t service_watchdog_interval_ms(void)
{
	uint64_t usec = 0;

	if (sd_watchdog_enabled(0, &usec) <= 0)
		return 0;
	/* Twice per period, as sd_watchdog_enabled(3) advises. */
	return usec / 2000 ? usec / 2000 : 1;
}

static int switch_user(const char *user, const char *socket_path)
{
	struct passwd *pw = getpwnam(user);

	if (!pw) {
		log_err("cannot run as user %s: no such user (create it, or set [server] user)", user);
		return -ENOENT;
	}
	if (socket_path && chown(socket_path, pw->pw_uid, (gid_t)-1) < 0)
		log_warn("cannot hand %s to %s: %s", socket_path, user, strerror(errno));
	/* The bounding set can only shrink while we still have CAP_SETPCAP. */
	for (cap_value_t cap = 0; CAP_IS_SUPPORTED(cap); cap++)
		cap_drop_bound(cap);
	if (initgroups(user, pw->pw_gid) < 0 || setgid(pw->pw_gid) < 0 || setuid(pw->pw_uid) < 0) {
		log_err("cannot switch to user %s: %s", user, strerror(errno));
		return -errno;
	}
	if (setuid(0) == 0) {
		log_err("switched to user %s but could become root again; refusing to run", user);
		return -EPERM;
	}
	log_info("running as user %s (uid %u)", user, (unsigned)pw->pw_uid);
	return 0;
}

int service_drop_privileges(const char *user, const char *socket_path)
{
	cap_t none = cap_init();
	int err = 0;

	if (!none)
		return -ENOMEM;
	if (geteuid() == 0) {
		if (user && user[0])
			err = switch_user(user, socket_path);
		else
			log_warn("running as root without capabilities; set [server] user to run as a service user");
	}
	if (err == 0 && cap_set_proc(none) < 0) {
		err = -errno;
		log_err("cannot drop capabilities: %s", strerror(errno));
	}
	if (err == 0 && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		err = -errno;
	cap_free(none);
	return err;
}
