#ifndef MCPCHAT_CLUSTER_SCRIPTS_H
#define MCPCHAT_CLUSTER_SCRIPTS_H

#include <stddef.h>

/* The cluster's chat state machine: Lua scripts that change the chat state in Redis
 * atomically (daemon/cluster/lua/, each compiled in as the shared prelude + its body). A
 * node SCRIPT LOADs them and calls EVALSHA with KEYS[1] = the hash tag ("{mcpchat}"),
 * reloading on NOSCRIPT. Their ARGV and replies: daemon/cluster/README.md. */

enum cluster_script {
	CLUSTER_SCRIPT_CHAT_NEW,
	CLUSTER_SCRIPT_ENTER_QUEUE,
	CLUSTER_SCRIPT_JOIN_ROOM,
	CLUSTER_SCRIPT_SEND,
	CLUSTER_SCRIPT_READ,
	CLUSTER_SCRIPT_LEAVE,
	CLUSTER_SCRIPT_STATUS,
	CLUSTER_SCRIPT_TOUCH,
	CLUSTER_SCRIPT_END,
	CLUSTER_SCRIPT_SWEEP,
	CLUSTER_SCRIPT_FALLBACK,
	CLUSTER_SCRIPT_ADMIN_LIST, /* mcpchatctl: read-only listings (cluster/admin.h) */
	CLUSTER_SCRIPT_KICK,       /* mcpchatctl kick of a chat on any node */
	CLUSTER_SCRIPT_COUNT, /* not a script: how many there are */
};

/* The script's Lua text (NUL-terminated), or NULL for a value out of range. */
const char *cluster_script_source(enum cluster_script s);
/* Its length in bytes (0 out of range). */
size_t cluster_script_len(enum cluster_script s);
/* Its name ("chat_new", "enter_queue", ..., the file name under lua/), or NULL. */
const char *cluster_script_name(enum cluster_script s);

#endif
