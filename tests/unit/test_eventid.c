/* test_eventid.c -- stream event ids: every kind formats and parses back, the longest stays
 * under 64 bytes, foreign and malformed ids are refused. */
#include "eventid.h"
#include <criterion/criterion.h>
#include <stdint.h>
#include <string.h>

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
    roundtrip((eventid_t){EVENTID_HISTORY, 900, 1700000000123456, 17, ""}, "h900_1700000000123456_17");
    roundtrip((eventid_t){EVENTID_HISTORY, 5, -86400000000, 5, ""}, "h5_-86400000000_5");
    roundtrip((eventid_t){EVENTID_LIVE, 0, 0, 18446744073709551615ull, ""}, "l18446744073709551615");
    roundtrip((eventid_t){EVENTID_END, 0, 0, 3, ""}, "e3");
}

Test(eventid, longest_id_is_under_64_bytes)
{
    char buf[EVENTID_MAX];
    eventid_t id = {EVENTID_HISTORY, UINT64_MAX, INT64_MIN, UINT64_MAX, "ffffff"};   /* with a store tag */
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

Test(eventid, tags_round_trip_and_untagged_ids_still_parse)
{
    char buf[EVENTID_MAX];
    eventid_t in = {.kind = EVENTID_LIVE, .seq = 42, .tag = "a1b2c3"}, out;
    size_t n = eventid_format(&in, buf);
    cr_assert_str_eq(buf, "l42.a1b2c3");
    cr_assert_eq(eventid_parse(buf, n, &out), 0);
    cr_assert_str_eq(out.tag, "a1b2c3");
    cr_assert_eq(out.seq, 42);
    in = (eventid_t){.kind = EVENTID_HISTORY, .s0 = 900, .published_us = 1700000000123456, .seq = 17, .tag = "ff00aa"};
    n = eventid_format(&in, buf);
    cr_assert_str_eq(buf, "h900_1700000000123456_17.ff00aa");
    cr_assert_eq(eventid_parse(buf, n, &out), 0);
    cr_assert(out.kind == EVENTID_HISTORY && out.s0 == 900 && out.seq == 17 && strcmp(out.tag, "ff00aa") == 0);
    cr_assert_eq(eventid_parse("l42", 3, &out), 0, "an id from before tags");
    cr_assert_str_eq(out.tag, "");
    const char *bad[] = {"l42.", "l42.ABC", "l42.abcdefgh", "l42.a-b", ".abc", "l.abc"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        cr_assert_eq(eventid_parse(bad[i], strlen(bad[i]), &out), -1, "accepted '%s'", bad[i]);
    eventid_t big = {EVENTID_HISTORY, UINT64_MAX, INT64_MIN, UINT64_MAX, "abcdef"};
    cr_assert_lt(eventid_format(&big, buf), 64, "the tag gives way to the 64-byte bound");
}
