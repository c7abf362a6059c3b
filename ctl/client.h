#ifndef MCPCHATCTL_CLIENT_H
#define MCPCHATCTL_CLIENT_H

#include <mcpchat/ctl_proto.h>

#include "cli.h"

/* The systemd service's socket: tried when the default path does not exist. */
#define CLIENT_SYSTEMD_SOCKET "/run/mcp-chat/control.sock"

/* Connects to the control socket (o->socket, else the default path, else the systemd one),
 * sends the request line and decodes the answer into res, all within o->timeout_s. Returns 0
 * or an exit status, having said why on stderr. res is the caller's to free. */
int client_exchange(const struct opts *o, const char *line, struct ctl_response *res);

#endif
