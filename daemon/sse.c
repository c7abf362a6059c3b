#include "sse.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

/* Appends "<hex len>\r\n" + the pieces + "\r\n" as one chunk. */
static int append_chunk(struct buf *out, const char *const *piece, const size_t *plen, int n)
{
	size_t total = 0;
	char head[24];
	int hn;

	for (int i = 0; i < n; i++)
		total += plen[i];
	hn = snprintf(head, sizeof(head), "%zx\r\n", total);
	if (buf_reserve(out, (size_t)hn + total + 2) < 0)
		return -ENOMEM;
	buf_append(out, head, (size_t)hn);
	for (int i = 0; i < n; i++)
		buf_append(out, piece[i], plen[i]);
	return buf_append(out, "\r\n", 2);
}

int sse_append_event(struct buf *out, uint64_t id, const char *json, size_t len)
{
	char idline[40] = "";
	const char *piece[4];
	size_t plen[4];

	if (id)
		snprintf(idline, sizeof(idline), "id: %llu\n", (unsigned long long)id);
	piece[0] = idline, plen[0] = strlen(idline);
	piece[1] = "data: ", plen[1] = 6;
	piece[2] = json, plen[2] = len;
	piece[3] = "\n\n", plen[3] = 2;
	return append_chunk(out, piece, plen, 4);
}

int sse_append_notification(struct buf *out, uint64_t id, const char *method, const char *params,
			    size_t params_len)
{
	char idline[40] = "";
	const char *piece[7];
	size_t plen[7];
	struct buf name = BUF_INIT;
	int err;

	if (id)
		snprintf(idline, sizeof(idline), "id: %llu\n", (unsigned long long)id);
	piece[0] = idline, plen[0] = strlen(idline);
	piece[1] = "data: {\"jsonrpc\":\"2.0\",\"method\":", plen[1] = strlen(piece[1]);
	if (buf_json_string(&name, method, strlen(method)) < 0)
		return -ENOMEM;
	piece[2] = name.p, plen[2] = name.len;
	piece[3] = ",\"params\":", plen[3] = strlen(piece[3]);
	piece[4] = params, plen[4] = params_len;
	piece[5] = "}\n\n", plen[5] = 3;
	err = append_chunk(out, piece, plen, 6);
	buf_free(&name);
	return err;
}

int sse_append_comment(struct buf *out, const char *text)
{
	const char *piece[3] = { ": ", text, "\n\n" };
	size_t plen[3] = { 2, strlen(text), 2 };

	return append_chunk(out, piece, plen, 3);
}

int sse_append_end(struct buf *out)
{
	return buf_append(out, "0\r\n\r\n", 5);
}

int sse_parse_event_id(const char *value, uint64_t *seq)
{
	uint64_t v = 0;

	if (!value || !*value)
		return -EINVAL;
	for (const char *p = value; *p; p++) {
		if (*p < '0' || *p > '9' || v > (UINT64_MAX - 9) / 10)
			return -EINVAL;
		v = v * 10 + (uint64_t)(*p - '0');
	}
	*seq = v;
	return 0;
}
