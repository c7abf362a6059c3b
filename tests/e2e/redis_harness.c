/* The shared parts of the in-process Redis suites (redis_harness.h). */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "redis_harness.h"
#include "unit.h"

/* The loop */

struct ring R;
struct timer_heap H;

uint64_t ms_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

void loop_once(uint64_t max_wait)
{
	struct io_uring_cqe *cqe;
	unsigned head, n = 0;
	uint64_t now, next, wait;

	timer_clock_tick();
	timer_run(&H, timer_now_ms());
	now = timer_now_ms();
	next = timer_next(&H);
	wait = next == UINT64_MAX ? max_wait : next > now ? next - now : 0;
	ring_wait(&R, wait < max_wait ? wait : max_wait);
	timer_clock_tick();
	io_uring_for_each_cqe(&R.uring, head, cqe) {
		uint64_t tag = io_uring_cqe_get_data64(cqe);
		enum ring_op op = ring_tag_op(tag);

		if (op == RING_OP_REDIS_CONNECT || op == RING_OP_REDIS_RECV || op == RING_OP_REDIS_SEND)
			redis_on_cqe(op, ring_tag_obj(tag), cqe);
		else if (cqe->flags & IORING_CQE_F_BUFFER)
			ring_recycle(&R, cqe->flags >> IORING_CQE_BUFFER_SHIFT);
		n++;
	}
	io_uring_cq_advance(&R.uring, n);
}

/* Runs the loop until *flag reaches want (flag NULL: for ms). */
bool drive_int(const int *flag, int want, uint64_t ms)
{
	uint64_t end = ms_now() + ms;

	while (!flag || *flag < want) {
		if (ms_now() >= end)
			return !flag;
		loop_once(20);
	}
	return true;
}

bool drive_state(struct redis_client *cl, enum redis_state st, uint64_t ms)
{
	uint64_t end = ms_now() + ms;

	while (redis_client_state(cl) != st) {
		if (ms_now() >= end)
			return false;
		loop_once(20);
	}
	return true;
}

/* Stops a client, lets the ring finish with it, frees it. */
void client_done(struct redis_client *cl)
{
	uint64_t end = ms_now() + 3000;

	if (!cl)
		return;
	redis_client_stop(cl);
	while (!redis_client_idle(cl) && ms_now() < end)
		loop_once(20);
	CU_ASSERT_TRUE(redis_client_idle(cl));
	redis_client_free(cl);
}


void on_call(void *ctx, int err, const redisReply *r)
{
	struct call *c = ctx;

	c->done++;
	c->err = err;
	c->type = r ? r->type : 0;
	c->integer = r ? r->integer : 0;
	c->len = r && r->str ? r->len : 0;
	if (c->len)
		memcpy(c->str, r->str, c->len < sizeof(c->str) - 1 ? c->len : sizeof(c->str) - 1);
	c->str[c->len < sizeof(c->str) - 1 ? c->len : sizeof(c->str) - 1] = '\0';
}

/* Sends argv (NULL-terminated C strings) and waits for the answer: 0 with c filled, or the
 * error redis_command returned, or -ETIME when no answer came. */
int run(struct redis_client *cl, struct call *c, ...)
{
	const char *av[16];
	int n = 0, err;
	va_list ap;

	memset(c, 0, sizeof(*c));
	va_start(ap, c);
	while (n < 16 && (av[n] = va_arg(ap, const char *)))
		n++;
	va_end(ap);
	err = redis_command(cl, n, av, NULL, on_call, c);
	if (err < 0)
		return err;
	return drive_int(&c->done, 1, 5000) ? 0 : -ETIME;
}

/* redis-server */


bool have_v6;
const char *redis_bin;
static pid_t children[8];

void track(pid_t pid)
{
	for (int i = 0; i < 8; i++)
		if (!children[i]) {
			children[i] = pid;
			return;
		}
}

/* SIGKILL and reap, by PID. */
void kill_child(pid_t *pid)
{
	if (*pid <= 0)
		return;
	kill(*pid, SIGCONT);
	kill(*pid, SIGKILL);
	waitpid(*pid, NULL, 0);
	for (int i = 0; i < 8; i++)
		if (children[i] == *pid)
			children[i] = 0;
	*pid = 0;
}

void kill_all(void)
{
	for (int i = 0; i < 8; i++)
		kill_child(&children[i]);
}

int free_port(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM, 0), port = -1;

	if (fd >= 0 && bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 &&
	    getsockname(fd, (struct sockaddr *)&sa, &len) == 0)
		port = ntohs(sa.sin_port);
	close(fd);
	return port;
}

bool v6_loopback(void)
{
	struct sockaddr_in6 sa = { .sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT };
	int fd = socket(AF_INET6, SOCK_STREAM, 0);
	bool ok = fd >= 0 && bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;

	close(fd);
	return ok;
}

/* A blocking PING over the unix socket: true once redis answers. */
bool rs_ping(const struct rs *r)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct timeval tv = { 0, 200000 };
	char buf[16];
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);
	bool ok = false;

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", r->unix_path);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 && write(fd, "PING\r\n", 6) == 6)
		ok = read(fd, buf, sizeof(buf)) >= 5 && !memcmp(buf, "+PONG", 5);
	close(fd);
	return ok;
}

/* Starts redis-server on r->port (0: a free one) in r->dir; waits up to 5 s. */
int rs_start(struct rs *r)
{
	char port[16], log[128];
	const char *argv[32];
	int n = 0;
	uint64_t end;

	if (!r->port)
		r->port = free_port();
	snprintf(port, sizeof(port), "%d", r->port);
	snprintf(log, sizeof(log), "%s/redis.log", r->dir);
	snprintf(r->unix_path, sizeof(r->unix_path), "%s/redis.sock", r->dir);
	snprintf(r->tcp4, sizeof(r->tcp4), "127.0.0.1:%d", r->port);
	snprintf(r->tcp6, sizeof(r->tcp6), "[::1]:%d", r->port);
	snprintf(r->unix_spec, sizeof(r->unix_spec), "unix:%s", r->unix_path);
	argv[n++] = redis_bin;
	argv[n++] = "--port";
	argv[n++] = port;
	argv[n++] = "--bind";
	argv[n++] = "127.0.0.1";
	if (have_v6)
		argv[n++] = "::1";
	const char *rest[] = { "--unixsocket", r->unix_path, "--unixsocketperm", "700", "--save", "",
			       "--appendonly", "no", "--dir", r->dir, "--logfile", log,
			       "--daemonize", "no", "--protected-mode", "no", NULL };
	for (int i = 0; rest[i]; i++)
		argv[n++] = rest[i];
	argv[n] = NULL;
	r->pid = fork();
	if (r->pid < 0)
		return -errno;
	if (r->pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		execv(redis_bin, (char *const *)argv);
		_exit(127);
	}
	track(r->pid);
	end = ms_now() + 5000;
	while (ms_now() < end) {
		if (waitpid(r->pid, NULL, WNOHANG) == r->pid) {
			r->pid = 0;
			return -ECHILD;
		}
		if (rs_ping(r))
			return 0;
		usleep(20000);
	}
	kill_child(&r->pid);
	return -ETIMEDOUT;
}

int rh_init(const char *suite)
{
	signal(SIGPIPE, SIG_IGN);
	atexit(kill_all);
	redis_bin = getenv("REDIS_SERVER") ? getenv("REDIS_SERVER") : "/usr/bin/redis-server";
	if (access(redis_bin, X_OK) < 0) {
		fprintf(stderr, "%s: %s not found (apt-get install redis-server)\n", suite, redis_bin);
		return -1;
	}
	have_v6 = v6_loopback();
	if (ring_init(&R, 256, 64, 16384) < 0)
		return -1;
	timer_heap_init(&H);
	return 0;
}

void rh_exit(void)
{
	ring_exit(&R);
	timer_heap_free(&H);
}

int rs_mkdir(struct rs *r)
{
	snprintf(r->dir, sizeof(r->dir), "/tmp/mcpchat-redis-XXXXXX");
	return mkdtemp(r->dir) ? 0 : -1;
}

int rs_remove(struct rs *r)
{
	char cmd[128];

	kill_child(&r->pid);
	if (!r->dir[0])
		return 0;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", r->dir);
	return system(cmd) == 0 ? 0 : -1;
}
