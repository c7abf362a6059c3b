#include "mcp/internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* What the server offers besides tools: resources (text or blob), resource templates,
 * subscriptions to resources, prompts with arguments, and completion of prompt arguments.
 * The main set (mcp_server_set_documents) comes first, then the catalog if one was added. */

#define MCP_MAX_SUBS 32      /* subscriptions per session */
#define MCP_MAX_COMPLETIONS 100 /* completion/complete: at most 100 values (server/utilities) */

static void put_str(struct buf *b, const char *key, const char *v)
{
	if (!v)
		return;
	buf_printf(b, ",\"%s\":", key);
	buf_json_string(b, v, strlen(v));
}

/* The n-th resource across both sets, or NULL past the end. */
static const struct mcp_resource *resource_at(const struct mcp_server *srv, size_t i)
{
	if (i < srv->n_resources)
		return &srv->resources[i];
	i -= srv->n_resources;
	return srv->catalog && i < srv->catalog->n_resources ? &srv->catalog->resources[i] : NULL;
}

static const struct mcp_prompt *prompt_at(const struct mcp_server *srv, size_t i)
{
	if (i < srv->n_prompts)
		return &srv->prompts[i];
	i -= srv->n_prompts;
	return srv->catalog && i < srv->catalog->n_prompts ? &srv->catalog->prompts[i] : NULL;
}

const struct mcp_tool *mcp_catalog_tool(const struct mcp_server *srv, size_t i)
{
	if (i < srv->n_tools)
		return &srv->tools[i];
	i -= srv->n_tools;
	return srv->catalog && i < srv->catalog->n_tools ? &srv->catalog->tools[i] : NULL;
}

void mcp_catalog_capabilities(const struct mcp_server *srv, struct buf *b, bool session)
{
	/* 2026-07-28 has no resources/subscribe. It has logging, per request (_meta logLevel),
	 * and a server that emits log notifications MUST declare it (server/utilities/logging). */
	bool sub = session && srv->catalog && srv->catalog->subscribe;

	buf_puts(b, "{\"tools\":{\"listChanged\":false},\"logging\":{},");
	if (srv->catalog && srv->catalog->completions)
		buf_puts(b, "\"completions\":{},");
	buf_printf(b, "\"resources\":{%s\"listChanged\":false},\"prompts\":{\"listChanged\":false}}",
		   sub ? "\"subscribe\":true," : "");
}

void mcp_catalog_list_resources(const struct mcp_server *srv, struct buf *out)
{
	const struct mcp_resource *r;

	buf_puts(out, "{\"resources\":[");
	for (size_t i = 0; (r = resource_at(srv, i)); i++) {
		buf_puts(out, i ? ",{\"uri\":" : "{\"uri\":");
		buf_json_string(out, r->uri, strlen(r->uri));
		put_str(out, "name", r->name);
		put_str(out, "title", r->title);
		put_str(out, "description", r->description);
		put_str(out, "mimeType", r->mime_type);
		buf_puts(out, "}");
	}
	buf_puts(out, "]}");
}

void mcp_catalog_list_templates(const struct mcp_server *srv, struct buf *out)
{
	size_t n = srv->catalog ? srv->catalog->n_templates : 0;

	buf_puts(out, "{\"resourceTemplates\":[");
	for (size_t i = 0; i < n; i++) {
		const struct mcp_resource_template *t = &srv->catalog->templates[i];

		buf_puts(out, i ? ",{\"uriTemplate\":" : "{\"uriTemplate\":");
		buf_json_string(out, t->uri_template, strlen(t->uri_template));
		put_str(out, "name", t->name);
		put_str(out, "title", t->title);
		put_str(out, "description", t->description);
		put_str(out, "mimeType", t->mime_type);
		buf_puts(out, "}");
	}
	buf_puts(out, "]}");
}

cJSON *mcp_uri_template_match(const char *tmpl, const char *uri)
{
	cJSON *vars = cJSON_CreateObject();

	while (*tmpl) {
		const char *close;
		size_t n = 0;
		char name[64], *value;

		if (*tmpl != '{') {
			if (*tmpl++ != *uri++)
				goto fail;
			continue;
		}
		close = strchr(tmpl, '}');
		if (!close || close == tmpl + 1 || (size_t)(close - tmpl) > sizeof(name))
			goto fail;
		memcpy(name, tmpl + 1, (size_t)(close - tmpl - 1));
		name[close - tmpl - 1] = '\0';
		tmpl = close + 1;
		/* Up to the template's next literal character (or the end), never across '/'. */
		while (uri[n] && uri[n] != '/' && (!*tmpl || uri[n] != *tmpl))
			n++;
		if (n == 0)
			goto fail;
		value = xmalloc(n + 1);
		memcpy(value, uri, n);
		value[n] = '\0';
		cJSON_AddItemToObject(vars, name, cJSON_CreateString(value));
		free(value);
		uri += n;
	}
	if (*uri)
		goto fail;
	return vars;
fail:
	cJSON_Delete(vars);
	return NULL;
}

/* A templated URI: the first template that matches and knows it. */
static bool read_templated(const struct mcp_server *srv, const char *uri, struct buf *out)
{
	size_t n = srv->catalog ? srv->catalog->n_templates : 0;

	for (size_t i = 0; i < n; i++) {
		const struct mcp_resource_template *t = &srv->catalog->templates[i];
		cJSON *vars = mcp_uri_template_match(t->uri_template, uri);
		size_t mark = out->len;
		int err;

		if (!vars)
			continue;
		buf_puts(out, "{\"contents\":[");
		err = t->read(vars, uri, out);
		cJSON_Delete(vars);
		if (err == 0) {
			buf_puts(out, "]}");
			return true;
		}
		out->len = mark;
	}
	return false;
}

static void resource_contents(const struct mcp_resource *r, struct buf *out)
{
	buf_puts(out, "{\"uri\":");
	buf_json_string(out, r->uri, strlen(r->uri));
	put_str(out, "mimeType", r->mime_type);
	if (r->blob)
		put_str(out, "blob", r->blob);
	else
		put_str(out, "text", r->text ? r->text : "");
	buf_puts(out, "}");
}

/* Is uri one the server can read (a listed resource or a template's)? */
static bool resource_known(const struct mcp_server *srv, const char *uri)
{
	const struct mcp_resource *r;
	size_t n = srv->catalog ? srv->catalog->n_templates : 0;

	for (size_t i = 0; (r = resource_at(srv, i)); i++)
		if (strcmp(r->uri, uri) == 0)
			return true;
	for (size_t i = 0; i < n; i++) {
		cJSON *vars = mcp_uri_template_match(srv->catalog->templates[i].uri_template, uri);

		cJSON_Delete(vars);
		if (vars)
			return true;
	}
	return false;
}

static void not_found(struct mcp_answer *a, const cJSON *uri)
{
	/* "Resource not found": -32002 until 2025-11-25, -32602 with the uri since 2026-07-28. */
	mcp_answer_error(a, a->modern ? JSONRPC_INVALID_PARAMS : -32002,
			 "Resource not found: params.uri must be one that resources/list or "
			 "resources/templates/list names");
	if (a->modern && cJSON_IsString(uri)) {
		struct buf d = BUF_INIT;

		buf_puts(&d, "{\"uri\":");
		buf_json_string(&d, uri->valuestring, strlen(uri->valuestring));
		buf_puts(&d, "}");
		a->error_data = buf_take(&d);
	}
}

void mcp_catalog_read(const struct mcp_server *srv, const cJSON *params, struct mcp_answer *a)
{
	const cJSON *uri = cJSON_GetObjectItemCaseSensitive(params, "uri");
	const struct mcp_resource *r;

	for (size_t i = 0; cJSON_IsString(uri) && (r = resource_at(srv, i)); i++) {
		if (strcmp(r->uri, uri->valuestring) != 0)
			continue;
		buf_puts(&a->result, "{\"contents\":[");
		resource_contents(r, &a->result);
		buf_puts(&a->result, "]}");
		return;
	}
	if (cJSON_IsString(uri) && read_templated(srv, uri->valuestring, &a->result))
		return;
	not_found(a, uri);
}

/* resources/subscribe and unsubscribe (2025 sessions): the session keeps the URIs. */
void mcp_catalog_subscribe(const struct mcp_server *srv, struct mcp_session *s,
			   const cJSON *params, bool on, struct mcp_answer *a)
{
	const cJSON *uri = cJSON_GetObjectItemCaseSensitive(params, "uri");
	size_t i;

	if (!s || !srv->catalog || !srv->catalog->subscribe) {
		mcp_answer_error(a, JSONRPC_METHOD_NOT_FOUND, "Method not found: %s (this server "
				 "does not offer resource subscriptions)", on ? "resources/subscribe"
				 : "resources/unsubscribe");
		return;
	}
	if (!cJSON_IsString(uri)) {
		mcp_answer_error(a, JSONRPC_INVALID_PARAMS, "params.uri must be a resource URI");
		return;
	}
	for (i = 0; i < s->n_subs && strcmp(s->subs[i], uri->valuestring) != 0; i++)
		;
	if (!on) { /* unsubscribing from what was never subscribed is no error */
		if (i < s->n_subs) {
			free(s->subs[i]);
			s->subs[i] = s->subs[--s->n_subs];
		}
	} else if (i == s->n_subs) {
		if (!resource_known(srv, uri->valuestring)) {
			not_found(a, uri);
			return;
		}
		if (s->n_subs == MCP_MAX_SUBS) {
			mcp_answer_error(a, JSONRPC_INVALID_PARAMS, "Too many subscriptions (at most "
					 "%d per session); unsubscribe from one first", MCP_MAX_SUBS);
			return;
		}
		if (!s->subs)
			s->subs = xcalloc(MCP_MAX_SUBS, sizeof(*s->subs));
		s->subs[s->n_subs++] = xstrdup(uri->valuestring);
	}
	buf_puts(&a->result, "{}");
}

int mcp_resource_updated(struct mcp_server *srv, const char *uri)
{
	struct buf params = BUF_INIT;
	int n = 0;

	buf_puts(&params, "{\"uri\":");
	buf_json_string(&params, uri, strlen(uri));
	buf_puts(&params, "}");
	for (struct mcp_session *s = srv->sessions.all; s; s = s->next_all) {
		for (uint32_t i = 0; !s->ended && i < s->n_subs; i++) {
			if (strcmp(s->subs[i], uri) != 0)
				continue;
			/* Refusable: a full mailbox drops it (the client re-reads when it catches up). */
			if (mcp_session_event(srv, s, "notifications/resources/updated", params.p,
					      params.len, true) > 0)
				n++;
			break;
		}
	}
	buf_free(&params);
	return n;
}

void mcp_catalog_subs_free(struct mcp_session *s)
{
	for (size_t i = 0; i < s->n_subs; i++)
		free(s->subs[i]);
	free(s->subs);
	s->subs = NULL;
	s->n_subs = 0;
}

void mcp_catalog_list_prompts(const struct mcp_server *srv, struct buf *out)
{
	const struct mcp_prompt *p;

	buf_puts(out, "{\"prompts\":[");
	for (size_t i = 0; (p = prompt_at(srv, i)); i++) {
		buf_puts(out, i ? ",{\"name\":" : "{\"name\":");
		buf_json_string(out, p->name, strlen(p->name));
		put_str(out, "title", p->title);
		put_str(out, "description", p->description);
		buf_puts(out, ",\"arguments\":[");
		for (size_t j = 0; j < p->n_args; j++) {
			buf_puts(out, j ? ",{\"name\":" : "{\"name\":");
			buf_json_string(out, p->args[j].name, strlen(p->args[j].name));
			put_str(out, "description", p->args[j].description);
			buf_printf(out, ",\"required\":%s}", p->args[j].required ? "true" : "false");
		}
		buf_puts(out, "]}");
	}
	buf_puts(out, "]}");
}

static const struct mcp_prompt *find_prompt(const struct mcp_server *srv, const cJSON *name)
{
	const struct mcp_prompt *p;

	for (size_t i = 0; cJSON_IsString(name) && (p = prompt_at(srv, i)); i++)
		if (strcmp(p->name, name->valuestring) == 0)
			return p;
	return NULL;
}

/* The arguments a prompt requires must be strings (server/prompts: arguments are strings). */
static const char *missing_arg(const struct mcp_prompt *p, const cJSON *args)
{
	for (size_t i = 0; i < p->n_args; i++) {
		const cJSON *v = cJSON_GetObjectItemCaseSensitive(args, p->args[i].name);

		if (v ? !cJSON_IsString(v) : p->args[i].required)
			return p->args[i].name;
	}
	return NULL;
}

void mcp_catalog_get_prompt(const struct mcp_server *srv, const cJSON *params,
			    struct mcp_answer *a)
{
	static cJSON empty = { .type = cJSON_Object };
	const struct mcp_prompt *p = find_prompt(srv, cJSON_GetObjectItemCaseSensitive(params, "name"));
	const cJSON *args = cJSON_GetObjectItemCaseSensitive(params, "arguments");
	const char *missing;

	if (!p) {
		mcp_answer_error(a, JSONRPC_INVALID_PARAMS,
				 "Unknown prompt: params.name must be one that prompts/list names");
		return;
	}
	if (args && !cJSON_IsObject(args)) {
		mcp_answer_error(a, JSONRPC_INVALID_PARAMS, "params.arguments must be an object");
		return;
	}
	if ((missing = missing_arg(p, args ? args : &empty))) {
		mcp_answer_error(a, JSONRPC_INVALID_PARAMS, "params.arguments.%s must be a string "
				 "(prompts/list names the prompt's arguments)", missing);
		return;
	}
	a->method = "prompts/get";
	a->params = params;
	a->tool.args = args ? args : &empty;
	a->tool.modern = a->modern;
	if (a->modern && p->get_input && !mcp_input_begin(srv, p->name, a->tool.args, a))
		return;
	buf_puts(&a->result, "{\"description\":");
	buf_json_string(&a->result, p->description, strlen(p->description));
	buf_puts(&a->result, ",\"messages\":[");
	if (!p->get && !p->get_input) {
		buf_puts(&a->result, "{\"role\":\"user\",\"content\":{\"type\":\"text\",\"text\":");
		buf_json_string(&a->result, p->text, strlen(p->text));
		buf_puts(&a->result, "}}");
	} else if (p->get_input) {
		if (p->get_input(&a->tool, &a->result) == MCP_TOOL_ASK && a->tool.inputs.len) {
			a->result.len = 0;
			mcp_input_result(srv, p->name, a->tool.args, a);
			return;
		}
	} else if (p->get(args ? args : &empty, &a->result) < 0) {
		a->result.len = 0;
		mcp_answer_error(a, JSONRPC_INTERNAL_ERROR, "Internal error in prompt %s", p->name);
		return;
	}
	buf_puts(&a->result, "]}");
}

/* The candidates of a prompt's argument that start with prefix: at most 100, with the total
 * and whether more exist (server/utilities/completion). */
void mcp_complete_values(const char *const *values, const char *prefix, struct buf *out)
{
	size_t plen = strlen(prefix), total = 0;

	buf_puts(out, "{\"completion\":{\"values\":[");
	for (size_t i = 0; values && values[i]; i++) {
		if (strncmp(values[i], prefix, plen) != 0)
			continue;
		if (total < MCP_MAX_COMPLETIONS) {
			buf_puts(out, total ? "," : "");
			buf_json_string(out, values[i], strlen(values[i]));
		}
		total++;
	}
	buf_printf(out, "],\"total\":%zu,\"hasMore\":%s}}", total,
		   total > MCP_MAX_COMPLETIONS ? "true" : "false");
}

void mcp_catalog_complete(const struct mcp_server *srv, const cJSON *params, struct mcp_answer *a)
{
	const cJSON *ref = cJSON_GetObjectItemCaseSensitive(params, "ref");
	const cJSON *type = cJSON_GetObjectItemCaseSensitive(ref, "type");
	const cJSON *arg = cJSON_GetObjectItemCaseSensitive(params, "argument");
	const cJSON *name = cJSON_GetObjectItemCaseSensitive(arg, "name");
	const cJSON *value = cJSON_GetObjectItemCaseSensitive(arg, "value");
	const struct mcp_prompt *p;
	const char *const *values = NULL;

	if (!srv->catalog || !srv->catalog->completions) {
		mcp_answer_error(a, JSONRPC_METHOD_NOT_FOUND,
				 "Method not found: completion/complete (no completions capability)");
		return;
	}
	if (!cJSON_IsString(type) || !cJSON_IsString(name) || !cJSON_IsString(value)) {
		mcp_answer_error(a, JSONRPC_INVALID_PARAMS, "params needs ref.type, argument.name "
				 "and argument.value (strings)");
		return;
	}
	if (strcmp(type->valuestring, "ref/prompt") == 0) {
		p = find_prompt(srv, cJSON_GetObjectItemCaseSensitive(ref, "name"));
		if (!p) {
			mcp_answer_error(a, JSONRPC_INVALID_PARAMS,
					 "Unknown prompt: ref.name must be one that prompts/list names");
			return;
		}
		for (size_t i = 0; i < p->n_args; i++)
			if (strcmp(p->args[i].name, name->valuestring) == 0)
				values = p->args[i].values;
	} else if (strcmp(type->valuestring, "ref/resource") != 0) {
		mcp_answer_error(a, JSONRPC_INVALID_PARAMS, "ref.type must be ref/prompt or ref/resource");
		return;
	}
	/* ref/resource: templates offer no candidates; an empty list is a valid answer. */
	mcp_complete_values(values, value->valuestring, &a->result);
}
