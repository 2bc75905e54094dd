/* sse.h -- framing of stream events as Server-Sent Events or NDJSON lines into a growable
 * byte buffer. Pure; no I/O. Event data must be one line: compact JSON, which never holds a
 * raw CR or LF (the store refuses activities that do, so nothing is scanned per event). */
#ifndef SSE_H
#define SSE_H
#include <stddef.h>
#include <stdint.h>

enum { SSE_FORMAT_SSE = 0, SSE_FORMAT_NDJSON = 1 };

typedef struct {
    char *p;            /* owned (malloc) */
    size_t len, cap;
} sse_buf_t;

/* Make room for `extra` more bytes. Returns 0 or -1 (out of memory; the buffer is unchanged). */
int sse_buf_reserve(sse_buf_t *b, size_t extra);
/* Free the memory; the buffer is empty and reusable afterwards. */
void sse_buf_free(sse_buf_t *b);

/* SSE: "id: <id>\nevent: <event>\ndata: <data>\n\n" (no id line when id_len is 0).
 * NDJSON: {"id":"<id>","event":"<event>","data":<data>}\n (id null when id_len is 0; the id and
 * event are plain ASCII without quotes or backslashes). Returns 0 or -1 (out of memory). */
int sse_append_event(sse_buf_t *b, int format, const char *id, size_t id_len, const char *event,
                     const char *data, size_t data_len);

/* SSE: "retry: <ms>\n\n"; NDJSON: nothing. */
int sse_append_retry(sse_buf_t *b, int format, int64_t ms);

/* SSE: ": keepalive\n\n"; NDJSON: an empty line "\n" (NDJSON readers skip blank lines). */
int sse_append_keepalive(sse_buf_t *b, int format);

#endif
