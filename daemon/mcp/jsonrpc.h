#ifndef MCPCHAT_JSONRPC_H
#define MCPCHAT_JSONRPC_H

#include <cjson/cJSON.h>

#include "util/buf.h"

/* JSON-RPC 2.0 message shapes and replies. */

#define JSONRPC_PARSE_ERROR -32700
#define JSONRPC_INVALID_REQUEST -32600
#define JSONRPC_METHOD_NOT_FOUND -32601
#define JSONRPC_INVALID_PARAMS -32602
#define JSONRPC_INTERNAL_ERROR -32603
/* Transport-level errors (no request to answer), as the SDK sends them. */
#define JSONRPC_SERVER_ERROR -32000
#define JSONRPC_SESSION_NOT_FOUND -32001

enum jsonrpc_kind {
	JSONRPC_INVALID,
	JSONRPC_REQUEST,
	JSONRPC_NOTIFICATION,
	JSONRPC_RESPONSE,
};

/* Rewrites two escapes cJSON cannot carry, in place, before parsing: "\u0000" becomes the
 * bytes C0 80 (Modified UTF-8, so a NUL survives cJSON's C strings; jsonrpc_nul_decode turns
 * it back), and an unpaired surrogate escape becomes its 3-byte encoding (ED A0 80...), which
 * no UTF-8 check accepts. Either way the field is refused by name instead of the whole body
 * failing to parse or a string being cut short. Returns the new length (never longer). */
size_t jsonrpc_fix_escapes(char *json, size_t len);
/* Turns C0 80 back into NUL in s; returns the new length. */
size_t jsonrpc_nul_decode(char *s, size_t len);

/* Installs cJSON's allocation hooks for the whole process: the parse arena below, and
 * util/xalloc.h for everything else, so no cJSON call in the daemon returns NULL for want of
 * memory (it aborts; see xalloc.h). Call before any other cJSON use (main, and the tests and
 * fuzz harnesses that drive daemon code); idempotent, and jsonrpc_parse calls it too. */
void jsonrpc_init(void);

/* Parses one request body. The tree's memory comes from a block that the next parse reuses,
 * so a request costs no malloc or free for its JSON; release it with jsonrpc_release before
 * the next jsonrpc_parse (a parse while a tree is still held falls back to malloc). Copies
 * made with cJSON_Duplicate are ordinary cJSON memory. Returns NULL if the text is not JSON. */
cJSON *jsonrpc_parse(const char *text, size_t len);
void jsonrpc_release(cJSON *tree);

/* The members of a message object that JSON-RPC names (the first of each, as cJSON finds). */
struct jsonrpc_fields {
	const cJSON *version, *method, *id, *params, *result, *error;
};

/* Classifies one message. For JSONRPC_INVALID, *why says what is wrong, in words. */
enum jsonrpc_kind jsonrpc_classify(const cJSON *msg, const char **why);
/* The same, and fills f in one pass over the members (f is zeroed for a non-object). */
enum jsonrpc_kind jsonrpc_classify_fields(const cJSON *msg, struct jsonrpc_fields *f,
					  const char **why);

/* {"jsonrpc":"2.0","id":ID,"result":RESULT}; result is JSON text. id NULL → null. */
void jsonrpc_append_result(struct buf *out, const cJSON *id, const char *result, size_t len);
/* {"jsonrpc":"2.0","id":ID,"result": — the caller appends the result and the closing "}". */
void jsonrpc_append_result_open(struct buf *out, const cJSON *id);
/* {"jsonrpc":"2.0","id":ID,"error":{"code":C,"message":M}}. */
void jsonrpc_append_error(struct buf *out, const cJSON *id, int code, const char *message);
/* The same with "data": data (JSON text; NULL for none). */
void jsonrpc_append_error_data(struct buf *out, const cJSON *id, int code, const char *message,
			       const char *data);
/* MCP's own codes (basic/index, error codes; 2026-07-28). */
#define MCP_HEADER_MISMATCH -32020
#define MCP_MISSING_CAPABILITY -32021
#define MCP_UNSUPPORTED_VERSION -32022

#endif
