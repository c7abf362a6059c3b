#include "mcp/jsonrpc.h"

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "util/xalloc.h"

/* Under AddressSanitizer the block's free space is poisoned, so a node used after
 * jsonrpc_release() is reported like any use after free. */
#if defined(__SANITIZE_ADDRESS__)
#define ARENA_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define ARENA_ASAN 1
#endif
#endif
#ifdef ARENA_ASAN
#include <sanitizer/asan_interface.h>
#define ARENA_POISON(p, n) ASAN_POISON_MEMORY_REGION((p), (n))
#define ARENA_UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION((p), (n))
#else
#define ARENA_POISON(p, n) ((void)(p), (void)(n))
#define ARENA_UNPOISON(p, n) ((void)(p), (void)(n))
#endif

/* cJSON allocates every node and string on its own; during jsonrpc_parse those come from
 * this block instead, and freeing them is a no-op. The hooks serve the rest of the process
 * with xmalloc (which aborts rather than return NULL) and free. */
static struct {
	_Alignas(16) char block[32768];
	size_t used;
	bool hooked, parsing, held;
} arena;

static void *arena_malloc(size_t n)
{
	size_t need = (n + 15) & ~(size_t)15;

	if (arena.parsing && need <= sizeof(arena.block) - arena.used) {
		void *p = arena.block + arena.used;

		arena.used += need;
		ARENA_UNPOISON(p, n);
		return p;
	}
	return xmalloc(n);
}

static void arena_free(void *p)
{
	if ((char *)p >= arena.block && (char *)p < arena.block + sizeof(arena.block))
		return;
	free(p);
}

void jsonrpc_init(void)
{
	cJSON_Hooks hooks = { .malloc_fn = arena_malloc, .free_fn = arena_free };

	if (arena.hooked)
		return;
	cJSON_InitHooks(&hooks);
	arena.hooked = true;
	ARENA_POISON(arena.block, sizeof(arena.block));
}

cJSON *jsonrpc_parse(const char *text, size_t len)
{
	cJSON *tree;

	jsonrpc_init();
	if (arena.held)
		return cJSON_ParseWithLength(text, len);
	arena.used = 0;
	arena.parsing = true;
	tree = cJSON_ParseWithLength(text, len);
	arena.parsing = false;
	arena.held = tree != NULL;
	if (!arena.held) /* a failed parse freed what it had built */
		ARENA_POISON(arena.block, sizeof(arena.block));
	return tree;
}

void jsonrpc_release(cJSON *tree)
{
	if (!tree)
		return;
	cJSON_Delete(tree);
	if ((char *)tree >= arena.block && (char *)tree < arena.block + sizeof(arena.block)) {
		arena.held = false;
		ARENA_POISON(arena.block, sizeof(arena.block));
	}
}

static bool valid_id(const cJSON *id)
{
	if (cJSON_IsString(id))
		return true;
	/* MCP ids are strings or integers. */
	return cJSON_IsNumber(id) && floor(id->valuedouble) == id->valuedouble &&
	       fabs(id->valuedouble) < 9007199254740992.0;
}

static void collect(const cJSON *msg, struct jsonrpc_fields *f)
{
	memset(f, 0, sizeof(*f));
	for (const cJSON *it = msg->child; it; it = it->next) {
		const char *k = it->string;
		const cJSON **slot = NULL;

		if (!k)
			continue;
		switch (k[0]) {
		case 'j': slot = strcmp(k, "jsonrpc") == 0 ? &f->version : NULL; break;
		case 'm': slot = strcmp(k, "method") == 0 ? &f->method : NULL; break;
		case 'i': slot = strcmp(k, "id") == 0 ? &f->id : NULL; break;
		case 'p': slot = strcmp(k, "params") == 0 ? &f->params : NULL; break;
		case 'r': slot = strcmp(k, "result") == 0 ? &f->result : NULL; break;
		case 'e': slot = strcmp(k, "error") == 0 ? &f->error : NULL; break;
		}
		if (slot && !*slot)
			*slot = it;
	}
}

enum jsonrpc_kind jsonrpc_classify_fields(const cJSON *msg, struct jsonrpc_fields *f,
					  const char **why)
{
	if (!cJSON_IsObject(msg)) {
		memset(f, 0, sizeof(*f));
		*why = "a JSON-RPC message must be a JSON object";
		return JSONRPC_INVALID;
	}
	collect(msg, f);
	if (!cJSON_IsString(f->version) || strcmp(f->version->valuestring, "2.0") != 0) {
		*why = "\"jsonrpc\" must be \"2.0\"";
		return JSONRPC_INVALID;
	}
	if (f->id && !valid_id(f->id)) {
		*why = "\"id\" must be a string or an integer";
		return JSONRPC_INVALID;
	}
	if (f->method) {
		if (!cJSON_IsString(f->method) || !f->method->valuestring[0]) {
			*why = "\"method\" must be a non-empty string";
			return JSONRPC_INVALID;
		}
		if (f->params && !cJSON_IsObject(f->params) && !cJSON_IsArray(f->params)) {
			*why = "\"params\" must be an object";
			return JSONRPC_INVALID;
		}
		return f->id ? JSONRPC_REQUEST : JSONRPC_NOTIFICATION;
	}
	if (f->id && (f->result || cJSON_IsObject(f->error)))
		return JSONRPC_RESPONSE;
	*why = "a JSON-RPC message needs \"method\" (a request or notification) or \"result\"/\"error\" with \"id\"";
	return JSONRPC_INVALID;
}

enum jsonrpc_kind jsonrpc_classify(const cJSON *msg, const char **why)
{
	struct jsonrpc_fields f;

	return jsonrpc_classify_fields(msg, &f, why);
}

static void append_id(struct buf *out, const cJSON *id)
{
	char *text;

	if (!id) {
		buf_puts(out, "null");
		return;
	}
	if (cJSON_IsString(id)) {
		buf_json_string(out, id->valuestring, strlen(id->valuestring));
		return;
	}
	/* Integer ids go back digit for digit: %g would round 2^53-1 or write 1e+15. */
	if (valid_id(id)) {
		if (id->valuedouble < 0)
			buf_puts(out, "-");
		buf_put_u64(out, (uint64_t)fabs(id->valuedouble));
		return;
	}
	/* cJSON's allocations abort (the hooks above), so NULL is only a node it cannot print. */
	text = cJSON_PrintUnformatted(id);
	buf_puts(out, text ? text : "null");
	cJSON_free(text);
}

void jsonrpc_append_result(struct buf *out, const cJSON *id, const char *result, size_t len)
{
	jsonrpc_append_result_open(out, id);
	buf_append(out, result, len);
	buf_puts(out, "}");
}

void jsonrpc_append_result_open(struct buf *out, const cJSON *id)
{
	buf_puts(out, "{\"jsonrpc\":\"2.0\",\"id\":");
	append_id(out, id);
	buf_puts(out, ",\"result\":");
}

void jsonrpc_append_error(struct buf *out, const cJSON *id, int code, const char *message)
{
	jsonrpc_append_error_data(out, id, code, message, NULL);
}

void jsonrpc_append_error_data(struct buf *out, const cJSON *id, int code, const char *message,
			       const char *data)
{
	buf_puts(out, "{\"jsonrpc\":\"2.0\",\"id\":");
	append_id(out, id);
	buf_printf(out, ",\"error\":{\"code\":%d,\"message\":", code);
	buf_json_string(out, message, strlen(message));
	if (data) {
		buf_puts(out, ",\"data\":");
		buf_puts(out, data);
	}
	buf_puts(out, "}}");
}

static int hex4(const char *p)
{
	int v = 0;

	for (int i = 0; i < 4; i++) {
		char c = p[i];
		int d = c >= '0' && c <= '9' ? c - '0'
			: c >= 'a' && c <= 'f' ? c - 'a' + 10
			: c >= 'A' && c <= 'F' ? c - 'A' + 10
					       : -1;
		if (d < 0)
			return -1;
		v = v << 4 | d;
	}
	return v;
}

/* The replacement for the escape at p (6 bytes, "\\uXXXX"): its length, 0 to keep the
 * escape, or SIZE_MAX for a well-formed surrogate pair (12 bytes) to keep whole. */
static size_t fix_one(const char *p, size_t left, char out[3])
{
	int v = left >= 6 ? hex4(p + 2) : -1;
	int next = left >= 12 && p[6] == '\\' && p[7] == 'u' ? hex4(p + 8) : -1;

	if (v == 0) {
		out[0] = (char)0xC0;
		out[1] = (char)0x80;
		return 2;
	}
	if (v >= 0xD800 && v <= 0xDBFF && next >= 0xDC00 && next <= 0xDFFF)
		return SIZE_MAX;
	if (v >= 0xD800 && v <= 0xDFFF) {
		out[0] = (char)0xED;
		out[1] = (char)(0x80 | ((v >> 6) & 0x3F));
		out[2] = (char)(0x80 | (v & 0x3F));
		return 3;
	}
	return 0;
}

size_t jsonrpc_fix_escapes(char *json, size_t len)
{
	size_t r = 0, w = 0;

	while (r < len) {
		char rep[3];
		size_t n;

		if (json[r] != '\\' || r + 1 >= len) {
			json[w++] = json[r++];
			continue;
		}
		n = json[r + 1] == 'u' ? fix_one(json + r, len - r, rep) : 0;
		if (n == SIZE_MAX) {
			/* A pair names one character: both halves stay as they are. */
			memmove(json + w, json + r, 12);
			w += 12;
			r += 12;
			continue;
		}
		if (!n) {
			/* Any other escape is copied as two bytes, so an escaped backslash never
			 * starts a new escape. */
			json[w++] = json[r++];
			json[w++] = json[r++];
			continue;
		}
		memcpy(json + w, rep, n);
		w += n;
		r += 6;
	}
	if (w < len)
		json[w] = '\0';
	return w;
}

size_t jsonrpc_nul_decode(char *s, size_t len)
{
	const char *first = memchr(s, 0xC0, len);
	size_t w;

	if (!first)
		return len;
	w = (size_t)(first - s);
	for (size_t r = w; r < len; r++) {
		if ((unsigned char)s[r] == 0xC0 && r + 1 < len && (unsigned char)s[r + 1] == 0x80) {
			s[w++] = '\0';
			r++;
		} else {
			s[w++] = s[r];
		}
	}
	return w;
}
