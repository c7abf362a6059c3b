/* The load generator's modes; each prints one JSON object and returns the exit status (0, or 3
 * when a correctness check failed). */
#ifndef LG_SCENARIOS_H
#define LG_SCENARIOS_H

/* rpc: sessions in pairs, send_message closed loop on keep-alive POSTs, push streams drained */
int lg_rpc_run(void);
/* raw: the same POST loop against any URL (nginx's fixed 200), no sessions */
int lg_raw_run(void);
/* relay: messages offered open loop at --rate, or --find-max */
int lg_relay_run(void);
/* idle: sessions holding a push stream, spread over forked workers; RSS per session */
int lg_idle_run(void);
/* scale: idle sessions beside a relay at a fixed rate; the server's CPU per message */
int lg_scale_run(void);

#endif
