#ifndef MCPCHATCTL_PRINT_H
#define MCPCHATCTL_PRINT_H

#include <cjson/cJSON.h>

/* One printer per command: the human form of the data the daemon answered with. */

void print_status(const cJSON *d);
void print_stats(const cJSON *d);
void print_queues(const cJSON *d);
void print_rooms(const cJSON *d);
void print_sessions(const cJSON *d);
void print_kick(const cJSON *d);
void print_notify(const cJSON *d);
void print_reload(const cJSON *d);
void print_nodes(const cJSON *d);

#endif
