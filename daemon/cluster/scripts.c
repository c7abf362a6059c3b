#include "cluster/scripts.h"

/* The cluster's Lua library and its functions. Generated at build time from
 * daemon/cluster/lua/ by cmake/EmbedLua.cmake into scripts_table.inc. */

struct script {
	const char *name;
	const char *function;
};

#include "cluster/scripts_table.inc"

static const struct script table[CLUSTER_SCRIPT_COUNT] = { CLUSTER_SCRIPT_ENTRIES };

const char *cluster_scripts_library(void)
{
	return lua_library;
}

size_t cluster_scripts_library_len(void)
{
	return CLUSTER_LIBRARY_BYTES;
}

const char *cluster_scripts_library_name(void)
{
	return CLUSTER_LIBRARY_NAME;
}

const char *cluster_script_function(enum cluster_script s)
{
	return (unsigned)s < CLUSTER_SCRIPT_COUNT ? table[s].function : NULL;
}

const char *cluster_script_name(enum cluster_script s)
{
	return (unsigned)s < CLUSTER_SCRIPT_COUNT ? table[s].name : NULL;
}
