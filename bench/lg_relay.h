/* relay: messages offered open loop at an aggregate rate, message k due at t0 + k/rate from
 * session k mod n, at most --depth outstanding per POST connection; latency runs from the
 * scheduled time, so a server that falls behind is charged for its queue. */
#ifndef LG_RELAY_H
#define LG_RELAY_H

#include <stdbool.h>

#include "lg_hist.h"
#include "lg_mcp.h"
#include "lg_proc.h"
#include "lg_run.h"

struct lg_relay_step {
	double rate, achieved, duration;
	struct lg_cpusnap c0, c1;
	struct lg_run_cpu server; /* over the measured window */
	u64 sent, sent_window, unsent, errors;
	struct lg_delivery d;
	struct lg_hist lat, rtt;
	bool correct, sustained;
};

/* Makes relay the answer to a send_message; before lg_mcp_setup. */
void lg_relay_init(void);
/* One step at rate on the sessions set up: warm-up, --duration measured, drain. */
void lg_relay_step(double rate, struct lg_relay_step *out);
/* The step's fields, without braces. */
void lg_relay_print_step_fields(const struct lg_relay_step *s);

#endif
