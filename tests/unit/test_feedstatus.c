/* test_feedstatus.c -- the per-feed status board: updates land in the snapshot, and /feeds
 * shows them in its documented shape (nulls before anything happened, the next retry only
 * while failing, the activity count from the store). */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include "feedstatus.h"
#include "store_fixture.h"

#define T0 INT64_C(1717236000000000)   /* 2024-06-01T10:00:00Z */

static config_feed_t g_feeds[2] = {
    {.id = "a", .url = "http://a.example/feed", .style = FEED_STYLE_ACTIVITY_STREAM},
    {.id = "b", .url = "http://b.example/outbox", .style = FEED_STYLE_OUTBOX},
};
static feedstatus_t *g_fs;

static void setup(void)
{
    store_fixture_setup();
    cr_assert_eq(feedstatus_new(&g_fs, g_feeds, 2), 0);
}

static void teardown(void)
{
    feedstatus_free(g_fs);
    store_fixture_teardown();
}

TestSuite(feedstatus, .init = setup, .fini = teardown, .timeout = 60);

/* /feeds, parsed (caller decrefs). */
static json_t *feeds_doc(void)
{
    char *s = feedstatus_json(g_fs, g_st);
    cr_assert_not_null(s);
    json_t *doc = json_loads(s, 0, NULL);
    cr_assert(json_is_array(doc), "%s", s);
    free(s);
    return doc;
}

static const char *str_at(json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

Test(feedstatus, a_new_board_shows_syncing_feeds_with_nothing_yet)
{
    json_t *doc = feeds_doc();
    cr_assert_eq(json_array_size(doc), 2);
    json_t *a = json_array_get(doc, 0), *b = json_array_get(doc, 1);
    cr_assert_str_eq(str_at(a, "id"), "a");
    cr_assert_str_eq(str_at(a, "url"), "http://a.example/feed");
    cr_assert_str_eq(str_at(a, "style"), "activity-stream");
    cr_assert_str_eq(str_at(b, "style"), "outbox");
    cr_assert_str_eq(str_at(a, "state"), "syncing");
    static const char *const nulls[] = {"last_full_sync", "last_poll", "last_error", "next_retry",
                                        "last_skipped"};
    for (size_t i = 0; i < sizeof nulls / sizeof nulls[0]; i++)
        cr_assert(json_is_null(json_object_get(a, nulls[i])), "%s", nulls[i]);
    static const char *const zeros[] = {"activities", "consecutive_failures", "skipped_items",
                                        "pages_fetched", "bytes_fetched"};
    for (size_t i = 0; i < sizeof zeros / sizeof zeros[0]; i++)
        cr_assert_eq(json_integer_value(json_object_get(a, zeros[i])), 0, "%s", zeros[i]);
    json_decref(doc);
}

Test(feedstatus, updates_reach_the_snapshot)
{
    feedstatus_fetched(g_fs, 1, 1000, 0);
    feedstatus_fetched(g_fs, 1, 500, T0);
    feedstatus_written(g_fs, 1, 7);
    feedstatus_full_sync_done(g_fs, 1);
    feedstatus_skipped(g_fs, 1, 3, "item 2: item has no string id", "http://b/p1", T0);
    feedstatus_failed(g_fs, 1, "HTTP 500 from http://b/p2", T0, T0 + 2000000);
    feedstatus_feed_t s;
    feedstatus_get(g_fs, 1, &s);
    cr_assert_eq(s.pages, 2);
    cr_assert_eq(s.bytes, 1500);
    cr_assert_eq(s.last_poll_us, T0);
    cr_assert_eq(s.written, 7);
    cr_assert_eq(s.full_syncs, 1);
    cr_assert_eq(s.skipped, 3);
    cr_assert_str_eq(s.last_skip, "item 2: item has no string id (http://b/p1)");
    cr_assert_eq(s.errors, 1);
    cr_assert_str_eq(s.last_error, "HTTP 500 from http://b/p2");
    cr_assert_eq(s.next_retry_us, T0 + 2000000);
    feedstatus_get(g_fs, 0, &s);
    cr_assert_eq(s.pages, 0, "the other feed is untouched");
}

Test(feedstatus, feeds_json_shows_failures_syncs_and_the_store_count)
{
    upsert(g_b, "a", "urn:1", 1, "{\"id\":\"urn:1\"}", 1);
    upsert(g_b, "a", "urn:2", 2, "{\"id\":\"urn:2\"}", 1);
    commit_ok(g_b);
    feedcursor_last_t last = {.has = 1, .started_us = T0, .finished_us = T0 + 1500000,
                              .duration_ms = 1500, .pages = 4, .items = 2};
    feedstatus_failed(g_fs, 0, "timeout", T0, T0 + 1000000);
    feedstatus_set_state(g_fs, 0, FEEDSTATUS_FAILING, 2, &last);
    json_t *doc = feeds_doc();
    json_t *a = json_array_get(doc, 0);
    cr_assert_str_eq(str_at(a, "state"), "failing");
    cr_assert_eq(json_integer_value(json_object_get(a, "activities")), 2);
    cr_assert_eq(json_integer_value(json_object_get(a, "consecutive_failures")), 2);
    cr_assert_str_eq(str_at(a, "next_retry"), "2024-06-01T10:00:01.000000Z");
    cr_assert_str_eq(str_at(json_object_get(a, "last_error"), "message"), "timeout");
    cr_assert_str_eq(str_at(json_object_get(a, "last_error"), "at"), "2024-06-01T10:00:00.000000Z");
    json_t *sync = json_object_get(a, "last_full_sync");
    cr_assert_str_eq(str_at(sync, "started"), "2024-06-01T10:00:00.000000Z");
    cr_assert_str_eq(str_at(sync, "finished"), "2024-06-01T10:00:01.500000Z");
    cr_assert_eq(json_integer_value(json_object_get(sync, "duration_ms")), 1500);
    cr_assert_eq(json_integer_value(json_object_get(sync, "pages")), 4);
    cr_assert_eq(json_integer_value(json_object_get(sync, "activities")), 2);
    json_decref(doc);
    /* recovered: ok, no next retry, the last error stays */
    feedstatus_set_state(g_fs, 0, FEEDSTATUS_OK, 0, &last);
    doc = feeds_doc();
    a = json_array_get(doc, 0);
    cr_assert_str_eq(str_at(a, "state"), "ok");
    cr_assert(json_is_null(json_object_get(a, "next_retry")));
    cr_assert_str_eq(str_at(json_object_get(a, "last_error"), "message"), "timeout");
    json_decref(doc);
}

Test(feedstatus, long_messages_are_truncated)
{
    char msg[2 * FEEDSTATUS_MSG_MAX];
    memset(msg, 'x', sizeof msg - 1);
    msg[sizeof msg - 1] = '\0';
    feedstatus_failed(g_fs, 0, msg, T0, T0);
    feedstatus_feed_t s;
    feedstatus_get(g_fs, 0, &s);
    cr_assert_eq(strlen(s.last_error), FEEDSTATUS_MSG_MAX - 1);
}

Test(feedstatus, an_empty_board)
{
    feedstatus_t *fs = NULL;
    cr_assert_eq(feedstatus_new(&fs, NULL, 0), 0);
    char *s = feedstatus_json(fs, g_st);
    cr_assert_str_eq(s, "[]");
    free(s);
    feedstatus_free(fs);
    feedstatus_free(NULL);
}
