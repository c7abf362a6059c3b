#include "mcp/internal.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util/b64url.h"
#include "util/log.h"

/* The 2026-07-28 header mirrors (basic/transports/streamable-http: Request Metadata, Server
 * Validation): Mcp-Method, Mcp-Name, and Mcp-Param-{Name} for the tool parameters whose
 * schema says "x-mcp-header". Intermediaries route on these headers while mcp acts on the
 * body, so any disagreement is refused (400, -32020 HeaderMismatch). */

#define SENTINEL_HEAD "=?base64?"
#define SENTINEL_HEAD_LEN 9

/* Mirrored values are visible ASCII and spaces; anything else, a tab included, travels in
 * the "=?base64?...?=" form (Value Encoding). */
static bool value_chars_ok(const char *v)
{
	for (; *v; v++)
		if (*v < 0x20 || *v > 0x7e)
			return false;
	return true;
}

int mcp_headers_decode(const char *v, char **out, size_t *out_len)
{
	size_t len = strlen(v), n, digits;
	uint8_t *raw;

	*out = NULL;
	if (!value_chars_ok(v))
		return -EINVAL;
	if (len < SENTINEL_HEAD_LEN + 2 || strncmp(v, SENTINEL_HEAD, SENTINEL_HEAD_LEN) != 0 ||
	    strcmp(v + len - 2, "?=") != 0)
		return 0; /* no sentinel: the value is literal */
	digits = len - SENTINEL_HEAD_LEN - 2;
	/* Base64 of RFC 4648 section 4 is whole quanta of four: "SGVsbG8" without its "=" is
	 * refused (SEP-2243's test cases), so one value has one spelling. */
	if (digits % 4)
		return -EINVAL;
	raw = xmalloc(b64url_decoded_len(digits) + 1);
	if (b64url_decode_std(v + SENTINEL_HEAD_LEN, digits, raw, &n) < 0) {
		free(raw);
		return -EINVAL;
	}
	raw[n] = '\0';
	*out = (char *)raw;
	*out_len = n;
	return 1;
}

/* Does header (decoded first when in the sentinel form) say text exactly? */
static bool text_matches(const char *header, const char *text)
{
	char *raw;
	size_t n;
	int r = mcp_headers_decode(header, &raw, &n);
	bool same;

	if (r <= 0)
		return r == 0 && strcmp(header, text) == 0;
	same = n == strlen(text) && memcmp(raw, text, n) == 0;
	free(raw);
	return same;
}

/* Does header say the body's value v? Integers compare numerically ("42.0" is 42: Server
 * Validation), booleans as "true"/"false", strings byte for byte. */
static bool value_matches(const char *header, const cJSON *v)
{
	char *raw, *end;
	const char *text;
	size_t n;
	int r;
	bool same = false;
	double d;

	if (cJSON_IsString(v))
		return text_matches(header, v->valuestring);
	r = mcp_headers_decode(header, &raw, &n);
	if (r < 0)
		return false;
	text = r ? raw : header;
	if (cJSON_IsBool(v)) {
		same = strcmp(text, cJSON_IsTrue(v) ? "true" : "false") == 0;
	} else if (cJSON_IsNumber(v) && *text && (size_t)strspn(text, "+-0123456789.eE") ==
		   strlen(text)) {
		d = strtod(text, &end);
		same = *end == '\0' && isfinite(d) && d == v->valuedouble;
	}
	free(raw);
	return same;
}

/* The request's Mcp-Param-{name} header: NULL when absent, *twice set when it came more than
 * once (an intermediary may have read either copy). */
static const char *param_header(const struct http_request *req, const char *name, bool *twice)
{
	const char *found = NULL;

	*twice = false;
	for (uint8_t i = 0; i < req->n_params; i++) {
		if (strcasecmp(req->params[i].name, name) != 0)
			continue;
		*twice = found != NULL;
		found = req->params[i].value;
	}
	return found;
}

/* The declared Mcp-Param-* headers of tool t against its arguments (Server Behavior for
 * Custom Headers): a value in the body needs its header, and the two must agree; null or
 * absent needs none, and a header then has nothing to agree with. */
static const char *check_params(const struct mcp_server *srv, const struct http_request *req,
				const cJSON *params, char *why, size_t len)
{
	const cJSON *name = cJSON_GetObjectItemCaseSensitive(params, "name");
	const cJSON *args = cJSON_GetObjectItemCaseSensitive(params, "arguments");

	for (size_t i = 0; cJSON_IsString(name) && i < srv->n_param_headers; i++) {
		const struct mcp_param_header *ph = &srv->param_headers[i];
		const cJSON *v;
		const char *h;
		bool twice;

		if (strcmp(ph->tool->name, name->valuestring) != 0)
			continue;
		if (req->params_dropped)
			return "Header mismatch: too many Mcp-Param headers to check";
		v = cJSON_IsObject(args) ? cJSON_GetObjectItemCaseSensitive(args, ph->param) : NULL;
		h = param_header(req, ph->header, &twice);
		if (twice)
			snprintf(why, len, "Header mismatch: the Mcp-Param-%s header came twice",
				 ph->header);
		else if (!h && v && !cJSON_IsNull(v))
			snprintf(why, len, "Header mismatch: the Mcp-Param-%s header is required "
				 "(arguments.%s is given)", ph->header, ph->param);
		else if (h && (!v || cJSON_IsNull(v)))
			snprintf(why, len, "Header mismatch: the Mcp-Param-%s header names a value, "
				 "but arguments.%s has none", ph->header, ph->param);
		else if (h && !value_matches(h, v))
			snprintf(why, len, "Header mismatch: the Mcp-Param-%s header does not match "
				 "arguments.%s (or is not valid: see Value Encoding)", ph->header,
				 ph->param);
		else
			continue;
		return why;
	}
	return NULL;
}

const char *mcp_headers_check(const struct mcp_server *srv, const struct http_request *req,
			      const char *method, const cJSON *params, char *why, size_t len)
{
	const char *field = NULL;
	const cJSON *v;

	if (!req->mcp_method)
		return "Header mismatch: the Mcp-Method header is required";
	if (!value_chars_ok(req->mcp_method) || strcmp(req->mcp_method, method) != 0)
		return "Header mismatch: the Mcp-Method header does not match the body's method";
	if (strcmp(method, "tools/call") == 0 || strcmp(method, "prompts/get") == 0)
		field = "name";
	else if (strcmp(method, "resources/read") == 0)
		field = "uri";
	v = field ? cJSON_GetObjectItemCaseSensitive(params, field) : NULL;
	if (!cJSON_IsString(v))
		return NULL; /* nothing to mirror: the method itself refuses the params */
	if (!req->mcp_name) {
		snprintf(why, len, "Header mismatch: the Mcp-Name header is required for %s (params.%s)",
			 method, field);
		return why;
	}
	if (!text_matches(req->mcp_name, v->valuestring)) {
		snprintf(why, len, "Header mismatch: the Mcp-Name header does not match params.%s",
			 field);
		return why;
	}
	if (strcmp(method, "tools/call") == 0)
		return check_params(srv, req, params, why, len);
	return NULL;
}

/* Schema extension */

/* RFC 9110 5.6.2 tchar. */
static bool token_ok(const char *s)
{
	static const char extra[] = "!#$%&'*+-.^_`|~";

	if (!*s)
		return false;
	for (; *s; s++)
		if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'z') ||
		      (*s >= 'A' && *s <= 'Z') || (*s && strchr(extra, *s))))
			return false;
	return true;
}

/* How many "x-mcp-header" members the whole schema holds, wherever they are. */
static size_t count_annotations(const cJSON *j)
{
	size_t n = 0;
	const cJSON *c;

	cJSON_ArrayForEach(c, j) {
		if (c->string && strcmp(c->string, "x-mcp-header") == 0)
			n++;
		n += count_annotations(c);
	}
	return n;
}

/* One annotated property: its header name must be a token, unique without case, of a
 * primitive type that is not "number" (Schema Extension). */
static const char *check_property(const cJSON *prop, const cJSON *ann,
				  const struct mcp_param_header *seen, size_t n_seen)
{
	const cJSON *type = cJSON_GetObjectItemCaseSensitive(prop, "type");

	if (!cJSON_IsString(ann) || !token_ok(ann->valuestring))
		return "x-mcp-header must be a non-empty HTTP token";
	if (strlen(ann->valuestring) > HTTP_PARAM_NAME_MAX)
		return "x-mcp-header is longer than this server reads (HTTP_PARAM_NAME_MAX)";
	if (!cJSON_IsString(type) || (strcmp(type->valuestring, "string") != 0 &&
				      strcmp(type->valuestring, "integer") != 0 &&
				      strcmp(type->valuestring, "boolean") != 0))
		return "x-mcp-header needs a property of type string, integer or boolean";
	for (size_t i = 0; i < n_seen; i++)
		if (strcasecmp(seen[i].header, ann->valuestring) == 0)
			return "x-mcp-header values must be unique (without case)";
	return NULL;
}

int mcp_headers_scan(const struct mcp_tool *t, struct mcp_param_header **out, size_t *n,
		     const char **why)
{
	cJSON *schema = cJSON_Parse(t->input_schema);
	const cJSON *props = cJSON_GetObjectItemCaseSensitive(schema, "properties"), *p;
	size_t found = 0, first = *n; /* this tool's entries start here */

	*why = NULL;
	cJSON_ArrayForEach(p, props) {
		const cJSON *ann = cJSON_GetObjectItemCaseSensitive(p, "x-mcp-header");

		if (!ann)
			continue;
		/* No pointer arithmetic on an empty (NULL) list. */
		if ((*why = check_property(p, ann, *n > first ? *out + first : NULL, *n - first)))
			break;
		*out = xrealloc(*out, (*n + 1) * sizeof(**out));
		(*out)[*n] = (struct mcp_param_header){ .tool = t, .param = xstrdup(p->string),
							.header = xstrdup(ann->valuestring) };
		(*n)++;
		found++;
	}
	/* Only a top-level property is mirrored here: the nested "properties" chains the spec
	 * also allows are not read, so such a schema is refused rather than half enforced. */
	if (!*why && count_annotations(schema) != found)
		*why = "x-mcp-header only on a property of the schema's top-level properties";
	cJSON_Delete(schema);
	return *why ? -EINVAL : 0;
}

void mcp_headers_free(struct mcp_param_header *ph, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(ph[i].param);
		free(ph[i].header);
	}
	free(ph);
}

void mcp_headers_build(struct mcp_server *srv)
{
	const struct mcp_tool *t;
	const char *why;

	mcp_headers_free(srv->param_headers, srv->n_param_headers);
	srv->param_headers = NULL;
	srv->n_param_headers = 0;
	for (size_t i = 0; (t = mcp_catalog_tool(srv, i)); i++) {
		if (mcp_headers_scan(t, &srv->param_headers, &srv->n_param_headers, &why) == 0)
			continue;
		/* The tools are the program's own static definitions: a bad one is a bug that
		 * clients would answer by dropping the tool (Schema Extension). Stop at once. */
		log_err("tool %s: invalid inputSchema: %s", t->name, why);
		abort();
	}
}
