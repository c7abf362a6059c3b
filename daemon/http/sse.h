#ifndef MCPCHAT_SSE_H
#define MCPCHAT_SSE_H

#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"

/* Server-Sent Events framing. Streams are sent with chunked transfer coding, so every SSE
 * event is one HTTP/1.1 chunk and a stream ends with the zero-length chunk. Events carry one
 * JSON-RPC message each, as a single data line and without an event: field (the SDK client
 * drops named events). */

/* id 0 means no id: line. None can fail (buf.h). */
void sse_append_event(struct buf *out, uint64_t id, const char *json, size_t len);
/* The JSON-RPC notification {"jsonrpc":"2.0","method":M,"params":P} as an event. */
void sse_append_notification(struct buf *out, uint64_t id, const char *method, const char *params,
			     size_t params_len);
/* An event whose id is text: a POST stream's "N-M" (visible ASCII, no line break). */
void sse_append_event_id(struct buf *out, const char *id, const char *json, size_t len);
/* The priming event of a resumable stream (MCP 2025-11-25): id, retry in ms, empty data. */
void sse_append_priming(struct buf *out, const char *id, uint32_t retry_ms);
/* A comment line (": text"), used as a keep-alive. */
void sse_append_comment(struct buf *out, const char *text);
/* The last chunk of a stream. */
void sse_append_end(struct buf *out);

/* Parses a Last-Event-ID value: a decimal seq. Returns 0, or -EINVAL. */
int sse_parse_event_id(const char *value, uint64_t *seq);

/* Parses a POST stream's event id "N-M" (decimal, N > 0, no sign or space): the stream's
 * number and the event's within it. Returns 0, or -EINVAL. */
int sse_parse_stream_event_id(const char *value, uint32_t *stream, uint32_t *event);

#endif
