/* test_sse.c -- SSE / NDJSON framing, without sockets. */
#include "sse.h"
#include <criterion/criterion.h>
#include <string.h>

static char *frame(int format, const char *id, const char *event, const char *data)
{
    static bytebuf_t b;
    b.len = 0;
    cr_assert_eq(sse_append_event(&b, format, id, strlen(id), event, data, strlen(data)), 0);
    cr_assert(bytebuf_reserve(&b, 1) == 0);
    b.p[b.len] = '\0';
    return b.p;
}

Test(sse, event_frame_has_id_event_and_one_data_line)
{
    cr_assert_str_eq(frame(SSE_FORMAT_SSE, "l42", "activity", "{\"a\":1}"),
                     "id: l42\nevent: activity\ndata: {\"a\":1}\n\n");
}

Test(sse, event_without_id_omits_the_id_line)
{
    cr_assert_str_eq(frame(SSE_FORMAT_SSE, "", "end", "{}"), "event: end\ndata: {}\n\n");
}

Test(sse, ndjson_line_wraps_data_verbatim)
{
    cr_assert_str_eq(frame(SSE_FORMAT_NDJSON, "h1_2_1", "activity", "{\"feed\":\"f\"}"),
                     "{\"id\":\"h1_2_1\",\"event\":\"activity\",\"data\":{\"feed\":\"f\"}}\n");
    cr_assert_str_eq(frame(SSE_FORMAT_NDJSON, "", "end", "{}"), "{\"id\":null,\"event\":\"end\",\"data\":{}}\n");
}

Test(sse, retry_and_keepalive)
{
    bytebuf_t b = {0};
    cr_assert_eq(sse_append_retry(&b, SSE_FORMAT_SSE, 3000), 0);
    cr_assert_eq(sse_append_keepalive(&b, SSE_FORMAT_SSE), 0);
    cr_assert_eq(sse_append_retry(&b, SSE_FORMAT_NDJSON, 3000), 0);
    cr_assert_eq(sse_append_keepalive(&b, SSE_FORMAT_NDJSON), 0);
    cr_assert_eq(b.len, strlen("retry: 3000\n\n: keepalive\n\n\n"));
    cr_assert_eq(memcmp(b.p, "retry: 3000\n\n: keepalive\n\n\n", b.len), 0);
    bytebuf_free(&b);
    cr_assert_null(b.p);
}

Test(sse, comments)
{
    bytebuf_t b = {0};
    cr_assert_eq(sse_append_comment(&b, SSE_FORMAT_SSE, "credentials expired"), 0);
    cr_assert_eq(sse_append_comment(&b, SSE_FORMAT_NDJSON, "credentials expired"), 0);
    cr_assert_eq(b.len, strlen(": credentials expired\n\n\n"));
    cr_assert_eq(memcmp(b.p, ": credentials expired\n\n\n", b.len), 0);
    bytebuf_free(&b);
}

Test(sse, buffer_grows_across_many_events)
{
    bytebuf_t b = {0};
    char data[1000];
    memset(data, 'x', sizeof data);
    for (int i = 0; i < 1000; i++)
        cr_assert_eq(sse_append_event(&b, SSE_FORMAT_SSE, "l1", 2, "activity", data, sizeof data), 0);
    cr_assert_eq(b.len, 1000 * (strlen("id: l1\nevent: activity\ndata: \n\n") + sizeof data));
    bytebuf_free(&b);
}
