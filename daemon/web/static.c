#include "web/static.h"

#include <stdio.h>
#include <string.h>

#include "web/assets.inc"

/* The page's files and how they are answered. The security headers go with every answer of
 * this module, 404s included: the page runs only its own script and style (no inline code,
 * so a message that smuggled markup in could not run), cannot be framed, and leaks no URL. */

static const struct web_asset assets[] = { WEB_ASSET_ENTRIES };

#define N_ASSETS (sizeof(assets) / sizeof(assets[0]))

#define WEB_CSP                                                                              \
	"Content-Security-Policy: default-src 'self'; script-src 'self'; style-src 'self'; " \
	"img-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; "           \
	"form-action 'none'; frame-ancestors 'none'\r\n"
#define WEB_SECURITY \
	WEB_CSP "X-Content-Type-Options: nosniff\r\nReferrer-Policy: no-referrer\r\n"

bool web_is_path(const char *path)
{
	return strcmp(path, "/") == 0 || strncmp(path, "/web/", 5) == 0;
}

const struct web_asset *web_find(const char *path)
{
	for (size_t i = 0; i < N_ASSETS; i++)
		if (strcmp(assets[i].path, path) == 0)
			return &assets[i];
	return NULL;
}

static const char *skip_ows(const char *p)
{
	while (*p == ' ' || *p == '\t')
		p++;
	return p;
}

bool web_etag_matches(const char *inm, const char *etag)
{
	size_t elen = strlen(etag);
	const char *p = skip_ows(inm);

	if (p[0] == '*') /* any current representation: "*" alone, or nothing matches */
		return skip_ows(p + 1)[0] == '\0';
	/* 1#entity-tag: [W/]"opaque", separated by commas and optional whitespace. */
	while (*p) {
		const char *q;

		if (p[0] == 'W' && p[1] == '/')
			p += 2;
		if (*p != '"' || !(q = strchr(p + 1, '"')))
			return false;
		if ((size_t)(q + 1 - p) == elen && memcmp(p, etag, elen) == 0)
			return true;
		p = skip_ows(q + 1);
		if (*p == '\0')
			break;
		if (*p != ',')
			return false;
		p = skip_ows(p + 1);
	}
	return false;
}

static void refuse(struct web_answer *a, int status, const char *text, const char *more)
{
	a->status = status;
	a->type = "text/plain; charset=utf-8";
	a->body = text;
	a->len = strlen(text);
	snprintf(a->extra, sizeof(a->extra), "%s" WEB_SECURITY, more ? more : "");
}

void web_answer(bool enabled, const struct http_request *req, struct web_answer *a)
{
	const struct web_asset *f = web_find(req->path);

	memset(a, 0, sizeof(*a));
	a->head_only = req->method == HTTP_M_HEAD;
	if (!enabled) {
		refuse(a, 404, "not found: the web page is switched off ([web] in the config)\n", NULL);
		return;
	}
	if (!f) {
		refuse(a, 404, "not found\n", NULL);
		return;
	}
	if (req->method != HTTP_M_GET && req->method != HTTP_M_HEAD) {
		refuse(a, 405, "method not allowed: use GET\n", "Allow: GET, HEAD\r\n");
		return;
	}
	/* no-cache: kept, but revalidated with the ETag on every use, so a new daemon's page
	 * is seen at once and an unchanged one costs a 304. */
	snprintf(a->extra, sizeof(a->extra), "ETag: %s\r\nCache-Control: no-cache\r\n" WEB_SECURITY,
		 f->etag);
	a->body = f->data;
	a->len = f->len;
	if (req->if_none_match && web_etag_matches(req->if_none_match, f->etag)) {
		a->status = 304;
		a->head_only = true; /* the head says the length the body would have */
		return;
	}
	a->status = 200;
	a->type = f->type;
}
