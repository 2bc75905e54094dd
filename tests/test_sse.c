/* test_sse.c -- SSE / NDJSON framing and event ids, without sockets. */
#include "eventid.h"
#include "sse.h"
#include <criterion/criterion.h>
#include <string.h>

static char *frame(int format, const char *id, const char *event, const char *data)
{
    static sse_buf_t b;
    b.len = 0;
    cr_assert_eq(sse_append_event(&b, format, id, strlen(id), event, data, strlen(data)), 0);
    cr_assert(sse_buf_reserve(&b, 1) == 0);
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
    sse_buf_t b = {0};
    cr_assert_eq(sse_append_retry(&b, SSE_FORMAT_SSE, 3000), 0);
    cr_assert_eq(sse_append_keepalive(&b, SSE_FORMAT_SSE), 0);
    cr_assert_eq(sse_append_retry(&b, SSE_FORMAT_NDJSON, 3000), 0);
    cr_assert_eq(sse_append_keepalive(&b, SSE_FORMAT_NDJSON), 0);
    cr_assert_eq(b.len, strlen("retry: 3000\n\n: keepalive\n\n\n"));
    cr_assert_eq(memcmp(b.p, "retry: 3000\n\n: keepalive\n\n\n", b.len), 0);
    sse_buf_free(&b);
    cr_assert_null(b.p);
}

Test(sse, buffer_grows_across_many_events)
{
    sse_buf_t b = {0};
    char data[1000];
    memset(data, 'x', sizeof data);
    for (int i = 0; i < 1000; i++)
        cr_assert_eq(sse_append_event(&b, SSE_FORMAT_SSE, "l1", 2, "activity", data, sizeof data), 0);
    cr_assert_eq(b.len, 1000 * (strlen("id: l1\nevent: activity\ndata: \n\n") + sizeof data));
    sse_buf_free(&b);
}

static void roundtrip(eventid_t in, const char *text)
{
    char buf[EVENTID_MAX];
    eventid_t out;
    size_t n = eventid_format(&in, buf);
    cr_assert_str_eq(buf, text);
    cr_assert_eq(n, strlen(text));
    cr_assert_eq(eventid_parse(buf, n, &out), 0, "%s", text);
    cr_assert_eq(out.kind, in.kind);
    cr_assert_eq(out.s0, in.s0);
    cr_assert_eq(out.published_us, in.published_us);
    cr_assert_eq(out.seq, in.seq);
}

Test(eventid, formats_round_trip)
{
    roundtrip((eventid_t){EVENTID_HISTORY, 900, 1700000000123456, 17}, "h900_1700000000123456_17");
    roundtrip((eventid_t){EVENTID_HISTORY, 5, -86400000000, 5}, "h5_-86400000000_5");
    roundtrip((eventid_t){EVENTID_LIVE, 0, 0, 18446744073709551615ull}, "l18446744073709551615");
    roundtrip((eventid_t){EVENTID_END, 0, 0, 3}, "e3");
}

Test(eventid, longest_id_is_under_64_bytes)
{
    char buf[EVENTID_MAX];
    eventid_t id = {EVENTID_HISTORY, UINT64_MAX, INT64_MIN, UINT64_MAX};
    cr_assert_lt(eventid_format(&id, buf), 64);
}

Test(eventid, rejects_foreign_and_malformed_ids)
{
    const char *bad[] = {"", "x1", "l", "l-1", "l1x", "l01", "h1_2", "h1__2_3", "h1_2_3_4", "hx_1_1",
                         "l99999999999999999999", "h1_5_2" /* seq beyond the snapshot */, "e", "42",
                         "h1_99999999999999999999_1"};
    eventid_t out;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        cr_assert_eq(eventid_parse(bad[i], strlen(bad[i]), &out), -1, "accepted '%s'", bad[i]);
}
