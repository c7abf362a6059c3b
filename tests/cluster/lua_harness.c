#include "lua_harness.h"

#include <arpa/inet.h>
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
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_KEPT 65536
#define START_TRIES 5
#define WAIT_MS 5000

static redisContext *ctx;
static const struct lh_server *current; /* the one lh_connect reached */
static redisReply *kept[MAX_KEPT];
static size_t nkept;

void lh_sleep_ms(unsigned ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* A port the kernel just handed out and nobody holds now (a race with other processes is
 * possible; a start that fails is retried on another). */
static int free_port(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM, 0), port = -1;

	if (fd < 0)
		return -1;
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 &&
	    getsockname(fd, (struct sockaddr *)&sa, &len) == 0)
		port = ntohs(sa.sin_port);
	close(fd);
	return port;
}

static void exec_server(const struct lh_server *s)
{
	char port[16], log[96];
	const char *bin;
	int fd;

	snprintf(port, sizeof(port), "%d", s->port);
	snprintf(log, sizeof(log), "%s/redis.log", s->dir);
	prctl(PR_SET_PDEATHSIG, SIGKILL); /* never outlives the test */
	fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd >= 0) {
		dup2(fd, 1);
		dup2(fd, 2);
	}
	bin = getenv("REDIS_SERVER"); /* the one CMake found; else from PATH */
	execlp(bin && *bin ? bin : "redis-server", "redis-server", "--port", port, "--bind", "127.0.0.1", "--dir",
	       s->dir, "--save", "", "--appendonly", "no", "--daemonize", "no", (char *)NULL);
	_exit(127);
}

/* Polls until the server answers PING, it exits, or WAIT_MS pass. */
static int await_ready(struct lh_server *s)
{
	for (int waited = 0; waited < WAIT_MS; waited += 20) {
		struct timeval tv = { 1, 0 };
		redisContext *c;

		if (waitpid(s->pid, NULL, WNOHANG) == s->pid) {
			s->pid = 0;
			return -1;
		}
		c = redisConnectWithTimeout("127.0.0.1", s->port, tv);
		if (c && !c->err) {
			redisReply *r = redisCommand(c, "PING");
			bool up = r && r->type == REDIS_REPLY_STATUS;

			freeReplyObject(r);
			redisFree(c);
			if (up)
				return 0;
		} else if (c) {
			redisFree(c);
		}
		lh_sleep_ms(20);
	}
	return -1;
}

int lh_server_start(struct lh_server *s)
{
	memset(s, 0, sizeof(*s));
	snprintf(s->dir, sizeof(s->dir), "/tmp/mcpchat-lua.XXXXXX");
	if (!mkdtemp(s->dir)) {
		perror("mkdtemp");
		return -1;
	}
	for (int i = 0; i < START_TRIES; i++) {
		s->port = free_port();
		s->pid = fork();
		if (s->pid < 0) {
			perror("fork");
			return -1;
		}
		if (s->pid == 0)
			exec_server(s);
		if (await_ready(s) == 0)
			return 0;
		lh_server_stop(s);
	}
	fprintf(stderr, "redis-server did not start (see %s/redis.log)\n", s->dir);
	return -1;
}

void lh_server_stop(struct lh_server *s)
{
	char log[96];

	if (s->pid > 0) {
		int waited = 0;

		kill(s->pid, SIGTERM);
		while (waitpid(s->pid, NULL, WNOHANG) == 0 && waited < WAIT_MS) {
			lh_sleep_ms(20);
			waited += 20;
		}
		if (waited >= WAIT_MS) {
			kill(s->pid, SIGKILL);
			waitpid(s->pid, NULL, 0);
		}
		s->pid = 0;
	}
	snprintf(log, sizeof(log), "%s/redis.log", s->dir);
	unlink(log);
	rmdir(s->dir);
}

redisContext *lh_connect_other(const struct lh_server *s)
{
	struct timeval tv = { 5, 0 };
	redisContext *c;

	s = s ? s : current;
	c = redisConnectWithTimeout("127.0.0.1", s->port, tv);
	if (c && !c->err) {
		redisSetTimeout(c, tv); /* a hung script fails the test, never hangs it */
		return c;
	}
	if (c)
		redisFree(c);
	return NULL;
}

int lh_connect(const struct lh_server *s)
{
	current = s;
	ctx = lh_connect_other(s);
	if (!ctx)
		return -1;
	{
		const char *argv[] = { "FUNCTION", "LOAD", cluster_scripts_library() };
		size_t lens[] = { 8, 4, cluster_scripts_library_len() };
		redisReply *r = redisCommandArgv(ctx, 3, argv, lens);
		const char *name = cluster_scripts_library_name();

		/* the library's name back; or it is there already (a second connect) */
		if (!r || !((r->type == REDIS_REPLY_STRING && strcmp(r->str, name) == 0) ||
			    (r->type == REDIS_REPLY_ERROR && strstr(r->str, "already exists")))) {
			fprintf(stderr, "FUNCTION LOAD: %s\n", r && r->str ? r->str : "no reply");
			freeReplyObject(r);
			return -1;
		}
		freeReplyObject(r);
	}
	return 0;
}

void lh_disconnect(void)
{
	lh_free_replies();
	if (ctx)
		redisFree(ctx);
	ctx = NULL;
}

redisContext *lh_ctx(void)
{
	return ctx;
}

static redisReply *keep(redisReply *r)
{
	if (!r) {
		fprintf(stderr, "redis: no reply (%s)\n", ctx->errstr);
		abort();
	}
	if (nkept == MAX_KEPT)
		lh_free_replies();
	kept[nkept++] = r;
	return r;
}

redisReply *lh_eval(redisContext *c, enum cluster_script s, int n, const char **argv)
{
	const char *all[64] = { "FCALL", cluster_script_function(s), "1", LH_PREFIX };
	redisReply *r;

	if (n > 60)
		abort();
	memcpy(all + 4, argv, (size_t)n * sizeof(*argv));
	r = keep(redisCommandArgv(c ? c : ctx, n + 4, all, NULL));
	if (r->type == REDIS_REPLY_ERROR)
		fprintf(stderr, "%s: %s\n", cluster_script_name(s), r->str);
	return r;
}

redisReply *lh_evalv(redisContext *c, enum cluster_script s, int argc, const char *const *argv,
		     const size_t *argvlen)
{
	const char *all[160] = { "FCALL", cluster_script_function(s), "1" };
	size_t lens[160] = { 5, strlen(all[1]), 1 };

	if (argc > 157)
		abort();
	memcpy(all + 3, argv, (size_t)argc * sizeof(*argv));
	memcpy(lens + 3, argvlen, (size_t)argc * sizeof(*argvlen));
	return redisCommandArgv(c ? c : ctx, argc + 3, all, lens);
}

redisReply *lh_cmd(const char *fmt, ...)
{
	va_list ap;
	redisReply *r;

	va_start(ap, fmt);
	r = redisvCommand(ctx, fmt, ap);
	va_end(ap);
	return keep(r);
}

void lh_free_replies(void)
{
	while (nkept)
		freeReplyObject(kept[--nkept]);
}

const char *lh_str(const redisReply *r, size_t i)
{
	if (!r || r->type != REDIS_REPLY_ARRAY || i >= r->elements ||
	    r->element[i]->type != REDIS_REPLY_STRING)
		return "";
	return r->element[i]->str;
}

long long lh_int(const redisReply *r, size_t i)
{
	if (!r || r->type != REDIS_REPLY_ARRAY || i >= r->elements)
		return -1;
	if (r->element[i]->type == REDIS_REPLY_INTEGER)
		return r->element[i]->integer;
	if (r->element[i]->type == REDIS_REPLY_STRING)
		return atoll(r->element[i]->str);
	return -1;
}

bool lh_ok(const redisReply *r)
{
	return strcmp(lh_str(r, 0), "ok") == 0;
}

const char *lh_err(const redisReply *r)
{
	return strcmp(lh_str(r, 0), "err") == 0 ? lh_str(r, 1) : "";
}
