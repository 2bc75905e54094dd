/* sse.h -- framing of stream events as Server-Sent Events or NDJSON lines into a byte buffer
 * (bytebuf.h). Pure; no I/O. Event data must be one line: compact JSON, which never holds a
 * raw CR or LF (the store refuses activities that do, so nothing is scanned per event). */
#ifndef SSE_H
#define SSE_H
#include <stddef.h>
#include <stdint.h>
#include "bytebuf.h"

enum { SSE_FORMAT_SSE = 0, SSE_FORMAT_NDJSON = 1 };

/* SSE: "id: <id>\nevent: <event>\ndata: <data>\n\n" (no id line when id_len is 0).
 * NDJSON: {"id":"<id>","event":"<event>","data":<data>}\n (id null when id_len is 0; the id and
 * event are plain ASCII without quotes or backslashes). Returns 0 or -1 (out of memory; the buffer is unchanged). */
int sse_append_event(bytebuf_t *b, int format, const char *id, size_t id_len, const char *event,
                     const char *data, size_t data_len);

/* SSE: "retry: <ms>\n\n"; NDJSON: nothing. Returns 0 or -1 (out of memory). */
int sse_append_retry(bytebuf_t *b, int format, int64_t ms);

/* SSE: ": <text>\n\n" (text: one line, no CR or LF); NDJSON: an empty line "\n" (NDJSON has no
 * comments; readers skip blank lines). Returns 0 or -1 (out of memory). */
int sse_append_comment(bytebuf_t *b, int format, const char *text);

/* sse_append_comment with "keepalive". */
int sse_append_keepalive(bytebuf_t *b, int format);

#endif
