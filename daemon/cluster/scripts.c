#include "cluster/scripts.h"

/* The table of the cluster's Lua scripts. Their text is generated at build time from
 * daemon/cluster/lua/ by cmake/EmbedLua.cmake into scripts_table.inc. */

struct script {
	const char *name;
	const char *src;
	size_t len;
};

#include "cluster/scripts_table.inc"

static const struct script table[CLUSTER_SCRIPT_COUNT] = { CLUSTER_SCRIPT_ENTRIES };

const char *cluster_script_source(enum cluster_script s)
{
	return (unsigned)s < CLUSTER_SCRIPT_COUNT ? table[s].src : NULL;
}

size_t cluster_script_len(enum cluster_script s)
{
	return (unsigned)s < CLUSTER_SCRIPT_COUNT ? table[s].len : 0;
}

const char *cluster_script_name(enum cluster_script s)
{
	return (unsigned)s < CLUSTER_SCRIPT_COUNT ? table[s].name : NULL;
}
