#include <string.h>

#include "web/static.h"
#include "unit.h"

/* web/static: which paths are the page's, the embedded table, If-None-Match, and the answer
 * to each request (status, head lines, body), without sockets. */

static struct http_request req_of(enum http_method_id m, const char *path, const char *inm)
{
	struct http_request r;

	memset(&r, 0, sizeof(r));
	r.method = m;
	r.path = path;
	r.if_none_match = inm;
	r.keep_alive = true;
	return r;
}

static void test_routing(void)
{
	CU_ASSERT_TRUE(web_is_path("/"));
	CU_ASSERT_TRUE(web_is_path("/web/app.js"));
	CU_ASSERT_TRUE(web_is_path("/web/"));
	CU_ASSERT_TRUE(web_is_path("/web/nope"));
	/* Everything else stays with /mcp (and its JSON-RPC 404) or the status endpoints. */
	CU_ASSERT_FALSE(web_is_path("/mcp"));
	CU_ASSERT_FALSE(web_is_path("/healthz"));
	CU_ASSERT_FALSE(web_is_path("/web"));
	CU_ASSERT_FALSE(web_is_path("/index.html"));
	CU_ASSERT_FALSE(web_is_path("//"));
	CU_ASSERT_FALSE(web_is_path(""));
}

/* The embedded files: each with its media type, its bytes and a 32-hex-digit strong ETag. */
static void test_table(void)
{
	static const struct {
		const char *path, *type, *start;
	} want[] = {
		{ "/", "text/html; charset=utf-8", "<!doctype html>" },
		{ "/web/app.js", "text/javascript; charset=utf-8", "// mcp-chat" },
		{ "/web/style.css", "text/css; charset=utf-8", NULL },
		{ "/web/icon.svg", "image/svg+xml", "<svg" },
	};
	const char *etags[4];

	for (size_t i = 0; i < 4; i++) {
		const struct web_asset *a = web_find(want[i].path);

		CU_ASSERT_PTR_NOT_NULL_FATAL(a);
		CU_ASSERT_STRING_EQUAL(a->type, want[i].type);
		CU_ASSERT(a->len > 0 && a->data[a->len] == '\0' && strlen(a->data) == a->len);
		if (want[i].start)
			CU_ASSERT(strncmp(a->data, want[i].start, strlen(want[i].start)) == 0);
		CU_ASSERT_EQUAL(strlen(a->etag), 34);
		CU_ASSERT(a->etag[0] == '"' && a->etag[33] == '"');
		CU_ASSERT_EQUAL(strspn(a->etag + 1, "0123456789abcdef"), 32);
		etags[i] = a->etag;
		for (size_t j = 0; j < i; j++)
			CU_ASSERT(strcmp(etags[i], etags[j]) != 0);
	}
	CU_ASSERT_PTR_NULL(web_find("/web/nope.js"));
	CU_ASSERT_PTR_NULL(web_find("/web/index.html"));
	CU_ASSERT_PTR_NULL(web_find("/web/"));
	CU_ASSERT_PTR_NULL(web_find("/mcp"));
}

static void test_etag_matches(void)
{
	const char *e = "\"abc\"";

	CU_ASSERT_TRUE(web_etag_matches("\"abc\"", e));
	CU_ASSERT_TRUE(web_etag_matches("W/\"abc\"", e)); /* weak comparison */
	CU_ASSERT_TRUE(web_etag_matches("\"x\", \"abc\"", e));
	CU_ASSERT_TRUE(web_etag_matches("\"x\",W/\"abc\" ,\"y\"", e));
	CU_ASSERT_TRUE(web_etag_matches("*", e));
	CU_ASSERT_TRUE(web_etag_matches("  * ", e));
	CU_ASSERT_TRUE(web_etag_matches(" \"abc\"\t", e));
	CU_ASSERT_FALSE(web_etag_matches("\"ab\"", e));
	CU_ASSERT_FALSE(web_etag_matches("\"abcd\"", e));
	CU_ASSERT_FALSE(web_etag_matches("abc", e));  /* not quoted */
	CU_ASSERT_FALSE(web_etag_matches("\"abc", e)); /* not closed */
	CU_ASSERT_FALSE(web_etag_matches("", e));
	CU_ASSERT_FALSE(web_etag_matches("\"x\" \"abc\"", e)); /* no comma */
	CU_ASSERT_FALSE(web_etag_matches("\"x\", junk, \"abc\"", e)); /* malformed: nothing */
	CU_ASSERT_FALSE(web_etag_matches("*, \"x\"", e));
	CU_ASSERT_FALSE(web_etag_matches("w/\"abc\"", e)); /* W/ is case-sensitive */
}

static bool has_line(const struct web_answer *a, const char *line)
{
	return strstr(a->extra, line) != NULL;
}

static void check_security(const struct web_answer *a)
{
	CU_ASSERT(has_line(a, "Content-Security-Policy: default-src 'self'; "));
	CU_ASSERT(has_line(a, "frame-ancestors 'none'\r\n"));
	CU_ASSERT(!has_line(a, "unsafe-inline"));
	CU_ASSERT(has_line(a, "X-Content-Type-Options: nosniff\r\n"));
	CU_ASSERT(has_line(a, "Referrer-Policy: no-referrer\r\n"));
}

static void test_answers(void)
{
	const struct web_asset *page = web_find("/");
	struct http_request r;
	struct web_answer a;
	char line[64];

	r = req_of(HTTP_M_GET, "/", NULL);
	web_answer(true, &r, &a);
	CU_ASSERT_EQUAL(a.status, 200);
	CU_ASSERT_STRING_EQUAL(a.type, "text/html; charset=utf-8");
	CU_ASSERT(a.body == page->data && a.len == page->len && !a.head_only);
	snprintf(line, sizeof(line), "ETag: %s\r\n", page->etag);
	CU_ASSERT(has_line(&a, line));
	CU_ASSERT(has_line(&a, "Cache-Control: no-cache\r\n"));
	check_security(&a);

	r = req_of(HTTP_M_HEAD, "/", NULL);
	web_answer(true, &r, &a);
	CU_ASSERT(a.status == 200 && a.head_only && a.len == page->len);

	/* 304: no Content-Type, no body; the head keeps the ETag and the length. */
	r = req_of(HTTP_M_GET, "/", page->etag);
	web_answer(true, &r, &a);
	CU_ASSERT(a.status == 304 && a.head_only && a.type == NULL && a.len == page->len);
	CU_ASSERT(has_line(&a, line));
	check_security(&a);
	r = req_of(HTTP_M_HEAD, "/", "*");
	web_answer(true, &r, &a);
	CU_ASSERT_EQUAL(a.status, 304);
	r = req_of(HTTP_M_GET, "/web/app.js", page->etag); /* another file's tag */
	web_answer(true, &r, &a);
	CU_ASSERT_EQUAL(a.status, 200);

	r = req_of(HTTP_M_GET, "/web/nope.js", NULL);
	web_answer(true, &r, &a);
	CU_ASSERT(a.status == 404 && !has_line(&a, "ETag") && strstr(a.body, "not found"));
	check_security(&a);
	r = req_of(HTTP_M_POST, "/", NULL);
	web_answer(true, &r, &a);
	CU_ASSERT(a.status == 405 && has_line(&a, "Allow: GET, HEAD\r\n"));
	r = req_of(HTTP_M_OTHER, "/web/nope.js", NULL); /* unknown first: 404, not 405 */
	web_answer(true, &r, &a);
	CU_ASSERT_EQUAL(a.status, 404);

	/* [web] enabled = off: 404 for everything, the page's ETag included. */
	r = req_of(HTTP_M_GET, "/", page->etag);
	web_answer(false, &r, &a);
	CU_ASSERT(a.status == 404 && strstr(a.body, "switched off") && a.len == strlen(a.body));
	check_security(&a);
}

int main(void)
{
	static const struct unit_test tests[] = {
		{ "which paths are the page's", test_routing },
		{ "the embedded files", test_table },
		{ "If-None-Match", test_etag_matches },
		{ "answers: 200, HEAD, 304, 404, 405, off", test_answers },
		{ NULL, NULL },
	};
	static const struct unit_suite suites[] = {
		{ "web", tests, NULL, NULL, NULL, NULL },
		{ NULL, NULL, NULL, NULL, NULL, NULL },
	};

	return unit_main(suites);
}
