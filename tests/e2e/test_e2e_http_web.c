#include "e2e_http.h"

/* The chat page's static routes (/ and /web/) against the built mcp-chatd, with raw bytes:
 * a table of requests with their exact status, media type and headers ($ETAG is the page's
 * ETag from a first GET), then [web] enabled = off. README's raw-HTTP table has these rows. */

#define WEB_CSP                                                                              \
	"default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; "          \
	"connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'none'; "       \
	"frame-ancestors 'none'"
#define HTML "text/html; charset=utf-8"
#define JS "text/javascript; charset=utf-8"
#define TEXT "text/plain; charset=utf-8"
#define NONE ""
#define GET(path, extra) "GET " path " HTTP/1.1\r\n" H_HOST extra "\r\n"

struct web_row {
	const char *name;
	const char *req;   /* $ETAG: the ETag of / */
	int status;
	const char *ctype; /* NONE: no Content-Type */
	bool head_only;    /* no body may follow (HEAD, 304) */
	bool asset;        /* an asset's headers: ETag, Cache-Control */
	const char *body;  /* the body starts so (NULL: not checked) */
	const char *header; /* a header line the answer must carry */
};

static const struct web_row rows[] = {
	{ "GET /", GET("/", ""), 200, HTML, false, true, "<!doctype html>", NULL },
	{ "GET / with a query", GET("/?x=1", ""), 200, HTML, false, true, "<!doctype html>", NULL },
	{ "HEAD /", "HEAD / HTTP/1.1\r\n" H_HOST "\r\n", 200, HTML, true, true, NULL, NULL },
	{ "GET /web/app.js", GET("/web/app.js", ""), 200, JS, false, true, "// mcp-chat", NULL },
	{ "GET /web/style.css", GET("/web/style.css", ""), 200, "text/css; charset=utf-8", false, true, NULL, NULL },
	{ "GET /web/icon.svg", GET("/web/icon.svg", ""), 200, "image/svg+xml", false, true, "<svg", NULL },
	{ "If-None-Match: the ETag", GET("/", "If-None-Match: $ETAG\r\n"), 304, NONE, true, true, NULL, NULL },
	{ "If-None-Match: W/ the ETag", GET("/", "If-None-Match: W/$ETAG\r\n"), 304, NONE, true, true, NULL, NULL },
	{ "If-None-Match: a list with it", GET("/", "If-None-Match: \"x\", $ETAG\r\n"), 304, NONE, true, true, NULL, NULL },
	{ "If-None-Match: *", GET("/", "If-None-Match: *\r\n"), 304, NONE, true, true, NULL, NULL },
	{ "If-None-Match: another", GET("/", "If-None-Match: \"0123\"\r\n"), 200, HTML, false, true, "<!doctype html>", NULL },
	{ "If-None-Match: / ETag on app.js", GET("/web/app.js", "If-None-Match: $ETAG\r\n"), 200, JS, false, true, NULL, NULL },
	{ "If-None-Match: malformed", GET("/", "If-None-Match: nonsense\r\n"), 200, HTML, false, true, NULL, NULL },
	{ "unknown asset", GET("/web/nope.js", ""), 404, TEXT, false, false, "not found", NULL },
	{ "/web/ itself", GET("/web/", ""), 404, TEXT, false, false, "not found", NULL },
	{ "/index.html", GET("/web/index.html", ""), 404, TEXT, false, false, NULL, NULL },
	{ "path traversal", GET("/web/../mcp", ""), 404, TEXT, false, false, NULL, NULL },
	{ "POST /", "POST / HTTP/1.1\r\n" H_HOST "Content-Length: 2\r\n\r\n{}", 405, TEXT, false, false, NULL, "Allow: GET, HEAD" },
	{ "DELETE /web/app.js", "DELETE /web/app.js HTTP/1.1\r\n" H_HOST "\r\n", 405, TEXT, false, false, NULL, "Allow: GET, HEAD" },
	{ "evil Host (the page is public; /mcp checks Host)", "GET / HTTP/1.1\r\nHost: evil.example\r\n\r\n", 200, HTML, false, true, NULL, NULL },
};

#define N_ROWS (sizeof(rows) / sizeof(rows[0]))

static char etag[64]; /* the ETag of / */

/* Replaces $ETAG; returns a new string. */
static char *expand(const char *req)
{
	const char *mark = strstr(req, "$ETAG");
	size_t n = strlen(req) + strlen(etag) + 1;
	char *out = malloc(n);

	if (!out)
		abort();
	if (!mark) {
		strcpy(out, req);
		return out;
	}
	snprintf(out, n, "%.*s%s%s", (int)(mark - req), req, etag, mark + 5);
	return out;
}

static void check_line(const char *name, const struct hx_response *r, const char *hname,
		       const char *want)
{
	char value[512] = "";

	CHECK(name, hx_header(r, hname, value, sizeof(value)));
	if (strcmp(value, want) != 0)
		fprintf(stderr, "\n  [%s] %s: \"%s\", want \"%s\"\n", name, hname, value, want);
	CHECK(name, strcmp(value, want) == 0);
}

/* Every answer of the page's routes carries the security headers. */
static void check_security(const char *name, const struct hx_response *r)
{
	check_line(name, r, "Content-Security-Policy", WEB_CSP);
	check_line(name, r, "X-Content-Type-Options", "nosniff");
	check_line(name, r, "Referrer-Policy", "no-referrer");
}

static void check_row(const struct web_row *row, const struct hx_response *r)
{
	char value[256];

	if (r->status != row->status)
		fprintf(stderr, "\n  [%s] status %d, want %d\n", row->name, r->status, row->status);
	CHECK(row->name, r->status == row->status);
	if (row->ctype[0])
		check_line(row->name, r, "Content-Type", row->ctype);
	else
		CHECK(row->name, !hx_header(r, "Content-Type", value, sizeof(value)));
	check_security(row->name, r);
	if (row->asset) {
		check_line(row->name, r, "Cache-Control", "no-cache");
		CHECK(row->name, hx_header(r, "ETag", value, sizeof(value)) && value[0] == '"' &&
					 strlen(value) == 34);
	}
	if (row->body)
		CHECK(row->name, r->body_len >= strlen(row->body) &&
					 strncmp(r->body, row->body, strlen(row->body)) == 0);
	if (row->header) {
		const char *colon = strchr(row->header, ':');
		char hname[64];

		snprintf(hname, sizeof(hname), "%.*s", (int)(colon - row->header), row->header);
		check_line(row->name, r, hname, colon + 2);
	}
}

static size_t next_row;

/* One row on a fresh connection, then a GET of / on it: still in sync (a HEAD or 304 sent
 * no body). */
static void test_row(void)
{
	const struct web_row *row;
	struct hx_conn c;
	struct hx_response r;
	char *req;
	int rc;

	CU_ASSERT_FATAL(next_row < N_ROWS);
	row = &rows[next_row++];
	req = expand(row->req);
	CU_ASSERT_FATAL(hx_connect(&c, D.port) == 0);
	CHECK(row->name, hx_send_str(&c, req) == 0);
	rc = row->head_only ? hx_read_head(&c, &r, HX_TIMEOUT_MS)
			    : hx_read_response(&c, &r, HX_TIMEOUT_MS);
	CHECK(row->name, rc == 0);
	if (rc == 0)
		check_row(row, &r);
	hx_response_free(&r);
	CHECK(row->name, hx_send_str(&c, GET("/", "")) == 0);
	rc = hx_read_response(&c, &r, HX_TIMEOUT_MS);
	CHECK(row->name, rc == 0 && r.status == 200 && strncmp(r.body, "<!doctype html>", 15) == 0);
	hx_response_free(&r);
	hx_close(&c);
	free(req);
}

/* The ETag of /, for $ETAG; HEAD says the length GET sends. */
static void test_etag(void)
{
	struct hx_response r, h;
	char glen[32] = "", hlen[32] = "";

	CU_ASSERT_FATAL(hx_roundtrip(D.port, GET("/", ""), strlen(GET("/", "")), &r) == 0);
	CU_ASSERT_EQUAL_FATAL(r.status, 200);
	CU_ASSERT_FATAL(hx_header(&r, "ETag", etag, sizeof(etag)));
	CU_ASSERT(hx_header(&r, "Content-Length", glen, sizeof(glen)));
	CU_ASSERT_EQUAL(strtoul(glen, NULL, 10), r.body_len);
	hx_response_free(&r);
	{
		struct hx_conn c;

		CU_ASSERT_FATAL(hx_connect(&c, D.port) == 0);
		CU_ASSERT(hx_send_str(&c, "HEAD / HTTP/1.1\r\n" H_HOST "\r\n") == 0);
		CU_ASSERT_FATAL(hx_read_head(&c, &h, HX_TIMEOUT_MS) == 0);
		CU_ASSERT(hx_header(&h, "Content-Length", hlen, sizeof(hlen)));
		CU_ASSERT_STRING_EQUAL(glen, hlen);
		CU_ASSERT(hx_quiet(&c, 200)); /* no body follows */
		hx_response_free(&h);
		hx_close(&c);
	}
}

/* [web] enabled = off: / and the assets are 404 (with the security headers); /mcp serves. */
static void test_web_off(void)
{
	char path[] = "/tmp/mcpchat-web-off-XXXXXX";
	const char *const extra[] = { "--config", path, NULL };
	const char *reqs[] = { GET("/", ""), GET("/web/app.js", "") };
	struct hx_daemon d;
	int fd = mkstemp(path);

	CU_ASSERT_FATAL(fd >= 0);
	CU_ASSERT_FATAL(write(fd, "[web]\nenabled = off\n", 20) == 20);
	close(fd);
	CU_ASSERT_FATAL(hx_daemon_start(&d, extra) == 0);
	for (size_t i = 0; i < 2; i++) {
		struct hx_response r;

		CU_ASSERT_FATAL(hx_roundtrip(d.port, reqs[i], strlen(reqs[i]), &r) == 0);
		CU_ASSERT_EQUAL(r.status, 404);
		CU_ASSERT(strstr(r.body, "switched off") != NULL);
		check_security("web off", &r);
		hx_response_free(&r);
	}
	CU_ASSERT(hx_serves_normal_client(d.port));
	CU_ASSERT_EQUAL(hx_daemon_stop(&d), 0);
	unlink(d.log_path);
	unlink(path);
}

static int add_tests(CU_pSuite s)
{
	static char names[N_ROWS][96];

	if (!CU_add_test(s, "the ETag of /; HEAD's length", test_etag))
		return -1;
	for (size_t i = 0; i < N_ROWS; i++) {
		snprintf(names[i], sizeof(names[i]), "web %02zu: %s", i + 1, rows[i].name);
		if (!CU_add_test(s, names[i], test_row))
			return -1;
	}
	if (!CU_add_test(s, "[web] enabled = off: 404", test_web_off))
		return -1;
	return 0;
}

int main(void)
{
	return e2e_http_main("e2e_http_web", add_tests);
}
