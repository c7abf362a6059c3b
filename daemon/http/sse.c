#include "http/sse.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/types.h>

/* Appends "<hex len>\r\n" + the pieces + "\r\n" as one chunk. */
static void append_chunk(struct buf *out, const char *const *piece, const size_t *plen, int n)
{
	size_t total = 0;

	for (int i = 0; i < n; i++)
		total += plen[i];
	buf_reserve(out, 18 + total + 2);
	buf_put_hex(out, total);
	buf_append(out, "\r\n", 2);
	for (int i = 0; i < n; i++)
		buf_append(out, piece[i], plen[i]);
	buf_append(out, "\r\n", 2);
}

/* "id: N\n" into line (room for 32); returns its length, 0 for no id. */
static size_t id_line(char *line, uint64_t id)
{
	size_t n;

	if (!id)
		return 0;
	memcpy(line, "id: ", 4);
	n = 4 + buf_fmt_u64(line + 4, id);
	line[n++] = '\n';
	return n;
}

void sse_append_event(struct buf *out, uint64_t id, const char *json, size_t len)
{
	char idline[32];
	const char *piece[4] = { idline, "data: ", json, "\n\n" };
	size_t plen[4] = { id_line(idline, id), 6, len, 2 };

	append_chunk(out, piece, plen, 4);
}

void sse_append_event_id(struct buf *out, const char *id, const char *json, size_t len)
{
	const char *piece[5] = { "id: ", id, "\ndata: ", json, "\n\n" };
	size_t plen[5] = { 4, strlen(id), 7, len, 2 };

	append_chunk(out, piece, plen, 5);
}

void sse_append_priming(struct buf *out, const char *id, uint32_t retry_ms)
{
	char retry[32];
	const char *piece[5] = { "id: ", id, "\nretry: ", retry, "\ndata: \n\n" };
	size_t plen[5] = { 4, strlen(id), 8, buf_fmt_u64(retry, retry_ms), 9 };

	append_chunk(out, piece, plen, 5);
}

/* Method names are identifiers; one that needs escaping takes the slow road. Returns the
 * length of s, or -1 when it needs escaping. */
static ssize_t plain_name(const char *s)
{
	const char *p = s;

	for (; *p; p++)
		if (*p == '"' || *p == '\\' || (unsigned char)*p < 0x20)
			return -1;
	return p - s;
}

void sse_append_notification(struct buf *out, uint64_t id, const char *method, const char *params,
			     size_t params_len)
{
	static const char head[] = "data: {\"jsonrpc\":\"2.0\",\"method\":";
	static const char mid[] = ",\"params\":";
	char idline[32];
	struct buf name = BUF_INIT;
	const char *piece[7];
	size_t plen[7];
	ssize_t mlen = plain_name(method);

	if (mlen >= 0) {
		piece[2] = method, plen[2] = (size_t)mlen;
		piece[1] = "data: {\"jsonrpc\":\"2.0\",\"method\":\"", plen[1] = sizeof(head);
		piece[3] = "\",\"params\":", plen[3] = sizeof(mid);
	} else {
		buf_json_string(&name, method, strlen(method));
		piece[2] = name.p, plen[2] = name.len;
		piece[1] = head, plen[1] = sizeof(head) - 1;
		piece[3] = mid, plen[3] = sizeof(mid) - 1;
	}
	piece[0] = idline, plen[0] = id_line(idline, id);
	piece[4] = params, plen[4] = params_len;
	piece[5] = "}\n\n", plen[5] = 3;
	append_chunk(out, piece, plen, 6);
	buf_free(&name);
}

void sse_append_comment(struct buf *out, const char *text)
{
	const char *piece[3] = { ": ", text, "\n\n" };
	size_t plen[3] = { 2, strlen(text), 2 };

	append_chunk(out, piece, plen, 3);
}

void sse_append_end(struct buf *out)
{
	buf_append(out, "0\r\n\r\n", 5);
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

/* One decimal u32 of at most 10 digits ending at stop; *p moves past it. */
static int parse_u32(const char **p, char stop, uint32_t *out)
{
	uint64_t v = 0;
	const char *s = *p;

	for (; *s != stop; s++) {
		if (*s < '0' || *s > '9' || s - *p >= 10)
			return -EINVAL;
		v = v * 10 + (uint64_t)(*s - '0');
	}
	if (s == *p || v > UINT32_MAX)
		return -EINVAL;
	*out = (uint32_t)v;
	*p = s;
	return 0;
}

int sse_parse_stream_event_id(const char *value, uint32_t *stream, uint32_t *event)
{
	const char *p = value;

	if (!value || parse_u32(&p, '-', stream) < 0 || *stream == 0)
		return -EINVAL;
	p++;
	return parse_u32(&p, '\0', event);
}
