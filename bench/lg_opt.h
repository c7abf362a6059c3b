/* The command line, parsed once in loadgen.c and read everywhere. */
#ifndef LG_OPT_H
#define LG_OPT_H

#include <netinet/in.h>
#include <stdbool.h>

#include "lg_util.h"

enum lg_mode { LG_MODE_RPC, LG_MODE_RAW, LG_MODE_RELAY, LG_MODE_IDLE, LG_MODE_SCALE };

/* a server to connect to: --url, or --url-b (side B of every pair, on another daemon) */
struct lg_target {
	char host[64];
	int port;
	char path[256];
	char hosthdr[96];
	struct sockaddr_in dst;
};

struct lg_opt {
	enum lg_mode mode;
	const char *url;
	const char *url_b; /* rpc/relay: side B's server (odd sessions); NULL: --url for all */
	const char *label;
	struct lg_target tgt[2]; /* [0] from --url, [1] from --url-b (else a copy of [0]) */
	int conns;        /* rpc/raw: POST connections (= sessions for rpc) */
	int pairs;        /* relay/scale */
	double rate;      /* relay/scale: offered messages per second, aggregate */
	double duration;  /* measured seconds */
	double warmup;    /* seconds before measuring */
	int depth;        /* relay: most requests outstanding per POST connection */
	int msg_size;     /* message text bytes (at least what the header needs) */
	bool find_max;
	double find_samples; /* relay --find-max: messages a step measures at least */
	u64 spin_us;      /* relay: spin instead of sleeping when the next send is this close */
	double stall_ms;  /* debug: report POSTs unanswered for this long, with TCP state */
	char rates[512];
	double p99_limit_ms;
	int sessions;     /* idle/scale */
	int workers;      /* idle/scale: forked processes holding idle sessions */
	int per_worker;   /* most sessions per worker */
	int concurrency;  /* idle: sessions being set up at once, all workers together */
	int src_addrs;    /* number of 127.0.0.x source addresses (from .2) */
	int pid;          /* server pid for RSS and CPU */
	int pid_b;        /* rpc/relay: side B's server (--url-b), for its CPU per call/message */
	int redis_pid;    /* rpc/relay: a redis-server the servers share, for its CPU per call/message */
	double hold;      /* idle: seconds to hold after all are open before measuring RSS */
	double setup_timeout;
	double drain_timeout;
	const char *body; /* raw: request body */
	const char *era;  /* --era: 2025 (sessions) or modern (2026-07-28, chat_id) */
	bool modern;
	bool verbose;
};

extern struct lg_opt lg_opt;

#endif
