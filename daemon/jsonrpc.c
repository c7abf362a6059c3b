#include "jsonrpc.h"

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

static bool valid_id(const cJSON *id)
{
	if (cJSON_IsString(id))
		return true;
	/* MCP ids are strings or integers. */
	return cJSON_IsNumber(id) && floor(id->valuedouble) == id->valuedouble &&
	       fabs(id->valuedouble) < 9007199254740992.0;
}

enum jsonrpc_kind jsonrpc_classify(const cJSON *msg, const char **why)
{
	const cJSON *version, *method, *id;

	if (!cJSON_IsObject(msg)) {
		*why = "a JSON-RPC message must be a JSON object";
		return JSONRPC_INVALID;
	}
	version = cJSON_GetObjectItemCaseSensitive(msg, "jsonrpc");
	if (!cJSON_IsString(version) || strcmp(version->valuestring, "2.0") != 0) {
		*why = "\"jsonrpc\" must be \"2.0\"";
		return JSONRPC_INVALID;
	}
	method = cJSON_GetObjectItemCaseSensitive(msg, "method");
	id = cJSON_GetObjectItemCaseSensitive(msg, "id");
	if (id && !valid_id(id)) {
		*why = "\"id\" must be a string or an integer";
		return JSONRPC_INVALID;
	}
	if (method) {
		const cJSON *params = cJSON_GetObjectItemCaseSensitive(msg, "params");

		if (!cJSON_IsString(method) || !method->valuestring[0]) {
			*why = "\"method\" must be a non-empty string";
			return JSONRPC_INVALID;
		}
		if (params && !cJSON_IsObject(params) && !cJSON_IsArray(params)) {
			*why = "\"params\" must be an object";
			return JSONRPC_INVALID;
		}
		return id ? JSONRPC_REQUEST : JSONRPC_NOTIFICATION;
	}
	if (id && (cJSON_GetObjectItemCaseSensitive(msg, "result") ||
		   cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(msg, "error"))))
		return JSONRPC_RESPONSE;
	*why = "a JSON-RPC message needs \"method\" (a request or notification) or \"result\"/\"error\" with \"id\"";
	return JSONRPC_INVALID;
}

static int append_id(struct buf *out, const cJSON *id)
{
	char *text;
	int err;

	if (!id)
		return buf_puts(out, "null");
	if (cJSON_IsString(id))
		return buf_json_string(out, id->valuestring, strlen(id->valuestring));
	/* Integer ids go back digit for digit: %g would round 2^53-1 or write 1e+15. */
	if (valid_id(id))
		return buf_printf(out, "%lld", (long long)id->valuedouble);
	text = cJSON_PrintUnformatted(id);
	if (!text)
		return -ENOMEM;
	err = buf_puts(out, text);
	cJSON_free(text);
	return err;
}

int jsonrpc_append_result(struct buf *out, const cJSON *id, const char *result, size_t len)
{
	if (buf_puts(out, "{\"jsonrpc\":\"2.0\",\"id\":") < 0 || append_id(out, id) < 0 ||
	    buf_puts(out, ",\"result\":") < 0 || buf_append(out, result, len) < 0 ||
	    buf_puts(out, "}") < 0)
		return -ENOMEM;
	return 0;
}

int jsonrpc_append_error(struct buf *out, const cJSON *id, int code, const char *message)
{
	if (buf_puts(out, "{\"jsonrpc\":\"2.0\",\"id\":") < 0 || append_id(out, id) < 0 ||
	    buf_printf(out, ",\"error\":{\"code\":%d,\"message\":", code) < 0 ||
	    buf_json_string(out, message, strlen(message)) < 0 || buf_puts(out, "}}") < 0)
		return -ENOMEM;
	return 0;
}
