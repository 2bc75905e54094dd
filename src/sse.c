/* sse.c -- Server-Sent Events / NDJSON framing into a growable buffer. See sse.h. */
#include "sse.h"
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void put(bytebuf_t *b, const char *s, size_t n)
{
    memcpy(b->p + b->len, s, n);
    b->len += n;
}
#define PUT_LIT(b, s) put(b, s, sizeof(s) - 1)

int sse_append_event(bytebuf_t *b, int format, const char *id, size_t id_len, const char *event,
                     const char *data, size_t data_len)
{
    size_t ev_len = strlen(event);
    if (bytebuf_reserve(b, id_len + ev_len + data_len + 48) != 0)
        return -1;
    if (format == SSE_FORMAT_NDJSON) {
        PUT_LIT(b, "{\"id\":");
        if (id_len) {
            PUT_LIT(b, "\"");
            put(b, id, id_len);
            PUT_LIT(b, "\"");
        } else {
            PUT_LIT(b, "null");
        }
        PUT_LIT(b, ",\"event\":\"");
        put(b, event, ev_len);
        PUT_LIT(b, "\",\"data\":");
        put(b, data, data_len);
        PUT_LIT(b, "}\n");
        return 0;
    }
    if (id_len) {
        PUT_LIT(b, "id: ");
        put(b, id, id_len);
        PUT_LIT(b, "\n");
    }
    PUT_LIT(b, "event: ");
    put(b, event, ev_len);
    PUT_LIT(b, "\ndata: ");
    put(b, data, data_len);
    PUT_LIT(b, "\n\n");
    return 0;
}

int sse_append_retry(bytebuf_t *b, int format, int64_t ms)
{
    if (format == SSE_FORMAT_NDJSON)
        return 0;
    if (bytebuf_reserve(b, 40) != 0)
        return -1;
    b->len += sprintf(b->p + b->len, "retry: %" PRId64 "\n\n", ms);
    return 0;
}

int sse_append_comment(bytebuf_t *b, int format, const char *text)
{
    size_t n = strlen(text);
    if (bytebuf_reserve(b, n + 4) != 0)
        return -1;
    if (format == SSE_FORMAT_NDJSON) {
        PUT_LIT(b, "\n");
        return 0;
    }
    PUT_LIT(b, ": ");
    put(b, text, n);
    PUT_LIT(b, "\n\n");
    return 0;
}

int sse_append_keepalive(bytebuf_t *b, int format)
{
    return sse_append_comment(b, format, "keepalive");
}
