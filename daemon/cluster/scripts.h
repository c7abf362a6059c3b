#ifndef MCPCHAT_CLUSTER_SCRIPTS_H
#define MCPCHAT_CLUSTER_SCRIPTS_H

#include <stddef.h>

/* The cluster's chat state machine: Lua functions that change the chat state in Redis
 * atomically (daemon/cluster/lua/: the shared prelude and one body per function, compiled
 * in as one library). A node loads the library (FUNCTION LOAD) and calls FCALL with
 * KEYS[1] = the hash tag ("{mcpchat}"), loading it again when Redis lost it. Their ARGV and
 * replies: daemon/cluster/README.md. */

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

/* The library's Lua text (NUL-terminated, "#!lua name=..." first), its length in bytes, and
 * its name ("mcpchat_" and a hash of the text: builds that differ never share one). */
const char *cluster_scripts_library(void);
size_t cluster_scripts_library_len(void);
const char *cluster_scripts_library_name(void);
/* A script's function in it (the library's name, "_", the script's name), or NULL for a
 * value out of range. */
const char *cluster_script_function(enum cluster_script s);
/* Its name ("chat_new", "enter_queue", ..., the file name under lua/), or NULL. */
const char *cluster_script_name(enum cluster_script s);

#endif
