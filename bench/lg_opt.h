/* The command line, parsed once in loadgen.c and read everywhere. */
#ifndef LG_OPT_H
#define LG_OPT_H

#include <netinet/in.h>
#include <stdbool.h>

#include "lg_util.h"

enum lg_mode { LG_MODE_RPC, LG_MODE_RAW, LG_MODE_RELAY, LG_MODE_IDLE, LG_MODE_SCALE };

struct lg_opt {
	enum lg_mode mode;
	const char *url;
	const char *label;
	char host[64];
	int port;
	char path[256];
	char hosthdr[96];
	struct sockaddr_in dst;
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
